/*
 * gitsrc.c - specs from a git repository at a ref (see gitsrc.h).
 *
 * libgit2 is initialised and shut down around each public call (it is
 * reference counted), so callers need no global setup.  libgit2 errors are
 * turned into one sf_err line at the failure site.
 */
#include "provisioner/kinds/gitsrc.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "dl.h"

/* libgit2 (and its SSH and TLS stacks) is loaded when a spec is read from
 * git (lib/dl.h): a spec in a directory never needs it. */
#define GIT_FNS(X) \
	X(git_blob_free) X(git_blob_lookup) X(git_blob_rawcontent) X(git_blob_rawsize) X(git_buf_dispose) \
	X(git_commit_free) X(git_commit_id) X(git_commit_tree) X(git_credential_ssh_key_from_agent) \
	X(git_error_last) X(git_fetch_options_init) X(git_libgit2_init) X(git_libgit2_shutdown) \
	X(git_object_free) X(git_object_id) X(git_object_lookup) X(git_object_peel) X(git_oid_equal) \
	X(git_oid_fromstr) X(git_oid_tostr) X(git_reference_free) X(git_reference_name) \
	X(git_reference_name_to_id) X(git_reference_symbolic_target) X(git_reference_type) \
	X(git_remote_connect) X(git_remote_create_options_init) X(git_remote_create_with_opts) \
	X(git_remote_default_branch) X(git_remote_disconnect) X(git_remote_fetch) X(git_remote_free) \
	X(git_repository_free) X(git_repository_init) X(git_repository_is_bare) \
	X(git_repository_open_bare) X(git_repository_open_ext) X(git_repository_path) \
	X(git_repository_set_head) X(git_repository_workdir) X(git_revparse_ext) X(git_status_byindex) \
	X(git_status_list_entrycount) X(git_status_list_free) X(git_status_list_new) \
	X(git_status_options_init) X(git_tree_entry_byindex) X(git_tree_entry_bypath) \
	X(git_tree_entry_filemode) X(git_tree_entry_free) X(git_tree_entry_id) X(git_tree_entry_name) \
	X(git_tree_entry_type) X(git_tree_entrycount) X(git_tree_free) X(git_tree_lookup)
static struct {
	GIT_FNS(SF_DL_FIELD)
} lg;
static const char *const lg_names[] = {GIT_FNS(SF_DL_NAME)};
#define LG_SLOT(f) SF_DL_SLOT(lg, f)
static void *const lg_slots[] = {GIT_FNS(LG_SLOT)};
static struct sf_dl lg_dl = SF_DL_INIT(SF_SONAME_GIT2, "libgit2-1.5", lg_names, lg_slots);
#define git_blob_free lg.git_blob_free
#define git_blob_lookup lg.git_blob_lookup
#define git_blob_rawcontent lg.git_blob_rawcontent
#define git_blob_rawsize lg.git_blob_rawsize
#define git_buf_dispose lg.git_buf_dispose
#define git_commit_free lg.git_commit_free
#define git_commit_id lg.git_commit_id
#define git_commit_tree lg.git_commit_tree
#define git_credential_ssh_key_from_agent lg.git_credential_ssh_key_from_agent
#define git_error_last lg.git_error_last
#define git_fetch_options_init lg.git_fetch_options_init
#define git_libgit2_init lg.git_libgit2_init
#define git_libgit2_shutdown lg.git_libgit2_shutdown
#define git_object_free lg.git_object_free
#define git_object_id lg.git_object_id
#define git_object_lookup lg.git_object_lookup
#define git_object_peel lg.git_object_peel
#define git_oid_equal lg.git_oid_equal
#define git_oid_fromstr lg.git_oid_fromstr
#define git_oid_tostr lg.git_oid_tostr
#define git_reference_free lg.git_reference_free
#define git_reference_name lg.git_reference_name
#define git_reference_name_to_id lg.git_reference_name_to_id
#define git_reference_symbolic_target lg.git_reference_symbolic_target
#define git_reference_type lg.git_reference_type
#define git_remote_connect lg.git_remote_connect
#define git_remote_create_options_init lg.git_remote_create_options_init
#define git_remote_create_with_opts lg.git_remote_create_with_opts
#define git_remote_default_branch lg.git_remote_default_branch
#define git_remote_disconnect lg.git_remote_disconnect
#define git_remote_fetch lg.git_remote_fetch
#define git_remote_free lg.git_remote_free
#define git_repository_free lg.git_repository_free
#define git_repository_init lg.git_repository_init
#define git_repository_is_bare lg.git_repository_is_bare
#define git_repository_open_bare lg.git_repository_open_bare
#define git_repository_open_ext lg.git_repository_open_ext
#define git_repository_path lg.git_repository_path
#define git_repository_set_head lg.git_repository_set_head
#define git_repository_workdir lg.git_repository_workdir
#define git_revparse_ext lg.git_revparse_ext
#define git_status_byindex lg.git_status_byindex
#define git_status_list_entrycount lg.git_status_list_entrycount
#define git_status_list_free lg.git_status_list_free
#define git_status_list_new lg.git_status_list_new
#define git_status_options_init lg.git_status_options_init
#define git_tree_entry_byindex lg.git_tree_entry_byindex
#define git_tree_entry_bypath lg.git_tree_entry_bypath
#define git_tree_entry_filemode lg.git_tree_entry_filemode
#define git_tree_entry_free lg.git_tree_entry_free
#define git_tree_entry_id lg.git_tree_entry_id
#define git_tree_entry_name lg.git_tree_entry_name
#define git_tree_entry_type lg.git_tree_entry_type
#define git_tree_entrycount lg.git_tree_entrycount
#define git_tree_free lg.git_tree_free
#define git_tree_lookup lg.git_tree_lookup

