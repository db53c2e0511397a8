/* cluster_lower_autoscaler.c - spec.autoscaler: cluster-autoscaler (see
 * cluster_lower.h).
 *
 * What a user of eksctl or the Terraform EKS module installs by hand,
 * made by the spec:
 *   aws_iam_role.autoscaler               <cluster>-autoscaler, trusted by
 *                                         pods.eks.amazonaws.com, with the
 *                                         autoscaler's policy inline
 *   eks_pod_identity_association.autoscaler
 *                                         kube-system/cluster-autoscaler -> that role
 *   k8s_manifest.autoscaler_<kind>        ServiceAccount, ClusterRole, Role,
 *                                         their bindings and the Deployment
 *
 * The policy is the cluster autoscaler's documented AWS policy, narrowed:
 * the Describe calls it needs (Describe actions take no resource scope),
 * eks:DescribeNodegroup (the labels, taints and instance types of a
 * managed group scaled to zero: a gVisor group's sandbox taint and label
 * come from there, so no node-template tags are needed), and the two
 * calls that change capacity only on Auto Scaling groups tagged for this
 * cluster.  EKS tags every managed node group's Auto Scaling group with
 * k8s.io/cluster-autoscaler/enabled=true and
 * k8s.io/cluster-autoscaler/<cluster>=owned, which is also what
 * --node-group-auto-discovery finds them by.  Inline rather than a
 * managed policy: it exists for this role only and goes with it
 * (resources/aws_iam_role.c).
 *
 * The role reaches only the autoscaler's pods (Pod Identity), not the
 * node role every pod on a node could reach.  Its pods run on a runc
 * group: the gVisor groups carry the sandbox taint, which it does not
 * tolerate, and a required node affinity keeps it off any node with the
 * sandbox label as well.  The container runs as the restricted Pod
 * Security profile asks (non-root, read-only root file system, no
 * privilege escalation, every capability dropped, RuntimeDefault
 * seccomp).  AWS_REGION is set: pods cannot ask the instance metadata
 * service (hop limit 1).
 *
 * Objects are built as JSON here, never from text with the cluster's name
 * spliced in: a name is one string value wherever it goes (one argument,
 * one tag key), whatever characters it holds.
 *
 * Versions: the image is the one of the cluster's minor version
 * (resources/eks_versions.c), because the autoscaler simulates that
 * version's scheduler.  The Deployment waits for the control plane and
 * the add-ons (its conn refers to the cluster; the add-ons explicitly), and
 * node groups do not wait for it, so an upgrade step moves it with the
 * add-ons, before the node groups roll (cluster_upgrade.c says so).  At
 * creation its rollout completes once a runc group's nodes join, which
 * the node groups do alongside.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster_lower.h"
#include "provisioner/node/render.h"
#include "resources/eks_versions.h"
#include "util.h"

#define CA_NAME "cluster-autoscaler"
#define CA_NS "kube-system"

json_t *sf_cluster_autoscaler_policy(const char *cluster)
{
	char *owned = xasprintf("aws:ResourceTag/k8s.io/cluster-autoscaler/%s", cluster);
	json_t *p = json_pack(
		"{s:s, s:[{s:s, s:s, s:[s, s, s, s, s, s, s, s, s, s], s:s},"
		" {s:s, s:s, s:[s, s], s:s, s:{s:{s:s, s:s}}}]}",
		"Version", "2012-10-17", "Statement", "Sid", "Discover", "Effect", "Allow", "Action",
		"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
		"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
		"autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
		"ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
		"eks:DescribeNodegroup", "Resource", "*", "Sid", "ScaleThisCluster", "Effect", "Allow", "Action",
		"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup", "Resource", "*",
		"Condition", "StringEquals", "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled", "true", owned, "owned");
	free(owned);
	return p;
}

static json_t *meta(const char *name, const char *ns)
{
	json_t *m = json_pack("{s:s, s:{s:s, s:s}}", "name", name, "labels", "app.kubernetes.io/name", CA_NAME,
			      "app.kubernetes.io/managed-by", "secfaas");
	if (ns)
		json_object_set_new(m, "namespace", json_string(ns));
	return m;
}

/* One RBAC rule: API groups, resources, verbs (NULL-terminated lists in
 * one array: groups, NULL, resources, NULL, verbs, NULL), and the names
 * it is limited to (NULL-terminated, may be NULL). */
static json_t *rule(const char *const *v, const char *const *names)
{
	json_t *r = json_object();
	static const char *const keys[] = {"apiGroups", "resources", "verbs"};
	for (int k = 0; k < 3; k++, v++) {
		json_t *a = json_array();
		for (; *v; v++)
			json_array_append_new(a, json_string(*v));
		json_object_set_new(r, keys[k], a);
	}
	if (names) {
		json_t *a = json_array();
		for (; *names; names++)
			json_array_append_new(a, json_string(*names));
		json_object_set_new(r, "resourceNames", a);
	}
	return r;
}

#define L(...) (const char *const[]){__VA_ARGS__}

