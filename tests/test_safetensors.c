/*
 * test_safetensors.c - tests of mapfile.c and safetensors.c
 *
 * Owns: the files -> tensors layer on its own, on data made here (no
 * bundle needed): bad input gives an error naming the file and the
 * problem, never a crash:
 *	- F16 -> f32 for all 65536 bit patterns against a ldexp() reference,
 *	  BF16 likewise; unaligned data; F16/BF16 writes round to nearest even
 *	- mapfile: open, map, atomic write, and its errors
 *	- bad in-memory safetensors images
 * Usage: test_safetensors WORKDIR (test_model.sh makes it).
 * Exit status: 0 when every check passed, 1 otherwise.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mapfile.h"
#include "safetensors.h"
#include "check.h"
#include "st_util.h"

/* ---------------------------------------------------------------------- */
/* Conversions */

/* f16_ref - binary16 value computed arithmetically (independent of the
 * bit manipulation in safetensors.c) */
static float
f16_ref(guint16 h)
{
	int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
	double v;
	if (e == 31)
		v = m ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp(m, -24);
	else
		v = ldexp(1024 + m, e - 25);
	return (float) (s ? -v : v);
}

static void
test_conversions(void)
{
	/* All patterns, stored at an odd address to exercise unaligned reads. */
	guint8 *raw = g_malloc(2 * 65536 + 1);
	float *out = g_new(float, 65536);
	for (int i = 0; i < 65536; i++) {
		raw[1 + 2 * i] = (guint8) i;
		raw[2 + 2 * i] = (guint8) (i >> 8);
	}
	StTensor t = { .name = "all", .dtype = ST_F16, .ndim = 1,
		       .shape = { 65536 }, .numel = 65536, .data = raw + 1,
		       .nbytes = 2 * 65536 };
	st_tensor_to_f32(&t, out);
	int bad = 0;
	for (int i = 0; i < 65536; i++) {
		float r = f16_ref((guint16) i);
		if (isnan(r) ? !isnan(out[i]) :
		    (out[i] != r || signbit(out[i]) != signbit(r)))
			bad++;
	}
	CHECK(bad == 0, "%d of 65536 F16 patterns wrong", bad);
	CHECK(out[0x0001] == ldexpf(1, -24), "smallest subnormal");
	CHECK(out[0x03ff] == ldexpf(1023, -24), "largest subnormal");
	CHECK(out[0x0400] == ldexpf(1, -14), "smallest normal");
	CHECK(out[0x7bff] == 65504.0f, "max half");
	CHECK(out[0x3c00] == 1.0f && out[0xc000] == -2.0f, "1, -2");
	CHECK(isinf(out[0x7c00]) && out[0x7c00] > 0 && isinf(out[0xfc00]) &&
	      out[0xfc00] < 0, "infinities");
	CHECK(isnan(out[0x7e00]) && isnan(out[0x7c01]) && isnan(out[0xfe00]), "NaNs");
	CHECK(out[0x8000] == 0 && signbit(out[0x8000]), "-0");

	t.dtype = ST_BF16;
	st_tensor_to_f32(&t, out);
	bad = 0;
	for (int i = 0; i < 65536; i++) {
		guint32 u;
		memcpy(&u, &out[i], 4);
		if (u != (guint32) i << 16)
			bad++;
	}
	CHECK(bad == 0, "%d of 65536 BF16 patterns wrong", bad);

	/* F32, unaligned */
	float vals[5] = { 1.5f, -0.0f, INFINITY, 3e-41f, -123.25f };
	memcpy(raw + 3, vals, sizeof vals);
	StTensor t32 = { .name = "f", .dtype = ST_F32, .ndim = 1, .shape = { 5 },
			 .numel = 5, .data = raw + 3, .nbytes = 20 };
	st_tensor_to_f32(&t32, out);
	CHECK(memcmp(out, vals, sizeof vals) == 0, "F32 copy");
	g_free(raw);
	g_free(out);
}

/* decode16 - one 16-bit pattern of DTYPE as float */
static float
decode16(StDtype dtype, guint16 b)
{
	guint8 raw[2] = { (guint8) b, (guint8) (b >> 8) };
	StTensor t = { .dtype = dtype, .ndim = 0, .numel = 1, .data = raw, .nbytes = 2 };
	float f;
	st_tensor_to_f32(&t, &f);
	return f;
}

/* check_rne - BITS is the correctly rounded (nearest, ties to even)
 * 16-bit value of X: no finite neighbour is closer, a tie picks the even
 * pattern, and infinity comes exactly from |X| >= the midpoint between the
 * largest finite value and the next power of two */
