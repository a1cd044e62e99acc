/*
 * test_train_grad.c - finite-difference check of gpt_train's gradients
 *
 * Owns: the numerical check of the backward pass (gpt_train.c,
 * layers_backward.c) on a tiny GPT-2 with random weights (LayerNorm and
 * biases randomised too, so that each of them matters): for both losses,
 * both poolings, a ragged batch, trainable_blocks -1, 3, 2, 1, 0, a sample of
 * coordinates of every parameter tensor is perturbed by +-EPS and the
 * central difference of the loss is compared with the analytic gradient.
 * Also: frozen tensors have no gradient buffer (the trainable range is the
 * exact tail of the block), the training forward agrees with the inference
 * forward (gpt.c), losses of eval and step agree, gradients accumulate and
 * follow loss_scale; the sampled softmax (a fixed draw) is checked the same
 * way, and equals the full softmax when its draw covers the vocabulary.
 * Exit status: 0 when every check passes, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gpt.h"
#include "gpt_train.h"
#include "check.h"

#define EPS 1e-2f

/* normal - a standard normal deviate (Box-Muller) */
static float
normal(GRand *r)
{
	double u = g_rand_double_range(r, 1e-12, 1.0);
	double v = g_rand_double(r);
	return (float)(sqrt(-2.0 * log(u)) * cos(2.0 * G_PI * v));
}

static void
fill(GRand *r, float *p, gsize n, float center, float sd)
{
	if (p == NULL)
		return;
	for (gsize i = 0; i < n; i++)
		p[i] = center + sd * normal(r);
}

/* A named parameter tensor of the model. */
typedef struct {
	char name[48];
	float *p;
	gsize n;
} Tensor;

/* list_tensors - every parameter of M, in the block's order; returns the
 * count */
static int
list_tensors(GptModel *m, Tensor *t)
{
	const GptConfig *c = &m->cfg;
	const gsize C = c->n_embd;
	int n = 0;
#define ADD(nm, ptr, len) do { \
	if ((ptr) != NULL) { \
		g_strlcpy(t[n].name, nm, sizeof(t[n].name)); \
		t[n].p = (ptr); t[n].n = (len); n++; \
	} \
} while (0)
	ADD("wte", m->wte, (gsize)c->vocab_size * C);
	ADD("wpe", m->wpe, (gsize)c->n_ctx * C);
	for (int l = 0; l < c->n_layer; l++) {
		GptLayer *h = &m->h[l];
		char nm[48];
#define ADDL(f, len) do { \
	g_snprintf(nm, sizeof(nm), "h.%d.%s", l, #f); ADD(nm, h->f, len); \
} while (0)
		ADDL(ln_1_w, C); ADDL(ln_1_b, C);
		ADDL(attn_w, C * 3 * C); ADDL(attn_b, 3 * C);
		ADDL(attn_proj_w, C * C); ADDL(attn_proj_b, C);
		ADDL(ln_2_w, C); ADDL(ln_2_b, C);
		ADDL(fc_w, C * 4 * C); ADDL(fc_b, 4 * C);
		ADDL(fc_proj_w, 4 * C * C); ADDL(fc_proj_b, C);
#undef ADDL
	}
	ADD("ln_f_w", m->ln_f_w, C);
	ADD("ln_f_b", m->ln_f_b, C);
	ADD("score_w", m->score_w, (gsize)c->num_labels * C);
	ADD("score_b", m->score_b, (gsize)c->num_labels);
#undef ADD
	return n;
}

/* randomize - every weight drawn afresh: matrices and embeddings with a
 * spread that makes attention non-uniform, LayerNorm weights around 1,
 * biases around 0 */
static void
randomize(GptModel *m, guint32 seed)
{
	g_autoptr(GRand) r = g_rand_new_with_seed(seed);
	Tensor t[256];
	int n = list_tensors(m, t);

	for (int i = 0; i < n; i++) {
		gboolean ln_w = g_str_has_suffix(t[i].name, "ln_1_w") ||
		    g_str_has_suffix(t[i].name, "ln_2_w") ||
		    g_str_has_suffix(t[i].name, "ln_f_w");
		gboolean bias = g_str_has_suffix(t[i].name, "_b");
		fill(r, t[i].p, t[i].n, ln_w ? 1.0f : 0.0f,
		     ln_w || bias ? 0.2f : 0.3f);
	}
}

typedef enum { LOSS_LAST, LOSS_MEAN, LOSS_LM, LOSS_LM_SAMPLED } LossKind;

