/*
 * classifier.h - message bytes to class probabilities: the one path that
 * gptmilter, gptmilter-classify and gptmilter-train's evaluation share
 *
 * Owns: a loaded model (bundle + weights + tokenizer) with a reference count,
 * so the milter can reload while jobs still use the old one; turning a
 * message into token ids (mailtext, then bpe, capped at max_tokens; the head
 * of the text is kept); scoring ragged batches with calibrated softmax; and
 * the decision every program shares: the spam score of any label set, the
 * verdict at a threshold, and the threshold of a model that records none;
 * a bundle's token model (tokenstats.h), mixed in when it has one.
 *	Classifier *c = classifier_load(dir, &error);
 *	ClassifierWorker *w = classifier_worker_new(c, 8);   // one per thread
 *	classifier_score(c, w, msgs, lens, n, probs);         // probs (n, NL)
 *	double s = classifier_spam_score(c, probs);           // row 0
 *	gboolean spam = s >= classifier_threshold(c);
 * Threads: a Classifier is read-only and shared; a ClassifierWorker belongs
 * to one thread at a time. Errors: classifier_load sets error.
 */
#ifndef GPTM_CLASSIFIER_H
#define GPTM_CLASSIFIER_H

#include <glib.h>
#include <stdint.h>
#include "bundle.h"
#include "bpe.h"
#include "gpt.h"
#include "tokenstats.h"

typedef struct Classifier Classifier;
typedef struct ClassifierWorker ClassifierWorker;

/* Where make install puts the default model (classify.mk): the model of
 * gptmilter and gptmilter-classify unless told, and the tokenizer of
 * gptmilter-train --init random. */
#ifndef GPTM_DATADIR
#define GPTM_DATADIR "/usr/local/share/gptmilter"
#endif
#define CLASSIFIER_DEFAULT_MODEL GPTM_DATADIR "/models/default"

/* The spam threshold of a model that records none (gptmilter.threshold):
 * for two labels, the argmax rule. */
#define CLASSIFIER_THRESHOLD_DEFAULT 0.5

/* classifier_load - load and check a classifier bundle (NL >= 2) */
Classifier *classifier_load(const char *dir, GError **error);
/* classifier_new - a classifier around a model in memory (the trainer's):
 * MODEL and BPE are borrowed and must outlive it; LABELS (NL names) are
 * copied; TEMPERATURE 1 and no recorded threshold. classifier_bundle() of
 * it is NULL. */
Classifier *classifier_new(const GptModel *model, const Bpe *bpe,
			   const char *const *labels, int max_tokens,
			   int mailtext_version);
Classifier *classifier_ref(Classifier *c);
void classifier_unref(Classifier *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Classifier, classifier_unref)

const Bundle *classifier_bundle(const Classifier *c);
const GptModel *classifier_model(const Classifier *c);
const Bpe *classifier_bpe(const Classifier *c);
int classifier_num_labels(const Classifier *c);
const char *classifier_label(const Classifier *c, int i);
/* classifier_ham_index - the label named "ham" (any case), else label 0
 * (label 1 when label 0 is named "spam") */
int classifier_ham_index(const Classifier *c);
/* classifier_spam_index - the label named "spam" (any case), else the
 * first label that is not ham */
int classifier_spam_index(const Classifier *c);
/* classifier_is_spam_label - LABEL counts as spam in the binary view: every
 * label but ham (what classifier_spam_score sums) */
gboolean classifier_is_spam_label(const Classifier *c, int label);
/* classifier_eot_id - the id of an empty text (tokens_eot_id) */
int32_t classifier_eot_id(const Classifier *c);
/* classifier_temperature - the calibration temperature (1 if none) */
float classifier_temperature(const Classifier *c);
/* classifier_threshold - the model's recommended spam threshold, else
 * CLASSIFIER_THRESHOLD_DEFAULT */
double classifier_threshold(const Classifier *c);
int classifier_max_tokens(const Classifier *c);
/* classifier_mailtext_version - the text layout served (the model's) */
int classifier_mailtext_version(const Classifier *c);

/* classifier_tokens - the bundle's token model (gptmilter.tokenstats), or
 * NULL; classifier_token_mix its weights, NULL without one */
const TokenStats *classifier_tokens(const Classifier *c);
const TokenStatsMix *classifier_token_mix(const Classifier *c);
/* classifier_token_logodds - the token model's log-odds of an extracted
 * TEXT (classifier_text), NaN without a token model */
