/* k8s_registry.c - the Kubernetes resource types (one file each: resources/k8s_*.c). */
#include "resources/types.h"
#include "resources/types_k8s.h"

const struct sf_rtype *const sf_rt_k8s_registry[] = {
	&sf_rt_k8s_basic_auth,
	&sf_rt_k8s_gvisor_guard,
	&sf_rt_k8s_manifest,
	NULL,
};
