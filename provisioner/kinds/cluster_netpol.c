/*
 * cluster_netpol.c - the default NetworkPolicies of a Cluster with OpenFaaS
 * (see lower_k8s.h), built as JSON objects: CIDRs from the spec are values
 * of ipBlock fields, never text spliced into a manifest.
 *
 * openfaas-fn (the tenants):
 *   secfaas-default-deny   every pod isolated for ingress and egress;
 *   secfaas-from-gateway   ingress only from the gateway's pods (namespace
 *                          openfaas, app=gateway) on the watchdog port 8080;
 *   secfaas-dns            egress only to the cluster DNS (kube-system
 *                          k8s-app=kube-dns) on 53 UDP and TCP;
 *   secfaas-egress         what openfaas.functionEgress allows: nothing
 *                          (none: no such policy), the internet (every
 *                          address but link-local 169.254.0.0/16 -- the
 *                          metadata service --, the VPC -- nodes, other
 *                          pods, the control plane's ENIs -- and the
 *                          service CIDR; IPv6 without fd00:ec2::/32), or the
 *                          listed CIDRs.
 * openfaas (the operator's components):
 *   secfaas-nats           NATS only from the gateway and the queue-worker;
 *   secfaas-prometheus     Prometheus only from the gateway (its queries);
 *   secfaas-alertmanager   Alertmanager only from Prometheus.
 * A policy that is deleted or loosened is drift of its k8s_manifest: plan
 * shows it, apply puts it back.
 */
#include <string.h>

#include "provisioner/kinds/lower_k8s.h"
#include "util.h"

#define FN_NS "openfaas-fn"
#define OF_NS "openfaas"

static json_t *policy(const char *ns, const char *name, json_t *selector, json_t *types)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:o, s:o}}", "apiVersion", "networking.k8s.io/v1", "kind",
			 "NetworkPolicy", "metadata", "name", name, "namespace", ns, "labels",
			 "app.kubernetes.io/managed-by", "secfaas", "spec", "podSelector", selector, "policyTypes", types);
}

static json_t *match(const char *k, const char *v)
{
	return json_pack("{s:{s:s}}", "matchLabels", k, v);
}

/* A peer: pods labelled app=<app> in namespace ns. */
static json_t *pods_of(const char *ns, const char *app)
{
	return json_pack("{s:o, s:o}", "namespaceSelector", match("kubernetes.io/metadata.name", ns), "podSelector",
			 match("app", app));
}

static json_t *tcp(int port)
{
	return json_pack("{s:s, s:i}", "protocol", "TCP", "port", port);
}

/* Ingress to pods app=<app> in openfaas on port, only from the pods of
 * the apps listed (NULL-terminated). */
static json_t *only_from(const char *name, const char *app, int port, const char *const *from)
{
	json_t *peers = json_array();
	for (size_t i = 0; from[i]; i++)
		json_array_append_new(peers, pods_of(OF_NS, from[i]));
	json_t *p = policy(OF_NS, name, match("app", app), json_pack("[s]", "Ingress"));
	json_object_set_new(json_object_get(p, "spec"), "ingress",
			    json_pack("[{s:o, s:[o]}]", "from", peers, "ports", tcp(port)));
	return p;
}

/* The egress rule of openfaas.functionEgress, or NULL for none. */
static json_t *egress_rule(const json_t *spec)
{
	const json_t *of = json_object_get(spec, "openfaas");
	const json_t *eg = json_object_get(of, "functionEgress");
	const json_t *net = json_object_get(spec, "network");
	json_t *to = json_array();
	if (json_is_string(eg) && !strcmp(json_string_value(eg), "internet")) {
		json_t *except = json_pack("[s]", "169.254.0.0/16");
		const char *vpc = json_string_value(json_object_get(net, "cidr"));
		const char *svc = json_string_value(json_object_get(net, "serviceCidr"));
		if (vpc)
			json_array_append_new(except, json_string(vpc));
		else if (json_is_string(json_object_get(net, "vpcId")))
			/* a given VPC's block, read by its reference (which refuses
			 * a VPC with more blocks than this one) */
			json_array_append_new(except, json_string("${aws_network_ref.main.cidr_block}"));
		if (svc)
			json_array_append_new(except, json_string(svc));
		json_array_append_new(to, json_pack("{s:{s:s, s:o}}", "ipBlock", "cidr", "0.0.0.0/0", "except", except));
		json_array_append_new(to, json_pack("{s:{s:s, s:[s]}}", "ipBlock", "cidr", "::/0", "except", "fd00:ec2::/32"));
	} else if (json_is_array(eg)) {
		size_t i;
		const json_t *c;
		json_array_foreach(eg, i, c)
		{
			if (json_is_string(c))
				json_array_append_new(to, json_pack("{s:{s:O}}", "ipBlock", "cidr", c));
		}
	}
	if (!json_array_size(to)) {
		json_decref(to);
		return NULL;
	}
	return json_pack("{s:o}", "to", to);
}

json_t *sf_k8s_network_policies(const json_t *cluster)
{
	const json_t *spec = json_object_get(cluster, "spec");
	json_t *out = json_array();
	json_array_append_new(out, policy(FN_NS, "secfaas-default-deny", json_object(),
					  json_pack("[s, s]", "Ingress", "Egress")));
	json_t *p = policy(FN_NS, "secfaas-from-gateway", json_object(), json_pack("[s]", "Ingress"));
	json_object_set_new(json_object_get(p, "spec"), "ingress",
			    json_pack("[{s:[o], s:[o]}]", "from", pods_of(OF_NS, "gateway"), "ports", tcp(8080)));
	json_array_append_new(out, p);
	p = policy(FN_NS, "secfaas-dns", json_object(), json_pack("[s]", "Egress"));
	json_object_set_new(json_object_get(p, "spec"), "egress",
			    json_pack("[{s:[{s:o, s:o}], s:[{s:s, s:i}, {s:s, s:i}]}]", "to", "namespaceSelector",
				      match("kubernetes.io/metadata.name", "kube-system"), "podSelector",
				      match("k8s-app", "kube-dns"), "ports", "protocol", "UDP", "port", 53, "protocol",
				      "TCP", "port", 53));
	json_array_append_new(out, p);
	json_t *rule = egress_rule(spec);
	if (rule) {
		p = policy(FN_NS, "secfaas-egress", json_object(), json_pack("[s]", "Egress"));
		json_object_set_new(json_object_get(p, "spec"), "egress", json_pack("[o]", rule));
		json_array_append_new(out, p);
	}
	static const char *const nats_users[] = {"gateway", "queue-worker", NULL};
	static const char *const prom_users[] = {"gateway", NULL};
	static const char *const am_users[] = {"prometheus", NULL};
	json_array_append_new(out, only_from("secfaas-nats", "nats", 4222, nats_users));
	json_array_append_new(out, only_from("secfaas-prometheus", "prometheus", 9090, prom_users));
	json_array_append_new(out, only_from("secfaas-alertmanager", "alertmanager", 9093, am_users));
	return out;
}
