/*
 * gpt_forward_dump.c - run the C forward pass on a model for the tests
 *
 * Owns: the driver that tests/test_gpt_forward.py compares against the
 * numpy reference (tests/gpt_ref.py).
 *
 *	gpt_forward_dump [--owned] [--hidden] [--no-simd] [--threads N]
 *			 [--quantize] [--qpath NAME] MODEL_DIR IDS_FILE
 * IDS_FILE has one sequence per line, token ids separated by spaces. The
 * sequences run once as one ragged batch and once one by one (each in a
 * state of its own size, the batch in one sized for all); printed as
 *	batched B V0 V1 ...	single B V0 V1 ...
 * with the logits (B, NL), or with --hidden the pooled hidden state (B, C).
 * --owned loads with GPT_LOAD_OWNED; without it an aligned F32 file is used
 * in place, and "zero-copy 0|1" says which happened. --no-simd runs
 * layers.c's plain C loops (layers_force_generic); "simd 0|1" says which
 * ran. --quantize gives an f32 model its int8 form (gpt_model_quantize);
 * --qpath runs the int8 products on that kernel (generic, avx2,
 * avx-vnni, avx512-vnni; exit 77 when this CPU has not it); "int8 0|1"
 * says whether the int8 products ran.
 *
 *	gpt_forward_dump --random
 * checks gpt_model_new_random and gpt_model_set_head (parameter counts,
 * layout, finite outputs) and exits non-zero on failure.
 * Errors: a load error is printed on stderr, exit status 2.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "gpt.h"
#include "check.h"
#include "layers.h"

/* read_ids - the sequences of PATH as ids (N) and lens (B) */
static gboolean
read_ids(const char *path, GArray *ids, GArray *lens)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(path, &text, NULL, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return FALSE;
	}
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		g_auto(GStrv) words = g_strsplit_set(g_strstrip(*l), " \t", -1);
		int n = 0;
		for (char **w = words; *w != NULL; w++) {
			if (**w == '\0')
				continue;
			int32_t id = (int32_t)g_ascii_strtoll(*w, NULL, 10);
			g_array_append_val(ids, id);
			n++;
		}
		if (n > 0)
			g_array_append_val(lens, n);
	}
	return lens->len > 0;
}

static void
print_rows(const char *tag, int b, const float *v, int n)
{
	printf("%s %d", tag, b);
	for (int i = 0; i < n; i++)
		printf(" %.9g", v[i]);
	printf("\n");
}

/* run - one call of the forward (classify or hidden) into OUT */
static void
run(const GptModel *m, GptState *s, const int32_t *ids, const int *lens,
    int B, gboolean hidden, float *out)
{
	if (hidden)
		gpt_forward_hidden(m, s, ids, lens, B, out);
	else
		gpt_forward_classify(m, s, ids, lens, B, out);
}

static int
dump(const char *dir, const char *ids_path, gboolean owned, gboolean hidden,
     gboolean quantize)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(Bundle) b = bundle_load(dir, &error);
	if (b == NULL) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	g_autoptr(GptModel) m = bundle_load_model(b, owned ? GPT_LOAD_OWNED : 0,
					       &error);
	if (m == NULL) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	/* the model must not need the bundle any more */
	g_clear_pointer(&b, bundle_free);
	if (quantize)
		gpt_model_quantize(m);
	printf("zero-copy %d\n", m->block == NULL);
	printf("int8 %d\n", gpt_model_is_int8(m));
	printf("simd %d\n", layers_simd());
	printf("num_labels %d\n", m->cfg.num_labels);
	printf("score_bias %d\n", m->score_b != NULL);
	if (m->block != NULL) {
		CHECK(m->block_len == gpt_model_n_params(&m->cfg,
							 m->score_b != NULL));
		CHECK(m->wte == m->block);
	}

	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int32_t));
	g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(int));
	if (!read_ids(ids_path, ids, lens))
		return 2;
	const int B = (int)lens->len;
	const int W = hidden ? m->cfg.n_embd : m->cfg.num_labels;
	int maxlen = 0;
	for (int i = 0; i < B; i++)
		maxlen = MAX(maxlen, g_array_index(lens, int, i));

	g_autofree float *out = g_new0(float, (gsize)B * W);
	g_autoptr(GptState) s = gpt_state_new(m, B, maxlen);
	run(m, s, (int32_t *)ids->data, (int *)lens->data, B, hidden, out);
	for (int i = 0; i < B; i++)
		print_rows("batched", i, out + (gsize)i * W, W);
	/* the same state again gives the same numbers (nothing left over) */
	g_autofree float *again = g_new0(float, (gsize)B * W);
	run(m, s, (int32_t *)ids->data, (int *)lens->data, B, hidden, again);
	CHECK(memcmp(out, again, (gsize)B * W * sizeof(float)) == 0);

	const int32_t *p = (const int32_t *)ids->data;
	for (int i = 0; i < B; i++) {
		int T = g_array_index(lens, int, i);
		g_autoptr(GptState) s1 = gpt_state_new(m, 1, T);
		run(m, s1, p, &T, 1, hidden, out);
		print_rows("single", i, out, W);
		p += T;
	}
	return check_failures ? 1 : 0;
}

