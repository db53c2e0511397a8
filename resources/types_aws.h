/* types_aws.h - declarations of the AWS resource type tables (resources/aws_*.c). */
#ifndef SF_TYPES_AWS_H
#define SF_TYPES_AWS_H

#include "provisioner/engine/resource.h"

extern const struct sf_rtype sf_rt_aws_iam_role;
extern const struct sf_rtype sf_rt_aws_iam_instance_profile;
extern const struct sf_rtype sf_rt_aws_vpc;
extern const struct sf_rtype sf_rt_aws_network_ref;
extern const struct sf_rtype sf_rt_aws_subnet;
extern const struct sf_rtype sf_rt_aws_internet_gateway;
extern const struct sf_rtype sf_rt_aws_eip;
extern const struct sf_rtype sf_rt_aws_nat_gateway;
extern const struct sf_rtype sf_rt_aws_route_table;
extern const struct sf_rtype sf_rt_aws_security_group;
extern const struct sf_rtype sf_rt_aws_gvisor_ami;
extern const struct sf_rtype sf_rt_aws_launch_template;
extern const struct sf_rtype sf_rt_eks_cluster;
extern const struct sf_rtype sf_rt_eks_node_group;
extern const struct sf_rtype sf_rt_eks_access_entry;
extern const struct sf_rtype sf_rt_eks_addon;
extern const struct sf_rtype sf_rt_eks_pod_identity_association;

#endif
