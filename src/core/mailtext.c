/*
 * mailtext.c - one message (RFC 822 bytes) to the text the model reads
 *
 * Owns: the MIME walk and the layout behind MAILTEXT_VERSION (see
 * mailtext.h for the layout):
 *  - GMime 3 parses the message; an mbox "From " first line is skipped.
 *  - Subject and From come from GMime, RFC 2047 decoded; raw 8-bit headers
 *    are read as UTF-8, else in the charset the first text part was read
 *    in when that is neither UTF-8 nor Latin-1 (labelled or detected: the
 *    message is then parsed twice), else as windows-1252. From is "Name <addr>" per
 *    mailbox (", " between several), or the bare address without a name;
 *    a group gives "Group: " and its mailboxes.
 *  - Leaf parts: text/plain (and text/enriched, text/richtext) and text/html
 *    that are not attachments give body text; every other leaf gives one line
 *    "[attachment: NAME TYPE/SUBTYPE]" (NAME left out when there is none).
 *  - multipart/alternative gives one child: the text/plain child when it has
 *    real content (a letter or digit, and at least a third of the visible
 *    characters of the richest other child), otherwise the last child that
 *    gives any text. From version 3, a text/plain child that is an HTML
 *    document (it starts, after white space, with "<html" or "<!DOCTYPE
 *    html") is rendered as HTML. Other multiparts give every child in order; a
 *    multipart with no children (missing or wrong boundary) gives its
 *    prologue as plain text.
 *  - Version 2 adds, for the top message only, "To:" (its
 *    mailboxes as for From), "X-Mailer:", "User-Agent:" and "Content-Type:"
 *    lines after From, each only when the header is there and not blank,
 *    RFC 2047 decoded, whitespace normalised and cut at 100 bytes (whole
 *    characters). Version 1 (opt->version = 1) has Subject and From only;
 *    so has version 4: the lines of version 2 let a model lean on which
 *    header lines a message carries (issue 16). Version 5, the default,
 *    has after From always "To:" (empty when absent) and "Content-Type:"
 *    with the top part's type/subtype as GMime reads it (text/plain when
 *    none is named), so that neither line tells whether a header was
 *    there.
 *  - message/rfc822 parts give "Subject: ..." and "From: ..." lines, then
 *    their body, at most MAX_DEPTH levels down.
 *  - The output ends with one "\n" unless the cap cut it; a message
 *    without body text is just the header lines.
 *  - Budgets of the walk: a text part is decoded only up to a multiple of
 *    max_bytes (transfer decoding through a filtered stream, so a 50 MB
 *    base64 part costs one chunk); at most MAX_ALT_CHILDREN children of an
 *    alternative are tried.
 * Not here: the text writer and its whitespace rules (textbuf.c), charset
 * conversion (charset.c), HTML to text (html2text.c), the limits on what
 * GMime is given (mailinput.c), tokenisation (bpe.c), truncation to tokens
 * (tokens.c).
 * Threads: reentrant; GMime and libxml2 are initialised once (g_once).
 * Errors: none by design (see mailtext.h).
 * Checked by: tests/test_mailtext.sh (exact outputs), tests/
 * test_mailtext_corpus.c, tests/fuzz_mailtext.c.
 */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "charset.h"
#include "html2text.h"
#include "mailinput.h"
#include "mailtext.h"
#include "textbuf.h"

#define MAX_DEPTH 32		/* MIME levels walked */
#define MAX_ALT_CHILDREN 8	/* children of one alternative tried */
#define MAX_HEADER_BYTES 1024	/* one Subject/From/attachment value */
#define MAX_EXTRA_HEADER_BYTES 100	/* one version-2/3 To/X-Mailer/... value */
#define PLAIN_BUDGET 8		/* decoded text bytes read, x max_bytes */
#define HTML_BUDGET 32		/* decoded HTML bytes parsed, x max_bytes */

