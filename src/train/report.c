/*
 * report.c - gptmilter-train's evaluation: logits of a split, calibration,
 * metrics, the readable report and its JSON form
 *
 * Owns: the binary view used everywhere in the project (every class but
 * ham against ham, scored by the classifier's spam score through a
 * Classifier around the model, as gptmilter scores), the per-source
 * breakdown (errors by the source group of each message), and the JSON
 * object stored under gptmilter.metrics of a trained bundle; the eval
 * mode (a bundle scored on a labelled set) and the scripts mode (the
 * record of the scripts written into a bundle's config.json).
 * Not here: the arithmetic (metrics.c), the model (gpt.c, gpt_train.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train.h"
#include "mapfile.h"
#include "scripts.h"

/* pack - the ids of items [start, start + B) one after another */
static int
pack(const Split *s, gsize start, int B, int32_t *ids, int *lens, int *labels)
{
	int N = 0;

	for (int b = 0; b < B; b++) {
		const CorpusItem *it = s->items[start + (gsize)b];
		memcpy(ids + N, it->ids, sizeof *ids * (gsize)it->n_ids);
		lens[b] = it->n_ids;
		labels[b] = it->label;
		N += it->n_ids;
	}
	return N;
}

/* report_classifier - the Classifier that scores for the reports: the
 * loaded one (eval) or one around the model in memory, made on first use
 * (after the head is in place) */
static Classifier *
report_classifier(Run *r)
{
	if (r->classifier == NULL)
		r->classifier = classifier_new(r->model, r->bpe,
			(const char *const *)r->corpus->classes->pdata,
			r->o->max_tokens, r->corpus->mailtext_version);
	return r->classifier;
}

/* report_logits - (n, nl) logits of every item of S, by the classifier's
 * forward pass: the numbers gptmilter and gptmilter-classify compute */
float *
report_logits(Run *r, const Split *s, double *mean_loss)
{
	int nl = r->nl, mb = r->o->batch;
	Classifier *c = report_classifier(r);
	g_autoptr(ClassifierWorker) w = classifier_worker_new(c, mb);
	float *logits = g_new0(float, s->n * (gsize)nl + 1);
	int32_t *ids = g_new(int32_t, (gsize)mb * (gsize)r->o->max_tokens);
	int *lens = g_new(int, mb), *labels = g_new(int, mb);
	int *all_labels = g_new(int, s->n + 1);

	for (gsize i = 0; i < s->n; i += (gsize)mb) {
		int B = (int)MIN((gsize)mb, s->n - i);
		pack(s, i, B, ids, lens, labels);
		classifier_logits_ids(c, w, ids, lens, B,
				      logits + i * (gsize)nl);
		memcpy(all_labels + i, labels, sizeof *labels * (gsize)B);
	}
	if (mean_loss)
		*mean_loss = s->n ? metrics_nll(logits, all_labels, s->n, nl, 1.0)
				  : NAN;
	g_free(ids);
	g_free(lens);
	g_free(labels);
	g_free(all_labels);
	return logits;
}

/* report_mix_tokens - see train.h */
void
report_mix_tokens(Run *r, const Split *s, float *logits)
{
	const Classifier *c = r->classifier;
	const TokenStats *ts = c ? classifier_tokens(c) : NULL;

	if (ts == NULL)
		return;
	for (gsize i = 0; i < s->n; i++)
		classifier_mix_logits(c, classifier_token_mix(c),
				      logits + i * (gsize)r->nl,
				      tokenstats_score(ts, &s->items[i]->tok,
						       NULL));
}

/* report_probs - PROBS (n, nl) of LOGITS at TEMPERATURE */
static void
report_probs(const float *logits, gsize n, int nl, double temperature,
	     float *probs)
{
	for (gsize i = 0; i < n; i++)
		classifier_softmax(probs + i * (gsize)nl, logits + i * (gsize)nl,
				   nl, (float)temperature);
}

