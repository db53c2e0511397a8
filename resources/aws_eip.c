/*
 * aws_eip.c - aws_eip: an Elastic IP address of the VPC domain, the
 * public address a NAT gateway sends the private nodes' traffic from.
 *
 * AllocateAddress takes no client token, so a lost reply is settled by
 * the secfaas:token tag the address carries from its TagSpecification
 * (ax_create).  An address is released only by the allocation id this
 * state recorded (or, for a killed create, the one tagged with this
 * operation's token): an address found any other way may be someone's
 * published IP, and a released IP cannot be got back.
 *
 * Drift: tags; the association is the NAT gateway's to manage.
 */
#include <string.h>

#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"public_ip", SF_AT_STRING, SF_ATTR_COMPUTED, "the address"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "eipalloc-..."},
	{NULL, 0, 0, NULL},
};

static const struct ax_create_def eip_make = {"ec2", "AllocateAddress", "allocationId", "DescribeAddresses",
					     "addressesSet", NULL, NULL, NULL};

static int describe(struct sf_rctx *c, const char *id, json_t **a)
{
	return ax_ec2_describe_one(c, "DescribeAddresses", "AllocationId", id, "addressesSet", a);
}

static int eip_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *tags = ax_tags(c, want, 1);
	json_t *a = NULL;
	int rc = ax_create(c, &eip_make,
			   json_pack("{s:s, s:o}", "Domain", "vpc", "TagSpecification", ax_ec2_tagspec("elastic-ip", tags)),
			   &a, &id);
	json_decref(tags);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	/* AllocateAddress's reply carries the address; only an allocation
	 * found by its token (a lost reply, a resumed run) is read. */
	if (!a)
		rc = describe(c, id, &a);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
		if (ax_s(a, "publicIp"))
			json_object_set_new(*out, "public_ip", json_string(ax_s(a, "publicIp")));
	}
	json_decref(a);
	free(id);
	return rc;
}

/* Refresh: every recorded one in one call filtered by allocation-id
 * (aws_batch.h; AllocationId.N fails whole with InvalidAllocationID.NotFound
 * when one is released).  DescribeAddresses takes no MaxResults: one page. */
static const struct ax_batch_def batch = {"DescribeAddresses", "AllocationId", "addressesSet", "allocationId",
					  "allocation-id", 0, NULL};

static int eip_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int eip_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *a = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &a);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	if (ax_s(a, "publicIp"))
		json_object_set_new(*out, "public_ip", json_string(ax_s(a, "publicIp")));
	ax_ec2_read_tags(*out, prior, a);
	json_decref(a);
	return 0;
}

static int eip_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	int rc = ax_ec2_update_tags(c, prior, want, out);
	if (!rc && ax_s(prior, "public_ip"))
		json_object_set_new(*out, "public_ip", json_string(ax_s(prior, "public_ip")));
	return rc;
}

/* InvalidIPAddress.InUse while the NAT gateway that held it lets go is a
 * conflict the shared retry waits out. */
static int del_once(struct sf_rctx *c, void *ctx)
{
	return ax_ec2(c, "ReleaseAddress", json_pack("{s:s}", "AllocationId", (const char *)ctx), NULL);
}

static const struct ax_ec2_kind kind = {"DescribeAddresses", "addressesSet", "allocationId", NULL, 600,
					"releasing the Elastic IP"};

static int eip_destroy(struct sf_rctx *c, const json_t *prior)
{
	return ax_ec2_destroy(c, prior, &kind, del_once);
}

/* ---- gc sweep ---- */

static int eip_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeAddresses", "addressesSet", "allocationId", NULL, NULL);
}

/* after the NAT gateway holding it (aws_nat_gateway.c), before network interfaces */
static const struct sf_sweep_hook eip_sweep = {"elastic ip", SF_SWEEP_NETWORK_INTERFACE - 2, eip_sweep_list, NULL, NULL};

/* ---- ownership: allocation ids are never reused (SF_OWN_ID) ---- */

static int eip_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeAddresses", "AllocationId", ax_s(a_, "id"), "addressesSet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "Elastic IP",
	.proof = "the allocation id recorded at create (EC2 never reuses them); without one, only the address "
		 "tagged with this operation's secfaas:token",
	.marks = eip_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_eip = {
	.own = &own,
	.name = "aws_eip",
	.schema_version = 1,
	.attrs = attrs,
	.create = eip_create,
	.read = eip_read,
	.read_batch = eip_read_batch,
	.update = eip_update,
	.destroy = eip_destroy,
	.sweep = &eip_sweep,
};
