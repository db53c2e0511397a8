/* Unit tests for resources/gvisor_webhook: TLS issue/reuse/renewal/CA
 * rotation and the filled-in webhook objects (no server needed). */
#include "t.h"

#include <string.h>

#include "embed.h"
#include "kube/kube.h"
#include "pki.h"
#include "resources/gvisor_webhook.h"
#include "util.h"

#define DAY 86400

static json_t *attrs(void)
{
	return json_pack("{s:s, s:s, s:s}", "namespace", "openfaas-fn", "runtime_class", "gvisor", "webhook_namespace",
			 "openfaas");
}

static json_t *doc(json_t *docs, const char *kind)
{
	size_t i;
	json_t *o;
	json_array_foreach(docs, i, o) if (!strcmp(json_string_value(json_object_get(o, "kind")), kind)) return o;
	return NULL;
}

static const char *s(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

T_TEST(tls_issued_then_reused_then_renewed)
{
	struct sf_err e = SF_ERR_INIT;
	time_t now = 1800000000;
	json_t *a = attrs();
	int issued = 0;
	T_EQ(sf_gvw_tls(NULL, a, now, &issued, &e), 0);
	T_EQ(issued, 1);
	T_EQ(sf_pki_check(s(a, "webhook_ca_cert"), s(a, "webhook_tls_cert"), s(a, "webhook_tls_key"),
			  "secfaas-gvisor-webhook.openfaas.svc", now, &e),
	     0);
	T_STREQ(s(a, "webhook_ca_bundle"), s(a, "webhook_ca_cert"));
	char why[256];
	sf_gvw_tls_due(a, now, why, sizeof why);
	T_STREQ(why, "");

	/* a month later: the same pair is kept */
	json_t *b = attrs();
	T_EQ(sf_gvw_tls(a, b, now + 30 * DAY, &issued, &e), 0);
	T_EQ(issued, 0);
	T_STREQ(s(b, "webhook_tls_cert"), s(a, "webhook_tls_cert"));

	/* 340 days later: inside the renewal window -> new leaf, same CA, same bundle */
	sf_gvw_tls_due(a, now + 340 * DAY, why, sizeof why);
	T_OK(strstr(why, "expires in 25 days") != NULL);
	json_t *c = attrs();
	T_EQ(sf_gvw_tls(a, c, now + 340 * DAY, &issued, &e), 0);
	T_EQ(issued, 1);
	T_OK(strcmp(s(c, "webhook_tls_cert"), s(a, "webhook_tls_cert")) != 0);
	T_STREQ(s(c, "webhook_ca_cert"), s(a, "webhook_ca_cert"));
	T_STREQ(s(c, "webhook_ca_bundle"), s(a, "webhook_ca_cert"));

	/* the namespace moved: the old names no longer fit -> reissued */
	json_t *d = attrs();
	json_object_set_new(d, "webhook_namespace", json_string("elsewhere"));
	T_EQ(sf_gvw_tls(a, d, now + DAY, &issued, &e), 0);
	T_EQ(issued, 1);
	T_EQ(sf_pki_check(s(d, "webhook_ca_cert"), s(d, "webhook_tls_cert"), s(d, "webhook_tls_key"),
			  "secfaas-gvisor-webhook.elsewhere.svc", now + DAY, &e),
	     0);

	/* nine and a half years on: the CA is replaced; the bundle trusts both */
	json_t *f = attrs();
	time_t late = now + 3470L * DAY;
	T_EQ(sf_gvw_tls(a, f, late, &issued, &e), 0);
	T_OK(strcmp(s(f, "webhook_ca_cert"), s(a, "webhook_ca_cert")) != 0);
	T_OK(strstr(s(f, "webhook_ca_bundle"), s(a, "webhook_ca_cert")) != NULL);
	T_OK(strstr(s(f, "webhook_ca_bundle"), s(f, "webhook_ca_cert")) != NULL);
	/* the next apply drops the old CA */
	json_t *g = attrs();
	T_EQ(sf_gvw_tls(f, g, late + DAY, &issued, &e), 0);
	T_EQ(issued, 0);
	T_STREQ(s(g, "webhook_ca_bundle"), s(f, "webhook_ca_cert"));

	/* tampered state (key of another pair) is reissued, not served */
	json_t *h = attrs(), *bad = json_deep_copy(a);
	json_object_set(bad, "webhook_tls_key", json_object_get(d, "webhook_tls_key"));
	sf_gvw_tls_due(bad, now, why, sizeof why);
	T_OK(strstr(why, "key does not belong") != NULL);
	T_EQ(sf_gvw_tls(bad, h, now, &issued, &e), 0);
	T_EQ(issued, 1);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(f);
	json_decref(g);
	json_decref(h);
	json_decref(bad);
}

T_TEST(objects_filled_in_and_ordered)
{
	struct sf_err e = SF_ERR_INIT;
	json_t *a = attrs(), *docs = NULL;
	T_EQ(sf_gvw_tls(NULL, a, 1800000000, NULL, &e), 0);
	T_EQ(sf_gvw_objects(a, &docs, &e), 0);
	T_EQ(json_array_size(docs), 7);
	/* the configuration last: nothing calls the server before it runs */
	T_STREQ(s(json_array_get(docs, 6), "kind"), "MutatingWebhookConfiguration");
	const json_t *wh = json_array_get(json_object_get(json_array_get(docs, 6), "webhooks"), 0);
	T_STREQ(s(wh, "failurePolicy"), "Fail");
	T_STREQ(s(wh, "sideEffects"), "None");
	size_t n = 0;
	char *ca = sf_kube_b64decode(s(json_object_get(wh, "clientConfig"), "caBundle"), &n);
	T_STREQ(ca, s(a, "webhook_ca_cert"));
	free(ca);
	T_STREQ(s(json_object_get(json_object_get(wh, "namespaceSelector"), "matchLabels"), "kubernetes.io/metadata.name"),
		"openfaas-fn");
	const json_t *sec = doc(docs, "Secret");
	char *key = sf_kube_b64decode(s(json_object_get(sec, "data"), "tls.key"), NULL);
	T_STREQ(key, s(a, "webhook_tls_key"));
	free(key);
	const struct sf_embedded *py = sf_embedded_find("manifests/k8s/gvisor-webhook.py");
	T_OK(py != NULL);
	T_STREQ(s(json_object_get(doc(docs, "ConfigMap"), "data"), "webhook.py"), py->data);
	const json_t *tmpl = json_object_get(json_object_get(doc(docs, "Deployment"), "spec"), "template");
	const char *h1 = s(json_object_get(json_object_get(tmpl, "metadata"), "annotations"), "secfaas.dev/config-sha256");
	T_OK(h1 && strlen(h1) == 64);
	const json_t *ctr = json_array_get(json_object_get(json_object_get(tmpl, "spec"), "containers"), 0);
	T_STREQ(s(ctr, "image"), SF_GVW_IMAGE);
	char *h1c = xstrdup(h1);
	/* a new serving pair changes the hash (pods roll); a mirror image is used */
	json_t *b = attrs(), *docs2 = NULL;
	json_object_set_new(b, "webhook_image", json_string("mirror.example/python:3.13.5-alpine3.22"));
	T_EQ(sf_gvw_tls(NULL, b, 1800000000, NULL, &e), 0);
	T_EQ(sf_gvw_objects(b, &docs2, &e), 0);
	tmpl = json_object_get(json_object_get(doc(docs2, "Deployment"), "spec"), "template");
	T_OK(strcmp(h1c, s(json_object_get(json_object_get(tmpl, "metadata"), "annotations"), "secfaas.dev/config-sha256")));
	T_STREQ(s(json_array_get(json_object_get(json_object_get(tmpl, "spec"), "containers"), 0), "image"),
		"mirror.example/python:3.13.5-alpine3.22");
	free(h1c);
	json_decref(docs);
	json_decref(docs2);
	json_decref(a);
	json_decref(b);
}

/* A crafted webhook image used to be pasted into the Deployment's YAML text
 * and could add host namespaces and an init container of its choosing.  The
 * objects are built from the parsed template now: the value is only ever
 * the image string. */
T_TEST(webhook_image_cannot_add_fields)
{
	const char *evil = "python:3.13\"\n      hostPID: true\n      hostNetwork: true\n"
			   "      initContainers: [{name: x, image: evil, securityContext: {privileged: true}}]\n"
			   "      x: \"y";
	struct sf_err e = SF_ERR_INIT;
	json_t *a = attrs(), *docs = NULL, *plain = NULL;
	json_object_set_new(a, "webhook_image", json_string(evil));
	T_EQ(sf_gvw_tls(NULL, a, 1800000000, NULL, &e), 0);
	T_EQ(sf_gvw_objects(a, &docs, &e), 0);
	json_t *b = json_deep_copy(a);
	json_object_del(b, "webhook_image");
	T_EQ(sf_gvw_objects(b, &plain, &e), 0);
	T_EQ(json_array_size(docs), json_array_size(plain));
	json_t *dep = doc(docs, "Deployment");
	json_t *ps = json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
	T_OK(json_object_get(ps, "hostPID") == NULL);
	T_OK(json_object_get(ps, "hostNetwork") == NULL);
	T_OK(json_object_get(ps, "initContainers") == NULL);
	const json_t *ctr = json_array_get(json_object_get(ps, "containers"), 0);
	T_STREQ(s(ctr, "image"), evil);
	/* apart from the image, the pod spec is the one without the value */
	json_t *pps = json_deep_copy(json_object_get(json_object_get(json_object_get(doc(plain, "Deployment"), "spec"),
								      "template"), "spec"));
	json_object_set_new(json_array_get(json_object_get(pps, "containers"), 0), "image", json_string(evil));
	T_OK(json_equal(ps, pps));
	json_decref(pps);
	json_decref(docs);
	json_decref(plain);
	json_decref(a);
	json_decref(b);
}

T_MAIN()
