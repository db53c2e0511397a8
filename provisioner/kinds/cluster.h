/*
 * cluster.h - the Cluster kind: its schema (cluster_schema.c), the typed
 * cluster model built once from a validated document (cluster_model.c),
 * and its lowering into the resource graph (cluster_lower*.c: IAM,
 * network, control plane, images, node groups, Kubernetes objects).
 *
 * Why a model: lowering, `secfaas render`, `secfaas bake` and their
 * commands must agree on every default (availability zones, service CIDR,
 * platform, architecture, the sandbox label and taint of gVisor groups)
 * and on what makes a group gVisor.  They all read struct sf_cluster;
 * nothing re-decides a default from the document.
 *
 * Calling steps:
 *   struct sf_cluster cl;
 *   if (sf_cluster_load(&cl, doc) == 0) { ... read cl ... }
 *   sf_cluster_release(&cl);
 *
 * Ownership: struct sf_cluster owns `json` (the normalised document) and
 * the arrays (groups, their labels and taints); every string and json_t
 * member is borrowed from `json`, so it lives until sf_cluster_release().
 */
#ifndef SF_CLUSTER_H
#define SF_CLUSTER_H

#include <stdint.h>
#include <stdio.h>

#include "provisioner/engine/config.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/node/render.h"
#include "provisioner/spec/schema.h"

/* ---- schema (cluster_schema.c) ---- */

extern const struct sf_schema sf_cluster_spec_schema;
const struct sf_schema *sf_cluster_schema(void);

/* 0 ok; -1 malformed; -2 host bits set. */
int sf_parse_cidr(const char *s, uint32_t *net, int *bits);
int sf_cidrs_overlap(uint32_t a, int abits, uint32_t b, int bbits);
/* 1 when CIDR `in` lies within `out` (equal included); 0 otherwise or when
 * either is not a CIDR. */
int sf_cidr_within(const char *in, const char *out);
/* 0 and *arch = "x86_64" | "arm64", or -1 if not an instance type. */
int sf_instance_type_arch(const char *t, const char **arch);
int sf_label_key_ok(const char *k);
int sf_label_value_ok(const char *v);

/* ---- the model (cluster_model.c) ---- */

#define SF_DEFAULT_SERVICE_CIDR "172.20.0.0/16"
/* The longest name made from a Cluster's is the IAM role
 * <name>-ami-builder, and IAM role names hold 64 characters. */
#define SF_CLUSTER_NAME_MAX (64 - (sizeof "-ami-builder" - 1))
/* Placeholders for the cluster's endpoint and CA before it exists (node
 * configuration previews; lowering replaces them with references). */
#define SF_PENDING_ENDPOINT "https://pending-cluster-endpoint.invalid"
#define SF_PENDING_CA "cGVuZGluZy1jbHVzdGVyLWNh" /* base64("pending-cluster-ca") */

enum sf_runtime { SF_RUNTIME_RUNC, SF_RUNTIME_GVISOR };

struct sf_nodegroup {
	const char *name;
	enum sf_runtime runtime;
	const char *arch;              /* "x86_64" | "arm64", from the instance types */
	const char *capacity_type;     /* ON_DEMAND | SPOT */
	const char *ami;               /* a given image (`ami:`), or NULL */
	int bakes;                     /* gVisor without `ami`: runs the baked image of its arch */
	long long disk_size, min, max, desired;
	long long hop_limit;           /* IMDSv2 PUT response hop limit of its launch template (default 1) */
	const json_t *instance_types;  /* array of strings */
	const json_t *labels_json;     /* object; gVisor groups include the sandbox label */
	const json_t *taints_json;     /* array of {key, value, effect}; gVisor: with the sandbox taint */
	const json_t *update_config;   /* object as written, or NULL */
	const char *kubernetes_version; /* runc groups: a pinned kubelet version, or NULL (the cluster's) */
	const char *release_version;   /* runc groups: a pinned EKS AMI release, or NULL (the newest) */
	struct sf_kv *labels;          /* the same labels and taints for rendering */
	size_t n_labels;
	struct sf_taint *taints;
	size_t n_taints;
	const struct sf_node *node;    /* its document node (positions), may be NULL */
};

