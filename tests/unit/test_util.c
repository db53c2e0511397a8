/* Unit tests for lib/: err, util, log redaction. */
#include "t.h"

#include <pthread.h>
#include <sched.h>

#include "dl.h"
#include "pool.h"
#include "err.h"
#include "log.h"
#include "imageref.h"
#include "text.h"
#include "util.h"

T_TEST(err_format_one_line)
{
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_fail(&e, SF_ENOTFOUND, "role %s\nnot found", "x"), SF_ENOTFOUND);
	sf_err_where(&e, "spec.yaml:%d:%d", 3, 5);
	sf_err_hint(&e, "check the name");
	char buf[1024];
	T_STREQ(sf_err_format(&e, buf, sizeof buf), "spec.yaml:3:5: error: role x not found; check the name");
}

/* lib/dl.h: a library found fills its table; one that is missing, or lacks
 * a function, is one error naming it and the package, every time, and the
 * table is never half used */
static size_t (*dl_strlen)(const char *);
static int (*dl_missing)(void);

T_TEST(dl_load_fills_or_names_the_package)
{
	static const char *const names[] = {"strlen"};
	static void *const slots[] = {(void *)&dl_strlen};
	static struct sf_dl libc = SF_DL_INIT("libc.so.6", "libc6", names, slots);
	struct sf_err e = SF_ERR_INIT;
	T_OK(!sf_dl_loaded(&libc));
	T_EQ(sf_dl_load(&libc, &e), 0);
	T_OK(sf_dl_loaded(&libc));
	T_OK(dl_strlen != NULL);
	T_EQ(dl_strlen ? dl_strlen("four") : 0, 4);

	static const char *const gone[] = {"strlen"};
	static void *const gslots[] = {(void *)&dl_strlen};
	static struct sf_dl nolib = SF_DL_INIT("libsecfaas-no-such-library.so.9", "no-such-package", gone, gslots);
	for (int i = 0; i < 2; i++) {
		sf_err_clear(&e);
		T_EQ(sf_dl_load(&nolib, &e), SF_ENOTFOUND);
		T_OK(strstr(e.msg, "libsecfaas-no-such-library.so.9") != NULL);
		T_OK(strstr(e.hint, "apt-get install no-such-package") != NULL);
	}
	T_OK(!sf_dl_loaded(&nolib));

	static const char *const wrong[] = {"sf_no_such_function_anywhere"};
	static void *const wslots[] = {(void *)&dl_missing};
	static struct sf_dl old = SF_DL_INIT("libc.so.6", "libc6", wrong, wslots);
	sf_err_clear(&e);
	T_EQ(sf_dl_load(&old, &e), SF_ENOTFOUND);
	T_OK(strstr(e.msg, "sf_no_such_function_anywhere") != NULL);
	T_OK(!sf_dl_loaded(&old));
	T_OK(dl_missing == NULL);
}

T_TEST(duration_parse_and_format)
{
	double d;
	T_EQ(sf_duration_parse("4h", &d), 0);
	T_EQ((long)d, 14400);
	T_EQ(sf_duration_parse("1h30m", &d), 0);
	T_EQ((long)d, 5400);
	T_EQ(sf_duration_parse("90", &d), 0);
	T_EQ((long)d, 90);
	T_EQ(sf_duration_parse("4x", &d), -1);
	T_EQ(sf_duration_parse("", &d), -1);
	T_EQ(sf_duration_parse("-3s", &d), -1);
	T_EQ(sf_duration_parse("1.5h", &d), 0);
	T_EQ((long)d, 5400);
	T_EQ(sf_duration_parse("250ms", &d), 0);
	/* strtod would take all of these; a TTL must not */
	static const char *const bad[] = {"nan", "NaN", "inf", "infinity", "nanh", "infh", "1e400s", "1e3",
					  "0x10", " 5s", "+5s", "5 s", "5s ", ".5s", "5.s", "1h-5m"};
	for (size_t i = 0; i < SF_ARRAY_LEN(bad); i++)
		if (sf_duration_parse(bad[i], &d) != -1)
			T_FAILF("\"%s\" parsed as a duration (%g)", bad[i], d);
	char huge[402];
	memset(huge, '9', 400);
	huge[400] = 'd';
	huge[401] = 0;
	T_EQ(sf_duration_parse(huge, &d), -1); /* overflows to infinity */
	char b[32];
	T_STREQ(sf_duration_fmt(b, sizeof b, 130), "2m10s");
	T_STREQ(sf_duration_fmt(b, sizeof b, 12), "12s");
	T_STREQ(sf_duration_fmt(b, sizeof b, 3900), "1h5m");
}

