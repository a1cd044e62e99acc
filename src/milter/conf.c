/*
 * conf.c - gptmilter.conf: the key table and its loader
 *
 * Owns: the table below, the one place where a key gets its name, type,
 * default, bounds, one-line documentation and whether a reload may change
 * it (CONF_RESTART: conf_keep_restart_only). Defaults are written in the
 * configuration syntax itself and parsed by the same code as the file, so
 * the sample file, the man page and `gptmilter --dump-keys` cannot disagree
 * with the code without tests/milter/test_conf_docs.sh noticing.
 * Not here: what the keys do (milter.c, pool.c, policy.c, main.c).
 * Errors: conf_load() names the file, the line and the key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "gptm_error.h"
#include "scripts.h"

/* K_THRESHOLD: a K_FLOAT that may also be the string "model";
 * K_ONERROR: "accept", "tempfail" or "reject", kept as a PolicyAction */
typedef enum {
	K_STR, K_INT, K_FLOAT, K_BOOL, K_STRLIST, K_THRESHOLD, K_ONERROR
} KeyType;

/* CONF_RESTART: read once at start-up (the socket, the threads, the
 * identity); a reload keeps the old value and says so, as Redis does for
 * an IMMUTABLE_CONFIG */
enum { CONF_RESTART = 1 << 0 };

typedef struct {
	const char *name;	/* "group.key" or "key" */
	KeyType type;
	const char *def;	/* default, in libconfig syntax */
	double min, max;	/* bounds for K_INT, K_FLOAT, K_THRESHOLD */
	gsize off;		/* field in MilterConf (or in its Policy) */
	unsigned flags;		/* CONF_RESTART */
	const char *doc;
} ConfKey;

#define F(field) offsetof(MilterConf, field), 0
#define F_RESTART(field) offsetof(MilterConf, field), CONF_RESTART
#define NB 0, 0		/* no bounds */

