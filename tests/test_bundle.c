/*
 * test_bundle.c - tests of bundle.c
 *
 * Owns: checking bundle loading and saving against bundles written by an
 * independent implementation (tests/gen_tiny_model.py, driven by
 * tests/test_model.sh), and that a bad bundle directory of every kind
 * gives an error naming the file and the problem, never a crash:
 *	- good bundles (f32/f16/bf16, with/without "transformer.", BOOL/F32
 *	  attn.bias buffers, LM without head): every tensor bit-equal to the
 *	  generator's decoded values, config and gptmilter fields
 *	- bundle_save -> bundle_load round trips (F32, BF16, F16, LM)
 *	- bad bundle directories
 * Usage: test_bundle WORKDIR TOKENIZER_DIR (test_model.sh prepares WORKDIR).
 * Exit status: 0 when every check passed, 1 otherwise.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bundle.h"
#include "mapfile.h"
#include "safetensors.h"
#include "check.h"
#include "st_util.h"

/* ---------------------------------------------------------------------- */
/* Good bundles from the generator */

/* check_against_ref - every tensor listed in DIR/ref.tsv converts to
 * exactly the values in DIR/ref.f32 */
static void
check_against_ref(const Bundle *b, const char *dir)
{
	g_autofree char *tsv_path = g_build_filename(dir, "ref.tsv", NULL);
	g_autofree char *f32_path = g_build_filename(dir, "ref.f32", NULL);
	g_autofree char *tsv = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(MapFile) ref = mapfile_open(f32_path, &err);
	CHECK(g_file_get_contents(tsv_path, &tsv, NULL, NULL) && ref != NULL,
	      "%s: reference files", dir);
	if (tsv == NULL || ref == NULL)
		return;
	g_auto(GStrv) lines = g_strsplit(tsv, "\n", -1);
	int n = 0, bad = 0;
	for (char **l = lines; *l != NULL && **l != '\0'; l++) {
		g_auto(GStrv) f = g_strsplit(*l, "\t", -1);
		g_assert(g_strv_length(f) == 4);
		gsize off = g_ascii_strtoull(f[1], NULL, 10);
		gsize numel = g_ascii_strtoull(f[2], NULL, 10);
		const StTensor *t = safetensors_find(b->weights, f[0]);
		n++;
		if (t == NULL || (gsize) t->numel != numel ||
		    (off + numel) * 4 > ref->size) {
			bad++;
			fprintf(stderr, "  %s: tensor %s missing or wrong size\n", dir, f[0]);
			continue;
		}
		/* shape */
		g_auto(GStrv) dims = g_strsplit(f[3], ",", -1);
		int nd = f[3][0] == '\0' ? 0 : (int) g_strv_length(dims);
		gboolean shape_ok = nd == t->ndim;
		for (int d = 0; shape_ok && d < nd; d++)
			shape_ok = t->shape[d] == (int64_t) g_ascii_strtoll(dims[d], NULL, 10);
		g_autofree float *v = g_new(float, numel > 0 ? numel : 1);
		st_tensor_to_f32(t, v);
		if (!shape_ok || memcmp(v, ref->data + 4 * off, 4 * numel) != 0) {
			bad++;
			fprintf(stderr, "  %s: tensor %s: %s differs\n", dir, f[0],
				shape_ok ? "data" : "shape");
		}
	}
	CHECK(n > 0 && bad == 0, "%s: %d of %d tensors differ from the generator", dir,
	      bad, n);
}

/* load_good - bundle_load that must succeed */
static Bundle *
load_good(const char *dir)
{
	g_autoptr(GError) err = NULL;
	Bundle *b = bundle_load(dir, &err);
	CHECK(b != NULL, "bundle_load(%s): %s", dir, err ? err->message : "");
	return b;
}

static void
check_tiny_config(const Bundle *b, int V, int NL)
{
	const GptConfig *c = &b->gpt;
	CHECK(c->n_layer == 2 && c->n_head == 2 && c->n_embd == 32 && c->n_ctx == 64 &&
	      c->vocab_size == V && fabsf(c->ln_eps - 1e-5f) < 1e-12f,
	      "%s: config %d %d %d %d %d %g", b->dir, c->n_layer, c->n_head,
	      c->n_embd, c->n_ctx, c->vocab_size, c->ln_eps);
	CHECK(c->num_labels == NL, "%s: num_labels %d", b->dir, c->num_labels);
	CHECK(b->labels != NULL && (int) g_strv_length(b->labels) == NL,
	      "%s: labels", b->dir);
	if (NL == 2 && b->labels != NULL && g_strv_length(b->labels) == 2)
		CHECK(strcmp(b->labels[0], "ham") == 0 && strcmp(b->labels[1], "spam") == 0,
		      "%s: labels %s,%s", b->dir, b->labels[0], b->labels[1]);
	CHECK(g_str_has_suffix(b->vocab_path, "encoder.json") &&
	      g_str_has_suffix(b->merges_path, "vocab.bpe"), "%s: tokenizer %s %s",
	      b->dir, b->vocab_path, b->merges_path);
}

