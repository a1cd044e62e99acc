/*
 * bench_int8.c - speed of the int8 forward pass against the f32 one
 *
 * Owns: the int8 speed benchmark of one shape, side by side in one run:
 * a random classifier (the same weights twice from one seed, one with its
 * linear weights quantized by gpt_model_quantize), BATCH messages of
 * TOKENS tokens per gpt_forward_classify() call, THREADS threads; the two
 * models alternate within every repetition, so a busy machine slows both.
 * Printed per batch size: messages/s of each, and the ratio int8 / f32 of
 * the best times and the median of the per-repetition ratios; then the
 * linear layers alone (the four products of every block, same shapes,
 * sgemm vs the int8 kernel) and what is left (the forward's time minus
 * them), which says where the int8 pass can and cannot save time.
 *
 *	bench_int8 [--shape gpt2|default] [--tokens T] [--threads 2]
 *		   [--batch 1,8] [--reps 7] [--calls N] [--qpath NAME] [--cpu]
 * --cpu times by the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), not the
 * wall clock: with --threads 1 on a machine that other work keeps busy it
 * still measures the pass itself (the wall clock also counts the time the
 * process waits for a core).
 * gpt2: L=12, C=768, NH=12 (GPT-2 124M); default: L=4, C=128, NH=4, the
 * shipped models/default (n_ctx 256). --qpath forces an int8 kernel
 * (generic, avx2, avx-vnni, avx512-vnni).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpt.h"
#include "layers.h"
#include "qmatmul.h"

static clockid_t clock_id = CLOCK_MONOTONIC;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(clock_id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* linear_time - seconds of the four products of every block of M on R
 * rows (the last block on LAST rows: the compacted pass), f32 (sgemm) or
 * with the int8 form; X and Y are scratch of R * 4C floats */
static double
linear_time(const GptModel *m, gboolean int8, int R, int last, float *x,
	    float *y, int n)
{
	const int C = m->cfg.n_embd, L = m->cfg.n_layer;
	double t = now();

	for (int i = 0; i < n; i++)
		for (int l = 0; l < L; l++) {
			const GptLayer *h = &m->h[l];
			const int r = l == L - 1 ? last : R;
			if (int8) {
				qmatmul_forward(y, x, h->attn_q, h->attn_b, R, FALSE);
				qmatmul_forward(y, x, h->attn_proj_q, h->attn_proj_b, r, TRUE);
				qmatmul_forward(y, x, h->fc_q, h->fc_b, r, FALSE);
				qmatmul_forward(y, x, h->fc_proj_q, h->fc_proj_b, r, TRUE);
			} else {
				matmul_forward(y, x, h->attn_w, h->attn_b, R, C, 3 * C);
				matmul_residual_forward(y, x, h->attn_proj_w,
							h->attn_proj_b, r, C, C);
				matmul_forward(y, x, h->fc_w, h->fc_b, r, C, 4 * C);
				matmul_residual_forward(y, x, h->fc_proj_w,
							h->fc_proj_b, r, 4 * C, C);
			}
		}
	return (now() - t) / n;
}

