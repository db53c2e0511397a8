/* aws_registry.c - the AWS resource types (one file each: resources/aws_*.c). */
#include "resources/types.h"
#include "resources/types_aws.h"

const struct sf_rtype *const sf_rt_aws_registry[] = {
	NULL,
};
