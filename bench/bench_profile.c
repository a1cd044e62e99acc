/*
 * bench_profile.c - where a message's time goes in gptmilter-classify
 *
 * Owns: the per-stage clock of bench/bench_profile, which is
 * gptmilter-classify itself (src/classify/main.c, unchanged) linked with
 * this file and -Wl,--wrap for every stage below: each wrapper times its
 * real function on the calling thread, so the figures are those of the
 * program users run, whatever threads it uses. At exit it prints a table
 * to stderr (bench/bench_profile.sh runs it and reads the table):
 *	read		g_file_get_contents (message files)
 *	mailtext	mailtext_extract (MIME to text)
 *	tokenize	tokens_from_text (BPE, capped at max_tokens)
 *	scripts		scripts_dominant
 *	embed		encoder_forward
 *	layernorm	layernorm_forward (ln_1, ln_2, ln_f), and
 *			qacts_layernorm (an int8 pass's ln_1, ln_2 with their
 *			quantizing)
 *	qkv, attn proj, fc, fc proj	the four GEMMs of a block, told apart
 *			by shape: c_attn (C -> 3C), attn.c_proj (C -> C, added
 *			to the residual), c_fc (C -> 4C), mlp.c_proj (4C -> C);
 *			f32 (matmul_forward, matmul_residual_forward) or int8
 *			(qmatmul_forward with its activation quantizing,
 *			qmatmul_forward_q, and qmatmul_gelu_forward_q: c_fc
 *			with the quantizing of its GELU's output; the GELU
 *			itself is gelu's)
 *	quantize	qacts_quantize (an int8 pass's activation rows: the
 *			attention's output)
 *	attention	attention_forward (scores, softmax, P @ V), and
 *			attention_forward_bf16 (an int8 pass's)
 *	gelu		gelu_forward
 *	pool, head	pool_forward, head_forward
 *	other		wall time x callers minus the above: printing, the
 *			softmax of the logits, waits and idle threads
 * A stage's seconds exclude those of the stages it calls.
 * Columns: seconds on the calling threads, % of wall x callers (the threads
 * that ran any stage: 1 when the forward's only parallelism is BLAS's),
 * GFLOP/s of the stage (FLOPs over its seconds / callers), and
 * for the GEMMs and the attention the ratio to the fp32 limit: the same
 * GEMM shapes (K, OC at the batch's full row count) timed alone with
 * OpenBLAS sgemm in this run, right after the work, on the same number of
 * threads (the better of one call on THREADS BLAS threads and THREADS
 * callers of one BLAS thread each). The attention's useful FLOPs (the
 * causal half) count at the mean rate of those sgemms. The last lines give
 * messages/s and the model's fp32 limit in messages/s (every FLOP at the
 * sgemm rate, nothing else costing time), and their ratio.
 *
 * Environment: BENCH_PROFILE_THREADS, the threads (cores) the run used, for
 * the sgemm peak; default 2. BENCH_PROFILE_CLOCK=cpu: every figure in CPU
 * time of the calling threads (CLOCK_THREAD_CPUTIME_ID), which a machine
 * shared with other work does not inflate: seconds and % of the callers'
 * CPU time up to their last stage, GFLOP/s and the sgemm limit of one
 * thread (sgemm on one BLAS thread, timed by its CPU time), messages per
 * CPU second; for gptmilter-classify -T N, whose N workers each score
 * whole batches on one thread.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>

#include "gpt.h"
#include "layers.h"
#include "mailtext.h"
#include "qmatmul.h"
#include "scripts.h"
#include "tokens.h"

enum {
	S_READ, S_MAILTEXT, S_TOKENIZE, S_SCRIPTS, S_EMBED, S_LAYERNORM,
	S_QUANTIZE, S_QKV, S_ATTENTION, S_ATTN_PROJ, S_GELU, S_FC, S_FC_PROJ,
	S_POOL, S_HEAD, S_N
};

static const char *const stage_name[S_N] = {
	"read", "mailtext", "tokenize", "scripts", "embed", "layernorm",
	"quantize", "qkv", "attention", "attn proj", "gelu", "fc", "fc proj", "pool",
	"head",
};

/* Per-thread accumulators, kept after their thread ends, summed at exit. */
typedef struct {
	double sec[S_N];
	double flops[S_N];
	gint64 calls[S_N];
	int rows_max;		/* most rows of one GEMM call (the batch) */
	int C;			/* n_embd seen */
	double end;		/* the clock at the thread's last stage */
} Acc;

