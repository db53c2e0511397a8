/* cluster_lower_k8s.c - Kubernetes objects of a Cluster (stub until the Kubernetes types land). */
#include "cluster.h"

void sf_cluster_lower_k8s(const json_t *cluster, struct sf_config *c, struct sf_diags *d)
{
	(void)cluster;
	(void)c;
	(void)d;
}