static const ConfKey keys[] = {
	{ "model", K_STR, "\"" CONF_DEFAULT_MODEL "\"", NB, F(model),
	  "model directory (config.json, model.safetensors, tokenizer)" },
	{ "socket", K_STR, "\"inet:8893@127.0.0.1\"", NB,
	  F_RESTART(socket), "milter socket: unix:/path or inet:port@host "
	  "(inet6:port@host)" },
	{ "socket_mode", K_STR, "\"0660\"", NB, F_RESTART(socket_mode),
	  "octal permissions of a unix socket (0 .. 0777)" },
	{ "socket_owner", K_STR, "\"\"", NB, F_RESTART(socket_owner),
	  "user[:group] to own a unix socket; empty: unchanged" },
	{ "user", K_STR, "\"\"", NB, F_RESTART(user),
	  "user[:group] to run as after opening the socket; empty: unchanged" },
	{ "pidfile", K_STR, "\"\"", NB, F_RESTART(pidfile),
	  "file to write the process id to; empty: none" },
	{ "syslog_facility", K_STR, "\"mail\"", NB, F_RESTART(syslog_facility),
	  "syslog facility (mail, daemon, local0 .. local7)" },
	{ "log_verbose", K_BOOL, "false", NB, F(log_verbose),
	  "also log connections skipped and per-batch timing" },
	{ "workers", K_INT, "2", 1, 256, F_RESTART(workers),
	  "classifier threads (each has its own scratch memory)" },
	{ "batch", K_INT, "8", 1, 64, F_RESTART(batch),
	  "most queued messages one worker scores together" },
	{ "queue", K_INT, "64", 1, 100000, F_RESTART(queue),
	  "most messages waiting for a worker; beyond: on_error" },
	{ "timeout", K_FLOAT, "20.0", 0.001, 3600, F(timeout),
	  "seconds a message may wait for its score; beyond: on_error" },
	{ "max_scan_bytes", K_INT, "262144", 1024, 64 * 1024 * 1024,
	  F(max_scan_bytes),
	  "bytes of a message (headers read, body) kept for scoring" },
	{ "milter_timeout", K_INT, "300", 1, 86400, F_RESTART(milter_timeout),
	  "seconds libmilter waits on a silent MTA" },

	{ "policy.spam_threshold", K_THRESHOLD, "\"model\"", 0, 2,
	  F(spam_threshold), "score at or above which a message is spam "
	  "(flag, subject tag); \"model\": the model's recommended one" },
	{ "policy.reject_threshold", K_FLOAT, "0.995", 0, 2,
	  F(policy.reject_threshold),
	  "score at or above which a message is rejected; above 1: never" },
	{ "policy.unsure_low", K_FLOAT, "0.2", 0, 2, F(policy.unsure_low),
	  "lower end of the unsure band (status Unsure, below spam)" },
	{ "policy.unsure_high", K_FLOAT, "1.01", 0, 2, F(policy.unsure_high),
	  "upper end (exclusive) of the unsure band; above 1: up to the "
	  "spam threshold; low >= high: no band" },
	{ "policy.quarantine", K_BOOL, "false", NB, F(policy.quarantine),
	  "quarantine (hold) instead of rejecting" },
	{ "policy.on_error", K_ONERROR, "\"tempfail\"", NB, F(policy.on_error),
	  "when a message cannot be scored: accept, tempfail or reject" },
	{ "policy.reject_text", K_STR,
	  "\"Message rejected as spam\"", NB, F(reject_text),
	  "text of the 550 5.7.1 reply" },
	{ "policy.subject_tag", K_STR, "\"\"", NB, F(subject_tag),
	  "prefix for the Subject of spam, e.g. \"[SPAM]\"; empty: none" },
	{ "policy.label_actions", K_STRLIST, "[]", NB, F(label_actions),
	  "multi-class models: \"label=action\" rules for the top label" },
	{ "policy.script_min_ham", K_INT, G_STRINGIFY(SCRIPTS_DEF_MIN_HAM), 0,
	  1000000000, F(policy.script_min_ham),
	  "mail in a script with fewer training ham than this is Unsure, "
	  "never tagged or rejected on its score; 0: off" },

	{ "headers.score", K_STR, "\"X-Spam-Score\"", NB, F(hdr_score),
	  "header with the spam probability" },
	{ "headers.status", K_STR, "\"X-Spam-Status\"", NB, F(hdr_status),
	  "header with the verdict, score, threshold and model" },
	{ "headers.flag", K_STR, "\"X-Spam-Flag\"", NB, F(hdr_flag),
	  "header set to YES on spam" },

	{ "skip.authenticated", K_BOOL, "true", NB, F(skip_authenticated),
	  "do not scan mail from SMTP-authenticated senders" },
	{ "skip.trusted_networks", K_STRLIST,
	  "[\"127.0.0.0/8\", \"::1/128\"]", NB, F(trusted_networks),
	  "do not scan mail from clients in these networks (CIDR)" },

	{ "metrics.listen", K_STR, "\"\"", NB, F_RESTART(metrics_listen),
	  "host:port for HTTP /metrics (Prometheus); empty: off" },

	{ "memory.file", K_STR, "\"\"", NB, F(memory_file),
	  "instant memory of reported mail (rebuilt from memory.spool when "
	  "missing, corrupt or of another model); empty: off" },
	{ "memory.spool", K_STR, "\"" CONF_DEFAULT_SPOOL "\"", NB,
	  F(memory_spool), "the feedback spool (gptmilter-report) whose "
	  "reports the memory takes in" },
	{ "memory.capacity", K_INT, G_STRINGIFY(MEMORY_CAPACITY_DEFAULT), 1,
	  MEMORY_CAPACITY_MAX, F(memory_capacity),
	  "most reports remembered; the oldest is evicted first" },
	{ "memory.threshold", K_FLOAT, G_STRINGIFY(MEMORY_THRESHOLD_DEFAULT),
	  0, 1, F(memory.threshold),
	  "cosine similarity at or above which a report counts as a match" },
	{ "memory.spam_score", K_FLOAT, G_STRINGIFY(MEMORY_SPAM_SCORE_DEFAULT),
	  0, 1, F(memory.spam_score),
	  "a match to reported spam raises the score to at least this" },
	{ "memory.ham_score", K_FLOAT, G_STRINGIFY(MEMORY_HAM_SCORE_DEFAULT),
	  0, 1, F(memory.ham_score),
	  "a match to reported ham lowers the score to at most this" },
	{ "memory.scan_interval", K_FLOAT, "10", 0.1, 86400,
	  F(memory_scan_interval),
	  "seconds between scans of memory.spool for new reports" },
};

