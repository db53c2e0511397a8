/*
 * k8s_provider.c - the Kubernetes provider: its resource types (one file
 * each, resources/k8s_*.c).  No preflight: an object may carry a static
 * token, and an EKS token's AWS credentials are checked by the client that
 * mints it.  Nothing to sweep: objects go with their cluster.
 *
 * Adding a Kubernetes type: its file, and one row in K8S_TYPES below.
 */
#include "resources/provider.h"

#define K8S_TYPES(X)    \
	X(k8s_basic_auth)  \
	X(k8s_gvisor_guard) \
	X(k8s_manifest)

#define DECLARE(n) extern const struct sf_rtype sf_rt_##n;
K8S_TYPES(DECLARE)
#define ROW(n) &sf_rt_##n,
static const struct sf_rtype *const types[] = {K8S_TYPES(ROW) NULL};

const struct sf_provider sf_provider_k8s = {
	.name = "k8s",
	.types = types,
};
