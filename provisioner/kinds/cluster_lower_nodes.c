/* cluster_lower_nodes.c - launch templates and node groups (see cluster_lower.h). */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster_lower.h"
#include "util.h"

/* Replace every occurrence of `from` by `to`; owned result. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t lf = strlen(from);
	for (const char *p = s; *p;) {
		const char *q = strstr(p, from);
		if (!q) {
			sf_buf_puts(&b, p);
			break;
		}
		sf_buf_append(&b, p, (size_t)(q - p));
		sf_buf_puts(&b, to);
		p = q + lf;
	}
	return sf_buf_detach(&b);
}

/* User data for a node on containerd `major`, with references to the
 * cluster's endpoint and CA, so `plan` shows the real user data diff once
 * the cluster exists. Owned or NULL. */
static char *user_data(const struct sf_cluster *cl, const struct sf_nodegroup *g, int major, struct sf_err *err)
{
	struct sf_node_render_in in;
	sf_cluster_render_in(cl, g, SF_PENDING_ENDPOINT, SF_PENDING_CA, major, &in);
	struct sf_buf b = SF_BUF_INIT;
	if (sf_render_user_data(&in, &b, err) < 0) {
		sf_buf_release(&b);
		return NULL;
	}
	char *t0 = replace_all(sf_buf_cstr(&b), "${", "$${");
	char *t1 = replace_all(t0, SF_PENDING_ENDPOINT, "${eks_cluster.main.endpoint}");
	char *t2 = replace_all(t1, SF_PENDING_CA, "${eks_cluster.main.ca_data}");
	sf_buf_release(&b);
	free(t0);
	free(t1);
	return t2;
}

/* The launch template of group g, wired into its node group: IMDSv2
 * required with the group's hop limit (1 by default, so pods get no token)
 * and the root volume for every group; a gVisor group's also has its
 * image (the given `ami`, checked at plan time, or the baked one of its
 * arch) and its user data for either containerd the image may run: the
 * template keeps the one for the image's recorded version (a baked
 * image's containerd_version, a given image's tag read at plan time).
 * 0, or -1 with a diagnostic. */
static int launch_template(struct cl_lower *l, size_t i, const struct sf_nodegroup *g, const struct sf_pos *gp,
			   json_t *ngc)
{
	int gvisor = g->runtime == SF_RUNTIME_GVISOR;
	json_t *uds = NULL;
	if (gvisor) {
		uds = json_object();
		for (int major = 1; major <= 2; major++) {
			struct sf_err err = SF_ERR_INIT;
			char *ud = user_data(l->cl, g, major, &err), key[4];
			if (!ud) {
				sf_diag_error(l->d, gp, "nodeGroups[%zu] (%s): cannot render user data: %s", i, g->name,
					      err.msg);
				json_decref(uds);
				return -1;
			}
			snprintf(key, sizeof key, "%d", major);
			json_object_set_new(uds, key, json_string(ud));
			free(ud);
		}
	}
	char *lt_addr = xasprintf("aws_launch_template.%s", g->name);
	char *tn = xasprintf("%s-%s", l->cl->name, g->name);
	json_t *ltags = json_deep_copy(l->tags);
	json_object_set_new(ltags, "eks:nodegroup-name", json_string(g->name));
	json_t *ltc = json_pack("{s:s, s:I, s:I, s:o}", "name", tn, "disk_size", (json_int_t)g->disk_size, "hop_limit",
				(json_int_t)g->hop_limit, "tags", ltags);
	json_t *image = NULL;
	if (gvisor) {
		char *ami_addr = xasprintf("aws_gvisor_ami.gvisor_%s", g->arch);
		image = g->ami ? json_string(g->ami) : cl_ref(ami_addr, "id");
		json_object_set(ltc, "image_id", image);
		json_object_set_new(ltc, "user_data_by_containerd", uds);
		uds = NULL;
		if (!g->ami)
			json_object_set_new(ltc, "containerd_version", cl_ref(ami_addr, "containerd_version"));
		free(ami_addr);
	}
	if (gvisor && g->ami) {
		/* a given image is checked before the template uses it */
		const struct sf_node *an = g->node ? sf_node_get(g->node, "ami") : NULL;
		char *where = an ? xasprintf("%s:%d:%d", an->pos.file ? an->pos.file : "", an->pos.line, an->pos.col)
				 : xstrdup(g->name);
		json_object_set_new(ltc, "image_check",
				    json_pack("{s:s, s:s*, s:s}", "arch", g->arch, "gvisor_release", l->cl->gvisor.release,
					      "where", where));
		free(where);
	}
	cl_add(l, "aws_launch_template", g->name, ltc, gp, NULL);
	json_object_set_new(ngc, "launch_template_id", cl_ref(lt_addr, "id"));
	json_object_set_new(ngc, "launch_template_version", cl_ref(lt_addr, "latest_version"));
	if (gvisor) {
		json_object_set(ngc, "launch_template_image_id", image);
		json_object_set_new(ngc, "launch_template_user_data", cl_ref(lt_addr, "user_data"));
	} else {
		json_object_set_new(ngc, "ami_type", json_string(!strcmp(g->arch, "arm64") ? "AL2023_ARM_64_STANDARD"
											   : "AL2023_x86_64_STANDARD"));
	}
	json_decref(image);
	free(tn);
	free(lt_addr);
	json_decref(uds);
	return 0;
}

