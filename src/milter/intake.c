/*
 * intake.c - the instant memory's intake thread and lookups (intake.h)
 *
 * Why the milter scans the spool rather than the report pipe writing the
 * store: the spool is already the one place reports land (gptmilter-report
 * runs as the mail user, with no model and no right to our files), it is
 * the truth the store can always be rebuilt from (after a crash, a corrupt
 * file, a new model), and the milter has the model loaded: a report costs
 * one forward pass here, seconds after it is filed. A scan lists the
 * spool's new/ and cur/ and reads only the files it has not seen, so an
 * idle scan costs a directory listing.
 * The thread owns the ClassifierWorker of its forward passes; the Memory
 * and the model it belongs to are swapped under `lock`, and a lookup takes
 * a reference, so a reload never pulls a store from under a message.
 */
#include <string.h>

#include "intake.h"

struct Intake {
	GMutex lock;		/* guards everything below but the thread */
	GCond cond;
	gboolean stop, kick;
	/* memory.* as configured */
	char *file, *spool;
	int capacity;
	double interval;
	/* what lookups use */
	Memory *mem;
	Classifier *cl;		/* the model MEM belongs to (a reference) */
	Pool *pool;
	Stats *stats;
	GThread *thread;
};

/* The thread's own state between scans. */
typedef struct {
	Memory *mem;
	Classifier *cl;
	ClassifierWorker *w;
	char *file;		/* the file MEM was loaded from */
	int capacity;
	char *last_error;	/* the spool error said last (said once) */
} Loaded;

/* publish - lookups use MEM for CL from now on (references taken) */
static void
publish(Intake *in, Memory *mem, Classifier *cl)
{
	g_mutex_lock(&in->lock);
	Memory *old_mem = in->mem;
	Classifier *old_cl = in->cl;
	in->mem = mem ? memory_ref(mem) : NULL;
	in->cl = cl ? classifier_ref(cl) : NULL;
	g_mutex_unlock(&in->lock);
	memory_unref(old_mem);
	classifier_unref(old_cl);
}

static void
loaded_clear(Loaded *l)
{
	g_clear_pointer(&l->mem, memory_unref);
	g_clear_pointer(&l->w, classifier_worker_free);
	g_clear_pointer(&l->cl, classifier_unref);
	g_clear_pointer(&l->file, g_free);
	g_clear_pointer(&l->last_error, g_free);
}

/* open_store - L's store for CL from FILE, or a new one (and why): TRUE
 * when it must be written (new, rebuilt) */
static gboolean
open_store(Loaded *l, Classifier *cl, const char *file, const char *spool,
	   int capacity)
{
	g_autoptr(GError) e = NULL;
	g_autofree char *id = memory_model_id(cl);
	int dim = classifier_dim(cl);
	gboolean fresh = FALSE;

	loaded_clear(l);
	l->mem = memory_load(file, id, dim, capacity, &e);
	if (l->mem == NULL) {
		fresh = TRUE;
		if (g_error_matches(e, MEMORY_ERROR, MEMORY_ERROR_MISSING))
			g_message("memory: %s does not exist yet: starting "
				  "empty, taking in the reports of %s", file,
				  spool);
		else if (g_error_matches(e, MEMORY_ERROR,
					 MEMORY_ERROR_FOREIGN))
			g_message("memory: %s: the model changed: rebuilding "
				  "it from the reports of %s", e->message,
				  spool);
		else
			g_warning("memory: %s: starting empty and rebuilding "
				  "it from the reports of %s (mail is scored "
				  "by the model meanwhile)", e->message, spool);
		l->mem = memory_new(id, dim, capacity);
	} else {
		g_message("memory: %s: %d reports (%d spam, %d ham) of "
			  "capacity %d, model %.12s", file,
			  memory_count(l->mem),
			  memory_count_label(l->mem, MEMORY_SPAM),
			  memory_count_label(l->mem, MEMORY_HAM), capacity, id);
	}
	l->cl = classifier_ref(cl);
	l->w = classifier_worker_new(cl, 8);
	l->file = g_strdup(file);
	l->capacity = capacity;
	return fresh;
}

/* scan - one round: (re)open the store if the model or file changed,
 * take new reports in, save when anything changed */
