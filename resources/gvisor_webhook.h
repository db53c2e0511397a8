/*
 * gvisor_webhook.h - the mutating webhook half of k8s_gvisor_guard, for
 * API servers without MutatingAdmissionPolicy (Kubernetes < 1.36).
 *
 * Why a module of its own: the guard type decides *which* mutator a
 * cluster gets; this file owns everything the webhook needs to exist and
 * stay healthy — its TLS authority (lib/pki.h) kept in the guard's
 * sensitive attributes, the objects of manifests/k8s/gvisor-webhook.yaml
 * with the server code (manifests/k8s/gvisor-webhook.py) and key pair
 * filled in, the order they are applied in, the drift checks and teardown.
 *
 * TLS attributes (on the guard; *_key ones are sensitive, encrypted in state):
 *   webhook_ca_key, webhook_ca_cert     10-year CA; its certificate is the caBundle
 *   webhook_tls_key, webhook_tls_cert   1-year serving pair for the Service's DNS names
 *   webhook_tls_expires                 RFC 3339 notAfter of the serving certificate
 * The serving pair is re-issued from the same CA within SF_GVW_RENEW_DAYS
 * of expiry (the caBundle does not change, so no request is refused); a CA
 * near its own end is replaced, and the caBundle then carries the old and
 * the new CA until the next apply.
 *
 * Ownership: all json arguments borrowed; *docs new references.
 */
#ifndef SF_GVISOR_WEBHOOK_H
#define SF_GVISOR_WEBHOOK_H

#include <time.h>

#include <jansson.h>

#include "err.h"

struct sf_kube;
struct sf_kube_wait;

#define SF_GVW_RENEW_DAYS 30
#define SF_GVW_IMAGE "docker.io/library/python:3.13.5-alpine3.22"

/* Fill the webhook_* TLS attributes of out: copied from prior when still
 * good for the namespace (valid for more than SF_GVW_RENEW_DAYS, names the
 * Service), else issued.  *issued (optional) says which. */
int sf_gvw_tls(const json_t *prior, json_t *out, time_t now, int *issued, struct sf_err *err);
/* Why the TLS attributes of a need renewing at `now` ("" when they do not). */
void sf_gvw_tls_due(const json_t *a, time_t now, char *why, size_t n);
/* The objects for attributes a (namespace, runtime_class, webhook_namespace,
 * webhook_image, TLS attributes); the MutatingWebhookConfiguration last. */
int sf_gvw_objects(const json_t *a, json_t **docs, struct sf_err *err);
/* Apply: the configuration first if it already exists (so a CA rotation
 * trusts both CAs during the rollout), then the server objects, wait for the
 * rollout, then the configuration. */
int sf_gvw_apply(struct sf_kube *k, const json_t *a, const struct sf_kube_wait *w, struct sf_err *err);
/* 1 healthy, 0 drifted (why filled), < 0 error talking to the API. */
int sf_gvw_check(struct sf_kube *k, const json_t *a, time_t now, char *why, size_t n, struct sf_err *err);
/* Delete the configuration first (pods stop needing the server at once),
 * then the rest; absent objects are fine. */
int sf_gvw_delete(struct sf_kube *k, const json_t *a, struct sf_err *err);

#endif
