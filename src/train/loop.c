/*
 * loop.c - gptmilter-train's training loop: batches, epochs, updates,
 * progress, checkpoints and resume, and the final calibration and save;
 * train_run is balancing, start (resume), the loop, and finishing
 *
 * Owns: the order the examples are seen in (a permutation per epoch derived
 * from --seed and the epoch number only, so a resumed run replays exactly the
 * batches an uninterrupted run would), gradient accumulation, clipping, the
 * schedule, the checkpoint file, and what is written to OUT at the end.
 * Not here: gradients (gpt_train.c), AdamW (optim.c), metrics (report.c),
 * the arithmetic of averaging and interpolating weights (soup.c).
 *
 * Checkpoint: OUT/checkpoint/state.bin, written atomically (tmp + fsync +
 * rename): CK_HEADER_WORDS little-endian int64 words (magic, version,
 * counters, fingerprint of the options that shape the run), then the model
 * block (block_len floats), then Adam's m and v (n_params floats each),
 * then, with --average-last, the running mean of the weights (n_params).
 * Everything that decides the next update is in it: weights, moments, the
 * update count and the position in the epoch; the data order is recomputed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "train.h"
#include "splitmix.h"
#include "bundle.h"
#include "mailtext.h"
#include "mapfile.h"

#define CK_MAGIC 0x67707463686bLL	/* "gptchk" */
#define CK_VERSION 1
#define CK_HEADER_WORDS 32

enum {
	CK_W_MAGIC, CK_W_VERSION, CK_W_NPARAMS, CK_W_BLOCK, CK_W_STEP,
	CK_W_EPOCH, CK_W_MICRO, CK_W_ADAM_T, CK_W_FINGERPRINT,
	CK_W_SUM_LOSS, CK_W_SUM_CORRECT, CK_W_SUM_N,	/* doubles as bits */
};

