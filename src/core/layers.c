/*
 * layers.c - forward kernels of the GPT-2 layers over a ragged batch
 *
 * Owns: the kernels declared in layers.h, and with them every cblas_sgemm
 * of the f32 forward pass. See layers.h for the conventions (outputs first,
 * shapes, ragged packing).
 * Not here: the pass itself (gpt.c), the backward kernels
 * (layers_backward.c).
 *
 * The matrix products are OpenBLAS's; what is left is memory-bound or
 * transcendental work (LayerNorm, GELU, the softmax), which runs on one
 * thread while the sgemms use all of BLAS's. On x86-64 those loops have an
 * AVX2 build written with GCC vector extensions (8 floats), picked at run
 * time, beside plain C for other CPUs: at -O2 without -ffast-math GCC
 * vectorizes neither reductions nor expf/tanhf calls. A 256-token GPT-2
 * pass has 9.4 M GELUs: 690 ms with glibc's tanhf on the 2-core VM this was
 * written on (more than all the sgemms), 11 ms in the AVX2 loop. Its exp is
 * a Cody-Waite reduction with a degree-7 polynomial; the GELU is within
 * 2e-6 relative of the float64 formula. CPUs with AVX-512F also run
 * the GELU and the softmax 16 lanes at a time (the same operations, so
 * the GELU's values are the same), and heads of 32 (the default model's)
 * take an attention kernel of their own instead of two small sgemms per
 * block of queries: 2.2x on 8 x 256 tokens, 4 heads of 32, one thread.
 *
 * Threads: every kernel is pure. Errors: none.
 */
#include "config.h"

#include <math.h>
#include <string.h>
#include <cblas.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "layers.h"

/* Query rows per attention block (see attention_forward): small enough to
 * skip most of the masked triangle, big enough for full-speed sgemms. */
#ifndef ATTENTION_BLOCK
#define ATTENTION_BLOCK 64
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_BUILD 1
#else
#define HAVE_AVX2_BUILD 0
#endif

static int have_avx2 = -1;	/* -1: not probed yet */

/* use_avx2 - whether this CPU runs the AVX2+FMA builds of the loops, and
 * layers_force_generic() has not turned them off */
static gboolean
use_avx2(void)
{
#if HAVE_AVX2_BUILD
	if (G_UNLIKELY(g_atomic_int_get(&have_avx2) < 0)) {
		__builtin_cpu_init();
		/* a racing layers_force_generic() wins: 0 stays 0 */
		g_atomic_int_compare_and_exchange(&have_avx2, -1,
			__builtin_cpu_supports("avx2") &&
			__builtin_cpu_supports("fma"));
	}
	return g_atomic_int_get(&have_avx2) > 0;
#else
	return FALSE;
#endif
}

#if HAVE_AVX2_BUILD
/* -1: not probed yet; have_bf16 is set first, so a reader that sees
 * have_avx512 set sees it set too */
static int have_avx512 = -1, have_bf16 = -1;
#endif

/* use_avx512 - whether the AVX-512 kernels run: use_avx2() and the CPU
 * has AVX-512F */
static gboolean
use_avx512(void)
{
#if HAVE_AVX2_BUILD
	if (!use_avx2())
		return FALSE;
	if (G_UNLIKELY(g_atomic_int_get(&have_avx512) < 0)) {
		g_atomic_int_set(&have_bf16,
				 __builtin_cpu_supports("avx512bw") &&
				 __builtin_cpu_supports("avx512bf16") ? 1 : 0);
		g_atomic_int_set(&have_avx512,
				 __builtin_cpu_supports("avx512f") ? 1 : 0);
	}
	return g_atomic_int_get(&have_avx512) > 0;
#else
	return FALSE;
#endif
}

/* use_bf16 - whether attention_forward_bf16's kernel runs: use_avx512()
 * and the CPU has AVX512-BF16 (and AVX512-BW) */
static gboolean
use_bf16(void)
{
#if HAVE_AVX2_BUILD
	return use_avx512() && g_atomic_int_get(&have_bf16) > 0;
#else
	return FALSE;
#endif
}

/* layers_simd - see layers.h */
gboolean
layers_simd(void)
{
	return use_avx2();
}

/* layers_bf16 - see layers.h */
gboolean
layers_bf16(void)
{
	return use_bf16();
}

/* layers_force_generic - see layers.h */
void
layers_force_generic(void)
{
	g_atomic_int_set(&have_avx2, 0);
}

#if HAVE_AVX2_BUILD
/* Everything from here to the #endif is compiled for AVX2+FMA (AVX2_FN)
 * and only called after use_avx2(). */
#define AVX2_FN __attribute__((target("avx2,fma")))

/* 8 floats; the _u type is the same vector at 4-byte alignment, so that a
 * dereference is an unaligned load or store. */
typedef float v8sf __attribute__((vector_size(32)));
typedef float v8sf_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8si __attribute__((vector_size(32)));

