/*
 * test_kube_lower.c - Kubernetes lowering of a Cluster: which objects, in
 * which order, connected to what; templates fill every placeholder.
 *
 * Also the k8s suite's Stack generator: with SF_K8S_EMIT=<file> set (and
 * SF_K8S_ENDPOINT, SF_K8S_CA, SF_K8S_TOKEN), the `emit` test writes the
 * lowered objects as a `kind: Stack` spec pointing at a local kubesim, so
 * tests/k8s drives exactly what a Cluster lowers to without EKS.
 */
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "imageref.h"
#include "kube/template.h"
#include "provisioner/engine/config.h"
#include "provisioner/kinds/cluster.h"
#include "provisioner/kinds/lower_k8s.h"
#include "resources/gvisor_webhook.h"
#include "t.h"

static json_t *cluster(int openfaas, int accept, const char *gw)
{
	json_t *c = json_pack("{s:{s:s}, s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "metadata", "name", "demo", "spec",
			      "nodeGroups", "name", "system", "runtime", "runc", "name", "sandbox", "runtime", "gvisor");
	if (openfaas)
		json_object_set_new(json_object_get(c, "spec"), "openfaas",
				    json_pack("{s:b, s:b, s:s}", "enabled", 1, "acceptLicense", accept, "gatewayService",
					      gw ? gw : "NodePort"));
	return c;
}

static int has_dep(const struct sf_rinst *r, const char *addr)
{
	for (size_t i = 0; i < r->ndeps; i++)
		if (!strcmp(r->deps[i], addr))
			return 1;
	return 0;
}

/* Does r wait for addr, directly or through its dependencies?  (The
 * graph is small and acyclic: a plain walk.) */
static int depends_on(const struct sf_config *c, const struct sf_rinst *r, const char *addr)
{
	if (has_dep(r, addr))
		return 1;
	for (size_t i = 0; i < r->ndeps; i++) {
		const struct sf_rinst *d = sf_config_find(c, r->deps[i]);
		if (d && depends_on(c, d, addr))
			return 1;
	}
	return 0;
}

T_TEST(runtimeclass_only_without_openfaas)
{
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	json_t *cl = cluster(0, 0, NULL);
	sf_cluster_lower_k8s(cl, &c, &d);
	T_EQ(d.nerrors, 0);
	T_EQ(c.n, 1);
	const struct sf_rinst *r = sf_config_find(&c, "k8s_manifest.runtimeclass_gvisor");
	T_OK(r != NULL);
	if (r) {
		const json_t *m = json_object_get(r->config, "manifest");
		T_STREQ(json_string_value(json_object_get(m, "handler")), "runsc");
		const json_t *sel = json_object_get(json_object_get(m, "scheduling"), "nodeSelector");
		T_STREQ(json_string_value(json_object_get(sel, SF_SANDBOX_KEY)), SF_SANDBOX_VALUE);
		const json_t *tol = json_array_get(json_object_get(json_object_get(m, "scheduling"), "tolerations"), 0);
		T_STREQ(json_string_value(json_object_get(tol, "key")), SF_SANDBOX_KEY);
		T_STREQ(json_string_value(json_object_get(tol, "effect")), SF_SANDBOX_EFFECT);
		T_STREQ(json_string_value(json_object_get(r->config, "endpoint")), "${eks_cluster.main.endpoint}");
		T_STREQ(json_string_value(json_object_get(r->config, "ca_data")), "${eks_cluster.main.ca_data}");
		T_STREQ(json_string_value(json_object_get(r->config, "cluster_name")), "${eks_cluster.main.name}");
		/* it runs no pod: made while the node groups come up */
		T_EQ(r->ndeps, 0);
	}
	json_decref(cl);
	sf_config_release(&c);
	sf_diags_release(&d);
}

