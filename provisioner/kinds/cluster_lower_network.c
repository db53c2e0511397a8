/*
 * cluster_lower_network.c - the Cluster's VPC and what is in it (see
 * cluster_lower.h).
 *
 * Two ways to have the network, one rest: made_network() creates the VPC,
 * subnets, gateways and route tables (network.cidr); given_network()
 * references an existing VPC and subnets by id (network.vpcId,
 * network.subnets) through aws_network_ref.main, which only reads them.
 * Either fills the same fields of struct cl_lower (the VPC id, the subnet
 * ids, where nodes go and what is their way out, where the image builder
 * runs), and shared_network() adds what secfaas makes in the VPC whichever
 * it is, from those fields only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

/* The i-th of 2^newbits equal blocks of net/bits. */
static char *subnet_cidr(uint32_t net, int bits, int newbits, int i)
{
	int nb = bits + newbits;
	uint32_t n = net | ((uint32_t)i << (32 - nb));
	return xasprintf("%u.%u.%u.%u/%d", n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255, nb);
}

/* An Elastic IP and a NAT gateway in public subnet z; returns the NAT
 * gateway's address (owned).  The NAT gateway needs the internet gateway
 * attached to be made at all, and its traffic leaves through the public
 * route table, which must outlive it at teardown. */
static char *nat_gateway(struct cl_lower *l, int z, const char *suffix)
{
	char *eip = xasprintf("aws_eip.%s", suffix), *nat = xasprintf("aws_nat_gateway.%s", suffix);
	char *sub = xasprintf("aws_subnet.public_%c", 'a' + z);
	cl_add(l, "aws_eip", suffix, json_pack("{s:O*}", "tags", l->tags), l->pos, NULL);
	struct sf_rinst *r = cl_add(l, "aws_nat_gateway", suffix,
				    json_pack("{s:o, s:o, s:O*}", "subnet_id", cl_ref(sub, "id"), "allocation_id",
					      cl_ref(eip, "id"), "tags", l->tags),
				    l->pos, "aws_internet_gateway.main");
	sf_rinst_add_dep(r, "aws_route_table.public");
	free(eip);
	free(sub);
	return nat;
}

/* The private route table(s): nat single, one table for every private
 * subnet, out through one NAT gateway in the first public subnet; perAz,
 * one NAT gateway and one table per AZ, so an AZ's nodes keep their way
 * out when another AZ fails; none, a table without a default route.
 * Records where nodes go and which tables are their way out. */
static void private_routes(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	int priv = !cl->network.node_subnets || !strcmp(cl->network.node_subnets, "private");
	const char *nat = cl->network.nat ? cl->network.nat : priv ? "single" : "none";
	l->node_ids = priv ? l->priv_ids : l->pub_ids;
	l->node_routes = json_array();
	l->priv_routes = json_array();
	if (!priv)
		json_array_append_new(l->node_routes, json_string("aws_route_table.public"));
	if (!strcmp(nat, "perAz")) {
		for (int z = 0; z < cl->network.azs; z++) {
			char sfx[16], rt[64];
			snprintf(sfx, sizeof sfx, "private_%c", 'a' + z);
			char *n = nat_gateway(l, z, sfx);
			json_t *sn = json_array();
			json_array_append(sn, json_array_get(l->priv_ids, (size_t)z));
			cl_add(l, "aws_route_table", sfx,
			       json_pack("{s:o, s:o, s:o, s:O*}", "vpc_id", json_incref(l->vpc_id), "nat_gateway_id",
					 cl_ref(n, "id"), "subnet_ids", sn, "tags", l->tags),
			       l->pos, NULL);
			snprintf(rt, sizeof rt, "aws_route_table.%s", sfx);
			json_array_append_new(l->priv_routes, json_string(rt));
			if (priv)
				json_array_append_new(l->node_routes, json_string(rt));
			free(n);
		}
		return;
	}
	json_t *conf = json_pack("{s:O, s:O*, s:O*}", "vpc_id", l->vpc_id, "subnet_ids", l->priv_ids,
				 "tags", l->tags);
	if (!strcmp(nat, "single")) {
		char *n = nat_gateway(l, 0, "main");
		json_object_set_new(conf, "nat_gateway_id", cl_ref(n, "id"));
		free(n);
	}
	cl_add(l, "aws_route_table", "private", conf, l->pos, NULL);
	json_array_append_new(l->priv_routes, json_string("aws_route_table.private"));
	if (priv)
		json_array_append_new(l->node_routes, json_string("aws_route_table.private"));
}

/* aws_vpc.main; a public and a private subnet per AZ (<region>a, b, ...:
 * deterministic, so plans never need AWS), the VPC CIDR split in 2 x AZ
 * equal blocks, public first; the internet gateway; route tables (public:
 * 0.0.0.0/0 to the gateway; private: to the NAT gateway(s)).  The image
 * builder runs in the first public subnet. */
