/*
 * train_step_dump.c - one full training step in C, written out for the
 * PyTorch comparison (tests/test_train_torch.py)
 *
 * Owns: the C side of that test. A tiny GPT-2 with every weight random
 * (LayerNorm and biases too), a ragged batch, one step: zero_grad, the
 * forward + backward of gpt_train.c, then optim.c's adamw_step on the
 * trainable range. Written to OUT as named records:
 *	u32 name length, name, u32 kind (0 f32, 1 i32), u32 ndim, u32 dims[],
 *	then the little-endian data
 * config (i32: L NH C n_ctx V NL pooling k has_bias lm), ids, lens, labels,
 * class_weights (classifier), hyper (f32: lr b1 b2 eps wd), then
 * "param/NAME" for every weight before the step, "loss", "logits"
 * (classifier), "grad/NAME" for every trainable weight, "new/NAME" for
 * every weight after the update.
 *
 *	train_step_dump last|mean|lm K OUT [BUNDLE]
 * With BUNDLE (a directory from tests/gen_tiny_model.py) the model is
 * that bundle, loaded with GPT_LOAD_OWNED as the trainer loads GPT-2, with
 * its own weights; the mode then only picks the loss and the pooling.
 * Exit status: 0 when written, 2 on a usage or file error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "gpt.h"
#include "gpt_train.h"
#include "optim.h"

static FILE *out;

static void
put_u32(guint32 v)
{
	guint32 le = GUINT32_TO_LE(v);
	fwrite(&le, 4, 1, out);
}

/* record - one named tensor; DATA is float or int32 (both 4 bytes, and
 * this test only runs on little-endian hosts) */
static void
record(const char *name, int kind, const void *data, int ndim,
       const gsize *dims)
{
	gsize n = 1;

	put_u32((guint32)strlen(name));
	fwrite(name, 1, strlen(name), out);
	put_u32((guint32)kind);
	put_u32((guint32)ndim);
	for (int i = 0; i < ndim; i++) {
		put_u32((guint32)dims[i]);
		n *= dims[i];
	}
	fwrite(data, 4, n, out);
}

static void
rec1(const char *name, int kind, const void *data, gsize n)
{
	record(name, kind, data, 1, &n);
}

static float
normal(GRand *r)
{
	double u = g_rand_double_range(r, 1e-12, 1.0);
	double v = g_rand_double(r);
	return (float)(sqrt(-2.0 * log(u)) * cos(2.0 * G_PI * v));
}

typedef struct {
	char name[48];
	float *p;
	int ndim;
	gsize dims[2];
} Tensor;

/* list_tensors - every weight of M under its Hugging Face name, with its
 * HF shape */
static int
list_tensors(GptModel *m, Tensor *t)
{
	const GptConfig *c = &m->cfg;
	const gsize C = c->n_embd;
	int n = 0;
#define ADD(nm, ptr, d0, d1) do { \
	if ((ptr) != NULL) { \
		g_strlcpy(t[n].name, nm, sizeof(t[n].name)); \
		t[n].p = (ptr); t[n].dims[0] = (d0); t[n].dims[1] = (d1); \
		t[n].ndim = (d1) != 0 ? 2 : 1; n++; \
	} \
} while (0)
	ADD("wte.weight", m->wte, (gsize)c->vocab_size, C);
	ADD("wpe.weight", m->wpe, (gsize)c->n_ctx, C);
	for (int l = 0; l < c->n_layer; l++) {
		GptLayer *h = &m->h[l];
		char nm[48];
#define ADDL(f, s, d0, d1) do { \
	g_snprintf(nm, sizeof(nm), "h.%d.%s", l, s); ADD(nm, h->f, d0, d1); \
} while (0)
		ADDL(ln_1_w, "ln_1.weight", C, 0);
		ADDL(ln_1_b, "ln_1.bias", C, 0);
		ADDL(attn_w, "attn.c_attn.weight", C, 3 * C);
		ADDL(attn_b, "attn.c_attn.bias", 3 * C, 0);
		ADDL(attn_proj_w, "attn.c_proj.weight", C, C);
		ADDL(attn_proj_b, "attn.c_proj.bias", C, 0);
		ADDL(ln_2_w, "ln_2.weight", C, 0);
		ADDL(ln_2_b, "ln_2.bias", C, 0);
		ADDL(fc_w, "mlp.c_fc.weight", C, 4 * C);
		ADDL(fc_b, "mlp.c_fc.bias", 4 * C, 0);
		ADDL(fc_proj_w, "mlp.c_proj.weight", 4 * C, C);
		ADDL(fc_proj_b, "mlp.c_proj.bias", C, 0);
#undef ADDL
	}
	ADD("ln_f.weight", m->ln_f_w, C, 0);
	ADD("ln_f.bias", m->ln_f_b, C, 0);
	ADD("score.weight", m->score_w, (gsize)c->num_labels, C);
	ADD("score.bias", m->score_b, (gsize)c->num_labels, 0);
#undef ADD
	return n;
}

static void
dump_tensors(const char *prefix, Tensor *t, int n, const float *base,
	     const float *data)
{
	for (int i = 0; i < n; i++) {
		char name[64];
		if (t[i].p < base)
			continue;
		g_snprintf(name, sizeof(name), "%s/%s", prefix, t[i].name);
		record(name, 0, data + (t[i].p - base), t[i].ndim, t[i].dims);
	}
}