/* eks_nodegroup.<group> per group in the node subnets (private unless
 * network.nodeSubnets says public), each with its
 * launch template; runc groups on the EKS AL2023 AMI type, gVisor groups
 * on their own image. */
void cl_lower_nodes(struct cl_lower *l)
{
	for (size_t i = 0; i < l->cl->n_groups; i++) {
		const struct sf_nodegroup *g = &l->cl->groups[i];
		const struct sf_pos *gp = g->node ? &g->node->pos : l->pos;
		json_t *ngc = json_pack("{s:o, s:s, s:o, s:O*, s:O*, s:s*, s:I, s:I, s:I, s:O*, s:O*, s:O*}", "cluster_name",
					cl_ref("eks_cluster.main", "name"), "name", g->name, "node_role_arn",
					cl_ref("aws_iam_role.node", "arn"), "subnet_ids", l->node_ids, "instance_types",
					g->instance_types, "capacity_type", g->capacity_type, "min_size",
					(json_int_t)g->min, "max_size", (json_int_t)g->max, "desired_size",
					(json_int_t)g->desired, "labels", g->labels_json, "taints", g->taints_json, "tags",
					l->tags);
		if (g->update_config)
			json_object_set(ngc, "update_config", (json_t *)g->update_config);
		if (launch_template(l, i, g, gp, ngc) < 0) {
			json_decref(ngc);
			continue;
		}
		if (g->runtime != SF_RUNTIME_GVISOR) {
			/* The control plane's version by reference: the group's
			 * version update runs after the control plane's, in the
			 * same apply (EKS's order, and the kubelet skew rule). */
			json_object_set_new(ngc, "version", g->kubernetes_version ? json_string(g->kubernetes_version)
										  : cl_ref("eks_cluster.main", "version"));
			if (g->release_version)
				json_object_set_new(ngc, "release_version", json_string(g->release_version));
		}
		/* after the managed VPC CNI (its pods' network), kube-proxy and
		 * the pod identity agent: an upgrade step moves the control
		 * plane, then the add-ons, then the nodes (cluster_lower_addons.c).
		 * A new group needs them only to exist: EKS puts an add-on's
		 * pods on a node when it joins, minutes after CreateNodegroup,
		 * and the CNI's Pod Identity association rides on CreateAddon,
		 * so the group is created once they have been accepted and
		 * their readiness is waited for alongside it.  An add-on that
		 * fails before it is accepted still keeps the group from being
		 * made.
		 * Nodes need their route out (image pulls, joining the cluster:
		 * the public table, or the private ones through NAT), and the
		 * route must outlive them at teardown, so the dependency orders
		 * both ways. */
		struct sf_rinst *ngi = cl_add(l, "eks_nodegroup", g->name, ngc, gp, NULL);
		sf_rinst_add_accept_dep(ngi, "eks_addon.vpc_cni");
		sf_rinst_add_accept_dep(ngi, "eks_addon.kube_proxy");
		sf_rinst_add_accept_dep(ngi, "eks_addon.pod_identity_agent");
		size_t k;
		json_t *rt;
		json_array_foreach(l->node_routes, k, rt)
			sf_rinst_add_dep(ngi, json_string_value(rt));
	}
}