/* report_spam_scores - the spam score of each item of S
 * (classifier_spam_score at TEMPERATURE) and whether it is spam */
void
report_spam_scores(Run *r, const Split *s, const float *logits,
		   double temperature, double *scores, gboolean *is_pos)
{
	const Classifier *c = report_classifier(r);
	int nl = r->nl;
	g_autofree float *p = g_new(float, nl);

	for (gsize i = 0; i < s->n; i++) {
		report_probs(logits + i * (gsize)nl, 1, nl, temperature, p);
		scores[i] = classifier_spam_score(c, p);
		is_pos[i] = classifier_is_spam_label(c, s->items[i]->label);
	}
}

/* report_enough_validation - see train.h */
gboolean
report_enough_validation(Run *r, const Split *val, gsize *n_ham,
			 gsize *n_spam)
{
	*n_spam = 0;
	for (gsize i = 0; i < val->n; i++)
		*n_spam += classifier_is_spam_label(report_classifier(r),
						    val->items[i]->label);
	*n_ham = val->n - *n_spam;
	return *n_ham >= (gsize)r->o->min_val_ham &&
	       *n_spam >= (gsize)r->o->min_val_spam;
}

/* report_calibrate - see train.h. The rules, in order:
 *	1. fewer than --min-val-ham validation ham or --min-val-spam spam:
 *	   the base's temperature and threshold, untouched (a fit on 20 ham
 *	   once gave T 0.11, every score 0 or 1, tagged mail rejected);
 *	2. otherwise T is fitted (bounded, smoothed: metrics.c), and the
 *	   threshold is the lowest, not under 0.5, that keeps the validation
 *	   FPR within the target - raised first to the smallest FPR the
 *	   sample can measure: no false positive in n ham only says the rate
 *	   is under 3/n (the rule of three, 95%). */
/* calibration_evidence - rule 1 below: FALSE, with the base's operating
 * point in CAL, when validation is too small to measure one */
static gboolean
calibration_evidence(Run *r, const Split *val, ReportCalibration *cal)
{
	const TrainOptions *o = r->o;
	gsize n_spam, n_ham;

	memset(cal, 0, sizeof *cal);
	gboolean enough = report_enough_validation(r, val, &n_ham, &n_spam);
	cal->n_ham = n_ham;
	cal->n_spam = n_spam;
	cal->target_fpr = o->target_fpr;
	cal->achieved_fpr = NAN;
	if (enough)
		return TRUE;
	cal->temperature = r->base_temperature;
	cal->threshold = r->base_threshold;
	cal->note = g_strdup_printf(
		"validation has %zu ham and %zu spam, fewer than %d and "
		"%d (--min-val-ham, --min-val-spam): too few to measure "
		"an operating point, so %s temperature %.4g and "
		"threshold %.4g are kept", n_ham, n_spam, o->min_val_ham,
		o->min_val_spam, r->base_calibrated ? "the base's" :
		"the defaults (the base records none):",
		cal->temperature, cal->threshold);
	return FALSE;
}

/* calibration_threshold - rule 2's threshold from the validation SCORES
 * (N, calibrated) into CAL, with its note (CAL's temperature set) */
static void
calibration_threshold(Run *r, const double *scores, const gboolean *is_pos,
		      gsize n, ReportCalibration *cal)
{
	const TrainOptions *o = r->o;
	double measurable = REPORT_RULE_OF_THREE / (double)cal->n_ham;

	cal->fitted = TRUE;
	if (cal->target_fpr < measurable) {
		cal->target_fpr = measurable;
		cal->clamped = TRUE;
	}
	cal->threshold = metrics_threshold_for_fpr(scores, is_pos, n,
						   cal->target_fpr,
						   &cal->achieved_fpr);
	/* Never recommend flagging everything: below 0.5 the argmax rule is
	 * already stricter than the target asks. */
	if (cal->threshold < CLASSIFIER_THRESHOLD_DEFAULT) {
		MetricsBinary mb;
		cal->threshold = CLASSIFIER_THRESHOLD_DEFAULT;
		metrics_binary(scores, is_pos, n, CLASSIFIER_THRESHOLD_DEFAULT,
			       &mb);
		cal->achieved_fpr = mb.fpr;
	}
	g_autofree char *why = cal->clamped ? g_strdup_printf(
		": --target-fpr %.5g is below 3/%zu, the least this many ham "
		"can measure", o->target_fpr, cal->n_ham) : g_strdup("");
	cal->note = g_strdup_printf(
		"calibration on validation (%zu ham, %zu spam): temperature "
		"%.4f; threshold %.6g keeps the validation FPR at %.5f (target "
		"%.5g%s)", cal->n_ham, cal->n_spam, cal->temperature,
		cal->threshold, cal->achieved_fpr, cal->target_fpr, why);
}