#define FIELD(c, k, T) ((T *) ((char *) (c) + (k)->off))

static const char *
type_name(KeyType t)
{
	switch (t) {
	case K_STR: return "string";
	case K_INT: return "int";
	case K_FLOAT: return "float";
	case K_BOOL: return "bool";
	case K_STRLIST: return "list";
	case K_THRESHOLD: return "float|\"model\"";
	case K_ONERROR: return "string";
	}
	return "?";
}

static const ConfKey *
key_find(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* int_literal - the integer S was written as, from its line in the file.
 * libconfig 1.5 keeps a decimal or hex literal without an L suffix in 32
 * bits and wraps it silently (4294968320 reads 1024), so a value that
 * wrapped is found by parsing the text again. Returns FALSE when the
 * text cannot be found (a setting not read from a file); otherwise *TEXT
 * is the literal and *OVERFLOW says it does not fit what libconfig gave. */
static gboolean
int_literal(const config_setting_t *s, char **text, gboolean *overflow)
{
	const char *file = config_setting_source_file(s);
	const char *name = config_setting_name(s);
	int line = config_setting_source_line(s);
	g_autofree char *all = NULL;

	if (file == NULL || name == NULL || line < 1 ||
	    !g_file_get_contents(file, &all, NULL, NULL))
		return FALSE;
	g_auto(GStrv) lines = g_strsplit(all, "\n", line + 1);
	if (g_strv_length(lines) < (guint) line)
		return FALSE;
	gsize nlen = strlen(name);
	for (const char *p = strstr(lines[line - 1], name); p;
	     p = strstr(p + 1, name)) {
		const char *q = p + nlen;
		if (p > lines[line - 1] &&
		    (g_ascii_isalnum(p[-1]) || strchr("_-*", p[-1])))
			continue;	/* the end of a longer name */
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=' && *q != ':')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		gsize len = strspn(q, "+-0123456789xXabcdefABCDEF");
		if (len == 0)
			continue;
		*text = g_strndup(q, len);
		const char *digits = *text + (**text == '-' || **text == '+');
		gboolean hex = g_str_has_prefix(digits, "0x") ||
			       g_str_has_prefix(digits, "0X");
		char *end = NULL;
		errno = 0;
		long long v = hex ? (long long) strtoull(digits + 2, &end, 16) :
				    strtoll(*text, &end, 10);
		if (hex && **text == '-')
			v = -v;
		*overflow = errno == ERANGE || *end != '\0' ||
			    v != config_setting_get_int64(s);
		return TRUE;
	}
	return FALSE;
}

/* setting_apply - store setting S into C as key K */
static gboolean
setting_apply(MilterConf *c, const ConfKey *k, const config_setting_t *s,
	      const char *where, GError **error)
{
	int t = config_setting_type(s);
	double v = 0;

	switch (k->type) {
	case K_STR:
		if (t != CONFIG_TYPE_STRING)
			goto bad_type;
		g_free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = g_strdup(config_setting_get_string(s));
		return TRUE;
	case K_BOOL:
		if (t != CONFIG_TYPE_BOOL)
			goto bad_type;
		*FIELD(c, k, gboolean) = config_setting_get_bool(s) != 0;
		return TRUE;
	case K_ONERROR: {
		PolicyAction a;
		const char *word = t == CONFIG_TYPE_STRING ?
				config_setting_get_string(s) : NULL;
		if (word == NULL)
			goto bad_type;
		if (!policy_action_parse(word, &a) ||
		    (a != POLICY_ACCEPT && a != POLICY_TEMPFAIL &&
		     a != POLICY_REJECT)) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "%s: %s = \"%s\": expected accept, "
				    "tempfail or reject", where, k->name, word);
			return FALSE;
		}
		*FIELD(c, k, PolicyAction) = a;
		return TRUE;
	}
	case K_THRESHOLD:
		if (t == CONFIG_TYPE_STRING) {
			if (strcmp(config_setting_get_string(s), "model") != 0)
				goto bad_type;
			*FIELD(c, k, double) = CONF_THRESHOLD_MODEL;
			return TRUE;
		}
		/* FALLTHROUGH */
	case K_INT:
	case K_FLOAT:
		if (t == CONFIG_TYPE_INT) {
			g_autofree char *lit = NULL;
			gboolean overflow = FALSE;
			if (int_literal(s, &lit, &overflow) && overflow) {
				g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
					    "%s: %s = %s is out of range "
					    "[%.15g, %.15g]", where, k->name, lit,
					    k->min, k->max);
				return FALSE;
			}
			v = config_setting_get_int(s);
		}
		else if (t == CONFIG_TYPE_INT64)
			v = (double) config_setting_get_int64(s);
		else if (t == CONFIG_TYPE_FLOAT && k->type != K_INT)
			v = config_setting_get_float(s);
		else
			goto bad_type;
		if (!(v >= k->min && v <= k->max)) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "%s: %s = %g is out of range [%.15g, %.15g]",
				    where, k->name, v, k->min, k->max);
			return FALSE;
		}
		if (k->type == K_INT)
			*FIELD(c, k, int) = (int) v;
		else
			*FIELD(c, k, double) = v;
		return TRUE;
	case K_STRLIST: {
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			goto bad_type;
		int n = config_setting_length(s);
		char **list = g_new0(char *, n + 1);
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				g_strfreev(list);
				goto bad_type;
			}
			list[i] = g_strdup(config_setting_get_string(e));
		}
		g_strfreev(*FIELD(c, k, char **));
		*FIELD(c, k, char **) = list;
		return TRUE;
	}
	}
