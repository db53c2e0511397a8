/*
 * plan.c - the diff (see plan.h).
 *
 * Resolution during planning: a reference to a resource that is unchanged
 * or updated in place resolves to its known value; a reference to one being
 * created or replaced resolves only for attributes the spec sets (computed
 * ones are "known after apply"), and so does one to an attribute an update
 * renews (SF_ATTR_NEW_ON_UPDATE) of a resource being updated.  An unknown value on a force-new attribute
 * forces replacement, as in Terraform.
 */
#include "provisioner/engine/plan.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provisioner/engine/ownership.h"
#include "provisioner/engine/refresh.h"
#include "util.h"

const char *sf_action_name(enum sf_action a)
{
	switch (a) {
	case SF_ACT_NOOP: return "no-op";
	case SF_ACT_CREATE: return "create";
	case SF_ACT_UPDATE: return "update";
	case SF_ACT_REPLACE: return "replace";
	case SF_ACT_REPLACE_CBD: return "replace";
	case SF_ACT_DELETE: return "delete";
	}
	return "?";
}

const char *sf_reason_name(enum sf_reason r)
{
	switch (r) {
	case SF_REASON_NONE: return NULL;
	case SF_REASON_CANNOT_UPDATE: return "cannot_update";
	case SF_REASON_TAINTED: return "tainted";
	case SF_REASON_BY_REQUEST: return "by_request";
	case SF_REASON_RESUME: return "resume";
	case SF_REASON_GONE: return "deleted_outside";
	case SF_REASON_NO_CONFIG: return "no_config";
	case SF_REASON_DESTROY: return "destroy";
	case SF_REASON_DEPOSED: return "deposed";
	}
	return NULL;
}

static void change_release(struct sf_change *c)
{
	free(c->address);
	free(c->deposed_key);
	json_decref(c->before);
	json_decref(c->after);
	for (size_t i = 0; i < c->nattrs; i++) {
		free(c->attrs[i].name);
		json_decref(c->attrs[i].before);
		json_decref(c->attrs[i].after);
	}
	free(c->attrs);
	for (size_t i = 0; i < c->ndeps; i++)
		free(c->deps[i]);
	free(c->deps);
	sf_strs_free(&c->update_only);
	sf_strs_free(&c->accept_only);
	json_decref(c->sens);
}

int sf_change_waits_for(const struct sf_change *c, const char *addr)
{
	int dep = 0;
	for (size_t i = 0; i < c->ndeps && !dep; i++)
		dep = !strcmp(c->deps[i], addr);
	if (!dep || c->action != SF_ACT_CREATE)
		return dep;
	return !sf_strs_has(&c->update_only, addr);
}

int sf_change_accepts(const struct sf_change *c, const char *addr)
{
	return c->action == SF_ACT_CREATE && sf_strs_has(&c->accept_only, addr);
}

int sf_change_sensitive(const struct sf_change *c, const char *name)
{
	const struct sf_attr_def *a = c->type ? sf_rtype_attr(c->type, name) : NULL;
	return (a && (a->flags & SF_ATTR_SENSITIVE)) || json_is_true(json_object_get(c->sens, name));
}

void sf_plan_release(struct sf_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		change_release(&plan->v[i]);
	free(plan->v);
	for (size_t i = 0; i < plan->ndrift; i++) {
		free(plan->drift[i].address);
		free(plan->drift[i].what);
	}
	free(plan->drift);
	for (size_t i = 0; i < plan->nwarnings; i++) {
		free(plan->warnings[i].address);
		free(plan->warnings[i].what);
	}
	free(plan->warnings);
	free(plan->spec_digest);
	memset(plan, 0, sizeof *plan);
}

int sf_plan_has_changes(const struct sf_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].action != SF_ACT_NOOP)
			return 1;
	return 0;
}

const struct sf_change *sf_plan_find(const struct sf_plan *plan, const char *address)
{
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->v[i].address, address))
			return &plan->v[i];
	return NULL;
}