static void
test_good(const char *work)
{
	/* f32: prefix, gptmilter fields set */
	g_autofree char *d = g_build_filename(work, "f32", NULL);
	g_autoptr(Bundle) b = load_good(d);
	if (b != NULL) {
		check_tiny_config(b, 50257, 2);
		check_against_ref(b, d);
		CHECK(strcmp(b->name, "tiny-test") == 0, "name %s", b->name);
		CHECK(b->max_tokens == 48 && b->mailtext_version == 3 &&
		      fabsf(b->threshold - 0.7f) < 1e-7f &&
		      fabsf(b->temperature - 1.5f) < 1e-7f &&
		      b->gpt.pooling == GPT_POOL_MEAN, "gptmilter fields %d %d %g %g %d",
		      b->max_tokens, b->mailtext_version, b->threshold, b->temperature,
		      b->gpt.pooling);
		JsonObject *x = bundle_extra(b);
		CHECK(x != NULL && json_object_has_member(x, "calibration"), "extra");
		const StTensor *t = bundle_tensor(b, "h.1.mlp.c_fc.weight");
		CHECK(t != NULL && strcmp(t->name, "transformer.h.1.mlp.c_fc.weight") == 0 &&
		      t->ndim == 2 && t->shape[0] == 32 && t->shape[1] == 128,
		      "bundle_tensor with prefix");
		t = bundle_tensor(b, "score.weight");
		CHECK(t != NULL && t->shape[0] == 2 && t->shape[1] == 32, "score.weight");
		CHECK(bundle_tensor(b, "score.bias") == NULL, "no score.bias");
		CHECK(bundle_tensor(b, "h.2.ln_1.weight") == NULL, "no layer 2");
	}

	/* f16: no prefix, defaults for the gptmilter fields */
	g_autofree char *d2 = g_build_filename(work, "f16", NULL);
	g_autoptr(Bundle) b2 = load_good(d2);
	if (b2 != NULL) {
		check_tiny_config(b2, 512, 2);
		check_against_ref(b2, d2);
		CHECK(strcmp(b2->name, "f16") == 0, "default name %s", b2->name);
		CHECK(b2->max_tokens == 64 && b2->mailtext_version == 0 &&
		      b2->threshold == -1.0f && b2->temperature == 1.0f &&
		      b2->gpt.pooling == GPT_POOL_LAST && bundle_extra(b2) == NULL,
		      "gptmilter defaults");
		const StTensor *t = bundle_tensor(b2, "wte.weight");
		CHECK(t != NULL && t->dtype == ST_F16 && strcmp(t->name, "wte.weight") == 0,
		      "bundle_tensor without prefix");
	}

	/* bf16 with BOOL attn.bias buffers and a score bias */
	g_autofree char *d3 = g_build_filename(work, "bf16", NULL);
	g_autoptr(Bundle) b3 = load_good(d3);
	if (b3 != NULL) {
		check_tiny_config(b3, 512, 2);
		check_against_ref(b3, d3);
		CHECK(bundle_tensor(b3, "h.0.attn.bias") == NULL, "BOOL buffer not usable");
		const char *u = safetensors_unusable(b3->weights, "transformer.h.1.attn.bias");
		CHECK(u != NULL && strcmp(u, "BOOL") == 0, "BOOL buffer recorded");
		const StTensor *mb = bundle_tensor(b3, "h.0.attn.masked_bias");
		CHECK(mb != NULL && mb->ndim == 0 && mb->dtype == ST_F32, "masked_bias scalar");
		const StTensor *sb = bundle_tensor(b3, "score.bias");
		CHECK(sb != NULL && sb->dtype == ST_BF16 && sb->numel == 2, "score.bias");
	}

	/* LM (no head, no labels) with F32 buffers */
	g_autofree char *d4 = g_build_filename(work, "lm", NULL);
	g_autoptr(Bundle) b4 = load_good(d4);
	if (b4 != NULL) {
		check_tiny_config(b4, 512, 0);
		check_against_ref(b4, d4);
		const StTensor *ab = bundle_tensor(b4, "h.1.attn.bias");
		CHECK(ab != NULL && ab->ndim == 4 && ab->shape[2] == 64, "F32 buffer");
		CHECK(bundle_tensor(b4, "score.weight") == NULL, "LM has no score");
	}
}

