/*
 * k8s_gvisor_guard.c - keep every pod of a namespace in the gVisor
 * RuntimeClass, failing closed (docs/gvisor-functions.md).
 *
 * create/update, in order:
 *   1. the deny guard: a ValidatingAdmissionPolicy + binding refusing any pod
 *      in the namespace without the class, or with host namespaces, hostPath
 *      volumes, host ports or privileged containers of any kind (also those
 *      added later as ephemeral containers; manifests/k8s/gvisor-guard.yaml);
 *   2. the mutator, which sets the class (and the sandbox node selector and
 *      toleration) on every pod created there, so functions deployed
 *      through the gateway later need no secfaas run.  Which one comes from
 *      discovery, not from the spec (`mutate: auto`):
 *        - MutatingAdmissionPolicy (manifests/k8s/gvisor-mutator.yaml) where
 *          the API server serves it in admissionregistration.k8s.io/v1
 *          (1.36+): in-process, nothing to run;
 *        - otherwise a mutating webhook run in the cluster
 *          (resources/gvisor_webhook.h), failurePolicy Fail;
 *      switching (e.g. after a control-plane upgrade) removes the other;
 *   3. a self-test with dry-run pods: one without the class must be refused
 *      (or, with the mutator, come back with the class and without
 *      privilege escalation), one with the class must be admitted, a
 *      hostNetwork one and one asking for a service-account token must be
 *      refused;
 *   4. repair: every function Deployment (label faas_function) whose pod
 *      template lacks the class gets a merge patch that sets it.
 * read reports `compliant: false` (and why, in `drift`) when a policy or
 * webhook object is missing, tampered with or older than this binary's
 * templates, the webhook is unavailable or
 * its certificate due, the self-test fails, the server now calls for the
 * other mutator, or (without a mutator) a function Deployment lacks the
 * class; plan shows it and apply repairs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imageref.h"
#include "kube/kube.h"
#include "kube/template.h"
#include "provisioner/node/render.h"
#include "resources/gvisor_webhook.h"
#include "resources/types_k8s.h"
#include "util.h"

#define MAP_GV "admissionregistration.k8s.io/v1"

static const struct sf_attr_def attrs[] = {
	SF_K8S_CONN_ATTRS,
	{"namespace", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "namespace whose pods must run in gVisor"},
	{"runtime_class", SF_AT_STRING, SF_ATTR_REQUIRED, "the gVisor RuntimeClass name"},
	{"mutate", SF_AT_STRING, SF_ATTR_OPTIONAL,
	 "auto (default: admission policy where served, else webhook), policy, webhook, or off (deny guard only)"},
	{"webhook_namespace", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "where the webhook server runs (default openfaas)"},
	{"webhook_image", SF_AT_STRING, SF_ATTR_OPTIONAL, "Python image for the webhook server (default pinned; for mirrors)"},
	{"compliant", SF_AT_BOOL, SF_ATTR_OPTIONAL, "desired true; read reports false on drift (missing policy, unpatched function)"},
	{"mutator", SF_AT_STRING, SF_ATTR_COMPUTED, "mutating-admission-policy, webhook or none"},
	{"drift", SF_AT_STRING, SF_ATTR_COMPUTED, "why read found the route not compliant (empty when it is)"},
	{"repaired", SF_AT_INT, SF_ATTR_COMPUTED, "function Deployments patched by the last apply"},
	{"webhook_ca_key", SF_AT_STRING, SF_ATTR_COMPUTED | SF_ATTR_SENSITIVE, "webhook CA key"},
	{"webhook_ca_cert", SF_AT_STRING, SF_ATTR_COMPUTED, "webhook CA certificate"},
	{"webhook_ca_bundle", SF_AT_STRING, SF_ATTR_COMPUTED, "caBundle of the webhook configuration"},
	{"webhook_tls_key", SF_AT_STRING, SF_ATTR_COMPUTED | SF_ATTR_SENSITIVE, "webhook serving key"},
	{"webhook_tls_cert", SF_AT_STRING, SF_ATTR_COMPUTED, "webhook serving certificate"},
	{"webhook_tls_expires", SF_AT_STRING, SF_ATTR_COMPUTED, "when the serving certificate expires (renewed 30 days before)"},
	{NULL, 0, 0, NULL},
};

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* RFC 1123 label (max 63) or, with dots allowed, subdomain (max 253): the
 * names Kubernetes accepts for namespaces and RuntimeClasses. */
