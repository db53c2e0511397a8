/* kinds.c - the kind table and document envelope (see kinds.h). */
#include "provisioner/kinds/kinds.h"

#include <string.h>

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
	{"tags", SF_S_MAP, 0, 0, 0, 0, 0, 0, 0, "tags added to every AWS resource"},
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

int sf_config_build(struct sf_config *out, const struct sf_specset *set, const char *workspace,
		    struct sf_diags *d)
{
	static const struct sf_lowering kinds_lowering = {sf_kind_validate, sf_kind_lower};
	return sf_config_assemble(out, set, workspace, &kinds_lowering, d);
}
