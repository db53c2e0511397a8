/*
 * The AWS client end to end over recorded replies (tests/aws/replies):
 * every protocol, every error shape, foreign/malformed/truncated replies,
 * retries with an injected clock, pagination, waiters, debug-log redaction,
 * the EKS token and whoami.  No network: the transport is aws/replay.
 */
#include "t.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "aws/client.h"
#include "aws/pollshare.h"
#include "aws/query.h"
#include "aws/replay.h"
#include "log.h"
#include "tests/aws/fixture.h"

static void env_keys(void)
{
	fx_clean_env();
	setenv("AWS_ACCESS_KEY_ID", FX_AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FX_SECRET, 1);
}

static const char *req(struct fx *f, size_t i)
{
	const char *r = sf_replay_request(f->rp, i);
	return r ? r : "";
}

T_TEST(ec2_query_encoding_signing_and_xml)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "Action=DescribeImages", "ec2_describe_images.http", 1);
	json_t *p = json_pack("{s:[s], s:[{s:s, s:[s]}]}", "Owner", "self", "Filter", "Name", "tag:secfaas:stack",
			      "Value", "prod");
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", p, &out, &e), 0);
	const char *r = req(&f, 0);
	T_CONTAINS(r, "POST https://ec2.eu-west-1.amazonaws.com/\n");
	T_CONTAINS(r, "Host: ec2.eu-west-1.amazonaws.com\n");
	T_CONTAINS(r, "Content-Type: application/x-www-form-urlencoded; charset=utf-8\n");
	T_CONTAINS(r, "X-Amz-Date: 20250301T101500Z\n");
	T_CONTAINS(r, "Authorization: AWS4-HMAC-SHA256 Credential=" FX_AKID "/20250301/eu-west-1/ec2/aws4_request, "
		      "SignedHeaders=content-type;host;x-amz-date, Signature=");
	T_CONTAINS(r, "\n\nAction=DescribeImages&Version=2016-11-15&Owner.1=self&Filter.1.Name=tag%3Asecfaas%3Astack"
		      "&Filter.1.Value.1=prod");
	json_t *img = json_array_get(json_object_get(out, "imagesSet"), 0);
	T_STREQ(json_string_value(json_object_get(img, "imageId")), "ami-0a1b2c3d4e5f00001");
	json_t *tags = json_object_get(img, "tagSet");
	T_EQ(json_array_size(tags), 2);
	T_STREQ(json_string_value(json_object_get(json_array_get(tags, 1), "value")), "node & base");
	T_STREQ(json_string_value(json_object_get(img, "blockDeviceMapping")), "");
	T_STREQ(json_string_value(json_object_get(out, "requestId")), "5b1f0a3e-0000-4000-8000-000000000001");
	T_EQ(sf_replay_unmatched(f.rp), 0);
	json_decref(out);
	json_decref(p);
	fx_close(&f);
}

T_TEST(ec2_nested_struct_and_bool_flattening)
{
	struct sf_buf b = SF_BUF_INIT;
	struct sf_err e = SF_ERR_INIT;
	json_t *p = json_pack("{s:{s:{s:s}, s:[{s:s, s:{s:i, s:b}}]}, s:[], s:n, s:f}", "LaunchTemplateData",
			      "MetadataOptions", "HttpTokens", "required", "BlockDeviceMapping", "DeviceName",
			      "/dev/xvda", "Ebs", "VolumeSize", 40, "Encrypted", 1, "SecurityGroupId", "Skip", "Ratio",
			      1.5);
	T_EQ(sf_query_encode(&b, "CreateLaunchTemplate", "2016-11-15", p, 1, &e), 0);
	T_STREQ(sf_buf_cstr(&b), "Action=CreateLaunchTemplate&Version=2016-11-15"
				 "&LaunchTemplateData.MetadataOptions.HttpTokens=required"
				 "&LaunchTemplateData.BlockDeviceMapping.1.DeviceName=%2Fdev%2Fxvda"
				 "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize=40"
				 "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.Encrypted=true&Ratio=1.5");
	sf_buf_release(&b);
	json_decref(p);
	/* query (IAM) style: .member.N, empty list sent as Name= */
	p = json_pack("{s:s, s:[{s:s, s:s}], s:[]}", "RoleName", "r 1", "Tags", "Key", "secfaas:stack", "Value", "prod",
		      "PolicyArns");
	T_EQ(sf_query_encode(&b, "CreateRole", "2010-05-08", p, 0, &e), 0);
	T_STREQ(sf_buf_cstr(&b), "Action=CreateRole&Version=2010-05-08&RoleName=r%201"
				 "&Tags.member.1.Key=secfaas%3Astack&Tags.member.1.Value=prod&PolicyArns=");
	sf_buf_release(&b);
	json_decref(p);
	p = json_pack("[s]", "x");
	T_EQ(sf_query_encode(&b, "X", "1", p, 1, &e), SF_EINVAL);
	sf_buf_release(&b);
	json_decref(p);
}

static void expect_error(const char *service, const char *file, int code, const char *aws_code, int status,
			 const char *rid, const char *msg_part)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", file, -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc;
	if (!strcmp(service, "eks"))
		rc = sf_aws_rest_json(f.c, "eks", "GET", "/clusters/prod", NULL, NULL, &out, &e);
	else if (!strcmp(service, "ssm"))
		rc = sf_aws_json(f.c, "ssm", "AmazonSSM.GetParameter", NULL, &out, &e);
	else
		rc = sf_aws_query(f.c, service, "Op", NULL, &out, &e);
	T_EQ(rc, code);
	T_EQ(e.code, code);
	T_OK(out == NULL);
	if (aws_code)
		T_STREQ(e.aws_code, aws_code);
	T_EQ(e.http_status, status);
	if (rid)
		T_STREQ(e.request_id, rid);
	T_CONTAINS(e.msg, msg_part);
	T_OK(strchr(e.msg, '\n') == NULL);
	fx_close(&f);
}

