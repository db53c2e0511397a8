/*
 * store.c - opening a state (choosing its backend), the query helpers and
 * write scopes the other state/ files build on, explicit transactions with
 * the serial compare-and-swap, meta keys, backup, idempotency tokens.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "state/internal.h"
#include "util.h"

#ifndef SECFAAS_VERSION
#define SECFAAS_VERSION "0.0.0"
#endif

int sf_state_schema_version(void)
{
	return st_sqlite_schema_version();
}

/* ---- result rows ------------------------------------------------------- */

void st_rows_release(struct st_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cell[i]);
	free(r->cell);
	free(r->len);
	memset(r, 0, sizeof *r);
}

void st_rows_add(struct st_rows *r, char **cells, const size_t *lens)
{
	size_t k = r->nrows * r->ncols;
	r->cell = xrealloc(r->cell, (k + r->ncols) * sizeof *r->cell);
	r->len = xrealloc(r->len, (k + r->ncols) * sizeof *r->len);
	for (size_t c = 0; c < r->ncols; c++) {
		r->cell[k + c] = cells[c];
		r->len[k + c] = lens ? lens[c] : (cells[c] ? strlen(cells[c]) : 0);
	}
	r->nrows++;
}

const char *st_cell(const struct st_rows *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cell[row * r->ncols + col];
}

char *st_cell_dup(const struct st_rows *r, size_t row, size_t col)
{
	return xstrdup(st_cell(r, row, col));
}

int64_t st_cell_int(const struct st_rows *r, size_t row, size_t col)
{
	const char *t = st_cell(r, row, col);
	if (!t)
		return 0;
	/* a REAL column holding a whole number ("7.0") still reads as 7 */
	char *end = NULL;
	long long v = strtoll(t, &end, 10);
	if (end && *end == '.')
		return (int64_t)strtod(t, NULL);
	return v;
}

double st_cell_real(const struct st_rows *r, size_t row, size_t col)
{
	const char *t = st_cell(r, row, col);
	return t ? strtod(t, NULL) : 0;
}

/* ---- query helpers ------------------------------------------------------ */

int st_q(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, struct st_rows *rows,
	 struct sf_err *err)
{
	st->cons = ST_CONS_NONE;
	if (rows)
		memset(rows, 0, sizeof *rows);
	int rc = st->be->run(st, q, args, nargs, rows, err);
	if (rc < 0 && rows)
		st_rows_release(rows);
	return rc;
}

int st_qexec(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, int64_t *changes,
	     struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	int rc = st_q(st, q, args, nargs, &r, err);
	if (changes)
		*changes = rc == 0 ? r.changes : 0;
	st_rows_release(&r);
	return rc;
}

int st_qtext(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, char **out,
	     struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*out = NULL;
	int rc = st_q(st, q, args, nargs, &r, err);
	if (rc == 0 && r.nrows)
		*out = st_cell_dup(&r, 0, 0);
	st_rows_release(&r);
	return rc;
}

int st_qint(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, int64_t *out,
	    int *found, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*out = 0;
	if (found)
		*found = 0;
	int rc = st_q(st, q, args, nargs, &r, err);
	if (rc == 0 && r.nrows) {
		*out = st_cell_int(&r, 0, 0);
		if (found)
			*found = 1;
	}
	st_rows_release(&r);
	return rc;
}

int st_check_json(const char *text, const char *what, struct sf_err *err)
{
	if (!text)
		return 0;
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
	if (!j)
		return sf_fail(err, SF_EINVAL, "%s is not valid JSON: %s (at %d:%d)", what, je.text,
			       je.line, je.column);
	json_decref(j);
	return 0;
}

int st_serial(struct sf_state *st, int64_t *out, struct sf_err *err)
{
	int found = 0;
	int rc = st_qint(st, Q_SERIAL, NULL, 0, out, &found, err);
	if (rc == 0 && !found)
		rc = sf_fail(err, SF_ECORRUPT, "state %s has no serial", st->path);
	return rc;
}

int st_serial_refresh(struct sf_state *st, struct sf_err *err)
{
	int64_t v = 0;
	int rc = st_serial(st, &v, err);
	if (rc == 0)
		st->serial_seen = v;
	return rc;
}

