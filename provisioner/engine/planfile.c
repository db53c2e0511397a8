/*
 * planfile.c - saved plans (`plan --out F`, `apply F`).
 *
 * A plan file is versioned JSON written 0600: tool version, the state's
 * lineage and serial when planned, the configuration snapshot (so apply
 * needs no spec), and the changes.  Apply refuses a file from another
 * secfaas version, another state (lineage), a state that changed since
 * (serial), or an errored plan, as Terraform does; those checks are in
 * cmd_apply.c because they need the open state.
 *
 * No secret is in a plan file in clear, so the file can be kept as a CI
 * artifact (docs/ci-workflow.md says what it holds):
 *   - sensitive values the configuration sets (a static API token, a
 *     test_object secret) are needed by apply: they are sealed with the
 *     state's key, AAD "plan:<lineage>:<address>" + attribute, and opened
 *     by sf_plan_unseal once apply holds that state;
 *   - the changes' before/after values of sensitive attributes (generated
 *     passwords, the webhook's CA and TLS keys, values built from them) are
 *     only for display, and apply reads prior values from the state: they
 *     are replaced by markers that keep whether a value is set and whether
 *     it changes, nothing else.
 * The file is still written 0600: it holds the configuration and the
 * resource ids.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/plan.h"
#include "util.h"

#define PLAN_FORMAT "secfaas-plan"
#define PLAN_FORMAT_VERSION 2 /* 2: secrets sealed or left out */
#define REDACTED "$sensitive"

/* The address a sealed configuration value is bound to (not a state row's). */
static char *seal_address(const char *lineage, const char *address)
{
	return xasprintf("plan:%s:%s", lineage, address);
}

/* Names of the type's sensitive attributes present in conf, or NULL. */
static json_t *sensitive_names(const struct sf_rtype *t, const json_t *conf)
{
	json_t *names = NULL;
	for (const struct sf_attr_def *a = t ? t->attrs : NULL; a && a->name; a++) {
		if (!(a->flags & SF_ATTR_SENSITIVE) || !json_object_get(conf, a->name))
			continue;
		if (!names)
			names = json_array();
		json_array_append_new(names, json_string(a->name));
	}
	return names;
}

/* The configuration snapshot with every sensitive value sealed. */
static json_t *config_sealed(const struct sf_config *cfg, const char *lineage, struct sf_state *st,
			     struct sf_err *err)
{
	json_t *j = sf_config_to_json(cfg);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(j, "resources"), i, r)
	{
		const struct sf_rtype *t = cfg->v[i].type; /* sf_config_to_json keeps the order */
		json_t *names = sensitive_names(t, json_object_get(r, "config"));
		if (!names)
			continue;
		json_t *conf = json_deep_copy(json_object_get(r, "config")); /* not the live config */
		char *addr = seal_address(lineage, json_string_value(json_object_get(r, "address")));
		int rc = st ? sf_state_seal_attrs(st, addr, conf, names, err)
			    : sf_fail(err, SF_EINVAL, "a plan with sensitive values needs its state to seal them");
		free(addr);
		json_decref(names);
		json_object_set_new(r, "config", conf);
		if (rc < 0) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/* A display marker for a secret: equal markers for equal values, so a plan
 * read back still tells "changes" from "stays". */
static json_t *marker(const char *which)
{
	return json_pack("{s:s}", REDACTED, which);
}

/* Copy of attrs with the change's sensitive attributes replaced by markers. */
static json_t *redact(const struct sf_change *c, const json_t *attrs, const char *which)
{
	if (!attrs)
		return NULL;
	json_t *o = json_deep_copy(attrs);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o, tmp, k, v) if (sf_change_sensitive(c, k)) json_object_set_new(o, k, marker(which));
	return o;
}

