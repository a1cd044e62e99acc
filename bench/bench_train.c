/*
 * bench_train.c - training throughput of the C trainer at a given GPT-2
 * shape: examples per second of forward + backward + clip + AdamW, and the
 * GFLOP/s this achieves beside OpenBLAS sgemm's on the main matrix shape
 *
 * Random weights and random token ids (speed does not depend on the values),
 * last-token classification with 2 labels. Two batch sources:
 *	- fixed: B sequences of T tokens each (--batch, --tokens);
 *	- --corpus-lengths FILE: one token count per line (real messages,
 *	  already cut to max_tokens); step i takes the next B counts in file
 *	  order, as a ragged batch: no token of padding is computed.
 *	bench_train [--layers 12 --heads 12 --embd 768 --ctx 1024]
 *		[--batch 8 --tokens 120] [--corpus-lengths FILE]
 *		[--max-tokens 256] [--trainable-blocks 1|all]
 *		[--steps 5] [--threads N]
 * The first step (batch 0) is untimed warm-up; steps 1..STEPS are timed.
 *
 * FLOPs counted (multiply-add = 2), on the real tokens only, for one step:
 *	F_blk = 24 N C^2 + 2 C sum_b t_b (t_b + 1)
 * where N = sum_b t_b: the four matmuls of a block (qkv 3C^2, proj C^2,
 * fc 4C^2, fc-proj 4C^2, i.e. 12 C^2 weights, 2 FLOPs each per token) plus
 * causal attention (q.k and att.v over t(t+1)/2 pairs per sequence, C each
 * across heads). Frozen blocks run forward: F_blk; trainable blocks forward
 * and backward: 3 F_blk (backward = grad of inputs + grad of weights, 2x the
 * forward). LayerNorms, GELU, the head (B x C x 2) and the optimizer are left
 * out (< 1%). So FLOPs/step = (L - k) F_blk + 3 k F_blk, k trainable blocks.
 * bench_train_torch.py counts the same real-token FLOPs (its padding is not
 * useful work), so both GFLOP/s figures are comparable.
 * sgemm: (M, C) x (C, 4C) row-major, M = tokens per step (B T, or the mean
 * over the timed corpus batches), same threads, best of 10.
 * Compare with bench_train_torch.py (bench_train.sh runs both).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "gpt.h"
#include "gpt_train.h"
#include "optim.h"

static double
now(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

/* sgemm_gflops - OpenBLAS sgemm (M, K) x (K, N), best of 10 runs */
static double
sgemm_gflops(int M, int K, int N)
{
	float *a = g_new(float, (gsize)M * K), *b = g_new(float, (gsize)K * N);
	float *c = g_new0(float, (gsize)M * N);
	double best = 1e30;

	for (gsize i = 0; i < (gsize)M * K; i++)
		a[i] = (float)(i % 7) * 0.01f;
	for (gsize i = 0; i < (gsize)K * N; i++)
		b[i] = (float)(i % 5) * 0.01f;
	for (int r = 0; r < 11; r++) {
		double t0 = now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K,
			    1.0f, a, K, b, N, 0.0f, c, N);
		double dt = now() - t0;
		if (r > 0 && dt < best)	/* run 0 warms up */
			best = dt;
	}
	g_free(a);
	g_free(b);
	g_free(c);
	return 2.0 * M * K * N / best / 1e9;
}

/* read_lengths - one count per line, each cut to [1, max] */
static int *
read_lengths(const char *path, int max, int *n)
{
	FILE *f = fopen(path, "r");
	GArray *a = g_array_new(FALSE, FALSE, sizeof(int));
	int x;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fscanf(f, "%d", &x) == 1) {
		x = CLAMP(x, 1, max);
		g_array_append_val(a, x);
	}
	fclose(f);
	*n = (int)a->len;
	return (int *)g_array_free(a, FALSE);
}

