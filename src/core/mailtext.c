/*
 * mailtext.c - one message (RFC 822 bytes) to the text the model reads
 *
 * Owns: the rules behind MAILTEXT_VERSION (see mailtext.h for the layout):
 *  - GMime 3 parses the message; an mbox "From " first line is skipped.
 *  - Subject and From come from GMime, RFC 2047 decoded; raw 8-bit headers
 *    fall back to UTF-8, then windows-1252. From is "Name <addr>" per
 *    mailbox (", " between several), or the bare address without a name;
 *    a group gives "Group: " and its mailboxes.
 *  - Leaf parts: text/plain (and text/enriched, text/richtext) and text/html
 *    that are not attachments give body text; every other leaf gives one line
 *    "[attachment: NAME TYPE/SUBTYPE]" (NAME left out when there is none).
 *  - multipart/alternative gives one child: the text/plain child when it has
 *    real content (a letter or digit, and at least a third of the visible
 *    characters of the richest other child), otherwise the last child that
 *    gives any text. Other multiparts give every child in order; a
 *    multipart with no children (missing or wrong boundary) gives its
 *    prologue as plain text.
 *  - Version 2 (the default) adds, for the top message only, "To:" (its
 *    mailboxes as for From), "X-Mailer:", "User-Agent:" and "Content-Type:"
 *    lines after From, each only when the header is there and not blank,
 *    RFC 2047 decoded, whitespace normalised and cut at 100 bytes (whole
 *    characters). Version 1 (opt->version = 1) has Subject and From only.
 *  - message/rfc822 parts give "Subject: ..." and "From: ..." lines, then
 *    their body, at most MAX_DEPTH levels down.
 *  - Text is converted to UTF-8 from the declared charset; undeclared,
 *    us-ascii, latin-1, windows-1252 and utf-8 text is taken as UTF-8 when it
 *    decodes as UTF-8 (invalid bytes become U+FFFD), and as windows-1252
 *    when it has no multi-byte UTF-8 sequence at all; unknown charsets go
 *    the same way. Invalid input never fails.
 *  - HTML goes through libxml2's HTML parser: head, title, script, style and
 *    template are dropped; text, image alt text and, after each link (a,
 *    area) or frame (iframe, frame), the host of its http(s) target as
 *    " [host]" are kept; entities are decoded by the parser; block
 *    elements break lines (p, h1-h6, table, lists, blockquote, pre, hr: a
 *    blank line; div, li, tr and the like: a line; br: one more line; td,
 *    th: a space); comments go; text hidden by CSS stays (no CSS is read).
 *  - Whitespace: runs of spaces, tabs and Unicode spaces become one space;
 *    no space at the start or end of a line; at most one blank line in a
 *    row; C0/C1 controls (except line breaks), DEL, NUL and invisible format
 *    characters (U+00AD, U+200B-U+200D, U+2060, U+FEFF) are removed; CR LF
 *    and lone CR are line breaks. The output ends with one "\n" unless
 *    the cap cut it; a message without body text is just the two lines.
 *  - Bounds: output max_bytes (whole UTF-8 characters only); the input given
 *    to GMime is cut at 1 MiB (or 64 x max_bytes, the larger), before the
 *    line holding the 65th "multipart" or "message/" word, so GMime's
 *    recursive parser never nests deeply, and before the 1001st line that
 *    starts with "--", so it never builds more than 1000 parts; a
 *    text part is decoded only up to a multiple of max_bytes (transfer
 *    decoding through a filtered stream, so a 50 MB base64 part costs one
 *    chunk); at most MAX_ALT_CHILDREN children of an alternative are tried.
 *    Charset names that iconv does not know are renamed, in the header
 *    blocks, before GMime sees them (charset_names_bounded): GMime would
 *    remember each for good, and unknown names decode alike anyway.
 * Not here: tokenisation (bpe.c), truncation to tokens (classifier.c).
 * Threads: reentrant; GMime and libxml2 are initialised once (g_once).
 * Errors: none by design (see mailtext.h).
 * Checked by: tests/test_mailtext.sh (exact outputs), tests/
 * test_mailtext_corpus.c, tests/fuzz_mailtext.c.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "mailtext.h"

#define MAX_DEPTH 32		/* MIME levels walked */
#define MAX_CONTAINERS 64	/* multipart/message words before the input is cut */
#define MAX_INPUT_BYTES ((gsize)1 << 20)	/* bytes given to GMime, at least */
#define INPUT_PER_CAP 64	/* ... or this many times max_bytes */
#define MAX_DASH_LINES 1000	/* "--" lines (boundaries) given to GMime */
#define MAX_CHARSET_NAME 40	/* longer names are no charset's */
/* what a charset name iconv does not know becomes before GMime sees it */
#define UNKNOWN_CHARSET "x-unknown-charset"
#define MAX_ALT_CHILDREN 8	/* children of one alternative tried */
#define MAX_HEADER_BYTES 1024	/* one Subject/From/attachment value */
#define MAX_EXTRA_HEADER_BYTES 100	/* one version-2 To/X-Mailer/... value */
#define PLAIN_BUDGET 8		/* decoded text bytes read, x max_bytes */
#define HTML_BUDGET 32		/* decoded HTML bytes parsed, x max_bytes */