double
train_now(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

/* shuffle - Fisher-Yates with a stream seeded by (seed, salt) */
static void
shuffle(CorpusItem **v, gsize n, guint64 seed, guint64 salt)
{
	guint64 s = seed * 0x100000001b3ULL ^ (salt + 0x51ed2701ULL);

	for (gsize i = n; i > 1; i--) {
		gsize j = (gsize)(splitmix64(&s) % i);
		CorpusItem *t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* read_bare - whether IT is read as its bare-header view in EPOCH:
 * --header-dropout's draw, from (seed, epoch, message digest) alone, so
 * that a resumed run draws as the uninterrupted one did */
static gboolean
read_bare(const TrainOptions *o, const CorpusItem *it, gint64 epoch)
{
	if (it->bare_ids == NULL || o->header_dropout <= 0)
		return FALSE;
	guint64 s = o->seed * 0x100000001b3ULL ^ ((guint64)epoch << 32) ^
		    g_str_hash(it->digest);
	return (double)(splitmix64(&s) >> 11) * 0x1.0p-53 < o->header_dropout;
}

/* The state a checkpoint carries besides tensors. */
typedef struct {
	gint64 step;		/* updates done */
	gint64 epoch;		/* current epoch, 0-based */
	gint64 micro;		/* next micro-batch in the epoch */
	double sum_loss, sum_correct, sum_n;	/* this epoch so far */
} Progress;

/* fingerprint - the options that shape the run, and the data's size: a
 * checkpoint of another run is refused. pretrain --windows needs no field
 * of its own: another N changes NTRAIN, or else every message fits in the
 * smaller N and the two runs are the same. */
static guint64
fingerprint(const Run *r, gsize ntrain, gsize nparams)
{
	const TrainOptions *o = r->o;
	g_autofree char *fields = g_strdup_printf(
		"%d|%s|%s|%d,%d,%d,%d|%d|%d|%d|%.9g|%.9g|%.9g|%.9g|%d|%d|%d|%d|"
		"%" G_GINT64_FORMAT "|%d|%" G_GUINT64_FORMAT "|%zu|%zu|%d|%"
		G_GINT64_FORMAT,
		o->mode, o->base ? o->base : "", o->init ? o->init : "",
		o->layers, o->heads, o->embd, o->ctx, o->max_tokens,
		o->trainable_blocks, o->pooling, o->lr, o->wd, o->clip,
		o->min_lr, o->batch, o->epochs, o->grad_accum, o->warmup,
		o->max_steps, o->schedule, o->seed, ntrain, nparams, o->balance,
		o->average_last);
	/* Options added later join the string only when used, so that
	 * checkpoints of older runs still resume. */
	g_autoptr(GString) s = g_string_new(fields);
	if (o->header_dropout > 0)
		g_string_append_printf(s, "|hd%.9g", o->header_dropout);
	if (o->lm_samples > 0)
		g_string_append_printf(s, "|lms%d", o->lm_samples);
	g_autofree char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
							   s->str, -1);
	char head[16];

	memcpy(head, h, 15);
	head[15] = '\0';
	return g_ascii_strtoull(head, NULL, 16);
}

static gint64
dbits(double d)
{
	gint64 v;

	memcpy(&v, &d, sizeof v);
	return v;
}

static double
bitsd(gint64 v)
{
	double d;

	memcpy(&d, &v, sizeof d);
	return d;
}

static gboolean
write_all(FILE *f, const void *p, gsize n)
{
	return n == 0 || fwrite(p, 1, n, f) == n;
}

/* checkpoint_save - OUT/checkpoint/state.bin, atomically */
static gboolean
checkpoint_save(Run *r, GptTrain *tr, const Adam *a, const float *avg,
		const Progress *p, guint64 fp, GError **error)
{
	g_autofree char *dir = g_build_filename(r->o->out, "checkpoint", NULL);
	g_autofree char *path = g_build_filename(dir, "state.bin", NULL);
	g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
	gint64 h[CK_HEADER_WORDS] = { 0 };
	const GptModel *m = r->model;
	FILE *f;

	if (g_mkdir_with_parents(dir, 0755) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "%s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	h[CK_W_MAGIC] = CK_MAGIC;
	h[CK_W_VERSION] = CK_VERSION;
	h[CK_W_NPARAMS] = (gint64)gpt_train_n_params(tr);
	h[CK_W_BLOCK] = (gint64)m->block_len;
	h[CK_W_STEP] = p->step;
	h[CK_W_EPOCH] = p->epoch;
	h[CK_W_MICRO] = p->micro;
	h[CK_W_ADAM_T] = a->t;
	h[CK_W_FINGERPRINT] = (gint64)fp;
	h[CK_W_SUM_LOSS] = dbits(p->sum_loss);
	h[CK_W_SUM_CORRECT] = dbits(p->sum_correct);
	h[CK_W_SUM_N] = dbits(p->sum_n);
	f = fopen(tmp, "wb");
	if (f == NULL) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "%s: %s", tmp, g_strerror(errno));
		return FALSE;
	}
	gboolean ok = write_all(f, h, sizeof h) &&
		      write_all(f, m->block, m->block_len * sizeof(float)) &&
		      write_all(f, a->m, a->n * sizeof(float)) &&
		      write_all(f, a->v, a->n * sizeof(float)) &&
		      (avg == NULL || write_all(f, avg, a->n * sizeof(float))) &&
		      fflush(f) == 0 && fsync(fileno(f)) == 0;
	int err = errno;
	if (fclose(f) != 0 && ok) {
		ok = FALSE;
		err = errno;
	}
	if (!ok || rename(tmp, path) != 0) {
		if (ok)
			err = errno;
		g_unlink(tmp);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: cannot write checkpoint: %s", path,
			    g_strerror(err));
		return FALSE;
	}
	return TRUE;
}

/* checkpoint_load - restore weights, moments and progress; FALSE with
 * error if the file is damaged or from a different run; *FOUND tells
 * whether there was a file at all */
