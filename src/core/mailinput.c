/*
 * mailinput.c - the input limits: what of a message GMime is given
 *
 * Owns: the cuts and renames of mailinput.h, each found by one pass over
 * the raw bytes, before GMime parses anything; and putting renamed names
 * back where the text shows a header raw.
 * Not here: the walk's own budgets (mailtext.c).
 * Threads: reentrant. Errors: none.
 * Checked by: tests/test_mailtext.sh (1,000-level nesting, 100,000
 * parts), tests/test_mailtext_charsets.c (20,000 unknown names, flat heap).
 */
#include "config.h"

#include <string.h>

#include "charset.h"
#include "mailinput.h"

#define MAX_CONTAINERS 64	/* multipart/message words before the cut */
#define MAX_INPUT_BYTES ((gsize)1 << 20)	/* bytes given to GMime, at least */
#define INPUT_PER_CAP 64	/* ... or this many times the output cap */
#define MAX_DASH_LINES 1000	/* "--" lines (boundaries) given to GMime */

/* mailinput_limit - how many bytes of MSG GMime may see: at most
 * MAX_INPUT_BYTES or INPUT_PER_CAP x CAP, the larger, and not from the line
 * holding the MAX_CONTAINERS+1-th "multipart" or "message/" word on, nor
 * from the MAX_DASH_LINES+1-th line starting with "--". GMime recurses
 * once per multipart and per message/rfc822 part, without a depth limit of
 * its own, and matches every line against every open boundary; every such
 * part needs one of these words in some Content-Type (a digest's implied
 * message/rfc822 children sit inside a "multipart/digest"), so counting
 * the words bounds the recursion. GMime also spends about 1 KB and some
 * microseconds per part (400,000 empty parts: 6 s, 500 MB); a part needs a
 * "--" line, so counting those bounds the parts. Text that merely has such
 * words or lines loses only what comes after very many of them, far past
 * the output cap in practice. */
gsize
mailinput_limit(const char *msg, gsize len, gsize cap)
{
	gsize limit = MAX(MAX_INPUT_BYTES, cap * INPUT_PER_CAP);
	gsize i, count = 0, dashes = 0, line = 0;

	if (len > limit) {
		/* whole lines only: GMime gives up on a cut header line */
		const char *nl = memrchr(msg, '\n', limit);

		len = nl != NULL ? (gsize)(nl - msg) + 1 : limit;
	}
	for (i = 0; i < len; i++) {
		char c = msg[i];
		gsize j;

		if (c == '\n') {
			line = i + 1;
			/* every part starts at a "--boundary" line */
			if (i + 2 < len && msg[i + 1] == '-' &&
			    msg[i + 2] == '-' && ++dashes > MAX_DASH_LINES)
				return line;
			continue;
		}
		if ((c | 0x20) != 'm')
			continue;
		if (i + 9 <= len &&
		    g_ascii_strncasecmp(msg + i, "multipart", 9) == 0) {
			count++;
		} else if (i + 7 <= len &&
			   g_ascii_strncasecmp(msg + i, "message", 7) == 0) {
			/* "message/", "message /", "message (c) /" */
			for (j = i + 7; j < len && (msg[j] == ' ' ||
			     msg[j] == '\t' || msg[j] == '\r' ||
			     msg[j] == '\n'); j++)
				;
			if (j < len && (msg[j] == '/' || msg[j] == '('))
				count++;
		} else {
			continue;
		}
		if (count > MAX_CONTAINERS)
			return line;
	}
	return len;
}

/* charset_name_at - length of the charset name that starts at P (before
 * END) when the byte STOP follows it on the same line; 0 otherwise. An
 * encoded word's name also ends at '*' (RFC 2231 language). Any length:
 * a long name is no charset's, and GMime must not see it either. */
static gsize
charset_name_at(const char *p, const char *end, char stop)
{
	gsize n;

	for (n = 0; p + n < end; n++) {
		char c = p[n];
		if (c == stop || (stop == '?' && c == '*'))
			return n;
		if (c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == ';' ||
		    c == '"' || c == '?' || c == '\'' || c == '=')
			return 0;
	}
	return 0;
}

/* encoded_word_at - whether "=?" at Q (before END) opens a whole RFC 2047
 * encoded word whose charset name is N bytes: =?NAME[*LANG]?B|Q?TEXT?= */
static gboolean
encoded_word_at(const char *q, const char *end, gsize n)
{
	const char *p = q + 2 + n;

	while (p < end && *p != '?')	/* the language, if any */
		p++;
	if (end - p < 5 || (p[1] != 'B' && p[1] != 'b' && p[1] != 'Q' &&
			    p[1] != 'q') || p[2] != '?')
		return FALSE;
	for (p += 3; p + 1 < end; p++)
		if (p[0] == '?' && p[1] == '=')
			return TRUE;
	return FALSE;
}

