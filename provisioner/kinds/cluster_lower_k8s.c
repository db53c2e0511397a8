/* cluster_lower_k8s.c - Kubernetes objects of a Cluster (see provisioner/kinds/lower_k8s.h). */
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "kube/template.h"
#include "provisioner/kinds/cluster.h"
#include "provisioner/kinds/lower_k8s.h"
#include "provisioner/node/render.h"
#include "resources/types_k8s.h"
#include "util.h"

#define PHASE_ANN "secfaas.dev/phase"
/* Consumed like the phase: the k8s_manifest's replace_on (see
 * set_gateway_service). */
#define REPLACE_ANN "secfaas.dev/replace-on"
#define MAX_PHASE 8

struct lowering {
	struct sf_config *c;
	struct sf_diags *d;
	const json_t *conn;
	struct sf_pos pos;
	/* addresses per phase; phase p depends on all of phase p-1 */
	char **phase[MAX_PHASE + 1];
	size_t nphase[MAX_PHASE + 1];
	/* the node groups the objects' pods run on (borrowed) */
	const char *const *nodes;
	size_t nnodes;
};

static void phase_add(struct lowering *l, int p, const char *addr)
{
	l->phase[p] = xrealloc(l->phase[p], (l->nphase[p] + 1) * sizeof *l->phase[p]);
	l->phase[p][l->nphase[p]++] = xstrdup(addr);
}

static void deps_on_phase(struct lowering *l, struct sf_rinst *r, int p)
{
	for (size_t i = 0; p >= 0 && i < l->nphase[p]; i++)
		sf_rinst_add_dep(r, l->phase[p][i]);
}

static json_t *with_conn(const struct lowering *l)
{
	json_t *a = json_object();
	sf_k8s_copy_conn(a, l->conn);
	return a;
}

/* "of_deployment_openfaas_gateway": lower-case kind, namespace and name
 * with '-' and '.' as '_'. */
static char *inst_name(const char *prefix, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	char *s = xasprintf("%s%s_%s%s%s", prefix, kind ? kind : "object", ns ? ns : "", ns ? "_" : "", name ? name : "");
	for (char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (*p == '-' || *p == '.')
			*p = '_';
	}
	return s;
}

static struct sf_rinst *add(struct lowering *l, const struct sf_rtype *t, const char *name, json_t *attrs, int p)
{
	struct sf_rinst *r = sf_config_add(l->c, t, name, attrs, &l->pos);
	json_decref(attrs);
	deps_on_phase(l, r, p - 1);
	phase_add(l, p, r->address);
	return r;
}

/* An object that waits for its pods to run waits for the node groups they
 * can run on; everything else only needs the API server. */
static void needs_nodes(struct lowering *l, struct sf_rinst *r)
{
	for (size_t i = 0; i < l->nnodes; i++)
		sf_rinst_add_dep(r, l->nodes[i]);
}

/* A Service is made without waiting for the node groups, but deleted
 * before them and so before the cluster: a LoadBalancer one's delete
 * waits there for its cloud load balancer to be gone.  Update-only
 * dependencies (provisioner/engine/config.h) give exactly that order. */
static void goes_before_nodes(struct lowering *l, struct sf_rinst *r)
{
	for (size_t i = 0; i < l->nnodes; i++)
		sf_rinst_add_update_dep(r, l->nodes[i]);
}

static int is_kind(const json_t *obj, const char *kind)
{
	const char *k = json_string_value(json_object_get(obj, "kind"));
	return k && !strcmp(k, kind);
}

/* Kinds whose readiness (kube/wait.c) is their pods running. */
static int runs_pods(const json_t *obj)
{
	static const char *const kinds[] = {"Deployment", "StatefulSet", "DaemonSet", "Job"};
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	for (size_t i = 0; kind && i < SF_ARRAY_LEN(kinds); i++)
		if (!strcmp(kind, kinds[i]))
			return 1;
	return 0;
}

/* Add one k8s_manifest per document whose phase (base + its annotation)
 * is in [lo, hi]; the phase annotation is consumed. */
static void add_docs(struct lowering *l, const char *prefix, json_t *docs, int base_phase, int lo, int hi)
{
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o)
	{
		json_t *md = json_object_get(o, "metadata");
		json_t *ann = json_object_get(md, "annotations");
		const char *ph = json_string_value(json_object_get(ann, PHASE_ANN));
		int p = base_phase + (ph ? (int)strtol(ph, NULL, 10) : 0);
		if (p < 0 || p > MAX_PHASE)
			p = MAX_PHASE;
		if (p < lo || p > hi)
			continue;
		json_t *replace_on = json_incref(json_object_get(ann, REPLACE_ANN));
		if (ann) {
			json_object_del(ann, PHASE_ANN);
			json_object_del(ann, REPLACE_ANN);
			if (!json_object_size(ann))
				json_object_del(md, "annotations");
		}
		json_t *a = with_conn(l);
		if (replace_on)
			json_object_set_new(a, "replace_on", replace_on);
		json_object_set(a, "manifest", o);
		char *name = inst_name(prefix, o);
		struct sf_rinst *r = add(l, &sf_rt_k8s_manifest, name, a, p);
		if (runs_pods(o))
			needs_nodes(l, r);
		else if (is_kind(o, "Service"))
			goes_before_nodes(l, r);
		free(name);
	}
}

