/* registry.c - lookups in the type registry a caller hands in (see resource.h). */
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/resource.h"

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct sf_rtype *const *)elem)->name);
}

const struct sf_rtype *sf_registry_find(const struct sf_registry *r, const char *name)
{
	if (!r || !name || !r->n)
		return NULL;
	const struct sf_rtype *const *t = bsearch(name, r->types, r->n, sizeof *r->types, cmp_name);
	return t ? *t : NULL;
}

const struct sf_attr_def *sf_rtype_attr(const struct sf_rtype *t, const char *name)
{
	for (const struct sf_attr_def *a = t->attrs; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}
