/*
 * aws_eks_addon.c - eks_addon: an EKS add-on (vpc-cni, coredns, kube-proxy,
 * eks-pod-identity-agent) managed by EKS instead of the self-managed copy
 * CreateCluster installs.  Why: the VPC CNI's network policy agent only
 * enforces NetworkPolicy when the add-on's configuration says
 * enableNetworkPolicy, and that setting must be something plan can see
 * drift on.
 *
 * create: CreateAddon with resolveConflicts OVERWRITE (the cluster already
 * runs self-managed copies of vpc-cni, coredns and kube-proxy; without it
 * EKS fails the add-on with ConfigurationConflict), configurationValues as
 * the JSON string EKS expects, clientRequestToken, tags; then wait ACTIVE.
 * A Deployment add-on (coredns) made before any node can run its pods
 * settles DEGRADED with too few replicas, and EKS turns it ACTIVE once
 * they run: that wait goes on while this run still has node groups to
 * make or change, then gives EKS a while to see the pods, and ends in an
 * error naming the health issues if the add-on stays DEGRADED (every
 * node tainted against its pods, say), never in an endless wait.
 * The version is addon_version when given (a pin), else the default that
 * DescribeAddonVersions names for kubernetes_version.  An add-on of that
 * name that already exists is adopted only when its ownership tags prove
 * it is this state's (docs/ownership.md); otherwise create fails naming
 * the owner and `secfaas import`.
 *
 * Versions follow the cluster's: kubernetes_version is the Kubernetes
 * version the add-on is meant for, so changing it (an upgrade step) is an
 * update that moves an unpinned add-on to the default for the new version.
 * The Cluster lowering gives it the control plane's version as a literal
 * (the plan shows "1.34" -> "1.35") and orders node groups after the
 * add-ons, so a step runs control plane, add-ons, node groups.
 *
 * plan_review: a pinned version must be one EKS offers for
 * kubernetes_version, and an unpinned add-on needs a default for it;
 * otherwise UpdateAddon would refuse mid-upgrade, after the control plane
 * has already moved.
 *
 * read: DescribeAddon; the live configurationValues come back parsed, so
 * a loosened configuration (network policy turned off) shows in plan.
 * update: waits out an update a killed run left in flight, then
 * UpdateAddon (configuration, version) unless the add-on already runs
 * both, and waits for the update.
 * destroy: DeleteAddon, wait until it is gone.  When the run deletes the
 * cluster too, no call at all: DeleteCluster removes its add-ons, so the
 * engine forgets the row once the cluster's delete is confirmed
 * (own.deleted_with); the roles the add-on uses wait for that.
 *
 * Credentials: pod_identity maps the add-on's service accounts to IAM
 * roles, sent as the add-on's own podIdentityAssociations (EKS's
 * documented way for add-ons: the associations are made, changed and
 * deleted with the add-on, and nobody can change them on their own).  read
 * describes each association, so a role changed or removed outside
 * secfaas is drift.  EKS gives pods their Pod Identity credentials when
 * they are admitted, so pods that run when the associations change keep
 * the identity they started with (for the VPC CNI: the node role).  After
 * an update that changes them, the add-on's workload (restart_daemonset,
 * "namespace/name") is rolled like `kubectl rollout restart` through the
 * cluster's API (endpoint, ca_data) and waited for, so that once the
 * update is done every pod uses the new role and what depends on it (the
 * node role giving up the CNI policy) can go ahead.  A cluster without
 * that DaemonSet has no such pods, and nothing is restarted.
 */
#include <string.h>

