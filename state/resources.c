/*
 * resources.c - the resources table: get, list, put, remove, rename, and
 * the stored-row helpers that snapshots, restore and copies share.
 *
 * Attributes are stored as compact JSON with sorted keys (stable bytes for
 * stable content); the attributes named in `sensitive` are sealed one by one
 * (see keys.c) before the JSON is written, and opened after it is read.  In
 * memory a sealed value is always {"$enc": "v1:<base64>"}; a backend with
 * secrets_apart (PostgreSQL) keeps those bytes in rows of their own (bytea)
 * instead of inside the attributes, and hands them back in the last column.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "state/internal.h"
#include "util.h"

void sf_resource_free(struct sf_resource *r)
{
	if (!r)
		return;
	free(r->address);
	free(r->type);
	free(r->id);
	json_decref(r->attrs);
	json_decref(r->sensitive);
	json_decref(r->deps);
	free(r->token);
	free(r);
}

void sf_resource_list_free(struct sf_resource **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		sf_resource_free(v[i]);
	free(v);
}

/* ---- stored rows ---------------------------------------------------------- */

static int load_json_cell(struct sf_state *st, const struct st_rows *rows, size_t r, size_t col,
			  const char *addr, const char *what, json_t **out, struct sf_err *err)
{
	const char *t = st_cell(rows, r, col);
	*out = NULL;
	if (!t)
		return 0;
	json_error_t je;
	*out = json_loads(t, JSON_DECODE_ANY, &je);
	if (!*out) {
		sf_fail(err, SF_ECORRUPT, "resource %s in state %s has unreadable %s: %s", addr, st->path,
			what, je.text);
		return sf_err_where(err, "%s", addr);
	}
	return 0;
}

json_t *st_row_json(struct sf_state *st, const struct st_rows *rows, size_t r, struct sf_err *err)
{
	const char *addr = st_cell(rows, r, 0);
	json_t *attrs = NULL, *sens = NULL, *deps = NULL, *secrets = NULL, *row = NULL;
	if (!addr) {
		sf_fail(err, SF_ECORRUPT, "a resource in state %s has no address", st->path);
		return NULL;
	}
	if (load_json_cell(st, rows, r, 4, addr, "attributes", &attrs, err) < 0 ||
	    load_json_cell(st, rows, r, 5, addr, "sensitive list", &sens, err) < 0 ||
	    load_json_cell(st, rows, r, 6, addr, "dependencies", &deps, err) < 0 ||
	    load_json_cell(st, rows, r, 10, addr, "secrets", &secrets, err) < 0)
		goto done;
	if (!json_is_object(attrs)) {
		sf_fail(err, SF_ECORRUPT, "resource %s in state %s: attributes are not an object", addr,
			st->path);
		goto done;
	}
	/* Sealed values kept apart come back as base64 of nonce|ct|tag. */
	const char *name;
	json_t *b64;
	json_object_foreach(secrets, name, b64) {
		char *env = xasprintf(SF_CRYPT_ENVELOPE_PREFIX "%s", json_string_value(b64) ? json_string_value(b64) : "");
		json_object_set_new(attrs, name, json_pack("{s:s}", "$enc", env));
		free(env);
	}
	const char *id = st_cell(rows, r, 2), *status = st_cell(rows, r, 3), *tok = st_cell(rows, r, 7);
	row = json_pack("{s:s, s:s, s:o, s:s, s:O, s:o, s:o, s:o, s:I, s:f}", "address", addr, "type",
			st_cell(rows, r, 1) ? st_cell(rows, r, 1) : "", "id", id ? json_string(id) : json_null(),
			"status", status ? status : "", "attrs", attrs, "sensitive",
			sens ? json_incref(sens) : json_null(), "deps", deps ? json_incref(deps) : json_null(),
			"token", tok ? json_string(tok) : json_null(), "schema_version",
			(json_int_t)st_cell_int(rows, r, 8), "updated_at", st_cell_real(rows, r, 9));
done:
	json_decref(attrs);
	json_decref(sens);
	json_decref(deps);
	json_decref(secrets);
	return row;
}