T_TEST(openfaas_objects_and_order)
{
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	json_t *cl = cluster(1, 1, NULL);
	sf_cluster_lower_k8s(cl, &c, &d);
	T_EQ(d.nerrors, 0);
	T_OK(c.n > 20);
	const struct sf_rinst *gw = sf_config_find(&c, "k8s_manifest.of_deployment_openfaas_gateway");
	const struct sf_rinst *nats = sf_config_find(&c, "k8s_manifest.of_deployment_openfaas_nats");
	const struct sf_rinst *guard = sf_config_find(&c, "k8s_gvisor_guard.openfaas_fn");
	const struct sf_rinst *ba = sf_config_find(&c, "k8s_basic_auth.openfaas");
	const struct sf_rinst *ns = sf_config_find(&c, "k8s_manifest.of_namespace_openfaas_fn");
	const struct sf_rinst *ext = sf_config_find(&c, "k8s_manifest.of_service_openfaas_gateway_external");
	T_OK(gw && nats && guard && ba && ns && ext);
	if (gw && nats && guard && ba && ns && ext) {
		T_OK(has_dep(gw, "k8s_manifest.of_deployment_openfaas_nats"));   /* nats first */
		T_OK(depends_on(&c, guard, "k8s_manifest.of_namespace_openfaas_fn"));
		T_OK(has_dep(ns, "k8s_manifest.runtimeclass_gvisor"));
		/* the gateway's faas-netes makes the function pods: the guard and
		 * the policies of openfaas-fn come first */
		T_OK(has_dep(gw, "k8s_gvisor_guard.openfaas_fn"));
		T_OK(depends_on(&c, gw, "k8s_basic_auth.openfaas"));
		T_OK(depends_on(&c, gw, "k8s_manifest.of_networkpolicy_openfaas_fn_secfaas_default_deny"));
		/* nothing else waits for the guard: NATS starts beside it, the
		 * queue worker beside the gateway, a Service with the config */
		T_OK(!has_dep(nats, "k8s_gvisor_guard.openfaas_fn"));
		T_OK(!depends_on(&c, ext, "k8s_gvisor_guard.openfaas_fn"));
		const struct sf_rinst *qw = sf_config_find(&c, "k8s_manifest.of_deployment_openfaas_queue_worker");
		T_OK(qw && has_dep(qw, "k8s_manifest.of_deployment_openfaas_nats") &&
		     !has_dep(qw, "k8s_manifest.of_deployment_openfaas_gateway"));
		/* phase annotations are consumed, images pinned */
		const json_t *m = json_object_get(gw->config, "manifest");
		T_OK(json_object_get(json_object_get(m, "metadata"), "annotations") == NULL);
		char *s = json_dumps(m, 0);
		T_CONTAINS(s, "ghcr.io/openfaas/gateway:0.27.13");
		T_CONTAINS(s, "ghcr.io/openfaas/faas-netes:0.18.17");
		T_OK(strstr(s, ":latest") == NULL);
		free(s);
		const json_t *port = json_array_get(json_object_get(json_object_get(json_object_get(ext->config, "manifest"), "spec"), "ports"), 0);
		T_EQ(json_integer_value(json_object_get(port, "nodePort")), 31112);
		const json_t *fl = json_object_get(json_object_get(json_object_get(ns->config, "manifest"), "metadata"), "labels");
		T_STREQ(json_string_value(json_object_get(fl, "pod-security.kubernetes.io/enforce")), "baseline");
	}
	size_t *order = NULL;
	char *cycle = NULL;
	T_EQ(sf_config_order(&c, &order, &cycle), 0);
	free(order);
	free(cycle);
	json_decref(cl);
	sf_config_release(&c);
	sf_diags_release(&d);
}

static const json_t *policy_spec(const struct sf_config *c, const char *addr)
{
	const struct sf_rinst *r = sf_config_find(c, addr);
	return r ? json_object_get(json_object_get(r->config, "manifest"), "spec") : NULL;
}

/* The default NetworkPolicies: built as objects (the spec's CIDRs are
 * ipBlock values), before anything runs pods, egress per functionEgress. */
/* Only what waits for pods waits for nodes, and only for the groups its
 * pods can run on; a Service goes before those groups on destroy without
 * waiting for them when made (update-only dependencies). */
