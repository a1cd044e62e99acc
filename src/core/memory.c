/*
 * memory.c - instant memory: a bounded store of reported messages' pooled
 * hidden states, its file, cosine lookup and the spool intake
 *
 * Owns: see memory.h. Why the vector the head reads: it is what the model
 * made of the message, so a campaign's next variant (a new URL, a new
 * name, the same pitch) lands next to the variant a user reported, while
 * hashes of the bytes would miss it; and it costs nothing to get, the
 * forward pass computes it anyway. Vectors are kept at unit length, so
 * the cosine of a message against every entry is one matrix-vector
 * product (layers.c's head_forward, the one BLAS caller).
 * Why a whole-file rewrite per save: the store is small (capacity x
 * (C + 12) floats: 2 MB at 4,096 entries of C = 128) and saves follow
 * reports, which come minutes apart; a rewrite through a temp file and a
 * rename is the simplest thing that a crash cannot corrupt.
 * Not here: when to scan and where the file lives (the milter's
 * src/milter/intake.c, gptmilter-classify --memory).
 * Checked by: tests/test_memory.c (file, lookup, eviction, corrupt,
 * foreign, atomic save), tests/test_memory_milter.sh (spool -> milter).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "layers.h"
#include "mapfile.h"
#include "memory.h"

G_DEFINE_QUARK(gptmilter-memory-error-quark, memory_error)

#define MEMORY_MAGIC "GPTMMEM1"
#define MODEL_ID_LEN 64		/* hex SHA-256 */
/* Header offsets (MEMORY_HEADER_SIZE bytes, integers little-endian). */
#define H_VERSION 8
#define H_DIM 12
#define H_COUNT 16
#define H_CAPACITY 20
#define H_MODEL 24		/* MODEL_ID_LEN bytes, not terminated */
#define H_DIGEST 88		/* 32 bytes: SHA-256, zero while computed */

struct Memory {
	gint refs;
	GRWLock lock;		/* guards everything below but the constants */
	char model[MODEL_ID_LEN + 1];
	int dim;		/* C */
	int capacity;
	int count;
	guint8 *hashes;		/* (capacity, 32) SHA-256 of each message */
	gint64 *times;		/* (capacity) */
	guint8 *labels;		/* (capacity) MemoryLabel */
	float *vecs;		/* (capacity, C), each of unit length */
	GHashTable *by_hash;	/* hash (in hashes) -> index + 1 */
	GHashTable *seen;	/* spool paths read (memory_sync_spool) */
};

static guint
hash32_hash(gconstpointer p)
{
	guint h;
	memcpy(&h, p, sizeof(h));	/* a SHA-256 is uniform already */
	return h;
}

static gboolean
hash32_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, 32) == 0;
}

/* memory_model_id - SHA-256 of every weight tensor and what else shapes
 * the pooled vector */
char *
memory_model_id(const Classifier *c)
{
	const GptModel *m = classifier_model(c);
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	gboolean bias = m->score_b != NULL;
	g_autoptr(GArray) t = gpt_tensors((GptModel *) m, bias);
	g_autofree char *extra = g_strdup_printf(
		"L=%d C=%d NH=%d ctx=%d V=%d NL=%d pool=%d text=%d max=%d",
		m->cfg.n_layer, m->cfg.n_embd, m->cfg.n_head, m->cfg.n_ctx,
		m->cfg.vocab_size, m->cfg.num_labels, (int) m->cfg.pooling,
		classifier_mailtext_version(c), classifier_max_tokens(c));

	g_checksum_update(ck, (const guchar *) extra, strlen(extra));
	for (guint i = 0; i < t->len; i++) {
		const GptTensor *x = &g_array_index(t, GptTensor, i);
		g_checksum_update(ck, (const guchar *) *x->field,
				  (gssize) (gpt_tensor_numel(x) *
					    sizeof(float)));
	}
	return g_strdup(g_checksum_get_string(ck));
}

/* remove_span - V (C doubles) less its components along the NB orthonormal
 * rows of BASIS */
static void
remove_span(double *v, const double *basis, int nb, int C)
{
	for (int j = 0; j < nb; j++) {
		const double *u = basis + (gsize) j * C;
		double d = 0.0;
		for (int k = 0; k < C; k++)
			d += v[k] * u[k];
		for (int k = 0; k < C; k++)
			v[k] -= d * u[k];
	}
}

