/*
 * aws_internet_gateway.c - aws_internet_gateway: an internet gateway
 * attached to one VPC (the attachment is part of the resource: a gateway
 * is useless unattached, and detaching is the first step of deleting it).
 *
 * Drift: the attachment and tags are read; a gateway detached (or moved to
 * another VPC) out of band is attached back in place.
 */
#include <string.h>

#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED, "VPC to attach to (re-attached in place)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "igw-..."},
	{NULL, 0, 0, NULL},
};

static int attached_to(const json_t *g, const char *vpc)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(g, "attachmentSet"), i, a)
	{
		const char *v = ax_s(a, "vpcId");
		if (v && !strcmp(v, vpc))
			return 1;
	}
	return 0;
}

static const struct ax_create_def igw_make = {"ec2", "CreateInternetGateway", "internetGatewayId",
					     "DescribeInternetGateways", "internetGatewaySet", NULL, NULL, NULL};

struct igw_vpc {
	const char *igw, *vpc;
	int attached; /* the state that counts as done */
};

/* ax_change's check: is the gateway attached to (or detached from) the VPC? */
static int igw_attach_done(struct sf_rctx *c, const void *ctx)
{
	const struct igw_vpc *x = ctx;
	json_t *g = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeInternetGateways", "InternetGatewayId", x->igw, "internetGatewaySet", &g);
	if (rc == SF_ENOTFOUND && !x->attached) {
		sf_err_clear(c->err);
		return 1;
	}
	if (rc < 0)
		return rc;
	int on = attached_to(g, x->vpc);
	json_decref(g);
	return on == x->attached;
}

static const struct ax_change_def igw_attach = {"ec2", "AttachInternetGateway", igw_attach_done,
						"attaching the internet gateway"};
static const struct ax_change_def igw_detach = {"ec2", "DetachInternetGateway", igw_attach_done,
						"detaching the internet gateway"};

static int igw_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *tags = ax_tags(c, want, 1);
	json_t *made = NULL;
	int rc = ax_create(c, &igw_make,
			   json_pack("{s:o}", "TagSpecification", ax_ec2_tagspec("internet-gateway", tags)), &made, &id);
	json_decref(tags);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	/* A gateway this call made is attached to nothing yet; only one found
	 * by its token (a lost reply, a resumed run) is read to see whether the
	 * earlier attempt got as far as attaching it. */
	json_t *g = made ? json_incref(json_object_get(made, "internetGateway")) : NULL;
	json_decref(made);
	if (!g)
		rc = ax_ec2_describe_one(c, "DescribeInternetGateways", "InternetGatewayId", id, "internetGatewaySet", &g);
	if (!rc && !attached_to(g, ax_s(want, "vpc_id"))) {
		struct igw_vpc x = {id, ax_s(want, "vpc_id"), 1};
		rc = ax_change(c, &igw_attach, &x, json_pack("{s:s, s:s}", "InternetGatewayId", id, "VpcId", x.vpc), NULL);
	}
	json_decref(g);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

/* Refresh: every recorded one in one filtered call (aws_batch.h). */
static const struct ax_batch_def batch = {"DescribeInternetGateways", "InternetGatewayId", "internetGatewaySet", "internetGatewayId", "internet-gateway-id", 1000, NULL};

static int igw_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int igw_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *g = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &g);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	const char *vpc = ax_s(prior, "vpc_id");
	if (vpc && !attached_to(g, vpc))
		json_object_set_new(*out, "vpc_id", json_string("(detached)"));
	ax_ec2_read_tags(*out, prior, g);
	json_decref(g);
	return 0;
}

/* Attach to want's VPC only, whatever it is attached to now.  Both calls go
 * through ax_change: repeated after a lost reply they would answer "already
 * associated" / "not attached" for what the first attempt did. */
