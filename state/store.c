/*
 * store.c - opening, validating and migrating the state file; meta keys;
 * explicit transactions and the write-scope helpers the other state/
 * files build on; backup; idempotency tokens.
 *
 * Opening never writes to a file before it has been recognised as ours: it
 * first probes with a read-only connection (application_id, user_version,
 * meta table), and only then reopens read-write, switches to WAL and runs
 * migrations.  A foreign, garbage or newer file is therefore left byte for
 * byte as it was.
 *
 * Durability: journal_mode=WAL with synchronous=FULL.  NORMAL would be safe
 * against a crashing process but may drop the last commits on power loss;
 * the journal's promise ("the intent row is durable before the cloud call")
 * needs each commit on disk, and one fsync per transition is cheap next to
 * an AWS round trip.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "state/internal.h"
#include "util.h"

#ifndef SECFAAS_VERSION
#define SECFAAS_VERSION "0.0.0"
#endif

/* ---- migrations ------------------------------------------------------- */

static int init_meta(struct sf_state *st, struct sf_err *err);

struct migration {
	int to_version;
	const char *sql;
	int (*fn)(struct sf_state *st, struct sf_err *err); /* runs after sql, same tx */
};

/* Append only.  A released step is never edited: old files replay it.
 * tests/state/fixtures/v<N>.db holds a file as each past version wrote it. */
static const struct migration migrations[] = {
	{1,
	 "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value NOT NULL) WITHOUT ROWID;"
	 "CREATE TABLE resources("
	 "  address TEXT PRIMARY KEY NOT NULL,"
	 "  type TEXT NOT NULL,"
	 "  id TEXT,"
	 "  status TEXT NOT NULL CHECK (status IN"
	 "    ('creating','created','tainted','deleting','leaked')),"
	 "  attrs TEXT NOT NULL DEFAULT '{}',"
	 "  sensitive TEXT,"
	 "  deps TEXT,"
	 "  token TEXT,"
	 "  schema_version INTEGER NOT NULL DEFAULT 0,"
	 "  updated_at REAL NOT NULL"
	 ") WITHOUT ROWID;"
	 "CREATE TABLE runs("
	 "  id INTEGER PRIMARY KEY,"
	 "  started REAL NOT NULL,"
	 "  finished REAL NOT NULL DEFAULT 0,"
	 "  who TEXT NOT NULL,"
	 "  host TEXT NOT NULL,"
	 "  command TEXT NOT NULL,"
	 "  spec_digest TEXT, git_sha TEXT, plan_summary TEXT,"
	 "  result TEXT CHECK (result IS NULL OR result IN ('ok','error','interrupted')),"
	 "  summary TEXT,"
	 "  serial_before INTEGER NOT NULL,"
	 "  serial_after INTEGER NOT NULL DEFAULT 0);"
	 "CREATE TABLE journal("
	 "  id INTEGER PRIMARY KEY,"
	 "  run_id INTEGER REFERENCES runs(id),"
	 "  address TEXT NOT NULL,"
	 "  op TEXT NOT NULL,"
	 "  token TEXT, detail TEXT,"
	 "  done INTEGER NOT NULL DEFAULT 0,"
	 "  ok INTEGER NOT NULL DEFAULT 0,"
	 "  result TEXT,"
	 "  started REAL NOT NULL,"
	 "  finished REAL NOT NULL DEFAULT 0);"
	 "CREATE TABLE snapshots("
	 "  serial INTEGER PRIMARY KEY,"
	 "  created REAL NOT NULL,"
	 "  body TEXT NOT NULL);"
	 "CREATE TABLE locks("
	 "  one INTEGER PRIMARY KEY CHECK (one = 1),"
	 "  id TEXT NOT NULL, operation TEXT NOT NULL, who TEXT NOT NULL, host TEXT NOT NULL,"
	 "  pid INTEGER NOT NULL, version TEXT NOT NULL,"
	 "  created REAL NOT NULL, heartbeat REAL NOT NULL,"
	 "  info TEXT NOT NULL DEFAULT '');",
	 init_meta},
	/* v2: the pid of each run, indexes for resume (open intents) and
	 * per-address history, and phase timings for "typical 9-16m". */
	{2,
	 "ALTER TABLE runs ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;"
	 "CREATE INDEX journal_open ON journal(id) WHERE done = 0;"
	 "CREATE INDEX journal_address ON journal(address, id);"
	 "CREATE TABLE phase_timings("
	 "  id INTEGER PRIMARY KEY,"
	 "  type TEXT NOT NULL,"
	 "  phase TEXT NOT NULL,"
	 "  seconds REAL NOT NULL,"
	 "  at REAL NOT NULL);"
	 "CREATE INDEX phase_timings_key ON phase_timings(type, phase, id);",
	 NULL},
};

