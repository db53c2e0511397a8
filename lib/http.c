/* http.c - see http.h. libcurl transport, header lists, URI encoding. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- header lists ---- */

void sf_hdrs_add(struct sf_hdrs *h, const char *name, const char *value)
{
	if (h->n == h->alloc) {
		h->alloc = h->alloc ? h->alloc * 2 : 8;
		h->v = xrealloc(h->v, h->alloc * sizeof *h->v);
	}
	h->v[h->n].name = xstrdup(name);
	h->v[h->n].value = xstrdup(value ? value : "");
	h->n++;
}

void sf_hdrs_del(struct sf_hdrs *h, const char *name)
{
	size_t o = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (!strcasecmp(h->v[i].name, name)) {
			free(h->v[i].name);
			free(h->v[i].value);
			continue;
		}
		h->v[o++] = h->v[i];
	}
	h->n = o;
}

void sf_hdrs_set(struct sf_hdrs *h, const char *name, const char *value)
{
	sf_hdrs_del(h, name);
	sf_hdrs_add(h, name, value);
}

const char *sf_hdrs_get(const struct sf_hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcasecmp(h->v[i].name, name))
			return h->v[i].value;
	return NULL;
}

void sf_hdrs_release(struct sf_hdrs *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = h->alloc = 0;
}

void sf_http_resp_release(struct sf_http_resp *r)
{
	if (!r)
		return;
	sf_hdrs_release(&r->headers);
	sf_buf_release(&r->body);
	r->status = 0;
	r->timed_out = 0;
}

void sf_http_resp_reset(struct sf_http_resp *r)
{
	sf_http_resp_release(r);
}

/* ---- URI encoding ---- */

void sf_uri_encode(struct sf_buf *b, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
			sf_buf_putc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			sf_buf_append(b, e, 3);
		}
	}
	if (!n)
		sf_buf_append(b, "", 0);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *sf_uri_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return out;
}

/* ---- generic dispatch ---- */

struct sf_http *sf_http_wrap(const struct sf_http_ops *ops, void *ctx)
{
	struct sf_http *h = xcalloc(1, sizeof *h);
	h->ops = ops;
	h->ctx = ctx;
	return h;
}

int sf_http_send(struct sf_http *h, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err)
{
	sf_http_resp_reset(resp);
	return h->ops->send(h->ctx, req, resp, err);
}

void sf_http_free(struct sf_http *h)
{
	if (!h)
		return;
	if (h->ops && h->ops->destroy)
		h->ops->destroy(h->ctx);
	free(h);
}

/* ---- libcurl transport ---- */

#define POOL_MAX 16

struct curl_pool {
	pthread_mutex_t mu;
	CURL *idle[POOL_MAX];
	int nidle;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct recv_ctx {
	struct sf_http_resp *resp;
	size_t cap;
	int overflow;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct recv_ctx *rc = ud;
	size_t n = sz * nm;
	if (rc->resp->body.len + n > rc->cap) {
		rc->overflow = 1;
		return 0; /* abort the transfer: CURLE_WRITE_ERROR */
	}
	sf_buf_append(&rc->resp->body, p, n);
	return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct recv_ctx *rc = ud;
	size_t n = sz * nm;
	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after 100 Continue): forget earlier headers */
		sf_hdrs_release(&rc->resp->headers);
		return n;
	}
	const char *colon = memchr(p, ':', n);
	if (!colon)
		return n;
	char *name = xstrndup(p, (size_t)(colon - p));
	const char *v = colon + 1, *end = p + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	char *val = xstrndup(v, (size_t)(end - v));
	sf_hdrs_add(&rc->resp->headers, name, val);
	free(name);
	free(val);
	return n;
}

static CURL *pool_get(struct curl_pool *p)
{
	CURL *c = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->nidle > 0)
		c = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->mu);
	if (c)
		curl_easy_reset(c); /* keeps live connections, DNS and TLS session caches */
	else
		c = curl_easy_init();
	return c;
}

static void pool_put(struct curl_pool *p, CURL *c)
{
	pthread_mutex_lock(&p->mu);
	if (p->nidle < POOL_MAX) {
		p->idle[p->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (c)
		curl_easy_cleanup(c);
}

static int curl_send(void *ctx, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err)
{
	struct curl_pool *pool = ctx;
	int rc = SF_ERROR;
	struct curl_slist *hl = NULL;
	char ebuf[CURL_ERROR_SIZE] = {0};
	struct recv_ctx rctx = {resp, req->max_body ? req->max_body : 32u << 20, 0};
	CURL *c = pool_get(pool);
	if (!c)
		return sf_fail(err, SF_ERROR, "cannot create a libcurl handle");

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_bundle && *req->ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_bundle);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)((req->connect_timeout_s > 0 ? req->connect_timeout_s : 10) * 1000));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)((req->timeout_s > 0 ? req->timeout_s : 60) * 1000));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &rctx);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "secfaas/" SECFAAS_VERSION);

	const char *m = req->method ? req->method : "GET";
	if (!strcmp(m, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		if (req->body || strcmp(m, "DELETE")) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
		if (strcmp(m, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	}
	/* no "Expect: 100-continue" round trip; no implicit content type */
	hl = curl_slist_append(hl, "Expect:");
	if (!req->headers || !sf_hdrs_get(req->headers, "Content-Type"))
		hl = curl_slist_append(hl, "Content-Type:");
	for (size_t i = 0; req->headers && i < req->headers->n; i++) {
		char *line = xasprintf("%s: %s", req->headers->v[i].name, req->headers->v[i].value);
		hl = curl_slist_append(hl, line);
		free(line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		rc = 0;
		goto done;
	}
	const char *why = ebuf[0] ? ebuf : curl_easy_strerror(cc);
	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (rctx.overflow) {
			rc = sf_fail(err, SF_EPROTO, "reply from %s is larger than %zu bytes", req->url, rctx.cap);
			break;
		}
		rc = sf_fail(err, SF_ETRANSIENT, "receiving from %s: %s", req->url, why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		resp->timed_out = 1;
		rc = sf_fail(err, SF_ETRANSIENT, "request to %s timed out: %s", req->url, why);
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		rc = sf_fail(err, SF_EINVAL, "bad endpoint URL %s: %s", req->url, why);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		rc = sf_fail(err, SF_EINVAL, "cannot load CA bundle %s: %s", req->ca_bundle ? req->ca_bundle : "(system)", why);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		rc = sf_fail(err, SF_ERROR, "TLS certificate of %s not trusted: %s", req->url, why);
		sf_err_hint(err, "set AWS_CA_BUNDLE (or ca_bundle in the profile) to the CA that signed it");
		break;
	default:
		rc = sf_fail(err, SF_ETRANSIENT, "connection to %s failed: %s", req->url, why);
		break;
	}
done:
	curl_slist_free_all(hl);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	pool_put(pool, c);
	return rc;
}

static void curl_destroy(void *ctx)
{
	struct curl_pool *p = ctx;
	if (!p)
		return;
	for (int i = 0; i < p->nidle; i++)
		curl_easy_cleanup(p->idle[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static const struct sf_http_ops curl_ops = {curl_send, curl_destroy};

int sf_http_curl_new(struct sf_http **out, struct sf_err *err)
{
	(void)err;
	pthread_once(&curl_once, curl_init_once);
	struct curl_pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	*out = sf_http_wrap(&curl_ops, p);
	return 0;
}
