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

/* A JSON Schema (draft 2020-12) of one spec document, made from the kind
 * table and the same schema rows validation uses, for editors' YAML
 * language servers.  Checks across fields and most check hooks (CIDRs,
 * regions) stay with validation.  New reference. */
json_t *sf_kinds_json_schema(void);

/* The Stack kind (kind_stack.c). */
extern const struct sf_kind sf_kind_stack;
/* The Cluster kind (kind_cluster.c). */
extern const struct sf_kind sf_kind_cluster;

/* Shared checks usable by kind schemas. */
void sf_check_dns_label(const struct sf_node *n, struct sf_diags *d, const char *path);
void sf_check_region(const struct sf_node *n, struct sf_diags *d, const char *path);

#endif
