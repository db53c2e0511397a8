/*
 * test_state.c - the SQLite state store (state/state.h): identity, serial,
 * resources, secrets, file validation, migration, journal, runs, snapshots,
 * backup, tokens and threads.  Locks are in test_state_lock.c, disk-full and
 * read-only directories in test_state_fs.c.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/state.h"
#include "t.h"
#include "tests/state/helpers.h"
#include "util.h"

/* ---- identity and serial --------------------------------------------- */

T_TEST(create_open_reopen)
{
	ts_clean_env();
	char *p = ts_path("id/sub/s.db");
	struct sf_state *st = NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_state_opts o = {0};

	T_EQ(sf_state_open(&st, p, &o, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no state file at");
	T_OK(access(p, F_OK) != 0);

	o.create = 1;
	T_EQ(sf_state_open(&st, p, &o, &err), 0);
	T_OK(st != NULL);
	if (!st)
		return;
	T_STREQ(sf_state_path(st), p);
	char lin[37];
	snprintf(lin, sizeof lin, "%s", sf_state_lineage(st));
	T_EQ(strlen(lin), 36);
	T_EQ(lin[14], '4'); /* UUID v4 */
	T_EQ(sf_state_serial(st), 0);
	T_EQ(sf_state_schema_version(), 3);
	T_EQ(ts_user_version(p), 3);
	struct stat sb;
	T_EQ(stat(p, &sb), 0);
	T_EQ(sb.st_mode & 0777, 0600);
	sf_state_close(st);

	st = NULL;
	T_EQ(sf_state_open(&st, p, &o, &err), 0);
	T_STREQ(sf_state_lineage(st), lin);
	T_EQ(sf_state_serial(st), 0);
	sf_state_close(st);

	/* a second state gets a different lineage */
	char *q = ts_path("id/other.db");
	T_EQ(sf_state_open(&st, q, &o, &err), 0);
	T_OK(strcmp(sf_state_lineage(st), lin) != 0);
	sf_state_close(st);
	sf_state_close(NULL);
	free(p);
	free(q);
}

T_TEST(serial_counts_committed_writes)
{
	ts_clean_env();
	char *p = ts_path("serial.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL), *other = ts_open(p, NULL);
	if (!st || !other)
		return;
	T_EQ(ts_put(st, "local_file.a", "{\"x\":1}", NULL), 0);
	T_EQ(sf_state_serial(st), 1);
	/* another handle (another process in real life) sees it: not cached */
	T_EQ(sf_state_serial(other), 1);

	struct sf_resource *r = NULL;
	T_EQ(sf_state_get(st, "local_file.a", &r, &err), 0);
	sf_resource_free(r);
	T_EQ(sf_state_serial(st), 1); /* reads do not bump */

	/* explicit transaction with three writes: one bump */
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(ts_put(st, "local_file.b", "{}", NULL), 0);
	T_EQ(ts_put(st, "local_file.c", "{}", NULL), 0);
	int64_t jid = 0;
	T_EQ(sf_journal_intent(st, 0, "local_file.c", "create", "t", NULL, &jid, &err), 0);
	T_EQ(sf_state_serial(other), 1);
	T_EQ(sf_state_commit(st, &err), 0);
	T_EQ(sf_state_serial(st), 2);
	T_EQ(sf_state_serial(other), 2);

	/* empty transaction, rolled back transaction, failed write: no bump */
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_state_commit(st, &err), 0);
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(ts_put(st, "local_file.d", "{}", NULL), 0);
	sf_state_rollback(st);
	T_EQ(sf_state_get(st, "local_file.d", &r, &err), SF_ENOTFOUND);
	T_EQ(sf_state_remove(st, "local_file.nope", &err), SF_ENOTFOUND);
	T_EQ(sf_state_serial(st), 2);

	/* a failing call inside a transaction undoes only itself */
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(ts_put(st, "local_file.e", "{}", NULL), 0);
	T_EQ(sf_state_remove(st, "local_file.nope", &err), SF_ENOTFOUND);
	T_EQ(sf_state_commit(st, &err), 0);
	T_EQ(sf_state_serial(st), 3);
	T_EQ(sf_state_get(st, "local_file.e", &r, &err), 0);
	sf_resource_free(r);

	/* nesting is refused, and commit without begin */
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_state_begin(st, &err), SF_EINVAL);
	sf_state_rollback(st);
	T_EQ(sf_state_commit(st, &err), SF_EINVAL);

	/* locks, runs, snapshots, timings are bookkeeping: no bump */
	char id[37];
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(sf_lock_heartbeat(st, id, &err), 0);
	struct sf_run_info ri = {"plan", NULL, NULL, NULL};
	int64_t run = 0;
	T_EQ(sf_state_run_begin(st, &ri, &run, &err), 0);
	T_EQ(sf_state_run_end(st, run, "ok", NULL, &err), 0);
	T_EQ(sf_state_snapshot(st, &err), 0);
	T_EQ(sf_state_timing_add(st, "local_file", "create", 1.5, &err), 0);
	T_EQ(sf_lock_release(st, id, &err), 0);
	T_EQ(sf_state_serial(st), 3);

	/* meta and journal writes are content */
	T_EQ(sf_state_meta_set(st, "workspace", "dev", &err), 0);
	T_EQ(sf_state_serial(st), 4);
	T_EQ(sf_journal_result(st, jid, 1, NULL, &err), 0);
	T_EQ(sf_state_serial(st), 5);
	sf_state_close(st);
	sf_state_close(other);
	free(p);
}

/* ---- resources ---------------------------------------------------------- */

T_TEST(put_get_list_remove)
{
	ts_clean_env();
	char *p = ts_path("res.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	struct sf_resource r = {0};
	r.address = "local_file.b";
	r.type = "local_file";
	r.id = "/tmp/b";
	r.status = SF_RS_TAINTED;
	r.attrs = json_pack("{s:s, s:{s:[i,i]}, s:b}", "path", "/tmp/b", "nested", "list", 1, 2, "flag", 1);
	r.deps = json_pack("[s]", "local_file.a");
	r.token = "tok123";
	r.schema_version = 3;
	T_EQ(sf_state_put(st, &r, &err), 0);
	json_decref(r.attrs);
	json_decref(r.deps);
	T_EQ(ts_put(st, "local_file.a", "{\"path\":\"/tmp/a\"}", NULL), 0);
	T_EQ(ts_put(st, "local_file.c", NULL, NULL), 0);

	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "local_file.b", &g, &err), 0);
	if (g) {
		T_STREQ(g->address, "local_file.b");
		T_STREQ(g->type, "local_file");
		T_STREQ(g->id, "/tmp/b");
		T_EQ(g->status, SF_RS_TAINTED);
		T_STREQ(g->token, "tok123");
		T_EQ(g->schema_version, 3);
		T_OK(g->updated_at > sf_now() - 60);
		T_EQ(json_integer_value(json_array_get(json_object_get(json_object_get(g->attrs, "nested"),
								       "list"), 1)), 2);
		T_OK(json_is_true(json_object_get(g->attrs, "flag")));
		T_STREQ(json_string_value(json_array_get(g->deps, 0)), "local_file.a");
		T_OK(g->sensitive == NULL);
	}
	sf_resource_free(g);

	struct sf_resource **v = NULL;
	size_t n = 0;
	T_EQ(sf_state_list(st, &v, &n, &err), 0);
	T_EQ(n, 3);
	if (n == 3) {
		T_STREQ(v[0]->address, "local_file.a");
		T_STREQ(v[1]->address, "local_file.b");
		T_STREQ(v[2]->address, "local_file.c");
		T_OK(json_is_object(v[2]->attrs) && json_object_size(v[2]->attrs) == 0);
		T_OK(v[2]->id == NULL);
	}
	sf_resource_list_free(v, n);

	/* replace by address */
	T_EQ(ts_put(st, "local_file.a", "{\"path\":\"/tmp/a2\"}", NULL), 0);
	T_EQ(sf_state_get(st, "local_file.a", &g, &err), 0);
	T_STREQ(json_string_value(json_object_get(g->attrs, "path")), "/tmp/a2");
	sf_resource_free(g);

	T_EQ(sf_state_remove(st, "local_file.c", &err), 0);
	T_EQ(sf_state_get(st, "local_file.c", &g, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no resource local_file.c");
	T_EQ(sf_state_remove(st, "local_file.c", &err), SF_ENOTFOUND);

	/* bad input */
	struct sf_resource bad = {0};
	bad.address = "x.y";
	T_EQ(sf_state_put(st, &bad, &err), SF_EINVAL);
	bad.type = "x";
	bad.attrs = json_string("nope");
	T_EQ(sf_state_put(st, &bad, &err), SF_EINVAL);
	json_decref(bad.attrs);
	bad.attrs = NULL;
	bad.sensitive = json_pack("[i]", 3);
	T_EQ(sf_state_put(st, &bad, &err), SF_EINVAL);
	json_decref(bad.sensitive);
	bad.sensitive = NULL;
	bad.status = (enum sf_rstatus)9;
	T_EQ(sf_state_put(st, &bad, &err), SF_EINVAL);

	T_STREQ(sf_rstatus_name(SF_RS_LEAKED), "leaked");
	enum sf_rstatus rs;
	T_EQ(sf_rstatus_parse("deleting", &rs), 0);
	T_EQ(rs, SF_RS_DELETING);
	T_EQ(sf_rstatus_parse("gone", &rs), SF_EINVAL);
	sf_state_close(st);
	free(p);
}

T_TEST(rename_resource)
{
	ts_clean_env();
	char *p = ts_path("mv.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, "rename passphrase 0123");
	if (!st)
		return;
	T_EQ(ts_put(st, "openfaas.core", "{\"pw\":\"s3cret-value\",\"ns\":\"x\"}", "[\"pw\"]"), 0);
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	struct sf_resource r = {0};
	r.address = "local_file.user";
	r.type = "local_file";
	r.attrs = json_object();
	r.deps = json_pack("[s,s]", "openfaas.core", "local_file.a");
	T_EQ(sf_state_put(st, &r, &err), 0);
	json_decref(r.attrs);
	json_decref(r.deps);
	int64_t s0 = sf_state_serial(st);

	T_EQ(sf_state_rename(st, "openfaas.core", "local_file.core", &err), SF_EINVAL);
	T_EQ(sf_state_rename(st, "openfaas.core", "openfaas.", &err), SF_EINVAL);
	T_EQ(sf_state_rename(st, "local_file.a", "local_file.user", &err), SF_ECONFLICT);
	T_EQ(sf_state_rename(st, "openfaas.nope", "openfaas.x", &err), SF_ENOTFOUND);
	T_EQ(sf_state_serial(st), s0);

	T_EQ(sf_state_rename(st, "openfaas.core", "openfaas.main", &err), 0);
	T_EQ(sf_state_serial(st), s0 + 1);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "openfaas.core", &g, &err), SF_ENOTFOUND);
	T_EQ(sf_state_get(st, "openfaas.main", &g, &err), 0);
	if (g)
		T_STREQ(json_string_value(json_object_get(g->attrs, "pw")), "s3cret-value");
	sf_resource_free(g);
	/* dependents follow the move */
	T_EQ(sf_state_get(st, "local_file.user", &g, &err), 0);
	if (g) {
		T_STREQ(json_string_value(json_array_get(g->deps, 0)), "openfaas.main");
		T_STREQ(json_string_value(json_array_get(g->deps, 1)), "local_file.a");
	}
	sf_resource_free(g);
	sf_state_close(st);
	free(p);
}

/* ---- secrets ------------------------------------------------------------ */

T_TEST(sensitive_roundtrip_and_no_plaintext_on_disk)
{
	ts_clean_env();
	char *p = ts_path("sec.db");
	struct sf_err err = SF_ERR_INIT;
	const char *pass = "a passphrase of 16+ chars";
	struct sf_state *st = ts_open(p, pass);
	if (!st)
		return;
	struct sf_resource r = {0};
	r.address = "openfaas.core";
	r.type = "openfaas";
	r.attrs = json_pack("{s:s, s:{s:s}, s:s, s:i}", "admin_password", "Pl41nT3xt-P@ssw0rd",
			    "kubeconfig", "token", "KUBE-TOKEN-SECRET-42", "namespace", "openfaas",
			    "replicas", 2);
	r.sensitive = json_pack("[s,s,s]", "admin_password", "kubeconfig", "absent_attr");
	T_EQ(sf_state_put(st, &r, &err), 0);
	/* the caller's attrs are borrowed, not encrypted in place */
	T_STREQ(json_string_value(json_object_get(r.attrs, "admin_password")), "Pl41nT3xt-P@ssw0rd");
	json_decref(r.attrs);
	json_decref(r.sensitive);
	T_EQ(ts_put(st, "local_file.plain", "{\"a\":1}", NULL), 0);

	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "openfaas.core", &g, &err), 0);
	if (g) {
		T_STREQ(json_string_value(json_object_get(g->attrs, "admin_password")),
			"Pl41nT3xt-P@ssw0rd");
		T_STREQ(json_string_value(json_object_get(json_object_get(g->attrs, "kubeconfig"), "token")),
			"KUBE-TOKEN-SECRET-42");
		T_STREQ(json_string_value(json_object_get(g->attrs, "namespace")), "openfaas");
		T_EQ(json_array_size(g->sensitive), 3);
	}
	sf_resource_free(g);

	/* stored form: an envelope, non-secret fields in clear */
	char *raw = ts_query(p, "SELECT attrs FROM resources WHERE address='openfaas.core'");
	T_CONTAINS(raw, "{\"$enc\":\"v1:");
	T_CONTAINS(raw, "\"namespace\":\"openfaas\"");
	free(raw);
	/* plaintext never reaches the file, nor the WAL (still open here) */
	T_EQ(ts_file_contains(p, "Pl41nT3xt"), 0);
	T_EQ(ts_file_contains(p, "KUBE-TOKEN-SECRET"), 0);
	char *wal = xasprintf("%s-wal", p);
	T_OK(access(wal, F_OK) == 0);
	T_EQ(ts_file_contains(wal, "Pl41nT3xt"), 0);
	T_EQ(ts_file_contains(wal, "KUBE-TOKEN-SECRET"), 0);
	T_EQ(ts_file_contains(wal, "openfaas"), 1); /* the grep can find things */
	/* nor a snapshot or a backup */
	T_EQ(sf_state_snapshot(st, &err), 0);
	T_EQ(sf_state_backup(st, &err), 0);
	char *bk = xasprintf("%s.backup", p);
	T_EQ(ts_file_contains(bk, "Pl41nT3xt"), 0);
	T_EQ(ts_file_contains(wal, "Pl41nT3xt"), 0);
	sf_state_close(st);
	T_EQ(ts_file_contains(p, "Pl41nT3xt"), 0);

	/* wrong passphrase: a clear error, never garbage, on get and list */
	st = ts_open(p, "the wrong passphrase!!");
	T_EQ(sf_state_get(st, "openfaas.core", &g, &err), SF_ECRYPTO);
	T_OK(g == NULL);
	T_STREQ(err.msg,
		"cannot decrypt state secrets: wrong passphrase or key file (SECFAAS_STATE_PASSPHRASE)");
	T_CONTAINS(err.hint, "passphrase");
	struct sf_resource **v = NULL;
	size_t n = 0;
	T_EQ(sf_state_list(st, &v, &n, &err), SF_ECRYPTO);
	T_OK(v == NULL && n == 0);
	/* resources without secrets stay readable without the key */
	T_EQ(sf_state_get(st, "local_file.plain", &g, &err), 0);
	sf_resource_free(g);
	/* and writing a new secret under the wrong key is refused too */
	T_EQ(ts_put(st, "openfaas.two", "{\"pw\":\"x\"}", "[\"pw\"]"), SF_ECRYPTO);
	sf_state_close(st);

	/* environment passphrase works the same as opts */
	setenv("SECFAAS_STATE_PASSPHRASE", pass, 1);
	st = ts_open(p, NULL);
	T_EQ(sf_state_get(st, "openfaas.core", &g, &err), 0);
	sf_resource_free(g);
	sf_state_close(st);
	setenv("SECFAAS_STATE_PASSPHRASE", "short", 1);
	struct sf_state_opts o = {0};
	T_EQ(sf_state_open(&st, p, &o, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "too short");
	ts_clean_env();
	o.passphrase = "fifteen chars!!";
	T_EQ(sf_state_open(&st, p, &o, &err), SF_EINVAL);
	free(wal);
	free(bk);
	free(p);
}

