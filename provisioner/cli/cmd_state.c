/*
 * cmd_state.c - `secfaas state list|show|rm|mv|history`, `show`, and
 * `force-unlock`.  No cloud calls here: these read or edit the state file
 * only (editing commands lock it and back it up first).
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/engine/plan.h"
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
	fprintf(cli->out, "Backup of the previous state: %s.backup\n", ws.state_path);
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
	fprintf(cli->out, "Moved %s to %s\nBackup of the previous state: %s.backup\n", argv[2], argv[3], ws.state_path);
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
	return sf_cli_errorf(cli, "unknown state subcommand \"%s\"; use list, show, rm, mv or history", sub);
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
		json_t *j = json_pack("{s:s, s:s, s:I, s:o}", "state", ws.state_path, "lineage", sf_state_lineage(ws.st),
				      "serial", (json_int_t)sf_state_serial(ws.st), "resources", arr);
		if (nruns)
			json_object_set_new(j, "last_run",
					    json_pack("{s:s?, s:s?, s:s?, s:s?}", "command", runs[0].command, "result",
						      runs[0].result, "spec_digest", runs[0].spec_digest, "git_sha",
						      runs[0].git_sha));
		sf_cli_print_json(cli, j);
	} else {
		fprintf(cli->out, "State %s (lineage %s, serial %lld): %zu resource%s\n", ws.state_path,
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
	volatile int cancel = 0;
	struct sf_rctx ctx = {.address = addr, .err = &err, .provider = &ws.prov, .cancel = &cancel};
	if (ri->type->read(&ctx, prior, &live) < 0) {
		if (err.code == SF_ENOTFOUND)
			sf_err_hint(&err, "check the id and the spec's settings for %s", addr);
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (!json_object_get(live, "id"))
		json_object_set_new(live, "id", json_string(id));
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
	r.status = SF_RS_CREATED;
	r.attrs = live;
	r.sensitive = sens;
	r.deps = deps;
	r.schema_version = ri->type->schema_version;
	int prc = sf_state_put(ws.st, &r, &err);
	json_decref(sens);
	json_decref(deps);
	if (prc < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Imported %s [id=%s]. Run `secfaas plan` to see how it differs from the spec.\n", addr, id);
	rc = 0;
done:
	json_decref(prior);
	json_decref(live);
	sf_resource_free(have);
	sf_run_close(&ws);
	return rc;
}
