/*
 * pg.c - the PostgreSQL backend (state/backend.h): many workspaces in one
 * set of tables, for runners that share state.
 *
 * Layout: every table lives in one schema (opts.schema, "secfaas" by
 * default; one per team if teams share a server) and carries the workspace
 * id; `workspaces` holds name, lineage and serial.  Sealed secrets are bytea
 * rows of `secrets`, apart from the JSON attributes.  `schema_info` records
 * the schema version; migrations run step by step under a transaction-level
 * advisory lock, and a newer schema is refused, naming the writer.
 *
 * Writes: every write transaction first locks its workspace row (SELECT ...
 * FOR UPDATE), which orders writers of one workspace like SQLite's BEGIN
 * IMMEDIATE, and store.c's compare-and-swap of the serial then refuses a
 * writer whose view is out of date.  Journal and run ids are per workspace
 * (max + 1 under that row lock) so a copied history keeps its ids.
 *
 * The lock: a session-level advisory lock keyed by (schema oid, workspace
 * id).  The server drops it the moment the holder's connection ends - a
 * kill -9, a lost runner, a crashed host once TCP keepalives give up - so a
 * lock can never outlive its holder.  Beside it, the `lock_info` row says
 * who holds it, for messages; a row whose session no longer holds the
 * advisory lock is ignored.  force-unlock of a live holder terminates the
 * holder's database session (its next write fails cleanly).
 *
 * A lost connection is final for the handle: the advisory lock went with
 * it and another runner may hold it now, so nothing is retried on a new
 * connection; every later call fails with the same clear error.  Each
 * transition was its own transaction, so what was committed is consistent
 * and the next run resumes from the journal.
 *
 * Queries always run with parameters, and are prepared once per connection
 * when a command runs them often (pgrun); the only identifier ever spliced
 * into SQL is the schema name, validated ([a-z_][a-z0-9_]*) and quoted with
 * PQescapeIdentifier.  Round trips are what a remote database makes slow:
 * the usual open is one (open_fast), a no-op plan four.
 */
#include <ctype.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "state/internal.h"
#include "util.h"
#include "dl.h"

/* libpq (and Kerberos, LDAP under it) is loaded when a state in PostgreSQL
 * is opened (lib/dl.h): a state in a file never needs it. */
#define PQ_FNS(X) \
	X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) X(PQdb) X(PQerrorMessage) \
	X(PQescapeIdentifier) X(PQexec) X(PQexecParams) X(PQexecPrepared) X(PQfinish) X(PQfreemem) \
	X(PQftype) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQhost) X(PQnfields) X(PQntuples) \
	X(PQport) X(PQprepare) X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) \
	X(PQsetNoticeProcessor) X(PQstatus) X(PQtransactionStatus) X(PQunescapeBytea) X(PQuser)
static struct {
	PQ_FNS(SF_DL_FIELD)
} lp;
static const char *const lp_names[] = {PQ_FNS(SF_DL_NAME)};
#define LP_SLOT(f) SF_DL_SLOT(lp, f)
static void *const lp_slots[] = {PQ_FNS(LP_SLOT)};
static struct sf_dl lp_dl = SF_DL_INIT(SF_SONAME_PQ, "libpq5", lp_names, lp_slots);
#define PQclear lp.PQclear
#define PQcmdStatus lp.PQcmdStatus
#define PQcmdTuples lp.PQcmdTuples
#define PQconnectdbParams lp.PQconnectdbParams
#define PQdb lp.PQdb
#define PQerrorMessage lp.PQerrorMessage
#define PQescapeIdentifier lp.PQescapeIdentifier
#define PQfinish lp.PQfinish
#define PQfreemem lp.PQfreemem
#define PQftype lp.PQftype
#define PQgetisnull lp.PQgetisnull
#define PQgetlength lp.PQgetlength
#define PQgetvalue lp.PQgetvalue
#define PQhost lp.PQhost
#define PQnfields lp.PQnfields
#define PQntuples lp.PQntuples
#define PQport lp.PQport
#define PQresultErrorField lp.PQresultErrorField
#define PQresultErrorMessage lp.PQresultErrorMessage
#define PQresultStatus lp.PQresultStatus
#define PQsetNoticeProcessor lp.PQsetNoticeProcessor
#define PQstatus lp.PQstatus
#define PQtransactionStatus lp.PQtransactionStatus
#define PQunescapeBytea lp.PQunescapeBytea
#define PQuser lp.PQuser

#ifndef SECFAAS_VERSION
#define SECFAAS_VERSION "0.0.0"
#endif

#define DEFAULT_SCHEMA SF_STATE_DEFAULT_SCHEMA
#define BYTEAOID 17
/* pg_advisory_xact_lock key serialising schema migrations ("sfmigrat"). */
#define MIGRATION_LOCK_KEY "7378666d69677261"

/* Private statements, prepared like the named queries. */
enum pq_priv {
	P_LOCK_WS,   /* (ws): row lock at the start of every write transaction */
	P_TRY_LOCK,  /* (ws, key) */
	P_UNLOCK,    /* (ws, key) */
	P_TERMINATE, /* (ws, id): end the live holder's session */
	P__COUNT
};

struct pg {
	PGconn *conn;
	/* per statement: runs so far while <= UNPREPARED_RUNS, then prepared (pgrun) */
	unsigned char prepared[Q__COUNT];
	unsigned char prepared_p[P__COUNT];
	int lost;              /* the connection broke: every call fails with lost_msg */
	char lost_msg[400];
	int64_t lock_key;      /* (schema oid << 32) | workspace id */
	int lock_held;         /* this session holds the advisory lock */
	int in_tx;             /* a transaction was started (for tx_gone) */
	char *display;         /* the database for messages, without password */
	atomic_long trips;     /* round trips to the server (trip_exec...) */
};

#define PG(st) ((struct pg *)(st)->bk)
#define UNPREPARED_RUNS 2

/* Every call that waits for the server's answer is one round trip, the
 * cost that dominates against a database across a network: each goes
 * through these, which count it in *n (a handle's trips; NULL: none),
 * for the debug log (pg_close) and the tests that hold the count down. */
static PGresult *trip_exec(atomic_long *n, PGconn *c, const char *sql)
{
	if (n)
		atomic_fetch_add(n, 1);
	return lp.PQexec(c, sql);
}

static PGresult *trip_exec_params(atomic_long *n, PGconn *c, const char *sql, int np, const Oid *types,
				  const char *const *values, const int *lengths, const int *formats, int result_format)
{
	if (n)
		atomic_fetch_add(n, 1);
	return lp.PQexecParams(c, sql, np, types, values, lengths, formats, result_format);
}

static PGresult *trip_exec_prepared(atomic_long *n, PGconn *c, const char *name, int np, const char *const *values,
				    const int *lengths, const int *formats, int result_format)
{
	if (n)
		atomic_fetch_add(n, 1);
	return lp.PQexecPrepared(c, name, np, values, lengths, formats, result_format);
}

static PGresult *trip_prepare(atomic_long *n, PGconn *c, const char *name, const char *sql, int np, const Oid *types)
{
	if (n)
		atomic_fetch_add(n, 1);
	return lp.PQprepare(c, name, sql, np, types);
}

#define J_COLS "id, run_id, address, op, token, detail, done::int, ok::int, result, " \
	       "extract(epoch FROM started)::float8, coalesce(extract(epoch FROM finished)::float8, 0)"
#define RUN_COLS "id, extract(epoch FROM started)::float8, coalesce(extract(epoch FROM finished)::float8, 0), " \
		 "who, host, command, spec_digest, git_sha, plan_summary, result, summary, serial_before, "  \
		 "serial_after, pid"
#define RES_SELECT "SELECT r.address, r.type, r.id, r.status, r.attrs, r.sensitive, r.deps, r.token, "  \
		   "r.schema_version, extract(epoch FROM r.updated_at)::float8, "                     \
		   "(SELECT json_object_agg(s.name, translate(encode(s.sealed, 'base64'), E'\\n', '')) " \
		   "FROM secrets s WHERE s.ws = r.ws AND s.address = r.address) FROM resources r "
