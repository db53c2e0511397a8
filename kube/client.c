/* client.c - connection, token, transport and error mapping (see kube.h). */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http.h"
#include "kube/internal.h"
#include "log.h"
#include "util.h"

#define KUBE_ATTEMPTS 5
#define KUBE_BACKOFF_BASE_S 0.2
#define KUBE_BACKOFF_CAP_S 20.0
#define KUBE_RETRY_AFTER_MAX_S 30.0

char *sf_kube_b64decode(const char *s, size_t *len)
{
	if (!s)
		return NULL;
	/* Drop whitespace (wrapped PEM base64) before decoding. */
	size_t n = strlen(s), m = 0;
	char *clean = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\n' && s[i] != '\r' && s[i] != ' ' && s[i] != '\t')
			clean[m++] = s[i];
	clean[m] = 0;
	if (m == 0 || m % 4) {
		free(clean);
		return NULL;
	}
	unsigned char *out = xmalloc(m / 4 * 3 + 1);
	int r = EVP_DecodeBlock(out, (const unsigned char *)clean, (int)m);
	if (r < 0) {
		free(clean);
		free(out);
		return NULL;
	}
	size_t pad = 0;
	if (m >= 1 && clean[m - 1] == '=')
		pad++;
	if (m >= 2 && clean[m - 2] == '=')
		pad++;
	free(clean);
	size_t l = (size_t)r - pad;
	out[l] = 0;
	if (len)
		*len = l;
	return (char *)out;
}

int sf_kube_new(struct sf_kube **out, const struct sf_kube_conn *conn, const struct sf_kube_token_source *tokens,
		struct sf_err *err)
{
	*out = NULL;
	if (!conn->endpoint || !*conn->endpoint)
		return sf_fail(err, SF_EINVAL, "kubernetes endpoint is empty");
	if (strncmp(conn->endpoint, "https://", 8))
		return sf_fail(err, SF_EINVAL, "kubernetes endpoint %s is not https (credentials are only sent over TLS)",
			       conn->endpoint);
	struct sf_kube *k = xcalloc(1, sizeof *k);
	k->endpoint = xstrdup(conn->endpoint);
	size_t el = strlen(k->endpoint);
	while (el > 8 && k->endpoint[el - 1] == '/')
		k->endpoint[--el] = 0;
	if (conn->ca_b64 && *conn->ca_b64) {
		k->ca_pem = sf_kube_b64decode(conn->ca_b64, &k->ca_len);
		if (!k->ca_pem || !strstr(k->ca_pem, "-----BEGIN CERTIFICATE-----")) {
			sf_kube_free(k);
			return sf_fail(err, SF_EINVAL, "cluster CA for %s is not base64 of a PEM certificate", conn->endpoint);
		}
	}
	k->cluster = xstrdup(conn->cluster);
	k->role_arn = xstrdup(conn->role_arn);
	k->static_token = conn->token && *conn->token ? xstrdup(conn->token) : NULL;
	if (tokens)
		k->tokens = *tokens;
	k->timeout_s = conn->timeout_s > 0 ? conn->timeout_s : 60;
	k->backoff = (struct sf_backoff){conn->max_attempts > 0 ? conn->max_attempts : KUBE_ATTEMPTS, KUBE_BACKOFF_BASE_S,
					 KUBE_BACKOFF_CAP_S};
	k->clock = conn->clock ? conn->clock : sf_clock_system();
	if (!k->static_token && (!k->tokens.mint || !k->cluster || !*k->cluster)) {
		sf_kube_free(k);
		return sf_fail(err, SF_EAUTH, "no credentials for %s: need a cluster name and AWS credentials, or a token",
			       conn->endpoint);
	}
	k->http = conn->http;
	if (!k->http) {
		int rc = sf_http_curl_new(&k->http, err);
		if (rc < 0) {
			sf_kube_free(k);
			return rc;
		}
		k->own_http = 1;
	}
	pthread_mutex_init(&k->mu, NULL);
	k->mu_init = 1;
	*out = k;
	return 0;
}

