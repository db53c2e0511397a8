/* test_gitsrc.c - specs from real git repositories built with the git CLI. */
#include "t.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provisioner/kinds/gitsrc.h"
#include "util.h"

static void git_env(void)
{
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.invalid", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	/* No network: file:// only, and keep the user's config out. */
	setenv("HOME", t_tmpdir(), 1);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = xvasprintf(fmt, ap);
	va_end(ap);
	char *full = xasprintf("set -e; exec >/dev/null 2>&1; %s", cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "  command failed: %s\n", cmd);
	free(full);
	free(cmd);
	return rc;
}

/* First line of a command's output; owned. */
static char *out1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *out1(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = xvasprintf(fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	char line[256] = "";
	if (p) {
		if (!fgets(line, sizeof line, p))
			line[0] = 0;
		pclose(p);
	}
	free(cmd);
	line[strcspn(line, "\n")] = 0;
	return xstrdup(line);
}

static void write_spec(const char *path, const char *name, int desired)
{
	char *text = xasprintf("apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: %s\n"
			       "spec:\n  desired: %d\n",
			       name, desired);
	struct sf_err err = SF_ERR_INIT;
	T_OK(sf_write_file_atomic(path, text, strlen(text), 0644, &err) == 0);
	free(text);
}

/* metadata.name of every doc, comma-joined; owned. */
static char *names_of(const struct sf_specset *set)
{
	struct sf_buf b = SF_BUF_INIT;
	for (size_t i = 0; i < set->n; i++)
		sf_buf_printf(&b, "%s%s", i ? "," : "",
			      sf_node_str(sf_node_get(sf_node_get(set->docs[i].root, "metadata"), "name")));
	return sf_buf_detach(&b);
}

static char *diag_text(const struct sf_diags *d)
{
	struct sf_buf b = SF_BUF_INIT;
	for (size_t i = 0; i < d->n; i++)
		sf_buf_printf(&b, "%s\n", d->v[i].msg);
	return sf_buf_detach(&b);
}

struct loaded {
	struct sf_specset set;
	struct sf_diags d;
	struct sf_gitsrc_result r;
	int rc;
	char *names, *diags;
};

static void load(struct loaded *l, const char *repo, const char *ref, const char *sub, int allow_dirty)
{
	memset(l, 0, sizeof *l);
	struct sf_gitsrc_opts o = SF_GITSRC_OPTS_INIT;
	char *cache = xasprintf("%s/cache", t_tmpdir());
	o.repo = repo;
	o.ref = ref;
	o.subpath = sub;
	o.cache_dir = cache;
	o.allow_dirty = allow_dirty;
	l->rc = sf_gitsrc_load(&l->set, &o, &l->r, &l->d);
	l->names = names_of(&l->set);
	l->diags = diag_text(&l->d);
	free(cache);
}

static void unload(struct loaded *l)
{
	sf_specset_release(&l->set);
	sf_diags_release(&l->d);
	sf_gitsrc_result_release(&l->r);
	free(l->names);
	free(l->diags);
}

/* Repo with three commits: A adds clusters/a.yaml (tag v1); B edits a and
 * adds b; C removes a.  Returns the SHAs through out params. */
static char *make_repo(const char *name, char **sha_a, char **sha_b, char **sha_c)
{
	git_env();
	char *repo = xasprintf("%s/%s", t_tmpdir(), name);
	char *f = xasprintf("%s/clusters/a.yaml", repo);
	char *fb = xasprintf("%s/clusters/b.yaml", repo);
	T_EQ(sh("git init -q -b main '%s' && mkdir -p '%s/clusters' && echo readme > '%s/README'", repo, repo, repo), 0);
	write_spec(f, "alpha", 1);
	T_EQ(sh("cd '%s' && git add -A && git commit -q -m A && git tag v1", repo), 0);
	*sha_a = out1("git -C '%s' rev-parse HEAD", repo);
	write_spec(f, "alpha", 2);
	write_spec(fb, "beta", 1);
	T_EQ(sh("cd '%s' && git add -A && git commit -q -m B", repo), 0);
	*sha_b = out1("git -C '%s' rev-parse HEAD", repo);
	T_EQ(sh("cd '%s' && git rm -q clusters/a.yaml && git commit -q -m C", repo), 0);
	*sha_c = out1("git -C '%s' rev-parse HEAD", repo);
	free(f);
	free(fb);
	return repo;
}

static const char *desired_of(const struct sf_specset *set, const char *cluster)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct sf_node *r = set->docs[i].root;
		if (!strcmp(sf_node_str(sf_node_get(sf_node_get(r, "metadata"), "name")), cluster))
			return sf_node_str(sf_node_get(sf_node_get(r, "spec"), "desired"));
	}
	return NULL;
}

