/* awserr.c - see awserr.h. */
#include "aws/awserr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static int in_set(const char *code, const char *const *set)
{
	if (!code)
		return 0;
	for (int i = 0; set[i]; i++)
		if (!strcmp(code, set[i]))
			return 1;
	return 0;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

/* The codes the AWS SDKs' "standard" retry mode treats as throttling. */
static const char *const throttle_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
	"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", NULL,
};
static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "IDPCommunicationError",
	"InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
	"ServerException", "InternalServerError", NULL,
};
static const char *const skew_codes[] = {
	"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", NULL,
};
static const char *const auth_codes[] = {
	"AuthFailure", "UnauthorizedOperation", "AccessDenied", "AccessDeniedException",
	"SignatureDoesNotMatch", "InvalidSignatureException", "ExpiredToken", "ExpiredTokenException",
	"InvalidClientTokenId", "UnrecognizedClientException", "IncompleteSignature",
	"MissingAuthenticationToken", "MissingAuthenticationTokenException", "InvalidAccessKeyId",
	"RequestExpired", "RequestTimeTooSkewed", "InvalidToken", "OptInRequired", "UnauthorizedException",
	"InvalidIdentityToken", "NotAuthorized", NULL,
};
static const char *const conflict_codes[] = {
	"DependencyViolation", "ResourceInUse", "ResourceInUseException", "DeleteConflict",
	"EntityAlreadyExists", "AlreadyExists", "AlreadyExistsException", "ResourceExistsException",
	"IdempotentParameterMismatch", "ConcurrentModification", "IncorrectState", "InvalidStateException",
	"OperationNotPermitted", "DuplicateLoadBalancerName", "DuplicateTargetGroupName", "ParameterAlreadyExists",
	NULL,
};
static const char *const invalid_codes[] = {
	"ValidationError", "ValidationException", "InvalidParameterValue", "InvalidParameterCombination",
	"InvalidParameterException", "InvalidRequestException", "InvalidParameter", "MissingParameter",
	"MalformedPolicyDocument", "InvalidInput", "UnknownParameter", "InvalidAction",
	"InvalidQueryParameter", "MalformedQueryString", "SerializationException", "ClientException",
	"UnsupportedOperation", "InvalidRegion", NULL,
};

int sf_aws_code_is_throttle(const char *code)
{
	return in_set(code, throttle_codes);
}

int sf_aws_code_is_transient(const char *code)
{
	return in_set(code, transient_codes);
}

int sf_aws_code_is_skew(const char *code, const char *message)
{
	if (in_set(code, skew_codes))
		return 1;
	/* a slow clock: "Signature expired: X is now earlier than Y"; a fast
	 * one: "Signature not yet current: X is still later than Y" */
	if (code && (!strcmp(code, "InvalidSignatureException") || !strcmp(code, "SignatureDoesNotMatch")) && message &&
	    (strcasestr(message, "Signature expired") || strcasestr(message, "Signature not yet current")))
		return 1;
	if (code && !strcmp(code, "AuthFailure") && message && strcasestr(message, "time"))
		return 1;
	return 0;
}

int sf_aws_error_class(const char *code, long status)
{
	if (code && *code) {
		if (in_set(code, throttle_codes))
			return SF_ETHROTTLED;
		if (in_set(code, auth_codes))
			return SF_EAUTH;
		if (ends_with(code, "NotFound") || ends_with(code, "NotFoundException") || strstr(code, ".NotFound") ||
		    !strcmp(code, "NoSuchEntity") || !strcmp(code, "NoSuchEntityException") ||
		    !strcmp(code, "ParameterNotFound"))
			return SF_ENOTFOUND;
		if (in_set(code, conflict_codes) || ends_with(code, ".Duplicate") || ends_with(code, "AlreadyExists") ||
		    ends_with(code, "InUse") || strstr(code, ".InUse"))
			return SF_ECONFLICT;
		if (in_set(code, transient_codes))
			return SF_ETRANSIENT;
		if (in_set(code, invalid_codes) || !strncmp(code, "Invalid", 7) || !strncmp(code, "Malformed", 9))
			return SF_EINVAL;
	}
	if (status == 429)
		return SF_ETHROTTLED;
	if (status >= 500)
		return SF_ETRANSIENT;
	if (status == 404)
		return SF_ENOTFOUND;
	if (status == 409)
		return SF_ECONFLICT;
	if (status == 401 || status == 403)
		return SF_EAUTH;
	return SF_ERROR;
}

