/*
 * cluster.h - the Cluster kind: schema helpers and lowering into the
 * resource graph (IAM, network, AMI bake, launch templates, EKS, node
 * groups, Kubernetes objects).
 */
#ifndef SF_CLUSTER_H
#define SF_CLUSTER_H

#include <stdint.h>

#include "config.h"
#include "schema.h"

const struct sf_schema *sf_cluster_schema(void);

/* Lower a validated Cluster document into c (cluster_lower.c). */
void sf_cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d);

/* 0 ok; -1 malformed; -2 host bits set. */
int sf_parse_cidr(const char *s, uint32_t *net, int *bits);
int sf_cidrs_overlap(uint32_t a, int abits, uint32_t b, int bbits);
/* 0 and *arch = "x86_64" | "arm64", or -1 if not an instance type. */
int sf_instance_type_arch(const char *t, const char **arch);
int sf_label_key_ok(const char *k);
int sf_label_value_ok(const char *v);

#endif