T_TEST(gitsrc_content_follows_refs)
{
	char *a, *b, *c;
	char *repo = make_repo("r1", &a, &b, &c);
	struct loaded l;

	load(&l, repo, NULL, "clusters", 0); /* HEAD = C: only beta */
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, c);
	T_STREQ(l.r.ref, "refs/heads/main");
	T_STREQ(l.names, "beta");
	T_EQ(l.r.dirty, 0);
	T_EQ(l.r.nfiles, 1);
	char *want = xasprintf("%s@%.7s:clusters/b.yaml", repo, c);
	T_STREQ(l.set.n ? l.set.docs[0].file : "", want);
	free(want);
	unload(&l);

	load(&l, repo, "v1", "clusters/", 0);
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, a);
	T_STREQ(l.r.ref, "refs/tags/v1");
	T_STREQ(l.names, "alpha");
	T_STREQ(desired_of(&l.set, "alpha"), "1");
	unload(&l);

	load(&l, repo, b, "clusters", 0); /* full SHA: edit + add */
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, b);
	T_STREQ(l.r.ref, b);
	T_STREQ(l.names, "alpha,beta");
	T_STREQ(desired_of(&l.set, "alpha"), "2");
	unload(&l);

	char *abbrev = xstrndup(b, 9);
	load(&l, repo, abbrev, "clusters/a.yaml", 0); /* abbreviated SHA, single file */
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, b);
	T_STREQ(l.names, "alpha");
	unload(&l);
	free(abbrev);

	load(&l, repo, "main~2", NULL, 0); /* root holds no yaml at all */
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "no *.yaml or *.yml spec files");
	unload(&l);

	free(repo);
	free(a);
	free(b);
	free(c);
}

T_TEST(gitsrc_yaml_errors_name_file_in_repo)
{
	git_env();
	char *repo = xasprintf("%s/r-bad", t_tmpdir());
	T_EQ(sh("git init -q -b main '%s' && printf 'a: 1\\nb: [\\n' > '%s/bad.yaml' && cd '%s' && git add -A && "
		"git commit -q -m bad",
		repo, repo, repo),
	     0);
	struct loaded l;
	load(&l, repo, "main", NULL, 0);
	T_EQ(l.rc, -1);
	T_OK(l.d.n >= 1);
	if (l.d.n) {
		T_CONTAINS(l.d.v[0].pos.file, "@");
		T_CONTAINS(l.d.v[0].pos.file, ":bad.yaml");
		T_OK(l.d.v[0].pos.line >= 2);
	}
	unload(&l);
	free(repo);
}

T_TEST(gitsrc_dirty_detection)
{
	char *a, *b, *c;
	char *repo = make_repo("r2", &a, &b, &c);
	char *fb = xasprintf("%s/clusters/b.yaml", repo);
	struct loaded l;

	/* An untracked non-yaml file and a change outside the subpath do not count. */
	T_EQ(sh("echo x > '%s/clusters/notes.txt' && echo changed > '%s/README'", repo, repo), 0);
	load(&l, repo, NULL, "clusters", 0);
	T_EQ(l.rc, 0);
	T_EQ(l.r.dirty, 0);
	unload(&l);

	/* Edited tracked spec: refused, naming the file. */
	write_spec(fb, "beta", 7);
	load(&l, repo, NULL, "clusters", 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "uncommitted changes");
	T_CONTAINS(l.diags, "clusters/b.yaml");
	T_CONTAINS(l.diags, "--allow-dirty");
	T_EQ(l.set.n, 0);
	unload(&l);

	/* Another ref than the checkout reads that commit; the tree is irrelevant. */
	load(&l, repo, "v1", "clusters", 0);
	T_EQ(l.rc, 0);
	T_STREQ(l.names, "alpha");
	unload(&l);

	/* So does the checkout's own commit or branch, named with --ref: a
	 * pinned commit is read from the repository, whatever the tree holds. */
	load(&l, repo, c, "clusters", 0);
	T_EQ(l.rc, 0);
	T_EQ(l.r.dirty, 0);
	T_STREQ(desired_of(&l.set, "beta"), "1");
	unload(&l);
	load(&l, repo, "main", "clusters", 0);
	T_EQ(l.rc, 0);
	T_STREQ(desired_of(&l.set, "beta"), "1");
	unload(&l);

	/* --allow-dirty: the working tree content, flagged. */
	load(&l, repo, NULL, "clusters", 1);
	T_EQ(l.rc, 0);
	T_EQ(l.r.dirty, 1);
	T_EQ(l.r.ndirty, 1);
	T_STREQ(l.r.sha, c);
	T_STREQ(desired_of(&l.set, "beta"), "7");
	T_CONTAINS(l.set.n ? l.set.docs[0].file : "", "+dirty:clusters/b.yaml");
	unload(&l);

	/* Staged-only change is dirty too; so is an untracked yaml. */
	T_EQ(sh("cd '%s' && git add clusters/b.yaml", repo), 0);
	load(&l, repo, NULL, "clusters", 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "clusters/b.yaml");
	unload(&l);
	T_EQ(sh("cd '%s' && git checkout -q -- . && git reset -q --hard && echo 'x: 1' > clusters/new.yaml", repo), 0);
	load(&l, repo, NULL, "clusters", 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "clusters/new.yaml");
	unload(&l);

	free(fb);
	free(repo);
	free(a);
	free(b);
	free(c);
}