/* The gateway's Service, set on the parsed object rather than written into
 * the template's text: a NodePort gateway gets OpenFaaS's documented fixed
 * port 31112; a LoadBalancer one who may reach it (openfaas.
 * gatewayLoadBalancer): the internal scheme, the client CIDRs.  The cloud
 * provider reads the scheme only when it makes the load balancer, so an
 * internal one is marked to be replaced, not updated, when that changes. */
static void set_gateway_service(json_t *docs, const char *type, const json_t *lb)
{
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o)
	{
		json_t *md = json_object_get(o, "metadata");
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *name = json_string_value(json_object_get(md, "name"));
		if (!kind || !name || strcmp(kind, "Service") || strcmp(name, "gateway-external"))
			continue;
		json_t *spec = json_object_get(o, "spec");
		if (!strcmp(type, "NodePort")) {
			json_t *port = json_array_get(json_object_get(spec, "ports"), 0);
			if (json_is_object(port))
				json_object_set_new(port, "nodePort", json_integer(31112));
			continue;
		}
		if (strcmp(type, "LoadBalancer") || !json_is_object(lb))
			continue;
		const char *scheme = json_string_value(json_object_get(lb, "scheme"));
		if (scheme && !strcmp(scheme, "internal")) {
			json_t *ann = json_object_get(md, "annotations");
			if (!json_is_object(ann)) {
				ann = json_object();
				json_object_set_new(md, "annotations", ann);
			}
			json_object_set_new(ann, SF_KUBE_LB_INTERNAL_ANN, json_string("true"));
			json_object_set_new(ann, REPLACE_ANN, json_string("internal"));
		}
		const json_t *ranges = json_object_get(lb, "sourceRanges");
		if (json_is_array(ranges))
			json_object_set_new(spec, "loadBalancerSourceRanges", json_deep_copy(ranges));
	}
}

void sf_k8s_lower(const json_t *cluster, const json_t *conn, const char *const *deps, size_t ndeps,
		  struct sf_config *c, struct sf_diags *d)
{
	struct lowering l;
	memset(&l, 0, sizeof l);
	l.c = c;
	l.d = d;
	l.conn = conn;
	l.nodes = deps;
	l.nnodes = ndeps;
	struct sf_err err = SF_ERR_INIT;
	json_t *docs = NULL;
	const json_t *spec = json_object_get(cluster, "spec");
	const json_t *of = json_object_get(spec, "openfaas");
	int openfaas = json_is_object(of) && !json_is_false(json_object_get(of, "enabled"));

