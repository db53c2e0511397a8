/*
 * history.c - run history, snapshots and phase timings.
 *
 * These are bookkeeping, not state content: writing them does not bump the
 * serial (a run row written by `plan` must not make its own saved plan
 * stale).  The exception is sf_state_restore(), which rewrites resources and
 * therefore commits a new serial.
 *
 * Snapshot body (JSON, secrets stay sealed exactly as stored):
 *   {"format":1, "lineage":"...", "serial":N, "resources":[{row columns}]}
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "state/internal.h"
#include "util.h"

#define SNAPSHOT_KEEP 20
#define TIMING_KEEP 50

/* ---- runs --------------------------------------------------------------- */

int sf_state_run_begin(struct sf_state *st, const struct sf_run_info *ri, int64_t *out_id,
		       struct sf_err *err)
{
	if (!ri || !ri->command || !*ri->command)
		return sf_fail(err, SF_EINVAL, "a run needs a command name");
	int rc = st_check_json(ri->plan_summary, "plan summary", err);
	if (rc < 0)
		return rc;
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	int64_t serial = 0;
	char *who = xasprintf("%s@%s", sf_username(), sf_hostname());
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_serial(st, &serial, err)) < 0 ||
	    (rc = st_prepare(st, "INSERT INTO runs(started, who, host, pid, command, spec_digest, "
				 "git_sha, plan_summary, serial_before) VALUES "
				 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &s, err)) < 0)
		goto done;
	sqlite3_bind_double(s, 1, sf_now());
	st_bind_text(s, 2, who);
	st_bind_text(s, 3, sf_hostname());
	sqlite3_bind_int(s, 4, (int)getpid());
	st_bind_text(s, 5, ri->command);
	st_bind_text(s, 6, ri->spec_digest);
	st_bind_text(s, 7, ri->git_sha);
	st_bind_text(s, 8, ri->plan_summary);
	sqlite3_bind_int64(s, 9, serial);
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "recording a run");
		goto done;
	}
	if (out_id)
		*out_id = sqlite3_last_insert_rowid(st->db);
done:
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	free(who);
	return rc;
}

int sf_state_run_end(struct sf_state *st, int64_t run_id, const char *result, const char *summary,
		     struct sf_err *err)
{
	if (!result || (strcmp(result, "ok") && strcmp(result, "error") && strcmp(result, "interrupted")))
		return sf_fail(err, SF_EINVAL, "run result must be ok, error or interrupted (got \"%s\")",
			       result ? result : "");
	int rc = st_check_json(summary, "run summary", err);
	if (rc < 0)
		return rc;
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	int64_t serial = 0;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_serial(st, &serial, err)) < 0 ||
	    (rc = st_prepare(st, "UPDATE runs SET finished = ?2, result = ?3, summary = ?4, "
				 "serial_after = ?5 WHERE id = ?1 AND result IS NULL", &s, err)) < 0)
		goto done;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_double(s, 2, sf_now());
	st_bind_text(s, 3, result);
	st_bind_text(s, 4, summary);
	/* Inside an explicit transaction with pending writes, the serial
	 * those writes will commit as. */
	sqlite3_bind_int64(s, 5, serial + (!ws.implicit && st->tx_dirty ? 1 : 0));
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "recording the end of a run");
	else if (sqlite3_changes(st->db) == 0)
		rc = sf_fail(err, SF_ENOTFOUND, "no unfinished run %lld in state %s", (long long)run_id,
			     st->path);
done:
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}

void sf_run_free(struct sf_run *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].who);
		free(v[i].host);
		free(v[i].command);
		free(v[i].spec_digest);
		free(v[i].git_sha);
		free(v[i].plan_summary);
		free(v[i].result);
		free(v[i].summary);
	}
	free(v);
}

