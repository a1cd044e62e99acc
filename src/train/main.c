/*
 * main.c - gptmilter-train: fine-tune, pretrain or evaluate a GPT-2 mail
 * classifier
 *
 * Owns: the command line (modes, options and their defaults: the "Build a
 * LLM from scratch" ch. 6 recipe) parsed into TrainOptions, loading the
 * model and its tokenizer, and every check of the options and the model
 * that must fail before any training starts (unreadable paths, a base
 * without tokenizer, --max-tokens past the model's positions).
 * Not here: the data (data.c), the training loop (loop.c), evaluation
 * (report.c), averaging (soup.c), anything numeric (src/core).
 *
 *	gptmilter-train finetune --base gpt2/ --ham H --spam S -o model/
 *	gptmilter-train eval -m model/ --ham H --spam S [--json FILE]
 *	gptmilter-train pretrain --init random --data mail/ -o lm/
 *	gptmilter-train tokens -m model/ --ham H --spam S --ham-val ... (tokens.c)
 *
 * Exit status: 0 done, 1 bad input or a failed run, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"
#include "bundle.h"
#include "classifier.h"
#include "mailtext.h"
#include "tokens.h"

#define DEF_MAX_TOKENS 256
#define MAX_WINDOWS 64
#define DEF_LR_FINETUNE 5e-5
#define DEF_LR_PRETRAIN 3e-4

/* The run's options: the GOption entries below parse into its fields. */
static TrainOptions o;

/* A word an option takes, and the value it stands for. */
typedef struct {
	const char *word;
	int value;
} Choice;

/* choose - *VALUE for WORD, one of CHOICES (ending in a NULL word); else
 * FALSE with "OPTION WORD: a, b or c" */
static gboolean
choose(const Choice *choices, const char *option, const char *word,
       int *value, GError **error)
{
	g_autoptr(GString) all = g_string_new(NULL);
	int n;

	for (n = 0; choices[n].word != NULL; n++)
		if (strcmp(word, choices[n].word) == 0) {
			*value = choices[n].value;
			return TRUE;
		}
	for (int i = 0; i < n; i++)
		g_string_append_printf(all, "%s%s", i == 0 ? "" : i == n - 1 ?
				       " or " : ", ", choices[i].word);
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s %s: %s",
		    option, word, all->str);
	return FALSE;
}

static const Choice balances[] = { { "none", BALANCE_NONE },
	{ "undersample", BALANCE_UNDERSAMPLE }, { "weights", BALANCE_WEIGHTS },
	{ NULL, 0 } };
static const Choice poolings[] = { { "last", GPT_POOL_LAST },
	{ "mean", GPT_POOL_MEAN }, { NULL, 0 } };
static const Choice schedules[] = { { "constant", OPTIM_SCHED_CONSTANT },
	{ "cosine", OPTIM_SCHED_COSINE }, { NULL, 0 } };
static const Choice dtypes[] = { { "f32", ST_F32 }, { "bf16", ST_BF16 },
	{ "int8", ST_I8 }, { NULL, 0 } };

/* parse_choice - --balance, --pooling, --schedule or --dtype (OPTION) into
 * its field of DATA (TrainOptions) */
static gboolean
parse_choice(const char *option, const char *word, gpointer data,
	     GError **error)
{
	TrainOptions *opts = data;
	const char *name = option + 2;	/* past "--" */
	const Choice *c = strcmp(name, "balance") == 0 ? balances :
			  strcmp(name, "pooling") == 0 ? poolings :
			  strcmp(name, "schedule") == 0 ? schedules : dtypes;
	int v;

	if (!choose(c, option, word, &v, error))
		return FALSE;
	if (c == balances)
		opts->balance = (Balance)v;
	else if (c == poolings) {
		opts->pooling = (GptPooling)v;
		opts->pooling_given = TRUE;
	} else if (c == schedules)
		opts->schedule = (OptimSchedKind)v;
	else
		opts->dtype = (StDtype)v;
	return TRUE;
}

static gboolean
parse_trainable(const char *option, const char *word, gpointer data,
		GError **error)
{
	TrainOptions *opts = data;
	char *end;

	if (strcmp(word, "all") == 0) {
		opts->trainable_blocks = -1;
		return TRUE;
	}
	opts->trainable_blocks = (int)strtol(word, &end, 10);
	if (opts->trainable_blocks < 0 || *end) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s %s: a number or all", option, word);
		return FALSE;
	}
	return TRUE;
}

