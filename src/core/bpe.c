/*
 * bpe.c - GPT-2 byte-level BPE tokenizer
 *
 * Owns: loading the vocabulary (vocab.json / encoder.json, read with
 * json-glib) and the merge list (merges.txt / vocab.bpe), the GPT-2
 * pre-tokenizer written by hand, the merge loop, and decoding.
 * Not here: text normalisation (mailtext.c), truncation policy (tokens.c).
 *
 * Reference: the ids must equal, id for id, those of the npm package
 * gpt-3-encoder (Encoder.js), which the parity test runs on the whole corpus.
 * That encoder splits text with the JavaScript regex
 *	/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu
 * maps every UTF-8 byte of a piece to one printable character (bytes_to_unicode)
 * and merges adjacent symbols, lowest merge rank first.  pretok_next() below
 * is that regex as a hand-written matcher:
 *   - \p{L} is general category L (Lu Ll Lt Lm Lo), \p{N} is N (Nd Nl No),
 *     both from GLib's Unicode tables (GLib 2.74: Unicode 15; node 20: 17 -
 *     a letter added after Unicode 15 is "other" here, a letter there);
 *   - \s is JavaScript's WhiteSpace + LineTerminator: TAB VT FF SP, every Zs
 *     (U+00A0 U+1680 U+2000..200A U+202F U+205F U+3000), U+FEFF, LF CR,
 *     U+2028 U+2029.  Not U+0085 and not U+180E (that is not g_unichar_isspace);
 *   - the contractions are case-sensitive ASCII ("'S" is not one);
 *   - combining marks (Mn Mc Me) are neither L nor N: they are "other".
 * Invalid UTF-8 (JavaScript strings cannot hold it): each byte that does not
 * start a valid UTF-8 sequence - stray continuation bytes, truncated or
 * overlong sequences, encoded surrogates, > U+10FFFF - is one character of
 * class "other" whose single byte is encoded directly, so it joins a run of
 * symbols and round-trips through bpe_decode.  A NUL byte is U+0000, also
 * "other".  Nothing is ever an error.
 *
 * Merge ranks: Encoder.js looks a pair up as the string "first,second" in an
 * object built from the merge list, so a pair of tokens that spells the same
 * string as a merge gets that merge's rank: ('",', '"') has the rank of the
 * merge ('"', ',"') and produces the same token '","'.  GPT-2 has 11 such
 * pairs, all around ",,"; bpe_load adds them to the rank table, and
 * merge_piece() keeps the reference's order for them (each round merges the
 * variant of the last pair of that rank, left to right).  In practice the
 * true merges form first: no alias changed an id on the corpus, nor on any
 * string of up to 7 of the symbols ",[]})'. - they are kept for exactness.
 * The first line of the merge list is skipped when it starts with '#'
 * (Encoder.js always skips it; both GPT-2 files start "#version").
 *
 * Merge loop: a doubly linked list over the symbols of a piece and a binary
 * min-heap of (rank, position) candidate pairs, stale entries skipped when
 * popped: O(n log n) per piece where the reference is quadratic.  One round
 * merges every occurrence of the lowest-rank pair left to right before the
 * pairs it creates are considered, exactly as the reference does.
 *
 * Deviation (bounded cost): a pre-token longer than BPE_MAX_PIECE bytes (a
 * hostile 10 MB "word") is cut into chunks of at most that many bytes at
 * character boundaries, each merged on its own; the reference would merge the
 * whole piece.  No message of the standard corpus has so long a piece (its
 * longest is 2382 bytes; the parity test checks ids on all of it).  With the chunking, and encoding that
 * stops at max_ids, the work of bpe_encode is bounded by max_ids, not by the
 * length of the input.
 *
 * Fast path: most pieces (" the", " and") are one token.  bpe_load runs the
 * merge loop once on the bytes of every token and keeps, in a read-only
 * table keyed by the raw bytes, those that come out as that one token; a
 * piece found there needs no merging.  This is exact (it is the merge
 * loop's own answer) and doubles the speed on the corpus.
 *
 * Threads: a loaded Bpe is read-only; bpe_encode keeps its scratch on the
 * stack and the heap of the call, so any number of threads share one Bpe.
 * There is deliberately no mutable cache of pieces.
 * Errors: bpe_load sets a GError (G_FILE_ERROR for unreadable files,
 * json-glib's error for bad JSON, BPE_ERROR otherwise) naming the file.
 * Checked by: tests/test_bpe.c, tests/test_bpe_parity.sh, tests/fuzz_bpe.c.
 */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "bpe.h"

