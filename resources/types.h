/* types.h - the resource type tables registered in registry.c. */
#ifndef SF_TYPES_H
#define SF_TYPES_H

#include "provisioner/resource.h"

extern const struct sf_rtype sf_rt_local_file;
extern const struct sf_rtype sf_rt_test_object;

#endif
