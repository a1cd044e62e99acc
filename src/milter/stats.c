/*
 * stats.c - counters, histograms and the /metrics endpoint
 *
 * Owns: the numbers behind `gptmilter_*` metrics. Histograms use fixed
 * buckets (Prometheus "le" semantics: a count of observations <= bound),
 * kept per bucket and summed when shown. Drift: the scores of the last
 * 24 hours in 24 hourly slots (bounded: 24 x 10 counts, a slot reused when
 * its hour has passed), compared with the running model's training
 * histogram by metrics_psi.
 * Not here: when to count (milter.c).
 * Threads: one GMutex guards everything; updates are a few adds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "stats.h"

static const double latency_bounds[] = {	/* seconds */
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};
#define N_LAT G_N_ELEMENTS(latency_bounds)
#define N_SCORE METRICS_SCORE_BINS	/* buckets 0.1, 0.2, .. 1.0 */
#define N_SLOTS 24		/* hours in the drift window */
#define N_STATUS 3		/* PolicyStatus: ham, unsure, spam */

static const char *const status_names[N_STATUS] = {
	[POLICY_STATUS_HAM] = "ham",
	[POLICY_STATUS_UNSURE] = "unsure",
	[POLICY_STATUS_SPAM] = "spam",
};

/* One hour of the drift window. */
typedef struct {
	gint64 hour;		/* hours since the epoch; 0: never used */
	guint64 n[N_SCORE];
} ScoreSlot;

/* A script's spam-scored messages, kept and made Unsure. */
typedef struct {
	guint64 spam, unsure;
} ScriptCount;

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
	guint64 memory_hits[2];	/* by MemoryLabel: ham, spam */
	int memory_entries, memory_capacity;
	guint64 status[N_STATUS];
	GHashTable *scripts;	/* code -> ScriptCount; ISO 15924 bounds it */
	char *model_name, *model_dir;
	gint64 model_mtime;	/* 0: no model yet */
	gboolean has_ref;
	double ref[N_SCORE];	/* the model's training histogram */
	ScoreSlot slots[N_SLOTS];
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
	s->scripts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   g_free);
	return s;
}

void
stats_free(Stats *s)
{
	if (s == NULL)
		return;
	stats_http_stop(s);
	g_hash_table_destroy(s->scripts);
	g_free(s->model_name);
	g_free(s->model_dir);
	g_mutex_clear(&s->lock);
	g_free(s);
}

