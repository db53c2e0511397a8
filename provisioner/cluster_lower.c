/*
 * cluster_lower.c - Cluster document → resource instances.
 *
 * Until the AWS resource types are registered, a Cluster lowers to nothing
 * and says so as an error, rather than planning "no changes" for a spec
 * that would build a whole cluster.
 */
#include "cluster.h"

void sf_cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	(void)c;
	if (!sf_rtype_find("aws_vpc"))
		sf_diag_add(d, SF_SEV_WARNING, &doc->root->pos,
			      "kind Cluster: this secfaas build has no AWS resource types yet; use `secfaas validate` or `secfaas render` for Cluster specs");
}
