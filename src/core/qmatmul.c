/*
 * qmatmul.c - int8 weights and the int8 matrix product of the linear layers
 *
 * Owns: QMatrix and QActs (see qmatmul.h), the per-row activation
 * quantizer, and the kernels of out = quant(inp) @ q * scales + bias, one
 * portable and three x86-64 ones compiled with target attributes and
 * picked at run time, with c_fc's fused form (its GELU and the next
 * product's quantizing done on a few rows at a time, in cache).
 * Not here: the f32 layers (layers.c), the file format (bundle.c).
 *
 * Packing. The dot-product instructions multiply 4 adjacent bytes of an
 * activation row by 4 adjacent bytes of a weight vector and add them into
 * one 32-bit lane. So W (K, OC) is stored in blocks of 16 output channels,
 * each block K4 = ceil(K / 4) groups of 64 bytes:
 *	w[(ob * K4 + k4) * 64 + j * 4 + i] = q[4 k4 + i, 16 ob + j]
 * (zero past K or OC). One group is one zmm, or two ymm (channels 0..7,
 * 8..15); an activation quad (4 bytes) is broadcast to every lane.
 *
 * Signs. vpdpbusd and vpmaddubsw take unsigned bytes times signed bytes.
 * The VNNI paths feed activations as a + 128 (1..255) and subtract
 * 128 * sum_k q[k, o] (wcomp) from each sum: exact in 32 bits. The AVX2
 * path has no 32-bit accumulate: vpmaddubsw adds two products into a
 * saturating int16, so it feeds |a| and sign(w, a), whose pair sums stay
 * within 2 * 127 * 127 < 32767, then vpmaddwd with ones widens them. That
 * is why stored weights are -127..127 (no -128: its negation overflows).
 *
 * Every path therefore gets the same int32 sums, and the epilogue is the
 * same f32 operations in the same order (no fma): the paths agree bit for
 * bit, which tests/test_qmatmul.c checks.
 *
 * Threads: kernels are pure; the quantized activations of qmatmul_forward
 * and the f32 rows of the fused c_fc live in buffers per thread (grown,
 * never shrunk). A product of enough rows is
 * split by rows over qmatmul_set_threads() threads: the caller and a team
 * of helpers that sleep on a condition variable between products. Not
 * OpenMP: its threads spin after each region, and on a loaded 2-core
 * machine they took the cores from OpenBLAS's (the attention's sgemms),
 * which spin too: measured with bench_int8 --shape default, libgomp's
 * default policy made the int8 pass 4-16 times slower than f32, its
 * passive policy 1.2-1.4 times faster. Waking a sleeping helper costs
 * some microseconds a product, a small share of one of at least 64 rows.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_BUILD 1
#else
#define HAVE_X86_BUILD 0
#endif

#include "layers.h"
#include "qmatmul.h"

#define QBLOCK 16		/* output channels per packed block */
#define QGROUP (QBLOCK * 4)	/* bytes of one k4 group of a block */

struct QMatrix {
	int K, OC;
	int k4;			/* ceil(K / 4): groups per block */
	int ocb;		/* ceil(OC / 16): blocks */
	int8_t *w;		/* (ocb, k4, 16, 4), 64-byte aligned */
	float *scale;		/* (ocb * 16), 0 past OC */
	int32_t *wcomp;		/* (ocb * 16): 128 * sum_k q[k, o] */
};

static void *
aligned_zalloc(gsize bytes)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, MAX(bytes, 64)))
		g_error("qmatmul: out of memory for %" G_GSIZE_FORMAT " bytes",
			bytes);
	memset(p, 0, MAX(bytes, 64));
	return p;
}

/* qmatrix_alloc - an empty (zeroed) QMatrix of K x OC */
static QMatrix *
qmatrix_alloc(int K, int OC)
{
	g_assert(K > 0 && OC > 0);
	QMatrix *m = g_new0(QMatrix, 1);

	m->K = K;
	m->OC = OC;
	m->k4 = (K + 3) / 4;
	m->ocb = (OC + QBLOCK - 1) / QBLOCK;
	m->w = aligned_zalloc((gsize)m->ocb * m->k4 * QGROUP);
	m->scale = aligned_zalloc((gsize)m->ocb * QBLOCK * sizeof(float));
	m->wcomp = aligned_zalloc((gsize)m->ocb * QBLOCK * sizeof(int32_t));
	return m;
}

/* packed_at - the byte of q[k, o] in the packed layout */
static inline gsize
packed_at(const QMatrix *m, int k, int o)
{
	return ((gsize)(o / QBLOCK) * m->k4 + k / 4) * QGROUP +
	    (gsize)(o % QBLOCK) * 4 + k % 4;
}

