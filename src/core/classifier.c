/*
 * classifier.c - message bytes to class probabilities, and the decision
 *
 * Owns: one loaded classifier (bundle + weights + tokenizer) with a
 * reference count, the message -> ids path shared by all three programs
 * (mailtext_extract, then tokens_from_text), scoring of ragged batches
 * with the bundle's calibration temperature (the one tempered softmax), and
 * the decision on the probabilities that every program and the trainer's
 * evaluation share: the spam score of any label set (the probability of
 * "not ham"), the verdict at a threshold, the default threshold; and, when
 * the bundle carries a token model (tokenstats.c), its log-odds mixed into
 * the transformer's before the tempered softmax.
 * Not here: the forward pass (gpt.c), policy (src/milter/policy.c).
 * Threads: a Classifier is immutable once loaded, so any number of threads
 * share it; each thread brings its own ClassifierWorker (GptState + buffers).
 * Errors: classifier_load() sets error naming the directory and the problem.
 * Checked by: tests/test_classify.sh (CLI against tests/gpt_ref.py),
 * tests/test_score_agree.sh (milter, classify and eval agree).
 */
#include <math.h>
#include <string.h>

#include "classifier.h"
#include "mailtext.h"
#include "tokens.h"
#include "tokenstats.h"
#include "gptm_error.h"

struct Classifier {
	gint refcount;
	Bundle *bundle;		/* NULL for classifier_new() */
	const GptModel *model;	/* owned when bundle is set, else borrowed */
	const Bpe *bpe;		/* likewise */
	char **labels;		/* NL names, NULL-terminated */
	int num_labels;		/* NL >= 2 */
	int max_tokens;
	float temperature;	/* > 0 */
	double threshold;	/* recorded by the model, else -1 */
	int32_t eot_id;		/* the one token of an empty text */
	int spam_index;
	int ham_index;
	MailtextOptions text;	/* the layout the model was trained on */
	TokenStats *tokens;	/* the bundle's token model, or NULL */
	TokenStatsMix mix;	/* how its log-odds join the transformer's */
};

struct ClassifierWorker {
	Classifier *c;		/* a reference, so the model outlives the worker */
	GptState *state;
	int max_batch;
	int32_t *ids;		/* (max_batch * max_tokens) packed ids */
	int *lens;		/* (max_batch) */
	float *logits;		/* (max_batch, NL) */
	double *z_tok;		/* (max_batch) token model log-odds */
	double *z_gpt;		/* (max_batch) the last batch's transformer
				 * log-odds, before any mix */
};

/* classifier_load - load and check a classifier bundle (NL >= 2) */
Classifier *
classifier_load(const char *dir, GError **error)
{
	g_autoptr(Bundle) bundle = bundle_load(dir, error);
	if (bundle == NULL)
		return NULL;
	if (bundle->gpt.num_labels < 2) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
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

	g_autoptr(GptModel) model = bundle_load_model(bundle, 0, error);
	if (model == NULL)
		return NULL;
	if (model->score_w == NULL) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: model.safetensors has no classifier head "
			    "(score.weight)", dir);
		return NULL;
	}
	g_autoptr(Bpe) bpe = bpe_load(bundle->vocab_path, bundle->merges_path,
				      error);
	if (bpe == NULL)
		return NULL;
	if (bpe_vocab_size(bpe) > bundle->gpt.vocab_size) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: tokenizer has %d tokens but the model only %d",
			    dir, bpe_vocab_size(bpe), bundle->gpt.vocab_size);
		return NULL;
	}
	/* A token model asked for but unusable is an error, never silently
	 * the transformer alone: the threshold was fitted to the mix. */
	GError *terr = NULL;
	TokenStatsMix mix = { 0 };
	TokenStats *tokens = tokenstats_bundle_load(bundle, version > 0 ?
		version : MAILTEXT_VERSION, &mix, &terr);
	if (terr != NULL) {
		g_propagate_error(error, terr);
		return NULL;
	}

	Classifier *c = classifier_new(model, bpe,
				       (const char *const *)bundle->labels,
				       bundle->max_tokens, version);
	if (bundle->temperature > 0)
		c->temperature = bundle->temperature;
	c->threshold = bundle->threshold;
	c->tokens = tokens;
	c->mix = mix;
	c->bundle = g_steal_pointer(&bundle);
	model = NULL;	/* now c's: freed with the bundle */
	bpe = NULL;
	return c;
}

