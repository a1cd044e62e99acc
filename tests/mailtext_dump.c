/*
 * mailtext_dump.c - print the model's text of one message file
 *
 * Owns: the command line used by tests/test_mailtext.sh and by people who
 * want to see what the model reads:
 *	mailtext_dump [-n MAX_BYTES] [-v VERSION] [-b] FILE|-   > text
 * (-b: the bare-header view the trainer's --header-dropout reads)
 * Exits 1 when the file cannot be read, or when the output is not valid
 * UTF-8 (which would be a bug in mailtext.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "mailtext.h"

int
main(int argc, char **argv)
{
	MailtextOptions opt = { 0 };
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	g_autofree char *text = NULL;
	gsize len = 0, out_len = 0;
	int i = 1;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
		if (g_strcmp0(argv[i], "-b") == 0) {
			opt.bare_headers = TRUE;
			i++;
		} else if (i + 2 < argc && g_strcmp0(argv[i], "-n") == 0) {
			opt.max_bytes = g_ascii_strtoull(argv[i + 1], NULL, 10);
			i += 2;
		} else if (i + 2 < argc && g_strcmp0(argv[i], "-v") == 0) {
			opt.version = (int)g_ascii_strtoll(argv[i + 1], NULL, 10);
			i += 2;
		} else {
			break;
		}
	}
	if (!mailtext_version_supported(opt.version)) {
		fprintf(stderr, "mailtext_dump: -v: versions %d to %d\n",
			MAILTEXT_MIN_VERSION, MAILTEXT_VERSION);
		return 2;
	}
	if (i + 1 != argc) {
		fprintf(stderr, "usage: mailtext_dump [-n MAX_BYTES] "
			"[-v VERSION] [-b] FILE|-\n");
		return 2;
	}
	if (g_strcmp0(argv[i], "-") == 0) {
		GByteArray *a = g_byte_array_new();
		guint8 buf[65536];
		size_t r;

		while ((r = fread(buf, 1, sizeof(buf), stdin)) > 0)
			g_byte_array_append(a, buf, (guint)r);
		len = a->len;
		data = (char *)g_byte_array_free(a, FALSE);
	} else if (!g_file_get_contents(argv[i], &data, &len, &error)) {
		fprintf(stderr, "mailtext_dump: %s\n", error->message);
		return 1;
	}
	text = mailtext_extract(data, len, &opt, &out_len);
	if (!g_utf8_validate(text, out_len, NULL)) {
		fprintf(stderr, "mailtext_dump: %s: output is not UTF-8\n",
			argv[i]);
		return 1;
	}
	fwrite(text, 1, out_len, stdout);
	return 0;
}
