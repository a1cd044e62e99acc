/*
 * test_policy.c - policy_decide() over every branch, and the conf helpers
 * that feed it (label rules, trusted networks, spam_threshold "model")
 *
 * Exits non-zero on the first failed check, naming it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "gptm_error.h"
#include "policy.h"
#include "../check.h"

static Policy
base(void)
{
	Policy p = { 0 };
	p.spam_threshold = 0.9;
	p.reject_threshold = 0.99;
	p.unsure_low = 0.5;
	p.unsure_high = 0.9;
	p.on_error = POLICY_TEMPFAIL;
	return p;
}

static void
test_thresholds(void)
{
	Policy p = base();
	PolicyDecision d;

	d = policy_decide(&p, 0.1, "ham");
	CHECK(d.action == POLICY_ACCEPT && d.status == POLICY_STATUS_HAM &&
	      !d.flag && d.rule_label == NULL);
	d = policy_decide(&p, 0.0, NULL);
	CHECK(d.action == POLICY_ACCEPT && d.status == POLICY_STATUS_HAM);
	/* unsure band: [low, high) */
	d = policy_decide(&p, 0.5, "spam");
	CHECK(d.action == POLICY_ACCEPT && d.status == POLICY_STATUS_UNSURE &&
	      !d.flag);
	d = policy_decide(&p, 0.4999, "ham");
	CHECK(d.status == POLICY_STATUS_HAM);
	d = policy_decide(&p, 0.8999, "spam");
	CHECK(d.status == POLICY_STATUS_UNSURE);
	/* spam at the threshold, inclusive */
	d = policy_decide(&p, 0.9, "spam");
	CHECK(d.action == POLICY_TAG && d.status == POLICY_STATUS_SPAM && d.flag);
	d = policy_decide(&p, 0.98999, "spam");
	CHECK(d.action == POLICY_TAG);
	/* reject at the threshold, inclusive */
	d = policy_decide(&p, 0.99, "spam");
	CHECK(d.action == POLICY_REJECT && d.status == POLICY_STATUS_SPAM &&
	      d.flag);
	d = policy_decide(&p, 1.0, "spam");
	CHECK(d.action == POLICY_REJECT);
	/* quarantine replaces reject, not tag */
	p.quarantine = TRUE;
	d = policy_decide(&p, 0.995, "spam");
	CHECK(d.action == POLICY_QUARANTINE && d.flag);
	d = policy_decide(&p, 0.95, "spam");
	CHECK(d.action == POLICY_TAG);
	/* reject threshold above 1: never */
	p = base();
	p.reject_threshold = 1.01;
	d = policy_decide(&p, 1.0, "spam");
	CHECK(d.action == POLICY_TAG);
	/* reject threshold below the spam threshold still rejects (and the
	 * message is spam, whatever spam_threshold says) */
	p = base();
	p.reject_threshold = 0.3;
	d = policy_decide(&p, 0.4, "spam");
	CHECK(d.action == POLICY_REJECT && d.status == POLICY_STATUS_SPAM);
	/* empty unsure band */
	p = base();
	p.unsure_low = 0.7;
	p.unsure_high = 0.7;
	d = policy_decide(&p, 0.7, "spam");
	CHECK(d.status == POLICY_STATUS_HAM);
	/* thresholds 0 and 1.01 force a verdict (the protocol tests use it) */
	p = base();
	p.spam_threshold = 0.0;
	p.reject_threshold = 1.01;
	d = policy_decide(&p, 0.0, "ham");
	CHECK(d.action == POLICY_TAG && d.flag);
}

/* policy.spam_threshold: a number as set; "model" resolved against the
 * model's recorded threshold, 0.5 when it has none (or an unusable one) */
