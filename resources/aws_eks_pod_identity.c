/*
 * aws_eks_pod_identity.c - eks_pod_identity_association: an EKS Pod
 * Identity association giving the pods of one Kubernetes service account
 * (namespace + name) the credentials of one IAM role.  Why: a component
 * that calls AWS (the cluster autoscaler, say) must get its own narrow
 * role instead of the node role, which every pod on the node could
 * otherwise reach; the node role then carries only what the kubelet needs.
 *
 * The role's trust policy must let pods.eks.amazonaws.com assume it and
 * tag the session (aws_iam_role with service pods.eks.amazonaws.com
 * writes exactly that); EKS refuses the association otherwise.
 *
 * Ownership (SF_OWN_TAGS): EKS keys an association by namespace and
 * service account (a second one for the same pair is refused with
 * ResourceInUseException) and gives it an id of its own.  A create that
 * meets the pair taken looks the association up (ListPodIdentityAssociations
 * filtered by the pair, then its tags) and adopts it only when its tags
 * prove it is this state's (a resumed create, a lost reply); anyone
 * else's, including one an EKS add-on manages, is refused naming the owner
 * and `secfaas import`.  The recorded id is what read, update and destroy
 * use; an id that is gone means the association was deleted outside
 * secfaas, even when another now holds the pair.
 *
 * Drift: the role.  A role changed outside secfaas shows as a changed
 * role_arn and is set back in place (UpdatePodIdentityAssociation).
 *
 * gc: associations go with their cluster (deleting a cluster deletes
 * them); the sweep lists them so a dead workspace's association on a
 * cluster that stays is found too.  Those an add-on manages are left to
 * the add-on (EKS refuses to delete them on their own).
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"cluster_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EKS cluster"},
	{"namespace", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "Kubernetes namespace of the service account"},
	{"service_account", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "Kubernetes service account"},
	{"role_arn", SF_AT_STRING, SF_ATTR_REQUIRED,
	 "IAM role the pods get (trusted by pods.eks.amazonaws.com for sts:AssumeRole and sts:TagSession)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "tags"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "association id (a-...)"},
	{"arn", SF_AT_STRING, SF_ATTR_COMPUTED, "association ARN"},
	{NULL, 0, 0, NULL},
};

static const struct sf_own own;

/* /clusters/<cluster>/pod-identity-associations[/<id>] (owned). */
static char *ppath(const char *cluster, const char *id)
{
	char *lc = sf_aws_label(cluster), *li = id ? sf_aws_label(id) : NULL;
	char *p = xasprintf("/clusters/%s/pod-identity-associations%s%s", lc, li ? "/" : "", li ? li : "");
	free(lc);
	free(li);
	return p;
}

/* The id of the association EKS holds for the attributes' namespace and
 * service account: 0 and *id (owned), SF_ENOTFOUND when there is none. */
static int find_pair(struct sf_rctx *c, const json_t *a_, char **id)
{
	*id = NULL;
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	char *p = ppath(ax_s(a_, "cluster_name"), NULL);
	char *ln = sf_aws_label(ax_s(a_, "namespace")), *ls = sf_aws_label(ax_s(a_, "service_account"));
	char *q = xasprintf("namespace=%s&serviceAccount=%s", ln, ls);
	json_t *o = NULL;
	int rc = sf_aws_rest_json(a, "eks", "GET", p, q, NULL, &o, c->err);
	free(p);
	free(q);
	free(ln);
	free(ls);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "associations"), i, e)
	{
		/* the filter is EKS's; the pair is checked again all the same */
		if (!*id && ax_s(e, "associationId") && ax_s(e, "namespace") && ax_s(e, "serviceAccount") &&
		    !strcmp(ax_s(e, "namespace"), ax_s(a_, "namespace")) &&
		    !strcmp(ax_s(e, "serviceAccount"), ax_s(a_, "service_account")))
			*id = xstrdup(ax_s(e, "associationId"));
	}
	json_decref(o);
	if (!*id)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no association for %s/%s", c->address, ax_s(a_, "namespace"),
			       ax_s(a_, "service_account"));
	return 0;
}

static int describe(struct sf_rctx *c, const char *cluster, const char *id, json_t **assoc)
{
	char *p = ppath(cluster, id);
	int rc = ax_eks_describe(c, p, "association", assoc);
	free(p);
	return rc;
}

