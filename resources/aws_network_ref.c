/*
 * aws_network_ref.c - aws_network_ref: an existing VPC and subnets a
 * Cluster runs in (network.vpcId, network.subnets), made and owned by
 * someone else (a network team, Terraform).
 *
 * A reference, not an object secfaas makes: every call in this file is a
 * Describe.  create and update only read the VPC and the subnets and
 * record what the consumers need (the VPC's CIDR blocks, the zones); the
 * engine never calls destroy for its ownership kind (SF_OWN_REF,
 * engine/resource.h), so destroy, a replacement and `secfaas gc` forget
 * the row and leave the VPC, its subnets, route tables and gateways as they
 * were.  It has no sweep hook, and its objects carry no secfaas tags that
 * another type's sweep could match.
 *
 * What the cluster needs from the network is checked at plan time
 * (plan_review, every plan), against what EKS documents, so a wrong id
 * fails the plan instead of CreateCluster minutes into an apply:
 *   - the VPC and every subnet exist in the cluster's region, and every
 *     subnet is in that VPC;
 *   - the subnets span at least two availability zones, and each has at
 *     least 6 free addresses (EKS's requirement for its network
 *     interfaces);
 *   - the node subnets have enough free addresses for the groups at their
 *     maximum size (an error below one address per node; a warning below
 *     16 per node, since the VPC CNI gives every pod a VPC address and
 *     keeps a spare network interface's worth per node);
 *   - a way out for nodes (and the image builder): a private subnet's
 *     route table needs 0.0.0.0/0 to a NAT gateway (or a transit gateway,
 *     a NAT instance), or else the VPC endpoints nodes need to join
 *     (ec2, ecr.api, ecr.dkr, sts interface endpoints and the s3 gateway
 *     endpoint on that table); a public one needs 0.0.0.0/0 to an internet
 *     gateway and public addresses on launch; the image builder needs the
 *     internet itself (it downloads the gVisor release);
 *   - the load balancer subnet tags (kubernetes.io/role/elb on public,
 *     kubernetes.io/role/internal-elb on private subnets): without them the
 *     cluster works but Kubernetes finds no subnet for a load balancer, so
 *     a missing tag is a warning;
 *   - with openfaas.functionEgress: internet, a VPC of one IPv4 CIDR block
 *     (the function egress policy keeps functions out of that block);
 *   - DNS resolution and DNS hostnames on in the VPC: without them nodes
 *     cannot register with the cluster (and interface endpoints have no
 *     private DNS names).  A VPC made by CreateVpc has hostnames off, so
 *     a network made by hand for something else often fails this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "log.h"
#include "resources/aws_common.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED, "the existing VPC (vpc-...): read, never changed or deleted"},
	{"private_subnet_ids", SF_AT_LIST, SF_ATTR_OPTIONAL, "its private subnets to use"},
	{"public_subnet_ids", SF_AT_LIST, SF_ATTR_OPTIONAL, "its public subnets to use"},
	{"node_subnets", SF_AT_STRING, SF_ATTR_OPTIONAL, "which list nodes go in: private (default) or public"},
	{"check", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT,
	 "plan-time checks: where (file:line:col), region, max_nodes, builder_subnet_id"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "the VPC id"},
	{"cidr_block", SF_AT_STRING, SF_ATTR_COMPUTED, "the VPC's primary IPv4 CIDR block"},
	{"cidr_blocks", SF_AT_LIST, SF_ATTR_COMPUTED, "every IPv4 CIDR block associated with the VPC"},
	{"availability_zones", SF_AT_LIST, SF_ATTR_COMPUTED, "the zones of the given subnets"},
	{NULL, 0, 0, NULL},
};

/* Every given subnet id, private first (new array of strings). */
static json_t *all_subnets(const json_t *want)
{
	json_t *a = json_array();
	static const char *const keys[] = {"private_subnet_ids", "public_subnet_ids"};
	for (size_t k = 0; k < 2; k++) {
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(want, keys[k]), i, s) if (json_is_string(s))
			json_array_append(a, s);
	}
	return a;
}

static const char *region_of(const json_t *want)
{
	const char *r = ax_s(json_object_get(want, "check"), "region");
	return r ? r : "this region";
}

/* The VPC and the subnets (in the order given), read; a missing one is an
 * error naming it and the region (a VPC and its subnets live in one). */
