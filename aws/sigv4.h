/*
 * sigv4.h - AWS Signature Version 4, for headers and for presigned URLs.
 *
 * Why separate: signing is pure (no I/O, no clock, no globals), so it is
 * tested byte for byte against AWS's published vectors (tests/aws/sigv4) and
 * reused by the client, the EKS token and the credential chain.  The time is
 * passed in as an amz-date string; the caller owns clock-skew correction.
 *
 * Calling steps (header signing):
 *   1. Fill a struct sf_hdrs with at least Host (and Content-Type,
 *      X-Amz-Target ... as the protocol needs).  Every header in the list is
 *      signed except hop-by-hop ones and User-Agent/Authorization, so put
 *      only what you send.
 *   2. sf_sigv4_sign(&hdrs, "POST", "/", NULL, body, len, &params, NULL);
 *      adds X-Amz-Date (unless present), X-Amz-Security-Token (when
 *      params.session_token is set) and Authorization.
 * Presigning: sf_sigv4_presign() returns the complete query string
 * (original query + X-Amz-* + X-Amz-Signature) to put after '?'.
 *
 * Paths: `path` is the wire path (already percent-encoded where the caller
 * needed it).  Except in S3 mode it is normalized (dot segments, '//') and
 * encoded once more, as AWS expects for every non-S3 service: an EKS label
 * sent as arn%3Aaws is signed as arn%253Aaws.  `query` is the wire query
 * without '?', decoded and re-encoded canonically.
 *
 * Ownership: everything is borrowed; sf_sigv4_debug strings and the presign
 * result are owned by the caller (free()).
 */
#ifndef SF_AWS_SIGV4_H
#define SF_AWS_SIGV4_H

#include <stddef.h>

#include "http.h"

struct sf_sigv4_params {
	const char *service;       /* signing name: "ec2", "sts", "eks" ... */
	const char *region;        /* signing region */
	const char *amz_date;      /* "20150830T123600Z" */
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL for long-term keys */
	int s3;                    /* S3 rules: no normalization, no second encoding */
};

/* Optional intermediate results for tests and debug logs (owned, free()). */
struct sf_sigv4_debug {
	char *creq; /* canonical request */
	char *sts;  /* string to sign */
};
void sf_sigv4_debug_release(struct sf_sigv4_debug *d);

/* Sign in place. Returns 0, or SF_EINVAL if Host is missing or params incomplete. */
int sf_sigv4_sign(struct sf_hdrs *h, const char *method, const char *path, const char *query,
		  const void *body, size_t body_len, const struct sf_sigv4_params *p,
		  struct sf_sigv4_debug *dbg);

/* Presign for `expires` seconds. headers must contain Host; all given headers
 * are signed (e.g. x-k8s-aws-id for the EKS token). Returns an owned query
 * string, or NULL if Host is missing or params are incomplete. */
char *sf_sigv4_presign(const struct sf_hdrs *h, const char *method, const char *path, const char *query,
		       long expires, const struct sf_sigv4_params *p, struct sf_sigv4_debug *dbg);

/* Building blocks, exposed for tests. All return owned strings. */
char *sf_sigv4_canonical_uri(const char *path, int s3);
char *sf_sigv4_canonical_query(const char *query);
/* "20150830T123600Z" from a Unix time; out >= 17 bytes. */
char *sf_sigv4_amz_date(char *out, size_t n, double t);

#endif
