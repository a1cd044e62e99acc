/*
 * metrics.h - how good a classifier is: counts, rates, ROC AUC, thresholds,
 * temperature calibration
 *
 * Owns: the binary view of an N-class classifier (positive: the classes
 * that count as spam, against ham), the confusion matrix of all classes, ROC AUC with
 * ties counted as half (the Mann-Whitney statistic), the lowest threshold
 * keeping the false-positive rate under a target, and the temperature T that
 * minimises the negative log-likelihood of softmax(logits / T), and the
 * Wilson interval of a measured rate; the fixed score histogram that the
 * trainer records and the milter compares against (population stability
 * index).
 * Not here: where scores come from and the calibrated softmax
 * (classifier.c, gptmilter-train).
 *	MetricsBinary mb;
 *	metrics_binary(scores, is_pos, n, 0.5, &mb);
 *	double auc = metrics_roc_auc(scores, is_pos, n);
 * Threads: reentrant. Errors: none; empty inputs give NaN rates.
 */
#ifndef GPTM_METRICS_H
#define GPTM_METRICS_H

#include <glib.h>

typedef struct {
	double threshold;	/* positive when score >= threshold */
	gsize tp, fp, tn, fn;
	double accuracy;	/* (tp + tn) / n */
	double precision;	/* tp / (tp + fp) */
	double recall;		/* tp / (tp + fn), the true-positive rate */
	double f1;
	double fpr;		/* fp / (fp + tn): ham marked spam */
	double fnr;		/* fn / (fn + tp): spam let through */
} MetricsBinary;

/* metrics_binary - counts and rates of SCORES (n) against IS_POS (n) at
 * THRESHOLD; a rate whose denominator is 0 is NaN */
void metrics_binary(const double *scores, const gboolean *is_pos, gsize n,
		    double threshold, MetricsBinary *out);

/* metrics_roc_auc - area under the ROC curve, ties counted one half;
 * NaN unless both classes occur */
double metrics_roc_auc(const double *scores, const gboolean *is_pos, gsize n);

/* metrics_threshold_for_fpr - the lowest threshold t (a score of a negative,
 * nudged up, or 0) such that the negatives with score >= t are at most
 * TARGET_FPR of all negatives; *ACHIEVED_FPR (if not NULL) gets their rate */
double metrics_threshold_for_fpr(const double *scores, const gboolean *is_pos,
				 gsize n, double target_fpr,
				 double *achieved_fpr);

/* metrics_confusion - CM (nl, nl) row = true class, column = predicted:
 * argmax of PROBS (n, nl); CM is zeroed first */
void metrics_confusion(const float *probs, const int *labels, gsize n, int nl,
		       gsize *cm);

/* metrics_nll - mean -log softmax(LOGITS / T)[label] of LOGITS (n, nl) */
double metrics_nll(const float *logits, const int *labels, gsize n, int nl,
		   double temperature);

/* The temperatures a fit may return: a small sample must not sharpen every
 * score to 0 or 1 (nor flatten it to 0.5). */
#define METRICS_TEMP_MIN 0.25
#define METRICS_TEMP_MAX 4.0

/* metrics_fit_temperature - T in [METRICS_TEMP_MIN, METRICS_TEMP_MAX]
 * minimising the NLL of softmax(LOGITS / T) against Platt's smoothed
 * targets ((n_k + 1) / (n_k + 2) for the true class of an example of class
 * k), by a golden-section search over log T; 1 if N is 0 */
double metrics_fit_temperature(const float *logits, const int *labels,
			       gsize n, int nl);

/* metrics_fit_logistic - W (K + 1: the weights of the K features, then
 * the bias) of P(positive) = sigmoid(W . x + bias) for the rows of X (N, K)
 * and Y (N), minimising the log loss against Platt's smoothed targets plus
 * L2 / 2 |weights|^2; FALSE if the fit failed (W then not usable) */
gboolean metrics_fit_logistic(const double *x, const gboolean *y, gsize n,
			      int k, double l2, double *w);

/* metrics_wilson - the 95% Wilson score interval [*LO, *HI] of a rate of K
 * in N (NaN when N is 0) */
void metrics_wilson(gsize k, gsize n, double *lo, double *hi);

/* The score histogram: METRICS_SCORE_BINS equal bins of [0, 1], bin b
 * holding the scores s with b/10 < s <= (b+1)/10 (bin 0 also holds 0):
 * Prometheus "le" buckets, the same in config.json
 * (gptmilter.score_histogram) and on /metrics (gptmilter_score). */
#define METRICS_SCORE_BINS 10

/* metrics_score_bin - the bin of SCORE (clamped to [0, 1]) */
int metrics_score_bin(double score);

/* metrics_psi - population stability index of ACTUAL against EXPECTED
 * (counts, N bins): the sum of (a - e) ln(a / e) over the bins, a and e
 * the shares of each total, a share under METRICS_PSI_FLOOR taken as the
 * floor (an empty bin would make it infinite); NaN if either total is 0.
 * Rule of thumb: < 0.1 stable, 0.1 .. 0.25 moving, > 0.25 shifted. */
#define METRICS_PSI_FLOOR 1e-4
double metrics_psi(const double *expected, const double *actual, int n);

#endif
