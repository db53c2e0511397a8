/*
 * tests/state/helpers.h - helpers shared by tests/unit/test_state*.c.
 *
 * Header-only (static inline) because the Makefile links every non-test .c
 * under tests/unit into every unit binary; these are only for the state
 * tests.  Each helper fails the current test (T_FAILF) rather than exiting.
 */
#ifndef SF_TESTS_STATE_HELPERS_H
#define SF_TESTS_STATE_HELPERS_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"
#include "tests/unit/t.h"
#include "util.h"

/* Tests choose their key source explicitly. */
static inline void ts_clean_env(void)
{
	unsetenv("SECFAAS_STATE_PASSPHRASE");
	unsetenv("SECFAAS_STATE_KEY_FILE");
}

/* Keep a pointer reachable from a global.  A forked child that _exits
 * while its parent's allocations are live would otherwise show them to
 * valgrind as "definitely lost" (the only copy may sit in a register). */
static inline void ts_keep(void *p)
{
	static void *volatile kept[64]; /* volatile: stores a compiler cannot drop */
	static size_t n;
	if (n < sizeof kept / sizeof kept[0])
		kept[n++] = p;
}

/* Owned path under the test's temp dir. */
static inline char *ts_path(const char *name)
{
	return xasprintf("%s/%s", t_tmpdir(), name);
}

/* Open (creating) with an optional passphrase; NULL + a failed check on error. */
static inline struct sf_state *ts_open(const char *path, const char *passphrase)
{
	struct sf_state *st = NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_state_opts o = {0};
	o.create = 1;
	o.passphrase = passphrase;
	if (sf_state_open(&st, path, &o, &err) < 0) {
		char buf[1200];
		T_FAILF("open %s: %s", path, sf_err_format(&err, buf, sizeof buf));
		return NULL;
	}
	return st;
}

/* Put a resource whose type is the address prefix; attrs and sensitive are
 * JSON text (NULL: none). Returns the sf_state_put code. */
static inline int ts_put(struct sf_state *st, const char *address, const char *attrs,
			 const char *sensitive)
{
	struct sf_resource r = {0};
	struct sf_err err = SF_ERR_INIT;
	const char *dot = strchr(address, '.');
	char *type = xstrndup(address, dot ? (size_t)(dot - address) : strlen(address));
	r.address = (char *)address;
	r.type = type;
	r.status = SF_RS_CREATED;
	r.attrs = attrs ? json_loads(attrs, 0, NULL) : NULL;
	r.sensitive = sensitive ? json_loads(sensitive, 0, NULL) : NULL;
	int rc = sf_state_put(st, &r, &err);
	json_decref(r.attrs);
	json_decref(r.sensitive);
	free(type);
	return rc;
}

/* Run SQL on the file through a separate connection (as another process or
 * an attacker would). 0 ok. */
static inline int ts_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	}
	if (rc != SQLITE_OK)
		T_FAILF("sql on %s failed: %s (%s)", path, msg ? msg : sqlite3_errmsg(db), sql);
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* First column of the first row as an owned string, or NULL. */
static inline char *ts_query(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char *out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_text(s, 0))
		out = xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

static inline int ts_user_version(const char *path)
{
	char *v = ts_query(path, "PRAGMA user_version");
	int n = v ? (int)strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

/* Whole file (owned, NUL-terminated) or NULL. */
static inline char *ts_slurp(const char *path, size_t *n)
{
	char *out = NULL;
	size_t len = 0;
	if (sf_read_file(&out, &len, path, 0, NULL) < 0)
		return NULL;
	if (n)
		*n = len;
	return out;
}

static inline void ts_write(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n)
		T_FAILF("cannot write %s", path);
	if (f)
		fclose(f);
}

/* 1 if the file's bytes contain needle, 0 if not, -1 if unreadable. */
static inline int ts_file_contains(const char *path, const char *needle)
{
	size_t n = 0;
	char *b = ts_slurp(path, &n);
	if (!b)
		return -1;
	int found = memmem(b, n, needle, strlen(needle)) != NULL;
	free(b);
	return found;
}

#endif