static int read_net(struct sf_rctx *c, const json_t *want, json_t **vpc, json_t **subs)
{
	const char *id = ax_s(want, "vpc_id");
	*vpc = *subs = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeVpcs", "VpcId", id, "vpcSet", vpc);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: VPC %s does not exist in %s (a VPC belongs to one region)",
			       c->address, id ? id : "?", region_of(want));
	}
	if (rc < 0)
		return rc;
	json_t *ids = all_subnets(want), *out = NULL;
	if (!json_array_size(ids)) {
		*subs = json_array();
		json_decref(ids);
		return 0;
	}
	rc = ax_ec2(c, "DescribeSubnets", json_pack("{s:O}", "SubnetId", ids), &out);
	if (rc == SF_ENOTFOUND) {
		char *m = xstrdup(c->err->msg);
		sf_err_clear(c->err);
		rc = sf_fail(c->err, SF_ENOTFOUND, "%s: a given subnet does not exist in %s: %s", c->address,
			     region_of(want), m);
		free(m);
	}
	if (rc == 0) {
		*subs = json_array();
		size_t i;
		json_t *sid;
		json_array_foreach(ids, i, sid)
		{
			size_t j;
			json_t *s;
			json_array_foreach(json_object_get(out, "subnetSet"), j, s) if (!strcmp(
				ax_s(s, "subnetId") ? ax_s(s, "subnetId") : "", json_string_value(sid)))
			{
				json_array_append(*subs, s);
				break;
			}
		}
	}
	json_decref(out);
	json_decref(ids);
	if (rc < 0) {
		json_decref(*vpc);
		*vpc = NULL;
	}
	return rc;
}

/* want + what was read: id, CIDR blocks, zones (new object). */
static json_t *result(const json_t *want, const json_t *vpc, const json_t *subs)
{
	json_t *o = ax_out(want);
	json_object_set_new(o, "id", json_string(ax_s(vpc, "vpcId")));
	json_object_set(o, "cidr_block", json_object_get(vpc, "cidrBlock"));
	json_t *blocks = json_array(), *zones = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(vpc, "cidrBlockAssociationSet"), i, a)
	{
		const char *st = ax_s(json_object_get(a, "cidrBlockState"), "state");
		if (ax_s(a, "cidrBlock") && (!st || !strcmp(st, "associated")))
			json_array_append_new(blocks, json_string(ax_s(a, "cidrBlock")));
	}
	if (!json_array_size(blocks) && ax_s(vpc, "cidrBlock"))
		json_array_append_new(blocks, json_string(ax_s(vpc, "cidrBlock")));
	json_array_foreach(subs, i, a)
	{
		const char *z = ax_s(a, "availabilityZone");
		int seen = 0;
		size_t j;
		json_t *x;
		json_array_foreach(zones, j, x) seen |= z && !strcmp(json_string_value(x), z);
		if (z && !seen)
			json_array_append_new(zones, json_string(z));
	}
	json_object_set_new(o, "cidr_blocks", blocks);
	json_object_set_new(o, "availability_zones", zones);
	return o;
}

/* A subnet of another VPC would put the cluster's interfaces where its
 * security group cannot be (EKS refuses, minutes in). */
static int in_vpc(struct sf_rctx *c, const json_t *want, const json_t *subs)
{
	size_t i;
	json_t *s;
	json_array_foreach(subs, i, s)
	{
		const char *v = ax_s(s, "vpcId");
		if (!v || strcmp(v, ax_s(want, "vpc_id")))
			return sf_fail(c->err, SF_EINVAL, "%s: subnet %s is in %s, not in the given VPC %s", c->address,
				       ax_s(s, "subnetId"), v ? v : "no VPC", ax_s(want, "vpc_id"));
	}
	return 0;
}

static int ref_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	json_t *vpc = NULL, *subs = NULL;
	int rc = read_net(c, want, &vpc, &subs);
	if (rc == 0)
		rc = in_vpc(c, want, subs);
	if (rc == 0 && c->record_id)
		rc = c->record_id(c, ax_s(vpc, "vpcId"));
	if (rc == 0)
		*out = result(want, vpc, subs);
	json_decref(vpc);
	json_decref(subs);
	return rc < 0 ? rc : 0;
}

static int ref_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *vpc = NULL, *subs = NULL;
	int rc = read_net(c, prior, &vpc, &subs);
	if (rc == 0)
		*out = result(prior, vpc, subs);
	json_decref(vpc);
	json_decref(subs);
	return rc;
}

