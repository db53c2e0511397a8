/*
 * aws_eks_cluster.c - eks_cluster: the EKS control plane.
 *
 * The type is named eks_cluster (not aws_eks_cluster) because the
 * Kubernetes resources of a Cluster reference it as
 * ${eks_cluster.main.endpoint}, ${eks_cluster.main.ca_data} and
 * ${eks_cluster.main.name}.
 *
 * Create sends clientRequestToken = the operation token, so a resumed
 * create gets the same cluster back, records the name and waits for ACTIVE
 * (official delay 30 s, budget 40 min).  In place: version (+1 minor, one
 * UpdateClusterVersion), endpoint access and logging (UpdateClusterConfig,
 * one kind per call, each waited for), tags.  Destroy first deletes the
 * load balancers Kubernetes made for the cluster (ELBv2 and classic;
 * tagged kubernetes.io/cluster/<name>=owned, or elbv2.k8s.aws/cluster=<name>
 * by the AWS Load Balancer Controller) while the control plane is still
 * there, then deletes the cluster, retrying ResourceInUse while node groups
 * drain, and waits until it is gone.
 *
 * Ownership (SF_OWN_TAGS): cluster names come from the spec; a create that
 * meets ResourceInUse adopts the cluster only when its tags prove it is
 * this state's, and the engine checks them before every update and delete,
 * so someone else's cluster of that name, its node groups and its load
 * balancers are never touched.  The load balancer sweep takes only those
 * in this cluster's VPC.
 */
#include <pthread.h>
#include <string.h>

#include "log.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/eks_versions.h"
#include "resources/providers.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "cluster name"},
	{"version", SF_AT_STRING, SF_ATTR_REQUIRED, "Kubernetes version (upgrades one minor at a time)"},
	{"role_arn", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "cluster IAM role"},
	{"subnet_ids", SF_AT_LIST, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "subnets for the control-plane ENIs"},
	{"security_group_ids", SF_AT_LIST, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "extra security groups"},
	{"endpoint_public", SF_AT_BOOL, SF_ATTR_OPTIONAL, "public API endpoint"},
	{"endpoint_private", SF_AT_BOOL, SF_ATTR_OPTIONAL, "private API endpoint"},
	{"public_access_cidrs", SF_AT_LIST, SF_ATTR_OPTIONAL, "CIDRs allowed to the public endpoint"},
	{"service_cidr", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "Kubernetes service CIDR"},
	{"logging", SF_AT_LIST, SF_ATTR_OPTIONAL, "control-plane log types enabled"},
	{"authentication_mode", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "API or API_AND_CONFIG_MAP"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags (ownership tags are added)"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "cluster name"},
	{"arn", SF_AT_STRING, SF_ATTR_COMPUTED, "cluster ARN"},
	{"endpoint", SF_AT_STRING, SF_ATTR_COMPUTED, "API server URL"},
	{"ca_data", SF_AT_STRING, SF_ATTR_COMPUTED, "base64 CA bundle"},
	{"cluster_security_group_id", SF_AT_STRING, SF_ATTR_COMPUTED, "security group EKS made"},
	{"platform_version", SF_AT_STRING, SF_ATTR_COMPUTED, "EKS platform version"},
	{NULL, 0, 0, NULL},
};

static const char *const all_logs[] = {"api", "audit", "authenticator", "controllerManager", "scheduler", NULL};

static char *cpath(const char *name, const char *suffix)
{
	char *l = sf_aws_label(name);
	char *p = xasprintf("/clusters/%s%s", l, suffix ? suffix : "");
	free(l);
	return p;
}

static int describe(struct sf_rctx *c, const char *name, json_t **cl)
{
	char *p = cpath(name, NULL);
	int rc = ax_eks_describe(c, p, "cluster", cl);
	free(p);
	return rc;
}

/* Deleting: done when DescribeCluster says NotFound, whatever the status
 * until then (right after DeleteCluster it may still read ACTIVE). */