static GMutex accs_lock;
static GPtrArray *accs;
static __thread Acc *my_acc;
static double t_start;

/* The stages' clock: the wall clock, or with BENCH_PROFILE_CLOCK=cpu the
 * calling thread's CPU time */
static clockid_t stage_clock = CLOCK_MONOTONIC;

static double
clock_sec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double
now(void)
{
	return clock_sec(stage_clock);
}

static gboolean
cpu_clock(void)
{
	return stage_clock != CLOCK_MONOTONIC;
}

static Acc *
acc(void)
{
	if (G_UNLIKELY(my_acc == NULL)) {
		my_acc = g_new0(Acc, 1);
		g_mutex_lock(&accs_lock);
		g_ptr_array_add(accs, my_acc);
		g_mutex_unlock(&accs_lock);
	}
	return my_acc;
}

/* A stage's time excludes the stages it calls (the int8 pass's fused
 * c_fc calls gelu_forward, qacts_layernorm may call layernorm_forward):
 * NESTED is the time of the stages that ran inside the
 * current one so far on this thread. */
static __thread double nested;

typedef struct {
	double t0, outer;	/* start; the enclosing stage's NESTED */
} Span;

static Span
span(void)
{
	Span s = { now(), nested };

	nested = 0;
	return s;
}

static void
add(int stage, const Span *s, double flops)
{
	Acc *a = acc();
	const double el = now() - s->t0;

	a->sec[stage] += el - nested;
	a->flops[stage] += flops;
	a->calls[stage]++;
	a->end = s->t0 + el;
	nested = s->outer + el;
}

/* ---- the wrapped stages ---- */

gboolean __real_g_file_get_contents(const gchar *, gchar **, gsize *,
				    GError **);
gboolean __wrap_g_file_get_contents(const gchar *, gchar **, gsize *,
				    GError **);
gboolean
__wrap_g_file_get_contents(const gchar *path, gchar **data, gsize *len,
			   GError **error)
{
	Span t = span();
	gboolean ok = __real_g_file_get_contents(path, data, len, error);
	add(S_READ, &t, 0);
	return ok;
}

char *__real_mailtext_extract(const char *, gsize, const MailtextOptions *,
			      gsize *);
char *__wrap_mailtext_extract(const char *, gsize, const MailtextOptions *,
			      gsize *);
char *
__wrap_mailtext_extract(const char *msg, gsize len, const MailtextOptions *o,
			gsize *out_len)
{
	Span t = span();
	char *r = __real_mailtext_extract(msg, len, o, out_len);
	add(S_MAILTEXT, &t, 0);
	return r;
}

int __real_tokens_from_text(const Bpe *, const char *, gsize, int, int32_t,
			    int32_t *);
int __wrap_tokens_from_text(const Bpe *, const char *, gsize, int, int32_t,
			    int32_t *);
int
__wrap_tokens_from_text(const Bpe *bpe, const char *text, gsize len, int max,
			int32_t eot, int32_t *ids)
{
	Span t = span();
	int r = __real_tokens_from_text(bpe, text, len, max, eot, ids);
	add(S_TOKENIZE, &t, 0);
	return r;
}

const char *__real_scripts_dominant(const char *, gsize);
const char *__wrap_scripts_dominant(const char *, gsize);
const char *
__wrap_scripts_dominant(const char *text, gsize len)
{
	Span t = span();
	const char *r = __real_scripts_dominant(text, len);
	add(S_SCRIPTS, &t, 0);
	return r;
}

