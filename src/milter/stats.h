/*
 * stats.h - counters for the daemon: actions, errors, latency, scores
 *
 * Owns: what `gptmilter` counts and how it is shown: a summary log line at
 * exit and, when metrics.listen is set, an HTTP endpoint /metrics in the
 * Prometheus text format (libmicrohttpd, its own thread): per action,
 * verdict and script, the score histogram, the running model's name and
 * age, instant-memory hits and size, and drift: the population stability index of the last 24 hours'
 * scores against the histogram the trainer recorded (metrics_psi).
 *	stats_record(st, POLICY_TAG, POLICY_STATUS_SPAM, 0.97, 12.5);
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef GPTM_MILTER_STATS_H
#define GPTM_MILTER_STATS_H

#include <glib.h>

#include "policy.h"

typedef enum {
	STATS_ERR_MODEL = 0,	/* no model loaded */
	STATS_ERR_QUEUE,	/* worker queue full */
	STATS_ERR_TIMEOUT,	/* no score within `timeout` */
	STATS_ERR_MILTER,	/* an smfi_* call failed */
	STATS_ERR_N
} StatsError;

typedef struct Stats Stats;

Stats *stats_new(void);
void stats_free(Stats *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Stats, stats_free)

/* stats_record - one finished message: ACTION, STATUS (the verdict; < 0:
 * none, not scored), SCORE (< 0: none), wall milliseconds from end of
 * message to verdict */
void stats_record(Stats *s, PolicyAction action, int status, double score,
		  double latency_ms);
/* stats_set_model - the model now scoring: NAME, DIR, MTIME (seconds since
 * the epoch: when its config.json was written) and REFERENCE, the counts
 * of its training score histogram (METRICS_SCORE_BINS; NULL: none, no
 * drift figure). A different model (DIR or MTIME) empties the 24-hour
 * window: the old model's scores say nothing of the new one's drift. */
void stats_set_model(Stats *s, const char *name, const char *dir,
		     gint64 mtime, const double *reference);
/* stats_script - a spam-scored message whose script was checked: SCRIPT
 * (ISO 15924 code), UNSURE when policy_unseen_script made it Unsure */
void stats_script(Stats *s, const char *script, gboolean unsure);
/* stats_memory_hit - a message whose score a close match to a reported
 * message of LABEL (MemoryLabel: 0 ham, 1 spam) changed */
void stats_memory_hit(Stats *s, int label);
/* stats_memory_size - the instant memory now holds ENTRIES of CAPACITY
 * (CAPACITY 0: off) */
void stats_memory_size(Stats *s, int entries, int capacity);
void stats_error(Stats *s, StatsError e);
void stats_reload(Stats *s, gboolean ok);
/* stats_prometheus - the text exposition of every metric */
GString *stats_prometheus(Stats *s);
/* stats_summary - one line for the log */
char *stats_summary(Stats *s);
/* stats_listen_parse - metrics.listen to a numeric address (as
 * stats_http_start reads it); FALSE with a message naming the value */
struct addrinfo;
gboolean stats_listen_parse(const char *listen, struct addrinfo **ai,
			    GError **error);
/* stats_http_start - serve /metrics on LISTEN ("host:port", "[v6]:port",
 * or "port" for 127.0.0.1) */
gboolean stats_http_start(Stats *s, const char *listen, GError **error);
void stats_http_stop(Stats *s);

#endif