T_TEST(gitsrc_bad_inputs)
{
	char *a, *b, *c;
	char *repo = make_repo("r3", &a, &b, &c);
	struct loaded l;

	load(&l, repo, "no-such-branch", NULL, 0);
	T_EQ(l.rc, -1);
	T_EQ(l.d.n, 1);
	T_CONTAINS(l.diags, "ref \"no-such-branch\" not found");
	unload(&l);

	char *plain = xasprintf("%s/plain", t_tmpdir());
	T_EQ(sh("mkdir -p '%s'", plain), 0);
	load(&l, plain, NULL, NULL, 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "is not a git repository");
	unload(&l);

	load(&l, repo, NULL, "nope/", 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "nope: no such file or directory in commit");
	unload(&l);

	char *url = xasprintf("file://%s/does-not-exist", t_tmpdir());
	load(&l, url, NULL, NULL, 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "cannot clone");
	unload(&l);

	char *empty = xasprintf("%s/empty", t_tmpdir());
	T_EQ(sh("git init -q -b main '%s'", empty), 0);
	load(&l, empty, NULL, NULL, 0);
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "has no commits");
	unload(&l);

	free(empty);
	free(url);
	free(plain);
	free(repo);
	free(a);
	free(b);
	free(c);
}

T_TEST(gitsrc_file_url_clone_and_fetch)
{
	char *a, *b, *c;
	char *repo = make_repo("origin", &a, &b, &c);
	char *url = xasprintf("file://%s", repo);
	struct loaded l;

	T_OK(sf_gitsrc_is_url(url));
	T_OK(sf_gitsrc_is_url("git@github.com:org/specs.git"));
	T_OK(!sf_gitsrc_is_url(repo));
	T_OK(!sf_gitsrc_is_url("./specs"));

	load(&l, url, NULL, "clusters", 0);
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, c);
	T_STREQ(l.names, "beta");
	T_CONTAINS(l.r.repo_path, "/cache/");
	T_CONTAINS(l.set.n ? l.set.docs[0].file : "", url);
	char *cached = xstrdup(l.r.repo_path);
	unload(&l);

	/* Tags come along. */
	load(&l, url, "v1", "clusters", 0);
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, a);
	unload(&l);

	/* A new commit upstream is fetched into the same cache entry. */
	char *fa = xasprintf("%s/clusters/gamma.yaml", repo);
	write_spec(fa, "gamma", 3);
	T_EQ(sh("cd '%s' && git add -A && git commit -q -m D", repo), 0);
	char *d = out1("git -C '%s' rev-parse HEAD", repo);
	load(&l, url, "main", "clusters", 0);
	T_EQ(l.rc, 0);
	T_STREQ(l.r.sha, d);
	T_STREQ(l.names, "beta,gamma");
	T_STREQ(l.r.repo_path, cached);
	unload(&l);

	/* A pinned full SHA already in the cache loads without the origin. */
	char *moved = xasprintf("%s.moved", repo);
	T_EQ(sh("mv '%s' '%s'", repo, moved), 0);
	load(&l, url, b, "clusters", 0);
	T_EQ(l.rc, 0);
	T_STREQ(l.names, "alpha,beta");
	unload(&l);
	load(&l, url, "main", "clusters", 0); /* a branch needs a fetch: clear failure */
	T_EQ(l.rc, -1);
	T_CONTAINS(l.diags, "cannot fetch");
	unload(&l);
	T_EQ(sh("mv '%s' '%s'", moved, repo), 0);

	/* One committed file, as used by git-sourced modules. */
	struct sf_gitsrc_opts o = SF_GITSRC_OPTS_INIT;
	char *cache = xasprintf("%s/cache", t_tmpdir());
	o.repo = url;
	o.ref = "v1";
	o.cache_dir = cache;
	char *buf = NULL, sha[41] = "";
	size_t len = 0;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_gitsrc_read_file(&o, "clusters/a.yaml", &buf, &len, sha, &err), 0);
	T_CONTAINS(buf, "desired: 1");
	T_STREQ(sha, a);
	free(buf);
	buf = NULL;
	o.ref = NULL;
	T_EQ(sf_gitsrc_read_file(&o, "clusters/a.yaml", &buf, &len, sha, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no file \"clusters/a.yaml\"");
	free(buf);

	free(cache);
	free(moved);
	free(d);
	free(fa);
	free(cached);
	free(url);
	free(repo);
	free(a);
	free(b);
	free(c);
}

T_MAIN()
