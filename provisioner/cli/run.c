/* run.c - command setup helpers (see run.h). */
#include "provisioner/cli/run.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/kms.h"
#include "provisioner/cli/settings.h"
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

/* A repository's secfaas.yaml may hold its settings document next to
 * specs (provisioner/cli/settings.h): it is not a spec. */
static void drop_settings(struct sf_specset *set, struct sf_diags *d, const char *what)
{
	if (!set)
		return;
	size_t had = set->n;
	for (size_t i = set->n; i-- > 0;)
		if (sf_settings_is_doc(set->docs[i].root))
			sf_specset_remove(set, i);
	if (had && !set->n)
		sf_diag_error(d, NULL, "%s holds only repository settings (backend:), no spec documents; pass a spec", what);
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
			drop_settings(set, d, o.subpath ? o.subpath : cli->repo);
			rc = d->nerrors ? -1 : 0;
		}
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
	drop_settings(set, d, path);
	if (d->nerrors)
		return -1;
	return sf_modules_expand(set, &mo, d);
}

/* ws->cfg of workspace from set (checked: its documents were checked
 * already), the TTL override, and diagnostics printed. */
static int build(struct sf_cli *cli, const struct sf_specset *set, const char *workspace, int checked,
		 struct sf_ws *ws, struct sf_diags *d, const char *path)
{
	if (!d->nerrors) {
		if (checked)
			sf_config_build_checked(&ws->cfg, set, workspace, d);
		else
			sf_config_build(&ws->cfg, set, workspace, d);
	}
	int bad = d->nerrors > 0;
	const char *ttl = getenv("SECFAAS_TTL");
	if (!bad && ttl && *ttl) {
		if (!ws->cfg.metadata)
			ws->cfg.metadata = json_object();
		json_object_set_new(ws->cfg.metadata, "ttl", json_string(ttl));
	}
	sf_diags_print(d, cli->errf, cli->color);
	if (bad)
		fprintf(cli->errf, "secfaas: %zu error%s in %s; nothing was changed\n", d->nerrors,
			d->nerrors == 1 ? "" : "s", path);
	sf_diags_release(d);
	return bad ? SF_EXIT_ERROR : 0;
}

int sf_run_load(struct sf_cli *cli, const char *spec, struct sf_ws *ws)
{
	struct sf_diags d = SF_DIAGS_INIT;
	const char *path = spec ? spec : cli->repo ? cli->repo : sf_run_default_spec();
	sf_run_load_set(cli, spec, &ws->set, &d, ws->git_sha, &ws->git_dirty);
	return build(cli, &ws->set, getenv("SECFAAS_WORKSPACE"), 0, ws, &d, path);
}

int sf_run_build(struct sf_cli *cli, const struct sf_specset *set, const char *workspace, struct sf_ws *ws)
{
	struct sf_diags d = SF_DIAGS_INIT;
	return build(cli, set, workspace, 1, ws, &d, workspace);
}

int sf_run_backend_is_url(const struct sf_cli *cli)
{
	return sf_state_target_is_url(cli->backend);
}

const char *sf_run_state_dir(const struct sf_cli *cli)
{
	if (sf_run_backend_is_url(cli))
		return NULL;
	return cli->backend && *cli->backend ? cli->backend : ".secfaas";
}