#define SPEC_MAX ((size_t)16 << 20)

/* ---- small helpers ---- */

static const char *git_msg(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown libgit2 error";
}

int sf_gitsrc_is_url(const char *s)
{
	if (!s)
		return 0;
	if (strstr(s, "://"))
		return 1;
	/* scp-like "git@host:org/repo.git": a colon before any slash. */
	const char *colon = strchr(s, ':'), *slash = strchr(s, '/');
	return colon && colon != s && (!slash || colon < slash) && strchr(s, '@') && strchr(s, '@') < colon;
}

char *sf_gitsrc_default_cache(void)
{
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')
		return xasprintf("%s/secfaas/git", x);
	const char *h = getenv("HOME");
	return xasprintf("%s/.cache/secfaas/git", h && *h ? h : "/tmp");
}

static int is_full_sha(const char *s)
{
	if (!s || strlen(s) != 40)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

static int has_yaml_ext(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml"));
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* "a/b/" -> "a/b"; "" or "." or "/" -> "" (repo root). Owned. */
static char *norm_subpath(const char *s)
{
	if (!s)
		return xstrdup("");
	while (*s == '/' || (s[0] == '.' && s[1] == '/'))
		s += s[0] == '.' ? 2 : 1;
	if (!strcmp(s, "."))
		return xstrdup("");
	char *r = xstrdup(s);
	size_t l = strlen(r);
	while (l && r[l - 1] == '/')
		r[--l] = 0;
	return r;
}

/* A source name for diagnostics: the repo as the user wrote it, without a
 * trailing slash. Owned. */
static char *display_repo(const char *repo)
{
	char *r = xstrdup(repo);
	size_t l = strlen(r);
	while (l > 1 && r[l - 1] == '/')
		r[--l] = 0;
	return r;
}

/* ---- opening: local path or cached clone ---- */

static int cred_cb(git_credential **out, const char *url, const char *user, unsigned int allowed, void *payload)
{
	(void)url;
	(void)payload;
	/* ssh through the agent; anything else (https auth) is not configured
	 * here: let libgit2 report the authentication failure. */
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user ? user : "git");
	return GIT_PASSTHROUGH;
}

static int cache_path_for(char **out, const char *cache_dir, const char *url)
{
	char hex[65];
	sf_sha256_hex(hex, url, strlen(url));
	/* Keep a readable tail of the URL for people looking in the cache. */
	char tail[48];
	const char *b = base_name(url);
	size_t n = 0;
	for (; *b && n + 1 < sizeof tail; b++)
		tail[n++] = (*b >= 'a' && *b <= 'z') || (*b >= 'A' && *b <= 'Z') || (*b >= '0' && *b <= '9') ||
					    *b == '-' || *b == '_' || *b == '.'
				    ? *b
				    : '_';
	tail[n] = 0;
	*out = xasprintf("%s/%.16s-%s", cache_dir, hex, n ? tail : "repo");
	return 0;
}

/* Point the cache's HEAD at the remote's default branch, so a load without
 * --ref means what it means in the origin.  A remote with a detached HEAD
 * leaves ours as is. */
static void follow_remote_head(git_repository *repo, git_remote *remote, const git_remote_callbacks *cb)
{
	git_buf branch = GIT_BUF_INIT;
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, cb, NULL, NULL) < 0)
		return; /* the fetch that follows reports the connection error */
	if (git_remote_default_branch(&branch, remote) == 0 && git_repository_set_head(repo, branch.ptr) < 0)
		sf_debug("git: cannot set HEAD to %s: %s", branch.ptr, git_msg());
	git_remote_disconnect(remote);
	git_buf_dispose(&branch);
}