int sf_state_schema_version(void)
{
	return migrations[SF_ARRAY_LEN(migrations) - 1].to_version;
}

/* ---- small SQLite helpers -------------------------------------------- */

void st_enter(struct sf_state *st)
{
	pthread_mutex_lock(&st->mu);
}

void st_leave(struct sf_state *st)
{
	pthread_mutex_unlock(&st->mu);
}

int st_sqlfail(struct sf_state *st, int src, struct sf_err *err, const char *what)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src);
	int sys = st->db ? sqlite3_system_errno(st->db) : 0;
	switch (src & 0xff) {
	case SQLITE_FULL:
		sf_fail(err, SF_EIO, "disk full while %s in state %s", what, st->path);
		return sf_err_hint(err, "free disk space and retry; the state file was not changed");
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_IOERR:
	case SQLITE_AUTH: {
		/* SQLite's own words ("unable to open database file") do not
		 * say why; the usual reason is a directory or file we may not
		 * write (WAL needs <state>-wal and <state>-shm beside it). */
		char *dir = xstrdup(st->path);
		const char *d = dirname(dir);
		if (access(d, W_OK) < 0)
			sf_fail(err, SF_EIO, "cannot use state %s: its directory %s is not writable (%s)",
				st->path, d, strerror(errno));
		else if (access(st->path, W_OK) < 0 && errno != ENOENT)
			sf_fail(err, SF_EIO, "cannot use state %s: the file is not writable (%s)", st->path,
				strerror(errno));
		else
			sf_fail(err, SF_EIO, "cannot use state %s while %s: %s%s%s", st->path, what, msg,
				sys ? ": " : "", sys ? strerror(sys) : "");
		free(dir);
		return sf_err_hint(err, "secfaas writes the state file and its -wal and -shm files "
					"beside it; make the directory writable or choose another --state");
	}
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		sf_fail(err, SF_ECORRUPT, "state file %s is corrupt (%s while %s)", st->path, msg, what);
		return sf_err_hint(err, "restore it from %s.backup", st->path);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		sf_fail(err, SF_ETIMEOUT,
			"state %s is busy: another process kept its database locked (%s)", st->path,
			what);
		return sf_err_hint(err, "retry; raise the busy timeout if this persists");
	case SQLITE_CONSTRAINT:
		return sf_fail(err, SF_ECONFLICT, "%s in state %s: %s", what, st->path, msg);
	default:
		return sf_fail(err, SF_ERROR, "%s in state %s: sqlite: %s", what, st->path, msg);
	}
}

int st_prepare(struct sf_state *st, const char *sql, sqlite3_stmt **out, struct sf_err *err)
{
	int src = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
	if (src != SQLITE_OK) {
		*out = NULL;
		return st_sqlfail(st, src, err, "preparing a query");
	}
	return 0;
}

int st_exec(struct sf_state *st, const char *sql, struct sf_err *err)
{
	int src = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return st_sqlfail(st, src, err, "updating the database");
	return 0;
}

int st_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

