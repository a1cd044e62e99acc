/*
 * stats.c - counters, histograms and the /metrics endpoint
 *
 * Owns: the numbers behind `gptmilter_*` metrics. Histograms use fixed
 * buckets (Prometheus "le" semantics: a count of observations <= bound),
 * kept per bucket and summed when shown.
 * Not here: when to count (milter.c).
 * Threads: one GMutex guards everything; updates are a few adds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stats.h"

static const double latency_bounds[] = {	/* seconds */
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};
#define N_LAT G_N_ELEMENTS(latency_bounds)
#define N_SCORE 10		/* buckets 0.1, 0.2, .. 1.0 */

static const char *const error_names[STATS_ERR_N] = {
	[STATS_ERR_MODEL] = "model",
	[STATS_ERR_QUEUE] = "queue_full",
	[STATS_ERR_TIMEOUT] = "timeout",
	[STATS_ERR_MILTER] = "milter",
};

struct Stats {
	GMutex lock;
	gint64 start_us;
	guint64 actions[POLICY_N_ACTIONS];
	guint64 errors[STATS_ERR_N];
	guint64 reloads, reload_failures;
	guint64 unseen_script;
	guint64 lat[N_LAT + 1];	/* last: +Inf */
	double lat_sum;
	guint64 lat_count;
	guint64 score[N_SCORE];
	double score_sum;
	guint64 score_count;
	struct MHD_Daemon *http;
};

Stats *
stats_new(void)
{
	Stats *s = g_new0(Stats, 1);
	g_mutex_init(&s->lock);
	s->start_us = g_get_monotonic_time();
	return s;
}

void
stats_free(Stats *s)
{
	if (s == NULL)
		return;
	stats_http_stop(s);
	g_mutex_clear(&s->lock);
	g_free(s);
}

/* stats_record - one message */
void
stats_record(Stats *s, PolicyAction action, double score, double latency_ms)
{
	double sec = latency_ms / 1000.0;
	gsize b = 0;

	while (b < N_LAT && sec > latency_bounds[b])
		b++;
	g_mutex_lock(&s->lock);
	if ((int) action >= 0 && action < POLICY_N_ACTIONS)
		s->actions[action]++;
	if (latency_ms >= 0) {
		s->lat[b]++;
		s->lat_sum += sec;
		s->lat_count++;
	}
	if (score >= 0) {
		int sb = (int) (score * N_SCORE - 1e-9);
		s->score[CLAMP(sb, 0, N_SCORE - 1)]++;
		s->score_sum += score;
		s->score_count++;
	}
	g_mutex_unlock(&s->lock);
}

void
stats_error(Stats *s, StatsError e)
{
	g_mutex_lock(&s->lock);
	s->errors[e]++;
	g_mutex_unlock(&s->lock);
}

/* stats_unseen_script - one message made Unsure by its script */
void
stats_unseen_script(Stats *s)
{
	g_mutex_lock(&s->lock);
	s->unseen_script++;
	g_mutex_unlock(&s->lock);
}

void
stats_reload(Stats *s, gboolean ok)
{
	g_mutex_lock(&s->lock);
	if (ok)
		s->reloads++;
	else
		s->reload_failures++;
	g_mutex_unlock(&s->lock);
}

/* stats_prometheus - text format 0.0.4 */
GString *
stats_prometheus(Stats *s)
{
	GString *o = g_string_sized_new(4096);
	guint64 cum = 0;

	g_mutex_lock(&s->lock);
	g_string_append(o, "# HELP gptmilter_messages_total Messages by action.\n"
			"# TYPE gptmilter_messages_total counter\n");
	for (int a = 0; a < POLICY_N_ACTIONS; a++)
		g_string_append_printf(o,
			"gptmilter_messages_total{action=\"%s\"} %" G_GUINT64_FORMAT "\n",
			policy_action_name(a), s->actions[a]);
	g_string_append(o, "# HELP gptmilter_errors_total Messages that got "
			"policy.on_error, by cause.\n"
			"# TYPE gptmilter_errors_total counter\n");
	for (int e = 0; e < STATS_ERR_N; e++)
		g_string_append_printf(o,
			"gptmilter_errors_total{cause=\"%s\"} %" G_GUINT64_FORMAT "\n",
			error_names[e], s->errors[e]);
	g_string_append_printf(o,
		"# HELP gptmilter_reloads_total Configuration reloads.\n"
		"# TYPE gptmilter_reloads_total counter\n"
		"gptmilter_reloads_total{result=\"ok\"} %" G_GUINT64_FORMAT "\n"
		"gptmilter_reloads_total{result=\"failed\"} %" G_GUINT64_FORMAT "\n",
		s->reloads, s->reload_failures);
	g_string_append_printf(o,
		"# HELP gptmilter_unseen_script_total Messages the score made "
		"spam, kept Unsure: their script had too few training ham.\n"
		"# TYPE gptmilter_unseen_script_total counter\n"
		"gptmilter_unseen_script_total %" G_GUINT64_FORMAT "\n",
		s->unseen_script);
	g_string_append(o, "# HELP gptmilter_latency_seconds End of message to "
			"verdict.\n# TYPE gptmilter_latency_seconds histogram\n");
	for (gsize b = 0; b < N_LAT; b++) {
		cum += s->lat[b];
		g_string_append_printf(o,
			"gptmilter_latency_seconds_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n",
			latency_bounds[b], cum);
	}
	cum += s->lat[N_LAT];
	g_string_append_printf(o,
		"gptmilter_latency_seconds_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n"
		"gptmilter_latency_seconds_sum %.6f\n"
		"gptmilter_latency_seconds_count %" G_GUINT64_FORMAT "\n",
		cum, s->lat_sum, s->lat_count);
	g_string_append(o, "# HELP gptmilter_score Spam probability of scored "
			"messages.\n# TYPE gptmilter_score histogram\n");
	cum = 0;
	for (int b = 0; b < N_SCORE; b++) {
		cum += s->score[b];
		g_string_append_printf(o,
			"gptmilter_score_bucket{le=\"%.1f\"} %" G_GUINT64_FORMAT "\n",
			(b + 1) / (double) N_SCORE, cum);
	}
	g_string_append_printf(o,
		"gptmilter_score_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n"
		"gptmilter_score_sum %.6f\n"
		"gptmilter_score_count %" G_GUINT64_FORMAT "\n",
		cum, s->score_sum, s->score_count);
	g_string_append_printf(o,
		"# HELP gptmilter_uptime_seconds Seconds since start.\n"
		"# TYPE gptmilter_uptime_seconds gauge\n"
		"gptmilter_uptime_seconds %.0f\n",
		(g_get_monotonic_time() - s->start_us) / 1e6);
	g_mutex_unlock(&s->lock);
	return o;
}

