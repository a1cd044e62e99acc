/*
 * test_tokenstats.c - the token model (src/core/tokenstats.c) on its own:
 * which tokens a text gives, counting and scoring (spam > 0 > ham), the
 * options' parser, the file round trip, and the strict parser refusing
 * every truncation, every flipped byte and every field out of range (with
 * a valid checksum) with a message; plus the logistic fit that mixes it
 * with the transformer (metrics_fit_logistic).
 */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "check.h"
#include "metrics.h"
#include "tokenstats.h"

static TokenStatsOptions opts;

/* features - the tokens of TEXT */
static TokenFeatures
features(const char *text)
{
	TokenFeatures f = { 0 };
	tokenstats_features(&opts, text, strlen(text), &f);
	return f;
}

/* shared - how many tokens A and B have in common */
static int
shared(const TokenFeatures *a, const TokenFeatures *b)
{
	int n = 0;
	for (int i = 0; i < b->n; i++)
		for (int k = 0; k < a->n; k++)
			n += a->hash[k] == b->hash[i];
	return n;
}

/* has - whether A holds every token of B */
static gboolean
has(const TokenFeatures *a, const TokenFeatures *b)
{
	for (int i = 0; i < b->n; i++) {
		gboolean found = FALSE;
		for (int k = 0; k < a->n; k++)
			found |= a->hash[k] == b->hash[i];
		if (!found)
			return FALSE;
	}
	return TRUE;
}

static void
test_features(void)
{
	TokenFeatures a = features("Subject: Cheap pills\nFrom: Bob <bob@mail.spam.example>\n\n"
				   "Buy cheap pills now!!! Only $ 5, really cheap.");
	TokenFeatures body = features("Subject: x\n\ncheap");
	TokenFeatures subj = features("Subject: cheap\n\n");
	TokenFeatures upper = features("Subject: x\n\nCHEAP");
	TokenFeatures bang = features("Subject: x\n\n!");
	TokenFeatures dom = features("From: <a@spam.example>\n\n");
	TokenFeatures shortw = features("Subject: x\n\nab");

	CHECK(has(&a, &body));		/* a body word */
	CHECK(has(&a, &subj));		/* a Subject word, prefixed */
	CHECK(!has(&body, &subj));	/* ... and not the same token */
	/* "x" is too short to be a word: one token each */
	CHECK(body.n == 1 && upper.n == 1 && bang.n == 1);
	CHECK(upper.hash[0] == body.hash[0]);	/* case folded */
	CHECK(has(&a, &bang));
	/* the From domain's last two labels, "spam.example", are one token
	 * however the host is named; and only with from-domain */
	CHECK(shared(&a, &dom) == 1);
	opts.from_domain = FALSE;
	TokenFeatures nodom = features("From: <a@spam.example>\n\n");
	TokenFeatures anodom = features("From: Bob <bob@mail.spam.example>\n\n");
	opts.from_domain = TRUE;
	CHECK(shared(&anodom, &nodom) == 0);
	tokenstats_features_clear(&nodom);
	tokenstats_features_clear(&anodom);
	CHECK(shortw.n == 0);	/* "ab": too short */
	/* "cheap" twice in the body, "!" thrice: one token each, counted */
	gboolean two = FALSE, three = FALSE;
	for (int i = 0; i < a.n; i++) {
		two |= a.hash[i] == body.hash[0] && a.count[i] == 2;
		three |= a.hash[i] == bang.hash[0] && a.count[i] == 3;
	}
	CHECK(two && three);
	for (int i = 1; i < a.n; i++)
		CHECK(a.hash[i] > a.hash[i - 1]);
	/* pairs of words only when asked */
	TokenFeatures pair1 = features("Subject: x\n\nfree money");
	opts.bigrams = TRUE;
	TokenFeatures pair2 = features("Subject: x\n\nfree money");
	opts.bigrams = FALSE;
	CHECK((pair2.n) == (pair1.n + 1), "%d != %d", (int)(pair2.n), (int)(pair1.n + 1));
	/* bad bytes and an empty text do not break it */
	TokenFeatures e = features("");
	CHECK((e.n) == (0), "%d != %d", (int)(e.n), (int)(0));
	TokenFeatures *all[] = { &a, &body, &subj, &upper, &bang, &dom, &shortw,
				 &pair1, &pair2, &e };
	for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
		tokenstats_features_clear(all[i]);
}

