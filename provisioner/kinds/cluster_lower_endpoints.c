/*
 * cluster_lower_endpoints.c - the Cluster's VPC endpoints
 * (network.vpcEndpoints; see cluster_lower.h): how nodes without a NAT
 * gateway still reach the AWS services they need.
 *
 * Every listed service but s3 becomes an interface endpoint in the
 * private subnets (one network interface per AZ) with private DNS on, so
 * the service's usual name resolves to the endpoint inside the VPC and
 * nothing on the nodes changes; their security group lets in HTTPS from
 * the VPC only.  s3 becomes a gateway endpoint on the private route
 * tables: ECR keeps image layers in S3, and a gateway endpoint costs
 * nothing.  Node groups depend on every endpoint, so the endpoints exist
 * before the first node boots and outlive the last one at teardown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

/* The services secfaas offers (the short name after com.amazonaws.<region>.). */
const char *const sf_vpc_endpoint_services[] = {"ec2",	"ecr.api", "ecr.dkr",		   "s3",  "sts",
						 "eks", "eks-auth", "elasticloadbalancing", "logs", "kms",
						 "ssm", "ssmmessages", "ec2messages",	   "secretsmanager", NULL};

/* What a managed node needs when its subnet has no way to the internet:
 * the VPC CNI assigns pod addresses through the EC2 API, with credentials
 * it gets through EKS Pod Identity (eks-auth; cluster_lower_iam.c gives
 * it a role of its own, not the node role's); the kubelet pulls the
 * add-on images (vpc-cni, kube-proxy, coredns, the pod identity agent)
 * from ECR, whose API and registry are two services and whose layers are
 * in S3; and STS serves the web-identity exchange of the pods that run
 * with a role.  The set AWS's private-cluster guide and eksctl's
 * fully-private clusters start from, plus eks-auth. */
const char *const sf_vpc_endpoints_nodes_need[] = {"ec2", "ecr.api", "ecr.dkr", "s3", "sts", "eks-auth", NULL};

/* The instance name of a service: dots and dashes become underscores. */
static char *instance_name(const char *svc)
{
	char *n = xstrdup(svc);
	for (char *p = n; *p; p++)
		if (*p == '.' || *p == '-')
			*p = '_';
	return n;
}

void cl_lower_endpoints(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	const json_t *list = cl->network.vpc_endpoints;
	if (!json_array_size(list))
		return;
	int interface = 0;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) interface |= json_string_value(v) && strcmp(json_string_value(v), "s3");
	if (interface) {
		char *n = xasprintf("%s-vpc-endpoints", cl->name);
		cl_add(l, "aws_security_group", "endpoints",
		       json_pack("{s:o, s:s, s:s, s:s*, s:O*}", "vpc_id", json_incref(l->vpc_id), "name", n,
				 "description", "secfaas: HTTPS from the VPC to its interface endpoints", "https_from",
				 cl->network.cidr, "tags", l->tags),
		       l->pos, NULL);
		free(n);
	}
	json_array_foreach(list, i, v)
	{
		const char *svc = json_string_value(v);
		if (!svc)
			continue;
		char *name = instance_name(svc), *full = xasprintf("com.amazonaws.%s.%s", cl->region, svc);
		json_t *conf = json_pack("{s:O, s:s, s:O*}", "vpc_id", l->vpc_id, "service_name", full,
					 "tags", l->tags);
		if (!strcmp(svc, "s3")) {
			json_t *rts = json_array();
			size_t k;
			json_t *rt;
			json_array_foreach(l->priv_routes, k, rt)
			{
				char *a = xstrdup(json_string_value(rt));
				json_array_append_new(rts, cl_ref(a, "id"));
				free(a);
			}
			json_object_set_new(conf, "type", json_string("Gateway"));
			json_object_set_new(conf, "route_table_ids", rts);
		} else {
			json_object_set_new(conf, "type", json_string("Interface"));
			json_object_set(conf, "subnet_ids", l->priv_ids);
			json_object_set_new(conf, "security_group_ids",
					    json_pack("[o]", cl_ref("aws_security_group.endpoints", "id")));
			json_object_set_new(conf, "private_dns", json_true());
		}
		cl_add(l, "aws_vpc_endpoint", name, conf, l->pos, NULL);
		char *addr = xasprintf("aws_vpc_endpoint.%s", name);
		json_array_append_new(l->node_routes, json_string(addr));
		free(addr);
		free(full);
		free(name);
	}
}