/* the advisory lock of workspace $1 in this schema, held by backend `pidexpr` */
#define LOCK_HELD(pidexpr) "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' "          \
			   "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) " \
			   "AND l.classid = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "  \
			   "AND l.objid = $1::int8::oid AND l.objsubid = 1 AND l.granted AND l.pid = " pidexpr ")"

static const char *const pg_sql[Q__COUNT] = {
	[Q_META_GET] = "SELECT value FROM meta WHERE ws = $1 AND key = $2::text",
	[Q_META_PUT] = "INSERT INTO meta(ws, key, value) VALUES ($1, $2, $3) "
		       "ON CONFLICT (ws, key) DO UPDATE SET value = EXCLUDED.value",
	[Q_META_DEL] = "DELETE FROM meta WHERE ws = $1 AND key = $2::text",
	[Q_META_LIST] = "SELECT key, value FROM meta WHERE ws = $1 AND left(key, length($2::text)) = $2::text "
			"ORDER BY key COLLATE \"C\"",
	[Q_LINEAGE] = "SELECT lineage FROM workspaces WHERE id = $1",
	[Q_SERIAL] = "SELECT serial FROM workspaces WHERE id = $1",
	[Q_SERIAL_BUMP] = "UPDATE workspaces SET serial = serial + 1 WHERE id = $1 AND serial = $2::int8",
	[Q_IDENTITY_SET] = "UPDATE workspaces SET lineage = $2, serial = $3 WHERE id = $1",
	[Q_RES_GET] = RES_SELECT "WHERE r.ws = $1 AND r.address = $2::text",
	[Q_RES_LIST] = RES_SELECT "WHERE r.ws = $1 ORDER BY r.address COLLATE \"C\"",
	[Q_RES_PUT] = "INSERT INTO resources(ws, address, type, id, status, attrs, sensitive, deps, token, "
		      "schema_version, updated_at) VALUES ($1, $2, $3, $4, $5, $6::json, $7::json, $8::json, "
		      "$9, $10, to_timestamp($11)) ON CONFLICT (ws, address) DO UPDATE SET "
		      "type = EXCLUDED.type, id = EXCLUDED.id, status = EXCLUDED.status, attrs = EXCLUDED.attrs, "
		      "sensitive = EXCLUDED.sensitive, deps = EXCLUDED.deps, token = EXCLUDED.token, "
		      "schema_version = EXCLUDED.schema_version, updated_at = EXCLUDED.updated_at",
	[Q_RES_DEL] = "DELETE FROM resources WHERE ws = $1 AND address = $2::text",
	[Q_RES_DEL_ALL] = "DELETE FROM resources WHERE ws = $1",
	[Q_RES_RENAME_DEPS] = "UPDATE resources SET deps = (SELECT json_agg(CASE WHEN e.v = $2::text "
			      "THEN $3::text ELSE e.v END ORDER BY e.n) FROM json_array_elements_text(deps) "
			      "WITH ORDINALITY AS e(v, n)) WHERE ws = $1 AND json_typeof(deps) = 'array' AND "
			      "EXISTS (SELECT 1 FROM json_array_elements_text(deps) AS x(v) WHERE x.v = $2::text)",
	[Q_SEC_CLEAR] = "DELETE FROM secrets WHERE ws = $1 AND address = $2::text",
	[Q_SEC_PUT] = "INSERT INTO secrets(ws, address, name, sealed) VALUES ($1, $2, $3, $4::bytea)",
	[Q_J_INSERT] = "INSERT INTO journal(ws, id, run_id, address, op, token, detail, started) VALUES "
		       "($1, (SELECT coalesce(max(id), 0) + 1 FROM journal WHERE ws = $1), $2::int8, $3, $4, $5, "
		       "$6::json, to_timestamp($7)) RETURNING id",
	[Q_J_INSERT_RAW] = "INSERT INTO journal(ws, id, run_id, address, op, token, detail, done, ok, result, "
			   "started, finished) VALUES ($1, $2, $3::int8, $4, $5, $6, $7::json, $8::int <> 0, "
			   "$9::int <> 0, $10::json, to_timestamp($11), "
			   "CASE WHEN $12::float8 > 0 THEN to_timestamp($12::float8) END)",
	[Q_J_RESOLVE] = "UPDATE journal SET done = true, ok = $3::int <> 0, result = $4::json, "
			"finished = to_timestamp($5) WHERE ws = $1 AND id = $2::int8 AND NOT done",
	[Q_J_EXISTS] = "SELECT count(*) FROM journal WHERE ws = $1 AND id = $2::int8",
	[Q_J_OPEN] = "SELECT " J_COLS " FROM journal WHERE ws = $1 AND NOT done ORDER BY id",
	[Q_J_LIST] = "SELECT * FROM (SELECT " J_COLS " FROM journal WHERE ws = $1 AND "
		     "($2::text IS NULL OR address = $2::text) ORDER BY id DESC LIMIT NULLIF($3::int8, 0)) t "
		     "ORDER BY id",
	[Q_RUN_INSERT] = "INSERT INTO runs(ws, id, started, who, host, pid, command, spec_digest, git_sha, "
			 "plan_summary, serial_before) VALUES ($1, (SELECT coalesce(max(id), 0) + 1 FROM runs "
			 "WHERE ws = $1), to_timestamp($2), $3, $4, $5, $6, $7, $8, $9::json, $10) RETURNING id",
	[Q_RUN_INSERT_RAW] = "INSERT INTO runs(ws, id, started, finished, who, host, command, spec_digest, "
			     "git_sha, plan_summary, result, summary, serial_before, serial_after, pid) VALUES "
			     "($1, $2, to_timestamp($3), CASE WHEN $4::float8 > 0 THEN to_timestamp($4::float8) "
			     "END, $5, $6, $7, $8, $9, $10::json, $11, $12::json, $13, $14, $15)",
	[Q_RUN_END] = "UPDATE runs SET finished = to_timestamp($3), result = $4, summary = $5::json, "
		      "serial_after = $6 WHERE ws = $1 AND id = $2::int8 AND result IS NULL",
	[Q_RUN_LIST] = "SELECT " RUN_COLS " FROM runs WHERE ws = $1 ORDER BY id DESC",
	[Q_SNAP_PUT] = "INSERT INTO snapshots(ws, serial, created, body) VALUES ($1, $2, to_timestamp($3), "
		       "$4::json) ON CONFLICT (ws, serial) DO UPDATE SET created = EXCLUDED.created, "
		       "body = EXCLUDED.body",
	[Q_SNAP_PRUNE] = "DELETE FROM snapshots WHERE ws = $1 AND serial NOT IN "
			 "(SELECT serial FROM snapshots WHERE ws = $1 ORDER BY serial DESC LIMIT 20)",
	[Q_SNAP_LIST] = "SELECT serial, extract(epoch FROM created)::float8 FROM snapshots WHERE ws = $1 "
			"ORDER BY serial DESC",
	[Q_SNAP_GET] = "SELECT body FROM snapshots WHERE ws = $1 AND serial = $2::int8",
	[Q_TIM_ADD] = "INSERT INTO phase_timings(ws, type, phase, seconds, at) VALUES "
		      "($1, $2, $3, $4, to_timestamp($5))",
	[Q_TIM_PRUNE] = "DELETE FROM phase_timings WHERE ws = $1 AND type = $2::text AND phase = $3::text AND "
			"id NOT IN (SELECT id FROM phase_timings WHERE ws = $1 AND type = $2::text AND "
			"phase = $3::text ORDER BY id DESC LIMIT 50)",
	[Q_TIM_LIST] = "SELECT seconds FROM phase_timings WHERE ws = $1 AND type = $2::text AND "
		       "phase = $3::text ORDER BY id DESC LIMIT 50",
	[Q_TIM_ALL] = "SELECT type, phase, seconds, extract(epoch FROM at)::float8 FROM phase_timings "
		      "WHERE ws = $1 ORDER BY id",
	[Q_LOCK_GET] = "SELECT id, operation, who, host, pid, version, extract(epoch FROM created)::float8, "
		       "extract(epoch FROM heartbeat)::float8, info FROM lock_info li WHERE ws = $1 AND "
		       LOCK_HELD("li.backend_pid"),
	[Q_LOCK_PUT] = "INSERT INTO lock_info(ws, id, operation, who, host, pid, version, created, heartbeat, "
		       "info, backend_pid) VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8), "
		       "to_timestamp($9), $10, pg_backend_pid()) ON CONFLICT (ws) DO UPDATE SET "
		       "id = EXCLUDED.id, operation = EXCLUDED.operation, who = EXCLUDED.who, "
		       "host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version, "
		       "created = EXCLUDED.created, heartbeat = EXCLUDED.heartbeat, info = EXCLUDED.info, "
		       "backend_pid = EXCLUDED.backend_pid",
	[Q_LOCK_DEL] = "DELETE FROM lock_info WHERE ws = $1 AND id = $2::text",
	[Q_LOCK_DEL_ALL] = "DELETE FROM lock_info WHERE ws = $1",
	[Q_LOCK_BEAT] = "UPDATE lock_info SET heartbeat = to_timestamp($3) WHERE ws = $1 AND id = $2::text",
	[Q_CLAIM_GET] = "SELECT who, host, pid, status, extract(epoch FROM started)::float8, "
			"coalesce(extract(epoch FROM finished)::float8, 0) FROM claims WHERE ws = $1 AND "
			"round = $2::text",
	[Q_CLAIM_PUT] = "INSERT INTO claims(ws, round, who, host, pid, status, started) VALUES "
			"($1, $2, $3, $4, $5, 'running', to_timestamp($6)) ON CONFLICT (ws, round) DO UPDATE "
			"SET who = EXCLUDED.who, host = EXCLUDED.host, pid = EXCLUDED.pid, status = 'running', "
			"started = EXCLUDED.started, finished = NULL",
	[Q_CLAIM_END] = "UPDATE claims SET status = $3, finished = to_timestamp($4) WHERE ws = $1 AND "
			"round = $2::text AND status = 'running'",
};

