/*
 * aws_vpc_endpoint.c - aws_vpc_endpoint: a VPC endpoint, the private way
 * from nodes without NAT to one AWS service.  An interface endpoint puts
 * a network interface in each listed subnet (one per AZ), behind security
 * groups, and with private DNS the service's public name resolves to those
 * interfaces inside the VPC, so nodes reach ECR or STS unchanged.  A
 * gateway endpoint (S3) adds a prefix-list route to the listed route
 * tables instead.
 *
 * CreateVpcEndpoint carries the operation token as ClientToken and the
 * endpoint is tagged with it, so a create sent again after a lost reply
 * or a killed run finds the endpoint the first one made (ax_create).
 * create waits for `available` (an interface endpoint is `pending` for a
 * minute or two; AWS services need no acceptance).  destroy sends
 * DeleteVpcEndpoints, which reports a failure per endpoint inside a
 * successful reply, and waits until the endpoint is gone: its interfaces
 * hold the subnets and the security group until then.
 *
 * VPC, service and type cannot change in place.  Drift, repaired in place
 * with ModifyVpcEndpoint: the subnets, the security groups, the route
 * tables and private DNS (an endpoint without it answers only on its own
 * vpce-... names, so nodes would go around it), and tags.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/xml.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "aws/waiter.h"
#include "provisioner/engine/ownership.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "VPC id"},
	{"service_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW,
	 "the service, com.amazonaws.<region>.<service>"},
	{"type", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "Interface (default) or Gateway"},
	{"subnet_ids", SF_AT_LIST, SF_ATTR_OPTIONAL, "interface: its subnets, one per AZ"},
	{"security_group_ids", SF_AT_LIST, SF_ATTR_OPTIONAL, "interface: the groups of its network interfaces"},
	{"route_table_ids", SF_AT_LIST, SF_ATTR_OPTIONAL, "gateway: the route tables that get its route"},
	{"private_dns", SF_AT_BOOL, SF_ATTR_OPTIONAL, "interface: the service's own name resolves to the endpoint"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "vpce-..."},
	{NULL, 0, 0, NULL},
};

/* The three membership lists: attribute, live set and its member (NULL: a
 * list of strings), and the ModifyVpcEndpoint parameters. */
static const struct member {
	const char *attr, *set, *key, *add, *remove;
} members[] = {
	{"subnet_ids", "subnetIdSet", NULL, "AddSubnetId", "RemoveSubnetId"},
	{"security_group_ids", "groupSet", "groupId", "AddSecurityGroupId", "RemoveSecurityGroupId"},
	{"route_table_ids", "routeTableIdSet", NULL, "AddRouteTableId", "RemoveRouteTableId"},
};

static int is_gateway(const json_t *want)
{
	const char *t = ax_s(want, "type");
	return t && !strcmp(t, "Gateway");
}

/* AWS answers states in lower case; the model's enum is capitalised. */
static int state_is(const json_t *e, const char *s)
{
	const char *st = ax_s(e, "state");
	return st && !strcasecmp(st, s);
}

/* Deleted endpoints may stay listed for a while: never adopt one. */
static int gone(const json_t *e)
{
	return state_is(e, "deleted") || state_is(e, "deleting");
}

static int in_list(const json_t *l, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(l, i, v) if (json_string_value(v) && !strcmp(json_string_value(v), s)) return 1;
	return 0;
}

/* The live members of one list, as strings (new array). */
static json_t *live_list(const json_t *e, const struct member *m)
{
	json_t *raw = sf_json_list(e, m->set), *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(raw, i, v)
	{
		const char *s = m->key ? ax_s(v, m->key) : json_string_value(v);
		if (!s && json_is_object(v) && !m->key)
			s = ax_s(v, "item");
		if (s)
			json_array_append_new(out, json_string(s));
	}
	json_decref(raw);
	return out;
}

/* live in the order of prior (the spec's), then what only live has. */
static json_t *keep_order(const json_t *prior, const json_t *live)
{
	json_t *l = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(prior, i, v) if (json_string_value(v) && in_list(live, json_string_value(v)))
		json_array_append(l, v);
	json_array_foreach(live, i, v) if (!in_list(l, json_string_value(v))) json_array_append(l, v);
	return l;
}

/* A lost reply or a kill is found by the operation token (deleted
 * endpoints, which linger in listings, are skipped there). */
static const struct ax_create_def vpce_make = {"ec2", "CreateVpcEndpoint", "vpcEndpointId", "DescribeVpcEndpoints",
					      "vpcEndpointSet", NULL, NULL, NULL};

static int describe(struct sf_rctx *c, const char *id, json_t **e)
{
	return ax_ec2_describe_one(c, "DescribeVpcEndpoints", "VpcEndpointId", id, "vpcEndpointSet", e);
}