void
report_calibrate(Run *r, const Split *val, const float *logits,
		 ReportCalibration *cal)
{
	if (!calibration_evidence(r, val, cal))
		return;

	int *labels = g_new(int, val->n + 1);
	double *scores = g_new(double, val->n + 1);
	gboolean *is_pos = g_new(gboolean, val->n + 1);

	for (gsize i = 0; i < val->n; i++)
		labels[i] = val->items[i]->label;
	cal->temperature = metrics_fit_temperature(logits, labels, val->n,
						   r->nl);
	report_spam_scores(r, val, logits, cal->temperature, scores, is_pos);
	calibration_threshold(r, scores, is_pos, val->n, cal);
	g_free(labels);
	g_free(scores);
	g_free(is_pos);
}

/* report_calibrate_at - see train.h */
gboolean
report_calibrate_at(Run *r, const Split *val, const float *logits,
		    double temperature, ReportCalibration *cal)
{
	if (!calibration_evidence(r, val, cal))
		return FALSE;

	double *scores = g_new(double, val->n + 1);
	gboolean *is_pos = g_new(gboolean, val->n + 1);

	cal->temperature = temperature;
	report_spam_scores(r, val, logits, temperature, scores, is_pos);
	calibration_threshold(r, scores, is_pos, val->n, cal);
	g_free(scores);
	g_free(is_pos);
	return TRUE;
}

/* report_scripts - see train.h */
JsonObject *
report_scripts(Run *r, const Split *s)
{
	g_autoptr(ScriptsTally) t = scripts_tally_new();

	for (gsize i = 0; i < s->n; i++) {
		const CorpusItem *it = s->items[i];
		scripts_tally_add(t, g_ptr_array_index(r->corpus->classes,
						       it->label), it->script);
	}
	JsonObject *o = scripts_tally_json(t);
	if (!r->o->quiet) {
		printf("scripts (dominant, by messages):");
		GList *cls = json_object_get_members(o);
		for (GList *l = cls; l; l = l->next) {
			JsonObject *by = json_object_get_object_member(
				json_object_get_object_member(o, l->data),
				"by_script");
			printf("%s %s", l == cls ? "" : ";", (char *)l->data);
			GList *sc = json_object_get_members(by);
			for (GList *k = sc; k; k = k->next)
				printf(" %s %" G_GINT64_FORMAT, (char *)k->data,
				       json_object_get_int_member(by, k->data));
			g_list_free(sc);
		}
		g_list_free(cls);
		printf("\n");
	}
	return o;
}

JsonObject *
report_score_histogram(Run *r, const char *split_name, const Split *s,
		       const float *logits, double temperature)
{
	double *scores = g_new(double, s->n + 1);
	gboolean *is_pos = g_new(gboolean, s->n + 1);
	gint64 counts[METRICS_SCORE_BINS] = { 0 };
	JsonObject *o = json_object_new();
	JsonArray *le = json_array_new(), *ca = json_array_new();

	report_spam_scores(r, s, logits, temperature, scores, is_pos);
	for (gsize i = 0; i < s->n; i++)
		counts[metrics_score_bin(scores[i])]++;
	for (int b = 0; b < METRICS_SCORE_BINS; b++) {
		json_array_add_double_element(le,
			(b + 1.0) / METRICS_SCORE_BINS);
		json_array_add_int_element(ca, counts[b]);
	}
	json_object_set_string_member(o, "split", split_name);
	json_object_set_array_member(o, "le", le);
	json_object_set_array_member(o, "counts", ca);
	g_free(scores);
	g_free(is_pos);
	return o;
}