static void
scan(Intake *in, Loaded *l, const char *file, const char *spool,
     int capacity)
{
	if (*file == '\0') {
		if (l->mem != NULL)
			g_message("memory: off (memory.file is empty)");
		loaded_clear(l);
		publish(in, NULL, NULL);
		stats_memory_size(in->stats, 0, 0);
		return;
	}
	g_autoptr(Classifier) cl = pool_get_classifier(in->pool);
	if (cl == NULL)
		return;		/* no model: nothing to make vectors with */
	gboolean dirty = FALSE;
	if (cl != l->cl || l->file == NULL || strcmp(file, l->file) != 0 ||
	    capacity != l->capacity) {
		dirty = open_store(l, cl, file, spool, capacity);
		publish(in, l->mem, l->cl);
	}

	MemorySyncStats st;
	g_autoptr(GError) e = NULL;
	gint64 t0 = g_get_monotonic_time();
	if (!memory_sync_spool(l->mem, l->cl, l->w, spool, &st, &e)) {
		if (g_strcmp0(l->last_error, e->message) != 0)
			g_warning("memory: %s: no reports taken in until it "
				  "can be read", e->message);
		g_free(l->last_error);
		l->last_error = g_strdup(e->message);
	} else if (l->last_error != NULL) {
		g_message("memory: %s readable again", spool);
		g_clear_pointer(&l->last_error, g_free);
	}
	int n = memory_count(l->mem);
	if (st.added + st.replaced > 0)
		g_message("memory: %d new report(s) remembered, %d replaced "
			  "in %.0f ms; %d of %d entries (%d spam, %d ham)",
			  st.added, st.replaced,
			  (g_get_monotonic_time() - t0) / 1000.0, n, capacity,
			  memory_count_label(l->mem, MEMORY_SPAM),
			  memory_count_label(l->mem, MEMORY_HAM));
	if (st.evicted > 0)
		g_message("memory: full (memory.capacity %d): the %d oldest "
			  "report(s) evicted", capacity, st.evicted);
	if (dirty || st.added + st.replaced > 0) {
		g_autoptr(GError) se = NULL;
		if (!memory_save(l->mem, file, &se))
			g_warning("%s; the memory in use is not affected, "
				  "saving again after the next report",
				  se->message);
	}
	stats_memory_size(in->stats, n, capacity);
}

static gpointer
intake_main(gpointer data)
{
	Intake *in = data;
	Loaded l = { 0 };

	g_mutex_lock(&in->lock);
	for (;;) {
		gint64 until = g_get_monotonic_time() +
			       (gint64) (in->interval * G_USEC_PER_SEC);
		while (!in->stop && !in->kick)
			if (!g_cond_wait_until(&in->cond, &in->lock, until))
				break;
		if (in->stop)
			break;
		in->kick = FALSE;
		g_autofree char *file = g_strdup(in->file);
		g_autofree char *spool = g_strdup(in->spool);
		int capacity = in->capacity;
		g_mutex_unlock(&in->lock);
		if (file != NULL)
			scan(in, &l, file, spool, capacity);
		g_mutex_lock(&in->lock);
	}
	g_mutex_unlock(&in->lock);
	loaded_clear(&l);
	return NULL;
}

Intake *
intake_new(Pool *pool, Stats *stats)
{
	Intake *in = g_new0(Intake, 1);
	g_mutex_init(&in->lock);
	g_cond_init(&in->cond);
	in->pool = pool;
	in->stats = stats;
	in->interval = 3600;	/* until configured */
	in->thread = g_thread_new("gptm-memory", intake_main, in);
	return in;
}

void
intake_configure(Intake *in, const MilterConf *conf)
{
	g_mutex_lock(&in->lock);
	g_free(in->file);
	g_free(in->spool);
	in->file = g_strdup(conf->memory_file);
	in->spool = g_strdup(conf->memory_spool);
	in->capacity = conf->memory_capacity;
	in->interval = conf->memory_scan_interval;
	in->kick = TRUE;
	g_cond_broadcast(&in->cond);
	g_mutex_unlock(&in->lock);
}

void
intake_free(Intake *in)
{
	if (in == NULL)
		return;
	g_mutex_lock(&in->lock);
	in->stop = TRUE;
	g_cond_broadcast(&in->cond);
	g_mutex_unlock(&in->lock);
	g_thread_join(in->thread);
	publish(in, NULL, NULL);
	g_free(in->file);
	g_free(in->spool);
	g_mutex_clear(&in->lock);
	g_cond_clear(&in->cond);
	g_free(in);
}

gboolean
intake_lookup(Intake *in, const Classifier *c, const float *pooled,
	      MemoryMatch *out)
{
	g_mutex_lock(&in->lock);
	Memory *mem = in->mem && in->cl == c ? memory_ref(in->mem) : NULL;
	g_mutex_unlock(&in->lock);
	if (mem == NULL)
		return FALSE;
	g_autofree float *v = g_new(float, classifier_dim(c));
	memory_project(c, pooled, v);
	gboolean found = memory_lookup(mem, v, out);
	memory_unref(mem);
	return found;
}
