/*
 * test_qmatmul.c - tests of the int8 product (src/core/qmatmul.c)
 *
 * Owns: the kernels on their own, on random data made here:
 *	- the generic path equals, bit for bit, a product computed here from
 *	  the definition (per-row activation scale max|x|/127, round to
 *	  nearest even, exact integer sums, the f32 epilogue in qmatmul.h's
 *	  order), for = and += and with and without a bias
 *	- every SIMD path this CPU has (AVX2, AVX-VNNI, AVX512-VNNI) equals the
 *	  generic one bit for bit, on shapes with K not a multiple of 4, OC
 *	  not a multiple of 16, N not a multiple of the row tiles, zero rows
 *	  and rows with one huge value; with 1 and 2 threads
 *	- the product is within the quantization error of the f32 one
 *	- quantize / export / dequantize round trips
 *	- rows quantized beforehand (qacts_quantize, in two pieces) give
 *	  qmatmul_forward_q the same outputs as qmatmul_forward, bit for bit,
 *	  and the fused c_fc (qmatmul_gelu_forward_q, in row chunks of the
 *	  thread's buffer) the same int8 rows as the product, gelu_forward
 *	  and quantizing one after the other (checked through a second
 *	  product), on every path, 1 and 2 threads; and that chain stays
 *	  within 3% (relative L2) of the f64 one from the f32 weights
 *	- qacts_layernorm (the AVX512-VNNI path's one pass over a row in
 *	  registers, or its fallback) gives the bytes of layernorm_forward
 *	  then qacts_quantize, checked through a product, bit for bit, on
 *	  every path, for widths it takes and widths it leaves
 * Prints the paths it ran, so a log shows what this CPU covered.
 * Exit status: 0 when every check passed, 1 otherwise.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "layers.h"
#include "qmatmul.h"
#include "check.h"

static float
rnd(GRand *r)
{
	return (float)g_rand_double_range(r, -1.0, 1.0);
}

/* reference - out (N, OC) from the definition, with QMatrix M's values */
static void
reference(float *out, const float *x, const QMatrix *m, const float *bias,
	  int N, gboolean accumulate)
{
	const int K = qmatrix_k(m), OC = qmatrix_oc(m);
	g_autofree int8_t *q = g_new(int8_t, (gsize)K * OC);
	g_autofree float *sw = g_new(float, OC);
	g_autofree int8_t *qa = g_new(int8_t, K);

	qmatrix_export(m, q, sw);
	for (int n = 0; n < N; n++) {
		float amax = 0.0f;
		for (int k = 0; k < K; k++)
			amax = MAX(amax, fabsf(x[(gsize)n * K + k]));
		const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
		const float sa = amax / 127.0f;
		for (int k = 0; k < K; k++)
			qa[k] = (int8_t)nearbyintf(x[(gsize)n * K + k] * inv);
		for (int o = 0; o < OC; o++) {
			int32_t acc = 0;
			for (int k = 0; k < K; k++)
				acc += qa[k] * q[(gsize)k * OC + o];
			const float d = sa * sw[o];
			const float v = (float)acc * d + (bias ? bias[o] : 0.0f);
			float *y = &out[(gsize)n * OC + o];
			*y = accumulate ? *y + v : v;
		}
	}
}