static int any_dep_on_nodes(const struct sf_rinst *r)
{
	for (size_t i = 0; i < r->ndeps; i++)
		if (!strncmp(r->deps[i], "eks_nodegroup.", 14) && !sf_strs_has(&r->update_only, r->deps[i]))
			return 1;
	return 0;
}

static int update_dep(const struct sf_rinst *r, const char *addr)
{
	return has_dep(r, addr) && sf_strs_has(&r->update_only, addr);
}

T_TEST(only_pods_wait_for_node_groups)
{
	json_t *cl = cluster(1, 1, NULL);
	json_t *ngs = json_object_get(json_object_get(cl, "spec"), "nodeGroups");
	/* a runc group that keeps untolerating pods off, and one that only prefers to */
	json_array_append_new(ngs, json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "name", "batch", "runtime", "runc", "taints",
					     "key", "batch", "effect", "NoExecute"));
	json_array_append_new(ngs, json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "name", "spare", "runtime", "runc", "taints",
					     "key", "spare", "effect", "PreferNoSchedule"));
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	sf_cluster_lower_k8s(cl, &c, &d);
	T_EQ(d.nerrors, 0);
	int deployments = 0, services = 0;
	for (size_t i = 0; i < c.n; i++) {
		const struct sf_rinst *r = &c.v[i];
		const char *kind = json_string_value(json_object_get(json_object_get(r->config, "manifest"), "kind"));
		int pods = !strcmp(r->address, "k8s_gvisor_guard.openfaas_fn") || (kind && !strcmp(kind, "Deployment"));
		deployments += kind && !strcmp(kind, "Deployment");
		if (kind && !strcmp(kind, "Service")) {
			/* deleted before the groups (a LoadBalancer one's load
			 * balancer with it), made beside them */
			services++;
			T_OK(update_dep(r, "eks_nodegroup.system") && update_dep(r, "eks_nodegroup.spare"));
			T_OK(!has_dep(r, "eks_nodegroup.sandbox") && !has_dep(r, "eks_nodegroup.batch"));
		}
		if (pods) {
			T_OK(has_dep(r, "eks_nodegroup.system") && has_dep(r, "eks_nodegroup.spare"));
			T_OK(!has_dep(r, "eks_nodegroup.sandbox") && !has_dep(r, "eks_nodegroup.batch"));
		} else if (any_dep_on_nodes(r)) {
			T_FAILF("%s runs no pod but waits for a node group", r->address);
		}
	}
	T_EQ(deployments, 5);
	T_EQ(services, 5);
	sf_config_release(&c);
	/* no group plain pods can run on: they wait for every group */
	json_array_remove(ngs, 3);
	json_array_remove(ngs, 0);
	c = (struct sf_config)SF_CONFIG_INIT;
	sf_cluster_lower_k8s(cl, &c, &d);
	const struct sf_rinst *g = sf_config_find(&c, "k8s_gvisor_guard.openfaas_fn");
	T_OK(g && has_dep(g, "eks_nodegroup.sandbox") && has_dep(g, "eks_nodegroup.batch"));
	json_decref(cl);
	sf_config_release(&c);
	sf_diags_release(&d);
}

