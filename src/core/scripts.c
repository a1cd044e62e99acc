/*
 * scripts.c - the dominant Unicode script of a text, the per-class record
 * of a model's training scripts, and the lookup of that record
 *
 * Owns: one counting rule for the trainer (the record), the milter and
 * gptmilter-classify (the question), so that all three call the same
 * letters the same script.
 * Not here: text extraction (mailtext.c), the policy (src/milter/).
 * Threads: reentrant. Checked by: tests/test_scripts.c.
 */
#include <string.h>

#include "scripts.h"

/* Scripts GLib knows fit in this (about 170 in GLib 2.74); a newer one
 * past it is counted as unknown, "Zzzz". */
#define N_SCRIPT_SLOTS 512

/* code_of - "Latn" for G_UNICODE_SCRIPT_LATIN, interned */
static const char *
code_of(GUnicodeScript s)
{
	guint32 c = g_unicode_script_to_iso15924(s);
	char code[5] = { (char)(c >> 24), (char)(c >> 16), (char)(c >> 8),
			 (char)c, '\0' };

	return c ? g_intern_string(code) : g_intern_static_string("Zzzz");
}

/* count_letters - add the letters of [P, END) to COUNT by script */
static void
count_letters(const char *p, const char *end, guint32 *count)
{
	while (p < end) {
		gunichar u = g_utf8_get_char_validated(p, end - p);
		if (u == (gunichar)-1 || u == (gunichar)-2) {
			p++;	/* not UTF-8 here: skip the byte */
			continue;
		}
		p = g_utf8_next_char(p);
		if (!g_unichar_isalpha(u))
			continue;
		GUnicodeScript s = g_unichar_get_script(u);
		if (s == G_UNICODE_SCRIPT_COMMON ||
		    s == G_UNICODE_SCRIPT_INHERITED)
			continue;
		int k = (int)s >= 0 && (int)s < N_SCRIPT_SLOTS ? (int)s :
			(int)G_UNICODE_SCRIPT_UNKNOWN;
		count[k]++;
	}
}

/* scripts_dominant - see scripts.h */
const char *
scripts_dominant(const char *text, gsize len)
{
	static const char subject[] = "Subject:";
	const gsize sl = sizeof subject - 1;
	guint32 count[N_SCRIPT_SLOTS] = { 0 };
	const char *end = text + len;
	int best = -1;

	if (len >= sl && memcmp(text, subject, sl) == 0) {
		/* mailtext's layout: header lines, a blank line, the body */
		const char *eol = memchr(text, '\n', len);
		const char *body = g_strstr_len(text, (gssize)len, "\n\n");
		count_letters(text + sl, eol ? eol : end, count);
		if (body != NULL)
			count_letters(body + 2, end, count);
	} else {
		count_letters(text, end, count);
	}
	for (int k = 0; k < N_SCRIPT_SLOTS; k++)
		if (count[k] > 0 && (best < 0 || count[k] > count[best]))
			best = k;
	return best < 0 ? g_intern_static_string(SCRIPTS_NONE) :
			  code_of((GUnicodeScript)best);
}

/* scripts_of_message - the dominant script of the extracted text */
const char *
scripts_of_message(const Classifier *c, const char *msg, gsize len)
{
	gsize tl = 0;
	g_autofree char *text = classifier_text(c, msg, len, &tl);

	return scripts_dominant(text, tl);
}

struct ScriptsTally {
	GHashTable *classes;	/* class name -> GHashTable script -> count */
};

ScriptsTally *
scripts_tally_new(void)
{
	ScriptsTally *t = g_new0(ScriptsTally, 1);

	t->classes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify)g_hash_table_unref);
	return t;
}

void
scripts_tally_free(ScriptsTally *t)
{
	if (t == NULL)
		return;
	g_hash_table_unref(t->classes);
	g_free(t);
}

/* scripts_tally_add - count one message */
void
scripts_tally_add(ScriptsTally *t, const char *cls, const char *script)
{
	GHashTable *h = g_hash_table_lookup(t->classes, cls);

	if (h == NULL) {
		/* keys are interned script names */
		h = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(t->classes, g_strdup(cls), h);
	}
	const char *k = g_intern_string(script);
	gsize n = GPOINTER_TO_SIZE(g_hash_table_lookup(h, k));
	g_hash_table_insert(h, (gpointer)k, GSIZE_TO_POINTER(n + 1));
}

/* scripts_tally_json - { class: { messages, by_script: { code: n } } } */
JsonObject *
scripts_tally_json(const ScriptsTally *t)
{
	JsonObject *o = json_object_new();
	GList *cls = g_list_sort(g_hash_table_get_keys(t->classes),
				 (GCompareFunc)strcmp);

	for (GList *l = cls; l; l = l->next) {
		GHashTable *h = g_hash_table_lookup(t->classes, l->data);
		GList *sc = g_list_sort(g_hash_table_get_keys(h),
					(GCompareFunc)strcmp);
		JsonObject *c = json_object_new(), *by = json_object_new();
		gint64 total = 0;
		for (GList *s = sc; s; s = s->next) {
			gint64 n = (gint64)GPOINTER_TO_SIZE(
				g_hash_table_lookup(h, s->data));
			json_object_set_int_member(by, s->data, n);
			total += n;
		}
		json_object_set_int_member(c, "messages", total);
		json_object_set_object_member(c, "by_script", by);
		json_object_set_object_member(o, l->data, c);
		g_list_free(sc);
	}
	g_list_free(cls);
	return o;
}

/* scripts_ham_messages - look SCRIPT up in gptmilter.scripts.<ham> */
gint64
scripts_ham_messages(const Bundle *b, const char *script)
{
	JsonObject *x = bundle_extra(b);
	const char *ham = NULL;

	if (x == NULL || !json_object_has_member(x, "scripts"))
		return -1;
	JsonNode *sn = json_object_get_member(x, "scripts");
	if (!JSON_NODE_HOLDS_OBJECT(sn))
		return -1;
	for (int i = 0; b->labels && b->labels[i]; i++)
		if (g_ascii_strcasecmp(b->labels[i], "ham") == 0)
			ham = b->labels[i];
	if (ham == NULL && b->labels && b->labels[0])
		ham = b->labels[0];
	JsonObject *so = json_node_get_object(sn);
	if (ham == NULL || !json_object_has_member(so, ham))
		return 0;	/* a record without ham: none seen */
	JsonNode *cn = json_object_get_member(so, ham);
	if (!JSON_NODE_HOLDS_OBJECT(cn))
		return 0;
	JsonObject *co = json_node_get_object(cn);
	if (!json_object_has_member(co, "by_script"))
		return 0;
	JsonNode *bn = json_object_get_member(co, "by_script");
	if (!JSON_NODE_HOLDS_OBJECT(bn))
		return 0;
	JsonObject *by = json_node_get_object(bn);
	if (!json_object_has_member(by, script))
		return 0;
	JsonNode *n = json_object_get_member(by, script);
	return JSON_NODE_HOLDS_VALUE(n) &&
	       json_node_get_value_type(n) == G_TYPE_INT64 ?
	       MAX(json_node_get_int(n), 0) : 0;
}

/* scripts_unseen - fewer than MIN_HAM recorded ham of SCRIPT */
gboolean
scripts_unseen(const Bundle *b, const char *script, gint64 min_ham,
	       gint64 *ham)
{
	gint64 n = scripts_ham_messages(b, script);

	if (ham)
		*ham = n;
	return min_ham > 0 && n >= 0 && strcmp(script, SCRIPTS_NONE) != 0 &&
	       n < min_ham;
}
