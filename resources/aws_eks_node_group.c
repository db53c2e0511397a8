/*
 * aws_eks_node_group.c - eks_nodegroup: an EKS managed node group.
 *
 * In place (UpdateNodegroupConfig): scaling, labels, taints, update
 * config; (UpdateNodegroupVersion): the launch template version, or for
 * groups on an EKS AMI type the Kubernetes version and AMI release, which
 * roll the nodes (updateConfig's batch size); tags.
 *
 * desired_size follows the Terraform EKS module: it is sent at create and
 * when the spec changes it, and otherwise belongs to whoever scales the
 * group (the cluster autoscaler): read keeps the last value secfaas set, so
 * a size the autoscaler chose is not drift, and a change of min/max sends
 * the live desired size, clamped into the new range.
 *
 * Version updates are resumable: a run killed while one rolls finds the
 * group UPDATING; the next waits for it to finish and asks the group what
 * it runs before asking for another update (EKS refuses one that changes
 * nothing).  Everything else forces a replacement, done
 * create-before-destroy: the real node group name is
 * <name>-<suffix of the create token>, so the new group never collides
 * with the old one and a resumed create (same token) finds its own.
 * CreateNodegroup carries clientRequestToken as well.
 *
 * Every group has a launch template (launch_template_id): it carries the
 * instance metadata options (IMDSv2 required, the hop limit) and the root
 * volume, so diskSize is never sent.  gVisor groups: the template also has
 * the custom AMI and user data with the NodeConfig (amiType stays unset,
 * EKS calls it CUSTOM); runc groups: ami_type names the stock EKS AL2023
 * AMI and EKS adds its own bootstrap.  Without a template (ami_type and
 * disk_size only) the group gets EKS's default template, whose hop limit
 * is 2.  The
 * launch_template_image_id and launch_template_user_data attributes are
 * not sent anywhere: they are references to the AMI and the template's
 * user data, so that a change to either shows in the plan as an in-place
 * change of this group (the rolling update) in the same apply.
 *
 * Ownership (SF_OWN_TAGS): a node group is named within its cluster, so a
 * create that meets ResourceInUse adopts it only when its tags prove it is
 * this state's, and the engine checks them before every update and delete.
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"cluster_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EKS cluster"},
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "node group name prefix"},
	{"node_role_arn", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "node IAM role"},
	{"subnet_ids", SF_AT_LIST, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "subnets for the nodes"},
	{"instance_types", SF_AT_LIST, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EC2 instance types"},
	{"capacity_type", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "ON_DEMAND or SPOT"},
	{"ami_type", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "EKS AMI type (stock AMI; unset with a custom AMI in the template)"},
	{"disk_size", SF_AT_INT, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "root GiB (groups without a template only)"},
	{"min_size", SF_AT_INT, SF_ATTR_REQUIRED, "minimum nodes"},
	{"max_size", SF_AT_INT, SF_ATTR_REQUIRED, "maximum nodes"},
	{"desired_size", SF_AT_INT, SF_ATTR_REQUIRED, "desired nodes (sent at create and when the spec changes it)"},
	{"labels", SF_AT_MAP, SF_ATTR_OPTIONAL, "Kubernetes labels"},
	{"taints", SF_AT_LIST, SF_ATTR_OPTIONAL, "Kubernetes taints [{key,value,effect}]"},
	{"update_config", SF_AT_MAP, SF_ATTR_OPTIONAL, "{maxUnavailable} or {maxUnavailablePercentage}"},
	{"launch_template_id", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "launch template (metadata options, root volume; gVisor groups: AMI, user data)"},
	{"launch_template_version", SF_AT_STRING, SF_ATTR_OPTIONAL, "template version; a change rolls the nodes"},
	{"launch_template_image_id", SF_AT_STRING, SF_ATTR_OPTIONAL, "AMI in the template (change trigger)"},
	{"launch_template_user_data", SF_AT_STRING, SF_ATTR_OPTIONAL, "user data in the template (change trigger)"},
	{"version", SF_AT_STRING, SF_ATTR_OPTIONAL, "Kubernetes version (stock-AMI groups; default the cluster's)"},
	{"release_version", SF_AT_STRING, SF_ATTR_OPTIONAL, "EKS AMI release (groups without a template; default newest)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "cluster/nodegroup"},
	{"nodegroup_name", SF_AT_STRING, SF_ATTR_COMPUTED, "actual node group name"},
	{"arn", SF_AT_STRING, SF_ATTR_COMPUTED, "node group ARN"},
	{NULL, 0, 0, NULL},
};

static const char *effect_api(const char *e)
{
	if (!e)
		return "NO_SCHEDULE";
	if (!strcmp(e, "NoExecute"))
		return "NO_EXECUTE";
	if (!strcmp(e, "PreferNoSchedule"))
		return "PREFER_NO_SCHEDULE";
	return "NO_SCHEDULE";
}

static const char *effect_k8s(const char *e)
{
	if (e && !strcmp(e, "NO_EXECUTE"))
		return "NoExecute";
	if (e && !strcmp(e, "PREFER_NO_SCHEDULE"))
		return "PreferNoSchedule";
	return "NoSchedule";
}

static json_t *taints_api(const json_t *l)
{
	json_t *a = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(l, i, t)
	{
		json_t *x = json_pack("{s:s, s:s}", "key", ax_s(t, "key") ? ax_s(t, "key") : "", "effect",
				      effect_api(ax_s(t, "effect")));
		if (ax_s(t, "value") && *ax_s(t, "value"))
			json_object_set_new(x, "value", json_string(ax_s(t, "value")));
		json_array_append_new(a, x);
	}
	return a;
}

static char *ngpath(const char *cluster, const char *ng, const char *suffix)
{
	char *lc = sf_aws_label(cluster), *ln = ng ? sf_aws_label(ng) : NULL;
	char *p = ng ? xasprintf("/clusters/%s/node-groups/%s%s", lc, ln, suffix ? suffix : "")
		     : xasprintf("/clusters/%s/node-groups", lc);
	free(lc);
	free(ln);
	return p;
}

struct ng {
	const char *cluster, *name;
};

static int describe(struct sf_rctx *c, const struct ng *g, json_t **ng)
{
	char *p = ngpath(g->cluster, g->name, NULL);
	int rc = ax_eks_describe(c, p, "nodegroup", ng);
	free(p);
	return rc;
}

/* Deleting: done when DescribeNodegroup says NotFound, whatever the
 * status until then. */
