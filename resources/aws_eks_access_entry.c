/*
 * aws_eks_access_entry.c - eks_access_entry: an EKS access entry giving an
 * IAM principal an access policy on the whole cluster (spec.access.admins:
 * AmazonEKSClusterAdminPolicy).  The entry is keyed by the principal, so a
 * resumed create that meets ResourceInUse adopts it; associating the policy
 * again is a no-op.
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"cluster_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EKS cluster"},
	{"principal_arn", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "IAM role or user ARN"},
	{"policy", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW,
	 "access policy name (default AmazonEKSClusterAdminPolicy)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "tags"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "cluster/principal"},
	{NULL, 0, 0, NULL},
};

static char *epath(const json_t *w, const char *suffix)
{
	char *lc = sf_aws_label(ax_s(w, "cluster_name")), *lp = sf_aws_label(ax_s(w, "principal_arn"));
	char *p = xasprintf("/clusters/%s/access-entries/%s%s", lc, lp, suffix ? suffix : "");
	free(lc);
	free(lp);
	return p;
}

static int ae_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *lc = sf_aws_label(ax_s(want, "cluster_name"));
	char *p = xasprintf("/clusters/%s/access-entries", lc);
	free(lc);
	json_t *tags = ax_tags(c, want, 0);
	int rc = ax_eks(c, "POST", p,
			json_pack("{s:s, s:o, s:s}", "principalArn", ax_s(want, "principal_arn"), "tags", tags,
				  "clientRequestToken", c->token ? c->token : ax_s(want, "principal_arn")),
			NULL);
	free(p);
	if (rc == SF_ECONFLICT) { /* the entry exists: keyed by the principal */
		sf_err_clear(c->err);
		rc = 0;
	}
	if (rc < 0)
		return rc;
	char *id = xasprintf("%s/%s", ax_s(want, "cluster_name"), ax_s(want, "principal_arn"));
	if (c->record_id)
		c->record_id(c, id);
	struct sf_aws *a = ax_client(c);
	const char *pol = ax_s(want, "policy") ? ax_s(want, "policy") : "AmazonEKSClusterAdminPolicy";
	char *arn = strncmp(pol, "arn:", 4) ? xasprintf("arn:%s:eks::aws:cluster-access-policy/%s",
						       a && sf_aws_partition_of(a) ? sf_aws_partition_of(a) : "aws", pol)
					    : xstrdup(pol);
	p = epath(want, "/access-policies");
	rc = ax_eks(c, "POST", p, json_pack("{s:s, s:{s:s}}", "policyArn", arn, "accessScope", "type", "cluster"), NULL);
	free(p);
	free(arn);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "id", json_string(id));
	}
	free(id);
	return rc;
}

static int ae_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	char *p = epath(prior, NULL);
	int rc = ax_eks(c, "GET", p, NULL, NULL);
	free(p);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	return 0;
}

static int ae_destroy(struct sf_rctx *c, const json_t *prior)
{
	char *p = epath(prior, NULL);
	int rc = ax_eks(c, "DELETE", p, NULL, NULL);
	free(p);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

const struct sf_rtype sf_rt_eks_access_entry = {
	.name = "eks_access_entry",
	.schema_version = 1,
	.attrs = attrs,
	.create = ae_create,
	.read = ae_read,
	.destroy = ae_destroy,
};
