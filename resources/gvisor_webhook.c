/*
 * gvisor_webhook.c - the gVisor mutating webhook's TLS, objects, rollout,
 * drift checks and teardown (see gvisor_webhook.h).
 */
#include "resources/gvisor_webhook.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "kube/kube.h"
#include "kube/template.h"
#include "pki.h"
#include "provisioner/node/render.h"
#include "util.h"

#define NAME "secfaas-gvisor-webhook"
#define SCRIPT "manifests/k8s/gvisor-webhook.py"
#define CA_DAYS 3650
#define CA_MIN_DAYS 400 /* a CA with less left is replaced (a leaf must fit inside it) */
#define LEAF_DAYS 365

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *wh_ns(const json_t *a)
{
	return sget(a, "webhook_namespace") ? sget(a, "webhook_namespace") : "openfaas";
}

/* The Service's DNS names (what the API server verifies); dns[0..1] owned. */
static void dns_names(const json_t *a, char *dns[3])
{
	dns[0] = xasprintf("%s.%s.svc", NAME, wh_ns(a));
	dns[1] = xasprintf("%s.%s.svc.cluster.local", NAME, wh_ns(a));
	dns[2] = NULL;
}

static int days_left(const char *pem, time_t now, double *days)
{
	struct sf_err e = SF_ERR_INIT;
	time_t end;
	if (!pem || sf_pki_not_after(pem, &end, &e) < 0)
		return -1;
	*days = difftime(end, now) / 86400.0;
	return 0;
}

void sf_gvw_tls_due(const json_t *a, time_t now, char *why, size_t n)
{
	char *dns[3];
	double ca_left = 0, leaf_left = 0;
	struct sf_err e = SF_ERR_INIT;
	why[0] = 0;
	dns_names(a, dns);
	if (!sget(a, "webhook_ca_key") || !sget(a, "webhook_tls_key"))
		snprintf(why, n, "no webhook key pair yet");
	else if (days_left(sget(a, "webhook_ca_cert"), now, &ca_left) < 0 || ca_left < CA_MIN_DAYS)
		snprintf(why, n, "the webhook CA expires in %.0f days", ca_left);
	else if (sf_pki_check(sget(a, "webhook_ca_cert"), sget(a, "webhook_tls_cert"), sget(a, "webhook_tls_key"), dns[0],
			      now, &e) < 0)
		snprintf(why, n, "the webhook serving certificate is not usable: %s", e.msg);
	else if (days_left(sget(a, "webhook_tls_cert"), now, &leaf_left) < 0 || leaf_left < SF_GVW_RENEW_DAYS)
		snprintf(why, n, "the webhook serving certificate expires in %.0f days (renewed within %d)", leaf_left,
			 SF_GVW_RENEW_DAYS);
	free(dns[0]);
	free(dns[1]);
}

static void put_pair(json_t *out, const char *kkey, const char *ckey, const struct sf_pki_pair *p)
{
	json_object_set_new(out, kkey, json_string(p->key_pem));
	json_object_set_new(out, ckey, json_string(p->cert_pem));
}