#define LOADU(p) (*(const v8sf_u *)(p))
#define STOREU(p, v) (*(v8sf_u *)(p) = (v))
#define INLINE static inline __attribute__((always_inline)) AVX2_FN

INLINE v8sf
v8_splat(float x)
{
	return (v8sf) { x, x, x, x, x, x, x, x };
}

/* v8_select - lanewise MASK ? A : B (C has no ?: on vectors) */
INLINE v8sf
v8_select(v8si mask, v8sf a, v8sf b)
{
	return (v8sf)(((v8si)a & mask) | ((v8si)b & ~mask));
}

/* v8_max, v8_min - lanewise A > B ? A : B and A < B ? A : B, one
 * instruction each (vmaxps, vminps: the second operand when unordered) */
INLINE v8sf
v8_max(v8sf a, v8sf b)
{
	return __builtin_ia32_maxps256(a, b);
}

INLINE v8sf
v8_min(v8sf a, v8sf b)
{
	return __builtin_ia32_minps256(a, b);
}

/* v8_fma - a * b + c with one rounding (vfmadd): ISO C mode (-std=c11)
 * never contracts a * b + c by itself */
INLINE v8sf
v8_fma(v8sf a, v8sf b, v8sf c)
{
	return __builtin_ia32_vfmaddps256(a, b, c);
}