static const char *const pg_priv_sql[P__COUNT] = {
	[P_LOCK_WS] = "SELECT serial FROM workspaces WHERE id = $1 FOR UPDATE",
	[P_TRY_LOCK] = "SELECT pg_try_advisory_lock($2::int8)",
	[P_UNLOCK] = "SELECT pg_advisory_unlock($2::int8)",
	[P_TERMINATE] = "SELECT pg_terminate_backend(li.backend_pid, 5000) FROM lock_info li "
			"WHERE li.ws = $1 AND li.id = $2::text AND " LOCK_HELD("li.backend_pid"),
};

/* ---- schema ------------------------------------------------------------ */

struct migration {
	int to_version;
	const char *sql;
};

/* Append only: a released step is never edited. */
static const struct migration migrations[] = {
	{1,
	 "CREATE TABLE workspaces("
	 "  id bigserial PRIMARY KEY,"
	 "  name text NOT NULL UNIQUE,"
	 "  lineage text NOT NULL,"
	 "  serial bigint NOT NULL DEFAULT 0 CHECK (serial >= 0),"
	 "  created_at timestamptz NOT NULL DEFAULT now());"
	 "CREATE TABLE meta("
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  key text NOT NULL,"
	 "  value text NOT NULL,"
	 "  PRIMARY KEY (ws, key));"
	 "CREATE TABLE resources("
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  address text NOT NULL,"
	 "  type text NOT NULL,"
	 "  id text,"
	 "  status text NOT NULL CHECK (status IN ('creating','created','tainted','deleting','leaked')),"
	 "  attrs json NOT NULL,"
	 "  sensitive json,"
	 "  deps json,"
	 "  token text,"
	 "  schema_version integer NOT NULL DEFAULT 0,"
	 "  updated_at timestamptz NOT NULL,"
	 "  PRIMARY KEY (ws, address));"
	 "CREATE TABLE secrets("
	 "  ws bigint NOT NULL,"
	 "  address text NOT NULL,"
	 "  name text NOT NULL,"
	 "  sealed bytea NOT NULL,"
	 "  PRIMARY KEY (ws, address, name),"
	 "  FOREIGN KEY (ws, address) REFERENCES resources ON DELETE CASCADE ON UPDATE CASCADE);"
	 "CREATE TABLE runs("
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  id bigint NOT NULL,"
	 "  started timestamptz NOT NULL,"
	 "  finished timestamptz,"
	 "  who text NOT NULL,"
	 "  host text NOT NULL,"
	 "  pid integer NOT NULL DEFAULT 0,"
	 "  command text NOT NULL,"
	 "  spec_digest text, git_sha text, plan_summary json,"
	 "  result text CHECK (result IS NULL OR result IN ('ok','error','interrupted')),"
	 "  summary json,"
	 "  serial_before bigint NOT NULL,"
	 "  serial_after bigint NOT NULL DEFAULT 0,"
	 "  PRIMARY KEY (ws, id));"
	 "CREATE TABLE journal("
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  id bigint NOT NULL,"
	 "  run_id bigint,"
	 "  address text NOT NULL,"
	 "  op text NOT NULL,"
	 "  token text, detail json,"
	 "  done boolean NOT NULL DEFAULT false,"
	 "  ok boolean NOT NULL DEFAULT false,"
	 "  result json,"
	 "  started timestamptz NOT NULL,"
	 "  finished timestamptz,"
	 "  PRIMARY KEY (ws, id),"
	 "  FOREIGN KEY (ws, run_id) REFERENCES runs(ws, id));"
	 "CREATE INDEX journal_open ON journal(ws, id) WHERE NOT done;"
	 "CREATE INDEX journal_address ON journal(ws, address, id);"
	 "CREATE TABLE snapshots("
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  serial bigint NOT NULL,"
	 "  created timestamptz NOT NULL,"
	 "  body json NOT NULL,"
	 "  PRIMARY KEY (ws, serial));"
	 "CREATE TABLE phase_timings("
	 "  id bigserial PRIMARY KEY,"
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  type text NOT NULL,"
	 "  phase text NOT NULL,"
	 "  seconds double precision NOT NULL,"
	 "  at timestamptz NOT NULL);"
	 "CREATE INDEX phase_timings_key ON phase_timings(ws, type, phase, id);"
	 "CREATE TABLE lock_info("
	 "  ws bigint PRIMARY KEY REFERENCES workspaces ON DELETE CASCADE,"
	 "  id text NOT NULL,"
	 "  operation text NOT NULL,"
	 "  who text NOT NULL,"
	 "  host text NOT NULL,"
	 "  pid integer NOT NULL,"
	 "  version text NOT NULL,"
	 "  created timestamptz NOT NULL,"
	 "  heartbeat timestamptz NOT NULL,"
	 "  info text NOT NULL DEFAULT '',"
	 "  backend_pid integer NOT NULL);"
	 "CREATE TABLE claims("
	 "  ws bigint NOT NULL REFERENCES workspaces ON DELETE CASCADE,"
	 "  round text NOT NULL,"
	 "  who text NOT NULL,"
	 "  host text NOT NULL,"
	 "  pid integer NOT NULL,"
	 "  status text NOT NULL CHECK (status IN ('running','ok','error')),"
	 "  started timestamptz NOT NULL,"
	 "  finished timestamptz,"
	 "  PRIMARY KEY (ws, round));"},
};

int st_pg_schema_version(void)
{
	return migrations[SF_ARRAY_LEN(migrations) - 1].to_version;
}

/* ---- errors ------------------------------------------------------------ */

/* First line of libpq's message, without the trailing newline. */
static void first_line(char *dst, size_t n, const char *msg)
{
	snprintf(dst, n, "%s", msg && *msg ? msg : "unknown error");
	dst[strcspn(dst, "\n")] = 0;
}

static int connection_gone(const char *sqlstate, PGconn *conn)
{
	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return 1;
	return sqlstate && (!strncmp(sqlstate, "08", 2) || !strcmp(sqlstate, "57P01") ||
			    !strcmp(sqlstate, "57P02") || !strcmp(sqlstate, "57P03"));
}

