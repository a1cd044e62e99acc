/*
 * corpus.c - labelled mail from Maildirs, mbox files, directory trees and
 * TSV files; duplicates, source groups, the split, tokenization
 *
 * Owns: everything between "a path on the command line" and "token ids with
 * a label and a split". Reading is deterministic (directory entries sorted)
 * so two runs over the same files see the same messages in the same order.
 * Not here: text extraction (mailtext.c) and truncation (tokens.c), which
 * are called, not copied, so training sees what the milter sees.
 * Checked by: tests/test_corpus.c on tests/data/train/.
 * Threads: one Corpus per thread; corpus_tokenize spawns its own workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "corpus.h"
#include "mailtext.h"
#include "scripts.h"
#include "tokens.h"
#include "gptm_error.h"

#define CORPUS_MAX_DEPTH 32

static void
item_free(gpointer p)
{
	CorpusItem *it = p;

	g_free(it->path);
	g_free(it->source);
	g_free(it->data);
	g_free(it->ids);
	g_free(it->bare_ids);
	tokenstats_features_clear(&it->tok);
	g_free(it);
}

/* corpus_new - an empty corpus with no classes */
Corpus *
corpus_new(void)
{
	Corpus *c = g_new0(Corpus, 1);

	c->classes = g_ptr_array_new_with_free_func(g_free);
	c->items = g_ptr_array_new_with_free_func(item_free);
	c->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	c->warnings = g_ptr_array_new_with_free_func(g_free);
	return c;
}

/* corpus_free - release C; NULL is a no-op */
void
corpus_free(Corpus *c)
{
	if (c == NULL)
		return;
	g_ptr_array_unref(c->classes);
	g_ptr_array_unref(c->items);
	g_hash_table_unref(c->seen);
	g_ptr_array_unref(c->warnings);
	g_free(c);
}