INLINE float
v8_hsum(v8sf v)
{
	return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

INLINE float
v8_hmax(v8sf v)
{
	float m = v[0];
	for (int i = 1; i < 8; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* v8_exp - e^x lanewise; x is clamped to [-87, 88]: nothing overflows
 * or goes subnormal, and every use adds the result to a term >= 1 (the
 * softmax sum, 1 + e in the GELU), beside which e^-87 is nothing */
INLINE v8sf
v8_exp(v8sf x)
{
	const v8sf lo = v8_splat(-87.0f), hi = v8_splat(88.0f);
	x = v8_min(v8_max(x, lo), hi);
	/* x = n ln2 + r, |r| <= ln2/2; n by the 1.5 * 2^23 rounding trick */
	const v8sf magic = v8_splat(12582912.0f);
	v8sf fn = v8_fma(x, v8_splat(1.44269504088896341f), magic) - magic;
	v8sf r = v8_fma(fn, v8_splat(-0.693359375f), x);
	r = v8_fma(fn, v8_splat(2.12194440e-4f), r);
	v8sf p = v8_splat(1.0f / 5040.0f);
	p = v8_fma(p, r, v8_splat(1.0f / 720.0f));
	p = v8_fma(p, r, v8_splat(1.0f / 120.0f));
	p = v8_fma(p, r, v8_splat(1.0f / 24.0f));
	p = v8_fma(p, r, v8_splat(1.0f / 6.0f));
	p = v8_fma(p, r, v8_splat(0.5f));
	p = v8_fma(p, r, v8_splat(1.0f));
	p = v8_fma(p, r, v8_splat(1.0f));
	v8si n = __builtin_convertvector(fn, v8si);
	v8si bits = (n + 127) << 23;
	return p * (v8sf)bits;
}

/* scalar_exp - v8_exp for one float, for loop tails (same rounding) */
INLINE float
scalar_exp(float x)
{
	v8sf v = v8_splat(x);
	return v8_exp(v)[0];
}

/* layernorm_avx2 - layernorm_forward 8 floats at a time */
AVX2_FN static void
layernorm_avx2(float *out, float *mean, float *rstd, const float *inp,
	       const float *weight, const float *bias, int N, int C,
	       float eps)
{
	const int C8 = C & ~7;

	for (int n = 0; n < N; n++) {
		const float *x = inp + (gsize)n * C;
		float *o = out + (gsize)n * C;
		v8sf acc = v8_splat(0.0f);
		int i;

		for (i = 0; i < C8; i += 8)
			acc += LOADU(x + i);
		float m = v8_hsum(acc);
		for (; i < C; i++)
			m += x[i];
		m /= (float)C;

		/* two passes: the variance of GPT-2's residual stream, whose
		 * rows carry a few huge channels, loses digits in E[x^2]-m^2 */
		const v8sf vm = v8_splat(m);
		acc = v8_splat(0.0f);
		for (i = 0; i < C8; i += 8) {
			v8sf d = LOADU(x + i) - vm;
			acc += d * d;
		}
		float v = v8_hsum(acc);
		for (; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= (float)C;
		float s = 1.0f / sqrtf(v + eps);

		const v8sf vs = v8_splat(s);
		for (i = 0; i < C8; i += 8)
			STOREU(o + i, (LOADU(x + i) - vm) * vs * LOADU(weight + i)
			       + LOADU(bias + i));
		for (; i < C; i++)
			o[i] = (x[i] - m) * s * weight[i] + bias[i];
		if (mean != NULL)
			mean[n] = m;
		if (rstd != NULL)
			rstd[n] = s;
	}
}

/* causal_softmax - S (R, W) in place, row stride LD (W rounded up to 8),
 * the scores (already scaled by 1/sqrt(hs)) of the queries at positions
 * t0 .. t0 + R - 1 against the keys 0 .. W - 1: row i becomes
 * e^(s - max) over its columns 0 .. t0 + i, zeros after up to W, and
 * INV[i] = 1 / (the row's sum). The P @ V sgemm then runs over all W
 * columns and its output rows are scaled by INV (R x hs floats to scale
 * instead of R x W). The AVX2 loop runs whole vectors only: the padding
 * to LD gives the last one room, its lanes after the row's last key masked
 * (to -inf for the max, to 0 after the exp). */
AVX2_FN static void
causal_softmax_avx2(float *S, float *inv, int R, int t0, int W, int ld)
{
	const v8si lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
	const v8sf ninf = v8_splat(-INFINITY), zero = v8_splat(0.0f);

	for (int i = 0; i < R; i++) {
		float *row = S + (gsize)i * ld;
		const int n = t0 + i + 1, last = (n - 1) & ~7;
		/* the lanes of the last vector up to the row's last key */
		const v8si valid = lane < (v8si) { n - last, n - last,
			n - last, n - last, n - last, n - last, n - last,
			n - last };
		int j;

		v8sf vmx = v8_select(valid, LOADU(row + last), ninf);
		for (j = 0; j < last; j += 8)
			vmx = v8_max(LOADU(row + j), vmx);
		const v8sf vmax = v8_splat(v8_hmax(vmx));

		v8sf acc = zero;
		for (j = 0; j < last; j += 8) {
			v8sf e = v8_exp(LOADU(row + j) - vmax);
			STOREU(row + j, e);
			acc += e;
		}
		v8sf e = v8_select(valid, v8_exp(LOADU(row + last) - vmax),
				   zero);
		STOREU(row + last, e);
		acc += e;
		inv[i] = 1.0f / v8_hsum(acc);
		for (j = last + 8; j < W; j++)
			row[j] = 0.0f;
	}
}

/* gelu_avx2 - out = x sigmoid(2u) = 0.5 x (1 + tanh u),
 * u = sqrt(2/pi) (x + 0.044715 x^3): the same function as the tanh form,
 * without its cancellation for large negative x */
AVX2_FN static void
gelu_avx2(float *out, const float *inp, gsize n)
{
	const v8sf k = v8_splat(-2.0f * 0.7978845608028654f);
	const v8sf c = v8_splat(0.044715f), one = v8_splat(1.0f);
	gsize i;

	for (i = 0; i + 8 <= n; i += 8) {
		v8sf x = LOADU(inp + i);
		v8sf e = v8_exp(k * (x + c * x * x * x));
		STOREU(out + i, x / (one + e));
	}
	for (; i < n; i++) {
		float x = inp[i];
		float e = scalar_exp(-2.0f * 0.7978845608028654f *
				     (x + 0.044715f * x * x * x));
		out[i] = x / (1.0f + e);
	}
}

/* The AVX-512 builds (AVX512_FN), called only after use_avx512(). */
#define AVX512_FN __attribute__((target("avx2,fma,avx512f")))

static inline __attribute__((always_inline)) AVX512_FN __m512
v16_splat(float x)
{
	return _mm512_set1_ps(x);
}

/* v16_exp - v8_exp on 16 lanes: the same operations in the same order,
 * so the same results lane for lane */
static inline __attribute__((always_inline)) AVX512_FN __m512
v16_exp(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, v16_splat(-87.0f)), v16_splat(88.0f));
	const __m512 magic = v16_splat(12582912.0f);
	__m512 fn = _mm512_sub_ps(_mm512_fmadd_ps(x,
		v16_splat(1.44269504088896341f), magic), magic);
	__m512 r = _mm512_fmadd_ps(fn, v16_splat(-0.693359375f), x);
	r = _mm512_fmadd_ps(fn, v16_splat(2.12194440e-4f), r);
	__m512 p = v16_splat(1.0f / 5040.0f);
	p = _mm512_fmadd_ps(p, r, v16_splat(1.0f / 720.0f));
	p = _mm512_fmadd_ps(p, r, v16_splat(1.0f / 120.0f));
	p = _mm512_fmadd_ps(p, r, v16_splat(1.0f / 24.0f));
	p = _mm512_fmadd_ps(p, r, v16_splat(1.0f / 6.0f));
	p = _mm512_fmadd_ps(p, r, v16_splat(0.5f));
	p = _mm512_fmadd_ps(p, r, v16_splat(1.0f));
	p = _mm512_fmadd_ps(p, r, v16_splat(1.0f));
	const __m512i n = _mm512_cvttps_epi32(fn);
	const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(n,
		_mm512_set1_epi32(127)), 23);
	return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* gelu_avx512 - gelu_avx2 16 floats at a time, the same values */
AVX512_FN static void
gelu_avx512(float *out, const float *inp, gsize n)
{
	const __m512 k = v16_splat(-2.0f * 0.7978845608028654f);
	const __m512 c = v16_splat(0.044715f), one = v16_splat(1.0f);
	gsize i;

	for (i = 0; i + 16 <= n; i += 16) {
		const __m512 x = _mm512_loadu_ps(inp + i);
		const __m512 u = _mm512_add_ps(x, _mm512_mul_ps(_mm512_mul_ps(
			_mm512_mul_ps(c, x), x), x));
		const __m512 e = v16_exp(_mm512_mul_ps(k, u));
		_mm512_storeu_ps(out + i, _mm512_div_ps(x, _mm512_add_ps(one, e)));
	}
	if (i < n)
		gelu_avx2(out + i, inp + i, n - i);
}

/* causal_softmax_avx512 - causal_softmax_avx2 16 lanes at a time, LD a
 * multiple of 16; the lanes after a row's last key are masked off */
AVX512_FN static void
causal_softmax_avx512(float *S, float *inv, int R, int t0, int W, int ld)
{
	const __m512 ninf = v16_splat(-INFINITY);

	for (int i = 0; i < R; i++) {
		float *row = S + (gsize)i * ld;
		const int n = t0 + i + 1, last = (n - 1) & ~15;
		const __mmask16 valid = (__mmask16)((1u << (n - last)) - 1);
		int j;

		__m512 vmx = _mm512_mask_loadu_ps(ninf, valid, row + last);
		for (j = 0; j < last; j += 16)
			vmx = _mm512_max_ps(_mm512_loadu_ps(row + j), vmx);
		const __m512 vmax = v16_splat(_mm512_reduce_max_ps(vmx));

		__m512 acc = _mm512_setzero_ps();
		for (j = 0; j < last; j += 16) {
			__m512 e = v16_exp(_mm512_sub_ps(_mm512_loadu_ps(row + j),
							 vmax));
			_mm512_storeu_ps(row + j, e);
			acc = _mm512_add_ps(acc, e);
		}
		__m512 e = _mm512_maskz_mov_ps(valid, v16_exp(_mm512_sub_ps(
			_mm512_maskz_loadu_ps(valid, row + last), vmax)));
		_mm512_storeu_ps(row + last, e);
		acc = _mm512_add_ps(acc, e);
		inv[i] = 1.0f / _mm512_reduce_add_ps(acc);
		for (j = last + 16; j < W; j++)
			row[j] = 0.0f;
	}
}

/*
 * attention_head32_avx512 - one (sequence, head) of attention_forward for
 * heads of 32, without sgemm: Q, K, V (T, 32) at row stride LD (3C), O
 * (T, 32) at stride LDO (C). The keys are transposed once into blocks of
 * 16 (KT: (T16 / 16, 32, 16)); then per tile of ATT_MQ queries: the scores
 * of the keys up to its last query (S: (ATT_MQ, T16); ATT_MQ x 32 keys in
 * registers, the query broadcast from memory), the causal softmax, and
 * P @ V with the tile's ATT_MQ x 32 outputs in registers, P broadcast from
 * memory. OpenBLAS's two small sgemms per block (K = 32, then 32 columns)
 * spent much of their time packing.
 * SCRATCH: T16 * 32 + ATT_MQ * T16 floats (T16 = T rounded up to 16).
 */
#define ATT_MQ 8
AVX512_FN static void
attention_head32_avx512(float *O, int ldo, const float *Q, const float *K,
			const float *V, int ld, int T, float scale,
			float *scratch)
{
	const int T16 = (T + 15) & ~15;
	float *kt = scratch;
	float *S = scratch + (gsize)T16 * 32;
	const __m512 vscale = v16_splat(scale);
	float inv[ATT_MQ];

	/* KT[j / 16][d][j % 16] = K[j][d], zero past T */
	for (int j0 = 0; j0 < T16; j0 += 16) {
		float *blk = kt + (gsize)j0 * 32;
		for (int jj = 0; jj < 16; jj++) {
			const float *k = K + (gsize)(j0 + jj) * ld;
			const gboolean in = j0 + jj < T;
			for (int d = 0; d < 32; d++)
				blk[d * 16 + jj] = in ? k[d] : 0.0f;
		}
	}
	for (int i0 = 0; i0 < T; i0 += ATT_MQ) {
		const int R = MIN(ATT_MQ, T - i0), W = i0 + R;
		const float *q[ATT_MQ];
		__m512 a0[ATT_MQ], a1[ATT_MQ];

		/* rows past T repeat the last: computed, never stored */
		for (int i = 0; i < ATT_MQ; i++)
			q[i] = Q + (gsize)(i0 + MIN(i, R - 1)) * ld;
		/* S = scale Q K^T, 32 keys (two blocks) at a time, the last
		 * block alone when the keys end there */
		for (int j0 = 0; j0 < W; j0 += 32) {
			const float *blk = kt + (gsize)j0 * 32;
			const gboolean two = j0 + 16 < W;
#pragma GCC unroll 8
			for (int i = 0; i < ATT_MQ; i++)
				a0[i] = a1[i] = _mm512_setzero_ps();
			if (two) {
				for (int d = 0; d < 32; d++) {
					const __m512 k0 = _mm512_loadu_ps(blk + d * 16);
					const __m512 k1 = _mm512_loadu_ps(blk + 512 + d * 16);
#pragma GCC unroll 8
					for (int i = 0; i < ATT_MQ; i++) {
						const __m512 qv = _mm512_set1_ps(q[i][d]);
						a0[i] = _mm512_fmadd_ps(qv, k0, a0[i]);
						a1[i] = _mm512_fmadd_ps(qv, k1, a1[i]);
					}
				}
			} else {
				for (int d = 0; d < 32; d++) {
					const __m512 k0 = _mm512_loadu_ps(blk + d * 16);
#pragma GCC unroll 8
					for (int i = 0; i < ATT_MQ; i++)
						a0[i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][d]),
									k0, a0[i]);
				}
			}
#pragma GCC unroll 8
			for (int i = 0; i < ATT_MQ; i++) {
				float *srow = S + (gsize)i * T16 + j0;
				_mm512_storeu_ps(srow, _mm512_mul_ps(a0[i], vscale));
				if (two)
					_mm512_storeu_ps(srow + 16,
							 _mm512_mul_ps(a1[i], vscale));
			}
		}
		causal_softmax_avx512(S, inv, R, i0, W, T16);
		/* O = P V / the row sums */
#pragma GCC unroll 8
		for (int i = 0; i < ATT_MQ; i++)
			a0[i] = a1[i] = _mm512_setzero_ps();
		for (int j = 0; j < W; j++) {
			const __m512 v0 = _mm512_loadu_ps(V + (gsize)j * ld);
			const __m512 v1 = _mm512_loadu_ps(V + (gsize)j * ld + 16);
#pragma GCC unroll 8
			for (int i = 0; i < ATT_MQ; i++) {
				const __m512 p = _mm512_set1_ps(S[(gsize)i * T16 + j]);
				a0[i] = _mm512_fmadd_ps(p, v0, a0[i]);
				a1[i] = _mm512_fmadd_ps(p, v1, a1[i]);
			}
		}
#pragma GCC unroll 8
		for (int i = 0; i < R; i++) {
			float *o = O + (gsize)(i0 + i) * ldo;
			const __m512 vi = v16_splat(inv[i]);
			_mm512_storeu_ps(o, _mm512_mul_ps(a0[i], vi));
			_mm512_storeu_ps(o + 16, _mm512_mul_ps(a1[i], vi));
		}
	}
}

