/*
 * sqlite.c - the SQLite backend: one workspace per file (state/backend.h).
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
 *
 * The lock is the single row of the `locks` table, taken in BEGIN
 * IMMEDIATE: SQLite's write lock serialises the check-and-insert across
 * processes.  A lock held by a dead PID on this host is reclaimed silently;
 * another host's PID cannot be checked, so lock.c only reports old
 * heartbeats as stale.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state/internal.h"
#include "util.h"

#ifndef SECFAAS_VERSION
#define SECFAAS_VERSION "0.0.0"
#endif

/* PRAGMA application_id: "SfAS" so foreign SQLite files are told apart. */
#define SF_STATE_APP_ID 0x53664153

struct sq {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q__COUNT]; /* prepared on first use */
};

#define SQ(st) ((struct sq *)(st)->bk)

#define RES_COLS "address, type, id, status, attrs, sensitive, deps, token, schema_version, updated_at"
#define J_COLS "id, run_id, address, op, token, detail, done, ok, result, started, finished"
#define RUN_COLS "id, started, finished, who, host, command, spec_digest, git_sha, plan_summary, " \
		 "result, summary, serial_before, serial_after, pid"
#define L_COLS "id, operation, who, host, pid, version, created, heartbeat, info"

/* Parameter 1 (the workspace) is never mentioned: a file is one workspace. */
static const char *const sqlite_sql[Q__COUNT] = {
	[Q_META_GET] = "SELECT value FROM meta WHERE key = ?2",
	[Q_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?2, ?3)",
	[Q_META_DEL] = "DELETE FROM meta WHERE key = ?2",
	[Q_META_LIST] = "SELECT key, value FROM meta WHERE substr(key, 1, length(?2)) = ?2 ORDER BY key",
	[Q_LINEAGE] = "SELECT value FROM meta WHERE key = 'lineage'",
	[Q_SERIAL] = "SELECT value FROM meta WHERE key = 'serial'",
	[Q_SERIAL_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'serial' AND value = ?2",
	[Q_IDENTITY_SET] = "UPDATE meta SET value = CASE key WHEN 'lineage' THEN ?2 ELSE ?3 END "
			   "WHERE key IN ('lineage', 'serial')",
	[Q_RES_GET] = "SELECT " RES_COLS ", NULL FROM resources WHERE address = ?2",
	[Q_RES_LIST] = "SELECT " RES_COLS ", NULL FROM resources ORDER BY address",
	[Q_RES_PUT] = "INSERT OR REPLACE INTO resources(" RES_COLS ") VALUES "
		      "(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[Q_RES_DEL] = "DELETE FROM resources WHERE address = ?2",
	[Q_RES_DEL_ALL] = "DELETE FROM resources",
	[Q_RES_RENAME_DEPS] = "UPDATE resources SET deps = (SELECT json_group_array(CASE value WHEN ?2 "
			      "THEN ?3 ELSE value END) FROM json_each(resources.deps)) "
			      "WHERE deps IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(resources.deps) "
			      "WHERE value = ?2)",
	[Q_J_INSERT] = "INSERT INTO journal(run_id, address, op, token, detail, started) "
		       "VALUES (?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
	[Q_J_INSERT_RAW] = "INSERT INTO journal(" J_COLS ") VALUES "
			   "(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[Q_J_RESOLVE] = "UPDATE journal SET done = 1, ok = ?3, result = ?4, finished = ?5 "
			"WHERE id = ?2 AND done = 0",
	[Q_J_EXISTS] = "SELECT count(*) FROM journal WHERE id = ?2",
	[Q_J_OPEN] = "SELECT " J_COLS " FROM journal WHERE done = 0 ORDER BY id",
	[Q_J_LIST] = "SELECT * FROM (SELECT " J_COLS " FROM journal WHERE ?2 IS NULL OR address = ?2 "
		     "ORDER BY id DESC LIMIT CASE WHEN ?3 > 0 THEN ?3 ELSE -1 END) ORDER BY id",
	[Q_RUN_INSERT] = "INSERT INTO runs(started, who, host, pid, command, spec_digest, git_sha, "
			 "plan_summary, serial_before) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
			 "RETURNING id",
	[Q_RUN_INSERT_RAW] = "INSERT INTO runs(" RUN_COLS ") VALUES "
			     "(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[Q_RUN_END] = "UPDATE runs SET finished = ?3, result = ?4, summary = ?5, serial_after = ?6 "
		      "WHERE id = ?2 AND result IS NULL",
	[Q_RUN_LIST] = "SELECT " RUN_COLS " FROM runs ORDER BY id DESC",
	[Q_SNAP_PUT] = "INSERT OR REPLACE INTO snapshots(serial, created, body) VALUES (?2, ?3, ?4)",
	[Q_SNAP_PRUNE] = "DELETE FROM snapshots WHERE serial NOT IN "
			 "(SELECT serial FROM snapshots ORDER BY serial DESC LIMIT 20)",
	[Q_SNAP_LIST] = "SELECT serial, created FROM snapshots ORDER BY serial DESC",
	[Q_SNAP_GET] = "SELECT body FROM snapshots WHERE serial = ?2",
	[Q_TIM_ADD] = "INSERT INTO phase_timings(type, phase, seconds, at) VALUES (?2, ?3, ?4, ?5)",
	[Q_TIM_PRUNE] = "DELETE FROM phase_timings WHERE type = ?2 AND phase = ?3 AND id NOT IN "
			"(SELECT id FROM phase_timings WHERE type = ?2 AND phase = ?3 "
			"ORDER BY id DESC LIMIT 50)",
	[Q_TIM_LIST] = "SELECT seconds FROM phase_timings WHERE type = ?2 AND phase = ?3 "
		       "ORDER BY id DESC LIMIT 50",
	[Q_TIM_ALL] = "SELECT type, phase, seconds, at FROM phase_timings ORDER BY id",
	[Q_LOCK_GET] = "SELECT " L_COLS " FROM locks WHERE one = 1",
	[Q_LOCK_PUT] = "INSERT OR REPLACE INTO locks(one, " L_COLS ") VALUES "
		       "(1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_LOCK_DEL] = "DELETE FROM locks WHERE id = ?2",
	[Q_LOCK_DEL_ALL] = "DELETE FROM locks",
	[Q_LOCK_BEAT] = "UPDATE locks SET heartbeat = ?3 WHERE id = ?2",
	[Q_CLAIM_GET] = "SELECT who, host, pid, status, started, finished FROM claims WHERE round = ?2",
	[Q_CLAIM_PUT] = "INSERT OR REPLACE INTO claims(round, who, host, pid, status, started) "
			"VALUES (?2, ?3, ?4, ?5, 'running', ?6)",
	[Q_CLAIM_END] = "UPDATE claims SET status = ?3, finished = ?4 WHERE round = ?2 AND status = 'running'",
};

/* ---- migrations ------------------------------------------------------- */

static int init_identity(struct sf_state *st, struct sf_err *err);

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
	 init_identity},
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
	/* v3: fleet claims (apply --all on several runners at once). */
	{3,
	 "CREATE TABLE claims("
	 "  round TEXT PRIMARY KEY NOT NULL,"
	 "  who TEXT NOT NULL,"
	 "  host TEXT NOT NULL,"
	 "  pid INTEGER NOT NULL,"
	 "  status TEXT NOT NULL CHECK (status IN ('running','ok','error')),"
	 "  started REAL NOT NULL,"
	 "  finished REAL NOT NULL DEFAULT 0) WITHOUT ROWID;",
	 NULL},
};