/* Longest pre-token merged as one piece (bytes); longer ones are chunked. */
#define BPE_MAX_PIECE 8192
/* Largest id accepted in a vocabulary (GPT-2 has 50257 tokens). */
#define BPE_MAX_ID (1 << 24)

#define BPE_ERROR (bpe_error_quark())
GQuark bpe_error_quark(void);
G_DEFINE_QUARK(gptm-bpe-error-quark, bpe_error)
enum { BPE_ERROR_PARSE };

/* One merge: the pair (left,right) of ids becomes id RESULT at RANK. */
typedef struct {
	uint64_t key;		/* left << 32 | right; meaningful if rank >= 0 */
	int32_t rank;		/* -1: empty slot */
	int32_t result;
} MergeSlot;

struct Bpe {
	GHashTable *vocab;	/* token string (encoded form) -> id + 1 */
	char **tok_bytes;	/* (n_ids) raw bytes of each id, NULL if none */
	guint32 *tok_len;	/* (n_ids) byte length of tok_bytes */
	int n_ids;		/* largest id + 1 */
	int32_t byte_id[256];	/* id of the one-byte token of each byte */
	MergeSlot *merges;	/* open addressing, n_slots a power of two */
	guint32 n_slots;
	guint32 n_merges;
	/* Fast path: raw bytes -> id + 1 of the tokens whose bytes merge
	 * into exactly that one token (checked at load time, so it is
	 * exact); open addressing, n_whole a power of two, 0 = empty. */
	guint32 *whole;
	guint32 n_whole;
	guint32 whole_max;	/* longest token in whole (bytes) */
};

/* Character classes of the pre-tokenizer regex. */
enum { CL_OTHER, CL_LETTER, CL_NUMBER, CL_SPACE };

/* ---------------------------------------------------------------- */
/* Byte <-> printable character mapping (GPT-2 bytes_to_unicode)     */
/* ---------------------------------------------------------------- */

