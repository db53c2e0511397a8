/* wait.c - readiness logic and polling waits (see kube.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"
#include "util.h"
#include "wait.h"

static long long ival(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const json_t *condition(const json_t *obj, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

static int cond_true(const json_t *obj, const char *type)
{
	const char *s = json_string_value(json_object_get(condition(obj, type), "status"));
	return s && !strcmp(s, "True");
}

/* kubectl rollout status (deployment_status_viewer): generation observed,
 * no ProgressDeadlineExceeded, all replicas updated, no old ones left, and
 * the updated ones available. */
int sf_kube_deployment_ready(const json_t *dep, char *why, size_t n)
{
	const json_t *md = json_object_get(dep, "metadata"), *spec = json_object_get(dep, "spec"),
		     *st = json_object_get(dep, "status");
	const char *name = json_string_value(json_object_get(md, "name"));
	long long gen = ival(md, "generation"), obs = ival(st, "observedGeneration");
	long long want = json_is_integer(json_object_get(spec, "replicas")) ? ival(spec, "replicas") : 1;
	long long upd = ival(st, "updatedReplicas"), rep = ival(st, "replicas"), avail = ival(st, "availableReplicas");
	if (gen > obs) {
		snprintf(why, n, "deployment %s: waiting for the spec update to be observed", name ? name : "?");
		return 0;
	}
	const json_t *prog = condition(dep, "Progressing");
	const char *reason = json_string_value(json_object_get(prog, "reason"));
	if (reason && !strcmp(reason, "ProgressDeadlineExceeded")) {
		snprintf(why, n, "deployment %s exceeded its progress deadline", name ? name : "?");
		const json_t *rf = condition(dep, "ReplicaFailure");
		const char *m = json_string_value(json_object_get(rf, "message"));
		if (m) {
			size_t l = strlen(why);
			snprintf(why + l, n - l, ": %s", m);
		}
		return -1;
	}
	if (upd < want) {
		snprintf(why, n, "deployment %s: %lld of %lld updated replicas", name ? name : "?", upd, want);
		const json_t *rf = condition(dep, "ReplicaFailure");
		const char *m = json_string_value(json_object_get(rf, "message"));
		if (m && cond_true(dep, "ReplicaFailure")) {
			size_t l = strlen(why);
			snprintf(why + l, n - l, " (%s)", m);
		}
		return 0;
	}
	if (rep > upd) {
		snprintf(why, n, "deployment %s: %lld old replicas pending termination", name ? name : "?", rep - upd);
		return 0;
	}
	if (avail < upd) {
		snprintf(why, n, "deployment %s: %lld of %lld updated replicas available", name ? name : "?", avail, upd);
		return 0;
	}
	snprintf(why, n, "deployment %s rolled out", name ? name : "?");
	return 1;
}

int sf_kube_crd_ready(const json_t *crd, char *why, size_t n)
{
	const char *name = json_string_value(json_object_get(json_object_get(crd, "metadata"), "name"));
	if (cond_true(crd, "Established")) {
		snprintf(why, n, "crd %s established", name ? name : "?");
		return 1;
	}
	const json_t *na = condition(crd, "NamesAccepted");
	const char *s = json_string_value(json_object_get(na, "status"));
	if (s && !strcmp(s, "False")) {
		snprintf(why, n, "crd %s: names not accepted: %s", name ? name : "?",
			 json_string_value(json_object_get(na, "message")) ? json_string_value(json_object_get(na, "message"))
									    : "conflict");
		return -1;
	}
	snprintf(why, n, "crd %s: waiting for Established", name ? name : "?");
	return 0;
}

int sf_kube_node_ready(const json_t *node, const json_t *labels)
{
	const json_t *have = json_object_get(json_object_get(node, "metadata"), "labels");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		const char *hv = json_string_value(json_object_get(have, k));
		if (!hv || !json_string_value(v) || strcmp(hv, json_string_value(v)))
			return 0;
	}
	return cond_true(node, "Ready");
}

/* As `kubectl rollout status daemonset`: the spec change observed, every
 * scheduled pod updated, and as many available. */
