/*
 * main.c - gptmilter(8): options, start-up, signals, shutdown
 *
 * Owns: the order of start-up, which matters for a daemon that starts as
 * root: close inherited descriptors; read the configuration and check it
 * as -n does (setup.c); load the model (seconds, possibly: before the
 * socket exists, so that no MTA waits on a socket nobody accepts on);
 * open the milter socket (setup.c: mode and owner without following links);
 * detach; write the pid file; drop to `user`; block the signals in every
 * thread to come; start the workers, the metrics endpoint and smfi_main.
 * Signals: SIGHUP, SIGUSR1, SIGUSR2, SIGTERM and SIGINT are blocked in
 * every thread from before the first library initialiser runs (the
 * executable's .preinit_array: OpenBLAS starts its threads when it is
 * loaded, before main(), and a thread inherits the mask of its creator; a
 * reload signal taken by one of them would end the process). Once running:
 *	SIGHUP, SIGUSR1	reload the configuration and the model in a thread
 *			of their own; messages in flight finish with the
 *			ones they started with
 *	SIGTERM, SIGINT	smfi_stop(), let messages under way finish, exit 0
 *	SIGUSR2		logged and ignored
 * libmilter's own signal thread would wait (sigwait) for SIGHUP, SIGTERM
 * and SIGINT and stop the milter on any of them, and Linux gives a
 * process-directed signal to any thread that can take it at that moment:
 * sigpark.c's sigwait() parks that thread for good instead. The main
 * thread keeps SIGHUP, SIGTERM and SIGINT unblocked, with a handler that
 * only notes the signal and writes a byte to a pipe; the main thread reads
 * the pipe and acts. Every other thread blocks them, so one that arrives
 * while the main thread is busy waits, pending, for it (a second SIGHUP
 * merges with a pending one). SIGUSR1 and SIGUSR2 are taken by a thread of
 * ours in sigwaitinfo. A loop that ends without our asking is taken as
 * SIGTERM; a loop that fails exits 1, so that a supervisor restarts the
 * daemon.
 * Errors: before detaching, a clear message on stderr and exit status 1
 * (78 for a bad configuration); afterwards, a log line and the daemon goes
 * on (a missing model makes every message take policy.on_error).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bundle.h"
#include "metrics.h"
#include "milter.h"
#include "setup.h"

#define EX_USAGE_ 64
#define EX_CONFIG_ 78

typedef struct {
	const char *conf_path;
	gboolean foreground;
	gboolean check;
	const char *socket;
	const char *pidfile;
	const char *user;
	int test_delay_ms;	/* --test-delay: each batch sleeps first */
} Options;

static Options opt = { CONF_DEFAULT_PATH, FALSE, FALSE, NULL, NULL, NULL, 0 };
static char *start_dir;		/* relative paths are taken from here */
static gboolean log_to_syslog;
static gboolean log_verbose;
static GThread *smfi_thread;
static GAsyncQueue *reload_requests;	/* 1: reload, 2: stop */

/* Events for the main thread, set from signal handlers and threads: the
 * flag first, then a byte down the pipe to wake the main thread (a full
 * pipe loses the byte, not the event: the main thread is awake anyway). */
static int event_pipe[2] = { -1, -1 };
static volatile sig_atomic_t ev_reload;	/* the signal number */
static volatile sig_atomic_t ev_stop;	/* the signal number */
static volatile sig_atomic_t ev_ended;	/* 1: loop ended, 2: failed */

/* daemon_signals - the signals the daemon handles, blocked everywhere */
static void
daemon_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* block_at_load - block the daemon's signals before any library starts a
 * thread. Run from the executable's .preinit_array, which the dynamic
 * loader calls before the initialisers of the shared libraries (a
 * constructor of ours, whatever its priority, would run after theirs):
 * OpenBLAS starts its threads in its initialiser, and they inherit the
 * mask of the main thread at that moment. */