static void
test_threshold_resolve(void)
{
	PolicyThresholdSource src;

	CHECK(policy_spam_threshold(0.8, 0.3, &src) == 0.8 &&
	      src == POLICY_THRESHOLD_SET);	/* a number overrides */
	CHECK(policy_spam_threshold(0.0, 0.3, &src) == 0.0 &&
	      src == POLICY_THRESHOLD_SET);
	CHECK(policy_spam_threshold(1.01, -1, &src) == 1.01 &&
	      src == POLICY_THRESHOLD_SET);
	CHECK(policy_spam_threshold(POLICY_THRESHOLD_MODEL, 0.7211, &src) ==
	      0.7211 && src == POLICY_THRESHOLD_FROM_MODEL);
	CHECK(policy_spam_threshold(POLICY_THRESHOLD_MODEL, 0.0, &src) ==
	      0.0 && src == POLICY_THRESHOLD_FROM_MODEL);
	CHECK(policy_spam_threshold(POLICY_THRESHOLD_MODEL, 1.0, NULL) == 1.0);
	CHECK(policy_spam_threshold(POLICY_THRESHOLD_MODEL, -1, &src) ==
	      CLASSIFIER_THRESHOLD_DEFAULT &&
	      src == POLICY_THRESHOLD_NO_MODEL_VALUE);	/* none recorded */
	CHECK(policy_spam_threshold(POLICY_THRESHOLD_MODEL, 1.5, &src) ==
	      CLASSIFIER_THRESHOLD_DEFAULT &&
	      src == POLICY_THRESHOLD_NO_MODEL_VALUE);	/* not a probability */
	CHECK(CLASSIFIER_THRESHOLD_DEFAULT == 0.5);
	CHECK(strcmp(policy_threshold_source_text(POLICY_THRESHOLD_SET),
		     "") == 0);
	CHECK(strstr(policy_threshold_source_text(POLICY_THRESHOLD_FROM_MODEL),
		     "model") != NULL);

	/* spam above a reject threshold that can fire: flagged for a warning */
	CHECK(policy_threshold_conflict(0.9, 0.8));
	CHECK(!policy_threshold_conflict(0.8, 0.8));
	CHECK(!policy_threshold_conflict(0.7211, 0.99));
	CHECK(!policy_threshold_conflict(1.5, 1.01));	/* never rejects */
	CHECK(policy_threshold_conflict(1.01, 0.0));
}

static void
test_rules(void)
{
	Policy p = base();
	PolicyLabelRule r[3];
	GError *error = NULL;
	PolicyDecision d;

	CHECK(policy_rule_parse("phish = reject", &r[0], &error));
	CHECK(policy_rule_parse("newsletter=accept", &r[1], &error));
	CHECK(policy_rule_parse("bulk=Quarantine", &r[2], &error));
	CHECK(strcmp(r[0].label, "phish") == 0 && r[0].action == POLICY_REJECT);
	CHECK(r[2].action == POLICY_QUARANTINE);
	p.rules = r;
	p.n_rules = 3;

	d = policy_decide(&p, 0.2, "PHISH");	/* labels match any case */
	CHECK(d.action == POLICY_REJECT && d.status == POLICY_STATUS_SPAM &&
	      d.flag && strcmp(d.rule_label, "phish") == 0);
	d = policy_decide(&p, 0.999, "newsletter");
	CHECK(d.action == POLICY_ACCEPT && d.status == POLICY_STATUS_HAM &&
	      !d.flag);
	d = policy_decide(&p, 0.95, "spam");	/* no rule: thresholds */
	CHECK(d.action == POLICY_TAG && d.rule_label == NULL);
	d = policy_decide(&p, 0.95, NULL);
	CHECK(d.action == POLICY_TAG);
	for (int i = 0; i < 3; i++)
		g_free(r[i].label);

	PolicyLabelRule bad;
	CHECK(!policy_rule_parse("phish", &bad, &error));
	CHECK(error != NULL);
	g_clear_error(&error);
	CHECK(!policy_rule_parse("phish=explode", &bad, &error));
	g_clear_error(&error);
	CHECK(!policy_rule_parse("=reject", &bad, &error));
	g_clear_error(&error);
	CHECK(!policy_rule_parse("x=skip", &bad, &error));
	g_clear_error(&error);
}

static void
test_names(void)
{
	PolicyAction a;

	for (int i = 0; i < POLICY_N_ACTIONS; i++) {
		CHECK(policy_action_parse(policy_action_name(i), &a));
		CHECK((int) a == i);
	}
	CHECK(!policy_action_parse("maybe", &a));
	CHECK(strcmp(policy_action_name(POLICY_N_ACTIONS), "invalid") == 0);
	CHECK(strcmp(policy_status_word(POLICY_STATUS_SPAM), "Yes") == 0);
	CHECK(strcmp(policy_status_word(POLICY_STATUS_UNSURE), "Unsure") == 0);
	CHECK(strcmp(policy_status_word(POLICY_STATUS_HAM), "No") == 0);
}

static gboolean
trusted(const MilterConf *c, const char *addr)
{
	struct sockaddr_in in4 = { 0 };
	struct sockaddr_in6 in6 = { 0 };

	if (inet_pton(AF_INET, addr, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		return conf_trusted(c, (struct sockaddr *) &in4);
	}
	if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		return conf_trusted(c, (struct sockaddr *) &in6);
	}
	g_assert_not_reached();
}