#include "kube/kube.h"
#include "resources/aws_common.h"
#include "resources/kube_cache.h"
#include "resources/providers.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"cluster_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EKS cluster"},
	{"addon_name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "vpc-cni, coredns, kube-proxy, ..."},
	{"kubernetes_version", SF_AT_STRING, SF_ATTR_OPTIONAL,
	 "cluster version whose default add-on version runs when addon_version is unset (a change moves it)"},
	{"addon_version", SF_AT_STRING, SF_ATTR_OPTIONAL, "pinned add-on version (default: DescribeAddonVersions' default)"},
	{"version_where", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT,
	 "file:line:col of the pin, for plan errors"},
	{"configuration_values", SF_AT_MAP, SF_ATTR_OPTIONAL, "add-on configuration (sent as a JSON string)"},
	{"pod_identity", SF_AT_MAP, SF_ATTR_OPTIONAL,
	 "service account -> IAM role ARN: the EKS Pod Identity associations the add-on manages"},
	{"restart_daemonset", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT,
	 "namespace/name of the add-on's DaemonSet, rolled when pod_identity changes (its pods then get the new role)"},
	{"endpoint", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "cluster API endpoint (for the restart)"},
	{"ca_data", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "cluster CA, base64 (for the restart)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "tags"},
	{"arn", SF_AT_STRING, SF_ATTR_COMPUTED, "add-on ARN"},
	{"version", SF_AT_STRING, SF_ATTR_COMPUTED, "the version EKS runs"},
	{NULL, 0, 0, NULL},
};

static const struct sf_own own;

static char *apath(const json_t *w, const char *suffix)
{
	char *lc = sf_aws_label(ax_s(w, "cluster_name")), *la = sf_aws_label(ax_s(w, "addon_name"));
	char *p = xasprintf("/clusters/%s/addons%s%s%s", lc, la && suffix ? "/" : "", suffix ? la : "",
			    suffix ? suffix : "");
	free(lc);
	free(la);
	return p;
}

static json_t *wait_args(const json_t *w)
{
	return json_pack("{s:s, s:s}", "clusterName", ax_s(w, "cluster_name"), "addonName", ax_s(w, "addon_name"));
}

/* Every add-on EKS offers for Kubernetes `k8s` in the client's region and
 * its versions ({add-on name: "addonVersions" array}, new object):
 * DescribeAddonVersions without an add-on name, every page.  0, or < 0
 * with c->err set. */
static int catalogue_fetch(struct sf_rctx *c, struct sf_aws *aws, const char *k8s, json_t **all)
{
	*all = json_object();
	char *lk = sf_aws_label(k8s), *next = NULL;
	int rc = 0;
	do {
		char *ln = next ? sf_aws_label(next) : NULL;
		char *q = xasprintf("kubernetesVersion=%s&maxResults=100%s%s", lk, ln ? "&nextToken=" : "", ln ? ln : "");
		free(ln);
		free(next);
		next = NULL;
		json_t *o = NULL;
		rc = sf_aws_rest_json(aws, "eks", "GET", "/addons/supported-versions", q, NULL, &o, c->err);
		free(q);
		size_t i;
		json_t *a;
		json_array_foreach(rc ? NULL : json_object_get(o, "addons"), i, a)
		{
			json_t *vs = json_object_get(a, "addonVersions");
			if (ax_s(a, "addonName") && json_is_array(vs))
				json_object_set(*all, ax_s(a, "addonName"), vs);
		}
		if (!rc && ax_s(o, "nextToken") && *ax_s(o, "nextToken"))
			next = xstrdup(ax_s(o, "nextToken"));
		json_decref(o);
	} while (next);
	free(lk);
	if (rc < 0) {
		json_decref(*all);
		*all = NULL;
	}
	return rc;
}

/* The versions of the add-on EKS offers for Kubernetes `k8s`: 0 and *vs
 * (owned, the "addonVersions" array, maybe empty), or < 0 with c->err set.
 * Why one catalogue per region and Kubernetes version, kept for the run
 * (struct sf_providers' memo): every add-on's plan review and create asks,
 * several at once, and one unfiltered DescribeAddonVersions answers them
 * all.  A failed ask is not kept; the next asker tries again. */
static int offered(struct sf_rctx *c, const char *addon, const char *k8s, json_t **vs)
{
	*vs = NULL;
	struct sf_providers *p = c->provider;
	struct sf_aws *aws = ax_client(c);
	if (!aws)
		return c->err->code; /* ax_client said why */
	const char *region = sf_aws_region(aws);
	char *key = xasprintf("eks.DescribeAddonVersions %s %s", region ? region : "", k8s);
	json_t *all = sf_memo_take(p->memo, key);
	int rc = 0;
	if (!all) {
		rc = catalogue_fetch(c, aws, k8s, &all);
		sf_memo_fill(p->memo, key, rc == 0 ? all : NULL);
	}
	free(key);
	if (rc == 0) {
		json_t *a = json_object_get(all, addon);
		*vs = json_is_array(a) ? json_incref(a) : json_array();
	}
	json_decref(all);
	return rc;
}

/* The version in vs that EKS names the default for `k8s`, or NULL
 * (borrowed from vs). */
static const char *default_in(const json_t *vs, const char *k8s)
{
	size_t i, j;
	json_t *a, *ver;
	json_array_foreach(vs, i, a)
	{
		json_array_foreach(json_object_get(a, "compatibilities"), j, ver)
		{
			if (json_is_true(json_object_get(ver, "defaultVersion")) && ax_s(ver, "clusterVersion") &&
			    !strcmp(ax_s(ver, "clusterVersion"), k8s))
				return ax_s(a, "addonVersion");
		}
	}
	return NULL;
}

static int offers(const json_t *vs, const char *version)
{
	size_t i;
	json_t *a;
	json_array_foreach(vs, i, a) if (ax_s(a, "addonVersion") && !strcmp(ax_s(a, "addonVersion"), version)) return 1;
	return 0;
}

/* The version `want` asks for: the pin, else the default for its
 * Kubernetes version.  0 and *ver (owned; NULL when neither is known, then
 * EKS chooses at create), or < 0 with c->err set when EKS names no
 * default for that Kubernetes version. */
static int target_version(struct sf_rctx *c, const json_t *want, char **ver)
{
	*ver = NULL;
	const char *k8s = ax_s(want, "kubernetes_version");
	if (ax_s(want, "addon_version")) {
		*ver = xstrdup(ax_s(want, "addon_version"));
		return 0;
	}
	if (!k8s)
		return 0;
	json_t *vs = NULL;
	int rc = offered(c, ax_s(want, "addon_name"), k8s, &vs);
	if (rc == 0 && default_in(vs, k8s))
		*ver = xstrdup(default_in(vs, k8s));
	else if (rc == 0)
		rc = sf_fail(c->err, SF_EINVAL,
			     "%s: EKS names no default version of add-on %s for Kubernetes %s; pin one in spec.addons.%s.version",
			     c->address, ax_s(want, "addon_name"), k8s, ax_s(want, "addon_name"));
	json_decref(vs);
	return rc;
}

static char *config_string(const json_t *want)
{
	const json_t *cv = json_object_get(want, "configuration_values");
	return json_object_size(cv) ? json_dumps(cv, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* podIdentityAssociations of CreateAddon/UpdateAddon from pod_identity
 * (new array; empty when unset, which removes them on update). */
static json_t *pias_param(const json_t *want)
{
	json_t *a = json_array();
	const char *sa;
	json_t *role;
	json_object_foreach((json_t *)json_object_get(want, "pod_identity"), sa, role)
	{
		if (json_string_value(role))
			json_array_append_new(a, json_pack("{s:s, s:s}", "serviceAccount", sa, "roleArn",
							   json_string_value(role)));
	}
	return a;
}

/* The live associations of an add-on ({service account: role ARN}, new
 * object): DescribeAddon names them by ARN, each is described. */
static int pias_live(struct sf_rctx *c, const json_t *w, const json_t *addon, json_t **out)
{
	*out = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(addon, "podIdentityAssociations"), i, e)
	{
		const char *arn = json_string_value(e), *id = arn ? strrchr(arn, '/') : NULL;
		if (!id)
			continue;
		char *lc = sf_aws_label(ax_s(w, "cluster_name")), *li = sf_aws_label(id + 1);
		char *p = xasprintf("/clusters/%s/pod-identity-associations/%s", lc, li);
		free(lc);
		free(li);
		json_t *x = NULL;
		int rc = ax_eks_describe(c, p, "association", &x);
		free(p);
		if (rc == SF_ENOTFOUND) { /* gone between the two reads */
			sf_err_clear(c->err);
			continue;
		}
		if (rc < 0)
			return rc;
		if (ax_s(x, "serviceAccount"))
			json_object_set_new(*out, ax_s(x, "serviceAccount"), json_string(ax_s(x, "roleArn") ? ax_s(x, "roleArn") : ""));
		json_decref(x);
	}
	return 0;
}

/* Roll the add-on's DaemonSet (want's restart_daemonset) as `kubectl
 * rollout restart` does, with a pod-template annotation naming the roles
 * its pods must run with, and wait until every pod is updated and
 * available.  No such DaemonSet: nothing runs with the old identity. */
static int restart_workload(struct sf_rctx *c, const json_t *want)
{
	const char *ds = ax_s(want, "restart_daemonset"), *slash = ds ? strchr(ds, '/') : NULL;
	if (!slash || !ax_s(want, "endpoint"))
		return 0;
	char *ns = xstrndup(ds, (size_t)(slash - ds));
	struct sf_kube_conn conn;
	sf_kube_conn_from_attrs(&conn, want);
	struct sf_kube *k = sf_kube_for(c->provider, &conn, c->err);
	char *roles = json_dumps(json_object_get(want, "pod_identity"), JSON_COMPACT | JSON_SORT_KEYS);
	json_t *patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations",
				  "secfaas.dev/pod-identity", roles ? roles : "{}");
	free(roles);
	int rc = k ? sf_kube_merge_patch(k, "apps/v1", "DaemonSet", ns, slash + 1, patch, NULL, c->err) : c->err->code;
	json_decref(patch);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		free(ns);
		return 0;
	}
	if (!rc) {
		if (c->progress) {
			char *line = xasprintf("restarting DaemonSet %s so its pods take the new role", ds);
			c->progress(c, line);
			free(line);
		}
		struct sf_kube_wait w;
		memset(&w, 0, sizeof w);
		w.timeout_s = c->timeout_s > 0 ? c->timeout_s : ax_wait_deadline(900);
		w.interval_s = ax_delay(2);
		w.cancel = c->cancel;
		json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "apps/v1", "kind", "DaemonSet", "metadata",
					"namespace", ns, "name", slash + 1);
		rc = sf_kube_wait_ready(k, obj, &w, c->err);
		json_decref(obj);
	}
	if (rc < 0)
		sf_err_hint(c->err, "the add-on's associations are in place; its pods still run with the identity they "
				    "started with until restarted: run apply again");
	free(ns);
	return rc;
}

