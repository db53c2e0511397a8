/* backoff.c - see backoff.h. */
#include "backoff.h"

#include <math.h>
#include <stdlib.h>

#include "err.h"

int sf_retry_classify_http(int transport_rc, int timed_out, long status)
{
	if (transport_rc < 0) {
		/* only the transport's transient class: a TLS trust failure, a
		 * bad URL or an oversized reply will not fix itself */
		if (transport_rc != SF_ETRANSIENT)
			return SF_RETRY_NO;
		return timed_out ? SF_RETRY_TIMEOUT : SF_RETRY_TRANSIENT;
	}
	if (status == 429)
		return SF_RETRY_THROTTLE;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return SF_RETRY_TRANSIENT;
	return SF_RETRY_NO;
}

double sf_backoff_delay(const struct sf_backoff *b, int i, double rand01)
{
	double cap = b->cap_s, base = b->base_s > 0 ? b->base_s : 1.0;
	double d = i >= 30 ? cap : base * ldexp(1.0, i);
	if (d > cap)
		d = cap;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	return rand01 * d;
}

double sf_retry_after(const char *value, double max_s)
{
	char *end = NULL;
	double s = value ? strtod(value, &end) : -1;
	if (!value || end == value || *end || !(s >= 0 && s <= max_s)) /* NaN too */
		return -1;
	return s;
}