char *st_col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? xstrdup((const char *)t) : NULL;
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

/* Single-value query; *out is an owned string or NULL when no row. */
static int query_text(struct sf_state *st, const char *sql, const char *arg, char **out,
		      struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, err);
	*out = NULL;
	if (rc < 0)
		return rc;
	if (arg)
		st_bind_text(s, 1, arg);
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*out = st_col_strdup(s, 0);
	else if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "reading the database");
	sqlite3_finalize(s);
	return rc;
}

static int query_int(struct sf_state *st, const char *sql, int64_t *out, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, err);
	*out = 0;
	if (rc < 0)
		return rc;
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "reading the database");
	sqlite3_finalize(s);
	return rc;
}

int st_serial(struct sf_state *st, int64_t *out, struct sf_err *err)
{
	return query_int(st, "SELECT value FROM meta WHERE key = 'serial'", out, err);
}

static int meta_put(struct sf_state *st, const char *key, const char *value, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &s, err);
	if (rc < 0)
		return rc;
	st_bind_text(s, 1, key);
	st_bind_text(s, 2, value);
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "writing state metadata");
	sqlite3_finalize(s);
	return rc;
}

/* ---- write scopes and explicit transactions ---------------------------- */

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
	return st_exec(st, ws->implicit ? "BEGIN IMMEDIATE" : "SAVEPOINT sf_op", err);
}

static int bump_serial(struct sf_state *st, struct sf_err *err)
{
	return st_exec(st, "UPDATE meta SET value = value + 1 WHERE key = 'serial'", err);
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
		rc = st_exec(st, "COMMIT", err);
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int st_wend(struct sf_state *st, struct st_wscope *ws, int rc, struct sf_err *err)
{
	if (ws->implicit) {
		if (rc < 0) {
			if (!sqlite3_get_autocommit(st->db))
				sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		return commit_tx(st, ws->dirty, err);
	}
	if (rc < 0) {
		/* SQLite rolls the whole transaction back by itself after a
		 * full disk, an I/O error or out-of-memory; remember that so
		 * commit cannot pretend the earlier writes are still there. */
		if (sqlite3_get_autocommit(st->db))
			st->tx_aborted = 1;
		else
			sqlite3_exec(st->db, "ROLLBACK TO sf_op; RELEASE sf_op", NULL, NULL, NULL);
		return rc;
	}
	rc = st_exec(st, "RELEASE sf_op", err);
	if (rc == 0)
		st->tx_dirty |= ws->dirty;
	else if (sqlite3_get_autocommit(st->db))
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
		rc = st_exec(st, "BEGIN IMMEDIATE", err);
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
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
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
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->in_tx = 0;
		st->tx_dirty = 0;
		st->tx_aborted = 0;
		st_leave(st);
	}
	st_leave(st);
}

/* ---- open -------------------------------------------------------------- */

static int init_meta(struct sf_state *st, struct sf_err *err)
{
	char lineage[37], now[32], salt_hex[33];
	unsigned char salt[16];
	sf_uuid4(lineage);
	if (sf_random(salt, sizeof salt) < 0)
		return sf_fail(err, SF_ECRYPTO, "cannot create state %s: no random bytes from the OS",
			       st->path);
	sf_hex(salt_hex, salt, sizeof salt);
	sf_time_rfc3339(now, sizeof now, sf_now());
	int rc;
	if ((rc = meta_put(st, "lineage", lineage, err)) < 0 ||
	    (rc = st_exec(st, "INSERT INTO meta(key, value) VALUES ('serial', 0)", err)) < 0 ||
	    (rc = meta_put(st, "created_at", now, err)) < 0 ||
	    (rc = meta_put(st, "created_by", SECFAAS_VERSION, err)) < 0 ||
	    (rc = meta_put(st, "kdf_salt", salt_hex, err)) < 0)
		return rc;
	return 0;
}

static int migrate(struct sf_state *st, struct sf_err *err)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(migrations); i++) {
		const struct migration *m = &migrations[i];
		int64_t uv = 0;
		int rc = st_exec(st, "BEGIN IMMEDIATE", err);
		if (rc < 0)
			return sf_err_prefix(err, "upgrading state schema: ");
		/* Re-read inside the write lock: another process may have
		 * created or upgraded the file while we waited. */
		if ((rc = query_int(st, "PRAGMA user_version", &uv, err)) < 0)
			goto fail;
		if (uv >= m->to_version) {
			sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
			continue;
		}
		char *bump = xasprintf("PRAGMA user_version = %d", m->to_version);
		if (m->to_version == 1) {
			char *app = xasprintf("PRAGMA application_id = %d", SF_STATE_APP_ID);
			rc = st_exec(st, app, err);
			free(app);
		}
		if (rc == 0)
			rc = st_exec(st, m->sql, err);
		if (rc == 0 && m->fn)
			rc = m->fn(st, err);
		if (rc == 0)
			rc = meta_put(st, "secfaas_version", SECFAAS_VERSION, err);
		if (rc == 0)
			rc = st_exec(st, bump, err);
		free(bump);
		if (rc == 0)
			rc = st_exec(st, "COMMIT", err);
		if (rc < 0)
			goto fail;
		sf_debug("state %s: schema upgraded to %d", st->path, m->to_version);
		continue;
fail:
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return sf_err_prefix(err, "upgrading state schema to %d: ", m->to_version);
	}
	return 0;
}

