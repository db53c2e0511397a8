/*
 * test_kube.c - the Kubernetes client against a scripted transport: paths
 * and discovery, server-side apply requests, Status errors as one line,
 * retries, deletes, readiness logic (kubectl rollout status), the plan's
 * field projection, connection checks.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "kube/kube.h"
#include "t.h"
#include "util.h"

#define CA_B64                                                                                                   \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ0ZXN0Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K" /* fake PEM */

struct reply {
	long status;
	const char *body;
	const char *retry_after;
};

struct script {
	struct reply r[8];
	size_t n, next;
	/* recorded requests */
	char *method[8], *url[8], *ctype[8], *auth[8], *body[8];
	size_t nreq;
};

static int fake_send(void *ctx, const struct sf_http_req *rq, struct sf_http_resp *rs, struct sf_err *err)
{
	struct script *s = ctx;
	(void)err;
	size_t i = s->nreq < 8 ? s->nreq : 7;
	s->method[i] = xstrdup(rq->method);
	s->url[i] = xstrdup(rq->url);
	s->ctype[i] = xstrdup(sf_hdrs_get(rq->headers, "Content-Type"));
	s->auth[i] = xstrdup(sf_hdrs_get(rq->headers, "Authorization"));
	s->body[i] = rq->body ? xstrndup(rq->body, rq->body_len) : NULL;
	s->nreq++;
	const struct reply *r = s->next < s->n ? &s->r[s->next++] : &(struct reply){599, "script exhausted", NULL};
	rs->status = r->status;
	if (r->retry_after)
		sf_hdrs_add(&rs->headers, "Retry-After", r->retry_after);
	sf_buf_puts(&rs->body, r->body ? r->body : "");
	return 0;
}

static void script_release(struct script *s)
{
	for (size_t i = 0; i < 8; i++) {
		free(s->method[i]);
		free(s->url[i]);
		free(s->ctype[i]);
		free(s->auth[i]);
		free(s->body[i]);
	}
}

static const struct sf_http_ops fake_ops = {fake_send, NULL};

static struct sf_kube *client(struct script *s, struct sf_http **h)
{
	*h = sf_http_wrap(&fake_ops, s);
	struct sf_kube_conn c = {.endpoint = "https://127.0.0.1:6443/", .ca_b64 = CA_B64, .token = "tok", .http = *h};
	struct sf_kube *k = NULL;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_kube_new(&k, &c, NULL, &err), 0);
	return k;
}

