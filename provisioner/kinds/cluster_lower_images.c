/* cluster_lower_images.c - the baked gVisor images (see cluster_lower.h). */
#include "provisioner/kinds/cluster_lower.h"

/* aws_gvisor_ami.gvisor_<arch> per arch some gVisor group without `ami:`
 * runs, built in the builder subnet the network chose (the first public
 * one) by the builder profile. */
void cl_lower_images(struct cl_lower *l)
{
	static const char *const arch[] = {"x86_64", "arm64"};
	for (int k = 0; k < 2; k++) {
		if (!(k == 0 ? l->cl->bakes_x86_64 : l->cl->bakes_arm64))
			continue;
		json_t *ac = sf_cluster_image_attrs(l->cl, arch[k], l->tags);
		json_object_set(ac, "builder_subnet_id", l->builder_subnet);
		json_object_set_new(ac, "builder_instance_profile", cl_ref("aws_iam_instance_profile.ami_builder", "name"));
		/* the builder downloads the release: it needs the route out */
		cl_add(l, "aws_gvisor_ami", k == 0 ? "gvisor_x86_64" : "gvisor_arm64", ac, l->pos, l->builder_dep);
	}
}
