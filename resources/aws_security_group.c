/*
 * aws_security_group.c - aws_security_group: a VPC security group, with
 * an optional "all traffic from members of this group" ingress rule (what
 * the extra cluster security group given to EKS needs) and an optional
 * HTTPS rule from one CIDR (what the interface VPC endpoints' group needs:
 * 443 from the VPC).  Egress stays the
 * AWS default (all).  Destroy sweeps available ENIs using the group and
 * retries DependencyViolation.
 *
 * Drift: the ingress rules are read.  The self rule missing (revoked out
 * of band) shows as self_ingress false, the HTTPS rule missing as no
 * https_from; any other ingress rule shows in
 * unmanaged_ingress, which no spec sets, so apply revokes it.  Egress is
 * not read: the default allows everything out, so an added egress rule
 * grants nothing, and a removed one only cuts the nodes off, which shows
 * as failing nodes rather than as silent exposure.
 */
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "VPC id"},
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "group name, unique in the VPC"},
	{"description", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "group description"},
	{"self_ingress", SF_AT_BOOL, SF_ATTR_OPTIONAL, "allow all traffic between members"},
	{"https_from", SF_AT_STRING, SF_ATTR_OPTIONAL, "a CIDR allowed in on TCP 443"},
	{"unmanaged_ingress", SF_AT_LIST, SF_ATTR_OPTIONAL,
	 "read only: ingress rules found on the group that the spec does not declare; apply revokes them"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "sg-..."},
	{NULL, 0, 0, NULL},
};

static const struct ax_create_def sg_make = {"ec2", "CreateSecurityGroup", "groupId", "DescribeSecurityGroups",
					    "securityGroupInfo", NULL, NULL, "InvalidGroup.Duplicate"};

static int sg_validate(const json_t *want, struct sf_err *err)
{
	if (json_array_size(json_object_get(want, "unmanaged_ingress")))
		return sf_fail(err, SF_EINVAL, "unmanaged_ingress is read from the live group, never set; use self_ingress");
	return 0;
}

static void ingress(const json_t *g, const char *id, int *self, json_t *extra);

struct sg_rule {
	const char *id;
	const json_t *rule; /* one rule as ingress() shows it, or NULL: the self rule */
	int on;             /* the state that counts as done */
};

/* ax_change's check: is the rule there (or gone)?  An answer such as
 * "duplicate" or "not found" is believed only once the group shows it. */
static int rule_done(struct sf_rctx *c, const void *ctx)
{
	const struct sg_rule *x = ctx;
	json_t *g = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeSecurityGroups", "GroupId", x->id, "securityGroupInfo", &g);
	if (rc == SF_ENOTFOUND && !x->on) {
		sf_err_clear(c->err);
		return 1;
	}
	if (rc < 0)
		return rc;
	int self = 0, present;
	json_t *extra = json_array();
	ingress(g, x->id, &self, extra);
	present = self;
	if (x->rule) {
		size_t i;
		json_t *r;
		present = 0;
		json_array_foreach(extra, i, r) if (json_equal(r, x->rule)) present = 1;
	}
	json_decref(extra);
	json_decref(g);
	return present == x->on;
}

static const struct ax_change_def rule_add = {"ec2", "AuthorizeSecurityGroupIngress", rule_done,
					      "allowing the group's own traffic"};
static const struct ax_change_def https_add = {"ec2", "AuthorizeSecurityGroupIngress", rule_done,
					       "allowing HTTPS into the group"};
static const struct ax_change_def rule_remove = {"ec2", "RevokeSecurityGroupIngress", rule_done,
						 "revoking the ingress rule"};

static int self_rule(struct sf_rctx *c, const char *id, int on)
{
	struct sg_rule x = {id, NULL, on};
	return ax_change(c, on ? &rule_add : &rule_remove, &x,
			 json_pack("{s:s, s:[{s:s, s:[{s:s}]}]}", "GroupId", id, "IpPermissions", "IpProtocol", "-1",
				   "Groups", "GroupId", id),
			 NULL);
}

