/*
 * fuzz_tokenstats.c - libFuzzer target for the token model's file parser
 * (tokenstats_parse, src/core/tokenstats.c)
 *
 * Owns: feeding arbitrary bytes to the parser twice, as they are and with
 * their last 32 bytes replaced by the right SHA-256 (else nearly every
 * mutation stops at the checksum and the fields behind it go unfuzzed);
 * and, when a file is accepted, scoring a text with it and checking that
 * it serializes back to the very bytes it was parsed from.
 * Build: CC=clang ../configure --enable-fuzzers && make tests/fuzz_tokenstats
 * Run:   tests/fuzz_tokenstats -max_total_time=300 WORK_DIR tests/fuzz/tokenstats
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "tokenstats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one(const guint8 *copy, gsize size)
{
	static const char text[] = "Subject: win a prize\nFrom: <a@b.example>\n\n"
				   "claim your cash prize now, winner!";
	GError *error = NULL;
	TokenStats *ts = tokenstats_parse(copy, size, "fuzz", &error);

	if (ts == NULL) {
		g_assert(error != NULL && error->message != NULL);
		g_error_free(error);
		return;
	}
	g_assert(error == NULL);
	double z = tokenstats_score_text(ts, text, sizeof text - 1);
	g_assert(!isnan(z));
	gsize len;
	guint8 *back = tokenstats_serialize(ts, &len);
	g_assert(len == size && memcmp(back, copy, size) == 0);
	g_free(back);
	tokenstats_free(ts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy, exactly SIZE long, so reads past it are caught. */
	guint8 *copy = g_malloc(size > 0 ? size : 1);
	if (size > 0)
		memcpy(copy, data, size);
	one(copy, size);
	if (size >= 32) {
		g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
		gsize n = 32;
		g_checksum_update(ck, copy, (gssize)(size - 32));
		g_checksum_get_digest(ck, copy + size - 32, &n);
		one(copy, size);
	}
	g_free(copy);
	return 0;
}