void sf_kube_free(struct sf_kube *k)
{
	if (!k)
		return;
	free(k->endpoint);
	free(k->ca_pem);
	free(k->cluster);
	free(k->role_arn);
	free(k->static_token);
	free(k->token);
	for (size_t i = 0; i < k->ndisc; i++) {
		free(k->disc[i].gv);
		free(k->disc[i].kind);
		free(k->disc[i].plural);
	}
	free(k->disc);
	if (k->mu_init)
		pthread_mutex_destroy(&k->mu);
	if (k->own_http)
		sf_http_free(k->http);
	free(k);
}

const char *sf_kube_endpoint(const struct sf_kube *k)
{
	return k->endpoint;
}

/* Current bearer token (owned copy). force: mint a fresh one (after a 401). */
static int bearer(struct sf_kube *k, int force, char **out, struct sf_err *err)
{
	*out = NULL;
	if (k->static_token) {
		*out = xstrdup(k->static_token);
		return 0;
	}
	int rc = 0;
	pthread_mutex_lock(&k->mu);
	if (force || !k->token || sf_now() > k->token_expires - 60) {
		char *t = NULL;
		double exp = 0;
		rc = k->tokens.mint(k->tokens.ctx, k->cluster, k->role_arn, &t, &exp, err);
		if (rc == 0) {
			free(k->token);
			k->token = t;
			k->token_expires = exp;
		}
	}
	if (rc == 0)
		*out = xstrdup(k->token);
	pthread_mutex_unlock(&k->mu);
	return rc;
}

static int code_for(long status, const char *reason)
{
	switch (status) {
	case 401: return SF_EAUTH;
	case 403: return reason && !strcmp(reason, "Forbidden") ? SF_EAUTH : SF_EINVAL;
	case 404: return SF_ENOTFOUND;
	case 409: return SF_ECONFLICT;
	case 410: return SF_ESTALE;
	case 400:
	case 415:
	case 422: return SF_EINVAL;
	case 429: return SF_ETHROTTLED;
	}
	return status >= 500 ? SF_ETRANSIENT : SF_ERROR;
}

int sf_kube_status_error(long status, const char *body, const char *what, struct sf_err *err)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));
	const char *reason = json_string_value(json_object_get(j, "reason"));
	int code = code_for(status, reason);
	/* Admission denials come back as 403 Forbidden too, but they are not
	 * credential problems: keep them as invalid requests. */
	if (status == 403 && msg && (strstr(msg, "denied request") || strstr(msg, "pod rejected") ||
				     strstr(msg, "is forbidden: violates") || strstr(msg, "RuntimeClass")))
		code = SF_EINVAL;
	struct sf_buf b = SF_BUF_INIT;
	sf_buf_printf(&b, "%s: ", what ? what : "kubernetes");
	if (msg && *msg) {
		for (const char *p = msg; *p; p++)
			sf_buf_putc(&b, *p == '\n' ? ' ' : *p);
	} else if (body && *body && !j) {
		/* A proxy or a not-yet-ready endpoint: show the start of the body. */
		size_t l = strcspn(body, "\r\n");
		sf_buf_append(&b, body, l > 200 ? 200 : l);
	} else {
		sf_buf_printf(&b, "HTTP %ld", status);
	}
	if (status == 409 && reason && !strcmp(reason, "Conflict")) {
		json_t *causes = json_object_get(json_object_get(j, "details"), "causes");
		if (json_array_size(causes) && msg && !strstr(msg, "conflict with"))
			sf_buf_puts(&b, " (field manager conflict)");
	}
	sf_fail(err, code, "%s", sf_buf_cstr(&b));
	if (err) {
		err->http_status = (int)status;
		snprintf(err->aws_code, sizeof err->aws_code, "%s", reason ? reason : "");
		if (status == 401)
			sf_err_hint(err, "the bearer token was refused: check AWS credentials and the cluster's access entries");
		else if (status == 409 && msg && strstr(msg, "Apply failed"))
			sf_err_hint(err, "another field manager owns these fields; rerun with --force-conflicts to take them over");
	}
	sf_buf_release(&b);
	json_decref(j);
	return code;
}

