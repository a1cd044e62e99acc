/*
 * html2text.h - HTML (as UTF-8) to the text the model reads
 *
 * Owns: libxml2's HTML parser and the layout rules: head, title, script,
 * style and template are dropped; text, image alt text and, after each
 * link (a, area) or frame (iframe, frame), the host of its http(s) target
 * as " [host]" are kept; entities are decoded by the parser; block
 * elements break lines (p, h1-h6, table, lists, blockquote, pre, hr: a
 * blank line; div, li, tr and the like: a line; br: one more line; td,
 * th: a space); comments go; text hidden by CSS stays (no CSS is read).
 *	html2text_render(&o, utf8, len, max);
 * Not here: the bytes' charset (charset.c; html2text_sniff_charset() only
 * finds the name a <meta> tag gives), the writer's rules (textbuf.c).
 * Threads: reentrant once html2text_init() has run (mailtext_extract runs
 * it once per process). Errors: none; broken HTML gives what it can.
 */
#ifndef GPTM_HTML2TEXT_H
#define GPTM_HTML2TEXT_H

#include <glib.h>

#include "textbuf.h"

/* html2text_init - libxml2's global state; once, before any render */
void html2text_init(void);

/* html2text_render - the text of UTF-8 HTML (LEN bytes, at most MAX of
 * them parsed, cut at a whole character) into O */
void html2text_render(TextBuf *o, const char *html, gsize len, gsize max);

/* html2text_is_document - whether the N raw bytes at P open an HTML
 * document: after white space (and a UTF-8 byte order mark), "<html" or
 * "<!DOCTYPE html" (any case) and then '>' or white space */
gboolean html2text_is_document(const guchar *p, gsize n);

/* html2text_sniff_charset - the charset= a <meta> tag names in the first
 * 4 KiB of raw HTML (N bytes at P); NULL when absent. Caller frees. */
char *html2text_sniff_charset(const guchar *p, gsize n);

#endif