int st_sqlite_schema_version(void)
{
	return migrations[SF_ARRAY_LEN(migrations) - 1].to_version;
}

/* ---- errors ------------------------------------------------------------ */

/* Map the connection's last SQLite error (result code src) to an sf_err:
 * full disk / read-only / I/O -> SF_EIO, corrupt -> SF_ECORRUPT, busy ->
 * SF_ETIMEOUT, constraint -> SF_ECONFLICT, else SF_ERROR. */
static int sqfail(struct sf_state *st, int src, struct sf_err *err, const char *what)
{
	sqlite3 *db = st->bk ? SQ(st)->db : NULL;
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(src);
	int sys = db ? sqlite3_system_errno(db) : 0;
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
		st->cons = src == SQLITE_CONSTRAINT_FOREIGNKEY ? ST_CONS_FOREIGN
			   : (src == SQLITE_CONSTRAINT_PRIMARYKEY || src == SQLITE_CONSTRAINT_UNIQUE)
				   ? ST_CONS_UNIQUE
				   : ST_CONS_OTHER;
		return sf_fail(err, SF_ECONFLICT, "%s in state %s: %s", what, st->path, msg);
	default:
		return sf_fail(err, SF_ERROR, "%s in state %s: sqlite: %s", what, st->path, msg);
	}
}