void
report_scores(Run *r, const char *split_name, const Split *s,
	      const float *logits, double temperature)
{
	if (r->scores == NULL)
		return;
	double *scores = g_new(double, s->n + 1);
	gboolean *is_pos = g_new(gboolean, s->n + 1);

	report_spam_scores(r, s, logits, temperature, scores, is_pos);
	for (gsize i = 0; i < s->n; i++)
		report_score_line(r, split_name, s->items[i], scores[i]);
	g_free(scores);
	g_free(is_pos);
}

void
report_score_line(Run *r, const char *split_name, const CorpusItem *it,
		  double score)
{
	if (r->scores == NULL)
		return;
	fprintf(r->scores, "%s\t%s\t%s\t%s\t%.6g\n", split_name, it->path,
		it->source, it->label >= 0 ? (char *)g_ptr_array_index(
		r->corpus->classes, it->label) : "-", score);
}

gboolean
report_scores_close(Run *r, GError **error)
{
	if (r->scores == NULL)
		return TRUE;
	gboolean bad = ferror(r->scores) != 0;
	bad |= fclose(r->scores) != 0;
	int err = errno;
	r->scores = NULL;
	if (bad)
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: %s", r->o->scores, g_strerror(err));
	return !bad;
}

static void
set_num(JsonObject *o, const char *k, double v)
{
	if (isnan(v) || isinf(v))
		json_object_set_null_member(o, k);
	else
		json_object_set_double_member(o, k, v);
}

typedef struct {
	gsize n, pos, errors, fp, fn;
} SourceCount;

