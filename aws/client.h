/*
 * client.h - the public entry point to AWS: one client, four protocols.
 *
 * Why: resource types describe calls as data — service,
 * operation, a JSON object of parameters — and get JSON back, whatever the
 * wire protocol.  Adding an operation needs no new C code.  The client
 * bundles what every call needs: config/profile, region, endpoint
 * resolution, the credential chain, the transport, SigV4, standard-mode
 * retries with a shared quota (and, for calls safe to repeat, more rounds
 * of them: aws/retry.h), clock-skew correction and debug logging
 * (SECFAAS_LOG=debug: service, operation, status, attempt, latency, request
 * id; never keys, tokens or signatures).
 *
 * Calling steps:
 *   struct sf_aws_opts o = SF_AWS_OPTS_INIT; o.region = cli->region; o.profile = cli->profile;
 *   struct sf_aws *c; if (sf_aws_new(&c, &o, &err) < 0) ...
 *   json_t *out; sf_aws_query(c, "ec2", "DescribeVpcs", params, &out, &err); ... json_decref(out);
 *   sf_aws_free(c);
 *
 * Ownership: parameters are borrowed; every `json_t **out` is a new
 * reference the caller decrefs (NULL on failure).  Options' pointers
 * (http, clock, config) are borrowed and must outlive the client.
 * Thread safety: a client may be used by many threads at once.
 *
 * Errors: one struct sf_err for every protocol: err->code (SF_ENOTFOUND,
 * SF_ETHROTTLED, SF_ECONFLICT, SF_EAUTH, SF_ETRANSIENT, SF_EPROTO, SF_EINVAL,
 * SF_ERROR), err->http_status, err->aws_code, err->request_id, err->msg
 * "<service> <Operation>: <Code>: <message>" and err->hint.
 *
 * Idempotency: pass the state journal's token in the parameters yourself
 * (EC2 "ClientToken", EKS "clientRequestToken"); sf_aws_idempotency_token()
 * derives a stable one from a key so a resumed apply deduplicates.
 */
#ifndef SF_AWS_CLIENT_H
#define SF_AWS_CLIENT_H

#include <jansson.h>

#include "aws/config.h"
#include "aws/creds.h"
#include "http.h"
#include "aws/retry.h"
#include "aws/waiter.h"
#include "err.h"

struct sf_aws;

struct sf_aws_opts {
	const char *region;                /* --region override; NULL: env/profile */
	const char *profile;               /* --profile; NULL: AWS_PROFILE/default */
	struct sf_http *http;              /* NULL: libcurl pool (owned by the client) */
	const struct sf_clock *clock;  /* NULL: system clock */
	struct sf_aws_config *config;      /* NULL: load the shared files */
	int max_attempts;                  /* 0: AWS_MAX_ATTEMPTS / profile / 3 (x SF_RETRY_ROUNDS); set: the whole budget */
	double timeout_s;                  /* per attempt; 0: 60 */
	double connect_timeout_s;          /* 0: 10 */
	struct sf_creds_share *creds_share; /* NULL: none (aws/creds.h) */
};
#define SF_AWS_OPTS_INIT {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL}

int sf_aws_new(struct sf_aws **out, const struct sf_aws_opts *opts, struct sf_err *err);
void sf_aws_free(struct sf_aws *c);

const char *sf_aws_region(const struct sf_aws *c);
const char *sf_aws_partition_of(const struct sf_aws *c);
struct sf_retry *sf_aws_retry_state(struct sf_aws *c);
/* The client's clock (opts.clock or the system's); borrowed. */
const struct sf_clock *sf_aws_clock(const struct sf_aws *c);
/* The server's clock: the Date header of the last reply this client got
 * (unix seconds, 1 s resolution), 0 before any reply.  `gc` takes "now"
 * from it (after a signed STS GetCallerIdentity) so expiry follows the
 * service's clock, not a skewed local one. */
double sf_aws_server_date(struct sf_aws *c);

/* Query protocol (ec2, iam, sts, elasticloadbalancing). params: JSON object
 * with wire member names (see query.h for flattening). */
int sf_aws_query(struct sf_aws *c, const char *service, const char *action, const json_t *params, json_t **out,
		 struct sf_err *err);

