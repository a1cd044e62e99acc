/*
 * train.h - gptmilter-train: what its source files share
 *
 * Owns: the options of one run (filled from argv by main.c), the loaded
 * data set (a Corpus with its classes and splits), and the entry points of
 * the training loop (loop.c) and the evaluation report (report.c).
 * Not here: any arithmetic of the model (src/core).
 */
#ifndef GPTM_TRAIN_H
#define GPTM_TRAIN_H

#include <glib.h>
#include <stdio.h>
#include <json-glib/json-glib.h>

#include "bpe.h"
#include "bundle.h"
#include "classifier.h"
#include "corpus.h"
#include "gpt.h"
#include "gpt_train.h"
#include "metrics.h"
#include "optim.h"
#include "safetensors.h"

typedef enum {
	MODE_FINETUNE,
	MODE_PRETRAIN,
	MODE_EVAL,
	MODE_SOUP,
	MODE_SCRIPTS,
	MODE_QUANTIZE,
	MODE_TOKENS,
} TrainMode;

typedef enum {
	BALANCE_NONE,
	BALANCE_UNDERSAMPLE,
	BALANCE_WEIGHTS,
} Balance;

/* The messages of one set as given: --ham, --spam, --class NAME=PATH and
 * --data, or their -val or -test forms (NULL-terminated, from GOption) */
typedef struct {
	char **ham, **spam, **class_specs, **data;
} TrainSources;

/* Every option of a run: the command line parses straight into these
 * fields (main.c), the defaults are set by train_options_init. */
typedef struct {
	TrainMode mode;
	const char *prog;
	/* model */
	char *base;		/* --base DIR */
	char *init;		/* --init random */
	int layers, heads, embd, ctx;
	char *tokenizer;	/* --tokenizer DIR */
	char *model;		/* eval, scripts, tokens: -m DIR */
	char *token_spec;	/* tokens: --tokens KEY=VALUE,... */
	/* data */
	TrainSources sets[CORPUS_N_SPLITS];	/* [CORPUS_TRAIN]: the main
						 * sets, split by --split */
	int train_pct, val_pct;	/* --split; 0/0 when explicit sets */
	gboolean split_given;	/* --split was given: the main sets are split
				 * even beside -val or -test sets */
	Balance balance;
	int max_tokens;		/* 0: the model's default (main.c) */
	int windows;		/* pretrain: max-tokens windows per message */
	int lm_samples;		/* pretrain: sampled softmax over the batch's
				 * targets and this many other tokens (0:
				 * the full softmax) */
	double header_dropout;	/* finetune: the chance that an example is
				 * read as its bare-header view in an epoch */
	/* recipe */
	int trainable_blocks;	/* -1 = all */
	GptPooling pooling;
	gboolean pooling_given;	/* --pooling: else a base keeps its own */
	double lr, wd, clip, min_lr;
	int batch, epochs, grad_accum, warmup;
	gint64 max_steps;	/* stop after this many updates (0: no limit) */
	gint64 average_last;	/* the saved weights are the mean of those
				 * after each of the last N updates (0: off) */
	double interpolate;	/* finetune --interpolate: the share of the
				 * fine-tuned weights in the saved ones, the
				 * rest the base's (WiSE-FT: soup.c), or
				 * INTERPOLATE_AUTO; 1 when not given */
	gboolean interpolate_given;
	OptimSchedKind schedule;
	guint64 seed;		/* --seed, parsed as a gint64 */
	int threads;		/* 0 on the command line: every core */
	/* output */
	char *out;
	char *name;
	StDtype dtype;
	double target_fpr;
	double threshold;	/* eval: --threshold, < 0: the model's */
	gboolean record_histogram; /* eval: write the scores' histogram into
				    * the model (gptmilter.score_histogram) */
	int min_val_ham;	/* fewer validation ham or spam than these: */
	int min_val_spam;	/* keep the base's calibration (report.c) */
	gint64 checkpoint_every;
	gboolean resume;
	char *json;		/* --json FILE (eval, and the final report) */
	char *scores;		/* --scores FILE: per-message scores */
	gboolean quiet;
	gint64 log_every;	/* plain progress lines every N updates */
	gint64 stop_after;	/* leave after N updates, as if interrupted */
} TrainOptions;

/* The examples of one split as arrays, ready for batching. */
typedef struct {
	gsize n;
	CorpusItem **items;	/* borrowed from the Corpus */
} Split;

