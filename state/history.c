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
	int64_t serial = 0, id = 0;
	char *who = xasprintf("%s@%s", sf_username(), sf_hostname());
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_serial(st, &serial, err)) < 0)
		goto done;
	struct st_arg a[9] = {st_real(sf_now()),      st_text(who),		st_text(sf_hostname()),
			      st_int(getpid()),	      st_text(ri->command),	st_text(ri->spec_digest),
			      st_text(ri->git_sha),   st_text(ri->plan_summary), st_int(serial)};
	if ((rc = st_qint(st, Q_RUN_INSERT, a, 9, &id, NULL, err)) < 0) {
		sf_err_prefix(err, "recording a run: ");
		goto done;
	}
	if (out_id)
		*out_id = id;
done:
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
	int64_t serial = 0, n = 0;
	st_enter(st);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		goto out;
	if ((rc = st_serial(st, &serial, err)) < 0)
		goto done;
	/* Inside an explicit transaction with pending writes, the serial
	 * those writes will commit as. */
	struct st_arg a[5] = {st_int(run_id), st_real(sf_now()), st_text(result), st_text(summary),
			      st_int(serial + (!ws.implicit && st->tx_dirty ? 1 : 0))};
	if ((rc = st_qexec(st, Q_RUN_END, a, 5, &n, err)) < 0)
		sf_err_prefix(err, "recording the end of a run: ");
	else if (n == 0)
		rc = sf_fail(err, SF_ENOTFOUND, "no unfinished run %lld in state %s", (long long)run_id,
			     st->path);
done:
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
	struct st_rows r = ST_ROWS_INIT;
	*out = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_q(st, Q_RUN_LIST, NULL, 0, &r, err);
	if (rc < 0) {
		sf_err_prefix(err, "reading run history: ");
		goto done;
	}
	struct sf_run *v = xcalloc(r.nrows + 1, sizeof *v);
	for (size_t i = 0; i < r.nrows; i++) {
		struct sf_run *x = &v[i];
		x->id = st_cell_int(&r, i, 0);
		x->started = st_cell_real(&r, i, 1);
		x->finished = st_cell_real(&r, i, 2);
		x->who = st_cell_dup(&r, i, 3);
		x->host = st_cell_dup(&r, i, 4);
		x->command = st_cell_dup(&r, i, 5);
		x->spec_digest = st_cell_dup(&r, i, 6);
		x->git_sha = st_cell_dup(&r, i, 7);
		x->plan_summary = st_cell_dup(&r, i, 8);
		x->result = st_cell_dup(&r, i, 9);
		x->summary = st_cell_dup(&r, i, 10);
		x->serial_before = st_cell_int(&r, i, 11);
		x->serial_after = st_cell_int(&r, i, 12);
		x->pid = (int)st_cell_int(&r, i, 13);
	}
	*out = v;
	*n = r.nrows;
done:
	st_rows_release(&r);
	st_leave(st);
	return rc;
}

/* ---- snapshots ------------------------------------------------------------ */

/* Store a snapshot of the current rows at `serial` and prune old ones.
 * Caller holds a write scope. */
static int snapshot_at(struct sf_state *st, int64_t serial, struct sf_err *err)
{
	json_t *list = NULL;
	if (!sf_state_lineage(st))
		return sf_fail(err, SF_ECORRUPT, "state %s has no lineage", st->path);
	int rc = st_rows_read_all(st, &list, err);
	if (rc < 0)
		return rc;
	json_t *doc = json_pack("{s:i, s:s, s:I, s:o}", "format", 1, "lineage", st->lineage, "serial",
				(json_int_t)serial, "resources", list);
	char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	struct st_arg a[3] = {st_int(serial), st_real(sf_now()), st_text(body)};
	if ((rc = st_qexec(st, Q_SNAP_PUT, a, 3, NULL, err)) < 0 ||
	    (rc = st_qexec(st, Q_SNAP_PRUNE, NULL, 0, NULL, err)) < 0)
		sf_err_prefix(err, "writing a snapshot: ");
	free(body);
	return rc;
}

int st_snapshot_now(struct sf_state *st, int64_t *serial, struct sf_err *err)
{
	struct st_wscope ws;
	int rc = 0;
	*serial = 0;
	if (st->in_tx && st->tx_dirty)
		return sf_fail(err, SF_EINVAL, "cannot snapshot state %s with uncommitted writes; commit "
					       "first", st->path);
	if ((rc = st_wbegin(st, &ws, err)) < 0)
		return rc;
	if ((rc = st_serial(st, serial, err)) == 0)
		rc = snapshot_at(st, *serial, err);
	return st_wend(st, &ws, rc, err);
}

