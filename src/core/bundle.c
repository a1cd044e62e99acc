/*
 * bundle.c - a model directory in the Hugging Face layout
 *
 * Owns: reading DIR/config.json (json-glib) into a GptConfig, the labels
 * (id2label, cross-checked with label2id) and our "gptmilter" object;
 * opening DIR/model.safetensors (validated by safetensors.c); locating the
 * tokenizer pair; and writing a bundle that Hugging Face's from_pretrained
 * loads unchanged (config.json in HF style, "transformer."-prefixed body
 * tensors, a plain "score.weight", no duplicate of the tied LM head).
 * Bundle-level checks live here: required fields present, positive and
 * sane, n_embd % n_head == 0, labels consistent, gptmilter fields typed and
 * in range, no tensor of an unusable dtype other than the attention-mask
 * buffers (h.N.attn.bias / masked_bias) of older HF exports. And the model
 * of a bundle (bundle_load_model): the tensors of gpt.c's table found,
 * shapes checked against the config, bound in place or converted.
 * Unknown config fields are ignored: real HF configs carry many.
 * Not here: the file format (safetensors.c), the architecture and its
 * tensor table (gpt.c).
 *	g_autoptr(Bundle) b = bundle_load(dir, &error);
 * Threads: read-only once loaded. Errors: GError "DIR/FILE: field: problem".
 * Checked by: tests/test_model.c (good and bad bundles, save round trip).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bundle.h"
#include "mapfile.h"
#include "gptm_error.h"

/* Sanity bounds on hyper-parameters read from a file: far above any GPT-2
 * (1600 wide, 48 layers, 50257 tokens, 1024 positions), far below overflow
 * of int products such as n_ctx * n_embd * 4. */
#define BUNDLE_MAX_LAYER 1024
#define BUNDLE_MAX_HEAD 1024
#define BUNDLE_MAX_EMBD 65536
#define BUNDLE_MAX_CTX (1 << 20)
#define BUNDLE_MAX_VOCAB (1 << 24)
#define BUNDLE_MAX_LABELS 4096

/* The tokenizer pairs we accept, in order of preference. */
static const char *const tokenizer_pairs[][2] = {
	{ "vocab.json", "merges.txt" },
	{ "encoder.json", "vocab.bpe" },
};

/* bundle_free - free B and unmap its weights; NULL is a no-op */
void
bundle_free(Bundle *b)
{
	if (b == NULL)
		return;
	g_free(b->dir);
	g_free(b->name);
	g_strfreev(b->labels);
	if (b->config != NULL)
		json_node_unref(b->config);
	safetensors_free(b->weights);
	g_free(b->vocab_path);
	g_free(b->merges_path);
	g_free(b);
}

/* cfg_error - set the error "FILE: problem" */
G_GNUC_PRINTF(3, 4) static void
cfg_error(GError **error, const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL, "%s: %s", file, msg);
}

/* node_is_number - TRUE for a JSON integer or double */
static gboolean
node_is_number(JsonNode *n)
{
	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return FALSE;
	GType t = json_node_get_value_type(n);
	return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

/* node_get_int - an integral JSON number (12 or 12.0) in [LO, HI] */
static gboolean
node_get_int(JsonNode *n, gint64 lo, gint64 hi, gint64 *out)
{
	if (!node_is_number(n))
		return FALSE;
	gint64 v;
	if (json_node_get_value_type(n) == G_TYPE_INT64) {
		v = json_node_get_int(n);
	} else {
		double d = json_node_get_double(n);
		if (!(d >= (double) lo && d <= (double) hi) || d != floor(d))
			return FALSE;
		v = (gint64) d;
	}
	if (v < lo || v > hi)
		return FALSE;
	*out = v;
	return TRUE;
}

/* node_desc - short text of a JSON node for an error message */
static char *
node_desc(JsonNode *n)
{
	if (n == NULL)
		return g_strdup("nothing");
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, n);
	g_autofree char *s = json_generator_to_data(gen, NULL);
	if (strlen(s) > 40)
		return g_strdup_printf("%.37s...", s);
	return g_steal_pointer(&s);
}

/* get_int_field - required (or, with DEF >= 0, optional) integer member;
 * FIELD may be "group.name": the member is "name" of O */
static gboolean
get_int_field(JsonObject *o, const char *file, const char *field,
	      gint64 lo, gint64 hi, gint64 def, int *out, GError **error)
{
	const char *dot = strrchr(field, '.');
	const char *member = dot != NULL ? dot + 1 : field;
	JsonNode *n = json_object_get_member(o, member);
	if (n == NULL || JSON_NODE_HOLDS_NULL(n)) {
		if (def >= 0) {
			*out = (int) def;
			return TRUE;
		}
		cfg_error(error, file, "field '%s' missing", field);
		return FALSE;
	}
	gint64 v;
	if (!node_get_int(n, lo, hi, &v)) {
		g_autofree char *d = node_desc(n);
		cfg_error(error, file, "field '%s' must be an integer in %"
			  G_GINT64_FORMAT "..%" G_GINT64_FORMAT " (got %s)",
			  field, lo, hi, d);
		return FALSE;
	}
	*out = (int) v;
	return TRUE;
}

/* get_string_member - the string member FIELD of O, NULL if absent;
 * *BAD is set when present but not a string */
