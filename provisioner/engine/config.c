/* config.c - configuration model, references, plan-file serialisation (see config.h). */
#include "provisioner/engine/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/graph.h"
#include "provisioner/spec/schema.h"
#include "util.h"

size_t sf_config_workspaces(const struct sf_specset *set, const char ***out)
{
	const char **v = xmalloc((set->n + 1) * sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < set->n; i++) {
		const char *name = sf_node_str(sf_node_get(sf_node_get(set->docs[i].root, "metadata"), "name"));
		size_t it = 0;
		/* in the order each name first appears */
		if (name && sf_specset_next_named(set, name, &it) == i)
			v[n++] = name;
	}
	*out = v;
	return n;
}

struct sf_rinst *sf_config_add(struct sf_config *c, const struct sf_rtype *t, const char *name,
			       json_t *config, const struct sf_pos *pos)
{
	c->v = xrealloc(c->v, (c->n + 1) * sizeof *c->v);
	struct sf_rinst *r = &c->v[c->n++];
	memset(r, 0, sizeof *r);
	r->type = t;
	r->name = xstrdup(name);
	r->address = xasprintf("%s.%s", t->name, name);
	r->config = json_incref(config);
	if (pos)
		r->pos = *pos;
	return r;
}

const struct sf_rinst *sf_config_find(const struct sf_config *c, const char *address)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].address, address))
			return &c->v[i];
	return NULL;
}

void sf_config_release(struct sf_config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct sf_rinst *r = &c->v[i];
		free(r->address);
		free(r->name);
		json_decref(r->config);
		for (size_t j = 0; j < r->ndeps; j++)
			free(r->deps[j]);
		free(r->deps);
		sf_strs_free(&r->update_only);
		sf_strs_free(&r->accept_only);
	}
	free(c->v);
	free(c->workspace);
	free(c->kind);
	free(c->digest);
	json_decref(c->metadata);
	memset(c, 0, sizeof *c);
}

/* ---- references ---- */

/* Parse "${a.b.c}" starting at p (pointing at '$'). On success fills addr
 * (type.name) and attr, returns pointer past '}'. NULL if not a reference. */
static const char *parse_ref(const char *p, char *addr, size_t na, char *attr, size_t nattr)
{
	if (p[0] != '$' || p[1] != '{')
		return NULL;
	const char *s = p + 2, *e = strchr(s, '}');
	if (!e)
		return NULL;
	const char *d1 = memchr(s, '.', (size_t)(e - s));
	if (!d1)
		return NULL;
	const char *d2 = memchr(d1 + 1, '.', (size_t)(e - d1 - 1));
	if (!d2 || d2 + 1 >= e)
		return NULL;
	size_t la = (size_t)(d2 - s), lt = (size_t)(e - d2 - 1);
	if (la >= na || lt >= nattr)
		return NULL;
	for (const char *q = s; q < e; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		      *q == '_' || *q == '-' || *q == '.'))
			return NULL;
	memcpy(addr, s, la);
	addr[la] = 0;
	memcpy(attr, d2 + 1, lt);
	attr[lt] = 0;
	return e + 1;
}

void sf_refs_walk(const json_t *v, sf_ref_fn fn, void *ctx)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		for (const char *p = s; (p = strchr(p, '$'));) {
			if (p[1] == '$' && p[2] == '{') {
				p += 3;
				continue;
			}
			char addr[256], attr[256];
			const char *end = parse_ref(p, addr, sizeof addr, attr, sizeof attr);
			if (end) {
				fn(addr, attr, ctx);
				p = end;
			} else {
				p++;
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) sf_refs_walk(x, fn, ctx);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) sf_refs_walk(x, fn, ctx);
	}
}

static json_t *resolve_string(const char *s, sf_ref_lookup_fn lookup, void *ctx, int *unknown)
{
	/* Exactly one reference: keep the referenced value's type. */
	char addr[256], attr[256];
	const char *end = parse_ref(s, addr, sizeof addr, attr, sizeof attr);
	if (end && !*end) {
		const json_t *v = lookup(addr, attr, ctx);
		if (!v) {
			*unknown = 1;
			return json_null();
		}
		return json_deep_copy(v);
	}
	struct sf_buf b = SF_BUF_INIT;
	const char *p = s;
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			sf_buf_puts(&b, "${");
			p += 3;
			continue;
		}
		end = p[0] == '$' ? parse_ref(p, addr, sizeof addr, attr, sizeof attr) : NULL;
		if (!end) {
			sf_buf_putc(&b, *p++);
			continue;
		}
		const json_t *v = lookup(addr, attr, ctx);
		if (!v) {
			*unknown = 1;
			sf_buf_release(&b);
			return json_null();
		}
		if (json_is_string(v)) {
			sf_buf_puts(&b, json_string_value(v));
		} else {
			char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			sf_buf_puts(&b, t ? t : "");
			free(t);
		}
		p = end;
	}
	json_t *r = json_string(sf_buf_cstr(&b));
	sf_buf_release(&b);
	return r;
}

