/*
 * pool.c - classifier threads, batching and timeouts for the milter
 *
 * Owns: the jobs between a libmilter thread's end of message and its score.
 * Why own GThreads and not a GThreadPool: each thread keeps a
 * ClassifierWorker (a GptState arena sized for `batch` x max_tokens) for its
 * whole life, made once per model, and must free it deterministically when
 * the pool stops; a plain thread with a local variable says exactly that.
 *
 * A job is shared by its submitter and the queue, so it has two references;
 * when the submitter gives up (timeout) it marks the job abandoned and
 * drops its reference: the worker skips or finishes it and frees it, and
 * the message bytes, which the job references, stay valid until then.
 * Each job holds a reference to the model it was queued with, so a reload
 * never changes the model under a running batch; a batch only joins jobs of
 * the same model. A worker drops its ClassifierWorker as soon as its model
 * is no longer current, so an old model is freed when its last job ends.
 * Threads: `pending` (GAsyncQueue) is the only hand-off; a job's fields
 * after submission are guarded by its own mutex.
 */
#include <string.h>

#include "pool.h"

G_DEFINE_QUARK(gptmilter-pool-error-quark, pool_error)

typedef struct {
	gint refs;
	GMutex lock;
	GCond cond;
	gboolean done;		/* probs are valid */
	gboolean abandoned;	/* the submitter stopped waiting */
	GByteArray *msg;
	Classifier *c;
	float *probs;		/* (NL) */
	float *pooled;		/* (C) */
	int batch;
	gint64 t_submit, t_start, t_end;
} Job;

struct Pool {
	GMutex lock;		/* guards current */
	Classifier *current;
	GAsyncQueue *pending;	/* Job * or &stop */
	gint n_pending;		/* jobs in pending (atomic) */
	int queue_max;
	int batch;
	int delay_ms;
	GThread **threads;
	int n_threads;
	char stop;		/* its address is the stop marker */
};

static void
job_unref(Job *j)
{
	if (!g_atomic_int_dec_and_test(&j->refs))
		return;
	g_byte_array_unref(j->msg);
	classifier_unref(j->c);
	g_free(j->probs);
	g_free(j->pooled);
	g_mutex_clear(&j->lock);
	g_cond_clear(&j->cond);
	g_free(j);
}

/* run_batch - score JOBS[0..n) with WORKER and wake their submitters */
static void
run_batch(Pool *p, ClassifierWorker *worker, Job **jobs, int n)
{
	const Classifier *c = jobs[0]->c;
	int NL = classifier_num_labels(c), C = classifier_dim(c);
	const char *msgs[64];
	gsize lens[64];
	g_autofree float *probs = g_new(float, (gsize) n * NL);
	g_autofree float *pooled = g_new(float, (gsize) n * C);
	gint64 t_start = g_get_monotonic_time();

	if (p->delay_ms > 0)
		g_usleep((gulong) p->delay_ms * 1000);
	for (int i = 0; i < n; i++) {
		msgs[i] = (const char *) jobs[i]->msg->data;
		lens[i] = jobs[i]->msg->len;
	}
	classifier_score_pooled(c, worker, msgs, lens, n, probs, pooled);
	gint64 t_end = g_get_monotonic_time();
	for (int i = 0; i < n; i++) {
		Job *j = jobs[i];
		g_mutex_lock(&j->lock);
		memcpy(j->probs, probs + (gsize) i * NL, NL * sizeof(float));
		memcpy(j->pooled, pooled + (gsize) i * C, C * sizeof(float));
		j->batch = n;
		j->t_start = t_start;
		j->t_end = t_end;
		j->done = TRUE;
		g_cond_signal(&j->cond);
		g_mutex_unlock(&j->lock);
		job_unref(j);
	}
}

/* worker_main - pop a job, join queued jobs of the same model, score */
static gpointer
worker_main(gpointer data)
{
	Pool *p = data;
	Classifier *wc = NULL;	/* the model WORKER was made for */
	ClassifierWorker *worker = NULL;
	Job *jobs[64];

	g_assert(p->batch <= (int) G_N_ELEMENTS(jobs));
	for (;;) {
		gpointer item = g_async_queue_pop(p->pending);
		if (item == &p->stop)
			break;
		int n = 0;
		for (;;) {
			Job *j = item;
			g_atomic_int_add(&p->n_pending, -1);
			g_mutex_lock(&j->lock);
			gboolean gone = j->abandoned;
			g_mutex_unlock(&j->lock);
			if (gone)
				job_unref(j);	/* nobody waits: skip the work */
			else
				jobs[n++] = j;
			if (n == p->batch)
				break;
			item = g_async_queue_try_pop(p->pending);
			if (item == NULL)
				break;
			if (item == &p->stop ||
			    (n > 0 && ((Job *) item)->c != jobs[0]->c)) {
				g_async_queue_push_front(p->pending, item);
				break;
			}
		}
		if (n == 0)
			continue;
		if (wc != jobs[0]->c) {
			classifier_worker_free(worker);
			wc = jobs[0]->c;
			worker = classifier_worker_new(wc, p->batch);
		}
		run_batch(p, worker, jobs, n);

		/* let an old model go as soon as its last job is done */
		g_mutex_lock(&p->lock);
		gboolean stale = wc != p->current;
		g_mutex_unlock(&p->lock);
		if (stale) {
			g_clear_pointer(&worker, classifier_worker_free);
			wc = NULL;
		}
	}
	classifier_worker_free(worker);
	return NULL;
}

