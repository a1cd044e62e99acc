/*
 * test_mailtext_corpus.c - mailtext_extract() over the whole standard corpus
 *
 * Owns: the properties every real message must keep: the output is valid
 * UTF-8, within the cap, in the fixed layout ("Subject:" line, "From:"
 * line), normalised (no control characters but \n, no space at a line's
 * start or end, no two blank lines in a row), the same on a second run,
 * and it has a body for nearly every message (a body-less output is
 * allowed only for the few messages that really have no text). Then two
 * threads extract every fourth message at once and must agree with the
 * single-threaded outputs (GMime and libxml2 are shared, initialised
 * inside mailtext_extract itself).
 * Reads $CORPUS_DIR/<split>/<label>/<group>/<md5>.eml (make check exports
 * it); fails when the corpus is missing or short.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "mailtext.h"

/* check_layout - NULL when TEXT (LEN bytes) keeps the rules, else why */
static const char *
check_layout(const char *text, gsize len, gsize cap)
{
	const char *p, *type, *end = text + len;

	if (len == 0 || len > cap)
		return "length";
	if (strlen(text) != len)
		return "NUL inside";
	if (!g_utf8_validate(text, len, NULL))
		return "invalid UTF-8";
	if (strncmp(text, "Subject:", 8) != 0)
		return "no Subject line";
	p = strchr(text, '\n');
	if (p == NULL || strncmp(p + 1, "From:", 5) != 0)
		return "no From line";
	/* version 5 (the default): after From always a To line (empty
	 * when the message has none) and the media type the body is read
	 * as, then the end of the header lines; the X-Mailer and
	 * User-Agent lines of versions 2-3 are gone, so that no model
	 * leans on which of them a message has */
	p = strchr(p + 1, '\n');
	if (p == NULL || strncmp(p + 1, "To:", 3) != 0)
		return "no To line";
	p = strchr(p + 1, '\n');
	if (p == NULL || strncmp(p + 1, "Content-Type: ", 14) != 0)
		return "no Content-Type line";
	type = p + 15;
	p = strchr(type, '\n');
	/* one word, TYPE/SUBTYPE: no parameters */
	if (p == NULL || memchr(type, '/', p - type) == NULL ||
	    memchr(type, ' ', p - type) != NULL || type[0] == '/')
		return "not a media type";
	if (p + 1 < end && p[1] != '\n')
		return "a header line after Content-Type";
	if (strstr(text, "\n\n\n") != NULL)
		return "two blank lines";
	if (strstr(text, " \n") != NULL || strstr(text, "\n ") != NULL)
		return "space at a line end or start";
	for (p = text; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\n') || c == 0x7F)
			return "control character";
	}
	return NULL;
}

/* has_body - whether TEXT has anything after the header lines */
static gboolean
has_body(const char *text)
{
	const char *p = strstr(text, "\n\n");

	return p != NULL && p[2] != '\0';
}

typedef struct {
	GPtrArray *files;
	guint *hashes;		/* g_str_hash of the single-thread outputs */
	guint start;		/* this thread's first message */
	gsize mismatches;
} Worker;

/* worker - every 4th message from START again; count differences */
static gpointer
worker(gpointer data)
{
	Worker *w = data;
	guint i;

	for (i = w->start; i < w->files->len; i += 4) {
		g_autofree char *msg = NULL, *text = NULL;
		gsize len;

		if (!g_file_get_contents(w->files->pdata[i], &msg, &len, NULL))
			continue;
		text = mailtext_extract(msg, len, NULL, NULL);
		if (g_str_hash(text) != w->hashes[i])
			w->mismatches++;
	}
	return NULL;
}

int
main(void)
{
	const char *dir = g_getenv("CORPUS_DIR");
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	const char *splits[] = { "train", "val", "test" };
	gsize i, bodyless = 0, failures = 0, bytes_in = 0, bytes_out = 0;
	guint *hashes;

	if (dir == NULL) {
		fprintf(stderr, "test_mailtext_corpus: CORPUS_DIR not set\n");
		return 1;
	}
	/* <split>/<label>/<group>/<md5>.eml, walked level by level */
	for (i = 0; i < G_N_ELEMENTS(splits); i++) {
		g_autofree char *sdir = g_build_filename(dir, splits[i], NULL);
		GDir *d1 = g_dir_open(sdir, 0, NULL);
		const char *label;

		while (d1 && (label = g_dir_read_name(d1)) != NULL) {
			g_autofree char *ldir = g_build_filename(sdir, label, NULL);
			GDir *d2 = g_dir_open(ldir, 0, NULL);
			const char *group;

			while (d2 && (group = g_dir_read_name(d2)) != NULL) {
				g_autofree char *gdir =
					g_build_filename(ldir, group, NULL);
				GDir *d3 = g_dir_open(gdir, 0, NULL);
				const char *name;

				while (d3 && (name = g_dir_read_name(d3))) {
					if (g_str_has_suffix(name, ".eml"))
						g_ptr_array_add(files,
							g_build_filename(gdir,
							name, NULL));
				}
				if (d3)
					g_dir_close(d3);
			}
			if (d2)
				g_dir_close(d2);
		}
		if (d1)
			g_dir_close(d1);
	}
	if (files->len < 6000) {
		fprintf(stderr, "test_mailtext_corpus: only %u messages in %s\n",
			files->len, dir);
		return 1;
	}
	hashes = g_new0(guint, files->len);
	for (i = 0; i < files->len; i++) {
		const char *path = files->pdata[i];
		g_autofree char *data = NULL, *text = NULL;
		gsize len, out_len = 0;
		const char *why;

		if (!g_file_get_contents(path, &data, &len, NULL)) {
			fprintf(stderr, "FAIL: %s: unreadable\n", path);
			failures++;
			continue;
		}
		text = mailtext_extract(data, len, NULL, &out_len);
		bytes_in += len;
		bytes_out += out_len;
		why = check_layout(text, out_len, MAILTEXT_DEFAULT_MAX_BYTES);
		if (why == NULL && i % 16 == 0) {
			g_autofree char *again =
				mailtext_extract(data, len, NULL, NULL);

			if (strcmp(again, text) != 0)
				why = "second run differs";
		}
		if (why != NULL) {
			fprintf(stderr, "FAIL: %s: %s\n", path, why);
			failures++;
		}
		if (!has_body(text))
			bodyless++;
		hashes[i] = g_str_hash(text);
	}
	{
		Worker w[2] = {
			{ files, hashes, 0, 0 }, { files, hashes, 2, 0 },
		};
		GThread *t0 = g_thread_new("mt0", worker, &w[0]);
		GThread *t1 = g_thread_new("mt1", worker, &w[1]);

		g_thread_join(t0);
		g_thread_join(t1);
		if (w[0].mismatches + w[1].mismatches > 0) {
			fprintf(stderr, "FAIL: %" G_GSIZE_FORMAT " outputs differ "
				"when two threads extract at once\n",
				w[0].mismatches + w[1].mismatches);
			failures++;
		}
	}
	printf("%u messages, %" G_GSIZE_FORMAT " bytes in, %" G_GSIZE_FORMAT
	       " bytes out, %" G_GSIZE_FORMAT " without body text, %"
	       G_GSIZE_FORMAT " failures\n", files->len, bytes_in, bytes_out,
	       bodyless, failures);
	/* a handful of corpus messages are attachments or empty bodies */
	if (bodyless * 200 > files->len) {
		fprintf(stderr, "FAIL: too many outputs without a body\n");
		failures++;
	}
	g_ptr_array_unref(files);
	g_free(hashes);
	return failures == 0 ? 0 : 1;
}