/* random_checks - gpt_model_new_random and gpt_model_set_head */
static int
random_checks(void)
{
	/* GPT-2 124M: the well-known 124,439,808 weights without a head */
	GptConfig big = { .n_layer = 12, .n_head = 12, .n_embd = 768,
		.n_ctx = 1024, .vocab_size = 50257, .ln_eps = 1e-5f };
	CHECK(gpt_model_n_params(&big, FALSE) == 124439808);
	big.num_labels = 2;
	CHECK(gpt_model_n_params(&big, FALSE) == 124439808 + 2 * 768);
	CHECK(gpt_model_n_params(&big, TRUE) == 124439808 + 2 * 768 + 2);

	GptConfig c = { .n_layer = 3, .n_head = 4, .n_embd = 40, .n_ctx = 20,
		.vocab_size = 300, .ln_eps = 1e-5f, .num_labels = 0 };
	g_autoptr(GptModel) m = gpt_model_new_random(&c, 42);
	g_autoptr(GptModel) m2 = gpt_model_new_random(&c, 42);
	CHECK(m->block_len == gpt_model_n_params(&c, FALSE));
	CHECK(m->score_w == NULL && m->score_b == NULL);
	CHECK(memcmp(m->block, m2->block, m->block_len * sizeof(float)) == 0);
	/* the layout of gpt.h: ln_f right before the (absent) head */
	CHECK(m->ln_f_b + c.n_embd == m->block + m->block_len);
	CHECK(m->h[0].ln_1_w == m->wpe + (gsize)c.n_ctx * c.n_embd);
	CHECK(m->h[0].ln_1_w[0] == 1.0f && m->h[0].ln_1_b[0] == 0.0f);
	CHECK(m->h[2].fc_b[5] == 0.0f);
	double sum2 = 0;
	gsize nw = (gsize)c.vocab_size * c.n_embd;
	for (gsize i = 0; i < nw; i++)
		sum2 += (double)m->wte[i] * m->wte[i];
	double sd = sqrt(sum2 / (double)nw);
	CHECK(sd > 0.019 && sd < 0.021);

	/* hidden states of an LM are finite */
	int32_t ids[] = { 1, 2, 299, 0, 5, 7, 7 };
	int lens[] = { 4, 3 };
	g_autoptr(GptState) s = gpt_state_new(m, 2, 20);
	float hidden[2 * 40];
	gpt_forward_hidden(m, s, ids, lens, 2, hidden);
	for (int i = 0; i < 80; i++)
		CHECK(isfinite(hidden[i]));

	/* add a head with a bias, then replace it without one */
	float *ln_f = m->ln_f_w;
	float saved = ln_f[3];
	gpt_model_set_head(m, 3, TRUE, 7);
	CHECK(m->cfg.num_labels == 3);
	CHECK(m->block_len == gpt_model_n_params(&m->cfg, TRUE));
	CHECK(m->score_w == m->ln_f_b + c.n_embd);
	CHECK(m->score_b == m->score_w + 3 * c.n_embd);
	CHECK(m->score_b[0] == 0.0f && m->score_b[2] == 0.0f);
	CHECK(m->ln_f_w[3] == saved);
	float logits[2 * 3];
	gpt_forward_classify(m, s, ids, lens, 2, logits);
	for (int i = 0; i < 6; i++)
		CHECK(isfinite(logits[i]) && logits[i] != 0.0f);
	gpt_model_set_head(m, 2, FALSE, 7);
	CHECK(m->score_b == NULL && m->cfg.num_labels == 2);
	CHECK(m->block_len == gpt_model_n_params(&m->cfg, FALSE));
	gpt_forward_classify(m, s, ids, lens, 2, logits);
	for (int i = 0; i < 4; i++)
		CHECK(isfinite(logits[i]));

	/* mean pooling on the random model */
	m->cfg.pooling = GPT_POOL_MEAN;
	gpt_forward_classify(m, s, ids, lens, 2, logits);
	for (int i = 0; i < 4; i++)
		CHECK(isfinite(logits[i]));

	printf("random: %s\n", check_failures ? "FAILED" : "ok");
	return check_failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	gboolean owned = FALSE, hidden = FALSE, random = FALSE, no_simd = FALSE;
	gboolean quantize = FALSE;
	g_autofree char *qpath = NULL;
	int threads = 0;
	GOptionEntry entries[] = {
		{ "owned", 0, 0, G_OPTION_ARG_NONE, &owned,
		  "load with GPT_LOAD_OWNED", NULL },
		{ "hidden", 0, 0, G_OPTION_ARG_NONE, &hidden,
		  "print pooled hidden states, not logits", NULL },
		{ "random", 0, 0, G_OPTION_ARG_NONE, &random,
		  "check random init and set_head", NULL },
		{ "no-simd", 0, 0, G_OPTION_ARG_NONE, &no_simd,
		  "plain C loops, not the AVX2 ones", NULL },
		{ "threads", 0, 0, G_OPTION_ARG_INT, &threads,
		  "BLAS threads", "N" },
		{ "quantize", 0, 0, G_OPTION_ARG_NONE, &quantize,
		  "int8 linear weights from the f32 ones", NULL },
		{ "qpath", 0, 0, G_OPTION_ARG_STRING, &qpath,
		  "int8 kernel: generic, avx2, avx-vnni or avx512-vnni", "NAME" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("MODEL_DIR IDS_FILE");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	if (threads > 0)
		gpt_set_threads(threads);
	if (no_simd)
		layers_force_generic();
	QPath qp;
	if (qpath != NULL && !qmatmul_path_by_name(qpath, &qp)) {
		fprintf(stderr, "--qpath %s: no such kernel\n", qpath);
		return 2;
	}
	if (qpath != NULL && !qmatmul_path_supported(qp)) {
		printf("--qpath %s: not on this CPU\n", qpath);
		return 77;
	}
	if (qpath != NULL)
		qmatmul_force_path(qp);
	if (random)
		return random_checks();
	if (argc != 3) {
		fprintf(stderr, "usage: gpt_forward_dump [--owned] [--hidden] "
			"MODEL_DIR IDS_FILE\n");
		return 2;
	}
	return dump(argv[1], argv[2], owned, hidden, quantize);
}
