/*
 * cluster_lower.c - Cluster document → resource instances with references:
 * builds the model (cluster.h) and the shared tags, then hands them to one
 * function per concern (cluster_lower.h, cluster_lower_<concern>.c).
 *
 * The graph (addresses are stable; names below are the resource names):
 *   IAM      aws_iam_role.cluster, aws_iam_role.node,
 *            aws_iam_role.ami_builder + aws_iam_instance_profile.ami_builder
 *            (only when some gVisor group bakes)
 *   network  aws_vpc.main; aws_subnet.public_<a..> and private_<a..>, one
 *            pair per AZ; aws_internet_gateway.main; aws_route_table.public
 *            (0.0.0.0/0 → gateway, public subnets) and .private;
 *            or, with network.vpcId, aws_network_ref.main (the given VPC
 *            and subnets, only read);
 *            aws_security_group.cluster (members talk to each other)
 *   images   aws_gvisor_ami.<arch> per arch of gVisor groups without `ami:`
 *   nodes    aws_launch_template.<group> per gVisor group;
 *            eks_nodegroup.<group> per group
 *   control  eks_cluster.main; eks_access_entry.admin_<i> per access.admins
 *   autoscaler  (spec.autoscaler) aws_iam_role.autoscaler,
 *            eks_pod_identity_association.autoscaler,
 *            k8s_manifest.autoscaler_<kind> (cluster_lower_autoscaler.c)
 *   then the Kubernetes objects (sf_cluster_lower_k8s).
 *
 * Parallelism falls out of the references: the cluster needs only the
 * cluster role, the subnets and the security group, so it is created while
 * the AMI bakes (which needs a public subnet, the route to the internet and
 * the builder profile) and while the node role is set up.  Launch templates
 * wait for the cluster (endpoint and CA in the user data) and their AMI;
 * node groups for the cluster, the node role, their template and the
 * public route table (their subnets' route out; torn down after them).
 *
 * Choices (documented in the README):
 *   - AZ names are deterministic: <region>a, <region>b, ... taken from
 *     metadata.region (else AWS_REGION / AWS_DEFAULT_REGION at plan time),
 *     so plans never need AWS.  Subnets split the VPC CIDR in 2 x AZ equal
 *     blocks: public first, then private.
 *   - No NAT gateway: node groups and the AMI builder run in the public
 *     subnets (public IPs on launch); private subnets hold the control-plane
 *     ENIs and internal load balancers.
 *   - runc groups use the EKS AL2023 AMI type directly (no template);
 *     gVisor groups get a launch template with the baked (or given) AMI.
 *   - The launch template's user data is rendered here with placeholders
 *     replaced by ${eks_cluster.main.endpoint} / ${eks_cluster.main.ca_data},
 *     so `plan` shows the real user data diff once the cluster exists.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

void sf_cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	struct sf_cluster cl;
	struct cl_lower l = {&cl, c, d, &doc->root->pos, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	if (sf_cluster_load(&cl, doc) < 0)
		goto done; /* validation reported why */
	if (!cl.region) {
		sf_diag_error(d, l.pos, "metadata.region: a Cluster needs a region (set metadata.region, or AWS_REGION)");
		goto done;
	}
	/* A longer one would make an IAM role name AWS refuses mid-apply
	 * (SF_CLUSTER_NAME_MAX). */
	if (strlen(cl.name) > SF_CLUSTER_NAME_MAX) {
		const struct sf_node *nn = sf_node_get(sf_node_get(doc->root, "metadata"), "name");
		sf_diag_error(d, nn ? &nn->pos : l.pos,
			      "metadata.name: a Cluster's name has at most %zu characters (its IAM role <name>-ami-builder must fit IAM's 64), not %zu",
			      (size_t)SF_CLUSTER_NAME_MAX, strlen(cl.name));
		goto done;
	}
	/* tags every AWS object carries */
	l.tags = json_object();
	if (cl.user_tags)
		json_object_update(l.tags, (json_t *)cl.user_tags);
	char *owned_key = xasprintf("kubernetes.io/cluster/%s", cl.name);
	json_object_set_new(l.tags, owned_key, json_string("owned"));
	free(owned_key);

	cl_lower_iam(&l);
	cl_lower_network(&l);
	cl_lower_endpoints(&l);
	cl_lower_control(&l);
	cl_lower_addons(&l);
	cl_lower_images(&l);
	cl_lower_nodes(&l);
	cl_lower_autoscaler(&l);
	sf_cluster_lower_k8s(cl.json, c, d);
done:
	json_decref(l.pub_ids);
	json_decref(l.priv_ids);
	json_decref(l.node_routes);
	json_decref(l.vpc_id);
	json_decref(l.builder_subnet);
	free(l.builder_dep);
	json_decref(l.priv_routes);
	json_decref(l.tags);
	sf_cluster_release(&cl);
}