static void
block_at_load(int argc, char **argv, char **envp)
{
	sigset_t set;

	(void) argc; (void) argv; (void) envp;
	daemon_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}
__attribute__((section(".preinit_array"), used))
static void (*preinit_block_at_load)(int, char **, char **) = block_at_load;

/* note_event - set *FLAG to VALUE and wake the main thread; safe in a
 * signal handler */
static void
note_event(volatile sig_atomic_t *flag, int value)
{
	int saved = errno;

	*flag = value;
	if (write(event_pipe[1], "", 1) < 0) {
		/* EAGAIN: bytes are waiting, the main thread will look */
	}
	errno = saved;
}

/* on_signal - SIGHUP, SIGTERM, SIGINT, on whichever thread takes them */
static void
on_signal(int sig)
{
	note_event(sig == SIGHUP ? &ev_reload : &ev_stop, sig);
}

/* usr_signal_thread - SIGUSR1 (reload) and SIGUSR2 (ignored), taken here
 * so that they never stay pending on the main thread (see the top) */
static gpointer
usr_signal_thread(gpointer data)
{
	sigset_t set;

	(void) data;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		/* sigwaitinfo: this program's sigwait() parks (sigpark.c) */
		int sig = sigwaitinfo(&set, NULL);
		if (sig < 0)
			continue;
		if (sig == SIGUSR1)
			note_event(&ev_reload, sig);
		else
			g_message("signal %d: ignored", sig);
	}
	return NULL;
}

/* log_escape - MSG with its control characters escaped ("\\n", "\\r",
 * "\\t", else "\\xHH"), or NULL when it has none. Log lines carry values
 * from outside (macros such as {auth_authen}, queue ids, addresses): none
 * of them may start a line of its own. */
static char *
log_escape(const char *msg)
{
	const char *p = msg;

	while (*p && (guchar) *p >= 0x20 && *p != 0x7f)
		p++;
	if (*p == '\0')
		return NULL;
	GString *s = g_string_sized_new(strlen(msg) + 16);
	for (p = msg; *p; p++) {
		guchar c = (guchar) *p;
		if (c == '\n')
			g_string_append(s, "\\n");
		else if (c == '\r')
			g_string_append(s, "\\r");
		else if (c == '\t')
			g_string_append(s, "\\t");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(s, "\\x%02x", c);
		else
			g_string_append_c(s, (char) c);
	}
	return g_string_free(s, FALSE);
}

/* log_writer - GLib log records to syslog, or stderr in the foreground;
 * one line each, control characters escaped */
static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
	   gpointer data)
{
	const char *msg = NULL;
	int prio = LOG_INFO;

	(void) data;
	for (gsize i = 0; i < n; i++)
		if (strcmp(fields[i].key, "MESSAGE") == 0)
			msg = fields[i].value;
	if (msg == NULL)
		return G_LOG_WRITER_UNHANDLED;
	g_autofree char *escaped = log_escape(msg);
	if (escaped)
		msg = escaped;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		prio = LOG_ERR;
	else if (level & G_LOG_LEVEL_WARNING)
		prio = LOG_WARNING;
	else if (level & G_LOG_LEVEL_DEBUG) {
		if (!log_verbose)
			return G_LOG_WRITER_HANDLED;
		prio = LOG_DEBUG;
	}
	if (log_to_syslog) {
		syslog(prio, "%s", msg);
	} else {
		g_autoptr(GDateTime) now = g_date_time_new_now_local();
		g_autofree char *ts = g_date_time_format(now, "%H:%M:%S.%f");
		ts[12] = '\0';	/* milliseconds */
		fprintf(stderr, "%s gptmilter[%d]: %s%s\n", ts, (int) getpid(),
			prio == LOG_ERR ? "error: " :
			prio == LOG_WARNING ? "warning: " : "", msg);
	}
	return G_LOG_WRITER_HANDLED;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: gptmilter [-fnV] [-c config] [-p socket] [-P pidfile] "
		"[-u user[:group]]\n"
		"  -c FILE   configuration (default %s)\n"
		"  -f        stay in the foreground, log to stderr\n"
		"  -n        check the configuration and the model, then exit\n"
		"  -p SOCKET milter socket (unix:/path or inet:port@host)\n"
		"  -P FILE   write the process id to FILE\n"
		"  -u USER   run as USER[:GROUP] after opening the socket\n"
		"  -V        print the version and exit\n"
		"  --dump-keys    list the configuration keys and defaults\n"
		"  --dump-config  print the effective configuration\n"
		"  --test-delay=MS  (tests only) every scoring batch sleeps "
		"MS first\n",
		CONF_DEFAULT_PATH);
}