static const struct sf_waiter_def nodegroup_gone = {
	.name = "eks_nodegroup.gone", .service = "eks", .operation = "DescribeNodegroup",
	.path = "/clusters/{clusterName}/node-groups/{nodegroupName}", .status_path = "nodegroup.status", .delay_s = 30,
	.notfound_success = 1, .typical_lo = 95, .typical_hi = 150,
};

/* Arguments of the node group waiters (new reference). */
static json_t *ng_args(const struct ng *g)
{
	return json_pack("{s:s, s:s}", "clusterName", g->cluster, "nodegroupName", g->name);
}

static json_t *scaling(const json_t *want)
{
	return json_pack("{s:O, s:O, s:O}", "minSize", json_object_get(want, "min_size"), "maxSize",
			 json_object_get(want, "max_size"), "desiredSize", json_object_get(want, "desired_size"));
}

static void fill(json_t *out, const struct ng *g, const json_t *ng)
{
	char *id = xasprintf("%s/%s", g->cluster, g->name);
	json_object_set_new(out, "id", json_string(id));
	json_object_set_new(out, "nodegroup_name", json_string(g->name));
	json_object_set_new(out, "arn", json_string(ax_s(ng, "nodegroupArn") ? ax_s(ng, "nodegroupArn") : ""));
	free(id);
}

static const struct sf_own own;

/* The node group name of attrs: recorded, or (a create that never
 * returned) derived from the operation token.  Owned, or NULL. */
static char *ng_name(struct sf_rctx *c, const json_t *a_)
{
	if (ax_s(a_, "nodegroup_name"))
		return xstrdup(ax_s(a_, "nodegroup_name"));
	if (!c->token || !ax_s(a_, "name"))
		return NULL;
	char sfx[9];
	ax_token_suffix(c, sfx);
	return xasprintf("%s-%s", ax_s(a_, "name"), sfx);
}

static int ng_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	char *name = ng_name(c, a_);
	*tags = NULL;
	*id = NULL;
	if (!name || !ax_s(a_, "cluster_name")) {
		free(name);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no node group name yet", c->address);
	}
	*id = xasprintf("%s/%s", ax_s(a_, "cluster_name"), name);
	char *p = ngpath(ax_s(a_, "cluster_name"), name, NULL);
	int rc = ax_eks_marks(c, p, "nodegroup", "nodegroupArn", tags, NULL, NULL);
	free(p);
	free(name);
	return rc;
}