T_TEST(time_roundtrip)
{
	double t;
	T_EQ(sf_time_parse("2025-03-01T10:29:00Z", &t), 0);
	char b[32];
	T_STREQ(sf_time_rfc3339(b, sizeof b, t), "2025-03-01T10:29:00Z");
	T_EQ(sf_time_parse("2025-03-01T10:29:00.123Z", &t), 0);
	T_EQ(sf_time_parse("2025-03-01T12:29:00+02:00", &t), 0);
	T_STREQ(sf_time_rfc3339(b, sizeof b, t), "2025-03-01T10:29:00Z");
	T_EQ(sf_time_parse("2025-13-01T10:29:00Z", &t), -1);
	T_EQ(sf_time_parse("yesterday", &t), -1);
}

T_TEST(buf_cap_is_sticky)
{
	struct sf_buf b = SF_BUF_INIT;
	b.cap = 8;
	sf_buf_puts(&b, "12345");
	sf_buf_puts(&b, "6789");
	T_OK(b.overflow);
	T_STREQ(sf_buf_cstr(&b), "12345");
	sf_buf_release(&b);
}

T_TEST(uuid_shape)
{
	char u[37], v[37];
	sf_uuid4(u);
	sf_uuid4(v);
	T_EQ(strlen(u), 36);
	T_OK(u[14] == '4');
	T_OK(strcmp(u, v) != 0);
}

T_TEST(loopback_rule)
{
	T_OK(sf_url_is_loopback("http://127.0.0.1:8080/"));
	T_OK(sf_url_is_loopback("https://127.3.4.5"));
	T_OK(sf_url_is_loopback("https://[::1]:443/x"));
	T_OK(sf_url_is_loopback("http://localhost:9"));
	T_OK(!sf_url_is_loopback("https://ec2.eu-west-1.amazonaws.com/"));
	T_OK(!sf_url_is_loopback("http://127.0.0.1.evil.com/"));
	T_OK(!sf_url_is_loopback("http://localhost.evil.com/"));
	T_OK(!sf_url_is_loopback("http://10.0.0.1/"));
}

T_TEST(redaction)
{
	char out[512];
	sf_log_redact(out, sizeof out,
		      "Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc\nHost: h");
	T_STREQ(out, "Authorization: REDACTED\nHost: h");
	sf_log_redact(out, sizeof out, "a=1&X-Amz-Security-Token=SECRET&b=2");
	T_STREQ(out, "a=1&X-Amz-Security-Token=REDACTED&b=2");
	sf_log_redact(out, sizeof out, "{\"password\":\"hunter2\",\"user\":\"admin\"}");
	T_STREQ(out, "{\"password\":\"REDACTED\",\"user\":\"admin\"}");
}