/* Another subnet list is only another reading: nothing in AWS changes. */
static int ref_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	(void)prior;
	return ref_create(c, want, out);
}

/* Never called (the engine forgets an SF_OWN_REF row without it); here so
 * no path can reach a delete. */
static int ref_destroy(struct sf_rctx *c, const json_t *prior)
{
	(void)c;
	(void)prior;
	return 0;
}

/* ---- plan-time checks ---- */

/* The route table of a subnet: its explicit association, else the VPC's
 * main table.  Borrowed from rtbs, or NULL. */
static const json_t *table_of(const json_t *rtbs, const char *subnet)
{
	const json_t *main_t = NULL;
	size_t i, j;
	json_t *t, *a;
	json_array_foreach(rtbs, i, t) json_array_foreach(json_object_get(t, "associationSet"), j, a)
	{
		if (ax_s(a, "subnetId") && !strcmp(ax_s(a, "subnetId"), subnet))
			return t;
		if (ax_true(json_object_get(a, "main")))
			main_t = t;
	}
	return main_t;
}

/* The target of the table's active 0.0.0.0/0 route: "nat", "igw", "other"
 * (a transit gateway, a NAT instance, a peering), or NULL. */
static const char *default_route(const json_t *t)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(t, "routeSet"), i, r)
	{
		const char *d = ax_s(r, "destinationCidrBlock"), *st = ax_s(r, "state");
		if (!d || strcmp(d, "0.0.0.0/0") || (st && strcmp(st, "active")))
			continue;
		if (ax_s(r, "natGatewayId"))
			return "nat";
		const char *g = ax_s(r, "gatewayId");
		if (g && !strncmp(g, "igw-", 4))
			return "igw";
		if (g && !strcmp(g, "local"))
			continue;
		return "other";
	}
	return NULL;
}

/* The interface endpoints nodes without a way out need to join and pull
 * images (EKS's private cluster requirements), as missing names joined
 * by ", " (owned; "" when all are there), s3 being the gateway endpoint on
 * table rt. */
static char *missing_endpoints(const json_t *vpces, const char *rt)
{
	static const char *const need[] = {"ec2", "ecr.api", "ecr.dkr", "sts", "s3", NULL};
	struct sf_buf b = SF_BUF_INIT;
	for (size_t k = 0; need[k]; k++) {
		int found = 0;
		size_t i, j;
		json_t *e, *x;
		json_array_foreach(vpces, i, e)
		{
			const char *svc = ax_s(e, "serviceName"), *st = ax_s(e, "state");
			/* com.amazonaws.<region>.<name>: the name may hold dots */
			const char *name = NULL;
			int dots = 0;
			for (const char *p = svc; p && *p && !name; p++)
				if (*p == '.' && ++dots == 3)
					name = p + 1;
			if (!name || strcmp(name, need[k]) || (st && strcasecmp(st, "available") && strcasecmp(st, "pending")))
				continue;
			if (strcmp(need[k], "s3")) {
				found = 1;
				continue;
			}
			json_array_foreach(json_object_get(e, "routeTableIdSet"), j, x)
			{
				const char *id = json_is_string(x) ? json_string_value(x) : ax_s(x, "routeTableId");
				found |= id && rt && !strcmp(id, rt);
			}
			found |= !strcasecmp(ax_s(e, "vpcEndpointType") ? ax_s(e, "vpcEndpointType") : "", "Interface");
		}
		if (!found)
			sf_buf_printf(&b, "%s%s", b.len ? ", " : "", need[k]);
	}
	return sf_buf_detach(&b);
}

static int in_list(const json_t *a, const char *s)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), s)) return 1;
	return 0;
}

/* A way out for subnet s: `what` uses it ("nodes", "the image builder"),
 * `internet` when endpoints do not suffice.  0, or an error saying why
 * not and what would do. */