static int ng_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	char *name = ng_name(c, a_), *arn = NULL;
	json_t *t = NULL;
	char *p = ngpath(ax_s(a_, "cluster_name"), name ? name : "", NULL);
	int rc = ax_eks_marks(c, p, "nodegroup", "nodegroupArn", &t, &arn, NULL);
	if (!rc)
		rc = ax_eks_claim(c, arn, tags);
	free(p);
	free(name);
	free(arn);
	json_decref(t);
	return rc;
}

static int ng_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char sfx[9];
	ax_token_suffix(c, sfx);
	char *name = xasprintf("%s-%s", ax_s(want, "name"), sfx);
	struct ng g = {ax_s(want, "cluster_name"), name};
	json_t *tags = ax_tags(c, want, 1);
	json_t *body = json_pack("{s:s, s:o, s:O, s:O, s:s, s:s, s:o, s:s}", "nodegroupName", name, "scalingConfig",
				 scaling(want), "subnets", json_object_get(want, "subnet_ids"), "instanceTypes",
				 json_object_get(want, "instance_types"), "nodeRole", ax_s(want, "node_role_arn"),
				 "capacityType", ax_s(want, "capacity_type") ? ax_s(want, "capacity_type") : "ON_DEMAND",
				 "tags", tags, "clientRequestToken", c->token ? c->token : name);
	if (json_object_size(json_object_get(want, "labels")))
		json_object_set(body, "labels", json_object_get(want, "labels"));
	if (json_array_size(json_object_get(want, "taints")))
		json_object_set_new(body, "taints", taints_api(json_object_get(want, "taints")));
	if (json_object_size(json_object_get(want, "update_config")))
		json_object_set(body, "updateConfig", json_object_get(want, "update_config"));
	if (ax_s(want, "launch_template_id")) {
		json_object_set_new(body, "launchTemplate",
				    json_pack("{s:s, s:s}", "id", ax_s(want, "launch_template_id"), "version",
					      ax_s(want, "launch_template_version") ? ax_s(want, "launch_template_version")
										    : "$Default"));
	} else if (json_integer_value(json_object_get(want, "disk_size"))) {
		json_object_set(body, "diskSize", json_object_get(want, "disk_size"));
	}
	if (ax_s(want, "ami_type"))
		json_object_set_new(body, "amiType", json_string(ax_s(want, "ami_type")));
	/* stock AMI (a template without an image allows them) */
	if (ax_s(want, "version"))
		json_object_set_new(body, "version", json_string(ax_s(want, "version")));
	if (ax_s(want, "release_version"))
		json_object_set_new(body, "releaseVersion", json_string(ax_s(want, "release_version")));
	/* the name carries our token suffix; still, a taken name or a lost
	 * reply is adopted only on proof (the one create path) */
	char *p = ngpath(g.cluster, NULL, NULL), *made = NULL;
	struct ax_own_name n = {&own, want};
	struct ax_create_def d = {.service = "eks", .op = "CreateNodegroup", .id_key = "nodegroupName",
				  .find = ax_own_find, .find_ctx = &n, .exists = "ResourceInUseException"};
	json_t *made_reply = NULL;
	int rc = ax_create_at(c, &d, p, body, &made_reply, &made);
	free(made);
	free(p);
	if (!rc && c->record_id) {
		char *id = xasprintf("%s/%s", g.cluster, name);
		c->record_id(c, id);
		free(id);
	}
	/* the reply that says ACTIVE is the group as it is: no read after it;
	 * a group this call began is not asked at once.  The groups of a
	 * cluster made alongside share one poll loop (ax_wait_siblings, as its
	 * add-ons do): one is polled, the others are read once when it is
	 * done.  What waits for them on a create waits for all of them (the
	 * Kubernetes objects, coredns's way to ACTIVE), so a group seen no
	 * earlier than the one polled is never seen later than needed. */
	json_t *last = NULL, *ng = NULL;
	if (!rc)
		rc = ax_wait_siblings(c, g.cluster, sf_aws_waiter_find("eks.NodegroupActive"), ng_args(&g), 3600,
				      "node group", made_reply != NULL, &last);
	json_decref(made_reply);
	if (!rc && !(ng = json_incref(json_object_get(last, "nodegroup"))))
		rc = describe(c, &g, &ng);
	json_decref(last);
	if (!rc) {
		*out = ax_out(want);
		fill(*out, &g, ng);
	}
	json_decref(ng);
	free(name);
	return rc;
}