static int describe(struct sf_rctx *c, const json_t *w, json_t **addon)
{
	char *p = apath(w, "");
	int rc = ax_eks_describe(c, p, "addon", addon);
	free(p);
	return rc;
}

/* Wait until the add-on is ACTIVE: 0 and *addon (owned) from the poll that
 * saw it so (no second read), or < 0 with c->err set.  begun: the call
 * just made began the transition (nothing to ask at once), with AX_FINAL
 * when nothing timed follows (ax_wait_final).  siblings: the
 * cluster's name when its add-ons made alongside share one poll loop
 * (ax_wait_siblings), else NULL. */
static int wait_row(struct sf_rctx *c, const char *row, const json_t *w, int begun, const char *siblings,
		    json_t **addon)
{
	json_t *last = NULL;
	*addon = NULL;
	int rc = ax_wait_siblings(c, siblings, sf_aws_waiter_find(row), wait_args(w), 1800, "add-on", begun, &last);
	if (!rc && json_is_object(json_object_get(last, "addon")))
		*addon = json_incref(json_object_get(last, "addon"));
	else if (!rc)
		rc = describe(c, w, addon);
	json_decref(last);
	return rc;
}

static int wait_active(struct sf_rctx *c, const json_t *w, int begun, const char *siblings, json_t **addon)
{
	return wait_row(c, "eks.AddonActive", w, begun, siblings, addon);
}