/* Run SQL text (no parameters, no rows wanted). */
static int sqexec(struct sf_state *st, const char *sql, struct sf_err *err)
{
	int src = sqlite3_exec(SQ(st)->db, sql, NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return sqfail(st, src, err, "updating the database");
	return 0;
}

static int sqint(struct sf_state *st, const char *sql, int64_t *out, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	*out = 0;
	int src = sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL);
	if (src != SQLITE_OK)
		return sqfail(st, src, err, "reading the database");
	src = sqlite3_step(s);
	int rc = 0;
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (src != SQLITE_DONE)
		rc = sqfail(st, src, err, "reading the database");
	sqlite3_finalize(s);
	return rc;
}

static char *sqtext(struct sf_state *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	char *out = NULL;
	if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_text(s, 0))
		out = xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return out;
}

/* ---- the executor -------------------------------------------------------- */

static int bind_args(sqlite3_stmt *s, int64_t ws, const struct st_arg *a, int n)
{
	int max = sqlite3_bind_parameter_count(s), rc = SQLITE_OK;
	if (max >= 1)
		rc = sqlite3_bind_int64(s, 1, ws);
	for (int i = 0; rc == SQLITE_OK && i < n && i + 2 <= max; i++) {
		int k = i + 2;
		switch (a[i].t) {
		case ST_A_NULL: rc = sqlite3_bind_null(s, k); break;
		case ST_A_INT: rc = sqlite3_bind_int64(s, k, a[i].i); break;
		case ST_A_REAL: rc = sqlite3_bind_double(s, k, a[i].d); break;
		case ST_A_TEXT: rc = sqlite3_bind_text(s, k, a[i].p, -1, SQLITE_STATIC); break;
		case ST_A_BLOB: rc = sqlite3_bind_blob(s, k, a[i].p, (int)a[i].n, SQLITE_STATIC); break;
		}
	}
	return rc;
}

static char *cell_of(sqlite3_stmt *s, int c, size_t *len)
{
	*len = 0;
	switch (sqlite3_column_type(s, c)) {
	case SQLITE_NULL:
		return NULL;
	case SQLITE_INTEGER:
		return xasprintf("%lld", (long long)sqlite3_column_int64(s, c));
	case SQLITE_FLOAT:
		return xasprintf("%.17g", sqlite3_column_double(s, c));
	case SQLITE_BLOB: {
		size_t n = (size_t)sqlite3_column_bytes(s, c);
		char *b = xmalloc(n + 1);
		if (n)
			memcpy(b, sqlite3_column_blob(s, c), n);
		b[n] = 0;
		*len = n;
		return b;
	}
	default: {
		const unsigned char *t = sqlite3_column_text(s, c);
		*len = (size_t)sqlite3_column_bytes(s, c);
		return xstrdup(t ? (const char *)t : "");
	}
	}
}

static int sq_run(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, struct st_rows *rows,
		  struct sf_err *err)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = b->stmt[q];
	if (!sqlite_sql[q])
		return sf_fail(err, SF_ERROR, "internal: query %d has no SQLite text", (int)q);
	if (!s) {
		int src = sqlite3_prepare_v3(b->db, sqlite_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
		if (src != SQLITE_OK)
			return sqfail(st, src, err, "preparing a query");
		b->stmt[q] = s;
	}
	int rc = 0, src = bind_args(s, st->ws_id, args, nargs);
	if (src != SQLITE_OK) {
		rc = sqfail(st, src, err, "binding query parameters");
		goto done;
	}
	int ncols = sqlite3_column_count(s);
	if (rows)
		rows->ncols = (size_t)ncols;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (!rows)
			continue;
		char *cells[16];
		size_t lens[16];
		if (ncols > 16) {
			rc = sf_fail(err, SF_ERROR, "internal: query %d returns too many columns", (int)q);
			goto done;
		}
		for (int c = 0; c < ncols; c++)
			cells[c] = cell_of(s, c, &lens[c]);
		st_rows_add(rows, cells, lens);
	}
	if (src != SQLITE_DONE) {
		rc = sqfail(st, src, err, "running a query");
		goto done;
	}
	if (rows)
		rows->changes = sqlite3_changes(b->db);
done:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

static int sq_tx(struct sf_state *st, enum st_tx op, struct sf_err *err)
{
	sqlite3 *db = SQ(st)->db;
	switch (op) {
	case ST_TX_BEGIN:
		return sqexec(st, "BEGIN IMMEDIATE", err);
	case ST_TX_COMMIT: {
		int rc = sqexec(st, "COMMIT", err);
		if (rc < 0 && !sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	case ST_TX_ROLLBACK:
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	case ST_SP_BEGIN:
		return sqexec(st, "SAVEPOINT sf_op", err);
	case ST_SP_RELEASE:
		return sqexec(st, "RELEASE sf_op", err);
	case ST_SP_ROLLBACK:
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK TO sf_op; RELEASE sf_op", NULL, NULL, NULL);
		return 0;
	}
	return 0;
}

static int sq_tx_gone(struct sf_state *st)
{
	/* SQLite rolls the whole transaction back by itself after a full
	 * disk, an I/O error or out-of-memory. */
	return sqlite3_get_autocommit(SQ(st)->db);
}

/* ---- open -------------------------------------------------------------- */

static int init_identity(struct sf_state *st, struct sf_err *err)
{
	char lineage[37];
	sf_uuid4(lineage);
	struct st_arg a[2] = {st_text("lineage"), st_text(lineage)};
	int rc;
	if ((rc = st_qexec(st, Q_META_PUT, a, 2, NULL, err)) < 0 ||
	    (rc = sqexec(st, "INSERT INTO meta(key, value) VALUES ('serial', 0)", err)) < 0)
		return rc;
	return st_init_meta(st, err);
}

static int migrate(struct sf_state *st, struct sf_err *err)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(migrations); i++) {
		const struct migration *m = &migrations[i];
		int64_t uv = 0;
		int rc = sqexec(st, "BEGIN IMMEDIATE", err);
		if (rc < 0)
			return sf_err_prefix(err, "upgrading state schema: ");
		/* Re-read inside the write lock: another process may have
		 * created or upgraded the file while we waited. */
		if ((rc = sqint(st, "PRAGMA user_version", &uv, err)) < 0)
			goto fail;
		if (uv >= m->to_version) {
			sqlite3_exec(SQ(st)->db, "COMMIT", NULL, NULL, NULL);
			continue;
		}
		char *bump = xasprintf("PRAGMA user_version = %d", m->to_version);
		if (m->to_version == 1) {
			char *app = xasprintf("PRAGMA application_id = %d", SF_STATE_APP_ID);
			rc = sqexec(st, app, err);
			free(app);
		}
		if (rc == 0)
			rc = sqexec(st, m->sql, err);
		if (rc == 0 && m->fn)
			rc = m->fn(st, err);
		if (rc == 0) {
			struct st_arg a[2] = {st_text("secfaas_version"), st_text(SECFAAS_VERSION)};
			rc = st_qexec(st, Q_META_PUT, a, 2, NULL, err);
		}
		if (rc == 0)
			rc = sqexec(st, bump, err);
		free(bump);
		if (rc == 0)
			rc = sqexec(st, "COMMIT", err);
		if (rc < 0)
			goto fail;
		sf_debug("state %s: schema upgraded to %d", st->path, m->to_version);
		continue;
fail:
		if (!sqlite3_get_autocommit(SQ(st)->db))
			sqlite3_exec(SQ(st)->db, "ROLLBACK", NULL, NULL, NULL);
		return sf_err_prefix(err, "upgrading state schema to %d: ", m->to_version);
	}
	return 0;
}

static void db_close(struct sf_state *st)
{
	struct sq *b = SQ(st);
	if (!b)
		return;
	for (size_t i = 0; i < Q__COUNT; i++) {
		sqlite3_finalize(b->stmt[i]);
		b->stmt[i] = NULL;
	}
	if (b->db)
		sqlite3_close_v2(b->db);
	b->db = NULL;
}

