/*
 * gpt.c - GPT-2 model: weights, per-thread scratch state, forward pass
 *
 * Owns: the tensor table of GPT-2 (Hugging Face name, shape and GptModel
 * field of every tensor; bundle.c loads and saves by it), the one owned
 * weight block in gpt.h's order, random initialisation, the GptState arena,
 * and the inference pass over a ragged batch.
 * Not here: the kernels (layers.c), files (bundle.c loads a model from a
 * bundle, safetensors.c), training (gpt_train.c).
 *
 * The pass (gpt_forward, the one of inference and training alike; where
 * each block reads and writes is the caller's GptActs), N = sum(lens)
 * packed rows, x the residual stream (N, C):
 *	x = wte[ids] + wpe[t]
 *	per block: x += attn(ln_1(x)) @ c_proj; x += gelu(ln_2(x) @ c_fc) @ c_proj
 *	pooled = pool(ln_f(x)); logits = pooled @ score^T (+ bias)
 * When the classifier pools the last token, the last block's attention
 * output and x are compacted to the B last rows right after the attention:
 * its c_proj, MLP and ln_f then run on B rows instead of N, which are the
 * only rows the head reads (exactly the same values).
 *
 * Threads: a GptModel is read-only once made and is shared; a GptState is
 * one thread's. BLAS threads are per process (gpt_set_threads). Errors: a
 * forward call with bad arguments is a caller bug and fails g_assert.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cblas.h>

#include "gpt.h"
#include "layers.h"
#include "splitmix.h"

/* Buffers at least this big are aligned for, and asked to get, transparent
 * huge pages: the weights and activations are streamed by every sgemm and
 * 4 KiB pages would cost TLB misses. */
#define HUGE_PAGE ((gsize)2 << 20)

/* big_alloc - N floats, 64-byte aligned (2 MiB when big), touched once so
 * that no page fault happens later in a forward pass; free() it */
static float *
big_alloc(gsize n)
{
	gsize bytes = MAX(n, 1) * sizeof(float);
	gsize align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
	void *p = NULL;

	if (n > G_MAXSIZE / sizeof(float) || posix_memalign(&p, align, bytes))
		g_error("gpt: out of memory for %" G_GSIZE_FORMAT " floats", n);
#ifdef MADV_HUGEPAGE
	if (align == HUGE_PAGE)
		(void)madvise(p, bytes, MADV_HUGEPAGE);	/* a hint only */
#endif
	memset(p, 0, bytes);
	return p;
}

/* ------------------------------------------------------------------ */
/* The layout of the weights */

/* layer_numel - floats of one block: 12 C^2 + 13 C */
static gsize
layer_numel(gsize C)
{
	return 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C +
	    4 * C + 4 * C * C + C;
}

/* gpt_model_n_params - floats of all weights */
gsize
gpt_model_n_params(const GptConfig *cfg, gboolean with_score_bias)
{
	const gsize C = cfg->n_embd, NL = cfg->num_labels;

	return (gsize)cfg->vocab_size * C + (gsize)cfg->n_ctx * C +
	    (gsize)cfg->n_layer * layer_numel(C) + 2 * C + NL * C +
	    (with_score_bias ? NL : 0);
}

/* gpt_tensors - the tensor table: every tensor of M in the order of the
 * owned block (gpt.h): wte, wpe, h[0..L-1] in GptLayer order, ln_f,
 * score. M's cfg and h must be set; WITH_SCORE_BIAS adds score.bias. */
GArray *
gpt_tensors(GptModel *m, gboolean with_score_bias)
{
	const GptConfig *c = &m->cfg;
	const int64_t C = c->n_embd;
	GArray *a = g_array_new(FALSE, TRUE, sizeof(GptTensor));

#define SPECQ(fld, qfld, nd, d0, d1, ...) do { \
		GptTensor s_ = { .ndim = (nd), .shape = { (d0), (d1) }, \
				 .field = (fld), .qfield = (qfld) }; \
		g_snprintf(s_.name, sizeof s_.name, __VA_ARGS__); \
		g_array_append_val(a, s_); \
	} while (0)
