/*
 * registry.c - every resource type secfaas knows.
 *
 * Three tables, one per family, so the families evolve independently:
 * core types below, AWS types in aws_registry.c, Kubernetes types in
 * k8s_registry.c.  Adding a type: write resources/<type>.c defining
 * `const struct sf_rtype sf_rt_<type>`, declare it in the family header and
 * add one row to the family table.  Names are unique across families (a
 * unit test checks it).  sf_types() is the registry main hands to the
 * engine.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/resource.h"
#include "resources/types.h"
#include "util.h"

static const struct sf_rtype *const core[] = {
	&sf_rt_local_file,
	&sf_rt_test_object,
	&sf_rt_test_object_cbd,
	NULL,
};

static const struct sf_rtype *const *const families[] = {core, sf_rt_aws_registry, sf_rt_k8s_registry};


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
	for (size_t f = 0; f < SF_ARRAY_LEN(families); f++)
		for (const struct sf_rtype *const *t = families[f]; *t; t++)
			nall++;
	all = xcalloc(nall + 1, sizeof *all);
	size_t k = 0;
	for (size_t f = 0; f < SF_ARRAY_LEN(families); f++)
		for (const struct sf_rtype *const *t = families[f]; *t; t++)
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
