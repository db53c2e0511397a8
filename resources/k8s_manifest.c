/*
 * k8s_manifest.c - one Kubernetes object, server-side applied.
 *
 * create/update: SSA with fieldManager "secfaas" (force only with
 * --force-conflicts / SECFAAS_FORCE_CONFLICTS), then wait until the object
 * is ready (CRD Established, Deployment rolled out, LoadBalancer Service
 * with an address).  Apply is naturally idempotent, so a create resumed
 * after kill -9 just applies again.
 *
 * read: the plan's field diff.  GET the live object and dry-run-apply the
 * recorded manifest; if the dry-run result equals the live object (ignoring
 * server bookkeeping), nothing drifted and read reports the recorded
 * manifest.  Otherwise it reports the manifest with the live values at the
 * paths that differ, so the plan shows exactly those fields going back.
 * Comparing against a dry run (not the manifest itself) keeps server
 * defaulting and normalisation ("0.1" → "100m") from showing as drift.
 *
 * destroy: DELETE (Background propagation) and, unless the reply says the
 * server removed it at once, wait for 404, so namespaces finish
 * terminating and LoadBalancer Services release their cloud load
 * balancers before the node groups and the cluster go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube.h"
#include "resources/types_k8s.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	SF_K8S_CONN_ATTRS,
	{"manifest", SF_AT_MAP, SF_ATTR_REQUIRED, "the object (apiVersion, kind, metadata, ...)"},
	{"wait", SF_AT_BOOL, SF_ATTR_OPTIONAL, "wait for readiness after apply (default true)"},
	{"replace_on", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW,
	 "a value whose change replaces the object (delete, then apply) instead of updating it: for what a controller "
	 "reads only when it makes something (a load balancer's scheme)"},
	{"uid", SF_AT_STRING, SF_ATTR_COMPUTED, "metadata.uid of the live object"},
	{NULL, 0, 0, NULL},
};

static const char *mstr(const json_t *m, const char *a, const char *b)
{
	const json_t *x = json_object_get(m, a);
	return json_string_value(b ? json_object_get(x, b) : x);
}

static const json_t *manifest_of(const json_t *a)
{
	return json_object_get(a, "manifest");
}

static int validate(const json_t *want, struct sf_err *err)
{
	const json_t *m = manifest_of(want);
	if (!json_is_object(m))
		return 0; /* unknown until apply (a reference): checked then */
	const char *av = mstr(m, "apiVersion", NULL), *kind = mstr(m, "kind", NULL), *name = mstr(m, "metadata", "name");
	if (!av || !kind)
		return sf_fail(err, SF_EINVAL, "manifest needs apiVersion and kind");
	if (!name || !*name)
		return sf_fail(err, SF_EINVAL, "manifest (%s) needs metadata.name", kind);
	const char *plural;
	int ns = 0;
	if (sf_kube_static_resource(av, kind, &plural, &ns) == 0 && ns && !mstr(m, "metadata", "namespace"))
		return sf_fail(err, SF_EINVAL, "manifest %s %s needs metadata.namespace (the kind is namespaced)", kind, name);
	if (!ns && mstr(m, "metadata", "namespace") && sf_kube_static_resource(av, kind, &plural, &ns) == 0)
		return sf_fail(err, SF_EINVAL, "manifest %s %s: the kind is cluster-scoped, drop metadata.namespace", kind,
			       name);
	return 0;
}

static json_t *result(const json_t *want, const json_t *live)
{
	json_t *out = json_deep_copy(want);
	const char *uid = mstr(live, "metadata", "uid");
	if (uid)
		json_object_set_new(out, "uid", json_string(uid));
	return out;
}

static int want_wait(const json_t *want)
{
	const json_t *w = json_object_get(want, "wait");
	return !json_is_false(w);
}

/* Apply; a custom resource whose CRD was just established may 404 until
 * discovery catches up, so retry that for a bounded time. */
/* One server-side apply, done unless the API does not serve the kind
 * yet: a kind a CustomResourceDefinition of the same apply just added is
 * served a moment after the CRD is Established. */
struct served {
	struct sf_kube *k;
	const json_t *m;
	unsigned flags;
	json_t **live;
	struct sf_err last; /* the apply's refusal while the kind is not served */
};

static int poll_served(void *ctx, char *status, size_t n, struct sf_err *err)
{
	struct served *s = ctx;
	sf_err_clear(&s->last);
	int rc = sf_kube_apply(s->k, s->m, s->flags, s->live, &s->last);
	if (rc == 0) {
		snprintf(status, n, "%s applied", mstr(s->m, "kind", NULL));
		return SF_WAIT_DONE;
	}
	if (rc != SF_ENOTFOUND) {
		if (err)
			*err = s->last;
		return rc;
	}
	snprintf(status, n, "waiting for the API to serve %s", mstr(s->m, "kind", NULL));
	return SF_WAIT_PENDING;
}