int sf_gvw_tls(const json_t *prior, json_t *out, time_t now, int *issued, struct sf_err *err)
{
	static const char *const keys[] = {"webhook_ca_key", "webhook_ca_cert", "webhook_tls_key", "webhook_tls_cert",
					   "webhook_tls_expires"};
	char why[512];
	if (issued)
		*issued = 0;
	if (prior) {
		json_t *tmp = json_deep_copy(out);
		for (size_t i = 0; i < SF_ARRAY_LEN(keys); i++)
			if (json_object_get(prior, keys[i]))
				json_object_set(tmp, keys[i], json_object_get(prior, keys[i]));
		sf_gvw_tls_due(tmp, now, why, sizeof why);
		json_decref(tmp);
		if (!why[0]) {
			for (size_t i = 0; i < SF_ARRAY_LEN(keys); i++)
				json_object_set(out, keys[i], json_object_get(prior, keys[i]));
			json_object_set_new(out, "webhook_ca_bundle", json_string(sget(prior, "webhook_ca_cert")));
			return 0;
		}
	}
	/* Keep a CA with years left (the caBundle stays as it is); else a new
	 * one, trusted next to the old until the rollout is done. */
	struct sf_pki_pair ca = {0}, leaf = {0};
	double ca_left = 0;
	int rc = 0, keep_ca = prior && sget(prior, "webhook_ca_key") &&
			      days_left(sget(prior, "webhook_ca_cert"), now, &ca_left) == 0 && ca_left >= CA_MIN_DAYS;
	char *bundle;
	if (keep_ca) {
		ca.key_pem = xstrdup(sget(prior, "webhook_ca_key"));
		ca.cert_pem = xstrdup(sget(prior, "webhook_ca_cert"));
		bundle = xstrdup(ca.cert_pem);
	} else {
		char *cn = xasprintf("secfaas gVisor webhook CA (%s)", sget(out, "namespace"));
		rc = sf_pki_make_ca(cn, CA_DAYS, now, &ca, err);
		free(cn);
		if (rc < 0)
			return rc;
		const char *old = prior ? sget(prior, "webhook_ca_cert") : NULL;
		bundle = old && ca_left > 0 ? xasprintf("%s%s", ca.cert_pem, old) : xstrdup(ca.cert_pem);
	}
	char *dns[3];
	dns_names(out, dns);
	rc = sf_pki_make_leaf(&ca, (const char *const *)dns, LEAF_DAYS, now, &leaf, err);
	free(dns[0]);
	free(dns[1]);
	time_t end;
	if (rc == 0 && (rc = sf_pki_not_after(leaf.cert_pem, &end, err)) == 0) {
		char ts[40];
		put_pair(out, "webhook_ca_key", "webhook_ca_cert", &ca);
		put_pair(out, "webhook_tls_key", "webhook_tls_cert", &leaf);
		json_object_set_new(out, "webhook_tls_expires", json_string(sf_time_rfc3339(ts, sizeof ts, (double)end)));
		json_object_set_new(out, "webhook_ca_bundle", json_string(bundle));
		if (issued)
			*issued = 1;
	}
	free(bundle);
	sf_pki_pair_release(&ca);
	sf_pki_pair_release(&leaf);
	return rc;
}

static json_t *find_kind(json_t *docs, const char *kind)
{
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o) if (sget(o, "kind") && !strcmp(sget(o, "kind"), kind)) return o;
	return NULL;
}

static char *b64s(const char *s)
{
	return sf_b64encode(s, strlen(s));
}

/* What rolls the pods when it changes: the server code and the key pair. */
static void config_hash(const json_t *a, const char *script, char out[65])
{
	char *all = xasprintf("%s\n%s", script, sget(a, "webhook_tls_cert") ? sget(a, "webhook_tls_cert") : "");
	sf_sha256_hex(out, all, strlen(all));
	free(all);
}

