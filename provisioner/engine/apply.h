/*
 * apply.h - execute a plan as a dependency graph with bounded parallelism.
 *
 * Guarantees (the reasons this module exists):
 *  - Every cloud call is preceded by an intent row (journal + resource
 *    status, one transaction) carrying a deterministic idempotency token,
 *    and followed by the result in another transaction.  A run killed at
 *    any instant is resumed by the next apply: `creating` rows re-run
 *    create() with the same token, which adopts instead of duplicating.
 *  - A failure stops the failed node's dependents, not independent branches.
 *  - A create that fails is stored `tainted` and replaced by the next plan.
 *  - *cancel (first Ctrl-C) stops scheduling; in-flight operations finish
 *    or return SF_EINTR at their next poll, leaving resumable `creating`.
 *
 * Output goes through the event callback (cmd_apply.c renders lines or
 * JSON); this module prints nothing.  Every step of a change has its own
 * start and completion: a replacement reports the old object's destroy and
 * the new object's create (create-before-destroy: the new one first, then
 * the old one marked `deposed`), and a kept old object says so.
 */
#ifndef SF_APPLY_H
#define SF_APPLY_H

#include "clock.h"
#include "provisioner/engine/config.h"
#include "provisioner/engine/plan.h"
#include "state/state.h"

enum sf_apply_ev {
	SF_EV_START,     /* operation started */
	SF_EV_PROGRESS,  /* still running (elapsed, status) */
	SF_EV_COMPLETE,  /* operation finished */
	SF_EV_ERROR,     /* operation failed (err) */
	SF_EV_SKIPPED,   /* not started: a dependency failed or we were interrupted */
	SF_EV_KEPT,      /* a replaced object kept for reuse instead of destroyed (id: the old one) */
};

struct sf_apply_event {
	enum sf_apply_ev type;
	const char *address;
	enum sf_action action;
	const char *phase;          /* "create", "update", "delete" (the step running) */
	double elapsed;             /* seconds since the operation started */
	const char *id;             /* provider id when known */
	const char *status;         /* last progress status ("status=CREATING") or NULL */
	const struct sf_err *err;   /* SF_EV_ERROR / SF_EV_SKIPPED */
	const char *typical;        /* SF_EV_PROGRESS: "typical 9m-16m" from past runs, or NULL */
	const char *deposed;        /* the step works on the old object of a replacement:
				     * its deposed key ("1a2b3c4d"), else NULL */
};

typedef void (*sf_apply_event_fn)(void *ui, const struct sf_apply_event *ev);

struct sf_apply_opts {
	int parallelism;            /* >= 1 */
	void *providers;            /* rctx.provider */
	int64_t run_id;
	volatile int *cancel;       /* set by the first SIGINT/SIGTERM */
	sf_apply_event_fn event;    /* may be NULL */
	void *ui;
	double progress_interval;   /* seconds between "still ..." events (the CLI: 10) */
	const char *lock_id;        /* heartbeat every 30 s when set */
	const struct sf_clock *clock; /* times steps, progress and heartbeats; NULL: monotonic */
};

struct sf_apply_result {
	int added, changed, destroyed;
	int kept;                   /* replaced objects kept for reuse (not in destroyed) */
	int failed, skipped;
	int interrupted;
	double seconds;
};

/* Returns 0 if every operation succeeded, SF_EINTR if interrupted, else
 * the first failure's code (err holds a summary: "2 operations failed"). */
int sf_apply(const struct sf_plan *plan, const struct sf_config *cfg, struct sf_state *st,
	     const struct sf_apply_opts *opts, struct sf_apply_result *res, struct sf_err *err);

#endif
