/*
 * metrics.c - classifier evaluation: counts, rates, ROC AUC, thresholds,
 * temperature calibration
 *
 * Owns: the arithmetic of evaluation, kept apart from any model so that it is
 * tested on hand-made score lists (tests/test_metrics.c).
 * Not here: scoring (classifier.c), reports (src/train/).
 * Threads: reentrant. Errors: none.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static double
ratio(gsize num, gsize den)
{
	return den ? (double)num / (double)den : NAN;
}

/* metrics_binary - confusion counts and rates at one threshold */
void
metrics_binary(const double *scores, const gboolean *is_pos, gsize n,
	       double threshold, MetricsBinary *out)
{
	memset(out, 0, sizeof *out);
	out->threshold = threshold;
	for (gsize i = 0; i < n; i++) {
		gboolean said_pos = scores[i] >= threshold;
		if (is_pos[i])
			*(said_pos ? &out->tp : &out->fn) += 1;
		else
			*(said_pos ? &out->fp : &out->tn) += 1;
	}
	out->accuracy = ratio(out->tp + out->tn, n);
	out->precision = ratio(out->tp, out->tp + out->fp);
	out->recall = ratio(out->tp, out->tp + out->fn);
	out->fpr = ratio(out->fp, out->fp + out->tn);
	out->fnr = ratio(out->fn, out->fn + out->tp);
	if (out->tp == 0)
		out->f1 = (out->fp + out->fn) ? 0.0 : NAN;
	else
		out->f1 = 2.0 * out->precision * out->recall /
			  (out->precision + out->recall);
}

typedef struct {
	double s;
	gboolean pos;
} Scored;

static int
scored_cmp(const void *a, const void *b)
{
	double x = ((const Scored *)a)->s, y = ((const Scored *)b)->s;

	return (x > y) - (x < y);
}

/* metrics_roc_auc - Mann-Whitney U / (P N), ties as one half */
double
metrics_roc_auc(const double *scores, const gboolean *is_pos, gsize n)
{
	Scored *v = g_new(Scored, n ? n : 1);
	gsize npos = 0, nneg = 0;
	double rank_sum = 0.0;

	for (gsize i = 0; i < n; i++) {
		v[i].s = scores[i];
		v[i].pos = is_pos[i];
		npos += is_pos[i] != 0;
	}
	nneg = n - npos;
	qsort(v, n, sizeof *v, scored_cmp);
	/* Ranks are 1-based; a run of equal scores shares its mean rank. */
	for (gsize i = 0; i < n;) {
		gsize j = i;
		while (j < n && v[j].s == v[i].s)
			j++;
		double mean_rank = ((double)(i + 1) + (double)j) / 2.0;
		for (gsize k = i; k < j; k++)
			if (v[k].pos)
				rank_sum += mean_rank;
		i = j;
	}
	g_free(v);
	if (npos == 0 || nneg == 0)
		return NAN;
	double u = rank_sum - (double)npos * (double)(npos + 1) / 2.0;
	return u / ((double)npos * (double)nneg);
}

static int
double_cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

/* metrics_threshold_for_fpr - lowest threshold with FPR <= target */
double
metrics_threshold_for_fpr(const double *scores, const gboolean *is_pos,
			  gsize n, double target_fpr, double *achieved_fpr)
{
	gsize nneg = 0;
	double *neg = g_new(double, n ? n : 1);
	double t;

	for (gsize i = 0; i < n; i++)
		if (!is_pos[i])
			neg[nneg++] = scores[i];
	if (nneg == 0) {
		g_free(neg);
		if (achieved_fpr)
			*achieved_fpr = NAN;
		return 0.0;
	}
	qsort(neg, nneg, sizeof *neg, double_cmp_desc);
	/* At most k negatives may score >= t. Taking t just above the
	 * (k+1)-th highest negative lets exactly the negatives strictly above
	 * it through, which is <= k even with ties. */
	gsize k = (gsize)floor(target_fpr * (double)nneg + 1e-9);
	if (k >= nneg) {
		t = 0.0;
	} else {
		double s = neg[k];
		t = nextafter(s, INFINITY);
	}
	if (achieved_fpr) {
		gsize over = 0;
		for (gsize i = 0; i < nneg; i++)
			over += neg[i] >= t;
		*achieved_fpr = (double)over / (double)nneg;
	}
	g_free(neg);
	return t;
}

/* metrics_confusion - (true, predicted) counts by argmax */
void
metrics_confusion(const float *probs, const int *labels, gsize n, int nl,
		  gsize *cm)
{
	memset(cm, 0, sizeof *cm * (gsize)nl * (gsize)nl);
	for (gsize i = 0; i < n; i++) {
		const float *p = probs + i * (gsize)nl;
		int best = 0;
		for (int c = 1; c < nl; c++)
			if (p[c] > p[best])
				best = c;
		g_assert(labels[i] >= 0 && labels[i] < nl);
		cm[(gsize)labels[i] * (gsize)nl + (gsize)best]++;
	}
}