void __real_encoder_forward(float *, const int32_t *, const int *, int,
			    const float *, const float *, int);
void __wrap_encoder_forward(float *, const int32_t *, const int *, int,
			    const float *, const float *, int);
void
__wrap_encoder_forward(float *out, const int32_t *ids, const int *lens, int B,
		       const float *wte, const float *wpe, int C)
{
	Span t = span();
	__real_encoder_forward(out, ids, lens, B, wte, wpe, C);
	add(S_EMBED, &t, 0);
	acc()->C = C;
}

void __real_layernorm_forward(float *, float *, float *, const float *,
			      const float *, const float *, int, int, float);
void __wrap_layernorm_forward(float *, float *, float *, const float *,
			      const float *, const float *, int, int, float);
void
__wrap_layernorm_forward(float *out, float *mean, float *rstd,
			 const float *inp, const float *w, const float *b,
			 int N, int C, float eps)
{
	Span t = span();
	__real_layernorm_forward(out, mean, rstd, inp, w, b, N, C, eps);
	add(S_LAYERNORM, &t, 0);
}

static void
gemm_seen(int stage, const Span *t, int N, int C, int OC)
{
	Acc *a = acc();

	add(stage, t, 2.0 * N * C * OC);
	a->rows_max = MAX(a->rows_max, N);
}

void __real_matmul_forward(float *, const float *, const float *,
			   const float *, int, int, int);
void __wrap_matmul_forward(float *, const float *, const float *,
			   const float *, int, int, int);
void
__wrap_matmul_forward(float *out, const float *inp, const float *w,
		      const float *b, int N, int C, int OC)
{
	Span t = span();
	__real_matmul_forward(out, inp, w, b, N, C, OC);
	gemm_seen(OC == 3 * C ? S_QKV : S_FC, &t, N, C, OC);
}

void __real_matmul_residual_forward(float *, const float *, const float *,
				    const float *, int, int, int);
void __wrap_matmul_residual_forward(float *, const float *, const float *,
				    const float *, int, int, int);
void
__wrap_matmul_residual_forward(float *out, const float *inp, const float *w,
			       const float *b, int N, int C, int OC)
{
	Span t = span();
	__real_matmul_residual_forward(out, inp, w, b, N, C, OC);
	gemm_seen(C == OC ? S_ATTN_PROJ : S_FC_PROJ, &t, N, C, OC);
}

/* qstage - the stage of an int8 product of K x OC, by shape */
static int
qstage(const QMatrix *m)
{
	const int K = qmatrix_k(m), OC = qmatrix_oc(m);

	return K == OC ? S_ATTN_PROJ : OC == 3 * K ? S_QKV : OC == 4 * K ?
	    S_FC : S_FC_PROJ;
}

void __real_qmatmul_forward(float *, const float *, const QMatrix *,
			    const float *, int, gboolean);
void __wrap_qmatmul_forward(float *, const float *, const QMatrix *,
			    const float *, int, gboolean);
void
__wrap_qmatmul_forward(float *out, const float *inp, const QMatrix *m,
		       const float *b, int N, gboolean accumulate)
{
	Span t = span();

	__real_qmatmul_forward(out, inp, m, b, N, accumulate);
	gemm_seen(qstage(m), &t, N, qmatrix_k(m), qmatrix_oc(m));
}

void __real_qmatmul_forward_q(float *, const QActs *, const QMatrix *,
			      const float *, int, gboolean);
void __wrap_qmatmul_forward_q(float *, const QActs *, const QMatrix *,
			      const float *, int, gboolean);
void
__wrap_qmatmul_forward_q(float *out, const QActs *a, const QMatrix *m,
			 const float *b, int N, gboolean accumulate)
{
	Span t = span();

	__real_qmatmul_forward_q(out, a, m, b, N, accumulate);
	gemm_seen(qstage(m), &t, N, qmatrix_k(m), qmatrix_oc(m));
}

