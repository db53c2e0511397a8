/* libFuzzer target: the state reader.  A state file is outside input too: it
 * is copied between machines, restored from backups, written by other
 * secfaas versions, damaged by full disks.  Two kinds of input (first byte):
 *
 *   'F' + bytes   a whole state file (seeds: real states, prefixed with 'F')
 *   anything else values planted into the rows of a valid state, separated by
 *                 "\n--\n": resource attrs, sensitive list, deps, status,
 *                 type, token, the serial, the key check value, a snapshot
 *                 body, a journal result, lock info, a run summary, the
 *                 schema version (so the row decoders see every odd value
 *                 SQLite can hold without first having to forge a b-tree)
 *
 * and then every read path: open (with migrations), identity, resources
 * with their secrets (under a fixed key), meta, journal, runs, snapshots,
 * restore, locks, timings.  Errors are fine; crashes, leaks and garbage
 * secrets are not. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/state.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96], keyfile[96], base[96];

static int write_all(const char *p, const void *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	int ok = write(fd, b, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

static void scrub(void)
{
	char p[128];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof p, "%s.backup", path);
	unlink(p);
}

/* A valid state with two resources (one with a secret), a run, a journal
 * row, a snapshot and a timing: the base the planted values go into. */
static void make_base(void)
{
	struct sf_state_opts o = {.create = 1, .key_file = keyfile};
	struct sf_state *st = NULL;
	struct sf_err err = SF_ERR_INIT;
	if (sf_state_open(&st, base, &o, &err) < 0) {
		fprintf(stderr, "fuzz_state: cannot create the base state: %s\n", err.msg);
		abort();
	}
	struct sf_resource r = {0};
	r.address = "test_object.a";
	r.type = "test_object";
	r.id = "obj-1";
	r.status = SF_RS_CREATED;
	r.attrs = json_pack("{s:s, s:s, s:{s:[i]}}", "dir", "objs", "secret", "s3cr3t", "nested", "x", 1);
	r.sensitive = json_pack("[s]", "secret");
	r.deps = json_array();
	r.token = "tok";
	int64_t run = 0, jid = 0;
	struct sf_run_info ri = {"apply", NULL, NULL, NULL};
	sf_state_put(st, &r, &err);
	r.address = "test_object.b";
	json_array_append_new(r.deps, json_string("test_object.a"));
	sf_state_put(st, &r, &err);
	sf_state_run_begin(st, &ri, &run, &err);
	sf_journal_intent(st, run, "test_object.a", "create", "tok", "{\"k\":1}", &jid, &err);
	sf_journal_result(st, jid, 1, "{\"ok\":true}", &err);
	sf_state_run_end(st, run, "ok", "{\"added\":2}", &err);
	sf_state_snapshot(st, &err);
	sf_state_timing_add(st, "test_object", "create", 1.5, &err);
	json_decref(r.attrs);
	json_decref(r.sensitive);
	json_decref(r.deps);
	sf_state_close(st);
}

static void cleanup(void)
{
	char p[128];
	scrub();
	unlink(base);
	unlink(keyfile);
	snprintf(p, sizeof p, "%s-wal", base);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", base);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "%s/fuzz-state.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/s.db", dir);
	snprintf(keyfile, sizeof keyfile, "%s/key", dir);
	snprintf(base, sizeof base, "%s/base.db", dir);
	const char *k = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
	if (write_all(keyfile, k, strlen(k)) < 0)
		abort();
	atexit(cleanup);
	make_base();
	/* `make fuzz` asks for a real state file as the seed of the 'F' form */
	const char *seed = getenv("FUZZ_STATE_SEED");
	if (seed) {
		char *buf = NULL;
		size_t n = 0;
		struct sf_err err = SF_ERR_INIT;
		if (sf_read_file(&buf, &n, base, (size_t)16 << 20, &err) == 0) {
			char *f = malloc(n + 1);
			f[0] = 'F';
			memcpy(f + 1, buf, n);
			write_all(seed, f, n + 1);
			free(f);
		}
		free(buf);
	}
	return 0;
}

static int copy_base(void)
{
	char *buf = NULL;
	size_t n = 0;
	struct sf_err err = SF_ERR_INIT;
	if (sf_read_file(&buf, &n, base, (size_t)16 << 20, &err) < 0)
		return -1;
	int rc = write_all(path, buf, n);
	free(buf);
	return rc;
}

/* Plant the fields into the base copy with plain SQLite (bound values:
 * the fuzzer picks values, not SQL). */
