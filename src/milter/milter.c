/*
 * milter.c - libmilter callbacks: collect a message, score it, act
 *
 * Owns: the per-connection and per-message contexts, the rebuilt RFC 822
 * message (headers "Name: value\r\n", a blank line, the body; at most
 * max_scan_bytes kept, the rest counted), removal of our own header names
 * from incoming mail, scanned or not (so no sender forges a verdict), the
 * verdict headers, and the reply for each action.
 * The rebuilt message keeps only the headers the text extraction reads
 * (mailtext_header_read), each cut at HEADER_VALUE_MAX bytes, together at
 * most a quarter of max_scan_bytes: the body keeps the rest, so no filler
 * header can crowd it out (the model would read Subject and From alone).
 * Mail that is not scanned (trusted networks, authenticated senders) still
 * passes its headers, for the removal above, and gets one log line.
 * Every smfi_* call goes through an mw_* wrapper below: one place that
 * logs failures and counts them. (The protocol is tested through libmilter
 * itself, with miltertest: tests/milter/.)
 *
 * Protocol: we ask the MTA for connect (client address), MAIL FROM
 * ({auth_authen}, {i}), headers (no reply per header when the MTA allows),
 * body (skipped once the cap is reached when the MTA allows) and end of
 * message; not HELO, RCPT, DATA, end of headers or unknown commands.
 *
 * Lifecycle: ConnCtx lives from negotiate/connect to close; MsgCtx from
 * MAIL FROM to the end of that message. msg_done() is the one function that
 * frees a MsgCtx, called from eom, abort, close and a new MAIL FROM; close
 * frees the ConnCtx and sets the private pointer to NULL.
 * Errors: anything that keeps a message from being scored or answered
 * applies policy.on_error and logs the queue id and the reason: a message
 * is never dropped silently and the daemon never exits from here.
 */
#include <arpa/inet.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "mailtext.h"
#include "milter.h"
#include "scripts.h"

Milter milter;

/* A kept header value is cut here: well above what the text extraction
 * reads of one (100 bytes after decoding, MIME parameters), well below
 * what a filler header can bring. */
#define HEADER_VALUE_MAX 4096

typedef struct {
	MilterConf *conf;	/* the configuration of this message */
	GByteArray *buf;	/* rebuilt message, <= max_scan_bytes */
	gsize total;		/* bytes seen, kept or not */
	gsize body_seen;	/* body bytes seen, kept or not */
	gsize body_kept;	/* body bytes in buf */
	gboolean in_body;	/* the blank line after the headers is in buf */
	const char *skip;	/* not scanned: why (static text), else NULL */
	char *auth;		/* {auth_authen} when skipped for it */
	int n_ours[3];		/* incoming headers named score, status, flag */
	char *subject;		/* first Subject value, or NULL */
	char *qid;		/* {i} at MAIL FROM, if the MTA sent it */
} MsgCtx;

typedef struct {
	char addr[INET6_ADDRSTRLEN + 8];	/* client address, text */
	gboolean nr_hdr;	/* header callback must not reply */
	gboolean can_skip;	/* MTA understands SMFIS_SKIP */
	gboolean trusted;	/* client in skip.trusted_networks */
	MsgCtx *msg;
} ConnCtx;

MilterConf *
milter_conf(void)
{
	g_mutex_lock(&milter.lock);
	MilterConf *c = conf_ref(milter.conf);
	g_mutex_unlock(&milter.lock);
	return c;
}

void
milter_set_conf(MilterConf *c)
{
	g_mutex_lock(&milter.lock);
	MilterConf *old = milter.conf;
	milter.conf = conf_ref(c);
	g_mutex_unlock(&milter.lock);
	if (old)
		conf_unref(old);
}

int
milter_busy(void)
{
	return g_atomic_int_get(&milter.busy);
}

/* milter_close - see milter.h; the check in mlfi_eom and the flag here
 * are under the same lock, so no message starts scoring afterwards */