static int dns_name_ok(const char *s, size_t max, int dots)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int an = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (an)
			continue;
		if (c == '-' && i && i + 1 < n && s[i + 1] != '.' && s[i - 1] != '.')
			continue;
		if (c == '.' && dots && i && i + 1 < n && s[i - 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

static int validate(const json_t *want, struct sf_err *err)
{
	const char *m = sget(want, "mutate"), *img = sget(want, "webhook_image");
	char why[160];
	if (m && strcmp(m, "auto") && strcmp(m, "policy") && strcmp(m, "webhook") && strcmp(m, "off"))
		return sf_fail(err, SF_EINVAL, "mutate must be auto, policy, webhook or off, not \"%s\"", m);
	/* These names end up inside the guard's CEL expressions and messages. */
	if (sget(want, "namespace") && !dns_name_ok(sget(want, "namespace"), 63, 0))
		return sf_fail(err, SF_EINVAL, "namespace \"%s\" is not a Kubernetes namespace name (RFC 1123 label)",
			       sget(want, "namespace"));
	if (sget(want, "webhook_namespace") && !dns_name_ok(sget(want, "webhook_namespace"), 63, 0))
		return sf_fail(err, SF_EINVAL, "webhook_namespace \"%s\" is not a Kubernetes namespace name (RFC 1123 label)",
			       sget(want, "webhook_namespace"));
	if (sget(want, "runtime_class") && !dns_name_ok(sget(want, "runtime_class"), 253, 1))
		return sf_fail(err, SF_EINVAL, "runtime_class \"%s\" is not a RuntimeClass name (RFC 1123 subdomain)",
			       sget(want, "runtime_class"));
	if (img && sf_image_ref_parse(img, NULL, why, sizeof why) < 0)
		return sf_fail(err, SF_EINVAL, "webhook_image \"%s\" is not an image reference: %s", img, why);
	return 0;
}

#define GUARD_YAML "manifests/k8s/gvisor-guard.yaml"
#define POLICY_YAML "manifests/k8s/gvisor-mutator.yaml"

/* The objects of one template (GUARD_YAML, POLICY_YAML) for these attributes. */
static int docs_of(const json_t *a, const char *file, json_t **out, struct sf_err *err)
{
	const char *ns = sget(a, "namespace"), *rc_name = sget(a, "runtime_class");
	char *policy = xasprintf("secfaas-%s-gvisor", ns);
	const char *vars[] = {"NAMESPACE", ns, "RUNTIME_CLASS", rc_name, "POLICY", policy, "SANDBOX_KEY", SF_SANDBOX_KEY,
			      "SANDBOX_VALUE", SF_SANDBOX_VALUE, "SANDBOX_EFFECT", SF_SANDBOX_EFFECT, NULL};
	int rc = sf_kube_template(out, file, vars, err);
	free(policy);
	return rc;
}

/* 1 when every field `want` sets is in `live` with the same value, lists
 * item by item and of the same length; what the API server defaults into
 * live (matchPolicy, selectors, scope) is no difference.  So an object left
 * by an older secfaas, or edited in the cluster, shows as drift and apply
 * puts this binary's version back. */
static int covers(const json_t *want, const json_t *live)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(want)) {
		if (!json_is_object(live))
			return 0;
		json_object_foreach((json_t *)want, k, v) if (!covers(v, json_object_get(live, k))) return 0;
		return 1;
	}
	if (json_is_array(want)) {
		if (!json_is_array(live) || json_array_size(want) != json_array_size(live))
			return 0;
		json_array_foreach(want, i, v) if (!covers(v, json_array_get(live, i))) return 0;
		return 1;
	}
	return live && json_equal(want, live);
}

/* The guard (and maybe the policy mutator) objects for these attributes. */
static int objects(const json_t *a, int with_policy, json_t **out, struct sf_err *err)
{
	json_t *mut = NULL;
	int rc = docs_of(a, GUARD_YAML, out, err);
	if (rc == 0 && with_policy && (rc = docs_of(a, POLICY_YAML, &mut, err)) == 0)
		json_array_extend(*out, mut);
	json_decref(mut);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static json_t *probe_pod(const char *ns, const char *rclass, int host_network)
{
	json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1", "kind", "Pod",
			      "metadata", "name", "secfaas-guard-selftest", "namespace", ns, "spec", "containers", "name",
			      "probe", "image", "ghcr.io/openfaas/alpine:3.20");
	json_t *spec = json_object_get(p, "spec");
	/* explicit, so the test does not depend on the namespace's account */
	json_object_set_new(spec, "automountServiceAccountToken", json_false());
	/* a user the restricted profile accepts (the mutator sets the rest of
	 * it but not the user: a function image may need root), so the API
	 * server's PodSecurity warnings on every apply are not about the
	 * probes themselves */
	json_object_set_new(spec, "securityContext", json_pack("{s:b, s:i}", "runAsNonRoot", 1, "runAsUser", 65534));
	if (rclass)
		json_object_set_new(spec, "runtimeClassName", json_string(rclass));
	if (host_network)
		json_object_set_new(spec, "hostNetwork", json_true());
	return p;
}