void sf_plan_count(struct sf_plan *plan)
{
	plan->add = plan->change = plan->destroy = plan->kept = 0;
	for (size_t i = 0; i < plan->n; i++) {
		struct sf_change *c = &plan->v[i];
		int replace = c->action == SF_ACT_REPLACE || c->action == SF_ACT_REPLACE_CBD;
		c->keep_old = replace && c->type && c->type->keep_replaced &&
			      (c->reason == SF_REASON_CANNOT_UPDATE || c->reason == SF_REASON_BY_REQUEST);
		switch (c->action) {
		case SF_ACT_CREATE: plan->add++; break;
		case SF_ACT_UPDATE: plan->change++; break;
		case SF_ACT_REPLACE:
		case SF_ACT_REPLACE_CBD:
			plan->add++;
			if (c->keep_old)
				plan->kept++;
			else
				plan->destroy++;
			break;
		case SF_ACT_DELETE: plan->destroy++; break;
		case SF_ACT_NOOP: break;
		}
	}
}

static struct sf_change *plan_add(struct sf_plan *plan, const char *address, const struct sf_rtype *t)
{
	plan->v = xrealloc(plan->v, (plan->n + 1) * sizeof *plan->v);
	struct sf_change *c = &plan->v[plan->n++];
	memset(c, 0, sizeof *c);
	c->address = xstrdup(address);
	c->type = t;
	return c;
}

/* rctx.warn during plan_review: ctx.engine is the plan. */
static void warn_add(struct sf_rctx *c, const char *msg)
{
	struct sf_plan *plan = c->engine;
	plan->warnings = xrealloc(plan->warnings, (plan->nwarnings + 1) * sizeof *plan->warnings);
	plan->warnings[plan->nwarnings].address = xstrdup(c->address);
	plan->warnings[plan->nwarnings].what = xstrdup(msg);
	plan->nwarnings++;
}

static void drift_add(struct sf_plan *plan, const char *address, const char *fmt, const char *arg)
{
	plan->drift = xrealloc(plan->drift, (plan->ndrift + 1) * sizeof *plan->drift);
	plan->drift[plan->ndrift].address = xstrdup(address);
	plan->drift[plan->ndrift].what = xasprintf(fmt, arg);
	plan->ndrift++;
}

static void attr_add(struct sf_change *c, const char *name, const json_t *before, const json_t *after, int unknown,
		     int forces, int sensitive)
{
	c->attrs = xrealloc(c->attrs, (c->nattrs + 1) * sizeof *c->attrs);
	struct sf_attr_change *a = &c->attrs[c->nattrs++];
	a->name = xstrdup(name);
	a->before = before ? json_deep_copy(before) : NULL;
	a->after = after && !unknown ? json_deep_copy(after) : NULL;
	a->unknown = unknown;
	a->forces = forces;
	a->sensitive = sensitive || sf_change_sensitive(c, name);
}

/* ---- sensitivity of values that use secrets ----
 * A value built from a sensitive attribute (`content: "${k8s_basic_auth.x.
 * password}"`) is as secret as it, though its own attribute is not flagged:
 * otherwise plan would print the resolved secret.  Resources are planned in
 * dependency order, so a reference to such a derived value is seen too. */

struct sens_walk {
	const struct sf_config *cfg;
	const struct sf_plan *plan;
	int hit;
};

static void sens_ref(const char *addr, const char *attr, void *ctx)
{
	struct sens_walk *w = ctx;
	char top[256];
	snprintf(top, sizeof top, "%s", attr);
	top[strcspn(top, ".[")] = 0;
	const struct sf_rinst *t = sf_config_find(w->cfg, addr);
	const struct sf_attr_def *a = t ? sf_rtype_attr(t->type, top) : NULL;
	const struct sf_change *pc = sf_plan_find(w->plan, addr);
	if ((a && (a->flags & SF_ATTR_SENSITIVE)) || (pc && json_is_true(json_object_get(pc->sens, top))))
		w->hit = 1;
}

/* The state row's own list: what was sealed when it was written stays
 * secret in every plan that shows the row (a destroy, a removed resource,
 * a spec that no longer uses the secret). */
static void mark_row_sensitive(struct sf_change *c, const struct sf_resource *r)
{
	size_t i;
	json_t *v;
	json_array_foreach(r->sensitive, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (!c->sens)
			c->sens = json_object();
		json_object_set_new(c->sens, json_string_value(v), json_true());
	}
}