static const struct sf_waiter_def cluster_gone = {
	.name = "eks_cluster.gone", .service = "eks", .operation = "DescribeCluster", .path = "/clusters/{name}",
	.status_path = "cluster.status", .delay_s = 30, .notfound_success = 1, .typical_lo = 240, .typical_hi = 360,
};

static json_t *vpc_access(const json_t *want)
{
	json_t *v = json_object();
	const json_t *pub = json_object_get(want, "endpoint_public"), *priv = json_object_get(want, "endpoint_private");
	json_object_set_new(v, "endpointPublicAccess", json_boolean(!pub || json_is_true(pub)));
	json_object_set_new(v, "endpointPrivateAccess", json_boolean(json_is_true(priv)));
	if (json_array_size(json_object_get(want, "public_access_cidrs")))
		json_object_set(v, "publicAccessCidrs", json_object_get(want, "public_access_cidrs"));
	else if (!pub || json_is_true(pub)) /* unset means AWS's default; say it, or an update keeps a drifted list */
		json_object_set_new(v, "publicAccessCidrs", json_pack("[s]", "0.0.0.0/0"));
	return v;
}

static json_t *logging(const json_t *want)
{
	json_t *on = json_array(), *off = json_array();
	const json_t *l = json_object_get(want, "logging");
	for (const char *const *t = all_logs; *t; t++) {
		int en = 0;
		size_t i;
		json_t *e;
		json_array_foreach(l, i, e) if (json_string_value(e) && !strcmp(json_string_value(e), *t)) en = 1;
		json_array_append_new(en ? on : off, json_string(*t));
	}
	json_t *cl = json_array();
	if (json_array_size(on))
		json_array_append_new(cl, json_pack("{s:o, s:b}", "types", on, "enabled", 1));
	else
		json_decref(on);
	if (json_array_size(off))
		json_array_append_new(cl, json_pack("{s:o, s:b}", "types", off, "enabled", 0));
	else
		json_decref(off);
	return json_pack("{s:o}", "clusterLogging", cl);
}

static void fill_computed(json_t *out, const json_t *cl)
{
	json_object_set_new(out, "id", json_string(ax_s(cl, "name") ? ax_s(cl, "name") : ""));
	json_object_set_new(out, "arn", json_string(ax_s(cl, "arn") ? ax_s(cl, "arn") : ""));
	json_object_set_new(out, "endpoint", json_string(ax_s(cl, "endpoint") ? ax_s(cl, "endpoint") : ""));
	const char *ca = ax_s(json_object_get(cl, "certificateAuthority"), "data");
	json_object_set_new(out, "ca_data", json_string(ca ? ca : ""));
	const char *sg = ax_s(json_object_get(cl, "resourcesVpcConfig"), "clusterSecurityGroupId");
	json_object_set_new(out, "cluster_security_group_id", json_string(sg ? sg : ""));
	const char *pv = ax_s(cl, "platformVersion");
	json_object_set_new(out, "platform_version", json_string(pv ? pv : ""));
}

static const struct sf_own own;

static int cl_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	const char *name = ax_s(a_, "name");
	*id = name ? xstrdup(name) : NULL;
	*tags = NULL;
	if (!name)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no name", c->address);
	if (!ax_name_listed(c, &ax_names_eks_clusters, name))
		return sf_fail(c->err, SF_ENOTFOUND, "%s: EKS cluster %s does not exist", c->address, name);
	char *p = cpath(name, NULL);
	/* before a delete, the cluster read here is the one cl_destroy
	 * needs (its VPC): kept for it in c->marked */
	int rc = ax_eks_marks(c, p, "cluster", "arn", tags, NULL, c->keep_marked ? &c->marked : NULL);
	free(p);
	return rc;
}

static int cl_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	json_t *cl = NULL;
	int rc = describe(c, ax_s(a_, "name"), &cl);
	if (!rc)
		rc = ax_eks_claim(c, ax_s(cl, "arn"), tags);
	json_decref(cl);
	return rc;
}

