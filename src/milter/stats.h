/*
 * stats.h - counters for the daemon: actions, errors, latency, scores
 *
 * Owns: what `gptmilter` counts and how it is shown: a summary log line at
 * exit and, when metrics.listen is set, an HTTP endpoint /metrics in the
 * Prometheus text format (libmicrohttpd, its own thread).
 *	stats_record(st, POLICY_TAG, 0.97, 12.5);
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

/* stats_record - one finished message: ACTION, SCORE (< 0: none), wall
 * milliseconds from end of message to verdict */
void stats_record(Stats *s, PolicyAction action, double score,
		  double latency_ms);
void stats_error(Stats *s, StatsError e);
void stats_reload(Stats *s, gboolean ok);
/* stats_unseen_script - a message made Unsure by policy_unseen_script */
void stats_unseen_script(Stats *s);
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
