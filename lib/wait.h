/*
 * wait.h - the one loop behind every "poll until it is ready".
 *
 * Why: an EKS control plane takes about ten minutes, a node group five, an
 * AMI up to fifteen, a Deployment rollout a minute.  Every such wait needs
 * the same things: poll, decide, report progress, pause, give up at a
 * deadline or after so many polls, stop at once on Ctrl-C.  Callers say
 * only what one poll is (a named AWS waiter, aws/waiter.h; a Kubernetes
 * readiness check, kube/wait.c) and how long to pause; this loop does the
 * rest, on an injectable clock (clock.h), so tests run a 40-minute wait in
 * microseconds.
 *
 * The pause before each poll comes from `delay` when set, else delay_s.
 * `delay` is the place for a smarter strategy: given the polls so far and
 * the time elapsed it may poll more often near the typical end of a
 * transition (an EKS cluster is usually ACTIVE after 8 to 12 minutes).
 *
 * Calling steps:
 *   struct sf_wait_loop w = {.name = "eks.ClusterActive", .delay_s = 30, .timeout_s = 1800,
 *                            .cancel = cancel};
 *   struct sf_wait_result res;
 *   rc = sf_wait_run(&w, my_poll, ctx, &res, err);
 *
 * Errors: SF_EINVAL when the loop has neither a deadline nor a poll
 * budget; 0 when a poll said SF_WAIT_DONE; a poll's own error as it
 * returned it (a failure state, a failed call); SF_ETIMEOUT when the next
 * poll would be past the deadline or max_attempts polls were made; SF_EINTR
 * as soon as *cancel is set (looked at before every poll and while
 * pausing).  For the last two err gets a default message naming `name`;
 * callers that word it their own way use res and sf_fail() again.
 * Ownership: everything is borrowed for the duration of the call.
 */
#ifndef SF_WAIT_H
#define SF_WAIT_H

#include <stddef.h>

#include "clock.h"
#include "err.h"

enum { SF_WAIT_PENDING = 0, SF_WAIT_DONE = 1 };

/* One poll: SF_WAIT_DONE, SF_WAIT_PENDING, or a negative error with err
 * filled.  status (n bytes, starts empty) says where things stand, for
 * progress lines and the timeout message ("CREATING"). */
typedef int (*sf_wait_poll_fn)(void *ctx, char *status, size_t n, struct sf_err *err);

/* Seconds to pause after poll number `attempt` (1-based), elapsed_s into
 * the wait. */
typedef double (*sf_wait_delay_fn)(void *ctx, int attempt, double elapsed_s);

struct sf_wait_loop {
	const char *name;             /* for the default messages: "eks.ClusterActive" */
	double delay_s;               /* pause between polls */
	sf_wait_delay_fn delay;       /* NULL: delay_s */
	void *delay_ctx;
	double first_delay_s;         /* pause before the first poll; 0: poll at once */
	int max_attempts;             /* polls at most; 0: no limit */
	double timeout_s;             /* deadline from the start; 0: none (then max_attempts > 0) */
	const struct sf_clock *clock; /* NULL: the monotonic system clock */
	volatile int *cancel;         /* may be NULL */
	/* after every poll that returned DONE or PENDING; may be NULL */
	void (*progress)(void *ctx, const char *status, int attempt, double elapsed_s);
	void *progress_ctx;
};

struct sf_wait_result {
	int attempts;       /* polls made */
	double elapsed_s;   /* since the start, when the loop ended */
	double delay_s;     /* the pause that would have come next (SF_ETIMEOUT) */
	char status[512];   /* the last status a poll gave, "" if none */
};

int sf_wait_run(const struct sf_wait_loop *w, sf_wait_poll_fn poll, void *ctx, struct sf_wait_result *res,
		struct sf_err *err);

#endif