/* byte_to_unicode - fill MAP[b] with the code point that stands for b */
static void
byte_to_unicode(gunichar map[256])
{
	int n = 0;

	/* Printable Latin-1 bytes stand for themselves; the others (controls,
	 * space, DEL, NBSP, soft hyphen) get U+0100 upwards in byte order. */
	for (int b = 0; b < 256; b++) {
		gboolean self = (b >= '!' && b <= '~') ||
			(b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
		map[b] = self ? (gunichar)b : (gunichar)(256 + n++);
	}
}

/* ---------------------------------------------------------------- */
/* Merge table: packed pair of ids -> (rank, result)                 */
/* ---------------------------------------------------------------- */

static inline guint32
merge_hash(uint64_t key)
{
	key ^= key >> 29;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 32;
	return (guint32)key;
}

/* merge_find - slot of pair KEY, or NULL */
static inline const MergeSlot *
merge_find(const Bpe *bpe, int32_t left, int32_t right)
{
	uint64_t key = (uint64_t)(guint32)left << 32 | (guint32)right;
	guint32 mask = bpe->n_slots - 1;

	for (guint32 i = merge_hash(key) & mask;; i = (i + 1) & mask) {
		const MergeSlot *s = &bpe->merges[i];
		if (s->rank < 0)
			return NULL;
		if (s->key == key)
			return s;
	}
}

/* merge_put - set the rank of a pair; REPLACE FALSE keeps an existing one */
static void
merge_put(Bpe *bpe, int32_t left, int32_t right, int32_t rank,
	  int32_t result, gboolean replace)
{
	uint64_t key = (uint64_t)(guint32)left << 32 | (guint32)right;
	guint32 mask = bpe->n_slots - 1;
	guint32 i = merge_hash(key) & mask;

	for (;; i = (i + 1) & mask) {
		MergeSlot *s = &bpe->merges[i];
		if (s->rank < 0) {
			g_assert(bpe->n_merges + 1 < bpe->n_slots);
			s->key = key;
			s->rank = rank;
			s->result = result;
			bpe->n_merges++;
			return;
		}
		if (s->key == key) {
			/* Encoder.js builds its rank object in file order:
			 * a later line for the same pair wins. */
			if (replace) {
				s->rank = rank;
				s->result = result;
			}
			return;
		}
	}
}

/* ---------------------------------------------------------------- */
/* Loading                                                           */
/* ---------------------------------------------------------------- */

/* vocab_id - id of encoded token string S, or -1 */
static inline int32_t
vocab_id(const Bpe *bpe, const char *s)
{
	gpointer v = g_hash_table_lookup(bpe->vocab, s);

	return v != NULL ? (int32_t)(GPOINTER_TO_INT(v) - 1) : -1;
}

/* load_vocab - parse the JSON object token -> id of PATH into BPE */
static gboolean
load_vocab(Bpe *bpe, const char *path, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();

	if (!json_parser_load_from_file(parser, path, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	JsonNode *root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
			    "%s: not a JSON object of token -> id", path);
		return FALSE;
	}
	JsonObject *obj = json_node_get_object(root);
	JsonObjectIter it;
	const char *tok;
	JsonNode *node;
	int max_id = -1;

	json_object_iter_init(&it, obj);
	while (json_object_iter_next(&it, &tok, &node)) {
		if (!JSON_NODE_HOLDS_VALUE(node) ||
		    json_node_get_value_type(node) != G_TYPE_INT64) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: token \"%s\": id is not an integer",
				    path, tok);
			return FALSE;
		}
		gint64 id = json_node_get_int(node);
		if (id < 0 || id >= BPE_MAX_ID) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: token \"%s\": id %" G_GINT64_FORMAT
				    " out of range", path, tok, id);
			return FALSE;
		}
		if (*tok == '\0') {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: empty token", path);
			return FALSE;
		}
		/* json-glib keeps the last of duplicate keys; so do we. */
		g_hash_table_replace(bpe->vocab, g_strdup(tok),
				     GINT_TO_POINTER((int)id + 1));
		max_id = MAX(max_id, (int)id);
	}
	if (max_id < 0) {
		g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
			    "%s: empty vocabulary", path);
		return FALSE;
	}
	bpe->n_ids = max_id + 1;
	bpe->tok_bytes = g_new0(char *, bpe->n_ids);
	bpe->tok_len = g_new0(guint32, bpe->n_ids);

	/* Decoding table: each character of a token stands for one byte;
	 * a character outside the 256 (added tokens) stands for itself. */
	gunichar b2u[256];
	GHashTable *u2b = g_hash_table_new(NULL, NULL);
	byte_to_unicode(b2u);
	for (int b = 0; b < 256; b++)
		g_hash_table_insert(u2b, GUINT_TO_POINTER(b2u[b]),
				    GINT_TO_POINTER(b + 1));

	GHashTableIter hit;
	gpointer k, v;
	g_hash_table_iter_init(&hit, bpe->vocab);
	while (g_hash_table_iter_next(&hit, &k, &v)) {
		int id = GPOINTER_TO_INT(v) - 1;
		const char *s = k;
		if (bpe->tok_bytes[id] != NULL) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: id %d is given to two tokens", path,
				    id);
			g_hash_table_unref(u2b);
			return FALSE;
		}
		if (!g_utf8_validate(s, -1, NULL)) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: token with id %d is not UTF-8", path,
				    id);
			g_hash_table_unref(u2b);
			return FALSE;
		}
		GString *raw = g_string_new(NULL);
		for (const char *p = s; *p; p = g_utf8_next_char(p)) {
			gunichar c = g_utf8_get_char(p);
			gpointer byte = g_hash_table_lookup(u2b,
							    GUINT_TO_POINTER(c));
			if (byte != NULL)
				g_string_append_c(raw,
						  (char)(GPOINTER_TO_INT(byte) - 1));
			else
				g_string_append_unichar(raw, c);
		}
		bpe->tok_len[id] = (guint32)raw->len;
		bpe->tok_bytes[id] = g_string_free(raw, FALSE);
	}
	g_hash_table_unref(u2b);

	/* Every byte must have a token of its own, or some text could not
	 * be encoded at all. */
	for (int b = 0; b < 256; b++) {
		char s[8];
		s[g_unichar_to_utf8(b2u[b], s)] = '\0';
		bpe->byte_id[b] = vocab_id(bpe, s);
		if (bpe->byte_id[b] < 0) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: no token for byte 0x%02x (\"%s\")",
				    path, b, s);
			return FALSE;
		}
	}
	return TRUE;
}