static void sq_close(struct sf_state *st)
{
	db_close(st);
	free(st->bk);
	st->bk = NULL;
}

/* SQLite's memory statistics (sqlite3_memory_used, the soft heap limit),
 * which secfaas never reads, take one process-wide mutex around every
 * allocation SQLite makes.  A fleet run (plan --all, refresh --all) opens
 * hundreds of state files from several threads, and parsing each file's
 * schema allocates a lot: those threads spent more time waiting for each
 * other on that mutex than parsing.  It must be set before SQLite
 * initialises, hence the first open; a refusal (SQLite already in use)
 * only keeps the statistics. */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_initialize();
}

static int open_db(struct sf_state *st, int flags, struct sf_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_setup);
	int src = sqlite3_open_v2(st->path, &SQ(st)->db, flags | SQLITE_OPEN_FULLMUTEX, NULL);
	if (src != SQLITE_OK)
		return sqfail(st, src, err, "opening");
	sqlite3_extended_result_codes(SQ(st)->db, 1);
	/* Also for the probe: another process may be creating the file
	 * (still in rollback-journal mode, so readers wait too). */
	sqlite3_busy_timeout(SQ(st)->db, st->busy_ms);
	return 0;
}

/* Classify an existing file without writing to it.  *fresh = 1 for an
 * empty database we may initialise; *uv = its schema version.  keep: leave
 * the read-only connection open on success (a read-only open goes on with
 * it rather than opening the file and reading its schema a second time). */
static int probe(struct sf_state *st, int create, int keep, int *fresh, int64_t *uv, struct sf_err *err)
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
	int src = sqlite3_prepare_v2(SQ(st)->db,
				     "SELECT (SELECT application_id FROM pragma_application_id), "
				     "(SELECT user_version FROM pragma_user_version), "
				     "(SELECT count(*) FROM sqlite_master)", -1, &s, NULL);
	if (src != SQLITE_OK) {
		rc = sqfail(st, src, err, "reading the database header");
		goto corrupt;
	}
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		app = sqlite3_column_int64(s, 0);
		*uv = sqlite3_column_int64(s, 1);
		nobj = sqlite3_column_int64(s, 2);
	} else {
		rc = sqfail(st, src, err, "reading the database header");
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
	lineage = sqtext(st, "SELECT value FROM meta WHERE key = 'lineage'");
	if (!lineage) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s is damaged: its meta table or lineage is "
					       "missing", st->path);
		sf_err_hint(err, "restore it from %s.backup", st->path);
		goto done;
	}
	if (*uv > st_sqlite_schema_version()) {
		ver = sqtext(st, "SELECT value FROM meta WHERE key = 'secfaas_version'");
		rc = sf_fail(err, SF_ECORRUPT,
			     "state file %s was written by a newer secfaas%s%s (schema %lld, this build "
			     "knows %d); upgrade secfaas",
			     st->path, ver ? " " : "", ver ? ver : "", (long long)*uv,
			     st_sqlite_schema_version());
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
			st->path, sqlite3_errmsg(SQ(st)->db));
