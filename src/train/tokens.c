/*
 * tokens.c - gptmilter-train tokens: the token-statistics model beside a
 * transformer (src/core/tokenstats.c), trained, mixed, calibrated, written
 *
 * Owns: counting the training split's tokens (the text each message's
 * classifier reads), the fit of how the two opinions combine (logistic
 * regression of "not ham" on the transformer's log-odds and the token
 * model's, on validation), the operating point of the mix (report.c's
 * rules: enough evidence, rule of three, Wilson intervals in the report),
 * and writing tokenstats.bin plus gptmilter.tokenstats and the new
 * threshold into the bundle. Without -m: the token model alone, its
 * validation scores (bench/bench_kfold.sh tokens) and its file in -o DIR.
 *	gptmilter-train tokens -m model/ --ham H --spam S --ham-val HV --spam-val SV
 *	gptmilter-train tokens -o dir/ --ham H --spam S --ham-val HV \
 *		--spam-val SV --scores fold.scores
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train.h"

#define MIX_L2 1e-3	/* a whisper of weight decay: only so that
			 * validation the two separate keeps finite weights */

static double
sigmoid(double z)
{
	return 1 / (1 + exp(-z));
}

/* load_classifier - -m MODEL as the run's model: its classes, text layout,
 * tokenizer and operating point (the scores are its transformer's) */
static Classifier *
load_classifier(Run *r, TokenStatsOptions *to, GError **error)
{
	TrainOptions *o = r->o;
	Classifier *cl = classifier_load(o->model, error);

	if (cl == NULL) {
		g_prefix_error(error, "-m %s: ", o->model);
		return NULL;
	}
	for (int i = 0; i < classifier_num_labels(cl); i++)
		corpus_class(r->corpus, classifier_label(cl, i));
	r->corpus->mailtext_version = classifier_mailtext_version(cl);
	to->mailtext_version = classifier_mailtext_version(cl);
	r->bpe = (Bpe *)classifier_bpe(cl);
	r->model = (GptModel *)classifier_model(cl);
	o->max_tokens = classifier_max_tokens(cl);
	r->classifier = classifier_ref(cl);
	run_base_calibration(r, classifier_bundle(cl));
	return cl;
}

/* train - the token model of the training split; HAM is the ham class */
static TokenStats *
train(Run *r, const TokenStatsOptions *to, int ham, GError **error)
{
	const Split *s = &r->split[CORPUS_TRAIN];
	TokenStats *ts = tokenstats_new(to);
	gsize n_spam = 0;

	for (gsize i = 0; i < s->n; i++) {
		gboolean spam = s->items[i]->label != ham;
		tokenstats_add(ts, &s->items[i]->tok, spam);
		n_spam += spam;
	}
	if (n_spam == 0 || n_spam == s->n) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "tokens: the training "
			    "messages need both ham and something else (--ham "
			    "and --spam)");
		tokenstats_free(ts);
		return NULL;
	}
	tokenstats_finish(ts);
	if (!r->o->quiet) {
		g_autofree char *d = tokenstats_options_describe(to);
		printf("token model: %zu tokens from %zu ham and %zu spam "
		       "(%s)\n", tokenstats_n_tokens(ts), s->n - n_spam, n_spam,
		       d);
	}
	return ts;
}

/* scores_of - the token log-odds (n) of S's items */
static double *
scores_of(const TokenStats *ts, const Split *s)
{
	double *z = g_new(double, s->n + 1);

	for (gsize i = 0; i < s->n; i++)
		z[i] = tokenstats_score(ts, &s->items[i]->tok, NULL);
	return z;
}

/* scale_of - the token log-odds' scale and shift that calibrate them on
 * the training split itself (Platt's scaling; monotone, so it changes no
 * ranking, only how far from 0.5 a score lies, which the saved P(spam)
 * would otherwise round to 0 or 1) */
static void
scale_of(Run *r, const TokenStats *ts, int ham, double w[2])
{
	const Split *s = &r->split[CORPUS_TRAIN];
	double *z = scores_of(ts, s);
	gboolean *y = g_new(gboolean, s->n + 1);

	for (gsize i = 0; i < s->n; i++)
		y[i] = s->items[i]->label != ham;
	if (!metrics_fit_logistic(z, y, s->n, 1, MIX_L2, w)) {
		w[0] = 1;
		w[1] = 0;
	}
	g_free(z);
	g_free(y);
}

/* alone - the token model's own figures on validation at 0.5, its scores
 * calibrated on the training split (scale_of) */
