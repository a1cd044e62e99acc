/*
 * bpe_dump.c - print the BPE ids of texts, one line per text
 *
 * Owns: the C side of the parity test (tests/test_bpe_parity.sh); the node
 * side is tests/bpe_ref.js, with the same arguments and the same output.
 *	bpe_dump VOCAB MERGES --files LIST   each line of LIST names a file
 *	                                     whose whole content is one text
 *	bpe_dump VOCAB MERGES --jsonl FILE   each line of FILE is a JSON string
 * Output: the ids of each text separated by blanks, one text per line, so
 * that `cmp` compares the two sides.  A file that is not valid UTF-8 is
 * reported on stderr (node would read U+FFFD where C reads the raw bytes).
 * Exit: 0, or 1 on an unreadable input.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "bpe.h"

/* print_ids - encode TEXT with BPE and write its ids as one line */
static void
print_ids(const Bpe *bpe, const char *text, gsize len, GString *line)
{
	/* Every id takes at least one byte, so LEN + 1 slots hold them all. */
	g_autofree int32_t *ids = g_new(int32_t, len + 1);
	gsize n = bpe_encode(bpe, text, len, ids, len + 1);

	g_string_truncate(line, 0);
	for (gsize i = 0; i < n; i++)
		g_string_append_printf(line, i ? " %d" : "%d", ids[i]);
	g_string_append_c(line, '\n');
	fwrite(line->str, 1, line->len, stdout);
}

/* dump_files - one text per file named in LIST */
static int
dump_files(const Bpe *bpe, const char *list)
{
	g_autofree char *names = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) line = g_string_new(NULL);

	if (!g_file_get_contents(list, &names, NULL, &error)) {
		fprintf(stderr, "bpe_dump: %s\n", error->message);
		return 1;
	}
	g_auto(GStrv) paths = g_strsplit(names, "\n", -1);
	for (char **p = paths; *p != NULL; p++) {
		g_autofree char *text = NULL;
		gsize len;
		if (**p == '\0')
			continue;
		if (!g_file_get_contents(*p, &text, &len, &error)) {
			fprintf(stderr, "bpe_dump: %s\n", error->message);
			return 1;
		}
		if (!g_utf8_validate_len(text, len, NULL))
			fprintf(stderr, "bpe_dump: %s: not valid UTF-8\n", *p);
		print_ids(bpe, text, len, line);
	}
	return 0;
}

/* dump_jsonl - one text per JSON string line of PATH */
static int
dump_jsonl(const Bpe *bpe, const char *path)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) line = g_string_new(NULL);

	if (!g_file_get_contents(path, &data, NULL, &error)) {
		fprintf(stderr, "bpe_dump: %s\n", error->message);
		return 1;
	}
	g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (lines[i][0] == '\0')
			continue;
		g_autoptr(JsonParser) parser = json_parser_new();
		if (!json_parser_load_from_data(parser, lines[i], -1, &error)) {
			fprintf(stderr, "bpe_dump: %s:%u: %s\n", path, i + 1,
				error->message);
			return 1;
		}
		JsonNode *root = json_parser_get_root(parser);
		if (root == NULL || !JSON_NODE_HOLDS_VALUE(root) ||
		    json_node_get_value_type(root) != G_TYPE_STRING) {
			fprintf(stderr, "bpe_dump: %s:%u: not a JSON string\n",
				path, i + 1);
			return 1;
		}
		/* json-glib strings stop at an escaped NUL; the hard strings
		 * have none. */
		const char *s = json_node_get_string(root);
		print_ids(bpe, s, strlen(s), line);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;

	if (argc != 5 || (strcmp(argv[3], "--files") != 0 &&
			  strcmp(argv[3], "--jsonl") != 0)) {
		fprintf(stderr, "usage: bpe_dump VOCAB MERGES "
			"--files LIST | --jsonl FILE\n");
		return 2;
	}
	g_autoptr(Bpe) bpe = bpe_load(argv[1], argv[2], &error);
	if (bpe == NULL) {
		fprintf(stderr, "bpe_dump: %s\n", error->message);
		return 1;
	}
	int rc = strcmp(argv[3], "--files") == 0 ? dump_files(bpe, argv[4])
						  : dump_jsonl(bpe, argv[4]);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
