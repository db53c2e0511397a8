/*
 * modules.c - module calls expanded in place (see modules.h).
 *
 * Position bookkeeping: nodes copied from a module template are marked by a
 * negated line number while the outermost call is being expanded.  Nested
 * calls inside a template are checked while their nodes still carry the
 * module file's positions (so an error in a module's own call to another
 * module points into that module), and when the outermost call is done every
 * marked node gets the outermost call site's position.  Values the caller
 * passed are copied with their own, positive positions and are left alone.
 * mpos() undoes the mark for diagnostics.
 */
#include "provisioner/kinds/modules.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provisioner/kinds/gitsrc.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/spec/schema.h"
#include "util.h"

#define MODULE_MAX ((size_t)4 << 20)

enum itype { IT_STRING, IT_INTEGER, IT_BOOLEAN, IT_LIST, IT_MAP };
static const char *const itype_names[] = {"string", "integer", "boolean", "list", "map", NULL};

/* Where relative module references resolve. */
struct origin {
	int git;     /* 1: repo at ref; 0: filesystem */
	char *repo;  /* git: repository as given */
	char *ref;   /* git: full commit SHA */
	char *dir;   /* git: directory in the repo ("" = root); fs: directory ("." if none) */
};

struct minput {
	const char *name;
	enum itype type;
	int required;
	const struct sf_node *def; /* NULL: no default */
	const char *desc;
};

struct module {
	char *key;                /* identity for caching and cycles */
	char *label;              /* what messages call it: the reference as written first */
	const char *name;         /* metadata.name (borrowed from root) */
	struct sf_node *root;     /* owned document */
	struct origin origin;
	struct minput *in;
	size_t nin;
	int bad;                  /* definition had errors: calls are not expanded */
};

struct ctx {
	struct sf_specset *set;
	const struct sf_module_opts *o;
	struct sf_diags *d;
	char **path;              /* search path dirs */
	size_t npath;
	struct module **mods;
	size_t nmods;
	const struct module *chain[64];
	size_t depth, max_depth;
};

/* ---- nodes ---- */

static void node_free(struct sf_node *n)
{
	if (!n)
		return;
	free(n->scalar);
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			node_free(n->keys[i]);
		node_free(n->vals[i]);
	}
	free(n->keys);
	free(n->vals);
	free(n);
}

static struct sf_pos mpos(const struct sf_node *n)
{
	struct sf_pos p = n->pos;
	if (p.line < 0)
		p.line = -p.line;
	return p;
}

/* Deep copy; mark = 1 negates positive line numbers (template nodes). */
static struct sf_node *node_copy(const struct sf_node *n, int mark)
{
	struct sf_node *c = xcalloc(1, sizeof *c);
	c->type = n->type;
	c->pos = n->pos;
	if (mark && c->pos.line > 0)
		c->pos.line = -c->pos.line;
	c->scalar = xstrdup(n->scalar);
	c->quoted = n->quoted;
	c->n = n->n;
	if (n->n) {
		c->vals = xcalloc(n->n, sizeof(struct sf_node *));
		if (n->keys)
			c->keys = xcalloc(n->n, sizeof(struct sf_node *));
		for (size_t i = 0; i < n->n; i++) {
			if (n->keys)
				c->keys[i] = node_copy(n->keys[i], mark);
			c->vals[i] = node_copy(n->vals[i], mark);
		}
	}
	return c;
}

static void restamp(struct sf_node *n, const struct sf_pos *at)
{
	if (n->pos.line < 0)
		n->pos = *at;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			restamp(n->keys[i], at);
		restamp(n->vals[i], at);
	}
}

static int is_call(const struct sf_node *n)
{
	return n && n->type == SF_N_MAP && sf_node_get(n, "module") != NULL;
}

/* ---- small string helpers ---- */

static int has_yaml_ext(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml"));
}

static char *dir_of(const char *p)
{
	const char *s = strrchr(p, '/');
	if (!s)
		return xstrdup("");
	return xstrndup(p, (size_t)(s - p));
}

/* Join a repo-relative dir and a relative path, resolving "." and "..".
 * Returns NULL if the path climbs out of the repository. Owned. */
