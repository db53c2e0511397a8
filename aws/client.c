/* client.c - see client.h. The request pipeline: endpoint, credentials,
 * sign, send, decode, retry. */
#include "aws/client.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/awserr.h"
#include "aws/json_proto.h"
#include "aws/query.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "log.h"
#include "util.h"

#define MAX_PAGES 1000
/* AWS refuses a signature 5 minutes (some services 15) off its clock; a
 * reply whose Date is within a minute of ours says the clocks agree. */
#define SF_AWS_SKEW_AGREE_S 60.0

struct sf_aws {
	struct sf_aws_config *cfg;
	int own_cfg;
	char *region;
	struct sf_http *http;
	int own_http;
	const struct sf_clock *clock;
	struct sf_retry retry;
	char *ca_bundle;
	double timeout_s, connect_timeout_s;
	struct sf_creds_provider *creds;
	pthread_mutex_t mu; /* guards skew and server_date */
	double skew;        /* server time - local time, seconds */
	double server_date; /* Date header of the last reply (unix s); 0: none yet */
};

typedef int (*decode_fn)(const char *service, const char *op, long status, const struct sf_hdrs *h,
			 const char *body, size_t n, json_t **out, char *request_id, struct sf_err *err);

struct call {
	const char *service;
	const char *op;
	const char *method;
	const char *path;  /* wire path, "/" if NULL */
	const char *query; /* wire query without '?', may be NULL */
	const char *ctype;
	const char *target;
	const char *body;
	size_t body_len;
	int explicit_signer;                /* use `signer` instead of the provider */
	const struct sf_aws_creds *signer;  /* NULL with explicit_signer: unsigned */
	decode_fn decode;
	/* Not safe to repeat blindly (see sf_aws_query_once): no retry after
	 * a failure whose outcome is unknown; *unknown tells the caller. */
	int once;
	int *unknown;
};

const char *sf_aws_region(const struct sf_aws *c)
{
	return c->region;
}

const char *sf_aws_partition_of(const struct sf_aws *c)
{
	return sf_aws_partition(c->region);
}

const struct sf_clock *sf_aws_clock(const struct sf_aws *c)
{
	return c->clock;
}

struct sf_retry *sf_aws_retry_state(struct sf_aws *c)
{
	return &c->retry;
}

double sf_aws_server_date(struct sf_aws *c)
{
	pthread_mutex_lock(&c->mu);
	double d = c->server_date;
	pthread_mutex_unlock(&c->mu);
	return d;
}

static double now_skewed(struct sf_aws *c)
{
	pthread_mutex_lock(&c->mu);
	double s = c->skew;
	pthread_mutex_unlock(&c->mu);
	return c->clock->now(c->clock->ctx) + s;
}

/* Split "https://host:port/base" into origin and base path (no trailing '/'). */
static void split_url(const char *url, char **origin, char **host, char **base)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	*origin = xstrndup(url, (size_t)(p - url) + hl);
	*host = xstrndup(p, hl);
	const char *at = memchr(*host, '@', hl);
	if (at) { /* never sign userinfo */
		char *h = xstrdup(at + 1);
		free(*host);
		*host = h;
	}
	char *b = xstrdup(slash ? slash : "");
	size_t bl = strlen(b);
	while (bl && b[bl - 1] == '/')
		b[--bl] = 0;
	*base = b;
}

/* After a failed attempt: may AWS have carried the request out?  Yes
 * unless it answered with an error that says it did not: a 4xx with an
 * error code, or a throttling/transient refusal (AWS checks those before
 * acting).  A transport failure (the request may have arrived), a 5xx, or
 * a 2xx whose body was cut or unreadable leave the outcome unknown. */
static int outcome_unknown(int trc, long status, int rc, int kind)
{
	if (trc < 0)
		return 1;
	if (kind == SF_RETRY_THROTTLE)
		return 0;
	if (status >= 500)
		return 1;
	if (status >= 200 && status < 300)
		return rc < 0; /* truncated or unparsable reply */
	return 0;
}