static void mark_sensitive_refs(struct sf_change *c, const struct sf_config *cfg, const struct sf_plan *plan,
				const json_t *config)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)config, k, v)
	{
		struct sens_walk w = {cfg, plan, 0};
		sf_refs_walk(v, sens_ref, &w);
		if (!w.hit)
			continue;
		if (!c->sens)
			c->sens = json_object();
		json_object_set_new(c->sens, k, json_true());
	}
}

static void deps_copy(struct sf_change *c, char **deps, size_t n)
{
	c->deps = xcalloc(n ? n : 1, sizeof *c->deps);
	for (size_t i = 0; i < n; i++)
		c->deps[i] = xstrdup(deps[i]);
	c->ndeps = n;
}

static void deps_from_json(struct sf_change *c, const json_t *a)
{
	size_t n = json_array_size(a);
	c->deps = xcalloc(n ? n : 1, sizeof *c->deps);
	for (size_t i = 0; i < n; i++)
		if (json_is_string(json_array_get(a, i)))
			c->deps[c->ndeps++] = xstrdup(json_string_value(json_array_get(a, i)));
}

/* Lookup for reference resolution during planning. */
struct plan_lookup {
	struct sf_plan *plan;
};

static const json_t *plan_ref(const char *addr, const char *attr, void *ctx)
{
	struct plan_lookup *pl = ctx;
	const struct sf_change *c = sf_plan_find(pl->plan, addr);
	if (!c)
		return NULL;
	int fresh = c->action == SF_ACT_CREATE || c->action == SF_ACT_REPLACE || c->action == SF_ACT_REPLACE_CBD;
	const json_t *v = NULL;
	if (c->after)
		v = json_object_get(c->after, attr);
	if (v && !json_is_null(v))
		return v; /* set in the spec: known now */
	if (fresh)
		return NULL;
	/* updated in place: what the update itself renews (a launch template's
	 * latest version) is known only after apply, so what uses it changes too */
	const struct sf_attr_def *ad = c->action == SF_ACT_UPDATE && c->type ? sf_rtype_attr(c->type, attr) : NULL;
	if (ad && (ad->flags & SF_ATTR_NEW_ON_UPDATE))
		return NULL;
	return c->before ? json_object_get(c->before, attr) : NULL;
}

static int in_list(const char *s, const char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, v[i]))
			return 1;
	return 0;
}

/* Unresolved references become JSON null in `after` (specs never hold null
 * values), so any null inside a value means part of it is known only after
 * apply, e.g. a list of subnet ids still being created. */
static int has_unknown(const json_t *v)
{
	if (!v || json_is_null(v))
		return v != NULL;
	size_t i;
	const char *k;
	json_t *x;
	if (json_is_array(v))
		json_array_foreach(v, i, x) if (has_unknown(x)) return 1;
	if (json_is_object(v))
		json_object_foreach((json_t *)v, k, x) if (has_unknown(x)) return 1;
	return 0;
}

/* Compare desired vs before attribute by attribute; fill c->attrs and the action. */
static void diff_attrs(struct sf_change *c, int unknown_any)
{
	(void)unknown_any;
	int forces = 0, changes = 0;
	for (const struct sf_attr_def *a = c->type->attrs; a->name; a++) {
		int settable = a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL);
		if (!settable || (a->flags & SF_ATTR_IGNORE_DRIFT))
			continue;
		const json_t *want = json_object_get(c->after, a->name);
		const json_t *have = c->before ? json_object_get(c->before, a->name) : NULL;
		int unknown = has_unknown(want);
		if (!want && (a->flags & SF_ATTR_COMPUTED))
			continue; /* optional+computed: provider default kept */
		if (!unknown && ((!want && !have) || (want && have && json_equal(want, have))))
			continue;
		int f = (a->flags & SF_ATTR_FORCE_NEW) || !c->type->update;
		attr_add(c, a->name, have, want, unknown, f, (a->flags & SF_ATTR_SENSITIVE) != 0);
		changes++;
		forces |= f;
	}
	if (forces) {
		c->action = c->type->create_before_destroy ? SF_ACT_REPLACE_CBD : SF_ACT_REPLACE;
		c->reason = SF_REASON_CANNOT_UPDATE;
	} else if (changes) {
		c->action = SF_ACT_UPDATE;
	}
}

