/*
 * lower_k8s.h - the Kubernetes objects of a Cluster as resource instances
 * (implemented in provisioner/kinds/cluster_lower_k8s.c).
 *
 * sf_cluster_lower_k8s() (cluster.h) is the Cluster kind's entry point: it
 * connects every object to eks_cluster.main (${eks_cluster.main.endpoint},
 * .ca_data, .name), so objects that run no pod are made as soon as the
 * control plane is ACTIVE, while the node groups come up.  The objects
 * whose readiness is their pods running (the gVisor guard, whose self-test
 * goes through its webhook's pods, and every Deployment) depend on each
 * eks_nodegroup.<name> those pods can run on (runc, no NoSchedule or
 * NoExecute taint; every group when none is).  The Services wait for
 * those node groups only for changes to an existing Service (update-only
 * dependencies), so they are made beside the node groups and destroy
 * still removes them (LoadBalancer Services waited for) before those node
 * groups and the cluster.  sf_k8s_lower()
 * is the same with the connection and the node groups given explicitly
 * (tests point it at a local kubesim).
 *
 * What is added:
 *   k8s_manifest.runtimeclass_gvisor        always (manifests/k8s/runtimeclass-gvisor.yaml)
 *   k8s_manifest.of_<kind>_<ns>_<name>      OpenFaaS CE objects, when spec.openfaas is enabled
 *   k8s_gvisor_guard.openfaas_fn            the fail-closed admission route for openfaas-fn
 *   k8s_basic_auth.openfaas                 the gateway's generated basic-auth Secret
 *   k8s_manifest.of_networkpolicy_<ns>_<n>  the default NetworkPolicies (cluster_netpol.c)
 *   k8s_manifest.of_resourcequota_openfaas_fn_secfaas_functions,
 *   k8s_manifest.of_limitrange_openfaas_fn_secfaas_functions
 *                                           openfaas.functionLimits (cluster_fnlimits.c)
 * Objects are chained by their secfaas.dev/phase annotation: each depends
 * on every object of the phase before.
 */
#ifndef SF_KUBE_LOWER_H
#define SF_KUBE_LOWER_H

#include <jansson.h>

struct sf_config;
struct sf_diags;

/* conn: object with endpoint/ca_data/cluster_name/token (borrowed, copied
 * into each instance). deps: the node groups (addresses) the objects that
 * run pods depend on. */
void sf_k8s_lower(const json_t *cluster, const json_t *conn, const char *const *deps, size_t ndeps,
		  struct sf_config *c, struct sf_diags *d);

/* The default NetworkPolicies of a cluster with OpenFaaS, as a new array
 * of objects (provisioner/kinds/cluster_netpol.c).  `cluster` is the
 * normalised {metadata, spec}: network.cidr, network.serviceCidr and
 * openfaas.functionEgress are read from it. */
json_t *sf_k8s_network_policies(const json_t *cluster);

/* The ResourceQuota and LimitRange of openfaas-fn from
 * openfaas.functionLimits (defaults for what it leaves out), as a new
 * array (provisioner/kinds/cluster_fnlimits.c). */
json_t *sf_k8s_function_limits(const json_t *cluster);

#endif