/*
 * attention_head32_bf16 - attention_head32_avx512 with the two products
 * in bf16 (vdpbf16ps: pairs of bf16 products summed into f32 lanes, twice
 * the multiply-adds of an FMA an instruction): Q, K, V and P rounded to
 * bf16 (8 significant bits), the softmax and the sums in f32. Layouts, in
 * 32-bit words of two bf16:
 *	KT[j / 16][d / 2][j % 16] = (K[j][d], K[j][d + 1]), d even
 *	VP[j / 2][d] = (V[j][d], V[j + 1][d]), j even (a zero row past T)
 *	QB[i][d / 2], PB[i][j / 2]: a tile's query rows and probabilities
 * SCRATCH: 48 * T16 + 192 floats' room (T16 = T rounded up to 16).
 */
#define BF16_FN __attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
BF16_FN static void
attention_head32_bf16(float *O, int ldo, const float *Q, const float *K,
		      const float *V, int ld, int T, float scale,
		      float *scratch)
{
	const int T16 = (T + 15) & ~15;
	guint32 *kt = (guint32 *)(void *)scratch;	/* T16 * 16 words */
	guint32 *vp = kt + (gsize)T16 * 16;		/* T16 / 2 * 32 */
	float *S = (float *)(void *)(vp + (gsize)T16 * 16);	/* 8 x T16 */
	/* P's rows of pairs, at a stride of whole zmm */
	const int pbld = (T16 / 2 + 15) & ~15;
	guint32 *pb = (guint32 *)(void *)(S + (gsize)ATT_MQ * T16);
	guint32 *qb = pb + (gsize)ATT_MQ * pbld;	/* 8 x 16 */
	const __m512 vscale = v16_splat(scale);
	float inv[ATT_MQ];
	guint32 w[16];
	guint16 h0[32], h1[32];

	for (int j0 = 0; j0 < T16; j0 += 16)
		for (int jj = 0; jj < 16; jj++) {
			const int j = j0 + jj;
			__m512i r = _mm512_setzero_si512();
			if (j < T)
				r = (__m512i)_mm512_cvtne2ps_pbh(
					_mm512_loadu_ps(K + (gsize)j * ld + 16),
					_mm512_loadu_ps(K + (gsize)j * ld));
			_mm512_storeu_si512((void *)w, r);
			for (int dp = 0; dp < 16; dp++)
				kt[((gsize)j0 + dp) * 16 + jj] = w[dp];
		}
	for (int j = 0; j < T16; j += 2) {
		__m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
		if (j < T)
			a = (__m512i)_mm512_cvtne2ps_pbh(
				_mm512_loadu_ps(V + (gsize)j * ld + 16),
				_mm512_loadu_ps(V + (gsize)j * ld));
		if (j + 1 < T)
			b = (__m512i)_mm512_cvtne2ps_pbh(
				_mm512_loadu_ps(V + (gsize)(j + 1) * ld + 16),
				_mm512_loadu_ps(V + (gsize)(j + 1) * ld));
		_mm512_storeu_si512((void *)h0, a);
		_mm512_storeu_si512((void *)h1, b);
		for (int d = 0; d < 32; d++)
			vp[(gsize)j / 2 * 32 + d] = h0[d] | (guint32)h1[d] << 16;
	}
	for (int i0 = 0; i0 < T; i0 += ATT_MQ) {
		const int R = MIN(ATT_MQ, T - i0), W = i0 + R;
		__m512 a0[ATT_MQ], a1[ATT_MQ];

		/* rows past T repeat the last: computed, never stored */
		for (int i = 0; i < ATT_MQ; i++) {
			const float *q = Q + (gsize)(i0 + MIN(i, R - 1)) * ld;
			_mm512_storeu_si512((void *)(qb + i * 16), (__m512i)
				_mm512_cvtne2ps_pbh(_mm512_loadu_ps(q + 16),
						    _mm512_loadu_ps(q)));
		}
		for (int j0 = 0; j0 < W; j0 += 32) {
			const guint32 *blk = kt + (gsize)j0 * 16;
			const gboolean two = j0 + 16 < W;
#pragma GCC unroll 8
			for (int i = 0; i < ATT_MQ; i++)
				a0[i] = a1[i] = _mm512_setzero_ps();
			for (int dp = 0; dp < 16; dp++) {
				const __m512bh k0 = (__m512bh)_mm512_loadu_si512(
					(const void *)(blk + dp * 16));
				/* a lone last block: its own words again, unused */
				const __m512bh k1 = (__m512bh)_mm512_loadu_si512(
					(const void *)(blk + (two ? 256 : 0) + dp * 16));
#pragma GCC unroll 8
				for (int i = 0; i < ATT_MQ; i++) {
					const __m512bh qv = (__m512bh)
						_mm512_set1_epi32((int)qb[i * 16 + dp]);
					a0[i] = _mm512_dpbf16_ps(a0[i], qv, k0);
					a1[i] = _mm512_dpbf16_ps(a1[i], qv, k1);
				}
			}
#pragma GCC unroll 8
			for (int i = 0; i < ATT_MQ; i++) {
				float *srow = S + (gsize)i * T16 + j0;
				_mm512_storeu_ps(srow, _mm512_mul_ps(a0[i], vscale));
				if (two)
					_mm512_storeu_ps(srow + 16,
							 _mm512_mul_ps(a1[i], vscale));
			}
		}
		causal_softmax_avx512(S, inv, R, i0, W, T16);
		/* P to bf16 pairs. W is odd only in the last tile, W = T: the
		 * pair reaching past it meets VP's zero row */
		const int WP = (W + 1) / 2;
		for (int i = 0; i < ATT_MQ; i++) {
			const float *srow = S + (gsize)i * T16;
			for (int j = 0; j < 2 * WP; j += 32) {
				const __mmask16 lo = (__mmask16)(j + 16 <= 2 * WP ? 0xffff :
					(1u << (2 * WP - j)) - 1);
				const __mmask16 hi = (__mmask16)(j + 32 <= 2 * WP ? 0xffff :
					j + 16 >= 2 * WP ? 0 : (1u << (2 * WP - j - 16)) - 1);
				const __m512i p = (__m512i)_mm512_cvtne2ps_pbh(
					_mm512_maskz_loadu_ps(hi, srow + j + 16),
					_mm512_maskz_loadu_ps(lo, srow + j));
				_mm512_storeu_si512((void *)(pb + (gsize)i * pbld +
							     j / 2), p);
			}
		}
#pragma GCC unroll 8
		for (int i = 0; i < ATT_MQ; i++)
			a0[i] = a1[i] = _mm512_setzero_ps();
		for (int jp = 0; jp < WP; jp++) {
			const __m512bh v0 = (__m512bh)_mm512_loadu_si512(
				(const void *)(vp + (gsize)jp * 32));
			const __m512bh v1 = (__m512bh)_mm512_loadu_si512(
				(const void *)(vp + (gsize)jp * 32 + 16));
#pragma GCC unroll 8
			for (int i = 0; i < ATT_MQ; i++) {
				const __m512bh p = (__m512bh)_mm512_set1_epi32(
					(int)pb[(gsize)i * pbld + jp]);
				a0[i] = _mm512_dpbf16_ps(a0[i], p, v0);
				a1[i] = _mm512_dpbf16_ps(a1[i], p, v1);
			}
		}
#pragma GCC unroll 8
		for (int i = 0; i < R; i++) {
			float *o = O + (gsize)(i0 + i) * ldo;
			const __m512 vi = v16_splat(inv[i]);
			_mm512_storeu_ps(o, _mm512_mul_ps(a0[i], vi));
			_mm512_storeu_ps(o + 16, _mm512_mul_ps(a1[i], vi));
		}
	}
}

