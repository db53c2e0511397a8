/*
 * cmd_apply.c - `secfaas apply`, `destroy` and `refresh`: plan (or load a
 * saved plan), confirm, execute, record the run, print a summary.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/engine/apply.h"
#include "provisioner/kinds/ttl.h"
#include "resources/provider.h"
#include "resources/types.h"
#include "util.h"

struct ui {
	struct sf_cli *cli;
	pthread_mutex_t mu;
};

static const char *verb(const struct sf_apply_event *ev, int done)
{
	const char *p = ev->phase ? ev->phase : sf_action_name(ev->action);
	if (!strcmp(p, "create"))
		return done ? "Creation complete" : "Creating...";
	if (!strcmp(p, "update"))
		return done ? "Modifications complete" : "Modifying...";
	return done ? "Destruction complete" : "Destroying...";
}

static const char *still(const struct sf_apply_event *ev)
{
	const char *p = ev->phase ? ev->phase : "";
	if (!strcmp(p, "create"))
		return "Still creating...";
	if (!strcmp(p, "update"))
		return "Still modifying...";
	return "Still destroying...";
}

static void on_event(void *arg, const struct sf_apply_event *ev)
{
	struct ui *u = arg;
	struct sf_cli *cli = u->cli;
	char el[32], ts[32], who[512];
	sf_duration_fmt(el, sizeof el, ev->elapsed);
	/* the old object of a replacement is named as Terraform does */
	if (ev->deposed)
		snprintf(who, sizeof who, "%s (deposed object %s)", ev->address, ev->deposed);
	else
		snprintf(who, sizeof who, "%s", ev->address);
	pthread_mutex_lock(&u->mu);
	if (cli->json) {
		static const char *types[] = {"apply_start",   "apply_progress", "apply_complete",
					      "apply_errored", "apply_skipped",  "apply_kept"};
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:f}", "type", types[ev->type], "@timestamp",
				      sf_time_rfc3339(ts, sizeof ts, sf_now()), "address", ev->address, "action",
				      ev->phase ? ev->phase : sf_action_name(ev->action), "elapsed_seconds", ev->elapsed);
		if (ev->id)
			json_object_set_new(j, "id", json_string(ev->id));
		if (ev->status)
			json_object_set_new(j, "status", json_string(ev->status));
		if (ev->typical)
			json_object_set_new(j, "typical", json_string(ev->typical));
		if (ev->deposed)
			json_object_set_new(j, "deposed", json_string(ev->deposed));
		if ((ev->type == SF_EV_ERROR || ev->type == SF_EV_SKIPPED) && ev->err)
			json_object_set_new(j, "error", json_string(ev->err->msg));
		char *s = json_dumps(j, JSON_COMPACT);
		fprintf(cli->out, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		switch (ev->type) {
		case SF_EV_START:
			if (ev->id)
				fprintf(cli->out, "%s: %s [id=%s]\n", who, verb(ev, 0), ev->id);
			else
				fprintf(cli->out, "%s: %s\n", who, verb(ev, 0));
			break;
		case SF_EV_PROGRESS:
			fprintf(cli->out, "%s: %s [%s elapsed%s%s%s%s]\n", who, still(ev), el, ev->status ? ", " : "",
				ev->status ? ev->status : "", ev->typical ? ", " : "", ev->typical ? ev->typical : "");
			break;
		case SF_EV_COMPLETE:
			if (ev->id && strcmp(ev->phase ? ev->phase : "", "delete"))
				fprintf(cli->out, "%s: %s after %s [id=%s]\n", who, verb(ev, 1), el, ev->id);
			else
				fprintf(cli->out, "%s: %s after %s\n", who, verb(ev, 1), el);
			break;
		case SF_EV_KEPT:
			fprintf(cli->out, "%s: Kept %s for reuse (the new one replaces it; it is not destroyed)\n", who,
				ev->id ? ev->id : "the old object");
			break;
		case SF_EV_ERROR: {
			char buf[1400];
			sf_err_format(ev->err, buf, sizeof buf);
			fprintf(cli->errf, "%s%s: %s%s\n", cli->color ? "\033[31m" : "", ev->address, buf,
				cli->color ? "\033[0m" : "");
			break;
		}
		case SF_EV_SKIPPED:
			fprintf(cli->errf, "%s: %s\n", ev->address, ev->err ? ev->err->msg : "skipped");
			break;
		}
	}
	fflush(cli->out);
	pthread_mutex_unlock(&u->mu);
}