/* The upstream chart's ClusterRole rules. */
static json_t *cluster_rules(void)
{
	const char *const *self = L(CA_NAME, NULL);
	json_t *r = json_array();
	json_array_append_new(r, rule(L("", NULL, "events", "endpoints", NULL, "create", "patch", NULL), NULL));
	json_array_append_new(r, rule(L("", NULL, "pods/eviction", NULL, "create", NULL), NULL));
	json_array_append_new(r, rule(L("", NULL, "pods/status", NULL, "update", NULL), NULL));
	json_array_append_new(r, rule(L("", NULL, "endpoints", NULL, "get", "update", NULL), self));
	json_array_append_new(r,
			      rule(L("", NULL, "nodes", NULL, "watch", "list", "create", "delete", "get", "update", NULL), NULL));
	json_array_append_new(r, rule(L("", NULL, "namespaces", "pods", "services", "replicationcontrollers",
					"persistentvolumeclaims", "persistentvolumes", NULL, "watch", "list", "get", NULL),
				      NULL));
	json_array_append_new(r, rule(L("batch", NULL, "jobs", "cronjobs", NULL, "watch", "list", "get", NULL), NULL));
	json_array_append_new(r, rule(L("batch", "extensions", NULL, "jobs", NULL, "get", "list", "patch", "watch", NULL),
				      NULL));
	json_array_append_new(r, rule(L("extensions", NULL, "replicasets", "daemonsets", NULL, "watch", "list", "get",
					NULL),
				      NULL));
	json_array_append_new(r, rule(L("policy", NULL, "poddisruptionbudgets", NULL, "watch", "list", NULL), NULL));
	json_array_append_new(r, rule(L("apps", NULL, "daemonsets", "replicasets", "statefulsets", NULL, "watch", "list",
					"get", NULL),
				      NULL));
	json_array_append_new(r, rule(L("storage.k8s.io", NULL, "storageclasses", "csinodes", "csidrivers",
					"csistoragecapacities", "volumeattachments", NULL, "watch", "list", "get", NULL),
				      NULL));
	json_array_append_new(r, rule(L("", NULL, "configmaps", NULL, "list", "watch", "get", NULL), NULL));
	json_array_append_new(r, rule(L("coordination.k8s.io", NULL, "leases", NULL, "create", NULL), NULL));
	json_array_append_new(r, rule(L("coordination.k8s.io", NULL, "leases", NULL, "get", "update", NULL), self));
	return r;
}

/* The upstream chart's Role in kube-system: its status ConfigMap. */
static json_t *ns_rules(void)
{
	json_t *r = json_array();
	json_array_append_new(r, rule(L("", NULL, "configmaps", NULL, "create", NULL), NULL));
	json_array_append_new(r, rule(L("", NULL, "configmaps", NULL, "delete", "get", "update", NULL),
				      L("cluster-autoscaler-status", NULL)));
	return r;
}

static json_t *binding(const char *kind, const char *role_kind, const char *ns)
{
	json_t *b = json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}", "apiVersion",
			      "rbac.authorization.k8s.io/v1", "kind", kind, "metadata", meta(CA_NAME, ns), "roleRef",
			      "apiGroup", "rbac.authorization.k8s.io", "kind", role_kind, "name", CA_NAME, "subjects",
			      "kind", "ServiceAccount", "name", CA_NAME, "namespace", CA_NS);
	return b;
}

static json_t *deployment(const char *cluster, const char *region, const char *image)
{
	char *discovery =
		xasprintf("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/%s",
			  cluster);
	json_t *args = json_pack("[s, s, s, s, s, s, s]", "./cluster-autoscaler", "--cloud-provider=aws",
				 "--namespace=" CA_NS, discovery, "--balance-similar-node-groups",
				 "--skip-nodes-with-system-pods=false", "--expander=least-waste");
	free(discovery);
	json_t *csc = json_pack("{s:b, s:b, s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
				"runAsNonRoot", 1, "capabilities", "drop", "ALL");
	json_t *res = json_pack("{s:{s:s, s:s}, s:{s:s}}", "requests", "cpu", "100m", "memory", "600Mi", "limits",
				"memory", "600Mi");
	json_t *container = json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:s}], s:o, s:o, s:[{s:s, s:i, s:s}],"
				      " s:{s:{s:s, s:i}}}",
				      "name", CA_NAME, "image", image, "imagePullPolicy", "IfNotPresent", "command", args,
				      "env", "name", "AWS_REGION", "value", region ? region : "", "resources", res, "securityContext",
				      csc, "ports", "name", "metrics", "containerPort", 8085, "protocol", "TCP",
				      "livenessProbe", "httpGet", "path", "/health-check", "port", 8085);
	/* never on a node of a gVisor group: those carry the sandbox label */
	json_t *affinity = json_pack("{s:{s:{s:[{s:[{s:s, s:s}]}]}}}", "nodeAffinity",
				     "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
				     "matchExpressions", "key", SF_SANDBOX_KEY, "operator", "DoesNotExist");
	json_t *psc = json_pack("{s:b, s:i, s:i, s:i, s:{s:s}}", "runAsNonRoot", 1, "runAsUser", 65534, "runAsGroup", 65534,
				"fsGroup", 65534, "seccompProfile", "type", "RuntimeDefault");
	json_t *pod = json_pack("{s:s, s:s, s:b, s:o, s:o, s:[o]}", "serviceAccountName", CA_NAME, "priorityClassName",
				"system-cluster-critical", "automountServiceAccountToken", 1, "securityContext", psc,
				"affinity", affinity, "containers", container);
	return json_pack("{s:s, s:s, s:o, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:o}}}", "apiVersion", "apps/v1", "kind",
			 "Deployment", "metadata", meta(CA_NAME, CA_NS), "spec", "replicas", 1, "selector", "matchLabels",
			 "app.kubernetes.io/name", CA_NAME, "template", "metadata", "labels", "app.kubernetes.io/name",
			 CA_NAME, "spec", pod);
}