static const char *
get_string_member(JsonObject *o, const char *field, gboolean *bad)
{
	JsonNode *n = json_object_get_member(o, field);
	*bad = FALSE;
	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return NULL;
	if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
		*bad = TRUE;
		return NULL;
	}
	return json_node_get_string(n);
}

/* is_classifier_arch - FALSE when "architectures" lists only non-classifier
 * models: HF writes default id2label {"0":"LABEL_0","1":"LABEL_1"} into
 * every config, so labels count only for *ForSequenceClassification (or
 * when the architecture is not stated at all) */
static gboolean
is_classifier_arch(JsonObject *o)
{
	JsonNode *n = json_object_get_member(o, "architectures");
	if (n == NULL || !JSON_NODE_HOLDS_ARRAY(n))
		return TRUE;
	JsonArray *a = json_node_get_array(n);
	guint len = json_array_get_length(a);
	if (len == 0)
		return TRUE;
	for (guint i = 0; i < len; i++) {
		JsonNode *e = json_array_get_element(a, i);
		if (JSON_NODE_HOLDS_VALUE(e) &&
		    json_node_get_value_type(e) == G_TYPE_STRING &&
		    g_str_has_suffix(json_node_get_string(e), "ForSequenceClassification"))
			return TRUE;
	}
	return FALSE;
}

/* Labels - NL label strings being read, possibly with holes */
typedef struct {
	char **v;		/* [nl + 1] */
	guint nl;
} Labels;

static Labels *
labels_new(guint nl)
{
	Labels *lb = g_new0(Labels, 1);
	lb->v = g_new0(char *, nl + 1);
	lb->nl = nl;
	return lb;
}

static void
labels_free(Labels *lb)
{
	if (lb->v != NULL)
		for (guint i = 0; i < lb->nl; i++)
			g_free(lb->v[i]);
	g_free(lb->v);
	g_free(lb);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Labels, labels_free)

/* read_labels - id2label (and label2id when present) into B->labels */
static gboolean
read_labels(Bundle *b, JsonObject *o, const char *file, GError **error)
{
	JsonNode *n = json_object_get_member(o, "id2label");
	if (n == NULL || JSON_NODE_HOLDS_NULL(n)) {
		b->labels = g_new0(char *, 1);
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_OBJECT(n)) {
		cfg_error(error, file, "field 'id2label' is not an object");
		return FALSE;
	}
	JsonObject *id2 = json_node_get_object(n);
	guint nl = json_object_get_size(id2);
	if (nl > BUNDLE_MAX_LABELS) {
		cfg_error(error, file, "field 'id2label': %u labels (at most %d)",
			  nl, BUNDLE_MAX_LABELS);
		return FALSE;
	}
	/* Filled out of order: freed with labels_free(), not g_strfreev(). */
	g_autoptr(Labels) lb = labels_new(nl);
	char **labels = lb->v;
	g_autoptr(GList) members = json_object_get_members(id2);
	for (GList *l = members; l != NULL; l = l->next) {
		const char *key = l->data;
		guint64 id;
		if (!g_ascii_string_to_unsigned(key, 10, 0, nl > 0 ? nl - 1 : 0, &id, NULL) ||
		    labels[id] != NULL) {
			cfg_error(error, file, "field 'id2label': key \"%s\" is not "
				  "one of the ids 0..%u (each once)", key, nl - 1);
			return FALSE;
		}
		JsonNode *v = json_object_get_member(id2, key);
		if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING ||
		    *json_node_get_string(v) == '\0') {
			cfg_error(error, file, "field 'id2label': label of id %s is "
				  "not a non-empty string", key);
			return FALSE;
		}
		labels[id] = g_strdup(json_node_get_string(v));
	}
	for (guint i = 0; i < nl; i++)
		for (guint j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0) {
				cfg_error(error, file, "field 'id2label': label \"%s\" "
					  "appears twice", labels[i]);
				return FALSE;
			}

	/* label2id is optional, but when present it must agree. */
	JsonNode *m = json_object_get_member(o, "label2id");
	if (m != NULL && !JSON_NODE_HOLDS_NULL(m)) {
		if (!JSON_NODE_HOLDS_OBJECT(m)) {
			cfg_error(error, file, "field 'label2id' is not an object");
			return FALSE;
		}
		JsonObject *l2 = json_node_get_object(m);
		if (json_object_get_size(l2) != nl) {
			cfg_error(error, file, "field 'label2id' has %u labels, "
				  "'id2label' has %u", json_object_get_size(l2), nl);
			return FALSE;
		}
		for (guint i = 0; i < nl; i++) {
			gint64 id;
			if (!node_get_int(json_object_get_member(l2, labels[i]), 0,
					  G_MAXINT32, &id) || id != (gint64) i) {
				cfg_error(error, file, "field 'label2id': \"%s\" does "
					  "not map to %u as in 'id2label'", labels[i], i);
				return FALSE;
			}
		}
	}

	if (is_classifier_arch(o)) {
		b->gpt.num_labels = (int) nl;
		b->labels = g_steal_pointer(&lb->v);
	} else {
		b->labels = g_new0(char *, 1);
	}
	return TRUE;
}