static gboolean
check_rne(StDtype dtype, float x, guint16 b)
{
	float r = decode16(dtype, b);
	if (isnan(x))
		return isnan(r);
	guint32 mid_bits = dtype == ST_F16 ? 0x477ff000u : 0x7f7f8000u;
	float mid;
	memcpy(&mid, &mid_bits, 4);
	if (fabsf(x) >= mid)
		return isinf(r) && signbit(r) == signbit(x);
	if (isinf(r) || isnan(r))
		return FALSE;
	double err = fabs((double) r - (double) x);
	for (int d = -1; d <= 1; d += 2) {
		guint16 nb = (guint16) (b + d);
		if ((b & 0x7fff) == 0 && d == -1)
			nb = (guint16) ((b ^ 0x8000) + 1);	/* across zero */
		float rn = decode16(dtype, nb);
		if (isnan(rn) || isinf(rn))
			continue;
		double e2 = fabs((double) rn - (double) x);
		if (e2 < err || (e2 == err && (b & 1)))
			return FALSE;
	}
	return TRUE;
}

static void
test_write_rounding(const char *tmp)
{
	enum { N = 4000 };
	float *v = g_new(float, N), *dec = g_new(float, N);
	guint16 *bits = g_new(guint16, N);
	/* Specials, exact ties and random values over the whole range. */
	float fixed[] = { 0.0f, -0.0f, 1.0f, 1.0f + ldexpf(1, -8),
			  1.0f + 3 * ldexpf(1, -8), 1.0f + ldexpf(1, -11),
			  1.0f + 3 * ldexpf(1, -11), 65504.0f, 65519.0f, 65520.0f,
			  -70000.0f, ldexpf(1, -24), ldexpf(1, -25),
			  ldexpf(3, -25), ldexpf(1, -14), ldexpf(1023, -24),
			  ldexpf(2047, -25), 1e-30f, INFINITY, -INFINITY, NAN,
			  3.4e38f, ldexpf(1, -133), 0.1f, -2.5e-6f };
	int nf = G_N_ELEMENTS(fixed);
	memcpy(v, fixed, sizeof fixed);
	GRand *rng = g_rand_new_with_seed(7);
	for (int i = nf; i < N; i++) {
		guint32 u = g_rand_int(rng);
		if (i % 2)	/* half of them within the F16 range */
			u = (u & 0x80000000u) | (0x33000000u + u % 0x14800000u);
		memcpy(&v[i], &u, 4);
	}
	g_rand_free(rng);

	StDtype dts[2] = { ST_BF16, ST_F16 };
	for (int k = 0; k < 2; k++) {
		if (!written_bits(tmp, v, N, dts[k], bits, dec))
			continue;
		int bad = 0;
		for (int i = 0; i < N; i++)
			if (!check_rne(dts[k], v[i], bits[i])) {
				if (bad++ < 5)
					fprintf(stderr, "  %s: %.9g -> 0x%04x (%.9g)\n",
						st_dtype_name(dts[k]), v[i], bits[i], dec[i]);
			}
		CHECK(bad == 0, "%s write: %d values not rounded to nearest even",
		      st_dtype_name(dts[k]), bad);
	}
	/* Known answers */
	if (written_bits(tmp, fixed, nf, ST_BF16, bits, dec)) {
		CHECK(bits[3] == 0x3f80, "BF16 tie 1+2^-8 -> 1.0 (even), got %04x", bits[3]);
		CHECK(bits[4] == 0x3f82, "BF16 tie 1+3*2^-8 -> even up, got %04x", bits[4]);
		CHECK(bits[18] == 0x7f80 && bits[19] == 0xff80, "BF16 inf");
		CHECK(isnan(dec[20]), "BF16 NaN stays NaN");
	}
	if (written_bits(tmp, fixed, nf, ST_F16, bits, dec)) {
		CHECK(bits[5] == 0x3c00, "F16 tie 1+2^-11 -> 1.0, got %04x", bits[5]);
		CHECK(bits[6] == 0x3c02, "F16 tie 1+3*2^-11 -> up, got %04x", bits[6]);
		CHECK(bits[7] == 0x7bff && bits[8] == 0x7bff && bits[9] == 0x7c00,
		      "F16 65504/65519/65520 -> %04x %04x %04x", bits[7], bits[8], bits[9]);
		CHECK(bits[10] == 0xfc00, "F16 -70000 -> -inf");
		CHECK(bits[11] == 0x0001 && bits[12] == 0x0000 && bits[13] == 0x0002,
		      "F16 2^-24, 2^-25 (tie to 0), 3*2^-25 (tie to 2) -> %04x %04x %04x",
		      bits[11], bits[12], bits[13]);
		CHECK(bits[14] == 0x0400 && bits[15] == 0x03ff && bits[16] == 0x0400,
		      "F16 subnormal/normal edge -> %04x %04x %04x", bits[14],
		      bits[15], bits[16]);
		CHECK(isnan(dec[20]), "F16 NaN stays NaN");
	}
	g_free(v);
	g_free(dec);
	g_free(bits);
}

