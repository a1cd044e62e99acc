/*
 * gpt_train.h - training-time forward and backward passes of a GptModel
 *
 * Owns: the activation arena kept for the backward pass, the gradient arena,
 * classification (cross-entropy on the head) and language-model
 * (next-token, weight-tied wte) losses, and the backward pass. Only the
 * trainable tail of the model (the last k blocks, ln_f and the head; or
 * everything) has gradients; frozen leading blocks run forward-only and keep
 * no activations.
 * Not here: the optimizer (optim.c), data (corpus.c), schedules (train/).
 *
 *	g_autoptr(GptTrain) tr = gpt_train_new(model, &opts, &error);
 *	gpt_train_zero_grad(tr);
 *	float loss = gpt_train_classify_step(tr, ids, lens, B, labels, NULL, 1.0f, NULL);
 *	adamw_step(&adam, gpt_train_params(tr), gpt_train_grads(tr), ...);
 *
 * Batches are ragged as in gpt.h. Gradients accumulate (+=) across steps
 * until gpt_train_zero_grad(). The model must own its block (GPT_LOAD_OWNED
 * or gpt_model_new_random); training writes into it through the optimizer.
 * Threads: one GptTrain per model, used by one thread (BLAS may use several).
 */
#ifndef GPTM_GPT_TRAIN_H
#define GPTM_GPT_TRAIN_H

#include "gpt.h"

typedef struct {
	int trainable_blocks;	/* last k blocks (+ ln_f + head) train;
				 * -1: all blocks and the embeddings too */
	int max_batch;		/* most sequences per step */
	int max_tokens;		/* most tokens per sequence (<= n_ctx) */
} GptTrainOptions;

typedef struct GptTrain GptTrain;

GptTrain *gpt_train_new(GptModel *m, const GptTrainOptions *opt,
			GError **error);
void gpt_train_free(GptTrain *tr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GptTrain, gpt_train_free)

void gpt_train_zero_grad(GptTrain *tr);

/*
 * gpt_train_classify_step - forward + backward of the classifier
 * labels: (B) class ids; class_weights: (NL) or NULL for 1
 * Loss = sum_b w[y_b] * CE(logits_b, y_b) / B; gradients of LOSS_SCALE * loss
 * are added. logits_out: (B, NL) or NULL. Returns the (unscaled) loss.
 */
float gpt_train_classify_step(GptTrain *tr, const int32_t *ids,
			      const int *lens, int B, const int *labels,
			      const float *class_weights, float loss_scale,
			      float *logits_out);
/* gpt_train_classify_eval - the same loss and logits, no backward */
float gpt_train_classify_eval(GptTrain *tr, const int32_t *ids,
			      const int *lens, int B, const int *labels,
			      float *logits_out);

/*
 * gpt_train_lm_step - next-token language modelling with the tied wte head:
 * mean over all predicted positions (lens[b] - 1 per sequence) of the CE.
 * Gradients of LOSS_SCALE * loss are added. Returns the loss.
 */
float gpt_train_lm_step(GptTrain *tr, const int32_t *ids, const int *lens,
			int B, float loss_scale);
float gpt_train_lm_eval(GptTrain *tr, const int32_t *ids, const int *lens,
			int B);

/*
 * gpt_train_lm_sampling - the gpt_train_lm_step()s that follow compute a
 * sampled softmax: the head scores only the step's target tokens and K
 * others drawn uniformly from the rest of the vocabulary (seeded by SEED:
 * set a new seed per step), those K each weighted (V - targets) / K, so
 * that the candidates' sum of exp estimates the full softmax's; only their
 * rows of wte get a gradient from the head. At GPT-2's vocabulary and a
 * width of 128 the head is most of pretraining's arithmetic, and a few
 * thousand candidates instead of 50,257 make a step several times
 * cheaper. K = 0 (the default): the full softmax. When K covers the rest
 * of the vocabulary the step is the full softmax exactly.
 * gpt_train_lm_eval() always scores the full softmax.
 */
void gpt_train_lm_sampling(GptTrain *tr, int k, guint64 seed);

/* The trainable parameters as one flat range of the model's block, and
 * their gradients, both of gpt_train_n_params() floats. */
gsize gpt_train_n_params(const GptTrain *tr);
float *gpt_train_params(GptTrain *tr);
float *gpt_train_grads(GptTrain *tr);

#endif
