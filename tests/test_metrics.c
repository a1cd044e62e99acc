/*
 * test_metrics.c - evaluation arithmetic on hand-made score lists
 */
#include <math.h>
#include <stdio.h>

#include "classifier.h"
#include "metrics.h"
#include "check.h"

static void
test_auc(void)
{
	/* pos {0.9, 0.8} vs neg {0.1, 0.8}: 3 wins + 1 tie of 4 pairs */
	double s[] = { 0.9, 0.8, 0.1, 0.8 };
	gboolean y[] = { 1, 1, 0, 0 };
	double auc = metrics_roc_auc(s, y, 4);
	CHECK(fabs(auc - 0.875) < 1e-12, "auc with tie %g", auc);

	double p[] = { 0.1, 0.2, 0.3, 0.7, 0.8 };
	gboolean yp[] = { 0, 0, 0, 1, 1 };
	CHECK(metrics_roc_auc(p, yp, 5) == 1.0, "perfect");
	gboolean yi[] = { 1, 1, 0, 0, 0 };
	CHECK(metrics_roc_auc(p, yi, 5) == 0.0, "inverted");
	double e[] = { 0.5, 0.5, 0.5, 0.5 };
	CHECK(metrics_roc_auc(e, y, 4) == 0.5, "all tied");
	gboolean one[] = { 1, 1, 1, 1 };
	CHECK(isnan(metrics_roc_auc(e, one, 4)), "one class gives NaN");
	/* 2 pos x 3 neg; pos 0.35 beats 0.1, 0.3 and loses to 0.4; pos 0.5
	 * beats all: 5 / 6 */
	double q[] = { 0.1, 0.35, 0.3, 0.5, 0.4 };
	gboolean yq[] = { 0, 1, 0, 1, 0 };
	CHECK(fabs(metrics_roc_auc(q, yq, 5) - 5.0 / 6.0) < 1e-12, "5/6");
}

static void
test_binary(void)
{
	double s[] = { 0.9, 0.6, 0.4, 0.2, 0.7, 0.1 };
	gboolean y[] = { 1, 1, 1, 0, 0, 0 };
	MetricsBinary m;

	metrics_binary(s, y, 6, 0.5, &m);
	CHECK(m.tp == 2 && m.fn == 1 && m.fp == 1 && m.tn == 2,
	      "counts %zu %zu %zu %zu", m.tp, m.fn, m.fp, m.tn);
	CHECK(fabs(m.accuracy - 4.0 / 6.0) < 1e-12, "accuracy");
	CHECK(fabs(m.precision - 2.0 / 3.0) < 1e-12, "precision");
	CHECK(fabs(m.recall - 2.0 / 3.0) < 1e-12, "recall");
	CHECK(fabs(m.f1 - 2.0 / 3.0) < 1e-12, "f1");
	CHECK(fabs(m.fpr - 1.0 / 3.0) < 1e-12, "fpr");
	CHECK(fabs(m.fnr - 1.0 / 3.0) < 1e-12, "fnr");
}

static void
test_threshold(void)
{
	double s[20];
	gboolean y[20];
	double fpr;

	/* negatives 0.00 .. 0.90, positives 0.55 .. 1.00 */
	for (int i = 0; i < 10; i++) {
		s[i] = i / 10.0;
		y[i] = 0;
		s[10 + i] = 0.55 + i * 0.05;
		y[10 + i] = 1;
	}
	double t = metrics_threshold_for_fpr(s, y, 20, 0.1, &fpr);
	CHECK(t > 0.8 && t <= 0.9, "1 of 10 allowed: t %g", t);
	CHECK(fabs(fpr - 0.1) < 1e-12, "achieved %g", fpr);
	t = metrics_threshold_for_fpr(s, y, 20, 0.0, &fpr);
	CHECK(t > 0.9 && t < 0.9 + 1e-9 && fpr == 0.0, "none allowed: t %.17g",
	      t);
	t = metrics_threshold_for_fpr(s, y, 20, 0.25, &fpr);
	CHECK(t > 0.7 && t <= 0.8 && fabs(fpr - 0.2) < 1e-12,
	      "2.5 of 10 -> 2: t %g fpr %g", t, fpr);
	t = metrics_threshold_for_fpr(s, y, 20, 1.0, &fpr);
	CHECK(t == 0.0 && fpr == 1.0, "all allowed");

	/* ties: three negatives at 0.5 cannot be split, so an allowance of one
	 * must put the threshold above all three */
	double u[] = { 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 };
	gboolean yu[10] = { 0 };
	t = metrics_threshold_for_fpr(u, yu, 10, 0.1, &fpr);
	CHECK(t > 0.5 && fpr == 0.0, "ties: t %g fpr %g", t, fpr);
}

static void
test_confusion_softmax(void)
{
	float logits[] = { 2, 0, 0, 0, 3, 0, 1, 0, 0 };	/* 3 x 3 */
	int labels[] = { 0, 1, 2 };
	float probs[9];
	gsize cm[9];

	for (int i = 0; i < 3; i++)
		classifier_softmax(probs + 3 * i, logits + 3 * i, 3, 1.0f);
	CHECK(fabsf(probs[0] + probs[1] + probs[2] - 1.0f) < 1e-6f, "sum");
	CHECK(fabsf(probs[0] - expf(2) / (expf(2) + 2)) < 1e-6f, "softmax");
	metrics_confusion(probs, labels, 3, 3, cm);
	CHECK(cm[0] == 1 && cm[4] == 1 && cm[2 * 3 + 0] == 1 && cm[8] == 0,
	      "confusion");
	double nll = metrics_nll(logits, labels, 3, 3, 1.0);
	double want = (-log(probs[0]) - log(probs[4]) - log(probs[8])) / 3.0;
	CHECK(fabs(nll - want) < 1e-5, "nll %g want %g", nll, want);
}

