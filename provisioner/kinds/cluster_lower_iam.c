/* cluster_lower_iam.c - the Cluster's IAM roles (see cluster_lower.h). */
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

/* The cluster role, the node role, and (only when some gVisor group bakes)
 * the AMI builder's role and instance profile. */
void cl_lower_iam(struct cl_lower *l)
{
	const char *name = l->cl->name;
	char *n;
	static const char *const cluster_pol[] = {"AmazonEKSClusterPolicy", NULL};
	static const char *const node_pol[] = {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
					      "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore", NULL};
	static const char *const builder_pol[] = {"AmazonSSMManagedInstanceCore", NULL};
	/* "service" is the IAM service principal the role trusts (a policy
	 * name, not an endpoint). */
	n = xasprintf("%s-cluster", name);
	cl_add(l, "aws_iam_role", "cluster",
	       json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", "eks.amazonaws.com", "policy_arns",
			 policies(cluster_pol), "tags", l->tags),
	       l->pos, NULL);
	free(n);
	n = xasprintf("%s-node", name);
	cl_add(l, "aws_iam_role", "node",
	       json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", "ec2.amazonaws.com", "policy_arns",
			 policies(node_pol), "tags", l->tags),
	       l->pos, NULL);
	free(n);
	if (l->cl->bakes_x86_64 || l->cl->bakes_arm64) {
		n = xasprintf("%s-ami-builder", name);
		cl_add(l, "aws_iam_role", "ami_builder",
		       json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", "ec2.amazonaws.com", "policy_arns",
				 policies(builder_pol), "tags", l->tags),
		       l->pos, NULL);
		cl_add(l, "aws_iam_instance_profile", "ami_builder",
		       json_pack("{s:s, s:o}", "name", n, "role", cl_ref("aws_iam_role.ami_builder", "name")), l->pos,
		       NULL);
		free(n);
	}
}