void
milter_close(double max_s)
{
	gint64 end = g_get_monotonic_time() + (gint64) (max_s * 1e6);

	g_atomic_int_set(&milter.draining, TRUE);
	while ((g_atomic_int_get(&milter.open) > 0 || milter_busy() > 0) &&
	       g_get_monotonic_time() < end)
		g_usleep(10000);
	g_mutex_lock(&milter.lock);
	milter.closed = TRUE;
	g_mutex_unlock(&milter.lock);
	if (g_atomic_int_get(&milter.open) > 0)
		g_warning("shutdown: %d message(s) still under way after %.0f "
			  "s: they get a tempfail", g_atomic_int_get(&milter.open),
			  max_s);
	while (milter_busy() > 0)	/* bounded by `timeout` in pool_score */
		g_usleep(10000);
}

/*
 * The smfi_* wrappers. Each failure is logged with the queue id (or the
 * call) and counted; the caller decides what the failure means.
 */
static gboolean
mw_check(int r, const char *what, const char *qid)
{
	if (r == MI_SUCCESS)
		return TRUE;
	g_warning("%s: %s failed (not negotiated, or the MTA went away)",
		  qid ? qid : "NOQUEUE", what);
	stats_error(milter.stats, STATS_ERR_MILTER);
	return FALSE;
}

static ConnCtx *mw_getpriv(SMFICTX *ctx) { return smfi_getpriv(ctx); }
static void mw_setpriv(SMFICTX *ctx, ConnCtx *cc) { (void) smfi_setpriv(ctx, cc); }

static const char *
mw_getsymval(SMFICTX *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *) name);
}

static gboolean
mw_setsymlist(SMFICTX *ctx, int stage, const char *macros)
{
	return mw_check(smfi_setsymlist(ctx, stage, (char *) macros),
			"smfi_setsymlist", NULL);
}

static gboolean
mw_addheader(SMFICTX *ctx, const char *qid, const char *name,
	     const char *value)
{
	return mw_check(smfi_addheader(ctx, (char *) name, (char *) value),
			"smfi_addheader", qid);
}

/* mw_chgheader - change occurrence IDX (1-based per name); NULL deletes */
static gboolean
mw_chgheader(SMFICTX *ctx, const char *qid, const char *name, int idx,
	     const char *value)
{
	return mw_check(smfi_chgheader(ctx, (char *) name, idx,
				       (char *) value),
			"smfi_chgheader", qid);
}

static gboolean
mw_quarantine(SMFICTX *ctx, const char *qid, const char *reason)
{
	return mw_check(smfi_quarantine(ctx, (char *) reason),
			"smfi_quarantine", qid);
}

/* mw_setreply - TEXT was checked at load time: no CR, LF or '%' */
static gboolean
mw_setreply(SMFICTX *ctx, const char *qid, const char *rcode,
	    const char *xcode, const char *text)
{
	return mw_check(smfi_setreply(ctx, (char *) rcode, (char *) xcode,
				      (char *) text),
			"smfi_setreply", qid);
}

/* msg_done - free the message context of CC (if any) */
static void
msg_done(ConnCtx *cc)
{
	MsgCtx *m = cc ? cc->msg : NULL;

	if (m == NULL)
		return;
	conf_unref(m->conf);
	g_byte_array_unref(m->buf);
	g_free(m->subject);
	g_free(m->qid);
	g_free(m->auth);
	g_free(m);
	cc->msg = NULL;
	g_atomic_int_add(&milter.open, -1);
}

/* Descriptors kept free of MTA connections: reloads open model files,
 * the metrics endpoint its clients, libraries their own. */
#define FD_HEADROOM 32
/* Warn at this share of the room, then at most once a minute. */
#define CONN_WARN_SHARE 0.9
#define CONN_WARN_EVERY_US (60 * G_USEC_PER_SEC)

/* milter_conn_room - see milter.h: RLIMIT_NOFILE less the descriptors
 * open now (counted in /proc/self/fd) less FD_HEADROOM; each MTA
 * connection holds one descriptor (and one libmilter thread) */
