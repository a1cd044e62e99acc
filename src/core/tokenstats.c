/*
 * tokenstats.c - a token-statistics spam model read from the model's text
 *
 * Owns: tokens of mailtext output, counting them, Robinson's f(w) and
 * the two combinings, the tokenstats.bin format and its strict parser, and
 * the gptmilter.tokenstats field of config.json (see tokenstats.h).
 * Why a second model: the transformer and a token counter err on different
 * messages (bench/RESULTS.md, out of fold), and the mean of their opinions
 * errs less than either.
 * The file, all integers little-endian:
 *	0   "GPTMTOKS"	magic
 *	8   u32		format (TOKENSTATS_FORMAT)
 *	12  u32		mailtext version counted
 *	16  u32		flags: 1 bigrams, 2 from-domain, 4 per-occurrence
 *	20  u32		combine (TokenStatsCombine)
 *	24  u32		max_sig
 *	28  u32		min_count
 *	32  f64 x 4	strength, prior, min_dev, ham_weight
 *	64  u64 x 3	ham messages, spam messages, N tokens
 *	88  N x { u64 hash, u32 ham count, u32 spam count }, hashes ascending
 *	    32 bytes	SHA-256 of everything before it
 * Checked by: tests/test_tokenstats.c, tests/replay_tokenstats (fuzz seeds).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenstats.h"
#include "gptm_error.h"
#include "mailtext.h"
#include "mapfile.h"

#define HEADER_BYTES 88
#define ENTRY_BYTES 16
#define SUM_BYTES 32
#define MIN_WORD 3		/* bytes: shorter words carry little */
#define MAX_WORD 40		/* longer runs are encodings, not words */
#define FLAG_BIGRAMS 1u
#define FLAG_FROM_DOMAIN 2u
#define FLAG_PER_OCCURRENCE 4u
#define FLAGS_KNOWN (FLAG_BIGRAMS | FLAG_FROM_DOMAIN | FLAG_PER_OCCURRENCE)
#define MAX_SIG_LIMIT 10000

/* One token's counts: in training first one row per message and token,
 * merged by tokenstats_finish into one row per token. */
typedef struct {
	uint64_t hash;
	uint32_t ham, spam;
} Entry;

struct TokenStats {
	TokenStatsOptions o;
	guint64 n_ham, n_spam;	/* training messages */
	GArray *rows;		/* Entry, while training */
	Entry *e;		/* (n) ascending hashes, once finished */
	gsize n;
};

void
tokenstats_options_default(TokenStatsOptions *o)
{
	memset(o, 0, sizeof *o);
	o->mailtext_version = MAILTEXT_VERSION;
	o->bigrams = FALSE;
	o->from_domain = TRUE;
	o->per_occurrence = FALSE;
	o->combine = TOKENSTATS_FISHER;
	o->max_sig = 150;
	o->min_count = 2;
	o->strength = 1.0;
	o->prior = 0.5;
	o->min_dev = 0.1;
	o->ham_weight = 1.0;
}

/* options_check - whether O is a model's options; else ERROR, naming NAME */
static gboolean
options_check(const TokenStatsOptions *o, const char *name, GError **error)
{
	const char *bad = NULL;

	if (!mailtext_version_supported(o->mailtext_version) ||
	    o->mailtext_version == 0)
		bad = "mailtext version";
	else if (o->combine != TOKENSTATS_FISHER &&
		 o->combine != TOKENSTATS_NAIVE)
		bad = "combine";
	else if (o->max_sig < 1 || o->max_sig > MAX_SIG_LIMIT)
		bad = "sig (1 to 10000)";
	else if (o->min_count < 1 || o->min_count > 1000000)
		bad = "min-count (1 to 1000000)";
	else if (!(o->strength > 0 && o->strength <= 1000))
		bad = "strength (0 to 1000]";
	else if (!(o->prior > 0 && o->prior < 1))
		bad = "prior (0 to 1)";
	else if (!(o->min_dev >= 0 && o->min_dev < 0.5))
		bad = "min-dev [0, 0.5)";
	else if (!(o->ham_weight > 0 && o->ham_weight <= 100))
		bad = "ham-weight (0 to 100]";
	if (bad == NULL)
		return TRUE;
	g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
		    "%s: token model option %s out of range", name, bad);
	return FALSE;
}

