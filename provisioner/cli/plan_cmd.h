/* plan_cmd.h - plan-related helpers shared by the plan, apply and --all
 * commands (plan_args.c, cmd_all.c, cmd_apply.c). */
#ifndef SF_PLAN_CMD_H
#define SF_PLAN_CMD_H

#include "provisioner/cli/run.h"
#include "provisioner/engine/plan.h"

struct sf_plan_args {
	const char *spec;
	const char *out;
	struct sf_plan_opts opts;
	const char **replace, **targets; /* owned arrays, borrowed strings */
	int all;                         /* --all: every workspace in the spec */
	int prune;                       /* --prune: destroy workspaces no longer in the spec */
	int cluster_parallelism;         /* --cluster-parallelism N for apply --all (default 2) */
	int full;                        /* --full: long created values printed in full */
	int summary;                     /* plan --all --summary: the table only */
	const char *round;               /* --round R / SECFAAS_ROUND: apply each workspace once per R */
	int skip_locked;                 /* --skip-locked: a workspace another run holds is skipped */
	int state_only;                  /* destroy --state-only: from the state, no spec */
};

/* plan --all / apply --all / refresh --all (cmd_all.c). */
int sf_cmd_plan_all(struct sf_cli *cli, struct sf_plan_args *pa);
int sf_cmd_refresh_all(struct sf_cli *cli, struct sf_plan_args *pa);
int sf_cmd_apply_all(struct sf_cli *cli, struct sf_plan_args *pa, char **argv0);

/* Parse plan/apply/destroy arguments. 0 or SF_EXIT_ERROR (printed). */
int sf_parse_plan_args(struct sf_cli *cli, const char *cmd, int argc, char **argv, struct sf_plan_args *pa);
void sf_plan_args_release(struct sf_plan_args *pa);
/* Validate --replace/--target against the config, then plan. */
int sf_make_plan(struct sf_cli *cli, struct sf_ws *ws, struct sf_plan_args *pa, struct sf_plan *plan);
/* The plan as JSON (--json) or for people; full: see sf_plan_render_opts. */
void sf_print_plan(struct sf_cli *cli, const struct sf_plan *plan, int full);
/* Where the estimate's prices come from: the Price List API, or the
 * built-in table because the plan was not refreshed (nothing in AWS was
 * asked) or because nobody reviews it before it runs (apply and destroy
 * with --auto-approve: a Price List call there only slows the run; plan,
 * or an apply that asks for confirmation, asks the API). */
enum sf_prices_from { SF_PRICES_OFFLINE, SF_PRICES_ONLINE, SF_PRICES_UNATTENDED };
/* The same with the cost and time estimate of what the plan leaves
 * (resources/estimate.h) before the summary line and as "estimate" in
 * JSON, priced as `from` says. */
void sf_print_plan_ws(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, int full,
		      enum sf_prices_from from);
/* The JSON plan with its estimate (plan --all --json). New reference. */
json_t *sf_plan_json_ws(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, enum sf_prices_from from);

#endif

/* Seconds between "Still creating..." lines and progress events:
 * SECFAAS_PROGRESS_INTERVAL, else SF_PROGRESS_INTERVAL, on a terminal or
 * not: a CI log that is quiet for a minute reads as a hung job. */
#define SF_PROGRESS_INTERVAL 10
double sf_progress_interval(void);

/* Write a refresh-only plan's verdicts into the open, locked workspace's
 * state in one transaction: each recorded object the plan read takes its
 * live attributes, one it found gone (or whose name another owner took)
 * leaves the state.  *updated, *removed: how many.  0 or an exit code
 * (printed).  (cmd_apply.c) */
int sf_refresh_write(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, int *updated, int *removed);

/* Execute a plan on an open, locked workspace: run history, events,
 * summary, expiry bookkeeping. Returns an exit code. (cmd_apply.c) */
int sf_cmd_execute(struct sf_cli *cli, struct sf_ws *ws, struct sf_plan *plan, const char *command);