void
milter_conn_room(void)
{
	struct rlimit rl;
	int open_now = 0;
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);

	if (d != NULL) {
		while (g_dir_read_name(d) != NULL)
			open_now++;
		g_dir_close(d);
	} else {
		open_now = 16;	/* no /proc: a guess */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t) G_MAXINT) {
		milter.conn_room = G_MAXINT;
		return;
	}
	milter.conn_room = MAX((int) rl.rlim_cur - open_now - FD_HEADROOM, 1);
	g_message("descriptor limit %d (RLIMIT_NOFILE), %d in use: room for "
		  "about %d MTA connections at once", (int) rl.rlim_cur,
		  open_now, milter.conn_room);
}

/* conn_count - one more MTA connection; a warning when near the room
 * (beyond it libmilter cannot accept, and MTAs wait without a word) */
static void
conn_count(void)
{
	int n = g_atomic_int_add(&milter.conns, 1) + 1;
	int room = milter.conn_room;

	if (room <= 0 || n < (int) (room * CONN_WARN_SHARE))
		return;
	gint64 now = g_get_monotonic_time();
	g_mutex_lock(&milter.lock);
	gboolean warn = milter.conn_warned == 0 ||
		now - milter.conn_warned >= CONN_WARN_EVERY_US;
	if (warn)
		milter.conn_warned = now;
	g_mutex_unlock(&milter.lock);
	if (warn)
		g_warning("%d MTA connections open, room for about %d under "
			  "the descriptor limit: raise RLIMIT_NOFILE "
			  "(LimitNOFILE=) or lower milter_timeout; beyond it "
			  "new connections wait unanswered", n, room);
}

/* conn_get - the connection context, made on first use */
static ConnCtx *
conn_get(SMFICTX *ctx)
{
	ConnCtx *cc = mw_getpriv(ctx);
	if (cc == NULL) {
		cc = g_new0(ConnCtx, 1);
		g_strlcpy(cc->addr, "unknown", sizeof(cc->addr));
		mw_setpriv(ctx, cc);
		conn_count();
	}
	return cc;
}

/* buf_append - keep bytes up to max_scan_bytes; the body's are counted */
static void
buf_append(MsgCtx *m, const void *data, gsize len)
{
	gsize cap = (gsize) m->conf->max_scan_bytes;
	gsize keep = m->buf->len < cap ? MIN(len, cap - m->buf->len) : 0;

	g_byte_array_append(m->buf, data, (guint) keep);
	if (m->in_body) {
		m->body_seen += len;
		m->body_kept += keep;
	}
}

/* header_keep - add the header line NAME: VALUE to the rebuilt message if
 * the text extraction reads it and the headers' share has room for it
 * whole (VALUE cut at HEADER_VALUE_MAX) */
static void
header_keep(MsgCtx *m, const char *name, const char *value)
{
	gsize share = (gsize) m->conf->max_scan_bytes / 4;
	gsize nlen = strlen(name);
	gsize vlen = MIN(strlen(value), HEADER_VALUE_MAX);

	if (!mailtext_header_read(name) ||
	    m->buf->len + nlen + 2 + vlen + 2 > share)
		return;
	buf_append(m, name, nlen);
	buf_append(m, ": ", 2);
	buf_append(m, value, vlen);
	buf_append(m, "\r\n", 2);
}

/* refuse_draining - while shutting down, a tempfail for what starts now
 * (the libmilter accept loop ends only once messages under way are
 * answered: it would cut them off) */
static gboolean
refuse_draining(SMFICTX *ctx, const char *qid)
{
	if (!g_atomic_int_get(&milter.draining))
		return FALSE;
	mw_setreply(ctx, qid, "421", "4.3.2", "Service shutting down");
	return TRUE;
}

