/*
 * gptmilter-classify - score mail messages with a gptmilter classifier
 *
 * Owns: the command line (see man/gptmilter-classify.1.in): reading messages
 * from files, directories (Maildirs, trees, mboxes in them: the core's
 * corpus reader, as gptmilter-train reads them) or stdin, batching them
 * through one ClassifierWorker, printing a line (or a JSON object, built
 * with json-glib so that any name or error text stays valid JSON) per
 * message, and an exit status that says spam / ham / error as bogofilter's
 * does. Empty input is refused, not scored.
 * Not here: everything that turns bytes into a score (src/core/classifier.c).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "classifier.h"
#include "corpus.h"
#include "memory.h"
#include "scripts.h"

/* Exit statuses, as bogofilter's: spam 0, ham 1, error 3. */
enum { EXIT_SPAM = 0, EXIT_HAM = 1, EXIT_ERROR = 3 };

static char *opt_model;
static gboolean opt_json;
static gboolean opt_dump_text;
static gboolean opt_dump_tokens;
static double opt_threshold = -1;
static int opt_threads;
static int opt_batch = 8;
static int opt_script_min_ham = SCRIPTS_DEF_MIN_HAM;
static gboolean opt_version;
static char *opt_memory;
static char *opt_memory_spool;
static int opt_memory_capacity = MEMORY_CAPACITY_DEFAULT;
static MemoryPolicy opt_mp = { MEMORY_THRESHOLD_DEFAULT,
			       MEMORY_SPAM_SCORE_DEFAULT,
			       MEMORY_HAM_SCORE_DEFAULT };