/* Dry-run create of a pod; 0 admitted (*out the admitted pod), else the
 * admission error. */
static int dry_pod(struct sf_kube *k, json_t *pod, json_t **out, struct sf_err *err)
{
	char *body = json_dumps(pod, JSON_COMPACT);
	char *path = xasprintf("/api/v1/namespaces/%s/pods?dryRun=All",
			       json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace")));
	int rc = sf_kube_request(k, "POST", path, "application/json", body, NULL, out, err);
	free(body);
	free(path);
	return rc;
}

/* 0 if admission behaves as promised, else SF_ERROR with why in err. */
static int self_test(struct sf_kube *k, const json_t *a, int mutator, struct sf_err *err)
{
	const char *ns = sget(a, "namespace"), *rcn = sget(a, "runtime_class");
	json_t *pod = probe_pod(ns, NULL, 0), *got = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = dry_pod(k, pod, &got, &e);
	json_decref(pod);
	if (rc == 0) {
		const char *cls = sget(json_object_get(got, "spec"), "runtimeClassName");
		int ok = mutator && cls && !strcmp(cls, rcn);
		const json_t *sc = json_object_get(json_array_get(json_object_get(json_object_get(got, "spec"), "containers"), 0),
						   "securityContext");
		int restricted = json_is_false(json_object_get(sc, "allowPrivilegeEscalation"));
		json_decref(got);
		if (!ok)
			return sf_fail(err, SF_ERROR,
				       "gVisor guard self-test: a pod without RuntimeClass %s was admitted in %s%s%s (fail-open)",
				       rcn, ns, cls ? " with class " : "", cls ? cls : "");
		if (!restricted)
			return sf_fail(err, SF_ERROR,
				       "gVisor guard self-test: the mutator admitted a pod in %s without allowPrivilegeEscalation: false (an older mutator?)",
				       ns);
	} else if (rc != SF_EINVAL && rc != SF_EAUTH) {
		*err = e;
		return rc;
	} else if (mutator) {
		return sf_fail(err, SF_ERROR, "gVisor guard self-test: the mutator did not admit a plain pod in %s: %s", ns,
			       e.msg);
	}
	pod = probe_pod(ns, rcn, 0);
	got = NULL;
	rc = dry_pod(k, pod, &got, &e);
	json_decref(pod);
	json_decref(got);
	if (rc < 0)
		return sf_fail(err, SF_ERROR, "gVisor guard self-test: a pod with RuntimeClass %s was refused in %s: %s", rcn,
			       ns, e.msg);
	pod = probe_pod(ns, rcn, 1);
	got = NULL;
	rc = dry_pod(k, pod, &got, &e);
	json_decref(pod);
	json_decref(got);
	if (rc == 0)
		return sf_fail(err, SF_ERROR, "gVisor guard self-test: a hostNetwork pod was admitted in %s", ns);
	/* a pod asking for a service-account token is refused */
	pod = probe_pod(ns, rcn, 0);
	json_object_set_new(json_object_get(pod, "spec"), "automountServiceAccountToken", json_true());
	got = NULL;
	rc = dry_pod(k, pod, &got, &e);
	json_decref(pod);
	json_decref(got);
	if (rc == 0)
		return sf_fail(err, SF_ERROR, "gVisor guard self-test: a pod with a service-account token was admitted in %s",
			       ns);
	return 0;
}

/* Count the function Deployments whose pod template lacks the class, and
 * merge-patch the class in when `fix`. Returns the count or < 0. */
static int unpatched(struct sf_kube *k, const json_t *a, int fix, struct sf_err *err)
{
	const char *ns = sget(a, "namespace"), *rcn = sget(a, "runtime_class");
	json_t *list = NULL;
	int rc = sf_kube_list(k, "apps/v1", "Deployment", ns, "faas_function", &list, err);
	if (rc < 0)
		return rc;
	int n = 0;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(list, "items"), i, d)
	{
		const json_t *ps = json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec");
		const char *cls = sget(ps, "runtimeClassName");
		if (cls && !strcmp(cls, rcn))
			continue;
		n++;
		if (!fix)
			continue;
		json_t *patch = json_pack("{s:{s:{s:{s:s}}}}", "spec", "template", "spec", "runtimeClassName", rcn);
		struct sf_err e = SF_ERR_INIT;
		const char *name = sget(json_object_get(d, "metadata"), "name");
		rc = sf_kube_merge_patch(k, "apps/v1", "Deployment", ns, name, patch, NULL, &e);
		json_decref(patch);
		if (rc < 0 && rc != SF_ENOTFOUND) { /* deleted meanwhile: nothing to repair */
			*err = e;
			json_decref(list);
			return rc;
		}
	}
	json_decref(list);
	return n;
}

