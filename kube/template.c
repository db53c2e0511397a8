/*
 * template.c - fill and parse embedded manifest templates (see template.h).
 *
 * The template is parsed first and filled afterwards: a placeholder is
 * replaced inside a string (or a mapping key) of the parsed objects, never
 * in the YAML text, so a value is always data and can never add a field,
 * end a string or start another document, whatever characters it holds.
 */
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

/* A value placed inside a longer string (a CEL expression, a message) may
 * only hold these characters: such strings are code or prose that a quote
 * or a space in the value could change the meaning of.  A placeholder that
 * is a whole string takes any value. */
static int embeddable(const char *v)
{
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.' || *p == '_' || *p == '/'))
			return 0;
	return 1;
}

/* s with its placeholders filled: owned string, or NULL with err. */
static char *fill(const char *name, const char *s, const char *const *vars, struct sf_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	for (const char *p = s; *p;) {
		const char *a = strstr(p, "@@");
		if (!a) {
			sf_buf_puts(&b, p);
			break;
		}
		sf_buf_append(&b, p, (size_t)(a - p));
		const char *e = strstr(a + 2, "@@");
		size_t n = e ? (size_t)(e - a - 2) : 0;
		const char *v = e ? lookup(vars, a + 2, n) : NULL;
		if (!v) {
			sf_fail(err, SF_EINVAL, "template %s: placeholder %.*s has no value", name, (int)(e ? n + 4 : 2), a);
			sf_buf_release(&b);
			return NULL;
		}
		int whole = a == s && !e[2];
		if (!whole && !embeddable(v)) {
			sf_fail(err, SF_EINVAL,
				"template %s: the value of %.*s is used inside a longer string and may only hold letters, "
				"digits, '-', '.', '_' and '/'",
				name, (int)(n + 4), a);
			sf_buf_release(&b);
			return NULL;
		}
		sf_buf_puts(&b, v);
		p = e + 2;
	}
	return sf_buf_detach(&b);
}

/* Fill every string and key of j in place. */
static int fill_json(const char *name, json_t *j, const char *const *vars, struct sf_err *err)
{
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		if (!strstr(s, "@@"))
			return 0;
		char *v = fill(name, s, vars, err);
		if (!v)
			return err->code;
		json_string_set(j, v);
		free(v);
		return 0;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *x;
		json_array_foreach(j, i, x) if (fill_json(name, x, vars, err) < 0) return err->code;
		return 0;
	}
	if (!json_is_object(j))
		return 0;
	/* Keys are rebuilt in their order; a filled key must not collide. */
	json_t *o = json_object();
	const char *k;
	json_t *x;
	int rc = 0;
	json_object_foreach(j, k, x)
	{
		char *fk = strstr(k, "@@") ? fill(name, k, vars, err) : xstrdup(k);
		if (!fk || (rc = fill_json(name, x, vars, err)) < 0) {
			rc = err->code;
			free(fk);
			break;
		}
		if (json_object_get(o, fk)) {
			rc = sf_fail(err, SF_EINVAL, "template %s: key \"%s\" appears twice once filled", name, fk);
			free(fk);
			break;
		}
		json_object_set(o, fk, x);
		free(fk);
	}
	if (rc == 0) {
		json_object_clear(j);
		json_object_update(j, o);
	}
	json_decref(o);
	return rc;
}

int sf_kube_template_text(json_t **out, const char *name, const char *text, const char *const *vars,
			  struct sf_err *err)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	int rc = 0;
	*out = NULL;
	if (sf_spec_load_buffer(&set, name, text, strlen(text), &d) < 0) {
		rc = sf_fail(err, SF_ECORRUPT, "template %s: %s", name, d.n ? d.v[0].msg : "invalid YAML");
		goto done;
	}
	*out = json_array();
	for (size_t i = 0; i < set.n; i++) {
		json_t *j = set.docs[i].root ? sf_node_to_json(set.docs[i].root) : NULL;
		if (json_is_object(j) && (rc = fill_json(name, j, vars, err)) < 0) {
			json_decref(j);
			json_decref(*out);
			*out = NULL;
			goto done;
		}
		if (json_is_object(j))
			json_array_append_new(*out, j);
		else
			json_decref(j);
	}
done:
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