static GOptionEntry entries[] = {
	{ "model", 'm', 0, G_OPTION_ARG_FILENAME, &opt_model,
	  "Model directory (default: $GPTMILTER_MODEL, else " CLASSIFIER_DEFAULT_MODEL ")", "DIR" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print one JSON object per message", NULL },
	{ "dump-text", 0, 0, G_OPTION_ARG_NONE, &opt_dump_text,
	  "Print the text the model reads of each message, do not classify", NULL },
	{ "dump-tokens", 0, 0, G_OPTION_ARG_NONE, &opt_dump_tokens,
	  "Print the token ids the model reads of each message, do not classify", NULL },
	{ "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &opt_threshold,
	  "Spam probability at or above which a message is spam (default: the "
	  "model's recommended threshold, else "
	  G_STRINGIFY(CLASSIFIER_THRESHOLD_DEFAULT) ")", "P" },
	{ "threads", 'T', 0, G_OPTION_ARG_INT, &opt_threads,
	  "Threads scoring batches side by side (default: all online CPUs)", "N" },
	{ "batch", 'b', 0, G_OPTION_ARG_INT, &opt_batch,
	  "Messages scored per forward pass (default 8)", "N" },
	{ "script-min-ham", 0, 0, G_OPTION_ARG_INT, &opt_script_min_ham,
	  "A message whose dominant script had fewer training ham than N is "
	  "unsure, never spam (default " G_STRINGIFY(SCRIPTS_DEF_MIN_HAM)
	  ", as the milter; 0: off)", "N" },
	{ "memory", 0, 0, G_OPTION_ARG_FILENAME, &opt_memory,
	  "Consult the instant memory in FILE (the milter's memory.file) as "
	  "the milter does", "FILE" },
	{ "memory-spool", 0, 0, G_OPTION_ARG_FILENAME, &opt_memory_spool,
	  "First take the reports of the feedback spool DIR into --memory "
	  "and save it", "DIR" },
	{ "memory-capacity", 0, 0, G_OPTION_ARG_INT, &opt_memory_capacity,
	  "Most reports the memory keeps (default "
	  G_STRINGIFY(MEMORY_CAPACITY_DEFAULT) ")", "N" },
	{ "memory-threshold", 0, 0, G_OPTION_ARG_DOUBLE, &opt_mp.threshold,
	  "Cosine similarity of a match (default "
	  G_STRINGIFY(MEMORY_THRESHOLD_DEFAULT) ")", "X" },
	{ "memory-spam-score", 0, 0, G_OPTION_ARG_DOUBLE, &opt_mp.spam_score,
	  "A match to reported spam raises the score to at least X (default "
	  G_STRINGIFY(MEMORY_SPAM_SCORE_DEFAULT) ")", "X" },
	{ "memory-ham-score", 0, 0, G_OPTION_ARG_DOUBLE, &opt_mp.ham_score,
	  "A match to reported ham lowers the score to at most X (default "
	  G_STRINGIFY(MEMORY_HAM_SCORE_DEFAULT) ")", "X" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version and exit", NULL },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

/* A message read from a file or stdin, waiting for its batch. */
typedef struct {
	char *name;
	char *data;
	gsize len;
	const char *script;	/* dominant script of its text (interned) */
	double z_tok;		/* the token model's log-odds (NaN: none) */
	double z_gpt;		/* the transformer's, when there is one */
} Message;

static gboolean
read_message(const char *path, Message *m, GError **error)
{
	m->name = g_strdup(path);
	if (strcmp(path, "-") != 0)
		return g_file_get_contents(path, &m->data, &m->len, error);

	GByteArray *buf = g_byte_array_new();
	guint8 chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		g_byte_array_append(buf, chunk, n);
	if (ferror(stdin)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO,
			    "stdin: read error");
		g_byte_array_free(buf, TRUE);
		return FALSE;
	}
	m->len = buf->len;
	g_byte_array_append(buf, (const guint8 *) "", 1);
	m->data = (char *) g_byte_array_free(buf, FALSE);
	return TRUE;
}

static void
message_clear(Message *m)
{
	g_free(m->name);
	g_free(m->data);
	memset(m, 0, sizeof *m);
}

/* print_json - one object per line; names and texts are made valid UTF-8
 * first (a file name need not be), so the line is always valid JSON */
static void
print_json(JsonBuilder *jb)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(jb);
	json_generator_set_root(gen, root);
	g_autofree char *s = json_generator_to_data(gen, NULL);
	printf("%s\n", s);
}

static void
add_string_member(JsonBuilder *jb, const char *name, const char *value)
{
	g_autofree char *valid = g_utf8_make_valid(value, -1);
	json_builder_set_member_name(jb, name);
	json_builder_add_string_value(jb, valid);
}

/* print_result - one message's line or JSON object; TRUE when its
 * script made a spam score unsure */
static gboolean
print_result(const Classifier *c, const Message *m, const float *probs,
	     int n_tokens, double threshold, const MemoryMatch *mm)
{
	int NL = classifier_num_labels(c);
	double model_score = classifier_spam_score(c, probs);
	gboolean hit = FALSE;
	/* as the milter: a close match moves the score (memory_adjust) */
	double score = mm ? memory_adjust(&opt_mp, mm, model_score, &hit) :
		       model_score;
	int verdict = classifier_verdict(c, probs, threshold);
	if (hit)
		verdict = score >= threshold ? classifier_spam_index(c) :
			  classifier_ham_index(c);
	const char *label = classifier_label(c, verdict);
	g_autofree char *reason = hit ? g_strdup_printf(" memory=%s:%.3f",
		memory_label_name(mm->label), mm->similarity) : NULL;
	/* As the milter: spam by the score alone, in a script the model
	 * hardly saw ham of, is unsure (scripts.h, policy.script_min_ham). */
	gint64 ham_seen = -1;
	gboolean unseen = verdict != classifier_ham_index(c) && !hit &&
		scripts_unseen(classifier_bundle(c), m->script,
			       opt_script_min_ham, &ham_seen);
	if (unseen)
		label = "unsure";

	if (!opt_json) {
		/* three fields always, the score last: scripts read it so;
		 * a memory match adds " memory=LABEL:SIMILARITY" to the
		 * verdict field */
		printf("%s\t%s%s%s%s\t%.4f\n", m->name, label,
		       unseen ? ":" : "", unseen ? m->script : "",
		       reason ? reason : "", score);
		return unseen;
	}
	g_autoptr(JsonBuilder) jb = json_builder_new();
	json_builder_begin_object(jb);
	add_string_member(jb, "file", m->name);
	add_string_member(jb, "label", label);
	json_builder_set_member_name(jb, "spam_probability");
	json_builder_add_double_value(jb, score);
	json_builder_set_member_name(jb, "threshold");
	json_builder_add_double_value(jb, threshold);
	json_builder_set_member_name(jb, "tokens");
	json_builder_add_int_value(jb, n_tokens);
	json_builder_set_member_name(jb, "script");
	json_builder_add_string_value(jb, m->script);
	if (!isnan(m->z_tok)) {	/* the two opinions the score mixes */
		json_builder_set_member_name(jb, "transformer_logodds");
		json_builder_add_double_value(jb, m->z_gpt);
		json_builder_set_member_name(jb, "token_logodds");
		json_builder_add_double_value(jb, m->z_tok);
	}
	if (unseen) {
		json_builder_set_member_name(jb, "unseen_script");
		json_builder_add_boolean_value(jb, TRUE);
		json_builder_set_member_name(jb, "script_training_ham");
		json_builder_add_int_value(jb, ham_seen);
	}
	if (mm != NULL && mm->index >= 0) {
		json_builder_set_member_name(jb, "model_spam_probability");
		json_builder_add_double_value(jb, model_score);
		json_builder_set_member_name(jb, "memory");
		json_builder_begin_object(jb);
		add_string_member(jb, "label", memory_label_name(mm->label));
		json_builder_set_member_name(jb, "similarity");
		json_builder_add_double_value(jb, mm->similarity);
		json_builder_set_member_name(jb, "match");
		json_builder_add_boolean_value(jb, hit);
		json_builder_end_object(jb);
	}
	json_builder_set_member_name(jb, "probabilities");
	json_builder_begin_object(jb);
	for (int i = 0; i < NL; i++) {
		json_builder_set_member_name(jb, classifier_label(c, i));
		json_builder_add_double_value(jb, probs[i]);
	}
	json_builder_end_object(jb);
	json_builder_end_object(jb);
	print_json(jb);
	return unseen;
}

/* open_memory - the store of --memory for C, after taking in the reports
 * of --memory-spool; NULL (said on stderr) when it cannot be consulted:
 * messages are then scored by the model alone */
static Memory *
open_memory(Classifier *c)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *id = memory_model_id(c);
	Memory *mem = memory_load(opt_memory, id, classifier_dim(c),
				  opt_memory_capacity, &error);

	if (mem == NULL && opt_memory_spool == NULL) {
		fprintf(stderr, "gptmilter-classify: memory: %s: not "
			"consulted\n", error->message);
		return NULL;
	}
	if (mem == NULL) {
		if (!g_error_matches(error, MEMORY_ERROR, MEMORY_ERROR_MISSING))
			fprintf(stderr, "gptmilter-classify: memory: %s: "
				"rebuilt from %s\n", error->message,
				opt_memory_spool);
		mem = memory_new(id, classifier_dim(c), opt_memory_capacity);
	}
	if (opt_memory_spool != NULL) {
		g_autoptr(ClassifierWorker) w = classifier_worker_new(c, 8);
		MemorySyncStats st;
		g_clear_error(&error);
		if (!memory_sync_spool(mem, c, w, opt_memory_spool, &st,
				       &error))
			fprintf(stderr, "gptmilter-classify: memory: %s\n",
				error->message);
		else if (st.evicted > 0)
			fprintf(stderr, "gptmilter-classify: memory: full "
				"(capacity %d): %d oldest evicted\n",
				opt_memory_capacity, st.evicted);
		g_clear_error(&error);
		if (!memory_save(mem, opt_memory, &error))
			fprintf(stderr, "gptmilter-classify: %s\n",
				error->message);
	}
	return mem;
}