#define SPEC(fld, nd, d0, d1, ...) SPECQ(fld, NULL, nd, d0, d1, __VA_ARGS__)

	SPEC(&m->wte, 2, c->vocab_size, C, "wte.weight");
	SPEC(&m->wpe, 2, c->n_ctx, C, "wpe.weight");
	for (int l = 0; l < c->n_layer; l++) {
		GptLayer *h = &m->h[l];
		SPEC(&h->ln_1_w, 1, C, 0, "h.%d.ln_1.weight", l);
		SPEC(&h->ln_1_b, 1, C, 0, "h.%d.ln_1.bias", l);
		SPECQ(&h->attn_w, &h->attn_q, 2, C, 3 * C,
		      "h.%d.attn.c_attn.weight", l);
		SPEC(&h->attn_b, 1, 3 * C, 0, "h.%d.attn.c_attn.bias", l);
		SPECQ(&h->attn_proj_w, &h->attn_proj_q, 2, C, C,
		      "h.%d.attn.c_proj.weight", l);
		SPEC(&h->attn_proj_b, 1, C, 0, "h.%d.attn.c_proj.bias", l);
		SPEC(&h->ln_2_w, 1, C, 0, "h.%d.ln_2.weight", l);
		SPEC(&h->ln_2_b, 1, C, 0, "h.%d.ln_2.bias", l);
		SPECQ(&h->fc_w, &h->fc_q, 2, C, 4 * C, "h.%d.mlp.c_fc.weight",
		      l);
		SPEC(&h->fc_b, 1, 4 * C, 0, "h.%d.mlp.c_fc.bias", l);
		SPECQ(&h->fc_proj_w, &h->fc_proj_q, 2, 4 * C, C,
		      "h.%d.mlp.c_proj.weight", l);
		SPEC(&h->fc_proj_b, 1, C, 0, "h.%d.mlp.c_proj.bias", l);
	}
	SPEC(&m->ln_f_w, 1, C, 0, "ln_f.weight");
	SPEC(&m->ln_f_b, 1, C, 0, "ln_f.bias");
	if (c->num_labels > 0)
		SPEC(&m->score_w, 2, c->num_labels, C, "score.weight");
	if (c->num_labels > 0 && with_score_bias)
		SPEC(&m->score_b, 1, c->num_labels, 0, "score.bias");
#undef SPEC
#undef SPECQ
	return a;
}

/* gpt_tensor_numel - floats of one tensor of the table */
gsize
gpt_tensor_numel(const GptTensor *t)
{
	return (gsize)t->shape[0] * (t->ndim == 2 ? (gsize)t->shape[1] : 1);
}

/* point_block - every tensor pointer of M into M->block, in table order */
static void
point_block(GptModel *m, gboolean with_score_bias)
{
	g_autoptr(GArray) specs = gpt_tensors(m, with_score_bias);
	gsize off = 0;

	m->score_w = m->score_b = NULL;
	for (guint i = 0; i < specs->len; i++) {
		const GptTensor *s = &g_array_index(specs, GptTensor, i);
		*s->field = m->block + off;
		off += gpt_tensor_numel(s);
	}
	g_assert(off == m->block_len);
}

/* gpt_model_new - a model of CFG with its GptLayer array, no weights */
GptModel *
gpt_model_new(const GptConfig *cfg)
{
	GptModel *m = g_new0(GptModel, 1);

	m->cfg = *cfg;
	m->h = g_new0(GptLayer, MAX(cfg->n_layer, 1));
	return m;
}

/* gpt_model_alloc_block - M's owned block, zeroed, every tensor pointer
 * into it (score.bias with WITH_SCORE_BIAS) */
void
gpt_model_alloc_block(GptModel *m, gboolean with_score_bias)
{
	g_assert(m->block == NULL);
	m->block_len = gpt_model_n_params(&m->cfg, with_score_bias);
	m->block = big_alloc(m->block_len);
	point_block(m, with_score_bias);
}

