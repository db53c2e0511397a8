/*
 * aws_iam_instance_profile.c - aws_iam_instance_profile: an instance
 * profile holding one role (the AMI builder's).  Ownership as aws_iam_role
 * (SF_OWN_TAGS): an existing profile of that name is adopted only when its
 * tags prove it is this state's; its role membership belongs to the
 * profile.
 *
 * Drift: the role it holds is read; a role removed or swapped out of band
 * is put back in place (instances launched with the profile get the role
 * the spec names, not someone else's).
 */
#include <string.h>

#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "profile name"},
	{"role", SF_AT_STRING, SF_ATTR_REQUIRED, "role name it carries (put back in place when changed)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "tags (ownership tags are added)"},
	{"arn", SF_AT_STRING, SF_ATTR_COMPUTED, "profile ARN"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "profile name"},
	{NULL, 0, 0, NULL},
};

struct profile_role {
	const char *profile, *role;
	int member; /* the state that counts as done */
};

/* ax_change's check: is the role in the profile (or out of it)? */
static int member_done(struct sf_rctx *c, const void *ctx)
{
	const struct profile_role *x = ctx;
	json_t *o = NULL;
	int rc = ax_iam(c, "GetInstanceProfile", json_pack("{s:s}", "InstanceProfileName", x->profile), &o);
	if (rc == SF_ENOTFOUND && !x->member) {
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
	return in == x->member;
}

static const struct ax_change_def role_add = {"iam", "AddRoleToInstanceProfile", member_done,
					      "adding the role to the instance profile"};
static const struct ax_change_def role_remove = {"iam", "RemoveRoleFromInstanceProfile", member_done,
						 "removing the role from the instance profile"};
static const struct sf_own own;

/* GetInstanceProfile, not ListInstanceProfileTags: a profile carries at
 * most 50 tags and its answer holds them all (as ip_read relies on), and
 * also the roles ip_destroy takes out before deleting it, so before a
 * delete (c->keep_marked) the profile is kept for it in c->marked. */
static int ip_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	const char *name = ax_s(a_, "name");
	*id = name ? xstrdup(name) : NULL;
	*tags = NULL;
	if (!name || !*name)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no name", c->address);
	if (!ax_name_listed(c, &ax_names_iam_profiles, name))
		return sf_fail(c->err, SF_ENOTFOUND, "%s: IAM instance profile %s does not exist", c->address, name);
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	json_t *p = json_pack("{s:s}", "InstanceProfileName", name), *o = NULL;
	int rc = sf_aws_query(a, "iam", "GetInstanceProfile", p, &o, c->err);
	json_decref(p);
	if (rc < 0)
		return rc;
	json_t *ip = json_object_get(o, "InstanceProfile");
	*tags = ax_tags_from_list(json_object_get(ip, "Tags"));
	if (c->keep_marked && ip)
		c->marked = json_incref(ip);
	json_decref(o);
	return 0;
}

static int ip_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	return ax_iam_claim(c, "TagInstanceProfile", "InstanceProfileName", ax_s(a_, "name"), tags);
}

static int ip_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *name = ax_s(want, "name"), *role = ax_s(want, "role");
	json_t *tags = ax_tags(c, want, 1), *o = NULL;
	/* A taken name or a lost reply: the profile is adopted only when its
	 * tags prove it is this state's (ax_iam_find). */
	const struct ax_iam_name n = {&own, "ListInstanceProfileTags", "InstanceProfileName", name};
	const struct ax_create_def make = {"iam", "CreateInstanceProfile", "InstanceProfileName", NULL, NULL,
					   ax_iam_find, &n, "EntityAlreadyExists"};
	char *id = NULL;
	int rc = ax_create(c, &make, json_pack("{s:s, s:o}", "InstanceProfileName", name, "Tags", ax_tag_list(tags)),
			   &o, &id);
	json_decref(tags);
	free(id);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, name);
	/* The create's reply is the new profile (its ARN, no role yet); only
	 * one found by the lookup (a lost reply, a resumed create, an adopted
	 * name) is read, since its role may be in place already. */
	if (!json_object_get(o, "InstanceProfile")) {
		json_decref(o);
		o = NULL;
		rc = ax_iam(c, "GetInstanceProfile", json_pack("{s:s}", "InstanceProfileName", name), &o);
		if (rc < 0)
			return rc;
	}
	json_t *ip = json_object_get(o, "InstanceProfile");
	int has_role = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(ip, "Roles"), i, r) if (ax_s(r, "RoleName") && !strcmp(ax_s(r, "RoleName"), role))
		has_role = 1;
	char *arn = xstrdup(ax_s(ip, "Arn"));
	json_decref(o);
	struct profile_role x = {name, role, 1};
	if (!has_role)
		rc = ax_change(c, &role_add, &x, json_pack("{s:s, s:s}", "InstanceProfileName", name, "RoleName", role),
			       NULL);
	if (!rc) {
		*out = ax_out(want);
		json_object_set_new(*out, "arn", json_string(arn ? arn : ""));
		json_object_set_new(*out, "id", json_string(name));
	}
	free(arn);
	return rc;
}