/* memory_project - OUT = P (POOLED - ln_f_b), P the projection on the
 * complement of the span of score_w's rows (Gram-Schmidt, in double:
 * NL is 2 or a few, C a few hundred) */
void
memory_project(const Classifier *c, const float *pooled, float *out)
{
	const GptModel *m = classifier_model(c);
	const int C = m->cfg.n_embd, NL = m->cfg.num_labels;
	g_autofree double *x = g_new(double, C);
	g_autofree double *basis = g_new0(double, (gsize) NL * C);
	int nb = 0;

	for (int k = 0; k < C; k++)
		x[k] = (double) pooled[k] - (m->ln_f_b ? m->ln_f_b[k] : 0.0f);
	for (int r = 0; r < NL; r++) {
		double *b = basis + (gsize) nb * C, norm = 0.0;
		for (int k = 0; k < C; k++)
			b[k] = m->score_w[(gsize) r * C + k];
		remove_span(b, basis, nb, C);
		for (int k = 0; k < C; k++)
			norm += b[k] * b[k];
		if (norm < 1e-20)
			continue;	/* a row the others span already */
		for (int k = 0; k < C; k++)
			b[k] /= sqrt(norm);
		nb++;
	}
	remove_span(x, basis, nb, C);
	for (int k = 0; k < C; k++)
		out[k] = (float) x[k];
}

/* memory_new - an empty store */
Memory *
memory_new(const char *model_id, int dim, int capacity)
{
	g_return_val_if_fail(dim >= 1 && capacity >= 1 &&
			     capacity <= MEMORY_CAPACITY_MAX, NULL);
	Memory *m = g_new0(Memory, 1);
	m->refs = 1;
	g_rw_lock_init(&m->lock);
	g_strlcpy(m->model, model_id, sizeof(m->model));
	m->dim = dim;
	m->capacity = capacity;
	m->hashes = g_new0(guint8, (gsize) capacity * 32);
	m->times = g_new0(gint64, capacity);
	m->labels = g_new0(guint8, capacity);
	m->vecs = g_new0(float, (gsize) capacity * dim);
	m->by_hash = g_hash_table_new(hash32_hash, hash32_equal);
	m->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return m;
}

Memory *
memory_ref(Memory *m)
{
	g_atomic_int_inc(&m->refs);
	return m;
}

void
memory_unref(Memory *m)
{
	if (m == NULL || !g_atomic_int_dec_and_test(&m->refs))
		return;
	g_hash_table_unref(m->by_hash);
	g_hash_table_unref(m->seen);
	g_free(m->hashes);
	g_free(m->times);
	g_free(m->labels);
	g_free(m->vecs);
	g_rw_lock_clear(&m->lock);
	g_free(m);
}

int memory_capacity(const Memory *m) { return m->capacity; }
int memory_dim(const Memory *m) { return m->dim; }
const char *memory_model(const Memory *m) { return m->model; }

int
memory_count(Memory *m)
{
	g_rw_lock_reader_lock(&m->lock);
	int n = m->count;
	g_rw_lock_reader_unlock(&m->lock);
	return n;
}

int
memory_count_label(Memory *m, MemoryLabel label)
{
	int n = 0;

	g_rw_lock_reader_lock(&m->lock);
	for (int i = 0; i < m->count; i++)
		n += m->labels[i] == label;
	g_rw_lock_reader_unlock(&m->lock);
	return n;
}

const char *
memory_label_name(MemoryLabel label)
{
	return label == MEMORY_SPAM ? "spam" : "ham";
}

/* put - entry I := the report (lock held); by_hash is the caller's */
static void
put(Memory *m, int i, const guint8 *hash, MemoryLabel label, gint64 time,
    const float *vec)
{
	float *dst = m->vecs + (gsize) i * m->dim;
	double norm = 0.0;

	for (int k = 0; k < m->dim; k++)
		norm += (double) vec[k] * vec[k];
	/* an all-zero vector stays zero: it matches nothing */
	float inv = norm > 0.0 ? (float) (1.0 / sqrt(norm)) : 0.0f;
	for (int k = 0; k < m->dim; k++)
		dst[k] = vec[k] * inv;
	memcpy(m->hashes + (gsize) i * 32, hash, 32);
	m->times[i] = time;
	m->labels[i] = (guint8) label;
}

