/* http.c - see http.h. libcurl transport, the failure mapping, header
 * lists, URI encoding. */
#include "http.h"

#include "dl.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
	r->unsent = 0;
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

/* ---- failures ---- */

/* "https://host:port" of a URL: what a message may show (the path and
 * query can carry presigned credentials). */
static void endpoint_of(char *out, size_t n, const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t len;
	if (!url)
		url = "(no URL)";
	if (p) {
		p += 3;
		len = (size_t)(p - url) + strcspn(p, "/?#");
		const char *at = memchr(p, '@', len - (size_t)(p - url));
		if (at) { /* never show userinfo */
			snprintf(out, n, "%.*s%.*s", (int)(p - url), url, (int)(len - (size_t)(at + 1 - url)), at + 1);
			return;
		}
	} else {
		len = strcspn(url, "?#");
	}
	snprintf(out, n, "%.*s", (int)len, url);
}

int sf_http_fail(struct sf_err *err, enum sf_http_failure f, const struct sf_http_req *req,
		 struct sf_http_resp *resp, const char *detail)
{
	char ep[192];
	const char *why = detail && *detail ? detail : "no detail";
	size_t cap = req->max_body ? req->max_body : SF_HTTP_MAX_BODY;
	int rc;
	endpoint_of(ep, sizeof ep, req->url);
	switch (f) {
	case SF_HTTP_CONNECT:
		if (resp)
			resp->unsent = 1;
		rc = sf_fail(err, SF_ETRANSIENT, "cannot connect to %s: %s", ep, why);
		sf_err_hint(err, "check the endpoint and that the service is up and reachable (proxy variables apply); "
				 "nothing was sent");
		break;
	case SF_HTTP_TIMEOUT:
		if (resp)
			resp->timed_out = 1;
		rc = sf_fail(err, SF_ETRANSIENT, "request to %s timed out: %s", ep, why);
		sf_err_hint(err, "the network or the service is slow; the request may have been applied");
		break;
	case SF_HTTP_DROPPED:
		rc = sf_fail(err, SF_ETRANSIENT, "connection to %s broke before the reply was complete: %s", ep, why);
		sf_err_hint(err, "the request may have been applied; run the command again to continue");
		break;
	case SF_HTTP_TLS:
		rc = sf_fail(err, SF_ETRANSIENT, "TLS handshake with %s failed: %s", ep, why);
		sf_err_hint(err, "check that the endpoint speaks HTTPS on this port");
		break;
	case SF_HTTP_UNTRUSTED:
		rc = sf_fail(err, SF_ERROR, "TLS verification of %s failed: its certificate is not trusted (%s)", ep,
			     why);
		sf_err_hint(err, "if this is the right endpoint, trust the CA that signed its certificate%s%s",
			    req->ca_hint ? ": " : "", req->ca_hint ? req->ca_hint : "");
		break;
	case SF_HTTP_BAD_CA:
		rc = sf_fail(err, SF_EINVAL, "cannot load the CA bundle %s for %s: %s",
			     req->ca_pem ? "(in memory)" : req->ca_file ? req->ca_file : "(system)", ep, why);
		sf_err_hint(err, "give a readable PEM file of CA certificates");
		break;
	case SF_HTTP_BAD_URL:
		rc = sf_fail(err, SF_EINVAL, "bad endpoint URL %s: %s", ep, why);
		break;
	case SF_HTTP_TOO_LARGE:
		rc = sf_fail(err, SF_EPROTO, "reply from %s is larger than %zu bytes", ep, cap);
		break;
	case SF_HTTP_CANCELLED:
		rc = sf_fail(err, SF_EINTR, "request to %s cancelled", ep);
		break;
	default:
		rc = sf_fail(err, SF_ETRANSIENT, "request to %s failed: %s", ep, why);
		break;
	}
	return rc;
}

/* Which failure a libcurl code is: the one table from CURLcode to errors. */
static enum sf_http_failure curl_failure(CURLcode cc, int overflow)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return SF_HTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return SF_HTTP_TIMEOUT;
	case CURLE_WRITE_ERROR:
		return overflow ? SF_HTTP_TOO_LARGE : SF_HTTP_DROPPED;
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return SF_HTTP_DROPPED;
	case CURLE_SSL_CONNECT_ERROR:
		return SF_HTTP_TLS;
	case CURLE_PEER_FAILED_VERIFICATION:
		return SF_HTTP_UNTRUSTED;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
		return SF_HTTP_BAD_CA;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return SF_HTTP_BAD_URL;
	case CURLE_ABORTED_BY_CALLBACK:
		return SF_HTTP_CANCELLED;
	default:
		return SF_HTTP_OTHER;
	}
}

int sf_http_date_parse(const char *s, double *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s)
		return -1;
	const char *e = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
	if (!e)
		return -1;
	*out = (double)timegm(&tm);
	return 0;
}

/* ---- libcurl transport ---- */

#define POOL_MAX 16

struct curl_pool {
	pthread_mutex_t mu;
	CURL *idle[POOL_MAX];
	int nidle;
};

