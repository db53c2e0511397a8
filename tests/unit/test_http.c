/*
 * test_http.c - the shared transport (lib/http.c) against a TLS server
 * started by the test on loopback: each way an exchange can fail (refused,
 * timeout, reset, truncated body, untrusted certificate, oversized reply,
 * cancellation, unreadable CA) maps to one code and one message, and the
 * AWS client and the Kubernetes client, which both send through it, report
 * the same failure with the same code and the same message and retry it
 * the same way.
 *
 * The server answers one connection at a time, in a mode set by the test.
 * Nothing waits on a timer to synchronise: the server reports what it did
 * through counters read after the client returned, and the cancel test
 * raises its flag from the server thread once the request has arrived.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "aws/client.h"
#include "backoff.h"
#include "clock.h"
#include "http.h"
#include "kube/kube.h"
#include "pki.h"
#include "t.h"
#include "tests/aws/fixture.h"
#include "util.h"

enum mode {
	M_OK,        /* a 200 with a small STS reply */
	M_SILENT,    /* read the request, never answer (until the client hangs up) */
	M_RESET,     /* read the request, then reset the connection */
	M_TRUNCATED, /* promise 1000 bytes, send a few, close */
	M_BIG,       /* a 200 with 4 KiB of body */
};

struct tls_srv {
	int fd[2];          /* 127.0.0.1 and ::1 (-1 when the host has no IPv6) */
	int port;
	int stop[2];
	pthread_t th;
	SSL_CTX *ctx;
	pthread_mutex_t mu;
	enum mode mode;
	int conns;          /* TLS sessions established */
	int requests;       /* requests read in full */
	volatile int *raise_on_request; /* set to 1 once a request was read (cancel test) */
};

static const char STS_OK[] = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
			     "<GetCallerIdentityResult><Account>123456789012</Account>"
			     "<Arn>arn:aws:iam::123456789012:user/t</Arn><UserId>AIDA</UserId>"
			     "</GetCallerIdentityResult></GetCallerIdentityResponse>";

