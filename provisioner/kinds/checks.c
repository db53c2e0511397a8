/* checks.c - domain checks shared by the kinds' schemas (see kinds.h). */
#include <ctype.h>
#include <string.h>

#include "provisioner/kinds/kinds.h"
#include "util.h"

void sf_check_dns_label(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *s = n->scalar;
	size_t len = strlen(s);
	int ok = len > 0 && len <= 63 && islower((unsigned char)s[0]);
	for (size_t i = 0; ok && i < len; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			ok = 0;
	if (ok && s[len - 1] == '-')
		ok = 0;
	if (!ok)
		sf_diag_error(d, &n->pos,
			      "%s: \"%s\" must be 1-63 lowercase letters, digits or '-', starting with a letter and not ending with '-'",
			      path, s);
}

void sf_check_region(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	/* Partition prefixes secfaas knows how to build endpoints for. */
	static const char *const known[] = {
		"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
		"ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
		"ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1", "cn-northwest-1",
		"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2",
		"eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
		"us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-1", "us-west-2",
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(known); i++)
		if (!strcmp(known[i], n->scalar))
			return;
	const char *hint = sf_did_you_mean(n->scalar, known, SF_ARRAY_LEN(known));
	if (hint)
		sf_diag_error(d, &n->pos, "%s: unknown region \"%s\"; did you mean \"%s\"?", path, n->scalar, hint);
	else
		sf_diag_error(d, &n->pos, "%s: unknown region \"%s\"", path, n->scalar);
}