/* A charset name of an RFC 2231 parameter in the message's own header
 * HEADER that was renamed UNKNOWN_CHARSET: emit_headers() puts the LEN
 * bytes at NAME (in the message as given) back where the header's raw
 * value is part of the text. */
typedef struct {
	char header[32];
	const char *name;
	gsize len;
} Renamed;

/*
 * Out - the normalising writer. Text goes in as (possibly invalid) UTF-8;
 * whitespace is held back (sp, nl) until the next visible character, so
 * nothing trails a line and blank lines never pile up.
 */
typedef struct {
	GString *s;
	gsize cap;		/* bytes s may hold */
	gboolean full;		/* a character did not fit: stop */
	gboolean empty;		/* nothing written yet: no leading breaks */
	int nl;			/* pending line breaks, 0..2 */
	gboolean sp;		/* pending space */
	gsize visible;		/* visible characters written */
	gsize alnum;		/* of which letters or digits */
} Out;

/* out_init - writer into a new string of at most CAP bytes */
static void
out_init(Out *o, gsize cap)
{
	memset(o, 0, sizeof(*o));
	o->s = g_string_sized_new(MIN(cap, 4096) + 1);
	o->cap = cap;
	o->empty = TRUE;
}

/* out_break - at least N (1 or 2) line breaks before the next text */
static void
out_break(Out *o, int n)
{
	if (!o->empty && o->nl < n)
		o->nl = n;
	o->sp = FALSE;
}

/* out_newline - one more line break (HTML <br>), two at most */
static void
out_newline(Out *o)
{
	if (!o->empty && o->nl < 2)
		o->nl++;
	o->sp = FALSE;
}

/* out_space - a space before the next text on the same line */
static void
out_space(Out *o)
{
	o->sp = TRUE;
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

/* utf8_next - decode one strict UTF-8 character at P (N > 0 bytes left);
 * returns its length, or 0 when the bytes there are not valid UTF-8 */
static gsize
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

/* out_char - one character through the whitespace rules */
static void
out_char(Out *o, gunichar c, gboolean keep_nl)
{
	char buf[8];
	gsize need, clen;

	if (c == '\n') {
		if (keep_nl)
			out_newline(o);
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

/* out_text - LEN bytes of UTF-8 (invalid bytes become U+FFFD); KEEP_NL
 * false turns line breaks into spaces (HTML text, header values) */
static void
out_text(Out *o, const char *text, gsize len, gboolean keep_nl)
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
		out_char(o, c, keep_nl);
		i += l;
	}
}

/* out_str - a NUL-terminated string, line breaks as spaces */
static void
out_str(Out *o, const char *s)
{
	if (s != NULL)
		out_text(o, s, strlen(s), FALSE);
}

/* ---------------------------------------------------------------------- */
/* charsets */

/* cp1252_high - windows-1252 0x80..0x9F; the five holes become U+FFFD */
static const gunichar cp1252_high[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

/* append_cp1252 - windows-1252 bytes to UTF-8 */
static void
append_cp1252(GString *dst, const guchar *p, gsize n)
{
	gsize i;

	for (i = 0; i < n; i++) {
		if (p[i] < 0x80)
			g_string_append_c(dst, (char)p[i]);
		else if (p[i] < 0xA0)
			g_string_append_unichar(dst, cp1252_high[p[i] - 0x80]);
		else
			g_string_append_unichar(dst, p[i]);
	}
}

/* charset_is - case-insensitive membership of CS in a NULL-ended list */
static gboolean
charset_is(const char *cs, const char *const *names)
{
	for (; *names != NULL; names++)
		if (g_ascii_strcasecmp(cs, *names) == 0)
			return TRUE;
	return FALSE;
}

static const char *const utf8_names[] = { "utf-8", "utf8", NULL };
static const char *const latin_names[] = {
	"us-ascii", "ascii", "ansi_x3.4-1968", "iso-8859-1", "iso8859-1",
	"iso_8859-1", "latin1", "l1", "windows-1252", "cp1252", "x-cp1252",
	"iso-8859-15", "latin-9", NULL
};

/*
 * append_auto - bytes of no trusted charset: UTF-8 when they hold UTF-8
 * (stray invalid bytes as U+FFFD), windows-1252 when they hold no multi-byte
 * UTF-8 sequence at all. LATIN: the sender said latin-1/1252/ascii, so
 * any invalid byte means they were right.
 */
static void
append_auto(GString *dst, const guchar *p, gsize n, gboolean latin)
{
	gsize i = 0, l, multi = 0, bad = 0;
	gunichar c;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_next(p + i, n - i, &c)) == 0) {
			bad++;
			i++;
		} else {
			multi++;
			i += l;
		}
	}
	if (multi == 0 || (latin && bad > 0)) {
		append_cp1252(dst, p, n);
		return;
	}
	if (bad == 0) {
		g_string_append_len(dst, (const char *)p, n);
		return;
	}
	/* UTF-8 with stray bytes: each bad byte becomes U+FFFD, so the HTML
	 * parser (told "UTF-8") never meets invalid input */
	for (i = 0; i < n; i += l) {
		if ((l = utf8_next(p + i, n - i, &c)) == 0) {
			g_string_append(dst, "\xEF\xBF\xBD");
			l = 1;
		} else {
			g_string_append_len(dst, (const char *)p + i, l);
		}
	}
}

