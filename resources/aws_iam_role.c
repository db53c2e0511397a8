/*
 * aws_iam_role.c - aws_iam_role: an IAM role assumable by one AWS service
 * (eks.amazonaws.com for the cluster, ec2.amazonaws.com for nodes and the
 * AMI builder, pods.eks.amazonaws.com for the pods of an EKS Pod Identity
 * association) with its managed policy attachments and inline policies.
 *
 * Attachments and inline policies belong to the role (changed in place)
 * rather than being resources of their own: the role is useless without
 * them and destroying a role must remove them first anyway.  Managed
 * policies are given as AWS-managed names ("AmazonEKSClusterPolicy") or
 * full ARNs.  A permission that no AWS-managed policy grants narrowly
 * enough (the cluster autoscaler's, scoped to one cluster's Auto Scaling
 * groups by a tag condition) is an inline policy: `inline_policies` maps
 * its name to the document (PutRolePolicy).  Inline rather than a
 * customer-managed policy of its own: it lives and dies with the role, so
 * there is no second name-keyed object to own, adopt or leave behind.
 *
 * Drift: the trust policy, the attached policies (of every role, also one
 * whose spec names none), inline policies and tags are read.  A trust
 * policy that is not exactly the one secfaas writes for `service` (another
 * principal added, say) shows as a changed service and is rewritten in
 * place (UpdateAssumeRolePolicy).  An inline policy the
 * spec names is read back (GetRolePolicy) and compared as JSON, so an
 * edited or deleted one shows as a change and is written again; others
 * show in unmanaged_inline_policies, which no spec sets, so apply deletes
 * them.
 *
 * A refresh of many roles (a fleet's) reads them all from one listing of
 * the account (ax_iam_role_batch, resources/aws_batch.h) instead of three
 * calls a role, and falls back to those calls when the listing is refused.
 *
 * Ownership (SF_OWN_TAGS): role names come from the spec and anyone may
 * hold one.  A create that meets EntityAlreadyExists adopts the role only
 * when its tags prove it is this state's (a killed run's create); the
 * engine checks the same tags before every update and delete.  Destroy
 * removes the role from instance profiles of this state only: a profile
 * someone else made is never changed, the delete fails naming it instead.
 */
#include <string.h>

#include "provisioner/engine/ownership.h"
#include "aws/xml.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "role name (unique in the account)"},
	{"service", SF_AT_STRING, SF_ATTR_REQUIRED, "service principal allowed to assume it (the whole trust policy)"},
	{"policy_arns", SF_AT_LIST, SF_ATTR_OPTIONAL, "managed policies (names of AWS policies or ARNs)"},
	{"inline_policies", SF_AT_MAP, SF_ATTR_OPTIONAL,
	 "inline policies: name -> policy document (an object with Version and Statement)"},
	{"unmanaged_inline_policies", SF_AT_LIST, SF_ATTR_OPTIONAL,
	 "read only: inline policies found on the role that inline_policies does not name; apply deletes them"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"arn", SF_AT_STRING, SF_ATTR_COMPUTED, "role ARN"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "role name"},
	{NULL, 0, 0, NULL},
};

static char *policy_arn(struct sf_rctx *c, const char *p)
{
	if (!strncmp(p, "arn:", 4))
		return xstrdup(p);
	struct sf_aws *a = ax_client(c);
	const char *part = a ? sf_aws_partition_of(a) : "aws";
	return xasprintf("arn:%s:iam::aws:policy/%s", part ? part : "aws", p);
}

static int has(const json_t *l, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(l, i, e) if (json_string_value(e) && !strcmp(json_string_value(e), s)) return 1;
	return 0;
}

/* Every page of an IAM listing of one role (ListAttachedRolePolicies ...):
 * the items under `key` (new array). */
static int role_list(struct sf_rctx *c, const char *role, const char *action, const char *key, json_t **out)
{
	struct sf_aws *a = ax_client(c);
	*out = NULL;
	if (!a)
		return c->err->code;
	json_t *p = json_pack("{s:s}", "RoleName", role);
	int rc = sf_aws_query_all(a, "iam", action, p, key, out, c->err);
	json_decref(p);
	return rc;
}

