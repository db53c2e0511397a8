/* cluster_lower_addons.c - the EKS add-ons of a Cluster (see cluster_lower.h).
 *
 * vpc-cni with its network policy agent on (enableNetworkPolicy), so the
 * NetworkPolicies secfaas installs are enforced; kube-proxy and
 * eks-pod-identity-agent; coredns.  Node groups come after vpc-cni,
 * kube-proxy and the pod identity agent (cluster_lower_nodes.c), so an
 * upgrade step runs control plane, add-ons, node groups; coredns after the
 * first node group (a Deployment: EKS reports it DEGRADED while no node
 * can run it).
 *
 * Versions: each add-on carries the cluster's Kubernetes version, so an
 * upgrade moves it to EKS's default for the new version
 * (resources/aws_eks_addon.c), unless spec.addons.<name>.version pins one;
 * the pin's position goes along for plan-time errors. */
#include <stdio.h>
#include <stdlib.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

static void addon(struct cl_lower *l, const char *inst, const char *name, json_t *config, const char *dep)
{
	json_t *a = json_pack("{s:o, s:s, s:s*, s:O}", "cluster_name", cl_ref("eks_cluster.main", "name"), "addon_name",
			      name, "kubernetes_version", l->cl->kubernetes_version, "tags", l->tags);
	if (config)
		json_object_set_new(a, "configuration_values", config);
	const struct sf_node *spec = sf_node_get(l->cl->doc->root, "spec");
	const struct sf_node *pin = sf_node_get(sf_node_get(sf_node_get(spec, "addons"), name), "version");
	const struct sf_pos *pos = l->pos;
	if (pin && sf_node_str(pin)) {
		json_object_set_new(a, "addon_version", json_string(sf_node_str(pin)));
		char *where = xasprintf("%s:%d:%d", pin->pos.file ? pin->pos.file : "", pin->pos.line, pin->pos.col);
		json_object_set_new(a, "version_where", json_string(where));
		free(where);
		pos = &pin->pos;
	}
	cl_add(l, "eks_addon", inst, a, pos, dep);
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