T_TEST(tampered_and_swapped_ciphertext)
{
	ts_clean_env();
	char *p = ts_path("tamper.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, "tamper test passphrase");
	if (!st)
		return;
	T_EQ(ts_put(st, "openfaas.a", "{\"pw\":\"secret-of-a\"}", "[\"pw\"]"), 0);
	T_EQ(ts_put(st, "openfaas.b", "{\"pw\":\"secret-of-b\"}", "[\"pw\"]"), 0);
	T_EQ(ts_put(st, "openfaas.c", "{\"pw\":\"secret-of-c\",\"other\":\"o\"}", "[\"pw\"]"), 0);

	/* copy a's envelope over b's: the AAD names the address, so it fails */
	T_EQ(ts_exec(p, "UPDATE resources SET attrs = (SELECT attrs FROM resources WHERE "
			"address='openfaas.a') WHERE address='openfaas.b'"), 0);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "openfaas.b", &g, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "openfaas.b");
	T_OK(g == NULL);
	/* a is untouched */
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), 0);
	T_STREQ(g ? json_string_value(json_object_get(g->attrs, "pw")) : NULL, "secret-of-a");
	sf_resource_free(g);

	/* swapped between attributes of one resource: also refused */
	T_EQ(ts_exec(p, "UPDATE resources SET attrs = json_set(attrs, '$.other', "
			"json_extract(attrs, '$.pw')), sensitive = '[\"pw\",\"other\"]' "
			"WHERE address='openfaas.c'"), 0);
	T_EQ(sf_state_get(st, "openfaas.c", &g, &err), SF_ECRYPTO);

	/* flip one base64 character in a */
	char *env = ts_query(p, "SELECT json_extract(attrs, '$.pw.\"$enc\"') FROM resources "
				"WHERE address='openfaas.a'");
	T_OK(env && strlen(env) > 20);
	if (env) {
		env[10] = env[10] == 'A' ? 'B' : 'A';
		char *sql = xasprintf("UPDATE resources SET attrs = json_set(attrs, '$.pw', "
				      "json_object('$enc', '%s')) WHERE address='openfaas.a'", env);
		T_EQ(ts_exec(p, sql), 0);
		free(sql);
	}
	free(env);
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "failed authentication");

	/* a sensitive attribute stored in clear is refused, not passed on */
	T_EQ(ts_exec(p, "UPDATE resources SET attrs = '{\"pw\":\"clear\"}' WHERE address='openfaas.a'"), 0);
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "unencrypted");
	sf_state_close(st);
	free(p);
}

