/*
 * waiter.h - poll until a resource reaches a state, like the SDK waiters.
 *
 * Why: EKS clusters take ~10 minutes, nodegroups ~5, AMIs up to 15; every
 * resource type needs the same loop with the official delays, an overall
 * deadline, a progress line for the CLI and Ctrl-C.  The loop is generic
 * (sf_wait with a poll callback); the named waiters of the official
 * waiters-2.json files are rows in a table (sf_aws_waiter_find), run by
 * sf_aws_wait in client.h.
 *
 * A poll yields a list of status strings (one per resource, e.g. every
 * instance's state) or reports "not found".  Acceptors: success when all
 * statuses are in `success` (or not found and notfound_success); failure
 * when any status is in `failure`; otherwise sleep `delay_s` and poll again,
 * up to max_attempts polls or the deadline, whichever is first.
 *
 * Calling steps:
 *   struct sf_wait_opts o = SF_WAIT_OPTS_INIT; o.timeout_s = 1800;
 *   sf_wait(def, my_poll, ctx, &o, &last, err);   free(last);
 *
 * Time goes through o.clock (tests inject a fake one; nothing really
 * sleeps).  Errors: SF_ETIMEOUT (deadline/attempts), SF_EINTR (cancel flag
 * set), SF_ERROR for a failure state (message names it), or the poll's own
 * error (a NotFound that is not an acceptor, AccessDenied ...).
 */
#ifndef SF_AWS_WAITER_H
#define SF_AWS_WAITER_H

#include <jansson.h>
#include <signal.h>

#include "aws/retry.h"
#include "err.h"

struct sf_waiter_def {
	const char *name;          /* "eks.ClusterActive" */
	const char *service;       /* "eks", "ec2" */
	const char *operation;     /* "DescribeCluster" */
	const char *path;          /* rest-json: "/clusters/{name}" ({x} from args, encoded); NULL for query */
	const char *status_path;   /* "cluster.status", "reservationSet[].instancesSet[].instanceState.name" */
	double delay_s;
	int max_attempts;
	const char *success[4];
	const char *failure[5];
	int notfound_success;      /* deleted waiters */
	int notfound_retry;        /* eventual consistency right after a create */
};

/* Named waiter or NULL. */
const struct sf_waiter_def *sf_aws_waiter_find(const char *name);

struct sf_wait_opts {
	double timeout_s;          /* overall deadline; 0: delay_s * max_attempts */
	void (*progress)(void *ctx, const char *waiter, const char *status, int attempt, double elapsed_s);
	void *progress_ctx;
	volatile sig_atomic_t *cancel;
	const struct sf_clock *clock; /* NULL: system */
};
#define SF_WAIT_OPTS_INIT {0, NULL, NULL, NULL, NULL}

/* poll: fill *statuses with a new JSON array of strings and return 0, or
 * return SF_ENOTFOUND when the resource does not exist, or another error. */
typedef int (*sf_wait_poll_fn)(void *ctx, json_t **statuses, struct sf_err *err);

/* *last_status (optional, owned) receives the last status seen, "" if none. */
int sf_wait(const struct sf_waiter_def *def, sf_wait_poll_fn poll, void *ctx, const struct sf_wait_opts *o,
	    char **last_status, struct sf_err *err);

/* Collect the strings at `path` in doc ("a.b[].c": [] walks an array) into a
 * new JSON array. */
json_t *sf_json_path_strings(const json_t *doc, const char *path);

#endif
