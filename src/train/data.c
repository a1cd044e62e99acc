/*
 * data.c - gptmilter-train's data: the messages given on the command line
 * into one corpus, split, checked, tokenized, as the arrays of each split
 *
 * Owns: which split each set of messages goes to (the main sets split by
 * --split unless -val or -test sets are given; eval and scripts: all one
 * set), the order of the classes (ham before spam: the recipe's ids 0 and
 * 1), every check of the data that must fail before any training starts (a
 * class without examples, a single class, an unlabelled message for a
 * classifier), pretrain --windows, and the corpus summary printed.
 * Not here: reading mail and TSV, deduplication, the split by content hash
 * (corpus.c), the text and its tokens (mailtext.c, tokens.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "train.h"

/* fail - FALSE, with ERROR set to the message (a bad input) */
static gboolean
fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
fail(GError **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, msg);
	return FALSE;
}

static gboolean
any(char **v)
{
	return v != NULL && v[0] != NULL;
}

/* class_id - the class of LABEL: the model's (eval, scripts: -1 if it has
 * none such), else added in order of first mention */
static int
class_id(const Run *r, const char *label, GError **error)
{
	int id = train_by_model(r->o) ? corpus_class_find(r->corpus, label)
				      : corpus_class(r->corpus, label);

	if (id < 0)
		fail(error, "class %s is not a label of the model", label);
	return id;
}

/* add_class_paths - the NAME=PATH entries of --class (SET: the option's
 * -val or -test form) into SPLIT */
static gboolean
add_class_paths(Run *r, char **specs, int set, int split, GError **error)
{
	for (char **s = specs; s && *s; s++) {
		const char *eq = strchr(*s, '=');
		if (eq == NULL || eq == *s || eq[1] == '\0')
			return fail(error, "--class%s %s: expected NAME=PATH",
				    set == CORPUS_VAL ? "-val" :
				    set == CORPUS_TEST ? "-test" : "", *s);
		g_autofree char *name = g_strndup(*s, (gsize)(eq - *s));
		int id = class_id(r, name, error);
		if (id < 0 || !corpus_add(r->corpus, eq + 1, id, split, NULL,
					  error))
			return FALSE;
	}
	return TRUE;
}

/* add_paths - PATHS into SPLIT as messages of LABEL (NULL: a TSV's own
 * labels, or unlabelled mail; pretrain: no label) */
static gboolean
add_paths(Run *r, char **paths, const char *label, int split,
	  GError **error)
{
	int id = -1;

	if (!any(paths))
		return TRUE;
	if (label != NULL && r->o->mode != MODE_PRETRAIN &&
	    (id = class_id(r, label, error)) < 0)
		return FALSE;
	for (char **p = paths; *p; p++)
		if (!corpus_add(r->corpus, *p, id, split, NULL, error))
			return FALSE;
	return TRUE;
}