/* parse_bool - "0"/"1" (or no/yes) into *V */
static gboolean
parse_bool(const char *s, gboolean *v)
{
	if (strcmp(s, "1") == 0 || strcmp(s, "yes") == 0) {
		*v = TRUE;
		return TRUE;
	}
	if (strcmp(s, "0") == 0 || strcmp(s, "no") == 0) {
		*v = FALSE;
		return TRUE;
	}
	return FALSE;
}

/* parse_num - a whole string as a finite double */
static gboolean
parse_num(const char *s, double *v)
{
	char *end;

	*v = g_ascii_strtod(s, &end);
	return *s != '\0' && *end == '\0' && isfinite(*v);
}

/* tokenstats_options_parse - see tokenstats.h */
gboolean
tokenstats_options_parse(TokenStatsOptions *o, const char *spec,
			 GError **error)
{
	g_auto(GStrv) items = g_strsplit(spec, ",", -1);

	for (char **it = items; *it; it++) {
		if (**it == '\0')
			continue;
		const char *eq = strchr(*it, '=');
		g_autofree char *key = eq ? g_strndup(*it, (gsize)(eq - *it)) :
					    g_strdup(*it);
		const char *val = eq ? eq + 1 : "";
		double d = 0;
		gboolean ok = FALSE;

		if (strcmp(key, "bigrams") == 0)
			ok = parse_bool(val, &o->bigrams);
		else if (strcmp(key, "from-domain") == 0)
			ok = parse_bool(val, &o->from_domain);
		else if (strcmp(key, "per-occurrence") == 0)
			ok = parse_bool(val, &o->per_occurrence);
		else if (strcmp(key, "combine") == 0) {
			ok = strcmp(val, "fisher") == 0 ||
			     strcmp(val, "naive") == 0;
			o->combine = strcmp(val, "naive") == 0 ?
				     TOKENSTATS_NAIVE : TOKENSTATS_FISHER;
		} else if (strcmp(key, "sig") == 0 || strcmp(key, "min-count") == 0) {
			ok = parse_num(val, &d) && d == floor(d) && d >= 0 &&
			     d <= 1e6;
			*(key[0] == 's' ? &o->max_sig : &o->min_count) = (int)d;
		} else if (strcmp(key, "strength") == 0)
			ok = parse_num(val, &o->strength);
		else if (strcmp(key, "prior") == 0)
			ok = parse_num(val, &o->prior);
		else if (strcmp(key, "min-dev") == 0)
			ok = parse_num(val, &o->min_dev);
		else if (strcmp(key, "ham-weight") == 0)
			ok = parse_num(val, &o->ham_weight);
		else {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "--tokens %s: unknown key %s (bigrams, "
				    "from-domain, per-occurrence, combine, sig, "
				    "min-count, strength, prior, min-dev, "
				    "ham-weight)", spec, key);
			return FALSE;
		}
		if (!ok) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
				    "--tokens %s: bad value for %s", spec, key);
			return FALSE;
		}
	}
	return options_check(o, "--tokens", error);
}

/* num - D in BUF (G_ASCII_DTOSTR_BUF_SIZE) as short as reads back exactly */
static const char *
num(char *buf, double d)
{
	g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, "%.15g", d);
	if (g_ascii_strtod(buf, NULL) != d)
		g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, "%.17g", d);
	return buf;
}