	/* Phase 0: the RuntimeClass.  It and every object that runs no pod
	 * (namespaces, CRD, RBAC, config, Services, policies) need only the
	 * API server, so they are made while the node groups come up; the
	 * guard and the Deployments wait for the groups their pods run on. */
	const char *rc_vars[] = {"RUNTIME_CLASS", "gvisor", "HANDLER", SF_RUNTIME_HANDLER, "SANDBOX_KEY", SF_SANDBOX_KEY,
				 "SANDBOX_VALUE", SF_SANDBOX_VALUE, "SANDBOX_EFFECT", SF_SANDBOX_EFFECT, NULL};
	if (sf_kube_template(&docs, "manifests/k8s/runtimeclass-gvisor.yaml", rc_vars, &err) < 0)
		goto fail;
	json_t *a = with_conn(&l);
	json_object_set(a, "manifest", json_array_get(docs, 0));
	add(&l, &sf_rt_k8s_manifest, "runtimeclass_gvisor", a, 0);
	json_decref(docs);
	docs = NULL;
	if (!openfaas)
		goto done;
	if (!json_is_true(json_object_get(of, "acceptLicense"))) {
		sf_diag_add(d, SF_SEV_ERROR, NULL,
			    "spec.openfaas: OpenFaaS CE needs acceptLicense: true (EULA: commercial use is one installation per company for at most 60 days)");
		goto done;
	}
	const char *type = json_string_value(json_object_get(of, "gatewayService"));
	if (!type)
		type = "NodePort";
	const char *of_vars[] = {"GATEWAY_SERVICE_TYPE", type, NULL};
	if (sf_kube_template(&docs, "manifests/openfaas/openfaas-ce.yaml", of_vars, &err) < 0)
		goto fail;
	set_gateway_service(docs, type, json_object_get(of, "gatewayLoadBalancer"));
	/* OpenFaaS phases start at 1 (after the RuntimeClass): namespaces and
	 * CRD, then RBAC, config, Services, the Secret and the policies (no
	 * pods: made while the node groups come up). */
	add_docs(&l, "of_", docs, 1, 0, 2);
	a = with_conn(&l);
	json_object_set_new(a, "namespace", json_string("openfaas"));
	json_object_set_new(a, "name", json_string("basic-auth"));
	json_object_set_new(a, "labels", json_pack("{s:s}", "app", "openfaas"));
	add(&l, &sf_rt_k8s_basic_auth, "openfaas", a, 2);
	json_t *pols = sf_k8s_network_policies(cluster);
	add_docs(&l, "of_", pols, 2, 0, MAX_PHASE);
	json_decref(pols);
	json_t *lims = sf_k8s_function_limits(cluster);
	add_docs(&l, "of_", lims, 2, 0, MAX_PHASE);
	json_decref(lims);
	/* The guard sits in phase 3 beside NATS, Prometheus and Alertmanager,
	 * which create no pods in openfaas-fn and so need not wait for it; the
	 * gateway, whose faas-netes creates the function pods, is in the phase
	 * after, with the queue worker.  Its self-test goes through the
	 * webhook's pods (before Kubernetes 1.36): it needs nodes. */
	a = with_conn(&l);
	json_object_set_new(a, "namespace", json_string("openfaas-fn"));
	json_object_set_new(a, "runtime_class", json_string("gvisor"));
	json_object_set_new(a, "compliant", json_true());
	json_object_set_new(a, "webhook_namespace", json_string("openfaas"));
	const char *mut = json_string_value(json_object_get(of, "mutator"));
	if (mut)
		json_object_set_new(a, "mutate", json_string(mut));
	const char *wimg = json_string_value(json_object_get(of, "webhookImage"));
	if (wimg)
		json_object_set_new(a, "webhook_image", json_string(wimg));
	needs_nodes(&l, add(&l, &sf_rt_k8s_gvisor_guard, "openfaas_fn", a, 3));
	add_docs(&l, "of_", docs, 1, 3, MAX_PHASE);
	goto done;
fail:
	sf_diag_add(d, SF_SEV_ERROR, NULL, "kubernetes objects: %s", err.msg);
done:
	json_decref(docs);
	for (int p = 0; p <= MAX_PHASE; p++) {
		for (size_t i = 0; i < l.nphase[p]; i++)
			free(l.phase[p][i]);
		free(l.phase[p]);
	}
}

/* Can a pod with no tolerations and no node selector run on this group's
 * nodes?  Not on gVisor nodes, nor past a NoSchedule or NoExecute taint. */
static int runs_plain_pods(const json_t *ng)
{
	const char *rt = json_string_value(json_object_get(ng, "runtime"));
	if (rt && !strcmp(rt, "gvisor"))
		return 0;
	size_t i;
	const json_t *t;
	json_array_foreach(json_object_get(ng, "taints"), i, t)
	{
		const char *eff = json_string_value(json_object_get(t, "effect"));
		if (eff && (!strcmp(eff, "NoSchedule") || !strcmp(eff, "NoExecute")))
			return 0;
	}
	return 1;
}

void sf_cluster_lower_k8s(const json_t *cluster, struct sf_config *c, struct sf_diags *d)
{
	json_t *conn = json_pack("{s:s, s:s, s:s}", "endpoint", "${eks_cluster.main.endpoint}", "ca_data",
				 "${eks_cluster.main.ca_data}", "cluster_name", "${eks_cluster.main.name}");
	const json_t *ngs = json_object_get(json_object_get(cluster, "spec"), "nodeGroups");
	size_t n = json_array_size(ngs), k = 0;
	char **deps = xcalloc(n + 1, sizeof *deps);
	/* the groups OpenFaaS's own pods and the webhook's run on: runc, no
	 * taint that keeps a pod without tolerations off; with none such,
	 * every group (the Deployments then wait until their timeout, as
	 * they would anyway) */
	for (int any = 0; any < 2 && !k; any++) {
		for (size_t i = 0; i < n; i++) {
			const json_t *ng = json_array_get(ngs, i);
			const char *name = json_string_value(json_object_get(ng, "name"));
			if (name && (any || runs_plain_pods(ng)))
				deps[k++] = xasprintf("eks_nodegroup.%s", name);
		}
	}
	sf_k8s_lower(cluster, conn, (const char *const *)deps, k, c, d);
	for (size_t i = 0; i < k; i++)
		free(deps[i]);
	free(deps);
	json_decref(conn);
}
