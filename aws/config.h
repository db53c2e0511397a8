/*
 * config.h - the AWS shared config/credentials files, region and endpoint
 * resolution, exactly as the AWS CLI and SDKs do it.
 *
 * Why: one binary must work against real accounts, in CI and against the
 * project's local AWS, and the only way to point it elsewhere is the
 * documented SDK settings.  This module owns those rules:
 *   - files: AWS_CONFIG_FILE (~/.aws/config: [default], [profile x],
 *     [services x]) and AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials:
 *     [x]); nested "key =\n  sub = v" blocks are stored as "key.sub";
 *   - profile: --profile, else AWS_PROFILE, else "default";
 *   - region: --region, AWS_REGION, AWS_DEFAULT_REGION, profile region;
 *   - endpoint: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's
 *     `services` section, the profile's endpoint_url, all switched off by
 *     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile setting);
 *     otherwise the partition's host (aws, aws-cn, aws-us-gov, the ISO
 *     partitions, aws-eusc), IAM global and signed in the partition's home
 *     region, STS regional unless sts_regional_endpoints=legacy.  Signing
 *     name/region never change with an override;
 *   - FIPS and dual-stack hosts: AWS_USE_FIPS_ENDPOINT / use_fips_endpoint
 *     and AWS_USE_DUALSTACK_ENDPOINT / use_dualstack_endpoint ("true"),
 *     with the hosts the services' endpoint rule sets give (eks's FIPS host
 *     is fips.eks.<region>; GovCloud's regular hosts are FIPS hosts for
 *     most services).  Either with a configured endpoint URL is an error,
 *     as in the SDKs.  A host the rules give need not exist: not every
 *     service has a FIPS endpoint in every region.
 *
 * Calling steps:
 *   1. struct sf_aws_config *cfg; sf_aws_config_load(&cfg, cli_profile, err);
 *   2. sf_aws_resolve_region(cfg, cli_region, &region, err);
 *   3. struct sf_aws_endpoint ep; sf_aws_resolve_endpoint(cfg, "eks", region, &ep, err);
 *   4. sf_aws_config_free(cfg);
 *
 * Ownership: the config owns all strings it returns (borrowed, valid until
 * sf_aws_config_free).  sf_aws_resolve_region returns an owned string.
 * Environment variables are read at each call (tests set them).
 */
#ifndef SF_AWS_CONFIG_H
#define SF_AWS_CONFIG_H

#include "err.h"

enum sf_aws_protocol { SF_PROTO_EC2 = 1, SF_PROTO_QUERY, SF_PROTO_REST_JSON, SF_PROTO_JSON };

/* Static facts about a service: its endpoint prefix, signing name and wire
 * protocol, as the AWS service models declare them. */
struct sf_aws_service {
	const char *id;           /* our name: "ec2", "iam", "sts", "eks", "ssm", "kms", "pricing", "elasticloadbalancing" (v2), "elb" (classic) */
	const char *env_id;       /* AWS_ENDPOINT_URL_<env_id> */
	const char *cfg_id;       /* key inside a [services x] section */
	const char *signing_name;
	const char *host_prefix;  /* "ec2" in ec2.<region>.<suffix> */
	enum sf_aws_protocol protocol;
	const char *version;      /* API version (query protocols) */
	const char *json_version; /* "1.1" for json protocol */
	int global;               /* one endpoint per partition (IAM) */
	const char *home_region;  /* answers only in this region, whatever the client's (Price List: us-east-1) */
};

/* Lookup by id ("elbv2" and "elasticloadbalancingv2" accepted as aliases). NULL if unknown. */
const struct sf_aws_service *sf_aws_service_find(const char *id);

struct sf_aws_config;

int sf_aws_config_load(struct sf_aws_config **out, const char *profile, struct sf_err *err);
void sf_aws_config_free(struct sf_aws_config *cfg);

/* Parse from strings instead of files (tests, fuzzing). Either may be NULL. */
int sf_aws_config_parse(struct sf_aws_config **out, const char *config_text, const char *credentials_text,
			const char *profile, struct sf_err *err);

const char *sf_aws_config_profile(const struct sf_aws_config *cfg); /* active profile name */
int sf_aws_config_profile_explicit(const struct sf_aws_config *cfg); /* given with --profile */
/* Does the profile exist in either file? */
int sf_aws_config_has_profile(const struct sf_aws_config *cfg, const char *profile);
/* Value of key in profile: credentials file first, then config. NULL if absent. */
const char *sf_aws_config_get(const struct sf_aws_config *cfg, const char *profile, const char *key);
/* Value of key in [services name] (key like "eks.endpoint_url"). */
const char *sf_aws_config_services_get(const struct sf_aws_config *cfg, const char *name, const char *key);

/* Region in precedence order; SF_EINVAL with a hint when none is set or it is malformed. */
int sf_aws_resolve_region(const struct sf_aws_config *cfg, const char *override, char **out, struct sf_err *err);

struct sf_aws_endpoint {
	char url[512];            /* "https://eks.eu-west-1.amazonaws.com" (no trailing '/') */
	char signing_region[32];
	char signing_name[64];
	char partition[16];       /* "aws", "aws-cn", "aws-us-gov", "aws-iso-b" ... */
	char variant[24];         /* "FIPS", "dual-stack", "FIPS dual-stack", or "" for the standard host */
	int overridden;           /* 1 when an endpoint_url setting applied */
};

int sf_aws_resolve_endpoint(const struct sf_aws_config *cfg, const char *service, const char *region,
			    struct sf_aws_endpoint *out, struct sf_err *err);

/* Partition name for a region ("aws-cn" for cn-north-1). */
const char *sf_aws_partition(const char *region);
/* The IAM service principal of `service` (given in its commercial spelling,
 * "ec2.amazonaws.com") as trust policies in `partition` must name it: most
 * keep that spelling (eks.amazonaws.com in aws-cn too), a few take the
 * partition's DNS suffix (ec2.amazonaws.com.cn).  Borrowed. */
const char *sf_aws_service_principal(const char *partition, const char *service);

/* Settings with env first, then profile: CA bundle, max attempts, retry mode. Borrowed/NULL. */
const char *sf_aws_config_setting(const struct sf_aws_config *cfg, const char *env, const char *key);

#endif
