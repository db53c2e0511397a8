/* types_aws.h - declarations of the AWS resource type tables. */
#ifndef SF_TYPES_AWS_H
#define SF_TYPES_AWS_H

#include "provisioner/resource.h"

#endif
