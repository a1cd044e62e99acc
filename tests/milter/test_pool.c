/*
 * test_pool.c - the milter's worker pool on a tiny random model (made by
 * test_pool.sh): scores equal classifier_score's, queued messages are
 * batched, a slow batch times out, a full queue refuses, and a model swap
 * leaves queued jobs on the model they were queued with.
 *
 * usage: test_pool MODEL_DIR OTHER_MODEL_DIR
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "../check.h"

static const char *const messages[] = {
	"From: a@example.org\r\nSubject: lunch\r\n\r\nSee you at noon.\r\n",
	"From: b@example.org\r\nSubject: WIN $$$\r\n\r\nClick here now!!!\r\n",
	"Subject: report\r\n\r\nAttached is the quarterly report.\r\n",
	"",
	"From: \xff\xfe garbage\r\n\r\n\x80\x81\x82\r\n",
	"Subject: x\r\n\r\n" "lorem ipsum dolor sit amet, consectetur adipiscing "
	"elit, sed do eiusmod tempor incididunt ut labore et dolore magna.\r\n",
};
#define N_MSG ((int) G_N_ELEMENTS(messages))

typedef struct {
	Pool *pool;
	int i;
	double timeout;
	gboolean ok;
	PoolResult r;
	GError *error;
} Call;

static gpointer
call_thread(gpointer data)
{
	Call *call = data;
	GByteArray *b = g_byte_array_new();
	g_byte_array_append(b, (const guint8 *) messages[call->i],
			    strlen(messages[call->i]));
	call->ok = pool_score(call->pool, b, call->timeout, &call->r,
			      &call->error);
	g_byte_array_unref(b);
	return NULL;
}

/* run N_MSG calls at once, 20 ms apart */
static void
run_calls(Pool *pool, Call *calls, double timeout)
{
	GThread *t[N_MSG];
	for (int i = 0; i < N_MSG; i++) {
		calls[i] = (Call) { pool, i, timeout, FALSE, { 0 }, NULL };
		t[i] = g_thread_new("call", call_thread, &calls[i]);
		g_usleep(20000);
	}
	for (int i = 0; i < N_MSG; i++)
		g_thread_join(t[i]);
}

static void
clear_calls(Call *calls)
{
	for (int i = 0; i < N_MSG; i++) {
		pool_result_clear(&calls[i].r);
		g_clear_error(&calls[i].error);
	}
}

int
main(int argc, char **argv)
{
	GError *error = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: test_pool MODEL_DIR OTHER_MODEL_DIR\n");
		return 2;
	}
	Classifier *c = classifier_load(argv[1], &error);
	Classifier *c2 = classifier_load(argv[2], &error);
	if (c == NULL || c2 == NULL) {
		fprintf(stderr, "FAIL: %s\n", error->message);
		return 1;
	}
	int NL = classifier_num_labels(c);

	/* reference: each message alone */
	float ref[N_MSG][8];
	ClassifierWorker *w = classifier_worker_new(c, 1);
	for (int i = 0; i < N_MSG; i++) {
		const char *m = messages[i];
		gsize len = strlen(m);
		classifier_score(c, w, &m, &len, 1, ref[i]);
	}
	classifier_worker_free(w);

	/* no model: every call fails at once */
	Pool *pool = pool_new(1, 4, 16);
	GByteArray *b = g_byte_array_new();
	PoolResult r;
	CHECK(!pool_score(pool, b, 1.0, &r, &error));
	CHECK(g_error_matches(error, POOL_ERROR, POOL_ERROR_NO_MODEL));
	g_clear_error(&error);

	/* one worker, each batch slowed: while it works, the messages that
	 * arrive queue up and go together in the next batch */
	pool_set_classifier(pool, c);
	pool_set_test_delay(pool, 300);
	Call calls[N_MSG];
	run_calls(pool, calls, 30.0);
	int max_batch = 0;
	for (int i = 0; i < N_MSG; i++) {
		CHECK(calls[i].ok);
		if (!calls[i].ok)
			continue;
		CHECK(calls[i].r.classifier == c);
		CHECK(calls[i].r.n_labels == NL);
		max_batch = MAX(max_batch, calls[i].r.batch);
		for (int k = 0; k < NL; k++)
			CHECK(fabsf(calls[i].r.probs[k] - ref[i][k]) < 1e-4f);
	}
	CHECK(max_batch >= 2 && max_batch <= 4);	/* batch = 4 */
	clear_calls(calls);

	/* a batch slower than the timeout: every caller gives up in time */
	pool_set_test_delay(pool, 800);
	gint64 t0 = g_get_monotonic_time();
	run_calls(pool, calls, 0.2);
	for (int i = 0; i < N_MSG; i++)
		CHECK(!calls[i].ok &&
		      g_error_matches(calls[i].error, POOL_ERROR,
				      POOL_ERROR_TIMEOUT));
	CHECK(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
	clear_calls(calls);
	pool_free(pool);	/* abandoned jobs finish and are freed */

	/* a queue of 2 behind one busy worker: later calls are refused */
	pool = pool_new(1, 1, 2);
	pool_set_classifier(pool, c);
	pool_set_test_delay(pool, 400);
	run_calls(pool, calls, 30.0);
	int full = 0, ok = 0;
	for (int i = 0; i < N_MSG; i++) {
		if (calls[i].ok)
			ok++;
		else if (g_error_matches(calls[i].error, POOL_ERROR,
					 POOL_ERROR_QUEUE_FULL))
			full++;
	}
	CHECK(ok >= 2 && full >= 1 && ok + full == N_MSG);
	clear_calls(calls);

	/* swap the model while jobs wait: each is scored by the model it
	 * was queued with; new jobs get the new one */
	Call early = { pool, 1, 30.0, FALSE, { 0 }, NULL };
	pool_set_test_delay(pool, 300);
	GThread *te = g_thread_new("early", call_thread, &early);
	g_usleep(50000);
	pool_set_classifier(pool, c2);
	classifier_unref(c2);	/* the pool holds it now */
	Call late = { pool, 1, 30.0, FALSE, { 0 }, NULL };
	call_thread(&late);
	g_thread_join(te);
	CHECK(early.ok && early.r.classifier == c);
	CHECK(late.ok && late.r.classifier == c2);
	pool_result_clear(&early.r);
	pool_result_clear(&late.r);
	pool_free(pool);

	g_byte_array_unref(b);
	classifier_unref(c);
	return check_summary("test_pool");
}