bad_type:
	g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
		    "%s: %s must be a%s %s", where, k->name,
		    k->type == K_INT ? "n" : "",
		    k->type == K_STRLIST ? "list of strings" :
		    k->type == K_THRESHOLD ? "number or \"model\"" :
		    type_name(k->type));
	return FALSE;
}

/* settings_walk - apply every setting under GROUP; unknown keys are errors */
static gboolean
settings_walk(MilterConf *c, const config_setting_t *group, const char *prefix,
	      const char *file, GError **error)
{
	int n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);
		g_autofree char *full = *prefix ?
			g_strconcat(prefix, ".", name, NULL) : g_strdup(name);
		g_autofree char *where = g_strdup_printf("%s:%d", file,
			config_setting_source_line(s));

		if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
			gboolean known = FALSE;
			gsize len = strlen(full);
			for (gsize j = 0; j < G_N_ELEMENTS(keys); j++)
				if (strncmp(keys[j].name, full, len) == 0 &&
				    keys[j].name[len] == '.')
					known = TRUE;
			if (!known) {
				g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
					    "%s: unknown group \"%s\"", where,
					    full);
				return FALSE;
			}
			if (!settings_walk(c, s, full, file, error))
				return FALSE;
			continue;
		}
		const ConfKey *k = key_find(full);
		if (k == NULL) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "%s: unknown key \"%s\" (gptmilter "
				    "--dump-keys lists them)", where, full);
			return FALSE;
		}
		if (!setting_apply(c, k, s, where, error))
			return FALSE;
	}
	return TRUE;
}

/* conf_defaults - every key at its default (parsed from the table) */
MilterConf *
conf_defaults(void)
{
	MilterConf *c = g_new0(MilterConf, 1);
	c->refcount = 1;
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		config_t cfg;
		g_autofree char *text = g_strdup_printf("v = %s;", keys[i].def);
		config_init(&cfg);
		if (!config_read_string(&cfg, text))
			g_error("conf.c: default of %s does not parse: %s",
				keys[i].name, text);
		g_autoptr(GError) error = NULL;
		if (!setting_apply(c, &keys[i], config_lookup(&cfg, "v"),
				   "default", &error))
			g_error("conf.c: %s", error->message);
		config_destroy(&cfg);
	}
	return c;
}

