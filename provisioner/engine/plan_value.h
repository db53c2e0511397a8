/*
 * plan_value.h - nested values in the human plan: Kubernetes manifests,
 * tag maps, lists of objects and multi-line strings, rendered as indented
 * YAML-like blocks behind a one-column change gutter.
 *
 * Why: a manifest printed as one line of JSON is unreadable, and an update
 * that changes one image tag should show that tag, not two 2 KB blobs.  A
 * diff walks both values together: unchanged fields are hidden with a
 * count ("# (7 unchanged fields hidden)"), the path to a change is shown as
 * context, list items are matched by their `name` (containers, env, ports,
 * volumes: Kubernetes' merge keys) or else by value, and multi-line
 * strings are line diffs with three lines of context.
 *
 * Lines look like
 *     <gutter spaces><sym> <2 spaces per level><text>
 * where sym is '+', '-', '~' or ' '.  Every function only prints to the
 * writer; nothing here is owned by the caller afterwards.
 */
#ifndef SF_PLAN_VALUE_H
#define SF_PLAN_VALUE_H

#include <jansson.h>
#include <stdio.h>

struct sf_pv_colors {
	const char *add, *del, *chg, *bold, *dim, *off;
};

struct sf_pv {
	FILE *out;
	const struct sf_pv_colors *c;
	int gutter; /* spaces before the symbol column */
};

/* A container that reads well on one line: no nested container and its
 * compact JSON at most `max` characters. */
int sf_pv_flat_short(const json_t *v, size_t max);

/* Whole value v under `key` (NULL for a list item), every line marked sym:
 * a created or destroyed subtree. `unknown_null`: JSON null prints as
 * "(known after apply)" (desired values), else as null. */
void sf_pv_value(const struct sf_pv *w, char sym, int level, const char *key, const json_t *v, int unknown_null);

/* The children of container v (object fields or list items) at `level`,
 * each marked sym. */
void sf_pv_children(const struct sf_pv *w, char sym, int level, const json_t *v, int unknown_null);

/* Changes from before to after (both containers of the same kind) at
 * `level`: changed fields with their path, hidden-field counts. */
void sf_pv_diff_children(const struct sf_pv *w, int level, const json_t *before, const json_t *after);

/* Line diff of two multi-line strings at `level` (gutter symbols + and -),
 * unchanged runs beyond three lines of context hidden with a count. */
void sf_pv_line_diff(const struct sf_pv *w, int level, const char *before, const char *after);

/* Scalar text in the YAML-like style: plain when YAML would read it back
 * as the same string, else JSON-quoted; numbers and booleans as JSON.
 * Appends to b (struct sf_buf *). */
struct sf_buf;
void sf_pv_scalar(struct sf_buf *b, const json_t *v, int unknown_null);

/* Short description of a collapsed container: "(4 fields: apiVersion,
 * kind, metadata, spec)" or "(3 elements)"; Kubernetes objects add their
 * kind and namespace/name. Appends to b. */
void sf_pv_summary(struct sf_buf *b, const json_t *v);

#endif