QMatrix *
qmatrix_new(const int8_t *q, const float *scale, int K, int OC)
{
	QMatrix *m = qmatrix_alloc(K, OC);

	for (int k = 0; k < K; k++)
		for (int o = 0; o < OC; o++) {
			const int8_t v = q[(gsize)k * OC + o];
			g_assert(v != -128);
			m->w[packed_at(m, k, o)] = v;
			m->wcomp[o] += 128 * v;
		}
	memcpy(m->scale, scale, (gsize)OC * sizeof(float));
	return m;
}

void
qmatrix_quantize_values(const float *w, int K, int OC, int8_t *q,
			float *scale)
{
	for (int o = 0; o < OC; o++) {
		float amax = 0.0f;
		for (int k = 0; k < K; k++)
			amax = MAX(amax, fabsf(w[(gsize)k * OC + o]));
		/* a zero column keeps scale 0 and q 0 */
		const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
		scale[o] = amax / 127.0f;
		for (int k = 0; k < K; k++) {
			float r = nearbyintf(w[(gsize)k * OC + o] * inv);
			q[(gsize)k * OC + o] = (int8_t)CLAMP(r, -127.0f, 127.0f);
		}
	}
}

QMatrix *
qmatrix_quantize(const float *w, int K, int OC)
{
	g_autofree int8_t *q = g_new(int8_t, (gsize)K * OC);
	g_autofree float *scale = g_new(float, OC);

	qmatrix_quantize_values(w, K, OC, q, scale);
	return qmatrix_new(q, scale, K, OC);
}

void
qmatrix_free(QMatrix *m)
{
	if (m == NULL)
		return;
	free(m->w);
	free(m->scale);
	free(m->wcomp);
	g_free(m);
}

int
qmatrix_k(const QMatrix *m)
{
	return m->K;
}

int
qmatrix_oc(const QMatrix *m)
{
	return m->OC;
}

void
qmatrix_export(const QMatrix *m, int8_t *q, float *scale)
{
	if (q != NULL)
		for (int k = 0; k < m->K; k++)
			for (int o = 0; o < m->OC; o++)
				q[(gsize)k * m->OC + o] = m->w[packed_at(m, k, o)];
	if (scale != NULL)
		memcpy(scale, m->scale, (gsize)m->OC * sizeof(float));
}

void
qmatrix_dequantize(const QMatrix *m, float *w)
{
	for (int k = 0; k < m->K; k++)
		for (int o = 0; o < m->OC; o++)
			w[(gsize)k * m->OC + o] =
			    (float)m->w[packed_at(m, k, o)] * m->scale[o];
}

/* ------------------------------------------------------------------ */
/* Path selection */

static int forced_path = -1;	/* -1: the best supported */
static int n_threads = 1;

gboolean
qmatmul_path_supported(QPath p)
{
#if HAVE_X86_BUILD
	__builtin_cpu_init();
	switch (p) {
	case QPATH_GENERIC:
		return TRUE;
	case QPATH_AVX2:
		return __builtin_cpu_supports("avx2");
	case QPATH_AVXVNNI:
		return __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("avxvnni");
	case QPATH_AVX512VNNI:
		return __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vnni");
	default:
		return FALSE;
	}
#else
	return p == QPATH_GENERIC;
#endif
}

QPath
qmatmul_path(void)
{
	static int best = -1;
	int f = g_atomic_int_get(&forced_path);

	if (f >= 0)
		return (QPath)f;
	if (G_UNLIKELY(g_atomic_int_get(&best) < 0)) {
		int b = QPATH_GENERIC;
		for (int p = QPATH_N - 1; p > QPATH_GENERIC; p--)
			if (qmatmul_path_supported((QPath)p)) {
				b = p;
				break;
			}
		g_atomic_int_set(&best, b);
	}
	return (QPath)g_atomic_int_get(&best);
}

gboolean
qmatmul_path_by_name(const char *name, QPath *p)
{
	for (int i = 0; i < QPATH_N; i++)
		if (strcmp(qmatmul_path_name((QPath)i), name) == 0) {
			*p = (QPath)i;
			return TRUE;
		}
	return FALSE;
}

const char *
qmatmul_path_name(QPath p)
{
	static const char *const names[QPATH_N] = {
		"generic", "avx2", "avx-vnni", "avx512-vnni",
	};
	return p < QPATH_N ? names[p] : "?";
}

