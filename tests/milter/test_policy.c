/*
 * test_policy.c - policy_decide() over every branch, and the conf helpers
 * that feed it (label rules, trusted networks)
 *
 * Exits non-zero on the first failed check, naming it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		failures++; \
	} \
} while (0)

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
		CHECK(c->policy.reject_threshold == 0.99);	/* default */
		CHECK(c->policy.on_error == POLICY_ACCEPT);
		CHECK(c->policy.n_rules == 1);
		CHECK(strcmp(c->hdr_flag, "X-GPT-Flag") == 0);
		CHECK(strcmp(c->hdr_score, "X-Spam-Score") == 0);
		CHECK(c->skip_authenticated);
		conf_unref(c);
	}

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
		{ "headers: { score = \"X Score\"; };", "header field name" },
		{ "headers: { flag = \"X-Spam-Score\"; };", "must differ" },
		{ "skip: { trusted_networks = [\"10.0.0.0/40\"]; };",
		  "prefix length" },
		{ "skip: { trusted_networks = \"10.0.0.0/8\"; };",
		  "list of strings" },
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
		if (strstr(error->message, bad[i].needle) == NULL) {
			fprintf(stderr, "FAIL: \"%s\": message \"%s\" lacks "
				"\"%s\"\n", bad[i].text, error->message,
				bad[i].needle);
			failures++;
		}
		g_clear_error(&error);
	}
	c = conf_load("/nonexistent/gptmilter.conf", &error);
	CHECK(c == NULL && error && strstr(error->message, "cannot read"));
	g_clear_error(&error);
}

int
main(void)
{
	test_thresholds();
	test_rules();
	test_names();
	test_networks();
	test_conf_load();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("PASS: policy and configuration\n");
	return 0;
}