/* report_evaluate - every figure of one split, printed and as JSON */
JsonObject *
report_evaluate(Run *r, const char *title, const Split *s, const float *logits,
		double temperature, double threshold)
{
	int nl = r->nl;
	double *scores = g_new(double, s->n + 1);
	gboolean *is_pos = g_new(gboolean, s->n + 1);
	int *labels = g_new(int, s->n + 1);
	float *probs = g_new(float, s->n * (gsize)nl + 1);
	gsize *cm = g_new0(gsize, (gsize)nl * (gsize)nl);
	MetricsBinary mb;
	JsonObject *o = json_object_new();

	report_spam_scores(r, s, logits, temperature, scores, is_pos);
	for (gsize i = 0; i < s->n; i++)
		labels[i] = s->items[i]->label;
	metrics_binary(scores, is_pos, s->n, threshold, &mb);
	double auc = metrics_roc_auc(scores, is_pos, s->n);
	double nll = s->n ? metrics_nll(logits, labels, s->n, nl, temperature)
			  : NAN;
	report_probs(logits, s->n, nl, temperature, probs);
	metrics_confusion(probs, labels, s->n, nl, cm);

	/* Errors by source group, in the binary view at THRESHOLD. */
	GHashTable *by_src = g_hash_table_new_full(g_str_hash, g_str_equal,
						   NULL, g_free);
	for (gsize i = 0; i < s->n; i++) {
		const char *src = s->items[i]->source;
		SourceCount *sc = g_hash_table_lookup(by_src, src);
		if (sc == NULL) {
			sc = g_new0(SourceCount, 1);
			g_hash_table_insert(by_src, (gpointer)src, sc);
		}
		gboolean said = scores[i] >= threshold;
		sc->n++;
		sc->pos += is_pos[i];
		if (said && !is_pos[i])
			sc->fp++, sc->errors++;
		if (!said && is_pos[i])
			sc->fn++, sc->errors++;
	}
	GList *srcs = g_list_sort(g_hash_table_get_keys(by_src),
				  (GCompareFunc)strcmp);

	json_object_set_int_member(o, "n", (gint64)s->n);
	set_num(o, "threshold", threshold);
	set_num(o, "temperature", temperature);
	set_num(o, "loss", nll);
	set_num(o, "accuracy", mb.accuracy);
	set_num(o, "precision", mb.precision);
	set_num(o, "recall", mb.recall);
	set_num(o, "f1", mb.f1);
	set_num(o, "fpr", mb.fpr);
	set_num(o, "fnr", mb.fnr);
	set_num(o, "roc_auc", auc);
	/* What the threshold costs, with how little a small set knows. */
	double fpr_lo, fpr_hi, rec_lo, rec_hi;
	metrics_wilson(mb.fp, mb.fp + mb.tn, &fpr_lo, &fpr_hi);
	metrics_wilson(mb.tp, mb.tp + mb.fn, &rec_lo, &rec_hi);
	JsonArray *ci = json_array_new();
	json_array_add_double_element(ci, isnan(fpr_lo) ? 0 : fpr_lo);
	json_array_add_double_element(ci, isnan(fpr_hi) ? 1 : fpr_hi);
	json_object_set_array_member(o, "fpr_ci95", ci);
	ci = json_array_new();
	json_array_add_double_element(ci, isnan(rec_lo) ? 0 : rec_lo);
	json_array_add_double_element(ci, isnan(rec_hi) ? 1 : rec_hi);
	json_object_set_array_member(o, "recall_ci95", ci);
	json_object_set_int_member(o, "tp", (gint64)mb.tp);
	json_object_set_int_member(o, "fp", (gint64)mb.fp);
	json_object_set_int_member(o, "tn", (gint64)mb.tn);
	json_object_set_int_member(o, "fn", (gint64)mb.fn);
	JsonArray *cma = json_array_new();
	for (int a = 0; a < nl; a++) {
		JsonArray *row = json_array_new();
		for (int b = 0; b < nl; b++)
			json_array_add_int_element(row, (gint64)cm[a * nl + b]);
		json_array_add_array_element(cma, row);
	}
	json_object_set_array_member(o, "confusion", cma);
	JsonObject *so = json_object_new();
	for (GList *l = srcs; l; l = l->next) {
		SourceCount *sc = g_hash_table_lookup(by_src, l->data);
		JsonObject *e = json_object_new();
		json_object_set_int_member(e, "n", (gint64)sc->n);
		json_object_set_int_member(e, "spam", (gint64)sc->pos);
		json_object_set_int_member(e, "errors", (gint64)sc->errors);
		json_object_set_int_member(e, "fp", (gint64)sc->fp);
		json_object_set_int_member(e, "fn", (gint64)sc->fn);
		json_object_set_object_member(so, l->data, e);
	}
	json_object_set_object_member(o, "sources", so);
	/* The same at the plain 0.5 rule, to see what the threshold costs. */
	MetricsBinary m5;
	metrics_binary(scores, is_pos, s->n, CLASSIFIER_THRESHOLD_DEFAULT, &m5);
	JsonObject *h = json_object_new();
	set_num(h, "accuracy", m5.accuracy);
	set_num(h, "precision", m5.precision);
	set_num(h, "recall", m5.recall);
	set_num(h, "f1", m5.f1);
	set_num(h, "fpr", m5.fpr);
	set_num(h, "fnr", m5.fnr);
	json_object_set_int_member(h, "fp", (gint64)m5.fp);
	json_object_set_int_member(h, "fn", (gint64)m5.fn);
	json_object_set_object_member(o, "at_0.5", h);

	if (!r->o->quiet) {
		const char *ham = g_ptr_array_index(r->corpus->classes,
			classifier_ham_index(report_classifier(r)));
		printf("\n== %s: %zu messages, all but %s vs %s, threshold "
		       "%.6g, temperature %.4g ==\n", title, s->n, ham, ham,
		       threshold, temperature);
		printf("  accuracy  %.4f    loss      %.4f    ROC AUC %.5f\n",
		       mb.accuracy, nll, auc);
		printf("  precision %.4f    recall    %.4f    F1      %.4f\n",
		       mb.precision, mb.recall, mb.f1);
		printf("  FPR       %.5f   FNR       %.5f   (tp %zu fp %zu "
		       "tn %zu fn %zu)\n", mb.fpr, mb.fnr, mb.tp, mb.fp, mb.tn,
		       mb.fn);
		printf("  95%% Wilson: FPR %.5f-%.5f of %zu ham, recall "
		       "%.4f-%.4f of %zu spam\n", fpr_lo, fpr_hi, mb.fp + mb.tn,
		       rec_lo, rec_hi, mb.tp + mb.fn);
		if (threshold != CLASSIFIER_THRESHOLD_DEFAULT)
			printf("  at 0.5:   accuracy %.4f  precision %.4f  recall "
			       "%.4f  FPR %.5f  FNR %.5f\n", m5.accuracy,
			       m5.precision, m5.recall, m5.fpr, m5.fnr);
		printf("  confusion (rows true, columns predicted by argmax):\n"
		       "  %-12s", "");
		for (int b = 0; b < nl; b++)
			printf(" %10s", (char *)g_ptr_array_index(r->corpus->classes, b));
		printf("\n");
		for (int a = 0; a < nl; a++) {
			printf("  %-12s", (char *)g_ptr_array_index(r->corpus->classes, a));
			for (int b = 0; b < nl; b++)
				printf(" %10zu", cm[a * nl + b]);
			printf("\n");
		}
		printf("  by source:   %-16s %7s %7s %7s %6s %6s\n", "", "n",
		       "spam", "errors", "fp", "fn");
		for (GList *l = srcs; l; l = l->next) {
			SourceCount *sc = g_hash_table_lookup(by_src, l->data);
			printf("               %-16s %7zu %7zu %7zu %6zu %6zu\n",
			       (char *)l->data, sc->n, sc->pos, sc->errors,
			       sc->fp, sc->fn);
		}
		fflush(stdout);
	}
	g_list_free(srcs);
	g_hash_table_unref(by_src);
	g_free(scores);
	g_free(is_pos);
	g_free(labels);
	g_free(probs);
	g_free(cm);
	return o;
}

