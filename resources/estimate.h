/*
 * estimate.h - what a plan will cost per hour and per month once applied,
 * and about how long the apply will take.
 *
 * Why: an EKS cluster bills from its first minute and takes a quarter of
 * an hour to make; both are worth knowing before saying yes.  Neither is
 * in the plan itself, so this module reads the plan's resulting objects
 * (every change except deletes: creates, updates, replacements and
 * unchanged ones) and prices what bills by the hour: the EKS control plane
 * (with the extended-support surcharge while its version is past standard
 * support, resources/eks_versions.h), node group instances by type,
 * capacity type and desired count, NAT gateways, the load balancers a
 * `LoadBalancer` Service makes, and the EBS root volumes.  Traffic,
 * snapshots and logs are not estimated.
 *
 * Prices: the AWS Price List API (aws/pricing.h) for the workspace's
 * region, else the dated table below (the same figures, transcribed from
 * AWS's price pages); the estimate names its source and publication day.
 * The Price List API has no Spot prices (they follow the market), and
 * Spot bills at most the On-Demand price: a Spot group is shown at its
 * On-Demand figure as a ceiling ("Spot: up to the On-Demand figure"), and
 * a total with Spot in it says it is one and what it is without Spot.  A
 * month is 730 hours, as AWS's pricing pages count.
 *
 * Time: the critical path through the plan's dependencies, each change
 * taking its typical duration from this workspace's past runs (the state's
 * phase timings, handed in as a callback since this floor does not read
 * state) or, without any, from the durations each type declares
 * (sf_rtype.typical: typical EKS timings); and, since
 * apply runs at most --parallelism changes at once, the time a plan wider
 * than that takes when each free worker takes the next ready change in
 * plan order, as the engine does (never less than the longest chain).
 *
 * Ownership: sf_prices owns its members (sf_prices_release); the plan is
 * borrowed; sf_estimate_make returns a new JSON reference, the document the
 * JSON plan carries as "estimate" and sf_estimate_render prints.
 */
#ifndef SF_ESTIMATE_H
#define SF_ESTIMATE_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "aws/client.h"
#include "provisioner/engine/plan.h"

#define SF_HOURS_PER_MONTH 730

/* USD prices of one region; -1 where unknown. */
struct sf_prices {
	char source[64];        /* "AWS Price List API" or "built-in price table" */
	char date[16];          /* publication day of the figures, YYYY-MM-DD */
	char region[32];
	char *fallback;         /* why the built-in table is used (owned), or NULL */
	double eks_hour;        /* per cluster */
	double eks_extended_hour; /* surcharge per cluster in extended support */
	double nat_hour;
	double nlb_hour, clb_hour;
	double gp3_gb_month;
	json_t *instances;      /* {"m6i.large": USD per hour (Linux, shared, On-Demand)} */
};

/* Does the plan hold anything this module prices or times (a type of the
 * aws or k8s provider, resources/provider.h, not only core ones)? */
int sf_estimate_wanted(const struct sf_plan *plan);
/* The instance types the plan's node groups name (new reference, a list). */
json_t *sf_estimate_instance_types(const struct sf_plan *plan);

/* The built-in table for region: 0, or SF_ENOTFOUND (every price -1) for a
 * region it does not carry.  p is initialised here. */
int sf_prices_builtin(struct sf_prices *p, const char *region);
/* The Price List API's figures for region and the given instance types.
 * p is initialised here; on failure it is left empty (release it). */
int sf_prices_fetch(struct sf_prices *p, struct sf_aws *c, const char *region, const json_t *instance_types,
		    struct sf_err *err);
void sf_prices_release(struct sf_prices *p);

/* The prices of one run (plan --all plans many workspaces): each region's
 * are asked of the Price List API once, by the first workspace that needs
 * them (the others of that region wait and reuse them), and an instance
 * type is asked once more only if no workspace of the region named it
 * before.  A region whose first ask failed is not asked again in the run:
 * every later get returns the same error.  Safe from several threads.
 * sf_price_cache_get fills *p with a copy (sf_prices_release it; on
 * failure it is left empty).  sf_price_cache_calls: how many times the API
 * was asked (each a few GetProducts pages). */
struct sf_price_cache;
struct sf_price_cache *sf_price_cache_new(void);
void sf_price_cache_free(struct sf_price_cache *pc);
int sf_price_cache_get(struct sf_price_cache *pc, struct sf_aws *c, const char *region, const json_t *instance_types,
		       struct sf_prices *p, struct sf_err *err);
size_t sf_price_cache_calls(const struct sf_price_cache *pc);

/* Typical seconds of one phase ("create", "update", "delete") of a type
 * from past runs: 1 with *lo..*hi set, 0 when there are none. */
typedef int (*sf_typical_fn)(void *ctx, const char *type, const char *phase, double *lo, double *hi);

struct sf_estimate_opts {
	const struct sf_prices *prices;
	time_t now;              /* for the EKS version's support status */
	sf_typical_fn typical;   /* NULL: built-in timings only */
	void *typical_ctx;
	int parallelism;         /* apply's --parallelism; 0: no bound */
};

/* The estimate as JSON: {"currency", "region", "price_source",
 * "price_date", "hours_per_month", "items": [{"what", "address", "count",
 * "unit", "unit_price", "hourly", "monthly", "note"?, "capacity_type"?,
 * "price_is_ceiling"?}], "hourly", "monthly", "total_is_ceiling",
 * "spot"?: {"note", "hourly_at_most", "monthly_at_most",
 * "hourly_without_spot", "monthly_without_spot"}, "unpriced": [what...],
 * "apply_seconds": {"low", "high"} (with the parallelism bound),
 * "critical_path_seconds": {"low", "high"}, "parallelism" (0: none),
 * "time_source", "critical_path": [{"address", "low", "high"}...]}. */
json_t *sf_estimate_make(const struct sf_plan *plan, const struct sf_estimate_opts *o);
/* The human lines, printed after the plan's changes. */
void sf_estimate_render(const json_t *est, FILE *out, int color);

#endif
