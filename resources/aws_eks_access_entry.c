/*
 * aws_eks_access_entry.c - eks_access_entry: an EKS access entry giving an
 * IAM principal an access policy on the whole cluster (spec.access.admins:
 * AmazonEKSClusterAdminPolicy).
 *
 * Ownership (SF_OWN_TAGS): the entry is keyed by the principal, and EKS
 * makes entries of its own (the cluster creator's, node roles'), as may
 * anyone with access to the cluster.  A create that meets ResourceInUse
 * adopts the entry only when its tags prove it is this state's (a resumed
 * create); associating the policy again is a no-op.  Someone else's entry
 * is never deleted: that would lock its principal out of the cluster.
 *
 * Drift: the associated access policies are read; anything but exactly
 * the spec's policy with cluster scope shows as a changed `policy` and is
 * set back in place (associate the policy, disassociate the others).
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"cluster_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EKS cluster"},
	{"principal_arn", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "IAM role or user ARN"},
	{"policy", SF_AT_STRING, SF_ATTR_OPTIONAL,
	 "access policy name (default AmazonEKSClusterAdminPolicy), cluster-wide; the only one associated"},
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

static const struct sf_own own;

static char *policy_arn(struct sf_rctx *c, const char *pol)
{
	struct sf_aws *a = ax_client(c);
	if (!pol)
		pol = "AmazonEKSClusterAdminPolicy";
	return strncmp(pol, "arn:", 4) ? xasprintf("arn:%s:eks::aws:cluster-access-policy/%s",
						   a && sf_aws_partition_of(a) ? sf_aws_partition_of(a) : "aws", pol)
				       : xstrdup(pol);
}

/* The associated policies: {arn: scope type} (new object). */
static int associated(struct sf_rctx *c, const json_t *w, json_t **out)
{
	char *p = epath(w, "/access-policies");
	json_t *o = NULL;
	int rc = ax_eks(c, "GET", p, NULL, &o);
	free(p);
	if (rc < 0)
		return rc;
	*out = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "associatedAccessPolicies"), i, e)
	{
		const json_t *sc = json_object_get(e, "accessScope");
		const char *t = ax_s(sc, "type") ? ax_s(sc, "type") : "?";
		char *v = json_array_size(json_object_get(sc, "namespaces"))
				  ? xasprintf("%s %s", t, json_string_value(json_array_get(json_object_get(sc, "namespaces"), 0)))
				  : xstrdup(t);
		if (ax_s(e, "policyArn"))
			json_object_set_new(*out, ax_s(e, "policyArn"), json_string(v));
		free(v);
	}
	json_decref(o);
	return 0;
}

static int ae_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*tags = NULL;
	*id = NULL;
	if (!ax_s(a_, "cluster_name") || !ax_s(a_, "principal_arn"))
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no cluster or principal", c->address);
	*id = xasprintf("%s/%s", ax_s(a_, "cluster_name"), ax_s(a_, "principal_arn"));
	char *p = epath(a_, NULL);
	int rc = ax_eks_marks(c, p, "accessEntry", "accessEntryArn", tags, NULL, NULL);
	free(p);
	return rc;
}

static int ae_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	json_t *t = NULL;
	char *arn = NULL, *p = epath(a_, NULL);
	int rc = ax_eks_marks(c, p, "accessEntry", "accessEntryArn", &t, &arn, NULL);
	free(p);
	json_decref(t);
	if (!rc)
		rc = ax_eks_claim(c, arn, tags);
	free(arn);
	return rc;
}

static int ae_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *lc = sf_aws_label(ax_s(want, "cluster_name"));
	char *p = xasprintf("/clusters/%s/access-entries", lc);
	free(lc);
	json_t *tags = ax_tags(c, want, 1);
	/* the entry is keyed by the principal: a taken one or a lost reply
	 * is this state's only on proof (the one create path) */
	struct ax_own_name n = {&own, want};
	struct ax_create_def d = {.service = "eks", .op = "CreateAccessEntry", .id_key = "principalArn",
				  .find = ax_own_find, .find_ctx = &n, .exists = "ResourceInUseException"};
	char *made = NULL;
	int rc = ax_create_at(c, &d, p,
			      json_pack("{s:s, s:o, s:s}", "principalArn", ax_s(want, "principal_arn"), "tags", tags,
					"clientRequestToken", c->token ? c->token : ax_s(want, "principal_arn")),
			      NULL, &made);
	free(made);
	free(p);
	if (rc < 0)
		return rc;
	char *id = xasprintf("%s/%s", ax_s(want, "cluster_name"), ax_s(want, "principal_arn"));
	if (c->record_id)
		c->record_id(c, id);
	char *arn = policy_arn(c, ax_s(want, "policy"));
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
	json_t *have = NULL;
	if (!rc)
		rc = associated(c, prior, &have);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	char *mine = policy_arn(c, ax_s(prior, "policy"));
	if (json_object_size(have) != 1 || !ax_s(have, mine) || strcmp(ax_s(have, mine), "cluster")) {
		struct sf_buf b = SF_BUF_INIT;
		const char *k;
		json_t *v;
		json_object_foreach(have, k, v)
		{
			const char *slash = strrchr(k, '/');
			sf_buf_printf(&b, "%s%s (%s)", b.len ? ", " : "", slash ? slash + 1 : k, json_string_value(v));
		}
		json_object_set_new(*out, "policy", json_string(b.len ? sf_buf_cstr(&b) : "(none associated)"));
		sf_buf_release(&b);
	}
	free(mine);
	json_decref(have);
	return 0;
}

static int ae_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	json_t *have = NULL;
	char *mine = policy_arn(c, ax_s(want, "policy"));
	int rc = associated(c, prior, &have);
	const char *k;
	json_t *v;
	json_object_foreach(have, k, v)
	{
		if (rc < 0)
			break;
		if (!strcmp(k, mine) && !strcmp(json_string_value(v), "cluster"))
			continue;
		char *l = sf_aws_label(k), *e = epath(prior, NULL);
		char *p = xasprintf("%s/access-policies/%s", e, l);
		rc = ax_eks(c, "DELETE", p, NULL, NULL);
		/* The disassociation is what this call is for: sent again after a
		 * lost reply it finds the association gone, which is the goal. */
		if (rc == SF_ENOTFOUND) {
			sf_err_clear(c->err);
			rc = 0;
		}
		free(p);
		free(e);
		free(l);
	}
	if (!rc && !(ax_s(have, mine) && !strcmp(ax_s(have, mine), "cluster"))) {
		char *p = epath(prior, "/access-policies");
		rc = ax_eks(c, "POST", p, json_pack("{s:s, s:{s:s}}", "policyArn", mine, "accessScope", "type", "cluster"),
			    NULL);
		free(p);
	}
	free(mine);
	json_decref(have);
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	json_object_set(*out, "id", json_object_get(prior, "id"));
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

static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "EKS access entry",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the entry; its access policy "
		 "association belongs to it",
	.marks = ae_marks,
	.claim = ae_claim,
	.why_taken = "EKS makes an access entry of its own for the principal that created the cluster, so drop "
		     "that principal from spec.access.admins",
	.deleted_with = "eks_cluster", /* DeleteCluster removes its access entries */
};

const struct sf_rtype sf_rt_eks_access_entry = {
	.own = &own,
	.name = "eks_access_entry",
	.schema_version = 1,
	.typical = {.create = {1, 5}},
	.attrs = attrs,
	.create = ae_create,
	.read = ae_read,
	.update = ae_update,
	.destroy = ae_destroy,
};