static void handle_free(struct sf_state *st)
{
	if (!st)
		return;
	if (st->db)
		sqlite3_close_v2(st->db);
	if (st->passphrase) {
		OPENSSL_cleanse(st->passphrase, strlen(st->passphrase));
		free(st->passphrase);
	}
	OPENSSL_cleanse(st->key, sizeof st->key);
	free(st->key_file);
	free(st->path);
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

static int open_db(struct sf_state *st, int flags, struct sf_err *err)
{
	int src = sqlite3_open_v2(st->path, &st->db, flags | SQLITE_OPEN_FULLMUTEX, NULL);
	if (src != SQLITE_OK)
		return st_sqlfail(st, src, err, "opening");
	sqlite3_extended_result_codes(st->db, 1);
	/* Also for the probe: another process may be creating the file
	 * (still in rollback-journal mode, so readers wait too). */
	sqlite3_busy_timeout(st->db, st->busy_ms);
	return 0;
}

/* Classify an existing file without writing to it.  *fresh = 1 for an
 * empty database we may initialise; *uv = its schema version. */
static int probe(struct sf_state *st, int create, int *fresh, int64_t *uv, struct sf_err *err)
{
	int rc = 0;
	int64_t app = 0, nobj = 0;
	char *ver = NULL, *lineage = NULL;
	*fresh = 0;
	if ((rc = open_db(st, SQLITE_OPEN_READONLY, err)) < 0)
		goto done;
	/* One statement, so one read transaction: a process creating the
	 * file concurrently is seen either before or after its commit. */
	sqlite3_stmt *s = NULL;
	if ((rc = st_prepare(st, "SELECT (SELECT application_id FROM pragma_application_id), "
				 "(SELECT user_version FROM pragma_user_version), "
				 "(SELECT count(*) FROM sqlite_master)", &s, err)) < 0)
		goto corrupt;
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		app = sqlite3_column_int64(s, 0);
		*uv = sqlite3_column_int64(s, 1);
		nobj = sqlite3_column_int64(s, 2);
	} else {
		rc = st_sqlfail(st, src, err, "reading the database header");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		goto corrupt;
	if (app == 0 && *uv == 0 && nobj == 0) {
		if (!create) {
			rc = sf_fail(err, SF_ECORRUPT, "state file %s is an empty database, not a secfaas "
						       "state file", st->path);
			goto done;
		}
		*fresh = 1;
		goto done;
	}
	if (app != SF_STATE_APP_ID) {
		rc = sf_fail(err, SF_ECORRUPT,
			     "%s is not a secfaas state file (an SQLite database of another application, "
			     "application_id %lld)", st->path, (long long)app);
		sf_err_hint(err, "check the --state path; secfaas leaves this file alone");
		goto done;
	}
	/* Ours by application_id; it must also carry our identity. */
	struct sf_err e2 = SF_ERR_INIT;
	if (query_text(st, "SELECT value FROM meta WHERE key = 'lineage'", NULL, &lineage, &e2) < 0 ||
	    !lineage) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s is damaged: its meta table or lineage is "
					       "missing", st->path);
		sf_err_hint(err, "restore it from %s.backup", st->path);
		goto done;
	}
	if (*uv > sf_state_schema_version()) {
		query_text(st, "SELECT value FROM meta WHERE key = 'secfaas_version'", NULL, &ver, &e2);
		rc = sf_fail(err, SF_ECORRUPT,
			     "state file %s was written by a newer secfaas%s%s (schema %lld, this build "
			     "knows %d); upgrade secfaas",
			     st->path, ver ? " " : "", ver ? ver : "", (long long)*uv,
			     sf_state_schema_version());
		goto done;
	}
	if (*uv < 1) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s is damaged: schema version %lld", st->path,
			     (long long)*uv);
		goto done;
	}
	goto done;