static int cl_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *name = ax_s(want, "name");
	json_t *vpc = vpc_access(want);
	json_object_set(vpc, "subnetIds", json_object_get(want, "subnet_ids"));
	if (json_array_size(json_object_get(want, "security_group_ids")))
		json_object_set(vpc, "securityGroupIds", json_object_get(want, "security_group_ids"));
	json_t *tags = ax_tags(c, want, 1);
	const char *auth = ax_s(want, "authentication_mode");
	json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:{s:s, s:b}, s:s}", "name", name, "version",
				 ax_s(want, "version"), "roleArn", ax_s(want, "role_arn"), "resourcesVpcConfig", vpc,
				 "logging", logging(want), "tags", tags, "accessConfig", "authenticationMode",
				 auth ? auth : "API", "bootstrapClusterCreatorAdminPermissions", 1, "clientRequestToken",
				 c->token ? c->token : name);
	if (ax_s(want, "service_cidr"))
		json_object_set_new(body, "kubernetesNetworkConfig",
				    json_pack("{s:s}", "serviceIpv4Cidr", ax_s(want, "service_cidr")));
	/* the one create path: a taken name or a lost reply ends in the
	 * lookup, which adopts only on proof that it is this state's */
	struct ax_own_name n = {&own, want};
	struct ax_create_def d = {.service = "eks", .op = "CreateCluster", .id_key = "name", .find = ax_own_find,
				  .find_ctx = &n, .exists = "ResourceInUseException"};
	char *made = NULL;
	json_t *made_reply = NULL;
	int rc = ax_create_at(c, &d, "/clusters", body, &made_reply, &made);
	free(made);
	if (rc < 0)
		return rc;
	if (c->record_id)
		c->record_id(c, name);
	/* the reply that says ACTIVE carries the endpoint and CA: no read
	 * after it; a cluster this call began is not asked at once */
	json_t *last = NULL, *cl = NULL;
	rc = (made_reply ? ax_wait_begun : ax_wait_reply)(c, sf_aws_waiter_find("eks.ClusterActive"),
							  json_pack("{s:s}", "name", name), 2400, "cluster", &last);
	json_decref(made_reply);
	if (!rc && !(cl = json_incref(json_object_get(last, "cluster"))))
		rc = describe(c, name, &cl);
	json_decref(last);
	if (!rc) {
		*out = ax_out(want);
		fill_computed(*out, cl);
	}
	json_decref(cl);
	return rc;
}

/* The log types enabled, in all_logs order (new array). */
static json_t *logs_enabled(const json_t *cl)
{
	json_t *on = json_array();
	for (const char *const *t = all_logs; *t; t++) {
		size_t i, k;
		json_t *e, *ty;
		int en = 0;
		json_array_foreach(json_object_get(json_object_get(cl, "logging"), "clusterLogging"), i, e)
		{
			if (!json_is_true(json_object_get(e, "enabled")))
				continue;
			json_array_foreach(json_object_get(e, "types"), k, ty) if (json_string_value(ty) &&
									    !strcmp(json_string_value(ty), *t)) en = 1;
		}
		if (en)
			json_array_append_new(on, json_string(*t));
	}
	return on;
}

/* The same set in the spec's order when it is the same set. */
static json_t *same_order(const json_t *spec, json_t *live)
{
	if (!json_is_array(spec) || json_array_size(spec) != json_array_size(live))
		return live;
	size_t i, k;
	json_t *a, *b;
	json_array_foreach(spec, i, a)
	{
		int f = 0;
		json_array_foreach(live, k, b) if (json_equal(a, b)) f = 1;
		if (!f)
			return live;
	}
	json_decref(live);
	return json_incref((json_t *)spec);
}

/* Drift: version, endpoint access and its public CIDRs, control-plane
 * logging and tags are read (an unset one against the value AWS applies
 * when it is not given: public endpoint, 0.0.0.0/0, no logs); see
 * docs/drift.md for what is not. */