/* memory_add - insert, replace the same message, or evict the oldest */
void
memory_add(Memory *m, const guint8 *hash, MemoryLabel label, gint64 time,
	   const float *vec, MemorySyncStats *st)
{
	MemorySyncStats dummy;

	if (st == NULL)
		st = &dummy;
	g_rw_lock_writer_lock(&m->lock);
	gpointer v = g_hash_table_lookup(m->by_hash, hash);
	if (v != NULL) {
		int i = GPOINTER_TO_INT(v) - 1;
		if (time >= m->times[i]) {
			put(m, i, hash, label, time, vec);
			st->replaced++;
		} else {
			st->skipped++;	/* an older report of it */
		}
		g_rw_lock_writer_unlock(&m->lock);
		return;
	}
	int i = m->count;
	if (m->count == m->capacity) {
		/* full: the oldest report goes (a linear scan: adds are rare
		 * next to lookups, and the store is small) */
		i = 0;
		for (int k = 1; k < m->count; k++)
			if (m->times[k] < m->times[i])
				i = k;
		g_hash_table_remove(m->by_hash, m->hashes + (gsize) i * 32);
		st->evicted++;
	} else {
		m->count++;
	}
	put(m, i, hash, label, time, vec);
	g_hash_table_insert(m->by_hash, m->hashes + (gsize) i * 32,
			    GINT_TO_POINTER(i + 1));
	st->added++;
	g_rw_lock_writer_unlock(&m->lock);
}

gboolean
memory_has(Memory *m, const guint8 *hash, gint64 time)
{
	g_rw_lock_reader_lock(&m->lock);
	gpointer v = g_hash_table_lookup(m->by_hash, hash);
	gboolean has = v != NULL && m->times[GPOINTER_TO_INT(v) - 1] >= time;
	g_rw_lock_reader_unlock(&m->lock);
	return has;
}

/* memory_lookup - sims (count) = vecs (count, C) @ q (C), the largest */
gboolean
memory_lookup(Memory *m, const float *vec, MemoryMatch *out)
{
	const int C = m->dim;
	g_autofree float *q = g_new(float, C);
	double norm = 0.0;

	out->index = -1;
	out->similarity = -1.0f;
	out->label = MEMORY_HAM;
	out->time = 0;
	for (int k = 0; k < C; k++)
		norm += (double) vec[k] * vec[k];
	if (norm <= 0.0)
		return FALSE;
	for (int k = 0; k < C; k++)
		q[k] = (float) (vec[k] / sqrt(norm));

	g_rw_lock_reader_lock(&m->lock);
	int n = m->count;
	if (n > 0) {
		g_autofree float *sims = g_new(float, n);
		/* sims (1, n) = q (1, C) @ vecs^T (C, n) */
		head_forward(sims, q, m->vecs, NULL, 1, C, n);
		int best = 0;
		for (int i = 1; i < n; i++)
			if (sims[i] > sims[best])
				best = i;
		out->index = best;
		out->similarity = sims[best];
		out->label = (MemoryLabel) m->labels[best];
		out->time = m->times[best];
	}
	g_rw_lock_reader_unlock(&m->lock);
	return n > 0;
}

/* memory_adjust - a close spam match raises, a close ham match lowers */
double
memory_adjust(const MemoryPolicy *p, const MemoryMatch *m, double score,
	      gboolean *hit)
{
	gboolean close = m->index >= 0 && m->similarity >= p->threshold;

	if (hit != NULL)
		*hit = close;
	if (!close)
		return score;
	return m->label == MEMORY_SPAM ? MAX(score, p->spam_score) :
	       MIN(score, p->ham_score);
}

static void
put_u32(guint8 *p, guint32 v)
{
	v = GUINT32_TO_LE(v);
	memcpy(p, &v, 4);
}

static guint32
get_u32(const guint8 *p)
{
	guint32 v;
	memcpy(&v, p, 4);
	return GUINT32_FROM_LE(v);
}

