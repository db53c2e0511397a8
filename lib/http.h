/*
 * http.h - the one way secfaas puts bytes on the wire.
 *
 * Why: every AWS call, every credential fetch from IMDS or a container
 * endpoint and every Kubernetes API request goes through a `struct sf_http`,
 * a tiny vtable with one `send` operation.  Production uses libcurl with a
 * pool of reusable easy handles (keep-alive, TLS sessions and DNS kept
 * across calls; a thread takes an idle handle or makes one, so each busy
 * thread has its own); unit tests plug in a replayer (aws/replay.h) or
 * their own ops, so nothing above needs a network.  Protocols (SigV4 and
 * the AWS wire formats, bearer tokens and Status objects) live above.
 *
 * TLS verification is always on.  There is deliberately no option to turn
 * it off; a private CA is given per request, as a PEM file (`ca_file`, e.g.
 * AWS_CA_BUNDLE) or in memory (`ca_pem`, e.g. a cluster's CA data).
 * Proxies come from the usual variables as libcurl honours them
 * (https_proxy, no_proxy...).
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
 * 4xx/5xx included: interpreting it is the protocol layer's job).  Otherwise
 * sf_http_fail() (the only place a failed exchange becomes an error, for
 * every transport) fills err with one line naming the endpoint:
 *   SF_ETRANSIENT  refused/unreachable, reset or cut short, TLS handshake
 *                  failure, timeout (resp->timed_out set; resp->unsent when
 *                  no connection was made): retryable
 *                  (backoff.h);
 *   SF_EPROTO      a reply larger than the body cap;
 *   SF_ERROR       the server's TLS certificate is not trusted for its name;
 *   SF_EINVAL      a bad URL or an unreadable CA bundle;
 *   SF_EINTR       the request's cancel flag was set.
 * Messages show the endpoint's scheme, host and port, never the path or
 * query (which may carry presigned tokens).
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

#define SF_HTTP_MAX_BODY (32u << 20) /* default reply cap */

struct sf_http_req {
	const char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;             /* full URL, path and query already encoded */
	const struct sf_hdrs *headers;
	const char *body;            /* may be NULL */
	size_t body_len;
	double connect_timeout_s;    /* 0: 10 s */
	double timeout_s;            /* total; 0: 60 s */
	const char *ca_file;         /* PEM file of a private CA; NULL: system store */
	const char *ca_pem;          /* or the PEM itself (ca_pem_len bytes); wins over ca_file */
	size_t ca_pem_len;
	const char *ca_hint;         /* where the user configures the CA, for the hint of
					a trust failure ("AWS_CA_BUNDLE ..."); may be NULL */
	size_t max_body;             /* reply cap; 0: 32 MiB */
	volatile int *cancel;        /* non-zero aborts the exchange (SF_EINTR); may be NULL */
};

struct sf_http_resp {
	long status;
	struct sf_hdrs headers;      /* reply headers (last response after redirects: none followed) */
	struct sf_buf body;
	int timed_out;               /* set with SF_ETRANSIENT */
	int unsent;                  /* set with SF_ETRANSIENT when no connection was made: nothing was sent */
};
#define SF_HTTP_RESP_INIT {0, SF_HDRS_INIT, SF_BUF_INIT, 0, 0}
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

/* libcurl transport with a keep-alive handle pool.  The first call loads
 * libcurl (lib/dl.h): SF_ENOTFOUND, naming the package, when it is missing. */
int sf_http_curl_new(struct sf_http **out, struct sf_err *err);
/* libcurl's version ("8.1.2"), loading it; "unavailable" when it cannot be. */
const char *sf_http_curl_version(void);
/* At exit: libcurl's global cleanup, if a transport was ever made. */
void sf_http_shutdown(void);
/* Wrap custom ops (tests). ctx is destroyed with ops->destroy by sf_http_free. */
struct sf_http *sf_http_wrap(const struct sf_http_ops *ops, void *ctx);
int sf_http_send(struct sf_http *h, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err);
void sf_http_free(struct sf_http *h);

/* Why an exchange produced no HTTP status. */
enum sf_http_failure {
	SF_HTTP_CONNECT = 1, /* refused, unreachable, name not resolved: nothing was sent */
	SF_HTTP_TIMEOUT,     /* connect or total timeout: the request may have been applied */
	SF_HTTP_DROPPED,     /* reset, closed early, body cut short: it may have been applied */
	SF_HTTP_TLS,         /* TLS handshake failed (not a trust decision) */
	SF_HTTP_UNTRUSTED,   /* the certificate is not trusted, or not for this host */
	SF_HTTP_BAD_CA,      /* the CA bundle cannot be read */
	SF_HTTP_BAD_URL,     /* malformed URL or unsupported scheme */
	SF_HTTP_TOO_LARGE,   /* reply over req->max_body */
	SF_HTTP_CANCELLED,   /* req->cancel was set */
	SF_HTTP_OTHER,       /* anything else the library reports: treated as transient */
};
/* The error for failure f of req: code, one-line message naming the
 * endpoint, a hint; detail is the library's own words (may be NULL).
 * Sets resp->timed_out for SF_HTTP_TIMEOUT, resp->unsent for
 * SF_HTTP_CONNECT.  Returns the code.  Every
 * transport (libcurl, replay, test doubles) reports through this. */
int sf_http_fail(struct sf_err *err, enum sf_http_failure f, const struct sf_http_req *req,
		 struct sf_http_resp *resp, const char *detail);

/* Server time from an HTTP Date header ("Sat, 01 Mar 2025 10:15:00 GMT");
 * 0 and *out set, or -1. */
int sf_http_date_parse(const char *s, double *out);

/* Percent-encode per RFC 3986 unreserved set (A-Za-z0-9-._~); also keeps '/'
 * when keep_slash. Upper-case hex. Appends to b. */
void sf_uri_encode(struct sf_buf *b, const char *s, size_t n, int keep_slash);
/* Decode %XX (and nothing else); owned result. Invalid escapes kept as-is. */
char *sf_uri_decode(const char *s, size_t n);

#endif
