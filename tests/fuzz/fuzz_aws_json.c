/* libFuzzer target: the rest-json / json-1.1 reply decoder, including the
 * x-amzn-ErrorType header path (first byte selects status and header). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/json_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 400, 404, 409, 429, 500};
	if (size < 1)
		return 0;
	long status = statuses[data[0] % 6];
	struct sf_hdrs h = SF_HDRS_INIT;
	size_t off = 1;
	if (data[0] & 0x40) {
		/* header value: bytes up to the first NUL (bounded) */
		size_t n = 0;
		while (off + n < size && n < 200 && data[off + n])
			n++;
		char *v = strndup((const char *)data + off, n);
		sf_hdrs_add(&h, "x-amzn-ErrorType", v);
		free(v);
		off += n < size - off ? n + 1 : n;
	}
	json_t *out = NULL;
	struct sf_err err = SF_ERR_INIT;
	char rid[96];
	if (sf_json_proto_decode("eks", "DescribeCluster", status, &h, (const char *)data + off, size - off, &out, rid,
				 &err) == 0 &&
	    !json_is_object(out))
		abort();
	json_decref(out);
	sf_hdrs_release(&h);
	return 0;
}