static int cl_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *cl = NULL;
	int rc = describe(c, ax_s(prior, "name"), &cl);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set(*out, "version", json_object_get(cl, "version"));
	const json_t *vpc = json_object_get(cl, "resourcesVpcConfig");
	json_t *t = json_true(), *f = json_false(), *any = json_pack("[s]", "0.0.0.0/0"), *none = json_array();
	ax_read_attr(*out, prior, "endpoint_public", json_object_get(vpc, "endpointPublicAccess"), t);
	ax_read_attr(*out, prior, "endpoint_private", json_object_get(vpc, "endpointPrivateAccess"), f);
	json_t *cidrs = json_object_get(vpc, "publicAccessCidrs");
	if (json_is_array(cidrs)) {
		json_t *l = same_order(json_object_get(prior, "public_access_cidrs"), json_incref(cidrs));
		ax_read_attr(*out, prior, "public_access_cidrs", l, any);
		json_decref(l);
	}
	json_t *logs = same_order(json_object_get(prior, "logging"), logs_enabled(cl));
	ax_read_attr(*out, prior, "logging", logs, none);
	json_decref(logs);
	json_decref(t);
	json_decref(f);
	json_decref(any);
	json_decref(none);
	if (json_object_get(prior, "tags"))
		json_object_set_new(*out, "tags", ax_user_tags(json_object_get(cl, "tags")));
	fill_computed(*out, cl);
	json_decref(cl);
	return 0;
}

/* POST an update, wait for it. */
static int run_update(struct sf_rctx *c, const char *name, const char *suffix, json_t *body, const char *what)
{
	char *p = cpath(name, suffix);
	int rc = ax_eks_update(c, p, name, NULL, body, what);
	free(p);
	return rc;
}

/* One minor version up.  A run killed during an earlier attempt may have
 * left the update in flight or done: wait until the cluster is ACTIVE
 * again and ask it which version it runs before asking for another. */
static int version_step(struct sf_rctx *c, const char *name, const char *want)
{
	json_t *last = NULL, *cl = NULL;
	int rc = ax_wait_reply(c, sf_aws_waiter_find("eks.ClusterActive"), json_pack("{s:s}", "name", name), 3600,
			       "cluster", &last);
	if (!rc && !(cl = json_incref(json_object_get(last, "cluster"))))
		rc = describe(c, name, &cl);
	json_decref(last);
	if (rc < 0)
		return rc;
	const char *have = ax_s(cl, "version");
	int same = have && !strcmp(have, want);
	if (!same && c->progress) { /* have lives in cl */
		char *m = xasprintf("control plane %s -> %s", have ? have : "?", want);
		c->progress(c, m);
		free(m);
	}
	json_decref(cl);
	if (same)
		return 0;
	return run_update(c, name, "/updates",
			  json_pack("{s:s, s:s}", "version", want, "clientRequestToken", c->token ? c->token : name),
			  "version update");
}

static int cl_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *name = ax_s(prior, "name");
	int rc = 0;
	if (ax_changed(prior, want, "version"))
		rc = version_step(c, name, ax_s(want, "version"));
	if (!rc && (ax_changed(prior, want, "endpoint_public") || ax_changed(prior, want, "endpoint_private") ||
		    ax_changed(prior, want, "public_access_cidrs")))
		rc = run_update(c, name, "/update-config", json_pack("{s:o}", "resourcesVpcConfig", vpc_access(want)),
				"endpoint update");
	if (!rc && ax_changed(prior, want, "logging"))
		rc = run_update(c, name, "/update-config", json_pack("{s:o}", "logging", logging(want)),
				"logging update");
	if (!rc && ax_changed(prior, want, "tags") && json_object_size(json_object_get(want, "tags"))) {
		char *l = sf_aws_label(ax_s(prior, "arn"));
		char *p = xasprintf("/tags/%s", l);
		rc = ax_eks(c, "POST", p, json_pack("{s:O}", "tags", json_object_get(want, "tags")), NULL);
		free(p);
		free(l);
	}
	json_t *cl = NULL;
	if (!rc)
		rc = describe(c, name, &cl);
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	fill_computed(*out, cl);
	json_decref(cl);
	return 0;
}

/* ---- plan-time review: the version's support and the upgrade path ---- */

