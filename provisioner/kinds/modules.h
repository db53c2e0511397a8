/*
 * modules.h - reusable spec modules: typed inputs, a template, expansion in
 * place before kind validation.
 *
 * Why: the same VPC layout, gVisor node group or OpenFaaS block is repeated
 * across many cluster specs.  A module is a YAML document
 *
 *   apiVersion: secfaas.dev/v1alpha1
 *   kind: Module
 *   metadata: {name: gvisor-node-group, version: "1"}       # version optional
 *   spec:
 *     inputs:  {NAME: {type: string|integer|boolean|list|map, default: ...,
 *                      required: true|false, description: ...}}
 *     outputs: {NAME: {value: ..., description: ...}}        # documentation
 *     template: <any YAML, with ${input.NAME} references>
 *
 * and a spec uses it wherever a value is expected (a list item, a field, a
 * whole document):
 *
 *   nodeGroups:
 *     - module: gvisor-node-group            # or NAME@VERSION, ./mods/x.yaml,
 *       inputs: {name: sandbox}              # git+URL//path/in/repo.yaml@REF
 *
 * Expansion: the call mapping is replaced by a copy of the template in which
 * a scalar that is exactly "${input.X}" becomes the input's value with its
 * type (list, map, integer...), and "${input.X}" inside a longer string is
 * replaced by the scalar's text.  "$${" writes a literal "${".  Other "${...}"
 * text (Stack references) is left alone.  A whole-value reference to an
 * optional input with no value and no default removes that map entry or list
 * item, so templates can pass optional fields through.
 *
 * Positions: copied template nodes carry the call site's position, so a
 * later schema error in expanded content points at the `module:` line;
 * values the caller passed keep their own positions.  Input errors (unknown
 * input with "did you mean", wrong type, missing required) point at the
 * caller's input key or value and name the module's input.  Modules may call
 * modules; cycles are reported with the chain "a -> b -> a".
 *
 * Where modules come from:
 *   - `kind: Module` documents in the loaded spec set itself (taken out of
 *     the set by sf_modules_expand, so kinds never see them);
 *   - NAME[@VERSION]: NAME.yaml (or .yml) in the search path (opts, else
 *     $SECFAAS_MODULE_PATH colon-separated, ./modules, then
 *     <dir of the binary>/../share/secfaas/modules); @VERSION must equal the
 *     module's metadata.version;
 *   - a path ("./x.yaml", "../m/x.yaml", "/abs/x.yaml", anything ending in
 *     .yaml/.yml): relative to the calling file (for specs from git: the
 *     same repository at the same commit);
 *   - git+URL//PATH@REF (URL as for gitsrc: a local path, file://, https...):
 *     the file at a pinned ref; relative calls inside it stay in that commit.
 * Module files are added to the set's file list and digest, so the plan's
 * spec digest changes when a module does.
 *
 * Calling steps:
 *   1. load specs (sf_spec_load_path or sf_gitsrc_load)
 *   2. struct sf_module_opts mo = SF_MODULE_OPTS_INIT;  (git_repo/git_sha
 *      when the specs came from git)
 *      if (sf_modules_expand(&set, &mo, &d) < 0) -> print d, exit 1
 *   3. kind validation, config building as before
 *
 * Ownership: opts strings are borrowed.  Expanded nodes belong to the set
 * and are freed by sf_specset_release().
 */
#ifndef SF_MODULES_H
#define SF_MODULES_H

#include "provisioner/spec/spec.h"

struct sf_module_opts {
	const char *search_path;   /* colon-separated dirs; NULL = default (see above) */
	const char *git_cache_dir; /* clones for git+ modules; NULL = gitsrc default */
	const char *git_repo;      /* specs came from this repo (as given to gitsrc) ... */
	const char *git_sha;       /* ... at this commit: relative module paths resolve there */
	int max_depth;             /* nesting limit; 0 = 16 */
};
#define SF_MODULE_OPTS_INIT {NULL, NULL, NULL, NULL, 0}

/* Expand every module call in set's documents in place and remove
 * `kind: Module` documents from the set.  Returns 0, or -1 with diagnostics
 * in d (the trees may then still hold unexpanded calls; stop there). */
int sf_modules_expand(struct sf_specset *set, const struct sf_module_opts *o, struct sf_diags *d);

/* The default search path; owned string (colon-separated), free(). */
char *sf_modules_default_path(void);

#endif
