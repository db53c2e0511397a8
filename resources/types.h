/* types.h - resource type tables (see registry.c). */
#ifndef SF_TYPES_H
#define SF_TYPES_H

#include "provisioner/engine/resource.h"

/* core */
extern const struct sf_rtype sf_rt_local_file;
extern const struct sf_rtype sf_rt_test_object;
extern const struct sf_rtype sf_rt_test_object_cbd;

/* family tables, NULL-terminated: aws_registry.c, k8s_registry.c */
extern const struct sf_rtype *const sf_rt_aws_registry[];
extern const struct sf_rtype *const sf_rt_k8s_registry[];

#endif