static int do_call(struct sf_aws *c, const struct call *k, json_t **out, struct sf_err *err)
{
	int rc;
	struct sf_aws_endpoint ep;
	struct sf_aws_creds creds = SF_AWS_CREDS_INIT;
	struct sf_http_resp resp = SF_HTTP_RESP_INIT;
	char *origin = NULL, *host = NULL, *base = NULL, *path = NULL, *url = NULL;
	int skew_retried = 0, cost = 0, no_reply = 0;
	int budget = sf_retry_budget(&c->retry, !k->once);
	*out = NULL;

	rc = sf_aws_resolve_endpoint(c->cfg, k->service, c->region, &ep, err);
	if (rc < 0)
		goto done;
	if (!k->explicit_signer) {
		rc = sf_creds_get(c->creds, &creds, err);
		if (rc < 0) {
			sf_err_prefix(err, "%s %s: ", k->service, k->op);
			goto done;
		}
	} else if (k->signer) {
		sf_aws_creds_copy(&creds, k->signer);
	}
	split_url(ep.url, &origin, &host, &base);
	path = xasprintf("%s%s", base, k->path && *k->path ? k->path : "/");
	url = k->query && *k->query ? xasprintf("%s%s?%s", origin, path, k->query) : xasprintf("%s%s", origin, path);

	for (int attempt = 1;; attempt++) {
		struct sf_hdrs h = SF_HDRS_INIT;
		struct sf_err aerr = SF_ERR_INIT;
		char amz[20], rid[96] = "";
		sf_hdrs_add(&h, "Host", host);
		if (k->ctype)
			sf_hdrs_add(&h, "Content-Type", k->ctype);
		if (k->target)
			sf_hdrs_add(&h, "X-Amz-Target", k->target);
		if (creds.access_key) {
			struct sf_sigv4_params sp = {ep.signing_name, ep.signing_region,
						     sf_sigv4_amz_date(amz, sizeof amz, now_skewed(c)),
						     creds.access_key, creds.secret_key, creds.session_token, 0};
			if (sf_sigv4_sign(&h, k->method, path, k->query, k->body, k->body_len, &sp, NULL) < 0) {
				sf_hdrs_release(&h);
				rc = sf_fail(err, SF_EAUTH, "%s %s: cannot sign the request (incomplete credentials)",
					     k->service, k->op);
				goto done;
			}
		}
		struct sf_http_req rq = {0};
		rq.method = k->method;
		rq.url = url;
		rq.headers = &h;
		rq.body = k->body;
		rq.body_len = k->body_len;
		rq.timeout_s = c->timeout_s;
		rq.connect_timeout_s = c->connect_timeout_s;
		rq.ca_file = c->ca_bundle;
		rq.ca_hint = "AWS_CA_BUNDLE, or ca_bundle in the profile";
		double t0 = sf_mono();
		int trc = sf_http_send(c->http, &rq, &resp, &aerr);
		double dt = sf_mono() - t0;
		sf_hdrs_release(&h);
		no_reply = trc != 0 && !resp.timed_out;
		if (trc == 0) {
			json_t *doc = NULL;
			double sd;
			const char *dh = sf_hdrs_get(&resp.headers, "Date");
			if (dh && sf_http_date_parse(dh, &sd) == 0) {
				pthread_mutex_lock(&c->mu);
				c->server_date = sd;
				pthread_mutex_unlock(&c->mu);
			}
			rc = k->decode(k->service, k->op, resp.status, &resp.headers, sf_buf_cstr(&resp.body),
				       resp.body.len, &doc, rid, &aerr);
			sf_debug("aws: %s %s -> HTTP %ld%s%s attempt %d/%d %.3fs request-id %s", k->service, k->op,
				 resp.status, rc < 0 && aerr.aws_code[0] ? " " : "", rc < 0 ? aerr.aws_code : "", attempt,
				 budget, dt, rid[0] ? rid : "-");
			if (rc == 0) {
				sf_retry_success(&c->retry, cost);
				*out = doc;
				goto done;
			}
		} else {
			rc = trc;
			sf_debug("aws: %s %s -> %s attempt %d/%d %.3fs", k->service, k->op,
				 resp.timed_out ? "timeout" : "connection error", attempt, budget, dt);
		}
		int kind = sf_retry_classify(trc, resp.timed_out, trc == 0 ? resp.status : 0, aerr.aws_code, aerr.msg);
		if (trc == 0 && rc == SF_ETRANSIENT && kind == SF_RETRY_NO)
			kind = SF_RETRY_TRANSIENT; /* truncated body */
		if (k->once && outcome_unknown(trc, resp.status, rc, kind)) {
			if (k->unknown)
				*k->unknown = 1;
			if (err)
				*err = aerr;
			sf_debug("aws: %s %s: outcome unknown (%s); not repeated blindly", k->service, k->op,
				 aerr.aws_code[0] ? aerr.aws_code : aerr.msg);
			goto done;
		}
		if (err)
			*err = aerr;
		if (kind == SF_RETRY_SKEW) {
			double server;
			const char *date = sf_hdrs_get(&resp.headers, "Date");
			if (skew_retried || !date || sf_http_date_parse(date, &server) < 0)
				goto done;
			double off = server - c->clock->now(c->clock->ctx);
			if (fabs(off) < SF_AWS_SKEW_AGREE_S) {
				/* the clocks agree, so it was the credentials
				 * that expired (EC2's RequestExpired says both):
				 * fetch them again, once */
				if (k->explicit_signer)
					goto done;
				sf_info("aws: %s %s: %s with the clocks in step; fetching the credentials again",
					k->service, k->op, aerr.aws_code);
				sf_creds_invalidate(c->creds);
				sf_aws_creds_release(&creds);
				int crc = sf_creds_get(c->creds, &creds, err);
				if (crc < 0) {
					sf_err_prefix(err, "%s %s: ", k->service, k->op);
					rc = crc;
					goto done;
				}
				skew_retried = 1;
				continue;
			}
			pthread_mutex_lock(&c->mu);
			c->skew = off;
			pthread_mutex_unlock(&c->mu);
			sf_info("aws: clock skew of %.0fs detected from %s %s; re-signing", off, k->service, k->op);
			skew_retried = 1;
			continue;
		}
		if (aerr.code == SF_EAUTH && aerr.aws_code[0] && strstr(aerr.aws_code, "Expired") && !k->explicit_signer)
			sf_creds_invalidate(c->creds);
		if (kind == SF_RETRY_NO || attempt >= budget)
			goto done;
		cost = sf_retry_acquire(&c->retry, kind);
		if (!cost) {
			sf_debug("aws: retry quota exhausted; not retrying %s %s", k->service, k->op);
			goto done;
		}
		/* each round's backoff starts over, so a long budget keeps
		 * the SDK's short pauses instead of sitting at the cap */
		struct sf_backoff bo = sf_retry_backoff(&c->retry);
		double d = sf_backoff_delay(&bo, (attempt - 1) % c->retry.max_attempts, c->clock->rand01(c->clock->ctx));
		sf_debug("aws: retrying %s %s in %.2fs (%s)", k->service, k->op, d, aerr.aws_code[0] ? aerr.aws_code : aerr.msg);
		c->clock->sleep(c->clock->ctx, d);
	}
done:
	if (rc == SF_ETRANSIENT && no_reply && ep.variant[0] && err)
		/* the rules give a host for every region; AWS runs far fewer */
		sf_err_hint(err, "%s endpoints are on (AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT): %s may have "
				 "no %s endpoint in %s; check AWS's endpoint list or turn the setting off",
			    ep.variant, k->service, ep.variant, c->region);
	sf_http_resp_release(&resp);
	sf_aws_creds_release(&creds);
	free(origin);
	free(host);
	free(base);
	free(path);
	free(url);
	return rc < 0 ? rc : 0;
}

