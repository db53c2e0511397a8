/*
 * types.h - the registry over every provider's resource types (registry.c,
 * provider.h).  The engine is handed sf_types(); layers above the types
 * (kinds, commands) may look types up directly.
 */
#ifndef SF_TYPES_H
#define SF_TYPES_H

#include "provisioner/engine/resource.h"

/* core */
extern const struct sf_rtype sf_rt_local_file;
extern const struct sf_rtype sf_rt_test_object;
extern const struct sf_rtype sf_rt_test_object_cbd;
extern const struct sf_rtype sf_rt_test_object_keep;

/* Every type, sorted by name; built once, never freed (borrowed). */
const struct sf_registry *sf_types(void);
/* The type named `name`, or NULL (also for NULL). */
const struct sf_rtype *sf_rtype_find(const char *name);
/* All types sorted by name; *n gets the count (borrowed array). */
const struct sf_rtype *const *sf_rtype_all(size_t *n);

#endif
