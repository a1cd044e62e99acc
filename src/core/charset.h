/*
 * charset.h - mail text in any declared (or no) charset to valid UTF-8
 *
 * Owns: the rules by which the bytes of a text part become UTF-8:
 * undeclared, us-ascii, latin-1, windows-1252 and utf-8 text is taken as
 * UTF-8 when it decodes as UTF-8 (invalid bytes become U+FFFD), and as
 * windows-1252 when it has no multi-byte UTF-8 sequence at all; other
 * charsets go through iconv (with a few aliases senders use); unknown
 * charsets go the undeclared way. Invalid input never fails.
 *	charset_to_utf8(dst, bytes, n, "iso-2022-jp");
 * Not here: RFC 2047 headers (GMime), the HTML <meta> charset
 * (html2text.c).
 * Threads: reentrant. Errors: none.
 */
#ifndef GPTM_CHARSET_H
#define GPTM_CHARSET_H

#include <glib.h>

#define CHARSET_MAX_NAME 40	/* longer names are no charset's */

/* charset_to_utf8 - N bytes at P declared as CS (NULL or "": undeclared)
 * appended to DST as valid UTF-8 */
void charset_to_utf8(GString *dst, const guchar *p, gsize n, const char *cs);

/* charset_known - whether charset_to_utf8() converts from the N-byte
 * charset name CS through iconv (not NUL-terminated) */
gboolean charset_known(const char *cs, gsize n);

#endif