/* ---------------------------------------------------------------------- */
/* bundle_save round trips */

/* tensor_copy - NAME of B as a fresh f32 array (asserted present) */
static float *
tensor_copy(const Bundle *b, const char *name)
{
	const StTensor *t = bundle_tensor(b, name);
	g_assert(t != NULL);
	float *v = g_new(float, t->numel);
	st_tensor_to_f32(t, v);
	return v;
}

/* model_from_bundle - a GptModel of separately allocated tensors, one per
 * row of gpt.c's table, read with bundle_tensor: not bundle_load_model's
 * block or mapping, so a save is checked apart from the loader */
static GptModel *
model_from_bundle(const Bundle *b)
{
	GptModel *m = gpt_model_new(&b->gpt);
	g_autoptr(GArray) table = gpt_tensors(m, bundle_tensor(b, "score.bias")
					      != NULL);

	for (guint i = 0; i < table->len; i++) {
		const GptTensor *t = &g_array_index(table, GptTensor, i);
		*t->field = tensor_copy(b, t->name);
	}
	return m;
}

static void
model_free_by_hand(GptModel *m)
{
	g_autoptr(GArray) table = gpt_tensors(m, m->score_b != NULL);

	for (guint i = 0; i < table->len; i++)
		g_free(*g_array_index(table, GptTensor, i).field);
	gpt_model_free(m);
}

/* same_tensors - every usable tensor of A is in B (under the same name,
 * allowing B's "transformer." prefix) with equal values after rounding A's
 * to DTYPE; returns the number compared, -1 on a difference */
static int
same_tensors(const Bundle *a, const Bundle *b, StDtype dtype, const char *tmp)
{
	int n = 0;
	for (gsize i = 0; i < safetensors_n_tensors(a->weights); i++) {
		const StTensor *ta = safetensors_tensor(a->weights, i);
		const char *name = ta->name;
		if (g_str_has_prefix(name, "transformer."))
			name += strlen("transformer.");
		if (g_str_has_suffix(name, ".attn.bias") || g_str_has_suffix(name, ".masked_bias"))
			continue;	/* buffers are not weights: not written */
		const StTensor *tb = bundle_tensor(b, name);
		if (tb == NULL || tb->numel != ta->numel || tb->ndim != ta->ndim ||
		    memcmp(tb->shape, ta->shape, sizeof ta->shape) != 0 ||
		    tb->dtype != dtype) {
			fprintf(stderr, "  %s: %s missing or different shape/dtype\n",
				b->dir, ta->name);
			return -1;
		}
		g_autofree float *va = g_new(float, ta->numel + 1);
		g_autofree float *vb = g_new(float, tb->numel + 1);
		st_tensor_to_f32(ta, va);
		st_tensor_to_f32(tb, vb);
		if (dtype != ST_F32 && ta->dtype != dtype) {
			/* expected: A's values rounded to DTYPE by the writer */
			guint16 *bits = g_new(guint16, ta->numel + 1);
			float *r = g_new(float, ta->numel + 1);
			gboolean ok = written_bits(tmp, va, (int) ta->numel, dtype, bits, r);
			memcpy(va, r, 4 * ta->numel);
			g_free(bits);
			g_free(r);
			if (!ok)
				return -1;
		}
		if (memcmp(va, vb, 4 * ta->numel) != 0) {
			fprintf(stderr, "  %s: %s values differ\n", b->dir, ta->name);
			return -1;
		}
		n++;
	}
	return n;
}

/* raw_header - the JSON header of a safetensors file, and its length */
static JsonObject *
raw_header(const char *path, JsonParser *parser, guint64 *hlen)
{
	g_autoptr(MapFile) mf = mapfile_open(path, NULL);
	if (mf == NULL || mf->size < 8)
		return NULL;
	*hlen = 0;
	for (int i = 7; i >= 0; i--)
		*hlen = (*hlen << 8) | mf->data[i];
	if (!json_parser_load_from_data(parser, (const char *) mf->data + 8,
					(gssize) *hlen, NULL))
		return NULL;
	return json_node_get_object(json_parser_get_root(parser));
}

