/*
 * bench_memory.c - the instant-memory experiment of issue 20
 *
 * Owns: the measurement of memory.h on the standard corpus split
 * (../shared/CORPUS.md, exported by `make corpus/index.tsv`). For a split
 * (val, then test): every message is scored once with its pooled vector
 * (classifier_score_pooled, as the milter's workers score); a
 * deterministic 5% of the split's spam (every 20th in checksum order) is
 * "reported" into a Memory; then each other message is looked up and its
 * score adjusted (memory_adjust) at each similarity threshold of a sweep.
 * Printed per threshold, at the model's own spam threshold (unchanged):
 * the unreported spam caught before and after, the ham false positives
 * before and after (counts, rates and 95% Wilson intervals), the memory
 * hits on spam and on ham. Then the cost: the forward pass per message at
 * batch 1 on one thread (the milter's workers run one BLAS thread each),
 * and a lookup in a store of the reports and in a full store of CAPACITY
 * random vectors, the worst case a site meets.
 *
 *	bench_memory MODEL CORPUSDIR [--share 20] [--capacity 4096]
 *		[--spam-score 0.98] [--ham-score 0.02]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "memory.h"
#include "metrics.h"

typedef struct {
	char checksum[33];
	gboolean spam;
	gboolean hard;		/* hard-ham-1 */
	char *path;
	float *pooled;		/* (C) */
	double score;
	gboolean reported;
} Msg;

static double
now_s(void)
{
	return g_get_monotonic_time() / 1e6;
}

/* load_split - the messages of SPLIT from CORPUS/index.tsv */
static GArray *
load_split(const char *corpus, const char *split)
{
	g_autofree char *index = g_build_filename(corpus, "index.tsv", NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	GArray *msgs = g_array_new(FALSE, TRUE, sizeof(Msg));

	if (!g_file_get_contents(index, &text, NULL, &error)) {
		fprintf(stderr, "bench_memory: %s\n", error->message);
		exit(1);
	}
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (int i = 1; lines[i] != NULL; i++) {
		g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
		if (g_strv_length(f) < 5 || strcmp(f[3], split) != 0)
			continue;
		Msg m = { 0 };
		g_strlcpy(m.checksum, f[0], sizeof(m.checksum));
		m.spam = strcmp(f[2], "spam") == 0;
		m.hard = strcmp(f[1], "hard-ham-1") == 0;
		m.path = g_build_filename(corpus, f[4], NULL);
		g_array_append_val(msgs, m);
	}
	return msgs;
}

/* score_all - scores and pooled vectors of every message, batch 8 */
static void
score_all(Classifier *c, GArray *msgs)
{
	const int B = 8, NL = classifier_num_labels(c), C = classifier_dim(c);
	g_autoptr(ClassifierWorker) w = classifier_worker_new(c, B);
	g_autofree float *probs = g_new(float, (gsize) B * NL);
	g_autofree float *pooled = g_new(float, (gsize) B * C);

	for (guint s = 0; s < msgs->len; s += B) {
		int n = MIN(B, (int) (msgs->len - s));
		char *data[8];
		gsize lens[8];
		for (int i = 0; i < n; i++) {
			Msg *m = &g_array_index(msgs, Msg, s + i);
			if (!g_file_get_contents(m->path, &data[i], &lens[i],
						 NULL)) {
				fprintf(stderr, "bench_memory: cannot read "
					"%s\n", m->path);
				exit(1);
			}
		}
		classifier_score_pooled(c, w, (const char *const *) data, lens,
					n, probs, pooled);
		for (int i = 0; i < n; i++) {
			Msg *m = &g_array_index(msgs, Msg, s + i);
			m->score = classifier_spam_score(c, probs + i * NL);
			m->pooled = g_new(float, C);
			memory_project(c, pooled + (gsize) i * C, m->pooled);
			g_free(data[i]);
		}
	}
}

static int
by_checksum(gconstpointer a, gconstpointer b)
{
	return strcmp((*(Msg *const *) a)->checksum,
		      (*(Msg *const *) b)->checksum);
}

/* hash_of - a 32-byte key from a checksum (the bench's message id) */
static void
hash_of(const Msg *m, guint8 out[32])
{
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	gsize n = 32;
	g_checksum_update(ck, (const guchar *) m->checksum, -1);
	g_checksum_get_digest(ck, out, &n);
}

static void
rate(const char *what, gsize k, gsize n)
{
	double lo, hi;
	metrics_wilson(k, n, &lo, &hi);
	printf("%s %zu/%zu = %.2f%% [%.2f, %.2f]", what, k, n,
	       n ? 100.0 * k / n : 0.0, 100 * lo, 100 * hi);
}

/* outcome - one line: of the unreported messages of MSGS (nearest
 * reports MATCH), spam caught and ham marked at spam threshold T, before
 * and after the memory's adjustment under P */
static void
outcome(GArray *msgs, const MemoryMatch *match, const MemoryPolicy *p,
	double t)
{
	gsize n_spam = 0, caught0 = 0, caught1 = 0, spam_hits = 0;
	gsize n_ham = 0, fp0 = 0, fp1 = 0, ham_hits = 0;
	gsize n_hard = 0, hard0 = 0, hard1 = 0;

	for (guint i = 0; i < msgs->len; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);
		if (m->reported)
			continue;
		gboolean hit;
		double after = memory_adjust(p, &match[i], m->score, &hit);
		if (m->spam) {
			n_spam++;
			caught0 += m->score >= t;
			caught1 += after >= t;
			spam_hits += hit;
		} else {
			n_ham++;
			fp0 += m->score >= t;
			fp1 += after >= t;
			ham_hits += hit;
			if (m->hard) {
				n_hard++;
				hard0 += m->score >= t;
				hard1 += after >= t;
			}
		}
	}
	printf("hits spam %zu ham %zu | ", spam_hits, ham_hits);
	rate("caught before", caught0, n_spam);
	rate(" after", caught1, n_spam);
	printf(" | ");
	rate("FPR before", fp0, n_ham);
	rate(" after", fp1, n_ham);
	printf(" | hard-ham FP %zu -> %zu of %zu\n", hard0, hard1, n_hard);
}