double classifier_token_logodds(const Classifier *c, const char *text,
				gsize len);
/* classifier_gpt_logodds - the transformer's log-odds of "not ham" from
 * its raw LOGITS (NL), at temperature 1 */
double classifier_gpt_logodds(const Classifier *c, const float *logits);
/* classifier_mix_logits - raw LOGITS (NL) in place to logits whose
 * tempered softmax (classifier_softmax at the classifier's temperature)
 * gives P(not ham) = sigmoid(MIX's weighted sum of the transformer's and
 * Z_TOK), each label but ham keeping its share; MIX NULL or Z_TOK NaN:
 * unchanged */
void classifier_mix_logits(const Classifier *c, const TokenStatsMix *mix,
			   float *logits, double z_tok);

/* classifier_text - what the model reads of a message (mailtext) */
char *classifier_text(const Classifier *c, const char *msg, gsize len,
		      gsize *out_len);
/* classifier_tokenize - message bytes to 1 .. max_tokens ids in IDS */
int classifier_tokenize(const Classifier *c, const char *msg, gsize len,
			int32_t *ids);
/* classifier_tokenize_text - already extracted text to ids, as above */
int classifier_tokenize_text(const Classifier *c, const char *text, gsize len,
			     int32_t *ids);

ClassifierWorker *classifier_worker_new(Classifier *c, int max_batch);
void classifier_worker_free(ClassifierWorker *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClassifierWorker, classifier_worker_free)
int classifier_worker_max_batch(const ClassifierWorker *w);
/* classifier_worker_gpt_logodds - message B of W's last scored batch: the
 * transformer's own log-odds of "not ham" (temperature 1), before any mix
 * (gptmilter-classify --json shows it beside the token model's) */
double classifier_worker_gpt_logodds(const ClassifierWorker *w, int b);

/* classifier_logits_ids - B packed id sequences to the raw logits (B, NL)
 * of the head, no calibration; B <= max_batch */
void classifier_logits_ids(const Classifier *c, ClassifierWorker *w,
			   const int32_t *ids, const int *lens, int B,
			   float *logits);
/* classifier_score_ids - B packed id sequences to probs (B, NL), with the
 * bundle's temperature applied before the softmax; B <= max_batch */
void classifier_score_ids(const Classifier *c, ClassifierWorker *w,
			  const int32_t *ids, const int *lens, int B,
			  float *probs);
/* classifier_score_ids_tokens - as classifier_score_ids, each message's
 * logits mixed with its token log-odds Z_TOK (B; NULL: none) first, and
 * the pooled hidden states the head read into POOLED (B, C) unless NULL
 * (C = classifier_dim; what memory.h remembers and looks up) */
void classifier_score_ids_tokens(const Classifier *c, ClassifierWorker *w,
				 const int32_t *ids, const int *lens, int B,
				 const double *z_tok, float *probs,
				 float *pooled);
/* classifier_score - N messages to probs (N, NL), in batches of max_batch,
 * the token model's opinion mixed in when the bundle has one */
void classifier_score(const Classifier *c, ClassifierWorker *w,
		      const char *const *msgs, const gsize *lens, int n,
		      float *probs);
/* classifier_score_pooled - as classifier_score, and their pooled hidden
 * states (N, C) into POOLED unless NULL */
void classifier_score_pooled(const Classifier *c, ClassifierWorker *w,
			     const char *const *msgs, const gsize *lens, int n,
			     float *probs, float *pooled);
/* classifier_dim - C, the length of a pooled hidden state */
int classifier_dim(const Classifier *c);

/* classifier_softmax - probs (NL) = softmax(logits (NL) / T): the one
 * calibrated softmax (PROBS may be LOGITS) */
void classifier_softmax(float *probs, const float *logits, int NL, float T);
/*
 * classifier_spam_score - the spam score of one message from its
 * probabilities PROBS (NL): the probability that it is not ham, the sum of
 * the probabilities of every label but ham. For two labels that is P(spam)
 * exactly. Every program decides on this number, and the trainer
 * calibrates the recommended threshold on it.
 */
double classifier_spam_score(const Classifier *c, const float *probs);
/* classifier_top_label - the most probable label (the first of ties) */
int classifier_top_label(const Classifier *c, const float *probs);
/* classifier_verdict - the label a program reports at THRESHOLD: when the
 * spam score reaches it, the most probable label but ham, else ham */
int classifier_verdict(const Classifier *c, const float *probs,
		       double threshold);

#endif
