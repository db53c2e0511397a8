/* log.c - see log.h. */
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_level = SF_LOG_WARN;
static FILE *log_file;

int sf_log_init(void)
{
	static const char *names[] = {"error", "warn", "info", "debug", "trace"};
	const char *v = getenv("SECFAAS_LOG");
	int rc = 0;
	pthread_mutex_lock(&log_mu);
	log_level = SF_LOG_WARN;
	if (v && *v) {
		int found = 0;
		for (int i = 0; i < 5; i++)
			if (!strcasecmp(v, names[i])) {
				log_level = i;
				found = 1;
			}
		if (!strcasecmp(v, "json")) { /* accepted: structured mode is info level */
			log_level = SF_LOG_INFO;
			found = 1;
		}
		if (!found)
			rc = -1;
	}
	const char *path = getenv("SECFAAS_LOG_PATH");
	if (log_file) {
		fclose(log_file);
		log_file = NULL;
	}
	if (path && *path)
		log_file = fopen(path, "a");
	pthread_mutex_unlock(&log_mu);
	return rc;
}

int sf_log_enabled(enum sf_log_level lvl)
{
	return (int)lvl <= log_level;
}

void sf_log(enum sf_log_level lvl, const char *fmt, ...)
{
	static const char *tags[] = {"error", "warn", "info", "debug", "trace"};
	if (!sf_log_enabled(lvl))
		return;
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&log_mu);
	FILE *f = log_file ? log_file : stderr;
	fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s\n", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, tags[lvl], line);
	fflush(f);
	pthread_mutex_unlock(&log_mu);
}

static const char *secret_keys[] = {
	"authorization", "x-amz-security-token", "x-amz-signature", "secretaccesskey",
	"sessiontoken", "password", "token", "x-aws-ec2-metadata-token", NULL,
};

/* True if the key ending just before `end` (length n) names a secret. */
static int is_secret_key(const char *key, size_t n)
{
	for (int i = 0; secret_keys[i]; i++) {
		size_t k = strlen(secret_keys[i]);
		if (n >= k && !strncasecmp(key + n - k, secret_keys[i], k))
			return 1;
	}
	return 0;
}

char *sf_log_redact(char *out, size_t n, const char *in)
{
	size_t o = 0;
	const char *p = in;
	if (!n)
		return out;
	while (*p && o + 1 < n) {
		/* find a key: run of [A-Za-z0-9_-] followed by ':' / '=' / '":"' */
		if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
			const char *k = p;
			while (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
				p++;
			size_t kl = (size_t)(p - k);
			for (size_t i = 0; i < kl && o + 1 < n; i++)
				out[o++] = k[i];
			const char *sep = p;
			if (*sep == '"')
				sep++;
			if ((*sep == ':' || *sep == '=') && is_secret_key(k, kl)) {
				/* copy separator and spaces/quotes, then redact value */
				while ((*p == '"' || *p == ':' || *p == '=' || *p == ' ') && o + 1 < n)
					out[o++] = *p++;
				const char *red = "REDACTED";
				for (size_t i = 0; red[i] && o + 1 < n; i++)
					out[o++] = red[i];
				while (*p && *p != '&' && *p != '"' && *p != '\n')
					p++;
			}
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = 0;
	return out;
}
