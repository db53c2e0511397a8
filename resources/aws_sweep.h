/*
 * aws_sweep.h - find and delete AWS objects secfaas made that no state owns
 * any more (a lost state file, a run killed before its intent was written)
 * or whose ephemeral lifetime (secfaas:expires-at) has passed.
 *
 * Why: `secfaas gc` first destroys expired workspaces from their state
 * files; this is its second half, the safety net that works from AWS's
 * side.  It only ever looks at objects carrying the `secfaas:workspace`
 * ownership tag that every AWS resource type puts on what it creates; an
 * object without it is never listed, let alone deleted.
 *
 * What is deleted: an object whose secfaas:lineage (or, when it has none,
 * secfaas:workspace) is not known to any state (is_known returns 0), or
 * whose secfaas:expires-at is before `now`; node groups of a cluster being
 * deleted go with it.  Deletion runs in dependency order — node groups,
 * clusters, instances, launch templates, images, snapshots, ENIs, security
 * groups, route tables, subnets, internet gateways, VPCs, instance
 * profiles, roles — through the resource types' own destroy functions
 * where a describe gives their prior attributes (one deletion path per
 * type: DependencyViolation retries, bounded waits, policy detaching), else
 * through the API directly.  Every wait and retry has a deadline (the
 * types' official ones scaled by SECFAAS_POLL_SCALE), so a sweep never
 * hangs.  Instances that EKS launched for a node group are left to the node
 * group.
 *
 * Calling steps:
 *   struct sf_providers p; sf_providers_init(&p); p.region = ...;
 *   double now; if (sf_aws_sweep_now(&p, &now, &err) < 0) ... // no credentials
 *   struct sf_buf rep = SF_BUF_INIT; int left;
 *   int n = sf_aws_sweep(&p, known, ctx, now, dry_run, &rep, &left, &err);
 *   print sf_buf_cstr(&rep); sf_buf_release(&rep); sf_providers_release(&p);
 *
 * Ownership: the providers and ctx are borrowed; the report buffer is the
 * caller's (lines are appended: "deleted KIND ID: REASON", "would delete
 * ...", "left KIND ID: REASON: ERROR").
 */
#ifndef SF_AWS_SWEEP_H
#define SF_AWS_SWEEP_H

#include "err.h"
#include "resources/providers.h"
#include "util.h"

/* 1 when a state knows the object with these ownership tags
 * (secfaas:workspace, secfaas:lineage, secfaas:address, secfaas:token; any
 * but workspace may be NULL when the object lacks that tag), else 0. */
typedef int (*sf_sweep_known_fn)(const char *workspace, const char *lineage, const char *address, const char *token,
				 void *ctx);

/* "now" as the AWS service sees it: a signed STS GetCallerIdentity (which
 * also proves the credentials work) and its reply's Date header; local time
 * when the reply had none.  < 0 with err when AWS cannot be reached or the
 * credentials are refused. */
int sf_aws_sweep_now(struct sf_providers *p, double *now, struct sf_err *err);

/* Sweep the providers' account and region.  Returns the number of objects
 * selected for deletion (deleted, would delete with dry_run, or left), or
 * < 0 when the listing itself failed (err filled; nothing was deleted).
 * *left counts the selected objects still present afterwards (0 on
 * dry_run). */
int sf_aws_sweep(struct sf_providers *p, sf_sweep_known_fn is_known, void *ctx, double now, int dry_run,
		 struct sf_buf *report, int *left, struct sf_err *err);

#endif