/* Fetch everything into the bare mirror cache with the refspec
 * +refs/(all):refs/(same), so the cache's branches and tags are the remote's
 * and "main", "v1" and HEAD resolve exactly as they would in the origin.
 *
 * The remote is in-memory (anonymous) and skips url.insteadOf: remote
 * lookups through the repository config go through libgit2 1.5's regex
 * helper, which leaks match data (libgit2 PR #6382, fixed after 1.5).
 * The URL is part of the cache path's hash, so a cache entry cannot be
 * confused with another origin. */
static int fetch_cached(git_repository *repo, const char *url, const char *verb, struct sf_err *err)
{
	git_remote *remote = NULL;
	int rc;
	git_remote_create_options ro;
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0) {
		rc = sf_fail(err, SF_EINVAL, "cannot %s %s: %s", verb, url, git_msg());
		goto done;
	}
	char *mirror = "+refs/*:refs/*";
	git_strarray specs = {&mirror, 1};
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	fo.callbacks.credentials = cred_cb;
	if (git_remote_fetch(remote, &specs, &fo, "secfaas fetch") < 0) {
		rc = sf_fail(err, SF_ETRANSIENT, "cannot %s %s: %s", verb, url, git_msg());
		goto done;
	}
	follow_remote_head(repo, remote, &fo.callbacks);
	rc = 0;
