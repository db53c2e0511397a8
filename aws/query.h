/*
 * query.h - the AWS query protocols (EC2, IAM, STS, ELBv2): request
 * encoding from JSON and reply decoding to JSON.
 *
 * Why data-driven: resource types describe a call as a JSON object shaped
 * like the API's members, with the wire names
 *   {"Filter":[{"Name":"tag:x","Value":["a"]}], "MaxResults":5}
 * and this module flattens it per the service's rules, so a new operation
 * needs no C code:
 *   - EC2 (ec2 protocol): lists are 1-based under the given name:
 *     Filter.1.Name, Filter.1.Value.1; empty lists are omitted;
 *   - IAM/STS/ELB (query): lists use ".member.N": Tags.member.1.Key; an
 *     empty list is sent as "Name=" (the models' meaning of "clear");
 *   - objects nest with dots; true/false; numbers as decimal; null skipped.
 * Values are percent-encoded (RFC 3986, space as %20).
 *
 * Decoding: the XML reply becomes JSON (see xml.h for the rules).  For
 * IAM/STS/ELB the <ActionResult> element is unwrapped; EC2 returns the
 * response element's children (requestId included).  Error shapes:
 * EC2 <Response><Errors><Error>, query <ErrorResponse><Error>; anything
 * else on a failure status is a foreign reply (HTML from a proxy ...).
 *
 * Ownership: *out is a new reference.  The sf_buf is the caller's.
 */
#ifndef SF_AWS_QUERY_H
#define SF_AWS_QUERY_H

#include <jansson.h>

#include "http.h"
#include "err.h"

/* Append "Action=..&Version=..&<flattened params>" to out. params may be
 * NULL; it must otherwise be an object (SF_EINVAL). */
int sf_query_encode(struct sf_buf *out, const char *action, const char *version, const json_t *params, int ec2,
		    struct sf_err *err);

/* Decode a reply. On an AWS error fills err (via awserr.h) and returns its
 * code. request_id (>= 96 bytes, optional) receives the request id. */
int sf_query_decode(const char *service, const char *action, long status, const struct sf_hdrs *headers,
		    const char *body, size_t n, json_t **out, char *request_id, struct sf_err *err);

#endif