/* trained - a model of 20 ham about meetings and 20 spam about prizes */
static TokenStats *
trained(void)
{
	TokenStats *ts = tokenstats_new(&opts);
	for (int i = 0; i < 40; i++) {
		gboolean spam = i % 2;
		g_autofree char *t = g_strdup_printf(
			"Subject: %s %d\nFrom: x%d@%s.example\n\n%s", spam ?
			"win a prize" : "meeting notes", i, i, spam ? "prizes" :
			"office", spam ? "claim your cash prize now, winner" :
			"the agenda for tuesday's project meeting");
		TokenFeatures f = features(t);
		tokenstats_add(ts, &f, spam);
		tokenstats_features_clear(&f);
	}
	tokenstats_finish(ts);
	return ts;
}

static const char *const probes[] = {
	"Subject: prize\n\nclaim the cash now",
	"Subject: notes\n\nproject agenda for the meeting",
	"Subject: hello\n\nnothing known here at all",
	"Subject: prize meeting\n\ncash agenda",
};

static void
test_score(void)
{
	g_autoptr(TokenStats) ts = trained();
	int used;

	CHECK(tokenstats_n_tokens(ts) > 10);
	CHECK(tokenstats_n_messages(ts, TRUE) == 20);
	CHECK(tokenstats_score_text(ts, probes[0], strlen(probes[0])) > 1);
	CHECK(tokenstats_score_text(ts, probes[1], strlen(probes[1])) < -1);
	TokenFeatures f = features(probes[2]);
	CHECK(tokenstats_score(ts, &f, &used) == 0);
	CHECK((used) == (0), "%d != %d", (int)(used), (int)(0));
	tokenstats_features_clear(&f);
	/* naive Bayes says the same, louder */
	opts.combine = TOKENSTATS_NAIVE;
	g_autoptr(TokenStats) nb = trained();
	opts.combine = TOKENSTATS_FISHER;
	CHECK(tokenstats_score_text(nb, probes[0], strlen(probes[0])) > 1);
	CHECK(tokenstats_score_text(nb, probes[1], strlen(probes[1])) < -1);
}

static void
test_options(void)
{
	TokenStatsOptions o;
	GError *e = NULL;

	tokenstats_options_default(&o);
	CHECK(tokenstats_options_parse(&o, "bigrams=1,sig=27,combine=naive,"
				       "ham-weight=2,min-dev=0.2", &e));
	CHECK(o.bigrams && o.max_sig == 27 && o.combine == TOKENSTATS_NAIVE &&
	      o.ham_weight == 2 && o.min_dev == 0.2);
	g_autofree char *d = tokenstats_options_describe(&o);
	TokenStatsOptions back;
	tokenstats_options_default(&back);
	CHECK(tokenstats_options_parse(&back, d, &e));
	CHECK(memcmp(&back, &o, sizeof o) == 0);
	static const char *const bad[] = { "sig=0", "sig=2.5", "prior=1",
		"min-dev=0.5", "ham-weight=0", "combine=max", "bigrams=2",
		"nosuch=1", "strength=x", "min-count=" };
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		tokenstats_options_default(&o);
		CHECK(!tokenstats_options_parse(&o, bad[i], &e));
		CHECK(e != NULL && strstr(e->message, "--tokens") != NULL);
		g_clear_error(&e);
	}
}

/* resum - put a valid checksum on BYTES (a changed file) */
static void
resum(guint8 *bytes, gsize len)
{
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	gsize n = 32;
	g_checksum_update(ck, bytes, (gssize)(len - 32));
	g_checksum_get_digest(ck, bytes + len - 32, &n);
}

/* refused - BYTES must not parse, with a message holding WHY */
static void
refused(const guint8 *bytes, gsize len, const char *why)
{
	GError *e = NULL;
	TokenStats *ts = tokenstats_parse(bytes, len, "t.bin", &e);
	CHECK(ts == NULL);
	CHECK(e != NULL && strstr(e->message, "t.bin") != NULL);
	if (e != NULL && why != NULL && strstr(e->message, why) == NULL) {
		fprintf(stderr, "message '%s' lacks '%s'\n", e->message, why);
		CHECK(FALSE);
	}
	tokenstats_free(ts);
	g_clear_error(&e);
}

