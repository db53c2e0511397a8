/*
 * waiter.h - named AWS waiters: poll a Describe call until a resource
 * reaches a state, like the SDK waiters.
 *
 * Why: EKS clusters take ~10 minutes, node groups ~5, AMIs up to 15, and
 * every resource type waits for something.  What a wait polls and how it
 * decides is data, a `struct sf_waiter_def` row: the call (service,
 * operation, rest-json path and query, or query parameters), where the
 * status is in the reply, which statuses mean success or failure, what a
 * missing object means, the delay between polls and how many polls, and
 * how to word a failure.  The official rows of waiters-2.json (and a few
 * of secfaas's own) are in one table looked up by name; a resource type
 * with its own semantics keeps its rows next to its code.  The loop
 * itself (deadline, progress, cancellation, the clock) is the shared one
 * of wait.h; sf_aws_wait() runs a row on it with the SDK's defaults, and
 * the resource types run rows with their own deadlines and messages
 * (resources/aws_common.h, ax_wait).
 *
 * Acceptors, per poll: the statuses are every string at status_path ("a.b"
 * follows members, "a[].b" walks an array).  Success when there is at
 * least one and all are in `success`; failure when any is in `failure`;
 * otherwise keep waiting.  A NotFound error (or, with empty_is_notfound,
 * a reply without any status) is success with notfound_success, more
 * waiting with notfound_retry, else an error.
 *
 * Templates (path, query, failure_msg, notfound_msg) name arguments in
 * braces: "{name}" is args["name"] (a string, or the first string of an
 * array, so {"ImageId":["ami-1"]} gives "ami-1"); messages may also use
 * {status} and {detail} (detail_path in the reply, as compact JSON).  In
 * path and query the values are percent-encoded.
 *
 * Calling steps:
 *   struct sf_wait_opts o = SF_WAIT_OPTS_INIT; o.timeout_s = 1800;
 *   sf_aws_wait(c, "eks.ClusterActive", args, &o, &last, err);   json_decref(last);
 *
 * Errors: SF_ETIMEOUT (deadline/attempts), SF_EINTR (cancel flag set),
 * SF_ERROR for a failure state, SF_ENOTFOUND for a missing object, or the
 * call's own error (AccessDenied ...).
 */
#ifndef SF_AWS_WAITER_H
#define SF_AWS_WAITER_H

#include <jansson.h>
#include <signal.h>

#include "clock.h"
#include "err.h"

struct sf_aws;
struct sf_waiter_def;

/* Seconds to pause after poll number `attempt`, elapsed_s into the wait
 * (both in the official time scale). */
typedef double (*sf_waiter_delay_fn)(const struct sf_waiter_def *def, int attempt, double elapsed_s);

struct sf_waiter_def {
	const char *name;          /* "eks.ClusterActive" */
	const char *service;       /* "eks", "ec2" */
	const char *operation;     /* "DescribeCluster" */
	const char *path;          /* rest-json: "/clusters/{name}"; NULL: query protocol, args are the parameters */
	const char *query;         /* rest-json query template ("nodegroupName={nodegroupName}"); may be NULL */
	const char *status_path;   /* "cluster.status", "reservationSet[].instancesSet[].instanceState.name" */
	double delay_s;            /* between polls */
	sf_waiter_delay_fn delay;  /* NULL: delay_s; else a strategy (e.g. poll faster near the usual end) */
	int max_attempts;          /* sf_aws_wait's default deadline is delay_s * max_attempts */
	const char *success[4];
	const char *failure[5];
	int notfound_success;      /* deleted waiters */
	int notfound_retry;        /* eventual consistency right after a create */
	int empty_is_notfound;     /* a reply without any status means the object is gone */
	const char *failure_msg;   /* "cluster {name} is {status}"; NULL: "reached failure state {status}" */
	const char *detail_path;   /* reply member given to failure_msg as {detail}; may be NULL */
	const char *notfound_msg;  /* with empty_is_notfound and no acceptor: "{VpcId} not found" */
	const char *label;         /* progress lines show "<label> <status>"; may be NULL */
	/* AWS's usual duration of the transition, official seconds: it
	 * usually ends between typical_lo and typical_hi after the call that
	 * started it.  0: unknown (every pause is delay_s).  See
	 * sf_waiter_pause. */
	double typical_lo, typical_hi;
	/* The name this wait's own history is kept under, for a row that
	 * is one of several waits of one step (the AMI bake: its builder's
	 * run, then its image), where the step's history would mix them;
	 * NULL: the step's history.  See ax_wait (resources/aws_common.h). */
	const char *part;
};