/* digest - SHA-256 of the file's bytes with the digest field zeroed */
static void
digest(const guint8 *file, gsize len, guint8 out[32])
{
	static const guint8 zero[32];
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	gsize n = 32;

	g_checksum_update(ck, file, H_DIGEST);
	g_checksum_update(ck, zero, 32);
	g_checksum_update(ck, file + H_DIGEST + 32,
			  (gssize) (len - H_DIGEST - 32));
	g_checksum_get_digest(ck, out, &n);
}

static gsize
entry_size(int dim)
{
	return MEMORY_ENTRY_FIXED + (gsize) dim * sizeof(float);
}

/* memory_save - serialize under the read lock, write atomically */
gboolean
memory_save(Memory *m, const char *path, GError **error)
{
	g_rw_lock_reader_lock(&m->lock);
	const gsize es = entry_size(m->dim);
	const gsize len = MEMORY_HEADER_SIZE + (gsize) m->count * es;
	g_autofree guint8 *buf = g_malloc0(len);

	memcpy(buf, MEMORY_MAGIC, 8);
	put_u32(buf + H_VERSION, MEMORY_VERSION);
	put_u32(buf + H_DIM, (guint32) m->dim);
	put_u32(buf + H_COUNT, (guint32) m->count);
	put_u32(buf + H_CAPACITY, (guint32) m->capacity);
	memcpy(buf + H_MODEL, m->model, strlen(m->model));
	for (int i = 0; i < m->count; i++) {
		guint8 *e = buf + MEMORY_HEADER_SIZE + (gsize) i * es;
		guint64 t = GUINT64_TO_LE((guint64) m->times[i]);
		memcpy(e, m->hashes + (gsize) i * 32, 32);
		memcpy(e + 32, &t, 8);
		put_u32(e + 40, m->labels[i]);
		/* floats: IEEE 754, stored little-endian like the rest */
		for (int k = 0; k < m->dim; k++) {
			guint32 f;
			memcpy(&f, m->vecs + (gsize) i * m->dim + k, 4);
			put_u32(e + MEMORY_ENTRY_FIXED + 4 * (gsize) k, f);
		}
	}
	g_rw_lock_reader_unlock(&m->lock);
	digest(buf, len, buf + H_DIGEST);
	if (!mapfile_write_atomic(path, buf, len, error)) {
		g_prefix_error(error, "memory: ");
		return FALSE;
	}
	return TRUE;
}

/* by_time - order entry indices by report time (DATA: the times) */
static int
by_time(const void *a, const void *b, void *data)
{
	const gint64 *t = data;
	gint64 x = t[*(const guint32 *) a], y = t[*(const guint32 *) b];
	return (x > y) - (x < y);
}

/* corrupt - the one error of a file that is not a store of ours */
static Memory *
corrupt(GError **error, const char *path, const char *why)
{
	g_set_error(error, MEMORY_ERROR, MEMORY_ERROR_CORRUPT,
		    "%s: not a valid memory file: %s", path, why);
	return NULL;
}