/* Map a failed result (or connection) to an sf_err.  Marks the handle lost
 * when the connection is gone. */
static int pgfail(struct sf_state *st, PGresult *res, struct sf_err *err, const char *what)
{
	struct pg *b = PG(st);
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[300];
	first_line(msg, sizeof msg, res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
					    ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
					    : PQerrorMessage(b->conn));
	if (connection_gone(sqlstate, b->conn)) {
		st->broken = 1;
		if (!b->lost) {
			b->lost = 1;
			snprintf(b->lost_msg, sizeof b->lost_msg,
				 "lost the connection to the state database %s while %s (%s)", st->path, what,
				 msg);
		}
		sf_fail(err, SF_EIO, "%s", b->lost_msg);
		return sf_err_hint(err, "this run stopped writing; every step it recorded before is kept "
					"and the workspace lock went with the connection. Re-run once the "
					"database is reachable: it resumes from the journal");
	}
	if (!sqlstate)
		return sf_fail(err, SF_ERROR, "%s in state %s: %s", what, st->path, msg);
	if (!strncmp(sqlstate, "23", 2)) {
		st->cons = !strcmp(sqlstate, "23505")	? ST_CONS_UNIQUE
			   : !strcmp(sqlstate, "23503") ? ST_CONS_FOREIGN
							: ST_CONS_OTHER;
		return sf_fail(err, SF_ECONFLICT, "%s in state %s: %s", what, st->path, msg);
	}
	if (!strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01")) {
		sf_fail(err, SF_ESTALE, "%s in state %s: another writer of this workspace got in the way (%s)",
			what, st->path, msg);
		return sf_err_hint(err, "two runs wrote to the same state (was --lock=false used?); run plan "
					"again");
	}
	if (!strcmp(sqlstate, "55P03") || !strcmp(sqlstate, "57014")) {
		sf_fail(err, SF_ETIMEOUT, "%s in state %s: the database kept it waiting (%s)", what, st->path,
			msg);
		return sf_err_hint(err, "another session holds a transaction on this workspace; retry");
	}
	if (!strcmp(sqlstate, "42501")) {
		sf_fail(err, SF_EAUTH, "%s in state %s: %s", what, st->path, msg);
		return sf_err_hint(err, "the database role needs USAGE and CREATE on the schema and "
					"SELECT, INSERT, UPDATE, DELETE on its tables");
	}
	if (!strncmp(sqlstate, "53", 2) || !strncmp(sqlstate, "58", 2))
		return sf_fail(err, SF_EIO, "%s in state %s: the database server failed: %s", what, st->path,
			       msg);
	if (!strncmp(sqlstate, "XX", 2))
		return sf_fail(err, SF_ECORRUPT, "%s in state %s: %s", what, st->path, msg);
	if (!strncmp(sqlstate, "22", 2))
		return sf_fail(err, SF_EINVAL, "%s in state %s: the database refused a value: %s", what,
			       st->path, msg);
	return sf_fail(err, SF_ERROR, "%s in state %s: %s (SQLSTATE %s)", what, st->path, msg, sqlstate);
}

static int lost_fail(struct sf_state *st, struct sf_err *err)
{
	sf_fail(err, SF_EIO, "%s", PG(st)->lost_msg);
	return sf_err_hint(err, "this run stopped writing; re-run once the database is reachable: it "
				"resumes from the journal");
}

/* Plain SQL without parameters (BEGIN, DDL).  Checks the status. */
static int pgexec(struct sf_state *st, const char *sql, const char *what, struct sf_err *err)
{
	struct pg *b = PG(st);
	if (b->lost)
		return lost_fail(st, err);
	PGresult *res = trip_exec(&b->trips, b->conn, sql);
	int rc = 0;
	ExecStatusType s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = pgfail(st, res, err, what);
	PQclear(res);
	return rc;
}

/* ---- the executor -------------------------------------------------------- */

struct pgparams {
	const char *v[20];
	int len[20], fmt[20];
	char buf[20][32];
	int n;
};

static void params_fill(struct pgparams *p, int64_t ws, const struct st_arg *a, int n)
{
	memset(p, 0, sizeof *p);
	snprintf(p->buf[0], sizeof p->buf[0], "%lld", (long long)ws);
	p->v[0] = p->buf[0];
	for (int i = 0; i < n && i + 1 < 20; i++) {
		int k = i + 1;
		switch (a[i].t) {
		case ST_A_NULL:
			p->v[k] = NULL;
			break;
		case ST_A_INT:
			snprintf(p->buf[k], sizeof p->buf[k], "%lld", (long long)a[i].i);
			p->v[k] = p->buf[k];
			break;
		case ST_A_REAL:
			snprintf(p->buf[k], sizeof p->buf[k], "%.17g", a[i].d);
			p->v[k] = p->buf[k];
			break;
		case ST_A_TEXT:
			p->v[k] = a[i].p;
			break;
		case ST_A_BLOB:
			p->v[k] = a[i].p;
			p->len[k] = (int)a[i].n;
			p->fmt[k] = 1;
			break;
		}
	}
	p->n = n + 1;
}

static void collect_rows(PGresult *res, struct st_rows *rows)
{
	int nr = PQntuples(res), nc = PQnfields(res);
	rows->ncols = (size_t)nc;
	for (int r = 0; r < nr; r++) {
		char *cells[20];
		size_t lens[20];
		for (int c = 0; c < nc && c < 20; c++) {
			lens[c] = 0;
			if (PQgetisnull(res, r, c)) {
				cells[c] = NULL;
			} else if (PQftype(res, c) == BYTEAOID) {
				size_t n = 0;
				unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, c), &n);
				cells[c] = xmalloc(n + 1);
				if (raw && n)
					memcpy(cells[c], raw, n);
				cells[c][n] = 0;
				lens[c] = n;
				PQfreemem(raw);
			} else {
				cells[c] = xstrndup(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
				lens[c] = (size_t)PQgetlength(res, r, c);
			}
		}
		st_rows_add(rows, cells, lens);
	}
	const char *ct = PQcmdTuples(res);
	rows->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
}

/* Run statement `name`.  Its first two runs go as unnamed statements, text
 * and parameters in one round trip each; the third prepares it (one round
 * trip more, once) so that it and every later run send only the parameters
 * and skip the server's parsing and planning.  A statement a command runs
 * once or twice (most of a plan's) costs one round trip per run; one run
 * n > 2 times costs n + 1. */
static int pgrun(struct sf_state *st, unsigned char *prepared, const char *name, const char *sql,
		 const struct st_arg *args, int nargs, struct st_rows *rows, struct sf_err *err)
{
	struct pg *b = PG(st);
	if (b->lost)
		return lost_fail(st, err);
	if (nargs > 18)
		return sf_fail(err, SF_ERROR, "internal: too many query parameters");
	/* $1, the workspace, is int8 even where a text does not use it */
	static const Oid ws_type[20] = {20};
	PGresult *res;
	if (*prepared == UNPREPARED_RUNS) {
		res = trip_prepare(&b->trips, b->conn, name, sql, 1, ws_type);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			int rc = pgfail(st, res, err, "preparing a query");
			PQclear(res);
			return rc;
		}
		PQclear(res);
		*prepared = UNPREPARED_RUNS + 1;
	}
	struct pgparams p;
	params_fill(&p, st->ws_id, args, nargs);
	if (*prepared > UNPREPARED_RUNS) {
		res = trip_exec_prepared(&b->trips, b->conn, name, p.n, p.v, p.len, p.fmt, 0);
	} else {
		res = trip_exec_params(&b->trips, b->conn, sql, p.n, ws_type, p.v, p.len, p.fmt, 0);
		(*prepared)++;
	}
	ExecStatusType s = PQresultStatus(res);
	int rc = 0;
	if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
		if (rows)
			collect_rows(res, rows);
	} else {
		rc = pgfail(st, res, err, "running a query");
	}
	PQclear(res);
	return rc;
}

