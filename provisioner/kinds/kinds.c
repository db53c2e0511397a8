/* kinds.c - the kind table and document envelope (see kinds.h). */
#include "provisioner/kinds/kinds.h"

#include <string.h>

#include "provisioner/spec/spec.h"

#include "util.h"

static const struct sf_kind *const kinds[] = {&sf_kind_cluster, &sf_kind_stack};

const struct sf_kind *sf_kind_find(const char *name)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(kinds); i++)
		if (name && !strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

static const struct sf_schema metadata_fields[] = {
	{"name", SF_S_STRING, SF_S_REQUIRED, 0, 0, 0, 0, 0, sf_check_dns_label, "workspace and cluster name"},
	{"region", SF_S_STRING, 0, 0, 0, 0, 0, 0, sf_check_region, "AWS region (else AWS_REGION / profile)"},
	{"tags", SF_S_MAP, 0, 0, 0, 0, 0, 0, sf_check_aws_tags, "tags added to every AWS resource"},
	{"labels", SF_S_MAP, 0, 0, 0, 0, 0, 0, 0, "free-form labels"},
	{"ttl", SF_S_DURATION, 0, 0, 0, 0, 0, 0, 0, "ephemeral cluster lifetime, e.g. 4h (secfaas gc)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void check_api_version(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	if (strcmp(n->scalar, SF_API_VERSION))
		sf_diag_error(d, &n->pos, "%s: unsupported apiVersion \"%s\"; this secfaas reads %s", path, n->scalar,
			      SF_API_VERSION);
}

void sf_kind_validate(const struct sf_doc *doc, struct sf_diags *d)
{
	const struct sf_node *root = doc->root;
	if (root->type != SF_N_MAP) {
		sf_diag_error(d, &root->pos, "a spec document must be a mapping with apiVersion, kind, metadata and spec");
		return;
	}
	const struct sf_node *kn = sf_node_get(root, "kind");
	const struct sf_kind *k = sf_kind_find(sf_node_str(kn));
	const char *enum_kinds[SF_ARRAY_LEN(kinds) + 1];
	for (size_t i = 0; i < SF_ARRAY_LEN(kinds); i++)
		enum_kinds[i] = kinds[i]->name;
	enum_kinds[SF_ARRAY_LEN(kinds)] = NULL;
	struct sf_schema envelope_fields[] = {
		{"apiVersion", SF_S_STRING, SF_S_REQUIRED, 0, 0, 0, 0, 0, check_api_version, 0},
		{"kind", SF_S_STRING, SF_S_REQUIRED, 0, 0, enum_kinds, 0, 0, 0, 0},
		{"metadata", SF_S_OBJECT, SF_S_REQUIRED, metadata_fields, 0, 0, 0, 0, 0, 0},
		{"spec", k ? k->spec->type : SF_S_ANY, SF_S_REQUIRED, k ? k->spec->fields : NULL, 0, 0, 0, 0,
		 k ? k->spec->check : NULL, 0},
		{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	};
	struct sf_schema envelope = {"document", SF_S_OBJECT, 0, envelope_fields, 0, 0, 0, 0, 0, 0};
	sf_schema_validate(&envelope, root, "", d);
}

void sf_kind_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	const struct sf_kind *k = sf_kind_find(sf_node_str(sf_node_get(doc->root, "kind")));
	if (k && k->lower)
		k->lower(doc, c, d);
}

static const struct sf_lowering kinds_lowering = {sf_kind_validate, sf_kind_lower};

int sf_config_build(struct sf_config *out, const struct sf_specset *set, const char *workspace,
		    struct sf_diags *d)
{
	return sf_config_assemble(out, set, workspace, &kinds_lowering, d);
}

int sf_config_check_specs(const struct sf_specset *set, struct sf_diags *d)
{
	return sf_config_check_set(set, &kinds_lowering, d);
}

int sf_config_build_checked(struct sf_config *out, const struct sf_specset *set, const char *workspace,
			    struct sf_diags *d)
{
	return sf_config_assemble_checked(out, set, workspace, &kinds_lowering, d);
}

/* ---- JSON Schema (secfaas schema) ---- */

/* Characters of a tag key or value, as sf_check_aws_tags allows them: a
 * class of what is refused (ASCII punctuation outside _ . : / = + - @,
 * controls, the soft hyphen, formatting, bidirectional and private-use
 * marks, specials), so it reads the same in ECMAScript and other regex
 * dialects without Unicode property classes.  Code points from U+F0000
 * (refused by validate) are not listed: the schema may accept a little
 * more than validate, never less. */
#define TAG_CHARS \
	"[^\\x00-\\x1f!\"#$%&'()*,;<>?\\[\\\\\\]^`{|}~\\x7f-\\x9f\\u00ad\\u2000-\\u200f\\u2028-\\u202f" \
	"\\u2060-\\u206f\\ue000-\\uf8ff\\ufeff\\ufff0-\\uffff]"
/* An IAM role or user ARN (sf_check_principal_arns). */
#define PRINCIPAL_ARN \
	"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::[0-9]{12}:(role|user)/" \
	"([\\x21-\\x7e]*/)?[A-Za-z0-9+=,.@_-]{1,64}$"
/* An IPv4 CIDR with any prefix length (kinds.h). */
#define IPV4_CIDR "^" SF_JS_IPV4_NET "/0*([0-9]|[12][0-9]|3[0-2])$"

/* What a check hook enforces, where a JSON Schema can say it too; 1 when
 * the hook is known here (said, or known to be beyond a JSON Schema). */
static int check_keywords(const struct sf_schema *s, json_t *out)
{
	if (s->check == sf_check_dns_label) {
		json_object_set_new(out, "pattern", json_string("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
		json_object_set_new(out, "maxLength", json_integer(63));
	} else if (s->check == sf_check_aws_tags) {
		/* 1-128 characters, no aws: (any case) or secfaas: prefix */
		json_object_set_new(out, "maxProperties", json_integer(SF_USER_TAGS_MAX));
		json_object_set_new(out, "propertyNames",
				    json_pack("{s:i, s:i, s:s}", "minLength", 1, "maxLength", 128, "pattern",
					      "^(?![aA][wW][sS]:)(?!secfaas:)" TAG_CHARS "+$"));
		json_t *v = json_object_get(out, "additionalProperties");
		json_object_set_new(v, "maxLength", json_integer(256));
		json_object_set_new(v, "pattern", json_string("^" TAG_CHARS "*$"));
	} else if (s->check == sf_check_principal_arns) {
		json_object_set_new(json_object_get(out, "items"), "pattern", json_string(PRINCIPAL_ARN));
		json_object_set_new(out, "uniqueItems", json_true()); /* one access entry per principal */
	} else if (s->check == sf_check_public_cidrs) {
		json_object_set_new(json_object_get(out, "items"), "pattern", json_string(IPV4_CIDR));
		json_object_set_new(out, "maxItems", json_integer(40)); /* EKS's quota */
		json_object_set_new(out, "uniqueItems", json_true());
	} else if (s->check == sf_check_region) {
		size_t n;
		const char *const *r = sf_known_regions(&n);
		json_t *e = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(e, json_string(r[i]));
		json_object_set_new(out, "enum", e);
	} else if (s->check == check_api_version) {
		/* the envelope's apiVersion is a const of its own */
	} else if (s->check) {
		return sf_cluster_check_keywords(s->check, out) || sf_stack_check_keywords(s->check, out);
	}
	return 1;
}

/* Append the path of every check hook under s that check_keywords does
 * not know. */
static size_t gaps(const struct sf_schema *s, const char *path, struct sf_buf *out)
{
	size_t n = 0;
	if (s->check) {
		json_t *scratch = json_pack("{s:{}, s:{}, s:{}}", "items", "additionalProperties", "properties");
		if (!check_keywords(s, scratch)) {
			sf_buf_printf(out, "%s\n", path);
			n++;
		}
		json_decref(scratch);
	}
	if (s->item) {
		char *p = xasprintf("%s[]", path);
		n += gaps(s->item, p, out);
		free(p);
	}
	for (const struct sf_schema *f = s->fields; f && f->name; f++) {
		char *p = xasprintf("%s%s%s", path, *path ? "." : "", f->name);
		n += gaps(f, p, out);
		free(p);
	}
	return n;
}

size_t sf_kinds_schema_gaps(struct sf_buf *out)
{
	const struct sf_schema meta = {"metadata", SF_S_OBJECT, SF_S_REQUIRED, metadata_fields, 0, 0, 0, 0, 0, 0};
	size_t n = gaps(&meta, "metadata", out);
	for (size_t i = 0; i < SF_ARRAY_LEN(kinds); i++) {
		char *p = xasprintf("%s spec", kinds[i]->name);
		n += gaps(kinds[i]->spec, p, out);
		free(p);
	}
	return n;
}

static json_t *schema_of(const struct sf_schema *s);

/* A value that may also be left empty (YAML null): validation treats an
 * optional field's null as absent. */
static json_t *nullable(json_t *x)
{
	json_t *t = json_object_get(x, "type"), *e = json_object_get(x, "enum");
	if (e)
		json_array_append_new(e, json_null());
	if (json_is_string(t))
		json_object_set_new(x, "type", json_pack("[s, s]", json_string_value(t), "null"));
	else if (json_is_array(t))
		json_array_append_new(t, json_string("null"));
	return x;
}

/* An object in a spec may also be a module call, expanded before
 * validation (modules.h). */
static json_t *or_module(const struct sf_schema *s, json_t *x)
{
	if (s->type != SF_S_OBJECT)
		return x;
	return json_pack("{s:[o, {s:s}]}", "anyOf", x, "$ref", "#/$defs/moduleCall");
}

static json_t *schema_of(const struct sf_schema *s)
{
	static const struct sf_schema str = {"value", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, 0};
	json_t *o = json_object();
	switch (s->type) {
	case SF_S_ANY:
		break;
	case SF_S_STRING:
		if (s->enums) {
			json_t *e = json_array();
			for (size_t i = 0; s->enums[i]; i++)
				json_array_append_new(e, json_string(s->enums[i]));
			json_object_set_new(o, "enum", e);
		} else {
			/* any scalar: `version: 1.30` is read as its text */
			json_object_set_new(o, "type", json_pack("[s, s, s]", "string", "number", "boolean"));
			if (s->flags & SF_S_NONEMPTY)
				json_object_set_new(o, "minLength", json_integer(1));
		}
		break;
	case SF_S_DURATION:
		json_object_set_new(o, "type", json_pack("[s, s]", "string", "number"));
		json_object_set_new(o, "pattern",
				    json_string("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ms|s|m|h|d)?)+$"));
		break;
	case SF_S_INT:
		json_object_set_new(o, "type", json_string("integer"));
		if (s->min < s->max) {
			json_object_set_new(o, "minimum", json_integer(s->min));
			json_object_set_new(o, "maximum", json_integer(s->max));
		}
		break;
	case SF_S_BOOL:
		json_object_set_new(o, "type", json_string("boolean"));
		break;
	case SF_S_LIST:
		json_object_set_new(o, "type", json_string("array"));
		json_object_set_new(o, "items", or_module(s->item ? s->item : &str, schema_of(s->item ? s->item : &str)));
		if (s->max > 0) {
			json_object_set_new(o, "minItems", json_integer(s->min));
			json_object_set_new(o, "maxItems", json_integer(s->max));
		} else if (s->flags & SF_S_NONEMPTY) {
			json_object_set_new(o, "minItems", json_integer(1));
		}
		break;
	case SF_S_MAP:
		json_object_set_new(o, "type", json_string("object"));
		/* tags and labels may have empty values */
		json_object_set_new(o, "additionalProperties", s->item ? schema_of(s->item) : nullable(schema_of(&str)));
		break;
	case SF_S_OBJECT: {
		json_t *props = json_object(), *req = json_array();
		for (const struct sf_schema *f = s->fields; f && f->name; f++) {
			json_t *x = schema_of(f);
			if (!(f->flags & SF_S_REQUIRED))
				x = nullable(x);
			else
				json_array_append_new(req, json_string(f->name));
			if (f->doc)
				json_object_set_new(x, "description", json_string(f->doc));
			json_object_set_new(props, f->name, or_module(f, x));
		}
		json_object_set_new(o, "type", json_string("object"));
		json_object_set_new(o, "properties", props);
		if (json_array_size(req))
			json_object_set_new(o, "required", req);
		else
			json_decref(req);
		json_object_set_new(o, "additionalProperties", json_false());
		break;
	}
	}
	check_keywords(s, o);
	return o;
}

json_t *sf_kinds_json_schema(void)
{
	const struct sf_schema meta = {"metadata", SF_S_OBJECT, SF_S_REQUIRED, metadata_fields, 0, 0, 0, 0, 0, 0};
	json_t *kinds_enum = json_array(), *per_kind = json_array();
	for (size_t i = 0; i < SF_ARRAY_LEN(kinds); i++) {
		json_array_append_new(kinds_enum, json_string(kinds[i]->name));
		json_t *spec = schema_of(kinds[i]->spec);
		if (kinds[i]->doc)
			json_object_set_new(spec, "description", json_string(kinds[i]->doc));
		json_t *then = json_pack("{s:{s:o}}", "properties", "spec", spec);
		if (kinds[i]->name_max) /* a kind whose names become longer AWS names */
			json_object_set_new(json_object_get(then, "properties"), "metadata",
					    json_pack("{s:{s:{s:I}}}", "properties", "name", "maxLength",
						      (json_int_t)kinds[i]->name_max));
		json_array_append_new(per_kind, json_pack("{s:{s:{s:{s:s}}, s:[s]}, s:o}", "if", "properties", "kind",
							  "const", kinds[i]->name, "required", "kind", "then", then));
	}
	json_t *module_call = json_pack(
		"{s:s, s:s, s:[s], s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:b}", "description",
		"a module call, expanded before validation: {module: NAME, inputs: {...}}", "type", "object", "required",
		"module", "properties", "module", "type", "string", "description", "module name, path or git+URL//PATH@REF",
		"inputs", "type", "object", "description", "the module's typed inputs", "additionalProperties", 0);
	return json_pack("{s:s, s:s, s:s, s:s, s:[s, s, s, s], s:{s:{s:s}, s:{s:o}, s:o, s:{s:s}}, s:o, s:b, s:{s:o}}",
			 "$schema", "https://json-schema.org/draft/2020-12/schema", "title", "secfaas spec document",
			 "description", "One YAML document of a secfaas spec (generated by `secfaas schema` from the "
					"tables `secfaas validate` uses; CIDR arithmetic, comparisons of two values and a Stack resource type's own checks stay with validate).",
			 "type", "object", "required", "apiVersion", "kind", "metadata", "spec", "properties",
			 "apiVersion", "const", SF_API_VERSION, "kind", "enum", kinds_enum, "metadata",
			 schema_of(&meta), "spec", "type", "object", "allOf", per_kind, "additionalProperties", 0,
			 "$defs", "moduleCall", module_call);
}
