/*
 * clock.h - time, sleeping and randomness behind one small vtable.
 *
 * Why: retries back off and waiters poll for minutes (an EKS control plane
 * takes about ten).  Every loop that sleeps takes a `const struct sf_clock *`
 * instead of calling nanosleep() or time() itself, so a test passes a fake
 * clock whose sleep only advances its time: a 15-minute wait runs in
 * microseconds and gives the same result on a busy machine.
 *
 * Calling steps:
 *   const struct sf_clock *clk = opts->clock ? opts->clock : sf_clock_system();
 *   double t0 = clk->now(clk->ctx);
 *   if (sf_clock_nap(clk, 2.5, cancel) < 0) ... cancelled ...
 *
 * Ownership: clocks are borrowed; the built-in ones are static and never
 * NULL.  The fake clocks of tests belong to the tests.
 */
#ifndef SF_CLOCK_H
#define SF_CLOCK_H

#include <pthread.h>

struct sf_clock {
	double (*now)(void *ctx);              /* seconds; which epoch depends on the clock */
	void (*sleep)(void *ctx, double secs); /* may return early on a signal */
	double (*rand01)(void *ctx);           /* uniform in [0,1) */
	void *ctx;
};

/* Wall clock (Unix seconds: what request signing needs), nanosleep,
 * getrandom. */
const struct sf_clock *sf_clock_system(void);
/* The same with a monotonic now: for deadlines that must not move when
 * the wall clock is stepped. */
const struct sf_clock *sf_clock_monotonic(void);

/* Sleep secs on clk in slices of at most 50 ms, looking at *cancel (may be
 * NULL) before each: 0 when the time has passed, SF_EINTR as soon as
 * *cancel is non-zero (also before sleeping at all). */
int sf_clock_nap(const struct sf_clock *clk, double secs, volatile int *cancel);

/* pthread_cond_timedwait for at most secs from now (it takes a deadline on
 * the wall clock); mu held, as there.  Its return. */
int sf_cond_wait_s(pthread_cond_t *cv, pthread_mutex_t *mu, double secs);

#endif
