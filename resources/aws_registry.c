/* aws_registry.c - the AWS resource types (one file each: resources/aws_*.c). */
#include "resources/types.h"
#include "resources/types_aws.h"

const struct sf_rtype *const sf_rt_aws_registry[] = {
	&sf_rt_aws_gvisor_ami,
	&sf_rt_aws_iam_instance_profile,
	&sf_rt_aws_iam_role,
	&sf_rt_aws_internet_gateway,
	&sf_rt_aws_launch_template,
	&sf_rt_aws_route_table,
	&sf_rt_aws_security_group,
	&sf_rt_aws_subnet,
	&sf_rt_aws_vpc,
	&sf_rt_eks_access_entry,
	&sf_rt_eks_cluster,
	&sf_rt_eks_node_group,
	NULL,
};