static gboolean
files_equal(const char *a, const char *b)
{
	g_autofree char *ca = NULL, *cb = NULL;
	gsize la, lb;
	return g_file_get_contents(a, &ca, &la, NULL) &&
	       g_file_get_contents(b, &cb, &lb, NULL) && la == lb &&
	       memcmp(ca, cb, la) == 0;
}

static void
round_trip(const char *work, const char *src, StDtype dtype, const char *tok_dir,
	   int expect_tensors)
{
	g_autofree char *sdir = g_build_filename(work, src, NULL);
	g_autofree char *odir = g_strdup_printf("%s/saved-%s-%s", work, src,
						st_dtype_name(dtype));
	g_autoptr(Bundle) a = load_good(sdir);
	if (a == NULL)
		return;
	GptModel *m = model_from_bundle(a);
	g_autoptr(GError) err = NULL;
	JsonObject *extra = bundle_extra(a);
	gboolean ok = bundle_save(odir, m, (const char *const *) a->labels, extra,
				  dtype, tok_dir, &err);
	CHECK(ok, "bundle_save %s: %s", odir, err ? err->message : "");
	if (!ok) {
		model_free_by_hand(m);
		return;
	}
	g_autoptr(Bundle) b = load_good(odir);
	if (b != NULL) {
		int n = same_tensors(a, b, dtype, work);
		CHECK(n == expect_tensors, "%s: %d tensors equal, expected %d", odir, n,
		      expect_tensors);
		CHECK(safetensors_n_tensors(b->weights) == (gsize) expect_tensors,
		      "%s: %zu tensors written", odir,
		      (size_t) safetensors_n_tensors(b->weights));
		CHECK(memcmp(&a->gpt, &b->gpt, sizeof a->gpt) == 0, "%s: GptConfig", odir);
		CHECK(g_strv_equal((const char *const *) a->labels,
				   (const char *const *) b->labels), "%s: labels", odir);
		CHECK(strcmp(a->name, "tiny-test") != 0 || strcmp(b->name, "tiny-test") == 0,
		      "%s: name kept", odir);
		CHECK(a->max_tokens == b->max_tokens && a->mailtext_version ==
		      b->mailtext_version && a->threshold == b->threshold &&
		      a->temperature == b->temperature, "%s: gptmilter fields", odir);

		/* Hugging Face names and config */
		const char *want[] = { "transformer.wte.weight", "transformer.wpe.weight",
				       "transformer.h.0.attn.c_attn.weight",
				       "transformer.h.1.mlp.c_proj.bias",
				       "transformer.ln_f.bias" };
		for (gsize i = 0; i < G_N_ELEMENTS(want); i++)
			CHECK(safetensors_find(b->weights, want[i]) != NULL, "%s: %s", odir,
			      want[i]);
		CHECK(safetensors_find(b->weights, "lm_head.weight") == NULL &&
		      safetensors_find(b->weights, "transformer.score.weight") == NULL,
		      "%s: no lm_head, score unprefixed", odir);
		CHECK((safetensors_find(b->weights, "score.weight") != NULL) ==
		      (a->gpt.num_labels > 0), "%s: score.weight", odir);
		JsonObject *c = json_node_get_object(b->config);
		JsonArray *arch = json_object_get_array_member(c, "architectures");
		const char *arch0 = arch ? json_array_get_string_element(arch, 0) : "";
		CHECK(strcmp(arch0, a->gpt.num_labels ? "GPT2ForSequenceClassification"
			     : "GPT2LMHeadModel") == 0, "%s: architectures %s", odir, arch0);
		CHECK(strcmp(json_object_get_string_member(c, "model_type"), "gpt2") == 0 &&
		      json_object_get_int_member(c, "pad_token_id") == 50256 &&
		      json_object_get_int_member(c, "n_ctx") == 64 &&
		      json_object_get_double_member(c, "layer_norm_epsilon") == 1e-5 &&
		      strcmp(json_object_get_string_member(c, "activation_function"),
			     "gelu_new") == 0, "%s: HF config fields", odir);
		if (a->gpt.num_labels > 0) {
			JsonObject *i2l = json_object_get_object_member(c, "id2label");
			JsonObject *l2i = json_object_get_object_member(c, "label2id");
			CHECK(i2l && l2i && strcmp(json_object_get_string_member(i2l, "1"),
						   "spam") == 0 &&
			      json_object_get_int_member(l2i, "spam") == 1, "%s: labels", odir);
		}
		g_autofree char *cfgtext = NULL;
		g_autofree char *cfgpath = g_build_filename(odir, "config.json", NULL);
		g_file_get_contents(cfgpath, &cfgtext, NULL, NULL);
		CHECK(cfgtext && strstr(cfgtext, "\n  \"model_type\"") != NULL,
		      "%s: config.json pretty-printed", odir);

		/* header: padded to 8, metadata format pt */
		g_autofree char *wpath = g_build_filename(odir, "model.safetensors", NULL);
		g_autoptr(JsonParser) p = json_parser_new();
		guint64 hlen = 1;
		JsonObject *h = raw_header(wpath, p, &hlen);
		JsonObject *meta = h ? json_object_get_object_member(h, "__metadata__") : NULL;
		CHECK(hlen % 8 == 0 && meta != NULL &&
		      strcmp(json_object_get_string_member(meta, "format"), "pt") == 0,
		      "%s: header padding %" G_GUINT64_FORMAT " / metadata", odir, hlen);

		/* tokenizer copied under its own names */
		if (tok_dir != NULL) {
			g_autofree char *s1 = g_build_filename(tok_dir, "encoder.json", NULL);
			g_autofree char *s2 = g_build_filename(tok_dir, "vocab.bpe", NULL);
			CHECK(files_equal(s1, b->vocab_path) && files_equal(s2, b->merges_path),
			      "%s: tokenizer copies", odir);
		}
	}
	model_free_by_hand(m);
}

