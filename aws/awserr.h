/*
 * awserr.h - one error shape for every AWS protocol.
 *
 * Why: resource code must not care whether EKS said
 * `x-amzn-ErrorType: ResourceNotFoundException` or EC2 said
 * `<Code>InvalidVpcID.NotFound</Code>`: both become SF_ENOTFOUND with the
 * service, operation, HTTP status, AWS code, message and request id in the
 * caller's struct sf_err.  The protocol decoders (xml.h, query.h,
 * json_proto.h) extract the raw fields; this module maps them.
 *
 * Mapping (err->code): NotFound-ish -> SF_ENOTFOUND; throttling ->
 * SF_ETHROTTLED; DependencyViolation/ResourceInUse/DeleteConflict/
 * AlreadyExists/409 -> SF_ECONFLICT; signature, token and permission codes
 * and 401/403 -> SF_EAUTH; 5xx and transient codes -> SF_ETRANSIENT;
 * validation codes -> SF_EINVAL; anything else SF_ERROR.
 */
#ifndef SF_AWS_AWSERR_H
#define SF_AWS_AWSERR_H

#include <stddef.h>

#include "err.h"

/* Fill err from a decoded AWS error; returns err->code. Any string may be NULL. */
int sf_aws_error(struct sf_err *err, const char *service, const char *op, long status, const char *code,
		 const char *message, const char *request_id);

/* A reply that is not AWS's (an HTML page from a proxy, an empty 502 ...):
 * SF_ETRANSIENT for 5xx/429 or a 2xx body cut off, else SF_EPROTO, with a
 * hint about proxies and endpoint URLs. Returns err->code. */
int sf_aws_foreign_reply(struct sf_err *err, const char *service, const char *op, long status,
			 const char *content_type, const char *body, size_t n, const char *why);

/* The sf_code an AWS error code/status maps to. */
int sf_aws_error_class(const char *code, long status);

/* Eventual consistency: a change made moments ago (a new IAM role or
 * instance profile) has not yet reached the service answering, which says
 * so with these exact errors (IAM User Guide, "Changes that I make are not
 * always immediately visible"):
 *   EKS CreateCluster/CreateNodegroup/UpdateNodegroupVersion:
 *     InvalidParameterException "Role with arn: ARN, could not be assumed
 *     because it does not exist or the trusted entity is not correct"
 *   EC2 RunInstances: InvalidParameterValue "Value (NAME) for parameter
 *     iamInstanceProfile.name is invalid. Invalid IAM Instance Profile
 *     name" (or .arn / "... ARN")
 *   STS AssumeRole: AccessDenied "... is not authorized to perform:
 *     sts:AssumeRole on resource: ARN"
 * Returns a short phrase for a progress line ("EKS cannot assume the role
 * yet"), or NULL when the error is not one of them.  Callers retry with a
 * bound: the same words also come back when the role really is wrong. */
const char *sf_aws_propagation(const char *service, const char *op, const char *code, const char *message);

/* Code sets shared with retry.h. */
int sf_aws_code_is_throttle(const char *code);
int sf_aws_code_is_transient(const char *code);
int sf_aws_code_is_skew(const char *code, const char *message);

#endif