static gboolean
checkpoint_load(Run *r, GptTrain *tr, Adam *a, float *avg, Progress *p,
		guint64 fp, gboolean *found, GError **error)
{
	g_autofree char *path = g_build_filename(r->o->out, "checkpoint",
						 "state.bin", NULL);
	GptModel *m = r->model;
	gint64 h[CK_HEADER_WORDS];

	*found = g_file_test(path, G_FILE_TEST_EXISTS);
	if (!*found)
		return TRUE;
	g_autoptr(MapFile) mf = mapfile_open(path, error);
	if (mf == NULL)
		return FALSE;
	gsize need = sizeof h + (m->block_len + (avg ? 3 : 2) * a->n) *
		     sizeof(float);
	if (mf->size < sizeof h) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: truncated checkpoint", path);
		return FALSE;
	}
	memcpy(h, mf->data, sizeof h);
	if (h[CK_W_MAGIC] != CK_MAGIC || h[CK_W_VERSION] != CK_VERSION) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: not a gptmilter-train checkpoint (version %d)",
			    path, CK_VERSION);
		return FALSE;
	}
	if (h[CK_W_FINGERPRINT] != (gint64)fp ||
	    h[CK_W_NPARAMS] != (gint64)a->n ||
	    h[CK_W_BLOCK] != (gint64)m->block_len) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: the checkpoint was made with other options, "
			    "model or data; run with the same arguments, or "
			    "remove the checkpoint directory to start over", path);
		return FALSE;
	}
	if (mf->size != need) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: %zu bytes, expected %zu", path, mf->size, need);
		return FALSE;
	}
	const guint8 *d = mf->data + sizeof h;
	memcpy(m->block, d, m->block_len * sizeof(float));
	d += m->block_len * sizeof(float);
	memcpy(a->m, d, a->n * sizeof(float));
	d += a->n * sizeof(float);
	memcpy(a->v, d, a->n * sizeof(float));
	d += a->n * sizeof(float);
	if (avg != NULL)
		memcpy(avg, d, a->n * sizeof(float));
	a->t = h[CK_W_ADAM_T];
	p->step = h[CK_W_STEP];
	p->epoch = h[CK_W_EPOCH];
	p->micro = h[CK_W_MICRO];
	p->sum_loss = bitsd(h[CK_W_SUM_LOSS]);
	p->sum_correct = bitsd(h[CK_W_SUM_CORRECT]);
	p->sum_n = bitsd(h[CK_W_SUM_N]);
	(void)tr;
	return TRUE;
}

