/*
 * corpus.h - labelled mail for training and evaluation
 *
 * Owns: reading messages from Maildirs (cur/ and new/), mbox files (split on
 * "From " lines, mboxrd ">From " unquoting), directory trees of message
 * files (recursive, dotfiles skipped, sorted so runs are reproducible) and
 * TSV files of label<TAB>text; class names; dropping duplicates (SHA-256 of
 * the message bytes); each example's source group for per-source reports;
 * the deterministic train/validation/test split; and turning every message
 * into token ids with the same mailtext + tokens_from_text as the milter.
 * Not here: batching, balancing and epochs (src/train/), metrics (metrics.c).
 *	g_autoptr(Corpus) c = corpus_new();
 *	int spam = corpus_class(c, "spam");
 *	corpus_add(c, "/srv/mail/spam", spam, CORPUS_AUTO, &error);
 *	corpus_assign_split(c, 70, 10, seed);
 *	corpus_tokenize(c, bpe, 256, eot, 2);
 * Formats: a TSV line is LABEL<TAB>TEXT, TEXT with \n, \t, \r and \\
 * escapes; the text is what the model reads (mailtext is not applied). Lines
 * starting with '#' and empty lines are skipped.
 * Source group: the first directory level below the PATH given (for
 * /c/ham/hard-ham-1/x.eml under /c/ham it is "hard-ham-1"), else the base
 * name of PATH (or of the mbox file holding the message).
 * Threads: a Corpus belongs to one thread (corpus_tokenize uses workers
 * internally). Errors: a PATH that cannot be read, or holds no message, sets
 * error; a bad file inside a tree is a warning (corpus->warnings) and counted.
 */
#ifndef GPTM_CORPUS_H
#define GPTM_CORPUS_H

#include <glib.h>
#include <stdint.h>
#include "bpe.h"
#include "tokenstats.h"

typedef enum {
	CORPUS_AUTO = -1,	/* decided later by corpus_assign_split */
	CORPUS_TRAIN = 0,
	CORPUS_VAL = 1,
	CORPUS_TEST = 2,
	CORPUS_N_SPLITS = 3,
} CorpusSplit;

#define CORPUS_MAX_MESSAGE_BYTES (64u << 20)	/* larger files are skipped */

typedef struct {
	char *path;		/* the file; "FILE:N" for the Nth (1-based)
				 * message of an mbox or line of a TSV */
	char *source;		/* source group (see above) */
	int label;		/* class id, or -1 for unlabelled */
	int split;		/* CorpusSplit */
	char digest[65];	/* SHA-256 of the bytes, hex */
	char *data;		/* message bytes (text when is_text) until
				 * corpus_tokenize frees them */
	gsize len;
	gboolean is_text;	/* TSV: DATA is already the extracted text */
	int32_t *ids;		/* (n_ids) after corpus_tokenize */
	int n_ids;
	int32_t *bare_ids;	/* (n_bare_ids) the bare-header view of a
				 * training message when the corpus asks for
				 * bare_views, else NULL */
	int n_bare_ids;
	gsize text_len;		/* bytes of extracted text */
	const char *script;	/* its dominant script (scripts.h), interned,
				 * after corpus_tokenize */
	TokenFeatures tok;	/* its tokens for the token model, after
				 * corpus_tokenize when the corpus has
				 * token_opts (else empty) */
} CorpusItem;

typedef struct {
	GPtrArray *classes;	/* char * class names, index = id */
	GPtrArray *items;	/* CorpusItem *, in the order read */
	GHashTable *seen;	/* digest -> GINT_TO_POINTER(index + 1) */
	gsize n_duplicates;	/* messages dropped as already seen */
	gsize n_bad;		/* unreadable, empty, oversized or not mail */
	GPtrArray *warnings;	/* char *, the first CORPUS_MAX_WARNINGS */
	gsize n_warnings;
	gboolean bare_views;	/* corpus_tokenize also gives each training
				 * message (not TSV text) its bare_ids */
	int mailtext_version;	/* layout corpus_tokenize extracts (0: the
				 * current MAILTEXT_VERSION) */
	gboolean keep_duplicates;	/* add every message, seen or not
					 * (gptmilter-classify scores each) */
	const TokenStatsOptions *token_opts;	/* corpus_tokenize also gives
						 * each item its tokens for
						 * the token model (borrowed;
						 * NULL: none) */
} Corpus;

#define CORPUS_MAX_WARNINGS 100

Corpus *corpus_new(void);
void corpus_free(Corpus *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Corpus, corpus_free)

/* corpus_class - id of class NAME, added if new */
int corpus_class(Corpus *c, const char *name);
/* corpus_class_find - id of class NAME, or -1 */
int corpus_class_find(const Corpus *c, const char *name);

/*
 * corpus_add - read every message under PATH (a Maildir, a directory tree, an
 * mbox, a TSV file ending in .tsv, or one message file) as class LABEL (-1:
 * unlabelled; a TSV's own labels are used when LABEL is -1) into SPLIT.
 * Returns FALSE with error if PATH cannot be read or gives no new message
 * (*N_ADDED, if not NULL, gets how many were added).
 */
gboolean corpus_add(Corpus *c, const char *path, int label, int split,
		    gsize *n_added, GError **error);

/* corpus_add_message - one message (copied) with its path and source;
 * returns FALSE if it duplicates an earlier one (counted) */
gboolean corpus_add_message(Corpus *c, const char *data, gsize len,
			    gboolean is_text, const char *path,
			    const char *source, int label, int split);

/* corpus_split_of - the split a digest falls into for TRAIN_PCT/VAL_PCT
 * (rest test) and SEED: a hash of seed and content, so it is stable across
 * runs and independent of the order or the other messages */
int corpus_split_of(const char *digest, int train_pct, int val_pct,
		    guint64 seed);
/* corpus_assign_split - give every CORPUS_AUTO item its corpus_split_of */
void corpus_assign_split(Corpus *c, int train_pct, int val_pct, guint64 seed);
/* corpus_parse_split - "70/10/20" (must sum to 100) */
gboolean corpus_parse_split(const char *spec, int *train_pct, int *val_pct,
			    GError **error);

/* corpus_tokenize - every item to 1 .. MAX_TOKENS ids: mailtext_extract
 * (unless is_text) then tokens_from_text, and the dominant script of that
 * text (scripts_dominant); the bytes are freed. With bare_views, training
 * messages get their bare-header view too (MailtextOptions.bare_headers);
 * with token_opts, the token model's tokens of the text. BPE NULL: no ids
 * (n_ids 0), for a token model alone. N_THREADS workers (<= 1: this
 * thread). */
void corpus_tokenize(Corpus *c, const Bpe *bpe, int max_tokens,
		     int32_t eot_id, int n_threads);

/* corpus_count - items of SPLIT (-1: any) and LABEL (-2: any) */
gsize corpus_count(const Corpus *c, int split, int label);
CorpusItem *corpus_item(const Corpus *c, gsize i);
gsize corpus_n_items(const Corpus *c);

#endif