/* log_sum_exp - log sum_c exp(Z[c] / T) of one row Z (nl), stably */
static double
log_sum_exp(const float *z, int nl, double temperature)
{
	double mx = -INFINITY, se = 0.0;

	for (int c = 0; c < nl; c++)
		mx = fmax(mx, z[c] / temperature);
	for (int c = 0; c < nl; c++)
		se += exp(z[c] / temperature - mx);
	return mx + log(se);
}

/* metrics_nll - mean cross-entropy of softmax(logits / T) */
double
metrics_nll(const float *logits, const int *labels, gsize n, int nl,
	    double temperature)
{
	double sum = 0.0;

	if (n == 0)
		return NAN;
	for (gsize i = 0; i < n; i++) {
		const float *z = logits + i * (gsize)nl;
		sum += log_sum_exp(z, nl, temperature) - z[labels[i]] / temperature;
	}
	return sum / (double)n;
}

/* smoothed_nll - mean cross-entropy of softmax(logits / T) against Platt's
 * targets: the true class of an example of class k gets (n_k + 1) /
 * (n_k + 2), the other classes share the rest. A separable sample then
 * has a finite best T instead of driving T to 0 (every score 0 or 1). */
static double
smoothed_nll(const float *logits, const int *labels, gsize n, int nl,
	     const gsize *count, double temperature)
{
	double sum = 0.0;

	for (gsize i = 0; i < n; i++) {
		const float *z = logits + i * (gsize)nl;
		double lse = log_sum_exp(z, nl, temperature);
		double nk = (double)count[labels[i]];
		double t_true = (nk + 1.0) / (nk + 2.0);
		double t_other = (1.0 - t_true) / (nl - 1);
		for (int c = 0; c < nl; c++)
			sum += (c == labels[i] ? t_true : t_other) *
			       (lse - z[c] / temperature);
	}
	return sum / (double)n;
}

/* metrics_fit_temperature - golden-section search of log T in
 * [METRICS_TEMP_MIN, METRICS_TEMP_MAX]; the smoothed NLL is unimodal in
 * practice */
double
metrics_fit_temperature(const float *logits, const int *labels, gsize n,
			int nl)
{
	const double gr = (sqrt(5.0) - 1.0) / 2.0;
	double a = log(METRICS_TEMP_MIN), b = log(METRICS_TEMP_MAX);
	double c = b - gr * (b - a), d = a + gr * (b - a);
	double fc, fd;

	if (n == 0 || nl < 2)
		return 1.0;
	gsize *count = g_new0(gsize, nl);
	for (gsize i = 0; i < n; i++)
		count[labels[i]]++;
	fc = smoothed_nll(logits, labels, n, nl, count, exp(c));
	fd = smoothed_nll(logits, labels, n, nl, count, exp(d));
	for (int it = 0; it < 80 && b - a > 1e-7; it++) {
		if (fc < fd) {
			b = d;
			d = c;
			fd = fc;
			c = b - gr * (b - a);
			fc = smoothed_nll(logits, labels, n, nl, count, exp(c));
		} else {
			a = c;
			c = d;
			fc = fd;
			d = a + gr * (b - a);
			fd = smoothed_nll(logits, labels, n, nl, count, exp(d));
		}
	}
	g_free(count);
	return exp((a + b) / 2.0);
}

/* solve - A (m, m) x = B in place (B becomes x), Gaussian elimination
 * with partial pivoting; FALSE when A is singular */
static gboolean
solve(double *A, double *B, int m)
{
	for (int c = 0; c < m; c++) {
		int p = c;
		for (int r = c + 1; r < m; r++)
			if (fabs(A[r * m + c]) > fabs(A[p * m + c]))
				p = r;
		if (fabs(A[p * m + c]) < 1e-300)
			return FALSE;
		for (int k = 0; k < m; k++) {
			double t = A[c * m + k];
			A[c * m + k] = A[p * m + k];
			A[p * m + k] = t;
		}
		double t = B[c];
		B[c] = B[p];
		B[p] = t;
		for (int r = 0; r < m; r++) {
			if (r == c)
				continue;
			double f = A[r * m + c] / A[c * m + c];
			for (int k = c; k < m; k++)
				A[r * m + k] -= f * A[c * m + k];
			B[r] -= f * B[c];
		}
	}
	for (int c = 0; c < m; c++)
		B[c] /= A[c * m + c];
	return TRUE;
}

