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
 * Not here: calibration, evaluation and saving (loop.c, report.c).
 */
#include <string.h>

#include "train.h"
#include "bundle.h"
#include "mailtext.h"

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
	double *sum = NULL;	/* (block_len) the members' weights summed */
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
		if (sum == NULL)
			sum = g_new0(double, m->block_len);
		else if (m->block_len != r->model->block_len) {
			/* (a head bias in one member only) */
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: %zu weights, %s has %zu", dir,
				    m->block_len, members[0],
				    r->model->block_len);
			goto fail;
		}
		for (gsize i = 0; i < m->block_len; i++)
			sum[i] += m->block[i];
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
	for (gsize i = 0; i < r->model->block_len; i++)
		r->model->block[i] = (float)(sum[i] / n);
	g_free(sum);

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
	g_free(sum);
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
