/*
 * journal.c - the operations journal: an intent row (with the idempotency
 * token) committed before every cloud call, the result right after.  A run
 * killed between the two leaves an "open" intent that the next apply finds
 * with sf_journal_open() and resolves by polling/adopting, not re-creating.
 *
 * Journal writes are state content: they bump the serial like resource
 * writes, and inside one sf_state_begin/commit they commit atomically with
 * the resource rows.  Never put secret values in detail or result.
 */
#include <string.h>

#include "state/internal.h"
#include "util.h"

#define J_COLS "id, run_id, address, op, token, detail, done, ok, result, started, finished"

static int valid_op(const char *op)
{
	static const char *const ops[] = {"create", "update", "delete", "read"};
	for (size_t i = 0; op && i < SF_ARRAY_LEN(ops); i++)
		if (!strcmp(op, ops[i]))
			return 1;
	return 0;
}

int sf_journal_intent(struct sf_state *st, int64_t run_id, const char *address, const char *op,
		      const char *token, const char *detail_json, int64_t *out_id, struct sf_err *err)
{
	if (!address || !*address)
		return sf_fail(err, SF_EINVAL, "journal intent needs a resource address");
	if (!valid_op(op))
		return sf_fail(err, SF_EINVAL, "journal intent for %s: unknown operation \"%s\"", address,
			       op ? op : "");
	int rc = st_check_json(detail_json, "journal detail", err);
	if (rc < 0)
		return rc;
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_prepare(st, "INSERT INTO journal(run_id, address, op, token, detail, started) "
				 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &s, err)) < 0)
		goto done;
	if (run_id > 0)
		sqlite3_bind_int64(s, 1, run_id);
	else
		sqlite3_bind_null(s, 1);
	st_bind_text(s, 2, address);
	st_bind_text(s, 3, op);
	st_bind_text(s, 4, token);
	st_bind_text(s, 5, detail_json);
	sqlite3_bind_double(s, 6, sf_now());
	int src = sqlite3_step(s);
	if (src == SQLITE_CONSTRAINT_FOREIGNKEY) {
		rc = sf_fail(err, SF_EINVAL, "journal intent for %s names run %lld, which does not exist",
			     address, (long long)run_id);
		goto done;
	}
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "writing a journal intent");
		goto done;
	}
	if (out_id)
		*out_id = sqlite3_last_insert_rowid(st->db);
	ws.dirty = 1;
done:
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}

int sf_journal_result(struct sf_state *st, int64_t id, int ok, const char *result_json,
		      struct sf_err *err)
{
	int rc = st_check_json(result_json, "journal result", err);
	if (rc < 0)
		return rc;
	struct st_wscope ws;
	sqlite3_stmt *s = NULL;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_prepare(st, "UPDATE journal SET done = 1, ok = ?2, result = ?3, finished = ?4 "
				 "WHERE id = ?1 AND done = 0", &s, err)) < 0)
		goto done;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, ok ? 1 : 0);
	st_bind_text(s, 3, result_json);
	sqlite3_bind_double(s, 4, sf_now());
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "writing a journal result");
		goto done;
	}
	if (sqlite3_changes(st->db) == 0) {
		sqlite3_finalize(s);
		s = NULL;
		int64_t exists = 0;
		if ((rc = st_prepare(st, "SELECT count(*) FROM journal WHERE id = ?1", &s, err)) < 0)
			goto done;
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) == SQLITE_ROW)
			exists = sqlite3_column_int64(s, 0);
		rc = exists ? sf_fail(err, SF_ECONFLICT, "journal entry %lld already has a result",
				      (long long)id)
			    : sf_fail(err, SF_ENOTFOUND, "no journal entry %lld in state %s",
				      (long long)id, st->path);
		goto done;
	}
	ws.dirty = 1;
done:
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}

void sf_journal_free(struct sf_journal_entry *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].address);
		free(v[i].op);
		free(v[i].token);
		free(v[i].detail);
		free(v[i].result);
	}
	free(v);
}

/* Run a query over J_COLS and collect the rows. */
static int collect(struct sf_state *st, sqlite3_stmt *s, struct sf_journal_entry **out, size_t *n,
		   struct sf_err *err)
{
	struct sf_journal_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	int src;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		struct sf_journal_entry *e = &v[cnt++];
		e->id = sqlite3_column_int64(s, 0);
		e->run_id = sqlite3_column_int64(s, 1);
		e->address = st_col_strdup(s, 2);
		e->op = st_col_strdup(s, 3);
		e->token = st_col_strdup(s, 4);
		e->detail = st_col_strdup(s, 5);
		e->done = sqlite3_column_int(s, 6);
		e->ok = sqlite3_column_int(s, 7);
		e->result = st_col_strdup(s, 8);
		e->started = sqlite3_column_double(s, 9);
		e->finished = sqlite3_column_double(s, 10);
	}
	if (src != SQLITE_DONE) {
		sf_journal_free(v, cnt);
		return st_sqlfail(st, src, err, "reading the journal");
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sf_journal_open(struct sf_state *st, struct sf_journal_entry **out, size_t *n, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	*out = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_prepare(st, "SELECT " J_COLS " FROM journal WHERE done = 0 ORDER BY id", &s, err);
	if (rc == 0)
		rc = collect(st, s, out, n, err);
	sqlite3_finalize(s);
	st_leave(st);
	return rc;
}

int sf_journal_list(struct sf_state *st, const char *address, size_t limit,
		    struct sf_journal_entry **out, size_t *n, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	*out = NULL;
	*n = 0;
	st_enter(st);
	/* The newest `limit` entries (like tail), returned oldest first. */
	int rc = st_prepare(st, "SELECT * FROM (SELECT " J_COLS " FROM journal "
				"WHERE ?1 IS NULL OR address = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
			    &s, err);
	if (rc == 0) {
		st_bind_text(s, 1, address);
		sqlite3_bind_int64(s, 2, limit ? (sqlite3_int64)limit : -1);
		rc = collect(st, s, out, n, err);
	}
	sqlite3_finalize(s);
	st_leave(st);
	return rc;
}
