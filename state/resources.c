/*
 * resources.c - the resources table: get, list, put, remove, rename.
 *
 * Attributes are stored as compact JSON with sorted keys (stable bytes for
 * stable content); the attributes named in `sensitive` are sealed one by one
 * (see keys.c) before the JSON is written, and opened after it is read.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "state/internal.h"
#include "util.h"

#define RES_COLS "address, type, id, status, attrs, sensitive, deps, token, schema_version, updated_at"

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

static int load_json_col(struct sf_state *st, sqlite3_stmt *s, int col, const char *addr,
			 const char *what, json_t **out, struct sf_err *err)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	*out = NULL;
	if (!t)
		return 0;
	json_error_t je;
	*out = json_loads(t, 0, &je);
	if (!*out) {
		sf_fail(err, SF_ECORRUPT, "resource %s in state %s has unreadable %s: %s", addr, st->path,
			what, je.text);
		return sf_err_where(err, "%s", addr);
	}
	return 0;
}

/* Build a resource from a row of RES_COLS; decrypt when `open` is set. */
static int row_to_resource(struct sf_state *st, sqlite3_stmt *s, int open, struct sf_resource **out,
			   struct sf_err *err)
{
	struct sf_resource *r = xcalloc(1, sizeof *r);
	int rc;
	r->address = st_col_strdup(s, 0);
	r->type = st_col_strdup(s, 1);
	r->id = st_col_strdup(s, 2);
	const char *status = (const char *)sqlite3_column_text(s, 3);
	if (sf_rstatus_parse(status, &r->status) < 0) {
		rc = sf_fail(err, SF_ECORRUPT, "resource %s in state %s has unknown status \"%s\"",
			     r->address, st->path, status ? status : "");
		goto done;
	}
	if ((rc = load_json_col(st, s, 4, r->address, "attributes", &r->attrs, err)) < 0 ||
	    (rc = load_json_col(st, s, 5, r->address, "sensitive list", &r->sensitive, err)) < 0 ||
	    (rc = load_json_col(st, s, 6, r->address, "dependencies", &r->deps, err)) < 0)
		goto done;
	if (!json_is_object(r->attrs)) {
		rc = sf_fail(err, SF_ECORRUPT, "resource %s in state %s: attributes are not an object",
			     r->address, st->path);
		goto done;
	}
	r->token = st_col_strdup(s, 7);
	r->schema_version = sqlite3_column_int(s, 8);
	r->updated_at = sqlite3_column_double(s, 9);
	if (open && r->sensitive && (rc = st_open_attrs(st, r->address, r->attrs, r->sensitive, err)) < 0)
		goto done;
	*out = r;
	r = NULL;
	rc = 0;
done:
	sf_resource_free(r);
	return rc;
}

int sf_state_get(struct sf_state *st, const char *address, struct sf_resource **out,
		 struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	*out = NULL;
	st_enter(st);
	int rc = st_prepare(st, "SELECT " RES_COLS " FROM resources WHERE address = ?1", &s, err);
	if (rc < 0)
		goto done;
	st_bind_text(s, 1, address);
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		rc = row_to_resource(st, s, 1, out, err);
	else if (src == SQLITE_DONE)
		rc = sf_fail(err, SF_ENOTFOUND, "no resource %s in state %s", address, st->path);
	else
		rc = st_sqlfail(st, src, err, "reading a resource");
done:
	sqlite3_finalize(s);
	st_leave(st);
	return rc;
}

int sf_state_list(struct sf_state *st, struct sf_resource ***out, size_t *n, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	struct sf_resource **v = NULL;
	size_t cnt = 0, cap = 0;
	int src;
	*out = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_prepare(st, "SELECT " RES_COLS " FROM resources ORDER BY address", &s, err);
	if (rc < 0)
		goto done;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		if ((rc = row_to_resource(st, s, 1, &v[cnt], err)) < 0)
			goto done;
		cnt++;
	}
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "listing resources");
		goto done;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
done:
	sqlite3_finalize(s);
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

/* Dump optional JSON as compact sorted text (owned) or NULL. */
static char *dump(const json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
}

