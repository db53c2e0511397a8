/*
 * types_aws.h - the AWS resource types (one file each, resources/aws_*.c):
 * the list every other place takes them from.
 *
 * Adding an AWS type: its file, and one row in SF_AWS_TYPES.  The
 * provider (aws_provider.c: the registry, apply's credential preflight,
 * the gc sweep) and these declarations come from this list.
 */
#ifndef SF_TYPES_AWS_H
#define SF_TYPES_AWS_H

#include "provisioner/engine/resource.h"

/* One row per type: X(<name>) for `const struct sf_rtype sf_rt_<name>`. */
#define SF_AWS_TYPES(X)                   \
	X(aws_eip)                        \
	X(aws_gvisor_ami)                 \
	X(aws_iam_instance_profile)       \
	X(aws_iam_role)                   \
	X(aws_internet_gateway)           \
	X(aws_launch_template)            \
	X(aws_nat_gateway)                \
	X(aws_network_ref)                \
	X(aws_route_table)                \
	X(aws_security_group)             \
	X(aws_subnet)                     \
	X(aws_vpc)                        \
	X(aws_vpc_endpoint)               \
	X(eks_access_entry)               \
	X(eks_addon)                      \
	X(eks_cluster)                    \
	X(eks_node_group)                 \
	X(eks_pod_identity_association)

SF_AWS_TYPES(SF_RTYPE_EXTERN)

#endif