static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	       unsigned long f2, unsigned long f3, unsigned long *pf0,
	       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	ConnCtx *cc = conn_get(ctx);
	unsigned long want = SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NODATA |
		SMFIP_NOUNKNOWN | SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_SKIP;

	(void) f2; (void) f3;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
		     SMFIF_SETSYMLIST);
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	cc->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
	cc->can_skip = (*pf1 & SMFIP_SKIP) != 0;
	if ((f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) !=
	    (SMFIF_ADDHDRS | SMFIF_CHGHDRS))
		g_warning("the MTA does not allow adding and changing headers: "
			  "verdicts will fail and apply policy.on_error");
	if (*pf0 & SMFIF_SETSYMLIST) {
		mw_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
		mw_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	ConnCtx *cc = conn_get(ctx);
	g_autoptr(MilterConf) conf = milter_conf();
	const struct sockaddr *sa = hostaddr;

	(void) hostname;
	if (refuse_draining(ctx, NULL))
		return SMFIS_TEMPFAIL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
			  cc->addr, sizeof(cc->addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *) sa)->sin6_addr,
			  cc->addr, sizeof(cc->addr));
	/* not scanned, but still seen: forged verdict headers go (eom) */
	cc->trusted = conf_trusted(conf, sa);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	ConnCtx *cc = conn_get(ctx);
	MsgCtx *m;
	const char *auth = mw_getsymval(ctx, "{auth_authen}");
	const char *qid = mw_getsymval(ctx, "i");

	(void) argv;
	msg_done(cc);
	if (refuse_draining(ctx, qid))
		return SMFIS_TEMPFAIL;
	g_autoptr(MilterConf) conf = milter_conf();
	m = g_new0(MsgCtx, 1);
	if (cc->trusted) {
		m->skip = "trusted network";
	} else if (conf->skip_authenticated && auth != NULL && *auth != '\0') {
		m->skip = "authenticated";
		m->auth = g_strdup(auth);
	}
	m->conf = g_steal_pointer(&conf);
	m->buf = g_byte_array_sized_new(m->skip ? 0 :
					MIN(m->conf->max_scan_bytes, 65536));
	m->qid = g_strdup(qid);
	cc->msg = m;
	g_atomic_int_inc(&milter.open);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	ConnCtx *cc = mw_getpriv(ctx);
	MsgCtx *m = cc ? cc->msg : NULL;
	sfsistat ok = cc && cc->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;

	if (m == NULL)
		return ok;
	const char *ours[3] = { m->conf->hdr_score, m->conf->hdr_status,
				m->conf->hdr_flag };
	for (int i = 0; i < 3; i++)
		if (g_ascii_strcasecmp(name, ours[i]) == 0)
			m->n_ours[i]++;
	m->total += strlen(name) + 2 + strlen(value) + 2;
	if (m->skip)
		return ok;
	if (m->subject == NULL && g_ascii_strcasecmp(name, "Subject") == 0)
		m->subject = g_strdup(value);
	header_keep(m, name, value);
	return ok;
}

static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	ConnCtx *cc = mw_getpriv(ctx);
	MsgCtx *m = cc ? cc->msg : NULL;

	if (m == NULL)
		return SMFIS_CONTINUE;
	m->total += len;
	if (m->skip)
		return cc->can_skip ? SMFIS_SKIP : SMFIS_CONTINUE;
	if (!m->in_body) {
		buf_append(m, "\r\n", 2);
		m->in_body = TRUE;
	}
	buf_append(m, chunk, len);
	if (cc->can_skip && m->buf->len >= (gsize) m->conf->max_scan_bytes)
		return SMFIS_SKIP;
	return SMFIS_CONTINUE;
}

/* model_name - the bundle's name, safe for a header (token characters) */
static char *
model_name(const Classifier *c)
{
	char *s = g_strdup(classifier_bundle(c)->name);
	for (char *p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && !strchr("._-+/", *p))
			*p = '_';
	return s;
}

/* strip_ours - delete every incoming header with one of our names, last
 * first, so the indices of the remaining ones do not move */