json_t *sf_refs_resolve(const json_t *v, sf_ref_lookup_fn lookup, void *ctx, int *unknown)
{
	if (json_is_string(v))
		return resolve_string(json_string_value(v), lookup, ctx, unknown);
	if (json_is_array(v)) {
		json_t *a = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) json_array_append_new(a, sf_refs_resolve(x, lookup, ctx, unknown));
		return a;
	}
	if (json_is_object(v)) {
		json_t *o = json_object();
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) json_object_set_new(o, k, sf_refs_resolve(x, lookup, ctx, unknown));
		return o;
	}
	return json_deep_copy(v);
}

/* ---- build ---- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void sf_rinst_add_dep(struct sf_rinst *r, const char *addr)
{
	for (size_t i = 0; i < r->ndeps; i++)
		if (!strcmp(r->deps[i], addr))
			return;
	r->deps = xrealloc(r->deps, (r->ndeps + 1) * sizeof *r->deps);
	r->deps[r->ndeps++] = xstrdup(addr);
}

void sf_rinst_add_update_dep(struct sf_rinst *r, const char *addr)
{
	sf_rinst_add_dep(r, addr);
	sf_strs_add(&r->update_only, addr);
}

void sf_rinst_add_accept_dep(struct sf_rinst *r, const char *addr)
{
	sf_rinst_add_dep(r, addr);
	sf_strs_add(&r->accept_only, addr);
}

struct refcheck {
	struct sf_config *c;
	struct sf_rinst *r;
	struct sf_diags *d;
};

/* A create needs what it reads: an address the configuration refers to
 * is an ordinary dependency even if it was also added as update-only or
 * accept-only. */
static void refs_win(const char *addr, const char *attr, void *ctx)
{
	struct sf_rinst *r = ctx;
	(void)attr;
	sf_strs_del(&r->update_only, addr);
	sf_strs_del(&r->accept_only, addr);
}

static void check_ref(const char *addr, const char *attr, void *ctx)
{
	struct refcheck *rc = ctx;
	const struct sf_rinst *t = sf_config_find(rc->c, addr);
	if (!t) {
		const char **names = xmalloc((rc->c->n + 1) * sizeof *names);
		for (size_t i = 0; i < rc->c->n; i++)
			names[i] = rc->c->v[i].address;
		const char *hint = sf_did_you_mean(addr, names, rc->c->n);
		if (hint)
			sf_diag_error(rc->d, &rc->r->pos, "%s: reference to undeclared resource \"%s\"; did you mean \"%s\"?",
				      rc->r->address, addr, hint);
		else
			sf_diag_error(rc->d, &rc->r->pos, "%s: reference to undeclared resource \"%s\"", rc->r->address, addr);
		free(names);
		return;
	}
	if (t == rc->r) {
		sf_diag_error(rc->d, &rc->r->pos, "%s: refers to itself (${%s.%s})", rc->r->address, addr, attr);
		return;
	}
	char top[256];
	snprintf(top, sizeof top, "%s", attr);
	char *dot = strchr(top, '.');
	if (dot)
		*dot = 0;
	if (strcmp(top, "id") && !sf_rtype_attr(t->type, top)) {
		size_t na = 0;
		while (t->type->attrs[na].name)
			na++;
		const char **names = xmalloc((na + 1) * sizeof *names);
		for (size_t i = 0; i < na; i++)
			names[i] = t->type->attrs[i].name;
		const char *hint = sf_did_you_mean(top, names, na);
		sf_diag_error(rc->d, &rc->r->pos, "%s: reference ${%s.%s}: %s has no attribute \"%s\"%s%s%s",
			      rc->r->address, addr, attr, t->type->name, top, hint ? "; did you mean \"" : "",
			      hint ? hint : "", hint ? "\"?" : "");
		free(names);
		return;
	}
	sf_rinst_add_dep(rc->r, addr);
}