static int way_out(struct sf_rctx *c, const json_t *s, const json_t *rtbs, const json_t *vpces, const char *what,
		   int internet)
{
	const char *sid = ax_s(s, "subnetId");
	const json_t *t = table_of(rtbs, sid);
	const char *rt = t ? ax_s(t, "routeTableId") : NULL;
	const char *via = t ? default_route(t) : NULL;
	if (via && !strcmp(via, "igw")) {
		if (ax_true(json_object_get(s, "mapPublicIpOnLaunch")))
			return 0;
		return sf_fail(c->err, SF_EINVAL,
			       "%s: %s in subnet %s would have no way out: its route table %s sends 0.0.0.0/0 to an internet gateway, but the subnet gives no public address on launch (MapPublicIpOnLaunch is off); list it as a private subnet behind a NAT gateway, or turn the attribute on",
			       c->address, what, sid, rt);
	}
	if (via)
		return 0;
	char *miss = internet ? NULL : missing_endpoints(vpces, rt);
	if (miss && !*miss) {
		free(miss);
		return 0;
	}
	if (internet)
		sf_fail(c->err, SF_EINVAL,
			"%s: %s in subnet %s would have no way to the internet: its route table %s has no active 0.0.0.0/0 route (to a NAT gateway, a transit gateway or an internet gateway)",
			c->address, what, sid, rt ? rt : "(none)");
	else
		sf_fail(c->err, SF_EINVAL,
			"%s: %s in subnet %s could not reach EKS, ECR or STS: its route table %s has no active 0.0.0.0/0 route (to a NAT gateway or a transit gateway) and the VPC lacks the endpoints %s",
			c->address, what, sid, rt ? rt : "(none)", miss);
	free(miss);
	return SF_EINVAL;
}

/* DNS resolution and DNS hostnames of VPC `vid`, both on, or an error
 * naming the one that is off and how to turn it on (secfaas never changes
 * a VPC it only reads). */
static int dns_on(struct sf_rctx *c, const char *vid)
{
	static const char *const attr[][2] = {{"enableDnsSupport", "DNS resolution"},
					      {"enableDnsHostnames", "DNS hostnames"}};
	for (size_t i = 0; i < sizeof attr / sizeof attr[0]; i++) {
		json_t *o = NULL;
		int rc = ax_ec2(c, "DescribeVpcAttribute", json_pack("{s:s, s:s}", "VpcId", vid, "Attribute", attr[i][0]),
				&o);
		if (rc < 0)
			return rc;
		/* the reply names the attribute's element after the attribute */
		int on = ax_true(json_object_get(json_object_get(o, attr[i][0]), "value"));
		json_decref(o);
		if (!on) {
			sf_fail(c->err, SF_EINVAL, "%s: VPC %s has %s off; EKS nodes cannot register with the cluster without it",
				c->address, vid, attr[i][1]);
			sf_err_hint(c->err, "ask the VPC's owner to turn it on (ModifyVpcAttribute %s); secfaas only reads a given VPC",
				    attr[i][0]);
			return SF_EINVAL;
		}
	}
	return 0;
}

static void warn(struct sf_rctx *c, const char *fmt, const char *a, const char *b)
{
	char *m = xasprintf(fmt, a, b);
	if (c->warn)
		c->warn(c, m);
	free(m);
}

