/*
 * bpe.h - GPT-2 byte-level BPE tokenizer
 *
 * Owns: loading vocab.json + merges.txt (or encoder.json + vocab.bpe), the
 * GPT-2 pre-tokenization rule (contractions, letter runs, number runs, other
 * symbols, whitespace look-ahead), encoding text to ids and ids back to bytes.
 * Not here: text normalisation (mailtext.c), truncation policy (classifier.c).
 *	g_autoptr(Bpe) bpe = bpe_load(vocab_path, merges_path, &error);
 *	gsize n = bpe_encode(bpe, text, len, ids, max_ids);
 * Cost: encoding stops once MAX_IDS ids exist, so the work is bounded by
 * max_ids, not by the length of a hostile input; invalid UTF-8 is encoded
 * byte by byte as GPT-2 does, never an error.
 * Threads: a loaded Bpe is read-only and shared. Errors: bpe_load sets error.
 */
#ifndef GPTM_BPE_H
#define GPTM_BPE_H

#include <glib.h>
#include <stdint.h>

typedef struct Bpe Bpe;

Bpe *bpe_load(const char *vocab_path, const char *merges_path, GError **error);
void bpe_free(Bpe *bpe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Bpe, bpe_free)

/* bpe_encode - TEXT (LEN bytes) to at most MAX_IDS ids; returns the count */
gsize bpe_encode(const Bpe *bpe, const char *text, gsize len, int32_t *ids,
		 gsize max_ids);
/* bpe_decode - ids to bytes (NUL-terminated, length in *OUT_LEN if not
 * NULL); unknown ids decode to nothing */
char *bpe_decode(const Bpe *bpe, const int32_t *ids, gsize n, gsize *out_len);
int bpe_vocab_size(const Bpe *bpe);
/* bpe_token_id - id of a whole token string such as "<|endoftext|>", or -1 */
int32_t bpe_token_id(const Bpe *bpe, const char *token);

#endif
