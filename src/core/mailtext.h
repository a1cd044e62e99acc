/*
 * mailtext.h - one message (RFC 822 bytes) to the text the model reads
 *
 * Owns: the public API of message-to-text: MIME parsing with GMime,
 * transfer decoding, RFC 2047 headers, choosing one body of a
 * multipart/alternative and attachments as name + type only (mailtext.c),
 * the limits on what GMime is given (mailinput.c), charset conversion to
 * valid UTF-8 (charset.c), HTML to text with libxml2's HTML parser
 * (html2text.c), the whitespace-normalising writer (textbuf.c), and the
 * fixed output layout:
 *	Subject: <decoded subject>\n
 *	From: <display name> <address>\n
 *	To: <display name> <address>\n		(versions 2-3 when present,
 *						 5 always: empty if absent)
 *	X-Mailer: <decoded value>\n		(versions 2-3, when present)
 *	User-Agent: <decoded value>\n		(versions 2-3, when present)
 *	Content-Type: <decoded value>\n	(versions 2-3, when present)
 *	Content-Type: <type>/<subtype>\n	(version 5: as the body is read)
 *	\n
 *	<body text, whitespace normalised>
 * The same function serves training and serving, so the model never sees
 * text shaped differently at run time. MAILTEXT_VERSION changes whenever the
 * output for some already-decodable input changes; models record the version they were
 * trained on, and the classifier asks for that layout (every version from
 * MAILTEXT_MIN_VERSION up is still produced). Version 2 added the four
 * optional header lines, each cut at 100 bytes: who a message is addressed
 * to and what sent it tell spam from ham where the body alone cannot.
 * Version 3 renders a text/plain alternative that is an HTML document as
 * the HTML it is, not as its tags. Version 4 drops version 2's four lines
 * again: a model read them as which lines a message has more than as what
 * they say (a message stripped of them changed verdict 6 times in 1,153,
 * bench/bench_header_drop.sh), a shortcut across sites and eras; From
 * stays, and the trainer's --header-dropout empties it. Version 5 brings
 * back what version 2's To and Content-Type lines said without what their
 * presence said: a To line always (empty when the message has none, as in
 * the bare view), and the top media type the body is read as (text/plain
 * where no Content-Type names one), lower case, without parameters; the
 * bare view empties From and To and keeps the media type, which is how
 * the message is built rather than a line it may lack. Version 4 lost
 * spam that version 2 caught by "undisclosed-recipients" and text/html
 * (bench/RESULTS.md, "Text layout 5"). Charset detection (charset.c) is in
 * every version: it changes only text whose bytes no label decoded.
 * Cost: bounded by opt->max_bytes of output and the input size; deep nesting
 * and huge parts are cut, never recursed into without limit.
 * Threads: reentrant (GMime is initialised once, thread-safely, inside).
 * Errors: none; any input gives valid UTF-8 (possibly only headers).
 */
#ifndef GPTM_MAILTEXT_H
#define GPTM_MAILTEXT_H

#include <glib.h>

#define MAILTEXT_VERSION 5	/* the layout new models are trained on */
#define MAILTEXT_MIN_VERSION 1	/* the oldest layout still produced */
#define MAILTEXT_DEFAULT_MAX_BYTES 16384

typedef struct {
	gsize max_bytes;	/* output cap in bytes; 0 means the default */
	int version;		/* layout, MAILTEXT_MIN_VERSION ..
				 * MAILTEXT_VERSION; 0 means MAILTEXT_VERSION */
	gboolean bare_headers;	/* the text as if the message had no From,
				 * To, Cc, X-Mailer, User-Agent or
				 * text/plain Content-Type line (an empty
				 * "From:", no version-2/3 lines; version 5:
				 * an empty "To:" too, the same media type):
				 * the trainer's second view, so that their
				 * mere presence cannot decide a verdict
				 * (gptmilter-train --header-dropout) */
} MailtextOptions;

/* mailtext_version_supported - whether layout V is produced (0: the current) */
static inline gboolean
mailtext_version_supported(int v)
{
	return v == 0 || (v >= MAILTEXT_MIN_VERSION && v <= MAILTEXT_VERSION);
}

/* mailtext_extract - MSG (LEN bytes) to NUL-terminated valid UTF-8 text;
 * OPT may be NULL; *OUT_LEN (if not NULL) gets the length */
char *mailtext_extract(const char *msg, gsize len, const MailtextOptions *opt,
		       gsize *out_len);

/* mailtext_header_read - whether mailtext_extract() reads the top-level
 * header NAME (any case); the text depends on no other header */
gboolean mailtext_header_read(const char *name);

#endif
