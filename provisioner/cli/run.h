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
	char *state_path;
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

/* Resolve the state path for a workspace (--state wins; else
 * .secfaas/<workspace>.db; workspace NULL: the single .db in .secfaas/). */
int sf_run_state_path(struct sf_cli *cli, const char *workspace, char **out);

/* Open state (create it when `create`), lock it for `op` unless --lock=false,
 * back it up first when `backup`. Returns 0 or SF_EXIT_ERROR (printed). */
int sf_run_open(struct sf_cli *cli, struct sf_ws *ws, const char *workspace, const char *op, int create,
		int lock, int backup);

void sf_run_close(struct sf_ws *ws);

/* Ask "Only 'yes' will be accepted" on a TTY. 1 yes, 0 no. Refuses (prints
 * and returns -1) when input is not interactive. */
int sf_run_confirm(struct sf_cli *cli, const char *question, const char *what_flag);

/* SIGINT/SIGTERM: first sets *sf_run_cancel_flag() and prints a notice;
 * second exits at once with status 1. */
void sf_run_signals_install(struct sf_cli *cli);
volatile int *sf_run_cancel_flag(void);

#endif
