/* retry.c - see retry.h. */
#include "aws/retry.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "aws/awserr.h"
#include "util.h"

void sf_retry_init(struct sf_retry *r, int max_attempts)
{
	pthread_mutex_init(&r->mu, NULL);
	r->tokens = SF_RETRY_QUOTA;
	r->max_attempts = max_attempts > 0 ? max_attempts : 3;
	r->rounds = 1;
	r->cap_s = SF_RETRY_CAP_S;
}

int sf_retry_budget(const struct sf_retry *r, int safe_to_repeat)
{
	return r->max_attempts * (safe_to_repeat && r->rounds > 1 ? r->rounds : 1);
}

void sf_retry_destroy(struct sf_retry *r)
{
	if (r)
		pthread_mutex_destroy(&r->mu);
}

int sf_retry_classify(int transport_rc, int timed_out, long status, const char *aws_code, const char *message)
{
	if (transport_rc < 0)
		return sf_retry_classify_http(transport_rc, timed_out, 0);
	if (aws_code && *aws_code) {
		if (sf_aws_code_is_skew(aws_code, message))
			return SF_RETRY_SKEW;
		if (sf_aws_code_is_throttle(aws_code))
			return SF_RETRY_THROTTLE;
		if (sf_aws_code_is_transient(aws_code))
			return SF_RETRY_TRANSIENT;
	}
	return sf_retry_classify_http(0, 0, status);
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

struct sf_backoff sf_retry_backoff(const struct sf_retry *r)
{
	struct sf_backoff b = {r->max_attempts, 1.0, r->cap_s};
	return b;
}

int sf_retry_parse_settings(const char *max_attempts, const char *mode, int *out, int *rounds, struct sf_err *err)
{
	*out = 3;
	if (rounds)
		*rounds = (mode && *mode) || (max_attempts && *max_attempts) ? 1 : SF_RETRY_ROUNDS;
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
