/*
 * bench_forward.c - speed of the GPT-2 forward pass against its own sgemms
 *
 * Owns: the forward benchmark (run by bench/bench_forward.sh, which adds
 * PyTorch beside it). A random GPT-2 124M classifier (L=12, C=768, NH=12,
 * V=50257, n_ctx=1024, 2 labels, last-token pooling), messages of TOKENS
 * tokens, BATCH messages per gpt_forward_classify() call, on THREADS BLAS
 * threads. Printed per batch size:
 *	messages/s and ms per call (best of REPS runs of CALLS calls);
 *	the forward's GFLOP/s: the floating-point work of every sgemm it makes
 *	(the masked half of the attention scores included) over its time;
 *	sgemm GFLOP/s: the same list of sgemm calls, recorded from one forward
 *	(cblas_sgemm is wrapped at link time, -Wl,--wrap=cblas_sgemm) and
 *	replayed alone with the same shapes, operands and leading dimensions;
 *	ratio = forward GFLOP/s / sgemm GFLOP/s: 1 would mean that everything
 *	but the sgemms (LayerNorm, GELU, softmax, copies) took no time.
 *
 *	bench_forward [--tokens 256] [--threads 2] [--batch 1,8] [--reps 5]
 *		      [--calls N]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>

#include "gpt.h"

/* ---- the sgemm recorder (linked with -Wl,--wrap=cblas_sgemm) ---- */

typedef struct {
	enum CBLAS_ORDER order;
	enum CBLAS_TRANSPOSE ta, tb;
	blasint M, N, K, lda, ldb, ldc;
	float alpha, beta;
	const float *A, *B;
	float *C;
} SgemmCall;

void __real_cblas_sgemm(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
			const enum CBLAS_TRANSPOSE, const blasint,
			const blasint, const blasint, const float,
			const float *, const blasint, const float *,
			const blasint, const float, float *, const blasint);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
			const enum CBLAS_TRANSPOSE, const blasint,
			const blasint, const blasint, const float,
			const float *, const blasint, const float *,
			const blasint, const float, float *, const blasint);

static gboolean recording;
static GArray *calls;		/* SgemmCall */

void
__wrap_cblas_sgemm(const enum CBLAS_ORDER order,
		   const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
		   const blasint M, const blasint N, const blasint K,
		   const float alpha, const float *A, const blasint lda,
		   const float *B, const blasint ldb, const float beta,
		   float *C, const blasint ldc)
{
	if (recording) {
		SgemmCall c = { order, ta, tb, M, N, K, lda, ldb, ldc, alpha,
			beta, A, B, C };
		g_array_append_val(calls, c);
	}
	__real_cblas_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb,
			   beta, C, ldc);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double
calls_flops(void)
{
	double f = 0;

	for (guint i = 0; i < calls->len; i++) {
		const SgemmCall *c = &g_array_index(calls, SgemmCall, i);
		f += 2.0 * c->M * c->N * c->K;
	}
	return f;
}

static void
replay(void)
{
	for (guint i = 0; i < calls->len; i++) {
		const SgemmCall *c = &g_array_index(calls, SgemmCall, i);
		__real_cblas_sgemm(c->order, c->ta, c->tb, c->M, c->N, c->K,
				   c->alpha, c->A, c->lda, c->B, c->ldb,
				   c->beta, c->C, c->ldc);
	}
}

int
main(int argc, char **argv)
{
	int tokens = 256, threads = 2, reps = 5, ncalls = 0;
	char *batches = NULL;
	GOptionEntry entries[] = {
		{ "tokens", 0, 0, G_OPTION_ARG_INT, &tokens, "tokens per message", "T" },
		{ "threads", 0, 0, G_OPTION_ARG_INT, &threads, "BLAS threads", "N" },
		{ "batch", 0, 0, G_OPTION_ARG_STRING, &batches,
		  "messages per call, comma-separated (1,8)", "LIST" },
		{ "reps", 0, 0, G_OPTION_ARG_INT, &reps, "repetitions (best is kept)", "N" },
		{ "calls", 0, 0, G_OPTION_ARG_INT, &ncalls,
		  "calls per repetition (default: about 2 s of work)", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- forward benchmark");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	g_auto(GStrv) blist = g_strsplit(batches ? batches : "1,8", ",", -1);
	g_free(batches);

	GptConfig cfg = { .n_layer = 12, .n_head = 12, .n_embd = 768,
		.n_ctx = 1024, .vocab_size = 50257, .ln_eps = 1e-5f,
		.num_labels = 2, .pooling = GPT_POOL_LAST };
	if (tokens < 1 || tokens > cfg.n_ctx || reps < 1) {
		fprintf(stderr, "bad --tokens or --reps\n");
		return 2;
	}
	double t0 = now();
	g_autoptr(GptModel) m = gpt_model_new_random(&cfg, 1);
	printf("model: GPT-2 124M shape, random weights (%.1f s to make), "
	       "%d tokens per message, %d BLAS threads\n", now() - t0, tokens,
	       threads);
	gpt_set_threads(threads);
	calls = g_array_new(FALSE, FALSE, sizeof(SgemmCall));
	GRand *rand = g_rand_new_with_seed(7);

	printf("%5s %10s %10s %12s %12s %7s %7s\n", "batch", "msgs/s",
	       "ms/call", "fwd GFLOP/s", "sgemm GF/s", "ratio", "sgemms");
	for (char **bp = blist; *bp != NULL; bp++) {
		int B = atoi(*bp);
		if (B < 1)
			continue;
		g_autoptr(GptState) s = gpt_state_new(m, B, tokens);
		g_autofree int32_t *ids = g_new(int32_t, (gsize)B * tokens);
		g_autofree int *lens = g_new(int, B);
		float logits[2 * 64];
		for (int i = 0; i < B * tokens; i++)
			ids[i] = g_rand_int_range(rand, 0, cfg.vocab_size);
		for (int b = 0; b < B; b++)
			lens[b] = tokens;
		g_assert(B <= 64);

		/* warm up, then record the sgemms of one call */
		gpt_forward_classify(m, s, ids, lens, B, logits);
		g_array_set_size(calls, 0);
		recording = TRUE;
		double w = now();
		gpt_forward_classify(m, s, ids, lens, B, logits);
		w = now() - w;
		recording = FALSE;
		int n = ncalls > 0 ? ncalls : MAX(1, (int)(2.0 / w));

		double best = 1e30, best_sg = 1e30;
		for (int r = 0; r < reps; r++) {
			double t = now();
			for (int i = 0; i < n; i++)
				gpt_forward_classify(m, s, ids, lens, B, logits);
			best = MIN(best, (now() - t) / n);
			t = now();
			for (int i = 0; i < n; i++)
				replay();
			best_sg = MIN(best_sg, (now() - t) / n);
		}
		double flops = calls_flops();
		printf("%5d %10.2f %10.1f %12.1f %12.1f %6.1f%% %7u\n", B,
		       B / best, 1e3 * best, flops / best / 1e9,
		       flops / best_sg / 1e9, 100.0 * best_sg / best,
		       calls->len);
		fflush(stdout);
	}
	g_rand_free(rand);
	g_array_free(calls, TRUE);
	return 0;
}
