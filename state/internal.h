/*
 * state/internal.h - what the state/ source files share and nobody else may
 * use: the handle layout, the mutex and write-scope helpers, the query
 * helpers over the backend (state/backend.h).
 *
 * Write scopes: every public function that writes calls st_wbegin() first and
 * st_wend() last.  Outside an explicit sf_state_begin() the scope is its own
 * write transaction (an "implicit transaction"); inside one it is a
 * savepoint, so a failing call undoes only its own partial work and the
 * caller may still commit the rest.  A scope marks itself dirty when it wrote
 * state content (resources, journal, meta); a dirty implicit scope, or an
 * explicit transaction that saw a dirty scope, bumps `serial` by one at
 * commit - compare-and-swap against st->serial_seen, the serial this handle
 * last saw, so a write on top of another writer's fails with SF_ESTALE.
 * Locks, run history, snapshots, claims and timings are bookkeeping and do
 * not bump the serial: a plan taken under a lock must still match after the
 * lock is released.
 *
 * Locking: st_enter()/st_leave() wrap the handle's recursive mutex; public
 * functions enter first thing and leave on every exit.
 */
#ifndef SF_STATE_INTERNAL_H
#define SF_STATE_INTERNAL_H

#include <pthread.h>

#include "state/backend.h"
#include "state/crypt.h"
#include "state/state.h"

struct sf_state {
	pthread_mutex_t mu;
	const struct st_backend *be;
	void *bk;              /* backend's private handle data */
	char *path;            /* target for messages (no password) */
	char *target;          /* what sf_state_open was given (file path or URL) */
	char *workspace;       /* PostgreSQL workspace name; NULL for files */
	char *schema;          /* PostgreSQL schema name */
	int64_t ws_id;         /* parameter 1 of every query */
	int readonly;
	int busy_ms;
	char lineage[37];
	int64_t serial_seen;   /* serial as of open, lock, or our last commit */
	int serial_read;       /* the backend's open set serial_seen */
	char backup_where[512];
	enum st_cons cons;     /* constraint violated by the last failed statement */
	int broken;            /* can no longer write (see sf_state_broken) */

	/* fencing: the lock this handle took (sf_lock_acquire), checked by
	 * every commit that writes state content; broken once it is gone */
	char fence[37];

	/* explicit transaction (sf_state_begin): mutex held across calls */
	int in_tx;
	int tx_dirty;
	int tx_aborted;   /* the database rolled the transaction back under us */

	/* key material, derived lazily on the first secret read or write */
	char *passphrase;      /* copy of opts->passphrase, wiped on close */
	char *key_file;        /* copy of opts->key_file */
	const struct sf_key_provider *kp;
	int key_from_state;    /* opts.key_from_state */
	int have_key;
	unsigned char key[SF_CRYPT_KEY_LEN];
};

struct st_wscope {
	int implicit; /* 1: a transaction of its own; 0: savepoint inside explicit tx */
	int dirty;    /* content was written: bump serial */
};

void st_enter(struct sf_state *st);
void st_leave(struct sf_state *st);

/* Fencing (lock.c): 0 when this handle holds no lock or still holds the
 * one it took; else marks the handle broken and fails SF_ELOCKED.  Called
 * inside the write transaction, so no other writer can slip in between
 * the check and the commit. */
int st_fence_check(struct sf_state *st, struct sf_err *err);

/* Open a write scope (see above). SF_EINVAL on a read-only handle. */
int st_wbegin(struct sf_state *st, struct st_wscope *ws, struct sf_err *err);
/* Close it: rc < 0 undoes the scope's writes; rc == 0 commits (implicit)
 * or releases the savepoint. Returns rc, or the commit error. */
int st_wend(struct sf_state *st, struct st_wscope *ws, int rc, struct sf_err *err);

/* Run a named query (parameter 1 = the workspace, args are 2..). rows may
 * be NULL; st_qexec returns the number of changed rows in *changes. */
int st_q(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, struct st_rows *rows,
	 struct sf_err *err);
int st_qexec(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, int64_t *changes,
	     struct sf_err *err);
/* First cell of the first row as an owned string; *out NULL when no row. */
int st_qtext(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, char **out,
	     struct sf_err *err);
/* First cell as an integer; *found 0 when no row (may be NULL). */
int st_qint(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, int64_t *out,
	    int *found, struct sf_err *err);

/* Current serial from the database (inside a transaction: what it has). */
int st_serial(struct sf_state *st, int64_t *out, struct sf_err *err);
/* Re-read the serial into st->serial_seen (after taking the lock). */
int st_serial_refresh(struct sf_state *st, struct sf_err *err);

/* Meta rows written at creation (lineage/serial are the backend's). */
int st_init_meta(struct sf_state *st, struct sf_err *err);

/* Key for secrets; derives/loads it on first use. for_write: may create the
 * default key file and records the key check value (must be inside a write
 * scope). SF_ECRYPTO on a wrong key. */
int st_key(struct sf_state *st, int for_write, struct sf_err *err);

/* Encrypt / decrypt the attributes named in `sensitive` in place in attrs
 * (an object). Encrypt replaces each value by {"$enc": "v1:..."}. */
int st_seal_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *sensitive,
		  struct sf_err *err);
int st_open_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *sensitive,
		  struct sf_err *err);

/* Resource rows as stored (secrets sealed), shared by resources.c and the
 * snapshot/restore/copy code.  A row is a JSON object with the RES_COLS
 * names (attrs/sensitive/deps as JSON values). */
int st_row_write(struct sf_state *st, const char *address, json_t *row, struct sf_err *err);
/* All rows (address order) as a JSON array of row objects (owned). */
int st_rows_read_all(struct sf_state *st, json_t **out, struct sf_err *err);
/* Row object from RES_COLS row r of rows (owned) or NULL + err. */
json_t *st_row_json(struct sf_state *st, const struct st_rows *rows, size_t r, struct sf_err *err);

/* Snapshot of the current rows at the current serial (bookkeeping); the
 * serial in *serial.  Takes its own write scope. */
int st_snapshot_now(struct sf_state *st, int64_t *serial, struct sf_err *err);

/* Validate optional JSON text (NULL ok); SF_EINVAL naming `what` otherwise. */
int st_check_json(const char *text, const char *what, struct sf_err *err);

/* A handle's identity when it (or its lock row) is written. */
void st_lock_info_mine(struct sf_lock_info *li, const char *id, const char *operation,
		       const char *info);

/* Schema version of the SQLite file format / of the PostgreSQL tables. */
int st_sqlite_schema_version(void);
int st_pg_schema_version(void);
/* sf_state_reuse_connections for PostgreSQL (state/pg.c). */
void st_pg_reuse_connections(int on);

#endif