T_TEST(connection_checks)
{
	struct sf_kube *k = NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_kube_conn c = {.endpoint = "http://127.0.0.1:8080", .token = "t"};
	T_EQ(sf_kube_new(&k, &c, NULL, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "not https");
	c.endpoint = "https://127.0.0.1:6443";
	c.ca_b64 = "bm90IGEgY2VydA=="; /* "not a cert" */
	T_EQ(sf_kube_new(&k, &c, NULL, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "PEM");
	c.ca_b64 = CA_B64;
	c.token = NULL;
	T_EQ(sf_kube_new(&k, &c, NULL, &err), SF_EAUTH);
	T_OK(k == NULL);
}

T_TEST(paths_static_table)
{
	struct script s = {.n = 0};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	char *p = NULL;
	T_EQ(sf_kube_path(k, "apps/v1", "Deployment", "openfaas", "gateway", &p, &err), 0);
	T_STREQ(p, "/apis/apps/v1/namespaces/openfaas/deployments/gateway");
	free(p);
	T_EQ(sf_kube_path(k, "v1", "Namespace", NULL, "openfaas", &p, &err), 0);
	T_STREQ(p, "/api/v1/namespaces/openfaas");
	free(p);
	T_EQ(sf_kube_path(k, "networking.k8s.io/v1", "NetworkPolicy", "x", NULL, &p, &err), 0);
	T_STREQ(p, "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies");
	free(p);
	T_EQ(sf_kube_path(k, "v1", "Service", NULL, "gw", &p, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "namespace");
	T_EQ(s.nreq, 0); /* no discovery traffic for known kinds */
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

T_TEST(discovery_of_custom_kinds_is_cached)
{
	struct script s = {.n = 2,
			   .r = {{200, "{\"kind\":\"APIResourceList\",\"groupVersion\":\"openfaas.com/v1\",\"resources\":["
				       "{\"name\":\"functions/status\",\"kind\":\"Function\",\"namespaced\":true},"
				       "{\"name\":\"functions\",\"kind\":\"Function\",\"namespaced\":true}]}", NULL},
				 {404, "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404,"
				       "\"message\":\"the server could not find the requested resource\"}", NULL}}};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	char *p = NULL;
	T_EQ(sf_kube_path(k, "openfaas.com/v1", "Function", "openfaas-fn", "f", &p, &err), 0);
	T_STREQ(p, "/apis/openfaas.com/v1/namespaces/openfaas-fn/functions/f");
	free(p);
	T_STREQ(s.url[0], "https://127.0.0.1:6443/apis/openfaas.com/v1");
	T_EQ(sf_kube_path(k, "openfaas.com/v1", "Function", "openfaas-fn", "g", &p, &err), 0);
	free(p);
	T_EQ(s.nreq, 1); /* cached */
	T_EQ(sf_kube_path(k, "example.com/v1", "Widget", NULL, "w", &p, &err), SF_ENOTFOUND);
	T_CONTAINS(err.msg, "does not serve example.com/v1");
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

T_TEST(apply_request_shape)
{
	struct script s = {.n = 3, .r = {{201, "{\"kind\":\"Namespace\"}", NULL}, {200, "{}", NULL}, {200, "{}", NULL}}};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	json_t *obj = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"openfaas\","
				 "\"uid\":\"u\",\"resourceVersion\":\"7\",\"managedFields\":[]},\"status\":{\"phase\":\"Active\"}}",
				 0, NULL);
	json_t *out = NULL;
	T_EQ(sf_kube_apply(k, obj, 0, &out, &err), 0);
	T_STREQ(json_string_value(json_object_get(out, "kind")), "Namespace");
	T_STREQ(s.method[0], "PATCH");
	T_STREQ(s.url[0], "https://127.0.0.1:6443/api/v1/namespaces/openfaas?fieldManager=secfaas&fieldValidation=Strict");
	T_STREQ(s.ctype[0], "application/apply-patch+yaml");
	T_STREQ(s.auth[0], "Bearer tok");
	T_OK(s.body[0] && !strstr(s.body[0], "managedFields") && !strstr(s.body[0], "status") &&
	     !strstr(s.body[0], "resourceVersion") && !strstr(s.body[0], "\"uid\""));
	T_EQ(sf_kube_apply(k, obj, SF_KUBE_DRYRUN | SF_KUBE_FORCE, NULL, &err), 0);
	T_CONTAINS(s.url[1], "&force=true&dryRun=All");
	json_object_del(json_object_get(obj, "metadata"), "name");
	T_EQ(sf_kube_apply(k, obj, 0, NULL, &err), SF_EINVAL);
	T_EQ(s.nreq, 2);
	json_decref(out);
	json_decref(obj);
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

T_TEST(status_errors_one_line)
{
	struct script s = {
		.n = 3,
		.r = {{409, "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409,\"message\":"
			    "\"Apply failed with 1 conflict: conflict with \\\"kubectl\\\" using apps/v1: .spec.replicas\","
			    "\"details\":{\"causes\":[{\"reason\":\"FieldManagerConflict\",\"field\":\".spec.replicas\"}]}}", NULL},
		      {403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"code\":403,\"message\":\"pods \\\"x\\\" is "
			    "forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no\\nreally\"}", NULL},
		      {422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"code\":422,\"message\":\"bad name\"}", NULL}}};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	json_t *dep = json_loads("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
				 "\"namespace\":\"n\"}}", 0, NULL);
	T_EQ(sf_kube_apply(k, dep, 0, NULL, &err), SF_ECONFLICT);
	T_CONTAINS(err.msg, "applying Deployment n/d");
	T_CONTAINS(err.msg, ".spec.replicas");
	T_CONTAINS(err.hint, "--force-conflicts");
	T_STREQ(err.aws_code, "Conflict");
	T_EQ(err.http_status, 409);
	sf_err_clear(&err);
	T_EQ(sf_kube_request(k, "POST", "/api/v1/namespaces/n/pods?dryRun=All", "application/json", "{}", NULL, NULL, &err),
	     SF_EINVAL); /* an admission denial is not a credentials problem */
	T_OK(strchr(err.msg, '\n') == NULL);
	T_CONTAINS(err.msg, "denied request: no really");
	T_OK(strstr(err.msg, "dryRun") == NULL);
	sf_err_clear(&err);
	T_EQ(sf_kube_request(k, "GET", "/api/v1/x", NULL, NULL, NULL, NULL, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "bad name");
	json_decref(dep);
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

T_TEST(retries_and_give_up)
{
	struct script s = {.n = 7,
			   .r = {{429, "{\"kind\":\"Status\",\"code\":429}", "0"},
				 {200, "{\"ok\":true}", NULL},
				 {503, "upstream connect error", "0"},
				 {503, "upstream connect error", "0"},
				 {503, "upstream connect error", "0"},
				 {503, "upstream connect error", "0"},
				 {503, "upstream connect error", "0"}}};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	json_t *out = NULL;
	T_EQ(sf_kube_request(k, "GET", "/version", NULL, NULL, NULL, &out, &err), 0);
	T_OK(json_is_true(json_object_get(out, "ok")));
	T_EQ(s.nreq, 2);
	json_decref(out);
	long st = 0;
	T_EQ(sf_kube_request(k, "GET", "/version", NULL, NULL, &st, NULL, &err), SF_ETRANSIENT);
	T_EQ(st, 503);
	T_EQ(s.nreq, 7); /* 5 attempts */
	T_CONTAINS(err.msg, "upstream connect error"); /* non-JSON body shown */
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

T_TEST(static_token_401_not_retried_delete_404_ok)
{
	struct script s = {.n = 2,
			   .r = {{401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401,\"message\":\"Unauthorized\"}", NULL},
				 {404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}", NULL}}};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	json_t *out = NULL;
	T_EQ(sf_kube_get(k, "v1", "Namespace", NULL, "x", &out, &err), SF_EAUTH);
	T_EQ(s.nreq, 1);
	T_CONTAINS(err.hint, "bearer token");
	T_EQ(sf_kube_delete(k, "v1", "Namespace", NULL, "x", "Foreground", &err), 0);
	T_STREQ(s.method[1], "DELETE");
	T_CONTAINS(s.body[1], "\"propagationPolicy\":\"Foreground\"");
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

/* What a DELETE's reply says: a Status of Success (removed at once) or a
 * 404 is gone; the object itself (finalizers pending) is still there. */
T_TEST(delete_tells_removed_from_pending)
{
	struct script s = {.n = 3,
			   .r = {{200, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Success\",\"details\":{\"name\":\"gw\"}}", NULL},
				 {200, "{\"kind\":\"Service\",\"metadata\":{\"name\":\"lb\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\","
				       "\"finalizers\":[\"service.kubernetes.io/load-balancer-cleanup\"]}}", NULL},
				 {404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}", NULL}}};
	struct sf_http *h;
	struct sf_kube *k = client(&s, &h);
	struct sf_err err = SF_ERR_INIT;
	int gone = -1;
	T_EQ(sf_kube_delete_gone(k, "apps/v1", "Deployment", "openfaas", "gw", "Background", &gone, &err), 0);
	T_EQ(gone, 1);
	T_EQ(sf_kube_delete_gone(k, "v1", "Service", "openfaas", "lb", "Background", &gone, &err), 0);
	T_EQ(gone, 0);
	T_EQ(sf_kube_delete_gone(k, "v1", "Service", "openfaas", "lb", "Background", &gone, &err), 0);
	T_EQ(gone, 1);
	T_EQ(s.nreq, 3);
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

static json_t *dep(const char *status, long long gen)
{
	json_t *d = json_loads(status, 0, NULL);
	json_t *o = json_pack("{s:s, s:{s:s, s:I}, s:{s:i}, s:o}", "kind", "Deployment", "metadata", "name", "gw",
			      "generation", gen, "spec", "replicas", 2, "status", d);
	return o;
}

T_TEST(rollout_logic_like_kubectl)
{
	char why[256];
	struct {
		const char *status;
		long long gen;
		int want;
		const char *why;
	} cases[] = {
		{"{\"observedGeneration\":1}", 2, 0, "observed"},
		{"{\"observedGeneration\":2,\"updatedReplicas\":1,\"replicas\":2,\"availableReplicas\":2}", 2, 0, "1 of 2 updated"},
		{"{\"observedGeneration\":2,\"updatedReplicas\":2,\"replicas\":3,\"availableReplicas\":2}", 2, 0, "old replicas"},
		{"{\"observedGeneration\":2,\"updatedReplicas\":2,\"replicas\":2,\"availableReplicas\":1}", 2, 0, "1 of 2 updated replicas available"},
		{"{\"observedGeneration\":2,\"updatedReplicas\":2,\"replicas\":2,\"availableReplicas\":2,"
		 "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}", 2, 1, "rolled out"},
		{"{\"observedGeneration\":2,\"conditions\":[{\"type\":\"Progressing\",\"status\":\"False\",\"reason\":"
		 "\"ProgressDeadlineExceeded\"},{\"type\":\"ReplicaFailure\",\"status\":\"True\",\"message\":\"pods refused\"}]}",
		 2, -1, "pods refused"},
		/* Available=True alone is not enough */
		{"{\"observedGeneration\":2,\"updatedReplicas\":1,\"replicas\":1,\"availableReplicas\":1,"
		 "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}", 2, 0, "1 of 2"},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		json_t *d = dep(cases[i].status, cases[i].gen);
		int r = sf_kube_deployment_ready(d, why, sizeof why);
		if (r != cases[i].want || !strstr(why, cases[i].why))
			T_FAILF("case %zu: got %d \"%s\", want %d \"%s\"", i, r, why, cases[i].want, cases[i].why);
		T_EQ(sf_kube_object_ready(d, why, sizeof why), cases[i].want);
		json_decref(d);
	}
}

/* A DaemonSet rolled out as `kubectl rollout status` says it: the new
 * generation observed, every scheduled pod updated and available. */
T_TEST(daemonset_readiness)
{
	char why[256];
	static const struct {
		const char *status;
		int gen, want;
		const char *why;
	} cases[] = {
		{"{\"observedGeneration\":1,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberAvailable\":3}", 2,
		 0, "spec update to be observed"},
		{"{\"observedGeneration\":2,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":1,\"numberAvailable\":3}", 2,
		 0, "1 of 3 updated pods"},
		{"{\"observedGeneration\":2,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberAvailable\":2}", 2,
		 0, "2 of 3 updated pods available"},
		{"{\"observedGeneration\":2,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberAvailable\":3}", 2,
		 1, "rolled out"},
		{"{\"observedGeneration\":2,\"desiredNumberScheduled\":0}", 2, 1, "rolled out"},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		char *text = xasprintf("{\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"aws-node\",\"generation\":%d},"
				       "\"status\":%s}",
				       cases[i].gen, cases[i].status);
		json_t *d = json_loads(text, 0, NULL);
		free(text);
		int r = sf_kube_daemonset_ready(d, why, sizeof why);
		if (r != cases[i].want || !strstr(why, cases[i].why))
			T_FAILF("case %zu: got %d \"%s\", want %d \"%s\"", i, r, why, cases[i].want, cases[i].why);
		T_EQ(sf_kube_object_ready(d, why, sizeof why), cases[i].want);
		json_decref(d);
	}
}

T_TEST(crd_node_namespace_service_readiness)
{
	char why[256];
	json_t *crd = json_loads("{\"kind\":\"CustomResourceDefinition\",\"metadata\":{\"name\":\"f.o\"},\"status\":{"
				 "\"conditions\":[{\"type\":\"NamesAccepted\",\"status\":\"True\"}]}}", 0, NULL);
	T_EQ(sf_kube_crd_ready(crd, why, sizeof why), 0);
	json_array_append_new(json_object_get(json_object_get(crd, "status"), "conditions"),
			      json_pack("{s:s, s:s}", "type", "Established", "status", "True"));
	T_EQ(sf_kube_object_ready(crd, why, sizeof why), 1);
	json_t *node = json_loads("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"status\":{\"conditions\":["
				  "{\"type\":\"Ready\",\"status\":\"True\"}]}}", 0, NULL);
	json_t *want = json_pack("{s:s}", "a", "1"), *other = json_pack("{s:s}", "a", "2");
	T_EQ(sf_kube_node_ready(node, want), 1);
	T_EQ(sf_kube_node_ready(node, other), 0);
	json_t *ns = json_loads("{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"},\"status\":{\"phase\":\"Terminating\"}}", 0, NULL);
	T_EQ(sf_kube_object_ready(ns, why, sizeof why), 0);
	json_t *lb = json_loads("{\"kind\":\"Service\",\"metadata\":{\"name\":\"g\"},\"spec\":{\"type\":\"LoadBalancer\"},"
				"\"status\":{\"loadBalancer\":{}}}", 0, NULL);
	T_EQ(sf_kube_object_ready(lb, why, sizeof why), 0);
	json_object_set_new(json_object_get(json_object_get(lb, "status"), "loadBalancer"), "ingress",
			    json_pack("[{s:s}]", "hostname", "x.elb.amazonaws.com"));
	T_EQ(sf_kube_object_ready(lb, why, sizeof why), 1);
	json_decref(crd);
	json_decref(node);
	json_decref(want);
	json_decref(other);
	json_decref(ns);
	json_decref(lb);
}

T_TEST(projection_shows_only_drifted_fields)
{
	json_t *m = json_loads("{\"spec\":{\"replicas\":1,\"template\":{\"c\":[{\"name\":\"a\",\"cpu\":\"0.1\"}]}}}", 0, NULL);
	/* server defaulting/normalisation: the same in dry run and live → no drift */
	json_t *dry = json_loads("{\"spec\":{\"replicas\":1,\"strategy\":\"x\",\"template\":{\"c\":[{\"name\":\"a\",\"cpu\":\"100m\"}]}}}", 0, NULL);
	json_t *live = json_deep_copy(dry);
	json_t *p = sf_kube_project(m, dry, live);
	T_OK(json_equal(p, m));
	json_decref(p);
	/* someone scaled it: only replicas differs, and shows the live value */
	json_object_set_new(json_object_get(live, "spec"), "replicas", json_integer(3));
	p = sf_kube_project(m, dry, live);
	T_EQ(json_integer_value(json_object_get(json_object_get(p, "spec"), "replicas")), 3);
	json_t *c0 = json_array_get(json_object_get(json_object_get(json_object_get(p, "spec"), "template"), "c"), 0);
	T_STREQ(json_string_value(json_object_get(c0, "cpu")), "0.1"); /* unchanged field keeps the manifest's form */
	T_OK(json_object_get(json_object_get(p, "spec"), "strategy") == NULL); /* only the manifest's shape */
	json_decref(p);
	json_decref(m);
	json_decref(dry);
	json_decref(live);
}

T_TEST(base64_and_strip)
{
	size_t n = 0;
	char *s = sf_kube_b64decode("aGVs\nbG8=", &n);
	T_STREQ(s, "hello");
	T_EQ(n, 5);
	free(s);
	T_OK(sf_kube_b64decode("abc", NULL) == NULL);
	json_t *o = json_loads("{\"metadata\":{\"name\":\"x\",\"generation\":3,\"creationTimestamp\":\"t\"},\"status\":{}}", 0, NULL);
	json_t *st = sf_kube_strip(o);
	T_OK(json_object_get(st, "status") == NULL);
	T_OK(json_object_size(json_object_get(st, "metadata")) == 1);
	json_decref(o);
	json_decref(st);
}

/* A token source as the caller supplies it (kube/ knows nothing of AWS). */
struct minter {
	int calls;
	char cluster[32], role[64];
};

static int mint(void *ctx, const char *cluster, const char *role_arn, char **token, double *expires,
		struct sf_err *err)
{
	(void)err;
	struct minter *m = ctx;
	m->calls++;
	snprintf(m->cluster, sizeof m->cluster, "%s", cluster);
	snprintf(m->role, sizeof m->role, "%s", role_arn ? role_arn : "");
	*token = xasprintf("tok-%d", m->calls);
	*expires = sf_now() + 14 * 60;
	return 0;
}

T_TEST(token_source_minted_once_and_again_after_a_401)
{
	struct script s = {.n = 3,
			   .r = {{200, "{}", NULL},
				 {401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}", NULL},
				 {200, "{}", NULL}}};
	struct sf_http *h = sf_http_wrap(&fake_ops, &s);
	struct minter m = {0, "", ""};
	struct sf_kube_token_source src = {mint, &m};
	struct sf_kube_conn c = {.endpoint = "https://127.0.0.1:6443", .cluster = "prod",
				 .role_arn = "arn:aws:iam::111122223333:role/deploy", .http = h};
	struct sf_kube *k = NULL;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_kube_new(&k, &c, &src, &err), 0);
	T_EQ(m.calls, 0); /* minted on first use */
	T_EQ(sf_kube_request(k, "GET", "/version", NULL, NULL, NULL, NULL, &err), 0);
	T_EQ(sf_kube_request(k, "GET", "/version", NULL, NULL, NULL, NULL, &err), 0);
	T_EQ(m.calls, 2); /* cached for the first two requests, fresh after the 401 */
	T_STREQ(m.cluster, "prod");
	T_STREQ(m.role, "arn:aws:iam::111122223333:role/deploy");
	T_STREQ(s.auth[0], "Bearer tok-1");
	T_STREQ(s.auth[1], "Bearer tok-1");
	T_STREQ(s.auth[2], "Bearer tok-2");
	sf_kube_free(k);
	/* no static token and no source: refused before any request */
	T_EQ(sf_kube_new(&k, &c, NULL, &err), SF_EAUTH);
	T_EQ(s.nreq, 3);
	/* refused again with the fresh token (the authenticator could not
	 * reach STS): retried with backoff and a new token each time */
	script_release(&s);
	s = (struct script){.n = 3,
			    .r = {{401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}", NULL},
				  {401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}", NULL},
				  {200, "{}", NULL}}};
	m.calls = 0;
	T_EQ(sf_kube_new(&k, &c, &src, &err), 0);
	T_EQ(sf_kube_request(k, "GET", "/version", NULL, NULL, NULL, NULL, &err), 0);
	T_EQ(s.nreq, 3);
	T_EQ(m.calls, 3);
	T_STREQ(s.auth[2], "Bearer tok-3");
	sf_kube_free(k);
	/* a refusal that persists stands after the attempts (5) */
	script_release(&s);
	s = (struct script){.n = 6};
	for (size_t i = 0; i < s.n; i++)
		s.r[i] = (struct reply){401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}", NULL};
	T_EQ(sf_kube_new(&k, &c, &src, &err), 0);
	T_EQ(sf_kube_request(k, "GET", "/version", NULL, NULL, NULL, NULL, &err), SF_EAUTH);
	T_EQ(s.nreq, 6); /* the free re-mint, then 5 attempts */
	T_CONTAINS(err.hint, "bearer token");
	sf_kube_free(k);
	sf_http_free(h);
	script_release(&s);
}

/* A type's own poll on the Kubernetes wait: progress after each poll,
 * done ends it, a poll's error ends it as
 * is, the cancel flag stops it before the next poll, and a timeout names
 * the last status. */
struct own_poll {
	int polls, done_at, fail_at;
	volatile int *cancel_at_2;
	char seen[256];
};

static int own_poll(void *ctx, char *status, size_t n, struct sf_err *err)
{
	struct own_poll *p = ctx;
	p->polls++;
	if (p->fail_at && p->polls == p->fail_at)
		return sf_fail(err, SF_EAUTH, "forbidden");
	if (p->polls == p->done_at) {
		snprintf(status, n, "done");
		return SF_WAIT_DONE;
	}
	if (p->cancel_at_2 && p->polls == 2)
		*p->cancel_at_2 = 1;
	snprintf(status, n, "poll %d", p->polls);
	return SF_WAIT_PENDING;
}

static void own_progress(void *ctx, const char *status)
{
	struct own_poll *p = ctx;
	size_t l = strlen(p->seen);
	snprintf(p->seen + l, sizeof p->seen - l, "[%s]", status);
}

T_TEST(own_poll_on_the_kubernetes_wait)
{
	struct sf_err err = SF_ERR_INIT;
	struct own_poll p = {.done_at = 3};
	struct sf_kube_wait w = {.timeout_s = 30, .interval_s = 0.001, .progress = own_progress, .ctx = &p};
	T_EQ(sf_kube_wait_until(&w, own_poll, &p, &err), 0);
	T_EQ(p.polls, 3);
	T_STREQ(p.seen, "[poll 1][poll 2][done]");

	p = (struct own_poll){.done_at = 9, .fail_at = 2};
	w.ctx = &p;
	T_EQ(sf_kube_wait_until(&w, own_poll, &p, &err), SF_EAUTH);
	T_STREQ(err.msg, "forbidden");
	T_EQ(p.polls, 2);

	volatile int cancel = 0;
	p = (struct own_poll){.done_at = 9, .cancel_at_2 = &cancel};
	w.ctx = &p;
	w.cancel = &cancel;
	T_EQ(sf_kube_wait_until(&w, own_poll, &p, &err), SF_EINTR);
	T_EQ(p.polls, 2);
	T_CONTAINS(err.msg, "interrupted");

	/* a deadline shorter than one pause: one poll, then the timeout */
	p = (struct own_poll){.done_at = 9};
	struct sf_kube_wait once = {.timeout_s = 0.5, .interval_s = 60, .progress = own_progress, .ctx = &p};
	T_EQ(sf_kube_wait_until(&once, own_poll, &p, &err), SF_ETIMEOUT);
	T_EQ(p.polls, 1);
	T_CONTAINS(err.msg, "poll 1");
}

/* Pauses that start short and double up to the interval; without a
 * first pause every one is the interval. */
T_TEST(kubernetes_wait_pauses_ramp_up_to_the_interval)
{
	struct sf_kube_wait w = {.interval_s = 0.5, .first_interval_s = 0.05};
	T_OK(sf_kube_pause(&w, 1) == 0.05);
	T_OK(sf_kube_pause(&w, 2) == 0.1);
	T_OK(sf_kube_pause(&w, 4) == 0.4);
	T_OK(sf_kube_pause(&w, 5) == 0.5);
	T_OK(sf_kube_pause(&w, 1000) == 0.5);
	w.first_interval_s = 0;
	T_OK(sf_kube_pause(&w, 1) == 0.5);
	w.interval_s = 0;
	T_OK(sf_kube_pause(&w, 3) == 1.0);
	T_OK(sf_kube_pause(NULL, 3) == 1.0);
}

T_MAIN()
