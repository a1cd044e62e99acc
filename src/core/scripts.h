/*
 * scripts.h - which Unicode script a message is written in, and which
 * scripts a model was trained on
 *
 * Owns: the dominant script of a text (the script with most letters,
 * GLib's g_unichar_get_script; Common and Inherited not counted, so digits,
 * punctuation and combining marks do not vote), named by its ISO 15924
 * code ("Latn", "Cyrl", "Hani"). Of the text the model reads (mailtext:
 * "Subject: ..." and more header lines, a blank line, the body) only the
 * Subject's value and the body count: header names, addresses, mailer
 * names and MIME types are Latin in any language, and would outvote a
 * short message in another script. The per-class tally the trainer records in
 * config.json (gptmilter.scripts); and the question the milter and
 * gptmilter-classify ask of it: had the model seen ham in this script?
 *	const char *s = scripts_dominant(text, len);        // "Cyrl"
 *	gint64 n = scripts_ham_messages(bundle, s);         // -1: no record
 * Record in config.json: "scripts": { "ham": { "messages": 2957,
 * "by_script": { "Latn": 2950, "none": 7 } }, "spam": { ... } }, one entry
 * per class, by the dominant script of each training message.
 * Not here: what to do about an unseen script (src/milter/policy.c).
 * Threads: reentrant; returned names are interned strings.
 */
#ifndef GPTM_SCRIPTS_H
#define GPTM_SCRIPTS_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "bundle.h"
#include "classifier.h"

/* The dominant script of a text without letters outside Common/Inherited. */
#define SCRIPTS_NONE "none"
/* Default of policy.script_min_ham and gptmilter-classify's
 * --script-min-ham: a message whose dominant script had fewer training ham
 * than this is not judged spam on its score alone. */
#define SCRIPTS_DEF_MIN_HAM 20

/* scripts_dominant - ISO 15924 code of the script with most letters in
 * TEXT (LEN bytes of UTF-8; invalid bytes skipped; a text that opens with
 * "Subject:" counts that line's value and what follows its first blank
 * line only), ties to the script GLib numbers first; SCRIPTS_NONE when
 * there is no such letter */
const char *scripts_dominant(const char *text, gsize len);
/* scripts_of_message - scripts_dominant of what C reads of MSG */
const char *scripts_of_message(const Classifier *c, const char *msg,
			       gsize len);

/* A count of messages by class and dominant script. */
typedef struct ScriptsTally ScriptsTally;
ScriptsTally *scripts_tally_new(void);
void scripts_tally_free(ScriptsTally *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScriptsTally, scripts_tally_free)
/* scripts_tally_add - one message of class CLS in SCRIPT */
void scripts_tally_add(ScriptsTally *t, const char *cls, const char *script);
/* scripts_tally_json - the record above (a new object, classes and
 * scripts in name order) */
JsonObject *scripts_tally_json(const ScriptsTally *t);

/* scripts_ham_messages - the training ham of SCRIPT that B records (the
 * class named "ham", else label 0), 0 when the script is not listed, -1
 * when B records no scripts (a model trained before they were recorded) */
gint64 scripts_ham_messages(const Bundle *b, const char *script);
/* scripts_unseen - does B record fewer than MIN_HAM training ham of
 * SCRIPT? Never for SCRIPTS_NONE, a model without a record, or MIN_HAM 0.
 * *HAM (may be NULL) gets scripts_ham_messages. */
gboolean scripts_unseen(const Bundle *b, const char *script, gint64 min_ham,
			gint64 *ham);

#endif