static int ng_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	struct ng g = {ax_s(prior, "cluster_name"), ax_s(prior, "nodegroup_name")};
	if (!g.name)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no node group recorded", c->address);
	json_t *ng = NULL;
	int rc = describe(c, &g, &ng);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_t *sc = json_object_get(ng, "scalingConfig");
	json_object_set(*out, "min_size", json_object_get(sc, "minSize"));
	json_object_set(*out, "max_size", json_object_get(sc, "maxSize"));
	/* desired_size stays what secfaas last set (the autoscaler owns it) */
	if (!json_object_get(prior, "desired_size"))
		json_object_set(*out, "desired_size", json_object_get(sc, "desiredSize"));
	if (ax_s(prior, "ami_type") && ax_s(ng, "version"))
		json_object_set_new(*out, "version", json_string(ax_s(ng, "version")));
	if (ax_s(prior, "release_version") && ax_s(ng, "releaseVersion"))
		json_object_set_new(*out, "release_version", json_string(ax_s(ng, "releaseVersion")));
	json_object_set(*out, "instance_types", json_object_get(ng, "instanceTypes"));
	if (json_object_get(prior, "labels") || json_object_size(json_object_get(ng, "labels")))
		json_object_set_new(*out, "labels",
				    json_is_object(json_object_get(ng, "labels")) ? json_incref(json_object_get(ng, "labels"))
										 : json_object());
	if (json_object_get(prior, "taints") || json_array_size(json_object_get(ng, "taints"))) {
		json_t *l = json_array();
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(ng, "taints"), i, t)
		{
			json_t *x = json_pack("{s:s, s:s}", "key", ax_s(t, "key") ? ax_s(t, "key") : "", "effect",
					      effect_k8s(ax_s(t, "effect")));
			if (ax_s(t, "value"))
				json_object_set_new(x, "value", json_string(ax_s(t, "value")));
			json_array_append_new(l, x);
		}
		/* keep the spec's order when the set is the same */
		if (json_array_size(l) == json_array_size(json_object_get(prior, "taints"))) {
			int same = 1;
			size_t k;
			json_array_foreach(json_object_get(prior, "taints"), i, t)
			{
				int f = 0;
				json_t *y;
				json_array_foreach(l, k, y) if (json_equal(t, y)) f = 1;
				same &= f;
			}
			if (same) {
				json_decref(l);
				l = json_incref(json_object_get(prior, "taints"));
			}
		}
		json_object_set_new(*out, "taints", l);
	}
	const json_t *lt = json_object_get(ng, "launchTemplate");
	if (lt && ax_s(lt, "version") && json_object_get(prior, "launch_template_version"))
		json_object_set(*out, "launch_template_version", json_object_get(lt, "version"));
	if (json_object_get(prior, "tags"))
		json_object_set_new(*out, "tags", ax_user_tags(json_object_get(ng, "tags")));
	json_decref(ng);
	return 0;
}

static int run_update(struct sf_rctx *c, const struct ng *g, const char *suffix, json_t *body, const char *what)
{
	char *p = ngpath(g->cluster, g->name, suffix);
	int rc = ax_eks_update(c, p, g->cluster, g->name, body, what);
	free(p);
	return rc;
}

/* One rolling update to the wanted template version, or Kubernetes
 * version and release, unless the group already runs it (a killed run's
 * update may have finished meanwhile). */