void
qmatmul_force_path(QPath p)
{
	g_return_if_fail(qmatmul_path_supported(p));
	g_atomic_int_set(&forced_path, (int)p);
}

void
qmatmul_set_threads(int n)
{
	g_atomic_int_set(&n_threads, MAX(n, 1));
}

/* ------------------------------------------------------------------ */
/* One product: the job every kernel reads */

typedef struct {
	float *out;		/* row r at out + (r - orow0) * OC */
	int orow0;
	const float *inp;	/* (N, K), quantized by the product, or NULL */
	const QMatrix *m;
	const float *bias;
	int N;
	gboolean accumulate;
	gboolean offset;	/* activations stored as a + 128 (VNNI) */
	gsize kp;		/* bytes of a quantized row: 4 * k4 */
	guint8 *qa;		/* (N, kp) quantized activations */
	float *sa;		/* (N) their scales */
	QActs *gelu_to;		/* qmatmul_gelu_forward_q's destination */
} QJob;

/* quantize_row_generic - X (K floats) into Q (KP bytes, zero past K;
 * offset by 128 with OFFSET) and *SCALE */
static void
quantize_row_generic(const float *x, int K, gsize kp, gboolean offset,
		     guint8 *q, float *scale)
{
	float amax = 0.0f;

	for (int k = 0; k < K; k++)
		amax = MAX(amax, fabsf(x[k]));
	const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
	*scale = amax / 127.0f;
	for (int k = 0; k < K; k++) {
		float v = nearbyintf(x[k] * inv);
		int8_t s = v >= -127.0f && v <= 127.0f ? (int8_t)v : 0;
		q[k] = (guint8)(offset ? s + 128 : s);
	}
	memset(q + K, offset ? 128 : 0, kp - K);
}

/* epilogue_generic - out[r, o] from the exact sum ACC */
static inline void
epilogue_one(const QJob *j, int r, int o, int32_t acc)
{
	const float d = j->sa[r] * j->m->scale[o];
	const float b = j->bias != NULL ? j->bias[o] : 0.0f;
	const float v = (float)acc * d + b;
	float *y = j->out + (gsize)(r - j->orow0) * j->m->OC + o;

	*y = j->accumulate ? *y + v : v;
}

/* tile_generic - rows r0 .. r0 + MR - 1 (those below N) of block OB */
#define MR_GENERIC 4
static void
tile_generic(const QJob *j, int r0, int ob)
{
	const QMatrix *m = j->m;
	const int rend = MIN(r0 + MR_GENERIC, j->N);
	const int oend = MIN(m->OC - ob * QBLOCK, QBLOCK);
	const int8_t *w = m->w + (gsize)ob * m->k4 * QGROUP;

	for (int r = r0; r < rend; r++) {
		const guint8 *a = j->qa + (gsize)r * j->kp;
		for (int jj = 0; jj < oend; jj++) {
			int32_t acc = 0;
			for (int g = 0; g < m->k4; g++)
				for (int i = 0; i < 4; i++)
					acc += (int32_t)(int8_t)a[4 * g + i] *
					    w[(gsize)g * QGROUP + jj * 4 + i];
			epilogue_one(j, r, ob * QBLOCK + jj, acc);
		}
	}
}

#if HAVE_X86_BUILD
/* ------------------------------------------------------------------ */
/* x86-64 kernels: each function carries its target; none is called
 * before qmatmul_path_supported() said yes. */

#define AVX2_FN __attribute__((target("avx2,fma")))
#define VNNI256_FN __attribute__((target("avx2,fma,avxvnni")))
#define VNNI512_FN __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni")))

static inline int32_t
load_quad(const guint8 *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* quantize_row_avx2 - quantize_row_generic 8 floats at a time (the same
 * operations: |x| max, x * inv rounded to nearest even by vcvtps2dq) */
AVX2_FN static void
quantize_row_avx2(const float *x, int K, gsize kp, gboolean offset,
		  guint8 *q, float *scale)
{
	const int K8 = K & ~7;
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256 vmax = _mm256_setzero_ps();
	int k;

	for (k = 0; k < K8; k += 8)
		vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + k),
							 absmask));
	float lanes[8], amax = 0.0f;
	_mm256_storeu_ps(lanes, vmax);
	for (int i = 0; i < 8; i++)
		amax = MAX(amax, lanes[i]);
	for (; k < K; k++)
		amax = MAX(amax, fabsf(x[k]));
	const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
	*scale = amax / 127.0f;
	const __m256 vinv = _mm256_set1_ps(inv);
	const __m128i off = _mm_set1_epi8(offset ? (char)0x80 : 0);
	for (k = 0; k < K8; k += 8) {
		__m256i i32 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k),
							       vinv));
		__m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32),
					      _mm256_extracti128_si256(i32, 1));
		__m128i i8 = _mm_xor_si128(_mm_packs_epi16(i16, i16), off);
		_mm_storel_epi64((__m128i *)(void *)(q + k), i8);
	}
	for (; k < K; k++) {
		float v = nearbyintf(x[k] * inv);
		int8_t s = v >= -127.0f && v <= 127.0f ? (int8_t)v : 0;
		q[k] = (guint8)(offset ? s + 128 : s);
	}
	memset(q + K, offset ? 128 : 0, kp - K);
}