/* ---------------------------------------------------------------------- */
/* mapfile */

static void
test_mapfile(const char *tmp)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *missing = g_build_filename(tmp, "no-such-file", NULL);
	MapFile *mf = mapfile_open(missing, &err);
	CHECK(mf == NULL, "missing file opened");
	check_error("mapfile missing", &err, "no-such-file", "cannot open");

	mf = mapfile_open(tmp, &err);
	CHECK(mf == NULL, "directory mapped");
	check_error("mapfile directory", &err, "not a regular file");

	g_autofree char *empty = g_build_filename(tmp, "empty", NULL);
	CHECK(mapfile_write_atomic(empty, NULL, 0, &err), "write empty");
	mf = mapfile_open(empty, &err);
	CHECK(mf != NULL && mf->data == NULL && mf->size == 0, "empty file maps to NULL,0");
	mapfile_free(mf);
	mapfile_free(NULL);

	g_autofree char *f = g_build_filename(tmp, "atomic", NULL);
	CHECK(mapfile_write_atomic(f, "first", 5, &err), "write 1");
	CHECK(mapfile_write_atomic(f, "second!", 7, &err), "write 2 (replace)");
	mf = mapfile_open(f, &err);
	CHECK(mf != NULL && mf->size == 7 && memcmp(mf->data, "second!", 7) == 0,
	      "read back");
	mapfile_free(mf);

	/* no temporary files left behind */
	GDir *d = g_dir_open(tmp, 0, NULL);
	int n_tmp = 0;
	for (const char *e; d != NULL && (e = g_dir_read_name(d)) != NULL;)
		n_tmp += strstr(e, ".tmp.") != NULL;
	if (d != NULL)
		g_dir_close(d);
	CHECK(n_tmp == 0, "%d temporary files left", n_tmp);

	g_autofree char *nodir = g_build_filename(tmp, "no-dir", "x", NULL);
	CHECK(!mapfile_write_atomic(nodir, "x", 1, &err), "write into missing dir");
	check_error("write into missing dir", &err, "no-dir/x", "temporary");
}

/* ---------------------------------------------------------------------- */
/* In-memory safetensors images */

/* parse_bad - HEADER + DATA_LEN bytes must be rejected with all NEEDLES */
#define parse_bad(header, data_len, ...) do {				\
	g_autoptr(GByteArray) a_ = image(header, data_len);		\
	g_autoptr(GError) e_ = NULL;					\
	Safetensors *st_ = safetensors_parse(a_->data, a_->len, "bad.safetensors", &e_); \
	CHECK(st_ == NULL, "accepted: %s", header);			\
	safetensors_free(st_);						\
	check_error_at(__FILE__, __LINE__, header, &e_, "bad.safetensors: ", __VA_ARGS__, NULL); \
} while (0)

static Safetensors *
parse_good(const char *header, gsize data_len, GByteArray **keep)
{
	g_autoptr(GError) err = NULL;
	*keep = image(header, data_len);
	Safetensors *st = safetensors_parse((*keep)->data, (*keep)->len, "good", &err);
	CHECK(st != NULL, "%s: %s", header, err ? err->message : "");
	return st;
}

