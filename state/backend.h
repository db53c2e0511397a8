/*
 * state/backend.h - the one interface every state backend implements, and
 * the small query executor the rest of state/ is written against.
 *
 * Why: the store's behaviour (what bumps the serial, journal rules, which
 * error a missing row gives, snapshot format, sealing of secrets) must be
 * the same whether a workspace lives in a local SQLite file or in a shared
 * PostgreSQL database.  So that behaviour is written once, in store.c,
 * resources.c, journal.c, history.c, keys.c and lock.c, against named
 * queries (enum st_q).  A backend supplies the text of every named query in
 * its own dialect, runs them with parameters (never string-built SQL), and
 * implements the few things that really differ: opening and schema
 * migrations, transactions, the writer lock, and backups.
 *
 * Parameter convention: parameter 1 of every query is the workspace id
 * (PostgreSQL keeps many workspaces in one set of tables; a SQLite file is
 * one workspace and its texts never mention ?1).  The caller's arguments
 * are parameters 2, 3, ...; st_q() adds the workspace itself.
 *
 * Result rows are copied out (struct st_rows) so callers never hold a
 * backend statement across calls.  Cells are text; numbers are parsed by
 * st_cell_int/st_cell_real; NULL cells are NULL pointers.
 *
 * Ownership: struct st_rows owns its cells; release with st_rows_release().
 * The backend owns st->bk (its private handle data) and frees it in close.
 */
#ifndef SF_STATE_BACKEND_H
#define SF_STATE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sf_state;
struct sf_state_opts;
struct sf_lock_info;

/* Named queries.  Columns and parameters of each are documented once here;
 * both backends' texts must match them (tests/unit/test_state_pg.c checks
 * that every backend defines every query it claims). */
enum st_q {
	/* meta: key/value rows of the workspace */
	Q_META_GET,        /* (key) -> value */
	Q_META_PUT,        /* (key, value): insert or replace */
	Q_META_DEL,        /* (key) */
	Q_META_LIST,       /* (prefix) -> key, value; key order (bytewise) */
	/* identity */
	Q_LINEAGE,         /* () -> lineage */
	Q_SERIAL,          /* () -> serial */
	Q_SERIAL_BUMP,     /* (expected): serial + 1 where serial = expected; changes 0|1 */
	Q_IDENTITY_SET,    /* (lineage, serial): used only when copying a workspace */
	/* resources; RES_COLS = address, type, id, status, attrs, sensitive, deps,
	 * token, schema_version, updated_at, secrets (JSON {name: base64} or NULL) */
	Q_RES_GET,         /* (address) -> RES_COLS */
	Q_RES_LIST,        /* () -> RES_COLS, address order (bytewise) */
	Q_RES_PUT,         /* (address, type, id, status, attrs, sensitive, deps, token,
			    *  schema_version, updated_at): insert or replace */
	Q_RES_DEL,         /* (address); changes */
	Q_RES_DEL_ALL,     /* () */
	Q_RES_RENAME_DEPS, /* (src, dst): rewrite src to dst in every deps array */
	Q_SEC_CLEAR,       /* (address): drop the stored secrets of a resource */
	Q_SEC_PUT,         /* (address, name, sealed bytes) */
	/* journal; J_COLS = id, run_id, address, op, token, detail, done, ok,
	 * result, started, finished */
	Q_J_INSERT,        /* (run_id, address, op, token, detail, started) -> id */
	Q_J_INSERT_RAW,    /* (J_COLS...) */
	Q_J_RESOLVE,       /* (id, ok, result, finished); changes */
	Q_J_EXISTS,        /* (id) -> count */
	Q_J_OPEN,          /* () -> J_COLS of unresolved intents, id order */
	Q_J_LIST,          /* (address|NULL, limit; 0 = all) -> J_COLS, newest `limit`, id order */
	/* runs; RUN_COLS = id, started, finished, who, host, command, spec_digest,
	 * git_sha, plan_summary, result, summary, serial_before, serial_after, pid */
	Q_RUN_INSERT,      /* (started, who, host, pid, command, spec_digest, git_sha,
			    *  plan_summary, serial_before) -> id */
	Q_RUN_INSERT_RAW,  /* (RUN_COLS...) */
	Q_RUN_END,         /* (id, finished, result, summary, serial_after); changes */
	Q_RUN_LIST,        /* () -> RUN_COLS, newest first */
	/* snapshots */
	Q_SNAP_PUT,        /* (serial, created, body): insert or replace */
	Q_SNAP_PRUNE,      /* (): keep the newest 20 */
	Q_SNAP_LIST,       /* () -> serial, created; newest first */
	Q_SNAP_GET,        /* (serial) -> body */
	/* phase timings */
	Q_TIM_ADD,         /* (type, phase, seconds, at) */
	Q_TIM_PRUNE,       /* (type, phase): keep the newest 50 */
	Q_TIM_LIST,        /* (type, phase) -> seconds; newest 50 first */
	Q_TIM_ALL,         /* () -> type, phase, seconds, at; oldest first */
	/* lock information (the lock itself is the backend's lock_* functions);
	 * LOCK_COLS = id, operation, who, host, pid, version, created, heartbeat, info */
	Q_LOCK_GET,        /* () -> LOCK_COLS */
	Q_LOCK_PUT,        /* (LOCK_COLS...): the one row (replaces) */
	Q_LOCK_DEL,        /* (id); changes */
	Q_LOCK_DEL_ALL,    /* () */
	Q_LOCK_BEAT,       /* (id, now); changes */
	/* fleet claims (apply --all across runners) */
	Q_CLAIM_GET,       /* (round) -> who, host, pid, status, started, finished */
	Q_CLAIM_PUT,       /* (round, who, host, pid, started): status running, replaces */
	Q_CLAIM_END,       /* (round, status, finished, who); changes */
	Q__COUNT
};