/* logistic_loss - the penalised smoothed log loss of W (see below) */
static double
logistic_loss(const double *x, const gboolean *y, gsize n, int k, double l2,
	      double tpos, double tneg, const double *w)
{
	double loss = 0;

	for (gsize i = 0; i < n; i++) {
		double z = w[k], t = y[i] ? tpos : tneg;
		for (int a = 0; a < k; a++)
			z += w[a] * x[i * (gsize)k + a];
		/* t log(1 + e^-z) + (1 - t) log(1 + e^z), overflow-free */
		double sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
		loss += sp - t * z;
	}
	for (int a = 0; a < k; a++)
		loss += l2 / 2 * w[a] * w[a];
	return loss;
}

/* metrics_fit_logistic - Newton's method, each step halved until the loss
 * falls, on the L2-penalised log loss against Platt's smoothed targets (as
 * metrics_fit_temperature: a sample that the features separate must not
 * get infinite weights) */
gboolean
metrics_fit_logistic(const double *x, const gboolean *y, gsize n, int k,
		     double l2, double *w)
{
	const int m = k + 1;	/* the weights, then the bias */
	gsize npos = 0;
	double H[17 * 17], g[17], trial[17];

	g_return_val_if_fail(k >= 1 && k <= 16, FALSE);
	for (gsize i = 0; i < n; i++)
		npos += y[i] != 0;
	double tpos = (npos + 1.0) / (npos + 2.0);
	double tneg = 1.0 / (n - npos + 2.0);
	memset(w, 0, sizeof *w * m);
	double loss = logistic_loss(x, y, n, k, l2, tpos, tneg, w);
	for (int it = 0; it < 100; it++) {
		memset(H, 0, sizeof H);
		memset(g, 0, sizeof g);
		for (gsize i = 0; i < n; i++) {
			const double *xi = x + i * (gsize)k;
			double z = w[k];
			for (int a = 0; a < k; a++)
				z += w[a] * xi[a];
			double p = 1 / (1 + exp(-z));
			double r = p - (y[i] ? tpos : tneg), v = p * (1 - p);
			for (int a = 0; a < m; a++) {
				double xa = a < k ? xi[a] : 1;
				g[a] += r * xa;
				for (int b = 0; b < m; b++)
					H[a * m + b] += v * xa * (b < k ? xi[b] : 1);
			}
		}
		for (int a = 0; a < k; a++) {	/* the bias is not penalised */
			g[a] += l2 * w[a];
			H[a * m + a] += l2;
		}
		if (!solve(H, g, m))
			return FALSE;
		double t = 1, next = loss;
		for (; t > 1e-10; t /= 2) {
			for (int a = 0; a < m; a++)
				trial[a] = w[a] - t * g[a];
			next = logistic_loss(x, y, n, k, l2, tpos, tneg, trial);
			if (next <= loss)
				break;
		}
		if (!(next <= loss))
			break;		/* no step lowers it: at the minimum */
		memcpy(w, trial, sizeof *w * m);
		if (loss - next < 1e-12 * (1 + loss))
			break;
		loss = next;
	}
	for (int a = 0; a < m; a++)
		if (!isfinite(w[a]))
			return FALSE;
	return TRUE;
}

/* metrics_wilson - Wilson score interval of K successes in N trials */
void
metrics_wilson(gsize k, gsize n, double *lo, double *hi)
{
	const double z = 1.959963984540054;	/* 97.5th normal percentile */

	if (n == 0) {
		*lo = NAN;
		*hi = NAN;
		return;
	}
	double p = (double)k / (double)n, nn = (double)n, z2 = z * z;
	double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
	double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) /
		      (1 + z2 / nn);
	*lo = k == 0 ? 0.0 : fmax(0.0, centre - half);
	*hi = k == n ? 1.0 : fmin(1.0, centre + half);
}


/* metrics_score_bin - see metrics.h; the 1e-9 puts a score on an edge
 * (0.1 exactly) in the bin below, as "le" says */
int
metrics_score_bin(double score)
{
	int b = (int)(score * METRICS_SCORE_BINS - 1e-9);
	return CLAMP(b, 0, METRICS_SCORE_BINS - 1);
}

/* metrics_psi - see metrics.h */
double
metrics_psi(const double *expected, const double *actual, int n)
{
	double te = 0, ta = 0, psi = 0;

	for (int i = 0; i < n; i++) {
		te += expected[i];
		ta += actual[i];
	}
	if (!(te > 0) || !(ta > 0))
		return NAN;
	for (int i = 0; i < n; i++) {
		double e = fmax(expected[i] / te, METRICS_PSI_FLOOR);
		double a = fmax(actual[i] / ta, METRICS_PSI_FLOOR);
		psi += (a - e) * log(a / e);
	}
	return psi;
}