T_TEST(default_key_file)
{
	ts_clean_env();
	char *p = ts_path("kf.db");
	char *kf = xasprintf("%s.key", p);
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	T_OK(access(kf, F_OK) != 0); /* no secret yet, no key file */
	T_EQ(ts_put(st, "openfaas.a", "{\"pw\":\"kf-secret\"}", "[\"pw\"]"), 0);
	struct stat sb;
	T_EQ(stat(kf, &sb), 0);
	T_EQ(sb.st_mode & 0777, 0600);
	T_EQ(sb.st_size, 65);
	sf_state_close(st);

	st = ts_open(p, NULL);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), 0);
	T_STREQ(g ? json_string_value(json_object_get(g->attrs, "pw")) : NULL, "kf-secret");
	sf_resource_free(g);
	sf_state_close(st);

	/* a passphrase against a key-file state: wrong key, hint names the file */
	st = ts_open(p, "some other passphrase");
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), SF_ECRYPTO);
	T_CONTAINS(err.hint, "key file");
	sf_state_close(st);

	/* explicit key file via the environment */
	char *moved = xasprintf("%s.moved", kf);
	T_EQ(rename(kf, moved), 0);
	st = ts_open(p, NULL);
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "is missing");
	sf_state_close(st);
	setenv("SECFAAS_STATE_KEY_FILE", moved, 1);
	st = ts_open(p, NULL);
	T_EQ(sf_state_get(st, "openfaas.a", &g, &err), 0);
	sf_resource_free(g);
	sf_state_close(st);
	ts_clean_env();
	free(moved);
	free(kf);
	free(p);
}

