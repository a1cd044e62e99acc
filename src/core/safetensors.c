/*
 * safetensors.c - the safetensors weight format: validated read, write
 *
 * Owns: the file layout
 *	u64 LE header length H | H bytes of JSON | data area
 * where the JSON object maps each tensor name to
 *	{"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}
 * (offsets relative to the data area) plus an optional "__metadata__"
 * object of strings. Every tensor is validated against the file before any
 * is used: header inside the file and below a sane bound, the JSON an object
 * of objects, shapes without overflow, begin <= end <= data size,
 * end - begin == numel * dtype size, no two tensors overlapping. Tensors of
 * dtypes we cannot compute with (BOOL/U8 attn.bias buffers of older Hugging
 * Face GPT-2 exports, I64, F64, ...) are validated the same way and kept
 * aside: safetensors_find() does not return them, safetensors_unusable()
 * names their dtype so callers can say why.
 * I8 tensors are usable too (int8 weights: what they mean, with their
 * scale, is bundle.c's business).
 * Also: F16/BF16 -> f32 conversion (exact, data may be unaligned), and an
 * atomic writer (F32, F16 or BF16 storage, round to nearest even; I8 for
 * tensors given as int8) with the header padded by spaces to a multiple
 * of 8 as Hugging Face does.
 * Not here: what the tensors mean (bundle.c, gpt.c).
 *	g_autoptr(Safetensors) st = safetensors_open("model.safetensors", &error);
 *	const StTensor *t = safetensors_find(st, "wte.weight");
 * Threads: an open Safetensors is read-only. Errors: GError in
 * GPTM_ERROR_MODEL, message "FILE: tensor 'NAME': problem".
 * Checked by: tests/test_model.c, tests/fuzz_safetensors.c.
 */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "mapfile.h"
#include "safetensors.h"
#include "gptm_error.h"

/* A header larger than this is not a weight file (Hugging Face's reader
 * uses the same bound). */
#define ST_MAX_HEADER ((guint64) 100 * 1024 * 1024)
/* JSON nesting deeper than this is rejected before json-glib sees it: a
 * valid header nests 3 levels, and json-glib 1.6 recurses without a limit. */
#define ST_MAX_NESTING 16

/* A tensor we validated but cannot convert (BOOL, U8, I64, F64, ...). */
typedef struct {
	char *name;
	const char *dtype;	/* static string from st_other_dtypes */
} StOther;

struct Safetensors {
	char *path;		/* for errors: the path, or name_for_errors */
	MapFile *mf;		/* NULL when parsed from memory */
	StTensor *tensors;	/* usable: F32, F16, BF16, I8, in file order */
	gsize n;
	StOther *others;	/* validated but unusable dtypes */
	gsize n_others;
	GHashTable *by_name;	/* name -> StTensor*, borrowed */
};

/* Every dtype the format defines, so that sizes can be checked even for
 * tensors we will not use. */
static const struct {
	const char *name;
	gsize size;
} st_other_dtypes[] = {
	{ "BOOL", 1 }, { "U8", 1 }, { "F8_E4M3", 1 },
	{ "F8_E5M2", 1 }, { "U16", 2 }, { "I16", 2 }, { "U32", 4 },
	{ "I32", 4 }, { "U64", 8 }, { "I64", 8 }, { "F64", 8 },
};

/* st_dtype_size - bytes per element */
gsize
st_dtype_size(StDtype dt)
{
	switch (dt) {
	case ST_F32:
		return 4;
	case ST_F16:
	case ST_BF16:
		return 2;
	case ST_I8:
		return 1;
	}
	g_assert_not_reached();
}

/* st_dtype_name - the name used in the file header */
const char *
st_dtype_name(StDtype dt)
{
	switch (dt) {
	case ST_F32:
		return "F32";
	case ST_F16:
		return "F16";
	case ST_BF16:
		return "BF16";
	case ST_I8:
		return "I8";
	}
	g_assert_not_reached();
}