json_t *sf_cluster_autoscaler_objects(const char *cluster, const char *region, const char *image)
{
	json_t *sa = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata",
			       meta(CA_NAME, CA_NS));
	json_t *cr = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "rbac.authorization.k8s.io/v1", "kind", "ClusterRole",
			       "metadata", meta(CA_NAME, NULL), "rules", cluster_rules());
	json_t *r = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "rbac.authorization.k8s.io/v1", "kind", "Role",
			      "metadata", meta(CA_NAME, CA_NS), "rules", ns_rules());
	return json_pack("[o, o, o, o, o, o]", sa, cr, binding("ClusterRoleBinding", "ClusterRole", NULL), r,
			 binding("RoleBinding", "Role", CA_NS), deployment(cluster, region, image));
}

void cl_lower_autoscaler(struct cl_lower *l)
{
	const struct sf_cluster *cl = l->cl;
	if (!cl->autoscaler)
		return;
	const char *image = sf_eks_autoscaler_image(cl->kubernetes_version);
	const struct sf_node *an = sf_node_get(sf_node_get(cl->doc->root, "spec"), "autoscaler");
	const struct sf_pos *pos = an ? &an->pos : l->pos;
	if (!image) {
		sf_diag_error(l->d, pos, "spec.autoscaler: no cluster autoscaler image is known for Kubernetes %s",
			      cl->kubernetes_version ? cl->kubernetes_version : "?");
		return;
	}
	char *n = xasprintf("%s-autoscaler", cl->name);
	cl_add(l, "aws_iam_role", "autoscaler",
	       json_pack("{s:s, s:s, s:{s:o}, s:O*}", "name", n, "service", "pods.eks.amazonaws.com", "inline_policies",
			 CA_NAME, sf_cluster_autoscaler_policy(cl->name), "tags", l->tags),
	       pos, NULL);
	free(n);
	cl_add(l, "eks_pod_identity_association", "autoscaler",
	       json_pack("{s:o, s:s, s:s, s:o, s:O*}", "cluster_name", cl_ref("eks_cluster.main", "name"), "namespace",
			 CA_NS, "service_account", CA_NAME, "role_arn", cl_ref("aws_iam_role.autoscaler", "arn"), "tags",
			 l->tags),
	       pos, NULL);
	json_t *objs = sf_cluster_autoscaler_objects(cl->name, cl->region, image);
	static const char *const names[] = {"autoscaler_serviceaccount", "autoscaler_clusterrole",
					    "autoscaler_clusterrolebinding", "autoscaler_role",
					    "autoscaler_rolebinding", "autoscaler_deployment"};
	size_t i;
	json_t *o;
	json_array_foreach(objs, i, o)
	{
		json_t *a = json_pack("{s:o, s:o, s:o, s:O}", "endpoint", cl_ref("eks_cluster.main", "endpoint"), "ca_data",
				      cl_ref("eks_cluster.main", "ca_data"), "cluster_name",
				      cl_ref("eks_cluster.main", "name"), "manifest", o);
		struct sf_rinst *r = cl_add(l, "k8s_manifest", names[i], a, pos, NULL);
		if (!r || i + 1 < json_array_size(objs))
			continue;
		/* the Deployment: its pods are admitted once the association,
		 * the account and its rights exist, and get credentials from
		 * the pod identity agent; with the add-ons in an upgrade step */
		sf_rinst_add_dep(r, "eks_pod_identity_association.autoscaler");
		for (size_t k = 0; k + 1 < sizeof names / sizeof names[0]; k++) {
			char *addr = xasprintf("k8s_manifest.%s", names[k]);
			sf_rinst_add_dep(r, addr);
			free(addr);
		}
		sf_rinst_add_dep(r, "eks_addon.pod_identity_agent");
		sf_rinst_add_dep(r, "eks_addon.vpc_cni");
		sf_rinst_add_dep(r, "eks_addon.kube_proxy");
	}
	json_decref(objs);
}
