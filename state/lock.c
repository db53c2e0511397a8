/*
 * lock.c - one writer per state file, recorded in the single-row `locks`
 * table so every process (and a human with `secfaas state`) can see who
 * holds it, since when, and whether it still heartbeats.
 *
 * Acquiring runs in BEGIN IMMEDIATE: SQLite's write lock serialises the
 * check-and-insert across processes.  A lock held by a dead PID on this host
 * is reclaimed silently; one whose heartbeat is older than 5 minutes is only
 * reported as stale (another host's PID cannot be checked, and PID reuse
 * makes "alive" the safe guess), and the CLI prints the force-unlock hint.
 * Lock rows are not state content: they never bump the serial.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state/internal.h"
#include "util.h"

#ifndef SECFAAS_VERSION
#define SECFAAS_VERSION "0.0.0"
#endif

#define LOCK_STALE_S 300.0
#define L_COLS "id, operation, who, host, pid, version, created, heartbeat, info"

static void copy_col(char *dst, size_t n, sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	snprintf(dst, n, "%s", t ? t : "");
}

/* 1 and *li filled if locked, 0 if not, < 0 on error. */
static int read_lock(struct sf_state *st, struct sf_lock_info *li, struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, "SELECT " L_COLS " FROM locks WHERE one = 1", &s, err);
	if (rc < 0)
		return rc;
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		memset(li, 0, sizeof *li);
		copy_col(li->id, sizeof li->id, s, 0);
		copy_col(li->operation, sizeof li->operation, s, 1);
		copy_col(li->who, sizeof li->who, s, 2);
		copy_col(li->host, sizeof li->host, s, 3);
		li->pid = sqlite3_column_int(s, 4);
		copy_col(li->version, sizeof li->version, s, 5);
		li->created = sqlite3_column_double(s, 6);
		li->heartbeat = sqlite3_column_double(s, 7);
		copy_col(li->info, sizeof li->info, s, 8);
		rc = 1;
	} else if (src == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = st_sqlfail(st, src, err, "reading the lock");
	}
	sqlite3_finalize(s);
	return rc;
}

/* 1 alive (or cannot tell), 0 known dead. Only meaningful on this host. */
static int pid_alive(int pid)
{
	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) == 0)
		return 1;
	return errno != ESRCH; /* EPERM: exists, owned by someone else */
}

static int same_host(const struct sf_lock_info *li)
{
	return !strcmp(li->host, sf_hostname());
}

int sf_lock_is_stale(const struct sf_lock_info *li, double now)
{
	if (now - li->heartbeat > LOCK_STALE_S)
		return 1;
	return same_host(li) && !pid_alive(li->pid);
}

static int exec_bound(struct sf_state *st, const char *sql, const char *a, struct sf_err *err,
		      int *changes)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, err);
	if (rc < 0)
		return rc;
	if (a)
		st_bind_text(s, 1, a);
	int src = sqlite3_step(s);
	if (src != SQLITE_DONE)
		rc = st_sqlfail(st, src, err, "updating the lock");
	else if (changes)
		*changes = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

