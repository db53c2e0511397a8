/* cluster_lower_network.c - the Cluster's VPC and what is in it (see cluster_lower.h). */
#include <stdio.h>
#include <stdlib.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

/* The i-th of 2^newbits equal blocks of net/bits. */
static char *subnet_cidr(uint32_t net, int bits, int newbits, int i)
{
	int nb = bits + newbits;
	uint32_t n = net | ((uint32_t)i << (32 - nb));
	return xasprintf("%u.%u.%u.%u/%d", n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255, nb);
}

/* aws_vpc.main; a public and a private subnet per AZ (<region>a, b, ...:
 * deterministic, so plans never need AWS), the VPC CIDR split in 2 x AZ
 * equal blocks, public first; the internet gateway; route tables (public:
 * 0.0.0.0/0 to the gateway); the shared security group. */
void cl_lower_network(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	const char *name = cl->name;
	cl_add(l, "aws_vpc", "main",
	       json_pack("{s:s*, s:s, s:O*}", "cidr_block", cl->network.cidr, "cluster_name", name, "tags", l->tags),
	       l->pos, NULL);
	int naz = cl->network.azs;
	int newbits = 0;
	while ((1 << newbits) < 2 * naz)
		newbits++;
	l->pub_ids = json_array();
	l->priv_ids = json_array();
	for (int z = 0; z < naz; z++) {
		char az[64];
		snprintf(az, sizeof az, "%s%c", cl->region, 'a' + z);
		for (int p = 0; p < 2; p++) {
			char *sn = xasprintf("%s_%c", p == 0 ? "public" : "private", 'a' + z);
			char *cidr = subnet_cidr(cl->network.net, cl->network.bits, newbits, p == 0 ? z : naz + z);
			json_t *st = json_deep_copy(l->tags);
			json_object_set_new(st, p == 0 ? "kubernetes.io/role/elb" : "kubernetes.io/role/internal-elb",
					    json_string("1"));
			char *nm = xasprintf("%s-%s-%c", name, p == 0 ? "public" : "private", 'a' + z);
			json_object_set_new(st, "Name", json_string(nm));
			free(nm);
			cl_add(l, "aws_subnet", sn,
			       json_pack("{s:o, s:s, s:s, s:b, s:o}", "vpc_id", cl_ref("aws_vpc.main", "id"), "cidr_block",
					 cidr, "availability_zone", az, "public", p == 0, "tags", st),
			       l->pos, NULL);
			char *addr = xasprintf("aws_subnet.%s", sn);
			json_array_append_new(p == 0 ? l->pub_ids : l->priv_ids, cl_ref(addr, "id"));
			free(addr);
			free(cidr);
			free(sn);
		}
	}
	cl_add(l, "aws_internet_gateway", "main",
	       json_pack("{s:o, s:O*}", "vpc_id", cl_ref("aws_vpc.main", "id"), "tags", l->tags), l->pos, NULL);
	cl_add(l, "aws_route_table", "public",
	       json_pack("{s:o, s:o, s:O*, s:O*}", "vpc_id", cl_ref("aws_vpc.main", "id"), "gateway_id",
			 cl_ref("aws_internet_gateway.main", "id"), "subnet_ids", l->pub_ids, "tags", l->tags),
	       l->pos, NULL);
	cl_add(l, "aws_route_table", "private",
	       json_pack("{s:o, s:O*, s:O*}", "vpc_id", cl_ref("aws_vpc.main", "id"), "subnet_ids", l->priv_ids, "tags",
			 l->tags),
	       l->pos, NULL);
	char *n = xasprintf("%s-cluster-shared", name);
	cl_add(l, "aws_security_group", "cluster",
	       json_pack("{s:o, s:s, s:s, s:b, s:O*}", "vpc_id", cl_ref("aws_vpc.main", "id"), "name", n, "description",
			 "secfaas: control plane and nodes of the cluster", "self_ingress", 1, "tags", l->tags),
	       l->pos, NULL);
	free(n);
}