/* iconv_name - the name glibc's iconv knows CS by, or NULL for a name no
 * charset has. Not g_mime_charset_iconv_name(): it remembers every name
 * it is asked about, and senders choose these names. */
static const char *
iconv_name(const char *cs)
{
	static const char *const alias[][2] = {
		{ "ks_c_5601-1987", "CP949" }, { "x-sjis", "SHIFT_JIS" },
		{ "x-gbk", "GBK" }, { "gb_2312-80", "GB2312" },
		{ "x-euc-jp", "EUC-JP" }, { "x-mac-roman", "MACINTOSH" },
		{ "iso-8859-8-i", "ISO-8859-8" }, { "x-x-big5", "BIG5" },
		{ "unicode-1-1-utf-7", "UTF-7" },
	};
	const char *p;
	gsize i;

	for (p = cs; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' &&
		    *p != '.' && *p != ':')
			return NULL;
	if (p == cs || p - cs > MAX_CHARSET_NAME)
		return NULL;
	for (i = 0; i < G_N_ELEMENTS(alias); i++)
		if (g_ascii_strcasecmp(cs, alias[i][0]) == 0)
			return alias[i][1];
	return cs;
}

/* iconv_from - a converter from charset CS (after iconv_name's aliases) to
 * UTF-8, or (GIConv)-1 when iconv knows no such charset */
static GIConv
iconv_from(const char *cs)
{
	return (cs = iconv_name(cs)) != NULL ? g_iconv_open("UTF-8", cs) :
	    (GIConv)-1;
}

/* append_iconv - bytes in CS to UTF-8 through iconv; FALSE when iconv does
 * not know CS. Undecodable bytes become U+FFFD, never an error. */
static gboolean
append_iconv(GString *dst, const guchar *p, gsize n, const char *cs)
{
	GIConv cd;
	char buf[4096];
	gchar *in = (gchar *)p, *outp;
	gsize inleft = n, outleft;

	if ((cd = iconv_from(cs)) == (GIConv)-1)
		return FALSE;
	while (inleft > 0) {
		gsize r;

		outp = buf;
		outleft = sizeof(buf);
		r = g_iconv(cd, &in, &inleft, &outp, &outleft);
		g_string_append_len(dst, buf, outp - buf);
		if (r != (gsize)-1)
			continue;
		if (errno == E2BIG)
			continue;
		/* EILSEQ: skip one byte; EINVAL: cut sequence at the end */
		g_string_append(dst, "\xEF\xBF\xBD");
		if (errno != EILSEQ)
			break;
		in++;
		inleft--;
	}
	/* flush the shift state of stateful encodings (ISO-2022-JP) */
	outp = buf;
	outleft = sizeof(buf);
	g_iconv(cd, NULL, NULL, &outp, &outleft);
	g_string_append_len(dst, buf, outp - buf);
	g_iconv_close(cd);
	return TRUE;
}

/* to_utf8 - N bytes declared as CS (NULL: undeclared) appended as UTF-8 */
static void
to_utf8(GString *dst, const guchar *p, gsize n, const char *cs)
{
	if (cs == NULL || *cs == '\0' || charset_is(cs, utf8_names))
		append_auto(dst, p, n, FALSE);
	else if (charset_is(cs, latin_names))
		append_auto(dst, p, n, TRUE);
	else if (!append_iconv(dst, p, n, cs))
		append_auto(dst, p, n, FALSE);
}

/* ---------------------------------------------------------------------- */
/* HTML */

typedef enum { H_INLINE, H_SKIP, H_LINE, H_PARA, H_CELL } HtmlKind;

/* html_kind - how element NAME (lower case, from libxml2) lays out */
static HtmlKind
html_kind(const char *name)
{
	static const char *const skip[] = {
		"head", "title", "script", "style", "template", NULL
	};
	static const char *const para[] = {
		"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
		"dl", "blockquote", "pre", "hr", NULL
	};
	static const char *const line[] = {
		"div", "li", "tr", "dt", "dd", "address", "center", "form",
		"fieldset", "legend", "nav", "header", "footer", "section",
		"article", "aside", "main", "details", "summary", "caption",
		"figure", "figcaption", "option", "body", "html", NULL
	};
	const char *const *q;

	if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
		return H_CELL;
	for (q = skip; *q; q++)
		if (strcmp(name, *q) == 0)
			return H_SKIP;
	for (q = para; *q; q++)
		if (strcmp(name, *q) == 0)
			return H_PARA;
	for (q = line; *q; q++)
		if (strcmp(name, *q) == 0)
			return H_LINE;
	return H_INLINE;
}