/* parse_interpolate - --interpolate auto or a share in [0, 1] */
static gboolean
parse_interpolate(const char *option, const char *word, gpointer data,
		  GError **error)
{
	TrainOptions *opts = data;
	char *end;

	opts->interpolate_given = TRUE;
	if (strcmp(word, "auto") == 0) {
		opts->interpolate = INTERPOLATE_AUTO;
		return TRUE;
	}
	opts->interpolate = g_ascii_strtod(word, &end);
	if (end == word || *end || !(opts->interpolate >= 0 &&
				     opts->interpolate <= 1)) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s %s: auto or a share in [0, 1]", option, word);
		return FALSE;
	}
	return TRUE;
}

static gboolean
parse_split(const char *option, const char *word, gpointer data,
	    GError **error)
{
	TrainOptions *opts = data;

	(void)option;
	opts->split_given = TRUE;
	return corpus_parse_split(word, &opts->train_pct, &opts->val_pct, error);
}

static GOptionEntry data_entries[] = {
	{ "ham", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_TRAIN].ham,
	  "Ham messages (Maildir, mbox, directory, file); repeatable", "PATH" },
	{ "spam", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_TRAIN].spam,
	  "Spam messages; repeatable", "PATH" },
	{ "class", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sets[CORPUS_TRAIN].class_specs,
	  "Messages of class NAME; repeatable", "NAME=PATH" },
	{ "data", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_TRAIN].data,
	  "TSV (label<TAB>text) with its own labels, or unlabelled mail for "
	  "pretrain", "PATH" },
	{ "ham-val", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_VAL].ham,
	  "Validation ham", "PATH" },
	{ "spam-val", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_VAL].spam,
	  "Validation spam", "PATH" },
	{ "class-val", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sets[CORPUS_VAL].class_specs,
	  "Validation messages of class NAME", "NAME=PATH" },
	{ "data-val", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_VAL].data,
	  "Validation TSV or unlabelled mail", "PATH" },
	{ "ham-test", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_TEST].ham,
	  "Test ham", "PATH" },
	{ "spam-test", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_TEST].spam,
	  "Test spam", "PATH" },
	{ "class-test", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sets[CORPUS_TEST].class_specs,
	  "Test messages of class NAME", "NAME=PATH" },
	{ "data-test", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.sets[CORPUS_TEST].data,
	  "Test TSV or unlabelled mail", "PATH" },
	{ "split", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_split,
	  "Split by content hash when no -val/-test sets are given "
	  "(default 70/10/20)", "TRAIN/VAL/TEST" },
	{ "balance", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_choice,
	  "Class balance: none (default), undersample, weights", "MODE" },
	{ "max-tokens", 0, 0, G_OPTION_ARG_INT, &o.max_tokens,
	  "Tokens read of each message (default 256, at most n_ctx)", "N" },
	{ "windows", 0, 0, G_OPTION_ARG_INT, &o.windows,
	  "pretrain: read up to N consecutive max-tokens windows of each "
	  "training message, each an example (default 1: the head only)", "N" },
	{ "lm-samples", 0, 0, G_OPTION_ARG_INT, &o.lm_samples,
	  "pretrain: a sampled softmax over each batch's next tokens and K "
	  "others drawn at random, several times cheaper than the whole "
	  "vocabulary (default 0: the full softmax)", "K" },
	{ "header-dropout", 0, 0, G_OPTION_ARG_DOUBLE, &o.header_dropout,
	  "finetune: in each epoch read a training message with the chance P "
	  "as if it had no From, To, Cc, X-Mailer, User-Agent or Content-Type "
	  "line (default 0)", "P" },
	{ NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL }
};

static GOptionEntry model_entries[] = {
	{ "base", 0, 0, G_OPTION_ARG_FILENAME, &o.base,
	  "Base model: a Hugging Face GPT-2 directory", "DIR" },
	{ "init", 0, 0, G_OPTION_ARG_STRING, &o.init,
	  "Start from random weights instead: --init random", "random" },
	{ "layers", 0, 0, G_OPTION_ARG_INT, &o.layers, "Random init: blocks (2)", "L" },
	{ "heads", 0, 0, G_OPTION_ARG_INT, &o.heads, "Random init: heads (2)", "NH" },
	{ "embd", 0, 0, G_OPTION_ARG_INT, &o.embd, "Random init: width (64)", "C" },
	{ "ctx", 0, 0, G_OPTION_ARG_INT, &o.ctx, "Random init: positions (256)", "T" },
	{ "tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &o.tokenizer,
	  "Tokenizer directory for --init random (default: the installed "
	  "default model's, " CLASSIFIER_DEFAULT_MODEL ")", "DIR" },
	{ "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model,
	  "eval, scripts, tokens: the classifier bundle", "DIR" },
	{ "tokens", 0, 0, G_OPTION_ARG_STRING, &o.token_spec,
	  "tokens: the token model's options, KEY=VALUE,... (bigrams, "
	  "from-domain, per-occurrence, combine, sig, min-count, strength, "
	  "prior, min-dev, ham-weight; see gptmilter-train(1))", "SPEC" },
	{ NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL }
};

