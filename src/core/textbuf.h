/*
 * textbuf.h - the whitespace-normalising text writer behind mailtext
 *
 * Owns: TextBuf, which takes (possibly invalid) UTF-8 and writes the
 * normalised form the model reads: runs of spaces, tabs and Unicode spaces
 * become one space; no space at the start or end of a line; at most one
 * blank line in a row; C0/C1 controls (except line breaks), DEL, NUL and
 * invisible format characters (U+00AD, U+200B-U+200D, U+2060, U+FEFF) are
 * removed; CR LF and lone CR are line breaks; invalid bytes become U+FFFD;
 * the cap is never exceeded and never cuts a character.
 *	TextBuf o;
 *	textbuf_init(&o, cap);
 *	textbuf_text(&o, text, len, TRUE);
 *	textbuf_break(&o, 2);	... then o.s is the text (caller frees)
 * Not here: charsets (charset.c), HTML (html2text.c), MIME (mailtext.c).
 * Threads: a TextBuf belongs to one caller. Errors: none.
 */
#ifndef GPTM_TEXTBUF_H
#define GPTM_TEXTBUF_H

#include <glib.h>

/* Whitespace is held back (sp, nl) until the next visible character, so
 * nothing trails a line and blank lines never pile up. */
typedef struct {
	GString *s;
	gsize cap;		/* bytes s may hold */
	gboolean full;		/* a character did not fit: stop */
	gboolean empty;		/* nothing written yet: no leading breaks */
	int nl;			/* pending line breaks, 0..2 */
	gboolean sp;		/* pending space */
	gsize visible;		/* visible characters written */
	gsize alnum;		/* of which letters or digits */
} TextBuf;

/* textbuf_init - writer into a new string of at most CAP bytes */
void textbuf_init(TextBuf *o, gsize cap);

/* textbuf_break - at least N (1 or 2) line breaks before the next text */
void textbuf_break(TextBuf *o, int n);

/* textbuf_newline - one more line break (HTML <br>), two at most */
void textbuf_newline(TextBuf *o);

/* textbuf_space - a space before the next text on the same line */
static inline void
textbuf_space(TextBuf *o)
{
	o->sp = TRUE;
}

/* textbuf_text - LEN bytes of UTF-8 (invalid bytes become U+FFFD); KEEP_NL
 * false turns line breaks into spaces (HTML text, header values) */
void textbuf_text(TextBuf *o, const char *text, gsize len, gboolean keep_nl);

/* textbuf_str - a NUL-terminated string (NULL: nothing), breaks as spaces */
void textbuf_str(TextBuf *o, const char *s);

/* utf8_next - decode one strict UTF-8 character at P (N > 0 bytes left);
 * returns its length, or 0 when the bytes there are not valid UTF-8
 * (overlong forms, surrogates, beyond U+10FFFF, cut sequences). Inline:
 * the writer calls it for every non-ASCII character. */
static inline gsize
utf8_next(const guchar *p, gsize n, gunichar *out)
{
	guchar c = p[0];
	gunichar u;
	gsize len, i;

	if (c < 0x80) {
		*out = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		u = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		u = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		u = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		u = (u << 6) | (p[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && u < 0x800) || (len == 4 && u < 0x10000) ||
	    (u >= 0xD800 && u <= 0xDFFF) || u > 0x10FFFF)
		return 0;
	*out = u;
	return len;
}

#endif
