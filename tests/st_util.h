/*
 * st_util.h - safetensors helpers shared by test_safetensors.c and
 * test_bundle.c: in-memory images of a given header, and what
 * safetensors_write stores read back (F16/BF16 rounding; saved bundles
 * against the values rounded the same way). Include after check.h.
 */
#ifndef GPTMILTER_TESTS_ST_UTIL_H
#define GPTMILTER_TESTS_ST_UTIL_H

#include <string.h>

#include <glib.h>

#include "safetensors.h"

/* image - u64 LE length + HEADER (padded to 8) + DATA_LEN zero bytes */
static inline GByteArray *
image(const char *header, gsize data_len)
{
	GByteArray *a = g_byte_array_new();
	gsize hl = strlen(header), hp = (hl + 7) & ~(gsize) 7;
	guint8 len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (guint8) ((guint64) hp >> (8 * i));
	g_byte_array_append(a, len, 8);
	g_byte_array_append(a, (const guint8 *) header, (guint) hl);
	for (gsize i = hl; i < hp; i++)
		g_byte_array_append(a, (const guint8 *) " ", 1);
	for (gsize i = 0; i < data_len; i++)
		g_byte_array_append(a, (const guint8 *) "\0", 1);
	return a;
}

/* written_bits - write VALS as DTYPE with safetensors_write, read back the
 * stored 16-bit patterns into BITS */
static inline gboolean
written_bits(const char *dir, const float *vals, int n, StDtype dtype,
	     guint16 *bits, float *decoded)
{
	g_autofree char *path = g_build_filename(dir, "rne.safetensors", NULL);
	StWriteTensor w = { .name = "x", .ndim = 1, .shape = { n }, .data = vals };
	g_autoptr(GError) err = NULL;
	if (!safetensors_write(path, &w, 1, dtype, NULL, &err)) {
		CHECK(FALSE, "write: %s", err->message);
		return FALSE;
	}
	g_autoptr(Safetensors) st = safetensors_open(path, &err);
	if (st == NULL) {
		CHECK(FALSE, "reopen: %s", err->message);
		return FALSE;
	}
	const StTensor *t = safetensors_find(st, "x");
	CHECK(t != NULL && t->dtype == dtype && t->numel == n, "tensor x");
	if (t == NULL)
		return FALSE;
	for (int i = 0; i < n; i++)
		bits[i] = (guint16) (t->data[2 * i] | t->data[2 * i + 1] << 8);
	st_tensor_to_f32(t, decoded);
	return TRUE;
}

#endif
