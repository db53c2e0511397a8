/* cluster_lower_addons.c - the EKS add-ons of a Cluster (see cluster_lower.h).
 *
 * vpc-cni with its network policy agent on (enableNetworkPolicy), so the
 * NetworkPolicies secfaas installs are enforced; kube-proxy and
 * eks-pod-identity-agent; coredns.  Node groups come after vpc-cni (their
 * pods' network); coredns after the first node group (a Deployment: EKS
 * reports it DEGRADED while no node can run it).  Versions: the default
 * for the cluster's Kubernetes version (resources/aws_eks_addon.c). */
#include <stdlib.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

static void addon(struct cl_lower *l, const char *inst, const char *name, json_t *config, const char *dep)
{
	json_t *a = json_pack("{s:o, s:s, s:s*, s:O}", "cluster_name", cl_ref("eks_cluster.main", "name"), "addon_name",
			      name, "kubernetes_version", l->cl->kubernetes_version, "tags", l->tags);
	if (config)
		json_object_set_new(a, "configuration_values", config);
	cl_add(l, "eks_addon", inst, a, l->pos, dep);
}

void cl_lower_addons(struct cl_lower *l)
{
	addon(l, "vpc_cni", "vpc-cni", json_pack("{s:s}", "enableNetworkPolicy", "true"), NULL);
	addon(l, "kube_proxy", "kube-proxy", NULL, NULL);
	addon(l, "pod_identity_agent", "eks-pod-identity-agent", NULL, NULL);
	char *first = l->cl->n_groups ? xasprintf("eks_nodegroup.%s", l->cl->groups[0].name) : NULL;
	addon(l, "coredns", "coredns", NULL, first);
	free(first);
}
