/*
 * safetensors.h - the safetensors weight format: validated read, write
 *
 * Owns: parsing the JSON header of a .safetensors file (8-byte little-endian
 * header length, JSON object name -> {dtype, shape, data_offsets}, optional
 * "__metadata__"), validating it against the file before any tensor is used,
 * converting F16/BF16/F32 (and I8 values) to f32, and writing a file
 * atomically.
 * Not here: what the tensors mean (bundle.c, gpt.c).
 *	g_autoptr(Safetensors) st = safetensors_open("model.safetensors", &error);
 *	const StTensor *t = safetensors_find(st, "wte.weight");
 * Threads: an open Safetensors is read-only. Errors: set error naming the
 * file, the tensor and the problem.
 */
#ifndef GPTM_SAFETENSORS_H
#define GPTM_SAFETENSORS_H

#include <glib.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

typedef enum {
	ST_F32,
	ST_F16,
	ST_BF16,
	ST_I8,		/* int8 weights (with an F32 scale tensor: bundle.c) */
} StDtype;

typedef struct {
	char *name;
	StDtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	int64_t numel;		/* product of shape (1 for a scalar) */
	const guint8 *data;	/* points into the mapping; may be unaligned */
	gsize nbytes;
} StTensor;

typedef struct Safetensors Safetensors;

/* safetensors_open - map and validate PATH; tensors of other dtypes
 * (e.g. the bool/u8 attn.bias buffers) are an error only if their names are
 * used: they are kept with dtype_ok=FALSE semantics hidden inside. */
Safetensors *safetensors_open(const char *path, GError **error);
/* safetensors_parse - validate an in-memory file image (for fuzzing/tests);
 * DATA must outlive the result */
Safetensors *safetensors_parse(const guint8 *data, gsize size,
			       const char *name_for_errors, GError **error);
void safetensors_free(Safetensors *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Safetensors, safetensors_free)

gsize safetensors_n_tensors(const Safetensors *st);
const StTensor *safetensors_tensor(const Safetensors *st, gsize i);
/* safetensors_find - tensor by exact name, or NULL */
const StTensor *safetensors_find(const Safetensors *st, const char *name);
const char *safetensors_path(const Safetensors *st);
/* safetensors_unusable - the dtype name ("BOOL", "U8", "I64", ...) when NAME
 * is a tensor in the file of a dtype we cannot convert, else NULL */
const char *safetensors_unusable(const Safetensors *st, const char *name);
/* safetensors_n_unusable / safetensors_unusable_name - list those tensors */
gsize safetensors_n_unusable(const Safetensors *st);
const char *safetensors_unusable_name(const Safetensors *st, gsize i);

/* st_dtype_size - bytes per element */
gsize st_dtype_size(StDtype dt);
const char *st_dtype_name(StDtype dt);
/* st_tensor_to_f32 - convert T (any supported dtype) into OUT[numel];
 * an I8 tensor gives its integer values (the scale is bundle.c's) */
void st_tensor_to_f32(const StTensor *t, float *out);

/* A tensor to write: f32 source data, stored as DTYPE; or int8 data (I8
 * set, DATA unused), stored as I8 whatever DTYPE is. */
typedef struct {
	const char *name;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	const float *data;
	const int8_t *i8;
} StWriteTensor;

/* safetensors_write - write N tensors to PATH, the float ones as DTYPE
 * (F32, F16 or BF16), atomically, with optional string METADATA
 * (NULL-terminated key,value,...) */
gboolean safetensors_write(const char *path, const StWriteTensor *tensors,
			   gsize n, StDtype dtype, const char *const *metadata,
			   GError **error);

#endif