T_TEST(error_shapes_every_protocol)
{
	expect_error("ec2", "ec2_error_notfound.http", SF_ENOTFOUND, "InvalidAMIID.NotFound", 400,
		     "ea966190-f9aa-478e-9ede-example", "ec2 Op: InvalidAMIID.NotFound: The image id");
	expect_error("ec2", "ec2_error_dependency.http", SF_ECONFLICT, "DependencyViolation", 400, "dep-1",
		     "has dependencies");
	expect_error("ec2", "ec2_error_authfailure.http", SF_EAUTH, "AuthFailure", 401, "auth-1", "AuthFailure");
	expect_error("ec2", "ec2_error_unauthorized.http", SF_EAUTH, "UnauthorizedOperation", 403, "auth-2",
		     "not authorized");
	expect_error("iam", "iam_error_nosuchentity.http", SF_ENOTFOUND, "NoSuchEntity", 404, "5b2e-no-such",
		     "iam Op: NoSuchEntity: The role with name");
	expect_error("iam", "iam_error_deleteconflict.http", SF_ECONFLICT, "DeleteConflict", 409, "dc-1",
		     "must detach");
	expect_error("sts", "sts_error_expired.http", SF_EAUTH, "ExpiredToken", 400, "exp-1", "expired");
	expect_error("sts", "sts_error_signature.http", SF_EAUTH, "SignatureDoesNotMatch", 403, "sig-1",
		     "SignatureDoesNotMatch");
	expect_error("sts", "sts_error_accessdenied.http", SF_EAUTH, "AccessDenied", 403, "ad-1", "not authorized");
	expect_error("elasticloadbalancing", "elb_error_notfound.http", SF_ENOTFOUND, "LoadBalancerNotFound", 400,
		     "elbnf-1", "not found");
	expect_error("eks", "eks_error_notfound.http", SF_ENOTFOUND, "ResourceNotFoundException", 404, "eks-nf-1",
		     "eks GET /clusters/prod: ResourceNotFoundException: No cluster found");
	/* the header's code may carry the namespace as well as the URL */
	expect_error("eks", "eks_error_header_namespaced.http", SF_ENOTFOUND, "ResourceNotFoundException", 404, "eks-nf-2",
		     "No cluster found");
	expect_error("eks", "eks_error_inuse_type.http", SF_ECONFLICT, "ResourceInUseException", 409, "eks-iu-1",
		     "already exists");
	expect_error("ssm", "ssm_error_parameternotfound.http", SF_ENOTFOUND, "ParameterNotFound", 400, "ssm-nf",
		     "Parameter /x not found");
	/* foreign replies: an HTML proxy page is retried on 5xx, refused on 4xx and 2xx */
	expect_error("ec2", "proxy_html_502.http", SF_ETRANSIENT, "", 502, "", "an HTML page");
	expect_error("eks", "proxy_html_502.http", SF_ETRANSIENT, "", 502, "", "an HTML page");
	expect_error("sts", "proxy_html_403.http", SF_EPROTO, "", 403, "", "not from AWS (an HTML page)");
	expect_error("ssm", "proxy_html_403.http", SF_EPROTO, "", 403, "", "an HTML page");
	expect_error("ec2", "proxy_html_200.http", SF_EPROTO, NULL, 200, NULL, "not from AWS");
	expect_error("eks", "proxy_html_200.http", SF_EPROTO, NULL, 200, NULL, "not from AWS");
}

/* A signature error quotes the canonical request, the session token among
 * its headers: the message keeps AWS's first sentences only, on one line
 * (it reaches terminals, logs and the state's journal). */
T_TEST(signature_error_message_drops_the_canonical_request)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "sts_error_signature_canonical.http", -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "sts", "GetCallerIdentity", NULL, &out, &e), SF_EAUTH);
	T_OK(!strstr(e.msg, "FwoGZXIv") && !strstr(e.msg, "security-token") && !strstr(e.msg, "Canonical"));
	T_OK(!strchr(e.msg, '\n'));
	T_STREQ(e.msg, "sts GetCallerIdentity: SignatureDoesNotMatch: The request signature we calculated does not match the "
		       "signature you provided. Check your AWS Secret Access Key and signing method. Consult the service "
		       "documentation for details.");
	fx_close(&f);
}

T_TEST(auth_errors_carry_a_hint)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "sts_error_expired.http", -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "sts", "GetCallerIdentity", NULL, &out, &e), SF_EAUTH);
	T_CONTAINS(e.hint, "refresh");
	char line[1200];
	sf_err_format(&e, line, sizeof line);
	T_CONTAINS(line, "sts GetCallerIdentity: ExpiredToken: The security token included in the request is expired");
	T_EQ(sf_replay_count(f.rp), 1); /* not retried */
	fx_close(&f);
}

/* A call safe to repeat meets a fault that persists: every round of the
 * standard mode's 3 attempts (aws/retry.h). */
#define ALL_ROUNDS (3 * SF_RETRY_ROUNDS)

static void malformed(const char *service, const char *raw, int want, const char *part, int requests)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "", raw, -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = !strcmp(service, "eks") ? sf_aws_rest_json(f.c, "eks", "GET", "/clusters", NULL, NULL, &out, &e)
					 : sf_aws_query(f.c, service, "DescribeVpcs", NULL, &out, &e);
	T_EQ(rc, want);
	T_CONTAINS(e.msg, part);
	T_EQ(sf_replay_count(f.rp), requests);
	json_decref(out);
	fx_close(&f);
}

T_TEST(malformed_and_truncated_replies)
{
	malformed("ec2", "HTTP/1.1 200 OK\n\n<DescribeVpcsResponse><vpcSet><item><vpcId>vpc-1</vpcId></item>",
		  SF_ETRANSIENT, "truncated XML reply", ALL_ROUNDS);
	malformed("ec2", "HTTP/1.1 200 OK\n\n<DescribeVpcsResponse><a></b></DescribeVpcsResponse>", SF_EPROTO,
		  "malformed", 1);
	malformed("ec2", "HTTP/1.1 200 OK\n\n", SF_EPROTO, "empty", 1);
	malformed("ec2", "HTTP/1.1 200 OK\n\n<OtherResponse/>", SF_EPROTO, "unexpected XML root", 1);
	malformed("ec2", "HTTP/1.1 400 Bad Request\n\n<Response><Errors><Err", SF_EPROTO, "HTTP 400", 1);
	malformed("ec2", "HTTP/1.1 503 Service Unavailable\n\n", SF_ETRANSIENT, "empty body", ALL_ROUNDS);
	malformed("eks", "HTTP/1.1 200 OK\n\n{\"clusters\":[\"a\",", SF_ETRANSIENT, "truncated JSON", ALL_ROUNDS);
	malformed("eks", "HTTP/1.1 200 OK\n\n{\"clusters\":[\"a\"]}}", SF_EPROTO, "not from AWS", 1);
	malformed("eks", "HTTP/1.1 200 OK\n\n[1,2]", SF_EPROTO, "not an object", 1);
	malformed("eks", "HTTP/1.1 500 Internal Server Error\n\n{\"message\":\"boom\"}", SF_ETRANSIENT, "HTTP 500: boom",
		  ALL_ROUNDS);
}