/* The same until a new add-on is ACTIVE or DEGRADED, which settle()
 * judges: its creation is over. */
static int wait_settled(struct sf_rctx *c, const json_t *w, int begun, const char *siblings, json_t **addon)
{
	return wait_row(c, "eks.AddonSettled", w, begun, siblings, addon);
}

/* The add-on's health issues as one line ("code: message; ..."), owned. */
static char *issues_line(const json_t *addon)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t i;
	json_t *is;
	json_array_foreach(json_object_get(json_object_get(addon, "health"), "issues"), i, is) {
		if (i)
			sf_buf_puts(&b, "; ");
		sf_buf_puts(&b, ax_s(is, "code") ? ax_s(is, "code") : "?");
		if (ax_s(is, "message")) {
			sf_buf_puts(&b, ": ");
			sf_buf_puts(&b, ax_s(is, "message"));
		}
	}
	if (!b.len)
		sf_buf_puts(&b, "no health issue given");
	return sf_buf_detach(&b);
}

/* DEGRADED only for want of replicas: the add-on's pods found no node. */
static int needs_nodes(const json_t *addon)
{
	const json_t *v = json_object_get(json_object_get(addon, "health"), "issues");
	size_t i;
	json_t *is;
	json_array_foreach(v, i, is) if (!ax_s(is, "code") || strcmp(ax_s(is, "code"), "InsufficientNumberOfReplicas"))
		return 0;
	return json_array_size(v) > 0;
}