int
main(int argc, char **argv)
{
	int L = 12, NH = 12, C = 768, ctx = 1024, B = 8, T = 120, k = 1;
	int steps = 5, threads = 0, maxtok = 256;
	const char *lenfile = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		int x = strcmp(v, "all") == 0 ? -1 : atoi(v);
		if (!strcmp(a, "--layers")) L = x;
		else if (!strcmp(a, "--heads")) NH = x;
		else if (!strcmp(a, "--embd")) C = x;
		else if (!strcmp(a, "--ctx")) ctx = x;
		else if (!strcmp(a, "--batch")) B = x;
		else if (!strcmp(a, "--tokens")) T = x;
		else if (!strcmp(a, "--max-tokens")) maxtok = x;
		else if (!strcmp(a, "--corpus-lengths")) lenfile = v;
		else if (!strcmp(a, "--trainable-blocks")) k = x;
		else if (!strcmp(a, "--steps")) steps = x;
		else if (!strcmp(a, "--threads")) threads = x;
		else {
			fprintf(stderr, "bench_train: unknown option %s\n", a);
			return 2;
		}
	}
	if (threads <= 0)
		threads = (int)g_get_num_processors();
	gpt_set_threads(threads);

	/* lens_all: (steps + 1, B) sequence lengths, batch 0 is warm-up */
	int nb = steps + 1, *lens_all = g_new(int, (gsize)nb * B);
	if (lenfile != NULL) {
		int n, *file = read_lengths(lenfile, maxtok, &n);
		if (n < nb * B) {
			fprintf(stderr, "bench_train: %s: %d lengths, need %d\n",
				lenfile, n, nb * B);
			return 1;
		}
		memcpy(lens_all, file, sizeof(int) * (gsize)nb * B);
		g_free(file);
		T = maxtok;
	} else {
		for (int i = 0; i < nb * B; i++)
			lens_all[i] = T;
	}

	GptConfig cfg = { L, NH, C, ctx, 50257, 1e-5f, 0, GPT_POOL_LAST };
	g_autoptr(GptModel) m = gpt_model_new_random(&cfg, 1);
	gpt_model_set_head(m, 2, FALSE, 2);
	GptTrainOptions to = { k, B, T };
	g_autoptr(GError) err = NULL;
	g_autoptr(GptTrain) tr = gpt_train_new(m, &to, &err);
	if (tr == NULL) {
		fprintf(stderr, "bench_train: %s\n", err->message);
		return 1;
	}
	gsize np = gpt_train_n_params(tr);
	g_autoptr(Adam) adam = adam_new(np);
	/* ids: (B * T) packed, enough for any batch; a batch uses its prefix */
	int32_t *ids = g_new(int32_t, (gsize)B * T);
	int *labels = g_new(int, B);
	guint32 s = 12345;
	for (int i = 0; i < B * T; i++) {
		s = s * 1664525u + 1013904223u;
		ids[i] = (int32_t)((s >> 8) % 50257);
	}
	for (int b = 0; b < B; b++)
		labels[b] = b & 1;

	/* FLOPs of the timed steps (see the header) */
	int kk = k < 0 ? L : MIN(k, L);
	double flops = 0, ntok = 0;
	for (int i = 1; i < nb; i++) {
		double n = 0, att = 0;
		for (int b = 0; b < B; b++) {
			double t = lens_all[i * B + b];
			n += t;
			att += t * (t + 1);
		}
		double fblk = 24.0 * n * C * C + 2.0 * C * att;
		flops += (L - kk) * fblk + 3.0 * kk * fblk;
		ntok += n;
	}

	double t0 = 0;
	float loss = 0;
	for (int i = 0; i < nb; i++) {
		if (i == 1)	/* the first step warms caches and BLAS */
			t0 = now();
		gpt_train_zero_grad(tr);
		loss = gpt_train_classify_step(tr, ids, lens_all + i * B, B,
					       labels, NULL, 1.0f, NULL);
		optim_clip_grad_norm(gpt_train_grads(tr), np, 1.0f);
		adamw_step(adam, gpt_train_params(tr), gpt_train_grads(tr), 5e-5f,
			   0.9f, 0.999f, 1e-8f, 0.1f);
	}
	double dt = (now() - t0) / steps;
	int M = (int)(ntok / steps + 0.5);
	double sg = sgemm_gflops(M, C, 4 * C);
	if (lenfile != NULL)
		printf("C     L%d C%d B%d corpus-lengths (ragged, %.0f real "
		       "tokens/step, no padding)", L, C, B, ntok / steps);
	else
		printf("C     L%d C%d B%dxT%d", L, C, B, T);
	printf(" trainable=%s params=%zu threads=%d: %.3f s/step %.2f ex/s "
	       "%.1f GFLOP/s (sgemm (%d,%d)x(%d,%d): %.1f GFLOP/s, %.0f%%) "
	       "(loss %.3f)\n", k < 0 ? "all" : (k == 1 ? "1" : "k"), np,
	       threads, dt, B / dt, flops / steps / dt / 1e9, M, C, C, 4 * C,
	       sg, 100.0 * flops / steps / dt / 1e9 / sg, loss);
	g_free(ids);
	g_free(lens_all);
	g_free(labels);
	return 0;
}
