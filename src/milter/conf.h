/*
 * conf.h - gptmilter.conf: the key table, loading, checking, reference count
 *
 * Owns: every configuration key as one row (name, type, default, bounds,
 * doc), in the spirit of Postfix's parameter tables and Redis's
 * createIntConfig(); reading a libconfig file against that table (unknown
 * keys and out-of-range values are errors, naming file, line and key); the
 * derived Policy; trusted networks as parsed CIDR ranges. A
 * policy.spam_threshold of "model" is kept as CONF_THRESHOLD_MODEL and
 * resolved against the model that scores each message (milter.c), since
 * the configuration and the model are (re)loaded separately.
 *	g_autoptr(MilterConf) conf = conf_load(path, &error);
 *	conf_dump_keys(stdout);        // gptmilter --dump-keys
 * A loaded MilterConf is immutable and refcounted: each message holds a
 * reference, so SIGHUP can swap in a new one while old messages finish.
 * Keys read only at start-up are marked restart-only in the table (as
 * Redis marks IMMUTABLE_CONFIG): a reload keeps their old values
 * (conf_keep_restart_only) and says so.
 * Threads: read-only after conf_load. Errors: conf_load sets error.
 * Checked by: tests/milter/test_conf_docs.sh (table vs conf/gptmilter.conf
 * and man/gptmilter.conf.5.in), tests/milter/test_policy.c.
 */
#ifndef GPTM_MILTER_CONF_H
#define GPTM_MILTER_CONF_H

#include <stdio.h>
#include <glib.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "memory.h"
#include "policy.h"

#ifndef GPTM_SYSCONFDIR
#define GPTM_SYSCONFDIR "/usr/local/etc"
#endif

#define CONF_DEFAULT_PATH GPTM_SYSCONFDIR "/gptmilter.conf"
#define CONF_DEFAULT_MODEL CLASSIFIER_DEFAULT_MODEL
#ifndef GPTM_LOCALSTATEDIR
#define GPTM_LOCALSTATEDIR "/usr/local/var"
#endif
/* where gptmilter-report files reports (src/feedback/feedback.mk) */
#define CONF_DEFAULT_SPOOL GPTM_LOCALSTATEDIR "/lib/gptmilter/feedback"

/* policy.spam_threshold = "model" (the field's value): the threshold the
 * model that scores recommends (gptmilter.threshold in its config.json),
 * else 0.5; resolved by policy_spam_threshold() against each model */
#define CONF_THRESHOLD_MODEL POLICY_THRESHOLD_MODEL

/* One trusted network: family AF_INET or AF_INET6, address, prefix bits. */
typedef struct {
	int family;
	guint8 addr[16];
	int bits;
} ConfNet;

typedef struct MilterConf {
	gint refcount;
	char *path;		/* the file read, or NULL for built-ins */

	char *model;
	char *socket;
	char *socket_mode;
	char *socket_owner;
	char *user;
	char *pidfile;
	char *syslog_facility;
	int workers;
	int batch;
	int queue;
	double timeout;
	int max_scan_bytes;
	int milter_timeout;
	gboolean log_verbose;

	/* policy: the table's rows for reject_threshold, unsure_low,
	 * unsure_high, quarantine, on_error and script_min_ham point into
	 * the Policy itself; what needs resolving or parsing is kept as
	 * written and turned into Policy fields by conf_finish */
	double spam_threshold;	/* CONF_THRESHOLD_MODEL: the model's own;
				 * policy.spam_threshold: the fallback */
	char **label_actions;	/* the text of policy.rules */
	char *reject_text;
	char *subject_tag;
	Policy policy;

	char *hdr_score;
	char *hdr_status;
	char *hdr_flag;

	gboolean skip_authenticated;
	char **trusted_networks;
	ConfNet *nets;
	int n_nets;

	char *metrics_listen;

	char *memory_file;	/* "": no memory */
	char *memory_spool;
	int memory_capacity;
	double memory_scan_interval;
	MemoryPolicy memory;	/* threshold, spam_score, ham_score */
} MilterConf;

/* conf_defaults - a configuration with every key at its default */
MilterConf *conf_defaults(void);
/* conf_load - read PATH over the defaults; NULL and ERROR on any problem */
MilterConf *conf_load(const char *path, GError **error);
/* conf_finish - check cross-key rules and build derived fields; call after
 * changing fields by hand (command-line overrides) */
gboolean conf_finish(MilterConf *c, GError **error);
MilterConf *conf_ref(MilterConf *c);
void conf_unref(MilterConf *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MilterConf, conf_unref)

/* conf_keep_restart_only - copy into NC, from OC, the value of every key
 * marked restart-only (socket, workers, ...: read once at start-up) that
 * differs, so that a reload applies only what it can; returns the names
 * of those keys (NULL-terminated; empty when none changed) */
char **conf_keep_restart_only(MilterConf *nc, const MilterConf *oc);

/* conf_dump_keys - one line per key: name, type, default (for tests/docs) */
void conf_dump_keys(FILE *out);
/* conf_dump - the effective values, in the config file syntax */
void conf_dump(const MilterConf *c, FILE *out);

/* conf_syslog_facility - LOG_MAIL etc. for a name, or -1 */
int conf_syslog_facility(const char *name);

/* conf_trusted - is the address text ADDR (IPv4 or IPv6) in a trusted net */
gboolean conf_trusted(const MilterConf *c, const struct sockaddr *sa);
/* conf_parse_net - "192.0.2.0/24", "2001:db8::/32" or a bare address */
gboolean conf_parse_net(const char *text, ConfNet *net, GError **error);
gboolean conf_net_contains(const ConfNet *net, int family,
			   const guint8 *addr);

#endif