/* A call that must not be repeated blindly: one attempt when the outcome
 * is unknown (cut reply, 5xx), with *unknown set for the caller's look-up;
 * definite refusals are not unknown, and throttling is still retried. */
static int once(const char *first, const char *then, int *unknown, size_t *requests, struct sf_err *e)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	if (!strncmp(first, "HTTP/", 5))
		sf_replay_add(f.rp, "", first, 1);
	else
		fx_reply(&f, "", first, 1);
	if (then)
		fx_reply(&f, "", then, -1);
	json_t *out = NULL;
	*unknown = -1;
	int rc = sf_aws_query_once(f.c, "ec2", "DescribeImages", NULL, &out, unknown, e);
	*requests = sf_replay_count(f.rp);
	json_decref(out);
	fx_close(&f);
	return rc;
}

T_TEST(once_calls_report_an_unknown_outcome_instead_of_repeating)
{
	int unknown;
	size_t n;
	struct sf_err e = SF_ERR_INIT;
	/* the reply was cut after the call ran: a blind repeat would make a second VPC */
	T_EQ(once("HTTP/1.1 200 OK\n\n<DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId>", "ec2_describe_images.http",
		  &unknown, &n, &e),
	     SF_ETRANSIENT);
	T_EQ(unknown, 1);
	T_EQ(n, 1);
	sf_err_clear(&e);
	T_EQ(once("ec2_internal_500.http", "ec2_describe_images.http", &unknown, &n, &e),
	     SF_ETRANSIENT);
	T_EQ(unknown, 1);
	T_EQ(n, 1);
	sf_err_clear(&e);
	/* a definite answer: AWS did not act, nothing to look up */
	T_EQ(once("ec2_error_dependency.http", NULL, &unknown, &n, &e),
	     SF_ECONFLICT);
	T_EQ(unknown, 0);
	T_EQ(n, 1);
	sf_err_clear(&e);
	/* throttled: AWS refused before acting, so it is retried as usual */
	T_EQ(once("ec2_error_throttle.http", "ec2_describe_images.http", &unknown, &n, &e),
	     0);
	T_EQ(unknown, 0);
	T_EQ(n, 2);
}

T_TEST(iam_global_endpoint_and_result_unwrapping)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, "eu-central-1"), 0);
	fx_reply(&f, "Action=CreateRole", "iam_create_role.http", 1);
	fx_reply(&f, "Action=DeleteRole", "iam_delete_role.http", 1);
	json_t *p = json_pack("{s:s, s:[{s:s, s:s}]}", "RoleName", "secfaas-prod-cluster", "Tags", "Key",
			      "secfaas:stack", "Value", "prod");
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "iam", "CreateRole", p, &out, &e), 0);
	T_CONTAINS(req(&f, 0), "POST https://iam.amazonaws.com/\n");
	T_CONTAINS(req(&f, 0), "/20250301/us-east-1/iam/aws4_request");
	T_CONTAINS(req(&f, 0), "&Tags.member.1.Key=secfaas%3Astack&Tags.member.1.Value=prod");
	json_t *role = json_object_get(out, "Role");
	T_STREQ(json_string_value(json_object_get(role, "Arn")), "arn:aws:iam::111122223333:role/secfaas-prod-cluster");
	T_EQ(json_array_size(json_object_get(role, "Tags")), 1);
	json_decref(out);
	T_EQ(sf_aws_query(f.c, "iam", "DeleteRole", p, &out, &e), 0);
	T_OK(json_is_object(out) && json_object_size(out) == 1); /* only ResponseMetadata */
	json_decref(out);
	json_decref(p);
	fx_close(&f);
}

T_TEST(eks_rest_json_labels_and_body)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", "eks_describe_cluster.http", 1);
	fx_reply(&f, "POST https://eks.eu-west-1.amazonaws.com/clusters/prod/node-groups\n", "eks_create_nodegroup.http",
		 1);
	fx_reply(&f, "tags/arn%3Aaws%3Aeks%3Aeu-west-1%3A123456789012%3Acluster%2Fprod", "eks_create_nodegroup.http", 1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_rest_json(f.c, "eks", "GET", "/clusters/prod", NULL, NULL, &out, &e), 0);
	T_STREQ(json_string_value(json_object_get(json_object_get(out, "cluster"), "status")), "ACTIVE");
	T_OK(strstr(req(&f, 0), "Content-Type") == NULL);
	T_CONTAINS(req(&f, 0), "/eu-west-1/eks/aws4_request, SignedHeaders=host;x-amz-date,");
	json_decref(out);
	char tok[37];
	sf_aws_idempotency_token(tok, "intent-42");
	json_t *body = json_pack("{s:s, s:{s:i}, s:s}", "nodegroupName", "ng1", "scalingConfig", "minSize", 1,
				 "clientRequestToken", tok);
	T_EQ(sf_aws_rest_json(f.c, "eks", "POST", "/clusters/prod/node-groups", NULL, body, &out, &e), 0);
	T_CONTAINS(req(&f, 1), "Content-Type: application/json\n");
	char *want = xasprintf("\n\n{\"nodegroupName\":\"ng1\",\"scalingConfig\":{\"minSize\":1},\"clientRequestToken\":\"%s\"}",
			       tok);
	T_CONTAINS(req(&f, 1), want);
	free(want);
	json_decref(out);
	char *label = sf_aws_label("arn:aws:eks:eu-west-1:123456789012:cluster/prod");
	char *path = xasprintf("/tags/%s", label);
	T_EQ(sf_aws_rest_json(f.c, "eks", "POST", path, NULL, body, &out, &e), 0);
	free(label);
	free(path);
	json_decref(out);
	json_decref(body);
	T_EQ(sf_replay_unmatched(f.rp), 0);
	fx_close(&f);
}