static void
test_networks(void)
{
	MilterConf *c = conf_defaults();
	GError *error = NULL;

	CHECK(conf_finish(c, &error));
	/* defaults: loopback only */
	CHECK(trusted(c, "127.0.0.1"));
	CHECK(trusted(c, "127.255.0.9"));
	CHECK(trusted(c, "::1"));
	CHECK(trusted(c, "::ffff:127.0.0.1"));	/* v4-mapped */
	CHECK(!trusted(c, "128.0.0.1"));
	CHECK(!trusted(c, "::2"));
	CHECK(!conf_trusted(c, NULL));

	g_strfreev(c->trusted_networks);
	const char *nets[] = { "192.0.2.0/24", "10.0.0.0/9", "2001:db8::/33",
			       "198.51.100.7", "0.0.0.0/0", NULL };
	c->trusted_networks = g_strdupv((char **) nets);
	/* without 0.0.0.0/0 first, to check the prefixes */
	g_free(c->trusted_networks[4]);
	c->trusted_networks[4] = NULL;
	CHECK(conf_finish(c, &error));
	CHECK(c->n_nets == 4);
	CHECK(trusted(c, "192.0.2.255"));
	CHECK(!trusted(c, "192.0.3.0"));
	CHECK(trusted(c, "10.127.255.255"));	/* /9: 10.0 .. 10.127 */
	CHECK(!trusted(c, "10.128.0.0"));
	CHECK(trusted(c, "2001:db8:7fff::1"));	/* /33 */
	CHECK(!trusted(c, "2001:db8:8000::1"));
	CHECK(trusted(c, "198.51.100.7"));	/* bare address: /32 */
	CHECK(!trusted(c, "198.51.100.8"));
	CHECK(!trusted(c, "127.0.0.1"));
	CHECK(trusted(c, "::ffff:192.0.2.1"));

	ConfNet n;
	CHECK(conf_parse_net("0.0.0.0/0", &n, &error));
	guint8 any[4] = { 203, 0, 113, 9 };
	CHECK(conf_net_contains(&n, AF_INET, any));
	CHECK(!conf_net_contains(&n, AF_INET6, any));
	CHECK(!conf_parse_net("192.0.2.0/33", &n, &error));
	g_clear_error(&error);
	CHECK(!conf_parse_net("192.0.2.0/", &n, &error));
	g_clear_error(&error);
	CHECK(!conf_parse_net("example.org", &n, &error));
	g_clear_error(&error);
	CHECK(!conf_parse_net("::1/129", &n, &error));
	g_clear_error(&error);
	conf_unref(c);
}

/* write TEXT to a temporary file and load it */
static MilterConf *
load_text(const char *text, GError **error)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("gptm-conf-XXXXXX", &path, NULL);
	g_assert(fd >= 0);
	close(fd);
	g_assert(g_file_set_contents(path, text, -1, NULL));
	MilterConf *c = conf_load(path, error);
	unlink(path);
	return c;
}