int sf_state_runs(struct sf_state *st, struct sf_run **out, size_t *n, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	struct sf_run *v = NULL;
	size_t cnt = 0, cap = 0;
	int src;
	*out = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_prepare(st, "SELECT id, started, finished, who, host, command, spec_digest, git_sha, "
				"plan_summary, result, summary, serial_before, serial_after "
				"FROM runs ORDER BY id DESC", &s, err);
	if (rc < 0)
		goto done;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		struct sf_run *r = &v[cnt++];
		r->id = sqlite3_column_int64(s, 0);
		r->started = sqlite3_column_double(s, 1);
		r->finished = sqlite3_column_double(s, 2);
		r->who = st_col_strdup(s, 3);
		r->host = st_col_strdup(s, 4);
		r->command = st_col_strdup(s, 5);
		r->spec_digest = st_col_strdup(s, 6);
		r->git_sha = st_col_strdup(s, 7);
		r->plan_summary = st_col_strdup(s, 8);
		r->result = st_col_strdup(s, 9);
		r->summary = st_col_strdup(s, 10);
		r->serial_before = sqlite3_column_int64(s, 11);
		r->serial_after = sqlite3_column_int64(s, 12);
	}
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "reading run history");
		goto done;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
done:
	sqlite3_finalize(s);
	sf_run_free(v, cnt);
	st_leave(st);
	return rc;
}

/* ---- snapshots ------------------------------------------------------------ */

/* JSON text of every resource row as stored (secrets sealed). */
static int snapshot_body(struct sf_state *st, int64_t serial, char **out, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	json_t *list = json_array();
	int rc = st_prepare(st, "SELECT address, type, id, status, attrs, sensitive, deps, token, "
				"schema_version, updated_at FROM resources ORDER BY address", &s, err);
	int src = SQLITE_DONE;
	if (rc < 0)
		goto done;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *row = json_object();
		static const char *const text_cols[] = {"address", "type", "id", "status"};
		for (int i = 0; i < 4; i++) {
			const char *t = (const char *)sqlite3_column_text(s, i);
			json_object_set_new(row, text_cols[i], t ? json_string(t) : json_null());
		}
		static const char *const json_cols[] = {"attrs", "sensitive", "deps"};
		for (int i = 0; i < 3; i++) {
			const char *t = (const char *)sqlite3_column_text(s, 4 + i);
			json_t *j = t ? json_loads(t, 0, NULL) : json_null();
			if (!j) {
				json_decref(row);
				rc = sf_fail(err, SF_ECORRUPT, "resource %s in state %s has unreadable %s",
					     (const char *)sqlite3_column_text(s, 0), st->path, json_cols[i]);
				goto done;
			}
			json_object_set_new(row, json_cols[i], j);
		}
		const char *tok = (const char *)sqlite3_column_text(s, 7);
		json_object_set_new(row, "token", tok ? json_string(tok) : json_null());
		json_object_set_new(row, "schema_version", json_integer(sqlite3_column_int(s, 8)));
		json_object_set_new(row, "updated_at", json_real(sqlite3_column_double(s, 9)));
		json_array_append_new(list, row);
	}
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "reading resources for a snapshot");
		goto done;
	}
	json_t *doc = json_pack("{s:i, s:s, s:I, s:O}", "format", 1, "lineage", st->lineage, "serial",
				(json_int_t)serial, "resources", list);
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
done:
	sqlite3_finalize(s);
	json_decref(list);
	return rc;
}

/* Store a snapshot of the current rows at `serial` and prune old ones.
 * Caller holds a write scope. */
static int snapshot_at(struct sf_state *st, int64_t serial, struct sf_err *err)
{
	char *body = NULL;
	sqlite3_stmt *s = NULL;
	if (!sf_state_lineage(st))
		return sf_fail(err, SF_ECORRUPT, "state file %s has no lineage", st->path);
	int rc = snapshot_body(st, serial, &body, err);
	if (rc < 0)
		return rc;
	if ((rc = st_prepare(st, "INSERT OR REPLACE INTO snapshots(serial, created, body) "
				 "VALUES (?1, ?2, ?3)", &s, err)) < 0)
		goto done;
	sqlite3_bind_int64(s, 1, serial);
	sqlite3_bind_double(s, 2, sf_now());
	st_bind_text(s, 3, body);
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "writing a snapshot");
		goto done;
	}
	rc = st_exec(st, "DELETE FROM snapshots WHERE serial NOT IN "
			 "(SELECT serial FROM snapshots ORDER BY serial DESC LIMIT 20)", err);
