/*
 * tokens.c - extracted mail text to the token ids a model reads
 *
 * Owns: the head-of-text truncation shared by classifier.c and the trainer,
 * so the model is trained on exactly the ids it is later served.
 * Not here: mailtext (mailtext.c), BPE merges (bpe.c).
 * Threads: reentrant. Errors: none; any text gives 1 .. max_tokens ids.
 */
#include "tokens.h"

#define GPT2_EOT_ID 50256

/* tokens_from_text - head of TEXT as at most MAX_TOKENS ids, never zero */
int
tokens_from_text(const Bpe *bpe, const char *text, gsize len, int max_tokens,
		 int32_t eot_id, int32_t *ids)
{
	gsize n = 0;

	g_assert(max_tokens >= 1);
	if (text != NULL && len > 0)
		n = bpe_encode(bpe, text, len, ids, (gsize)max_tokens);
	g_assert(n <= (gsize)max_tokens);
	if (n == 0) {
		/* An empty text still needs one position for the head to read. */
		ids[0] = eot_id;
		n = 1;
	}
	return (int)n;
}

/* tokens_eot_id - the end-of-text id of BPE's vocabulary, in range of a
 * model of VOCAB_SIZE ids (GPT-2 keeps it last: 50256 of 50257) */
int32_t
tokens_eot_id(const Bpe *bpe, int vocab_size)
{
	int32_t id = bpe_token_id(bpe, "<|endoftext|>");

	g_assert(vocab_size >= 1);
	if (id >= 0 && id < vocab_size)
		return id;
	return MIN(GPT2_EOT_ID, vocab_size - 1);
}
