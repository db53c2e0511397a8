/* test_eks_versions.c - the built-in EKS version calendar and its support notes. */
#include "t.h"

#include "resources/eks_versions.h"

#define DAY(s) sf_eks_day(s)

T_TEST(eks_days_are_utc_midnights)
{
	T_EQ(sf_eks_day("1970-01-01"), 0);
	T_EQ(sf_eks_day("2026-12-05"), 1796428800LL);
	T_EQ(sf_eks_day("2000-03-01") - sf_eks_day("2000-02-28"), 2 * 86400); /* leap year */
	T_EQ(sf_eks_day("2026-13-01"), -1);
	T_EQ(sf_eks_day("2026-12-5x"), -1);
	T_EQ(sf_eks_day(NULL), -1);
}

T_TEST(eks_minor_parses_only_one_dot_n)
{
	T_EQ(sf_eks_minor("1.35"), 35);
	T_EQ(sf_eks_minor("1.9"), 9);
	T_EQ(sf_eks_minor("2.1"), -1);
	T_EQ(sf_eks_minor("1."), -1);
	T_EQ(sf_eks_minor("1.3a"), -1);
	T_EQ(sf_eks_minor(NULL), -1);
}

T_TEST(eks_table_reaches_1_36_in_order_with_14_plus_12_months)
{
	size_t n;
	const struct sf_eks_version *v = sf_eks_versions(&n);
	T_OK(n >= 8);
	T_STREQ(v[n - 1].version, "1.36");
	for (size_t i = 0; i < n; i++) {
		T_STREQ(sf_eks_version_names[i], v[i].version);
		if (i)
			T_EQ(sf_eks_minor(v[i].version), sf_eks_minor(v[i - 1].version) + 1);
		/* 14 months of standard support, then 12 of extended */
		double std = (double)(DAY(v[i].end_standard) - DAY(v[i].released)) / 86400.0;
		double ext = (double)(DAY(v[i].end_extended) - DAY(v[i].end_standard)) / 86400.0;
		T_OK(std >= 420 && std <= 428);
		T_OK(ext >= 365 && ext <= 366);
	}
	T_OK(sf_eks_version_names[n] == NULL);
	T_OK(sf_eks_version_find("1.28") == NULL);
	T_STREQ(sf_eks_version_find("1.35")->end_standard, "2027-03-27");
}

T_TEST(eks_support_on_2026_12_05)
{
	time_t now = DAY("2026-12-05") + 12 * 3600;
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.30"), now), SF_EKS_UNSUPPORTED);
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.31"), now), SF_EKS_UNSUPPORTED);
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.33"), now), SF_EKS_EXTENDED);
	/* 1.34 left standard support on 2026-12-02 */
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.34"), now), SF_EKS_EXTENDED);
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.34"), DAY("2026-12-02") - 1), SF_EKS_STANDARD);
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.35"), now), SF_EKS_STANDARD);
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.36"), now), SF_EKS_STANDARD);
	T_EQ(sf_eks_version_support(sf_eks_version_find("1.36"), DAY("2026-06-01")), SF_EKS_UNRELEASED);
}

T_TEST(eks_support_notes)
{
	time_t now = DAY("2026-12-05");
	const struct sf_eks_version *v = sf_eks_version_find("1.34");
	char *n = sf_eks_support_note("1.34", SF_EKS_EXTENDED, DAY(v->end_standard), DAY(v->end_extended), now);
	T_CONTAINS(n, "Kubernetes 1.34 is in EKS extended support since 2026-12-02");
	T_CONTAINS(n, "extra charge per cluster hour");
	T_CONTAINS(n, "support ends 2027-12-02");
	T_CONTAINS(n, "next 1.35");
	free(n);
	/* standard, far from the end: nothing to say */
	v = sf_eks_version_find("1.35");
	T_OK(sf_eks_support_note("1.35", SF_EKS_STANDARD, DAY(v->end_standard), DAY(v->end_extended), now) == NULL);
	/* standard, 30 days left */
	n = sf_eks_support_note("1.35", SF_EKS_STANDARD, DAY(v->end_standard), DAY(v->end_extended),
				DAY(v->end_standard) - 30 * 86400);
	T_CONTAINS(n, "leaves EKS standard support on 2027-03-27 (30 days)");
	T_CONTAINS(n, "next 1.36");
	free(n);
	/* the newest version names no next one */
	v = sf_eks_version_find("1.36");
	n = sf_eks_support_note("1.36", SF_EKS_EXTENDED, DAY(v->end_standard), DAY(v->end_extended),
				DAY(v->end_standard) + 86400);
	T_OK(n && !strstr(n, "next"));
	free(n);
	n = sf_eks_support_note("1.30", SF_EKS_UNSUPPORTED, DAY("2025-07-23"), DAY("2026-07-23"), now);
	T_CONTAINS(n, "out of EKS support since 2026-07-23");
	free(n);
}

T_MAIN()