/* Build a resource from a stored row object; decrypt when `open` is set. */
static int row_to_resource(struct sf_state *st, json_t *row, int open, struct sf_resource **out,
			   struct sf_err *err)
{
	struct sf_resource *r = xcalloc(1, sizeof *r);
	int rc = 0;
	json_t *j;
	r->address = xstrdup(json_string_value(json_object_get(row, "address")));
	r->type = xstrdup(json_string_value(json_object_get(row, "type")));
	r->id = xstrdup(json_string_value(json_object_get(row, "id")));
	const char *status = json_string_value(json_object_get(row, "status"));
	if (sf_rstatus_parse(status, &r->status) < 0) {
		rc = sf_fail(err, SF_ECORRUPT, "resource %s in state %s has unknown status \"%s\"",
			     r->address, st->path, status ? status : "");
		goto done;
	}
	r->attrs = json_deep_copy(json_object_get(row, "attrs"));
	if ((j = json_object_get(row, "sensitive")) && !json_is_null(j))
		r->sensitive = json_incref(j);
	if ((j = json_object_get(row, "deps")) && !json_is_null(j))
		r->deps = json_incref(j);
	r->token = xstrdup(json_string_value(json_object_get(row, "token")));
	r->schema_version = (int)json_integer_value(json_object_get(row, "schema_version"));
	r->updated_at = json_number_value(json_object_get(row, "updated_at"));
	if (open && r->sensitive && (rc = st_open_attrs(st, r->address, r->attrs, r->sensitive, err)) < 0)
		goto done;
	*out = r;
	r = NULL;
done:
	sf_resource_free(r);
	return rc;
}

/* Dump optional JSON as compact sorted text (owned) or NULL. */
static char *dump(const json_t *j)
{
	return j && !json_is_null(j) ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
}

int st_row_write(struct sf_state *st, const char *address, json_t *row, struct sf_err *err)
{
	json_t *attrs = json_deep_copy(json_object_get(row, "attrs")), *apart = json_object();
	json_t *sens = json_object_get(row, "sensitive");
	int rc = 0;
	if (!json_is_object(attrs)) {
		rc = sf_fail(err, SF_ECORRUPT, "resource %s: stored attributes are not an object", address);
		goto done;
	}
	if (st->be->secrets_apart && json_is_array(sens)) {
		size_t i;
		json_t *name;
		json_array_foreach(sens, i, name) {
			const char *nm = json_string_value(name);
			json_t *v = nm ? json_object_get(attrs, nm) : NULL;
			const char *env = json_string_value(json_object_get(v, "$enc"));
			size_t pl = strlen(SF_CRYPT_ENVELOPE_PREFIX);
			if (!env || strncmp(env, SF_CRYPT_ENVELOPE_PREFIX, pl))
				continue;
			json_object_set_new(apart, nm, json_string(env + pl));
			json_object_del(attrs, nm);
		}
	}
	char *at = dump(attrs), *st_sens = dump(sens), *deps = dump(json_object_get(row, "deps"));
	const char *type = json_string_value(json_object_get(row, "type"));
	const char *status = json_string_value(json_object_get(row, "status"));
	struct st_arg a[10] = {st_text(address),
			       st_text(type),
			       st_text(json_string_value(json_object_get(row, "id"))),
			       st_text(status),
			       st_text(at ? at : "{}"),
			       st_text(st_sens),
			       st_text(deps),
			       st_text(json_string_value(json_object_get(row, "token"))),
			       st_int(json_integer_value(json_object_get(row, "schema_version"))),
			       st_real(json_number_value(json_object_get(row, "updated_at")))};
	if ((rc = st_qexec(st, Q_RES_PUT, a, 10, NULL, err)) < 0) {
		sf_err_prefix(err, "writing resource %s: ", address);
		goto free_text;
	}
	if (st->be->secrets_apart) {
		struct st_arg c[1] = {st_text(address)};
		if ((rc = st_qexec(st, Q_SEC_CLEAR, c, 1, NULL, err)) < 0)
			goto free_text;
		const char *nm;
		json_t *b64;
		json_object_foreach(apart, nm, b64) {
			unsigned char *raw = NULL;
			size_t n = 0;
			if (sf_b64_decode(json_string_value(b64), &raw, &n) < 0) {
				rc = sf_fail(err, SF_ECORRUPT, "sealed attribute %s of %s is not base64", nm,
					     address);
				goto free_text;
			}
			struct st_arg s[3] = {st_text(address), st_text(nm), st_blob(raw, n)};
			rc = st_qexec(st, Q_SEC_PUT, s, 3, NULL, err);
			free(raw);
			if (rc < 0)
				goto free_text;
		}
	}
free_text:
	free(at);
	free(st_sens);
	free(deps);
done:
	json_decref(attrs);
	json_decref(apart);
	return rc;
}