int sf_config_check_set(const struct sf_specset *set, const struct sf_lowering *low, struct sf_diags *d)
{
	size_t before = d->nerrors;
	for (size_t i = 0; i < set->n; i++)
		low->validate(&set->docs[i], d);
	return d->nerrors > before ? -1 : 0;
}

int sf_config_assemble(struct sf_config *out, const struct sf_specset *set, const char *workspace,
		       const struct sf_lowering *low, struct sf_diags *d)
{
	/* 1. Validate every document's envelope and kind schema, so `validate`
	 *    reports all errors in all documents. */
	if (sf_config_check_set(set, low, d) < 0)
		return -1;
	return sf_config_assemble_checked(out, set, workspace, low, d);
}

/* Is some document of set in workspace?  A fleet run asks this once per
 * workspace of a set of hundreds: a lookup in the set's index when it has
 * one (spec.h). */
static int has_workspace(const struct sf_specset *set, const char *workspace)
{
	size_t it = 0;
	return sf_specset_next_named(set, workspace, &it) != SIZE_MAX;
}

int sf_config_assemble_checked(struct sf_config *out, const struct sf_specset *set, const char *workspace,
			       const struct sf_lowering *low, struct sf_diags *d)
{
	size_t before = d->nerrors;
	if (workspace && has_workspace(set, workspace)) {
		out->workspace = xstrdup(workspace);
		out->digest = xstrdup(set->digest ? set->digest : "");
		goto lower;
	}
	const char **ws;
	size_t nws = sf_config_workspaces(set, &ws);
	if (!workspace) {
		if (nws != 1) {
			if (nws == 0)
				sf_diag_error(d, NULL, "no documents with metadata.name found");
			else
				sf_diag_error(d, NULL, "the spec holds %zu workspaces (%s, %s%s); choose one with --workspace NAME",
					      nws, ws[0], ws[1], nws > 2 ? ", ..." : "");
			free(ws);
			return -1;
		}
		workspace = ws[0];
	} else {
		int found = 0;
		for (size_t i = 0; i < nws; i++)
			if (!strcmp(ws[i], workspace))
				found = 1;
		if (!found) {
			const char *hint = sf_did_you_mean(workspace, ws, nws);
			sf_diag_error(d, NULL, "no document has metadata.name \"%s\"%s%s%s", workspace,
				      hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
			free(ws);
			return -1;
		}
	}
	out->workspace = xstrdup(workspace);
	out->digest = xstrdup(set->digest ? set->digest : "");
	free(ws);

lower:
	/* 2. Lower this workspace's documents. */
	for (size_t it = 0, i; (i = sf_specset_next_named(set, workspace, &it)) != SIZE_MAX;) {
		const struct sf_doc *doc = &set->docs[i];
		if (!out->kind) {
			out->kind = xstrdup(sf_node_str(sf_node_get(doc->root, "kind")));
			out->metadata = sf_node_to_json(sf_node_get(doc->root, "metadata"));
		}
		low->lower(doc, out, d);
	}
	if (d->nerrors > before)
		return -1;

	/* 3. Unique addresses. */
	for (size_t i = 0; i < out->n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(out->v[i].address, out->v[j].address)) {
				sf_diag_error(d, &out->v[i].pos, "duplicate resource %s (first declared at %s:%d:%d)",
					      out->v[i].address, out->v[j].pos.file ? out->v[j].pos.file : "?",
					      out->v[j].pos.line, out->v[j].pos.col);
				break;
			}

	/* 4. References → dependencies; explicit dependsOn was added by the
	 *    lowering as "${addr.id}"-free names in deps already. */
	for (size_t i = 0; i < out->n; i++) {
		struct refcheck rc = {out, &out->v[i], d};
		sf_refs_walk(out->v[i].config, check_ref, &rc);
		sf_refs_walk(out->v[i].config, refs_win, &out->v[i]);
		for (size_t j = 0; j < out->v[i].ndeps; j++)
			if (!sf_config_find(out, out->v[i].deps[j]))
				sf_diag_error(d, &out->v[i].pos, "%s: dependsOn names undeclared resource \"%s\"",
					      out->v[i].address, out->v[i].deps[j]);
		if (out->v[i].ndeps)
			qsort(out->v[i].deps, out->v[i].ndeps, sizeof *out->v[i].deps, str_cmp);
	}
	if (d->nerrors > before)
		return -1;

	/* 5. No cycles. */
	size_t *order = NULL;
	char *cycle = NULL;
	if (sf_config_order(out, &order, &cycle) < 0) {
		const struct sf_rinst *first = NULL;
		char addr[256];
		snprintf(addr, sizeof addr, "%s", cycle);
		char *arrow = strstr(addr, " -> ");
		if (arrow)
			*arrow = 0;
		first = sf_config_find(out, addr);
		sf_diag_error(d, first ? &first->pos : NULL, "dependency cycle: %s", cycle);
	}
	free(order);
	free(cycle);
	return d->nerrors > before ? -1 : 0;
}

int sf_config_order(const struct sf_config *c, size_t **order, char **cycle)
{
	const char **names = xmalloc((c->n + 1) * sizeof *names);
	for (size_t i = 0; i < c->n; i++)
		names[i] = c->v[i].address;
	struct sf_graph g;
	sf_graph_init(&g, c->n, names);
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->v[i].ndeps; j++)
			for (size_t k = 0; k < c->n; k++)
				if (!strcmp(c->v[k].address, c->v[i].deps[j]))
					sf_graph_edge(&g, i, k);
	*order = xmalloc((c->n + 1) * sizeof **order);
	int rc = sf_graph_toposort(&g, *order, cycle);
	sf_graph_release(&g);
	free(names);
	return rc;
}