/* label_named - the first label called NAME (any case), or -1 */
static int
label_named(char **labels, const char *name)
{
	for (int i = 0; labels[i] != NULL; i++)
		if (g_ascii_strcasecmp(labels[i], name) == 0)
			return i;
	return -1;
}

/* classifier_new - a classifier around a model in memory */
Classifier *
classifier_new(const GptModel *model, const Bpe *bpe,
	       const char *const *labels, int max_tokens, int mailtext_version)
{
	const int NL = model->cfg.num_labels;

	g_return_val_if_fail(NL >= 2 && model->score_w != NULL, NULL);
	g_return_val_if_fail(max_tokens >= 1 && max_tokens <= model->cfg.n_ctx,
			     NULL);
	Classifier *c = g_new0(Classifier, 1);
	c->refcount = 1;
	c->model = model;
	c->bpe = bpe;
	c->labels = g_new0(char *, NL + 1);
	for (int i = 0; i < NL; i++)
		c->labels[i] = g_strdup(labels[i]);
	c->num_labels = NL;
	c->max_tokens = max_tokens;
	c->temperature = 1.0f;
	c->threshold = -1;
	c->eot_id = tokens_eot_id(bpe, model->cfg.vocab_size);
	c->text.version = mailtext_version > 0 ? mailtext_version :
			  MAILTEXT_VERSION;
	/* Which label is spam and which is ham: by name, else the binary
	 * convention of Hugging Face's LABEL_0 / LABEL_1 (negative first). */
	int ham = label_named(c->labels, "ham");
	int spam = label_named(c->labels, "spam");
	if (ham < 0)
		ham = spam == 0 ? 1 : 0;
	if (spam < 0 || spam == ham)
		spam = ham == 1 ? 0 : 1;
	c->ham_index = ham;
	c->spam_index = spam;
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
	if (c->bundle != NULL) {
		/* loaded: the model and tokenizer are ours */
		gpt_model_free((GptModel *)c->model);
		bpe_free((Bpe *)c->bpe);
		bundle_free(c->bundle);
	}
	tokenstats_free(c->tokens);
	g_strfreev(c->labels);
	g_free(c);
}

const Bundle *classifier_bundle(const Classifier *c) { return c->bundle; }
const GptModel *classifier_model(const Classifier *c) { return c->model; }
const Bpe *classifier_bpe(const Classifier *c) { return c->bpe; }
int classifier_num_labels(const Classifier *c) { return c->num_labels; }
const char *classifier_label(const Classifier *c, int i) { return c->labels[i]; }
int classifier_spam_index(const Classifier *c) { return c->spam_index; }
int classifier_ham_index(const Classifier *c) { return c->ham_index; }
int classifier_max_tokens(const Classifier *c) { return c->max_tokens; }
int classifier_dim(const Classifier *c) { return c->model->cfg.n_embd; }
int classifier_mailtext_version(const Classifier *c) { return c->text.version; }
int32_t classifier_eot_id(const Classifier *c) { return c->eot_id; }
float classifier_temperature(const Classifier *c) { return c->temperature; }
const TokenStats *classifier_tokens(const Classifier *c) { return c->tokens; }

const TokenStatsMix *
classifier_token_mix(const Classifier *c)
{
	return c->tokens ? &c->mix : NULL;
}

/* classifier_token_logodds - the token model's log-odds of TEXT */
double
classifier_token_logodds(const Classifier *c, const char *text, gsize len)
{
	return c->tokens ? tokenstats_score_text(c->tokens, text, len) : NAN;
}

/* lse_not_ham - log sum exp of the logits of every label but ham */
static double
lse_not_ham(const Classifier *c, const float *logits)
{
	double m = -INFINITY, s = 0;

	for (int i = 0; i < c->num_labels; i++)
		if (i != c->ham_index)
			m = fmax(m, logits[i]);
	for (int i = 0; i < c->num_labels; i++)
		if (i != c->ham_index)
			s += exp(logits[i] - m);
	return m + log(s);
}