/* Opening must not derive the passphrase key: PBKDF2 with 600k rounds is
 * what a no-op plan over 200 resources cannot afford. */
T_TEST(key_derivation_is_lazy)
{
	ts_clean_env();
	char *p = ts_path("lazy.db");
	struct sf_err err = SF_ERR_INIT;
	const char *pass = "lazy derivation passphrase";
	struct sf_state *st = ts_open(p, pass);
	if (!st)
		return;
	T_EQ(sf_state_begin(st, &err), 0);
	for (int i = 0; i < 200; i++) {
		char addr[64];
		snprintf(addr, sizeof addr, "local_file.f%03d", i);
		T_EQ(ts_put(st, addr, "{\"path\":\"/tmp/x\",\"content\":\"hello world\"}", NULL), 0);
	}
	T_EQ(sf_state_commit(st, &err), 0);
	T_EQ(ts_put(st, "openfaas.s", "{\"pw\":\"x\"}", "[\"pw\"]"), 0);
	sf_state_close(st);

	double t0 = sf_mono();
	st = ts_open(p, pass);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "local_file.f100", &g, &err), 0);
	sf_resource_free(g);
	double t_open = sf_mono() - t0;
	t0 = sf_mono();
	T_EQ(sf_state_get(st, "openfaas.s", &g, &err), 0);
	sf_resource_free(g);
	double t_secret = sf_mono() - t0;
	sf_state_close(st);
	/* relative, so it holds under valgrind and sanitizers too */
	T_OK(t_open * 3 < t_secret);
	if (getenv("T_VERBOSE"))
		printf("open+get %.1f ms, first secret %.1f ms\n", t_open * 1e3, t_secret * 1e3);
	free(p);
}

/* ---- file validation and migration ----------------------------------- */