/* For create/replace output: list every desired attribute as a change. */
static void all_attrs(struct sf_change *c)
{
	for (const struct sf_attr_def *a = c->type->attrs; a->name; a++) {
		const json_t *want = c->after ? json_object_get(c->after, a->name) : NULL;
		const json_t *have = c->before ? json_object_get(c->before, a->name) : NULL;
		int settable = a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL);
		if (c->action == SF_ACT_DELETE) {
			if (have)
				attr_add(c, a->name, have, NULL, 0, 0, (a->flags & SF_ATTR_SENSITIVE) != 0);
			continue;
		}
		if (!settable) {
			attr_add(c, a->name, have, NULL, 1, 0, (a->flags & SF_ATTR_SENSITIVE) != 0);
			continue;
		}
		if (!want)
			continue;
		int unknown = has_unknown(want);
		int f = have && !json_equal(want, have) && ((a->flags & SF_ATTR_FORCE_NEW) || !c->type->update);
		attr_add(c, a->name, have, want, unknown, f, (a->flags & SF_ATTR_SENSITIVE) != 0);
	}
}

/* The rows of st a refresh reads, in configuration order: each recorded
 * (created) object the spec still has, whose type can read.  Owned array. */
static struct sf_refresh_item *refresh_items(const struct sf_config *cfg, const size_t *order,
					     struct sf_resource **res, size_t nres, size_t *n)
{
	struct sf_refresh_item *v = xcalloc(cfg->n + 1, sizeof *v);
	*n = 0;
	for (size_t oi = 0; oi < cfg->n; oi++) {
		const struct sf_rinst *ri = &cfg->v[order ? order[oi] : oi];
		for (size_t i = 0; i < nres; i++)
			if (!strcmp(res[i]->address, ri->address) && res[i]->status == SF_RS_CREATED &&
			    !strcmp(res[i]->type, ri->type->name) && ri->type->read) {
				v[*n].type = ri->type;
				v[(*n)++].row = res[i];
			}
	}
	return v;
}

static struct sf_refresh_item *item_of(struct sf_refresh_item *v, size_t n, const struct sf_resource *r)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].row == r)
			return &v[i];
	return NULL;
}

/* Judge one refreshed object (its read and, for name-keyed types, its
 * ownership marks were made beforehand, side by side: refresh.h). */
static int refresh_one(struct sf_change *c, const struct sf_resource *r, struct sf_refresh_item *it,
		       struct sf_plan *plan, json_t **live, struct sf_err *err)
{
	if (!it)
		return 0;
	int rc = it->rc;
	*live = it->live;
	it->live = NULL;
	if (rc == SF_ENOTFOUND) {
		json_decref(*live);
		*live = NULL;
		drift_add(plan, c->address, "%s", "deleted outside secfaas");
		return SF_ENOTFOUND;
	}
	if (rc < 0) {
		*err = it->err;
		sf_err_prefix(err, "refreshing %s: ", c->address);
		return rc;
	}
	/* A name-keyed object may have been deleted and its name taken by
	 * someone else: then ours is gone, and theirs is never diffed,
	 * updated or deleted (resource.h, the ownership rule). */
	if (it->marked) {
		int m = it->mrc;
		json_t *tags = it->mtags;
		int foreign = m == 0 && !sf_own_is_ours(tags, plan->lineage, c->address, r->token);
		if (m == SF_ENOTFOUND || foreign) {
			char *who = foreign ? sf_own_owner(tags) : NULL;
			if (foreign)
				drift_add(plan, c->address, "deleted outside secfaas; its name is now taken by %s", who);
			else
				drift_add(plan, c->address, "%s", "deleted outside secfaas");
			free(who);
		}
		if (m == SF_ENOTFOUND || foreign) {
			json_decref(*live);
			*live = NULL;
			return SF_ENOTFOUND;
		}
		if (m < 0) {
			json_decref(*live);
			*live = NULL;
			*err = it->merr;
			sf_err_prefix(err, "refreshing %s: cannot prove ownership: ", c->address);
			return m;
		}
	}
	for (const struct sf_attr_def *a = c->type->attrs; a->name; a++) {
		if (!(a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL)) || (a->flags & SF_ATTR_IGNORE_DRIFT))
			continue;
		const json_t *x = json_object_get(r->attrs, a->name), *y = json_object_get(*live, a->name);
		/* A type whose drift is a verdict (k8s_gvisor_guard's compliant)
		 * says why in a computed "drift" string; show it. */
		const char *why = json_string_value(json_object_get(*live, "drift"));
		if ((x || y) && !(x && y && json_equal(x, y))) {
			char *what = why && *why ? xasprintf("%s changed outside secfaas (%s)", a->name, why)
						 : xasprintf("%s changed outside secfaas", a->name);
			drift_add(plan, c->address, "%s", what);
			free(what);
		}
	}
	return 0;
}