typedef struct {
	gsize max_bytes;	/* the caller's cap, for the part budgets */
	int version;		/* the layout asked for */
	char hint[CHARSET_MAX_NAME + 1];	/* the first non-Latin charset a
						 * text part was read in */
} Walk;

static void walk_object(Walk *w, GMimeObject *obj, TextBuf *o, int depth);

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
emit_text(Walk *w, TextBuf *o, const guchar *p, gsize n, const char *cs,
	  gboolean html)
{
	g_autoptr(GString) u = g_string_sized_new(n + 16);
	g_autofree char *sniffed = NULL;
	char used[CHARSET_MAX_NAME + 1];

	if (html && (cs == NULL || *cs == '\0'))
		cs = sniffed = html2text_sniff_charset(p, n);
	charset_to_utf8(u, p, n, cs, used);
	if (w->hint[0] == '\0') {
		/* lower case: GMime keeps every charset name it is given */
		for (gsize i = 0; i < sizeof w->hint; i++)
			if ((w->hint[i] = g_ascii_tolower(used[i])) == '\0')
				break;
	}
	if (html)
		html2text_render(o, u->str, u->len, HTML_BUDGET * w->max_bytes);
	else
		textbuf_text(o, u->str, u->len, TRUE);
}

/* emit_line - "LABEL VALUE" on a line of its own, VALUE whitespace-
 * normalised and cut at CAP bytes; with OPTIONAL, nothing when VALUE has no
 * visible text */
static void
emit_line(TextBuf *o, const char *label, const char *value, gsize cap,
	  gboolean optional)
{
	TextBuf v;

	textbuf_init(&v, cap);
	textbuf_str(&v, value);
	if (!optional || v.s->len > 0) {
		textbuf_break(o, 1);
		textbuf_str(o, label);
		textbuf_space(o);
		textbuf_text(o, v.s->str, v.s->len, FALSE);
		textbuf_break(o, 1);
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

/* media_type - "TYPE/SUB" in lower case (GMime keeps the case it read) */
static char *
media_type(const char *type, const char *sub)
{
	char *s = g_strconcat(type, "/", sub, NULL);

	for (char *q = s; *q; q++)
		*q = g_ascii_tolower(*q);
	return s;
}

/* top_media_type - "type/subtype" (lower case, no parameters) of MSG's top
 * part as the MIME walk reads it: text/plain, the RFC 2045 default, when
 * the message names none or cannot be parsed */
static char *
top_media_type(GMimeMessage *msg)
{
	GMimeObject *top = msg != NULL ? g_mime_message_get_mime_part(msg) :
		NULL;
	GMimeContentType *ct = top != NULL ?
		g_mime_object_get_content_type(top) : NULL;
	const char *type = ct != NULL ?
		g_mime_content_type_get_media_type(ct) : NULL;
	const char *sub = ct != NULL ?
		g_mime_content_type_get_media_subtype(ct) : NULL;

	if (type == NULL || sub == NULL || *type == '\0' || *sub == '\0')
		return g_strdup("text/plain");
	return media_type(type, sub);
}

/* emit_headers - the header lines of MSG: Subject and From always; with
 * VERSION 2 or 3 (the top message only) To, X-Mailer, User-Agent and
 * Content-Type when present; with VERSION 5 (the top message only) To and
 * the top media type always, empty when absent; with BARE, Subject and
 * the other lines of VERSION empty */
static void
emit_headers(TextBuf *o, GMimeMessage *msg, GMimeParserOptions *popt,
	     int version, const GArray *renamed, gboolean bare)
{
	static const char *const raw_names[] = {
		"X-Mailer", "User-Agent", "Content-Type",
	};
	g_autofree char *from = msg && !bare ? address_string(msg, popt,
		GMIME_ADDRESS_TYPE_FROM, "From") : NULL;

	emit_line(o, "Subject:", msg ? g_mime_message_get_subject(msg) : NULL,
		  MAX_HEADER_BYTES, FALSE);
	emit_line(o, "From:", from, MAX_HEADER_BYTES, FALSE);
	if (version >= 5) {
		/* Both lines always: a missing To is an empty value, as in
		 * the trainer's bare view, and the media type is the one the
		 * body is read as (a missing Content-Type is text/plain), so
		 * neither line can tell whether a header was there. */
		g_autofree char *to = msg && !bare ? address_string(msg, popt,
			GMIME_ADDRESS_TYPE_TO, "To") : NULL;
		g_autofree char *type = top_media_type(msg);

		emit_line(o, "To:", to, MAX_EXTRA_HEADER_BYTES, FALSE);
		emit_line(o, "Content-Type:", type, MAX_EXTRA_HEADER_BYTES,
			  FALSE);
		return;
	}
	if (version < 2 || version > 3 || msg == NULL || bare)
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
			char *r = mailinput_restore_names(d, raw_names[i], renamed);
			g_free(d);
			d = r;
		}
		emit_line(o, label, d, MAX_EXTRA_HEADER_BYTES, TRUE);
	}
}

