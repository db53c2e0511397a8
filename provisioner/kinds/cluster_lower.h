/*
 * cluster_lower.h - what the concerns of the Cluster lowering share
 * (cluster_lower.c and cluster_lower_<concern>.c only; not for callers,
 * who use sf_cluster_lower() in cluster.h).
 *
 * One function per concern adds its instances, in this order (their
 * references, not the order, decide what runs in parallel):
 *   cl_lower_iam       cluster and node roles, the AMI builder's role and profile
 *   cl_lower_network   VPC, subnets, internet gateway, NAT gateways and their
 *                      Elastic IPs, route tables (or a reference to an
 *                      existing VPC and subnets), security group
 *   cl_lower_endpoints VPC endpoints (network.vpcEndpoints) and their group
 *   cl_lower_control   the EKS cluster and its access entries
 *   cl_lower_addons    EKS add-ons: vpc-cni (network policy on), kube-proxy,
 *                      eks-pod-identity-agent, coredns
 *   cl_lower_images    one baked gVisor image per arch that needs one
 *   cl_lower_nodes     every group's launch template, the node groups
 *   cl_lower_autoscaler spec.autoscaler: its role, Pod Identity association
 *                      and Kubernetes objects
 * then the Kubernetes objects (sf_cluster_lower_k8s).
 */
#ifndef SF_CLUSTER_LOWER_H
#define SF_CLUSTER_LOWER_H

#include "provisioner/kinds/cluster.h"

struct cl_lower {
	const struct sf_cluster *cl;
	struct sf_config *c;
	struct sf_diags *d;
	const struct sf_pos *pos; /* the document's, for instances without a better one */
	json_t *tags;             /* the tags every AWS object carries (owned) */
	json_t *pub_ids;          /* ${aws_subnet.public_<z>.id} references (owned; set by the network) */
	json_t *priv_ids;         /* ${aws_subnet.private_<z>.id} references (owned) */
	json_t *node_ids;         /* the subnets nodes go in: pub_ids or priv_ids (borrowed) */
	json_t *node_routes;      /* addresses of what is their way out: route tables, VPC endpoints (owned) */
	json_t *vpc_id;           /* the VPC's id: ${aws_vpc.main.id} or ${aws_network_ref.main.vpc_id} (owned) */
	json_t *builder_subnet;   /* where the gVisor image builder runs (owned) */
	char *builder_dep;        /* what gives the builder its way out: an address (owned) */
	json_t *priv_routes;      /* addresses of the private subnets' route tables (owned) */
};

/* Add an instance of `type` (steals conf); dep: an extra dependency or NULL
 * (cluster_lower_common.c).  Returns the instance, for more dependencies. */
struct sf_rinst *cl_add(struct cl_lower *l, const char *type, const char *name, json_t *conf,
		       const struct sf_pos *pos, const char *dep);
/* "${addr.attr}" as a new JSON string. */
json_t *cl_ref(const char *addr, const char *attr);

void cl_lower_iam(struct cl_lower *l);
void cl_lower_network(struct cl_lower *l);
void cl_lower_endpoints(struct cl_lower *l);
void cl_lower_control(struct cl_lower *l);
void cl_lower_addons(struct cl_lower *l);
void cl_lower_images(struct cl_lower *l);
void cl_lower_nodes(struct cl_lower *l);
void cl_lower_autoscaler(struct cl_lower *l);

#endif
