/*
 * aws_route_table.c - aws_route_table: a route table with its subnet
 * associations and, when gateway_id (an internet gateway) or
 * nat_gateway_id (a NAT gateway, for private subnets) is set, the default
 * route through it.
 *
 * Routes and associations are part of the table rather than resources of
 * their own: they cannot outlive it.  Associations (subnets added or
 * removed) and the default route change in place.
 *
 * Drift: the subnet associations, the default route's target and tags are
 * read; a deleted or redirected default route shows as a changed
 * gateway_id / nat_gateway_id and is put back (CreateRoute /
 * ReplaceRoute).  Any other route someone added (origin CreateRoute)
 * shows in unmanaged_routes, which no spec sets, so apply deletes it.  The local route and routes a VPC
 * endpoint manages (prefix lists) are not ours to judge and are skipped.
 */
#include <string.h>

#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "VPC id"},
	{"gateway_id", SF_AT_STRING, SF_ATTR_OPTIONAL, "internet gateway for 0.0.0.0/0"},
	{"nat_gateway_id", SF_AT_STRING, SF_ATTR_OPTIONAL, "NAT gateway for 0.0.0.0/0 (instead of gateway_id)"},
	{"unmanaged_routes", SF_AT_LIST, SF_ATTR_OPTIONAL,
	 "read only: routes found in the table that the spec does not declare; apply deletes them"},
	{"subnet_ids", SF_AT_LIST, SF_ATTR_OPTIONAL, "subnets associated with the table"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "rtb-..."},
	{NULL, 0, 0, NULL},
};

static int in_list(const json_t *l, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(l, i, e) if (json_string_value(e) && !strcmp(json_string_value(e), s)) return 1;
	return 0;
}

struct rt_assoc {
	const char *rt, *subnet, *assoc; /* associate: rt + subnet; disassociate: assoc */
};

/* ax_change's check: is the subnet associated with the table, or (with an
 * association id) is that association gone? */
static int assoc_done(struct sf_rctx *c, const void *ctx)
{
	const struct rt_assoc *x = ctx;
	json_t *t = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeRouteTables", "RouteTableId", x->rt, "routeTableSet", &t);
	if (rc == SF_ENOTFOUND && x->assoc) {
		sf_err_clear(c->err);
		return 1;
	}
	if (rc < 0)
		return rc;
	int present = 0;
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(t, "associationSet"), i, a)
	{
		const char *sn = ax_s(a, "subnetId"), *aid = ax_s(a, "routeTableAssociationId");
		if (x->assoc ? (aid && !strcmp(aid, x->assoc)) : (sn && !strcmp(sn, x->subnet)))
			present = 1;
	}
	json_decref(t);
	return x->assoc ? !present : present;
}

static const struct ax_change_def rt_associate = {"ec2", "AssociateRouteTable", assoc_done,
						  "associating the subnet with the route table"};
static const struct ax_change_def rt_disassociate = {"ec2", "DisassociateRouteTable", assoc_done,
						     "disassociating the subnet from the route table"};

/* Associate every wanted subnet, disassociate the others.  known: the
 * table as AWS last answered it (borrowed; NULL: read it now). */
static int sync_assoc(struct sf_rctx *c, const char *id, const json_t *want_subnets, const json_t *known)
{
	json_t *t = known ? json_incref((json_t *)known) : NULL;
	int rc = t ? 0 : ax_ec2_describe_one(c, "DescribeRouteTables", "RouteTableId", id, "routeTableSet", &t);
	if (rc < 0)
		return rc;
	json_t *have = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(t, "associationSet"), i, a)
	{
		const char *sn = ax_s(a, "subnetId"), *aid = ax_s(a, "routeTableAssociationId");
		if (!sn || !aid)
			continue;
		if (!in_list(want_subnets, sn)) {
			struct rt_assoc x = {id, sn, aid};
			rc = ax_change(c, &rt_disassociate, &x, json_pack("{s:s}", "AssociationId", aid), NULL);
			if (rc < 0)
				break;
		} else {
			json_array_append_new(have, json_string(sn));
		}
	}
	json_array_foreach(want_subnets, i, a)
	{
		if (rc < 0)
			break;
		const char *sn = json_string_value(a);
		struct rt_assoc x = {id, sn, NULL};
		if (sn && !in_list(have, sn))
			rc = ax_change(c, &rt_associate, &x, json_pack("{s:s, s:s}", "RouteTableId", id, "SubnetId", sn),
				       NULL);
	}
	json_decref(have);
	json_decref(t);
	return rc;
}