/* ---- write scopes and explicit transactions ---------------------------- */

void st_enter(struct sf_state *st)
{
	pthread_mutex_lock(&st->mu);
}

void st_leave(struct sf_state *st)
{
	pthread_mutex_unlock(&st->mu);
}

int st_wbegin(struct sf_state *st, struct st_wscope *ws, struct sf_err *err)
{
	ws->dirty = 0;
	ws->implicit = !st->in_tx;
	if (st->readonly)
		return sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path);
	if (st->in_tx && st->tx_aborted)
		return sf_fail(err, SF_EIO,
			       "the transaction on state %s was rolled back after an earlier error; "
			       "roll back and start again",
			       st->path);
	return st->be->tx(st, ws->implicit ? ST_TX_BEGIN : ST_SP_BEGIN, err);
}

/* Compare-and-swap the serial from the one this handle last saw.  Another
 * writer's commit in between means our view of the state is out of date:
 * writing on top of it would interleave two runs. */
static int bump_serial(struct sf_state *st, struct sf_err *err)
{
	int64_t n = 0;
	struct st_arg a[1] = {st_int(st->serial_seen)};
	int rc = st_qexec(st, Q_SERIAL_BUMP, a, 1, &n, err);
	if (rc < 0 || n == 1)
		return rc;
	int64_t now = -1;
	struct sf_err e2 = SF_ERR_INIT;
	st->broken = 1;
	st_serial(st, &now, &e2);
	sf_fail(err, SF_ESTALE,
		"state %s changed under this run: another writer committed serial %lld after this run "
		"read serial %lld; nothing of this step was written",
		st->path, (long long)now, (long long)st->serial_seen);
	return sf_err_hint(err, "two runs wrote to the same state (was --lock=false used?); "
				"run plan again on the current state");
}

/* COMMIT, bumping the serial first when dirty; on failure roll back. */
static int commit_tx(struct sf_state *st, int dirty, struct sf_err *err)
{
	/* Fencing: state content is written only under the lock this handle
	 * took.  Bookkeeping (run history, timings) still goes through, so a
	 * run that lost its lock can record how it ended. */
	int rc = dirty ? st_fence_check(st, err) : 0;
	if (rc == 0 && dirty)
		rc = bump_serial(st, err);
	if (rc == 0)
		rc = st->be->tx(st, ST_TX_COMMIT, err);
	if (rc < 0)
		st->be->tx(st, ST_TX_ROLLBACK, NULL);
	else if (dirty)
		st->serial_seen++;
	return rc;
}

int st_wend(struct sf_state *st, struct st_wscope *ws, int rc, struct sf_err *err)
{
	if (ws->implicit) {
		if (rc < 0) {
			st->be->tx(st, ST_TX_ROLLBACK, NULL);
			return rc;
		}
		return commit_tx(st, ws->dirty, err);
	}
	if (rc < 0) {
		/* The database may have rolled the whole transaction back by
		 * itself (full disk, I/O error, lost connection); remember
		 * that so commit cannot pretend earlier writes are still there. */
		if (st->be->tx_gone(st))
			st->tx_aborted = 1;
		else
			st->be->tx(st, ST_SP_ROLLBACK, NULL);
		return rc;
	}
	rc = st->be->tx(st, ST_SP_RELEASE, err);
	if (rc == 0)
		st->tx_dirty |= ws->dirty;
	else if (st->be->tx_gone(st))
		st->tx_aborted = 1;
	return rc;
}

int sf_state_begin(struct sf_state *st, struct sf_err *err)
{
	st_enter(st);
	int rc = 0;
	if (st->readonly)
		rc = sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path);
	else if (st->in_tx)
		rc = sf_fail(err, SF_EINVAL, "a transaction on state %s is already open (they do not nest)",
			     st->path);
	else
		rc = st->be->tx(st, ST_TX_BEGIN, err);
	if (rc < 0) {
		st_leave(st);
		return rc;
	}
	st->in_tx = 1;
	st->tx_dirty = 0;
	st->tx_aborted = 0;
	return 0; /* the mutex stays held until commit or rollback */
}