static GOptionEntry train_entries[] = {
	{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.out,
	  "Output bundle directory (checkpoints in OUT/checkpoint)", "OUT" },
	{ "name", 0, 0, G_OPTION_ARG_STRING, &o.name, "Model name", "NAME" },
	{ "trainable-blocks", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_trainable,
	  "Last N blocks train (+ ln_f + head), or all (default 1; pretrain "
	  "all)", "N|all" },
	{ "pooling", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_choice,
	  "last (default; a --base keeps its own) or mean", "MODE" },
	{ "lr", 0, 0, G_OPTION_ARG_DOUBLE, &o.lr,
	  "Peak learning rate (5e-5; pretrain 3e-4)", "LR" },
	{ "min-lr", 0, 0, G_OPTION_ARG_DOUBLE, &o.min_lr,
	  "Floor of the cosine schedule (0)", "LR" },
	{ "wd", 0, 0, G_OPTION_ARG_DOUBLE, &o.wd, "AdamW weight decay (0.1)", "WD" },
	{ "batch", 0, 0, G_OPTION_ARG_INT, &o.batch, "Messages per batch (8)", "B" },
	{ "epochs", 0, 0, G_OPTION_ARG_INT, &o.epochs, "Epochs (5; pretrain 1)", "N" },
	{ "max-steps", 0, 0, G_OPTION_ARG_INT64, &o.max_steps,
	  "At most N updates in all (0: no limit)", "N" },
	{ "grad-accum", 0, 0, G_OPTION_ARG_INT, &o.grad_accum,
	  "Batches per update (1)", "N" },
	{ "warmup", 0, 0, G_OPTION_ARG_INT, &o.warmup,
	  "Updates of linear warm-up (0)", "N" },
	{ "schedule", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_choice,
	  "constant (default) or cosine", "KIND" },
	{ "average-last", 0, 0, G_OPTION_ARG_INT64, &o.average_last,
	  "Save the mean of the weights after each of the last N updates "
	  "(0: the last weights)", "N" },
	{ "interpolate", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_interpolate,
	  "finetune from a classifier: save (1 - A) x the base's weights + A "
	  "x the fine-tune's (WiSE-FT); auto chooses A on validation (0.5 "
	  "with fewer than --min-val-ham/--min-val-spam) (default 1: the "
	  "fine-tune's)", "auto|A" },
	{ "clip", 0, 0, G_OPTION_ARG_DOUBLE, &o.clip,
	  "Clip the gradient to this global norm (0: off, the recipe)", "NORM" },
	{ "seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "Random seed (1)", "N" },
	{ "threads", 0, 0, G_OPTION_ARG_INT, &o.threads,
	  "BLAS and tokenizer threads (all cores)", "N" },
	{ "dtype", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_choice,
	  "Saved weights: f32 (default), bf16 or int8 (the linear layers; "
	  "quantize's default)", "TYPE" },
	{ "target-fpr", 0, 0, G_OPTION_ARG_DOUBLE, &o.target_fpr,
	  "Recommended threshold keeps the validation FPR under this (0.001; "
	  "raised to 3/n for n validation ham, the least they can measure)",
	  "RATE" },
	{ "min-val-ham", 0, 0, G_OPTION_ARG_INT, &o.min_val_ham,
	  "Fit temperature and threshold only with this many validation ham "
	  "(200); fewer keeps the base's", "N" },
	{ "min-val-spam", 0, 0, G_OPTION_ARG_INT, &o.min_val_spam,
	  "... and this many validation spam (50)", "N" },
	{ "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o.threshold,
	  "eval: spam threshold (default: the model's)", "P" },
	{ "record-histogram", 0, 0, G_OPTION_ARG_NONE, &o.record_histogram,
	  "eval: record the histogram of these scores in the model, the "
	  "reference of the milter's drift figure (give validation mail)",
	  NULL },
	{ "checkpoint-every", 0, 0, G_OPTION_ARG_INT64, &o.checkpoint_every,
	  "Checkpoint every N updates (0: never)", "N" },
	{ "resume", 0, 0, G_OPTION_ARG_NONE, &o.resume,
	  "Continue from OUT/checkpoint", NULL },
	{ "stop-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64,
	  &o.stop_after, "Leave after N updates (tests of --resume)", "N" },
	{ "log-every", 0, 0, G_OPTION_ARG_INT64, &o.log_every,
	  "Plain progress line every N updates when not on a terminal (50)",
	  "N" },
	{ "json", 0, 0, G_OPTION_ARG_FILENAME, &o.json,
	  "Also write the metrics as JSON to FILE (- for stdout)", "FILE" },
	{ "scores", 0, 0, G_OPTION_ARG_FILENAME, &o.scores,
	  "Also write each validation and test message's P(spam) to FILE "
	  "(TSV: split, path, source, class, score)", "FILE" },
	{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet,
	  "Only errors", NULL },
	{ NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL }
};

static void
die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gptmilter-train: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
die_error(GError *err)
{
	die("%s", err->message);
}

static int
parse_mode(const char *s)
{
	if (strcmp(s, "finetune") == 0)
		return MODE_FINETUNE;
	if (strcmp(s, "pretrain") == 0)
		return MODE_PRETRAIN;
	if (strcmp(s, "eval") == 0)
		return MODE_EVAL;
	if (strcmp(s, "soup") == 0)
		return MODE_SOUP;
	if (strcmp(s, "scripts") == 0)
		return MODE_SCRIPTS;
	if (strcmp(s, "quantize") == 0)
		return MODE_QUANTIZE;
	if (strcmp(s, "tokens") == 0)
		return MODE_TOKENS;
	return -1;
}

static void
usage_error(GOptionContext *ctx, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
usage_error(GOptionContext *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	fprintf(stderr, "gptmilter-train: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'gptmilter-train --help'.\n");
	exit(2);
}

/* train_options_init - the defaults of MODE, before the command line */
static void
train_options_init(TrainOptions *t, TrainMode mode)
{
	gboolean lm = mode == MODE_PRETRAIN;

	memset(t, 0, sizeof *t);
	t->mode = mode;
	t->layers = 2;
	t->heads = 2;
	t->embd = 64;
	t->ctx = 256;
	t->train_pct = 70;
	t->val_pct = 10;
	t->balance = BALANCE_NONE;
	t->windows = 1;
	t->trainable_blocks = lm ? -1 : 1;
	t->pooling = GPT_POOL_LAST;
	t->lr = lm ? DEF_LR_PRETRAIN : DEF_LR_FINETUNE;
	t->wd = 0.1;
	t->batch = 8;
	t->epochs = lm ? 1 : 5;
	t->grad_accum = 1;
	t->schedule = OPTIM_SCHED_CONSTANT;
	t->seed = 1;
	t->dtype = mode == MODE_QUANTIZE ? ST_I8 : ST_F32;
	t->target_fpr = 0.001;
	t->threshold = -1;
	t->interpolate = 1.0;
	t->min_val_ham = REPORT_MIN_VAL_HAM;
	t->min_val_spam = REPORT_MIN_VAL_SPAM;
	t->log_every = 50;
}

/* check_options - what the command line left to resolve, or a usage
 * error */
static void
check_options(GOptionContext *ctx)
{
	if (o.threads <= 0)
		o.threads = (int)g_get_num_processors();
	if (o.log_every <= 0)
		o.log_every = 50;
	if (o.batch < 1 || o.grad_accum < 1 || o.epochs < 1 || o.warmup < 0 ||
	    o.lr <= 0 || o.wd < 0 || o.clip < 0 || o.max_tokens < 0 ||
	    o.average_last < 0 || o.target_fpr < 0 || o.target_fpr > 1 ||
	    o.windows < 1 || o.windows > MAX_WINDOWS || o.min_val_ham < 1 ||
	    o.min_val_spam < 1)
		usage_error(ctx, "--batch, --grad-accum, --epochs, --lr, "
			    "--min-val-ham and --min-val-spam must "
			    "be positive; --wd, --clip, --warmup, --max-tokens, "
			    "--average-last not negative; --target-fpr in [0, 1]; "
			    "--windows 1 to %d", MAX_WINDOWS);
	if (o.windows > 1 && o.mode != MODE_PRETRAIN)
		usage_error(ctx, "--windows is for pretrain: a classifier reads "
			    "the head of each message only");
	if (o.lm_samples < 0)
		usage_error(ctx, "--lm-samples: a count of tokens, 0 or more");
	if (o.lm_samples > 0 && o.mode != MODE_PRETRAIN)
		usage_error(ctx, "--lm-samples is for pretrain: a classifier "
			    "has no softmax over the vocabulary");
	if (!(o.header_dropout >= 0 && o.header_dropout <= 1))
		usage_error(ctx, "--header-dropout: a chance in [0, 1]");
	if (o.header_dropout > 0 && o.mode != MODE_FINETUNE)
		usage_error(ctx, "--header-dropout is for finetune: it varies "
			    "the training examples of a classifier");
	if (o.interpolate_given && (o.mode != MODE_FINETUNE || o.base == NULL))
		usage_error(ctx, "--interpolate is for finetune --base "
			    "CLASSIFIER: it mixes the fine-tune's weights with "
			    "the base's");
	if (o.record_histogram && o.mode != MODE_EVAL)
		usage_error(ctx, "--record-histogram is for eval: it records "
			    "the scores it computes");
	if (o.mode == MODE_QUANTIZE) {
		if (o.model == NULL || o.out == NULL)
			usage_error(ctx, "quantize needs -m MODEL and -o OUT");
		return;
	}
	if (o.token_spec != NULL && o.mode != MODE_TOKENS)
		usage_error(ctx, "--tokens is for the tokens mode");
	if (o.mode == MODE_TOKENS) {
		if ((o.model == NULL) == (o.out == NULL))
			usage_error(ctx, "tokens needs either -m MODEL (train "
				    "the token model into it) or -o DIR (a "
				    "token model alone)");
		if (o.base || o.init)
			usage_error(ctx, "tokens: the model is -m MODEL (no "
				    "--base or --init)");
		return;
	}
	if (train_by_model(&o)) {
		if (o.model == NULL)
			usage_error(ctx, "%s needs -m MODEL", o.mode == MODE_EVAL ?
				    "eval" : "scripts");
		return;
	}
	if (o.out == NULL)
		usage_error(ctx, "%s needs -o OUT", o.mode == MODE_PRETRAIN ?
			    "pretrain" : o.mode == MODE_SOUP ? "soup" :
			    "finetune");
	if (o.mode == MODE_SOUP) {
		if (o.base || o.init)
			usage_error(ctx, "soup: the members are the model (no "
				    "--base or --init)");
		return;
	}
	if ((o.base == NULL) == (o.init == NULL))
		usage_error(ctx, "give either --base DIR or --init random");
	if (o.init && strcmp(o.init, "random") != 0)
		usage_error(ctx, "--init %s: only random", o.init);
	if (o.init && (o.layers < 1 || o.heads < 1 || o.embd < 1 ||
		       o.embd % o.heads || o.ctx < 2))
		usage_error(ctx, "--init random: --layers, --heads, --ctx must be "
			    "positive and --embd a multiple of --heads");
}

/* run_base_calibration - B's operating point, kept when validation is
 * too small to measure one (report_calibrate) */
void
run_base_calibration(Run *r, const Bundle *b)
{
	r->base_temperature = b->temperature > 0 ? b->temperature : 1.0;
	r->base_threshold = b->threshold >= 0 && b->threshold <= 1 ?
			    b->threshold : CLASSIFIER_THRESHOLD_DEFAULT;
	r->base_calibrated = TRUE;
}

/* load_model - base or random weights, tokenizer; all checks first */
static void
load_model(Run *r)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *vocab = NULL, *merges = NULL;

	if (o.base) {
		g_autoptr(Bundle) b = bundle_load(o.base, &err);
		if (b == NULL)
			die("--base %s: %s", o.base, err->message);
		if (o.mode == MODE_PRETRAIN && b->gpt.num_labels > 0)
			die("--base %s: a classifier; pretrain needs a plain "
			    "GPT-2 language model", o.base);
		r->model = bundle_load_model(b, GPT_LOAD_OWNED, &err);
		if (r->model == NULL)
			die("--base %s: %s", o.base, err->message);
		vocab = g_strdup(b->vocab_path);
		merges = g_strdup(b->merges_path);
		r->tokenizer_dir = g_path_get_dirname(b->vocab_path);
		r->base_name = g_strdup(o.base);
		r->base_training = bundle_extra_copy(b, "training");
		/* A retrain of a classifier reads the text layout it was
		 * trained on (a language model base gets the current one):
		 * a small local corpus cannot teach a model another layout,
		 * and its operating point was measured on this one. */
		if (b->gpt.num_labels > 0 && b->mailtext_version > 0 &&
		    mailtext_version_supported(b->mailtext_version))
			r->corpus->mailtext_version = b->mailtext_version;
		if (b->gpt.num_labels > 0)
			run_base_calibration(r, b);
		/* --interpolate mixes these back in at the end (soup.c) */
		if (o.interpolate_given && b->gpt.num_labels > 0) {
			r->base_block_len = r->model->block_len;
			r->base_block = g_memdup2(r->model->block,
				r->base_block_len * sizeof *r->base_block);
			r->base_labels = g_strdupv(b->labels);
		}
	} else {
		/* GPT-2's tokenizer, as the installed default model has it */
		const char *dir = o.tokenizer ? o.tokenizer :
				  CLASSIFIER_DEFAULT_MODEL;
		if (!bundle_find_tokenizer(dir, &vocab, &merges))
			die("tokenizer %s: no vocab.json + merges.txt or "
			    "encoder.json + vocab.bpe (give --tokenizer DIR)", dir);
		r->tokenizer_dir = g_strdup(dir);
		r->base_name = g_strdup_printf("random L%d NH%d C%d T%d seed %"
					       G_GUINT64_FORMAT, o.layers,
					       o.heads, o.embd, o.ctx, o.seed);
	}
	r->bpe = bpe_load(vocab, merges, &err);
	if (r->bpe == NULL)
		die("tokenizer: %s", err->message);
	if (o.init) {
		GptConfig cfg = { o.layers, o.heads, o.embd, o.ctx,
				  bpe_vocab_size(r->bpe), 1e-5f, 0, GPT_POOL_LAST };
		r->model = gpt_model_new_random(&cfg, o.seed);
	}
	GptModel *m = r->model;
	if (bpe_vocab_size(r->bpe) > m->cfg.vocab_size)
		die("tokenizer has %d tokens but the model only %d",
		    bpe_vocab_size(r->bpe), m->cfg.vocab_size);
	if (o.max_tokens == 0)
		o.max_tokens = MIN(DEF_MAX_TOKENS, m->cfg.n_ctx);
	if (o.max_tokens > m->cfg.n_ctx)
		die("--max-tokens %d: the model has only %d positions",
		    o.max_tokens, m->cfg.n_ctx);
	if (o.trainable_blocks > m->cfg.n_layer)
		die("--trainable-blocks %d: the model has %d blocks",
		    o.trainable_blocks, m->cfg.n_layer);
	/* A base keeps the pooling it was trained with unless told. */
	if (!o.pooling_given)
		o.pooling = m->cfg.pooling;
	m->cfg.pooling = o.pooling;
}

/* run_eval - score a labelled corpus with a trained bundle (eval), or
 * record its scripts in the model (scripts) */
static int
run_eval(Run *r)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(Classifier) cl = classifier_load(o.model, &err);
	gboolean ok;

	if (cl == NULL)
		die("-m %s: %s", o.model, err->message);
	for (int i = 0; i < classifier_num_labels(cl); i++)
		corpus_class(r->corpus, classifier_label(cl, i));
	r->model = (GptModel *)classifier_model(cl);
	o.max_tokens = classifier_max_tokens(cl);
	/* Score with the text layout the model was trained on and the ids
	 * it is served (the classifier's end-of-text). */
	r->corpus->mailtext_version = classifier_mailtext_version(cl);
	r->bpe = (Bpe *)classifier_bpe(cl);
	/* a token model reads its own tokens of the same text */
	if (classifier_tokens(cl) != NULL)
		r->corpus->token_opts = tokenstats_options(classifier_tokens(cl));
	if (!data_load(r, classifier_eot_id(cl), &err))
		die_error(err);
	r->nl = classifier_num_labels(cl);
	if (o.mode == MODE_SCRIPTS) {
		ok = report_write_scripts(r, o.model, &r->split[CORPUS_TEST],
					  &err);
	} else {
		r->classifier = classifier_ref(cl);	/* the reports score
							 * with it */
		gpt_set_threads(o.threads);
		ok = report_eval(r, &err);
	}
	for (int k = 0; k < CORPUS_N_SPLITS; k++)
		g_clear_pointer(&r->split[k].items, g_free);
	g_clear_pointer(&r->classifier, classifier_unref);
	r->model = NULL;
	r->bpe = NULL;
	if (!ok)
		fprintf(stderr, "gptmilter-train: %s\n", err->message);
	return ok ? 0 : 1;
}

