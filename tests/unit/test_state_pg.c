/*
 * test_state_pg.c - the PostgreSQL state backend, against a private server
 * (tests/pg.sh; tests/run starts one and passes SECFAAS_TEST_PG, run alone
 * this binary starts its own).  The same behaviour checks run on a SQLite
 * file and on PostgreSQL; then what only a shared database has: many
 * workspaces and schemas, locks that die with their holder's session,
 * force-unlock ending a live holder, the serial compare-and-swap between
 * handles and processes, a connection lost mid-transaction, schema
 * migrations, secrets as bytea, copies between backends, KMS envelope keys.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/backend.h"
#include "state/crypt.h"
#include "state/state.h"
#include <sys/stat.h>

#include "log.h"
#include "t.h"
#include "tests/state/helpers.h"
#include "util.h"

/* ---- the server -------------------------------------------------------- */

static char *server_dir;

static void stop_server(void)
{
	if (!server_dir)
		return;
	char *cmd = xasprintf("sh '%s/tests/pg.sh' stop '%s'", t_srcdir(), server_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not stop the private PostgreSQL in %s\n", server_dir);
	free(cmd);
}

/* URL of the test server, or NULL (and the test is skipped) when the server
 * binaries are not installed. */
static const char *pg_url(void)
{
	static char *url;
	static int tried;
	if (tried)
		return url;
	tried = 1;
	const char *e = getenv("SECFAAS_TEST_PG");
	if (e && *e)
		return url = xstrdup(e);
	char *have = xasprintf("sh -c '. \"%s/tests/pg.sh\"; pg_have'", t_srcdir());
	int rc = system(have);
	free(have);
	if (rc != 0) {
		fprintf(stderr, "skipping PostgreSQL tests: server binaries not installed "
				"(make deps installs them)\n");
		return NULL;
	}
	server_dir = xasprintf("%s/pg", t_tmpdir());
	char *cmd = xasprintf("sh '%s/tests/pg.sh' start '%s' %d >&2", t_srcdir(), server_dir, (int)getpid());
	rc = system(cmd);
	free(cmd);
	atexit(stop_server);
	char *f = xasprintf("%s/url", server_dir);
	size_t n = 0;
	if (rc != 0 || sf_read_file(&url, &n, f, 0, NULL) < 0) {
		T_FAILF("cannot start a private PostgreSQL server");
		url = NULL;
	} else {
		url[strcspn(url, "\n")] = 0;
	}
	free(f);
	return url;
}

#define NEED_PG(u)                    \
	const char *u = pg_url();     \
	if (!u)                       \
		return

/* A schema name no other test (or earlier run on the same server) uses. */
static char *new_schema(void)
{
	static int n;
	return xasprintf("u%d_%d", (int)getpid(), ++n);
}

/* A team key file (64 hex digits): fast, unlike a 600,000-round passphrase. */
static const char *team_key(void)
{
	static char *path;
	if (!path) {
		path = ts_path("team.key");
		ts_write(path, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 65);
	}
	return path;
}

/* Open (creating) workspace ws in schema; with_key: the team key file. */
static struct sf_state *pg_open(const char *url, const char *schema, const char *ws, int with_key)
{
	struct sf_state *st = NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_state_opts o = {0};
	o.create = 1;
	o.schema = schema;
	o.workspace = ws;
	o.key_file = with_key ? team_key() : NULL;
	if (sf_state_open(&st, url, &o, &err) < 0) {
		char buf[1200];
		T_FAILF("open %s/%s: %s", schema, ws, sf_err_format(&err, buf, sizeof buf));
		return NULL;
	}
	return st;
}

/* First cell of a query on a connection of our own (NULL on no row). */
static char *sql1(const char *url, const char *schema, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	char *out = NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		T_FAILF("connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	if (schema) {
		const char *p[1] = {schema};
		PQclear(PQexecParams(c, "SELECT set_config('search_path', quote_ident($1), false)", 1, NULL, p,
				     NULL, NULL, 0));
	}
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		out = xstrdup(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		T_FAILF("sql %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return out;
}

static long long sql_int(const char *url, const char *schema, const char *sql)
{
	char *v = sql1(url, schema, sql);
	long long n = v ? strtoll(v, NULL, 10) : -1;
	free(v);
	return n;
}

/* ---- the same behaviour on both backends -------------------------------- */

static int nres(struct sf_state *st)
{
	struct sf_resource **v = NULL;
	size_t n = 0;
	struct sf_err err = SF_ERR_INIT;
	if (sf_state_list(st, &v, &n, &err) < 0)
		return -1;
	sf_resource_list_free(v, n);
	return (int)n;
}

static void behaviour(struct sf_state *st)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource *r = NULL;
	const char *lin = sf_state_lineage(st);
	T_OK(lin && strlen(lin) == 36);
	T_EQ(sf_state_serial(st), 0);

	/* resources: put/get/list order/remove, one serial per write */
	T_EQ(ts_put(st, "local_file.b", "{\"x\":1,\"nested\":{\"a\":[1,2.5,\"s\"]}}", NULL), 0);
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	T_EQ(ts_put(st, "local_file.B", "{}", NULL), 0);
	T_EQ(sf_state_serial(st), 3);
	struct sf_resource **v = NULL;
	size_t n = 0;
	T_EQ(sf_state_list(st, &v, &n, &err), 0);
	T_EQ(n, 3);
	if (n == 3) { /* bytewise order, whatever the database's collation */
		T_STREQ(v[0]->address, "local_file.B");
		T_STREQ(v[1]->address, "local_file.a");
		T_STREQ(v[2]->address, "local_file.b");
		char *j = json_dumps(v[2]->attrs, JSON_COMPACT | JSON_SORT_KEYS);
		T_STREQ(j, "{\"nested\":{\"a\":[1,2.5,\"s\"]},\"x\":1}");
		free(j);
		T_OK(v[2]->updated_at > sf_now() - 60);
	}
	sf_resource_list_free(v, n);
	T_EQ(sf_state_get(st, "local_file.zz", &r, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no resource local_file.zz");
	T_EQ(sf_state_remove(st, "local_file.B", &err), 0);
	T_EQ(sf_state_remove(st, "local_file.B", &err), SF_ENOTFOUND);
	T_EQ(sf_state_serial(st), 4);

	/* secrets round trip; AAD binds them to the address, rename re-seals */
	T_EQ(ts_put(st, "openfaas.core", "{\"admin_password\":\"hunter2-pw\",\"ns\":\"openfaas\"}",
		    "[\"admin_password\"]"), 0);
	T_EQ(sf_state_get(st, "openfaas.core", &r, &err), 0);
	if (r)
		T_STREQ(json_string_value(json_object_get(r->attrs, "admin_password")), "hunter2-pw");
	sf_resource_free(r);
	r = NULL;
	struct sf_resource dep = {0};
	dep.address = "local_file.c";
	dep.type = "local_file";
	dep.status = SF_RS_CREATING;
	dep.deps = json_pack("[ss]", "openfaas.core", "local_file.a");
	dep.token = "tok-c";
	dep.schema_version = 3;
	T_EQ(sf_state_put(st, &dep, &err), 0);
	json_decref(dep.deps);
	T_EQ(sf_state_rename(st, "openfaas.core", "openfaas.main", &err), 0);
	T_EQ(sf_state_rename(st, "openfaas.main", "local_file.main", &err), SF_EINVAL);
	T_EQ(sf_state_rename(st, "openfaas.main", "openfaas.main", &err), 0);
	T_EQ(sf_state_get(st, "openfaas.main", &r, &err), 0);
	if (r)
		T_STREQ(json_string_value(json_object_get(r->attrs, "admin_password")), "hunter2-pw");
	sf_resource_free(r);
	r = NULL;
	T_EQ(sf_state_get(st, "local_file.c", &r, &err), 0);
	if (r) {
		T_STREQ(json_string_value(json_array_get(r->deps, 0)), "openfaas.main");
		T_STREQ(json_string_value(json_array_get(r->deps, 1)), "local_file.a");
		T_EQ(r->status, SF_RS_CREATING);
		T_STREQ(r->token, "tok-c");
		T_EQ(r->schema_version, 3);
	}
	sf_resource_free(r);
	r = NULL;
	int64_t s0 = sf_state_serial(st);

	/* meta */
	char *mv = NULL;
	T_EQ(sf_state_meta_set(st, "workspace", "dev", &err), 0);
	T_EQ(sf_state_meta_set(st, "out.b", "2", &err), 0);
	T_EQ(sf_state_meta_set(st, "out.a", "1", &err), 0);
	T_EQ(sf_state_meta_set(st, "lineage", "x", &err), SF_EINVAL);
	T_EQ(sf_state_meta_get(st, "workspace", &mv, &err), 0);
	T_STREQ(mv, "dev");
	free(mv);
	T_EQ(sf_state_meta_get(st, "lineage", &mv, &err), 0);
	T_STREQ(mv, lin);
	free(mv);
	T_EQ(sf_state_meta_get(st, "nope", &mv, &err), SF_ENOTFOUND);
	char **keys = NULL, **vals = NULL;
	T_EQ(sf_state_meta_list(st, "out.", &keys, &vals, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_STREQ(keys[0], "out.a");
		T_STREQ(vals[1], "2");
	}
	for (size_t i = 0; i < n; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	T_EQ(sf_state_meta_set(st, "out.b", NULL, &err), 0);
	T_EQ(sf_state_serial(st), s0 + 4);

	/* journal with runs; explicit transactions commit as one serial */
	int64_t run = 0, j1 = 0, j2 = 0;
	struct sf_run_info ri = {"apply", "digest", "abc123", "{\"add\":1}"};
	T_EQ(sf_state_run_begin(st, &ri, &run, &err), 0);
	T_OK(run >= 1);
	int64_t s1 = sf_state_serial(st);
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_journal_intent(st, run, "local_file.c", "create", "tok-c", "{\"k\":\"v\"}", &j1, &err), 0);
	T_EQ(sf_journal_intent(st, run, "local_file.a", "delete", NULL, NULL, &j2, &err), 0);
	T_EQ(sf_journal_intent(st, 9999, "local_file.a", "create", NULL, NULL, NULL, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "run 9999");
	T_EQ(sf_state_commit(st, &err), 0);
	T_EQ(sf_state_serial(st), s1 + 1);
	T_EQ(j2, j1 + 1);
	T_EQ(sf_journal_result(st, j1, 1, "{\"id\":\"c\"}", &err), 0);
	T_EQ(sf_journal_result(st, j1, 1, NULL, &err), SF_ECONFLICT);
	T_EQ(sf_journal_result(st, 424242, 1, NULL, &err), SF_ENOTFOUND);
	T_EQ(sf_journal_intent(st, 0, "local_file.a", "explode", NULL, NULL, NULL, &err), SF_EINVAL);
	struct sf_journal_entry *je = NULL;
	T_EQ(sf_journal_open(st, &je, &n, &err), 0);
	T_EQ(n, 1);
	if (n == 1) {
		T_EQ(je[0].id, j2);
		T_EQ(je[0].run_id, run);
		T_STREQ(je[0].op, "delete");
		T_EQ(je[0].done, 0);
	}
	sf_journal_free(je, n);
	T_EQ(sf_journal_list(st, "local_file.c", 0, &je, &n, &err), 0);
	T_EQ(n, 1);
	if (n == 1) {
		T_EQ(je[0].done, 1);
		T_EQ(je[0].ok, 1);
		T_STREQ(je[0].token, "tok-c");
		T_OK(je[0].finished >= je[0].started && je[0].started > 0);
		json_t *d = json_loads(je[0].detail, 0, NULL);
		T_STREQ(json_string_value(json_object_get(d, "k")), "v");
		json_decref(d);
	}
	sf_journal_free(je, n);
	T_EQ(sf_journal_list(st, NULL, 1, &je, &n, &err), 0);
	T_EQ(n, 1);
	if (n == 1)
		T_EQ(je[0].id, j2);
	sf_journal_free(je, n);
	T_EQ(sf_state_run_end(st, run, "ok", "{\"added\":1}", &err), 0);
	T_EQ(sf_state_run_end(st, run, "ok", NULL, &err), SF_ENOTFOUND);
	struct sf_run *runs = NULL;
	T_EQ(sf_state_runs(st, &runs, &n, &err), 0);
	T_EQ(n, 1);
	if (n == 1) {
		T_STREQ(runs[0].git_sha, "abc123");
		T_STREQ(runs[0].result, "ok");
		T_EQ(runs[0].serial_before, s1);
		T_EQ(runs[0].serial_after, sf_state_serial(st));
		T_EQ(runs[0].pid, getpid());
		T_OK(runs[0].finished >= runs[0].started);
	}
	sf_run_free(runs, n);

	/* snapshots and restore (a new serial, content as it was) */
	int64_t snap = sf_state_serial(st);
	T_EQ(sf_state_snapshot(st, &err), 0);
	T_EQ(sf_state_serial(st), snap);
	T_EQ(sf_state_remove(st, "openfaas.main", &err), 0);
	T_EQ(sf_state_restore(st, snap, &err), 0);
	T_EQ(sf_state_serial(st), snap + 2);
	T_EQ(sf_state_get(st, "openfaas.main", &r, &err), 0);
	if (r)
		T_STREQ(json_string_value(json_object_get(r->attrs, "admin_password")), "hunter2-pw");
	sf_resource_free(r);
	r = NULL;
	T_EQ(sf_state_restore(st, 99999, &err), SF_ENOTFOUND);
	int64_t *sv = NULL;
	double *tv = NULL;
	T_EQ(sf_state_snapshots(st, &sv, &tv, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2)
		T_OK(sv[0] > sv[1] && tv[0] > 0);
	free(sv);
	free(tv);

	/* timings */
	for (int i = 1; i <= 55; i++)
		T_EQ(sf_state_timing_add(st, "eks_cluster", "create", (double)i, &err), 0);
	double lo = 0, hi = 0;
	T_EQ(sf_state_timing_typical(st, "eks_cluster", "create", &lo, &hi, &n, &err), 0);
	T_EQ(n, 50);
	T_OK(lo >= 10 && lo <= 12 && hi >= 49 && hi <= 51);

	/* claims */
	struct sf_claim prev;
	T_EQ(sf_state_claim(st, "sha-1", &prev, &err), 0);
	T_EQ(sf_state_claim_end(st, "sha-1", 0, &err), 0);
	T_EQ(sf_state_claim(st, "sha-1", &prev, &err), 0); /* failed: claimable again */
	T_EQ(sf_state_claim_end(st, "sha-1", 1, &err), 0);
	T_EQ(sf_state_claim(st, "sha-1", &prev, &err), SF_ECONFLICT);
	T_STREQ(prev.status, "ok");
	T_EQ(prev.pid, getpid());
	T_OK(prev.finished >= prev.started);
	T_EQ(sf_state_claim(st, "sha-2", &prev, &err), 0);
	T_EQ(sf_state_claim_end(st, "sha-3", 1, &err), SF_ENOTFOUND);

	/* locks */
	char id[37];
	struct sf_lock_info li;
	T_EQ(sf_lock_acquire(st, "apply", "spec@x", 0, NULL, id, &err), 0);
	T_EQ(sf_lock_get(st, &li, &err), 0);
	T_STREQ(li.id, id);
	T_STREQ(li.info, "spec@x");
	T_EQ(li.pid, getpid());
	T_EQ(sf_lock_acquire(st, "destroy", NULL, 0, &li, id, &err), SF_ELOCKED);
	T_EQ(sf_lock_heartbeat(st, li.id, &err), 0);
	T_EQ(sf_lock_release(st, li.id, &err), 0);
	T_EQ(sf_lock_release(st, li.id, &err), SF_ENOTFOUND);
	T_EQ(sf_lock_get(st, &li, &err), SF_ENOTFOUND);

	/* backup leaves content and serial alone */
	int64_t sb = sf_state_serial(st);
	T_EQ(sf_state_backup(st, &err), 0);
	T_OK(sf_state_backup_where(st)[0] != 0);
	T_EQ(sf_state_serial(st), sb);
	T_EQ(nres(st), 4);
}

T_TEST(same_behaviour_file_and_postgres)
{
	ts_clean_env();
	char *p = ts_path("behaviour.db");
	struct sf_state *st = ts_open(p, NULL);
	if (st)
		behaviour(st);
	sf_state_close(st);
	free(p);
	NEED_PG(url);
	char *schema = new_schema();
	st = pg_open(url, schema, "dev", 1);
	if (st) {
		T_STREQ(sf_state_backend(st), "postgres");
		T_STREQ(sf_state_workspace(st), "dev");
		T_CONTAINS(sf_state_path(st), "workspace dev");
		T_CONTAINS(sf_state_path(st), schema);
		behaviour(st);
		T_CONTAINS(sf_state_backup_where(st), "snapshot at serial");
	}
	sf_state_close(st);
	/* secrets are bytea rows, never in the JSON attributes */
	T_EQ(sql_int(url, schema, "SELECT count(*) FROM secrets WHERE address = 'openfaas.main' AND "
				  "name = 'admin_password' AND length(sealed) > 28"), 1);
	char *attrs = sql1(url, schema, "SELECT attrs::text FROM resources WHERE address = 'openfaas.main'");
	T_OK(attrs && !strstr(attrs, "hunter2") && !strstr(attrs, "$enc") && strstr(attrs, "openfaas"));
	free(attrs);
	T_EQ(sql_int(url, schema, "SELECT count(*) FROM secrets s JOIN resources r USING (ws, address) "
				  "WHERE position('hunter2'::bytea IN s.sealed) > 0"), 0);
	free(schema);
}

/* ---- many workspaces, many schemas ------------------------------------------ */

T_TEST(workspaces_and_schemas_are_separate)
{
	ts_clean_env();
	NEED_PG(url);
	char *team_a = new_schema(), *team_b = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a1 = pg_open(url, team_a, "dev", 0), *a2 = pg_open(url, team_a, "prod", 0);
	struct sf_state *b1 = pg_open(url, team_b, "dev", 0);
	if (!a1 || !a2 || !b1)
		return;
	T_OK(strcmp(sf_state_lineage(a1), sf_state_lineage(a2)) != 0);
	T_OK(strcmp(sf_state_lineage(a1), sf_state_lineage(b1)) != 0);
	T_EQ(ts_put(a1, "local_file.x", "{}", NULL), 0);
	T_EQ(ts_put(a1, "local_file.y", "{}", NULL), 0);
	T_EQ(nres(a1), 2);
	T_EQ(nres(a2), 0);
	T_EQ(nres(b1), 0);
	T_EQ(sf_state_serial(a2), 0);
	/* one workspace's lock does not touch another's, nor another team's */
	char ida[37], idb[37], idc[37];
	T_EQ(sf_lock_acquire(a1, "apply", NULL, 0, NULL, ida, &err), 0);
	T_EQ(sf_lock_acquire(a2, "apply", NULL, 0, NULL, idb, &err), 0);
	T_EQ(sf_lock_acquire(b1, "apply", NULL, 0, NULL, idc, &err), 0);

	char **names = NULL;
	size_t n = 0;
	struct sf_state_opts o = {0};
	o.schema = team_a;
	T_EQ(sf_state_workspaces(url, &o, &names, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_STREQ(names[0], "dev");
		T_STREQ(names[1], "prod");
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	o.schema = "no_such_schema_here";
	T_EQ(sf_state_workspaces(url, &o, &names, &n, &err), 0);
	T_EQ(n, 0);
	free(names);

	/* opening without create: a missing workspace or schema is ENOTFOUND */
	struct sf_state *x = NULL;
	o.schema = team_a;
	o.workspace = "staging";
	T_EQ(sf_state_open(&x, url, &o, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no workspace staging");
	o.schema = "no_such_schema_here";
	T_EQ(sf_state_open(&x, url, &o, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no secfaas state in schema no_such_schema_here");
	/* names are checked before anything is created */
	o.create = 1;
	o.schema = "Robert'); DROP TABLE x;--";
	T_EQ(sf_state_open(&x, url, &o, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "schema name");
	o.schema = team_a;
	o.workspace = "../etc";
	T_EQ(sf_state_open(&x, url, &o, &err), SF_EINVAL);
	o.workspace = NULL;
	T_EQ(sf_state_open(&x, url, &o, &err), SF_EINVAL);
	sf_state_close(a1);
	sf_state_close(a2);
	sf_state_close(b1);
	free(team_a);
	free(team_b);
}

/* ---- locks that die with their holder -------------------------------------- */

T_TEST(lock_dies_with_its_session)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a = pg_open(url, schema, "w", 0), *b = pg_open(url, schema, "w", 0);
	if (!a || !b)
		return;
	char ida[37], idb[37];
	T_EQ(sf_lock_acquire(a, "apply", "spec@abc", 0, NULL, ida, &err), 0);
	struct sf_lock_info li;
	memset(&li, 0, sizeof li);
	T_EQ(sf_lock_acquire(b, "plan", NULL, 0, &li, idb, &err), SF_ELOCKED);
	T_STREQ(li.id, ida);
	T_STREQ(li.operation, "apply");
	T_STREQ(li.info, "spec@abc");
	T_EQ(li.pid, getpid());
	T_CONTAINS(err.msg, "is locked by");
	T_CONTAINS(err.msg, ida);
	/* waiting with a timeout: refused at the deadline, not before */
	double t0 = sf_mono();
	T_EQ(sf_lock_acquire(b, "plan", NULL, 0.3, &li, idb, &err), SF_ELOCKED);
	T_OK(sf_mono() - t0 >= 0.29);
	/* the holder goes away without releasing: the lock is free at once */
	sf_state_close(a);
	T_EQ(sf_lock_acquire(b, "plan", NULL, 0, &li, idb, &err), 0);
	/* the dead holder's row is gone from view and was replaced */
	T_EQ(sf_lock_get(b, &li, &err), 0);
	T_STREQ(li.id, idb);
	T_EQ(sql_int(url, schema, "SELECT count(*) FROM lock_info"), 1);
	T_EQ(sf_lock_release(b, idb, &err), 0);
	sf_state_close(b);
	free(schema);
}

/* A child process takes the lock and is killed -9: the parent gets the
 * lock on its first try, with no stale-lock wait and no force-unlock. */
T_TEST(kill_9_of_the_holder_frees_the_lock)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	ts_keep(schema);
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = pg_open(url, schema, "w", 0);
	if (!st)
		return;
	sf_state_close(st);
	int ready[2];
	T_EQ(pipe(ready), 0);
	pid_t kid = fork();
	if (kid == 0) {
		close(ready[0]);
		struct sf_state *cst = pg_open(url, schema, "w", 0);
		struct sf_err e = SF_ERR_INIT;
		char cid[37];
		if (!cst || sf_lock_acquire(cst, "apply", NULL, 0, NULL, cid, &e) < 0)
			_exit(3);
		if (write(ready[1], "l", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c = 0;
	T_EQ(read(ready[0], &c, 1), 1);
	close(ready[0]);
	st = pg_open(url, schema, "w", 0);
	if (!st)
		return;
	struct sf_lock_info li;
	char id[37];
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, &li, id, &err), SF_ELOCKED);
	T_EQ(li.pid, kid);
	kill(kid, SIGKILL);
	int status = 0;
	waitpid(kid, &status, 0);
	/* the server notices the closed socket at once; allow it the time a
	 * busy machine needs to reap the backend, polling, not sleeping blind */
	int rc = SF_ELOCKED;
	double deadline = sf_mono() + 20;
	while ((rc = sf_lock_acquire(st, "apply", NULL, 0, &li, id, &err)) == SF_ELOCKED && sf_mono() < deadline)
		T_OK(li.pid == kid || li.pid == 0); /* 0: its row is already gone from view */
	T_EQ(rc, 0);
	T_EQ(sf_lock_release(st, id, &err), 0);
	sf_state_close(st);
}

T_TEST(force_unlock_ends_the_live_holder)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a = pg_open(url, schema, "w", 0), *b = pg_open(url, schema, "w", 0);
	if (!a || !b)
		return;
	char ida[37], idb[37];
	T_EQ(sf_lock_force_unlock(b, "x", 1, &err), SF_ENOTFOUND);
	T_STREQ(err.msg, "state is not locked");
	T_EQ(sf_lock_acquire(a, "apply", NULL, 0, NULL, ida, &err), 0);
	T_EQ(sf_lock_force_unlock(b, "4b1e0c2a", 1, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no lock with id 4b1e0c2a");
	T_EQ(sf_lock_force_unlock(b, ida, 0, &err), SF_ECONFLICT);
	T_CONTAINS(err.hint, "force");
	T_EQ(sf_lock_force_unlock(b, ida, 1, &err), 0);
	T_EQ(sf_lock_acquire(b, "apply", NULL, 0, NULL, idb, &err), 0);
	/* the old holder learns on its next call: its session is gone */
	T_EQ(sf_lock_heartbeat(a, ida, &err), SF_EIO);
	T_CONTAINS(err.msg, "lost the connection");
	T_EQ(ts_put(a, "local_file.late", "{}", NULL), SF_EIO);
	T_EQ(sf_state_broken(a), 1);
	T_EQ(nres(b), 0);
	/* the new holder writes under its fence */
	T_EQ(ts_put(b, "local_file.b", "{}", NULL), 0);
	T_EQ(sf_state_broken(b), 0);
	/* the holder itself may force its own lock: an ordinary release */
	T_EQ(sf_lock_force_unlock(b, idb, 1, &err), 0);
	T_EQ(sf_lock_get(b, &(struct sf_lock_info){0}, &err), SF_ENOTFOUND);
	/* which ends its fence: writing without a lock is the caller's choice */
	T_EQ(ts_put(b, "local_file.c", "{}", NULL), 0);
	T_EQ(nres(b), 2);
	sf_state_close(a);
	sf_state_close(b);
	free(schema);
}

/* ---- writers never interleave --------------------------------------------- */

/* The serial a handle saw: read at open (on PostgreSQL inside the open's
 * one statement), kept until its own commit or the lock, while the live
 * serial moves with other writers.  A plan records the former; writes
 * compare against it. */
static void serial_seen(struct sf_state *a, struct sf_state *c)
{
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_state_serial_seen(c), 2);
	T_EQ(ts_put(a, "local_file.z", "{}", NULL), 0);
	T_EQ(sf_state_serial_seen(a), 3);
	T_EQ(sf_state_serial_seen(c), 2);
	T_EQ(sf_state_serial(c), 3);
	T_EQ(ts_put(c, "local_file.y", "{}", NULL), SF_ESTALE);
	char id[37];
	T_EQ(sf_lock_acquire(c, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(sf_state_serial_seen(c), 3);
	T_EQ(ts_put(c, "local_file.y", "{}", NULL), 0);
	T_EQ(sf_state_serial_seen(c), 4);
	T_EQ(sf_lock_release(c, id, &err), 0);
}

T_TEST(serial_seen_is_the_serial_at_open)
{
	ts_clean_env();
	char *p = ts_path("seen.db");
	struct sf_state *a = ts_open(p, NULL);
	if (a) {
		T_EQ(ts_put(a, "local_file.a", "{}", NULL), 0);
		T_EQ(ts_put(a, "local_file.b", "{}", NULL), 0);
		struct sf_state *c = ts_open(p, NULL);
		if (c)
			serial_seen(a, c);
		sf_state_close(c);
	}
	sf_state_close(a);
	free(p);
	NEED_PG(url);
	char *schema = new_schema();
	a = pg_open(url, schema, "w", 0);
	if (a) {
		T_EQ(ts_put(a, "local_file.a", "{}", NULL), 0);
		T_EQ(ts_put(a, "local_file.b", "{}", NULL), 0);
		struct sf_state *c = pg_open(url, schema, "w", 0);
		if (c)
			serial_seen(a, c);
		sf_state_close(c);
	}
	sf_state_close(a);
	free(schema);
}

T_TEST(compare_and_swap_between_handles)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a = pg_open(url, schema, "w", 0), *b = pg_open(url, schema, "w", 0);
	if (!a || !b)
		return;
	T_EQ(ts_put(a, "local_file.a", "{}", NULL), 0);
	T_EQ(ts_put(b, "local_file.b", "{}", NULL), SF_ESTALE);
	T_EQ(sf_state_begin(b, &err), 0);
	T_EQ(sf_journal_intent(b, 0, "local_file.b", "create", "t", NULL, NULL, &err), 0);
	T_EQ(sf_state_commit(b, &err), SF_ESTALE);
	T_CONTAINS(err.msg, "changed under this run");
	struct sf_journal_entry *je = NULL;
	size_t n = 0;
	T_EQ(sf_journal_list(a, NULL, 0, &je, &n, &err), 0);
	T_EQ(n, 0);
	sf_journal_free(je, n);
	char id[37];
	T_EQ(sf_lock_acquire(b, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(ts_put(b, "local_file.b", "{}", NULL), 0);
	T_EQ(sf_lock_release(b, id, &err), 0);
	T_EQ(sf_state_serial(a), 2);
	sf_state_close(a);
	sf_state_close(b);
	free(schema);
}

T_TEST(processes_without_the_lock_never_interleave)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	ts_keep(schema);
	struct sf_state *st = pg_open(url, schema, "w", 0);
	if (!st)
		return;
	sf_state_close(st);
	pid_t kids[3];
	int pipes[3][2];
	for (int k = 0; k < 3; k++) {
		T_EQ(pipe(pipes[k]), 0);
		kids[k] = fork();
		if (kids[k] == 0) {
			close(pipes[k][0]);
			struct sf_state *cst = pg_open(url, schema, "w", 0);
			int bad = !cst, ok = 0, failed = 0;
			for (int i = 0; cst && i < 25; i++) {
				char addr[64];
				snprintf(addr, sizeof addr, "local_file.p%d_%d", k, i);
				int rc = ts_put(cst, addr, "{}", NULL);
				if (rc == 0 && !failed)
					ok++;
				else if (rc == 0 || rc != SF_ESTALE)
					bad = 1;
				else
					failed = 1;
			}
			sf_state_close(cst);
			unsigned char c = (unsigned char)ok;
			if (write(pipes[k][1], &c, 1) != 1)
				bad = 1;
			_exit(bad);
		}
		close(pipes[k][1]);
	}
	int total = 0;
	for (int k = 0; k < 3; k++) {
		int status = 0;
		unsigned char c = 0;
		T_EQ(read(pipes[k][0], &c, 1), 1);
		close(pipes[k][0]);
		total += c;
		waitpid(kids[k], &status, 0);
		T_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	T_OK(total >= 25);
	st = pg_open(url, schema, "w", 0);
	T_EQ(sf_state_serial(st), total);
	T_EQ(nres(st), total);
	sf_state_close(st);
}

struct thr {
	struct sf_state *st;
	int which, fails;
};

static void *writer(void *p)
{
	struct thr *a = p;
	for (int i = 0; i < 20; i++) {
		struct sf_err err = SF_ERR_INIT;
		char addr[64];
		snprintf(addr, sizeof addr, "local_file.t%d_%d", a->which, i);
		if (sf_state_begin(a->st, &err) < 0) {
			a->fails++;
			continue;
		}
		if (ts_put(a->st, addr, "{}", NULL) < 0 ||
		    sf_journal_intent(a->st, 0, addr, "create", NULL, NULL, NULL, &err) < 0) {
			a->fails++;
			sf_state_rollback(a->st);
			continue;
		}
		if (sf_state_commit(a->st, &err) < 0)
			a->fails++;
	}
	return NULL;
}

T_TEST(threads_share_a_handle)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_state *st = pg_open(url, schema, "w", 0);
	if (!st)
		return;
	pthread_t th[2];
	struct thr args[2] = {{st, 0, 0}, {st, 1, 0}};
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, writer, &args[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	T_EQ(args[0].fails + args[1].fails, 0);
	T_EQ(sf_state_serial(st), 40);
	T_EQ(nres(st), 40);
	sf_state_close(st);
	free(schema);
}

/* ---- a lost connection --------------------------------------------------- */

T_TEST(lost_connection_mid_transaction)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a = pg_open(url, schema, "w", 0), *b = pg_open(url, schema, "w", 0);
	if (!a || !b)
		return;
	char ida[37], idb[37];
	T_EQ(sf_lock_acquire(a, "apply", NULL, 0, NULL, ida, &err), 0);
	T_EQ(ts_put(a, "local_file.kept", "{}", NULL), 0);
	T_EQ(sf_state_begin(a, &err), 0);
	T_EQ(ts_put(a, "local_file.half", "{}", NULL), 0);
	T_EQ(sf_journal_intent(a, 0, "local_file.half", "create", "t", NULL, NULL, &err), 0);
	/* the server ends the session (as a restart or a network cut would) */
	char *sql = xasprintf("SELECT pg_terminate_backend(backend_pid, 5000) FROM lock_info WHERE id = '%s'", ida);
	char *ok = sql1(url, schema, sql);
	T_STREQ(ok, "t");
	free(ok);
	free(sql);
	T_EQ(ts_put(a, "local_file.more", "{}", NULL), SF_EIO);
	T_EQ(sf_state_commit(a, &err), SF_EIO);
	T_CONTAINS(err.msg, "lost the connection to the state database");
	T_CONTAINS(err.hint, "resumes from the journal");
	T_OK(strstr(err.msg, "password") == NULL);
	/* every later call says the same, nothing is retried */
	T_EQ(sf_state_serial(a), -1);
	T_EQ(sf_lock_release(a, ida, &err), SF_EIO);
	T_CONTAINS(err.msg, "lost the connection");
	/* nothing of the open transaction landed; the lock went with it */
	T_EQ(sf_state_serial(b), 1);
	T_EQ(nres(b), 1);
	struct sf_journal_entry *je = NULL;
	size_t n = 0;
	T_EQ(sf_journal_list(b, NULL, 0, &je, &n, &err), 0);
	T_EQ(n, 0);
	sf_journal_free(je, n);
	T_EQ(sf_lock_acquire(b, "apply", NULL, 0, NULL, idb, &err), 0);
	T_EQ(sf_lock_release(b, idb, &err), 0);
	sf_state_close(a);
	sf_state_close(b);
	free(schema);
}

/* How many times the log says a state connected to its database since
 * offset `from` of the log file. */
static int connects_since(const char *log, long from)
{
	char *text = NULL;
	size_t n = 0;
	int k = 0;
	if (sf_read_file(&text, &n, log, 0, NULL) < 0)
		return -1;
	for (const char *p = (long)n > from ? text + from : text + n; (p = strstr(p, ": connected\n")); p++)
		k++;
	free(text);
	return k;
}

static long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long)sb.st_size : 0;
}

/* Debug lines (connections, round trips) to `log` from here on: the
 * log's size now, where the lines of interest start. */
static long debug_to(const char *log)
{
	setenv("SECFAAS_LOG", "debug", 1);
	setenv("SECFAAS_LOG_PATH", log, 1);
	sf_log_init();
	return file_size(log);
}

static void debug_off(void)
{
	unsetenv("SECFAAS_LOG");
	unsetenv("SECFAAS_LOG_PATH");
	sf_log_init();
}

/* While a fleet run keeps connections, read-only opens of one database
 * and schema take the connection the last one closed: three opens, one
 * connection.  One the server ended meanwhile (a restart, an idle
 * timeout) is replaced, not reported as a lost connection.  Turned off,
 * nothing is kept or handed out. */
T_TEST(read_only_opens_take_a_kept_connection)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema(), *log = ts_path("pg-debug.log");
	struct sf_state *w = pg_open(url, schema, "w", 0);
	if (!w)
		return;
	T_EQ(ts_put(w, "local_file.a", "{}", NULL), 0);
	sf_state_close(w);
	long from = debug_to(log);
	sf_state_reuse_connections(1);
	struct sf_state_opts o = {0};
	o.schema = schema;
	o.workspace = "w";
	o.readonly = 1;
	struct sf_err err = SF_ERR_INIT;
	for (int i = 0; i < 3; i++) {
		struct sf_state *r = NULL;
		T_EQ(sf_state_open(&r, url, &o, &err), 0);
		if (r)
			T_EQ(nres(r), 1);
		sf_state_close(r);
	}
	T_EQ(connects_since(log, from), 1);
	char *ended = sql1(url, NULL, "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE "
				      "datname = current_database() AND application_name = 'secfaas' AND "
				      "state = 'idle' AND pid <> pg_backend_pid()");
	/* ours, and any other test's closed session the server has not
	 * finished ending yet */
	T_OK(ended && strtol(ended, NULL, 10) >= 1);
	free(ended);
	struct sf_state *r = NULL;
	T_EQ(sf_state_open(&r, url, &o, &err), 0);
	if (r)
		T_EQ(nres(r), 1);
	sf_state_close(r);
	T_EQ(connects_since(log, from), 2);
	/* off: the kept one is ended, the next open connects */
	sf_state_reuse_connections(0);
	T_EQ(sf_state_open(&r, url, &o, &err), 0);
	sf_state_close(r);
	T_EQ(connects_since(log, from), 3);
	debug_off();
	free(log);
	free(schema);
}

/* Read-write opens (refresh --all) take kept connections too, of their
 * own mode, and never one that holds a workspace: a handle closed with
 * its lock still held gives the lock up before its connection is kept.
 * Proof: with the third handle's connection kept, another session takes
 * the lock, and the open that takes the kept connection cannot. */
T_TEST(read_write_opens_take_a_kept_connection_without_its_lock)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema(), *log = ts_path("pg-debug-rw.log");
	struct sf_state *w = pg_open(url, schema, "w", 0);
	if (!w)
		return;
	sf_state_close(w);
	long from = debug_to(log);
	sf_state_reuse_connections(1);
	struct sf_state_opts o = {0};
	o.schema = schema;
	o.workspace = "w";
	struct sf_err err = SF_ERR_INIT;
	char id[37], addr[32];
	for (int i = 0; i < 3; i++) {
		struct sf_state *s = NULL;
		T_EQ(sf_state_open(&s, url, &o, &err), 0);
		if (!s)
			break;
		T_EQ(sf_lock_acquire(s, "refresh", NULL, 0, NULL, id, &err), 0);
		snprintf(addr, sizeof addr, "local_file.r%d", i);
		T_EQ(ts_put(s, addr, "{}", NULL), 0);
		if (i < 2)
			T_EQ(sf_lock_release(s, id, &err), 0);
		sf_state_close(s); /* the third with its lock held */
	}
	T_EQ(connects_since(log, from), 1);
	/* a read-only open does not take the read-write connection */
	o.readonly = 1;
	struct sf_state *r = NULL;
	T_EQ(sf_state_open(&r, url, &o, &err), 0);
	if (r)
		T_EQ(nres(r), 3);
	o.readonly = 0;
	T_EQ(connects_since(log, from), 2);
	struct sf_state *kept = NULL, *other = NULL;
	T_EQ(sf_state_open(&kept, url, &o, &err), 0);
	T_EQ(connects_since(log, from), 2);
	sf_state_reuse_connections(0); /* the next open connects */
	T_EQ(sf_state_open(&other, url, &o, &err), 0);
	T_EQ(connects_since(log, from), 3);
	char id2[37];
	struct sf_lock_info holder;
	if (kept && other) {
		T_EQ(sf_lock_acquire(other, "refresh", NULL, 0, NULL, id2, &err), 0);
		T_EQ(sf_lock_acquire(kept, "refresh", NULL, 0, &holder, id, &err), SF_ELOCKED);
		sf_err_clear(&err);
		T_EQ(sf_lock_release(other, id2, &err), 0);
	}
	sf_state_close(kept);
	sf_state_close(other);
	sf_state_close(r);
	debug_off();
	free(log);
	free(schema);
}

T_TEST(unreachable_database_one_clear_error)
{
	ts_clean_env();
	struct sf_state *st = NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_state_opts o = {0};
	o.create = 1;
	o.workspace = "w";
	char *dir = ts_path("nosock");
	char *u = xasprintf("postgresql://ci:s3cret-pw@/db?host=%s", dir);
	T_EQ(sf_state_open(&st, u, &o, &err), SF_EIO);
	T_CONTAINS(err.msg, "cannot connect to the state database");
	T_OK(strstr(err.msg, "s3cret-pw") == NULL);
	T_OK(strstr(err.hint, "s3cret-pw") == NULL);
	free(u);
	free(dir);
}

/* ---- schema migrations ------------------------------------------------------ */

T_TEST(schema_version_recorded_and_newer_refused)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = pg_open(url, schema, "w", 0);
	if (!st)
		return;
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	sf_state_close(st);
	char *v = sql1(url, schema, "SELECT version || ' ' || written_by FROM schema_info");
	char *want = xasprintf("1 %s", SECFAAS_VERSION);
	T_STREQ(v, want);
	free(v);
	free(want);
	/* read-only handles read but never write */
	struct sf_state_opts o = {0};
	o.schema = schema;
	o.workspace = "w";
	o.readonly = 1;
	T_EQ(sf_state_open(&st, url, &o, &err), 0);
	T_EQ(nres(st), 1);
	T_EQ(ts_put(st, "local_file.b", "{}", NULL), SF_EINVAL);
	sf_state_close(st);
	/* a newer secfaas upgraded the schema: refuse, name it, touch nothing */
	v = sql1(url, schema, "UPDATE schema_info SET version = 99, written_by = '9.9.9' RETURNING 1");
	free(v);
	o.readonly = 0;
	o.create = 1;
	T_EQ(sf_state_open(&st, url, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, "was written by a newer secfaas 9.9.9 (schema version 99, this build knows 1)");
	T_EQ(sql_int(url, schema, "SELECT version FROM schema_info"), 99);
	/* two processes creating the same fresh schema at once: both fine */
	char *fresh = new_schema();
	ts_keep(fresh);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct sf_state *cst = pg_open(url, fresh, k ? "one" : "two", 0);
			int bad = !cst || ts_put(cst, "local_file.a", "{}", NULL) < 0;
			sf_state_close(cst);
			_exit(bad);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status = 0;
		waitpid(kids[k], &status, 0);
		T_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	T_EQ(sql_int(url, fresh, "SELECT count(*) FROM workspaces"), 2);
	free(schema);
}

/* ---- copies between backends ------------------------------------------------ */

static char *dump_state(struct sf_state *st)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource **v = NULL;
	struct sf_run *runs = NULL;
	struct sf_journal_entry *je = NULL;
	size_t n = 0, nr = 0, nj = 0;
	int64_t *sv = NULL;
	size_t ns = 0;
	json_t *doc = json_object();
	json_object_set_new(doc, "lineage", json_string(sf_state_lineage(st)));
	json_object_set_new(doc, "serial", json_integer(sf_state_serial(st)));
	if (sf_state_list(st, &v, &n, &err) == 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:O, s:O?, s:O?, s:s?, s:i}", "address",
							   v[i]->address, "id", v[i]->id, "status",
							   sf_rstatus_name(v[i]->status), "attrs", v[i]->attrs,
							   "sensitive", v[i]->sensitive, "deps", v[i]->deps,
							   "token", v[i]->token, "sv", v[i]->schema_version));
		json_object_set_new(doc, "resources", a);
	}
	if (sf_state_runs(st, &runs, &nr, &err) == 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < nr; i++)
			json_array_append_new(a, json_pack("{s:I, s:s, s:s?, s:s?, s:I, s:I, s:i, s:f}", "id",
							   (json_int_t)runs[i].id, "command", runs[i].command,
							   "git", runs[i].git_sha, "result", runs[i].result, "before",
							   (json_int_t)runs[i].serial_before, "after",
							   (json_int_t)runs[i].serial_after, "pid", runs[i].pid,
							   "started", runs[i].started));
		json_object_set_new(doc, "runs", a);
	}
	if (sf_journal_list(st, NULL, 0, &je, &nj, &err) == 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < nj; i++)
			json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:s, s:i, s:s?}", "id", (json_int_t)je[i].id,
							   "run", (json_int_t)je[i].run_id, "address",
							   je[i].address, "op", je[i].op, "done", je[i].done,
							   "result", je[i].result));
		json_object_set_new(doc, "journal", a);
	}
	if (sf_state_snapshots(st, &sv, NULL, &ns, &err) == 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < ns; i++)
			json_array_append_new(a, json_integer(sv[i]));
		json_object_set_new(doc, "snapshots", a);
	}
	char *ws = NULL;
	if (sf_state_meta_get(st, "workspace", &ws, &err) == 0)
		json_object_set_new(doc, "workspace", json_string(ws));
	free(ws);
	char *out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
	json_decref(doc);
	sf_resource_list_free(v, n);
	sf_run_free(runs, nr);
	sf_journal_free(je, nj);
	free(sv);
	return out;
}

T_TEST(copy_file_to_postgres_and_back)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	/* a file state with a key file, a history, a snapshot with a secret */
	char *p = ts_path("orig.db");
	struct sf_state *f = ts_open(p, NULL);
	if (!f)
		return;
	int64_t run = 0, jid = 0;
	struct sf_run_info ri = {"apply", "d", "sha1", NULL};
	T_EQ(sf_state_run_begin(f, &ri, &run, &err), 0);
	T_EQ(ts_put(f, "openfaas.core", "{\"admin_password\":\"pw-123456\"}", "[\"admin_password\"]"), 0);
	T_EQ(sf_journal_intent(f, run, "openfaas.core", "create", "tok", NULL, &jid, &err), 0);
	T_EQ(sf_journal_result(f, jid, 1, "{\"id\":\"core\"}", &err), 0);
	T_EQ(sf_state_snapshot(f, &err), 0);
	T_EQ(ts_put(f, "local_file.a", "{\"n\":1}", NULL), 0);
	T_EQ(sf_journal_intent(f, run, "local_file.a", "create", "tok2", NULL, NULL, &err), 0);
	T_EQ(sf_state_run_end(f, run, "ok", NULL, &err), 0);
	T_EQ(sf_state_meta_set(f, "workspace", "dev", &err), 0);
	T_EQ(sf_state_timing_add(f, "eks_cluster", "create", 601, &err), 0);
	char *before = dump_state(f);

	/* to PostgreSQL: another key (a passphrase), same everything else */
	struct sf_state *g = pg_open(url, schema, "dev", 1);
	if (!g)
		return;
	T_EQ(sf_state_copy(g, f, &err), 0);
	char *mid = dump_state(g);
	T_STREQ(mid, before);
	double lo, hi;
	size_t tn = 0;
	T_EQ(sf_state_timing_typical(g, "eks_cluster", "create", &lo, &hi, &tn, &err), 0);
	T_EQ(tn, 1);
	/* the snapshot's secret was re-sealed: restorable under the new key */
	int64_t *sv = NULL;
	size_t ns = 0;
	T_EQ(sf_state_snapshots(g, &sv, NULL, &ns, &err), 0);
	T_EQ(ns, 1);
	/* copying again is a no-op; a different state is refused */
	T_EQ(sf_state_copy(g, f, &err), 0);
	struct sf_state *other = pg_open(url, schema, "other", 0);
	T_EQ(ts_put(other, "local_file.z", "{}", NULL), 0);
	T_EQ(sf_state_copy(other, f, &err), SF_ECONFLICT);
	T_CONTAINS(err.msg, "already holds another state");
	T_EQ(nres(other), 1);
	sf_state_close(other);
	/* writing on the copy, then copying back over the original: refused */
	T_EQ(ts_put(g, "local_file.b", "{}", NULL), 0);
	T_EQ(sf_state_copy(f, g, &err), SF_ECONFLICT);
	T_CONTAINS(err.msg, "already holds lineage");
	T_CONTAINS(err.hint, "went separate ways");
	T_EQ(sf_state_remove(g, "local_file.b", &err), 0);

	/* back to a new file: identical to what the PostgreSQL copy holds */
	char *q = ts_path("back.db");
	struct sf_state *h = ts_open(q, NULL);
	T_EQ(sf_state_copy(h, g, &err), 0);
	char *back = dump_state(h);
	char *g_now = dump_state(g);
	T_STREQ(back, g_now);
	T_EQ(sf_state_restore(h, sv[0], &err), 0);
	struct sf_resource *r = NULL;
	T_EQ(sf_state_get(h, "openfaas.core", &r, &err), 0);
	if (r)
		T_STREQ(json_string_value(json_object_get(r->attrs, "admin_password")), "pw-123456");
	sf_resource_free(r);
	free(sv);
	free(before);
	free(mid);
	free(back);
	free(g_now);
	sf_state_close(f);
	sf_state_close(g);
	sf_state_close(h);
	free(p);
	free(q);
	free(schema);
}

