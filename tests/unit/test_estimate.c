/*
 * test_estimate.c - the cost and time estimate of a plan: examples/full.yaml
 * priced by hand from the built-in table (the same figures the local AWS's
 * Price List API serves, tests/awssim/awssimlib/pricing_data.py, eu-west-1),
 * extended support, a LoadBalancer gateway, the Price List document shape,
 * and the apply time from built-in timings and from a workspace's history.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aws/pricing.h"
#include "provisioner/kinds/kinds.h"
#include "resources/eks_versions.h"
#include "resources/estimate.h"
#include "resources/types.h"
#include "resources/types_aws.h"
#include "resources/types_k8s.h"
#include "util.h"
#include "t.h"

#define NEAR(a, b) T_OK(fabs((a) - (b)) < 1e-6)

/* examples/full.yaml with `from` replaced by `to` (NULL: as it is), lowered
 * and turned into a plan that creates everything. */
static void plan_of_full(struct sf_plan *plan, const char *from, const char *to)
{
	char *path = xasprintf("%s/examples/full.yaml", t_srcdir());
	size_t len = 0;
	char *text = NULL;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_read_file(&text, &len, path, 1 << 20, &err), 0);
	if (from && text) {
		char *at = strstr(text, from);
		T_OK(at != NULL);
		if (at) {
			char *t = xasprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
			free(text);
			text = t;
			len = strlen(t);
		}
	}
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	struct sf_config cfg = SF_CONFIG_INIT;
	T_EQ(sf_spec_load_buffer(&set, "full.yaml", text, len, &d), 0);
	T_EQ(sf_config_build(&cfg, &set, NULL, &d), 0);
	T_EQ(d.nerrors, 0);
	memset(plan, 0, sizeof *plan);
	plan->v = xcalloc(cfg.n ? cfg.n : 1, sizeof *plan->v);
	for (size_t i = 0; i < cfg.n; i++) {
		struct sf_change *c = &plan->v[plan->n++];
		c->address = xstrdup(cfg.v[i].address);
		c->type = cfg.v[i].type;
		c->action = SF_ACT_CREATE;
		c->after = json_deep_copy(cfg.v[i].config);
		c->deps = xcalloc(cfg.v[i].ndeps + 1, sizeof *c->deps);
		for (size_t k = 0; k < cfg.v[i].ndeps; k++)
			c->deps[c->ndeps++] = xstrdup(cfg.v[i].deps[k]);
		/* as sf_plan_make: a create waits for neither an update-only
		 * dependency nor, past its create call, an accept-only one */
		for (size_t k = 0; k < cfg.v[i].update_only.n; k++)
			sf_strs_add(&c->update_only, cfg.v[i].update_only.v[k]);
		for (size_t k = 0; k < cfg.v[i].accept_only.n; k++)
			sf_strs_add(&c->accept_only, cfg.v[i].accept_only.v[k]);
	}
	sf_plan_count(plan);
	sf_config_release(&cfg);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(text);
	free(path);
}

static const json_t *item_of(const json_t *est, const char *address_or_what)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(est, "items"), i, it)
	{
		const char *a = json_string_value(json_object_get(it, "address"));
		const char *w = json_string_value(json_object_get(it, "what"));
		if ((a && !strcmp(a, address_or_what)) || (w && !strcmp(w, address_or_what)))
			return it;
	}
	return NULL;
}

static double num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static json_t *estimate_par(const struct sf_plan *plan, const char *region, time_t now, sf_typical_fn fn, void *ctx,
			    int parallelism)
{
	struct sf_prices p;
	T_EQ(sf_prices_builtin(&p, region), 0);
	struct sf_estimate_opts o = {&p, now, fn, ctx, parallelism};
	json_t *est = sf_estimate_make(plan, &o);
	sf_prices_release(&p);
	return est;
}

static json_t *estimate(const struct sf_plan *plan, const char *region, time_t now, sf_typical_fn fn, void *ctx)
{
	return estimate_par(plan, region, now, fn, ctx, 0);
}

/* 2026-12-05: Kubernetes 1.35 in standard support until 2027-03-27. */
#define DEC_2026 ((time_t)1796428800)

/* Whether a plan is priced follows the type's provider descriptor, not
 * its name: a core type is not, an AWS or Kubernetes one is, and a type of
 * no family is not, whatever its name says. */