done:
	free(ver);
	free(lineage);
	if (rc < 0 || !keep || *fresh)
		db_close(st);
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
		int src = sqlite3_prepare_v2(SQ(st)->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
		if (src != SQLITE_OK)
			return sqfail(st, src, err, "switching to WAL mode");
		int rc = 0;
		src = sqlite3_step(s);
		const char *mode = src == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
		int wal = mode && !strcmp(mode, "wal");
		if (src == SQLITE_ROW && !wal)
			rc = sf_fail(err, SF_EIO, "cannot switch state %s to WAL mode (got %s)", st->path,
				     mode ? mode : "nothing");
		else if (src != SQLITE_ROW && ((src & 0xff) != SQLITE_BUSY || sf_mono() > deadline))
			rc = sqfail(st, src, err, "switching to WAL mode");
		sqlite3_finalize(s);
		if (rc < 0 || wal)
			return rc;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The first 16 bytes of every SQLite 3 database. */
static const char sqlite_magic[16] = "SQLite format 3";

static int check_file(const char *path, int create, int readonly, struct sf_err *err)
{
	struct stat sb;
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
		 * to -wal and -shm). EEXIST: another process won the race.
		 * A file we made but could not initialise is left empty,
		 * and the next create treats it as new. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return sf_fail(err, SF_EIO, "cannot create state file %s: %s", path,
				       strerror(errno));
		if (fd >= 0)
			close(fd);
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

static int sq_open(struct sf_state *st, const struct sf_state_opts *opts, struct sf_err *err)
{
	int rc, fresh = 0;
	int64_t uv = 0;
	st->bk = xcalloc(1, sizeof(struct sq));
	if ((rc = check_file(st->path, opts->create, opts->readonly, err)) < 0)
		goto fail;
	if ((rc = probe(st, opts->create, opts->readonly, &fresh, &uv, err)) < 0)
		goto fail;
	if (opts->readonly && uv < st_sqlite_schema_version()) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s uses schema %lld and needs an upgrade to %d",
			     st->path, (long long)uv, st_sqlite_schema_version());
		sf_err_hint(err, "run a command that writes state (e.g. `secfaas plan`) once to upgrade it");
		goto fail;
	}
	if (!SQ(st)->db && (rc = open_db(st, opts->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, err)) < 0)
		goto fail;
	if (!opts->readonly && (rc = set_wal(st, err)) < 0)
		goto fail;
	if ((rc = sqexec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err)) < 0)
		goto fail;
	if (!opts->readonly && (fresh || uv < st_sqlite_schema_version()) && (rc = migrate(st, err)) < 0)
		goto fail;
	/* A cheap structural check catches truncated or overwritten pages
	 * now, with a clear message, rather than halfway through an apply. */
	char *ck = sqtext(st, "PRAGMA quick_check(1)");
	if (!ck || strcmp(ck, "ok")) {
		rc = sf_fail(err, SF_ECORRUPT, "state file %s is corrupt (%s)", st->path, ck ? ck : "?");
		sf_err_hint(err, "restore it from %s.backup", st->path);
		free(ck);
		goto fail;
	}
	free(ck);
	return 0;
fail:
	sq_close(st);
	return rc;
}

/* ---- lock ---------------------------------------------------------------- */

/* 1 alive (or cannot tell), 0 known dead. Only meaningful on this host. */
static int pid_alive(int pid)
{
	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) == 0)
		return 1;
	return errno != ESRCH; /* EPERM: exists, owned by someone else */
}

static void copy_cell(char *dst, size_t n, const struct st_rows *r, size_t col)
{
	const char *t = st_cell(r, 0, col);
	snprintf(dst, n, "%s", t ? t : "");
}

/* 1 and *li filled if a lock row exists, 0 if not, < 0 on error. */
static int read_lock(struct sf_state *st, struct sf_lock_info *li, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	int rc = st_q(st, Q_LOCK_GET, NULL, 0, &r, err);
	if (rc == 0 && r.nrows) {
		memset(li, 0, sizeof *li);
		copy_cell(li->id, sizeof li->id, &r, 0);
		copy_cell(li->operation, sizeof li->operation, &r, 1);
		copy_cell(li->who, sizeof li->who, &r, 2);
		copy_cell(li->host, sizeof li->host, &r, 3);
		li->pid = (int)st_cell_int(&r, 0, 4);
		copy_cell(li->version, sizeof li->version, &r, 5);
		li->created = st_cell_real(&r, 0, 6);
		li->heartbeat = st_cell_real(&r, 0, 7);
		copy_cell(li->info, sizeof li->info, &r, 8);
		rc = 1;
	}
	st_rows_release(&r);
	return rc;
}

static int put_lock(struct sf_state *st, const struct sf_lock_info *li, struct sf_err *err)
{
	struct st_arg a[9] = {st_text(li->id),	    st_text(li->operation), st_text(li->who),
			      st_text(li->host),    st_int(li->pid),	    st_text(li->version),
			      st_real(li->created), st_real(li->heartbeat), st_text(li->info)};
	return st_qexec(st, Q_LOCK_PUT, a, 9, NULL, err);
}

