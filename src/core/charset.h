/*
 * charset.h - mail text in any declared (or no) charset to valid UTF-8
 *
 * Owns: the rules by which the bytes of a text part become UTF-8:
 *  - A label that fits is the authority: latin-1, windows-1252 and
 *    iso-8859-15 always fit (but text that is valid UTF-8 is taken as
 *    UTF-8, the commonest mislabel); other charsets go through iconv (with
 *    a few aliases senders use) and fit when every byte converts.
 *  - Text with no label, us-ascii on 8-bit bytes, an unknown name, or a
 *    label its bytes do not fit (utf-8 too) is detected: UTF-8 when it is
 *    valid UTF-8, else the charset libuchardet names when the text holds
 *    enough evidence for that answer (charset.c: DETECTED) and converts
 *    without error. Short texts, where uchardet guesses, keep the old
 *    reading: UTF-8 with U+FFFD for invalid bytes when the text holds any
 *    multi-byte UTF-8 sequence, windows-1252 when it holds none; a failing
 *    label keeps its own conversion, with U+FFFD.
 *  - Invalid input never fails.
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
 * appended to DST as valid UTF-8. USED (NULL, or CHARSET_MAX_NAME + 1
 * bytes) gets the charset they were read in when it is neither UTF-8 nor
 * Latin-1/windows-1252 (a label that iconv knows, or a detected one), else
 * "": the likeliest charset of the message's unlabelled 8-bit headers. */
void charset_to_utf8(GString *dst, const guchar *p, gsize n, const char *cs,
		     char *used);

/* charset_known - whether charset_to_utf8() converts from the N-byte
 * charset name CS through iconv (not NUL-terminated) */
gboolean charset_known(const char *cs, gsize n);

#endif