T_TEST(network_policies_default_and_egress)
{
	static const char *const modes[] = {"none", "internet", "list"};
	for (int k = 0; k < 3; k++) {
		struct sf_config c = SF_CONFIG_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		json_t *cl = cluster(1, 1, NULL);
		json_t *spec = json_object_get(cl, "spec");
		json_object_set_new(spec, "network", json_pack("{s:s, s:s}", "cidr", "10.40.0.0/16", "serviceCidr",
								"172.20.0.0/16"));
		json_t *eg = k == 2 ? json_pack("[s, s, s, s, s]", "203.0.113.0/24", "198.51.100.7/32", "0.0.0.0/0", "10.0.0.0/8",
						"10.40.9.0/24")
				    : json_string(modes[k]);
		json_object_set_new(json_object_get(spec, "openfaas"), "functionEgress", eg);
		sf_cluster_lower_k8s(cl, &c, &d);
		T_EQ(d.nerrors, 0);
		const json_t *deny = policy_spec(&c, "k8s_manifest.of_networkpolicy_openfaas_fn_secfaas_default_deny");
		T_OK(deny && json_object_size(json_object_get(deny, "podSelector")) == 0);
		T_EQ(json_array_size(json_object_get(deny, "policyTypes")), 2);
		T_OK(!json_object_get(deny, "ingress") && !json_object_get(deny, "egress"));
		const json_t *gw = policy_spec(&c, "k8s_manifest.of_networkpolicy_openfaas_fn_secfaas_from_gateway");
		const json_t *from = json_array_get(json_object_get(json_array_get(json_object_get(gw, "ingress"), 0), "from"), 0);
		T_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(from, "podSelector"), "matchLabels"), "app")),
			"gateway");
		T_OK(policy_spec(&c, "k8s_manifest.of_networkpolicy_openfaas_fn_secfaas_dns") != NULL);
		/* the queue-worker posts callbacks to URLs its callers give:
		 * only NATS, the gateway, DNS and public addresses */
		const json_t *qw = policy_spec(&c, "k8s_manifest.of_networkpolicy_openfaas_secfaas_queue_worker_egress");
		char *qws = qw ? json_dumps(qw, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		T_STREQ(qws, "{\"egress\":[{\"ports\":[{\"port\":4222,\"protocol\":\"TCP\"}],\"to\":[{\"namespaceSelector\":{\"matchLabels\":"
			     "{\"kubernetes.io/metadata.name\":\"openfaas\"}},\"podSelector\":{\"matchLabels\":{\"app\":\"nats\"}}}]},"
			     "{\"ports\":[{\"port\":8080,\"protocol\":\"TCP\"}],\"to\":[{\"namespaceSelector\":{\"matchLabels\":"
			     "{\"kubernetes.io/metadata.name\":\"openfaas\"}},\"podSelector\":{\"matchLabels\":{\"app\":\"gateway\"}}}]},"
			     "{\"ports\":[{\"port\":53,\"protocol\":\"UDP\"},{\"port\":53,\"protocol\":\"TCP\"}],\"to\":[{\"namespaceSelector\":"
			     "{\"matchLabels\":{\"kubernetes.io/metadata.name\":\"kube-system\"}},\"podSelector\":{\"matchLabels\":"
			     "{\"k8s-app\":\"kube-dns\"}}}]},"
			     "{\"to\":[{\"ipBlock\":{\"cidr\":\"0.0.0.0/0\",\"except\":[\"169.254.0.0/16\",\"10.0.0.0/8\",\"100.64.0.0/10\","
			     "\"172.16.0.0/12\",\"192.168.0.0/16\"]}},{\"ipBlock\":{\"cidr\":\"::/0\",\"except\":[\"fc00::/7\",\"fe80::/10\"]}}]}],"
			     "\"podSelector\":{\"matchLabels\":{\"app\":\"queue-worker\"}},\"policyTypes\":[\"Egress\"]}");
		free(qws);
		const json_t *nats = policy_spec(&c, "k8s_manifest.of_networkpolicy_openfaas_secfaas_nats");
		T_EQ(json_array_size(json_object_get(json_array_get(json_object_get(nats, "ingress"), 0), "from")), 2);
		const json_t *egr = policy_spec(&c, "k8s_manifest.of_networkpolicy_openfaas_fn_secfaas_egress");
		const json_t *to = json_object_get(json_array_get(json_object_get(egr, "egress"), 0), "to");
		if (k == 0) {
			T_OK(egr == NULL);
		} else if (k == 1) {
			const json_t *b = json_object_get(json_array_get(to, 0), "ipBlock");
			T_STREQ(json_string_value(json_object_get(b, "cidr")), "0.0.0.0/0");
			char *ex = json_dumps(json_object_get(b, "except"), JSON_COMPACT);
			/* public addresses only: the VPC and the services lie in
			 * private space already */
			T_STREQ(ex, "[\"169.254.0.0/16\",\"10.0.0.0/8\",\"100.64.0.0/10\",\"172.16.0.0/12\",\"192.168.0.0/16\"]");
			free(ex);
			b = json_object_get(json_array_get(to, 1), "ipBlock");
			ex = json_dumps(json_object_get(b, "except"), JSON_COMPACT);
			T_STREQ(ex, "[\"fc00::/7\",\"fe80::/10\"]");
			free(ex);
		} else {
			/* a listed block keeps link-local, the VPC and the services
			 * out; one inside them is left out */
			char *got = json_dumps(to, JSON_COMPACT);
			T_STREQ(got, "[{\"ipBlock\":{\"cidr\":\"203.0.113.0/24\"}},{\"ipBlock\":{\"cidr\":\"198.51.100.7/32\"}},"
				     "{\"ipBlock\":{\"cidr\":\"0.0.0.0/0\",\"except\":[\"169.254.0.0/16\",\"10.40.0.0/16\",\"172.20.0.0/16\"]}},"
				     "{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"10.40.0.0/16\"]}}]");
			free(got);
		}
		/* after the namespaces, before the gateway runs */
		const struct sf_rinst *r = sf_config_find(&c, "k8s_manifest.of_networkpolicy_openfaas_fn_secfaas_default_deny");
		const struct sf_rinst *dep = sf_config_find(&c, "k8s_manifest.of_deployment_openfaas_gateway");
		T_OK(r && has_dep(r, "k8s_manifest.of_namespace_openfaas_fn"));
		T_OK(dep && !has_dep(r, "k8s_manifest.of_deployment_openfaas_gateway"));
		size_t *order = NULL;
		char *cycle = NULL;
		T_EQ(sf_config_order(&c, &order, &cycle), 0);
		size_t pi = 0, gi = 0;
		for (size_t i = 0; i < c.n; i++) {
			if (&c.v[order[i]] == r)
				pi = i;
			if (&c.v[order[i]] == dep)
				gi = i;
		}
		T_OK(pi < gi);
		free(order);
		free(cycle);
		json_decref(cl);
		sf_config_release(&c);
		sf_diags_release(&d);
	}
}