/* Attached policy ARNs (new array). */
static int attached(struct sf_rctx *c, const char *role, json_t **arns)
{
	json_t *all = NULL;
	int rc = role_list(c, role, "ListAttachedRolePolicies", "AttachedPolicies", &all);
	if (rc < 0)
		return rc;
	*arns = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) if (ax_s(e, "PolicyArn")) json_array_append_new(*arns, json_string(ax_s(e, "PolicyArn")));
	json_decref(all);
	return 0;
}

struct role_policy {
	const char *role, *arn;
};

/* ax_change's check for a detach: the policy is no longer attached (or
 * the role is gone). */
static int detached_done(struct sf_rctx *c, const void *ctx)
{
	const struct role_policy *x = ctx;
	json_t *have = NULL;
	int rc = attached(c, x->role, &have);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 1;
	}
	if (rc < 0)
		return rc;
	int gone = !has(have, x->arn);
	json_decref(have);
	return gone;
}

static const struct ax_change_def policy_detach = {"iam", "DetachRolePolicy", detached_done,
						   "detaching the policy from the role"};

/* ax_change's check for a removal from an instance profile: the role is
 * no longer in it (or the profile is gone). */
static int removed_done(struct sf_rctx *c, const void *ctx)
{
	const struct role_policy *x = ctx; /* arn: the profile's name */
	json_t *o = NULL;
	int rc = ax_iam(c, "GetInstanceProfile", json_pack("{s:s}", "InstanceProfileName", x->arn), &o);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 1;
	}
	if (rc < 0)
		return rc;
	int in = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "InstanceProfile"), "Roles"), i, r) if (
		ax_s(r, "RoleName") && !strcmp(ax_s(r, "RoleName"), x->role)) in = 1;
	json_decref(o);
	return !in;
}

static const struct ax_change_def profile_remove = {"iam", "RemoveRoleFromInstanceProfile", removed_done,
						    "removing the role from its instance profile"};

static int sync_policies(struct sf_rctx *c, const char *role, const json_t *want_list, int fresh)
{
	json_t *have = NULL, *want = json_array();
	/* a role CreateRole just made has no policy attached: nothing to list */
	int rc = fresh ? 0 : attached(c, role, &have);
	if (fresh)
		have = json_array();
	if (rc < 0) {
		json_decref(want);
		return rc;
	}
	size_t i;
	json_t *e;
	json_array_foreach(want_list, i, e)
	{
		if (json_string_value(e)) {
			char *arn = policy_arn(c, json_string_value(e));
			json_array_append_new(want, json_string(arn));
			free(arn);
		}
	}
	json_array_foreach(want, i, e)
	{
		if (rc < 0)
			break;
		if (!has(have, json_string_value(e)))
			rc = ax_iam(c, "AttachRolePolicy",
				    json_pack("{s:s, s:s}", "RoleName", role, "PolicyArn", json_string_value(e)), NULL);
	}
	json_array_foreach(have, i, e)
	{
		if (rc < 0)
			break;
		struct role_policy x = {role, json_string_value(e)};
		if (!has(want, x.arn))
			rc = ax_change(c, &policy_detach, &x, json_pack("{s:s, s:s}", "RoleName", role, "PolicyArn", x.arn),
				       NULL);
	}
	json_decref(have);
	json_decref(want);
	return rc;
}

/* The trust policy, naming the service as the client's partition spells it
 * (the attribute keeps the commercial spelling, so a spec means the same
 * in every partition).  EKS Pod Identity also tags the role session with
 * the pod's cluster, namespace and service account, and refuses an
 * association whose role does not allow sts:TagSession as well. */
static char *trust_policy(struct sf_rctx *c, const char *service)
{
	struct sf_aws *a = ax_client(c);
	const char *principal = sf_aws_service_principal(a ? sf_aws_partition_of(a) : "aws", service);
	json_t *act = !strcmp(service, "pods.eks.amazonaws.com") ? json_pack("[s, s]", "sts:AssumeRole", "sts:TagSession")
								 : json_string("sts:AssumeRole");
	json_t *d = json_pack("{s:s, s:[{s:s, s:{s:s}, s:o}]}", "Version", "2012-10-17", "Statement", "Effect", "Allow",
			      "Principal", "Service", principal, "Action", act);
	char *s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return s;
}