/* experiment - report every SHARE-th spam of MSGS, sweep thresholds */
static Memory *
experiment(Classifier *c, const char *id, GArray *msgs, const char *split,
	   int share, int capacity, const MemoryPolicy *base)
{
	const int C = classifier_dim(c);
	const double t = classifier_threshold(c);
	g_autoptr(GPtrArray) spam = g_ptr_array_new();
	Memory *mem = memory_new(id, C, capacity);

	for (guint i = 0; i < msgs->len; i++)
		if (g_array_index(msgs, Msg, i).spam)
			g_ptr_array_add(spam, &g_array_index(msgs, Msg, i));
	g_ptr_array_sort(spam, by_checksum);
	for (guint i = 0; i < spam->len; i += share) {
		Msg *m = g_ptr_array_index(spam, i);
		guint8 h[32];
		hash_of(m, h);
		m->reported = TRUE;
		memory_add(mem, h, MEMORY_SPAM, i, m->pooled, NULL);
	}
	printf("\n== split %s: %u messages, %u spam, %d reported (every "
	       "%dth spam by checksum); model threshold %.4g ==\n", split,
	       msgs->len, spam->len, memory_count(mem), share, t);

	static const double sweep[] = { 0.80, 0.85, 0.90, 0.92, 0.94, 0.95,
					0.96, 0.97, 0.98, 0.99 };
	g_autofree MemoryMatch *match = g_new(MemoryMatch, msgs->len);
	double ham_max = -1;
	for (guint i = 0; i < msgs->len; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);
		memory_lookup(mem, m->pooled, &match[i]);
		if (!m->spam)
			ham_max = MAX(ham_max, match[i].similarity);
	}
	printf("highest similarity of any ham to a reported spam: %.4f\n",
	       ham_max);
	for (guint i = 0; i < msgs->len; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);
		if (m->spam && !m->reported && m->score < t)
			printf("unreported spam the model misses: score %.3f, "
			       "nearest report %.4f\n", m->score,
			       match[i].similarity);
	}
	for (gsize s = 0; s < G_N_ELEMENTS(sweep); s++) {
		MemoryPolicy p = *base;
		p.threshold = sweep[s];
		printf("memory.threshold %.2f, spam threshold %.3g: ",
		       sweep[s], t);
		outcome(msgs, match, &p, t);
	}
	/* a site that tags only above a stricter threshold than the
	 * model's: what the memory adds there, at the default similarity */
	static const double site[] = { 0.9, 0.97 };
	for (gsize s = 0; s < G_N_ELEMENTS(site); s++) {
		printf("memory.threshold %.2f, spam threshold %.3g: ",
		       base->threshold, site[s]);
		outcome(msgs, match, base, site[s]);
	}
	return mem;
}

