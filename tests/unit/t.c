/* t.c - see t.h. */
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

struct t_case *t_cases;
int t_failed_checks;
static char t_dir[256];

void t_register(struct t_case *c)
{
	/* keep source order: append */
	struct t_case **p = &t_cases;
	while (*p)
		p = &(*p)->next;
	*p = c;
}

static void t_cleanup(void)
{
	if (t_dir[0] && !getenv("T_KEEP")) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not remove %s\n", t_dir);
	}
}

const char *t_tmpdir(void)
{
	if (!t_dir[0]) {
		snprintf(t_dir, sizeof t_dir, "%s/sft.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(t_dir)) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(t_cleanup);
	}
	return t_dir;
}

const char *t_srcdir(void)
{
	const char *s = getenv("SECFAAS_SRC");
	return s && *s ? s : ".";
}

int t_main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (struct t_case *c = t_cases; c; c = c->next) {
		if (argc > 1) {
			int want = 0;
			for (int i = 1; i < argc; i++)
				if (!strcmp(argv[i], c->name))
					want = 1;
			if (!want)
				continue;
		}
		int before = t_failed_checks;
		c->fn();
		if (t_failed_checks == before) {
			passed++;
			if (getenv("T_VERBOSE"))
				printf("ok   %s\n", c->name);
		} else {
			failed++;
			printf("FAIL %s\n", c->name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