/* ---- keys ------------------------------------------------------------------- */

/* A stand-in for AWS KMS: the data key "wrapped" is its hex XOR a constant;
 * counts calls so tests see when the key service is used. */
struct fake_kms {
	int generated, decrypted, fail;
};

static int fk_generate(void *ctx, unsigned char key[32], char **wrapped, struct sf_err *err)
{
	struct fake_kms *k = ctx;
	if (k->fail)
		return sf_fail(err, SF_EAUTH, "AccessDeniedException: not allowed to use the key");
	k->generated++;
	sf_random(key, 32);
	unsigned char w[32];
	for (int i = 0; i < 32; i++)
		w[i] = key[i] ^ 0x5a;
	*wrapped = sf_b64_encode(w, 32);
	return 0;
}

static int fk_decrypt(void *ctx, const char *wrapped, unsigned char key[32], struct sf_err *err)
{
	struct fake_kms *k = ctx;
	unsigned char *w = NULL;
	size_t n = 0;
	if (k->fail)
		return sf_fail(err, SF_EAUTH, "AccessDeniedException: not allowed to use the key");
	if (sf_b64_decode(wrapped, &w, &n) < 0 || n != 32) {
		free(w);
		return sf_fail(err, SF_ECRYPTO, "InvalidCiphertextException");
	}
	for (int i = 0; i < 32; i++)
		key[i] = w[i] ^ 0x5a;
	free(w);
	k->decrypted++;
	return 0;
}

