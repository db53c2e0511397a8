/*
 * kube.h - the Kubernetes API client: one connection to one cluster.
 *
 * Why: secfaas configures clusters through the API itself (no kubectl, no
 * helm at run time).  A client knows the endpoint, trusts exactly the
 * cluster CA (given to the shared transport, http.h, with every request;
 * peer and host always verified), and carries a
 * bearer token: a static one (tests against kubesim --token-mode static) or
 * one minted by a token source the caller supplies (for EKS, sf_eks_mint
 * of aws/client.h: kube/ itself knows nothing of AWS), cached until a
 * minute before expiry and refreshed once on a 401.  On top of raw requests
 * it offers what the resource types need: kind → resource discovery with a
 * static fallback table, server-side apply (fieldManager "secfaas"; force
 * only when asked), dry-run, get/list/delete with a propagation policy,
 * merge patches, and the waits (CRD Established, Deployment rollout like
 * `kubectl rollout status`, Namespace Active, object gone, Ready nodes with
 * a label set).  Every API error becomes one line from the Status object.
 *
 * Calling steps:
 *   1. struct sf_kube_conn c = {.endpoint = ..., .ca_b64 = ..., .cluster = ...};
 *      struct sf_kube_token_source ts = {sf_eks_mint, aws};
 *      struct sf_kube *k; sf_kube_new(&k, &c, &ts, &err);      (the source may
 *      be NULL with a static token)
 *   2. sf_kube_apply(k, obj, SF_KUBE_DRYRUN, &out, &err); sf_kube_get(...); ...
 *   3. sf_kube_free(k);
 *
 * Ownership: inputs are borrowed (the conn strings are copied).  Every
 * json_t **out is a new reference the caller decrefs (NULL on failure).
 * Thread safety: a client may be used from several threads at once (token
 * and discovery caches are under a mutex; the transport's keep-alive pool
 * is thread-safe).
 *
 * Errors (struct sf_err): SF_ENOTFOUND (404), SF_ECONFLICT (409, incl. SSA
 * field-manager conflicts, whose fields are listed), SF_EAUTH (401/403 other
 * than admission), SF_EINVAL (400/422, admission denials with their
 * message), SF_ETHROTTLED/SF_ETRANSIENT (429/5xx after retries),
 * SF_ETIMEOUT/SF_EINTR from waits; transport failures (refused, reset,
 * timeout, untrusted certificate) exactly as http.h reports them for every
 * caller.  err->http_status and err->aws_code (the Status reason) are set.
 */
#ifndef SF_KUBE_H
#define SF_KUBE_H

#include <jansson.h>

#include "err.h"
#include "wait.h"

struct sf_clock;
struct sf_http;

/* The in-tree AWS cloud provider's Service annotation for a load balancer
 * inside the VPC (any value but "false" or empty). */
#define SF_KUBE_LB_INTERNAL_ANN "service.beta.kubernetes.io/aws-load-balancer-internal"

struct sf_kube_conn {
	const char *endpoint;     /* "https://host[:port]" */
	const char *ca_b64;       /* base64 of a PEM bundle (EKS certificateAuthority.data) */
	const char *cluster;      /* EKS cluster name, for the token */
	const char *role_arn;     /* optional role to assume for the token */
	const char *token;        /* static bearer token; wins over the EKS token */
	struct sf_http *http;     /* borrowed transport (tests: a double); NULL: own libcurl pool */
	double timeout_s;         /* per attempt; 0: 60 */
	int max_attempts;         /* 0: 5 */
	const struct sf_clock *clock; /* backoff sleeps; NULL: system clock */
};

/* Where bearer tokens come from when the connection has no static one:
 * mint a token for `cluster` (assuming role_arn first when it is set);
 * *token owned (free), *expires in Unix seconds.  ctx is borrowed and must
 * outlive the client. */
struct sf_kube_token_source {
	int (*mint)(void *ctx, const char *cluster, const char *role_arn, char **token, double *expires,
		    struct sf_err *err);
	void *ctx;
};

