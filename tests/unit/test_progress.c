/*
 * test_progress.c - "Still creating..." comes every SF_PROGRESS_INTERVAL
 * (10 s) of a step's time, on a terminal or not, and not before.
 *
 * Independent of the machine's speed: the engine reads a fake clock that
 * only the test moves, the step is held inside its create by a FIFO gate
 * (test_object's `gate`) until the test lets it go, and after each move
 * the test waits until the engine's ticker has read the clock twice more,
 * so it has looked at the new time at least once before the test counts.
 * Every wait is bounded (30 s of real time) so a broken engine fails the
 * test instead of hanging it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provisioner/cli/plan_cmd.h"
#include "provisioner/engine/apply.h"
#include "resources/types.h"
#include "t.h"
#include "util.h"

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	double now;
	unsigned long reads;
	int started, progress, completed;
	double last_elapsed;
};

static double fake_now(void *ctx)
{
	struct fake *f = ctx;
	pthread_mutex_lock(&f->mu);
	double t = f->now;
	f->reads++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return t;
}

static void fake_sleep(void *ctx, double s)
{
	(void)ctx;
	(void)s;
}

static double fake_rand(void *ctx)
{
	(void)ctx;
	return 0.5;
}

static void on_event(void *ui, const struct sf_apply_event *ev)
{
	struct fake *f = ui;
	pthread_mutex_lock(&f->mu);
	if (ev->type == SF_EV_START)
		f->started++;
	else if (ev->type == SF_EV_PROGRESS) {
		f->progress++;
		f->last_elapsed = ev->elapsed;
	} else if (ev->type == SF_EV_COMPLETE)
		f->completed++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Wait (f->mu held) until *v >= want; 0, or -1 after 30 s of real time. */
static int wait_for(struct fake *f, const int *v, int want)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	while (*v < want)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT)
			return -1;
	return 0;
}

/* Move the clock to t, then wait until it has been read twice more: the
 * ticker has then finished at least one look at the new time. */
static int move_to(struct fake *f, double t)
{
	struct timespec dl;
	pthread_mutex_lock(&f->mu);
	f->now = t;
	unsigned long want = f->reads + 2;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	int rc = 0;
	while (f->reads < want && rc == 0)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT)
			rc = -1;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

struct job {
	struct sf_plan *plan;
	struct sf_config *cfg;
	struct sf_state *st;
	struct sf_apply_opts *o;
	struct sf_apply_result res;
	int rc;
};

static void *run_apply(void *arg)
{
	struct job *j = arg;
	struct sf_err err = SF_ERR_INIT;
	j->rc = sf_apply(j->plan, j->cfg, j->st, j->o, &j->res, &err);
	return NULL;
}

T_TEST(progress_every_ten_seconds_of_step_time)
{
	/* the CLI's interval, outside a terminal too */
	unsetenv("SECFAAS_PROGRESS_INTERVAL");
	T_EQ(sf_progress_interval(), 10);
	T_EQ(SF_PROGRESS_INTERVAL, 10);

	char *dir = xasprintf("%s/objs", t_tmpdir());
	char *fifo = xasprintf("%s/gate", t_tmpdir());
	char *db = xasprintf("%s/progress.db", t_tmpdir());
	mkdir(dir, 0700);
	unlink(fifo);
	T_EQ(mkfifo(fifo, 0600), 0);
	struct sf_state *st = NULL;
	struct sf_state_opts so = {.create = 1};
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_state_open(&st, db, &so, &err), 0);

	struct sf_config cfg = SF_CONFIG_INIT;
	json_t *a = json_pack("{s:s, s:s, s:s}", "dir", dir, "content", "held", "gate", fifo);
	sf_config_add(&cfg, sf_rtype_find("test_object"), "held", a, NULL);
	json_decref(a);
	struct sf_plan plan;
	struct sf_plan_opts po = {.refresh = 1, .types = sf_types()};
	T_EQ(sf_plan_make(&plan, &cfg, st, &po, &err), 0);

	struct fake f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1000, 0, 0, 0, 0, 0};
	struct sf_clock clk = {fake_now, fake_sleep, fake_rand, &f};
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 1, .cancel = &cancel, .event = on_event, .ui = &f,
				   .progress_interval = sf_progress_interval(), .clock = &clk};
	struct job j = {&plan, &cfg, st, &ao, {0}, -1};
	pthread_t th;
	T_EQ(pthread_create(&th, NULL, run_apply, &j), 0);

	/* the create has started and sits in the gate */
	pthread_mutex_lock(&f.mu);
	T_EQ(wait_for(&f, &f.started, 1), 0);
	pthread_mutex_unlock(&f.mu);

	T_EQ(move_to(&f, 1009.9), 0);
	pthread_mutex_lock(&f.mu);
	T_EQ(f.progress, 0); /* 9.9 s in: nothing yet */
	pthread_mutex_unlock(&f.mu);

	pthread_mutex_lock(&f.mu);
	f.now = 1010;
	T_EQ(wait_for(&f, &f.progress, 1), 0); /* 10 s in: the first line */
	T_OK(f.last_elapsed >= 10 && f.last_elapsed < 10.001);
	pthread_mutex_unlock(&f.mu);

	T_EQ(move_to(&f, 1019.9), 0);
	pthread_mutex_lock(&f.mu);
	T_EQ(f.progress, 1); /* not again before another 10 s */
	f.now = 1020;
	T_EQ(wait_for(&f, &f.progress, 2), 0);
	T_OK(f.last_elapsed >= 20 && f.last_elapsed < 20.001);
	pthread_mutex_unlock(&f.mu);

	/* a long quiet stretch gives one line, not one per interval missed */
	T_EQ(move_to(&f, 1075), 0);
	T_EQ(move_to(&f, 1075), 0);
	pthread_mutex_lock(&f.mu);
	T_EQ(f.progress, 3);
	pthread_mutex_unlock(&f.mu);

	/* let the create go: it writes one byte to the gate */
	int fd = open(fifo, O_RDONLY | O_CLOEXEC);
	T_OK(fd >= 0);
	char c;
	T_EQ(read(fd, &c, 1), 1);
	close(fd);
	pthread_join(th, NULL);
	T_EQ(j.rc, 0);
	T_EQ(j.res.added, 1);
	T_EQ(f.completed, 1);

	sf_plan_release(&plan);
	sf_config_release(&cfg);
	sf_state_close(st);
	free(dir);
	free(fifo);
	free(db);
}

T_TEST(progress_interval_from_the_environment)
{
	setenv("SECFAAS_PROGRESS_INTERVAL", "2m", 1);
	T_EQ(sf_progress_interval(), 120);
	setenv("SECFAAS_PROGRESS_INTERVAL", "nonsense", 1);
	T_EQ(sf_progress_interval(), SF_PROGRESS_INTERVAL);
	unsetenv("SECFAAS_PROGRESS_INTERVAL");
}

T_MAIN()
