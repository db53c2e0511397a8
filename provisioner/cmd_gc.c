/*
 * cmd_gc.c - `secfaas gc`: destroy ephemeral workspaces whose TTL passed.
 *
 * Every state file under the state directory (default .secfaas/) that
 * recorded an expiry (metadata.ttl or `apply --ttl`) and is past it is
 * destroyed from its state alone, under its own lock, exactly like
 * `secfaas destroy --state FILE --auto-approve`.  Without --auto-approve (or
 * with --dry-run) gc only lists.  The exit status is 1 if anything expired
 * could not be removed, so schedulers notice leaks.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "plan_cmd.h"
#include "run.h"
#include "ttl.h"
#include "util.h"

static int gc_one(struct sf_cli *cli, const char *path, double now, int act, int *found, int *failed)
{
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan plan;
	char *exp = NULL;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	ws.state_path = xstrdup(path);
	int rc = sf_run_open(cli, &ws, NULL, "gc", 0, act, act);
	if (rc) {
		(*failed)++;
		goto done;
	}
	if (sf_state_meta_get(ws.st, "expires_at", &exp, &err) < 0) {
		rc = 0; /* not ephemeral */
		goto done;
	}
	double left = 0;
	sf_ttl_remaining(exp, now, &left);
	if (sf_ttl_expired(exp, now) != 1) {
		char d[32];
		fprintf(cli->out, "%s: expires %s (in %s); kept\n", path, exp, sf_duration_fmt(d, sizeof d, left));
		goto done;
	}
	(*found)++;
	struct sf_plan_opts po = {.destroy = 1, .providers = &ws.prov};
	if (sf_plan_make(&plan, &ws.cfg, ws.st, &po, &err) < 0) {
		(*failed)++;
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (!act) {
		fprintf(cli->out, "%s: expired at %s; would destroy %d resource(s)\n", path, exp, plan.destroy);
		goto done;
	}
	fprintf(cli->out, "%s: expired at %s; destroying %d resource(s)\n", path, exp, plan.destroy);
	if (sf_plan_has_changes(&plan) && (rc = sf_cmd_execute(cli, &ws, &plan, "gc")) != 0) {
		(*failed)++;
		goto done;
	}
	if (sf_state_meta_set(ws.st, "expires_at", NULL, &err) < 0 || sf_state_meta_set(ws.st, "ttl", NULL, &err) < 0) {
		(*failed)++;
		rc = sf_cli_error(cli, &err);
	}
done:
	free(exp);
	sf_plan_release(&plan);
	sf_run_close(&ws);
	return rc;
}

int cmd_gc(struct sf_cli *cli, int argc, char **argv)
{
	const char *dir = ".secfaas", *at = NULL;
	int dry = 0;
	for (int i = 1; i < argc; i++) {
		int m;
		if (sf_opt_match(argc, argv, &i, "dry-run", 0, NULL) > 0)
			dry = 1;
		else if ((m = sf_opt_match(argc, argv, &i, "state-dir", 1, &dir)) || (m = sf_opt_match(argc, argv, &i, "now", 1, &at))) {
			if (m < 0)
				return sf_cli_errorf(cli, "%s needs a value", argv[i]);
		} else
			return sf_cli_errorf(cli, "unknown argument %s for gc; see `secfaas gc --help`", argv[i]);
	}
	double now = sf_now();
	if (at && sf_time_parse(at, &now) < 0)
		return sf_cli_errorf(cli, "--now must be an RFC 3339 UTC time like 2026-05-02T10:14:07Z");
	int act = !dry && cli->auto_approve;
	DIR *d = opendir(dir);
	if (!d)
		return sf_cli_errorf(cli, "cannot read state directory %s; pass --state-dir DIR", dir);
	char **paths = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 3 && !strcmp(de->d_name + l - 3, ".db")) {
			paths = xrealloc(paths, (n + 1) * sizeof *paths);
			paths[n++] = xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	int found = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		gc_one(cli, paths[i], now, act, &found, &failed);
		free(paths[i]);
	}
	free(paths);
	if (!found)
		fprintf(cli->out, "gc: nothing has expired (%zu state file%s checked)\n", n, n == 1 ? "" : "s");
	else if (!act)
		fprintf(cli->out, "gc: %d expired workspace(s); run `secfaas gc --auto-approve` to destroy them\n", found);
	else
		fprintf(cli->out, "gc: %d expired workspace(s), %d could not be removed\n", found, failed);
	return failed ? SF_EXIT_ERROR : SF_EXIT_OK;
}