G_GNUC_PRINTF(2, 3) static void
corpus_warn(Corpus *c, const char *fmt, ...)
{
	va_list ap;

	c->n_warnings++;
	if (c->warnings->len >= CORPUS_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	g_ptr_array_add(c->warnings, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

/* corpus_class_find - id of NAME or -1 */
int
corpus_class_find(const Corpus *c, const char *name)
{
	for (guint i = 0; i < c->classes->len; i++)
		if (strcmp(g_ptr_array_index(c->classes, i), name) == 0)
			return (int)i;
	return -1;
}

/* corpus_class - id of NAME, added if new */
int
corpus_class(Corpus *c, const char *name)
{
	int id = corpus_class_find(c, name);

	if (id >= 0)
		return id;
	g_ptr_array_add(c->classes, g_strdup(name));
	return (int)c->classes->len - 1;
}

/* corpus_add_message - append one message unless its bytes were seen */
gboolean
corpus_add_message(Corpus *c, const char *data, gsize len, gboolean is_text,
		   const char *path, const char *source, int label, int split)
{
	char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
						(const guchar *)data, len);

	if (!c->keep_duplicates && g_hash_table_contains(c->seen, hex)) {
		g_free(hex);
		c->n_duplicates++;
		return FALSE;
	}
	CorpusItem *it = g_new0(CorpusItem, 1);
	g_strlcpy(it->digest, hex, sizeof it->digest);
	it->path = g_strdup(path);
	it->source = g_strdup(source);
	it->label = label;
	it->split = split;
	it->data = g_memdup2(data, len + 1);
	it->data[len] = '\0';
	it->len = len;
	it->is_text = is_text;
	g_ptr_array_add(c->items, it);
	g_hash_table_insert(c->seen, hex,
			    GINT_TO_POINTER((int)c->items->len));
	return TRUE;
}

/* looks_like_mail - the first non-empty line is a header field "Name: ..." */
static gboolean
looks_like_mail(const char *p, gsize len)
{
	gsize i = 0;

	while (i < len && (p[i] == '\n' || p[i] == '\r'))
		i++;
	gsize start = i;
	while (i < len && p[i] > ' ' && p[i] < 127 && p[i] != ':')
		i++;
	return i > start && i < len && p[i] == ':';
}

/* mboxrd_unquote - drop one '>' from every line ">...>From " */
static GString *
mboxrd_unquote(const char *p, gsize len)
{
	GString *s = g_string_sized_new(len + 1);
	gsize i = 0;

	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		gsize end = nl ? (gsize)(nl - p) + 1 : len;
		gsize j = i;
		while (j < end && p[j] == '>')
			j++;
		if (j > i && end - j >= 5 && memcmp(p + j, "From ", 5) == 0)
			i++;	/* one level of quoting removed */
		g_string_append_len(s, p + i, (gssize)(end - i));
		i = end;
	}
	return s;
}

/* add_bytes - one message file (or an mbox of several) */
static gsize
add_bytes(Corpus *c, const char *data, gsize len, const char *path,
	  const char *source, int label, int split)
{
	gsize added = 0;

	if (len == 0) {
		c->n_bad++;
		corpus_warn(c, "%s: empty file, skipped", path);
		return 0;
	}
	if (len < 5 || memcmp(data, "From ", 5) != 0) {
		if (!looks_like_mail(data, len)) {
			c->n_bad++;
			corpus_warn(c, "%s: not a mail message (no header), "
				    "skipped", path);
			return 0;
		}
		return corpus_add_message(c, data, len, FALSE, path, source,
					  label, split) ? 1 : 0;
	}
	/* An mbox: messages start at "From " at the start of a line; the
	 * From_ line itself is the envelope, not part of the message (the
	 * milter never sees it), so it is dropped. */
	GArray *starts = g_array_new(FALSE, FALSE, sizeof(gsize));
	gsize zero = 0;
	g_array_append_val(starts, zero);
	for (const char *q = data; (q = memmem(q, len - (gsize)(q - data),
					       "\nFrom ", 6)) != NULL; q++) {
		gsize off = (gsize)(q - data) + 1;
		g_array_append_val(starts, off);
	}
	guint n = starts->len;
	for (guint k = 0; k < n; k++) {
		gsize s = g_array_index(starts, gsize, k);
		gsize e = k + 1 < n ? g_array_index(starts, gsize, k + 1) : len;
		const char *nl = memchr(data + s, '\n', e - s);
		gsize body = nl ? (gsize)(nl - data) + 1 : e;
		/* The blank line mbox puts before the next From_ line. */
		if (k + 1 < n && e - body >= 2 && data[e - 1] == '\n' &&
		    data[e - 2] == '\n')
			e--;
		char *mpath = n > 1 ? g_strdup_printf("%s:%u", path, k + 1)
				    : g_strdup(path);
		g_autoptr(GString) msg = mboxrd_unquote(data + body, e - body);
		if (!looks_like_mail(msg->str, msg->len)) {
			c->n_bad++;
			corpus_warn(c, "%s: not a mail message, skipped", mpath);
		} else if (corpus_add_message(c, msg->str, msg->len, FALSE,
					      mpath, source, label, split)) {
			added++;
		}
		g_free(mpath);
	}
	g_array_free(starts, TRUE);
	return added;
}

/* tsv_unescape - \n \t \r \\ escapes of a TSV text field */
static GString *
tsv_unescape(const char *p, gsize len)
{
	GString *s = g_string_sized_new(len + 1);

	for (gsize i = 0; i < len; i++) {
		if (p[i] == '\\' && i + 1 < len) {
			char e = p[i + 1];
			char r = e == 'n' ? '\n' : e == 't' ? '\t' :
				 e == 'r' ? '\r' : e == '\\' ? '\\' : 0;
			if (r) {
				g_string_append_c(s, r);
				i++;
				continue;
			}
		}
		g_string_append_c(s, p[i]);
	}
	return s;
}

/* add_tsv - LABEL<TAB>TEXT lines; label from the file unless LABEL >= 0 */
static gsize
add_tsv(Corpus *c, const char *data, gsize len, const char *path,
	const char *source, int label, int split)
{
	gsize added = 0, lineno = 0, i = 0;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		gsize end = nl ? (gsize)(nl - data) : len;
		const char *line = data + i;
		gsize ll = end - i;
		lineno++;
		i = end + 1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0 || line[0] == '#')
			continue;
		const char *tab = memchr(line, '\t', ll);
		if (tab == NULL || tab == line) {
			c->n_bad++;
			corpus_warn(c, "%s:%" G_GSIZE_FORMAT ": no LABEL<TAB>TEXT,"
				    " skipped", path, lineno);
			continue;
		}
		int lab = label;
		if (lab < 0) {
			char *name = g_strndup(line, (gsize)(tab - line));
			lab = corpus_class(c, name);
			g_free(name);
		}
		g_autoptr(GString) text = tsv_unescape(tab + 1,
						       ll - (gsize)(tab - line) - 1);
		char *lpath = g_strdup_printf("%s:%" G_GSIZE_FORMAT, path, lineno);
		if (corpus_add_message(c, text->str, text->len, TRUE, lpath,
				       source, lab, split))
			added++;
		g_free(lpath);
	}
	return added;
}