/* read_extra - the optional "gptmilter" object */
static gboolean
read_extra(Bundle *b, JsonObject *o, const char *file, GError **error)
{
	b->max_tokens = b->gpt.n_ctx;
	b->mailtext_version = 0;
	b->temperature = 1.0f;
	b->threshold = -1.0f;
	b->gpt.pooling = GPT_POOL_LAST;

	JsonNode *n = json_object_get_member(o, "gptmilter");
	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(n)) {
		cfg_error(error, file, "field 'gptmilter' is not an object");
		return FALSE;
	}
	JsonObject *g = json_node_get_object(n);
	gboolean bad;

	const char *name = get_string_member(g, "name", &bad);
	if (bad || (name != NULL && *name == '\0')) {
		cfg_error(error, file, "field 'gptmilter.name' is not a non-empty string");
		return FALSE;
	}
	if (name != NULL) {
		g_free(b->name);
		b->name = g_strdup(name);
	}
	if (!get_int_field(g, file, "gptmilter.max_tokens", 1, b->gpt.n_ctx, b->gpt.n_ctx,
			   &b->max_tokens, error))
		return FALSE;
	if (!get_int_field(g, file, "gptmilter.mailtext_version", 0, G_MAXINT32, 0,
			   &b->mailtext_version, error))
		return FALSE;

	JsonNode *t = json_object_get_member(g, "threshold");
	if (t != NULL && !JSON_NODE_HOLDS_NULL(t)) {
		double v = node_is_number(t) ? json_node_get_double(t) : NAN;
		if (!(v >= 0.0 && v <= 1.0)) {
			cfg_error(error, file, "field 'gptmilter.threshold' must be a "
				  "number in [0, 1]");
			return FALSE;
		}
		b->threshold = (float) v;
	}

	JsonNode *c = json_object_get_member(g, "calibration");
	if (c != NULL && !JSON_NODE_HOLDS_NULL(c)) {
		if (!JSON_NODE_HOLDS_OBJECT(c)) {
			cfg_error(error, file, "field 'gptmilter.calibration' is not an object");
			return FALSE;
		}
		JsonNode *tn = json_object_get_member(json_node_get_object(c), "temperature");
		if (tn != NULL && !JSON_NODE_HOLDS_NULL(tn)) {
			double v = node_is_number(tn) ? json_node_get_double(tn) : NAN;
			if (!(v > 0.0 && v < 1e6)) {
				cfg_error(error, file, "field 'gptmilter.calibration."
					  "temperature' must be a positive number");
				return FALSE;
			}
			b->temperature = (float) v;
		}
	}

	const char *pool = get_string_member(g, "pooling", &bad);
	if (bad || (pool != NULL && strcmp(pool, "last") != 0 &&
		    strcmp(pool, "mean") != 0)) {
		cfg_error(error, file, "field 'gptmilter.pooling' must be \"last\" "
			  "or \"mean\"");
		return FALSE;
	}
	if (pool != NULL && strcmp(pool, "mean") == 0)
		b->gpt.pooling = GPT_POOL_MEAN;
	return TRUE;
}

/* read_config - parse and check DIR/config.json into B */
static gboolean
read_config(Bundle *b, GError **error)
{
	g_autofree char *file = g_build_filename(b->dir, "config.json", NULL);
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(GError) jerr = NULL;
	if (!g_file_test(file, G_FILE_TEST_EXISTS)) {
		cfg_error(error, file, "missing");
		return FALSE;
	}
	if (!json_parser_load_from_mapped_file(parser, file, &jerr)) {
		cfg_error(error, file, "invalid JSON: %s", jerr->message);
		return FALSE;
	}
	JsonNode *root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		cfg_error(error, file, "invalid: not a JSON object");
		return FALSE;
	}
	b->config = json_node_ref(root);
	JsonObject *o = json_node_get_object(root);

	/* model_type, when given, must be ours: a BERT config is not a GPT-2 */
	gboolean bad;
	const char *mt = get_string_member(o, "model_type", &bad);
	if (bad || (mt != NULL && strcmp(mt, "gpt2") != 0)) {
		cfg_error(error, file, "field 'model_type' is not \"gpt2\"");
		return FALSE;
	}

	GptConfig *c = &b->gpt;
	if (!get_int_field(o, file, "n_layer", 1, BUNDLE_MAX_LAYER, -1, &c->n_layer, error) ||
	    !get_int_field(o, file, "n_head", 1, BUNDLE_MAX_HEAD, -1, &c->n_head, error) ||
	    !get_int_field(o, file, "n_embd", 1, BUNDLE_MAX_EMBD, -1, &c->n_embd, error) ||
	    !get_int_field(o, file, "vocab_size", 1, BUNDLE_MAX_VOCAB, -1, &c->vocab_size, error))
		return FALSE;
	/* n_positions is the size of wpe; very old configs only have n_ctx */
	const char *pos = json_object_has_member(o, "n_positions") ? "n_positions" : "n_ctx";
	if (!json_object_has_member(o, pos)) {
		cfg_error(error, file, "field 'n_positions' (or 'n_ctx') missing");
		return FALSE;
	}
	if (!get_int_field(o, file, pos, 1, BUNDLE_MAX_CTX, -1, &c->n_ctx, error))
		return FALSE;
	if (c->n_embd % c->n_head != 0) {
		cfg_error(error, file, "n_embd %d is not a multiple of n_head %d",
			  c->n_embd, c->n_head);
		return FALSE;
	}

	c->ln_eps = 1e-5f;
	JsonNode *e = json_object_get_member(o, "layer_norm_epsilon");
	if (e != NULL && !JSON_NODE_HOLDS_NULL(e)) {
		double v = node_is_number(e) ? json_node_get_double(e) : NAN;
		if (!(v > 0.0 && v < 1.0)) {
			cfg_error(error, file, "field 'layer_norm_epsilon' must be a "
				  "number in (0, 1)");
			return FALSE;
		}
		c->ln_eps = (float) v;
	}

	/* GPT-2 proper uses the tanh approximation; anything else would give
	 * silently different outputs. */
	const char *act = get_string_member(o, "activation_function", &bad);
	if (bad || (act != NULL && strcmp(act, "gelu_new") != 0 &&
		    strcmp(act, "gelu_pytorch_tanh") != 0)) {
		cfg_error(error, file, "field 'activation_function' must be "
			  "\"gelu_new\" (GPT-2's tanh GELU)");
		return FALSE;
	}

	if (!read_labels(b, o, file, error))
		return FALSE;
	return read_extra(b, o, file, error);
}