T_TEST(wanted_by_provider_not_by_name)
{
	struct sf_rtype lookalike = sf_rt_local_file;
	lookalike.name = "aws_lookalike";
	struct sf_change ch = {.address = "x.y", .action = SF_ACT_CREATE};
	struct sf_plan plan = {.v = &ch, .n = 1};
	ch.type = &sf_rt_local_file;
	T_OK(!sf_estimate_wanted(&plan));
	ch.type = &lookalike;
	T_OK(!sf_estimate_wanted(&plan));
	ch.type = &sf_rt_k8s_manifest;
	T_OK(sf_estimate_wanted(&plan));
	ch.type = &sf_rt_aws_vpc;
	T_OK(sf_estimate_wanted(&plan));
}

T_TEST(full_example_priced_by_hand)
{
	struct sf_plan plan;
	plan_of_full(&plan, NULL, NULL);
	T_OK(sf_estimate_wanted(&plan));
	json_t *est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	/* eu-west-1, 2026-11-20: EKS $0.10/h; m6i.large $0.107, m6i.xlarge
	 * $0.214, m6a.xlarge $0.1926, m7g.xlarge $0.182; gp3 $0.088/GB-month */
	const json_t *eks = item_of(est, "eks_cluster.main");
	T_OK(eks != NULL);
	NEAR(num(eks, "hourly"), 0.10);
	NEAR(num(eks, "monthly"), 73.00);
	const json_t *sys = item_of(est, "eks_nodegroup.system"); /* 2 x m6i.large On-Demand */
	T_OK(sys != NULL);
	T_STREQ(json_string_value(json_object_get(sys, "what")), "m6i.large On-Demand");
	T_EQ(json_integer_value(json_object_get(sys, "count")), 2);
	NEAR(num(sys, "hourly"), 0.214);
	NEAR(num(sys, "monthly"), 156.22);
	/* 2 x Spot over m6i.xlarge and m6a.xlarge: at most the dearer, m6i.xlarge */
	const json_t *sb = item_of(est, "eks_nodegroup.sandbox");
	T_OK(sb != NULL);
	T_STREQ(json_string_value(json_object_get(sb, "what")), "m6i.xlarge|m6a.xlarge Spot");
	NEAR(num(sb, "unit_price"), 0.214);
	NEAR(num(sb, "hourly"), 0.428);
	NEAR(num(sb, "monthly"), 312.44);
	/* the Price List API has no Spot prices: a ceiling, and it says so */
	T_OK(json_is_true(json_object_get(sb, "price_is_ceiling")));
	T_STREQ(json_string_value(json_object_get(sb, "capacity_type")), "SPOT");
	T_STREQ(json_string_value(json_object_get(sb, "note")), "Spot: up to the On-Demand figure");
	const json_t *arm = item_of(est, "eks_nodegroup.sandbox-arm"); /* 1 x m7g.xlarge, capacity type unset */
	T_OK(arm != NULL);
	T_OK(!json_object_get(arm, "price_is_ceiling"));
	NEAR(num(arm, "hourly"), 0.182);
	NEAR(num(arm, "monthly"), 132.86);
	/* root volumes: 2 x 40 + 2 x 50 + 1 x 20 (the default) = 200 GiB */
	const json_t *ebs = item_of(est, "EBS gp3 root volumes");
	T_OK(ebs != NULL);
	T_EQ(json_integer_value(json_object_get(ebs, "count")), 200);
	NEAR(num(ebs, "monthly"), 17.60);
	NEAR(num(ebs, "hourly"), 0.024110); /* 17.60 / 730 */
	/* nodes in private subnets, nat single: one NAT gateway, $0.048/h */
	const json_t *nat = item_of(est, "NAT gateway");
	T_OK(nat != NULL);
	T_EQ(json_integer_value(json_object_get(nat, "count")), 1);
	NEAR(num(nat, "hourly"), 0.048);
	NEAR(num(nat, "monthly"), 35.04);
	/* NodePort gateway: no load balancer */
	T_EQ(json_array_size(json_object_get(est, "items")), 6);
	T_EQ(json_array_size(json_object_get(est, "unpriced")), 0);
	/* 0.10 + 0.214 + 0.428 + 0.182 + 0.048 + 17.60/730 */
	NEAR(num(est, "hourly"), 0.996110);
	NEAR(num(est, "monthly"), 727.16);
	/* so the total is a ceiling too; without Spot: 0.996110 - 0.428 */
	T_OK(json_is_true(json_object_get(est, "total_is_ceiling")));
	const json_t *spot = json_object_get(est, "spot");
	NEAR(num(spot, "hourly_at_most"), 0.428);
	NEAR(num(spot, "monthly_at_most"), 312.44);
	NEAR(num(spot, "hourly_without_spot"), 0.568110);
	NEAR(num(spot, "monthly_without_spot"), 414.72); /* 0.56811 x 730 = 414.7203 */
	T_STREQ(json_string_value(json_object_get(est, "price_source")), "built-in price table");
	T_STREQ(json_string_value(json_object_get(est, "price_date")), "2026-11-20");
	T_EQ(json_integer_value(json_object_get(est, "hours_per_month")), 730);
	json_decref(est);
	sf_plan_release(&plan);
}

