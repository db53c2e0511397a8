/*
 * endpoint_cases.h - expected AWS endpoints, one row per service and
 * region: the signing region and the host with neither setting, with
 * dual-stack, with FIPS, and with both.
 *
 * Why a table: these are AWS's facts, worked out from each service's
 * official endpoint rule set and partition list, not from secfaas's
 * code, so test_aws_config.c checks sf_aws_resolve_endpoint against
 * something it did not write.  Every partition has a region here, and
 * the irregular hosts (eks's fips.eks.<region>, GovCloud's regular hosts
 * that are FIPS ones, IAM's per-partition hosts) are all covered.
 */
#ifndef SF_TEST_ENDPOINT_CASES_H
#define SF_TEST_ENDPOINT_CASES_H

struct endpoint_case {
	const char *service, *region, *signing_region;
	const char *host[4]; /* plain, dual-stack, FIPS, FIPS dual-stack */
};

static const struct endpoint_case endpoint_cases[] = {
	{"ec2", "us-east-1", "us-east-1", {"ec2.us-east-1.amazonaws.com", "ec2.us-east-1.api.aws", "ec2-fips.us-east-1.amazonaws.com", "ec2-fips.us-east-1.api.aws"}},
	{"ec2", "eu-west-1", "eu-west-1", {"ec2.eu-west-1.amazonaws.com", "ec2.eu-west-1.api.aws", "ec2-fips.eu-west-1.amazonaws.com", "ec2-fips.eu-west-1.api.aws"}},
	{"ec2", "cn-north-1", "cn-north-1", {"ec2.cn-north-1.amazonaws.com.cn", "ec2.cn-north-1.api.amazonwebservices.com.cn", "ec2-fips.cn-north-1.amazonaws.com.cn", "ec2-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"ec2", "cn-northwest-1", "cn-northwest-1", {"ec2.cn-northwest-1.amazonaws.com.cn", "ec2.cn-northwest-1.api.amazonwebservices.com.cn", "ec2-fips.cn-northwest-1.amazonaws.com.cn", "ec2-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"ec2", "us-gov-west-1", "us-gov-west-1", {"ec2.us-gov-west-1.amazonaws.com", "ec2.us-gov-west-1.api.aws", "ec2.us-gov-west-1.amazonaws.com", "ec2-fips.us-gov-west-1.api.aws"}},
	{"ec2", "us-gov-east-1", "us-gov-east-1", {"ec2.us-gov-east-1.amazonaws.com", "ec2.us-gov-east-1.api.aws", "ec2.us-gov-east-1.amazonaws.com", "ec2-fips.us-gov-east-1.api.aws"}},
	{"ec2", "us-iso-east-1", "us-iso-east-1", {"ec2.us-iso-east-1.c2s.ic.gov", "ec2.us-iso-east-1.api.aws.ic.gov", "ec2-fips.us-iso-east-1.c2s.ic.gov", "ec2-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"ec2", "us-isob-east-1", "us-isob-east-1", {"ec2.us-isob-east-1.sc2s.sgov.gov", "ec2.us-isob-east-1.api.aws.scloud", "ec2-fips.us-isob-east-1.sc2s.sgov.gov", "ec2-fips.us-isob-east-1.api.aws.scloud"}},
	{"ec2", "eu-isoe-west-1", "eu-isoe-west-1", {"ec2.eu-isoe-west-1.cloud.adc-e.uk", "ec2.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "ec2-fips.eu-isoe-west-1.cloud.adc-e.uk", "ec2-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"ec2", "us-isof-south-1", "us-isof-south-1", {"ec2.us-isof-south-1.csp.hci.ic.gov", "ec2.us-isof-south-1.api.aws.hci.ic.gov", "ec2-fips.us-isof-south-1.csp.hci.ic.gov", "ec2-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"ec2", "eusc-de-east-1", "eusc-de-east-1", {"ec2.eusc-de-east-1.amazonaws.eu", "ec2.eusc-de-east-1.api.amazonwebservices.eu", "ec2-fips.eusc-de-east-1.amazonaws.eu", "ec2-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
	{"eks", "us-east-1", "us-east-1", {"eks.us-east-1.amazonaws.com", "eks.us-east-1.api.aws", "fips.eks.us-east-1.amazonaws.com", "eks-fips.us-east-1.api.aws"}},
	{"eks", "eu-west-1", "eu-west-1", {"eks.eu-west-1.amazonaws.com", "eks.eu-west-1.api.aws", "fips.eks.eu-west-1.amazonaws.com", "eks-fips.eu-west-1.api.aws"}},
	{"eks", "cn-north-1", "cn-north-1", {"eks.cn-north-1.amazonaws.com.cn", "eks.cn-north-1.api.amazonwebservices.com.cn", "eks-fips.cn-north-1.amazonaws.com.cn", "eks-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"eks", "cn-northwest-1", "cn-northwest-1", {"eks.cn-northwest-1.amazonaws.com.cn", "eks.cn-northwest-1.api.amazonwebservices.com.cn", "eks-fips.cn-northwest-1.amazonaws.com.cn", "eks-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"eks", "us-gov-west-1", "us-gov-west-1", {"eks.us-gov-west-1.amazonaws.com", "eks.us-gov-west-1.api.aws", "eks.us-gov-west-1.amazonaws.com", "eks-fips.us-gov-west-1.api.aws"}},
	{"eks", "us-gov-east-1", "us-gov-east-1", {"eks.us-gov-east-1.amazonaws.com", "eks.us-gov-east-1.api.aws", "eks.us-gov-east-1.amazonaws.com", "eks-fips.us-gov-east-1.api.aws"}},
	{"eks", "us-iso-east-1", "us-iso-east-1", {"eks.us-iso-east-1.c2s.ic.gov", "eks.us-iso-east-1.api.aws.ic.gov", "eks-fips.us-iso-east-1.c2s.ic.gov", "eks-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"eks", "us-isob-east-1", "us-isob-east-1", {"eks.us-isob-east-1.sc2s.sgov.gov", "eks.us-isob-east-1.api.aws.scloud", "eks-fips.us-isob-east-1.sc2s.sgov.gov", "eks-fips.us-isob-east-1.api.aws.scloud"}},
	{"eks", "eu-isoe-west-1", "eu-isoe-west-1", {"eks.eu-isoe-west-1.cloud.adc-e.uk", "eks.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "eks-fips.eu-isoe-west-1.cloud.adc-e.uk", "eks-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"eks", "us-isof-south-1", "us-isof-south-1", {"eks.us-isof-south-1.csp.hci.ic.gov", "eks.us-isof-south-1.api.aws.hci.ic.gov", "eks-fips.us-isof-south-1.csp.hci.ic.gov", "eks-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"eks", "eusc-de-east-1", "eusc-de-east-1", {"eks.eusc-de-east-1.amazonaws.eu", "eks.eusc-de-east-1.api.amazonwebservices.eu", "eks-fips.eusc-de-east-1.amazonaws.eu", "eks-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
	{"iam", "us-east-1", "us-east-1", {"iam.amazonaws.com", "iam.global.api.aws", "iam-fips.amazonaws.com", "iam-fips.global.api.aws"}},
	{"iam", "eu-west-1", "us-east-1", {"iam.amazonaws.com", "iam.global.api.aws", "iam-fips.amazonaws.com", "iam-fips.global.api.aws"}},
	{"iam", "cn-north-1", "cn-north-1", {"iam.cn-north-1.amazonaws.com.cn", "iam.global.api.amazonwebservices.com.cn", "iam-fips.amazonaws.com.cn", "iam-fips.api.amazonwebservices.com.cn"}},
	{"iam", "cn-northwest-1", "cn-north-1", {"iam.cn-north-1.amazonaws.com.cn", "iam.global.api.amazonwebservices.com.cn", "iam-fips.amazonaws.com.cn", "iam-fips.api.amazonwebservices.com.cn"}},
	{"iam", "us-gov-west-1", "us-gov-west-1", {"iam.us-gov.amazonaws.com", "iam.us-gov.api.aws", "iam.us-gov.amazonaws.com", "iam.us-gov.api.aws"}},
	{"iam", "us-gov-east-1", "us-gov-west-1", {"iam.us-gov.amazonaws.com", "iam.us-gov.api.aws", "iam.us-gov.amazonaws.com", "iam.us-gov.api.aws"}},
	{"iam", "us-iso-east-1", "us-iso-east-1", {"iam.us-iso-east-1.c2s.ic.gov", "iam.api.aws.ic.gov", "iam-fips.us-iso-east-1.c2s.ic.gov", "iam-fips.api.aws.ic.gov"}},
	{"iam", "us-isob-east-1", "us-isob-east-1", {"iam.us-isob-east-1.sc2s.sgov.gov", "iam.api.aws.scloud", "iam-fips.us-isob-east-1.sc2s.sgov.gov", "iam-fips.api.aws.scloud"}},
	{"iam", "eu-isoe-west-1", "eu-isoe-west-1", {"iam.eu-isoe-west-1.cloud.adc-e.uk", "iam.api.cloud-aws.adc-e.uk", "iam-fips.cloud.adc-e.uk", "iam-fips.api.cloud-aws.adc-e.uk"}},
	{"iam", "us-isof-south-1", "us-isof-south-1", {"iam.us-isof-south-1.csp.hci.ic.gov", "iam.api.aws.hci.ic.gov", "iam-fips.csp.hci.ic.gov", "iam-fips.api.aws.hci.ic.gov"}},
	{"iam", "eusc-de-east-1", "eusc-de-east-1", {"iam.eusc-de-east-1.amazonaws.eu", "iam.global.api.amazonwebservices.eu", "iam-fips.amazonaws.eu", "iam-fips.api.amazonwebservices.eu"}},
	{"sts", "us-east-1", "us-east-1", {"sts.us-east-1.amazonaws.com", "sts.us-east-1.api.aws", "sts-fips.us-east-1.amazonaws.com", "sts-fips.us-east-1.api.aws"}},
	{"sts", "eu-west-1", "eu-west-1", {"sts.eu-west-1.amazonaws.com", "sts.eu-west-1.api.aws", "sts-fips.eu-west-1.amazonaws.com", "sts-fips.eu-west-1.api.aws"}},
	{"sts", "cn-north-1", "cn-north-1", {"sts.cn-north-1.amazonaws.com.cn", "sts.cn-north-1.api.amazonwebservices.com.cn", "sts-fips.cn-north-1.amazonaws.com.cn", "sts-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"sts", "cn-northwest-1", "cn-northwest-1", {"sts.cn-northwest-1.amazonaws.com.cn", "sts.cn-northwest-1.api.amazonwebservices.com.cn", "sts-fips.cn-northwest-1.amazonaws.com.cn", "sts-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"sts", "us-gov-west-1", "us-gov-west-1", {"sts.us-gov-west-1.amazonaws.com", "sts.us-gov-west-1.api.aws", "sts.us-gov-west-1.amazonaws.com", "sts-fips.us-gov-west-1.api.aws"}},
	{"sts", "us-gov-east-1", "us-gov-east-1", {"sts.us-gov-east-1.amazonaws.com", "sts.us-gov-east-1.api.aws", "sts.us-gov-east-1.amazonaws.com", "sts-fips.us-gov-east-1.api.aws"}},
	{"sts", "us-iso-east-1", "us-iso-east-1", {"sts.us-iso-east-1.c2s.ic.gov", "sts.us-iso-east-1.api.aws.ic.gov", "sts-fips.us-iso-east-1.c2s.ic.gov", "sts-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"sts", "us-isob-east-1", "us-isob-east-1", {"sts.us-isob-east-1.sc2s.sgov.gov", "sts.us-isob-east-1.api.aws.scloud", "sts-fips.us-isob-east-1.sc2s.sgov.gov", "sts-fips.us-isob-east-1.api.aws.scloud"}},
	{"sts", "eu-isoe-west-1", "eu-isoe-west-1", {"sts.eu-isoe-west-1.cloud.adc-e.uk", "sts.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "sts-fips.eu-isoe-west-1.cloud.adc-e.uk", "sts-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"sts", "us-isof-south-1", "us-isof-south-1", {"sts.us-isof-south-1.csp.hci.ic.gov", "sts.us-isof-south-1.api.aws.hci.ic.gov", "sts-fips.us-isof-south-1.csp.hci.ic.gov", "sts-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"sts", "eusc-de-east-1", "eusc-de-east-1", {"sts.eusc-de-east-1.amazonaws.eu", "sts.eusc-de-east-1.api.amazonwebservices.eu", "sts-fips.eusc-de-east-1.amazonaws.eu", "sts-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
	{"ssm", "us-east-1", "us-east-1", {"ssm.us-east-1.amazonaws.com", "ssm.us-east-1.api.aws", "ssm-fips.us-east-1.amazonaws.com", "ssm-fips.us-east-1.api.aws"}},
	{"ssm", "eu-west-1", "eu-west-1", {"ssm.eu-west-1.amazonaws.com", "ssm.eu-west-1.api.aws", "ssm-fips.eu-west-1.amazonaws.com", "ssm-fips.eu-west-1.api.aws"}},
	{"ssm", "cn-north-1", "cn-north-1", {"ssm.cn-north-1.amazonaws.com.cn", "ssm.cn-north-1.api.amazonwebservices.com.cn", "ssm-fips.cn-north-1.amazonaws.com.cn", "ssm-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"ssm", "cn-northwest-1", "cn-northwest-1", {"ssm.cn-northwest-1.amazonaws.com.cn", "ssm.cn-northwest-1.api.amazonwebservices.com.cn", "ssm-fips.cn-northwest-1.amazonaws.com.cn", "ssm-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"ssm", "us-gov-west-1", "us-gov-west-1", {"ssm.us-gov-west-1.amazonaws.com", "ssm.us-gov-west-1.api.aws", "ssm.us-gov-west-1.amazonaws.com", "ssm-fips.us-gov-west-1.api.aws"}},
	{"ssm", "us-gov-east-1", "us-gov-east-1", {"ssm.us-gov-east-1.amazonaws.com", "ssm.us-gov-east-1.api.aws", "ssm.us-gov-east-1.amazonaws.com", "ssm-fips.us-gov-east-1.api.aws"}},
	{"ssm", "us-iso-east-1", "us-iso-east-1", {"ssm.us-iso-east-1.c2s.ic.gov", "ssm.us-iso-east-1.api.aws.ic.gov", "ssm-fips.us-iso-east-1.c2s.ic.gov", "ssm-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"ssm", "us-isob-east-1", "us-isob-east-1", {"ssm.us-isob-east-1.sc2s.sgov.gov", "ssm.us-isob-east-1.api.aws.scloud", "ssm-fips.us-isob-east-1.sc2s.sgov.gov", "ssm-fips.us-isob-east-1.api.aws.scloud"}},
	{"ssm", "eu-isoe-west-1", "eu-isoe-west-1", {"ssm.eu-isoe-west-1.cloud.adc-e.uk", "ssm.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "ssm-fips.eu-isoe-west-1.cloud.adc-e.uk", "ssm-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"ssm", "us-isof-south-1", "us-isof-south-1", {"ssm.us-isof-south-1.csp.hci.ic.gov", "ssm.us-isof-south-1.api.aws.hci.ic.gov", "ssm-fips.us-isof-south-1.csp.hci.ic.gov", "ssm-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"ssm", "eusc-de-east-1", "eusc-de-east-1", {"ssm.eusc-de-east-1.amazonaws.eu", "ssm.eusc-de-east-1.api.amazonwebservices.eu", "ssm-fips.eusc-de-east-1.amazonaws.eu", "ssm-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
	{"kms", "us-east-1", "us-east-1", {"kms.us-east-1.amazonaws.com", "kms.us-east-1.api.aws", "kms-fips.us-east-1.amazonaws.com", "kms-fips.us-east-1.api.aws"}},
	{"kms", "eu-west-1", "eu-west-1", {"kms.eu-west-1.amazonaws.com", "kms.eu-west-1.api.aws", "kms-fips.eu-west-1.amazonaws.com", "kms-fips.eu-west-1.api.aws"}},
	{"kms", "cn-north-1", "cn-north-1", {"kms.cn-north-1.amazonaws.com.cn", "kms.cn-north-1.api.amazonwebservices.com.cn", "kms-fips.cn-north-1.amazonaws.com.cn", "kms-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"kms", "cn-northwest-1", "cn-northwest-1", {"kms.cn-northwest-1.amazonaws.com.cn", "kms.cn-northwest-1.api.amazonwebservices.com.cn", "kms-fips.cn-northwest-1.amazonaws.com.cn", "kms-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"kms", "us-gov-west-1", "us-gov-west-1", {"kms.us-gov-west-1.amazonaws.com", "kms.us-gov-west-1.api.aws", "kms-fips.us-gov-west-1.amazonaws.com", "kms-fips.us-gov-west-1.api.aws"}},
	{"kms", "us-gov-east-1", "us-gov-east-1", {"kms.us-gov-east-1.amazonaws.com", "kms.us-gov-east-1.api.aws", "kms-fips.us-gov-east-1.amazonaws.com", "kms-fips.us-gov-east-1.api.aws"}},
	{"kms", "us-iso-east-1", "us-iso-east-1", {"kms.us-iso-east-1.c2s.ic.gov", "kms.us-iso-east-1.api.aws.ic.gov", "kms-fips.us-iso-east-1.c2s.ic.gov", "kms-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"kms", "us-isob-east-1", "us-isob-east-1", {"kms.us-isob-east-1.sc2s.sgov.gov", "kms.us-isob-east-1.api.aws.scloud", "kms-fips.us-isob-east-1.sc2s.sgov.gov", "kms-fips.us-isob-east-1.api.aws.scloud"}},
	{"kms", "eu-isoe-west-1", "eu-isoe-west-1", {"kms.eu-isoe-west-1.cloud.adc-e.uk", "kms.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "kms-fips.eu-isoe-west-1.cloud.adc-e.uk", "kms-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"kms", "us-isof-south-1", "us-isof-south-1", {"kms.us-isof-south-1.csp.hci.ic.gov", "kms.us-isof-south-1.api.aws.hci.ic.gov", "kms-fips.us-isof-south-1.csp.hci.ic.gov", "kms-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"kms", "eusc-de-east-1", "eusc-de-east-1", {"kms.eusc-de-east-1.amazonaws.eu", "kms.eusc-de-east-1.api.amazonwebservices.eu", "kms-fips.eusc-de-east-1.amazonaws.eu", "kms-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
	{"elb", "us-east-1", "us-east-1", {"elasticloadbalancing.us-east-1.amazonaws.com", "elasticloadbalancing.us-east-1.api.aws", "elasticloadbalancing-fips.us-east-1.amazonaws.com", "elasticloadbalancing-fips.us-east-1.api.aws"}},
	{"elb", "eu-west-1", "eu-west-1", {"elasticloadbalancing.eu-west-1.amazonaws.com", "elasticloadbalancing.eu-west-1.api.aws", "elasticloadbalancing-fips.eu-west-1.amazonaws.com", "elasticloadbalancing-fips.eu-west-1.api.aws"}},
	{"elb", "cn-north-1", "cn-north-1", {"elasticloadbalancing.cn-north-1.amazonaws.com.cn", "elasticloadbalancing.cn-north-1.api.amazonwebservices.com.cn", "elasticloadbalancing-fips.cn-north-1.amazonaws.com.cn", "elasticloadbalancing-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"elb", "cn-northwest-1", "cn-northwest-1", {"elasticloadbalancing.cn-northwest-1.amazonaws.com.cn", "elasticloadbalancing.cn-northwest-1.api.amazonwebservices.com.cn", "elasticloadbalancing-fips.cn-northwest-1.amazonaws.com.cn", "elasticloadbalancing-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"elb", "us-gov-west-1", "us-gov-west-1", {"elasticloadbalancing.us-gov-west-1.amazonaws.com", "elasticloadbalancing.us-gov-west-1.api.aws", "elasticloadbalancing.us-gov-west-1.amazonaws.com", "elasticloadbalancing-fips.us-gov-west-1.api.aws"}},
	{"elb", "us-gov-east-1", "us-gov-east-1", {"elasticloadbalancing.us-gov-east-1.amazonaws.com", "elasticloadbalancing.us-gov-east-1.api.aws", "elasticloadbalancing.us-gov-east-1.amazonaws.com", "elasticloadbalancing-fips.us-gov-east-1.api.aws"}},
	{"elb", "us-iso-east-1", "us-iso-east-1", {"elasticloadbalancing.us-iso-east-1.c2s.ic.gov", "elasticloadbalancing.us-iso-east-1.api.aws.ic.gov", "elasticloadbalancing-fips.us-iso-east-1.c2s.ic.gov", "elasticloadbalancing-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"elb", "us-isob-east-1", "us-isob-east-1", {"elasticloadbalancing.us-isob-east-1.sc2s.sgov.gov", "elasticloadbalancing.us-isob-east-1.api.aws.scloud", "elasticloadbalancing-fips.us-isob-east-1.sc2s.sgov.gov", "elasticloadbalancing-fips.us-isob-east-1.api.aws.scloud"}},
	{"elb", "eu-isoe-west-1", "eu-isoe-west-1", {"elasticloadbalancing.eu-isoe-west-1.cloud.adc-e.uk", "elasticloadbalancing.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "elasticloadbalancing-fips.eu-isoe-west-1.cloud.adc-e.uk", "elasticloadbalancing-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"elb", "us-isof-south-1", "us-isof-south-1", {"elasticloadbalancing.us-isof-south-1.csp.hci.ic.gov", "elasticloadbalancing.us-isof-south-1.api.aws.hci.ic.gov", "elasticloadbalancing-fips.us-isof-south-1.csp.hci.ic.gov", "elasticloadbalancing-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"elb", "eusc-de-east-1", "eusc-de-east-1", {"elasticloadbalancing.eusc-de-east-1.amazonaws.eu", "elasticloadbalancing.eusc-de-east-1.api.amazonwebservices.eu", "elasticloadbalancing-fips.eusc-de-east-1.amazonaws.eu", "elasticloadbalancing-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
	{"elasticloadbalancing", "us-east-1", "us-east-1", {"elasticloadbalancing.us-east-1.amazonaws.com", "elasticloadbalancing.us-east-1.api.aws", "elasticloadbalancing-fips.us-east-1.amazonaws.com", "elasticloadbalancing-fips.us-east-1.api.aws"}},
	{"elasticloadbalancing", "eu-west-1", "eu-west-1", {"elasticloadbalancing.eu-west-1.amazonaws.com", "elasticloadbalancing.eu-west-1.api.aws", "elasticloadbalancing-fips.eu-west-1.amazonaws.com", "elasticloadbalancing-fips.eu-west-1.api.aws"}},
	{"elasticloadbalancing", "cn-north-1", "cn-north-1", {"elasticloadbalancing.cn-north-1.amazonaws.com.cn", "elasticloadbalancing.cn-north-1.api.amazonwebservices.com.cn", "elasticloadbalancing-fips.cn-north-1.amazonaws.com.cn", "elasticloadbalancing-fips.cn-north-1.api.amazonwebservices.com.cn"}},
	{"elasticloadbalancing", "cn-northwest-1", "cn-northwest-1", {"elasticloadbalancing.cn-northwest-1.amazonaws.com.cn", "elasticloadbalancing.cn-northwest-1.api.amazonwebservices.com.cn", "elasticloadbalancing-fips.cn-northwest-1.amazonaws.com.cn", "elasticloadbalancing-fips.cn-northwest-1.api.amazonwebservices.com.cn"}},
	{"elasticloadbalancing", "us-gov-west-1", "us-gov-west-1", {"elasticloadbalancing.us-gov-west-1.amazonaws.com", "elasticloadbalancing.us-gov-west-1.api.aws", "elasticloadbalancing.us-gov-west-1.amazonaws.com", "elasticloadbalancing-fips.us-gov-west-1.api.aws"}},
	{"elasticloadbalancing", "us-gov-east-1", "us-gov-east-1", {"elasticloadbalancing.us-gov-east-1.amazonaws.com", "elasticloadbalancing.us-gov-east-1.api.aws", "elasticloadbalancing.us-gov-east-1.amazonaws.com", "elasticloadbalancing-fips.us-gov-east-1.api.aws"}},
	{"elasticloadbalancing", "us-iso-east-1", "us-iso-east-1", {"elasticloadbalancing.us-iso-east-1.c2s.ic.gov", "elasticloadbalancing.us-iso-east-1.api.aws.ic.gov", "elasticloadbalancing-fips.us-iso-east-1.c2s.ic.gov", "elasticloadbalancing-fips.us-iso-east-1.api.aws.ic.gov"}},
	{"elasticloadbalancing", "us-isob-east-1", "us-isob-east-1", {"elasticloadbalancing.us-isob-east-1.sc2s.sgov.gov", "elasticloadbalancing.us-isob-east-1.api.aws.scloud", "elasticloadbalancing-fips.us-isob-east-1.sc2s.sgov.gov", "elasticloadbalancing-fips.us-isob-east-1.api.aws.scloud"}},
	{"elasticloadbalancing", "eu-isoe-west-1", "eu-isoe-west-1", {"elasticloadbalancing.eu-isoe-west-1.cloud.adc-e.uk", "elasticloadbalancing.eu-isoe-west-1.api.cloud-aws.adc-e.uk", "elasticloadbalancing-fips.eu-isoe-west-1.cloud.adc-e.uk", "elasticloadbalancing-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk"}},
	{"elasticloadbalancing", "us-isof-south-1", "us-isof-south-1", {"elasticloadbalancing.us-isof-south-1.csp.hci.ic.gov", "elasticloadbalancing.us-isof-south-1.api.aws.hci.ic.gov", "elasticloadbalancing-fips.us-isof-south-1.csp.hci.ic.gov", "elasticloadbalancing-fips.us-isof-south-1.api.aws.hci.ic.gov"}},
	{"elasticloadbalancing", "eusc-de-east-1", "eusc-de-east-1", {"elasticloadbalancing.eusc-de-east-1.amazonaws.eu", "elasticloadbalancing.eusc-de-east-1.api.amazonwebservices.eu", "elasticloadbalancing-fips.eusc-de-east-1.amazonaws.eu", "elasticloadbalancing-fips.eusc-de-east-1.api.amazonwebservices.eu"}},
};

#endif
