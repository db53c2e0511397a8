/*
 * Shared config files, profiles, region resolution and the endpoint table:
 * every partition, IAM's global signing region, STS regional/legacy, FIPS
 * and dual-stack hosts (against endpoint_cases.h), and every endpoint
 * override in precedence order.
 */
#include "t.h"

#include <string.h>

#include "aws/config.h"
#include "endpoint_cases.h"
#include "tests/aws/fixture.h"

static const char *CONFIG =
	"# comment\n"
	"[default]\n"
	"region = eu-west-1\n"
	"\n"
	"[profile dev]\n"
	"region=us-east-2\n"
	"services = local\n"
	"s3 =\n"
	"  max_concurrent_requests = 4\n"
	"[profile   spaced]\n"
	"endpoint_url = http://127.0.0.1:4566/\n"
	"; another comment\n"
	"[services local]\n"
	"eks =\n"
	"  endpoint_url = http://127.0.0.1:7001\n"
	"elastic_load_balancing_v2 =\n"
	"  endpoint_url = http://127.0.0.1:7002\n";

static const char *CREDS = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n"
			   "[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=s2\nregion = ap-south-1\n";

static struct sf_aws_config *load(const char *profile)
{
	struct sf_aws_config *c = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (sf_aws_config_parse(&c, CONFIG, CREDS, profile, &e) < 0)
		return NULL;
	return c;
}

T_TEST(ini_sections_nested_blocks_and_precedence)
{
	fx_clean_env();
	struct sf_aws_config *c = load(NULL);
	T_STREQ(sf_aws_config_profile(c), "default");
	T_STREQ(sf_aws_config_get(c, "default", "region"), "eu-west-1");
	T_STREQ(sf_aws_config_get(c, "dev", "aws_access_key_id"), "AKIDDEV");
	/* credentials file wins over config for the same key */
	T_STREQ(sf_aws_config_get(c, "dev", "region"), "ap-south-1");
	T_STREQ(sf_aws_config_get(c, "dev", "s3.max_concurrent_requests"), "4");
	T_STREQ(sf_aws_config_get(c, "spaced", "endpoint_url"), "http://127.0.0.1:4566/");
	T_STREQ(sf_aws_config_services_get(c, "local", "eks.endpoint_url"), "http://127.0.0.1:7001");
	T_OK(sf_aws_config_get(c, "dev", "nope") == NULL);
	T_OK(sf_aws_config_has_profile(c, "dev"));
	T_OK(!sf_aws_config_has_profile(c, "ghost"));
	sf_aws_config_free(c);
	setenv("AWS_PROFILE", "dev", 1);
	c = load(NULL);
	T_STREQ(sf_aws_config_profile(c), "dev");
	T_EQ(sf_aws_config_profile_explicit(c), 0);
	sf_aws_config_free(c);
	c = load("spaced");
	T_STREQ(sf_aws_config_profile(c), "spaced");
	T_EQ(sf_aws_config_profile_explicit(c), 1);
	sf_aws_config_free(c);
	unsetenv("AWS_PROFILE");
}