static const char *const loss_names[] = { "classify/last",
	"classify/mean", "lm", "lm/sampled" };

/* The sampled softmax's draw: 6 of the tokens the batch does not predict,
 * the same draw for every evaluation of the loss, so that it is a smooth
 * function of the weights for the finite differences. */
#define LM_SAMPLES 6
#define LM_SEED 12345

/* The batch: ragged, four sequences, one of a single token (which the
 * language model cannot score). */
static const int lens[] = { 5, 2, 7, 1 };
#define NB 4
static int32_t ids[5 + 2 + 7 + 1];
static const int labels[NB] = { 2, 0, 1, 1 };
static const float class_weights[3] = { 0.5f, 2.0f, 1.25f };

static float
loss_of(GptTrain *tr, LossKind kind, const float *w)
{
	if (kind == LOSS_LM_SAMPLED)
		gpt_train_lm_sampling(tr, LM_SAMPLES, LM_SEED);
	if (kind == LOSS_LM || kind == LOSS_LM_SAMPLED)
		return gpt_train_lm_step(tr, ids, lens, NB, 1.0f);
	return gpt_train_classify_step(tr, ids, lens, NB, labels, w, 1.0f,
				       NULL);
}

static GptModel *
tiny_model(LossKind kind, guint32 seed)
{
	GptConfig cfg = {
		.n_layer = 3, .n_head = 2, .n_embd = 8, .n_ctx = 12,
		.vocab_size = 29, .ln_eps = 1e-5f,
		.num_labels = kind >= LOSS_LM ? 0 : 3,
		.pooling = kind == LOSS_MEAN ? GPT_POOL_MEAN : GPT_POOL_LAST,
	};
	GptModel *m = gpt_model_new_random(&cfg, seed);

	if (kind < LOSS_LM)
		gpt_model_set_head(m, 3, kind == LOSS_LAST, seed + 1);
	randomize(m, seed + 2);
	return m;
}

/*
 * check_case - finite differences against the analytic gradient for one
 * loss and one trainable_blocks setting
 */