/* read_file - whole file, or NULL with a warning; size-capped */
static char *
read_file(Corpus *c, const char *path, gsize *len)
{
	struct stat st;
	GError *err = NULL;
	char *data = NULL;

	if (stat(path, &st) == 0 && (guint64)st.st_size > CORPUS_MAX_MESSAGE_BYTES) {
		c->n_bad++;
		corpus_warn(c, "%s: %lld bytes, larger than %u, skipped", path,
			    (long long)st.st_size, CORPUS_MAX_MESSAGE_BYTES);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, len, &err)) {
		c->n_bad++;
		corpus_warn(c, "%s", err->message);
		g_error_free(err);
		return NULL;
	}
	return data;
}

static gboolean
is_maildir(const char *dir)
{
	g_autofree char *cur = g_build_filename(dir, "cur", NULL);
	g_autofree char *new = g_build_filename(dir, "new", NULL);

	return g_file_test(cur, G_FILE_TEST_IS_DIR) ||
	       g_file_test(new, G_FILE_TEST_IS_DIR);
}

static int
str_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted_entries - the names in DIR not starting with '.', sorted */
static GPtrArray *
sorted_entries(Corpus *c, const char *dir)
{
	GError *err = NULL;
	GDir *d = g_dir_open(dir, 0, &err);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	if (d == NULL) {
		c->n_bad++;
		corpus_warn(c, "%s", err->message);
		g_error_free(err);
		return names;
	}
	while ((name = g_dir_read_name(d)) != NULL)
		if (name[0] != '.')
			g_ptr_array_add(names, g_strdup(name));
	g_dir_close(d);
	g_ptr_array_sort(names, str_cmp);
	return names;
}

typedef struct {
	Corpus *c;
	const char *root;	/* the PATH given */
	char *root_base;	/* its basename, the default source */
	int label, split;
} Walk;

/* source_of - first directory level of PATH below the root, else default */
static char *
source_of(const Walk *w, const char *path, gboolean root_is_maildir)
{
	gsize rl = strlen(w->root);

	while (rl > 1 && w->root[rl - 1] == '/')
		rl--;
	if (!root_is_maildir && strncmp(path, w->root, rl) == 0 &&
	    path[rl] == '/') {
		const char *rel = path + rl + 1;
		const char *slash = strchr(rel, '/');
		if (slash != NULL)
			return g_strndup(rel, (gsize)(slash - rel));
	}
	return g_strdup(w->root_base);
}

static gsize
add_one_file(Walk *w, const char *path, gboolean root_is_maildir)
{
	gsize len = 0, n;
	char *data = read_file(w->c, path, &len);
	g_autofree char *source = NULL;

	if (data == NULL)
		return 0;
	source = source_of(w, path, root_is_maildir);
	if (g_str_has_suffix(path, ".tsv"))
		n = add_tsv(w->c, data, len, path, source, w->label, w->split);
	else
		n = add_bytes(w->c, data, len, path, source, w->label, w->split);
	g_free(data);
	return n;
}

