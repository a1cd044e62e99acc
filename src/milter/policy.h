/*
 * policy.h - a score (and the top label) to an action; pure functions
 *
 * Owns: the thresholds of the `policy` group of gptmilter.conf and the
 * decision made from them. No libmilter, no I/O, no clock: the same inputs
 * give the same decision, so tests/milter/test_policy.c covers every branch.
 *	PolicyDecision d = policy_decide(&pol, 0.97, "spam");
 *	d.action == POLICY_TAG, d.status == POLICY_STATUS_SPAM
 * Threads: a Policy is read-only once filled in.
 */
#ifndef GPTM_POLICY_H
#define GPTM_POLICY_H

#include <glib.h>

typedef enum {
	POLICY_ACCEPT = 0,	/* deliver; verdict headers only */
	POLICY_TAG,		/* deliver; spam flag (+ subject tag) */
	POLICY_QUARANTINE,	/* tag, and hold in the MTA's hold queue */
	POLICY_REJECT,		/* 550 5.7.1 at end of data */
	POLICY_DISCARD,		/* accept and drop silently (label actions) */
	POLICY_TEMPFAIL,	/* 451 4.3.0 (on_error only, or a label) */
	POLICY_SKIP,		/* not scanned: trusted or authenticated */
	POLICY_N_ACTIONS
} PolicyAction;

typedef enum {
	POLICY_STATUS_HAM = 0,
	POLICY_STATUS_UNSURE,
	POLICY_STATUS_SPAM,
} PolicyStatus;

/* One `label=action` rule of policy.label_actions (multi-class models). */
typedef struct {
	char *label;
	PolicyAction action;
} PolicyLabelRule;

typedef struct {
	double spam_threshold;	/* score >= this: spam (flag, tag) */
	double reject_threshold;	/* score >= this: reject/quarantine;
					 * above 1 never */
	double unsure_low;	/* unsure_low <= score < unsure_high: unsure; */
	double unsure_high;	/* the band is empty when low >= high */
	gboolean quarantine;	/* quarantine instead of reject */
	PolicyAction on_error;	/* ACCEPT, TEMPFAIL or REJECT */
	PolicyLabelRule *rules;	/* n_rules rules; the first match wins */
	int n_rules;
} Policy;

typedef struct {
	PolicyAction action;
	PolicyStatus status;
	gboolean flag;		/* add the spam flag header and subject tag */
	const char *rule_label;	/* the label whose rule decided, or NULL */
} PolicyDecision;

/* policy_decide - SCORE (the spam probability) and TOP_LABEL (the most
 * probable label, may be NULL) to a decision */
PolicyDecision policy_decide(const Policy *p, double score,
			     const char *top_label);

/* policy_action_name - "accept", "tag", ...; never NULL */
const char *policy_action_name(PolicyAction a);
/* policy_action_parse - name to action; FALSE if unknown */
gboolean policy_action_parse(const char *name, PolicyAction *out);
/* policy_status_word - "No", "Unsure", "Yes" for the status header */
const char *policy_status_word(PolicyStatus s);
/* policy_rule_parse - "label=action" into RULE (label copied) */
gboolean policy_rule_parse(const char *text, PolicyLabelRule *rule,
			   GError **error);
void policy_clear(Policy *p);

#endif