/* store8_avx2 - 8 outputs of row R from channels O .. O+7 of sums ACC
 * (minus COMP), the epilogue_one operations lane by lane */
AVX2_FN static inline void
store8_avx2(const QJob *j, int r, int o, __m256i acc, __m256i comp)
{
	const QMatrix *m = j->m;
	__m256 d = _mm256_mul_ps(_mm256_set1_ps(j->sa[r]),
				 _mm256_loadu_ps(m->scale + o));
	__m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc, comp)),
				 d);
	v = _mm256_add_ps(v, j->bias != NULL && o + 8 <= m->OC ?
			  _mm256_loadu_ps(j->bias + o) : _mm256_setzero_ps());
	float *y = j->out + (gsize)(r - j->orow0) * m->OC + o;
	if (o + 8 <= m->OC) {
		if (j->accumulate)
			v = _mm256_add_ps(_mm256_loadu_ps(y), v);
		_mm256_storeu_ps(y, v);
		return;
	}
	/* the last, partial group: the same operations lane by lane */
	int32_t s[8];
	_mm256_storeu_si256((__m256i *)(void *)s, _mm256_sub_epi32(acc, comp));
	for (int i = 0; o + i < m->OC; i++)
		epilogue_one(j, r, o + i, s[i]);
}

/* TILE256 - the function NAME (for TARGET) of 4 rows x one block, two
 * ymm a row: acc = MAC(acc, broadcast activation quad, weights); with
 * OFFSET the sums are of a + 128 and lose the column sums (wcomp) */
#define MR_AVX2 4
#define TILE256(NAME, TARGET, MAC, OFFSET) \
TARGET static void \
NAME(const QJob *j, int r0, int ob) \
{ \
	const QMatrix *m = j->m; \
	const int mr = MIN(MR_AVX2, j->N - r0); \
	const guint8 *a[MR_AVX2]; \
	const int8_t *w = m->w + (gsize)ob * m->k4 * QGROUP; \
	__m256i acc[MR_AVX2][2]; \
	\
	for (int r = 0; r < MR_AVX2; r++) { \
		/* rows past N repeat the last one: computed, never stored */ \
		a[r] = j->qa + (gsize)(r0 + MIN(r, mr - 1)) * j->kp; \
		acc[r][0] = acc[r][1] = _mm256_setzero_si256(); \
	} \
	for (int g = 0; g < m->k4; g++) { \
		const __m256i w0 = _mm256_load_si256((const __m256i *) \
			(const void *)(w + (gsize)g * QGROUP)); \
		const __m256i w1 = _mm256_load_si256((const __m256i *) \
			(const void *)(w + (gsize)g * QGROUP + 32)); \
		_Pragma("GCC unroll 4") \
		for (int r = 0; r < MR_AVX2; r++) { \
			const __m256i av = _mm256_set1_epi32(load_quad(a[r] + 4 * g)); \
			acc[r][0] = MAC(acc[r][0], av, w0); \
			acc[r][1] = MAC(acc[r][1], av, w1); \
		} \
	} \
	const int32_t *comp = m->wcomp + (gsize)ob * QBLOCK; \
	const __m256i c0 = OFFSET ? _mm256_load_si256((const __m256i *) \
		(const void *)comp) : _mm256_setzero_si256(); \
	const __m256i c1 = OFFSET ? _mm256_load_si256((const __m256i *) \
		(const void *)(comp + 8)) : _mm256_setzero_si256(); \
	for (int r = 0; r < mr; r++) { \
		store8_avx2(j, r0 + r, ob * QBLOCK, acc[r][0], c0); \
		if (ob * QBLOCK + 8 < m->OC) \
			store8_avx2(j, r0 + r, ob * QBLOCK + 8, acc[r][1], c1); \
	} \
}

