/* cluster_lower_control.c - the EKS control plane and its access entries (see cluster_lower.h). */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

/* eks_cluster.main (in every subnet, private first; endpoint access,
 * service CIDR, logging, authentication mode) and eks_access_entry.admin_<i>
 * per access.admins. */
void cl_lower_control(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	const char *access = cl->network.endpoint_access;
	const struct sf_node *spec_node = sf_node_get(cl->doc->root, "spec");
	json_t *all_ids = json_array();
	json_array_extend(all_ids, l->priv_ids);
	json_array_extend(all_ids, l->pub_ids);
	json_t *ekc = json_pack("{s:s, s:s*, s:o, s:O*, s:[o], s:b, s:b, s:s*, s:O*}", "name", cl->name, "version",
				cl->kubernetes_version, "role_arn", cl_ref("aws_iam_role.cluster", "arn"), "subnet_ids",
				all_ids, "security_group_ids", cl_ref("aws_security_group.cluster", "id"),
				"endpoint_public", access && strcmp(access, "private") != 0, "endpoint_private",
				access && strcmp(access, "public") != 0, "service_cidr", cl->network.service_cidr, "tags",
				l->tags);
	if (cl->network.public_access_cidrs)
		json_object_set(ekc, "public_access_cidrs", (json_t *)cl->network.public_access_cidrs);
	if (cl->logging)
		json_object_set(ekc, "logging", (json_t *)cl->logging);
	if (cl->auth_mode)
		json_object_set_new(ekc, "authentication_mode", json_string(cl->auth_mode));
	json_decref(all_ids);
	cl_add(l, "eks_cluster", "main", ekc, spec_node ? &spec_node->pos : l->pos, NULL);

	/* extra cluster admins */
	size_t i;
	json_t *arn;
	json_array_foreach(cl->admins, i, arn)
	{
		if (!json_is_string(arn))
			continue;
		char *an = xasprintf("admin_%zu", i);
		cl_add(l, "eks_access_entry", an,
		       json_pack("{s:o, s:O, s:s, s:O*}", "cluster_name", cl_ref("eks_cluster.main", "name"),
				 "principal_arn", arn, "policy", "AmazonEKSClusterAdminPolicy", "tags", l->tags),
		       l->pos, NULL);
		free(an);
	}
}