int sf_kube_daemonset_ready(const json_t *ds, char *why, size_t n)
{
	const json_t *md = json_object_get(ds, "metadata"), *st = json_object_get(ds, "status");
	const char *name = json_string_value(json_object_get(md, "name"));
	long long gen = ival(md, "generation"), obs = ival(st, "observedGeneration");
	long long want = ival(st, "desiredNumberScheduled"), upd = ival(st, "updatedNumberScheduled"),
		  avail = ival(st, "numberAvailable");
	if (gen > obs) {
		snprintf(why, n, "daemon set %s: waiting for the spec update to be observed", name ? name : "?");
		return 0;
	}
	if (upd < want) {
		snprintf(why, n, "daemon set %s: %lld of %lld updated pods", name ? name : "?", upd, want);
		return 0;
	}
	if (avail < want) {
		snprintf(why, n, "daemon set %s: %lld of %lld updated pods available", name ? name : "?", avail, want);
		return 0;
	}
	snprintf(why, n, "daemon set %s rolled out", name ? name : "?");
	return 1;
}

int sf_kube_object_ready(const json_t *obj, char *why, size_t n)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	if (!kind)
		kind = "";
	if (!strcmp(kind, "Deployment"))
		return sf_kube_deployment_ready(obj, why, n);
	if (!strcmp(kind, "DaemonSet"))
		return sf_kube_daemonset_ready(obj, why, n);
	if (!strcmp(kind, "CustomResourceDefinition"))
		return sf_kube_crd_ready(obj, why, n);
	if (!strcmp(kind, "Namespace")) {
		const char *ph = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
		if (ph && !strcmp(ph, "Terminating")) {
			snprintf(why, n, "namespace %s is still terminating", name ? name : "?");
			return 0;
		}
		snprintf(why, n, "namespace %s active", name ? name : "?");
		return 1;
	}
	if (!strcmp(kind, "Service")) {
		const char *type = json_string_value(json_object_get(json_object_get(obj, "spec"), "type"));
		if (type && !strcmp(type, "LoadBalancer")) {
			const json_t *ing = json_array_get(json_object_get(json_object_get(json_object_get(obj, "status"), "loadBalancer"),
							    "ingress"),
					     0);
			if (!json_object_get(ing, "hostname") && !json_object_get(ing, "ip")) {
				snprintf(why, n, "service %s: waiting for a load balancer", name ? name : "?");
				return 0;
			}
		}
	}
	snprintf(why, n, "%s %s ready", kind, name ? name : "?");
	return 1;
}

static double wait_timeout(const struct sf_kube_wait *w)
{
	return w && w->timeout_s > 0 ? w->timeout_s : 300;
}

static void report(void *ctx, const char *status, int attempt, double elapsed_s)
{
	const struct sf_kube_wait *w = ctx;
	(void)attempt, (void)elapsed_s;
	if (w && w->progress && status && status[0])
		w->progress(w->ctx, status);
}

double sf_kube_pause(const struct sf_kube_wait *w, int attempt)
{
	double every = w && w->interval_s > 0 ? w->interval_s : 1.0, p = w ? w->first_interval_s : 0;
	if (p <= 0)
		return every;
	for (int i = 1; i < attempt && p < every; i++)
		p *= 2;
	return p < every ? p : every;
}

static double pause_of(void *ctx, int attempt, double elapsed_s)
{
	(void)elapsed_s;
	return sf_kube_pause(ctx, attempt);
}

/* Run poll on the shared loop (wait.h) with w's pauses, timeout, cancel
 * flag and progress; timeouts and interrupts worded as kube.h says. */
static int run(const struct sf_kube_wait *w, sf_wait_poll_fn poll, void *ctx, struct sf_err *err)
{
	struct sf_wait_loop loop = {
		.name = "kubernetes",
		.delay_s = w && w->interval_s > 0 ? w->interval_s : 1.0,
		.delay = w && w->first_interval_s > 0 ? pause_of : NULL,
		.delay_ctx = (void *)w,
		.timeout_s = wait_timeout(w),
		.cancel = w ? w->cancel : NULL,
		.progress = report,
		.progress_ctx = (void *)w,
	};
	struct sf_wait_result res;
	int rc = sf_wait_run(&loop, poll, ctx, &res, err);
	if (rc == SF_EINTR)
		return sf_fail(err, SF_EINTR, "interrupted while waiting");
	if (rc == SF_ETIMEOUT) {
		sf_fail(err, SF_ETIMEOUT, "timed out after %.0fs: %s", wait_timeout(w), res.status);
		if (err)
			err->hint[0] = 0; /* the status says what is missing */
		return SF_ETIMEOUT;
	}
	return rc;
}

int sf_kube_wait_until(const struct sf_kube_wait *w, sf_wait_poll_fn poll, void *ctx, struct sf_err *err)
{
	return run(w, poll, ctx, err);
}

/* Errors a wait rides out: the object may not exist yet, the API server
 * may be busy. Others end it. */