/* What EKS says about `version` (DescribeClusterVersions with includeAll,
 * so versions out of support are listed too): 0 with its status and
 * dates, or SF_ENOTFOUND when EKS does not list it.  The answer is kept in
 * the run's memo (struct sf_providers): a fleet's workspaces on one
 * version in one region ask once.  A failed ask is not kept. */
static int eks_version_info(struct sf_rctx *c, const char *version, enum sf_eks_support *st, time_t *std_end,
			    time_t *ext_end)
{
	struct sf_providers *p = c->provider;
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	const char *region = sf_aws_region(a);
	char *key = xasprintf("eks.DescribeClusterVersions %s %s", region ? region : "", version);
	json_t *o = sf_memo_take(p->memo, key);
	int rc = 0;
	if (!o) {
		char *q = xasprintf("clusterVersions=%s&includeAll=true", version);
		rc = sf_aws_rest_json(a, "eks", "GET", "/cluster-versions", q, NULL, &o, c->err);
		free(q);
		sf_memo_fill(p->memo, key, rc == 0 ? o : NULL);
	}
	free(key);
	if (rc < 0)
		return rc;
	rc = SF_ENOTFOUND;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(o, "clusterVersions"), i, v)
	{
		const char *cv = ax_s(v, "clusterVersion"), *vs = ax_s(v, "versionStatus");
		if (!cv || strcmp(cv, version))
			continue;
		*std_end = (time_t)json_number_value(json_object_get(v, "endOfStandardSupportDate"));
		*ext_end = (time_t)json_number_value(json_object_get(v, "endOfExtendedSupportDate"));
		*st = !vs				   ? sf_eks_support_at(0, *std_end, *ext_end, (time_t)sf_now())
		      : !strcmp(vs, "STANDARD_SUPPORT") ? SF_EKS_STANDARD
		      : !strcmp(vs, "EXTENDED_SUPPORT") ? SF_EKS_EXTENDED
							 : SF_EKS_UNSUPPORTED;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Upgrades go one minor version per apply (EKS's own rule for the
 * control plane, and the point where add-ons and every node group catch up
 * before the next step); a downgrade does not exist.  Then what EKS says
 * about the version: a new cluster on a version out of support is refused
 * here rather than by CreateCluster half-way through an apply; extended
 * support (it costs extra) and the last weeks of standard support are
 * warnings. */
static int cl_plan_review(struct sf_rctx *c, const json_t *before, const json_t *want)
{
	const char *to = ax_s(want, "version"), *from = before ? ax_s(before, "version") : NULL;
	if (!to)
		return 0;
	int mt = sf_eks_minor(to), mf = sf_eks_minor(from);
	if (from && mf >= 0 && mt >= 0 && mt < mf)
		return sf_fail(c->err, SF_EINVAL,
			       "%s: Kubernetes %s -> %s is a downgrade; EKS clusters cannot go back to an older version",
			       c->address, from, to);
	if (from && mf >= 0 && mt > mf + 1) {
		sf_fail(c->err, SF_EINVAL, "%s: Kubernetes %s -> %s skips %d minor version%s; EKS upgrades one at a time",
			c->address, from, to, mt - mf - 1, mt - mf - 1 > 1 ? "s" : "");
		sf_err_hint(c->err,
			    "set kubernetesVersion: \"1.%d\" and apply (control plane, then every node group), then the next",
			    mf + 1);
		return SF_EINVAL;
	}
	enum sf_eks_support st = SF_EKS_STANDARD;
	time_t std_end = 0, ext_end = 0;
	int rc = eks_version_info(c, to, &st, &std_end, &ext_end);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		if (from && !strcmp(from, to))
			return 0; /* the cluster runs it, whatever the list says */
		return sf_fail(c->err, SF_EINVAL, "%s: EKS does not offer Kubernetes %s in this region", c->address, to);
	}
	if (rc < 0) {
		/* The list is advice, not a gate: fall back to the built-in calendar. */
		const struct sf_eks_version *v = sf_eks_version_find(to);
		char *m = xasprintf("EKS's version list could not be read (%s); support dates from the built-in calendar",
				    c->err->msg);
		if (c->warn)
			c->warn(c, m);
		free(m);
		sf_err_clear(c->err);
		if (!v)
			return 0;
		std_end = sf_eks_day(v->end_standard);
		ext_end = sf_eks_day(v->end_extended);
		st = sf_eks_version_support(v, (time_t)sf_now());
	}
	if (st == SF_EKS_UNSUPPORTED && !before) {
		sf_fail(c->err, SF_EINVAL, "%s: Kubernetes %s is out of EKS support; EKS creates no new clusters on it",
			c->address, to);
		sf_err_hint(c->err, "choose a version in standard support (secfaas validate lists the known ones)");
		return SF_EINVAL;
	}
	struct sf_aws *a = ax_client(c);
	double now = a ? sf_aws_server_date(a) : 0;
	char *note = sf_eks_support_note(to, st, std_end, ext_end, (time_t)(now > 0 ? now : sf_now()));
	if (note && c->warn)
		c->warn(c, note);
	free(note);
	return 0;
}