/* add_sets - every set given into the corpus, split */
static gboolean
add_sets(Run *r, GError **error)
{
	const TrainOptions *o = r->o;
	Corpus *c = r->corpus;
	gboolean given[CORPUS_N_SPLITS];

	for (int k = 0; k < CORPUS_N_SPLITS; k++)
		given[k] = any(o->sets[k].ham) || any(o->sets[k].spam) ||
			   any(o->sets[k].class_specs) || any(o->sets[k].data);
	gboolean explicit_sets = given[CORPUS_VAL] || given[CORPUS_TEST];
	int main_split = train_by_model(o) ? CORPUS_TEST :
			 (explicit_sets && !o->split_given) ? CORPUS_TRAIN :
			 CORPUS_AUTO;

	if (train_by_model(o) && explicit_sets)
		return fail(error, "%s: give the messages with "
			    "--ham/--spam/--class/--data",
			    o->mode == MODE_EVAL ? "eval" : "scripts");
	if (o->mode == MODE_SOUP && given[CORPUS_TRAIN])
		return fail(error, "soup trains nothing: give only validation "
			    "sets (for the calibration) and test sets");
	if (o->mode == MODE_SOUP && !given[CORPUS_VAL])
		return fail(error, "soup: give the validation set "
			    "(--ham-val/--spam-val) that calibrates the "
			    "averaged model");
	/* ham before spam: the ids of the recipe (0 ham, 1 spam) */
	if (o->mode != MODE_PRETRAIN && !train_by_model(o)) {
		for (int k = 0; k < CORPUS_N_SPLITS; k++)
			if (any(o->sets[k].ham)) {
				corpus_class(c, "ham");
				break;
			}
		for (int k = 0; k < CORPUS_N_SPLITS; k++)
			if (any(o->sets[k].spam)) {
				corpus_class(c, "spam");
				break;
			}
	}
	for (int k = 0; k < CORPUS_N_SPLITS; k++) {
		const TrainSources *set = &o->sets[k];
		int split = k == CORPUS_TRAIN ? main_split : k;
		if (!add_paths(r, set->ham, "ham", split, error) ||
		    !add_paths(r, set->spam, "spam", split, error) ||
		    !add_class_paths(r, set->class_specs, k, split, error) ||
		    !add_paths(r, set->data, NULL, split, error))
			return FALSE;
	}
	if (corpus_n_items(c) == 0)
		return fail(error, "no messages: give --ham and --spam (or "
			    "--class NAME=PATH, --data PATH)");
	corpus_assign_split(c, o->train_pct, o->val_pct, o->seed);
	return TRUE;
}

/* check_classes - r->nl, and the classes a run can train on */
static gboolean
check_classes(Run *r, GError **error)
{
	const TrainOptions *o = r->o;
	Corpus *c = r->corpus;

	if (o->mode == MODE_PRETRAIN) {
		r->nl = 0;
		return TRUE;
	}
	/* A TSV may bring classes; and an item without a label (plain
	 * mail under --data) cannot be used for a classifier. */
	for (gsize i = 0; i < corpus_n_items(c); i++)
		if (corpus_item(c, i)->label < 0)
			return fail(error, "%s: no label: --data takes TSV "
				    "files (label<TAB>text) except in pretrain "
				    "mode", corpus_item(c, i)->path);
	r->nl = (int)c->classes->len;
	if (o->mode != MODE_FINETUNE)
		return TRUE;
	if (r->nl < 2)
		return fail(error, "need at least two classes (e.g. --ham and "
			    "--spam); found %d%s%s", r->nl, r->nl ? ": " : "",
			    r->nl ? (char *)g_ptr_array_index(c->classes, 0)
				  : "");
	for (int k = 0; k < r->nl; k++)
		if (corpus_count(c, CORPUS_TRAIN, k) == 0)
			return fail(error, "class %s has no training examples",
				    (char *)g_ptr_array_index(c->classes, k));
	return TRUE;
}

/* print_corpus - the corpus summary and its first warnings */
static void
print_corpus(const Run *r)
{
	const Corpus *c = r->corpus;
	static const char *const sn[] = { "train", "val", "test" };

	printf("corpus: %zu messages", corpus_n_items(c));
	if (c->n_duplicates)
		printf(", %zu duplicates dropped", c->n_duplicates);
	if (c->n_bad)
		printf(", %zu unreadable or not mail (skipped)", c->n_bad);
	printf("\n");
	for (guint i = 0; i < c->warnings->len && i < 10; i++)
		fprintf(stderr, "gptmilter-train: warning: %s\n",
			(char *)g_ptr_array_index(c->warnings, i));
	if (c->n_warnings > 10)
		fprintf(stderr, "gptmilter-train: ... %zu more warnings\n",
			c->n_warnings - 10);
	for (int s = 0; s < CORPUS_N_SPLITS; s++) {
		if (train_by_model(r->o) && s != CORPUS_TEST)
			continue;
		printf("  %-5s %6zu", sn[s], corpus_count(c, s, -2));
		for (int k = 0; k < r->nl; k++)
			printf("  %s %zu",
			       (char *)g_ptr_array_index(c->classes, k),
			       corpus_count(c, s, k));
		printf("\n");
	}
	fflush(stdout);
}

