/*
 * k8s_provider.c - the Kubernetes provider: its resource types (one file
 * each, resources/k8s_*.c).  No preflight: an object may carry a static
 * token, and an EKS token's AWS credentials are checked by the client that
 * mints it.  Nothing to sweep: objects go with their cluster.
 *
 * Adding a Kubernetes type: its file, and one row in SF_K8S_TYPES
 * (types_k8s.h).
 */
#include "resources/provider.h"
#include "resources/types_k8s.h"

#define ROW(n) &sf_rt_##n,
static const struct sf_rtype *const types[] = {SF_K8S_TYPES(ROW) NULL};

const struct sf_provider sf_provider_k8s = {
	.name = "k8s",
	.types = types,
};
