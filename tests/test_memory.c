/*
 * test_memory.c - the instant-memory store (src/core/memory.c) alone
 *
 * Checks, on hand-made vectors (no model: the store only needs an id and a
 * dimension): nearest neighbour by cosine, whatever the vectors' lengths;
 * the score rule (a close spam match raises, a close ham match lowers, a
 * far one changes nothing); a message reported again replaces its entry,
 * an older report of it does not; a full store evicts the oldest report;
 * save and load give the same store, and a lower capacity keeps the
 * newest; and every broken file is refused with MEMORY_ERROR and a
 * message that says why: missing, cut short, a flipped byte (checksum),
 * a bad magic, a newer version, another model's vectors, another
 * dimension; a save over a file that cannot be replaced fails and leaves
 * the old one intact (the write goes to a temp file first).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "check.h"
#include "memory.h"

#define C 8
#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER "fedcba9876543210fedcba9876543210fedcba9876543210fedcba98765432"

/* hash - a 32-byte message hash from a small number */
static const guint8 *
hash(int n)
{
	static guint8 h[32];
	memset(h, 0, sizeof(h));
	h[0] = (guint8) n;
	h[31] = (guint8) (n >> 8);
	return h;
}

/* axis - a vector along axis K, SCALE long, tilted by EPS towards axis 0 */
static void
axis(float *v, int k, float scale, float eps)
{
	memset(v, 0, C * sizeof(float));
	v[k] = scale;
	v[0] += eps * scale;
}

static GByteArray *
read_all(const char *path)
{
	char *data;
	gsize len;
	if (!g_file_get_contents(path, &data, &len, NULL))
		return NULL;
	return g_byte_array_new_take((guint8 *) data, len);
}

static gboolean
write_all(const char *path, const GByteArray *b)
{
	return g_file_set_contents(path, (const char *) b->data, b->len, NULL);
}