static int vpce_validate(const json_t *want, struct sf_err *err)
{
	int gw = is_gateway(want);
	const char *t = ax_s(want, "type");
	if (t && strcmp(t, "Interface") && strcmp(t, "Gateway"))
		return sf_fail(err, SF_EINVAL, "type must be Interface or Gateway, not %s", t);
	if (gw && (json_array_size(json_object_get(want, "subnet_ids")) ||
		   json_array_size(json_object_get(want, "security_group_ids")) ||
		   json_is_true(json_object_get(want, "private_dns"))))
		return sf_fail(err, SF_EINVAL, "a Gateway endpoint takes route_table_ids only, not subnets, security "
					       "groups or private_dns");
	if (!gw && json_array_size(json_object_get(want, "route_table_ids")))
		return sf_fail(err, SF_EINVAL, "an Interface endpoint takes subnets and security groups, not "
					       "route_table_ids");
	return 0;
}

static int vpce_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *tags = ax_tags(c, want, 1);
	const char *tok = c->token ? c->token : c->address;
	int gw = is_gateway(want);
	json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:o}", "VpcId", ax_s(want, "vpc_id"), "ServiceName",
			      ax_s(want, "service_name"), "VpcEndpointType", gw ? "Gateway" : "Interface", "ClientToken",
			      tok, "TagSpecification", ax_ec2_tagspec("vpc-endpoint", tags));
	static const char *const wire[] = {"SubnetId", "SecurityGroupId", "RouteTableId"};
	for (size_t i = 0; i < SF_ARRAY_LEN(members); i++)
		if (json_array_size(json_object_get(want, members[i].attr)))
			json_object_set(p, wire[i], json_object_get(want, members[i].attr));
	if (!gw)
		json_object_set_new(p, "PrivateDnsEnabled", json_boolean(json_is_true(json_object_get(want, "private_dns"))));
	json_decref(tags);
	int rc = ax_create(c, &vpce_make, p, NULL, &id);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	rc = ax_wait(c, sf_aws_waiter_find("ec2.VpcEndpointAvailable"), json_pack("{s:[s]}", "VpcEndpointId", id),
		     600, "VPC endpoint");
	json_t *e = NULL;
	if (rc == SF_ERROR && describe(c, id, &e) == 0 && ax_s(json_object_get(e, "lastError"), "message"))
		sf_err_hint(c->err, "AWS says: %s; fix that, then run apply again",
			    ax_s(json_object_get(e, "lastError"), "message"));
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	json_decref(e);
	free(id);
	return rc;
}

/* Refresh: every recorded one in one call filtered by vpc-endpoint-id
 * (aws_batch.h); a deleted endpoint still listed is gone as below. */
static const struct ax_batch_def batch = {"DescribeVpcEndpoints", "VpcEndpointId", "vpcEndpointSet", "vpcEndpointId",
					  "vpc-endpoint-id", 1000, NULL};

static int vpce_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int vpce_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *e = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &e);
	if (rc < 0)
		return rc;
	if (gone(e)) {
		json_decref(e);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: %s was deleted", c->address, ax_s(prior, "id"));
	}
	*out = json_deep_copy(prior);
	json_t *empty = json_array();
	for (size_t i = 0; i < SF_ARRAY_LEN(members); i++) {
		json_t *live = live_list(e, &members[i]);
		json_t *l = keep_order(json_object_get(prior, members[i].attr), live);
		ax_read_attr(*out, prior, members[i].attr, l, empty);
		json_decref(l);
		json_decref(live);
	}
	json_decref(empty);
	if (!is_gateway(prior)) {
		json_t *dns = json_boolean(ax_true(json_object_get(e, "privateDnsEnabled"))), *f = json_false();
		ax_read_attr(*out, prior, "private_dns", dns, f);
		json_decref(dns);
		json_decref(f);
	}
	ax_ec2_read_tags(*out, prior, e);
	json_decref(e);
	return 0;
}

struct vpce_want {
	const char *id;
	const json_t *want;
};

/* ax_change's check: does the endpoint show the wanted members and DNS? */
static int settings_done(struct sf_rctx *c, const void *ctx)
{
	const struct vpce_want *x = ctx;
	json_t *e = NULL;
	int rc = describe(c, x->id, &e);
	if (rc < 0)
		return rc;
	int same = 1;
	for (size_t i = 0; i < SF_ARRAY_LEN(members) && same; i++) {
		const json_t *w = json_object_get(x->want, members[i].attr);
		json_t *live = live_list(e, &members[i]);
		size_t k;
		json_t *v;
		if (json_array_size(live) != json_array_size(w))
			same = 0;
		json_array_foreach(w, k, v) if (!json_string_value(v) || !in_list(live, json_string_value(v))) same = 0;
		json_decref(live);
	}
	if (!is_gateway(x->want) &&
	    ax_true(json_object_get(e, "privateDnsEnabled")) != json_is_true(json_object_get(x->want, "private_dns")))
		same = 0;
	json_decref(e);
	return same;
}