static const struct ax_create_def rt_make = {"ec2", "CreateRouteTable", "routeTableId", "DescribeRouteTables",
					    "routeTableSet", NULL, NULL, NULL};

static int rt_validate(const json_t *want, struct sf_err *err)
{
	if (json_array_size(json_object_get(want, "unmanaged_routes")))
		return sf_fail(err, SF_EINVAL, "unmanaged_routes is read from the live table, never set");
	return 0;
}

/* The target of one route: gateway, NAT gateway, instance, peering, ... */
static const char *target(const json_t *r)
{
	static const char *const keys[] = {"gatewayId", "natGatewayId", "instanceId", "networkInterfaceId",
					   "vpcPeeringConnectionId", "transitGatewayId", "egressOnlyInternetGatewayId",
					   "carrierGatewayId", "localGatewayId", "coreNetworkArn"};
	for (size_t i = 0; i < SF_ARRAY_LEN(keys); i++)
		if (ax_s(r, keys[i]))
			return ax_s(r, keys[i]);
	return "(no target)";
}

/* The live target of a route of table `rt` (NULL: none).  0, or an error. */
static int live_route(struct sf_rctx *c, const char *rt, const char *dst, char **gw)
{
	json_t *t = NULL;
	*gw = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeRouteTables", "RouteTableId", rt, "routeTableSet", &t);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(t, "routeSet"), i, r)
	{
		const char *d = ax_s(r, "destinationCidrBlock") ? ax_s(r, "destinationCidrBlock")
							       : ax_s(r, "destinationIpv6CidrBlock");
		if (d && !strcmp(d, dst) && !*gw)
			*gw = xstrdup(target(r));
	}
	json_decref(t);
	return 0;
}

struct rt_route {
	const char *rt, *dst, *gw; /* gw NULL: the route is gone */
};

/* ax_change's check: does the route point where it should (or is it gone)? */
static int route_done(struct sf_rctx *c, const void *ctx)
{
	const struct rt_route *x = ctx;
	char *have = NULL;
	int rc = live_route(c, x->rt, x->dst, &have);
	if (rc == SF_ENOTFOUND && !x->gw) {
		sf_err_clear(c->err);
		return 1;
	}
	if (rc < 0)
		return rc;
	int done = x->gw ? have && !strcmp(have, x->gw) : !have;
	free(have);
	return done;
}

static const struct ax_change_def route_create = {"ec2", "CreateRoute", route_done, "adding the route"};
static const struct ax_change_def route_replace = {"ec2", "ReplaceRoute", route_done, "pointing the route at its gateway"};
static const struct ax_change_def route_delete = {"ec2", "DeleteRoute", route_done, "deleting the route"};

/* The default route's desired target: the internet or the NAT gateway. */
static const char *want_target(const json_t *want)
{
	return ax_s(want, "gateway_id") ? ax_s(want, "gateway_id") : ax_s(want, "nat_gateway_id");
}

/* CreateRoute / ReplaceRoute name a NAT gateway in a parameter of its own. */
static const char *target_param(const char *gw)
{
	return !strncmp(gw, "nat-", 4) ? "NatGatewayId" : "GatewayId";
}

/* Point 0.0.0.0/0 at gw (NULL: no default route), whatever it is now:
 * the live table, not the recorded state, says which call that takes. */
static int set_default_route(struct sf_rctx *c, const char *id, const char *gw)
{
	char *have = NULL;
	int rc = live_route(c, id, "0.0.0.0/0", &have);
	if (rc < 0)
		return rc;
	struct rt_route x = {id, "0.0.0.0/0", gw};
	if (gw && have && strcmp(have, gw))
		rc = ax_change(c, &route_replace, &x,
			       json_pack("{s:s, s:s, s:s}", "RouteTableId", id, "DestinationCidrBlock", "0.0.0.0/0",
					 target_param(gw), gw),
			       NULL);
	else if (gw && !have)
		rc = ax_change(c, &route_create, &x,
			       json_pack("{s:s, s:s, s:s}", "RouteTableId", id, "DestinationCidrBlock", "0.0.0.0/0",
					 target_param(gw), gw),
			       NULL);
	else if (!gw && have)
		rc = ax_change(c, &route_delete, &x,
			       json_pack("{s:s, s:s}", "RouteTableId", id, "DestinationCidrBlock", "0.0.0.0/0"), NULL);
	free(have);
	return rc;
}