T_TEST(text_escape)
{
	char out[256];
	T_STREQ(sf_text_escape(out, sizeof out, "plain \xc3\xa9t\xc3\xa9", 11), "plain \xc3\xa9t\xc3\xa9");
	T_STREQ(sf_text_escape(out, sizeof out, "a\nb\tc\rd", 7), "a\\nb\\tc\\rd");
	T_STREQ(sf_text_escape(out, sizeof out, "\033[2J\a\x7f", 6), "\\x1B[2J\\x07\\x7F");
	/* C1 CSI (U+009B), right-to-left override, isolates */
	T_STREQ(sf_text_escape(out, sizeof out, "\xc2\x9b\xe2\x80\xae\xe2\x81\xa6", 8), "\\u009B\\u202E\\u2066");
	/* not UTF-8: a lone continuation byte, an overlong form, a surrogate */
	T_STREQ(sf_text_escape(out, sizeof out, "\x80\xc0\xaf\xed\xa0\x80", 6), "\\x80\\xC0\\xAF\\xED\\xA0\\x80");
	T_STREQ(sf_text_escape(out, sizeof out, "nul\0x", 5), "nul\\x00x");
	T_OK(sf_text_is_clean("ok \xc3\xa9", 5));
	T_OK(!sf_text_is_clean("\033", 1));
	/* too long: head and tail kept, the middle counted */
	char big[1000];
	memset(big, 'a', 500);
	memset(big + 500, 'z', 500);
	sf_text_escape(out, 128, big, sizeof big);
	T_OK(strlen(out) <= 127);
	T_OK(!strncmp(out, "aaaa", 4));
	T_CONTAINS(out, "bytes elided]...zz");
	T_OK(out[strlen(out) - 1] == 'z');
	/* escapes are never cut in half at the edges of the elision */
	char ctl[600];
	memset(ctl, '\033', sizeof ctl);
	sf_text_escape(out, 100, ctl, sizeof ctl);
	T_OK(strstr(out, "\\x1B...[") != NULL);
	T_OK(strstr(out, "]...\\x1B") != NULL);
}

T_TEST(err_messages_escaped_and_bounded)
{
	struct sf_err e = SF_ERR_INIT;
	sf_fail(&e, SF_EINVAL, "ttl \"%s\" is not a duration", "\033]0;x\a");
	T_STREQ(e.msg, "ttl \"\\x1B]0;x\\x07\" is not a duration");
	char *big = xmalloc(100001);
	memset(big, 'v', 100000);
	big[100000] = 0;
	sf_fail(&e, SF_EINVAL, "value \"%s\" is too long; shorten it", big);
	T_OK(strlen(e.msg) < sizeof e.msg);
	T_CONTAINS(e.msg, "vvv\" is too long; shorten it");
	free(big);
}

