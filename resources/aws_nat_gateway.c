/*
 * aws_nat_gateway.c - aws_nat_gateway: a public NAT gateway in a public
 * subnet, sending out from an Elastic IP (aws_eip), so nodes in private
 * subnets reach EKS, ECR and the internet without addresses of their own.
 *
 * CreateNatGateway carries the operation token as ClientToken: sent again
 * after a lost reply or a killed run, AWS answers with the gateway the
 * first call made instead of making a second one (which would also fail
 * on the already-associated address).  The gateway is tagged with the
 * token too, the proof ax_create's lookup needs.  create waits for
 * `available`; a gateway that ends `failed` (no internet gateway, no free
 * address) is an error carrying AWS's reason.  destroy waits for
 * `deleted`, which is when AWS lets go of the address: the EIP depends on
 * the gateway, so it is released only after that.
 *
 * Subnet and address cannot change in place (a new gateway is made).
 * Drift: state and tags; a gateway deleted out of band reads as gone.
 */
#include <string.h>

#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "aws/waiter.h"
#include "provisioner/engine/ownership.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"subnet_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "public subnet it lives in"},
	{"allocation_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "Elastic IP it sends from (eipalloc-...)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"public_ip", SF_AT_STRING, SF_ATTR_COMPUTED, "its public address"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "nat-..."},
	{NULL, 0, 0, NULL},
};

/* Deleted gateways stay listed for about an hour: never adopt one. */
static int gone(const json_t *n)
{
	const char *st = ax_s(n, "state");
	return st && (!strcmp(st, "deleted") || !strcmp(st, "deleting"));
}

/* A lost reply or a kill is found by the operation token (deleted
 * gateways, which linger in listings, are skipped there). */
static const struct ax_create_def nat_make = {"ec2", "CreateNatGateway", "natGatewayId", "DescribeNatGateways",
					     "natGatewaySet", NULL, NULL, NULL};

static int describe(struct sf_rctx *c, const char *id, json_t **n)
{
	return ax_ec2_describe_one(c, "DescribeNatGateways", "NatGatewayId", id, "natGatewaySet", n);
}

static const char *public_ip(const json_t *n)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(n, "natGatewayAddressSet"), i, a)
	{
		if (ax_s(a, "publicIp"))
			return ax_s(a, "publicIp");
	}
	return NULL;
}

static int nat_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *made = NULL;
	json_t *tags = ax_tags(c, want, 1);
	const char *tok = c->token ? c->token : c->address;
	int rc = ax_create(c, &nat_make,
			   json_pack("{s:s, s:s, s:s, s:s, s:o}", "SubnetId", ax_s(want, "subnet_id"), "AllocationId",
				     ax_s(want, "allocation_id"), "ConnectivityType", "public", "ClientToken", tok,
				     "TagSpecification", ax_ec2_tagspec("natgateway", tags)),
			   &made, &id);
	json_decref(tags);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	/* a gateway this call began is not asked at once; the poll that saw
	 * it available is its final read.  Nothing but its routes use it,
	 * and their node groups usually wait for the cluster too: no read
	 * until something could go on with it (ax_wait_final) */
	json_t *last = NULL;
	rc = ax_wait_final(c, sf_aws_waiter_find("ec2.NatGatewayAvailable"), json_pack("{s:[s]}", "NatGatewayId", id),
			   600, "NAT gateway", made != NULL, &last);
	json_decref(made);
	json_t *n = NULL;
	if (!rc && json_is_object(json_array_get(json_object_get(last, "natGatewaySet"), 0)))
		n = json_incref(json_array_get(json_object_get(last, "natGatewaySet"), 0));
	json_decref(last);
	if (rc == SF_ERROR && describe(c, id, &n) == 0 && ax_s(n, "failureMessage"))
		sf_err_hint(c->err, "AWS says: %s (%s); fix that, then run apply again (the failed gateway is "
				    "deleted by AWS within the hour)",
			    ax_s(n, "failureMessage"), ax_s(n, "failureCode") ? ax_s(n, "failureCode") : "");
	else if (!rc && (n || !(rc = describe(c, id, &n)))) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
		if (public_ip(n))
			json_object_set_new(*out, "public_ip", json_string(public_ip(n)));
	}
	json_decref(n);
	free(id);
	return rc;
}

/* Refresh: every recorded one in one call filtered by nat-gateway-id
 * (aws_batch.h); a deleted gateway still listed is gone as below. */
static const struct ax_batch_def batch = {"DescribeNatGateways", "NatGatewayId", "natGatewaySet", "natGatewayId",
					  "nat-gateway-id", 1000, NULL};

static int nat_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int nat_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *n = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &n);
	if (rc < 0)
		return rc;
	if (gone(n)) {
		json_decref(n);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: %s was deleted", c->address, ax_s(prior, "id"));
	}
	*out = json_deep_copy(prior);
	if (public_ip(n))
		json_object_set_new(*out, "public_ip", json_string(public_ip(n)));
	ax_ec2_read_tags(*out, prior, n);
	json_decref(n);
	return 0;
}

static int nat_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	int rc = ax_ec2_update_tags(c, prior, want, out);
	if (!rc && ax_s(prior, "public_ip"))
		json_object_set_new(*out, "public_ip", json_string(ax_s(prior, "public_ip")));
	return rc;
}

static int del_once(struct sf_rctx *c, void *ctx)
{
	const char *id = ctx;
	int rc = ax_ec2(c, "DeleteNatGateway", json_pack("{s:s}", "NatGatewayId", id), NULL);
	if (rc < 0)
		return rc;
	/* its subnet and address wait for it, and often for the cluster's
	 * delete too: no read before they could go (ax_wait_final) */
	return ax_wait_final(c, sf_aws_waiter_find("ec2.NatGatewayDeleted"), json_pack("{s:[s]}", "NatGatewayId", id),
			     600, "NAT gateway", 1, NULL);
}

static const struct ax_ec2_kind kind = {"DescribeNatGateways", "natGatewaySet", "natGatewayId", NULL, 900,
					"deleting the NAT gateway"};

static int nat_destroy(struct sf_rctx *c, const json_t *prior)
{
	return ax_ec2_destroy(c, prior, &kind, del_once);
}

/* ---- gc sweep ---- */

static json_t *sweep_prior(const char *id, const json_t *item, const json_t *tags)
{
	(void)tags;
	return gone(item) ? NULL : json_pack("{s:s}", "id", id);
}

static int nat_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeNatGateways", "natGatewaySet", "natGatewayId", NULL, sweep_prior);
}

/* before its address (aws_eip.c ranks it SF_SWEEP_NETWORK_INTERFACE - 2), its subnet and its ENI */
static const struct sf_sweep_hook nat_sweep = {"nat gateway", SF_SWEEP_NETWORK_INTERFACE - 5, nat_sweep_list, NULL, NULL};

/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int nat_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeNatGateways", "NatGatewayId", ax_s(a_, "id"), "natGatewaySet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "NAT gateway",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the live gateway tagged "
		 "with this operation's secfaas:token",
	.marks = nat_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_nat_gateway = {
	.own = &own,
	.name = "aws_nat_gateway",
	.schema_version = 1,
	.typical = {.create = {60, 180}, .delete = {60, 120}},
	.attrs = attrs,
	.create = nat_create,
	.read = nat_read,
	.read_batch = nat_read_batch,
	.update = nat_update,
	.destroy = nat_destroy,
	.sweep = &nat_sweep,
};
