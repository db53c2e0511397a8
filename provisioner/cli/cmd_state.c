/*
 * cmd_state.c - `secfaas state list|show|rm|mv|history|migrate|pull`,
 * `show`, and `force-unlock`.  No cloud calls here: these read or edit the
 * state only (editing commands lock it and back it up first).  migrate
 * copies every workspace between a directory of files and a shared
 * database, either way; pull writes one workspace to a file to inspect.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/engine/ownership.h"
#include "provisioner/engine/plan.h"
#include "provisioner/spec/schema.h"
#include "resources/types.h"
#include "util.h"

/* Open the state named by --state, or by a spec argument's workspace. */
static int open_for(struct sf_cli *cli, struct sf_ws *ws, const char *spec, const char *op, int lock, int backup)
{
	const char *workspace = NULL;
	if (spec && !cli->state_path) {
		if (sf_run_load(cli, spec, ws))
			return SF_EXIT_ERROR;
		workspace = ws->cfg.workspace;
	}
	return sf_run_open(cli, ws, workspace, op, 0, lock, backup);
}

static json_t *redact(const struct sf_resource *r)
{
	json_t *o = json_deep_copy(r->attrs);
	size_t i;
	json_t *v;
	json_array_foreach(r->sensitive, i, v) if (json_is_string(v) && json_object_get(o, json_string_value(v)))
		json_object_set_new(o, json_string_value(v), json_string("(sensitive value)"));
	return o;
}

static void print_resource(struct sf_cli *cli, const struct sf_resource *r)
{
	fprintf(cli->out, "# %s%s\n", r->address,
		r->status == SF_RS_CREATED ? "" : r->status == SF_RS_TAINTED ? " (tainted)" : r->status == SF_RS_CREATING ? " (creating: interrupted)" : r->status == SF_RS_DELETING ? " (deleting: interrupted)" : " (leaked)");
	json_t *o = redact(r);
	const char *k0;
	json_t *v0;
	int w0 = 6;
	json_object_foreach(o, k0, v0) if ((int)strlen(k0) > w0) w0 = (int)strlen(k0);
	fprintf(cli->out, "  %-*s = %s\n", w0, "id", r->id ? r->id : "(none)");
	const char *k;
	json_t *v;
	int width = 0;
	json_object_del(o, "id"); /* printed above */
	json_object_foreach(o, k, v) if ((int)strlen(k) > width) width = (int)strlen(k);
	if (width < 6)
		width = 6;
	json_object_foreach(o, k, v)
	{
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (json_is_string(v) && !strcmp(json_string_value(v), "(sensitive value)"))
			fprintf(cli->out, "  %-*s = (sensitive value)\n", width, k);
		else
			fprintf(cli->out, "  %-*s = %s\n", width, k, s ? s : "?");
		free(s);
	}
	json_decref(o);
}

static json_t *resource_json(const struct sf_resource *r)
{
	return json_pack("{s:s, s:s, s:s?, s:s, s:o, s:O?}", "address", r->address, "type", r->type, "id", r->id, "status",
			 sf_rstatus_name(r->status), "attributes", redact(r), "depends_on", r->deps);
}