int sf_state_commit(struct sf_state *st, struct sf_err *err)
{
	st_enter(st);
	if (!st->in_tx) {
		st_leave(st);
		return sf_fail(err, SF_EINVAL, "no transaction is open on state %s", st->path);
	}
	int rc;
	if (st->tx_aborted) {
		rc = sf_fail(err, SF_EIO,
			     "the transaction on state %s was rolled back after an earlier error; "
			     "nothing was committed",
			     st->path);
		st->be->tx(st, ST_TX_ROLLBACK, NULL);
	} else {
		rc = commit_tx(st, st->tx_dirty, err);
	}
	st->in_tx = 0;
	st->tx_dirty = 0;
	st->tx_aborted = 0;
	st_leave(st);
	st_leave(st); /* the hold taken by sf_state_begin */
	return rc;
}

void sf_state_rollback(struct sf_state *st)
{
	if (!st)
		return;
	st_enter(st);
	if (st->in_tx) {
		st->be->tx(st, ST_TX_ROLLBACK, NULL);
		st->in_tx = 0;
		st->tx_dirty = 0;
		st->tx_aborted = 0;
		st_leave(st);
	}
	st_leave(st);
}

/* ---- open -------------------------------------------------------------- */

void sf_state_reuse_connections(int on)
{
	st_pg_reuse_connections(on);
}

int sf_state_target_is_url(const char *target)
{
	return target && (!strncmp(target, "postgres://", 11) || !strncmp(target, "postgresql://", 13));
}

const struct st_backend *st_backend_for(const char *target)
{
	return sf_state_target_is_url(target) ? &st_backend_pg : &st_backend_sqlite;
}

int sf_state_workspaces(const char *target, const struct sf_state_opts *opts, char ***names, size_t *n,
			struct sf_err *err)
{
	static const struct sf_state_opts defaults;
	*names = NULL;
	*n = 0;
	if (!target || !*target)
		return sf_fail(err, SF_EINVAL, "no state location given");
	return st_backend_for(target)->workspaces(target, opts ? opts : &defaults, names, n, err);
}