/* emit_attachment - "[attachment: NAME TYPE]" for leaf OBJ */
static void
emit_attachment(TextBuf *o, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *name = GMIME_IS_PART(obj) ?
		g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
	g_autofree char *type = NULL;
	TextBuf v;

	if (ct != NULL && g_mime_content_type_get_media_type(ct) != NULL &&
	    g_mime_content_type_get_media_subtype(ct) != NULL)
		type = media_type(g_mime_content_type_get_media_type(ct),
				  g_mime_content_type_get_media_subtype(ct));
	else
		type = g_strdup("application/octet-stream");
	textbuf_init(&v, MAX_HEADER_BYTES);
	if (name != NULL) {
		textbuf_str(&v, name);
		textbuf_space(&v);
	}
	textbuf_str(&v, type);
	textbuf_break(o, 1);
	textbuf_str(o, "[attachment:");
	textbuf_space(o);
	textbuf_text(o, v.s->str, v.s->len, FALSE);
	textbuf_str(o, "]");
	textbuf_break(o, 1);
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

/* walk_leaf - body text of a text part, or its attachment line; with
 * ALTERNATIVE (a child of multipart/alternative, version 3) a text/plain
 * part that holds an HTML document is rendered as HTML: it stands in for
 * the HTML child, and its tags are no text any client shows */
static void
walk_leaf(Walk *w, GMimeObject *obj, TextBuf *o, gboolean alternative)
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
	if (kind == LEAF_PLAIN && alternative &&
	    html2text_is_document(a->data, a->len)) {
		kind = LEAF_HTML;
		g_byte_array_unref(a);
		a = part_read(GMIME_PART(obj), HTML_BUDGET * w->max_bytes);
	}
	textbuf_break(o, 2);
	emit_text(w, o, a->data, a->len,
		  g_mime_content_type_get_parameter(ct, "charset"),
		  kind == LEAF_HTML);
	textbuf_break(o, 2);
	g_byte_array_unref(a);
}

/* walk_alternative - the one child of multipart/alternative MP we show */
static void
walk_alternative(Walk *w, GMimeMultipart *mp, TextBuf *o, int depth)
{
	int i, n = MIN(g_mime_multipart_get_count(mp), MAX_ALT_CHILDREN);
	TextBuf alt[MAX_ALT_CHILDREN];
	int plain = -1, rich = -1;
	gsize room = o->cap > o->s->len ? o->cap - o->s->len : 0;

	for (i = 0; i < n; i++) {
		GMimeObject *c = g_mime_multipart_get_part(mp, i);

		textbuf_init(&alt[i], room);
		if (GMIME_IS_PART(c))
			walk_leaf(w, c, &alt[i], w->version >= 3);
		else
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
		textbuf_break(o, 2);
		textbuf_text(o, alt[rich].s->str, alt[rich].s->len, TRUE);
		textbuf_break(o, 2);
	}
	for (i = 0; i < n; i++)
		g_string_free(alt[i].s, TRUE);
}