static int pg_run(struct sf_state *st, enum st_q q, const struct st_arg *args, int nargs, struct st_rows *rows,
		  struct sf_err *err)
{
	char name[16];
	if (!pg_sql[q])
		return sf_fail(err, SF_ERROR, "internal: query %d has no PostgreSQL text", (int)q);
	snprintf(name, sizeof name, "sf_q%d", (int)q);
	return pgrun(st, &PG(st)->prepared[q], name, pg_sql[q], args, nargs, rows, err);
}

static int pg_priv(struct sf_state *st, enum pq_priv q, const struct st_arg *args, int nargs,
		   struct st_rows *rows, struct sf_err *err)
{
	char name[16];
	snprintf(name, sizeof name, "sf_p%d", (int)q);
	return pgrun(st, &PG(st)->prepared_p[q], name, pg_priv_sql[q], args, nargs, rows, err);
}

static int pg_tx(struct sf_state *st, enum st_tx op, struct sf_err *err)
{
	struct pg *b = PG(st);
	int rc;
	switch (op) {
	case ST_TX_BEGIN:
		if ((rc = pgexec(st, "BEGIN", "starting a transaction", err)) < 0)
			return rc;
		b->in_tx = 1;
		/* Writers of one workspace queue here, like BEGIN IMMEDIATE. */
		if ((rc = pg_priv(st, P_LOCK_WS, NULL, 0, NULL, err)) < 0)
			pg_tx(st, ST_TX_ROLLBACK, NULL);
		return rc;
	case ST_TX_COMMIT: {
		if (b->lost)
			return lost_fail(st, err);
		PGresult *res = trip_exec(&b->trips, b->conn, "COMMIT");
		rc = 0;
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pgfail(st, res, err, "committing");
		else if (strcmp(PQcmdStatus(res), "COMMIT"))
			/* COMMIT of a failed transaction answers ROLLBACK */
			rc = sf_fail(err, SF_EIO, "the transaction on state %s was rolled back by the "
						  "database; nothing of it was written", st->path);
		PQclear(res);
		b->in_tx = 0;
		return rc;
	}
	case ST_TX_ROLLBACK:
		if (!b->lost && PQtransactionStatus(b->conn) != PQTRANS_IDLE)
			PQclear(trip_exec(&b->trips, b->conn, "ROLLBACK"));
		b->in_tx = 0;
		return 0;
	case ST_SP_BEGIN:
		return pgexec(st, "SAVEPOINT sf_op", "starting a savepoint", err);
	case ST_SP_RELEASE:
		return pgexec(st, "RELEASE SAVEPOINT sf_op", "releasing a savepoint", err);
	case ST_SP_ROLLBACK:
		if (!b->lost && PQtransactionStatus(b->conn) != PQTRANS_IDLE)
			PQclear(trip_exec(&b->trips, b->conn, "ROLLBACK TO SAVEPOINT sf_op; RELEASE SAVEPOINT sf_op"));
		return 0;
	}
	return 0;
}

static int pg_tx_gone(struct sf_state *st)
{
	struct pg *b = PG(st);
	return b->lost || PQstatus(b->conn) == CONNECTION_BAD || PQtransactionStatus(b->conn) == PQTRANS_IDLE;
}

/* ---- connecting ------------------------------------------------------------ */

