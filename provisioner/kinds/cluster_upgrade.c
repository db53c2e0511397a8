/*
 * cluster_upgrade.c - a Cluster's upgrade step as numbered steps in the
 * plan (see cluster.h, sf_cluster_upgrade_steps).
 *
 * A change of kubernetesVersion is one step of one minor version, applied
 * in EKS's order: the control plane, then the add-ons (and the cluster
 * autoscaler, whose version follows the control plane's), then every node
 * group, then coredns (its pods run on the nodes, which move first).  The
 * plan's graph already holds that order for updates (cluster_lower_addons.c:
 * coredns's dependency on the first node group orders updates only;
 * cluster_lower_nodes.c); this
 * says it in words above the changes, naming only what the plan really
 * changes, so the operator sees the sequence apply will walk.
 */
#include <string.h>

#include "provisioner/engine/plan.h"
#include "provisioner/kinds/cluster.h"

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int changes(const struct sf_change *c)
{
	return c->action == SF_ACT_UPDATE || c->action == SF_ACT_REPLACE || c->action == SF_ACT_REPLACE_CBD;
}

static int has_prefix(const char *s, const char *p)
{
	return s && !strncmp(s, p, strlen(p));
}

/* The changes of one kind of object, one line each under step n: `what`
 * names the step, `pick` chooses the changes and `line` says what each
 * does.  Returns n + 1 when the step has changes, else n. */
typedef int (*pick_fn)(const struct sf_change *c);
typedef void (*line_fn)(FILE *out, const struct sf_change *c, const char *to);

static int step(FILE *out, const struct sf_plan *plan, int n, const char *what, pick_fn pick, line_fn line,
		const char *to)
{
	int any = 0;
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *c = &plan->v[i];
		if (!changes(c) || !pick(c))
			continue;
		if (!any)
			fprintf(out, "  %d. %s\n", n, what);
		any = 1;
		fprintf(out, "       ");
		line(out, c, to);
		fprintf(out, "\n");
	}
	return any ? n + 1 : n;
}

static int is_image(const struct sf_change *c)
{
	return has_prefix(c->address, "aws_gvisor_ami.");
}

/* The cluster autoscaler's Deployment moves with the add-ons: its image
 * follows the control plane's minor (cluster_lower_autoscaler.c). */
#define AUTOSCALER "k8s_manifest.autoscaler_deployment"

static int is_addon(const struct sf_change *c)
{
	return (has_prefix(c->address, "eks_addon.") && strcmp(c->address, "eks_addon.coredns")) ||
	       !strcmp(c->address, AUTOSCALER);
}

static int is_group(const struct sf_change *c)
{
	return has_prefix(c->address, "eks_nodegroup.");
}

static int is_coredns(const struct sf_change *c)
{
	return !strcmp(c->address, "eks_addon.coredns");
}

static void image_line(FILE *out, const struct sf_change *c, const char *to)
{
	fprintf(out, "%s: the gVisor image for Kubernetes %s, baked while the control plane upgrades", c->address, to);
}

/* The image of a Deployment's first container (borrowed), or NULL. */
static const char *image_of(const json_t *attrs)
{
	const json_t *pod = json_object_get(
		json_object_get(json_object_get(json_object_get(attrs, "manifest"), "spec"), "template"), "spec");
	return str(json_array_get(json_object_get(pod, "containers"), 0), "image");
}

static void addon_line(FILE *out, const struct sf_change *c, const char *to)
{
	if (!strcmp(c->address, AUTOSCALER)) {
		const char *img = image_of(c->after);
		fprintf(out, "%s: the cluster autoscaler for Kubernetes %s (%s)", c->address, to, img ? img : "?");
		return;
	}
	const char *pin = str(c->after, "version");
	if (pin)
		fprintf(out, "%s: pinned to %s", c->address, pin);
	else
		fprintf(out, "%s: to EKS's default version for Kubernetes %s", c->address, to);
}

static void group_line(FILE *out, const struct sf_change *c, const char *to)
{
	const char *from = str(c->before, "version"), *want = str(c->after, "version");
	if (json_object_get(c->after, "launch_template_image_id") || !json_object_get(c->after, "version"))
		fprintf(out, "%s: gVisor, rolls onto a new launch template version with the new image", c->address);
	else if (from && want && strcmp(from, want))
		fprintf(out, "%s: runc, version %s -> %s (EKS's newest AMI release unless releaseVersion pins one)",
			c->address, from, want);
	else if (!want)
		fprintf(out, "%s: runc, version -> %s (EKS's newest AMI release unless releaseVersion pins one)", c->address,
			to);
	else
		fprintf(out, "%s: runc, stays on %s (pinned)", c->address, want);
}

int sf_cluster_upgrade_steps(const struct sf_plan *plan, FILE *out)
{
	const struct sf_change *cp = NULL;
	for (size_t i = 0; i < plan->n && !cp; i++)
		if (!strcmp(plan->v[i].address, "eks_cluster.main") && plan->v[i].action == SF_ACT_UPDATE)
			cp = &plan->v[i];
	const char *from = cp ? str(cp->before, "version") : NULL, *to = cp ? str(cp->after, "version") : NULL;
	if (!from || !to || !strcmp(from, to))
		return 0;
	fprintf(out, "Upgrade of Kubernetes %s -> %s, applied in this order:\n", from, to);
	fprintf(out, "  1. control plane\n       eks_cluster.main: version %s -> %s\n", from, to);
	int n = step(out, plan, 2, "the gVisor images (alongside step 1)", is_image, image_line, to);
	n = step(out, plan, n, "add-ons, once the control plane runs the new version", is_addon, addon_line, to);
	n = step(out, plan, n, "node groups, once the add-ons are updated (each with its updateConfig)", is_group,
		 group_line, to);
	step(out, plan, n, "coredns, after the first node group (its pods need a node)", is_coredns, addon_line, to);
	fprintf(out, "\n");
	return 1;
}