T_TEST(ssm_json11_target_header)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "X-Amz-Target: AmazonSSM.GetParameter", "ssm_get_parameter.http", 1);
	json_t *body = json_pack("{s:s}", "Name", "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id");
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_json(f.c, "ssm", "AmazonSSM.GetParameter", body, &out, &e), 0);
	T_STREQ(json_string_value(json_object_get(json_object_get(out, "Parameter"), "Value")), "ami-0a1b2c3d4e5f00001");
	T_CONTAINS(req(&f, 0), "Content-Type: application/x-amz-json-1.1\n");
	T_CONTAINS(req(&f, 0), "SignedHeaders=content-type;host;x-amz-date;x-amz-target,");
	json_decref(out);
	json_decref(body);
	/* protocol mismatches are refused before any request */
	T_EQ(sf_aws_json(f.c, "ec2", "X.Y", NULL, &out, &e), SF_EINVAL);
	T_EQ(sf_aws_query(f.c, "eks", "X", NULL, &out, &e), SF_EINVAL);
	T_EQ(sf_aws_rest_json(f.c, "ssm", "GET", "/", NULL, NULL, &out, &e), SF_EINVAL);
	T_EQ(sf_replay_count(f.rp), 1);
	fx_close(&f);
}

T_TEST(retry_throttle_then_success_refunds_quota)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_error_throttle.http", 1);
	fx_reply(&f, "", "ec2_describe_images.http", 1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	T_EQ(sf_replay_count(f.rp), 2);
	T_EQ(f.clk.sleeps, 1);
	T_OK(f.clk.slept > 0.49 && f.clk.slept < 0.51); /* rand 0.5 * min(2^0, 20) */
	T_EQ(sf_retry_tokens(sf_aws_retry_state(f.c)), SF_RETRY_QUOTA);
	json_decref(out);
	fx_close(&f);
}

T_TEST(retry_exhausts_attempts_with_backoff)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_internal_500.http", -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), SF_ETRANSIENT);
	T_STREQ(e.aws_code, "InternalError");
	T_EQ(sf_replay_count(f.rp), ALL_ROUNDS);
	/* every round backs off 0.5*1 + 0.5*2 within and 0.5*4 between rounds */
	T_OK(f.clk.slept > 1.5 * SF_RETRY_ROUNDS + 2.0 * (SF_RETRY_ROUNDS - 1) - 0.01 &&
	     f.clk.slept < 1.5 * SF_RETRY_ROUNDS + 2.0 * (SF_RETRY_ROUNDS - 1) + 0.01);
	T_EQ(sf_retry_tokens(sf_aws_retry_state(f.c)), SF_RETRY_QUOTA - (ALL_ROUNDS - 1) * SF_RETRY_COST);
	fx_close(&f);
	/* one unlucky round is not the end: 500, 500, 500, then the answer */
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_internal_500.http", 3);
	fx_reply(&f, "", "ec2_describe_images.http", 1);
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	T_EQ(sf_replay_count(f.rp), 4);
	json_decref(out);
	out = NULL;
	fx_close(&f);
	/* a call that is not safe to repeat gets no second round (nor a
	 * second attempt after a 500: its outcome is unknown) */
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_error_throttle.http", -1);
	int unknown = -1;
	T_EQ(sf_aws_query_once(f.c, "ec2", "CreateVpc", NULL, &out, &unknown, &e), SF_ETHROTTLED);
	T_EQ(unknown, 0);
	T_EQ(sf_replay_count(f.rp), 3);
	fx_close(&f);
	/* AWS_MAX_ATTEMPTS is honoured: the whole budget, one round */
	env_keys();
	setenv("AWS_MAX_ATTEMPTS", "5", 1);
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_internal_500.http", -1);
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), SF_ETRANSIENT);
	T_EQ(sf_replay_count(f.rp), 5);
	fx_close(&f);
	setenv("AWS_MAX_ATTEMPTS", "zero", 1);
	T_EQ(fx_open(&f, NULL), SF_EINVAL);
	fx_close(&f);
	unsetenv("AWS_MAX_ATTEMPTS");
}

T_TEST(retry_network_errors_and_timeouts_cost_more)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "", "!timeout", 1);
	sf_replay_add(f.rp, "", "!reset", 1);
	fx_reply(&f, "", "ec2_describe_images.http", 1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	T_EQ(sf_replay_count(f.rp), 3);
	/* 10 for the timeout retry, 5 for the reset retry, the last (5) refunded */
	T_EQ(sf_retry_tokens(sf_aws_retry_state(f.c)), SF_RETRY_QUOTA - 10);
	json_decref(out);
	fx_close(&f);
}

/* A FIPS host the endpoint rules give may not exist: when nothing answers,
 * the error says which setting chose the host. */
T_TEST(no_reply_from_a_fips_host_names_the_setting)
{
	struct fx f;
	env_keys();
	setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "", "!refused", 1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), SF_ETRANSIENT);
	T_CONTAINS(req(&f, 0), "ec2-fips.eu-west-1.amazonaws.com");
	T_CONTAINS(e.hint, "FIPS endpoints are on");
	T_CONTAINS(e.hint, "ec2 may have no FIPS endpoint in eu-west-1");
	/* an answer that is an error is AWS speaking: no such hint */
	sf_err_clear(&e);
	fx_reply(&f, "", "ec2_internal_500.http", 1);
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), SF_ETRANSIENT);
	T_OK(!strstr(e.hint, "FIPS"));
	fx_close(&f);
	unsetenv("AWS_USE_FIPS_ENDPOINT");
	unsetenv("AWS_MAX_ATTEMPTS");
}

T_TEST(retry_quota_empty_means_no_retry)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_internal_500.http", -1);
	struct sf_retry *r = sf_aws_retry_state(f.c);
	while (sf_retry_acquire(r, SF_RETRY_TRANSIENT))
		;
	T_EQ(sf_retry_tokens(r), 0);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), SF_ETRANSIENT);
	T_EQ(sf_replay_count(f.rp), 1);
	T_EQ(f.clk.sleeps, 0);
	fx_close(&f);
}

T_TEST(non_retryable_client_error_single_attempt)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_error_notfound.http", -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), SF_ENOTFOUND);
	T_EQ(sf_replay_count(f.rp), 1);
	fx_close(&f);
}

