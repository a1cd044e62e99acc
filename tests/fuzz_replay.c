/*
 * fuzz_replay.c - run a libFuzzer target's entry point on files, without
 * libFuzzer, so that `make check` (and the ASan/UBSan build of
 * `make check-asan`) replays the seed corpora under tests/fuzz/.
 *
 * Owns: the driver linked with each tests/fuzz_TARGET.c (see tests/bpe.mk):
 *	replay_TARGET [FILE|DIR...]
 * Without arguments it replays REPLAY_SEEDS, the target's seed directory
 * (compiled in by its .mk, so that the program is a test on its own). It
 * calls LLVMFuzzerInitialize when the target has one, then
 * LLVMFuzzerTestOneInput once per file (a directory: each regular file in
 * it, sorted). A target reports a broken property by aborting, which fails
 * the test. Exit 0 after every input, 1 when a file cannot be read or no
 * input was given.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* weak: only some targets define it */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* replay_file - one input; FALSE when it cannot be read */
static gboolean
replay_file(const char *path)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, &error)) {
		fprintf(stderr, "replay: %s\n", error->message);
		return FALSE;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	return TRUE;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* replay_dir - every regular file of DIR in name order; the count run, or
 * -1 when one cannot be read */
static int
replay_dir(const char *dir)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	int n = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s\n", error->message);
		return -1;
	}
	while ((name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
			g_ptr_array_add(paths, p);
		else
			g_free(p);
	}
	g_ptr_array_sort(paths, compare_names);
	for (guint i = 0; i < paths->len; i++) {
		if (!replay_file(paths->pdata[i]))
			return -1;
		n++;
	}
	return n;
}

int
main(int argc, char **argv)
{
	char *seeds[] = { REPLAY_SEEDS, NULL };
	char **inputs = argc > 1 ? argv + 1 : seeds;
	g_autofree char *name = g_path_get_basename(argv[0]);
	int n = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (; *inputs != NULL; inputs++) {
		if (g_file_test(*inputs, G_FILE_TEST_IS_DIR)) {
			int k = replay_dir(*inputs);
			if (k < 0)
				return 1;
			n += k;
		} else if (replay_file(*inputs)) {
			n++;
		} else {
			return 1;
		}
	}
	/* an empty or missing corpus must not pass as replayed */
	if (n == 0) {
		fprintf(stderr, "%s: no input to replay\n", name);
		return 1;
	}
	printf("%s: %d inputs replayed\n", name, n);
	return 0;
}