/* A query argument. */
enum st_atype { ST_A_NULL, ST_A_INT, ST_A_REAL, ST_A_TEXT, ST_A_BLOB };
struct st_arg {
	enum st_atype t;
	int64_t i;
	double d;
	const void *p; /* text (NUL-terminated) or blob bytes, borrowed */
	size_t n;      /* blob length */
};
static inline struct st_arg st_int(int64_t v)
{
	struct st_arg a = {ST_A_INT, v, 0, NULL, 0};
	return a;
}
static inline struct st_arg st_real(double v)
{
	struct st_arg a = {ST_A_REAL, 0, v, NULL, 0};
	return a;
}
static inline struct st_arg st_text(const char *s) /* NULL -> SQL NULL */
{
	struct st_arg a = {s ? ST_A_TEXT : ST_A_NULL, 0, 0, s, 0};
	return a;
}
static inline struct st_arg st_blob(const void *p, size_t n)
{
	struct st_arg a = {ST_A_BLOB, 0, 0, p, n};
	return a;
}
static inline struct st_arg st_null(void)
{
	struct st_arg a = {ST_A_NULL, 0, 0, NULL, 0};
	return a;
}

/* Rows copied out of a result. cell[r * ncols + c]; NULL = SQL NULL. Every
 * non-NULL cell is NUL-terminated; len[] gives blob lengths. */
struct st_rows {
	size_t nrows, ncols;
	char **cell;
	size_t *len;
	int64_t changes; /* rows inserted/updated/deleted by the statement */
};
#define ST_ROWS_INIT {0, 0, NULL, NULL, 0}
void st_rows_release(struct st_rows *r);
const char *st_cell(const struct st_rows *r, size_t row, size_t col); /* borrowed */
char *st_cell_dup(const struct st_rows *r, size_t row, size_t col);   /* owned or NULL */
int64_t st_cell_int(const struct st_rows *r, size_t row, size_t col); /* NULL -> 0 */
double st_cell_real(const struct st_rows *r, size_t row, size_t col); /* NULL -> 0 */
/* Append a row of ncols cells (owned strings or NULL) - for backends. */
void st_rows_add(struct st_rows *r, char **cells, const size_t *lens);