corrupt:
	if (rc == SF_ECORRUPT)
		sf_fail(err, SF_ECORRUPT, "state file %s is not a secfaas state file or is corrupt (%s)",
			st->path, sqlite3_errmsg(st->db));
done:
	free(ver);
	free(lineage);
	if (st->db) {
		sqlite3_close_v2(st->db);
		st->db = NULL;
	}
	return rc;
}

/* Switch to WAL (persistent in the file; a no-op once set).  Changing the
 * journal mode needs an exclusive lock, and SQLite may answer SQLITE_BUSY
 * without consulting the busy handler when another process is creating the
 * same file, so retry briefly ourselves until the busy timeout. */
static int set_wal(struct sf_state *st, struct sf_err *err)
{
	double deadline = sf_mono() + st->busy_ms / 1000.0;
	for (;;) {
		sqlite3_stmt *s = NULL;
		int rc = st_prepare(st, "PRAGMA journal_mode = WAL", &s, err);
		if (rc < 0)
			return rc;
		int src = sqlite3_step(s);
		const char *mode = src == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
		int wal = mode && !strcmp(mode, "wal");
		if (src == SQLITE_ROW && !wal)
			rc = sf_fail(err, SF_EIO, "cannot switch state %s to WAL mode (got %s)", st->path,
				     mode ? mode : "nothing");
		else if (src != SQLITE_ROW && ((src & 0xff) != SQLITE_BUSY || sf_mono() > deadline))
			rc = st_sqlfail(st, src, err, "switching to WAL mode");
		sqlite3_finalize(s);
		if (rc < 0 || wal)
			return rc;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The first 16 bytes of every SQLite 3 database. */
static const char sqlite_magic[16] = "SQLite format 3";

static int check_file(const char *path, int create, int readonly, int *created, struct sf_err *err)
{
	struct stat sb;
	*created = 0;
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT)
			return sf_fail(err, SF_EIO, "cannot open state file %s: %s", path, strerror(errno));
		if (!create || readonly) {
			sf_fail(err, SF_ENOTFOUND, "no state file at %s", path);
			return sf_err_hint(err, "check --state, or run `secfaas apply` to create it");
		}
		char *dir = xstrdup(path);
		int rc = sf_mkdir_p(dirname(dir), 0700, err);
		free(dir);
		if (rc < 0)
			return sf_err_prefix(err, "creating state %s: ", path);
		/* Create it ourselves so it is 0600 (SQLite copies the mode
		 * to -wal and -shm). EEXIST: another process won the race. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return sf_fail(err, SF_EIO, "cannot create state file %s: %s", path,
				       strerror(errno));
		if (fd >= 0) {
			close(fd);
			*created = 1;
		}
		return 0;
	}
	if (S_ISDIR(sb.st_mode))
		return sf_fail(err, SF_EINVAL, "state path %s is a directory, not a file", path);
	if (sb.st_size == 0)
		return 0; /* empty: probe decides (fresh if create) */
	char head[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sf_fail(err, SF_EIO, "cannot open state file %s: %s", path, strerror(errno));
	ssize_t k = read(fd, head, sizeof head);
	close(fd);
	if (k != (ssize_t)sizeof head || memcmp(head, sqlite_magic, sizeof head)) {
		sf_fail(err, SF_ECORRUPT, "%s is not a secfaas state file (not an SQLite database)",
			path);
		return sf_err_hint(err, "check the --state path; secfaas leaves this file alone");
	}
	if (sb.st_size < 512) {
		sf_fail(err, SF_ECORRUPT, "state file %s is truncated (%lld bytes)", path,
			(long long)sb.st_size);
		return sf_err_hint(err, "restore it from %s.backup", path);
	}
	return 0;
}

int sf_state_open(struct sf_state **out, const char *path, const struct sf_state_opts *opts,
		  struct sf_err *err)
{
	static const struct sf_state_opts defaults;
	struct sf_state *st = NULL;
	int rc = 0, fresh = 0, created = 0; /* created: informational; a file we made but
					     * could not initialise is left empty, and the
					     * next create treats it as new */
	int64_t uv = 0;
	char *ck = NULL;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!path || !*path)
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
	st->path = xstrdup(path);
	st->readonly = opts->readonly;
	st->passphrase = pass ? xstrdup(pass) : NULL;
	st->key_file = !pass && kf ? xstrdup(kf) : NULL;

	st->busy_ms = (int)((opts->busy_timeout_s > 0 ? opts->busy_timeout_s : 5.0) * 1000);
	if ((rc = check_file(path, opts->create, opts->readonly, &created, err)) < 0)
		goto done;
	if ((rc = probe(st, opts->create, &fresh, &uv, err)) < 0)
		goto done;
	if (opts->readonly && uv < sf_state_schema_version()) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s uses schema %lld and needs an upgrade to %d",
			     path, (long long)uv, sf_state_schema_version());
		sf_err_hint(err, "run a command that writes state (e.g. `secfaas plan`) once to upgrade it");
		goto done;
	}
	if ((rc = open_db(st, opts->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, err)) < 0)
		goto done;
	if (!opts->readonly && (rc = set_wal(st, err)) < 0)
		goto done;
	if ((rc = st_exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err)) < 0)
		goto done;
	if (!opts->readonly && (fresh || uv < sf_state_schema_version()) &&
	    (rc = migrate(st, err)) < 0)
		goto done;
	/* A cheap structural check catches truncated or overwritten pages
	 * now, with a clear message, rather than halfway through an apply. */
	free(ck);
	ck = NULL;
	if ((rc = query_text(st, "PRAGMA quick_check(1)", NULL, &ck, err)) < 0)
		goto done;
	if (!ck || strcmp(ck, "ok")) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s is corrupt (%s)", path, ck ? ck : "?");
		sf_err_hint(err, "restore it from %s.backup", path);
		goto done;
	}
	if (!sf_state_lineage(st)) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s has no lineage", path);
		goto done;
	}
	*out = st;
	st = NULL;
	rc = 0;
