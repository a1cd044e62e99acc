/*
 * bundle.h - a model directory in the Hugging Face layout
 *
 * Owns: reading config.json (json-glib) into a GptConfig plus labels and our
 * own "gptmilter" object; opening model.safetensors; loading its model by
 * gpt.c's tensor table; locating the tokenizer files; and writing a bundle
 * (config.json + model.safetensors, atomically).
 *	g_autoptr(Bundle) b = bundle_load("/usr/share/gptmilter/models/default", &error);
 * Files: config.json, model.safetensors, and vocab.json + merges.txt or
 * OpenAI's encoder.json + vocab.bpe.
 * Threads: read-only once loaded. Errors: set error naming file and field.
 */
#ifndef GPTM_BUNDLE_H
#define GPTM_BUNDLE_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "gpt.h"
#include "safetensors.h"

typedef struct Bundle {
	char *dir;
	char *name;		/* gptmilter.name, else the directory's basename */
	GptConfig gpt;		/* num_labels from id2label (0 if none) */
	char **labels;		/* NL names in id order, NULL-terminated */
	int max_tokens;		/* gptmilter.max_tokens, else n_ctx */
	int mailtext_version;	/* gptmilter.mailtext_version, 0 if unknown */
	float temperature;	/* gptmilter.calibration.temperature, else 1 */
	float threshold;	/* gptmilter.threshold (recommended spam
				 * threshold), else -1 */
	JsonNode *config;	/* the whole config.json */
	Safetensors *weights;	/* model.safetensors, mapped */
	char *vocab_path;	/* vocab.json or encoder.json */
	char *merges_path;	/* merges.txt or vocab.bpe */
} Bundle;

/* bundle_load - read and check DIR; the tokenizer files must exist */
Bundle *bundle_load(const char *dir, GError **error);
void bundle_free(Bundle *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Bundle, bundle_free)
/* bundle_find_tokenizer - paths of the first tokenizer pair in DIR
 * (vocab.json + merges.txt, else encoder.json + vocab.bpe), or FALSE */
gboolean bundle_find_tokenizer(const char *dir, char **vocab, char **merges);
/* bundle_extra - the "gptmilter" object of config.json, or NULL */
JsonObject *bundle_extra(const Bundle *b);
/* bundle_extra_copy - a copy of member NAME of that object, or NULL */
JsonNode *bundle_extra_copy(const Bundle *b, const char *name);

/* bundle_tensor - tensor NAME ("h.0.ln_1.weight") of B's weights, looked up
 * as "transformer." NAME first, then NAME as is; NULL if neither */
const StTensor *bundle_tensor(const Bundle *b, const char *name);

/* bundle_load_model - the weights of B as a GptModel, every tensor of
 * gpt_tensors() found and its shape checked against config.json. With
 * GPT_LOAD_OWNED (or for F16/BF16/unaligned files) copied into an owned
 * block; else pointing into a mapping of its own, so the model does not
 * need B afterwards. Int8 linear weights (I8 + NAME_scale) become the
 * layers' QMatrix (their f32 fields NULL), or with GPT_LOAD_OWNED f32
 * (dequantized) for training. */
GptModel *bundle_load_model(const Bundle *b, GptLoadFlags flags,
			    GError **error);

/*
 * bundle_save - write MODEL into DIR (created) as a Hugging Face
 * GPT2ForSequenceClassification (or GPT2LMHeadModel when NL == 0) bundle:
 * config.json with LABELS (NL names, or NULL) and EXTRA as the "gptmilter"
 * object (may be NULL), model.safetensors stored as DTYPE (ST_F32,
 * ST_BF16, or ST_I8: the linear layers' weights as I8 NAME plus F32
 * NAME_scale per output channel, the rest F32), and copies of the tokenizer files from TOKENIZER_DIR (if not
 * NULL). Every file is written atomically.
 */
gboolean bundle_save(const char *dir, const GptModel *model,
		     const char *const *labels, JsonObject *extra,
		     StDtype dtype, const char *tokenizer_dir, GError **error);

#endif