/* memory_load - check everything before trusting anything */
Memory *
memory_load(const char *path, const char *model_id, int dim, int capacity,
	    GError **error)
{
	g_autoptr(GError) e = NULL;
	g_autoptr(MapFile) mf = mapfile_open(path, &e);

	if (mf == NULL) {
		gboolean missing = g_error_matches(e, G_FILE_ERROR,
						   G_FILE_ERROR_NOENT);
		g_set_error(error, MEMORY_ERROR, missing ?
			    MEMORY_ERROR_MISSING : MEMORY_ERROR_IO, "%s",
			    e->message);
		return NULL;
	}
	const guint8 *p = mf->data;
	if (mf->size < MEMORY_HEADER_SIZE)
		return corrupt(error, path, "shorter than its header");
	if (memcmp(p, MEMORY_MAGIC, 8) != 0)
		return corrupt(error, path, "bad magic");
	if (get_u32(p + H_VERSION) != MEMORY_VERSION) {
		g_set_error(error, MEMORY_ERROR, MEMORY_ERROR_CORRUPT,
			    "%s: memory file version %u, this program reads "
			    "version %d", path, get_u32(p + H_VERSION),
			    MEMORY_VERSION);
		return NULL;
	}
	guint32 fdim = get_u32(p + H_DIM), count = get_u32(p + H_COUNT);
	if (fdim < 1 || fdim > 65536 || count > MEMORY_CAPACITY_MAX)
		return corrupt(error, path, "dimension or count out of range");
	const gsize es = entry_size((int) fdim);
	if (mf->size != MEMORY_HEADER_SIZE + (gsize) count * es)
		return corrupt(error, path, "size does not match its count "
			       "(cut short?)");
	guint8 want[32];
	digest(p, mf->size, want);
	if (memcmp(want, p + H_DIGEST, 32) != 0)
		return corrupt(error, path, "checksum mismatch");

	char fmodel[MODEL_ID_LEN + 1];
	memcpy(fmodel, p + H_MODEL, MODEL_ID_LEN);
	fmodel[MODEL_ID_LEN] = '\0';
	if (strcmp(fmodel, model_id) != 0 || (int) fdim != dim) {
		g_set_error(error, MEMORY_ERROR, MEMORY_ERROR_FOREIGN,
			    "%s: vectors of another model (%.12s, %u floats; "
			    "this one is %.12s, %d floats)", path, fmodel,
			    fdim, model_id, dim);
		return NULL;
	}

	Memory *m = memory_new(model_id, dim, capacity);
	/* More entries than the capacity (it was lowered): the newest stay,
	 * so add oldest first and let the evictions run. */
	g_autofree guint32 *order = g_new(guint32, count);
	g_autofree gint64 *t = g_new(gint64, count);
	g_autofree float *vec = g_new(float, dim);
	for (guint32 i = 0; i < count; i++) {
		guint64 v;
		memcpy(&v, p + MEMORY_HEADER_SIZE + i * es + 32, 8);
		t[i] = (gint64) GUINT64_FROM_LE(v);
		order[i] = i;
	}
	qsort_r(order, count, sizeof(guint32), by_time, t);
	for (guint32 k = 0; k < count; k++) {
		const guint8 *ent = p + MEMORY_HEADER_SIZE + order[k] * es;
		guint32 label = get_u32(ent + 40);
		for (int j = 0; j < dim; j++) {
			guint32 f = get_u32(ent + MEMORY_ENTRY_FIXED +
					    4 * (gsize) j);
			memcpy(vec + j, &f, 4);
		}
		memory_add(m, ent, label == MEMORY_SPAM ? MEMORY_SPAM :
			   MEMORY_HAM, t[order[k]], vec, NULL);
	}
	return m;
}

/* A report found in the spool, before it is read. */
typedef struct {
	char *path;
	MemoryLabel label;
	gint64 time;
	char *name;		/* for the order of equal times */
} Report;

static void
report_free(gpointer p)
{
	Report *r = p;
	g_free(r->path);
	g_free(r->name);
	g_free(r);
}

static gint
report_cmp(gconstpointer a, gconstpointer b)
{
	const Report *x = *(Report *const *) a, *y = *(Report *const *) b;
	if (x->time != y->time)
		return (x->time > y->time) - (x->time < y->time);
	return strcmp(x->name, y->name);
}

/* report_time - the leading digits of a Maildir name (seconds), else the
 * file's mtime, else 0 */
static gint64
report_time(const char *path, const char *name)
{
	if (g_ascii_isdigit(name[0])) {
		gint64 t = g_ascii_strtoll(name, NULL, 10);
		if (t > 0)
			return t;
	}
	GStatBuf st;
	return g_stat(path, &st) == 0 ? (gint64) st.st_mtime : 0;
}