/* add_comma_aliases - pairs that spell merge KEY "a,b" as "x,y" (see top) */
static void
add_comma_aliases(Bpe *bpe, const char *a, const char *b, int32_t rank)
{
	g_autofree char *key = g_strconcat(a, ",", b, NULL);
	gsize alen = strlen(a);

	for (char *p = strchr(key, ','); p != NULL; p = strchr(p + 1, ',')) {
		if ((gsize)(p - key) == alen)
			continue;	/* the merge itself */
		*p = '\0';
		int32_t x = vocab_id(bpe, key), y = vocab_id(bpe, p + 1);
		if (x >= 0 && y >= 0) {
			g_autofree char *xy = g_strconcat(key, p + 1, NULL);
			int32_t r = vocab_id(bpe, xy);
			/* The reference would emit "undefined" for a result
			 * that is not a token; such an alias is left out. */
			if (r >= 0)
				merge_put(bpe, x, y, rank, r, FALSE);
		}
		*p = ',';
	}
}

/* load_merges - parse the merge list of PATH into BPE */
static gboolean
load_merges(Bpe *bpe, const char *path, GError **error)
{
	g_autofree char *data = NULL;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, error))
		return FALSE;
	if (memchr(data, '\0', len) != NULL) {
		g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
			    "%s: NUL byte in merge list", path);
		return FALSE;
	}
	/* Lines are cut in place (g_strsplit would be quadratic under
	 * ASan's strstr checks). */
	guint n_lines = 1;
	for (const char *q = data; (q = memchr(q, '\n', data + len - q));
	     q++)
		n_lines++;
	if (n_lines > G_MAXINT32 / 4) {
		g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
			    "%s: too many lines", path);
		return FALSE;
	}

	/* At most one merge per line: size the table for that. */
	bpe->n_slots = 1024;
	while (bpe->n_slots < 2 * (n_lines + 64))
		bpe->n_slots *= 2;
	bpe->merges = g_new(MergeSlot, bpe->n_slots);
	for (guint32 i = 0; i < bpe->n_slots; i++)
		bpe->merges[i].rank = -1;

	/* (a, b, rank) of the merges with a comma, for add_comma_aliases */
	g_autoptr(GPtrArray) commas = g_ptr_array_new();
	int32_t rank = 0;
	char *next = data;
	for (guint i = 0; i < n_lines; i++) {
		char *line = next;
		char *nl = memchr(line, '\n', data + len - line);
		if (nl != NULL) {
			*nl = '\0';
			next = nl + 1;
		}
		/* "#version: 0.2" opens both vocab.bpe and merges.txt. */
		if (i == 0 && line[0] == '#')
			continue;
		g_strstrip(line);	/* also the \r of CRLF files */
		if (*line == '\0')
			continue;
		char *sp = line + strcspn(line, " \t");
		char *b = sp + strspn(sp, " \t");
		if (*sp == '\0' || *b == '\0' || b[strcspn(b, " \t")] != '\0') {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s:%u: expected two tokens", path, i + 1);
			return FALSE;
		}
		*sp = '\0';
		const char *a = line;
		if (!g_utf8_validate(line, -1, NULL) ||
		    !g_utf8_validate(b, -1, NULL)) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s:%u: not UTF-8", path, i + 1);
			return FALSE;
		}
		int32_t x = vocab_id(bpe, a), y = vocab_id(bpe, b);
		g_autofree char *xy = g_strconcat(a, b, NULL);
		int32_t r = vocab_id(bpe, xy);
		const char *missing = x < 0 ? a : y < 0 ? b : r < 0 ? xy : NULL;
		if (missing != NULL) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s:%u: token \"%s\" is not in the "
				    "vocabulary", path, i + 1, missing);
			return FALSE;
		}
		if (rank == G_MAXINT32) {
			g_set_error(error, BPE_ERROR, BPE_ERROR_PARSE,
				    "%s: too many merges", path);
			return FALSE;
		}
		if (strchr(a, ',') != NULL || strchr(b, ',') != NULL) {
			g_ptr_array_add(commas, (char *)a);
			g_ptr_array_add(commas, b);
			g_ptr_array_add(commas, GINT_TO_POINTER(rank));
		}
		merge_put(bpe, x, y, rank++, r, TRUE);
	}
	/* Second pass, so that a true merge always wins over an alias. */
	for (guint i = 0; i < commas->len; i += 3)
		add_comma_aliases(bpe, commas->pdata[i], commas->pdata[i + 1],
				  GPOINTER_TO_INT(commas->pdata[i + 2]));
	return TRUE;
}

static void build_whole(Bpe *bpe);

/* bpe_load - tokenizer from VOCAB_PATH (JSON) and MERGES_PATH */
Bpe *
bpe_load(const char *vocab_path, const char *merges_path, GError **error)
{
	g_return_val_if_fail(vocab_path != NULL && merges_path != NULL, NULL);

	Bpe *bpe = g_new0(Bpe, 1);
	bpe->vocab = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   NULL);
	if (!load_vocab(bpe, vocab_path, error) ||
	    !load_merges(bpe, merges_path, error)) {
		bpe_free(bpe);
		return NULL;
	}
	build_whole(bpe);
	return bpe;
}

