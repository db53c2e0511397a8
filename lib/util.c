/* util.c - see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
/* for SHA256_Init and friends (sf_sha256_hex says why) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	fputs("secfaas: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		oom();
	return d;
}

void sf_strs_add(struct sf_strs *s, const char *x)
{
	if (sf_strs_has(s, x))
		return;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n++] = xstrdup(x);
}

int sf_strs_has(const struct sf_strs *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x))
			return 1;
	return 0;
}

int sf_strs_del(struct sf_strs *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x)) {
			free(s->v[i]);
			memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
			s->n--;
			return 1;
		}
	return 0;
}

void sf_strs_free(struct sf_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

#define SF_BUF_DEFAULT_CAP ((size_t)64 << 20)

void sf_buf_append(struct sf_buf *b, const void *data, size_t n)
{
	size_t cap = b->cap ? b->cap : SF_BUF_DEFAULT_CAP;
	if (b->overflow || b->len + n > cap) {
		b->overflow = 1;
		return;
	}
	if (b->len + n + 1 > b->alloc) {
		size_t a = b->alloc ? b->alloc : 256;
		while (a < b->len + n + 1)
			a *= 2;
		b->s = xrealloc(b->s, a);
		b->alloc = a;
	}
	if (n)
		memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = 0;
}

void sf_buf_puts(struct sf_buf *b, const char *s)
{
	sf_buf_append(b, s, strlen(s));
}

void sf_buf_putc(struct sf_buf *b, char c)
{
	sf_buf_append(b, &c, 1);
}

void sf_buf_printf(struct sf_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	sf_buf_puts(b, s);
	free(s);
}

void sf_buf_reset(struct sf_buf *b)
{
	b->len = 0;
	b->overflow = 0;
	if (b->s)
		b->s[0] = 0;
}

char *sf_buf_detach(struct sf_buf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	size_t cap = b->cap;
	memset(b, 0, sizeof *b);
	b->cap = cap;
	return s;
}

void sf_buf_release(struct sf_buf *b)
{
	free(b->s);
	size_t cap = b->cap;
	memset(b, 0, sizeof *b);
	b->cap = cap;
}

const char *sf_buf_cstr(const struct sf_buf *b)
{
	return b->s ? b->s : "";
}

double sf_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sf_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *sf_time_rfc3339(char *buf, size_t n, double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int sf_time_parse(const char *s, double *out)
{
	int Y, M, D, h, m, sec, used = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &used) != 6)
		return -1;
	const char *p = s + used;
	double frac = 0;
	if (*p == '.') {
		char *end;
		frac = strtod(p, &end);
		p = end;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	struct tm tm = {0};
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = (double)timegm(&tm) - off + frac;
	return 0;
}

char *sf_duration_fmt(char *buf, size_t n, double secs)
{
	long s = (long)(secs + 0.5);
	if (s < 60)
		snprintf(buf, n, "%lds", s);
	else if (s < 3600)
		snprintf(buf, n, "%ldm%lds", s / 60, s % 60);
	else
		snprintf(buf, n, "%ldh%ldm", s / 3600, (s % 3600) / 60);
	return buf;
}

int sf_duration_parse(const char *s, double *out)
{
	if (!s || !*s)
		return -1;
	double total = 0;
	const char *p = s;
	while (*p) {
		/* digits [. digits] only: strtod alone would also take "nan",
		 * "inf", "1e400", "0x1p3", signs and leading spaces, and a TTL of
		 * NaN compares as neither too short nor too long */
		const char *q = p;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q == p)
			return -1;
		if (*q == '.') {
			const char *f = ++q;
			while (*q >= '0' && *q <= '9')
				q++;
			if (q == f)
				return -1;
		}
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end != q || errno || !isfinite(v))
			return -1;
		p = end;
		double mult = 1;
		switch (*p) {
		case 's': mult = 1; p++; break;
		case 'm':
			if (p[1] == 's') { mult = 0.001; p += 2; }
			else { mult = 60; p++; }
			break;
		case 'h': mult = 3600; p++; break;
		case 'd': mult = 86400; p++; break;
		case 0: if (p != end) return -1; break;
		default: return -1;
		}
		total += v * mult;
		if (!isfinite(total))
			return -1;
	}
	*out = total;
	return 0;
}