/* print_error - NAME was not scored, because of WHY */
static void
print_error(const char *name, const char *why)
{
	if (opt_json) {
		g_autoptr(JsonBuilder) jb = json_builder_new();
		json_builder_begin_object(jb);
		add_string_member(jb, "file", name);
		add_string_member(jb, "error", why);
		json_builder_end_object(jb);
		print_json(jb);
	}
	fprintf(stderr, "gptmilter-classify: %s\n", why);
}

/* The messages to score, in the order named: a FILE argument is one
 * message; a directory is read whole by the corpus reader (Maildir cur/
 * and new/, trees of message files, mboxes split), duplicates kept, and
 * its messages queued. */
typedef struct {
	const char *const *files;
	int n_files, next;
	GQueue pending;		/* Message *, from a directory */
	gboolean any_error;
} Inputs;

/* read_dir - queue every message under the directory PATH; files the
 * reader skips (empty, not mail, unreadable) are errors, named */
static void
read_dir(Inputs *in, const char *path)
{
	g_autoptr(Corpus) c = corpus_new();
	g_autoptr(GError) error = NULL;

	c->keep_duplicates = TRUE;
	gboolean ok = corpus_add(c, path, -1, CORPUS_AUTO, NULL, &error);
	for (guint i = 0; i < c->warnings->len; i++)
		print_error(path, g_ptr_array_index(c->warnings, i));
	if (c->n_warnings > c->warnings->len) {
		g_autofree char *more = g_strdup_printf("%s: %zu more files "
			"skipped", path, c->n_warnings - c->warnings->len);
		print_error(path, more);
	}
	if (c->n_warnings > 0 || !ok)
		in->any_error = TRUE;
	if (!ok)
		print_error(path, error->message);
	for (gsize i = 0; i < corpus_n_items(c); i++) {
		CorpusItem *it = corpus_item(c, i);
		if (it->is_text) {	/* a .tsv holds extracted text */
			g_autofree char *why = g_strdup_printf("%s: a line of "
				"text, not a message: not scored", it->path);
			print_error(it->path, why);
			in->any_error = TRUE;
			continue;
		}
		Message *m = g_new0(Message, 1);
		m->name = g_strdup(it->path);
		m->data = g_steal_pointer(&it->data);
		m->len = it->len;
		g_queue_push_tail(&in->pending, m);
	}
}