T_TEST(config_files_from_env_paths)
{
	fx_clean_env();
	struct sf_err e = SF_ERR_INIT;
	char *cp = xasprintf("%s/cfg", t_tmpdir()), *kp = xasprintf("%s/creds", t_tmpdir());
	T_EQ(sf_write_file_atomic(cp, CONFIG, strlen(CONFIG), 0600, &e), 0);
	T_EQ(sf_write_file_atomic(kp, CREDS, strlen(CREDS), 0600, &e), 0);
	setenv("AWS_CONFIG_FILE", cp, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", kp, 1);
	struct sf_aws_config *c = NULL;
	T_EQ(sf_aws_config_load(&c, "dev", &e), 0);
	T_STREQ(sf_aws_config_get(c, NULL, "aws_access_key_id"), "AKIDDEV");
	sf_aws_config_free(c);
	T_EQ(sf_aws_config_load(&c, "ghost", &e), SF_EINVAL);
	T_CONTAINS(e.msg, "profile ghost not found");
	T_OK(c == NULL);
	fx_clean_env(); /* missing files are fine */
	T_EQ(sf_aws_config_load(&c, NULL, &e), 0);
	sf_aws_config_free(c);
	free(cp);
	free(kp);
}

T_TEST(region_precedence_and_validation)
{
	fx_clean_env();
	struct sf_aws_config *c = load(NULL);
	char *r = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_resolve_region(c, NULL, &r, &e), 0);
	T_STREQ(r, "eu-west-1");
	free(r);
	setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
	T_EQ(sf_aws_resolve_region(c, NULL, &r, &e), 0);
	T_STREQ(r, "us-west-2");
	free(r);
	setenv("AWS_REGION", "eu-north-1", 1);
	T_EQ(sf_aws_resolve_region(c, NULL, &r, &e), 0);
	T_STREQ(r, "eu-north-1");
	free(r);
	T_EQ(sf_aws_resolve_region(c, "cn-north-1", &r, &e), 0);
	T_STREQ(r, "cn-north-1");
	free(r);
	T_EQ(sf_aws_resolve_region(c, "Europe", &r, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "unknown AWS region \"Europe\" (from --region)");
	T_EQ(sf_aws_resolve_region(c, "eu-west-1.evil.com/", &r, &e), SF_EINVAL);
	sf_aws_config_free(c);
	fx_clean_env();
	T_EQ(sf_aws_resolve_region(NULL, NULL, &r, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "no AWS region");
	T_CONTAINS(e.hint, "--region");
}

struct ep_case {
	const char *service, *region, *url, *signing_region, *partition;
};

T_TEST(service_principals_follow_the_partition)
{
	T_STREQ(sf_aws_service_principal("aws", "ec2.amazonaws.com"), "ec2.amazonaws.com");
	T_STREQ(sf_aws_service_principal("aws-cn", "ec2.amazonaws.com"), "ec2.amazonaws.com.cn");
	T_STREQ(sf_aws_service_principal("aws-cn", "eks.amazonaws.com"), "eks.amazonaws.com");
	T_STREQ(sf_aws_service_principal("aws-us-gov", "ec2.amazonaws.com"), "ec2.amazonaws.com");
	T_STREQ(sf_aws_service_principal(sf_aws_partition("cn-northwest-1"), "ec2.amazonaws.com"), "ec2.amazonaws.com.cn");
}

T_TEST(endpoint_table_partitions_and_globals)
{
	static const struct ep_case cases[] = {
		{"ec2", "eu-west-1", "https://ec2.eu-west-1.amazonaws.com", "eu-west-1", "aws"},
		{"eks", "us-east-2", "https://eks.us-east-2.amazonaws.com", "us-east-2", "aws"},
		{"ssm", "ap-southeast-4", "https://ssm.ap-southeast-4.amazonaws.com", "ap-southeast-4", "aws"},
		{"elasticloadbalancing", "eu-west-1", "https://elasticloadbalancing.eu-west-1.amazonaws.com", "eu-west-1",
		 "aws"},
		{"elbv2", "eu-west-1", "https://elasticloadbalancing.eu-west-1.amazonaws.com", "eu-west-1", "aws"},
		{"sts", "eu-west-1", "https://sts.eu-west-1.amazonaws.com", "eu-west-1", "aws"},
		{"iam", "eu-west-1", "https://iam.amazonaws.com", "us-east-1", "aws"},
		{"iam", "ap-south-1", "https://iam.amazonaws.com", "us-east-1", "aws"},
		/* the Price List API: us-east-1's endpoint for every region's prices */
		{"pricing", "eu-west-1", "https://api.pricing.us-east-1.amazonaws.com", "us-east-1", "aws"},
		{"pricing", "us-east-1", "https://api.pricing.us-east-1.amazonaws.com", "us-east-1", "aws"},
		/* China's prices come from its one endpoint, in cn-northwest-1 */
		{"pricing", "cn-north-1", "https://api.pricing.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1", "aws-cn"},
		{"ec2", "cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn"},
		{"sts", "cn-northwest-1", "https://sts.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1", "aws-cn"},
		{"iam", "cn-northwest-1", "https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn"},
		{"eks", "us-gov-east-1", "https://eks.us-gov-east-1.amazonaws.com", "us-gov-east-1", "aws-us-gov"},
		{"iam", "us-gov-east-1", "https://iam.us-gov.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
		{"sts", "us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
	};
	fx_clean_env();
	struct sf_aws_config *c = load(NULL);
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		struct sf_aws_endpoint ep;
		struct sf_err e = SF_ERR_INIT;
		T_EQ(sf_aws_resolve_endpoint(c, cases[i].service, cases[i].region, &ep, &e), 0);
		T_STREQ(ep.url, cases[i].url);
		T_STREQ(ep.signing_region, cases[i].signing_region);
		T_STREQ(ep.partition, cases[i].partition);
		T_EQ(ep.overridden, 0);
	}
	struct sf_aws_endpoint ep;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_resolve_endpoint(c, "s3", "eu-west-1", &ep, &e), SF_EINVAL);
	T_EQ(sf_aws_resolve_endpoint(c, "ec2", "moon-1", &ep, &e), SF_EINVAL);
	/* GovCloud has no Price List endpoint: said at once, not after DNS retries */
	T_EQ(sf_aws_resolve_endpoint(c, "pricing", "us-gov-west-1", &ep, &e), SF_ENOTFOUND);
	T_CONTAINS(e.msg, "pricing has no endpoint in the aws-us-gov partition");
	/* STS legacy mode: the 15 original regions go global, signed us-east-1 */
	setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy", 1);
	T_EQ(sf_aws_resolve_endpoint(c, "sts", "eu-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://sts.amazonaws.com");
	T_STREQ(ep.signing_region, "us-east-1");
	T_EQ(sf_aws_resolve_endpoint(c, "sts", "ap-east-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://sts.ap-east-1.amazonaws.com");
	unsetenv("AWS_STS_REGIONAL_ENDPOINTS");
	sf_aws_config_free(c);
}

/* The hosts AWS's endpoint rules give, for each partition, with and
 * without FIPS and dual-stack, from the environment and from a profile. */
T_TEST(endpoint_fips_and_dualstack_hosts_match_the_rule_sets)
{
	static const char *const variants[4] = {"", "dual-stack", "FIPS", "FIPS dual-stack"};
	fx_clean_env();
	struct sf_aws_config *c = load(NULL);
	for (size_t i = 0; i < SF_ARRAY_LEN(endpoint_cases); i++) {
		const struct endpoint_case *k = &endpoint_cases[i];
		for (int v = 0; v < 4; v++) {
			if (v & 2)
				setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
			else
				unsetenv("AWS_USE_FIPS_ENDPOINT");
			if (v & 1)
				setenv("AWS_USE_DUALSTACK_ENDPOINT", "TRUE", 1);
			else
				unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
			struct sf_aws_endpoint ep;
			struct sf_err e = SF_ERR_INIT;
			char want[256];
			snprintf(want, sizeof want, "https://%s", k->host[v]);
			T_EQ(sf_aws_resolve_endpoint(c, k->service, k->region, &ep, &e), 0);
			if (strcmp(ep.url, want))
				T_FAILF("%s in %s, variant %d: %s, want %s", k->service, k->region, v, ep.url, want);
			T_STREQ(ep.signing_region, k->signing_region);
			T_STREQ(ep.variant, variants[v]);
			T_STREQ(ep.partition, sf_aws_partition(k->region));
		}
	}
	/* anything but "true" is off, as in the SDKs */
	setenv("AWS_USE_FIPS_ENDPOINT", "1", 1);
	unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
	struct sf_aws_endpoint ep;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_resolve_endpoint(c, "ec2", "eu-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://ec2.eu-west-1.amazonaws.com");
	/* the Price List API stays at its home region, FIPS or not */
	setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
	T_EQ(sf_aws_resolve_endpoint(c, "pricing", "eu-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://api.pricing-fips.us-east-1.amazonaws.com");
	T_STREQ(ep.signing_region, "us-east-1");
	/* legacy STS is for the standard host only */
	setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy", 1);
	T_EQ(sf_aws_resolve_endpoint(c, "sts", "eu-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://sts-fips.eu-west-1.amazonaws.com");
	T_STREQ(ep.signing_region, "eu-west-1");
	unsetenv("AWS_STS_REGIONAL_ENDPOINTS");
	/* a configured endpoint URL and either setting: refused, as the rules do */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", 1);
	T_EQ(sf_aws_resolve_endpoint(c, "eks", "eu-west-1", &ep, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "AWS_USE_FIPS_ENDPOINT");
	T_CONTAINS(e.msg, "configured endpoint URL");
	unsetenv("AWS_USE_FIPS_ENDPOINT");
	setenv("AWS_USE_DUALSTACK_ENDPOINT", "true", 1);
	sf_err_clear(&e);
	T_EQ(sf_aws_resolve_endpoint(c, "iam", "eu-west-1", &ep, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "AWS_USE_DUALSTACK_ENDPOINT");
	unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
	T_EQ(sf_aws_resolve_endpoint(c, "iam", "eu-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "http://127.0.0.1:4566");
	T_STREQ(ep.variant, "");
	unsetenv("AWS_ENDPOINT_URL");
	sf_aws_config_free(c);
	/* the profile's settings, when the environment says nothing */
	struct sf_aws_config *p = NULL;
	T_EQ(sf_aws_config_parse(&p, "[default]\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n", NULL, NULL,
				 &e),
	     0);
	T_EQ(sf_aws_resolve_endpoint(p, "eks", "us-gov-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://eks-fips.us-gov-west-1.api.aws");
	/* the environment wins over the profile */
	setenv("AWS_USE_DUALSTACK_ENDPOINT", "false", 1);
	T_EQ(sf_aws_resolve_endpoint(p, "eks", "us-gov-west-1", &ep, &e), 0);
	T_STREQ(ep.url, "https://eks.us-gov-west-1.amazonaws.com");
	unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
	sf_aws_config_free(p);
}

static void expect_url(struct sf_aws_config *c, const char *svc, const char *url, int overridden)
{
	struct sf_aws_endpoint ep;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_resolve_endpoint(c, svc, "eu-west-1", &ep, &e), 0);
	T_STREQ(ep.url, url);
	T_EQ(ep.overridden, overridden);
	/* signing never follows the override */
	T_STREQ(ep.signing_region, !strcmp(svc, "iam") ? "us-east-1" : "eu-west-1");
}

T_TEST(endpoint_overrides_in_precedence_order)
{
	fx_clean_env();
	struct sf_aws_config *dev = load("dev"), *spaced = load("spaced"), *def = load(NULL);
	/* 4. profile endpoint_url */
	expect_url(spaced, "ec2", "http://127.0.0.1:4566", 1);
	expect_url(def, "ec2", "https://ec2.eu-west-1.amazonaws.com", 0);
	/* 3. [services] section named by the profile, per service */
	expect_url(dev, "eks", "http://127.0.0.1:7001", 1);
	expect_url(dev, "elasticloadbalancing", "http://127.0.0.1:7002", 1);
	expect_url(dev, "ec2", "https://ec2.eu-west-1.amazonaws.com", 0);
	/* 2. AWS_ENDPOINT_URL beats the files */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
	expect_url(dev, "eks", "http://127.0.0.1:9000", 1);
	expect_url(def, "iam", "http://127.0.0.1:9000", 1);
	/* 1. AWS_ENDPOINT_URL_<SERVICE> beats everything */
	setenv("AWS_ENDPOINT_URL_EKS", "http://127.0.0.1:9001/", 1);
	setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "https://[::1]:9002", 1);
	setenv("AWS_ENDPOINT_URL_IAM", "http://localhost:9003", 1);
	expect_url(dev, "eks", "http://127.0.0.1:9001", 1);
	expect_url(dev, "elbv2", "https://[::1]:9002", 1);
	expect_url(dev, "iam", "http://localhost:9003", 1);
	expect_url(dev, "ssm", "http://127.0.0.1:9000", 1);
	/* and the switch turns every configured URL off */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	expect_url(dev, "eks", "https://eks.eu-west-1.amazonaws.com", 0);
	expect_url(spaced, "ec2", "https://ec2.eu-west-1.amazonaws.com", 0);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	setenv("AWS_ENDPOINT_URL_SSM", "ftp://127.0.0.1/", 1);
	struct sf_aws_endpoint ep;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_resolve_endpoint(dev, "ssm", "eu-west-1", &ep, &e), SF_EINVAL);
	T_CONTAINS(e.msg, "must start with http:// or https://");
	fx_clean_env();
	sf_aws_config_free(dev);
	sf_aws_config_free(spaced);
	sf_aws_config_free(def);
	/* profile-level switch */
	struct sf_aws_config *c = NULL;
	sf_aws_config_parse(&c, "[default]\nendpoint_url = http://127.0.0.1:1\nignore_configured_endpoint_urls = true\n",
			    NULL, NULL, &e);
	expect_url(c, "ec2", "https://ec2.eu-west-1.amazonaws.com", 0);
	sf_aws_config_free(c);
}

T_MAIN()
