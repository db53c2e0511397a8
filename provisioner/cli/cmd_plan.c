/* cmd_plan.c - `secfaas plan`. */
#include <stdlib.h>
#include <string.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/engine/plan.h"
#include "util.h"

int cmd_plan(struct sf_cli *cli, int argc, char **argv)
{
	struct sf_plan_args pa;
	struct sf_ws ws;
	struct sf_plan plan;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	int rc = sf_parse_plan_args(cli, "plan", argc, argv, &pa);
	if (rc)
		goto done;
	if (pa.all) {
		rc = sf_cmd_plan_all(cli, &pa);
		goto done;
	}
	if ((rc = sf_run_load(cli, pa.spec, &ws)))
		goto done;
	/* a saved plan is bound to its state's lineage, so --out makes the
	 * state; a plan only shown creates nothing for a new workspace */
	if ((rc = pa.out ? sf_run_open(cli, &ws, ws.cfg.workspace, "plan", 1, 1, 0)
			 : sf_run_open_plan(cli, &ws, ws.cfg.workspace, 1)))
		goto done;
	if ((rc = sf_make_plan(cli, &ws, &pa, &plan)))
		goto done;
	sf_print_plan_ws(cli, &ws, &plan, pa.full, pa.opts.refresh ? SF_PRICES_ONLINE : SF_PRICES_OFFLINE);
	if (pa.out) {
		struct sf_err err = SF_ERR_INIT;
		snprintf(plan.git_sha, sizeof plan.git_sha, "%s%s", ws.git_sha, ws.git_dirty ? "+dirty" : "");
		if (sf_plan_save(&plan, &ws.cfg, ws.st, pa.out, &err) < 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
		if (!cli->json)
			fprintf(cli->out, "\nSaved the plan to %s. To perform exactly these actions, run:\n  secfaas apply %s\n",
				pa.out, pa.out);
	}
	rc = cli->detailed_exitcode && (sf_plan_has_changes(&plan) || (pa.opts.refresh_only && plan.ndrift))
		     ? SF_EXIT_CHANGES
		     : SF_EXIT_OK;
done:
	sf_plan_release(&plan);
	sf_run_close(&ws);
	sf_plan_args_release(&pa);
	return rc;
}
