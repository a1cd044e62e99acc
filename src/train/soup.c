/*
 * soup.c - gptmilter-train soup: one classifier from the mean of several
 *
 * Owns: the checks that the members can be averaged (one architecture, one
 * head, one tokenizer, one text layout), the uniform mean of their weights,
 * and what config.json records of it. This is a "model soup" (Wortsman et
 * al., 2022): classifiers fine-tuned from one pretrained base with
 * different seeds stay in one basin of the loss, so the mean of their
 * weights scores about as well as the ensemble of the members, at the cost
 * of one model. (From different random inits the mean is meaningless: the
 * members' units are not aligned. That is not checked, only documented.)
 * The same arithmetic mixes a fine-tune with its base (--interpolate:
 * WiSE-FT, Wortsman et al., 2022): a fine-tune of a classifier on a small
 * local corpus moves far from the base that was trained on much more mail
 * and forgets some of it; the straight line between the two weights keeps
 * most of what either knows, and a share of the way (0.5 the authors'
 * default, else chosen on validation) is the model saved.
 * Not here: calibration, evaluation and saving (loop.c, report.c).
 */
#include <math.h>
#include <string.h>

#include "train.h"
#include "bundle.h"
#include "mailtext.h"

/* weights_toward - see train.h */
void
weights_toward(float *acc, const float *w, gsize n, double a)
{
	if (a == 1.0) {		/* exactly W, not acc + (w - acc) */
		memcpy(acc, w, n * sizeof *acc);
		return;
	}
	for (gsize i = 0; i < n; i++)
		acc[i] += (float)(a * (double)(w[i] - acc[i]));
}

/* same_architecture - whether weights of A and B can be averaged */
static gboolean
same_architecture(const GptConfig *a, const GptConfig *b)
{
	return a->n_layer == b->n_layer && a->n_head == b->n_head &&
	       a->n_embd == b->n_embd && a->n_ctx == b->n_ctx &&
	       a->vocab_size == b->vocab_size &&
	       a->num_labels == b->num_labels && a->pooling == b->pooling;
}

/* same_labels - whether A and B name the same classes in the same order */
static gboolean
same_labels(char **a, char **b)
{
	for (; *a != NULL && *b != NULL; a++, b++)
		if (strcmp(*a, *b) != 0)
			return FALSE;
	return *a == NULL && *b == NULL;
}

/* soup_load - see train.h */
gboolean
soup_load(Run *r, char **members, GError **error)
{
	TrainOptions *o = r->o;
	g_autoptr(Bundle) first = NULL;
	g_autoptr(GString) names = g_string_new(NULL);
	float *mean = NULL;	/* (block_len) the members' running mean */
	int n = 0;

	r->soup = json_array_new();
	for (; members[n] != NULL; n++) {
		const char *dir = members[n];
		g_autoptr(Bundle) b = bundle_load(dir, error);
		if (b == NULL)
			goto fail;
		if (b->gpt.num_labels < 2) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: not a classifier (no labels)", dir);
			goto fail;
		}
		/* Calibration reads the corpus in the members' text layout:
		 * one that is still produced, the same for all of them. */
		int v = b->mailtext_version > 0 ? b->mailtext_version :
			MAILTEXT_VERSION;
		if (!mailtext_version_supported(v)) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: text extraction version %d is not "
				    "produced by this build", dir, v);
			goto fail;
		}
		if (first != NULL && v != r->corpus->mailtext_version) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: trained on text extraction version %d, "
				    "the first member on %d: retrain it first",
				    dir, v, r->corpus->mailtext_version);
			goto fail;
		}
		r->corpus->mailtext_version = v;
		if (first != NULL && (!same_architecture(&first->gpt, &b->gpt) ||
				      !same_labels(first->labels, b->labels) ||
				      first->max_tokens != b->max_tokens)) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: architecture, labels, pooling or "
				    "max_tokens differ from %s: only fine-tunes "
				    "of one base can be averaged", dir,
				    members[0]);
			goto fail;
		}
		g_autoptr(GptModel) m = bundle_load_model(b, GPT_LOAD_OWNED, error);
		if (m == NULL)
			goto fail;
		if (mean == NULL)
			mean = g_new0(float, m->block_len);
		else if (m->block_len != r->model->block_len) {
			/* (a head bias in one member only) */
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: %zu weights, %s has %zu", dir,
				    m->block_len, members[0],
				    r->model->block_len);
			goto fail;
		}
		weights_toward(mean, m->block, m->block_len, 1.0 / (n + 1));
		g_string_append_printf(names, "%s%s", n ? ", " : "", b->name);
		JsonObject *rec = json_object_new();
		JsonNode *training = bundle_extra_copy(b, "training");
		json_object_set_string_member(rec, "name", b->name);
		if (training)
			json_object_set_member(rec, "training", training);
		json_array_add_object_element(r->soup, rec);
		if (first == NULL) {
			/* a soup too small to calibrate keeps the first
			 * member's operating point */
			run_base_calibration(r, b);
			r->base_scripts = bundle_extra_copy(b, "scripts");
			r->model = g_steal_pointer(&m);
			first = g_steal_pointer(&b);
		}
	}
	if (n < 2) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "soup: give two or more member directories");
		goto fail;
	}
	memcpy(r->model->block, mean, r->model->block_len * sizeof *mean);
	g_free(mean);

	/* The members' tokenizer, classes (in head order) and options. */
	r->bpe = bpe_load(first->vocab_path, first->merges_path, error);
	if (r->bpe == NULL)
		return FALSE;
	r->tokenizer_dir = g_path_get_dirname(first->vocab_path);
	for (int k = 0; first->labels[k] != NULL; k++)
		corpus_class(r->corpus, first->labels[k]);
	o->max_tokens = first->max_tokens;
	o->pooling = first->gpt.pooling;
	r->base_name = g_strdup_printf("soup of %d: %s", n, names->str);
	return TRUE;