struct sf_cluster {
	const char *name;
	const char *region;            /* metadata.region, else AWS_REGION / AWS_DEFAULT_REGION; NULL: none */
	const json_t *user_tags;       /* metadata.tags, or NULL */
	const char *kubernetes_version;
	struct {
		const char *cidr;      /* a VPC secfaas makes; NULL with vpc_id */
		uint32_t net;          /* parsed cidr */
		int bits;
		const char *vpc_id;    /* an existing VPC (read only), or NULL */
		const json_t *private_subnets, *public_subnets; /* its given subnet ids (arrays; with vpc_id) */
		int azs;               /* availability zones (>= 2) of a made VPC */
		const char *endpoint_access; /* public | private | public-and-private */
		const json_t *public_access_cidrs; /* array, or NULL */
		const char *service_cidr;
		const char *node_subnets; /* private (default) | public */
		const char *nat;       /* single (default with private nodes) | perAz | none */
		const json_t *vpc_endpoints; /* array of service names (cluster_lower_endpoints.c), or NULL */
	} network;
	struct {
		int set;               /* spec.gvisor present */
		const char *release, *platform, *sha512, *mirror; /* platform defaults to systrap */
	} gvisor;
	const char *auth_mode;         /* API | API_AND_CONFIG_MAP */
	const json_t *admins;          /* array of principal ARNs, or NULL */
	const json_t *logging;         /* array of log types, or NULL */
	const char *autoscaler;        /* "cluster-autoscaler", or NULL: none */
	struct sf_nodegroup *groups;
	size_t n_groups;
	int bakes_x86_64, bakes_arm64; /* some gVisor group bakes an image of that arch */
	const struct sf_doc *doc;      /* borrowed */
	json_t *json;                  /* {metadata, spec} with every default spelled out (owned) */
};

/* network.vpcEndpoints: the services secfaas can make an endpoint for, and
 * those nodes without NAT cannot join without (NULL terminated;
 * cluster_lower_endpoints.c). */
extern const char *const sf_vpc_endpoint_services[];
extern const char *const sf_vpc_endpoints_nodes_need[];

/* The Cluster document of `workspace` in a loaded set, or NULL (borrowed). */
const struct sf_doc *sf_cluster_doc(const struct sf_specset *set, const char *workspace);

/* Build the model of a validated Cluster document.  0, or -1 when the
 * document lacks what a model needs (validation reports why). */
int sf_cluster_load(struct sf_cluster *out, const struct sf_doc *doc);
void sf_cluster_release(struct sf_cluster *c);

/* The node group named `name`, or NULL (borrowed). */
const struct sf_nodegroup *sf_cluster_group(const struct sf_cluster *c, const char *name);

/* The arch `secfaas bake` bakes when none is asked for: the first gVisor
 * group's, else x86_64. */
const char *sf_cluster_bake_arch(const struct sf_cluster *c);

/* Fill a node render input (render.h) for group g; everything is borrowed
 * from the model.  endpoint/ca_b64 NULL: the SF_PENDING_* placeholders. */
void sf_cluster_render_in(const struct sf_cluster *c, const struct sf_nodegroup *g, const char *endpoint,
			  const char *ca_b64, int containerd_major, struct sf_node_render_in *in);

/* The gVisor image of one arch as aws_gvisor_ami attributes: Kubernetes
 * version, arch, release, platform, pinned SHA-512 (gvisor.sha512, else the
 * built-in table's digest and artifact for release and arch when it has
 * them) and mirror when set,
 * and `tags` when not NULL (copied).  The builder network is the caller's
 * (references in lowering, the applied network or flags in bake).  New
 * object. */
json_t *sf_cluster_image_attrs(const struct sf_cluster *c, const char *arch, const json_t *tags);

/* ---- the upgrade step in a plan (cluster_upgrade.c) ---- */

struct sf_plan;
/* When the plan changes eks_cluster.main's Kubernetes version, print the
 * step as numbered steps (control plane, images, add-ons, node groups,
 * coredns), naming what the plan changes in each, and return 1; else print
 * nothing and return 0. */
int sf_cluster_upgrade_steps(const struct sf_plan *plan, FILE *out);

/* ---- lowering (cluster_lower*.c) ---- */

/* Lower a validated Cluster document into c. */
void sf_cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d);

/* spec.autoscaler (cluster_lower_autoscaler.c): the IAM policy document
 * of the cluster autoscaler of `cluster`, and its Kubernetes objects
 * (ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding,
 * Deployment, in that order) running `image` in `region`.  New objects;
 * every argument is copied in as one string value. */
json_t *sf_cluster_autoscaler_policy(const char *cluster);
json_t *sf_cluster_autoscaler_objects(const char *cluster, const char *region, const char *image);

/* Kubernetes objects of a cluster (RuntimeClass, OpenFaaS, admission
 * guard), lowered after the AWS resources (cluster_lower_k8s.c).
 * `cluster` is the model's normalised JSON (struct sf_cluster.json). */
void sf_cluster_lower_k8s(const json_t *cluster, struct sf_config *c, struct sf_diags *d);

#endif