int sf_state_snapshot(struct sf_state *st, struct sf_err *err)
{
	int64_t serial = 0;
	st_enter(st);
	int rc = st_snapshot_now(st, &serial, err);
	st_leave(st);
	return rc;
}

int sf_state_snapshots(struct sf_state *st, int64_t **serials, double **times, size_t *n,
		       struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*serials = NULL;
	if (times)
		*times = NULL;
	*n = 0;
	st_enter(st);
	int rc = st_q(st, Q_SNAP_LIST, NULL, 0, &r, err);
	if (rc < 0) {
		sf_err_prefix(err, "listing snapshots: ");
		goto done;
	}
	int64_t *sv = xcalloc(r.nrows + 1, sizeof *sv);
	double *tv = xcalloc(r.nrows + 1, sizeof *tv);
	for (size_t i = 0; i < r.nrows; i++) {
		sv[i] = st_cell_int(&r, i, 0);
		tv[i] = st_cell_real(&r, i, 1);
	}
	*serials = sv;
	if (times)
		*times = tv;
	else
		free(tv);
	*n = r.nrows;
done:
	st_rows_release(&r);
	st_leave(st);
	return rc;
}

int sf_state_restore(struct sf_state *st, int64_t serial, struct sf_err *err)
{
	struct st_wscope ws;
	json_t *doc = NULL;
	char *body = NULL;
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
	struct st_arg a[1] = {st_int(serial)};
	if ((rc = st_qtext(st, Q_SNAP_GET, a, 1, &body, err)) < 0)
		goto done;
	if (!body) {
		rc = sf_fail(err, SF_ENOTFOUND, "no snapshot at serial %lld in state %s",
			     (long long)serial, st->path);
		sf_err_hint(err, "list the kept snapshots with `secfaas state history`");
		goto done;
	}
	doc = json_loads(body, 0, NULL);
	json_t *rows = json_object_get(doc, "resources");
	if (!json_is_array(rows) || json_integer_value(json_object_get(doc, "format")) != 1) {
		rc = sf_fail(err, SF_ECORRUPT, "snapshot %lld in state %s is unreadable",
			     (long long)serial, st->path);
		goto done;
	}
	/* Keep what we are about to overwrite, so a restore can be undone. */
	if ((rc = st_serial(st, &cur, err)) < 0 || (rc = snapshot_at(st, cur, err)) < 0 ||
	    (rc = st_qexec(st, Q_RES_DEL_ALL, NULL, 0, NULL, err)) < 0)
		goto done;
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		const char *addr = json_string_value(json_object_get(row, "address"));
		if (!addr || !json_string_value(json_object_get(row, "type")) ||
		    !json_is_object(json_object_get(row, "attrs"))) {
			rc = sf_fail(err, SF_ECORRUPT, "a snapshot in state %s has a malformed resource row",
				     st->path);
			goto done;
		}
		json_object_set_new(row, "updated_at", json_real(sf_now()));
		if ((rc = st_row_write(st, addr, row, err)) < 0)
			goto done;
	}
	ws.dirty = 1;
done:
	free(body);
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
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto out;
	struct st_arg a[4] = {st_text(type), st_text(phase), st_real(seconds), st_real(sf_now())};
	/* Keep the newest samples per (type, phase): "typical" should
	 * follow how AWS behaves now, not two years ago. */
	if ((rc = st_qexec(st, Q_TIM_ADD, a, 4, NULL, err)) < 0 ||
	    (rc = st_qexec(st, Q_TIM_PRUNE, a, 2, NULL, err)) < 0)
		sf_err_prefix(err, "recording a phase timing: ");
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
	struct st_rows r = ST_ROWS_INIT;
	double v[TIMING_KEEP];
	size_t cnt = 0;
	*lo = *hi = 0;
	*n = 0;
	st_enter(st);
	struct st_arg a[2] = {st_text(type), st_text(phase)};
	int rc = st_q(st, Q_TIM_LIST, a, 2, &r, err);
	if (rc < 0) {
		sf_err_prefix(err, "reading phase timings: ");
		goto done;
	}
	for (size_t i = 0; i < r.nrows && cnt < TIMING_KEEP; i++)
		v[cnt++] = st_cell_real(&r, i, 0);
	if (cnt) {
		/* 10th to 90th percentile (nearest rank): the range most runs fall in. */
		qsort(v, cnt, sizeof v[0], cmp_double);
		*lo = v[(size_t)floor(0.1 * (double)(cnt - 1) + 0.5)];
		*hi = v[(size_t)floor(0.9 * (double)(cnt - 1) + 0.5)];
	}
	*n = cnt;
done:
	st_rows_release(&r);
	st_leave(st);
	return rc;
}
