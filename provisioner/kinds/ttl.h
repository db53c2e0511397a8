/*
 * ttl.h - expiry times for ephemeral clusters (metadata.ttl, --ttl).
 *
 * Why: a test cluster must not outlive its test.  apply turns the TTL into
 * an absolute RFC 3339 UTC time once ("expires-at"), records it in state and
 * tags every AWS object with it (secfaas:expires-at); `gc` later compares
 * that time with the clock.  Only the absolute time is stored, so re-running
 * apply does not silently extend a cluster's life unless the caller asks
 * for a new expiry.
 *
 * Calling steps:
 *   apply:  char at[32]; if (sf_ttl_expiry(ttl, sf_now(), at, sizeof at, &err) < 0) ...
 *           or sf_ttl_from_doc(doc, sf_now(), at, sizeof at, &err) for metadata.ttl
 *   gc:     switch (sf_ttl_expired(at, now)) { 1: destroy; 0: keep; -1: report bad tag }
 *
 * Times are seconds since the epoch (double, as sf_now()); callers inject
 * `now` so tests and the local AWS's clock can drive expiry.  No allocation.
 */
#ifndef SF_TTL_H
#define SF_TTL_H

#include <stddef.h>

#include "err.h"
#include "provisioner/spec/spec.h"

/* Longest accepted TTL: one year.  Longer is almost surely a typo (4000h?). */
#define SF_TTL_MAX_SECONDS (366.0 * 86400.0)

/* Parse a TTL ("90m", "4h", "1h30m", "2d"); must be > 0 and at most
 * SF_TTL_MAX_SECONDS.  0 and *secs set, or SF_EINVAL with err. */
int sf_ttl_parse(const char *ttl, double *secs, struct sf_err *err);

/* Expiry of ttl counted from now, as RFC 3339 UTC ("2026-05-02T14:14:07Z",
 * whole seconds, rounded up so the cluster never expires early) into out
 * (>= 21 bytes).  0, or SF_EINVAL with err (bad ttl, small buffer). */
int sf_ttl_expiry(const char *ttl, double now, char *out, size_t n, struct sf_err *err);

/* metadata.ttl of a spec document: 1 and out filled when set, 0 when the
 * document has no ttl (out = ""), SF_EINVAL with err (and err->where set to
 * file:line:col) when it is malformed. */
int sf_ttl_from_doc(const struct sf_doc *doc, double now, char *out, size_t n, struct sf_err *err);

/* 1 when now is at or past expires_at, 0 when not yet, -1 when expires_at
 * is NULL or not an RFC 3339 time (gc must report it, not guess). */
int sf_ttl_expired(const char *expires_at, double now);

/* Seconds left until expires_at (negative once past): 0, or -1 if
 * unparseable.  For "expires in 3h12m" / "expired 5m ago" messages. */
int sf_ttl_remaining(const char *expires_at, double now, double *out);

#endif
