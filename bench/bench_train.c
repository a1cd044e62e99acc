/*
 * bench_train.c - training throughput of the C trainer at a given GPT-2
 * shape: examples per second of forward + backward + clip + AdamW
 *
 * Random weights and random token ids (speed does not depend on the values),
 * B sequences of T tokens each, last-token classification with 2 labels.
 *	bench_train [--layers 12 --heads 12 --embd 768 --ctx 1024]
 *		[--batch 8 --tokens 120] [--trainable-blocks 1|all]
 *		[--steps 5] [--threads N]
 * Prints one line: shape, trainable parameters, seconds per step, ex/s.
 * Compare with bench_train_torch.py (bench_train.sh runs both).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "gpt_train.h"
#include "optim.h"

int
main(int argc, char **argv)
{
	int L = 12, NH = 12, C = 768, ctx = 1024, B = 8, T = 120, k = 1;
	int steps = 5, threads = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		int x = strcmp(v, "all") == 0 ? -1 : atoi(v);
		if (!strcmp(a, "--layers")) L = x;
		else if (!strcmp(a, "--heads")) NH = x;
		else if (!strcmp(a, "--embd")) C = x;
		else if (!strcmp(a, "--ctx")) ctx = x;
		else if (!strcmp(a, "--batch")) B = x;
		else if (!strcmp(a, "--tokens")) T = x;
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
	int32_t *ids = g_new(int32_t, (gsize)B * T);
	int *lens = g_new(int, B), *labels = g_new(int, B);
	guint32 s = 12345;
	for (int i = 0; i < B * T; i++) {
		s = s * 1664525u + 1013904223u;
		ids[i] = (int32_t)((s >> 8) % 50257);
	}
	for (int b = 0; b < B; b++) {
		lens[b] = T;
		labels[b] = b & 1;
	}
	double t0 = 0;
	float loss = 0;
	for (int i = 0; i <= steps; i++) {
		if (i == 1)	/* the first step warms caches and BLAS */
			t0 = (double)g_get_monotonic_time() / 1e6;
		gpt_train_zero_grad(tr);
		loss = gpt_train_classify_step(tr, ids, lens, B, labels, NULL,
					       1.0f, NULL);
		optim_clip_grad_norm(gpt_train_grads(tr), np, 1.0f);
		adamw_step(adam, gpt_train_params(tr), gpt_train_grads(tr), 5e-5f,
			   0.9f, 0.999f, 1e-8f, 0.1f);
	}
	double dt = ((double)g_get_monotonic_time() / 1e6 - t0) / steps;
	printf("C     L%d C%d B%dxT%d trainable=%s params=%zu threads=%d: "
	       "%.3f s/step %.2f ex/s (loss %.3f)\n", L, C, B, T,
	       k < 0 ? "all" : (k == 1 ? "1" : "k"), np, threads, dt, B / dt,
	       loss);
	g_free(ids);
	g_free(lens);
	g_free(labels);
	return 0;
}