/* list_spool - the reports under SPOOL not seen yet, into OUT */
static gboolean
list_spool(Memory *m, const char *spool, GPtrArray *out, GError **error)
{
	static const char *const cls[] = { "ham", "spam" };
	static const char *const sub[] = { "new", "cur" };

	if (!g_file_test(spool, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, MEMORY_ERROR, MEMORY_ERROR_IO,
			    "%s: spool not found (no report filed yet?)", spool);
		return FALSE;
	}
	for (int c = 0; c < 2; c++)
		for (int s = 0; s < 2; s++) {
			g_autofree char *dir = g_build_filename(spool, cls[c],
								sub[s], NULL);
			g_autoptr(GError) e = NULL;
			GDir *d = g_dir_open(dir, 0, &e);
			if (d == NULL) {
				if (g_error_matches(e, G_FILE_ERROR,
						    G_FILE_ERROR_NOENT))
					continue;	/* no report of it yet */
				g_set_error(error, MEMORY_ERROR,
					    MEMORY_ERROR_IO, "%s", e->message);
				return FALSE;
			}
			const char *name;
			while ((name = g_dir_read_name(d)) != NULL) {
				if (name[0] == '.')
					continue;
				char *path = g_build_filename(dir, name, NULL);
				if (g_hash_table_contains(m->seen, path)) {
					g_free(path);
					continue;
				}
				Report *r = g_new0(Report, 1);
				r->path = path;
				r->name = g_strdup(name);
				r->label = c == 1 ? MEMORY_SPAM : MEMORY_HAM;
				r->time = report_time(path, name);
				g_ptr_array_add(out, r);
			}
			g_dir_close(d);
		}
	return TRUE;
}

/* remember - score the N read reports R (data, lens) and add them */
static void
remember(Memory *m, const Classifier *c, ClassifierWorker *w, Report **r,
	 char **data, gsize *lens, guint8 (*hash)[32], int n,
	 MemorySyncStats *st)
{
	int NL = classifier_num_labels(c), C = classifier_dim(c);
	g_autofree float *probs = g_new(float, (gsize) n * NL);
	g_autofree float *pooled = g_new(float, (gsize) n * C);

	classifier_score_pooled(c, w, (const char *const *) data, lens, n,
				probs, pooled);
	for (int i = 0; i < n; i++) {
		float *v = pooled + (gsize) i * C;
		memory_project(c, v, v);
		memory_add(m, hash[i], r[i]->label, r[i]->time, v, st);
	}
}

/* memory_sync_spool - oldest first, so the newest report of a message
 * wins and a full store evicts the oldest */
gboolean
memory_sync_spool(Memory *m, const Classifier *c, ClassifierWorker *w,
		  const char *spool, MemorySyncStats *st, GError **error)
{
	g_autoptr(GPtrArray) reports = g_ptr_array_new_with_free_func(report_free);
	const int B = classifier_worker_max_batch(w);
	Report *batch[64];
	char *data[64];
	gsize lens[64];
	guint8 hash[64][32];
	int n = 0;

	g_return_val_if_fail(classifier_dim(c) == m->dim, FALSE);
	memset(st, 0, sizeof(*st));
	if (!list_spool(m, spool, reports, error))
		return FALSE;
	g_ptr_array_sort(reports, report_cmp);
	/* only the newest `capacity` can stay: do not read the rest */
	guint first = reports->len > (guint) m->capacity ?
		      reports->len - (guint) m->capacity : 0;
	for (guint i = 0; i < reports->len; i++) {
		Report *r = g_ptr_array_index(reports, i);
		g_autoptr(GError) e = NULL;
		char *bytes = NULL;
		gsize len = 0;

		g_hash_table_add(m->seen, g_strdup(r->path));
		if (i < first) {
			st->skipped++;
			continue;
		}
		if (!g_file_get_contents(r->path, &bytes, &len, &e) ||
		    len == 0) {
			/* a report that vanished (retrain may prune) or is
			 * unreadable: said once, not retried */
			g_warning("memory: %s: %s: not remembered", r->path,
				  e ? e->message : "empty file");
			st->failed++;
			g_free(bytes);
			continue;
		}
		g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
		gsize hl = 32;
		g_checksum_update(ck, (const guchar *) bytes, (gssize) len);
		g_checksum_get_digest(ck, hash[n], &hl);
		if (memory_has(m, hash[n], r->time)) {
			st->skipped++;	/* remembered before a restart */
			g_free(bytes);
			continue;
		}
		batch[n] = r;
		data[n] = bytes;
		lens[n] = len;
		if (++n == MIN(B, 64)) {
			remember(m, c, w, batch, data, lens, hash, n, st);
			for (int k = 0; k < n; k++)
				g_free(data[k]);
			n = 0;
		}
	}
	if (n > 0)
		remember(m, c, w, batch, data, lens, hash, n, st);
	for (int k = 0; k < n; k++)
		g_free(data[k]);
	return TRUE;
}