/* st_error - set the error "FILE: problem" */
G_GNUC_PRINTF(3, 4) static void
st_error(GError **error, const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, GPTM_ERROR, GPTM_ERROR_MODEL, "%s: %s", file, msg);
}

/* safetensors_free - free ST and unmap its file; NULL is a no-op */
void
safetensors_free(Safetensors *st)
{
	if (st == NULL)
		return;
	for (gsize i = 0; i < st->n; i++)
		g_free(st->tensors[i].name);
	g_free(st->tensors);
	for (gsize i = 0; i < st->n_others; i++)
		g_free(st->others[i].name);
	g_free(st->others);
	if (st->by_name != NULL)
		g_hash_table_unref(st->by_name);
	mapfile_free(st->mf);
	g_free(st->path);
	g_free(st);
}

/* json_too_deep - TRUE if the JSON text nests brackets deeper than MAX.
 * Brackets inside strings do not count; the text need not be valid. */
static gboolean
json_too_deep(const guint8 *p, gsize len, int max)
{
	int depth = 0;
	gboolean in_str = FALSE;
	for (gsize i = 0; i < len; i++) {
		guint8 c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;	/* skip the escaped character */
			else if (c == '"')
				in_str = FALSE;
		} else if (c == '"') {
			in_str = TRUE;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return TRUE;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return FALSE;
}

/* node_get_u64 - a non-negative JSON integer into *V; FALSE if NODE is
 * anything else (a double, a negative number, a string, ...) */
static gboolean
node_get_u64(JsonNode *node, guint64 *v)
{
	if (node == NULL || JSON_NODE_TYPE(node) != JSON_NODE_VALUE ||
	    json_node_get_value_type(node) != G_TYPE_INT64)
		return FALSE;
	gint64 x = json_node_get_int(node);
	if (x < 0)
		return FALSE;
	*v = (guint64) x;
	return TRUE;
}

/* Everything parsed about one tensor before it is sorted into the
 * usable/other lists. */
typedef struct {
	const char *name;	/* borrowed from the JSON tree */
	int usable;		/* 1: dt is valid; 0: other_dtype is */
	StDtype dt;
	const char *other_dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	guint64 numel, begin, end;
} StEntry;

/* parse_entry - check one header member (NAME: NODE) and fill E */
static gboolean
parse_entry(const char *file, const char *name, JsonNode *node, StEntry *e,
	    guint64 data_size, GError **error)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	if (JSON_NODE_TYPE(node) != JSON_NODE_OBJECT) {
		st_error(error, file, "tensor '%s': header entry is not an object", name);
		return FALSE;
	}
	JsonObject *o = json_node_get_object(node);

	/* dtype */
	JsonNode *dn = json_object_get_member(o, "dtype");
	const char *dts = NULL;
	if (dn != NULL && JSON_NODE_HOLDS_VALUE(dn) &&
	    json_node_get_value_type(dn) == G_TYPE_STRING)
		dts = json_node_get_string(dn);
	if (dts == NULL) {
		st_error(error, file, "tensor '%s': missing or non-string \"dtype\"", name);
		return FALSE;
	}
	gsize esize = 0;
	if (strcmp(dts, "F32") == 0)
		e->usable = 1, e->dt = ST_F32, esize = 4;
	else if (strcmp(dts, "F16") == 0)
		e->usable = 1, e->dt = ST_F16, esize = 2;
	else if (strcmp(dts, "BF16") == 0)
		e->usable = 1, e->dt = ST_BF16, esize = 2;
	else if (strcmp(dts, "I8") == 0)
		e->usable = 1, e->dt = ST_I8, esize = 1;
	else {
		for (gsize i = 0; i < G_N_ELEMENTS(st_other_dtypes); i++)
			if (strcmp(dts, st_other_dtypes[i].name) == 0) {
				e->other_dtype = st_other_dtypes[i].name;
				esize = st_other_dtypes[i].size;
			}
		if (esize == 0) {
			st_error(error, file, "tensor '%s': unknown dtype '%s'", name, dts);
			return FALSE;
		}
	}

	/* shape: product checked for overflow, also against int64_t */
	JsonNode *sn = json_object_get_member(o, "shape");
	if (sn == NULL || !JSON_NODE_HOLDS_ARRAY(sn)) {
		st_error(error, file, "tensor '%s': missing or non-array \"shape\"", name);
		return FALSE;
	}
	JsonArray *sa = json_node_get_array(sn);
	guint nd = json_array_get_length(sa);
	if (nd > ST_MAX_DIMS) {
		st_error(error, file, "tensor '%s': %u dimensions (at most %d)",
			 name, nd, ST_MAX_DIMS);
		return FALSE;
	}
	e->ndim = (int) nd;
	guint64 numel = 1;
	for (guint i = 0; i < nd; i++) {
		guint64 d;
		if (!node_get_u64(json_array_get_element(sa, i), &d)) {
			st_error(error, file, "tensor '%s': shape[%u] is not a "
				 "non-negative integer", name, i);
			return FALSE;
		}
		if (!g_uint64_checked_mul(&numel, numel, d) ||
		    numel > (guint64) G_MAXINT64) {
			st_error(error, file, "tensor '%s': shape overflows", name);
			return FALSE;
		}
		e->shape[i] = (int64_t) d;
	}
	e->numel = numel;
	guint64 nbytes;
	if (!g_uint64_checked_mul(&nbytes, numel, esize)) {
		st_error(error, file, "tensor '%s': byte size overflows", name);
		return FALSE;
	}

	/* data_offsets */
	JsonNode *on = json_object_get_member(o, "data_offsets");
	if (on == NULL || !JSON_NODE_HOLDS_ARRAY(on) ||
	    json_array_get_length(json_node_get_array(on)) != 2) {
		st_error(error, file, "tensor '%s': missing \"data_offsets\" "
			 "[begin, end]", name);
		return FALSE;
	}
	JsonArray *oa = json_node_get_array(on);
	if (!node_get_u64(json_array_get_element(oa, 0), &e->begin) ||
	    !node_get_u64(json_array_get_element(oa, 1), &e->end)) {
		st_error(error, file, "tensor '%s': data_offsets are not "
			 "non-negative integers", name);
		return FALSE;
	}
	if (e->begin > e->end) {
		st_error(error, file, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT
			 ",%" G_GUINT64_FORMAT ") begin after end", name,
			 e->begin, e->end);
		return FALSE;
	}
	if (e->end > data_size) {
		st_error(error, file, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT
			 ",%" G_GUINT64_FORMAT ") past end of data (%" G_GUINT64_FORMAT
			 " bytes)", name, e->begin, e->end, data_size);
		return FALSE;
	}
	if (e->end - e->begin != nbytes) {
		st_error(error, file, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT
			 ",%" G_GUINT64_FORMAT ") hold %" G_GUINT64_FORMAT
			 " bytes, but shape x %s needs %" G_GUINT64_FORMAT, name,
			 e->begin, e->end, e->end - e->begin, dts, nbytes);
		return FALSE;
	}
	return TRUE;
}