static const struct ax_change_def modify = {"ec2", "ModifyVpcEndpoint", settings_done,
					    "changing the endpoint's subnets, security groups, route tables or DNS"};

static int vpce_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *id = ax_s(prior, "id");
	json_t *p = json_pack("{s:s}", "VpcEndpointId", id);
	int send = 0;
	for (size_t i = 0; i < SF_ARRAY_LEN(members); i++) {
		const json_t *have = json_object_get(prior, members[i].attr), *w = json_object_get(want, members[i].attr);
		json_t *add = json_array(), *rm = json_array();
		size_t k;
		json_t *v;
		json_array_foreach(w, k, v) if (json_string_value(v) && !in_list(have, json_string_value(v)))
			json_array_append(add, v);
		json_array_foreach(have, k, v) if (json_string_value(v) && !in_list(w, json_string_value(v)))
			json_array_append(rm, v);
		if (json_array_size(add))
			json_object_set(p, members[i].add, add), send = 1;
		if (json_array_size(rm))
			json_object_set(p, members[i].remove, rm), send = 1;
		json_decref(add);
		json_decref(rm);
	}
	if (!is_gateway(want) && ax_changed(prior, want, "private_dns")) {
		json_object_set_new(p, "PrivateDnsEnabled", json_boolean(json_is_true(json_object_get(want, "private_dns"))));
		send = 1;
	}
	struct vpce_want x = {id, want};
	int rc = send ? ax_change(c, &modify, &x, p, NULL) : (json_decref(p), 0);
	if (rc < 0)
		return rc;
	return ax_ec2_update_tags(c, prior, want, out);
}

/* DeleteVpcEndpoints answers 200 with a per-endpoint failure list: an
 * unknown endpoint is already gone, anything else is the error. */
static int del_once(struct sf_rctx *c, void *ctx)
{
	const char *id = ctx;
	json_t *o = NULL;
	int rc = ax_ec2(c, "DeleteVpcEndpoints", json_pack("{s:[s]}", "VpcEndpointId", id), &o);
	if (rc < 0)
		return rc;
	json_t *bad = sf_json_list(o, "unsuccessful");
	size_t i;
	json_t *u;
	json_array_foreach(bad, i, u)
	{
		const json_t *er = json_object_get(u, "error");
		const char *code = ax_s(er, "code") ? ax_s(er, "code") : "";
		if (strstr(code, "NotFound"))
			continue;
		rc = sf_fail(c->err, SF_ERROR, "%s: deleting VPC endpoint %s: %s: %s", c->address, id, code,
			     ax_s(er, "message") ? ax_s(er, "message") : "");
	}
	json_decref(bad);
	json_decref(o);
	if (rc < 0)
		return rc;
	return ax_wait(c, sf_aws_waiter_find("ec2.VpcEndpointDeleted"), json_pack("{s:[s]}", "VpcEndpointId", id), 600,
		       "VPC endpoint");
}

static const struct ax_ec2_kind kind = {"DescribeVpcEndpoints", "vpcEndpointSet", "vpcEndpointId", NULL, 900,
					"deleting the VPC endpoint"};

static int vpce_destroy(struct sf_rctx *c, const json_t *prior)
{
	return ax_ec2_destroy(c, prior, &kind, del_once);
}

/* ---- gc sweep ---- */

static json_t *sweep_prior(const char *id, const json_t *item, const json_t *tags)
{
	(void)tags;
	return gone(item) ? NULL : json_pack("{s:s}", "id", id);
}

static int vpce_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeVpcEndpoints", "vpcEndpointSet", "vpcEndpointId", NULL, sweep_prior);
}

/* before its network interfaces, its security group, subnets and route tables */
static const struct sf_sweep_hook vpce_sweep = {"vpc endpoint", SF_SWEEP_NETWORK_INTERFACE - 6, vpce_sweep_list, NULL,
						NULL};

/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int vpce_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeVpcEndpoints", "VpcEndpointId", ax_s(a_, "id"), "vpcEndpointSet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "VPC endpoint",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the live endpoint tagged "
		 "with this operation's secfaas:token",
	.marks = vpce_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_vpc_endpoint = {
	.own = &own,
	.name = "aws_vpc_endpoint",
	.schema_version = 1,
	.attrs = attrs,
	.create = vpce_create,
	.read = vpce_read,
	.read_batch = vpce_read_batch,
	.update = vpce_update,
	.validate = vpce_validate,
	.destroy = vpce_destroy,
	.sweep = &vpce_sweep,
	.typical = {.create = {60, 180}, .delete = {30, 90}},
};