/* report_write_json - see train.h */
gboolean
report_write_json(const char *path, JsonObject *o, GError **error)
{
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(JsonGenerator) gen = json_generator_new();

	json_node_set_object(root, o);
	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	if (strcmp(path, "-") == 0) {
		g_autofree char *s = json_generator_to_data(gen, NULL);
		printf("%s\n", s);
		return TRUE;
	}
	return json_generator_to_file(gen, path, error);
}

/* target_fpr_threshold - what the scored set S alone would recommend at
 * --target-fpr, for comparison with the model's threshold: recorded in
 * REP as threshold_for_target_fpr, printed unless quiet */
static void
target_fpr_threshold(Run *r, const Split *s, const float *logits,
		     double temperature, JsonObject *rep)
{
	const TrainOptions *o = r->o;
	double *scores = g_new(double, s->n + 1);
	gboolean *pos = g_new(gboolean, s->n + 1);
	double fpr;
	MetricsBinary mb;

	report_spam_scores(r, s, logits, temperature, scores, pos);
	double t_fpr = metrics_threshold_for_fpr(scores, pos, s->n,
						 o->target_fpr, &fpr);
	metrics_binary(scores, pos, s->n, t_fpr, &mb);
	JsonObject *tf = json_object_new();
	json_object_set_double_member(tf, "target_fpr", o->target_fpr);
	json_object_set_double_member(tf, "threshold", t_fpr);
	json_object_set_double_member(tf, "fpr", isnan(fpr) ? 0 : fpr);
	json_object_set_double_member(tf, "recall",
				      isnan(mb.recall) ? 0 : mb.recall);
	json_object_set_object_member(rep, "threshold_for_target_fpr", tf);
	if (!o->quiet)
		printf("  on this set, threshold %.6g gives FPR %.5f (target "
		       "%.5g) with recall %.4f\n", t_fpr, fpr, o->target_fpr,
		       mb.recall);
	g_free(scores);
	g_free(pos);
}