/* ResourceQuota and LimitRange: defaults, and the spec's values as values. */
T_TEST(function_limits_quota_and_limitrange)
{
	for (int k = 0; k < 2; k++) {
		struct sf_config c = SF_CONFIG_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		json_t *cl = cluster(1, 1, NULL);
		if (k)
			json_object_set_new(json_object_get(json_object_get(cl, "spec"), "openfaas"), "functionLimits",
					    json_pack("{s:i, s:s, s:s}", "pods", 20, "memory", "8Gi", "maxCpu", "1500m"));
		sf_cluster_lower_k8s(cl, &c, &d);
		T_EQ(d.nerrors, 0);
		const json_t *q = policy_spec(&c, "k8s_manifest.of_resourcequota_openfaas_fn_secfaas_functions");
		const json_t *lr = policy_spec(&c, "k8s_manifest.of_limitrange_openfaas_fn_secfaas_functions");
		T_OK(q && lr);
		const json_t *hard = json_object_get(q, "hard");
		T_STREQ(json_string_value(json_object_get(hard, "pods")), k ? "20" : "100");
		T_STREQ(json_string_value(json_object_get(hard, "limits.memory")), k ? "8Gi" : "64Gi");
		T_STREQ(json_string_value(json_object_get(hard, "limits.cpu")), "32");
		const json_t *l0 = json_array_get(json_object_get(lr, "limits"), 0);
		T_STREQ(json_string_value(json_object_get(l0, "type")), "Container");
		T_STREQ(json_string_value(json_object_get(json_object_get(l0, "max"), "cpu")), k ? "1500m" : "2");
		T_STREQ(json_string_value(json_object_get(json_object_get(l0, "default"), "memory")), "256Mi");
		T_STREQ(json_string_value(json_object_get(json_object_get(l0, "defaultRequest"), "cpu")), "50m");
		/* before the gateway (so before any function pod) */
		const struct sf_rinst *r = sf_config_find(&c, "k8s_manifest.of_resourcequota_openfaas_fn_secfaas_functions");
		T_OK(r && has_dep(r, "k8s_manifest.of_namespace_openfaas_fn"));
		json_decref(cl);
		sf_config_release(&c);
		sf_diags_release(&d);
	}
}