int st_init_meta(struct sf_state *st, struct sf_err *err)
{
	char now[32], salt_hex[33];
	unsigned char salt[16];
	if (sf_random(salt, sizeof salt) < 0)
		return sf_fail(err, SF_ECRYPTO, "cannot create state %s: no random bytes from the OS",
			       st->path);
	sf_hex(salt_hex, salt, sizeof salt);
	sf_time_rfc3339(now, sizeof now, sf_now());
	const char *kv[][2] = {
		{"created_at", now}, {"created_by", SECFAAS_VERSION}, {"kdf_salt", salt_hex}};
	for (size_t i = 0; i < SF_ARRAY_LEN(kv); i++) {
		struct st_arg a[2] = {st_text(kv[i][0]), st_text(kv[i][1])};
		int rc = st_qexec(st, Q_META_PUT, a, 2, NULL, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void handle_free(struct sf_state *st)
{
	if (!st)
		return;
	if (st->bk)
		st->be->close(st);
	if (st->passphrase) {
		OPENSSL_cleanse(st->passphrase, strlen(st->passphrase));
		free(st->passphrase);
	}
	OPENSSL_cleanse(st->key, sizeof st->key);
	free(st->key_file);
	free(st->path);
	free(st->target);
	free(st->workspace);
	free(st->schema);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

void sf_state_close(struct sf_state *st)
{
	if (!st)
		return;
	if (st->in_tx)
		sf_state_rollback(st);
	handle_free(st);
}

int sf_state_open(struct sf_state **out, const char *target, const struct sf_state_opts *opts,
		  struct sf_err *err)
{
	static const struct sf_state_opts defaults;
	struct sf_state *st = NULL;
	int rc = 0;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!target || !*target)
		return sf_fail(err, SF_EINVAL, "no state path given");

	const char *pass = opts->passphrase, *kf = opts->key_file;
	if (!pass && !kf) {
		pass = getenv("SECFAAS_STATE_PASSPHRASE");
		if (pass && !*pass)
			pass = NULL;
		if (!pass) {
			kf = getenv("SECFAAS_STATE_KEY_FILE");
			if (kf && !*kf)
				kf = NULL;
		}
	}
	if (pass && strlen(pass) < SF_CRYPT_MIN_PASSPHRASE) {
		sf_fail(err, SF_EINVAL, "state passphrase is too short (%zu characters, need at least %d)",
			strlen(pass), SF_CRYPT_MIN_PASSPHRASE);
		return sf_err_hint(err, "set SECFAAS_STATE_PASSPHRASE to a longer passphrase");
	}

	st = xcalloc(1, sizeof *st);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	st->be = st_backend_for(target);
	st->target = xstrdup(target);
	st->path = xstrdup(target); /* the PostgreSQL backend replaces it (no password) */
	st->readonly = opts->readonly;
	st->passphrase = pass ? xstrdup(pass) : NULL;
	st->key_file = !pass && kf ? xstrdup(kf) : NULL;
	st->kp = opts->key_provider;
	st->key_from_state = opts->key_from_state;
	if (opts->key_from_state && !opts->passphrase) {
		/* the environment may name either side's key: keep both, the
		 * state's recorded source decides (keys.c) */
		const char *ep = getenv("SECFAAS_STATE_PASSPHRASE"), *ek = getenv("SECFAAS_STATE_KEY_FILE");
		if (!st->passphrase && ep && *ep && strlen(ep) >= SF_CRYPT_MIN_PASSPHRASE)
			st->passphrase = xstrdup(ep);
		if (!st->key_file && !opts->key_file && ek && *ek)
			st->key_file = xstrdup(ek);
	}
	st->busy_ms = (int)((opts->busy_timeout_s > 0 ? opts->busy_timeout_s : 5.0) * 1000);

	if ((rc = st->be->open(st, opts, err)) < 0)
		goto done;
	if (!sf_state_lineage(st)) {
		rc = sf_fail(err, SF_ECORRUPT, "state %s has no lineage", st->path);
		goto done;
	}
	/* a backend whose open read the serial along the way set it */
	if (!st->serial_read && (rc = st_serial_refresh(st, err)) < 0)
		goto done;
	*out = st;
	st = NULL;
	rc = 0;
done:
	handle_free(st);
	return rc;
}

const char *sf_state_path(const struct sf_state *st)
{
	return st->path;
}

const char *sf_state_backend(const struct sf_state *st)
{
	return st->be->name;
}

int sf_state_broken(const struct sf_state *st)
{
	return st->broken;
}

const char *sf_state_workspace(const struct sf_state *st)
{
	return st->workspace;
}

/* A workspace's lineage is fixed at its creation; only a copy into this
 * handle's workspace replaces it (copy.c, which sets it here too), so it
 * is read once per handle. */
const char *sf_state_lineage(struct sf_state *st)
{
	char *v = NULL;
	const char *ret = NULL;
	st_enter(st);
	if (st->lineage[0])
		ret = st->lineage;
	else if (st_qtext(st, Q_LINEAGE, NULL, 0, &v, NULL) == 0 && v && strlen(v) < sizeof st->lineage) {
		memcpy(st->lineage, v, strlen(v) + 1);
		ret = st->lineage;
	}
	free(v);
	st_leave(st);
	return ret;
}

int64_t sf_state_serial(struct sf_state *st)
{
	int64_t v = -1;
	st_enter(st);
	if (st_serial(st, &v, NULL) < 0)
		v = -1;
	st_leave(st);
	return v;
}

int64_t sf_state_serial_seen(struct sf_state *st)
{
	st_enter(st);
	int64_t v = st->serial_seen;
	st_leave(st);
	return v;
}

/* ---- meta --------------------------------------------------------------- */

/* Identity and crypto keys are the store's own; callers may read, not set. */
static int meta_reserved(const char *key)
{
	static const char *const reserved[] = {"lineage",    "serial",         "created_at",
					       "created_by", "secfaas_version", "kdf_salt",
					       "key_check",  "key_source",     "kms_key_id",
					       "kms_wrapped_key"};
	for (size_t i = 0; i < SF_ARRAY_LEN(reserved); i++)
		if (!strcmp(key, reserved[i]))
			return 1;
	return 0;
}

int sf_state_meta_get(struct sf_state *st, const char *key, char **out, struct sf_err *err)
{
	int rc;
	*out = NULL;
	st_enter(st);
	if (key && !strcmp(key, "lineage")) {
		rc = st_qtext(st, Q_LINEAGE, NULL, 0, out, err);
	} else if (key && !strcmp(key, "serial")) {
		int64_t v = 0;
		rc = st_serial(st, &v, err);
		if (rc == 0)
			*out = xasprintf("%lld", (long long)v);
	} else {
		struct st_arg a[1] = {st_text(key)};
		rc = st_qtext(st, Q_META_GET, a, 1, out, err);
	}
	if (rc == 0 && !*out)
		rc = sf_fail(err, SF_ENOTFOUND, "no metadata key \"%s\" in state %s", key, st->path);
	st_leave(st);
	return rc;
}

int sf_state_meta_set(struct sf_state *st, const char *key, const char *value, struct sf_err *err)
{
	if (!key || !*key)
		return sf_fail(err, SF_EINVAL, "empty metadata key");
	if (meta_reserved(key))
		return sf_fail(err, SF_EINVAL, "metadata key \"%s\" is managed by the state store", key);
	st_enter(st);
	struct st_wscope ws;
	int64_t n = 0;
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto done;
	struct st_arg a[2] = {st_text(key), st_text(value)};
	rc = st_qexec(st, value ? Q_META_PUT : Q_META_DEL, a, value ? 2 : 1, &n, err);
	ws.dirty = rc == 0 && n > 0;
	rc = st_wend(st, &ws, rc, err);
done:
	st_leave(st);
	return rc;
}

int sf_state_meta_list(struct sf_state *st, const char *prefix, char ***keys, char ***vals, size_t *n,
		       struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	*keys = *vals = NULL;
	*n = 0;
	st_enter(st);
	struct st_arg a[1] = {st_text(prefix ? prefix : "")};
	int rc = st_q(st, Q_META_LIST, a, 1, &r, err);
	if (rc == 0 && r.nrows) {
		*keys = xcalloc(r.nrows, sizeof **keys);
		*vals = xcalloc(r.nrows, sizeof **vals);
		for (size_t i = 0; i < r.nrows; i++) {
			(*keys)[i] = st_cell_dup(&r, i, 0);
			const char *v = st_cell(&r, i, 1);
			(*vals)[i] = xstrdup(v ? v : "");
		}
		*n = r.nrows;
	}
	st_rows_release(&r);
	st_leave(st);
	return rc;
}

/* ---- backup, token, status names ---------------------------------------- */

int sf_state_backup(struct sf_state *st, struct sf_err *err)
{
	int rc = 0;
	char *where = NULL;
	st_enter(st);
	if (st->in_tx) {
		rc = sf_fail(err, SF_EINVAL, "cannot back up state %s inside a transaction", st->path);
		goto done;
	}
	if (st->be->backup) {
		rc = st->be->backup(st, &where, err);
	} else {
		int64_t serial = 0;
		rc = st_snapshot_now(st, &serial, err);
		if (rc == 0)
			where = xasprintf("snapshot at serial %lld (`secfaas state restore %lld`)",
					  (long long)serial, (long long)serial);
	}
	if (rc == 0)
		snprintf(st->backup_where, sizeof st->backup_where, "%s", where);
done:
	free(where);
	st_leave(st);
	return rc;
}

const char *sf_state_backup_where(const struct sf_state *st)
{
	return st->backup_where;
}

void sf_state_token(struct sf_state *st, const char *address, const char *op, int generation,
		    char out[33])
{
	const char *lin = sf_state_lineage(st);
	char *in = xasprintf("%s|%s|%s|%d", lin ? lin : "", address, op, generation);
	char hex[65];
	sf_sha256_hex(hex, in, strlen(in));
	free(in);
	memcpy(out, hex, 32);
	out[32] = 0;
}

static const char *const rstatus_names[] = {"creating", "created", "tainted", "deleting", "leaked"};

const char *sf_rstatus_name(enum sf_rstatus s)
{
	if ((int)s < 0 || (size_t)s >= SF_ARRAY_LEN(rstatus_names))
		return "unknown";
	return rstatus_names[s];
}

int sf_rstatus_parse(const char *s, enum sf_rstatus *out)
{
	for (size_t i = 0; s && i < SF_ARRAY_LEN(rstatus_names); i++)
		if (!strcmp(s, rstatus_names[i])) {
			*out = (enum sf_rstatus)i;
			return 0;
		}
	return SF_EINVAL;
}