static void
alone(Run *r, const TokenStats *ts, const Split *s, const double *z, int ham)
{
	double *p = g_new(double, s->n + 1), w[2];
	gboolean *pos = g_new(gboolean, s->n + 1);
	MetricsBinary mb;

	scale_of(r, ts, ham, w);
	if (!r->o->quiet)
		printf("token log-odds calibrated on the training split: "
		       "%.4g * z %+.4g\n", w[0], w[1]);
	for (gsize i = 0; i < s->n; i++) {
		p[i] = sigmoid(w[0] * z[i] + w[1]);
		pos[i] = s->items[i]->label != ham;
		report_score_line(r, "validation", s->items[i], p[i]);
	}
	metrics_binary(p, pos, s->n, CLASSIFIER_THRESHOLD_DEFAULT, &mb);
	if (!r->o->quiet && s->n > 0)
		printf("validation, token model alone: %zu messages, at 0.5 "
		       "FP %zu of %zu ham, FN %zu of %zu spam, ROC AUC %.5f\n",
		       s->n, mb.fp, mb.fp + mb.tn, mb.fn, mb.fn + mb.tp,
		       metrics_roc_auc(p, pos, s->n));
	g_free(p);
	g_free(pos);
}

/* fit_mix - the weights of the mix on validation (logits L, token
 * log-odds Z): the logistic regression of "not ham" */
static gboolean
fit_mix(Run *r, const Split *s, const float *l, const double *z, int ham,
	TokenStatsMix *mix, GError **error)
{
	double *x = g_new(double, 2 * s->n + 1), w[3];
	gboolean *y = g_new(gboolean, s->n + 1);

	for (gsize i = 0; i < s->n; i++) {
		x[2 * i] = classifier_gpt_logodds(r->classifier,
						  l + i * (gsize)r->nl);
		x[2 * i + 1] = z[i];
		y[i] = s->items[i]->label != ham;
	}
	gboolean ok = metrics_fit_logistic(x, y, s->n, 2, MIX_L2, w);
	g_free(x);
	g_free(y);
	if (!ok) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "tokens: the fit of the mix "
			    "on validation failed");
		return FALSE;
	}
	*mix = (TokenStatsMix){ w[0], w[1], w[2] };
	return TRUE;
}

/* mixed - LOGITS (n, nl) of S mixed with the token log-odds Z by MIX, a
 * new array */
static float *
mixed(Run *r, const Split *s, const float *logits, const double *z,
      const TokenStatsMix *mix)
{
	gsize nl = (gsize)r->nl;
	float *m = g_memdup2(logits, sizeof *m * (s->n * nl + 1));

	for (gsize i = 0; i < s->n; i++)
		classifier_mix_logits(r->classifier, mix, m + i * nl, z[i]);
	return m;
}

/* write_model - tokenstats.bin, then config.json's tokenstats and
 * threshold in one atomic write */
static gboolean
write_model(Run *r, const TokenStats *ts, const TokenStatsMix *mix,
	    const ReportCalibration *cal, GError **error)
{
	const char *dir = r->o->model;
	g_autofree char *path = g_build_filename(dir, TOKENSTATS_FILE, NULL);
	g_autofree char *desc = tokenstats_options_describe(
		tokenstats_options(ts));

	if (!tokenstats_save(ts, path, error))
		return FALSE;
	JsonObject *t = json_object_new();
	json_object_set_string_member(t, "file", TOKENSTATS_FILE);
	json_object_set_double_member(t, "weight_gpt", mix->weight_gpt);
	json_object_set_double_member(t, "weight_tokens", mix->weight_tokens);
	json_object_set_double_member(t, "bias", mix->bias);
	json_object_set_string_member(t, "options", desc);
	json_object_set_int_member(t, "tokens",
				   (gint64)tokenstats_n_tokens(ts));
	json_object_set_int_member(t, "ham",
				   (gint64)tokenstats_n_messages(ts, FALSE));
	json_object_set_int_member(t, "spam",
				   (gint64)tokenstats_n_messages(ts, TRUE));
	json_object_set_double_member(t, "threshold_without",
				      r->base_threshold);
	json_object_set_string_member(t, "calibration", cal->note);
	JsonObject *m = json_object_new();
	json_object_set_object_member(m, "tokenstats", t);
	json_object_set_double_member(m, "threshold", cal->threshold);
	if (!report_model_config_merge(dir, m, error))
		return FALSE;
	if (!r->o->quiet)
		printf("wrote %s and gptmilter.tokenstats, threshold %.6g into "
		       "%s/config.json\n", path, cal->threshold, dir);
	return TRUE;
}

/* with_model - -m MODEL: fit the mix, recommend its threshold, report
 * validation (and test) and write the model */