static void
fmt_duration(char *buf, gsize len, double s)
{
	if (!isfinite(s) || s < 0)
		g_snprintf(buf, len, "?");
	else if (s >= 3600)
		g_snprintf(buf, len, "%dh%02dm", (int)(s / 3600),
			   (int)fmod(s / 60, 60));
	else
		g_snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* lm_eval_loss - mean next-token loss over a split (pretrain) */
static double
lm_eval_loss(Run *r, GptTrain *tr, const Split *s)
{
	int mb = r->o->batch;
	int32_t *ids = g_new(int32_t, (gsize)mb * (gsize)r->o->max_tokens);
	g_autofree int *lens = g_new(int, mb);
	double sum = 0, w = 0;

	for (gsize i = 0; i < s->n; i += (gsize)mb) {
		int B = 0, N = 0, preds = 0;
		for (gsize k = i; k < s->n && B < mb; k++, B++) {
			CorpusItem *it = s->items[k];
			memcpy(ids + N, it->ids, sizeof *ids * (gsize)it->n_ids);
			lens[B] = it->n_ids;
			N += it->n_ids;
			preds += it->n_ids - 1;
		}
		sum += (double)gpt_train_lm_eval(tr, ids, lens, B) * preds;
		w += preds;
	}
	g_free(ids);
	return w > 0 ? sum / w : NAN;
}

/* save_model - the bundle into OUT (every file atomic, config.json last) */
static gboolean
save_model(Run *r, JsonObject *extra, GError **error)
{
	const char *const *labels = NULL;
	g_autoptr(GPtrArray) lab = g_ptr_array_new();

	if (r->nl > 0) {
		for (int i = 0; i < r->nl; i++)
			g_ptr_array_add(lab, g_ptr_array_index(r->corpus->classes, i));
		g_ptr_array_add(lab, NULL);
		labels = (const char *const *)lab->pdata;
	}
	return bundle_save(r->o->out, r->model, labels, extra, r->o->dtype,
			   r->tokenizer_dir, error);
}

/* train_finish_classifier - see train.h */
gboolean
train_finish_classifier(Run *r, JsonObject *trn, GError **error)
{
	const TrainOptions *o = r->o;
	ReportCalibration cal;
	JsonObject *metrics = json_object_new();
	JsonObject *extra = json_object_new();
	g_autofree float *vl = r->split[CORPUS_VAL].n == 0 ? NULL :
		report_logits(r, &r->split[CORPUS_VAL], NULL);

	report_calibrate(r, &r->split[CORPUS_VAL], vl, &cal);
	double T = cal.temperature, thr = cal.threshold;
	if (!o->quiet)
		printf("\n%s\n", cal.note);
	if (r->split[CORPUS_VAL].n > 0) {
		json_object_set_object_member(metrics, "validation",
			report_evaluate(r, "validation", &r->split[CORPUS_VAL],
					vl, T, thr));
		report_scores(r, "validation", &r->split[CORPUS_VAL], vl, T);
		/* the milter's drift reference (gptmilter_score_psi) */
		json_object_set_object_member(extra, "score_histogram",
			report_score_histogram(r, "validation",
					       &r->split[CORPUS_VAL], vl, T));
	}
	if (r->split[CORPUS_TEST].n > 0) {
		g_autofree float *tl = report_logits(r, &r->split[CORPUS_TEST],
						     NULL);
		json_object_set_object_member(metrics, "test",
			report_evaluate(r, "test", &r->split[CORPUS_TEST], tl, T,
					thr));
		report_scores(r, "test", &r->split[CORPUS_TEST], tl, T);
	}

	g_autofree char *trimmed = g_strdup(o->out);
	gsize tlen = strlen(trimmed);
	while (tlen > 1 && trimmed[tlen - 1] == '/')
		trimmed[--tlen] = '\0';
	g_autofree char *bn = g_path_get_basename(trimmed);
	json_object_set_string_member(extra, "name", o->name ? o->name : bn);
	json_object_set_int_member(extra, "max_tokens", o->max_tokens);
	json_object_set_int_member(extra, "mailtext_version",
				   r->corpus->mailtext_version > 0 ?
				   r->corpus->mailtext_version : MAILTEXT_VERSION);
	json_object_set_string_member(extra, "pooling",
				      o->pooling == GPT_POOL_MEAN ? "mean" : "last");
	JsonObject *cj = json_object_new();
	json_object_set_double_member(cj, "temperature", T);
	json_object_set_string_member(cj, "source", cal.fitted ? "validation" :
				      r->base_calibrated ? "base" : "default");
	json_object_set_int_member(cj, "validation_ham", (gint64)cal.n_ham);
	json_object_set_int_member(cj, "validation_spam", (gint64)cal.n_spam);
	json_object_set_string_member(cj, "note", cal.note);
	json_object_set_object_member(extra, "calibration", cj);
	json_object_set_double_member(extra, "threshold", thr);
	json_object_set_double_member(extra, "target_fpr", o->target_fpr);
	if (cal.fitted && cal.clamped)
		json_object_set_double_member(extra, "target_fpr_used",
					      cal.target_fpr);
	g_free(cal.note);
	json_object_set_object_member(extra, "training", trn);
	/* What the model has seen, so that the milter can tell mail in a
	 * script it has not (scripts.h); a soup has its first member's. */
	if (r->split[CORPUS_TRAIN].n > 0)
		json_object_set_object_member(extra, "scripts", report_scripts(
			r, &r->split[CORPUS_TRAIN]));
	else if (r->base_scripts != NULL)
		json_object_set_member(extra, "scripts",
				       json_node_copy(r->base_scripts));
	json_object_set_object_member(extra, "metrics", json_object_ref(metrics));

	if (!report_scores_close(r, error)) {
		json_object_unref(metrics);
		json_object_unref(extra);
		return FALSE;
	}
	gboolean ok = save_model(r, extra, error);
	if (ok && o->json)
		ok = report_write_json(o->json, metrics, error);
	if (ok && !o->quiet)
		printf("\nwrote %s\n", o->out);
	json_object_unref(metrics);
	json_object_unref(extra);
	return ok;
}

/* One run in progress: the examples balancing chose, the trainer's state,
 * and the counts that drive the loop. */
typedef struct {
	CorpusItem **items;	/* the examples of the run (n), borrowed */
	gsize n;
	float *class_weights;	/* --balance weights: (nl); else NULL */
	GptTrain *tr;
	Adam *adam;
	gsize np;		/* trainable parameters */
	gint64 micro_per_epoch, upd_per_epoch;
	gint64 total;		/* updates of the whole run */
	OptimSchedule sched;
	guint64 fp;		/* fingerprint() of the run */
	gint64 avg_from;	/* --average-last: the mean is of the weights
				 * after each update from avg_from + 1 on */
	float *avg;		/* that running mean (np), or NULL */
	Progress p;
	gint64 step0;		/* updates done before this process */
	double t0;		/* when this process's first update began */
} Training;

static void
training_clear(Training *t)
{
	g_free(t->items);
	g_free(t->class_weights);
	g_clear_pointer(&t->adam, adam_free);
	g_clear_pointer(&t->tr, gpt_train_free);
	g_free(t->avg);
}

/* balance - the examples of the run: the training split, of which
 * --balance undersample keeps a fixed (seeded) subset of each class, as
 * large as the smallest class; --balance weights sets the class weights
 * of the loss instead */
static void
balance(Run *r, Training *t)
{
	const TrainOptions *o = r->o;
	const Split *tsplit = &r->split[CORPUS_TRAIN];
	gsize n = tsplit->n;
	CorpusItem **items = g_memdup2(tsplit->items,
				       sizeof *items * (n ? n : 1));

	t->items = items;
	t->n = n;
	if (o->mode == MODE_PRETRAIN || o->balance == BALANCE_NONE)
		return;
	gsize *cnt = g_new0(gsize, r->nl);
	if (o->balance == BALANCE_UNDERSAMPLE) {
		gsize minc = G_MAXSIZE, kept = 0;
		shuffle(items, n, o->seed, 0xba1a);
		for (gsize i = 0; i < n; i++)
			cnt[items[i]->label]++;
		for (int c = 0; c < r->nl; c++)
			minc = MIN(minc, cnt[c]);
		memset(cnt, 0, sizeof *cnt * (gsize)r->nl);
		for (gsize i = 0; i < n; i++)
			if (cnt[items[i]->label]++ < minc)
				items[kept++] = items[i];
		t->n = kept;
		if (!o->quiet)
			printf("balance: undersampled to %zu examples per class\n",
			       minc);
	} else {
		t->class_weights = g_new0(float, r->nl);
		for (gsize i = 0; i < n; i++)
			cnt[items[i]->label]++;
		for (int c = 0; c < r->nl; c++)
			t->class_weights[c] = cnt[c] ? (float)n /
					      (float)(r->nl * cnt[c]) : 0.0f;
	}
	g_free(cnt);
}

/* start - the trainer, the optimizer and the counts of the run, resumed
 * from OUT/checkpoint with --resume */
static gboolean
start(Run *r, Training *t, GError **error)
{
	const TrainOptions *o = r->o;
	GptTrainOptions to = { o->trainable_blocks, o->batch, o->max_tokens };

	t->tr = gpt_train_new(r->model, &to, error);
	if (t->tr == NULL)
		return FALSE;
	t->np = gpt_train_n_params(t->tr);
	t->adam = adam_new(t->np);
	t->micro_per_epoch = (gint64)((t->n + (gsize)o->batch - 1) /
				      (gsize)o->batch);
	t->upd_per_epoch = (t->micro_per_epoch + o->grad_accum - 1) /
			   o->grad_accum;
	t->total = t->upd_per_epoch * o->epochs;
	if (o->max_steps > 0 && o->max_steps < t->total)
		t->total = o->max_steps;
	t->sched = (OptimSchedule){ o->schedule, (float)o->lr,
				    (float)o->min_lr, o->warmup, t->total };
	t->fp = fingerprint(r, t->n, t->np);
	t->avg_from = MAX(t->total - o->average_last, 0);
	t->avg = o->average_last > 0 ? g_new0(float, t->np) : NULL;

	if (o->resume) {
		gboolean found;
		if (!checkpoint_load(r, t->tr, t->adam, t->avg, &t->p, t->fp,
				     &found, error))
			return FALSE;
		if (!o->quiet)
			printf(found ? "resuming from %s/checkpoint at update %"
			       G_GINT64_FORMAT " (epoch %" G_GINT64_FORMAT ")\n"
			       : "no checkpoint in %s/checkpoint: starting "
			       "from the beginning\n", o->out, t->p.step,
			       t->p.epoch + 1);
	}
	if (!o->quiet) {
		printf("%s: %zu examples, %" G_GINT64_FORMAT " updates "
		       "(%" G_GINT64_FORMAT " per epoch x %d epochs, batch %d x "
		       "%d accumulated), %zu trainable parameters\n",
		       o->mode == MODE_PRETRAIN ? "pretrain" : "finetune", t->n,
		       t->total, t->upd_per_epoch, o->epochs, o->batch,
		       o->grad_accum, t->np);
		fflush(stdout);
	}
	return TRUE;
}

/* update - one optimizer step on the accumulated gradient, then the
 * running mean of --average-last; the gradient norm before clipping and
 * the learning rate, for the progress line */
static void
update(Run *r, Training *t, float *gnorm, float *lr)
{
	const TrainOptions *o = r->o;

	*gnorm = optim_clip_grad_norm(gpt_train_grads(t->tr), t->np,
				      (float)o->clip);
	*lr = optim_lr_at(&t->sched, t->p.step);
	adamw_step(t->adam, gpt_train_params(t->tr), gpt_train_grads(t->tr),
		   *lr, 0.9f, 0.999f, 1e-8f, (float)o->wd);
	gpt_train_zero_grad(t->tr);
	t->p.step++;
	if (t->avg != NULL && t->p.step > t->avg_from) {
		weights_toward(t->avg, gpt_train_params(t->tr), t->np,
			       1.0 / (double)(t->p.step - t->avg_from));
	}
}

/* progress - the line after an update: rewritten in place on a terminal,
 * else a plain line every --log-every updates (or 30 s) */
static void
progress(Run *r, const Training *t, gint64 ex_done, float gnorm, float lr,
	 gboolean tty, double *last_log)
{
	const TrainOptions *o = r->o;
	const Progress *p = &t->p;
	double now = train_now();
	double rate = ex_done / MAX(now - t->t0, 1e-9);
	double eta = (double)(t->total - p->step) * (now - t->t0) /
		     (double)(p->step - t->step0);
	char etas[32];

	if (o->quiet)
		return;
	fmt_duration(etas, sizeof etas, eta);
	if (tty) {
		fprintf(stderr, "\r\033[Kepoch %" G_GINT64_FORMAT "/%d  update %"
			G_GINT64_FORMAT "/%" G_GINT64_FORMAT "  loss %.4f  |g| "
			"%.3g  lr %.3g  %.1f ex/s  ETA %s", p->epoch + 1,
			o->epochs, p->step, t->total, p->sum_loss / p->sum_n,
			gnorm, lr, rate, etas);
	} else if (p->step % o->log_every == 0 || p->step == t->total ||
		   now - *last_log >= 30.0) {
		printf("epoch %" G_GINT64_FORMAT "/%d update %" G_GINT64_FORMAT
		       "/%" G_GINT64_FORMAT " loss %.4f grad_norm %.3g lr %.3g "
		       "%.1f ex/s ETA %s\n", p->epoch + 1, o->epochs, p->step,
		       t->total, p->sum_loss / p->sum_n, gnorm, lr, rate, etas);
		fflush(stdout);
		*last_log = now;
	}
}

/* epoch_report - the end of an epoch (or of the run): the training
 * figures so far and the validation loss (and accuracy) */
static void
epoch_report(Run *r, const Training *t)
{
	const Progress *p = &t->p;

	if (r->o->mode == MODE_PRETRAIN) {
		double vl = lm_eval_loss(r, t->tr, &r->split[CORPUS_VAL]);
		printf("epoch %" G_GINT64_FORMAT ": train loss %.4f  val loss "
		       "%.4f\n", p->epoch + 1, p->sum_loss / MAX(p->sum_n, 1),
		       vl);
	} else {
		double vloss = NAN, vacc = NAN;
		const Split *vs = &r->split[CORPUS_VAL];
		if (vs->n > 0) {
			g_autofree float *vl = report_logits(r, vs, &vloss);
			gsize good = 0;
			for (gsize i = 0; i < vs->n; i++) {
				int best = 0;
				for (int c = 1; c < r->nl; c++)
					if (vl[i * r->nl + c] > vl[i * r->nl + best])
						best = c;
				good += best == vs->items[i]->label;
			}
			vacc = (double)good / (double)vs->n;
		}
		printf("epoch %" G_GINT64_FORMAT ": train loss %.4f acc %.4f  "
		       "val loss %.4f acc %.4f\n", p->epoch + 1,
		       p->sum_loss / MAX(p->sum_n, 1),
		       p->sum_correct / MAX(p->sum_n, 1), vloss, vacc);
	}
	fflush(stdout);
}

/* loop - the epochs, each a seeded permutation of the examples in
 * micro-batches, an update every --grad-accum of them, checkpoints;
 * *STOPPED: --stop-after ended it (TRUE returned) */
static gboolean
loop(Run *r, Training *t, gboolean *stopped, GError **error)
{
	const TrainOptions *o = r->o;
	gboolean lm = o->mode == MODE_PRETRAIN;
	gboolean tty = isatty(fileno(stderr));
	Progress *p = &t->p;
	gsize n = t->n;
	int32_t *ids = g_new(int32_t, (gsize)o->batch * (gsize)o->max_tokens);
	int *lens = g_new(int, o->batch), *labels = g_new(int, o->batch);
	float *logits = g_new(float, (gsize)o->batch * (gsize)MAX(r->nl, 1));
	double last_log;
	gint64 ex_done = 0;
	gboolean ok = TRUE;

	t->t0 = last_log = train_now();
	t->step0 = p->step;
	*stopped = FALSE;
	gpt_train_zero_grad(t->tr);
	for (; p->epoch < o->epochs && p->step < t->total && ok; p->epoch++) {
		g_autofree CorpusItem **order = g_memdup2(t->items,
			sizeof *t->items * (n ? n : 1));
		shuffle(order, n, o->seed, (guint64)p->epoch + 1);
		for (; p->micro < t->micro_per_epoch && p->step < t->total;
		     p->micro++) {
			gsize start = (gsize)p->micro * (gsize)o->batch;
			int B = (int)MIN((gsize)o->batch, n - start), N = 0;
			for (int b = 0; b < B; b++) {
				CorpusItem *it = order[start + (gsize)b];
				gboolean bare = read_bare(o, it, p->epoch);
				const int32_t *v = bare ? it->bare_ids : it->ids;
				int nv = bare ? it->n_bare_ids : it->n_ids;
				memcpy(ids + N, v, sizeof *ids * (gsize)nv);
				lens[b] = nv;
				labels[b] = it->label;
				N += nv;
			}
			float scale = 1.0f / (float)o->grad_accum;
			float loss;
			if (lm) {
				/* the draw from (seed, micro-batch): a
				 * resumed run draws as the uninterrupted
				 * one did */
				if (o->lm_samples > 0)
					gpt_train_lm_sampling(t->tr, o->lm_samples,
						o->seed * 0x100000001b3ULL ^
						((guint64)p->epoch << 40) ^
						(guint64)p->micro);
				loss = gpt_train_lm_step(t->tr, ids, lens, B,
							 scale);
			} else {
				loss = gpt_train_classify_step(t->tr, ids, lens,
					B, labels, t->class_weights, scale,
					logits);
				for (int b = 0; b < B; b++) {
					int best = 0;
					for (int c = 1; c < r->nl; c++)
						if (logits[b * r->nl + c] >
						    logits[b * r->nl + best])
							best = c;
					p->sum_correct += best == labels[b];
				}
			}
			p->sum_loss += (double)loss * B;
			p->sum_n += B;
			ex_done += B;
			if ((p->micro + 1) % o->grad_accum != 0 &&
			    p->micro + 1 != t->micro_per_epoch)
				continue;

			float gnorm, lr;
			update(r, t, &gnorm, &lr);
			progress(r, t, ex_done, gnorm, lr, tty, &last_log);
			if (o->checkpoint_every > 0 &&
			    p->step % o->checkpoint_every == 0 &&
			    p->step < t->total) {
				Progress q = *p;
				q.micro++;	/* the next micro-batch */
				if (!checkpoint_save(r, t->tr, t->adam, t->avg,
						     &q, t->fp, error)) {
					ok = FALSE;
					break;
				}
			}
			if (o->stop_after > 0 &&
			    p->step - t->step0 >= o->stop_after) {
				*stopped = TRUE;
				ok = FALSE;
				break;
			}
		}
		if (!ok)
			break;
		if (tty && !o->quiet)
			fprintf(stderr, "\r\033[K");
		if (!o->quiet)
			epoch_report(r, t);
		p->micro = 0;
		p->sum_loss = p->sum_correct = p->sum_n = 0;
	}
	g_free(ids);
	g_free(lens);
	g_free(labels);
	g_free(logits);
	return ok || *stopped;
}

/* training_record - what the run was, for config.json's
 * gptmilter.training; a base's own record goes along, so a model says how
 * its base was made too */
static JsonObject *
training_record(Run *r, const Training *t, double seconds)
{
	const TrainOptions *o = r->o;
	gboolean lm = o->mode == MODE_PRETRAIN;
	JsonObject *trn = json_object_new();

	json_object_set_string_member(trn, "mode", lm ? "pretrain" : "finetune");
	json_object_set_string_member(trn, "base", r->base_name);
	if (r->base_training)
		json_object_set_member(trn, "base_training",
				       json_node_copy(r->base_training));
	json_object_set_int_member(trn, "examples",
				  (gint64)r->split[CORPUS_TRAIN].n);
	json_object_set_int_member(trn, "updates", t->p.step);
	if (lm)
		json_object_set_int_member(trn, "windows", o->windows);
	if (o->lm_samples > 0)
		json_object_set_int_member(trn, "lm_samples", o->lm_samples);
	if (o->header_dropout > 0)
		json_object_set_double_member(trn, "header_dropout",
					      o->header_dropout);
	json_object_set_double_member(trn, "lr", o->lr);
	json_object_set_double_member(trn, "min_lr", o->min_lr);
	json_object_set_string_member(trn, "schedule",
		o->schedule == OPTIM_SCHED_COSINE ? "cosine" : "constant");
	json_object_set_int_member(trn, "warmup", o->warmup);
	json_object_set_double_member(trn, "weight_decay", o->wd);
	json_object_set_int_member(trn, "batch", o->batch);
	json_object_set_int_member(trn, "epochs", o->epochs);
	json_object_set_int_member(trn, "trainable_blocks", o->trainable_blocks);
	json_object_set_int_member(trn, "average_last", o->average_last);
	json_object_set_int_member(trn, "seed", (gint64)o->seed);
	json_object_set_int_member(trn, "threads", o->threads);
	json_object_set_double_member(trn, "seconds", seconds);
	return trn;
}

/* finish - the weights to keep (the --average-last mean, mixed with the
 * base's by --interpolate), then the language model written, or the
 * classifier calibrated, evaluated and written */
static gboolean
finish(Run *r, Training *t, GError **error)
{
	const TrainOptions *o = r->o;
	double seconds = train_now() - t->t0;

	if (!o->quiet)
		printf("trained %" G_GINT64_FORMAT " updates in %.1f s\n",
		       t->p.step - t->step0, seconds);
	if (t->avg != NULL && t->p.step > t->avg_from) {
		memcpy(gpt_train_params(t->tr), t->avg, t->np * sizeof(float));
		if (!o->quiet)
			printf("weights: the mean after each of the last %"
			       G_GINT64_FORMAT " updates\n",
			       t->p.step - t->avg_from);
	}
	JsonObject *trn = training_record(r, t, seconds);
	if (o->interpolate_given)
		json_object_set_object_member(trn, "interpolate",
					      soup_interpolate(r));
	if (o->mode != MODE_PRETRAIN)
		return train_finish_classifier(r, trn, error);

	JsonObject *extra = json_object_new();
	json_object_set_int_member(extra, "max_tokens", o->max_tokens);
	json_object_set_int_member(extra, "mailtext_version", MAILTEXT_VERSION);
	if (o->name)
		json_object_set_string_member(extra, "name", o->name);
	json_object_set_object_member(extra, "training", trn);
	gboolean ok = save_model(r, extra, error);
	json_object_unref(extra);
	if (ok && !o->quiet)
		printf("wrote %s\n", o->out);
	return ok;
}

/* train_run - the whole fine-tuning or pretraining run: balancing, the
 * loop, and finishing */
gboolean
train_run(Run *r, GError **error)
{
	Training t = { 0 };
	gboolean stopped = FALSE, ok;

	balance(r, &t);
	ok = start(r, &t, error) && loop(r, &t, &stopped, error);
	if (ok && stopped) {
		if (!r->o->quiet)
			printf("stopped after %" G_GINT64_FORMAT " updates "
			       "(--stop-after); continue with --resume\n",
			       t.p.step - t.step0);
	} else if (ok) {
		ok = finish(r, &t, error);
	}
	training_clear(&t);
	return ok;
}