/* Transaction steps a backend performs. */
enum st_tx {
	ST_TX_BEGIN,       /* start a write transaction that excludes other writers of
			    * this workspace until it ends (SQLite: BEGIN IMMEDIATE;
			    * PostgreSQL: BEGIN + row lock on the workspace) */
	ST_TX_COMMIT,
	ST_TX_ROLLBACK,    /* never fails; safe without a transaction */
	ST_SP_BEGIN,       /* savepoint inside the transaction */
	ST_SP_RELEASE,
	ST_SP_ROLLBACK,    /* undo to the savepoint and release it; never fails */
};

/* Constraint a failed statement violated (st->cons), so callers can tell a
 * missing run (foreign key) from a duplicate. */
enum st_cons { ST_CONS_NONE, ST_CONS_UNIQUE, ST_CONS_FOREIGN, ST_CONS_OTHER };

struct st_backend {
	const char *name;               /* "sqlite", "postgres" */
	const char *const *sql;         /* [Q__COUNT]; NULL: query not used by this backend */
	int secrets_apart;              /* 1: sealed values live in Q_SEC_* rows, not in attrs */

	/* Open st->path (file or URL) for st->workspace; creates/migrates as
	 * opts ask; sets st->lineage.  On failure leaves nothing open. */
	int (*open)(struct sf_state *st, const struct sf_state_opts *opts, struct sf_err *err);
	void (*close)(struct sf_state *st);
	/* Run query q with args (parameters 2..); rows may be NULL when none
	 * are wanted.  Errors map to SF_EIO (I/O, connection lost), SF_ECORRUPT,
	 * SF_ETIMEOUT (busy), SF_ECONFLICT (constraint, st->cons says which). */
	int (*run)(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs,
		   struct st_rows *rows, struct sf_err *err);
	int (*tx)(struct sf_state *st, enum st_tx op, struct sf_err *err);
	/* 1 when no transaction is open any more although one was started (the
	 * database rolled it back after an error, or the connection is gone). */
	int (*tx_gone)(struct sf_state *st);

	/* The writer lock.  try: one attempt; 0 and the info row written from
	 * *mine, or SF_ELOCKED with *holder filled.  release: SF_ENOTFOUND when
	 * `id` is not the current lock (force-unlocked).  get: 1 + *out if a
	 * live lock exists, 0 if none.  force: remove the lock `cur` (already
	 * checked by lock.c against the id and the force rules). */
	int (*lock_try)(struct sf_state *st, const struct sf_lock_info *mine, struct sf_lock_info *holder,
			struct sf_err *err);
	int (*lock_release)(struct sf_state *st, const char *id, struct sf_err *err);
	int (*lock_get)(struct sf_state *st, struct sf_lock_info *out, struct sf_err *err);
	int (*lock_force)(struct sf_state *st, const struct sf_lock_info *cur, struct sf_err *err);
	/* Fencing, inside a write transaction (lock.c st_fence_check): 1 while
	 * lock `id` is still this handle's, 0 when not (*other 1 if another
	 * lock holds the workspace now).  SQLite reads the lock row; PostgreSQL
	 * needs no query: its session advisory lock lives exactly as long as
	 * the session that commits (a session that lost it fails the commit
	 * itself), and the serial compare-and-swap catches any other writer. */
	int (*lock_fence)(struct sf_state *st, const char *id, int *other, struct sf_err *err);
	/* Copy the whole store somewhere safe before a mutating command; NULL:
	 * the front end takes a snapshot instead.  *where (owned) describes it. */
	int (*backup)(struct sf_state *st, char **where, struct sf_err *err);
	/* Names of the workspaces at `target` (a directory or URL). */
	int (*workspaces)(const char *target, const struct sf_state_opts *opts, char ***names, size_t *n,
			  struct sf_err *err);
};

extern const struct st_backend st_backend_sqlite;
extern const struct st_backend st_backend_pg;

/* Pick the backend for a target: PostgreSQL for postgres:// and
 * postgresql:// URLs, SQLite otherwise. */
const struct st_backend *st_backend_for(const char *target);

#endif
