/*
 * kinds.h - document kinds: envelope checks and lowering into resources.
 *
 * Every document carries apiVersion secfaas.dev/v1alpha1, a kind, and
 * metadata.name.  A kind is a row in the table in kinds.c: its spec schema
 * and a lowering function that adds resource instances to a config.  Adding
 * a kind is one file with its schema + lowering, and one row.
 */
#ifndef SF_KINDS_H
#define SF_KINDS_H

#include "provisioner/engine/config.h"
#include "provisioner/spec/schema.h"

#define SF_API_VERSION "secfaas.dev/v1alpha1"

struct sf_kind {
	const char *name;                   /* "Cluster", "Stack" */
	const struct sf_schema *spec;       /* schema of `spec` */
	/* Add instances for doc to c. Problems go to d (positions from doc). */
	void (*lower)(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d);
	const char *doc;
	size_t name_max;                    /* longest metadata.name the kind can use; 0: the envelope's */
};

const struct sf_kind *sf_kind_find(const char *name);
/* Envelope + schema validation of one document. */
void sf_kind_validate(const struct sf_doc *doc, struct sf_diags *d);
/* Lower one (validated) document. */
void sf_kind_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d);

/* The configuration of one workspace from a loaded set: the engine's
 * sf_config_assemble() with these kinds (see config.h for the contract). */
int sf_config_build(struct sf_config *out, const struct sf_specset *set, const char *workspace,
		    struct sf_diags *d);
/* The same in two steps for many workspaces of one set: check every
 * document once (sf_config_check_specs), then build each workspace
 * without checking the set again (sf_config_build_checked). */
int sf_config_check_specs(const struct sf_specset *set, struct sf_diags *d);
int sf_config_build_checked(struct sf_config *out, const struct sf_specset *set, const char *workspace,
			    struct sf_diags *d);

/* A JSON Schema (draft 2020-12) of one spec document, made from the kind
 * table and the same schema rows validation uses, for editors' YAML
 * language servers.  The offline rules a pattern, a bound or an if/then
 * can say are in it too (DNS labels, AWS tags, admin ARNs, CIDR syntax,
 * image references, mirrors, quantities, the versions allowed beside each
 * cluster version, the OpenFaaS licence, what a gVisor group needs); CIDR
 * arithmetic, comparisons of two values (min and max, two quantities),
 * unique names across items and a Stack resource type's own checks stay
 * with validation.  New reference. */
json_t *sf_kinds_json_schema(void);
/* Every check hook of the kinds' schema rows must be either said in that
 * JSON Schema or known to be beyond what one can say: the paths of hooks
 * that are neither ("Cluster spec.network.cidr"), one a line, appended to
 * out; returns their count (0 keeps a new hook from slipping past
 * `secfaas schema`, tests/unit/test_spec.c). */
struct sf_buf;
size_t sf_kinds_schema_gaps(struct sf_buf *out);

/* The Stack kind (kind_stack.c). */
extern const struct sf_kind sf_kind_stack;
/* The Cluster kind (kind_cluster.c). */
extern const struct sf_kind sf_kind_cluster;

/* Shared checks usable by kind schemas. */
void sf_check_dns_label(const struct sf_node *n, struct sf_diags *d, const char *path);
void sf_check_region(const struct sf_node *n, struct sf_diags *d, const char *path);
/* JSON Schema patterns for a dotted IPv4 address with a prefix length,
 * leading zeros allowed as sf_parse_cidr reads them (host bits are
 * validate's to find): SF_JS_IPV4_NET "/" prefix-pattern. */
#define SF_JS_OCTET "0*(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#define SF_JS_IPV4_NET "(" SF_JS_OCTET "\\.){3}" SF_JS_OCTET
/* The regions sf_check_region knows (static table; *n set). */
const char *const *sf_known_regions(size_t *n);
/* JSON Schema keywords for what one of the Cluster schema's own check
 * hooks enforces, added to `out`, where a JSON Schema can say it
 * (cluster_schema.c).  Returns 1 when it knew the hook. */
int sf_cluster_check_keywords(sf_schema_check_fn check, json_t *out);
/* The same for the Stack kind's own hooks (kind_stack.c). */
int sf_stack_check_keywords(sf_schema_check_fn check, json_t *out);
/* AWS tags (metadata.tags): what every service secfaas tags would refuse,
 * found offline.  Keys 1-128 and values 0-256 characters (code points, not
 * bytes) of letters, digits, spaces and _ . : / = + - @ (IAM's and EKS's
 * common rule); no aws: (AWS's) or secfaas: (ownership) prefix; at most
 * SF_USER_TAGS_MAX of them, because AWS allows 50 per resource and secfaas
 * adds up to 14 of its own (the gVisor image builder: 5 ownership tags, 6
 * image facts, the cluster tag, Name and role). */
#define SF_USER_TAGS_MAX 36
void sf_check_aws_tags(const struct sf_node *n, struct sf_diags *d, const char *path);
/* A list of IAM principal ARNs an EKS access entry accepts
 * (arn:PARTITION:iam::ACCOUNT:role/... or user/...; no STS sessions, no
 * duplicates: EKS allows one access entry per principal). */
void sf_check_principal_arns(const struct sf_node *n, struct sf_diags *d, const char *path);
/* EKS publicAccessCidrs: IPv4 CIDRs without host bits, at most 40 (EKS's
 * quota), no duplicates. */
void sf_check_public_cidrs(const struct sf_node *n, struct sf_diags *d, const char *path);
/* A list of IPv4 CIDRs (network addresses, no duplicates), at most max
 * (over it: "<path>: N CIDRs; <limit>"). */
void sf_check_ipv4_cidrs(const struct sf_node *n, struct sf_diags *d, const char *path, size_t max, const char *limit);

#endif