/* The pause after a poll elapsed_s into a wait (official seconds) whose end
 * is expected between lo and hi (the workspace's own history, else the
 * row's typical_lo..typical_hi; hi <= lo: delay_s throughout).  Polls go
 * where the end is: before lo, as few as keep a failure from going unseen
 * for more than SF_WAITER_QUIET_S, evenly spaced, the last landing on lo (a
 * wait that begins with a cluster's create polls at 4 and 8 minutes; one
 * that begins with a node group's, at its usual start only); between lo and hi,
 * one every delay_s / 3 (at least 5 s, at most delay_s), so the wait ends
 * at most that long after AWS is done; after hi, the official delay_s again (the usual figure
 * did not hold: no faster than the SDK).  For an end spread evenly over the
 * window this makes fewer calls than the official cadence, moved
 * from where nothing happens to where the end is; each wait stays far
 * below the services' request rates (one call in 10 s at most for EKS). */
double sf_waiter_pause(const struct sf_waiter_def *def, double lo, double hi, double elapsed_s);
/* The longest quiet stretch before a transition's usual start, official
 * seconds: a transition that fails early (a node group's CREATE_FAILED, a
 * builder that stops at once) is seen at most this late. */
#define SF_WAITER_QUIET_S 300.0

/* 1 when a poll `at` official seconds into a wait falls in its usual
 * end's window [lo, hi): the polls a grid may move (resources/aws_common.c,
 * ax_pause).  The pause sf_waiter_pause computes to land on lo counts,
 * though its sum may come out a hair before lo in floating point. */
int sf_waiter_in_window(double at, double lo, double hi);

/* The spacing of the polls sf_waiter_pause places between lo and hi,
 * official seconds: delay_s / 3, at least 5 s, at most delay_s. */
double sf_waiter_fine_step(const struct sf_waiter_def *def);

/* Named row of the table, or NULL. */
const struct sf_waiter_def *sf_aws_waiter_find(const char *name);

struct sf_wait_opts {
	double timeout_s;          /* overall deadline; 0: delay_s * max_attempts */
	void (*progress)(void *ctx, const char *waiter, const char *status, int attempt, double elapsed_s);
	void *progress_ctx;
	volatile sig_atomic_t *cancel;
	const struct sf_clock *clock; /* NULL: the client's */
};
#define SF_WAIT_OPTS_INIT {0, NULL, NULL, NULL, NULL}

/* Run the named waiter on the shared loop with the SDK's defaults.  args:
 * labels of the path and query ({"name":"prod"}) or the query parameters
 * ({"InstanceId":["i-1"]}); borrowed.  *last (optional) is the final reply
 * (new reference, NULL when none). */
int sf_aws_wait(struct sf_aws *c, const char *waiter, const json_t *args, const struct sf_wait_opts *o,
		json_t **last, struct sf_err *err);

enum sf_waiter_verdict { SF_WAITER_PENDING = 0, SF_WAITER_SUCCESS, SF_WAITER_FAILURE };
/* One poll of def: the call, then the acceptors.  Returns 0 and *verdict;
 * for SF_WAITER_FAILURE err says why (a failure state: SF_ERROR with the
 * expanded failure_msg; a reply without the object: SF_ENOTFOUND with
 * notfound_msg) without naming the waiter, so each caller prefixes its own
 * subject.  status (n bytes) gets the last status seen ("not found" for a
 * missing object, "" for none).  *doc (optional) takes the reply.  A
 * negative return is the call's own error as the client filled it (a
 * NotFound that is not an acceptor, AccessDenied ...). */
int sf_aws_waiter_poll(struct sf_aws *c, const struct sf_waiter_def *def, const json_t *args, int *verdict,
		       char *status, size_t n, json_t **doc, struct sf_err *err);

/* The acceptors of def on one call's outcome (sf_aws_waiter_poll is the
 * call, then this): rc the call's return, cerr its error (read when rc < 0),
 * reply its answer (stolen; may be NULL).  Returns as sf_aws_waiter_poll.
 * For a caller that made the call its own way (aws/pollshare.h: one call
 * for several waits). */
int sf_aws_waiter_judge(const struct sf_waiter_def *def, const json_t *args, int rc, const struct sf_err *cerr,
			json_t *reply, int *verdict, char *status, size_t n, json_t **doc, struct sf_err *err);

/* Collect the strings at `path` in doc ("a.b[].c": [] walks an array) into a
 * new JSON array. */
json_t *sf_json_path_strings(const json_t *doc, const char *path);

#endif
