/*
 * classifier.c - message bytes to class probabilities
 *
 * Owns: one loaded classifier (bundle + weights + tokenizer) with a
 * reference count, the message -> ids path shared by all three programs
 * (mailtext_extract, then tokens_from_text), and scoring of ragged batches
 * with the bundle's calibration temperature.
 * Not here: the forward pass (gpt.c), policy (src/milter/policy.c).
 * Threads: a Classifier is immutable once loaded, so any number of threads
 * share it; each thread brings its own ClassifierWorker (GptState + buffers).
 * Errors: classifier_load() sets error naming the directory and the problem.
 * Checked by: tests/test_classify.sh (CLI against tests/gpt_ref.py).
 */
#include <math.h>
#include <string.h>

#include "classifier.h"
#include "mailtext.h"
#include "tokens.h"

struct Classifier {
	gint refcount;
	Bundle *bundle;
	GptModel *model;
	Bpe *bpe;
	int32_t eot_id;		/* <|endoftext|>: the one token of empty text */
	int spam_index;
	MailtextOptions text;	/* the layout the model was trained on */
};

struct ClassifierWorker {
	Classifier *c;		/* a reference, so the model outlives the worker */
	GptState *state;
	int max_batch;
	int32_t *ids;		/* (max_batch * max_tokens) packed ids */
	int *lens;		/* (max_batch) */
	float *logits;		/* (max_batch, NL) */
};

/* classifier_load - load and check a classifier bundle (NL >= 2) */
Classifier *
classifier_load(const char *dir, GError **error)
{
	g_autoptr(Bundle) bundle = bundle_load(dir, error);
	if (bundle == NULL)
		return NULL;
	if (bundle->gpt.num_labels < 2) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: not a classifier: config.json has no id2label "
			    "with two or more labels (a plain GPT-2 model is a base "
			    "for gptmilter-train, not a classifier)", dir);
		return NULL;
	}
	/* Serve the text layout the model was trained on; a model without
	 * the field (trained elsewhere) gets the current one. */
	int version = bundle->mailtext_version;
	if (!mailtext_version_supported(version)) {
		g_warning("%s: model was trained on text extraction version %d, "
			  "this program extracts versions %d to %d: scores may "
			  "be off; retrain with gptmilter-train or upgrade",
			  dir, version, MAILTEXT_MIN_VERSION, MAILTEXT_VERSION);
		version = 0;
	}

	g_autoptr(GptModel) model = gpt_model_load(bundle, 0, error);
	if (model == NULL)
		return NULL;
	if (model->score_w == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: model.safetensors has no classifier head "
			    "(score.weight)", dir);
		return NULL;
	}
	g_autoptr(Bpe) bpe = bpe_load(bundle->vocab_path, bundle->merges_path,
				      error);
	if (bpe == NULL)
		return NULL;
	if (bpe_vocab_size(bpe) > bundle->gpt.vocab_size) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: tokenizer has %d tokens but the model only %d",
			    dir, bpe_vocab_size(bpe), bundle->gpt.vocab_size);
		return NULL;
	}

	Classifier *c = g_new0(Classifier, 1);
	c->refcount = 1;
	c->eot_id = tokens_eot_id(bpe);
	c->spam_index = 1;
	c->text.version = version > 0 ? version : MAILTEXT_VERSION;
	for (int i = 0; i < bundle->gpt.num_labels; i++)
		if (g_ascii_strcasecmp(bundle->labels[i], "spam") == 0)
			c->spam_index = i;
	c->bundle = g_steal_pointer(&bundle);
	c->model = g_steal_pointer(&model);
	c->bpe = g_steal_pointer(&bpe);
	return c;
}