/* xorshift64*, so the test needs nothing but itself */
static double
uniform(guint64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void
test_calibration(void)
{
	/* Labels drawn from softmax(z / 2.5): the fitted T must be near 2.5. */
	enum { N = 20000 };
	static float z[N * 2];
	static int y[N];
	guint64 rng = 42;

	for (int i = 0; i < N; i++) {
		double d = (uniform(&rng) - 0.5) * 20.0;
		z[2 * i] = 0.0f;
		z[2 * i + 1] = (float)d;
		double p1 = 1.0 / (1.0 + exp(-d / 2.5));
		y[i] = uniform(&rng) < p1;
	}
	double t = metrics_fit_temperature(z, y, N, 2);
	CHECK(fabs(t - 2.5) < 0.15, "fitted T %g, want 2.5", t);
	double at = metrics_nll(z, y, N, 2, t);
	CHECK(at <= metrics_nll(z, y, N, 2, 1.0) &&
	      at <= metrics_nll(z, y, N, 2, t * 1.1) &&
	      at <= metrics_nll(z, y, N, 2, t / 1.1), "not a minimum");
	CHECK(metrics_fit_temperature(z, y, 0, 2) == 1.0, "empty");

	/* 20 ham and 20 spam the model separates (logit gap 2 to 6, as
	 * for a fine-tune on a few hundred messages): the plain NLL is
	 * smallest as T -> 0, every score then 0 or 1. The fit must stay
	 * inside its bounds and leave borderline scores borderline. */
	enum { S = 40 };
	float zs[S * 2];
	int ys[S];
	for (int i = 0; i < S; i++) {
		double d = 2.0 + 4.0 * (i % 20) / 19.0;
		ys[i] = i >= 20;
		zs[2 * i] = 0.0f;
		zs[2 * i + 1] = (float)(ys[i] ? d : -d);
	}
	double ts = metrics_fit_temperature(zs, ys, S, 2);
	CHECK(ts >= METRICS_TEMP_MIN && ts <= METRICS_TEMP_MAX,
	      "separable sample: T %g out of bounds", ts);
	CHECK(ts > 0.5, "separable sample: T %g collapsed", ts);
	double p2 = 1.0 / (1.0 + exp(-2.0 / ts));
	CHECK(p2 < 0.99, "a logit of 2 scores %g at T %g", p2, ts);
}

static void
test_wilson(void)
{
	double lo, hi;

	/* bench_accuracy.py's figures: 3 of 790 ham, 0.13% to 1.11% */
	metrics_wilson(3, 790, &lo, &hi);
	CHECK(fabs(lo - 0.0012923) < 1e-6 && fabs(hi - 0.0111050) < 1e-6,
	      "3/790: %g-%g", lo, hi);
	/* none of 10: [0, 27.75%], the rule of three's neighbourhood */
	metrics_wilson(0, 10, &lo, &hi);
	CHECK(lo == 0.0 && fabs(hi - 0.277532) < 1e-5, "0/10: %g-%g", lo, hi);
	metrics_wilson(10, 10, &lo, &hi);
	CHECK(hi == 1.0 && fabs(lo - 0.722468) < 1e-5, "10/10: %g-%g", lo, hi);
	metrics_wilson(0, 0, &lo, &hi);
	CHECK(isnan(lo) && isnan(hi), "0/0 is NaN");
}

static void
test_psi(void)
{
	/* by hand: shares .5 .3 .2 against .3 .3 .4:
	 * -.2 ln(.6) + 0 + .2 ln 2 = .102165 + .138629 */
	double e1[] = { 50, 30, 20 }, a1[] = { 30, 30, 40 };
	double p = metrics_psi(e1, a1, 3);
	CHECK(fabs(p - 0.240794) < 1e-6, "PSI .5/.3/.2 vs .3/.3/.4: %g", p);
	/* an empty reference bin counts as the floor 1e-4, not as infinity:
	 * -.01 ln(.99) + (.01 - 1e-4) ln(.01 / 1e-4) */
	double e2[] = { 100, 0 }, a2[] = { 99, 1 };
	p = metrics_psi(e2, a2, 2);
	CHECK(fabs(p - 0.0456917) < 1e-7, "PSI with an empty bin: %g", p);
	CHECK(metrics_psi(e1, e1, 3) == 0.0, "PSI of a histogram with itself");
	double z[] = { 0, 0, 0 };
	CHECK(isnan(metrics_psi(z, a1, 3)) && isnan(metrics_psi(e1, z, 3)),
	      "PSI against an empty histogram is NaN");
	/* the bins: "le" edges, 0 in the first, 1 in the last */
	CHECK(metrics_score_bin(0.0) == 0 && metrics_score_bin(0.1) == 0 &&
	      metrics_score_bin(0.1001) == 1 && metrics_score_bin(1.0) == 9 &&
	      metrics_score_bin(1.5) == 9 && metrics_score_bin(-1) == 0,
	      "score bins");
}

int
main(void)
{
	test_auc();
	test_binary();
	test_threshold();
	test_confusion_softmax();
	test_calibration();
	test_wilson();
	test_psi();
	return check_summary("test_metrics");
}