/* The association the attributes name: the recorded id when there is one
 * (an id that is gone is gone, whoever holds the pair now), else the one
 * EKS holds for the pair.  0 and *assoc (new reference), SF_ENOTFOUND. */
static int locate(struct sf_rctx *c, const json_t *a_, json_t **assoc)
{
	*assoc = NULL;
	if (!ax_s(a_, "cluster_name") || !ax_s(a_, "namespace") || !ax_s(a_, "service_account"))
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no cluster, namespace or service account", c->address);
	const char *rid = ax_s(a_, "id");
	char *found = NULL;
	int rc = rid && *rid ? 0 : find_pair(c, a_, &found);
	if (!rc)
		rc = describe(c, ax_s(a_, "cluster_name"), rid && *rid ? rid : found, assoc);
	free(found);
	return rc;
}

static int pi_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	json_t *x = NULL;
	*tags = NULL;
	if (id)
		*id = NULL;
	int rc = locate(c, a_, &x);
	if (rc < 0)
		return rc;
	const json_t *t = json_object_get(x, "tags");
	*tags = json_is_object(t) ? json_deep_copy(t) : json_object();
	if (id)
		*id = xstrdup(ax_s(x, "associationId") ? ax_s(x, "associationId") : "");
	if (c->keep_marked) /* before a delete: pi_destroy deletes this one */
		c->marked = x;
	else
		json_decref(x);
	return 0;
}

static int pi_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	json_t *x = NULL;
	int rc = locate(c, a_, &x);
	if (!rc)
		rc = ax_eks_claim(c, ax_s(x, "associationArn"), tags);
	json_decref(x);
	return rc;
}

static json_t *output(const json_t *want, const json_t *x)
{
	json_t *out = ax_out(want);
	json_object_set_new(out, "id", json_string(ax_s(x, "associationId") ? ax_s(x, "associationId") : ""));
	json_object_set_new(out, "arn", json_string(ax_s(x, "associationArn") ? ax_s(x, "associationArn") : ""));
	return out;
}

/* Point the association at want's role (UpdatePodIdentityAssociation;
 * setting the same role again is harmless, so a lost reply is simply
 * sent again by the client's retries). */
static int set_role(struct sf_rctx *c, const char *cluster, const char *id, const json_t *want)
{
	char *p = ppath(cluster, id);
	int rc = ax_eks(c, "POST", p,
			json_pack("{s:s, s:s}", "roleArn", ax_s(want, "role_arn"), "clientRequestToken",
				  c->token ? c->token : id),
			NULL);
	free(p);
	return rc;
}

static int pi_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *cluster = ax_s(want, "cluster_name");
	char *p = ppath(cluster, NULL), *made = NULL;
	json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:s}", "namespace", ax_s(want, "namespace"), "serviceAccount",
				 ax_s(want, "service_account"), "roleArn", ax_s(want, "role_arn"), "tags",
				 ax_tags(c, want, 1), "clientRequestToken",
				 c->token ? c->token : ax_s(want, "service_account"));
	/* keyed by namespace and service account: a taken pair or a lost
	 * reply is this state's only on proof (the one create path) */
	struct ax_own_name n = {&own, want};
	struct ax_create_def d = {.service = "eks", .op = "CreatePodIdentityAssociation", .id_key = "associationId",
				  .find = ax_own_find, .find_ctx = &n, .exists = "ResourceInUseException"};
	json_t *reply = NULL;
	int rc = ax_create_at(c, &d, p, body, &reply, &made);
	free(p);
	if (rc < 0) {
		json_decref(reply);
		return rc;
	}
	if (c->record_id)
		c->record_id(c, made);
	json_t *x = json_incref(json_object_get(reply, "association"));
	json_decref(reply);
	if (!x)
		rc = describe(c, cluster, made, &x);
	/* adopted from an earlier attempt that named another role */
	if (!rc && (!ax_s(x, "roleArn") || strcmp(ax_s(x, "roleArn"), ax_s(want, "role_arn"))))
		rc = set_role(c, cluster, made, want);
	if (!rc)
		*out = output(want, x);
	json_decref(x);
	free(made);
	return rc;
}