/* conf_syslog_facility - the facilities syslog_facility may name */
int
conf_syslog_facility(const char *name)
{
	static const struct { const char *n; int f; } t[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
		{ "user", LOG_USER }, { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(t); i++)
		if (g_ascii_strcasecmp(name, t[i].n) == 0)
			return t[i].f;
	return -1;
}

/* check_text - a reply text or tag: printable ASCII or UTF-8, no CR/LF */
static gboolean
check_text(const char *name, const char *text, GError **error)
{
	for (const char *p = text; *p; p++)
		if ((guchar) *p < 0x20 || *p == 0x7f) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "%s: control characters are not allowed",
				    name);
			return FALSE;
		}
	if (!g_utf8_validate(text, -1, NULL)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "%s: not valid UTF-8", name);
		return FALSE;
	}
	return TRUE;
}

/* check_header_name - RFC 5322 field name: printable ASCII except ':' */
static gboolean
check_header_name(const char *key, const char *name, GError **error)
{
	gboolean ok = *name != '\0';
	for (const char *p = name; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ':')
			ok = FALSE;
	if (!ok)
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "%s = \"%s\": not a header field name", key, name);
	return ok;
}

/* conf_finish - cross-key checks and the derived Policy and networks */
gboolean
conf_finish(MilterConf *c, GError **error)
{
	policy_clear(&c->policy);
	g_clear_pointer(&c->nets, g_free);
	c->n_nets = 0;

	Policy *p = &c->policy;
	/* "model" needs the model: milter_spam_threshold() resolves it for
	 * each model loaded; until then the Policy holds the fallback */
	p->spam_threshold = policy_spam_threshold(c->spam_threshold, -1, NULL);
	int n = c->label_actions ? (int) g_strv_length(c->label_actions) : 0;
	p->rules = g_new0(PolicyLabelRule, MAX(n, 1));
	for (int i = 0; i < n; i++) {
		g_autoptr(GError) e = NULL;
		if (!policy_rule_parse(c->label_actions[i], &p->rules[i], &e)) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "policy.label_actions: %s", e->message);
			return FALSE;
		}
		p->n_rules++;
	}
	if (!check_text("policy.reject_text", c->reject_text, error) ||
	    !check_text("policy.subject_tag", c->subject_tag, error))
		return FALSE;
	/* sendmail reads a reply text as a format; libmilter caps it */
	if (*c->reject_text == '\0' || strchr(c->reject_text, '%') ||
	    strlen(c->reject_text) > 900) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "policy.reject_text must be 1 to 900 characters "
			    "without '%%'");
		return FALSE;
	}
	if (!check_header_name("headers.score", c->hdr_score, error) ||
	    !check_header_name("headers.status", c->hdr_status, error) ||
	    !check_header_name("headers.flag", c->hdr_flag, error))
		return FALSE;
	if (!g_ascii_strcasecmp(c->hdr_score, c->hdr_status) ||
	    !g_ascii_strcasecmp(c->hdr_score, c->hdr_flag) ||
	    !g_ascii_strcasecmp(c->hdr_status, c->hdr_flag)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "headers: the three header names must differ");
		return FALSE;
	}

	n = c->trusted_networks ? (int) g_strv_length(c->trusted_networks) : 0;
	c->nets = g_new0(ConfNet, MAX(n, 1));
	for (int i = 0; i < n; i++) {
		g_autoptr(GError) e = NULL;
		if (!conf_parse_net(c->trusted_networks[i], &c->nets[i], &e)) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "skip.trusted_networks: %s", e->message);
			return FALSE;
		}
		c->n_nets++;
	}

	if (conf_syslog_facility(c->syslog_facility) < 0) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "syslog_facility = \"%s\": expected mail, daemon, "
			    "user or local0 .. local7", c->syslog_facility);
		return FALSE;
	}
	char *end = NULL;
	long mode = strtol(c->socket_mode, &end, 8);
	if (*c->socket_mode == '\0' || *end != '\0' || mode < 0 ||
	    mode > 0777) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "socket_mode = \"%s\": expected octal permissions "
			    "0 .. 0777 such as \"0660\"", c->socket_mode);
		return FALSE;
	}
	if (*c->socket == '\0' || *c->model == '\0') {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "socket and model must not be empty");
		return FALSE;
	}
	return TRUE;
}

