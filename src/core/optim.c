/*
 * optim.c - AdamW, learning-rate schedules and gradient clipping
 *
 * Owns: the optimizer state and its flat update loop. The trainable weights
 * are one contiguous range of the model's block (gpt.h), so one loop over
 * n floats updates every tensor; m and v are the same shape.
 * Not here: gradients (gpt_train.c), the training loop (src/train/).
 * Checked by: tests/test_optim.c against values computed by hand in double.
 * Threads: one Adam per thread. Errors: none.
 */
#include <math.h>
#include <string.h>

#include "optim.h"

/* adam_new - zeroed moments for N parameters */
Adam *
adam_new(gsize n)
{
	Adam *a = g_new0(Adam, 1);

	a->n = n;
	a->m = g_new0(float, n ? n : 1);
	a->v = g_new0(float, n ? n : 1);
	return a;
}

/* adam_free - release A; NULL is a no-op */
void
adam_free(Adam *a)
{
	if (a == NULL)
		return;
	g_free(a->m);
	g_free(a->v);
	g_free(a);
}

/* adamw_step - one decoupled-weight-decay Adam update (torch.optim.AdamW) */
void
adamw_step(Adam *a, float *params, const float *grads, float lr, float beta1,
	   float beta2, float eps, float weight_decay)
{
	a->t++;
	/* Bias corrections in double: b^t underflows gently and 1 - b^t is
	 * the quantity that matters for the first few hundred steps. */
	double bc1 = 1.0 - pow((double)beta1, (double)a->t);
	double bc2 = 1.0 - pow((double)beta2, (double)a->t);
	float step_size = (float)(lr / bc1);
	float bc2_sqrt = (float)sqrt(bc2);
	float decay = 1.0f - lr * weight_decay;

	for (gsize i = 0; i < a->n; i++) {
		float g = grads[i];
		float m = beta1 * a->m[i] + (1.0f - beta1) * g;
		float v = beta2 * a->v[i] + (1.0f - beta2) * g * g;

		a->m[i] = m;
		a->v[i] = v;
		/* Decay first, on the old weight, as PyTorch does. */
		float p = params[i] * decay;
		float denom = sqrtf(v) / bc2_sqrt + eps;
		params[i] = p - step_size * m / denom;
	}
}

/* optim_lr_at - warm-up then constant or cosine decay */
float
optim_lr_at(const OptimSchedule *s, int64_t step)
{
	if (step < 0)
		step = 0;
	if (s->warmup > 0 && step < s->warmup)
		return s->lr * (float)(step + 1) / (float)s->warmup;
	if (s->kind == OPTIM_SCHED_CONSTANT)
		return s->lr;
	int64_t span = s->total - s->warmup - 1;
	if (span <= 0)
		return s->lr;
	double progress = (double)(step - s->warmup) / (double)span;
	if (progress > 1.0)
		progress = 1.0;
	double coeff = 0.5 * (1.0 + cos(G_PI * progress));
	return (float)(s->min_lr + coeff * (s->lr - s->min_lr));
}

/* optim_grad_norm - L2 norm of all gradients together */
float
optim_grad_norm(const float *grads, gsize n)
{
	double sum = 0.0;

	for (gsize i = 0; i < n; i++)
		sum += (double)grads[i] * (double)grads[i];
	return (float)sqrt(sum);
}

/* optim_clip_grad_norm - rescale gradients above MAX_NORM */
float
optim_clip_grad_norm(float *grads, gsize n, float max_norm)
{
	float norm = optim_grad_norm(grads, n);

	if (max_norm > 0.0f) {
		float coef = max_norm / (norm + 1e-6f);
		if (coef < 1.0f)
			for (gsize i = 0; i < n; i++)
				grads[i] *= coef;
	}
	return norm;
}