/* The principals a trust policy lets assume the role, for the plan:
 * "Allow Service eks.amazonaws.com, Allow AWS arn:aws:iam::1:root". */
static char *principals(const json_t *doc)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t i, k;
	json_t *st, *v;
	json_t *sts = json_object_get(doc, "Statement");
	json_t *one = json_is_object(sts) ? json_pack("[O]", sts) : json_incref(sts);
	json_array_foreach(one, i, st)
	{
		const char *eff = ax_s(st, "Effect") ? ax_s(st, "Effect") : "?";
		const json_t *p = json_object_get(st, "Principal");
		const char *kind;
		json_t *ids;
		if (json_is_string(p)) {
			sf_buf_printf(&b, "%s%s %s", b.len ? ", " : "", eff, json_string_value(p));
			continue;
		}
		json_object_foreach((json_t *)p, kind, ids)
		{
			json_t *l = json_is_array(ids) ? json_incref(ids) : json_pack("[O]", ids);
			json_array_foreach(l, k, v) sf_buf_printf(&b, "%s%s %s %s", b.len ? ", " : "", eff, kind,
								  json_string_value(v) ? json_string_value(v) : "?");
			json_decref(l);
		}
		if (json_object_get(st, "Condition"))
			sf_buf_printf(&b, " (with conditions)");
	}
	json_decref(one);
	return b.len ? sf_buf_detach(&b) : (sf_buf_release(&b), xstrdup("nobody"));
}

/* read: the service if the live trust policy is exactly secfaas's for it,
 * else the principals it allows (owned). */
static char *trust_read(struct sf_rctx *c, const char *service, const char *encoded)
{
	char *doc = ax_url_decode(encoded ? encoded : "");
	char *mine = trust_policy(c, service ? service : "");
	json_t *live = json_loads(doc, 0, NULL), *want = json_loads(mine, 0, NULL);
	char *r = live && want && json_equal(live, want) ? xstrdup(service) : NULL;
	if (!r) {
		char *who = live ? principals(live) : xstrdup("an unreadable document");
		r = xasprintf("trust policy: %s", who);
		free(who);
	}
	json_decref(live);
	json_decref(want);
	free(doc);
	free(mine);
	return r;
}

static int inline_policies(struct sf_rctx *c, const char *role, json_t **names)
{
	return role_list(c, role, "ListRolePolicies", "PolicyNames", names);
}

/* IAM's limits on inline policies: a name of 1..128 characters of
 * [A-Za-z0-9+=,.@_-], and at most 10,240 characters for all of a role's
 * inline policies together (IAM counts them without white space, as the
 * compact JSON secfaas sends). */
#define INLINE_NAME_MAX 128
#define INLINE_TOTAL_MAX 10240

static int policy_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (!len || len > INLINE_NAME_MAX)
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("+=,.@_-", *p)))
			return 0;
	return 1;
}

/* The document as IAM receives it: compact JSON (owned). */
static char *policy_text(const json_t *doc)
{
	return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
}

static int role_validate(const json_t *want, struct sf_err *err)
{
	if (json_array_size(json_object_get(want, "unmanaged_inline_policies")))
		return sf_fail(err, SF_EINVAL, "unmanaged_inline_policies is read from the live role, never set");
	const json_t *inl = json_object_get(want, "inline_policies");
	if (!inl)
		return 0;
	if (!json_is_object(inl))
		return sf_fail(err, SF_EINVAL, "inline_policies must map policy names to policy documents");
	const char *k;
	json_t *v;
	size_t total = 0;
	json_object_foreach((json_t *)inl, k, v)
	{
		if (!policy_name_ok(k))
			return sf_fail(err, SF_EINVAL,
				       "inline_policies: \"%s\" is not an IAM policy name (1-128 of A-Z a-z 0-9 +=,.@_-)", k);
		if (!json_is_object(v) || !json_is_array(json_object_get(v, "Statement")))
			return sf_fail(err, SF_EINVAL, "inline_policies.%s: a policy document needs a Statement list", k);
		char *t = policy_text(v);
		total += strlen(t);
		free(t);
	}
	if (total > INLINE_TOTAL_MAX)
		return sf_fail(err, SF_EINVAL, "inline_policies: %zu characters together, IAM allows a role %d", total,
			       INLINE_TOTAL_MAX);
	return 0;
}