done:
	git_remote_free(remote);
	return rc;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int clone_cached(git_repository **out, const char *url, const char *path, struct sf_err *err)
{
	/* Clone next to the final path, then rename: an interrupted clone never
	 * leaves a half-filled cache entry that later loads would trust. */
	char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	git_repository *repo = NULL;
	int rc;
	if (git_repository_init(&repo, tmp, 1) < 0) {
		rc = sf_fail(err, SF_EIO, "cannot create git cache %s: %s", tmp, git_msg());
		goto done;
	}
	if ((rc = fetch_cached(repo, url, "clone", err)) < 0)
		goto done;
	git_repository_free(repo);
	repo = NULL;
	if (rename(tmp, path) < 0 && errno != ENOTEMPTY && errno != EEXIST) {
		rc = sf_fail(err, SF_EIO, "cannot move git clone into cache %s: %s", path, strerror(errno));
		goto done;
	}
	if (git_repository_open_bare(&repo, path) < 0) {
		rc = sf_fail(err, SF_EIO, "cannot open git cache %s: %s", path, git_msg());
		goto done;
	}
	*out = repo;
	repo = NULL;
	rc = 0;
done:
	/* Remove a failed or losing (raced) temp clone. */
	if (access(tmp, F_OK) == 0 && nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
		sf_warn("could not remove temporary clone %s", tmp);
	git_repository_free(repo);
	free(tmp);
	return rc;
}

/* Open o->repo: a local repository as is, or a URL through the cache.
 * *is_local is 1 for local paths (working tree can be dirty). */
static int open_source(git_repository **out, char **repo_path, int *is_local, const struct sf_gitsrc_opts *o,
		       struct sf_err *err)
{
	int rc;
	char *cache = NULL, *path = NULL;
	git_repository *repo = NULL;
	if (!o->repo || !*o->repo)
		return sf_fail(err, SF_EINVAL, "no git repository given (expected a local path, file:// URL or remote URL)");
	if (!sf_gitsrc_is_url(o->repo)) {
		*is_local = 1;
		struct stat st;
		if (stat(o->repo, &st) < 0)
			return sf_fail(err, SF_ENOTFOUND, "git repository %s: %s", o->repo, strerror(errno));
		if (git_repository_open_ext(&repo, o->repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
			return sf_fail(err, SF_EINVAL, "%s is not a git repository (give the repository's top directory): %s",
				       o->repo, git_msg());
		*out = repo;
		*repo_path = xstrdup(git_repository_workdir(repo) ? git_repository_workdir(repo)
								  : git_repository_path(repo));
		return 0;
	}
	*is_local = 0;
	cache = o->cache_dir && *o->cache_dir ? xstrdup(o->cache_dir) : sf_gitsrc_default_cache();
	if ((rc = sf_mkdir_p(cache, 0700, err)) < 0) {
		sf_err_prefix(err, "git cache: ");
		goto done;
	}
	cache_path_for(&path, cache, o->repo);
	if (access(path, F_OK) == 0) {
		if (git_repository_open_bare(&repo, path) < 0) {
			rc = sf_fail(err, SF_ECORRUPT, "git cache %s is not a repository (remove it to re-clone): %s",
				     path, git_msg());
			goto done;
		}
		/* A pinned full SHA already present needs no network. */
		git_oid oid;
		git_object *obj = NULL;
		int have = is_full_sha(o->ref) && git_oid_fromstr(&oid, o->ref) == 0 &&
			   git_object_lookup(&obj, repo, &oid, GIT_OBJECT_COMMIT) == 0;
		git_object_free(obj);
		if (!have) {
			sf_debug("git: fetching %s into %s", o->repo, path);
			if ((rc = fetch_cached(repo, o->repo, "fetch", err)) < 0)
				goto done;
		}
	} else {
		sf_debug("git: cloning %s into %s", o->repo, path);
		if ((rc = clone_cached(&repo, o->repo, path, err)) < 0)
			goto done;
	}
	*out = repo;
	repo = NULL;
	*repo_path = path;
	path = NULL;
	rc = 0;
done:
	git_repository_free(repo);
	free(cache);
	free(path);
	return rc;
}

/* Resolve ref (NULL = HEAD) to a commit; *refname owned. */
static int resolve_ref(git_commit **out, char **refname, git_repository *repo, const char *ref, const char *src,
		       struct sf_err *err)
{
	const char *spec = ref && *ref ? ref : "HEAD";
	git_object *obj = NULL, *peeled = NULL;
	git_reference *r = NULL;
	int rc;
	if (git_revparse_ext(&obj, &r, repo, spec) < 0) {
		if (!ref || !*ref || !strcmp(spec, "HEAD"))
			rc = sf_fail(err, SF_ENOTFOUND, "%s has no commits on HEAD (%s)", src, git_msg());
		else
			rc = sf_fail(err, SF_ENOTFOUND,
				     "ref \"%s\" not found in %s (give a branch, tag or commit SHA that exists there)", spec,
				     src);
		goto done;
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		rc = sf_fail(err, SF_EINVAL, "ref \"%s\" in %s does not name a commit: %s", spec, src, git_msg());
		goto done;
	}
	if (r && git_reference_type(r) == GIT_REFERENCE_SYMBOLIC)
		*refname = xstrdup(git_reference_symbolic_target(r));
	else if (r)
		*refname = xstrdup(git_reference_name(r));
	else {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof hex, git_object_id(peeled));
		*refname = xstrdup(hex);
	}
	*out = (git_commit *)peeled;
	peeled = NULL;
	rc = 0;
done:
	git_object_free(peeled);
	git_object_free(obj);
	git_reference_free(r);
	return rc;
}

/* ---- dirty detection ---- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_dirty(git_repository *repo, const char *sub, struct sf_gitsrc_result *res, struct sf_err *err)
{
	git_status_options so;
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	git_status_list *list = NULL;
	char *pat = NULL;
	int rc;
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (*sub) {
		pat = xstrdup(sub);
		so.pathspec.strings = &pat;
		so.pathspec.count = 1;
	}
	if (git_status_list_new(&list, repo, &so) < 0) {
		rc = sf_fail(err, SF_ERROR, "cannot read working tree status of %s: %s", git_repository_workdir(repo),
			     git_msg());
		goto done;
	}
	size_t n = git_status_list_entrycount(list);
	for (size_t i = 0; i < n; i++) {
		const git_status_entry *e = git_status_byindex(list, i);
		if (e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
			continue;
		const git_diff_delta *dd = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
		if (!dd)
			continue;
		const char *p = dd->new_file.path ? dd->new_file.path : dd->old_file.path;
		/* Untracked files only matter when they would be loaded as specs. */
		if (e->status == GIT_STATUS_WT_NEW && !has_yaml_ext(p))
			continue;
		res->dirty_files = xrealloc(res->dirty_files, (res->ndirty + 1) * sizeof *res->dirty_files);
		res->dirty_files[res->ndirty++] = xstrdup(p);
	}
	if (res->ndirty > 1)
		qsort(res->dirty_files, res->ndirty, sizeof *res->dirty_files, str_cmp);
	rc = 0;
done:
	git_status_list_free(list);
	free(pat);
	return rc;
}