static void
test_save(const char *work, const char *tok_dir)
{
	/* 2 + 12 L + 2 + score (+ bias) */
	round_trip(work, "f32", ST_F32, tok_dir, 29);
	round_trip(work, "f32", ST_BF16, tok_dir, 29);
	round_trip(work, "f16", ST_F16, tok_dir, 29);
	round_trip(work, "bf16", ST_BF16, tok_dir, 30);
	round_trip(work, "bf16", ST_F32, tok_dir, 30);
	round_trip(work, "lm", ST_F32, tok_dir, 28);

	/* Saving again over a saved bundle, tokenizer from itself */
	g_autofree char *dir = g_build_filename(work, "saved-bf16-F32", NULL);
	g_autoptr(Bundle) a = load_good(dir);
	if (a != NULL) {
		GptModel *m = model_from_bundle(a);
		g_autoptr(GError) err = NULL;
		g_autofree char *enc_before = NULL;
		g_file_get_contents(a->vocab_path, &enc_before, NULL, NULL);
		/* the mapping of A stays valid after the file is replaced */
		CHECK(bundle_save(dir, m, NULL, NULL, ST_F32, dir, &err),
		      "save over itself: %s", err ? err->message : "");
		g_autoptr(Bundle) b = load_good(dir);
		if (b != NULL) {
			CHECK(same_tensors(a, b, ST_F32, work) == 30, "save over itself");
			CHECK(strcmp(b->labels[0], "LABEL_0") == 0, "default labels");
			CHECK(bundle_extra(b) != NULL &&
			      json_object_has_member(bundle_extra(b), "pooling"),
			      "gptmilter.pooling always written");
		}
		g_autofree char *enc_after = NULL;
		g_file_get_contents(a->vocab_path, &enc_after, NULL, NULL);
		CHECK(enc_before && enc_after && strcmp(enc_before, enc_after) == 0,
		      "tokenizer intact");
		model_free_by_hand(m);

		/* errors */
		m = model_from_bundle(a);
		g_autofree char *bad = g_build_filename(work, "saved-bad", NULL);
		CHECK(!bundle_save(bad, m, NULL, NULL, ST_F32, work, &err), "no tokenizer");
		check_error("save without tokenizer", &err, "missing tokenizer");
		g_autofree char *file = g_build_filename(dir, "config.json", NULL);
		g_autofree char *under = g_build_filename(file, "x", NULL);
		CHECK(!bundle_save(under, m, NULL, NULL, ST_F32, NULL, &err), "dir under file");
		check_error("save under a file", &err, "config.json/x");
		model_free_by_hand(m);
	}
}

/* ---------------------------------------------------------------------- */
/* Bad bundles */