/* Write every inline policy of `want` whose document differs from the one
 * in `have` (NULL: none there).  PutRolePolicy replaces a policy of the
 * same name, so a retry after a lost reply is harmless. */
static int put_inline(struct sf_rctx *c, const char *role, const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)want, k, v)
	{
		if (json_equal(v, json_object_get(have, k)))
			continue;
		char *t = policy_text(v);
		int rc = ax_iam(c, "PutRolePolicy",
				json_pack("{s:s, s:s, s:s}", "RoleName", role, "PolicyName", k, "PolicyDocument", t), NULL);
		free(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Delete one inline policy; one already gone counts as deleted. */
static int delete_inline(struct sf_rctx *c, const char *role, const char *name)
{
	int rc = ax_iam(c, "DeleteRolePolicy", json_pack("{s:s, s:s}", "RoleName", role, "PolicyName", name), NULL);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

/* A policy document as IAM answers it (URL-encoded) parsed, or the text
 * when it is not JSON (new). */
static json_t *policy_doc(const char *encoded)
{
	char *doc = ax_url_decode(encoded ? encoded : "");
	json_t *d = json_loads(doc, 0, NULL);
	if (!d)
		d = json_string(doc);
	free(doc);
	return d;
}

/* The live documents of the inline policies `names` (an object; those
 * missing on the role are left out) into *docs (new). */
static int inline_docs(struct sf_rctx *c, const char *role, const json_t *names, json_t **docs)
{
	*docs = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)names, k, v)
	{
		json_t *o = NULL;
		int rc = ax_iam(c, "GetRolePolicy", json_pack("{s:s, s:s}", "RoleName", role, "PolicyName", k), &o);
		if (rc == SF_ENOTFOUND) {
			sf_err_clear(c->err);
			continue;
		}
		if (rc < 0) {
			json_decref(*docs);
			*docs = NULL;
			return rc;
		}
		json_object_set_new(*docs, k, policy_doc(ax_s(o, "PolicyDocument")));
		json_decref(o);
	}
	return 0;
}

static const struct sf_own own;

static int role_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	const char *name = ax_s(a_, "name");
	*id = name ? xstrdup(name) : NULL;
	*tags = NULL;
	if (name && !ax_name_listed(c, &ax_names_iam_roles, name))
		return sf_fail(c->err, SF_ENOTFOUND, "%s: IAM role %s does not exist", c->address, name);
	/* a delete started with others: the listing read for them all
	 * (aws_batch.h) holds every tag, and the profiles for role_destroy */
	json_t *d = NULL;
	int rc = c->keep_marked && name ? ax_iam_role_delete_answer(c, name, &d) : 1;
	if (rc <= 0) {
		if (!rc) {
			*tags = ax_tags_from_list(json_object_get(d, "Tags"));
			c->marked = d;
		}
		return rc;
	}
	return ax_iam_marks(c, "ListRoleTags", "RoleName", name, tags);
}

static int role_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	return ax_iam_claim(c, "TagRole", "RoleName", ax_s(a_, "name"), tags);
}

static int role_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *name = ax_s(want, "name");
	char *doc = trust_policy(c, ax_s(want, "service"));
	json_t *tags = ax_tags(c, want, 1), *o = NULL;
	/* A taken name or a lost reply: the role is adopted only when its
	 * tags prove it is this state's (ax_iam_find). */
	const struct ax_iam_name n = {&own, "ListRoleTags", "RoleName", name};
	const struct ax_create_def make = {"iam", "CreateRole", "RoleName", NULL, NULL, ax_iam_find, &n,
					   "EntityAlreadyExists"};
	char *id = NULL;
	int rc = ax_create(c, &make,
			   json_pack("{s:s, s:s, s:s, s:o}", "RoleName", name, "AssumeRolePolicyDocument", doc,
				     "Description", "managed by secfaas", "Tags", ax_tag_list(tags)),
			   &o, &id);
	json_decref(tags);
	free(doc);
	free(id);
	int fresh = !rc && o; /* CreateRole answered: made now, not found by the lookup */
	if (!rc && !o)
		rc = ax_iam(c, "GetRole", json_pack("{s:s}", "RoleName", name), &o);
	if (rc < 0)
		return rc;
	char *arn = xstrdup(ax_s(json_object_get(o, "Role"), "Arn"));
	json_decref(o);
	if (c->record_id)
		c->record_id(c, name);
	json_t *empty = json_array();
	const json_t *pl = json_object_get(want, "policy_arns");
	rc = sync_policies(c, name, pl ? pl : empty, fresh);
	json_decref(empty);
	if (!rc)
		rc = put_inline(c, name, json_object_get(want, "inline_policies"), NULL);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "arn", json_string(arn ? arn : ""));
		json_object_set_new(*out, "id", json_string(name));
	}
	free(arn);
	return rc;
}