static int igw_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *id = ax_s(prior, "id"), *vpc = ax_s(want, "vpc_id");
	json_t *g = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeInternetGateways", "InternetGatewayId", id, "internetGatewaySet", &g);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(g, "attachmentSet"), i, a)
	{
		const char *v = ax_s(a, "vpcId");
		if (rc < 0 || !v || (vpc && !strcmp(v, vpc)))
			continue;
		struct igw_vpc x = {id, v, 0};
		rc = ax_change(c, &igw_detach, &x, json_pack("{s:s, s:s}", "InternetGatewayId", id, "VpcId", v), NULL);
	}
	if (!rc && vpc && !attached_to(g, vpc)) {
		struct igw_vpc x = {id, vpc, 1};
		rc = ax_change(c, &igw_attach, &x, json_pack("{s:s, s:s}", "InternetGatewayId", id, "VpcId", vpc), NULL);
	}
	json_decref(g);
	if (rc < 0)
		return rc;
	return ax_ec2_update_tags(c, prior, want, out);
}

/* Delete first: the gateway was detached from the VPC the state recorded
 * (igw_destroy), so one call does it.  Only when AWS refuses it (still
 * attached somewhere) is it read and detached from whatever holds it. */
static int del_once(struct sf_rctx *c, void *ctx)
{
	const char *id = ctx;
	int rc = ax_ec2(c, "DeleteInternetGateway", json_pack("{s:s}", "InternetGatewayId", id), NULL);
	if (rc != SF_ECONFLICT)
		return rc;
	sf_err_clear(c->err);
	json_t *g = NULL;
	rc = ax_ec2_describe_one(c, "DescribeInternetGateways", "InternetGatewayId", id, "internetGatewaySet", &g);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(g, "attachmentSet"), i, a)
	{
		const char *vpc = ax_s(a, "vpcId");
		if (!vpc)
			continue;
		struct igw_vpc x = {id, vpc, 0};
		rc = ax_change(c, &igw_detach, &x, json_pack("{s:s, s:s}", "InternetGatewayId", id, "VpcId", vpc), NULL);
		if (rc < 0)
			break;
	}
	json_decref(g);
	if (!rc)
		rc = ax_ec2(c, "DeleteInternetGateway", json_pack("{s:s}", "InternetGatewayId", id), NULL);
	return rc;
}

static const struct ax_ec2_kind kind = {"DescribeInternetGateways", "internetGatewaySet", "internetGatewayId", NULL, 900, "deleting the internet gateway"};

static int igw_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *id = ax_s(prior, "id"), *vpc = ax_s(prior, "vpc_id");
	if (id && vpc) {
		/* detached from the recorded VPC without reading first: a refusal
		 * is checked against the gateway (ax_change), and a gateway already
		 * gone or still held is the delete's business */
		struct igw_vpc x = {id, vpc, 0};
		int rc = ax_change(c, &igw_detach, &x, json_pack("{s:s, s:s}", "InternetGatewayId", id, "VpcId", vpc), NULL);
		if (rc < 0 && rc != SF_ENOTFOUND && rc != SF_ECONFLICT)
			return rc;
		sf_err_clear(c->err);
	}
	return ax_ec2_destroy(c, prior, &kind, del_once);
}

/* ---- gc sweep ---- */

static int igw_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeInternetGateways", "internetGatewaySet", "internetGatewayId", NULL, NULL);
}

static const struct sf_sweep_hook igw_sweep = {"internet gateway", SF_SWEEP_INTERNET_GATEWAY, igw_sweep_list, NULL, NULL};
/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int igw_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeInternetGateways", "InternetGatewayId", ax_s(a_, "id"), "internetGatewaySet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "internet gateway",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the object tagged with "
		 "this operation's secfaas:token",
	.marks = igw_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_internet_gateway = {
	.own = &own,
	.name = "aws_internet_gateway",
	.schema_version = 1,
	.typical = {.delete = {5, 60}},
	.attrs = attrs,
	.create = igw_create,
	.read = igw_read,
	.read_batch = igw_read_batch,
	.update = igw_update,
	.destroy = igw_destroy,
	.sweep = &igw_sweep,
};