T_TEST(kms_envelope_key)
{
	ts_clean_env();
	NEED_PG(url);
	char *schema = new_schema();
	struct sf_err err = SF_ERR_INIT;
	struct fake_kms fk = {0};
	struct sf_key_provider kp = {"alias/secfaas-state", fk_generate, fk_decrypt, &fk};
	struct sf_state_opts o = {0};
	o.create = 1;
	o.schema = schema;
	o.workspace = "w";
	o.key_provider = &kp;
	struct sf_state *st = NULL;
	T_EQ(sf_state_open(&st, url, &o, &err), 0);
	if (!st)
		return;
	T_EQ(ts_put(st, "local_file.plain", "{}", NULL), 0);
	T_EQ(fk.generated, 0); /* no secret, no key service call */
	T_EQ(ts_put(st, "openfaas.core", "{\"admin_password\":\"kms-pw\"}", "[\"admin_password\"]"), 0);
	T_EQ(ts_put(st, "openfaas.two", "{\"admin_password\":\"kms-pw2\"}", "[\"admin_password\"]"), 0);
	T_EQ(fk.generated, 1);
	sf_state_close(st);
	char *v = sql1(url, schema, "SELECT value FROM meta WHERE key = 'key_source'");
	T_STREQ(v, "kms");
	free(v);
	v = sql1(url, schema, "SELECT value FROM meta WHERE key = 'kms_key_id'");
	T_STREQ(v, "alias/secfaas-state");
	free(v);
	/* another runner: the provider unwraps the stored key, once */
	T_EQ(sf_state_open(&st, url, &o, &err), 0);
	struct sf_resource *r = NULL;
	T_EQ(sf_state_get(st, "openfaas.core", &r, &err), 0);
	if (r)
		T_STREQ(json_string_value(json_object_get(r->attrs, "admin_password")), "kms-pw");
	sf_resource_free(r);
	T_EQ(sf_state_get(st, "openfaas.two", &r, &err), 0);
	sf_resource_free(r);
	T_EQ(fk.decrypted, 1);
	sf_state_close(st);
	/* without KMS configured, or with KMS refusing: one clear error */
	o.key_provider = NULL;
	o.passphrase = "some other passphrase";
	T_EQ(sf_state_open(&st, url, &o, &err), 0);
	T_EQ(sf_state_get(st, "openfaas.core", &r, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "AWS KMS key alias/secfaas-state");
	T_CONTAINS(err.hint, "kmsKeyId");
	sf_state_close(st);
	fk.fail = 1;
	o.key_provider = &kp;
	T_EQ(sf_state_open(&st, url, &o, &err), 0);
	T_EQ(sf_state_get(st, "openfaas.core", &r, &err), SF_EAUTH);
	T_CONTAINS(err.msg, "AccessDenied");
	sf_state_close(st);
	/* a shared state never invents a key file */
	o.key_provider = NULL;
	o.passphrase = NULL;
	o.workspace = "nokey";
	T_EQ(sf_state_open(&st, url, &o, &err), 0);
	struct sf_resource res = {0};
	res.address = "openfaas.core";
	res.type = "openfaas";
	res.attrs = json_pack("{s:s}", "admin_password", "x");
	res.sensitive = json_pack("[s]", "admin_password");
	T_EQ(sf_state_put(st, &res, &err), SF_ECRYPTO);
	T_CONTAINS(err.hint, "SECFAAS_STATE_PASSPHRASE");
	json_decref(res.attrs);
	json_decref(res.sensitive);
	sf_state_close(st);
	free(schema);
}

/* ---- the interface ----------------------------------------------------------- */

T_TEST(every_backend_defines_every_query)
{
	for (int q = 0; q < Q__COUNT; q++) {
		int sec = q == Q_SEC_PUT || q == Q_SEC_CLEAR;
		if (!st_backend_pg.sql[q])
			T_FAILF("postgres backend has no text for query %d", q);
		if (!sec && !st_backend_sqlite.sql[q])
			T_FAILF("sqlite backend has no text for query %d", q);
	}
	T_EQ(st_backend_pg.secrets_apart, 1);
	T_EQ(st_backend_sqlite.secrets_apart, 0);
	T_OK(sf_state_target_is_url("postgres://x/y"));
	T_OK(sf_state_target_is_url("postgresql:///y?host=/tmp"));
	T_OK(!sf_state_target_is_url(".secfaas/dev.db"));
	T_OK(!sf_state_target_is_url("postgres.db"));
}

T_MAIN()
