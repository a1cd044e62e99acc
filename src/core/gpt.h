/*
 * gpt.h - GPT-2 model: weights, per-thread scratch state, forward pass
 *
 * Owns: the GPT-2 architecture (pre-LayerNorm blocks, tanh GELU, learned
 * positions, causal attention), the weights as f32 tensors in Hugging Face
 * layout, and the inference forward pass over a ragged batch: B sequences of
 * different lengths packed one after another, so no work is spent on padding.
 * The classifier reads the final hidden state of the last real token of each
 * sequence (or the mean over its tokens) and applies the head `score`.
 * Not here: files (bundle.c loads and saves a model by gpt_tensors(),
 * safetensors.c), training (gpt_train.h).
 *
 *	g_autoptr(GptModel) m = bundle_load_model(bundle, 0, &error);
 *	g_autoptr(GptState) s = gpt_state_new(m, 8, 256);
 *	gpt_forward_classify(m, s, ids, lens, B, logits);   // logits (B, NL)
 *
 * Letters: B sequences, T tokens of one sequence, N = sum of lengths (rows of
 * the packed activations), C = n_embd, NH = n_head, L = n_layer,
 * V = vocab_size, NL = num_labels.
 * Weight layouts are Hugging Face's: Conv1D weights are (in, out), so a
 * product is x (N, in) @ w (in, out); wte is (V, C); score is (NL, C).
 * Threads: a GptModel is read-only after loading and shared; each thread
 * owns its GptState. Errors: loaders set error; kernels cannot fail.
 */
#ifndef GPTM_GPT_H
#define GPTM_GPT_H

#include <glib.h>
#include <stdint.h>

#include "qmatmul.h"

typedef enum {
	GPT_POOL_LAST = 0,	/* hidden state of the last real token (the recipe) */
	GPT_POOL_MEAN = 1,	/* mean of the hidden states of all tokens */
} GptPooling;

typedef struct {
	int n_layer;		/* L */
	int n_head;		/* NH */
	int n_embd;		/* C */
	int n_ctx;		/* n_positions: most tokens in one sequence */
	int vocab_size;		/* V */
	float ln_eps;		/* layer_norm_epsilon, 1e-5 for GPT-2 */
	int num_labels;		/* NL; 0 for a plain language model */
	GptPooling pooling;
} GptConfig;

typedef struct {
	float *ln_1_w, *ln_1_b;		/* (C), (C) */
	float *attn_w, *attn_b;		/* c_attn: (C, 3C), (3C) */
	float *attn_proj_w, *attn_proj_b;	/* attn.c_proj: (C, C), (C) */
	float *ln_2_w, *ln_2_b;		/* (C), (C) */
	float *fc_w, *fc_b;		/* mlp.c_fc: (C, 4C), (4C) */
	float *fc_proj_w, *fc_proj_b;	/* mlp.c_proj: (4C, C), (C) */
	/* The int8 form of the four weights (qmatmul.h), or NULL: the
	 * forward uses it when set; the f32 field may then be NULL (an int8
	 * bundle loaded for inference) */
	QMatrix *attn_q, *attn_proj_q, *fc_q, *fc_proj_q;
} GptLayer;

/*
 * The weights. When the model owns its memory (training, a converted F16/BF16
 * file, a random init) all tensors live in one block, in this order:
 * wte, wpe, h[0] .. h[L-1] (each in GptLayer order), ln_f, score. So the
 * trainable tail "last k blocks + ln_f + score" is one contiguous range.
 * Loaded from an aligned F32 file without GPT_LOAD_OWNED, pointers go
 * straight into the read-only mapping instead.
 */
typedef struct {
	GptConfig cfg;
	float *wte;		/* (V, C) token embeddings; tied LM head */
	float *wpe;		/* (n_ctx, C) position embeddings */
	GptLayer *h;		/* [L] */
	float *ln_f_w, *ln_f_b;	/* (C), (C) */
	float *score_w;		/* (NL, C) classifier head, NULL if NL == 0 */
	float *score_b;		/* (NL) or NULL: HF's GPT-2 head has no bias */
	float *block;		/* the owned block, or NULL */
	gsize block_len;	/* floats in block */
	gpointer keepalive;	/* the Safetensors the pointers may point into */
	GDestroyNotify keepalive_free;
} GptModel;

typedef enum {
	GPT_LOAD_OWNED = 1 << 0,	/* copy every tensor into one writable block */
} GptLoadFlags;

/* One tensor of the table of GPT-2: its Hugging Face name without the
 * "transformer." prefix, its shape, and the GptModel field that points to
 * it. bundle.c loads and saves a model by this table alone. */
typedef struct {
	char name[48];
	int ndim;		/* 1 or 2 */
	int64_t shape[2];
	float **field;
	QMatrix **qfield;	/* a linear weight's int8 form, else NULL */
} GptTensor;

/* gpt_tensors - the table of M (GptTensor), in the order of the owned
 * block; M's cfg must be set; WITH_SCORE_BIAS adds score.bias */
GArray *gpt_tensors(GptModel *m, gboolean with_score_bias);
/* gpt_tensor_numel - floats of one tensor */
gsize gpt_tensor_numel(const GptTensor *t);

/* gpt_model_new - a model of CFG without weights (every pointer NULL):
 * give it an owned block (gpt_model_alloc_block) or point its tensors
 * elsewhere, as bundle_load_model() does */
GptModel *gpt_model_new(const GptConfig *cfg);
/* gpt_model_alloc_block - M's owned block, zeroed, every tensor pointer
 * into it in table order */
void gpt_model_alloc_block(GptModel *m, gboolean with_score_bias);
/* gpt_model_new_random - GPT-2 initialisation (normal(0, 0.02), residual
 * projections scaled by 1/sqrt(2L), LayerNorm 1/0), owned block */