T_TEST(clock_skew_corrected_from_date_header)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "X-Amz-Date: 20250301T101500Z", "ec2_error_skew.http", 1);
	fx_reply(&f, "X-Amz-Date: 20250301T104500Z", "ec2_describe_images.http", -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	T_EQ(sf_replay_count(f.rp), 2);
	json_decref(out);
	/* the offset sticks for later calls */
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	T_CONTAINS(req(&f, 2), "X-Amz-Date: 20250301T104500Z");
	json_decref(out);
	fx_close(&f);
}

/* A clock ahead of AWS's: IAM, STS and the JSON services say "Signature
 * not yet current" (EC2 says RequestExpired); corrected the same way. */
T_TEST(fast_clock_corrected_from_date_header)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "X-Amz-Date: 20250301T101500Z", "sts_error_not_yet_current.http", 1);
	fx_reply(&f, "X-Amz-Date: 20250301T100000Z", "sts_get_caller_identity.http", -1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "sts", "GetCallerIdentity", NULL, &out, &e), 0);
	T_EQ(sf_replay_count(f.rp), 2);
	json_decref(out);
	fx_close(&f);
}

/* EC2's RequestExpired from a server whose clock agrees with ours: the
 * temporary credentials expired (a credential_process that gives no
 * Expiration cannot say so), so they are fetched again, not the request
 * re-signed with the same keys. */
T_TEST(request_expired_with_clocks_in_step_fetches_credentials_again)
{
	fx_clean_env();
	char *count = xasprintf("%s/rot-n", t_tmpdir()), *cfg = xasprintf("%s/rot-config", t_tmpdir());
	/* each run hands out the next key: AKIDROT1, AKIDROT2, ... */
	char *text = xasprintf("[default]\ncredential_process = sh -c 'echo x >> %s; "
			       "printf \"{\\\"Version\\\":1,\\\"AccessKeyId\\\":\\\"AKIDROT%%s\\\","
			       "\\\"SecretAccessKey\\\":\\\"s\\\",\\\"SessionToken\\\":\\\"t\\\"}\" $(wc -l < %s)'\n",
			       count, count);
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_write_file_atomic(cfg, text, strlen(text), 0600, &e), 0);
	setenv("AWS_CONFIG_FILE", cfg, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	struct fx f;
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "Credential=AKIDROT1/", "ec2_error_request_expired.http", -1);
	fx_reply(&f, "Credential=AKIDROT2/", "ec2_describe_images.http", -1);
	json_t *out = NULL;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	T_EQ(sf_replay_count(f.rp), 2);
	T_CONTAINS(req(&f, 1), "X-Amz-Date: 20250301T101500Z"); /* no offset taken */
	json_decref(out);
	fx_close(&f);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	free(text);
	free(cfg);
	free(count);
}

static int count_page(void *ctx, const json_t *page, struct sf_err *err)
{
	(void)page;
	(void)err;
	(*(int *)ctx)++;
	return 0;
}

T_TEST(pagination_every_token_style)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "NextToken=tok%2B1%2F%3D", "ec2_describe_vpcs_page2.http", 1);
	fx_reply(&f, "Action=DescribeVpcs", "ec2_describe_vpcs_page1.http", 1);
	json_t *all = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query_all(f.c, "ec2", "DescribeVpcs", NULL, "vpcSet", &all, &e), 0);
	T_EQ(json_array_size(all), 3);
	T_STREQ(json_string_value(json_object_get(json_array_get(all, 2), "vpcId")), "vpc-3");
	json_decref(all);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_describe_vpcs_empty.http", 1);
	T_EQ(sf_aws_query_all(f.c, "ec2", "DescribeVpcs", NULL, "vpcSet", &all, &e), 0);
	T_EQ(json_array_size(all), 0);
	json_decref(all);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* IAM: IsTruncated + Marker */
	fx_reply(&f, "Marker=m-1", "iam_list_roles_page2.http", 1);
	fx_reply(&f, "Action=ListRoles", "iam_list_roles_page1.http", 1);
	T_EQ(sf_aws_query_all(f.c, "iam", "ListRoles", NULL, "Roles", &all, &e), 0);
	T_EQ(json_array_size(all), 3);
	json_decref(all);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* ELBv2: NextMarker -> Marker */
	fx_reply(&f, "Marker=nm-1", "elb_describe_load_balancers_last.http", 1);
	fx_reply(&f, "Action=DescribeLoadBalancers", "elb_describe_load_balancers.http", 1);
	T_EQ(sf_aws_query_all(f.c, "elbv2", "DescribeLoadBalancers", NULL, "LoadBalancers", &all, &e), 0);
	T_EQ(json_array_size(all), 1);
	T_CONTAINS(req(&f, 0), "Version=2015-12-01");
	json_decref(all);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* EKS: nextToken query parameter */
	fx_reply(&f, "node-groups?maxResults=2&nextToken=nt%2F1%3D%3D\n", "eks_list_nodegroups_page2.http", 1);
	fx_reply(&f, "node-groups?maxResults=2\n", "eks_list_nodegroups_page1.http", 1);
	int pages = 0;
	T_EQ(sf_aws_rest_json_pages(f.c, "eks", "/clusters/prod/node-groups", "maxResults=2", count_page, &pages, &e), 0);
	T_EQ(pages, 2);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* a token that repeats: an error, not a whole listing */
	fx_reply(&f, "node-groups?maxResults=2&nextToken=nt%2F1%3D%3D\n", "eks_list_nodegroups_page1.http", 1);
	fx_reply(&f, "node-groups?maxResults=2\n", "eks_list_nodegroups_page1.http", 1);
	pages = 0;
	T_EQ(sf_aws_rest_json_pages(f.c, "eks", "/clusters/prod/node-groups", "maxResults=2", count_page, &pages, &e),
	     SF_EPROTO);
	T_CONTAINS(e.msg, "pagination token repeats");
	sf_err_clear(&e);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* SSM: NextToken in the body */
	fx_reply(&f, "\"NextToken\":\"s1\"", "ssm_get_parameters_by_path_page2.http", 1);
	fx_reply(&f, "GetParametersByPath", "ssm_get_parameters_by_path_page1.http", 1);
	pages = 0;
	json_t *b = json_pack("{s:s}", "Path", "/");
	T_EQ(sf_aws_json_pages(f.c, "ssm", "AmazonSSM.GetParametersByPath", b, count_page, &pages, &e), 0);
	T_EQ(pages, 2);
	json_decref(b);
	T_EQ(sf_replay_unmatched(f.rp), 0);
	fx_close(&f);
}

