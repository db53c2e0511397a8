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
 *                          (none: no such policy), the internet (public
 *                          addresses only: never link-local 169.254.0.0/16
 *                          -- the metadata service --, private or shared
 *                          space, the VPC -- nodes, other pods, the control
 *                          plane's ENIs -- or the service CIDR; IPv6
 *                          without unique local and link-local), or the
 *                          listed CIDRs less link-local, the VPC and the
 *                          service CIDR.
 * openfaas (the operator's components):
 *   secfaas-nats           NATS only from the gateway and the queue-worker;
 *   secfaas-prometheus     Prometheus only from the gateway (its queries);
 *   secfaas-alertmanager   Alertmanager only from Prometheus;
 *   secfaas-queue-worker-egress  the queue-worker only to NATS, the
 *                          gateway, DNS and public addresses (callbacks).
 * A policy that is deleted or loosened is drift of its k8s_manifest: plan
 * shows it, apply puts it back.
 */
#include <string.h>

#include "provisioner/kinds/cluster.h"
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

/* An egress rule: the cluster DNS (kube-system k8s-app=kube-dns) on 53. */
static json_t *dns_rule(void)
{
	return json_pack("{s:[{s:o, s:o}], s:[{s:s, s:i}, {s:s, s:i}]}", "to", "namespaceSelector",
			 match("kubernetes.io/metadata.name", "kube-system"), "podSelector", match("k8s-app", "kube-dns"),
			 "ports", "protocol", "UDP", "port", 53, "protocol", "TCP", "port", 53);
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

/* Private and shared address space: "internet" means public addresses
 * only, so a VPC peering, a transit gateway or a VPN behind the VPC's
 * routes is never reached through it (list such networks instead). */
static const char *const private_v4[] = {"10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", NULL};

/* What no egress rule ever allows: link-local (the metadata service),
 * the VPC (nodes, other pods, the control plane's ENIs) and the service
 * CIDR; the VPC is NULL for a VPC given by vpcId. */
#define N_OWN 3
static void own_network(const json_t *net, const char *own[N_OWN])
{
	own[0] = "169.254.0.0/16";
	own[1] = json_string_value(json_object_get(net, "cidr"));
	own[2] = json_string_value(json_object_get(net, "serviceCidr"));
}

/* Public addresses: every address but the cluster's own network and
 * private and shared space; IPv6 without unique local (the metadata
 * service's fd00:ec2::254 among them) and link-local.  A list of
 * NetworkPolicy peers. */
static json_t *public_blocks(const json_t *net)
{
	const char *own[N_OWN];
	own_network(net, own);
	json_t *except = json_pack("[s]", own[0]); /* link-local, in no private range */
	for (size_t i = 0; private_v4[i]; i++)
		json_array_append_new(except, json_string(private_v4[i]));
	for (size_t k = 1; k < N_OWN; k++) {
		int covered = 0;
		for (size_t i = 0; own[k] && private_v4[i]; i++)
			covered |= sf_cidr_within(own[k], private_v4[i]);
		if (own[k] && !covered)
			json_array_append_new(except, json_string(own[k]));
	}
	if (!own[1] && json_is_string(json_object_get(net, "vpcId")))
		/* a given VPC's block, read by its reference (which refuses
		 * a VPC with more blocks than this one) */
		json_array_append_new(except, json_string("${aws_network_ref.main.cidr_block}"));
	return json_pack("[{s:{s:s, s:o}}, {s:{s:s, s:[s, s]}}]", "ipBlock", "cidr", "0.0.0.0/0", "except", except,
			 "ipBlock", "cidr", "::/0", "except", "fc00::/7", "fe80::/10");
}

/* The egress rule of openfaas.functionEgress, or NULL for none.  The
 * cluster's own network (the VPC, the service CIDR) and link-local (the
 * metadata service) are never in it: a listed CIDR that contains one gets
 * it as an exception, one that lies within one is left out (validate
 * refuses it, check_egress_network in cluster_schema.c). */
static json_t *egress_rule(const json_t *spec)
{
	const json_t *of = json_object_get(spec, "openfaas");
	const json_t *eg = json_object_get(of, "functionEgress");
	const json_t *net = json_object_get(spec, "network");
	const char *own[N_OWN];
	own_network(net, own);
	json_t *to = NULL;
	if (json_is_string(eg) && !strcmp(json_string_value(eg), "internet")) {
		to = public_blocks(net);
	} else if (json_is_array(eg)) {
		to = json_array();
		size_t i;
		const json_t *c;
		json_array_foreach(eg, i, c)
		{
			const char *cidr = json_string_value(c);
			int inside = 0;
			json_t *except = json_array();
			for (size_t k = 0; cidr && k < N_OWN; k++) {
				if (sf_cidr_within(cidr, own[k]))
					inside = 1;
				else if (sf_cidr_within(own[k], cidr))
					json_array_append_new(except, json_string(own[k]));
			}
			if (cidr && !inside && json_array_size(except))
				json_array_append_new(to, json_pack("{s:{s:s, s:O}}", "ipBlock", "cidr", cidr, "except", except));
			else if (cidr && !inside)
				json_array_append_new(to, json_pack("{s:{s:s}}", "ipBlock", "cidr", cidr));
			json_decref(except);
		}
	}
	if (!json_array_size(to)) {
		json_decref(to);
		return NULL;
	}
	return json_pack("{s:o}", "to", to);
}

/* The queue-worker's way out: NATS (its queue), the gateway (it invokes
 * functions through it), DNS, and for the X-Callback-Url a caller may give
 * an asynchronous invocation, public addresses only: the URL is the
 * caller's, so it must not turn the queue-worker into a way into the VPC,
 * the cluster's Services or the metadata service. */
static json_t *queue_worker_egress(const json_t *spec)
{
	json_t *p = policy(OF_NS, "secfaas-queue-worker-egress", match("app", "queue-worker"), json_pack("[s]", "Egress"));
	json_object_set_new(json_object_get(p, "spec"), "egress",
			    json_pack("[{s:[o], s:[o]}, {s:[o], s:[o]}, o, {s:o}]", "to", pods_of(OF_NS, "nats"), "ports",
				      tcp(4222), "to", pods_of(OF_NS, "gateway"), "ports", tcp(8080), dns_rule(), "to",
				      public_blocks(json_object_get(spec, "network"))));
	return p;
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
	json_object_set_new(json_object_get(p, "spec"), "egress", json_pack("[o]", dns_rule()));
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
	json_array_append_new(out, queue_worker_egress(spec));
	return out;
}
