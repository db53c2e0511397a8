/*
 * types_k8s.h - the Kubernetes resource types and what they share.
 *
 * Every k8s_* type carries its connection as attributes (so destroy works
 * from state alone): `endpoint`, `ca_data` (base64 PEM), `cluster_name`
 * (for the EKS token) and an optional static `token` (sensitive; tests
 * against kubesim).  Cluster lowering fills them with references to
 * eks_cluster.main.  The clients themselves are shared per run through
 * resources/kube_cache.h.
 *
 *   k8s_manifest     one object, server-side applied; plan diffs come from a
 *                    server-side dry run compared with the live object
 *   k8s_basic_auth   a Secret whose password is generated once, kept as a
 *                    sensitive attribute (encrypted in state), never rotated
 *   k8s_gvisor_guard the admission route that keeps every pod of a namespace
 *                    in the gVisor RuntimeClass (deny guard, mutator where
 *                    served, self-test, repair of function Deployments)
 */
#ifndef SF_TYPES_K8S_H
#define SF_TYPES_K8S_H

#include "provisioner/engine/resource.h"

struct sf_kube;
struct sf_kube_wait;

/* One row per type: X(<name>) for `const struct sf_rtype sf_rt_<name>`;
 * adding a Kubernetes type is its file and one row here (k8s_provider.c
 * and these declarations come from this list). */
#define SF_K8S_TYPES(X)    \
	X(k8s_basic_auth)   \
	X(k8s_gvisor_guard) \
	X(k8s_manifest)

SF_K8S_TYPES(SF_RTYPE_EXTERN)

#define SF_K8S_CONN_ATTRS                                                                                     \
	{"endpoint", SF_AT_STRING, SF_ATTR_REQUIRED, "Kubernetes API endpoint (https://...)"},                  \
	{"ca_data", SF_AT_STRING, SF_ATTR_OPTIONAL, "base64 PEM of the cluster CA"},                            \
	{"cluster_name", SF_AT_STRING, SF_ATTR_OPTIONAL, "EKS cluster name (bearer token from AWS credentials)"}, \
	{"token", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE, "static bearer token instead of the EKS one"}

/* Borrowed client for the connection attributes in attrs, or NULL with c->err. */
struct sf_kube *sf_k8s_client(struct sf_rctx *c, const json_t *attrs);
/* Wait options from the context (cancel flag, progress, timeout). */
void sf_k8s_wait_opts(struct sf_rctx *c, struct sf_kube_wait *w, double default_timeout_s);
/* Copy the connection attributes of src into dst. */
void sf_k8s_copy_conn(json_t *dst, const json_t *src);

#endif