/* ---- protocols ---- */

static int query_call(struct sf_aws *c, const char *service, const char *action, const json_t *params, int explicit_signer,
		      const struct sf_aws_creds *signer, int *unknown, json_t **out, struct sf_err *err)
{
	const struct sf_aws_service *svc = sf_aws_service_find(service);
	*out = NULL;
	if (!svc || (svc->protocol != SF_PROTO_EC2 && svc->protocol != SF_PROTO_QUERY))
		return sf_fail(err, SF_EINVAL, "%s is not a query-protocol service", service ? service : "(null)");
	struct sf_buf body = SF_BUF_INIT;
	int rc = sf_query_encode(&body, action, svc->version, params, svc->protocol == SF_PROTO_EC2, err);
	if (rc == 0) {
		struct call k = {svc->id, action, "POST", "/", NULL, "application/x-www-form-urlencoded; charset=utf-8",
				 NULL, sf_buf_cstr(&body), body.len, explicit_signer, signer, sf_query_decode, unknown != NULL,
				 unknown};
		if (unknown)
			*unknown = 0;
		rc = do_call(c, &k, out, err);
	}
	sf_buf_release(&body);
	return rc;
}

int sf_aws_query(struct sf_aws *c, const char *service, const char *action, const json_t *params, json_t **out,
		 struct sf_err *err)
{
	return query_call(c, service, action, params, 0, NULL, NULL, out, err);
}