/* load_conf - the file plus the command-line overrides */
static MilterConf *
load_conf(GError **error)
{
	g_autoptr(MilterConf) c = conf_load(opt.conf_path, error);
	if (c == NULL)
		return NULL;
	if (opt.socket) {
		g_free(c->socket);
		c->socket = g_strdup(opt.socket);
	}
	if (opt.pidfile) {
		g_free(c->pidfile);
		c->pidfile = g_strdup(opt.pidfile);
	}
	if (opt.user) {
		g_free(c->user);
		c->user = g_strdup(opt.user);
	}
	/* a daemon's working directory is /: pin relative model, pid file
	 * and memory paths to where we started, for reloads too */
	if (!g_path_is_absolute(c->model)) {
		char *abs = g_canonicalize_filename(c->model, start_dir);
		g_free(c->model);
		c->model = abs;
	}
	char **rel[] = { &c->pidfile, &c->memory_file, &c->memory_spool };
	for (gsize i = 0; i < G_N_ELEMENTS(rel); i++)
		if (**rel[i] && !g_path_is_absolute(*rel[i])) {
			char *abs = g_canonicalize_filename(*rel[i], start_dir);
			g_free(*rel[i]);
			*rel[i] = abs;
		}
	if (!conf_finish(c, error))
		return NULL;
	return g_steal_pointer(&c);
}

/* load_model - the classifier of C, or NULL; *WHY gets the error */
static Classifier *
load_model(const MilterConf *c, double *ms, char **why)
{
	g_autoptr(GError) error = NULL;
	gint64 t0 = g_get_monotonic_time();
	Classifier *cl = classifier_load(c->model, &error);

	*ms = (g_get_monotonic_time() - t0) / 1000.0;
	if (cl == NULL)
		*why = g_strdup(error->message);
	return cl;
}

/* score_reference - the training score histogram that B records
 * (gptmilter.score_histogram: "le", the METRICS_SCORE_BINS upper edges,
 * and "counts") into REF; FALSE without one, with a warning when one is
 * there but unusable (the milter scores on, without a drift figure) */
static gboolean
score_reference(const Bundle *b, double *ref)
{
	g_autoptr(JsonNode) n = bundle_extra_copy(b, "score_histogram");
	const char *why = NULL;

	if (n == NULL)
		return FALSE;
	JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) :
			NULL;
	JsonNode *le = o ? json_object_get_member(o, "le") : NULL;
	JsonNode *counts = o ? json_object_get_member(o, "counts") : NULL;
	if (le == NULL || counts == NULL || !JSON_NODE_HOLDS_ARRAY(le) ||
	    !JSON_NODE_HOLDS_ARRAY(counts)) {
		why = "not an object with arrays \"le\" and \"counts\"";
	} else if (json_array_get_length(json_node_get_array(le)) !=
		   METRICS_SCORE_BINS ||
		   json_array_get_length(json_node_get_array(counts)) !=
		   METRICS_SCORE_BINS) {
		why = "not " G_STRINGIFY(METRICS_SCORE_BINS) " bins";
	} else {
		JsonArray *la = json_node_get_array(le);
		JsonArray *ca = json_node_get_array(counts);
		for (int i = 0; i < METRICS_SCORE_BINS && why == NULL; i++) {
			JsonNode *e = json_array_get_element(la, i);
			JsonNode *c = json_array_get_element(ca, i);
			if (json_node_get_value_type(e) != G_TYPE_DOUBLE &&
			    json_node_get_value_type(e) != G_TYPE_INT64)
				why = "an edge is not a number";
			else if (fabs(json_node_get_double(e) -
				      (i + 1.0) / METRICS_SCORE_BINS) > 1e-9)
				why = "edges other than 0.1, 0.2, .. 1";
			else if (json_node_get_value_type(c) != G_TYPE_INT64 ||
				 json_node_get_int(c) < 0)
				why = "a count is not a whole number >= 0";
			else
				ref[i] = (double) json_node_get_int(c);
		}
	}
	if (why) {
		g_warning("model %s: gptmilter.score_histogram: %s; no drift "
			  "figure (gptmilter_score_psi)", b->name, why);
		return FALSE;
	}
	return TRUE;
}

