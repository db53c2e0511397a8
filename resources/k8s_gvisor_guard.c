/*
 * k8s_gvisor_guard.c - keep every pod of a namespace in the gVisor
 * RuntimeClass, failing closed (docs/gvisor-functions.md).
 *
 * create/update, in order:
 *   1. the deny guard: a ValidatingAdmissionPolicy + binding refusing any pod
 *      in the namespace without the class, or with host namespaces or
 *      privileged containers (manifests/k8s/gvisor-guard.yaml);
 *   2. the mutator, when discovery shows the API server serves
 *      MutatingAdmissionPolicy in admissionregistration.k8s.io/v1 (1.36+):
 *      sets the class on every pod created there, so functions deployed
 *      through the gateway later need no secfaas run
 *      (manifests/k8s/gvisor-mutator.yaml);
 *   3. a self-test with dry-run pods: one without the class must be refused
 *      (or, with the mutator, come back with the class), one with the class
 *      must be admitted, a hostNetwork one must be refused;
 *   4. repair: every function Deployment (label faas_function) whose pod
 *      template lacks the class gets a merge patch that sets it.
 * read reports `compliant: false` when a policy is missing, the self-test
 * fails or a function Deployment lacks the class, so plan shows the drift
 * and apply repairs it.
 */
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "kube/template.h"
#include "provisioner/cluster.h"
#include "resources/types_k8s.h"
#include "util.h"

#define MAP_GV "admissionregistration.k8s.io/v1"

static const struct sf_attr_def attrs[] = {
	SF_K8S_CONN_ATTRS,
	{"namespace", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "namespace whose pods must run in gVisor"},
	{"runtime_class", SF_AT_STRING, SF_ATTR_REQUIRED, "the gVisor RuntimeClass name"},
	{"mutate", SF_AT_STRING, SF_ATTR_OPTIONAL, "auto (default: mutator where served) or off (deny guard only)"},
	{"compliant", SF_AT_BOOL, SF_ATTR_OPTIONAL, "desired true; read reports false on drift (missing policy, unpatched function)"},
	{"mutator", SF_AT_STRING, SF_ATTR_COMPUTED, "mutating-admission-policy or none"},
	{"repaired", SF_AT_INT, SF_ATTR_COMPUTED, "function Deployments patched by the last apply"},
	{NULL, 0, 0, NULL},
};

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int validate(const json_t *want, struct sf_err *err)
{
	const char *m = sget(want, "mutate");
	if (m && strcmp(m, "auto") && strcmp(m, "off"))
		return sf_fail(err, SF_EINVAL, "mutate must be auto or off, not \"%s\"", m);
	return 0;
}

/* The guard (and maybe mutator) objects for these attributes. */
static int objects(const json_t *a, int with_mutator, json_t **out, struct sf_err *err)
{
	const char *ns = sget(a, "namespace"), *rc_name = sget(a, "runtime_class");
	char *policy = xasprintf("secfaas-%s-gvisor", ns);
	const char *vars[] = {"NAMESPACE", ns, "RUNTIME_CLASS", rc_name, "POLICY", policy, "SANDBOX_KEY", SF_SANDBOX_KEY,
			      "SANDBOX_VALUE", SF_SANDBOX_VALUE, "SANDBOX_EFFECT", SF_SANDBOX_EFFECT, NULL};
	json_t *docs = NULL, *mut = NULL;
	int rc = sf_kube_template(&docs, "manifests/k8s/gvisor-guard.yaml", vars, err);
	if (rc == 0 && with_mutator && (rc = sf_kube_template(&mut, "manifests/k8s/gvisor-mutator.yaml", vars, err)) == 0)
		json_array_extend(docs, mut);
	json_decref(mut);
	free(policy);
	if (rc < 0) {
		json_decref(docs);
		docs = NULL;
	}
	*out = docs;
	return rc;
}