int sf_aws_query_once(struct sf_aws *c, const char *service, const char *action, const json_t *params, json_t **out,
		      int *unknown, struct sf_err *err)
{
	return query_call(c, service, action, params, 0, NULL, unknown, out, err);
}

static int rest_json_call(struct sf_aws *c, const char *service, const char *method, const char *path,
			  const char *query, const json_t *body, int *unknown, json_t **out, struct sf_err *err)
{
	const struct sf_aws_service *svc = sf_aws_service_find(service);
	*out = NULL;
	if (!svc || svc->protocol != SF_PROTO_REST_JSON)
		return sf_fail(err, SF_EINVAL, "%s is not a rest-json service", service ? service : "(null)");
	char *b = body ? sf_json_proto_encode(body) : NULL;
	char *op = xasprintf("%s %s", method, path);
	struct call k = {svc->id, op, method, path, query, b ? "application/json" : NULL, NULL, b, b ? strlen(b) : 0,
			 0, NULL, sf_json_proto_decode, unknown != NULL, unknown};
	if (unknown)
		*unknown = 0;
	int rc = do_call(c, &k, out, err);
	free(b);
	free(op);
	return rc;
}

int sf_aws_rest_json(struct sf_aws *c, const char *service, const char *method, const char *path,
		     const char *query, const json_t *body, json_t **out, struct sf_err *err)
{
	return rest_json_call(c, service, method, path, query, body, NULL, out, err);
}

int sf_aws_rest_json_once(struct sf_aws *c, const char *service, const char *method, const char *path,
			  const char *query, const json_t *body, json_t **out, int *unknown, struct sf_err *err)
{
	return rest_json_call(c, service, method, path, query, body, unknown, out, err);
}

int sf_aws_json(struct sf_aws *c, const char *service, const char *target, const json_t *body, json_t **out,
		struct sf_err *err)
{
	const struct sf_aws_service *svc = sf_aws_service_find(service);
	*out = NULL;
	if (!svc || svc->protocol != SF_PROTO_JSON)
		return sf_fail(err, SF_EINVAL, "%s is not a json-protocol service", service ? service : "(null)");
	char *b = sf_json_proto_encode(body);
	char ctype[48];
	snprintf(ctype, sizeof ctype, "application/x-amz-json-%s", svc->json_version);
	const char *dot = strrchr(target, '.');
	struct call k = {svc->id, dot ? dot + 1 : target, "POST", "/", NULL, ctype, target, b, strlen(b), 0, NULL,
			 sf_json_proto_decode, 0, NULL};
	int rc = do_call(c, &k, out, err);
	free(b);
	return rc;
}

char *sf_aws_label(const char *s)
{
	struct sf_buf b = SF_BUF_INIT;
	sf_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, 0);
	return sf_buf_detach(&b);
}

/* ---- client lifecycle ---- */

static int sts_hook(void *ctx, const struct sf_aws_creds *signer, const char *action, const json_t *params,
		    json_t **out, struct sf_err *err)
{
	return query_call(ctx, "sts", action, params, 1, signer, NULL, out, err);
}

