/*
 * cluster.h - the Cluster kind: schema helpers and lowering into the
 * resource graph (IAM, network, AMI bake, launch templates, EKS, node
 * groups, Kubernetes objects).
 */
#ifndef SF_CLUSTER_H
#define SF_CLUSTER_H

#include <stdint.h>

#include "provisioner/engine/config.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/node/render.h"
#include "provisioner/spec/schema.h"

const struct sf_schema *sf_cluster_schema(void);

/* Lower a validated Cluster document into c (cluster_lower.c). */
void sf_cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d);

/* 0 ok; -1 malformed; -2 host bits set. */
int sf_parse_cidr(const char *s, uint32_t *net, int *bits);
int sf_cidrs_overlap(uint32_t a, int abits, uint32_t b, int bbits);
/* 0 and *arch = "x86_64" | "arm64", or -1 if not an instance type. */
int sf_instance_type_arch(const char *t, const char **arch);
int sf_label_key_ok(const char *k);
int sf_label_value_ok(const char *v);

#define SF_DEFAULT_SERVICE_CIDR "172.20.0.0/16"

/* The Cluster document as normalised JSON: metadata + spec with defaults
 * filled in (availabilityZones 3, endpointAccess public, serviceCidr,
 * gvisor.platform systrap, per group runtime runc, capacityType ON_DEMAND,
 * diskSize 20, scaling.desired = min, arch from instance types, and for
 * gvisor groups the sandbox label and taint). New reference. */
json_t *sf_cluster_normalize(const struct sf_doc *doc);

/* The node group named `name` in a normalised cluster, or NULL (borrowed). */
const json_t *sf_cluster_nodegroup(const json_t *cluster, const char *name);

/* Fill a node render input (render.h) from a normalised cluster and one of
 * its node groups. Label/taint arrays are allocated into *labels / *taints
 * (free() them); strings are borrowed from the JSON. endpoint/ca may be
 * NULL (placeholders are used, for previews before the cluster exists). */
struct sf_node_render_in;
struct sf_kv;
struct sf_taint;
void sf_cluster_render_in(const json_t *cluster, const json_t *ng, const char *endpoint, const char *ca_b64,
			  int containerd_major, struct sf_node_render_in *in, struct sf_kv **labels,
			  struct sf_taint **taints);
#define SF_PENDING_ENDPOINT "https://pending-cluster-endpoint.invalid"
#define SF_PENDING_CA "cGVuZGluZy1jbHVzdGVyLWNh" /* base64("pending-cluster-ca") */

/* Kubernetes objects of a cluster (RuntimeClass, OpenFaaS, admission
 * guard), lowered after the AWS resources (cluster_lower_k8s.c).
 * `cluster` is the normalised JSON. */
void sf_cluster_lower_k8s(const json_t *cluster, struct sf_config *c, struct sf_diags *d);

#endif