/* policy_arns as read: the recorded list in its own spelling when the
 * live attachments are the same set, else the recorded ones still attached
 * followed by every live ARN (new array). */
static json_t *attached_read(struct sf_rctx *c, const json_t *recorded, const json_t *have)
{
	json_t *l = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(recorded, i, e)
	{
		char *arn = policy_arn(c, json_string_value(e) ? json_string_value(e) : "");
		if (has(have, arn))
			json_array_append(l, e);
		free(arn);
	}
	if (json_array_size(l) != json_array_size(have))
		json_array_extend(l, (json_t *)have);
	return l;
}

/* The role as read (new): `role` is GetRole's Role or the account
 * listing's RoleDetail (both carry the trust policy and every tag), `inl`
 * the names of its inline policies, `docs` the live documents of those the
 * prior names (NULL when it names none), `have` its attached ARNs. */
static json_t *role_live(struct sf_rctx *c, const json_t *prior, const json_t *role, const json_t *inl, json_t *docs,
			 const json_t *have)
{
	json_t *out = json_deep_copy(prior);
	/* A role carries at most 50 tags and both answers hold them all: a
	 * refresh proves ownership from this answer, not a ListRoleTags more. */
	if (c->refreshing)
		c->own_tags = ax_tags_from_list(json_object_get(role, "Tags"));
	char *svc = trust_read(c, ax_s(prior, "service"), ax_s(role, "AssumeRolePolicyDocument"));
	json_object_set_new(out, "service", json_string(svc));
	free(svc);
	if (json_object_get(prior, "tags")) {
		json_t *t = ax_tags_from_list(json_object_get(role, "Tags"));
		json_object_set_new(out, "tags", ax_user_tags(t));
		json_decref(t);
	}
	const json_t *mine = json_object_get(prior, "inline_policies");
	json_t *others = json_array(), *none = json_array();
	size_t j;
	json_t *n;
	json_array_foreach(inl, j, n) if (json_string_value(n) && !json_object_get(mine, json_string_value(n)))
		json_array_append(others, n);
	ax_read_attr(out, prior, "unmanaged_inline_policies", others, none);
	json_decref(others);
	if (mine)
		json_object_set(out, "inline_policies", docs);
	/* Every role's attachments are read, also of one whose spec names no
	 * managed policy: AdministratorAccess attached by hand to it is drift
	 * like any other, and apply detaches it. */
	json_t *l = attached_read(c, json_object_get(prior, "policy_arns"), have);
	ax_read_attr(out, prior, "policy_arns", l, none);
	json_decref(l);
	json_decref(none);
	return out;
}

/* role_live from the account listing's entry: no call. */
static json_t *role_from_detail(struct sf_rctx *c, const json_t *prior, const json_t *d)
{
	const json_t *mine = json_object_get(prior, "inline_policies");
	json_t *inl = json_array(), *docs = json_object(), *have = json_array();
	json_t *pl = sf_json_list(d, "RolePolicyList"), *am = sf_json_list(d, "AttachedManagedPolicies");
	size_t i;
	json_t *e;
	json_array_foreach(pl, i, e)
	{
		const char *k = ax_s(e, "PolicyName");
		if (!k)
			continue;
		json_array_append_new(inl, json_string(k));
		if (json_object_get(mine, k))
			json_object_set_new(docs, k, policy_doc(ax_s(e, "PolicyDocument")));
	}
	json_array_foreach(am, i, e) if (ax_s(e, "PolicyArn")) json_array_append_new(have, json_string(ax_s(e, "PolicyArn")));
	json_t *out = role_live(c, prior, d, inl, docs, have);
	json_decref(pl);
	json_decref(am);
	json_decref(inl);
	json_decref(docs);
	json_decref(have);
	return out;
}