/* bundle_find_tokenizer - the first tokenizer pair present in DIR, or FALSE */
gboolean
bundle_find_tokenizer(const char *dir, char **vocab, char **merges)
{
	for (gsize i = 0; i < G_N_ELEMENTS(tokenizer_pairs); i++) {
		g_autofree char *v = g_build_filename(dir, tokenizer_pairs[i][0], NULL);
		g_autofree char *m = g_build_filename(dir, tokenizer_pairs[i][1], NULL);
		if (g_file_test(v, G_FILE_TEST_IS_REGULAR) &&
		    g_file_test(m, G_FILE_TEST_IS_REGULAR)) {
			*vocab = g_steal_pointer(&v);
			*merges = g_steal_pointer(&m);
			return TRUE;
		}
	}
	return FALSE;
}

/* is_hf_buffer - NAME is an attention-mask buffer of an old HF export
 * ([transformer.]h.N.attn.bias or .masked_bias): not a weight, so its
 * dtype (BOOL, U8) does not matter */
static gboolean
is_hf_buffer(const char *name)
{
	if (g_str_has_prefix(name, "transformer."))
		name += strlen("transformer.");
	if (!g_str_has_prefix(name, "h."))
		return FALSE;
	const char *p = name + 2;
	if (!g_ascii_isdigit(*p))
		return FALSE;
	while (g_ascii_isdigit(*p))
		p++;
	return strcmp(p, ".attn.bias") == 0 || strcmp(p, ".attn.masked_bias") == 0;
}

/* bundle_load - read and check DIR; the tokenizer files must exist */
Bundle *
bundle_load(const char *dir, GError **error)
{
	g_return_val_if_fail(dir != NULL, NULL);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: not a model directory", dir);
		return NULL;
	}
	g_autoptr(Bundle) b = g_new0(Bundle, 1);
	b->dir = g_strdup(dir);
	b->name = g_path_get_basename(dir);

	if (!read_config(b, error))
		return NULL;

	if (!bundle_find_tokenizer(dir, &b->vocab_path, &b->merges_path)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: missing tokenizer (vocab.json+merges.txt or "
			    "encoder.json+vocab.bpe)", dir);
		return NULL;
	}

	g_autofree char *wpath = g_build_filename(dir, "model.safetensors", NULL);
	b->weights = safetensors_open(wpath, error);
	if (b->weights == NULL)
		return NULL;
	/* A weight we cannot convert is an error now, naming it, rather than
	 * a "missing tensor" later; only the mask buffers may be anything. */
	for (gsize i = 0; i < safetensors_n_unusable(b->weights); i++) {
		const char *tn = safetensors_unusable_name(b->weights, i);
		if (!is_hf_buffer(tn)) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: tensor '%s': dtype %s not supported "
				    "(F32, F16 or BF16)", wpath, tn,
				    safetensors_unusable(b->weights, tn));
			return NULL;
		}
	}
	return g_steal_pointer(&b);
}

/* bundle_extra - the "gptmilter" object of config.json, or NULL */
JsonObject *
bundle_extra(const Bundle *b)
{
	if (b->config == NULL)
		return NULL;
	JsonNode *n = json_object_get_member(json_node_get_object(b->config),
					     "gptmilter");
	return n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* bundle_extra_copy - see bundle.h */
JsonNode *
bundle_extra_copy(const Bundle *b, const char *name)
{
	JsonObject *x = bundle_extra(b);
	JsonNode *n = x ? json_object_get_member(x, name) : NULL;

	return n ? json_node_copy(n) : NULL;
}

/* ------------------------------------------------------------------ */
/* The model: the tensors of gpt_tensors() bound to the weights */

/* find_tensor - NAME under "transformer." first, then as is, in ST (the
 * bundle's weights or a second mapping of them); when there is neither,
 * *UNUSABLE (if not NULL) gets the dtype of one we cannot convert */
static const StTensor *
find_tensor(const Safetensors *st, const char *name, const char **unusable)
{
	g_autofree char *full = g_strconcat("transformer.", name, NULL);
	const StTensor *t = safetensors_find(st, full);

	if (t == NULL)
		t = safetensors_find(st, name);
	if (t == NULL && unusable != NULL) {
		*unusable = safetensors_unusable(st, full);
		if (*unusable == NULL)
			*unusable = safetensors_unusable(st, name);
	}
	return t;
}

/* shape_str - "[a, b]" of a tensor's shape */
static char *
shape_str(int ndim, const int64_t *shape)
{
	GString *s = g_string_new("[");

	for (int i = 0; i < ndim; i++)
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? ", " : "",
				       shape[i]);
	g_string_append_c(s, ']');
	return g_string_free(s, FALSE);
}