/* walk_object - text of OBJ, DEPTH levels below the top message */
static void
walk_object(Walk *w, GMimeObject *obj, TextBuf *o, int depth)
{
	if (obj == NULL || o->full || depth > MAX_DEPTH)
		return;
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
			GMIME_MESSAGE_PART(obj));

		if (m == NULL)
			return;
		textbuf_break(o, 2);
		emit_headers(o, m, NULL, 1, NULL, FALSE);
		textbuf_break(o, 2);
		walk_object(w, g_mime_message_get_mime_part(m), o, depth + 1);
		textbuf_break(o, 2);
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
		walk_leaf(w, obj, o, FALSE);
	}
}

/* init_once - GMime and libxml2 global state, exactly once per process */
static gpointer
init_once(gpointer data)
{
	(void)data;
	g_mime_init();
	html2text_init();
	return NULL;
}

/* header_8bit - whether the header block of MSG (LEN bytes, up to its
 * first blank line) holds 8-bit bytes: raw text that names no charset */
static gboolean
header_8bit(const char *msg, gsize len)
{
	gsize i;

	for (i = 0; i < len; i++) {
		if ((guchar)msg[i] >= 0x80)
			return TRUE;
		if (msg[i] == '\n' && i + 1 < len && (msg[i + 1] == '\n' ||
		    (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')))
			return FALSE;
	}
	return FALSE;
}

/* extract - the text of MSG (LEN bytes, already bounded) in layout
 * VERSION, at most CAP bytes, BARE as MailtextOptions.bare_headers; raw
 * 8-bit headers are read as UTF-8, else in HINT (if not NULL), else as
 * windows-1252. FOUND (if not NULL) gets the first charset other than
 * UTF-8 and Latin-1 a text part was read in, or "". */
static GString *
extract(const char *msg, gsize len, gsize cap, int version, gboolean bare,
	const GArray *renamed, const char *hint, char *found)
{
	GMimeParserOptions *popt;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *m;
	Walk w = { .max_bytes = cap, .version = version };
	TextBuf o;
	const char *fallback[] = {
		"utf-8", hint != NULL ? hint : "windows-1252",
		hint != NULL ? "windows-1252" : NULL, NULL
	};

	popt = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(popt, fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(popt,
		GMIME_RFC_COMPLIANCE_LOOSE);
	stream = g_mime_stream_mem_new_with_buffer(len ? msg : "", len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, popt);

	textbuf_init(&o, cap);
	emit_headers(&o, m, popt, version, renamed, bare);
	textbuf_break(&o, 2);
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
	if (found != NULL)
		g_strlcpy(found, w.hint, CHARSET_MAX_NAME + 1);
	return o.s;
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
	gboolean bare = opt != NULL && opt->bare_headers;
	char found[CHARSET_MAX_NAME + 1];
	g_autofree char *bounded = NULL;
	g_autoptr(GArray) renamed = g_array_new(FALSE, FALSE,
		sizeof(MailinputRenamed));
	GString *s;

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
	len = mailinput_limit(msg, len, cap);
	bounded = mailinput_bound_charsets(msg, len, &len, renamed);
	if (bounded != NULL)
		msg = bounded;

	s = extract(msg, len, cap, version, bare, renamed, NULL, found);
	/* Raw 8-bit headers name no charset, and are too short to detect
	 * one: they are likeliest in the charset of the message's own text
	 * (a Chinese body: GB2312 subject), as mail readers also assume. A
	 * second parse, only for such messages, reads them so. */
	if (found[0] != '\0' && header_8bit(msg, len)) {
		g_string_free(s, TRUE);
		s = extract(msg, len, cap, version, bare, renamed, found,
			    NULL);
	}
	if (out_len != NULL)
		*out_len = s->len;
	return g_string_free(s, FALSE);
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
