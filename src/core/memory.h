/*
 * memory.h - instant memory: the pooled hidden states of reported mail
 *
 * Owns: a small, bounded, persistent store of the messages users reported
 * (the feedback spool of gptmilter-report(1)): for each, the vector the
 * classifier head reads (classifier_score_pooled; last or mean pooling, as
 * the model says), its label (ham or spam), the SHA-256 of the message,
 * the time of the report; and the id of the model that made the vectors
 * (vectors of another model mean nothing: such a file is refused, and the
 * caller rebuilds from the spool). Nearest-neighbour lookup by cosine, the
 * rule that turns a close match into a score, and the intake of a spool.
 *	g_autofree char *id = memory_model_id(c);
 *	Memory *m = memory_load(path, id, classifier_dim(c), 4096, &error);
 *	if (m == NULL) m = memory_new(id, classifier_dim(c), 4096);
 *	memory_sync_spool(m, c, worker, spool, &st, &error);
 *	memory_save(m, path, &error);
 *	memory_project(c, pooled, v);
 *	if (memory_lookup(m, v, &match)) score = memory_adjust(...);
 * File (little-endian, version 1): a 128-byte header (magic "GPTMMEM1",
 * version, dim, count, capacity, the model id, the SHA-256 of the header
 * with the digest zeroed and of the entries), then COUNT entries of
 * MEMORY_ENTRY_FIXED bytes (message SHA-256, report time, label) and dim
 * floats (unit length). Written whole through mapfile_write_atomic (temp
 * file, fsync, rename): a crash leaves the old file or the new one.
 * Bounded: at most `capacity` entries; the oldest report is evicted first.
 * Threads: lookups may run on any number of threads while one thread adds
 * and saves (a read-write lock inside). Errors: set MEMORY_ERROR.
 */
#ifndef GPTM_MEMORY_H
#define GPTM_MEMORY_H

#include <glib.h>
#include <stdint.h>

#include "classifier.h"

#define MEMORY_ERROR memory_error_quark()
typedef enum {
	MEMORY_ERROR_MISSING,	/* no file yet */
	MEMORY_ERROR_CORRUPT,	/* cut short, bad magic, version or digest */
	MEMORY_ERROR_FOREIGN,	/* another model's vectors (or size) */
	MEMORY_ERROR_IO,	/* cannot read, write, list the spool */
} MemoryError;
GQuark memory_error_quark(void);

#define MEMORY_VERSION 1
#define MEMORY_HEADER_SIZE 128
/* bytes of an entry before its floats: sha256, time, label, reserved */
#define MEMORY_ENTRY_FIXED 48
/* Defaults of the milter's memory.* keys and gptmilter-classify's
 * --memory-* options (so both decide alike). MEMORY_THRESHOLD_DEFAULT: the
 * cosine a neighbour must reach, measured on the standard corpus
 * (make bench-memory, bench/RESULTS.md: the validation split's closest
 * ham was 0.885 from a reported spam). MEMORY_CAPACITY_DEFAULT keeps a
 * lookup under 5% of the default model's forward pass (it is memory
 * bound: about 35 ns per entry of 128 floats). MEMORY_SPAM_SCORE_DEFAULT
 * sits below policy.reject_threshold's default (0.995): one user's report
 * tags mail for everyone, it does not reject it. */
#define MEMORY_CAPACITY_DEFAULT 4096
#define MEMORY_CAPACITY_MAX 1000000
#define MEMORY_THRESHOLD_DEFAULT 0.92
#define MEMORY_SPAM_SCORE_DEFAULT 0.98
#define MEMORY_HAM_SCORE_DEFAULT 0.02

typedef enum { MEMORY_HAM = 0, MEMORY_SPAM = 1 } MemoryLabel;

typedef struct Memory Memory;

/* The nearest remembered report of a message. */
typedef struct {
	int index;		/* -1: the store is empty */
	float similarity;	/* cosine, -1 .. 1 */
	MemoryLabel label;
	gint64 time;		/* when it was reported (Unix seconds) */
} MemoryMatch;