static void plant(const uint8_t *data, size_t size)
{
	static const char *const sql[] = {
		"UPDATE resources SET attrs = ?1 WHERE address = 'test_object.a'",
		"UPDATE resources SET sensitive = ?1 WHERE address = 'test_object.a'",
		"UPDATE resources SET deps = ?1 WHERE address = 'test_object.b'",
		"UPDATE resources SET status = ?1 WHERE address = 'test_object.b'",
		"UPDATE resources SET type = ?1 WHERE address = 'test_object.b'",
		"UPDATE resources SET token = ?1, id = ?1 WHERE address = 'test_object.a'",
		"UPDATE meta SET value = ?1 WHERE key = 'serial'",
		"UPDATE meta SET value = ?1 WHERE key = 'key_check'",
		"UPDATE snapshots SET body = ?1",
		"UPDATE journal SET result = ?1, detail = ?1",
		"INSERT OR REPLACE INTO locks(one, id, operation, who, host, pid, version, created, heartbeat, info) "
		"VALUES (1, ?1, ?1, ?1, ?1, 1, ?1, 0, 0, ?1)",
		"UPDATE runs SET summary = ?1, plan_summary = ?1, result = NULL",
		"INSERT OR REPLACE INTO meta(key, value) VALUES ('lineage', ?1)",
	};
	sqlite3 *db = NULL;
	if (copy_base() < 0 || sqlite3_open(path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return;
	}
	const char *p = (const char *)data, *end = p + size;
	for (size_t i = 0; i < sizeof sql / sizeof *sql + 1 && p <= end; i++) {
		const char *sep = memmem(p, (size_t)(end - p), "\n--\n", 4);
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);
		if (i == sizeof sql / sizeof *sql) {
			/* the last field: the schema version the file claims */
			char v[32];
			snprintf(v, sizeof v, "PRAGMA user_version = %d", n ? (int)(signed char)p[0] : 0);
			sqlite3_exec(db, v, NULL, NULL, NULL);
			break;
		}
		sqlite3_stmt *s = NULL;
		if (sqlite3_prepare_v2(db, sql[i], -1, &s, NULL) == SQLITE_OK) {
			/* text, or an integer when the field is one (SQLite typing) */
			char *e = NULL, tmp[32];
			long long iv = 0;
			if (n && n < sizeof tmp) {
				memcpy(tmp, p, n);
				tmp[n] = 0;
				iv = strtoll(tmp, &e, 10);
			}
			if (e && !*e)
				sqlite3_bind_int64(s, 1, iv);
			else if (n && p[0] == 0)
				sqlite3_bind_blob(s, 1, p + 1, (int)n - 1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_text(s, 1, p, (int)n, SQLITE_TRANSIENT);
			sqlite3_step(s);
		}
		sqlite3_finalize(s);
		if (!sep)
			break;
		p = sep + 4;
	}
	sqlite3_close(db);
}

static void read_everything(void)
{
	struct sf_state_opts o = {.key_file = keyfile, .busy_timeout_s = 0.01};
	struct sf_state *st = NULL;
	struct sf_err err = SF_ERR_INIT;
	if (sf_state_open(&st, path, &o, &err) < 0)
		return;
	(void)sf_state_lineage(st);
	(void)sf_state_serial(st);
	struct sf_resource **v = NULL;
	size_t n = 0;
	if (sf_state_list(st, &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct sf_resource *r = NULL;
			struct sf_err e = SF_ERR_INIT;
			if (sf_state_get(st, v[i]->address, &r, &e) == 0)
				sf_resource_free(r);
		}
		sf_resource_list_free(v, n);
	}
	char **keys = NULL, **vals = NULL;
	if (sf_state_meta_list(st, "", &keys, &vals, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			free(keys[i]);
			free(vals[i]);
		}
		free(keys);
		free(vals);
	}
	struct sf_journal_entry *j = NULL;
	if (sf_journal_open(st, &j, &n, &err) == 0)
		sf_journal_free(j, n);
	j = NULL;
	if (sf_journal_list(st, NULL, 0, &j, &n, &err) == 0)
		sf_journal_free(j, n);
	struct sf_run *runs = NULL;
	if (sf_state_runs(st, &runs, &n, &err) == 0)
		sf_run_free(runs, n);
	struct sf_lock_info li;
	sf_lock_get(st, &li, &err);
	double lo, hi;
	sf_state_timing_typical(st, "test_object", "create", &lo, &hi, &n, &err);
	int64_t *serials = NULL;
	double *times = NULL;
	if (sf_state_snapshots(st, &serials, &times, &n, &err) == 0) {
		if (n)
			sf_state_restore(st, serials[0], &err);
		free(serials);
		free(times);
	}
	sf_state_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	scrub();
	if (size && data[0] == 'F') {
		if (write_all(path, data + 1, size - 1) < 0)
			return 0;
	} else {
		plant(data, size);
	}
	read_everything();
	return 0;
}