int
main(int argc, char **argv)
{
	int tokens = 0, threads = 2, reps = 7, ncalls = 0;
	gboolean cpu = FALSE;
	g_autofree char *batches = NULL, *shape = NULL, *qpath = NULL;
	GOptionEntry entries[] = {
		{ "shape", 0, 0, G_OPTION_ARG_STRING, &shape,
		  "gpt2 (124M) or default (4 x 128)", "NAME" },
		{ "tokens", 0, 0, G_OPTION_ARG_INT, &tokens,
		  "tokens per message (256)", "T" },
		{ "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads", "N" },
		{ "batch", 0, 0, G_OPTION_ARG_STRING, &batches,
		  "messages per call, comma-separated (1,8)", "LIST" },
		{ "reps", 0, 0, G_OPTION_ARG_INT, &reps, "repetitions", "N" },
		{ "calls", 0, 0, G_OPTION_ARG_INT, &ncalls,
		  "calls per repetition (default: about 1 s of f32 work)", "N" },
		{ "qpath", 0, 0, G_OPTION_ARG_STRING, &qpath,
		  "int8 kernel (default: the best this CPU has)", "NAME" },
		{ "cpu", 0, 0, G_OPTION_ARG_NONE, &cpu,
		  "time by process CPU time, not the wall clock", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- int8 vs f32");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	GptConfig cfg = { .n_layer = 12, .n_head = 12, .n_embd = 768,
		.n_ctx = 1024, .vocab_size = 50257, .ln_eps = 1e-5f,
		.num_labels = 2, .pooling = GPT_POOL_LAST };
	if (shape != NULL && strcmp(shape, "default") == 0) {
		cfg.n_layer = 4, cfg.n_head = 4, cfg.n_embd = 128;
		cfg.n_ctx = 256;
	} else if (shape != NULL && strcmp(shape, "gpt2") != 0) {
		fprintf(stderr, "--shape gpt2 or default\n");
		return 2;
	}
	if (tokens == 0)
		tokens = 256;
	if (cpu)
		clock_id = CLOCK_PROCESS_CPUTIME_ID;
	setvbuf(stdout, NULL, _IOLBF, 0);	/* a line per batch size, now */
	if (tokens < 1 || tokens > cfg.n_ctx || reps < 1) {
		fprintf(stderr, "bad --tokens or --reps\n");
		return 2;
	}
	QPath qp;
	if (qpath != NULL && (!qmatmul_path_by_name(qpath, &qp) ||
			      !qmatmul_path_supported(qp))) {
		fprintf(stderr, "--qpath %s: not a kernel of this CPU\n", qpath);
		return 2;
	}
	if (qpath != NULL)
		qmatmul_force_path(qp);
	g_auto(GStrv) blist = g_strsplit(batches ? batches : "1,8", ",", -1);
	g_autoptr(GptModel) m32 = gpt_model_new_random(&cfg, 1);
	g_autoptr(GptModel) m8 = gpt_model_new_random(&cfg, 1);
	gpt_model_quantize(m8);
	gpt_set_threads(threads);
	printf("model: L=%d C=%d NH=%d, random weights, %d tokens per message, "
	       "%d threads, int8 kernel %s, best of %d, %s time\n", cfg.n_layer,
	       cfg.n_embd, cfg.n_head, tokens, threads,
	       qmatmul_path_name(qmatmul_path()), reps, cpu ? "CPU" : "wall");
	printf("%5s %10s %10s %7s %7s | %9s %9s %9s %9s %7s\n", "batch",
	       "f32 msg/s", "int8 msg/s", "ratio", "median", "f32 lin",
	       "int8 lin", "f32 rest", "int8 rest", "lin x");

	GRand *rand = g_rand_new_with_seed(7);
	for (char **bp = blist; *bp != NULL; bp++) {
		const int B = atoi(*bp);
		if (B < 1 || B > 64)
			continue;
		const int N = B * tokens, C = cfg.n_embd;
		g_autoptr(GptState) s32 = gpt_state_new(m32, B, tokens);
		g_autoptr(GptState) s8 = gpt_state_new(m8, B, tokens);
		g_autofree int32_t *ids = g_new(int32_t, N);
		g_autofree int *lens = g_new(int, B);
		g_autofree float *x = g_new(float, (gsize)N * 4 * C);
		g_autofree float *y = g_new0(float, (gsize)N * 4 * C);
		float logits[2 * 64];

		for (int i = 0; i < N; i++)
			ids[i] = g_rand_int_range(rand, 0, cfg.vocab_size);
		for (gsize i = 0; i < (gsize)N * 4 * C; i++)
			x[i] = (float)g_rand_double_range(rand, -2, 2);
		for (int b = 0; b < B; b++)
			lens[b] = tokens;
		gpt_forward_classify(m32, s32, ids, lens, B, logits);
		gpt_forward_classify(m8, s8, ids, lens, B, logits);
		double w = now();
		gpt_forward_classify(m32, s32, ids, lens, B, logits);
		w = now() - w;
		const int n = ncalls > 0 ? ncalls : MAX(1, (int)(1.0 / w));

		double b32 = 1e30, b8 = 1e30, l32 = 1e30, l8 = 1e30;
		g_autofree double *ratios = g_new(double, reps);
		for (int r = 0; r < reps; r++) {
			double t = now();
			for (int i = 0; i < n; i++)
				gpt_forward_classify(m32, s32, ids, lens, B, logits);
			const double t32 = (now() - t) / n;
			t = now();
			for (int i = 0; i < n; i++)
				gpt_forward_classify(m8, s8, ids, lens, B, logits);
			const double t8 = (now() - t) / n;
			b32 = MIN(b32, t32);
			b8 = MIN(b8, t8);
			ratios[r] = t32 / t8;
			l32 = MIN(l32, linear_time(m32, FALSE, N, B, x, y, n));
			l8 = MIN(l8, linear_time(m8, TRUE, N, B, x, y, n));
		}
		qsort(ratios, reps, sizeof(double), cmp_double);
		printf("%5d %10.1f %10.1f %6.2fx %6.2fx | %7.2fms %7.2fms "
		       "%7.2fms %7.2fms %6.2fx\n", B, B / b32, B / b8, b32 / b8,
		       ratios[reps / 2], 1e3 * l32, 1e3 * l8, 1e3 * (b32 - l32),
		       1e3 * (b8 - l8), l32 / l8);
		fflush(stdout);
	}
	g_rand_free(rand);
	return 0;
}