/* bpe_free - release BPE (NULL is fine) */
void
bpe_free(Bpe *bpe)
{
	if (bpe == NULL)
		return;
	if (bpe->vocab != NULL)
		g_hash_table_unref(bpe->vocab);
	if (bpe->tok_bytes != NULL)
		for (int i = 0; i < bpe->n_ids; i++)
			g_free(bpe->tok_bytes[i]);
	g_free(bpe->tok_bytes);
	g_free(bpe->tok_len);
	g_free(bpe->merges);
	g_free(bpe->whole);
	g_free(bpe);
}

/* bpe_vocab_size - largest id + 1 (the rows of the embedding) */
int
bpe_vocab_size(const Bpe *bpe)
{
	return bpe->n_ids;
}

/* bpe_token_id - id of the token spelled TOKEN (encoded form), or -1 */
int32_t
bpe_token_id(const Bpe *bpe, const char *token)
{
	g_return_val_if_fail(bpe != NULL && token != NULL, -1);
	return vocab_id(bpe, token);
}

/* ---------------------------------------------------------------- */
/* Pre-tokenizer                                                     */
/* ---------------------------------------------------------------- */

/* ASCII classes, the common case. */
static const guint8 ascii_class[128] = {
	['\t'] = CL_SPACE, ['\n'] = CL_SPACE, ['\v'] = CL_SPACE,
	['\f'] = CL_SPACE, ['\r'] = CL_SPACE, [' '] = CL_SPACE,
	['0'] = CL_NUMBER, ['1'] = CL_NUMBER, ['2'] = CL_NUMBER,
	['3'] = CL_NUMBER, ['4'] = CL_NUMBER, ['5'] = CL_NUMBER,
	['6'] = CL_NUMBER, ['7'] = CL_NUMBER, ['8'] = CL_NUMBER,
	['9'] = CL_NUMBER,
	['A'] = CL_LETTER, ['B'] = CL_LETTER, ['C'] = CL_LETTER,
	['D'] = CL_LETTER, ['E'] = CL_LETTER, ['F'] = CL_LETTER,
	['G'] = CL_LETTER, ['H'] = CL_LETTER, ['I'] = CL_LETTER,
	['J'] = CL_LETTER, ['K'] = CL_LETTER, ['L'] = CL_LETTER,
	['M'] = CL_LETTER, ['N'] = CL_LETTER, ['O'] = CL_LETTER,
	['P'] = CL_LETTER, ['Q'] = CL_LETTER, ['R'] = CL_LETTER,
	['S'] = CL_LETTER, ['T'] = CL_LETTER, ['U'] = CL_LETTER,
	['V'] = CL_LETTER, ['W'] = CL_LETTER, ['X'] = CL_LETTER,
	['Y'] = CL_LETTER, ['Z'] = CL_LETTER,
	['a'] = CL_LETTER, ['b'] = CL_LETTER, ['c'] = CL_LETTER,
	['d'] = CL_LETTER, ['e'] = CL_LETTER, ['f'] = CL_LETTER,
	['g'] = CL_LETTER, ['h'] = CL_LETTER, ['i'] = CL_LETTER,
	['j'] = CL_LETTER, ['k'] = CL_LETTER, ['l'] = CL_LETTER,
	['m'] = CL_LETTER, ['n'] = CL_LETTER, ['o'] = CL_LETTER,
	['p'] = CL_LETTER, ['q'] = CL_LETTER, ['r'] = CL_LETTER,
	['s'] = CL_LETTER, ['t'] = CL_LETTER, ['u'] = CL_LETTER,
	['v'] = CL_LETTER, ['w'] = CL_LETTER, ['x'] = CL_LETTER,
	['y'] = CL_LETTER, ['z'] = CL_LETTER,
};