/* blank - nothing but white space: no header, no body, nothing to score */
static gboolean
blank(const char *p, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isspace(p[i]))
			return FALSE;
	return TRUE;
}

/* inputs_next - the next message into M; FALSE when there is none left.
 * What cannot be scored is reported and makes the exit status 3. */
static gboolean
inputs_next(Inputs *in, Message *m)
{
	for (;;) {
		Message *q = g_queue_pop_head(&in->pending);
		if (q) {
			*m = *q;
			g_free(q);
			return TRUE;
		}
		if (in->next >= in->n_files)
			return FALSE;
		const char *path = in->files[in->next++];
		g_autoptr(GError) error = NULL;
		if (strcmp(path, "-") != 0 &&
		    g_file_test(path, G_FILE_TEST_IS_DIR)) {
			read_dir(in, path);
			continue;
		}
		if (!read_message(path, m, &error)) {
			print_error(path, error->message);
		} else if (blank(m->data, m->len)) {
			g_autofree char *why = g_strdup_printf("%s: empty "
				"input (%zu bytes, no header, no body): not "
				"scored", strcmp(path, "-") ? path :
				"standard input", m->len);
			print_error(path, why);
		} else {
			return TRUE;
		}
		message_clear(m);
		in->any_error = TRUE;
	}
}

/*
 * A round: up to ROUND_BATCHES x threads batches of messages, scored side
 * by side by the threads, each batch by one thread with its own
 * ClassifierWorker from mail to probabilities (text, script, tokens,
 * forward), BLAS on one thread; then printed in order by the main thread.
 * The whole pass runs on every core this way, not only the matrix
 * products, and no BLAS thread sits on top of a scoring thread. A round
 * of a single batch (a few messages) runs in the main thread with BLAS on
 * all threads instead, for its latency. Several batches per thread and
 * round, claimed one at a time, keep the threads busy to the end of a
 * round when messages differ in cost.
 */
#define ROUND_BATCHES 4

typedef struct {
	const Classifier *c;
	int threads, batch, NL;
	ClassifierWorker **workers;	/* [threads] */
	int32_t **ids;		/* [threads] (batch * max_tokens) */
	GThreadPool *pool;	/* threads - 1 helpers, or NULL */
	Message *msgs;		/* [per_round] */
	int *lens;		/* [per_round] tokens */
	float *probs;		/* (per_round, NL) */
	float *pooled;		/* (per_round, C): what the memory looks up */
	int C;
	int n;			/* messages in this round */
	gint next;		/* the next batch to claim (atomic) */
	GMutex lock;
	GCond cond;
	int helpers_busy;	/* guarded by lock */
} Round;

/* round_batch - text, script, tokens and probabilities of batch K */
static void
round_batch(Round *r, int slot, int k)
{
	const int first = k * r->batch, B = MIN(r->batch, r->n - first);
	int32_t *ids = r->ids[slot];
	double *z_tok = g_new(double, B);	/* NaN without a token model */
	gsize off = 0;

	for (int b = 0; b < B; b++) {
		Message *m = &r->msgs[first + b];
		gsize tl = 0;
		g_autofree char *text = classifier_text(r->c, m->data, m->len,
							&tl);
		m->script = scripts_dominant(text, tl);
		m->z_tok = z_tok[b] = classifier_token_logodds(r->c, text, tl);
		r->lens[first + b] = classifier_tokenize_text(r->c, text, tl,
							      ids + off);
		off += r->lens[first + b];
	}
	classifier_score_ids_tokens(r->c, r->workers[slot], ids,
				    r->lens + first, B, z_tok,
				    r->probs + (gsize) first * r->NL,
				    r->pooled + (gsize) first * r->C);
	for (int b = 0; b < B; b++)
		r->msgs[first + b].z_gpt = classifier_worker_gpt_logodds(
			r->workers[slot], b);
	g_free(z_tok);
}