/* stats_record - one message */
void
stats_record(Stats *s, PolicyAction action, int status, double score,
	     double latency_ms)
{
	double sec = latency_ms / 1000.0;
	gsize b = 0;

	while (b < N_LAT && sec > latency_bounds[b])
		b++;
	g_mutex_lock(&s->lock);
	if ((int) action >= 0 && action < POLICY_N_ACTIONS)
		s->actions[action]++;
	if (status >= 0 && status < N_STATUS)
		s->status[status]++;
	if (latency_ms >= 0) {
		s->lat[b]++;
		s->lat_sum += sec;
		s->lat_count++;
	}
	if (score >= 0) {
		int sb = metrics_score_bin(score);
		gint64 hour = g_get_real_time() / G_TIME_SPAN_HOUR;
		ScoreSlot *slot = &s->slots[hour % N_SLOTS];
		s->score[sb]++;
		s->score_sum += score;
		s->score_count++;
		if (slot->hour != hour) {
			memset(slot, 0, sizeof(*slot));
			slot->hour = hour;
		}
		slot->n[sb]++;
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

void
stats_memory_hit(Stats *s, int label)
{
	g_mutex_lock(&s->lock);
	s->memory_hits[label ? 1 : 0]++;
	g_mutex_unlock(&s->lock);
}

void
stats_memory_size(Stats *s, int entries, int capacity)
{
	g_mutex_lock(&s->lock);
	s->memory_entries = entries;
	s->memory_capacity = capacity;
	g_mutex_unlock(&s->lock);
}

/* stats_script - see stats.h */
void
stats_script(Stats *s, const char *script, gboolean unsure)
{
	g_mutex_lock(&s->lock);
	ScriptCount *c = g_hash_table_lookup(s->scripts, script);
	if (c == NULL) {
		c = g_new0(ScriptCount, 1);
		g_hash_table_insert(s->scripts, g_strdup(script), c);
	}
	if (unsure) {
		c->unsure++;
		s->unseen_script++;
	} else {
		c->spam++;
	}
	g_mutex_unlock(&s->lock);
}

/* stats_set_model - see stats.h */
void
stats_set_model(Stats *s, const char *name, const char *dir, gint64 mtime,
		const double *reference)
{
	g_mutex_lock(&s->lock);
	if (s->model_dir == NULL || strcmp(dir, s->model_dir) != 0 ||
	    mtime != s->model_mtime)
		memset(s->slots, 0, sizeof(s->slots));
	g_free(s->model_name);
	g_free(s->model_dir);
	s->model_name = g_strdup(name);
	s->model_dir = g_strdup(dir);
	s->model_mtime = mtime;
	s->has_ref = reference != NULL;
	if (reference)
		memcpy(s->ref, reference, sizeof(s->ref));
	g_mutex_unlock(&s->lock);
}

/* append_label_value - TEXT escaped for a Prometheus label value (\\, \", \n) */
static void
append_label_value(GString *o, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\\' || *p == '"')
			g_string_append_c(o, '\\');
		if (*p == '\n')
			g_string_append(o, "\\n");
		else
			g_string_append_c(o, *p);
	}
}

/* prometheus_model - model info, age and drift (lock held) */
static void
prometheus_model(Stats *s, GString *o)
{
	double win[N_SCORE] = { 0 }, n = 0;
	gint64 now_h = g_get_real_time() / G_TIME_SPAN_HOUR;

	for (int i = 0; i < N_SLOTS; i++) {
		const ScoreSlot *slot = &s->slots[i];
		if (slot->hour == 0 || slot->hour <= now_h - N_SLOTS)
			continue;
		for (int b = 0; b < N_SCORE; b++) {
			win[b] += slot->n[b];
			n += slot->n[b];
		}
	}
	g_string_append_printf(o,
		"# HELP gptmilter_score_window_messages Scored messages in the "
		"drift window (the last 24 hours of this model).\n"
		"# TYPE gptmilter_score_window_messages gauge\n"
		"gptmilter_score_window_messages %.0f\n", n);
	if (s->model_name == NULL)
		return;
	g_string_append(o, "# HELP gptmilter_model_info The model scoring "
			"mail (value 1).\n# TYPE gptmilter_model_info gauge\n"
			"gptmilter_model_info{name=\"");
	append_label_value(o, s->model_name);
	g_string_append(o, "\",dir=\"");
	append_label_value(o, s->model_dir);
	g_string_append_printf(o, "\",reference=\"%s\"} 1\n",
			       s->has_ref ? "yes" : "no");
	g_string_append_printf(o,
		"# HELP gptmilter_model_age_seconds Seconds since the model's "
		"config.json was written.\n"
		"# TYPE gptmilter_model_age_seconds gauge\n"
		"gptmilter_model_age_seconds %" G_GINT64_FORMAT "\n",
		g_get_real_time() / G_USEC_PER_SEC - s->model_mtime);
	double psi = s->has_ref ? metrics_psi(s->ref, win, N_SCORE) : NAN;
	if (isnan(psi))
		return;		/* no reference or no score yet: no figure */
	g_string_append_printf(o,
		"# HELP gptmilter_score_psi Population stability index of the "
		"drift window's scores against the model's training "
		"histogram.\n# TYPE gptmilter_score_psi gauge\n"
		"gptmilter_score_psi %.6f\n", psi);
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
	g_string_append_printf(o,
		"# HELP gptmilter_memory_hits_total Messages whose score a "
		"close match to a reported message changed (memory.*), by the "
		"report's label.\n"
		"# TYPE gptmilter_memory_hits_total counter\n"
		"gptmilter_memory_hits_total{label=\"ham\"} %" G_GUINT64_FORMAT
		"\ngptmilter_memory_hits_total{label=\"spam\"} %"
		G_GUINT64_FORMAT "\n"
		"# HELP gptmilter_memory_entries Reports in the instant memory.\n"
		"# TYPE gptmilter_memory_entries gauge\n"
		"gptmilter_memory_entries %d\n"
		"# HELP gptmilter_memory_capacity Most reports it keeps (0: "
		"off).\n# TYPE gptmilter_memory_capacity gauge\n"
		"gptmilter_memory_capacity %d\n",
		s->memory_hits[0], s->memory_hits[1], s->memory_entries,
		s->memory_capacity);
	g_string_append(o, "# HELP gptmilter_verdicts_total Scored messages "
			"by verdict (X-Spam-Status: No, Unsure, Yes).\n"
			"# TYPE gptmilter_verdicts_total counter\n");
	for (int v = 0; v < N_STATUS; v++)
		g_string_append_printf(o,
			"gptmilter_verdicts_total{verdict=\"%s\"} %"
			G_GUINT64_FORMAT "\n", status_names[v], s->status[v]);
	g_string_append(o, "# HELP gptmilter_script_total Spam-scored "
			"messages by dominant script, kept spam or made Unsure "
			"(policy.script_min_ham).\n"
			"# TYPE gptmilter_script_total counter\n");
	g_autoptr(GList) names = g_hash_table_get_keys(s->scripts);
	names = g_list_sort(names, (GCompareFunc) strcmp);
	for (GList *l = names; l; l = l->next) {
		const ScriptCount *c = g_hash_table_lookup(s->scripts, l->data);
		g_string_append(o, "gptmilter_script_total{script=\"");
		append_label_value(o, l->data);
		g_string_append_printf(o, "\",verdict=\"spam\"} %"
			G_GUINT64_FORMAT "\n", c->spam);
		g_string_append(o, "gptmilter_script_total{script=\"");
		append_label_value(o, l->data);
		g_string_append_printf(o, "\",verdict=\"unsure\"} %"
			G_GUINT64_FORMAT "\n", c->unsure);
	}
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
	prometheus_model(s, o);
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