static int ref_review(struct sf_rctx *c, const json_t *before, const json_t *want)
{
	(void)before;
	const json_t *chk = json_object_get(want, "check");
	const char *where = ax_s(chk, "where");
	json_t *vpc = NULL, *subs = NULL, *rtbs = NULL, *vpces = NULL, *rt_out = NULL, *ep_out = NULL;
	int rc = read_net(c, want, &vpc, &subs);
	if (rc == 0)
		rc = in_vpc(c, want, subs);
	if (rc < 0)
		goto out;
	json_t *r = result(want, vpc, subs);
	if (ax_true(json_object_get(chk, "egress_excludes_vpc")) && json_array_size(json_object_get(r, "cidr_blocks")) > 1) {
		rc = sf_fail(c->err, SF_EINVAL,
			     "%s: VPC %s has %zu IPv4 CIDR blocks, and openfaas.functionEgress: internet keeps functions out of the primary one only; list the destinations functions may reach instead",
			     c->address, ax_s(want, "vpc_id"), json_array_size(json_object_get(r, "cidr_blocks")));
		json_decref(r);
		goto out;
	}
	size_t nz = json_array_size(json_object_get(r, "availability_zones"));
	char *zone = xstrdup(nz ? json_string_value(json_array_get(json_object_get(r, "availability_zones"), 0)) : "");
	json_decref(r);
	if (nz < 2) {
		rc = sf_fail(c->err, SF_EINVAL,
			     "%s: EKS needs subnets in at least two availability zones; every given subnet is in %s",
			     c->address, zone);
		free(zone);
		goto out;
	}
	free(zone);
	const char *nodes = ax_s(want, "node_subnets") ? ax_s(want, "node_subnets") : "private";
	const json_t *node_ids = json_object_get(want, !strcmp(nodes, "public") ? "public_subnet_ids"
										   : "private_subnet_ids");
	long long node_free = 0;
	size_t i;
	json_t *s;
	json_array_foreach(subs, i, s)
	{
		const char *sid = ax_s(s, "subnetId");
		const char *n = ax_s(s, "availableIpAddressCount");
		long long fr = n ? atoll(n) : json_integer_value(json_object_get(s, "availableIpAddressCount"));
		if (fr < 6) {
			rc = sf_fail(c->err, SF_EINVAL,
				     "%s: subnet %s has %lld free addresses; EKS needs at least 6 in each subnet for its network interfaces",
				     c->address, sid, fr);
			goto out;
		}
		if (in_list(node_ids, sid))
			node_free += fr;
		json_t *tags = ax_tags_from_list(json_object_get(s, "tagSet"));
		int pub = in_list(json_object_get(want, "public_subnet_ids"), sid);
		const char *key = pub ? "kubernetes.io/role/elb" : "kubernetes.io/role/internal-elb";
		const char *v = ax_s(tags, key);
		if (!v || (strcmp(v, "1") && strcmp(v, "")))
			warn(c,
			     "subnet %s has no tag %s=1: Kubernetes finds no subnet for a load balancer of that kind without it",
			     sid, key);
		json_decref(tags);
	}
	long long max_nodes = json_integer_value(json_object_get(chk, "max_nodes"));
	if (max_nodes > 0 && node_free < max_nodes) {
		rc = sf_fail(c->err, SF_EINVAL,
			     "%s: the %s subnets have %lld free addresses for %lld nodes at the groups' maximum size",
			     c->address, nodes, node_free, max_nodes);
		goto out;
	}
	if (max_nodes > 0 && node_free < 16 * max_nodes) {
		char a[64], b[64];
		snprintf(a, sizeof a, "%lld", node_free);
		snprintf(b, sizeof b, "%lld", max_nodes);
		char *m = xasprintf("the %s subnets have %s free addresses for %s nodes at the groups' maximum size; the VPC CNI gives every pod a VPC address, so pods may not start",
				    nodes, a, b);
		if (c->warn)
			c->warn(c, m);
		free(m);
	}
	const char *vid = ax_s(want, "vpc_id");
	if ((rc = dns_on(c, vid)) < 0)
		goto out;
	rc = ax_ec2(c, "DescribeRouteTables", json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "vpc-id", "Value", vid),
		    &rt_out);
	if (rc == 0)
		rc = ax_ec2(c, "DescribeVpcEndpoints",
			    json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "vpc-id", "Value", vid), &ep_out);
	if (rc < 0)
		goto out;
	rtbs = json_object_get(rt_out, "routeTableSet");
	vpces = json_object_get(ep_out, "vpcEndpointSet");
	json_array_foreach(subs, i, s)
	{
		if (in_list(node_ids, ax_s(s, "subnetId")) && (rc = way_out(c, s, rtbs, vpces, "nodes", 0)) < 0)
			goto out;
	}
	const char *b = ax_s(chk, "builder_subnet_id");
	json_array_foreach(subs, i, s)
	{
		if (b && !strcmp(b, ax_s(s, "subnetId")) &&
		    (rc = way_out(c, s, rtbs, vpces, "the gVisor image builder", 1)) < 0)
			goto out;
	}
out:
	if (rc < 0 && where && !c->err->where[0])
		sf_err_where(c->err, "%s", where);
	json_decref(vpc);
	json_decref(subs);
	json_decref(rt_out);
	json_decref(ep_out);
	return rc < 0 ? rc : 0;
}

static const struct sf_own own = {
	.kind = SF_OWN_REF,
	.noun = "existing VPC",
	.proof = "none: someone else's VPC and subnets, only read; destroy and gc forget the reference and never "
		 "change or delete them",
};

const struct sf_rtype sf_rt_aws_network_ref = {
	.own = &own,
	.name = "aws_network_ref",
	.schema_version = 1,
	.attrs = attrs,
	.create = ref_create,
	.read = ref_read,
	.update = ref_update,
	.destroy = ref_destroy,
	.plan_review = ref_review,
};
