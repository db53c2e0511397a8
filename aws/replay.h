/*
 * replay.h - a recorded-reply transport for tests (no network at all).
 *
 * Why: unit tests for aws/ and for resource types must exercise
 * the real request pipeline (encoding, signing, decoding, retries) without
 * AWS.  A replay is a list of rules "when the request contains these
 * strings, answer with this raw HTTP response"; a request no rule matches
 * fails loudly (SF_EPROTO "replay: unexpected request ...") and is counted,
 * so a test can assert nothing unexpected was sent.
 *
 * Matching: the request is rendered as
 *   "<METHOD> <URL>\n<Name>: <value>\n...\n\n<body>"
 * and a rule's `match` is one or more substrings separated by " && ", all
 * of which must occur (e.g. "Action=DescribeVpcs && Filter.1.Name=vpc-id").
 * Rules are tried in the order added; `times` limits how often a rule
 * answers (-1: forever), so a sequence (503 then 200) is two rules.
 *
 * Replies: raw HTTP ("HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<body>"),
 * or from a file (tests/aws/replies/NAME.http, same format; the body is every
 * byte after the blank line).  Special replies simulate the network, with
 * the errors the libcurl transport gives (sf_http_fail): "!reset"
 * (connection reset), "!timeout", "!refused" and "!untrusted" (a TLS
 * certificate not trusted).
 *
 * Ownership: the replay owns its rules and recorded requests; the struct
 * sf_http returned by sf_replay_http() is owned by the replay (do not
 * sf_http_free it).  Thread-safe.
 */
#ifndef SF_AWS_REPLAY_H
#define SF_AWS_REPLAY_H

#include <stddef.h>

#include "http.h"
#include "err.h"

struct sf_replay;

struct sf_replay *sf_replay_new(void);
void sf_replay_free(struct sf_replay *r);
void sf_replay_add(struct sf_replay *r, const char *match, const char *raw_response, int times);
/* Path relative to the source root's tests/aws/replies/ unless absolute. */
int sf_replay_add_file(struct sf_replay *r, const char *match, const char *path, int times, struct sf_err *err);
struct sf_http *sf_replay_http(struct sf_replay *r);

size_t sf_replay_count(struct sf_replay *r);                 /* requests seen */
const char *sf_replay_request(struct sf_replay *r, size_t i); /* rendered request i; borrowed */
size_t sf_replay_unmatched(struct sf_replay *r);             /* requests no rule answered */
size_t sf_replay_unused(struct sf_replay *r);                /* rules with times > 0 left */

/* Parse a raw HTTP response into resp (also used by the test server). */
int sf_replay_parse_response(const char *raw, size_t n, struct sf_http_resp *resp, struct sf_err *err);

#endif