/* check_tensor - T exists with the shape of SPEC; else set error */
static gboolean
check_tensor(const Safetensors *st, const GptTensor *spec,
	     const StTensor *t, const char *unusable, GError **error)
{
	const char *path = safetensors_path(st);

	if (t == NULL && unusable != NULL) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: tensor '%s': dtype %s not supported "
			    "(F32, F16 or BF16)", path, spec->name, unusable);
		return FALSE;
	}
	if (t == NULL) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: missing tensor '%s' (or 'transformer.%s')",
			    path, spec->name, spec->name);
		return FALSE;
	}
	gboolean ok = t->ndim == spec->ndim;
	for (int i = 0; ok && i < spec->ndim; i++)
		ok = t->shape[i] == spec->shape[i];
	if (!ok) {
		g_autofree char *want = shape_str(spec->ndim, spec->shape);
		g_autofree char *got = shape_str(t->ndim, t->shape);
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: tensor '%s' has shape %s, expected %s "
			    "(from config.json)", path, t->name, got, want);
		return FALSE;
	}
	return TRUE;
}

/* head_size - the number of labels that score.weight defines (0 if there
 * is none), checked against the config's id2label; -1 on error */
static int
head_size(const Bundle *b, gboolean *with_bias, GError **error)
{
	const char *path = safetensors_path(b->weights);
	const StTensor *w = find_tensor(b->weights, "score.weight", NULL);
	const StTensor *bias = find_tensor(b->weights, "score.bias", NULL);
	const int cfg_nl = b->gpt.num_labels;

	*with_bias = bias != NULL;
	if (w == NULL) {
		if (cfg_nl > 0) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: missing tensor 'score.weight' (config.json "
				    "has %d labels)", path, cfg_nl);
			return -1;
		}
		if (bias != NULL) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: tensor 'score.bias' without 'score.weight'",
				    path);
			return -1;
		}
		return 0;
	}
	/* only the rows here; bind() checks the rest of the shape in order */
	if (w->ndim != 2 || w->shape[0] < 1 || w->shape[0] > 1 << 20) {
		g_autofree char *got = shape_str(w->ndim, w->shape);
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: tensor '%s' has shape %s, expected "
			    "[num_labels, %d]", path, w->name, got,
			    b->gpt.n_embd);
		return -1;
	}
	if (cfg_nl > 0 && w->shape[0] != cfg_nl) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: tensor '%s' has %" G_GINT64_FORMAT " rows but "
			    "config.json has %d labels", path, w->name,
			    w->shape[0], cfg_nl);
		return -1;
	}
	return (int)w->shape[0];
}

/* The name of the scale of int8 weight NAME: NAME "_scale". */
#define SCALE_SUFFIX "_scale"

/* check_int8 - the int8 side of SPEC's tensor T in ST: an I8 weight is one
 * of the linear layers' (SPEC has a qfield), holds -127..127, and has its
 * scale, an (OC) float tensor of finite values >= 0, copied into *SCALE
 * (g_free it); any other weight has no scale. Else set error. */
static gboolean
check_int8(const Safetensors *st, const GptTensor *spec, const StTensor *t,
	   float **scale, GError **error)
{
	const char *path = safetensors_path(st);
	g_autofree char *sname = g_strconcat(spec->name, SCALE_SUFFIX, NULL);
	const char *unusable = NULL;
	const StTensor *ts = find_tensor(st, sname, &unusable);
	/* in messages, the scale under the weight's own prefix */
	g_autofree char *want = g_strconcat(t->name, SCALE_SUFFIX, NULL);

	*scale = NULL;
	if (t->dtype != ST_I8) {
		if (ts != NULL || unusable != NULL) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: tensor '%s': a scale for '%s', which "
				    "is %s, not I8", path, ts ? ts->name : want,
				    t->name, st_dtype_name(t->dtype));
			return FALSE;
		}
		return TRUE;
	}
	if (spec->qfield == NULL) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: tensor '%s': dtype I8 is only for the weights "
			    "of c_attn, c_proj and c_fc", path, t->name);
		return FALSE;
	}
	const int64_t OC = spec->shape[1];
	if (ts == NULL || ts->dtype == ST_I8 || ts->ndim != 1 ||
	    ts->shape[0] != OC) {
		g_autofree char *got = ts ? shape_str(ts->ndim, ts->shape) : NULL;
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: I8 tensor '%s' needs its scale '%s' (F32, "
			    "shape [%" G_GINT64_FORMAT "]): %s%s%s", path,
			    t->name, want, OC, ts == NULL ? "missing" :
			    "found ", ts == NULL ? "" : st_dtype_name(ts->dtype),
			    ts == NULL ? "" : got);
		return FALSE;
	}
	const int8_t *q = (const int8_t *)t->data;
	for (gsize i = 0; i < (gsize)t->numel; i++)
		if (q[i] == -128) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: I8 tensor '%s' holds -128 at [%"
				    G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] "
				    "(int8 weights are -127 .. 127)", path,
				    t->name, i / (gsize)OC, i % (gsize)OC);
			return FALSE;
		}
	g_autofree float *sc = g_new(float, OC);
	st_tensor_to_f32(ts, sc);
	for (int64_t o = 0; o < OC; o++)
		if (!(isfinite(sc[o]) && sc[o] >= 0.0f)) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: tensor '%s': [%" G_GINT64_FORMAT "] "
				    "is %g, not a finite scale >= 0", path,
				    ts->name, o, (double)sc[o]);
			return FALSE;
		}
	*scale = g_steal_pointer(&sc);
	return TRUE;
}