/* conf_load - PATH over the defaults */
MilterConf *
conf_load(const char *path, GError **error)
{
	g_autoptr(MilterConf) c = conf_defaults();
	config_t cfg;

	config_init(&cfg);
	if (!config_read_file(&cfg, path)) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "%s: cannot read the configuration file",
				    path);
		else
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG, "%s:%d: %s",
				    path, config_error_line(&cfg),
				    config_error_text(&cfg));
		config_destroy(&cfg);
		return NULL;
	}
	gboolean ok = settings_walk(c, config_root_setting(&cfg), "", path,
				    error);
	config_destroy(&cfg);
	if (!ok)
		return NULL;
	c->path = g_strdup(path);
	if (!conf_finish(c, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&c);
}

MilterConf *
conf_ref(MilterConf *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

/* conf_unref - drop a reference; the last frees every field */
void
conf_unref(MilterConf *c)
{
	if (c == NULL || !g_atomic_int_dec_and_test(&c->refcount))
		return;
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (keys[i].type == K_STR)
			g_free(*FIELD(c, &keys[i], char *));
		else if (keys[i].type == K_STRLIST)
			g_strfreev(*FIELD(c, &keys[i], char **));
	}
	policy_clear(&c->policy);
	g_free(c->nets);
	g_free(c->path);
	g_free(c);
}

/* value_equal - does key K hold the same value in A and B */
static gboolean
value_equal(const ConfKey *k, const MilterConf *a, const MilterConf *b)
{
	switch (k->type) {
	case K_STR:
		return g_strcmp0(*FIELD(a, k, char *), *FIELD(b, k, char *)) == 0;
	case K_INT:
		return *FIELD(a, k, int) == *FIELD(b, k, int);
	case K_FLOAT:
	case K_THRESHOLD:
		return *FIELD(a, k, double) == *FIELD(b, k, double);
	case K_BOOL:
		return !*FIELD(a, k, gboolean) == !*FIELD(b, k, gboolean);
	case K_ONERROR:
		return *FIELD(a, k, PolicyAction) == *FIELD(b, k, PolicyAction);
	case K_STRLIST: {
		char **x = *FIELD(a, k, char **), **y = *FIELD(b, k, char **);
		if (x == NULL || y == NULL)
			return x == y;
		return g_strv_equal((const char *const *) x,
				    (const char *const *) y);
	}
	}
	return FALSE;
}

/* value_copy - key K of SRC into DST (owned values duplicated) */
static void
value_copy(const ConfKey *k, MilterConf *dst, const MilterConf *src)
{
	switch (k->type) {
	case K_STR:
		g_free(*FIELD(dst, k, char *));
		*FIELD(dst, k, char *) = g_strdup(*FIELD(src, k, char *));
		break;
	case K_STRLIST:
		g_strfreev(*FIELD(dst, k, char **));
		*FIELD(dst, k, char **) = g_strdupv(*FIELD(src, k, char **));
		break;
	case K_INT:
		*FIELD(dst, k, int) = *FIELD(src, k, int);
		break;
	case K_FLOAT:
	case K_THRESHOLD:
		*FIELD(dst, k, double) = *FIELD(src, k, double);
		break;
	case K_BOOL:
		*FIELD(dst, k, gboolean) = *FIELD(src, k, gboolean);
		break;
	case K_ONERROR:
		*FIELD(dst, k, PolicyAction) = *FIELD(src, k, PolicyAction);
		break;
	}
}

/* conf_keep_restart_only - the old value of each restart-only key that
 * the new configuration changes; the derived fields (conf_finish) depend
 * on none of them, so NC needs no second conf_finish */
char **
conf_keep_restart_only(MilterConf *nc, const MilterConf *oc)
{
	GPtrArray *changed = g_ptr_array_new();
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		const ConfKey *k = &keys[i];
		if (!(k->flags & CONF_RESTART) || value_equal(k, nc, oc))
			continue;
		value_copy(k, nc, oc);
		g_ptr_array_add(changed, g_strdup(k->name));
	}
	g_ptr_array_add(changed, NULL);
	return (char **) g_ptr_array_free(changed, FALSE);
}