#endif	/* HAVE_AVX2_BUILD */

/* The plain C builds of the same three loops, for CPUs without AVX2. */

static void
layernorm_generic(float *out, float *mean, float *rstd, const float *inp,
		  const float *weight, const float *bias, int N, int C,
		  float eps)
{
	for (int n = 0; n < N; n++) {
		const float *x = inp + (gsize)n * C;
		float *o = out + (gsize)n * C;
		float m = 0.0f, v = 0.0f;

		for (int i = 0; i < C; i++)
			m += x[i];
		m /= (float)C;
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= (float)C;
		float s = 1.0f / sqrtf(v + eps);
		for (int i = 0; i < C; i++)
			o[i] = (x[i] - m) * s * weight[i] + bias[i];
		if (mean != NULL)
			mean[n] = m;
		if (rstd != NULL)
			rstd[n] = s;
	}
}

static void
causal_softmax_generic(float *S, float *inv, int R, int t0, int W, int ld)
{
	for (int i = 0; i < R; i++) {
		float *row = S + (gsize)i * ld;
		const int t = t0 + i;
		float mx = row[0], sum = 0.0f;

		for (int j = 1; j <= t; j++)
			mx = row[j] > mx ? row[j] : mx;
		for (int j = 0; j <= t; j++) {
			row[j] = expf(row[j] - mx);
			sum += row[j];
		}
		inv[i] = 1.0f / sum;
		for (int j = t + 1; j < W; j++)
			row[j] = 0.0f;
	}
}