/* How long EKS may take, official seconds, to see a Deployment add-on's
 * pods run once the nodes are up, before a DEGRADED add-on is an error. */
#define NODES_GRACE_S 120.0

/* A created add-on that settled (eks.AddonSettled) into *addon (owned,
 * replaced as it is read again): 0 once it is ACTIVE.  DEGRADED for want
 * of replicas waits while this run has node groups to make or change
 * (c->pending), then reads the add-on again at the row's pace for
 * NODES_GRACE_S at most; any other DEGRADED, or one that outlasts that,
 * fails naming its issues. */
static int settle(struct sf_rctx *c, const json_t *w, json_t **addon)
{
	double deadline = sf_mono() + (c->timeout_s > 0 ? c->timeout_s : ax_wait_deadline(1800)), nodes_up = 0;
	int held = 0;
	for (;;) {
		const char *st = ax_s(*addon, "status");
		if (st && !strcmp(st, "ACTIVE"))
			return 0;
		int waits = st && !strcmp(st, "DEGRADED") && needs_nodes(*addon);
		while (waits && c->pending && c->pending(c, "eks_nodegroup") > 0) {
			if (!held && c->progress)
				c->progress(c, "add-on: DEGRADED until a node runs its pods: waiting for the node groups");
			held = 1;
			if (sf_mono() >= deadline)
				return sf_fail(c->err, SF_ETIMEOUT, "%s: add-on %s still DEGRADED while the node groups come up",
					       c->address, ax_s(w, "addon_name"));
			int rc = ax_sleep(c, 0.1);
			if (rc < 0)
				return rc;
		}
		double now = sf_mono();
		if (waits && !nodes_up)
			nodes_up = now;
		if (!waits || now - nodes_up >= ax_delay(NODES_GRACE_S) || now >= deadline) {
			char *why = issues_line(*addon);
			sf_fail(c->err, SF_ERROR, "%s: add-on %s is %s: %s", c->address, ax_s(w, "addon_name"),
				st ? st : "in no known state", why);
			free(why);
			if (waits)
				sf_err_hint(c->err, "no node runs its pods although the node groups are up: give the cluster a "
						    "runc node group with at least one node and without NoSchedule taints");
			return c->err->code;
		}
		if (held) { /* the node groups are done: read it at once, then at the row's pace */
			held = 0;
		} else {
			int rc = ax_sleep(c, ax_delay(10));
			if (rc < 0)
				return rc;
		}
		json_t *next = NULL;
		int rc = describe(c, w, &next);
		if (rc < 0)
			return rc;
		json_decref(*addon);
		*addon = next;
	}
}

/* Ownership: the add-on's tags; its id is "cluster/addon". */
static int ad_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	char *p = apath(a_, ""), *arn = NULL;
	int rc = ax_eks_marks(c, p, "addon", "addonArn", tags, &arn, NULL);
	free(p);
	free(arn);
	if (!rc && id)
		*id = xasprintf("%s/%s", ax_s(a_, "cluster_name"), ax_s(a_, "addon_name"));
	return rc;
}

static int ad_claim(struct sf_rctx *c, const json_t *a_, const json_t *tags)
{
	json_t *t = NULL;
	char *arn = NULL, *p = apath(a_, "");
	int rc = ax_eks_marks(c, p, "addon", "addonArn", &t, &arn, NULL);
	free(p);
	json_decref(t);
	if (!rc)
		rc = ax_eks_claim(c, arn, tags);
	free(arn);
	return rc;
}

static json_t *output(const json_t *want, const json_t *addon)
{
	json_t *out = ax_out(want);
	json_object_set_new(out, "arn", json_string(ax_s(addon, "addonArn") ? ax_s(addon, "addonArn") : ""));
	json_object_set_new(out, "version", json_string(ax_s(addon, "addonVersion") ? ax_s(addon, "addonVersion") : ""));
	return out;
}

