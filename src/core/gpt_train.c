/*
 * gpt_train.c - the backward pass of a GptModel and its memory
 *
 * Owns: the gradient arena (one flat buffer covering exactly the trainable
 * tail of the model's block: h[L-k] .. h[L-1], ln_f, score; or the whole
 * block), the activation arena (allocated and touched once, for
 * max_batch * max_tokens rows) and the view of it the forward pass writes
 * into, the classification and language-model losses, and the backward.
 * Not here: the forward pass (gpt.c's gpt_forward, the one inference runs
 * too), the kernels (layers.c forward, layers_backward.c backward), the
 * optimizer (optim.c), data and schedules (corpus.c, src/train/).
 *
 * The pass over a ragged batch of B sequences, N = sum(lens) rows:
 *	x = wte[ids] + wpe[t]				(N, C)
 *	frozen blocks h[0 .. L-k-1]: in place on x, scratch only
 *	trainable blocks: every activation kept (slot i <-> block L-k+i)
 *	ln_f, then the loss: head on the pooled row (classifier) or the tied
 *	wte head in chunks of LM_CHUNK rows (language model), over the whole
 *	vocabulary or, when training asks, a sample of it (sampled softmax).
 * The backward runs the same way up, stopping at the first trainable block
 * (or going on into wte/wpe when they train too).
 *
 * A last-token classifier only ever reads row T-1 of each sequence after
 * the last block's attention: the forward compacts there (gpt_forward), so
 * that block's c_proj, ln_2, the MLP and ln_f run on B "compact" rows
 * instead of N, and its backward takes the attention of the last queries
 * only (attention_last_backward). Its keys and values cover all N rows.
 *
 * Checked by: tests/test_train_grad.c (finite differences, every tensor,
 * both losses and poolings, k = -1, 0, 1, 2) and tests/test_train_torch.py
 * (one step with AdamW against PyTorch autograd, to 1e-4).
 * Threads: one GptTrain per thread; BLAS may use several. Errors:
 * gpt_train_new() sets error; a step's bad arguments are caller bugs and
 * fail g_assert.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "gpt_train.h"
#include "layers.h"
#include "layers_backward.h"
#include "gptm_error.h"
#include "splitmix.h"

/* Rows of the language-model head per sgemm: the (LM_CHUNK, V) logits are
 * 25 MB for GPT-2's vocabulary, and each chunk is a V x C x LM_CHUNK
 * product, large enough for the sgemm to run at full speed. */
#define LM_CHUNK 128

struct GptTrain {
	GptModel *m;
	GptTrainOptions opt;
	int k;			/* trainable blocks */
	int first;		/* L - k: the first trainable block */
	gboolean emb;		/* wte and wpe train too */
	float *block;		/* m->block when created (set_head reallocs) */
	gsize p_off;		/* first trainable float in the block */
	gsize n_params;

	float *grads;		/* (n_params) */
	GptLayer *gl;		/* [L] gradient views; NULL for frozen */
	float *g_wte, *g_wpe, *g_ln_f_w, *g_ln_f_b, *g_score_w, *g_score_b;

	float *arena;		/* all the activations and scratch below */
	int nslots;		/* max(k, 1 if any block is frozen) */
	GptBlockActs *acts;	/* [nslots]: slot i keeps block first + i;
				 * frozen blocks use slot 0 as scratch */
	GptActs pass;		/* gpt_forward's view of the buffers */
	float *x_final;		/* (NR, C) residual after the last block */
	float *lnf, *lnf_mean, *lnf_rstd;	/* (NR, C), (NR), (NR) */
	float *pooled;		/* (MB, C) */
	float *dpooled;		/* (MB, C) */
	float *logits;		/* (MB, NL) */
	float *dlogits;		/* (MB, NL) */
	float *dx;		/* (NR, C) gradient of the residual stream */
	float *dxc;		/* (MB, C) the same, compact rows */
	float *dln;		/* (NR, C) gradient of a LayerNorm output */
	float *dqkv;		/* (NR, 3C) */
	float *dfch;		/* (NR, 4C) */
	float *att_scratch;	/* attention: 2 * MT * MT (and forward's) */
	int lm_rows;		/* LM_CHUNK or fewer */
	float *lm_logits;	/* (lm_rows, V) */
	float *lm_x;		/* (lm_rows, C) gathered ln_f rows */
	float *lm_dx;		/* (lm_rows, C) their gradient */
	int *lm_row;		/* (NR) rows that predict a next token */
	int *lm_tgt;		/* (NR) the token they predict */
	int *last_row;		/* (MB) row of the last token of each sequence */
	/* sampled softmax (gpt_train_lm_sampling), allocated when first set */
	int lm_k;		/* negatives per step; 0: the full softmax */
	guint64 lm_seed;	/* seed of the next step's draw */
	int lm_smax;		/* most candidates: min(V, NR + lm_k) */
	int *lm_cand;		/* (lm_smax) token of each candidate */
	int *lm_slot;		/* (V) candidate of each token, or -1 */
	int *lm_tgt_c;		/* (NR) lm_tgt as candidate indices */
	float *lm_corr;		/* (lm_smax) log-weight of each candidate */
	float *lm_w;		/* (lm_smax, C) their wte rows */
	float *lm_gw;		/* (lm_smax, C) the gradient of those rows */
};

