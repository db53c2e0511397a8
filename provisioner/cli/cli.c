/* cli.c - error printing and option matching shared by command handlers (see cli.h). */
#include "provisioner/cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/spec/schema.h"
#include "util.h"

/* Parsed by global_opt in main.c; keep the two in step (tests/help checks
 * every name here is in the help text). */
const char sf_cli_global_options[] = "state= backend= backend-schema= workspace= json no-color parallelism= auto-approve detailed-exitcode "
				     "lock=false lock-timeout= input=false region= profile= ttl= repo= ref= "
				     "subpath= allow-dirty force-conflicts help";

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

/* The option name in arg: "--auto-aprove=x" -> "auto-aprove" (owned). */
static char *option_name(const char *arg)
{
	const char *a = arg + (arg[1] == '-' ? 2 : 1);
	return xstrndup(a, strcspn(a, "="));
}

/* Append the option names of a list ("out= full lock=false") to v. */
static size_t option_names(const char *list, char **v, size_t n, size_t cap)
{
	for (const char *p = list ? list : ""; *p && n < cap;) {
		size_t l = strcspn(p, " ");
		if (l)
			v[n++] = xstrndup(p, strcspn(p, "= ") < l ? strcspn(p, "= ") : l);
		p += l + (p[l] == ' ');
	}
	return n;
}

int sf_cli_unknown_option(struct sf_cli *cli, const char *cmd, const char *arg)
{
	char *names[128];
	size_t n = option_names(cli->cmd_options, names, 0, SF_ARRAY_LEN(names));
	n = option_names(sf_cli_global_options, names, n, SF_ARRAY_LEN(names));
	char *want = option_name(arg);
	const char *hint = *want ? sf_did_you_mean(want, (const char *const *)names, n) : NULL;
	int rc = hint ? sf_cli_errorf(cli, "unknown option %s for %s; did you mean --%s? (see `secfaas %s --help`)", arg,
				      cmd, hint, cmd)
		      : sf_cli_errorf(cli, "unknown option %s for %s; see `secfaas %s --help`", arg, cmd, cmd);
	free(want);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}