/* classifier_gpt_logodds - log P(not ham) / P(ham) of raw LOGITS (NL) */
double
classifier_gpt_logodds(const Classifier *c, const float *logits)
{
	return lse_not_ham(c, logits) - logits[c->ham_index];
}

/* softplus - log(1 + e^x), without overflow */
static double
softplus(double x)
{
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/*
 * classifier_mix_logits - LOGITS (NL, raw) become logits whose tempered
 * softmax is the mix: P(not ham) = sigmoid(z) with
 *	z = weight_gpt * z_gpt + weight_tokens * z_tok + bias
 * (z_gpt from the raw logits), the labels but ham keeping their shares of
 * it. In logs: ham T * log(1 - sigmoid z), label i T * (l_i - lse + log
 * sigmoid z), so that classifier_softmax(.., T) gives exactly those
 * probabilities and every later step (spam score, verdict, labels) is the
 * same code with or without a token model. Z_TOK NaN: unchanged.
 */
void
classifier_mix_logits(const Classifier *c, const TokenStatsMix *mix,
		      float *logits, double z_tok)
{
	if (mix == NULL || isnan(z_tok))
		return;
	double T = c->temperature, lse = lse_not_ham(c, logits);
	double z = mix->weight_gpt * (lse - logits[c->ham_index]) +
		   mix->weight_tokens * z_tok + mix->bias;

	for (int i = 0; i < c->num_labels; i++)
		logits[i] = i == c->ham_index ? (float)(-T * softplus(z)) :
			    (float)(T * (logits[i] - lse - softplus(-z)));
}

gboolean
classifier_is_spam_label(const Classifier *c, int label)
{
	return label != c->ham_index;
}

double
classifier_threshold(const Classifier *c)
{
	return c->threshold >= 0 ? c->threshold : CLASSIFIER_THRESHOLD_DEFAULT;
}

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
	return tokens_from_text(c->bpe, text, len, c->max_tokens, c->eot_id,
				ids);
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
	int max_tokens = c->max_tokens;
	w->c = classifier_ref(c);
	w->max_batch = max_batch;
	w->state = gpt_state_new(c->model, max_batch, max_tokens);
	w->ids = g_new(int32_t, (gsize) max_batch * max_tokens);
	w->lens = g_new(int, max_batch);
	w->logits = g_new(float, (gsize) max_batch * c->num_labels);
	w->z_tok = g_new(double, max_batch);
	w->z_gpt = g_new(double, max_batch);
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
	g_free(w->z_tok);
	g_free(w->z_gpt);
	classifier_unref(w->c);
	g_free(w);
}

int classifier_worker_max_batch(const ClassifierWorker *w) { return w->max_batch; }

double
classifier_worker_gpt_logodds(const ClassifierWorker *w, int b)
{
	g_assert(b >= 0 && b < w->max_batch);
	return w->z_gpt[b];
}

/* classifier_softmax - probs = softmax(logits / T), one row of NL */
void
classifier_softmax(float *probs, const float *logits, int NL, float T)
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

/* classifier_logits_ids - B packed sequences to raw logits (B, NL) */
void
classifier_logits_ids(const Classifier *c, ClassifierWorker *w,
		      const int32_t *ids, const int *lens, int B, float *logits)
{
	g_assert(B >= 1 && B <= w->max_batch);
	g_assert(w->c->model == c->model);
	gpt_forward_classify(c->model, w->state, ids, lens, B, logits);
}

/* score_ids - B packed sequences to probs (B, NL), each mixed with its
 * token model log-odds Z_TOK[b] (NULL: none), and the pooled hidden
 * states into POOLED (B, C) unless NULL: what every scoring entry point
 * below does */
static void
score_ids(const Classifier *c, ClassifierWorker *w, const int32_t *ids,
	  const int *lens, int B, const double *z_tok, float *probs,
	  float *pooled)
{
	int NL = c->num_labels;

	if (pooled == NULL) {
		classifier_logits_ids(c, w, ids, lens, B, w->logits);
	} else {
		g_assert(B >= 1 && B <= w->max_batch);
		g_assert(w->c->model == c->model);
		gpt_forward_classify_pooled(c->model, w->state, ids, lens, B,
					    w->logits, pooled);
	}
	for (int b = 0; b < B; b++) {
		w->z_gpt[b] = classifier_gpt_logodds(c, w->logits + (gsize) b * NL);
		if (z_tok != NULL)
			classifier_mix_logits(c, classifier_token_mix(c),
					      w->logits + (gsize) b * NL,
					      z_tok[b]);
		classifier_softmax(probs + (gsize) b * NL,
				   w->logits + (gsize) b * NL, NL,
				   c->temperature);
	}
}