int sf_aws_new(struct sf_aws **out, const struct sf_aws_opts *opts, struct sf_err *err)
{
	static const struct sf_aws_opts defaults = SF_AWS_OPTS_INIT;
	int rc;
	if (!opts)
		opts = &defaults;
	struct sf_aws *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	*out = NULL;
	c->clock = opts->clock ? opts->clock : sf_clock_system();
	c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 60;
	c->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 10;
	sf_retry_init(&c->retry, 3);
	if (opts->config) {
		c->cfg = opts->config;
	} else {
		rc = sf_aws_config_load(&c->cfg, opts->profile, err);
		if (rc < 0)
			goto fail;
		c->own_cfg = 1;
	}
	rc = sf_aws_resolve_region(c->cfg, opts->region, &c->region, err);
	if (rc < 0)
		goto fail;
	int max = opts->max_attempts, rounds = 1;
	if (max <= 0) {
		rc = sf_retry_parse_settings(sf_aws_config_setting(c->cfg, "AWS_MAX_ATTEMPTS", "max_attempts"),
					     sf_aws_config_setting(c->cfg, "AWS_RETRY_MODE", "retry_mode"), &max, &rounds,
					     err);
		if (rc < 0)
			goto fail;
	}
	c->retry.max_attempts = max;
	c->retry.rounds = rounds;
	c->ca_bundle = xstrdup(sf_aws_config_setting(c->cfg, "AWS_CA_BUNDLE", "ca_bundle"));
	if (opts->http) {
		c->http = opts->http;
	} else {
		rc = sf_http_curl_new(&c->http, err);
		if (rc < 0)
			goto fail;
		c->own_http = 1;
	}
	struct sf_creds_sts hook = {sts_hook, c};
	rc = sf_creds_provider_new(&c->creds, c->cfg, c->http, c->clock, &hook, err);
	if (rc < 0)
		goto fail;
	if (opts->creds_share)
		sf_creds_provider_share(c->creds, opts->creds_share);
	*out = c;
	return 0;
fail:
	sf_aws_free(c);
	return rc;
}

void sf_aws_free(struct sf_aws *c)
{
	if (!c)
		return;
	sf_creds_provider_free(c->creds);
	if (c->own_http)
		sf_http_free(c->http);
	if (c->own_cfg)
		sf_aws_config_free(c->cfg);
	sf_retry_destroy(&c->retry);
	pthread_mutex_destroy(&c->mu);
	free(c->region);
	free(c->ca_bundle);
	free(c);
}

int sf_aws_credentials(struct sf_aws *c, struct sf_aws_creds *out, struct sf_err *err)
{
	return sf_creds_get(c->creds, out, err);
}

/* ---- pagination ---- */

static const char *page_str(const json_t *page, const char *key)
{
	const char *v = json_string_value(json_object_get(page, key));
	return v && *v ? v : NULL;
}

int sf_aws_query_pages(struct sf_aws *c, const char *service, const char *action, const json_t *params,
		       sf_aws_page_fn fn, void *ctx, struct sf_err *err)
{
	json_t *p = params ? json_deep_copy(params) : json_object();
	char *prev = NULL;
	int rc = 0;
	for (int i = 0; i < MAX_PAGES; i++) {
		json_t *page = NULL;
		rc = sf_aws_query(c, service, action, p, &page, err);
		if (rc < 0)
			break;
		rc = fn(ctx, page, err);
		const char *next = NULL, *in = NULL;
		if ((next = page_str(page, "nextToken")) || (next = page_str(page, "NextToken")))
			in = "NextToken";
		else if ((next = page_str(page, "NextMarker")))
			in = "Marker";
		else if (page_str(page, "IsTruncated") && !strcmp(page_str(page, "IsTruncated"), "true") &&
			 (next = page_str(page, "Marker")))
			in = "Marker";
		if (rc < 0 || !next) {
			json_decref(page);
			break;
		}
		if (prev && !strcmp(prev, next)) {
			json_decref(page);
			rc = sf_fail(err, SF_EPROTO, "%s %s: pagination token repeats", service, action);
			break;
		}
		free(prev);
		prev = xstrdup(next);
		json_object_set_new(p, in, json_string(next));
		json_decref(page);
	}
	free(prev);
	json_decref(p);
	return rc < 0 ? rc : 0;
}