/* libcurl is loaded when the first transport is made (lib/dl.h): commands
 * that never reach the network do not load it and its dependencies.
 * libcurl's type-checking macros for setopt/getinfo give way to the table. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define CURL_FNS(X)                                                                                        \
	X(curl_global_init) X(curl_global_cleanup) X(curl_version_info) X(curl_easy_init) X(curl_easy_reset) \
	X(curl_easy_cleanup) X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_perform)                   \
	X(curl_easy_strerror) X(curl_slist_append) X(curl_slist_free_all)
static struct {
	CURL_FNS(SF_DL_FIELD)
} lc;
static const char *const lc_names[] = {CURL_FNS(SF_DL_NAME)};
#define LC_SLOT(f) SF_DL_SLOT(lc, f)
static void *const lc_slots[] = {CURL_FNS(LC_SLOT)};
static struct sf_dl lc_dl = SF_DL_INIT(SF_SONAME_CURL, "libcurl4", lc_names, lc_slots);
#define curl_global_init lc.curl_global_init
#define curl_global_cleanup lc.curl_global_cleanup
#define curl_version_info lc.curl_version_info
#define curl_easy_init lc.curl_easy_init
#define curl_easy_reset lc.curl_easy_reset
#define curl_easy_cleanup lc.curl_easy_cleanup
#define curl_easy_setopt lc.curl_easy_setopt
#define curl_easy_getinfo lc.curl_easy_getinfo
#define curl_easy_perform lc.curl_easy_perform
#define curl_easy_strerror lc.curl_easy_strerror
#define curl_slist_append lc.curl_slist_append
#define curl_slist_free_all lc.curl_slist_free_all

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready; /* curl_global_init ran (under curl_once) */
static void curl_init_once(void)
{
	/* curl_global_init is not thread-safe in every libcurl: once, here */
	if (sf_dl_load(&lc_dl, NULL) == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		curl_ready = 1;
}

static int curl_load(struct sf_err *err)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_ready)
		return 0;
	if (sf_dl_load(&lc_dl, err) < 0)
		return err ? err->code : SF_ENOTFOUND;
	return sf_fail(err, SF_ERROR, "libcurl could not be initialised (curl_global_init failed)");
}

const char *sf_http_curl_version(void)
{
	if (curl_load(NULL) < 0)
		return "unavailable";
	return curl_version_info(CURLVERSION_NOW)->version;
}

void sf_http_shutdown(void)
{
	if (curl_ready)
		curl_global_cleanup();
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

/* The library's words for a failure, minus what varies from one run to
 * the next (libcurl's "after 3 ms" and byte counts), so the same failure
 * reads the same for every caller. */
static const char *curl_detail(CURL *c, CURLcode cc, enum sf_http_failure f, const char *ebuf,
			       const struct sf_http_req *req, char *buf, size_t n)
{
	long oserr = 0;
	curl_off_t pre = 0;
	switch (f) {
	case SF_HTTP_CONNECT:
		if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr > 0)
			return strerror_r((int)oserr, buf, n);
		break;
	case SF_HTTP_TIMEOUT:
		/* nothing was sent yet: the connect (TCP + TLS) timeout fired */
		if (curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK && pre == 0)
			snprintf(buf, n, "no connection within %gs", req->connect_timeout_s > 0 ? req->connect_timeout_s : 10);
		else
			snprintf(buf, n, "no complete reply within %gs", req->timeout_s > 0 ? req->timeout_s : 60);
		return buf;
	default:
		break;
	}
	return ebuf[0] ? ebuf : curl_easy_strerror(cc);
}

/* libcurl's progress callback: the way out of a transfer in flight. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	volatile int *cancel = ud;
	return *cancel ? 1 : 0;
}

static int curl_send(void *ctx, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err)
{
	struct curl_pool *pool = ctx;
	int rc = SF_ERROR;
	struct curl_slist *hl = NULL;
	char ebuf[CURL_ERROR_SIZE] = {0};
	struct recv_ctx rctx = {resp, req->max_body ? req->max_body : SF_HTTP_MAX_BODY, 0};
	if (req->cancel && *req->cancel)
		return sf_http_fail(err, SF_HTTP_CANCELLED, req, resp, NULL);
	CURL *c = pool_get(pool);
	if (!c)
		return sf_fail(err, SF_ERROR, "cannot create a libcurl handle");

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_pem) {
		struct curl_blob blob = {(void *)req->ca_pem, req->ca_pem_len, CURL_BLOB_COPY};
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	} else if (req->ca_file && *req->ca_file) {
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)((req->connect_timeout_s > 0 ? req->connect_timeout_s : 10) * 1000));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)((req->timeout_s > 0 ? req->timeout_s : 60) * 1000));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &rctx);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "secfaas/" SECFAAS_VERSION);
	if (req->cancel) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->cancel);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}

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
	} else {
		char dbuf[160];
		enum sf_http_failure f = curl_failure(cc, rctx.overflow);
		rc = sf_http_fail(err, f, req, resp, curl_detail(c, cc, f, ebuf, req, dbuf, sizeof dbuf));
	}
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
	*out = NULL;
	int rc = curl_load(err);
	if (rc < 0)
		return rc;
	struct curl_pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	*out = sf_http_wrap(&curl_ops, p);
	return 0;
}
