/* k8s_registry.c - the Kubernetes resource types (one file each: resources/k8s_*.c). */
#include "resources/types.h"
#include "resources/types_k8s.h"

const struct sf_rtype *const sf_rt_k8s_registry[] = {
	NULL,
};
