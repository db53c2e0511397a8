/*
 * spec.h - YAML spec documents as position-carrying node trees, and the
 * diagnostics list every validation step appends to.
 *
 * Why our own tree instead of converting straight to JSON: every error a
 * user sees must point at file:line:col, including errors found late
 * (a bad reference, a duplicate node group name).  libyaml gives marks; we
 * keep them on every node.  Duplicate mapping keys are reported here because
 * libyaml accepts them silently.
 *
 * Calling steps:
 *   1. struct sf_diags d = SF_DIAGS_INIT; struct sf_specset set = SF_SPECSET_INIT;
 *   2. sf_spec_load_path(&set, "cluster.yaml" or a directory, &d)
 *      (or sf_spec_load_buffer for text from git or tests)
 *   3. validate documents (schema.h), read values with sf_node_get()
 *   4. sf_diags_print(&d, stderr, color); sf_diags_release(&d); sf_specset_release(&set)
 *
 * Ownership: the set owns all documents and nodes; node pointers are
 * borrowed and valid until sf_specset_release().  Positions point into the
 * set's file-name strings.
 */
#ifndef SF_SPEC_H
#define SF_SPEC_H

#include <stdint.h>
#include <stdio.h>

struct sf_pos {
	const char *file; /* borrowed from the owning set */
	int line, col;    /* 1-based; 0 when unknown */
};

enum sf_ntype { SF_N_NULL, SF_N_SCALAR, SF_N_MAP, SF_N_SEQ };

struct sf_node {
	enum sf_ntype type;
	struct sf_pos pos;
	char *scalar;           /* SCALAR: raw text (plain or quoted) */
	int quoted;             /* SCALAR: was quoted (so always a string) */
	size_t n;               /* MAP: pairs; SEQ: items */
	struct sf_node **keys;  /* MAP: key nodes (scalars) */
	struct sf_node **vals;  /* MAP: values; SEQ: items */
};

struct sf_doc {
	const char *file;       /* borrowed from the set */
	int index;              /* 0-based document index in its file */
	struct sf_node *root;
};

struct sf_specset {
	struct sf_doc *docs;
	size_t n;
	char **files;           /* owned file names */
	size_t nfiles;
	char *digest;           /* hex sha256 over (name, bytes) of every file, in load order */
	void *priv;
	struct sf_specindex *index; /* owned: documents by metadata.name (sf_specset_index), or NULL */
};
#define SF_SPECSET_INIT {NULL, 0, NULL, 0, NULL, NULL, NULL}

enum sf_severity { SF_SEV_ERROR, SF_SEV_WARNING };

struct sf_diag {
	enum sf_severity sev;
	struct sf_pos pos;
	char *msg;
};

struct sf_diags {
	struct sf_diag *v;
	size_t n, alloc;
	size_t nerrors;
};
#define SF_DIAGS_INIT {NULL, 0, 0, 0}

/* Longest message kept (bytes): messages echo spec values, and a 10 MB
 * value must not make a 10 MB line; longer ones lose their middle, control
 * characters are escaped (lib/text.h). */
#define SF_DIAG_MAX 1024

void sf_diag_add(struct sf_diags *d, enum sf_severity sev, const struct sf_pos *pos,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define sf_diag_error(d, pos, ...) sf_diag_add((d), SF_SEV_ERROR, (pos), __VA_ARGS__)
/* "file:line:col: error: msg" lines, sorted by file/line/col, stable. */
void sf_diags_print(const struct sf_diags *d, FILE *f, int color);
void sf_diags_release(struct sf_diags *d);

/* Load one file, or every *.yaml / *.yml in a directory (sorted, not
 * recursive). YAML syntax errors, duplicate keys, aliases, unreadable
 * files and files without any document (empty, only comments) become
 * diagnostics naming the file. Returns 0 if no error diagnostics were added,
 * else -1. */
int sf_spec_load_path(struct sf_specset *set, const char *path, struct sf_diags *d);
/* Same for an in-memory buffer named `name` (used for git blobs and tests). */
int sf_spec_load_buffer(struct sf_specset *set, const char *name, const char *buf, size_t len,
			struct sf_diags *d);
void sf_specset_release(struct sf_specset *set);
/* Drop document i (its nodes are freed; later documents move down).  The
 * digest still covers the file it came from. */
void sf_specset_remove(struct sf_specset *set, size_t i);

/* The documents of one workspace (metadata.name).  A fleet run builds each
 * of its hundreds of workspaces from one set, and scanning the whole set
 * for each made that quadratic in the number of workspaces; once the set
 * is final (loaded, modules expanded), sf_specset_index sorts its
 * documents by name so each lookup is a binary search.  Adding or removing
 * documents drops the index (so does sf_specset_unindex, for code editing
 * docs[] in place), and a set without one is scanned: the answers are the
 * same either way.
 *
 * sf_specset_next_named: the next document named `name` after cursor *it
 * (start at 0), in set order: its index in docs[], or SIZE_MAX when there
 * is no more.  Thread-safe on a set no one changes meanwhile. */
void sf_specset_index(struct sf_specset *set);
void sf_specset_unindex(struct sf_specset *set);
size_t sf_specset_next_named(const struct sf_specset *set, const char *name, size_t *it);

/* Map lookup; NULL if absent, null (`key:` or `key: null`, which means
 * "not given" everywhere, as in Terraform) or n is not a map.  Use
 * sf_node_key() to tell a null value from a missing key. */
struct sf_node *sf_node_get(const struct sf_node *n, const char *key);
/* Key node for `key` (for positions of keys); NULL if absent. */
struct sf_node *sf_node_key(const struct sf_node *n, const char *key);
/* Scalar text or NULL (not a scalar). */
const char *sf_node_str(const struct sf_node *n);
const char *sf_ntype_name(enum sf_ntype t);

#endif
