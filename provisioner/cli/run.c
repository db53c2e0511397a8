/* run.c - command setup helpers (see run.h). */
#include "provisioner/cli/run.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provisioner/kinds/gitsrc.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/kinds/modules.h"
#include "util.h"

static volatile int cancel_flag;
static volatile sig_atomic_t signals_seen;

volatile int *sf_run_cancel_flag(void)
{
	return &cancel_flag;
}

static void on_signal(int sig)
{
	(void)sig;
	signals_seen++;
	if (signals_seen == 1) {
		cancel_flag = 1;
		static const char msg[] =
			"\nsecfaas: interrupt received: no new operations will start; waiting for running ones to stop and saving state. Press Ctrl-C again to exit at once.\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		return;
	}
	static const char msg2[] = "\nsecfaas: second interrupt: exiting now; per-step state is saved, the lock will be reclaimed\n";
	ssize_t w = write(2, msg2, sizeof msg2 - 1);
	(void)w;
	_exit(1);
}

void sf_run_signals_install(struct sf_cli *cli)
{
	(void)cli;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

const char *sf_run_default_spec(void)
{
	const char *s = getenv("SECFAAS_SPEC");
	if (s && *s)
		return s;
	return "secfaas.yaml";
}

int sf_run_load_set(struct sf_cli *cli, const char *spec, struct sf_specset *set, struct sf_diags *d, char *sha,
		    int *dirty)
{
	struct sf_module_opts mo = SF_MODULE_OPTS_INIT;
	if (sha)
		sha[0] = 0;
	if (cli->repo) {
		struct sf_gitsrc_opts o = SF_GITSRC_OPTS_INIT;
		struct sf_gitsrc_result res = SF_GITSRC_RESULT_INIT;
		o.repo = cli->repo;
		o.ref = cli->ref;
		o.subpath = cli->subpath ? cli->subpath : spec;
		o.allow_dirty = cli->allow_dirty;
		int rc = sf_gitsrc_load(set, &o, &res, d);
		if (rc == 0) {
			if (sha)
				snprintf(sha, 41, "%s", res.sha);
			if (dirty)
				*dirty = res.dirty;
			mo.git_repo = cli->repo;
			mo.git_sha = res.sha;
			rc = sf_modules_expand(set, &mo, d);
		}
		sf_gitsrc_result_release(&res);
		return rc;
	}
	if (cli->ref)
		sf_diag_error(d, NULL, "--ref needs --repo");
	const char *path = spec ? spec : sf_run_default_spec();
	if (!spec && access(path, F_OK) != 0) {
		sf_diag_error(d, NULL,
			      "no spec given and %s not found; pass a spec file or directory (e.g. `secfaas plan examples/minimal.yaml`)",
			      path);
		return -1;
	}
	if (sf_spec_load_path(set, path, d) < 0 || d->nerrors)
		return -1;
	return sf_modules_expand(set, &mo, d);
}

int sf_run_load(struct sf_cli *cli, const char *spec, struct sf_ws *ws)
{
	struct sf_diags d = SF_DIAGS_INIT;
	const char *path = spec ? spec : cli->repo ? cli->repo : sf_run_default_spec();
	sf_run_load_set(cli, spec, &ws->set, &d, ws->git_sha, &ws->git_dirty);
	if (!d.nerrors)
		sf_config_build(&ws->cfg, &ws->set, getenv("SECFAAS_WORKSPACE"), &d);
	int bad = d.nerrors > 0;
	const char *ttl = getenv("SECFAAS_TTL");
	if (!bad && ttl && *ttl) {
		if (!ws->cfg.metadata)
			ws->cfg.metadata = json_object();
		json_object_set_new(ws->cfg.metadata, "ttl", json_string(ttl));
	}
	sf_diags_print(&d, cli->errf, cli->color);
	if (bad)
		fprintf(cli->errf, "secfaas: %zu error%s in %s; nothing was changed\n", d.nerrors, d.nerrors == 1 ? "" : "s",
			path);
	sf_diags_release(&d);
	return bad ? SF_EXIT_ERROR : 0;
}

int sf_run_state_path(struct sf_cli *cli, const char *workspace, char **out)
{
	if (cli->state_path) {
		*out = xstrdup(cli->state_path);
		return 0;
	}
	if (workspace) {
		*out = xasprintf(".secfaas/%s.db", workspace);
		return 0;
	}
	DIR *d = opendir(".secfaas");
	char *found = NULL;
	int n = 0;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l > 3 && !strcmp(de->d_name + l - 3, ".db")) {
				n++;
				free(found);
				found = xasprintf(".secfaas/%s", de->d_name);
			}
		}
		closedir(d);
	}
	if (n == 1) {
		*out = found;
		return 0;
	}
	free(found);
	return sf_cli_errorf(cli, n ? "several state files in .secfaas/; choose one with --state PATH or give the spec"
				    : "no state found (.secfaas/ has no state); pass --state PATH or the spec");
}