T_TEST(garbage_and_foreign_files_refused_untouched)
{
	ts_clean_env();
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = NULL;
	struct sf_state_opts o = {0};
	o.create = 1;

	/* text file */
	char *g1 = ts_path("garbage.db");
	ts_write(g1, "this is not a database\n", 23);
	char *before = ts_slurp(g1, NULL);
	T_EQ(sf_state_open(&st, g1, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, g1);
	T_CONTAINS(err.msg, "not a secfaas state file");
	char *after = ts_slurp(g1, NULL);
	T_STREQ(after, before);
	free(before);
	free(after);

	/* a foreign SQLite database (another application) */
	char *f = ts_path("foreign.db");
	T_EQ(ts_exec(f, "CREATE TABLE notes(x); INSERT INTO notes VALUES ('hi')"), 0);
	size_t n1 = 0, n2 = 0;
	char *fb = ts_slurp(f, &n1);
	T_EQ(sf_state_open(&st, f, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, "not a secfaas state file");
	T_CONTAINS(err.msg, f);
	char *fa = ts_slurp(f, &n2);
	T_OK(n1 == n2 && memcmp(fa, fb, n1) == 0);
	char *w = xasprintf("%s-wal", f);
	T_OK(access(w, F_OK) != 0);
	free(fa);
	free(fb);
	free(w);

	/* SQLite header followed by garbage */
	char *g2 = ts_path("header.db");
	char junk[4096];
	memset(junk, 0x5a, sizeof junk);
	memcpy(junk, "SQLite format 3", 16);
	ts_write(g2, junk, sizeof junk);
	T_EQ(sf_state_open(&st, g2, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, g2);
	fa = ts_slurp(g2, &n2);
	T_OK(n2 == sizeof junk && memcmp(fa, junk, n2) == 0);
	free(fa);

	/* a directory */
	char *d = ts_path("adir");
	mkdir(d, 0700);
	T_EQ(sf_state_open(&st, d, &o, &err), SF_EINVAL);
	free(g1);
	free(g2);
	free(f);
	free(d);
}

T_TEST(truncated_state_refused)
{
	ts_clean_env();
	char *p = ts_path("trunc.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	T_EQ(sf_state_begin(st, &err), 0);
	for (int i = 0; i < 300; i++) {
		char addr[64];
		snprintf(addr, sizeof addr, "local_file.t%03d", i);
		T_EQ(ts_put(st, addr, "{\"content\":\"0123456789012345678901234567890123456789\"}", NULL), 0);
	}
	T_EQ(sf_state_commit(st, &err), 0);
	sf_state_close(st); /* checkpoints the WAL into the main file */
	size_t n = 0;
	char *all = ts_slurp(p, &n);
	T_OK(n > 16384);
	ts_write(p, all, n / 2);
	struct sf_state_opts o = {0};
	o.create = 1;
	T_EQ(sf_state_open(&st, p, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, p);
	size_t m = 0;
	char *now = ts_slurp(p, &m);
	T_OK(m == n / 2 && memcmp(now, all, m) == 0);
	/* tiny: less than one page */
	ts_write(p, all, 100);
	T_EQ(sf_state_open(&st, p, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, "truncated");
	free(now);
	free(all);
	free(p);
}

T_TEST(newer_schema_refused)
{
	ts_clean_env();
	char *p = ts_path("newer.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	sf_state_close(st);
	T_EQ(ts_exec(p, "PRAGMA user_version = 99; UPDATE meta SET value='9.9.9' "
			"WHERE key='secfaas_version'"), 0);
	size_t n1 = 0, n2 = 1;
	char *b = ts_slurp(p, &n1);
	struct sf_state_opts o = {0};
	o.create = 1;
	T_EQ(sf_state_open(&st, p, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, "state file");
	T_CONTAINS(err.msg, "was written by a newer secfaas 9.9.9 (schema 99, this build knows 3); "
			    "upgrade secfaas");
	char *a = ts_slurp(p, &n2);
	T_OK(n1 == n2 && memcmp(a, b, n1) == 0);
	T_EQ(ts_user_version(p), 99);
	free(a);
	free(b);
	free(p);
}

/* Each tests/state/fixtures/v<N>.db is a file as schema N left it; every
 * one must upgrade to the newest schema with every row intact. */
static void check_fixture(int version)
{
	ts_clean_env();
	char *src = xasprintf("%s/tests/state/fixtures/v%d.db", t_srcdir(), version);
	char *srck = xasprintf("%s/tests/state/fixtures/v%d.db.key", t_srcdir(), version);
	char *p = ts_path("fixture.db");
	char *pk = xasprintf("%s.key", p);
	size_t n = 0;
	unlink(p);
	char *b = ts_slurp(src, &n);
	T_OK(b != NULL);
	if (!b)
		return;
	ts_write(p, b, n);
	free(b);
	b = ts_slurp(srck, &n);
	ts_write(pk, b, n);
	free(b);
	T_EQ(ts_user_version(p), version);

	/* read-only cannot migrate: a clear refusal */
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = NULL;
	struct sf_state_opts o = {0};
	o.readonly = 1;
	T_EQ(sf_state_open(&st, p, &o, &err), SF_ECORRUPT);
	T_CONTAINS(err.msg, "needs an upgrade");
	T_EQ(ts_user_version(p), version);

	st = ts_open(p, NULL);
	if (!st)
		return;
	T_EQ(ts_user_version(p), sf_state_schema_version());
	T_STREQ(sf_state_lineage(st), "6f1c1d9e-2b8a-4c55-9d1e-3a7f0b2c4d11");
	T_EQ(sf_state_serial(st), 7); /* migration is not a content write */
	char *v = NULL;
	T_EQ(sf_state_meta_get(st, "workspace", &v, &err), 0);
	T_STREQ(v, "fixture");
	free(v);
	T_EQ(sf_state_meta_get(st, "secfaas_version", &v, &err), 0);
	T_STREQ(v, SECFAAS_VERSION);
	free(v);

	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "openfaas.core", &g, &err), 0);
	if (g) {
		T_STREQ(json_string_value(json_object_get(g->attrs, "admin_password")),
			"v1-fixture-secret-pw");
		T_STREQ(json_string_value(json_array_get(g->deps, 0)), "local_file.a");
		T_STREQ(g->token, "tok-core");
		T_EQ(g->schema_version, 2);
	}
	sf_resource_free(g);

	struct sf_journal_entry *j = NULL;
	size_t jn = 0;
	T_EQ(sf_journal_open(st, &j, &jn, &err), 0);
	T_EQ(jn, 1);
	if (jn == 1) {
		T_STREQ(j[0].address, "openfaas.core");
		T_EQ(j[0].run_id, 1);
	}
	sf_journal_free(j, jn);

	struct sf_run *runs = NULL;
	size_t rn = 0;
	T_EQ(sf_state_runs(st, &runs, &rn, &err), 0);
	T_EQ(rn, 1);
	if (rn == 1) {
		T_STREQ(runs[0].command, "apply");
		T_EQ(runs[0].serial_after, 7);
		T_EQ(runs[0].pid, version >= 2 ? 4242 : 0);
	}
	sf_run_free(runs, rn);
	double lo = 0, hi = 0;
	size_t tn = 0;
	T_EQ(sf_state_timing_typical(st, "eks_cluster", "create", &lo, &hi, &tn, &err), 0);
	T_EQ(tn, version >= 2 ? 1 : 0);
	/* later additions work on the upgraded file */
	T_EQ(sf_state_timing_add(st, "eks_cluster", "create", 600, &err), 0);
	struct sf_claim prev;
	T_EQ(sf_state_claim(st, "round-1", &prev, &err), 0);
	T_EQ(ts_put(st, "local_file.new", "{}", NULL), 0);
	T_EQ(sf_state_serial(st), 8);
	sf_state_close(st);

	/* opening again does not migrate again */
	st = ts_open(p, NULL);
	T_EQ(sf_state_serial(st), 8);
	sf_state_close(st);
	free(src);
	free(srck);
	free(p);
	free(pk);
}

T_TEST(migration_from_fixtures)
{
	for (int v = 1; v < sf_state_schema_version(); v++)
		check_fixture(v);
}

T_TEST(readonly_handle)
{
	ts_clean_env();
	char *p = ts_path("ro.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	sf_state_close(st);
	struct sf_state_opts o = {0};
	o.readonly = 1;
	T_EQ(sf_state_open(&st, p, &o, &err), 0);
	if (!st)
		return;
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "local_file.a", &g, &err), 0);
	sf_resource_free(g);
	T_EQ(ts_put(st, "local_file.b", "{}", NULL), SF_EINVAL);
	T_EQ(sf_state_meta_set(st, "k", "v", &err), SF_EINVAL);
	T_CONTAINS(err.msg, "read-only");
	T_EQ(sf_state_begin(st, &err), SF_EINVAL);
	T_EQ(sf_state_serial(st), 1);
	sf_state_close(st);
	free(p);
}

/* ---- journal, runs, snapshots ------------------------------------------- */

T_TEST(journal_intents_and_results)
{
	ts_clean_env();
	char *p = ts_path("journal.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	struct sf_run_info ri = {"apply", "abc", "deadbeef", "{\"add\":2,\"change\":0,\"destroy\":0}"};
	int64_t run = 0, j1 = 0, j2 = 0, j3 = 0;
	T_EQ(sf_state_run_begin(st, &ri, &run, &err), 0);
	char tok[33];
	sf_state_token(st, "local_file.a", "create", 0, tok);
	T_EQ(sf_journal_intent(st, run, "local_file.a", "create", tok, "{\"path\":\"/a\"}", &j1, &err), 0);
	T_EQ(sf_journal_intent(st, run, "local_file.b", "create", NULL, NULL, &j2, &err), 0);
	T_EQ(sf_journal_intent(st, 0, "local_file.a", "update", NULL, NULL, &j3, &err), 0);
	T_OK(j1 > 0 && j2 > j1 && j3 > j2);
	T_EQ(sf_journal_intent(st, 9999, "local_file.a", "create", NULL, NULL, NULL, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "run 9999");
	T_EQ(sf_journal_intent(st, run, "local_file.a", "explode", NULL, NULL, NULL, &err), SF_EINVAL);
	T_EQ(sf_journal_intent(st, run, "local_file.a", "create", NULL, "{not json", NULL, &err),
	     SF_EINVAL);

	T_EQ(sf_journal_result(st, j1, 1, "{\"id\":\"/a\"}", &err), 0);
	T_EQ(sf_journal_result(st, j1, 1, NULL, &err), SF_ECONFLICT);
	T_EQ(sf_journal_result(st, 12345, 1, NULL, &err), SF_ENOTFOUND);

	struct sf_journal_entry *v = NULL;
	size_t n = 0;
	T_EQ(sf_journal_open(st, &v, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_EQ(v[0].id, j2);
		T_STREQ(v[0].op, "create");
		T_EQ(v[0].done, 0);
		T_EQ(v[0].run_id, run);
		T_EQ(v[1].id, j3);
		T_EQ(v[1].run_id, 0);
	}
	sf_journal_free(v, n);

	T_EQ(sf_journal_list(st, "local_file.a", 0, &v, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_EQ(v[0].id, j1);
		T_EQ(v[0].done, 1);
		T_EQ(v[0].ok, 1);
		T_STREQ(v[0].token, tok);
		T_STREQ(v[0].detail, "{\"path\":\"/a\"}");
		T_STREQ(v[0].result, "{\"id\":\"/a\"}");
		T_OK(v[0].finished >= v[0].started && v[0].started > 0);
		T_EQ(v[1].id, j3);
	}
	sf_journal_free(v, n);
	/* limit keeps the newest, still oldest first */
	T_EQ(sf_journal_list(st, NULL, 2, &v, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_EQ(v[0].id, j2);
		T_EQ(v[1].id, j3);
	}
	sf_journal_free(v, n);
	sf_journal_free(NULL, 0);

	/* intent and resource in one transaction: all or nothing */
	int64_t j4 = 0;
	int64_t s0 = sf_state_serial(st);
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_journal_intent(st, run, "local_file.c", "create", NULL, NULL, &j4, &err), 0);
	T_EQ(ts_put(st, "local_file.c", "{}", NULL), 0);
	sf_state_rollback(st);
	T_EQ(sf_journal_list(st, "local_file.c", 0, &v, &n, &err), 0);
	T_EQ(n, 0);
	sf_journal_free(v, n);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "local_file.c", &g, &err), SF_ENOTFOUND);
	T_EQ(sf_state_serial(st), s0);
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_journal_intent(st, run, "local_file.c", "create", NULL, NULL, &j4, &err), 0);
	T_EQ(ts_put(st, "local_file.c", "{}", NULL), 0);
	T_EQ(sf_state_commit(st, &err), 0);
	T_EQ(sf_state_serial(st), s0 + 1);
	T_EQ(sf_state_get(st, "local_file.c", &g, &err), 0);
	sf_resource_free(g);

	/* a killed run: the intent survives a reopen (it was committed) */
	sf_state_close(st);
	st = ts_open(p, NULL);
	T_EQ(sf_journal_open(st, &v, &n, &err), 0);
	T_EQ(n, 3);
	sf_journal_free(v, n);
	sf_state_close(st);
	free(p);
}

T_TEST(run_history)
{
	ts_clean_env();
	char *p = ts_path("runs.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	struct sf_run_info ri = {"apply", "digest1", "sha1", "{\"add\":1,\"change\":0,\"destroy\":0}"};
	int64_t r1 = 0, r2 = 0;
	T_EQ(sf_state_run_begin(st, &ri, &r1, &err), 0);
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	T_EQ(sf_state_run_end(st, r1, "ok", "{\"added\":1}", &err), 0);
	T_EQ(sf_state_run_end(st, r1, "ok", NULL, &err), SF_ENOTFOUND);
	ri.command = "destroy";
	ri.plan_summary = NULL;
	T_EQ(sf_state_run_begin(st, &ri, &r2, &err), 0);
	T_EQ(sf_state_run_end(st, r2, "bogus", NULL, &err), SF_EINVAL);
	ri.plan_summary = "{bad";
	T_EQ(sf_state_run_begin(st, &ri, NULL, &err), SF_EINVAL);
	ri.command = NULL;
	T_EQ(sf_state_run_begin(st, &ri, NULL, &err), SF_EINVAL);

	struct sf_run *v = NULL;
	size_t n = 0;
	T_EQ(sf_state_runs(st, &v, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_EQ(v[0].id, r2); /* newest first */
		T_STREQ(v[0].command, "destroy");
		T_OK(v[0].finished == 0 && v[0].result == NULL);
		T_EQ(v[1].id, r1);
		T_STREQ(v[1].result, "ok");
		T_STREQ(v[1].summary, "{\"added\":1}");
		T_STREQ(v[1].spec_digest, "digest1");
		T_STREQ(v[1].git_sha, "sha1");
		T_CONTAINS(v[1].who, "@");
		T_STREQ(v[1].host, sf_hostname());
		T_EQ(v[1].serial_before, 0);
		T_EQ(v[1].serial_after, 1);
		T_OK(v[1].finished >= v[1].started);
	}
	sf_run_free(v, n);
	sf_run_free(NULL, 0);
	sf_state_close(st);
	free(p);
}

T_TEST(snapshots_and_restore)
{
	ts_clean_env();
	char *p = ts_path("snap.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, "snapshot passphrase!");
	if (!st)
		return;
	T_EQ(ts_put(st, "openfaas.a", "{\"pw\":\"snap-secret\"}", "[\"pw\"]"), 0); /* serial 1 */
	T_EQ(sf_state_snapshot(st, &err), 0);
	T_EQ(ts_put(st, "local_file.b", "{}", NULL), 0);                           /* 2 */
	T_EQ(ts_put(st, "openfaas.a", "{\"pw\":\"changed\"}", "[\"pw\"]"), 0);     /* 3 */
	T_EQ(sf_state_snapshot(st, &err), 0);

	int64_t *ser = NULL;
	double *tm = NULL;
	size_t n = 0;
	T_EQ(sf_state_snapshots(st, &ser, &tm, &n, &err), 0);
	T_EQ(n, 2);
	if (n == 2) {
		T_EQ(ser[0], 3);
		T_EQ(ser[1], 1);
		T_OK(tm[0] > 0);
	}
	free(ser);
	free(tm);
	/* the snapshot keeps secrets sealed */
	char *body = ts_query(p, "SELECT body FROM snapshots WHERE serial = 1");
	T_CONTAINS(body, "$enc");
	T_OK(body && !strstr(body, "snap-secret"));
	free(body);

	T_EQ(sf_state_restore(st, 1, &err), 0);
	T_EQ(sf_state_serial(st), 4); /* a new serial, never a rewind */
	struct sf_resource **v = NULL;
	T_EQ(sf_state_list(st, &v, &n, &err), 0);
	T_EQ(n, 1);
	if (n == 1) {
		T_STREQ(v[0]->address, "openfaas.a");
		T_STREQ(json_string_value(json_object_get(v[0]->attrs, "pw")), "snap-secret");
	}
	sf_resource_list_free(v, n);
	T_EQ(sf_state_restore(st, 2, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no snapshot at serial 2");
	T_EQ(sf_state_serial(st), 4);
	/* the pre-restore content (serial 3) is still there to undo with */
	T_EQ(sf_state_restore(st, 3, &err), 0);
	T_EQ(sf_state_serial(st), 5);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "local_file.b", &g, &err), 0);
	sf_resource_free(g);

	/* only the newest 20 are kept */
	for (int i = 0; i < 25; i++) {
		char addr[32];
		snprintf(addr, sizeof addr, "local_file.k%d", i);
		T_EQ(ts_put(st, addr, "{}", NULL), 0);
		T_EQ(sf_state_snapshot(st, &err), 0);
	}
	T_EQ(sf_state_snapshots(st, &ser, NULL, &n, &err), 0);
	T_EQ(n, 20);
	if (n == 20) {
		T_EQ(ser[0], sf_state_serial(st));
		T_EQ(ser[19], sf_state_serial(st) - 19);
	}
	free(ser);

	/* snapshot with uncommitted writes is refused */
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(ts_put(st, "local_file.z", "{}", NULL), 0);
	T_EQ(sf_state_snapshot(st, &err), SF_EINVAL);
	sf_state_rollback(st);
	sf_state_close(st);
	free(p);
}

/* ---- meta, token, backup -------------------------------------------------- */

T_TEST(meta_get_set)
{
	ts_clean_env();
	char *p = ts_path("meta.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	char *v = NULL;
	T_EQ(sf_state_meta_get(st, "git_sha", &v, &err), SF_ENOTFOUND);
	T_EQ(sf_state_meta_set(st, "git_sha", "abc123", &err), 0);
	T_EQ(sf_state_meta_get(st, "git_sha", &v, &err), 0);
	T_STREQ(v, "abc123");
	free(v);
	T_EQ(sf_state_meta_set(st, "git_sha", NULL, &err), 0);
	T_EQ(sf_state_meta_get(st, "git_sha", &v, &err), SF_ENOTFOUND);
	T_EQ(sf_state_meta_set(st, "lineage", "x", &err), SF_EINVAL);
	T_EQ(sf_state_meta_set(st, "serial", "0", &err), SF_EINVAL);
	T_EQ(sf_state_meta_set(st, "", "x", &err), SF_EINVAL);
	T_EQ(sf_state_meta_get(st, "created_at", &v, &err), 0);
	double t = 0;
	T_EQ(sf_time_parse(v, &t), 0);
	free(v);
	T_EQ(sf_state_meta_get(st, "kdf_salt", &v, &err), 0);
	T_EQ(strlen(v), 32);
	free(v);
	sf_state_close(st);
	free(p);
}

T_TEST(idempotency_token)
{
	ts_clean_env();
	char *p = ts_path("tok.db");
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	char a[33], b[33], c[33];
	sf_state_token(st, "eks_cluster.dev", "create", 0, a);
	sf_state_token(st, "eks_cluster.dev", "create", 0, b);
	T_EQ(strlen(a), 32);
	T_STREQ(a, b);
	sf_state_token(st, "eks_cluster.dev", "create", 1, c);
	T_OK(strcmp(a, c) != 0);
	sf_state_token(st, "eks_cluster.dev", "delete", 0, c);
	T_OK(strcmp(a, c) != 0);
	/* the documented derivation */
	char *in = xasprintf("%s|eks_cluster.dev|create|0", sf_state_lineage(st));
	char hex[65];
	sf_sha256_hex(hex, in, strlen(in));
	hex[32] = 0;
	T_STREQ(a, hex);
	free(in);
	sf_state_close(st);
	free(p);
}

T_TEST(backup_vacuum_into)
{
	ts_clean_env();
	char *p = ts_path("bk.db");
	char *bk = xasprintf("%s.backup", p);
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	T_EQ(ts_put(st, "local_file.a", "{}", NULL), 0);
	T_EQ(sf_state_backup(st, &err), 0);
	T_EQ(ts_put(st, "local_file.b", "{}", NULL), 0);
	T_EQ(sf_state_backup(st, &err), 0); /* replaces the older one */
	struct stat sb;
	T_EQ(stat(bk, &sb), 0);
	T_EQ(sb.st_mode & 0777, 0600);
	char lin[37];
	snprintf(lin, sizeof lin, "%s", sf_state_lineage(st));
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_state_backup(st, &err), SF_EINVAL);
	sf_state_rollback(st);
	sf_state_close(st);

	st = ts_open(bk, NULL);
	if (st) {
		T_STREQ(sf_state_lineage(st), lin);
		T_EQ(sf_state_serial(st), 2);
		struct sf_resource *g = NULL;
		T_EQ(sf_state_get(st, "local_file.b", &g, &err), 0);
		sf_resource_free(g);
		sf_state_close(st);
	}
	free(bk);
	free(p);
}

T_TEST(phase_timings)
{
	ts_clean_env();
	char *p = ts_path("timing.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	double lo, hi;
	size_t n;
	T_EQ(sf_state_timing_typical(st, "eks_cluster", "create", &lo, &hi, &n, &err), 0);
	T_EQ(n, 0);
	for (int i = 1; i <= 60; i++)
		T_EQ(sf_state_timing_add(st, "eks_cluster", "create", (double)i, &err), 0);
	T_EQ(sf_state_timing_add(st, "eks_cluster", "delete", 900, &err), 0);
	T_EQ(sf_state_timing_add(st, "eks_cluster", "create", -1, &err), SF_EINVAL);
	T_EQ(sf_state_timing_typical(st, "eks_cluster", "create", &lo, &hi, &n, &err), 0);
	T_EQ(n, 50); /* newest 50: samples 11..60 */
	T_OK(lo >= 15 && lo <= 17);
	T_OK(hi >= 54 && hi <= 56);
	char *cnt = ts_query(p, "SELECT count(*) FROM phase_timings");
	T_STREQ(cnt, "51");
	free(cnt);
	sf_state_close(st);
	free(p);
}

/* ---- concurrency -------------------------------------------------------- */

struct thr_arg {
	struct sf_state *st;
	int which, fails;
};

static void *writer_thread(void *argp)
{
	struct thr_arg *a = argp;
	for (int i = 0; i < 40; i++) {
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
		/* implicit transactions interleave too */
		if (sf_state_meta_set(a->st, a->which ? "t1" : "t0", addr, &err) < 0)
			a->fails++;
	}
	return NULL;
}

T_TEST(threads_share_a_handle)
{
	ts_clean_env();
	char *p = ts_path("threads.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	pthread_t th[2];
	struct thr_arg args[2] = {{st, 0, 0}, {st, 1, 0}};
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, writer_thread, &args[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	T_EQ(args[0].fails + args[1].fails, 0);
	T_EQ(sf_state_serial(st), 160);
	struct sf_resource **v = NULL;
	size_t n = 0;
	T_EQ(sf_state_list(st, &v, &n, &err), 0);
	T_EQ(n, 80);
	sf_resource_list_free(v, n);
	sf_state_close(st);
	free(p);
}

/* Processes writing one file without the lock: each write compares the
 * serial its process last saw, so once another process has committed, a
 * process's further writes fail with SF_ESTALE instead of landing on top of
 * the other's.  The file ends consistent: serial == rows == successes, and
 * each process's successes are an unbroken prefix of its attempts. */
T_TEST(processes_write_concurrently)
{
	ts_clean_env();
	/* not created beforehand: the children race to create and migrate it */
	char *p = ts_path("procs/procs.db");
	struct sf_state *st = NULL;
	ts_keep(p);
	pid_t kids[3];
	int pipes[3][2];
	for (int k = 0; k < 3; k++) {
		T_EQ(pipe(pipes[k]), 0);
		kids[k] = fork();
		if (kids[k] == 0) {
			close(pipes[k][0]);
			struct sf_state *cst = ts_open(p, NULL);
			int bad = !cst, ok = 0, failed = 0;
			for (int i = 0; cst && i < 30; i++) {
				char addr[64];
				snprintf(addr, sizeof addr, "local_file.p%d_%d", k, i);
				int rc = ts_put(cst, addr, "{}", NULL);
				if (rc == 0 && !failed)
					ok++;
				else if (rc == 0 || rc != SF_ESTALE)
					bad = 1; /* a write after a refusal, or another error */
				else
					failed = 1;
			}
			sf_state_close(cst);
			unsigned char c = (unsigned char)ok;
			if (write(pipes[k][1], &c, 1) != 1)
				bad = 1;
			_exit(bad); /* _exit: the parent owns the temp dir cleanup */
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
	T_OK(total >= 30);
	st = ts_open(p, NULL);
	T_EQ(sf_state_serial(st), total);
	struct sf_resource **v = NULL;
	size_t n = 0;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_state_list(st, &v, &n, &err), 0);
	T_EQ(n, (size_t)total);
	sf_resource_list_free(v, n);
	sf_state_close(st);
	free(p);
}

/* Two handles without the lock: the second writer is refused after the
 * first one committed, and sees the new serial once it takes the lock. */
T_TEST(compare_and_swap_without_lock)
{
	ts_clean_env();
	char *p = ts_path("cas.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a = ts_open(p, NULL), *b = ts_open(p, NULL);
	if (!a || !b)
		return;
	T_EQ(ts_put(a, "local_file.a", "{}", NULL), 0);
	T_EQ(ts_put(b, "local_file.b", "{}", NULL), SF_ESTALE);
	struct sf_resource *r = NULL;
	T_EQ(sf_state_get(b, "local_file.b", &r, &err), SF_ENOTFOUND);
	/* explicit transaction: refused at commit, nothing of it lands */
	T_EQ(sf_state_begin(b, &err), 0);
	T_EQ(ts_put(b, "local_file.c", "{}", NULL), 0);
	T_EQ(sf_state_commit(b, &err), SF_ESTALE);
	T_CONTAINS(err.msg, "changed under this run");
	T_CONTAINS(err.msg, "serial 1");
	T_EQ(sf_state_get(a, "local_file.c", &r, &err), SF_ENOTFOUND);
	/* bookkeeping is not content: still allowed */
	T_EQ(sf_state_timing_add(b, "x", "create", 1, &err), 0);
	/* the lock makes b current again */
	char id[37];
	T_EQ(sf_lock_acquire(b, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(ts_put(b, "local_file.b", "{}", NULL), 0);
	T_EQ(sf_lock_release(b, id, &err), 0);
	T_EQ(ts_put(a, "local_file.d", "{}", NULL), SF_ESTALE);
	T_EQ(sf_state_serial(a), 2);
	sf_state_close(a);
	sf_state_close(b);
	free(p);
}

T_MAIN()