/* AVX2: |a| x sign(w, a) in int16 pairs, widened to int32 by pairs */
#define MAC_AVX2(acc, av, w) _mm256_add_epi32((acc), _mm256_madd_epi16( \
	_mm256_maddubs_epi16(_mm256_abs_epi8(av), _mm256_sign_epi8((w), (av))), \
	_mm256_set1_epi16(1)))
TILE256(tile_avx2, AVX2_FN, MAC_AVX2, FALSE)
/* AVX-VNNI: vpdpbusd on (a + 128) and w */
TILE256(tile_avxvnni, VNNI256_FN, _mm256_dpbusd_avx_epi32, TRUE)

/* tile_avx512vnni - 8 rows x one block (one zmm a row) */
#define MR_AVX512 8
VNNI512_FN static void
tile_avx512vnni(const QJob *j, int r0, int ob)
{
	const QMatrix *m = j->m;
	const int mr = MIN(MR_AVX512, j->N - r0);
	const guint8 *a[MR_AVX512];
	const int8_t *w = m->w + (gsize)ob * m->k4 * QGROUP;
	__m512i acc[MR_AVX512];

	for (int r = 0; r < MR_AVX512; r++) {
		a[r] = j->qa + (gsize)(r0 + MIN(r, mr - 1)) * j->kp;
		acc[r] = _mm512_setzero_si512();
	}
	for (int g = 0; g < m->k4; g++) {
		const __m512i wv = _mm512_load_si512((const void *)
						     (w + (gsize)g * QGROUP));
#pragma GCC unroll 8
		for (int r = 0; r < MR_AVX512; r++)
			acc[r] = _mm512_dpbusd_epi32(acc[r],
				_mm512_set1_epi32(load_quad(a[r] + 4 * g)), wv);
	}
	const int o = ob * QBLOCK;
	const __m512i comp = _mm512_load_si512((const void *)(m->wcomp + o));
	const __m512 sw = _mm512_load_ps(m->scale + o);
	const gboolean full = o + QBLOCK <= m->OC;
	const __m512 b = j->bias != NULL && full ? _mm512_loadu_ps(j->bias + o)
	    : _mm512_setzero_ps();
	for (int r = 0; r < mr; r++) {
		const __m512i s = _mm512_sub_epi32(acc[r], comp);
		if (!full) {
			int32_t t[QBLOCK];
			_mm512_storeu_si512((void *)t, s);
			for (int i = 0; o + i < m->OC; i++)
				epilogue_one(j, r0 + r, o + i, t[i]);
			continue;
		}
		const __m512 d = _mm512_mul_ps(_mm512_set1_ps(j->sa[r0 + r]), sw);
		__m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(s), d), b);
		float *y = j->out + (gsize)(r0 + r - j->orow0) * m->OC + o;
		if (j->accumulate)
			v = _mm512_add_ps(_mm512_loadu_ps(y), v);
		_mm512_storeu_ps(y, v);
	}
}

/* hsum8 - layers.c's v8_hsum: the 8 lanes of V summed in its order */
static inline float
hsum8(const float *a)
{
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* lanes8_sum - the sum of V[0 .. NV-1] as layernorm_avx2 sums a row: 8
 * lanes, the row's 8-float chunks added in order, then hsum8 */
VNNI512_FN static inline float
lanes8_sum(const __m512 *v, int nv)
{
	__m256 acc = _mm256_setzero_ps();
	float a[8];

	for (int i = 0; i < nv; i++) {
		acc = _mm256_add_ps(acc, _mm512_castps512_ps256(v[i]));
		acc = _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(
			_mm512_castps_pd(v[i]), 1)));
	}
	_mm256_storeu_ps(a, acc);
	return hsum8(a);
}

/* layernorm_row_avx512 - one row of layernorm_forward (X, W, B: K floats,
 * K a multiple of 16 up to 256, held in registers) quantized as
 * quantize_row_avx2 would quantize it, into Q (K bytes) and *SCALE: one
 * read of the row, no f32 output. The same operations in the same order
 * as layernorm_avx2 then quantize_row_avx2 (the sums in its 8 lanes, the
 * max of |y| exact in any order), so the same bytes. */
