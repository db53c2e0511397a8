/*
 * kind_stack.c - `kind: Stack`: resources listed directly by type and name.
 *
 * This is the general form the other kinds lower into, exposed so a spec
 * can add resources next to a Cluster (and so the engine can be exercised
 * with local resource types).  Attribute names and types are checked
 * against the resource type's attribute table.
 */
#include <string.h>

#include "provisioner/kinds/kinds.h"
#include "resources/provider.h"
#include "resources/types.h"
#include "util.h"

static int is_whole_ref(const struct sf_node *n)
{
	const char *s = sf_node_str(n);
	size_t l = s ? strlen(s) : 0;
	return l > 3 && s[0] == '$' && s[1] == '{' && s[l - 1] == '}' && !strchr(s + 2, '{');
}

static const char *atype_name(enum sf_atype t)
{
	switch (t) {
	case SF_AT_STRING: return "a string";
	case SF_AT_INT: return "an integer";
	case SF_AT_BOOL: return "a boolean";
	case SF_AT_LIST: return "a list";
	case SF_AT_MAP: return "a mapping";
	case SF_AT_ANY: return "a value";
	}
	return "?";
}

static int attr_type_ok(enum sf_atype t, const struct sf_node *n)
{
	if (is_whole_ref(n))
		return 1; /* typed by what it refers to */
	switch (t) {
	case SF_AT_STRING: return n->type == SF_N_SCALAR;
	case SF_AT_INT: return n->type == SF_N_SCALAR && !n->quoted && sf_scalar_is_int(n->scalar, NULL);
	case SF_AT_BOOL: return n->type == SF_N_SCALAR && !n->quoted && sf_scalar_is_bool(n->scalar, NULL);
	case SF_AT_LIST: return n->type == SF_N_SEQ;
	case SF_AT_MAP: return n->type == SF_N_MAP;
	case SF_AT_ANY: return 1;
	}
	return 0;
}

static json_t *attr_to_json(enum sf_atype t, const struct sf_node *n)
{
	if (t == SF_AT_STRING && n->type == SF_N_SCALAR)
		return json_string(n->scalar); /* keep "1.30" as written */
	return sf_node_to_json(n);
}

/* Does any scalar under n hold a ${...} reference? */
static int has_ref(const struct sf_node *n)
{
	if (!n)
		return 0;
	if (n->type == SF_N_SCALAR)
		return strstr(n->scalar, "${") != NULL;
	for (size_t i = 0; i < n->n; i++)
		if (has_ref(n->vals[i]))
			return 1;
	return 0;
}

/* The attributes of one resource as the configuration holds them. */
static json_t *stack_attrs(const struct sf_rtype *t, const struct sf_node *attrs)
{
	json_t *conf = json_object();
	for (size_t k = 0; attrs && k < attrs->n; k++) {
		const struct sf_attr_def *a = sf_rtype_attr(t, attrs->keys[k]->scalar);
		if (a && attrs->vals[k]->type != SF_N_NULL)
			json_object_set_new(conf, a->name, attr_to_json(a->type, attrs->vals[k]));
	}
	return conf;
}