/* Old objects of create-before-destroy replacements whose destroy did not
 * happen (killed, or failed): apply records them under "deposed:<addr>#<id>"
 * before creating the new object.  Each becomes a delete of its own, after
 * whatever the same address does and before the deletion of what it
 * depended on (the deps of the address's current row). */
static int plan_deposed(struct sf_plan *plan, struct sf_state *st, const struct sf_registry *types,
			struct sf_resource **res, size_t nres, struct sf_err *err)
{
	char **keys = NULL, **vals = NULL;
	size_t n = 0;
	if (sf_state_meta_list(st, SF_DEPOSED_PREFIX, &keys, &vals, &n, err) < 0)
		return err->code;
	for (size_t i = 0; i < n; i++) {
		json_t *attrs = vals[i][0] ? json_loads(vals[i], 0, NULL) : NULL;
		char *addr = xstrdup(keys[i] + strlen(SF_DEPOSED_PREFIX)), *hash = strrchr(addr, '#');
		if (hash)
			*hash = 0;
		char *dot = strchr(addr, '.');
		char *tname = dot ? xstrndup(addr, (size_t)(dot - addr)) : xstrdup(addr);
		const struct sf_rtype *t = sf_registry_find(types, tname);
		if (json_is_object(attrs) && t) {
			struct sf_change *c = plan_add(plan, addr, t);
			c->action = SF_ACT_DELETE;
			c->reason = SF_REASON_DEPOSED;
			c->before = json_incref(attrs);
			c->deposed_key = xstrdup(keys[i]);
			for (size_t r = 0; r < nres; r++)
				if (!strcmp(res[r]->address, addr))
					deps_from_json(c, res[r]->deps);
			all_attrs(c);
		}
		json_decref(attrs);
		free(tname);
		free(addr);
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	return 0;
}

static int plan_destroy(struct sf_plan *plan, const struct sf_registry *types, struct sf_resource **res, size_t nres)
{
	for (size_t i = 0; i < nres; i++) {
		const struct sf_rtype *t = sf_registry_find(types, res[i]->type);
		struct sf_change *c = plan_add(plan, res[i]->address, t);
		c->action = SF_ACT_DELETE;
		c->reason = SF_REASON_DESTROY;
		c->before = json_incref(res[i]->attrs);
		c->has_prior = 1;
		c->prior_status = res[i]->status;
		deps_from_json(c, res[i]->deps);
		mark_row_sensitive(c, res[i]);
		all_attrs(c);
	}
	return 0;
}

/* 1 when c lives inside a parent (own->deleted_with: an access entry or
 * add-on in its EKS cluster) that this plan creates from nothing: no state
 * row, no interrupted create.  Nothing can be in a parent that does not
 * exist yet, so there is no name to check; a parent of that name that
 * exists after all is someone else's, and the parent's own check refuses
 * it (or its create does). */
static int parent_is_new(const struct sf_plan *plan, const struct sf_change *c, const struct sf_own *own)
{
	if (!own->deleted_with)
		return 0;
	for (size_t i = 0; i < c->ndeps; i++) {
		const struct sf_change *p = sf_plan_find(plan, c->deps[i]);
		if (p && p->type && !strcmp(p->type->name, own->deleted_with) && p->action == SF_ACT_CREATE &&
		    p->reason == SF_REASON_NONE && !p->has_prior)
			return 1;
	}
	return 0;
}

/* A planned create of a name-keyed object whose name someone else already
 * owns fails the plan, before anything is made (the same refusal create
 * would give).  Whatever cannot be checked now (no credentials, a name
 * known only after apply) is left to create. */
static int own_precheck(struct sf_plan *plan, struct sf_change *c, struct sf_resource **res, size_t nres,
			const struct sf_plan_opts *opts, struct sf_err *err)
{
	const struct sf_own *own = sf_own_of(c->type);
	if (!own || own->kind != SF_OWN_TAGS || !own->marks || !c->after ||
	    (c->action != SF_ACT_CREATE && c->action != SF_ACT_REPLACE && c->action != SF_ACT_REPLACE_CBD))
		return 0;
	if (parent_is_new(plan, c, own))
		return 0;
	const char *token = NULL;
	for (size_t i = 0; i < nres; i++)
		if (!strcmp(res[i]->address, c->address))
			token = res[i]->token;
	struct sf_err e = SF_ERR_INIT;
	volatile int cancel = 0;
	struct sf_rctx ctx = {.address = c->address, .token = token, .err = &e, .provider = opts->providers,
			      .cancel = &cancel, .name_check = 1};
	char *id = NULL;
	json_t *tags = NULL;
	int rc = 0;
	if (own->marks(&ctx, c->after, &id, &tags) == 0 &&
	    !sf_own_is_ours(tags, plan->lineage, c->address, token))
		rc = sf_own_refuse(err, c->address, own, id, tags, "already exists");
	free(id);
	json_decref(tags);
	return rc;
}

/* The type's plan_resolve on what c will send (resource.h): before the
 * diff, and before later changes resolve their references to it. */
static int resolve_after(struct sf_change *c, const struct sf_plan_opts *opts, struct sf_err *err)
{
	if (!c->type || !c->type->plan_resolve || !c->after || opts->refresh_only)
		return 0;
	volatile int cancel = 0;
	struct sf_rctx ctx = {.address = c->address, .err = err, .provider = opts->refresh ? opts->providers : NULL,
			      .cancel = &cancel};
	const json_t *before = c->action == SF_ACT_CREATE && c->reason != SF_REASON_RESUME ? NULL : c->before;
	if (c->type->plan_resolve(&ctx, before, c->after) < 0) {
		if (!err->code)
			sf_fail(err, SF_EINVAL, "%s: plan-time resolution failed", c->address);
		return -1;
	}
	return 0;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct sf_change *)a)->address, ((const struct sf_change *)b)->address);
}