static int ad_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *ver = NULL;
	int rc = target_version(c, want, &ver);
	if (rc < 0)
		return rc;
	char *cfg = config_string(want);
	json_t *body = json_pack("{s:s, s:s, s:o, s:s}", "addonName", ax_s(want, "addon_name"), "resolveConflicts",
				 "OVERWRITE", "tags", ax_tags(c, want, 0), "clientRequestToken",
				 c->token ? c->token : ax_s(want, "addon_name"));
	if (ver)
		json_object_set_new(body, "addonVersion", json_string(ver));
	if (cfg)
		json_object_set_new(body, "configurationValues", json_string(cfg));
	if (json_object_size(json_object_get(want, "pod_identity")))
		json_object_set_new(body, "podIdentityAssociations", pias_param(want));
	/* keyed by its name on the cluster: a taken one or a lost reply is
	 * this state's only on proof (the one create path) */
	char *p = apath(want, NULL), *made = NULL;
	struct ax_own_name n = {&own, want};
	struct ax_create_def d = {.service = "eks", .op = "CreateAddon", .id_key = "addonName", .find = ax_own_find,
				  .find_ctx = &n, .exists = "ResourceInUseException"};
	json_t *made_reply = NULL;
	rc = ax_create_at(c, &d, p, body, &made_reply, &made);
	int begun = made_reply != NULL;
	json_decref(made_reply);
	free(made);
	free(p);
	free(ver);
	free(cfg);
	json_t *addon = NULL;
	if (rc < 0)
		return rc;
	char *id = xasprintf("%s/%s", ax_s(want, "cluster_name"), ax_s(want, "addon_name"));
	if (c->record_id)
		c->record_id(c, id);
	free(id);
	/* the final wait: while what waits for the add-on waits for something
	 * else still at work (coredns: only the run's end), it sleeps first */
	rc = wait_settled(c, want, begun | AX_FINAL, ax_s(want, "cluster_name"), &addon);
	if (!rc)
		rc = settle(c, want, &addon);
	if (!rc)
		*out = output(want, addon);
	json_decref(addon);
	return rc;
}

static int ad_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *addon = NULL;
	int rc = describe(c, prior, &addon);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	json_object_set_new(*out, "version", json_string(ax_s(addon, "addonVersion") ? ax_s(addon, "addonVersion") : ""));
	if (ax_s(prior, "addon_version"))
		json_object_set_new(*out, "addon_version", json_string(ax_s(addon, "addonVersion") ? ax_s(addon, "addonVersion") : ""));
	const char *cv = ax_s(addon, "configurationValues");
	json_t *live = cv && *cv ? json_loads(cv, 0, NULL) : NULL;
	if (json_object_size(live) || json_object_get(prior, "configuration_values"))
		json_object_set_new(*out, "configuration_values", json_is_object(live) ? json_incref(live) : json_object());
	json_decref(live);
	json_t *pias = NULL;
	int prc = pias_live(c, prior, addon, &pias);
	if (prc == 0 && (json_object_size(pias) || json_object_get(prior, "pod_identity")))
		json_object_set(*out, "pod_identity", pias);
	json_decref(pias);
	json_decref(addon);
	if (prc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return prc;
}

static int ad_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	/* An update a killed run left in flight: EKS refuses another until it
	 * ends (ResourceInUseException), and it may already be this one. */
	json_t *addon = NULL;
	int rc = describe(c, want, &addon);
	const char *st = rc ? NULL : ax_s(addon, "status");
	if (st && (!strcmp(st, "UPDATING") || !strcmp(st, "CREATING"))) {
		json_decref(addon);
		rc = wait_active(c, want, 0, NULL, &addon);
	}
	/* the version moves with a pin, or with the Kubernetes version it is for */
	char *ver = NULL;
	if (!rc && (ax_s(want, "addon_version") || ax_changed(prior, want, "kubernetes_version")))
		rc = target_version(c, want, &ver);
	if (rc < 0) {
		json_decref(addon);
		return rc;
	}
	int move = ver && (!ax_s(addon, "addonVersion") || strcmp(ver, ax_s(addon, "addonVersion")));
	int identity = ax_changed(prior, want, "pod_identity");
	if (move || identity || ax_changed(prior, want, "configuration_values")) {
		char *cfg = config_string(want);
		json_t *body = json_pack("{s:s, s:s, s:s}", "resolveConflicts", "OVERWRITE", "configurationValues",
					 cfg ? cfg : "", "clientRequestToken",
					 c->token ? c->token : ax_s(want, "addon_name"));
		free(cfg);
		if (move)
			json_object_set_new(body, "addonVersion", json_string(ver));
		if (identity) /* the whole list: EKS replaces the add-on's associations with it */
			json_object_set_new(body, "podIdentityAssociations", pias_param(want));
		if (c->progress && move) {
			char *line = xasprintf("add-on version %s -> %s", ax_s(addon, "addonVersion") ? ax_s(addon, "addonVersion") : "?", ver);
			c->progress(c, line);
			free(line);
		}
		json_decref(addon);
		addon = NULL;
		char *p = apath(want, "/update");
		json_t *o = NULL;
		rc = ax_eks(c, "POST", p, body, &o);
		free(p);
		const char *uid = rc ? NULL : ax_s(json_object_get(o, "update"), "id");
		if (uid) {
			json_t *args = wait_args(want);
			json_object_set_new(args, "updateId", json_string(uid));
			rc = ax_wait(c, sf_aws_waiter_find("eks.AddonUpdateSuccessful"), args, 1800, "add-on update");
		}
		json_decref(o);
		if (!rc)
			rc = wait_active(c, want, 0, NULL, &addon);
		if (!rc && identity)
			rc = restart_workload(c, want);
	}
	free(ver);
	if (!rc)
		*out = output(want, addon);
	json_decref(addon);
	return rc;
}