static int sq_lock_try(struct sf_state *st, const struct sf_lock_info *mine, struct sf_lock_info *holder,
		       struct sf_err *err)
{
	struct sf_lock_info cur = {0};
	int rc = sq_tx(st, ST_TX_BEGIN, err);
	if (rc < 0)
		return rc;
	int locked = read_lock(st, &cur, err);
	if (locked < 0) {
		rc = locked;
		goto fail;
	}
	if (locked && !strcmp(cur.host, sf_hostname()) && !pid_alive(cur.pid)) {
		sf_info("state %s: reclaiming lock %s left by pid %d on %s (process is gone)", st->path,
			cur.id, cur.pid, cur.host);
		locked = 0;
	}
	if (locked) {
		*holder = cur;
		sq_tx(st, ST_TX_ROLLBACK, NULL);
		return SF_ELOCKED;
	}
	if ((rc = put_lock(st, mine, err)) < 0 || (rc = sq_tx(st, ST_TX_COMMIT, err)) < 0)
		goto fail;
	return 0;
fail:
	sq_tx(st, ST_TX_ROLLBACK, NULL);
	return rc;
}

static int sq_lock_release(struct sf_state *st, const char *id, struct sf_err *err)
{
	int64_t n = 0;
	struct st_arg a[1] = {st_text(id)};
	int rc = st_qexec(st, Q_LOCK_DEL, a, 1, &n, err);
	if (rc == 0 && n == 0)
		rc = sf_fail(err, SF_ENOTFOUND, "lock %s on state %s was not held (force-unlocked?)",
			     id ? id : "", st->path);
	return rc;
}

static int sq_lock_get(struct sf_state *st, struct sf_lock_info *out, struct sf_err *err)
{
	return read_lock(st, out, err);
}

static int sq_lock_force(struct sf_state *st, const struct sf_lock_info *cur, struct sf_err *err)
{
	struct st_arg a[1] = {st_text(cur->id)};
	return st_qexec(st, Q_LOCK_DEL, a, 1, NULL, err);
}

/* The lock row is read inside the write transaction (BEGIN IMMEDIATE), so
 * no other writer can take the lock between this check and the commit. */
static int sq_lock_fence(struct sf_state *st, const char *id, int *other, struct sf_err *err)
{
	struct sf_lock_info cur = {0};
	int locked = read_lock(st, &cur, err);
	if (locked < 0)
		return locked;
	if (locked && !strcmp(cur.id, id))
		return 1;
	*other = locked;
	return 0;
}

/* ---- backup, workspaces ---------------------------------------------------- */

static int sq_backup(struct sf_state *st, char **where, struct sf_err *err)
{
	int rc = 0;
	char *dst = xasprintf("%s.backup", st->path);
	char *tmp = xasprintf("%s.backup.tmp.%ld", st->path, (long)getpid());
	sqlite3_stmt *s = NULL;
	unlink(tmp);
	int src = sqlite3_prepare_v2(SQ(st)->db, "VACUUM INTO ?1", -1, &s, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(s, 1, tmp, -1, SQLITE_STATIC);
		src = sqlite3_step(s);
	}
	if (src != SQLITE_DONE) {
		rc = sqfail(st, src, err, "writing a backup");
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
	*where = dst;
	dst = NULL;
done:
	sqlite3_finalize(s);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	free(dst);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sq_workspaces(const char *target, const struct sf_state_opts *opts, char ***names, size_t *n,
			 struct sf_err *err)
{
	(void)opts;
	*names = NULL;
	*n = 0;
	DIR *d = opendir(target);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return sf_fail(err, SF_EIO, "cannot list state directory %s: %s", target, strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 3 || strcmp(de->d_name + l - 3, ".db"))
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof **names);
		(*names)[(*n)++] = xstrndup(de->d_name, l - 3);
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_str);
	return 0;
}

const struct st_backend st_backend_sqlite = {
	.name = "sqlite",
	.sql = sqlite_sql,
	.secrets_apart = 0,
	.open = sq_open,
	.close = sq_close,
	.run = sq_run,
	.tx = sq_tx,
	.tx_gone = sq_tx_gone,
	.lock_try = sq_lock_try,
	.lock_release = sq_lock_release,
	.lock_get = sq_lock_get,
	.lock_force = sq_lock_force,
	.lock_fence = sq_lock_fence,
	.backup = sq_backup,
	.workspaces = sq_workspaces,
};