/* link_host - host of an http(s) or scheme-relative URL, lower case, into
 * DST; FALSE for other URLs (mailto:, relative, javascript:) */
static gboolean
link_host(const char *url, GString *dst)
{
	const char *p = url, *end, *at, *q;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
	       *p == '\f')
		p++;
	if (g_ascii_strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (g_ascii_strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (p[0] == '/' && p[1] == '/')
		p += 2;
	else
		return FALSE;
	end = p + strcspn(p, "/?#\\");
	/* user:password@ is a classic disguise: the host follows the last @ */
	at = NULL;
	for (q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL)
		p = at + 1;
	g_string_truncate(dst, 0);
	for (q = p; q < end && dst->len < 255; q++) {
		/* a port follows the host, or the ] of an IPv6 literal */
		if (*q == ':' && (dst->len == 0 || dst->str[0] != '[' ||
				  dst->str[dst->len - 1] == ']'))
			break;
		if (*q == '\t' || *q == '\n' || *q == '\r' || *q == ' ')
			continue;
		g_string_append_c(dst, g_ascii_tolower(*q));
	}
	while (dst->len > 0 && dst->str[dst->len - 1] == '.')
		g_string_truncate(dst, dst->len - 1);
	return dst->len > 0;
}

/* out_block - the break an element of KIND makes where it starts and ends */
static void
out_block(Out *o, HtmlKind kind)
{
	switch (kind) {
	case H_PARA:
		out_break(o, 2);
		break;
	case H_LINE:
		out_break(o, 1);
		break;
	case H_CELL:
		out_space(o);
		break;
	default:
		break;
	}
}

/* html_enter - layout on entering element N; FALSE: skip its subtree */
static gboolean
html_enter(xmlNode *n, Out *o, int *pre)
{
	const char *name = (const char *)n->name;
	xmlChar *alt;

	if (name == NULL)
		return FALSE;
	HtmlKind kind = html_kind(name);
	if (kind == H_SKIP)
		return FALSE;
	out_block(o, kind);
	if (strcmp(name, "pre") == 0) {
		(*pre)++;
	} else if (strcmp(name, "br") == 0) {
		out_newline(o);
	} else if (strcmp(name, "img") == 0) {
		alt = xmlGetProp(n, (const xmlChar *)"alt");
		if (alt != NULL) {
			out_space(o);
			out_str(o, (const char *)alt);
			out_space(o);
			xmlFree(alt);
		}
	}
	return TRUE;
}

/* html_leave - layout on leaving element N (its children are done) */
static void
html_leave(xmlNode *n, Out *o, int *pre, GString *tmp)
{
	const char *name = (const char *)n->name;
	xmlChar *href;

	out_block(o, html_kind(name));
	if (strcmp(name, "pre") == 0 && *pre > 0) {
		(*pre)--;
	} else if (strcmp(name, "a") == 0 || strcmp(name, "area") == 0 ||
		   strcmp(name, "iframe") == 0 || strcmp(name, "frame") == 0) {
		href = xmlGetProp(n, (const xmlChar *)(name[0] == 'a' ?
						       "href" : "src"));
		if (href != NULL && link_host((const char *)href, tmp)) {
			out_space(o);
			out_text(o, "[", 1, FALSE);
			out_text(o, tmp->str, tmp->len, FALSE);
			out_text(o, "]", 1, FALSE);
		}
		xmlFree(href);
	}
}

/* html_walk - document order over the tree without recursion: the parser
 * accepts any depth of nesting, so neither may we recurse */
static void
html_walk(xmlDoc *doc, Out *o)
{
	xmlNode *root = (xmlNode *)doc, *n = doc->children;
	g_autoptr(GString) tmp = g_string_new(NULL);
	int pre = 0;

	while (n != NULL && !o->full) {
		gboolean descend = FALSE;

		if (n->type == XML_ELEMENT_NODE)
			descend = html_enter(n, o, &pre);
		else if ((n->type == XML_TEXT_NODE ||
			  n->type == XML_CDATA_SECTION_NODE) &&
			 n->content != NULL)
			out_text(o, (const char *)n->content,
				 strlen((const char *)n->content), pre > 0);
		if (descend && n->children != NULL) {
			n = n->children;
			continue;
		}
		if (descend)
			html_leave(n, o, &pre, tmp);
		while (n->next == NULL) {
			n = n->parent;
			if (n == NULL || n == root)
				return;
			html_leave(n, o, &pre, tmp);
		}
		n = n->next;
	}
}

/* html_to_text - UTF-8 HTML (LEN bytes) into O */
static void
html_to_text(Out *o, const char *html, gsize len)
{
	xmlDoc *doc;

	if (len == 0)
		return;
	doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
			     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
			     HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
			     HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
	if (doc == NULL)
		return;
	html_walk(doc, o);
	xmlFreeDoc(doc);
}

/* html_sniff_charset - charset= from the first bytes of an HTML part whose
 * MIME header names none (a <meta> tag); NULL when absent */
static char *
html_sniff_charset(const guchar *p, gsize n)
{
	gsize i, j, lim = MIN(n, 4096);

	for (i = 0; i + 8 < lim; i++) {
		if (g_ascii_strncasecmp((const char *)p + i, "charset=", 8))
			continue;
		i += 8;
		while (i < lim && (p[i] == '"' || p[i] == '\'' || p[i] == ' '))
			i++;
		for (j = i; j < lim && j - i < 40 &&
		     (g_ascii_isalnum(p[j]) || p[j] == '-' || p[j] == '_' ||
		      p[j] == '.' || p[j] == ':'); j++)
			;
		return j > i ? g_strndup((const char *)p + i, j - i) : NULL;
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* MIME */

typedef struct {
	gsize max_bytes;	/* the caller's cap, for the part budgets */
} Walk;

static void walk_object(Walk *w, GMimeObject *obj, Out *o, int depth);

/* part_read - up to BUDGET transfer-decoded bytes of PART's content; the
 * filter decodes chunk by chunk, so a huge part costs only what is read */
static GByteArray *
part_read(GMimePart *part, gsize budget)
{
	GByteArray *a = g_byte_array_new();
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *raw, *s;
	GMimeContentEncoding enc;
	guint8 buf[4096];

	if (content == NULL ||
	    (raw = g_mime_data_wrapper_get_stream(content)) == NULL)
		return a;
	enc = g_mime_data_wrapper_get_encoding(content);
	g_mime_stream_reset(raw);
	if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);

		s = g_mime_stream_filter_new(raw);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(s), f);
		g_object_unref(f);
	} else {
		s = g_object_ref(raw);
	}
	while (a->len < budget) {
		gssize r = g_mime_stream_read(s, (char *)buf,
					      MIN(sizeof(buf), budget - a->len));

		if (r <= 0)
			break;
		g_byte_array_append(a, buf, (guint)r);
	}
	g_object_unref(s);
	return a;
}