int sf_random(void *out, size_t n)
{
	unsigned char *p = out;
	while (n) {
		ssize_t k = getrandom(p, n, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void sf_hex(char *out, const unsigned char *in, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = 0;
}

void sf_uuid4(char out[37])
{
	unsigned char b[16];
	if (sf_random(b, sizeof b) < 0)
		abort(); /* getrandom cannot fail on supported kernels */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char h[33];
	sf_hex(h, b, 16);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

void sf_sha256_hex(char out[65], const void *data, size_t n)
{
	/* OpenSSL's own SHA-256 block functions, not SHA256() (which is
	 * EVP_Q_digest in OpenSSL 3): the EVP path first loads openssl.cnf
	 * and activates the provider machinery, which costs a command that
	 * only hashes its spec (validate, a plan without refresh) more than
	 * all of its own work.  Same digest; a command that needs TLS or
	 * encryption pays for the initialisation when it gets there. */
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, data, n);
	SHA256_Final(md, &c);
	sf_hex(out, md, sizeof md);
}

int sf_read_file(char **out, size_t *len, const char *path, size_t max, struct sf_err *err)
{
	if (!max)
		max = (size_t)64 << 20;
	FILE *f = fopen(path, "rb");
	if (!f)
		return sf_fail(err, errno == ENOENT ? SF_ENOTFOUND : SF_EIO, "cannot read %s: %s",
			       path, strerror(errno));
	struct sf_buf b = SF_BUF_INIT;
	b.cap = max;
	char tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
		sf_buf_append(&b, tmp, k);
	int bad = ferror(f);
	fclose(f);
	if (bad || b.overflow) {
		sf_buf_release(&b);
		return sf_fail(err, SF_EIO, bad ? "cannot read %s: I/O error" : "%s is larger than %zu bytes",
			       path, max);
	}
	if (len)
		*len = b.len;
	*out = sf_buf_detach(&b);
	return 0;
}

int sf_write_file_atomic(const char *path, const void *data, size_t n, int mode, struct sf_err *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return sf_fail(err, SF_EIO, "cannot write %s: %s", path, strerror(e));
	}
	const char *p = data;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			unlink(tmp);
			free(tmp);
			return sf_fail(err, SF_EIO, "cannot write %s: %s", path, strerror(e));
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return sf_fail(err, SF_EIO, "cannot write %s: %s", path, strerror(e));
	}
	free(tmp);
	return 0;
}

int sf_mkdir_p(const char *path, int mode, struct sf_err *err)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			int e = errno;
			*s = '/';
			free(p);
			return sf_fail(err, SF_EIO, "cannot create directory %s: %s", path, strerror(e));
		}
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
		rc = sf_fail(err, SF_EIO, "cannot create directory %s: %s", path, strerror(errno));
	free(p);
	return rc;
}

const char *sf_hostname(void)
{
	static char host[256];
	if (!host[0] && gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "unknown");
	return host;
}

const char *sf_username(void)
{
	static char user[128];
	if (!user[0]) {
		const char *u = getenv("USER");
		if (!u || !*u) {
			struct passwd *pw = getpwuid(getuid());
			u = pw ? pw->pw_name : "unknown";
		}
		snprintf(user, sizeof user, "%s", u);
	}
	return user;
}

int sf_url_is_loopback(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at && (!slash || at < slash))
		p = at + 1;
	if (!strncmp(p, "[::1]", 5))
		return 1;
	if (!strncmp(p, "localhost", 9) && (p[9] == 0 || p[9] == ':' || p[9] == '/'))
		return 1;
	int a, b, c, d, used = 0;
	if (sscanf(p, "%d.%d.%d.%d%n", &a, &b, &c, &d, &used) == 4 && a == 127 && b >= 0 &&
	    b < 256 && c >= 0 && c < 256 && d >= 0 && d < 256)
		return p[used] == 0 || p[used] == ':' || p[used] == '/';
	return 0;
}

char *sf_b64encode(const void *data, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	return out;
}