/* grad_view - the gradient of parameter P, or NULL when P is frozen */
static float *
grad_view(GptTrain *tr, const float *p)
{
	const float *start = tr->block + tr->p_off;

	if (p == NULL || p < start)
		return NULL;
	g_assert(p < tr->block + tr->m->block_len);
	return tr->grads + (p - start);
}

/* check_layout - every tensor from FIRST on lies inside the block, after
 * START; every one before lies before START (gpt.h's layout) */
static gboolean
check_layout(const GptModel *m, const float *start, int first, gboolean emb,
	     GError **error)
{
	const float *end = m->block + m->block_len;
	const int L = m->cfg.n_layer;
#define IN_TAIL(p) ((p) == NULL || ((p) >= start && (p) < end))
#define IN_HEAD(p) ((p) == NULL || ((p) >= m->block && (p) < start))
	gboolean ok = emb ? IN_TAIL(m->wte) && IN_TAIL(m->wpe) :
	    IN_HEAD(m->wte) && IN_HEAD(m->wpe);
	for (int l = 0; l < L && ok; l++) {
		const GptLayer *h = &m->h[l];
		const float *ps[] = { h->ln_1_w, h->ln_1_b, h->attn_w,
			h->attn_b, h->attn_proj_w, h->attn_proj_b, h->ln_2_w,
			h->ln_2_b, h->fc_w, h->fc_b, h->fc_proj_w,
			h->fc_proj_b };
		for (gsize i = 0; i < G_N_ELEMENTS(ps) && ok; i++)
			ok = l >= first ? IN_TAIL(ps[i]) : IN_HEAD(ps[i]);
	}
	ok = ok && IN_TAIL(m->ln_f_w) && IN_TAIL(m->ln_f_b) &&
	    IN_TAIL(m->score_w) && IN_TAIL(m->score_b);
#undef IN_TAIL
#undef IN_HEAD
	if (!ok)
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "model block is not laid out as wte, wpe, h[0..L-1], "
			    "ln_f, score: cannot train its tail");
	return ok;
}

/*
 * carve - lay the activation arena out from BASE, every buffer on a 64-byte
 * boundary; with BASE NULL only count. Returns the floats it takes.
 * NR = max_batch * max_tokens rows, MB = max_batch.
 */