static int version_update(struct sf_rctx *c, const struct ng *g, const json_t *want)
{
	json_t *args = ng_args(g), *last = NULL, *ng = NULL;
	int rc = ax_wait_reply(c, sf_aws_waiter_find("eks.NodegroupActive"), args, 3600, "node group", &last);
	if (!rc && !(ng = json_incref(json_object_get(last, "nodegroup"))))
		rc = describe(c, g, &ng);
	json_decref(last);
	if (rc < 0)
		return rc;
	const char *lt = ax_s(want, "launch_template_id");
	const char *ltv = ax_s(want, "launch_template_version") ? ax_s(want, "launch_template_version") : "$Default";
	const char *v = ax_s(want, "version"), *rv = ax_s(want, "release_version");
	const char *have_v = ax_s(ng, "version"), *have_rv = ax_s(ng, "releaseVersion");
	const char *have_ltv = ax_s(json_object_get(ng, "launchTemplate"), "version");
	/* a stock-AMI group (ami_type) takes a version and a release with
	 * or without its template; a custom AMI only a template version */
	int stock = ax_s(want, "ami_type") != NULL;
	int same_v = !stock || !v || (have_v && !strcmp(have_v, v));
	int same_rv = !stock || !rv || (have_rv && !strcmp(have_rv, rv));
	int same_lt = !lt || (have_ltv && strcmp(ltv, "$Default") && !strcmp(have_ltv, ltv));
	if (same_v && same_rv && same_lt) {
		json_decref(ng);
		return 0;
	}
	json_t *body = json_object();
	char *what;
	if (!same_lt)
		json_object_set_new(body, "launchTemplate", json_pack("{s:s, s:s}", "id", lt, "version", ltv));
	if (!same_v)
		json_object_set_new(body, "version", json_string(v));
	if (!same_rv)
		json_object_set_new(body, "releaseVersion", json_string(rv));
	if (!same_v || !same_rv)
		what = xasprintf("rolling update %s -> Kubernetes %s", have_v ? have_v : "?", v ? v : have_v ? have_v : "?");
	else
		what = xasprintf("rolling update to launch template version %s", ltv);
	json_decref(ng);
	if (c->progress)
		c->progress(c, what);
	char *tok = xasprintf("%s-v", c->token ? c->token : g->name);
	json_object_set_new(body, "clientRequestToken", json_string(tok));
	rc = run_update(c, g, "/update-version", body, what);
	free(tok);
	free(what);
	return rc;
}

static int ng_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	struct ng g = {ax_s(prior, "cluster_name"), ax_s(prior, "nodegroup_name")};
	int rc = 0;
	json_t *body = json_object();
	if (ax_changed(prior, want, "desired_size")) {
		json_object_set_new(body, "scalingConfig", scaling(want));
	} else if (ax_changed(prior, want, "min_size") || ax_changed(prior, want, "max_size")) {
		/* the autoscaler's size, kept inside the new bounds */
		json_t *ng = NULL;
		rc = describe(c, &g, &ng);
		if (rc < 0) {
			json_decref(body);
			return rc;
		}
		json_t *sc = scaling(want);
		json_int_t d = json_integer_value(json_object_get(json_object_get(ng, "scalingConfig"), "desiredSize"));
		json_int_t lo = json_integer_value(json_object_get(want, "min_size"));
		json_int_t hi = json_integer_value(json_object_get(want, "max_size"));
		json_object_set_new(sc, "desiredSize", json_integer(d < lo ? lo : d > hi ? hi : d));
		json_object_set_new(body, "scalingConfig", sc);
		json_decref(ng);
	}
	if (ax_changed(prior, want, "labels")) {
		json_t *add = json_object(), *rm = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(want, "labels"), k, v) json_object_set(add, k, v);
		json_object_foreach(json_object_get(prior, "labels"), k, v) if (!json_object_get(json_object_get(want, "labels"), k))
			json_array_append_new(rm, json_string(k));
		json_t *l = json_object();
		if (json_object_size(add))
			json_object_set(l, "addOrUpdateLabels", add);
		if (json_array_size(rm))
			json_object_set(l, "removeLabels", rm);
		json_decref(add);
		json_decref(rm);
		json_object_set_new(body, "labels", l);
	}
	if (ax_changed(prior, want, "taints")) {
		json_t *t = json_object();
		json_t *add = taints_api(json_object_get(want, "taints"));
		json_t *old = taints_api(json_object_get(prior, "taints")), *rm = json_array();
		size_t i, k;
		json_t *x, *y;
		json_array_foreach(old, i, x)
		{
			int keep = 0;
			json_array_foreach(add, k, y) if (!strcmp(ax_s(x, "key"), ax_s(y, "key")) &&
							  !strcmp(ax_s(x, "effect"), ax_s(y, "effect"))) keep = 1;
			if (!keep)
				json_array_append(rm, x);
		}
		if (json_array_size(add))
			json_object_set(t, "addOrUpdateTaints", add);
		if (json_array_size(rm))
			json_object_set(t, "removeTaints", rm);
		json_decref(add);
		json_decref(old);
		json_decref(rm);
		json_object_set_new(body, "taints", t);
	}
	if (ax_changed(prior, want, "update_config") && json_object_size(json_object_get(want, "update_config")))
		json_object_set(body, "updateConfig", json_object_get(want, "update_config"));
	if (json_object_size(body)) {
		json_object_set_new(body, "clientRequestToken", json_string(c->token ? c->token : g.name));
		rc = run_update(c, &g, "/update-config", json_incref(body), "node group config update");
	}
	json_decref(body);
	/* A stock-AMI group with its own template (runc groups: the template
	 * only carries metadata options and the root volume) follows the
	 * cluster's version like one without; version_update sends what the
	 * group's flavour allows. */
	int lt_moved = ax_s(want, "launch_template_id") &&
		       (ax_changed(prior, want, "launch_template_version") ||
			ax_changed(prior, want, "launch_template_image_id") ||
			ax_changed(prior, want, "launch_template_user_data"));
	int ver_moved = (ax_s(want, "version") && ax_changed(prior, want, "version")) ||
			(ax_s(want, "release_version") && ax_changed(prior, want, "release_version"));
	if (!rc && (lt_moved || ver_moved))
		rc = version_update(c, &g, want);
	if (!rc && ax_changed(prior, want, "tags") && json_object_size(json_object_get(want, "tags"))) {
		char *l = sf_aws_label(ax_s(prior, "arn") ? ax_s(prior, "arn") : "");
		char *p = xasprintf("/tags/%s", l);
		rc = ax_eks(c, "POST", p, json_pack("{s:O}", "tags", json_object_get(want, "tags")), NULL);
		free(p);
		free(l);
	}
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	json_object_set(*out, "id", json_object_get(prior, "id"));
	json_object_set(*out, "nodegroup_name", json_object_get(prior, "nodegroup_name"));
	json_object_set(*out, "arn", json_object_get(prior, "arn"));
	return 0;
}