int st_rows_read_all(struct sf_state *st, json_t **out, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*out = NULL;
	int rc = st_q(st, Q_RES_LIST, NULL, 0, &r, err);
	if (rc < 0)
		return rc;
	json_t *list = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		json_t *row = st_row_json(st, &r, i, err);
		if (!row) {
			rc = err ? err->code : SF_ECORRUPT;
			if (rc >= 0)
				rc = SF_ECORRUPT;
			json_decref(list);
			list = NULL;
			break;
		}
		json_array_append_new(list, row);
	}
	st_rows_release(&r);
	*out = list;
	return rc;
}

/* ---- public API ------------------------------------------------------------ */

int sf_state_get(struct sf_state *st, const char *address, struct sf_resource **out,
		 struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*out = NULL;
	st_enter(st);
	struct st_arg a[1] = {st_text(address)};
	int rc = st_q(st, Q_RES_GET, a, 1, &r, err);
	if (rc == 0 && !r.nrows)
		rc = sf_fail(err, SF_ENOTFOUND, "no resource %s in state %s", address, st->path);
	if (rc == 0) {
		json_t *row = st_row_json(st, &r, 0, err);
		rc = row ? row_to_resource(st, row, 1, out, err) : SF_ECORRUPT;
		json_decref(row);
	}
	st_rows_release(&r);
	st_leave(st);
	return rc;
}

