/* schema.c - see schema.h. */
#include "provisioner/spec/schema.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = (a[i - 1] | 32) == (b[j - 1] | 32) ? 0 : 1;
			size_t v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			cur[j] = v;
		}
		memcpy(prev, cur, (lb + 1) * sizeof *prev);
	}
	return prev[lb];
}

const char *sf_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	size_t best = 99;
	const char *pick = NULL;
	size_t limit = strlen(word) / 3;
	if (limit < 2)
		limit = 2;
	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, candidates[i]);
		if (dist < best) {
			best = dist;
			pick = candidates[i];
		}
	}
	return best <= limit ? pick : NULL;
}

int sf_scalar_is_int(const char *s, long long *out)
{
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	if (out)
		*out = v;
	return 1;
}

int sf_scalar_is_bool(const char *s, int *out)
{
	if (!s)
		return 0;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		if (out) *out = 1;
		return 1;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		if (out) *out = 0;
		return 1;
	}
	return 0;
}

static const char *stype_name(enum sf_stype t)
{
	switch (t) {
	case SF_S_STRING: return "a string";
	case SF_S_INT: return "an integer";
	case SF_S_BOOL: return "a boolean (true or false)";
	case SF_S_OBJECT: return "a mapping";
	case SF_S_LIST: return "a list";
	case SF_S_MAP: return "a mapping of strings";
	case SF_S_ANY: return "a value";
	case SF_S_DURATION: return "a duration such as 90s, 30m or 4h";
	}
	return "?";
}

static const char *node_desc(const struct sf_node *n)
{
	if (n->type == SF_N_SCALAR) {
		if (n->quoted)
			return "a string";
		if (sf_scalar_is_int(n->scalar, NULL))
			return "an integer";
		if (sf_scalar_is_bool(n->scalar, NULL))
			return "a boolean";
		return "a string";
	}
	if (n->type == SF_N_MAP)
		return "a mapping";
	if (n->type == SF_N_SEQ)
		return "a list";
	return "null";
}

static size_t type_error(const struct sf_schema *s, const struct sf_node *n, const char *path, struct sf_diags *d)
{
	sf_diag_error(d, &n->pos, "%s: expected %s, got %s", path, stype_name(s->type), node_desc(n));
	return 1;
}

size_t sf_schema_validate(const struct sf_schema *s, const struct sf_node *n, const char *path,
			  struct sf_diags *d)
{
	size_t errs = 0;
	if (!n || n->type == SF_N_NULL)
		return 0; /* presence is checked by the parent (it has the position) */
	switch (s->type) {
	case SF_S_ANY:
		break;
	case SF_S_STRING:
	case SF_S_DURATION:
		if (n->type != SF_N_SCALAR)
			return type_error(s, n, path, d);
		if ((s->flags & SF_S_NONEMPTY) && !*n->scalar) {
			sf_diag_error(d, &n->pos, "%s: must not be empty", path);
			return 1;
		}
		if (s->type == SF_S_DURATION) {
			double v;
			if (sf_duration_parse(n->scalar, &v) < 0 || v <= 0) {
				sf_diag_error(d, &n->pos, "%s: \"%s\" is not a duration (use e.g. 90s, 30m, 4h, 1h30m)",
					      path, n->scalar);
				return 1;
			}
		}
		if (s->enums) {
			int ok = 0;
			size_t k = 0;
			for (; s->enums[k]; k++)
				if (!strcmp(s->enums[k], n->scalar))
					ok = 1;
			if (!ok) {
				struct sf_buf b = SF_BUF_INIT;
				for (size_t i = 0; s->enums[i]; i++)
					sf_buf_printf(&b, "%s%s", i ? ", " : "", s->enums[i]);
				const char *hint = sf_did_you_mean(n->scalar, s->enums, k);
				if (hint)
					sf_diag_error(d, &n->pos, "%s: \"%s\" is not one of %s; did you mean \"%s\"?", path,
						      n->scalar, sf_buf_cstr(&b), hint);
				else
					sf_diag_error(d, &n->pos, "%s: \"%s\" is not one of %s", path, n->scalar,
						      sf_buf_cstr(&b));
				sf_buf_release(&b);
				return 1;
			}
		}
		break;
	case SF_S_INT: {
		long long v;
		if (n->type != SF_N_SCALAR || n->quoted || !sf_scalar_is_int(n->scalar, &v))
			return type_error(s, n, path, d);
		if (s->min < s->max && (v < s->min || v > s->max)) {
			sf_diag_error(d, &n->pos, "%s: %lld is out of range (%lld to %lld)", path, v, s->min, s->max);
			return 1;
		}
		break;
	}
	case SF_S_BOOL:
		if (n->type != SF_N_SCALAR || n->quoted || !sf_scalar_is_bool(n->scalar, NULL))
			return type_error(s, n, path, d);
		break;
	case SF_S_LIST:
		if (n->type != SF_N_SEQ)
			return type_error(s, n, path, d);
		if ((s->flags & SF_S_NONEMPTY) && !n->n) {
			sf_diag_error(d, &n->pos, "%s: must have at least one item", path);
			return 1;
		}
		if (s->max > 0 && ((long long)n->n < s->min || (long long)n->n > s->max)) {
			sf_diag_error(d, &n->pos, "%s: must have %lld to %lld items, has %zu", path, s->min, s->max, n->n);
			errs++;
		}
		for (size_t i = 0; i < n->n; i++) {
			char *p = xasprintf("%s[%zu]", path, i);
			static const struct sf_schema str_item = {"item", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, 0};
			if (n->vals[i]->type == SF_N_NULL) {
				sf_diag_error(d, &n->vals[i]->pos, "%s: list items must not be null", p);
				errs++;
			} else {
				errs += sf_schema_validate(s->item ? s->item : &str_item, n->vals[i], p, d);
			}
			free(p);
		}
		break;
	case SF_S_MAP:
		if (n->type != SF_N_MAP)
			return type_error(s, n, path, d);
		for (size_t i = 0; i < n->n; i++) {
			char *p = xasprintf("%s.%s", path, n->keys[i]->scalar);
			static const struct sf_schema str_item = {"value", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, 0};
			if (n->vals[i]->type == SF_N_NULL && !s->item) {
				/* tags/labels with empty values are legal; keep as "" */
			} else {
				errs += sf_schema_validate(s->item ? s->item : &str_item, n->vals[i], p, d);
			}
			free(p);
		}
		break;
	case SF_S_OBJECT: {
		if (n->type != SF_N_MAP)
			return type_error(s, n, path, d);
		size_t nf = 0;
		while (s->fields && s->fields[nf].name)
			nf++;
		const char **names = xmalloc((nf + 1) * sizeof *names);
		for (size_t i = 0; i < nf; i++)
			names[i] = s->fields[i].name;
		for (size_t i = 0; i < n->n; i++) {
			const char *k = n->keys[i]->scalar;
			const struct sf_schema *f = NULL;
			for (size_t j = 0; j < nf; j++)
				if (!strcmp(s->fields[j].name, k))
					f = &s->fields[j];
			if (!f) {
				const char *hint = sf_did_you_mean(k, names, nf);
				if (hint)
					sf_diag_error(d, &n->keys[i]->pos, "%s: unknown field \"%s\"; did you mean \"%s\"?",
						      path, k, hint);
				else
					sf_diag_error(d, &n->keys[i]->pos, "%s: unknown field \"%s\"", path, k);
				errs++;
				continue;
			}
			char *p = *path ? xasprintf("%s.%s", path, k) : xstrdup(k);
			if (n->vals[i]->type == SF_N_NULL && (f->flags & SF_S_REQUIRED)) {
				sf_diag_error(d, &n->keys[i]->pos, "%s: required field has no value", p);
				errs++;
			} else {
				errs += sf_schema_validate(f, n->vals[i], p, d);
			}
			free(p);
		}
		for (size_t j = 0; j < nf; j++) {
			if (!(s->fields[j].flags & SF_S_REQUIRED) || sf_node_key(n, s->fields[j].name))
				continue;
			sf_diag_error(d, &n->pos, "%s: missing required field \"%s\"", *path ? path : "document",
				      s->fields[j].name);
			errs++;
		}
		free(names);
		break;
	}
	}
	if (!errs && s->check) {
		size_t before = d->nerrors;
		s->check(n, d, path);
		errs += d->nerrors - before;
	}
	return errs;
}

