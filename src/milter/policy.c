/*
 * policy.c - a score (and the top label) to an action
 *
 * Owns: the meaning of the policy thresholds. The order of the checks is the
 * specification, so it is spelled out once here:
 *	1. a label rule for the top label (multi-class models) decides alone;
 *	2. score >= reject_threshold: REJECT (QUARANTINE if policy.quarantine);
 *	3. score >= spam_threshold: TAG (spam flag, subject tag);
 *	4. unsure_low <= score < unsure_high: ACCEPT, status Unsure;
 *	5. otherwise ACCEPT, status No.
 * Then, for a message in a script the model has hardly seen ham of
 * (policy.script_min_ham; the caller asks scripts_unseen), a spam verdict
 * of steps 2 and 3 becomes ACCEPT, status Unsure: the score of a model on
 * text unlike its training is no ground for a rejection
 * (policy_unseen_script).
 * A reject or a quarantine is also spam, so their headers say Yes.
 * spam_threshold is the one in force: policy.spam_threshold = "model" is
 * resolved against the model that scored (policy_spam_threshold) first.
 * Not here: errors (the caller applies on_error), headers (milter.c).
 * Threads: pure. Checked by: tests/milter/test_policy.c.
 */
#include <string.h>

#include "policy.h"

static const char *const action_names[POLICY_N_ACTIONS] = {
	[POLICY_ACCEPT] = "accept",
	[POLICY_TAG] = "tag",
	[POLICY_QUARANTINE] = "quarantine",
	[POLICY_REJECT] = "reject",
	[POLICY_DISCARD] = "discard",
	[POLICY_TEMPFAIL] = "tempfail",
	[POLICY_SKIP] = "skip",
};

/* policy_spam_threshold - a number as set, or "model" resolved */
double
policy_spam_threshold(double setting, double model_threshold,
		      PolicyThresholdSource *source)
{
	PolicyThresholdSource src = POLICY_THRESHOLD_SET;
	double t = setting;

	if (setting == POLICY_THRESHOLD_MODEL) {
		if (model_threshold >= 0 && model_threshold <= 1) {
			t = model_threshold;
			src = POLICY_THRESHOLD_FROM_MODEL;
		} else {
			t = CLASSIFIER_THRESHOLD_DEFAULT;
			src = POLICY_THRESHOLD_NO_MODEL_VALUE;
		}
	}
	if (source)
		*source = src;
	return t;
}

/* policy_threshold_source_text - the note after a threshold in the log */
const char *
policy_threshold_source_text(PolicyThresholdSource s)
{
	switch (s) {
	case POLICY_THRESHOLD_FROM_MODEL:
		return " (the model's)";
	case POLICY_THRESHOLD_NO_MODEL_VALUE:
		return " (\"model\"; the model records none)";
	case POLICY_THRESHOLD_SET:
	default:
		return "";
	}
}

/* policy_threshold_conflict - spam threshold above a live reject one */
gboolean
policy_threshold_conflict(double spam_threshold, double reject_threshold)
{
	return reject_threshold <= 1 && spam_threshold > reject_threshold;
}

/* policy_action_name - "accept", "tag", ... */
const char *
policy_action_name(PolicyAction a)
{
	if ((int) a < 0 || a >= POLICY_N_ACTIONS)
		return "invalid";
	return action_names[a];
}

/* policy_action_parse - name to action (case-insensitive) */
gboolean
policy_action_parse(const char *name, PolicyAction *out)
{
	for (int i = 0; i < POLICY_N_ACTIONS; i++)
		if (g_ascii_strcasecmp(name, action_names[i]) == 0) {
			*out = (PolicyAction) i;
			return TRUE;
		}
	return FALSE;
}

/* policy_status_word - the first word of the status header */
const char *
policy_status_word(PolicyStatus s)
{
	switch (s) {
	case POLICY_STATUS_SPAM:
		return "Yes";
	case POLICY_STATUS_UNSURE:
		return "Unsure";
	case POLICY_STATUS_HAM:
	default:
		return "No";
	}
}

/* policy_rule_parse - "label=action" (spaces around either allowed) */
gboolean
policy_rule_parse(const char *text, PolicyLabelRule *rule, GError **error)
{
	const char *eq = strchr(text, '=');
	if (eq == NULL) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "label rule \"%s\": expected label=action", text);
		return FALSE;
	}
	g_autofree char *label = g_strstrip(g_strndup(text, eq - text));
	g_autofree char *action = g_strstrip(g_strdup(eq + 1));
	PolicyAction a;
	if (*label == '\0' || !policy_action_parse(action, &a) ||
	    a == POLICY_SKIP) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "label rule \"%s\": expected label=action with action "
			    "one of accept, tag, quarantine, reject, discard, "
			    "tempfail", text);
		return FALSE;
	}
	rule->label = g_steal_pointer(&label);
	rule->action = a;
	return TRUE;
}

/* policy_clear - free the rules of P */
void
policy_clear(Policy *p)
{
	for (int i = 0; i < p->n_rules; i++)
		g_free(p->rules[i].label);
	g_clear_pointer(&p->rules, g_free);
	p->n_rules = 0;
}

/* status_of - what the score alone says */
static PolicyStatus
status_of(const Policy *p, double score)
{
	if (score >= p->spam_threshold || score >= p->reject_threshold)
		return POLICY_STATUS_SPAM;
	if (p->unsure_low < p->unsure_high && score >= p->unsure_low &&
	    score < p->unsure_high)
		return POLICY_STATUS_UNSURE;
	return POLICY_STATUS_HAM;
}

/* policy_unseen_script - a score-made spam verdict to Unsure */
gboolean
policy_unseen_script(PolicyDecision *d, const char *script)
{
	if (d->rule_label != NULL || d->status != POLICY_STATUS_SPAM)
		return FALSE;
	d->action = POLICY_ACCEPT;
	d->status = POLICY_STATUS_UNSURE;
	d->flag = FALSE;
	d->unseen_script = script;
	return TRUE;
}

/* policy_decide - see the order of checks at the top of the file */
PolicyDecision
policy_decide(const Policy *p, double score, const char *top_label)
{
	PolicyDecision d = { POLICY_ACCEPT, status_of(p, score), FALSE, NULL,
			     NULL };

	if (top_label != NULL)
		for (int i = 0; i < p->n_rules; i++) {
			if (g_ascii_strcasecmp(p->rules[i].label, top_label) != 0)
				continue;
			d.action = p->rules[i].action;
			d.rule_label = p->rules[i].label;
			switch (d.action) {
			case POLICY_TAG:
			case POLICY_QUARANTINE:
			case POLICY_REJECT:
			case POLICY_DISCARD:
				d.status = POLICY_STATUS_SPAM;
				d.flag = TRUE;
				break;
			case POLICY_ACCEPT:
				d.status = POLICY_STATUS_HAM;
				break;
			default:
				break;
			}
			return d;
		}

	if (score >= p->reject_threshold)
		d.action = p->quarantine ? POLICY_QUARANTINE : POLICY_REJECT;
	else if (score >= p->spam_threshold)
		d.action = POLICY_TAG;
	d.flag = d.status == POLICY_STATUS_SPAM;
	return d;
}