/* unichar_class - class of C for the regex (\p{L}, \p{N}, \s or other) */
static int
unichar_class(gunichar c)
{
	if (c < 128)
		return ascii_class[c];
	switch (g_unichar_type(c)) {
	case G_UNICODE_UPPERCASE_LETTER:
	case G_UNICODE_LOWERCASE_LETTER:
	case G_UNICODE_TITLECASE_LETTER:
	case G_UNICODE_MODIFIER_LETTER:
	case G_UNICODE_OTHER_LETTER:
		return CL_LETTER;
	case G_UNICODE_DECIMAL_NUMBER:
	case G_UNICODE_LETTER_NUMBER:
	case G_UNICODE_OTHER_NUMBER:
		return CL_NUMBER;
	case G_UNICODE_SPACE_SEPARATOR:
		return CL_SPACE;
	default:
		/* JavaScript's \s beyond Zs: line/paragraph separator, BOM */
		if (c == 0x2028 || c == 0x2029 || c == 0xFEFF)
			return CL_SPACE;
		return CL_OTHER;
	}
}

/* char_at - class and byte length of the character at P (< END); an
 * invalid byte is one character of class "other" */
static inline int
char_at(const char *p, const char *end, int *len)
{
	guchar b = (guchar)*p;

	if (b < 0x80) {
		*len = 1;
		return ascii_class[b];
	}
	gunichar c = g_utf8_get_char_validated(p, end - p);
	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*len = 1;
		return CL_OTHER;
	}
	*len = g_utf8_skip[b];
	return unichar_class(c);
}

/* pretok_next - byte length of the pre-token at P (< END), capped near
 * BPE_MAX_PIECE bytes (whole characters; see the deviation at the top) */
static gsize
pretok_next(const char *p, const char *end)
{
	const char *limit = end - p > BPE_MAX_PIECE ? p + BPE_MAX_PIECE : end;
	const char *q;
	int len, cl;

	/* 's|'t|'re|'ve|'m|'ll|'d */
	if (*p == '\'' && end - p >= 2) {
		char c1 = p[1];
		if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
			return 2;
		if (end - p >= 3 && ((c1 == 'r' && p[2] == 'e') ||
				     (c1 == 'v' && p[2] == 'e') ||
				     (c1 == 'l' && p[2] == 'l')))
			return 3;
	}
	cl = char_at(p, end, &len);
	q = p + len;
	if (cl == CL_SPACE && *p == ' ' && q < end) {
		/* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" with the space */
		int cl2 = char_at(q, end, &len);
		if (cl2 != CL_SPACE) {
			cl = cl2;
			q += len;
		}
	}
	if (cl != CL_SPACE) {
		/* the run of one class: letters, numbers or others */
		while (q < limit) {
			if (char_at(q, end, &len) != cl || q + len > limit)
				break;
			q += len;
		}
		return q - p;
	}
	/* "\s+(?!\S)|\s+": a run of blanks ending at the end of the text is
	 * taken whole; one followed by a non-blank leaves its last blank to
	 * the next token (" ?\p{L}+" may then take it), unless it is the
	 * only one. */
	const char *last = p;
	while (q < limit) {
		if (char_at(q, end, &len) != CL_SPACE || q + len > limit)
			break;
		last = q;
		q += len;
	}
	if (q == end || char_at(q, end, &len) == CL_SPACE)
		return q - p;	/* at the end, or cut at the cap: whole run */
	return last > p ? (gsize)(last - p) : (gsize)(q - p);
}

/* ---------------------------------------------------------------- */
/* Merge loop                                                        */
/* ---------------------------------------------------------------- */

/* One symbol of a piece: merged symbols keep the slot of their left part. */
typedef struct {
	int32_t id;		/* -1 once merged into its left neighbour */
	int32_t prev, next;	/* slots, -1 at the ends */
} Sym;

/* A candidate merge of the symbol at POS with its right neighbour. */
typedef struct {
	uint64_t order;		/* rank << 32 | pos: heap order */
	int32_t left, right;	/* ids when queued; stale if they changed */
	int32_t result;
} Cand;

typedef struct {
	Sym *sym;
	Cand *heap, *pend;
	gsize cap;		/* symbols sym holds */
	gsize heap_cap, pend_cap;
	gsize n_heap, n_pend;
} Scratch;

/* scratch_reserve - room for a piece of N symbols */
static void
scratch_reserve(Scratch *s, gsize n)
{
	if (n <= s->cap)
		return;
	gsize cap = MAX(n, 2 * s->cap);
	cap = MAX(cap, 64);
	s->sym = g_renew(Sym, s->sym, cap);
	s->cap = cap;
	/* Queued candidates: n-1 at first, +2 per merge (n-1 merges); the
	 * comma aliases can requeue more, so both arrays also grow. */
	if (s->heap_cap < 3 * cap) {
		s->heap_cap = 3 * cap;
		s->heap = g_renew(Cand, s->heap, s->heap_cap);
	}
	if (s->pend_cap < 4 * cap) {
		s->pend_cap = 4 * cap;
		s->pend = g_renew(Cand, s->pend, s->pend_cap);
	}
}