double sf_progress_interval(void)
{
	const char *e = getenv("SECFAAS_PROGRESS_INTERVAL");
	double v;
	if (e && sf_duration_parse(e, &v) == 0 && v > 0)
		return v;
	return SF_PROGRESS_INTERVAL;
}

/* Before the first operation, run the preflight (credentials) of every
 * provider with planned changes, once each, so a missing or expired
 * credential is one clear error instead of one per resource, and nothing
 * is journaled. */
static int preflight(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan)
{
	size_t np;
	const struct sf_provider *const *ps = sf_provider_all(&np);
	for (size_t k = 0; k < np; k++) {
		int needs = 0;
		for (size_t i = 0; i < plan->n && !needs && ps[k]->preflight; i++)
			needs = plan->v[i].action != SF_ACT_NOOP && sf_provider_of(plan->v[i].type) == ps[k];
		if (!needs)
			continue;
		struct sf_err err = SF_ERR_INIT;
		if (ps[k]->preflight(&ws->prov, &err) < 0) {
			sf_err_prefix(&err, "before changing anything: ");
			return sf_cli_error(cli, &err);
		}
	}
	return 0;
}

/* Record the workspace's expiry (metadata.ttl or --ttl) when it is first
 * applied or when the ttl changes; `gc` destroys it once it has passed. */
static int record_expiry(struct sf_cli *cli, struct sf_ws *ws, int destroy)
{
	struct sf_err err = SF_ERR_INIT;
	const char *ttl = json_string_value(json_object_get(ws->cfg.metadata, "ttl"));
	if (destroy || !ws->cfg.metadata)
		return 0;
	char *old_ttl = NULL;
	sf_state_meta_get(ws->st, "ttl", &old_ttl, &err);
	sf_err_clear(&err);
	int rc = 0;
	if (!ttl) {
		if (old_ttl && (sf_state_meta_set(ws->st, "ttl", NULL, &err) < 0 ||
				sf_state_meta_set(ws->st, "expires_at", NULL, &err) < 0))
			rc = sf_cli_error(cli, &err);
	} else if (!old_ttl || strcmp(old_ttl, ttl)) {
		char at[40];
		if (sf_ttl_expiry(ttl, sf_now(), at, sizeof at, &err) < 0 ||
		    sf_state_meta_set(ws->st, "ttl", ttl, &err) < 0 ||
		    sf_state_meta_set(ws->st, "expires_at", at, &err) < 0)
			rc = sf_cli_error(cli, &err);
		else if (!cli->json)
			fprintf(cli->out, "Workspace %s is ephemeral: expires at %s (ttl %s); `secfaas gc` removes it after that.\n",
				ws->cfg.workspace, at, ttl);
	}
	free(old_ttl);
	return rc;
}

/* Execute a plan against an open, locked workspace. */