int sf_aws_rest_json_pages(struct sf_aws *c, const char *service, const char *path, const char *query,
			   sf_aws_page_fn fn, void *ctx, struct sf_err *err)
{
	char *token = NULL;
	int rc = 0;
	for (int i = 0; i < MAX_PAGES; i++) {
		json_t *page = NULL;
		char *q = NULL;
		if (token) {
			char *enc = sf_aws_label(token);
			q = query && *query ? xasprintf("%s&nextToken=%s", query, enc) : xasprintf("nextToken=%s", enc);
			free(enc);
		}
		rc = sf_aws_rest_json(c, service, "GET", path, q ? q : query, NULL, &page, err);
		free(q);
		if (rc < 0)
			break;
		rc = fn(ctx, page, err);
		const char *next = page_str(page, "nextToken");
		if (rc < 0 || !next) {
			json_decref(page);
			break;
		}
		if (token && !strcmp(token, next)) {
			/* as the other pagers: a listing cut short is not whole */
			json_decref(page);
			rc = sf_fail(err, SF_EPROTO, "%s GET %s: pagination token repeats", service, path);
			break;
		}
		free(token);
		token = xstrdup(next);
		json_decref(page);
	}
	free(token);
	return rc < 0 ? rc : 0;
}

int sf_aws_json_pages(struct sf_aws *c, const char *service, const char *target, const json_t *body,
		      sf_aws_page_fn fn, void *ctx, struct sf_err *err)
{
	json_t *b = body ? json_deep_copy(body) : json_object();
	int rc = 0;
	char *prev = NULL;
	for (int i = 0; i < MAX_PAGES; i++) {
		json_t *page = NULL;
		rc = sf_aws_json(c, service, target, b, &page, err);
		if (rc < 0)
			break;
		rc = fn(ctx, page, err);
		const char *next = page_str(page, "NextToken");
		if (rc < 0 || !next || (prev && !strcmp(prev, next))) {
			json_decref(page);
			break;
		}
		free(prev);
		prev = xstrdup(next);
		json_object_set_new(b, "NextToken", json_string(next));
		json_decref(page);
	}
	free(prev);
	json_decref(b);
	return rc < 0 ? rc : 0;
}

struct collect_ctx {
	const char *key;
	json_t *all;
};

static int collect_page(void *ctx, const json_t *page, struct sf_err *err)
{
	(void)err;
	struct collect_ctx *cc = ctx;
	json_t *l = sf_json_list(page, cc->key);
	json_array_extend(cc->all, l);
	json_decref(l);
	return 0;
}

int sf_aws_query_all(struct sf_aws *c, const char *service, const char *action, const json_t *params,
		     const char *list_key, json_t **out, struct sf_err *err)
{
	struct collect_ctx cc = {list_key, json_array()};
	int rc = sf_aws_query_pages(c, service, action, params, collect_page, &cc, err);
	if (rc < 0) {
		json_decref(cc.all);
		*out = NULL;
		return rc;
	}
	*out = cc.all;
	return 0;
}

/* ---- identity and EKS token ---- */

int sf_aws_whoami(struct sf_aws *c, struct sf_aws_identity *out, struct sf_err *err)
{
	json_t *r = NULL;
	struct sf_aws_creds cr = SF_AWS_CREDS_INIT;
	memset(out, 0, sizeof *out);
	int rc = sf_aws_query(c, "sts", "GetCallerIdentity", NULL, &r, err);
	if (rc < 0)
		return rc;
	const char *acct = json_string_value(json_object_get(r, "Account"));
	const char *arn = json_string_value(json_object_get(r, "Arn"));
	const char *uid = json_string_value(json_object_get(r, "UserId"));
	if (!acct || !arn) {
		json_decref(r);
		return sf_fail(err, SF_EPROTO, "sts GetCallerIdentity: reply has no Account/Arn");
	}
	snprintf(out->account, sizeof out->account, "%s", acct);
	snprintf(out->arn, sizeof out->arn, "%s", arn);
	snprintf(out->user_id, sizeof out->user_id, "%s", uid ? uid : "");
	snprintf(out->region, sizeof out->region, "%s", c->region);
	json_decref(r);
	if (sf_creds_get(c->creds, &cr, NULL) == 0)
		snprintf(out->source, sizeof out->source, "%s", cr.source);
	sf_aws_creds_release(&cr);
	return 0;
}

