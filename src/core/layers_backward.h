/*
 * layers_backward.h - backward kernels of the GPT-2 layers (layers.h)
 *
 * Owns: one backward per forward kernel of layers.h, under the forward's
 * name with _backward; the losses' softmax/cross-entropy kernel; and the
 * backward of the attention of the last token only, which training uses
 * in the final block of a last-token classifier (gpt_train.c).
 * Not here: the forward kernels (layers.c), the order of the pass and the
 * arenas (gpt_train.c).
 *
 * Conventions (llm.c): outputs and gradients first, then inputs, then sizes.
 * Letters as in gpt.h: N packed rows (sum of the B sequence lengths),
 * C = n_embd, OC an output width, NH heads, B sequences, V vocabulary.
 * Parameter gradients (dweight, dbias, dwte, ...) ACCUMULATE (+=), so that
 * several steps can add into one gradient arena. Activation gradients are
 * documented per kernel: the residual stream's gradient accumulates (+=),
 * while scratch gradients (dinp of a matmul, dqkv) are OVERWRITTEN (=) so
 * the pass needs no memset of its reused scratch. A NULL gradient pointer
 * means "not wanted" (a frozen tensor, or the input of the first trainable
 * block when the embeddings are frozen) and its work is skipped.
 * Threads: kernels are pure; BLAS may use several threads. Errors: none.
 */
#ifndef GPTM_LAYERS_BACKWARD_H
#define GPTM_LAYERS_BACKWARD_H

#include <glib.h>
#include <stdint.h>

/*
 * encoder_backward - out = wte[ids] + wpe[position within its sequence]
 * dwte: (V, C) += or NULL; dwpe: (n_ctx, C) += or NULL; dout: (N, C)
 * ids: (N); lens: (B)
 */
void encoder_backward(float *dwte, float *dwpe, const float *dout,
		      const int32_t *ids, const int *lens, int B, int C);

/*
 * layernorm_backward - out = (inp - mean) * rstd * weight + bias
 * dinp: (N, C) += or NULL; dweight, dbias: (C) += or NULL
 * dout, inp: (N, C); weight: (C); mean, rstd: (N) from the forward
 */
void layernorm_backward(float *dinp, float *dweight, float *dbias,
			const float *dout, const float *inp,
			const float *weight, const float *mean,
			const float *rstd, int N, int C);

/*
 * matmul_backward - out (N, OC) = inp (N, C) @ weight (C, OC) + bias (OC)
 * (Hugging Face Conv1D layout). dinp: (N, C) OVERWRITTEN or NULL;
 * dweight: (C, OC) += or NULL; dbias: (OC) += or NULL; dout: (N, OC)
 */
void matmul_backward(float *dinp, float *dweight, float *dbias,
		     const float *dout, const float *inp, const float *weight,
		     int N, int C, int OC);

/*
 * gelu_backward - out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 * dinp: (n) OVERWRITTEN (may be dout itself); inp: (n) the pre-activation;
 * out: (n) gelu_forward's output for it
 */
void gelu_backward(float *dinp, const float *inp, const float *out,
		   const float *dout, gsize n);

/*
 * attention_backward - causal multi-head attention within each sequence:
 * out[t, h] = softmax_j<=t(q_t . k_j / sqrt(hs)) v_j, q k v from qkv.
 * dqkv: (N, 3C) OVERWRITTEN; dout: (N, C); qkv: (N, 3C) from the forward
 * scratch: 2 * Tmax * Tmax floats, Tmax the longest of lens.
 * The probabilities are recomputed here (two small sgemms per sequence
 * and head), so the forward keeps nothing but qkv.
 */
void attention_backward(float *dqkv, float *scratch, const float *dout,
			const float *qkv, const int *lens, int B, int C,
			int NH);

/*
 * attention_last_backward - the backward of attention_forward for the LAST
 * query of each sequence alone (all the last block of a classifier that
 * pools the last token reads, gpt_forward's compact rows)
 * dqkv: (N, 3C) OVERWRITTEN (q rows other than the last ones get 0);
 * dout: (B, C) compact rows; qkv: (N, 3C); scratch: 2 * Tmax floats
 */
void attention_last_backward(float *dqkv, float *scratch, const float *dout,
			     const float *qkv, const int *lens, int B, int C,
			     int NH);

/*
 * crossentropy_softmax_backward - softmax cross-entropy of LOGITS (B, NC)
 * against TARGETS (B), row b weighing w_b = weights ? weights[target] : 1;
 * a target < 0 marks a row that is not scored (w_b = 0).
 * dlogits: (B, NC) OVERWRITTEN with SCALE * d(sum_b w_b CE_b) / dlogits,
 * or NULL for the loss alone; it may be LOGITS itself (the probabilities
 * are formed in place). Returns sum_b w_b CE_b, summed in double.
 */
double crossentropy_softmax_backward(float *dlogits, const float *logits,
				     const int *targets, const float *weights,
				     float scale, int B, int NC);

#endif