int sf_plan_make(struct sf_plan *plan, const struct sf_config *cfg, struct sf_state *st,
		 const struct sf_plan_opts *opts, struct sf_err *err)
{
	int rc = -1;
	struct sf_resource **res = NULL;
	size_t nres = 0, *order = NULL, nitems = 0;
	struct sf_refresh_item *items = NULL;
	char *cycle = NULL;
	memset(plan, 0, sizeof *plan);
	/* st NULL: a workspace with no state yet, planned against nothing */
	const char *lineage = st ? sf_state_lineage(st) : NULL;
	snprintf(plan->lineage, sizeof plan->lineage, "%s", lineage ? lineage : "");
	plan->serial = st ? sf_state_serial_seen(st) : 0;
	plan->spec_digest = xstrdup(cfg->digest ? cfg->digest : "");
	plan->destroy_mode = opts->destroy;
	plan->refresh_only = opts->refresh_only;
	sf_time_rfc3339(plan->created, sizeof plan->created, sf_now());
	if (!opts->types) {
		sf_fail(err, SF_ERROR, "internal: a plan needs the resource type registry");
		goto done;
	}
	if (st && sf_state_list(st, &res, &nres, err) < 0)
		goto done;
	for (size_t i = 0; i < nres; i++)
		if (!sf_registry_find(opts->types, res[i]->type)) {
			sf_fail(err, SF_ECORRUPT, "state holds %s of type %s, which this secfaas does not know",
				res[i]->address, res[i]->type);
			sf_err_hint(err, "use the secfaas version that wrote it, or `secfaas state rm %s`", res[i]->address);
			goto done;
		}
	if (opts->destroy) {
		plan_destroy(plan, opts->types, res, nres);
		goto summarise;
	}
	if (sf_config_order(cfg, &order, &cycle) < 0) {
		sf_fail(err, SF_EINVAL, "dependency cycle: %s", cycle);
		goto done;
	}
	struct plan_lookup pl = {plan};
	/* Every read of the refresh first, batched and side by side. */
	if (opts->refresh || opts->refresh_only) {
		items = refresh_items(cfg, order, res, nres, &nitems);
		sf_refresh_read(items, nitems, opts->providers, opts->parallelism);
	}
	for (size_t oi = 0; oi < cfg->n; oi++) {
		const struct sf_rinst *ri = &cfg->v[order[oi]];
		const struct sf_resource *r = NULL;
		for (size_t i = 0; i < nres; i++)
			if (!strcmp(res[i]->address, ri->address))
				r = res[i];
		struct sf_change *c = plan_add(plan, ri->address, ri->type);
		deps_copy(c, ri->deps, ri->ndeps);
		for (size_t k = 0; k < ri->update_only.n; k++)
			sf_strs_add(&c->update_only, ri->update_only.v[k]);
		for (size_t k = 0; k < ri->accept_only.n; k++)
			sf_strs_add(&c->accept_only, ri->accept_only.v[k]);
		int unknown = 0;
		c->after = sf_refs_resolve(ri->config, plan_ref, &pl, &unknown);
		mark_sensitive_refs(c, cfg, plan, ri->config);
		if (r && strcmp(r->type, ri->type->name)) {
			sf_fail(err, SF_ECONFLICT, "%s is a %s in state but a %s in the spec", ri->address, r->type,
				ri->type->name);
			goto done;
		}
		if (!r) {
			c->action = SF_ACT_CREATE;
			if (resolve_after(c, opts, err) < 0)
				goto done;
			all_attrs(c);
			continue;
		}
		c->has_prior = 1;
		c->prior_status = r->status;
		c->before = json_incref(r->attrs);
		mark_row_sensitive(c, r);
		switch (r->status) {
		case SF_RS_CREATING:
			c->action = SF_ACT_CREATE;
			c->reason = SF_REASON_RESUME;
			if (resolve_after(c, opts, err) < 0)
				goto done;
			all_attrs(c);
			continue;
		case SF_RS_DELETING:
		case SF_RS_TAINTED:
		case SF_RS_LEAKED:
			c->action = ri->type->create_before_destroy ? SF_ACT_REPLACE_CBD : SF_ACT_REPLACE;
			c->reason = r->status == SF_RS_DELETING ? SF_REASON_RESUME : SF_REASON_TAINTED;
			if (resolve_after(c, opts, err) < 0)
				goto done;
			all_attrs(c);
			continue;
		case SF_RS_CREATED:
			break;
		}
		if (opts->refresh || opts->refresh_only) {
			json_t *live = NULL;
			int x = refresh_one(c, r, item_of(items, nitems, r), plan, &live, err);
			if (x == SF_ENOTFOUND) {
				json_decref(c->before);
				c->before = NULL;
				c->has_prior = 0;
				c->action = SF_ACT_CREATE;
				c->reason = SF_REASON_GONE;
				if (resolve_after(c, opts, err) < 0)
					goto done;
				all_attrs(c);
				continue;
			}
			if (x < 0)
				goto done;
			if (live) {
				json_decref(c->before);
				c->before = live;
			}
		}
		if (resolve_after(c, opts, err) < 0)
			goto done;
		diff_attrs(c, unknown);
		if (in_list(c->address, opts->replace, opts->nreplace) && c->action != SF_ACT_CREATE) {
			c->action = ri->type->create_before_destroy ? SF_ACT_REPLACE_CBD : SF_ACT_REPLACE;
			c->reason = SF_REASON_BY_REQUEST;
		}
		if (c->action == SF_ACT_REPLACE || c->action == SF_ACT_REPLACE_CBD) {
			/* show the full picture for replacements */
			for (size_t i = 0; i < c->nattrs; i++) {
				free(c->attrs[i].name);
				json_decref(c->attrs[i].before);
				json_decref(c->attrs[i].after);
			}
			free(c->attrs);
			c->attrs = NULL;
			c->nattrs = 0;
			all_attrs(c);
		}
	}
	for (size_t i = 0; i < nres; i++) {
		if (sf_config_find(cfg, res[i]->address))
			continue;
		struct sf_change *c = plan_add(plan, res[i]->address, sf_registry_find(opts->types, res[i]->type));
		c->action = SF_ACT_DELETE;
		c->reason = SF_REASON_NO_CONFIG;
		c->before = json_incref(res[i]->attrs);
		c->has_prior = 1;
		c->prior_status = res[i]->status;
		deps_from_json(c, res[i]->deps);
		mark_row_sensitive(c, res[i]);
		all_attrs(c);
	}
	if (opts->refresh_only)
		for (size_t i = 0; i < plan->n; i++)
			plan->v[i].action = SF_ACT_NOOP;
	/* Live checks some types need before anything is changed. */
	for (size_t i = 0; opts->refresh && !opts->refresh_only && i < plan->n; i++) {
		struct sf_change *c = &plan->v[i];
		if (!c->type || c->action == SF_ACT_NOOP || c->action == SF_ACT_DELETE)
			continue;
		if (own_precheck(plan, c, res, nres, opts, err) < 0)
			goto done;
		if (!c->type->plan_check)
			continue;
		volatile int cancel = 0;
		struct sf_rctx ctx = {.address = c->address, .err = err, .provider = opts->providers, .cancel = &cancel};
		if (c->type->plan_check(&ctx, c->after) < 0) {
			if (!err->code)
				sf_fail(err, SF_EINVAL, "%s: plan-time check failed", c->address);
			goto done;
		}
	}
	for (size_t i = 0; opts->refresh && !opts->refresh_only && i < plan->n; i++) {
		struct sf_change *c = &plan->v[i];
		if (!c->type || !c->type->plan_review || c->action == SF_ACT_DELETE)
			continue;
		volatile int cancel = 0;
		struct sf_rctx ctx = {.address = c->address, .err = err, .provider = opts->providers, .cancel = &cancel,
				      .engine = plan, .warn = warn_add};
		if (c->type->plan_review(&ctx, c->action == SF_ACT_CREATE ? NULL : c->before, c->after) < 0) {
			if (!err->code)
				sf_fail(err, SF_EINVAL, "%s: plan-time review failed", c->address);
			goto done;
		}
	}
	if (opts->ntargets) {
		/* keep targets and, transitively, what they depend on */
		int *keep = xcalloc(plan->n, sizeof *keep);
		int grew = 1;
		for (size_t i = 0; i < plan->n; i++)
			keep[i] = in_list(plan->v[i].address, opts->targets, opts->ntargets);
		while (grew) {
			grew = 0;
			for (size_t i = 0; i < plan->n; i++)
				for (size_t j = 0; keep[i] && j < plan->v[i].ndeps; j++)
					for (size_t k = 0; k < plan->n; k++)
						if (!keep[k] && !strcmp(plan->v[k].address, plan->v[i].deps[j]))
							keep[k] = grew = 1;
		}
		for (size_t i = 0; i < plan->n; i++)
			if (!keep[i])
				plan->v[i].action = SF_ACT_NOOP;
		free(keep);
	}
summarise:
	if (st && !plan->refresh_only && plan_deposed(plan, st, opts->types, res, nres, err) < 0)
		goto done;
	if (plan->n) /* qsort(NULL, 0) is undefined */
		qsort(plan->v, plan->n, sizeof *plan->v, cmp_change);
	sf_plan_count(plan);
	rc = 0;
done:
	sf_refresh_release(items, nitems);
	free(items);
	sf_resource_list_free(res, nres);
	free(order);
	free(cycle);
	if (rc < 0)
		plan->errored = 1;
	return rc;
}

int sf_plan_prefetch(const struct sf_config *cfg, struct sf_state *st, const struct sf_plan_opts *opts,
		     struct sf_err *err)
{
	struct sf_resource **res = NULL;
	size_t nres = 0, n = 0;
	if (!st || opts->destroy || !(opts->refresh || opts->refresh_only))
		return 0;
	if (sf_state_list(st, &res, &nres, err) < 0)
		return err->code;
	struct sf_refresh_item *v = refresh_items(cfg, NULL, res, nres, &n);
	sf_refresh_batch(v, n, opts->providers, opts->parallelism);
	free(v);
	sf_resource_list_free(res, nres);
	return 0;
}