static gsize
carve(GptTrain *tr, float *base)
{
	const GptConfig *cfg = &tr->m->cfg;
	const gsize C = cfg->n_embd, V = cfg->vocab_size;
	const gsize NL = cfg->num_labels > 0 ? cfg->num_labels : 1;
	const gsize MB = tr->opt.max_batch, MT = tr->opt.max_tokens;
	const gsize NR = MB * MT;
	gsize off = 0;
#define TAKE(ptr, n) do { \
	if (base != NULL) \
		(ptr) = base + off; \
	off += ((n) + 15) & ~(gsize)15; \
} while (0)
	for (int i = 0; i < tr->nslots; i++) {
		GptBlockActs *a = &tr->acts[i];
		TAKE(a->x_in, NR * C);
		TAKE(a->ln1, NR * C);
		TAKE(a->ln1_mean, NR);
		TAKE(a->ln1_rstd, NR);
		TAKE(a->qkv, NR * 3 * C);
		TAKE(a->atty, NR * C);
		TAKE(a->x_mid, NR * C);
		TAKE(a->ln2, NR * C);
		TAKE(a->ln2_mean, NR);
		TAKE(a->ln2_rstd, NR);
		TAKE(a->fch, NR * 4 * C);
		TAKE(a->fch_gelu, NR * 4 * C);
	}
	TAKE(tr->x_final, NR * C);
	TAKE(tr->lnf, NR * C);
	TAKE(tr->lnf_mean, NR);
	TAKE(tr->lnf_rstd, NR);
	TAKE(tr->pooled, MB * C);
	TAKE(tr->dpooled, MB * C);
	TAKE(tr->dxc, MB * C);
	TAKE(tr->logits, MB * NL);
	TAKE(tr->dlogits, MB * NL);
	TAKE(tr->dx, NR * C);
	TAKE(tr->dln, NR * C);
	TAKE(tr->dqkv, NR * 3 * C);
	TAKE(tr->dfch, NR * 4 * C);
	/* attention_backward's P and dP, or attention_forward's scratch
	 * where that is more (short sequences) */
	TAKE(tr->att_scratch, MAX(2 * MT * MT, ATTENTION_SCRATCH(MT)));
	TAKE(tr->lm_logits, (gsize)tr->lm_rows * V);
	TAKE(tr->lm_x, (gsize)tr->lm_rows * C);
	TAKE(tr->lm_dx, (gsize)tr->lm_rows * C);
#undef TAKE
	return off;
}

/*
 * point_pass - the pass's view of the arena: the frozen blocks run in
 * place on the input of the first trainable one (x_final when none
 * trains), slot 0 as scratch, nothing kept; trainable block first + i
 * keeps everything in slot i (its own x_in, x_mid and GELU output, the
 * LayerNorm statistics).
 */
static void
point_pass(GptTrain *tr)
{
	const int L = tr->m->cfg.n_layer;
	float *x = tr->k > 0 ? tr->acts[0].x_in : tr->x_final;

	tr->pass.blocks = g_new0(GptBlockActs, L > 0 ? L : 1);
	for (int l = 0; l < tr->first; l++) {
		const GptBlockActs *a = &tr->acts[0];
		tr->pass.blocks[l] = (GptBlockActs) {
			.x_in = x, .x_mid = x, .ln1 = a->ln1, .qkv = a->qkv,
			.atty = a->atty, .ln2 = a->ln2, .fch = a->fch,
			.fch_gelu = a->fch,
		};
	}
	for (int i = 0; i < tr->k; i++)
		tr->pass.blocks[tr->first + i] = tr->acts[i];
	tr->pass.x_final = tr->x_final;
	tr->pass.lnf = tr->lnf;
	tr->pass.lnf_mean = tr->lnf_mean;
	tr->pass.lnf_rstd = tr->lnf_rstd;
	tr->pass.att_scratch = tr->att_scratch;
	tr->pass.max_batch = tr->opt.max_batch;
	tr->pass.max_tokens = tr->opt.max_tokens;
}

