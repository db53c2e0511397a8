/* plan_args.c - argument parsing, planning and printing shared by `plan`,
 * `apply`, `destroy`, `refresh` and their --all forms (see plan_cmd.h). */
#include <stdlib.h>
#include <string.h>

#include "provisioner/cli/plan_cmd.h"
#include "provisioner/kinds/cluster.h"
#include "provisioner/spec/schema.h"
#include "resources/estimate.h"
#include "resources/types.h"
#include "util.h"

int sf_parse_plan_args(struct sf_cli *cli, const char *cmd, int argc, char **argv, struct sf_plan_args *pa)
{
	memset(pa, 0, sizeof *pa);
	pa->opts.refresh = 1;
	pa->opts.types = sf_types();
	pa->replace = xcalloc((size_t)argc + 1, sizeof *pa->replace);
	pa->targets = xcalloc((size_t)argc + 1, sizeof *pa->targets);
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;
		if (argv[i][0] != '-' || !argv[i][1]) {
			if (pa->spec)
				return sf_cli_errorf(cli, "%s takes one spec path; got \"%s\" and \"%s\"", cmd, pa->spec, argv[i]);
			pa->spec = argv[i];
		} else if ((m = sf_opt_match(argc, argv, &i, "out", 1, &pa->out))) {
			if (m < 0 || !pa->out)
				return sf_cli_errorf(cli, "--out needs a file name");
		} else if (sf_opt_match(argc, argv, &i, "all", 0, NULL) > 0) {
			pa->all = 1;
		} else if (sf_opt_match(argc, argv, &i, "prune", 0, NULL) > 0) {
			pa->prune = 1;
		} else if (sf_opt_match(argc, argv, &i, "full", 0, NULL) > 0) {
			pa->full = 1;
		} else if (sf_opt_match(argc, argv, &i, "summary", 0, NULL) > 0) {
			pa->summary = 1;
		} else if ((m = sf_opt_match(argc, argv, &i, "cluster-parallelism", 1, &v))) {
			long long n = 0;
			if (m < 0 || !sf_scalar_is_int(v, &n) || n < 1 || n > 64)
				return sf_cli_errorf(cli, "--cluster-parallelism needs a number from 1 to 64");
			pa->cluster_parallelism = (int)n;
		} else if ((m = sf_opt_match(argc, argv, &i, "round", 1, &pa->round))) {
			if (m < 0 || !pa->round || !*pa->round)
				return sf_cli_errorf(cli, "--round needs a name (e.g. the commit being applied)");
		} else if (sf_opt_match(argc, argv, &i, "skip-locked", 0, NULL) > 0) {
			pa->skip_locked = 1;
		} else if (sf_opt_match(argc, argv, &i, "state-only", 0, NULL) > 0) {
			pa->state_only = 1;
		} else if (sf_opt_match(argc, argv, &i, "destroy", 0, NULL) > 0) {
			pa->opts.destroy = 1;
		} else if (sf_opt_match(argc, argv, &i, "refresh-only", 0, NULL) > 0) {
			pa->opts.refresh_only = 1;
		} else if (sf_opt_match(argc, argv, &i, "refresh", 0, &v) > 0) {
			pa->opts.refresh = !(v && !strcmp(v, "false"));
		} else if ((m = sf_opt_match(argc, argv, &i, "replace", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--replace needs a resource address");
			pa->replace[pa->opts.nreplace++] = v;
		} else if ((m = sf_opt_match(argc, argv, &i, "target", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--target needs a resource address");
			pa->targets[pa->opts.ntargets++] = v;
		} else {
			return sf_cli_unknown_option(cli, cmd, argv[i]);
		}
	}
	pa->opts.replace = pa->replace;
	pa->opts.targets = pa->targets;
	if (!pa->round) {
		const char *r = getenv("SECFAAS_ROUND");
		pa->round = r && *r ? r : NULL;
	}
	if ((pa->round || pa->skip_locked) && strcmp(cmd, "apply") && strcmp(cmd, "destroy"))
		return sf_cli_errorf(cli, "--round and --skip-locked belong to apply");
	if (pa->state_only && strcmp(cmd, "destroy"))
		return sf_cli_errorf(cli, "--state-only belongs to destroy");
	if (pa->state_only && pa->spec)
		return sf_cli_errorf(cli, "destroy --state-only reads no spec; drop %s", pa->spec);
	if (pa->opts.destroy && pa->opts.refresh_only)
		return sf_cli_errorf(cli, "--destroy and --refresh-only exclude each other");
	if (pa->prune && !pa->all)
		return sf_cli_errorf(cli, "--prune only makes sense with --all");
	if (pa->summary && !pa->all)
		return sf_cli_errorf(cli, "--summary only makes sense with --all");
	if (pa->all && (pa->opts.nreplace || pa->opts.ntargets || pa->out))
		return sf_cli_errorf(cli, "--all cannot be combined with --replace, --target or --out");
	if (pa->opts.destroy && pa->opts.nreplace)
		return sf_cli_errorf(cli, "--replace cannot be combined with --destroy");
	return 0;
}

void sf_plan_args_release(struct sf_plan_args *pa)
{
	free(pa->replace);
	free(pa->targets);
}

int sf_make_plan(struct sf_cli *cli, struct sf_ws *ws, struct sf_plan_args *pa, struct sf_plan *plan)
{
	struct sf_err err = SF_ERR_INIT;
	for (size_t i = 0; i < pa->opts.nreplace; i++)
		if (!sf_config_find(&ws->cfg, pa->replace[i]))
			return sf_cli_errorf(cli, "--replace %s: no such resource in the spec", pa->replace[i]);
	for (size_t i = 0; i < pa->opts.ntargets; i++)
		if (!sf_config_find(&ws->cfg, pa->targets[i]))
			return sf_cli_errorf(cli, "--target %s: no such resource in the spec", pa->targets[i]);
	if (pa->opts.ntargets)
		fprintf(cli->errf, "secfaas: warning: --target limits the plan to %zu resource(s) and their dependencies; the result may not match the spec as a whole\n",
			pa->opts.ntargets);
	pa->opts.providers = &ws->prov;
	pa->opts.parallelism = cli->parallelism;
	if (sf_plan_make(plan, &ws->cfg, ws->st, &pa->opts, &err) < 0)
		return sf_cli_error(cli, &err);
	return 0;
}

/* Phase timings of past runs of this workspace, for the time estimate. */
static int state_typical(void *ctx, const char *type, const char *phase, double *lo, double *hi)
{
	struct sf_err err = SF_ERR_INIT;
	size_t n = 0;
	return sf_state_timing_typical(ctx, type, phase, lo, hi, &n, &err) == 0 && n > 0;
}

/* The plan's cost and time estimate (estimate.h), or NULL when it has no
 * changes or nothing to price.  SF_PRICES_ONLINE: ask the Price List API
 * (the plan refreshed, so AWS is in use anyway); else, or when the API
 * does not answer, the built-in table, saying why. */
static json_t *plan_estimate(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, enum sf_prices_from from)
{
	int online = from == SF_PRICES_ONLINE;
	if (!ws || !sf_plan_has_changes(plan) || plan->refresh_only || !sf_estimate_wanted(plan))
		return NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_prices p;
	struct sf_aws *aws = online ? sf_providers_aws(&ws->prov, &err) : NULL;
	const char *region = ws->prov.region;
	if (!region && aws)
		region = sf_aws_region(aws);
	char *why = NULL;
	if (aws && region) {
		json_t *types = sf_estimate_instance_types(plan);
		int rc = cli->prices ? sf_price_cache_get(cli->prices, aws, region, types, &p, &err)
				     : sf_prices_fetch(&p, aws, region, types, &err);
		if (rc < 0) {
			why = xasprintf("the Price List API did not answer: %s", err.msg);
			sf_prices_release(&p);
		}
		json_decref(types);
	} else {
		why = online ? xasprintf("the Price List API cannot be reached: %s", err.msg)
		      : from == SF_PRICES_UNATTENDED
			? xstrdup("--auto-approve: nobody reviews it first, so the Price List API was not asked "
				  "(secfaas plan asks it)")
			: xstrdup("planned without refresh, so the Price List API was not asked");
	}
	if (why) {
		sf_prices_builtin(&p, region);
		p.fallback = why;
	}
	struct sf_estimate_opts o = {&p, (time_t)sf_now(), ws->st ? state_typical : NULL, ws->st, cli->parallelism};
	json_t *est = sf_estimate_make(plan, &o);
	sf_prices_release(&p);
	return est;
}

static void print_plan(struct sf_cli *cli, const struct sf_plan *plan, int full, json_t *est)
{
	if (cli->json) {
		json_t *j = sf_plan_render_json(plan);
		if (est)
			json_object_set(j, "estimate", est);
		sf_cli_print_json(cli, j);
	} else {
		struct sf_plan_render_opts o = {cli->color, full};
		sf_cluster_upgrade_steps(plan, cli->out);
		sf_plan_render_changes(plan, cli->out, &o);
		if (est)
			sf_estimate_render(est, cli->out, cli->color);
		sf_plan_render_summary(plan, cli->out, cli->color);
	}
}

void sf_print_plan(struct sf_cli *cli, const struct sf_plan *plan, int full)
{
	print_plan(cli, plan, full, NULL);
}

void sf_print_plan_ws(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, int full,
		      enum sf_prices_from from)
{
	json_t *est = plan_estimate(cli, ws, plan, from);
	print_plan(cli, plan, full, est);
	json_decref(est);
}

json_t *sf_plan_json_ws(struct sf_cli *cli, struct sf_ws *ws, const struct sf_plan *plan, enum sf_prices_from from)
{
	json_t *j = sf_plan_render_json(plan), *est = plan_estimate(cli, ws, plan, from);
	if (est)
		json_object_set_new(j, "estimate", est);
	return j;
}