/* cmp_begin - order entries by data offset, for the overlap check */
static int
cmp_begin(gconstpointer a, gconstpointer b)
{
	const StEntry *x = *(const StEntry *const *) a;
	const StEntry *y = *(const StEntry *const *) b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* safetensors_parse - validate an in-memory file image (for fuzzing/tests);
 * DATA must outlive the result */
Safetensors *
safetensors_parse(const guint8 *data, gsize size, const char *file,
		  GError **error)
{
	g_return_val_if_fail(data != NULL || size == 0, NULL);
	if (file == NULL)
		file = "safetensors";

	if (size < 8) {
		st_error(error, file, "truncated: %" G_GSIZE_FORMAT " bytes, "
			 "shorter than the 8-byte header length", size);
		return NULL;
	}
	guint64 hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | data[i];
	if (hlen > size - 8) {
		st_error(error, file, "header length %" G_GUINT64_FORMAT " past end "
			 "of file (%" G_GSIZE_FORMAT " bytes)", hlen, size);
		return NULL;
	}
	if (hlen > ST_MAX_HEADER) {
		st_error(error, file, "header length %" G_GUINT64_FORMAT " exceeds "
			 "%" G_GUINT64_FORMAT " bytes", hlen, ST_MAX_HEADER);
		return NULL;
	}
	if (hlen < 2 || data[8] != '{') {
		st_error(error, file, "header is not a JSON object");
		return NULL;
	}
	const guint8 *hdr = data + 8;
	if (json_too_deep(hdr, hlen, ST_MAX_NESTING)) {
		st_error(error, file, "header JSON nests deeper than %d", ST_MAX_NESTING);
		return NULL;
	}
	/* json-glib reads the text as UTF-8 without checking it. */
	if (!g_utf8_validate((const char *) hdr, (gssize) hlen, NULL)) {
		st_error(error, file, "header is not valid UTF-8 (or contains NUL)");
		return NULL;
	}
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(GError) jerr = NULL;
	if (!json_parser_load_from_data(parser, (const char *) hdr, (gssize) hlen,
					&jerr)) {
		st_error(error, file, "header is not valid JSON: %s", jerr->message);
		return NULL;
	}
	JsonNode *root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		st_error(error, file, "header is not a JSON object");
		return NULL;
	}
	JsonObject *obj = json_node_get_object(root);
	guint64 data_size = size - 8 - hlen;

	/* Parse every entry; names are borrowed from the tree until copied. */
	g_autoptr(GList) members = json_object_get_members(obj);
	guint nm = g_list_length(members);
	g_autofree StEntry *ents = g_new0(StEntry, nm > 0 ? nm : 1);
	gsize ne = 0, n_usable = 0;
	for (GList *l = members; l != NULL; l = l->next) {
		const char *name = l->data;
		JsonNode *node = json_object_get_member(obj, name);
		if (strcmp(name, "__metadata__") == 0) {
			if (!JSON_NODE_HOLDS_OBJECT(node)) {
				st_error(error, file, "\"__metadata__\" is not an object");
				return NULL;
			}
			continue;
		}
		if (!parse_entry(file, name, node, &ents[ne], data_size, error))
			return NULL;
		n_usable += ents[ne].usable;
		ne++;
	}

	/* No two tensors may share bytes: sort by begin, compare neighbours.
	 * Empty tensors occupy nothing and may sit anywhere. */
	g_autofree StEntry **order = g_new(StEntry *, ne > 0 ? ne : 1);
	gsize no = 0;
	for (gsize i = 0; i < ne; i++)
		if (ents[i].end > ents[i].begin)
			order[no++] = &ents[i];
	qsort(order, no, sizeof(*order), cmp_begin);
	for (gsize i = 1; i < no; i++)
		if (order[i]->begin < order[i - 1]->end) {
			st_error(error, file, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT
				 ",%" G_GUINT64_FORMAT ") overlap tensor '%s' [%"
				 G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ")",
				 order[i]->name, order[i]->begin, order[i]->end,
				 order[i - 1]->name, order[i - 1]->begin,
				 order[i - 1]->end);
			return NULL;
		}

	/* Valid: build the result in file order (offset order). */
	Safetensors *st = g_new0(Safetensors, 1);
	st->path = g_strdup(file);
	st->tensors = g_new0(StTensor, n_usable > 0 ? n_usable : 1);
	st->others = g_new0(StOther, ne - n_usable > 0 ? ne - n_usable : 1);
	st->by_name = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree StEntry **all = g_new(StEntry *, ne > 0 ? ne : 1);
	for (gsize i = 0; i < ne; i++)
		all[i] = &ents[i];
	qsort(all, ne, sizeof(*all), cmp_begin);
	const guint8 *base = hdr + hlen;
	for (gsize i = 0; i < ne; i++) {
		StEntry *e = all[i];
		if (!e->usable) {
			st->others[st->n_others].name = g_strdup(e->name);
			st->others[st->n_others].dtype = e->other_dtype;
			st->n_others++;
			continue;
		}
		StTensor *t = &st->tensors[st->n++];
		t->name = g_strdup(e->name);
		t->dtype = e->dt;
		t->ndim = e->ndim;
		memcpy(t->shape, e->shape, sizeof(t->shape));
		t->numel = (int64_t) e->numel;
		t->nbytes = (gsize) (e->end - e->begin);
		t->data = t->nbytes > 0 ? base + e->begin : base;
		g_hash_table_insert(st->by_name, t->name, t);
	}
	return st;
}

