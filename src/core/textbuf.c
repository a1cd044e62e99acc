/*
 * textbuf.c - the whitespace-normalising text writer behind mailtext
 *
 * Owns: the whitespace and character rules of the text the model reads
 * (see textbuf.h); every character of the output passes through
 * textbuf_char().
 * Not here: charset conversion (charset.c), HTML layout (html2text.c).
 * Threads: a TextBuf belongs to one caller. Errors: none.
 * Checked by: tests/test_mailtext.sh (exact outputs), tests/
 * test_mailtext_corpus.c (the rules on every corpus message).
 */
#include "config.h"

#include <string.h>

#include "textbuf.h"

/* textbuf_init - see textbuf.h */
void
textbuf_init(TextBuf *o, gsize cap)
{
	memset(o, 0, sizeof(*o));
	o->s = g_string_sized_new(MIN(cap, 4096) + 1);
	o->cap = cap;
	o->empty = TRUE;
}

/* textbuf_break - see textbuf.h */
void
textbuf_break(TextBuf *o, int n)
{
	if (!o->empty && o->nl < n)
		o->nl = n;
	o->sp = FALSE;
}

/* textbuf_newline - see textbuf.h */
void
textbuf_newline(TextBuf *o)
{
	if (!o->empty && o->nl < 2)
		o->nl++;
	o->sp = FALSE;
}

/* is_space - characters that become (part of) one space */
static gboolean
is_space(gunichar c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' ||
	       c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

/* is_dropped - controls and invisible format characters */
static gboolean
is_dropped(gunichar c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xAD ||
	       (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
}

/* textbuf_char - one character through the whitespace rules */
static void
textbuf_char(TextBuf *o, gunichar c, gboolean keep_nl)
{
	char buf[8];
	gsize need, clen;

	if (c == '\n') {
		if (keep_nl)
			textbuf_newline(o);
		else
			o->sp = TRUE;
		return;
	}
	if (is_space(c)) {
		o->sp = TRUE;
		return;
	}
	if (is_dropped(c))
		return;
	clen = c < 0x80 ? 1 : (gsize)g_unichar_to_utf8(c, buf);
	need = clen;
	if (!o->empty)
		need += o->nl > 0 ? (gsize)o->nl : (o->sp ? 1 : 0);
	if (o->s->len + need > o->cap) {
		o->full = TRUE;
		return;
	}
	if (!o->empty) {
		if (o->nl > 0)
			g_string_append_len(o->s, "\n\n", o->nl);
		else if (o->sp)
			g_string_append_c(o->s, ' ');
	}
	if (c < 0x80) {
		/* the common case, GString's inline append */
		g_string_append_c(o->s, (char)c);
		if (g_ascii_isalnum(c))
			o->alnum++;
	} else {
		g_string_append_len(o->s, buf, clen);
		if (g_unichar_isalnum(c))
			o->alnum++;
	}
	o->nl = 0;
	o->sp = FALSE;
	o->empty = FALSE;
	o->visible++;
}

/* textbuf_text - see textbuf.h */
void
textbuf_text(TextBuf *o, const char *text, gsize len, gboolean keep_nl)
{
	const guchar *p = (const guchar *)text;
	gsize i = 0, l;
	gunichar c;

	while (i < len && !o->full) {
		if (p[i] < 0x80) {
			c = p[i];
			l = 1;
			if (c == '\r') {
				/* CR LF is one break, a lone CR is one too */
				if (i + 1 < len && p[i + 1] == '\n') {
					i++;
					continue;
				}
				c = '\n';
			}
		} else if ((l = utf8_next(p + i, len - i, &c)) == 0) {
			c = 0xFFFD;
			l = 1;
		}
		textbuf_char(o, c, keep_nl);
		i += l;
	}
}

/* textbuf_str - see textbuf.h */
void
textbuf_str(TextBuf *o, const char *s)
{
	if (s != NULL)
		textbuf_text(o, s, strlen(s), FALSE);
}