void __real_qmatmul_gelu_forward_q(QActs *, const QActs *, const QMatrix *,
				   const float *, int);
void __wrap_qmatmul_gelu_forward_q(QActs *, const QActs *, const QMatrix *,
				   const float *, int);
void
__wrap_qmatmul_gelu_forward_q(QActs *dst, const QActs *a, const QMatrix *m,
			      const float *b, int N)
{
	Span t = span();

	__real_qmatmul_gelu_forward_q(dst, a, m, b, N);
	gemm_seen(qstage(m), &t, N, qmatrix_k(m), qmatrix_oc(m));
}

void __real_qacts_layernorm(QActs *, float *, const float *, const float *,
			    const float *, int, float);
void __wrap_qacts_layernorm(QActs *, float *, const float *, const float *,
			    const float *, int, float);
void
__wrap_qacts_layernorm(QActs *a, float *stage, const float *x, const float *w,
		       const float *b, int N, float eps)
{
	Span t = span();

	__real_qacts_layernorm(a, stage, x, w, b, N, eps);
	add(S_LAYERNORM, &t, 0);
}

void __real_qacts_quantize(QActs *, const float *, int, int);
void __wrap_qacts_quantize(QActs *, const float *, int, int);
void
__wrap_qacts_quantize(QActs *a, const float *inp, int r0, int N)
{
	Span t = span();

	__real_qacts_quantize(a, inp, r0, N);
	add(S_QUANTIZE, &t, 0);
}

/* attention_flops - the attention's useful work: q.k and p.v over the
 * causal half, every head */
static double
attention_flops(const int *lens, int B, int C)
{
	double f = 0;

	for (int b = 0; b < B; b++)
		f += 2.0 * 2.0 * C * lens[b] * (lens[b] + 1) / 2.0;
	return f;
}

void __real_attention_forward(float *, float *, const float *, const int *,
			      int, int, int);
void __wrap_attention_forward(float *, float *, const float *, const int *,
			      int, int, int);
void
__wrap_attention_forward(float *out, float *scratch, const float *qkv,
			 const int *lens, int B, int C, int NH)
{
	Span t = span();

	__real_attention_forward(out, scratch, qkv, lens, B, C, NH);
	add(S_ATTENTION, &t, attention_flops(lens, B, C));
}

void __real_attention_forward_bf16(float *, float *, const float *,
				   const int *, int, int, int);
void __wrap_attention_forward_bf16(float *, float *, const float *,
				   const int *, int, int, int);
void
__wrap_attention_forward_bf16(float *out, float *scratch, const float *qkv,
			      const int *lens, int B, int C, int NH)
{
	Span t = span();

	__real_attention_forward_bf16(out, scratch, qkv, lens, B, C, NH);
	add(S_ATTENTION, &t, attention_flops(lens, B, C));
}

void __real_gelu_forward(float *, const float *, gsize);
void __wrap_gelu_forward(float *, const float *, gsize);
void
__wrap_gelu_forward(float *out, const float *inp, gsize n)
{
	Span t = span();
	__real_gelu_forward(out, inp, n);
	add(S_GELU, &t, 0);
}

void __real_pool_forward(float *, const float *, const int *, int, int,
			 gboolean);
void __wrap_pool_forward(float *, const float *, const int *, int, int,
			 gboolean);
void
__wrap_pool_forward(float *out, const float *x, const int *lens, int B, int C,
		    gboolean mean)
{
	Span t = span();
	__real_pool_forward(out, x, lens, B, C, mean);
	add(S_POOL, &t, 0);
}

void __real_head_forward(float *, const float *, const float *,
			 const float *, int, int, int);
void __wrap_head_forward(float *, const float *, const float *,
			 const float *, int, int, int);
void
__wrap_head_forward(float *logits, const float *x, const float *w,
		    const float *b, int B, int C, int NL)
{
	Span t = span();
	__real_head_forward(logits, x, w, b, B, C, NL);
	add(S_HEAD, &t, 2.0 * B * C * NL);
}

