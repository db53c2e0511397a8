/*
 * aws_security_group.c - aws_security_group: a VPC security group, with
 * an optional "all traffic from members of this group" ingress rule (what
 * the extra cluster security group given to EKS needs).  Egress stays the
 * AWS default (all).  Destroy sweeps available ENIs using the group and
 * retries DependencyViolation.
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"vpc_id", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "VPC id"},
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "group name, unique in the VPC"},
	{"description", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "group description"},
	{"self_ingress", SF_AT_BOOL, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "allow all traffic between members"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "sg-..."},
	{NULL, 0, 0, NULL},
};

static const struct ax_create_def sg_make = {"ec2", "CreateSecurityGroup", "groupId", "DescribeSecurityGroups",
					    "securityGroupInfo", NULL, NULL};

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
	if (json_is_true(json_object_get(want, "self_ingress"))) {
		rc = ax_ec2(c, "AuthorizeSecurityGroupIngress",
			    json_pack("{s:s, s:[{s:s, s:[{s:s}]}]}", "GroupId", id, "IpPermissions", "IpProtocol", "-1",
				      "Groups", "GroupId", id),
			    NULL);
		if (rc < 0 && !strcmp(c->err->aws_code, "InvalidPermission.Duplicate")) {
			sf_err_clear(c->err);
			rc = 0;
		}
	}
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

static int sg_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *g = NULL;
	int rc = ax_ec2_describe_one(c, "DescribeSecurityGroups", "GroupId", ax_s(prior, "id"), "securityGroupInfo", &g);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set(*out, "name", json_object_get(g, "groupName"));
	ax_ec2_read_tags(*out, prior, g);
	json_decref(g);
	return 0;
}

static int del_once(struct sf_rctx *c, void *ctx)
{
	int rc = ax_sweep_enis(c, "group-id", ctx);
	if (rc >= 0)
		rc = ax_ec2(c, "DeleteSecurityGroup", json_pack("{s:s}", "GroupId", (const char *)ctx), NULL);
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

static int sg_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	return ax_ec2_claim(c, ax_s(a_, "id"), tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "security group",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the object tagged with "
		 "this operation's secfaas:token",
	.marks = sg_marks,
	.claim = sg_claim,
};

const struct sf_rtype sf_rt_aws_security_group = {
	.own = &own,
	.name = "aws_security_group",
	.schema_version = 1,
	.attrs = attrs,
	.create = sg_create,
	.read = sg_read,
	.update = ax_ec2_update_tags,
	.destroy = sg_destroy,
	.sweep = &sg_sweep,
};
