/*
 * classifier.h - message bytes to class probabilities: the one path that
 * gptmilter, gptmilter-classify and gptmilter-train's evaluation share
 *
 * Owns: a loaded model (bundle + weights + tokenizer) with a reference count,
 * so the milter can reload while jobs still use the old one; turning a
 * message into token ids (mailtext, then bpe, capped at max_tokens; the head
 * of the text is kept); scoring ragged batches with calibrated softmax.
 *	Classifier *c = classifier_load(dir, &error);
 *	ClassifierWorker *w = classifier_worker_new(c, 8);   // one per thread
 *	classifier_score(c, w, msgs, lens, n, probs);         // probs (n, NL)
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

typedef struct Classifier Classifier;
typedef struct ClassifierWorker ClassifierWorker;

/* classifier_load - load and check a classifier bundle (NL >= 2) */
Classifier *classifier_load(const char *dir, GError **error);
Classifier *classifier_ref(Classifier *c);
void classifier_unref(Classifier *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Classifier, classifier_unref)

const Bundle *classifier_bundle(const Classifier *c);
const GptModel *classifier_model(const Classifier *c);
const Bpe *classifier_bpe(const Classifier *c);
int classifier_num_labels(const Classifier *c);
const char *classifier_label(const Classifier *c, int i);
/* classifier_spam_index - the label named "spam" (any case), else 1 */
int classifier_spam_index(const Classifier *c);
int classifier_max_tokens(const Classifier *c);
/* classifier_mailtext_version - the text layout served (the model's) */
int classifier_mailtext_version(const Classifier *c);

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

/* classifier_score_ids - B packed id sequences to probs (B, NL), with the
 * bundle's temperature applied before the softmax; B <= max_batch */
void classifier_score_ids(const Classifier *c, ClassifierWorker *w,
			  const int32_t *ids, const int *lens, int B,
			  float *probs);
/* classifier_score - N messages to probs (N, NL), in batches of max_batch */
void classifier_score(const Classifier *c, ClassifierWorker *w,
		      const char *const *msgs, const gsize *lens, int n,
		      float *probs);

#endif