static gsize
walk_dir(Walk *w, const char *dir, int depth, gboolean root_is_maildir)
{
	gsize added = 0;

	if (depth > CORPUS_MAX_DEPTH) {
		w->c->n_bad++;
		corpus_warn(w->c, "%s: nested too deep, skipped", dir);
		return 0;
	}
	if (is_maildir(dir)) {
		/* A Maildir: cur/ and new/ hold messages, tmp/ does not. */
		static const char *const subs[] = { "cur", "new" };
		for (int k = 0; k < 2; k++) {
			g_autofree char *sub = g_build_filename(dir, subs[k], NULL);
			if (!g_file_test(sub, G_FILE_TEST_IS_DIR))
				continue;
			g_autoptr(GPtrArray) names = sorted_entries(w->c, sub);
			for (guint i = 0; i < names->len; i++) {
				g_autofree char *p = g_build_filename(sub,
					g_ptr_array_index(names, i), NULL);
				if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
					added += add_one_file(w, p,
							      root_is_maildir && depth == 0);
			}
		}
		return added;
	}
	g_autoptr(GPtrArray) names = sorted_entries(w->c, dir);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *p = g_build_filename(dir,
					g_ptr_array_index(names, i), NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			added += walk_dir(w, p, depth + 1, FALSE);
		else if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
			added += add_one_file(w, p, FALSE);
	}
	return added;
}

/* corpus_add - every message under PATH */
gboolean
corpus_add(Corpus *c, const char *path, int label, int split,
	   gsize *n_added, GError **error)
{
	Walk w = { c, path, NULL, label, split };
	gsize added = 0, dups = c->n_duplicates;

	if (n_added)
		*n_added = 0;
	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_INPUT,
			    "%s: no such file or directory", path);
		return FALSE;
	}
	if (g_access(path, R_OK) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "%s: cannot read: %s", path, g_strerror(errno));
		return FALSE;
	}
	g_autofree char *trimmed = g_strdup(path);
	gsize tl = strlen(trimmed);
	while (tl > 1 && trimmed[tl - 1] == '/')
		trimmed[--tl] = '\0';
	w.root_base = g_path_get_basename(trimmed);
	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		added = walk_dir(&w, path, 0, is_maildir(path));
	} else {
		gsize len = 0;
		char *data = read_file(c, path, &len);
		if (data == NULL) {
			g_set_error(error, GPTM_ERROR, GPTM_ERROR_INPUT,
				    "%s: cannot read",  path);
			g_free(w.root_base);
			return FALSE;
		}
		if (g_str_has_suffix(path, ".tsv"))
			added = add_tsv(c, data, len, path, w.root_base, label,
					split);
		else
			added = add_bytes(c, data, len, path, w.root_base,
					  label, split);
		g_free(data);
	}
	g_free(w.root_base);
	if (n_added)
		*n_added = added;
	if (added == 0) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_INPUT,
			    "%s: no messages found%s", path,
			    c->n_duplicates > dups ? " (only duplicates)" : "");
		return FALSE;
	}
	return TRUE;
}

/* corpus_split_of - hash of (seed, digest) into [0, 100) */
int
corpus_split_of(const char *digest, int train_pct, int val_pct, guint64 seed)
{
	g_autofree char *key = g_strdup_printf("%" G_GUINT64_FORMAT ":%s",
					       seed, digest);
	g_autofree char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
							   key, -1);
	char head[9];

	memcpy(head, h, 8);
	head[8] = '\0';
	guint64 v = g_ascii_strtoull(head, NULL, 16) % 100;
	if ((int)v < train_pct)
		return CORPUS_TRAIN;
	if ((int)v < train_pct + val_pct)
		return CORPUS_VAL;
	return CORPUS_TEST;
}

/* corpus_assign_split - split the CORPUS_AUTO items by content hash */
void
corpus_assign_split(Corpus *c, int train_pct, int val_pct, guint64 seed)
{
	for (guint i = 0; i < c->items->len; i++) {
		CorpusItem *it = g_ptr_array_index(c->items, i);
		if (it->split == CORPUS_AUTO)
			it->split = corpus_split_of(it->digest, train_pct,
						    val_pct, seed);
	}
}

/* corpus_parse_split - "TRAIN/VAL/TEST" percentages summing to 100 */
gboolean
corpus_parse_split(const char *spec, int *train_pct, int *val_pct,
		   GError **error)
{
	int a, b, t;
	char extra;

	if (sscanf(spec, "%d/%d/%d%c", &a, &b, &t, &extra) != 3 || a < 0 ||
	    b < 0 || t < 0 || a + b + t != 100 || a == 0) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_CONFIG,
			    "--split %s: expected TRAIN/VAL/TEST percentages "
			    "summing to 100, e.g. 70/10/20", spec);
		return FALSE;
	}
	*train_pct = a;
	*val_pct = b;
	return TRUE;
}

