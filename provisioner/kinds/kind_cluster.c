/*
 * kind_cluster.c - `kind: Cluster`: an EKS cluster with gVisor node groups.
 * Its schema is cluster_schema.c; its lowering builds the typed model
 * (cluster_model.c) and lowers it by concern (cluster_lower*.c).
 */
#include "provisioner/kinds/cluster.h"
#include "provisioner/kinds/kinds.h"

static void cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	sf_cluster_lower(doc, c, d);
}

const struct sf_kind sf_kind_cluster = {"Cluster", &sf_cluster_spec_schema, cluster_lower,
					"an EKS cluster with gVisor node groups", SF_CLUSTER_NAME_MAX};