/* model_to_stats - tell the counters which model scores now */
static void
model_to_stats(const Classifier *cl)
{
	const Bundle *b = classifier_bundle(cl);
	g_autofree char *cfg = g_build_filename(b->dir, "config.json", NULL);
	GStatBuf st;
	double ref[METRICS_SCORE_BINS];

	gint64 mtime = g_stat(cfg, &st) == 0 ? (gint64) st.st_mtime : 0;
	gboolean has_ref = score_reference(b, ref);
	stats_set_model(milter.stats, b->name, b->dir, mtime,
			has_ref ? ref : NULL);
}

/* threshold_conflict - a warning when T, the spam threshold in force
 * (from SRC), is above a reject threshold that can fire, else NULL. Not
 * a configuration error (the policy is well defined: reject wins), and
 * with "model" it depends on the model, so it is checked at each load. */
static char *
threshold_conflict(const MilterConf *c, double t, PolicyThresholdSource src)
{
	if (!policy_threshold_conflict(t, c->policy.reject_threshold))
		return NULL;
	return g_strdup_printf("policy.spam_threshold %.4g%s is above "
			       "policy.reject_threshold %.4g: every score "
			       "from %.4g up is rejected (or quarantined) "
			       "and none is only tagged", t, policy_threshold_source_text(src),
			       c->policy.reject_threshold,
			       c->policy.reject_threshold);
}

/* log_model - one line about the model just loaded (or not), and the
 * spam threshold it brings */
static void
log_model(const char *when, const MilterConf *c, const Classifier *cl,
	  double ms, const char *why)
{
	if (cl == NULL) {
		g_critical("%s: cannot load the model: %s", when, why);
		return;
	}
	const Bundle *b = classifier_bundle(cl);
	g_autofree char *labels = g_strjoinv(",", b->labels);
	PolicyThresholdSource src;
	double t = milter_spam_threshold(c, cl, &src);
	g_message("%s: model %s (%s): %d layers, %d labels (%s), max_tokens "
		  "%d, loaded in %.0f ms; spam threshold %.4g%s", when, b->name,
		  c->model, b->gpt.n_layer, classifier_num_labels(cl), labels,
		  classifier_max_tokens(cl), ms, t,
		  policy_threshold_source_text(src));
	g_autofree char *conflict = threshold_conflict(c, t, src);
	if (conflict)
		g_warning("%s: %s", when, conflict);
}