/* gpt_train_new - gradient and activation arenas for training M */
GptTrain *
gpt_train_new(GptModel *m, const GptTrainOptions *opt, GError **error)
{
	const GptConfig *cfg = &m->cfg;
	const int L = cfg->n_layer, C = cfg->n_embd;
	const int MB = opt->max_batch, MT = opt->max_tokens;

	if (m->block == NULL || gpt_model_is_int8(m)) {
		/* an int8 bundle loaded GPT_LOAD_OWNED is f32 (dequantized) */
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "training needs a model that owns its f32 weights "
			    "(load it with GPT_LOAD_OWNED)");
		return NULL;
	}
	if (opt->trainable_blocks < -1 || opt->trainable_blocks > L) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "trainable_blocks %d: must be -1 (all) or 0 .. %d",
			    opt->trainable_blocks, L);
		return NULL;
	}
	if (MB < 1 || MT < 1 || MT > cfg->n_ctx) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "max_batch %d, max_tokens %d: need >= 1 and "
			    "max_tokens <= n_ctx %d", MB, MT, cfg->n_ctx);
		return NULL;
	}
	if (C % cfg->n_head != 0) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL,
			    "n_embd %d is not a multiple of n_head %d",
			    C, cfg->n_head);
		return NULL;
	}

	GptTrain *tr = g_new0(GptTrain, 1);
	tr->m = m;
	tr->opt = *opt;
	tr->emb = opt->trainable_blocks < 0;
	tr->k = tr->emb ? L : opt->trainable_blocks;
	tr->first = L - tr->k;
	tr->block = m->block;
	const float *start = tr->emb ? m->block :
	    tr->k > 0 ? m->h[tr->first].ln_1_w : m->ln_f_w;
	if (!check_layout(m, start, tr->first, tr->emb, error)) {
		g_free(tr);
		return NULL;
	}
	tr->p_off = start - m->block;
	tr->n_params = m->block_len - tr->p_off;

	/* Gradients: the trainable tail only, views in the model's order. */
	tr->grads = g_new(float, tr->n_params ? tr->n_params : 1);
	memset(tr->grads, 0, tr->n_params * sizeof(float));	/* touched */
	tr->gl = g_new0(GptLayer, L > 0 ? L : 1);
	for (int l = tr->first; l < L; l++) {
		const GptLayer *h = &m->h[l];
		GptLayer *g = &tr->gl[l];
		g->ln_1_w = grad_view(tr, h->ln_1_w);
		g->ln_1_b = grad_view(tr, h->ln_1_b);
		g->attn_w = grad_view(tr, h->attn_w);
		g->attn_b = grad_view(tr, h->attn_b);
		g->attn_proj_w = grad_view(tr, h->attn_proj_w);
		g->attn_proj_b = grad_view(tr, h->attn_proj_b);
		g->ln_2_w = grad_view(tr, h->ln_2_w);
		g->ln_2_b = grad_view(tr, h->ln_2_b);
		g->fc_w = grad_view(tr, h->fc_w);
		g->fc_b = grad_view(tr, h->fc_b);
		g->fc_proj_w = grad_view(tr, h->fc_proj_w);
		g->fc_proj_b = grad_view(tr, h->fc_proj_b);
	}
	tr->g_wte = grad_view(tr, m->wte);
	tr->g_wpe = grad_view(tr, m->wpe);
	tr->g_ln_f_w = grad_view(tr, m->ln_f_w);
	tr->g_ln_f_b = grad_view(tr, m->ln_f_b);
	tr->g_score_w = grad_view(tr, m->score_w);
	tr->g_score_b = grad_view(tr, m->score_b);

	/* Activations: one allocation, carved twice (sizes, then pointers). */
	const gsize NR = (gsize)MB * MT;
	tr->nslots = tr->k > 0 ? tr->k : (tr->first > 0 ? 1 : 0);
	tr->lm_rows = NR < LM_CHUNK ? (int)NR : LM_CHUNK;
	tr->acts = g_new0(GptBlockActs, tr->nslots ? tr->nslots : 1);
	gsize total = carve(tr, NULL);
	if (posix_memalign((void **)&tr->arena, 64, total * sizeof(float)))
		g_error("gpt_train_new: out of memory for %zu activations",
			total);
	/* Touch every page now, so that no step pays for first use. */
	memset(tr->arena, 0, total * sizeof(float));
	carve(tr, tr->arena);
	point_pass(tr);
	tr->lm_row = g_new0(int, NR);
	tr->lm_tgt = g_new0(int, NR);
	tr->last_row = g_new0(int, MB);
	return tr;
}

/* gpt_train_free - release TR; NULL is a no-op; the model stays */
void
gpt_train_free(GptTrain *tr)
{
	if (tr == NULL)
		return;
	g_free(tr->grads);
	g_free(tr->gl);
	free(tr->arena);	/* posix_memalign */
	g_free(tr->acts);
	g_free(tr->pass.blocks);
	g_free(tr->lm_row);
	g_free(tr->lm_tgt);
	g_free(tr->last_row);
	g_free(tr->lm_cand);
	g_free(tr->lm_slot);
	g_free(tr->lm_tgt_c);
	g_free(tr->lm_corr);
	g_free(tr->lm_w);
	g_free(tr->lm_gw);
	g_free(tr);
}

/* gpt_train_zero_grad - start a new accumulation */
void
gpt_train_zero_grad(GptTrain *tr)
{
	memset(tr->grads, 0, tr->n_params * sizeof(float));
}

gsize
gpt_train_n_params(const GptTrain *tr)
{
	return tr->n_params;
}