static json_t *strv(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* Add each string of the array a (if it is one) to the set. */
static void strs_load(struct sf_strs *v, const json_t *a)
{
	for (size_t k = 0; k < json_array_size(a); k++)
		if (json_is_string(json_array_get(a, k)))
			sf_strs_add(v, json_string_value(json_array_get(a, k)));
}

int sf_plan_save(const struct sf_plan *plan, const struct sf_config *cfg, struct sf_state *st, const char *path,
		 struct sf_err *err)
{
	json_t *config = config_sealed(cfg, plan->lineage, st, err);
	if (!config)
		return err->code;
	json_t *changes = json_array();
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *c = &plan->v[i];
		json_t *attrs = json_array();
		for (size_t k = 0; k < c->nattrs; k++) {
			const struct sf_attr_change *a = &c->attrs[k];
			json_t *b = a->before, *af = a->after;
			if (a->sensitive) {
				b = a->before ? marker("before") : NULL;
				af = !a->after ? NULL : a->before && json_equal(a->before, a->after) ? marker("before")
												: marker("after");
			} else {
				json_incref(b);
				json_incref(af);
			}
			json_array_append_new(attrs, json_pack("{s:s, s:o?, s:o?, s:b, s:b, s:b}", "name", a->name, "before",
							       b, "after", af, "unknown", a->unknown, "forces", a->forces,
							       "sensitive", a->sensitive));
		}
		json_array_append_new(changes,
				      json_pack("{s:s, s:s, s:i, s:i, s:o?, s:o?, s:o, s:o, s:b, s:i}", "address", c->address,
						"type", c->type ? c->type->name : "", "action", (int)c->action, "reason",
						(int)c->reason, "before", redact(c, c->before, "before"), "after",
						redact(c, c->after, "after"), "attrs", attrs, "deps", strv(c->deps, c->ndeps),
						"has_prior", c->has_prior, "prior_status", (int)c->prior_status));
		json_t *last = json_array_get(changes, json_array_size(changes) - 1);
		if (c->deposed_key)
			json_object_set_new(last, "deposed_key", json_string(c->deposed_key));
		if (c->sens)
			json_object_set(last, "sensitive_refs", c->sens);
		if (c->update_only.n)
			json_object_set_new(last, "update_only", strv(c->update_only.v, c->update_only.n));
		if (c->accept_only.n)
			json_object_set_new(last, "accept_only", strv(c->accept_only.v, c->accept_only.n));
	}
	json_t *drift = json_array();
	for (size_t i = 0; i < plan->ndrift; i++)
		json_array_append_new(drift, json_pack("{s:s,s:s}", "address", plan->drift[i].address, "what",
						       plan->drift[i].what));
	json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:b, s:o, s:o, s:o}", "format", PLAN_FORMAT,
				"format_version", PLAN_FORMAT_VERSION, "secfaas_version", SECFAAS_VERSION, "created",
				plan->created, "lineage", plan->lineage, "serial", (json_int_t)plan->serial, "spec_digest",
				plan->spec_digest ? plan->spec_digest : "", "destroy_mode", plan->destroy_mode,
				"refresh_only", plan->refresh_only, "errored", plan->errored, "config", config, "changes",
				changes, "drift", drift);
	if (plan->git_sha[0])
		json_object_set_new(doc, "git_sha", json_string(plan->git_sha));
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	int rc = sf_write_file_atomic(path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}

int sf_plan_load(struct sf_plan *plan, struct sf_config *cfg, const char *path, const struct sf_registry *types,
		 struct sf_err *err)
{
	char *text = NULL;
	size_t len = 0;
	memset(plan, 0, sizeof *plan);
	if (sf_read_file(&text, &len, path, (size_t)256 << 20, err) < 0)
		return err->code;
	int rc = sf_plan_parse(plan, cfg, path, text, len, types, err);
	free(text);
	return rc;
}