/* reload - new configuration and model; on any failure keep the old */
static void
reload(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MilterConf) nc = load_conf(&error);
	g_autoptr(MilterConf) oc = milter_conf();

	if (nc == NULL) {
		g_critical("reload: %s; keeping the old configuration and "
			   "model", error->message);
		stats_reload(milter.stats, FALSE);
		return;
	}
	/* a key that only start-up reads (conf.c marks them) keeps its old
	 * value, so that the configuration in force is the one running */
	g_auto(GStrv) kept = conf_keep_restart_only(nc, oc);
	if (kept[0] != NULL) {
		g_autofree char *names = g_strjoinv(", ", kept);
		g_warning("reload: %s changed: restart to apply; keeping the "
			  "old value", names);
	}
	double ms;
	g_autofree char *why = NULL;
	Classifier *cl = load_model(nc, &ms, &why);
	log_model("reload", nc, cl, ms, why);
	if (cl) {
		model_to_stats(cl);
		pool_set_classifier(milter.pool, cl);
		classifier_unref(cl);
	} else {
		/* The new policy applies to the old model: say what that
		 * makes the threshold in force (it may have changed). */
		g_autoptr(Classifier) old = pool_get_classifier(milter.pool);
		PolicyThresholdSource src;
		double t = milter_spam_threshold(nc, old, &src);
		g_critical("reload: keeping the old model %s; spam threshold "
			   "%.4g%s", old ? classifier_bundle(old)->name :
			   "(none)", t, policy_threshold_source_text(src));
	}
	milter_set_conf(nc);
	/* after the pool has the new model: the memory follows it */
	intake_configure(milter.intake, nc);
	log_verbose = nc->log_verbose;
	stats_reload(milter.stats, cl != NULL);
	g_message("reload: configuration %s applied", opt.conf_path);
}

/* reload_thread - reloads, one at a time, requests coalesced; 2 ends it */
static gpointer
reload_thread(gpointer data)
{
	(void) data;
	for (;;) {
		int req = GPOINTER_TO_INT(g_async_queue_pop(reload_requests));
		while (req == 1) {	/* take every pending request at once */
			gpointer more = g_async_queue_try_pop(reload_requests);
			if (more == NULL)
				break;
			req = GPOINTER_TO_INT(more);
		}
		if (req != 1)
			return NULL;
		reload();
	}
}

/* smfi_main_thread - libmilter's accept loop; tells main when it ends */
static gpointer
smfi_main_thread(gpointer data)
{
	sigset_t set;

	(void) data;
	/* created after the main thread unblocked its signals: this thread
	 * and libmilter's, which inherit its mask, take none */
	daemon_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int r = smfi_main();
	if (r != MI_SUCCESS)
		g_critical("smfi_main failed");
	note_event(&ev_ended, r == MI_SUCCESS ? 1 : 2);
	return GINT_TO_POINTER(r);
}

