/*
 * http.h - the one way aws/ puts bytes on the wire.
 *
 * Why: every AWS call (and every credential fetch from IMDS or a container
 * endpoint) goes through a `struct sf_http`, a tiny vtable with one `send`
 * operation.  Production uses libcurl with a pool of reusable easy handles
 * (keep-alive across calls and threads); unit tests plug in a replayer
 * (aws/replay.h) or their own ops, so nothing in aws/ needs a network.
 *
 * TLS verification is always on.  There is deliberately no option to turn it
 * off; a private CA is given with `ca_bundle` (AWS_CA_BUNDLE or the profile's
 * ca_bundle, resolved by the caller).  Proxies come from the usual variables
 * as libcurl honours them (https_proxy, no_proxy...).
 *
 * Calling steps:
 *   1. struct sf_http *h; sf_http_curl_new(&h, err);        (or a test transport)
 *   2. struct sf_hdrs hd = SF_HDRS_INIT; sf_hdrs_add(&hd, "Host", "...");
 *   3. struct sf_http_req rq = {.method="POST", .url=..., .headers=&hd, ...};
 *      struct sf_http_resp rs = SF_HTTP_RESP_INIT;
 *      sf_http_send(h, &rq, &rs, err);
 *   4. sf_http_resp_release(&rs); sf_hdrs_release(&hd); sf_http_free(h);
 *
 * Ownership: the request is borrowed for the duration of send.  The response
 * owns its headers and body; release it with sf_http_resp_release().  A
 * struct sf_http is owned by whoever created it and is safe to use from
 * several threads at once (the curl pool is mutex-protected).
 *
 * Failures: send returns 0 whenever an HTTP status was received (any status,
 * 4xx/5xx included: interpreting it is the protocol layer's job).  It returns
 * SF_ETRANSIENT for connection failures, resets and timeouts (resp->timed_out
 * set for timeouts), SF_EPROTO for a reply larger than the body cap, and
 * SF_EINVAL for a bad URL or CA bundle.
 */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include <stddef.h>

#include "err.h"
#include "util.h"

/* Ordered list of header name/value pairs; names compare case-insensitively. */
struct sf_hdr {
	char *name;
	char *value;
};
struct sf_hdrs {
	struct sf_hdr *v;
	size_t n, alloc;
};
#define SF_HDRS_INIT {NULL, 0, 0}

void sf_hdrs_add(struct sf_hdrs *h, const char *name, const char *value);  /* append (copies) */
void sf_hdrs_set(struct sf_hdrs *h, const char *name, const char *value);  /* replace all, or append */
void sf_hdrs_del(struct sf_hdrs *h, const char *name);
const char *sf_hdrs_get(const struct sf_hdrs *h, const char *name);        /* first match; borrowed */
void sf_hdrs_release(struct sf_hdrs *h);

struct sf_http_req {
	const char *method;          /* "GET", "POST", "PUT", "DELETE" */
	const char *url;             /* full URL, path and query already encoded */
	const struct sf_hdrs *headers;
	const char *body;            /* may be NULL */
	size_t body_len;
	double connect_timeout_s;    /* 0: 10 s */
	double timeout_s;            /* total; 0: 60 s */
	const char *ca_bundle;       /* PEM file for a private CA; NULL: system store */
	size_t max_body;             /* reply cap; 0: 32 MiB */
};

struct sf_http_resp {
	long status;
	struct sf_hdrs headers;      /* reply headers (last response after redirects: none followed) */
	struct sf_buf body;
	int timed_out;               /* set with SF_ETRANSIENT */
};
#define SF_HTTP_RESP_INIT {0, SF_HDRS_INIT, SF_BUF_INIT, 0}
void sf_http_resp_release(struct sf_http_resp *r);
void sf_http_resp_reset(struct sf_http_resp *r); /* release and re-init */

struct sf_http_ops {
	int (*send)(void *ctx, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err);
	void (*destroy)(void *ctx); /* may be NULL */
};

struct sf_http {
	const struct sf_http_ops *ops;
	void *ctx;
};

/* libcurl transport with a keep-alive handle pool. */
int sf_http_curl_new(struct sf_http **out, struct sf_err *err);
/* Wrap custom ops (tests). ctx is destroyed with ops->destroy by sf_http_free. */
struct sf_http *sf_http_wrap(const struct sf_http_ops *ops, void *ctx);
int sf_http_send(struct sf_http *h, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err);
void sf_http_free(struct sf_http *h);

/* Percent-encode per RFC 3986 unreserved set (A-Za-z0-9-._~); also keeps '/'
 * when keep_slash. Upper-case hex. Appends to b. */
void sf_uri_encode(struct sf_buf *b, const char *s, size_t n, int keep_slash);
/* Decode %XX (and nothing else); owned result. Invalid escapes kept as-is. */
char *sf_uri_decode(const char *s, size_t n);

#endif