/* emit_text - N raw bytes in CS as plain text or HTML */
static void
emit_text(Walk *w, Out *o, const guchar *p, gsize n, const char *cs,
	  gboolean html)
{
	g_autoptr(GString) u = g_string_sized_new(n + 16);
	g_autofree char *sniffed = NULL;

	if (html && (cs == NULL || *cs == '\0'))
		cs = sniffed = html_sniff_charset(p, n);
	to_utf8(u, p, n, cs);
	if (html) {
		gsize len = MIN(u->len, MIN(HTML_BUDGET * w->max_bytes,
					    (gsize)G_MAXINT / 2));

		/* whole characters only, or libxml2 would call it latin-1 */
		while (len > 0 && len < u->len &&
		       ((guchar)u->str[len] & 0xC0) == 0x80)
			len--;
		html_to_text(o, u->str, len);
	} else {
		out_text(o, u->str, u->len, TRUE);
	}
}

/* emit_line - "LABEL VALUE" on a line of its own, VALUE whitespace-
 * normalised and cut at CAP bytes; with OPTIONAL, nothing when VALUE has no
 * visible text */
static void
emit_line(Out *o, const char *label, const char *value, gsize cap,
	  gboolean optional)
{
	Out v;

	out_init(&v, cap);
	out_str(&v, value);
	if (!optional || v.s->len > 0) {
		out_break(o, 1);
		out_str(o, label);
		out_space(o);
		out_text(o, v.s->str, v.s->len, FALSE);
		out_break(o, 1);
	}
	g_string_free(v.s, TRUE);
}

/* append_mailboxes - "Name <addr>" (or "addr") for each mailbox of LIST,
 * ", " between them; the members of a group follow "Group: " */
static void
append_mailboxes(GString *s, InternetAddressList *list, gboolean in_group)
{
	int i, n = list != NULL ? internet_address_list_length(list) : 0;

	for (i = 0; i < n && s->len < MAX_HEADER_BYTES; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		const char *name = internet_address_get_name(ia);
		const char *addr;

		if (s->len > 0 && s->str[s->len - 1] != ' ')
			g_string_append(s, ", ");
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			/* RFC 5322 groups do not nest: one level only */
			if (in_group)
				continue;
			if (name != NULL && *name != '\0')
				g_string_append_printf(s, "%s: ", name);
			append_mailboxes(s, internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(ia)), TRUE);
			continue;
		}
		addr = internet_address_mailbox_get_addr(
			INTERNET_ADDRESS_MAILBOX(ia));
		if (name != NULL && *name != '\0')
			g_string_append_printf(s, "%s <%s>", name,
					       addr ? addr : "");
		else if (addr != NULL)
			g_string_append(s, addr);
	}
}

/* address_string - the mailboxes of header NAME (of type TYPE), or its
 * decoded text when GMime finds none there */