void
gpt_model_free(GptModel *m)
{
	if (m == NULL)
		return;
	for (int l = 0; l < m->cfg.n_layer; l++) {
		qmatrix_free(m->h[l].attn_q);
		qmatrix_free(m->h[l].attn_proj_q);
		qmatrix_free(m->h[l].fc_q);
		qmatrix_free(m->h[l].fc_proj_q);
	}
	free(m->block);
	g_free(m->h);
	if (m->keepalive != NULL && m->keepalive_free != NULL)
		m->keepalive_free(m->keepalive);
	g_free(m);
}

/* gpt_model_quantize - the int8 form of every linear weight lacking one */
void
gpt_model_quantize(GptModel *m)
{
	g_autoptr(GArray) specs = gpt_tensors(m, m->score_b != NULL);

	for (guint i = 0; i < specs->len; i++) {
		const GptTensor *t = &g_array_index(specs, GptTensor, i);
		if (t->qfield != NULL && *t->qfield == NULL)
			*t->qfield = qmatrix_quantize(*t->field, (int)t->shape[0],
						      (int)t->shape[1]);
	}
}

/* gpt_model_is_int8 - whether the linear weights have their int8 form */
gboolean
gpt_model_is_int8(const GptModel *m)
{
	return m->cfg.n_layer > 0 && m->h[0].attn_q != NULL;
}

/* ------------------------------------------------------------------ */
/* Random initialisation */

/* Rng - xoshiro256** seeded by splitmix64: fast, and the same stream on
 * every platform for a seed */
typedef struct {
	guint64 s[4];
	double spare;
	gboolean has_spare;
} Rng;

