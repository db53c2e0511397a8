/*
 * backoff.h - which failed HTTP exchanges deserve another try, and how long
 * to wait before it.
 *
 * Why: the AWS client and the Kubernetes client both retry, and they must
 * agree on what is worth retrying and back off the same way.  A refused or
 * reset connection, a timeout, HTTP 429 and 500/502/503/504 are; a TLS
 * certificate that is not trusted, a reply over the size cap or a 4xx are
 * not.  Delays use "full jitter" (a uniform draw below an exponentially
 * growing cap), so many clients that failed together do not retry together.
 * What is specific to a service sits on top: AWS adds its error codes, the
 * retry quota and clock-skew correction (aws/retry.h); Kubernetes adds
 * Retry-After and one fresh token after a 401 (kube/client.c).
 *
 * Calling steps, after a failed attempt number `attempt` (1-based):
 *   int kind = sf_retry_classify_http(rc, resp.timed_out, resp.status);
 *   if (kind == SF_RETRY_NO || attempt >= b.max_attempts) give up;
 *   clk->sleep(clk->ctx, sf_backoff_delay(&b, attempt - 1, clk->rand01(clk->ctx)));
 *
 * Everything here is pure; sleeping goes through the caller's clock
 * (clock.h).
 */
#ifndef SF_BACKOFF_H
#define SF_BACKOFF_H

enum sf_retry_kind {
	SF_RETRY_NO = 0,    /* final: report the error */
	SF_RETRY_TRANSIENT, /* connection failure, 5xx, truncated reply */
	SF_RETRY_THROTTLE,  /* the service asked us to slow down (429, throttling codes) */
	SF_RETRY_TIMEOUT,   /* no reply in time: the request may have been applied */
	SF_RETRY_SKEW,      /* AWS only: our clock is off; re-sign and try once more */
};

struct sf_backoff {
	int max_attempts; /* in total, the first one included */
	double base_s;    /* delay before retry i: rand[0,1) * min(base_s * 2^i, cap_s) */
	double cap_s;
};

/* The kind of a failed exchange from the transport's return (sf_http_send:
 * 0 when a status arrived), its timed_out flag and the HTTP status. */
int sf_retry_classify_http(int transport_rc, int timed_out, long status);

/* Delay before retry number i (0 for the first retry) given a uniform
 * draw rand01 in [0,1). */
double sf_backoff_delay(const struct sf_backoff *b, int i, double rand01);

/* A Retry-After header in delay-seconds form, accepted when within
 * [0, max_s]: the seconds, or -1 (absent, an HTTP date, junk or too long). */
double sf_retry_after(const char *value, double max_s);

#endif
