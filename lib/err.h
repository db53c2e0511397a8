/*
 * err.h - the one error type every secfaas layer reports through.
 *
 * Why: core code (aws/, state/, kube/, provisioner/ engine) never prints or
 * exits.  A failing function fills a caller-owned struct sf_err and returns a
 * negative code; only cmd_*.c and main.c turn that into one line on stderr and
 * an exit code.  Modelled on libgit2's error handling, but with the error
 * passed explicitly instead of thread-local state, so worker threads in the
 * apply engine each carry their own.
 *
 * Calling steps:
 *   1. struct sf_err err = SF_ERR_INIT;
 *   2. if (some_call(..., &err) < 0) { ... err.code / err.msg ... }
 *   3. At a failure site:  return sf_fail(err, SF_ENOTFOUND, "role %s not found", name);
 *
 * The code enum is append-only: numbers are never reused (tests and JSON
 * diagnostics may carry them).
 */
#ifndef SF_ERR_H
#define SF_ERR_H

#include <stddef.h>

enum sf_code {
	SF_OK = 0,
	SF_ERROR = -1,      /* anything not listed below */
	SF_ENOTFOUND = -2,  /* object/file/resource does not exist */
	SF_ETHROTTLED = -3, /* remote asked us to slow down (retryable) */
	SF_ECONFLICT = -4,  /* already exists / in use / dependency violation */
	SF_ESTALE = -5,     /* saved plan or precondition no longer valid */
	SF_ELOCKED = -6,    /* state is locked by another run */
	SF_EINVAL = -7,     /* bad input: spec, flags, arguments */
	SF_EAUTH = -8,      /* credentials missing, expired or refused */
	SF_ETIMEOUT = -9,   /* deadline passed (waiter, network) */
	SF_EINTR = -10,     /* interrupted by the user (SIGINT/SIGTERM) */
	SF_EIO = -11,       /* local I/O: disk full, read-only, permissions */
	SF_ECRYPTO = -12,   /* wrong key, tampered ciphertext */
	SF_ECORRUPT = -13,  /* corrupt or foreign file, newer schema */
	SF_ETRANSIENT = -14,/* retryable remote failure: 5xx, reset, truncated */
	SF_EPROTO = -15,    /* malformed reply from a remote service */
	SF_EDEPEND = -16,   /* a dependency failed, so this step was skipped */
};

struct sf_err {
	int code;               /* enum sf_code; 0 when no error recorded */
	char msg[512];          /* one line, lowercase start, no final period */
	char where[256];        /* optional: "file:line:col", resource address, operation */
	char hint[256];         /* optional: what the user should do */
	char request_id[96];    /* optional: remote request id for support */
	int http_status;        /* optional: remote HTTP status, 0 if none */
	char aws_code[96];      /* optional: remote error code (AWS/K8s reason) */
};

#define SF_ERR_INIT {0, {0}, {0}, {0}, {0}, 0, {0}}

/* Record an error and return code (so call sites can `return sf_fail(...)`).
 * err may be NULL (the message is dropped). Keeps existing `where` and
 * `hint` only if the new call does not replace them. */
int sf_fail(struct sf_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set err->where (e.g. "spec.yaml:3:5" or "aws_vpc.main"). Returns err->code. */
int sf_err_where(struct sf_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set err->hint ("run `secfaas force-unlock ID`"). Returns err->code. */
int sf_err_hint(struct sf_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the message with context ("creating aws_vpc.main: "). Returns err->code. */
int sf_err_prefix(struct sf_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void sf_err_clear(struct sf_err *err);

/* Stable lowercase name for a code ("not_found"); never NULL. */
const char *sf_code_name(int code);

/* Format "where: error: msg (hint)" into buf as one line. Returns buf. */
const char *sf_err_format(const struct sf_err *err, char *buf, size_t n);

#endif
