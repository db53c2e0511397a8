/*
 * aws_sweep.h - what the AWS types' sweep hooks share (see sweep.h): one
 * EC2 Describe or IAM listing filtered by the ownership tag, the EKS name
 * listings, the sweep's clock, and the AWS kinds that are not resource
 * types (instances EKS did not launch, snapshots, network interfaces).
 *
 * A type's hook lives in its own file, e.g. for a VPC:
 *   static int vpc_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
 *   {
 *           return ax_sweep_ec2(s, h, "DescribeVpcs", "vpcSet", "vpcId", NULL, vpc_prior);
 *   }
 *   static const struct sf_sweep_hook vpc_sweep = {"vpc", SF_SWEEP_VPC, vpc_sweep_list, NULL, NULL};
 * and `.sweep = &vpc_sweep` in its sf_rtype.
 */
#ifndef SF_AWS_SWEEP_H
#define SF_AWS_SWEEP_H

#include <jansson.h>

#include "resources/sweep.h"

/* Builds the prior attributes for destroy from one listed item and its
 * tags (as an object); returns a new object, or NULL to skip the item. */
typedef json_t *(*ax_sweep_prior_fn)(const char *id, const json_t *item, const json_t *tags);

/* One EC2 Describe<action> with the ownership tag filter (paginated);
 * extra members (e.g. Owner=self) are merged into the parameters (stolen).
 * Each item's id is item[id_key]; prior may be NULL ({"id": id}). */
int ax_sweep_ec2(struct sf_sweep *s, const struct sf_sweep_hook *h, const char *action, const char *list_key,
		 const char *id_key, json_t *extra, ax_sweep_prior_fn prior);

/* IAM lists carry no tags: one List<tags_action> call per entity; the
 * prior is {"name": name}. */
int ax_sweep_iam(struct sf_sweep *s, const struct sf_sweep_hook *h, const char *list_action, const char *list_key,
		 const char *name_key, const char *tags_action);

/* The names of every EKS cluster (new array in *out). */
int ax_sweep_eks_clusters(struct sf_sweep *s, json_t **out);
/* GET an EKS path and take one member of the reply (new reference in
 * *obj); *obj NULL when the object was deleted while we looked. */
int ax_sweep_eks_get(struct sf_sweep *s, const char *path, const char *member, json_t **obj);
/* The names in every page of GET path (new array in *out). */
int ax_sweep_eks_names(struct sf_sweep *s, const char *path, const char *key, json_t **out);

/* The AWS provider's sweep clock (provider.h): STS GetCallerIdentity, the
 * reply's Date header. */
int ax_sweep_now(struct sf_providers *p, double *now, struct sf_err *err);
/* The region swept, for messages. */
const char *ax_sweep_scope(struct sf_providers *p);

/* Instances (not launched by EKS), snapshots and network interfaces. */
extern const struct sf_sweep_hook *const ax_sweep_extra[];

#endif