/* report_eval - see train.h */
gboolean
report_eval(Run *r, GError **error)
{
	const TrainOptions *o = r->o;
	const Classifier *cl = r->classifier;
	const Split *s = &r->split[CORPUS_TEST];
	double t0 = train_now();
	g_autofree float *logits = report_logits(r, s, NULL);
	report_mix_tokens(r, s, logits);
	double secs = train_now() - t0;
	double T = classifier_temperature(cl);
	double thr = o->threshold >= 0 ? o->threshold :
		     classifier_threshold(cl);

	if (!o->quiet)
		printf("scored %zu messages in %.1f s (%.1f messages/s)\n", s->n,
		       secs, (double)s->n / MAX(secs, 1e-9));
	JsonObject *rep = report_evaluate(r, o->model, s, logits, T, thr);
	report_scores(r, "test", s, logits, T);
	gboolean ok = report_scores_close(r, error);
	if (ok && o->record_histogram) {
		ok = report_model_config_set(o->model, "score_histogram",
			report_score_histogram(r, "eval", s, logits, T), error);
		if (ok && !o->quiet)
			printf("wrote the score histogram of %zu messages into "
			       "%s/config.json\n", s->n, o->model);
	}
	if (ok) {
		target_fpr_threshold(r, s, logits, T, rep);
		if (o->json)
			ok = report_write_json(o->json, rep, error);
	}
	json_object_unref(rep);
	return ok;
}

/* report_model_config_set - see train.h */
gboolean
report_model_config_set(const char *model_dir, const char *member,
			JsonObject *value, GError **error)
{
	JsonObject *m = json_object_new();

	json_object_set_object_member(m, member, value);
	return report_model_config_merge(model_dir, m, error);
}

/* report_model_config_merge - see train.h */
gboolean
report_model_config_merge(const char *model_dir, JsonObject *members,
			  GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonObject) mo = members;	/* taken */
	g_autofree char *path = g_build_filename(model_dir, "config.json",
						 NULL);
	g_autoptr(JsonParser) jp = json_parser_new();
	JsonNode *root;

	if (!json_parser_load_from_file(jp, path, &err)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s",
			    path, err->message);
		return FALSE;
	}
	root = json_parser_get_root(jp);
	JsonObject *top = JSON_NODE_HOLDS_OBJECT(root) ?
			  json_node_get_object(root) : NULL;
	JsonNode *gn = top ? json_object_get_member(top, "gptmilter") : NULL;
	if (gn == NULL || !JSON_NODE_HOLDS_OBJECT(gn)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: no gptmilter object (not a gptmilter "
			    "classifier)", path);
		return FALSE;
	}
	g_autoptr(GList) names = json_object_get_members(mo);
	for (GList *l = names; l; l = l->next)
		json_object_set_member(json_node_get_object(gn), l->data,
			json_node_copy(json_object_get_member(mo, l->data)));
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	gsize len;
	g_autofree char *txt = json_generator_to_data(gen, &len);
	g_autofree char *nl = g_strconcat(txt, "\n", NULL);
	return mapfile_write_atomic(path, nl, len + 1, error);
}

/* report_write_scripts - see train.h */
gboolean
report_write_scripts(Run *r, const char *model_dir, const Split *s,
		     GError **error)
{
	if (!report_model_config_set(model_dir, "scripts", report_scripts(r, s),
				     error))
		return FALSE;
	if (!r->o->quiet)
		printf("wrote the scripts of %zu messages into %s/config.json\n",
		       s->n, model_dir);
	return TRUE;
}