static int passing(int rc)
{
	return rc == SF_ENOTFOUND || rc == SF_ETRANSIENT || rc == SF_ETHROTTLED;
}

struct ready_ctx {
	struct sf_kube *k;
	const char *av, *kind, *ns, *name;
};

static int poll_ready(void *ctx, char *why, size_t n, struct sf_err *err)
{
	struct ready_ctx *r = ctx;
	json_t *live = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = sf_kube_get(r->k, r->av, r->kind, r->ns, r->name, &live, &e);
	if (rc < 0 && !passing(rc)) {
		if (err)
			*err = e;
		return rc;
	}
	if (rc < 0) {
		snprintf(why, n, "%s %s: %s", r->kind, r->name, e.msg);
		return SF_WAIT_PENDING;
	}
	int ready = sf_kube_object_ready(live, why, n);
	json_decref(live);
	if (ready < 0)
		return sf_fail(err, SF_ERROR, "%s", why);
	return ready > 0 ? SF_WAIT_DONE : SF_WAIT_PENDING;
}

int sf_kube_wait_ready(struct sf_kube *k, const json_t *obj, const struct sf_kube_wait *w, struct sf_err *err)
{
	const json_t *md = json_object_get(obj, "metadata");
	struct ready_ctx r = {k, json_string_value(json_object_get(obj, "apiVersion")),
			      json_string_value(json_object_get(obj, "kind")), json_string_value(json_object_get(md, "namespace")),
			      json_string_value(json_object_get(md, "name"))};
	return run(w, poll_ready, &r, err);
}

static int poll_gone(void *ctx, char *why, size_t n, struct sf_err *err)
{
	struct ready_ctx *r = ctx;
	json_t *live = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = sf_kube_get(r->k, r->av, r->kind, r->ns, r->name, &live, &e);
	if (rc == SF_ENOTFOUND)
		return SF_WAIT_DONE;
	if (rc < 0 && !passing(rc)) {
		if (err)
			*err = e;
		return rc;
	}
	const json_t *fin = json_object_get(json_object_get(live, "metadata"), "finalizers");
	/* A LoadBalancer Service names its cloud load balancer, so a
	 * timeout tells the user exactly what may be left in AWS. */
	const json_t *ing = json_array_get(
		json_object_get(json_object_get(json_object_get(live, "status"), "loadBalancer"), "ingress"), 0);
	const char *lb = json_string_value(json_object_get(ing, "hostname"));
	snprintf(why, n, "%s %s%s%s still exists%s%s%s%s", r->kind, r->ns ? r->ns : "", r->ns ? "/" : "", r->name,
		 json_array_size(fin) ? ", finalizer " : "", json_array_size(fin) ? json_string_value(json_array_get(fin, 0)) : "",
		 lb ? ", load balancer " : "", lb ? lb : "");
	json_decref(live);
	return SF_WAIT_PENDING;
}

int sf_kube_wait_gone(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
		      const char *name, const struct sf_kube_wait *w, struct sf_err *err)
{
	struct ready_ctx r = {k, api_version, kind, ns, name};
	return run(w, poll_gone, &r, err);
}

struct nodes_ctx {
	struct sf_kube *k;
	const json_t *labels;
	int count;
	const char *selector;
};

static int poll_nodes(void *ctx, char *why, size_t n, struct sf_err *err)
{
	struct nodes_ctx *x = ctx;
	json_t *list = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = sf_kube_list(x->k, "v1", "Node", NULL, x->selector, &list, &e);
	if (rc < 0 && rc != SF_ETRANSIENT && rc != SF_ETHROTTLED) {
		if (err)
			*err = e;
		return rc;
	}
	int ready = 0;
	size_t i;
	json_t *node;
	json_array_foreach(json_object_get(list, "items"), i, node) ready += sf_kube_node_ready(node, x->labels);
	json_decref(list);
	snprintf(why, n, "%d of %d nodes Ready with %s", ready, x->count, x->selector);
	return ready >= x->count ? SF_WAIT_DONE : SF_WAIT_PENDING;
}

int sf_kube_wait_nodes(struct sf_kube *k, const json_t *labels, int count, const struct sf_kube_wait *w,
		       struct sf_err *err)
{
	struct sf_buf sel = SF_BUF_INIT;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)labels, key, v) sf_buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", key,
								    json_string_value(v) ? json_string_value(v) : "");
	struct nodes_ctx x = {k, labels, count, sf_buf_cstr(&sel)};
	int rc = run(w, poll_nodes, &x, err);
	sf_buf_release(&sel);
	return rc;
}