/* How a match changes a score (memory.* keys). */
typedef struct {
	double threshold;	/* a match needs similarity >= this */
	double spam_score;	/* a spam match: score = max(score, this) */
	double ham_score;	/* a ham match: score = min(score, this) */
} MemoryPolicy;

/* What a spool intake did. */
typedef struct {
	int added;		/* new reports remembered */
	int replaced;		/* a message reported again (newest wins) */
	int evicted;		/* oldest entries dropped: the store was full */
	int skipped;		/* already remembered, or older than capacity */
	int failed;		/* unreadable or empty files (logged) */
} MemorySyncStats;

/* memory_model_id - the id of C's vectors: SHA-256 (hex) of its weights,
 * pooling, text layout and max_tokens (any change changes the vectors) */
char *memory_model_id(const Classifier *c);

/* memory_project - the vector memory keeps of a message: its pooled
 * hidden state POOLED (C) less ln_f's bias, less its components along the
 * head's rows (score_w, NL x C), into OUT (C; may be POOLED). Why: what
 * the head reads is the same for all spam (its score), so raw pooled
 * states of unrelated spam are close; what is left is what the message is
 * about, where a campaign's variants stay close and ham drifts away. */
void memory_project(const Classifier *c, const float *pooled, float *out);

/* memory_new - an empty store for MODEL_ID's vectors of DIM floats */
Memory *memory_new(const char *model_id, int dim, int capacity);
/* memory_load - the store in PATH for MODEL_ID and DIM, at most CAPACITY
 * entries (the newest kept when the file holds more); NULL and ERROR
 * (MEMORY_ERROR_MISSING, _CORRUPT, _FOREIGN, _IO) otherwise */
Memory *memory_load(const char *path, const char *model_id, int dim,
		    int capacity, GError **error);
/* memory_save - write the store to PATH atomically (temp file + rename) */
gboolean memory_save(Memory *m, const char *path, GError **error);
Memory *memory_ref(Memory *m);
void memory_unref(Memory *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Memory, memory_unref)

int memory_count(Memory *m);
int memory_capacity(const Memory *m);
int memory_dim(const Memory *m);
const char *memory_model(const Memory *m);
/* memory_count_label - entries of LABEL */
int memory_count_label(Memory *m, MemoryLabel label);

/* memory_add - remember VEC (DIM floats, any length: normalized here) as
 * message HASH (32 bytes, SHA-256) reported as LABEL at TIME. The same
 * message again replaces its entry if TIME is not older; a full store
 * evicts its oldest entry. Counts what it did in ST (may be NULL). */
void memory_add(Memory *m, const guint8 *hash, MemoryLabel label,
		gint64 time, const float *vec, MemorySyncStats *st);
/* memory_has - is HASH remembered with a report at TIME or later? */
gboolean memory_has(Memory *m, const guint8 *hash, gint64 time);

/* memory_lookup - the entry nearest VEC (DIM floats) by cosine; FALSE
 * when the store is empty. Cost: one (1, C) x (C, count) product. */
gboolean memory_lookup(Memory *m, const float *vec, MemoryMatch *out);
/* memory_adjust - SCORE after match M under P; *HIT (may be NULL) says
 * whether M was close enough to count */
double memory_adjust(const MemoryPolicy *p, const MemoryMatch *m,
		     double score, gboolean *hit);
/* memory_label_name - "ham" or "spam" */
const char *memory_label_name(MemoryLabel label);

/* memory_sync_spool - remember every report in SPOOL (ham/ and spam/,
 * each a Maildir: new/ and cur/) not remembered yet, scored with C and W
 * (W's model must be C's). Files already seen by this Memory are not read
 * again; of more new reports than the capacity only the newest are read.
 * A report's time: the leading digits of its name (gptmilter-report names
 * it so), else its mtime. FALSE and ERROR only when the spool cannot be
 * listed; unreadable files are counted in ST->failed and logged. */
gboolean memory_sync_spool(Memory *m, const Classifier *c,
			   ClassifierWorker *w, const char *spool,
			   MemorySyncStats *st, GError **error);

#endif
