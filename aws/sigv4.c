/* sigv4.c - see sigv4.h. */
#include "aws/sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ALGO "AWS4-HMAC-SHA256"

void sf_sigv4_debug_release(struct sf_sigv4_debug *d)
{
	if (!d)
		return;
	free(d->creq);
	free(d->sts);
	d->creq = d->sts = NULL;
}

char *sf_sigv4_amz_date(char *out, size_t n, double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y%m%dT%H%M%SZ", &tm);
	return out;
}

char *sf_sigv4_canonical_uri(const char *path, int s3)
{
	struct sf_buf b = SF_BUF_INIT;
	if (!path || !*path)
		path = "/";
	if (s3) {
		sf_buf_puts(&b, path);
		return sf_buf_detach(&b);
	}
	/* Remove dot segments and empty segments (like posixpath.normpath). */
	size_t n = strlen(path), nseg = 0;
	const char **seg = xcalloc(n + 1, sizeof *seg);
	size_t *len = xcalloc(n + 1, sizeof *len);
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t l = (size_t)(p - s);
		if (l == 1 && s[0] == '.')
			continue;
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg)
				nseg--;
			continue;
		}
		seg[nseg] = s;
		len[nseg++] = l;
	}
	for (size_t i = 0; i < nseg; i++) {
		sf_buf_putc(&b, '/');
		sf_uri_encode(&b, seg[i], len[i], 0);
	}
	if (!nseg || path[n - 1] == '/')
		sf_buf_putc(&b, '/');
	free(seg);
	free(len);
	return sf_buf_detach(&b);
}

