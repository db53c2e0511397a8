/*
 * kube_cache.h - Kubernetes clients shared by the resource operations of a run.
 *
 * Why: every k8s_* resource carries its connection (endpoint, CA, cluster
 * name, optional static token) as attributes, but one apply should mint one
 * EKS token per cluster and reuse its discovery cache, not one per object.
 * The clients live in struct sf_providers' `kube` slot, created on first
 * use under the providers mutex, keyed by the connection.
 *
 * Calling steps (resource types):
 *   struct sf_kube *k = sf_kube_for(c->provider, &conn, c->err);   borrowed
 * The first client also sets providers.kube_release, so
 * sf_providers_release() frees them all (sf_kube_cache_release()).
 *
 * Ownership: the returned client is borrowed; it lives until
 * sf_kube_cache_release().  With a NULL provider (unit tests) a fresh client
 * is returned through *owned, which the caller frees with sf_kube_free().
 */
#ifndef SF_KUBE_CACHE_H
#define SF_KUBE_CACHE_H

#include <jansson.h>

#include "kube/kube.h"

struct sf_providers;

/* Borrowed client for conn, or NULL with err. */
struct sf_kube *sf_kube_for(struct sf_providers *p, const struct sf_kube_conn *conn, struct sf_err *err);
/* Free every cached client (safe when none were made). */
void sf_kube_cache_release(struct sf_providers *p);

/* Connection from resource attributes: "endpoint", "ca_data",
 * "cluster_name", "token" (borrowed strings from attrs). */
void sf_kube_conn_from_attrs(struct sf_kube_conn *conn, const json_t *attrs);

#endif