/* ---- teardown sweep: load balancers Kubernetes made for the cluster ---- */

static int elb_call(struct sf_rctx *c, const char *action, int v2, json_t *params, json_t **out)
{
	struct sf_aws *a = ax_client(c);
	json_t *o = NULL;
	int rc = a ? sf_aws_query(a, v2 ? "elasticloadbalancing" : "elb", action, params, &o, c->err) : c->err->code;
	json_decref(params);
	if (out)
		*out = o;
	else
		json_decref(o);
	return rc;
}

/* Is this load balancer in the cluster's VPC (vpc NULL: unknown, any)? */
static int in_vpc(const json_t *lb, const char *vpc)
{
	const char *v = ax_s(lb, "VpcId") ? ax_s(lb, "VpcId") : ax_s(lb, "VPCId");
	return !vpc || (v && !strcmp(v, vpc));
}

/* The two load balancer APIs differ only in these names. */
struct elb_api {
	int v2;
	const char *list_key;   /* DescribeLoadBalancers' list */
	const char *id_key;     /* a load balancer's id in it */
	const char *tags_param; /* DescribeTags' list of ids */
	const char *tags_id;    /* the id in DescribeTags' reply */
};

static const struct elb_api elbv2 = {1, "LoadBalancers", "LoadBalancerArn", "ResourceArns", "ResourceArn"};
static const struct elb_api elb_classic = {0, "LoadBalancerDescriptions", "LoadBalancerName", "LoadBalancerNames",
					   "LoadBalancerName"};

/* DescribeTags takes at most 20 ids a call, on both APIs. */
#define ELB_TAGS_MAX 20

/* The ids of every load balancer in the VPC, all pages (an account may
 * hold more than one page of them, 400 at most each).  Listed whole
 * before anything is deleted, so no delete moves what a later page
 * holds.  0 and *ids (new array), or an error. */
static int lbs_in_vpc(struct sf_rctx *c, const struct elb_api *api, const char *vpc, json_t **ids)
{
	struct sf_aws *a = ax_client(c);
	json_t *all = NULL, *p = json_pack("{s:i}", "PageSize", 400);
	int rc = a ? sf_aws_query_all(a, api->v2 ? "elasticloadbalancing" : "elb", "DescribeLoadBalancers", p,
				      api->list_key, &all, c->err)
		   : c->err->code;
	json_decref(p);
	*ids = json_array();
	size_t i;
	json_t *lb;
	json_array_foreach(all, i, lb) if (ax_s(lb, api->id_key) && in_vpc(lb, vpc))
		json_array_append_new(*ids, json_string(ax_s(lb, api->id_key)));
	json_decref(all);
	return rc < 0 ? rc : 0;
}

/* The tags of ids[from..to) into *tags (id -> tag object).  A batch AWS
 * refuses (one of them deleted meanwhile: LoadBalancerNotFound) is asked
 * again one id at a time, and an id that still fails is left out: not
 * known to be the cluster's, it is not deleted. */
