/* retry.c - see retry.h. */
#include "aws/retry.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/awserr.h"
#include "util.h"

static double sys_now(void *ctx)
{
	(void)ctx;
	return sf_now();
}

static void sys_sleep(void *ctx, double s)
{
	(void)ctx;
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
		/* a signal (SIGINT) ends the nap: callers check their cancel flag */
		break;
	}
}

static double sys_rand(void *ctx)
{
	(void)ctx;
	uint64_t v = 0;
	if (sf_random(&v, sizeof v) < 0)
		return 0.5;
	return (double)(v >> 11) / (double)(UINT64_C(1) << 53);
}

const struct sf_aws_clock *sf_aws_clock_default(void)
{
	static const struct sf_aws_clock c = {sys_now, sys_sleep, sys_rand, NULL};
	return &c;
}

void sf_retry_init(struct sf_retry *r, int max_attempts)
{
	pthread_mutex_init(&r->mu, NULL);
	r->tokens = SF_RETRY_QUOTA;
	r->max_attempts = max_attempts > 0 ? max_attempts : 3;
	r->cap_s = SF_RETRY_CAP_S;
}

void sf_retry_destroy(struct sf_retry *r)
{
	if (r)
		pthread_mutex_destroy(&r->mu);
}

int sf_retry_classify(int transport_rc, int timed_out, long status, const char *aws_code, const char *message)
{
	if (transport_rc < 0) {
		if (transport_rc != SF_ETRANSIENT)
			return SF_RETRY_NO;
		return timed_out ? SF_RETRY_TIMEOUT : SF_RETRY_TRANSIENT;
	}
	if (aws_code && *aws_code) {
		if (sf_aws_code_is_skew(aws_code, message))
			return SF_RETRY_SKEW;
		if (sf_aws_code_is_throttle(aws_code))
			return SF_RETRY_THROTTLE;
		if (sf_aws_code_is_transient(aws_code))
			return SF_RETRY_TRANSIENT;
	}
	if (status == 429)
		return SF_RETRY_THROTTLE;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return SF_RETRY_TRANSIENT;
	return SF_RETRY_NO;
}

int sf_retry_acquire(struct sf_retry *r, int kind)
{
	int cost = kind == SF_RETRY_TIMEOUT ? SF_RETRY_TIMEOUT_COST : SF_RETRY_COST;
	pthread_mutex_lock(&r->mu);
	if (r->tokens < cost)
		cost = 0;
	else
		r->tokens -= cost;
	pthread_mutex_unlock(&r->mu);
	return cost;
}

void sf_retry_success(struct sf_retry *r, int cost)
{
	pthread_mutex_lock(&r->mu);
	r->tokens += cost > 0 ? cost : 1;
	if (r->tokens > SF_RETRY_QUOTA)
		r->tokens = SF_RETRY_QUOTA;
	pthread_mutex_unlock(&r->mu);
}

int sf_retry_tokens(struct sf_retry *r)
{
	pthread_mutex_lock(&r->mu);
	int t = r->tokens;
	pthread_mutex_unlock(&r->mu);
	return t;
}

double sf_retry_delay(int i, double rand01, double cap_s)
{
	double base = i >= 30 ? cap_s : ldexp(1.0, i);
	if (base > cap_s)
		base = cap_s;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	return rand01 * base;
}

int sf_retry_parse_settings(const char *max_attempts, const char *mode, int *out, struct sf_err *err)
{
	*out = 3;
	if (mode && *mode) {
		if (!strcasecmp(mode, "legacy"))
			*out = 5;
		else if (strcasecmp(mode, "standard") && strcasecmp(mode, "adaptive"))
			return sf_fail(err, SF_EINVAL, "AWS_RETRY_MODE \"%s\" is not legacy, standard or adaptive", mode);
	}
	if (max_attempts && *max_attempts) {
		char *end = NULL;
		errno = 0;
		long v = strtol(max_attempts, &end, 10);
		if (errno || !end || *end || v < 1 || v > 50)
			return sf_fail(err, SF_EINVAL, "max attempts \"%s\" must be a number from 1 to 50", max_attempts);
		*out = (int)v;
	}
	return 0;
}

int sf_http_date_parse(const char *s, double *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s)
		return -1;
	const char *e = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
	if (!e)
		return -1;
	*out = (double)timegm(&tm);
	return 0;
}
