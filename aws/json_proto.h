/*
 * json_proto.h - AWS JSON protocols: rest-json (EKS) and json 1.1 (SSM).
 *
 * Why separate from the client: decoding is pure and fuzzed on its own.
 * Encoding is jansson's compact dump (JSON_COMPACT, keys in insertion
 * order); rest-json labels and query strings are the caller's (see
 * sf_aws_rest_json in client.h).
 *
 * Decoding rules: 2xx with an empty body is {}; 2xx must be a JSON object,
 * otherwise SF_EPROTO (or SF_ETRANSIENT when the text merely ends early).
 * Errors: the code from the `x-amzn-ErrorType` header (cut at ':'), else
 * the body's `__type` (cut through '#'), else `code`; the message from
 * `message` or `Message`; the request id from `x-amzn-RequestId`.
 * A non-JSON failure body (an HTML page from a proxy) is a foreign reply.
 *
 * Ownership: *out is a new reference; the encoded body is owned (free()).
 */
#ifndef SF_AWS_JSON_PROTO_H
#define SF_AWS_JSON_PROTO_H

#include <jansson.h>

#include "http.h"
#include "err.h"

char *sf_json_proto_encode(const json_t *body); /* "{}" for NULL */

int sf_json_proto_decode(const char *service, const char *op, long status, const struct sf_hdrs *headers,
			 const char *body, size_t n, json_t **out, char *request_id, struct sf_err *err);

#endif
