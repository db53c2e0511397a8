/*
 * aws_subnet.c - aws_subnet: one subnet in one availability zone.
 *
 * Public subnets map public IPs on launch and carry the ELB role tag
 * kubernetes.io/role/elb=1 (private ones kubernetes.io/role/internal-elb=1),
 * set by the lowering in `tags`.  Destroy sweeps available ENIs left in the
 * subnet (load balancers, the VPC CNI) and retries DependencyViolation.
 *
 * Drift: CIDR, zone, MapPublicIpOnLaunch and tags are read; a changed
 * public-IP mapping is set back in place.  EC2 shows an attribute change to
 * readers a moment late, so after setting it create and update wait until
 * DescribeSubnets reads it back (else the next plan reports false drift).
 */
#include <string.h>

#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "VPC id"},
	{"cidr_block", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "IPv4 CIDR inside the VPC"},
	{"availability_zone", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "zone name, e.g. eu-west-1a"},
	{"public", SF_AT_BOOL, SF_ATTR_OPTIONAL, "map public IPs on launch (changed in place)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "subnet-..."},
	{NULL, 0, 0, NULL},
};

static const struct ax_create_def sn_make = {"ec2", "CreateSubnet", "subnetId", "DescribeSubnets", "subnetSet",
					    NULL, NULL, NULL};

/* EC2 shows an attribute change to readers a moment late: wait until
 * DescribeSubnets reads the value back. */
static const struct sf_waiter_def public_on = {
	.name = "aws_subnet.public_on", .service = "ec2", .operation = "DescribeSubnets",
	.status_path = "subnetSet[].mapPublicIpOnLaunch", .delay_s = 0.5, .success = {"true"},
	.empty_is_notfound = 1, .notfound_msg = "{SubnetId} not found", .label = "MapPublicIpOnLaunch",
};
static const struct sf_waiter_def public_off = {
	.name = "aws_subnet.public_off", .service = "ec2", .operation = "DescribeSubnets",
	.status_path = "subnetSet[].mapPublicIpOnLaunch", .delay_s = 0.5, .success = {"false"},
	.empty_is_notfound = 1, .notfound_msg = "{SubnetId} not found", .label = "MapPublicIpOnLaunch",
};

/* Set MapPublicIpOnLaunch and wait until readers see it.  The read-back
 * is said ahead (ax_wait_soon; a create says it before CreateSubnet): the
 * public subnets of a network are made side by side, and their read-backs
 * then share one DescribeSubnets. */
static int set_public(struct sf_rctx *c, const char *id, int on)
{
	const struct sf_waiter_def *def = on ? &public_on : &public_off;
	ax_wait_soon(c, def);
	int rc = ax_ec2(c, "ModifySubnetAttribute",
			json_pack("{s:s, s:{s:b}}", "SubnetId", id, "MapPublicIpOnLaunch", "Value", on), NULL);
	if (!rc)
		return ax_wait(c, def, json_pack("{s:[s]}", "SubnetId", id), 60, "subnet attribute");
	ax_wait_unsay(c);
	return rc;
}

static int sn_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	int pub = json_is_true(json_object_get(want, "public"));
	if (pub)
		ax_wait_soon(c, &public_on);
	json_t *tags = ax_tags(c, want, 1);
	int rc = ax_create(c, &sn_make,
			   json_pack("{s:s, s:s, s:s, s:o}", "VpcId", ax_s(want, "vpc_id"), "CidrBlock",
				     ax_s(want, "cidr_block"), "AvailabilityZone", ax_s(want, "availability_zone"),
				     "TagSpecification", ax_ec2_tagspec("subnet", tags)),
			   NULL, &id);
	json_decref(tags);
	if (rc < 0) {
		ax_wait_unsay(c);
		return rc;
	}
	if (c->record_id)
		c->record_id(c, id);
	if (pub)
		rc = set_public(c, id, 1);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

/* Refresh: every recorded one in one filtered call (aws_batch.h). */
static const struct ax_batch_def batch = {"DescribeSubnets", "SubnetId", "subnetSet", "subnetId", "subnet-id", 1000, NULL};

static int sn_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int sn_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *v = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &v);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set(*out, "cidr_block", json_object_get(v, "cidrBlock"));
	json_object_set(*out, "availability_zone", json_object_get(v, "availabilityZone"));
	json_t *f = json_false();
	json_t *pub = json_boolean(ax_true(json_object_get(v, "mapPublicIpOnLaunch")));
	ax_read_attr(*out, prior, "public", pub, f);
	json_decref(pub);
	json_decref(f);
	ax_ec2_read_tags(*out, prior, v);
	json_decref(v);
	return 0;
}

static int sn_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	int rc = 0;
	if (ax_changed(prior, want, "public"))
		rc = set_public(c, ax_s(prior, "id"), json_is_true(json_object_get(want, "public")));
	if (rc < 0)
		return rc;
	return ax_ec2_update_tags(c, prior, want, out);
}

static int del_subnet(struct sf_rctx *c, void *ctx)
{
	return ax_ec2(c, "DeleteSubnet", json_pack("{s:s}", "SubnetId", (const char *)ctx), NULL);
}

static int sweep_subnet(struct sf_rctx *c, void *ctx)
{
	return ax_sweep_enis(c, "subnet-id", ctx);
}

static int del_once(struct sf_rctx *c, void *ctx)
{
	int rc = ax_delete_else_sweep(c, del_subnet, sweep_subnet, ctx);
	return rc < 0 ? rc : 0;
}

static const struct ax_ec2_kind kind = {"DescribeSubnets", "subnetSet", "subnetId", "subnet-id", 900, "deleting the subnet"};

static int sn_destroy(struct sf_rctx *c, const json_t *prior)
{
	return ax_ec2_destroy(c, prior, &kind, del_once);
}

/* ---- gc sweep ---- */

static int subnet_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeSubnets", "subnetSet", "subnetId", NULL, NULL);
}

static const struct sf_sweep_hook subnet_sweep = {"subnet", SF_SWEEP_SUBNET, subnet_sweep_list, NULL, NULL};
/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int sn_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeSubnets", "SubnetId", ax_s(a_, "id"), "subnetSet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "subnet",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the object tagged with "
		 "this operation's secfaas:token",
	.marks = sn_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_subnet = {
	.own = &own,
	.name = "aws_subnet",
	.schema_version = 1,
	.typical = {.delete = {5, 120}},
	.attrs = attrs,
	.create = sn_create,
	.read = sn_read,
	.read_batch = sn_read_batch,
	.update = sn_update,
	.destroy = sn_destroy,
	.sweep = &subnet_sweep,
};