static gboolean
strip_ours(SMFICTX *ctx, MsgCtx *m, const char *qid)
{
	const char *ours[3] = { m->conf->hdr_score, m->conf->hdr_status,
				m->conf->hdr_flag };
	gboolean ok = TRUE;
	for (int i = 0; i < 3; i++) {
		if (m->n_ours[i] > 0)
			g_message("%s: removing %d incoming %s header(s)", qid,
				  m->n_ours[i], ours[i]);
		for (int k = m->n_ours[i]; k >= 1; k--)
			ok &= mw_chgheader(ctx, qid, ours[i], k, NULL);
	}
	return ok;
}

/* apply_error - policy.on_error for a message that could not be scored */
static sfsistat
apply_error(SMFICTX *ctx, MsgCtx *m, const char *qid, const char *why,
	    double ms)
{
	PolicyAction a = m->conf->policy.on_error;
	g_warning("%s: cannot score: %s; action=%s (policy.on_error) "
		  "latency=%.1fms", qid, why, policy_action_name(a), ms);
	stats_record(milter.stats, a, -1, -1, ms);
	switch (a) {
	case POLICY_REJECT:
		mw_setreply(ctx, qid, "550", "5.7.1",
			    "Message could not be checked for spam");
		return SMFIS_REJECT;
	case POLICY_ACCEPT:
		return SMFIS_CONTINUE;
	case POLICY_TEMPFAIL:
	default:
		mw_setreply(ctx, qid, "451", "4.3.0",
			    "Temporary failure checking for spam, try again "
			    "later");
		return SMFIS_TEMPFAIL;
	}
}

/* milter_spam_threshold - policy.spam_threshold, or with "model" the
 * threshold classifier C recommends (0.5 if none); SOURCE may be NULL */
double
milter_spam_threshold(const MilterConf *conf, const Classifier *c,
		      PolicyThresholdSource *source)
{
	return policy_spam_threshold(conf->spam_threshold,
				     c ? classifier_bundle(c)->threshold : -1,
				     source);
}

/* check_script - a spam verdict on mail in a script the model has hardly
 * seen ham of becomes Unsure (policy_unseen_script); only asked when the
 * score says spam, so other mail pays no second text extraction */
static void
check_script(const MsgCtx *m, const Classifier *c, const Policy *pol,
	     PolicyDecision *d)
{
	if (pol->script_min_ham <= 0 || d->status != POLICY_STATUS_SPAM ||
	    d->rule_label != NULL)
		return;
	const char *script = scripts_of_message(c, (const char *) m->buf->data,
						m->buf->len);
	gboolean unsure = scripts_unseen(classifier_bundle(c), script,
					 pol->script_min_ham, NULL) &&
			  policy_unseen_script(d, script);
	stats_script(milter.stats, script, unsure);
}

/* memory_reason - consult the instant memory for a scored message: a
 * close match to a reported message moves *SCORE (memory_adjust) and is
 * counted; returns "spam:0.973" (the report's label and the cosine) for
 * the headers and the log, or NULL when no report is close */
static char *
memory_reason(const MsgCtx *m, const PoolResult *r, double *score)
{
	MemoryMatch mm;
	gboolean hit = FALSE;

	if (r->pooled == NULL ||
	    !intake_lookup(milter.intake, r->classifier, r->pooled, &mm))
		return NULL;
	*score = memory_adjust(&m->conf->memory, &mm, *score, &hit);
	if (!hit)
		return NULL;
	stats_memory_hit(milter.stats, mm.label);
	return g_strdup_printf("%s:%.3f", memory_label_name(mm.label),
			       mm.similarity);
}

/* verdict - add the headers and answer for decision D, made at spam
 * threshold THRESHOLD; MEMORY: the memory's reason ("spam:0.973") when a
 * remembered report changed the score, else NULL */
