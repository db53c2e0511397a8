/*
 * aws_provider.c - the AWS provider: its resource types (one file each,
 * resources/aws_*.c), the credential check apply makes before changing any
 * of them, and the gc sweep's extra kinds, clock and scope (aws_sweep.c).
 *
 * Adding an AWS type: its file, and one row in SF_AWS_TYPES (types_aws.h).
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/provider.h"
#include "resources/types_aws.h"

#define ROW(n) &sf_rt_##n,
static const struct sf_rtype *const types[] = {SF_AWS_TYPES(ROW) NULL};

/* Resolve the credentials once, so a missing or expired one is one clear
 * error instead of one per resource (Kubernetes objects may use a static
 * token, so only AWS types ask for this). */
static int aws_preflight(struct sf_providers *p, struct sf_err *err)
{
	struct sf_aws *a = sf_providers_aws(p, err);
	struct sf_aws_creds cr;
	memset(&cr, 0, sizeof cr);
	if (!a || sf_aws_credentials(a, &cr, err) < 0)
		return err->code ? err->code : SF_ERROR;
	sf_aws_creds_release(&cr);
	return 0;
}

const struct sf_provider sf_provider_aws = {
	.name = "aws",
	.types = types,
	.preflight = aws_preflight,
	.sweep_extra = ax_sweep_extra,
	.sweep_now = ax_sweep_now,
	.sweep_scope = ax_sweep_scope,
};