struct progress {
	int calls;
	char last[64];
};

static void on_progress(void *ctx, const char *waiter, const char *status, int attempt, double elapsed)
{
	(void)waiter;
	(void)elapsed;
	struct progress *p = ctx;
	p->calls = attempt;
	snprintf(p->last, sizeof p->last, "%s", status);
}

T_TEST(waiters_with_fake_clock)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_describe_images_pending.http", 2);
	fx_reply(&f, "", "ec2_describe_images.http", 1);
	struct progress pr = {0, ""};
	struct sf_wait_opts o = SF_WAIT_OPTS_INIT;
	o.progress = on_progress;
	o.progress_ctx = &pr;
	json_t *args = json_pack("{s:[s]}", "ImageId", "ami-0a1b2c3d4e5f00001");
	json_t *last = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_wait(f.c, "ec2.ImageAvailable", args, &o, &last, &e), 0);
	T_EQ(pr.calls, 3);
	T_STREQ(pr.last, "available");
	T_OK(f.clk.slept >= 29.9 && f.clk.slept <= 30.1); /* 2 x 15 s, official delay */
	T_CONTAINS(req(&f, 0), "ImageId.1=ami-0a1b2c3d4e5f00001");
	T_OK(last != NULL);
	json_decref(last);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* failure state */
	fx_reply(&f, "", "ec2_describe_images_failed.http", -1);
	T_EQ(sf_aws_wait(f.c, "ec2.ImageAvailable", args, &o, NULL, &e), SF_ERROR);
	T_CONTAINS(e.msg, "failure state failed");
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* deadline */
	fx_reply(&f, "", "ec2_describe_images_pending.http", -1);
	o.timeout_s = 100;
	T_EQ(sf_aws_wait(f.c, "ec2.ImageAvailable", args, &o, NULL, &e), SF_ETIMEOUT);
	T_CONTAINS(e.msg, "still pending");
	T_OK(f.clk.slept <= 100);
	T_OK(sf_replay_count(f.rp) >= 6 && sf_replay_count(f.rp) <= 8);
	fx_close(&f);

	T_EQ(fx_open(&f, NULL), 0); /* cancel */
	fx_reply(&f, "", "ec2_describe_images_pending.http", -1);
	volatile sig_atomic_t stop = 1;
	o.cancel = &stop;
	T_EQ(sf_aws_wait(f.c, "ec2.ImageAvailable", args, &o, NULL, &e), SF_EINTR);
	T_EQ(sf_replay_count(f.rp), 0);
	o.cancel = NULL;
	o.timeout_s = 0;
	fx_close(&f);
	json_decref(args);

	args = json_pack("{s:s}", "name", "prod");
	T_EQ(fx_open(&f, NULL), 0); /* deleted waiter: NotFound is success */
	fx_reply(&f, "", "eks_describe_cluster_creating.http", 1);
	fx_reply(&f, "", "eks_error_notfound.http", 1);
	T_EQ(sf_aws_wait(f.c, "eks.ClusterDeleted", args, &o, NULL, &e), SF_ERROR); /* CREATING is a failure */
	fx_close(&f);
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "eks_error_notfound.http", 1);
	T_EQ(sf_aws_wait(f.c, "eks.ClusterDeleted", args, &o, NULL, &e), 0);
	fx_close(&f);
	/* active waiter: creating -> active; long before a cluster is usually
	 * ACTIVE the pause is half the time to its usual start (sf_waiter_pause) */
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "eks_describe_cluster_creating.http", 1);
	fx_reply(&f, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", "eks_describe_cluster.http", 1);
	T_EQ(sf_aws_wait(f.c, "eks.ClusterActive", args, &o, NULL, &e), 0);
	T_OK(f.clk.slept >= 239.9 && f.clk.slept <= 240.1);
	fx_close(&f);
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "eks_error_notfound.http", 1);
	T_EQ(sf_aws_wait(f.c, "eks.ClusterActive", args, &o, NULL, &e), SF_ENOTFOUND);
	T_EQ(sf_aws_wait(f.c, "no.Such", args, &o, NULL, &e), SF_EINVAL);
	fx_close(&f);
	json_decref(args);
}

T_TEST(debug_log_names_request_and_redacts_secrets)
{
	struct fx f;
	env_keys();
	setenv("AWS_SESSION_TOKEN", "SESSIONtokenSECRETvalue", 1);
	char *log = xasprintf("%s/aws-debug.log", t_tmpdir());
	setenv("SECFAAS_LOG", "debug", 1);
	setenv("SECFAAS_LOG_PATH", log, 1);
	sf_log_init();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_error_throttle.http", 1);
	fx_reply(&f, "X-Amz-Security-Token: SESSIONtokenSECRETvalue", "ec2_describe_images.http", 1);
	json_t *out = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_query(f.c, "ec2", "DescribeImages", NULL, &out, &e), 0);
	json_decref(out);
	fx_close(&f);
	unsetenv("SECFAAS_LOG");
	unsetenv("SECFAAS_LOG_PATH");
	sf_log_init();
	char *text = NULL;
	size_t n;
	T_EQ(sf_read_file(&text, &n, log, 0, &e), 0);
	T_CONTAINS(text, "aws: ec2 DescribeImages -> HTTP 503 RequestLimitExceeded attempt 1/9");
	T_CONTAINS(text, "aws: ec2 DescribeImages -> HTTP 200 attempt 2/9");
	T_CONTAINS(text, "request-id 5b1f0a3e-0000-4000-8000-000000000001");
	T_CONTAINS(text, "credentials from env");
	T_OK(text && !strstr(text, "SESSIONtokenSECRETvalue"));
	T_OK(text && !strstr(text, FX_SECRET));
	T_OK(text && !strstr(text, "Signature="));
	free(text);
	free(log);
	unsetenv("AWS_SESSION_TOKEN");
}

