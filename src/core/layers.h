/*
 * layers.h - forward kernels of the GPT-2 layers over a ragged batch
 *
 * Owns: one forward per layer (embeddings, LayerNorm, Conv1D matmul,
 * causal multi-head attention, tanh GELU, residual add) plus the pooling of
 * the final hidden states and the classifier head. layers.c is the sole
 * cblas_sgemm caller of the forward pass.
 * Not here: the order of the pass and the scratch arena (gpt.c, gpt_train.c),
 * the backward kernels (layers_backward.c).
 *
 * Conventions (llm.c): outputs first, then inputs, then sizes. Letters as in
 * gpt.h: B sequences packed one after another, N = sum of lens rows,
 * C = n_embd, OC an output width, NH heads (head size hs = C / NH), T the
 * length of one sequence, Tmax the longest of lens.
 * Ragged batch: sequence b owns rows off_b .. off_b + lens[b] - 1 where
 * off_b = lens[0] + .. + lens[b-1]; positions restart at 0 for each one.
 * Nothing here allocates; every output is OVERWRITTEN (=) except the
 * residual stream of matmul_residual_forward (+=).
 * Threads: kernels are pure; BLAS may use several threads. Errors: none
 * (shapes are caller invariants).
 */
#ifndef GPTM_LAYERS_H
#define GPTM_LAYERS_H

#include <glib.h>
#include <stdint.h>

/* layers_simd - whether the kernels run their AVX2+FMA loops (x86-64
 * CPUs that have both), rather than the plain C ones */
gboolean layers_simd(void);
/* layers_bf16 - whether attention_forward_bf16 runs its bf16 kernel for
 * heads of 32 (AVX512-BF16 CPUs, SIMD not turned off) */
gboolean layers_bf16(void);
/* layers_force_generic - the plain C loops from now on, whatever the CPU
 * (a test option: gpt_forward_dump --no-simd checks them against numpy) */
void layers_force_generic(void);

/*
 * encoder_forward - out[r] = wte[ids[r]] + wpe[t], t the position of row r
 * within its sequence.
 * out: (N, C); ids: (N), each in 0 .. V-1; lens: (B), each <= n_ctx;
 * wte: (V, C); wpe: (n_ctx, C). Keeps nothing for backward but ids.
 */
void encoder_forward(float *out, const int32_t *ids, const int *lens, int B,
		     const float *wte, const float *wpe, int C);

/*
 * layernorm_forward - out = (inp - mean) * rstd * weight + bias, per row
 * out: (N, C) (may not alias inp); mean, rstd: (N) stored for the backward,
 * or both NULL at inference; inp: (N, C); weight, bias: (C).
 * Statistics in float over the row, rstd = 1 / sqrt(var + eps), var biased.
 */
void layernorm_forward(float *out, float *mean, float *rstd,
		       const float *inp, const float *weight,
		       const float *bias, int N, int C, float eps);

/*
 * matmul_forward - out (N, OC) = inp (N, C) @ weight (C, OC) + bias (OC)
 * Hugging Face Conv1D layout (in, out), one cblas_sgemm. bias may be NULL.
 * out may not alias inp. The backward needs inp and weight (unchanged).
 */
void matmul_forward(float *out, const float *inp, const float *weight,
		    const float *bias, int N, int C, int OC);

/*
 * matmul_residual_forward - out (N, OC) += inp (N, C) @ weight (C, OC) + bias
 * the c_proj of a block added straight into the residual stream OUT (the
 * same values as matmul_forward into a temporary, then added to OUT).
 */
void matmul_residual_forward(float *out, const float *inp,
			     const float *weight, const float *bias, int N,
			     int C, int OC);

/*
 * attention_forward - causal multi-head self-attention within each sequence
 * out: (N, C), head h in columns h*hs .. h*hs + hs - 1;
 * qkv: (N, 3C) = [q | k | v] per row, as c_attn produces it;
 * scratch: ATTENTION_SCRATCH(Tmax) floats (the scores of one (sequence,
 * head, block of queries) at a time, rows padded to 8 floats; training
 * takes the larger of it and the backward's 2 * Tmax * Tmax).
 * out[t, h] = sum_{j<=t} softmax_j(q_t . k_j / sqrt(hs)) v_j.
 * Two sgemms per (sequence, head, block of 64 queries); a block skips the
 * keys after its last query. Heads of 32 on a CPU with AVX-512F: a kernel
 * of its own (no sgemm; the keys transposed in the scratch, tiles of 8
 * queries). out may not alias qkv. Keeps nothing: the backward recomputes
 * the probabilities from qkv.
 */
#define ATTENTION_SCRATCH(Tmax) \
	((gsize)(Tmax) * (((gsize)(Tmax) + 7) & ~(gsize)7) + \
	 48 * (((gsize)(Tmax) + 15) & ~(gsize)15) + 192)
void attention_forward(float *out, float *scratch, const float *qkv,
		       const int *lens, int B, int C, int NH);
/*
 * attention_forward_bf16 - attention_forward with Q, K, V and the
 * probabilities rounded to bf16 for the two products (the softmax and
 * every sum in f32), for heads of 32 on CPUs with AVX512-BF16 (twice the
 * multiply-adds of f32 an instruction); attention_forward elsewhere. The
 * int8 pass's attention: within 1e-2 of attention_forward relative to the
 * largest output (tests/test_int8.py), where the int8 products already
 * differ by that much.
 */
void attention_forward_bf16(float *out, float *scratch, const float *qkv,
			    const int *lens, int B, int C, int NH);

/*
 * gelu_forward - out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 * (GPT-2's "gelu_new"). out, inp: (n); out may be inp (in place).
 * The backward needs inp, the pre-activation.
 */
void gelu_forward(float *out, const float *inp, gsize n);

/*
 * pool_forward - one row per sequence out of x (N, C):
 * last: out[b] = x[off_b + lens[b] - 1]; mean: out[b] = mean of its rows.
 * out: (B, C); MEAN selects the mean (GPT_POOL_MEAN). For the last token
 * out may be x itself (the last row of sequence b moves to row b).
 */
void pool_forward(float *out, const float *x, const int *lens, int B, int C,
		  gboolean mean);

/*
 * head_forward - logits (B, NL) = x (B, C) @ score_w^T + score_b
 * score_w: (NL, C) (PyTorch nn.Linear layout); score_b: (NL) or NULL.
 */
void head_forward(float *logits, const float *x, const float *score_w,
		  const float *score_b, int B, int C, int NL);

#endif