static int insert_lock(struct sf_state *st, const char *id, const char *operation, const char *info,
		       struct sf_err *err)
{
	sqlite3_stmt *s = NULL;
	char *who = xasprintf("%s@%s", sf_username(), sf_hostname());
	double now = sf_now();
	int rc = st_prepare(st, "INSERT INTO locks(one, " L_COLS ") VALUES "
				"(1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &s, err);
	if (rc == 0) {
		st_bind_text(s, 1, id);
		st_bind_text(s, 2, operation);
		st_bind_text(s, 3, who);
		st_bind_text(s, 4, sf_hostname());
		sqlite3_bind_int(s, 5, (int)getpid());
		st_bind_text(s, 6, SECFAAS_VERSION);
		sqlite3_bind_double(s, 7, now);
		sqlite3_bind_double(s, 8, now);
		st_bind_text(s, 9, info ? info : "");
		int src = sqlite3_step(s);
		if (src != SQLITE_DONE)
			rc = st_sqlfail(st, src, err, "taking the lock");
	}
	sqlite3_finalize(s);
	free(who);
	return rc;
}

/* One attempt.  0 acquired, SF_ELOCKED (holder filled) or another error. */
static int try_acquire(struct sf_state *st, const char *operation, const char *info,
		       struct sf_lock_info *holder, char id_out[37], struct sf_err *err)
{
	struct sf_lock_info cur = {0};
	int rc = st_exec(st, "BEGIN IMMEDIATE", err);
	if (rc < 0)
		return rc;
	int locked = read_lock(st, &cur, err);
	if (locked < 0) {
		rc = locked;
		goto fail;
	}
	if (locked && same_host(&cur) && !pid_alive(cur.pid)) {
		sf_info("state %s: reclaiming lock %s left by pid %d on %s (process is gone)", st->path,
			cur.id, cur.pid, cur.host);
		if ((rc = st_exec(st, "DELETE FROM locks", err)) < 0)
			goto fail;
		locked = 0;
	}
	if (locked) {
		if (holder)
			*holder = cur;
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return SF_ELOCKED;
	}
	char id[37];
	sf_uuid4(id);
	if ((rc = insert_lock(st, id, operation, info, err)) < 0 || (rc = st_exec(st, "COMMIT", err)) < 0)
		goto fail;
	memcpy(id_out, id, sizeof id);
	memcpy(st->fence, id, sizeof id);
	st->broken = 0;
	return 0;
fail:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void nap(double secs)
{
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int sf_lock_acquire(struct sf_state *st, const char *operation, const char *info, double timeout_s,
		    struct sf_lock_info *holder, char id_out[37], struct sf_err *err)
{
	if (!operation || !*operation)
		return sf_fail(err, SF_EINVAL, "a lock needs an operation name");
	double deadline = sf_mono() + (timeout_s > 0 ? timeout_s : 0);
	struct sf_lock_info cur = {0};
	int rc;
	for (;;) {
		st_enter(st);
		if (st->readonly)
			rc = sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path);
		else if (st->in_tx)
			rc = sf_fail(err, SF_EINVAL, "cannot take the lock on %s inside a transaction",
				     st->path);
		else
			rc = try_acquire(st, operation, info, &cur, id_out, err);
		st_leave(st);
		if (rc != SF_ELOCKED && rc != SF_ETIMEOUT)
			return rc;
		double left = deadline - sf_mono();
		if (left <= 0)
			break;
		/* Not holding the mutex while we wait: other threads keep
		 * using the handle. 100-250 ms keeps the wait responsive
		 * without hammering the file. */
		unsigned char j = 0;
		sf_random(&j, 1);
		double d = 0.1 + 0.15 * j / 255.0;
		nap(d < left ? d : left);
	}
	if (rc == SF_ETIMEOUT)
		return rc;
	if (holder)
		*holder = cur;
	char age[32];
	sf_duration_fmt(age, sizeof age, sf_now() - cur.created);
	sf_fail(err, SF_ELOCKED, "state %s is locked by %s (pid %d, operation %s, lock %s, %s old)",
		st->path, cur.who, cur.pid, cur.operation, cur.id, age);
	if (sf_lock_is_stale(&cur, sf_now()))
		sf_err_hint(err, "the lock looks stale; if no secfaas run is active, run "
				 "`secfaas force-unlock %s`", cur.id);
	else
		sf_err_hint(err, "wait for it to finish, or pass --lock-timeout to wait");
	return SF_ELOCKED;
}

int sf_lock_heartbeat(struct sf_state *st, const char *id, struct sf_err *err)
{
	int changes = 0;
	st_enter(st);
	char *sql = xasprintf("UPDATE locks SET heartbeat = %.6f WHERE id = ?1", sf_now());
	int rc = st->readonly ? sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path)
			      : exec_bound(st, sql, id, err, &changes);
	free(sql);
	if (rc == 0 && !changes) {
		rc = sf_fail(err, SF_ENOTFOUND, "lock %s on state %s is no longer held", id ? id : "",
			     st->path);
		sf_err_hint(err, "someone ran force-unlock; stop writing to this state");
		if (id && !strcmp(id, st->fence))
			st->broken = 1;
	}
	st_leave(st);
	return rc;
}

int sf_lock_release(struct sf_state *st, const char *id, struct sf_err *err)
{
	int changes = 0;
	st_enter(st);
	int rc = st->readonly ? sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path)
			      : exec_bound(st, "DELETE FROM locks WHERE id = ?1", id, err, &changes);
	if (rc == 0 && !changes)
		rc = sf_fail(err, SF_ENOTFOUND, "lock %s on state %s was not held (force-unlocked?)",
			     id ? id : "", st->path);
	if (id && !strcmp(id, st->fence))
		st->fence[0] = 0;
	st_leave(st);
	return rc;
}