static void lb_tags(struct sf_rctx *c, const struct elb_api *api, const json_t *ids, size_t from, size_t to,
		    json_t *tags)
{
	json_t *batch = json_array(), *o = NULL;
	for (size_t i = from; i < to; i++)
		json_array_append(batch, json_array_get(ids, i));
	if (elb_call(c, "DescribeTags", api->v2, json_pack("{s:o}", api->tags_param, batch), &o) < 0) {
		sf_err_clear(c->err);
		if (to - from > 1)
			for (size_t i = from; i < to; i++)
				lb_tags(c, api, ids, i, i + 1, tags);
		return;
	}
	size_t i;
	json_t *td;
	json_array_foreach(json_object_get(o, "TagDescriptions"), i, td) if (ax_s(td, api->tags_id))
		json_object_set_new(tags, ax_s(td, api->tags_id), ax_tags_from_list(json_object_get(td, "Tags")));
	json_decref(o);
}

/* Did Kubernetes make this load balancer for this cluster?  The in-tree
 * cloud provider tags what it makes kubernetes.io/cluster/<name>=owned;
 * the value "shared" marks one made elsewhere that the cluster only uses,
 * which is not the cluster's to delete.  The AWS Load Balancer Controller
 * (ELBv2 only) tags its own elbv2.k8s.aws/cluster=<name>. */
static int lb_clusters(const struct elb_api *api, const json_t *tags, const char *key, const char *cluster)
{
	const char *v = ax_s(tags, key);
	if (v && !strcmp(v, "owned"))
		return 1;
	v = api->v2 ? ax_s(tags, "elbv2.k8s.aws/cluster") : NULL;
	return v && !strcmp(v, cluster);
}

static int tg_delete_once(struct sf_rctx *c, void *arn)
{
	int rc = elb_call(c, "DeleteTargetGroup", 1, json_pack("{s:s}", "TargetGroupArn", (const char *)arn), NULL);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

static int delete_v2(struct sf_rctx *c, const char *arn)
{
	json_t *tg = NULL;
	elb_call(c, "DescribeTargetGroups", 1, json_pack("{s:s}", "LoadBalancerArn", arn), &tg);
	sf_err_clear(c->err);
	int rc = elb_call(c, "DeleteLoadBalancer", 1, json_pack("{s:s}", "LoadBalancerArn", arn), NULL);
	size_t k;
	json_t *g;
	json_array_foreach(json_object_get(tg, "TargetGroups"), k, g)
	{
		if (rc < 0)
			break;
		/* the load balancer's listeners go after it, and until then
		 * its target groups are "in use" (ResourceInUse) */
		const char *tga = ax_s(g, "TargetGroupArn");
		if (tga)
			rc = ax_retry_conflict(c, tg_delete_once, (void *)tga, 300, "deleting the target group");
	}
	json_decref(tg);
	if (!rc)
		sf_info("%s: deleted Kubernetes load balancer %s", c->address, arn);
	return rc;
}

static int delete_classic(struct sf_rctx *c, const char *name)
{
	int rc = elb_call(c, "DeleteLoadBalancer", 0, json_pack("{s:s}", "LoadBalancerName", name), NULL);
	if (!rc)
		sf_info("%s: deleted Kubernetes classic load balancer %s", c->address, name);
	return rc;
}

/* Delete the cluster's load balancers of one API in the VPC. */
static int sweep_api(struct sf_rctx *c, const struct elb_api *api, const char *cluster, const char *vpc)
{
	json_t *ids = NULL, *tags = json_object();
	char *key = xasprintf("kubernetes.io/cluster/%s", cluster);
	int rc = lbs_in_vpc(c, api, vpc, &ids);
	for (size_t i = 0; !rc && i < json_array_size(ids); i += ELB_TAGS_MAX) {
		size_t to = i + ELB_TAGS_MAX < json_array_size(ids) ? i + ELB_TAGS_MAX : json_array_size(ids);
		lb_tags(c, api, ids, i, to, tags);
	}
	size_t i;
	json_t *e;
	int failed = 0;
	json_array_foreach(ids, i, e)
	{
		if (rc < 0)
			break;
		const char *id = json_string_value(e);
		if (!lb_clusters(api, json_object_get(tags, id), key, cluster))
			continue;
		/* one that cannot go does not keep the others, whose network
		 * interfaces would hold the subnets */
		if ((api->v2 ? delete_v2(c, id) : delete_classic(c, id)) < 0) {
			sf_warn("%s: load balancer %s: %s", c->address, id, c->err->msg);
			sf_err_clear(c->err);
			failed++;
		}
	}
	if (!rc && failed)
		rc = sf_fail(c->err, SF_ERROR, "%d of the cluster's load balancers could not be deleted", failed);
	free(key);
	json_decref(tags);
	json_decref(ids);
	return rc;
}

/* ELBv2, then classic ELBs (the in-tree cloud provider makes these).  Not
 * fatal for the cluster itself: what stays is a warning, and the VPC's
 * own sweep reports what it then holds. */
static void sweep_lbs(struct sf_rctx *c, const char *cluster, const char *vpc)
{
	static const struct elb_api *const apis[] = {&elbv2, &elb_classic};
	for (size_t i = 0; i < SF_ARRAY_LEN(apis); i++)
		if (sweep_api(c, apis[i], cluster, vpc) < 0) {
			sf_warn("%s: load balancer sweep: %s", c->address, c->err->msg);
			sf_err_clear(c->err);
		}
}

static int del_once(struct sf_rctx *c, void *ctx)
{
	char *p = cpath(ctx, NULL);
	int rc = ax_eks(c, "DELETE", p, NULL, NULL);
	free(p);
	return rc;
}

static int cl_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *name = ax_s(prior, "name");
	if (!name)
		return 0;
	/* the cluster the engine's ownership proof just read (cl_marks), or
	 * read here when there is none */
	json_t *cl = json_incref(c->marked);
	int rc = cl ? 0 : describe(c, name, &cl);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	if (rc < 0)
		return rc;
	sweep_lbs(c, name, ax_s(json_object_get(cl, "resourcesVpcConfig"), "vpcId"));
	json_decref(cl);
	rc = ax_retry_conflict(c, del_once, (void *)name, 1800, "deleting the cluster");
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	if (rc < 0)
		return rc;
	/* AWS accepted the delete: it has only begun */
	return ax_wait_begun(c, &cluster_gone, json_pack("{s:s}", "name", name), 1800, "cluster deletion", NULL);
}