/* ---- the sgemm peak and the report ---- */

typedef struct {
	int M, K, N, reps;
	float *a, *b, *c;
} Gemm;

static gpointer
gemm_run(gpointer data)
{
	Gemm *g = data;

	for (int r = 0; r < g->reps; r++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->M,
			    g->N, g->K, 1.0f, g->a, g->K, g->b, g->N, 1.0f,
			    g->c, g->N);
	return NULL;
}

static Gemm *
gemm_new(int M, int K, int N)
{
	Gemm *g = g_new0(Gemm, 1);

	g->M = M;
	g->K = K;
	g->N = N;
	g->a = g_new(float, (gsize)M * K);
	g->b = g_new(float, (gsize)K * N);
	g->c = g_new0(float, (gsize)M * N);
	for (gsize i = 0; i < (gsize)M * K; i++)
		g->a[i] = (float)(i % 17) * 0.01f;
	for (gsize i = 0; i < (gsize)K * N; i++)
		g->b[i] = (float)(i % 13) * 0.01f;
	return g;
}

static void
gemm_free(Gemm *g)
{
	g_free(g->a);
	g_free(g->b);
	g_free(g->c);
	g_free(g);
}

/* sgemm_peak - best GFLOP/s of (M, K) @ (K, N) on THREADS cores: one
 * caller on THREADS BLAS threads, or THREADS callers of one each */
static double
sgemm_peak(int M, int K, int N, int threads)
{
	const double f = 2.0 * M * K * N;
	Gemm *g[16];
	double best = 0;

	threads = CLAMP(threads, 1, 16);
	for (int i = 0; i < threads; i++)
		g[i] = gemm_new(M, K, N);
	int reps = MAX(3, (int)(0.1e9 / f));
	for (int trial = 0; trial < 3; trial++) {
		/* one caller, all threads */
		gpt_set_threads(threads);
		g[0]->reps = 1;
		gemm_run(g[0]);
		g[0]->reps = reps;
		double t = now();
		gemm_run(g[0]);
		best = MAX(best, f * reps / (now() - t) / 1e9);
		/* THREADS callers, one thread each */
		if (threads > 1 && !cpu_clock()) {
			GThread *th[16];
			gpt_set_threads(1);
			t = now();
			for (int i = 0; i < threads; i++) {
				g[i]->reps = reps;
				th[i] = g_thread_new("peak", gemm_run, g[i]);
			}
			for (int i = 0; i < threads; i++)
				g_thread_join(th[i]);
			best = MAX(best, f * reps * threads / (now() - t) / 1e9);
		}
	}
	for (int i = 0; i < threads; i++)
		gemm_free(g[i]);
	return best;
}

