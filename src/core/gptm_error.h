/*
 * gptm_error.h - the project's GError domain
 *
 * Owns: GPTM_ERROR and its codes, for the errors the core (and the
 * programs on it) find themselves: a model that is not one, a setting that
 * is out of bounds, input data that cannot be used. Errors that come from
 * the system (open, read, mmap) keep GLib's G_FILE_ERROR with the code
 * g_file_error_from_errno gives; those of the tokenizer, BPE_ERROR.
 *	g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL, "%s: ...", dir);
 *	if (g_error_matches(e, GPTM_ERROR, GPTM_ERROR_CONFIG)) ...
 */
#ifndef GPTM_CORE_ERROR_H
#define GPTM_CORE_ERROR_H

#include <glib.h>

#define GPTM_ERROR gptm_error_quark()

typedef enum {
	GPTM_ERROR_MODEL,	/* a model bundle, its weights or tokenizer
				 * missing or malformed */
	GPTM_ERROR_CONFIG,	/* a configuration file, key or option value
				 * that is unreadable or out of bounds */
	GPTM_ERROR_INPUT,	/* input data (a corpus, a token file, a
				 * file cut short) that cannot be used */
} GptmError;

GQuark gptm_error_quark(void);

#endif