static char *base64url_nopad(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	out[len] = 0;
	while (len > 0 && out[len - 1] == '=')
		out[--len] = 0;
	for (char *p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	return out;
}

int sf_eks_token(struct sf_aws *c, const char *cluster, const char *role_arn, char **token, double *expires,
		 struct sf_err *err)
{
	struct sf_aws_creds cr = SF_AWS_CREDS_INIT;
	struct sf_aws_endpoint ep;
	struct sf_hdrs h = SF_HDRS_INIT;
	char *origin = NULL, *host = NULL, *base = NULL, *path = NULL, *q = NULL, *url = NULL;
	int rc;
	*token = NULL;
	if (!cluster || !*cluster)
		return sf_fail(err, SF_EINVAL, "eks token: the cluster name is empty");
	rc = sf_creds_get(c->creds, &cr, err);
	if (rc < 0)
		goto done;
	if (role_arn && *role_arn) {
		struct sf_aws_creds assumed = SF_AWS_CREDS_INIT;
		json_t *res = NULL;
		json_t *params = json_pack("{s:s, s:s, s:i}", "RoleArn", role_arn, "RoleSessionName", "secfaas-eks-token",
					   "DurationSeconds", 900);
		rc = query_call(c, "sts", "AssumeRole", params, 1, &cr, NULL, &res, err);
		json_decref(params);
		if (rc == 0)
			rc = sf_creds_from_json(json_object_get(res, "Credentials"), &assumed, "sts AssumeRole", err);
		json_decref(res);
		if (rc < 0) {
			sf_err_prefix(err, "assuming %s for the EKS token: ", role_arn);
			goto done;
		}
		sf_aws_creds_release(&cr);
		cr = assumed;
	}
	rc = sf_aws_resolve_endpoint(c->cfg, "sts", c->region, &ep, err);
	if (rc < 0)
		goto done;
	split_url(ep.url, &origin, &host, &base);
	path = xasprintf("%s/", base);
	sf_hdrs_add(&h, "Host", host);
	sf_hdrs_add(&h, "x-k8s-aws-id", cluster);
	char amz[20];
	double now = now_skewed(c);
	struct sf_sigv4_params sp = {ep.signing_name, ep.signing_region, sf_sigv4_amz_date(amz, sizeof amz, now),
				     cr.access_key, cr.secret_key, cr.session_token, 0};
	q = sf_sigv4_presign(&h, "GET", path, "Action=GetCallerIdentity&Version=2011-06-15", 60, &sp, NULL);
	if (!q) {
		rc = sf_fail(err, SF_EAUTH, "eks token: cannot presign (incomplete credentials)");
		goto done;
	}
	url = xasprintf("%s%s?%s", origin, path, q);
	char *b64 = base64url_nopad(url);
	*token = xasprintf("k8s-aws-v1.%s", b64);
	free(b64);
	if (expires)
		*expires = now + 14 * 60;
	rc = 0;
done:
	sf_aws_creds_release(&cr);
	sf_hdrs_release(&h);
	free(origin);
	free(host);
	free(base);
	free(path);
	free(q);
	free(url);
	return rc;
}

int sf_eks_mint(void *aws, const char *cluster, const char *role_arn, char **token, double *expires,
		struct sf_err *err)
{
	return sf_eks_token(aws, cluster, role_arn, token, expires, err);
}

char *sf_eks_exec_credential(const char *token, double expires, const char *api_version)
{
	char ts[32];
	sf_time_rfc3339(ts, sizeof ts, expires);
	json_t *o = json_pack("{s:s, s:s, s:{}, s:{s:s, s:s}}", "kind", "ExecCredential", "apiVersion",
			      api_version && *api_version ? api_version : "client.authentication.k8s.io/v1beta1", "spec",
			      "status", "expirationTimestamp", ts, "token", token);
	char *s = json_dumps(o, JSON_COMPACT);
	char *r = xstrdup(s);
	free(s);
	json_decref(o);
	return r;
}

void sf_aws_idempotency_token(char out[37], const char *key)
{
	char hex[65];
	sf_sha256_hex(hex, key ? key : "", key ? strlen(key) : 0);
	hex[12] = '4'; /* look like a v4 UUID: services validate the shape */
	hex[16] = "89ab"[hex[16] % 4];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}
