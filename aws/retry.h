/*
 * retry.h - the SDKs' "standard" retry mode: AWS's rules on top of the
 * shared backoff (backoff.h).
 *
 * Why: AWS asks clients to back off the same way everywhere; doing it like
 * the SDKs keeps secfaas a good citizen under throttling and lets one
 * flaky 503 pass unnoticed.  Rules:
 *   - max attempts 3 (AWS_MAX_ATTEMPTS / profile max_attempts);
 *   - rounds: a call that is safe to repeat (a read, a waiter's poll, a
 *     write under a client token: everything not sent with the client's
 *     *_once calls) whose attempts all met a retryable fault starts
 *     again, up to SF_RETRY_ROUNDS rounds of max attempts, each round's
 *     backoff starting over.  The SDKs stop after one round, which is
 *     right for a short script but fails a half-hour apply on three
 *     unlucky replies in a row; the shared paths of the AWS types resend
 *     a call that is not safe to repeat after a look-up the same number
 *     of times (resources/aws_common.h, ax_create and ax_change).  A max attempts
 *     set by the user (variable, profile, or the client's options) is the
 *     whole budget: one round.  The quota below still ends every retry
 *     when faults are everywhere;
 *   - delay before retry i (0-based) = rand[0,1) * min(2^i, 20) seconds
 *     (sf_backoff_delay with SF_AWS_BACKOFF);
 *   - retry on what backoff.h calls retryable (connection errors and
 *     timeouts, HTTP 500/502/503/504, 429) and on the throttling and
 *     transient AWS error codes (awserr.h);
 *   - a retry quota of 500 tokens per client: a retry costs 5 (10 after a
 *     timeout), an empty bucket means no retry, a success refunds the
 *     retry's cost (or 1 when it needed no retry);
 *   - clock skew: RequestTimeTooSkewed & co. take the offset from the
 *     server's Date header and re-sign once.
 * Time, sleeping and randomness go through a struct sf_clock (clock.h) so
 * tests run a 15-minute backoff in microseconds.
 *
 * Calling steps: sf_retry_init(&r, max); per attempt: classify, acquire,
 * sleep sf_backoff_delay(...), then sf_retry_success() on success.
 * struct sf_retry is thread-safe (internal mutex); release with
 * sf_retry_destroy().
 */
#ifndef SF_AWS_RETRY_H
#define SF_AWS_RETRY_H

#include <pthread.h>

#include "backoff.h"
#include "clock.h"
#include "err.h"

#define SF_RETRY_QUOTA 500
#define SF_RETRY_COST 5
#define SF_RETRY_TIMEOUT_COST 10
#define SF_RETRY_CAP_S 20.0
#define SF_RETRY_ROUNDS 3

struct sf_retry {
	pthread_mutex_t mu;
	int tokens;
	int max_attempts; /* per round */
	int rounds;       /* for calls safe to repeat; 1: max_attempts is the whole budget */
	double cap_s;
};

void sf_retry_init(struct sf_retry *r, int max_attempts);
/* Attempts a call may make in all: max_attempts * rounds when it is safe
 * to repeat, max_attempts when not. */
int sf_retry_budget(const struct sf_retry *r, int safe_to_repeat);
void sf_retry_destroy(struct sf_retry *r);

/* What to do after a failed attempt (enum sf_retry_kind). transport_rc is
 * the transport's return (0 when an HTTP status arrived); aws_code/message
 * may be NULL.  AWS codes first, then the shared HTTP rules. */
int sf_retry_classify(int transport_rc, int timed_out, long status, const char *aws_code, const char *message);

/* Take quota for a retry of `kind`: returns the cost (> 0), or 0 when the
 * bucket is empty (do not retry). */
int sf_retry_acquire(struct sf_retry *r, int kind);
/* After a successful attempt: refund `cost` (the last acquire), or 1 when 0. */
void sf_retry_success(struct sf_retry *r, int cost);
int sf_retry_tokens(struct sf_retry *r);

/* The backoff of standard mode for this quota's attempts (base 1 s, cap 20 s). */
struct sf_backoff sf_retry_backoff(const struct sf_retry *r);

/* Max attempts from AWS_MAX_ATTEMPTS / AWS_RETRY_MODE values (either may be
 * NULL): 3 by default, legacy mode 5. SF_EINVAL for junk.  *rounds
 * (may be NULL): SF_RETRY_ROUNDS when neither is set, else 1. */
int sf_retry_parse_settings(const char *max_attempts, const char *mode, int *out, int *rounds, struct sf_err *err);

#endif