/* classifier_score_ids_tokens - B packed sequences to probs (B, NL),
 * each mixed with its token model log-odds Z_TOK[b] (NULL: none), and the
 * pooled rows (B, C) unless POOLED is NULL */
void
classifier_score_ids_tokens(const Classifier *c, ClassifierWorker *w,
			    const int32_t *ids, const int *lens, int B,
			    const double *z_tok, float *probs, float *pooled)
{
	score_ids(c, w, ids, lens, B, z_tok, probs, pooled);
}

/* classifier_score_ids - B packed sequences to probs (B, NL) */
void
classifier_score_ids(const Classifier *c, ClassifierWorker *w,
		     const int32_t *ids, const int *lens, int B, float *probs)
{
	score_ids(c, w, ids, lens, B, NULL, probs, NULL);
}

/* classifier_score - N messages to probs (N, NL), max_batch at a time */
void
classifier_score(const Classifier *c, ClassifierWorker *w,
		 const char *const *msgs, const gsize *lens, int n, float *probs)
{
	classifier_score_pooled(c, w, msgs, lens, n, probs, NULL);
}

/* classifier_score_pooled - probs (N, NL) and pooled rows (N, C) */
void
classifier_score_pooled(const Classifier *c, ClassifierWorker *w,
			const char *const *msgs, const gsize *lens, int n,
			float *probs, float *pooled)
{
	int NL = c->num_labels;
	int C = c->model->cfg.n_embd;

	for (int start = 0; start < n; start += w->max_batch) {
		int B = MIN(w->max_batch, n - start);
		gsize off = 0;
		for (int b = 0; b < B; b++) {
			gsize tl = 0;
			g_autofree char *text = classifier_text(c,
				msgs[start + b], lens[start + b], &tl);
			w->lens[b] = classifier_tokenize_text(c, text, tl,
							      w->ids + off);
			w->z_tok[b] = classifier_token_logodds(c, text, tl);
			off += w->lens[b];
		}
		score_ids(c, w, w->ids, w->lens, B, w->z_tok,
			  probs + (gsize) start * NL,
			  pooled ? pooled + (gsize) start * C : NULL);
	}
}

/*
 * classifier_spam_score - P(not ham), the sum over every label but ham.
 * Why "not ham" rather than P(label "spam"): the decision a milter takes is
 * whether to let a message through, and the one class it must let through
 * is ham. A model that splits the unwanted mail finer (spam, phish, ...)
 * then scores a phish as high as a two-label model scores it, instead of
 * letting it pass under the spam threshold because "spam" alone is
 * unlikely; and the false-positive rate the trainer calibrates the
 * threshold on is that of ham, what a user loses. policy.label_actions can
 * still treat each label apart. Summed in double from the float
 * probabilities, in label order: for two labels exactly P(spam).
 */
double
classifier_spam_score(const Classifier *c, const float *probs)
{
	double s = 0.0;

	for (int i = 0; i < c->num_labels; i++)
		if (i != c->ham_index)
			s += probs[i];
	return s;
}

/* classifier_top_label - argmax of PROBS, the first of ties */
int
classifier_top_label(const Classifier *c, const float *probs)
{
	int top = 0;

	for (int i = 1; i < c->num_labels; i++)
		if (probs[i] > probs[top])
			top = i;
	return top;
}

/* classifier_verdict - ham below THRESHOLD, else the likeliest other label */
int
classifier_verdict(const Classifier *c, const float *probs, double threshold)
{
	int best = -1;

	if (classifier_spam_score(c, probs) < threshold)
		return c->ham_index;
	for (int i = 0; i < c->num_labels; i++)
		if (i != c->ham_index && (best < 0 || probs[i] > probs[best]))
			best = i;
	return best;
}
