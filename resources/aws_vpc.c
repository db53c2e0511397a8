/*
 * aws_vpc.c - aws_vpc: the cluster's VPC with DNS support and hostnames on.
 *
 * Create adopts a VPC tagged secfaas:token=<token> (a killed run's) before
 * creating one.  Destroy is the last network step of a teardown: it sweeps
 * what Kubernetes and EKS left in the VPC (the VPC CNI's and EKS's
 * available ENIs, security groups tagged kubernetes.io/cluster/
 * <cluster_name>=owned or elbv2.k8s.aws/cluster=<cluster_name>) and retries
 * DependencyViolation with backoff until its deadline, then reports what is
 * still in the way.
 */
#include <string.h>

#include "log.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"cidr_block", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "IPv4 CIDR of the VPC"},
	{"cluster_name", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW,
	 "EKS cluster whose Kubernetes-made security groups are swept on destroy"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "vpc-..."},
	{NULL, 0, 0, NULL},
};

static const struct sf_waiter_def vpc_available = {
	.name = "aws_vpc.available", .service = "ec2", .operation = "DescribeVpcs", .status_path = "vpcSet[].state",
	.delay_s = 2, .success = {"available"}, .empty_is_notfound = 1, .notfound_msg = "{VpcId} not found",
};

static const struct ax_create_def vpc_make = {"ec2", "CreateVpc", "vpcId", "DescribeVpcs", "vpcSet", NULL, NULL, NULL};

static int vpc_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *id = NULL;
	json_t *tags = ax_tags(c, want, 1), *made = NULL;
	int rc = ax_create(c, &vpc_make,
			   json_pack("{s:s, s:o}", "CidrBlock", ax_s(want, "cidr_block"), "TagSpecification",
				     ax_ec2_tagspec("vpc", tags)),
			   &made, &id);
	json_decref(tags);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, id);
	/* CreateVpc answered: no wait when it says available already, and DNS
	 * support is on in every new VPC.  A VPC the lookup found (a lost
	 * reply) is waited for and set as before. */
	const char *st = made ? ax_s(json_object_get(made, "vpc"), "state") : NULL;
	if (!st || strcmp(st, "available"))
		rc = ax_wait(c, &vpc_available, json_pack("{s:[s]}", "VpcId", id), 300, "vpc");
	if (!rc && !made)
		rc = ax_ec2(c, "ModifyVpcAttribute", json_pack("{s:s, s:{s:b}}", "VpcId", id, "EnableDnsSupport", "Value", 1),
			    NULL);
	json_decref(made);
	if (!rc)
		rc = ax_ec2(c, "ModifyVpcAttribute",
			    json_pack("{s:s, s:{s:b}}", "VpcId", id, "EnableDnsHostnames", "Value", 1), NULL);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

/* Refresh: every recorded one in one filtered call (aws_batch.h). */
static const struct ax_batch_def batch = {"DescribeVpcs", "VpcId", "vpcSet", "vpcId", "vpc-id", 1000, NULL};

static int vpc_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int vpc_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *v = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &v);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set(*out, "cidr_block", json_object_get(v, "cidrBlock"));
	ax_ec2_read_tags(*out, prior, v);
	json_decref(v);
	return 0;
}

/* Is this group one that Kubernetes (its cloud provider, the AWS Load
 * Balancer Controller) or the EKS cluster made for `cluster`?  They tag
 * it kubernetes.io/cluster/<cluster>=owned or elbv2.k8s.aws/cluster=
 * <cluster>.  "shared" (or any other value) is the convention for an
 * object someone else owns and lends the cluster. */
static int made_for(const json_t *tags, const char *cluster)
{
	char *key = xasprintf("kubernetes.io/cluster/%s", cluster);
	const char *v = ax_s(tags, key), *lbc = ax_s(tags, "elbv2.k8s.aws/cluster");
	free(key);
	return (v && !strcmp(v, "owned")) || (lbc && !strcmp(lbc, cluster));
}

/* Security groups Kubernetes (or the EKS cluster) made in this VPC: how
 * many were deleted, or an error.  One listing of the VPC's groups (they
 * are few: the VPC is being deleted), judged by their tags. */
static int sweep_groups(struct sf_rctx *c, const char *vpc, const char *cluster)
{
	int n = 0;
	if (!cluster)
		return 0;
	json_t *out = NULL;
	int rc = ax_ec2(c, "DescribeSecurityGroups", json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "vpc-id", "Value", vpc),
			&out);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(out, "securityGroupInfo"), i, g)
	{
		const char *gid = ax_s(g, "groupId");
		json_t *t = ax_tags_from_list(json_object_get(g, "tagSet"));
		/* secfaas-managed groups have their own resource */
		int sweep = gid && !ax_s(t, "secfaas:address") && made_for(t, cluster);
		json_decref(t);
		if (!sweep)
			continue;
		int d = ax_sweep_enis(c, "group-id", gid);
		if (d >= 0)
			d = ax_swept(c, ax_ec2(c, "DeleteSecurityGroup", json_pack("{s:s}", "GroupId", gid), NULL),
				     "Kubernetes security group", gid);
		if (d < 0) {
			json_decref(out);
			return d;
		}
		n += d;
	}
	json_decref(out);
	return n;
}

