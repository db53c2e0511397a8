/* template.c - fill and parse embedded manifest templates (see template.h). */
#include <string.h>

#include "kube/template.h"
#include "embed.h"
#include "provisioner/spec/schema.h"
#include "provisioner/spec/spec.h"
#include "util.h"

static const char *lookup(const char *const *vars, const char *name, size_t n)
{
	for (size_t i = 0; vars && vars[i] && vars[i + 1]; i += 2)
		if (strlen(vars[i]) == n && !strncmp(vars[i], name, n))
			return vars[i + 1];
	return NULL;
}

int sf_kube_template_text(json_t **out, const char *name, const char *text, const char *const *vars,
			  struct sf_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	int rc = 0;
	*out = NULL;
	for (const char *p = text; *p;) {
		const char *s = strstr(p, "@@");
		if (!s) {
			sf_buf_puts(&b, p);
			break;
		}
		sf_buf_append(&b, p, (size_t)(s - p));
		const char *e = strstr(s + 2, "@@");
		size_t n = e ? (size_t)(e - s - 2) : 0;
		const char *v = e ? lookup(vars, s + 2, n) : NULL;
		if (!v) {
			rc = sf_fail(err, SF_EINVAL, "template %s: placeholder %.*s has no value", name,
				     (int)(e ? n + 4 : 2), s);
			goto done;
		}
		sf_buf_puts(&b, v);
		p = e + 2;
	}
	if (sf_spec_load_buffer(&set, name, sf_buf_cstr(&b), b.len, &d) < 0) {
		rc = sf_fail(err, SF_ECORRUPT, "template %s: %s", name, d.n ? d.v[0].msg : "invalid YAML");
		goto done;
	}
	*out = json_array();
	for (size_t i = 0; i < set.n; i++) {
		json_t *j = set.docs[i].root ? sf_node_to_json(set.docs[i].root) : NULL;
		if (json_is_object(j))
			json_array_append_new(*out, j);
		else
			json_decref(j);
	}
done:
	sf_buf_release(&b);
	sf_specset_release(&set);
	sf_diags_release(&d);
	return rc;
}

int sf_kube_template(json_t **out, const char *name, const char *const *vars, struct sf_err *err)
{
	const struct sf_embedded *e = sf_embedded_find(name);
	*out = NULL;
	if (!e)
		return sf_fail(err, SF_ENOTFOUND, "manifest template %s is not in this build", name);
	return sf_kube_template_text(out, name, e->data, vars, err);
}
