/*
 * test_attention.c - tests of the attention kernels (src/core/layers.c)
 *
 * Owns: attention_forward and attention_forward_bf16 on random q, k, v
 * made here, in a ragged batch of lengths around the kernels' tiles (1, 2,
 * 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 255, 256), each in a scratch of
 * exactly ATTENTION_SCRATCH(the longest) floats (ASan sees an overrun):
 *	- attention_forward (the AVX-512 kernel for heads of 32 where the CPU
 *	  has it, two sgemms per block elsewhere) within 1e-5 of a float64
 *	  reference, relative to the largest output, for heads of 32 and 16
 *	- attention_forward_bf16 within 2e-2 of it (bf16 keeps 8 significant
 *	  bits; measured 5e-3), and the same as attention_forward where its
 *	  kernel does not run (other head sizes, or no AVX512-BF16)
 *	- every output finite, and outputs of one sequence independent of
 *	  the others (the batch against each sequence alone, bit for bit)
 * Prints whether the bf16 kernel ran on this CPU.
 * Exit status: 0 when every check passed, 1 otherwise.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "layers.h"
#include "check.h"

/* reference - out (N, C) of qkv (N, 3C) in float64, from the definition */
static void
reference(double *out, const float *qkv, const int *lens, int B, int C,
	  int NH)
{
	const int hs = C / NH, C3 = 3 * C;
	g_autofree double *p = g_new(double, 1024);
	gsize off = 0;

	for (int b = 0; b < B; b++) {
		const int T = lens[b];
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = qkv + (off + t) * C3 + h * hs;
				double mx = -INFINITY, sum = 0.0;
				for (int j = 0; j <= t; j++) {
					const float *k = qkv + (off + j) * C3 + C +
					    h * hs;
					double s = 0.0;
					for (int d = 0; d < hs; d++)
						s += (double)q[d] * k[d];
					p[j] = s / sqrt((double)hs);
					mx = MAX(mx, p[j]);
				}
				for (int j = 0; j <= t; j++)
					sum += p[j] = exp(p[j] - mx);
				for (int d = 0; d < hs; d++) {
					double o = 0.0;
					for (int j = 0; j <= t; j++)
						o += p[j] * qkv[(off + j) * C3 + 2 * C +
								h * hs + d];
					out[(off + t) * C + h * hs + d] = o / sum;
				}
			}
		off += T;
	}
}

typedef void (*AttnFn)(float *, float *, const float *, const int *, int,
		       int, int);

/* max_rel - max |a - b| over max |ref|, N floats; *FINITE false when a
 * value of A is not finite */
static double
max_rel(const float *a, const double *ref, gsize n, gboolean *finite)
{
	double e = 0.0, m = 0.0;

	for (gsize i = 0; i < n; i++) {
		if (!isfinite(a[i]))
			*finite = FALSE;
		e = MAX(e, fabs(a[i] - ref[i]));
		m = MAX(m, fabs(ref[i]));
	}
	return e / m;
}

static void
one_width(GRand *r, int C, int NH)
{
	const int lens[] = { 256, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100,
		255 };
	const int B = G_N_ELEMENTS(lens);
	int N = 0, Tmax = 0;

	for (int b = 0; b < B; b++) {
		N += lens[b];
		Tmax = MAX(Tmax, lens[b]);
	}
	g_autofree float *qkv = g_new(float, (gsize)N * 3 * C);
	g_autofree float *scratch = g_new(float, ATTENTION_SCRATCH(Tmax));
	g_autofree float *f32 = g_new(float, (gsize)N * C);
	g_autofree float *bf = g_new(float, (gsize)N * C);
	g_autofree float *one = g_new(float, (gsize)N * C);
	g_autofree double *ref = g_new(double, (gsize)N * C);
	g_autofree double *f32d = g_new(double, (gsize)N * C);

	/* q and k of a few units: softmaxes from flat to peaked */
	for (gsize i = 0; i < (gsize)N * 3 * C; i++)
		qkv[i] = (float)g_rand_double_range(r, -2.0, 2.0);
	reference(ref, qkv, lens, B, C, NH);
	const AttnFn fns[] = { attention_forward, attention_forward_bf16 };
	const char *const names[] = { "attention_forward",
		"attention_forward_bf16" };
	float *outs[] = { f32, bf };
	for (int f = 0; f < 2; f++) {
		gboolean finite = TRUE;
		fns[f](outs[f], scratch, qkv, lens, B, C, NH);
		const double e = max_rel(outs[f], ref, (gsize)N * C, &finite);
		const double tol = f == 0 ? 1e-5 : 2e-2;
		CHECK(finite, "%s, C %d NH %d: a value not finite", names[f], C,
		      NH);
		CHECK(e <= tol, "%s, C %d NH %d: rel err %.2e of the float64 "
		      "reference (<= %g)", names[f], C, NH, e, tol);
		printf("%s, heads of %d: rel err %.2e\n", names[f], C / NH, e);
		/* each sequence alone gives its rows of the batch */
		gsize off = 0;
		gsize bad = 0;
		for (int b = 0; b < B; b++) {
			fns[f](one, scratch, qkv + off * 3 * C, &lens[b], 1, C, NH);
			bad += memcmp(one, outs[f] + off * C, (gsize)lens[b] * C *
				      sizeof(float)) != 0;
			off += lens[b];
		}
		CHECK(bad == 0, "%s, C %d NH %d: %" G_GSIZE_FORMAT " sequences "
		      "differ alone", names[f], C, NH, bad);
	}
	if (C / NH != 32 || !layers_bf16()) {
		CHECK(memcmp(f32, bf, (gsize)N * C * sizeof(float)) == 0,
		      "C %d NH %d: attention_forward_bf16 is attention_forward "
		      "where its kernel does not run", C, NH);
	} else {
		for (gsize i = 0; i < (gsize)N * C; i++)
			f32d[i] = f32[i];
		gboolean finite = TRUE;
		const double e = max_rel(bf, f32d, (gsize)N * C, &finite);
		CHECK(e <= 2e-2, "C %d NH %d: bf16 vs f32 rel diff %.2e", C, NH,
		      e);
	}
}

int
main(void)
{
	g_autoptr(GRand) r = g_rand_new_with_seed(31);

	printf("bf16 attention kernel: %s\n", layers_bf16() ? "yes" : "no");
	one_width(r, 128, 4);	/* heads of 32: the default model */
	one_width(r, 64, 2);	/* heads of 32, two of them */
	one_width(r, 64, 4);	/* heads of 16: the sgemm path */
	return check_summary("test_attention");
}