static void
report(void)
{
	const double wall = clock_sec(CLOCK_MONOTONIC) - t_start;
	const char *env = g_getenv("BENCH_PROFILE_THREADS");
	/* CPU time: the sgemm of one thread, timed by its CPU time */
	const int threads = cpu_clock() ? 1 : env ? MAX(atoi(env), 1) : 2;
	Acc tot = { 0 };
	double cpu = 0;		/* the callers' CPU time to their last stage */
	gint64 msgs;

	g_mutex_lock(&accs_lock);
	for (guint i = 0; i < accs->len; i++) {
		const Acc *a = g_ptr_array_index(accs, i);
		for (int s = 0; s < S_N; s++) {
			tot.sec[s] += a->sec[s];
			tot.flops[s] += a->flops[s];
			tot.calls[s] += a->calls[s];
		}
		tot.rows_max = MAX(tot.rows_max, a->rows_max);
		tot.C = MAX(tot.C, a->C);
		cpu += a->end;
	}
	g_mutex_unlock(&accs_lock);
	msgs = tot.calls[S_MAILTEXT];
	if (tot.C == 0 || msgs == 0) {
		fprintf(stderr, "bench_profile: no message scored\n");
		return;
	}

	/* the sgemm limit of each GEMM, at the run's biggest row count */
	const int C = tot.C, M = tot.rows_max;
	const struct { int stage, K, N; } shapes[] = {
		{ S_QKV, C, 3 * C }, { S_ATTN_PROJ, C, C },
		{ S_FC, C, 4 * C }, { S_FC_PROJ, 4 * C, C },
	};
	double peak[S_N] = { 0 }, limit = 0, gemm_f = 0, gemm_lim = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(shapes); i++) {
		const int s = shapes[i].stage;
		peak[s] = sgemm_peak(M, shapes[i].K, shapes[i].N, threads);
		limit += tot.flops[s] / (peak[s] * 1e9);
		gemm_f += tot.flops[s];
		gemm_lim += tot.flops[s] / (peak[s] * 1e9);
	}
	/* the attention and the head at the mean sgemm rate */
	peak[S_ATTENTION] = peak[S_HEAD] = gemm_f / gemm_lim / 1e9;
	limit += (tot.flops[S_ATTENTION] + tot.flops[S_HEAD]) /
	    (peak[S_ATTENTION] * 1e9);

	int callers = 0;
	g_mutex_lock(&accs_lock);
	callers = (int)accs->len;
	g_mutex_unlock(&accs_lock);
	/* rates of CALLERS side by side, or in CPU time of one thread */
	const int side = cpu_clock() ? 1 : callers;
	const double total = cpu_clock() ? cpu : wall * callers;
	double sum = 0;
	fprintf(stderr, "%-10s %10s %7s %10s %9s %8s\n", "stage", "seconds",
		"%", "calls", "GFLOP/s", "of fp32");
	for (int s = 0; s < S_N; s++) {
		sum += tot.sec[s];
		fprintf(stderr, "%-10s %10.3f %6.1f%% %10" G_GINT64_FORMAT,
			stage_name[s], tot.sec[s], 100 * tot.sec[s] / total,
			tot.calls[s]);
		if (tot.flops[s] > 0 && tot.sec[s] > 0) {
			double gf = tot.flops[s] / tot.sec[s] / 1e9;
			fprintf(stderr, " %9.1f %7.0f%%", gf * side,
				peak[s] > 0 ? 100 * gf * side / peak[s] : 0);
		}
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "%-10s %10.3f %6.1f%%\n", "other", total - sum,
		100 * (total - sum) / total);
	if (cpu_clock())
		fprintf(stderr, "%-10s %10.3f %6.1f%%   (CPU time of %d callers; "
			"wall %.3f s)\n", "total", total, 100.0, callers, wall);
	else
		fprintf(stderr, "%-10s %10.3f %6.1f%%   (wall %.3f s x %d "
			"callers)\n", "total", total, 100.0, wall, callers);
	double fl = 0;
	for (int s = 0; s < S_N; s++)
		fl += tot.flops[s];
	/* on the CPU clock: per second of one thread's CPU time */
	const double t = cpu_clock() ? cpu : wall;
	const char *unit = cpu_clock() ? "msg/CPU-s" : "msg/s";
	fprintf(stderr, "messages %" G_GINT64_FORMAT ": %.1f %s; "
		"%.3f GFLOP a message; sgemm %.1f GFLOP/s (%d rows, %d "
		"threads); fp32 limit %.1f %s; ratio %.0f%%\n", msgs,
		msgs / t, unit, fl / msgs / 1e9, peak[S_ATTENTION], M, threads,
		msgs / limit, unit, 100 * limit / t);
}

__attribute__((constructor)) static void
profile_init(void)
{
	accs = g_ptr_array_new();
	if (g_strcmp0(g_getenv("BENCH_PROFILE_CLOCK"), "cpu") == 0)
		stage_clock = CLOCK_THREAD_CPUTIME_ID;
	t_start = clock_sec(CLOCK_MONOTONIC);
	atexit(report);
}
