/*
 * charset.c - mail text in any declared (or no) charset to valid UTF-8
 *
 * Owns: the charset rules of charset.h: detection (libuchardet, and when
 * its answer is believed), the UTF-8 / windows-1252 reading of short and
 * Latin text, iconv for the rest, the aliases iconv lacks.
 * Names are checked here, never through GMime's charset cache, because
 * senders choose them (see mailinput.c).
 * Not here: RFC 2047 headers (GMime), the writer (textbuf.c).
 * Threads: reentrant (an iconv descriptor per call). Errors: none.
 * Checked by: tests/test_mailtext.sh (section 8: detection per script and
 * label, short texts; exact outputs: qp-cp1252, latin1-mislabelled-utf8,
 * utf8-stray-bytes, unknown-charset, ...), tests/test_mailtext_charsets.c.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <uchardet.h>

#include "charset.h"
#include "textbuf.h"

/* cp1252_high - windows-1252 0x80..0x9F; the five holes become U+FFFD */
static const gunichar cp1252_high[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

/* append_cp1252 - windows-1252 bytes to UTF-8 */
static void
append_cp1252(GString *dst, const guchar *p, gsize n)
{
	gsize i;

	for (i = 0; i < n; i++) {
		if (p[i] < 0x80)
			g_string_append_c(dst, (char)p[i]);
		else if (p[i] < 0xA0)
			g_string_append_unichar(dst, cp1252_high[p[i] - 0x80]);
		else
			g_string_append_unichar(dst, p[i]);
	}
}

/* charset_is - case-insensitive membership of CS in a NULL-ended list */
static gboolean
charset_is(const char *cs, const char *const *names)
{
	for (; *names != NULL; names++)
		if (g_ascii_strcasecmp(cs, *names) == 0)
			return TRUE;
	return FALSE;
}

static const char *const utf8_names[] = { "utf-8", "utf8", NULL };
/* an ASCII label on 8-bit text says nothing about its charset */
static const char *const ascii_names[] = {
	"us-ascii", "ascii", "ansi_x3.4-1968", NULL
};
static const char *const latin_names[] = {
	"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1",
	"windows-1252", "cp1252", "x-cp1252", "iso-8859-15", "latin-9", NULL
};

/*
 * append_auto - bytes of no trusted charset: UTF-8 when they hold UTF-8
 * (stray invalid bytes as U+FFFD), windows-1252 when they hold no multi-byte
 * UTF-8 sequence at all. LATIN: the sender said latin-1/1252/ascii, so
 * any invalid byte means they were right.
 */
static void
append_auto(GString *dst, const guchar *p, gsize n, gboolean latin)
{
	gsize i = 0, l, multi = 0, bad = 0;
	gunichar c;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_next(p + i, n - i, &c)) == 0) {
			bad++;
			i++;
		} else {
			multi++;
			i += l;
		}
	}
	if (multi == 0 || (latin && bad > 0)) {
		append_cp1252(dst, p, n);
		return;
	}
	if (bad == 0) {
		g_string_append_len(dst, (const char *)p, n);
		return;
	}
	/* UTF-8 with stray bytes: each bad byte becomes U+FFFD, so the HTML
	 * parser (told "UTF-8") never meets invalid input */
	for (i = 0; i < n; i += l) {
		if ((l = utf8_next(p + i, n - i, &c)) == 0) {
			g_string_append(dst, "\xEF\xBF\xBD");
			l = 1;
		} else {
			g_string_append_len(dst, (const char *)p + i, l);
		}
	}
}

/* iconv_name - the name glibc's iconv knows CS by, or NULL for a name no
 * charset has. Not g_mime_charset_iconv_name(): it remembers every name
 * it is asked about, and senders choose these names. */
static const char *
iconv_name(const char *cs)
{
	static const char *const alias[][2] = {
		{ "ks_c_5601-1987", "CP949" }, { "x-sjis", "SHIFT_JIS" },
		{ "x-gbk", "GBK" }, { "gb_2312-80", "GB2312" },
		{ "x-euc-jp", "EUC-JP" }, { "x-mac-roman", "MACINTOSH" },
		{ "iso-8859-8-i", "ISO-8859-8" }, { "x-x-big5", "BIG5" },
		{ "unicode-1-1-utf-7", "UTF-7" },
	};
	const char *p;
	gsize i;

	for (p = cs; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' &&
		    *p != '.' && *p != ':')
			return NULL;
	if (p == cs || p - cs > CHARSET_MAX_NAME)
		return NULL;
	for (i = 0; i < G_N_ELEMENTS(alias); i++)
		if (g_ascii_strcasecmp(cs, alias[i][0]) == 0)
			return alias[i][1];
	return cs;
}