static void
gelu_generic(float *out, const float *inp, gsize n)
{
	/* the sigmoid form as in gelu_avx2: expf is much cheaper than tanhf */
	for (gsize i = 0; i < n; i++) {
		float x = inp[i];
		out[i] = x / (1.0f + expf(-2.0f * 0.7978845608028654f *
					  (x + 0.044715f * x * x * x)));
	}
}

/* The dispatch: the AVX2 build where there is one and the CPU has it. */
#if HAVE_AVX2_BUILD
#define DISPATCH(fn, ...) \
	(use_avx2() ? fn##_avx2(__VA_ARGS__) : fn##_generic(__VA_ARGS__))
#else
#define DISPATCH(fn, ...) fn##_generic(__VA_ARGS__)
#endif

/* ---------------------------------------------------------------- */

void
encoder_forward(float *out, const int32_t *ids, const int *lens, int B,
		const float *wte, const float *wpe, int C)
{
	gsize r = 0;

	for (int b = 0; b < B; b++) {
		for (int t = 0; t < lens[b]; t++, r++) {
			const float *te = wte + (gsize)ids[r] * C;
			const float *pe = wpe + (gsize)t * C;
			float *o = out + r * C;
			for (int i = 0; i < C; i++)
				o[i] = te[i] + pe[i];
		}
	}
}

/* ---------------------------------------------------------------- */

void
layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		  const float *weight, const float *bias, int N, int C,
		  float eps)
{
	DISPATCH(layernorm, out, mean, rstd, inp, weight, bias, N, C, eps);
}

