/*
 * registry.c - every resource type secfaas knows, sorted by name.
 *
 * Adding a type: write resources/<type>.c defining `const struct sf_rtype
 * sf_rt_<type>`, declare it in resources/types.h and add one row here (keep
 * the order; a unit test checks it).
 */
#include <string.h>

#include "provisioner/resource.h"
#include "resources/types.h"
#include "util.h"

static const struct sf_rtype *const registry[] = {
	&sf_rt_local_file,
	&sf_rt_test_object,
};

const struct sf_rtype *sf_rtype_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < SF_ARRAY_LEN(registry); i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

const struct sf_rtype *const *sf_rtype_all(size_t *n)
{
	*n = SF_ARRAY_LEN(registry);
	return registry;
}

const struct sf_attr_def *sf_rtype_attr(const struct sf_rtype *t, const char *name)
{
	for (const struct sf_attr_def *a = t->attrs; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}