static void
test_parse(void)
{
	g_autoptr(GError) err = NULL;
	GByteArray *keep;

	/* Valid corner cases */
	Safetensors *st = parse_good("{}", 0, &keep);
	CHECK(st != NULL && safetensors_n_tensors(st) == 0, "empty header");
	safetensors_free(st);
	g_byte_array_unref(keep);
	st = parse_good("{\"__metadata__\":{\"format\":\"pt\"},"
			"\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[12,18]},"
			"\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
			"\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[18,20]},"
			"\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[20,20]},"
			"\"m\":{\"dtype\":\"BOOL\",\"shape\":[1,1,2,2],\"data_offsets\":[20,24]},"
			"\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}}",
			32, &keep);
	if (st != NULL) {
		CHECK(safetensors_n_tensors(st) == 4, "4 usable, got %zu",
		      (size_t) safetensors_n_tensors(st));
		const StTensor *a = safetensors_tensor(st, 0), *s = safetensors_find(st, "s");
		CHECK(strcmp(a->name, "a") == 0, "file order: first is a, got %s", a->name);
		CHECK(s != NULL && s->ndim == 0 && s->numel == 1 && s->nbytes == 2, "scalar");
		const StTensor *z = safetensors_find(st, "z");
		CHECK(z != NULL && z->numel == 0 && z->nbytes == 0, "empty tensor");
		CHECK(safetensors_find(st, "m") == NULL && safetensors_find(st, "i") == NULL,
		      "unusable dtypes hidden from find");
		const char *u = safetensors_unusable(st, "m");
		CHECK(u != NULL && strcmp(u, "BOOL") == 0, "m is BOOL");
		CHECK(safetensors_n_unusable(st) == 2, "2 unusable");
		CHECK(safetensors_unusable(st, "a") == NULL, "a usable");
		CHECK(safetensors_find(st, "__metadata__") == NULL, "metadata not a tensor");
		CHECK(strcmp(safetensors_path(st), "good") == 0, "path");
	}
	safetensors_free(st);
	g_byte_array_unref(keep);

	/* Truncated or impossible framing */
	for (gsize n = 0; n < 8; n++) {
		guint8 b[8] = { 2, 0, 0, 0, 0, 0, 0, 0 };
		st = safetensors_parse(b, n, "short.safetensors", &err);
		CHECK(st == NULL, "%zu bytes accepted", (size_t) n);
		check_error("short", &err, "short.safetensors: ", "truncated");
	}
	{
		g_autoptr(GByteArray) a = image("{}", 0);
		a->data[0] = 0xe8, a->data[1] = 0x03;	/* 1000 */
		st = safetensors_parse(a->data, a->len, "big.safetensors", &err);
		CHECK(st == NULL, "header past end accepted");
		check_error("header past end", &err, "big.safetensors: ",
			    "header length 1000 past end of file (16 bytes)");
		memset(a->data, 0xff, 8);
		st = safetensors_parse(a->data, a->len, "big.safetensors", &err);
		check_error("header length 2^64-1", &err, "past end of file");
	}
	parse_bad("{\"a\":", 0, "not valid JSON");
	parse_bad("[1,2]", 0, "not a JSON object");
	parse_bad("\"str\"", 0, "not a JSON object");
	parse_bad("{\"a\":1} x", 0, "not valid JSON");
	parse_bad("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
		  "nests deeper");
	parse_bad("{\"\xff\":1}", 0, "UTF-8");
	parse_bad("{\"a\":1}", 0, "tensor 'a'", "not an object");
	parse_bad("{\"__metadata__\":[]}", 0, "__metadata__");
	parse_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		  "tensor 'w'", "dtype");
	parse_bad("{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		  "tensor 'w'", "unknown dtype 'Q4_K'");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
		  "tensor 'w'", "shape");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
		  "tensor 'w'", "shape[0]");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
		  "tensor 'w'", "shape[0]");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
		  "\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "9 dimensions");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
		  "\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "shape overflows");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
		  "\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "byte size overflows");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
		  "tensor 'w'", "data_offsets");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
		  "tensor 'w'", "data_offsets");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4,
		  "tensor 'w'", "data_offsets");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
		  "tensor 'w'", "data_offsets");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
		  "tensor 'w'", "[8,4) begin after end");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8,
		  "tensor 'w'", "data_offsets [4,12) past end of data (8 bytes)");
	parse_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
		  "tensor 'w'", "hold 8 bytes, but shape x F32 needs 12");
	parse_bad("{\"w\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,4]}}", 8,
		  "tensor 'w'", "needs 3");
	parse_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		  "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[6,10]}}", 16,
		  "tensor 'b'", "overlap tensor 'a'");
	parse_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16,
		  "overlap");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_safetensors WORKDIR\n");
		return 2;
	}
	g_autofree char *tmp = g_build_filename(argv[1], "tmp", NULL);
	g_autofree char *mtmp = g_build_filename(argv[1], "mapfile", NULL);
	g_mkdir_with_parents(tmp, 0755);
	g_mkdir_with_parents(mtmp, 0755);

	test_conversions();
	test_write_rounding(tmp);
	test_mapfile(mtmp);
	test_parse();
	return check_summary("test_safetensors");
}
