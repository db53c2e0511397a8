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
	int64_t id = 0;
	int found = 0;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	struct st_arg a[6] = {run_id > 0 ? st_int(run_id) : st_null(), st_text(address), st_text(op),
			      st_text(token), st_text(detail_json), st_real(sf_now())};
	rc = st_qint(st, Q_J_INSERT, a, 6, &id, &found, err);
	if (rc < 0 && st->cons == ST_CONS_FOREIGN) {
		rc = sf_fail(err, SF_EINVAL, "journal intent for %s names run %lld, which does not exist",
			     address, (long long)run_id);
		goto done;
	}
	if (rc < 0) {
		sf_err_prefix(err, "writing a journal intent: ");
		goto done;
	}
	if (!found) {
		rc = sf_fail(err, SF_ERROR, "writing a journal intent in state %s returned no id", st->path);
		goto done;
	}
	if (out_id)
		*out_id = id;
	ws.dirty = 1;
done:
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
	int64_t n = 0;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	struct st_arg a[4] = {st_int(id), st_int(ok ? 1 : 0), st_text(result_json), st_real(sf_now())};
	if ((rc = st_qexec(st, Q_J_RESOLVE, a, 4, &n, err)) < 0) {
		sf_err_prefix(err, "writing a journal result: ");
		goto done;
	}
	if (n == 0) {
		int64_t exists = 0;
		if ((rc = st_qint(st, Q_J_EXISTS, a, 1, &exists, NULL, err)) < 0)
			goto done;
		rc = exists ? sf_fail(err, SF_ECONFLICT, "journal entry %lld already has a result",
				      (long long)id)
			    : sf_fail(err, SF_ENOTFOUND, "no journal entry %lld in state %s",
				      (long long)id, st->path);
		goto done;
	}
	ws.dirty = 1;
done:
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

/* Run a query returning J_COLS and collect the rows. */
static int collect(struct sf_state *st, enum st_q q, const struct st_arg *a, int na,
		   struct sf_journal_entry **out, size_t *n, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*out = NULL;
	*n = 0;
	int rc = st_q(st, q, a, na, &r, err);
	if (rc < 0)
		return sf_err_prefix(err, "reading the journal: ");
	struct sf_journal_entry *v = xcalloc(r.nrows + 1, sizeof *v);
	for (size_t i = 0; i < r.nrows; i++) {
		struct sf_journal_entry *e = &v[i];
		e->id = st_cell_int(&r, i, 0);
		e->run_id = st_cell_int(&r, i, 1);
		e->address = st_cell_dup(&r, i, 2);
		e->op = st_cell_dup(&r, i, 3);
		e->token = st_cell_dup(&r, i, 4);
		e->detail = st_cell_dup(&r, i, 5);
		e->done = (int)st_cell_int(&r, i, 6);
		e->ok = (int)st_cell_int(&r, i, 7);
		e->result = st_cell_dup(&r, i, 8);
		e->started = st_cell_real(&r, i, 9);
		e->finished = st_cell_real(&r, i, 10);
	}
	*out = v;
	*n = r.nrows;
	st_rows_release(&r);
	return 0;
}

int sf_journal_open(struct sf_state *st, struct sf_journal_entry **out, size_t *n, struct sf_err *err)
{
	st_enter(st);
	int rc = collect(st, Q_J_OPEN, NULL, 0, out, n, err);
	st_leave(st);
	return rc;
}

int sf_journal_list(struct sf_state *st, const char *address, size_t limit,
		    struct sf_journal_entry **out, size_t *n, struct sf_err *err)
{
	st_enter(st);
	/* The newest `limit` entries (like tail), returned oldest first. */
	struct st_arg a[2] = {st_text(address), st_int((int64_t)limit)};
	int rc = collect(st, Q_J_LIST, a, 2, out, n, err);
	st_leave(st);
	return rc;
}
