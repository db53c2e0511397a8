/* libFuzzer target: the shared config/credentials file parser and the
 * endpoint resolver over whatever it produced. Input: config text, an
 * optional NUL, credentials text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	size_t n1 = strlen(text);
	const char *creds = n1 < size ? text + n1 + 1 : NULL;
	struct sf_aws_config *cfg = NULL;
	struct sf_err err = SF_ERR_INIT;
	if (sf_aws_config_parse(&cfg, text, creds, NULL, &err) == 0) {
		static const char *svcs[] = {"ec2", "iam", "sts", "eks", "ssm", "elasticloadbalancing"};
		char *region = NULL;
		if (sf_aws_resolve_region(cfg, NULL, &region, &err) == 0) {
			for (size_t i = 0; i < 6; i++) {
				struct sf_aws_endpoint ep;
				sf_aws_resolve_endpoint(cfg, svcs[i], region, &ep, &err);
			}
		}
		free(region);
		sf_aws_config_free(cfg);
	}
	free(text);
	return 0;
}
