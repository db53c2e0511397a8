/*
 * copy.c - copying a whole state between handles (and so between backends):
 * `state migrate` to or from a shared database, `state pull` to a file.
 *
 * The copy keeps the identity (lineage and serial) and the history (journal
 * and run ids, snapshots, timings) exactly, so saved plans and the journal
 * stay valid on the other side.  Secrets are opened with the source's key
 * and sealed again with the destination's (they usually differ: a file's
 * key file versus a team passphrase or KMS data key), in resources and in
 * every snapshot.  The whole copy is one transaction on the destination,
 * written as bookkeeping so the serial is set, not bumped.
 */
#include <string.h>

#include "state/internal.h"
#include "util.h"

/* Re-seal the sensitive attributes of each row of a snapshot body. */
static int reseal_body(struct sf_state *dst, struct sf_state *src, const char *body, char **out,
		       struct sf_err *err)
{
	json_error_t je;
	json_t *doc = json_loads(body, 0, &je);
	int rc = 0;
	*out = NULL;
	if (!doc || !json_is_array(json_object_get(doc, "resources"))) {
		json_decref(doc);
		return sf_fail(err, SF_ECORRUPT, "a snapshot in state %s is unreadable", src->path);
	}
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(doc, "resources"), i, row) {
		const char *addr = json_string_value(json_object_get(row, "address"));
		json_t *sens = json_object_get(row, "sensitive"), *attrs = json_object_get(row, "attrs");
		if (!addr || !json_is_array(sens) || !json_array_size(sens) || !json_is_object(attrs))
			continue;
		st_enter(src);
		rc = st_open_attrs(src, addr, attrs, sens, err);
		st_leave(src);
		if (rc == 0)
			rc = st_seal_attrs(dst, addr, attrs, sens, err);
		if (rc < 0)
			goto done;
	}
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
done:
	json_decref(doc);
	return rc;
}

/* Key material belongs to each side's own key; never copied. */
static int own_key_meta(const char *k)
{
	static const char *const own[] = {"kdf_salt", "key_check", "key_source", "kms_key_id",
					  "kms_wrapped_key", "secfaas_version"};
	for (size_t i = 0; i < SF_ARRAY_LEN(own); i++)
		if (!strcmp(k, own[i]))
			return 1;
	return 0;
}

/* 1 when dst holds nothing yet (serial 0, no resources, no runs). */
static int is_new(struct sf_state *dst, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT, runs = ST_ROWS_INIT;
	int64_t serial = 0;
	int rc = st_serial(dst, &serial, err);
	if (rc == 0)
		rc = st_q(dst, Q_RES_LIST, NULL, 0, &r, err);
	if (rc == 0)
		rc = st_q(dst, Q_RUN_LIST, NULL, 0, &runs, err);
	int fresh = rc == 0 && serial == 0 && r.nrows == 0 && runs.nrows == 0;
	st_rows_release(&r);
	st_rows_release(&runs);
	return rc < 0 ? rc : fresh;
}

struct source {
	char lineage[37];
	int64_t serial;
	char **mk, **mv;
	size_t nm;
	struct sf_resource **res;
	size_t nres;
	struct sf_journal_entry *j;
	size_t nj;
	struct sf_run *runs;
	size_t nruns;
	struct st_rows snaps, snapbodies, timings;
};

static void source_release(struct source *s)
{
	for (size_t i = 0; i < s->nm; i++) {
		free(s->mk[i]);
		free(s->mv[i]);
	}
	free(s->mk);
	free(s->mv);
	sf_resource_list_free(s->res, s->nres);
	sf_journal_free(s->j, s->nj);
	sf_run_free(s->runs, s->nruns);
	st_rows_release(&s->snaps);
	st_rows_release(&s->snapbodies);
	st_rows_release(&s->timings);
}