/* round_claim - score batches with SLOT's worker until none is left */
static void
round_claim(Round *r, int slot)
{
	const int batches = (r->n + r->batch - 1) / r->batch;
	int k;

	while ((k = g_atomic_int_add(&r->next, 1)) < batches)
		round_batch(r, slot, k);
}

static void
round_helper(gpointer data, gpointer user_data)
{
	Round *r = user_data;

	round_claim(r, GPOINTER_TO_INT(data));
	g_mutex_lock(&r->lock);
	if (--r->helpers_busy == 0)
		g_cond_signal(&r->cond);
	g_mutex_unlock(&r->lock);
}

static void round_free(Round *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Round, round_free)

static Round *
round_new(Classifier *c, int threads, int batch, int per_round)
{
	Round *r = g_new0(Round, 1);
	const int max_tokens = classifier_max_tokens(c);

	r->c = c;
	r->threads = threads;
	r->batch = batch;
	r->NL = classifier_num_labels(c);
	r->workers = g_new0(ClassifierWorker *, threads);
	r->ids = g_new0(int32_t *, threads);
	for (int i = 0; i < threads; i++) {
		r->workers[i] = classifier_worker_new(c, batch);
		r->ids[i] = g_new(int32_t, (gsize) batch * max_tokens);
	}
	if (threads > 1)
		r->pool = g_thread_pool_new(round_helper, r, threads - 1,
					    TRUE, NULL);
	r->msgs = g_new0(Message, per_round);
	r->lens = g_new0(int, per_round);
	r->probs = g_new0(float, (gsize) per_round * r->NL);
	r->C = classifier_dim(c);
	r->pooled = g_new0(float, (gsize) per_round * r->C);
	g_mutex_init(&r->lock);
	g_cond_init(&r->cond);
	return r;
}

static void
round_free(Round *r)
{
	if (r->pool != NULL)
		g_thread_pool_free(r->pool, FALSE, TRUE);
	for (int i = 0; i < r->threads; i++) {
		classifier_worker_free(r->workers[i]);
		g_free(r->ids[i]);
	}
	g_free(r->workers);
	g_free(r->ids);
	g_free(r->msgs);
	g_free(r->lens);
	g_free(r->probs);
	g_free(r->pooled);
	g_mutex_clear(&r->lock);
	g_cond_clear(&r->cond);
	g_free(r);
}