static int role_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	const char *name = ax_s(prior, "name");
	*out = NULL;
	/* a refresh of many roles has them all from one listing
	 * (resources/aws_batch.h) */
	json_t *d = NULL;
	int rc = ax_iam_role_answer(c, name, &d);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		*out = role_from_detail(c, prior, d);
		json_decref(d);
		return 0;
	}
	json_t *o = NULL, *inl = NULL, *docs = NULL, *have = NULL;
	const json_t *mine = json_object_get(prior, "inline_policies");
	rc = ax_iam(c, "GetRole", json_pack("{s:s}", "RoleName", name), &o);
	if (rc >= 0)
		rc = inline_policies(c, name, &inl);
	if (rc >= 0 && mine)
		rc = inline_docs(c, name, mine, &docs);
	if (rc >= 0)
		rc = attached(c, name, &have);
	if (rc >= 0)
		*out = role_live(c, prior, json_object_get(o, "Role"), inl, docs, have);
	json_decref(o);
	json_decref(inl);
	json_decref(docs);
	json_decref(have);
	return rc < 0 ? rc : 0;
}

static int role_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_iam_role_batch(c, priors, n);
}

static int role_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *name = ax_s(prior, "name");
	json_t *empty = json_array();
	const json_t *pl = json_object_get(want, "policy_arns");
	int rc = 0;
	if (ax_changed(prior, want, "service")) {
		char *doc = trust_policy(c, ax_s(want, "service"));
		rc = ax_iam(c, "UpdateAssumeRolePolicy", json_pack("{s:s, s:s}", "RoleName", name, "PolicyDocument", doc),
			    NULL);
		free(doc);
	}
	size_t i;
	json_t *e;
	const json_t *want_inl = json_object_get(want, "inline_policies");
	json_array_foreach(json_object_get(prior, "unmanaged_inline_policies"), i, e)
	{
		if (rc < 0 || !json_string_value(e))
			break;
		if (!json_object_get(want_inl, json_string_value(e)))
			rc = delete_inline(c, name, json_string_value(e));
	}
	const char *k0;
	json_t *v0;
	json_object_foreach(json_object_get(prior, "inline_policies"), k0, v0)
	{
		if (rc < 0)
			break;
		if (!json_object_get(want_inl, k0))
			rc = delete_inline(c, name, k0);
	}
	if (!rc)
		rc = put_inline(c, name, want_inl, json_object_get(prior, "inline_policies"));
	if (!rc)
		rc = sync_policies(c, name, pl ? pl : empty, 0);
	json_decref(empty);
	if (!rc && !json_equal(json_object_get(prior, "tags"), json_object_get(want, "tags")) &&
	    json_object_size(json_object_get(want, "tags")))
		rc = ax_iam(c, "TagRole",
			    json_pack("{s:s, s:o}", "RoleName", name, "Tags", ax_tag_list(json_object_get(want, "tags"))),
			    NULL);
	json_t *gone = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(prior, "tags"), k, v) if (!json_object_get(json_object_get(want, "tags"), k))
		json_array_append_new(gone, json_string(k));
	if (!rc && json_array_size(gone))
		rc = ax_iam(c, "UntagRole", json_pack("{s:s, s:O}", "RoleName", name, "TagKeys", gone), NULL);
	json_decref(gone);
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	json_object_set(*out, "arn", json_object_get(prior, "arn"));
	json_object_set(*out, "id", json_object_get(prior, "id"));
	return 0;
}

