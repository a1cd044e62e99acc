/*
 * check.h - the C tests' one assertion macro, its counters and the summary
 *
 *	CHECK(cond);
 *	CHECK(cond, "printf format", args...);
 * counts a check; when COND is false it counts a failure and prints
 *	FAIL file:line: cond[: message]
 * on stderr and carries on, so one run reports every failing check.
 * check_summary(NAME) ends main: it prints the counts and returns the exit
 * status (0 when nothing failed, 1 otherwise).
 *
 * Header-only and static: each test program is one translation unit.
 */
#ifndef GPTMILTER_TESTS_CHECK_H
#define GPTMILTER_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

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

/* check_summary - "NAME: N checks, M failed" on stdout; the exit status */
static inline int
check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count,
	       check_failures);
	return check_failures ? 1 : 0;
}

#endif
