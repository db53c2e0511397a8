/* types_k8s.h - declarations of the Kubernetes resource type tables. */
#ifndef SF_TYPES_K8S_H
#define SF_TYPES_K8S_H

#include "provisioner/resource.h"

#endif