static char *repo_join(const char *dir, const char *rel)
{
	char *all = xasprintf("%s/%s", dir, rel);
	char **parts = NULL;
	size_t n = 0;
	char *save = NULL, *res = NULL;
	for (char *tok = strtok_r(all, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (!n)
				goto done;
			n--;
			continue;
		}
		parts = xrealloc(parts, (n + 1) * sizeof *parts);
		parts[n++] = tok;
	}
	struct sf_buf b = SF_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		sf_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
	res = sf_buf_detach(&b);
done:
	free(parts);
	free(all);
	return res;
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

char *sf_modules_default_path(void)
{
	struct sf_buf b = SF_BUF_INIT;
	const char *env = getenv("SECFAAS_MODULE_PATH");
	if (env && *env)
		sf_buf_printf(&b, "%s:", env);
	sf_buf_puts(&b, "./modules");
	char exe[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (l > 0) {
		exe[l] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			sf_buf_printf(&b, ":%s/../share/secfaas/modules", exe);
		}
	}
	return sf_buf_detach(&b);
}

/* ---- module definitions ---- */

static void origin_release(struct origin *g)
{
	free(g->repo);
	free(g->ref);
	free(g->dir);
}

static void module_free(struct module *m)
{
	if (!m)
		return;
	free(m->key);
	free(m->label);
	node_free(m->root);
	origin_release(&m->origin);
	free(m->in);
	free(m);
}

static int type_ok(enum itype t, const struct sf_node *v)
{
	switch (t) {
	case IT_STRING: return v->type == SF_N_SCALAR;
	case IT_INTEGER: return v->type == SF_N_SCALAR && !v->quoted && sf_scalar_is_int(v->scalar, NULL);
	case IT_BOOLEAN: return v->type == SF_N_SCALAR && !v->quoted && sf_scalar_is_bool(v->scalar, NULL);
	case IT_LIST: return v->type == SF_N_SEQ;
	case IT_MAP: return v->type == SF_N_MAP;
	}
	return 0;
}

static const char *value_desc(const struct sf_node *v)
{
	switch (v->type) {
	case SF_N_NULL: return "null";
	case SF_N_SEQ: return "a list";
	case SF_N_MAP: return "a map";
	case SF_N_SCALAR:
		if (!v->quoted && sf_scalar_is_int(v->scalar, NULL))
			return "an integer";
		if (!v->quoted && sf_scalar_is_bool(v->scalar, NULL))
			return "a boolean";
		return "a string";
	}
	return "?";
}

static const char *type_article(enum itype t)
{
	return t == IT_INTEGER ? "an" : "a";
}

static const struct sf_schema input_fields[] = {
	{"type", SF_S_STRING, SF_S_REQUIRED, 0, 0, itype_names, 0, 0, 0, "string, integer, boolean, list or map"},
	{"default", SF_S_ANY, 0, 0, 0, 0, 0, 0, 0, "value when the caller gives none"},
	{"required", SF_S_BOOL, 0, 0, 0, 0, 0, 0, 0, "the caller must give a value"},
	{"description", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, "what the input is for"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
static const struct sf_schema input_item = {"input", SF_S_OBJECT, 0, input_fields, 0, 0, 0, 0, 0, 0};
static const struct sf_schema output_fields[] = {
	{"value", SF_S_ANY, SF_S_REQUIRED, 0, 0, 0, 0, 0, 0, "the value, usually from ${input.X}"},
	{"description", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, "what the output is"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
static const struct sf_schema output_item = {"output", SF_S_OBJECT, 0, output_fields, 0, 0, 0, 0, 0, 0};
static const struct sf_schema module_spec_fields[] = {
	{"inputs", SF_S_MAP, 0, 0, &input_item, 0, 0, 0, 0, "typed inputs"},
	{"outputs", SF_S_MAP, 0, 0, &output_item, 0, 0, 0, 0, "values the module documents"},
	{"template", SF_S_ANY, SF_S_REQUIRED, 0, 0, 0, 0, 0, 0, "the YAML the call expands to"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
static const struct sf_schema module_meta_fields[] = {
	{"name", SF_S_STRING, SF_S_REQUIRED | SF_S_NONEMPTY, 0, 0, 0, 0, 0, 0, "module name"},
	{"version", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, "checked by NAME@VERSION calls"},
	{"description", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, "what the module builds"},
	{"labels", SF_S_MAP, 0, 0, 0, 0, 0, 0, 0, "free-form labels"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
static const char *const module_kind[] = {"Module", NULL};
static const char *const api_versions[] = {SF_API_VERSION, NULL};
static const struct sf_schema module_doc_fields[] = {
	{"apiVersion", SF_S_STRING, SF_S_REQUIRED, 0, 0, api_versions, 0, 0, 0, 0},
	{"kind", SF_S_STRING, SF_S_REQUIRED, 0, 0, module_kind, 0, 0, 0, 0},
	{"metadata", SF_S_OBJECT, SF_S_REQUIRED, module_meta_fields, 0, 0, 0, 0, 0, 0},
	{"spec", SF_S_OBJECT, SF_S_REQUIRED, module_spec_fields, 0, 0, 0, 0, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
static const struct sf_schema module_doc = {"module", SF_S_OBJECT, 0, module_doc_fields, 0, 0, 0, 0, 0, 0};

static const struct minput *find_input(const struct module *m, const char *name)
{
	for (size_t i = 0; i < m->nin; i++)
		if (!strcmp(m->in[i].name, name))
			return &m->in[i];
	return NULL;
}

/* Check every ${input.X} in a module's template/outputs names a declared input. */
static void check_refs(const struct module *m, const struct sf_node *n, struct sf_diags *d)
{
	if (n->type == SF_N_SCALAR) {
		for (const char *p = n->scalar; (p = strstr(p, "${")); p += 2) {
			if (p > n->scalar && p[-1] == '$')
				continue;
			if (strncmp(p + 2, "input.", 6))
				continue;
			const char *s = p + 8, *e = strchr(s, '}');
			if (!e) {
				struct sf_pos at = mpos(n);
				sf_diag_error(d, &at, "module %s: unterminated \"${input.\" reference", m->name);
				return;
			}
			char *name = xstrndup(s, (size_t)(e - s));
			if (!find_input(m, name)) {
				const char **names = xmalloc((m->nin + 1) * sizeof *names);
				for (size_t i = 0; i < m->nin; i++)
					names[i] = m->in[i].name;
				const char *hint = sf_did_you_mean(name, names, m->nin);
				struct sf_pos at = mpos(n);
				sf_diag_error(d, &at, "module %s: template refers to undeclared input \"%s\"%s%s%s", m->name,
					      name, hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
				free(names);
			}
			free(name);
		}
	}
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			check_refs(m, n->keys[i], d);
		check_refs(m, n->vals[i], d);
	}
}

/* Validate a module document and index its inputs. Takes root. */
static struct module *module_new(struct sf_node *root, const char *key, const char *label, struct origin *g,
				 struct sf_diags *d)
{
	struct module *m = xcalloc(1, sizeof *m);
	m->root = root;
	m->key = xstrdup(key);
	m->label = xstrdup(label);
	m->origin = *g;
	memset(g, 0, sizeof *g);
	size_t before = d->nerrors;
	sf_schema_validate(&module_doc, root, "", d);
	m->name = sf_node_str(sf_node_get(sf_node_get(root, "metadata"), "name"));
	if (!m->name)
		m->name = m->label;
	const struct sf_node *spec = sf_node_get(root, "spec"), *ins = sf_node_get(spec, "inputs");
	if (d->nerrors > before) {
		m->bad = 1;
		return m;
	}
	if (ins && ins->type == SF_N_MAP) {
		m->in = xcalloc(ins->n ? ins->n : 1, sizeof *m->in);
		for (size_t i = 0; i < ins->n; i++) {
			struct minput *in = &m->in[m->nin++];
			const struct sf_node *def = ins->vals[i];
			in->name = ins->keys[i]->scalar;
			const char *t = sf_node_str(sf_node_get(def, "type"));
			for (int k = 0; itype_names[k]; k++)
				if (t && !strcmp(t, itype_names[k]))
					in->type = (enum itype)k;
			sf_scalar_is_bool(sf_node_str(sf_node_get(def, "required")), &in->required);
			in->def = sf_node_get(def, "default");
			if (in->def && in->def->type == SF_N_NULL)
				in->def = NULL;
			in->desc = sf_node_str(sf_node_get(def, "description"));
			if (in->def && !type_ok(in->type, in->def)) {
				struct sf_pos at = mpos(in->def);
				sf_diag_error(d, &at, "module %s: default of input \"%s\" must be %s %s, not %s", m->name,
					      in->name, type_article(in->type), itype_names[in->type], value_desc(in->def));
			}
			if (in->def && in->required) {
				struct sf_pos at = mpos(ins->keys[i]);
				sf_diag_error(d, &at, "module %s: input \"%s\" is required and has a default; drop one",
					      m->name, in->name);
			}
		}
	}
	check_refs(m, sf_node_get(spec, "template"), d);
	if (sf_node_get(spec, "outputs"))
		check_refs(m, sf_node_get(spec, "outputs"), d);
	if (d->nerrors > before)
		m->bad = 1;
	return m;
}

static struct module *find_loaded(struct ctx *c, const char *key)
{
	for (size_t i = 0; i < c->nmods; i++)
		if (!strcmp(c->mods[i]->key, key))
			return c->mods[i];
	return NULL;
}

static void add_module(struct ctx *c, struct module *m)
{
	c->mods = xrealloc(c->mods, (c->nmods + 1) * sizeof(struct module *));
	c->mods[c->nmods++] = m;
}

/* Parse text as a module file named `name`; exactly one Module document. */
static struct module *load_text(struct ctx *c, const char *name, const char *buf, size_t len, const char *key,
				const char *label, struct origin *g, const struct sf_pos *at)
{
	size_t first = c->set->n;
	if (sf_spec_load_buffer(c->set, name, buf, len, c->d) < 0) {
		/* Drop whatever parsed: module docs never reach kinds. */
		for (size_t i = first; i < c->set->n; i++)
			node_free(c->set->docs[i].root);
		c->set->n = first;
		return NULL;
	}
	size_t got = c->set->n - first;
	struct sf_node *root = got ? c->set->docs[first].root : NULL;
	for (size_t i = first + 1; i < c->set->n; i++)
		node_free(c->set->docs[i].root);
	c->set->n = first;
	if (got != 1) {
		sf_diag_error(c->d, at, "module %s: %s must hold exactly one Module document, found %zu", label, name, got);
		node_free(root);
		return NULL;
	}
	struct module *m = module_new(root, key, label, g, c->d);
	add_module(c, m);
	return m;
}

static struct module *load_fs(struct ctx *c, const char *path, const char *label, const struct sf_pos *at)
{
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		sf_diag_error(c->d, at, "module %s: cannot read %s: %s", label, path, strerror(errno));
		return NULL;
	}
	char *key = xasprintf("file:%s", real);
	struct module *m = find_loaded(c, key);
	if (!m) {
		char *buf = NULL;
		size_t len = 0;
		struct sf_err err = SF_ERR_INIT;
		if (sf_read_file(&buf, &len, path, MODULE_MAX, &err) < 0) {
			sf_diag_error(c->d, at, "module %s: %s", label, err.msg);
		} else {
			char *dir = dir_of(path);
			struct origin g = {0, NULL, NULL, xstrdup(*dir ? dir : (path[0] == '/' ? "/" : "."))};
			m = load_text(c, path, buf, len, key, label, &g, at);
			origin_release(&g);
			free(dir);
		}
		free(buf);
	}
	free(key);
	return m;
}

static struct module *load_git(struct ctx *c, const char *repo, const char *path, const char *ref, const char *label,
			       const struct sf_pos *at)
{
	struct sf_gitsrc_opts go = SF_GITSRC_OPTS_INIT;
	go.repo = repo;
	go.ref = ref;
	go.cache_dir = c->o->git_cache_dir;
	char *buf = NULL, sha[41] = "";
	size_t len = 0;
	struct sf_err err = SF_ERR_INIT;
	struct module *m = NULL;
	if (sf_gitsrc_read_file(&go, path, &buf, &len, sha, &err) < 0) {
		sf_diag_error(c->d, at, "module %s: %s", label, err.msg);
		return NULL;
	}
	char *key = xasprintf("git:%s//%s@%s", repo, path, sha);
	m = find_loaded(c, key);
	if (!m) {
		size_t rl = strlen(repo);
		while (rl > 1 && repo[rl - 1] == '/')
			rl--;
		char *name = xasprintf("%.*s@%.7s:%s", (int)rl, repo, sha, path);
		struct origin g = {1, xstrdup(repo), xstrdup(sha), dir_of(path)};
		m = load_text(c, name, buf, len, key, label, &g, at);
		origin_release(&g);
		free(name);
	}
	free(key);
	free(buf);
	return m;
}

/* Resolve a `module:` reference from a file with origin g. */
static struct module *resolve(struct ctx *c, const char *ref, const struct origin *g, const struct sf_pos *at)
{
	if (!strncmp(ref, "git+", 4)) {
		const char *url = ref + 4, *scheme = strstr(url, "://");
		const char *sep = strstr(scheme ? scheme + 3 : url, "//");
		const char *at_ref = sep ? strrchr(sep + 2, '@') : NULL;
		if (!sep || !at_ref || !at_ref[1] || at_ref == sep + 2) {
			sf_diag_error(c->d, at,
				      "module \"%s\": a git module is written git+URL//PATH@REF (e.g. "
				      "git+file:///srv/mods//modules/vpc.yaml@v1), pinned to a ref",
				      ref);
			return NULL;
		}
		char *repo = xstrndup(url, (size_t)(sep - url));
		char *raw = xstrndup(sep + 2, (size_t)(at_ref - sep - 2));
		char *path = repo_join("", raw);
		struct module *m = NULL;
		if (!path || !*path)
			sf_diag_error(c->d, at, "module \"%s\": bad path \"%s\" inside the repository", ref, raw);
		else
			m = load_git(c, repo, path, at_ref + 1, ref, at);
		free(raw);
		free(path);
		free(repo);
		return m;
	}
	if (ref[0] == '/' || !strncmp(ref, "./", 2) || !strncmp(ref, "../", 3) || has_yaml_ext(ref)) {
		if (g->git) {
			if (ref[0] == '/') {
				sf_diag_error(c->d, at, "module \"%s\": absolute paths cannot be used from a spec in git; use a path relative to the file", ref);
				return NULL;
			}
			char *path = repo_join(g->dir, ref);
			if (!path) {
				sf_diag_error(c->d, at, "module \"%s\": path climbs out of repository %s", ref, g->repo);
				return NULL;
			}
			struct module *m = load_git(c, g->repo, path, g->ref, ref, at);
			free(path);
			return m;
		}
		const char *rel = ref;
		while (!strncmp(rel, "./", 2))
			rel += 2;
		char *path = ref[0] == '/' ? xstrdup(ref)
			     : !strcmp(g->dir, ".") ? xstrdup(rel) : xasprintf("%s/%s", g->dir, rel);
		struct module *m = load_fs(c, path, ref, at);
		free(path);
		return m;
	}
	/* NAME[@VERSION] */
	const char *v = strchr(ref, '@');
	char *name = v ? xstrndup(ref, (size_t)(v - ref)) : xstrdup(ref);
	struct module *m = NULL;
	if (!valid_name(name)) {
		sf_diag_error(c->d, at,
			      "module \"%s\": not a module name (a-z, 0-9, -, _), a path (./x.yaml) or git+URL//PATH@REF",
			      ref);
		goto done;
	}
	char *ikey = xasprintf("inline:%s", name);
	m = find_loaded(c, ikey);
	free(ikey);
	for (size_t i = 0; !m && i < c->npath; i++) {
		static const char *const exts[] = {".yaml", ".yml"};
		for (size_t e = 0; !m && e < SF_ARRAY_LEN(exts); e++) {
			char *p = xasprintf("%s/%s%s", c->path[i], name, exts[e]);
			struct stat st;
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
				m = load_fs(c, p, ref, at);
			free(p);
		}
	}
	if (!m) {
		struct sf_buf b = SF_BUF_INIT;
		for (size_t i = 0; i < c->npath; i++)
			sf_buf_printf(&b, "%s%s", i ? ":" : "", c->path[i]);
		sf_diag_error(c->d, at, "module \"%s\" not found (searched %s; set SECFAAS_MODULE_PATH or use a path)", name,
			      sf_buf_cstr(&b));
		sf_buf_release(&b);
		goto done;
	}
	if (!m->bad && m->name && strcmp(m->name, name) && strncmp(m->key, "inline:", 7)) {
		struct sf_pos mp = mpos(m->root);
		sf_diag_error(c->d, &mp, "module file for \"%s\" defines metadata.name \"%s\"; they must match", name,
			      m->name);
		m = NULL;
		goto done;
	}
	if (v && m) {
		const char *have = sf_node_str(sf_node_get(sf_node_get(m->root, "metadata"), "version"));
		if (!have || strcmp(have, v + 1)) {
			sf_diag_error(c->d, at, "module \"%s\": version %s requested, but the module found is %s%s", name,
				      v + 1, have ? "version " : "unversioned", have ? have : "");
			m = NULL;
		}
	}
done:
	free(name);
	return m;
}

/* ---- substitution ---- */

struct subst {
	struct ctx *c;
	const struct module *m;
	const struct sf_node **vals; /* by input index; NULL = no value */
	int failed;
};

/* The value for input name[0..len); *is_default set when it is the
 * module's default (a template node, not the caller's). */
static const struct sf_node *input_value(struct subst *s, const char *name, size_t len, int *is_default)
{
	for (size_t i = 0; i < s->m->nin; i++)
		if (strlen(s->m->in[i].name) == len && !strncmp(s->m->in[i].name, name, len)) {
			if (is_default)
				*is_default = s->vals[i] && s->vals[i] == s->m->in[i].def;
			return s->vals[i];
		}
	return NULL;
}

/* "${input.X}" exactly? Sets name/len. */
static int whole_ref(const char *str, const char **name, size_t *len)
{
	size_t l = strlen(str);
	if (l < 10 || strncmp(str, "${input.", 8) || str[l - 1] != '}')
		return 0;
	if (memchr(str + 8, '}', l - 9) || memchr(str + 8, '$', l - 9))
		return 0;
	*name = str + 8;
	*len = l - 9;
	return 1;
}

/* Interpolate input references into a string. Owned, NULL on error. */
static char *interpolate(struct subst *s, const struct sf_node *n)
{
	struct sf_buf b = SF_BUF_INIT;
	const char *p = n->scalar;
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			sf_buf_puts(&b, "${");
			p += 3;
			continue;
		}
		if (!strncmp(p, "${input.", 8)) {
			const char *e = strchr(p + 8, '}');
			const struct sf_node *v = e ? input_value(s, p + 8, (size_t)(e - p - 8), NULL) : NULL;
			struct sf_pos at = mpos(n);
			if (!v || v->type != SF_N_SCALAR) {
				sf_diag_error(s->c->d, &at,
					      "module %s: \"%.*s\" inside a string needs a scalar value, but input has %s",
					      s->m->name, e ? (int)(e - p + 1) : (int)strlen(p), p,
					      v ? value_desc(v) : "no value (give it, or a default)");
				s->failed = 1;
				sf_buf_release(&b);
				return NULL;
			}
			sf_buf_puts(&b, v->scalar);
			p = e + 1;
			continue;
		}
		sf_buf_putc(&b, *p++);
	}
	return sf_buf_detach(&b);
}

/* Copy template node t with inputs substituted. *absent = 1 when t was a
 * whole reference to an input without value (the caller drops the slot). */
static struct sf_node *subst_copy(struct subst *s, const struct sf_node *t, int *absent)
{
	*absent = 0;
	if (t->type == SF_N_SCALAR) {
		const char *name;
		size_t len;
		if (whole_ref(t->scalar, &name, &len)) {
			int is_default = 0;
			const struct sf_node *v = input_value(s, name, len, &is_default);
			if (!v) {
				*absent = 1;
				return NULL;
			}
			/* Defaults come from the module file: mark them as template
			 * nodes; the caller's values keep their positions. */
			return node_copy(v, is_default);
		}
		struct sf_node *c = node_copy(t, 1);
		if (strstr(t->scalar, "${")) {
			char *txt = interpolate(s, t);
			if (txt) {
				free(c->scalar);
				c->scalar = txt;
			}
		}
		return c;
	}
	struct sf_node *c = xcalloc(1, sizeof *c);
	c->type = t->type;
	c->pos = t->pos;
	if (c->pos.line > 0)
		c->pos.line = -c->pos.line;
	if (t->type == SF_N_NULL)
		return c;
	c->vals = xcalloc(t->n ? t->n : 1, sizeof(struct sf_node *));
	if (t->type == SF_N_MAP)
		c->keys = xcalloc(t->n ? t->n : 1, sizeof(struct sf_node *));
	for (size_t i = 0; i < t->n; i++) {
		int gone = 0;
		struct sf_node *v = subst_copy(s, t->vals[i], &gone);
		if (gone)
			continue;
		if (t->type == SF_N_MAP) {
			struct sf_node *k = node_copy(t->keys[i], 1);
			if (strstr(k->scalar, "${")) {
				char *txt = interpolate(s, t->keys[i]);
				if (txt) {
					free(k->scalar);
					k->scalar = txt;
				}
			}
			c->keys[c->n] = k;
		}
		c->vals[c->n++] = v;
	}
	return c;
}

/* ---- expansion ---- */

static void expand_tree(struct ctx *c, struct sf_node *n, const struct origin *g);

static int in_chain(const struct ctx *c, const struct module *m)
{
	for (size_t i = 0; i < c->depth; i++)
		if (c->chain[i] == m)
			return 1;
	return 0;
}

static void cycle_error(struct ctx *c, const struct module *m, const struct sf_pos *at)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t start = 0;
	while (start < c->depth && c->chain[start] != m)
		start++;
	for (size_t i = start; i < c->depth; i++)
		sf_buf_printf(&b, "%s -> ", c->chain[i]->name);
	sf_buf_puts(&b, m->name);
	sf_diag_error(c->d, at, "module cycle: %s", sf_buf_cstr(&b));
	sf_buf_release(&b);
}

/* Expand call node `call`; returns the replacement (owned) or NULL when the
 * call could not be expanded (errors reported; the call stays). */
static struct sf_node *expand_call(struct ctx *c, struct sf_node *call, const struct origin *g)
{
	const struct sf_node *mref = sf_node_get(call, "module");
	struct sf_node *inputs = sf_node_get(call, "inputs");
	const struct sf_node *inputs_key = sf_node_key(call, "inputs");
	struct sf_node *out = NULL;
	struct subst s = {c, NULL, NULL, 0};
	size_t before = c->d->nerrors;

	for (size_t i = 0; i < call->n; i++) {
		const char *k = call->keys[i]->scalar;
		if (strcmp(k, "module") && strcmp(k, "inputs")) {
			struct sf_pos kp = mpos(call->keys[i]);
			sf_diag_error(c->d, &kp, "unknown key \"%s\" in a module call (a call has only module and inputs)", k);
		}
	}
	if (!mref || mref->type != SF_N_SCALAR || !*mref->scalar) {
		struct sf_pos mp = mpos(mref ? mref : call);
		sf_diag_error(c->d, &mp, "module: expected a module name, path or git+URL//PATH@REF");
		return NULL;
	}
	if (inputs && inputs->type != SF_N_MAP && inputs->type != SF_N_NULL) {
		struct sf_pos ip = mpos(inputs);
		sf_diag_error(c->d, &ip, "module %s: inputs must be a map of input names to values, not %s", mref->scalar,
			      value_desc(inputs));
		return NULL;
	}
	/* The caller's own values are expanded first, with the caller's origin. */
	if (inputs && inputs->type == SF_N_MAP)
		expand_tree(c, inputs, g);

	struct sf_pos mp = mpos(mref);
	struct module *m = resolve(c, mref->scalar, g, &mp);
	if (!m || m->bad)
		return NULL;
	if (in_chain(c, m)) {
		cycle_error(c, m, &mp);
		return NULL;
	}
	if (c->depth >= c->max_depth || c->depth >= SF_ARRAY_LEN(c->chain)) {
		sf_diag_error(c->d, &mp, "module %s: modules nested deeper than %zu levels", m->name, c->max_depth);
		return NULL;
	}

	/* Inputs: unknown, wrong type, missing required. */
	s.m = m;
	s.vals = xcalloc(m->nin ? m->nin : 1, sizeof(const struct sf_node *));
	if (inputs && inputs->type == SF_N_MAP) {
		for (size_t i = 0; i < inputs->n; i++) {
			const char *k = inputs->keys[i]->scalar;
			const struct sf_node *v = inputs->vals[i];
			const struct minput *in = find_input(m, k);
			if (!in) {
				const char **names = xmalloc((m->nin + 1) * sizeof *names);
				for (size_t j = 0; j < m->nin; j++)
					names[j] = m->in[j].name;
				const char *hint = sf_did_you_mean(k, names, m->nin);
				struct sf_pos kp = mpos(inputs->keys[i]);
				sf_diag_error(c->d, &kp, "module %s has no input \"%s\"%s%s%s", m->name, k,
					      hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
				free(names);
				continue;
			}
			if (v->type == SF_N_NULL)
				continue; /* explicit null = not given */
			if (!type_ok(in->type, v)) {
				struct sf_pos vp = mpos(v);
				sf_diag_error(c->d, &vp, "module %s: input \"%s\" must be %s %s, not %s", m->name, k,
					      type_article(in->type), itype_names[in->type], value_desc(v));
				continue;
			}
			s.vals[in - m->in] = v;
		}
	}
	for (size_t i = 0; i < m->nin; i++) {
		if (s.vals[i])
			continue;
		if (m->in[i].def) {
			s.vals[i] = m->in[i].def;
		} else if (m->in[i].required) {
			struct sf_pos rp = mpos(inputs_key ? inputs_key : mref);
			sf_diag_error(c->d, &rp, "module %s: missing required input \"%s\" (%s%s%s)", m->name, m->in[i].name,
				      itype_names[m->in[i].type], m->in[i].desc ? ": " : "",
				      m->in[i].desc ? m->in[i].desc : "");
		}
	}
	if (c->d->nerrors > before)
		goto done;

	int absent = 0;
	const struct sf_node *tmpl = sf_node_get(sf_node_get(m->root, "spec"), "template");
	out = subst_copy(&s, tmpl, &absent);
	if (absent) {
		out = xcalloc(1, sizeof *out);
		out->type = SF_N_NULL;
		out->pos = tmpl->pos;
		out->pos.line = -out->pos.line;
	}
	c->chain[c->depth++] = m;
	if (is_call(out)) {
		/* A module whose template is itself a call. */
		struct sf_node *inner = expand_call(c, out, &m->origin);
		if (inner) {
			node_free(out);
			out = inner;
		}
	} else {
		expand_tree(c, out, &m->origin);
	}
	c->depth--;
	if (s.failed || c->d->nerrors > before) {
		node_free(out);
		out = NULL;
	}
done:
	free(s.vals);
	return out;
}

/* Replace every call below n (not n itself). */
static void expand_tree(struct ctx *c, struct sf_node *n, const struct origin *g)
{
	for (size_t i = 0; i < n->n; i++) {
		struct sf_node *v = n->vals[i];
		if (is_call(v)) {
			struct sf_node *r = expand_call(c, v, g);
			if (r) {
				if (c->depth == 0)
					restamp(r, &v->pos);
				node_free(v);
				n->vals[i] = r;
			}
		} else {
			expand_tree(c, v, g);
		}
	}
}

/* Where relative references in a top-level document resolve. */
static void doc_origin(const struct ctx *c, const char *file, struct origin *g)
{
	memset(g, 0, sizeof *g);
	if (c->o->git_repo && c->o->git_sha) {
		size_t rl = strlen(c->o->git_repo);
		while (rl > 1 && c->o->git_repo[rl - 1] == '/')
			rl--;
		if (!strncmp(file, c->o->git_repo, rl) && file[rl] == '@') {
			const char *colon = strchr(file + rl + 1, ':');
			if (colon) {
				int dirty = colon - (file + rl + 1) >= 6 && !strncmp(colon - 6, "+dirty", 6);
				char *dir = dir_of(colon + 1);
				if (dirty && !sf_gitsrc_is_url(c->o->git_repo)) {
					g->dir = *dir ? xasprintf("%.*s/%s", (int)rl, c->o->git_repo, dir)
						      : xstrndup(c->o->git_repo, rl);
					free(dir);
				} else {
					g->git = 1;
					g->repo = xstrdup(c->o->git_repo);
					g->ref = xstrdup(c->o->git_sha);
					g->dir = dir;
				}
				return;
			}
		}
	}
	char *dir = dir_of(file);
	g->dir = *dir ? xstrdup(dir) : xstrdup(file[0] == '/' ? "/" : ".");
	free(dir);
}

int sf_modules_expand(struct sf_specset *set, const struct sf_module_opts *o, struct sf_diags *d)
{
	static const struct sf_module_opts defaults = SF_MODULE_OPTS_INIT;
	struct ctx c = {0};
	size_t before = d->nerrors;
	c.set = set;
	c.o = o ? o : &defaults;
	c.d = d;
	c.max_depth = c.o->max_depth > 0 ? (size_t)c.o->max_depth : 16;

	char *sp = c.o->search_path ? xstrdup(c.o->search_path) : sf_modules_default_path();
	char *save = NULL;
	for (char *t = strtok_r(sp, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		c.path = xrealloc(c.path, (c.npath + 1) * sizeof *c.path);
		c.path[c.npath++] = xstrdup(t);
	}
	free(sp);

	/* 1. Take `kind: Module` documents out of the set (docs[] is
	 * edited in place: a name index would no longer hold). */
	sf_specset_unindex(set);
	size_t keep = 0;
	for (size_t i = 0; i < set->n; i++) {
		struct sf_doc *doc = &set->docs[i];
		const char *kind = sf_node_str(sf_node_get(doc->root, "kind"));
		if (!kind || strcmp(kind, "Module")) {
			set->docs[keep++] = *doc;
			continue;
		}
		const char *name = sf_node_str(sf_node_get(sf_node_get(doc->root, "metadata"), "name"));
		char *key = xasprintf("inline:%s", name ? name : "");
		struct origin g;
		doc_origin(&c, doc->file, &g);
		if (name && find_loaded(&c, key)) {
			struct sf_pos at = mpos(doc->root);
			sf_diag_error(d, &at, "module \"%s\" is defined twice in the specs", name);
			node_free(doc->root);
			origin_release(&g);
		} else {
			add_module(&c, module_new(doc->root, key, name ? name : "(unnamed)", &g, d));
		}
		free(key);
	}
	set->n = keep;

	/* 2. Expand calls in every document; the first loop bound is fixed
	 * because module files loaded on the way are appended and removed. */
	size_t ndocs = set->n;
	for (size_t i = 0; i < ndocs; i++) {
		struct origin g;
		doc_origin(&c, set->docs[i].file, &g);
		struct sf_node *root = set->docs[i].root;
		if (is_call(root)) {
			struct sf_node *r = expand_call(&c, root, &g);
			if (r) {
				restamp(r, &root->pos);
				node_free(root);
				set->docs[i].root = r;
			}
		} else {
			expand_tree(&c, root, &g);
		}
		origin_release(&g);
	}

	for (size_t i = 0; i < c.nmods; i++)
		module_free(c.mods[i]);
	free(c.mods);
	for (size_t i = 0; i < c.npath; i++)
		free(c.path[i]);
	free(c.path);
	return d->nerrors > before ? -1 : 0;
}