/* The same for a call that must not be repeated blindly: a create with
 * no client token, an attach, detach, associate or disassociate, whose
 * retry would make a second object or read "not found" / "already
 * associated" for what the first attempt did.  It is retried only after
 * answers that say AWS did not act (throttling, 4xx).  After a failure
 * whose outcome is unknown (timeout, reset, truncated or unparsable reply,
 * 5xx) it returns that error with *unknown = 1, so the caller can look at
 * what is there before trying again (resources/aws_common.c does). */
int sf_aws_query_once(struct sf_aws *c, const char *service, const char *action, const json_t *params, json_t **out,
		      int *unknown, struct sf_err *err);

/* rest-json (eks). path has labels already encoded (sf_aws_label), query
 * without '?' (may be NULL), body may be NULL (no body for GET/DELETE). */
int sf_aws_rest_json(struct sf_aws *c, const char *service, const char *method, const char *path,
		     const char *query, const json_t *body, json_t **out, struct sf_err *err);

/* rest-json, not repeated blindly (see sf_aws_query_once). */
int sf_aws_rest_json_once(struct sf_aws *c, const char *service, const char *method, const char *path,
			  const char *query, const json_t *body, json_t **out, int *unknown, struct sf_err *err);

/* json 1.1 (ssm): target "AmazonSSM.GetParameter". */
int sf_aws_json(struct sf_aws *c, const char *service, const char *target, const json_t *body, json_t **out,
		struct sf_err *err);

/* Percent-encode a URI label (ARNs: ':' -> %3A, '/' -> %2F). Owned. */
char *sf_aws_label(const char *s);

/* Pagination: call fn for every page, following the service's token
 * (EC2 NextToken/nextToken, IAM Marker/IsTruncated, ELBv2 Marker/NextMarker,
 * EKS nextToken, SSM NextToken). fn returning < 0 stops with that code.
 * Capped at 1000 pages. */
typedef int (*sf_aws_page_fn)(void *ctx, const json_t *page, struct sf_err *err);
int sf_aws_query_pages(struct sf_aws *c, const char *service, const char *action, const json_t *params,
		       sf_aws_page_fn fn, void *ctx, struct sf_err *err);
int sf_aws_rest_json_pages(struct sf_aws *c, const char *service, const char *path, const char *query,
			   sf_aws_page_fn fn, void *ctx, struct sf_err *err);
int sf_aws_json_pages(struct sf_aws *c, const char *service, const char *target, const json_t *body,
		      sf_aws_page_fn fn, void *ctx, struct sf_err *err);
/* Convenience: concatenate the list at `list_key` of every page into *out. */
int sf_aws_query_all(struct sf_aws *c, const char *service, const char *action, const json_t *params,
		     const char *list_key, json_t **out, struct sf_err *err);

struct sf_aws_identity {
	char account[32];
	char arn[512];
	char user_id[256];
	char source[160]; /* credential source, see creds.h */
	char region[32];
};
int sf_aws_whoami(struct sf_aws *c, struct sf_aws_identity *out, struct sf_err *err);

/* Current credentials (copy; release with sf_aws_creds_release). */
int sf_aws_credentials(struct sf_aws *c, struct sf_aws_creds *out, struct sf_err *err);

/* EKS bearer token: k8s-aws-v1.<base64url(presigned STS GetCallerIdentity)>.
 * role_arn (optional) is assumed first. *token owned; *expires = now + 14 min. */
int sf_eks_token(struct sf_aws *c, const char *cluster, const char *role_arn, char **token, double *expires,
		 struct sf_err *err);
/* sf_eks_token with the client as an untyped context: the shape of a
 * Kubernetes token source (kube/kube.h), so whoever holds both clients can
 * wire them without kube/ depending on aws/. */
int sf_eks_mint(void *aws, const char *cluster, const char *role_arn, char **token, double *expires,
		struct sf_err *err);
/* ExecCredential JSON (owned) for the token; api_version NULL: v1beta1. */
char *sf_eks_exec_credential(const char *token, double expires, const char *api_version);

/* Stable idempotency token (UUID-shaped, 36 chars) from a key such as the
 * journal's intent id: same key, same token. out >= 37 bytes. */
void sf_aws_idempotency_token(char out[37], const char *key);

#endif