struct del {
	const char *id, *cluster;
};

static int del_vpc(struct sf_rctx *c, void *ctx)
{
	const struct del *d = ctx;
	return ax_ec2(c, "DeleteVpc", json_pack("{s:s}", "VpcId", d->id), NULL);
}

static int sweep_vpc(struct sf_rctx *c, void *ctx)
{
	const struct del *d = ctx;
	int enis = ax_sweep_enis(c, "vpc-id", d->id);
	if (enis < 0)
		return enis;
	int groups = sweep_groups(c, d->id, d->cluster);
	return groups < 0 ? groups : enis + groups;
}

static int del_once(struct sf_rctx *c, void *ctx)
{
	int rc = ax_delete_else_sweep(c, del_vpc, sweep_vpc, ctx);
	return rc < 0 ? rc : 0;
}

/* The groups still in the VPC besides its default one, for the hint of a
 * VPC that cannot go ("security group sg-1 (name), ..."), or NULL. */
static char *groups_left(struct sf_rctx *c, const char *vpc)
{
	json_t *out = NULL;
	struct sf_err keep = *c->err;
	int rc = ax_ec2(c, "DescribeSecurityGroups", json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "vpc-id", "Value", vpc),
			&out);
	*c->err = keep;
	if (rc < 0)
		return NULL;
	struct sf_buf b = SF_BUF_INIT;
	size_t i, n = 0;
	json_t *g;
	json_array_foreach(json_object_get(out, "securityGroupInfo"), i, g)
	{
		const char *gid = ax_s(g, "groupId"), *name = ax_s(g, "groupName");
		if (!gid || (name && !strcmp(name, "default")))
			continue;
		if (n++ == 8) {
			sf_buf_printf(&b, ", ...");
			break;
		}
		sf_buf_printf(&b, "%ssecurity group %s (%s)", n > 1 ? ", " : "", gid, name ? name : "");
	}
	json_decref(out);
	return b.len ? sf_buf_detach(&b) : (sf_buf_release(&b), NULL);
}

static int vpc_destroy(struct sf_rctx *c, const json_t *prior)
{
	char *found = NULL;
	const char *id = ax_s(prior, "id");
	if (!id) {
		int rc = ax_ec2_find_token(c, "DescribeVpcs", "vpcSet", "vpcId", &found);
		if (rc < 0)
			return rc;
		if (!found)
			return 0;
		id = found;
	}
	struct del d = {id, ax_s(prior, "cluster_name")};
	int rc = ax_retry_conflict(c, del_once, &d, 900, "deleting the VPC");
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	if (rc == SF_ECONFLICT) {
		char *left = ax_blockers(c, "vpc-id", id), *groups = groups_left(c, id);
		if (left || groups)
			sf_err_hint(c->err, "still in use by %s%s%s; delete them (or what owns them) and run destroy again",
				    left ? left : "", left && groups ? ", " : "", groups ? groups : "");
		free(left);
		free(groups);
	}
	free(found);
	return rc;
}

/* ---- gc sweep ---- */

/* The cluster whose Kubernetes-made groups block the VPC (vpc_destroy
 * removes them first). */
static json_t *vpc_sweep_prior(const char *id, const json_t *item, const json_t *tags)
{
	(void)item;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)tags, key, v)
	{
		if (!strncmp(key, "kubernetes.io/cluster/", 22))
			return json_pack("{s:s, s:s}", "id", id, "cluster_name", key + 22);
	}
	return json_pack("{s:s}", "id", id);
}

static int vpc_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeVpcs", "vpcSet", "vpcId", NULL, vpc_sweep_prior);
}

static const struct sf_sweep_hook vpc_sweep = {"vpc", SF_SWEEP_VPC, vpc_sweep_list, NULL, NULL};
/* ---- ownership: EC2 ids are never reused (SF_OWN_ID) ---- */

static int vpc_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeVpcs", "VpcId", ax_s(a_, "id"), "vpcSet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "VPC",
	.proof = "the id recorded at create (EC2 never reuses ids); without one, only the object tagged with "
		 "this operation's secfaas:token",
	.marks = vpc_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_vpc = {
	.own = &own,
	.name = "aws_vpc",
	.schema_version = 1,
	.typical = {.delete = {5, 30}},
	.attrs = attrs,
	.create = vpc_create,
	.read = vpc_read,
	.read_batch = vpc_read_batch,
	.update = ax_ec2_update_tags,
	.destroy = vpc_destroy,
	.sweep = &vpc_sweep,
};