int sf_run_state_target(struct sf_cli *cli, const char *workspace, char **target, char **ws_name)
{
	struct sf_err err = SF_ERR_INIT;
	*target = *ws_name = NULL;
	if (cli->state_path) {
		*target = xstrdup(cli->state_path);
		return 0;
	}
	if (!workspace) {
		const char *w = getenv("SECFAAS_WORKSPACE");
		workspace = w && *w ? w : NULL;
	}
	const char *dir = sf_run_state_dir(cli);
	if (workspace) {
		if (dir) {
			*target = xasprintf("%s/%s.db", dir, workspace);
		} else {
			*target = xstrdup(cli->backend);
			*ws_name = xstrdup(workspace);
		}
		return 0;
	}
	/* No workspace named: the only one there is. */
	char **names = NULL;
	size_t n = 0;
	struct sf_state_opts so = {.schema = cli->backend_schema};
	if (sf_state_workspaces(dir ? dir : cli->backend, &so, &names, &n, &err) < 0)
		return sf_cli_error(cli, &err);
	int rc = 0;
	const char *where = dir ? dir : "the shared state";
	if (n == 1) {
		if (dir) {
			*target = xasprintf("%s/%s.db", dir, names[0]);
		} else {
			*target = xstrdup(cli->backend);
			*ws_name = xstrdup(names[0]);
		}
	} else if (n) {
		rc = sf_cli_errorf(cli, "%zu workspaces in %s; choose one with --workspace NAME (or give the spec)", n, where);
	} else {
		rc = sf_cli_errorf(cli, "no state found in %s; pass --workspace NAME, --state PATH or the spec", where);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int sf_run_state_path(struct sf_cli *cli, const char *workspace, char **out)
{
	char *ws = NULL;
	int rc = sf_run_state_target(cli, workspace, out, &ws);
	free(ws);
	return rc;
}

/* AWS KMS envelope keys: the state layer calls these back when it needs its
 * data key made or unwrapped; the AWS client is the workspace's own. */
static int kms_generate(void *ctx, unsigned char key[32], char **wrapped, struct sf_err *err)
{
	struct sf_ws *ws = ctx;
	struct sf_aws *a = sf_providers_aws(&ws->prov, err);
	if (!a)
		return err && err->code ? err->code : SF_EAUTH;
	return sf_kms_generate_data_key(a, ws->kp.key_id, key, wrapped, err);
}

static int kms_decrypt(void *ctx, const char *wrapped, unsigned char key[32], struct sf_err *err)
{
	struct sf_ws *ws = ctx;
	struct sf_aws *a = sf_providers_aws(&ws->prov, err);
	if (!a)
		return err && err->code ? err->code : SF_EAUTH;
	return sf_kms_decrypt(a, wrapped, key, err);
}

void sf_run_state_opts(struct sf_cli *cli, struct sf_ws *ws, int create, struct sf_state_opts *so)
{
	memset(so, 0, sizeof *so);
	so->create = create;
	so->workspace = ws->state_ws;
	so->schema = ws->state_schema ? ws->state_schema : cli->backend_schema;
	so->key_from_state = ws->key_from_state;
	if (cli->kms_key_id && *cli->kms_key_id) {
		ws->kp.key_id = cli->kms_key_id;
		ws->kp.generate = kms_generate;
		ws->kp.decrypt = kms_decrypt;
		ws->kp.ctx = ws;
		so->key_provider = &ws->kp;
	}
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

static void providers_init(struct sf_cli *cli, struct sf_ws *ws)
{
	if (!ws->prov_init) {
		sf_providers_init(&ws->prov);
		ws->prov_init = 1;
		const char *region = json_string_value(json_object_get(ws->cfg.metadata, "region"));
		ws->prov.region = cli->region ? cli->region : region;
		ws->prov.profile = cli->profile;
		ws->prov.workspace = ws->cfg.workspace;
		ws->prov.metadata = ws->cfg.metadata;
	}
}

/* sf_run_open; absent_ok: a missing state is no error, ws->st stays NULL. */
static int open_state(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, const char *op, int create,
		      int lock, int backup, int absent_ok)
{
	struct sf_err err = SF_ERR_INIT;
	if (!ws->state_path && sf_run_state_target(cli, workspace, &ws->state_path, &ws->state_ws) != 0)
		return SF_EXIT_ERROR;
	providers_init(cli, ws);
	struct sf_state_opts so;
	sf_run_state_opts(cli, ws, create, &so);
	if (sf_state_open(&ws->st, ws->state_path, &so, &err) < 0) {
		ws->st = NULL;
		if (err.code == SF_ENOTFOUND && (absent_ok || ws->absent_ok))
			return 0;
		if (err.code == SF_ENOTFOUND && !create)
			sf_err_hint(&err, "nothing has been applied for this workspace yet");
		return sf_cli_error(cli, &err);
	}
	if (lock && cli->lock) {
		struct sf_lock_info holder;
		memset(&holder, 0, sizeof holder);
		char info[256];
		snprintf(info, sizeof info, "spec@%.12s", ws->cfg.digest ? ws->cfg.digest : "-");
		if (sf_lock_acquire(ws->st, op, info, ws->skip_locked ? 0 : cli->lock_timeout_s, &holder, ws->lock_id,
				    &err) < 0) {
			if (err.code == SF_ELOCKED && ws->skip_locked) {
				ws->held = 1;
				ws->holder = holder;
				return SF_EXIT_ERROR;
			}
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

int sf_run_open(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, const char *op, int create, int lock,
		int backup)
{
	return open_state(cli, ws, workspace, op, create, lock, backup, 0);
}

int sf_run_open_plan(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, int lock)
{
	struct sf_err err = SF_ERR_INIT;
	if (!ws->state_path && sf_run_state_target(cli, workspace, &ws->state_path, &ws->state_ws) != 0)
		return SF_EXIT_ERROR;
	providers_init(cli, ws);
	struct sf_state_opts so;
	sf_run_state_opts(cli, ws, 0, &so);
	so.readonly = 1;
	if (sf_state_open(&ws->st, ws->state_path, &so, &err) == 0) {
		ws->prov.lineage = sf_state_lineage(ws->st);
		/* a plan writes nothing, so it takes no lock (no write, no sync
		 * to disk); it only refuses to read a state a live run is
		 * changing, as it did when it took the lock.  On PostgreSQL a
		 * lock row counts only while its session holds the advisory
		 * lock (state/pg.c, Q_LOCK_GET), so a dead run's row is passed
		 * by here too */
		if (lock && cli->lock) {
			struct sf_lock_info holder;
			memset(&holder, 0, sizeof holder);
			if (sf_lock_wait_free(ws->st, cli->lock_timeout_s, &holder, &err) < 0) {
				if (err.code == SF_ELOCKED) {
					print_lock(cli, &holder);
					return SF_EXIT_ERROR;
				}
				return sf_cli_error(cli, &err);
			}
		}
		return 0;
	}
	ws->st = NULL;
	if (err.code == SF_ENOTFOUND)
		return 0; /* nothing applied yet: planned against nothing */
	/* anything else (an older schema to upgrade, a
	 * damaged file) is for the ordinary open to handle and report */
	return open_state(cli, ws, workspace, "plan", 0, 1, 0, 1);
}

int sf_run_open_plan_new(struct sf_cli *cli, struct sf_ws *ws, const char *workspace)
{
	if (!ws->state_path && sf_run_state_target(cli, workspace, &ws->state_path, &ws->state_ws) != 0)
		return SF_EXIT_ERROR;
	providers_init(cli, ws);
	return 0;
}

void sf_run_close(struct sf_ws *ws)
{
	if (ws->st && ws->locked) {
		struct sf_err err = SF_ERR_INIT;
		/* a broken handle's lock went with its connection, or was
		 * taken over by the writer that got in: nothing to say */
		if (sf_lock_release(ws->st, ws->lock_id, &err) < 0 && !sf_state_broken(ws->st))
			fprintf(stderr, "secfaas: warning: could not release lock %s: %s\n", ws->lock_id, err.msg);
	}
	if (ws->prov_init)
		sf_providers_release(&ws->prov);
	sf_state_close(ws->st);
	sf_config_release(&ws->cfg);
	sf_specset_release(&ws->set);
	free(ws->state_path);
	free(ws->state_ws);
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