static char *b64url_decode(const char *s)
{
	size_t n = strlen(s);
	char *t = xmalloc(n + 4);
	size_t i;
	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4)
		t[i++] = '=';
	t[i] = 0;
	unsigned char *out = xmalloc(i);
	int len = EVP_DecodeBlock(out, (unsigned char *)t, (int)i);
	free(t);
	if (len < 0) {
		free(out);
		return NULL;
	}
	while (len > 0 && out[len - 1] == 0)
		len--;
	char *r = xstrndup((char *)out, (size_t)len);
	free(out);
	return r;
}

/* Signature computed independently (Python hmac/hashlib) for these inputs. */
#define TOKEN_SIG "8e9555a12cbc288680f051267f2f3cb26b6e375c7aa2850500af3676e8a38301"

T_TEST(eks_token_matches_aws_cli_format)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	char *tok = NULL;
	double exp = 0;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_eks_token(f.c, "prod", NULL, &tok, &exp, &e), 0);
	T_EQ(sf_replay_count(f.rp), 0); /* presigning needs no request */
	T_OK(tok && !strncmp(tok, "k8s-aws-v1.", 11));
	T_OK(tok && strspn(tok + 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
			    strlen(tok + 11));
	char *url = tok ? b64url_decode(tok + 11) : NULL;
	T_STREQ(url, "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"
		     "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" FX_AKID "%2F20250301%2Feu-west-1%2Fsts"
		     "%2Faws4_request&X-Amz-Date=20250301T101500Z&X-Amz-Expires=60"
		     "&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=" TOKEN_SIG);
	T_EQ((long long)exp, (long long)FX_T0 + 840);
	char *ec = sf_eks_exec_credential(tok, exp, NULL);
	T_CONTAINS(ec, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"spec\":{},"
		    "\"status\":{\"expirationTimestamp\":\"2025-03-01T10:29:00Z\",\"token\":\"");
	free(ec);
	free(url);
	free(tok);
	fx_close(&f);
}

T_TEST(eks_token_with_role_arn_assumes_first)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "Action=AssumeRole&", "sts_assume_role.http", 1);
	char *tok = NULL;
	double exp = 0;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_eks_token(f.c, "prod", "arn:aws:iam::123456789012:role/deploy", &tok, &exp, &e), 0);
	T_CONTAINS(req(&f, 0), "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeploy");
	T_CONTAINS(req(&f, 0), "Credential=" FX_AKID "/");
	char *url = tok ? b64url_decode(tok + 11) : NULL;
	T_CONTAINS(url, "X-Amz-Credential=ASIAASSUMED%2F");
	T_CONTAINS(url, "&X-Amz-Security-Token=assumedTOKENvalue&X-Amz-Signature=");
	free(url);
	free(tok);
	fx_close(&f);
}

T_TEST(whoami_reports_identity_and_source)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "Action=GetCallerIdentity", "sts_get_caller_identity.http", 1);
	struct sf_aws_identity id;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_whoami(f.c, &id, &e), 0);
	T_STREQ(id.account, "123456789012");
	T_STREQ(id.arn, "arn:aws:iam::123456789012:user/ci");
	T_STREQ(id.source, "env");
	T_CONTAINS(req(&f, 0), "POST https://sts.eu-west-1.amazonaws.com/");
	fx_close(&f);
}

T_TEST(idempotency_token_stable)
{
	char a[37], b[37], c[37];
	sf_aws_idempotency_token(a, "intent-1");
	sf_aws_idempotency_token(b, "intent-1");
	sf_aws_idempotency_token(c, "intent-2");
	T_STREQ(a, b);
	T_OK(strcmp(a, c) != 0);
	T_EQ(strlen(a), 36);
	T_EQ(a[14], '4');
}

struct thr {
	struct sf_aws *c;
	int ok;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < 20; i++) {
		json_t *out = NULL;
		struct sf_err e = SF_ERR_INIT;
		if (sf_aws_query(t->c, "ec2", "DescribeImages", NULL, &out, &e) == 0)
			t->ok++;
		json_decref(out);
	}
	return NULL;
}

T_TEST(client_is_thread_safe)
{
	struct fx f;
	env_keys();
	T_EQ(fx_open(&f, NULL), 0);
	fx_reply(&f, "", "ec2_describe_images.http", -1);
	pthread_t th[4];
	struct thr t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){f.c, 0};
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		T_EQ(t[i].ok, 20);
	}
	T_EQ(sf_replay_count(f.rp), 80);
	fx_close(&f);
}

/* ---- polls of one EC2 action share calls (aws/pollshare.h) ---- */

#define PS_EC2(body)                                                                                        \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeInstancesResponse "                          \
	"xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><reservationSet>" body \
	"</reservationSet></DescribeInstancesResponse>"
#define PS_INST(id, state)                                                                                  \
	"<item><reservationId>r-" id "</reservationId><instancesSet><item><instanceId>" id "</instanceId>"    \
	"<instanceState><name>" state "</name></instanceState></item></instancesSet></item>"

static const struct sf_waiter_def ps_stopped = {
	.name = "t.stopped", .service = "ec2", .operation = "DescribeInstances",
	.status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .success = {"stopped"},
	.failure = {"terminated"},
};
static const struct sf_waiter_def ps_stopped_retry = {
	.name = "t.stopped_retry", .service = "ec2", .operation = "DescribeInstances",
	.status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .success = {"stopped"},
	.failure = {"terminated"}, .notfound_retry = 1,
};

struct ps_member {
	struct sf_aws *c;
	const struct sf_waiter_def *def;
	const char *id;
	int rc, verdict;
	char status[64];
	json_t *doc;
	struct sf_err err;
};

static void ps_poll(struct ps_member *m)
{
	json_t *args = json_pack("{s:[s]}", "InstanceId", m->id);
	m->err = (struct sf_err)SF_ERR_INIT;
	m->rc = sf_pollshare_poll(m, m->c, m->def, args, &m->verdict, m->status, sizeof m->status, &m->doc, &m->err);
	json_decref(args);
}

static void *ps_thread(void *arg)
{
	ps_poll(arg);
	return NULL;
}

/* n polls said ahead for this instant, made on threads of their own at
 * once: each waits in the gather until all the others have come. */
static void ps_together(struct ps_member *m, int n)
{
	double due = sf_mono();
	pthread_t th[4];
	for (int i = 0; i < n; i++)
		sf_pollshare_expect(&m[i], m[i].c, m[i].def, due);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, ps_thread, &m[i]);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void ps_release(struct ps_member *m, int n)
{
	for (int i = 0; i < n; i++) {
		json_decref(m[i].doc);
		m[i].doc = NULL;
		sf_pollshare_leave(&m[i]);
	}
}

