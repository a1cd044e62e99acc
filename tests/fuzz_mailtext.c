/*
 * fuzz_mailtext.c - libFuzzer target for mailtext_extract()
 *
 * Owns: the properties every input must keep: no crash, no hang, output
 * valid UTF-8, NUL-terminated, and within the byte cap. The first input
 * byte picks a small cap half of the time, so the cut-off paths get
 * exercised too. Seeds: tests/fuzz/mailtext/. Built with --enable-fuzzers:
 *	./fuzz_mailtext -timeout=10 -rss_limit_mb=2048 tests/fuzz/mailtext
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mailtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MailtextOptions opt = { 0 };
	gsize len = 0;
	char *text;

	if (size > 0 && (data[0] & 1))
		opt.max_bytes = 1 + data[0] * 4;	/* 1..1021 */
	text = mailtext_extract((const char *)data, size, &opt, &len);
	if (text == NULL || text[len] != '\0' || strlen(text) != len ||
	    !g_utf8_validate(text, len, NULL) ||
	    len > (opt.max_bytes ? opt.max_bytes : MAILTEXT_DEFAULT_MAX_BYTES))
		abort();
	g_free(text);
	return 0;
}