static int valid_schema(const char *s)
{
	if (!s || !*s || strlen(s) > 63 || !(islower((unsigned char)*s) || *s == '_'))
		return 0;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

static int valid_workspace(const char *s)
{
	if (!s || !*s || strlen(s) > 128 || *s == '.' || *s == '-')
		return 0;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* "postgresql://USER@HOST:PORT/DB" from the live connection: never the
 * password, whatever the URL carried. */
static char *display_url(PGconn *c)
{
	const char *host = PQhost(c), *port = PQport(c), *user = PQuser(c), *db = PQdb(c);
	if (host && host[0] == '/')
		return xasprintf("postgresql://%s@/%s?host=%s", user ? user : "", db ? db : "", host);
	return xasprintf("postgresql://%s@%s%s%s/%s", user ? user : "", host ? host : "",
			 port && *port && strcmp(port, "5432") ? ":" : "",
			 port && *port && strcmp(port, "5432") ? port : "", db ? db : "");
}

static void ignore_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* The session's settings, as select-list items: $1 (the schema) on the
 * search path, the server's keepalives, timeouts. */
#define SESSION_SETTINGS                                                                  \
	"set_config('search_path', quote_ident($1), false), "                             \
	"set_config('tcp_keepalives_idle', '30', false), "                                \
	"set_config('tcp_keepalives_interval', '10', false), "                            \
	"set_config('tcp_keepalives_count', '3', false), "                                \
	"set_config('lock_timeout', '60s', false), "                                      \
	"set_config('idle_in_transaction_session_timeout', '10min', false)"

static int session_setup(atomic_long *trips, PGconn *c, const char *schema, const char *display,
			 struct sf_err *err)
{
	const char *p[1] = {schema};
	PGresult *res = trip_exec_params(trips, c, "SELECT " SESSION_SETTINGS, 1, NULL, p, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[300];
		first_line(msg, sizeof msg, PQresultErrorMessage(res));
		rc = sf_fail(err, SF_EIO, "cannot set up the session on the state database %s: %s", display, msg);
	}
	PQclear(res);
	return rc;
}

/* Connect; with setup, also set the session up (session_setup).
 * *display gets the URL for messages (owned). */
static int connect_db(const char *target, const char *schema, double timeout_s, int setup, PGconn **out,
		      char **display, struct sf_err *err)
{
	char tmo[16];
	snprintf(tmo, sizeof tmo, "%d", timeout_s >= 1 ? (int)timeout_s : 5);
	/* Before dbname: defaults the URL may override.  TCP keepalives let a
	 * runner notice a vanished server; the server's own keepalives (set
	 * below) free the lock of a vanished runner.  lock_timeout from the
	 * start: open_fast's statement takes its table locks before its own
	 * set_config of it runs (a URL with options of its own replaces this,
	 * and only that first statement then waits without a limit). */
	const char *kw[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
			    "options", "dbname", "fallback_application_name", NULL};
	const char *val[] = {tmo, "30", "10", "3", "-c lock_timeout=60s", target, "secfaas", NULL};
	*out = NULL;
	*display = NULL;
	int rc = sf_dl_load(&lp_dl, err);
	if (rc < 0)
		return rc;
	PGconn *c = PQconnectdbParams(kw, val, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		char msg[300];
		first_line(msg, sizeof msg, c ? PQerrorMessage(c) : "out of memory");
		/* never echo the target: it may carry a password */
		sf_fail(err, SF_EIO, "cannot connect to the state database: %s", msg);
		sf_err_hint(err, "check the URL given with --backend / SECFAAS_BACKEND / secfaas.yaml "
				 "and that the server accepts connections");
		PQfinish(c);
		return SF_EIO;
	}
	*display = display_url(c);
	sf_debug("state database %s: connected", *display);
	/* NOTICEs ("relation already exists, skipping") are not for users */
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	if (setup && session_setup(NULL, c, schema, *display, err) < 0) {
		PQfinish(c);
		free(*display);
		*display = NULL;
		return SF_EIO;
	}
	*out = c;
	return 0;
}

/* The usual open in one round trip: the session's settings (read-only
 * for a read-only handle), the schema's version, the workspace's id,
 * lineage and serial and the schema's oid, in one statement.  Its table names carry
 * the schema: the search path it sets applies from the next statement.
 * Returns 1 when the workspace is open (st->ws_id, lock key, lineage,
 * serial set), 0 when anything is unusual (no schema or workspace yet, another
 * schema version, a refusal) for the step-by-step open to handle and
 * report, < 0 when the connection broke. */
static int open_fast(struct sf_state *st, const char *schema, int readonly, struct sf_err *err)
{
	struct pg *b = PG(st);
	char *q = PQescapeIdentifier(b->conn, schema, strlen(schema));
	if (!q)
		return 0;
	char *sql = xasprintf("SELECT " SESSION_SETTINGS "%s, (SELECT version FROM %s.schema_info), w.id, w.lineage, "
			      "(SELECT oid FROM pg_namespace WHERE nspname = $1), w.serial FROM %s.workspaces w WHERE w.name = $2",
			      readonly ? ", set_config('default_transaction_read_only', 'on', false)" : "", q, q);
	PQfreemem(q);
	const char *p[2] = {schema, st->workspace};
	PGresult *res = trip_exec_params(&b->trips, b->conn, sql, 2, NULL, p, NULL, NULL, 0);
	free(sql);
	int rc = 0, nf = PQnfields(res);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && nf >= 5 &&
	    !PQgetisnull(res, 0, nf - 5) && strtol(PQgetvalue(res, 0, nf - 5), NULL, 10) == st_pg_schema_version() &&
	    !PQgetisnull(res, 0, nf - 2) && PQgetlength(res, 0, nf - 3) < (int)sizeof st->lineage &&
	    !PQgetisnull(res, 0, nf - 1)) {
		st->ws_id = strtoll(PQgetvalue(res, 0, nf - 4), NULL, 10);
		memcpy(st->lineage, PQgetvalue(res, 0, nf - 3), (size_t)PQgetlength(res, 0, nf - 3) + 1);
		uint64_t oid = strtoull(PQgetvalue(res, 0, nf - 2), NULL, 10);
		b->lock_key = (int64_t)((oid << 32) | ((uint64_t)st->ws_id & 0xffffffffu));
		st->serial_seen = strtoll(PQgetvalue(res, 0, nf - 1), NULL, 10);
		st->serial_read = 1;
		rc = 1;
	} else if (PQstatus(b->conn) == CONNECTION_BAD) {
		rc = pgfail(st, res, err, "opening the workspace");
	}
	PQclear(res);
	return rc;
}

/* Schema version, or 0 when the schema or its tables do not exist yet;
 * *writer (owned) the secfaas version that last migrated it. */
static const char *sqlstate_of(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

static int read_version(struct sf_state *st, int *version, char **writer, struct sf_err *err)
{
	struct pg *b = PG(st);
	*version = 0;
	*writer = NULL;
	PGresult *res = trip_exec(&b->trips, b->conn, "SELECT version, written_by FROM schema_info");
	int rc = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		if (PQntuples(res) == 1) {
			*version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
			*writer = xstrdup(PQgetvalue(res, 0, 1));
		}
	} else if (strcmp(sqlstate_of(res), "42P01")) { /* 42P01: no schema or table yet */
		rc = pgfail(st, res, err, "reading the schema version");
	}
	PQclear(res);
	return rc;
}

static int refuse_newer(struct sf_state *st, int version, const char *writer, struct sf_err *err)
{
	sf_fail(err, SF_ECORRUPT,
		"state database %s (schema %s) was written by a newer secfaas%s%s (schema version %d, this "
		"build knows %d); upgrade secfaas",
		st->path, st->schema, writer ? " " : "", writer ? writer : "", version, st_pg_schema_version());
	return sf_err_hint(err, "every runner sharing this database needs that version or newer");
}

static int migrate(struct sf_state *st, struct sf_err *err)
{
	struct pg *b = PG(st);
	int rc, version = 0;
	char *writer = NULL;
	if ((rc = pgexec(st, "BEGIN", "upgrading the state schema", err)) < 0)
		return rc;
	/* One migrator at a time per database; the others wait here and then
	 * find the work done. */
	if ((rc = pgexec(st, "SELECT pg_advisory_xact_lock(x'" MIGRATION_LOCK_KEY "'::int8)",
			 "waiting for another schema upgrade", err)) < 0)
		goto fail;
	const char *p[1] = {st->schema};
	PGresult *res = trip_exec_params(&b->trips, b->conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, NULL, p,
				     NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pgfail(st, res, err, "looking up the schema");
		PQclear(res);
		goto fail;
	}
	int have_schema = PQntuples(res) == 1;
	PQclear(res);
	if (!have_schema) {
		char *id = PQescapeIdentifier(b->conn, st->schema, strlen(st->schema));
		char *sql = xasprintf("CREATE SCHEMA %s", id ? id : "\"\"");
		PQfreemem(id);
		rc = pgexec(st, sql, "creating the schema", err);
		free(sql);
		if (rc < 0)
			goto fail;
	}
	if ((rc = pgexec(st, "CREATE TABLE IF NOT EXISTS schema_info(one integer PRIMARY KEY CHECK (one = 1), "
			     "version integer NOT NULL, written_by text NOT NULL)",
			 "creating the schema version table", err)) < 0 ||
	    (rc = read_version(st, &version, &writer, err)) < 0)
		goto fail;
	if (version > st_pg_schema_version()) {
		rc = refuse_newer(st, version, writer, err);
		goto fail;
	}
	for (size_t i = 0; i < SF_ARRAY_LEN(migrations); i++) {
		const struct migration *m = &migrations[i];
		if (version >= m->to_version)
			continue;
		char v[16];
		snprintf(v, sizeof v, "%d", m->to_version);
		const char *pv[2] = {v, SECFAAS_VERSION};
		if ((rc = pgexec(st, m->sql, "upgrading the state schema", err)) < 0)
			goto fail;
		res = trip_exec_params(&b->trips, b->conn,
				   "INSERT INTO schema_info(one, version, written_by) VALUES (1, $1::int, $2) "
				   "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version, "
				   "written_by = EXCLUDED.written_by",
				   2, NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			rc = pgfail(st, res, err, "recording the schema version");
			PQclear(res);
			goto fail;
		}
		PQclear(res);
		sf_debug("state %s: schema %s upgraded to %d", st->path, st->schema, m->to_version);
	}
	free(writer);
	return pg_tx(st, ST_TX_COMMIT, err) < 0 ? sf_err_prefix(err, "upgrading the state schema: ") : 0;
fail:
	free(writer);
	pg_tx(st, ST_TX_ROLLBACK, NULL);
	return rc;
}

/* Find the workspace row (creating it when asked); sets st->ws_id. */
static int open_workspace(struct sf_state *st, int create, struct sf_err *err)
{
	struct pg *b = PG(st);
	const char *p[2] = {st->workspace, NULL};
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *res = trip_exec_params(&b->trips, b->conn, "SELECT id FROM workspaces WHERE name = $1", 1, NULL, p,
					     NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			int rc = pgfail(st, res, err, "looking up the workspace");
			PQclear(res);
			return rc;
		}
		if (PQntuples(res) == 1) {
			st->ws_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			PQclear(res);
			return 0;
		}
		PQclear(res);
		if (!create || st->readonly) {
			sf_fail(err, SF_ENOTFOUND, "no workspace %s in %s (schema %s)", st->workspace,
				b->display, st->schema);
			return sf_err_hint(err, "check the workspace name, or run `secfaas apply` to create it");
		}
		/* Create it with its meta rows in one transaction; if another
		 * runner creates it first, use theirs. */
		char lineage[37];
		sf_uuid4(lineage);
		p[1] = lineage;
		int rc = pgexec(st, "BEGIN", "creating the workspace", err);
		if (rc < 0)
			return rc;
		b->in_tx = 1;
		res = trip_exec_params(&b->trips, b->conn,
				   "INSERT INTO workspaces(name, lineage) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
				   "RETURNING id",
				   2, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = pgfail(st, res, err, "creating the workspace");
			PQclear(res);
			pg_tx(st, ST_TX_ROLLBACK, NULL);
			return rc;
		}
		int made = PQntuples(res) == 1;
		if (made)
			st->ws_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (!made) {
			pg_tx(st, ST_TX_ROLLBACK, NULL);
			continue;
		}
		struct st_arg a[2] = {st_text("secfaas_version"), st_text(SECFAAS_VERSION)};
		if ((rc = st_init_meta(st, err)) < 0 || (rc = st_qexec(st, Q_META_PUT, a, 2, NULL, err)) < 0 ||
		    (rc = pg_tx(st, ST_TX_COMMIT, err)) < 0) {
			pg_tx(st, ST_TX_ROLLBACK, NULL);
			sf_err_prefix(err, "creating workspace %s: ", st->workspace);
			return rc;
		}
		return 0;
	}
	return sf_fail(err, SF_ERROR, "workspace %s in %s vanished while it was being opened", st->workspace,
		       st->path);
}

