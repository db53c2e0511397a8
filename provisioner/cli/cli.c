/* cli.c - error printing and option matching shared by command handlers (see cli.h). */
#include "provisioner/cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int sf_cli_error(struct sf_cli *cli, const struct sf_err *err)
{
	char buf[1400];
	sf_err_format(err, buf, sizeof buf);
	FILE *f = cli && cli->errf ? cli->errf : stderr;
	/* sf_err_format starts with "where: error:" or "error:"; color the word. */
	const char *e = strstr(buf, "error: ");
	if (cli && cli->color && e) {
		fprintf(f, "secfaas: %.*s\033[1;31merror:\033[0m %s\n", (int)(e - buf), buf, e + 7);
	} else {
		fprintf(f, "secfaas: %s\n", buf);
	}
	return SF_EXIT_ERROR;
}

int sf_cli_errorf(struct sf_cli *cli, const char *fmt, ...)
{
	struct sf_err err = SF_ERR_INIT;
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	sf_fail(&err, SF_ERROR, "%s", m);
	free(m);
	return sf_cli_error(cli, &err);
}

int sf_opt_match(int argc, char **argv, int *i, const char *name, int takes_value, const char **value)
{
	const char *a = argv[*i];
	if (a[0] != '-')
		return 0;
	a += a[1] == '-' ? 2 : 1;
	size_t n = strlen(name);
	if (strncmp(a, name, n))
		return 0;
	if (a[n] == '=') {
		if (value)
			*value = a + n + 1;
		return 1;
	}
	if (a[n])
		return 0;
	if (value)
		*value = NULL;
	if (takes_value) {
		if (*i + 1 >= argc)
			return -1; /* missing value */
		(*i)++;
		if (value)
			*value = argv[*i];
	}
	return 1;
}

void sf_cli_print_json(struct sf_cli *cli, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	fprintf(cli->out, "%s\n", s ? s : "null");
	free(s);
	json_decref(j);
}
