/*
 * util.h - small shared helpers: allocation that aborts on OOM, a growable
 * string buffer with a hard cap, time, UUIDs, random bytes, whole-file I/O.
 *
 * Why abort on OOM: secfaas is a CLI; an out-of-memory state is not
 * recoverable in any useful way, and checking every malloc obscures the
 * error paths that matter (AWS replies, YAML input, disk errors).
 *
 * Ownership: functions returning char * return owned memory freed with free().
 * struct sf_buf owns buf->s; release it with sf_buf_release().
 */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);              /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* A small set of strings, unique, in the order added (addresses of a
 * resource's dependencies, say).  Zero-initialised is empty; owns its
 * strings; release with sf_strs_free(). */
struct sf_strs {
	char **v;
	size_t n;
};
void sf_strs_add(struct sf_strs *s, const char *x);   /* no-op if present */
int sf_strs_has(const struct sf_strs *s, const char *x);
int sf_strs_del(struct sf_strs *s, const char *x);    /* 1 if it was there */
void sf_strs_free(struct sf_strs *s);

/* Growable byte buffer. Invariant: s is NUL-terminated when len > 0 or after
 * any append; cap is the hard limit (0 = 64 MiB default). Appending past the
 * cap sets `overflow` and drops the bytes (sticky; check once at the end). */
struct sf_buf {
	char *s;
	size_t len, alloc, cap;
	int overflow;
};
#define SF_BUF_INIT {NULL, 0, 0, 0, 0}
void sf_buf_append(struct sf_buf *b, const void *data, size_t n);
void sf_buf_puts(struct sf_buf *b, const char *s);
void sf_buf_printf(struct sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sf_buf_putc(struct sf_buf *b, char c);
void sf_buf_reset(struct sf_buf *b);                /* len = 0, keep memory */
char *sf_buf_detach(struct sf_buf *b);              /* take ownership of s ("" if empty) */
void sf_buf_release(struct sf_buf *b);              /* free memory, back to INIT */
const char *sf_buf_cstr(const struct sf_buf *b);    /* "" if empty; borrowed */

/* Time. sf_now() is wall-clock seconds (double); sf_mono() monotonic seconds. */
double sf_now(void);
double sf_mono(void);
/* RFC 3339 UTC "2026-05-02T10:14:07Z" into buf (>= 21 bytes). */
char *sf_time_rfc3339(char *buf, size_t n, double t);
/* Parse RFC 3339 / ISO 8601 UTC ("...Z", optional fraction, or +00:00);
 * returns 0 and sets *out, or -1. */
int sf_time_parse(const char *s, double *out);
/* "2m10s", "45s", "1h3m" into buf. */
char *sf_duration_fmt(char *buf, size_t n, double secs);
/* Parse "90s", "5m", "4h", "1h30m", "2d", "1.5h", "250ms", plain seconds:
 * unsigned decimal numbers each followed by a unit (a lone number is
 * seconds); never NaN, infinite, negative, exponent or hex forms.  0 ok,
 * -1 bad. */
int sf_duration_parse(const char *s, double *out);

/* Random bytes from the OS (getrandom). 0 ok, -1 on failure. */
int sf_random(void *out, size_t n);
/* Fresh RFC 4122 v4 UUID, 36 chars + NUL into out[37]. */
void sf_uuid4(char out[37]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void sf_hex(char *out, const unsigned char *in, size_t n);
/* Standard base64 (with padding) of n bytes; owned. */
char *sf_b64encode(const void *data, size_t n);
/* SHA-256 hex digest (65 bytes) of data. */
void sf_sha256_hex(char out[65], const void *data, size_t n);

/* Whole-file read, capped at max bytes (0 = 64 MiB). *out owned; NUL added.
 * SF_ENOTFOUND if missing, SF_EIO otherwise. */
int sf_read_file(char **out, size_t *len, const char *path, size_t max, struct sf_err *err);
/* Atomic write: temp file in the same dir, fsync, rename. mode e.g. 0600. */
int sf_write_file_atomic(const char *path, const void *data, size_t n, int mode, struct sf_err *err);
/* mkdir -p. 0 ok. */
int sf_mkdir_p(const char *path, int mode, struct sf_err *err);

/* Hostname and user name for locks/history ("user@host"). Borrowed static. */
const char *sf_hostname(void);
const char *sf_username(void);

/* Is the loopback-only rule satisfied for this URL ("http://127.0.0.1:9/x",
 * "https://[::1]:8/")? 1 yes, 0 no. Used by tests and test tools. */
int sf_url_is_loopback(const char *url);

#endif