static guint64
rotl(guint64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void
rng_init(Rng *r, guint64 seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
	r->has_spare = FALSE;
}

static guint64
rng_next(Rng *r)
{
	guint64 *s = r->s;
	guint64 result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* rng_normal - N(0, 1) by Marsaglia's polar method, two per accepted
 * pair of uniforms (no sin/cos: a 124M-weight model is made in ~2 s) */
static double
rng_normal(Rng *r)
{
	double u, v, q;

	if (r->has_spare) {
		r->has_spare = FALSE;
		return r->spare;
	}
	do {
		u = (rng_next(r) >> 11) * 0x1.0p-52 - 1.0;	/* [-1, 1) */
		v = (rng_next(r) >> 11) * 0x1.0p-52 - 1.0;
		q = u * u + v * v;
	} while (q >= 1.0 || q == 0.0);
	double f = sqrt(-2.0 * log(q) / q);
	r->spare = v * f;
	r->has_spare = TRUE;
	return u * f;
}

static void
fill_normal(Rng *r, float *p, gsize n, double std)
{
	for (gsize i = 0; i < n; i++)
		p[i] = (float)(std * rng_normal(r));
}

static void
fill_const(float *p, gsize n, float v)
{
	for (gsize i = 0; i < n; i++)
		p[i] = v;
}

/* gpt_model_new_random - GPT-2 initialisation (normal(0, 0.02), residual
 * projections scaled by 1/sqrt(2L), LayerNorm 1/0), owned block */
GptModel *
gpt_model_new_random(const GptConfig *cfg, guint64 seed)
{
	g_return_val_if_fail(cfg->n_layer >= 0 && cfg->n_embd > 0 &&
			     cfg->n_head > 0 && cfg->n_embd % cfg->n_head == 0 &&
			     cfg->n_ctx > 0 && cfg->vocab_size > 0 &&
			     cfg->num_labels >= 0, NULL);
	GptModel *m = gpt_model_new(cfg);
	const gsize C = cfg->n_embd, L = cfg->n_layer;
	const double proj_std = 0.02 / sqrt(2.0 * (double)MAX(L, 1));
	Rng r;

	rng_init(&r, seed);
	gpt_model_alloc_block(m, FALSE);	/* zeroed: every bias */
	fill_normal(&r, m->wte, (gsize)cfg->vocab_size * C, 0.02);
	fill_normal(&r, m->wpe, (gsize)cfg->n_ctx * C, 0.02);
	for (gsize l = 0; l < L; l++) {
		GptLayer *h = &m->h[l];
		fill_const(h->ln_1_w, C, 1.0f);
		fill_normal(&r, h->attn_w, C * 3 * C, 0.02);
		fill_normal(&r, h->attn_proj_w, C * C, proj_std);
		fill_const(h->ln_2_w, C, 1.0f);
		fill_normal(&r, h->fc_w, C * 4 * C, 0.02);
		fill_normal(&r, h->fc_proj_w, 4 * C * C, proj_std);
	}
	fill_const(m->ln_f_w, C, 1.0f);
	if (cfg->num_labels > 0)
		fill_normal(&r, m->score_w, (gsize)cfg->num_labels * C, 0.02);
	return m;
}

/* gpt_model_set_head - replace (or add) the classifier head with a fresh
 * normal(0, 0.02) `score` of NUM_LABELS rows with a zero bias */
void
gpt_model_set_head(GptModel *m, int num_labels, gboolean with_bias,
		   guint64 seed)
{
	g_return_if_fail(m != NULL && m->block != NULL && num_labels >= 0);
	GptConfig body = m->cfg;
	body.num_labels = 0;
	const gsize keep = gpt_model_n_params(&body, FALSE);
	Rng r;

	/* The head is the tail of the block: keep everything before it. */
	m->cfg.num_labels = num_labels;
	m->block_len = gpt_model_n_params(&m->cfg, with_bias);
	float *block = big_alloc(m->block_len);
	memcpy(block, m->block, keep * sizeof(float));
	free(m->block);
	m->block = block;
	point_block(m, with_bias);
	if (num_labels > 0) {
		rng_init(&r, seed);
		fill_normal(&r, m->score_w, (gsize)num_labels * m->cfg.n_embd,
			    0.02);
	}
}

/* ------------------------------------------------------------------ */
/* The state and the forward pass */

/*
 * The arena holds three row buffers, each buffer reused as soon as what it
 * held is dead (per block: ln_1 -> qkv -> attention -> c_proj -> ln_2 ->
 * c_fc -> GELU -> c_proj): 6C floats a row instead of 10C.
 *	x	the residual stream
 *	ln	ln_1 output, then the attention output, then ln_2 output
 *	big	qkv (3C), then the MLP hidden (4C)
 * Every block of the pass is pointed at them (GptBlockActs), nothing kept.
 */
struct GptState {
	GptConfig cfg;		/* of the model it was made for */
	GptActs pass;		/* max_batch MB, max_tokens MT */
	GptBlockActs *blocks;	/* [L], all the same view */
	float *arena;		/* everything below, one allocation */
	float *x;		/* (MB * MT, C) */
	float *ln;		/* (MB * MT, C) */
	float *big;		/* (MB * MT, 4C) */
	float *att;		/* (MT, MT) attention scores of one head */
	float *pooled;		/* (MB, C) */
	float *qstage;		/* (QACTS_STAGE_ROWS, C) */
	QActs *q_in, *q_hid;	/* an int8 model's (see GptActs), or NULL */
};

/* gpt_state_new - scratch for up to MAX_BATCH sequences of MAX_TOKENS */
GptState *
gpt_state_new(const GptModel *m, int max_batch, int max_tokens)
{
	g_return_val_if_fail(m != NULL && max_batch >= 1 && max_tokens >= 1 &&
			     max_tokens <= m->cfg.n_ctx, NULL);
	GptState *s = g_new0(GptState, 1);
	const gsize C = m->cfg.n_embd;
	const gsize NR = (gsize)max_batch * max_tokens;
	/* sizes rounded up to 16 floats so that every buffer starts on a
	 * 64-byte line */
#define R16(n) (((n) + 15) & ~(gsize)15)
	const gsize sz[] = { R16(NR * C), R16(NR * C), R16(NR * 4 * C),
		R16(ATTENTION_SCRATCH(max_tokens)), R16((gsize)max_batch * C),
		R16(QACTS_STAGE_ROWS * C) };
	float **dst[] = { &s->x, &s->ln, &s->big, &s->att, &s->pooled,
		&s->qstage };
#undef R16
	gsize total = 0;

	for (gsize i = 0; i < G_N_ELEMENTS(sz); i++)
		total += sz[i];
	s->cfg = m->cfg;
	s->arena = big_alloc(total);
	total = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(sz); i++) {
		*dst[i] = s->arena + total;
		total += sz[i];
	}
	s->blocks = g_new0(GptBlockActs, MAX(m->cfg.n_layer, 1));
	for (int l = 0; l < m->cfg.n_layer; l++)
		s->blocks[l] = (GptBlockActs) {
			.x_in = s->x, .x_mid = s->x,
			.ln1 = s->ln, .atty = s->ln, .ln2 = s->ln,
			.qkv = s->big, .fch = s->big, .fch_gelu = s->big,
		};
	if (gpt_model_is_int8(m)) {
		s->q_in = qacts_new((int)NR, (int)C);
		s->q_hid = qacts_new((int)NR, (int)(4 * C));
	}
	s->pass = (GptActs) {
		.blocks = s->blocks, .x_final = s->x, .lnf = s->ln,
		.att_scratch = s->att, .max_batch = max_batch,
		.max_tokens = max_tokens, .q_in = s->q_in, .q_hid = s->q_hid,
		.q_stage = s->qstage,
	};
	return s;
}

void
gpt_state_free(GptState *s)
{
	if (s == NULL)
		return;
	free(s->arena);
	qacts_free(s->q_in);
	qacts_free(s->q_hid);
	g_free(s->blocks);
	g_free(s);
}

/* check_batch - the invariants of a forward call; returns N */
static int
check_batch(const GptModel *m, const GptActs *a, const int32_t *ids,
	    const int *lens, int B)
{
	gsize N = 0;

	g_assert(B >= 0 && B <= a->max_batch);
	for (int b = 0; b < B; b++) {
		g_assert(lens[b] >= 1 && lens[b] <= a->max_tokens);
		N += lens[b];
	}
	for (gsize r = 0; r < N; r++)
		g_assert(ids[r] >= 0 && ids[r] < m->cfg.vocab_size);
	return (int)N;
}

/* linear - out (=, or += with RESIDUAL) inp @ the weight + bias: the int8
 * product when the layer has Q, else the f32 one (training always) */
static void
linear(float *out, const float *inp, const float *w, const QMatrix *q,
       const float *bias, int N, int C, int OC, gboolean residual)
{
	if (q != NULL)
		qmatmul_forward(out, inp, q, bias, N, residual);
	else if (residual)
		matmul_residual_forward(out, inp, w, bias, N, C, OC);
	else
		matmul_forward(out, inp, w, bias, N, C, OC);
}

/* after_attention - x_mid starts as x_in (attn.c_proj adds to it); with
 * COMPACT only the last row of each sequence of x_in and of the attention
 * output goes on */
static void
after_attention(const GptBlockActs *k, const int *lens, int B, int N, int C,
		gboolean compact)
{
	if (compact) {
		pool_forward(k->x_mid, k->x_in, lens, B, C, FALSE);
		pool_forward(k->atty, k->atty, lens, B, C, FALSE);
	} else if (k->x_mid != k->x_in) {
		memcpy(k->x_mid, k->x_in, (gsize)N * C * sizeof(float));
	}
}

/*
 * block_forward_int8 - block_forward of an int8 model with its GptActs'
 * int8 rows: each product's input quantized once, where it is made
 * (qacts_layernorm, c_fc's GELU in the product), so that ln1, ln2 and fch
 * are never written; the attention's products in bf16 where the CPU has
 * them (attention_forward_bf16).
 */
static void
block_forward_int8(const GptModel *m, const GptActs *a, int l, float *x_out,
		   const int *lens, int B, int N, gboolean compact)
{
	const GptConfig *c = &m->cfg;
	const GptLayer *h = &m->h[l];
	const GptBlockActs *k = &a->blocks[l];
	const int C = c->n_embd, NH = c->n_head;
	const int R = compact ? B : N;

	qacts_layernorm(a->q_in, a->q_stage, k->x_in, h->ln_1_w, h->ln_1_b, N,
			c->ln_eps);
	qmatmul_forward_q(k->qkv, a->q_in, h->attn_q, h->attn_b, N, FALSE);
	attention_forward_bf16(k->atty, a->att_scratch, k->qkv, lens, B, C, NH);
	after_attention(k, lens, B, N, C, compact);
	qacts_quantize(a->q_in, k->atty, 0, R);
	qmatmul_forward_q(k->x_mid, a->q_in, h->attn_proj_q, h->attn_proj_b,
			  R, TRUE);
	qacts_layernorm(a->q_in, a->q_stage, k->x_mid, h->ln_2_w, h->ln_2_b, R,
			c->ln_eps);
	qmatmul_gelu_forward_q(a->q_hid, a->q_in, h->fc_q, h->fc_b, R);
	if (x_out != k->x_mid)
		memcpy(x_out, k->x_mid, (gsize)R * C * sizeof(float));
	qmatmul_forward_q(x_out, a->q_hid, h->fc_proj_q, h->fc_proj_b, R,
			  TRUE);
}

/*
 * block_forward - block L of the pass, from a->blocks[l].x_in into X_OUT:
 * x_mid = x_in + attn(ln_1(x_in)) @ c_proj, x_out = x_mid +
 * gelu(ln_2(x_mid) @ c_fc) @ c_proj. COMPACT: after the attention only
 * the last row of each sequence, X_OUT gets B rows.
 */
static void
block_forward(const GptModel *m, const GptActs *a, int l, float *x_out,
	      const int *lens, int B, int N, gboolean compact)
{
	const GptConfig *c = &m->cfg;
	const GptLayer *h = &m->h[l];
	const GptBlockActs *k = &a->blocks[l];
	const int C = c->n_embd, NH = c->n_head;
	const int R = compact ? B : N;

	if (h->attn_q != NULL && a->q_in != NULL) {
		block_forward_int8(m, a, l, x_out, lens, B, N, compact);
		return;
	}
	layernorm_forward(k->ln1, k->ln1_mean, k->ln1_rstd, k->x_in, h->ln_1_w,
			  h->ln_1_b, N, C, c->ln_eps);
	linear(k->qkv, k->ln1, h->attn_w, h->attn_q, h->attn_b, N, C, 3 * C,
	       FALSE);
	attention_forward(k->atty, a->att_scratch, k->qkv, lens, B, C, NH);
	after_attention(k, lens, B, N, C, compact);
	linear(k->x_mid, k->atty, h->attn_proj_w, h->attn_proj_q,
	       h->attn_proj_b, R, C, C, TRUE);
	layernorm_forward(k->ln2, k->ln2_mean, k->ln2_rstd, k->x_mid,
			  h->ln_2_w, h->ln_2_b, R, C, c->ln_eps);
	linear(k->fch, k->ln2, h->fc_w, h->fc_q, h->fc_b, R, C, 4 * C, FALSE);
	gelu_forward(k->fch_gelu, k->fch, (gsize)R * 4 * C);
	if (x_out != k->x_mid)
		memcpy(x_out, k->x_mid, (gsize)R * C * sizeof(float));
	linear(x_out, k->fch_gelu, h->fc_proj_w, h->fc_proj_q, h->fc_proj_b, R,
	       4 * C, C, TRUE);
}

/* gpt_forward - embeddings, blocks, ln_f into A; returns lnf's rows */
int
gpt_forward(const GptModel *m, const GptActs *a, const int32_t *ids,
	    const int *lens, int B, gboolean compact)
{
	const GptConfig *c = &m->cfg;
	const int C = c->n_embd, L = c->n_layer;
	const int N = check_batch(m, a, ids, lens, B);

	compact = compact && L > 0;
	if (B == 0)
		return 0;
	encoder_forward(L > 0 ? a->blocks[0].x_in : a->x_final, ids, lens, B,
			m->wte, m->wpe, C);
	for (int l = 0; l < L; l++)
		block_forward(m, a, l, l + 1 < L ? a->blocks[l + 1].x_in :
			      a->x_final, lens, B, N, compact && l == L - 1);
	const int R = compact ? B : N;
	layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->x_final,
			  m->ln_f_w, m->ln_f_b, R, C, c->ln_eps);
	return R;
}