static int rt_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *tags = ax_tags(c, want, 1), *made = NULL;
	int rc = ax_create(c, &rt_make,
			   json_pack("{s:s, s:o}", "VpcId", ax_s(want, "vpc_id"), "TagSpecification",
				     ax_ec2_tagspec("route-table", tags)),
			   &made, &id);
	json_decref(tags);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	const char *gw = want_target(want);
	if (gw) {
		/* "already exists" after a resumed create counts only when the
		 * route points at this gateway. */
		struct rt_route x = {id, "0.0.0.0/0", gw};
		rc = ax_change(c, &route_create, &x,
			       json_pack("{s:s, s:s, s:s}", "RouteTableId", id, "DestinationCidrBlock", "0.0.0.0/0",
					 target_param(gw), gw),
			       NULL);
	}
	json_t *empty = json_array();
	const json_t *sn = json_object_get(want, "subnet_ids");
	/* A table this call made has no association yet (CreateRouteTable's
	 * reply shows it); one found by its token (a lost reply, a resumed
	 * run) is read for what the earlier attempt associated. */
	if (!rc)
		rc = sync_assoc(c, id, sn ? sn : empty, json_object_get(made, "routeTable"));
	json_decref(empty);
	json_decref(made);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

/* Refresh: every recorded one in one filtered call (aws_batch.h). */
static const struct ax_batch_def batch = {"DescribeRouteTables", "RouteTableId", "routeTableSet", "routeTableId", "route-table-id", 100, NULL};

static int rt_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int rt_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *t = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &t);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	if (json_object_get(prior, "subnet_ids")) {
		/* keep the spec's order for subnets still associated */
		json_t *live = json_array(), *l = json_array();
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(t, "associationSet"), i, a) if (ax_s(a, "subnetId"))
			json_array_append_new(live, json_string(ax_s(a, "subnetId")));
		json_array_foreach(json_object_get(prior, "subnet_ids"), i, a) if (json_string_value(a) &&
										   in_list(live, json_string_value(a)))
			json_array_append(l, a);
		json_array_foreach(live, i, a) if (!in_list(l, json_string_value(a))) json_array_append(l, a);
		json_object_set_new(*out, "subnet_ids", l);
		json_decref(live);
	}
	const char *gw = NULL;
	json_t *extra = json_array(), *none = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(t, "routeSet"), i, r)
	{
		const char *dst = ax_s(r, "destinationCidrBlock") ? ax_s(r, "destinationCidrBlock")
								   : ax_s(r, "destinationIpv6CidrBlock");
		const char *origin = ax_s(r, "origin");
		if (!dst || ax_s(r, "destinationPrefixListId") || (origin && strcmp(origin, "CreateRoute")) ||
		    (ax_s(r, "gatewayId") && !strcmp(ax_s(r, "gatewayId"), "local")))
			continue;
		if (!strcmp(dst, "0.0.0.0/0"))
			gw = target(r);
		else
			json_array_append_new(extra, json_pack("{s:s, s:s}", "destination", dst, "target", target(r)));
	}
	int nat = gw && !strncmp(gw, "nat-", 4);
	json_t *g = gw && !nat ? json_string(gw) : NULL, *ng = nat ? json_string(gw) : NULL;
	ax_read_attr(*out, prior, "gateway_id", g, NULL);
	ax_read_attr(*out, prior, "nat_gateway_id", ng, NULL);
	json_decref(ng);
	ax_read_attr(*out, prior, "unmanaged_routes", extra, none);
	json_decref(g);
	json_decref(extra);
	json_decref(none);
	ax_ec2_read_tags(*out, prior, t);
	json_decref(t);
	return 0;
}