/* round_run - score the round's R->n messages */
static void
round_run(Round *r)
{
	r->next = 0;
	if (r->pool == NULL || r->n <= r->batch) {
		gpt_set_threads(r->threads);
		round_claim(r, 0);
		return;
	}
	gpt_set_threads(1);
	g_mutex_lock(&r->lock);
	r->helpers_busy = r->threads - 1;
	g_mutex_unlock(&r->lock);
	for (int i = 1; i < r->threads; i++)
		g_thread_pool_push(r->pool, GINT_TO_POINTER(i), NULL);
	round_claim(r, 0);
	g_mutex_lock(&r->lock);
	while (r->helpers_busy > 0)
		g_cond_wait(&r->cond, &r->lock);
	g_mutex_unlock(&r->lock);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) oc = g_option_context_new("[FILE...]");
	g_option_context_set_summary(oc,
		"Classify mail messages (FILE, or standard input when there is none\n"
		"or FILE is -) with a gptmilter model. Exit status: 0 when a message\n"
		"is spam, 1 when all are ham, 3 on any error (--dump-*: 0).");
	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &error)) {
		fprintf(stderr, "gptmilter-classify: %s\n", error->message);
		return EXIT_ERROR;
	}
	if (opt_version) {
		printf("gptmilter-classify %s\n", PACKAGE_VERSION);
		return EXIT_HAM;
	}
	if (opt_script_min_ham < 0) {
		fprintf(stderr, "gptmilter-classify: --script-min-ham must not "
			"be negative\n");
		return EXIT_ERROR;
	}
	if (opt_batch < 1 || opt_batch > 256) {
		fprintf(stderr, "gptmilter-classify: --batch must be 1..256\n");
		return EXIT_ERROR;
	}
	if (opt_model == NULL)
		opt_model = g_strdup(g_getenv("GPTMILTER_MODEL") ?
				     g_getenv("GPTMILTER_MODEL") : CLASSIFIER_DEFAULT_MODEL);
	if (opt_threads <= 0)
		opt_threads = (int) sysconf(_SC_NPROCESSORS_ONLN);
	opt_threads = CLAMP(opt_threads, 1, 256);

	g_autoptr(Classifier) c = classifier_load(opt_model, &error);
	if (c == NULL) {
		fprintf(stderr, "gptmilter-classify: %s\n", error->message);
		return EXIT_ERROR;
	}
	if (opt_memory_spool != NULL && opt_memory == NULL) {
		fprintf(stderr, "gptmilter-classify: --memory-spool needs "
			"--memory FILE\n");
		return EXIT_ERROR;
	}
	if (opt_memory_capacity < 1 ||
	    opt_memory_capacity > MEMORY_CAPACITY_MAX) {
		fprintf(stderr, "gptmilter-classify: --memory-capacity must "
			"be 1..%d\n", MEMORY_CAPACITY_MAX);
		return EXIT_ERROR;
	}
	g_autoptr(Memory) mem = opt_memory ? open_memory(c) : NULL;
	g_autofree float *vec = NULL;
	double threshold = opt_threshold;
	if (threshold < 0)
		threshold = classifier_threshold(c);

	const char *stdin_only[] = { "-", NULL };
	const char *const *files = argc > 1 ? (const char *const *) argv + 1 : stdin_only;
	int n_files = argc > 1 ? argc - 1 : 1;
	int max_tokens = classifier_max_tokens(c);
	const int per_round = ROUND_BATCHES * opt_threads * opt_batch;
	g_autoptr(Round) r = round_new(c, opt_threads, opt_batch, per_round);
	g_autofree int32_t *ids = g_new(int32_t, max_tokens);
	gboolean any_spam = FALSE, more = TRUE;
	Inputs in = { files, n_files, 0, G_QUEUE_INIT, FALSE };

	while (more) {
		r->n = 0;
		/* Fill a round with readable messages; report unreadable ones;
		 * the --dump options print each message as it comes. */
		while (r->n < per_round) {
			Message *m = &r->msgs[r->n];
			if (!(more = inputs_next(&in, m)))
				break;
			if (opt_dump_text) {
				gsize tl = 0;
				g_autofree char *text = classifier_text(c, m->data, m->len, &tl);
				if (n_files > 1 || in.pending.length > 0 ||
				    g_file_test(files[0], G_FILE_TEST_IS_DIR))
					printf("==> %s <==\n", m->name);
				fwrite(text, 1, tl, stdout);
				printf("\n");
				message_clear(m);
				continue;
			}
			if (opt_dump_tokens) {
				int n = classifier_tokenize(c, m->data, m->len,
							    ids);
				printf("%s\t", m->name);
				for (int i = 0; i < n; i++)
					printf(i ? " %d" : "%d", ids[i]);
				printf("\n");
				message_clear(m);
				continue;
			}
			r->n++;
		}
		if (r->n == 0)
			continue;
		round_run(r);
		for (int i = 0; i < r->n; i++) {
			const float *p = r->probs + (gsize) i * r->NL;
			MemoryMatch mm;
			gboolean matched = FALSE;
			if (mem != NULL) {
				if (vec == NULL)
					vec = g_new(float, r->C);
				memory_project(c, r->pooled + (gsize) i * r->C,
					       vec);
				matched = memory_lookup(mem, vec, &mm);
			}
			gboolean unsure = print_result(c, &r->msgs[i], p,
						       r->lens[i], threshold,
						       matched ? &mm : NULL);
			double s = matched ? memory_adjust(&opt_mp, &mm,
				classifier_spam_score(c, p), NULL) :
				classifier_spam_score(c, p);
			if (s >= threshold && !unsure)
				any_spam = TRUE;
			message_clear(&r->msgs[i]);
		}
	}
	fflush(stdout);
	g_free(opt_model);
	g_free(opt_memory);
	g_free(opt_memory_spool);
	if (in.any_error)
		return EXIT_ERROR;
	if (opt_dump_text || opt_dump_tokens)
		return EXIT_SUCCESS;
	return any_spam ? EXIT_SPAM : EXIT_HAM;
}