/* iconv_from - a converter from charset CS (after iconv_name's aliases) to
 * UTF-8, or (GIConv)-1 when iconv knows no such charset */
static GIConv
iconv_from(const char *cs)
{
	return (cs = iconv_name(cs)) != NULL ? g_iconv_open("UTF-8", cs) :
	    (GIConv)-1;
}

/* append_iconv - bytes in CS to UTF-8 through iconv; FALSE when iconv does
 * not know CS. Undecodable bytes become U+FFFD, never an error; *ERRORS
 * (if not NULL) gets how many there were. */
static gboolean
append_iconv(GString *dst, const guchar *p, gsize n, const char *cs,
	     gsize *errors)
{
	GIConv cd;
	char buf[4096];
	gchar *in = (gchar *)p, *outp;
	gsize inleft = n, outleft, bad = 0;

	if ((cd = iconv_from(cs)) == (GIConv)-1)
		return FALSE;
	while (inleft > 0) {
		gsize r;

		outp = buf;
		outleft = sizeof(buf);
		r = g_iconv(cd, &in, &inleft, &outp, &outleft);
		g_string_append_len(dst, buf, outp - buf);
		if (r != (gsize)-1)
			continue;
		if (errno == E2BIG)
			continue;
		/* EILSEQ: skip one byte; EINVAL: cut sequence at the end */
		g_string_append(dst, "\xEF\xBF\xBD");
		bad++;
		if (errno != EILSEQ)
			break;
		in++;
		inleft--;
	}
	/* flush the shift state of stateful encodings (ISO-2022-JP) */
	outp = buf;
	outleft = sizeof(buf);
	g_iconv(cd, NULL, NULL, &outp, &outleft);
	g_string_append_len(dst, buf, outp - buf);
	g_iconv_close(cd);
	if (errors != NULL)
		*errors = bad;
	return TRUE;
}

/* DETECTED - what uchardet's answers are worth. Short texts are where it
 * guesses wildly: "naïve" comes back as IBM852, "El niño comió" as
 * ISO-8859-4, "会议纪要" as WINDOWS-1256. A single-byte answer is taken
 * with MIN_SINGLE_EVIDENCE 8-bit bytes (a sentence with accents, a line
 * of Cyrillic), or with fewer when they come in runs of RUN_EVIDENCE or
 * more on average: whole words of 8-bit bytes are Cyrillic, Greek or
 * Hebrew, never Latin text, where accents stand alone ("Привет" is
 * KOI8-R, "Señor" keeps the windows-1252 reading). Latin-1 answers always
 * mean the windows-1252 reading the fallback gives anyway (it keeps the
 * smart quotes ISO-8859-1 would turn into C1 controls). A multi-byte
 * answer needs MIN_MULTI_EVIDENCE 8-bit bytes (two CJK characters) and an
 * ISO-2022 one an escape into a double-byte set; every answer must also
 * convert every byte without error. */
#define DETECT_SAMPLE 65536	/* bytes uchardet is given */
#define MIN_SINGLE_EVIDENCE 24	/* 8-bit bytes for a single-byte answer */
#define RUN_EVIDENCE 3		/* ... or this many in a row, on average */
#define MIN_MULTI_EVIDENCE 4	/* 8-bit bytes for a multi-byte answer */

typedef enum { DET_NO, DET_SINGLE, DET_MULTI, DET_ISO2022 } DetKind;

/* detected_kind - how uchardet's answer CS is to be judged */
static DetKind
detected_kind(const char *cs)
{
	static const char *const no[] = {
		"", "ascii", "utf-8", "iso-8859-1", "windows-1252",
		"iso-8859-15", NULL
	};
	static const char *const multi[] = {
		"gb18030", "big5", "shift_jis", "euc-jp", "euc-kr", "uhc",
		"euc-tw", NULL
	};

	if (charset_is(cs, no) || g_ascii_strncasecmp(cs, "utf-", 4) == 0 ||
	    g_ascii_strncasecmp(cs, "x-iso-10646", 11) == 0)
		return DET_NO;
	if (g_ascii_strncasecmp(cs, "iso-2022-", 9) == 0)
		return DET_ISO2022;
	return charset_is(cs, multi) ? DET_MULTI : DET_SINGLE;
}