/* gpt_train_params - the trainable range of the model's block */
float *
gpt_train_params(GptTrain *tr)
{
	/* gpt_model_set_head() after gpt_train_new() would move the block. */
	g_assert(tr->m->block == tr->block);
	return tr->block + tr->p_off;
}

float *
gpt_train_grads(GptTrain *tr)
{
	return tr->grads;
}

/* batch_rows - N = sum of LENS, and the row of each sequence's last token
 * in last_row (gpt_forward checks the batch itself) */
static int
batch_rows(GptTrain *tr, const int *lens, int B)
{
	int N = 0;

	g_assert(B >= 1);
	for (int b = 0; b < B; b++) {
		N += lens[b];
		tr->last_row[b] = N - 1;
	}
	return N;
}

/*
 * block_backward - gradients of block L's weights (accumulated) from
 * DTOP, the gradient of its output (R rows: B when COMPACT, else N; it is
 * turned into the gradient of x_mid in place). DX (N, C) receives the
 * gradient of x_in when WANT_DX: it is DTOP itself when not COMPACT (the
 * residual path, += ln_1's), or set to scatter(DTOP) + ln_1's when COMPACT.
 */
static void
block_backward(GptTrain *tr, const GptBlockActs *a, int l, float *dtop,
	       float *dx, const int *lens, int B, int N, gboolean compact,
	       gboolean want_dx)
{
	const GptConfig *cfg = &tr->m->cfg;
	const GptLayer *h = &tr->m->h[l];
	const GptLayer *g = &tr->gl[l];
	const int C = cfg->n_embd, NH = cfg->n_head;
	const int R = compact ? B : N;

	/* x_out = x_mid + fch_gelu @ fc_proj_w + fc_proj_b */
	matmul_backward(tr->dfch, g->fc_proj_w, g->fc_proj_b, dtop,
			a->fch_gelu, h->fc_proj_w, R, 4 * C, C);
	gelu_backward(tr->dfch, a->fch, a->fch_gelu, tr->dfch,
		      (gsize)R * 4 * C);
	matmul_backward(tr->dln, g->fc_w, g->fc_b, tr->dfch, a->ln2, h->fc_w,
			R, C, 4 * C);
	/* dtop becomes d x_mid: the residual path plus ln_2's */
	layernorm_backward(dtop, g->ln_2_w, g->ln_2_b, tr->dln, a->x_mid,
			   h->ln_2_w, a->ln2_mean, a->ln2_rstd, R, C);
	/* x_mid = x_in + atty @ attn_proj_w + attn_proj_b; datty in dln */
	matmul_backward(tr->dln, g->attn_proj_w, g->attn_proj_b, dtop,
			a->atty, h->attn_proj_w, R, C, C);
	if (compact)
		attention_last_backward(tr->dqkv, tr->att_scratch, tr->dln,
					a->qkv, lens, B, C, NH);
	else
		attention_backward(tr->dqkv, tr->att_scratch, tr->dln, a->qkv,
				   lens, B, C, NH);
	/* qkv = ln1 @ attn_w + attn_b; d ln1 in dln (all N rows) */
	matmul_backward(tr->dln, g->attn_w, g->attn_b, tr->dqkv, a->ln1,
			h->attn_w, N, C, 3 * C);
	if (want_dx && compact) {
		memset(dx, 0, (gsize)N * C * sizeof(float));
		for (int b = 0; b < B; b++)
			memcpy(dx + (gsize)tr->last_row[b] * C,
			       dtop + (gsize)b * C, C * sizeof(float));
	} else if (want_dx) {
		g_assert(dx == dtop);
	}
	layernorm_backward(want_dx ? dx : NULL, g->ln_1_w, g->ln_1_b, tr->dln,
			   a->x_in, h->ln_1_w, a->ln1_mean, a->ln1_rstd, N, C);
}

/*
 * backward_body - from DTOP, the gradient of the residual after the last
 * block (R rows: B compact ones or N), down through the trainable blocks
 * into wte and wpe when they train
 */
static void
backward_body(GptTrain *tr, const int32_t *ids, const int *lens, int B,
	      int N, gboolean compact, float *dtop)
{
	const int L = tr->m->cfg.n_layer, C = tr->m->cfg.n_embd;

	for (int i = tr->k - 1; i >= 0; i--) {
		int l = tr->first + i;
		gboolean cl = compact && l == L - 1;
		gboolean want_dx = i > 0 || tr->emb;
		block_backward(tr, &tr->acts[i], l, cl ? dtop : tr->dx, tr->dx,
			       lens, B, N, cl, want_dx);
	}
	if (tr->emb)
		encoder_backward(tr->g_wte, tr->g_wpe, tr->dx, ids, lens, B,
				 C);
}