static int role_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *name = ax_s(prior, "name");
	if (!name)
		return 0;
	/* every page: a profile left off the first one would keep the role
	 * (DeleteConflict) and never be checked for its owner.  The account
	 * listing its proof came from (role_marks) names them all. */
	json_t *o = NULL;
	int rc = 0;
	if (c->marked && ax_s(c->marked, "RoleName"))
		o = sf_json_list(c->marked, "InstanceProfileList");
	else
		rc = role_list(c, name, "ListInstanceProfilesForRole", "InstanceProfiles", &o);
	size_t i;
	json_t *e;
	/* first make sure every profile holding it is ours: nothing is
	 * detached from a role that cannot be deleted in the end */
	json_array_foreach(o, i, e)
	{
		const char *ip = ax_s(e, "InstanceProfileName");
		json_t *t = NULL;
		if (rc < 0 || !ip)
			break;
		rc = ax_iam_marks(c, "ListInstanceProfileTags", "InstanceProfileName", ip, &t);
		if (!rc && strcmp(ax_s(t, SF_TAG_LINEAGE) ? ax_s(t, SF_TAG_LINEAGE) : "", ax_lineage(c))) {
			char *who = sf_own_owner(t);
			rc = sf_fail(c->err, SF_ECONFLICT,
				     "%s: IAM role %s is in instance profile %s, which belongs to %s; secfaas does not change it",
				     c->address, name, ip, who);
			sf_err_hint(c->err, "remove the role from that profile (aws iam remove-role-from-instance-profile) and run destroy again");
			free(who);
		}
		json_decref(t);
	}
	/* What the state recorded goes without listing first: IAM refuses to
	 * delete a role that still has a policy attached or inline
	 * (DeleteConflict), so one attached or put outside secfaas shows up
	 * there, and only then are both listed and removed */
	json_array_foreach(json_object_get(prior, "policy_arns"), i, e)
	{
		if (rc < 0)
			break;
		if (!json_string_value(e))
			continue;
		struct role_policy x = {name, policy_arn(c, json_string_value(e))};
		rc = ax_change(c, &policy_detach, &x, json_pack("{s:s, s:s}", "RoleName", name, "PolicyArn", x.arn), NULL);
		free((char *)x.arn);
	}
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(prior, "inline_policies"), k, v)
	{
		if (rc < 0)
			break;
		rc = delete_inline(c, name, k);
	}
	json_array_foreach(o, i, e)
	{
		if (rc < 0)
			break;
		struct role_policy x = {name, ax_s(e, "InstanceProfileName")};
		rc = ax_change(c, &profile_remove, &x,
			       json_pack("{s:s, s:s}", "RoleName", name, "InstanceProfileName", x.arn), NULL);
	}
	json_decref(o);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	if (rc < 0) /* a profile someone else owns stops it here, before DeleteRole: not a DeleteConflict */
		return rc;
	rc = ax_iam(c, "DeleteRole", json_pack("{s:s}", "RoleName", name), NULL);
	if (rc == SF_ECONFLICT) {
		sf_err_clear(c->err);
		json_t *empty = json_array();
		rc = sync_policies(c, name, empty, 0);
		json_decref(empty);
		json_t *inl = NULL;
		if (!rc)
			rc = inline_policies(c, name, &inl);
		json_array_foreach(inl, i, e)
		{
			if (rc < 0)
				break;
			if (json_string_value(e))
				rc = delete_inline(c, name, json_string_value(e));
		}
		json_decref(inl);
		if (!rc)
			rc = ax_iam(c, "DeleteRole", json_pack("{s:s}", "RoleName", name), NULL);
	}
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

/* ---- gc sweep ---- */

static int role_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_iam(s, h, "ListRoles", "Roles", "RoleName", "ListRoleTags");
}

static const struct sf_sweep_hook role_sweep = {"iam role", SF_SWEEP_ROLE, role_sweep_list, NULL, NULL};
static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "IAM role",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the role; its policy attachments, "
		 "inline policies and instance profile memberships go with it, and only profiles of this state are changed",
	.marks = role_marks,
	.claim = role_claim,
};

const struct sf_rtype sf_rt_aws_iam_role = {
	.own = &own,
	.name = "aws_iam_role",
	.schema_version = 1,
	.typical = {.create = {5, 15}},
	.attrs = attrs,
	.create = role_create,
	.read = role_read,
	.read_batch = role_batch,
	.delete_batch = ax_iam_role_delete_batch,
	.update = role_update,
	.validate = role_validate,
	.destroy = role_destroy,
	.sweep = &role_sweep,
};