json_t *sf_node_to_json(const struct sf_node *n)
{
	if (!n || n->type == SF_N_NULL)
		return json_null();
	if (n->type == SF_N_SCALAR) {
		long long v;
		int b;
		if (!n->quoted && sf_scalar_is_int(n->scalar, &v))
			return json_integer(v);
		if (!n->quoted && sf_scalar_is_bool(n->scalar, &b))
			return json_boolean(b);
		return json_string(n->scalar);
	}
	if (n->type == SF_N_SEQ) {
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(a, sf_node_to_json(n->vals[i]));
		return a;
	}
	json_t *o = json_object();
	for (size_t i = 0; i < n->n; i++)
		json_object_set_new(o, n->keys[i]->scalar, sf_node_to_json(n->vals[i]));
	return o;
}

json_t *sf_schema_to_json(const struct sf_schema *s, const struct sf_node *n)
{
	if (!n || n->type == SF_N_NULL)
		return NULL;
	switch (s->type) {
	case SF_S_STRING:
	case SF_S_DURATION:
		return json_string(n->scalar ? n->scalar : "");
	case SF_S_INT: {
		long long v = 0;
		sf_scalar_is_int(n->scalar, &v);
		return json_integer(v);
	}
	case SF_S_BOOL: {
		int b = 0;
		sf_scalar_is_bool(n->scalar, &b);
		return json_boolean(b);
	}
	case SF_S_ANY:
		return sf_node_to_json(n);
	case SF_S_LIST: {
		static const struct sf_schema str_item = {"item", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, 0};
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++) {
			json_t *v = sf_schema_to_json(s->item ? s->item : &str_item, n->vals[i]);
			json_array_append_new(a, v ? v : json_null());
		}
		return a;
	}
	case SF_S_MAP: {
		static const struct sf_schema str_item = {"value", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, 0};
		json_t *o = json_object();
		for (size_t i = 0; i < n->n; i++) {
			json_t *v = sf_schema_to_json(s->item ? s->item : &str_item, n->vals[i]);
			json_object_set_new(o, n->keys[i]->scalar, v ? v : json_string(""));
		}
		return o;
	}
	case SF_S_OBJECT: {
		json_t *o = json_object();
		for (size_t i = 0; i < n->n; i++) {
			const struct sf_schema *f = NULL;
			for (size_t j = 0; s->fields && s->fields[j].name; j++)
				if (!strcmp(s->fields[j].name, n->keys[i]->scalar))
					f = &s->fields[j];
			if (!f)
				continue;
			json_t *v = sf_schema_to_json(f, n->vals[i]);
			if (v)
				json_object_set_new(o, n->keys[i]->scalar, v);
		}
		return o;
	}
	}
	return NULL;
}

int sf_schema_pattern_match(const char *re, const char *s)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB))
		return -1;
	int rc = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return rc;
}
