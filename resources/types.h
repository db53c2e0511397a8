/*
 * types.h - the registry over every provider's resource types (registry.c,
 * provider.h).  The engine is handed sf_types(); layers above the types
 * (kinds, commands) may look types up directly.
 */
#ifndef SF_TYPES_H
#define SF_TYPES_H

#include "provisioner/engine/resource.h"

/* The core types (registry.c), one row each: X(<name>) for
 * `const struct sf_rtype sf_rt_<name>`. */
#define SF_CORE_TYPES(X) \
	X(local_file)     \
	X(test_object)    \
	X(test_object_cbd) \
	X(test_object_keep)

SF_CORE_TYPES(SF_RTYPE_EXTERN)

/* Every type, sorted by name; built once, never freed (borrowed). */
const struct sf_registry *sf_types(void);
/* The type named `name`, or NULL (also for NULL). */
const struct sf_rtype *sf_rtype_find(const char *name);
/* All types sorted by name; *n gets the count (borrowed array). */
const struct sf_rtype *const *sf_rtype_all(size_t *n);

#endif