#define LN_ROW_MAX 256
VNNI512_FN static void
layernorm_row_avx512(const float *x, const float *w, const float *b, int K,
		     float eps, gboolean offset, guint8 *q, float *scale)
{
	const int nv = K / 16;
	__m512 v[LN_ROW_MAX / 16], d[LN_ROW_MAX / 16];

	for (int i = 0; i < nv; i++)
		v[i] = _mm512_loadu_ps(x + 16 * i);
	const float m = lanes8_sum(v, nv) / (float)K;
	const __m512 vm = _mm512_set1_ps(m);
	for (int i = 0; i < nv; i++) {
		const __m512 t = _mm512_sub_ps(v[i], vm);
		d[i] = _mm512_mul_ps(t, t);
	}
	const float s = 1.0f / sqrtf(lanes8_sum(d, nv) / (float)K + eps);
	const __m512 vs = _mm512_set1_ps(s);
	__m512 vmax = _mm512_setzero_ps();
	for (int i = 0; i < nv; i++) {
		/* layernorm's (x - m) * s * w + b */
		v[i] = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(
			_mm512_sub_ps(v[i], vm), vs), _mm512_loadu_ps(w + 16 * i)),
			_mm512_loadu_ps(b + 16 * i));
		vmax = _mm512_max_ps(vmax, _mm512_abs_ps(v[i]));
	}
	const float amax = _mm512_reduce_max_ps(vmax);
	const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
	*scale = amax / 127.0f;
	const __m512 vinv = _mm512_set1_ps(inv);
	const __m128i off = _mm_set1_epi8(offset ? (char)0x80 : 0);
	for (int i = 0; i < nv; i++) {
		const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(v[i], vinv));
		_mm_storeu_si128((__m128i *)(void *)(q + 16 * i),
				 _mm_xor_si128(_mm512_cvtsepi32_epi8(r), off));
	}
}
#endif

/* ------------------------------------------------------------------ */
/* The product */

typedef void (*TileFn)(const QJob *, int, int);
typedef void (*QuantFn)(const float *, int, gsize, gboolean, guint8 *,
			float *);

/* Kernel - what one path runs: its tile of MR rows x one weight block,
 * its row quantizer, and whether its activations are offset by 128 */
typedef struct {
	TileFn tile;
	QuantFn quant;
	int mr;
	gboolean offset;
} Kernel;

static Kernel
kernel_of(QPath path)
{
	/* generic sums are signed: it reads the bytes as int8 */
	Kernel k = { tile_generic, quantize_row_generic, MR_GENERIC, FALSE };

#if HAVE_X86_BUILD
	switch (path) {
	case QPATH_AVX2:
		k = (Kernel) { tile_avx2, quantize_row_avx2, MR_AVX2, FALSE };
		break;
	case QPATH_AVXVNNI:
		k = (Kernel) { tile_avxvnni, quantize_row_avx2, MR_AVX2, TRUE };
		break;
	case QPATH_AVX512VNNI:
		k = (Kernel) { tile_avx512vnni, quantize_row_avx2, MR_AVX512,
			TRUE };
		break;
	default:
		break;
	}
#else
	(void)path;
#endif
	return k;
}

/* A calling thread's buffers, grown and never shrunk: slot 0 the
 * quantized activations of qmatmul_forward, slot 1 the f32 rows of the
 * fused c_fc (every thread of a team has its own). */
static void
scratch_free(gpointer p)
{
	free(p);
}
static GPrivate scratch_key[2] = {
	G_PRIVATE_INIT(scratch_free), G_PRIVATE_INIT(scratch_free),
};
static GPrivate scratch_size_key[2];