static int read_source(struct sf_state *src, struct source *s, struct sf_err *err)
{
	int rc;
	src->lineage[0] = 0; /* read now, beside the serial, not from the open */
	const char *lin = sf_state_lineage(src);
	if (!lin)
		return sf_fail(err, SF_ECORRUPT, "state %s has no lineage", src->path);
	snprintf(s->lineage, sizeof s->lineage, "%s", lin);
	if ((s->serial = sf_state_serial(src)) < 0)
		return sf_fail(err, SF_EIO, "cannot read the serial of state %s", src->path);
	if ((rc = sf_state_meta_list(src, "", &s->mk, &s->mv, &s->nm, err)) < 0 ||
	    (rc = sf_state_list(src, &s->res, &s->nres, err)) < 0 ||
	    (rc = sf_journal_list(src, NULL, 0, &s->j, &s->nj, err)) < 0 ||
	    (rc = sf_state_runs(src, &s->runs, &s->nruns, err)) < 0)
		return rc;
	st_enter(src);
	rc = st_q(src, Q_SNAP_LIST, NULL, 0, &s->snaps, err);
	if (rc == 0)
		rc = st_q(src, Q_TIM_ALL, NULL, 0, &s->timings, err);
	s->snapbodies.ncols = 1;
	for (size_t i = 0; rc == 0 && i < s->snaps.nrows; i++) {
		char *body = NULL;
		struct st_arg a[1] = {st_int(st_cell_int(&s->snaps, i, 0))};
		rc = st_qtext(src, Q_SNAP_GET, a, 1, &body, err);
		char *cells[1] = {body};
		if (rc == 0)
			st_rows_add(&s->snapbodies, cells, NULL);
		else
			free(body);
	}
	st_leave(src);
	return rc;
}

static int write_all(struct sf_state *dst, struct sf_state *src, struct source *s, struct sf_err *err)
{
	int rc;
	struct st_arg id[2] = {st_text(s->lineage), st_int(s->serial)};
	if ((rc = st_qexec(dst, Q_IDENTITY_SET, id, 2, NULL, err)) < 0)
		return rc;
	for (size_t i = 0; i < s->nm; i++) {
		if (own_key_meta(s->mk[i]) || !strcmp(s->mk[i], "lineage") || !strcmp(s->mk[i], "serial"))
			continue;
		struct st_arg a[2] = {st_text(s->mk[i]), st_text(s->mv[i])};
		if ((rc = st_qexec(dst, Q_META_PUT, a, 2, NULL, err)) < 0)
			return rc;
	}
	for (size_t i = 0; i < s->nres; i++) {
		struct sf_resource *r = s->res[i];
		json_t *sealed = r->attrs ? json_deep_copy(r->attrs) : json_object();
		if (r->sensitive && (rc = st_seal_attrs(dst, r->address, sealed, r->sensitive, err)) < 0) {
			json_decref(sealed);
			return rc;
		}
		json_t *row = json_pack("{s:s, s:o, s:s, s:o, s:O, s:O, s:o, s:i, s:f}", "type", r->type, "id",
					r->id ? json_string(r->id) : json_null(), "status",
					sf_rstatus_name(r->status), "attrs", sealed, "sensitive",
					r->sensitive ? r->sensitive : json_null(), "deps",
					r->deps ? r->deps : json_null(), "token",
					r->token ? json_string(r->token) : json_null(), "schema_version",
					r->schema_version, "updated_at", r->updated_at);
		rc = st_row_write(dst, r->address, row, err);
		json_decref(row);
		if (rc < 0)
			return rc;
	}
	/* runs before the journal rows that name them, oldest first */
	for (size_t k = s->nruns; k-- > 0;) {
		struct sf_run *x = &s->runs[k];
		struct st_arg a[14] = {st_int(x->id),		  st_real(x->started),	   st_real(x->finished),
				       st_text(x->who),		  st_text(x->host),	   st_text(x->command),
				       st_text(x->spec_digest),	  st_text(x->git_sha),	   st_text(x->plan_summary),
				       st_text(x->result),	  st_text(x->summary),	   st_int(x->serial_before),
				       st_int(x->serial_after),	  st_int(x->pid)};
		if ((rc = st_qexec(dst, Q_RUN_INSERT_RAW, a, 14, NULL, err)) < 0) {
			sf_err_prefix(err, "copying run %lld: ", (long long)x->id);
			return rc;
		}
	}
	for (size_t k = 0; k < s->nj; k++) {
		struct sf_journal_entry *e = &s->j[k];
		struct st_arg a[11] = {st_int(e->id),	     e->run_id > 0 ? st_int(e->run_id) : st_null(),
				       st_text(e->address), st_text(e->op),
				       st_text(e->token),   st_text(e->detail),
				       st_int(e->done),	    st_int(e->ok),
				       st_text(e->result),  st_real(e->started),
				       st_real(e->finished)};
		if ((rc = st_qexec(dst, Q_J_INSERT_RAW, a, 11, NULL, err)) < 0) {
			sf_err_prefix(err, "copying journal entry %lld: ", (long long)e->id);
			return rc;
		}
	}
	for (size_t k = 0; k < s->snaps.nrows; k++) {
		char *body = NULL;
		if ((rc = reseal_body(dst, src, st_cell(&s->snapbodies, k, 0), &body, err)) < 0)
			return rc;
		struct st_arg a[3] = {st_int(st_cell_int(&s->snaps, k, 0)), st_real(st_cell_real(&s->snaps, k, 1)),
				      st_text(body)};
		rc = st_qexec(dst, Q_SNAP_PUT, a, 3, NULL, err);
		free(body);
		if (rc < 0)
			return rc;
	}
	for (size_t k = 0; k < s->timings.nrows; k++) {
		struct st_arg a[4] = {st_text(st_cell(&s->timings, k, 0)), st_text(st_cell(&s->timings, k, 1)),
				      st_real(st_cell_real(&s->timings, k, 2)),
				      st_real(st_cell_real(&s->timings, k, 3))};
		if ((rc = st_qexec(dst, Q_TIM_ADD, a, 4, NULL, err)) < 0)
			return rc;
	}
	return 0;
}