static char *
address_string(GMimeMessage *msg, GMimeParserOptions *popt,
	       GMimeAddressType type, const char *name)
{
	GString *s = g_string_new(NULL);

	append_mailboxes(s, g_mime_message_get_addresses(msg, type), FALSE);
	if (s->len == 0) {
		const char *raw = g_mime_object_get_header(GMIME_OBJECT(msg),
							   name);

		if (raw != NULL) {
			char *d = g_mime_utils_header_decode_text(popt, raw);

			g_string_append(s, d);
			g_free(d);
		}
	}
	return g_string_free(s, FALSE);
}

/* restore_names - VALUE of the message's header HEADER with the charset
 * names renamed there (RENAMED, in order) as the sender wrote them */
static char *
restore_names(const char *value, const char *header, const GArray *renamed)
{
	static const char mark[] = "*=" UNKNOWN_CHARSET "'";
	GString *s = g_string_new(NULL);
	const char *p = value, *hit;
	guint i = 0;

	while ((hit = strstr(p, mark)) != NULL) {
		while (i < renamed->len && g_ascii_strcasecmp(
			       g_array_index(renamed, Renamed, i).header, header))
			i++;
		if (i == renamed->len)
			break;
		const Renamed *r = &g_array_index(renamed, Renamed, i++);
		g_string_append_len(s, p, hit - p);
		g_string_append(s, "*=");
		g_string_append_len(s, r->name, (gssize)r->len);
		g_string_append_c(s, '\'');
		p = hit + sizeof mark - 1;
	}
	g_string_append(s, p);
	return g_string_free(s, FALSE);
}

/* emit_headers - the header lines of MSG: Subject and From always; with
 * VERSION >= 2 (the top message only) To, X-Mailer, User-Agent and
 * Content-Type when present; with BARE, Subject and an empty From only */
static void
emit_headers(Out *o, GMimeMessage *msg, GMimeParserOptions *popt, int version,
	     const GArray *renamed, gboolean bare)
{
	static const char *const raw_names[] = {
		"X-Mailer", "User-Agent", "Content-Type",
	};
	g_autofree char *from = msg && !bare ? address_string(msg, popt,
		GMIME_ADDRESS_TYPE_FROM, "From") : NULL;

	emit_line(o, "Subject:", msg ? g_mime_message_get_subject(msg) : NULL,
		  MAX_HEADER_BYTES, FALSE);
	emit_line(o, "From:", from, MAX_HEADER_BYTES, FALSE);
	if (version < 2 || msg == NULL || bare)
		return;
	g_autofree char *to = address_string(msg, popt, GMIME_ADDRESS_TYPE_TO,
					     "To");
	emit_line(o, "To:", to, MAX_EXTRA_HEADER_BYTES, TRUE);
	for (gsize i = 0; i < G_N_ELEMENTS(raw_names); i++) {
		/* GMime files the Content-* headers under the top part */
		GMimeObject *holder = g_str_has_prefix(raw_names[i], "Content-") ?
			g_mime_message_get_mime_part(msg) : GMIME_OBJECT(msg);
		const char *raw = holder != NULL ?
			g_mime_object_get_header(holder, raw_names[i]) : NULL;
		g_autofree char *label = g_strconcat(raw_names[i], ":", NULL);
		g_autofree char *d = raw != NULL ?
			g_mime_utils_header_decode_text(popt, raw) : NULL;

		if (d != NULL && renamed != NULL && renamed->len > 0) {
			char *r = restore_names(d, raw_names[i], renamed);
			g_free(d);
			d = r;
		}
		emit_line(o, label, d, MAX_EXTRA_HEADER_BYTES, TRUE);
	}
}

/* emit_attachment - "[attachment: NAME TYPE]" for leaf OBJ */
static void
emit_attachment(Out *o, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *name = GMIME_IS_PART(obj) ?
		g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
	g_autofree char *type = NULL;
	Out v;

	if (ct != NULL && g_mime_content_type_get_media_type(ct) != NULL &&
	    g_mime_content_type_get_media_subtype(ct) != NULL)
		type = g_strconcat(g_mime_content_type_get_media_type(ct), "/",
				   g_mime_content_type_get_media_subtype(ct),
				   NULL);
	else
		type = g_strdup("application/octet-stream");
	for (char *q = type; *q; q++)
		*q = g_ascii_tolower(*q);
	out_init(&v, MAX_HEADER_BYTES);
	if (name != NULL) {
		out_str(&v, name);
		out_space(&v);
	}
	out_str(&v, type);
	out_break(o, 1);
	out_str(o, "[attachment:");
	out_space(o);
	out_text(o, v.s->str, v.s->len, FALSE);
	out_str(o, "]");
	out_break(o, 1);
	g_string_free(v.s, TRUE);
}

typedef enum { LEAF_ATTACHMENT, LEAF_PLAIN, LEAF_HTML } LeafKind;

