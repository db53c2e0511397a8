/*
 * eks_versions.c - the built-in EKS version calendar (eks_versions.h).
 *
 * Source: the "Amazon EKS Kubernetes release calendar" of the EKS user
 * guide (standard support 14 months from the EKS release, extended
 * support 12 more), as published in December 2026.  A new minor version
 * is one row here; the schema's list and `validate` follow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/eks_versions.h"
#include "util.h"

/* The cluster autoscaler's release line for each Kubernetes minor
 * (its minor must be the cluster's: it simulates the scheduler of that
 * version), from the Kubernetes project's registry. */
#define CA_IMAGE "registry.k8s.io/autoscaling/cluster-autoscaler:"

static const struct sf_eks_version table[] = {
	{"1.29", "2024-01-23", "2025-03-23", "2026-03-23", CA_IMAGE "v1.29.5"},
	{"1.30", "2024-05-23", "2025-07-23", "2026-07-23", CA_IMAGE "v1.30.6"},
	{"1.31", "2024-09-26", "2025-11-26", "2026-11-26", CA_IMAGE "v1.31.4"},
	{"1.32", "2025-01-23", "2026-03-23", "2027-03-23", CA_IMAGE "v1.32.5"},
	{"1.33", "2025-05-29", "2026-07-29", "2027-07-29", CA_IMAGE "v1.33.6"},
	{"1.34", "2025-10-02", "2026-12-02", "2027-12-02", CA_IMAGE "v1.34.2"},
	{"1.35", "2026-01-27", "2027-03-27", "2028-03-27", CA_IMAGE "v1.35.0"},
	{"1.36", "2026-06-02", "2027-08-02", "2028-08-02", CA_IMAGE "v1.36.0"},
};

const char *const sf_eks_version_names[] = {"1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", NULL};

const struct sf_eks_version *sf_eks_versions(size_t *n)
{
	*n = sizeof table / sizeof table[0];
	return table;
}

const struct sf_eks_version *sf_eks_version_find(const char *v)
{
	for (size_t i = 0; v && i < sizeof table / sizeof table[0]; i++)
		if (!strcmp(table[i].version, v))
			return &table[i];
	return NULL;
}

int sf_eks_minor(const char *v)
{
	if (!v || strncmp(v, "1.", 2) || !v[2])
		return -1;
	int m = 0;
	for (const char *p = v + 2; *p; p++) {
		if (*p < '0' || *p > '9' || m > 1000)
			return -1;
		m = m * 10 + (*p - '0');
	}
	return m;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

time_t sf_eks_day(const char *ymd)
{
	int y, m, d, used = 0;
	if (!ymd || sscanf(ymd, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || ymd[used] || m < 1 || m > 12 || d < 1 ||
	    d > 31)
		return -1;
	return (time_t)days_from_civil(y, (unsigned)m, (unsigned)d) * 86400;
}

enum sf_eks_support sf_eks_support_at(time_t released, time_t end_standard, time_t end_extended, time_t now)
{
	if (released > 0 && now < released)
		return SF_EKS_UNRELEASED;
	if (now < end_standard)
		return SF_EKS_STANDARD;
	if (now < end_extended)
		return SF_EKS_EXTENDED;
	return SF_EKS_UNSUPPORTED;
}

enum sf_eks_support sf_eks_version_support(const struct sf_eks_version *v, time_t now)
{
	return sf_eks_support_at(sf_eks_day(v->released), sf_eks_day(v->end_standard), sf_eks_day(v->end_extended),
				 now);
}

const char *sf_eks_support_name(enum sf_eks_support s)
{
	switch (s) {
	case SF_EKS_STANDARD: return "standard support";
	case SF_EKS_EXTENDED: return "extended support";
	case SF_EKS_UNSUPPORTED: return "no support";
	case SF_EKS_UNRELEASED: break;
	}
	return "not released";
}

static void fmt_day(time_t t, char out[16])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

char *sf_eks_support_note(const char *version, enum sf_eks_support s, time_t end_standard, time_t end_extended,
			  time_t now)
{
	char std[16], ext[16];
	fmt_day(end_standard, std);
	fmt_day(end_extended, ext);
	char next[16] = "";
	int m = sf_eks_minor(version);
	if (m >= 0) {
		snprintf(next, sizeof next, "1.%d", m + 1);
		if (!sf_eks_version_find(next))
			next[0] = 0;
	}
	char *hint = next[0] ? xasprintf("; upgrade one minor version at a time, next %s", next)
			     : xstrdup("; upgrade one minor version at a time");
	char *out = NULL;
	switch (s) {
	case SF_EKS_EXTENDED:
		out = xasprintf("Kubernetes %s is in EKS extended support since %s (an extra charge per cluster hour); "
				"support ends %s, when EKS upgrades the cluster itself%s",
				version, std, ext, hint);
		break;
	case SF_EKS_UNSUPPORTED:
		out = xasprintf("Kubernetes %s is out of EKS support since %s%s", version, ext, hint);
		break;
	case SF_EKS_STANDARD:
		if (end_standard - now <= (time_t)SF_EKS_NEAR_END_DAYS * 86400)
			out = xasprintf("Kubernetes %s leaves EKS standard support on %s (%ld days); extended support "
					"after that costs extra per cluster hour%s",
					version, std, (long)((end_standard - now + 86399) / 86400), hint);
		break;
	case SF_EKS_UNRELEASED:
		out = xasprintf("Kubernetes %s is not released on EKS yet", version);
		break;
	}
	free(hint);
	return out;
}

const char *sf_eks_autoscaler_image(const char *version)
{
	const struct sf_eks_version *v = version ? sf_eks_version_find(version) : NULL;
	return v ? v->autoscaler_image : NULL;
}
