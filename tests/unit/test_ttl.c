/* test_ttl.c - ephemeral cluster expiry helpers. */
#include "t.h"

#include "provisioner/kinds/ttl.h"
#include "util.h"

/* 2026-05-02T10:14:07Z */
#define T0 1777716847.0

T_TEST(ttl_expiry_from_duration)
{
	char at[32];
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_ttl_expiry("4h", T0, at, sizeof at, &err), 0);
	T_STREQ(at, "2026-05-02T14:14:07Z");
	T_EQ(sf_ttl_expiry("1h30m", T0, at, sizeof at, &err), 0);
	T_STREQ(at, "2026-05-02T11:44:07Z");
	T_EQ(sf_ttl_expiry("2d", T0, at, sizeof at, &err), 0);
	T_STREQ(at, "2026-05-04T10:14:07Z");
	/* A fractional clock rounds the expiry up, never down. */
	T_EQ(sf_ttl_expiry("90s", T0 + 0.25, at, sizeof at, &err), 0);
	T_STREQ(at, "2026-05-02T10:15:38Z");
}

T_TEST(ttl_rejects_bad_values)
{
	char at[32] = "x";
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_ttl_expiry("soon", T0, at, sizeof at, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "ttl \"soon\" is not a duration");
	T_STREQ(at, "");
	T_EQ(sf_ttl_expiry("0s", T0, at, sizeof at, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "at least one second");
	T_EQ(sf_ttl_expiry("400d", T0, at, sizeof at, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "longer than a year");
	T_EQ(sf_ttl_expiry("nan", T0, at, sizeof at, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "is not a duration");
	T_EQ(sf_ttl_expiry("-4h", T0, at, sizeof at, &err), SF_EINVAL);
	T_EQ(sf_ttl_expiry(NULL, T0, at, sizeof at, &err), SF_EINVAL);
	T_EQ(sf_ttl_expiry("4h", T0, at, 8, &err), SF_EINVAL);
}

T_TEST(ttl_expired_boundaries)
{
	const char *at = "2026-05-02T14:14:07Z";
	T_EQ(sf_ttl_expired(at, T0), 0);
	T_EQ(sf_ttl_expired(at, T0 + 4 * 3600 - 1), 0);
	T_EQ(sf_ttl_expired(at, T0 + 4 * 3600), 1);
	T_EQ(sf_ttl_expired(at, T0 + 5 * 3600), 1);
	T_EQ(sf_ttl_expired("2026-05-02T16:14:07+02:00", T0 + 4 * 3600), 1);
	T_EQ(sf_ttl_expired("not a time", T0), -1);
	T_EQ(sf_ttl_expired("", T0), -1);
	T_EQ(sf_ttl_expired(NULL, T0), -1);
	double left = 0;
	T_EQ(sf_ttl_remaining(at, T0, &left), 0);
	T_EQ((long long)left, 4 * 3600);
	T_EQ(sf_ttl_remaining(at, T0 + 5 * 3600, &left), 0);
	T_EQ((long long)left, -3600);
	/* Round trip: an expiry computed now is not expired now, but is after. */
	char got[32];
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_ttl_expiry("5m", T0, got, sizeof got, &err), 0);
	T_EQ(sf_ttl_expired(got, T0), 0);
	T_EQ(sf_ttl_expired(got, T0 + 300), 1);
}

T_TEST(ttl_from_metadata)
{
	const char *y = "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: e\n  ttl: 30m\nspec: {}\n"
			"---\n"
			"apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: f}\nspec: {}\n"
			"---\n"
			"apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: g\n  ttl: forever\nspec: {}\n";
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(sf_spec_load_buffer(&set, "ttl.yaml", y, strlen(y), &d), 0);
	T_EQ(set.n, 3);
	char at[32];
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_ttl_from_doc(&set.docs[0], T0, at, sizeof at, &err), 1);
	T_STREQ(at, "2026-05-02T10:44:07Z");
	T_EQ(sf_ttl_from_doc(&set.docs[1], T0, at, sizeof at, &err), 0);
	T_STREQ(at, "");
	T_EQ(sf_ttl_from_doc(&set.docs[2], T0, at, sizeof at, &err), SF_EINVAL);
	T_STREQ(err.where, "ttl.yaml:17:8");
	T_CONTAINS(err.msg, "\"forever\"");
	sf_specset_release(&set);
	sf_diags_release(&d);
}

T_MAIN()