/* ---- serialisation ---- */

/* o[key] = the set as an array of strings; nothing when it is empty. */
static void set_strs(json_t *o, const char *key, const struct sf_strs *v)
{
	if (!v->n)
		return;
	json_t *a = json_array();
	for (size_t j = 0; j < v->n; j++)
		json_array_append_new(a, json_string(v->v[j]));
	json_object_set_new(o, key, a);
}

json_t *sf_config_to_json(const struct sf_config *c)
{
	json_t *res = json_array();
	for (size_t i = 0; i < c->n; i++) {
		const struct sf_rinst *r = &c->v[i];
		json_t *deps = json_array();
		for (size_t j = 0; j < r->ndeps; j++)
			json_array_append_new(deps, json_string(r->deps[j]));
		json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:o}", "address", r->address, "type", r->type->name, "name",
				      r->name, "config", r->config, "deps", deps);
		set_strs(o, "update_only", &r->update_only);
		set_strs(o, "accept_only", &r->accept_only);
		json_array_append_new(res, o);
	}
	return json_pack("{s:s, s:s?, s:s, s:O?, s:o}", "workspace", c->workspace ? c->workspace : "", "kind", c->kind,
			 "digest", c->digest ? c->digest : "", "metadata", c->metadata, "resources", res);
}

int sf_config_from_json(struct sf_config *out, const json_t *j, const struct sf_registry *types,
			struct sf_err *err)
{
	const char *ws = NULL, *kind = NULL, *digest = NULL;
	json_t *res = NULL, *meta = NULL;
	if (json_unpack((json_t *)j, "{s:s, s?s, s:s, s?o, s:o}", "workspace", &ws, "kind", &kind, "digest", &digest,
			"metadata", &meta, "resources", &res) < 0 ||
	    !json_is_array(res))
		return sf_fail(err, SF_ECORRUPT, "plan file: configuration section is malformed");
	out->workspace = xstrdup(ws);
	out->kind = xstrdup(kind);
	out->digest = xstrdup(digest);
	out->metadata = meta ? json_incref(meta) : NULL;
	size_t i;
	json_t *r;
	json_array_foreach(res, i, r) {
		const char *type = NULL, *name = NULL;
		json_t *conf = NULL, *deps = NULL;
		if (json_unpack(r, "{s:s, s:s, s:o, s:o}", "type", &type, "name", &name, "config", &conf, "deps", &deps) < 0)
			return sf_fail(err, SF_ECORRUPT, "plan file: resource %zu is malformed", i);
		const struct sf_rtype *t = sf_registry_find(types, type);
		if (!t)
			return sf_fail(err, SF_ECORRUPT, "plan file: unknown resource type %s (made by another secfaas version?)",
				       type);
		struct sf_rinst *ri = sf_config_add(out, t, name, conf, NULL);
		size_t k;
		json_t *dv;
		json_array_foreach(deps, k, dv) if (json_is_string(dv)) sf_rinst_add_dep(ri, json_string_value(dv));
		json_array_foreach(json_object_get(r, "update_only"), k, dv) if (json_is_string(dv))
			sf_rinst_add_update_dep(ri, json_string_value(dv));
		json_array_foreach(json_object_get(r, "accept_only"), k, dv) if (json_is_string(dv))
			sf_rinst_add_accept_dep(ri, json_string_value(dv));
	}
	return 0;
}