/* gpt_forward_compact - a last-token classifier with blocks compacts */
gboolean
gpt_forward_compact(const GptModel *m)
{
	return m->cfg.pooling == GPT_POOL_LAST && m->cfg.n_layer > 0;
}

/* gpt_forward_head - pooled rows from lnf, then the head's logits */
void
gpt_forward_head(const GptModel *m, const GptActs *a, const int *lens,
		 int B, gboolean compact, float *pooled, float *logits)
{
	const int C = m->cfg.n_embd;

	if (B == 0)
		return;
	if (compact && m->cfg.n_layer > 0)
		memcpy(pooled, a->lnf, (gsize)B * C * sizeof(float));
	else
		pool_forward(pooled, a->lnf, lens, B, C,
			     m->cfg.pooling == GPT_POOL_MEAN);
	if (logits != NULL) {
		g_assert(m->cfg.num_labels > 0 && m->score_w != NULL);
		head_forward(logits, pooled, m->score_w, m->score_b, B, C,
			     m->cfg.num_labels);
	}
}

/* forward_pooled - the inference pass to the pooled rows (B, C) in OUT,
 * and the head's logits (B, NL) unless LOGITS is NULL */
static void
forward_pooled(const GptModel *m, GptState *s, const int32_t *ids,
	       const int *lens, int B, float *out, float *logits)
{
	const gboolean compact = gpt_forward_compact(m);

	g_assert(s->cfg.n_embd == m->cfg.n_embd &&
		 s->cfg.n_ctx == m->cfg.n_ctx &&
		 s->cfg.n_layer == m->cfg.n_layer);
	gpt_forward(m, &s->pass, ids, lens, B, compact);
	gpt_forward_head(m, &s->pass, lens, B, compact, out, logits);
}