static void made_network(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	const char *name = cl->name;
	cl_add(l, "aws_vpc", "main",
	       json_pack("{s:s*, s:s, s:O*}", "cidr_block", cl->network.cidr, "cluster_name", name, "tags", l->tags),
	       l->pos, NULL);
	l->vpc_id = cl_ref("aws_vpc.main", "id");
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
			       json_pack("{s:O, s:s, s:s, s:b, s:o}", "vpc_id", l->vpc_id, "cidr_block", cidr,
					 "availability_zone", az, "public", p == 0, "tags", st),
			       l->pos, NULL);
			char *addr = xasprintf("aws_subnet.%s", sn);
			json_array_append_new(p == 0 ? l->pub_ids : l->priv_ids, cl_ref(addr, "id"));
			free(addr);
			free(cidr);
			free(sn);
		}
	}
	cl_add(l, "aws_internet_gateway", "main", json_pack("{s:O, s:O*}", "vpc_id", l->vpc_id, "tags", l->tags), l->pos,
	       NULL);
	cl_add(l, "aws_route_table", "public",
	       json_pack("{s:O, s:o, s:O*, s:O*}", "vpc_id", l->vpc_id, "gateway_id",
			 cl_ref("aws_internet_gateway.main", "id"), "subnet_ids", l->pub_ids, "tags", l->tags),
	       l->pos, NULL);
	private_routes(l);
	l->builder_subnet = cl_ref("aws_subnet.public_a", "id");
	l->builder_dep = xstrdup("aws_route_table.public");
}

/* aws_network_ref.main: the given VPC and subnets, read and checked at
 * plan time (resources/aws_network_ref.c), never changed.  Everything
 * placed in them refers to it, so it is read first; its ids are known
 * now, so the plan shows them.  Nodes go in the given private subnets
 * (or public ones, nodeSubnets: public), whose own route tables are their
 * way out; the image builder in the first public subnet, else the first
 * private one. */
static void given_network(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	const struct sf_node *net = sf_node_get(sf_node_get(cl->doc->root, "spec"), "network");
	const struct sf_node *vn = net ? sf_node_get(net, "vpcId") : NULL;
	const struct sf_pos *pos = vn ? &vn->pos : l->pos;
	int priv = !cl->network.node_subnets || !strcmp(cl->network.node_subnets, "private");
	l->priv_ids = cl->network.private_subnets ? json_deep_copy(cl->network.private_subnets) : json_array();
	l->pub_ids = cl->network.public_subnets ? json_deep_copy(cl->network.public_subnets) : json_array();
	l->node_ids = priv ? l->priv_ids : l->pub_ids;
	json_t *b = json_array_get(l->pub_ids, 0);
	l->builder_subnet = json_incref(b ? b : json_array_get(l->priv_ids, 0));
	long long max_nodes = 0;
	for (size_t i = 0; i < cl->n_groups; i++)
		max_nodes += cl->groups[i].max;
	char *where = xasprintf("%s:%d:%d", pos->file ? pos->file : "", pos->line, pos->col);
	json_t *chk = json_pack("{s:s, s:s*, s:I}", "where", where, "region", cl->region, "max_nodes",
				(json_int_t)max_nodes);
	free(where);
	const json_t *eg = json_object_get(json_object_get(json_object_get(cl->json, "spec"), "openfaas"), "functionEgress");
	if (json_is_string(eg) && !strcmp(json_string_value(eg), "internet"))
		json_object_set_new(chk, "egress_excludes_vpc", json_true());
	if ((cl->bakes_x86_64 || cl->bakes_arm64) && l->builder_subnet)
		json_object_set(chk, "builder_subnet_id", l->builder_subnet);
	cl_add(l, "aws_network_ref", "main",
	       json_pack("{s:s, s:O, s:O, s:s, s:o}", "vpc_id", cl->network.vpc_id, "private_subnet_ids", l->priv_ids,
			 "public_subnet_ids", l->pub_ids, "node_subnets", priv ? "private" : "public", "check", chk),
	       pos, NULL);
	l->vpc_id = cl_ref("aws_network_ref.main", "vpc_id");
	l->node_routes = json_pack("[s]", "aws_network_ref.main");
	l->builder_dep = xstrdup("aws_network_ref.main");
}

/* What secfaas makes in the VPC, made or given: the security group shared
 * by the control plane and the nodes. */
static void shared_network(struct cl_lower *l)
{
	char *n = xasprintf("%s-cluster-shared", l->cl->name);
	cl_add(l, "aws_security_group", "cluster",
	       json_pack("{s:O, s:s, s:s, s:b, s:O*}", "vpc_id", l->vpc_id, "name", n, "description",
			 "secfaas: control plane and nodes of the cluster", "self_ingress", 1, "tags", l->tags),
	       l->pos, NULL);
	free(n);
}

void cl_lower_network(struct cl_lower *l)
{
	if (l->cl->network.vpc_id)
		given_network(l);
	else
		made_network(l);
	shared_network(l);
}
