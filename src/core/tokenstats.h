/*
 * tokenstats.h - a token-statistics spam model: the second opinion beside
 * the transformer, read from the same extracted text (mailtext)
 *
 * Owns: the words of a message's text (header-line prefixes, optional word
 * pairs, the From domain) as 64-bit hashes; the ham and spam counts of every
 * token of a training set; Robinson's f(w) per token (strength, prior, ham
 * counts weighted as in Graham's plan); combining the most significant
 * tokens into one log-odds (Fisher's chi-square, or their naive-Bayes sum);
 * the file tokenstats.bin of a model bundle (versioned, SHA-256 checked,
 * every field bounded); and how a bundle's config.json asks for it
 * (gptmilter.tokenstats: file, weights of the combination).
 *	TokenStatsOptions o; tokenstats_options_default(&o);
 *	g_autoptr(TokenStats) ts = tokenstats_new(&o);
 *	tokenstats_features(&o, text, len, &f); tokenstats_add(ts, &f, is_spam);
 *	tokenstats_finish(ts); tokenstats_save(ts, "model/tokenstats.bin", &e);
 *	double z = tokenstats_score(ts, &f, NULL);	// > 0: spam
 * Not here: extracting the text (mailtext.c), mixing z with the
 * transformer's log-odds (classifier.c), fitting that mix (gptmilter-train
 * tokens, src/train/tokens.c).
 * Threads: a finished TokenStats is read-only and shared. Errors: loading
 * sets error naming the file and what is wrong with it.
 */
#ifndef GPTM_TOKENSTATS_H
#define GPTM_TOKENSTATS_H

#include <glib.h>
#include <stdint.h>
#include "bundle.h"

#define TOKENSTATS_FILE "tokenstats.bin"	/* the default file name */
#define TOKENSTATS_FORMAT 1			/* tokenstats.bin's version */
#define TOKENSTATS_MAX_FILE_BYTES (1u << 30)	/* larger files are refused */
#define TOKENSTATS_MAX_TOKENS (1u << 26)	/* entries of one file */

typedef enum {
	TOKENSTATS_FISHER = 0,	/* Fisher's chi-square of the f(w) both
				 * ways (Robinson, bogofilter) */
	TOKENSTATS_NAIVE = 1,	/* sum of log(f / (1 - f)), naive Bayes of
				 * the most significant (Graham, spamprobe) */
} TokenStatsCombine;

/* How text becomes tokens and tokens a score: all of it is part of a model
 * (recorded in its file), since a model only reads the tokens it counted. */
typedef struct {
	int mailtext_version;	/* the text layout counted (MAILTEXT_VERSION) */
	gboolean bigrams;	/* also pairs of consecutive words */
	gboolean from_domain;	/* also the From address's domain and its
				 * last two labels as tokens */
	gboolean per_occurrence; /* training counts every occurrence, not
				  * the messages a token is in */
	TokenStatsCombine combine;
	int max_sig;		/* the most significant tokens combined */
	int min_count;		/* tokens seen fewer (ham weighted) times
				 * are neutral, and not stored */
	double strength;	/* Robinson's s: weight of the prior */
	double prior;		/* Robinson's x: f of an unseen token */
	double min_dev;		/* tokens with |f - 0.5| below are ignored */
	double ham_weight;	/* ham counts are multiplied by this (Graham:
				 * 2, a bias against false positives) */
} TokenStatsOptions;

/* tokenstats_options_default - the defaults (see gptmilter-train(1)) */
void tokenstats_options_default(TokenStatsOptions *o);
/* tokenstats_options_parse - SPEC, comma-separated KEY=VALUE (bigrams,
 * from-domain, per-occurrence: 0/1; combine: fisher/naive; sig, min-count:
 * integers; strength, prior, min-dev, ham-weight: numbers) over O */
gboolean tokenstats_options_parse(TokenStatsOptions *o, const char *spec,
				  GError **error);
/* tokenstats_options_describe - O as a SPEC that parses back to it */
char *tokenstats_options_describe(const TokenStatsOptions *o);

/* The distinct tokens of one message, as ascending hashes with the number
 * of times each occurs. */
typedef struct {
	uint64_t *hash;		/* (n) ascending */
	uint32_t *count;	/* (n) >= 1 */
	int n;
} TokenFeatures;

/* tokenstats_features - the tokens of TEXT (LEN bytes of mailtext) into F
 * (its arrays replaced; free with tokenstats_features_clear) */
void tokenstats_features(const TokenStatsOptions *o, const char *text,
			 gsize len, TokenFeatures *f);
void tokenstats_features_clear(TokenFeatures *f);

typedef struct TokenStats TokenStats;

/* tokenstats_new - an empty model to train with options O */
TokenStats *tokenstats_new(const TokenStatsOptions *o);
/* tokenstats_add - count one training message's tokens */
void tokenstats_add(TokenStats *ts, const TokenFeatures *f, gboolean spam);
/* tokenstats_finish - merge the counts, drop tokens under min_count: the
 * model scores from now on and takes no more messages */
void tokenstats_finish(TokenStats *ts);
void tokenstats_free(TokenStats *ts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TokenStats, tokenstats_free)

const TokenStatsOptions *tokenstats_options(const TokenStats *ts);
gsize tokenstats_n_tokens(const TokenStats *ts);
/* tokenstats_n_messages - training messages counted of one kind */
guint64 tokenstats_n_messages(const TokenStats *ts, gboolean spam);

/* tokenstats_score - the log-odds (> 0: spam) of a message with tokens F;
 * *N_USED (if not NULL) gets how many tokens were combined. 0 when none is
 * significant. */
double tokenstats_score(const TokenStats *ts, const TokenFeatures *f,
			int *n_used);
/* tokenstats_score_text - the same from the message's text */
double tokenstats_score_text(const TokenStats *ts, const char *text,
			     gsize len);

/* tokenstats_serialize - the bytes of tokenstats.bin (*LEN of them) */
guint8 *tokenstats_serialize(const TokenStats *ts, gsize *len);
/* tokenstats_save - write PATH atomically */
gboolean tokenstats_save(const TokenStats *ts, const char *path,
			 GError **error);
/* tokenstats_parse - SIZE bytes of a tokenstats.bin (NAME in messages),
 * every field checked; the data is copied */
TokenStats *tokenstats_parse(const guint8 *data, gsize size, const char *name,
			     GError **error);
/* tokenstats_load - read and parse PATH */
TokenStats *tokenstats_load(const char *path, GError **error);

/* How a bundle combines the two: final log-odds of "not ham" =
 * weight_gpt * z_gpt + weight_tokens * z_tok + bias, where z_gpt is the
 * transformer's log-odds at temperature 1 and z_tok tokenstats_score. */
typedef struct {
	double weight_gpt, weight_tokens, bias;
} TokenStatsMix;

/* tokenstats_bundle_load - B's token model, when its config.json has
 * gptmilter.tokenstats (then *MIX gets the weights): NULL without error
 * when it has none; NULL with error when the field or the file is bad, or
 * the file's text layout is not MAILTEXT_VERSION_USED (the layout the
 * transformer is served) */
TokenStats *tokenstats_bundle_load(const Bundle *b, int mailtext_version_used,
				   TokenStatsMix *mix, GError **error);

#endif