/* Everything a run has loaded: data, tokenizer, model. */
typedef struct {
	TrainOptions *o;
	Corpus *corpus;
	Split split[CORPUS_N_SPLITS];
	CorpusItem *windows;	/* pretrain --windows: the 2nd, 3rd ...
				 * windows of the training messages, their
				 * ids borrowed from the corpus (n_windows) */
	gsize n_windows;
	int nl;			/* classes (0 in pretrain) */
	Classifier *classifier;	/* scores the reports: eval's loaded one, or
				 * one around model (report.c), or NULL */
	Bpe *bpe;
	char *tokenizer_dir;
	GptModel *model;
	char *base_name;	/* what the model was started from */
	JsonNode *base_training; /* the base's gptmilter.training, or NULL */
	double base_temperature; /* the base classifier's calibration and */
	double base_threshold;	 /* threshold, else 1 and the default */
	gboolean base_calibrated; /* whether the base had them */
	JsonNode *base_scripts;	/* soup: the first member's scripts record */
	float *base_block;	/* --interpolate: the base classifier's
				 * weights, head included (base_block_len) */
	gsize base_block_len;
	char **base_labels;	/* --interpolate: its classes, in head order */
	FILE *scores;		/* --scores, opened before any work, or NULL */
	JsonArray *soup;	/* soup: each member's name and training */
} Run;

/* train_by_model - eval and scripts: the classes are the model's, and
 * every message given is one set (the test split) */
static inline gboolean
train_by_model(const TrainOptions *o)
{
	return o->mode == MODE_EVAL || o->mode == MODE_SCRIPTS;
}

/* data.c: data_load - every message given into r->corpus, split and
 * checked, tokenized by r->bpe with end-of-text EOT, as r->split (and
 * r->windows); FALSE with error on bad input, before any training */
gboolean data_load(Run *r, int32_t eot, GError **error);

/* main.c: B (a classifier) as the base's operating point */
void run_base_calibration(Run *r, const Bundle *b);

/* loop.c */
gboolean train_run(Run *r, GError **error);
/* train_finish_classifier - calibrate on validation, evaluate on test,
 * write OUT; scores r->model through r->classifier. TRAINING (taken over)
 * becomes config.json's gptmilter.training. */
gboolean train_finish_classifier(Run *r, JsonObject *training,
				 GError **error);

/* soup.c: a model soup, the uniform mean of the weights of MEMBERS
 * (classifiers fine-tuned from one base), into r->model with its
 * tokenizer, classes and options (soup_load, before the data is loaded),
 * then calibrated, evaluated and written like a trained model (soup_finish) */
gboolean soup_load(Run *r, char **members, GError **error);
gboolean soup_finish(Run *r, GError **error);

/* weights_toward - ACC (N) moved the share A of the way to W: acc + a (w -
 * acc). With a = 1/k for the k-th of several weight sets, ACC is their
 * running mean (soup, --average-last); with ACC a base's weights and W a
 * fine-tune's, it is their interpolation (--interpolate). */
void weights_toward(float *acc, const float *w, gsize n, double a);

/* --interpolate auto: the share is chosen on validation among these, or,
 * with too few validation messages (--min-val-ham, --min-val-spam), is
 * INTERPOLATE_DEFAULT, WiSE-FT's own default */
#define INTERPOLATE_AUTO (-1.0)
#define INTERPOLATE_DEFAULT 0.5

/* soup_check_interpolate - FALSE with error unless the run's classes (the
 * data's) are the base classifier's, in its head's order, and its weights
 * can be mixed with the fine-tune's (r->base_block); called before
 * training */
gboolean soup_check_interpolate(Run *r, GError **error);

/* soup_interpolate - r->model's weights (the fine-tune's) replaced by
 * (1 - a) base + a fine-tune, a as --interpolate says (auto: chosen on the
 * validation split), printed unless quiet; the record for config.json's
 * training.interpolate */
JsonObject *soup_interpolate(Run *r);

/* tokens.c: gptmilter-train tokens - a token model trained on the
 * training split; with -m MODEL written into it and mixed with its
 * transformer (the mix fitted and the threshold recommended on
 * validation), else (-o DIR) alone; FALSE with error on bad input */
gboolean run_tokens(Run *r, GError **error);

/* report.c: logits (n, nl) of a split, in batches, by r->classifier (made
 * around r->model on first use) */
float *report_logits(Run *r, const Split *s, double *mean_loss);
/* report_mix_tokens - LOGITS (n, nl) of S mixed with r->classifier's
 * token model when it has one (its tokens in S's items: the corpus read
 * with its options), so that eval scores as gptmilter does */
