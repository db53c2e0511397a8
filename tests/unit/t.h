/*
 * t.h - a tiny unit-test harness.  Each tests/unit/test_*.c is its own binary:
 *
 *   #include "t.h"
 *   T_TEST(sigv4_vanilla) { T_STREQ(got, "want"); T_OK(x == 1); }
 *   T_MAIN()
 *
 * Tests register themselves through a constructor; T_MAIN runs them all (or
 * only those named on the command line) and prints "N passed, N failed".
 * A failing check prints file:line and the values and fails the test, but
 * the test goes on so one run shows every failure.
 */
#ifndef SF_T_H
#define SF_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct t_case {
	const char *name;
	void (*fn)(void);
	struct t_case *next;
};

extern struct t_case *t_cases;
extern int t_failed_checks;
void t_register(struct t_case *c);
int t_main(int argc, char **argv);

#define T_TEST(name)                                                            \
	static void t_fn_##name(void);                                          \
	static struct t_case t_case_##name = {#name, t_fn_##name, NULL};        \
	__attribute__((constructor)) static void t_reg_##name(void)             \
	{                                                                       \
		t_register(&t_case_##name);                                     \
	}                                                                       \
	static void t_fn_##name(void)

#define T_MAIN()                                                                \
	int main(int argc, char **argv) { return t_main(argc, argv); }

#define T_FAILF(...)                                                            \
	do {                                                                    \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);              \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
		t_failed_checks++;                                              \
	} while (0)

#define T_OK(cond)                                                              \
	do {                                                                    \
		if (!(cond))                                                    \
			T_FAILF("check failed: %s", #cond);                     \
	} while (0)

#define T_EQ(a, b)                                                              \
	do {                                                                    \
		long long t_a = (long long)(a), t_b = (long long)(b);           \
		if (t_a != t_b)                                                 \
			T_FAILF("%s == %s: %lld != %lld", #a, #b, t_a, t_b);    \
	} while (0)

#define T_STREQ(a, b)                                                           \
	do {                                                                    \
		const char *t_a = (a), *t_b = (b);                              \
		if (!t_a || !t_b || strcmp(t_a, t_b))                           \
			T_FAILF("%s == %s:\n    got:  \"%s\"\n    want: \"%s\"", #a, #b, \
				t_a ? t_a : "(null)", t_b ? t_b : "(null)");    \
	} while (0)

#define T_CONTAINS(hay, needle)                                                 \
	do {                                                                    \
		const char *t_h = (hay), *t_n = (needle);                       \
		if (!t_h || !strstr(t_h, t_n))                                  \
			T_FAILF("%s does not contain \"%s\":\n    got: \"%s\"", #hay, t_n, \
				t_h ? t_h : "(null)");                          \
	} while (0)

/* Helpers for tests: a fresh temp dir (removed at exit unless T_KEEP=1),
 * and reading a file under tests/ relative to the source tree. */
const char *t_tmpdir(void);
const char *t_srcdir(void); /* repository root, from SECFAAS_SRC or cwd */

#endif