T_TEST(licence_must_be_accepted)
{
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	json_t *cl = cluster(1, 0, NULL);
	sf_cluster_lower_k8s(cl, &c, &d);
	T_EQ(d.nerrors, 1);
	T_OK(d.n && strstr(d.v[0].msg, "acceptLicense"));
	T_OK(sf_config_find(&c, "k8s_manifest.of_deployment_openfaas_gateway") == NULL);
	json_decref(cl);
	sf_config_release(&c);
	sf_diags_release(&d);
}

T_TEST(loadbalancer_gateway)
{
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	json_t *cl = cluster(1, 1, "LoadBalancer");
	sf_cluster_lower_k8s(cl, &c, &d);
	const struct sf_rinst *ext = sf_config_find(&c, "k8s_manifest.of_service_openfaas_gateway_external");
	T_OK(ext != NULL);
	if (ext) {
		const json_t *spec = json_object_get(json_object_get(ext->config, "manifest"), "spec");
		T_STREQ(json_string_value(json_object_get(spec, "type")), "LoadBalancer");
		T_OK(json_object_get(json_array_get(json_object_get(spec, "ports"), 0), "nodePort") == NULL);
	}
	json_decref(cl);
	sf_config_release(&c);
	sf_diags_release(&d);
}

T_TEST(template_placeholders)
{
	json_t *docs = NULL;
	struct sf_err err = SF_ERR_INIT;
	const char *vars[] = {"A", "x", NULL};
	T_EQ(sf_kube_template_text(&docs, "t", "a: \"@@A@@\"\n---\nb: \"@@A@@-y\"\n", vars, &err), 0);
	T_EQ(json_array_size(docs), 2);
	T_STREQ(json_string_value(json_object_get(json_array_get(docs, 1), "b")), "x-y");
	json_decref(docs);
	T_EQ(sf_kube_template_text(&docs, "t", "a: \"@@B@@\"\n", vars, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "@@B@@");
	T_OK(docs == NULL);
	/* a placeholder in a comment needs no value; keys are filled too */
	T_EQ(sf_kube_template_text(&docs, "t", "# @@B@@\n\"@@A@@\": v\n", vars, &err), 0);
	T_STREQ(json_string_value(json_object_get(json_array_get(docs, 0), "x")), "v");
	json_decref(docs);
}

/* Values are data: filled into the parsed strings, a value can neither add
 * a field nor end its string; inside a longer string (CEL, messages) only
 * name characters are allowed. */
T_TEST(template_values_are_data)
{
	json_t *docs = NULL;
	struct sf_err err = SF_ERR_INIT;
	const char *evil[] = {"V", "x\"\nhostPID: true\n---\nkind: Evil\nz: \"", NULL};
	T_EQ(sf_kube_template_text(&docs, "t", "spec:\n  image: \"@@V@@\"\n", evil, &err), 0);
	T_EQ(json_array_size(docs), 1);
	const json_t *spec = json_object_get(json_array_get(docs, 0), "spec");
	T_EQ(json_object_size(spec), 1);
	T_STREQ(json_string_value(json_object_get(spec, "image")), evil[1]);
	json_decref(docs);
	const char *cel[] = {"RC", "gvisor' || true || '", NULL};
	T_EQ(sf_kube_template_text(&docs, "t", "expression: \"object.spec.runtimeClassName == '@@RC@@'\"\n", cel, &err),
	     SF_EINVAL);
	T_CONTAINS(err.msg, "inside a longer string");
	T_OK(docs == NULL);
	const char *ok[] = {"RC", "gvisor", NULL};
	T_EQ(sf_kube_template_text(&docs, "t", "expression: \"object.spec.runtimeClassName == '@@RC@@'\"\n", ok, &err), 0);
	T_STREQ(json_string_value(json_object_get(json_array_get(docs, 0), "expression")),
		"object.spec.runtimeClassName == 'gvisor'");
	json_decref(docs);
}


static void collect_images(const json_t *j, const char *file, int *n)
{
	if (json_is_array(j)) {
		size_t i;
		json_t *x;
		json_array_foreach(j, i, x) collect_images(x, file, n);
		return;
	}
	if (!json_is_object(j))
		return;
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)j, k, x)
	{
		if (!strcmp(k, "image") && json_is_string(x) && !strstr(json_string_value(x), "@@")) {
			char why[160];
			(*n)++;
			if (sf_image_ref_parse(json_string_value(x), NULL, why, sizeof why) < 0)
				T_FAILF("%s: image \"%s\": %s", file, json_string_value(x), why);
		} else {
			collect_images(x, file, n);
		}
	}
}