typedef struct {
	Corpus *c;
	const Bpe *bpe;
	int max_tokens;
	int32_t eot;
	gint next;
} TokJob;

/* text_ids - the ids of TEXT, none without a tokenizer */
static int
text_ids(TokJob *j, const char *text, gsize len, int32_t *ids)
{
	return j->bpe ? tokens_from_text(j->bpe, text, len, j->max_tokens,
					 j->eot, ids) : 0;
}

/* mail_ids - the ids of message IT's text, extracted with MO; *TEXT_LEN,
 * *SCRIPT (scripts_dominant) and *TOK (the token model's tokens, when the
 * corpus asks for them), when not NULL, get that text's length, dominant
 * script and tokens */
static int32_t *
mail_ids(TokJob *j, const CorpusItem *it, const MailtextOptions *mo,
	 int *n_ids, gsize *text_len, const char **script, TokenFeatures *tok)
{
	int32_t *ids = g_new(int32_t, j->max_tokens);
	gsize tl = 0;
	char *text = mailtext_extract(it->data, it->len, mo, &tl);

	*n_ids = text_ids(j, text, tl, ids);
	if (text_len != NULL)
		*text_len = tl;
	if (script != NULL)
		*script = scripts_dominant(text, tl);
	if (tok != NULL && j->c->token_opts != NULL)
		tokenstats_features(j->c->token_opts, text, tl, tok);
	g_free(text);
	return g_renew(int32_t, ids, MAX(*n_ids, 1));
}

static void
tokenize_item(TokJob *j, CorpusItem *it)
{
	if (it->is_text) {
		int32_t *ids = g_new(int32_t, j->max_tokens);
		it->n_ids = text_ids(j, it->data, it->len, ids);
		it->text_len = it->len;
		it->ids = g_renew(int32_t, ids, MAX(it->n_ids, 1));
		it->script = scripts_dominant(it->data, it->len);
		if (j->c->token_opts != NULL)
			tokenstats_features(j->c->token_opts, it->data,
					    it->len, &it->tok);
	} else {
		MailtextOptions mo = { .version = j->c->mailtext_version };
		it->ids = mail_ids(j, it, &mo, &it->n_ids, &it->text_len,
				   &it->script, &it->tok);
		if (j->c->bare_views && it->split == CORPUS_TRAIN) {
			mo.bare_headers = TRUE;
			it->bare_ids = mail_ids(j, it, &mo, &it->n_bare_ids,
						NULL, NULL, NULL);
		}
	}
	g_clear_pointer(&it->data, g_free);
}

static gpointer
tokenize_worker(gpointer p)
{
	TokJob *j = p;
	gint n = (gint)j->c->items->len;

	for (;;) {
		gint i = g_atomic_int_add(&j->next, 1);
		if (i >= n)
			break;
		CorpusItem *it = g_ptr_array_index(j->c->items, i);
		if (it->ids == NULL)
			tokenize_item(j, it);
	}
	return NULL;
}

/* corpus_tokenize - mailtext + tokens for every item not yet tokenized */
void
corpus_tokenize(Corpus *c, const Bpe *bpe, int max_tokens, int32_t eot_id,
		int n_threads)
{
	TokJob j = { c, bpe, max_tokens, eot_id, 0 };

	g_assert(max_tokens >= 1);
	if (n_threads <= 1) {
		tokenize_worker(&j);
		return;
	}
	GThread **t = g_new(GThread *, n_threads);
	for (int k = 0; k < n_threads; k++)
		t[k] = g_thread_new("tokenize", tokenize_worker, &j);
	for (int k = 0; k < n_threads; k++)
		g_thread_join(t[k]);
	g_free(t);
}

/* corpus_count - items in SPLIT (-1 any) of LABEL (-2 any) */
gsize
corpus_count(const Corpus *c, int split, int label)
{
	gsize n = 0;

	for (guint i = 0; i < c->items->len; i++) {
		const CorpusItem *it = g_ptr_array_index(c->items, i);
		if ((split == -1 || it->split == split) &&
		    (label == -2 || it->label == label))
			n++;
	}
	return n;
}

CorpusItem *
corpus_item(const Corpus *c, gsize i)
{
	return g_ptr_array_index(c->items, i);
}

gsize
corpus_n_items(const Corpus *c)
{
	return c->items->len;
}
