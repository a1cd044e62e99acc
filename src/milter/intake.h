/*
 * intake.h - the milter's instant memory: spool intake thread and lookups
 *
 * Owns: the one Memory (src/core/memory.h) the milter consults, kept for
 * the model the pool scores with; a thread that takes the feedback spool's
 * new reports in every memory.scan_interval seconds (and at once on a
 * reload), saves the store after each change, and rebuilds it from the
 * spool when it is missing, corrupt or of another model (a log line says
 * which); lookups for finished scores.
 *	Intake *in = intake_new(pool, stats);
 *	intake_configure(in, conf);           // at start and on each reload
 *	if (intake_lookup(in, r.classifier, r.pooled, &match)) ...
 * Threads: intake_lookup from any thread, while the intake thread adds.
 * Errors: logged; a memory that cannot be used is empty, never fatal: mail
 * is then scored by the model alone.
 */
#ifndef GPTM_MILTER_INTAKE_H
#define GPTM_MILTER_INTAKE_H

#include <glib.h>

#include "conf.h"
#include "memory.h"
#include "pool.h"
#include "stats.h"

typedef struct Intake Intake;

/* intake_new - start the thread; nothing happens before intake_configure */
Intake *intake_new(Pool *pool, Stats *stats);
/* intake_configure - take memory.* of CONF and scan now */
void intake_configure(Intake *in, const MilterConf *conf);
/* intake_free - stop and join the thread */
void intake_free(Intake *in);
/* intake_lookup - the remembered report nearest POOLED (C floats, as
 * PoolResult.pooled) of a message scored by C; FALSE when there is none
 * for C (memory off, empty, or made for another model: a reload is under
 * way) */
gboolean intake_lookup(Intake *in, const Classifier *c, const float *pooled,
		       MemoryMatch *out);

#endif
