/*
 * registry.c - every resource type secfaas knows, from the provider
 * descriptors (provider.h): the core provider below, the AWS one in
 * aws_provider.c, the Kubernetes one in k8s_provider.c, each over its
 * family's list (types.h, types_aws.h, types_k8s.h).  Names are
 * unique across providers (a unit test checks it).  sf_types() is the
 * registry the commands hand to the engine.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resources/provider.h"
#include "resources/types.h"
#include "util.h"

/* The core provider: local files, and the engine's test types. */
#define ROW(n) &sf_rt_##n,
static const struct sf_rtype *const core[] = {SF_CORE_TYPES(ROW) NULL};

const struct sf_provider sf_provider_core = {
	.name = "core",
	.types = core,
};

static const struct sf_provider *const providers[] = {&sf_provider_core, &sf_provider_aws, &sf_provider_k8s};

const struct sf_provider *const *sf_provider_all(size_t *n)
{
	*n = SF_ARRAY_LEN(providers);
	return providers;
}

const struct sf_provider *sf_provider_of(const struct sf_rtype *t)
{
	for (size_t f = 0; t && f < SF_ARRAY_LEN(providers); f++)
		for (const struct sf_rtype *const *x = providers[f]->types; *x; x++)
			if (*x == t)
				return providers[f];
	return NULL;
}

int sf_provider_sweeps(const struct sf_provider *prov)
{
	if (!prov)
		return 0;
	if (prov->sweep_extra && prov->sweep_extra[0])
		return 1;
	for (const struct sf_rtype *const *t = prov->types; *t; t++)
		if ((*t)->sweep)
			return 1;
	return 0;
}

static int cmp_type(const void *a, const void *b)
{
	return strcmp((*(const struct sf_rtype *const *)a)->name, (*(const struct sf_rtype *const *)b)->name);
}

static const struct sf_rtype **all;
static size_t nall;
static struct sf_registry registry;
static pthread_once_t all_once = PTHREAD_ONCE_INIT;

static void build_all(void)
{
	for (size_t f = 0; f < SF_ARRAY_LEN(providers); f++)
		for (const struct sf_rtype *const *t = providers[f]->types; *t; t++)
			nall++;
	all = xcalloc(nall + 1, sizeof *all);
	size_t k = 0;
	for (size_t f = 0; f < SF_ARRAY_LEN(providers); f++)
		for (const struct sf_rtype *const *t = providers[f]->types; *t; t++)
			all[k++] = *t;
	qsort(all, nall, sizeof *all, cmp_type);
	registry.types = all;
	registry.n = nall;
}

const struct sf_rtype *const *sf_rtype_all(size_t *n)
{
	pthread_once(&all_once, build_all);
	*n = nall;
	return all;
}

const struct sf_registry *sf_types(void)
{
	pthread_once(&all_once, build_all);
	return &registry;
}

const struct sf_rtype *sf_rtype_find(const char *name)
{
	return sf_registry_find(sf_types(), name);
}