static void check_resource(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *type = sf_node_str(sf_node_get(n, "type"));
	const struct sf_rtype *t = sf_rtype_find(type);
	if (!t) {
		size_t nt;
		const struct sf_rtype *const *all = sf_rtype_all(&nt);
		const char **names = xmalloc((nt + 1) * sizeof *names);
		for (size_t i = 0; i < nt; i++)
			names[i] = all[i]->name;
		const char *hint = sf_did_you_mean(type, names, nt);
		sf_diag_error(d, &sf_node_get(n, "type")->pos, "%s.type: unknown resource type \"%s\"%s%s%s", path, type,
			      hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
		free(names);
		return;
	}
	const struct sf_node *attrs = sf_node_get(n, "attributes");
	size_t na = 0;
	while (t->attrs[na].name)
		na++;
	const char **names = xmalloc((na + 1) * sizeof *names);
	for (size_t i = 0; i < na; i++)
		names[i] = t->attrs[i].name;
	for (size_t i = 0; attrs && i < attrs->n; i++) {
		const char *k = attrs->keys[i]->scalar;
		const struct sf_attr_def *a = sf_rtype_attr(t, k);
		const struct sf_pos *kp = &attrs->keys[i]->pos;
		if (!a) {
			const char *hint = sf_did_you_mean(k, names, na);
			sf_diag_error(d, kp, "%s.attributes: %s has no attribute \"%s\"%s%s%s", path, t->name, k,
				      hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
			continue;
		}
		if ((a->flags & SF_ATTR_COMPUTED) && !(a->flags & (SF_ATTR_OPTIONAL | SF_ATTR_REQUIRED))) {
			sf_diag_error(d, kp, "%s.attributes.%s: computed by %s; it cannot be set", path, k, t->name);
			continue;
		}
		const struct sf_node *v = attrs->vals[i];
		if (v->type == SF_N_NULL) {
			if (a->flags & SF_ATTR_REQUIRED)
				sf_diag_error(d, kp, "%s.attributes.%s: required attribute has no value", path, k);
			continue;
		}
		if (!attr_type_ok(a->type, v))
			sf_diag_error(d, &v->pos, "%s.attributes.%s: expected %s", path, k, atype_name(a->type));
	}
	for (size_t i = 0; i < na; i++)
		if ((t->attrs[i].flags & SF_ATTR_REQUIRED) && !sf_node_get(attrs, t->attrs[i].name))
			sf_diag_error(d, attrs ? &attrs->pos : &n->pos, "%s: %s requires attribute \"%s\"", path, t->name,
				      t->attrs[i].name);
	free(names);
	/* The type's own rules, offline, when every value is already known
	 * (apply checks again once references are resolved). */
	if (t->validate && !has_ref(attrs)) {
		json_t *conf = stack_attrs(t, attrs);
		struct sf_err err = SF_ERR_INIT;
		if (t->validate(conf, &err) < 0)
			sf_diag_error(d, attrs ? &attrs->pos : &n->pos, "%s.attributes: %s", path, err.msg);
		json_decref(conf);
	}
}

static void check_name(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *s = n->scalar;
	int ok = (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_';
	for (const char *p = s; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
	if (!ok)
		sf_diag_error(d, &n->pos, "%s: \"%s\" must start with a lowercase letter and hold only a-z, 0-9, '_', '-'",
			      path, s);
}

/* A resource name (check_name). */
#define RESOURCE_NAME "^[a-z_][a-z0-9_-]*$"

static const struct sf_schema resource_fields[] = {
	{"type", SF_S_STRING, SF_S_REQUIRED | SF_S_NONEMPTY, 0, 0, 0, 0, 0, 0, "resource type, e.g. local_file"},
	{"name", SF_S_STRING, SF_S_REQUIRED | SF_S_NONEMPTY, 0, 0, 0, 0, 0, check_name, "name, unique per type"},
	{"attributes", SF_S_MAP, 0, 0, &(const struct sf_schema){"attribute", SF_S_ANY, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0,
	 0, 0, "attributes of the type"},
	{"dependsOn", SF_S_LIST, 0, 0, 0, 0, 0, 0, 0, "extra dependencies (addresses type.name)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema resource_item = {"resource", SF_S_OBJECT, 0, resource_fields, 0, 0, 0, 0,
					       check_resource, 0};

static const struct sf_schema stack_fields[] = {
	{"resources", SF_S_LIST, SF_S_REQUIRED, 0, &resource_item, 0, 0, 0, 0, "resources of the stack"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema stack_spec = {"spec", SF_S_OBJECT, 0, stack_fields, 0, 0, 0, 0, 0, 0};

/* metadata.tags go on every AWS resource, as for a Cluster: under the
 * resource's own tags, which win on a shared key. */
static void add_workspace_tags(const struct sf_rtype *t, const struct sf_node *mtags, json_t *conf)
{
	const struct sf_attr_def *a = sf_rtype_attr(t, "tags");
	if (!mtags || mtags->type != SF_N_MAP || !a || a->type != SF_AT_MAP || sf_provider_of(t) != &sf_provider_aws)
		return;
	json_t *tags = attr_to_json(SF_AT_MAP, mtags);
	json_t *own = json_object_get(conf, "tags");
	if (json_is_object(own))
		json_object_update(tags, own);
	json_object_set_new(conf, "tags", tags);
}

static void stack_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	(void)d;
	const struct sf_node *mtags = sf_node_get(sf_node_get(doc->root, "metadata"), "tags");
	const struct sf_node *list = sf_node_get(sf_node_get(doc->root, "spec"), "resources");
	for (size_t i = 0; list && i < list->n; i++) {
		const struct sf_node *r = list->vals[i];
		const struct sf_rtype *t = sf_rtype_find(sf_node_str(sf_node_get(r, "type")));
		if (!t)
			continue;
		json_t *conf = stack_attrs(t, sf_node_get(r, "attributes"));
		add_workspace_tags(t, mtags, conf);
		struct sf_rinst *ri = sf_config_add(c, t, sf_node_str(sf_node_get(r, "name")), conf, &r->pos);
		json_decref(conf);
		const struct sf_node *deps = sf_node_get(r, "dependsOn");
		for (size_t k = 0; deps && k < deps->n; k++)
			if (sf_node_str(deps->vals[k]))
				sf_rinst_add_dep(ri, deps->vals[k]->scalar);
	}
}

const struct sf_kind sf_kind_stack = {"Stack", &stack_spec, stack_lower, "resources listed by type and name", 0};

int sf_stack_check_keywords(sf_schema_check_fn check, json_t *out)
{
	if (check == check_name) {
		json_object_set_new(out, "pattern", json_string(RESOURCE_NAME));
	} else if (check == check_resource) {
		/* the type is one of the registry's; its attributes are the
		 * type's to check (its validate, in code, and a value may be a
		 * ${reference} known only at apply) */
		size_t nt;
		const struct sf_rtype *const *all = sf_rtype_all(&nt);
		json_t *e = json_array();
		for (size_t i = 0; i < nt; i++)
			json_array_append_new(e, json_string(all[i]->name));
		json_t *t = json_object_get(json_object_get(out, "properties"), "type");
		if (t)
			json_object_set_new(t, "enum", e);
		else
			json_decref(e);
	} else {
		return 0;
	}
	return 1;
}