T_TEST(waiter_polls_of_one_ec2_action_share_one_call)
{
	struct fx f;
	env_keys();
	sf_pollshare_set_max(60); /* a slow host must not split the gathers below */
	unsigned long shared = sf_pollshare_shared_calls();

	/* two waits polling at one instant: one call with both ids, each
	 * judging only its own instance */
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "Action=DescribeInstances && Filter.1.Name=instance-id && =i-0a && =i-0b",
		      PS_EC2(PS_INST("i-0a", "stopped") PS_INST("i-0b", "running")), 1);
	struct ps_member m[3] = {{.c = f.c, .def = &ps_stopped, .id = "i-0a"}, {.c = f.c, .def = &ps_stopped, .id = "i-0b"}};
	ps_together(m, 2);
	T_EQ(sf_replay_count(f.rp), 1);
	T_EQ(sf_replay_unmatched(f.rp), 0);
	T_OK(!strstr(sf_replay_request(f.rp, 0), "InstanceId.1"));
	T_EQ(m[0].rc, 0);
	T_EQ(m[0].verdict, SF_WAITER_SUCCESS);
	T_STREQ(m[0].status, "stopped");
	T_EQ(m[1].rc, 0);
	T_EQ(m[1].verdict, SF_WAITER_PENDING);
	T_STREQ(m[1].status, "running");
	json_t *ids = sf_json_path_strings(m[1].doc, "reservationSet[].instancesSet[].instanceId");
	T_EQ(json_array_size(ids), 1); /* its own part of the answer only */
	T_STREQ(json_string_value(json_array_get(ids, 0)), "i-0b");
	json_decref(ids);
	T_EQ(sf_pollshare_shared_calls(), shared + 1);
	ps_release(m, 2);
	fx_close(&f);

	/* an id the filtered answer lacks is, for its wait, what the by-id
	 * call says of it: InvalidInstanceID.NotFound, which a row without
	 * notfound_retry returns and one with it waits on */
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "Action=DescribeInstances && Filter.1.Name=instance-id && =i-0a && =i-0b && =i-0c",
		      PS_EC2(PS_INST("i-0a", "running")), 1);
	struct ps_member g[3] = {{.c = f.c, .def = &ps_stopped, .id = "i-0a"}, {.c = f.c, .def = &ps_stopped, .id = "i-0b"}, {.c = f.c, .def = &ps_stopped_retry, .id = "i-0c"}};
	ps_together(g, 3);
	T_EQ(sf_replay_count(f.rp), 1);
	T_EQ(sf_replay_unmatched(f.rp), 0);
	T_EQ(g[0].rc, 0);
	T_EQ(g[0].verdict, SF_WAITER_PENDING);
	T_EQ(g[1].rc, SF_ENOTFOUND);
	T_STREQ(g[1].err.aws_code, "InvalidInstanceID.NotFound");
	T_CONTAINS(g[1].err.msg, "ec2 DescribeInstances: InvalidInstanceID.NotFound: The instance ID 'i-0b' does not exist");
	T_EQ(g[2].rc, 0);
	T_EQ(g[2].verdict, SF_WAITER_PENDING);
	T_STREQ(g[2].status, "not found");
	ps_release(g, 3);
	fx_close(&f);

	/* a failed call fails every member with its error */
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "Action=DescribeInstances && Filter.1.Name=instance-id",
		      "HTTP/1.1 403 Forbidden\nContent-Type: text/xml\n\n<Response><Errors><Error><Code>UnauthorizedOperation"
		      "</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors>"
		      "<RequestID>r</RequestID></Response>", -1);
	struct ps_member e[2] = {{.c = f.c, .def = &ps_stopped, .id = "i-0a"}, {.c = f.c, .def = &ps_stopped_retry, .id = "i-0b"}};
	ps_together(e, 2);
	T_EQ(sf_replay_count(f.rp), 1);
	for (int i = 0; i < 2; i++) {
		T_EQ(e[i].rc, SF_EAUTH);
		T_STREQ(e[i].err.aws_code, "UnauthorizedOperation");
	}
	ps_release(e, 2);
	fx_close(&f);

	/* a poll alone, said ahead or not, makes its own by-id call as ever,
	 * and judges it as sf_aws_waiter_poll does */
	for (int ahead = 0; ahead < 2; ahead++) {
		T_EQ(fx_open(&f, NULL), 0);
		sf_replay_add(f.rp, "Action=DescribeInstances && InstanceId.1=i-0b",
			      "HTTP/1.1 400 Bad Request\nContent-Type: text/xml\n\n<Response><Errors><Error><Code>InvalidInstanceID.NotFound"
			      "</Code><Message>The instance ID 'i-0b' does not exist</Message></Error></Errors>"
			      "<RequestID>r</RequestID></Response>", 1);
		sf_replay_add(f.rp, "Action=DescribeInstances && InstanceId.1=i-0a", PS_EC2(PS_INST("i-0a", "stopped")), 1);
		struct ps_member one[2] = {{.c = f.c, .def = &ps_stopped, .id = "i-0a"}, {.c = f.c, .def = &ps_stopped, .id = "i-0b"}};
		if (ahead)
			ps_together(one, 1);
		else
			ps_poll(&one[0]);
		T_EQ(one[0].rc, 0);
		T_EQ(one[0].verdict, SF_WAITER_SUCCESS);
		ps_poll(&one[1]);
		T_EQ(one[1].rc, SF_ENOTFOUND);
		T_EQ(sf_replay_count(f.rp), 2);
		T_EQ(sf_replay_unmatched(f.rp), 0);
		T_OK(!strstr(sf_replay_request(f.rp, 0), "Filter"));
		ps_release(one, 2);
		fx_close(&f);
	}
	T_EQ(sf_pollshare_shared_calls(), shared + 3);
	/* not one id list: never shared */
	json_t *two = json_pack("{s:[s], s:b}", "InstanceId", "i-0a", "DryRun", 0);
	T_OK(!sf_pollshare_can(&ps_stopped, two));
	json_decref(two);
	sf_pollshare_set_max(0);
}

T_MAIN()