/* A pin EKS does not offer for the add-on's Kubernetes version, or an
 * unpinned add-on without a default for it, fails the plan: at apply the
 * control plane would already have moved when UpdateAddon refuses.  Asked
 * only when the add-on is new or its versions change; a list that cannot
 * be read is a warning (apply resolves the version again), as for the
 * cluster's own version list. */
static int ad_plan_review(struct sf_rctx *c, const json_t *before, const json_t *want)
{
	const char *k8s = ax_s(want, "kubernetes_version"), *pin = ax_s(want, "addon_version");
	const char *name = ax_s(want, "addon_name");
	if (!k8s || !name ||
	    (before && !ax_changed(before, want, "kubernetes_version") && !ax_changed(before, want, "addon_version")))
		return 0;
	json_t *vs = NULL;
	int rc = offered(c, name, k8s, &vs);
	if (rc < 0) {
		char *m = xasprintf("EKS's versions of add-on %s could not be read (%s); apply resolves the version", name,
				    c->err->msg);
		if (c->warn)
			c->warn(c, m);
		free(m);
		sf_err_clear(c->err);
		return 0;
	}
	if (pin && !offers(vs, pin)) {
		struct sf_buf b = SF_BUF_INIT;
		size_t i;
		json_t *a;
		json_array_foreach(vs, i, a) sf_buf_printf(&b, "%s%s", i ? ", " : "", ax_s(a, "addonVersion"));
		rc = sf_fail(c->err, SF_EINVAL, "%s: add-on %s %s is not offered for Kubernetes %s (EKS offers: %s)",
			     c->address, name, pin, k8s, json_array_size(vs) ? sf_buf_cstr(&b) : "none");
		sf_buf_release(&b);
		if (ax_s(want, "version_where"))
			sf_err_where(c->err, "%s", ax_s(want, "version_where"));
	} else if (!pin && !default_in(vs, k8s)) {
		rc = sf_fail(c->err, SF_EINVAL,
			     "%s: EKS names no default version of add-on %s for Kubernetes %s; pin one in spec.addons.%s.version",
			     c->address, name, k8s, name);
	}
	json_decref(vs);
	return rc;
}

static int ad_destroy(struct sf_rctx *c, const json_t *prior)
{
	char *p = apath(prior, "");
	int rc = ax_eks(c, "DELETE", p, NULL, NULL);
	free(p);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	if (!rc)
		rc = ax_wait_begun(c, sf_aws_waiter_find("eks.AddonDeleted"), wait_args(prior), 1800, "add-on", NULL);
	return rc;
}

static const struct sf_own own = {
	.kind = SF_OWN_TAGS,
	.noun = "EKS add-on",
	.proof = "tags secfaas:lineage + secfaas:address (or secfaas:token) on the add-on",
	.marks = ad_marks,
	.claim = ad_claim,
	.why_taken = "an add-on of that name is already installed on the cluster (by EKS, a console user or another "
		     "tool), so leave it out of this spec",
	.deleted_with = "eks_cluster",
};

const struct sf_rtype sf_rt_eks_addon = {
	.own = &own,
	.name = "eks_addon",
	.schema_version = 1,
	.typical = {.create = {30, 120}, .update = {30, 120}, .delete = {15, 60}},
	.attrs = attrs,
	.create = ad_create,
	.read = ad_read,
	.update = ad_update,
	.destroy = ad_destroy,
	.plan_review = ad_plan_review,
};