/* A small valid config, edited per case with the REPLACE pairs. */
static const char good_config[] =
	"{\"architectures\":[\"GPT2ForSequenceClassification\"],"
	"\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":2,\"n_embd\":32,"
	"\"n_positions\":64,\"n_ctx\":64,\"vocab_size\":512,"
	"\"layer_norm_epsilon\":1e-05,\"unknown_field\":{\"x\":[1,2]},"
	"\"id2label\":{\"0\":\"ham\",\"1\":\"spam\"},"
	"\"label2id\":{\"ham\":0,\"spam\":1},"
	"\"gptmilter\":{\"max_tokens\":32,\"pooling\":\"last\"}}";

static void
write_file(const char *dir, const char *name, const void *data, gsize len)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	g_autoptr(GError) err = NULL;
	if (!mapfile_write_atomic(p, data, len, &err))
		g_error("%s", err->message);
}

/* bad_dir - a fresh bundle dir: CONFIG (NULL: none), tokenizer files per
 * TOK ("vm": vocab.json+merges.txt, "eb": encoder.json+vocab.bpe, "v": only
 * vocab.json), weights WEIGHTS (NULL: none) */
static char *
bad_dir(const char *work, const char *name, const char *config, const char *tok,
	const GByteArray *weights)
{
	char *d = g_build_filename(work, "bad", name, NULL);
	g_mkdir_with_parents(d, 0755);
	if (config != NULL)
		write_file(d, "config.json", config, strlen(config));
	if (strchr(tok, 'v'))
		write_file(d, "vocab.json", "{}", 2);
	if (strchr(tok, 'm'))
		write_file(d, "merges.txt", "#version: 0.2\n", 14);
	if (strchr(tok, 'e'))
		write_file(d, "encoder.json", "{}", 2);
	if (strchr(tok, 'b'))
		write_file(d, "vocab.bpe", "#version: 0.2\n", 14);
	if (weights != NULL)
		write_file(d, "model.safetensors", weights->data, weights->len);
	return d;
}

/* edit - GOOD_CONFIG with FROM replaced by TO */
static char *
edit(const char *from, const char *to)
{
	g_assert(strstr(good_config, from) != NULL);
	g_autoptr(GString) s = g_string_new(good_config);
	g_string_replace(s, from, to, 1);
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* config_bad - a bundle with config FROM->TO fails with NEEDLE */
#define config_bad(from, to, ...) do {					\
	g_autofree char *c_ = edit(from, to);				\
	g_autofree char *d_ = bad_dir(work, "cfg", c_, "vm", empty);	\
	g_autoptr(GError) e_ = NULL;					\
	Bundle *b_ = bundle_load(d_, &e_);				\
	CHECK(b_ == NULL, "accepted config with %s", to);		\
	bundle_free(b_);						\
	check_error_at(__FILE__, __LINE__, to, &e_, "config.json: ", __VA_ARGS__, NULL); \
} while (0)

