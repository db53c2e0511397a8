/* cluster_lower_addons.c - the EKS add-ons of a Cluster (see cluster_lower.h).
 *
 * vpc-cni with its network policy agent on (enableNetworkPolicy), so the
 * NetworkPolicies secfaas installs are enforced; kube-proxy and
 * eks-pod-identity-agent; coredns.  Node groups come after vpc-cni,
 * kube-proxy and the pod identity agent (cluster_lower_nodes.c), so an
 * upgrade step runs control plane, add-ons, node groups; coredns's update
 * after the first node group's.  coredns is a Deployment, not a DaemonSet:
 * EKS accepts it on a cluster without nodes and reports it DEGRADED until
 * a node can run its pods, so a new cluster creates it with the other
 * add-ons, alongside the node groups (an update-only dependency,
 * provisioner/engine/config.h), and its create waits through DEGRADED
 * while this run's node groups come up (resources/aws_eks_addon.c).  On an
 * upgrade its pods already run on the nodes, which move first.
 *
 * The VPC CNI's AWS permissions come through EKS Pod Identity: the
 * add-on's own podIdentityAssociations (aws-node -> aws_iam_role.vpc_cni),
 * the way EKS documents for add-ons, rather than a separate
 * eks_pod_identity_association, because EKS then creates, changes and
 * deletes the association with the add-on and lets nobody change it on its
 * own.  The pod identity agent serving those credentials is another
 * add-on; both are ACTIVE before any node group is made, so they need no
 * order between them and cluster creation does not wait for one after the
 * other.  Pods take Pod Identity credentials when they are admitted, so on
 * a cluster whose aws-node ran on the node role the add-on's DaemonSet is
 * restarted once the association is in place (resources/aws_eks_addon.c),
 * before the node role gives the CNI policy up (cluster_lower_iam.c).
 *
 * Versions: each add-on carries the cluster's Kubernetes version, so an
 * upgrade moves it to EKS's default for the new version
 * (resources/aws_eks_addon.c), unless spec.addons.<name>.version pins one;
 * the pin's position goes along for plan-time errors. */
#include <stdio.h>
#include <stdlib.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

static struct sf_rinst *addon(struct cl_lower *l, const char *inst, const char *name, json_t *config,
			      const char *dep)
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
	return cl_add(l, "eks_addon", inst, a, pos, dep);
}

void cl_lower_addons(struct cl_lower *l)
{
	struct sf_rinst *cni = addon(l, "vpc_cni", "vpc-cni", json_pack("{s:s}", "enableNetworkPolicy", "true"), NULL);
	if (cni) {
		json_object_set_new(cni->config, "pod_identity",
				    json_pack("{s:o}", "aws-node", cl_ref("aws_iam_role.vpc_cni", "arn")));
		json_object_set_new(cni->config, "restart_daemonset", json_string("kube-system/aws-node"));
		json_object_set_new(cni->config, "endpoint", cl_ref("eks_cluster.main", "endpoint"));
		json_object_set_new(cni->config, "ca_data", cl_ref("eks_cluster.main", "ca_data"));
	}
	addon(l, "kube_proxy", "kube-proxy", NULL, NULL);
	addon(l, "pod_identity_agent", "eks-pod-identity-agent", NULL, NULL);
	struct sf_rinst *dns = addon(l, "coredns", "coredns", NULL, NULL);
	if (dns && l->cl->n_groups) {
		char *first = xasprintf("eks_nodegroup.%s", l->cl->groups[0].name);
		sf_rinst_add_update_dep(dns, first);
		free(first);
	}
}
