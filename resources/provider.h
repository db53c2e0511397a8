/*
 * provider.h - one descriptor per provider family: core (local files, the
 * engine's test types), aws (IAM, EC2, EKS) and k8s (Kubernetes objects).
 *
 * Why: what a family needs beyond its types' CRUD - credentials to check
 * before apply changes anything, the sweep of `secfaas gc` - used to be
 * guessed from type name prefixes and kept in per-kind switches.  A
 * descriptor says it once: its types, its credential preflight, its
 * sweep (the types' own sweep hooks plus kinds that are not types, and
 * the clock and scope the sweep reports in).
 *
 * Adding a resource type to a family: write resources/<family>_<name>.c
 * defining `const struct sf_rtype sf_rt_<name>` (with its sweep hook when
 * gc must find it, see sweep.h), and add one row to the family's list:
 * SF_AWS_TYPES (types_aws.h), SF_K8S_TYPES (types_k8s.h) or SF_CORE_TYPES
 * (types.h).  The descriptor's table and the type's declaration come from
 * that row; nothing else names the type.
 *
 * Ownership: descriptors are static and const; everything returned is
 * borrowed.  Not to be confused with struct sf_providers (providers.h),
 * the run-wide clients the descriptors' hooks are handed.
 */
#ifndef SF_PROVIDER_H
#define SF_PROVIDER_H

#include <stddef.h>

#include "err.h"
#include "provisioner/engine/resource.h"

struct sf_providers;
struct sf_sweep_hook;

struct sf_provider {
	const char *name;                            /* "core", "aws", "k8s" */
	const struct sf_rtype *const *types;         /* NULL-terminated */
	/* Before apply changes any object of this family: prove the
	 * credentials work, so a missing one is one clear error and nothing
	 * is journaled.  NULL: nothing to check. */
	int (*preflight)(struct sf_providers *p, struct sf_err *err);
	/* Sweep kinds that are not resource types, NULL-terminated; may be NULL. */
	const struct sf_sweep_hook *const *sweep_extra;
	/* The service's clock for the sweep (and a credential check); NULL: none. */
	int (*sweep_now)(struct sf_providers *p, double *now, struct sf_err *err);
	/* Where the sweep looks, for messages ("eu-west-1"); NULL: the name. */
	const char *(*sweep_scope)(struct sf_providers *p);
};

extern const struct sf_provider sf_provider_core;
extern const struct sf_provider sf_provider_aws;
extern const struct sf_provider sf_provider_k8s;

/* Every provider, in a fixed order (core, aws, k8s); *n gets the count. */
const struct sf_provider *const *sf_provider_all(size_t *n);

/* The provider whose table holds t, or NULL. */
const struct sf_provider *sf_provider_of(const struct sf_rtype *t);

/* 1 if the provider declares anything for gc to sweep, else 0. */
int sf_provider_sweeps(const struct sf_provider *prov);

#endif
