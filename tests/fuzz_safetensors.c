/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors parser
 *
 * Owns: feeding arbitrary bytes to safetensors_parse() and, when they are
 * accepted, touching every tensor the way a loader would (lookup by name,
 * conversion to f32), so that a header that passes validation but lets a
 * read go out of bounds is caught by AddressSanitizer.
 * Build: CC=clang ../configure --enable-fuzzers && make tests/fuzz_safetensors
 * Run:   tests/fuzz_safetensors -max_total_time=300 corpus/ tests/fuzz/safetensors
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy, exactly SIZE long, so reads past it are caught. */
	guint8 *copy = g_malloc(size > 0 ? size : 1);
	if (size > 0)
		memcpy(copy, data, size);
	GError *error = NULL;
	Safetensors *st = safetensors_parse(copy, size, "fuzz", &error);
	if (st == NULL) {
		g_assert(error != NULL && error->message != NULL);
		g_error_free(error);
		g_free(copy);
		return 0;
	}
	g_assert(error == NULL);
	for (gsize i = 0; i < safetensors_n_tensors(st); i++) {
		const StTensor *t = safetensors_tensor(st, i);
		g_assert(safetensors_find(st, t->name) != NULL);
		g_assert(t->data >= copy && t->data + t->nbytes <= copy + size);
		/* bounded: the fuzzer's inputs are small, a tensor's bytes too */
		float *out = g_new(float, t->numel > 0 ? t->numel : 1);
		st_tensor_to_f32(t, out);
		g_free(out);
	}
	for (gsize i = 0; i < safetensors_n_unusable(st); i++)
		g_assert(safetensors_unusable(st, safetensors_unusable_name(st, i)) != NULL);
	safetensors_free(st);
	g_free(copy);
	return 0;
}