int sf_state_list(struct sf_state *st, struct sf_resource ***out, size_t *n, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	struct sf_resource **v = NULL;
	size_t cnt = 0;
	*out = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_q(st, Q_RES_LIST, NULL, 0, &r, err);
	if (rc < 0)
		goto done;
	v = xcalloc(r.nrows + 1, sizeof *v);
	for (size_t i = 0; i < r.nrows; i++) {
		json_t *row = st_row_json(st, &r, i, err);
		rc = row ? row_to_resource(st, row, 1, &v[cnt], err) : SF_ECORRUPT;
		json_decref(row);
		if (rc < 0)
			goto done;
		cnt++;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
done:
	st_rows_release(&r);
	sf_resource_list_free(v, cnt);
	st_leave(st);
	return rc;
}

static int check_name_array(const json_t *a, const char *what, const char *addr, struct sf_err *err)
{
	size_t i;
	json_t *x;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return sf_fail(err, SF_EINVAL, "resource %s: %s must be an array of strings", addr, what);
	json_array_foreach(a, i, x) {
		if (!json_is_string(x))
			return sf_fail(err, SF_EINVAL, "resource %s: %s must be an array of strings", addr,
				       what);
	}
	return 0;
}

/* The stored row of resource r with attrs already sealed (owned). */
static json_t *row_of(const struct sf_resource *r, json_t *sealed)
{
	return json_pack("{s:s, s:o, s:s, s:O, s:O, s:O, s:o, s:i, s:f}", "type", r->type, "id",
			 r->id ? json_string(r->id) : json_null(), "status", sf_rstatus_name(r->status),
			 "attrs", sealed, "sensitive", r->sensitive ? r->sensitive : json_null(), "deps",
			 r->deps ? r->deps : json_null(), "token",
			 r->token ? json_string(r->token) : json_null(), "schema_version",
			 r->schema_version, "updated_at", sf_now());
}

int sf_state_put(struct sf_state *st, const struct sf_resource *r, struct sf_err *err)
{
	if (!r || !r->address || !*r->address || !r->type || !*r->type)
		return sf_fail(err, SF_EINVAL, "resource needs an address and a type");
	if (!strcmp(sf_rstatus_name(r->status), "unknown"))
		return sf_fail(err, SF_EINVAL, "resource %s: invalid status %d", r->address, (int)r->status);
	if (r->attrs && !json_is_object(r->attrs))
		return sf_fail(err, SF_EINVAL, "resource %s: attributes must be a JSON object", r->address);
	int rc;
	if ((rc = check_name_array(r->sensitive, "sensitive", r->address, err)) < 0 ||
	    (rc = check_name_array(r->deps, "deps", r->address, err)) < 0)
		return rc;

	json_t *sealed = r->attrs ? json_deep_copy(r->attrs) : json_object();
	json_t *row = NULL;
	struct st_wscope ws;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto done;
	if (r->sensitive)
		rc = st_seal_attrs(st, r->address, sealed, r->sensitive, err);
	if (rc == 0) {
		row = row_of(r, sealed);
		rc = st_row_write(st, r->address, row, err);
	}
	ws.dirty = rc == 0;
	rc = st_wend(st, &ws, rc, err);
done:
	st_leave(st);
	json_decref(row);
	json_decref(sealed);
	return rc;
}

int sf_state_remove(struct sf_state *st, const char *address, struct sf_err *err)
{
	struct st_wscope ws;
	int64_t n = 0;
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto done;
	struct st_arg a[1] = {st_text(address)};
	rc = st_qexec(st, Q_RES_DEL, a, 1, &n, err);
	if (rc == 0 && n == 0)
		rc = sf_fail(err, SF_ENOTFOUND, "no resource %s in state %s", address, st->path);
	ws.dirty = rc == 0;
	rc = st_wend(st, &ws, rc, err);
done:
	st_leave(st);
	return rc;
}

int sf_state_rename(struct sf_state *st, const char *src, const char *dst, struct sf_err *err)
{
	struct st_wscope ws;
	struct sf_resource *r = NULL, *other = NULL;
	json_t *sealed = NULL, *row = NULL;
	if (!src || !dst || !*dst)
		return sf_fail(err, SF_EINVAL, "rename needs a source and a destination address");
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto out;
	/* Decrypted: the AAD names the address, so secrets are re-sealed
	 * under the new one. */
	if ((rc = sf_state_get(st, src, &r, err)) < 0 || !r)
		goto done;
	size_t tl = strlen(r->type);
	if (strncmp(dst, r->type, tl) || dst[tl] != '.' || !dst[tl + 1]) {
		rc = sf_fail(err, SF_EINVAL, "cannot move %s to %s: the destination must be a %s address "
					     "(%s.NAME)", src, dst, r->type, r->type);
		goto done;
	}
	if (!strcmp(src, dst)) {
		rc = 0; /* nothing to do, nothing written */
		goto done;
	}
	struct sf_err e2 = SF_ERR_INIT;
	if (sf_state_get(st, dst, &other, &e2) == 0 || e2.code != SF_ENOTFOUND) {
		rc = sf_fail(err, SF_ECONFLICT, "cannot move %s to %s: %s already exists in state", src,
			     dst, dst);
		goto done;
	}
	sealed = json_deep_copy(r->attrs);
	if (r->sensitive && (rc = st_seal_attrs(st, dst, sealed, r->sensitive, err)) < 0)
		goto done;
	row = row_of(r, sealed);
	struct st_arg a[2] = {st_text(src), st_text(dst)};
	if ((rc = st_row_write(st, dst, row, err)) < 0 || (rc = st_qexec(st, Q_RES_DEL, a, 1, NULL, err)) < 0 ||
	    (rc = st_qexec(st, Q_RES_RENAME_DEPS, a, 2, NULL, err)) < 0)
		goto done;
	ws.dirty = 1;
done:
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	sf_resource_free(r);
	sf_resource_free(other);
	json_decref(sealed);
	json_decref(row);
	return rc;
}