done:
	sqlite3_finalize(s);
	free(body);
	return rc;
}

int sf_state_snapshot(struct sf_state *st, struct sf_err *err)
{
	struct st_wscope ws;
	int64_t serial = 0;
	st_enter(st);
	int rc = 0;
	if (st->in_tx && st->tx_dirty) {
		rc = sf_fail(err, SF_EINVAL, "cannot snapshot state %s with uncommitted writes; commit "
					     "first", st->path);
		goto out;
	}
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_serial(st, &serial, err)) == 0)
		rc = snapshot_at(st, serial, err);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}

int sf_state_snapshots(struct sf_state *st, int64_t **serials, double **times, size_t *n,
		       struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	int64_t *sv = NULL;
	double *tv = NULL;
	size_t cnt = 0, cap = 0;
	int src;
	*serials = NULL;
	if (times)
		*times = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_prepare(st, "SELECT serial, created FROM snapshots ORDER BY serial DESC", &s, err);
	if (rc < 0)
		goto done;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : SNAPSHOT_KEEP;
			sv = xrealloc(sv, cap * sizeof *sv);
			tv = xrealloc(tv, cap * sizeof *tv);
		}
		sv[cnt] = sqlite3_column_int64(s, 0);
		tv[cnt] = sqlite3_column_double(s, 1);
		cnt++;
	}
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "listing snapshots");
		goto done;
	}
	*serials = sv;
	if (times)
		*times = tv;
	else
		free(tv);
	*n = cnt;
	sv = NULL;
	tv = NULL;
done:
	sqlite3_finalize(s);
	free(sv);
	free(tv);
	st_leave(st);
	return rc;
}

static int insert_snapshot_row(struct sf_state *st, json_t *row, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	char *attrs = json_dumps(json_object_get(row, "attrs"), JSON_COMPACT | JSON_SORT_KEYS);
	json_t *sens = json_object_get(row, "sensitive"), *deps = json_object_get(row, "deps");
	char *sens_t = json_is_null(sens) || !sens ? NULL : json_dumps(sens, JSON_COMPACT);
	char *deps_t = json_is_null(deps) || !deps ? NULL : json_dumps(deps, JSON_COMPACT);
	const char *addr = json_string_value(json_object_get(row, "address"));
	int rc = 0;
	if (!addr || !attrs || !json_string_value(json_object_get(row, "type"))) {
		rc = sf_fail(err, SF_ECORRUPT, "a snapshot in state %s has a malformed resource row",
			     st->path);
		goto done;
	}
	if ((rc = st_prepare(st, "INSERT INTO resources(address, type, id, status, attrs, sensitive, "
				 "deps, token, schema_version, updated_at) VALUES "
				 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &s, err)) < 0)
		goto done;
	st_bind_text(s, 1, addr);
	st_bind_text(s, 2, json_string_value(json_object_get(row, "type")));
	st_bind_text(s, 3, json_string_value(json_object_get(row, "id")));
	st_bind_text(s, 4, json_string_value(json_object_get(row, "status")));
	st_bind_text(s, 5, attrs);
	st_bind_text(s, 6, sens_t);
	st_bind_text(s, 7, deps_t);
	st_bind_text(s, 8, json_string_value(json_object_get(row, "token")));
	sqlite3_bind_int(s, 9, (int)json_integer_value(json_object_get(row, "schema_version")));
	sqlite3_bind_double(s, 10, sf_now());
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "restoring a resource");
done:
	sqlite3_finalize(s);
	free(attrs);
	free(sens_t);
	free(deps_t);
	return rc;
}