/* ---- gc sweep ---- */

static int cl_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	json_t *names = NULL;
	int rc = ax_sweep_eks_clusters(s, &names);
	size_t i;
	json_t *e;
	json_array_foreach(names, i, e)
	{
		const char *name = json_string_value(e);
		if (rc < 0)
			break;
		if (!name)
			continue;
		char *lab = sf_aws_label(name), *path = xasprintf("/clusters/%s", lab);
		json_t *c = NULL;
		rc = ax_sweep_eks_get(s, path, "cluster", &c);
		if (c)
			sf_sweep_add(s, h, name, NULL, ax_s(c, "arn"), json_object_get(c, "tags"),
				     json_pack("{s:s}", "name", name));
		json_decref(c);
		free(path);
		free(lab);
	}
	json_decref(names);
	return rc < 0 ? rc : 0;
}

static const struct sf_sweep_hook cl_sweep = {"eks cluster", SF_SWEEP_CLUSTER, cl_sweep_list, NULL, NULL};
static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "EKS cluster",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the cluster; Kubernetes load "
		 "balancers in its VPC tagged kubernetes.io/cluster/<name>=owned (or elbv2.k8s.aws/cluster=<name>) "
		 "go with it",
	.marks = cl_marks,
	.claim = cl_claim,
};

const struct sf_rtype sf_rt_eks_cluster = {
	.own = &own,
	.name = "eks_cluster",
	.schema_version = 1,
	.typical = {.create = {480, 720}, .update = {600, 1800}, .delete = {240, 480}},
	.attrs = attrs,
	.create = cl_create,
	.read = cl_read,
	.update = cl_update,
	.destroy = cl_destroy,
	.plan_review = cl_plan_review,
	.sweep = &cl_sweep,
};