struct sf_kube;

/* tokens may be NULL when conn->token is set; copied. */
int sf_kube_new(struct sf_kube **out, const struct sf_kube_conn *conn, const struct sf_kube_token_source *tokens,
		struct sf_err *err);
void sf_kube_free(struct sf_kube *k);
const char *sf_kube_endpoint(const struct sf_kube *k);

/* Raw request. path includes the query. body may be NULL. Returns 0 for 2xx
 * with *out the parsed JSON body (JSON null when empty or not JSON), else the
 * mapped error. *status (optional) gets the HTTP status either way.
 * Connection failures, 429 and 500/502/503/504 are retried with the shared
 * backoff (backoff.h; Retry-After honoured up to 30 s) up to max_attempts. */
int sf_kube_request(struct sf_kube *k, const char *method, const char *path, const char *content_type,
		    const char *body, long *status, json_t **out, struct sf_err *err);
/* The same, but hands back the raw body (owned, NUL-terminated) and never
 * maps the status to an error (for proxied non-API replies). */
int sf_kube_request_raw(struct sf_kube *k, const char *method, const char *path, const char *content_type,
			const char *body, long *status, char **out, struct sf_err *err);

/* Discovery: kind → plural and scope. The static table covers what secfaas
 * applies; other kinds are discovered from /api/v1 or /apis/<g>/<v> (cached).
 * SF_ENOTFOUND when the server does not (yet) serve the kind. */
int sf_kube_resource(struct sf_kube *k, const char *api_version, const char *kind, char **plural, int *namespaced,
		     struct sf_err *err);
/* Static table only (no network): 0, or SF_ENOTFOUND. *plural borrowed. */
int sf_kube_static_resource(const char *api_version, const char *kind, const char **plural, int *namespaced);
/* Path of an object or collection (name NULL). Namespaced kinds need ns. */
int sf_kube_path(struct sf_kube *k, const char *api_version, const char *kind, const char *ns, const char *name,
		 char **out, struct sf_err *err);
/* Is this group/version/kind served at all (discovery, uncached)? 1/0. */
int sf_kube_serves(struct sf_kube *k, const char *group_version, const char *kind);

enum sf_kube_flags {
	SF_KUBE_DRYRUN = 1 << 0, /* dryRun=All: admission and validation, nothing persisted */
	SF_KUBE_FORCE = 1 << 1,  /* force=true: take ownership of conflicting fields */
};
/* Server-side apply of one object (needs apiVersion, kind, metadata.name,
 * and metadata.namespace for namespaced kinds; server-owned metadata and
 * status are stripped). Conflicts → SF_ECONFLICT naming the fields and the
 * other manager, with a hint about --force-conflicts. */
int sf_kube_apply(struct sf_kube *k, const json_t *obj, unsigned flags, json_t **out, struct sf_err *err);
/* Force ownership when the user asked for it (SECFAAS_FORCE_CONFLICTS=1). */
int sf_kube_force_conflicts(void);

int sf_kube_get(struct sf_kube *k, const char *api_version, const char *kind, const char *ns, const char *name,
		json_t **out, struct sf_err *err);
/* label_selector may be NULL. *out is the List object. */
int sf_kube_list(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
		 const char *label_selector, json_t **out, struct sf_err *err);
/* propagation: "Background", "Foreground", "Orphan" or NULL. A 404 is success. */
int sf_kube_delete(struct sf_kube *k, const char *api_version, const char *kind, const char *ns, const char *name,
		   const char *propagation, struct sf_err *err);
/* The same, and *gone (when not NULL) says whether the reply shows the
 * object removed: a 404, or a Status of Success (the server removed it at
 * once).  A reply carrying the object itself means it is still there
 * (finalizers or a graceful deletion pending): *gone 0, wait for a 404. */
int sf_kube_delete_gone(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
			const char *name, const char *propagation, int *gone, struct sf_err *err);
