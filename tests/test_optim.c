/*
 * test_optim.c - AdamW, schedules and clipping against fixed references
 *
 * The AdamW reference values are torch.optim.AdamW (float64) for three steps
 * of the gradients below, lr 0.01, betas (0.9, 0.999), eps 1e-8, wd 0.1.
 */
#include <math.h>
#include <stdio.h>

#include "optim.h"
#include "check.h"

static void
test_adamw(void)
{
	float p[5] = { 0.5f, -1.0f, 2.0f, 0.0f, 1e-3f };
	static const float g[3][5] = {
		{ 0.1f, -0.2f, 0.3f, 0.0f, 5.0f },
		{ -0.05f, 0.4f, 0.3f, 1e-4f, -5.0f },
		{ 0.2f, 0.2f, -0.1f, 0.0f, 0.01f },
	};
	static const double want[3][5] = {
		{ 0.4895000010, -0.9890000005, 1.9880000003, 0.0, -0.0090010000 },
		{ 0.4863471309, -0.9916720357, 1.9760120007, -0.0074403163,
		  -0.0084656832 },
		{ 0.4792796683, -0.9958727716, 1.9679790095, -0.0131840790,
		  -0.0080594152 },
	};
	g_autoptr(Adam) a = adam_new(5);

	for (int s = 0; s < 3; s++) {
		adamw_step(a, p, g[s], 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f);
		for (int i = 0; i < 5; i++)
			CHECK(fabs(p[i] - want[s][i]) < 2e-6,
			      "adamw step %d p[%d] = %.9f, torch %.9f", s + 1, i,
			      p[i], want[s][i]);
	}
	CHECK(a->t == 3, "t = %lld", (long long)a->t);

	/* First step by hand: m^ = g, v^ = g^2, so the update is
	 * lr * g / (|g| + eps) after the decay p (1 - lr wd). */
	float q = 3.0f, gq = -0.25f;
	g_autoptr(Adam) b = adam_new(1);
	adamw_step(b, &q, &gq, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f);
	double hand = 3.0 * (1.0 - 0.1 * 0.5) + 0.1 * 0.25 / (0.25 + 1e-8);
	CHECK(fabs(q - hand) < 1e-6, "first step %.9f, by hand %.9f", q, hand);
}

static void
test_schedule(void)
{
	OptimSchedule s = { OPTIM_SCHED_COSINE, 1e-3f, 0.0f, 10, 110 };

	CHECK(fabsf(optim_lr_at(&s, 0) - 1e-4f) < 1e-9f, "warmup 0: %g",
	      optim_lr_at(&s, 0));
	CHECK(fabsf(optim_lr_at(&s, 4) - 5e-4f) < 1e-9f, "warmup 4");
	CHECK(fabsf(optim_lr_at(&s, 9) - 1e-3f) < 1e-9f, "warmup end");
	CHECK(fabsf(optim_lr_at(&s, 10) - 1e-3f) < 1e-9f, "cosine start");
	/* Half way through the decay (step 10 + 99/2) the cosine is 1/2. */
	float mid = optim_lr_at(&s, 10 + 99 / 2);
	double want = 0.5e-3 * (1.0 + cos(G_PI * 49.0 / 99.0));
	CHECK(fabs(mid - want) < 1e-8, "cosine mid %g want %g", mid, want);
	CHECK(fabsf(optim_lr_at(&s, 109)) < 1e-9f, "cosine end %g",
	      optim_lr_at(&s, 109));
	CHECK(fabsf(optim_lr_at(&s, 500)) < 1e-9f, "after end");
	for (int64_t t = 11; t < 110; t++)
		CHECK(optim_lr_at(&s, t) <= optim_lr_at(&s, t - 1) + 1e-12f,
		      "cosine not monotone at %lld", (long long)t);
	s.min_lr = 1e-5f;
	CHECK(fabsf(optim_lr_at(&s, 109) - 1e-5f) < 1e-9f, "min_lr");

	OptimSchedule k = { OPTIM_SCHED_CONSTANT, 5e-5f, 0.0f, 0, 100 };
	CHECK(optim_lr_at(&k, 0) == 5e-5f && optim_lr_at(&k, 99) == 5e-5f,
	      "constant");
	k.warmup = 4;
	CHECK(fabsf(optim_lr_at(&k, 1) - 2.5e-5f) < 1e-11f, "constant warmup");
}

static void
test_clip(void)
{
	float g[4] = { 3.0f, 4.0f, 0.0f, 0.0f };	/* norm 5 */
	float n = optim_clip_grad_norm(g, 4, 1.0f);

	CHECK(fabsf(n - 5.0f) < 1e-6f, "norm %g", n);
	CHECK(fabsf(optim_grad_norm(g, 4) - 1.0f) < 1e-5f, "clipped norm %g",
	      optim_grad_norm(g, 4));
	CHECK(fabsf(g[0] / g[1] - 0.75f) < 1e-6f, "direction kept");

	float h[2] = { 0.3f, 0.4f };	/* norm 0.5 < 1: untouched */
	optim_clip_grad_norm(h, 2, 1.0f);
	CHECK(h[0] == 0.3f && h[1] == 0.4f, "small gradient changed");
	float z[2] = { 30.0f, 40.0f };
	optim_clip_grad_norm(z, 2, 0.0f);	/* disabled */
	CHECK(z[0] == 30.0f, "max_norm 0 clipped");
}

int
main(void)
{
	test_adamw();
	test_schedule();
	test_clip();
	return check_summary("test_optim");
}