T_TEST(image_references)
{
	static const char *const good[] = {
		"python", "python:3.13.5-alpine3.22", "docker.io/library/python:3.13.5-alpine3.22",
		"ghcr.io/openfaas/gateway:0.27.12", "localhost/x", "localhost:5000/team/app:v1",
		"registry.example.com:443/a/b/c", "[::1]:5000/app", "10.0.0.1:5000/app_x__y.z-w",
		"python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"mirror.example/python:3.13@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"a---b/c", "UPPER.example/app",
	};
	static const struct {
		const char *ref, *why;
	} bad[] = {
		{"", "must not be empty"},
		{"python:3.13\"\n  hostPID: true", "tag"},
		{"python:3.13\"x", "tag has a character outside"},
		{"Python", "must be lowercase"},
		{"python:", "a tag is 1 to 128"},
		{"python:-x", "a tag starts with"},
		{"python@sha256:abc", "64 lowercase hex"},
		{"python@md5:0123456789abcdef0123456789abcdef", "sha256, sha384 or sha512"},
		{"python@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "lowercase hex"},
		{"reg-.example/app", "registry host"},
		{"reg.example:99999x/app", "registry port"},
		{"reg.example/", "repository path"},
		{"a//b", "path component"},
		{"a/b c", "path component"},
		{"a_-b", "path component"},
		{"app.", "path component"},
		{"@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "repository name"},
	};
	char why[160];
	struct sf_image_ref r;
	for (size_t i = 0; i < SF_ARRAY_LEN(good); i++)
		if (sf_image_ref_parse(good[i], &r, why, sizeof why) < 0)
			T_FAILF("\"%s\" refused: %s", good[i], why);
	for (size_t i = 0; i < SF_ARRAY_LEN(bad); i++) {
		why[0] = 0;
		if (sf_image_ref_parse(bad[i].ref, &r, why, sizeof why) == 0 || !strstr(why, bad[i].why))
			T_FAILF("\"%s\": want a refusal with \"%s\", got \"%s\"", bad[i].ref, bad[i].why, why);
	}
	T_EQ(sf_image_ref_parse("localhost:5000/team/app:v1", &r, why, sizeof why), 0);
	T_EQ(r.domain_len, 14);
	T_EQ(r.path_len, 8);
	T_EQ(r.tag_len, 2);
	T_EQ(sf_image_ref_parse("team/app", &r, why, sizeof why), 0);
	T_EQ(r.domain_len, 0);
	T_EQ(r.path_len, 8);
}

/* lib/pool.h: every job runs exactly once, never more than `parallelism`
 * of one call at once, and helpers are reused: many calls start no more
 * helpers than one call needs. */
struct pool_probe {
	pthread_mutex_t mu;
	int *runs;
	int active, most;
};

static void pool_job(void *ctx, size_t i)
{
	struct pool_probe *p = ctx;
	pthread_mutex_lock(&p->mu);
	p->runs[i]++;
	if (++p->active > p->most)
		p->most = p->active;
	pthread_mutex_unlock(&p->mu);
	sched_yield(); /* let others start meanwhile if they can */
	pthread_mutex_lock(&p->mu);
	p->active--;
	pthread_mutex_unlock(&p->mu);
}

struct pool_nest {
	int runs[8];
	int parallelism;
};

static void pool_nested(void *ctx, size_t i)
{
	struct pool_nest *p = ctx;
	struct pool_probe q = {PTHREAD_MUTEX_INITIALIZER, xcalloc(4, sizeof(int)), 0, 0};
	sf_pool_run(4, p->parallelism, pool_job, &q);
	int ok = 1;
	for (size_t k = 0; k < 4; k++)
		ok &= q.runs[k] == 1;
	__atomic_add_fetch(&p->runs[i], ok, __ATOMIC_SEQ_CST);
	free(q.runs);
}

T_TEST(pool_runs_each_job_once_within_parallelism)
{
	static const size_t ns[] = {0, 1, 5, 100};
	static const int ps[] = {0, 1, 3, 10};
	for (size_t a = 0; a < SF_ARRAY_LEN(ns); a++)
		for (size_t b = 0; b < SF_ARRAY_LEN(ps); b++) {
			struct pool_probe p = {PTHREAD_MUTEX_INITIALIZER, xcalloc(ns[a] + 1, sizeof(int)), 0, 0};
			sf_pool_run(ns[a], ps[b], pool_job, &p);
			for (size_t i = 0; i < ns[a]; i++)
				if (p.runs[i] != 1)
					T_FAILF("n %zu, parallelism %d: job %zu ran %d times", ns[a], ps[b], i, p.runs[i]);
			if (p.most > (ps[b] > 1 ? ps[b] : 1))
				T_FAILF("n %zu, parallelism %d: %d jobs at once", ns[a], ps[b], p.most);
			T_EQ(p.active, 0);
			free(p.runs);
		}
	/* helpers come back: 200 more calls of 10 need no new one beyond 9
	 * each of the calls running at once (here: one at a time) */
	size_t before = sf_pool_started();
	for (int k = 0; k < 200; k++) {
		struct pool_probe p = {PTHREAD_MUTEX_INITIALIZER, xcalloc(20, sizeof(int)), 0, 0};
		sf_pool_run(20, 10, pool_job, &p);
		free(p.runs);
	}
	T_OK(sf_pool_started() <= 9);
	T_OK(sf_pool_started() >= before);
	/* a job may run a pool of its own */
	struct pool_nest nest = {{0}, 3};
	sf_pool_run(8, 4, pool_nested, &nest);
	for (size_t i = 0; i < 8; i++)
		T_EQ(nest.runs[i], 1);
	/* stopped, the idle helpers are gone: the next run starts new ones,
	 * and runs each job once as before */
	size_t had = sf_pool_started();
	sf_pool_stop();
	struct pool_probe p = {PTHREAD_MUTEX_INITIALIZER, xcalloc(20, sizeof(int)), 0, 0};
	sf_pool_run(20, 4, pool_job, &p);
	for (size_t i = 0; i < 20; i++)
		T_EQ(p.runs[i], 1);
	free(p.runs);
	T_OK(sf_pool_started() > had);
}

T_MAIN()