/* parameter_at - whether "*=" at Q on the line starting at LINE ends an
 * RFC 2231 parameter name: ";" or a folded line's start, blanks, then a
 * token (name*N allowed) */
static gboolean
parameter_at(const char *line, const char *q)
{
	const char *p = q;

	while (p > line && (g_ascii_isalnum(p[-1]) || p[-1] == '-' ||
			    p[-1] == '_' || p[-1] == '.' || p[-1] == '*'))
		p--;
	if (p == q)
		return FALSE;
	while (p > line && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	return p > line ? p[-1] == ';' :
	    line[0] == ' ' || line[0] == '\t';
}

/*
 * mailinput_bound_charsets - MSG (LEN bytes) with every charset name that
 * iconv does not know replaced by MAILINPUT_UNKNOWN_CHARSET, where GMime
 * would look it up: whole RFC 2047 encoded words
 * ("=?NAME[*LANG]?Q|B?TEXT?=") and RFC 2231 parameters
 * ("; NAME*=CHARSET'...") in header blocks (the message's own, and the
 * lines after a "--" line up to the next blank line: a part's headers).
 * NULL when nothing is replaced, else a copy with *NEW_LEN bytes. The
 * names renamed in RFC 2231 parameters of the message's own header are
 * appended to RENAMED: mailtext.c shows some of those headers raw.
 * Why: GMime keeps every charset name it is asked about for the life of
 * the process, and senders choose these names, so a milter fed unique
 * names would grow without bound (about 90 bytes a name). An unknown name
 * decodes through the fallback charsets whatever it is called, so the text
 * is the same.
 */
char *
mailinput_bound_charsets(const char *msg, gsize len, gsize *new_len,
			 GArray *renamed)
{
	const char *p = msg, *end = msg + len, *copied = msg;
	gboolean header = TRUE, top = TRUE;
	GString *out = NULL;
	MailinputRenamed r = { "", NULL, 0 };

	while (p < end) {
		const char *eol = memchr(p, '\n', (gsize)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;
		gsize linelen = (gsize)((eol != NULL ? eol : end) - p);

		if (linelen == 0 || (linelen == 1 && p[0] == '\r')) {
			header = top = FALSE;
		} else if (linelen >= 2 && p[0] == '-' && p[1] == '-') {
			header = TRUE;
		} else if (header) {
			const char *lend = p + linelen;
			const char *colon = memchr(p, ':', linelen);
			if (p[0] != ' ' && p[0] != '\t') {	/* a new field */
				gsize hl = colon != NULL ? MIN((gsize)(colon - p),
							      sizeof r.header - 1) : 0;
				memcpy(r.header, p, hl);	/* MSG has no NUL */
				r.header[hl] = '\0';
			}
			for (const char *q = p; q + 1 < lend; q++) {
				gsize n;
				if (q[0] == '=' && q[1] == '?') {
					n = charset_name_at(q + 2, lend, '?');
					if (n > 0 && !encoded_word_at(q, lend, n))
						continue;
				} else if (q[0] == '*' && q[1] == '=') {
					n = charset_name_at(q + 2, lend, '\'');
					if (n > 0 && !parameter_at(p, q))
						continue;
				} else {
					continue;
				}
				if (n == 0 || charset_known(q + 2, n))
					continue;
				if (top && q[0] == '*') {
					r.name = q + 2;
					r.len = n;
					g_array_append_val(renamed, r);
				}
				if (out == NULL)
					out = g_string_sized_new(len + 64);
				g_string_append_len(out, copied,
						    (gssize)(q + 2 - copied));
				g_string_append(out, MAILINPUT_UNKNOWN_CHARSET);
				copied = q + 2 + n;
				q = copied - 1;
			}
		}
		p = next;
	}
	if (out == NULL)
		return NULL;
	g_string_append_len(out, copied, (gssize)(end - copied));
	*new_len = out->len;
	return g_string_free(out, FALSE);
}

/* mailinput_restore_names - VALUE of the message's header HEADER with the
 * charset names renamed there (RENAMED, in order) as the sender wrote them */
char *
mailinput_restore_names(const char *value, const char *header,
			const GArray *renamed)
{
	static const char mark[] = "*=" MAILINPUT_UNKNOWN_CHARSET "'";
	GString *s = g_string_new(NULL);
	const char *p = value, *hit;
	guint i = 0;

	while ((hit = strstr(p, mark)) != NULL) {
		while (i < renamed->len && g_ascii_strcasecmp(g_array_index(
			       renamed, MailinputRenamed, i).header, header))
			i++;
		if (i == renamed->len)
			break;
		const MailinputRenamed *r =
			&g_array_index(renamed, MailinputRenamed, i++);
		g_string_append_len(s, p, hit - p);
		g_string_append(s, "*=");
		g_string_append_len(s, r->name, (gssize)r->len);
		g_string_append_c(s, '\'');
		p = hit + sizeof mark - 1;
	}
	g_string_append(s, p);
	return g_string_free(s, FALSE);
}
