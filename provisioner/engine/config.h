/*
 * config.h - the desired configuration: resource instances lowered from spec
 * documents, with references and dependencies resolved to addresses.
 *
 * Kinds: the layer above the engine validates each document and lowers it
 * into instances (provisioner/kinds/: `Stack` lists resources directly,
 * `Cluster` becomes the gVisor EKS resource graph); it hands those two
 * functions in as struct sf_lowering, so the engine never names a kind.
 * All documents in a spec path that share metadata.name form one
 * workspace (one state file).
 *
 * References: a string attribute may contain ${type.name.attr}; a value that
 * is exactly one reference takes the referenced value's type.  "$${" is a
 * literal "${".  References create dependency edges; `dependsOn` adds more.
 *
 * Ownership: struct sf_config owns its instances; release with
 * sf_config_release().  Instances reference spec positions, so the specset
 * must outlive the config when positions are used (validate, plan errors).
 */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <jansson.h>

#include "provisioner/engine/resource.h"
#include "provisioner/spec/spec.h"
#include "util.h"

struct sf_rinst {
	char *address;                /* "local_file.a" */
	char *name;                   /* "a" */
	const struct sf_rtype *type;
	json_t *config;               /* desired attributes (may hold ${...} strings) */
	char **deps;                  /* sorted, unique addresses */
	size_t ndeps;
	struct sf_strs update_only;   /* those of deps that order only changes to an existing
				       * object (sf_rinst_add_update_dep) */
	struct sf_strs accept_only;   /* those of deps a create waits for only until their
				       * object exists (sf_rinst_add_accept_dep) */
	struct sf_pos pos;            /* where it was declared (file borrowed from the specset) */
};

struct sf_config {
	char *workspace;              /* metadata.name shared by the documents */
	char *kind;                   /* kind of the first document */
	json_t *metadata;             /* metadata of the first document (region, tags, ttl) */
	struct sf_rinst *v;
	size_t n;
	char *digest;                 /* spec digest (from the specset) */
};
#define SF_CONFIG_INIT {NULL, NULL, NULL, NULL, 0, NULL}

/* Names of the workspaces (metadata.name) in a loaded set, in first-seen
 * order. Returns count; *out owned (free the array, not the strings, which
 * are borrowed from the set). */
size_t sf_config_workspaces(const struct sf_specset *set, const char ***out);

/* What turns documents into instances (provided by the kinds above). */
struct sf_lowering {
	/* Envelope and schema checks of one document; problems go to d. */
	void (*validate)(const struct sf_doc *doc, struct sf_diags *d);
	/* Add the instances of one validated document to c. */
	void (*lower)(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d);
};

/* Validate every document in `set` with low->validate and lower the
 * documents of `workspace` (NULL: the set must hold exactly one) into
 * `out` with low->lower; then check addresses, references and cycles.
 * All problems go to d; returns 0 if none. */
int sf_config_assemble(struct sf_config *out, const struct sf_specset *set, const char *workspace,
		       const struct sf_lowering *low, struct sf_diags *d);
/* The two halves of sf_config_assemble, for a run that builds many
 * workspaces from one set (plan --all): check every document once, then
 * lower each workspace from the checked set without checking it again. */
int sf_config_check_set(const struct sf_specset *set, const struct sf_lowering *low, struct sf_diags *d);
int sf_config_assemble_checked(struct sf_config *out, const struct sf_specset *set, const char *workspace,
			       const struct sf_lowering *low, struct sf_diags *d);
void sf_config_release(struct sf_config *c);
const struct sf_rinst *sf_config_find(const struct sf_config *c, const char *address);

/* Add an instance (used by kind lowerings). Takes a reference to config. */
struct sf_rinst *sf_config_add(struct sf_config *c, const struct sf_rtype *t, const char *name,
			       json_t *config, const struct sf_pos *pos);

/* Topological order of c->v (dependencies first) into *order (owned).
 * -1 and *cycle (owned "a -> b -> a") on a cycle. */
int sf_config_order(const struct sf_config *c, size_t **order, char **cycle);

/* Add a dependency edge (deduplicated). */
void sf_rinst_add_dep(struct sf_rinst *r, const char *addr);
/* Add a dependency that orders only the changes to an object that already
 * exists (an update or a replacement waits for addr's change), while the
 * object's first creation runs alongside addr's: for an order that matters
 * once both run (an upgrade step) but that a new object does not need.  It
 * is a dependency like any other for deletes, plans and cycles.  Not for an
 * address the configuration refers to: a create needs what it reads. */
void sf_rinst_add_update_dep(struct sf_rinst *r, const char *addr);

/* Add addr as a dependency whose object a create of r needs to exist, not
 * to be ready: when both are created by the same run, r starts once
 * addr's create has been accepted (its id is known), and addr's wait for
 * readiness runs alongside r's create.  For an object that uses the other
 * only once it runs itself, long after its own create call (a node group
 * and the add-ons its nodes run: EKS puts those on a node when it joins).
 * Updates, replacements and deletes still wait for addr's whole change,
 * and so does a create that refers to addr (it reads addr's attributes). */
void sf_rinst_add_accept_dep(struct sf_rinst *r, const char *addr);

/* Serialise for plan files and read back (types looked up in `types`).
 * from_json: SF_EINVAL/SF_ECORRUPT with err on unknown type or bad shape. */
json_t *sf_config_to_json(const struct sf_config *c);
int sf_config_from_json(struct sf_config *out, const json_t *j, const struct sf_registry *types,
			struct sf_err *err);

/* References. Call fn for every ${addr.attr} in v (strings, recursively). */
typedef void (*sf_ref_fn)(const char *addr, const char *attr, void *ctx);
void sf_refs_walk(const json_t *v, sf_ref_fn fn, void *ctx);
/* Resolve references in v with lookup(addr, attr) → borrowed value or NULL
 * (unknown). Returns a new value; *unknown set if any reference was unknown
 * (those positions hold JSON null in the result). */
typedef const json_t *(*sf_ref_lookup_fn)(const char *addr, const char *attr, void *ctx);
json_t *sf_refs_resolve(const json_t *v, sf_ref_lookup_fn lookup, void *ctx, int *unknown);

#endif