/* cost - the forward per message (batch 1, one thread) against a lookup */
static void
cost(Classifier *c, const char *id, GArray *msgs, Memory *reports,
     int capacity)
{
	const int C = classifier_dim(c), NL = classifier_num_labels(c);
	const int n = MIN((int) msgs->len, 200);
	g_autoptr(ClassifierWorker) w = classifier_worker_new(c, 1);
	float probs[16];
	g_autofree float *pooled = g_new(float, C);
	MemoryMatch mm;

	g_assert(NL <= 16);
	gpt_set_threads(1);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		Msg *m = &g_array_index(msgs, Msg, i);
		g_autofree char *data = NULL;
		gsize len;
		g_file_get_contents(m->path, &data, &len, NULL);
		const char *d = data;
		classifier_score_pooled(c, w, &d, &len, 1, probs, pooled);
	}
	double fwd = (now_s() - t0) / n;

	/* a full store of random unit-ish vectors: the worst case */
	g_autoptr(Memory) full = memory_new(id, C, capacity);
	GRand *r = g_rand_new_with_seed(20);
	g_autofree float *v = g_new(float, C);
	for (int i = 0; i < capacity; i++) {
		guint8 h[32];
		for (int k = 0; k < 32; k++)
			h[k] = (guint8) g_rand_int(r);
		for (int k = 0; k < C; k++)
			v[k] = (float) g_rand_double_range(r, -1, 1);
		memory_add(full, h, i % 2 ? MEMORY_SPAM : MEMORY_HAM, i, v,
			   NULL);
	}
	g_rand_free(r);
	double lk[2];
	Memory *stores[2] = { reports, full };
	for (int s = 0; s < 2; s++) {
		/* warm: the first pass brings the store into the cache */
		memory_lookup(stores[s], g_array_index(msgs, Msg, 0).pooled,
			      &mm);
		const int reps = 2000;
		t0 = now_s();
		for (int i = 0; i < reps; i++) {
			/* what the milter does per message: the projection
			 * (of an already projected vector: the same work)
			 * and the lookup */
			Msg *m = &g_array_index(msgs, Msg, i % msgs->len);
			memory_project(c, m->pooled, v);
			memory_lookup(stores[s], v, &mm);
		}
		lk[s] = (now_s() - t0) / reps;
	}
	printf("\n== cost per message (one thread) ==\n"
	       "forward pass (text extraction, tokens, model), batch 1, mean "
	       "of %d test messages: %.3f ms\n"
	       "projection + lookup, %d reports: %.4f ms = %.3f%% of a "
	       "forward\n"
	       "projection + lookup, full store of %d: %.4f ms = %.3f%% of a "
	       "forward\n",
	       n, fwd * 1e3, memory_count(reports), lk[0] * 1e3,
	       100 * lk[0] / fwd, capacity, lk[1] * 1e3, 100 * lk[1] / fwd);
}

int
main(int argc, char **argv)
{
	int share = 20, capacity = MEMORY_CAPACITY_DEFAULT;
	MemoryPolicy p = { MEMORY_THRESHOLD_DEFAULT, MEMORY_SPAM_SCORE_DEFAULT,
			   MEMORY_HAM_SCORE_DEFAULT };
	g_autoptr(GError) error = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_memory MODEL CORPUSDIR [--share "
			"N] [--capacity N] [--spam-score X] [--ham-score X]\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--share") == 0)
			share = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--capacity") == 0)
			capacity = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--spam-score") == 0)
			p.spam_score = g_ascii_strtod(argv[i + 1], NULL);
		else if (strcmp(argv[i], "--ham-score") == 0)
			p.ham_score = g_ascii_strtod(argv[i + 1], NULL);
		else {
			fprintf(stderr, "bench_memory: unknown %s\n", argv[i]);
			return 2;
		}
	}
	if (share < 1 || capacity < 1 || capacity > MEMORY_CAPACITY_MAX) {
		fprintf(stderr, "bench_memory: bad --share or --capacity\n");
		return 2;
	}
	g_autoptr(Classifier) c = classifier_load(argv[1], &error);
	if (c == NULL) {
		fprintf(stderr, "bench_memory: %s\n", error->message);
		return 1;
	}
	g_autofree char *id = memory_model_id(c);
	printf("model %s (%s), pooled vectors of %d floats; memory spam "
	       "score %.3g, ham score %.3g\n", classifier_bundle(c)->name,
	       argv[1], classifier_dim(c), p.spam_score, p.ham_score);
	gpt_set_threads(2);
	const char *splits[] = { "val", "test" };
	for (int s = 0; s < 2; s++) {
		GArray *msgs = load_split(argv[2], splits[s]);
		score_all(c, msgs);
		g_autoptr(Memory) mem = experiment(c, id, msgs, splits[s],
						   share, capacity, &p);
		if (s == 1)
			cost(c, id, msgs, mem, capacity);
		for (guint i = 0; i < msgs->len; i++) {
			g_free(g_array_index(msgs, Msg, i).path);
			g_free(g_array_index(msgs, Msg, i).pooled);
		}
		g_array_free(msgs, TRUE);
	}
	return 0;
}
