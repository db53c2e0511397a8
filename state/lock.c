/*
 * lock.c - one writer per workspace: acquire (waiting up to a timeout),
 * heartbeat, release, force-unlock rules, staleness; and the fleet claims
 * that `apply --all` takes under the lock.
 *
 * How the lock itself is held is the backend's business (state/backend.h):
 * a row in the file for SQLite, a session advisory lock for PostgreSQL.
 * Both keep a row describing the holder (id, operation, who, host, PID,
 * version, created, heartbeat) so every process and every human can see who
 * holds it and whether it still heartbeats.  Lock rows are not state
 * content: they never bump the serial.
 *
 * Fencing is written once here (st_fence_check, called by store.c inside
 * every content commit); the backend only answers whether the lock is
 * still this handle's (lock_fence).
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

void st_lock_info_mine(struct sf_lock_info *li, const char *id, const char *operation, const char *info)
{
	double now = sf_now();
	memset(li, 0, sizeof *li);
	snprintf(li->id, sizeof li->id, "%s", id);
	snprintf(li->operation, sizeof li->operation, "%s", operation);
	snprintf(li->who, sizeof li->who, "%s@%s", sf_username(), sf_hostname());
	snprintf(li->host, sizeof li->host, "%s", sf_hostname());
	li->pid = (int)getpid();
	snprintf(li->version, sizeof li->version, "%s", SECFAAS_VERSION);
	li->created = li->heartbeat = now;
	snprintf(li->info, sizeof li->info, "%s", info ? info : "");
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
	struct sf_lock_info cur = {0}, mine;
	int rc;
	for (;;) {
		char id[37];
		sf_uuid4(id);
		st_lock_info_mine(&mine, id, operation, info);
		st_enter(st);
		if (st->readonly)
			rc = sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path);
		else if (st->in_tx)
			rc = sf_fail(err, SF_EINVAL, "cannot take the lock on %s inside a transaction",
				     st->path);
		else
			rc = st->be->lock_try(st, &mine, &cur, err);
		/* What this run reads from now on is what it may write on top
		 * of: others may have written while we waited. */
		if (rc == 0 && (rc = st_serial_refresh(st, err)) < 0) {
			struct sf_err e2 = SF_ERR_INIT;
			st->be->lock_release(st, id, &e2);
		}
		if (rc == 0) {
			/* fencing: from now on every content commit checks this lock */
			memcpy(st->fence, id, sizeof id);
			st->broken = 0;
		}
		st_leave(st);
		if (rc == 0) {
			memcpy(id_out, id, sizeof id);
			return 0;
		}
		if (rc != SF_ELOCKED && rc != SF_ETIMEOUT)
			return rc;
		double left = deadline - sf_mono();
		if (left <= 0)
			break;
		/* Not holding the mutex while we wait: other threads keep
		 * using the handle. 100-250 ms keeps the wait responsive
		 * without hammering the database. */
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
	int64_t n = 0;
	st_enter(st);
	struct st_arg a[2] = {st_text(id), st_real(sf_now())};
	int rc = st->readonly ? sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path)
			      : st_qexec(st, Q_LOCK_BEAT, a, 2, &n, err);
	if (rc == 0 && !n) {
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
	st_enter(st);
	int rc = st->readonly ? sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path)
			      : st->be->lock_release(st, id, err);
	if (id && !strcmp(id, st->fence))
		st->fence[0] = 0;
	st_leave(st);
	return rc;
}

int st_fence_check(struct sf_state *st, struct sf_err *err)
{
	int other = 0;
	if (!st->fence[0])
		return 0;
	/* Asked even when already broken: a handle broken by a lost
	 * connection or a stale serial keeps that error, not this one. */
	int held = st->be->lock_fence(st, st->fence, &other, err);
	if (held < 0)
		return held;
	if (held)
		return 0;
	st->broken = 1;
	sf_fail(err, SF_ELOCKED, "state %s: this run no longer holds its lock %s (%s); it stops writing", st->path,
		st->fence,
		other ? "another run holds the state now" : "it was removed or taken over, e.g. by force-unlock --force");
	return sf_err_hint(err, "what this run started and did not record is journaled as in progress: "
				"the next apply resumes it under the same tokens");
}

int sf_lock_wait_free(struct sf_state *st, double timeout_s, struct sf_lock_info *holder, struct sf_err *err)
{
	double deadline = sf_mono() + (timeout_s > 0 ? timeout_s : 0);
	struct sf_lock_info cur;
	for (;;) {
		memset(&cur, 0, sizeof cur);
		st_enter(st);
		int rc = st->be->lock_get(st, &cur, err);
		st_leave(st);
		if (rc < 0)
			return rc;
		if (rc == 0 || sf_lock_is_stale(&cur, sf_now()))
			return 0;
		double left = deadline - sf_mono();
		if (left <= 0)
			break;
		unsigned char j = 0;
		sf_random(&j, 1);
		double d = 0.1 + 0.15 * j / 255.0;
		nap(d < left ? d : left);
	}
	if (holder)
		*holder = cur;
	char age[32];
	sf_duration_fmt(age, sizeof age, sf_now() - cur.created);
	sf_fail(err, SF_ELOCKED, "state %s is locked by %s (pid %d, operation %s, lock %s, %s old)", st->path, cur.who,
		cur.pid, cur.operation, cur.id, age);
	return sf_err_hint(err, "wait for it to finish, or pass --lock-timeout to wait");
}