int sf_gvw_objects(const json_t *a, json_t **docs, struct sf_err *err)
{
	const struct sf_embedded *script = sf_embedded_find(SCRIPT);
	if (!script)
		return sf_fail(err, SF_ERROR, "%s is not embedded in this build", SCRIPT);
	const char *ns = sget(a, "namespace");
	char hash[65];
	config_hash(a, script->data, hash);
	char *policy = xasprintf("secfaas-%s-gvisor", ns);
	const char *img = sget(a, "webhook_image") ? sget(a, "webhook_image") : SF_GVW_IMAGE;
	const char *vars[] = {"NAMESPACE", ns, "WEBHOOK_NAMESPACE", wh_ns(a), "RUNTIME_CLASS", sget(a, "runtime_class"),
			      "POLICY", policy, "IMAGE", img, "SANDBOX_KEY", SF_SANDBOX_KEY, "SANDBOX_VALUE",
			      SF_SANDBOX_VALUE, "SANDBOX_EFFECT", SF_SANDBOX_EFFECT, "CONFIG_SHA256", hash, NULL};
	int rc = sf_kube_template(docs, "manifests/k8s/gvisor-webhook.yaml", vars, err);
	free(policy);
	if (rc < 0)
		return rc;
	json_t *sec = find_kind(*docs, "Secret"), *cm = find_kind(*docs, "ConfigMap"),
	       *mwc = find_kind(*docs, "MutatingWebhookConfiguration");
	const json_t *cc = json_object_get(json_array_get(json_object_get(mwc, "webhooks"), 0), "clientConfig");
	if (!sec || !cm || !cc) {
		json_decref(*docs);
		*docs = NULL;
		return sf_fail(err, SF_ERROR, "manifests/k8s/gvisor-webhook.yaml lacks its Secret, ConfigMap or webhook");
	}
	if (sget(a, "webhook_tls_key")) {
		json_object_set_new(sec, "data", json_object());
		char *c = b64s(sget(a, "webhook_tls_cert")), *k = b64s(sget(a, "webhook_tls_key"));
		json_object_set_new(json_object_get(sec, "data"), "tls.crt", json_string(c));
		json_object_set_new(json_object_get(sec, "data"), "tls.key", json_string(k));
		explicit_bzero(k, strlen(k));
		free(c);
		free(k);
	}
	json_object_set_new(cm, "data", json_pack("{s:s}", "webhook.py", script->data));
	const char *bundle = sget(a, "webhook_ca_bundle") ? sget(a, "webhook_ca_bundle") : sget(a, "webhook_ca_cert");
	if (bundle) {
		char *b = b64s(bundle);
		json_object_set_new((json_t *)cc, "caBundle", json_string(b));
		free(b);
	}
	/* The configuration goes last: nothing may call the server before it runs. */
	json_incref(mwc);
	size_t i;
	json_t *o;
	json_array_foreach(*docs, i, o) if (o == mwc) break;
	json_array_remove(*docs, i);
	json_array_append_new(*docs, mwc);
	return 0;
}

static const char *ns_of(const json_t *o)
{
	return sget(json_object_get(o, "metadata"), "namespace");
}

static const char *name_of(const json_t *o)
{
	return sget(json_object_get(o, "metadata"), "name");
}

int sf_gvw_apply(struct sf_kube *k, const json_t *a, const struct sf_kube_wait *w, struct sf_err *err)
{
	json_t *docs = NULL, *live = NULL;
	int rc = sf_gvw_objects(a, &docs, err);
	if (rc < 0)
		return rc;
	size_t n = json_array_size(docs);
	json_t *mwc = json_array_get(docs, n - 1);
	struct sf_err e = SF_ERR_INIT;
	if (sf_kube_get(k, sget(mwc, "apiVersion"), sget(mwc, "kind"), NULL, name_of(mwc), &live, &e) == 0)
		rc = sf_kube_apply(k, mwc, SF_KUBE_FORCE, NULL, err);
	json_decref(live);
	for (size_t i = 0; rc == 0 && i + 1 < n; i++) {
		json_t *o = json_array_get(docs, i);
		if ((rc = sf_kube_apply(k, o, SF_KUBE_FORCE, NULL, err)) == 0 && !strcmp(sget(o, "kind"), "Deployment"))
			rc = sf_kube_wait_ready(k, o, w, err);
	}
	if (rc == 0)
		rc = sf_kube_apply(k, mwc, SF_KUBE_FORCE, NULL, err);
	json_decref(docs);
	return rc;
}

static int drift(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int drift(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return 0;
}

/* A Deployment's pod template: its config hash annotation and first image. */
static const char *tmpl_hash(const json_t *dep)
{
	const json_t *md = json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "metadata");
	return sget(json_object_get(md, "annotations"), "secfaas.dev/config-sha256");
}

static const char *tmpl_image(const json_t *dep)
{
	const json_t *ps = json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
	return sget(json_array_get(json_object_get(ps, "containers"), 0), "image");
}