struct qpair {
	char *k, *v;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

char *sf_sigv4_canonical_query(const char *query)
{
	struct sf_buf b = SF_BUF_INIT;
	if (!query || !*query)
		return xstrdup("");
	size_t cap = 1;
	for (const char *p = query; *p; p++)
		cap += *p == '&';
	struct qpair *v = xcalloc(cap, sizeof *v);
	size_t n = 0;
	const char *p = query;
	while (*p || p == query) {
		const char *e = strchr(p, '&');
		if (!e)
			e = p + strlen(p);
		if (e > p) {
			const char *eq = memchr(p, '=', (size_t)(e - p));
			const char *ke = eq ? eq : e;
			char *k = sf_uri_decode(p, (size_t)(ke - p));
			char *val = eq ? sf_uri_decode(eq + 1, (size_t)(e - eq - 1)) : xstrdup("");
			struct sf_buf kb = SF_BUF_INIT, vb = SF_BUF_INIT;
			sf_uri_encode(&kb, k, strlen(k), 0);
			sf_uri_encode(&vb, val, strlen(val), 0);
			v[n].k = sf_buf_detach(&kb);
			v[n].v = sf_buf_detach(&vb);
			n++;
			free(k);
			free(val);
		}
		if (!*e)
			break;
		p = e + 1;
	}
	qsort(v, n, sizeof *v, qpair_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sf_buf_putc(&b, '&');
		sf_buf_printf(&b, "%s=%s", v[i].k, v[i].v);
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
	return sf_buf_detach(&b);
}

/* Headers never signed: hop-by-hop, or changed by proxies and libraries. */
static int unsigned_header(const char *name)
{
	static const char *skip[] = {"authorization", "user-agent", "x-amzn-trace-id", "expect",
				     "connection", "keep-alive", "proxy-authorization", "proxy-connection",
				     "te", "trailer", "transfer-encoding", "upgrade", "content-length", NULL};
	for (int i = 0; skip[i]; i++)
		if (!strcasecmp(name, skip[i]))
			return 1;
	return 0;
}

struct chdr {
	char *name;  /* lower-case */
	char *value; /* trimmed, runs of whitespace collapsed */
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *trim_collapse(const char *s)
{
	struct sf_buf b = SF_BUF_INIT;
	int space = 0;
	while (*s && isspace((unsigned char)*s))
		s++;
	for (; *s; s++) {
		if (isspace((unsigned char)*s)) {
			space = 1;
			continue;
		}
		if (space)
			sf_buf_putc(&b, ' ');
		space = 0;
		sf_buf_putc(&b, *s);
	}
	return sf_buf_detach(&b);
}

/* Canonical header block (each line ends in \n) and signed-header list. */
static void canonical_headers(const struct sf_hdrs *h, struct sf_buf *block, struct sf_buf *signed_list)
{
	struct chdr *v = xcalloc(h->n + 1, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (unsigned_header(h->v[i].name))
			continue;
		v[n].name = xstrdup(h->v[i].name);
		for (char *c = v[n].name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		v[n].value = trim_collapse(h->v[i].value);
		v[n].order = i;
		n++;
	}
	qsort(v, n, sizeof *v, chdr_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i].name, v[i - 1].name)) {
			/* repeats join with ',' in arrival order: replace the newline */
			block->len--;
			sf_buf_printf(block, ",%s\n", v[i].value);
			continue;
		}
		if (signed_list->len)
			sf_buf_putc(signed_list, ';');
		sf_buf_puts(signed_list, v[i].name);
		sf_buf_printf(block, "%s:%s\n", v[i].name, v[i].value);
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

static void hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
	unsigned int olen = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

/* Hex signature of sts using the derived key. */
static void signature(char out[65], const struct sf_sigv4_params *p, const char *date8, const char *sts)
{
	unsigned char k[32], k2[32];
	char day[9];
	snprintf(day, sizeof day, "%.8s", date8);
	char *secret = xasprintf("AWS4%s", p->secret_key);
	hmac(k, secret, strlen(secret), day);
	hmac(k2, k, 32, p->region);
	hmac(k, k2, 32, p->service);
	hmac(k2, k, 32, "aws4_request");
	hmac(k, k2, 32, sts);
	sf_hex(out, k, 32);
	OPENSSL_cleanse(secret, strlen(secret));
	OPENSSL_cleanse(k2, sizeof k2);
	free(secret);
}

static int params_ok(const struct sf_sigv4_params *p)
{
	return p && p->service && p->region && p->amz_date && strlen(p->amz_date) == 16 && p->access_key &&
	       p->secret_key;
}

/* Builds creq and sts; returns the string to sign (owned) and fills signed list. */
static char *build(const struct sf_hdrs *h, const char *method, const char *path, const char *query,
		   const char *payload_hash, const struct sf_sigv4_params *p, struct sf_buf *signed_list,
		   char **creq_out)
{
	struct sf_buf creq = SF_BUF_INIT, block = SF_BUF_INIT;
	char *uri = sf_sigv4_canonical_uri(path, p->s3);
	char *cq = sf_sigv4_canonical_query(query);
	canonical_headers(h, &block, signed_list);
	sf_buf_printf(&creq, "%s\n%s\n%s\n%s\n%s\n%s", method, uri, cq, sf_buf_cstr(&block),
		      sf_buf_cstr(signed_list), payload_hash);
	char hash[65];
	sf_sha256_hex(hash, creq.s, creq.len);
	char *sts = xasprintf(ALGO "\n%s\n%.8s/%s/%s/aws4_request\n%s", p->amz_date, p->amz_date, p->region,
			      p->service, hash);
	*creq_out = sf_buf_detach(&creq);
	sf_buf_release(&block);
	free(uri);
	free(cq);
	return sts;
}

int sf_sigv4_sign(struct sf_hdrs *h, const char *method, const char *path, const char *query,
		  const void *body, size_t body_len, const struct sf_sigv4_params *p,
		  struct sf_sigv4_debug *dbg)
{
	if (!params_ok(p) || !sf_hdrs_get(h, "Host"))
		return SF_EINVAL;
	if (!sf_hdrs_get(h, "X-Amz-Date"))
		sf_hdrs_add(h, "X-Amz-Date", p->amz_date);
	if (p->session_token && *p->session_token)
		sf_hdrs_set(h, "X-Amz-Security-Token", p->session_token);
	sf_hdrs_del(h, "Authorization");
	char hash[65];
	const char *given = p->s3 ? sf_hdrs_get(h, "X-Amz-Content-Sha256") : NULL;
	sf_sha256_hex(hash, body ? body : "", body ? body_len : 0);
	struct sf_buf sl = SF_BUF_INIT;
	char *creq = NULL;
	char *sts = build(h, method, path, query, given ? given : hash, p, &sl, &creq);
	char sig[65];
	signature(sig, p, p->amz_date, sts);
	char *authz = xasprintf(ALGO " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
				p->access_key, p->amz_date, p->region, p->service, sf_buf_cstr(&sl), sig);
	sf_hdrs_add(h, "Authorization", authz);
	free(authz);
	sf_buf_release(&sl);
	if (dbg) {
		dbg->creq = creq;
		dbg->sts = sts;
	} else {
		free(creq);
		free(sts);
	}
	return 0;
}

static void put_param(struct sf_buf *b, const char *k, const char *v)
{
	if (b->len)
		sf_buf_putc(b, '&');
	sf_buf_puts(b, k);
	sf_buf_putc(b, '=');
	sf_uri_encode(b, v, strlen(v), 0);
}

char *sf_sigv4_presign(const struct sf_hdrs *h, const char *method, const char *path, const char *query,
		       long expires, const struct sf_sigv4_params *p, struct sf_sigv4_debug *dbg)
{
	if (!params_ok(p) || !sf_hdrs_get(h, "Host"))
		return NULL;
	/* the signed-header list goes into the query, so compute it first */
	struct sf_buf block = SF_BUF_INIT, sl = SF_BUF_INIT, q = SF_BUF_INIT;
	canonical_headers(h, &block, &sl);
	sf_buf_release(&block);
	char *cred = xasprintf("%s/%.8s/%s/%s/aws4_request", p->access_key, p->amz_date, p->region, p->service);
	char exp[32];
	snprintf(exp, sizeof exp, "%ld", expires);
	if (query && *query)
		sf_buf_puts(&q, query);
	put_param(&q, "X-Amz-Algorithm", ALGO);
	put_param(&q, "X-Amz-Credential", cred);
	put_param(&q, "X-Amz-Date", p->amz_date);
	put_param(&q, "X-Amz-Expires", exp);
	put_param(&q, "X-Amz-SignedHeaders", sf_buf_cstr(&sl));
	if (p->session_token && *p->session_token)
		put_param(&q, "X-Amz-Security-Token", p->session_token);
	struct sf_buf sl2 = SF_BUF_INIT;
	char *creq = NULL;
	char empty_hash[65];
	sf_sha256_hex(empty_hash, "", 0);
	char *sts = build(h, method, path, sf_buf_cstr(&q), p->s3 ? "UNSIGNED-PAYLOAD" : empty_hash, p, &sl2, &creq);
	char sig[65];
	signature(sig, p, p->amz_date, sts);
	put_param(&q, "X-Amz-Signature", sig);
	sf_buf_release(&sl);
	sf_buf_release(&sl2);
	free(cred);
	if (dbg) {
		dbg->creq = creq;
		dbg->sts = sts;
	} else {
		free(creq);
		free(sts);
	}
	return sf_buf_detach(&q);
}