/* pend_add - append C to the pending list */
static inline void
pend_add(Scratch *s, Cand c)
{
	if (s->n_pend == s->pend_cap) {
		s->pend_cap *= 2;
		s->pend = g_renew(Cand, s->pend, s->pend_cap);
	}
	s->pend[s->n_pend++] = c;
}

static inline gboolean
cand_valid(const Sym *sym, const Cand *c)
{
	int32_t pos = (int32_t)(guint32)c->order;
	const Sym *l = &sym[pos];

	/* A symbol's id only grows in length, so unchanged ids mean the pair
	 * is still adjacent (see merge_piece). */
	return l->id == c->left && l->next >= 0 && sym[l->next].id == c->right;
}

static inline void
heap_push(Scratch *s, Cand c)
{
	if (s->n_heap == s->heap_cap) {
		s->heap_cap *= 2;
		s->heap = g_renew(Cand, s->heap, s->heap_cap);
	}
	gsize i = s->n_heap++;

	while (i > 0) {
		gsize parent = (i - 1) / 2;
		if (s->heap[parent].order <= c.order)
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = c;
}

static inline Cand
heap_pop(Scratch *s)
{
	Cand top = s->heap[0], last = s->heap[--s->n_heap];
	gsize n = s->n_heap, i = 0;

	for (;;) {
		gsize child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n &&
		    s->heap[child + 1].order < s->heap[child].order)
			child++;
		if (s->heap[child].order >= last.order)
			break;
		s->heap[i] = s->heap[child];
		i = child;
	}
	if (n > 0)
		s->heap[i] = last;
	return top;
}

/* candidate - queue the pair at slot POS (in PEND or the heap) if ranked */
static inline void
candidate(const Bpe *bpe, Scratch *s, int32_t pos, gboolean pend)
{
	int32_t next = s->sym[pos].next;

	if (next < 0)
		return;
	const MergeSlot *m = merge_find(bpe, s->sym[pos].id, s->sym[next].id);
	if (m == NULL)
		return;
	Cand c = {
		.order = (uint64_t)(guint32)m->rank << 32 | (guint32)pos,
		.left = s->sym[pos].id, .right = s->sym[next].id,
		.result = m->result,
	};
	if (pend)
		pend_add(s, c);
	else
		heap_push(s, c);
}