static gboolean
with_model(Run *r, const TokenStats *ts, int ham, GError **error)
{
	const Split *val = &r->split[CORPUS_VAL], *test = &r->split[CORPUS_TEST];
	double T = classifier_temperature(r->classifier);
	ReportCalibration cal;
	g_autofree float *logits = report_logits(r, val, NULL);
	g_autofree double *z = scores_of(ts, val);

	/* the mix needs a measured operating point: with too few messages
	 * the base's threshold would not be the mix's */
	if (!report_calibrate_at(r, val, logits, T, &cal)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "tokens -m: %s; the mix of "
			    "the two models cannot be fitted (give more "
			    "validation mail)", cal.note);
		g_free(cal.note);
		return FALSE;
	}
	g_free(cal.note);
	TokenStatsMix mix;
	if (!fit_mix(r, val, logits, z, ham, &mix, error))
		return FALSE;
	if (!r->o->quiet)
		printf("mix on validation: log-odds = %.4g * transformer + "
		       "%.4g * tokens %+.4g\n", mix.weight_gpt,
		       mix.weight_tokens, mix.bias);
	json_object_unref(report_evaluate(r, "validation, transformer alone",
					  val, logits, T, r->base_threshold));
	g_autofree float *m = mixed(r, val, logits, z, &mix);
	report_calibrate_at(r, val, m, T, &cal);
	if (!r->o->quiet)
		printf("%s\n", cal.note);
	json_object_unref(report_evaluate(r, "validation, transformer + "
					  "tokens", val, m, T, cal.threshold));
	report_scores(r, "validation", val, m, T);
	if (test->n > 0) {
		g_autofree float *lt = report_logits(r, test, NULL);
		g_autofree double *zt = scores_of(ts, test);
		g_autofree float *mt = mixed(r, test, lt, zt, &mix);
		json_object_unref(report_evaluate(r, "test, transformer + "
						  "tokens", test, mt, T,
						  cal.threshold));
		report_scores(r, "test", test, mt, T);
	}
	gboolean ok = write_model(r, ts, &mix, &cal, error);
	g_free(cal.note);
	return ok;
}

/* run_tokens - see train.h */
gboolean
run_tokens(Run *r, GError **error)
{
	TrainOptions *o = r->o;
	g_autoptr(Classifier) cl = NULL;
	TokenStatsOptions to;
	int ham;

	tokenstats_options_default(&to);
	if (o->model != NULL && (cl = load_classifier(r, &to, error)) == NULL)
		return FALSE;
	if (o->model == NULL)
		o->max_tokens = 1;	/* no transformer: no ids */
	if (o->token_spec != NULL &&
	    !tokenstats_options_parse(&to, o->token_spec, error))
		return FALSE;
	r->corpus->token_opts = &to;
	if (!data_load(r, cl ? classifier_eot_id(cl) : 0, error))
		return FALSE;
	if (cl != NULL) {
		r->nl = classifier_num_labels(cl);
		ham = classifier_ham_index(cl);
		if ((int)r->corpus->classes->len > r->nl) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "class %s is not a "
				    "label of -m %s", (char *)g_ptr_array_index(
				    r->corpus->classes, r->nl), o->model);
			return FALSE;
		}
	} else if ((ham = corpus_class_find(r->corpus, "ham")) < 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "tokens: no ham (--ham): "
			    "the token model tells ham from the rest");
		return FALSE;
	}
	g_autoptr(TokenStats) ts = train(r, &to, ham, error);
	if (ts == NULL)
		return FALSE;
	if (cl != NULL) {
		gpt_set_threads(o->threads);
		if (!with_model(r, ts, ham, error))
			return FALSE;
	} else {
		const Split *val = &r->split[CORPUS_VAL];
		g_autofree double *z = scores_of(ts, val);
		alone(r, ts, val, z, ham);
		g_autofree char *path = o->out ? g_build_filename(o->out,
			TOKENSTATS_FILE, NULL) : NULL;
		if (o->out != NULL && g_mkdir_with_parents(o->out, 0755) != 0) {
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(errno), "%s: %s",
				    o->out, g_strerror(errno));
			return FALSE;
		}
		if (o->out != NULL && !tokenstats_save(ts, path, error))
			return FALSE;
	}
	if (!report_scores_close(r, error))
		return FALSE;
	r->corpus->token_opts = NULL;
	for (int k = 0; k < CORPUS_N_SPLITS; k++)
		g_clear_pointer(&r->split[k].items, g_free);
	g_clear_pointer(&r->classifier, classifier_unref);
	r->model = NULL;	/* the classifier's */
	r->bpe = NULL;
	return TRUE;
}
