/*
 * log.h - diagnostic logging to stderr (or SECFAAS_LOG_PATH), never stdout.
 *
 * Why: stdout carries plans, JSON and command output that users and CI parse;
 * diagnostics go elsewhere.  Level from SECFAAS_LOG=error|warn|info|debug|trace
 * (default warn), destination from SECFAAS_LOG_PATH (appended).  Thread-safe:
 * one mutex around each line so worker threads do not interleave.
 *
 * Secrets: callers must never pass secret material.  sf_log_redact() helps
 * scrub header values (Authorization, X-Amz-Security-Token) before logging.
 */
#ifndef SF_LOG_H
#define SF_LOG_H

#include <stddef.h>

enum sf_log_level { SF_LOG_ERROR = 0, SF_LOG_WARN, SF_LOG_INFO, SF_LOG_DEBUG, SF_LOG_TRACE };

/* Read SECFAAS_LOG / SECFAAS_LOG_PATH. Safe to call more than once.
 * Returns 0, or -1 if SECFAAS_LOG holds an unknown level (then defaults). */
int sf_log_init(void);
int sf_log_enabled(enum sf_log_level lvl);
void sf_log(enum sf_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sf_debug(...) sf_log(SF_LOG_DEBUG, __VA_ARGS__)
#define sf_info(...) sf_log(SF_LOG_INFO, __VA_ARGS__)
#define sf_warn(...) sf_log(SF_LOG_WARN, __VA_ARGS__)

/* Copy `in` to `out` replacing the value of any header/query key that
 * carries secrets (Authorization, X-Amz-Security-Token, X-Amz-Signature,
 * SecretAccessKey, password, token) with "REDACTED". Returns out. */
char *sf_log_redact(char *out, size_t n, const char *in);

#endif