/* utf8_clean - whether the N bytes at P are valid UTF-8 */
static gboolean
utf8_clean(const guchar *p, gsize n)
{
	gsize i = 0, l;
	gunichar c;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_next(p + i, n - i, &c)) == 0)
			return FALSE;
		i += l;
	}
	return TRUE;
}

/*
 * append_detected - N bytes whose label is missing, says nothing (us-ascii
 * on 8-bit text), is unknown or fails: appended as UTF-8 when they are
 * UTF-8, else in the charset uchardet names when that answer has the
 * evidence DETECTED asks for (its name then goes to USED, if not NULL);
 * FALSE (nothing appended) otherwise.
 */
static gboolean
append_detected(GString *dst, const guchar *p, gsize n, char *used)
{
	gsize i, high = 0, runs = 0, shifts = 0, errors = 1, mark = dst->len;
	gboolean ok = FALSE;
	uchardet_t ud;
	DetKind kind;

	for (i = 0; i < n; i++) {
		if (p[i] >= 0x80) {
			high++;
			runs += i == 0 || p[i - 1] < 0x80;
		} else if (p[i] == 0x1B && i + 1 < n && p[i + 1] == '$') {
			shifts++;	/* ISO-2022: into a double-byte set */
		}
	}
	if (high == 0 && shifts == 0)
		return FALSE;
	if (high > 0 && utf8_clean(p, n)) {
		g_string_append_len(dst, (const char *)p, n);
		if (used != NULL)
			used[0] = '\0';
		return TRUE;
	}
	if ((ud = uchardet_new()) == NULL)
		return FALSE;
	if (uchardet_handle_data(ud, (const char *)p,
				 MIN(n, DETECT_SAMPLE)) == 0) {
		uchardet_data_end(ud);
		const char *cs = uchardet_get_charset(ud);

		kind = cs != NULL ? detected_kind(cs) : DET_NO;
		if ((kind == DET_SINGLE && (high >= MIN_SINGLE_EVIDENCE ||
		     (high >= MIN_MULTI_EVIDENCE &&
		      high >= RUN_EVIDENCE * runs))) ||
		    (kind == DET_MULTI && high >= MIN_MULTI_EVIDENCE) ||
		    (kind == DET_ISO2022 && shifts > 0))
			ok = append_iconv(dst, p, n, cs, &errors);
		if (ok && errors == 0 && used != NULL)
			g_strlcpy(used, cs, CHARSET_MAX_NAME + 1);
	}
	uchardet_delete(ud);
	if (ok && errors == 0)
		return TRUE;
	g_string_truncate(dst, mark);
	return FALSE;
}

/* charset_to_utf8 - see charset.h */
void
charset_to_utf8(GString *dst, const guchar *p, gsize n, const char *cs,
		char *used)
{
	gsize errors = 0, mark = dst->len;

	if (used != NULL)
		used[0] = '\0';
	if (cs == NULL || *cs == '\0' || charset_is(cs, utf8_names)) {
		if (!append_detected(dst, p, n, used))
			append_auto(dst, p, n, FALSE);
	} else if (charset_is(cs, ascii_names)) {
		if (!append_detected(dst, p, n, used))
			append_auto(dst, p, n, TRUE);
	} else if (charset_is(cs, latin_names)) {
		/* every byte is some Latin-1 character: the label holds */
		append_auto(dst, p, n, TRUE);
	} else if (append_iconv(dst, p, n, cs, &errors)) {
		/* a label that converts cleanly is the authority */
		g_autoptr(GString) d = g_string_new(NULL);

		if (used != NULL)
			g_strlcpy(used, cs, CHARSET_MAX_NAME + 1);
		if (errors > 0 && append_detected(d, p, n, used)) {
			g_string_truncate(dst, mark);
			g_string_append_len(dst, d->str, d->len);
		}
	} else if (!append_detected(dst, p, n, used)) {
		append_auto(dst, p, n, FALSE);
	}
}

/* charset_known - see charset.h */
gboolean
charset_known(const char *cs, gsize n)
{
	char name[CHARSET_MAX_NAME + 1];
	GIConv cd;

	if (n == 0 || n > CHARSET_MAX_NAME)
		return FALSE;
	memcpy(name, cs, n);
	name[n] = '\0';
	if ((cd = iconv_from(name)) == (GIConv)-1)
		return FALSE;
	g_iconv_close(cd);
	return TRUE;
}