int
main(int argc, char **argv)
{
	if (argc < 4 || argc > 5 ||
	    (strcmp(argv[1], "last") && strcmp(argv[1], "mean") &&
	     strcmp(argv[1], "lm"))) {
		fprintf(stderr, "usage: train_step_dump last|mean|lm K OUT "
			"[BUNDLE]\n");
		return 2;
	}
	const gboolean lm = strcmp(argv[1], "lm") == 0;
	const gboolean mean = strcmp(argv[1], "mean") == 0;
	const int k = atoi(argv[2]);
	GptConfig cfg = {
		.n_layer = 2, .n_head = 2, .n_embd = 16, .n_ctx = 24,
		.vocab_size = 61, .ln_eps = 1e-5f, .num_labels = lm ? 0 : 2,
		.pooling = mean ? GPT_POOL_MEAN : GPT_POOL_LAST,
	};
	gboolean bias = !lm && !mean;
	g_autoptr(GError) error = NULL;
	g_autoptr(GptModel) m = NULL;
	if (argc == 5) {
		g_autoptr(Bundle) bun = bundle_load(argv[4], &error);
		if (bun != NULL)
			m = bundle_load_model(bun, GPT_LOAD_OWNED, &error);
		if (m == NULL) {
			fprintf(stderr, "train_step_dump: %s\n", error->message);
			return 2;
		}
		/* the mode picks the pooling; the language model leaves the
		 * head alone (zero gradient, weight decay only) */
		m->cfg.pooling = cfg.pooling;
		bias = m->score_b != NULL;
		cfg = m->cfg;
	} else {
		m = gpt_model_new_random(&cfg, 5);
		if (!lm)
			gpt_model_set_head(m, 2, bias, 6);
	}

	/* every weight random, LayerNorm around 1 (a bundle keeps its own) */
	Tensor t[64];
	int nt = list_tensors(m, t);
	g_autoptr(GRand) r = g_rand_new_with_seed(11);
	for (int i = 0; i < nt && argc == 4; i++) {
		gboolean ln_w = strstr(t[i].name, "ln_") &&
		    g_str_has_suffix(t[i].name, ".weight");
		gboolean b = g_str_has_suffix(t[i].name, ".bias");
		gsize n = t[i].dims[0] * (t[i].ndim == 2 ? t[i].dims[1] : 1);
		for (gsize j = 0; j < n; j++)
			t[i].p[j] = (ln_w ? 1.0f : 0.0f) +
			    (ln_w || b ? 0.2f : 0.3f) * normal(r);
	}

	static const int lens[] = { 9, 3, 14, 1 };
	const int B = 4, N = 9 + 3 + 14 + 1;
	int32_t ids[9 + 3 + 14 + 1];
	for (int i = 0; i < N; i++)
		ids[i] = (int32_t)((i * 17 + 5) % cfg.vocab_size);
	static const int labels[] = { 1, 0, 1, 0 };
	static const float class_weights[] = { 0.75f, 1.5f };
	const float hyper[] = { 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f };

	GptTrainOptions opt = { .trainable_blocks = k, .max_batch = 4,
		.max_tokens = 16 };
	g_autoptr(GptTrain) tr = gpt_train_new(m, &opt, &error);
	if (tr == NULL) {
		fprintf(stderr, "train_step_dump: %s\n", error->message);
		return 2;
	}
	out = fopen(argv[3], "wb");
	if (out == NULL) {
		perror(argv[3]);
		return 2;
	}
	const int32_t conf[] = { cfg.n_layer, cfg.n_head, cfg.n_embd,
		cfg.n_ctx, cfg.vocab_size, cfg.num_labels, cfg.pooling, k,
		bias, lm };
	rec1("config", 1, conf, G_N_ELEMENTS(conf));
	rec1("ids", 1, ids, N);
	rec1("lens", 1, lens, B);
	if (!lm) {
		rec1("labels", 1, labels, B);
		rec1("class_weights", 0, class_weights, 2);
	}
	rec1("hyper", 0, hyper, G_N_ELEMENTS(hyper));
	dump_tensors("param", t, nt, m->block, m->block);

	float logits[4 * 2];
	gpt_train_zero_grad(tr);
	float loss = lm ? gpt_train_lm_step(tr, ids, lens, B, 1.0f) :
	    gpt_train_classify_step(tr, ids, lens, B, labels, class_weights,
				    1.0f, logits);
	rec1("loss", 0, &loss, 1);
	if (!lm) {
		gsize d[2] = { 4, 2 };
		record("logits", 0, logits, 2, d);
	}
	float *params = gpt_train_params(tr);
	dump_tensors("grad", t, nt, params, gpt_train_grads(tr));

	g_autoptr(Adam) adam = adam_new(gpt_train_n_params(tr));
	adamw_step(adam, params, gpt_train_grads(tr), hyper[0], hyper[1],
		   hyper[2], hyper[3], hyper[4]);
	dump_tensors("new", t, nt, m->block, m->block);
	if (fclose(out) != 0) {
		perror(argv[3]);
		return 2;
	}
	return 0;
}