enum mode { M_NONE, M_POLICY, M_WEBHOOK };
static const char *const mode_names[] = {"none", "mutating-admission-policy", "webhook"};

static enum mode mode_of(const json_t *a)
{
	const char *m = sget(a, "mutator");
	for (int i = 0; m && i < 3; i++)
		if (!strcmp(m, mode_names[i]))
			return (enum mode)i;
	return M_NONE;
}

/* Which mutator `want` asks for on this server. */
static int choose(struct sf_kube *k, const json_t *want, enum mode *out, struct sf_err *err)
{
	const char *m = sget(want, "mutate");
	int serves = sf_kube_serves(k, MAP_GV, "MutatingAdmissionPolicy");
	if (m && !strcmp(m, "off"))
		*out = M_NONE;
	else if (m && !strcmp(m, "webhook"))
		*out = M_WEBHOOK;
	else if (m && !strcmp(m, "policy") && !serves)
		return sf_fail(err, SF_EINVAL,
			       "mutate: policy needs MutatingAdmissionPolicy in %s (Kubernetes 1.36 or later), which this API server does not serve; use mutate: auto",
			       MAP_GV);
	else
		*out = serves ? M_POLICY : M_WEBHOOK;
	return 0;
}

/* Delete the objects of a mutator no longer wanted (absent is fine). */
static int remove_mutator(struct sf_kube *k, const json_t *a, enum mode m, struct sf_err *err)
{
	if (m == M_WEBHOOK)
		return sf_gvw_delete(k, a, err);
	if (m != M_POLICY)
		return 0;
	json_t *docs = NULL;
	int rc = docs_of(a, POLICY_YAML, &docs, err);
	if (rc == 0) /* bindings (listed last) before their policies */
		rc = sf_kube_delete_objects(k, docs, err);
	json_decref(docs);
	return rc;
}

/* The self-test right after a mutator was (re)applied: a real API server
 * picks up new admission configuration within a second or so, so a refusal
 * is retried briefly before it counts. */
struct settle {
	struct sf_kube *k;
	const json_t *a;
	struct sf_err last; /* the latest refusal */
};

static int poll_settled(void *ctx, char *status, size_t n, struct sf_err *err)
{
	struct settle *s = ctx;
	(void)err;
	sf_err_clear(&s->last);
	if (self_test(s->k, s->a, 1, &s->last) == 0) {
		snprintf(status, n, "gVisor guard self-test passed");
		return SF_WAIT_DONE;
	}
	snprintf(status, n, "waiting for the API server to apply the gVisor mutator");
	return SF_WAIT_PENDING;
}

static int self_test_settled(struct sf_rctx *c, struct sf_kube *k, const json_t *a, int mutator)
{
	if (!mutator)
		return self_test(k, a, 0, c->err);
	struct settle s = {k, a, SF_ERR_INIT};
	struct sf_kube_wait w;
	sf_k8s_wait_opts(c, &w, 15);
	w.timeout_s = 15;
	int rc = sf_kube_wait_until(&w, poll_settled, &s, c->err);
	if (rc < 0 && s.last.code) { /* the self-test's own finding says more than the wait's */
		*c->err = s.last;
		rc = s.last.code;
	}
	return rc;
}