/* pool_new - start the threads; the model comes with pool_set_classifier */
Pool *
pool_new(int workers, int batch, int queue_max)
{
	g_assert(workers >= 1 && batch >= 1 && batch <= 64 && queue_max >= 1);
	Pool *p = g_new0(Pool, 1);
	g_mutex_init(&p->lock);
	p->pending = g_async_queue_new();
	p->queue_max = queue_max;
	p->batch = batch;
	/* throughput comes from workers side by side, each single-threaded */
	gpt_set_threads(1);
	p->threads = g_new0(GThread *, workers);
	for (int i = 0; i < workers; i++) {
		g_autofree char *name = g_strdup_printf("gptm-worker-%d", i);
		p->threads[i] = g_thread_new(name, worker_main, p);
	}
	p->n_threads = workers;
	return p;
}

/* pool_free - queued jobs are finished first: the stop markers queue last */
void
pool_free(Pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->n_threads; i++)
		g_async_queue_push(p->pending, &p->stop);
	for (int i = 0; i < p->n_threads; i++)
		g_thread_join(p->threads[i]);
	g_free(p->threads);
	g_async_queue_unref(p->pending);
	classifier_unref(p->current);
	g_mutex_clear(&p->lock);
	g_free(p);
}

void
pool_set_classifier(Pool *p, Classifier *c)
{
	Classifier *old;

	g_mutex_lock(&p->lock);
	old = p->current;
	p->current = c ? classifier_ref(c) : NULL;
	g_mutex_unlock(&p->lock);
	classifier_unref(old);
}

Classifier *
pool_get_classifier(Pool *p)
{
	Classifier *c;

	g_mutex_lock(&p->lock);
	c = p->current ? classifier_ref(p->current) : NULL;
	g_mutex_unlock(&p->lock);
	return c;
}

void
pool_set_test_delay(Pool *p, int ms)
{
	p->delay_ms = ms;
}

void
pool_result_clear(PoolResult *r)
{
	g_clear_pointer(&r->classifier, classifier_unref);
	g_clear_pointer(&r->probs, g_free);
	g_clear_pointer(&r->pooled, g_free);
}

/* pool_score - queue MSG, wait for the score or the deadline */
gboolean
pool_score(Pool *p, GByteArray *msg, double timeout_s, PoolResult *out,
	   GError **error)
{
	memset(out, 0, sizeof(*out));
	Classifier *c = pool_get_classifier(p);
	if (c == NULL) {
		g_set_error(error, POOL_ERROR, POOL_ERROR_NO_MODEL,
			    "no model loaded");
		return FALSE;
	}
	/* bounded: count first, undo if over (the check and add are one op) */
	if (g_atomic_int_add(&p->n_pending, 1) >= p->queue_max) {
		g_atomic_int_add(&p->n_pending, -1);
		classifier_unref(c);
		g_set_error(error, POOL_ERROR, POOL_ERROR_QUEUE_FULL,
			    "queue full (%d messages waiting)", p->queue_max);
		return FALSE;
	}

	Job *j = g_new0(Job, 1);
	j->refs = 2;
	g_mutex_init(&j->lock);
	g_cond_init(&j->cond);
	j->msg = g_byte_array_ref(msg);
	j->c = c;
	j->probs = g_new0(float, classifier_num_labels(c));
	j->pooled = g_new0(float, classifier_dim(c));
	j->t_submit = g_get_monotonic_time();
	gint64 deadline = j->t_submit + (gint64) (timeout_s * G_USEC_PER_SEC);
	g_async_queue_push(p->pending, j);

	gboolean ok;
	g_mutex_lock(&j->lock);
	while (!j->done)
		if (!g_cond_wait_until(&j->cond, &j->lock, deadline))
			break;
	ok = j->done;
	if (ok) {
		out->classifier = classifier_ref(j->c);
		out->n_labels = classifier_num_labels(j->c);
		out->probs = g_memdup2(j->probs, out->n_labels * sizeof(float));
		out->pooled = g_memdup2(j->pooled,
					classifier_dim(j->c) * sizeof(float));
		out->batch = j->batch;
		out->wait_ms = (j->t_start - j->t_submit) / 1000.0;
		out->score_ms = (j->t_end - j->t_start) / 1000.0;
	} else {
		j->abandoned = TRUE;
	}
	g_mutex_unlock(&j->lock);
	job_unref(j);
	if (!ok)
		g_set_error(error, POOL_ERROR, POOL_ERROR_TIMEOUT,
			    "no score within %.3g s", timeout_s);
	return ok;
}