int sf_cmd_execute(struct sf_cli *cli, struct sf_ws *ws, struct sf_plan *plan, const char *command)
{
	struct sf_err err = SF_ERR_INIT;
	char summary_in[128];
	snprintf(summary_in, sizeof summary_in, "{\"add\":%d,\"change\":%d,\"destroy\":%d}", plan->add, plan->change,
		 plan->destroy);
	if (record_expiry(cli, ws, plan->destroy_mode))
		return SF_EXIT_ERROR;
	if (preflight(cli, ws, plan))
		return SF_EXIT_ERROR;
	struct sf_run_info ri = {command, plan->spec_digest, NULL, summary_in};
	char *sha = NULL;
	if (ws->git_sha[0]) {
		/* the commit the specs came from; "+dirty" when --allow-dirty used the working tree */
		sha = xasprintf("%s%s", ws->git_sha, ws->git_dirty ? "+dirty" : "");
		if (sf_state_meta_set(ws->st, "git_sha", sha, &err) < 0) {
			free(sha);
			return sf_cli_error(cli, &err);
		}
	}
	ri.git_sha = sha;
	sf_err_clear(&err);
	int64_t run_id = 0;
	if (sf_state_run_begin(ws->st, &ri, &run_id, &err) < 0) {
		free(sha);
		return sf_cli_error(cli, &err);
	}
	free(sha);
	ws->prov.run_id = run_id;
	struct ui u = {cli, PTHREAD_MUTEX_INITIALIZER};
	struct sf_apply_opts o = {
		.parallelism = cli->parallelism,
		.providers = &ws->prov,
		.run_id = run_id,
		.cancel = sf_run_cancel_flag(),
		.event = on_event,
		.ui = &u,
		.progress_interval = sf_progress_interval(),
		.lock_id = ws->locked ? ws->lock_id : NULL,
	};
	struct sf_apply_result res;
	sf_run_signals_install(cli);
	int rc = sf_apply(plan, &ws->cfg, ws->st, &o, &res, &err);
	char summary[256], dur[32];
	snprintf(summary, sizeof summary,
		 "{\"added\":%d,\"changed\":%d,\"destroyed\":%d,\"failed\":%d,\"skipped\":%d,\"seconds\":%.3f}", res.added,
		 res.changed, res.destroyed, res.failed, res.skipped, res.seconds);
	struct sf_err e2 = SF_ERR_INIT;
	sf_state_run_end(ws->st, run_id, rc == 0 ? "ok" : rc == SF_EINTR ? "interrupted" : "error", summary, &e2);
	if (sf_state_snapshot(ws->st, &e2) < 0 && !sf_state_broken(ws->st))
		fprintf(cli->errf, "secfaas: warning: could not record a state snapshot: %s\n", e2.msg);
	sf_duration_fmt(dur, sizeof dur, res.seconds);
	int destroy = plan->destroy_mode;
	const char *Verb = destroy ? "Destroy" : "Apply";
	if (cli->json) {
		fprintf(cli->out,
			"{\"type\":\"%s\",\"added\":%d,\"changed\":%d,\"destroyed\":%d,\"kept\":%d,\"failed\":%d,\"skipped\":%d,\"seconds\":%.3f}\n",
			rc == 0 ? "apply_summary" : "apply_failed", res.added, res.changed, res.destroyed, res.kept,
			res.failed, res.skipped, res.seconds);
	} else if (rc == 0 && destroy) {
		fprintf(cli->out, "\n%sDestroy complete!%s Resources: %d destroyed. (%s)\n", cli->color ? "\033[1;32m" : "",
			cli->color ? "\033[0m" : "", res.destroyed, dur);
	} else if (rc == 0) {
		fprintf(cli->out, "\n%sApply complete!%s Resources: %d added, %d changed, %d destroyed.", cli->color ? "\033[1;32m" : "",
			cli->color ? "\033[0m" : "", res.added, res.changed, res.destroyed);
		if (res.kept)
			fprintf(cli->out, " %d kept for reuse.", res.kept);
		fprintf(cli->out, " (%s)\n", dur);
	} else {
		fprintf(cli->out, "\n%s %s after %s: %d added, %d changed, %d destroyed, %d failed, %d not started.\n", Verb,
			rc == SF_EINTR ? "interrupted" : "failed", dur, res.added, res.changed, res.destroyed, res.failed,
			res.skipped);
		/* what to do next: the state holds every finished step */
		if (rc == SF_EINTR)
			fprintf(cli->out, "The state is saved. Run `secfaas %s` again to continue where it stopped.\n",
				command);
		else
			fprintf(cli->out,
				"The state is saved. Fix the error%s above, then run `secfaas %s` again to continue:\n"
				"finished steps are not repeated%s.\n",
				res.failed > 1 ? "s" : "", command, destroy ? "" : " and failed creates are replaced");
	}
	if (rc != 0)
		return sf_cli_error(cli, &err);
	return SF_EXIT_OK;
}

