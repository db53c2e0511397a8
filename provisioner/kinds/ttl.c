/* ttl.c - see ttl.h. */
#include "provisioner/kinds/ttl.h"

#include <math.h>
#include <string.h>

#include "util.h"

int sf_ttl_parse(const char *ttl, double *secs, struct sf_err *err)
{
	double v = 0;
	if (!ttl || sf_duration_parse(ttl, &v) < 0)
		return sf_fail(err, SF_EINVAL, "ttl \"%s\" is not a duration (use e.g. 90m, 4h, 1h30m, 2d)",
			       ttl ? ttl : "");
	if (v < 1)
		return sf_fail(err, SF_EINVAL, "ttl \"%s\" must be at least one second", ttl);
	if (v > SF_TTL_MAX_SECONDS)
		return sf_fail(err, SF_EINVAL, "ttl \"%s\" is longer than a year; ephemeral clusters need a short ttl",
			       ttl);
	*secs = v;
	return 0;
}

int sf_ttl_expiry(const char *ttl, double now, char *out, size_t n, struct sf_err *err)
{
	double secs = 0;
	int rc;
	if (n < 21)
		return sf_fail(err, SF_EINVAL, "ttl expiry buffer too small (%zu bytes)", n);
	out[0] = 0;
	if ((rc = sf_ttl_parse(ttl, &secs, err)) < 0)
		return rc;
	/* Round up: a fractional now must not move the expiry earlier. */
	sf_time_rfc3339(out, n, ceil(now + secs));
	return 0;
}

int sf_ttl_from_doc(const struct sf_doc *doc, double now, char *out, size_t n, struct sf_err *err)
{
	if (n)
		out[0] = 0;
	const struct sf_node *t = sf_node_get(sf_node_get(doc ? doc->root : NULL, "metadata"), "ttl");
	if (!t || t->type == SF_N_NULL)
		return 0;
	int rc;
	if (t->type != SF_N_SCALAR)
		rc = sf_fail(err, SF_EINVAL, "metadata.ttl must be a duration such as 4h, not a %s",
			     sf_ntype_name(t->type));
	else
		rc = sf_ttl_expiry(t->scalar, now, out, n, err);
	if (rc < 0) {
		sf_err_where(err, "%s:%d:%d", t->pos.file ? t->pos.file : "?", t->pos.line, t->pos.col);
		return rc;
	}
	return 1;
}

int sf_ttl_remaining(const char *expires_at, double now, double *out)
{
	double t;
	if (!expires_at || sf_time_parse(expires_at, &t) < 0)
		return -1;
	*out = t - now;
	return 0;
}

int sf_ttl_expired(const char *expires_at, double now)
{
	double left;
	if (sf_ttl_remaining(expires_at, now, &left) < 0)
		return -1;
	return left <= 0 ? 1 : 0;
}
