/*
 * state/internal.h - what the state/ source files share and nobody else may use:
 * the handle layout, the mutex and write-scope helpers, SQLite error mapping.
 *
 * Write scopes: every public function that writes calls st_wbegin() first and
 * st_wend() last.  Outside an explicit sf_state_begin() the scope is its own
 * BEGIN IMMEDIATE .. COMMIT (an "implicit transaction"); inside one it is a
 * SAVEPOINT, so a failing call undoes only its own partial work and the
 * caller may still commit the rest.  A scope marks itself dirty when it wrote
 * state content (resources, journal, meta); a dirty implicit scope, or an
 * explicit transaction that saw a dirty scope, bumps `serial` by one at
 * commit.  Locks, run history, snapshots and timings are bookkeeping and do
 * not bump the serial: a plan taken under a lock must still match after the
 * lock is released.
 *
 * Locking: st_enter()/st_leave() wrap the handle's recursive mutex; public
 * functions enter first thing and leave on every exit.
 */
#ifndef SF_STATE_INTERNAL_H
#define SF_STATE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "state/crypt.h"
#include "state/state.h"

/* PRAGMA application_id: "SfAS" so foreign SQLite files are told apart. */
#define SF_STATE_APP_ID 0x53664153

struct sf_state {
	pthread_mutex_t mu;
	sqlite3 *db;
	char *path;
	int readonly;
	int busy_ms;
	char lineage[37];

	/* fencing: the lock this handle took (sf_lock_acquire), checked by
	 * every commit that writes state content; broken once it is gone */
	char fence[37];
	int broken;

	/* explicit transaction (sf_state_begin): mutex held across calls */
	int in_tx;
	int tx_dirty;
	int tx_aborted;   /* SQLite rolled the transaction back under us */

	/* key material, derived lazily on the first secret read or write */
	char *passphrase;      /* copy of opts->passphrase, wiped on close */
	char *key_file;        /* copy of opts->key_file */
	int have_key;
	unsigned char key[SF_CRYPT_KEY_LEN];
};

struct st_wscope {
	int implicit; /* 1: BEGIN IMMEDIATE here; 0: SAVEPOINT inside explicit tx */
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

/* Map the connection's last SQLite error (result code src) to an sf_err:
 * full disk / read-only / I/O -> SF_EIO, corrupt -> SF_ECORRUPT, busy ->
 * SF_ETIMEOUT, constraint -> SF_ECONFLICT, else SF_ERROR. `what` says what
 * we were doing ("writing resource x"). Returns the code. */
int st_sqlfail(struct sf_state *st, int src, struct sf_err *err, const char *what);

/* Prepare sql or fail through st_sqlfail. */
int st_prepare(struct sf_state *st, const char *sql, sqlite3_stmt **out, struct sf_err *err);
/* Run a statement with no parameters and no rows wanted. */
int st_exec(struct sf_state *st, const char *sql, struct sf_err *err);

/* Bind text or NULL. */
int st_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Column as owned string or NULL. */
char *st_col_strdup(sqlite3_stmt *s, int i);

/* Current serial from the database (inside a transaction: what it has). */
int st_serial(struct sf_state *st, int64_t *out, struct sf_err *err);

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

/* Validate optional JSON text (NULL ok); SF_EINVAL naming `what` otherwise. */
int st_check_json(const char *text, const char *what, struct sf_err *err);

#endif