/* lnf_backward - ln_f's weights and, when anything below trains, the
 * gradient of x_final into DTOP (R rows), from DLNF (R rows) */
static void
lnf_backward(GptTrain *tr, float *dtop, const float *dlnf, int R)
{
	const GptModel *m = tr->m;
	const int C = m->cfg.n_embd;
	gboolean below = tr->k > 0 || tr->emb;

	if (below)
		memset(dtop, 0, (gsize)R * C * sizeof(float));
	layernorm_backward(below ? dtop : NULL, tr->g_ln_f_w, tr->g_ln_f_b,
			   dlnf, tr->x_final, m->ln_f_w, tr->lnf_mean,
			   tr->lnf_rstd, R, C);
}

/*
 * classify_forward - the head's logits (B, NL) into tr->logits, the pooled
 * rows into tr->pooled; returns whether the compact (last-token) path ran
 */
static gboolean
classify_forward(GptTrain *tr, const int32_t *ids, const int *lens, int B)
{
	const GptModel *m = tr->m;
	const gboolean compact = gpt_forward_compact(m);

	g_assert(m->cfg.num_labels > 0 && m->score_w != NULL);
	gpt_forward(m, &tr->pass, ids, lens, B, compact);
	gpt_forward_head(m, &tr->pass, lens, B, compact, tr->pooled,
			 tr->logits);
	return compact;
}

/* classify - forward, loss and (when TRAIN) backward of the classifier */
static float
classify(GptTrain *tr, const int32_t *ids, const int *lens, int B,
	 const int *labels, const float *class_weights, float loss_scale,
	 float *logits_out, gboolean train)
{
	const GptModel *m = tr->m;
	const int C = m->cfg.n_embd, NL = m->cfg.num_labels;
	const int N = batch_rows(tr, lens, B);

	/* An evaluation may come without labels: logits only, loss 0. */
	g_assert(labels != NULL || !train);
	for (int b = 0; labels != NULL && b < B; b++)
		g_assert(labels[b] >= 0 && labels[b] < NL);
	gboolean compact = classify_forward(tr, ids, lens, B);
	if (logits_out != NULL)
		memcpy(logits_out, tr->logits, (gsize)B * NL * sizeof(float));
	if (labels == NULL)
		return 0.0f;
	double sum = crossentropy_softmax_backward(train ? tr->dlogits : NULL,
						   tr->logits, labels,
						   class_weights,
						   loss_scale / (float)B, B,
						   NL);
	float loss = (float)(sum / B);
	if (!train)
		return loss;

	/* logits = pooled @ score_w^T + score_b */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, NL, 1.0f,
		    tr->dlogits, NL, m->score_w, C, 0.0f, tr->dpooled, C);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NL, C, B, 1.0f,
		    tr->dlogits, NL, tr->pooled, C, 1.0f, tr->g_score_w, C);
	if (tr->g_score_b != NULL)
		for (int b = 0; b < B; b++)
			for (int j = 0; j < NL; j++)
				tr->g_score_b[j] += tr->dlogits[b * NL + j];

	if (compact) {
		lnf_backward(tr, tr->dxc, tr->dpooled, B);
		backward_body(tr, ids, lens, B, N, TRUE, tr->dxc);
		return loss;
	}
	/* d lnf (N, C): the pooled gradient spread back over its rows */
	float *row = tr->dln;
	for (int b = 0; b < B; b++) {
		const float *d = tr->dpooled + (gsize)b * C;
		const int T = lens[b];
		const float w = m->cfg.pooling == GPT_POOL_MEAN ?
		    1.0f / (float)T : 0.0f;
		for (int t = 0; t < T; t++, row += C) {
			float wt = m->cfg.pooling == GPT_POOL_MEAN ? w :
			    t == T - 1 ? 1.0f : 0.0f;
			for (int i = 0; i < C; i++)
				row[i] = wt * d[i];
		}
	}
	lnf_backward(tr, tr->dx, tr->dln, N);
	backward_body(tr, ids, lens, B, N, FALSE, tr->dx);
	return loss;
}