/* stats_summary - "accept=N tag=N ... errors=N" */
char *
stats_summary(Stats *s)
{
	GString *o = g_string_new("totals:");
	guint64 errors = 0;

	g_mutex_lock(&s->lock);
	for (int a = 0; a < POLICY_N_ACTIONS; a++)
		g_string_append_printf(o, " %s=%" G_GUINT64_FORMAT,
				       policy_action_name(a), s->actions[a]);
	for (int e = 0; e < STATS_ERR_N; e++)
		errors += s->errors[e];
	g_string_append_printf(o, " errors=%" G_GUINT64_FORMAT
			       " reloads=%" G_GUINT64_FORMAT, errors, s->reloads);
	if (s->lat_count)
		g_string_append_printf(o, " mean_latency=%.1fms",
				       1000 * s->lat_sum / s->lat_count);
	g_mutex_unlock(&s->lock);
	return g_string_free(o, FALSE);
}

static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
	     const char *method, const char *version, const char *upload,
	     size_t *upload_size, void **con_cls)
{
	Stats *s = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned code = MHD_HTTP_OK;

	(void) version; (void) upload; (void) upload_size; (void) con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char msg[] = "method not allowed\n";
		r = MHD_create_response_from_buffer(strlen(msg), (void *) msg,
						    MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		static const char msg[] = "not found: try /metrics\n";
		r = MHD_create_response_from_buffer(strlen(msg), (void *) msg,
						    MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_NOT_FOUND;
	} else {
		GString *text = stats_prometheus(s);
		r = MHD_create_response_from_buffer(text->len, text->str,
						    MHD_RESPMEM_MUST_COPY);
		g_string_free(text, TRUE);
		MHD_add_response_header(r, "Content-Type",
					"text/plain; version=0.0.4");
	}
	if (r == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* stats_listen_parse - metrics.listen to one numeric address (the form
 * start-up binds, checked by `gptmilter -n` too); free with freeaddrinfo */
gboolean
stats_listen_parse(const char *listen, struct addrinfo **ai, GError **error)
{
	g_autofree char *host = NULL, *port = NULL;
	const char *colon = strrchr(listen, ':');

	*ai = NULL;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		host = g_strndup(listen + 1, close - listen - 1);
		port = g_strdup(close + 2);
	} else if (colon) {
		host = g_strndup(listen, colon - listen);
		port = g_strdup(colon + 1);
	} else {
		host = g_strdup("127.0.0.1");
		port = g_strdup(listen);
	}
	if (*host == '\0') {
		g_free(host);
		host = g_strdup("127.0.0.1");
	}
	guint64 n;
	if (!g_ascii_string_to_unsigned(port, 10, 1, 65535, &n, NULL))
		goto bad;

	struct addrinfo hints = { 0 };
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, ai) != 0 || *ai == NULL)
		goto bad;
	return TRUE;
bad:
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		    "metrics.listen = \"%s\": expected host:port, [v6]:port "
		    "or port (numeric address, port 1 .. 65535)", listen);
	return FALSE;
}

/* stats_http_start - bind the address ourselves (so that an error names
 * it, with errno: libmicrohttpd reports "port 0" for an address given as
 * a sockaddr), then libmicrohttpd with its own polling thread */
gboolean
stats_http_start(Stats *s, const char *spec, GError **error)
{
	struct addrinfo *ai = NULL;
	int one = 1;

	if (!stats_listen_parse(spec, &ai, error))
		return FALSE;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, 16) != 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "metrics.listen = \"%s\": cannot listen: %s",
			    spec, g_strerror(e));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return FALSE;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	freeaddrinfo(ai);
	s->http = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, s,
				   MHD_OPTION_LISTEN_SOCKET, fd,
				   MHD_OPTION_CONNECTION_LIMIT, 16u,
				   MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				   MHD_OPTION_END);
	if (s->http == NULL) {
		close(fd);
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "metrics.listen = \"%s\": libmicrohttpd did not "
			    "start", spec);
		return FALSE;
	}
	return TRUE;
}

void
stats_http_stop(Stats *s)
{
	if (s->http) {
		MHD_stop_daemon(s->http);
		s->http = NULL;
	}
}