static void
check_case(LossKind kind, int k)
{
	g_autoptr(GptModel) m = tiny_model(kind, 7 + kind);
	GptTrainOptions opt = { .trainable_blocks = k, .max_batch = 4,
		.max_tokens = 8 };
	g_autoptr(GError) error = NULL;
	g_autoptr(GptTrain) tr = gpt_train_new(m, &opt, &error);
	const float *w = kind == LOSS_LAST ? class_weights : NULL;
	const int L = m->cfg.n_layer;
	int checked = 0, bad = 0;

	g_assert_no_error(error);
	/* The trainable range is exactly the block's tail. */
	float *start = k < 0 ? m->block : k > 0 ? m->h[L - k].ln_1_w :
	    m->ln_f_w;
	CHECK(gpt_train_params(tr) == start, "%s k=%d: params start",
	      loss_names[kind], k);
	CHECK(gpt_train_n_params(tr) ==
	      m->block_len - (gsize)(start - m->block),
	      "%s k=%d: n_params %zu", loss_names[kind], k,
	      gpt_train_n_params(tr));

	gpt_train_zero_grad(tr);
	float loss = loss_of(tr, kind, w);
	CHECK(isfinite(loss) && loss > 0.0f, "%s: loss %g", loss_names[kind],
	      loss);
	gsize n = gpt_train_n_params(tr);
	float *g = g_memdup2(gpt_train_grads(tr), n * sizeof(float));

	/* Eval gives the same loss (without class weights). */
	if (kind == LOSS_LM) {
		float e = gpt_train_lm_eval(tr, ids, lens, NB);
		CHECK(fabsf(e - loss) <= 1e-6f * fabsf(loss),
		      "lm eval %g != step %g", e, loss);
	}

	Tensor t[256];
	int nt = list_tensors(m, t);
	g_autoptr(GRand) r = g_rand_new_with_seed(99 + k);
	for (int i = 0; i < nt; i++) {
		gboolean trainable = t[i].p >= start;
		if (!trainable)
			continue;
		const float *gt = g + (t[i].p - start);
		/* the largest gradient of the tensor, plus random picks */
		gsize imax = 0;
		float gmax = 0.0f;
		for (gsize j = 0; j < t[i].n; j++)
			if (fabsf(gt[j]) > gmax) {
				gmax = fabsf(gt[j]);
				imax = j;
			}
		float tbad = 0.0f;
		for (int s = 0; s < 7; s++) {
			gsize j = s == 0 ? imax :
			    (gsize)g_rand_int_range(r, 0, (gint32)t[i].n);
			float keep = t[i].p[j];
			t[i].p[j] = keep + EPS;
			float lp = loss_of(tr, kind, w);
			t[i].p[j] = keep - EPS;
			float lm = loss_of(tr, kind, w);
			t[i].p[j] = keep;
			float fd = (lp - lm) / (2.0f * EPS);
			float err = fabsf(fd - gt[j]);
			float tol = 2e-2f * fabsf(gt[j]) + 2e-3f * gmax + 2e-5f;
			checked++;
			if (err > tol) {
				bad++;
				if (err / tol > tbad)
					tbad = err / tol;
				fprintf(stderr, "  %s k=%d %s[%zu]: analytic %.6g "
					"numeric %.6g\n", loss_names[kind], k,
					t[i].name, j, gt[j], fd);
			}
		}
		/* every trainable tensor takes part in the loss */
		CHECK(gmax > 0.0f || (kind >= LOSS_LM &&
				      g_str_has_prefix(t[i].name, "score")),
		      "%s k=%d: %s has a zero gradient", loss_names[kind], k,
		      t[i].name);
	}
	CHECK(bad == 0, "%s k=%d: %d of %d coordinates off", loss_names[kind],
	      k, bad, checked);
	printf("%s trainable_blocks=%d: loss %.6f, %d coordinates checked, "
	       "%zu trainable floats of %zu\n", loss_names[kind], k, loss,
	       checked, n, m->block_len);

	/* Accumulation and loss_scale: two more steps, one scaled by 3,
	 * give g + 3 g on top of what is there now. */
	gpt_train_zero_grad(tr);
	loss_of(tr, kind, w);
	if (kind >= LOSS_LM)
		gpt_train_lm_step(tr, ids, lens, NB, 3.0f);
	else
		gpt_train_classify_step(tr, ids, lens, NB, labels, w, 3.0f,
					NULL);
	const float *g4 = gpt_train_grads(tr);
	float worst = 0.0f, gabs = 0.0f;
	for (gsize j = 0; j < n; j++) {
		worst = fmaxf(worst, fabsf(g4[j] - 4.0f * g[j]));
		gabs = fmaxf(gabs, fabsf(g[j]));
	}
	CHECK(worst <= 1e-5f * gabs, "%s k=%d: accumulation off by %g",
	      loss_names[kind], k, worst);
	g_free(g);
}

/* check_forward - the training forward's logits match gpt.c's inference
 * forward, for both poolings, frozen and trainable alike */
static void
check_forward(LossKind kind, int k)
{
	g_autoptr(GptModel) m = tiny_model(kind, 21);
	GptTrainOptions opt = { .trainable_blocks = k, .max_batch = 4,
		.max_tokens = 8 };
	g_autoptr(GptTrain) tr = gpt_train_new(m, &opt, NULL);
	g_autoptr(GptState) s = gpt_state_new(m, 4, 8);
	float a[NB * 3], b[NB * 3];

	g_assert(tr != NULL);
	float le = gpt_train_classify_eval(tr, ids, lens, NB, labels, a);
	gpt_forward_classify(m, s, ids, lens, NB, b);
	float worst = 0.0f;
	for (int i = 0; i < NB * 3; i++)
		worst = fmaxf(worst, fabsf(a[i] - b[i]));
	CHECK(worst <= 1e-4f, "%s k=%d: train logits differ from gpt.c by %g",
	      loss_names[kind], k, worst);
	float ls = gpt_train_classify_step(tr, ids, lens, NB, labels, NULL,
					   1.0f, a);
	CHECK(fabsf(ls - le) <= 1e-6f * fabsf(le), "%s: step loss %g, eval %g",
	      loss_names[kind], ls, le);
	/* by hand: mean over B of -log softmax(b)[label] */
	double ref = 0.0;
	for (int i = 0; i < NB; i++) {
		double mx = b[i * 3], sum = 0.0;
		for (int j = 1; j < 3; j++)
			mx = fmax(mx, b[i * 3 + j]);
		for (int j = 0; j < 3; j++)
			sum += exp(b[i * 3 + j] - mx);
		ref += log(sum) + mx - b[i * 3 + labels[i]];
	}
	ref /= NB;
	CHECK(fabs(ls - ref) <= 1e-4, "%s: loss %g, by hand %g",
	      loss_names[kind], ls, ref);
	/* without labels: the logits alone */
	float c[NB * 3];
	CHECK(gpt_train_classify_eval(tr, ids, lens, NB, NULL, c) == 0.0f &&
	      memcmp(a, c, sizeof(c)) == 0, "%s: eval without labels",
	      loss_names[kind]);
}