/* One rule as secfaas shows it: {protocol, from_port, to_port, source}. */
static json_t *rule(const json_t *perm, const char *source)
{
	json_t *r = json_pack("{s:s, s:s}", "protocol", ax_s(perm, "ipProtocol") ? ax_s(perm, "ipProtocol") : "-1",
			      "source", source);
	if (ax_s(perm, "fromPort"))
		json_object_set_new(r, "from_port", json_integer(strtoll(ax_s(perm, "fromPort"), NULL, 10)));
	if (ax_s(perm, "toPort"))
		json_object_set_new(r, "to_port", json_integer(strtoll(ax_s(perm, "toPort"), NULL, 10)));
	return r;
}

/* The HTTPS rule from cidr as ingress() shows it (new object). */
static json_t *https_rule(const char *cidr)
{
	return json_pack("{s:s, s:s, s:i, s:i}", "protocol", "tcp", "source", cidr, "from_port", 443, "to_port", 443);
}

static int https_set(struct sf_rctx *c, const char *id, const char *cidr)
{
	json_t *r = https_rule(cidr);
	struct sg_rule x = {id, r, 1};
	int rc = ax_change(c, &https_add, &x,
			   json_pack("{s:s, s:[{s:s, s:i, s:i, s:[{s:s}]}]}", "GroupId", id, "IpPermissions", "IpProtocol",
				     "tcp", "FromPort", 443, "ToPort", 443, "IpRanges", "CidrIp", cidr),
			   NULL);
	json_decref(r);
	return rc;
}

/* Split the live ingress into "has the self rule" and every other rule. */
static void ingress(const json_t *g, const char *id, int *self, json_t *extra)
{
	size_t i, k;
	json_t *p, *x;
	*self = 0;
	json_array_foreach(json_object_get(g, "ipPermissions"), i, p)
	{
		static const struct {
			const char *list, *key;
		} src[] = {{"groups", "groupId"}, {"ipRanges", "cidrIp"}, {"ipv6Ranges", "cidrIpv6"},
			   {"prefixListIds", "prefixListId"}};
		for (size_t s = 0; s < SF_ARRAY_LEN(src); s++) {
			json_t *l = sf_json_list(p, src[s].list);
			json_array_foreach(l, k, x)
			{
				const char *v = ax_s(x, src[s].key);
				if (!v)
					continue;
				if (s == 0 && !strcmp(v, id) && ax_s(p, "ipProtocol") && !strcmp(ax_s(p, "ipProtocol"), "-1"))
					*self = 1;
				else
					json_array_append_new(extra, rule(p, v));
			}
			json_decref(l);
		}
	}
}

/* Revoke one rule found by ingress(). */
static int revoke_rule(struct sf_rctx *c, const char *id, const json_t *r)
{
	const char *src = ax_s(r, "source");
	json_t *perm = json_pack("{s:s}", "IpProtocol", ax_s(r, "protocol") ? ax_s(r, "protocol") : "-1");
	if (json_object_get(r, "from_port"))
		json_object_set(perm, "FromPort", json_object_get(r, "from_port"));
	if (json_object_get(r, "to_port"))
		json_object_set(perm, "ToPort", json_object_get(r, "to_port"));
	if (!src)
		src = "";
	if (!strncmp(src, "sg-", 3))
		json_object_set_new(perm, "Groups", json_pack("[{s:s}]", "GroupId", src));
	else if (!strncmp(src, "pl-", 3))
		json_object_set_new(perm, "PrefixListIds", json_pack("[{s:s}]", "PrefixListId", src));
	else if (strchr(src, ':'))
		json_object_set_new(perm, "Ipv6Ranges", json_pack("[{s:s}]", "CidrIpv6", src));
	else
		json_object_set_new(perm, "IpRanges", json_pack("[{s:s}]", "CidrIp", src));
	struct sg_rule x = {id, r, 0};
	return ax_change(c, &rule_remove, &x, json_pack("{s:s, s:[o]}", "GroupId", id, "IpPermissions", perm), NULL);
}

static int sg_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *tags = ax_tags(c, want, 1);
	const char *desc = ax_s(want, "description");
	int rc = ax_create(c, &sg_make,
			   json_pack("{s:s, s:s, s:s, s:o}", "VpcId", ax_s(want, "vpc_id"), "GroupName", ax_s(want, "name"),
				     "GroupDescription", desc ? desc : "managed by secfaas", "TagSpecification",
				     ax_ec2_tagspec("security-group", tags)),
			   NULL, &id);
	json_decref(tags);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	if (json_is_true(json_object_get(want, "self_ingress")))
		rc = self_rule(c, id, 1);
	if (!rc && ax_s(want, "https_from"))
		rc = https_set(c, id, ax_s(want, "https_from"));
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