GptModel *gpt_model_new_random(const GptConfig *cfg, guint64 seed);
/* gpt_model_set_head - replace (or add) the classifier head with a fresh
 * normal(0, 0.02) `score` of NUM_LABELS rows with a zero bias; the model
 * must own its block (it is reallocated) */
void gpt_model_set_head(GptModel *m, int num_labels, gboolean with_bias,
			guint64 seed);
void gpt_model_free(GptModel *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GptModel, gpt_model_free)
/* gpt_model_n_params - floats of all weights */
gsize gpt_model_n_params(const GptConfig *cfg, gboolean with_score_bias);
/* gpt_model_quantize - the int8 form of every linear weight of M that has
 * none yet (per-output-channel scales), so that the forward runs the int8
 * products; the f32 weights stay, unused (gpt_train_new refuses such a
 * model: it trains f32) */
void gpt_model_quantize(GptModel *m);
/* gpt_model_is_int8 - whether M's linear weights have their int8 form */
gboolean gpt_model_is_int8(const GptModel *m);

/*
 * The one forward pass (llm.c's gpt2_forward), serving inference (a
 * GptState) and training (gpt_train.c): a GptActs says where each block
 * reads and writes. Inference points every block at the same three
 * scratch buffers and keeps nothing; training points each trainable block
 * at buffers of its own and keeps what the backward reads. A buffer may
 * alias another where noted, and a NULL mean/rstd keeps no statistics.
 * Rows: N packed (the sum of lens), B after compaction.
 */
typedef struct {
	float *x_in;		/* (N, C) residual stream entering the block */
	float *ln1, *ln1_mean, *ln1_rstd;	/* (N, C), (N) and (N) or NULL */
	float *qkv;		/* (N, 3C); may be fch (dead by then) */
	float *atty;		/* (N, C) attention output, (B, C) compact;
				 * may be ln1 and ln2 */
	float *x_mid;		/* x_in + attention, (N or B, C); may be x_in */
	float *ln2, *ln2_mean, *ln2_rstd;	/* (N or B, C), (N or B) or NULL */
	float *fch;		/* (N or B, 4C) c_fc output, before GELU */
	float *fch_gelu;	/* (N or B, 4C); may be fch (GELU in place) */
} GptBlockActs;

typedef struct {
	GptBlockActs *blocks;	/* [L]; block l writes blocks[l + 1].x_in,
				 * the last one x_final (in place when equal) */
	float *x_final;		/* (N, C) the residual after the last block */
	float *lnf, *lnf_mean, *lnf_rstd;	/* ln_f of it, as ln1 */
	float *att_scratch;	/* ATTENTION_SCRATCH(max_tokens) floats */
	int max_batch, max_tokens;	/* what the buffers hold */
	/* An int8 model's pass (NULL: the f32 layers' buffers above, or
	 * qmatmul_forward quantizing them): the inputs of c_attn, attn.c_proj
	 * and c_fc (N, C) and of mlp.c_proj (N, 4C) as int8 rows, and
	 * QACTS_STAGE_ROWS rows of C floats for qacts_layernorm; ln1, ln2
	 * and fch then stay unwritten */
	QActs *q_in, *q_hid;
	float *q_stage;
} GptActs;

/*
 * gpt_forward - embeddings, every block and ln_f of B packed sequences
 * (ids, lens as in gpt_forward_classify) into A. COMPACT (a last-token
 * classifier): right after the last block's attention only the last row
 * of each sequence goes on (its c_proj, MLP and ln_f run on B rows), the
 * only rows the head reads. Returns the rows of a->lnf: B or N.
 */
int gpt_forward(const GptModel *m, const GptActs *a, const int32_t *ids,
		const int *lens, int B, gboolean compact);
/* gpt_forward_compact - whether gpt_forward may compact for M's head (the
 * classifier pools the last token) */
gboolean gpt_forward_compact(const GptModel *m);
/* gpt_forward_head - POOLED (B, C) from a->lnf after gpt_forward, and the
 * head's LOGITS (B, NL) unless NULL */
void gpt_forward_head(const GptModel *m, const GptActs *a, const int *lens,
		      int B, gboolean compact, float *pooled, float *logits);

typedef struct GptState GptState;

/* gpt_state_new - scratch for up to MAX_BATCH sequences of MAX_TOKENS each,
 * allocated and touched once here (never in the forward pass) */
GptState *gpt_state_new(const GptModel *m, int max_batch, int max_tokens);
void gpt_state_free(GptState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GptState, gpt_state_free)

/*
 * gpt_forward_classify - logits of B packed sequences
 * ids: (N) token ids, sequence b is ids[off_b .. off_b + lens[b]), N = sum lens
 * lens: (B) each in 1 .. max_tokens of the state; B <= max_batch
 * logits: (B, NL) out. Sequences never see each other (causal per sequence).
 */
void gpt_forward_classify(const GptModel *m, GptState *s, const int32_t *ids,
			  const int *lens, int B, float *logits);
/* gpt_forward_classify_pooled - as gpt_forward_classify, and the pooled
 * rows the head read into POOLED (B, C) (the vectors of memory.h) */
void gpt_forward_classify_pooled(const GptModel *m, GptState *s,
				 const int32_t *ids, const int *lens, int B,
				 float *logits, float *pooled);
/* gpt_forward_hidden - pooled final hidden states (B, C), after ln_f */
void gpt_forward_hidden(const GptModel *m, GptState *s, const int32_t *ids,
			const int *lens, int B, float *hidden);

/* gpt_set_threads - BLAS and int8-product threads for this process (1 in
 * pooled workers) */
void gpt_set_threads(int n);

#endif