/* How bind() treats the tensors of a table. */
typedef enum {
	BIND_CHECK,	/* check only; fields untouched */
	BIND_POINT,	/* f32 fields into ST's mapping, int8 weights packed */
	BIND_COPY,	/* convert into the fields (an owned block); int8
			 * weights dequantized, and packed too with WANT_Q */
} BindMode;

/* bind - check every tensor of SPECS in ST and bind it by MODE.
 * *ZERO_COPY_OK tells whether every float tensor is F32 and 4-byte
 * aligned (int8 weights are packed into memory of their own anyway). */
static gboolean
bind(const Safetensors *st, GArray *specs, BindMode mode, gboolean want_q,
     gboolean *zero_copy_ok, GError **error)
{
	if (zero_copy_ok != NULL)
		*zero_copy_ok = TRUE;
	for (guint i = 0; i < specs->len; i++) {
		const GptTensor *s = &g_array_index(specs, GptTensor, i);
		const char *unusable = NULL;
		const StTensor *t = find_tensor(st, s->name, &unusable);
		g_autofree float *scale = NULL;

		if (!check_tensor(st, s, t, unusable, error) ||
		    !check_int8(st, s, t, &scale, error))
			return FALSE;
		const int K = (int)s->shape[0], OC = (int)s->shape[1];
		if (t->dtype == ST_I8) {
			const int8_t *q = (const int8_t *)t->data;
			if (mode == BIND_POINT || (mode == BIND_COPY && want_q))
				*s->qfield = qmatrix_new(q, scale, K, OC);
			if (mode == BIND_POINT)
				*s->field = NULL;
			if (mode == BIND_COPY)
				for (gsize k = 0; k < (gsize)t->numel; k++)
					(*s->field)[k] = (float)q[k] *
					    scale[k % (gsize)OC];
			continue;
		}
		gboolean direct = t->dtype == ST_F32 &&
		    ((guintptr)t->data & (sizeof(float) - 1)) == 0;
		if (zero_copy_ok != NULL && !direct)
			*zero_copy_ok = FALSE;
		if (mode == BIND_POINT) {
			g_assert(direct);
			/* read-only mapping: the model never writes through
			 * these pointers unless it owns its block */
			*s->field = (float *)(gpointer)t->data;
		} else if (mode == BIND_COPY) {
			st_tensor_to_f32(t, *s->field);
		}
	}
	return TRUE;
}

/* bundle_load_model - the weights of B as a GptModel; every shape checked */
GptModel *
bundle_load_model(const Bundle *b, GptLoadFlags flags, GError **error)
{
	gboolean with_bias = FALSE, zero_copy_ok = FALSE;
	const gboolean owned = (flags & GPT_LOAD_OWNED) != 0;
	int nl = head_size(b, &with_bias, error);

	if (nl < 0)
		return NULL;
	GptConfig cfg = b->gpt;
	cfg.num_labels = nl;
	g_autoptr(GptModel) m = gpt_model_new(&cfg);
	g_autoptr(GArray) specs = gpt_tensors(m, with_bias);

	/* The attention-mask buffers (h.N.attn.bias, .masked_bias) of old
	 * exports and a tied lm_head.weight are not in SPECS: ignored. */
	if (!bind(b->weights, specs, BIND_CHECK, FALSE, &zero_copy_ok, error))
		return NULL;

	if (!owned && zero_copy_ok) {
		/* Map the file a second time for the model itself, so that
		 * the weights outlive the bundle (the pages are shared). */
		Safetensors *st = safetensors_open(safetensors_path(b->weights),
						   error);
		if (st == NULL)
			return NULL;
		m->keepalive = st;
		m->keepalive_free = (GDestroyNotify)safetensors_free;
		if (!bind(st, specs, BIND_POINT, TRUE, &zero_copy_ok, error))
			return NULL;
		if (!zero_copy_ok) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
				    "%s: changed while being loaded",
				    safetensors_path(st));
			return NULL;
		}
		return g_steal_pointer(&m);
	}

	/* the fields now point into the block: convert into them; int8
	 * weights stay int8 for inference, f32 for training (OWNED) */
	gpt_model_alloc_block(m, with_bias);
	if (!bind(b->weights, specs, BIND_COPY, !owned, NULL, error))
		return NULL;
	return g_steal_pointer(&m);
}

/* bundle_tensor - NAME with the "transformer." prefix, else as is */
const StTensor *
bundle_tensor(const Bundle *b, const char *name)
{
	return find_tensor(b->weights, name, NULL);
}

/* float_to_json_double - the shortest decimal that reads back as F, as a
 * double, so that 1e-5f is written "1e-05", not "9.9999997473787516e-06" */
static double
float_to_json_double(float f)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE];
	for (int prec = 6; prec < 9; prec++) {
		g_ascii_formatd(buf, sizeof buf, prec == 6 ? "%.6g" :
				prec == 7 ? "%.7g" : "%.8g", f);
		double d = g_ascii_strtod(buf, NULL);
		if ((float) d == f)
			return d;
	}
	return (double) f;
}

