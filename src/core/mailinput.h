/*
 * mailinput.h - the input limits: what of a message GMime is given
 *
 * Owns: the bounds that keep GMime's cost flat whatever the sender writes:
 * the input is cut at 1 MiB (or 64 x the output cap, the larger), before
 * the line holding the 65th "multipart" or "message/" word (GMime's
 * parser recurses without a depth limit of its own) and before the 1001st
 * line that starts with "--" (so it never builds more than 1000 parts);
 * charset names that iconv does not know are renamed, in the header
 * blocks, before GMime sees them (GMime would remember each for good).
 *	len = mailinput_limit(msg, len, cap);
 *	copy = mailinput_bound_charsets(msg, len, &len, renamed);
 * Not here: the budgets of the walk itself (decoded bytes read per part,
 * nesting walked, alternatives tried: mailtext.c).
 * Threads: reentrant. Errors: none.
 */
#ifndef GPTM_MAILINPUT_H
#define GPTM_MAILINPUT_H

#include <glib.h>

/* what a charset name iconv does not know becomes before GMime sees it */
#define MAILINPUT_UNKNOWN_CHARSET "x-unknown-charset"

/* A charset name of an RFC 2231 parameter in the message's own header
 * HEADER that was renamed MAILINPUT_UNKNOWN_CHARSET: the LEN bytes at NAME
 * (in the message as given) go back where the header's raw value is part
 * of the text (mailinput_restore_names). */
typedef struct {
	char header[32];
	const char *name;
	gsize len;
} MailinputRenamed;

/* mailinput_limit - how many of MSG's LEN bytes GMime may see, for an
 * output cap of CAP bytes */
gsize mailinput_limit(const char *msg, gsize len, gsize cap);

/* mailinput_bound_charsets - MSG (LEN bytes) with every unknown charset
 * name renamed; NULL when nothing is, else a copy (caller frees) of
 * *NEW_LEN bytes. Appends to RENAMED (of MailinputRenamed) the names of
 * RFC 2231 parameters of the message's own header. */
char *mailinput_bound_charsets(const char *msg, gsize len, gsize *new_len,
			       GArray *renamed);

/* mailinput_restore_names - VALUE of the message's header HEADER with the
 * charset names renamed there (RENAMED, in order) as the sender wrote
 * them; caller frees */
char *mailinput_restore_names(const char *value, const char *header,
			      const GArray *renamed);

#endif