static int rt_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *id = ax_s(prior, "id");
	json_t *e1 = json_array(), *e2 = json_object();
	const json_t *sn = json_object_get(want, "subnet_ids");
	int rc = 0;
	if (ax_changed(prior, want, "gateway_id") || ax_changed(prior, want, "nat_gateway_id"))
		rc = set_default_route(c, id, want_target(want));
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(prior, "unmanaged_routes"), i, r)
	{
		const char *dst = ax_s(r, "destination");
		if (rc < 0 || !dst)
			break;
		struct rt_route x = {id, dst, NULL};
		rc = ax_change(c, &route_delete, &x,
			       json_pack("{s:s, s:s}", "RouteTableId", id,
					 strchr(dst, ':') ? "DestinationIpv6CidrBlock" : "DestinationCidrBlock", dst),
			       NULL);
	}
	if (!rc)
		rc = sync_assoc(c, id, sn ? sn : e1, NULL);
	const json_t *ht = json_object_get(prior, "tags"), *wt = json_object_get(want, "tags");
	if (!rc)
		rc = ax_ec2_sync_tags(c, id, ht ? ht : e2, wt ? wt : e2);
	json_decref(e1);
	json_decref(e2);
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	json_object_set(*out, "id", json_object_get(prior, "id"));
	return 0;
}

/* Delete first: when the run deletes the table's subnets too, the table
 * goes after them (unlinked_by) and their deletes took the associations,
 * so one call does it.  Only when AWS still finds an association (a subnet
 * that stays) are they read and undone, and the delete sent again. */
static int del_once(struct sf_rctx *c, void *ctx)
{
	int rc = ax_ec2(c, "DeleteRouteTable", json_pack("{s:s}", "RouteTableId", (const char *)ctx), NULL);
	if (rc != SF_ECONFLICT)
		return rc;
	sf_err_clear(c->err);
	json_t *empty = json_array();
	rc = sync_assoc(c, ctx, empty, NULL);
	json_decref(empty);
	if (!rc)
		rc = ax_ec2(c, "DeleteRouteTable", json_pack("{s:s}", "RouteTableId", (const char *)ctx), NULL);
	return rc;
}

static int rt_destroy(struct sf_rctx *c, const json_t *prior)
{
	char *found = NULL;
	const char *id = ax_s(prior, "id");
	if (!id) {
		int rc = ax_ec2_find_token(c, "DescribeRouteTables", "routeTableSet", "routeTableId", &found);
		if (rc < 0 || !found)
			return rc;
		id = found;
	}
	int rc = ax_retry_conflict(c, del_once, (void *)id, 600, "deleting the route table");
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	free(found);
	return rc;
}

/* ---- gc sweep ---- */

/* A main route table goes with its VPC; it cannot be deleted alone. */
static json_t *rtb_sweep_prior(const char *id, const json_t *item, const json_t *tags)
{
	(void)tags;
	size_t j;
	json_t *as;
	json_array_foreach(json_object_get(item, "associationSet"), j, as)
	{
		json_t *m = json_object_get(as, "main");
		if (json_is_true(m) || (json_is_string(m) && !strcmp(json_string_value(m), "true")))
			return NULL;
	}
	return json_pack("{s:s}", "id", id);
}

static int rtb_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeRouteTables", "routeTableSet", "routeTableId", NULL, rtb_sweep_prior);
}

static const struct sf_sweep_hook rtb_sweep = {"route table", SF_SWEEP_ROUTE_TABLE, rtb_sweep_list, NULL, NULL};
/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int rt_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeRouteTables", "RouteTableId", ax_s(a_, "id"), "routeTableSet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "route table",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the object tagged with "
		 "this operation's secfaas:token",
	.marks = rt_marks,
	.claim = ax_ec2_claim_id,
};

/* AWS removes a subnet's association when the subnet is deleted, and
 * leaves a route to a deleted NAT gateway or a detached internet gateway
 * as a blackhole, which the table's delete takes with it. */
static const char *const unlinked_by[] = {"aws_subnet", "aws_nat_gateway", "aws_internet_gateway", NULL};

const struct sf_rtype sf_rt_aws_route_table = {
	.own = &own,
	.name = "aws_route_table",
	.schema_version = 1,
	.attrs = attrs,
	.create = rt_create,
	.read = rt_read,
	.read_batch = rt_read_batch,
	.update = rt_update,
	.validate = rt_validate,
	.destroy = rt_destroy,
	.sweep = &rtb_sweep,
	.unlinked_by = unlinked_by,
};