T_TEST(extended_support_adds_the_surcharge)
{
	struct sf_plan plan;
	plan_of_full(&plan, NULL, NULL);
	const struct sf_eks_version *v = sf_eks_version_find("1.35");
	T_OK(v != NULL);
	time_t later = sf_eks_day(v->end_standard) + 86400; /* a day into extended support */
	json_t *est = estimate(&plan, "eu-west-1", later, NULL, NULL);
	const json_t *eks = item_of(est, "eks_cluster.main");
	T_STREQ(json_string_value(json_object_get(eks, "what")), "EKS control plane (extended support)");
	NEAR(num(eks, "hourly"), 0.60); /* $0.10 + $0.50 */
	NEAR(num(eks, "monthly"), 438.00);
	NEAR(num(est, "monthly"), 727.16 + 365.00);
	json_decref(est);
	sf_plan_release(&plan);
}

T_TEST(load_balancer_gateway_and_unknown_types)
{
	struct sf_plan plan;
	plan_of_full(&plan, "gatewayService: NodePort", "gatewayService: LoadBalancer");
	json_t *est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	const json_t *lb = item_of(est, "Classic load balancer"); /* no NLB annotation: a classic one */
	T_OK(lb != NULL);
	NEAR(num(lb, "hourly"), 0.028);
	NEAR(num(lb, "monthly"), 20.44);
	NEAR(num(est, "monthly"), 727.16 + 20.44);
	json_decref(est);
	sf_plan_release(&plan);

	/* an instance type the table does not carry: listed, not guessed */
	plan_of_full(&plan, "instanceTypes: [m7g.xlarge]", "instanceTypes: [m7g.4xlarge]");
	est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	T_EQ(json_array_size(json_object_get(est, "unpriced")), 1);
	T_STREQ(json_string_value(json_array_get(json_object_get(est, "unpriced"), 0)), "m7g.4xlarge On-Demand");
	NEAR(num(est, "monthly"), 727.16 - 132.86);
	json_decref(est);
	sf_plan_release(&plan);
}

T_TEST(destroy_leaves_nothing_to_pay)
{
	struct sf_plan plan;
	plan_of_full(&plan, NULL, NULL);
	for (size_t i = 0; i < plan.n; i++) {
		plan.v[i].before = plan.v[i].after;
		plan.v[i].after = NULL;
		plan.v[i].action = SF_ACT_DELETE;
	}
	json_t *est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	T_EQ(json_array_size(json_object_get(est, "items")), 0);
	NEAR(num(est, "monthly"), 0);
	/* deleting a cluster and its node groups still takes minutes */
	T_OK(num(json_object_get(est, "apply_seconds"), "high") >= 480);
	json_decref(est);
	sf_plan_release(&plan);
}

/* A history where every phase of every type took exactly 7 seconds. */
static int seven(void *ctx, const char *type, const char *phase, double *lo, double *hi)
{
	(void)phase;
	int *calls = ctx;
	(*calls)++;
	if (strcmp(type, "eks_cluster") && strcmp(type, "eks_nodegroup") && strcmp(type, "aws_gvisor_ami"))
		return 0;
	*lo = *hi = 7;
	return 1;
}

T_TEST(apply_time_is_the_critical_path)
{
	struct sf_plan plan;
	plan_of_full(&plan, NULL, NULL);
	json_t *est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	const json_t *as = json_object_get(est, "apply_seconds");
	/* built in: the x86 image bake (8-15 min) before its node group (2.5-5
	 * min) is the longest chain, longer than the control plane's */
	T_OK(num(as, "high") >= 900 + 300 && num(as, "high") < 3600);
	T_OK(num(as, "low") <= num(as, "high"));
	T_STREQ(json_string_value(json_object_get(est, "time_source")), "built-in typical EKS timings");
	const json_t *path = json_object_get(est, "critical_path");
	int bake = 0, ng = 0;
	size_t i;
	json_t *st;
	json_array_foreach(path, i, st)
	{
		const char *a = json_string_value(json_object_get(st, "address"));
		bake |= !strcmp(a, "aws_gvisor_ami.gvisor_x86_64");
		ng |= bake && !strncmp(a, "eks_nodegroup.", 14); /* after the bake */
	}
	T_OK(bake && ng);
	json_decref(est);

	/* with a history, its durations count and the source says so */
	int calls = 0;
	est = estimate(&plan, "eu-west-1", DEC_2026, seven, &calls);
	T_OK(calls > 0);
	as = json_object_get(est, "apply_seconds");
	T_OK(num(as, "high") < 900);
	T_STREQ(json_string_value(json_object_get(est, "time_source")),
		"this workspace's past runs, else built-in typical EKS timings");
	json_decref(est);
	sf_plan_release(&plan);
}