Classifier *
classifier_ref(Classifier *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

/* classifier_unref - drop a reference; the last one frees the model */
void
classifier_unref(Classifier *c)
{
	if (c == NULL || !g_atomic_int_dec_and_test(&c->refcount))
		return;
	gpt_model_free(c->model);
	bpe_free(c->bpe);
	bundle_free(c->bundle);
	g_free(c);
}

const Bundle *classifier_bundle(const Classifier *c) { return c->bundle; }
const GptModel *classifier_model(const Classifier *c) { return c->model; }
const Bpe *classifier_bpe(const Classifier *c) { return c->bpe; }
int classifier_num_labels(const Classifier *c) { return c->bundle->gpt.num_labels; }
const char *classifier_label(const Classifier *c, int i) { return c->bundle->labels[i]; }
int classifier_spam_index(const Classifier *c) { return c->spam_index; }
int classifier_max_tokens(const Classifier *c) { return c->bundle->max_tokens; }
int classifier_mailtext_version(const Classifier *c) { return c->text.version; }

/* classifier_text - what the model reads of a message */
char *
classifier_text(const Classifier *c, const char *msg, gsize len, gsize *out_len)
{
	return mailtext_extract(msg, len, &c->text, out_len);
}

/* classifier_tokenize_text - extracted text to 1 .. max_tokens ids */
int
classifier_tokenize_text(const Classifier *c, const char *text, gsize len,
			 int32_t *ids)
{
	return tokens_from_text(c->bpe, text, len, c->bundle->max_tokens,
				c->eot_id, ids);
}

/* classifier_tokenize - message bytes to 1 .. max_tokens ids */
int
classifier_tokenize(const Classifier *c, const char *msg, gsize len,
		    int32_t *ids)
{
	gsize text_len = 0;
	g_autofree char *text = classifier_text(c, msg, len, &text_len);
	return classifier_tokenize_text(c, text, text_len, ids);
}

ClassifierWorker *
classifier_worker_new(Classifier *c, int max_batch)
{
	g_assert(max_batch >= 1);
	ClassifierWorker *w = g_new0(ClassifierWorker, 1);
	int max_tokens = c->bundle->max_tokens;
	w->c = classifier_ref(c);
	w->max_batch = max_batch;
	w->state = gpt_state_new(c->model, max_batch, max_tokens);
	w->ids = g_new(int32_t, (gsize) max_batch * max_tokens);
	w->lens = g_new(int, max_batch);
	w->logits = g_new(float, (gsize) max_batch * c->bundle->gpt.num_labels);
	return w;
}

void
classifier_worker_free(ClassifierWorker *w)
{
	if (w == NULL)
		return;
	gpt_state_free(w->state);
	g_free(w->ids);
	g_free(w->lens);
	g_free(w->logits);
	classifier_unref(w->c);
	g_free(w);
}

int classifier_worker_max_batch(const ClassifierWorker *w) { return w->max_batch; }

/* softmax_tempered - probs = softmax(logits / T), one row of NL */
static void
softmax_tempered(float *probs, const float *logits, int NL, float T)
{
	float maxv = -INFINITY, sum = 0.0f;
	for (int i = 0; i < NL; i++)
		maxv = fmaxf(maxv, logits[i] / T);
	for (int i = 0; i < NL; i++) {
		probs[i] = expf(logits[i] / T - maxv);
		sum += probs[i];
	}
	for (int i = 0; i < NL; i++)
		probs[i] /= sum;
}

/* classifier_score_ids - B packed sequences to probs (B, NL) */
void
classifier_score_ids(const Classifier *c, ClassifierWorker *w,
		     const int32_t *ids, const int *lens, int B, float *probs)
{
	int NL = c->bundle->gpt.num_labels;
	float T = c->bundle->temperature > 0 ? c->bundle->temperature : 1.0f;

	g_assert(B >= 1 && B <= w->max_batch);
	g_assert(w->c->model == c->model);
	gpt_forward_classify(c->model, w->state, ids, lens, B, w->logits);
	for (int b = 0; b < B; b++)
		softmax_tempered(probs + (gsize) b * NL,
				 w->logits + (gsize) b * NL, NL, T);
}

/* classifier_score - N messages to probs (N, NL), max_batch at a time */
void
classifier_score(const Classifier *c, ClassifierWorker *w,
		 const char *const *msgs, const gsize *lens, int n, float *probs)
{
	int NL = c->bundle->gpt.num_labels;

	for (int start = 0; start < n; start += w->max_batch) {
		int B = MIN(w->max_batch, n - start);
		gsize off = 0;
		for (int b = 0; b < B; b++) {
			w->lens[b] = classifier_tokenize(c, msgs[start + b],
							 lens[start + b],
							 w->ids + off);
			off += w->lens[b];
		}
		classifier_score_ids(c, w, w->ids, w->lens, B,
				     probs + (gsize) start * NL);
	}
}