static void
test_conf_load(void)
{
	GError *error = NULL;
	MilterConf *c;

	c = load_text("workers = 4; timeout = 3;\n"
		      "policy: { spam_threshold = 0.8; on_error = \"accept\";\n"
		      "  label_actions = [\"phish=reject\"]; };\n"
		      "headers: { flag = \"X-GPT-Flag\"; };\n", &error);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->workers == 4);
		CHECK(c->timeout == 3.0);	/* an int where a float goes */
		CHECK(c->policy.spam_threshold == 0.8);
		CHECK(c->policy.reject_threshold == 0.995);	/* default */
		CHECK(c->policy.on_error == POLICY_ACCEPT);
		CHECK(c->policy.n_rules == 1);
		CHECK(strcmp(c->hdr_flag, "X-GPT-Flag") == 0);
		CHECK(strcmp(c->hdr_score, "X-Spam-Score") == 0);
		CHECK(c->skip_authenticated);
		conf_unref(c);
	}

	/* spam_threshold: "model" by default and when written, or a number */
	c = load_text("", &error);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->spam_threshold == CONF_THRESHOLD_MODEL);
		/* unresolved, the Policy holds the fallback, never -1 */
		CHECK(c->policy.spam_threshold == CLASSIFIER_THRESHOLD_DEFAULT);
		conf_unref(c);
	}
	/* the default unsure band lies below whatever threshold the model
	 * brings (with 0.5 and 0.72 alike), so status Unsure can appear */
	c = load_text("", &error);
	CHECK(c != NULL);
	if (c) {
		static const double thr[] = { 0.5, 0.72, 0.37 };
		for (gsize i = 0; i < G_N_ELEMENTS(thr); i++) {
			Policy p = c->policy;
			p.spam_threshold = policy_spam_threshold(
				c->spam_threshold, thr[i], NULL);
			double below = thr[i] - 0.01;
			CHECK(policy_decide(&p, below, "ham").status ==
			      POLICY_STATUS_UNSURE);
			CHECK(policy_decide(&p, 0.25, "ham").status ==
			      POLICY_STATUS_UNSURE);
			CHECK(policy_decide(&p, thr[i], "spam").status ==
			      POLICY_STATUS_SPAM);
			CHECK(policy_decide(&p, 0.05, "ham").status ==
			      POLICY_STATUS_HAM);
		}
		conf_unref(c);
	}
	c = load_text("policy: { spam_threshold = \"model\"; };", &error);
	CHECK(c != NULL && c->spam_threshold == CONF_THRESHOLD_MODEL);
	if (c) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		conf_dump(c, f);
		fclose(f);
		CHECK(strstr(buf, "\npolicy.spam_threshold = \"model\";\n"));
		free(buf);
		conf_unref(c);
	}
	g_clear_error(&error);
	c = load_text("policy: { spam_threshold = 0.625; };", &error);
	CHECK(c != NULL && c->spam_threshold == 0.625 &&
	      c->policy.spam_threshold == 0.625);
	if (c)
		conf_unref(c);
	g_clear_error(&error);
	c = load_text("policy: { spam_threshold = 1; };", &error); /* an int */
	CHECK(c != NULL && c->policy.spam_threshold == 1.0);
	if (c)
		conf_unref(c);
	g_clear_error(&error);

	static const struct { const char *text, *needle; } bad[] = {
		{ "workers = 0;", "out of range" },
		{ "workers = \"two\";", "must be an int" },
		{ "wrokers = 2;", "unknown key \"wrokers\"" },
		{ "policy: { spam_treshold = 0.5; };",
		  "unknown key \"policy.spam_treshold\"" },
		{ "polcy: { };", "unknown group" },
		{ "policy: { on_error = \"discard\"; };", "on_error" },
		{ "policy: { label_actions = [\"x\"]; };", "label=action" },
		{ "policy: { reject_text = \"100% spam\"; };", "'%'" },
		{ "policy: { quarantine = 1; };", "must be a bool" },
		{ "policy: { spam_threshold = \"high\"; };",
		  "policy.spam_threshold must be a number or \"model\"" },
		{ "policy: { spam_threshold = \"Model\"; };",
		  "policy.spam_threshold must be a number or \"model\"" },
		{ "policy: { spam_threshold = \"\"; };",
		  "policy.spam_threshold must be a number or \"model\"" },
		{ "policy: { spam_threshold = true; };",
		  "policy.spam_threshold must be a number or \"model\"" },
		{ "policy: { spam_threshold = -0.1; };",
		  "policy.spam_threshold = -0.1 is out of range" },
		{ "policy: { spam_threshold = 3.0; };",
		  "policy.spam_threshold = 3 is out of range" },
		{ "headers: { score = \"X Score\"; };", "header field name" },
		{ "headers: { flag = \"X-Spam-Score\"; };", "must differ" },
		{ "skip: { trusted_networks = [\"10.0.0.0/40\"]; };",
		  "prefix length" },
		{ "skip: { trusted_networks = \"10.0.0.0/8\"; };",
		  "list of strings" },
		/* libconfig 1.5 wraps these to 1024, 1 and 1 */
		{ "max_scan_bytes = 4294968320;",
		  "max_scan_bytes = 4294968320 is out of range [1024, " },
		{ "timeout = 4294967297;",
		  "timeout = 4294967297 is out of range [0.001, 3600]" },
		{ "policy: { spam_threshold = 0.5; };\nqueue = 0x100000001;",
		  ":2: queue = 0x100000001 is out of range" },
		{ "workers = -4294967295;", "workers = -4294967295 is out" },
		{ "workers = 99999999999999999999;", "out of range" },
		{ "socket_mode = \"rw\";", "octal" },
		{ "syslog_facility = \"kern\";", "syslog_facility" },
		{ "model = ", ":1:" },	/* syntax error with a line */
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		c = load_text(bad[i].text, &error);
		CHECK(c == NULL);
		if (c != NULL) {
			fprintf(stderr, "  accepted: %s\n", bad[i].text);
			conf_unref(c);
			continue;
		}
		CHECK(strstr(error->message, bad[i].needle) != NULL,
		      "\"%s\": message \"%s\" lacks \"%s\"", bad[i].text,
		      error->message, bad[i].needle);
		CHECK(g_error_matches(error, GPTM_ERROR, GPTM_ERROR_CONFIG));
		g_clear_error(&error);
	}
	c = conf_load("/nonexistent/gptmilter.conf", &error);
	CHECK(c == NULL && error && strstr(error->message, "cannot read"));
	CHECK(g_error_matches(error, GPTM_ERROR, GPTM_ERROR_CONFIG));
	g_clear_error(&error);
}