/* safetensors_open - map and validate PATH */
Safetensors *
safetensors_open(const char *path, GError **error)
{
	g_autoptr(MapFile) mf = mapfile_open(path, error);
	if (mf == NULL)
		return NULL;
	static const guint8 empty[1];
	Safetensors *st = safetensors_parse(mf->data != NULL ? mf->data : empty,
					    mf->size, path, error);
	if (st == NULL)
		return NULL;
	st->mf = g_steal_pointer(&mf);
	return st;
}

gsize
safetensors_n_tensors(const Safetensors *st)
{
	return st->n;
}

/* safetensors_tensor - the I-th usable tensor, in file (offset) order */
const StTensor *
safetensors_tensor(const Safetensors *st, gsize i)
{
	g_return_val_if_fail(i < st->n, NULL);
	return &st->tensors[i];
}

/* safetensors_find - tensor by exact name, or NULL */
const StTensor *
safetensors_find(const Safetensors *st, const char *name)
{
	return g_hash_table_lookup(st->by_name, name);
}

/* safetensors_unusable - the dtype name if NAME is a tensor of a dtype we
 * cannot convert, else NULL */
const char *
safetensors_unusable(const Safetensors *st, const char *name)
{
	for (gsize i = 0; i < st->n_others; i++)
		if (strcmp(st->others[i].name, name) == 0)
			return st->others[i].dtype;
	return NULL;
}