float
gpt_train_classify_step(GptTrain *tr, const int32_t *ids, const int *lens,
			int B, const int *labels, const float *class_weights,
			float loss_scale, float *logits_out)
{
	return classify(tr, ids, lens, B, labels, class_weights, loss_scale,
			logits_out, TRUE);
}

float
gpt_train_classify_eval(GptTrain *tr, const int32_t *ids, const int *lens,
			int B, const int *labels, float *logits_out)
{
	return classify(tr, ids, lens, B, labels, NULL, 1.0f, logits_out,
			FALSE);
}

/* gpt_train_lm_sampling - see gpt_train.h */
void
gpt_train_lm_sampling(GptTrain *tr, int k, guint64 seed)
{
	const int V = tr->m->cfg.vocab_size, C = tr->m->cfg.n_embd;
	const gsize NR = (gsize)tr->opt.max_batch * (gsize)tr->opt.max_tokens;

	g_assert(k >= 0);
	tr->lm_k = k;
	tr->lm_seed = seed;
	int smax = (int)MIN((gsize)V, NR + (gsize)k);
	if (k == 0 || smax <= tr->lm_smax)
		return;
	/* Allocated once for the largest K asked, and touched now. */
	tr->lm_smax = smax;
	tr->lm_cand = g_renew(int, tr->lm_cand, smax);
	tr->lm_corr = g_renew(float, tr->lm_corr, smax);
	g_free(tr->lm_w);
	g_free(tr->lm_gw);
	tr->lm_w = g_new0(float, (gsize)smax * C);
	tr->lm_gw = g_new0(float, (gsize)smax * C);
	if (tr->lm_slot == NULL) {
		tr->lm_slot = g_new(int, V);
		for (int v = 0; v < V; v++)
			tr->lm_slot[v] = -1;
		tr->lm_tgt_c = g_new0(int, NR);
	}
}

/* lm_draw - the step's candidates: the NPRED targets (each once), then
 * lm_k other tokens drawn uniformly without replacement, each standing for
 * (V - targets) / drawn tokens of the rest of the vocabulary (its logit
 * corrected by the log of that, so that the candidates' sum of exp
 * estimates the whole softmax's); all of them, uncorrected, when lm_k
 * covers the rest. Returns the number of candidates S; fills lm_cand,
 * lm_corr, lm_tgt_c and lm_w (S, C); lm_slot marks the candidates until
 * lm_undraw(). */
static int
lm_draw(GptTrain *tr, int npred)
{
	const int V = tr->m->cfg.vocab_size, C = tr->m->cfg.n_embd;
	int S = 0;

	for (int i = 0; i < npred; i++) {
		int t = tr->lm_tgt[i];
		if (tr->lm_slot[t] < 0) {
			tr->lm_slot[t] = S;
			tr->lm_cand[S] = t;
			tr->lm_corr[S] = 0.0f;
			S++;
		}
		tr->lm_tgt_c[i] = tr->lm_slot[t];
	}
	const int rest = V - S;
	const int k = MIN(tr->lm_k, rest);
	if (k == rest) {
		for (int v = 0; v < V; v++)
			if (tr->lm_slot[v] < 0) {
				tr->lm_slot[v] = S;
				tr->lm_cand[S] = v;
				tr->lm_corr[S++] = 0.0f;
			}
	} else {
		/* rejection sampling: uniform over the rest, and cheap while
		 * k is a fraction of it (a few thousand of GPT-2's 50,257) */
		const float corr = logf((float)rest / (float)k);
		guint64 st = tr->lm_seed;
		for (int drawn = 0; drawn < k;) {
			int v = (int)(splitmix64(&st) % (guint64)V);
			if (tr->lm_slot[v] >= 0)
				continue;
			tr->lm_slot[v] = S;
			tr->lm_cand[S] = v;
			tr->lm_corr[S++] = corr;
			drawn++;
		}
	}
	for (int c = 0; c < S; c++)
		memcpy(tr->lm_w + (gsize)c * C,
		       tr->m->wte + (gsize)tr->lm_cand[c] * C,
		       C * sizeof(float));
	return S;
}

/* lm_undraw - clear lm_slot for the next draw */
static void
lm_undraw(GptTrain *tr, int S)
{
	for (int c = 0; c < S; c++)
		tr->lm_slot[tr->lm_cand[c]] = -1;
}

