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

#include "classifier.h"

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

/* policy.spam_threshold = "model": the loaded model's recommended threshold
 * (gptmilter.threshold in its config.json), else the classifier's default
 * (CLASSIFIER_THRESHOLD_DEFAULT) */
#define POLICY_THRESHOLD_MODEL (-1.0)

/* Where the spam threshold in force came from. */
typedef enum {
	POLICY_THRESHOLD_SET = 0,	/* a number in policy.spam_threshold */
	POLICY_THRESHOLD_FROM_MODEL,	/* "model": the model's recorded one */
	POLICY_THRESHOLD_NO_MODEL_VALUE,	/* "model", none recorded: 0.5 */
} PolicyThresholdSource;

typedef struct {
	double spam_threshold;	/* score >= this: spam (flag, tag); a
				 * number, never the "model" marker (see
				 * policy_spam_threshold) */
	double reject_threshold;	/* score >= this: reject/quarantine;
					 * above 1 never */
	double unsure_low;	/* unsure_low <= score < unsure_high: unsure; */
	double unsure_high;	/* the band is empty when low >= high */
	gboolean quarantine;	/* quarantine instead of reject */
	PolicyAction on_error;	/* ACCEPT, TEMPFAIL or REJECT */
	PolicyLabelRule *rules;	/* n_rules rules; the first match wins */
	int n_rules;
	int script_min_ham;	/* policy.script_min_ham (0: off); see
				 * policy_unseen_script */
} Policy;

typedef struct {
	PolicyAction action;
	PolicyStatus status;
	gboolean flag;		/* add the spam flag header and subject tag */
	const char *rule_label;	/* the label whose rule decided, or NULL */
	const char *unseen_script;	/* set by policy_unseen_script: the
					 * message's script (borrowed) */
} PolicyDecision;

/* policy_decide - SCORE (the spam probability) and TOP_LABEL (the most
 * probable label, may be NULL) to a decision */
PolicyDecision policy_decide(const Policy *p, double score,
			     const char *top_label);

/* policy_unseen_script - D for a message in SCRIPT, a script the model
 * saw fewer than policy.script_min_ham training ham of (scripts_unseen):
 * a decision the score alone made spam (tag, reject, quarantine) becomes
 * ACCEPT with status Unsure and no flag, and D->unseen_script is set;
 * label rules and ham are left alone. TRUE when D changed. */
gboolean policy_unseen_script(PolicyDecision *d, const char *script);

/* policy_spam_threshold - the spam threshold in force: SETTING (the value
 * of policy.spam_threshold) when it is a number; for POLICY_THRESHOLD_MODEL
 * MODEL_THRESHOLD (the model's recommended one; < 0: none, or no model)
 * when it lies in [0, 1], else CLASSIFIER_THRESHOLD_DEFAULT. SOURCE (may be
 * NULL) says which. */
double policy_spam_threshold(double setting, double model_threshold,
			     PolicyThresholdSource *source);
/* policy_threshold_source_text - " (the model's)" etc. for a log line;
 * never NULL, "" for a number set in the configuration */
const char *policy_threshold_source_text(PolicyThresholdSource s);
/* policy_threshold_conflict - is the spam threshold in force above a
 * reject threshold that can fire (<= 1)? Then every score from
 * reject_threshold up is rejected (and is spam) and none is only tagged
 * between them: the decision is well defined, but likely not meant */
gboolean policy_threshold_conflict(double spam_threshold,
				   double reject_threshold);

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