static int ip_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *o = NULL;
	int rc = ax_iam(c, "GetInstanceProfile", json_pack("{s:s}", "InstanceProfileName", ax_s(prior, "name")), &o);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	/* an instance profile carries at most 50 tags and GetInstanceProfile
	 * returns them all: a refresh proves ownership from this answer */
	if (c->refreshing)
		c->own_tags = ax_tags_from_list(json_object_get(json_object_get(o, "InstanceProfile"), "Tags"));
	json_t *r = json_array_get(json_object_get(json_object_get(o, "InstanceProfile"), "Roles"), 0);
	json_object_set_new(*out, "role", json_string(ax_s(r, "RoleName") ? ax_s(r, "RoleName") : ""));
	json_decref(o);
	return 0;
}

static int ip_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *name = ax_s(prior, "name"), *role = ax_s(want, "role");
	json_t *o = NULL;
	int rc = ax_iam(c, "GetInstanceProfile", json_pack("{s:s}", "InstanceProfileName", name), &o);
	int has = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "InstanceProfile"), "Roles"), i, r)
	{
		const char *rn = ax_s(r, "RoleName");
		if (rc < 0 || !rn)
			break;
		if (role && !strcmp(rn, role)) {
			has = 1;
			continue;
		}
		struct profile_role x = {name, rn, 0};
		rc = ax_change(c, &role_remove, &x, json_pack("{s:s, s:s}", "InstanceProfileName", name, "RoleName", rn),
			       NULL);
	}
	json_decref(o);
	if (!rc && !has && role) {
		struct profile_role x = {name, role, 1};
		rc = ax_change(c, &role_add, &x, json_pack("{s:s, s:s}", "InstanceProfileName", name, "RoleName", role),
			       NULL);
	}
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	json_object_set(*out, "arn", json_object_get(prior, "arn"));
	json_object_set(*out, "id", json_object_get(prior, "id"));
	return 0;
}

static int ip_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *name = ax_s(prior, "name");
	/* the profile the engine's ownership proof just read (ip_marks), or
	 * read here when there is none */
	json_t *o = c->marked ? json_pack("{s:O}", "InstanceProfile", c->marked) : NULL;
	int rc = o ? 0 : ax_iam(c, "GetInstanceProfile", json_pack("{s:s}", "InstanceProfileName", name), &o);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(o, "InstanceProfile"), "Roles"), i, r)
	{
		if (rc < 0)
			break;
		struct profile_role x = {name, ax_s(r, "RoleName"), 0};
		rc = ax_change(c, &role_remove, &x,
			       json_pack("{s:s, s:s}", "InstanceProfileName", name, "RoleName", x.role), NULL);
	}
	json_decref(o);
	if (!rc)
		rc = ax_iam(c, "DeleteInstanceProfile", json_pack("{s:s}", "InstanceProfileName", name), NULL);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

/* ---- gc sweep ---- */

static int ip_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_iam(s, h, "ListInstanceProfiles", "InstanceProfiles", "InstanceProfileName", "ListInstanceProfileTags");
}

static const struct sf_sweep_hook ip_sweep = {"instance profile", SF_SWEEP_INSTANCE_PROFILE, ip_sweep_list, NULL, NULL};
static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "IAM instance profile",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the profile; the role it holds "
		 "is a membership of the profile",
	.marks = ip_marks,
	.claim = ip_claim,
};

const struct sf_rtype sf_rt_aws_iam_instance_profile = {
	.own = &own,
	.name = "aws_iam_instance_profile",
	.schema_version = 1,
	.typical = {.create = {5, 15}},
	.attrs = attrs,
	.create = ip_create,
	.read = ip_read,
	.update = ip_update,
	.destroy = ip_destroy,
	.sweep = &ip_sweep,
};
