/*
 * run.h - setup shared by command handlers: load spec → config, open the
 * workspace's state, take the lock (printing the holder on conflict),
 * signal handling, prompts, and provider construction.
 *
 * Only command handlers call these; they print through the cli helpers and
 * return exit codes (SF_EXIT_*), or 0 to continue.
 */
#ifndef SF_RUN_H
#define SF_RUN_H

#include "provisioner/cli/cli.h"
#include "provisioner/engine/config.h"
#include "provisioner/spec/spec.h"
#include "resources/providers.h"
#include "state/state.h"

struct sf_ws {
	struct sf_specset set;
	struct sf_config cfg;
	struct sf_state *st;
	char lock_id[37];
	int locked;
	char *state_path;         /* a state file, or the backend URL */
	char *state_ws;           /* the workspace in a backend URL; NULL for a file */
	const char *state_schema; /* PostgreSQL schema; NULL = cli->backend_schema */
	int key_from_state;       /* read side of a copy: the state's own key source decides */
	int skip_locked;          /* set before sf_run_open: a held lock is not an error */
	int absent_ok;            /* set before sf_run_open: no state is not an error (ws->st stays NULL) */
	int held;                 /* sf_run_open found the lock held (skip_locked): see holder */
	struct sf_lock_info holder;
	struct sf_key_provider kp; /* AWS KMS envelope keys when configured */
	struct sf_providers prov; /* initialised by sf_run_open */
	int prov_init;
	char git_sha[41];         /* commit the specs came from ("" if not from git) */
	int git_dirty;
};

/* Load spec documents from a path or, with --repo, from git (the spec
 * argument is then a path inside the repository), and expand modules.
 * Diagnostics go to d. sha (41 bytes) gets the commit when from git. */
int sf_run_load_set(struct sf_cli *cli, const char *spec, struct sf_specset *set, struct sf_diags *d, char *sha,
		    int *dirty);

/* Default spec path when none is given: $SECFAAS_SPEC, else ./secfaas.yaml. */
const char *sf_run_default_spec(void);

/* Load + validate + lower. Prints diagnostics; returns 0 or SF_EXIT_ERROR. */
int sf_run_load(struct sf_cli *cli, const char *spec, struct sf_ws *ws);
/* The same from a set loaded and checked once (sf_run_load_set and
 * sf_config_check_specs), for one workspace of it: set is borrowed and
 * must outlive ws (ws->set stays empty).  Prints; 0 or SF_EXIT_ERROR. */
int sf_run_build(struct sf_cli *cli, const struct sf_specset *set, const char *workspace, struct sf_ws *ws);

/* The backend: a postgres:// URL (1) or a directory of state files (0). */
int sf_run_backend_is_url(const struct sf_cli *cli);
/* Directory of state files (--backend DIR, default .secfaas); NULL for a URL. */
const char *sf_run_state_dir(const struct sf_cli *cli);

/* Where a workspace's state lives.  --state FILE wins; else a backend URL
 * (*target the URL, *ws_name the workspace) or <state dir>/<workspace>.db.
 * workspace NULL: $SECFAAS_WORKSPACE (--workspace), else the only one there
 * is.  Prints and returns SF_EXIT_ERROR when that is ambiguous. */
int sf_run_state_target(struct sf_cli *cli, const char *workspace, char **target, char **ws_name);
/* The file path form of the above (NULL ws_name); a URL backend gives the URL. */
int sf_run_state_path(struct sf_cli *cli, const char *workspace, char **out);

/* Options for sf_state_open for ws: workspace, schema, key provider. */
void sf_run_state_opts(struct sf_cli *cli, struct sf_ws *ws, int create, struct sf_state_opts *so);

/* Open state (create it when `create`), lock it for `op` unless --lock=false,
 * back it up first when `backup`. Returns 0 or SF_EXIT_ERROR (printed).
 * With ws->skip_locked, a lock held by another run is not printed: ws->held
 * is set, ws->holder says by whom, and SF_EXIT_ERROR is returned. */
int sf_run_open(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, const char *op, int create,
		int lock, int backup);

/* Open the state a plan reads.  A workspace with no state yet is planned
 * against nothing: ws->st stays NULL and nothing is created (no file, no
 * lock, no sync to disk for a plan that changes nothing).  Otherwise the
 * state is opened read-only and, with `lock` (and not --lock=false), the plan
 * refuses (after --lock-timeout) while a live run holds the lock, printing
 * the holder as sf_run_open does, but takes no lock itself; a PostgreSQL
 * state is locked as by sf_run_open(..., "plan", 0, 1, 0).  Without `lock`:
 * read-only, no check (plan --all, a report over many workspaces).  0 or
 * SF_EXIT_ERROR (printed). */
int sf_run_open_plan(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, int lock);
/* sf_run_open_plan for a workspace the caller knows has no state (the
 * backend's listing of a fleet did not name it): planned against nothing
 * without asking the backend, so a shared database is not connected to
 * once per new workspace.  0 or SF_EXIT_ERROR (printed). */
int sf_run_open_plan_new(struct sf_cli *cli, struct sf_ws *ws, const char *workspace);

void sf_run_close(struct sf_ws *ws);

/* Ask "Only 'yes' will be accepted" on a TTY. 1 yes, 0 no. Refuses (prints
 * and returns -1) when input is not interactive. */
int sf_run_confirm(struct sf_cli *cli, const char *question, const char *what_flag);

/* SIGINT/SIGTERM: first sets *sf_run_cancel_flag() and prints a notice;
 * second exits at once with status 1. */
void sf_run_signals_install(struct sf_cli *cli);
volatile int *sf_run_cancel_flag(void);

#endif
