/* libFuzzer target: the query-protocol reply decoder (XML -> JSON and the
 * EC2/IAM error shapes). The first input byte picks the HTTP status class
 * so both the success and the error paths are explored. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "aws/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 400, 403, 404, 500, 503};
	if (size < 1)
		return 0;
	long status = statuses[data[0] % 6];
	struct sf_hdrs h = SF_HDRS_INIT;
	sf_hdrs_add(&h, "Content-Type", data[0] & 0x80 ? "text/html" : "text/xml");
	json_t *out = NULL;
	struct sf_err err = SF_ERR_INIT;
	char rid[96];
	if (sf_query_decode("ec2", "DescribeVpcs", status, &h, (const char *)data + 1, size - 1, &out, rid, &err) == 0 &&
	    !out)
		abort(); /* success must produce a document */
	json_decref(out);
	sf_hdrs_release(&h);
	return 0;
}
