/*
 * eks_versions.h - the EKS Kubernetes version calendar secfaas carries
 * built in: every minor version EKS has offered that a spec may name, the
 * day EKS released it, and when its standard (14 months) and extended (12
 * more, at an extra per-cluster-hour cost) support end.
 *
 * Why built in: `secfaas validate` checks a spec offline, so it needs the
 * list of versions and their calendar without AWS.  At plan time the
 * eks_cluster type asks EKS itself (DescribeClusterVersions) and uses this
 * table only when the answer lacks a version; the table is a fallback and
 * the schema's list, never a substitute for what EKS says.
 *
 * Also here, being per minor version like the calendar: the cluster
 * autoscaler image of each version (one table, so an upgrade moves it).
 *
 * Also here, because the Cluster kind and the EKS types both need them:
 * minor-version arithmetic and the kubelet skew rule (kubelets may trail
 * the API server by SF_EKS_KUBELET_SKEW minors, never lead it).
 *
 * Everything returned is static; nothing to free except where noted.
 */
#ifndef SF_EKS_VERSIONS_H
#define SF_EKS_VERSIONS_H

#include <stddef.h>
#include <time.h>

/* Kubelets of a node may be up to this many minor versions older than the
 * API server (Kubernetes version skew policy since 1.28), never newer. */
#define SF_EKS_KUBELET_SKEW 3

/* Days before the end of standard support from which plan warns. */
#define SF_EKS_NEAR_END_DAYS 60

struct sf_eks_version {
	const char *version;      /* "1.35" */
	const char *released;     /* day EKS released it, YYYY-MM-DD (UTC) */
	const char *end_standard; /* first day without standard support */
	const char *end_extended; /* first day without any support */
	const char *autoscaler_image; /* the cluster autoscaler of this minor (spec.autoscaler) */
};

enum sf_eks_support {
	SF_EKS_UNRELEASED = 0, /* before its EKS release day */
	SF_EKS_STANDARD,
	SF_EKS_EXTENDED,
	SF_EKS_UNSUPPORTED,
};

/* The table, oldest first; *n entries. */
const struct sf_eks_version *sf_eks_versions(size_t *n);
/* NULL-terminated list of the table's version strings (the schema's enum). */
extern const char *const sf_eks_version_names[];
/* The entry of `v` ("1.35"), or NULL. */
const struct sf_eks_version *sf_eks_version_find(const char *v);
/* The minor number of "1.N" (N), or -1 if v is not "1.<digits>". */
int sf_eks_minor(const char *v);
/* "YYYY-MM-DD" → seconds since the epoch at 00:00 UTC, or -1. */
time_t sf_eks_day(const char *ymd);
/* Support status of a version whose EKS dates are given, at time `now`. */
enum sf_eks_support sf_eks_support_at(time_t released, time_t end_standard, time_t end_extended, time_t now);
/* The same for a table entry. */
enum sf_eks_support sf_eks_version_support(const struct sf_eks_version *v, time_t now);
/* The cluster autoscaler image for Kubernetes `version` ("1.35"), or NULL
 * for a version the table does not know. */
const char *sf_eks_autoscaler_image(const char *version);
/* "standard support", "extended support", "no support", "not released". */
const char *sf_eks_support_name(enum sf_eks_support s);

/* One line for a plan or validate warning about a version's support, or
 * NULL when there is nothing to say (standard support, more than
 * SF_EKS_NEAR_END_DAYS left).  Names the cost of extended support, the end
 * day and the next version to upgrade to when the table knows one.
 * Owned (free()). */
char *sf_eks_support_note(const char *version, enum sf_eks_support s, time_t end_standard, time_t end_extended,
			  time_t now);

#endif