/* n node groups after one cluster (chain: 1) or on their own (chain: 0),
 * all created. */
static void plan_of_groups(struct sf_plan *plan, size_t n, int chain)
{
	memset(plan, 0, sizeof *plan);
	plan->v = xcalloc(n + 2, sizeof *plan->v);
	if (chain) {
		struct sf_change *c = &plan->v[plan->n++];
		c->address = xstrdup("eks_cluster.main");
		c->type = sf_rtype_find("eks_cluster");
		c->action = SF_ACT_CREATE;
		c->after = json_object();
	}
	for (size_t i = 0; i < n; i++) {
		struct sf_change *c = &plan->v[plan->n++];
		c->address = xasprintf("eks_nodegroup.g%zu", i);
		c->type = sf_rtype_find("eks_nodegroup");
		c->action = SF_ACT_CREATE;
		c->after = json_object();
		c->deps = xcalloc(2, sizeof *c->deps);
		if (chain)
			c->deps[c->ndeps++] = xstrdup("eks_cluster.main");
	}
	sf_plan_count(plan);
}

static void seconds(const json_t *est, const char *k, double lo, double hi)
{
	const json_t *v = json_object_get(est, k);
	if (fabs(num(v, "low") - lo) > 1e-6 || fabs(num(v, "high") - hi) > 1e-6)
		T_FAILF("%s: %g..%g, want %g..%g", k, num(v, "low"), num(v, "high"), lo, hi);
}

/* apply runs at most --parallelism changes at once: four node groups
 * (built in: 150-300 s each) take one round unbounded, two at 2 or 3
 * workers, four at 1; after a cluster (480-720 s) the rounds follow it.
 * Figures by hand. */
T_TEST(apply_time_bounded_by_parallelism)
{
	struct sf_plan plan;
	plan_of_groups(&plan, 4, 0);
	static const struct {
		int par;
		double lo, hi;
	} flat[] = {{0, 150, 300}, {10, 150, 300}, {4, 150, 300}, {3, 300, 600}, {2, 300, 600}, {1, 600, 1200}};
	for (size_t i = 0; i < SF_ARRAY_LEN(flat); i++) {
		json_t *est = estimate_par(&plan, "eu-west-1", DEC_2026, NULL, NULL, flat[i].par);
		seconds(est, "apply_seconds", flat[i].lo, flat[i].hi);
		seconds(est, "critical_path_seconds", 150, 300);
		T_EQ(json_integer_value(json_object_get(est, "parallelism")), flat[i].par);
		json_decref(est);
	}
	sf_plan_release(&plan);

	plan_of_groups(&plan, 4, 1);
	json_t *est = estimate_par(&plan, "eu-west-1", DEC_2026, NULL, NULL, 2);
	seconds(est, "apply_seconds", 480 + 2 * 150, 720 + 2 * 300);
	seconds(est, "critical_path_seconds", 480 + 150, 720 + 300);
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	sf_estimate_render(est, m, 0);
	fclose(m);
	T_CONTAINS(text, "Apply time: about 13 min to 22 min at --parallelism 2 (the longest chain alone: 10 min to 17 min)");
	free(text);
	json_decref(est);
	sf_plan_release(&plan);

	/* examples/full.yaml at the default 10: never shorter than its chain */
	plan_of_full(&plan, NULL, NULL);
	est = estimate_par(&plan, "eu-west-1", DEC_2026, NULL, NULL, 10);
	const json_t *as = json_object_get(est, "apply_seconds"), *cp = json_object_get(est, "critical_path_seconds");
	T_OK(num(as, "high") >= num(cp, "high") && num(as, "low") >= num(cp, "low"));
	double chain = num(cp, "high");
	json_decref(est);
	est = estimate_par(&plan, "eu-west-1", DEC_2026, NULL, NULL, 1);
	T_OK(num(json_object_get(est, "apply_seconds"), "high") > chain + 900);
	json_decref(est);
	sf_plan_release(&plan);
}

/* A type's own `typical` durations are the estimate without a history:
 * a new type declares them in its file, nothing else names it. */
static const struct sf_rtype slow_type = {
	.name = "aws_slow_thing",
	.typical = {.create = {100, 200}, .delete = {30, 40}},
};

