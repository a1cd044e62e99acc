/*
 * milter.h - the libmilter side of gptmilter: callbacks and shared state
 *
 * Owns: the one Milter (libmilter callbacks carry no user data, so the
 * daemon's state is a global, set up by main.c before smfi_main); the
 * smfiDesc; swapping configuration on reload.
 * Threads: libmilter runs the callbacks on many threads; `lock` guards
 * `conf`; every message takes its own reference to the conf at MAIL FROM.
 */
#ifndef GPTM_MILTER_MILTER_H
#define GPTM_MILTER_MILTER_H

#include <glib.h>
#include <libmilter/mfapi.h>

#include "conf.h"
#include "intake.h"
#include "pool.h"
#include "stats.h"

typedef struct {
	GMutex lock;		/* guards conf */
	MilterConf *conf;
	Pool *pool;
	Stats *stats;
	Intake *intake;		/* the instant memory (memory.*) */
	gint busy;		/* callbacks at end of message right now */
	gboolean draining;	/* shutting down: no new message (atomic) */
	gboolean closed;	/* shutting down: no more scoring (lock) */
	gint open;		/* message contexts alive (MAIL FROM .. end) */
	gint conns;		/* MTA connections open (negotiate .. close) */
	int conn_room;		/* connections the descriptor limit allows */
	gint64 conn_warned;	/* last "near the limit" warning (lock) */
} Milter;

extern Milter milter;
extern struct smfiDesc milter_desc;

/* milter_conf - the current configuration (a reference) */
MilterConf *milter_conf(void);
/* milter_set_conf - new messages use C (a reference is taken) */
void milter_set_conf(MilterConf *c);
/* milter_spam_threshold - the spam threshold in force with classifier C
 * (may be NULL): policy.spam_threshold, or for "model" the one C records
 * (0.5 if none); SOURCE (may be NULL) says which */
double milter_spam_threshold(const MilterConf *conf, const Classifier *c,
			     PolicyThresholdSource *source);
/* milter_conn_room - how many MTA connections fit under the descriptor
 * limit as it is now (set milter.conn_room from it); logs the figures */
void milter_conn_room(void);
/* milter_busy - messages being scored or answered now */
int milter_busy(void);
/* milter_close - refuse new connections and messages (tempfail), wait up
 * to MAX_S seconds for messages under way (MAIL FROM seen, not yet
 * answered) to end, then stop scoring: a later end of message gets a
 * tempfail; returns when no message is being scored */
void milter_close(double max_s);

#endif