static int apply_and_wait(struct sf_rctx *c, struct sf_kube *k, const json_t *want, json_t **live)
{
	const json_t *m = manifest_of(want);
	struct served s = {k, m, sf_kube_force_conflicts() ? SF_KUBE_FORCE : 0, live, SF_ERR_INIT};
	struct sf_kube_wait w;
	sf_k8s_wait_opts(c, &w, 60);
	w.timeout_s = 60;
	int rc = sf_kube_wait_until(&w, poll_served, &s, c->err);
	if (rc == SF_ETIMEOUT && s.last.code) { /* never served: the API's own answer says more */
		*c->err = s.last;
		rc = s.last.code;
	}
	else if (rc == SF_EINTR)
		rc = sf_fail(c->err, SF_EINTR, "interrupted while waiting for %s to be served", mstr(m, "kind", NULL));
	if (rc < 0 || !want_wait(want))
		return rc;
	sf_k8s_wait_opts(c, &w, 600);
	return sf_kube_wait_ready(k, m, &w, c->err);
}

static int create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, want);
	json_t *live = NULL;
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	int rc = apply_and_wait(c, k, want, &live);
	if (rc == 0)
		*out = result(want, live);
	json_decref(live);
	return rc;
}

static int same_identity(const json_t *a, const json_t *b)
{
	const char *ka[] = {mstr(a, "apiVersion", NULL), mstr(a, "kind", NULL), mstr(a, "metadata", "name"),
			    mstr(a, "metadata", "namespace")};
	const char *kb[] = {mstr(b, "apiVersion", NULL), mstr(b, "kind", NULL), mstr(b, "metadata", "name"),
			    mstr(b, "metadata", "namespace")};
	for (int i = 0; i < 4; i++)
		if ((ka[i] == NULL) != (kb[i] == NULL) || (ka[i] && strcmp(ka[i], kb[i])))
			return 0;
	return 1;
}

static int destroy_manifest(struct sf_rctx *c, struct sf_kube *k, const json_t *m)
{
	const char *av = mstr(m, "apiVersion", NULL), *kind = mstr(m, "kind", NULL), *name = mstr(m, "metadata", "name"),
		   *ns = mstr(m, "metadata", "namespace");
	int gone = 0, rc = sf_kube_delete_gone(k, av, kind, ns, name, "Background", &gone, c->err);
	if (rc < 0 || gone) /* removed at once: nothing to wait for */
		return rc;
	struct sf_kube_wait w;
	sf_k8s_wait_opts(c, &w, 600);
	rc = sf_kube_wait_gone(k, av, kind, ns, name, &w, c->err);
	if (rc == SF_ENOTFOUND)
		rc = 0; /* the kind itself is gone (its CRD was deleted) */
	return rc;
}

static int update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, want);
	json_t *live = NULL;
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	int rc = apply_and_wait(c, k, want, &live);
	if (rc == 0 && !same_identity(manifest_of(prior), manifest_of(want))) {
		/* Renamed or moved: the old object is no longer managed. */
		struct sf_kube *old = sf_k8s_client(c, prior);
		rc = old ? destroy_manifest(c, old, manifest_of(prior)) : SF_ERROR;
	}
	if (rc == 0)
		*out = result(want, live);
	json_decref(live);
	return rc;
}

static int destroy(struct sf_rctx *c, const json_t *prior)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	return destroy_manifest(c, k, manifest_of(prior));
}

static int read_(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	const json_t *m = manifest_of(prior);
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	json_t *live = NULL, *dry = NULL, *ls = NULL, *ds = NULL;
	int rc = sf_kube_get(k, mstr(m, "apiVersion", NULL), mstr(m, "kind", NULL), mstr(m, "metadata", "namespace"),
			     mstr(m, "metadata", "name"), &live, c->err);
	if (rc < 0)
		goto done;
	const json_t *dts = json_object_get(json_object_get(live, "metadata"), "deletionTimestamp");
	if (dts) {
		rc = sf_fail(c->err, SF_ENOTFOUND, "being deleted");
		goto done;
	}
	/* Force in the dry run: the diff should show what apply would
	 * converge to; the real apply still reports conflicts. */
	if ((rc = sf_kube_apply(k, m, SF_KUBE_DRYRUN | SF_KUBE_FORCE, &dry, c->err)) < 0)
		goto done;
	ls = sf_kube_strip(live);
	ds = sf_kube_strip(dry);
	*out = json_deep_copy(prior);
	json_object_set_new(*out, "manifest", sf_kube_project(m, ds, ls));
	const char *uid = mstr(live, "metadata", "uid");
	if (uid)
		json_object_set_new(*out, "uid", json_string(uid));
done:
	json_decref(live);
	json_decref(dry);
	json_decref(ls);
	json_decref(ds);
	return rc;
}

static const struct sf_own own = {
	.kind = SF_OWN_PARENT,
	.noun = "Kubernetes object",
	.proof = "lives in the cluster its endpoint names; its fields are server-side applied by field manager "
		 "secfaas, so another manager's fields are never taken over silently",
	.parent_type = "eks_cluster",
};

const struct sf_rtype sf_rt_k8s_manifest = {
	.own = &own,
	.name = "k8s_manifest",
	.schema_version = 1,
	.typical = {.create = {1, 30}, .update = {1, 30}},
	.attrs = attrs,
	.create = create,
	.read = read_,
	.update = update,
	.destroy = destroy,
	.validate = validate,
};