fail:
	g_free(mean);
	return FALSE;
}

/* soup_finish - see train.h */
gboolean
soup_finish(Run *r, GError **error)
{
	if (r->nl != r->model->cfg.num_labels) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "the validation and test sets have %d classes, "
			    "the members %d", r->nl, r->model->cfg.num_labels);
		return FALSE;
	}
	JsonObject *trn = json_object_new();
	json_object_set_string_member(trn, "base", r->base_name);
	json_object_set_array_member(trn, "soup", g_steal_pointer(&r->soup));
	return train_finish_classifier(r, trn, error);
}

/* soup_check_interpolate - see train.h */
gboolean
soup_check_interpolate(Run *r, GError **error)
{
	const TrainOptions *o = r->o;
	int k = 0;

	if (r->base_block == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "--interpolate: --base %s is not a classifier; "
			    "only a classifier's weights can be mixed with "
			    "its fine-tune's", o->base);
		return FALSE;
	}
	for (; r->base_labels[k] != NULL; k++)
		if (k >= r->nl || strcmp(r->base_labels[k],
			g_ptr_array_index(r->corpus->classes, k)) != 0)
			break;
	if (k != r->nl || r->base_labels[k] != NULL ||
	    r->base_block_len != r->model->block_len) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "--interpolate: the classes of the data or the head "
			    "of --base %s differ (its classes, in order, with "
			    "no head bias, are needed to mix its weights)",
			    o->base);
		return FALSE;
	}
	return TRUE;
}

/* The shares --interpolate auto tries on validation; never 0, the base
 * itself, a retrain that kept nothing of the local mail. */
static const double interpolate_grid[] = { 0.25, 0.5, 0.75, 1.0 };

/* mix - r->model's weights (1 - A) BASE + A FT */
static void
mix(Run *r, const float *ft, double a)
{
	GptModel *m = r->model;

	memcpy(m->block, r->base_block, m->block_len * sizeof *m->block);
	weights_toward(m->block, ft, m->block_len, a);
}

/* served_loss - the validation loss of r->model as it would be served:
 * at the temperature fitted to its own validation logits */
static double
served_loss(Run *r, const Split *val)
{
	g_autofree float *logits = report_logits(r, val, NULL);
	g_autofree int *labels = g_new(int, val->n);

	for (gsize i = 0; i < val->n; i++)
		labels[i] = val->items[i]->label;
	return metrics_nll(logits, labels, val->n, r->nl,
			   metrics_fit_temperature(logits, labels, val->n,
						   r->nl));
}

/* soup_interpolate - see train.h */
JsonObject *
soup_interpolate(Run *r)
{
	const TrainOptions *o = r->o;
	GptModel *m = r->model;
	const Split *val = &r->split[CORPUS_VAL];
	JsonObject *rec = json_object_new();
	g_autofree float *ft = g_memdup2(m->block,
					 m->block_len * sizeof *m->block);
	g_autoptr(GString) note = g_string_new(NULL);
	double a = o->interpolate;
	const char *chosen = "given";
	gsize n_ham = 0, n_spam = 0;

	if (a == INTERPOLATE_AUTO &&
	    report_enough_validation(r, val, &n_ham, &n_spam)) {
		/* The lowest loss, the smaller share on a tie. */
		JsonArray *tried = json_array_new();
		double best = INFINITY;
		g_string_append_printf(note, "validation loss (%zu ham, %zu "
				       "spam; each at its fitted temperature):",
				       n_ham, n_spam);
		for (gsize i = 0; i < G_N_ELEMENTS(interpolate_grid); i++) {
			double g = interpolate_grid[i];
			mix(r, ft, g);
			double loss = served_loss(r, val);
			JsonObject *t = json_object_new();
			json_object_set_double_member(t, "alpha", g);
			json_object_set_double_member(t, "validation_loss",
						      loss);
			json_array_add_object_element(tried, t);
			g_string_append_printf(note, " %g: %.4f", g, loss);
			if (loss < best) {
				best = loss;
				a = g;
			}
		}
		json_object_set_array_member(rec, "tried", tried);
		chosen = "validation";
	} else if (a == INTERPOLATE_AUTO) {
		a = INTERPOLATE_DEFAULT;
		chosen = "default";
		g_string_append_printf(note, "validation has %zu ham and %zu "
				       "spam, fewer than %d and %d: too few to "
				       "choose on, WiSE-FT's default", n_ham,
				       n_spam, o->min_val_ham, o->min_val_spam);
	}
	mix(r, ft, a);
	json_object_set_double_member(rec, "alpha", a);
	json_object_set_string_member(rec, "chosen", chosen);
	if (!o->quiet) {
		g_autofree char *given = o->interpolate == INTERPOLATE_AUTO ?
			g_strdup("auto") : g_strdup_printf("%g", a);
		printf("weights: %g of the fine-tune's, %g of the base's "
		       "(--interpolate %s%s%s)\n", a, 1 - a, given,
		       note->len ? "; " : "", note->str);
	}
	return rec;
}
