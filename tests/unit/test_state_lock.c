/*
 * test_state_lock.c - the state lock: acquire, conflict details, release,
 * heartbeat, staleness, dead-PID reclaim, force-unlock rules, and a second
 * process that waits for the lock with a timeout.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/state.h"
#include "t.h"
#include "tests/state/helpers.h"
#include "util.h"

/* A PID that certainly belongs to no process: a reaped child's. */
static int dead_pid(void)
{
	pid_t k = fork();
	if (k == 0) {
		/* exec, so a valgrind run does not report the parent's open
		 * handles as this child's leaks */
		execl("/bin/true", "true", (char *)NULL);
		_exit(0);
	}
	int status;
	waitpid(k, &status, 0);
	return (int)k;
}

T_TEST(acquire_conflict_release)
{
	ts_clean_env();
	char *p = ts_path("lock1.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL), *st2 = ts_open(p, NULL);
	if (!st || !st2)
		return;
	struct sf_lock_info li;
	T_EQ(sf_lock_get(st, &li, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "not locked");

	char id[37] = "", id2[37] = "";
	double t0 = sf_now();
	T_EQ(sf_lock_acquire(st, "apply", "spec@abc123", 0, NULL, id, &err), 0);
	T_EQ(strlen(id), 36);

	/* the second handle (as another run would) sees who holds it */
	memset(&li, 0, sizeof li);
	T_EQ(sf_lock_acquire(st2, "destroy", NULL, 0, &li, id2, &err), SF_ELOCKED);
	T_STREQ(li.id, id);
	T_STREQ(li.operation, "apply");
	T_STREQ(li.info, "spec@abc123");
	T_STREQ(li.host, sf_hostname());
	T_CONTAINS(li.who, "@");
	T_CONTAINS(li.who, sf_hostname());
	T_EQ(li.pid, getpid());
	T_STREQ(li.version, SECFAAS_VERSION);
	T_OK(li.created >= t0 - 1 && li.heartbeat >= li.created);
	T_CONTAINS(err.msg, "is locked by");
	T_CONTAINS(err.msg, id);
	T_CONTAINS(err.hint, "lock-timeout");
	T_EQ(sf_lock_is_stale(&li, sf_now()), 0);

	struct sf_lock_info got;
	T_EQ(sf_lock_get(st2, &got, &err), 0);
	T_STREQ(got.id, id);

	/* heartbeat moves forward; only the holder's id works */
	T_EQ(ts_exec(p, "UPDATE locks SET heartbeat = heartbeat - 100"), 0);
	T_EQ(sf_lock_heartbeat(st, id, &err), 0);
	T_EQ(sf_lock_get(st, &got, &err), 0);
	T_OK(got.heartbeat >= sf_now() - 5);
	T_EQ(sf_lock_heartbeat(st, "00000000-0000-4000-8000-000000000000", &err), SF_ENOTFOUND);

	T_EQ(sf_lock_release(st2, "00000000-0000-4000-8000-000000000000", &err), SF_ENOTFOUND);
	T_EQ(sf_lock_release(st, id, &err), 0);
	T_EQ(sf_lock_release(st, id, &err), SF_ENOTFOUND);
	T_EQ(sf_lock_heartbeat(st, id, &err), SF_ENOTFOUND);
	T_EQ(sf_lock_acquire(st2, "destroy", NULL, 0, NULL, id2, &err), 0);
	T_OK(strcmp(id, id2) != 0);
	T_EQ(sf_lock_release(st2, id2, &err), 0);
	T_EQ(sf_state_serial(st), 0); /* locks are not state content */

	/* not inside a transaction */
	T_EQ(sf_state_begin(st, &err), 0);
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), SF_EINVAL);
	sf_state_rollback(st);
	sf_state_close(st);
	sf_state_close(st2);
	free(p);
}

T_TEST(staleness_rules)
{
	struct sf_lock_info li;
	memset(&li, 0, sizeof li);
	snprintf(li.host, sizeof li.host, "%s", sf_hostname());
	li.pid = getpid();
	double now = sf_now();
	li.heartbeat = now - 10;
	T_EQ(sf_lock_is_stale(&li, now), 0);          /* fresh, alive */
	li.heartbeat = now - 301;
	T_EQ(sf_lock_is_stale(&li, now), 1);          /* heartbeat older than 5 min */
	li.heartbeat = now - 10;
	li.pid = dead_pid();
	T_EQ(sf_lock_is_stale(&li, now), 1);          /* same host, dead PID */
	snprintf(li.host, sizeof li.host, "some-other-host.example");
	T_EQ(sf_lock_is_stale(&li, now), 0);          /* cannot check another host's PID */
	li.heartbeat = now - 600;
	T_EQ(sf_lock_is_stale(&li, now), 1);
}