static int ng_destroy(struct sf_rctx *c, const json_t *prior)
{
	/* killed before create returned: the name derives from the token */
	char *owned = ng_name(c, prior);
	if (!owned)
		return 0;
	struct ng g = {ax_s(prior, "cluster_name"), owned};
	char *p = ngpath(g.cluster, g.name, NULL);
	int rc = ax_eks(c, "DELETE", p, NULL, NULL);
	free(p);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	} else if (!rc) {
		/* the groups of a cluster deleted alongside share one poll loop,
		 * as their creates do: the cluster's delete waits for all of
		 * them, so one seen gone no earlier than the one polled is
		 * never seen later than needed */
		rc = ax_wait_siblings(c, g.cluster, &nodegroup_gone, ng_args(&g), 3600, "node group deletion", 1, NULL);
	}
	free(owned);
	return rc;
}

/* ---- gc sweep ---- */

/* Node groups of every cluster; a cluster cannot go while its node groups
 * stay, so they follow it. */
static int ng_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	json_t *clusters = NULL;
	int rc = ax_sweep_eks_clusters(s, &clusters);
	size_t i, j;
	json_t *e, *g;
	json_array_foreach(clusters, i, e)
	{
		const char *cl = json_string_value(e);
		if (rc < 0)
			break;
		if (!cl)
			continue;
		char *lab = sf_aws_label(cl), *path = xasprintf("/clusters/%s/node-groups", lab);
		json_t *ngs = NULL;
		rc = ax_sweep_eks_names(s, path, "nodegroups", &ngs);
		free(path);
		json_array_foreach(ngs, j, g)
		{
			const char *gn = json_string_value(g);
			if (rc < 0 || !gn)
				break;
			char *gl = sf_aws_label(gn);
			path = xasprintf("/clusters/%s/node-groups/%s", lab, gl);
			json_t *o = NULL;
			rc = ax_sweep_eks_get(s, path, "nodegroup", &o);
			free(path);
			free(gl);
			if (o)
				sf_sweep_add(s, h, gn, cl, ax_s(o, "nodegroupArn"), json_object_get(o, "tags"),
					     json_pack("{s:s, s:s}", "cluster_name", cl, "nodegroup_name", gn));
			json_decref(o);
		}
		json_decref(ngs);
		free(lab);
	}
	json_decref(clusters);
	return rc < 0 ? rc : 0;
}

static const struct sf_sweep_hook ng_sweep = {"eks node group", SF_SWEEP_NODEGROUP, ng_sweep_list, NULL,
					      "eks cluster"};
static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "EKS node group",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the node group; the instances "
		 "EKS launches for it go with it",
	.marks = ng_marks,
	.claim = ng_claim,
};

const struct sf_rtype sf_rt_eks_node_group = {
	.own = &own,
	.name = "eks_nodegroup",
	.schema_version = 1,
	.typical = {.create = {150, 300}, .update = {600, 1500}, .delete = {240, 480}},
	.attrs = attrs,
	.create_before_destroy = 1,
	.create = ng_create,
	.read = ng_read,
	.update = ng_update,
	.destroy = ng_destroy,
	.sweep = &ng_sweep,
};
