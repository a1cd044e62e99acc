/*
 * check.h - the C tests' one assertion macro, its counters and the summary
 *
 *	CHECK(cond);
 *	CHECK(cond, "printf format", args...);
 * counts a check; when COND is false it counts a failure and prints
 *	FAIL file:line: cond[: message]
 * on stderr and carries on, so one run reports every failing check.
 *	check_error("what", &error, "substring", ...);
 * checks that a GError is set and says what it should.
 * check_summary(NAME) ends main: it prints the counts and returns the exit
 * status (0 when nothing failed, 1 otherwise).
 *
 * Header-only and static: each test program is one translation unit.
 */
#ifndef GPTMILTER_TESTS_CHECK_H
#define GPTMILTER_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

static int check_count, check_failures;

/* The message is optional; a space is put in front of it so that the format
 * string is never empty (-Wformat-zero-length) and check_at skips it. */
#define CHECK(cond, ...) \
	check_at(!!(cond), __FILE__, __LINE__, #cond, " " __VA_ARGS__)

static inline __attribute__((format(printf, 5, 6))) void
check_at(int ok, const char *file, int line, const char *cond,
	 const char *fmt, ...)
{
	check_count++;
	if (ok)
		return;
	check_failures++;
	fprintf(stderr, "FAIL %s:%d: %s", file, line, cond);
	if (fmt[1] != '\0') {
		va_list ap;

		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt + 1, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

/* check_error(WHAT, &ERR, "substring", ...) - ERR is set and its message
 * contains every substring (CHECK_VERBOSE=1 prints the messages that pass);
 * counts as one check, clears ERR */
static inline void
check_error_at(const char *file, int line, const char *what, GError **err,
	       ...)
{
	check_count++;
	if (*err == NULL) {
		check_failures++;
		fprintf(stderr, "FAIL %s:%d: %s: no error\n", file, line, what);
		return;
	}
	va_list ap;
	va_start(ap, err);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
		if (strstr((*err)->message, s) == NULL) {
			check_failures++;
			fprintf(stderr, "FAIL %s:%d: %s: error \"%s\" lacks "
				"\"%s\"\n", file, line, what, (*err)->message, s);
			break;
		}
	va_end(ap);
	if (g_getenv("CHECK_VERBOSE") != NULL)
		printf("  ok: %s -> %s\n", what, (*err)->message);
	g_clear_error(err);
}
#define check_error(what, err, ...) \
	check_error_at(__FILE__, __LINE__, what, err, __VA_ARGS__, NULL)

/* check_summary - "NAME: N checks, M failed" on stdout; the exit status */
static inline int
check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count,
	       check_failures);
	return check_failures ? 1 : 0;
}

#endif