/* ---- loading ---- */

static int load_blob(struct sf_specset *set, git_repository *repo, const git_oid *id, const char *name,
		     struct sf_diags *d)
{
	git_blob *blob = NULL;
	if (git_blob_lookup(&blob, repo, id) < 0) {
		sf_diag_error(d, NULL, "%s: cannot read blob: %s", name, git_msg());
		return -1;
	}
	int rc;
	git_object_size_t sz = git_blob_rawsize(blob);
	if (sz > SPEC_MAX) {
		sf_diag_error(d, NULL, "%s: spec file is larger than %zu bytes", name, SPEC_MAX);
		rc = -1;
	} else {
		rc = sf_spec_load_buffer(set, name, git_blob_rawcontent(blob), (size_t)sz, d);
	}
	git_blob_free(blob);
	return rc;
}

/* Load the committed spec files at sub (file or directory) in tree. */
static int load_from_tree(struct sf_specset *set, git_repository *repo, git_tree *root, const char *sub,
			  const char *prefix, struct sf_gitsrc_result *res, struct sf_diags *d)
{
	git_tree_entry *ent = NULL;
	git_tree *dir = NULL;
	int rc = -1;
	const git_tree *t = root;
	if (*sub) {
		if (git_tree_entry_bypath(&ent, root, sub) < 0) {
			sf_diag_error(d, NULL, "%s%s: no such file or directory in commit %s", prefix, sub, res->sha);
			goto done;
		}
		if (git_tree_entry_type(ent) == GIT_OBJECT_BLOB) {
			char *name = xasprintf("%s%s", prefix, sub);
			rc = load_blob(set, repo, git_tree_entry_id(ent), name, d);
			free(name);
			res->nfiles++;
			goto done;
		}
		if (git_tree_entry_type(ent) != GIT_OBJECT_TREE || git_tree_lookup(&dir, repo, git_tree_entry_id(ent)) < 0) {
			sf_diag_error(d, NULL, "%s%s: not a file or directory", prefix, sub);
			goto done;
		}
		t = dir;
	}
	rc = 0;
	size_t found = 0, n = git_tree_entrycount(t);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *fn = git_tree_entry_name(e);
		if (fn[0] == '.' || !has_yaml_ext(fn) || git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
			continue;
		char *name = xasprintf("%s%s%s%s", prefix, sub, *sub ? "/" : "", fn);
		if (load_blob(set, repo, git_tree_entry_id(e), name, d) < 0)
			rc = -1;
		free(name);
		found++;
	}
	res->nfiles += found;
	if (!found) {
		sf_diag_error(d, NULL, "no *.yaml or *.yml spec files in %s%s at commit %s", prefix, *sub ? sub : ".",
			      res->sha);
		rc = -1;
	}
done:
	git_tree_free(dir);
	git_tree_entry_free(ent);
	return rc;
}