/* safetensors_n_unusable / safetensors_unusable_name - the I-th tensor of
 * an unsupported dtype (so bundle.c can check that only buffers are) */
gsize
safetensors_n_unusable(const Safetensors *st)
{
	return st->n_others;
}

const char *
safetensors_unusable_name(const Safetensors *st, gsize i)
{
	g_return_val_if_fail(i < st->n_others, NULL);
	return st->others[i].name;
}

const char *
safetensors_path(const Safetensors *st)
{
	return st->path;
}

/* f16_to_f32 - IEEE binary16 bits to float, exactly (subnormals, inf, NaN) */
static inline float
f16_to_f32(guint16 h)
{
	guint32 sign = (guint32) (h & 0x8000) << 16;
	guint32 exp = (h >> 10) & 0x1f;
	guint32 man = h & 0x3ff;
	guint32 bits;
	if (exp == 0x1f) {		/* inf or NaN: keep the payload */
		bits = sign | 0x7f800000u | (man << 13);
	} else if (exp != 0) {		/* normal: rebias 15 -> 127 */
		bits = sign | ((exp + 112) << 23) | (man << 13);
	} else if (man == 0) {		/* signed zero */
		bits = sign;
	} else {			/* subnormal: man * 2^-24, normalize */
		int e = -1;
		do {
			man <<= 1;
			e++;
		} while ((man & 0x400) == 0);
		bits = sign | ((guint32) (112 - e) << 23) | ((man & 0x3ff) << 13);
	}
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* st_tensor_to_f32 - convert T (any supported dtype) into OUT[numel] */
void
st_tensor_to_f32(const StTensor *t, float *out)
{
	const guint8 *p = t->data;
	gsize n = (gsize) t->numel;
	g_assert(t->nbytes == n * st_dtype_size(t->dtype));
	switch (t->dtype) {
	case ST_F32:
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
		if (n > 0)
			memcpy(out, p, n * 4);
#else
		for (gsize i = 0; i < n; i++) {
			guint32 u;
			memcpy(&u, p + 4 * i, 4);
			u = GUINT32_FROM_LE(u);
			memcpy(&out[i], &u, 4);
		}
#endif
		break;
	case ST_F16:
		for (gsize i = 0; i < n; i++)
			out[i] = f16_to_f32((guint16) (p[2 * i] | p[2 * i + 1] << 8));
		break;
	case ST_BF16:
		/* bf16 is the top half of an f32: exact */
		for (gsize i = 0; i < n; i++) {
			guint32 u = (guint32) (p[2 * i] | p[2 * i + 1] << 8) << 16;
			memcpy(&out[i], &u, 4);
		}
		break;
	case ST_I8:
		for (gsize i = 0; i < n; i++)
			out[i] = (float)(int8_t)p[i];
		break;
	}
}

/* f32_to_bf16 - round to nearest even; NaN stays a (quiet) NaN */
static inline guint16
f32_to_bf16(float f)
{
	guint32 u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (guint16) ((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1);
	return (guint16) (u >> 16);
}

/* f32_to_f16 - round to nearest even, overflow to inf, subnormals kept */
static inline guint16
f32_to_f16(float f)
{
	guint32 u;
	memcpy(&u, &f, 4);
	guint16 sign = (guint16) ((u >> 16) & 0x8000);
	guint32 a = u & 0x7fffffffu;
	if (a > 0x7f800000u)		/* NaN */
		return sign | 0x7e00 | (guint16) ((a >> 13) & 0x3ff);
	if (a >= 0x477ff000u)		/* >= 65520 rounds to inf */
		return sign | 0x7c00;
	if (a < 0x38800000u) {		/* below 2^-14: subnormal or zero */
		if (a < 0x33000000u)	/* <= 2^-25: rounds to zero */
			return sign;
		/* value = m * 2^(e-150) with the implicit bit; scale to
		 * units of 2^-24 and round to nearest even */
		guint32 e = a >> 23, m = (a & 0x7fffff) | 0x800000;
		guint32 shift = 126 - e;	/* 14 .. 24 */
		guint32 r = m >> shift;
		guint32 rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++;
		return sign | (guint16) r;
	}
	/* normal: rebias 127 -> 15, round the 13 dropped bits to even; a carry
	 * into the exponent is the correct result */
	a += 0xfffu + ((a >> 13) & 1);
	return sign | (guint16) ((a - 0x38000000u) >> 13);
}

/* safetensors_write - write N tensors to PATH, floats as DTYPE (F32, F16 or
 * BF16), int8 ones as I8, atomically, with optional string METADATA
 * (NULL-terminated key,value,...) */
gboolean
safetensors_write(const char *path, const StWriteTensor *tensors, gsize n,
		  StDtype dtype, const char *const *metadata, GError **error)
{
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(tensors != NULL || n == 0, FALSE);
	g_return_val_if_fail(dtype != ST_I8, FALSE);	/* per tensor: .i8 */

	/* Header: metadata first, then tensors back to back in the given
	 * order. Names must be unique (a JSON object cannot hold two). */
	g_autoptr(JsonBuilder) jb = json_builder_new();
	json_builder_begin_object(jb);
	if (metadata != NULL && metadata[0] != NULL) {
		json_builder_set_member_name(jb, "__metadata__");
		json_builder_begin_object(jb);
		for (gsize i = 0; metadata[i] != NULL && metadata[i + 1] != NULL; i += 2) {
			json_builder_set_member_name(jb, metadata[i]);
			json_builder_add_string_value(jb, metadata[i + 1]);
		}
		json_builder_end_object(jb);
	}
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree guint64 *numels = g_new(guint64, n > 0 ? n : 1);
	guint64 off = 0;
	for (gsize i = 0; i < n; i++) {
		const StWriteTensor *t = &tensors[i];
		if (t->name == NULL || strcmp(t->name, "__metadata__") == 0 ||
		    !g_hash_table_add(seen, (gpointer) t->name)) {
			st_error(error, path, "tensor '%s': duplicate or reserved name",
				 t->name != NULL ? t->name : "(null)");
			return FALSE;
		}
		if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
			st_error(error, path, "tensor '%s': %d dimensions", t->name, t->ndim);
			return FALSE;
		}
		guint64 numel = 1, nbytes;
		const StDtype tdt = t->i8 != NULL ? ST_I8 : dtype;
		const gsize esize = st_dtype_size(tdt);
		for (int d = 0; d < t->ndim; d++)
			if (t->shape[d] < 0 ||
			    !g_uint64_checked_mul(&numel, numel, (guint64) t->shape[d])) {
				st_error(error, path, "tensor '%s': bad shape", t->name);
				return FALSE;
			}
		if (!g_uint64_checked_mul(&nbytes, numel, esize) ||
		    off + nbytes < off || off + nbytes > G_MAXINT64 ||
		    (numel > 0 && t->data == NULL && t->i8 == NULL)) {
			st_error(error, path, "tensor '%s': bad size or data", t->name);
			return FALSE;
		}
		numels[i] = numel;
		json_builder_set_member_name(jb, t->name);
		json_builder_begin_object(jb);
		json_builder_set_member_name(jb, "dtype");
		json_builder_add_string_value(jb, st_dtype_name(tdt));
		json_builder_set_member_name(jb, "shape");
		json_builder_begin_array(jb);
		for (int d = 0; d < t->ndim; d++)
			json_builder_add_int_value(jb, t->shape[d]);
		json_builder_end_array(jb);
		json_builder_set_member_name(jb, "data_offsets");
		json_builder_begin_array(jb);
		json_builder_add_int_value(jb, (gint64) off);
		json_builder_add_int_value(jb, (gint64) (off + nbytes));
		json_builder_end_array(jb);
		json_builder_end_object(jb);
		off += nbytes;
	}
	json_builder_end_object(jb);

	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(jb);
	json_generator_set_root(gen, root);
	gsize hlen = 0;
	g_autofree char *hjson = json_generator_to_data(gen, &hlen);
	gsize hpad = (hlen + 7) & ~(gsize) 7;	/* spaces up to a multiple of 8 */
	if (off > G_MAXSIZE - 8 - hpad) {
		st_error(error, path, "file too large");
		return FALSE;
	}

	gsize total = 8 + hpad + (gsize) off;
	g_autofree guint8 *buf = g_malloc(total);
	for (int i = 0; i < 8; i++)
		buf[i] = (guint8) ((guint64) hpad >> (8 * i));
	memcpy(buf + 8, hjson, hlen);
	memset(buf + 8 + hlen, ' ', hpad - hlen);
	guint8 *q = buf + 8 + hpad;
	for (gsize i = 0; i < n; i++) {
		const float *src = tensors[i].data;
		if (tensors[i].i8 != NULL) {
			memcpy(q, tensors[i].i8, numels[i]);
			q += numels[i];
			continue;
		}
		const gsize esize = st_dtype_size(dtype);
		for (guint64 k = 0; k < numels[i]; k++) {
			guint32 u;
			switch (dtype) {
			case ST_F32:
				memcpy(&u, &src[k], 4);
				q[0] = (guint8) u, q[1] = (guint8) (u >> 8);
				q[2] = (guint8) (u >> 16), q[3] = (guint8) (u >> 24);
				break;
			case ST_F16:
				u = f32_to_f16(src[k]);
				q[0] = (guint8) u, q[1] = (guint8) (u >> 8);
				break;
			case ST_BF16:
				u = f32_to_bf16(src[k]);
				q[0] = (guint8) u, q[1] = (guint8) (u >> 8);
				break;
			case ST_I8:
				g_assert_not_reached();
			}
			q += esize;
		}
	}
	g_assert(q == buf + total);
	return mapfile_write_atomic(path, buf, total, error);
}