T_TEST(dead_pid_lock_reclaimed_silently)
{
	ts_clean_env();
	char *p = ts_path("lock2.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	char id[37], id2[37];
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	/* the holder "dies": its PID now names no process */
	char *sql = xasprintf("UPDATE locks SET pid = %d", dead_pid());
	T_EQ(ts_exec(p, sql), 0);
	free(sql);
	T_EQ(sf_lock_acquire(st, "destroy", NULL, 0, NULL, id2, &err), 0);
	struct sf_lock_info li;
	T_EQ(sf_lock_get(st, &li, &err), 0);
	T_STREQ(li.id, id2);
	T_STREQ(li.operation, "destroy");
	T_EQ(li.pid, getpid());

	/* dead PID on another host: not reclaimed (PID means nothing here) */
	sql = xasprintf("UPDATE locks SET pid = %d, host = 'elsewhere.example'", dead_pid());
	T_EQ(ts_exec(p, sql), 0);
	free(sql);
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), SF_ELOCKED);

	/* an old heartbeat is reported stale, with the exact command, but not taken */
	T_EQ(ts_exec(p, "UPDATE locks SET heartbeat = heartbeat - 400"), 0);
	memset(&li, 0, sizeof li);
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, &li, id, &err), SF_ELOCKED);
	T_EQ(sf_lock_is_stale(&li, sf_now()), 1);
	T_CONTAINS(err.hint, "secfaas force-unlock ");
	T_CONTAINS(err.hint, id2);
	sf_state_close(st);
	free(p);
}