static int load_wt_file(struct sf_specset *set, const char *path, const char *name, struct sf_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	struct sf_err err = SF_ERR_INIT;
	if (sf_read_file(&buf, &len, path, SPEC_MAX, &err) < 0) {
		sf_diag_error(d, NULL, "%s: %s", name, err.msg);
		return -1;
	}
	int rc = sf_spec_load_buffer(set, name, buf, len, d);
	free(buf);
	return rc;
}

/* --allow-dirty: the same selection, read from the working tree. */
static int load_from_workdir(struct sf_specset *set, const char *workdir, const char *sub, const char *prefix,
			     struct sf_gitsrc_result *res, struct sf_diags *d)
{
	char *full = xasprintf("%s%s%s", workdir, workdir[strlen(workdir) - 1] == '/' ? "" : "/", sub);
	char **names = NULL;
	size_t n = 0;
	int rc = -1;
	struct stat st;
	DIR *dir = NULL;
	if (stat(full, &st) < 0) {
		sf_diag_error(d, NULL, "%s%s: %s in the working tree", prefix, sub, strerror(errno));
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		char *name = xasprintf("%s%s", prefix, sub);
		rc = load_wt_file(set, full, name, d);
		free(name);
		res->nfiles++;
		goto done;
	}
	if (!(dir = opendir(full))) {
		sf_diag_error(d, NULL, "%s%s: %s", prefix, sub, strerror(errno));
		goto done;
	}
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !has_yaml_ext(de->d_name))
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 1)
		qsort(names, n, sizeof *names, str_cmp);
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", full, names[i]);
		char *name = xasprintf("%s%s%s%s", prefix, sub, *sub ? "/" : "", names[i]);
		if (load_wt_file(set, path, name, d) < 0)
			rc = -1;
		free(path);
		free(name);
	}
	res->nfiles += n;
	if (!n) {
		sf_diag_error(d, NULL, "no *.yaml or *.yml spec files in %s%s (working tree)", prefix, *sub ? sub : ".");
		rc = -1;
	}
done:
	if (dir)
		closedir(dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(full);
	return rc;
}

/* Is commit the checked-out HEAD of a non-bare local repository? */
static int is_head_commit(git_repository *repo, const git_commit *c)
{
	git_oid head;
	if (git_repository_is_bare(repo) || git_reference_name_to_id(&head, repo, "HEAD") < 0)
		return 0;
	return git_oid_equal(&head, git_commit_id(c));
}

int sf_gitsrc_load(struct sf_specset *set, const struct sf_gitsrc_opts *o, struct sf_gitsrc_result *res,
		   struct sf_diags *d)
{
	struct sf_err err = SF_ERR_INIT;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	char *sub = norm_subpath(o->subpath), *disp = display_repo(o->repo ? o->repo : ""), *prefix = NULL;
	int rc = -1, is_local = 0;

	if (sf_dl_load(&lg_dl, &err) < 0) {
		sf_diag_error(d, NULL, "%s (%s)", err.msg, err.hint);
		free(sub);
		free(disp);
		return -1;
	}
	git_libgit2_init();
	if (open_source(&repo, &res->repo_path, &is_local, o, &err) < 0)
		goto fail;
	if (resolve_ref(&commit, &res->ref, repo, o->ref, disp, &err) < 0)
		goto fail;
	git_oid_tostr(res->sha, sizeof res->sha, git_commit_id(commit));
	memcpy(res->short_sha, res->sha, 7);
	res->short_sha[7] = 0;

