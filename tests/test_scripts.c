/*
 * test_scripts.c - the dominant script of a text (scripts_dominant), the
 * per-class record (scripts_tally_json) and its lookup in a model's
 * config.json (scripts_ham_messages, scripts_unseen), on hand-made texts
 * and records; no model files needed.
 */
#include <stdio.h>
#include <string.h>

#include "scripts.h"
#include "check.h"

static const char *
dom(const char *s)
{
	return scripts_dominant(s, strlen(s));
}

static void
test_dominant(void)
{
	CHECK(strcmp(dom("Subject: hello world"), "Latn") == 0, "latin");
	/* mailtext's layout: the header lines other than Subject do not
	 * count, so 12 Cyrillic letters beat 60 Latin ones in From, To,
	 * X-Mailer and Content-Type */
	const char *mail = "Subject: Отчёт\nFrom: Ivan <ivan@example.org>\n"
		"To: Maria <maria@example.net>\nX-Mailer: Microsoft Outlook\n"
		"Content-Type: text/plain; charset=koi8-r\n\nДобрый день.";
	CHECK(strcmp(dom(mail), "Cyrl") == 0, "short cyrillic mail: %s",
	      dom(mail));
	/* the Subject counts: Latin subject and a shorter Cyrillic body */
	CHECK(strcmp(dom("Subject: quarterly report\nFrom: a@b.c\n\nДа."),
		     "Latn") == 0, "subject counts");
	/* the same letters as free text (a TSV corpus line): all count */
	CHECK(strcmp(dom("From: Ivan <ivan@example.org>\nДобрый"), "Latn") == 0,
	      "free text counts all");
	CHECK(strcmp(dom("Subject: 会议\n\n请查收本季度的报告，谢谢。"), "Hani") == 0,
	      "han");
	CHECK(strcmp(dom("ありがとうございます"), "Hira") == 0, "hiragana");
	CHECK(strcmp(dom("مرحبا بكم"), "Arab") == 0, "arabic");
	/* digits, punctuation, spaces (Common) and a combining acute accent
	 * (Inherited) do not vote: two Greek letters beat them all */
	CHECK(strcmp(dom("12345 67890 !!! ... --- \xcc\x81\xcc\x81\xcc\x81 αβ"),
		     "Grek") == 0, "common and inherited excluded");
	CHECK(strcmp(dom("0123 4567 -- !!"), SCRIPTS_NONE) == 0, "no letters");
	CHECK(strcmp(scripts_dominant("", 0), SCRIPTS_NONE) == 0, "empty");
	/* invalid UTF-8 bytes are skipped, the letters around them count */
	CHECK(strcmp(dom("\xff\xfe\xc0 Привет \x80 abc"), "Cyrl") == 0,
	      "invalid bytes");
	/* LEN bounds the text: only "abc" is read */
	CHECK(strcmp(scripts_dominant("abcДобрый", 3), "Latn") == 0, "len");
	/* the returned name is interned: same pointer for the same script */
	CHECK(dom("abc") == dom("xyz"), "interned");
}

/* bundle_of - a Bundle with only what scripts.c reads: config and labels */
static Bundle *
bundle_of(const char *json)
{
	static char *labels[] = { "ham", "spam", NULL };
	Bundle *b = g_new0(Bundle, 1);
	g_autoptr(JsonParser) p = json_parser_new();

	g_assert(json_parser_load_from_data(p, json, -1, NULL));
	b->config = json_node_copy(json_parser_get_root(p));
	b->labels = labels;
	return b;
}

static void
bundle_drop(Bundle *b)
{
	json_node_unref(b->config);
	g_free(b);
}

static void
test_record(void)
{
	g_autoptr(ScriptsTally) t = scripts_tally_new();

	scripts_tally_add(t, "ham", "Latn");
	scripts_tally_add(t, "ham", "Latn");
	scripts_tally_add(t, "ham", "Cyrl");
	scripts_tally_add(t, "spam", "Hani");
	scripts_tally_add(t, "ham", SCRIPTS_NONE);
	JsonObject *o = scripts_tally_json(t);
	JsonObject *ham = json_object_get_object_member(o, "ham");
	JsonObject *by = json_object_get_object_member(ham, "by_script");
	CHECK(json_object_get_int_member(ham, "messages") == 4, "ham messages");
	CHECK(json_object_get_int_member(by, "Latn") == 2, "ham Latn");
	CHECK(json_object_get_int_member(by, "Cyrl") == 1, "ham Cyrl");
	CHECK(json_object_get_int_member(by, "none") == 1, "ham none");
	CHECK(json_object_get_int_member(json_object_get_object_member(
		json_object_get_object_member(o, "spam"), "by_script"),
		"Hani") == 1, "spam Hani");

	/* that record, as config.json holds it, read back */
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	JsonObject *top = json_object_new(), *g = json_object_new();
	json_object_set_object_member(g, "scripts", o);
	json_object_set_object_member(top, "gptmilter", g);
	json_node_take_object(root, top);
	g_autofree char *text = json_to_string(root, FALSE);
	Bundle *b = bundle_of(text);
	CHECK(scripts_ham_messages(b, "Latn") == 2, "lookup Latn");
	CHECK(scripts_ham_messages(b, "Hani") == 0, "spam only: no ham");
	CHECK(scripts_ham_messages(b, "Arab") == 0, "absent");
	gint64 n = -5;
	CHECK(scripts_unseen(b, "Hani", 20, &n) && n == 0, "Hani unseen");
	CHECK(scripts_unseen(b, "Latn", 3, NULL), "2 Latin ham < 3");
	CHECK(!scripts_unseen(b, "Latn", 2, NULL), "2 Latin ham >= 2");
	CHECK(!scripts_unseen(b, "Hani", 0, NULL), "0: off");
	CHECK(!scripts_unseen(b, SCRIPTS_NONE, 20, NULL), "none never unseen");
	bundle_drop(b);

	/* no record: -1, never unseen (today's behaviour) */
	b = bundle_of("{\"gptmilter\": {\"threshold\": 0.5}}");
	CHECK(scripts_ham_messages(b, "Latn") == -1, "no record");
	CHECK(!scripts_unseen(b, "Cyrl", 20, &n) && n == -1, "no record: seen");
	bundle_drop(b);
	b = bundle_of("{\"n_layer\": 2}");
	CHECK(scripts_ham_messages(b, "Latn") == -1, "no gptmilter object");
	bundle_drop(b);
	/* malformed records read as "no ham seen", never as a crash */
	b = bundle_of("{\"gptmilter\": {\"scripts\": {\"ham\": 3}}}");
	CHECK(scripts_ham_messages(b, "Latn") == 0, "ham not an object");
	bundle_drop(b);
	b = bundle_of("{\"gptmilter\": {\"scripts\": {\"ham\": {\"by_script\":"
		      " {\"Latn\": \"many\"}}}}}");
	CHECK(scripts_ham_messages(b, "Latn") == 0, "count not a number");
	bundle_drop(b);
}

int
main(void)
{
	test_dominant();
	test_record();
	return check_summary("test_scripts");
}
