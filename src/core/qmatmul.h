/*
 * qmatmul.h - int8 weights and the int8 matrix product of the linear layers
 *
 * Owns: a linear layer's weight quantized to int8 with one f32 scale per
 * output channel (QMatrix: w[k, o] ~= q[k, o] * scale[o], |q| <= 127), its
 * packing for the dot-product instructions, and the product
 *	out (N, OC) (=|+=) inp (N, K) @ W (K, OC) + bias (OC)
 * with each row of INP quantized to int8 on the fly (one scale per row,
 * max |x| / 127). The sums are exact 32-bit integers on every path, so the
 * portable C loop and the SIMD ones (AVX2 maddubs, AVX-VNNI, AVX512-VNNI,
 * chosen at run time) give the same integers; only the f32 epilogue may
 * round differently (fma).
 * Not here: where the weights come from (bundle.c reads I8 + scale
 * tensors, gpt.c owns the QMatrix of each layer), f32 products (layers.c).
 *
 *	QMatrix *q = qmatrix_quantize(w, K, OC);	// or qmatrix_new(i8, scale)
 *	qmatmul_forward(out, inp, q, bias, N, FALSE);
 *
 * Threads: a QMatrix is read-only once made and shared, a QActs is its
 * caller's; qmatmul_forward keeps its quantized activations in a
 * per-thread buffer and splits the
 * product by rows over qmatmul_set_threads() threads (a team of its own
 * that sleeps between products). Errors: none (shapes are caller
 * invariants).
 */
#ifndef GPTM_QMATMUL_H
#define GPTM_QMATMUL_H

#include <glib.h>
#include <stdint.h>

typedef struct QMatrix QMatrix;

/* The kernels, in order of preference; qmatmul_path() says which runs. */
typedef enum {
	QPATH_GENERIC = 0,	/* portable C */
	QPATH_AVX2,		/* maddubs + madd, |a| and sign(w, a) */
	QPATH_AVXVNNI,		/* vpdpbusd on 256 bits (VEX) */
	QPATH_AVX512VNNI,	/* vpdpbusd on 512 bits */
	QPATH_N
} QPath;

/* qmatrix_quantize - W (K, OC) f32, Hugging Face Conv1D layout (in, out),
 * to int8 with per-output-channel scales (round to nearest, ties even) */
QMatrix *qmatrix_quantize(const float *w, int K, int OC);
/* qmatrix_new - a QMatrix of stored int8 Q (K, OC) and SCALE (OC), as a
 * bundle holds them; Q may hold -128 (the product stays exact) */
QMatrix *qmatrix_new(const int8_t *q, const float *scale, int K, int OC);
void qmatrix_free(QMatrix *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QMatrix, qmatrix_free)
int qmatrix_k(const QMatrix *m);
int qmatrix_oc(const QMatrix *m);
/* qmatrix_export - the int8 values Q (K, OC) and SCALE (OC) back in the
 * bundle's layout (either may be NULL) */
void qmatrix_export(const QMatrix *m, int8_t *q, float *scale);
/* qmatrix_dequantize - W (K, OC) = q * scale, f32 */
void qmatrix_dequantize(const QMatrix *m, float *w);
/* qmatrix_quantize_values - per-output-channel int8 of W (K, OC) into Q
 * (K, OC) and SCALE (OC), without packing (the bundle writer) */
void qmatrix_quantize_values(const float *w, int K, int OC, int8_t *q,
			     float *scale);

/*
 * qmatmul_forward - out (N, OC) = inp (N, K) @ M + bias, or += with
 * ACCUMULATE (a residual stream); bias (OC) may be NULL; out may not alias
 * inp. Each row of inp is quantized to int8 with scale max|x| / 127.
 */
void qmatmul_forward(float *out, const float *inp, const QMatrix *m,
		     const float *bias, int N, gboolean accumulate);

/*
 * QActs - activation rows quantized once for int8 products of K inputs,
 * each row as qmatmul_forward quantizes it (its own scale, max|x| / 127),
 * in the byte form of the kernel running when they were made: a pass
 * that feeds one set of rows to several products, or makes them in a
 * fused loop (LayerNorm, c_fc's GELU), quantizes once and writes no f32
 * rows in between. Made for a capacity of ROWS rows, reused.
 */
typedef struct QActs QActs;

QActs *qacts_new(int rows, int K);
void qacts_free(QActs *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QActs, qacts_free)
/* qacts_quantize - rows R0 .. R0 + N - 1 of A from INP (N, K) */
void qacts_quantize(QActs *a, const float *inp, int r0, int N);
/* qacts_layernorm - A's rows 0 .. N - 1 quantized from layernorm_forward
 * of X (N, K) with W, B (K), the same bytes as layernorm_forward then
 * qacts_quantize: on the AVX512-VNNI path, for K a multiple of 16 up to
 * 256, one pass over each row in registers; otherwise layernorm_forward
 * QACTS_STAGE_ROWS rows at a time into STAGE (QACTS_STAGE_ROWS x K
 * floats), then qacts_quantize */
#define QACTS_STAGE_ROWS 32
void qacts_layernorm(QActs *a, float *stage, const float *x, const float *w,
		     const float *b, int N, float eps);
/* qmatmul_forward_q - qmatmul_forward of A's rows 0 .. N - 1, quantized
 * beforehand (under the kernel still running) */
void qmatmul_forward_q(float *out, const QActs *a, const QMatrix *m,
		       const float *bias, int N, gboolean accumulate);
/* qmatmul_gelu_forward_q - DST's rows 0 .. N - 1 (K = M's OC) quantized
 * from gelu(A's rows @ M + bias): c_fc, its GELU (gelu_forward) and the
 * quantizing of mlp.c_proj's input in one pass over a few rows at a time,
 * with no (N, OC) f32 buffer; the same values as qmatmul_forward_q,
 * gelu_forward and qacts_quantize one after the other */
void qmatmul_gelu_forward_q(QActs *dst, const QActs *a, const QMatrix *m,
			    const float *bias, int N);

/* qmatmul_path - the kernel qmatmul_forward runs on this CPU */
QPath qmatmul_path(void);
/* qmatmul_path_name - "generic", "avx2", "avx-vnni", "avx512-vnni" */
const char *qmatmul_path_name(QPath p);
/* qmatmul_path_by_name - *P of a qmatmul_path_name(), or FALSE */
gboolean qmatmul_path_by_name(const char *name, QPath *p);
/* qmatmul_path_supported - whether this CPU (and build) can run P */
gboolean qmatmul_path_supported(QPath p);
/* qmatmul_force_path - run P from now on (a test option: the tests compare
 * every supported path with the generic one); P must be supported */
void qmatmul_force_path(QPath p);
/* qmatmul_set_threads - threads of one product (gpt_set_threads calls it) */
void qmatmul_set_threads(int n);

#endif
