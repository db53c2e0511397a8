/*
 * fixture.h - helpers shared by the aws unit tests (header-only so it is
 * linked into no other test binary): a fake clock, a clean AWS environment,
 * a client over a replay transport, and a tiny loopback HTTP server.
 *
 * The server runs in a thread on 127.0.0.1:0 and answers each connection
 * from a rule list (substring of the request -> raw HTTP response), one
 * request per connection (Connection: close), recording what it received.
 * It refuses to bind anything but loopback.
 */
#ifndef SF_TESTS_AWS_FIXTURE_H
#define SF_TESTS_AWS_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/replay.h"
#include "util.h"

#define FX_UNUSED __attribute__((unused))

#define FX_AKID "AKIAIOSFODNN7EXAMPLE"
#define FX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

struct fx_clock {
	double t;      /* current fake time */
	double slept;  /* total slept */
	int sleeps;
	double rand;   /* returned by rand01 */
};

static FX_UNUSED double fx_now(void *ctx)
{
	return ((struct fx_clock *)ctx)->t;
}
static FX_UNUSED void fx_sleep(void *ctx, double s)
{
	struct fx_clock *c = ctx;
	c->t += s;
	c->slept += s;
	c->sleeps++;
}
static FX_UNUSED double fx_rand(void *ctx)
{
	return ((struct fx_clock *)ctx)->rand;
}

/* 2025-03-01T10:15:00Z */
#define FX_T0 1740824100.0

static FX_UNUSED void fx_clean_env(void)
{
	static const char *vars[] = {
		"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_IAM",
		"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_EKS", "AWS_ENDPOINT_URL_SSM",
		"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_STS_REGIONAL_ENDPOINTS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CA_BUNDLE",
		"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "KUBERNETES_EXEC_INFO", NULL};
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	/* never wait on a real metadata service from a unit test */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	char *p = xasprintf("%s/no-such-config", t_tmpdir());
	setenv("AWS_CONFIG_FILE", p, 1);
	free(p);
	p = xasprintf("%s/no-such-credentials", t_tmpdir());
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	free(p);
}

struct fx {
	struct fx_clock clk;
	struct sf_clock clock;
	struct sf_replay *rp;
	struct sf_aws *c;
	struct sf_err err;
};

/* A client in eu-west-1 with env keys over a fresh replay. */
static FX_UNUSED int fx_open(struct fx *f, const char *region)
{
	memset(f, 0, sizeof *f);
	f->clk.t = FX_T0;
	f->clk.rand = 0.5;
	f->clock = (struct sf_clock){fx_now, fx_sleep, fx_rand, &f->clk};
	f->rp = sf_replay_new();
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	o.region = region ? region : "eu-west-1";
	o.http = sf_replay_http(f->rp);
	o.clock = &f->clock;
	struct sf_err e = SF_ERR_INIT;
	int rc = sf_aws_new(&f->c, &o, &e);
	f->err = e;
	return rc;
}

static FX_UNUSED void fx_close(struct fx *f)
{
	sf_aws_free(f->c);
	sf_replay_free(f->rp);
	f->c = NULL;
	f->rp = NULL;
}

static FX_UNUSED void fx_reply(struct fx *f, const char *match, const char *file, int times)
{
	struct sf_err e = SF_ERR_INIT;
	if (sf_replay_add_file(f->rp, match, file, times, &e) < 0) {
		fprintf(stderr, "fixture: %s\n", e.msg);
		abort();
	}
}

/* ---- loopback HTTP server ---- */

#define FX_SRV_MAX_RULES 16
#define FX_SRV_MAX_REQS 32

struct fx_srv {
	int fd;
	int port;
	pthread_t th;
	pthread_mutex_t mu;
	int stop_pipe[2];
	struct {
		char *match;
		char *reply;
		int times;
	} rules[FX_SRV_MAX_RULES];
	int nrules;
	char *reqs[FX_SRV_MAX_REQS];
	int nreqs;
};

static FX_UNUSED void fx_srv_rule(struct fx_srv *s, const char *match, const char *reply, int times)
{
	pthread_mutex_lock(&s->mu);
	if (s->nrules < FX_SRV_MAX_RULES) {
		s->rules[s->nrules].match = xstrdup(match);
		s->rules[s->nrules].reply = xstrdup(reply);
		s->rules[s->nrules].times = times;
		s->nrules++;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Read one request: headers, then Content-Length bytes of body. */
static FX_UNUSED char *fx_srv_read(int c)
{
	struct sf_buf b = SF_BUF_INIT;
	char chunk[4096];
	size_t want = 0;
	int have_hdr = 0;
	for (;;) {
		struct pollfd p = {c, POLLIN, 0};
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t n = read(c, chunk, sizeof chunk);
		if (n <= 0)
			break;
		sf_buf_append(&b, chunk, (size_t)n);
		const char *s = sf_buf_cstr(&b);
		const char *e = strstr(s, "\r\n\r\n");
		if (e && !have_hdr) {
			have_hdr = 1;
			const char *cl = strcasestr(s, "\r\ncontent-length:");
			want = (size_t)(e - s) + 4 + (cl && cl < e ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (have_hdr && b.len >= want)
			break;
	}
	return sf_buf_detach(&b);
}

static FX_UNUSED void *fx_srv_main(void *arg)
{
	struct fx_srv *s = arg;
	for (;;) {
		struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		char *req = fx_srv_read(c);
		const char *reply = "HTTP/1.1 599 No Rule\r\nContent-Length: 0\r\n\r\n";
		pthread_mutex_lock(&s->mu);
		if (s->nreqs < FX_SRV_MAX_REQS)
			s->reqs[s->nreqs++] = xstrdup(req);
		for (int i = 0; i < s->nrules; i++) {
			if (s->rules[i].times == 0 || !strstr(req, s->rules[i].match))
				continue;
			if (s->rules[i].times > 0)
				s->rules[i].times--;
			reply = s->rules[i].reply;
			break;
		}
		char *out = xstrdup(reply);
		pthread_mutex_unlock(&s->mu);
		size_t off = 0, n = strlen(out);
		while (off < n) {
			ssize_t w = write(c, out + off, n - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(out);
		free(req);
		close(c);
	}
	return NULL;
}

static FX_UNUSED int fx_srv_start(struct fx_srv *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by construction */
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 16) < 0)
		return -1;
	socklen_t l = sizeof a;
	getsockname(s->fd, (struct sockaddr *)&a, &l);
	s->port = ntohs(a.sin_port);
	if (pipe(s->stop_pipe) < 0)
		return -1;
	return pthread_create(&s->th, NULL, fx_srv_main, s);
}

static FX_UNUSED char *fx_srv_url(struct fx_srv *s, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", s->port, path ? path : "");
}

static FX_UNUSED void fx_srv_stop(struct fx_srv *s)
{
	if (write(s->stop_pipe[1], "x", 1) != 1)
		abort();
	pthread_join(s->th, NULL);
	close(s->fd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	for (int i = 0; i < s->nrules; i++) {
		free(s->rules[i].match);
		free(s->rules[i].reply);
	}
	for (int i = 0; i < s->nreqs; i++)
		free(s->reqs[i]);
	pthread_mutex_destroy(&s->mu);
}

#endif