/* gpt_forward_classify - logits (B, NL) of B packed sequences */
void
gpt_forward_classify(const GptModel *m, GptState *s, const int32_t *ids,
		     const int *lens, int B, float *logits)
{
	g_assert(m->cfg.num_labels > 0 && m->score_w != NULL);
	forward_pooled(m, s, ids, lens, B, s->pooled, logits);
}

/* gpt_forward_classify_pooled - logits (B, NL) and pooled rows (B, C) */
void
gpt_forward_classify_pooled(const GptModel *m, GptState *s, const int32_t *ids,
			    const int *lens, int B, float *logits,
			    float *pooled)
{
	g_assert(m->cfg.num_labels > 0 && m->score_w != NULL);
	forward_pooled(m, s, ids, lens, B, pooled, logits);
}

/* gpt_forward_hidden - pooled final hidden states (B, C), after ln_f */
void
gpt_forward_hidden(const GptModel *m, GptState *s, const int32_t *ids,
		   const int *lens, int B, float *hidden)
{
	forward_pooled(m, s, ids, lens, B, hidden, NULL);
}

/* gpt_set_threads - BLAS threads for this process (1 in pooled workers) */
void
gpt_set_threads(int n)
{
	openblas_set_num_threads(MAX(n, 1));
	qmatmul_set_threads(n);
}