/* print_model - the one line about the model a run trains or writes */
static void
print_model(const Run *r)
{
	if (!o.quiet)
		printf("model: %s, %d blocks, %d heads, width %d, %d positions, "
		       "max %d tokens, %s pooling\n", r->base_name,
		       r->model->cfg.n_layer, r->model->cfg.n_head,
		       r->model->cfg.n_embd, r->model->cfg.n_ctx, o.max_tokens,
		       o.pooling == GPT_POOL_MEAN ? "mean" : "last");
}

/* run_free - what a finetune, pretrain or soup run has loaded */
static void
run_free(Run *r)
{
	for (int s = 0; s < CORPUS_N_SPLITS; s++)
		g_free(r->split[s].items);
	g_free(r->windows);
	g_clear_pointer(&r->classifier, classifier_unref);	/* before its model */
	gpt_model_free(r->model);
	bpe_free(r->bpe);
	corpus_free(r->corpus);
	g_free(r->tokenizer_dir);
	g_free(r->base_name);
	g_clear_pointer(&r->base_training, json_node_unref);
	g_clear_pointer(&r->base_scripts, json_node_unref);
	g_free(r->base_block);
	g_strfreev(r->base_labels);
}

/* run_quantize - -m MODEL written to -o OUT with --dtype (int8 by
 * default): the same config, calibration, threshold and tokenizer, only
 * the storage of the weights changes */