/* ---------------------------------------------------------------- */

/* fill_bias - out (N, OC) rows = bias (OC) */
static void
fill_bias(float *out, const float *bias, int N, int OC)
{
	for (int n = 0; n < N; n++)
		memcpy(out + (gsize)n * OC, bias, (gsize)OC * sizeof(float));
}

/* add_bias - out (N, OC) rows += bias (OC) */
static void
add_bias(float *out, const float *bias, int N, int OC)
{
	for (int n = 0; n < N; n++) {
		float *o = out + (gsize)n * OC;
		for (int i = 0; i < OC; i++)
			o[i] += bias[i];
	}
}

void
matmul_forward(float *out, const float *inp, const float *weight,
	       const float *bias, int N, int C, int OC)
{
	/* The bias goes in first and the sgemm adds to it (beta = 1): one
	 * pass over out fewer than adding it afterwards. */
	if (bias != NULL)
		fill_bias(out, bias, N, OC);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f,
		    inp, C, weight, OC, bias != NULL ? 1.0f : 0.0f, out, OC);
}

void
matmul_residual_forward(float *out, const float *inp, const float *weight,
			const float *bias, int N, int C, int OC)
{
	if (bias != NULL)
		add_bias(out, bias, N, OC);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f,
		    inp, C, weight, OC, 1.0f, out, OC);
}