T_TEST(force_unlock_rules)
{
	ts_clean_env();
	char *p = ts_path("lock3.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		return;
	char id[37];
	T_EQ(sf_lock_force_unlock(st, "x", 1, &err), SF_ENOTFOUND);
	T_STREQ(err.msg, "state is not locked");

	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(sf_lock_force_unlock(st, "4b1e0c2a", 1, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "no lock with id 4b1e0c2a");
	/* a prefix is not the exact id */
	char prefix[9];
	snprintf(prefix, sizeof prefix, "%s", id);
	T_EQ(sf_lock_force_unlock(st, prefix, 1, &err), SF_ENOTFOUND);

	/* fresh heartbeat, live PID: needs force */
	T_EQ(sf_lock_force_unlock(st, id, 0, &err), SF_ECONFLICT);
	T_CONTAINS(err.hint, "force");
	struct sf_lock_info li;
	T_EQ(sf_lock_get(st, &li, &err), 0);
	T_EQ(sf_lock_force_unlock(st, id, 1, &err), 0);
	T_EQ(sf_lock_get(st, &li, &err), SF_ENOTFOUND);
	/* the holder learns on its next heartbeat */
	T_EQ(sf_lock_heartbeat(st, id, &err), SF_ENOTFOUND);

	/* stale by heartbeat: no force needed */
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(ts_exec(p, "UPDATE locks SET heartbeat = heartbeat - 301, host = 'ci-runner-7'"), 0);
	T_EQ(sf_lock_force_unlock(st, id, 0, &err), 0);

	/* stale by dead PID on this host: no force needed */
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	char *sql = xasprintf("UPDATE locks SET pid = %d", dead_pid());
	T_EQ(ts_exec(p, sql), 0);
	free(sql);
	T_EQ(sf_lock_force_unlock(st, id, 0, &err), 0);

	/* fresh on another host: PID unknown, so force is required */
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(ts_exec(p, "UPDATE locks SET host = 'ci-runner-7', pid = 1"), 0);
	T_EQ(sf_lock_force_unlock(st, id, 0, &err), SF_ECONFLICT);
	T_EQ(sf_lock_force_unlock(st, id, 1, &err), 0);
	sf_state_close(st);
	free(p);
}

/* The parent holds the lock.  The child (another process) first fails fast,
 * then waits with a short timeout and fails at the deadline, then tells the
 * parent it is about to wait for 20 s; the parent releases, and the child
 * must get the lock well before its deadline.  The child is forked before
 * the parent opens the state, so it shares no SQLite handle with it. */
T_TEST(second_process_waits_for_lock)
{
	ts_clean_env();
	char *p = ts_path("lock4.db");
	ts_keep(p);
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL); /* create it before the fork */
	sf_state_close(st);
	int go[2], back[2];
	T_EQ(pipe(go), 0);
	T_EQ(pipe(back), 0);
	pid_t kid = fork();
	if (kid == 0) {
		close(go[1]);
		close(back[0]);
		char c = 0;
		int code = 0;
		if (read(go[0], &c, 1) != 1)
			_exit(9);
		struct sf_state *cst = ts_open(p, NULL);
		struct sf_err e = SF_ERR_INIT;
		struct sf_lock_info li;
		char cid[37];
		if (!cst)
			_exit(10);
		if (sf_lock_acquire(cst, "destroy", NULL, 0, &li, cid, &e) != SF_ELOCKED)
			code = 11;
		else if (li.pid != (int)getppid())
			code = 12;
		double t0 = sf_mono();
		if (!code && sf_lock_acquire(cst, "destroy", NULL, 0.4, &li, cid, &e) != SF_ELOCKED)
			code = 13;
		double waited = sf_mono() - t0;
		if (!code && (waited < 0.39 || waited > 5))
			code = 14;
		if (!code && write(back[1], "w", 1) != 1)
			code = 15;
		t0 = sf_mono();
		if (!code && sf_lock_acquire(cst, "destroy", NULL, 20, &li, cid, &e) != 0)
			code = 16;
		if (!code && sf_mono() - t0 > 15)
			code = 17;
		if (!code && sf_lock_release(cst, cid, &e) != 0)
			code = 18;
		sf_state_close(cst);
		_exit(code); /* _exit: the parent owns the temp dir cleanup */
	}
	close(go[0]);
	close(back[1]);
	st = ts_open(p, NULL);
	char id[37];
	T_EQ(sf_lock_acquire(st, "apply", NULL, 0, NULL, id, &err), 0);
	T_EQ(write(go[1], "g", 1), 1);
	char c = 0;
	T_EQ(read(back[0], &c, 1), 1); /* child is about to wait */
	T_EQ(sf_lock_release(st, id, &err), 0);
	int status = 0;
	waitpid(kid, &status, 0);
	T_OK(WIFEXITED(status));
	T_EQ(WEXITSTATUS(status), 0);
	close(go[1]);
	close(back[0]);
	/* and the child released it again */
	struct sf_lock_info li;
	T_EQ(sf_lock_get(st, &li, &err), SF_ENOTFOUND);
	sf_state_close(st);
	free(p);
}

T_MAIN()

/* Fencing: a handle whose lock was force-unlocked and taken by another run
 * writes no more state content (SF_ELOCKED, broken), while the new holder
 * writes and the old run can still record how it ended. */
T_TEST(lost_lock_fences_every_write)
{
	ts_clean_env();
	char *p = ts_path("lock-fence.db");
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *a = ts_open(p, NULL), *b = ts_open(p, NULL);
	if (!a || !b)
		return;
	char ida[37], idb[37];
	int64_t run = 0;
	struct sf_run_info ri = {"apply", NULL, NULL, NULL};
	T_EQ(sf_lock_acquire(a, "apply", NULL, 0, NULL, ida, &err), 0);
	T_EQ(sf_state_run_begin(a, &ri, &run, &err), 0);
	T_EQ(ts_put(a, "aws_vpc.main", "{\"cidr_block\":\"10.0.0.0/16\"}", NULL), 0);
	T_EQ(sf_state_broken(a), 0);

	/* someone runs force-unlock --force and a second run takes the lock */
	T_EQ(sf_lock_force_unlock(b, ida, 1, &err), 0);
	T_EQ(sf_lock_acquire(b, "apply", NULL, 0, NULL, idb, &err), 0);
	int64_t serial = sf_state_serial(b);

	/* every kind of content write by the first run is refused */
	T_EQ(ts_put(a, "aws_subnet.a", "{}", NULL), SF_ELOCKED);
	T_EQ(sf_state_broken(a), 1);
	int64_t jid = 0;
	T_EQ(sf_journal_intent(a, 0, "aws_subnet.a", "create", "tok", NULL, &jid, &err), SF_ELOCKED);
	T_CONTAINS(err.msg, "no longer holds its lock");
	T_EQ(sf_state_begin(a, &err), 0);
	T_EQ(sf_state_meta_set(a, "k", "v", &err), 0);
	T_EQ(sf_state_commit(a, &err), SF_ELOCKED);
	T_EQ(sf_state_serial(b), serial);
	struct sf_resource *r = NULL;
	T_EQ(sf_state_get(b, "aws_subnet.a", &r, &err), SF_ENOTFOUND);
	/* its run history is bookkeeping: it still records how it ended */
	T_EQ(sf_state_run_end(a, run, "error", NULL, &err), 0);
	/* the new holder writes */
	T_EQ(ts_put(b, "aws_subnet.b", "{}", NULL), 0);
	T_EQ(sf_state_broken(b), 0);
	T_EQ(sf_lock_release(b, idb, &err), 0);

	/* a lock row removed without a successor fences too, and a heartbeat
	 * notices it before any write */
	T_EQ(sf_lock_acquire(b, "apply", NULL, 0, NULL, idb, &err), 0);
	T_EQ(ts_exec(p, "DELETE FROM locks"), 0);
	T_EQ(sf_lock_heartbeat(b, idb, &err), SF_ENOTFOUND);
	T_EQ(sf_state_broken(b), 1);
	T_EQ(ts_put(b, "aws_subnet.c", "{}", NULL), SF_ELOCKED);
	sf_state_close(a);
	sf_state_close(b);
	free(p);
}