static guint8 *
scratch(int slot, gsize bytes)
{
	guint8 *p = g_private_get(&scratch_key[slot]);
	gsize have = GPOINTER_TO_SIZE(g_private_get(&scratch_size_key[slot]));

	if (p == NULL || have < bytes) {
		bytes = MAX(bytes, have * 2);
		p = aligned_zalloc(bytes);
		g_private_replace(&scratch_key[slot], p);
		g_private_set(&scratch_size_key[slot], GSIZE_TO_POINTER(bytes));
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* Quantized activations */

struct QActs {
	guint8 *q;		/* (rows, kp) */
	float *scale;		/* (rows) */
	int rows, K;
	gsize kp;		/* K rounded up to 4 */
	gboolean offset;	/* stored as a + 128, for the path that made them */
};

QActs *
qacts_new(int rows, int K)
{
	g_assert(rows > 0 && K > 0);
	QActs *a = g_new0(QActs, 1);

	a->rows = rows;
	a->K = K;
	a->kp = (gsize)(K + 3) / 4 * 4;
	a->q = aligned_zalloc((gsize)rows * a->kp);
	a->scale = aligned_zalloc((gsize)rows * sizeof(float));
	return a;
}

void
qacts_free(QActs *a)
{
	if (a == NULL)
		return;
	free(a->q);
	free(a->scale);
	g_free(a);
}

void
qacts_quantize(QActs *a, const float *inp, int r0, int N)
{
	const Kernel k = kernel_of(qmatmul_path());

	g_assert(r0 >= 0 && N >= 0 && r0 + N <= a->rows);
	a->offset = k.offset;
	for (int r = 0; r < N; r++)
		k.quant(inp + (gsize)r * a->K, a->K, a->kp, k.offset,
			a->q + (gsize)(r0 + r) * a->kp, &a->scale[r0 + r]);
}

void
qacts_layernorm(QActs *a, float *stage, const float *x, const float *w,
		const float *b, int N, float eps)
{
	const int K = a->K;

	g_assert(N >= 0 && N <= a->rows);
#if HAVE_X86_BUILD
	/* where layers.c runs layernorm_avx2, whose values it repeats */
	if (qmatmul_path() == QPATH_AVX512VNNI && layers_simd() &&
	    K % 16 == 0 && K <= LN_ROW_MAX) {
		a->offset = kernel_of(QPATH_AVX512VNNI).offset;
		for (int r = 0; r < N; r++)
			layernorm_row_avx512(x + (gsize)r * K, w, b, K, eps,
					     a->offset, a->q + (gsize)r * a->kp,
					     &a->scale[r]);
		return;
	}
#endif
	for (int r0 = 0; r0 < N; r0 += QACTS_STAGE_ROWS) {
		const int n = MIN(QACTS_STAGE_ROWS, N - r0);
		layernorm_forward(stage, NULL, NULL, x + (gsize)r0 * K, w, b, n,
				  K, eps);
		qacts_quantize(a, stage, r0, n);
	}
}

/* ------------------------------------------------------------------ */
/* Threads */

/* One thread's share of a product: row tiles [T * nrt / nt, (T + 1) *
 * nrt / nt), quantized and multiplied by every weight block. Threads
 * share nothing they write, so they need no barrier. */
typedef struct {
	const QJob *j;
	Kernel k;
	int nrt;
} QPart;

/* The fused c_fc's f32 rows of one chunk: about 128 KiB (in L2) */
#define GELU_CHUNK_FLOATS 32768

/* part_run_gelu - row tiles T0 .. T1 - 1 of a qmatmul_gelu_forward_q:
 * a chunk of tiles at a time, every block into the thread's f32 rows,
 * then their GELU, then quantized into the job's gelu_to */
static void
part_run_gelu(const QPart *p, int t0, int t1)
{
	const QJob *j = p->j;
	const int OC = j->m->OC, mr = p->k.mr;
	const int ct = MAX(1, GELU_CHUNK_FLOATS / (mr * OC));
	QActs *dst = j->gelu_to;
	QJob cj = *j;

	cj.out = (float *)(void *)scratch(1, (gsize)ct * mr * OC *
					  sizeof(float));
	for (int c0 = t0; c0 < t1; c0 += ct) {
		const int c1 = MIN(c0 + ct, t1);
		const int rbeg = c0 * mr, rend = MIN(c1 * mr, j->N);

		cj.orow0 = rbeg;
		for (int ob = 0; ob < j->m->ocb; ob++)
			for (int rt = c0; rt < c1; rt++)
				p->k.tile(&cj, rt * mr, ob);
		gelu_forward(cj.out, cj.out, (gsize)(rend - rbeg) * OC);
		for (int r = rbeg; r < rend; r++)
			p->k.quant(cj.out + (gsize)(r - rbeg) * OC, OC, dst->kp,
				   dst->offset, dst->q + (gsize)r * dst->kp,
				   &dst->scale[r]);
	}
}

static void
part_run(const QPart *p, int t, int nt)
{
	const QJob *j = p->j;
	const int mr = p->k.mr;
	const int t0 = (int)((gint64)p->nrt * t / nt);
	const int t1 = (int)((gint64)p->nrt * (t + 1) / nt);
	const int r1 = MIN(t1 * mr, j->N);

	if (j->inp != NULL)
		for (int r = t0 * mr; r < r1; r++)
			p->k.quant(j->inp + (gsize)r * j->m->K, j->m->K, j->kp,
				   j->offset, j->qa + (gsize)r * j->kp,
				   &j->sa[r]);
	if (j->gelu_to != NULL) {
		part_run_gelu(p, t0, t1);
		return;
	}
	/* block-major: one weight block stays in L1 down the rows */
	for (int ob = 0; ob < j->m->ocb; ob++)
		for (int rt = t0; rt < t1; rt++)
			p->k.tile(j, rt * mr, ob);
}

/* The team: helpers 1 .. size-1 (the caller is 0), started on first use,
 * one product at a time (a second caller meanwhile runs alone). */
#define TEAM_MAX 64
static struct {
	GMutex busy;		/* held by the caller whose product runs */
	GMutex mu;
	GCond start, done;
	guint gen;		/* products handed out */
	int size;		/* threads started + 1 */
	int nt;			/* threads of the current product */
	int pending;		/* helpers not done with it */
	const QPart *part;
} team;

static gpointer
team_helper(gpointer data)
{
	const int t = GPOINTER_TO_INT(data);
	guint seen = 0;

	g_mutex_lock(&team.mu);
	for (;;) {
		while (team.gen == seen)
			g_cond_wait(&team.start, &team.mu);
		seen = team.gen;
		if (t >= team.nt)
			continue;
		const QPart *p = team.part;
		const int nt = team.nt;
		g_mutex_unlock(&team.mu);
		part_run(p, t, nt);
		g_mutex_lock(&team.mu);
		if (--team.pending == 0)
			g_cond_signal(&team.done);
	}
	return NULL;
}

/* team_run - P on NT threads (the caller one of them) */
static void
team_run(const QPart *p, int nt)
{
	nt = CLAMP(nt, 1, TEAM_MAX);
	if (nt == 1 || !g_mutex_trylock(&team.busy)) {
		part_run(p, 0, 1);
		return;
	}
	g_mutex_lock(&team.mu);
	for (; team.size < nt; team.size++) {
		if (team.size == 0)
			team.size = 1;	/* the caller */
		GThread *th = g_thread_new("qmatmul", team_helper,
					   GINT_TO_POINTER(team.size));
		g_thread_unref(th);	/* helpers live as long as the process */
	}
	team.part = p;
	team.nt = nt;
	team.pending = nt - 1;
	team.gen++;
	g_cond_broadcast(&team.start);
	g_mutex_unlock(&team.mu);
	part_run(p, 0, nt);
	g_mutex_lock(&team.mu);
	while (team.pending > 0)
		g_cond_wait(&team.done, &team.mu);
	g_mutex_unlock(&team.mu);
	g_mutex_unlock(&team.busy);
}

/* run_job - J on the threads its size is worth */
static void
run_job(const QJob *j, const Kernel *k)
{
	const int nrt = (j->N + k->mr - 1) / k->mr;
	int nt = g_atomic_int_get(&n_threads);

	/* below ~1 M multiply-adds (the compacted last block's few rows) a
	 * second thread costs more than it saves */
	if ((gint64)j->N * j->m->K * j->m->OC < (1 << 20))
		nt = 1;
	QPart part = { .j = j, .k = *k, .nrt = nrt };
	team_run(&part, MIN(nt, nrt));
}

void
qmatmul_forward(float *out, const float *inp, const QMatrix *m,
		const float *bias, int N, gboolean accumulate)
{
	if (N <= 0)
		return;
	const Kernel k = kernel_of(qmatmul_path());
	const gsize kp = (gsize)m->k4 * 4;
	const gsize rows_bytes = ((gsize)N * kp + 63) & ~(gsize)63;
	guint8 *qa = scratch(0, rows_bytes + (gsize)N * sizeof(float));
	const QJob j = {
		.out = out, .inp = inp, .m = m, .bias = bias, .N = N,
		.accumulate = accumulate, .offset = k.offset, .kp = kp,
		.qa = qa, .sa = (float *)(void *)(qa + rows_bytes),
	};

	run_job(&j, &k);
}

void
qmatmul_forward_q(float *out, const QActs *a, const QMatrix *m,
		  const float *bias, int N, gboolean accumulate)
{
	if (N <= 0)
		return;
	const Kernel k = kernel_of(qmatmul_path());
	g_assert(a->K == m->K && N <= a->rows && a->offset == k.offset);
	const QJob j = {
		.out = out, .m = m, .bias = bias, .N = N,
		.accumulate = accumulate, .offset = k.offset, .kp = a->kp,
		.qa = a->q, .sa = a->scale,
	};

	run_job(&j, &k);
}

void
qmatmul_gelu_forward_q(QActs *dst, const QActs *a, const QMatrix *m,
		       const float *bias, int N)
{
	if (N <= 0)
		return;
	const Kernel k = kernel_of(qmatmul_path());
	g_assert(a->K == m->K && N <= a->rows && a->offset == k.offset);
	g_assert(dst->K == m->OC && N <= dst->rows && dst != a);
	dst->offset = k.offset;
	const QJob j = {
		.m = m, .bias = bias, .N = N, .offset = k.offset, .kp = a->kp,
		.qa = a->q, .sa = a->scale, .gelu_to = dst,
	};

	run_job(&j, &k);
}