static void
test_file(void)
{
	g_autoptr(TokenStats) ts = trained();
	gsize len;
	g_autofree guint8 *bytes = tokenstats_serialize(ts, &len);
	GError *e = NULL;

	/* round trip: the same scores, through a file too */
	g_autoptr(TokenStats) back = tokenstats_parse(bytes, len, "t.bin", &e);
	CHECK(back != NULL && e == NULL);
	g_autofree char *dir = g_dir_make_tmp("tokenstats.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "t.bin", NULL);
	CHECK(tokenstats_save(ts, path, &e));
	g_autoptr(TokenStats) loaded = tokenstats_load(path, &e);
	CHECK(loaded != NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(probes) && back && loaded; i++) {
		double z = tokenstats_score_text(ts, probes[i], strlen(probes[i]));
		CHECK(tokenstats_score_text(back, probes[i],
					    strlen(probes[i])) == z);
		CHECK(tokenstats_score_text(loaded, probes[i],
					    strlen(probes[i])) == z);
	}
	g_remove(path);
	g_rmdir(dir);
	CHECK(tokenstats_load("/nonexistent/t.bin", &e) == NULL && e != NULL);
	g_clear_error(&e);

	/* every truncation and every flipped byte */
	for (gsize n = 0; n < len; n++)
		refused(bytes, n, NULL);
	g_autofree guint8 *b = g_memdup2(bytes, len);
	for (gsize i = 0; i < len; i++) {
		b[i] ^= 0x20;
		refused(b, len, NULL);
		b[i] ^= 0x20;
	}
	refused(bytes, 10, "truncated");
	b[200] ^= 1;
	refused(b, len, "checksum");
	b[200] ^= 1;

	/* fields out of range, with a valid checksum: each named */
	struct { gsize at; guint8 v; const char *why; } bad[] = {
		{ 0, 'X', "magic" }, { 8, 2, "format 2" },
		{ 12, 99, "mailtext version" }, { 16, 0x80, "flags" },
		{ 20, 5, "combine" }, { 24, 0, "sig" }, { 28, 0, "min-count" },
		{ 39, 0xff, "strength" },	/* NaN */
		{ 47, 0x3f, "prior" },		/* 1.0 */
		{ 64, 0, "trained on" },
		{ 80, 200, "tokens" },		/* N past the bytes */
		{ 88, 0xff, "out of order" },	/* first hash above the next */
		{ 96, 0xff, "counts" },		/* ham count > messages */
	};
	for (gsize k = 0; k < G_N_ELEMENTS(bad); k++) {
		memcpy(b, bytes, len);
		b[bad[k].at] = bad[k].v;
		if (bad[k].at == 24 || bad[k].at == 28 || bad[k].at == 64)
			memset(b + bad[k].at, 0, bad[k].at == 64 ? 8 : 4);
		if (bad[k].at == 47)
			memcpy(b + 40, (guint8[]){ 0, 0, 0, 0, 0, 0, 0xf0, 0x3f },
			       8);
		if (bad[k].at == 88)
			memset(b + 88, 0xff, 8);
		resum(b, len);
		refused(b, len, bad[k].why);
	}
}

static void
test_fit_logistic(void)
{
	/* y ~ Bernoulli(sigmoid(2 x0 - 0.5 x1 + 1)) recovers the weights */
	const gsize n = 20000;
	double *x = g_new(double, 2 * n), w[3];
	gboolean *y = g_new(gboolean, n);
	GRand *r = g_rand_new_with_seed(7);

	for (gsize i = 0; i < n; i++) {
		x[2 * i] = g_rand_double_range(r, -3, 3);
		x[2 * i + 1] = g_rand_double_range(r, -3, 3) * 10;
		double z = 2 * x[2 * i] - 0.05 * x[2 * i + 1] + 1;
		y[i] = g_rand_double(r) < 1 / (1 + exp(-z));
	}
	CHECK(metrics_fit_logistic(x, y, n, 2, 1e-3, w));
	CHECK(fabs(w[0] - 2) < 0.15 && fabs(w[1] + 0.05) < 0.01 &&
	      fabs(w[2] - 1) < 0.15);
	/* separable: finite weights all the same (Platt's targets) */
	for (gsize i = 0; i < n; i++)
		y[i] = x[2 * i] > 0;
	CHECK(metrics_fit_logistic(x, y, 200, 2, 1e-3, w));
	CHECK(isfinite(w[0]) && w[0] > 1);
	g_rand_free(r);
	g_free(x);
	g_free(y);
}

int
main(void)
{
	tokenstats_options_default(&opts);
	test_features();
	test_score();
	test_options();
	test_file();
	test_fit_logistic();
	return check_summary("test_tokenstats");
}
