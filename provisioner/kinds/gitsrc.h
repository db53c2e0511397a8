/*
 * gitsrc.h - load cluster specs from a git repository at a ref (libgit2).
 *
 * Why: teams keep specs in git and want a plan to say exactly which commit
 * it was made from.  Reading blobs from the commit's tree objects (not the
 * checkout) makes "what was planned" a pure function of the SHA, and the SHA
 * goes into run history.  A local working tree with uncommitted changes is
 * refused, because what would be applied is then not what any SHA names;
 * --allow-dirty loads the working-tree files instead and flags the result.
 *
 * Sources: a local path (a repository or its working tree; opened as is, no
 * search upwards), a file:// URL, or any URL libgit2 has a transport for
 * (https, ssh through the agent).  URLs are cloned once as a bare mirror
 * into the cache dir and fetched on every later load (skipped when the ref
 * is a full SHA already present, so pinned loads work offline).
 *
 * Dirty rule: the working tree matters only when no ref is named (or
 * "HEAD") in a local checkout; any named ref, even the checked-out branch
 * or commit, is read from the repository and never refused as dirty.
 * "Dirty" means a tracked file under the subpath differs from HEAD (index or
 * working tree) or an untracked *.yaml / *.yml file exists under it.
 *
 * Calling steps:
 *   1. struct sf_gitsrc_opts o = SF_GITSRC_OPTS_INIT; o.repo = "..."; o.ref = "v1";
 *   2. struct sf_gitsrc_result r = SF_GITSRC_RESULT_INIT;
 *      if (sf_gitsrc_load(&set, &o, &r, &d) < 0) -> print d, exit 1
 *   3. record r.sha (40 hex) in history; r.dirty if --allow-dirty was used
 *   4. sf_gitsrc_result_release(&r)
 *
 * Spec file names in the set are "<repo>@<short-sha>:<path-in-repo>"
 * ("...@<short-sha>+dirty:..." for working-tree files), so diagnostics read
 * "repo@1a2b3c4:clusters/dev.yaml:12:5: error: ...".
 *
 * Ownership: opts strings are borrowed.  The result owns its strings and is
 * released with sf_gitsrc_result_release() (accepts a zeroed result).
 */
#ifndef SF_GITSRC_H
#define SF_GITSRC_H

#include <stddef.h>

#include "err.h"
#include "provisioner/spec/spec.h"

struct sf_gitsrc_opts {
	const char *repo;      /* local path, file:// URL or remote URL */
	const char *ref;       /* branch, tag, full or abbreviated SHA; NULL/"" = HEAD */
	const char *subpath;   /* file or directory of *.yaml in the repo; NULL/"" = root */
	const char *cache_dir; /* clones of URLs; NULL = $XDG_CACHE_HOME or ~/.cache + /secfaas/git */
	int allow_dirty;       /* load working-tree files instead of refusing */
};
#define SF_GITSRC_OPTS_INIT {NULL, NULL, NULL, NULL, 0}

struct sf_gitsrc_result {
	char sha[41];          /* full commit SHA the specs came from */
	char short_sha[8];     /* first 7 hex digits */
	char *ref;             /* resolved ref: "refs/heads/main", "refs/tags/v1", or the SHA */
	char *repo_path;       /* local repository used (the cache clone for URLs) */
	int dirty;             /* working-tree files were loaded (allow_dirty) */
	char **dirty_files;    /* the uncommitted paths found (repo-relative) */
	size_t ndirty;
	size_t nfiles;         /* spec files loaded */
};
#define SF_GITSRC_RESULT_INIT {{0}, {0}, NULL, NULL, 0, NULL, 0, 0}

/* Load every spec file under o->subpath at o->ref into set (non-recursive,
 * .yaml and .yml files, sorted, like sf_spec_load_path).  Returns 0, or -1 with
 * diagnostics in d: not a repository, clone/fetch failure, unknown ref,
 * missing subpath, no spec files, dirty tree (naming the files), YAML errors.
 * res is filled as far as known even on failure (sha once resolved). */
int sf_gitsrc_load(struct sf_specset *set, const struct sf_gitsrc_opts *o, struct sf_gitsrc_result *res,
		   struct sf_diags *d);

/* Read one committed file at o->ref (o->subpath, o->allow_dirty ignored).
 * *out is owned (NUL-terminated, free()); sha_out (may be NULL) gets the
 * commit.  Returns 0, SF_ENOTFOUND (no such path/ref), or another negative
 * code with err filled.  Used for git-sourced modules. */
int sf_gitsrc_read_file(const struct sf_gitsrc_opts *o, const char *path, char **out, size_t *len,
			char sha_out[41], struct sf_err *err);

/* 1 if s is a URL to clone (file://, https://, ssh://, git://, user@host:path),
 * 0 for a local path. */
int sf_gitsrc_is_url(const char *s);

/* Default cache dir; owned string, free(). */
char *sf_gitsrc_default_cache(void);

void sf_gitsrc_result_release(struct sf_gitsrc_result *r);

#endif