static void
test_bad_bundles(const char *work)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GByteArray) empty = image("{}", 0);
	Bundle *b;

	/* the base case is good, and unknown fields are ignored */
	g_autofree char *ok = bad_dir(work, "ok", good_config, "eb", empty);
	b = load_good(ok);
	if (b != NULL) {
		CHECK(b->max_tokens == 32 && b->gpt.num_labels == 2 &&
		      g_str_has_suffix(b->vocab_path, "encoder.json"), "small config");
		bundle_free(b);
	}
	/* n_ctx alone is enough (old configs) */
	{
		g_autofree char *c = edit("\"n_positions\":64,", "");
		g_autofree char *d = bad_dir(work, "nctx", c, "vm", empty);
		b = load_good(d);
		CHECK(b && b->gpt.n_ctx == 64 && g_str_has_suffix(b->merges_path,
								  "merges.txt"), "n_ctx");
		bundle_free(b);
	}
	/* an LM config with HF's default labels has no labels */
	{
		g_autofree char *c = edit("GPT2ForSequenceClassification", "GPT2LMHeadModel");
		g_autofree char *d = bad_dir(work, "lmcfg", c, "vm", empty);
		b = load_good(d);
		CHECK(b && b->gpt.num_labels == 0 && b->labels && b->labels[0] == NULL,
		      "LM config labels ignored");
		bundle_free(b);
	}

	b = bundle_load("/nonexistent/model", &err);
	check_error("no dir", &err, "/nonexistent/model", "not a model directory");

	/* config.json */
	g_autofree char *nocfg = bad_dir(work, "nocfg", NULL, "vm", empty);
	b = bundle_load(nocfg, &err);
	check_error("no config", &err, "nocfg/config.json: missing");
	g_autofree char *badjson = bad_dir(work, "badjson", "{\"n_layer\": 2,", "vm", empty);
	b = bundle_load(badjson, &err);
	check_error("invalid config", &err, "badjson/config.json: invalid JSON");
	g_autofree char *arr = bad_dir(work, "arr", "[1,2]", "vm", empty);
	b = bundle_load(arr, &err);
	check_error("config array", &err, "config.json: ", "not a JSON object");

	config_bad("\"n_layer\":2,", "", "field 'n_layer' missing");
	config_bad("\"n_head\":2,", "", "field 'n_head' missing");
	config_bad("\"n_embd\":32,", "", "field 'n_embd' missing");
	config_bad("\"vocab_size\":512,", "", "field 'vocab_size' missing");
	config_bad("\"n_positions\":64,\"n_ctx\":64,", "", "'n_positions' (or 'n_ctx') missing");
	config_bad("\"n_head\":2", "\"n_head\":0", "field 'n_head'", "(got 0)");
	config_bad("\"n_layer\":2", "\"n_layer\":-3", "field 'n_layer'", "(got -3)");
	config_bad("\"n_embd\":32", "\"n_embd\":\"32\"", "field 'n_embd'", "(got \"32\")");
	config_bad("\"n_embd\":32", "\"n_embd\":32.5", "field 'n_embd'");
	config_bad("\"vocab_size\":512", "\"vocab_size\":99999999999", "field 'vocab_size'");
	config_bad("\"n_positions\":64", "\"n_positions\":null", "'n_positions' missing");
	config_bad("\"n_head\":2", "\"n_head\":3", "n_embd 32 is not a multiple of n_head 3");
	config_bad("1e-05", "-1", "layer_norm_epsilon");
	config_bad("\"model_type\":\"gpt2\"", "\"model_type\":\"bert\"", "model_type");
	config_bad("\"n_layer\"", "\"activation_function\":\"relu\",\"n_layer\"",
		   "activation_function");
	config_bad("{\"0\":\"ham\",\"1\":\"spam\"}", "[\"ham\",\"spam\"]",
		   "'id2label' is not an object");
	config_bad("\"1\":\"spam\"", "\"2\":\"spam\"", "id2label", "key \"2\"");
	config_bad("\"1\":\"spam\"", "\"x\":\"spam\"", "id2label", "key \"x\"");
	config_bad("\"1\":\"spam\"", "\"1\":\"ham\"", "label \"ham\" appears twice");
	config_bad("\"1\":\"spam\"", "\"1\":7", "id2label", "id 1");
	config_bad("\"spam\":1}", "\"spam\":0}", "label2id", "\"spam\" does not map to 1");
	config_bad("\"spam\":1}", "\"junk\":1}", "label2id", "\"spam\"");
	config_bad("\"spam\":1}", "\"spam\":1,\"x\":2}", "label2id", "3 labels");
	config_bad("\"gptmilter\":{\"max_tokens\":32,\"pooling\":\"last\"}",
		   "\"gptmilter\":\"x\"", "'gptmilter' is not an object");
	config_bad("\"pooling\":\"last\"", "\"pooling\":\"max\"", "gptmilter.pooling");
	config_bad("\"pooling\":\"last\"", "\"pooling\":1", "gptmilter.pooling");
	config_bad("\"max_tokens\":32", "\"max_tokens\":65", "max_tokens", "1..64");
	config_bad("\"max_tokens\":32", "\"max_tokens\":0", "max_tokens");
	config_bad("\"max_tokens\":32", "\"threshold\":2", "gptmilter.threshold");
	config_bad("\"max_tokens\":32", "\"calibration\":{\"temperature\":-1}",
		   "calibration.temperature");
	config_bad("\"max_tokens\":32", "\"calibration\":3", "gptmilter.calibration");
	config_bad("\"max_tokens\":32", "\"name\":\"\"", "gptmilter.name");
	config_bad("\"max_tokens\":32", "\"mailtext_version\":\"1\"", "mailtext_version");

	/* tokenizer */
	const char *toks[] = { "", "v", "m", "vb", "e", "b" };
	for (gsize i = 0; i < G_N_ELEMENTS(toks); i++) {
		g_autofree char *n = g_strdup_printf("tok%zu", (size_t) i);
		g_autofree char *d = bad_dir(work, n, good_config, toks[i], empty);
		b = bundle_load(d, &err);
		CHECK(b == NULL, "tokenizer '%s' accepted", toks[i]);
		bundle_free(b);
		g_autofree char *want = g_strdup_printf("%s: missing tokenizer (vocab.json"
							"+merges.txt or encoder.json+vocab.bpe)", d);
		check_error("tokenizer", &err, want);
	}

	/* weights: missing, truncated, bad dtype for a real weight */
	g_autofree char *now = bad_dir(work, "noweights", good_config, "vm", NULL);
	b = bundle_load(now, &err);
	check_error("no weights", &err, "noweights/model.safetensors: cannot open");

	g_autofree char *f32 = g_build_filename(work, "f32", "model.safetensors", NULL);
	g_autofree char *whole = NULL;
	gsize wlen = 0;
	CHECK(g_file_get_contents(f32, &whole, &wlen, NULL), "read %s", f32);
	if (whole != NULL) {
		g_autoptr(GByteArray) half = g_byte_array_new();
		g_byte_array_append(half, (guint8 *) whole, (guint) (wlen / 2));
		g_autofree char *d = bad_dir(work, "trunc", good_config, "vm", half);
		b = bundle_load(d, &err);
		CHECK(b == NULL, "truncated weights accepted");
		check_error("truncated weights", &err, "trunc/model.safetensors: tensor '",
			    "past end of data");
		g_byte_array_set_size(half, 100);
		d = (g_free(d), bad_dir(work, "trunc2", good_config, "vm", half));
		b = bundle_load(d, &err);
		check_error("truncated header", &err, "trunc2/model.safetensors: ",
			    "past end of file");
		g_byte_array_set_size(half, 5);
		d = (g_free(d), bad_dir(work, "trunc3", good_config, "vm", half));
		b = bundle_load(d, &err);
		check_error("truncated length", &err, "trunc3/model.safetensors: ",
			    "truncated");
		/* header not JSON: break the first brace */
		g_autoptr(GByteArray) nj = g_byte_array_new();
		g_byte_array_append(nj, (guint8 *) whole, (guint) wlen);
		nj->data[9] = '#';
		d = (g_free(d), bad_dir(work, "notjson", good_config, "vm", nj));
		b = bundle_load(d, &err);
		check_error("header not JSON", &err, "notjson/model.safetensors: ",
			    "not valid JSON");
	}

	g_autoptr(GByteArray) u8 = image(
		"{\"transformer.h.0.attn.bias\":{\"dtype\":\"U8\",\"shape\":[1,1,2,2],"
		"\"data_offsets\":[0,4]},"
		"\"h.12.attn.masked_bias\":{\"dtype\":\"BOOL\",\"shape\":[],"
		"\"data_offsets\":[4,5]}}", 5);
	g_autofree char *bufs = bad_dir(work, "u8buf", good_config, "vm", u8);
	b = load_good(bufs);
	bundle_free(b);
	g_autoptr(GByteArray) u8w = image(
		"{\"transformer.h.0.attn.bias\":{\"dtype\":\"U8\",\"shape\":[1,1,2,2],"
		"\"data_offsets\":[0,4]},"
		"\"transformer.h.0.ln_1.weight\":{\"dtype\":\"I32\",\"shape\":[32],"
		"\"data_offsets\":[4,132]}}", 132);
	g_autofree char *badw = bad_dir(work, "u8weight", good_config, "vm", u8w);
	b = bundle_load(badw, &err);
	CHECK(b == NULL, "I32 weight accepted");
	check_error("I32 weight", &err, "u8weight/model.safetensors: tensor "
		    "'transformer.h.0.ln_1.weight': dtype I32 not supported");
	g_autoptr(GByteArray) u8x = image(
		"{\"h.0.attn.biasx\":{\"dtype\":\"U8\",\"shape\":[1],"
		"\"data_offsets\":[0,1]}}", 1);
	g_autofree char *badx = bad_dir(work, "u8x", good_config, "vm", u8x);
	b = bundle_load(badx, &err);
	check_error("U8 non-buffer", &err, "tensor 'h.0.attn.biasx': dtype U8");
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_bundle WORKDIR TOKENIZER_DIR\n");
		return 2;
	}
	const char *work = argv[1], *tok = argv[2];

	test_good(work);
	test_save(work, tok);
	test_bad_bundles(work);
	return check_summary("test_bundle");
}
