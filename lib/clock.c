/* clock.c - see clock.h. */
#include "clock.h"

#include <stdint.h>
#include <time.h>

#include "err.h"
#include "util.h"

#define NAP_SLICE_S 0.05

static double wall_now(void *ctx)
{
	(void)ctx;
	return sf_now();
}

static double mono_now(void *ctx)
{
	(void)ctx;
	return sf_mono();
}

static void sys_sleep(void *ctx, double s)
{
	(void)ctx;
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	/* A signal (SIGINT) ends the sleep early on purpose: the callers look
	 * at their cancel flag next. */
	(void)nanosleep(&ts, NULL);
}

static double sys_rand(void *ctx)
{
	(void)ctx;
	uint64_t v = 0;
	if (sf_random(&v, sizeof v) < 0)
		return 0.5;
	return (double)(v >> 11) / (double)(UINT64_C(1) << 53);
}

const struct sf_clock *sf_clock_system(void)
{
	static const struct sf_clock c = {wall_now, sys_sleep, sys_rand, NULL};
	return &c;
}

const struct sf_clock *sf_clock_monotonic(void)
{
	static const struct sf_clock c = {mono_now, sys_sleep, sys_rand, NULL};
	return &c;
}

int sf_clock_nap(const struct sf_clock *clk, double secs, volatile int *cancel)
{
	double until = clk->now(clk->ctx) + secs;
	for (;;) {
		if (cancel && *cancel)
			return SF_EINTR;
		double left = until - clk->now(clk->ctx);
		if (left <= 0)
			return 0;
		clk->sleep(clk->ctx, left < NAP_SLICE_S ? left : NAP_SLICE_S);
	}
}

int sf_cond_wait_s(pthread_cond_t *cv, pthread_mutex_t *mu, double secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long ns = ts.tv_nsec + (long long)((secs > 0 ? secs : 0) * 1e9);
	ts.tv_sec += (time_t)(ns / 1000000000LL);
	ts.tv_nsec = (long)(ns % 1000000000LL);
	return pthread_cond_timedwait(cv, mu, &ts);
}