static int looks_like_plan_file(const char *path)
{
	struct stat st;
	size_t l = strlen(path);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if ((l > 5 && !strcmp(path + l - 5, ".yaml")) || (l > 4 && !strcmp(path + l - 4, ".yml")))
		return 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int c;
	while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r')
		;
	fclose(f);
	return c == '{';
}

static int apply_saved(struct sf_cli *cli, const char *path)
{
	struct sf_ws ws;
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	memset(&ws, 0, sizeof ws);
	int rc;
	if (sf_plan_load(&plan, &ws.cfg, path, sf_types(), &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (plan.errored) {
		rc = sf_cli_errorf(cli, "plan %s is marked errored (planning failed); run `secfaas plan` again", path);
		goto done;
	}
	if ((rc = sf_run_open(cli, &ws, ws.cfg.workspace, "apply", 1, 1, 1)))
		goto done;
	const char *lineage = sf_state_lineage(ws.st);
	int64_t serial = sf_state_serial(ws.st);
	if (strcmp(plan.lineage, lineage)) {
		sf_fail(&err, SF_ESTALE, "plan %s was made for another state (lineage %s; %s has %s)", path, plan.lineage,
			sf_state_path(ws.st), lineage);
		sf_err_hint(&err, "use --state to pick the state the plan was made for, or plan again");
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (plan.serial != serial) {
		sf_fail(&err, SF_ESTALE, "plan %s is stale: the state changed since it was made (serial %lld, now %lld)",
			path, (long long)plan.serial, (long long)serial);
		sf_err_hint(&err, "run `secfaas plan --out %s` again", path);
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (sf_plan_unseal(&plan, &ws.cfg, ws.st, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (!sf_plan_has_changes(&plan)) {
		fprintf(cli->out, "No changes in plan %s. Nothing to apply.\n", path);
		rc = 0;
		goto done;
	}
	{
		/* keep the commit the plan was made from */
		char *plus = strstr(plan.git_sha, "+dirty");
		ws.git_dirty = plus != NULL;
		snprintf(ws.git_sha, sizeof ws.git_sha, "%.*s", plus ? (int)(plus - plan.git_sha) : 40, plan.git_sha);
	}
	rc = sf_cmd_execute(cli, &ws, &plan, plan.destroy_mode ? "destroy" : "apply");
done:
	sf_plan_release(&plan);
	sf_run_close(&ws);
	return rc;
}

/* A workspace this runner leaves to another (apply --all on several
 * runners): one line saying why, exit 0.  reason "locked": another run
 * holds it now; "done": it was applied in this round already. */
static int skipped(struct sf_cli *cli, struct sf_ws *ws, const char *reason, const char *who, int pid,
		   const char *round)
{
	const char *name = ws->cfg.workspace ? ws->cfg.workspace : ws->state_ws ? ws->state_ws : "?";
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s?}", "type", "workspace_skipped", "workspace", name,
				      "reason", reason, "by", who ? who : "", "pid", pid, "round", round);
		char *t = json_dumps(j, JSON_COMPACT);
		fprintf(cli->out, "%s\n", t);
		free(t);
		json_decref(j);
	} else if (!strcmp(reason, "locked") && pid > 0) {
		fprintf(cli->out, "Skipped: workspace %s is being applied by %s (pid %d).\n", name, who, pid);
	} else if (!strcmp(reason, "locked")) {
		fprintf(cli->out, "Skipped: workspace %s is being applied by %s.\n", name, who);
	} else {
		fprintf(cli->out, "Skipped: workspace %s was already applied in round %s by %s.\n", name, round, who);
	}
	return SF_EXIT_OK;
}

static int plan_and_apply(struct sf_cli *cli, int argc, char **argv, const char *command, int destroy)
{
	struct sf_plan_args pa;
	struct sf_ws ws;
	struct sf_plan plan;
	int claimed = 0;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	int rc = sf_parse_plan_args(cli, command, argc, argv, &pa);
	if (rc)
		goto done;
	if (pa.out) {
		rc = sf_cli_errorf(cli, "--out belongs to `secfaas plan`; apply runs the plan it makes");
		goto done;
	}
	if (destroy)
		pa.opts.destroy = 1;
	if (pa.all) {
		if (destroy) {
			rc = sf_cli_errorf(cli, "destroy takes one workspace; use `secfaas apply --all --prune` to remove workspaces deleted from the spec");
			goto done;
		}
		rc = sf_cmd_apply_all(cli, &pa, argv);
		goto done;
	}
	if (!destroy && pa.spec && looks_like_plan_file(pa.spec)) {
		rc = apply_saved(cli, pa.spec);
		goto done;
	}
	if (destroy && !pa.spec && (cli->state_path || pa.state_only)) {
		/* destroy from state alone: the spec is not needed to delete */
		ws.cfg.workspace = NULL;
	} else if ((rc = sf_run_load(cli, pa.spec, &ws))) {
		goto done;
	}
	ws.skip_locked = pa.round || pa.skip_locked;
	if ((rc = sf_run_open(cli, &ws, ws.cfg.workspace, command, !destroy, 1, 1))) {
		if (ws.held)
			rc = skipped(cli, &ws, "locked", ws.holder.who, ws.holder.pid, NULL);
		goto done;
	}
	if (pa.round) {
		struct sf_claim prev;
		struct sf_err err = SF_ERR_INIT;
		if (sf_state_claim(ws.st, pa.round, &prev, &err) < 0) {
			rc = err.code == SF_ECONFLICT ? skipped(cli, &ws, "done", prev.who, prev.pid, pa.round)
						      : sf_cli_error(cli, &err);
			goto done;
		}
		claimed = 1;
	}
	if ((rc = sf_make_plan(cli, &ws, &pa, &plan)))
		goto done;
	if (!sf_plan_has_changes(&plan)) {
		sf_print_plan(cli, &plan, pa.full);
		rc = SF_EXIT_OK;
		goto done;
	}
	/* the plan once, then the events (with --json only the events) */
	if (!cli->json)
		sf_print_plan_ws(cli, &ws, &plan, pa.full,
				 !pa.opts.refresh	 ? SF_PRICES_OFFLINE
				 : cli->auto_approve ? SF_PRICES_UNATTENDED
						     : SF_PRICES_ONLINE);
	if (!cli->auto_approve) {
		int ok = sf_run_confirm(cli, destroy ? "Do you really want to destroy all resources in this workspace?"
						     : "Do you want to perform these actions?",
					"--auto-approve");
		if (ok < 0) {
			rc = SF_EXIT_ERROR;
			goto done;
		}
		if (!ok) {
			fprintf(cli->out, "\n%s cancelled.\n", destroy ? "Destroy" : "Apply");
			rc = SF_EXIT_ERROR;
			goto done;
		}
	}
	if (!cli->json)
		fprintf(cli->out, "\n");
	rc = sf_cmd_execute(cli, &ws, &plan, command);
	if (rc == SF_EXIT_OK && cli->detailed_exitcode)
		rc = SF_EXIT_CHANGES;
done:
	if (claimed) {
		struct sf_err e2 = SF_ERR_INIT;
		if (sf_state_claim_end(ws.st, pa.round, rc == SF_EXIT_OK || rc == SF_EXIT_CHANGES, &e2) < 0)
			fprintf(cli->errf, "secfaas: warning: could not record the end of round %s: %s\n", pa.round, e2.msg);
	}
	sf_plan_release(&plan);
	sf_run_close(&ws);
	sf_plan_args_release(&pa);
	return rc;
}

int cmd_apply(struct sf_cli *cli, int argc, char **argv)
{
	return plan_and_apply(cli, argc, argv, "apply", 0);
}

int cmd_destroy(struct sf_cli *cli, int argc, char **argv)
{
	return plan_and_apply(cli, argc, argv, "destroy", 1);
}

/* The refresh writes what its plan read and judged, not a second read:
 * the plan's reads were batched and side by side (engine/refresh.h), and
 * its verdicts include the ownership proof, so a name-keyed object whose
 * name someone else took is dropped as gone instead of recorded as ours.
 * Rows the spec no longer declares, and rows of an unfinished operation,
 * were not read and stay as they are.  One transaction: a run killed while
 * writing leaves the state as it was before.  The caller holds the lock. */
int sf_refresh_write(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, int *updated, int *removed)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource **res = NULL;
	size_t nres = 0;
	int rc = 0;
	*updated = *removed = 0;
	if (sf_state_list(ws->st, &res, &nres, &err) < 0)
		return sf_cli_error(cli, &err);
	if (sf_state_backup(ws->st, &err) < 0 || sf_state_begin(ws->st, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	for (size_t i = 0; i < nres; i++) {
		const struct sf_change *c = sf_plan_find(plan, res[i]->address);
		if (!c || res[i]->status != SF_RS_CREATED || c->reason == SF_REASON_NO_CONFIG)
			continue;
		int x = 0;
		if (c->reason == SF_REASON_GONE) {
			x = sf_state_remove(ws->st, res[i]->address, &err);
			(*removed)++;
		} else if (c->before && !json_equal(c->before, res[i]->attrs)) {
			json_decref(res[i]->attrs);
			res[i]->attrs = json_incref(c->before);
			x = sf_state_put(ws->st, res[i], &err);
			(*updated)++;
		}
		if (x < 0) {
			sf_state_rollback(ws->st);
			rc = sf_cli_error(cli, &err);
			goto done;
		}
	}
	if (sf_state_commit(ws->st, &err) < 0) {
		sf_state_rollback(ws->st);
		rc = sf_cli_error(cli, &err);
	}
done:
	if (rc)
		*updated = *removed = 0;
	sf_resource_list_free(res, nres);
	return rc;
}

int cmd_refresh(struct sf_cli *cli, int argc, char **argv)
{
	struct sf_plan_args pa;
	struct sf_ws ws;
	struct sf_plan plan;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	int rc = sf_parse_plan_args(cli, "refresh", argc, argv, &pa);
	if (rc)
		goto done;
	pa.opts.refresh_only = 1;
	if (pa.all) {
		rc = sf_cmd_refresh_all(cli, &pa);
		goto done;
	}
	if ((rc = sf_run_load(cli, pa.spec, &ws)) || (rc = sf_run_open(cli, &ws, ws.cfg.workspace, "refresh", 0, 1, 0)) ||
	    (rc = sf_make_plan(cli, &ws, &pa, &plan)))
		goto done;
	sf_print_plan(cli, &plan, pa.full);
	if (!plan.ndrift) {
		rc = SF_EXIT_OK;
		goto done;
	}
	if (!cli->auto_approve) {
		int ok = sf_run_confirm(cli, "Update the state to match the live objects?", "--auto-approve");
		if (ok <= 0) {
			rc = SF_EXIT_ERROR;
			goto done;
		}
	}
	int updated, removed;
	if ((rc = sf_refresh_write(cli, &ws, &plan, &updated, &removed)))
		goto done;
	fprintf(cli->out, "\nRefresh complete: %d resource(s) updated, %d removed from state (deleted outside secfaas).\n",
		updated, removed);
	rc = cli->detailed_exitcode && (updated || removed) ? SF_EXIT_CHANGES : SF_EXIT_OK;
done:
	sf_plan_release(&plan);
	sf_run_close(&ws);
	sf_plan_args_release(&pa);
	return rc;
}
