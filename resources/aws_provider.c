/*
 * aws_provider.c - the AWS provider: its resource types (one file each,
 * resources/aws_*.c), the credential check apply makes before changing any
 * of them, and the gc sweep's extra kinds, clock and scope (aws_sweep.c).
 *
 * Adding an AWS type: its file, and one row in AWS_TYPES below.
 */
#include <string.h>

#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/provider.h"

/* One row per type: X(<name>) for `const struct sf_rtype sf_rt_<name>`. */
#define AWS_TYPES(X)               \
	X(aws_eip)                  \
	X(aws_gvisor_ami)           \
	X(aws_iam_instance_profile) \
	X(aws_iam_role)             \
	X(aws_internet_gateway)     \
	X(aws_launch_template)      \
	X(aws_nat_gateway)          \
	X(aws_network_ref)          \
	X(aws_route_table)          \
	X(aws_security_group)       \
	X(aws_subnet)               \
	X(aws_vpc)                  \
	X(eks_access_entry)         \
	X(eks_addon)                \
	X(eks_cluster)              \
	X(eks_node_group)                \
	X(eks_pod_identity_association)

#define DECLARE(n) extern const struct sf_rtype sf_rt_##n;
AWS_TYPES(DECLARE)
#define ROW(n) &sf_rt_##n,
static const struct sf_rtype *const types[] = {AWS_TYPES(ROW) NULL};

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