/* a reload: the restart-only keys keep their old values and are named;
 * the policy keys (rows that point into the Policy) take the new ones */
static void
test_conf_reload(void)
{
	GError *error = NULL;
	MilterConf *oc = load_text("workers = 2; batch = 4;\n"
				   "policy: { reject_threshold = 0.9; };\n",
				   &error);
	MilterConf *nc = load_text("workers = 5; batch = 4;\n"
				   "socket = \"unix:/tmp/other.sock\";\n"
				   "metrics: { listen = \"127.0.0.1:9101\"; };\n"
				   "policy: { reject_threshold = 0.5;\n"
				   "  on_error = \"accept\"; quarantine = true;\n"
				   "  script_min_ham = 7; unsure_low = 0.1; };\n"
				   "log_verbose = true;\n", &error);
	CHECK(oc != NULL && nc != NULL);
	if (oc == NULL || nc == NULL)
		return;
	CHECK(nc->workers == 5 && nc->policy.reject_threshold == 0.5);
	char **kept = conf_keep_restart_only(nc, oc);
	g_autofree char *names = g_strjoinv(",", kept);
	CHECK(strcmp(names, "socket,workers,metrics.listen") == 0);
	CHECK(nc->workers == 2 && nc->batch == 4);
	CHECK(strcmp(nc->socket, oc->socket) == 0 && nc->socket != oc->socket);
	CHECK(strcmp(nc->metrics_listen, "") == 0);
	CHECK(nc->policy.reject_threshold == 0.5 &&
	      nc->policy.on_error == POLICY_ACCEPT && nc->policy.quarantine &&
	      nc->policy.script_min_ham == 7 && nc->policy.unsure_low == 0.1);
	CHECK(nc->log_verbose);
	g_strfreev(kept);
	/* nothing restart-only left to differ */
	kept = conf_keep_restart_only(nc, oc);
	CHECK(kept[0] == NULL);
	g_strfreev(kept);
	/* --dump-config shows the policy values from the Policy itself */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_dump(nc, f);
	fclose(f);
	CHECK(strstr(buf, "\npolicy.on_error = \"accept\";\n") &&
	      strstr(buf, "\npolicy.reject_threshold = 0.5;\n") &&
	      strstr(buf, "\nworkers = 2;\n"));
	free(buf);
	conf_unref(oc);
	conf_unref(nc);
}

/* policy_unseen_script: a spam verdict the score made becomes Unsure */
static void
test_unseen_script(void)
{
	Policy p = base();
	PolicyDecision d;

	d = policy_decide(&p, 0.995, "spam");		/* reject */
	CHECK(policy_unseen_script(&d, "Cyrl"));
	CHECK(d.action == POLICY_ACCEPT && d.status == POLICY_STATUS_UNSURE &&
	      !d.flag && strcmp(d.unseen_script, "Cyrl") == 0);
	p.quarantine = TRUE;
	d = policy_decide(&p, 0.995, "spam");		/* quarantine */
	CHECK(policy_unseen_script(&d, "Hani") && d.action == POLICY_ACCEPT);
	d = policy_decide(&p, 0.95, "spam");		/* tag */
	CHECK(policy_unseen_script(&d, "Hani") && d.action == POLICY_ACCEPT &&
	      !d.flag && d.status == POLICY_STATUS_UNSURE);
	/* ham and unsure stay as they are */
	d = policy_decide(&p, 0.1, "ham");
	CHECK(!policy_unseen_script(&d, "Hani") && d.status == POLICY_STATUS_HAM &&
	      d.unseen_script == NULL);
	d = policy_decide(&p, 0.6, "spam");
	CHECK(!policy_unseen_script(&d, "Hani") && d.unseen_script == NULL);
	/* a label rule decides alone */
	PolicyLabelRule r = { (char *) "phish", POLICY_REJECT };
	p.rules = &r;
	p.n_rules = 1;
	d = policy_decide(&p, 0.2, "phish");
	CHECK(!policy_unseen_script(&d, "Hani") && d.action == POLICY_REJECT);
}

int
main(void)
{
	test_thresholds();
	test_unseen_script();
	test_threshold_resolve();
	test_rules();
	test_names();
	test_networks();
	test_conf_load();
	test_conf_reload();
	return check_summary("test_policy");
}