int sf_plan_parse(struct sf_plan *plan, struct sf_config *cfg, const char *path, const char *text, size_t len,
		  const struct sf_registry *types, struct sf_err *err)
{
	memset(plan, 0, sizeof *plan);
	json_error_t je;
	json_t *doc = json_loadb(text, len, 0, &je);
	const char *format = NULL, *version = NULL, *created = NULL, *lineage = NULL, *digest = NULL;
	int fv = 0, destroy = 0, refresh_only = 0, errored = 0;
	json_int_t serial = 0;
	json_t *config = NULL, *changes = NULL, *drift = NULL;
	int rc = -1;
	if (!doc || json_unpack(doc, "{s:s, s:i, s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:b, s:o, s:o, s:o}", "format", &format,
				"format_version", &fv, "secfaas_version", &version, "created", &created, "lineage",
				&lineage, "serial", &serial, "spec_digest", &digest, "destroy_mode", &destroy,
				"refresh_only", &refresh_only, "errored", &errored, "config", &config, "changes",
				&changes, "drift", &drift) < 0 ||
	    strcmp(format, PLAN_FORMAT)) {
		sf_fail(err, SF_ECORRUPT, "%s is not a secfaas plan file (or it is damaged)", path);
		goto done;
	}
	if (fv != PLAN_FORMAT_VERSION || strcmp(version, SECFAAS_VERSION)) {
		sf_fail(err, SF_ESTALE, "plan %s was made by secfaas %s (plan format %d); this is secfaas %s", path, version,
			fv, SECFAAS_VERSION);
		sf_err_hint(err, "run `secfaas plan` again with this version");
		goto done;
	}
	if (sf_config_from_json(cfg, config, types, err) < 0)
		goto done;
	snprintf(plan->lineage, sizeof plan->lineage, "%s", lineage);
	if (json_is_string(json_object_get(doc, "git_sha")))
		snprintf(plan->git_sha, sizeof plan->git_sha, "%s", json_string_value(json_object_get(doc, "git_sha")));
	snprintf(plan->created, sizeof plan->created, "%s", created);
	plan->serial = serial;
	plan->spec_digest = xstrdup(digest);
	plan->destroy_mode = destroy;
	plan->refresh_only = refresh_only;
	plan->errored = errored;
	size_t n = json_array_size(changes);
	plan->v = xcalloc(n ? n : 1, sizeof *plan->v);
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(changes, i), *before = NULL, *after = NULL, *attrs = NULL, *deps = NULL;
		const char *addr = NULL, *type = NULL;
		int action = 0, reason = 0, has_prior = 0, prior_status = 0;
		if (json_unpack(c, "{s:s, s:s, s:i, s:i, s?o, s?o, s:o, s:o, s:b, s:i}", "address", &addr, "type", &type,
				"action", &action, "reason", &reason, "before", &before, "after", &after, "attrs", &attrs,
				"deps", &deps, "has_prior", &has_prior, "prior_status", &prior_status) < 0 ||
		    action < SF_ACT_NOOP || action > SF_ACT_DELETE) {
			sf_fail(err, SF_ECORRUPT, "%s: change %zu is malformed", path, i);
			goto done;
		}
		struct sf_change *ch = &plan->v[plan->n++];
		ch->address = xstrdup(addr);
		ch->type = sf_registry_find(types, type);
		if (!ch->type) {
			sf_fail(err, SF_ECORRUPT, "%s: unknown resource type %s", path, type);
			goto done;
		}
		ch->action = (enum sf_action)action;
		ch->reason = (enum sf_reason)reason;
		ch->before = before && !json_is_null(before) ? json_incref(before) : NULL;
		ch->after = after && !json_is_null(after) ? json_incref(after) : NULL;
		ch->has_prior = has_prior;
		ch->prior_status = (enum sf_rstatus)prior_status;
		if (json_is_object(json_object_get(c, "sensitive_refs")))
			ch->sens = json_deep_copy(json_object_get(c, "sensitive_refs"));
		const char *dk = json_string_value(json_object_get(c, "deposed_key"));
		ch->deposed_key = dk ? xstrdup(dk) : NULL;
		if (ch->reason == SF_REASON_DEPOSED && (!dk || ch->action != SF_ACT_DELETE || !ch->before)) {
			sf_fail(err, SF_ECORRUPT, "%s: change %zu is a deposed delete without its record", path, i);
			goto done;
		}
		ch->ndeps = 0;
		ch->deps = xcalloc(json_array_size(deps) + 1, sizeof *ch->deps);
		for (size_t k = 0; k < json_array_size(deps); k++)
			if (json_is_string(json_array_get(deps, k)))
				ch->deps[ch->ndeps++] = xstrdup(json_string_value(json_array_get(deps, k)));
		strs_load(&ch->update_only, json_object_get(c, "update_only"));
		strs_load(&ch->accept_only, json_object_get(c, "accept_only"));
		ch->attrs = xcalloc(json_array_size(attrs) + 1, sizeof *ch->attrs);
		for (size_t k = 0; k < json_array_size(attrs); k++) {
			json_t *a = json_array_get(attrs, k), *ab = NULL, *aa = NULL;
			const char *name = NULL;
			int u = 0, f = 0, s = 0;
			if (json_unpack(a, "{s:s, s?o, s?o, s:b, s:b, s:b}", "name", &name, "before", &ab, "after", &aa,
					"unknown", &u, "forces", &f, "sensitive", &s) < 0)
				continue;
			struct sf_attr_change *x = &ch->attrs[ch->nattrs++];
			x->name = xstrdup(name);
			x->before = ab && !json_is_null(ab) ? json_incref(ab) : NULL;
			x->after = aa && !json_is_null(aa) ? json_incref(aa) : NULL;
			x->unknown = u;
			x->forces = f;
			x->sensitive = s;
		}
	}
	sf_plan_count(plan);
	for (size_t i = 0; i < json_array_size(drift); i++) {
		const char *a = NULL, *w = NULL;
		if (json_unpack(json_array_get(drift, i), "{s:s,s:s}", "address", &a, "what", &w) < 0)
			continue;
		plan->drift = xrealloc(plan->drift, (plan->ndrift + 1) * sizeof *plan->drift);
		plan->drift[plan->ndrift].address = xstrdup(a);
		plan->drift[plan->ndrift].what = xstrdup(w);
		plan->ndrift++;
	}
	rc = 0;
done:
	json_decref(doc);
	if (rc < 0 && !err->code)
		sf_fail(err, SF_ECORRUPT, "cannot read plan %s", path);
	return rc < 0 ? err->code : 0;
}

int sf_plan_unseal(const struct sf_plan *plan, struct sf_config *cfg, struct sf_state *st, struct sf_err *err)
{
	for (size_t i = 0; i < cfg->n; i++) {
		struct sf_rinst *ri = &cfg->v[i];
		json_t *names = sensitive_names(ri->type, ri->config);
		if (!names)
			continue;
		size_t k;
		json_t *nm;
		int rc = 0;
		json_array_foreach(names, k, nm)
		{
			const json_t *v = json_object_get(ri->config, json_string_value(nm));
			if (!json_is_string(json_object_get(v, "$enc")))
				rc = sf_fail(err, SF_ECORRUPT, "plan file: %s.%s is not sealed (the file was altered)", ri->address,
					     json_string_value(nm));
		}
		char *addr = seal_address(plan->lineage, ri->address);
		if (rc == 0)
			rc = sf_state_open_attrs(st, addr, ri->config, names, err);
		free(addr);
		json_decref(names);
		if (rc < 0)
			return rc;
	}
	return 0;
}
