/*
 * tokens.h - extracted mail text to the token ids a model reads
 *
 * Owns: the one truncation policy shared by serving (classifier.c) and
 * training (corpus.c, gptmilter-train): the head of the text is kept, at most
 * MAX_TOKENS ids, and an empty text becomes the single id EOT_ID so that every
 * message has at least one token for the model to read.
 * Not here: text extraction (mailtext.c), the BPE itself (bpe.c).
 *	int n = tokens_from_text(bpe, text, len, max_tokens, eot, ids);
 * Threads: reentrant. Errors: none.
 */
#ifndef GPTM_TOKENS_H
#define GPTM_TOKENS_H

#include <glib.h>
#include <stdint.h>
#include "bpe.h"

/* tokens_from_text - TEXT (LEN bytes) to 1 .. MAX_TOKENS ids in IDS
 * (MAX_TOKENS >= 1 slots); returns the count */
int tokens_from_text(const Bpe *bpe, const char *text, gsize len,
		     int max_tokens, int32_t eot_id, int32_t *ids);

/* tokens_eot_id - the id of an empty text for a model of VOCAB_SIZE ids
 * reading BPE: "<|endoftext|>" when BPE has it, else GPT-2's 50256, or the
 * model's last id when it has fewer; always a valid id of the model. The one
 * rule of training, evaluation and serving. */
int32_t tokens_eot_id(const Bpe *bpe, int vocab_size);

#endif