static int str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Compare one live object with what secfaas applies. 1 same, 0 drifted. */
static int same(const json_t *want, const json_t *live, char *why, size_t n)
{
	const char *kind = sget(want, "kind");
	if (!strcmp(kind, "MutatingWebhookConfiguration")) {
		const json_t *lw = json_array_get(json_object_get(live, "webhooks"), 0);
		const json_t *ww = json_array_get(json_object_get(want, "webhooks"), 0);
		if (json_array_size(json_object_get(live, "webhooks")) != 1 || !str_eq(sget(lw, "failurePolicy"), "Fail"))
			return drift(why, n, "webhook configuration %s is not the single failurePolicy: Fail webhook",
				     name_of(want));
		if (!json_equal(json_object_get(lw, "namespaceSelector"), json_object_get(ww, "namespaceSelector")) ||
		    !json_equal(json_object_get(lw, "rules"), json_object_get(ww, "rules")))
			return drift(why, n, "webhook configuration %s no longer selects the pods it must mutate", name_of(want));
		if (!str_eq(sget(json_object_get(lw, "clientConfig"), "caBundle"),
			    sget(json_object_get(ww, "clientConfig"), "caBundle")))
			return drift(why, n, "webhook configuration %s trusts a different caBundle", name_of(want));
	} else if (!strcmp(kind, "Deployment")) {
		char r[256];
		if (!str_eq(tmpl_hash(live), tmpl_hash(want)) || !str_eq(tmpl_image(live), tmpl_image(want)))
			return drift(why, n, "webhook Deployment %s/%s runs other code, image or certificates", ns_of(want),
				     name_of(want));
		json_int_t want_n = json_integer_value(json_object_get(json_object_get(want, "spec"), "replicas"));
		json_int_t live_n = json_integer_value(json_object_get(json_object_get(live, "spec"), "replicas"));
		json_int_t avail = json_integer_value(json_object_get(json_object_get(live, "status"), "availableReplicas"));
		if (live_n < want_n || avail < 1)
			return drift(why, n, "webhook Deployment %s/%s is not available: %lld of %lld replicas available (scaled to %lld)",
				     ns_of(want), name_of(want), (long long)avail, (long long)want_n, (long long)live_n);
		if (sf_kube_deployment_ready(live, r, sizeof r) != 1)
			return drift(why, n, "webhook Deployment %s/%s is not available: %s", ns_of(want), name_of(want), r);
	} else if (!strcmp(kind, "Secret") || !strcmp(kind, "ConfigMap")) {
		if (!json_equal(json_object_get(live, "data"), json_object_get(want, "data")))
			return drift(why, n, "%s %s/%s does not hold what secfaas wrote", kind, ns_of(want), name_of(want));
	}
	return 1;
}

int sf_gvw_check(struct sf_kube *k, const json_t *a, time_t now, char *why, size_t n, struct sf_err *err)
{
	sf_gvw_tls_due(a, now, why, n);
	if (why[0])
		return 0;
	json_t *docs = NULL;
	int rc = sf_gvw_objects(a, &docs, err), ok = 1;
	if (rc < 0)
		return rc;
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o)
	{
		json_t *live = NULL;
		struct sf_err e = SF_ERR_INIT;
		int g = sf_kube_get(k, sget(o, "apiVersion"), sget(o, "kind"), ns_of(o), name_of(o), &live, &e);
		if (g == SF_ENOTFOUND)
			ok = drift(why, n, "%s %s%s%s is missing", sget(o, "kind"), ns_of(o) ? ns_of(o) : "", ns_of(o) ? "/" : "",
				   name_of(o));
		else if (g < 0) {
			*err = e;
			rc = g;
		} else {
			ok = same(o, live, why, n);
		}
		json_decref(live);
		if (rc < 0 || !ok)
			break;
	}
	json_decref(docs);
	return rc < 0 ? rc : ok;
}

int sf_gvw_delete(struct sf_kube *k, const json_t *a, struct sf_err *err)
{
	json_t *docs = NULL;
	/* The configuration (last) first, then the server in reverse order. */
	int rc = sf_gvw_objects(a, &docs, err);
	if (rc == 0)
		rc = sf_kube_delete_objects(k, docs, err);
	json_decref(docs);
	return rc;
}
