/*
 * pool.h - a bounded set of classifier threads shared by all milter threads
 *
 * Owns: `workers` threads, each with one ClassifierWorker (scratch memory
 * for `batch` messages) made when the thread first meets a model; a bounded
 * queue of jobs; batching of queued jobs; the per-message timeout; swapping
 * the model on reload while jobs still hold the old one.
 *	Pool *pool = pool_new(2, 8, 64);
 *	pool_set_classifier(pool, c);
 *	if (!pool_score(pool, bytes, 20.0, &res, &error)) -> policy.on_error
 * Threads: pool_score blocks the calling (libmilter) thread until its score
 * is ready or the timeout passes; all functions are thread-safe.
 * Errors: pool_score sets POOL_ERROR_{NO_MODEL,QUEUE_FULL,TIMEOUT}.
 */
#ifndef GPTM_MILTER_POOL_H
#define GPTM_MILTER_POOL_H

#include <glib.h>

#include "classifier.h"

#define POOL_ERROR (pool_error_quark())
typedef enum {
	POOL_ERROR_NO_MODEL,
	POOL_ERROR_QUEUE_FULL,
	POOL_ERROR_TIMEOUT,
} PoolError;
GQuark pool_error_quark(void);

typedef struct {
	Classifier *classifier;	/* the model that scored (a reference) */
	float *probs;		/* (NL) class probabilities */
	int n_labels;		/* NL */
	float *pooled;		/* (C) the pooled hidden state the head read
				 * (memory.h), C = classifier_dim */
	int batch;		/* messages scored in the same forward pass */
	double wait_ms;		/* queued, waiting for a worker */
	double score_ms;	/* text extraction + tokens + forward */
} PoolResult;

typedef struct Pool Pool;

/* pool_new - start WORKERS threads; at most QUEUE_MAX jobs may wait */
Pool *pool_new(int workers, int batch, int queue_max);
/* pool_free - finish every queued job, stop and join the threads */
void pool_free(Pool *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Pool, pool_free)

/* pool_set_classifier - score new jobs with C (a new reference is taken;
 * NULL: no model, every job fails); jobs already queued keep theirs */
void pool_set_classifier(Pool *p, Classifier *c);
/* pool_get_classifier - the current model (a reference) or NULL */
Classifier *pool_get_classifier(Pool *p);

/* pool_score - score MSG (a reference is taken: the bytes must not change)
 * within TIMEOUT_S seconds; fills OUT */
gboolean pool_score(Pool *p, GByteArray *msg, double timeout_s,
		    PoolResult *out, GError **error);
void pool_result_clear(PoolResult *r);

/* pool_set_test_delay - make every batch sleep MS first (tests only) */
void pool_set_test_delay(Pool *p, int ms);

#endif