/* ---- kept connections (sf_state_reuse_connections) ----------------------- */

/* A handle's connection, kept after its close for the next open of the
 * same database and schema in the same mode: its session is set up for
 * them (schema, timeouts, read-only or not), and the statements it
 * prepared stay prepared, so prepared[] travels with it.  A read-write
 * handle's is kept only once its advisory lock is released, so a kept
 * connection never holds a workspace. */
struct kept {
	char *target, *schema;
	int readonly;
	PGconn *conn;
	unsigned char prepared[Q__COUNT];
	unsigned char prepared_p[P__COUNT];
	struct kept *next;
};
/* Enough for the workers of a fleet run (--cluster-parallelism), few
 * enough never to crowd a server's max_connections. */
#define KEPT_MAX 16
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kept *kept;
static size_t nkept;
static int keeping;

void st_pg_reuse_connections(int on)
{
	pthread_mutex_lock(&kept_mu);
	keeping = on;
	struct kept *k = on ? NULL : kept;
	if (!on) {
		kept = NULL;
		nkept = 0;
	}
	pthread_mutex_unlock(&kept_mu);
	while (k) {
		struct kept *n = k->next;
		PQfinish(k->conn);
		free(k->target);
		free(k->schema);
		free(k);
		k = n;
	}
}

/* A kept connection to target's schema in that mode for b (1), or 0. */
static int kept_take(struct pg *b, const char *target, const char *schema, int readonly)
{
	pthread_mutex_lock(&kept_mu);
	struct kept **pp = &kept, *k = NULL;
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->target, target) && !strcmp((*pp)->schema, schema) && (*pp)->readonly == readonly) {
			k = *pp;
			*pp = k->next;
			nkept--;
			break;
		}
	pthread_mutex_unlock(&kept_mu);
	if (!k)
		return 0;
	b->conn = k->conn;
	memcpy(b->prepared, k->prepared, sizeof b->prepared);
	memcpy(b->prepared_p, k->prepared_p, sizeof b->prepared_p);
	free(k->target);
	free(k->schema);
	free(k);
	return 1;
}

/* Keep st's connection rather than end it (1), when the process keeps
 * them and it is whole, idle and holds no lock. */
static int kept_put(struct sf_state *st)
{
	struct pg *b = PG(st);
	if (st->broken || b->lost || b->lock_held || PQstatus(b->conn) != CONNECTION_OK ||
	    PQtransactionStatus(b->conn) != PQTRANS_IDLE)
		return 0;
	struct kept *k = xcalloc(1, sizeof *k);
	pthread_mutex_lock(&kept_mu);
	int ok = keeping && nkept < KEPT_MAX;
	if (ok) {
		k->target = xstrdup(st->target);
		k->schema = xstrdup(st->schema);
		k->readonly = st->readonly;
		k->conn = b->conn;
		memcpy(k->prepared, b->prepared, sizeof k->prepared);
		memcpy(k->prepared_p, b->prepared_p, sizeof k->prepared_p);
		k->next = kept;
		kept = k;
		nkept++;
	}
	pthread_mutex_unlock(&kept_mu);
	if (!ok)
		free(k);
	return ok;
}

static void pg_close(struct sf_state *st)
{
	struct pg *b = PG(st);
	if (!b)
		return;
	/* Ending the session releases its advisory lock; say so first, so
	 * the next holder need not wait for this backend to exit. */
	if (b->lock_held && !b->lost) {
		PGresult *res = trip_exec(&b->trips, b->conn, "SELECT pg_advisory_unlock_all()");
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			b->lock_held = 0; /* the connection may be kept */
		PQclear(res);
	}
	if (b->conn)
		sf_debug("state %s: %ld round trips to the database", st->path, atomic_load(&b->trips));
	if (b->conn && !kept_put(st)) /* none when libpq could not be loaded */
		PQfinish(b->conn);
	free(b->display);
	free(b);
	st->bk = NULL;
}

static int pg_open(struct sf_state *st, const struct sf_state_opts *opts, struct sf_err *err)
{
	int rc, version = 0;
	char *writer = NULL, *display = NULL;
	const char *schema = opts->schema && *opts->schema ? opts->schema : DEFAULT_SCHEMA;
	if (!valid_schema(schema)) {
		sf_fail(err, SF_EINVAL, "state schema name \"%s\" is not valid", schema);
		return sf_err_hint(err, "use lower-case letters, digits and _ (at most 63), starting with a letter "
					"or _");
	}
	if (!valid_workspace(opts->workspace)) {
		sf_fail(err, SF_EINVAL, "workspace name \"%s\" is not valid for a shared state",
			opts->workspace ? opts->workspace : "");
		return sf_err_hint(err, "use letters, digits, '.', '_' and '-' (at most 128)");
	}
	st->schema = xstrdup(schema);
	st->workspace = xstrdup(opts->workspace);
	st->bk = xcalloc(1, sizeof(struct pg));
	struct pg *b = PG(st);
	int reused = kept_take(b, st->target, schema, opts->readonly);
	if (reused) {
		display = display_url(b->conn);
	} else if ((rc = connect_db(st->target, schema, st->busy_ms / 1000.0, 0, &b->conn, &display, err)) < 0) {
		goto fail;
	}
	b->display = display;
	free(st->path);
	if (!strcmp(schema, DEFAULT_SCHEMA))
		st->path = xasprintf("%s workspace %s", display, st->workspace);
	else
		st->path = xasprintf("%s schema %s workspace %s", display, schema, st->workspace);
	rc = open_fast(st, schema, opts->readonly, err);
	if (rc < 0 && reused) {
		/* a kept connection the server ended meanwhile (a restart, an
		 * idle timeout): a new one, as if none had been kept */
		sf_debug("state %s: a kept connection was gone (%s); connecting again", st->path, err->msg);
		sf_err_clear(err);
		PQfinish(b->conn);
		b->conn = NULL;
		b->lost = 0;
		st->broken = 0;
		memset(b->prepared, 0, sizeof b->prepared);
		memset(b->prepared_p, 0, sizeof b->prepared_p);
		if ((rc = connect_db(st->target, schema, st->busy_ms / 1000.0, 0, &b->conn, &display, err)) < 0)
			goto fail;
		free(b->display);
		b->display = display;
		rc = open_fast(st, schema, opts->readonly, err);
	}
	if (rc != 0) {
		if (rc < 0)
			goto fail;
		st->readonly = opts->readonly;
		return 0;
	}
	if ((rc = session_setup(&b->trips, b->conn, schema, display, err)) < 0 ||
	    (rc = read_version(st, &version, &writer, err)) < 0)
		goto fail;
	if (version > st_pg_schema_version()) {
		rc = refuse_newer(st, version, writer, err);
		goto fail;
	}
	if (version < st_pg_schema_version()) {
		if (opts->readonly || (!opts->create && version == 0)) {
			if (version == 0) {
				rc = sf_fail(err, SF_ENOTFOUND, "no secfaas state in schema %s of %s", schema,
					     display);
				sf_err_hint(err, "check --backend-schema, or run `secfaas apply` to create it");
			} else {
				rc = sf_fail(err, SF_ECORRUPT, "state database %s (schema %s) uses schema version "
							       "%d and needs an upgrade to %d",
					     display, schema, version, st_pg_schema_version());
				sf_err_hint(err, "run a command that writes state (e.g. `secfaas plan`) once to "
						 "upgrade it");
			}
			goto fail;
		}
		if ((rc = migrate(st, err)) < 0)
			goto fail;
	}
	if (opts->readonly && (rc = pgexec(st, "SET default_transaction_read_only = on",
					   "opening read-only", err)) < 0)
		goto fail;
	st->readonly = opts->readonly;
	if ((rc = open_workspace(st, opts->create, err)) < 0)
		goto fail;
	/* Advisory key: the schema's oid and the workspace id, so teams in
	 * other schemas of the same database never collide. */
	const char *p[1] = {schema};
	PGresult *res = trip_exec_params(&b->trips, b->conn, "SELECT oid FROM pg_namespace WHERE nspname = $1", 1, NULL, p, NULL,
				     NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = pgfail(st, res, err, "looking up the schema");
		PQclear(res);
		goto fail;
	}
	uint64_t oid = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	b->lock_key = (int64_t)((oid << 32) | ((uint64_t)st->ws_id & 0xffffffffu));
	free(writer);
	return 0;
fail:
	free(writer);
	pg_close(st);
	return rc;
}