static int do_request(struct sf_kube *k, const char *method, const char *path, const char *ctype, const char *body,
		      struct sf_http_resp *rs, struct sf_err *err)
{
	char *url = xasprintf("%s%s", k->endpoint, path);
	int rc = 0, reauthed = 0;
	for (int attempt = 1;; attempt++) {
		char *tok = NULL;
		if ((rc = bearer(k, 0, &tok, err)) < 0)
			break;
		struct sf_hdrs hd = SF_HDRS_INIT;
		char *auth = xasprintf("Bearer %s", tok);
		sf_hdrs_add(&hd, "Authorization", auth);
		sf_hdrs_add(&hd, "Accept", "application/json");
		if (ctype)
			sf_hdrs_add(&hd, "Content-Type", ctype);
		struct sf_http_req rq = {.method = method, .url = url, .headers = &hd, .body = body,
					 .body_len = body ? strlen(body) : 0, .timeout_s = k->timeout_s,
					 .ca_pem = k->ca_pem, .ca_pem_len = k->ca_len,
					 .ca_hint = "the cluster's CA data (ca_data; EKS certificateAuthority.data)"};
		double t0 = sf_mono();
		rc = sf_http_send(k->http, &rq, rs, err);
		sf_debug("kube %s %s -> %ld (%.0f ms, attempt %d)", method, path, rs->status, (sf_mono() - t0) * 1000,
			 attempt);
		free(auth);
		free(tok);
		sf_hdrs_release(&hd);
		int kind = sf_retry_classify_http(rc, rs->timed_out, rc == 0 ? rs->status : 0);
		if (rc == 0 && rs->status == 401 && !k->static_token) {
			char *fresh = NULL;
			if ((rc = bearer(k, 1, &fresh, err)) < 0)
				break;
			free(fresh);
			if (!reauthed) {
				/* The token may have expired early (clock skew): mint
				 * once more, without counting an attempt. */
				reauthed = 1;
				attempt--;
				continue;
			}
			/* Refused again with a fresh token.  EKS's authenticator
			 * answers 401 as well when it could not ask STS about the
			 * token (a fault or throttling there), so the refusal
			 * stands only after the attempts a transient fault gets. */
			kind = SF_RETRY_TRANSIENT;
		}
		if (kind == SF_RETRY_NO || attempt >= k->backoff.max_attempts)
			break;
		double d = rc == 0 ? sf_retry_after(sf_hdrs_get(&rs->headers, "Retry-After"), KUBE_RETRY_AFTER_MAX_S) : -1;
		if (d < 0)
			d = sf_backoff_delay(&k->backoff, attempt - 1, k->clock->rand01(k->clock->ctx));
		k->clock->sleep(k->clock->ctx, d);
	}
	free(url);
	return rc;
}

int sf_kube_request_raw(struct sf_kube *k, const char *method, const char *path, const char *content_type,
			const char *body, long *status, char **out, struct sf_err *err)
{
	struct sf_http_resp rs = SF_HTTP_RESP_INIT;
	*out = NULL;
	int rc = do_request(k, method, path, content_type, body, &rs, err);
	if (status)
		*status = rs.status;
	if (rc == 0)
		*out = xstrdup(sf_buf_cstr(&rs.body));
	sf_http_resp_release(&rs);
	return rc;
}

int sf_kube_request(struct sf_kube *k, const char *method, const char *path, const char *content_type,
		    const char *body, long *status, json_t **out, struct sf_err *err)
{
	struct sf_http_resp rs = SF_HTTP_RESP_INIT;
	if (out)
		*out = NULL;
	int rc = do_request(k, method, path, content_type, body, &rs, err);
	if (status)
		*status = rs.status;
	if (rc < 0)
		goto done;
	if (rs.status < 200 || rs.status > 299) {
		char *what = xasprintf("%s %s", method, path);
		char *q = strchr(what, '?');
		if (q)
			*q = 0;
		rc = sf_kube_status_error(rs.status, sf_buf_cstr(&rs.body), what, err);
		free(what);
		goto done;
	}
	if (out) {
		json_t *j = rs.body.len ? json_loads(sf_buf_cstr(&rs.body), 0, NULL) : NULL;
		*out = j ? j : json_null();
	}
	for (size_t i = 0; i < rs.headers.n; i++)
		if (!strcasecmp(rs.headers.v[i].name, "Warning"))
			sf_warn("kubernetes: %s %s: %s", method, path, rs.headers.v[i].value);
done:
	sf_http_resp_release(&rs);
	return rc;
}