/* Delete every object of the array (manifests: apiVersion, kind,
 * metadata.name/namespace), last first, so what a template lists after its
 * dependencies goes before them. Absent objects are fine. */
int sf_kube_delete_objects(struct sf_kube *k, const json_t *objs, struct sf_err *err);
/* application/merge-patch+json; 404 when the object is gone. */
int sf_kube_merge_patch(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
			const char *name, const json_t *patch, json_t **out, struct sf_err *err);

/* Waiting, on the shared loop (wait.h). Polls every interval_s (default
 * 1 s) until done, the timeout (SF_ETIMEOUT, naming what was still
 * missing; no poll is started that would end past it) or *cancel
 * (SF_EINTR, looked at before every poll and while pausing). */
struct sf_kube_wait {
	double timeout_s;         /* 0: 300 */
	double interval_s;        /* 0: 1 */
	double first_interval_s;  /* 0: every pause is interval_s; else the first pause,
				   * doubled after each poll up to interval_s */
	volatile int *cancel;     /* may be NULL */
	void (*progress)(void *ctx, const char *status); /* may be NULL */
	void *ctx;
};
/* The pause after poll number attempt (1-based) of w. */
double sf_kube_pause(const struct sf_kube_wait *w, int attempt);
/* Ready by kind: CRD Established, Deployment and DaemonSet rolled out, Namespace Active,
 * LoadBalancer Service with an ingress; other kinds are ready at once. */
int sf_kube_wait_ready(struct sf_kube *k, const json_t *obj, const struct sf_kube_wait *w, struct sf_err *err);
/* Until GET returns 404 (namespaces, LoadBalancer Services, finalizers). */
int sf_kube_wait_gone(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
		      const char *name, const struct sf_kube_wait *w, struct sf_err *err);
/* At least `count` Ready nodes carrying every label in `labels` (object). */
int sf_kube_wait_nodes(struct sf_kube *k, const json_t *labels, int count, const struct sf_kube_wait *w,
		       struct sf_err *err);

/* A wait whose poll is the caller's own, on the same loop, options and
 * wording as the waits above: a resource type applying until the API
 * serves a kind its CRD just added, or repeating a self-test until new
 * admission configuration takes effect.  poll as in wait.h; w->progress
 * gets the latest status a poll gave after each poll (none before one
 * gave any). */
int sf_kube_wait_until(const struct sf_kube_wait *w, sf_wait_poll_fn poll, void *ctx, struct sf_err *err);

/* Pure readiness logic (unit-tested without a server). Return 1 ready,
 * 0 not yet (why filled), -1 failed for good (why filled). */
int sf_kube_deployment_ready(const json_t *dep, char *why, size_t n);
int sf_kube_daemonset_ready(const json_t *ds, char *why, size_t n);
int sf_kube_crd_ready(const json_t *crd, char *why, size_t n);
int sf_kube_node_ready(const json_t *node, const json_t *labels);
int sf_kube_object_ready(const json_t *obj, char *why, size_t n);

/* Turn an API error reply into err: the Status message as one line, the
 * reason in err->aws_code, code mapped as above. Returns the code. */
int sf_kube_status_error(long status, const char *body, const char *what, struct sf_err *err);

/* Copy of obj without server-owned fields (status, managedFields, uid,
 * resourceVersion, generation, creationTimestamp, selfLink,
 * deletionTimestamp): what apply sends and what diffs compare. */
json_t *sf_kube_strip(const json_t *obj);

/* The field diff behind plan: m (the manifest) with live's values wherever
 * dry (what applying m gives, from a server-side dry run) differs from live.
 * Equal dry and live give m unchanged. All three borrowed; new reference. */
json_t *sf_kube_project(const json_t *m, const json_t *dry, const json_t *live);

/* Base64 → owned NUL-terminated bytes; NULL if invalid. */
char *sf_kube_b64decode(const char *s, size_t *len);

#endif