static int converge(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, want);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	enum mode m = M_NONE, was = prior ? mode_of(prior) : M_NONE;
	int rc = choose(k, want, &m, c->err);
	if (rc < 0)
		return rc;
	json_t *res = json_deep_copy(want), *docs = NULL;
	json_object_set_new(res, "mutator", json_string(mode_names[m]));
	if (m == M_WEBHOOK && (rc = sf_gvw_tls(prior, res, time(NULL), NULL, c->err)) < 0)
		goto out;
	/* The deny guard first, so the namespace fails closed from here on. */
	if ((rc = objects(res, m == M_POLICY, &docs, c->err)) < 0)
		goto out;
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o) if (rc == 0) rc = sf_kube_apply(k, o, SF_KUBE_FORCE, NULL, c->err);
	if (rc == 0 && m == M_WEBHOOK) {
		struct sf_kube_wait w;
		sf_k8s_wait_opts(c, &w, 300);
		if (c->progress)
			c->progress(c, "rolling out the gVisor admission webhook");
		rc = sf_gvw_apply(k, res, &w, c->err);
	}
	if (rc == 0 && was != m && prior)
		rc = remove_mutator(k, prior, was, c->err);
	if (rc < 0 || (rc = self_test_settled(c, k, res, m != M_NONE)) < 0)
		goto out;
	int fixed = unpatched(k, res, 1, c->err);
	if (fixed < 0) {
		rc = fixed;
		goto out;
	}
	json_object_set_new(res, "repaired", json_integer(fixed));
	json_object_set_new(res, "drift", json_string(""));
	if (!json_object_get(res, "compliant"))
		json_object_set_new(res, "compliant", json_true());
	*out = res;
	res = NULL;
out:
	json_decref(docs);
	json_decref(res);
	return rc;
}

static int create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	return converge(c, NULL, want, out);
}

static int update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	return converge(c, prior, want, out);
}

static int read_(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	enum mode m = mode_of(prior), want_m = m;
	char why[512] = "";
	struct sf_err e = SF_ERR_INIT;
	if (choose(k, prior, &want_m, &e) == 0 && want_m != m)
		snprintf(why, sizeof why, "the API server now calls for the %s mutator (was %s)", mode_names[want_m],
			 mode_names[m]);
	json_t *docs = NULL;
	int rc = objects(prior, m == M_POLICY, &docs, c->err);
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o)
	{
		json_t *live = NULL;
		sf_err_clear(&e);
		const char *kind = sget(o, "kind"), *name = sget(json_object_get(o, "metadata"), "name");
		int g = rc < 0 ? 0 : sf_kube_get(k, sget(o, "apiVersion"), kind, NULL, name, &live, &e);
		int same = g < 0 || !live || covers(json_object_get(o, "spec"), json_object_get(live, "spec"));
		json_decref(live);
		if (g == SF_ENOTFOUND && !why[0])
			snprintf(why, sizeof why, "%s %s is missing", kind, name);
		else if (g == 0 && !same && !why[0])
			snprintf(why, sizeof why, "%s %s is not the one secfaas installs (an older version, or edited)", kind,
				 name);
		else if (g < 0 && g != SF_ENOTFOUND) {
			*c->err = e;
			rc = g;
		}
	}
	json_decref(docs);
	if (rc == 0 && m == M_WEBHOOK && !why[0])
		rc = sf_gvw_check(k, prior, time(NULL), why, sizeof why, c->err);
	if (rc < 0)
		return rc;
	sf_err_clear(&e);
	if (!why[0] && self_test(k, prior, m != M_NONE, &e) < 0)
		snprintf(why, sizeof why, "%s", e.msg);
	/* With a mutator, a function Deployment without the class is fine (its
	 * pods get it at admission; apply still patches it, so pods keep the class
	 * if the mutator breaks), and a tenant's deploy must not show as drift. */
	int n = m == M_NONE ? unpatched(k, prior, 0, c->err) : 0;
	if (n < 0)
		return n;
	if (n > 0 && !why[0])
		snprintf(why, sizeof why, "%d function Deployment(s) without RuntimeClass %s", n, sget(prior, "runtime_class"));
	*out = json_deep_copy(prior);
	json_object_set_new(*out, "compliant", json_boolean(!why[0]));
	json_object_set_new(*out, "drift", json_string(why));
	return 0;
}

static int destroy(struct sf_rctx *c, const json_t *prior)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	/* Mutators first (pods stop depending on the webhook server at once),
	 * the deny guard last. */
	int rc = remove_mutator(k, prior, mode_of(prior), c->err);
	json_t *docs = NULL;
	if (rc == 0)
		rc = docs_of(prior, GUARD_YAML, &docs, c->err);
	if (rc == 0)
		rc = sf_kube_delete_objects(k, docs, c->err);
	json_decref(docs);
	return rc;
}

static const struct sf_own own = {
	.kind = SF_OWN_PARENT,
	.noun = "gVisor admission guard",
	.proof = "lives in the cluster its endpoint names; its objects carry secfaas's names and labels",
	.parent_type = "eks_cluster",
};

const struct sf_rtype sf_rt_k8s_gvisor_guard = {
	.own = &own,
	.name = "k8s_gvisor_guard",
	.schema_version = 1,
	.typical = {.create = {10, 60}},
	.attrs = attrs,
	.create = create,
	.read = read_,
	.update = update,
	.destroy = destroy,
	.validate = validate,
};