/* conf_dump_keys - name, type, default and doc, tab-separated; the doc of
 * a restart-only key ends in " (restart)" */
void
conf_dump_keys(FILE *out)
{
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
		fprintf(out, "%s\t%s\t%s\t%s%s\n", keys[i].name,
			type_name(keys[i].type), keys[i].def, keys[i].doc,
			keys[i].flags & CONF_RESTART ? " (restart)" : "");
}

/* print_string - a libconfig string literal */
static void
print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* conf_dump - effective values as "name = value;" lines (flat names) */
void
conf_dump(const MilterConf *c, FILE *out)
{
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		const ConfKey *k = &keys[i];
		fprintf(out, "%s = ", k->name);
		switch (k->type) {
		case K_STR:
			print_string(out, *FIELD(c, k, char *));
			break;
		case K_INT:
			fprintf(out, "%d", *FIELD(c, k, int));
			break;
		case K_THRESHOLD:
			if (*FIELD(c, k, double) == CONF_THRESHOLD_MODEL) {
				fputs("\"model\"", out);
				break;
			}
			/* FALLTHROUGH */
		case K_FLOAT:
			fprintf(out, "%.17g", *FIELD(c, k, double));
			break;
		case K_BOOL:
			fputs(*FIELD(c, k, gboolean) ? "true" : "false", out);
			break;
		case K_ONERROR:
			print_string(out,
				     policy_action_name(*FIELD(c, k, PolicyAction)));
			break;
		case K_STRLIST: {
			char **v = *FIELD(c, k, char **);
			fputc('[', out);
			for (int j = 0; v && v[j]; j++) {
				if (j)
					fputs(", ", out);
				print_string(out, v[j]);
			}
			fputc(']', out);
			break;
		}
		}
		fputs(";\n", out);
	}
}

/* conf_parse_net - CIDR text (or a bare address: a /32 or /128) */
gboolean
conf_parse_net(const char *text, ConfNet *net, GError **error)
{
	g_autofree char *addr = g_strdup(text);
	char *slash = strchr(addr, '/');
	int max;

	memset(net, 0, sizeof(*net));
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, addr, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "\"%s\": not an IPv4 or IPv6 address", text);
		return FALSE;
	}
	net->bits = max;
	if (slash) {
		char *end = NULL;
		long bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "\"%s\": prefix length must be 0 .. %d",
				    text, max);
			return FALSE;
		}
		net->bits = (int) bits;
	}
	return TRUE;
}

/* conf_net_contains - does NET hold ADDR (4 or 16 bytes by FAMILY) */
gboolean
conf_net_contains(const ConfNet *net, int family, const guint8 *addr)
{
	if (family != net->family)
		return FALSE;
	int full = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, addr, full) != 0)
		return FALSE;
	if (rest == 0)
		return TRUE;
	guint8 mask = (guint8) (0xff << (8 - rest));
	return (net->addr[full] & mask) == (addr[full] & mask);
}

/* conf_trusted - is SA in one of the trusted networks; an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is also checked as IPv4 */
gboolean
conf_trusted(const MilterConf *c, const struct sockaddr *sa)
{
	static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					   0xff, 0xff };
	const guint8 *v4 = NULL, *v6 = NULL;

	if (sa == NULL)
		return FALSE;
	if (sa->sa_family == AF_INET) {
		v4 = (const guint8 *) &((const struct sockaddr_in *) sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		v6 = (const guint8 *)
			&((const struct sockaddr_in6 *) sa)->sin6_addr;
		if (memcmp(v6, mapped, 12) == 0)
			v4 = v6 + 12;
	} else {
		return FALSE;
	}
	for (int i = 0; i < c->n_nets; i++) {
		if (v6 && conf_net_contains(&c->nets[i], AF_INET6, v6))
			return TRUE;
		if (v4 && conf_net_contains(&c->nets[i], AF_INET, v4))
			return TRUE;
	}
	return FALSE;
}
