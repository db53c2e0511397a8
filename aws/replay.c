/* replay.c - see replay.h. */
#include "aws/replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

struct rule {
	char *match;
	char *raw;
	size_t raw_len;
	int times;
};

struct sf_replay {
	pthread_mutex_t mu;
	struct rule *rules;
	size_t nrules, arules;
	char **reqs;
	size_t nreqs, areqs;
	size_t unmatched;
	struct sf_http http;
};

static int replay_send(void *ctx, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err);
static const struct sf_http_ops replay_ops = {replay_send, NULL};

struct sf_replay *sf_replay_new(void)
{
	struct sf_replay *r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	r->http.ops = &replay_ops;
	r->http.ctx = r;
	return r;
}

void sf_replay_free(struct sf_replay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrules; i++) {
		free(r->rules[i].match);
		free(r->rules[i].raw);
	}
	for (size_t i = 0; i < r->nreqs; i++)
		free(r->reqs[i]);
	free(r->rules);
	free(r->reqs);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void add_raw(struct sf_replay *r, const char *match, const char *raw, size_t n, int times)
{
	pthread_mutex_lock(&r->mu);
	if (r->nrules == r->arules) {
		r->arules = r->arules ? r->arules * 2 : 8;
		r->rules = xrealloc(r->rules, r->arules * sizeof *r->rules);
	}
	struct rule *ru = &r->rules[r->nrules++];
	ru->match = xstrdup(match ? match : "");
	ru->raw = xstrndup(raw, n);
	ru->raw_len = n;
	ru->times = times;
	pthread_mutex_unlock(&r->mu);
}

void sf_replay_add(struct sf_replay *r, const char *match, const char *raw_response, int times)
{
	add_raw(r, match, raw_response, strlen(raw_response), times);
}

int sf_replay_add_file(struct sf_replay *r, const char *match, const char *path, int times, struct sf_err *err)
{
	char *full, *data = NULL;
	size_t n;
	if (path[0] == '/') {
		full = xstrdup(path);
	} else {
		const char *src = getenv("SECFAAS_SRC");
		full = xasprintf("%s/tests/aws/replies/%s", src && *src ? src : ".", path);
	}
	int rc = sf_read_file(&data, &n, full, 0, err);
	if (rc == 0)
		add_raw(r, match, data, n, times);
	free(full);
	free(data);
	return rc;
}

struct sf_http *sf_replay_http(struct sf_replay *r)
{
	return &r->http;
}

size_t sf_replay_count(struct sf_replay *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->nreqs;
	pthread_mutex_unlock(&r->mu);
	return n;
}

const char *sf_replay_request(struct sf_replay *r, size_t i)
{
	pthread_mutex_lock(&r->mu);
	const char *s = i < r->nreqs ? r->reqs[i] : NULL;
	pthread_mutex_unlock(&r->mu);
	return s;
}

size_t sf_replay_unmatched(struct sf_replay *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->unmatched;
	pthread_mutex_unlock(&r->mu);
	return n;
}

size_t sf_replay_unused(struct sf_replay *r)
{
	size_t n = 0;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nrules; i++)
		n += r->rules[i].times > 0;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static int matches(const char *rendered, const char *match)
{
	const char *p = match;
	for (;;) {
		const char *sep = strstr(p, " && ");
		size_t n = sep ? (size_t)(sep - p) : strlen(p);
		char *needle = xstrndup(p, n);
		int ok = strstr(rendered, needle) != NULL;
		free(needle);
		if (!ok)
			return 0;
		if (!sep)
			return 1;
		p = sep + 4;
	}
}

int sf_replay_parse_response(const char *raw, size_t n, struct sf_http_resp *resp, struct sf_err *err)
{
	const char *end = raw + n;
	const char *eol = memchr(raw, '\n', n);
	if (n < 12 || strncmp(raw, "HTTP/", 5) || !eol)
		return sf_fail(err, SF_EPROTO, "replay: reply does not start with an HTTP status line");
	const char *sp = memchr(raw, ' ', (size_t)(eol - raw));
	if (!sp)
		return sf_fail(err, SF_EPROTO, "replay: bad status line");
	resp->status = strtol(sp + 1, NULL, 10);
	const char *p = eol + 1;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		const char *le = e ? e : end;
		size_t ln = (size_t)(le - p);
		if (ln && p[ln - 1] == '\r')
			ln--;
		if (ln == 0) {
			p = e ? e + 1 : end;
			break;
		}
		const char *colon = memchr(p, ':', ln);
		if (colon) {
			char *name = xstrndup(p, (size_t)(colon - p));
			const char *v = colon + 1;
			while (v < p + ln && *v == ' ')
				v++;
			char *val = xstrndup(v, (size_t)(p + ln - v));
			sf_hdrs_add(&resp->headers, name, val);
			free(name);
			free(val);
		}
		p = e ? e + 1 : end;
	}
	sf_buf_append(&resp->body, p, (size_t)(end - p));
	return 0;
}

static int replay_send(void *ctx, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err)
{
	struct sf_replay *r = ctx;
	struct sf_buf b = SF_BUF_INIT;
	sf_buf_printf(&b, "%s %s\n", req->method ? req->method : "GET", req->url);
	for (size_t i = 0; req->headers && i < req->headers->n; i++)
		sf_buf_printf(&b, "%s: %s\n", req->headers->v[i].name, req->headers->v[i].value);
	sf_buf_putc(&b, '\n');
	if (req->body)
		sf_buf_append(&b, req->body, req->body_len);
	char *rendered = sf_buf_detach(&b);

	pthread_mutex_lock(&r->mu);
	if (r->nreqs == r->areqs) {
		r->areqs = r->areqs ? r->areqs * 2 : 16;
		r->reqs = xrealloc(r->reqs, r->areqs * sizeof *r->reqs);
	}
	r->reqs[r->nreqs++] = rendered;
	struct rule *hit = NULL;
	for (size_t i = 0; i < r->nrules; i++) {
		if (r->rules[i].times == 0 || !matches(rendered, r->rules[i].match))
			continue;
		hit = &r->rules[i];
		if (hit->times > 0)
			hit->times--;
		break;
	}
	char *raw = hit ? xstrndup(hit->raw, hit->raw_len) : NULL;
	size_t raw_len = hit ? hit->raw_len : 0;
	if (!hit)
		r->unmatched++;
	pthread_mutex_unlock(&r->mu);

	int rc;
	if (!raw) {
		rc = sf_fail(err, SF_EPROTO, "replay: unexpected request %s %s", req->method, req->url);
		sf_warn("replay: no rule matches request:\n%s", rendered);
	} else if (!strncmp(raw, "!reset", 6)) {
		rc = sf_http_fail(err, SF_HTTP_DROPPED, req, resp, "Connection reset by peer (replay)");
	} else if (!strncmp(raw, "!timeout", 8)) {
		rc = sf_http_fail(err, SF_HTTP_TIMEOUT, req, resp, "no reply (replay)");
	} else if (!strncmp(raw, "!refused", 8)) {
		rc = sf_http_fail(err, SF_HTTP_CONNECT, req, resp, "Connection refused (replay)");
	} else if (!strncmp(raw, "!untrusted", 10)) {
		rc = sf_http_fail(err, SF_HTTP_UNTRUSTED, req, resp, "unable to get local issuer certificate (replay)");
	} else {
		rc = sf_replay_parse_response(raw, raw_len, resp, err);
	}
	free(raw);
	return rc;
}