T_TEST(a_types_typical_durations_count)
{
	struct sf_plan plan;
	memset(&plan, 0, sizeof plan);
	plan.v = xcalloc(2, sizeof *plan.v);
	const char *addr[] = {"aws_slow_thing.a", "aws_slow_thing.b"};
	for (int i = 0; i < 2; i++) {
		struct sf_change *c = &plan.v[plan.n++];
		c->address = xstrdup(addr[i]);
		c->type = &slow_type;
		c->action = i == 0 ? SF_ACT_CREATE : SF_ACT_REPLACE;
		c->after = json_object();
		if (i == 1) {
			c->before = json_object();
			c->has_prior = 1;
		}
		c->deps = xcalloc(2, sizeof *c->deps);
		if (i == 1) /* b after a: the chain adds up */
			c->deps[c->ndeps++] = xstrdup("aws_slow_thing.a");
	}
	sf_plan_count(&plan);
	json_t *est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	const json_t *as = json_object_get(est, "apply_seconds");
	/* a's create, then b's create and delete */
	NEAR(num(as, "low"), 100 + 100 + 30);
	NEAR(num(as, "high"), 200 + 200 + 40);
	json_decref(est);
	sf_plan_release(&plan);
}

T_TEST(human_lines)
{
	struct sf_plan plan;
	plan_of_full(&plan, NULL, NULL);
	json_t *est = estimate(&plan, "eu-west-1", DEC_2026, NULL, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	sf_estimate_render(est, m, 0);
	fclose(m);
	T_CONTAINS(text, "Estimate of what will exist (eu-west-1, USD; prices: built-in price table, published 2026-11-20):");
	T_CONTAINS(text, "2 x up to $0.2140 per instance-hour  $0.4280/h  $312.44/month  Spot: up to the On-Demand figure\n");
	T_CONTAINS(text, "Total, at most");
	T_CONTAINS(text, "$0.9961/h  $727.16/month  Spot counted at its On-Demand ceiling\n");
	T_CONTAINS(text, "$0.5681/h  $414.72/month  the Price List API has no Spot prices\n");
	T_CONTAINS(text, "Apply time: about ");
	T_CONTAINS(text, "Longest chain: ");
	free(text);
	json_decref(est);
	sf_plan_release(&plan);
}

T_TEST(builtin_table_regions)
{
	struct sf_prices p;
	T_EQ(sf_prices_builtin(&p, "eu-central-1"), 0);
	NEAR(json_number_value(json_object_get(p.instances, "m6i.large")), 0.115);
	NEAR(p.gp3_gb_month, 0.0952);
	sf_prices_release(&p);
	T_EQ(sf_prices_builtin(&p, "ap-southeast-7"), SF_ENOTFOUND);
	T_OK(p.eks_hour < 0);
	sf_prices_release(&p);
}

/* What GetProducts returns: each PriceList item a JSON text in a string. */
T_TEST(price_list_document)
{
	const char *doc_text =
		"{\"product\":{\"productFamily\":\"Compute Instance\",\"attributes\":{\"instanceType\":\"m6i.large\","
		"\"usagetype\":\"EU-BoxUsage:m6i.large\"},\"sku\":\"ABC\"},\"serviceCode\":\"AmazonEC2\","
		"\"terms\":{\"OnDemand\":{\"ABC.JRTCKXETXF\":{\"priceDimensions\":{\"ABC.JRTCKXETXF.6YS6EN2CT7\":"
		"{\"unit\":\"Hrs\",\"pricePerUnit\":{\"USD\":\"0.1070000000\"}}}}}},"
		"\"publicationDate\":\"2026-11-20T00:00:00Z\"}";
	json_t *doc = json_loads(doc_text, 0, NULL);
	const char *unit = NULL;
	NEAR(sf_pricing_on_demand(doc, &unit), 0.107);
	T_STREQ(unit, "Hrs");
	T_STREQ(sf_pricing_attr(doc, "instanceType"), "m6i.large");
	/* two price dimensions (tiers) are not one price */
	json_t *dims = json_object_get(json_object_get(json_object_get(json_object_get(doc, "terms"), "OnDemand"),
						       "ABC.JRTCKXETXF"),
				       "priceDimensions");
	json_object_set_new(dims, "second", json_pack("{s:s, s:{s:s}}", "unit", "Hrs", "pricePerUnit", "USD", "0.05"));
	T_OK(sf_pricing_on_demand(doc, NULL) < 0);
	json_decref(doc);
	json_t *none = json_pack("{s:{}}", "product");
	T_OK(sf_pricing_on_demand(none, NULL) < 0);
	json_decref(none);
}

T_MAIN()