static void print_lock(struct sf_cli *cli, const struct sf_lock_info *li)
{
	char c[32], ago[32], hb[32];
	double now = sf_now();
	sf_time_rfc3339(c, sizeof c, li->created);
	sf_duration_fmt(ago, sizeof ago, now - li->created);
	sf_duration_fmt(hb, sizeof hb, now - li->heartbeat);
	fprintf(cli->errf, "secfaas: error: state is locked\n");
	fprintf(cli->errf, "  ID:        %s\n", li->id);
	fprintf(cli->errf, "  Operation: %s   Who: %s (pid %d)   Version: %s\n", li->operation, li->who, li->pid,
		li->version);
	fprintf(cli->errf, "  Created:   %s (%s ago)   Heartbeat: %s ago\n", c, ago, hb);
	if (li->info[0])
		fprintf(cli->errf, "  Info:      %s\n", li->info);
	if (sf_lock_is_stale(li, now))
		fprintf(cli->errf, "The lock looks stale (no heartbeat for over 5 minutes). If no secfaas run is using it, remove it with:\n  secfaas force-unlock %s\n",
			li->id);
	else
		fprintf(cli->errf, "Another secfaas run holds it; wait for it, or retry with --lock-timeout DURATION.\n");
}

int sf_run_open(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, const char *op, int create, int lock,
		int backup)
{
	struct sf_err err = SF_ERR_INIT;
	if (!ws->state_path && sf_run_state_path(cli, workspace, &ws->state_path) != 0)
		return SF_EXIT_ERROR;
	struct sf_state_opts so = {.create = create};
	if (!ws->prov_init) {
		sf_providers_init(&ws->prov);
		ws->prov_init = 1;
		const char *region = json_string_value(json_object_get(ws->cfg.metadata, "region"));
		ws->prov.region = cli->region ? cli->region : region;
		ws->prov.profile = cli->profile;
		ws->prov.workspace = ws->cfg.workspace;
		ws->prov.metadata = ws->cfg.metadata;
	}
	if (sf_state_open(&ws->st, ws->state_path, &so, &err) < 0) {
		if (err.code == SF_ENOTFOUND && !create)
			sf_err_hint(&err, "nothing has been applied for this workspace yet");
		return sf_cli_error(cli, &err);
	}
	if (lock && cli->lock) {
		struct sf_lock_info holder;
		memset(&holder, 0, sizeof holder);
		char info[256];
		snprintf(info, sizeof info, "spec@%.12s", ws->cfg.digest ? ws->cfg.digest : "-");
		if (sf_lock_acquire(ws->st, op, info, cli->lock_timeout_s, &holder, ws->lock_id, &err) < 0) {
			if (err.code == SF_ELOCKED) {
				print_lock(cli, &holder);
				return SF_EXIT_ERROR;
			}
			return sf_cli_error(cli, &err);
		}
		ws->locked = 1;
	}
	ws->prov.lineage = sf_state_lineage(ws->st);
	if (backup && sf_state_backup(ws->st, &err) < 0)
		return sf_cli_error(cli, &err);
	return 0;
}

void sf_run_close(struct sf_ws *ws)
{
	if (ws->st && ws->locked) {
		struct sf_err err = SF_ERR_INIT;
		if (sf_lock_release(ws->st, ws->lock_id, &err) < 0)
			fprintf(stderr, "secfaas: warning: could not release lock %s: %s\n", ws->lock_id, err.msg);
	}
	if (ws->prov_init)
		sf_providers_release(&ws->prov);
	sf_state_close(ws->st);
	sf_config_release(&ws->cfg);
	sf_specset_release(&ws->set);
	free(ws->state_path);
	memset(ws, 0, sizeof *ws);
}

int sf_run_confirm(struct sf_cli *cli, const char *question, const char *what_flag)
{
	if (!cli->input) {
		sf_cli_errorf(cli, "%s needs confirmation but input is not interactive; re-run with %s", question,
			      what_flag);
		return -1;
	}
	fprintf(cli->out, "\n%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", question);
	fflush(cli->out);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return 0;
	line[strcspn(line, "\r\n")] = 0;
	return !strcmp(line, "yes");
}