/* one_shape - every path on N x K x OC against the reference */
static void
one_shape(GRand *r, int N, int K, int OC)
{
	g_autofree float *w = g_new(float, (gsize)K * OC);
	g_autofree float *x = g_new(float, (gsize)N * K);
	g_autofree float *bias = g_new(float, OC);
	g_autofree float *init = g_new(float, (gsize)N * OC);
	g_autofree float *want = g_new(float, (gsize)N * OC);
	g_autofree float *got = g_new(float, (gsize)N * OC);
	g_autofree float *f32 = g_new0(float, (gsize)N * OC);

	for (gsize i = 0; i < (gsize)K * OC; i++)
		w[i] = rnd(r) * 0.05f;
	for (int k = 0; k < K; k++)	/* one zero output channel */
		w[(gsize)k * OC + OC / 2] = 0.0f;
	for (gsize i = 0; i < (gsize)N * K; i++)
		x[i] = rnd(r) * 3.0f;
	if (N > 2) {
		memset(x + K, 0, K * sizeof(float));	/* a zero row */
		x[2 * K + K / 3] = 400.0f;	/* an outlier channel */
	}
	for (int o = 0; o < OC; o++)
		bias[o] = rnd(r);
	for (gsize i = 0; i < (gsize)N * OC; i++)
		init[i] = rnd(r);
	g_autoptr(QMatrix) m = qmatrix_quantize(w, K, OC);

	/* f32 product, for the quantization error */
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++) {
			double s = bias[o];
			for (int k = 0; k < K; k++)
				s += (double)x[(gsize)n * K + k] * w[(gsize)k * OC + o];
			f32[(gsize)n * OC + o] = (float)s;
		}

	for (int acc = 0; acc < 2; acc++)
		for (int with_bias = 0; with_bias < 2; with_bias++) {
			const float *b = with_bias ? bias : NULL;
			memcpy(want, init, (gsize)N * OC * sizeof(float));
			reference(want, x, m, b, N, acc);
			for (int p = 0; p < QPATH_N; p++) {
				if (!qmatmul_path_supported((QPath)p))
					continue;
				qmatmul_force_path((QPath)p);
				for (int t = 1; t <= 2; t++) {
					qmatmul_set_threads(t);
					memcpy(got, init, (gsize)N * OC * sizeof(float));
					qmatmul_forward(got, x, m, b, N, acc);
					gsize bad = 0, first = 0;
					for (gsize i = 0; i < (gsize)N * OC; i++)
						if (memcmp(&got[i], &want[i], sizeof(float)) != 0 &&
						    bad++ == 0)
							first = i;
					CHECK(bad == 0, "%s, %d threads, N %d K %d OC %d, "
					      "+= %d, bias %d: %" G_GSIZE_FORMAT " outputs "
					      "differ from the definition, first [%"
					      G_GSIZE_FORMAT "] %.9g != %.9g",
					      qmatmul_path_name((QPath)p), t, N, K, OC,
					      acc, with_bias, bad, first, got[first],
					      want[first]);
				}
			}
		}

	/* the int8 product is within a few steps of the f32 one: per row
	 * the error is bounded by what rounding both factors loses */
	qmatmul_force_path(QPATH_GENERIC);
	qmatmul_forward(got, x, m, bias, N, FALSE);
	double worst = 0.0;
	for (int n = 0; n < N; n++) {
		double amax = 0.0, wmax = 0.0;
		for (int k = 0; k < K; k++)
			amax = MAX(amax, fabs(x[(gsize)n * K + k]));
		for (gsize i = 0; i < (gsize)K * OC; i++)
			wmax = MAX(wmax, fabs(w[i]));
		/* |x| <= amax, |w| <= wmax, each rounded by half a step */
		const double bound = K * (amax / 254.0 * wmax + wmax / 254.0 * amax +
					  amax / 254.0 * wmax / 254.0) + 1e-5;
		for (int o = 0; o < OC; o++) {
			double e = fabs(got[(gsize)n * OC + o] - f32[(gsize)n * OC + o]);
			worst = MAX(worst, e / bound);
		}
	}
	CHECK(worst <= 1.0, "N %d K %d OC %d: error %.3f of the bound", N, K,
	      OC, worst);
}

/* bit_diff - outputs of A and B (N floats) that differ bit for bit */
static gsize
bit_diff(const float *a, const float *b, gsize n)
{
	gsize bad = 0;

	for (gsize i = 0; i < n; i++)
		bad += memcmp(&a[i], &b[i], sizeof(float)) != 0;
	return bad;
}

/* fused_shape - N x K -> OC (c_fc, GELU) -> OC2, the int8 pass's MLP:
 * pre-quantized and fused forms against the plain ones, every path */