static int
run_quantize(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(Bundle) b = bundle_load(o.model, &err);

	if (b == NULL)
		die("-m %s: %s", o.model, err->message);
	g_autoptr(GptModel) m = bundle_load_model(b, GPT_LOAD_OWNED, &err);
	if (m == NULL)
		die("-m %s: %s", o.model, err->message);
	g_autofree char *tok = g_path_get_dirname(b->vocab_path);
	if (!bundle_save(o.out, m, (const char *const *)b->labels,
			 bundle_extra(b), o.dtype, tok, &err))
		die("-o %s: %s", o.out, err->message);
	/* a token model named in the config goes with it (tokenstats.h) */
	TokenStatsMix mix;
	g_autoptr(TokenStats) ts = tokenstats_bundle_load(b,
		b->mailtext_version > 0 ? b->mailtext_version : MAILTEXT_VERSION,
		&mix, &err);
	if (err != NULL)
		die("-m %s: %s", o.model, err->message);
	if (ts != NULL) {
		g_autofree char *path = g_build_filename(o.out,
			json_object_get_string_member(json_object_get_object_member(
			bundle_extra(b), "tokenstats"), "file"), NULL);
		if (!tokenstats_save(ts, path, &err))
			die("-o %s: %s", o.out, err->message);
	}
	printf("%s: %s weights of %s\n", o.out, o.dtype == ST_I8 ? "int8" :
	       st_dtype_name(o.dtype), o.model);
	return 0;
}