static sfsistat
verdict(SMFICTX *ctx, MsgCtx *m, const char *qid, const Classifier *c,
	double score, const char *label, double threshold, PolicyDecision d,
	const char *memory, gboolean *failed)
{
	const MilterConf *conf = m->conf;
	g_autofree char *name = model_name(c);
	char score_text[32];
	gboolean ok = TRUE;

	g_snprintf(score_text, sizeof(score_text), "%.3f", score);
	if (d.action == POLICY_REJECT) {
		*failed = !mw_setreply(ctx, qid, "550", "5.7.1",
				       conf->reject_text);
		return SMFIS_REJECT;
	}
	if (d.action == POLICY_TEMPFAIL) {
		*failed = !mw_setreply(ctx, qid, "451", "4.7.1",
				       "Message deferred by content policy");
		return SMFIS_TEMPFAIL;
	}
	if (d.action == POLICY_DISCARD)
		return SMFIS_DISCARD;

	g_autofree char *status = g_strdup_printf(
		"%s, score=%s threshold=%.4g model=%s%s%s%s%s%s%s",
		policy_status_word(d.status), score_text,
		threshold, name,
		d.rule_label ? " label=" : "", d.rule_label ? label : "",
		d.unseen_script ? " unseen_script=" : "",
		d.unseen_script ? d.unseen_script : "",
		memory ? " memory=" : "", memory ? memory : "");
	ok &= mw_addheader(ctx, qid, conf->hdr_score, score_text);
	ok &= mw_addheader(ctx, qid, conf->hdr_status, status);
	if (d.flag) {
		ok &= mw_addheader(ctx, qid, conf->hdr_flag, "YES");
		if (*conf->subject_tag) {
			const char *old = m->subject ? m->subject : "";
			if (!g_str_has_prefix(old, conf->subject_tag)) {
				g_autofree char *subj = *old ?
					g_strconcat(conf->subject_tag, " ",
						    old, NULL) :
					g_strdup(conf->subject_tag);
				ok &= m->subject ?
					mw_chgheader(ctx, qid, "Subject", 1,
						     subj) :
					mw_addheader(ctx, qid, "Subject", subj);
			}
		}
	}
	if (d.action == POLICY_QUARANTINE) {
		g_autofree char *reason = g_strdup_printf(
			"gptmilter: spam score %s", score_text);
		ok &= mw_quarantine(ctx, qid, reason);
	}
	*failed = !ok;
	return SMFIS_CONTINUE;
}

/* eom_skipped - end of a message that is not scanned: forged verdict
 * headers removed, one log line, accepted */