/* ---- lock ---------------------------------------------------------------- */

static void copy_cell(char *dst, size_t n, const struct st_rows *r, size_t col)
{
	const char *t = st_cell(r, 0, col);
	snprintf(dst, n, "%s", t ? t : "");
}

/* 1 + *li when a live lock row exists, 0 if not. */
static int pg_lock_get(struct sf_state *st, struct sf_lock_info *li, struct sf_err *err)
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

static int advisory(struct sf_state *st, enum pq_priv q, int *got, struct sf_err *err)
{
	struct st_rows r = ST_ROWS_INIT;
	struct st_arg a[1] = {st_int(PG(st)->lock_key)};
	int rc = pg_priv(st, q, a, 1, &r, err);
	*got = rc == 0 && r.nrows && st_cell(&r, 0, 0) && st_cell(&r, 0, 0)[0] == 't';
	st_rows_release(&r);
	return rc;
}

static int pg_lock_try(struct sf_state *st, const struct sf_lock_info *mine, struct sf_lock_info *holder,
		       struct sf_err *err)
{
	struct pg *b = PG(st);
	int got = 0, rc;
	if (!b->lock_held) {
		if ((rc = advisory(st, P_TRY_LOCK, &got, err)) < 0)
			return rc;
	}
	if (!got) {
		/* Held (by us already, or by another session): say by whom.
		 * A holder writes its row right after taking the lock; give it
		 * a moment before reporting one without details. */
		for (int tries = 0; (rc = pg_lock_get(st, holder, err)) == 0 && tries < 10; tries++) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (rc < 0)
			return rc;
		if (rc == 0) {
			memset(holder, 0, sizeof *holder);
			snprintf(holder->who, sizeof holder->who, "another database session");
			snprintf(holder->operation, sizeof holder->operation, "unknown");
			holder->created = holder->heartbeat = sf_now();
		}
		return SF_ELOCKED;
	}
	b->lock_held = 1;
	/* Any row left is from a holder whose session is gone. */
	if ((rc = pg_tx(st, ST_TX_BEGIN, err)) < 0)
		goto fail;
	struct st_arg a[9] = {st_text(mine->id),      st_text(mine->operation), st_text(mine->who),
			      st_text(mine->host),    st_int(mine->pid),	st_text(mine->version),
			      st_real(mine->created), st_real(mine->heartbeat), st_text(mine->info)};
	if ((rc = st_qexec(st, Q_LOCK_PUT, a, 9, NULL, err)) < 0) {
		pg_tx(st, ST_TX_ROLLBACK, NULL);
		goto fail;
	}
	if ((rc = pg_tx(st, ST_TX_COMMIT, err)) < 0)
		goto fail;
	return 0;
fail:
	/* held until an unlock has run: a connection whose lock may still
	 * be on is never kept (kept_put), and its close unlocks all */
	if (!b->lost) {
		int un = 0;
		if (advisory(st, P_UNLOCK, &un, NULL) == 0)
			b->lock_held = 0;
	}
	return rc;
}

static int pg_lock_release(struct sf_state *st, const char *id, struct sf_err *err)
{
	struct pg *b = PG(st);
	int64_t n = 0;
	struct st_arg a[1] = {st_text(id)};
	int rc = st_qexec(st, Q_LOCK_DEL, a, 1, &n, err);
	if (rc < 0)
		return rc;
	if (n == 0)
		return sf_fail(err, SF_ENOTFOUND, "lock %s on state %s was not held (force-unlocked?)",
			       id ? id : "", st->path);
	if (b->lock_held) {
		int un = 0;
		rc = advisory(st, P_UNLOCK, &un, err);
		if (rc == 0)
			b->lock_held = 0; /* else pg_close unlocks all, and keeps no such connection */
	}
	return rc;
}

/* The advisory lock is this session's until it unlocks it or ends, and a
 * session that ended cannot commit: lock_held is the whole check.  A lost
 * connection is left to fail with its own message. */
static int pg_lock_fence(struct sf_state *st, const char *id, int *other, struct sf_err *err)
{
	(void)id;
	(void)err;
	struct pg *b = PG(st);
	*other = 0;
	return b->lock_held || b->lost;
}

static int pg_lock_force(struct sf_state *st, const struct sf_lock_info *cur, struct sf_err *err)
{
	struct pg *b = PG(st);
	struct st_arg a[1] = {st_text(cur->id)};
	if (b->lock_held)
		/* our own session holds it: an ordinary release */
		return pg_lock_release(st, cur->id, err);
	struct st_rows r = ST_ROWS_INIT;
	int rc = pg_priv(st, P_TERMINATE, a, 1, &r, err);
	if (rc < 0) {
		if (err && err->code == SF_EAUTH)
			sf_err_hint(err, "ending another runner's session needs the same database role or "
					 "membership in pg_signal_backend");
		return sf_err_prefix(err, "cannot end the session holding lock %s: ", cur->id);
	}
	if (r.nrows && !(st_cell(&r, 0, 0) && st_cell(&r, 0, 0)[0] == 't'))
		rc = sf_fail(err, SF_ETIMEOUT, "the session holding lock %s did not end within 5s", cur->id);
	st_rows_release(&r);
	if (rc == 0)
		rc = st_qexec(st, Q_LOCK_DEL, a, 1, NULL, err);
	return rc;
}

/* ---- workspaces ------------------------------------------------------------ */

static int pg_workspaces(const char *target, const struct sf_state_opts *opts, char ***names, size_t *n,
			 struct sf_err *err)
{
	const char *schema = opts->schema && *opts->schema ? opts->schema : DEFAULT_SCHEMA;
	PGconn *c = NULL;
	char *display = NULL;
	*names = NULL;
	*n = 0;
	if (!valid_schema(schema))
		return sf_fail(err, SF_EINVAL, "state schema name \"%s\" is not valid", schema);
	int rc = connect_db(target, schema, opts->busy_timeout_s, 1, &c, &display, err);
	if (rc < 0)
		return rc;
	PGresult *res = trip_exec(NULL, c, "SELECT name FROM workspaces ORDER BY name COLLATE \"C\"");
	if (PQresultStatus(res) == PGRES_FATAL_ERROR && !strcmp(sqlstate_of(res), "42P01")) {
		rc = 0; /* no such table yet: no workspaces */
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[300];
		first_line(msg, sizeof msg, PQresultErrorMessage(res));
		rc = sf_fail(err, SF_EIO, "cannot list the workspaces in %s (schema %s): %s", display, schema, msg);
	} else {
		int k = PQntuples(res);
		*names = xcalloc((size_t)k + 1, sizeof **names);
		for (int i = 0; i < k; i++)
			(*names)[i] = xstrdup(PQgetvalue(res, i, 0));
		*n = (size_t)k;
	}
	PQclear(res);
	PQfinish(c);
	free(display);
	return rc;
}

const struct st_backend st_backend_pg = {
	.name = "postgres",
	.sql = pg_sql,
	.secrets_apart = 1,
	.open = pg_open,
	.close = pg_close,
	.run = pg_run,
	.tx = pg_tx,
	.tx_gone = pg_tx_gone,
	.lock_try = pg_lock_try,
	.lock_release = pg_lock_release,
	.lock_get = pg_lock_get,
	.lock_force = pg_lock_force,
	.lock_fence = pg_lock_fence,
	.backup = NULL,
	.workspaces = pg_workspaces,
};
