/*
 * html2text.c - HTML (as UTF-8) to the text the model reads
 *
 * Owns: the HTML layout rules of html2text.h, on libxml2's parse tree,
 * walked without recursion (the parser accepts any nesting depth).
 * Not here: charsets (charset.c), whitespace rules (textbuf.c).
 * Threads: reentrant once html2text_init() has run. Errors: none.
 * Checked by: tests/test_mailtext.sh (html-only, html-rich,
 * html-meta-charset, alternative cases).
 */
#include "config.h"

#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "html2text.h"

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

/* html_block - the break an element of KIND makes where it starts and ends */
static void
html_block(TextBuf *o, HtmlKind kind)
{
	switch (kind) {
	case H_PARA:
		textbuf_break(o, 2);
		break;
	case H_LINE:
		textbuf_break(o, 1);
		break;
	case H_CELL:
		textbuf_space(o);
		break;
	default:
		break;
	}
}

/* html_enter - layout on entering element N; FALSE: skip its subtree */
static gboolean
html_enter(xmlNode *n, TextBuf *o, int *pre)
{
	const char *name = (const char *)n->name;
	xmlChar *alt;

	if (name == NULL)
		return FALSE;
	HtmlKind kind = html_kind(name);
	if (kind == H_SKIP)
		return FALSE;
	html_block(o, kind);
	if (strcmp(name, "pre") == 0) {
		(*pre)++;
	} else if (strcmp(name, "br") == 0) {
		textbuf_newline(o);
	} else if (strcmp(name, "img") == 0) {
		alt = xmlGetProp(n, (const xmlChar *)"alt");
		if (alt != NULL) {
			textbuf_space(o);
			textbuf_str(o, (const char *)alt);
			textbuf_space(o);
			xmlFree(alt);
		}
	}
	return TRUE;
}

/* html_leave - layout on leaving element N (its children are done) */
static void
html_leave(xmlNode *n, TextBuf *o, int *pre, GString *tmp)
{
	const char *name = (const char *)n->name;
	xmlChar *href;

	html_block(o, html_kind(name));
	if (strcmp(name, "pre") == 0 && *pre > 0) {
		(*pre)--;
	} else if (strcmp(name, "a") == 0 || strcmp(name, "area") == 0 ||
		   strcmp(name, "iframe") == 0 || strcmp(name, "frame") == 0) {
		href = xmlGetProp(n, (const xmlChar *)(name[0] == 'a' ?
						       "href" : "src"));
		if (href != NULL && link_host((const char *)href, tmp)) {
			textbuf_space(o);
			textbuf_text(o, "[", 1, FALSE);
			textbuf_text(o, tmp->str, tmp->len, FALSE);
			textbuf_text(o, "]", 1, FALSE);
		}
		xmlFree(href);
	}
}

/* html_walk - document order over the tree without recursion: the parser
 * accepts any depth of nesting, so neither may we recurse */
static void
html_walk(xmlDoc *doc, TextBuf *o)
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
			textbuf_text(o, (const char *)n->content,
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

/* html2text_init - see html2text.h */
void
html2text_init(void)
{
	xmlInitParser();
}

/* html2text_render - see html2text.h */
void
html2text_render(TextBuf *o, const char *html, gsize len, gsize max)
{
	gsize n = MIN(len, MIN(max, (gsize)G_MAXINT / 2));
	xmlDoc *doc;

	/* whole characters only, or libxml2 would call it latin-1 */
	while (n > 0 && n < len && ((guchar)html[n] & 0xC0) == 0x80)
		n--;
	if (n == 0)
		return;
	doc = htmlReadMemory(html, (int)n, NULL, "UTF-8",
			     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
			     HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
			     HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
	if (doc == NULL)
		return;
	html_walk(doc, o);
	xmlFreeDoc(doc);
}

/* html2text_is_document - see html2text.h */
gboolean
html2text_is_document(const guchar *p, gsize n)
{
	static const char *const opening[] = { "<html", "<!doctype html" };
	gsize i = 0, k;

	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	while (i < n && g_ascii_isspace(p[i]))
		i++;
	for (k = 0; k < G_N_ELEMENTS(opening); k++) {
		gsize l = strlen(opening[k]);

		if (n - i > l &&
		    g_ascii_strncasecmp((const char *)p + i, opening[k], l) == 0 &&
		    (p[i + l] == '>' || g_ascii_isspace(p[i + l])))
			return TRUE;
	}
	return FALSE;
}

/* html2text_sniff_charset - see html2text.h */
char *
html2text_sniff_charset(const guchar *p, gsize n)
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