/* split_windows - pretrain --windows N: each training message tokenized to
 * N * max-tokens ids becomes its head (the item itself, cut to max-tokens)
 * and up to N - 1 further windows of the ids that follow (r->windows, each
 * of two tokens or more); validation and test keep the head only, so the
 * validation loss reads like that of a run without --windows. */
static void
split_windows(Run *r)
{
	Corpus *c = r->corpus;
	int T = r->o->max_tokens;
	gsize n = 0;

	for (gsize i = 0; i < corpus_n_items(c); i++) {
		const CorpusItem *it = corpus_item(c, i);
		if (it->split == CORPUS_TRAIN && it->n_ids > T)
			n += (gsize)((it->n_ids - 1) / T);
	}
	r->windows = g_new0(CorpusItem, n ? n : 1);
	for (gsize i = 0; i < corpus_n_items(c); i++) {
		CorpusItem *it = corpus_item(c, i);
		for (int at = T; it->split == CORPUS_TRAIN &&
		     it->n_ids - at >= 2; at += T) {
			CorpusItem *w = &r->windows[r->n_windows++];
			*w = *it;	/* path, source, label: borrowed */
			w->data = NULL;
			w->ids = it->ids + at;
			w->n_ids = MIN(it->n_ids - at, T);
		}
		it->n_ids = MIN(it->n_ids, T);
	}
	if (!r->o->quiet)
		printf("windows: %zu more training examples from the text past "
		       "the first %d tokens\n", r->n_windows, T);
}

/* tokenize - every message to ids (with its bare-header view under
 * --header-dropout), then the windows of pretrain --windows */
static void
tokenize(Run *r, int32_t eot)
{
	const TrainOptions *o = r->o;
	Corpus *c = r->corpus;
	int cut = o->max_tokens * o->windows;
	double t0 = train_now();
	gsize ntok = 0, full = 0;

	c->bare_views = o->header_dropout > 0;
	corpus_tokenize(c, r->bpe, cut, eot, o->threads);
	for (gsize i = 0; i < corpus_n_items(c); i++) {
		ntok += (gsize)corpus_item(c, i)->n_ids;
		full += corpus_item(c, i)->n_ids == cut;
	}
	if (!o->quiet)
		printf("tokenized in %.1f s: %.1f tokens per message, %zu cut at "
		       "%d\n", train_now() - t0,
		       (double)ntok / (double)corpus_n_items(c), full, cut);
	if (o->windows > 1)
		split_windows(r);
	if (c->bare_views && !o->quiet) {
		gsize nb = 0, nt = 0;
		for (gsize i = 0; i < corpus_n_items(c); i++) {
			nt += corpus_item(c, i)->split == CORPUS_TRAIN;
			nb += corpus_item(c, i)->bare_ids != NULL;
		}
		printf("header dropout: %zu of %zu training messages have a "
		       "bare-header view, read with chance %g\n", nb, nt,
		       o->header_dropout);
	}
}

/* data_load - see train.h */
gboolean
data_load(Run *r, int32_t eot, GError **error)
{
	Corpus *c = r->corpus;

	if (!add_sets(r, error) || !check_classes(r, error))
		return FALSE;
	if (!r->o->quiet)
		print_corpus(r);
	tokenize(r, eot);
	for (int s = 0; s < CORPUS_N_SPLITS; s++) {
		Split *sp = &r->split[s];
		gsize extra = s == CORPUS_TRAIN ? r->n_windows : 0;
		sp->items = g_new(CorpusItem *, corpus_n_items(c) + extra + 1);
		sp->n = 0;
		for (gsize i = 0; i < corpus_n_items(c); i++) {
			CorpusItem *it = corpus_item(c, i);
			/* next-token prediction needs two tokens at least */
			if (it->split == s && (r->nl > 0 || it->n_ids >= 2))
				sp->items[sp->n++] = it;
		}
		/* after their messages, so a run's order depends only on
		 * the corpus and the options */
		for (gsize i = 0; i < extra; i++)
			sp->items[sp->n++] = &r->windows[i];
	}
	if (r->o->mode == MODE_PRETRAIN && r->split[CORPUS_TRAIN].n == 0)
		return fail(error, "no training text of two tokens or more");
	return TRUE;
}