/* Refresh: every recorded one in one filtered call (aws_batch.h). */
static const struct ax_batch_def batch = {"DescribeSecurityGroups", "GroupId", "securityGroupInfo", "groupId", "group-id", 1000, NULL};

static int sg_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int sg_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *g = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &g);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set(*out, "name", json_object_get(g, "groupName"));
	int self = 0;
	json_t *extra = json_array(), *f = json_false(), *none = json_array();
	ingress(g, ax_s(prior, "id") ? ax_s(prior, "id") : "", &self, extra);
	/* the declared HTTPS rule is the spec's, not unmanaged */
	json_t *hs = NULL;
	if (ax_s(prior, "https_from")) {
		json_t *want_r = https_rule(ax_s(prior, "https_from"));
		size_t k;
		json_t *r;
		json_array_foreach(extra, k, r) if (json_equal(r, want_r))
		{
			json_array_remove(extra, k);
			hs = json_string(ax_s(prior, "https_from"));
			break;
		}
		json_decref(want_r);
	}
	ax_read_attr(*out, prior, "https_from", hs, NULL);
	json_decref(hs);
	json_t *sb = json_boolean(self);
	ax_read_attr(*out, prior, "self_ingress", sb, f);
	ax_read_attr(*out, prior, "unmanaged_ingress", extra, none);
	json_decref(sb);
	json_decref(f);
	json_decref(none);
	json_decref(extra);
	ax_ec2_read_tags(*out, prior, g);
	json_decref(g);
	return 0;
}

static int sg_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *id = ax_s(prior, "id");
	int rc = 0;
	if (ax_changed(prior, want, "self_ingress"))
		rc = self_rule(c, id, json_is_true(json_object_get(want, "self_ingress")));
	if (!rc && ax_changed(prior, want, "https_from")) {
		/* a rule missing from the live group reads as no https_from */
		if (ax_s(prior, "https_from")) {
			json_t *r = https_rule(ax_s(prior, "https_from"));
			rc = revoke_rule(c, id, r);
			json_decref(r);
		}
		if (!rc && ax_s(want, "https_from"))
			rc = https_set(c, id, ax_s(want, "https_from"));
	}
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(prior, "unmanaged_ingress"), i, r)
	{
		if (rc < 0)
			break;
		rc = revoke_rule(c, id, r);
	}
	if (rc < 0)
		return rc;
	rc = ax_ec2_update_tags(c, prior, want, out);
	if (!rc)
		json_object_del(*out, "unmanaged_ingress");
	return rc;
}

static int del_group(struct sf_rctx *c, void *ctx)
{
	return ax_ec2(c, "DeleteSecurityGroup", json_pack("{s:s}", "GroupId", (const char *)ctx), NULL);
}

static int sweep_group(struct sf_rctx *c, void *ctx)
{
	return ax_sweep_enis(c, "group-id", ctx);
}

static int del_once(struct sf_rctx *c, void *ctx)
{
	int rc = ax_delete_else_sweep(c, del_group, sweep_group, ctx);
	return rc < 0 ? rc : 0;
}

static const struct ax_ec2_kind kind = {"DescribeSecurityGroups", "securityGroupInfo", "groupId", "group-id", 900, "deleting the security group"};

static int sg_destroy(struct sf_rctx *c, const json_t *prior)
{
	return ax_ec2_destroy(c, prior, &kind, del_once);
}

/* ---- gc sweep ---- */

static int sg_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeSecurityGroups", "securityGroupInfo", "groupId", NULL, NULL);
}

static const struct sf_sweep_hook sg_sweep = {"security group", SF_SWEEP_SECURITY_GROUP, sg_sweep_list, NULL, NULL};
/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int sg_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeSecurityGroups", "GroupId", ax_s(a_, "id"), "securityGroupInfo", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "security group",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the object tagged with "
		 "this operation's secfaas:token",
	.marks = sg_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_security_group = {
	.own = &own,
	.name = "aws_security_group",
	.schema_version = 1,
	.typical = {.delete = {5, 120}},
	.attrs = attrs,
	.create = sg_create,
	.read = sg_read,
	.read_batch = sg_read_batch,
	.update = sg_update,
	.validate = sg_validate,
	.destroy = sg_destroy,
	.sweep = &sg_sweep,
};
