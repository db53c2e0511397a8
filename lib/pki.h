/*
 * pki.h - the small X.509 authority behind secfaas's in-cluster TLS.
 *
 * Why: the gVisor mutating webhook (docs/gvisor-functions.md) is called by
 * the API server over HTTPS and verified against the caBundle of its
 * webhook configuration.  secfaas generates that CA and the serving key
 * pair itself, with OpenSSL, and keeps them encrypted in state, so there is
 * no cert-manager dependency and nothing to hand-copy.  Keys are EC P-256,
 * signatures SHA-256; the CA is long-lived, the serving certificate is
 * renewed from it well before it expires, so the caBundle never changes on
 * renewal.
 *
 * Calling steps:
 *   struct sf_pki_pair ca = {0}, leaf = {0};
 *   sf_pki_make_ca("secfaas webhook CA", 3650, now, &ca, &err);
 *   const char *dns[] = {"svc.ns.svc", NULL};
 *   sf_pki_make_leaf(&ca, dns, 365, now, &leaf, &err);
 *   sf_pki_check(ca.cert_pem, leaf.cert_pem, leaf.key_pem, dns[0], now, &err);
 *   sf_pki_pair_release(&ca); sf_pki_pair_release(&leaf);
 *
 * Ownership: pairs hold malloc'd PEM strings; release wipes the key.
 */
#ifndef SF_PKI_H
#define SF_PKI_H

#include <time.h>

#include "err.h"

struct sf_pki_pair {
	char *key_pem;  /* PKCS#8 PEM, secret */
	char *cert_pem; /* X.509 PEM */
};

/* A self-signed CA (basicConstraints CA:TRUE, pathlen 0; keyCertSign),
 * valid from now - 1 h (clock skew) for `days`. */
int sf_pki_make_ca(const char *cn, int days, time_t now, struct sf_pki_pair *out, struct sf_err *err);
/* A serving certificate for the NULL-terminated DNS names (the first one is
 * also the subject CN), signed by ca, capped at the CA's own notAfter. */
int sf_pki_make_leaf(const struct sf_pki_pair *ca, const char *const *dns, int days, time_t now,
		     struct sf_pki_pair *out, struct sf_err *err);
/* notAfter of a PEM certificate. */
int sf_pki_not_after(const char *cert_pem, time_t *out, struct sf_err *err);
/* 0 when cert_pem is signed by ca_cert_pem, valid at now, names dns (or
 * dns is NULL) and key_pem is its private key; SF_EINVAL with why. */
int sf_pki_check(const char *ca_cert_pem, const char *cert_pem, const char *key_pem, const char *dns, time_t now,
		 struct sf_err *err);
void sf_pki_pair_release(struct sf_pki_pair *p);

#endif
