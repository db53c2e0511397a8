/* err.c - see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Format into dst[n]: one line (a remote message's newlines become
 * spaces), control characters escaped and an over-long text elided in the
 * middle (text.h), so a message echoing a hostile or huge value can neither
 * drive the terminal nor lose its end. */
static void vset(char *dst, size_t n, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	char *raw = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (!raw) {
		vsnprintf(dst, n, fmt, ap);
		return;
	}
	vsnprintf(raw, (size_t)len + 1, fmt, ap);
	for (char *p = raw; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	sf_text_escape(dst, n, raw, (size_t)len);
	free(raw);
}

int sf_fail(struct sf_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	err->code = code;
	vset(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

int sf_err_where(struct sf_err *err, const char *fmt, ...)
{
	if (!err)
		return SF_ERROR;
	va_list ap;
	va_start(ap, fmt);
	vset(err->where, sizeof err->where, fmt, ap);
	va_end(ap);
	return err->code;
}

int sf_err_hint(struct sf_err *err, const char *fmt, ...)
{
	if (!err)
		return SF_ERROR;
	va_list ap;
	va_start(ap, fmt);
	vset(err->hint, sizeof err->hint, fmt, ap);
	va_end(ap);
	return err->code;
}

int sf_err_prefix(struct sf_err *err, const char *fmt, ...)
{
	if (!err)
		return SF_ERROR;
	char pre[256], old[sizeof err->msg];
	va_list ap;
	va_start(ap, fmt);
	vset(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s%s", pre, old);
	return err->code;
}

void sf_err_clear(struct sf_err *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

const char *sf_code_name(int code)
{
	switch (code) {
	case SF_OK: return "ok";
	case SF_ENOTFOUND: return "not_found";
	case SF_ETHROTTLED: return "throttled";
	case SF_ECONFLICT: return "conflict";
	case SF_ESTALE: return "stale";
	case SF_ELOCKED: return "locked";
	case SF_EINVAL: return "invalid";
	case SF_EAUTH: return "auth";
	case SF_ETIMEOUT: return "timeout";
	case SF_EINTR: return "interrupted";
	case SF_EIO: return "io";
	case SF_ECRYPTO: return "crypto";
	case SF_ECORRUPT: return "corrupt";
	case SF_ETRANSIENT: return "transient";
	case SF_EPROTO: return "protocol";
	case SF_EDEPEND: return "dependency";
	default: return "error";
	}
}

const char *sf_err_format(const struct sf_err *err, char *buf, size_t n)
{
	if (!err || !err->code) {
		snprintf(buf, n, "error: unknown failure");
		return buf;
	}
	const char *msg = err->msg[0] ? err->msg : sf_code_name(err->code);
	int off = 0;
	if (err->where[0])
		off = snprintf(buf, n, "%s: ", err->where);
	if (off < 0 || (size_t)off >= n)
		return buf;
	int k = snprintf(buf + off, n - (size_t)off, "error: %s", msg);
	if (k < 0)
		return buf;
	off += k;
	if ((size_t)off < n && err->aws_code[0] && !strstr(msg, err->aws_code)) {
		k = snprintf(buf + off, n - (size_t)off, " [%s]", err->aws_code);
		if (k > 0) off += k;
	}
	if ((size_t)off < n && err->request_id[0]) {
		k = snprintf(buf + off, n - (size_t)off, " (request id %s)", err->request_id);
		if (k > 0) off += k;
	}
	if ((size_t)off < n && err->hint[0])
		snprintf(buf + off, n - (size_t)off, "; %s", err->hint);
	return buf;
}