/* tokenstats_options_describe - see tokenstats.h */
char *
tokenstats_options_describe(const TokenStatsOptions *o)
{
	char s[4][G_ASCII_DTOSTR_BUF_SIZE];

	return g_strdup_printf("bigrams=%d,from-domain=%d,per-occurrence=%d,"
			       "combine=%s,sig=%d,min-count=%d,strength=%s,"
			       "prior=%s,min-dev=%s,ham-weight=%s",
			       o->bigrams, o->from_domain, o->per_occurrence,
			       o->combine == TOKENSTATS_NAIVE ? "naive" :
			       "fisher", o->max_sig, o->min_count,
			       num(s[0], o->strength), num(s[1], o->prior),
			       num(s[2], o->min_dev), num(s[3], o->ham_weight));
}

/* ---- text to tokens ---- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/* fnv - continue FNV-1a hash H over LEN bytes of S, ASCII lower-cased */
static uint64_t
fnv(uint64_t h, const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		h ^= (guchar)g_ascii_tolower(s[i]);
		h *= FNV_PRIME;
	}
	return h;
}

/* word_byte - may start and end a word: letters, digits, '$', and any byte
 * of a multi-byte UTF-8 character (letters of other scripts) */
static inline gboolean
word_byte(guchar c)
{
	return g_ascii_isalnum(c) || c == '$' || c >= 0x80;
}

/* inner_byte - may stand inside a word: "e-mail", "don't", "example.com" */
static inline gboolean
inner_byte(guchar c)
{
	return word_byte(c) || c == '.' || c == '-' || c == '\'';
}

typedef struct {
	GArray *h;		/* uint64_t: every token, with repeats */
	const TokenStatsOptions *o;
} Collect;

static void
emit(Collect *c, const char *prefix, const char *s, gsize len)
{
	uint64_t h = fnv(FNV_OFFSET, prefix, strlen(prefix));
	h = fnv(h, s, len);
	g_array_append_val(c->h, h);
}

/* from_domain - the domain of the last address in a From line's value, and
 * its last two labels, as tokens "@domain" and "@@tail" */