static sfsistat
eom_skipped(SMFICTX *ctx, ConnCtx *cc)
{
	MsgCtx *m = cc->msg;
	const char *sym = mw_getsymval(ctx, "i");
	g_autofree char *qid = g_strdup(sym && *sym ? sym :
					m->qid ? m->qid : "NOQUEUE");
	sfsistat ret = SMFIS_CONTINUE;

	if (!strip_ours(ctx, m, qid)) {
		ret = apply_error(ctx, m, qid, "the MTA refused a header "
				  "change", 0);
	} else {
		if (m->auth)
			g_message("%s: from %s: authenticated as %s, not "
				  "scanned (skip.authenticated)", qid,
				  cc->addr, m->auth);
		else
			g_message("%s: from %s: trusted network, not scanned "
				  "(skip.trusted_networks)", qid, cc->addr);
		stats_record(milter.stats, POLICY_SKIP, -1, -1, -1);
	}
	msg_done(cc);
	return ret;
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	ConnCtx *cc = mw_getpriv(ctx);
	MsgCtx *m = cc ? cc->msg : NULL;
	gint64 t0 = g_get_monotonic_time();
	sfsistat ret;

	if (m == NULL) {
		/* no MAIL FROM seen: an MTA bug; fail safe, not open */
		g_warning("end of message without a message context; "
			  "tempfail");
		stats_error(milter.stats, STATS_ERR_MILTER);
		return SMFIS_TEMPFAIL;
	}
	if (m->skip)
		return eom_skipped(ctx, cc);
	g_mutex_lock(&milter.lock);
	gboolean closed = milter.closed;
	if (!closed)
		g_atomic_int_inc(&milter.busy);
	g_mutex_unlock(&milter.lock);
	if (closed) {
		g_warning("%s: shutting down; tempfail",
			  m->qid ? m->qid : "NOQUEUE");
		msg_done(cc);
		mw_setreply(ctx, NULL, "421", "4.3.2", "Service shutting down");
		return SMFIS_TEMPFAIL;
	}
	const char *sym = mw_getsymval(ctx, "i");
	g_autofree char *qid = g_strdup(sym && *sym ? sym :
					m->qid ? m->qid : "NOQUEUE");
	if (!m->in_body) {
		buf_append(m, "\r\n", 2);
		m->in_body = TRUE;
	}

	PoolResult r;
	g_autoptr(GError) error = NULL;
	gboolean scored = pool_score(milter.pool, m->buf, m->conf->timeout,
				     &r, &error);
	double ms = (g_get_monotonic_time() - t0) / 1000.0;
	gboolean stripped = strip_ours(ctx, m, qid);

	if (!scored) {
		stats_error(milter.stats,
			    g_error_matches(error, POOL_ERROR,
					    POOL_ERROR_QUEUE_FULL) ?
			    STATS_ERR_QUEUE :
			    g_error_matches(error, POOL_ERROR,
					    POOL_ERROR_TIMEOUT) ?
			    STATS_ERR_TIMEOUT : STATS_ERR_MODEL);
		ret = apply_error(ctx, m, qid, error->message, ms);
	} else {
		double score = classifier_spam_score(r.classifier, r.probs);
		const char *label = classifier_label(r.classifier,
			classifier_top_label(r.classifier, r.probs));
		g_autofree char *memory = memory_reason(m, &r, &score);
		Policy pol = m->conf->policy;	/* shallow: rules shared */
		pol.spam_threshold = milter_spam_threshold(m->conf,
							   r.classifier, NULL);
		PolicyDecision d = policy_decide(&pol, score, label);
		/* a user reported this message's twin: no script doubt */
		if (memory == NULL)
			check_script(m, r.classifier, &pol, &d);
		gboolean failed = FALSE;
		ret = verdict(ctx, m, qid, r.classifier, score, label,
			      pol.spam_threshold, d, memory, &failed);
		if (failed || !stripped) {
			ret = apply_error(ctx, m, qid, "the MTA refused a "
					  "header change or reply", ms);
		} else {
			ms = (g_get_monotonic_time() - t0) / 1000.0;
			g_message("%s: score=%.3f threshold=%.4g label=%s "
				  "action=%s latency=%.1fms wait=%.1fms "
				  "batch=%d size=%" G_GSIZE_FORMAT "%s%s%s%s%s",
				  qid, score, pol.spam_threshold, label,
				  policy_action_name(d.action), ms, r.wait_ms,
				  r.batch, m->total,
				  m->body_seen > m->body_kept ?
				  " truncated" : "",
				  d.unseen_script ? " unseen_script=" : "",
				  d.unseen_script ? d.unseen_script : "",
				  memory ? " memory=" : "",
				  memory ? memory : "");
			stats_record(milter.stats, d.action, d.status, score, ms);
		}
		pool_result_clear(&r);
	}
	msg_done(cc);
	g_atomic_int_add(&milter.busy, -1);
	return ret;
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	msg_done(mw_getpriv(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	ConnCtx *cc = mw_getpriv(ctx);

	if (cc) {
		msg_done(cc);
		g_free(cc);
		mw_setpriv(ctx, NULL);
		g_atomic_int_add(&milter.conns, -1);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
	.xxfi_name = "gptmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
		      SMFIF_SETSYMLIST,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = NULL,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = NULL,
	.xxfi_header = mlfi_header,
	.xxfi_eoh = NULL,
	.xxfi_body = mlfi_body,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_unknown = NULL,
	.xxfi_data = NULL,
	.xxfi_negotiate = mlfi_negotiate,
};