static void ssl_write_all(SSL *s, const char *p, size_t n)
{
	while (n) {
		int w = SSL_write(s, p, (int)n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Headers, then Content-Length bytes of body; 1 when complete. */
static int read_request(SSL *s)
{
	struct sf_buf b = SF_BUF_INIT;
	char chunk[4096];
	size_t want = 0;
	int have_hdr = 0, ok = 0;
	for (;;) {
		int n = SSL_read(s, chunk, sizeof chunk);
		if (n <= 0)
			break;
		sf_buf_append(&b, chunk, (size_t)n);
		const char *all = sf_buf_cstr(&b), *e = strstr(all, "\r\n\r\n");
		if (e && !have_hdr) {
			have_hdr = 1;
			const char *cl = strcasestr(all, "\r\ncontent-length:");
			want = (size_t)(e - all) + 4 + (cl && cl < e ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (have_hdr && b.len >= want) {
			ok = 1;
			break;
		}
	}
	sf_buf_release(&b);
	return ok;
}

static void serve(struct tls_srv *sv, int c)
{
	/* never let a confused client hang the server thread */
	struct timeval tv = {10, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	SSL *s = SSL_new(sv->ctx);
	SSL_set_fd(s, c);
	if (SSL_accept(s) != 1)
		goto done; /* e.g. the client did not trust us */
	pthread_mutex_lock(&sv->mu);
	sv->conns++;
	enum mode m = sv->mode;
	pthread_mutex_unlock(&sv->mu);
	if (!read_request(s))
		goto done;
	pthread_mutex_lock(&sv->mu);
	sv->requests++;
	if (sv->raise_on_request)
		*sv->raise_on_request = 1;
	pthread_mutex_unlock(&sv->mu);
	char *r = NULL;
	switch (m) {
	case M_OK:
		r = xasprintf("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\n\r\n%s", strlen(STS_OK),
			      STS_OK);
		break;
	case M_BIG: {
		char *body = xmalloc(4097);
		memset(body, 'x', 4096);
		body[4096] = 0;
		r = xasprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4096\r\n\r\n%s", body);
		free(body);
		break;
	}
	case M_TRUNCATED:
		r = xstrdup("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<Get");
		break;
	case M_RESET: {
		struct linger l = {1, 0}; /* close() sends RST */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		SSL_free(s);
		close(c);
		return;
	}
	case M_SILENT: {
		char x[256];
		while (SSL_read(s, x, sizeof x) > 0) /* until the client gives up */
			;
		goto done;
	}
	}
	ssl_write_all(s, r, strlen(r));
	free(r);
	if (m == M_OK || m == M_BIG)
		SSL_shutdown(s);
	/* M_TRUNCATED: no close_notify, the body just stops */
done:
	SSL_free(s);
	close(c);
}

static void *srv_main(void *arg)
{
	struct tls_srv *sv = arg;
	for (;;) {
		struct pollfd p[3] = {{sv->stop[0], POLLIN, 0}, {sv->fd[0], POLLIN, 0}, {sv->fd[1], POLLIN, 0}};
		if (poll(p, sv->fd[1] >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		for (int i = 1; i < 3; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			int c = accept(p[i].fd, NULL, NULL);
			if (c >= 0)
				serve(sv, c);
		}
	}
	return NULL;
}

/* A listening socket on 127.0.0.1, or on ::1 at the same port (want > 0). */
static int listen_on(int v6, int want, int *port)
{
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int rc;
	if (v6) {
		struct sockaddr_in6 a = {0};
		a.sin6_family = AF_INET6;
		a.sin6_addr = in6addr_loopback;
		a.sin6_port = htons((uint16_t)want);
		rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	} else {
		struct sockaddr_in a = {0};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by construction */
		rc = bind(fd, (struct sockaddr *)&a, sizeof a);
		socklen_t l = sizeof a;
		if (rc == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
			*port = ntohs(a.sin_port);
	}
	if (rc < 0 || listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static SSL_CTX *server_ctx(const struct sf_pki_pair *leaf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *cb = BIO_new_mem_buf(leaf->cert_pem, -1), *kb = BIO_new_mem_buf(leaf->key_pem, -1);
	X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (!ctx || !x || !k || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, k) != 1)
		abort();
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return ctx;
}

/* Test PKI: the CA the clients trust (good), one they should not (other). */
struct pki {
	struct sf_pki_pair good, other, leaf;
	char *good_file, *other_file;
	char *good_b64, *other_b64;
};

static void pki_make(struct pki *p)
{
	memset(p, 0, sizeof *p);
	struct sf_err e = SF_ERR_INIT;
	const char *dns[] = {"localhost", NULL};
	time_t now = time(NULL);
	if (sf_pki_make_ca("test CA", 2, now, &p->good, &e) < 0 || sf_pki_make_ca("other CA", 2, now, &p->other, &e) < 0 ||
	    sf_pki_make_leaf(&p->good, dns, 1, now, &p->leaf, &e) < 0) {
		fprintf(stderr, "pki: %s\n", e.msg);
		abort();
	}
	p->good_file = xasprintf("%s/good-ca.pem", t_tmpdir());
	p->other_file = xasprintf("%s/other-ca.pem", t_tmpdir());
	if (sf_write_file_atomic(p->good_file, p->good.cert_pem, strlen(p->good.cert_pem), 0600, &e) < 0 ||
	    sf_write_file_atomic(p->other_file, p->other.cert_pem, strlen(p->other.cert_pem), 0600, &e) < 0)
		abort();
	p->good_b64 = sf_b64encode(p->good.cert_pem, strlen(p->good.cert_pem));
	p->other_b64 = sf_b64encode(p->other.cert_pem, strlen(p->other.cert_pem));
}

static void pki_free(struct pki *p)
{
	sf_pki_pair_release(&p->good);
	sf_pki_pair_release(&p->other);
	sf_pki_pair_release(&p->leaf);
	free(p->good_file);
	free(p->other_file);
	free(p->good_b64);
	free(p->other_b64);
}

static void srv_start(struct tls_srv *sv, const struct pki *p)
{
	memset(sv, 0, sizeof *sv);
	/* a client that hangs up early (the body cap) must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&sv->mu, NULL);
	sv->ctx = server_ctx(&p->leaf);
	for (int tries = 0;; tries++) {
		sv->fd[0] = listen_on(0, 0, &sv->port);
		if (sv->fd[0] < 0)
			abort();
		/* "localhost" may resolve to ::1 first: serve it there too, so no
		 * other process's listener can answer in our place */
		sv->fd[1] = listen_on(1, sv->port, &sv->port);
		if (sv->fd[1] >= 0 || errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT || tries > 20)
			break;
		close(sv->fd[0]);
	}
	if (pipe(sv->stop) < 0 || pthread_create(&sv->th, NULL, srv_main, sv) != 0)
		abort();
}

static void srv_stop(struct tls_srv *sv)
{
	if (write(sv->stop[1], "x", 1) != 1)
		abort();
	pthread_join(sv->th, NULL);
	for (int i = 0; i < 2; i++)
		if (sv->fd[i] >= 0)
			close(sv->fd[i]);
	close(sv->stop[0]);
	close(sv->stop[1]);
	SSL_CTX_free(sv->ctx);
	pthread_mutex_destroy(&sv->mu);
}

static void srv_mode(struct tls_srv *sv, enum mode m)
{
	pthread_mutex_lock(&sv->mu);
	sv->mode = m;
	sv->conns = sv->requests = 0;
	pthread_mutex_unlock(&sv->mu);
}

static int srv_count(struct tls_srv *sv, int requests)
{
	pthread_mutex_lock(&sv->mu);
	int n = requests ? sv->requests : sv->conns;
	pthread_mutex_unlock(&sv->mu);
	return n;
}

/* The server and its PKI, for one test. */
struct env {
	struct pki p;
	struct tls_srv sv;
	char *base; /* "https://localhost:<port>" */
};

static void env_open(struct env *e)
{
	pki_make(&e->p);
	srv_start(&e->sv, &e->p);
	e->base = xasprintf("https://localhost:%d", e->sv.port);
}

static void env_close(struct env *e)
{
	free(e->base);
	srv_stop(&e->sv);
	pki_free(&e->p);
}

/* A port nobody listens on: bound (so nobody else can take it) but not
 * listening, which the kernel answers with a refusal. */
static int refusing_port(int *fd)
{
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t l = sizeof a;
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(*fd, (struct sockaddr *)&a, &l) < 0)
		abort();
	return ntohs(a.sin_port);
}

/* ---- the two callers ---- */

struct callers {
	struct fx_clock aws_clk, kube_clk;
	struct sf_clock aws_clock, kube_clock;
};

/* sts GetCallerIdentity through the AWS client at base, trusting ca_file. */
static int via_aws(struct callers *cl, const char *base, const char *ca_file, double timeout_s, int attempts,
		   struct sf_err *err)
{
	fx_clean_env();
	setenv("AWS_ACCESS_KEY_ID", FX_AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FX_SECRET, 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ENDPOINT_URL", base, 1);
	setenv("AWS_CA_BUNDLE", ca_file, 1);
	cl->aws_clk = (struct fx_clock){FX_T0, 0, 0, 0.5};
	cl->aws_clock = (struct sf_clock){fx_now, fx_sleep, fx_rand, &cl->aws_clk};
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	o.clock = &cl->aws_clock;
	o.timeout_s = timeout_s;
	o.max_attempts = attempts;
	struct sf_aws *c = NULL;
	json_t *out = NULL;
	int rc = sf_aws_new(&c, &o, err);
	if (rc == 0)
		rc = sf_aws_query(c, "sts", "GetCallerIdentity", NULL, &out, err);
	json_decref(out);
	sf_aws_free(c);
	fx_clean_env();
	return rc;
}

/* GET /version through the Kubernetes client at base, trusting ca_b64. */
static int via_kube(struct callers *cl, const char *base, const char *ca_b64, double timeout_s, int attempts,
		    struct sf_err *err)
{
	cl->kube_clk = (struct fx_clock){FX_T0, 0, 0, 0.5};
	cl->kube_clock = (struct sf_clock){fx_now, fx_sleep, fx_rand, &cl->kube_clk};
	struct sf_kube_conn conn = {.endpoint = base, .ca_b64 = ca_b64, .token = "t0ken", .timeout_s = timeout_s,
				    .max_attempts = attempts, .clock = &cl->kube_clock};
	struct sf_kube *k = NULL;
	json_t *out = NULL;
	int rc = sf_kube_new(&k, &conn, NULL, err);
	if (rc == 0)
		rc = sf_kube_request(k, "GET", "/version", NULL, NULL, NULL, &out, err);
	json_decref(out);
	sf_kube_free(k);
	return rc;
}

/* Run one failure through both callers (one attempt each) and check they
 * agree; returns the (shared) code. */
static int both_agree(const char *base, const char *ca_file, const char *ca_b64, double timeout_s, struct sf_err *ea)
{
	struct callers cl;
	struct sf_err ek = SF_ERR_INIT;
	sf_err_clear(ea);
	int ra = via_aws(&cl, base, ca_file, timeout_s, 1, ea);
	int rk = via_kube(&cl, base, ca_b64, timeout_s, 1, &ek);
	T_EQ(ra, rk);
	T_EQ(ea->code, ek.code);
	T_STREQ(ea->msg, ek.msg);
	T_OK(ea->hint[0] && ek.hint[0]); /* what to do next */
	return ra;
}

T_TEST(ok_through_both_callers_with_the_right_ca)
{
	struct env v;
	env_open(&v);
	struct callers cl;
	struct sf_err e = SF_ERR_INIT;
	srv_mode(&v.sv, M_OK);
	T_EQ(via_aws(&cl, v.base, v.p.good_file, 10, 1, &e), 0);
	T_EQ(via_kube(&cl, v.base, v.p.good_b64, 10, 1, &e), 0);
	T_EQ(srv_count(&v.sv, 1), 2);
	env_close(&v);
}

/* Numbered cases: one failure of the server, the code and the start of the
 * message both callers must give, and how many requests got through. */
static const struct agree_case {
	const char *name;
	enum mode mode;
	int untrusted;    /* the clients trust the other CA */
	double timeout_s;
	int code;
	const char *msg;  /* format with the port; the message starts with it */
	int requests;     /* read in full by the server, over both calls */
} agree_cases[] = {
	/* 1 */ {"untrusted certificate", M_OK, 1, 10, SF_ERROR,
		 "TLS verification of https://localhost:%d failed: its certificate is not trusted (SSL certificate problem: ", 0},
	/* 2: the time out is the behaviour under test; it can only fire late
	 * on a busy machine, never early, so the result does not depend on load */
	/* 2 */ {"timeout", M_SILENT, 0, 0.4, SF_ETRANSIENT,
		 "request to https://localhost:%d timed out: no complete reply within 0.4s", 2},
	/* 3 */ {"reset", M_RESET, 0, 10, SF_ETRANSIENT,
		 "connection to https://localhost:%d broke before the reply was complete: Recv failure: Connection reset", 2},
	/* 4 */ {"truncated body", M_TRUNCATED, 0, 10, SF_ETRANSIENT,
		 "connection to https://localhost:%d broke before the reply was complete: ", 2},
};

T_TEST(failures_read_the_same_for_aws_and_kubernetes)
{
	struct env v;
	env_open(&v);
	for (size_t i = 0; i < SF_ARRAY_LEN(agree_cases); i++) {
		const struct agree_case *c = &agree_cases[i];
		struct sf_err e = SF_ERR_INIT;
		srv_mode(&v.sv, c->mode);
		int rc = both_agree(v.base, c->untrusted ? v.p.other_file : v.p.good_file,
				    c->untrusted ? v.p.other_b64 : v.p.good_b64, c->timeout_s, &e);
		char *want = xasprintf(c->msg, v.sv.port);
		if (rc != c->code || strncmp(e.msg, want, strlen(want)) || srv_count(&v.sv, 1) != c->requests)
			T_FAILF("case %zu (%s): code %d, %d requests, message \"%s\"; wanted %d, %d, \"%s...\"", i + 1,
				c->name, rc, srv_count(&v.sv, 1), e.msg, c->code, c->requests, want);
		free(want);
	}
	env_close(&v);
}

T_TEST(connection_refused_same_error)
{
	struct pki p;
	pki_make(&p);
	int fd;
	int port = refusing_port(&fd);
	char *base = xasprintf("https://127.0.0.1:%d", port);
	struct sf_err e = SF_ERR_INIT;
	T_EQ(both_agree(base, p.good_file, p.good_b64, 10, &e), SF_ETRANSIENT);
	char *want = xasprintf("cannot connect to https://127.0.0.1:%d: Connection refused", port);
	T_STREQ(e.msg, want);
	T_CONTAINS(e.hint, "nothing was sent");
	free(want);
	free(base);
	close(fd);
	pki_free(&p);
}

T_TEST(transient_failures_retried_alike_untrusted_never)
{
	struct env v;
	env_open(&v);
	struct callers cl;
	struct sf_err e = SF_ERR_INIT;
	srv_mode(&v.sv, M_RESET);
	T_EQ(via_aws(&cl, v.base, v.p.good_file, 10, 3, &e), SF_ETRANSIENT);
	T_EQ(srv_count(&v.sv, 1), 3);
	T_EQ(cl.aws_clk.sleeps, 2); /* backed off on the injected clock */
	srv_mode(&v.sv, M_RESET);
	T_EQ(via_kube(&cl, v.base, v.p.good_b64, 10, 3, &e), SF_ETRANSIENT);
	T_EQ(srv_count(&v.sv, 1), 3);
	T_EQ(cl.kube_clk.sleeps, 2);
	/* the kube backoff is the shared one: full jitter under 0.2 s * 2^i */
	T_OK(cl.kube_clk.slept > 0.29 && cl.kube_clk.slept < 0.31); /* 0.5*0.2 + 0.5*0.4 */
	srv_mode(&v.sv, M_OK);
	T_EQ(via_aws(&cl, v.base, v.p.other_file, 10, 3, &e), SF_ERROR);
	T_EQ(via_kube(&cl, v.base, v.p.other_b64, 10, 3, &e), SF_ERROR);
	T_EQ(cl.aws_clk.sleeps + cl.kube_clk.sleeps, 0);
	env_close(&v);
}

/* ---- the transport itself ---- */

static int send_once(struct sf_http *h, const char *url, const char *ca_pem, size_t max_body, volatile int *cancel,
		     struct sf_http_resp *rs, struct sf_err *err)
{
	struct sf_http_req rq = {.method = "GET", .url = url, .timeout_s = 30, .max_body = max_body, .cancel = cancel};
	if (ca_pem) {
		rq.ca_pem = ca_pem;
		rq.ca_pem_len = strlen(ca_pem);
	}
	return sf_http_send(h, &rq, rs, err);
}

T_TEST(body_cap_cancel_and_bad_ca_file)
{
	struct env v;
	struct sf_http *h = NULL;
	env_open(&v);
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_http_curl_new(&h, &e), 0);
	char *url = xasprintf("https://localhost:%d/x?X-Amz-Signature=secret", v.sv.port);
	struct sf_http_resp rs = SF_HTTP_RESP_INIT;

	srv_mode(&v.sv, M_BIG);
	T_EQ(send_once(h, url, v.p.good.cert_pem, 0, NULL, &rs, &e), 0);
	T_EQ(rs.status, 200);
	T_EQ(rs.body.len, 4096);
	T_EQ(send_once(h, url, v.p.good.cert_pem, 1024, NULL, &rs, &e), SF_EPROTO);
	T_CONTAINS(e.msg, "is larger than 1024 bytes");
	T_OK(!strstr(e.msg, "secret")); /* never the query: it may be a presigned token */

	/* cancelled while the server sits on the request: the flag is raised
	 * by the server thread once the request is in */
	volatile int cancel = 0;
	srv_mode(&v.sv, M_SILENT);
	pthread_mutex_lock(&v.sv.mu);
	v.sv.raise_on_request = &cancel;
	pthread_mutex_unlock(&v.sv.mu);
	T_EQ(send_once(h, url, v.p.good.cert_pem, 0, &cancel, &rs, &e), SF_EINTR);
	T_CONTAINS(e.msg, "cancelled");
	T_EQ(srv_count(&v.sv, 1), 1);
	pthread_mutex_lock(&v.sv.mu);
	v.sv.raise_on_request = NULL;
	pthread_mutex_unlock(&v.sv.mu);
	/* already cancelled: nothing is sent */
	T_EQ(send_once(h, url, v.p.good.cert_pem, 0, &cancel, &rs, &e), SF_EINTR);
	T_EQ(srv_count(&v.sv, 1), 1);

	struct sf_http_req rq = {.method = "GET", .url = url, .ca_file = "/nonexistent/ca.pem"};
	T_EQ(sf_http_send(h, &rq, &rs, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "cannot load the CA bundle /nonexistent/ca.pem");
	rq.url = "htps:/nowhere";
	T_EQ(sf_http_send(h, &rq, &rs, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "bad endpoint URL");

	sf_http_resp_release(&rs);
	sf_http_free(h);
	free(url);
	env_close(&v);
}

/* The replay's network failures are the transport's: same codes, same
 * wording up to the library's own detail. */
T_TEST(replay_fails_like_the_network)
{
	static const struct {
		const char *reply;
		int code;
		const char *msg;
	} cases[] = {
		{"!refused", SF_ETRANSIENT, "cannot connect to https://localhost:7: "},
		{"!timeout", SF_ETRANSIENT, "request to https://localhost:7 timed out: "},
		{"!reset", SF_ETRANSIENT, "connection to https://localhost:7 broke before the reply was complete: "},
		{"!untrusted", SF_ERROR, "TLS verification of https://localhost:7 failed: its certificate is not trusted ("},
	};
	struct sf_replay *rp = sf_replay_new();
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		struct sf_http_req rq = {.method = "GET", .url = "https://localhost:7/p?q=1"};
		struct sf_http_resp rs = SF_HTTP_RESP_INIT;
		struct sf_err e = SF_ERR_INIT;
		sf_replay_add(rp, "", cases[i].reply, 1);
		T_EQ(sf_http_send(sf_replay_http(rp), &rq, &rs, &e), cases[i].code);
		T_OK(!strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)));
		T_OK(e.hint[0] != 0);
		T_EQ(rs.timed_out, !strcmp(cases[i].reply, "!timeout"));
		/* only a connection never made is known to have sent nothing */
		T_EQ(rs.unsent, !strcmp(cases[i].reply, "!refused"));
		sf_http_resp_release(&rs);
	}
	sf_replay_free(rp);
}

T_TEST(classification_is_shared)
{
	T_EQ(sf_retry_classify_http(SF_ETRANSIENT, 0, 0), SF_RETRY_TRANSIENT);
	T_EQ(sf_retry_classify_http(SF_ETRANSIENT, 1, 0), SF_RETRY_TIMEOUT);
	T_EQ(sf_retry_classify_http(SF_ERROR, 0, 0), SF_RETRY_NO);  /* untrusted */
	T_EQ(sf_retry_classify_http(SF_EPROTO, 0, 0), SF_RETRY_NO);  /* over the cap */
	T_EQ(sf_retry_classify_http(SF_EINTR, 0, 0), SF_RETRY_NO);
	T_EQ(sf_retry_classify_http(0, 0, 429), SF_RETRY_THROTTLE);
	T_EQ(sf_retry_classify_http(0, 0, 503), SF_RETRY_TRANSIENT);
	T_EQ(sf_retry_classify_http(0, 0, 501), SF_RETRY_NO);
	T_EQ(sf_retry_classify_http(0, 0, 404), SF_RETRY_NO);
	struct sf_backoff b = {3, 0.2, 1.0};
	T_OK(sf_backoff_delay(&b, 0, 0.5) > 0.099 && sf_backoff_delay(&b, 0, 0.5) < 0.101);
	T_OK(sf_backoff_delay(&b, 10, 0.5) > 0.499 && sf_backoff_delay(&b, 10, 0.5) < 0.501); /* capped */
	T_OK(sf_retry_after("3", 30) == 3);
	T_OK(sf_retry_after("31", 30) < 0);
	T_OK(sf_retry_after("nan", 30) < 0);
	T_OK(sf_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 30) < 0);
	T_OK(sf_retry_after(NULL, 30) < 0);
}

T_MAIN()