/*
 * lm - next-token loss with the tied head: logits (rows, V) = lnf @ wte^T
 * for the rows that predict a token, LM_CHUNK rows at a time (gathered, so
 * the rows that predict nothing cost nothing), then when TRAIN the
 * gradients of lnf (scattered back into dln) and of wte when it trains.
 */
static float
lm(GptTrain *tr, const int32_t *ids, const int *lens, int B,
   float loss_scale, gboolean train)
{
	const GptModel *m = tr->m;
	const int C = m->cfg.n_embd, V = m->cfg.vocab_size;
	const int N = batch_rows(tr, lens, B);
	int npred = 0;

	for (int b = 0, r = 0; b < B; r += lens[b], b++)
		for (int t = 0; t + 1 < lens[b]; t++) {
			tr->lm_row[npred] = r + t;
			tr->lm_tgt[npred] = ids[r + t + 1];
			npred++;
		}
	gpt_forward(m, &tr->pass, ids, lens, B, FALSE);
	if (npred == 0)
		return 0.0f;	/* nothing to predict: no loss, no gradient */
	if (train)
		memset(tr->dln, 0, (gsize)N * C * sizeof(float));

	const float scale = loss_scale / (float)npred;
	/* Sampled softmax (training only): the head runs on the S candidate
	 * rows of wte, gathered in lm_w, and their gradient is gathered in
	 * lm_gw, then added into wte's rows. */
	const gboolean sampled = train && tr->lm_k > 0;
	const int S = sampled ? lm_draw(tr, npred) : V;
	const float *w = sampled ? tr->lm_w : m->wte;
	float *gw = sampled ? tr->lm_gw : tr->g_wte;
	const int *tgt = sampled ? tr->lm_tgt_c : tr->lm_tgt;
	if (sampled && gw != NULL && tr->g_wte != NULL)
		memset(gw, 0, (gsize)S * C * sizeof(float));
	double sum = 0.0;
	for (int c0 = 0; c0 < npred; c0 += tr->lm_rows) {
		const int R = MIN(tr->lm_rows, npred - c0);
		const int *rows = tr->lm_row + c0;
		for (int r = 0; r < R; r++)
			memcpy(tr->lm_x + (gsize)r * C,
			       tr->lnf + (gsize)rows[r] * C, C * sizeof(float));
		/* logits (R, S) = lm_x (R, C) @ w^T (+ the candidates'
		 * log-weights); S = V and w = wte without sampling */
		head_forward(tr->lm_logits, tr->lm_x, w,
			     sampled ? tr->lm_corr : NULL, R, C, S);
		sum += crossentropy_softmax_backward(train ? tr->lm_logits :
						     NULL, tr->lm_logits,
						     tgt + c0, NULL, scale, R, S);
		if (!train)
			continue;
		/* d lm_x (R, C) = dlogits (R, S) @ w (S, C) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, C, S,
			    1.0f, tr->lm_logits, S, w, C, 0.0f,
			    tr->lm_dx, C);
		if (tr->g_wte != NULL)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    S, C, R, 1.0f, tr->lm_logits, S, tr->lm_x,
				    C, 1.0f, gw, C);
		for (int r = 0; r < R; r++)
			memcpy(tr->dln + (gsize)rows[r] * C,
			       tr->lm_dx + (gsize)r * C, C * sizeof(float));
	}
	if (sampled) {
		if (tr->g_wte != NULL)
			for (int c = 0; c < S; c++) {
				float *d = tr->g_wte + (gsize)tr->lm_cand[c] * C;
				const float *g = gw + (gsize)c * C;
				for (int j = 0; j < C; j++)
					d[j] += g[j];
			}
		lm_undraw(tr, S);
	}
	float loss = (float)(sum / npred);
	if (!train)
		return loss;
	lnf_backward(tr, tr->dx, tr->dln, N);
	backward_body(tr, ids, lens, B, N, FALSE, tr->dx);
	return loss;
}

float
gpt_train_lm_step(GptTrain *tr, const int32_t *ids, const int *lens, int B,
		  float loss_scale)
{
	return lm(tr, ids, lens, B, loss_scale, TRUE);
}

float
gpt_train_lm_eval(GptTrain *tr, const int32_t *ids, const int *lens, int B)
{
	return lm(tr, ids, lens, B, 1.0f, FALSE);
}