/* leaf_kind - whether leaf OBJ gives body text, and which */
static LeafKind
leaf_kind(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);
	const char *type, *sub;

	if (!GMIME_IS_PART(obj) || ct == NULL)
		return LEAF_ATTACHMENT;
	if (cd != NULL && g_mime_content_disposition_is_attachment(cd))
		return LEAF_ATTACHMENT;
	type = g_mime_content_type_get_media_type(ct);
	sub = g_mime_content_type_get_media_subtype(ct);
	if (type == NULL || g_ascii_strcasecmp(type, "text") != 0)
		return LEAF_ATTACHMENT;
	if (sub == NULL || g_ascii_strcasecmp(sub, "plain") == 0 ||
	    g_ascii_strcasecmp(sub, "enriched") == 0 ||
	    g_ascii_strcasecmp(sub, "richtext") == 0)
		return LEAF_PLAIN;
	if (g_ascii_strcasecmp(sub, "html") == 0)
		return LEAF_HTML;
	return LEAF_ATTACHMENT;
}

/* walk_leaf - body text of a text part, or its attachment line */
static void
walk_leaf(Walk *w, GMimeObject *obj, Out *o)
{
	LeafKind kind = leaf_kind(obj);
	GMimeContentType *ct;
	GByteArray *a;

	if (kind == LEAF_ATTACHMENT) {
		emit_attachment(o, obj);
		return;
	}
	ct = g_mime_object_get_content_type(obj);
	a = part_read(GMIME_PART(obj), (kind == LEAF_HTML ? HTML_BUDGET :
					PLAIN_BUDGET) * w->max_bytes);
	out_break(o, 2);
	emit_text(w, o, a->data, a->len,
		  g_mime_content_type_get_parameter(ct, "charset"),
		  kind == LEAF_HTML);
	out_break(o, 2);
	g_byte_array_unref(a);
}

/* walk_alternative - the one child of multipart/alternative MP we show */
static void
walk_alternative(Walk *w, GMimeMultipart *mp, Out *o, int depth)
{
	int i, n = MIN(g_mime_multipart_get_count(mp), MAX_ALT_CHILDREN);
	Out alt[MAX_ALT_CHILDREN];
	int plain = -1, rich = -1;
	gsize room = o->cap > o->s->len ? o->cap - o->s->len : 0;

	for (i = 0; i < n; i++) {
		GMimeObject *c = g_mime_multipart_get_part(mp, i);

		out_init(&alt[i], room);
		walk_object(w, c, &alt[i], depth + 1);
		if (plain < 0 && GMIME_IS_PART(c) &&
		    leaf_kind(c) == LEAF_PLAIN)
			plain = i;
		else if (alt[i].visible > 0)
			rich = i;	/* the last one is the richest */
	}
	if (plain >= 0 && alt[plain].alnum > 0 &&
	    (rich < 0 || alt[plain].visible * 3 >= alt[rich].visible))
		rich = plain;
	else if (rich < 0)
		rich = plain;
	if (rich >= 0) {
		out_break(o, 2);
		out_text(o, alt[rich].s->str, alt[rich].s->len, TRUE);
		out_break(o, 2);
	}
	for (i = 0; i < n; i++)
		g_string_free(alt[i].s, TRUE);
}

/* walk_object - text of OBJ, DEPTH levels below the top message */
static void
walk_object(Walk *w, GMimeObject *obj, Out *o, int depth)
{
	if (obj == NULL || o->full || depth > MAX_DEPTH)
		return;
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
			GMIME_MESSAGE_PART(obj));

		if (m == NULL)
			return;
		out_break(o, 2);
		emit_headers(o, m, NULL, 1, NULL, FALSE);
		out_break(o, 2);
		walk_object(w, g_mime_message_get_mime_part(m), o, depth + 1);
		out_break(o, 2);
	} else if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);
		int i, n = g_mime_multipart_get_count(mp);

		if (n == 0) {
			/* no boundary found: the text went to the prologue */
			const char *pro = g_mime_multipart_get_prologue(mp);

			if (pro != NULL)
				emit_text(w, o, (const guchar *)pro,
					  strlen(pro), NULL, FALSE);
			return;
		}
		if (ct != NULL &&
		    g_mime_content_type_is_type(ct, "multipart", "alternative")) {
			walk_alternative(w, mp, o, depth);
			return;
		}
		for (i = 0; i < n && !o->full; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i), o,
				    depth + 1);
	} else {
		walk_leaf(w, obj, o);
	}
}

/* ---------------------------------------------------------------------- */

/* init_once - GMime and libxml2 global state, exactly once per process */
static gpointer
init_once(gpointer data)
{
	(void)data;
	g_mime_init();
	xmlInitParser();
	return NULL;
}

/* input_limit - how many bytes of MSG GMime may see: at most LIMIT, and
 * not from the line holding the MAX_CONTAINERS+1-th "multipart" or
 * "message/" word on, nor from the MAX_DASH_LINES+1-th line starting
 * with "--". GMime recurses once per multipart and per message/rfc822
 * part, without a depth limit of its own, and matches every line against
 * every open boundary; every such part needs one of these words in some
 * Content-Type (a digest's implied message/rfc822 children sit inside a
 * "multipart/digest"), so counting the words bounds the recursion. GMime
 * also spends about 1 KB and some microseconds per part (400,000 empty
 * parts: 6 s, 500 MB); a part needs a "--" line, so counting those bounds
 * the parts. Text that merely has such words or lines loses only what
 * comes after very many of them, far past the output cap in practice. */
