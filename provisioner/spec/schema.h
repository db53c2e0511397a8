/*
 * schema.h - table-driven validation of spec node trees.
 *
 * A schema is a static tree of struct sf_schema rows.  sf_schema_validate()
 * walks a node against it and appends every problem to the diagnostics, so
 * one run reports all errors: unknown field (with "did you mean"), wrong
 * type, missing required field, bad enum value, out-of-range integer, plus
 * per-field `check` hooks for domain rules (CIDRs, label syntax, ...).
 * sf_schema_to_json() then converts a valid node to typed JSON.
 *
 * Scalars: a STRING field accepts any scalar's raw text (so
 * `kubernetesVersion: 1.30` stays "1.30", not the float 1.3); INT needs a
 * plain integer; BOOL needs plain true/false.
 */
#ifndef SF_SCHEMA_H
#define SF_SCHEMA_H

#include <jansson.h>

#include "provisioner/spec/spec.h"

enum sf_stype {
	SF_S_STRING,
	SF_S_INT,
	SF_S_BOOL,
	SF_S_OBJECT,   /* fixed fields */
	SF_S_LIST,     /* of `item` */
	SF_S_MAP,      /* string keys → `item` (labels, tags); item NULL = string */
	SF_S_ANY,      /* anything; converted as-is (scalars typed by YAML core rules) */
	SF_S_DURATION, /* "90s", "4h", "1h30m" → string, validated */
};

enum { SF_S_REQUIRED = 1, SF_S_NONEMPTY = 2 };

struct sf_schema;
/* Extra check after the type check passed; append diagnostics, no return. */
typedef void (*sf_schema_check_fn)(const struct sf_node *n, struct sf_diags *d, const char *path);

struct sf_schema {
	const char *name;                 /* field name (object members); NULL terminates */
	enum sf_stype type;
	unsigned flags;                   /* SF_S_REQUIRED, SF_S_NONEMPTY */
	const struct sf_schema *fields;   /* OBJECT members, {NULL} terminated */
	const struct sf_schema *item;     /* LIST / MAP item schema; NULL = string */
	const char *const *enums;         /* STRING: allowed values, NULL terminated */
	long long min, max;               /* INT: range when min < max; LIST: item count when max > 0 */
	sf_schema_check_fn check;
	const char *doc;
};

/* Validate node n (NULL = absent) against s; path is the dotted path for
 * messages ("spec.nodeGroups[1].scaling"). Returns number of errors added. */
size_t sf_schema_validate(const struct sf_schema *s, const struct sf_node *n, const char *path,
			  struct sf_diags *d);

/* Convert a validated node to JSON (new reference; NULL for absent/null). */
json_t *sf_schema_to_json(const struct sf_schema *s, const struct sf_node *n);
/* Convert without a schema (YAML core typing: ints, bools, null, strings). */
json_t *sf_node_to_json(const struct sf_node *n);

/* Closest candidate within edit distance max(2, len/3), or NULL. */
const char *sf_did_you_mean(const char *word, const char *const *candidates, size_t n);

/* Helpers for check hooks and callers. */
int sf_scalar_is_int(const char *s, long long *out);
int sf_scalar_is_bool(const char *s, int *out);

/* 1 when s matches the pattern re, 0 when not, -1 when re does not
 * compile.  The pattern is written once in the dialect POSIX extended
 * regular expressions and JSON Schema's ECMA-262 patterns read alike
 * (anchors, [classes], (a|b), ?, *, +, {m,n}, \. escapes; no lookaround,
 * no \d): a check hook that tests it and the JSON Schema that carries it
 * (`secfaas schema`) then hold the same rule from one string. */
int sf_schema_pattern_match(const char *re, const char *s);

#endif