static const char *auth_hint(const char *code)
{
	if (!code)
		return "check the credentials (run `secfaas whoami`)";
	if (!strcmp(code, "ExpiredToken") || !strcmp(code, "ExpiredTokenException") ||
	    !strcmp(code, "RequestExpired"))
		return "the session credentials expired: refresh them (new AWS_SESSION_TOKEN, aws sso login) and retry";
	if (!strcmp(code, "SignatureDoesNotMatch") || !strcmp(code, "InvalidSignatureException") ||
	    !strcmp(code, "IncompleteSignature"))
		return "the secret key does not match the access key, or the clock is wrong; check AWS_SECRET_ACCESS_KEY / the profile";
	if (!strcmp(code, "InvalidClientTokenId") || !strcmp(code, "UnrecognizedClientException") ||
	    !strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "AuthFailure"))
		return "the access key is not valid in this account/partition; check the credentials (`secfaas whoami`)";
	if (!strcmp(code, "RequestTimeTooSkewed"))
		return "the system clock is off by more than 5 minutes; fix the time (NTP)";
	return "the credentials lack permission for this call; see `secfaas whoami` and the IAM policy";
}

/* AWS's signature errors go on to quote the canonical request and the
 * string to sign, headers included: x-amz-security-token carries the
 * session token, which must not reach a terminal, a log or the state's
 * journal.  Cut the message there, and make it one line. */
static void scrub(char *m)
{
	static const char *const cut_at[] = {"The Canonical String", "The String-to-Sign", "x-amz-security-token",
					      "Authorization:"};
	for (size_t i = 0; i < SF_ARRAY_LEN(cut_at); i++) {
		char *p = strcasestr(m, cut_at[i]);
		if (p)
			*p = 0;
	}
	for (char *p = m; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	size_t n = strlen(m);
	while (n && (m[n - 1] == ' ' || m[n - 1] == '\''))
		m[--n] = 0;
}

int sf_aws_error(struct sf_err *err, const char *service, const char *op, long status, const char *code,
		 const char *message, const char *request_id)
{
	int cls = sf_aws_error_class(code, status);
	if (!err)
		return cls;
	char msgpart[400];
	snprintf(msgpart, sizeof msgpart, "%s", message && *message ? message : "");
	scrub(msgpart);
	if (code && *code)
		sf_fail(err, cls, "%s %s: %s%s%s", service ? service : "aws", op ? op : "?", code, *msgpart ? ": " : "",
			msgpart);
	else
		sf_fail(err, cls, "%s %s: HTTP %ld%s%s", service ? service : "aws", op ? op : "?", status,
			*msgpart ? ": " : "", msgpart);
	err->http_status = (int)status;
	snprintf(err->aws_code, sizeof err->aws_code, "%s", code ? code : "");
	snprintf(err->request_id, sizeof err->request_id, "%s", request_id ? request_id : "");
	if (cls == SF_EAUTH)
		sf_err_hint(err, "%s", auth_hint(code));
	else if (cls == SF_ETHROTTLED)
		sf_err_hint(err, "AWS is throttling this account; retry later or lower --parallelism");
	else
		err->hint[0] = 0;
	return cls;
}

int sf_aws_foreign_reply(struct sf_err *err, const char *service, const char *op, long status,
			 const char *content_type, const char *body, size_t n, const char *why)
{
	int html = (content_type && strcasestr(content_type, "html")) ||
		   (body && n >= 5 && (strncasecmp(body, "<!DOC", 5) == 0 || strncasecmp(body, "<html", 5) == 0));
	int cls = status >= 500 || status == 429 ? SF_ETRANSIENT : SF_EPROTO;
	sf_fail(err, cls, "%s %s: HTTP %ld with a reply that is not from AWS (%s%s%s)", service ? service : "aws",
		op ? op : "?", status, html ? "an HTML page" : (n ? "unparseable body" : "empty body"),
		why && *why ? ": " : "", why ? why : "");
	if (err) {
		err->http_status = (int)status;
		err->aws_code[0] = 0;
		err->request_id[0] = 0;
	}
	return sf_err_hint(err, "%s", html ? "a proxy or captive portal answered: check HTTPS_PROXY/NO_PROXY and the endpoint URL"
					   : "check the endpoint URL (AWS_ENDPOINT_URL*) and network path");
}

const char *sf_aws_propagation(const char *service, const char *op, const char *code, const char *message)
{
	if (!service || !code || !message)
		return NULL;
	if (!strcmp(service, "eks") && !strcmp(code, "InvalidParameterException") &&
	    strstr(message, "could not be assumed because it does not exist or the trusted entity is not correct"))
		return "EKS cannot assume the new IAM role yet (IAM propagation)";
	if (!strcmp(service, "ec2") && op && !strcmp(op, "RunInstances") && !strcmp(code, "InvalidParameterValue") &&
	    (strstr(message, "for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name") ||
	     strstr(message, "for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")))
		return "EC2 does not know the new instance profile yet (IAM propagation)";
	if (!strcmp(service, "sts") && op && !strcmp(op, "AssumeRole") && !strcmp(code, "AccessDenied") &&
	    strstr(message, "is not authorized to perform: sts:AssumeRole on resource"))
		return "STS cannot assume the new IAM role yet (IAM propagation)";
	return NULL;
}