static gsize
input_limit(const char *msg, gsize len, gsize limit)
{
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

/* charset_known - whether iconv_from() knows the N-byte charset name CS */
static gboolean
charset_known(const char *cs, gsize n)
{
	char name[MAX_CHARSET_NAME + 1];
	GIConv cd;

	if (n == 0 || n > MAX_CHARSET_NAME)
		return FALSE;
	memcpy(name, cs, n);
	name[n] = '\0';
	if ((cd = iconv_from(name)) == (GIConv)-1)
		return FALSE;
	g_iconv_close(cd);
	return TRUE;
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
 * charset_names_bounded - MSG (LEN bytes) with every charset name that iconv
 * does not know replaced by UNKNOWN_CHARSET, where GMime would look it up:
 * whole RFC 2047 encoded words ("=?NAME[*LANG]?Q|B?TEXT?=") and RFC 2231
 * parameters ("; NAME*=CHARSET'...") in header blocks (the message's own,
 * and the lines after a "--" line up to the next blank line: a part's
 * headers). NULL when
 * nothing is replaced, else a copy with *NEW_LEN bytes. The names renamed in
 * RFC 2231 parameters of the message's own header are appended to RENAMED:
 * emit_headers() shows some of those headers raw.
 * Why: GMime keeps every charset name it is asked about for the life of
 * the process, and senders choose these names, so a milter fed unique
 * names would grow without bound (about 90 bytes a name). An unknown name
 * decodes through the fallback charsets whatever it is called, so the text
 * is the same.
 */
static char *
charset_names_bounded(const char *msg, gsize len, gsize *new_len,
		      GArray *renamed)
{
	const char *p = msg, *end = msg + len, *copied = msg;
	gboolean header = TRUE, top = TRUE;
	GString *out = NULL;
	Renamed r = { "", NULL, 0 };

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
				g_string_append(out, UNKNOWN_CHARSET);
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

/* mailtext_extract - see mailtext.h */
char *
mailtext_extract(const char *msg, gsize len, const MailtextOptions *opt,
		 gsize *out_len)
{
	static GOnce once = G_ONCE_INIT;
	gsize cap = opt != NULL && opt->max_bytes > 0 ? opt->max_bytes :
		MAILTEXT_DEFAULT_MAX_BYTES;
	int version = opt != NULL && opt->version > 0 ? opt->version :
		MAILTEXT_VERSION;
	GMimeParserOptions *popt;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *m;
	Walk w = { .max_bytes = cap };
	Out o;
	const char *fallback[] = { "utf-8", "windows-1252", NULL };
	g_autofree char *bounded = NULL;
	g_autoptr(GArray) renamed = g_array_new(FALSE, FALSE, sizeof(Renamed));

	g_once(&once, init_once, NULL);
	if (msg == NULL)
		len = 0;
	/* an mbox separator line is not a header */
	if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);
		gsize skip = nl != NULL ? (gsize)(nl - msg) + 1 : len;

		msg += skip;
		len -= skip;
	}
	len = input_limit(msg, len, MAX(MAX_INPUT_BYTES, cap * INPUT_PER_CAP));
	bounded = charset_names_bounded(msg, len, &len, renamed);
	if (bounded != NULL)
		msg = bounded;

	popt = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(popt, fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(popt,
		GMIME_RFC_COMPLIANCE_LOOSE);
	stream = g_mime_stream_mem_new_with_buffer(len ? msg : "", len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, popt);

	out_init(&o, cap);
	emit_headers(&o, m, popt, version, renamed,
		     opt != NULL && opt->bare_headers);
	out_break(&o, 2);
	if (m != NULL)
		walk_object(&w, g_mime_message_get_mime_part(m), &o, 0);
	else
		emit_text(&w, &o, (const guchar *)msg,
			  MIN(len, PLAIN_BUDGET * cap), NULL, FALSE);
	if (o.s->len < o.cap)
		g_string_append_c(o.s, '\n');

	if (m != NULL)
		g_object_unref(m);
	g_object_unref(parser);
	g_object_unref(stream);
	g_mime_parser_options_free(popt);
	if (out_len != NULL)
		*out_len = o.s->len;
	return g_string_free(o.s, FALSE);
}

/* mailtext_header_read - whether mailtext_extract() reads a top-level
 * header NAME (any case): the ones emit_headers() writes out, and the ones
 * GMime needs to take the MIME structure apart. A caller that keeps only
 * these (the milter, so that filler headers cannot crowd out the body) gets
 * the same text as from the whole header. Keep in step with emit_headers()
 * and walk_object(). */
gboolean
mailtext_header_read(const char *name)
{
	static const char *const read[] = {
		"Subject", "From", "To", "X-Mailer", "User-Agent",
		"Content-Type", "Content-Transfer-Encoding",
		"Content-Disposition", "MIME-Version",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(read); i++)
		if (g_ascii_strcasecmp(name, read[i]) == 0)
			return TRUE;
	return FALSE;
}