static void
from_domain(Collect *c, const char *s, gsize len)
{
	const char *at = NULL;

	for (gsize i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	if (at == NULL)
		return;
	const char *d = at + 1, *end = d;
	while (end < s + len && (g_ascii_isalnum(*end) || *end == '.' ||
				 *end == '-'))
		end++;
	while (end > d && end[-1] == '.')
		end--;
	if (end == d)
		return;
	emit(c, "@", d, (gsize)(end - d));
	/* the registered part is what a sender cannot vary per message */
	int dots = 0;
	const char *tail = d;
	for (const char *p = end; p > d; p--)
		if (p[-1] == '.' && ++dots == 2) {
			tail = p;
			break;
		}
	emit(c, "@@", tail, (gsize)(end - tail));
}

/* words - the words of S (LEN bytes) with PREFIX; word pairs too when
 * PAIRS. '!' and a lone '$' count as words: spam shouts and prices. */
static void
words(Collect *c, const char *prefix, const char *s, gsize len,
      gboolean pairs)
{
	const char *prev = NULL;
	gsize prev_len = 0, i = 0;

	while (i < len) {
		guchar ch = (guchar)s[i];
		if (!word_byte(ch)) {
			if (ch == '!')
				emit(c, prefix, "!", 1);
			i++;
			continue;
		}
		gsize j = i;
		while (j < len && inner_byte((guchar)s[j]))
			j++;
		gsize end = j;
		while (end > i && !word_byte((guchar)s[end - 1]))
			end--;
		gsize wl = end - i;
		if (wl >= MIN_WORD && wl <= MAX_WORD) {
			emit(c, prefix, s + i, wl);
			if (pairs && prev != NULL) {
				uint64_t h = fnv(FNV_OFFSET, prefix,
						 strlen(prefix));
				h = fnv(h, prev, prev_len);
				h = fnv(h, "\x01", 1);	/* no word holds it */
				h = fnv(h, s + i, wl);
				g_array_append_val(c->h, h);
			}
			prev = s + i;
			prev_len = wl;
		} else if (wl == 1 && s[i] == '$') {
			emit(c, prefix, "$", 1);
		}
		i = j;
	}
}

/* header_prefix - the prefix of the tokens of header line NAME */
static const char *
header_prefix(const char *name, gsize len)
{
	static const char *const known[][2] = {
		{ "Subject", "s:" }, { "From", "f:" }, { "To", "t:" },
		{ "X-Mailer", "x:" }, { "User-Agent", "u:" },
		{ "Content-Type", "c:" },
	};

	for (gsize k = 0; k < G_N_ELEMENTS(known); k++)
		if (strlen(known[k][0]) == len &&
		    g_ascii_strncasecmp(name, known[k][0], len) == 0)
			return known[k][1];
	return "h:";
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* tokenstats_features - see tokenstats.h. The text is mailtext's layout:
 * header lines "Name: value" up to the first empty line, then the body. */
void
tokenstats_features(const TokenStatsOptions *o, const char *text, gsize len,
		    TokenFeatures *f)
{
	Collect c = { g_array_new(FALSE, FALSE, sizeof(uint64_t)), o };
	gsize i = 0;

	tokenstats_features_clear(f);
	while (i < len) {	/* the header lines */
		const char *nl = memchr(text + i, '\n', len - i);
		gsize end = nl ? (gsize)(nl - text) : len;
		const char *line = text + i, *colon;
		gsize ll = end - i;
		i = nl ? end + 1 : len;
		if (ll == 0)
			break;
		colon = memchr(line, ':', ll);
		if (colon == NULL) {	/* not a header: the body began */
			i = (gsize)(line - text);
			break;
		}
		gsize nlen = (gsize)(colon - line);
		const char *v = colon + 1;
		gsize vl = ll - nlen - 1;
		const char *prefix = header_prefix(line, nlen);
		words(&c, prefix, v, vl, o->bigrams && prefix[0] == 's');
		if (o->from_domain && prefix[0] == 'f')
			from_domain(&c, v, vl);
	}
	words(&c, "", text + i, len - i, o->bigrams);

	/* sorted, then runs of equal hashes become one token and a count */
	uint64_t *h = (uint64_t *)c.h->data;
	gsize n = c.h->len, k = 0;
	if (n > 1)	/* an empty GArray's data may be NULL: not for qsort */
		qsort(h, n, sizeof *h, cmp_u64);
	f->hash = g_new(uint64_t, n ? n : 1);
	f->count = g_new(uint32_t, n ? n : 1);
	for (gsize a = 0; a < n; ) {
		gsize b = a;
		while (b < n && h[b] == h[a])
			b++;
		f->hash[k] = h[a];
		f->count[k] = (uint32_t)MIN(b - a, G_MAXUINT32);
		k++;
		a = b;
	}
	f->n = (int)k;
	g_array_free(c.h, TRUE);
}

void
tokenstats_features_clear(TokenFeatures *f)
{
	g_clear_pointer(&f->hash, g_free);
	g_clear_pointer(&f->count, g_free);
	f->n = 0;
}

/* ---- training ---- */

TokenStats *
tokenstats_new(const TokenStatsOptions *o)
{
	TokenStats *ts = g_new0(TokenStats, 1);

	ts->o = *o;
	ts->rows = g_array_new(FALSE, FALSE, sizeof(Entry));
	return ts;
}

void
tokenstats_free(TokenStats *ts)
{
	if (ts == NULL)
		return;
	if (ts->rows)
		g_array_free(ts->rows, TRUE);
	g_free(ts->e);
	g_free(ts);
}

/* tokenstats_add - one row per token of the message: sorting them all
 * once in tokenstats_finish is simpler and faster than a hash table */
void
tokenstats_add(TokenStats *ts, const TokenFeatures *f, gboolean spam)
{
	g_return_if_fail(ts->rows != NULL);
	for (int i = 0; i < f->n; i++) {
		uint32_t k = ts->o.per_occurrence ? f->count[i] : 1;
		Entry e = { f->hash[i], spam ? 0 : k, spam ? k : 0 };
		g_array_append_val(ts->rows, e);
	}
	if (spam)
		ts->n_spam++;
	else
		ts->n_ham++;
}

static int
cmp_entry(const void *a, const void *b)
{
	return cmp_u64(&((const Entry *)a)->hash, &((const Entry *)b)->hash);
}

/* weighted - a token's sightings with ham weighted: what min_count bounds */
static inline double
weighted(const TokenStatsOptions *o, const Entry *e)
{
	return o->ham_weight * e->ham + e->spam;
}

void
tokenstats_finish(TokenStats *ts)
{
	g_return_if_fail(ts->rows != NULL);
	Entry *r = (Entry *)ts->rows->data;
	gsize n = ts->rows->len, k = 0;

	if (n > 1)
		qsort(r, n, sizeof *r, cmp_entry);
	for (gsize a = 0; a < n; ) {
		Entry m = { r[a].hash, 0, 0 };
		gsize b = a;
		for (; b < n && r[b].hash == m.hash; b++) {
			m.ham = (uint32_t)MIN((guint64)m.ham + r[b].ham,
					      G_MAXINT32);
			m.spam = (uint32_t)MIN((guint64)m.spam + r[b].spam,
					       G_MAXINT32);
		}
		if (weighted(&ts->o, &m) >= ts->o.min_count)
			r[k++] = m;	/* k <= a: in place */
		a = b;
	}
	ts->n = k;
	ts->e = g_new(Entry, k ? k : 1);
	if (k > 0)
		memcpy(ts->e, r, k * sizeof *r);
	g_array_free(ts->rows, TRUE);
	ts->rows = NULL;
}

const TokenStatsOptions *tokenstats_options(const TokenStats *ts) { return &ts->o; }
gsize tokenstats_n_tokens(const TokenStats *ts) { return ts->n; }

guint64
tokenstats_n_messages(const TokenStats *ts, gboolean spam)
{
	return spam ? ts->n_spam : ts->n_ham;
}

/* ---- scoring ---- */

static const Entry *
lookup(const TokenStats *ts, uint64_t h)
{
	gsize lo = 0, hi = ts->n;

	while (lo < hi) {
		gsize mid = lo + (hi - lo) / 2;
		if (ts->e[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ts->n && ts->e[lo].hash == h ? &ts->e[lo] : NULL;
}

/* robinson_f - Robinson's f(w): the spam probability of a token from its
 * per-message frequencies in spam and (weighted) ham, pulled towards the
 * prior x with strength s when it was seen in few messages */
static double
robinson_f(const TokenStats *ts, const Entry *e)
{
	const TokenStatsOptions *o = &ts->o;
	double b = e->spam / (double)MAX(ts->n_spam, 1);
	double g = o->ham_weight * e->ham / (double)MAX(ts->n_ham, 1);
	double n = (double)e->ham + e->spam;
	double p = b + g > 0 ? b / (b + g) : o->prior;

	return (o->strength * o->prior + n * p) / (o->strength + n);
}

/* log_chi2_q - log P(chi-square with 2K degrees of freedom >= X2): for
 * even degrees of freedom the survival function is the sum
 * e^-m sum_{i<K} m^i / i!, m = X2 / 2, taken here in logs so that a
 * message of 150 strong tokens does not round to 0 or 1 */
static double
log_chi2_q(double x2, int k)
{
	double m = x2 / 2, lm, best = -INFINITY, sum = 0;

	if (m <= 0)
		return 0;
	lm = log(m);
	/* the terms rise while i < m: the largest is at i = min(floor m, K-1) */
	int top = (int)MIN(floor(m), (double)(k - 1));
	best = top * lm - lgamma(top + 1.0);
	for (int i = 0; i < k; i++)
		sum += exp(i * lm - lgamma(i + 1.0) - best);
	return MIN(0.0, -m + best + log(sum));
}

typedef struct {
	double f, dev;
	uint64_t hash;
} Sig;

static int
cmp_sig(const void *a, const void *b)
{
	const Sig *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev > y->dev ? -1 : 1;
	return cmp_u64(&x->hash, &y->hash);	/* ties: a fixed order */
}

/* tokenstats_score - see tokenstats.h */
double
tokenstats_score(const TokenStats *ts, const TokenFeatures *f, int *n_used)
{
	const TokenStatsOptions *o = &ts->o;
	Sig *sig = g_new(Sig, f->n ? f->n : 1);
	int n = 0;
	double z = 0;

	g_return_val_if_fail(ts->rows == NULL, 0);
	for (int i = 0; i < f->n; i++) {
		const Entry *e = lookup(ts, f->hash[i]);
		if (e == NULL || weighted(o, e) < o->min_count)
			continue;
		double fw = robinson_f(ts, e);
		/* bounded away from 0 and 1: one token never decides alone */
		fw = CLAMP(fw, 1e-4, 1 - 1e-4);
		if (fabs(fw - 0.5) >= o->min_dev && fabs(fw - 0.5) > 0)
			sig[n++] = (Sig){ fw, fabs(fw - 0.5), f->hash[i] };
	}
	if (n > o->max_sig) {
		qsort(sig, (gsize)n, sizeof *sig, cmp_sig);
		n = o->max_sig;
	}
	if (o->combine == TOKENSTATS_NAIVE) {
		for (int i = 0; i < n; i++)
			z += log(sig[i].f) - log1p(-sig[i].f);
	} else if (n > 0) {
		/* Fisher: how unlikely the f(w) are as chance, towards spam
		 * (log H, from the 1 - f) and towards ham (log S, from the
		 * f); their difference is the log-odds, 0 when they agree */
		double ls = 0, lh = 0;
		for (int i = 0; i < n; i++) {
			ls += log(sig[i].f);
			lh += log1p(-sig[i].f);
		}
		z = log_chi2_q(-2 * ls, n) - log_chi2_q(-2 * lh, n);
	}
	g_free(sig);
	if (n_used)
		*n_used = n;
	return z;
}

double
tokenstats_score_text(const TokenStats *ts, const char *text, gsize len)
{
	TokenFeatures f = { 0 };

	tokenstats_features(&ts->o, text, len, &f);
	double z = tokenstats_score(ts, &f, NULL);
	tokenstats_features_clear(&f);
	return z;
}

/* ---- the file ---- */

static void
put32(guint8 *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (guint8)(v >> (8 * i));
}

static void
put64(guint8 *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (guint8)(v >> (8 * i));
}

static uint32_t
get32(const guint8 *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
get64(const guint8 *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
putf64(guint8 *p, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	put64(p, v);
}

static double
getf64(const guint8 *p)
{
	uint64_t v = get64(p);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

/* sha256 - the SHA-256 of LEN bytes of DATA into OUT (32 bytes) */
static void
sha256(const guint8 *data, gsize len, guint8 *out)
{
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	gsize n = SUM_BYTES;

	g_checksum_update(ck, data, (gssize)len);
	g_checksum_get_digest(ck, out, &n);
}

guint8 *
tokenstats_serialize(const TokenStats *ts, gsize *len)
{
	const TokenStatsOptions *o = &ts->o;
	gsize size = HEADER_BYTES + ts->n * ENTRY_BYTES + SUM_BYTES;
	guint8 *p = g_malloc0(size);

	g_return_val_if_fail(ts->rows == NULL, NULL);
	memcpy(p, "GPTMTOKS", 8);
	put32(p + 8, TOKENSTATS_FORMAT);
	put32(p + 12, (uint32_t)o->mailtext_version);
	put32(p + 16, (o->bigrams ? FLAG_BIGRAMS : 0) |
		      (o->from_domain ? FLAG_FROM_DOMAIN : 0) |
		      (o->per_occurrence ? FLAG_PER_OCCURRENCE : 0));
	put32(p + 20, (uint32_t)o->combine);
	put32(p + 24, (uint32_t)o->max_sig);
	put32(p + 28, (uint32_t)o->min_count);
	putf64(p + 32, o->strength);
	putf64(p + 40, o->prior);
	putf64(p + 48, o->min_dev);
	putf64(p + 56, o->ham_weight);
	put64(p + 64, ts->n_ham);
	put64(p + 72, ts->n_spam);
	put64(p + 80, ts->n);
	for (gsize i = 0; i < ts->n; i++) {
		guint8 *q = p + HEADER_BYTES + i * ENTRY_BYTES;
		put64(q, ts->e[i].hash);
		put32(q + 8, ts->e[i].ham);
		put32(q + 12, ts->e[i].spam);
	}
	sha256(p, size - SUM_BYTES, p + size - SUM_BYTES);
	*len = size;
	return p;
}

gboolean
tokenstats_save(const TokenStats *ts, const char *path, GError **error)
{
	gsize len;
	g_autofree guint8 *p = tokenstats_serialize(ts, &len);

	return mapfile_write_atomic(path, p, len, error);
}

static gboolean
bad_file(GError **error, const char *name, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static gboolean
bad_file(GError **error, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
		    "%s: not a usable token model (%s); retrain it with "
		    "gptmilter-train tokens", name, why);
	return FALSE;
}

/* tokenstats_parse - see tokenstats.h. Validated before anything is
 * allocated by what the file says: sizes, then the checksum, then each
 * field and the order of the hashes. */
TokenStats *
tokenstats_parse(const guint8 *data, gsize size, const char *name,
		 GError **error)
{
	TokenStatsOptions o;
	guint8 sum[SUM_BYTES];

	if (size < HEADER_BYTES + SUM_BYTES) {
		bad_file(error, name, "%zu bytes, truncated", size);
		return NULL;
	}
	if (memcmp(data, "GPTMTOKS", 8) != 0) {
		bad_file(error, name, "bad magic");
		return NULL;
	}
	if (get32(data + 8) != TOKENSTATS_FORMAT) {
		bad_file(error, name, "format %u, this program reads %d",
			 get32(data + 8), TOKENSTATS_FORMAT);
		return NULL;
	}
	uint64_t n = get64(data + 80);
	if (n > TOKENSTATS_MAX_TOKENS ||
	    size != HEADER_BYTES + n * ENTRY_BYTES + SUM_BYTES) {
		bad_file(error, name, "%zu bytes for %" G_GUINT64_FORMAT
			 " tokens: truncated or corrupt", size, n);
		return NULL;
	}
	sha256(data, size - SUM_BYTES, sum);
	if (memcmp(sum, data + size - SUM_BYTES, SUM_BYTES) != 0) {
		bad_file(error, name, "checksum mismatch: corrupt");
		return NULL;
	}
	uint32_t flags = get32(data + 16);
	if (flags & ~FLAGS_KNOWN) {
		bad_file(error, name, "unknown flags 0x%x", flags);
		return NULL;
	}
	memset(&o, 0, sizeof o);
	o.mailtext_version = (int)MIN(get32(data + 12), G_MAXINT);
	o.bigrams = (flags & FLAG_BIGRAMS) != 0;
	o.from_domain = (flags & FLAG_FROM_DOMAIN) != 0;
	o.per_occurrence = (flags & FLAG_PER_OCCURRENCE) != 0;
	o.combine = (TokenStatsCombine)MIN(get32(data + 20), 1000u);
	o.max_sig = (int)MIN(get32(data + 24), (uint32_t)G_MAXINT);
	o.min_count = (int)MIN(get32(data + 28), (uint32_t)G_MAXINT);
	o.strength = getf64(data + 32);
	o.prior = getf64(data + 40);
	o.min_dev = getf64(data + 48);
	o.ham_weight = getf64(data + 56);
	if (!options_check(&o, name, error))
		return NULL;
	uint64_t n_ham = get64(data + 64), n_spam = get64(data + 72);
	if (n_ham < 1 || n_spam < 1 || n_ham > G_MAXUINT32 ||
	    n_spam > G_MAXUINT32) {
		bad_file(error, name, "trained on %" G_GUINT64_FORMAT " ham and %"
			 G_GUINT64_FORMAT " spam", n_ham, n_spam);
		return NULL;
	}
	TokenStats *ts = g_new0(TokenStats, 1);
	ts->o = o;
	ts->n_ham = n_ham;
	ts->n_spam = n_spam;
	ts->n = (gsize)n;
	ts->e = g_new(Entry, n ? n : 1);
	for (gsize i = 0; i < ts->n; i++) {
		const guint8 *q = data + HEADER_BYTES + i * ENTRY_BYTES;
		Entry *e = &ts->e[i];
		e->hash = get64(q);
		e->ham = get32(q + 8);
		e->spam = get32(q + 12);
		if ((i > 0 && e->hash <= ts->e[i - 1].hash) ||
		    e->ham > G_MAXINT32 || e->spam > G_MAXINT32 ||
		    (!o.per_occurrence && (e->ham > n_ham || e->spam > n_spam))) {
			bad_file(error, name, "token %zu out of order or its "
				 "counts out of range", i);
			tokenstats_free(ts);
			return NULL;
		}
	}
	return ts;
}

TokenStats *
tokenstats_load(const char *path, GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(MapFile) mf = mapfile_open(path, &err);

	if (mf == NULL) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL, "%s",
			    err->message);
		return NULL;
	}
	if (mf->size > TOKENSTATS_MAX_FILE_BYTES) {
		bad_file(error, path, "%zu bytes, more than %u", mf->size,
			 TOKENSTATS_MAX_FILE_BYTES);
		return NULL;
	}
	return tokenstats_parse(mf->data, mf->size, path, error);
}

/* get_number - member KEY of O as a finite number into *V */
static gboolean
get_number(JsonObject *o, const char *key, double *v)
{
	JsonNode *n = json_object_get_member(o, key);

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) ||
	    (json_node_get_value_type(n) != G_TYPE_DOUBLE &&
	     json_node_get_value_type(n) != G_TYPE_INT64))
		return FALSE;
	*v = json_node_get_double(n);
	return isfinite(*v);
}

/* tokenstats_bundle_load - see tokenstats.h */
TokenStats *
tokenstats_bundle_load(const Bundle *b, int mailtext_version_used,
		       TokenStatsMix *mix, GError **error)
{
	JsonObject *g = bundle_extra(b);
	JsonNode *n = g ? json_object_get_member(g, "tokenstats") : NULL;
	g_autofree char *cfg = g_build_filename(b->dir, "config.json", NULL);

	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return NULL;
	JsonObject *t = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) :
			NULL;
	JsonNode *fn = t ? json_object_get_member(t, "file") : NULL;
	const char *file = fn && JSON_NODE_HOLDS_VALUE(fn) &&
			   json_node_get_value_type(fn) == G_TYPE_STRING ?
			   json_node_get_string(fn) : NULL;
	/* a file of the bundle, never a path out of it */
	if (file == NULL || *file == '\0' || strchr(file, '/') ||
	    strcmp(file, ".") == 0 || strcmp(file, "..") == 0 ||
	    !get_number(t, "weight_gpt", &mix->weight_gpt) ||
	    !get_number(t, "weight_tokens", &mix->weight_tokens) ||
	    !get_number(t, "bias", &mix->bias)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: field 'gptmilter.tokenstats' must be an object "
			    "with 'file' (a file name in the bundle), "
			    "'weight_gpt', 'weight_tokens' and 'bias' (numbers)",
			    cfg);
		return NULL;
	}
	g_autofree char *path = g_build_filename(b->dir, file, NULL);
	TokenStats *ts = tokenstats_load(path, error);
	if (ts != NULL && ts->o.mailtext_version != mailtext_version_used) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: counted text layout %d, the model is served "
			    "layout %d; retrain it with gptmilter-train tokens",
			    path, ts->o.mailtext_version, mailtext_version_used);
		g_clear_pointer(&ts, tokenstats_free);
	}
	return ts;
}