int sf_lock_get(struct sf_state *st, struct sf_lock_info *out, struct sf_err *err)
{
	st_enter(st);
	int rc = st->be->lock_get(st, out, err);
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
	st_enter(st);
	int rc = st->readonly ? sf_fail(err, SF_EINVAL, "state %s was opened read-only", st->path) : 0;
	if (rc < 0)
		goto out;
	int locked = st->be->lock_get(st, &cur, err);
	if (locked < 0) {
		rc = locked;
		goto out;
	}
	if (!locked) {
		rc = sf_fail(err, SF_ENOTFOUND, "state is not locked");
		sf_err_where(err, "%s", st->path);
		goto out;
	}
	if (!id || strcmp(id, cur.id)) {
		rc = sf_fail(err, SF_ENOTFOUND, "no lock with id %s on state %s (it is locked by %s, "
						"lock %s)", id ? id : "", st->path, cur.who, cur.id);
		sf_err_hint(err, "pass the exact lock id");
		goto out;
	}
	if (!force && !sf_lock_is_stale(&cur, sf_now())) {
		char age[32];
		sf_duration_fmt(age, sizeof age, sf_now() - cur.heartbeat);
		rc = sf_fail(err, SF_ECONFLICT, "lock %s is live: %s (pid %d, operation %s) heartbeat "
						"%s ago", cur.id, cur.who, cur.pid, cur.operation, age);
		sf_err_hint(err, "make sure that run is gone, then pass --force to unlock anyway");
		goto out;
	}
	rc = st->be->lock_force(st, &cur, err);
	if (rc == 0 && !strcmp(id, st->fence))
		st->fence[0] = 0;
out:
	st_leave(st);
	return rc;
}

/* ---- fleet claims ------------------------------------------------------------ */

int sf_state_claim(struct sf_state *st, const char *round, struct sf_claim *prev, struct sf_err *err)
{
	if (!round || !*round)
		return sf_fail(err, SF_EINVAL, "a claim needs a round name");
	struct st_wscope ws;
	struct st_rows r = ST_ROWS_INIT;
	char *who = xasprintf("%s@%s", sf_username(), sf_hostname());
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto out;
	struct st_arg a[5] = {st_text(round), st_text(who), st_text(sf_hostname()), st_int(getpid()),
			      st_real(sf_now())};
	if ((rc = st_q(st, Q_CLAIM_GET, a, 1, &r, err)) < 0)
		goto done;
	if (r.nrows && !strcmp(st_cell(&r, 0, 3) ? st_cell(&r, 0, 3) : "", "ok")) {
		if (prev) {
			memset(prev, 0, sizeof *prev);
			snprintf(prev->who, sizeof prev->who, "%s", st_cell(&r, 0, 0) ? st_cell(&r, 0, 0) : "");
			snprintf(prev->host, sizeof prev->host, "%s", st_cell(&r, 0, 1) ? st_cell(&r, 0, 1) : "");
			prev->pid = (int)st_cell_int(&r, 0, 2);
			snprintf(prev->status, sizeof prev->status, "ok");
			prev->started = st_cell_real(&r, 0, 4);
			prev->finished = st_cell_real(&r, 0, 5);
		}
		rc = sf_fail(err, SF_ECONFLICT, "workspace in state %s was already applied in round %s by %s",
			     st->path, round, st_cell(&r, 0, 0) ? st_cell(&r, 0, 0) : "?");
		goto done;
	}
	/* none, failed, or "running" by a runner that no longer holds the
	 * lock (we do): ours now */
	rc = st_qexec(st, Q_CLAIM_PUT, a, 5, NULL, err);
done:
	st_rows_release(&r);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	free(who);
	return rc;
}

int sf_state_claim_end(struct sf_state *st, const char *round, int ok, struct sf_err *err)
{
	struct st_wscope ws;
	int64_t n = 0;
	st_enter(st);
	int rc = st_wbegin(st, &ws, err);
	if (rc < 0)
		goto out;
	struct st_arg a[3] = {st_text(round), st_text(ok ? "ok" : "error"), st_real(sf_now())};
	rc = st_qexec(st, Q_CLAIM_END, a, 3, &n, err);
	if (rc == 0 && !n)
		rc = sf_fail(err, SF_ENOTFOUND, "no running claim for round %s in state %s", round ? round : "",
			     st->path);
	rc = st_wend(st, &ws, rc, err);
out:
	st_leave(st);
	return rc;
}