static void
fused_shape(GRand *r, int N, int K, int OC, int OC2)
{
	g_autofree float *w = g_new(float, (gsize)K * OC);
	g_autofree float *w2 = g_new(float, (gsize)OC * OC2);
	g_autofree float *x = g_new(float, (gsize)N * K);
	g_autofree float *b = g_new(float, OC);
	g_autofree float *b2 = g_new(float, OC2);
	g_autofree float *h = g_new(float, (gsize)N * OC);
	g_autofree float *hq = g_new(float, (gsize)N * OC);
	g_autofree float *want = g_new(float, (gsize)N * OC2);
	g_autofree float *got = g_new(float, (gsize)N * OC2);

	for (gsize i = 0; i < (gsize)K * OC; i++)
		w[i] = rnd(r) * 0.2f;
	for (gsize i = 0; i < (gsize)OC * OC2; i++)
		w2[i] = rnd(r) * 0.1f;
	for (gsize i = 0; i < (gsize)N * K; i++)
		x[i] = rnd(r) * 2.0f;
	for (int o = 0; o < OC; o++)
		b[o] = rnd(r);
	for (int o = 0; o < OC2; o++)
		b2[o] = rnd(r);
	g_autoptr(QMatrix) m = qmatrix_quantize(w, K, OC);
	g_autoptr(QMatrix) m2 = qmatrix_quantize(w2, OC, OC2);
	g_autoptr(QActs) a = qacts_new(N + 3, K);
	g_autoptr(QActs) d = qacts_new(N, OC);

	for (int p = 0; p < QPATH_N; p++) {
		if (!qmatmul_path_supported((QPath)p))
			continue;
		qmatmul_force_path((QPath)p);
		for (int t = 1; t <= 2; t++) {
			const char *pn = qmatmul_path_name((QPath)p);
			qmatmul_set_threads(t);
			/* the plain chain */
			qmatmul_forward(h, x, m, b, N, FALSE);
			gelu_forward(h, h, (gsize)N * OC);
			qmatmul_forward(want, h, m2, b2, N, FALSE);
			/* pre-quantized rows, made in two pieces */
			qacts_quantize(a, x, 0, N / 2);
			qacts_quantize(a, x + (gsize)(N / 2) * K, N / 2, N - N / 2);
			qmatmul_forward_q(hq, a, m, b, N, FALSE);
			gelu_forward(hq, hq, (gsize)N * OC);
			gsize bad = bit_diff(hq, h, (gsize)N * OC);
			CHECK(bad == 0, "%s, %d threads, N %d K %d OC %d: %"
			      G_GSIZE_FORMAT " outputs of qmatmul_forward_q differ",
			      pn, t, N, K, OC, bad);
			/* += on the pre-quantized rows */
			memcpy(got, want, (gsize)N * OC2 * sizeof(float));
			qacts_quantize(d, h, 0, N);
			qmatmul_forward_q(got, d, m2, b2, N, TRUE);
			memcpy(hq, want, (gsize)N * OC2 * sizeof(float));
			qmatmul_forward(hq, h, m2, b2, N, TRUE);
			bad = bit_diff(got, hq, (gsize)N * OC2);
			CHECK(bad == 0, "%s, %d threads, N %d OC %d OC2 %d: %"
			      G_GSIZE_FORMAT " outputs of += differ", pn, t, N, OC,
			      OC2, bad);
			/* the fused c_fc */
			qmatmul_gelu_forward_q(d, a, m, b, N);
			qmatmul_forward_q(got, d, m2, b2, N, FALSE);
			bad = bit_diff(got, want, (gsize)N * OC2);
			CHECK(bad == 0, "%s, %d threads, N %d K %d OC %d OC2 %d: %"
			      G_GSIZE_FORMAT " outputs after the fused c_fc differ",
			      pn, t, N, K, OC, OC2, bad);
		}
	}

	/* the int8 chain against f64 from the f32 weights */
	double num = 0, den = 0;
	g_autofree double *hd = g_new(double, OC);
	for (int n = 0; n < N; n++) {
		for (int o = 0; o < OC; o++) {
			double s = b[o];
			for (int k = 0; k < K; k++)
				s += (double)x[(gsize)n * K + k] * w[(gsize)k * OC + o];
			hd[o] = 0.5 * s * (1.0 + tanh(0.7978845608028654 *
						      (s + 0.044715 * s * s * s)));
		}
		for (int o = 0; o < OC2; o++) {
			double s = b2[o];
			for (int k = 0; k < OC; k++)
				s += hd[k] * w2[(gsize)k * OC2 + o];
			const double e = got[(gsize)n * OC2 + o] - s;
			num += e * e;
			den += s * s;
		}
	}
	CHECK(sqrt(num / den) <= 0.03, "N %d K %d OC %d OC2 %d: relative error "
	      "%.4f of the int8 chain", N, K, OC, OC2, sqrt(num / den));
}

/* layernorm_shape - qacts_layernorm of N rows of K against
 * layernorm_forward + qacts_quantize, through a product K -> OC */