int sf_state_copy(struct sf_state *dst, struct sf_state *src, struct sf_err *err)
{
	struct source s;
	struct st_wscope ws;
	memset(&s, 0, sizeof s);
	if (dst == src)
		return sf_fail(err, SF_EINVAL, "cannot copy a state onto itself");
	if (dst->in_tx || src->in_tx)
		return sf_fail(err, SF_EINVAL, "cannot copy state inside a transaction");
	int rc = read_source(src, &s, err);
	if (rc < 0)
		goto out;
	st_enter(dst);
	if ((rc = st_wbegin(dst, &ws, err)) < 0)
		goto leave;
	dst->lineage[0] = 0; /* read it again under the write lock, not from the open */
	const char *dl = sf_state_lineage(dst);
	int64_t dserial = 0;
	if ((rc = st_serial(dst, &dserial, err)) < 0)
		goto done;
	if (dl && !strcmp(dl, s.lineage)) {
		if (dserial == s.serial)
			goto done; /* already there: nothing to write */
		rc = sf_fail(err, SF_ECONFLICT, "state %s already holds lineage %s at serial %lld, the source "
						"%s is at serial %lld",
			     dst->path, s.lineage, (long long)dserial, src->path, (long long)s.serial);
		sf_err_hint(err, "the two copies went separate ways; keep the one you want and remove the other");
		goto done;
	}
	int fresh = is_new(dst, err);
	if (fresh < 0) {
		rc = fresh;
		goto done;
	}
	if (!fresh) {
		rc = sf_fail(err, SF_ECONFLICT, "state %s already holds another state (lineage %s, serial %lld); "
						"refusing to overwrite it with lineage %s",
			     dst->path, dl ? dl : "?", (long long)dserial, s.lineage);
		sf_err_hint(err, "choose another workspace or location, or remove that state first");
		goto done;
	}
	if ((rc = write_all(dst, src, &s, err)) < 0)
		goto done;
	snprintf(dst->lineage, sizeof dst->lineage, "%s", s.lineage);
done:
	ws.dirty = 0; /* identity is set, not bumped */
	rc = st_wend(dst, &ws, rc, err);
	if (rc == 0)
		dst->serial_seen = s.serial;
	else
		dst->lineage[0] = 0; /* whatever was written is gone: read it again */
leave:
	st_leave(dst);
out:
	source_release(&s);
	return rc;
}