	/* The working tree matters only when no ref was named: an explicit
	 * --ref (even the checked-out commit or branch) is read from the
	 * repository, so uncommitted edits neither block nor leak into it. */
	if (is_local && (!o->ref || !*o->ref || !strcmp(o->ref, "HEAD")) && is_head_commit(repo, commit)) {
		if (collect_dirty(repo, sub, res, &err) < 0)
			goto fail;
		if (res->ndirty && !o->allow_dirty) {
			struct sf_buf b = SF_BUF_INIT;
			for (size_t i = 0; i < res->ndirty && i < 10; i++)
				sf_buf_printf(&b, "%s%s", i ? ", " : "", res->dirty_files[i]);
			if (res->ndirty > 10)
				sf_buf_printf(&b, " and %zu more", res->ndirty - 10);
			sf_diag_error(d, NULL,
				      "%s has uncommitted changes under %s: %s (commit them, or pass --allow-dirty to use "
				      "the working tree)",
				      disp, *sub ? sub : "the repository root", sf_buf_cstr(&b));
			sf_buf_release(&b);
			goto done;
		}
		if (res->ndirty) {
			res->dirty = 1;
			prefix = xasprintf("%s@%s+dirty:", disp, res->short_sha);
			rc = load_from_workdir(set, git_repository_workdir(repo), sub, prefix, res, d);
			goto done;
		}
	}
	if (git_commit_tree(&tree, commit) < 0) {
		sf_fail(&err, SF_ECORRUPT, "cannot read the tree of commit %s in %s: %s", res->sha, disp, git_msg());
		goto fail;
	}
	prefix = xasprintf("%s@%s:", disp, res->short_sha);
	rc = load_from_tree(set, repo, tree, sub, prefix, res, d);
	goto done;
fail:
	sf_diag_error(d, NULL, "%s", err.msg);
	rc = -1;
done:
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(prefix);
	free(sub);
	free(disp);
	return rc;
}

int sf_gitsrc_read_file(const struct sf_gitsrc_opts *o, const char *path, char **out, size_t *len,
			char sha_out[41], struct sf_err *err)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	char *repo_path = NULL, *refname = NULL, *sub = norm_subpath(path), *disp = display_repo(o->repo ? o->repo : "");
	int rc, is_local = 0;

	if ((rc = sf_dl_load(&lg_dl, err)) < 0) {
		free(sub);
		free(disp);
		return rc;
	}
	git_libgit2_init();
	if ((rc = open_source(&repo, &repo_path, &is_local, o, err)) < 0)
		goto done;
	if ((rc = resolve_ref(&commit, &refname, repo, o->ref, disp, err)) < 0)
		goto done;
	if (sha_out)
		git_oid_tostr(sha_out, 41, git_commit_id(commit));
	if (git_commit_tree(&tree, commit) < 0) {
		rc = sf_fail(err, SF_ECORRUPT, "cannot read a commit tree in %s: %s", disp, git_msg());
		goto done;
	}
	if (!*sub || git_tree_entry_bypath(&ent, tree, sub) < 0 || git_tree_entry_type(ent) != GIT_OBJECT_BLOB) {
		rc = sf_fail(err, SF_ENOTFOUND, "%s: no file \"%s\" at %s", disp, sub, o->ref && *o->ref ? o->ref : "HEAD");
		goto done;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(ent)) < 0) {
		rc = sf_fail(err, SF_ECORRUPT, "%s: cannot read %s: %s", disp, sub, git_msg());
		goto done;
	}
	git_object_size_t sz = git_blob_rawsize(blob);
	if (sz > SPEC_MAX) {
		rc = sf_fail(err, SF_EINVAL, "%s: %s is larger than %zu bytes", disp, sub, SPEC_MAX);
		goto done;
	}
	*out = xmalloc((size_t)sz + 1);
	memcpy(*out, git_blob_rawcontent(blob), (size_t)sz);
	(*out)[sz] = 0;
	*len = (size_t)sz;
	rc = 0;
done:
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(repo_path);
	free(refname);
	free(sub);
	free(disp);
	return rc;
}

void sf_gitsrc_result_release(struct sf_gitsrc_result *r)
{
	if (!r)
		return;
	free(r->ref);
	free(r->repo_path);
	for (size_t i = 0; i < r->ndirty; i++)
		free(r->dirty_files[i]);
	free(r->dirty_files);
	memset(r, 0, sizeof *r);
}