static int pi_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *x = NULL;
	int rc = locate(c, prior, &x);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set_new(*out, "role_arn", json_string(ax_s(x, "roleArn") ? ax_s(x, "roleArn") : ""));
	json_object_set_new(*out, "id", json_string(ax_s(x, "associationId") ? ax_s(x, "associationId") : ""));
	if (ax_s(x, "associationArn"))
		json_object_set_new(*out, "arn", json_string(ax_s(x, "associationArn")));
	json_decref(x);
	return 0;
}

static int pi_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	json_t *x = NULL;
	int rc = locate(c, prior, &x);
	const char *id = rc ? NULL : ax_s(x, "associationId");
	if (!rc && (!ax_s(x, "roleArn") || strcmp(ax_s(x, "roleArn"), ax_s(want, "role_arn"))))
		rc = set_role(c, ax_s(prior, "cluster_name"), id, want);
	if (!rc)
		*out = output(want, x);
	json_decref(x);
	return rc;
}

static int pi_destroy(struct sf_rctx *c, const json_t *prior)
{
	/* without a recorded id (a killed create) the pair's association is
	 * the one: the engine has proven it ours through marks before this,
	 * and left what marks found in c->marked */
	json_t *x = json_incref(c->marked);
	int rc = x ? 0 : locate(c, prior, &x);
	if (!rc) {
		char *p = ppath(ax_s(prior, "cluster_name"), ax_s(x, "associationId"));
		rc = ax_eks(c, "DELETE", p, NULL, NULL);
		free(p);
	}
	json_decref(x);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

/* ---- gc sweep ---- */

static int collect(void *ctx, const json_t *page, struct sf_err *err)
{
	(void)err;
	json_array_extend(ctx, json_object_get(page, "associations"));
	return 0;
}

/* Associations of every cluster, but not those an add-on manages. */
static int pi_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	json_t *clusters = NULL;
	int rc = ax_sweep_eks_clusters(s, &clusters);
	struct sf_aws *aws = rc < 0 ? NULL : sf_providers_aws(sf_sweep_providers(s), sf_sweep_err(s));
	size_t i, j;
	json_t *e, *a;
	json_array_foreach(clusters, i, e)
	{
		const char *cl = json_string_value(e);
		if (rc < 0 || !aws)
			break;
		if (!cl)
			continue;
		char *path = ppath(cl, NULL);
		json_t *all = json_array();
		rc = sf_aws_rest_json_pages(aws, "eks", path, NULL, collect, all, sf_sweep_err(s));
		free(path);
		json_array_foreach(all, j, a)
		{
			const char *id = ax_s(a, "associationId");
			if (rc < 0)
				break;
			if (!id || ax_s(a, "ownerArn"))
				continue;
			path = ppath(cl, id);
			json_t *x = NULL;
			rc = ax_sweep_eks_get(s, path, "association", &x);
			free(path);
			if (x && !ax_s(x, "ownerArn"))
				sf_sweep_add(s, h, id, cl, ax_s(x, "associationArn"), json_object_get(x, "tags"),
					     json_pack("{s:s, s:s, s:s, s:s}", "cluster_name", cl, "namespace",
						       ax_s(a, "namespace") ? ax_s(a, "namespace") : "", "service_account",
						       ax_s(a, "serviceAccount") ? ax_s(a, "serviceAccount") : "", "id", id));
			json_decref(x);
		}
		json_decref(all);
	}
	if (rc >= 0 && !aws && json_array_size(clusters))
		rc = sf_sweep_err(s)->code ? sf_sweep_err(s)->code : SF_ERROR;
	json_decref(clusters);
	return rc < 0 ? rc : 0;
}

static const struct sf_sweep_hook pi_sweep = {"eks pod identity association", SF_SWEEP_NODEGROUP, pi_sweep_list,
					      NULL, "eks cluster"};

static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "EKS Pod Identity association",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the association; the recorded "
		 "association id",
	.marks = pi_marks,
	.claim = pi_claim,
	.why_taken = "the service account already has an association (made by hand, another tool or an EKS add-on), "
		     "and EKS allows one per service account",
	.deleted_with = "eks_cluster", /* DeleteCluster removes its associations */
};

const struct sf_rtype sf_rt_eks_pod_identity_association = {
	.own = &own,
	.name = "eks_pod_identity_association",
	.schema_version = 1,
	.attrs = attrs,
	.create = pi_create,
	.read = pi_read,
	.update = pi_update,
	.destroy = pi_destroy,
	.sweep = &pi_sweep,
};