int
main(void)
{
	g_autoptr(GError) error = NULL;
	float v[C];
	MemoryMatch mm;
	MemorySyncStats st = { 0 };
	MemoryPolicy pol = { 0.9, 0.98, 0.02 };
	char tmpl[] = "/tmp/test_memory.XXXXXX";
	const char *dir = g_mkdtemp(tmpl);
	g_autofree char *path = g_build_filename(dir, "memory.bin", NULL);
	g_autofree char *bad = g_build_filename(dir, "bad.bin", NULL);

	/* empty: no match, the score stays */
	g_autoptr(Memory) m = memory_new(ID, C, 3);
	axis(v, 1, 1, 0);
	CHECK(!memory_lookup(m, v, &mm) && mm.index == -1);
	gboolean hit = TRUE;
	CHECK(memory_adjust(&pol, &mm, 0.3, &hit) == 0.3 && !hit);

	/* nearest by cosine, not by length: axis 1 (spam) and 2 (ham) */
	axis(v, 1, 5, 0);
	memory_add(m, hash(1), MEMORY_SPAM, 100, v, &st);
	axis(v, 2, 0.01f, 0);
	memory_add(m, hash(2), MEMORY_HAM, 101, v, &st);
	CHECK(st.added == 2 && memory_count(m) == 2);
	axis(v, 1, 0.001f, 0.1f);	/* short, close to axis 1 */
	CHECK(memory_lookup(m, v, &mm));
	CHECK(mm.label == MEMORY_SPAM && mm.time == 100);
	CHECK(fabsf(mm.similarity - 1 / sqrtf(1.01f)) < 1e-5,
	      "similarity %g", mm.similarity);
	CHECK(memory_adjust(&pol, &mm, 0.1, &hit) == 0.98 && hit);
	CHECK(memory_adjust(&pol, &mm, 0.995, &hit) == 0.995 && hit,
	      "a spam match never lowers a score");
	axis(v, 2, 100, 0.05f);
	CHECK(memory_lookup(m, v, &mm) && mm.label == MEMORY_HAM);
	CHECK(memory_adjust(&pol, &mm, 0.9, &hit) == 0.02 && hit);
	axis(v, 2, 1, 1.0f);		/* 45 degrees: cosine 0.707 < 0.9 */
	CHECK(memory_lookup(m, v, &mm));
	CHECK(memory_adjust(&pol, &mm, 0.4, &hit) == 0.4 && !hit,
	      "a far match changes nothing");

	/* the same message reported again: the newer report wins */
	memset(&st, 0, sizeof(st));
	axis(v, 3, 1, 0);
	memory_add(m, hash(1), MEMORY_HAM, 200, v, &st);
	CHECK(st.replaced == 1 && st.added == 0 && memory_count(m) == 2);
	CHECK(memory_lookup(m, v, &mm) && mm.label == MEMORY_HAM &&
	      mm.time == 200);
	memory_add(m, hash(1), MEMORY_SPAM, 150, v, &st);
	CHECK(st.skipped == 1, "an older report is not taken");
	CHECK(memory_has(m, hash(1), 200) && !memory_has(m, hash(1), 201));

	/* full (capacity 3): the oldest report (time 101) is evicted */
	memset(&st, 0, sizeof(st));
	axis(v, 4, 1, 0);
	memory_add(m, hash(4), MEMORY_SPAM, 300, v, &st);
	axis(v, 5, 1, 0);
	memory_add(m, hash(5), MEMORY_SPAM, 301, v, &st);
	CHECK(st.added == 2 && st.evicted == 1 && memory_count(m) == 3);
	CHECK(!memory_has(m, hash(2), 0), "the oldest went");
	CHECK(memory_has(m, hash(1), 200) && memory_has(m, hash(5), 301));
	CHECK(memory_count_label(m, MEMORY_SPAM) == 2 &&
	      memory_count_label(m, MEMORY_HAM) == 1);

	/* save, load: the same entries and answers */
	CHECK(memory_save(m, path, &error), "%s", error ? error->message : "");
	g_autoptr(Memory) l = memory_load(path, ID, C, 3, &error);
	CHECK(l != NULL && memory_count(l) == 3);
	if (l != NULL) {
		axis(v, 4, 2, 0.01f);
		CHECK(memory_lookup(l, v, &mm) && mm.time == 300 &&
		      mm.label == MEMORY_SPAM);
		CHECK(strcmp(memory_model(l), ID) == 0);
	}
	/* a lower capacity keeps the newest */
	g_autoptr(Memory) l2 = memory_load(path, ID, C, 2, &error);
	CHECK(l2 != NULL && memory_count(l2) == 2);
	if (l2 != NULL)
		CHECK(!memory_has(l2, hash(1), 0) &&
		      memory_has(l2, hash(4), 300) &&
		      memory_has(l2, hash(5), 301));

	/* refusals, each with its reason */
	g_autofree char *none = g_build_filename(dir, "none.bin", NULL);
	CHECK(memory_load(none, ID, C, 3, &error) == NULL);
	CHECK(g_error_matches(error, MEMORY_ERROR, MEMORY_ERROR_MISSING));
	check_error("missing", &error, "none.bin");
	CHECK(memory_load(path, OTHER, C, 3, &error) == NULL);
	CHECK(g_error_matches(error, MEMORY_ERROR, MEMORY_ERROR_FOREIGN));
	check_error("foreign", &error, "vectors of another model",
		    "0123456789ab", "fedcba987654");
	CHECK(memory_load(path, ID, C + 1, 3, &error) == NULL);
	check_error("other dimension", &error, "another model", "8 floats");

	g_autoptr(GByteArray) good = read_all(path);
	CHECK(good != NULL && good->len == MEMORY_HEADER_SIZE +
	      3 * (MEMORY_ENTRY_FIXED + C * sizeof(float)));
	struct {
		const char *what, *why;
		gsize at;	/* byte to change, or the length to cut to */
		int how;	/* 0: xor 1, 1: cut, 2: set version 2 */
	} cases[] = {
		{ "cut short", "cut short", 0, 1 },
		{ "header only half", "shorter than its header", 0, 1 },
		{ "flipped vector byte", "checksum mismatch", 0, 0 },
		{ "flipped label", "checksum mismatch", 0, 0 },
		{ "bad magic", "bad magic", 0, 0 },
		{ "newer version", "version 2", 8, 2 },
	};
	cases[0].at = good->len - 5;
	cases[1].at = MEMORY_HEADER_SIZE / 2;
	cases[2].at = good->len - 2;
	cases[3].at = MEMORY_HEADER_SIZE + 40;
	cases[4].at = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) b = g_byte_array_new();
		g_byte_array_append(b, good->data, good->len);
		if (cases[i].how == 1)
			g_byte_array_set_size(b, (guint) cases[i].at);
		else if (cases[i].how == 2)
			b->data[cases[i].at] = 2;
		else
			b->data[cases[i].at] ^= 1;
		CHECK(write_all(bad, b));
		CHECK(memory_load(bad, ID, C, 3, &error) == NULL,
		      "%s accepted", cases[i].what);
		CHECK(g_error_matches(error, MEMORY_ERROR,
				      MEMORY_ERROR_CORRUPT), "%s", cases[i].what);
		check_error(cases[i].what, &error, "bad.bin", cases[i].why);
	}

	/* a save that cannot rename leaves the old file whole: the target
	 * is a directory, so the rename fails after the temp file is made */
	g_autofree char *dirpath = g_build_filename(dir, "isdir", NULL);
	CHECK(g_mkdir(dirpath, 0700) == 0);
	CHECK(!memory_save(m, dirpath, &error));
	check_error("save onto a directory", &error, "memory: ", "isdir");
	CHECK(g_file_test(dirpath, G_FILE_TEST_IS_DIR));
	/* and no temp file is left behind */
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	int left = 0;
	while (d && (name = g_dir_read_name(d)) != NULL)
		left += strstr(name, ".tmp") != NULL;
	if (d)
		g_dir_close(d);
	CHECK(left == 0, "%d temp files left", left);

	g_remove(path);
	g_remove(bad);
	g_rmdir(dirpath);
	g_rmdir(dir);
	return check_summary("test_memory");
}
