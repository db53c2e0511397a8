/* cluster_lower_iam.c - the Cluster's IAM roles (see cluster_lower.h).
 *
 * The VPC CNI gets its AWS permissions (AmazonEKS_CNI_Policy: create,
 * attach and modify network interfaces) through a role of its own that
 * only the aws-node service account's pods receive (EKS Pod Identity,
 * cluster_lower_addons.c), not through the node role: whatever reaches the
 * node's credentials (a pod escaping to the host's network) must not be
 * able to rewrite the VPC's network interfaces.  The node role keeps what
 * the kubelet and the pod identity agent need.
 *
 * Order: the node role gives the policy up only after the vpc-cni add-on
 * has its association and its pods were restarted with it, so a cluster
 * made before this split keeps pod networking on its running nodes through
 * the upgrade (the node role's update depends on eks_addon.vpc_cni).  A
 * new node role never had the policy: its create runs alongside the
 * add-on's (an update-only dependency), so the node groups that need the
 * role do not wait for the add-on to be ACTIVE through it. */
#include <stdlib.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

static json_t *policies(const char *const *p)
{
	json_t *a = json_array();
	for (; *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

/* aws_iam_role.<res> named <cluster>-<suffix>, trusted by `service` (the
 * IAM service principal, a policy name, not an endpoint). */
static struct sf_rinst *role(struct cl_lower *l, const char *res, const char *suffix, const char *service,
			     const char *const *pol)
{
	char *n = xasprintf("%s-%s", l->cl->name, suffix);
	struct sf_rinst *r = cl_add(l, "aws_iam_role", res,
				    json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", service, "policy_arns",
					      policies(pol), "tags", l->tags),
				    l->pos, NULL);
	free(n);
	return r;
}

/* The cluster role, the node role, the VPC CNI's role for its pods, and
 * (only when some gVisor group bakes) the AMI builder's role and instance
 * profile. */
void cl_lower_iam(struct cl_lower *l)
{
	static const char *const cluster_pol[] = {"AmazonEKSClusterPolicy", NULL};
	static const char *const node_pol[] = {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
					      "AmazonSSMManagedInstanceCore", NULL};
	static const char *const cni_pol[] = {"AmazonEKS_CNI_Policy", NULL};
	static const char *const builder_pol[] = {"AmazonSSMManagedInstanceCore", NULL};
	role(l, "cluster", "cluster", "eks.amazonaws.com", cluster_pol);
	struct sf_rinst *node = role(l, "node", "node", "ec2.amazonaws.com", node_pol);
	if (node)
		sf_rinst_add_update_dep(node, "eks_addon.vpc_cni");
	role(l, "vpc_cni", "vpc-cni", "pods.eks.amazonaws.com", cni_pol);
	if (l->cl->bakes_x86_64 || l->cl->bakes_arm64) {
		role(l, "ami_builder", "ami-builder", "ec2.amazonaws.com", builder_pol);
		char *n = xasprintf("%s-ami-builder", l->cl->name);
		cl_add(l, "aws_iam_instance_profile", "ami_builder",
		       json_pack("{s:s, s:o}", "name", n, "role", cl_ref("aws_iam_role.ami_builder", "name")), l->pos,
		       NULL);
		free(n);
	}
}