static void
layernorm_shape(GRand *r, int N, int K, int OC)
{
	g_autofree float *x = g_new(float, (gsize)N * K);
	g_autofree float *w = g_new(float, K), *b = g_new(float, K);
	g_autofree float *ln = g_new(float, (gsize)N * K);
	g_autofree float *stage = g_new(float, (gsize)QACTS_STAGE_ROWS * K);
	g_autofree float *wm = g_new(float, (gsize)K * OC);
	g_autofree float *want = g_new(float, (gsize)N * OC);
	g_autofree float *got = g_new(float, (gsize)N * OC);

	/* rows with an offset and a few large channels, as a residual
	 * stream has */
	for (int n = 0; n < N; n++)
		for (int k = 0; k < K; k++)
			x[(gsize)n * K + k] = rnd(r) * (k % 7 == 0 ? 20.0f : 1.0f) +
			    (float)n;
	for (int k = 0; k < K; k++) {
		w[k] = 1.0f + rnd(r) * 0.5f;
		b[k] = rnd(r) * 0.2f;
	}
	for (gsize i = 0; i < (gsize)K * OC; i++)
		wm[i] = rnd(r) * 0.1f;
	g_autoptr(QMatrix) m = qmatrix_quantize(wm, K, OC);
	g_autoptr(QActs) a = qacts_new(N, K);
	g_autoptr(QActs) a2 = qacts_new(N, K);

	layernorm_forward(ln, NULL, NULL, x, w, b, N, K, 1e-5f);
	for (int p = 0; p < QPATH_N; p++) {
		if (!qmatmul_path_supported((QPath)p))
			continue;
		qmatmul_force_path((QPath)p);
		qmatmul_set_threads(1);
		qacts_quantize(a2, ln, 0, N);
		qmatmul_forward_q(want, a2, m, NULL, N, FALSE);
		qacts_layernorm(a, stage, x, w, b, N, 1e-5f);
		qmatmul_forward_q(got, a, m, NULL, N, FALSE);
		const gsize bad = bit_diff(got, want, (gsize)N * OC);
		CHECK(bad == 0, "%s, N %d K %d: %" G_GSIZE_FORMAT " outputs after "
		      "qacts_layernorm differ", qmatmul_path_name((QPath)p), N,
		      K, bad);
	}
}

static void
test_round_trip(GRand *r)
{
	const int K = 7, OC = 19;
	float w[7 * 19], back[7 * 19], scale[19];
	int8_t q[7 * 19], q2[7 * 19];

	for (int i = 0; i < K * OC; i++)
		w[i] = rnd(r);
	qmatrix_quantize_values(w, K, OC, q, scale);
	g_autoptr(QMatrix) m = qmatrix_new(q, scale, K, OC);
	float s2[19];
	qmatrix_export(m, q2, s2);
	CHECK(memcmp(q, q2, sizeof q) == 0, "export returns the values");
	CHECK(memcmp(scale, s2, sizeof scale) == 0, "export returns the scales");
	qmatrix_dequantize(m, back);
	int maxq = 0;
	for (int i = 0; i < K * OC; i++) {
		const int o = i % OC;
		CHECK(fabsf(back[i] - w[i]) <= scale[o] * 0.5f + 1e-7f,
		      "dequantized [%d] %.6g vs %.6g", i, back[i], w[i]);
		maxq = MAX(maxq, abs(q[i]));
	}
	CHECK(maxq == 127, "the largest weight maps to 127 (got %d)", maxq);
}

int
main(void)
{
	g_autoptr(GRand) r = g_rand_new_with_seed(19);

	printf("paths:");
	for (int p = 0; p < QPATH_N; p++)
		if (qmatmul_path_supported((QPath)p))
			printf(" %s", qmatmul_path_name((QPath)p));
	printf(" (default %s)\n", qmatmul_path_name(qmatmul_path()));
	test_round_trip(r);
	const int shapes[][3] = {
		{ 1, 128, 384 }, { 13, 128, 128 }, { 37, 512, 128 },
		{ 9, 13, 37 }, { 3, 4, 16 }, { 70, 36, 108 }, { 256, 64, 48 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(shapes); i++)
		one_shape(r, shapes[i][0], shapes[i][1], shapes[i][2]);
	/* the default model's MLP over several chunks of the fused c_fc's
	 * buffer, a width whose chunk is one tile, odd sizes */
	const int fshapes[][4] = {
		{ 300, 128, 512, 128 }, { 19, 40, 4100, 24 }, { 37, 13, 37, 5 },
		{ 1, 8, 16, 16 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(fshapes); i++)
		fused_shape(r, fshapes[i][0], fshapes[i][1], fshapes[i][2],
			    fshapes[i][3]);
	/* widths the one-pass LayerNorm takes (multiples of 16 up to 256)
	 * and leaves (not a multiple of 16, wider) */
	const int lshapes[][3] = {
		{ 37, 128, 48 }, { 40, 256, 16 }, { 5, 16, 20 }, { 33, 48, 33 },
		{ 9, 36, 16 }, { 70, 272, 16 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(lshapes); i++)
		layernorm_shape(r, lshapes[i][0], lshapes[i][1], lshapes[i][2]);
	return check_summary("test_qmatmul");
}