/* check_sampled_full - a sampled softmax whose draw covers the whole
 * vocabulary is the full softmax: the same loss and gradients; a smaller
 * draw is another loss (the draw happens), and eval stays the full one */
static void
check_sampled_full(void)
{
	g_autoptr(GptModel) m = tiny_model(LOSS_LM, 9);
	GptTrainOptions opt = { .trainable_blocks = -1, .max_batch = 4,
		.max_tokens = 8 };
	g_autoptr(GptTrain) tr = gpt_train_new(m, &opt, NULL);
	gsize n = gpt_train_n_params(tr);

	g_assert(tr != NULL);
	gpt_train_zero_grad(tr);
	float full = gpt_train_lm_step(tr, ids, lens, NB, 1.0f);
	float *g = g_memdup2(gpt_train_grads(tr), n * sizeof(float));
	gpt_train_zero_grad(tr);
	gpt_train_lm_sampling(tr, 29, 1);	/* V = 29: all of the rest */
	float all = gpt_train_lm_step(tr, ids, lens, NB, 1.0f);
	const float *ga = gpt_train_grads(tr);
	float worst = 0.0f, gabs = 0.0f;
	for (gsize j = 0; j < n; j++) {
		worst = fmaxf(worst, fabsf(ga[j] - g[j]));
		gabs = fmaxf(gabs, fabsf(g[j]));
	}
	CHECK(fabsf(all - full) <= 1e-6f * full && worst <= 1e-6f * gabs,
	      "sampled softmax over all tokens: loss %g (full %g), gradients "
	      "off by %g", all, full, worst);
	gpt_train_lm_sampling(tr, 3, 1);
	float some = gpt_train_lm_step(tr, ids, lens, NB, 1.0f);
	CHECK(fabsf(some - full) > 1e-4f,
	      "sampled softmax of 3 tokens gives the full loss %g", some);
	float e = gpt_train_lm_eval(tr, ids, lens, NB);
	CHECK(fabsf(e - full) <= 1e-6f * full,
	      "lm eval with sampling set: %g, full %g", e, full);
	gpt_train_lm_sampling(tr, 0, 0);
	float back = gpt_train_lm_step(tr, ids, lens, NB, 1.0f);
	CHECK(back == full, "K = 0 is not the full softmax again: %g", back);
	printf("lm/sampled: all tokens = full softmax (loss %.6f), 3 tokens "
	       "%.6f\n", full, some);
	g_free(g);
}

/* check_errors - gpt_train_new refuses what it cannot train */
static void
check_errors(void)
{
	g_autoptr(GptModel) m = tiny_model(LOSS_LAST, 3);
	GptTrainOptions opt = { .trainable_blocks = 4, .max_batch = 2,
		.max_tokens = 8 };
	GError *error = NULL;

	CHECK(gpt_train_new(m, &opt, &error) == NULL && error != NULL,
	      "trainable_blocks > n_layer accepted");
	g_clear_error(&error);
	opt.trainable_blocks = 1;
	opt.max_tokens = 13;
	CHECK(gpt_train_new(m, &opt, &error) == NULL && error != NULL,
	      "max_tokens > n_ctx accepted");
	g_clear_error(&error);
	opt.max_tokens = 8;
	opt.max_batch = 0;
	CHECK(gpt_train_new(m, &opt, &error) == NULL && error != NULL,
	      "max_batch 0 accepted");
	g_clear_error(&error);
}

int
main(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
		ids[i] = (int32_t)((i * 11 + 3) % 29);

	for (LossKind kind = LOSS_LAST; kind <= LOSS_LM_SAMPLED; kind++) {
		check_case(kind, -1);
		check_case(kind, 3);
		check_case(kind, 2);
		check_case(kind, 1);
		check_case(kind, 0);
	}
	check_forward(LOSS_LAST, 1);
	check_forward(LOSS_LAST, -1);
	check_forward(LOSS_MEAN, 0);
	check_forward(LOSS_MEAN, 2);
	check_sampled_full();
	check_errors();
	return check_summary("test_train_grad");
}