int st_fence_check(struct sf_state *st, struct sf_err *err)
{
	struct sf_lock_info cur;
	if (!st->fence[0])
		return 0;
	int locked = st->broken ? 0 : read_lock(st, &cur, err);
	if (locked < 0)
		return locked;
	if (locked && !strcmp(cur.id, st->fence))
		return 0;
	st->broken = 1;
	sf_fail(err, SF_ELOCKED, "state %s: this run no longer holds its lock %s (%s); it stops writing", st->path,
		st->fence,
		locked ? "another run holds the state now" : "it was removed or taken over, e.g. by force-unlock --force");
	return sf_err_hint(err, "what this run started and did not record is journaled as in progress: "
				"the next apply resumes it under the same tokens");
}

int sf_lock_get(struct sf_state *st, struct sf_lock_info *out, struct sf_err *err)
{
	st_enter(st);
	int rc = read_lock(st, out, err);
	if (rc == 0)
		rc = sf_fail(err, SF_ENOTFOUND, "state %s is not locked", st->path);
	else if (rc == 1)
		rc = 0;
	st_leave(st);
	return rc;
}

int sf_lock_force_unlock(struct sf_state *st, const char *id, int force, struct sf_err *err)
{
	struct sf_lock_info cur = {0};
	int changes = 0;
	st_enter(st);
	int rc = st->readonly ? sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path)
			      : st_exec(st, "BEGIN IMMEDIATE", err);
	if (rc < 0)
		goto out;
	int locked = read_lock(st, &cur, err);
	if (locked < 0) {
		rc = locked;
		goto done;
	}
	if (!locked) {
		rc = sf_fail(err, SF_ENOTFOUND, "state is not locked");
		sf_err_where(err, "%s", st->path);
		goto done;
	}
	if (!id || strcmp(id, cur.id)) {
		rc = sf_fail(err, SF_ENOTFOUND, "no lock with id %s on state %s (it is locked by %s, "
						"lock %s)", id ? id : "", st->path, cur.who, cur.id);
		sf_err_hint(err, "pass the exact lock id");
		goto done;
	}
	if (!force && !sf_lock_is_stale(&cur, sf_now())) {
		char age[32];
		sf_duration_fmt(age, sizeof age, sf_now() - cur.heartbeat);
		rc = sf_fail(err, SF_ECONFLICT, "lock %s is live: %s (pid %d, operation %s) heartbeat "
						"%s ago", cur.id, cur.who, cur.pid, cur.operation, age);
		sf_err_hint(err, "make sure that run is gone, then pass --force to unlock anyway");
		goto done;
	}
	if ((rc = exec_bound(st, "DELETE FROM locks WHERE id = ?1", id, err, &changes)) < 0)
		goto done;
	rc = st_exec(st, "COMMIT", err);
	if (rc == 0 && !strcmp(id, st->fence))
		st->fence[0] = 0;
done:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	st_leave(st);
	return rc;
}