static gpointer
stop_thread(gpointer data)
{
	sigset_t set;

	(void) data;
	daemon_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	smfi_stop();
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dump-keys", no_argument, NULL, 'K' },
		{ "dump-config", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "test-delay", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	gboolean dump_config = FALSE;
	int ch;

	setup_close_inherited_fds();

	while ((ch = getopt_long(argc, argv, "c:fnp:P:u:Vh", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'c': opt.conf_path = optarg; break;
		case 'f': opt.foreground = TRUE; break;
		case 'n': opt.check = TRUE; break;
		case 'p': opt.socket = optarg; break;
		case 'P': opt.pidfile = optarg; break;
		case 'u': opt.user = optarg; break;
		case 'D': dump_config = TRUE; break;
		case 'T': {
			char *end = NULL;
			long ms = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || ms < 0 ||
			    ms > 600000) {
				fprintf(stderr, "gptmilter: --test-delay %s: "
					"expected milliseconds 0 .. 600000\n",
					optarg);
				return EX_USAGE_;
			}
			opt.test_delay_ms = (int) ms;
			break;
		}
		case 'K':
			conf_dump_keys(stdout);
			return 0;
		case 'V': {
			unsigned maj = 0, min = 0, pl = 0;
			smfi_version(&maj, &min, &pl);
			printf("gptmilter %s (libmilter %u.%u.%u)\n",
			       PACKAGE_VERSION, maj, min, pl);
			return 0;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE_;
	}
	if (opt.check || dump_config) {
		/* not a daemon: the signals keep their default actions */
		sigset_t set;
		daemon_signals(&set);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}

	start_dir = g_get_current_dir();
	opt.conf_path = g_canonicalize_filename(opt.conf_path, start_dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(MilterConf) conf = load_conf(&error);
	if (conf == NULL) {
		fprintf(stderr, "gptmilter: %s\n", error->message);
		return EX_CONFIG_;
	}
	int facility = conf_syslog_facility(conf->syslog_facility);
	if (dump_config) {
		conf_dump(conf, stdout);
		return 0;
	}
	log_verbose = conf->log_verbose;
	g_log_set_writer_func(log_writer, NULL, NULL);
	/* what start-up would refuse, -n refuses too (ExecStartPre) */
	if (!setup_check(conf, &error)) {
		fprintf(stderr, "gptmilter: %s: %s\n", opt.conf_path,
			error->message);
		return EX_CONFIG_;
	}
	g_autoptr(GPtrArray) risks = setup_risks(conf);
	if (opt.check) {
		for (guint i = 0; i < risks->len; i++)
			fprintf(stderr, "gptmilter: warning: %s: %s\n",
				opt.conf_path, (char *) risks->pdata[i]);
		g_autoptr(Classifier) cl = classifier_load(conf->model, &error);
		if (cl == NULL) {
			fprintf(stderr, "gptmilter: %s: configuration OK, but "
				"the model cannot be loaded: %s\n",
				opt.conf_path, error->message);
			return 1;
		}
		const Bundle *b = classifier_bundle(cl);
		g_autofree char *labels = g_strjoinv(",", b->labels);
		PolicyThresholdSource src;
		double t = milter_spam_threshold(conf, cl, &src);
		printf("gptmilter: %s: configuration OK; model %s (%s): %d "
		       "labels (%s), max_tokens %d; spam threshold %.4g%s\n",
		       opt.conf_path, b->name, conf->model,
		       classifier_num_labels(cl), labels,
		       classifier_max_tokens(cl), t,
		       policy_threshold_source_text(src));
		g_autofree char *conflict = threshold_conflict(conf, t, src);
		if (conflict)	/* allowed, as at start-up: exit 0 */
			fprintf(stderr, "gptmilter: warning: %s: %s\n",
				opt.conf_path, conflict);
		return 0;
	}

	/* the model first: loading can take seconds, and an MTA that finds
	 * the socket open meanwhile would wait on it */
	double load_ms;
	g_autofree char *load_why = NULL;
	g_autoptr(Classifier) cl = load_model(conf, &load_ms, &load_why);

	SetupSocket sock;
	if (!setup_open_socket(conf, &sock, &error)) {
		fprintf(stderr, "gptmilter: %s\n", error->message);
		return 1;
	}
	if (!opt.foreground) {
		if (daemon(0, 0) != 0) {
			fprintf(stderr, "gptmilter: daemon: %s\n",
				g_strerror(errno));
			return 1;
		}
		log_to_syslog = TRUE;
		openlog("gptmilter", LOG_PID, facility);
	}
	if (*conf->pidfile && !setup_write_pidfile(conf->pidfile, &error)) {
		g_critical("pid file: %s", error->message);
		return 1;
	}
	if (!setup_drop_privileges(conf, &error)) {
		g_critical("%s", error->message);
		return 1;
	}

	/* the daemon's signals have been blocked since load (block_at_load):
	 * every thread started below inherits that */
	signal(SIGPIPE, SIG_IGN);
	if (!g_unix_open_pipe(event_pipe, FD_CLOEXEC, &error) ||
	    !g_unix_set_fd_nonblocking(event_pipe[1], TRUE, &error)) {
		g_critical("signal pipe: %s", error->message);
		return 1;
	}

	g_mutex_init(&milter.lock);
	milter_conn_room();
	milter.stats = stats_new();
	milter_set_conf(conf);
	milter.pool = pool_new(conf->workers, conf->batch, conf->queue);
	if (opt.test_delay_ms > 0) {
		pool_set_test_delay(milter.pool, opt.test_delay_ms);
		g_warning("start: --test-delay %d: every batch sleeps %d ms "
			  "first (for tests only)", opt.test_delay_ms,
			  opt.test_delay_ms);
	}
	for (guint i = 0; i < risks->len; i++)
		g_warning("start: %s", (char *) risks->pdata[i]);
	log_model("start", conf, cl, load_ms, load_why);
	if (cl == NULL)
		g_critical("start: running without a model: every message "
			   "gets policy.on_error (%s) until a reload "
			   "succeeds",
			   policy_action_name(conf->policy.on_error));
	if (cl)
		model_to_stats(cl);
	pool_set_classifier(milter.pool, cl);
	g_clear_pointer(&cl, classifier_unref);	/* the pool has its own */
	milter.intake = intake_new(milter.pool, milter.stats);
	intake_configure(milter.intake, conf);
	if (*conf->metrics_listen) {
		if (!stats_http_start(milter.stats, conf->metrics_listen,
				      &error)) {
			g_critical("%s", error->message);
			g_clear_error(&error);
		} else {
			g_message("metrics on http://%s/metrics",
				  conf->metrics_listen);
		}
	}
	g_message("listening on %s, %d workers, batch %d, pid %d",
		  conf->socket, conf->workers, conf->batch, (int) getpid());

	reload_requests = g_async_queue_new();
	GThread *reloader = g_thread_new("gptm-reload", reload_thread, NULL);
	g_thread_unref(g_thread_new("gptm-sigusr", usr_signal_thread, NULL));

	/* From here the main thread takes SIGHUP, SIGTERM and SIGINT (see
	 * the top); SA_NODEFER keeps them unblocked while the handler runs.
	 * Signals that arrived since start-up are delivered now. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	smfi_thread = g_thread_new("gptm-smfi", smfi_main_thread, NULL);
	int status = 0;
	for (;;) {
		char drain[64];
		int sig;
		if (read(event_pipe[0], drain, sizeof(drain)) < 0 &&
		    errno != EINTR) {
			g_critical("signal pipe: %s; stopping",
				   g_strerror(errno));
			status = 1;
		} else if ((sig = ev_stop) != 0) {
			g_message("signal %d: stopping after the messages in "
				  "flight", sig);
		} else if (ev_ended == 1) {
			/* only a stop signal reaches libmilter (see the top) */
			g_message("the milter loop ended (libmilter took the "
				  "stop signal): stopping after the messages "
				  "in flight");
		} else if (ev_ended == 2) {
			g_critical("the milter loop failed: stopping");
			status = 1;	/* so that a supervisor restarts us */
		} else {
			/* cleared before the reload starts: a signal from
			 * now on asks for one more */
			if ((sig = ev_reload) != 0) {
				ev_reload = 0;
				g_message("signal %d: reloading", sig);
				g_async_queue_push(reload_requests,
						   GINT_TO_POINTER(1));
			}
			continue;
		}
		break;
	}
	g_async_queue_push(reload_requests, GINT_TO_POINTER(2));
	g_thread_join(reloader);
	/* messages under way first: libmilter's accept loop, once ended,
	 * drops the connections it still has */
	milter_close(conf->timeout + 5);
	/* smfi_stop waits for the accept loop's lock, held across a select
	 * of up to 5 s: call it aside, do not wait; the loop is not joined */
	g_thread_unref(g_thread_new("gptm-stop", stop_thread, NULL));
	/* libmilter does not wait for its session threads: they may still
	 * call back (and get a tempfail), so the conf and the stats stay */
	intake_free(milter.intake);	/* it scores with the pool's model */
	milter.intake = NULL;
	pool_free(milter.pool);
	milter.pool = NULL;
	stats_http_stop(milter.stats);
	g_autofree char *summary = stats_summary(milter.stats);
	g_message("%s", summary);
	setup_cleanup(&sock, conf->pidfile);
	g_message("stopped");
	return status;
}