static int state_list(struct sf_cli *cli, int argc, char **argv)
{
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource **res = NULL;
	size_t n = 0;
	memset(&ws, 0, sizeof ws);
	const char *glob = NULL, *spec = NULL;
	for (int i = 2; i < argc; i++) {
		if (argv[i][0] == '-')
			return sf_cli_unknown_option(cli, "state", argv[i]);
		if (strchr(argv[i], '/') || strstr(argv[i], ".yaml") || strstr(argv[i], ".yml"))
			spec = argv[i];
		else
			glob = argv[i];
	}
	int rc = open_for(cli, &ws, spec, "state list", 0, 0);
	if (rc)
		goto done;
	if (sf_state_list(ws.st, &res, &n, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	json_t *arr = cli->json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		if (glob && fnmatch(glob, res[i]->address, 0))
			continue;
		if (arr)
			json_array_append_new(arr, resource_json(res[i]));
		else
			fprintf(cli->out, "%s\t%s\t%s\n", res[i]->address, res[i]->id ? res[i]->id : "-",
				sf_rstatus_name(res[i]->status));
	}
	if (arr) {
		sf_cli_print_json(cli, arr);
	}
done:
	sf_resource_list_free(res, n);
	sf_run_close(&ws);
	return rc;
}

static int state_show(struct sf_cli *cli, int argc, char **argv)
{
	if (argc < 3)
		return sf_cli_errorf(cli, "usage: secfaas state show ADDRESS");
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource *r = NULL;
	memset(&ws, 0, sizeof ws);
	int rc = open_for(cli, &ws, argc > 3 ? argv[3] : NULL, "state show", 0, 0);
	if (rc)
		goto done;
	if (sf_state_get(ws.st, argv[2], &r, &err) < 0) {
		if (err.code == SF_ENOTFOUND)
			sf_err_hint(&err, "see `secfaas state list`");
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (cli->json) {
		json_t *j = resource_json(r);
		sf_cli_print_json(cli, j);
	} else {
		print_resource(cli, r);
	}
done:
	sf_resource_free(r);
	sf_run_close(&ws);
	return rc;
}

static int state_rm(struct sf_cli *cli, int argc, char **argv)
{
	if (argc < 3)
		return sf_cli_errorf(cli, "usage: secfaas state rm ADDRESS...");
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	memset(&ws, 0, sizeof ws);
	int rc = open_for(cli, &ws, NULL, "state rm", 1, 1);
	if (rc)
		goto done;
	/* All-or-nothing: check every address first. */
	for (int i = 2; i < argc; i++) {
		struct sf_resource *r = NULL;
		if (sf_state_get(ws.st, argv[i], &r, &err) < 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
		sf_resource_free(r);
	}
	if (sf_state_begin(ws.st, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	for (int i = 2; i < argc; i++)
		if (sf_state_remove(ws.st, argv[i], &err) < 0) {
			sf_state_rollback(ws.st);
			rc = sf_cli_error(cli, &err);
			goto done;
		}
	if (sf_state_commit(ws.st, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	for (int i = 2; i < argc; i++)
		fprintf(cli->out, "Removed %s (the object itself was not touched)\n", argv[i]);
	fprintf(cli->out, "Backup of the previous state: %s\n", sf_state_backup_where(ws.st));
done:
	sf_run_close(&ws);
	return rc;
}

static int state_mv(struct sf_cli *cli, int argc, char **argv)
{
	if (argc != 4)
		return sf_cli_errorf(cli, "usage: secfaas state mv SOURCE DESTINATION");
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	memset(&ws, 0, sizeof ws);
	int rc = open_for(cli, &ws, NULL, "state mv", 1, 1);
	if (rc)
		goto done;
	if (sf_state_rename(ws.st, argv[2], argv[3], &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Moved %s to %s\nBackup of the previous state: %s\n", argv[2], argv[3],
		sf_state_backup_where(ws.st));
done:
	sf_run_close(&ws);
	return rc;
}

static int state_history(struct sf_cli *cli, int argc, char **argv)
{
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	struct sf_run *runs = NULL;
	size_t n = 0;
	memset(&ws, 0, sizeof ws);
	int rc = open_for(cli, &ws, argc > 2 ? argv[2] : NULL, "state history", 0, 0);
	if (rc)
		goto done;
	if (sf_state_runs(ws.st, &runs, &n, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	json_t *arr = cli->json ? json_array() : NULL;
	if (!arr)
		fprintf(cli->out, "RUN\tSTARTED\tCOMMAND\tRESULT\tDURATION\tWHO\tSERIAL\tSPEC\tCOMMIT\n");
	for (size_t i = 0; i < n; i++) {
		char t[32], d[32] = "-";
		sf_time_rfc3339(t, sizeof t, runs[i].started);
		if (runs[i].finished > 0)
			sf_duration_fmt(d, sizeof d, runs[i].finished - runs[i].started);
		if (arr)
			json_array_append_new(arr, json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I}", "run",
							     (json_int_t)runs[i].id, "started", t, "command", runs[i].command,
							     "result", runs[i].result, "who", runs[i].who, "spec_digest",
							     runs[i].spec_digest, "git_sha", runs[i].git_sha, "summary",
							     runs[i].summary, "serial_before", (json_int_t)runs[i].serial_before,
							     "serial_after", (json_int_t)runs[i].serial_after));
		else
			fprintf(cli->out, "%lld\t%s\t%s\t%s\t%s\t%s\t%lld->%lld\t%.12s\t%.12s\n", (long long)runs[i].id, t,
				runs[i].command ? runs[i].command : "-", runs[i].result ? runs[i].result : "running/died", d,
				runs[i].who ? runs[i].who : "-", (long long)runs[i].serial_before,
				(long long)runs[i].serial_after, runs[i].spec_digest ? runs[i].spec_digest : "-",
				runs[i].git_sha ? runs[i].git_sha : "-");
	}
	if (arr) {
		sf_cli_print_json(cli, arr);
	}
done:
	sf_run_free(runs, n);
	sf_run_close(&ws);
	return rc;
}

/* ---- moving state between backends ------------------------------------------- */

static int count_of(struct sf_state *st, int runs)
{
	struct sf_err err = SF_ERR_INIT;
	size_t n = 0;
	if (runs) {
		struct sf_run *r = NULL;
		if (sf_state_runs(st, &r, &n, &err) == 0)
			sf_run_free(r, n);
	} else {
		struct sf_resource **r = NULL;
		if (sf_state_list(st, &r, &n, &err) == 0)
			sf_resource_list_free(r, n);
	}
	return (int)n;
}

/* Copy the workspace open in src into dst (both open and locked).  *same: it
 * was already there.  0 or SF_EXIT_ERROR (printed). */
static int copy_into(struct sf_cli *cli, struct sf_ws *dst, struct sf_ws *src, int *same)
{
	struct sf_err err = SF_ERR_INIT;
	const char *sl = sf_state_lineage(src->st), *dl = sf_state_lineage(dst->st);
	*same = sl && dl && !strcmp(sl, dl) && sf_state_serial(src->st) == sf_state_serial(dst->st);
	if (sf_state_copy(dst->st, src->st, &err) < 0)
		return sf_cli_error(cli, &err);
	return 0;
}

/* Workspaces of the current backend (or the one --workspace/--state names). */
static int source_names(struct sf_cli *cli, char ***names, size_t *n)
{
	struct sf_err err = SF_ERR_INIT;
	const char *w = getenv("SECFAAS_WORKSPACE");
	*names = NULL;
	*n = 0;
	if (cli->state_path || (w && *w)) {
		const char *name = w && *w ? w : NULL;
		char *base = NULL;
		if (!name) {
			const char *b = strrchr(cli->state_path, '/');
			base = xstrdup(b ? b + 1 : cli->state_path);
			size_t l = strlen(base);
			if (l > 3 && !strcmp(base + l - 3, ".db"))
				base[l - 3] = 0;
		}
		*names = xcalloc(1, sizeof **names);
		(*names)[0] = base ? base : xstrdup(name);
		*n = 1;
		return 0;
	}
	struct sf_state_opts so = {.schema = cli->backend_schema};
	const char *dir = sf_run_state_dir(cli);
	if (sf_state_workspaces(dir ? dir : cli->backend, &so, names, n, &err) < 0)
		return sf_cli_error(cli, &err);
	if (!*n)
		return sf_cli_errorf(cli, "no workspaces in %s to move", dir ? dir : "the shared state");
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int state_migrate(struct sf_cli *cli, int argc, char **argv)
{
	const char *to = NULL, *to_schema = NULL;
	for (int i = 2; i < argc; i++) {
		int m;
		if ((m = sf_opt_match(argc, argv, &i, "to", 1, &to)) || (m = sf_opt_match(argc, argv, &i, "to-schema", 1,
											  &to_schema))) {
			if (m < 0)
				return sf_cli_errorf(cli, "%s needs a value", argv[i]);
		} else if (argv[i][0] == '-') {
			return sf_cli_unknown_option(cli, "state", argv[i]);
		} else {
			return sf_cli_errorf(cli, "unknown argument %s for state migrate; see `secfaas state --help`", argv[i]);
		}
	}
	if (!to || !*to)
		return sf_cli_errorf(cli, "usage: secfaas state migrate --to postgres://...|DIR|FILE.db [--to-schema NAME]");
	int to_url = sf_state_target_is_url(to);
	size_t tl = strlen(to);
	int to_file = !to_url && tl > 3 && !strcmp(to + tl - 3, ".db");
	char **names = NULL;
	size_t n = 0;
	int rc = source_names(cli, &names, &n);
	if (rc)
		return rc;
	if (to_file && n != 1) {
		free_names(names, n);
		return sf_cli_errorf(cli, "%s is one state file but there are %zu workspaces; give a directory or --workspace",
				     to, n);
	}
	int moved = 0, already = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct sf_ws src, dst;
		memset(&src, 0, sizeof src);
		memset(&dst, 0, sizeof dst);
		int same = 0;
		src.key_from_state = 1;
		if (sf_run_state_target(cli, names[i], &src.state_path, &src.state_ws) ||
		    sf_run_open(cli, &src, names[i], "state migrate", 0, 1, 0)) {
			failed++;
			goto next;
		}
		if (to_url) {
			dst.state_path = xstrdup(to);
			dst.state_ws = xstrdup(names[i]);
			dst.state_schema = to_schema;
		} else {
			size_t dl = strlen(to);
			while (dl > 1 && to[dl - 1] == '/')
				dl--;
			dst.state_path = to_file ? xstrdup(to) : xasprintf("%.*s/%s.db", (int)dl, to, names[i]);
		}
		const char *ds = to_schema ? to_schema : cli->backend_schema, *ss = cli->backend_schema;
		int same_schema = !strcmp(ds ? ds : SF_STATE_DEFAULT_SCHEMA, ss ? ss : SF_STATE_DEFAULT_SCHEMA);
		if (!strcmp(dst.state_path, src.state_path) &&
		    (dst.state_ws ? src.state_ws && !strcmp(dst.state_ws, src.state_ws) && same_schema : !src.state_ws)) {
			sf_cli_errorf(cli, "%s: the target is where its state already is; name another --to", names[i]);
			failed++;
			goto next;
		}
		if (sf_run_open(cli, &dst, names[i], "state migrate", 1, 1, 0) || copy_into(cli, &dst, &src, &same)) {
			failed++;
			goto next;
		}
		if (same)
			already++;
		else
			moved++;
		int nr = count_of(dst.st, 0), nh = count_of(dst.st, 1);
		fprintf(cli->out, "%s: %s %s (lineage %s, serial %lld, %d resource%s, %d run%s)\n", names[i],
			same ? "already in" : "copied to", sf_state_path(dst.st), sf_state_lineage(dst.st),
			(long long)sf_state_serial(dst.st), nr, nr == 1 ? "" : "s", nh, nh == 1 ? "" : "s");
next:
		sf_run_close(&dst);
		sf_run_close(&src);
	}
	free_names(names, n);
	fprintf(cli->out, "\nMigrated %d workspace%s, %d already there, %d failed.\n", moved, moved == 1 ? "" : "s",
		already, failed);
	if (!failed && !getenv("SECFAAS_IN_AUTOMATION"))
		fprintf(cli->out, "Point secfaas at the new location with --backend %s (or SECFAAS_BACKEND, or backend.url "
				  "in secfaas.yaml). The old copy is left as it was.\n",
			to_url ? "URL" : to);
	return failed ? SF_EXIT_ERROR : SF_EXIT_OK;
}

static int state_pull(struct sf_cli *cli, int argc, char **argv)
{
	const char *file = NULL;
	for (int i = 2; i < argc; i++) {
		if (argv[i][0] == '-')
			return sf_cli_unknown_option(cli, "state", argv[i]);
		if (file)
			return sf_cli_errorf(cli, "usage: secfaas state pull [FILE.db]");
		file = argv[i];
	}
	struct sf_ws src, dst;
	struct sf_err err = SF_ERR_INIT;
	memset(&src, 0, sizeof src);
	memset(&dst, 0, sizeof dst);
	char *path = NULL, *tmp = NULL, *tmpkey = NULL, *key = NULL, *how = NULL;
	src.key_from_state = 1;
	int rc = sf_run_open(cli, &src, NULL, "state pull", 0, 1, 0), same = 0;
	if (rc)
		goto done;
	const char *name = src.state_ws;
	if (!name) {
		const char *b = strrchr(src.state_path, '/');
		name = b ? b + 1 : src.state_path;
	}
	size_t nl = strlen(name);
	path = file ? xstrdup(file) : nl > 3 && !strcmp(name + nl - 3, ".db") ? xstrdup(name) : xasprintf("%s.db", name);
	if (!strcmp(path, src.state_path)) {
		rc = sf_cli_errorf(cli, "%s is the state itself; name another file", path);
		goto done;
	}
	/* Never overwrite somebody else's state: an existing file must hold
	 * this same state (an older pull). */
	if (access(path, F_OK) == 0) {
		struct sf_state *old = NULL;
		struct sf_state_opts ro = {.readonly = 1};
		if (sf_state_open(&old, path, &ro, &err) < 0 || !sf_state_lineage(old) ||
		    strcmp(sf_state_lineage(old), sf_state_lineage(src.st))) {
			sf_state_close(old);
			rc = sf_cli_errorf(cli, "%s exists and is not a copy of this state; remove it or name another file",
					   path);
			goto done;
		}
		sf_state_close(old);
	}
	/* Written beside the target, then renamed over it: a failed pull
	 * leaves any earlier copy whole. */
	tmp = xasprintf("%s.pull.%ld", path, (long)getpid());
	tmpkey = xasprintf("%s.key", tmp);
	key = xasprintf("%s.key", path);
	dst.state_path = xstrdup(tmp);
	if ((rc = sf_run_open(cli, &dst, NULL, "state pull", 1, 0, 0)) || (rc = copy_into(cli, &dst, &src, &same)))
		goto done;
	int nr = count_of(dst.st, 0), nh = count_of(dst.st, 1);
	char *lineage = xstrdup(sf_state_lineage(dst.st));
	long long serial = (long long)sf_state_serial(dst.st);
	struct sf_err e2 = SF_ERR_INIT;
	sf_state_meta_get(dst.st, "key_source", &how, &e2);
	sf_state_close(dst.st);
	dst.st = NULL;
	/* the old copy's -wal/-shm belong to it, never to the new file */
	char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
	if ((access(tmpkey, F_OK) == 0 && rename(tmpkey, key) < 0) || rename(tmp, path) < 0) {
		rc = sf_cli_errorf(cli, "cannot write %s: %s", path, strerror(errno));
		free(lineage);
		goto done;
	}
	fprintf(cli->out, "Pulled %s (lineage %s, serial %lld, %d resource%s, %d run%s) into %s.\n",
		sf_state_path(src.st), lineage, serial, nr, nr == 1 ? "" : "s", nh, nh == 1 ? "" : "s", path);
	free(lineage);
	if (!getenv("SECFAAS_IN_AUTOMATION")) {
		fprintf(cli->out, "Read it with `secfaas --state %s state list`", path);
		if (how && !strcmp(how, "key_file"))
			fprintf(cli->out, " (its secrets are sealed with the key file %s)", key);
		else if (how && !strcmp(how, "kms"))
			fprintf(cli->out, " (its secrets need the same KMS key)");
		else if (how)
			fprintf(cli->out, " (its secrets need the same SECFAAS_STATE_PASSPHRASE)");
		fprintf(cli->out, ".\n");
	}
done:
	if (tmp && access(tmp, F_OK) == 0 && rc) {
		unlink(tmp);
		unlink(tmpkey);
	}
	sf_run_close(&dst);
	sf_run_close(&src);
	free(path);
	free(tmp);
	free(tmpkey);
	free(key);
	free(how);
	return rc;
}

static int state_restore(struct sf_cli *cli, int argc, char **argv)
{
	long long serial = 0;
	if (argc != 3 || !sf_scalar_is_int(argv[2], &serial) || serial < 0)
		return sf_cli_errorf(cli, "usage: secfaas state restore SERIAL (a serial `secfaas state history` lists)");
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	memset(&ws, 0, sizeof ws);
	int rc = open_for(cli, &ws, NULL, "state restore", 1, 1);
	if (rc)
		goto done;
	if (sf_state_restore(ws.st, serial, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Restored the resources of serial %lld as serial %lld\nBackup of the previous state: %s\n",
		serial, (long long)sf_state_serial(ws.st), sf_state_backup_where(ws.st));
done:
	sf_run_close(&ws);
	return rc;
}

int cmd_state(struct sf_cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return sf_cli_errorf(cli, "usage: secfaas state list|show|rm|mv|history ...; see `secfaas state --help`");
	const char *sub = argv[1];
	if (!strcmp(sub, "list"))
		return state_list(cli, argc, argv);
	if (!strcmp(sub, "show"))
		return state_show(cli, argc, argv);
	if (!strcmp(sub, "rm"))
		return state_rm(cli, argc, argv);
	if (!strcmp(sub, "mv"))
		return state_mv(cli, argc, argv);
	if (!strcmp(sub, "history"))
		return state_history(cli, argc, argv);
	if (!strcmp(sub, "restore"))
		return state_restore(cli, argc, argv);
	if (!strcmp(sub, "migrate"))
		return state_migrate(cli, argc, argv);
	if (!strcmp(sub, "pull"))
		return state_pull(cli, argc, argv);
	return sf_cli_errorf(cli, "unknown state subcommand \"%s\"; use list, show, rm, mv, history, restore, migrate or pull",
			     sub);
}

int cmd_show(struct sf_cli *cli, int argc, char **argv)
{
	const char *arg = NULL;
	int full = 0;
	for (int i = 1; i < argc; i++) {
		if (sf_opt_match(argc, argv, &i, "full", 0, NULL) > 0)
			full = 1;
		else if (argv[i][0] == '-')
			return sf_cli_unknown_option(cli, "show", argv[i]);
		else if (!arg)
			arg = argv[i];
		else
			return sf_cli_errorf(cli, "show takes one plan file or spec; got \"%s\" and \"%s\"", arg, argv[i]);
	}
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	memset(&ws, 0, sizeof ws);
	int rc = 0;
	/* A plan file? */
	if (arg && !strstr(arg, ".yaml") && !strstr(arg, ".yml")) {
		struct sf_plan plan;
		struct sf_config cfg = SF_CONFIG_INIT;
		if (sf_plan_load(&plan, &cfg, arg, sf_types(), &err) == 0) {
			fprintf(cli->errf, "Plan %s (made %s for workspace %s, state serial %lld)\n", arg, plan.created,
				cfg.workspace, (long long)plan.serial);
			sf_print_plan(cli, &plan, full);
			sf_plan_release(&plan);
			sf_config_release(&cfg);
			return 0;
		}
		sf_plan_release(&plan);
		sf_config_release(&cfg);
		if (err.code != SF_ECORRUPT)
			return sf_cli_error(cli, &err);
		sf_err_clear(&err);
	}
	struct sf_resource **res = NULL;
	size_t n = 0;
	struct sf_run *runs = NULL;
	size_t nruns = 0;
	if ((rc = open_for(cli, &ws, arg, "show", 0, 0)))
		goto done;
	if (sf_state_list(ws.st, &res, &n, &err) < 0 || sf_state_runs(ws.st, &runs, &nruns, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, resource_json(res[i]));
		json_t *j = json_pack("{s:s, s:s, s:I, s:o}", "state", sf_state_path(ws.st), "lineage", sf_state_lineage(ws.st),
				      "serial", (json_int_t)sf_state_serial(ws.st), "resources", arr);
		if (nruns)
			json_object_set_new(j, "last_run",
					    json_pack("{s:s?, s:s?, s:s?, s:s?}", "command", runs[0].command, "result",
						      runs[0].result, "spec_digest", runs[0].spec_digest, "git_sha",
						      runs[0].git_sha));
		sf_cli_print_json(cli, j);
	} else {
		fprintf(cli->out, "State %s (lineage %s, serial %lld): %zu resource%s\n", sf_state_path(ws.st),
			sf_state_lineage(ws.st), (long long)sf_state_serial(ws.st), n, n == 1 ? "" : "s");
		if (nruns) {
			char t[32];
			sf_time_rfc3339(t, sizeof t, runs[0].started);
			fprintf(cli->out, "Last run: %s %s at %s by %s%s%s\n", runs[0].command ? runs[0].command : "?",
				runs[0].result ? runs[0].result : "(did not finish)", t, runs[0].who ? runs[0].who : "?",
				runs[0].git_sha ? ", commit " : "", runs[0].git_sha ? runs[0].git_sha : "");
		}
		fprintf(cli->out, "\n");
		for (size_t i = 0; i < n; i++) {
			print_resource(cli, res[i]);
			fprintf(cli->out, "\n");
		}
	}
done:
	sf_resource_list_free(res, n);
	sf_run_free(runs, nruns);
	sf_run_close(&ws);
	return rc;
}

int cmd_force_unlock(struct sf_cli *cli, int argc, char **argv)
{
	const char *id = NULL, *spec = NULL;
	int force = 0;
	for (int i = 1; i < argc; i++) {
		if (sf_opt_match(argc, argv, &i, "force", 0, NULL) > 0)
			force = 1;
		else if (argv[i][0] == '-')
			return sf_cli_unknown_option(cli, "force-unlock", argv[i]);
		else if (!id)
			id = argv[i];
		else
			spec = argv[i];
	}
	if (!id)
		return sf_cli_errorf(cli, "usage: secfaas force-unlock LOCK_ID [--force]; the ID is printed when a lock blocks a run");
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	memset(&ws, 0, sizeof ws);
	int rc = open_for(cli, &ws, spec, "force-unlock", 0, 0);
	if (rc)
		goto done;
	if (!force && !cli->auto_approve && cli->input) {
		int ok = sf_run_confirm(cli, "Remove the lock? Only do this if no secfaas run is using this state.",
					"--force");
		if (ok <= 0) {
			rc = SF_EXIT_ERROR;
			goto done;
		}
	}
	if (sf_lock_force_unlock(ws.st, id, force, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Lock %s removed. The state is unlocked.\n", id);
done:
	sf_run_close(&ws);
	return rc;
}

int cmd_import(struct sf_cli *cli, int argc, char **argv)
{
	const char *addr = NULL, *id = NULL, *spec = NULL;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			return sf_cli_unknown_option(cli, "import", argv[i]);
		if (!addr)
			addr = argv[i];
		else if (!id)
			id = argv[i];
		else
			spec = argv[i];
	}
	if (!addr || !id)
		return sf_cli_errorf(cli, "usage: secfaas import ADDRESS ID [SPEC]");
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource *have = NULL;
	json_t *prior = NULL, *live = NULL;
	memset(&ws, 0, sizeof ws);
	int rc = sf_run_load(cli, spec, &ws);
	if (rc)
		goto done;
	const struct sf_rinst *ri = sf_config_find(&ws.cfg, addr);
	if (!ri) {
		rc = sf_cli_errorf(cli, "%s is not declared in the spec; add it first so secfaas knows its type and settings",
				   addr);
		goto done;
	}
	if ((rc = sf_run_open(cli, &ws, ws.cfg.workspace, "import", 1, 1, 1)))
		goto done;
	if (sf_state_get(ws.st, addr, &have, &err) == 0) {
		rc = sf_cli_errorf(cli, "%s is already in the state (id %s); `secfaas state rm %s` first to re-import", addr,
				   have->id ? have->id : "-", addr);
		goto done;
	}
	sf_err_clear(&err);
	if (sf_own_of(ri->type) && sf_own_of(ri->type)->kind == SF_OWN_REF) {
		rc = sf_cli_errorf(cli, "%s names an existing %s that secfaas only reads and never owns; there is nothing to import (apply reads it)",
				   addr, sf_own_of(ri->type)->noun);
		goto done;
	}
	if (!ri->type->read) {
		rc = sf_cli_errorf(cli, "resource type %s cannot be imported", ri->type->name);
		goto done;
	}
	/* The prior is the spec's settings (without unresolved references) plus
	 * the id: enough for a read to locate the live object. */
	prior = json_deep_copy(ri->config);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(prior, tmp, k, v) if (json_is_string(v) && strstr(json_string_value(v), "${"))
		json_object_del(prior, k);
	json_object_set_new(prior, "id", json_string(id));
	/* name-keyed types find the object by name: the id is the name (for a
	 * node group, CLUSTER/NAME as in the state) */
	if (sf_rtype_attr(ri->type, "nodegroup_name")) {
		const char *slash = strrchr(id, '/');
		json_object_set_new(prior, "nodegroup_name", json_string(slash ? slash + 1 : id));
	} else if (sf_rtype_attr(ri->type, "name") && !json_object_get(prior, "name")) {
		json_object_set_new(prior, "name", json_string(id));
	}
	char token[33];
	sf_state_token(ws.st, addr, "import", (int)sf_state_serial(ws.st), token);
	volatile int cancel = 0;
	struct sf_rctx ctx = {.address = addr, .token = token, .err = &err, .provider = &ws.prov, .cancel = &cancel};
	if (ri->type->read(&ctx, prior, &live) < 0) {
		if (err.code == SF_ENOTFOUND)
			sf_err_hint(&err, "check the id and the spec's settings for %s", addr);
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (!json_object_get(live, "id"))
		json_object_set_new(live, "id", json_string(id));
	/* The deliberate takeover (resource.h, the ownership rule): say whose
	 * it was, then write this state's ownership tags on it, so the engine
	 * and `gc` count it as this state's from now on. */
	const struct sf_own *own = sf_own_of(ri->type);
	char *was = NULL;
	if (own && own->marks) {
		char *mid = NULL;
		json_t *tags = NULL;
		if (own->marks(&ctx, live, &mid, &tags) == 0)
			was = sf_own_is_ours(tags, sf_state_lineage(ws.st), addr, NULL) ? xstrdup("this state already")
											: sf_own_owner(tags);
		sf_err_clear(&err);
		free(mid);
		json_decref(tags);
	}
	if (own && own->claim) {
		int64_t jid = 0;
		struct sf_providers *pv = &ws.prov;
		json_t *tags = json_pack("{s:s, s:s, s:s, s:s}", SF_TAG_WORKSPACE, pv->workspace ? pv->workspace : "",
					 SF_TAG_LINEAGE, sf_state_lineage(ws.st), SF_TAG_ADDRESS, addr, SF_TAG_TOKEN, token);
		/* journalled as an update of the object (its tags) */
		int crc = sf_journal_intent(ws.st, 0, addr, "update", token, "{\"import\":true}", &jid, &err);
		if (!crc)
			crc = own->claim(&ctx, live, tags);
		json_decref(tags);
		struct sf_err je = SF_ERR_INIT;
		if (jid)
			sf_journal_result(ws.st, jid, crc == 0, crc ? "{\"ok\":false}" : "{\"ok\":true}", &je);
		if (crc < 0) {
			sf_err_prefix(&err, "taking %s over: ", addr);
			rc = sf_cli_error(cli, &err);
			free(was);
			goto done;
		}
	}
	struct sf_resource r = {0};
	json_t *sens = json_array(), *deps = json_array();
	for (const struct sf_attr_def *a = ri->type->attrs; a->name; a++)
		if (a->flags & SF_ATTR_SENSITIVE)
			json_array_append_new(sens, json_string(a->name));
	for (size_t i = 0; i < ri->ndeps; i++)
		json_array_append_new(deps, json_string(ri->deps[i]));
	r.address = (char *)addr;
	r.type = (char *)ri->type->name;
	r.id = (char *)id;
	r.token = token;
	r.status = SF_RS_CREATED;
	r.attrs = live;
	r.sensitive = sens;
	r.deps = deps;
	r.schema_version = ri->type->schema_version;
	int prc = sf_state_put(ws.st, &r, &err);
	json_decref(sens);
	json_decref(deps);
	if (prc < 0) {
		free(was);
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Imported %s [id=%s].\n", addr, id);
	if (own && own->kind != SF_OWN_LOCAL)
		fprintf(cli->out,
			"This state now owns %s %s%s%s%s: its ownership tags name this state, the next apply changes it to "
			"match the spec, and `secfaas destroy` deletes it.\n",
			own->noun, id, was ? " (owned until now by " : "", was ? was : "", was ? ")" : "");
	if (own && own->proof && own->kind != SF_OWN_LOCAL)
		fprintf(cli->out, "What comes with it: %s.\n", own->proof);
	fprintf(cli->out, "Run `secfaas plan` to see how it differs from the spec.\n");
	free(was);
	rc = 0;
done:
	json_decref(prior);
	json_decref(live);
	sf_resource_free(have);
	sf_run_close(&ws);
	return rc;
}