/* Write one row; attrs is already sealed. */
static int insert_row(struct sf_state *st, const struct sf_resource *r, const char *address,
		      const json_t *sealed, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	char *attrs = dump(sealed), *sens = dump(r->sensitive), *deps = dump(r->deps);
	int rc = st_prepare(st, "INSERT OR REPLACE INTO resources(" RES_COLS ") VALUES "
				"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &s, err);
	if (rc < 0)
		goto done;
	st_bind_text(s, 1, address);
	st_bind_text(s, 2, r->type);
	st_bind_text(s, 3, r->id);
	st_bind_text(s, 4, sf_rstatus_name(r->status));
	st_bind_text(s, 5, attrs ? attrs : "{}");
	st_bind_text(s, 6, sens);
	st_bind_text(s, 7, deps);
	st_bind_text(s, 8, r->token);
	sqlite3_bind_int(s, 9, r->schema_version);
	sqlite3_bind_double(s, 10, sf_now());
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE) {
		char *what = xasprintf("writing resource %s", address);
		rc = st_sqlfail(st, src, err, what);
		free(what);
	}
done:
	sqlite3_finalize(s);
	free(attrs);
	free(sens);
	free(deps);
	return rc;
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
	struct st_wscope ws;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto done;
	if (r->sensitive)
		rc = st_seal_attrs(st, r->address, sealed, r->sensitive, err);
	if (rc == 0)
		rc = insert_row(st, r, r->address, sealed, err);
	ws.dirty = rc == 0;
	rc = st_wend(st, &ws, rc, err);
done:
	st_leave(st);
	json_decref(sealed);
	return rc;
}

int sf_state_remove(struct sf_state *st, const char *address, struct sf_err *err)
{
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto done;
	if ((rc = st_prepare(st, "DELETE FROM resources WHERE address = ?1", &s, err)) == 0) {
		st_bind_text(s, 1, address);
		int src = sqlite3_step(s);
		if (src != SQLITE_DONE)
			rc = st_sqlfail(st, src, err, "removing a resource");
		else if (sqlite3_changes(st->db) == 0)
			rc = sf_fail(err, SF_ENOTFOUND, "no resource %s in state %s", address, st->path);
	}
	sqlite3_finalize(s);
	ws.dirty = rc == 0;
	rc = st_wend(st, &ws, rc, err);
done:
	st_leave(st);
	return rc;
}

/* Point other resources' dependency lists from src to dst. */
static int rename_deps(struct sf_state *st, const char *src, const char *dst, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st,
			    "UPDATE resources SET deps = (SELECT json_group_array(CASE value WHEN ?1 "
			    "THEN ?2 ELSE value END) FROM json_each(resources.deps)) "
			    "WHERE deps IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(resources.deps) "
			    "WHERE value = ?1)",
			    &s, err);
	if (rc < 0)
		return rc;
	st_bind_text(s, 1, src);
	st_bind_text(s, 2, dst);
	int sr = sqlite3_step(s);
	if (sr != SQLITE_DONE)
		rc = st_sqlfail(st, sr, err, "updating dependencies");
	sqlite3_finalize(s);
	return rc;
}

int sf_state_rename(struct sf_state *st, const char *src, const char *dst, struct sf_err *err)
{
	struct st_wscope ws;
	struct sf_resource *r = NULL, *other = NULL;
	sqlite3_stmt *s = NULL;
	json_t *sealed = NULL;
	if (!src || !dst || !*dst)
		return sf_fail(err, SF_EINVAL, "rename needs a source and a destination address");
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto out;
	if ((rc = st_prepare(st, "SELECT " RES_COLS " FROM resources WHERE address = ?1", &s, err)) < 0)
		goto done;
	st_bind_text(s, 1, src);
	int sr = sqlite3_step(s);
	if (sr == SQLITE_DONE) {
		rc = sf_fail(err, SF_ENOTFOUND, "no resource %s in state %s", src, st->path);
		goto done;
	}
	if (sr != SQLITE_ROW) {
		rc = st_sqlfail(st, sr, err, "reading a resource");
		goto done;
	}
	/* Decrypted: the AAD names the address, so secrets are re-sealed
	 * under the new one. */
	if ((rc = row_to_resource(st, s, 1, &r, err)) < 0)
		goto done;
	sqlite3_finalize(s);
	s = NULL;
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
	if ((rc = insert_row(st, r, dst, sealed, err)) < 0)
		goto done;
	if ((rc = st_prepare(st, "DELETE FROM resources WHERE address = ?1", &s, err)) < 0)
		goto done;
	st_bind_text(s, 1, src);
	sr = sqlite3_step(s);
	if (sr != SQLITE_DONE) {
		rc = st_sqlfail(st, sr, err, "removing the old address");
		goto done;
	}
	if ((rc = rename_deps(st, src, dst, err)) < 0)
		goto done;
	ws.dirty = 1;
done:
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	sf_resource_free(r);
	sf_resource_free(other);
	json_decref(sealed);
	return rc;
}