/* add_tensor - append one tensor for safetensors_write */
static void
add_tensor(GArray *ts, GPtrArray *names, char *name, const float *data,
	   int ndim, int64_t d0, int64_t d1)
{
	StWriteTensor t = { .name = name, .ndim = ndim, .data = data };
	t.shape[0] = d0;
	t.shape[1] = d1;
	g_ptr_array_add(names, name);
	g_array_append_val(ts, t);
}

/* copy_file - SRC to DST atomically (the tokenizer files are a few MB) */
static gboolean
copy_file(const char *src, const char *dst, GError **error)
{
	g_autoptr(MapFile) mf = mapfile_open(src, error);
	if (mf == NULL)
		return FALSE;
	static const guint8 empty[1];
	return mapfile_write_atomic(dst, mf->data != NULL ? mf->data : empty,
				    mf->size, error);
}

/* same_file - SRC and DST are the same inode (saving over the source) */
static gboolean
same_file(const char *a, const char *b)
{
	GStatBuf sa, sb;
	return g_stat(a, &sa) == 0 && g_stat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* write_config - DIR/config.json in Hugging Face style */
static gboolean
write_config(const char *dir, const GptConfig *c, const char *const *labels,
	     JsonObject *extra, StDtype dtype, GError **error)
{
	int NL = c->num_labels;
	g_autoptr(JsonBuilder) jb = json_builder_new();
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "architectures");
	json_builder_begin_array(jb);
	json_builder_add_string_value(jb, NL > 0 ? "GPT2ForSequenceClassification"
					  : "GPT2LMHeadModel");
	json_builder_end_array(jb);
	json_builder_set_member_name(jb, "model_type");
	json_builder_add_string_value(jb, "gpt2");
	json_builder_set_member_name(jb, "activation_function");
	json_builder_add_string_value(jb, "gelu_new");
	const struct {
		const char *k;
		int v;
	} ints[] = {
		{ "n_layer", c->n_layer }, { "n_head", c->n_head },
		{ "n_embd", c->n_embd }, { "n_positions", c->n_ctx },
		{ "n_ctx", c->n_ctx }, { "vocab_size", c->vocab_size },
		{ "bos_token_id", 50256 }, { "eos_token_id", 50256 },
		{ "pad_token_id", 50256 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(ints); i++) {
		json_builder_set_member_name(jb, ints[i].k);
		json_builder_add_int_value(jb, ints[i].v);
	}
	json_builder_set_member_name(jb, "layer_norm_epsilon");
	json_builder_add_double_value(jb, float_to_json_double(c->ln_eps));
	json_builder_set_member_name(jb, "torch_dtype");
	json_builder_add_string_value(jb, dtype == ST_F32 || dtype == ST_I8 ?
				      "float32" : dtype == ST_F16 ? "float16" :
				      "bfloat16");
	if (dtype == ST_I8) {
		/* Hugging Face knows no such method: from_pretrained stops
		 * with an error rather than reading int8 values as floats */
		json_builder_set_member_name(jb, "quantization_config");
		json_builder_begin_object(jb);
		json_builder_set_member_name(jb, "quant_method");
		json_builder_add_string_value(jb, "gptmilter-int8");
		json_builder_set_member_name(jb, "bits");
		json_builder_add_int_value(jb, 8);
		json_builder_set_member_name(jb, "weights");
		json_builder_add_string_value(jb, "I8 NAME (in, out) with F32 "
					      "NAME" SCALE_SUFFIX " (out): w = "
					      "q * scale[out]");
		json_builder_end_object(jb);
	}
	if (NL > 0) {
		json_builder_set_member_name(jb, "id2label");
		json_builder_begin_object(jb);
		for (int i = 0; i < NL; i++) {
			char key[16];
			g_snprintf(key, sizeof key, "%d", i);
			json_builder_set_member_name(jb, key);
			json_builder_add_string_value(jb, labels[i]);
		}
		json_builder_end_object(jb);
		json_builder_set_member_name(jb, "label2id");
		json_builder_begin_object(jb);
		for (int i = 0; i < NL; i++) {
			json_builder_set_member_name(jb, labels[i]);
			json_builder_add_int_value(jb, i);
		}
		json_builder_end_object(jb);
	}
	/* "gptmilter": a copy of EXTRA (the caller keeps its object), with
	 * "pooling" taken from the model, the truth the weights were trained
	 * with. */
	json_builder_set_member_name(jb, "gptmilter");
	json_builder_begin_object(jb);
	if (extra != NULL) {
		g_autoptr(GList) members = json_object_get_members(extra);
		for (GList *l = members; l != NULL; l = l->next) {
			if (strcmp(l->data, "pooling") == 0)
				continue;
			json_builder_set_member_name(jb, l->data);
			json_builder_add_value(jb, json_node_copy(
				json_object_get_member(extra, l->data)));
		}
	}
	json_builder_set_member_name(jb, "pooling");
	json_builder_add_string_value(jb, c->pooling == GPT_POOL_MEAN ? "mean" : "last");
	json_builder_end_object(jb);
	json_builder_end_object(jb);

	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(jb);
	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_indent(gen, 2);
	gsize len;
	g_autofree char *text = json_generator_to_data(gen, &len);
	g_autofree char *withnl = g_strconcat(text, "\n", NULL);
	g_autofree char *path = g_build_filename(dir, "config.json", NULL);
	return mapfile_write_atomic(path, withnl, len + 1, error);
}

/*
 * bundle_save - write MODEL into DIR (created) as a Hugging Face bundle.
 * Files are written weights first, config.json last, so a directory with a
 * config.json is complete.
 */
gboolean
bundle_save(const char *dir, const GptModel *model, const char *const *labels,
	    JsonObject *extra, StDtype dtype, const char *tokenizer_dir,
	    GError **error)
{
	g_return_val_if_fail(dir != NULL && model != NULL, FALSE);
	const GptConfig *c = &model->cfg;
	int NL = c->num_labels;
	g_return_val_if_fail(NL == 0 || model->score_w != NULL, FALSE);

	if (g_mkdir_with_parents(dir, 0755) < 0) {
		int err = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: cannot create directory: %s", dir, g_strerror(err));
		return FALSE;
	}

	/* Labels: the caller's, else HF's defaults LABEL_i. */
	g_autoptr(GPtrArray) lab = g_ptr_array_new_with_free_func(g_free);
	for (int i = 0; i < NL; i++) {
		if (labels != NULL)
			g_return_val_if_fail(labels[i] != NULL, FALSE);
		g_ptr_array_add(lab, labels != NULL ? g_strdup(labels[i])
				: g_strdup_printf("LABEL_%d", i));
	}
	g_ptr_array_add(lab, NULL);

	/* Tensors under the names GPT2ForSequenceClassification's state dict
	 * has: body under "transformer.", head as "score.*". The LM head is
	 * tied to wte and, as HF does, not written a second time. The table
	 * only reads the fields here (it takes their addresses). With ST_I8
	 * the linear weights go as I8 plus an F32 NAME_scale (per output
	 * channel), after every float tensor so that those stay aligned. */
	g_autoptr(GArray) table = gpt_tensors((GptModel *)model,
					      model->score_b != NULL);
	g_autoptr(GArray) ts = g_array_new(FALSE, TRUE, sizeof(StWriteTensor));
	g_autoptr(GArray) ts8 = g_array_new(FALSE, TRUE, sizeof(StWriteTensor));
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) bufs = g_ptr_array_new_with_free_func(g_free);
	const StDtype fdt = dtype == ST_I8 ? ST_F32 : dtype;
	for (guint i = 0; i < table->len; i++) {
		const GptTensor *t = &g_array_index(table, GptTensor, i);
		char *name = g_str_has_prefix(t->name, "score.") ?
		    g_strdup(t->name) : g_strconcat("transformer.", t->name,
						    NULL);
		const QMatrix *q = t->qfield != NULL ? *t->qfield : NULL;
		const float *data = *t->field;
		const gsize numel = gpt_tensor_numel(t);
		if (dtype == ST_I8 && t->qfield != NULL) {
			const int OC = (int)t->shape[1];
			int8_t *q8 = g_malloc(numel);
			float *scale = g_new(float, OC);
			if (q != NULL)
				qmatrix_export(q, q8, scale);
			else
				qmatrix_quantize_values(data, (int)t->shape[0],
							OC, q8, scale);
			g_ptr_array_add(bufs, q8);
			g_ptr_array_add(bufs, scale);
			add_tensor(ts8, names, name, NULL, t->ndim, t->shape[0],
				   t->shape[1]);
			g_array_index(ts8, StWriteTensor, ts8->len - 1).i8 = q8;
			add_tensor(ts, names, g_strconcat(name, SCALE_SUFFIX,
							  NULL), scale, 1, OC, 0);
			continue;
		}
		if (data == NULL) {	/* an int8 model loaded for inference */
			float *w = g_new(float, numel);
			qmatrix_dequantize(q, w);
			g_ptr_array_add(bufs, w);
			data = w;
		}
		add_tensor(ts, names, name, data, t->ndim, t->shape[0],
			   t->shape[1]);
	}
	g_array_append_vals(ts, ts8->data, ts8->len);

	/* Find the tokenizer before writing anything. */
	g_autofree char *tok_v = NULL, *tok_m = NULL;
	if (tokenizer_dir != NULL && !bundle_find_tokenizer(tokenizer_dir, &tok_v, &tok_m)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "%s: missing tokenizer (vocab.json+merges.txt or "
			    "encoder.json+vocab.bpe)", tokenizer_dir);
		return FALSE;
	}

	/* HF's loader refuses a file whose metadata lacks format "pt". */
	static const char *const meta[] = { "format", "pt", NULL, NULL };
	g_autofree char *wpath = g_build_filename(dir, "model.safetensors", NULL);
	if (!safetensors_write(wpath, (const StWriteTensor *) (void *) ts->data,
			       ts->len, fdt, meta, error))
		return FALSE;

	if (tokenizer_dir != NULL) {
		const char *src[2] = { tok_v, tok_m };
		for (int i = 0; i < 2; i++) {
			g_autofree char *base = g_path_get_basename(src[i]);
			g_autofree char *dst = g_build_filename(dir, base, NULL);
			if (same_file(src[i], dst))
				continue;
			if (!copy_file(src[i], dst, error))
				return FALSE;
		}
	}

	return write_config(dir, c, (const char *const *) lab->pdata, extra,
			    dtype, error);
}