/* ---------------------------------------------------------------- */

void
attention_forward(float *out, float *scratch, const float *qkv,
		  const int *lens, int B, int C, int NH)
{
	const int hs = C / NH, C3 = 3 * C;
	const float scale = 1.0f / sqrtf((float)hs);
	gsize off = 0;

#if HAVE_AVX2_BUILD
	if (hs == 32 && use_avx512()) {
		for (int b = 0; b < B; b++) {
			const float *q = qkv + off * C3;
			for (int h = 0; h < NH; h++)
				attention_head32_avx512(out + off * C + h * hs, C,
							q + h * hs, q + C + h * hs,
							q + 2 * C + h * hs, C3,
							lens[b], scale, scratch);
			off += lens[b];
		}
		return;
	}
#endif
	for (int b = 0; b < B; b++) {
		const int T = lens[b];

		for (int h = 0; h < NH; h++) {
			/* strided views into qkv (ld 3C) and out (ld C) */
			const float *Q = qkv + off * C3 + h * hs;
			const float *K = Q + C;
			const float *V = Q + 2 * C;
			float *O = out + off * C + h * hs;

			/* Queries in blocks of ATTENTION_BLOCK rows: block
			 * r0 .. r0 + R - 1 only sees keys 0 .. r0 + R - 1, so
			 * most of the masked upper triangle is never computed */
			for (int r0 = 0; r0 < T; r0 += ATTENTION_BLOCK) {
				const int R = MIN(ATTENTION_BLOCK, T - r0);
				const int W = r0 + R, ld = (W + 7) & ~7;
				float *S = scratch;	/* (R, W) at stride ld */
				float inv[ATTENTION_BLOCK];

				/* S = scale Q[r0..] (R, hs) K^T (hs, W) */
				cblas_sgemm(CblasRowMajor, CblasNoTrans,
					    CblasTrans, R, W, hs, scale,
					    Q + (gsize)r0 * C3, C3, K, C3, 0.0f,
					    S, ld);
				DISPATCH(causal_softmax, S, inv, R, r0, W, ld);
				/* O[r0..] (R, hs) = P (R, W) V (W, hs), each
				 * row then scaled by 1 / its sum */
				float *Ob = O + (gsize)r0 * C;
				cblas_sgemm(CblasRowMajor, CblasNoTrans,
					    CblasNoTrans, R, hs, W, 1.0f, S, ld,
					    V, C3, 0.0f, Ob, C);
				for (int i = 0; i < R; i++)
					for (int d = 0; d < hs; d++)
						Ob[(gsize)i * C + d] *= inv[i];
			}
		}
		off += T;
	}
}

void
attention_forward_bf16(float *out, float *scratch, const float *qkv,
		       const int *lens, int B, int C, int NH)
{
#if HAVE_AVX2_BUILD
	const int hs = C / NH, C3 = 3 * C;
	gsize off = 0;

	if (hs == 32 && use_bf16()) {
		for (int b = 0; b < B; b++) {
			const float *q = qkv + off * C3;
			for (int h = 0; h < NH; h++)
				attention_head32_bf16(out + off * C + h * hs, C,
						      q + h * hs, q + C + h * hs,
						      q + 2 * C + h * hs, C3,
						      lens[b],
						      1.0f / sqrtf((float)hs),
						      scratch);
			off += lens[b];
		}
		return;
	}
#endif
	attention_forward(out, scratch, qkv, lens, B, C, NH);
}

void
gelu_forward(float *out, const float *inp, gsize n)
{
#if HAVE_AVX2_BUILD
	if (use_avx512()) {
		gelu_avx512(out, inp, n);
		return;
	}
#endif
	DISPATCH(gelu, out, inp, n);
}

/* ---------------------------------------------------------------- */

void
pool_forward(float *out, const float *x, const int *lens, int B, int C,
	     gboolean mean)
{
	const float *row = x;

	for (int b = 0; b < B; b++) {
		const int T = lens[b];
		float *o = out + (gsize)b * C;

		if (!mean) {
			/* memmove: out may be x, rows moving down in place */
			memmove(o, row + (gsize)(T - 1) * C,
				(gsize)C * sizeof(float));
			row += (gsize)T * C;
			continue;
		}
		memset(o, 0, (gsize)C * sizeof(float));
		for (int t = 0; t < T; t++, row += C)
			for (int i = 0; i < C; i++)
				o[i] += row[i];
		const float inv = 1.0f / (float)T;
		for (int i = 0; i < C; i++)
			o[i] *= inv;
	}
}

void
head_forward(float *logits, const float *x, const float *score_w,
	     const float *score_b, int B, int C, int NL)
{
	if (score_b != NULL)
		fill_bias(logits, score_b, B, NL);
	/* logits (B, NL) = x (B, C) @ score_w^T (C, NL) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, NL, C, 1.0f,
		    x, C, score_w, C, score_b != NULL ? 1.0f : 0.0f, logits,
		    NL);
}