/* run_soup - average MEMBERS (NULL-terminated), calibrate, write */
static int
run_soup(Run *r, char **members)
{
	g_autoptr(GError) err = NULL;

	if (!soup_load(r, members, &err))
		die_error(err);
	if (!data_load(r, tokens_eot_id(r->bpe, r->model->cfg.vocab_size), &err))
		die_error(err);
	gpt_set_threads(o.threads);
	print_model(r);
	if (!soup_finish(r, &err))
		die_error(err);
	run_free(r);
	return 0;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) err = NULL;
	Run r = { 0 };
	int mode;

	static const char usage[] =
		"Usage: gptmilter-train finetune|pretrain|eval [OPTION...]\n"
		"       gptmilter-train soup -o OUT [OPTION...] MODEL MODEL...\n"
		"       gptmilter-train scripts -m MODEL --ham ... --spam ...\n"
		"       gptmilter-train quantize -m MODEL -o OUT [--dtype int8]\n"
		"       gptmilter-train tokens -m MODEL|-o DIR --ham ... --spam ...\n"
		"       gptmilter-train --version\n"
		"(gptmilter-train MODE --help lists every option of MODE; see "
		"gptmilter-train(1))\n";

	if (argc < 2 || (mode = parse_mode(argv[1])) < 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
				  strcmp(argv[1], "-h") == 0)) {
			fputs(usage, stdout);
			return 0;
		}
		if (argc >= 2 && (strcmp(argv[1], "--version") == 0 ||
				  strcmp(argv[1], "-V") == 0)) {
			printf("gptmilter-train %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (argc >= 2)
			fprintf(stderr, "gptmilter-train: unknown mode \"%s\"\n",
				argv[1]);
		fputs(usage, stderr);
		return 2;
	}
	train_options_init(&o, mode);
	o.prog = argv[0];

	g_autofree char *prg = g_strdup_printf("gptmilter-train %s", argv[1]);
	g_set_prgname(prg);
	GOptionContext *ctx = g_option_context_new(o.mode == MODE_SOUP ?
		"MODEL MODEL... - average classifiers fine-tuned from one base" :
		"- GPT-2 mail classifier trainer");
	GOptionGroup *g;
	g_option_context_set_summary(ctx, "Modes: finetune (train a "
		"classifier), pretrain (next-token LM on mail text), eval "
		"(score a labelled set with -m MODEL), soup (average the "
		"weights of classifiers fine-tuned from one base: soup -o OUT "
		"MODEL MODEL...), scripts (record in -m MODEL's config.json the "
		"Unicode scripts of its training messages, given as --ham/--spam), "
		"quantize (write -m MODEL to -o OUT with --dtype, int8 by default), "
		"tokens (a token-statistics model trained on --ham/--spam, "
		"written into -m MODEL and mixed with its transformer on the "
		"validation set, or alone into -o DIR).");
	/* the callbacks of typed options get O as their group's data */
	g = g_option_group_new("data", "Data:", "Show data options", &o, NULL);
	g_option_group_add_entries(g, data_entries);
	g_option_context_add_group(ctx, g);
	g = g_option_group_new("model", "Model:", "Show model options", &o,
			       NULL);
	g_option_group_add_entries(g, model_entries);
	g_option_context_add_group(ctx, g);
	g = g_option_group_new(NULL, NULL, NULL, &o, NULL);
	g_option_group_add_entries(g, train_entries);
	g_option_context_set_main_group(ctx, g);
	/* the mode is not an option: parse what follows it */
	argv[1] = argv[0];
	argc--;
	argv++;
	/* MODE --help shows every group (data and model options included:
	 * GLib's own --help would hide them behind --help-data and
	 * --help-model); --version as at the top level */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-?") == 0) {
			g_autofree char *help = g_option_context_get_help(ctx,
				FALSE, NULL);
			fputs(help, stdout);
			g_option_context_free(ctx);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("gptmilter-train %s\n", PACKAGE_VERSION);
			g_option_context_free(ctx);
			return 0;
		}
	}
	if (!g_option_context_parse(ctx, &argc, &argv, &err) ||
	    (argc > 1 && o.mode != MODE_SOUP)) {
		usage_error(ctx, "%s", err ? err->message : "unexpected argument");
	}
	check_options(ctx);
	g_option_context_free(ctx);

	r.o = &o;
	r.base_temperature = 1.0;	/* what an uncalibrated base means */
	r.base_threshold = CLASSIFIER_THRESHOLD_DEFAULT;
	/* Opened now, so that a bad path fails before hours of training. */
	if (o.scores != NULL && o.mode != MODE_PRETRAIN &&
	    (r.scores = fopen(o.scores, "w")) == NULL)
		die("%s: %s", o.scores, g_strerror(errno));
	if (o.mode == MODE_QUANTIZE)
		return run_quantize();
	r.corpus = corpus_new();
	if (o.mode == MODE_TOKENS) {
		if (!run_tokens(&r, &err))
			die_error(err);
		corpus_free(r.corpus);
		return 0;
	}
	if (train_by_model(&o)) {
		int rc = run_eval(&r);
		corpus_free(r.corpus);
		return rc;
	}
	if (o.mode == MODE_SOUP)
		return run_soup(&r, argv + 1);

	load_model(&r);
	if (!data_load(&r, tokens_eot_id(r.bpe, r.model->cfg.vocab_size), &err))
		die_error(err);
	gpt_set_threads(o.threads);
	if (o.mode == MODE_FINETUNE)
		gpt_model_set_head(r.model, r.nl, FALSE, o.seed);
	if (o.interpolate_given && !soup_check_interpolate(&r, &err))
		die_error(err);
	print_model(&r);
	if (!train_run(&r, &err))
		die_error(err);

	run_free(&r);
	return 0;
}