/* Every image the embedded manifests pin is a valid reference. */
T_TEST(embedded_images_are_references)
{
	int n = 0;
	char why[160];
	for (const struct sf_embedded *e = sf_embedded_files; e->name; e++) {
		size_t l = strlen(e->name);
		if (l < 5 || strcmp(e->name + l - 5, ".yaml"))
			continue;
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		sf_spec_load_buffer(&set, e->name, e->data, e->len, &d);
		for (size_t i = 0; i < set.n; i++) {
			json_t *j = sf_node_to_json(set.docs[i].root);
			collect_images(j, e->name, &n);
			json_decref(j);
		}
		sf_diags_release(&d);
		sf_specset_release(&set);
	}
	T_OK(n >= 5);
	T_EQ(sf_image_ref_parse(SF_GVW_IMAGE, NULL, why, sizeof why), 0);
}

/* Not a check: the k8s suite's generator (see the header comment). */
T_TEST(emit)
{
	const char *path = getenv("SF_K8S_EMIT");
	if (!path)
		return;
	json_t *conn = json_pack("{s:s, s:s, s:s}", "endpoint", getenv("SF_K8S_ENDPOINT"), "ca_data", getenv("SF_K8S_CA"),
				 "token", getenv("SF_K8S_TOKEN"));
	const char *gw = getenv("SF_K8S_GATEWAY_SERVICE");
	json_t *cl = cluster(getenv("SF_K8S_NO_OPENFAAS") ? 0 : 1, 1, gw);
	const char *mut = getenv("SF_K8S_MUTATOR");
	if (mut && *mut)
		json_object_set_new(json_object_get(json_object_get(cl, "spec"), "openfaas"), "mutator", json_string(mut));
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	sf_k8s_lower(cl, conn, NULL, 0, &c, &d);
	T_EQ(d.nerrors, 0);
	json_t *res = json_array();
	for (size_t i = 0; i < c.n; i++) {
		json_t *deps = json_array();
		for (size_t j = 0; j < c.v[i].ndeps; j++)
			json_array_append_new(deps, json_string(c.v[i].deps[j]));
		json_array_append_new(res, json_pack("{s:s, s:s, s:O, s:o}", "type", c.v[i].type->name, "name", c.v[i].name,
						     "attributes", c.v[i].config, "dependsOn", deps));
	}
	json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:{s:o}}", "apiVersion", "secfaas.dev/v1alpha1", "kind", "Stack",
				"metadata", "name", getenv("SF_K8S_WORKSPACE") ? getenv("SF_K8S_WORKSPACE") : "demo",
				"spec", "resources", res);
	T_EQ(json_dump_file(doc, path, JSON_INDENT(1)), 0);
	json_decref(doc);
	json_decref(cl);
	json_decref(conn);
	sf_config_release(&c);
	sf_diags_release(&d);
}

T_MAIN()