/* merge_piece - BPE the bytes P[0..N) into the list S->sym from slot 0 */
static void
merge_piece(const Bpe *bpe, Scratch *s, const guchar *p, gsize n)
{
	scratch_reserve(s, n);
	Sym *sym = s->sym;

	for (gsize i = 0; i < n; i++) {
		sym[i].id = bpe->byte_id[p[i]];
		sym[i].prev = (int32_t)i - 1;
		sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	s->n_heap = 0;
	for (gsize i = 0; i + 1 < n; i++)
		candidate(bpe, s, (int32_t)i, FALSE);

	while (s->n_heap > 0) {
		Cand first = heap_pop(s);
		if (!cand_valid(sym, &first))
			continue;
		/* One round of the reference: all live pairs of the lowest
		 * rank, in order of position.  They are all one pair of ids,
		 * except for the comma aliases, where the reference merges
		 * the variant of the last such pair in this round. */
		guint32 rank = (guint32)(first.order >> 32);
		s->n_pend = 0;
		pend_add(s, first);
		while (s->n_heap > 0 &&
		       (guint32)(s->heap[0].order >> 32) == rank) {
			Cand c = heap_pop(s);
			if (cand_valid(sym, &c))
				pend_add(s, c);
		}
		gsize n_round = s->n_pend;
		int32_t left = s->pend[n_round - 1].left;
		int32_t right = s->pend[n_round - 1].right;
		/* The round's own list sits at the front of pend; the pairs
		 * it creates are appended after it and queued at the end. */
		for (gsize k = 0; k < n_round; k++) {
			Cand c = s->pend[k];
			if (c.left != left || c.right != right) {
				pend_add(s, c);	/* next round */
				continue;
			}
			if (!cand_valid(sym, &c))
				continue;	/* overlapped: "a a a" */
			int32_t l = (int32_t)(guint32)c.order, r = sym[l].next;
			sym[l].id = c.result;
			sym[l].next = sym[r].next;
			if (sym[r].next >= 0)
				sym[sym[r].next].prev = l;
			sym[r].id = -1;
			if (sym[l].prev >= 0)
				candidate(bpe, s, sym[l].prev, TRUE);
			candidate(bpe, s, l, TRUE);
		}
		for (gsize k = n_round; k < s->n_pend; k++)
			if (cand_valid(sym, &s->pend[k]))
				heap_push(s, s->pend[k]);
	}
}

/* bytes_hash - FNV-1a of P[0..N) */
static inline guint32
bytes_hash(const guchar *p, gsize n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (gsize i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return (guint32)(h ^ h >> 32);
}

/* whole_find - id of the token whose bytes are P[0..N) and which BPE
 * leaves whole, or -1 */
static inline int32_t
whole_find(const Bpe *bpe, const guchar *p, gsize n)
{
	guint32 mask = bpe->n_whole - 1;

	for (guint32 i = bytes_hash(p, n) & mask;; i = (i + 1) & mask) {
		guint32 v = bpe->whole[i];
		if (v == 0)
			return -1;
		int32_t id = (int32_t)v - 1;
		if (bpe->tok_len[id] == n && memcmp(bpe->tok_bytes[id], p, n) == 0)
			return id;
	}
}

/* build_whole - the fast-path table: every token T with BPE(bytes of T)
 * == [T] (most of GPT-2's; not "<|endoftext|>", which no merge makes) */
static void
build_whole(Bpe *bpe)
{
	Scratch s = { 0 };

	bpe->n_whole = 1024;
	while (bpe->n_whole < 2 * (guint32)bpe->n_ids)
		bpe->n_whole *= 2;
	bpe->whole = g_new0(guint32, bpe->n_whole);
	for (int id = 0; id < bpe->n_ids; id++) {
		guint32 n = bpe->tok_len[id];
		const guchar *p = (const guchar *)bpe->tok_bytes[id];
		if (p == NULL || n < 2)
			continue;	/* one byte: byte_id[] */
		merge_piece(bpe, &s, p, n);
		if (s.sym[0].next >= 0 || s.sym[0].id != id)
			continue;
		guint32 mask = bpe->n_whole - 1, i = bytes_hash(p, n) & mask;
		while (bpe->whole[i] != 0)
			i = (i + 1) & mask;
		bpe->whole[i] = (guint32)id + 1;
		bpe->whole_max = MAX(bpe->whole_max, n);
	}
	g_free(s.sym);
	g_free(s.heap);
	g_free(s.pend);
}

/* bpe_encode - TEXT (LEN bytes) to at most MAX_IDS ids; returns the count */
gsize
bpe_encode(const Bpe *bpe, const char *text, gsize len, int32_t *ids,
	   gsize max_ids)
{
	g_return_val_if_fail(bpe != NULL, 0);
	g_return_val_if_fail(text != NULL || len == 0, 0);

	const char *p = text, *end = text + len;
	gsize n_ids = 0;
	Scratch s = { 0 };

	while (p < end && n_ids < max_ids) {
		gsize plen = pretok_next(p, end);
		g_assert(plen > 0 && plen <= (gsize)(end - p));
		int32_t id;
		if (plen == 1) {
			ids[n_ids++] = bpe->byte_id[(guchar)*p];
		} else if (plen <= bpe->whole_max && (id = whole_find(bpe,
				(const guchar *)p, plen)) >= 0) {
			ids[n_ids++] = id;	/* " the", " and", ... */
		} else {
			merge_piece(bpe, &s, (const guchar *)p, plen);
			for (int32_t i = 0; i >= 0 && n_ids < max_ids;
			     i = s.sym[i].next)
				ids[n_ids++] = s.sym[i].id;
		}
		p += plen;
	}
	g_free(s.sym);
	g_free(s.heap);
	g_free(s.pend);
	return n_ids;
}

/* bpe_decode - IDS back to bytes, NUL-terminated; free with g_free() */
char *
bpe_decode(const Bpe *bpe, const int32_t *ids, gsize n, gsize *out_len)
{
	g_return_val_if_fail(bpe != NULL && (ids != NULL || n == 0), NULL);

	GString *out = g_string_sized_new(4 * n + 1);
	for (gsize i = 0; i < n; i++) {
		int32_t id = ids[i];
		if (id >= 0 && id < bpe->n_ids && bpe->tok_bytes[id] != NULL)
			g_string_append_len(out, bpe->tok_bytes[id],
					    bpe->tok_len[id]);
	}
	if (out_len != NULL)
		*out_len = out->len;
	return g_string_free(out, FALSE);
}