static json_t *probe_pod(const char *ns, const char *rclass, int host_network)
{
	json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1", "kind", "Pod",
			      "metadata", "name", "secfaas-guard-selftest", "namespace", ns, "spec", "containers", "name",
			      "probe", "image", "ghcr.io/openfaas/alpine:3.20");
	json_t *spec = json_object_get(p, "spec");
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
		json_decref(got);
		if (!ok)
			return sf_fail(err, SF_ERROR,
				       "gVisor guard self-test: a pod without RuntimeClass %s was admitted in %s%s%s (fail-open)",
				       rcn, ns, cls ? " with class " : "", cls ? cls : "");
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

static int converge(struct sf_rctx *c, const json_t *want, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, want);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	const char *m = sget(want, "mutate");
	int mutator = !(m && !strcmp(m, "off")) && sf_kube_serves(k, MAP_GV, "MutatingAdmissionPolicy");
	json_t *docs = NULL;
	int rc = objects(want, mutator, &docs, c->err);
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o) if (rc == 0) rc = sf_kube_apply(k, o, SF_KUBE_FORCE, NULL, c->err);
	json_decref(docs);
	if (rc < 0)
		return rc;
	if ((rc = self_test(k, want, mutator, c->err)) < 0)
		return rc;
	int fixed = unpatched(k, want, 1, c->err);
	if (fixed < 0)
		return fixed;
	*out = json_deep_copy(want);
	json_object_set_new(*out, "mutator", json_string(mutator ? "mutating-admission-policy" : "none"));
	json_object_set_new(*out, "repaired", json_integer(fixed));
	if (!json_object_get(*out, "compliant"))
		json_object_set_new(*out, "compliant", json_true());
	return 0;
}

static int create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	return converge(c, want, out);
}

static int update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	(void)prior;
	return converge(c, want, out);
}

static int read_(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	const char *mut = sget(prior, "mutator");
	int mutator = mut && !strcmp(mut, "mutating-admission-policy");
	json_t *docs = NULL;
	int rc = objects(prior, mutator, &docs, c->err), compliant = 1;
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o)
	{
		json_t *live = NULL;
		struct sf_err e = SF_ERR_INIT;
		int g = sf_kube_get(k, sget(o, "apiVersion"), sget(o, "kind"), NULL,
				    sget(json_object_get(o, "metadata"), "name"), &live, &e);
		json_decref(live);
		if (g == SF_ENOTFOUND)
			compliant = 0;
		else if (g < 0 && rc == 0) {
			*c->err = e;
			rc = g;
		}
	}
	json_decref(docs);
	if (rc < 0)
		return rc;
	struct sf_err e = SF_ERR_INIT;
	if (compliant && self_test(k, prior, mutator, &e) < 0)
		compliant = 0;
	int n = unpatched(k, prior, 0, c->err);
	if (n < 0)
		return n;
	if (n > 0)
		compliant = 0;
	*out = json_deep_copy(prior);
	json_object_set_new(*out, "compliant", json_boolean(compliant));
	return 0;
}

static int destroy(struct sf_rctx *c, const json_t *prior)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	json_t *docs = NULL;
	int rc = objects(prior, 1, &docs, c->err);
	size_t i;
	json_t *o;
	/* Reverse order: bindings before their policies. */
	for (i = json_array_size(docs); rc == 0 && i-- > 0;) {
		o = json_array_get(docs, i);
		rc = sf_kube_delete(k, sget(o, "apiVersion"), sget(o, "kind"), NULL,
				    sget(json_object_get(o, "metadata"), "name"), NULL, c->err);
	}
	json_decref(docs);
	return rc;
}

const struct sf_rtype sf_rt_k8s_gvisor_guard = {
	.name = "k8s_gvisor_guard",
	.schema_version = 1,
	.attrs = attrs,
	.create = create,
	.read = read_,
	.update = update,
	.destroy = destroy,
	.validate = validate,
};
