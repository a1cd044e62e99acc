/*
 * optim.h - AdamW over one flat float range, learning-rate schedules,
 * global-norm gradient clipping
 *
 * Owns: the optimizer state (first and second moments m, v and the step
 * count), the decoupled weight-decay AdamW update as PyTorch's
 * torch.optim.AdamW computes it, the warm-up + cosine/constant schedule,
 * and clipping of the gradient by its global L2 norm.
 * Not here: gradients (gpt_train.c), which range is trainable (gpt_train.c).
 *	g_autoptr(Adam) a = adam_new(n);
 *	float norm = optim_clip_grad_norm(grads, n, 1.0f);
 *	adamw_step(a, params, grads, optim_lr_at(&sched, step), 0.9f, 0.999f,
 *		   1e-8f, 0.1f);
 * Threads: an Adam belongs to one thread. Errors: none (sizes are asserted).
 */
#ifndef GPTM_OPTIM_H
#define GPTM_OPTIM_H

#include <glib.h>
#include <stdint.h>

typedef struct {
	gsize n;		/* floats in the parameter range */
	int64_t t;		/* updates done so far (bias correction) */
	float *m;		/* (n) first moment */
	float *v;		/* (n) second moment */
} Adam;

/* adam_new - zeroed state for N parameters */
Adam *adam_new(gsize n);
void adam_free(Adam *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Adam, adam_free)

/*
 * adamw_step - one AdamW update of PARAMS (n) from GRADS (n):
 *	p -= lr * wd * p				(decoupled decay)
 *	m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *	p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * with t counted from 1, exactly as torch.optim.AdamW (amsgrad off).
 */
void adamw_step(Adam *a, float *params, const float *grads, float lr,
		float beta1, float beta2, float eps, float weight_decay);

typedef enum {
	OPTIM_SCHED_CONSTANT = 0,	/* lr after warm-up */
	OPTIM_SCHED_COSINE = 1,		/* cosine from lr down to min_lr */
} OptimSchedKind;

typedef struct {
	OptimSchedKind kind;
	float lr;		/* peak learning rate */
	float min_lr;		/* floor of the cosine (0 is the usual) */
	int64_t warmup;		/* steps of linear warm-up from lr/warmup */
	int64_t total;		/* steps in the whole run */
} OptimSchedule;

/* optim_lr_at - the learning rate of the update numbered STEP (0-based):
 * (step + 1) / warmup * lr during warm-up, then constant or a cosine that
 * reaches min_lr at step total - 1 */
float optim_lr_at(const OptimSchedule *s, int64_t step);

/* optim_grad_norm - global L2 norm of GRADS (n), accumulated in double */
float optim_grad_norm(const float *grads, gsize n);
/* optim_clip_grad_norm - scale GRADS so their norm is at most MAX_NORM
 * (as torch.nn.utils.clip_grad_norm_: factor max / (norm + 1e-6), only when
 * below 1); MAX_NORM <= 0 disables; returns the norm before clipping */
float optim_clip_grad_norm(float *grads, gsize n, float max_norm);

#endif