int sf_state_restore(struct sf_state *st, int64_t serial, struct sf_err *err)
{
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	json_t *doc = NULL;
	int64_t cur = 0;
	st_enter(st);
	int rc = 0;
	if (st->in_tx && st->tx_dirty) {
		rc = sf_fail(err, SF_EINVAL, "cannot restore state %s with uncommitted writes; commit "
					     "first", st->path);
		goto out;
	}
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_prepare(st, "SELECT body FROM snapshots WHERE serial = ?1", &s, err)) < 0)
		goto done;
	sqlite3_bind_int64(s, 1, serial);
	int src = sqlite3_step(s);
	if (src == SQLITE_DONE) {
		rc = sf_fail(err, SF_ENOTFOUND, "no snapshot at serial %lld in state %s",
			     (long long)serial, st->path);
		sf_err_hint(err, "list the kept snapshots with `secfaas state history`");
		goto done;
	}
	if (src != SQLITE_ROW) {
		rc = st_sqlfail(st, src, err, "reading a snapshot");
		goto done;
	}
	doc = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
	json_t *rows = json_object_get(doc, "resources");
	if (!json_is_array(rows) || json_integer_value(json_object_get(doc, "format")) != 1) {
		rc = sf_fail(err, SF_ECORRUPT, "snapshot %lld in state %s is unreadable",
			     (long long)serial, st->path);
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	/* Keep what we are about to overwrite, so a restore can be undone. */
	if ((rc = st_serial(st, &cur, err)) < 0 || (rc = snapshot_at(st, cur, err)) < 0 ||
	    (rc = st_exec(st, "DELETE FROM resources", err)) < 0)
		goto done;
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		if ((rc = insert_snapshot_row(st, row, err)) < 0)
			goto done;
	}
	ws.dirty = 1;
done:
	sqlite3_finalize(s);
	json_decref(doc);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}

/* ---- phase timings --------------------------------------------------------- */

int sf_state_timing_add(struct sf_state *st, const char *type, const char *phase, double seconds,
			struct sf_err *err)
{
	if (!type || !phase || !(seconds >= 0))
		return sf_fail(err, SF_EINVAL, "a phase timing needs a type, a phase and seconds >= 0");
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto out;
	if ((rc = st_prepare(st, "INSERT INTO phase_timings(type, phase, seconds, at) "
				 "VALUES (?1, ?2, ?3, ?4)", &s, err)) < 0)
		goto done;
	st_bind_text(s, 1, type);
	st_bind_text(s, 2, phase);
	sqlite3_bind_double(s, 3, seconds);
	sqlite3_bind_double(s, 4, sf_now());
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "recording a phase timing");
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	/* Keep the newest samples per (type, phase): "typical" should
	 * follow how AWS behaves now, not two years ago. */
	if ((rc = st_prepare(st, "DELETE FROM phase_timings WHERE type = ?1 AND phase = ?2 AND id NOT IN "
				 "(SELECT id FROM phase_timings WHERE type = ?1 AND phase = ?2 "
				 "ORDER BY id DESC LIMIT 50)", &s, err)) < 0)
		goto done;
	st_bind_text(s, 1, type);
	st_bind_text(s, 2, phase);
	src = sqlite3_step(s);
	if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "pruning phase timings");
done:
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int sf_state_timing_typical(struct sf_state *st, const char *type, const char *phase, double *lo,
			    double *hi, size_t *n, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	double v[TIMING_KEEP];
	size_t cnt = 0;
	int src;
	*lo = *hi = 0;
	*n = 0;
	st_enter(st);
	int rc = st_prepare(st, "SELECT seconds FROM phase_timings WHERE type = ?1 AND phase = ?2 "
				"ORDER BY id DESC LIMIT 50", &s, err);
	if (rc < 0)
		goto done;
	st_bind_text(s, 1, type);
	st_bind_text(s, 2, phase);
	while ((src = sqlite3_step(s)) == SQLITE_ROW && cnt < TIMING_KEEP)
		v[cnt++] = sqlite3_column_double(s, 0);
	if (src != SQLITE_DONE && src != SQLITE_ROW) {
		rc = st_sqlfail(st, src, err, "reading phase timings");
		goto done;
	}
	if (cnt) {
		/* 10th to 90th percentile (nearest rank): the range most runs fall in. */
		qsort(v, cnt, sizeof v[0], cmp_double);
		*lo = v[(size_t)floor(0.1 * (double)(cnt - 1) + 0.5)];
		*hi = v[(size_t)floor(0.9 * (double)(cnt - 1) + 0.5)];
	}
	*n = cnt;
done:
	sqlite3_finalize(s);
	st_leave(st);
	return rc;
}