void report_mix_tokens(Run *r, const Split *s, float *logits);
/* report_spam_scores - SCORES (n) of S at TEMPERATURE, the classifier's
 * spam score, and IS_POS (n), whether each item's class counts as spam */
void report_spam_scores(Run *r, const Split *s, const float *logits,
			double temperature, double *scores, gboolean *is_pos);
/* report_evaluate - metrics of SPLIT from LOGITS at THRESHOLD and
 * TEMPERATURE as a JSON object; prints the readable report unless quiet */
JsonObject *report_evaluate(Run *r, const char *title, const Split *s,
			    const float *logits, double temperature,
			    double threshold);
/* Validation below either count keeps the base's operating point. */
#define REPORT_MIN_VAL_HAM 200
#define REPORT_MIN_VAL_SPAM 50
/* report_enough_validation - whether VAL has --min-val-ham ham and
 * --min-val-spam spam, the evidence a run may fit anything on; their
 * counts into *N_HAM and *N_SPAM */
gboolean report_enough_validation(Run *r, const Split *val, gsize *n_ham,
				  gsize *n_spam);
/* No false positive in n ham bounds the FPR by 3/n only (95%). */
#define REPORT_RULE_OF_THREE 3.0

/* The operating point a run records, and how it was reached. */
typedef struct {
	double temperature;
	double threshold;
	gboolean fitted;	/* from validation; FALSE: the base's kept */
	double target_fpr;	/* the target used (raised to 3/n_ham) */
	gboolean clamped;	/* --target-fpr was below 3/n_ham */
	double achieved_fpr;	/* validation FPR at threshold, NaN if kept */
	gsize n_ham, n_spam;	/* validation messages */
	char *note;		/* one line saying what was done and why */
} ReportCalibration;

/* report_calibrate - temperature and threshold from the validation logits
 * (VAL may be empty, LOGITS then unused) when they are enough evidence,
 * else the base's; free CAL->note */
void report_calibrate(Run *r, const Split *val, const float *logits,
		      ReportCalibration *cal);

/* report_calibrate_at - the same with TEMPERATURE given, not fitted (the
 * LOGITS already calibrated: gptmilter-train tokens); FALSE, with the
 * base's point in CAL, when validation is too few */
gboolean report_calibrate_at(Run *r, const Split *val, const float *logits,
			     double temperature, ReportCalibration *cal);

/* report_scripts - the record of the dominant scripts of S's messages by
 * class (scripts.h), printed unless quiet */
JsonObject *report_scripts(Run *r, const Split *s);

/* report_eval - gptmilter-train eval: score the test split (every message
 * given) with r->classifier at its temperature and threshold (or
 * --threshold), print the report with the threshold that this set alone
 * recommends at --target-fpr, write --scores and --json */
gboolean report_eval(Run *r, GError **error);
/* report_write_scripts - gptmilter-train scripts: the record of S's
 * scripts into MODEL_DIR's config.json, every other field kept */
gboolean report_write_scripts(Run *r, const char *model_dir, const Split *s,
			      GError **error);
/* report_model_config_set - VALUE (taken) as gptmilter.MEMBER in
 * MODEL_DIR's config.json, every other field kept; written atomically */
gboolean report_model_config_set(const char *model_dir, const char *member,
				 JsonObject *value, GError **error);
/* report_model_config_merge - every member of MEMBERS (taken) into
 * MODEL_DIR's gptmilter object at once, as above */
gboolean report_model_config_merge(const char *model_dir, JsonObject *members,
				   GError **error);
/* report_score_histogram - the histogram of S's calibrated spam scores in
 * the milter's bins (metrics_score_bin), the reference of its drift figure
 * (gptmilter.score_histogram): { "split": SPLIT_NAME, "le": [0.1 .. 1],
 * "counts": [...] } */
JsonObject *report_score_histogram(Run *r, const char *split_name,
				   const Split *s, const float *logits,
				   double temperature);
/* report_write_json - O as pretty JSON to PATH, or to stdout for "-" */
gboolean report_write_json(const char *path, JsonObject *o, GError **error);

/* report_scores - append one line per item of S to r->scores (if open):
 * split name, path, source, true class, calibrated spam score */
void report_scores(Run *r, const char *split_name, const Split *s,
		   const float *logits, double temperature);
/* report_score_line - that line of one item IT with its SCORE */
void report_score_line(Run *r, const char *split_name, const CorpusItem *it,
		       double score);
/* report_scores_close - close r->scores; FALSE with error if any write
 * failed */
gboolean report_scores_close(Run *r, GError **error);

/* train_now - monotonic seconds, for the runs' timings (loop.c) */
double train_now(void);

#endif