done:
	free(ck);
	handle_free(st);
	return rc;
}

int sf_state_broken(const struct sf_state *st)
{
	return st->broken;
}

const char *sf_state_path(const struct sf_state *st)
{
	return st->path;
}

const char *sf_state_lineage(struct sf_state *st)
{
	char *v = NULL;
	const char *ret = NULL;
	st_enter(st);
	if (query_text(st, "SELECT value FROM meta WHERE key = 'lineage'", NULL, &v, NULL) == 0 && v &&
	    strlen(v) < sizeof st->lineage) {
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

/* ---- meta --------------------------------------------------------------- */

/* Identity and crypto keys are the store's own; callers may read, not set. */
static int meta_reserved(const char *key)
{
	static const char *const reserved[] = {"lineage",    "serial",         "created_at",
					       "created_by", "secfaas_version", "kdf_salt",
					       "key_check",  "key_source"};
	for (size_t i = 0; i < SF_ARRAY_LEN(reserved); i++)
		if (!strcmp(key, reserved[i]))
			return 1;
	return 0;
}

int sf_state_meta_get(struct sf_state *st, const char *key, char **out, struct sf_err *err)
{
	st_enter(st);
	int rc = query_text(st, "SELECT value FROM meta WHERE key = ?1", key, out, err);
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
	sqlite3_stmt *s = NULL;
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto done;
	rc = st_prepare(st, value ? "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)"
				  : "DELETE FROM meta WHERE key = ?1",
			&s, err);
	if (rc == 0) {
		st_bind_text(s, 1, key);
		if (value)
			st_bind_text(s, 2, value);
		int src = sqlite3_step(s);
		if (src != SQLITE_DONE)
			rc = st_sqlfail(st, src, err, "writing state metadata");
		else
			ws.dirty = sqlite3_changes(st->db) > 0;
	}
	sqlite3_finalize(s);
	rc = st_wend(st, &ws, rc, err);
done:
	st_leave(st);
	return rc;
}

int sf_state_meta_list(struct sf_state *st, const char *prefix, char ***keys, char ***vals, size_t *n,
		       struct sf_err *err)
{
	*keys = *vals = NULL;
	*n = 0;
	st_enter(st);
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key", &s, err);
	if (rc == 0) {
		st_bind_text(s, 1, prefix);
		int src;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			*keys = xrealloc(*keys, (*n + 1) * sizeof **keys);
			*vals = xrealloc(*vals, (*n + 1) * sizeof **vals);
			(*keys)[*n] = xstrdup((const char *)sqlite3_column_text(s, 0));
			(*vals)[*n] = xstrdup(sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "");
			(*n)++;
		}
		if (src != SQLITE_DONE)
			rc = st_sqlfail(st, src, err, "reading state metadata");
	}
	sqlite3_finalize(s);
	st_leave(st);
	return rc;
}

/* ---- backup, token, status names ---------------------------------------- */

int sf_state_backup(struct sf_state *st, struct sf_err *err)
{
	int rc = 0;
	char *dst = xasprintf("%s.backup", st->path);
	char *tmp = xasprintf("%s.backup.tmp.%ld", st->path, (long)getpid());
	sqlite3_stmt *s = NULL;
	st_enter(st);
	if (st->in_tx) {
		rc = sf_fail(err, SF_EINVAL, "cannot back up state %s inside a transaction", st->path);
		goto done;
	}
	unlink(tmp);
	if ((rc = st_prepare(st, "VACUUM INTO ?1", &s, err)) < 0)
		goto done;
	st_bind_text(s, 1, tmp);
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE) {
		rc = st_sqlfail(st, src, err, "writing a backup");
		goto done;
	}
	/* VACUUM INTO does not sync its output; do it before the rename
	 * replaces the previous good backup. */
	int fd = open(tmp, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0600) < 0 || fsync(fd) < 0 || rename(tmp, dst) < 0) {
		rc = sf_fail(err, SF_EIO, "cannot write state backup %s: %s", dst, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto done;
	}
	close(fd);
	rc = 0;
done:
	sqlite3_finalize(s);
	if (rc < 0)
		unlink(tmp);
	st_leave(st);
	free(tmp);
	free(dst);
	return rc;
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
