/*
 * test_aws_types.c - the Cluster lowering (which AWS resources, wired how,
 * so that nothing serialises needlessly) and the AWS resource types over
 * recorded replies (aws/replay): the adopt-by-token path of a resumed
 * create sends no second Create call, a fresh create tags the token, the
 * content-addressed AMI is reused without RunInstances, a given `ami:` is
 * checked with its spec position, and the shared helpers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/apply.h"
#include "provisioner/engine/config.h"
#include "provisioner/engine/plan.h"
#include "provisioner/kinds/cluster.h"
#include "aws/pollshare.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/provider.h"
#include "resources/providers.h"
#include "resources/types.h"
#include "resources/types_aws.h"
#include "t.h"
#include "tests/aws/fixture.h"

static const char *SPEC_MIN =
	"apiVersion: secfaas.dev/v1alpha1\n"
	"kind: Cluster\n"
	"metadata: {name: demo, region: eu-west-1, tags: {team: t}}\n"
	"spec:\n"
	"  kubernetesVersion: \"1.31\"\n"
	"  network: {cidr: 10.40.0.0/16, availabilityZones: 3}\n"
	"  gvisor: {release: \"20260817.0\"}\n"
	"  nodeGroups:\n"
	"    - {name: system, instanceTypes: [m6i.large], scaling: {min: 2, max: 4}}\n"
	"    - name: sandbox\n"
	"      runtime: gvisor\n"
	"      instanceTypes: [m6i.xlarge]\n"
	"      scaling: {min: 1, max: 10, desired: 2}\n";

/* Lower a spec text; *set must be released by the caller. */
static int lower(const char *text, struct sf_specset *set, struct sf_config *c, struct sf_diags *d)
{
	char *p = xasprintf("%s/c%d.yaml", t_tmpdir(), rand());
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	sf_spec_load_path(set, p, d);
	int rc = d->nerrors ? -1 : sf_config_build(c, set, NULL, d);
	free(p);
	return rc;
}

static int has_dep(const struct sf_config *c, const char *addr, const char *dep)
{
	const struct sf_rinst *r = sf_config_find(c, addr);
	for (size_t i = 0; r && i < r->ndeps; i++)
		if (!strcmp(r->deps[i], dep))
			return 1;
	return 0;
}

/* Transitive dependency? */
static int depends(const struct sf_config *c, const char *addr, const char *dep, int depth)
{
	const struct sf_rinst *r = sf_config_find(c, addr);
	if (!r || depth > 64)
		return 0;
	for (size_t i = 0; i < r->ndeps; i++)
		if (!strcmp(r->deps[i], dep) || depends(c, r->deps[i], dep, depth + 1))
			return 1;
	return 0;
}

/* Does a create of addr wait, directly or through other creates, for dep
 * to be ready (not only accepted, and not an update-only order)? */
static int create_waits(const struct sf_config *c, const char *addr, const char *dep, int depth)
{
	const struct sf_rinst *r = sf_config_find(c, addr);
	if (!r || depth > 64)
		return 0;
	for (size_t i = 0; i < r->ndeps; i++) {
		const char *d = r->deps[i];
		if (sf_strs_has(&r->update_only, d) || sf_strs_has(&r->accept_only, d))
			continue;
		if (!strcmp(d, dep) || create_waits(c, d, dep, depth + 1))
			return 1;
	}
	return 0;
}

static const char *attr(const struct sf_config *c, const char *addr, const char *k)
{
	const struct sf_rinst *r = sf_config_find(c, addr);
	return r ? json_string_value(json_object_get(r->config, k)) : NULL;
}

static const json_t *manifest_of(const struct sf_config *c, const char *addr)
{
	const struct sf_rinst *r = sf_config_find(c, addr);
	return r ? json_object_get(r->config, "manifest") : NULL;
}

static int has_string(const json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (json_string_value(json_array_get(a, i)) && !strcmp(json_string_value(json_array_get(a, i)), s))
			return 1;
	return 0;
}

/* spec.autoscaler: cluster-autoscaler lowers into its own role (trusted by
 * Pod Identity, the documented policy with changes scoped to this
 * cluster's tagged groups), the association for kube-system's
 * cluster-autoscaler account, and its objects: the Deployment on the image
 * of the cluster's minor, with the discovery flags, restricted, kept off
 * gVisor nodes, moved with the add-ons in an upgrade step. */
T_TEST(autoscaler_lowers_into_role_association_and_objects)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(lower(SPEC_MIN, &set, &c, &d), 0);
	T_OK(!sf_config_find(&c, "aws_iam_role.autoscaler"));
	T_OK(!sf_config_find(&c, "eks_pod_identity_association.autoscaler"));
	T_OK(!sf_config_find(&c, "k8s_manifest.autoscaler_deployment"));
	sf_config_release(&c);
	sf_diags_release(&d);
	sf_specset_release(&set);

	char *spec = xasprintf("%s  autoscaler: cluster-autoscaler\n", SPEC_MIN);
	T_EQ(lower(spec, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	T_STREQ(attr(&c, "aws_iam_role.autoscaler", "name"), "demo-autoscaler");
	T_STREQ(attr(&c, "aws_iam_role.autoscaler", "service"), "pods.eks.amazonaws.com");
	const json_t *role = sf_config_find(&c, "aws_iam_role.autoscaler")->config;
	T_OK(!json_object_get(role, "policy_arns"));
	const json_t *pol = json_object_get(json_object_get(role, "inline_policies"), "cluster-autoscaler");
	const json_t *sts = json_object_get(pol, "Statement");
	T_EQ(json_array_size(sts), 2);
	const json_t *discover = json_object_get(json_array_get(sts, 0), "Action");
	static const char *const reads[] = {"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
					    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeTags",
					    "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstanceTypes",
					    "ec2:DescribeImages", "ec2:GetInstanceTypesFromInstanceRequirements",
					    "eks:DescribeNodegroup", NULL};
	for (int i = 0; reads[i]; i++)
		if (!has_string(discover, reads[i]))
			T_FAILF("policy lacks %s", reads[i]);
	for (size_t i = 0; i < json_array_size(discover); i++) /* nothing that changes anything unscoped */
		T_OK(strstr(json_string_value(json_array_get(discover, i)), ":Describe") ||
		     strstr(json_string_value(json_array_get(discover, i)), ":Get"));
	const json_t *scale = json_array_get(sts, 1);
	T_OK(has_string(json_object_get(scale, "Action"), "autoscaling:SetDesiredCapacity"));
	T_OK(has_string(json_object_get(scale, "Action"), "autoscaling:TerminateInstanceInAutoScalingGroup"));
	T_EQ(json_array_size(json_object_get(scale, "Action")), 2);
	const json_t *cond = json_object_get(json_object_get(scale, "Condition"), "StringEquals");
	T_STREQ(json_string_value(json_object_get(cond, "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled")), "true");
	T_STREQ(json_string_value(json_object_get(cond, "aws:ResourceTag/k8s.io/cluster-autoscaler/demo")), "owned");
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_rt_aws_iam_role.validate(role, &e), 0); /* within IAM's limits */
	/* the association */
	T_STREQ(attr(&c, "eks_pod_identity_association.autoscaler", "namespace"), "kube-system");
	T_STREQ(attr(&c, "eks_pod_identity_association.autoscaler", "service_account"), "cluster-autoscaler");
	T_STREQ(attr(&c, "eks_pod_identity_association.autoscaler", "role_arn"), "${aws_iam_role.autoscaler.arn}");
	T_STREQ(attr(&c, "eks_pod_identity_association.autoscaler", "cluster_name"), "${eks_cluster.main.name}");
	/* the objects */
	static const char *const kinds[][2] = {{"autoscaler_serviceaccount", "ServiceAccount"},
					       {"autoscaler_clusterrole", "ClusterRole"},
					       {"autoscaler_clusterrolebinding", "ClusterRoleBinding"},
					       {"autoscaler_role", "Role"},
					       {"autoscaler_rolebinding", "RoleBinding"},
					       {"autoscaler_deployment", "Deployment"}};
	for (size_t i = 0; i < 6; i++) {
		char *a = xasprintf("k8s_manifest.%s", kinds[i][0]);
		const json_t *m = manifest_of(&c, a);
		T_STREQ(json_string_value(json_object_get(m, "kind")), kinds[i][1]);
		T_STREQ(json_string_value(json_object_get(json_object_get(m, "metadata"), "name")), "cluster-autoscaler");
		T_STREQ(attr(&c, a, "endpoint"), "${eks_cluster.main.endpoint}");
		free(a);
	}
	const json_t *dep = manifest_of(&c, "k8s_manifest.autoscaler_deployment");
	const json_t *pod = json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
	const json_t *ctr = json_array_get(json_object_get(pod, "containers"), 0);
	T_STREQ(json_string_value(json_object_get(ctr, "image")), "registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.4");
	T_STREQ(json_string_value(json_object_get(pod, "serviceAccountName")), "cluster-autoscaler");
	const json_t *cmd = json_object_get(ctr, "command");
	static const char *const flags[] = {
		"--cloud-provider=aws",
		"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/demo",
		"--balance-similar-node-groups", "--skip-nodes-with-system-pods=false", NULL};
	for (int i = 0; flags[i]; i++)
		if (!has_string(cmd, flags[i]))
			T_FAILF("command lacks %s", flags[i]);
	const json_t *csc = json_object_get(ctr, "securityContext");
	T_OK(json_is_false(json_object_get(csc, "allowPrivilegeEscalation")));
	T_OK(json_is_true(json_object_get(csc, "readOnlyRootFilesystem")));
	T_OK(json_is_true(json_object_get(csc, "runAsNonRoot")));
	T_OK(has_string(json_object_get(json_object_get(csc, "capabilities"), "drop"), "ALL"));
	T_OK(json_is_true(json_object_get(json_object_get(pod, "securityContext"), "runAsNonRoot")));
	T_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(pod, "securityContext"), "seccompProfile"),
						  "type")),
		"RuntimeDefault");
	T_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(ctr, "env"), 0), "value")), "eu-west-1");
	/* never on a gVisor node: no toleration of the sandbox taint, and the
	 * sandbox label must be absent */
	T_OK(!json_object_get(pod, "tolerations"));
	T_OK(!json_object_get(pod, "nodeSelector"));
	const json_t *expr = json_array_get(
		json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(pod, "affinity"),
											      "nodeAffinity"),
									       "requiredDuringSchedulingIgnoredDuringExecution"),
							       "nodeSelectorTerms"),
					       0),
				"matchExpressions"),
		0);
	T_STREQ(json_string_value(json_object_get(expr, "key")), "secfaas.dev/sandbox");
	T_STREQ(json_string_value(json_object_get(expr, "operator")), "DoesNotExist");
	/* order: pods admitted after the association and with their rights;
	 * in an upgrade, after the add-ons and before (not after) the groups */
	T_OK(has_dep(&c, "k8s_manifest.autoscaler_deployment", "eks_pod_identity_association.autoscaler"));
	T_OK(has_dep(&c, "k8s_manifest.autoscaler_deployment", "k8s_manifest.autoscaler_rolebinding"));
	T_OK(has_dep(&c, "k8s_manifest.autoscaler_deployment", "eks_addon.pod_identity_agent"));
	T_OK(has_dep(&c, "k8s_manifest.autoscaler_deployment", "eks_addon.kube_proxy"));
	T_OK(depends(&c, "k8s_manifest.autoscaler_deployment", "eks_cluster.main", 0));
	T_OK(!depends(&c, "k8s_manifest.autoscaler_deployment", "eks_nodegroup.system", 0));
	T_OK(!depends(&c, "eks_nodegroup.system", "k8s_manifest.autoscaler_deployment", 0));
	T_OK(depends(&c, "eks_pod_identity_association.autoscaler", "aws_iam_role.autoscaler", 0));
	sf_config_release(&c);
	sf_diags_release(&d);
	sf_specset_release(&set);
	free(spec);

	/* the next minor: the image of that minor, from the one table */
	spec = xasprintf("%s  autoscaler: cluster-autoscaler\n", SPEC_MIN);
	char *v = strstr(spec, "\"1.31\"");
	memcpy(v, "\"1.32\"", 6);
	T_EQ(lower(spec, &set, &c, &d), 0);
	dep = manifest_of(&c, "k8s_manifest.autoscaler_deployment");
	ctr = json_array_get(
		json_object_get(json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec"), "containers"),
		0);
	T_STREQ(json_string_value(json_object_get(ctr, "image")), "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.5");
	sf_config_release(&c);
	sf_diags_release(&d);
	sf_specset_release(&set);
	free(spec);
}

/* A hostile cluster name (as a module or a generated spec might pass it
 * before validation) is one string value wherever it goes: it cannot add
 * fields to the Deployment or statements to the policy. */
T_TEST(autoscaler_objects_take_a_hostile_name_as_one_value)
{
	const char *evil = "x\",\"hostPID\":true,\"a\":\"\n      hostNetwork: true\n- --v=9";
	json_t *objs = sf_cluster_autoscaler_objects(evil, "eu-west-1\"\n  privileged: true", "img:1");
	T_EQ(json_array_size(objs), 6);
	const json_t *dep = json_array_get(objs, 5);
	const json_t *pod = json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
	T_OK(!json_object_get(pod, "hostPID"));
	T_OK(!json_object_get(pod, "hostNetwork"));
	T_EQ(json_object_size(pod), 6);
	const json_t *ctr = json_array_get(json_object_get(pod, "containers"), 0);
	T_EQ(json_object_size(ctr), 9);
	T_OK(!json_object_get(ctr, "privileged"));
	const json_t *cmd = json_object_get(ctr, "command");
	T_EQ(json_array_size(cmd), 7);
	char *want = xasprintf("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/%s",
			       evil);
	T_OK(has_string(cmd, want));
	T_OK(!has_string(cmd, "--v=9"));
	free(want);
	json_decref(objs);
	json_t *pol = sf_cluster_autoscaler_policy(evil);
	T_EQ(json_array_size(json_object_get(pol, "Statement")), 2);
	const json_t *cond = json_object_get(json_object_get(json_array_get(json_object_get(pol, "Statement"), 1), "Condition"),
					     "StringEquals");
	T_EQ(json_object_size(cond), 2);
	json_decref(pol);
}

T_TEST(lowering_builds_the_graph)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(lower(SPEC_MIN, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	static const char *const want[] = {
		"aws_iam_role.cluster", "aws_iam_role.node", "aws_iam_role.ami_builder", "aws_iam_instance_profile.ami_builder",
		"aws_vpc.main", "aws_subnet.public_a", "aws_subnet.public_c", "aws_subnet.private_b",
		"aws_internet_gateway.main", "aws_route_table.public", "aws_route_table.private",
		"aws_security_group.cluster", "eks_cluster.main", "aws_gvisor_ami.gvisor_x86_64",
		"aws_launch_template.sandbox", "eks_nodegroup.sandbox", "eks_nodegroup.system", NULL};
	for (int i = 0; want[i]; i++)
		if (!sf_config_find(&c, want[i]))
			T_FAILF("missing %s", want[i]);
	/* runc: the stock AMI type, through a template of its own (no image, no user data) */
	T_STREQ(attr(&c, "eks_nodegroup.system", "ami_type"), "AL2023_x86_64_STANDARD");
	T_OK(has_dep(&c, "eks_nodegroup.system", "aws_launch_template.system"));
	T_OK(!attr(&c, "aws_launch_template.system", "image_id"));
	T_OK(!attr(&c, "aws_launch_template.system", "user_data"));
	T_OK(!json_object_get(sf_config_find(&c, "eks_nodegroup.system")->config, "disk_size"));
	T_OK(!attr(&c, "eks_nodegroup.sandbox", "ami_type")); /* custom AMI */
	/* add-ons: vpc-cni with its network policy agent, before the nodes; coredns after one */
	T_STREQ(json_string_value(json_object_get(
			json_object_get(sf_config_find(&c, "eks_addon.vpc_cni")->config, "configuration_values"),
			"enableNetworkPolicy")),
		"true");
	T_STREQ(attr(&c, "eks_addon.vpc_cni", "kubernetes_version"), "1.31");
	T_OK(sf_config_find(&c, "eks_addon.kube_proxy") && sf_config_find(&c, "eks_addon.pod_identity_agent"));
	T_OK(has_dep(&c, "eks_nodegroup.system", "eks_addon.vpc_cni"));
	T_OK(has_dep(&c, "eks_nodegroup.sandbox", "eks_addon.vpc_cni"));
	/* an upgrade step: control plane, then add-ons, then node groups */
	T_OK(has_dep(&c, "eks_nodegroup.system", "eks_addon.kube_proxy"));
	T_OK(has_dep(&c, "eks_nodegroup.sandbox", "eks_addon.pod_identity_agent"));
	T_OK(has_dep(&c, "eks_addon.coredns", "eks_nodegroup.system"));
	/* coredns: created with the other add-ons, alongside the node groups
	 * (EKS reports it DEGRADED until a node runs it); on an upgrade it
	 * still moves after the first node group */
	const struct sf_rinst *dns = sf_config_find(&c, "eks_addon.coredns"),
			      *ng = sf_config_find(&c, "eks_nodegroup.system");
	struct sf_change dch = {.address = dns->address, .action = SF_ACT_CREATE, .deps = dns->deps, .ndeps = dns->ndeps,
				.update_only = dns->update_only, .accept_only = dns->accept_only};
	struct sf_change nch = {.address = ng->address, .action = SF_ACT_CREATE, .deps = ng->deps, .ndeps = ng->ndeps,
				.update_only = ng->update_only, .accept_only = ng->accept_only};
	T_OK(!sf_change_waits_for(&dch, "eks_nodegroup.system"));
	T_OK(sf_change_waits_for(&dch, "eks_cluster.main"));
	T_OK(sf_change_waits_for(&nch, "eks_addon.vpc_cni"));
	T_OK(sf_change_waits_for(&nch, "eks_addon.pod_identity_agent"));
	/* a new group: once those add-ons exist, not once they are ACTIVE */
	T_OK(sf_change_accepts(&nch, "eks_addon.vpc_cni"));
	T_OK(sf_change_accepts(&nch, "eks_addon.kube_proxy"));
	T_OK(sf_change_accepts(&nch, "eks_addon.pod_identity_agent"));
	T_OK(!sf_change_accepts(&nch, "eks_cluster.main"));
	nch.action = SF_ACT_UPDATE;
	T_OK(!sf_change_accepts(&nch, "eks_addon.vpc_cni"));
	dch.action = SF_ACT_UPDATE;
	T_OK(sf_change_waits_for(&dch, "eks_nodegroup.system"));
	dch.action = SF_ACT_REPLACE;
	T_OK(sf_change_waits_for(&dch, "eks_nodegroup.system"));
	/* the VPC CNI's permissions through Pod Identity, not the node role;
	 * the node role gives them up only after the add-on holds them */
	const json_t *nodepol = json_object_get(sf_config_find(&c, "aws_iam_role.node")->config, "policy_arns");
	for (size_t i = 0; i < json_array_size(nodepol); i++)
		T_OK(strcmp(json_string_value(json_array_get(nodepol, i)), "AmazonEKS_CNI_Policy") != 0);
	T_EQ(json_array_size(nodepol), 3);
	T_STREQ(attr(&c, "aws_iam_role.vpc_cni", "service"), "pods.eks.amazonaws.com");
	T_STREQ(attr(&c, "aws_iam_role.vpc_cni", "name"), "demo-vpc-cni");
	T_STREQ(json_string_value(json_array_get(
			json_object_get(sf_config_find(&c, "aws_iam_role.vpc_cni")->config, "policy_arns"), 0)),
		"AmazonEKS_CNI_Policy");
	T_STREQ(json_string_value(json_object_get(
			json_object_get(sf_config_find(&c, "eks_addon.vpc_cni")->config, "pod_identity"), "aws-node")),
		"${aws_iam_role.vpc_cni.arn}");
	T_STREQ(attr(&c, "eks_addon.vpc_cni", "restart_daemonset"), "kube-system/aws-node");
	T_OK(has_dep(&c, "eks_addon.vpc_cni", "aws_iam_role.vpc_cni"));
	T_OK(has_dep(&c, "aws_iam_role.node", "eks_addon.vpc_cni"));
	/* a new cluster's node groups wait for the add-ons their nodes run
	 * only to exist: neither directly nor through the node role (whose
	 * update alone waits for the CNI) for them to be ACTIVE */
	T_OK(sf_strs_has(&sf_config_find(&c, "aws_iam_role.node")->update_only, "eks_addon.vpc_cni"));
	for (int g = 0; g < 2; g++)
		for (size_t k = 0; k < 3; k++) {
			static const char *const adds[] = {"eks_addon.vpc_cni", "eks_addon.kube_proxy",
							   "eks_addon.pod_identity_agent"};
			T_OK(!create_waits(&c, g ? "eks_nodegroup.sandbox" : "eks_nodegroup.system", adds[k], 0));
		}
	T_OK(create_waits(&c, "eks_nodegroup.sandbox", "eks_cluster.main", 0));
	/* every template keeps pods away from the node's metadata: hop limit 1 */
	for (size_t i = 0; i < c.n; i++)
		if (!strcmp(c.v[i].type->name, "aws_launch_template"))
			T_EQ(json_integer_value(json_object_get(c.v[i].config, "hop_limit")), 1);
	/* the cluster does not wait for the bake or the node role ... */
	T_OK(!depends(&c, "eks_cluster.main", "aws_gvisor_ami.gvisor_x86_64", 0));
	T_OK(!depends(&c, "eks_cluster.main", "aws_iam_role.node", 0));
	T_OK(!depends(&c, "aws_gvisor_ami.gvisor_x86_64", "eks_cluster.main", 0));
	/* ... the bake needs the way out, the builder profile */
	T_OK(has_dep(&c, "aws_gvisor_ami.gvisor_x86_64", "aws_route_table.public"));
	T_OK(has_dep(&c, "aws_gvisor_ami.gvisor_x86_64", "aws_iam_instance_profile.ami_builder"));
	/* the template needs the cluster (endpoint, CA) and the image */
	T_OK(has_dep(&c, "aws_launch_template.sandbox", "eks_cluster.main"));
	T_OK(has_dep(&c, "aws_launch_template.sandbox", "aws_gvisor_ami.gvisor_x86_64"));
	T_OK(has_dep(&c, "eks_nodegroup.sandbox", "aws_launch_template.sandbox"));
	T_OK(has_dep(&c, "eks_nodegroup.sandbox", "aws_iam_role.node"));
	/* nodes (private subnets by default) need the route out through the
	 * NAT gateway, which must also outlive them at teardown */
	T_OK(has_dep(&c, "eks_nodegroup.system", "aws_route_table.private"));
	T_OK(!has_dep(&c, "eks_nodegroup.system", "aws_route_table.public"));
	T_OK(depends(&c, "eks_nodegroup.sandbox", "aws_nat_gateway.main", 0));
	T_OK(depends(&c, "eks_nodegroup.sandbox", "aws_eip.main", 0));
	T_OK(depends(&c, "eks_nodegroup.sandbox", "aws_internet_gateway.main", 0));
	/* the NAT gateway: in the first public subnet, after the internet
	 * gateway it needs and the public route its traffic leaves by */
	T_CONTAINS(attr(&c, "aws_nat_gateway.main", "subnet_id"), "aws_subnet.public_a.id");
	T_CONTAINS(attr(&c, "aws_nat_gateway.main", "allocation_id"), "aws_eip.main.id");
	T_OK(has_dep(&c, "aws_nat_gateway.main", "aws_internet_gateway.main"));
	T_OK(has_dep(&c, "aws_nat_gateway.main", "aws_route_table.public"));
	T_CONTAINS(attr(&c, "aws_route_table.private", "nat_gateway_id"), "aws_nat_gateway.main.id");
	T_OK(!attr(&c, "aws_route_table.private", "gateway_id"));
	{
		const json_t *ids = json_object_get(sf_config_find(&c, "eks_nodegroup.sandbox")->config, "subnet_ids");
		T_EQ(json_array_size(ids), 3);
		for (size_t i = 0; i < json_array_size(ids); i++)
			T_CONTAINS(json_string_value(json_array_get(ids, i)), "aws_subnet.private_");
	}
	/* the user data for either containerd, the template keeps the one
	 * for the baked image's recorded version */
	const json_t *uds =
		json_object_get(sf_config_find(&c, "aws_launch_template.sandbox")->config, "user_data_by_containerd");
	T_OK(!attr(&c, "aws_launch_template.sandbox", "user_data"));
	T_STREQ(attr(&c, "aws_launch_template.sandbox", "containerd_version"),
		"${aws_gvisor_ami.gvisor_x86_64.containerd_version}");
	T_EQ(json_object_size(uds), 2);
	for (int major = 1; major <= 2; major++) {
		const char *ud = json_string_value(json_object_get(uds, major == 1 ? "1" : "2"));
		T_OK(ud != NULL);
		if (!ud)
			continue;
		T_CONTAINS(ud, "${eks_cluster.main.endpoint}");
		T_CONTAINS(ud, "${eks_cluster.main.ca_data}");
		T_CONTAINS(ud, "application/node.eks.aws");
		T_CONTAINS(ud, "runsc");
		T_OK(!strstr(ud, SF_PENDING_ENDPOINT));
		T_CONTAINS(ud, major == 1 ? "version = 2" : "version = 3");
		T_CONTAINS(ud, major == 1 ? "io.containerd.grpc.v1.cri" : "io.containerd.cri.v1.runtime");
	}
	T_OK(!attr(&c, "aws_launch_template.system", "user_data_by_containerd"));
	/* subnets: inside the VPC, disjoint, AZs a..c */
	static const char *const sn[] = {"public_a", "public_b", "public_c", "private_a", "private_b", "private_c"};
	uint32_t vn, nets[6];
	int vb, bits[6];
	T_EQ(sf_parse_cidr("10.40.0.0/16", &vn, &vb), 0);
	for (int i = 0; i < 6; i++) {
		char *a = xasprintf("aws_subnet.%s", sn[i]);
		T_EQ(sf_parse_cidr(attr(&c, a, "cidr_block"), &nets[i], &bits[i]), 0);
		T_OK(sf_cidrs_overlap(vn, vb, nets[i], bits[i]) && bits[i] > vb);
		for (int k = 0; k < i; k++)
			T_OK(!sf_cidrs_overlap(nets[i], bits[i], nets[k], bits[k]));
		const char *az = attr(&c, a, "availability_zone");
		T_OK(az && az[strlen(az) - 1] == 'a' + (i % 3));
		free(a);
	}
	const json_t *tags = json_object_get(sf_config_find(&c, "aws_subnet.public_b")->config, "tags");
	T_STREQ(json_string_value(json_object_get(tags, "kubernetes.io/role/elb")), "1");
	T_STREQ(json_string_value(json_object_get(tags, "kubernetes.io/cluster/demo")), "owned");
	T_STREQ(json_string_value(json_object_get(tags, "team")), "t");
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
}

T_TEST(stack_metadata_tags_reach_every_aws_resource)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(lower("apiVersion: secfaas.dev/v1alpha1\n"
		   "kind: Stack\n"
		   "metadata: {name: s, region: eu-west-1, tags: {team: t, cost: c1}}\n"
		   "spec:\n"
		   "  resources:\n"
		   "    - {type: aws_iam_role, name: a, attributes: {name: r, service: ec2.amazonaws.com, tags: {cost: own}}}\n"
		   "    - {type: aws_vpc, name: v, attributes: {cidr_block: 10.0.0.0/16}}\n"
		   "    - {type: local_file, name: f, attributes: {path: x, content: y}}\n",
		   &set, &c, &d),
	     0);
	const json_t *rt = json_object_get(sf_config_find(&c, "aws_iam_role.a")->config, "tags");
	T_STREQ(json_string_value(json_object_get(rt, "team")), "t");
	T_STREQ(json_string_value(json_object_get(rt, "cost")), "own"); /* the resource's own tag wins */
	const json_t *vt = json_object_get(sf_config_find(&c, "aws_vpc.v")->config, "tags");
	T_STREQ(json_string_value(json_object_get(vt, "team")), "t");
	T_OK(!json_object_get(sf_config_find(&c, "local_file.f")->config, "tags"));
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
}

/* The same for every AWS type the provider lists, one resource at a time
 * with its required attributes given: a type added without a map `tags`
 * attribute (the Stack's tags would be dropped silently) fails here. */
T_TEST(stack_metadata_tags_reach_each_aws_type)
{
	int checked = 0;
	for (const struct sf_rtype *const *tp = sf_provider_aws.types; *tp; tp++) {
		const struct sf_rtype *t = *tp;
		if (t->own && t->own->kind == SF_OWN_REF)
			continue; /* someone else's object, never written: no tags to carry */
		const struct sf_attr_def *ta = sf_rtype_attr(t, "tags");
		if (!ta || ta->type != SF_AT_MAP) {
			fprintf(stderr, "  %s has no map attribute tags\n", t->name);
			T_OK(0);
			continue;
		}
		/* values the types check offline */
		static const char *const valid[][2] = {
			{"gvisor_release", "\"20250113.0\""}, {"arch", "x86_64"}, {"kubernetes_version", "\"1.33\""}};
		static const char *const sample[] = {"\"x\"", "1", "true", "[\"x\"]", "{k: v}", "\"x\""};
		struct sf_buf y = SF_BUF_INIT;
		sf_buf_printf(&y, "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\n"
				  "metadata: {name: s, region: eu-west-1, tags: {team: t}}\n"
				  "spec:\n  resources:\n    - type: %s\n      name: r\n      attributes: {",
			      t->name);
		const char *sep = "";
		for (const struct sf_attr_def *a = t->attrs; a->name; a++) {
			if (a->flags & SF_ATTR_REQUIRED) {
				const char *v = sample[a->type];
				for (size_t k = 0; k < sizeof valid / sizeof valid[0]; k++)
					if (!strcmp(a->name, valid[k][0]))
						v = valid[k][1];
				sf_buf_printf(&y, "%s%s: %s", sep, a->name, v);
				sep = ", ";
			}
		}
		sf_buf_printf(&y, "}\n");
		const char *text = sf_buf_cstr(&y);
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_config c = SF_CONFIG_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		char *addr = xasprintf("%s.r", t->name);
		int rc = lower(text, &set, &c, &d);
		if (rc != 0)
			fprintf(stderr, "  %s: %s\n%s\n", t->name, d.nerrors ? d.v[0].msg : "lowering failed", text);
		T_EQ(rc, 0);
		const struct sf_rinst *r = rc == 0 ? sf_config_find(&c, addr) : NULL;
		T_OK(r != NULL);
		if (r) {
			T_STREQ(json_string_value(json_object_get(json_object_get(r->config, "tags"), "team")), "t");
			checked++;
		}
		free(addr);
		sf_buf_release(&y);
		sf_config_release(&c);
		sf_specset_release(&set);
		sf_diags_release(&d);
	}
	T_OK(checked >= 13);
}

T_TEST(lowering_given_ami_plans_no_bake)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	char *text = xasprintf("%s      ami: ami-0123456789abcdef0\n", SPEC_MIN);
	T_EQ(lower(text, &set, &c, &d), 0);
	T_OK(!sf_config_find(&c, "aws_gvisor_ami.gvisor_x86_64"));
	T_OK(!sf_config_find(&c, "aws_iam_role.ami_builder"));
	T_STREQ(attr(&c, "aws_launch_template.sandbox", "image_id"), "ami-0123456789abcdef0");
	const json_t *chk = json_object_get(sf_config_find(&c, "aws_launch_template.sandbox")->config, "image_check");
	T_STREQ(json_string_value(json_object_get(chk, "arch")), "x86_64");
	T_CONTAINS(json_string_value(json_object_get(chk, "where")), ".yaml:14:12");
	/* a given image's containerd is read from its tag, not referenced */
	T_OK(!attr(&c, "aws_launch_template.sandbox", "containerd_version"));
	T_EQ(json_object_size(json_object_get(sf_config_find(&c, "aws_launch_template.sandbox")->config,
					      "user_data_by_containerd")),
	     2);
	free(text);
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
}

/* metadata.hopLimit reaches the group's template; above 1 on a gVisor group
 * warns (with its position), on a runc group it does not; 0 is refused. */
T_TEST(lowering_hop_limit_from_the_spec_warns_on_gvisor)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	char *text = xasprintf("%s      metadata: {hopLimit: 2}\n", SPEC_MIN);
	T_EQ(lower(text, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	T_EQ(d.n, 1);
	if (d.n == 1) {
		T_EQ(d.v[0].sev, SF_SEV_WARNING);
		T_EQ(d.v[0].pos.line, 14);
		T_CONTAINS(d.v[0].msg, "metadata.hopLimit: 2 lets every pod of this gVisor group");
	}
	T_EQ(json_integer_value(json_object_get(sf_config_find(&c, "aws_launch_template.sandbox")->config, "hop_limit")),
	     2);
	T_EQ(json_integer_value(json_object_get(sf_config_find(&c, "aws_launch_template.system")->config, "hop_limit")),
	     1);
	free(text);
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);

	struct sf_specset set2 = SF_SPECSET_INIT;
	struct sf_config c2 = SF_CONFIG_INIT;
	struct sf_diags d2 = SF_DIAGS_INIT;
	text = xstrdup(SPEC_MIN);
	char *runc = strstr(text, "scaling: {min: 2, max: 4}}");
	T_OK(runc != NULL);
	char *t2 = xasprintf("%.*sscaling: {min: 2, max: 4}, metadata: {hopLimit: 2}}%s", (int)(runc - text), text,
			     runc + strlen("scaling: {min: 2, max: 4}}"));
	T_EQ(lower(t2, &set2, &c2, &d2), 0);
	T_EQ(d2.n, 0);
	T_EQ(json_integer_value(json_object_get(sf_config_find(&c2, "aws_launch_template.system")->config, "hop_limit")),
	     2);
	free(t2);
	free(text);
	sf_config_release(&c2);
	sf_specset_release(&set2);
	sf_diags_release(&d2);

	struct sf_specset set3 = SF_SPECSET_INIT;
	struct sf_config c3 = SF_CONFIG_INIT;
	struct sf_diags d3 = SF_DIAGS_INIT;
	text = xasprintf("%s      metadata: {hopLimit: 0}\n", SPEC_MIN);
	lower(text, &set3, &c3, &d3);
	T_EQ(d3.nerrors, 1);
	free(text);
	sf_config_release(&c3);
	sf_specset_release(&set3);
	sf_diags_release(&d3);
}

T_TEST(private_endpoint_warns_at_plan_time)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	char *text = xstrdup(SPEC_MIN);
	char *at = strstr(text, "availabilityZones: 3}");
	char *t2 = xasprintf("%.*savailabilityZones: 3, endpointAccess: private}%s", (int)(at - text), text,
			     at + strlen("availabilityZones: 3}"));
	T_EQ(lower(t2, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	T_EQ(d.n, 1);
	if (d.n == 1)
		T_CONTAINS(d.v[0].msg, "reachable only from inside the VPC; run secfaas there");
	free(t2);
	free(text);
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
}


/* The spec text with the network line replaced. */
static char *with_network(const char *net)
{
	const char *at = strstr(SPEC_MIN, "  network: {");
	const char *end = strchr(at, '\n');
	return xasprintf("%.*s  network: {%s}%s", (int)(at - SPEC_MIN), SPEC_MIN, net, end);
}

T_TEST(lowering_nat_per_az_and_public_nodes)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	/* perAz: an address, a NAT gateway and a private table per AZ, each
	 * table for its AZ's subnet only; nodes wait for all three routes */
	char *t1 = with_network("cidr: 10.40.0.0/16, availabilityZones: 3, nat: perAz");
	T_EQ(lower(t1, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	static const char *const az[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		char *nat = xasprintf("aws_nat_gateway.private_%s", az[i]), *rt = xasprintf("aws_route_table.private_%s", az[i]);
		char *eip = xasprintf("aws_eip.private_%s.id", az[i]), *pub = xasprintf("aws_subnet.public_%s.id", az[i]);
		char *natid = xasprintf("%s.id", nat), *priv = xasprintf("aws_subnet.private_%s.id", az[i]);
		T_CONTAINS(attr(&c, nat, "subnet_id"), pub);
		T_CONTAINS(attr(&c, nat, "allocation_id"), eip);
		T_CONTAINS(attr(&c, rt, "nat_gateway_id"), natid);
		const json_t *sn = json_object_get(sf_config_find(&c, rt)->config, "subnet_ids");
		T_EQ(json_array_size(sn), 1);
		T_CONTAINS(json_string_value(json_array_get(sn, 0)), priv);
		T_OK(has_dep(&c, "eks_nodegroup.system", rt));
		free(nat), free(rt), free(eip), free(pub), free(natid), free(priv);
	}
	T_OK(!sf_config_find(&c, "aws_route_table.private"));
	T_OK(!sf_config_find(&c, "aws_nat_gateway.main"));
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t1);

	/* public nodes: the public subnets and their route, as before */
	set = (struct sf_specset)SF_SPECSET_INIT;
	c = (struct sf_config)SF_CONFIG_INIT;
	d = (struct sf_diags)SF_DIAGS_INIT;
	char *t2 = with_network("cidr: 10.40.0.0/16, nodeSubnets: public, nat: none");
	T_EQ(lower(t2, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	T_OK(has_dep(&c, "eks_nodegroup.system", "aws_route_table.public"));
	T_OK(!has_dep(&c, "eks_nodegroup.system", "aws_route_table.private"));
	T_CONTAINS(json_string_value(json_array_get(
			   json_object_get(sf_config_find(&c, "eks_nodegroup.system")->config, "subnet_ids"), 0)),
		   "aws_subnet.public_a.id");
	T_OK(!sf_config_find(&c, "aws_nat_gateway.main") && !sf_config_find(&c, "aws_eip.main"));
	T_OK(!attr(&c, "aws_route_table.private", "nat_gateway_id"));
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t2);
}

/* A given VPC: one read-only reference, nothing of the network made
 * (no VPC, subnet, gateway, route table, address), and everything placed
 * in it (security group, cluster, node groups, the image builder) waits
 * for the reference and uses the given ids, known at plan time. */
T_TEST(lowering_given_vpc_makes_no_network_and_refers_to_it)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	char *t1 = with_network("vpcId: vpc-0aaaaaaaaaaaaaaa1, subnets: {private: [subnet-0aaaaaaaaaaaaaa11, "
				"subnet-0aaaaaaaaaaaaaa12], public: [subnet-0aaaaaaaaaaaaaa21, subnet-0aaaaaaaaaaaaaa22]}");
	T_EQ(lower(t1, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	for (size_t i = 0; i < c.n; i++) {
		const char *a = c.v[i].address;
		T_OK(strncmp(a, "aws_vpc.", 8) && strncmp(a, "aws_subnet.", 11) && strncmp(a, "aws_internet_gateway.", 21) &&
		     strncmp(a, "aws_route_table.", 16) && strncmp(a, "aws_nat_gateway.", 16) && strncmp(a, "aws_eip.", 8));
	}
	T_STREQ(attr(&c, "aws_network_ref.main", "vpc_id"), "vpc-0aaaaaaaaaaaaaaa1");
	T_STREQ(attr(&c, "aws_security_group.cluster", "vpc_id"), "${aws_network_ref.main.vpc_id}");
	const json_t *ng = json_object_get(sf_config_find(&c, "eks_nodegroup.system")->config, "subnet_ids");
	T_EQ(json_array_size(ng), 2);
	T_STREQ(json_string_value(json_array_get(ng, 0)), "subnet-0aaaaaaaaaaaaaa11");
	T_OK(has_dep(&c, "eks_nodegroup.system", "aws_network_ref.main"));
	T_EQ(json_array_size(json_object_get(sf_config_find(&c, "eks_cluster.main")->config, "subnet_ids")), 4);
	T_OK(depends(&c, "eks_cluster.main", "aws_network_ref.main", 0));
	T_STREQ(attr(&c, "aws_gvisor_ami.gvisor_x86_64", "builder_subnet_id"), "subnet-0aaaaaaaaaaaaaa21");
	T_OK(has_dep(&c, "aws_gvisor_ami.gvisor_x86_64", "aws_network_ref.main"));
	const json_t *chk = json_object_get(sf_config_find(&c, "aws_network_ref.main")->config, "check");
	T_EQ(json_integer_value(json_object_get(chk, "max_nodes")), 14);
	T_STREQ(json_string_value(json_object_get(chk, "builder_subnet_id")), "subnet-0aaaaaaaaaaaaaa21");
	T_CONTAINS(json_string_value(json_object_get(chk, "where")), ".yaml:6:");
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t1);
}

/* The upgrade step in words: only when the plan moves the control plane's
 * version, each step naming what the plan changes in it (a pinned add-on
 * and a runc group pinned to its version said as such). */
T_TEST(plan_shows_the_upgrade_as_numbered_steps)
{
	struct sf_change v[5];
	memset(v, 0, sizeof v);
	v[0] = (struct sf_change){.address = "eks_cluster.main", .action = SF_ACT_UPDATE,
				  .before = json_pack("{s:s}", "version", "1.35"), .after = json_pack("{s:s}", "version", "1.36")};
	v[1] = (struct sf_change){.address = "eks_addon.vpc_cni", .action = SF_ACT_UPDATE,
				  .before = json_object(), .after = json_pack("{s:s}", "version", "v1.21.1-eksbuild.1")};
	v[2] = (struct sf_change){.address = "eks_nodegroup.old", .action = SF_ACT_UPDATE,
				  .before = json_pack("{s:s}", "version", "1.34"), .after = json_pack("{s:s}", "version", "1.34")};
	v[3] = (struct sf_change){.address = "eks_addon.coredns", .action = SF_ACT_NOOP, .before = json_object(),
				  .after = json_object()};
	json_t *objs = sf_cluster_autoscaler_objects("c", "eu-west-1", "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0");
	v[4] = (struct sf_change){.address = "k8s_manifest.autoscaler_deployment", .action = SF_ACT_UPDATE,
				  .before = json_object(), .after = json_pack("{s:O}", "manifest", json_array_get(objs, 5))};
	json_decref(objs);
	struct sf_plan plan;
	memset(&plan, 0, sizeof plan);
	plan.v = v;
	plan.n = 5;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	T_EQ(sf_cluster_upgrade_steps(&plan, f), 1);
	fclose(f);
	T_CONTAINS(buf, "Upgrade of Kubernetes 1.35 -> 1.36, applied in this order:\n  1. control plane\n");
	T_CONTAINS(buf, "  2. add-ons, once the control plane runs the new version\n       eks_addon.vpc_cni: pinned to v1.21.1-eksbuild.1\n");
	T_CONTAINS(buf, "       k8s_manifest.autoscaler_deployment: the cluster autoscaler for Kubernetes 1.36 "
			"(registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0)\n  3. node groups");
	T_CONTAINS(buf, "eks_nodegroup.old: runc, stays on 1.34 (pinned)");
	T_OK(!strstr(buf, "coredns")); /* not changed: not a step */
	free(buf);
	/* the same version: no steps */
	json_object_set_new(v[0].after, "version", json_string("1.35"));
	f = open_memstream(&buf, &len);
	T_EQ(sf_cluster_upgrade_steps(&plan, f), 0);
	fclose(f);
	T_EQ(len, 0);
	free(buf);
	for (int i = 0; i < 5; i++) {
		json_decref(v[i].before);
		json_decref(v[i].after);
	}
}

/* NAT is for private nodes: public nodes leave through the internet
 * gateway, so without `nat:` they get no NAT gateway and no address; an
 * explicit nat with public nodes still builds one. */
T_TEST(nat_default_follows_node_subnets)
{
	static const struct {
		const char *net;
		int nat;
	} cases[] = {
		{"cidr: 10.40.0.0/16, nodeSubnets: public", 0},
		{"cidr: 10.40.0.0/16, nodeSubnets: public, nat: single", 1},
		{"cidr: 10.40.0.0/16, nodeSubnets: private", 1},
		{"cidr: 10.40.0.0/16", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_config c = SF_CONFIG_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		char *t = with_network(cases[i].net);
		T_EQ(lower(t, &set, &c, &d), 0);
		T_EQ(d.nerrors, 0);
		int nat = 0, eip = 0;
		for (size_t j = 0; j < c.n; j++) {
			nat += !strcmp(c.v[j].type->name, "aws_nat_gateway");
			eip += !strcmp(c.v[j].type->name, "aws_eip");
		}
		if (nat != cases[i].nat || eip != cases[i].nat)
			T_FAILF("%s: %d NAT gateway(s), %d address(es), want %d", cases[i].net, nat, eip, cases[i].nat);
		if (!cases[i].nat)
			T_OK(!attr(&c, "aws_route_table.private", "nat_gateway_id"));
		else
			T_CONTAINS(attr(&c, "aws_route_table.private", "nat_gateway_id"), "aws_nat_gateway.main.id");
		sf_config_release(&c);
		sf_specset_release(&set);
		sf_diags_release(&d);
		free(t);
	}
}

/* A fully private cluster: no NAT gateway, no address; an interface
 * endpoint per listed service in the private subnets with private DNS,
 * behind a group that lets HTTPS in from the VPC only; s3 as a gateway on
 * the private route table; every node group waits for every endpoint
 * (and so outlives none of them at teardown). */
T_TEST(lowering_vpc_endpoints_without_nat)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	char *t = with_network("cidr: 10.40.0.0/16, nat: none, endpointAccess: public-and-private, vpcEndpoints: [ec2, "
			       "ecr.api, ecr.dkr, s3, sts, eks-auth]");
	T_EQ(lower(t, &set, &c, &d), 0);
	T_EQ(d.nerrors, 0);
	for (size_t j = 0; j < c.n; j++)
		T_OK(strcmp(c.v[j].type->name, "aws_nat_gateway") && strcmp(c.v[j].type->name, "aws_eip"));
	static const char *const iface[] = {"ec2", "ecr_api", "ecr_dkr", "sts", "eks_auth"};
	static const char *const svc[] = {"ec2", "ecr.api", "ecr.dkr", "sts", "eks-auth"};
	for (size_t i = 0; i < SF_ARRAY_LEN(iface); i++) {
		char *a = xasprintf("aws_vpc_endpoint.%s", iface[i]), *full = xasprintf("com.amazonaws.eu-west-1.%s", svc[i]);
		const struct sf_rinst *r = sf_config_find(&c, a);
		T_OK(r != NULL);
		if (r) {
			T_STREQ(attr(&c, a, "service_name"), full);
			T_STREQ(attr(&c, a, "type"), "Interface");
			T_OK(json_is_true(json_object_get(r->config, "private_dns")));
			const json_t *sn = json_object_get(r->config, "subnet_ids");
			T_EQ(json_array_size(sn), 3);
			for (size_t k = 0; k < json_array_size(sn); k++)
				T_CONTAINS(json_string_value(json_array_get(sn, k)), "aws_subnet.private_");
			T_CONTAINS(json_string_value(json_array_get(json_object_get(r->config, "security_group_ids"), 0)),
				   "aws_security_group.endpoints.id");
			T_OK(!json_object_get(r->config, "route_table_ids"));
		}
		T_OK(has_dep(&c, "eks_nodegroup.system", a));
		T_OK(has_dep(&c, "eks_nodegroup.sandbox", a));
		free(a);
		free(full);
	}
	T_STREQ(attr(&c, "aws_security_group.endpoints", "https_from"), "10.40.0.0/16");
	T_STREQ(attr(&c, "aws_vpc_endpoint.s3", "type"), "Gateway");
	const json_t *rts = json_object_get(sf_config_find(&c, "aws_vpc_endpoint.s3")->config, "route_table_ids");
	T_EQ(json_array_size(rts), 1);
	T_CONTAINS(json_string_value(json_array_get(rts, 0)), "aws_route_table.private.id");
	T_OK(!json_object_get(sf_config_find(&c, "aws_vpc_endpoint.s3")->config, "subnet_ids"));
	T_OK(has_dep(&c, "eks_nodegroup.system", "aws_vpc_endpoint.s3"));
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t);

	/* perAz: the gateway endpoint goes on every AZ's private table */
	set = (struct sf_specset)SF_SPECSET_INIT;
	c = (struct sf_config)SF_CONFIG_INIT;
	d = (struct sf_diags)SF_DIAGS_INIT;
	t = with_network("cidr: 10.40.0.0/16, nat: perAz, vpcEndpoints: [s3]");
	T_EQ(lower(t, &set, &c, &d), 0);
	rts = json_object_get(sf_config_find(&c, "aws_vpc_endpoint.s3")->config, "route_table_ids");
	T_EQ(json_array_size(rts), 3);
	T_CONTAINS(json_string_value(json_array_get(rts, 2)), "aws_route_table.private_c.id");
	T_OK(!sf_config_find(&c, "aws_security_group.endpoints")); /* no interface endpoint, no group */
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t);
}

/* nat: none with private nodes is refused offline unless the endpoints
 * nodes need are listed (naming the missing ones) and the API server has a
 * private endpoint; a service listed twice is refused at its position. */
T_TEST(no_nat_needs_the_node_endpoints_and_a_private_api_endpoint)
{
	static const struct {
		const char *net, *msg;
		int line, col;
	} cases[] = {
		{"cidr: 10.40.0.0/16, nat: none, endpointAccess: public-and-private, vpcEndpoints: [ecr.api, s3]",
		 "(missing: ec2, ecr.dkr, sts, eks-auth)", 6, 38},
		{"cidr: 10.40.0.0/16, nat: none, vpcEndpoints: [ec2, ecr.api, ecr.dkr, s3, sts, eks-auth]",
		 "spec.network.endpointAccess: public (the default) with nat: none", 6, 38},
		{"cidr: 10.40.0.0/16, nat: none, endpointAccess: public, vpcEndpoints: [ec2, ecr.api, ecr.dkr, s3, sts, eks-auth]",
		 "nodes without a way to the internet reach the Kubernetes API only through the cluster's private endpoint",
		 6, 60},
		{"cidr: 10.40.0.0/16, vpcEndpoints: [sts, s3, sts]", "spec.network.vpcEndpoints[2]: sts is listed twice", 6,
		 57},
		{"cidr: 10.40.0.0/16, vpcEndpoints: [ecr]", "vpcEndpoints", 6, 48},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_config c = SF_CONFIG_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		char *t = with_network(cases[i].net);
		T_OK(lower(t, &set, &c, &d) < 0);
		T_EQ(d.nerrors, 1);
		if (d.n >= 1) {
			T_CONTAINS(d.v[0].msg, cases[i].msg);
			if (d.v[0].pos.line != cases[i].line || d.v[0].pos.col != cases[i].col)
				T_FAILF("%s: at %d:%d, want %d:%d", cases[i].net, d.v[0].pos.line, d.v[0].pos.col, cases[i].line,
					cases[i].col);
		}
		T_EQ(c.n, 0);
		sf_config_release(&c);
		sf_specset_release(&set);
		sf_diags_release(&d);
		free(t);
	}
}

/* Private nodes without NAT could never join: refused offline, at the
 * position of nat, saying what to do. */
T_TEST(private_nodes_without_nat_are_refused_with_the_position)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	char *t = with_network("cidr: 10.40.0.0/16, nat: none");
	T_OK(lower(t, &set, &c, &d) < 0);
	T_EQ(d.nerrors, 2); /* and endpointAccess: public, the default */
	if (d.n >= 1) {
		T_EQ(d.v[0].pos.line, 6);
		T_EQ(d.v[0].pos.col, 38); /* the value: "  network: {cidr: 10.40.0.0/16, nat: none}" */
		T_CONTAINS(d.v[0].msg, "spec.network.nat: none leaves nodes in private subnets (nodeSubnets defaults to private)");
		T_CONTAINS(d.v[0].msg, "list the VPC endpoints they need in spec.network.vpcEndpoints (missing: ec2, ecr.api, ecr.dkr, s3, sts, eks-auth)");
	}
	T_EQ(c.n, 0);
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t);
	/* a value outside the enum: also offline */
	set = (struct sf_specset)SF_SPECSET_INIT;
	c = (struct sf_config)SF_CONFIG_INIT;
	d = (struct sf_diags)SF_DIAGS_INIT;
	t = with_network("cidr: 10.40.0.0/16, nodeSubnets: hidden");
	T_OK(lower(t, &set, &c, &d) < 0);
	T_EQ(d.nerrors, 1);
	if (d.n >= 1)
		T_CONTAINS(d.v[0].msg, "nodeSubnets");
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
	free(t);
}

T_TEST(lowering_needs_a_region)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config c = SF_CONFIG_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	char *text = xstrdup(SPEC_MIN);
	char *r = strstr(text, ", region: eu-west-1");
	memmove(r, r + strlen(", region: eu-west-1"), strlen(r + strlen(", region: eu-west-1")) + 1);
	lower(text, &set, &c, &d);
	T_EQ(d.nerrors, 1);
	free(text);
	sf_config_release(&c);
	sf_specset_release(&set);
	sf_diags_release(&d);
}

/* ---- resource types over recorded replies ---- */

struct rt {
	struct fx f;
	struct sf_providers p;
	struct sf_err err;
	volatile int cancel;
	struct sf_rctx c;
	char ids[4][64];
	int nids;
};

static int rec_id(struct sf_rctx *c, const char *id)
{
	struct rt *t = (struct rt *)((char *)c - offsetof(struct rt, c));
	if (t->nids < 4)
		snprintf(t->ids[t->nids++], sizeof t->ids[0], "%s", id);
	return 0;
}

static void rt_open(struct rt *t, const char *address)
{
	memset(t, 0, sizeof *t);
	fx_clean_env();
	setenv("AWS_ACCESS_KEY_ID", FX_AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FX_SECRET, 1);
	setenv("SECFAAS_POLL_SCALE", "0.0001", 1);
	if (fx_open(&t->f, NULL) < 0)
		abort();
	sf_providers_init(&t->p);
	t->p.workspace = "demo";
	t->p.lineage = "lin-1";
	t->p.aws = t->f.c; /* the replayed client, created already */
	t->p.aws_tried = 1;
	t->c.address = address;
	t->c.token = "0123456789abcdef0123456789abcdef";
	t->c.err = &t->err;
	t->c.provider = &t->p;
	t->c.cancel = &t->cancel;
	t->c.record_id = rec_id;
}

static void rt_close(struct rt *t)
{
	t->p.aws = NULL; /* owned by the fixture */
	sf_providers_release(&t->p);
	fx_close(&t->f);
}

/* count requests containing a and b */
static int sent2(struct rt *t, const char *a, const char *b)
{
	int n = 0;
	for (size_t i = 0; i < sf_replay_count(t->f.rp); i++)
		if (strstr(sf_replay_request(t->f.rp, i), a) && strstr(sf_replay_request(t->f.rp, i), b))
			n++;
	return n;
}

/* count requests containing s */
static int sent(struct rt *t, const char *s)
{
	int n = 0;
	for (size_t i = 0; i < sf_replay_count(t->f.rp); i++)
		if (strstr(sf_replay_request(t->f.rp, i), s))
			n++;
	return n;
}

#define EC2_ERR_STATUS(status, code, msg)                                                                   \
	"HTTP/1.1 " status "\nContent-Type: text/xml\n\n<Response><Errors><Error><Code>" code "</Code><Message>" msg   \
	"</Message></Error></Errors><RequestID>r</RequestID></Response>"
#define EC2_ERR(code, msg) EC2_ERR_STATUS("400 Bad Request", code, msg)
#define EC2(act, body)                                                                                      \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<" act "Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
	"<requestId>r</requestId>" body "</" act "Response>"

T_TEST(vpc_resumed_create_adopts_by_token)
{
	struct rt t;
	rt_open(&t, "aws_vpc.main");
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && tag%3Asecfaas%3Atoken",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0aa</vpcId><state>available</state>"
					  "<tagSet><item><key>secfaas:token</key><value>0123456789abcdef0123456789abcdef</value></item></tagSet></item></vpcSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && VpcId.1=vpc-0aa",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0aa</vpcId><state>available</state></item></vpcSet>"), -1);
	sf_replay_add(t.f.rp, "Action=ModifyVpcAttribute", EC2("ModifyVpcAttribute", "<return>true</return>"), 2);
	json_t *want = json_pack("{s:s}", "cidr_block", "10.40.0.0/16"), *out = NULL;
	t.c.resumed = 1; /* the journal says an earlier attempt was interrupted */
	T_EQ(sf_rt_aws_vpc.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=CreateVpc"), 0);
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpc-0aa");
	T_EQ(t.nids, 1);
	T_STREQ(t.ids[0], "vpc-0aa");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

T_TEST(vpc_fresh_create_tags_ownership_and_token)
{
	struct rt t;
	rt_open(&t, "aws_vpc.main");
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && tag%3Asecfaas%3Atoken", EC2("DescribeVpcs", "<vpcSet/>"), 1);
	sf_replay_add(t.f.rp, "Action=CreateVpc", EC2("CreateVpc", "<vpc><vpcId>vpc-0bb</vpcId><state>pending</state></vpc>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && VpcId.1=vpc-0bb",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0bb</vpcId><state>pending</state></item></vpcSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && VpcId.1=vpc-0bb",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0bb</vpcId><state>available</state></item></vpcSet>"), 1);
	sf_replay_add(t.f.rp, "Action=ModifyVpcAttribute", EC2("ModifyVpcAttribute", "<return>true</return>"), 2);
	json_t *want = json_pack("{s:s, s:{s:s}}", "cidr_block", "10.40.0.0/16", "tags", "team", "t"), *out = NULL;
	T_EQ(sf_rt_aws_vpc.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=CreateVpc"), 1);
	T_EQ(sent2(&t, "Action=CreateVpc", "Key=secfaas%3Atoken"), 1);
	T_EQ(sent2(&t, "Action=CreateVpc", "Value=0123456789abcdef0123456789abcdef"), 1);
	T_EQ(sent2(&t, "Action=CreateVpc", "Value=aws_vpc.main"), 1);
	T_EQ(sent2(&t, "Action=CreateVpc", "Key=team&TagSpecification.1.Tag.1.Value=t"), 1);
	T_EQ(sent(&t, "EnableDnsHostnames.Value=true"), 1);
	T_EQ(sent(&t, "EnableDnsSupport"), 0); /* on in every new VPC */
	T_EQ(sent2(&t, "Action=DescribeVpcs", "VpcId.1=vpc-0bb"), 2); /* waited for available */
	/* a first attempt costs no look-up */
	T_EQ(sent2(&t, "Action=DescribeVpcs", "tag%3Asecfaas%3Atoken"), 0);
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpc-0bb");
	json_decref(out);
	out = NULL;
	rt_close(&t);
	/* CreateVpc says available already: nothing to wait for, no read */
	rt_open(&t, "aws_vpc.main");
	sf_replay_add(t.f.rp, "Action=CreateVpc", EC2("CreateVpc", "<vpc><vpcId>vpc-0bc</vpcId><state>available</state></vpc>"), 1);
	sf_replay_add(t.f.rp, "Action=ModifyVpcAttribute", EC2("ModifyVpcAttribute", "<return>true</return>"), 1);
	T_EQ(sf_rt_aws_vpc.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=DescribeVpcs"), 0);
	T_EQ(sent(&t, "Action=ModifyVpcAttribute"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpc-0bc");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* The CreateVpc reply is cut after AWS made the VPC: the create is not
 * sent again blindly; the VPC is found by its token and adopted. */
T_TEST(vpc_lost_reply_adopts_what_it_made)
{
	struct rt t;
	rt_open(&t, "aws_vpc.main");
	sf_replay_add(t.f.rp, "Action=CreateVpc", "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateVpcResponse><vpc>", 1);
	sf_replay_add(t.f.rp, "Action=CreateVpc", EC2("CreateVpc", "<vpc><vpcId>vpc-0dup</vpcId></vpc>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && tag%3Asecfaas%3Atoken",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0cc</vpcId><state>available</state>"
					  "<tagSet><item><key>secfaas:token</key><value>0123456789abcdef0123456789abcdef</value></item></tagSet></item></vpcSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && VpcId.1=vpc-0cc",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0cc</vpcId><state>available</state></item></vpcSet>"), -1);
	sf_replay_add(t.f.rp, "Action=ModifyVpcAttribute", EC2("ModifyVpcAttribute", "<return>true</return>"), 2);
	json_t *want = json_pack("{s:s}", "cidr_block", "10.40.0.0/16"), *out = NULL;
	T_EQ(sf_rt_aws_vpc.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=CreateVpc"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpc-0cc");
	json_decref(out);
	/* nothing found under the token: then, and only then, sent again */
	rt_close(&t);
	rt_open(&t, "aws_vpc.main");
	sf_replay_add(t.f.rp, "Action=CreateVpc", "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateVpcResponse><vpc>", 1);
	sf_replay_add(t.f.rp, "Action=CreateVpc", EC2("CreateVpc", "<vpc><vpcId>vpc-0dd</vpcId></vpc>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && tag%3Asecfaas%3Atoken", EC2("DescribeVpcs", "<vpcSet/>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && VpcId.1=vpc-0dd",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0dd</vpcId><state>available</state></item></vpcSet>"), -1);
	sf_replay_add(t.f.rp, "Action=ModifyVpcAttribute", EC2("ModifyVpcAttribute", "<return>true</return>"), 2);
	out = NULL;
	T_EQ(sf_rt_aws_vpc.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=CreateVpc"), 2);
	/* looked more than once: a new VPC is listed only after a moment */
	T_EQ(sent2(&t, "Action=DescribeVpcs", "tag%3Asecfaas%3Atoken"), 4);
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpc-0dd");
	json_decref(out);
	/* a run of faults longer than the SDK's three attempts: sent as many
	 * times as a read is attempted (aws/retry.h), a look-up before each */
	rt_close(&t);
	rt_open(&t, "aws_vpc.main");
	sf_replay_add(t.f.rp, "Action=CreateVpc", "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateVpcResponse><vpc>", 1);
	sf_replay_add(t.f.rp, "Action=CreateVpc", "!reset", 4);
	sf_replay_add(t.f.rp, "Action=CreateVpc", EC2("CreateVpc", "<vpc><vpcId>vpc-0ee</vpcId></vpc>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && tag%3Asecfaas%3Atoken", EC2("DescribeVpcs", "<vpcSet/>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcs && VpcId.1=vpc-0ee",
		      EC2("DescribeVpcs", "<vpcSet><item><vpcId>vpc-0ee</vpcId><state>available</state></item></vpcSet>"), -1);
	sf_replay_add(t.f.rp, "Action=ModifyVpcAttribute", EC2("ModifyVpcAttribute", "<return>true</return>"), 2);
	out = NULL;
	T_EQ(sf_rt_aws_vpc.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=CreateVpc"), 6);
	T_EQ(sent2(&t, "Action=DescribeVpcs", "tag%3Asecfaas%3Atoken"), 5 * 4);
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpc-0ee");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}


#define EC2_OWN_TAGS(lin, tok)                                                                                  \
	"<tagSet><item><key>secfaas:workspace</key><value>demo</value></item>"                              \
	"<item><key>secfaas:lineage</key><value>" lin "</value></item>"                                      \
	"<item><key>secfaas:token</key><value>" tok "</value></item></tagSet>"
#define NAT_TOKEN "0123456789abcdef0123456789abcdef"
#define NAT_ITEM(id, state)                                                                                 \
	"<item><natGatewayId>" id "</natGatewayId><state>" state "</state><subnetId>subnet-1</subnetId>"      \
	"<natGatewayAddressSet><item><allocationId>eipalloc-1</allocationId><publicIp>198.51.100.7</publicIp>" \
	"</item></natGatewayAddressSet>" EC2_OWN_TAGS("lin-1", NAT_TOKEN) "</item>"

/* The CreateNatGateway reply is cut after AWS made the gateway: it is not
 * sent again blindly (a second gateway would fail on the address anyway);
 * the live gateway under this operation's token is adopted, a deleted one
 * of the same token never is.  The call carries the token as ClientToken,
 * so even a resend would be answered with the same gateway. */
T_TEST(nat_gateway_lost_reply_adopts_what_it_made)
{
	struct rt t;
	rt_open(&t, "aws_nat_gateway.main");
	sf_replay_add(t.f.rp, "Action=CreateNatGateway",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateNatGatewayResponse><natGateway>", 1);
	sf_replay_add(t.f.rp, "Action=CreateNatGateway",
		      EC2("CreateNatGateway", "<natGateway><natGatewayId>nat-0dup</natGatewayId></natGateway>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeNatGateways && tag%3Asecfaas%3Atoken",
		      EC2("DescribeNatGateways", "<natGatewaySet>" NAT_ITEM("nat-0old", "deleted") NAT_ITEM("nat-0aa", "pending")
						 "</natGatewaySet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeNatGateways && NatGatewayId.1=nat-0aa",
		      EC2("DescribeNatGateways", "<natGatewaySet>" NAT_ITEM("nat-0aa", "pending") "</natGatewaySet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeNatGateways && NatGatewayId.1=nat-0aa",
		      EC2("DescribeNatGateways", "<natGatewaySet>" NAT_ITEM("nat-0aa", "available") "</natGatewaySet>"), -1);
	json_t *want = json_pack("{s:s, s:s}", "subnet_id", "subnet-1", "allocation_id", "eipalloc-1"), *out = NULL;
	T_EQ(sf_rt_aws_nat_gateway.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=CreateNatGateway"), 1);
	T_EQ(sent2(&t, "Action=CreateNatGateway", "ClientToken=" NAT_TOKEN), 1);
	T_EQ(sent2(&t, "Action=CreateNatGateway", "AllocationId=eipalloc-1"), 1);
	T_EQ(sent2(&t, "Action=CreateNatGateway", "ResourceType=natgateway"), 1);
	/* waited for available; the poll that saw it is the last read */
	T_EQ(sent2(&t, "Action=DescribeNatGateways", "NatGatewayId.1=nat-0aa"), 2);
	T_STREQ(json_string_value(json_object_get(out, "id")), "nat-0aa");
	T_STREQ(json_string_value(json_object_get(out, "public_ip")), "198.51.100.7");
	T_EQ(t.nids, 1);
	T_STREQ(t.ids[0], "nat-0aa");
	json_decref(out);
	rt_close(&t);

	/* a gateway that fails (no internet gateway attached): AWS's reason */
	rt_open(&t, "aws_nat_gateway.main");
	sf_replay_add(t.f.rp, "Action=CreateNatGateway",
		      EC2("CreateNatGateway", "<natGateway><natGatewayId>nat-0bad</natGatewayId></natGateway>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeNatGateways && NatGatewayId.1=nat-0bad",
		      EC2("DescribeNatGateways", "<natGatewaySet><item><natGatewayId>nat-0bad</natGatewayId><state>failed</state>"
						 "<failureCode>Gateway.NotAttached</failureCode><failureMessage>Network vpc-1 has "
						 "no Internet gateway attached</failureMessage></item></natGatewaySet>"), -1);
	out = NULL;
	T_OK(sf_rt_aws_nat_gateway.create(&t.c, want, &out) < 0);
	T_OK(out == NULL);
	T_CONTAINS(t.err.hint, "Network vpc-1 has no Internet gateway attached (Gateway.NotAttached)");
	T_STREQ(t.ids[0], "nat-0bad"); /* recorded: destroy can delete it */
	json_decref(want);
	rt_close(&t);
}

#define VPCE_ITEM(id, state, extra)                                                                          \
	"<item><vpcEndpointId>" id "</vpcEndpointId><vpcEndpointType>Interface</vpcEndpointType><state>" state   \
	"</state>" extra EC2_OWN_TAGS("lin-1", NAT_TOKEN) "</item>"

/* CreateVpcEndpoint's reply is lost after AWS made the endpoint: the
 * endpoint tagged with this operation's token is adopted (a deleted one
 * never), not made twice; create sends the token, the subnets, the group
 * and private DNS, and waits for `available`. */
T_TEST(vpc_endpoint_lost_reply_adopts_what_it_made)
{
	struct rt t;
	rt_open(&t, "aws_vpc_endpoint.sts");
	sf_replay_add(t.f.rp, "Action=CreateVpcEndpoint",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateVpcEndpointResponse><vpcEndpoint>", 1);
	sf_replay_add(t.f.rp, "Action=CreateVpcEndpoint",
		      EC2("CreateVpcEndpoint", "<vpcEndpoint><vpcEndpointId>vpce-0dup</vpcEndpointId></vpcEndpoint>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcEndpoints && tag%3Asecfaas%3Atoken",
		      EC2("DescribeVpcEndpoints", "<vpcEndpointSet>" VPCE_ITEM("vpce-0old", "deleted", "")
						  VPCE_ITEM("vpce-0aa", "pending", "") "</vpcEndpointSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcEndpoints && VpcEndpointId.1=vpce-0aa",
		      EC2("DescribeVpcEndpoints", "<vpcEndpointSet>" VPCE_ITEM("vpce-0aa", "pending", "") "</vpcEndpointSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcEndpoints && VpcEndpointId.1=vpce-0aa",
		      EC2("DescribeVpcEndpoints", "<vpcEndpointSet>" VPCE_ITEM("vpce-0aa", "available", "") "</vpcEndpointSet>"),
		      -1);
	json_t *want = json_pack("{s:s, s:s, s:s, s:[s, s], s:[s], s:b}", "vpc_id", "vpc-1", "service_name",
				 "com.amazonaws.eu-west-1.sts", "type", "Interface", "subnet_ids", "subnet-a", "subnet-b",
				 "security_group_ids", "sg-1", "private_dns", 1),
	       *out = NULL;
	T_EQ(sf_rt_aws_vpc_endpoint.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=CreateVpcEndpoint"), 1);
	T_EQ(sent2(&t, "Action=CreateVpcEndpoint", "ClientToken=" NAT_TOKEN), 1);
	T_EQ(sent2(&t, "Action=CreateVpcEndpoint", "SubnetId.2=subnet-b"), 1);
	T_EQ(sent2(&t, "Action=CreateVpcEndpoint", "SecurityGroupId.1=sg-1"), 1);
	T_EQ(sent2(&t, "Action=CreateVpcEndpoint", "PrivateDnsEnabled=true"), 1);
	T_EQ(sent2(&t, "Action=CreateVpcEndpoint", "ResourceType=vpc-endpoint"), 1);
	T_EQ(sent2(&t, "Action=DescribeVpcEndpoints", "VpcEndpointId.1=vpce-0aa"), 2); /* waited for available */
	T_STREQ(json_string_value(json_object_get(out, "id")), "vpce-0aa");
	T_EQ(t.nids, 1);
	T_STREQ(t.ids[0], "vpce-0aa");
	json_decref(out);
	rt_close(&t);

	/* drift: a subnet and the group were swapped and private DNS turned
	 * off out of band: read shows it, update puts it back in one call */
	rt_open(&t, "aws_vpc_endpoint.sts");
	sf_replay_add(t.f.rp, "Action=DescribeVpcEndpoints && VpcEndpointId.1=vpce-0aa",
		      EC2("DescribeVpcEndpoints", "<vpcEndpointSet>" VPCE_ITEM("vpce-0aa", "available",
			  "<subnetIdSet><item>subnet-a</item><item>subnet-x</item></subnetIdSet><groupSet><item><groupId>sg-x"
			  "</groupId><groupName>x</groupName></item></groupSet><privateDnsEnabled>false</privateDnsEnabled>")
			  "</vpcEndpointSet>"), 1);
	json_t *prior = json_deep_copy(want), *read = NULL;
	json_object_set_new(prior, "id", json_string("vpce-0aa"));
	T_EQ(sf_rt_aws_vpc_endpoint.read(&t.c, prior, &read), 0);
	T_STREQ(json_string_value(json_array_get(json_object_get(read, "subnet_ids"), 1)), "subnet-x");
	T_STREQ(json_string_value(json_array_get(json_object_get(read, "security_group_ids"), 0)), "sg-x");
	T_OK(json_is_false(json_object_get(read, "private_dns")));
	sf_replay_add(t.f.rp, "Action=ModifyVpcEndpoint", EC2("ModifyVpcEndpoint", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcEndpoints && VpcEndpointId.1=vpce-0aa",
		      EC2("DescribeVpcEndpoints", "<vpcEndpointSet>" VPCE_ITEM("vpce-0aa", "available",
			  "<subnetIdSet><item>subnet-b</item><item>subnet-a</item></subnetIdSet><groupSet><item><groupId>sg-1"
			  "</groupId></item></groupSet><privateDnsEnabled>true</privateDnsEnabled>") "</vpcEndpointSet>"), -1);
	out = NULL;
	T_EQ(sf_rt_aws_vpc_endpoint.update(&t.c, read, want, &out), 0);
	T_EQ(sent(&t, "Action=ModifyVpcEndpoint"), 1);
	T_EQ(sent2(&t, "Action=ModifyVpcEndpoint", "AddSubnetId.1=subnet-b"), 1);
	T_EQ(sent2(&t, "Action=ModifyVpcEndpoint", "RemoveSubnetId.1=subnet-x"), 1);
	T_EQ(sent2(&t, "Action=ModifyVpcEndpoint", "AddSecurityGroupId.1=sg-1"), 1);
	T_EQ(sent2(&t, "Action=ModifyVpcEndpoint", "RemoveSecurityGroupId.1=sg-x"), 1);
	T_EQ(sent2(&t, "Action=ModifyVpcEndpoint", "PrivateDnsEnabled=true"), 1);
	json_decref(out);
	json_decref(read);
	rt_close(&t);

	/* destroy: DeleteVpcEndpoints reports per endpoint; an unknown one is
	 * already gone, another failure is the error */
	rt_open(&t, "aws_vpc_endpoint.sts");
	sf_replay_add(t.f.rp, "Action=DeleteVpcEndpoints",
		      EC2("DeleteVpcEndpoints", "<unsuccessful><item><resourceId>vpce-0aa</resourceId><error><code>"
						"InvalidVpcEndpoint.NotFound</code><message>gone</message></error></item>"
						"</unsuccessful>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeVpcEndpoints",
		      "HTTP/1.1 400 Bad Request\nContent-Type: text/xml\n\n<Response><Errors><Error><Code>"
		      "InvalidVpcEndpointId.NotFound</Code><Message>The VpcEndpoint Id 'vpce-0aa' does not exist</Message>"
		      "</Error></Errors><RequestID>r</RequestID></Response>", -1);
	T_EQ(sf_rt_aws_vpc_endpoint.destroy(&t.c, prior), 0);
	rt_close(&t);
	rt_open(&t, "aws_vpc_endpoint.sts");
	sf_replay_add(t.f.rp, "Action=DeleteVpcEndpoints",
		      EC2("DeleteVpcEndpoints", "<unsuccessful><item><resourceId>vpce-0aa</resourceId><error><code>"
						"OperationNotPermitted</code><message>not yours</message></error></item>"
						"</unsuccessful>"), -1);
	T_OK(sf_rt_aws_vpc_endpoint.destroy(&t.c, prior) < 0);
	T_CONTAINS(t.err.msg, "OperationNotPermitted: not yours");
	rt_close(&t);
	json_decref(prior);
	json_decref(want);
}

#define SG_ITEM(perms)                                                                                        \
	"<securityGroupInfo><item><groupId>sg-1</groupId><groupName>e</groupName><ipPermissions>" perms          \
	"</ipPermissions></item></securityGroupInfo>"
#define SG_HTTPS(cidr)                                                                                        \
	"<item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort><ipRanges><item><cidrIp>" \
	cidr "</cidrIp></item></ipRanges></item>"

/* https_from: the declared HTTPS rule is the spec's, not unmanaged; the
 * rule revoked out of band reads as no https_from, and update authorizes
 * it again (checked on the group before it counts); a rule for another
 * CIDR stays unmanaged and is revoked. */
T_TEST(security_group_https_from_drift)
{
	struct rt t;
	rt_open(&t, "aws_security_group.endpoints");
	json_t *prior = json_pack("{s:s, s:s, s:s, s:s}", "id", "sg-1", "vpc_id", "vpc-1", "name", "e", "https_from",
				  "10.50.0.0/16"),
	       *read = NULL;
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups",
		      EC2("DescribeSecurityGroups", SG_ITEM(SG_HTTPS("10.50.0.0/16"))), 1);
	T_EQ(sf_rt_aws_security_group.read(&t.c, prior, &read), 0);
	T_STREQ(json_string_value(json_object_get(read, "https_from")), "10.50.0.0/16");
	T_EQ(json_array_size(json_object_get(read, "unmanaged_ingress")), 0);
	json_decref(read);
	read = NULL;
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups",
		      EC2("DescribeSecurityGroups", SG_ITEM(SG_HTTPS("0.0.0.0/0"))), 1);
	T_EQ(sf_rt_aws_security_group.read(&t.c, prior, &read), 0);
	T_OK(!json_object_get(read, "https_from"));
	T_EQ(json_array_size(json_object_get(read, "unmanaged_ingress")), 1);
	sf_replay_add(t.f.rp, "Action=AuthorizeSecurityGroupIngress", EC2("AuthorizeSecurityGroupIngress", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=RevokeSecurityGroupIngress", EC2("RevokeSecurityGroupIngress", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups",
		      EC2("DescribeSecurityGroups", SG_ITEM(SG_HTTPS("10.50.0.0/16"))), -1);
	json_t *out = NULL;
	T_EQ(sf_rt_aws_security_group.update(&t.c, read, prior, &out), 0);
	T_EQ(sent2(&t, "Action=AuthorizeSecurityGroupIngress", "CidrIp=10.50.0.0%2F16"), 1);
	T_EQ(sent2(&t, "Action=AuthorizeSecurityGroupIngress", "FromPort=443"), 1);
	T_EQ(sent2(&t, "Action=RevokeSecurityGroupIngress", "CidrIp=0.0.0.0%2F0"), 1);
	json_decref(out);
	json_decref(read);
	json_decref(prior);
	rt_close(&t);
}

/* An address is released only by the allocation id this state recorded,
 * or, when a killed create never recorded one, by this operation's
 * token: an address someone else tagged (another state's lineage and
 * token) or left untagged is never released, whatever a listing says. */
T_TEST(eip_foreign_address_is_never_released)
{
	struct rt t;
	rt_open(&t, "aws_eip.main");
	sf_replay_add(t.f.rp, "Action=DescribeAddresses && tag%3Asecfaas%3Atoken",
		      EC2("DescribeAddresses", "<addressesSet><item><allocationId>eipalloc-0theirs</allocationId>"
					       "<publicIp>198.51.100.9</publicIp>" EC2_OWN_TAGS("lin-other", "ffffffffffffffffffffffffffffffff")
					       "</item><item><allocationId>eipalloc-0bare</allocationId><publicIp>198.51.100.10"
					       "</publicIp></item></addressesSet>"), -1);
	sf_replay_add(t.f.rp, "Action=ReleaseAddress", EC2("ReleaseAddress", "<return>true</return>"), -1);
	json_t *prior = json_object(); /* a killed create: no id recorded */
	T_EQ(sf_rt_aws_eip.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "Action=ReleaseAddress"), 0);
	json_decref(prior);
	rt_close(&t);

	/* this state's own: by its recorded id, waiting out the moments AWS
	 * still counts it as the NAT gateway's */
	rt_open(&t, "aws_eip.main");
	sf_replay_add(t.f.rp, "Action=ReleaseAddress && AllocationId=eipalloc-0ours",
		      "HTTP/1.1 400 Bad Request\nContent-Type: text/xml\n\n<Response><Errors><Error><Code>InvalidIPAddress.InUse"
		      "</Code><Message>Address 198.51.100.7 is in use.</Message></Error></Errors><RequestID>r</RequestID></Response>",
		      1);
	sf_replay_add(t.f.rp, "Action=ReleaseAddress && AllocationId=eipalloc-0ours", EC2("ReleaseAddress", "<return>true</return>"), 1);
	prior = json_pack("{s:s}", "id", "eipalloc-0ours");
	T_EQ(sf_rt_aws_eip.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "Action=ReleaseAddress"), 2);
	T_EQ(sent(&t, "AllocationId=eipalloc-0theirs"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(prior);
	rt_close(&t);

	/* a fresh allocation: VPC domain, tagged with the ownership tags */
	rt_open(&t, "aws_eip.main");
	sf_replay_add(t.f.rp, "Action=AllocateAddress",
		      EC2("AllocateAddress", "<publicIp>198.51.100.7</publicIp><allocationId>eipalloc-0new</allocationId>"
					     "<domain>vpc</domain>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeAddresses && AllocationId.1=eipalloc-0new",
		      EC2("DescribeAddresses", "<addressesSet><item><allocationId>eipalloc-0new</allocationId><publicIp>"
					       "198.51.100.7</publicIp><domain>vpc</domain></item></addressesSet>"), -1);
	json_t *want = json_object(), *out = NULL;
	T_EQ(sf_rt_aws_eip.create(&t.c, want, &out), 0);
	T_EQ(sent2(&t, "Action=AllocateAddress", "Domain=vpc"), 1);
	T_EQ(sent2(&t, "Action=AllocateAddress", "ResourceType=elastic-ip"), 1);
	T_EQ(sent2(&t, "Action=AllocateAddress", "Value=lin-1"), 1);
	T_EQ(sent2(&t, "Action=AllocateAddress", "Value=" NAT_TOKEN), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "eipalloc-0new");
	T_STREQ(json_string_value(json_object_get(out, "public_ip")), "198.51.100.7");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* The private table's default route names the NAT gateway in the
 * parameter CreateRoute has for it, and reads back as nat_gateway_id. */
T_TEST(route_table_default_route_through_a_nat_gateway)
{
	struct rt t;
	rt_open(&t, "aws_route_table.private");
	sf_replay_add(t.f.rp, "Action=CreateRouteTable",
		      EC2("CreateRouteTable", "<routeTable><routeTableId>rtb-0p</routeTableId></routeTable>"), 1);
	sf_replay_add(t.f.rp, "Action=CreateRoute", EC2("CreateRoute", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeRouteTables && RouteTableId.1=rtb-0p",
		      EC2("DescribeRouteTables", "<routeTableSet><item><routeTableId>rtb-0p</routeTableId><routeSet>"
						 "<item><destinationCidrBlock>10.40.0.0/16</destinationCidrBlock><gatewayId>local"
						 "</gatewayId><origin>CreateRouteTable</origin></item>"
						 "<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-0aa"
						 "</natGatewayId><origin>CreateRoute</origin><state>active</state></item>"
						 "</routeSet><associationSet/></item></routeTableSet>"), -1);
	json_t *want = json_pack("{s:s, s:s, s:[]}", "vpc_id", "vpc-1", "nat_gateway_id", "nat-0aa", "subnet_ids"), *out = NULL;
	T_EQ(sf_rt_aws_route_table.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "Action=CreateRoute&", "NatGatewayId=nat-0aa"), 1);
	T_EQ(sent2(&t, "Action=CreateRoute&", "&GatewayId=nat"), 0);
	json_t *read = NULL;
	T_EQ(sf_rt_aws_route_table.read(&t.c, out, &read), 0);
	T_STREQ(json_string_value(json_object_get(read, "nat_gateway_id")), "nat-0aa");
	T_OK(!json_object_get(read, "gateway_id"));
	json_decref(read);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* What a create's own reply says is not read again: a new address's
 * AllocateAddress reply carries its public IP, a new gateway is attached to
 * nothing, a new route table has no association.  Only an object found by
 * its token after a lost reply is read, for what the earlier attempt did. */
T_TEST(ec2_creates_read_nothing_their_reply_says)
{
	struct rt t;
	json_t *want, *out = NULL;

	rt_open(&t, "aws_eip.main");
	sf_replay_add(t.f.rp, "Action=AllocateAddress",
		      EC2("AllocateAddress", "<publicIp>198.51.100.9</publicIp><allocationId>eipalloc-0r</allocationId>"
					     "<domain>vpc</domain>"), 1);
	want = json_object();
	T_EQ(sf_rt_aws_eip.create(&t.c, want, &out), 0);
	T_EQ(sf_replay_count(t.f.rp), 1);
	T_EQ(sent(&t, "Action=DescribeAddresses"), 0);
	T_STREQ(json_string_value(json_object_get(out, "public_ip")), "198.51.100.9");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);

	/* the reply lost: found by its token, then read for its address */
	rt_open(&t, "aws_eip.main");
	sf_replay_add(t.f.rp, "Action=AllocateAddress", "!reset", 1);
	sf_replay_add(t.f.rp, "Action=DescribeAddresses && tag%3Asecfaas%3Atoken",
		      EC2("DescribeAddresses", "<addressesSet><item><allocationId>eipalloc-0l</allocationId>"
					       "<publicIp>198.51.100.8</publicIp>" EC2_OWN_TAGS("lin-1", NAT_TOKEN)
					       "</item></addressesSet>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeAddresses && AllocationId.1=eipalloc-0l",
		      EC2("DescribeAddresses", "<addressesSet><item><allocationId>eipalloc-0l</allocationId>"
					       "<publicIp>198.51.100.8</publicIp></item></addressesSet>"), -1);
	want = json_object();
	out = NULL;
	T_EQ(sf_rt_aws_eip.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=AllocateAddress"), 1);
	T_EQ(sent(&t, "AllocationId.1=eipalloc-0l"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "eipalloc-0l");
	T_STREQ(json_string_value(json_object_get(out, "public_ip")), "198.51.100.8");
	json_decref(out);
	json_decref(want);
	rt_close(&t);

	rt_open(&t, "aws_internet_gateway.main");
	sf_replay_add(t.f.rp, "Action=CreateInternetGateway",
		      EC2("CreateInternetGateway", "<internetGateway><internetGatewayId>igw-0r</internetGatewayId>"
						   "<attachmentSet/></internetGateway>"), 1);
	sf_replay_add(t.f.rp, "Action=AttachInternetGateway && InternetGatewayId=igw-0r && VpcId=vpc-1",
		      EC2("AttachInternetGateway", "<return>true</return>"), 1);
	want = json_pack("{s:s}", "vpc_id", "vpc-1");
	out = NULL;
	T_EQ(sf_rt_aws_internet_gateway.create(&t.c, want, &out), 0);
	T_EQ(sf_replay_count(t.f.rp), 2);
	T_EQ(sent(&t, "Action=DescribeInternetGateways"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	T_STREQ(json_string_value(json_object_get(out, "id")), "igw-0r");
	json_decref(out);
	rt_close(&t);

	/* the reply lost after the earlier attempt attached it: not again */
	rt_open(&t, "aws_internet_gateway.main");
	sf_replay_add(t.f.rp, "Action=CreateInternetGateway", "!reset", 1);
	sf_replay_add(t.f.rp, "Action=DescribeInternetGateways && tag%3Asecfaas%3Atoken",
		      EC2("DescribeInternetGateways", "<internetGatewaySet><item><internetGatewayId>igw-0l</internetGatewayId>"
						      "<attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item>"
						      "</attachmentSet>" EC2_OWN_TAGS("lin-1", NAT_TOKEN) "</item></internetGatewaySet>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeInternetGateways && InternetGatewayId.1=igw-0l",
		      EC2("DescribeInternetGateways", "<internetGatewaySet><item><internetGatewayId>igw-0l</internetGatewayId>"
						      "<attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item>"
						      "</attachmentSet></item></internetGatewaySet>"), -1);
	out = NULL;
	T_EQ(sf_rt_aws_internet_gateway.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=AttachInternetGateway"), 0);
	T_EQ(sent(&t, "InternetGatewayId.1=igw-0l"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "igw-0l");
	json_decref(out);
	json_decref(want);
	rt_close(&t);

	rt_open(&t, "aws_route_table.public");
	sf_replay_add(t.f.rp, "Action=CreateRouteTable",
		      EC2("CreateRouteTable", "<routeTable><routeTableId>rtb-0r</routeTableId><vpcId>vpc-1</vpcId>"
					      "<routeSet><item><destinationCidrBlock>10.40.0.0/16</destinationCidrBlock>"
					      "<gatewayId>local</gatewayId><origin>CreateRouteTable</origin></item></routeSet>"
					      "<associationSet/></routeTable>"), 1);
	sf_replay_add(t.f.rp, "Action=CreateRoute&", EC2("CreateRoute", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=AssociateRouteTable && RouteTableId=rtb-0r",
		      EC2("AssociateRouteTable", "<associationId>rtbassoc-1</associationId>"), 2);
	want = json_pack("{s:s, s:s, s:[s, s]}", "vpc_id", "vpc-1", "gateway_id", "igw-0r", "subnet_ids", "subnet-a",
			 "subnet-b");
	out = NULL;
	T_EQ(sf_rt_aws_route_table.create(&t.c, want, &out), 0);
	T_EQ(sf_replay_count(t.f.rp), 4);
	T_EQ(sent(&t, "Action=DescribeRouteTables"), 0);
	T_EQ(sent2(&t, "Action=AssociateRouteTable", "SubnetId=subnet-a"), 1);
	T_EQ(sent2(&t, "Action=AssociateRouteTable", "SubnetId=subnet-b"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	rt_close(&t);

	/* the reply lost after the earlier attempt associated one subnet:
	 * read, and only the other one is associated */
	rt_open(&t, "aws_route_table.public");
	sf_replay_add(t.f.rp, "Action=CreateRouteTable", "!reset", 1);
	sf_replay_add(t.f.rp, "Action=DescribeRouteTables && tag%3Asecfaas%3Atoken",
		      EC2("DescribeRouteTables", "<routeTableSet><item><routeTableId>rtb-0l</routeTableId>"
						 EC2_OWN_TAGS("lin-1", NAT_TOKEN) "</item></routeTableSet>"), -1);
	sf_replay_add(t.f.rp, "Action=CreateRoute&", EC2("CreateRoute", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeRouteTables && RouteTableId.1=rtb-0l",
		      EC2("DescribeRouteTables", "<routeTableSet><item><routeTableId>rtb-0l</routeTableId><associationSet>"
						 "<item><routeTableAssociationId>rtbassoc-0a</routeTableAssociationId>"
						 "<subnetId>subnet-a</subnetId></item></associationSet></item></routeTableSet>"), -1);
	sf_replay_add(t.f.rp, "Action=AssociateRouteTable && RouteTableId=rtb-0l",
		      EC2("AssociateRouteTable", "<associationId>rtbassoc-0b</associationId>"), 1);
	out = NULL;
	T_EQ(sf_rt_aws_route_table.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "RouteTableId.1=rtb-0l"), 1);
	T_EQ(sent2(&t, "Action=AssociateRouteTable", "SubnetId=subnet-a"), 0);
	T_EQ(sent2(&t, "Action=AssociateRouteTable", "SubnetId=subnet-b"), 1);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* Destroy detaches the gateway from the VPC the state recorded and
 * deletes it: two calls, nothing read first. */
T_TEST(internet_gateway_destroy_detaches_the_recorded_vpc_without_reading)
{
	struct rt t;
	rt_open(&t, "aws_internet_gateway.main");
	sf_replay_add(t.f.rp, "Action=DetachInternetGateway && InternetGatewayId=igw-1 && VpcId=vpc-1",
		      EC2("DetachInternetGateway", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DeleteInternetGateway && InternetGatewayId=igw-1",
		      EC2("DeleteInternetGateway", "<return>true</return>"), 1);
	json_t *prior = json_pack("{s:s, s:s}", "id", "igw-1", "vpc_id", "vpc-1");
	T_EQ(sf_rt_aws_internet_gateway.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sf_replay_count(t.f.rp), 2);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(prior);
	rt_close(&t);
}

/* Update attaches the gateway back to its VPC (detached out of band).  A
 * lost reply to that attach is checked against the gateway before it is
 * sent again: sent again it would be refused as already associated, for
 * what the first attempt did. */
T_TEST(internet_gateway_update_attach_survives_a_lost_reply)
{
	struct rt t;
	rt_open(&t, "aws_internet_gateway.main");
	sf_replay_add(t.f.rp, "Action=DescribeInternetGateways && InternetGatewayId.1=igw-1",
		      EC2("DescribeInternetGateways", "<internetGatewaySet><item><internetGatewayId>igw-1</internetGatewayId>"
						      "<attachmentSet/></item></internetGatewaySet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInternetGateways && InternetGatewayId.1=igw-1",
		      EC2("DescribeInternetGateways", "<internetGatewaySet><item><internetGatewayId>igw-1</internetGatewayId>"
						      "<attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item>"
						      "</attachmentSet></item></internetGatewaySet>"), -1);
	/* the attach ran, its reply was cut; AWS refuses it a second time */
	sf_replay_add(t.f.rp, "Action=AttachInternetGateway && InternetGatewayId=igw-1 && VpcId=vpc-1",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<AttachInternetGatewayResp", 1);
	sf_replay_add(t.f.rp, "Action=AttachInternetGateway",
		      EC2_ERR("Resource.AlreadyAssociated", "resource igw-1 is already attached to network vpc-1"), -1);
	json_t *prior = json_pack("{s:s, s:s}", "id", "igw-1", "vpc_id", "(detached)");
	json_t *want = json_pack("{s:s}", "vpc_id", "vpc-1"), *out = NULL;
	T_EQ(sf_rt_aws_internet_gateway.update(&t.c, prior, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=AttachInternetGateway"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "igw-1");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	json_decref(prior);
	rt_close(&t);
}

/* Destroy deletes at once: when the run deleted the table's subnets first
 * (their deletes took the associations) that one call is all.  When AWS
 * still finds an association (a subnet that stays), it is read, undone
 * and the delete sent again. */
T_TEST(route_table_destroy_is_one_call_once_its_subnets_are_gone)
{
	struct rt t;
	rt_open(&t, "aws_route_table.private");
	sf_replay_add(t.f.rp, "Action=DeleteRouteTable", EC2("DeleteRouteTable", "<return>true</return>"), 1);
	json_t *prior = json_pack("{s:s, s:s, s:[s]}", "id", "rtb-0p", "vpc_id", "vpc-1", "subnet_ids", "subnet-a");
	T_EQ(sf_rt_aws_route_table.destroy(&t.c, prior), 0);
	T_EQ(sf_replay_count(t.f.rp), 1);
	T_EQ(sent(&t, "Action=DeleteRouteTable"), 1);
	rt_close(&t);

	rt_open(&t, "aws_route_table.private");
	sf_replay_add(t.f.rp, "Action=DeleteRouteTable",
		      EC2_ERR("DependencyViolation", "The routeTable 'rtb-0p' has dependencies and cannot be deleted."), 1);
	sf_replay_add(t.f.rp, "Action=DescribeRouteTables && RouteTableId.1=rtb-0p",
		      EC2("DescribeRouteTables", "<routeTableSet><item><routeTableId>rtb-0p</routeTableId><associationSet>"
						 "<item><routeTableAssociationId>rtbassoc-1</routeTableAssociationId>"
						 "<routeTableId>rtb-0p</routeTableId><subnetId>subnet-a</subnetId>"
						 "<main>false</main></item></associationSet></item></routeTableSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DisassociateRouteTable && AssociationId=rtbassoc-1",
		      EC2("DisassociateRouteTable", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DeleteRouteTable", EC2("DeleteRouteTable", "<return>true</return>"), 1);
	T_EQ(sf_rt_aws_route_table.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=DeleteRouteTable"), 2);
	T_EQ(sent(&t, "Action=DisassociateRouteTable"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(prior);
	rt_close(&t);
}

#define IAM(act, body)                                                                                      \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<" act "Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">" \
	body "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></" act "Response>"
#define IAM_NOSUCH                                                                                          \
	"HTTP/1.1 404 Not Found\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity"  \
	"</Code><Message>not attached</Message></Error><RequestId>r</RequestId></ErrorResponse>"

#define IAM_TAKEN                                                                                           \
	"HTTP/1.1 409 Conflict\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>"          \
	"EntityAlreadyExists</Code><Message>Instance Profile p already exists.</Message></Error><RequestId>r"      \
	"</RequestId></ErrorResponse>"
#define IP_TAGS(ws, lin, tok)                                                                               \
	IAM("ListInstanceProfileTags", "<ListInstanceProfileTagsResult><Tags>"                                      \
		"<member><Key>secfaas:workspace</Key><Value>" ws "</Value></member>"                                \
		"<member><Key>secfaas:lineage</Key><Value>" lin "</Value></member>"                                 \
		"<member><Key>secfaas:address</Key><Value>aws_iam_instance_profile.node</Value></member>"          \
		"<member><Key>secfaas:token</Key><Value>" tok "</Value></member>"                                   \
		"</Tags><IsTruncated>false</IsTruncated></ListInstanceProfileTagsResult>")

/* A taken name goes down the create path's lookup: another state's
 * profile (same spec, so the same address, but another lineage) is
 * refused naming its owner and never touched; one this state's killed
 * run made (its token) is adopted. */
T_TEST(profile_create_adopts_only_what_its_tags_prove_ours)
{
	struct rt t;
	rt_open(&t, "aws_iam_instance_profile.node");
	sf_replay_add(t.f.rp, "Action=CreateInstanceProfile", IAM_TAKEN, -1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfileTags", IP_TAGS("demo", "lin-9", "ffff"), -1);
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile", IAM_NOSUCH, -1);
	json_t *want = json_pack("{s:s, s:s}", "name", "p", "role", "r"), *out = NULL;
	T_EQ(sf_rt_aws_iam_instance_profile.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_CONTAINS(t.err.hint, "secfaas import");
	T_EQ(t.nids, 0);
	T_EQ(sent(&t, "Action=AddRoleToInstanceProfile"), 0);
	T_EQ(sent(&t, "Action=GetInstanceProfile"), 0);
	T_OK(out == NULL);
	rt_close(&t);

	rt_open(&t, "aws_iam_instance_profile.node");
	sf_replay_add(t.f.rp, "Action=CreateInstanceProfile", IAM_TAKEN, -1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfileTags",
		      IP_TAGS("demo", "lin-1", "0123456789abcdef0123456789abcdef"), -1);
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile",
		      IAM("GetInstanceProfile", "<GetInstanceProfileResult><InstanceProfile><InstanceProfileName>p"
						"</InstanceProfileName><Arn>arn:aws:iam::1:instance-profile/p</Arn><Roles>"
						"<member><RoleName>r</RoleName></member></Roles></InstanceProfile>"
						"</GetInstanceProfileResult>"),
		      -1);
	T_EQ(sf_rt_aws_iam_instance_profile.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=CreateInstanceProfile"), 1);
	T_EQ(t.nids, 1);
	T_STREQ(json_string_value(json_object_get(out, "arn")), "arn:aws:iam::1:instance-profile/p");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* A new profile is not read back: CreateInstanceProfile's reply carries
 * its ARN, and a new profile holds no role yet. */
T_TEST(profile_fresh_create_takes_its_reply_without_a_read)
{
	struct rt t;
	rt_open(&t, "aws_iam_instance_profile.node");
	sf_replay_add(t.f.rp, "Action=CreateInstanceProfile",
		      IAM("CreateInstanceProfile", "<CreateInstanceProfileResult><InstanceProfile><InstanceProfileName>p"
						   "</InstanceProfileName><Arn>arn:aws:iam::1:instance-profile/p</Arn><Roles/>"
						   "</InstanceProfile></CreateInstanceProfileResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=AddRoleToInstanceProfile && RoleName=r",
		      IAM("AddRoleToInstanceProfile", ""), 1);
	json_t *want = json_pack("{s:s, s:s}", "name", "p", "role", "r"), *out = NULL;
	T_EQ(sf_rt_aws_iam_instance_profile.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=GetInstanceProfile"), 0);
	T_EQ(sent(&t, "Action=AddRoleToInstanceProfile"), 1);
	T_STREQ(json_string_value(json_object_get(out, "arn")), "arn:aws:iam::1:instance-profile/p");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

#define IAM_NO_INLINE                                                                                       \
	IAM("ListRolePolicies", "<ListRolePoliciesResult><PolicyNames/><IsTruncated>false</IsTruncated>"             \
				"</ListRolePoliciesResult>")
#define IAM_NO_ATTACHED                                                                                     \
	IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies/>"                   \
					"<IsTruncated>false</IsTruncated></ListAttachedRolePoliciesResult>")
static json_t *ca_policy(const char *action)
{
	return json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "Version", "2012-10-17", "Statement", "Effect", "Allow", "Action",
			 action, "Resource", "*");
}

/* A role CreateRole just made has no policy: each wanted one is attached
 * without listing first.  One the lookup adopted after a lost reply may
 * have some already (the earlier attempt got that far): listed, and only
 * the missing one is attached. */
T_TEST(role_create_lists_policies_only_of_an_adopted_role)
{
	struct rt t;
	json_t *want = json_pack("{s:s, s:s, s:[s, s]}", "name", "p-node", "service", "ec2.amazonaws.com", "policy_arns",
				 "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"),
	       *out = NULL;
	rt_open(&t, "aws_iam_role.node");
	sf_replay_add(t.f.rp, "Action=CreateRole",
		      IAM("CreateRole", "<CreateRoleResult><Role><RoleName>p-node</RoleName>"
					"<Arn>arn:aws:iam::1:role/p-node</Arn></Role></CreateRoleResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=AttachRolePolicy", IAM("AttachRolePolicy", ""), -1);
	T_EQ(sf_rt_aws_iam_role.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=ListAttachedRolePolicies"), 0);
	T_EQ(sent(&t, "Action=AttachRolePolicy"), 2);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	out = NULL;
	rt_close(&t);

	rt_open(&t, "aws_iam_role.node");
	sf_replay_add(t.f.rp, "Action=CreateRole", "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateRoleResponse>", 1);
	sf_replay_add(t.f.rp, "Action=CreateRole",
		      "HTTP/1.1 409 Conflict\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>"
		      "EntityAlreadyExists</Code><Message>Role with name p-node already exists.</Message></Error>"
		      "<RequestId>r</RequestId></ErrorResponse>",
		      -1);
	sf_replay_add(t.f.rp, "Action=ListRoleTags",
		      IAM("ListRoleTags", "<ListRoleTagsResult><Tags>"
					  "<member><Key>secfaas:workspace</Key><Value>demo</Value></member>"
					  "<member><Key>secfaas:lineage</Key><Value>lin-1</Value></member>"
					  "<member><Key>secfaas:address</Key><Value>aws_iam_role.node</Value></member>"
					  "<member><Key>secfaas:token</Key><Value>0123456789abcdef0123456789abcdef</Value></member>"
					  "</Tags><IsTruncated>false</IsTruncated></ListRoleTagsResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=GetRole",
		      IAM("GetRole", "<GetRoleResult><Role><RoleName>p-node</RoleName><Arn>arn:aws:iam::1:role/p-node"
				     "</Arn></Role></GetRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
		      IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies><member>"
						      "<PolicyName>AmazonEKSWorkerNodePolicy</PolicyName><PolicyArn>"
						      "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy</PolicyArn></member>"
						      "</AttachedPolicies><IsTruncated>false</IsTruncated>"
						      "</ListAttachedRolePoliciesResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=AttachRolePolicy", IAM("AttachRolePolicy", ""), -1);
	T_EQ(sf_rt_aws_iam_role.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=ListAttachedRolePolicies"), 1);
	T_EQ(sent(&t, "Action=AttachRolePolicy"), 1);
	T_EQ(sent2(&t, "Action=AttachRolePolicy", "AmazonEC2ContainerRegistryReadOnly"), 1);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* Inline policies: create writes each document (compact JSON); read
 * compares the live document as JSON (white space IAM kept or not), so an
 * edited one reads back as the live document and a deleted one as absent;
 * update writes only what differs and deletes what the spec dropped;
 * destroy deletes every inline policy before the role (IAM refuses to
 * delete a role that has one). */
T_TEST(role_inline_policies_are_written_read_back_and_removed)
{
	struct rt t;
	rt_open(&t, "aws_iam_role.autoscaler");
	sf_replay_add(t.f.rp, "Action=CreateRole",
		      IAM("CreateRole", "<CreateRoleResult><Role><RoleName>p-ca</RoleName>"
					"<Arn>arn:aws:iam::1:role/p-ca</Arn></Role></CreateRoleResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
	sf_replay_add(t.f.rp, "Action=PutRolePolicy", IAM("PutRolePolicy", ""), -1);
	json_t *want = json_pack("{s:s, s:s, s:{s:o}}", "name", "p-ca", "service", "pods.eks.amazonaws.com",
				 "inline_policies", "cluster-autoscaler", ca_policy("autoscaling:SetDesiredCapacity")),
	       *out = NULL;
	T_EQ(sf_rt_aws_iam_role.validate(want, &t.err), 0);
	T_EQ(sf_rt_aws_iam_role.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "Action=PutRolePolicy", "PolicyName=cluster-autoscaler"), 1);
	T_EQ(sent2(&t, "Action=PutRolePolicy", "autoscaling%3ASetDesiredCapacity"), 1);
	T_OK(json_equal(json_object_get(out, "inline_policies"), json_object_get(want, "inline_policies")));
	json_decref(out);
	rt_close(&t);

	/* read: the same document with IAM's spacing is no drift; an edited
	 * one shows; others are unmanaged */
	const char *live[] = {"%7B%20%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A"
			      "%22Allow%22%2C%22Action%22%3A%22autoscaling%3ASetDesiredCapacity%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
			      "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A"
			      "%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D"};
	for (int i = 0; i < 2; i++) {
		rt_open(&t, "aws_iam_role.autoscaler");
		sf_replay_add(t.f.rp, "Action=GetRole&",
			      IAM("GetRole", "<GetRoleResult><Role><RoleName>p-ca</RoleName><Arn>arn:aws:iam::1:role/p-ca"
					     "</Arn><AssumeRolePolicyDocument>x</AssumeRolePolicyDocument></Role></GetRoleResult>"),
			      -1);
		sf_replay_add(t.f.rp, "Action=ListRolePolicies",
			      IAM("ListRolePolicies", "<ListRolePoliciesResult><PolicyNames><member>cluster-autoscaler</member>"
						      "<member>hand-made</member></PolicyNames><IsTruncated>false</IsTruncated>"
						      "</ListRolePoliciesResult>"),
			      -1);
		char *reply = xasprintf("<GetRolePolicyResult><RoleName>p-ca</RoleName><PolicyName>cluster-autoscaler"
					"</PolicyName><PolicyDocument>%s</PolicyDocument></GetRolePolicyResult>",
					live[i]);
		char *full = xasprintf(IAM("GetRolePolicy", "%s"), reply);
		sf_replay_add(t.f.rp, "Action=GetRolePolicy", full, -1);
		sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
		json_t *read = NULL;
		T_EQ(sf_rt_aws_iam_role.read(&t.c, want, &read), 0);
		if (t.err.code)
			fprintf(stderr, "err: %s\n", t.err.msg);
		T_EQ(json_equal(json_object_get(read, "inline_policies"), json_object_get(want, "inline_policies")), i == 0);
		T_STREQ(json_string_value(json_array_get(json_object_get(read, "unmanaged_inline_policies"), 0)), "hand-made");
		T_EQ(json_array_size(json_object_get(read, "unmanaged_inline_policies")), 1);
		if (i == 1) {
			/* update back to the spec: one PutRolePolicy for the edited
			 * document, the unmanaged one deleted */
			json_object_set(read, "service", json_object_get(want, "service"));
			sf_replay_add(t.f.rp, "Action=PutRolePolicy", IAM("PutRolePolicy", ""), -1);
			sf_replay_add(t.f.rp, "Action=DeleteRolePolicy", IAM("DeleteRolePolicy", ""), -1);
			sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
			json_t *upd = NULL;
			T_EQ(sf_rt_aws_iam_role.update(&t.c, read, want, &upd), 0);
			T_EQ(sent2(&t, "Action=PutRolePolicy", "PolicyName=cluster-autoscaler"), 1);
			T_EQ(sent2(&t, "Action=DeleteRolePolicy", "PolicyName=hand-made"), 1);
			T_EQ(sent2(&t, "Action=DeleteRolePolicy", "PolicyName=cluster-autoscaler"), 0);
			json_decref(upd);
		}
		json_decref(read);
		free(reply);
		free(full);
		rt_close(&t);
	}

	/* the spec drops the policy: DeleteRolePolicy, no Put */
	rt_open(&t, "aws_iam_role.autoscaler");
	sf_replay_add(t.f.rp, "Action=DeleteRolePolicy", IAM("DeleteRolePolicy", ""), -1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
	json_t *bare = json_pack("{s:s, s:s}", "name", "p-ca", "service", "pods.eks.amazonaws.com"), *upd = NULL;
	T_EQ(sf_rt_aws_iam_role.update(&t.c, want, bare, &upd), 0);
	T_EQ(sent2(&t, "Action=DeleteRolePolicy", "PolicyName=cluster-autoscaler"), 1);
	T_EQ(sent(&t, "Action=PutRolePolicy"), 0);
	json_decref(upd);
	json_decref(bare);
	rt_close(&t);

	/* destroy: every inline policy goes before the DeleteRole that
	 * succeeds: the recorded one at once, and the hand-made one IAM's
	 * DeleteConflict reveals (the listing then names both); one already
	 * gone (a lost reply's retry) counts as deleted */
	rt_open(&t, "aws_iam_role.autoscaler");
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles/>"
							 "<IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
	sf_replay_add(t.f.rp, "Action=ListRolePolicies",
		      IAM("ListRolePolicies", "<ListRolePoliciesResult><PolicyNames><member>cluster-autoscaler</member>"
					      "<member>hand-made</member></PolicyNames><IsTruncated>false</IsTruncated>"
					      "</ListRolePoliciesResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=DeleteRolePolicy && PolicyName=hand-made", IAM_NOSUCH, -1);
	sf_replay_add(t.f.rp, "Action=DeleteRolePolicy", IAM("DeleteRolePolicy", ""), -1);
	sf_replay_add(t.f.rp, "Action=DeleteRole",
		      "HTTP/1.1 409 Conflict\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>"
		      "DeleteConflict</Code><Message>Cannot delete entity, must delete policies first.</Message>"
		      "</Error><RequestId>r</RequestId></ErrorResponse>",
		      1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, want), 0);
	T_EQ(sent(&t, "Action=DeleteRolePolicy"), 3);
	T_EQ(sent2(&t, "Action=DeleteRolePolicy", "hand-made"), 1);
	T_EQ(sent(&t, "Action=DeleteRole&"), 2);
	size_t last_policy = 0, role_at = 0;
	for (size_t i = 0; i < sf_replay_count(t.f.rp); i++) {
		if (strstr(sf_replay_request(t.f.rp, i), "Action=DeleteRolePolicy"))
			last_policy = i;
		if (strstr(sf_replay_request(t.f.rp, i), "Action=DeleteRole&"))
			role_at = i;
	}
	T_OK(role_at > last_policy);
	rt_close(&t);

	/* validate: IAM's name alphabet, a Statement list, the size limit */
	struct sf_err e = SF_ERR_INIT;
	json_t *bad = json_pack("{s:s, s:s, s:{s:o}}", "name", "p", "service", "ec2.amazonaws.com", "inline_policies",
				"bad name", ca_policy("x"));
	T_OK(sf_rt_aws_iam_role.validate(bad, &e) < 0);
	T_CONTAINS(e.msg, "not an IAM policy name");
	json_decref(bad);
	sf_err_clear(&e);
	bad = json_pack("{s:s, s:s, s:{s:{s:s}}}", "name", "p", "service", "ec2.amazonaws.com", "inline_policies", "a",
			"Version", "2012-10-17");
	T_OK(sf_rt_aws_iam_role.validate(bad, &e) < 0);
	T_CONTAINS(e.msg, "Statement");
	json_decref(bad);
	sf_err_clear(&e);
	struct sf_buf big = SF_BUF_INIT;
	for (int i = 0; i < 800; i++)
		sf_buf_puts(&big, "autoscaling:X");
	bad = json_pack("{s:s, s:s, s:{s:o}}", "name", "p", "service", "ec2.amazonaws.com", "inline_policies", "a",
			ca_policy(sf_buf_cstr(&big)));
	T_OK(sf_rt_aws_iam_role.validate(bad, &e) < 0);
	T_CONTAINS(e.msg, "IAM allows a role 10240");
	sf_buf_release(&big);
	json_decref(bad);
	sf_err_clear(&e);
	json_decref(want);
}

/* Destroy of a role whose DetachRolePolicy reply was lost: "not found" on
 * the retry counts only once the role's attachments confirm it; a role the
 * policy is still attached to is not deleted as if it were gone. */
T_TEST(role_destroy_confirms_a_detach_before_it_counts)
{
	struct rt t;
	const char *pol = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy";
	rt_open(&t, "aws_iam_role.cluster");
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
		      IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies><member>"
						      "<PolicyArn>arn:aws:iam::aws:policy/AmazonEKSClusterPolicy</PolicyArn>"
						      "</member></AttachedPolicies><IsTruncated>false</IsTruncated>"
						      "</ListAttachedRolePoliciesResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
		      IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies/>"
						      "<IsTruncated>false</IsTruncated></ListAttachedRolePoliciesResult>"),
		      -1);
	/* the detach ran but its reply was cut; the parent still showed the
	 * policy at the first look (eventual), and the retry says not found */
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy", "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DetachRolePolicyResp", 1);
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy", IAM_NOSUCH, -1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles/>"
							 "<IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=ListRolePolicies", IAM_NO_INLINE, -1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
	json_t *prior = json_pack("{s:s, s:[s]}", "name", "c-cluster", "policy_arns", pol);
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=DetachRolePolicy"), 2);
	T_EQ(sent(&t, "Action=DeleteRole"), 1);
	rt_close(&t);

	/* the policy stays attached while the retry says "not found": no
	 * DeleteRole, and an error that says the detach is not confirmed */
	rt_open(&t, "aws_iam_role.cluster");
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
		      IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies><member>"
						      "<PolicyArn>arn:aws:iam::aws:policy/AmazonEKSClusterPolicy</PolicyArn>"
						      "</member></AttachedPolicies><IsTruncated>false</IsTruncated>"
						      "</ListAttachedRolePoliciesResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy", IAM_NOSUCH, -1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles/>"
							 "<IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
	T_OK(sf_rt_aws_iam_role.destroy(&t.c, prior) < 0);
	T_EQ(sent(&t, "Action=DeleteRole"), 0);
	T_CONTAINS(t.err.msg, "could not be confirmed");
	json_decref(prior);
	rt_close(&t);
}

#define PROFILES_FOR_ROLE(members, more)                                                                    \
	IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles>" members         \
					   "</InstanceProfiles>" more "</ListInstanceProfilesForRoleResult>")
#define PROFILE_TAGS(lin)                                                                                   \
	IAM("ListInstanceProfileTags", "<ListInstanceProfileTagsResult><Tags><member><Key>secfaas:lineage</Key>"    \
				       "<Value>" lin "</Value></member></Tags><IsTruncated>false</IsTruncated>"       \
				       "</ListInstanceProfileTagsResult>")

/* Destroy reads every page of the role's instance profiles: one on a
 * later page is taken out too (else DeleteRole meets DeleteConflict), and
 * one there that belongs to someone else stops the destroy before
 * anything is changed. */
T_TEST(role_destroy_reads_every_page_of_its_instance_profiles)
{
	struct rt t;
	json_t *prior = json_pack("{s:s, s:[]}", "name", "c-node", "policy_arns");
	for (int foreign = 0; foreign < 2; foreign++) {
		rt_open(&t, "aws_iam_role.node");
		sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole && Marker=m1",
			      PROFILES_FOR_ROLE("<member><InstanceProfileName>p2</InstanceProfileName></member>",
						"<IsTruncated>false</IsTruncated>"), 1);
		sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
			      PROFILES_FOR_ROLE("<member><InstanceProfileName>p1</InstanceProfileName></member>",
						"<IsTruncated>true</IsTruncated><Marker>m1</Marker>"), 1);
		sf_replay_add(t.f.rp, "Action=ListInstanceProfileTags && InstanceProfileName=p1", PROFILE_TAGS("lin-1"), -1);
		sf_replay_add(t.f.rp, "Action=ListInstanceProfileTags && InstanceProfileName=p2",
			      foreign ? PROFILE_TAGS("lin-9") : PROFILE_TAGS("lin-1"), -1);
		sf_replay_add(t.f.rp, "Action=RemoveRoleFromInstanceProfile", IAM("RemoveRoleFromInstanceProfile", ""), -1);
		sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
		int rc = sf_rt_aws_iam_role.destroy(&t.c, prior);
		if (!foreign) {
			if (t.err.code)
				fprintf(stderr, "err: %s\n", t.err.msg);
			T_EQ(rc, 0);
			T_EQ(sent2(&t, "Action=RemoveRoleFromInstanceProfile", "InstanceProfileName=p1"), 1);
			T_EQ(sent2(&t, "Action=RemoveRoleFromInstanceProfile", "InstanceProfileName=p2"), 1);
			T_EQ(sent(&t, "Action=DeleteRole"), 1);
		} else {
			T_EQ(rc, SF_ECONFLICT);
			T_CONTAINS(t.err.msg, "instance profile p2");
			T_EQ(sent(&t, "Action=RemoveRoleFromInstanceProfile"), 0);
			T_EQ(sent(&t, "Action=DeleteRole"), 0);
		}
		T_EQ(sf_replay_unmatched(t.f.rp), 0);
		rt_close(&t);
	}
	json_decref(prior);
}

/* Destroy removes the policies the state recorded without listing the
 * role's first: one detach and one inline delete each, then DeleteRole.
 * A policy attached outside secfaas makes IAM refuse the delete
 * (DeleteConflict); only then are the role's policies listed and
 * removed, and the delete sent again. */
T_TEST(role_destroy_lists_policies_only_when_iam_finds_more)
{
	struct rt t;
	rt_open(&t, "aws_iam_role.autoscaler");
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles/>"
							 "<IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy && PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEKSClusterPolicy",
		      IAM("DetachRolePolicy", ""), 1);
	sf_replay_add(t.f.rp, "Action=DeleteRolePolicy && PolicyName=scale", IAM("DeleteRolePolicy", ""), 1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
	json_t *prior = json_pack("{s:s, s:[s], s:{s:{}}}", "name", "c-as", "policy_arns", "AmazonEKSClusterPolicy",
				  "inline_policies", "scale");
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sf_replay_count(t.f.rp), 4);
	T_EQ(sent(&t, "Action=ListAttachedRolePolicies") + sent(&t, "Action=ListRolePolicies"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	rt_close(&t);

	rt_open(&t, "aws_iam_role.autoscaler");
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles/>"
							 "<IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy", IAM("DetachRolePolicy", ""), 2);
	sf_replay_add(t.f.rp, "Action=DeleteRolePolicy && PolicyName=scale", IAM("DeleteRolePolicy", ""), 1);
	sf_replay_add(t.f.rp, "Action=DeleteRole",
		      "HTTP/1.1 409 Conflict\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>"
		      "DeleteConflict</Code><Message>Cannot delete entity, must detach all policies first.</Message>"
		      "</Error><RequestId>r</RequestId></ErrorResponse>",
		      1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
		      IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies><member>"
						      "<PolicyArn>arn:aws:iam::aws:policy/AdministratorAccess</PolicyArn>"
						      "</member></AttachedPolicies><IsTruncated>false</IsTruncated>"
						      "</ListAttachedRolePoliciesResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=ListRolePolicies", IAM_NO_INLINE, 1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "Action=DetachRolePolicy", "AdministratorAccess"), 1);
	T_EQ(sent(&t, "Action=DeleteRole&"), 2);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	rt_close(&t);

	/* a profile someone else owns holds the role: nothing is detached or
	 * listed, no DeleteRole, and the error names the profile */
	rt_open(&t, "aws_iam_role.autoscaler");
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles><member>"
							 "<InstanceProfileName>team-profile</InstanceProfileName></member>"
							 "</InstanceProfiles><IsTruncated>false</IsTruncated>"
							 "</ListInstanceProfilesForRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfileTags",
		      IAM("ListInstanceProfileTags", "<ListInstanceProfileTagsResult><Tags/><IsTruncated>false</IsTruncated>"
						     "</ListInstanceProfileTagsResult>"),
		      -1);
	T_OK(sf_rt_aws_iam_role.destroy(&t.c, prior) < 0);
	T_CONTAINS(t.err.msg, "team-profile");
	T_EQ(sf_replay_count(t.f.rp), 2);
	json_decref(prior);
	rt_close(&t);
}

T_TEST(gvisor_ami_reused_by_bake_key_without_a_builder)
{
	struct rt t;
	rt_open(&t, "aws_gvisor_ami.gvisor_x86_64");
	sf_replay_add(t.f.rp, "AmazonSSM.GetParameter && amazon-linux-2023/x86_64/standard",
		      "HTTP/1.1 200 OK\nContent-Type: application/x-amz-json-1.1\n\n"
		      "{\"Parameter\":{\"Name\":\"x\",\"Type\":\"String\",\"Value\":\"ami-0123456789abcdef0\"}}",
		      1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0fedcba9876543210</imageId><imageState>available</imageState>"
			  "<tagSet><item><key>secfaas:containerd-version</key><value>2.1.4</value></item></tagSet></item></imagesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0fedcba9876543210",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0fedcba9876543210</imageId><imageState>available</imageState></item></imagesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances", EC2("DescribeInstances", "<reservationSet/>"), 1);
	json_t *want = json_pack("{s:s, s:s, s:s}", "kubernetes_version", "1.31", "arch", "x86_64", "gvisor_release",
				 "20250113.0"),
	       *out = NULL;
	T_EQ(sf_rt_aws_gvisor_ami.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=RunInstances"), 0);
	T_EQ(sent(&t, "Action=CreateImage"), 0);
	T_STREQ(json_string_value(json_object_get(out, "id")), "ami-0fedcba9876543210");
	T_STREQ(json_string_value(json_object_get(out, "base_ami_id")), "ami-0123456789abcdef0");
	T_OK(json_is_true(json_object_get(out, "reused")));
	T_STREQ(json_string_value(json_object_get(out, "containerd_version")), "2.1.4"); /* the image's tag */
	T_EQ(strlen(json_string_value(json_object_get(out, "bake_key"))), 64);
	/* the key searched for (image) and reaped by (builders) is the one returned */
	T_EQ(sent2(&t, "Action=DescribeImages", json_string_value(json_object_get(out, "bake_key"))), 1);
	T_EQ(sent2(&t, "Action=DescribeInstances", json_string_value(json_object_get(out, "bake_key"))), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* A bake whose CreateImage meets its own name taken: a bake of the same key
 * (a run that lost its lock, still baking) finished first.  The image of
 * the key is reused, not reported as a failure; an image holding the name
 * without the key is refused with AWS's error. */
#define AMI_SSM                                                                                              \
	"HTTP/1.1 200 OK\nContent-Type: application/x-amz-json-1.1\n\n"                                       \
	"{\"Parameter\":{\"Name\":\"x\",\"Type\":\"String\",\"Value\":\"ami-0123456789abcdef0\"}}"
static void ami_bake_replies(struct rt *t)
{
	sf_replay_add(t->f.rp, "AmazonSSM.GetParameter && amazon-linux-2023/x86_64/standard", AMI_SSM, 1);
	/* nothing of the key at first: bake */
	sf_replay_add(t->f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key", EC2("DescribeImages", "<imagesSet/>"), 1);
	sf_replay_add(t->f.rp, "Action=RunInstances",
		      EC2("RunInstances", "<instancesSet><item><instanceId>i-0b</instanceId></item></instancesSet>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeInstances && InstanceId.1=i-0b",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "<instanceState><name>stopped</name></instanceState></item></instancesSet></item></reservationSet>"), 1);
	/* "SECFAAS-BAKE-OK done\nSECFAAS-CONTAINERD-VERSION containerd github.com/containerd/containerd v2.1.4 x\n" */
	sf_replay_add(t->f.rp, "Action=GetConsoleOutput",
		      EC2("GetConsoleOutput", "<output>U0VDRkFBUy1CQUtFLU9LIGRvbmUKU0VDRkFBUy1DT05UQUlORVJELVZFUlNJ"
			  "T04gY29udGFpbmVyZCBnaXRodWIuY29tL2NvbnRhaW5lcmQvY29udGFpbmVyZCB2Mi4xLjQgeAo=</output>"), 1);
	sf_replay_add(t->f.rp, "Action=CreateImage",
		      EC2_ERR("InvalidAMIName.Duplicate", "AMI name secfaas-gvisor-x is already in use by AMI ami-0aaaaaaaaaaaaaaaa"),
		      1);
}

T_TEST(gvisor_ami_name_taken_by_a_bake_of_the_same_key_is_reused)
{
	struct rt t;
	rt_open(&t, "aws_gvisor_ami.gvisor_x86_64");
	ami_bake_replies(&t);
	sf_replay_add(t.f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0aaaaaaaaaaaaaaaa</imageId><imageState>pending</imageState>"
			  "</item></imagesSet>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0aaaaaaaaaaaaaaaa",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0aaaaaaaaaaaaaaaa</imageId><imageState>available</imageState></item></imagesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && tag%3Asecfaas%3Alineage",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "</item></instancesSet></item></reservationSet>"), 1);
	sf_replay_add(t.f.rp, "Action=TerminateInstances && InstanceId.1=i-0b", EC2("TerminateInstances", ""), 1);
	json_t *want = json_pack("{s:s, s:s, s:s}", "kubernetes_version", "1.31", "arch", "x86_64", "gvisor_release",
				 "20250113.0"),
	       *out = NULL;
	T_EQ(sf_rt_aws_gvisor_ami.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=CreateImage"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "ami-0aaaaaaaaaaaaaaaa");
	T_EQ(t.nids, 1);
	T_EQ(sent(&t, "Action=TerminateInstances"), 1); /* this run's builder does not outlive the bake */
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	rt_close(&t);

	/* the name is held by an image that is not of this key: refused */
	rt_open(&t, "aws_gvisor_ami.gvisor_x86_64");
	ami_bake_replies(&t);
	sf_replay_add(t.f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key", EC2("DescribeImages", "<imagesSet/>"), -1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && tag%3Asecfaas%3Alineage",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "</item></instancesSet></item></reservationSet>"), 1);
	sf_replay_add(t.f.rp, "Action=TerminateInstances && InstanceId.1=i-0b", EC2("TerminateInstances", ""), 1);
	out = NULL;
	T_OK(sf_rt_aws_gvisor_ami.create(&t.c, want, &out) < 0);
	T_STREQ(t.err.aws_code, "InvalidAMIName.Duplicate");
	T_OK(out == NULL);
	T_EQ(sent(&t, "Action=TerminateInstances"), 1); /* a failed bake leaves no builder */
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(want);
	rt_close(&t);
}

/* The bake's two waits, each with a history of its own: the builder's run
 * and the image, asked for and recorded under their names (the whole
 * step's history mixes both, and a reuse of an image costs seconds). */
static char part_asked[4][16], part_rec[4][16];
static double part_secs[4];
static int nasked, nrec, step_asked;
static int fake_typical(struct sf_rctx *c, double *lo, double *hi)
{
	(void)c;
	step_asked++;
	*lo = 1;
	*hi = 2;
	return 0;
}
static int fake_typical_part(struct sf_rctx *c, const char *part, double *lo, double *hi)
{
	(void)c;
	if (nasked < 4)
		snprintf(part_asked[nasked++], sizeof part_asked[0], "%s", part);
	*lo = *hi = 0;
	return -1; /* no history yet: AWS's usual figures */
}
static void fake_part_took(struct sf_rctx *c, const char *part, double seconds)
{
	(void)c;
	if (nrec < 4) {
		part_secs[nrec] = seconds;
		snprintf(part_rec[nrec++], sizeof part_rec[0], "%s", part);
	}
}

static void ami_parts_open(struct rt *t)
{
	rt_open(t, "aws_gvisor_ami.gvisor_x86_64");
	nasked = nrec = step_asked = 0;
	t->c.typical = fake_typical;
	t->c.typical_part = fake_typical_part;
	t->c.part_took = fake_part_took;
}

T_TEST(gvisor_ami_bake_waits_use_and_record_their_own_history)
{
	struct rt t;
	ami_parts_open(&t);
	sf_replay_add(t.f.rp, "AmazonSSM.GetParameter && amazon-linux-2023/x86_64/standard", AMI_SSM, 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key", EC2("DescribeImages", "<imagesSet/>"), 1);
	sf_replay_add(t.f.rp, "Action=RunInstances",
		      EC2("RunInstances", "<instancesSet><item><instanceId>i-0b</instanceId></item></instancesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && InstanceId.1=i-0b",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "<instanceState><name>stopped</name></instanceState></item></instancesSet></item></reservationSet>"), 1);
	sf_replay_add(t.f.rp, "Action=GetConsoleOutput",
		      EC2("GetConsoleOutput", "<output>U0VDRkFBUy1CQUtFLU9LIGRvbmUKU0VDRkFBUy1DT05UQUlORVJELVZFUlNJ"
			  "T04gY29udGFpbmVyZCBnaXRodWIuY29tL2NvbnRhaW5lcmQvY29udGFpbmVyZCB2Mi4xLjQgeAo=</output>"), 1);
	sf_replay_add(t.f.rp, "Action=CreateImage", EC2("CreateImage", "<imageId>ami-0c</imageId>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0c",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0c</imageId><imageState>available</imageState></item></imagesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && tag%3Asecfaas%3Alineage",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "</item></instancesSet></item></reservationSet>"), 1);
	sf_replay_add(t.f.rp, "Action=TerminateInstances && InstanceId.1=i-0b", EC2("TerminateInstances", ""), 1);
	json_t *want = json_pack("{s:s, s:s, s:s}", "kubernetes_version", "1.31", "arch", "x86_64", "gvisor_release",
				 "20250113.0"),
	       *out = NULL;
	T_EQ(sf_rt_aws_gvisor_ami.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_STREQ(json_string_value(json_object_get(out, "id")), "ami-0c");
	/* one read each: the builder when its run is usually over, the
	 * image when it usually is available, not right after the call */
	T_EQ(sent2(&t, "Action=DescribeInstances", "InstanceId.1=i-0b"), 1);
	T_EQ(sent2(&t, "Action=DescribeImages", "ImageId.1=ami-0c"), 1);
	T_EQ(step_asked, 0); /* the whole step's history is not theirs */
	T_EQ(nasked, 2);
	T_STREQ(part_asked[0], "builder");
	T_STREQ(part_asked[1], "image");
	T_EQ(nrec, 2);
	T_STREQ(part_rec[0], "builder");
	T_STREQ(part_rec[1], "image");
	/* each began with its call: its first read came at half the usual
	 * start at the earliest (official 117.5 s and 127.5 s, scaled) */
	T_OK(part_secs[0] >= 117.5 * 0.0001);
	T_OK(part_secs[1] >= 127.5 * 0.0001);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	rt_close(&t);

	/* a reused image (found by its bake key, maybe long done) is read at
	 * once and says nothing about how long an image takes */
	ami_parts_open(&t);
	sf_replay_add(t.f.rp, "AmazonSSM.GetParameter && amazon-linux-2023/x86_64/standard", AMI_SSM, 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0d</imageId><imageState>pending</imageState>"
			  "</item></imagesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0d",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0d</imageId><imageState>available</imageState></item></imagesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && tag%3Asecfaas%3Alineage", EC2("DescribeInstances", "<reservationSet/>"), 1);
	out = NULL;
	T_EQ(sf_rt_aws_gvisor_ami.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=RunInstances"), 0);
	T_EQ(nrec, 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	rt_close(&t);

	/* a resumed create: RunInstances under the same ClientToken answers
	 * the instance an earlier attempt launched, which may be done */
	ami_parts_open(&t);
	t.c.resumed = 1;
	sf_replay_add(t.f.rp, "AmazonSSM.GetParameter && amazon-linux-2023/x86_64/standard", AMI_SSM, 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && tag%3Asecfaas%3Abake-key", EC2("DescribeImages", "<imagesSet/>"), 1);
	sf_replay_add(t.f.rp, "Action=RunInstances",
		      EC2("RunInstances", "<instancesSet><item><instanceId>i-0b</instanceId></item></instancesSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && InstanceId.1=i-0b",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "<instanceState><name>stopped</name></instanceState></item></instancesSet></item></reservationSet>"), 1);
	sf_replay_add(t.f.rp, "Action=GetConsoleOutput",
		      EC2_ERR("UnauthorizedOperation", "You are not authorized to perform this operation."), 1); /* stop there */
	sf_replay_add(t.f.rp, "Action=DescribeInstances && tag%3Asecfaas%3Alineage", EC2("DescribeInstances", "<reservationSet/>"), 1);
	out = NULL;
	T_OK(sf_rt_aws_gvisor_ami.create(&t.c, want, &out) < 0);
	T_EQ(sent2(&t, "Action=DescribeInstances", "InstanceId.1=i-0b"), 1);
	T_EQ(nrec, 0);
	json_decref(want);
	rt_close(&t);
}

/* Destroy looks for builders under the create's token only when that
 * create was interrupted: a finished one (its bake_key recorded) reaped
 * them.  The image itself is always proven and checked for users. */
static void ami_drop_replies(struct rt *t)
{
	sf_replay_add(t->f.rp, "Action=DescribeImages && Filter.1.Name=image-id && Filter.1.Value.1=ami-0c",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0c</imageId><imageState>available</imageState>"
			  "<blockDeviceMapping><item><ebs><snapshotId>snap-0c</snapshotId></ebs></item></blockDeviceMapping>"
			  "<tagSet><item><key>secfaas:lineage</key><value>lin-1</value></item></tagSet></item></imagesSet>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeInstances && Filter.1.Name=image-id", EC2("DescribeInstances", "<reservationSet/>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeLaunchTemplates", EC2("DescribeLaunchTemplates", "<launchTemplates/>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeLaunchTemplateVersions && LaunchTemplateVersion.1=%24Latest",
		      EC2("DescribeLaunchTemplateVersions", "<launchTemplateVersionSet/>"), 1);
	sf_replay_add(t->f.rp, "Action=DeregisterImage && ImageId=ami-0c", EC2("DeregisterImage", "<return>true</return>"), 1);
	sf_replay_add(t->f.rp, "Action=DeleteSnapshot && SnapshotId=snap-0c", EC2("DeleteSnapshot", "<return>true</return>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeImages && tag%3Asecfaas%3Alineage", EC2("DescribeImages", "<imagesSet/>"), 1);
}

T_TEST(gvisor_ami_destroy_looks_for_builders_only_after_an_interrupted_create)
{
	struct rt t;
	rt_open(&t, "aws_gvisor_ami.gvisor_x86_64");
	ami_drop_replies(&t);
	json_t *prior = json_pack("{s:s, s:s, s:s}", "id", "ami-0c", "arch", "x86_64", "bake_key",
				  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	T_EQ(sf_rt_aws_gvisor_ami.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=DeregisterImage"), 1);
	T_EQ(sent2(&t, "Action=DescribeInstances", "tag%3Asecfaas%3Atoken"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(prior);
	rt_close(&t);

	/* killed mid-bake: the id may be recorded, the outputs are not */
	rt_open(&t, "aws_gvisor_ami.gvisor_x86_64");
	ami_drop_replies(&t);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && tag%3Asecfaas%3Atoken",
		      EC2("DescribeInstances", "<reservationSet><item><instancesSet><item><instanceId>i-0b</instanceId>"
			  "</item></instancesSet></item></reservationSet>"), 1);
	sf_replay_add(t.f.rp, "Action=TerminateInstances && InstanceId.1=i-0b", EC2("TerminateInstances", ""), 1);
	prior = json_pack("{s:s, s:s}", "id", "ami-0c", "arch", "x86_64");
	T_EQ(sf_rt_aws_gvisor_ami.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "Action=TerminateInstances"), 1); /* the builder it left */
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(prior);
	rt_close(&t);
}

/* Whether a destroy's images are still used: one DescribeInstances and one
 * account-wide read of every template's $Latest and $Default for all of
 * them, and a template's other versions only where one can name an image
 * (it has such versions, made since the oldest image).  The images below
 * are ours (lineage lin-1), made 2026-03-01; the workspace has no template
 * left (a teardown), so its images are all candidates. */
#define LTV(lt, n, dflt, made, image)                                                                          \
	"<item><launchTemplateId>" lt "</launchTemplateId><versionNumber>" n "</versionNumber><createTime>" made \
	"</createTime><defaultVersion>" dflt "</defaultVersion><launchTemplateData><imageId>" image              \
	"</imageId></launchTemplateData></item>"
#define OUR_IMAGE(id)                                                                                            \
	"<item><imageId>" id "</imageId><imageState>available</imageState><creationDate>2026-03-01T10:00:00.000Z"   \
	"</creationDate><blockDeviceMapping><item><ebs><snapshotId>snap-" id "</snapshotId></ebs></item>"            \
	"</blockDeviceMapping><tagSet><item><key>secfaas:lineage</key><value>lin-1</value></item><item><key>"         \
	"secfaas:kind</key><value>gvisor-ami</value></item></tagSet></item>"

/* `current`: the account-wide $Latest/$Default items (owned, freed here). */
static void ami_use_open(struct rt *t, const char *images, char *current)
{
	rt_open(t, "aws_gvisor_ami.gvisor_x86_64");
	char *images_body = xasprintf(EC2("DescribeImages", "<imagesSet>%s</imagesSet>"), images);
	char *body = xasprintf(EC2("DescribeLaunchTemplateVersions", "<launchTemplateVersionSet>%s</launchTemplateVersionSet>"),
			       current);
	sf_replay_add(t->f.rp, "Action=DescribeLaunchTemplates && tag%3Asecfaas%3Alineage",
		      EC2("DescribeLaunchTemplates", "<launchTemplates/>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeImages && Owner.1=self && tag%3Asecfaas%3Alineage", images_body, 1);
	sf_replay_add(t->f.rp, "Action=DescribeInstances && Filter.1.Name=image-id", EC2("DescribeInstances", "<reservationSet/>"), 1);
	sf_replay_add(t->f.rp, "Action=DescribeLaunchTemplateVersions && LaunchTemplateVersion.1=%24Latest && "
			       "LaunchTemplateVersion.2=%24Default && MaxResults=200", body, 1);
	free(images_body);
	free(body);
	free(current);
}

static int ami_use_destroy(struct rt *t)
{
	json_t *prior = json_pack("{s:s, s:s, s:s}", "id", "ami-0c", "arch", "x86_64", "bake_key", "k");
	int rc = sf_rt_aws_gvisor_ami.destroy(&t->c, prior);
	if (rc < 0)
		fprintf(stderr, "err: %s\n", t->err.msg);
	json_decref(prior);
	return rc;
}

T_TEST(gvisor_ami_destroy_keeps_an_image_a_foreign_template_names_in_an_older_version)
{
	struct rt t;
	/* lt-0f's $Latest (3) and $Default (2) name another image; version 1,
	 * which a node group may still pin, names ours */
	ami_use_open(&t, OUR_IMAGE("ami-0c"),
		     xstrdup(LTV("lt-0f", "2", "true", "2026-04-01T00:00:00.000Z", "ami-0other")
				     LTV("lt-0f", "3", "false", "2026-05-01T00:00:00.000Z", "ami-0other")));
	sf_replay_add(t.f.rp, "Action=DescribeLaunchTemplateVersions && LaunchTemplateId=lt-0f && Filter.1.Name=image-id && "
			      "Filter.1.Value.1=ami-0c",
		      EC2("DescribeLaunchTemplateVersions", "<launchTemplateVersionSet>" LTV(
				  "lt-0f", "1", "false", "2026-03-02T00:00:00.000Z", "ami-0c") "</launchTemplateVersionSet>"),
		      1);
	T_EQ(ami_use_destroy(&t), 0);
	T_EQ(sent(&t, "Action=DeregisterImage"), 0);
	T_EQ(sent(&t, "Action=DeleteSnapshot"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	T_EQ(sf_replay_unused(t.f.rp), 0);
	rt_close(&t);

	/* the same template made before the image can name it in no version:
	 * not read, and the image goes */
	ami_use_open(&t, OUR_IMAGE("ami-0c"),
		     xstrdup(LTV("lt-0f", "2", "true", "2026-01-01T00:00:00.000Z", "ami-0other")
				     LTV("lt-0f", "3", "false", "2026-02-01T00:00:00.000Z", "ami-0other")));
	sf_replay_add(t.f.rp, "Action=DeregisterImage && ImageId=ami-0c", EC2("DeregisterImage", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DeleteSnapshot && SnapshotId=snap-ami-0c", EC2("DeleteSnapshot", "<return>true</return>"), 1);
	T_EQ(ami_use_destroy(&t), 0);
	T_EQ(sent2(&t, "Action=DescribeLaunchTemplateVersions", "LaunchTemplateId="), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	T_EQ(sf_replay_unused(t.f.rp), 0);
	rt_close(&t);
}

T_TEST(gvisor_ami_destroy_keeps_an_image_the_latest_version_of_a_foreign_template_names)
{
	struct rt t;
	ami_use_open(&t, OUR_IMAGE("ami-0c"),
		     xstrdup(LTV("lt-0f", "1", "false", "2026-04-01T00:00:00.000Z", "ami-0other")
				     LTV("lt-0f", "2", "true", "2026-05-01T00:00:00.000Z", "ami-0other")
					     LTV("lt-0e", "1", "true", "2026-05-01T00:00:00.000Z", "ami-0c")));
	T_EQ(ami_use_destroy(&t), 0);
	T_EQ(sent(&t, "Action=DeregisterImage"), 0);
	/* both templates' versions were all in the account-wide answer */
	T_EQ(sent2(&t, "Action=DescribeLaunchTemplateVersions", "LaunchTemplateId="), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	rt_close(&t);
}

/* An unused image goes with its snapshots, and what that costs does not
 * grow with the account's other templates (here 50: one version each, or
 * older versions made before the image), nor with the number of images
 * (the workspace's two share every read). */
T_TEST(gvisor_ami_destroy_costs_the_same_beside_fifty_unrelated_templates)
{
	size_t calls[2];
	for (int many = 0; many < 2; many++) {
		struct rt t;
		char *cur = xstrdup("");
		for (int i = 0; many && i < 50; i++) {
			char *more = i % 2 ? xasprintf("%s" LTV("lt-%02d", "1", "true", "2026-06-01T00:00:00.000Z", "ami-0other%d"),
						       cur, i, i)
					   : xasprintf("%s" LTV("lt-%02d", "4", "true", "2026-02-01T00:00:00.000Z", "ami-0other%d"),
						       cur, i, i);
			free(cur);
			cur = more;
		}
		ami_use_open(&t, OUR_IMAGE("ami-0c") OUR_IMAGE("ami-0d"), cur);
		sf_replay_add(t.f.rp, "Action=DeregisterImage && ImageId=ami-0c", EC2("DeregisterImage", "<return>true</return>"), 1);
		sf_replay_add(t.f.rp, "Action=DeregisterImage && ImageId=ami-0d", EC2("DeregisterImage", "<return>true</return>"), 1);
		sf_replay_add(t.f.rp, "Action=DeleteSnapshot && SnapshotId=snap-ami-0c", EC2("DeleteSnapshot", "<return>true</return>"),
			      1);
		sf_replay_add(t.f.rp, "Action=DeleteSnapshot && SnapshotId=snap-ami-0d", EC2("DeleteSnapshot", "<return>true</return>"),
			      1);
		T_EQ(ami_use_destroy(&t), 0);
		T_EQ(sf_replay_unmatched(t.f.rp), 0);
		T_EQ(sf_replay_unused(t.f.rp), 0); /* both deregistered, both snapshots deleted */
		T_EQ(sent(&t, "Action=DescribeInstances"), 1);
		T_EQ(sent(&t, "Action=DescribeLaunchTemplateVersions"), 1);
		T_EQ(sent(&t, "Action=DescribeImages"), 1); /* the lineage's images; the recorded one among them */
		calls[many] = sf_replay_count(t.f.rp);
		rt_close(&t);
	}
	T_EQ(calls[1], calls[0]);
	T_EQ(calls[0], 8);
}

T_TEST(launch_template_refuses_a_foreign_ami_with_the_spec_position)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0plain",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0plain</imageId><imageState>available</imageState>"
			  "<architecture>x86_64</architecture><tagSet/></item></imagesSet>"),
		      1);
	json_t *want = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "name", "demo-sandbox", "image_id", "ami-0plain",
				 "user_data", "x", "image_check", "arch", "x86_64", "gvisor_release", "20250113.0", "where",
				 "c.yaml:14:12"),
	       *out = NULL;
	T_EQ(sf_rt_aws_launch_template.create(&t.c, want, &out), SF_EINVAL);
	T_CONTAINS(t.err.msg, "carries no secfaas gVisor tags");
	T_STREQ(t.err.where, "c.yaml:14:12");
	T_EQ(sent(&t, "Action=CreateLaunchTemplate"), 0);
	json_decref(want);
	rt_close(&t);
}

#define GIVEN_IMAGE(id, ctd)                                                                                  \
	EC2("DescribeImages", "<imagesSet><item><imageId>" id "</imageId><imageState>available</imageState>"        \
	    "<architecture>x86_64</architecture><tagSet><item><key>secfaas:kind</key><value>gvisor-ami</value></item>" \
	    "<item><key>secfaas:gvisor-release</key><value>20250113.0</value></item>"                                 \
	    "<item><key>secfaas:containerd-version</key><value>" ctd "</value></item></tagSet></item></imagesSet>")

static json_t *lt_want(const char *image)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}}", "name", "demo-sandbox", "image_id", image,
			 "user_data_by_containerd", "1", "UD-FOR-1", "2", "UD-FOR-2", "image_check", "arch", "x86_64",
			 "gvisor_release", "20250113.0", "where", "c.yaml:14:12");
}

/* The template's user data is the one for the containerd its image
 * records: a given image on containerd 1.7 gets the `version = 2`
 * rendering at plan time and on create, one on 2.x the `version = 3` one;
 * a containerd secfaas has no rendering for is refused at the `ami:`.
 * The image is read once per run: plan_check, plan_resolve and create
 * check the answer the first of them read. */
T_TEST(launch_template_user_data_follows_the_images_containerd)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0old", GIVEN_IMAGE("ami-0old", "1.7.27"), 10);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0new", GIVEN_IMAGE("ami-0new", "2.1.4"), 10);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0odd", GIVEN_IMAGE("ami-0odd", "3.0.0"), 10);
	sf_replay_add(t.f.rp, "Action=CreateLaunchTemplate",
		      EC2("CreateLaunchTemplate", "<launchTemplate><launchTemplateId>lt-0aa</launchTemplateId>"
			  "<latestVersionNumber>1</latestVersionNumber></launchTemplate>"),
		      1);
	json_t *want = lt_want("ami-0old"), *out = NULL;
	T_EQ(sf_rt_aws_launch_template.plan_check(&t.c, want), 0); /* 1.x is no longer refused */
	T_EQ(sent(&t, "Action=DescribeImages"), 1);
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_STREQ(json_string_value(json_object_get(want, "user_data")), "UD-FOR-1");
	T_STREQ(json_string_value(json_object_get(want, "containerd_version")), "1.7.27");
	T_EQ(sent(&t, "Action=DescribeImages"), 1);
	/* once resolved (the plan's order), the check does not read it again */
	T_EQ(sf_rt_aws_launch_template.plan_check(&t.c, want), 0);
	T_EQ(sent(&t, "Action=DescribeImages"), 1);
	json_decref(want);

	want = lt_want("ami-0new");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_STREQ(json_string_value(json_object_get(want, "user_data")), "UD-FOR-2");
	json_decref(want);

	want = lt_want("ami-0odd");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), SF_EINVAL);
	T_CONTAINS(t.err.msg, "ami ami-0odd runs containerd 3.0.0; secfaas renders the runsc handler for containerd 1.x and 2.x only");
	T_STREQ(t.err.where, "c.yaml:14:12");
	sf_err_clear(&t.err);
	json_decref(want);

	/* create checks the image again (apply resolves the spec again), on
	 * the answer this run's plan read */
	int images = sent(&t, "Action=DescribeImages");
	want = lt_want("ami-0old");
	T_EQ(sf_rt_aws_launch_template.create(&t.c, want, &out), 0);
	T_EQ(sent(&t, "Action=DescribeImages"), images);
	char *b64 = sf_b64encode("UD-FOR-1", 8);
	b64[strcspn(b64, "=")] = 0; /* the query escapes the padding */
	char *q = xasprintf("LaunchTemplateData.UserData=%s", b64);
	T_EQ(sent2(&t, "Action=CreateLaunchTemplate", q), 1);
	free(q);
	free(b64);
	T_STREQ(json_string_value(json_object_get(out, "user_data")), "UD-FOR-1");
	T_STREQ(json_string_value(json_object_get(out, "containerd_version")), "1.7.27");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* Only a check that passed is kept for the run: an image not yet
 * available fails the check and is read again by the next one, a call
 * refused outright too; another run (a saved plan applied by another
 * process: new providers) reads it again. */
T_TEST(launch_template_keeps_only_a_passed_image_check_for_the_run)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0old",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0old</imageId><imageState>pending</imageState>"
			  "<architecture>x86_64</architecture><tagSet/></item></imagesSet>"),
		      1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0old",
		      EC2_ERR("UnauthorizedOperation", "You are not authorized to perform this operation."), 1);
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0old", GIVEN_IMAGE("ami-0old", "1.7.27"), -1);
	json_t *want = lt_want("ami-0old");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), SF_EINVAL);
	T_CONTAINS(t.err.msg, "is pending, not available");
	sf_err_clear(&t.err);
	json_decref(want);
	want = lt_want("ami-0old");
	T_OK(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want) < 0);
	sf_err_clear(&t.err);
	json_decref(want);
	want = lt_want("ami-0old");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_EQ(sent(&t, "Action=DescribeImages"), 3);
	json_decref(want);
	want = lt_want("ami-0old");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_EQ(sent(&t, "Action=DescribeImages"), 3); /* kept from here on */
	json_decref(want);
	/* the next run's providers know nothing of it */
	t.p.aws = NULL; /* owned by the fixture */
	sf_providers_release(&t.p);
	sf_providers_init(&t.p);
	t.p.workspace = "demo";
	t.p.lineage = "lin-1";
	t.p.aws = t.f.c;
	t.p.aws_tried = 1;
	want = lt_want("ami-0old");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_EQ(sent(&t, "Action=DescribeImages"), 4);
	json_decref(want);
	rt_close(&t);
}

/* A baked image's version comes by reference (no image read); unknown
 * until the bake, the user data is too.  A plan that does not refresh
 * keeps the version recorded for the same image, and cannot tell for
 * another one. */
T_TEST(launch_template_user_data_for_a_baked_image_and_without_refresh)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	json_t *want = lt_want("ami-0baked");
	json_object_del(want, "image_check");
	json_object_set_new(want, "containerd_version", json_string("1.7.27"));
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_STREQ(json_string_value(json_object_get(want, "user_data")), "UD-FOR-1");
	json_object_set_new(want, "containerd_version", json_string("")); /* not recorded: containerd 2 */
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_STREQ(json_string_value(json_object_get(want, "user_data")), "UD-FOR-2");
	/* a rendering still waiting on the cluster's endpoint: unknown, not refused */
	json_object_set_new(json_object_get(want, "user_data_by_containerd"), "1", json_null());
	json_object_set_new(want, "containerd_version", json_string("1.7.27"));
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_OK(json_is_null(json_object_get(want, "user_data")));
	T_STREQ(json_string_value(json_object_get(want, "containerd_version")), "1.7.27");
	json_object_set_new(want, "containerd_version", json_null()); /* to be baked */
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, NULL, want), 0);
	T_OK(json_is_null(json_object_get(want, "user_data")));
	T_EQ(sent(&t, "Action=DescribeImages"), 0);
	json_decref(want);

	void *prov = t.c.provider;
	t.c.provider = NULL; /* plan without refresh */
	json_t *before = json_pack("{s:s, s:s, s:s}", "id", "lt-0aa", "image_id", "ami-0old", "containerd_version", "1.7.27");
	want = lt_want("ami-0old");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, before, want), 0);
	T_STREQ(json_string_value(json_object_get(want, "user_data")), "UD-FOR-1");
	json_decref(want);
	want = lt_want("ami-0other");
	T_EQ(sf_rt_aws_launch_template.plan_resolve(&t.c, before, want), 0);
	T_OK(json_is_null(json_object_get(want, "user_data")));
	T_EQ(sent(&t, "Action=DescribeImages"), 0);
	t.c.provider = prov;
	json_decref(want);
	json_decref(before);
	rt_close(&t);
}

/* An update onto an image on another containerd makes a new template
 * version with that containerd's user data. */
T_TEST(launch_template_new_version_when_the_images_containerd_changes)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0old", GIVEN_IMAGE("ami-0old", "1.7.27"), 10);
	sf_replay_add(t.f.rp, "Action=DescribeLaunchTemplateVersions",
		      EC2("DescribeLaunchTemplateVersions", "<launchTemplateVersionSet><item><versionNumber>1</versionNumber>"
			  "<launchTemplateData><imageId>ami-0new</imageId><userData>VUQtRk9SLTI=</userData>"
			  "</launchTemplateData></item></launchTemplateVersionSet>"),
		      1);
	sf_replay_add(t.f.rp, "Action=CreateLaunchTemplateVersion",
		      EC2("CreateLaunchTemplateVersion", "<launchTemplateVersion><versionNumber>2</versionNumber>"
			  "</launchTemplateVersion>"),
		      1);
	sf_replay_add(t.f.rp, "Action=ModifyLaunchTemplate", EC2("ModifyLaunchTemplate", "<launchTemplate/>"), 1);
	json_t *prior = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", "lt-0aa", "name", "demo-sandbox", "image_id",
				  "ami-0new", "user_data", "UD-FOR-2", "containerd_version", "2.1.4", "latest_version", "1");
	json_t *want = lt_want("ami-0old"), *out = NULL;
	T_EQ(sf_rt_aws_launch_template.update(&t.c, prior, want, &out), 0);
	char *b64 = sf_b64encode("UD-FOR-1", 8);
	b64[strcspn(b64, "=")] = 0; /* the query escapes the padding */
	char *q = xasprintf("LaunchTemplateData.UserData=%s", b64);
	T_EQ(sent2(&t, "Action=CreateLaunchTemplateVersion", q), 1);
	free(q);
	free(b64);
	T_STREQ(json_string_value(json_object_get(out, "latest_version")), "2");
	T_STREQ(json_string_value(json_object_get(out, "containerd_version")), "1.7.27");
	json_decref(out);
	json_decref(want);
	json_decref(prior);
	rt_close(&t);
}

/* What the template sends: IMDSv2 required, hop limit 1 by default, the
 * root volume; a runc group's template has no ImageId and no UserData. */
T_TEST(launch_template_sends_hop_limit_one_and_no_image_for_runc)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.system");
	sf_replay_add(t.f.rp, "Action=CreateLaunchTemplate",
		      EC2("CreateLaunchTemplate", "<launchTemplate><launchTemplateId>lt-0aa</launchTemplateId>"
			  "<latestVersionNumber>1</latestVersionNumber></launchTemplate>"),
		      1);
	json_t *want = json_pack("{s:s, s:i}", "name", "demo-system", "disk_size", 30), *out = NULL;
	T_EQ(sf_rt_aws_launch_template.create(&t.c, want, &out), 0);
	T_EQ(sent2(&t, "Action=CreateLaunchTemplate", "LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit=1&"), 1);
	T_EQ(sent2(&t, "Action=CreateLaunchTemplate", "LaunchTemplateData.MetadataOptions.HttpTokens=required"), 1);
	T_EQ(sent2(&t, "Action=CreateLaunchTemplate", "VolumeSize=30"), 1);
	T_EQ(sent(&t, "LaunchTemplateData.ImageId"), 0);
	T_EQ(sent(&t, "LaunchTemplateData.UserData"), 0);
	T_STREQ(json_string_value(json_object_get(out, "id")), "lt-0aa");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

#define EKSJ(body) "HTTP/1.1 200 OK\nContent-Type: application/json\n\n" body

/* eks_addon: the default version for the cluster's Kubernetes version,
 * resolveConflicts OVERWRITE over the self-managed copy, the configuration
 * as a JSON string; read brings the live configuration back (drift). */
T_TEST(eks_addon_create_and_read_configuration)
{
	struct rt t;
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "GET https://eks && /addons/supported-versions?kubernetesVersion=1.33&maxResults=100",
		      EKSJ("{\"addons\":[{\"addonName\":\"vpc-cni\",\"addonVersions\":["
			   "{\"addonVersion\":\"v1.21.1-eksbuild.1\",\"compatibilities\":[{\"clusterVersion\":\"1.33\",\"defaultVersion\":false}]},"
			   "{\"addonVersion\":\"v1.20.4-eksbuild.2\",\"compatibilities\":[{\"clusterVersion\":\"1.33\",\"defaultVersion\":true}]}]}]}"),
		      1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons",
		      EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"CREATING\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni",
		      EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"ACTIVE\",\"addonVersion\":\"v1.20.4-eksbuild.2\","
			   "\"addonArn\":\"arn:aws:eks:eu-west-1:1:addon/demo/vpc-cni/x\","
			   "\"configurationValues\":\"{\\\"enableNetworkPolicy\\\":\\\"true\\\"}\"}}"),
		      1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni",
		      EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"ACTIVE\",\"addonVersion\":\"v1.20.4-eksbuild.2\","
			   "\"configurationValues\":\"{\\\"enableNetworkPolicy\\\":\\\"false\\\"}\"}}"),
		      1);
	json_t *want = json_pack("{s:s, s:s, s:s, s:{s:s}}", "cluster_name", "demo", "addon_name", "vpc-cni",
				 "kubernetes_version", "1.33", "configuration_values", "enableNetworkPolicy", "true"),
	       *out = NULL;
	T_EQ(sf_rt_eks_addon.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", "\"resolveConflicts\":\"OVERWRITE\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"addonVersion\":\"v1.20.4-eksbuild.2\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"configurationValues\":\"{\\\"enableNetworkPolicy\\\":\\\"true\\\"}\""), 1);
	T_STREQ(json_string_value(json_object_get(out, "version")), "v1.20.4-eksbuild.2");
	T_STREQ(t.ids[0], "demo/vpc-cni");
	/* the poll that saw ACTIVE is the add-on's last read: no second one */
	T_EQ(sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo/addons/vpc-cni"), 1);
	/* someone turned the agent off: read shows it */
	json_t *now = NULL;
	T_EQ(sf_rt_eks_addon.read(&t.c, out, &now), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_STREQ(json_string_value(json_object_get(json_object_get(now, "configuration_values"), "enableNetworkPolicy")),
		"false");
	json_decref(now);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* EKS's add-on versions are asked once a run per region and Kubernetes
 * version, whatever the number of add-ons and of plan reviews and creates
 * asking (all pages of one unfiltered DescribeAddonVersions); a failed ask
 * is asked again. */
T_TEST(eks_addon_versions_asked_once_a_run)
{
	struct rt t;
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "GET https://eks && /addons/supported-versions?kubernetesVersion=1.33&maxResults=100\n",
		      "HTTP/1.1 403 Forbidden\nContent-Type: application/json\n\n"
		      "{\"__type\":\"AccessDeniedException\",\"message\":\"not yet\"}",
		      1);
	sf_replay_add(t.f.rp, "GET https://eks && /addons/supported-versions?kubernetesVersion=1.33&maxResults=100\n",
		      EKSJ("{\"addons\":[{\"addonName\":\"vpc-cni\",\"addonVersions\":[{\"addonVersion\":\"v1.20.4-eksbuild.2\","
			   "\"compatibilities\":[{\"clusterVersion\":\"1.33\",\"defaultVersion\":true}]}]}],"
			   "\"nextToken\":\"p/2\"}"),
		      1);
	sf_replay_add(t.f.rp, "GET https://eks && /addons/supported-versions?kubernetesVersion=1.33&maxResults=100&nextToken=p%2F2\n",
		      EKSJ("{\"addons\":[{\"addonName\":\"coredns\",\"addonVersions\":[{\"addonVersion\":\"v1.12.1-eksbuild.2\","
			   "\"compatibilities\":[{\"clusterVersion\":\"1.33\",\"defaultVersion\":true}]}]}]}"),
		      1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons\n",
		      EKSJ("{\"addon\":{\"addonName\":\"x\",\"status\":\"CREATING\"}}"), 2);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni\n",
		      EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"ACTIVE\",\"addonVersion\":\"v1.20.4-eksbuild.2\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/coredns\n",
		      EKSJ("{\"addon\":{\"addonName\":\"coredns\",\"status\":\"ACTIVE\",\"addonVersion\":\"v1.12.1-eksbuild.2\"}}"), 1);
	json_t *cni = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "vpc-cni", "kubernetes_version", "1.33"),
	       *dns = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "coredns", "kubernetes_version", "1.33"),
	       *out1 = NULL, *out2 = NULL;
	/* the plan review of the first fails to ask: a warning, nothing kept */
	T_EQ(sf_rt_eks_addon.plan_review(&t.c, NULL, cni), 0);
	T_EQ(t.err.code, 0);
	T_EQ(sf_rt_eks_addon.plan_review(&t.c, NULL, cni), 0);
	T_EQ(sf_rt_eks_addon.plan_review(&t.c, NULL, dns), 0);
	T_EQ(sf_rt_eks_addon.create(&t.c, cni, &out1), 0);
	T_EQ(sf_rt_eks_addon.create(&t.c, dns, &out2), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "/addons/supported-versions?"), 3); /* the failed ask, then two pages once */
	T_EQ(sent2(&t, "POST https://eks", "\"addonVersion\":\"v1.20.4-eksbuild.2\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"addonVersion\":\"v1.12.1-eksbuild.2\""), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out1);
	json_decref(out2);
	json_decref(cni);
	json_decref(dns);
	rt_close(&t);
}

#define ADDON_TAKEN                                                                                      \
	"HTTP/1.1 409 Conflict\nContent-Type: application/json\n\n"                                    \
	"{\"__type\":\"com.amazonaws.eks#ResourceInUseException\",\"message\":\"Addon already exists.\"}"
#define ADDON_TAGGED(lin, tok)                                                                            \
	EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"ACTIVE\",\"addonVersion\":\"v1\","        \
	     "\"addonArn\":\"arn:aws:eks:eu-west-1:1:addon/demo/vpc-cni/x\",\"tags\":{"                     \
	     "\"secfaas:workspace\":\"demo\",\"secfaas:lineage\":\"" lin "\","                              \
	     "\"secfaas:address\":\"eks_addon.vpc_cni\",\"secfaas:token\":\"" tok "\"}}}")

#define CNI_ROLE "arn:aws:iam::1:role/demo-vpc-cni"
#define ADDON_PIA(arns)                                                                                   \
	EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"ACTIVE\",\"addonVersion\":\"v1\","        \
	     "\"addonArn\":\"arn:aws:eks:eu-west-1:1:addon/demo/vpc-cni/x\",\"podIdentityAssociations\":[" arns "]}}")
#define PIA_ARN(id) "\"arn:aws:eks:eu-west-1:1:podidentityassociation/demo/" id "\""

/* The add-on's own associations: created with it, read back by describing
 * each (a role changed or removed outside secfaas is drift), and an
 * update that changes them sends the whole list, then rolls the add-on's
 * DaemonSet; a cluster without that DaemonSet has nothing to roll. */
T_TEST(eks_addon_pod_identity_create_read_and_update)
{
	struct rt t;
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons\n",
		      EKSJ("{\"addon\":{\"addonName\":\"vpc-cni\",\"status\":\"CREATING\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni\n", ADDON_PIA(PIA_ARN("a-1")), -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/pod-identity-associations/a-1\n",
		      EKSJ("{\"association\":{\"serviceAccount\":\"aws-node\",\"namespace\":\"kube-system\","
			   "\"roleArn\":\"arn:aws:iam::1:role/other\",\"associationId\":\"a-1\"}}"),
		      1);
	json_t *want = json_pack("{s:s, s:s, s:s, s:{s:s}}", "cluster_name", "demo", "addon_name", "vpc-cni",
				 "addon_version", "v1", "pod_identity", "aws-node", CNI_ROLE),
	       *out = NULL, *now = NULL, *fixed = NULL;
	T_EQ(sf_rt_eks_addon.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", "\"podIdentityAssociations\":[{\"serviceAccount\":\"aws-node\",\"roleArn\":\"" CNI_ROLE "\"}]"), 1);
	T_EQ(sf_rt_eks_addon.read(&t.c, out, &now), 0);
	T_STREQ(json_string_value(json_object_get(json_object_get(now, "pod_identity"), "aws-node")),
		"arn:aws:iam::1:role/other");
	rt_close(&t);

	/* set back: UpdateAddon with the list; no endpoint, nothing to roll */
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni\n", ADDON_PIA(PIA_ARN("a-2")), -1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons/vpc-cni/update\n",
		      EKSJ("{\"update\":{\"id\":\"u-1\",\"status\":\"InProgress\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/updates/u-1?addonName=vpc-cni",
		      EKSJ("{\"update\":{\"id\":\"u-1\",\"status\":\"Successful\"}}"), -1);
	T_EQ(sf_rt_eks_addon.update(&t.c, now, want, &fixed), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "/addons/vpc-cni/update\n", "\"podIdentityAssociations\":[{\"serviceAccount\":\"aws-node\",\"roleArn\":\"" CNI_ROLE "\"}]"), 1);
	json_decref(fixed);
	fixed = NULL;
	rt_close(&t);

	/* the same without a change of identity: no UpdateAddon at all */
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni\n", ADDON_PIA(PIA_ARN("a-2")), -1);
	T_EQ(sf_rt_eks_addon.update(&t.c, want, want, &fixed), 0);
	T_EQ(sent(&t, "/addons/vpc-cni/update"), 0);
	rt_close(&t);
	json_decref(fixed);
	json_decref(now);
	json_decref(out);
	json_decref(want);
}

/* An add-on of that name already on the cluster: another state's (same
 * address, another lineage) is refused naming its owner and no id is
 * recorded; the one this state's lost reply made (its token) is adopted. */
T_TEST(eks_addon_adopts_only_what_its_tags_prove_ours)
{
	struct rt t;
	json_t *want = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "vpc-cni", "addon_version", "v1"),
	       *out = NULL;
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons", ADDON_TAKEN, -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni", ADDON_TAGGED("lin-9", "ffff"), -1);
	T_EQ(sf_rt_eks_addon.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_CONTAINS(t.err.hint, "secfaas import");
	T_EQ(t.nids, 0);
	T_EQ(sent2(&t, "POST https://eks", "/clusters/demo/addons"), 1); /* the create, once */
	T_EQ(sent2(&t, "POST https://eks", "/clusters/demo/addons/vpc-cni/update"), 0);
	T_EQ(sent2(&t, "DELETE https://eks", "/addons/vpc-cni"), 0);
	T_OK(out == NULL);
	rt_close(&t);

	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons", ADDON_TAKEN, -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni",
		      ADDON_TAGGED("lin-1", "0123456789abcdef0123456789abcdef"), -1);
	T_EQ(sf_rt_eks_addon.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(t.nids, 1);
	T_STREQ(t.ids[0], "demo/vpc-cni");
	T_STREQ(json_string_value(json_object_get(out, "arn")), "arn:aws:eks:eu-west-1:1:addon/demo/vpc-cni/x");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* A NAT gateway this run's CreateNatGateway just began is not asked at
 * once: the first poll comes after the first pause (half of the usual 60 s
 * before it can be available, scaled), and it is the last read. */
T_TEST(nat_gateway_begun_wait_pauses_before_its_first_poll)
{
	struct rt t;
	rt_open(&t, "aws_nat_gateway.main");
	setenv("SECFAAS_POLL_SCALE", "0.01", 1); /* 30 s -> 0.3 s */
	sf_replay_add(t.f.rp, "Action=CreateNatGateway",
		      EC2("CreateNatGateway", "<natGateway><natGatewayId>nat-0new</natGatewayId></natGateway>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeNatGateways && NatGatewayId.1=nat-0new",
		      EC2("DescribeNatGateways", "<natGatewaySet>" NAT_ITEM("nat-0new", "available") "</natGatewaySet>"), 1);
	json_t *want = json_pack("{s:s, s:s}", "subnet_id", "subnet-1", "allocation_id", "eipalloc-1"), *out = NULL;
	double t0 = sf_mono();
	T_EQ(sf_rt_aws_nat_gateway.create(&t.c, want, &out), 0);
	double took = sf_mono() - t0;
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_OK(took >= 0.29);
	T_EQ(sent(&t, "Action=DescribeNatGateways"), 1);
	T_STREQ(json_string_value(json_object_get(out, "public_ip")), "198.51.100.7");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* A NAT gateway nothing needs yet (its route's node groups wait for the
 * cluster too: the engine's c->needed says so) is not read while it is
 * not needed, however long that is; once it is, and its usual start (60 s,
 * scaled: 2.4 s) has passed meanwhile, it is read at once, and only once. */
static struct rt *nz_t;
static double nz_t0, nz_woke, nz_blocked;
static int nz_reads_asleep, nz_awake_calls;
static int nz_needed(struct sf_rctx *c, int ask)
{
	(void)c;
	if (!ask) {
		nz_awake_calls++;
		return 1;
	}
	nz_reads_asleep += sent(nz_t, "Action=DescribeNatGateways");
	if (sf_mono() - nz_t0 < nz_blocked)
		return 0; /* the cluster-like blocker still runs */
	if (!nz_woke)
		nz_woke = sf_mono();
	return 1;
}

T_TEST(nat_gateway_not_needed_yet_is_read_once_when_it_is)
{
	struct rt t;
	rt_open(&t, "aws_nat_gateway.main");
	setenv("SECFAAS_POLL_SCALE", "0.04", 1); /* its usual start, 60 s -> 2.4 s */
	sf_replay_add(t.f.rp, "Action=CreateNatGateway",
		      EC2("CreateNatGateway", "<natGateway><natGatewayId>nat-0new</natGatewayId></natGateway>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeNatGateways && NatGatewayId.1=nat-0new",
		      EC2("DescribeNatGateways", "<natGatewaySet>" NAT_ITEM("nat-0new", "available") "</natGatewaySet>"), 1);
	json_t *want = json_pack("{s:s, s:s}", "subnet_id", "subnet-1", "allocation_id", "eipalloc-1"), *out = NULL;
	nz_t = &t;
	nz_t0 = sf_mono();
	nz_woke = 0;
	nz_blocked = 2.5;
	nz_reads_asleep = nz_awake_calls = 0;
	t.c.needed = nz_needed;
	T_EQ(sf_rt_aws_nat_gateway.create(&t.c, want, &out), 0);
	double end = sf_mono();
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(nz_reads_asleep, 0);             /* no read while not needed */
	T_OK(nz_woke > 0 && end - nz_woke < 0.15); /* then one at once: no pause of 0.2 s */
	T_EQ(sent(&t, "Action=DescribeNatGateways"), 1);
	T_EQ(nz_awake_calls, 0);
	T_STREQ(json_string_value(json_object_get(out, "public_ip")), "198.51.100.7");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* ---- EKS creates on the one create path (ax_create_at) ----
 * A name taken by someone else's object is refused naming its owner and
 * the object is left alone; a create whose reply was lost is not sent
 * again when the lookup finds what it made (its tags prove it ours). */

#define EKS_TAKEN(what)                                                                                   \
	"HTTP/1.1 409 Conflict\nContent-Type: application/json\n\n"                                    \
	"{\"__type\":\"com.amazonaws.eks#ResourceInUseException\",\"message\":\"" what " already exists.\"}"
#define EKS_CUT "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"cluster\":{\"name\":"
#define OWN_TAGS(addr, lin, tok)                                                                          \
	"\"tags\":{\"secfaas:workspace\":\"demo\",\"secfaas:lineage\":\"" lin "\",\"secfaas:address\":\"" addr \
	"\",\"secfaas:token\":\"" tok "\"}"
#define MY_TOKEN "0123456789abcdef0123456789abcdef"
#define EKS_PROD(tags)                                                                                    \
	EKSJ("{\"cluster\":{\"name\":\"prod\",\"status\":\"ACTIVE\",\"arn\":\"arn:aws:eks:eu-west-1:1:cluster/prod\"," \
	     "\"endpoint\":\"https://e\"," tags "}}")

static json_t *cluster_want(void)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s]}", "name", "prod", "version", "1.33", "role_arn",
			 "arn:aws:iam::1:role/prod-cluster", "subnet_ids", "subnet-1", "subnet-2");
}

T_TEST(eks_cluster_create_refuses_a_foreign_name_and_adopts_its_lost_reply)
{
	struct rt t;
	json_t *want = cluster_want(), *out = NULL;
	rt_open(&t, "eks_cluster.main");
	sf_replay_add(t.f.rp, "POST https://eks.eu-west-1.amazonaws.com/clusters\n", EKS_TAKEN("Cluster"), -1);
	sf_replay_add(t.f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n",
		      EKS_PROD(OWN_TAGS("eks_cluster.main", "lin-9", "ffff")), -1);
	T_EQ(sf_rt_eks_cluster.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_CONTAINS(t.err.hint, "secfaas import");
	T_EQ(t.nids, 0);
	T_EQ(sent(&t, "DELETE https://eks"), 0);
	T_OK(out == NULL);
	rt_close(&t);
	/* the reply is cut after EKS took the request: looked up, adopted,
	 * not sent again */
	rt_open(&t, "eks_cluster.main");
	sf_replay_add(t.f.rp, "POST https://eks.eu-west-1.amazonaws.com/clusters\n", EKS_CUT, 1);
	sf_replay_add(t.f.rp, "POST https://eks.eu-west-1.amazonaws.com/clusters\n", EKS_TAKEN("Cluster"), -1);
	sf_replay_add(t.f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n",
		      EKS_PROD(OWN_TAGS("eks_cluster.main", "lin-1", MY_TOKEN)), -1);
	T_EQ(sf_rt_eks_cluster.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "POST https://eks.eu-west-1.amazonaws.com/clusters\n"), 1);
	T_EQ(t.nids, 1);
	T_STREQ(t.ids[0], "prod");
	T_STREQ(json_string_value(json_object_get(out, "endpoint")), "https://e");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* The reply of the poll that saw ACTIVE carries the endpoint and the CA:
 * a create reads the cluster once, not once more after the wait. */
T_TEST(eks_cluster_create_reads_no_more_after_the_wait)
{
	struct rt t;
	json_t *want = cluster_want(), *out = NULL;
	rt_open(&t, "eks_cluster.main");
	sf_replay_add(t.f.rp, "POST https://eks.eu-west-1.amazonaws.com/clusters\n",
		      EKSJ("{\"cluster\":{\"name\":\"prod\",\"status\":\"CREATING\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n",
		      EKS_PROD(OWN_TAGS("eks_cluster.main", "lin-1", MY_TOKEN)), -1);
	T_EQ(sf_rt_eks_cluster.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n"), 1);
	T_STREQ(json_string_value(json_object_get(out, "endpoint")), "https://e");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* ---- deleting a cluster reads it once ----
 * Before a delete the engine proves the cluster is this state's with a
 * DescribeCluster (cl_marks); the destroy takes the cluster's VPC for its
 * load balancer sweep from that same answer instead of asking again. */

#define ELB2_LBS                                                                                          \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeLoadBalancersResponse><DescribeLoadBalancersResult>"    \
	"<LoadBalancers><member><LoadBalancerArn>arn:lb/in</LoadBalancerArn><VpcId>vpc-1</VpcId></member>"         \
	"<member><LoadBalancerArn>arn:lb/out</LoadBalancerArn><VpcId>vpc-9</VpcId></member></LoadBalancers>"       \
	"</DescribeLoadBalancersResult></DescribeLoadBalancersResponse>"
#define ELB_NO_TAGS                                                                                       \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>" \
	"<member><Tags/></member></TagDescriptions></DescribeTagsResult></DescribeTagsResponse>"
#define ELB_CLASSIC_NONE                                                                                  \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeLoadBalancersResponse><DescribeLoadBalancersResult>"    \
	"<LoadBalancerDescriptions/></DescribeLoadBalancersResult></DescribeLoadBalancersResponse>"
#define EKS_GONE                                                                                          \
	"HTTP/1.1 404 Not Found\nContent-Type: application/json\nx-amzn-ErrorType: ResourceNotFoundException\n\n" \
	"{\"message\":\"No cluster found for name: prod.\"}"

/* The replies of a cluster delete: the cluster (in vpc-1, tagged for
 * `lineage`) answers `active` reads, then is gone. */
static void cluster_delete_replies(struct rt *t, const char *lineage, int active)
{
	char *cl = xasprintf("HTTP/1.1 200 OK\nContent-Type: application/json\n\n"
			     "{\"cluster\":{\"name\":\"prod\",\"status\":\"ACTIVE\",\"arn\":\"arn:aws:eks:eu-west-1:1:cluster/prod\","
			     "\"resourcesVpcConfig\":{\"vpcId\":\"vpc-1\"},\"tags\":{\"secfaas:lineage\":\"%s\","
			     "\"secfaas:address\":\"eks_cluster.main\"}}}",
			     lineage);
	sf_replay_add(t->f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", cl, active);
	sf_replay_add(t->f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", EKS_GONE, -1);
	sf_replay_add(t->f.rp, "Action=DescribeLoadBalancers && Version=2015-12-01", ELB2_LBS, -1);
	sf_replay_add(t->f.rp, "Action=DescribeTags", ELB_NO_TAGS, -1);
	sf_replay_add(t->f.rp, "Action=DescribeLoadBalancers", ELB_CLASSIC_NONE, -1);
	sf_replay_add(t->f.rp, "DELETE https://eks.eu-west-1.amazonaws.com/clusters/prod\n",
		      EKSJ("{\"cluster\":{\"name\":\"prod\",\"status\":\"DELETING\"}}"), 1);
	free(cl);
}

/* Requests containing s before the first containing `before`. */
static int sent_before(struct rt *t, const char *s, const char *before)
{
	int n = 0;
	for (size_t i = 0; i < sf_replay_count(t->f.rp); i++) {
		if (strstr(sf_replay_request(t->f.rp, i), before))
			break;
		if (strstr(sf_replay_request(t->f.rp, i), s))
			n++;
	}
	return n;
}

T_TEST(eks_cluster_delete_reads_the_cluster_once)
{
	struct rt t;
	rt_open(&t, "eks_cluster.main");
	char *db = xasprintf("%s/cldel.db", t_tmpdir());
	unlink(db);
	struct sf_state *st = NULL;
	struct sf_state_opts so = {.create = 1};
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_state_open(&st, db, &so, &err), 0);
	json_t *have = cluster_want();
	json_object_set_new(have, "id", json_string("prod"));
	struct sf_resource row = {.address = "eks_cluster.main", .type = "eks_cluster", .id = "prod",
				  .status = SF_RS_CREATED, .attrs = have, .schema_version = 1};
	T_EQ(sf_state_put(st, &row, &err), 0);
	/* two answers of the live cluster: the old code's second read got one
	 * too, so only the order below tells the two apart */
	cluster_delete_replies(&t, sf_state_lineage(st), 2);

	static const struct sf_rtype *const types[] = {&sf_rt_eks_cluster};
	struct sf_registry reg = {types, 1};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("demo");
	struct sf_plan plan;
	/* no refresh: the apply-time ownership proof is the only read before the delete */
	struct sf_plan_opts po = {.destroy = 1, .refresh = 0, .types = &reg, .providers = &t.p};
	T_EQ(sf_plan_make(&plan, &cfg, st, &po, &err), 0);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 1, .providers = &t.p, .cancel = &cancel, .progress_interval = 60};
	struct sf_apply_result res = {0};
	int rc = sf_apply(&plan, &cfg, st, &ao, &res, &err);
	if (rc < 0)
		fprintf(stderr, "apply: %s\n", err.msg);
	T_EQ(rc, 0);
	T_EQ(res.destroyed, 1);
	T_EQ(sent(&t, "DELETE https://eks.eu-west-1.amazonaws.com/clusters/prod\n"), 1);
	/* one DescribeCluster before the delete: the proof's, none of its own */
	T_EQ(sent_before(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", "DELETE https://eks"), 1);
	/* the sweep knew the cluster's VPC from that answer */
	T_EQ(sent(&t, "arn%3Alb%2Fin"), 1);
	T_EQ(sent(&t, "arn%3Alb%2Fout"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	json_decref(have);
	sf_state_close(st);
	free(db);
	rt_close(&t);
}

/* Called without the engine's proof (no c->marked), destroy reads the
 * cluster itself, and takes one already gone as deleted. */
T_TEST(eks_cluster_delete_without_a_proof_reads_it_and_takes_gone_as_done)
{
	struct rt t;
	json_t *have = cluster_want();
	rt_open(&t, "eks_cluster.main");
	cluster_delete_replies(&t, "lin-1", 1);
	T_EQ(sf_rt_eks_cluster.destroy(&t.c, have), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 1);
	T_EQ(sent_before(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", "DELETE https://eks"), 1);
	T_EQ(sent(&t, "arn%3Alb%2Fout"), 0);
	rt_close(&t);
	rt_open(&t, "eks_cluster.main");
	cluster_delete_replies(&t, "lin-1", 0);
	T_EQ(sf_rt_eks_cluster.destroy(&t.c, have), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 0);
	T_EQ(sent(&t, "Action=DescribeLoadBalancers"), 0);
	rt_close(&t);
	json_decref(have);
}

/* ---- the load balancer sweep reads every page and takes only the cluster's ----
 * 25 ELBv2 load balancers in the cluster's VPC over two pages (and one in
 * another VPC), their tags asked 20 at a time; two classic ones over two
 * pages.  Only kubernetes.io/cluster/prod=owned, or the AWS Load Balancer
 * Controller's elbv2.k8s.aws/cluster=prod, makes one the cluster's:
 * "shared" marks one the cluster only uses. */

/* lb/i's tags, by what the sweep must make of them */
static const char *sweep_tags(int i)
{
	switch (i) {
	case 0:
	case 24: /* on the second page and in the second DescribeTags batch */
		return "<member><Key>kubernetes.io/cluster/prod</Key><Value>owned</Value></member>";
	case 1:
		return "<member><Key>kubernetes.io/cluster/prod</Key><Value>shared</Value></member>";
	case 2:
		return "<member><Key>elbv2.k8s.aws/cluster</Key><Value>prod</Value></member>";
	case 3:
		return "<member><Key>elbv2.k8s.aws/cluster</Key><Value>prod-2</Value></member>";
	case 4:
		return "<member><Key>kubernetes.io/cluster/prod-2</Key><Value>owned</Value></member>";
	default:
		return "";
	}
}

static void sweep_replies(struct rt *t)
{
	struct sf_buf b = SF_BUF_INIT;
	const char *head = "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n";
	/* ELBv2: lb/0..21 on the first page, lb/22..24 and one elsewhere on the second */
	for (int pg = 0; pg < 2; pg++) {
		sf_buf_printf(&b, "%s<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancers>", head);
		for (int i = pg ? 22 : 0; i < (pg ? 25 : 22); i++)
			sf_buf_printf(&b, "<member><LoadBalancerArn>arn:lb/%d-nlb</LoadBalancerArn><VpcId>vpc-1</VpcId></member>", i);
		sf_buf_printf(&b, "%s</LoadBalancers>%s</DescribeLoadBalancersResult></DescribeLoadBalancersResponse>",
			      pg ? "<member><LoadBalancerArn>arn:lb/x</LoadBalancerArn><VpcId>vpc-9</VpcId></member>" : "",
			      pg ? "" : "<NextMarker>m1</NextMarker>");
		sf_replay_add(t->f.rp, pg ? "Action=DescribeLoadBalancers && Marker=m1 && Version=2015-12-01"
					  : "Action=DescribeLoadBalancers && Version=2015-12-01",
			      sf_buf_cstr(&b), pg ? -1 : 1);
		sf_buf_release(&b);
	}
	/* DescribeTags: lb/0..19, then lb/20..24 */
	for (int batch = 0; batch < 2; batch++) {
		sf_buf_printf(&b, "%s<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>", head);
		for (int i = batch * 20; i < (batch ? 25 : 20); i++)
			sf_buf_printf(&b, "<member><ResourceArn>arn:lb/%d-nlb</ResourceArn><Tags>%s</Tags></member>", i,
				      sweep_tags(i));
		sf_buf_printf(&b, "</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>");
		sf_replay_add(t->f.rp, batch ? "Action=DescribeTags && ResourceArns.member.1=arn%3Alb%2F20-nlb&"
					     : "Action=DescribeTags && ResourceArns.member.1=arn%3Alb%2F0-nlb&",
			      sf_buf_cstr(&b), -1);
		sf_buf_release(&b);
	}
	sf_replay_add(t->f.rp, "Action=DescribeTargetGroups",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeTargetGroupsResponse><DescribeTargetGroupsResult>"
		      "<TargetGroups/></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>", -1);
	sf_replay_add(t->f.rp, "Action=DeleteLoadBalancer && Version=2015-12-01",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DeleteLoadBalancerResponse><DeleteLoadBalancerResult/>"
		      "</DeleteLoadBalancerResponse>", -1);
	/* classic: c-owned on the first page, c-shared on the second */
	sf_replay_add(t->f.rp, "Action=DescribeLoadBalancers && Marker=c1 && Version=2012-06-01",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeLoadBalancersResponse><DescribeLoadBalancersResult>"
		      "<LoadBalancerDescriptions><member><LoadBalancerName>c-shared</LoadBalancerName><VPCId>vpc-1</VPCId>"
		      "</member></LoadBalancerDescriptions></DescribeLoadBalancersResult></DescribeLoadBalancersResponse>", -1);
	sf_replay_add(t->f.rp, "Action=DescribeLoadBalancers && Version=2012-06-01",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeLoadBalancersResponse><DescribeLoadBalancersResult>"
		      "<LoadBalancerDescriptions><member><LoadBalancerName>c-owned</LoadBalancerName><VPCId>vpc-1</VPCId>"
		      "</member></LoadBalancerDescriptions><NextMarker>c1</NextMarker></DescribeLoadBalancersResult>"
		      "</DescribeLoadBalancersResponse>", 1);
	sf_replay_add(t->f.rp, "Action=DescribeTags && LoadBalancerNames.member.1=c-owned",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>"
		      "<member><LoadBalancerName>c-owned</LoadBalancerName><Tags><member><Key>kubernetes.io/cluster/prod</Key>"
		      "<Value>owned</Value></member></Tags></member><member><LoadBalancerName>c-shared</LoadBalancerName>"
		      "<Tags><member><Key>kubernetes.io/cluster/prod</Key><Value>shared</Value></member></Tags></member>"
		      "</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>", -1);
	sf_replay_add(t->f.rp, "Action=DeleteLoadBalancer && Version=2012-06-01",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DeleteLoadBalancerResponse><DeleteLoadBalancerResult/>"
		      "</DeleteLoadBalancerResponse>", -1);
	sf_replay_add(t->f.rp, "DELETE https://eks.eu-west-1.amazonaws.com/clusters/prod\n",
		      EKSJ("{\"cluster\":{\"name\":\"prod\",\"status\":\"DELETING\"}}"), 1);
	sf_replay_add(t->f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", EKS_GONE, -1);
}

T_TEST(eks_cluster_sweep_reads_every_page_and_takes_only_owned_load_balancers)
{
	struct rt t;
	json_t *have = cluster_want();
	rt_open(&t, "eks_cluster.main");
	/* the engine's ownership proof read the cluster (in vpc-1) */
	t.c.marked = json_pack("{s:s, s:{s:s}}", "name", "prod", "resourcesVpcConfig", "vpcId", "vpc-1");
	sweep_replies(&t);
	T_EQ(sf_rt_eks_cluster.destroy(&t.c, have), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "Action=DescribeLoadBalancers", "Marker=m1"), 1);
	T_EQ(sent2(&t, "Action=DescribeLoadBalancers", "Marker=c1"), 1);
	/* tags of 25 in two calls, none of more than 20 */
	T_EQ(sent2(&t, "Action=DescribeTags", "ResourceArns"), 2);
	T_EQ(sent(&t, "ResourceArns.member.21="), 0);
	T_EQ(sent(&t, "arn%3Alb%2Fx"), 0); /* another VPC's: not even asked about */
	T_EQ(sent2(&t, "Action=DeleteLoadBalancer", "LoadBalancerArn="), 3);
	T_EQ(sent(&t, "LoadBalancerArn=arn%3Alb%2F0-nlb"), 2); /* its target groups, then itself */
	T_EQ(sent2(&t, "Action=DeleteLoadBalancer", "LoadBalancerArn=arn%3Alb%2F2-nlb"), 1);
	T_EQ(sent2(&t, "Action=DeleteLoadBalancer", "LoadBalancerArn=arn%3Alb%2F24-nlb"), 1);
	T_EQ(sent2(&t, "Action=DeleteLoadBalancer", "LoadBalancerName=c-owned"), 1);
	T_EQ(sent2(&t, "Action=DeleteLoadBalancer", "LoadBalancerName=c-shared"), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(t.c.marked);
	t.c.marked = NULL;
	json_decref(have);
	rt_close(&t);
}

#define ENTRY(tags)                                                                                       \
	EKSJ("{\"accessEntry\":{\"clusterName\":\"prod\",\"principalArn\":\"arn:aws:iam::1:role/ops\","      \
	     "\"accessEntryArn\":\"arn:aws:eks:eu-west-1:1:access-entry/prod/role/1/ops/x\"," tags "}}")

T_TEST(eks_access_entry_create_refuses_a_foreign_entry_and_adopts_its_lost_reply)
{
	struct rt t;
	json_t *want = json_pack("{s:s, s:s}", "cluster_name", "prod", "principal_arn", "arn:aws:iam::1:role/ops"),
	       *out = NULL;
	rt_open(&t, "eks_access_entry.ops");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/prod/access-entries\n", EKS_TAKEN("Access entry"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/prod/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fops\n",
		      ENTRY(OWN_TAGS("eks_access_entry.ops", "lin-9", "ffff")), -1);
	T_EQ(sf_rt_eks_access_entry.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_EQ(t.nids, 0);
	T_EQ(sent(&t, "DELETE https://eks"), 0);
	T_EQ(sent(&t, "/access-policies"), 0); /* its permissions untouched */
	rt_close(&t);
	rt_open(&t, "eks_access_entry.ops");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/prod/access-entries\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"accessEntry\":{", 1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/prod/access-entries\n", EKS_TAKEN("Access entry"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/prod/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fops\n",
		      ENTRY(OWN_TAGS("eks_access_entry.ops", "lin-1", MY_TOKEN)), -1);
	sf_replay_add(t.f.rp, "POST https://eks && /access-policies\n",
		      EKSJ("{\"clusterName\":\"prod\",\"principalArn\":\"arn:aws:iam::1:role/ops\"}"), 1);
	T_EQ(sf_rt_eks_access_entry.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", "/clusters/prod/access-entries\n"), 1);
	T_EQ(sent(&t, "/access-policies\n"), 1);
	T_EQ(t.nids, 1);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* Update sets the entry's policies back: the one associated by hand is
 * disassociated.  Its reply lost after EKS carried it out, the repeat
 * finds the association gone, which is what the call was for. */
T_TEST(eks_access_entry_update_takes_a_disassociation_gone_as_done)
{
	struct rt t;
	json_t *prior = json_pack("{s:s, s:s, s:s, s:s}", "cluster_name", "prod", "principal_arn",
				  "arn:aws:iam::1:role/ops", "policy", "(none associated)", "id", "prod/ops");
	json_t *want = json_pack("{s:s, s:s}", "cluster_name", "prod", "principal_arn", "arn:aws:iam::1:role/ops"),
	       *out = NULL;
	rt_open(&t, "eks_access_entry.ops");
	sf_replay_add(t.f.rp, "GET https://eks && /access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fops/access-policies\n",
		      EKSJ("{\"associatedAccessPolicies\":[{\"policyArn\":"
			   "\"arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy\",\"accessScope\":{\"type\":\"cluster\"}}]}"),
		      1);
	sf_replay_add(t.f.rp, "DELETE https://eks && /access-policies/arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"clus", 1);
	sf_replay_add(t.f.rp, "DELETE https://eks && /access-policies/",
		      "HTTP/1.1 404 Not Found\nContent-Type: application/json\n\n"
		      "{\"__type\":\"com.amazonaws.eks#ResourceNotFoundException\",\"message\":\"The specified policy is not associated\"}",
		      -1);
	sf_replay_add(t.f.rp, "POST https://eks && /access-policies\n",
		      EKSJ("{\"clusterName\":\"prod\",\"principalArn\":\"arn:aws:iam::1:role/ops\"}"), 1);
	T_EQ(sf_rt_eks_access_entry.update(&t.c, prior, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_OK(sent(&t, "DELETE https://eks") >= 1);
	T_EQ(sent2(&t, "POST https://eks", "AmazonEKSClusterAdminPolicy"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "prod/ops");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	json_decref(prior);
	rt_close(&t);
}

#define NODEGROUP(tags)                                                                                   \
	EKSJ("{\"nodegroup\":{\"nodegroupName\":\"sandbox-x\",\"clusterName\":\"prod\",\"status\":\"ACTIVE\","  \
	     "\"nodegroupArn\":\"arn:aws:eks:eu-west-1:1:nodegroup/prod/sandbox-x/y\","                        \
	     "\"scalingConfig\":{\"minSize\":1,\"maxSize\":2,\"desiredSize\":1}," tags "}}")

T_TEST(eks_node_group_and_addon_creates_adopt_their_lost_reply_without_sending_again)
{
	struct rt t;
	json_t *want = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:i, s:i, s:i}", "cluster_name", "prod", "name",
				 "sandbox", "node_role_arn", "arn:aws:iam::1:role/node", "subnet_ids", "subnet-1",
				 "instance_types", "m6i.large", "min_size", 1, "max_size", 2, "desired_size", 1),
	       *out = NULL;
	rt_open(&t, "eks_nodegroup.sandbox");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/prod/node-groups\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"nodegroup\":{", 1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/prod/node-groups\n", EKS_TAKEN("Nodegroup"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/prod/node-groups/sandbox-",
		      NODEGROUP(OWN_TAGS("eks_nodegroup.sandbox", "lin-1", MY_TOKEN)), -1);
	T_EQ(sf_rt_eks_node_group.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", "/clusters/prod/node-groups\n"), 1);
	T_EQ(t.nids, 1);
	json_decref(out);
	out = NULL;
	json_decref(want);
	rt_close(&t);
	/* someone else's node group under that name is refused, left alone */
	want = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:i, s:i, s:i}", "cluster_name", "prod", "name", "sandbox",
			 "node_role_arn", "arn:aws:iam::1:role/node", "subnet_ids", "subnet-1", "instance_types",
			 "m6i.large", "min_size", 1, "max_size", 2, "desired_size", 1);
	rt_open(&t, "eks_nodegroup.sandbox");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/prod/node-groups\n", EKS_TAKEN("Nodegroup"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/prod/node-groups/sandbox-",
		      NODEGROUP(OWN_TAGS("eks_nodegroup.sandbox", "lin-9", "ffff")), -1);
	T_EQ(sf_rt_eks_node_group.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_EQ(t.nids, 0);
	T_EQ(sent(&t, "DELETE https://eks"), 0);
	json_decref(want);
	rt_close(&t);
	/* an add-on whose reply was lost */
	want = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "vpc-cni", "addon_version", "v1");
	rt_open(&t, "eks_addon.vpc_cni");
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"addon\":{", 1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons\n", ADDON_TAKEN, -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni",
		      ADDON_TAGGED("lin-1", "0123456789abcdef0123456789abcdef"), -1);
	T_EQ(sf_rt_eks_addon.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", "/clusters/demo/addons\n"), 1);
	T_EQ(t.nids, 1);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* ---- siblings: one poll loop for the add-ons (or node groups) of one cluster ---- */

struct sib_case {
	struct rt *t;
	struct sf_rctx c2;  /* the second create, on its own thread */
	struct sf_err err2;
	json_t *want2, *out2;
	const struct sf_rtype *type2; /* what the second create makes */
	char follows[128];            /* its progress line once it follows the first one's polls */
	int destroying;               /* two deletes instead (want2: the second's prior) */
	int rc2, spawned, following, done2;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};
static struct sib_case *sib_now;

static void *sib_second(void *arg)
{
	struct sib_case *k = arg;
	int rc = k->destroying ? k->type2->destroy(&k->c2, k->want2) : k->type2->create(&k->c2, k->want2, &k->out2);
	pthread_mutex_lock(&k->mu);
	k->rc2 = rc;
	k->done2 = 1;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* The second create says it follows the first one's polls. */
static void sib_progress2(struct sf_rctx *c, const char *line)
{
	(void)c;
	if (!strstr(line, sib_now->follows))
		return;
	pthread_mutex_lock(&sib_now->mu);
	sib_now->following = 1;
	pthread_cond_broadcast(&sib_now->cv);
	pthread_mutex_unlock(&sib_now->mu);
}

/* After the first add-on's first poll: start the second add-on's create and
 * go on only once it follows this wait (or, if it polls on its own, once it
 * has finished: then its reads come before this wait's next poll). */
static void sib_progress1(struct sf_rctx *c, const char *line)
{
	(void)c;
	struct sib_case *k = sib_now;
	if (k->spawned || !strstr(line, k->destroying ? "DELETING" : "CREATING"))
		return;
	k->spawned = 1;
	pthread_create(&k->th, NULL, sib_second, k);
	pthread_mutex_lock(&k->mu);
	while (!k->following && !k->done2)
		pthread_cond_wait(&k->cv, &k->mu);
	pthread_mutex_unlock(&k->mu);
}

/* index of the first (last: from the end) request containing a and b, -1 */
static long sent_at(struct rt *t, const char *a, const char *b, int last)
{
	long at = -1;
	for (size_t i = 0; i < sf_replay_count(t->f.rp); i++)
		if (strstr(sf_replay_request(t->f.rp, i), a) && strstr(sf_replay_request(t->f.rp, i), b)) {
			at = (long)i;
			if (!last)
				break;
		}
	return at;
}

#define SIB_ADDON(name, status) EKSJ("{\"addon\":{\"addonName\":\"" name "\",\"status\":\"" status "\",\"addonVersion\":\"v1\"}}")

/* A case of two creates of `type` alongside: `first` on the test's own
 * context (t, opened here), `second` on a thread of its own once the first
 * has polled (sib_progress1), going on once it follows the first's polls. */
static void sib_open(struct sib_case *k, struct rt *t, const char *first, const char *second,
		     const struct sf_rtype *type)
{
	memset(k, 0, sizeof *k);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	sib_now = k;
	rt_open(t, first);
	k->t = t;
	k->c2 = t->c;
	k->c2.address = second;
	k->c2.err = &k->err2;
	k->c2.record_id = NULL;
	k->type2 = type;
	snprintf(k->follows, sizeof k->follows, "waiting while %s is polled", first);
	k->c2.progress = sib_progress2;
	t->c.progress = sib_progress1;
}

/* The second operation has ended: it ran, succeeded and followed the
 * first one's polls. */
static void sib_joined(struct sib_case *k)
{
	if (k->spawned)
		pthread_join(k->th, NULL);
	T_EQ(k->spawned, 1);
	T_EQ(k->rc2, 0);
	if (k->err2.code)
		fprintf(stderr, "err2: %s\n", k->err2.msg);
	T_EQ(k->following, 1);
}

static void sib_close(struct sib_case *k)
{
	sib_now = NULL;
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
}

/* Two add-ons of one cluster created alongside: while the first one's wait
 * polls, the second's sleeps, and reads its add-on once when the first is
 * ACTIVE; still CREATING then, it polls on alone. */
T_TEST(eks_addons_made_alongside_share_one_poll_loop)
{
	for (int still_creating = 0; still_creating < 2; still_creating++) {
		struct rt t;
		struct sib_case k;
		sib_open(&k, &t, "eks_addon.vpc_cni", "eks_addon.kube_proxy", &sf_rt_eks_addon);
		sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons\n", SIB_ADDON("x", "CREATING"), 2);
		sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni\n", SIB_ADDON("vpc-cni", "CREATING"), 3);
		sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/vpc-cni\n", SIB_ADDON("vpc-cni", "ACTIVE"), -1);
		if (still_creating)
			sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/kube-proxy\n",
				      SIB_ADDON("kube-proxy", "CREATING"), 1);
		sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/kube-proxy\n", SIB_ADDON("kube-proxy", "ACTIVE"),
			      -1);
		json_t *cni = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "vpc-cni", "addon_version", "v1"),
		       *out = NULL;
		k.want2 = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "kube-proxy", "addon_version", "v1");
		T_EQ(sf_rt_eks_addon.create(&t.c, cni, &out), 0);
		if (t.err.code)
			fprintf(stderr, "err: %s\n", t.err.msg);
		sib_joined(&k);
		T_EQ(sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo/addons/vpc-cni\n"), 4);
		/* one read of its own after the first was seen ACTIVE, and one
		 * poll more while it was still CREATING */
		T_EQ(sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo/addons/kube-proxy\n"), 1 + still_creating);
		T_OK(sent_at(&t, "GET https://eks", "/addons/kube-proxy\n", 0) >
		     sent_at(&t, "GET https://eks", "/addons/vpc-cni\n", 1));
		T_STREQ(json_string_value(json_object_get(k.out2, "version")), "v1");
		T_EQ(sf_replay_unmatched(t.f.rp), 0);
		json_decref(out);
		json_decref(k.out2);
		json_decref(k.want2);
		json_decref(cni);
		rt_close(&t);
		sib_close(&k);
	}
}

/* ---- waits of one EC2 action near their ends poll on one grid and
 * share their calls (aws/pollshare.h) ---- */

static const struct sf_waiter_def grid_stopped = {
	.name = "t.grid_stopped", .service = "ec2", .operation = "DescribeInstances",
	.status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .success = {"stopped"},
	.failure = {"terminated", "shutting-down"}, .label = "builder", .typical_lo = 1, .typical_hi = 1000,
};

#define GRID_INST(id, state)                                                                                \
	"<item><reservationId>r-" id "</reservationId><instancesSet><item><instanceId>" id "</instanceId>"    \
	"<instanceState><name>" state "</name></instanceState></item></instancesSet></item>"
#define GRID_REPLY(items) EC2("DescribeInstances", "<reservationSet>" items "</reservationSet>")

struct grid_case {
	struct sf_rctx c2;
	struct sf_err err2;
	pthread_t th;
	int spawned, rc2;
};
static struct grid_case *grid_now;

static void *grid_second(void *arg)
{
	struct grid_case *k = arg;
	k->rc2 = ax_wait_begun(&k->c2, &grid_stopped, json_pack("{s:[s]}", "InstanceId", "i-0b"), 3600, "builder", NULL);
	return NULL;
}

/* After the first wait's first poll: the second wait begins (as a second
 * bake whose RunInstances came later). */
static void grid_progress(struct sf_rctx *c, const char *line)
{
	(void)c;
	(void)line;
	if (grid_now->spawned++)
		return;
	pthread_create(&grid_now->th, NULL, grid_second, grid_now);
}

/* Two waits of one action, the second begun after the first had polled:
 * near their ends both poll at the grid's instants, one call naming both
 * instances each time; each ends on its own instance's state, and the one
 * left polls alone by id again. */
T_TEST(ec2_waits_near_their_ends_share_one_call_per_poll)
{
	struct rt t;
	struct grid_case k;
	memset(&k, 0, sizeof k);
	rt_open(&t, "aws_gvisor_ami.a");
	setenv("SECFAAS_POLL_SCALE", "0.02", 1); /* fine step 5 s: a 0.1 s grid */
	sf_pollshare_set_max(60);
	grid_now = &k;
	k.c2 = t.c;
	k.c2.address = "aws_gvisor_ami.b";
	k.c2.err = &k.err2;
	k.c2.progress = NULL;
	t.c.progress = grid_progress;
	sf_replay_add(t.f.rp, "Action=DescribeInstances && InstanceId.1=i-0a", GRID_REPLY(GRID_INST("i-0a", "running")), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && Filter.1.Name=instance-id && =i-0a && =i-0b",
		      GRID_REPLY(GRID_INST("i-0a", "running") GRID_INST("i-0b", "pending")), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && Filter.1.Name=instance-id && =i-0a && =i-0b",
		      GRID_REPLY(GRID_INST("i-0b", "running") GRID_INST("i-0a", "stopped")), 1);
	sf_replay_add(t.f.rp, "Action=DescribeInstances && InstanceId.1=i-0b", GRID_REPLY(GRID_INST("i-0b", "stopped")), 1);
	T_EQ(ax_wait_begun(&t.c, &grid_stopped, json_pack("{s:[s]}", "InstanceId", "i-0a"), 3600, "builder", NULL), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	if (k.spawned)
		pthread_join(k.th, NULL);
	T_EQ(k.rc2, 0);
	if (k.err2.code)
		fprintf(stderr, "err2: %s\n", k.err2.msg);
	T_EQ(sent2(&t, "Filter.1.Name=instance-id", "=i-0b"), 2);
	T_EQ(sent(&t, "InstanceId.1=i-0a"), 1); /* alone before the second began */
	T_EQ(sent(&t, "InstanceId.1=i-0b"), 1); /* alone after the first ended */
	T_EQ(sent(&t, "Action=DescribeInstances"), 4);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	grid_now = NULL;
	sf_pollshare_set_max(0);
	rt_close(&t);
}

/* ---- read-backs of subnets made side by side share one DescribeSubnets
 * (ax_wait_soon; aws/pollshare.h sf_pollshare_expect_after) ---- */

/* A transport over the replay that holds some requests until others have
 * come, so that calls in flight together end in a chosen order without
 * sleeps: a request whose body has a rule's hold (and hold2) waits until
 * `need` requests whose body has its release have come, or `gathering`
 * polls wait in an open gather (aws/pollshare.h; 0: not this way), or
 * 30 s.  A held request counts as it arrives, any other once answered. */
struct gate_rule {
	const char *hold, *hold2, *release;
	int need, gathering, seen;
};
#define GATE_RULES 3
struct gate {
	struct sf_http *inner, *h;
	struct gate_rule r[GATE_RULES];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sf_aws *c;
};

/* Under g->mu: count body toward every rule it releases. */
static void gate_count(struct gate *g, const char *body)
{
	for (int i = 0; i < GATE_RULES; i++)
		if (g->r[i].release && strstr(body, g->r[i].release))
			g->r[i].seen++;
	pthread_cond_broadcast(&g->cv);
}

static int gate_send(void *ctx, const struct sf_http_req *req, struct sf_http_resp *resp, struct sf_err *err)
{
	struct gate *g = ctx;
	char *body = xstrndup(req->body ? req->body : "", req->body ? req->body_len : 0);
	const struct gate_rule *held = NULL;
	for (int i = 0; i < GATE_RULES; i++)
		if (g->r[i].hold && strstr(body, g->r[i].hold) && (!g->r[i].hold2 || strstr(body, g->r[i].hold2)))
			held = &g->r[i];
	pthread_mutex_lock(&g->mu);
	if (held) {
		gate_count(g, body);
		double until = sf_mono() + 30;
		/* a gather says nothing when it opens or grows: look every ms */
		while (held->seen < held->need && !(held->gathering && sf_pollshare_gathering() >= held->gathering) &&
		       sf_mono() < until)
			sf_cond_wait_s(&g->cv, &g->mu, held->gathering ? 0.001 : until - sf_mono());
	}
	pthread_mutex_unlock(&g->mu);
	int rc = sf_http_send(g->inner, req, resp, err);
	if (!held) {
		pthread_mutex_lock(&g->mu);
		gate_count(g, body);
		pthread_mutex_unlock(&g->mu);
	}
	free(body);
	return rc;
}

/* The run's client goes through g (rules set by the caller). */
static void gate_open(struct gate *g, struct rt *t)
{
	static const struct sf_http_ops ops = {gate_send, NULL};
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->inner = sf_replay_http(t->f.rp);
	g->h = sf_http_wrap(&ops, g);
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	o.region = "eu-west-1";
	o.http = g->h;
	o.clock = &t->f.clock;
	struct sf_err e = SF_ERR_INIT;
	if (sf_aws_new(&g->c, &o, &e) < 0)
		abort();
	t->p.aws = g->c;
}

static void gate_close(struct gate *g, struct rt *t)
{
	t->p.aws = t->f.c;
	sf_aws_free(g->c);
	sf_http_free(g->h);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

#define PUB_SUBNET(id, pub) "<item><subnetId>" id "</subnetId><mapPublicIpOnLaunch>" pub "</mapPublicIpOnLaunch></item>"

/* One subnet's create (prior NULL) or update on a thread of its own. */
struct sn_case {
	struct sf_rctx c;
	struct sf_err err;
	char address[32];
	json_t *prior, *want, *out;
	int rc;
	pthread_t th;
};

static void *sn_main(void *arg)
{
	struct sn_case *k = arg;
	k->rc = k->prior ? sf_rt_aws_subnet.update(&k->c, k->prior, k->want, &k->out)
			 : sf_rt_aws_subnet.create(&k->c, k->want, &k->out);
	return NULL;
}

/* n subnets from the first-th (public_a, subnet-0a at 10.0.0.0/24,
 * public_b ...): made (update 0; public) or made public (update 1), all at
 * once; returns when all have ended. */
static void sn_run(struct rt *t, struct sn_case *k, int first, int n, int update)
{
	for (int i = 0; i < n; i++) {
		char cidr[32], id[32];
		snprintf(cidr, sizeof cidr, "10.0.%d.0/24", first + i);
		snprintf(id, sizeof id, "subnet-0%c", 'a' + first + i);
		snprintf(k[i].address, sizeof k[i].address, "aws_subnet.public_%c", 'a' + first + i);
		k[i].c = t->c;
		k[i].c.address = k[i].address;
		k[i].c.err = &k[i].err;
		k[i].c.record_id = NULL;
		k[i].err = (struct sf_err)SF_ERR_INIT;
		k[i].out = NULL;
		k[i].want = json_pack("{s:s, s:s, s:s, s:b}", "vpc_id", "vpc-1", "cidr_block", cidr, "availability_zone",
				      "eu-west-1a", "public", 1);
		k[i].prior = update ? json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", id, "vpc_id", "vpc-1", "cidr_block",
						cidr, "availability_zone", "eu-west-1a", "public", 0)
				    : NULL;
		pthread_create(&k[i].th, NULL, sn_main, &k[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(k[i].th, NULL);
}

static void sn_release(struct sn_case *k, int n)
{
	for (int i = 0; i < n; i++) {
		json_decref(k[i].prior);
		json_decref(k[i].want);
		json_decref(k[i].out);
	}
}

/* The three public subnets of a network, made side by side: each sets
 * MapPublicIpOnLaunch, and their read-backs are one DescribeSubnets naming
 * all three, after every call, however far apart the calls end: here a's
 * ModifySubnetAttribute ends first, b's only once a's read-back waits in
 * its gather, c's CreateSubnet once b's has joined it.  A subnet made
 * alone reads back by id at once. */
T_TEST(public_subnets_made_side_by_side_read_back_in_one_call)
{
	struct rt t;
	struct gate g;
	memset(&g, 0, sizeof g);
	rt_open(&t, "aws_subnet");
	sf_pollshare_set_max(60); /* a slow host must not split the gather */
	/* the three creates begun before a's read-back; a's ends first,
	 * then b's, then c's (or each after a read-back went out) */
	g.r[0] = (struct gate_rule){"Action=ModifySubnetAttribute", "subnet-0a", "Action=CreateSubnet", 3, 0, 0};
	g.r[1] = (struct gate_rule){"Action=ModifySubnetAttribute", "subnet-0b", "Action=DescribeSubnets", 1, 1, 0};
	g.r[2] = (struct gate_rule){"Action=CreateSubnet", "10.0.2.0", "Action=DescribeSubnets", 1, 2, 0};
	gate_open(&g, &t);
	for (int i = 0; i < 3; i++) {
		char match[64], reply[256];
		snprintf(match, sizeof match, "Action=CreateSubnet && CidrBlock=10.0.%d.0", i);
		snprintf(reply, sizeof reply, EC2("CreateSubnet", "<subnet><subnetId>subnet-0%c</subnetId></subnet>"), 'a' + i);
		sf_replay_add(t.f.rp, match, reply, 1);
	}
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute && MapPublicIpOnLaunch.Value=true",
		      EC2("ModifySubnetAttribute", "<return>true</return>"), 3);
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && Filter.1.Name=subnet-id && =subnet-0a && =subnet-0b && =subnet-0c",
		      EC2("DescribeSubnets", "<subnetSet>" PUB_SUBNET("subnet-0b", "true") PUB_SUBNET("subnet-0c", "true")
					     PUB_SUBNET("subnet-0a", "true") "</subnetSet>"), 1);
	struct sn_case k[3];
	sn_run(&t, k, 0, 3, 0);
	for (int i = 0; i < 3; i++) {
		T_EQ(k[i].rc, 0);
		if (k[i].rc)
			fprintf(stderr, "%s: %s\n", k[i].address, k[i].err.msg);
		char id[32];
		snprintf(id, sizeof id, "subnet-0%c", 'a' + i);
		T_STREQ(ax_s(k[i].out, "id"), id);
	}
	T_EQ(sent(&t, "Action=DescribeSubnets"), 1);
	T_EQ(sent(&t, "SubnetId.1="), 0);
	T_OK(sent_at(&t, "Action=DescribeSubnets", "", 0) > sent_at(&t, "Action=ModifySubnetAttribute", "", 1));
	T_OK(sent_at(&t, "Action=CreateSubnet", "10.0.2.0", 0) > sent_at(&t, "Action=ModifySubnetAttribute", "subnet-0b", 0));
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	sn_release(k, 3);

	/* alone: its own by-id read, at once (nothing is waited for: the
	 * 60 s gather bound above would show) */
	memset(g.r, 0, sizeof g.r);
	sf_replay_add(t.f.rp, "Action=CreateSubnet && CidrBlock=10.0.0.0",
		      EC2("CreateSubnet", "<subnet><subnetId>subnet-0a</subnetId></subnet>"), 1);
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute", EC2("ModifySubnetAttribute", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && SubnetId.1=subnet-0a",
		      EC2("DescribeSubnets", "<subnetSet>" PUB_SUBNET("subnet-0a", "true") "</subnetSet>"), 1);
	double t0 = sf_mono();
	sn_run(&t, k, 0, 1, 0);
	T_OK(sf_mono() - t0 < 30);
	T_EQ(k[0].rc, 0);
	T_EQ(sent(&t, "Action=DescribeSubnets"), 2);
	T_OK(sent_at(&t, "SubnetId.1=subnet-0a", "", 0) > sent_at(&t, "Action=ModifySubnetAttribute", "", 1));
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	sn_release(k, 1);
	sf_pollshare_set_max(0);
	gate_close(&g, &t);
	rt_close(&t);
}

/* A read-back waits for another whose call is in flight only a moment
 * (at the default bounds): b's ModifySubnetAttribute is held until a's
 * read-back has gone out, so a reads alone, by id, before b's call ends;
 * b's call then fails, and b reads nothing. */
T_TEST(a_read_back_waits_only_a_moment_for_a_call_held_up)
{
	struct rt t;
	struct gate g;
	memset(&g, 0, sizeof g);
	rt_open(&t, "aws_subnet");
	/* a's call waits for b's to be under way (b announced), b's for a's read */
	g.r[0] = (struct gate_rule){"Action=ModifySubnetAttribute", "subnet-0a", "subnet-0b", 1, 0, 0};
	g.r[1] = (struct gate_rule){"Action=ModifySubnetAttribute", "subnet-0b", "Action=DescribeSubnets", 1, 0, 0};
	gate_open(&g, &t);
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute && SubnetId=subnet-0a",
		      EC2("ModifySubnetAttribute", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute && SubnetId=subnet-0b",
		      EC2_ERR_STATUS("403 Forbidden", "UnauthorizedOperation",
				     "You are not authorized to perform this operation."), 1);
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && SubnetId.1=subnet-0a",
		      EC2("DescribeSubnets", "<subnetSet>" PUB_SUBNET("subnet-0a", "true") "</subnetSet>"), 1);
	struct sn_case k[2];
	sn_run(&t, k, 0, 2, 1);
	T_EQ(k[0].rc, 0);
	T_EQ(k[1].rc, SF_EAUTH);
	T_EQ(sf_replay_count(t.f.rp), 3);
	T_CONTAINS(sf_replay_request(t.f.rp, 0), "SubnetId=subnet-0a");
	T_CONTAINS(sf_replay_request(t.f.rp, 1), "Action=DescribeSubnets");
	T_CONTAINS(sf_replay_request(t.f.rp, 2), "SubnetId=subnet-0b");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	sn_release(k, 2);
	gate_close(&g, &t);
	rt_close(&t);
}

/* A shared read-back judged as each subnet's own: a subnet the answer
 * lacks fails with the very error its own by-id call gets
 * (InvalidSubnetID.NotFound), the others go on; a failed call fails each
 * with its error. */
T_TEST(a_shared_read_back_fails_each_subnet_as_its_own_call_would)
{
	struct rt t;
	struct gate g;
	memset(&g, 0, sizeof g);
	rt_open(&t, "aws_subnet");
	sf_pollshare_set_max(60);
	/* the three calls in flight together */
	g.r[0] = (struct gate_rule){"Action=ModifySubnetAttribute", NULL, "Action=ModifySubnetAttribute", 3, 0, 0};
	gate_open(&g, &t);
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute", EC2("ModifySubnetAttribute", "<return>true</return>"), 7);
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && Filter.1.Name=subnet-id && =subnet-0a && =subnet-0b && =subnet-0c",
		      EC2("DescribeSubnets", "<subnetSet>" PUB_SUBNET("subnet-0a", "true") PUB_SUBNET("subnet-0b", "false")
					     "</subnetSet>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && SubnetId.1=subnet-0b",
		      EC2("DescribeSubnets", "<subnetSet>" PUB_SUBNET("subnet-0b", "true") "</subnetSet>"), 1);
	struct sn_case k[3];
	sn_run(&t, k, 0, 3, 1);
	T_EQ(k[0].rc, 0);
	T_EQ(k[1].rc, 0); /* not seen yet: polled again, alone */
	T_EQ(k[2].rc, SF_ENOTFOUND);
	T_STREQ(k[2].err.aws_code, "InvalidSubnetID.NotFound");
	T_EQ(sent(&t, "Action=DescribeSubnets"), 2);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	struct sf_err shared = k[2].err;
	sn_release(k, 3);

	/* subnet-0c alone: its own call's error is the same */
	g.r[0].need = 1;
	g.r[0].seen = 0;
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && SubnetId.1=subnet-0c",
		      EC2_ERR("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0c' does not exist"), 1);
	struct sn_case one[1];
	sn_run(&t, one, 2, 1, 1);
	T_EQ(one[0].rc, SF_ENOTFOUND);
	T_STREQ(one[0].err.aws_code, shared.aws_code);
	T_EQ(one[0].err.http_status, shared.http_status);
	T_STREQ(one[0].err.msg, shared.msg);
	sn_release(one, 1);

	/* a failed call fails each wait with its error */
	g.r[0].need = 3;
	g.r[0].seen = 0;
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && Filter.1.Name=subnet-id",
		      EC2_ERR_STATUS("403 Forbidden", "UnauthorizedOperation",
				     "You are not authorized to perform this operation."), 1);
	sn_run(&t, k, 0, 3, 1);
	for (int i = 0; i < 3; i++) {
		T_EQ(k[i].rc, SF_EAUTH);
		T_STREQ(k[i].err.aws_code, "UnauthorizedOperation");
	}
	T_EQ(sent(&t, "Action=DescribeSubnets"), 4);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	sn_release(k, 3);
	sf_pollshare_set_max(0);
	gate_close(&g, &t);
	rt_close(&t);
}

#define SIB_NG(name, status)                                                                              \
	EKSJ("{\"nodegroup\":{\"nodegroupName\":\"" name "\",\"clusterName\":\"demo\",\"status\":\"" status "\","   \
	     "\"nodegroupArn\":\"arn:aws:eks:eu-west-1:1:nodegroup/demo/" name "/y\","                           \
	     "\"scalingConfig\":{\"minSize\":1,\"maxSize\":2,\"desiredSize\":1}}}")

/* The node groups of one cluster made alongside share one poll loop too:
 * the second group's wait sleeps while the first's polls and reads its
 * group once when the first is ACTIVE (on a create, what waits for node
 * groups waits for all of them). */
T_TEST(eks_node_groups_made_alongside_share_one_poll_loop)
{
	struct rt t;
	struct sib_case k;
	sib_open(&k, &t, "eks_nodegroup.system", "eks_nodegroup.sandbox", &sf_rt_eks_node_group);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/node-groups\n", SIB_NG("x", "CREATING"), 2);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/node-groups/system-", SIB_NG("system-x", "CREATING"), 3);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/node-groups/system-", SIB_NG("system-x", "ACTIVE"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/node-groups/sandbox-", SIB_NG("sandbox-x", "ACTIVE"), -1);
	json_t *sys = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:i, s:i, s:i}", "cluster_name", "demo", "name", "system",
				"node_role_arn", "arn:aws:iam::1:role/node", "subnet_ids", "subnet-1", "instance_types",
				"m6i.large", "min_size", 1, "max_size", 2, "desired_size", 1),
	       *out = NULL;
	k.want2 = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:i, s:i, s:i}", "cluster_name", "demo", "name", "sandbox",
			    "node_role_arn", "arn:aws:iam::1:role/node", "subnet_ids", "subnet-1", "instance_types",
			    "m6i.large", "min_size", 1, "max_size", 2, "desired_size", 1);
	T_EQ(sf_rt_eks_node_group.create(&t.c, sys, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	sib_joined(&k);
	T_EQ(sent(&t, "/clusters/demo/node-groups/system-"), 4);
	/* one read of its own, after the first was seen ACTIVE */
	T_EQ(sent(&t, "/clusters/demo/node-groups/sandbox-"), 1);
	T_OK(sent_at(&t, "GET https://eks", "/node-groups/sandbox-", 0) >
	     sent_at(&t, "GET https://eks", "/node-groups/system-", 1));
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(k.out2);
	json_decref(k.want2);
	json_decref(sys);
	rt_close(&t);
	sib_close(&k);
}

/* ... and so do their deletes: the cluster's delete waits for all of them,
 * so the second group is read once when the first is gone. */
T_TEST(eks_node_groups_deleted_alongside_share_one_poll_loop)
{
	static const char gone[] = "HTTP/1.1 404 Not Found\nContent-Type: application/json\n\n"
				   "{\"__type\":\"com.amazonaws.eks#ResourceNotFoundException\","
				   "\"message\":\"No node group found\"}";
	struct rt t;
	struct sib_case k;
	sib_open(&k, &t, "eks_nodegroup.system", "eks_nodegroup.sandbox", &sf_rt_eks_node_group);
	k.destroying = 1;
	sf_replay_add(t.f.rp, "DELETE https://eks && /clusters/demo/node-groups/system-x\n", SIB_NG("system-x", "DELETING"),
		      1);
	sf_replay_add(t.f.rp, "DELETE https://eks && /clusters/demo/node-groups/sandbox-x\n",
		      SIB_NG("sandbox-x", "DELETING"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/node-groups/system-x\n", SIB_NG("system-x", "DELETING"), 3);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/node-groups/system-x\n", gone, -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/node-groups/sandbox-x\n", gone, -1);
	json_t *sys = json_pack("{s:s, s:s, s:s}", "id", "demo/system-x", "cluster_name", "demo", "nodegroup_name",
				"system-x");
	k.want2 = json_pack("{s:s, s:s, s:s}", "id", "demo/sandbox-x", "cluster_name", "demo", "nodegroup_name",
			    "sandbox-x");
	T_EQ(sf_rt_eks_node_group.destroy(&t.c, sys), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	sib_joined(&k);
	T_EQ(sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo/node-groups/system-x\n"), 4);
	/* one read of its own, after the first was seen gone */
	T_EQ(sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo/node-groups/sandbox-x\n"), 1);
	T_OK(sent_at(&t, "GET https://eks", "/node-groups/sandbox-x\n", 0) >
	     sent_at(&t, "GET https://eks", "/node-groups/system-x\n", 1));
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(k.want2);
	json_decref(sys);
	rt_close(&t);
	sib_close(&k);
}

#define DNS_ADDON(status, issues)                                                                         \
	EKSJ("{\"addon\":{\"addonName\":\"coredns\",\"status\":\"" status "\",\"addonVersion\":\"v1\","          \
	     "\"health\":{\"issues\":[" issues "]}}}")
#define TOO_FEW "{\"code\":\"InsufficientNumberOfReplicas\",\"message\":\"The add-on is unhealthy because it doesn't have the desired number of replicas.\"}"

static int dns_pending_left;
static size_t dns_pending(struct sf_rctx *c, const char *type)
{
	(void)c;
	if (strcmp(type, "eks_nodegroup"))
		return 0;
	return dns_pending_left > 0 ? (size_t)dns_pending_left-- : 0;
}

/* coredns made before any node: DEGRADED for want of replicas is waited
 * through while the run still makes node groups (c->pending, no read
 * meanwhile), then read at once: ACTIVE ends the create.  Still DEGRADED
 * with no node group left to come, it fails naming its health issue once
 * EKS had its while; DEGRADED for another reason fails at once. */
T_TEST(eks_addon_create_waits_through_degraded_while_node_groups_come)
{
	for (int mode = 0; mode < 3; mode++) {
		struct rt t;
		rt_open(&t, "eks_addon.coredns");
		t.c.pending = dns_pending;
		dns_pending_left = mode == 0 ? 3 : 0;
		sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons\n", SIB_ADDON("coredns", "CREATING"), 1);
		sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/coredns\n", SIB_ADDON("coredns", "CREATING"), 1);
		if (mode == 2)
			sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/coredns\n",
				      DNS_ADDON("DEGRADED", "{\"code\":\"AdmissionRequestDenied\",\"message\":\"denied\"}"), -1);
		else
			sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/coredns\n", DNS_ADDON("DEGRADED", TOO_FEW),
				      mode == 0 ? 1 : -1);
		if (mode == 0)
			sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/coredns\n", DNS_ADDON("ACTIVE", ""), -1);
		json_t *want = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "coredns", "addon_version",
					 "v1"),
		       *out = NULL;
		int rc = sf_rt_eks_addon.create(&t.c, want, &out);
		size_t reads = (size_t)sent(&t, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo/addons/coredns\n");
		if (mode == 0) {
			if (t.err.code)
				fprintf(stderr, "err: %s\n", t.err.msg);
			T_EQ(rc, 0);
			T_EQ(dns_pending_left, 0);
			T_EQ(reads, 3); /* CREATING, DEGRADED, then one read once the node groups were done */
			T_STREQ(json_string_value(json_object_get(out, "version")), "v1");
		} else if (mode == 1) {
			T_EQ(rc, SF_ERROR);
			T_CONTAINS(t.err.msg, "eks_addon.coredns: add-on coredns is DEGRADED: InsufficientNumberOfReplicas: The add-on");
			T_CONTAINS(t.err.hint, "runc node group with at least one node and without NoSchedule taints");
			T_OK(reads >= 3); /* it was read again before giving up */
		} else {
			T_EQ(rc, SF_ERROR);
			T_CONTAINS(t.err.msg, "add-on coredns is DEGRADED: AdmissionRequestDenied: denied");
			T_EQ(reads, 2);
		}
		json_decref(out);
		json_decref(want);
		rt_close(&t);
	}
}

#define VERSIONS_134                                                                                      \
	EKSJ("{\"addons\":[{\"addonName\":\"kube-proxy\",\"addonVersions\":["                              \
	     "{\"addonVersion\":\"v1.34.2-eksbuild.2\",\"compatibilities\":[{\"clusterVersion\":\"1.34\",\"defaultVersion\":true}]}," \
	     "{\"addonVersion\":\"v1.34.1-eksbuild.1\",\"compatibilities\":[{\"clusterVersion\":\"1.34\",\"defaultVersion\":false}]}]}]}")
#define KP_ADDON(status, version)                                                                         \
	EKSJ("{\"addon\":{\"addonName\":\"kube-proxy\",\"status\":\"" status "\",\"addonVersion\":\"" version "\"}}")

/* ---- eks_pod_identity_association ---- */

#define IAMX(body) "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n" body

/* A role for pods trusts pods.eks.amazonaws.com for sts:AssumeRole and
 * sts:TagSession (EKS refuses an association otherwise); a role for a
 * service other than Pod Identity keeps sts:AssumeRole alone. */
T_TEST(aws_iam_role_for_pods_allows_tag_session)
{
	static const struct {
		const char *service;
		int tag_session;
	} cases[] = {{"pods.eks.amazonaws.com", 1}, {"ec2.amazonaws.com", 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rt t;
		rt_open(&t, "aws_iam_role.vpc_cni");
		sf_replay_add(t.f.rp, "Action=CreateRole",
			      IAMX("<CreateRoleResponse><CreateRoleResult><Role><RoleName>demo-vpc-cni</RoleName>"
				   "<Arn>arn:aws:iam::1:role/demo-vpc-cni</Arn></Role></CreateRoleResult></CreateRoleResponse>"),
			      1);
		sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
			      IAMX("<ListAttachedRolePoliciesResponse><ListAttachedRolePoliciesResult><AttachedPolicies/>"
				   "<IsTruncated>false</IsTruncated></ListAttachedRolePoliciesResult>"
				   "</ListAttachedRolePoliciesResponse>"),
			      -1);
		json_t *want = json_pack("{s:s, s:s}", "name", "demo-vpc-cni", "service", cases[i].service), *out = NULL;
		T_EQ(sf_rt_aws_iam_role.create(&t.c, want, &out), 0);
		if (t.err.code)
			fprintf(stderr, "err: %s\n", t.err.msg);
		T_EQ(sent2(&t, "Action=CreateRole", "sts%3AAssumeRole"), 1);
		T_EQ(sent2(&t, "Action=CreateRole", "sts%3ATagSession"), cases[i].tag_session);
		/* a role CreateRole just made has no policies: not listed */
		T_EQ(sent(&t, "Action=ListAttachedRolePolicies"), 0);
		json_decref(out);
		json_decref(want);
		rt_close(&t);
	}
}


#define PIA_PATH "/clusters/prod/pod-identity-associations"
#define PIA(id, role, tags)                                                                               \
	EKSJ("{\"association\":{\"clusterName\":\"prod\",\"namespace\":\"kube-system\","                     \
	     "\"serviceAccount\":\"cluster-autoscaler\",\"associationId\":\"" id "\","                      \
	     "\"associationArn\":\"arn:aws:eks:eu-west-1:1:podidentityassociation/prod/" id "\","           \
	     "\"roleArn\":\"" role "\"," tags "}}")
#define PIA_LIST(id)                                                                                      \
	EKSJ("{\"associations\":[{\"clusterName\":\"prod\",\"namespace\":\"kube-system\","                   \
	     "\"serviceAccount\":\"cluster-autoscaler\",\"associationId\":\"" id "\"}]}")
#define PIA_TAKEN                                                                                         \
	"HTTP/1.1 409 Conflict\nContent-Type: application/json\n\n"                                    \
	"{\"__type\":\"com.amazonaws.eks#ResourceInUseException\",\"message\":\"Association already exists: a-1\"}"
#define ROLE_CA "arn:aws:iam::1:role/prod-autoscaler"

static json_t *pia_want(void)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "cluster_name", "prod", "namespace", "kube-system", "service_account",
			 "cluster-autoscaler", "role_arn", ROLE_CA);
}

/* The service account already has an association: another state's (or one
 * nobody tagged, as an add-on's) is refused naming its owner and left
 * alone; the one a create whose reply was cut made (this state's token) is
 * found by the pair, adopted and not sent again. */
T_TEST(eks_pod_identity_association_refuses_a_taken_pair_and_adopts_its_lost_reply)
{
	struct rt t;
	json_t *want = pia_want(), *out = NULL;
	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "POST https://eks && " PIA_PATH "\n", PIA_TAKEN, -1);
	sf_replay_add(t.f.rp,
		      "GET https://eks && " PIA_PATH "?namespace=kube-system&serviceAccount=cluster-autoscaler\n",
		      PIA_LIST("a-1"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-1\n",
		      PIA("a-1", "arn:aws:iam::1:role/theirs",
			  OWN_TAGS("eks_pod_identity_association.autoscaler", "lin-9", "ffff")),
		      -1);
	T_EQ(sf_rt_eks_pod_identity_association.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_CONTAINS(t.err.hint, "secfaas import");
	T_EQ(t.nids, 0);
	T_EQ(sent2(&t, "POST https://eks", PIA_PATH "\n"), 1);
	T_EQ(sent2(&t, "POST https://eks", PIA_PATH "/a-1"), 0); /* its role untouched */
	T_EQ(sent(&t, "DELETE https://eks"), 0);
	T_OK(out == NULL);
	rt_close(&t);

	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "POST https://eks && " PIA_PATH "\n", PIA_TAKEN, -1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "?namespace=kube-system&serviceAccount=cluster-autoscaler\n",
		      PIA_LIST("a-1"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-1\n",
		      PIA("a-1", "arn:aws:iam::1:role/addon", "\"tags\":{}"), -1);
	T_EQ(sf_rt_eks_pod_identity_association.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "nobody secfaas knows");
	T_EQ(t.nids, 0);
	rt_close(&t);

	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "POST https://eks && " PIA_PATH "\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"association\":{", 1);
	sf_replay_add(t.f.rp, "POST https://eks && " PIA_PATH "\n", PIA_TAKEN, -1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "?namespace=kube-system&serviceAccount=cluster-autoscaler\n",
		      PIA_LIST("a-2"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-2\n",
		      PIA("a-2", ROLE_CA, OWN_TAGS("eks_pod_identity_association.autoscaler", "lin-1", MY_TOKEN)), -1);
	T_EQ(sf_rt_eks_pod_identity_association.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", PIA_PATH "\n"), 1);
	T_EQ(sent2(&t, "POST https://eks", PIA_PATH "/a-2"), 0); /* same role: no update */
	T_EQ(t.nids, 1);
	T_STREQ(t.ids[0], "a-2");
	T_STREQ(json_string_value(json_object_get(out, "id")), "a-2");
	T_STREQ(json_string_value(json_object_get(out, "arn")), "arn:aws:eks:eu-west-1:1:podidentityassociation/prod/a-2");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* A fresh create sends the pair, the role, the ownership tags and the
 * token; read reports a role changed outside secfaas, and update points
 * the association back at the spec's role by its recorded id. */
T_TEST(eks_pod_identity_association_create_read_drift_and_update)
{
	struct rt t;
	json_t *want = pia_want(), *out = NULL, *now = NULL, *fixed = NULL;
	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "POST https://eks && " PIA_PATH "\n", PIA("a-3", ROLE_CA, "\"tags\":{}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-3\n",
		      PIA("a-3", "arn:aws:iam::1:role/wide", "\"tags\":{}"), 2);
	sf_replay_add(t.f.rp, "POST https://eks && " PIA_PATH "/a-3\n", PIA("a-3", ROLE_CA, "\"tags\":{}"), 1);
	T_EQ(sf_rt_eks_pod_identity_association.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", "\"serviceAccount\":\"cluster-autoscaler\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"namespace\":\"kube-system\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"roleArn\":\"" ROLE_CA "\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"secfaas:lineage\":\"lin-1\""), 1);
	T_EQ(sent2(&t, "POST https://eks", "\"clientRequestToken\":\"" MY_TOKEN "\""), 1);
	T_STREQ(t.ids[0], "a-3");
	T_EQ(sf_rt_eks_pod_identity_association.read(&t.c, out, &now), 0);
	T_STREQ(json_string_value(json_object_get(now, "role_arn")), "arn:aws:iam::1:role/wide");
	T_EQ(sf_rt_eks_pod_identity_association.update(&t.c, now, want, &fixed), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "POST https://eks", PIA_PATH "/a-3\n"), 1);
	T_EQ(sent2(&t, PIA_PATH "/a-3\n", "\"roleArn\":\"" ROLE_CA "\""), 1);
	T_STREQ(json_string_value(json_object_get(fixed, "id")), "a-3");
	json_decref(fixed);
	json_decref(now);
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

/* destroy deletes by the recorded id; gone already is success; without a
 * recorded id (a killed create) it finds the pair's association, or takes
 * the one the ownership proof before it found (c->marked). */
T_TEST(eks_pod_identity_association_destroy)
{
	struct rt t;
	json_t *prior = pia_want();
	json_object_set_new(prior, "id", json_string("a-4"));
	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-4\n", PIA("a-4", ROLE_CA, "\"tags\":{}"), 1);
	sf_replay_add(t.f.rp, "DELETE https://eks && " PIA_PATH "/a-4\n", PIA("a-4", ROLE_CA, "\"tags\":{}"), 1);
	T_EQ(sf_rt_eks_pod_identity_association.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 1);
	T_EQ(sent(&t, "?namespace="), 0);
	rt_close(&t);

	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-4\n",
		      "HTTP/1.1 404 Not Found\nContent-Type: application/json\n\n"
		      "{\"__type\":\"com.amazonaws.eks#ResourceNotFoundException\",\"message\":\"Association not found: a-4\"}",
		      1);
	T_EQ(sf_rt_eks_pod_identity_association.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 0);
	rt_close(&t);

	json_object_del(prior, "id");
	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "?namespace=kube-system&serviceAccount=cluster-autoscaler\n",
		      PIA_LIST("a-5"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-5\n", PIA("a-5", ROLE_CA, "\"tags\":{}"), 1);
	sf_replay_add(t.f.rp, "DELETE https://eks && " PIA_PATH "/a-5\n", PIA("a-5", ROLE_CA, "\"tags\":{}"), 1);
	T_EQ(sf_rt_eks_pod_identity_association.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 1);
	rt_close(&t);

	/* after the engine's ownership proof, which found it the same way,
	 * destroy deletes what the proof found without looking again */
	rt_open(&t, "eks_pod_identity_association.autoscaler");
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "?namespace=kube-system&serviceAccount=cluster-autoscaler\n",
		      PIA_LIST("a-6"), -1);
	sf_replay_add(t.f.rp, "GET https://eks && " PIA_PATH "/a-6\n", PIA("a-6", ROLE_CA, "\"tags\":{}"), -1);
	sf_replay_add(t.f.rp, "DELETE https://eks && " PIA_PATH "/a-6\n", PIA("a-6", ROLE_CA, "\"tags\":{}"), 1);
	char *mid = NULL;
	json_t *mtags = NULL;
	t.c.keep_marked = 1;
	T_EQ(sf_rt_eks_pod_identity_association.own->marks(&t.c, prior, &mid, &mtags), 0);
	t.c.keep_marked = 0;
	T_OK(t.c.marked != NULL);
	T_EQ(sf_rt_eks_pod_identity_association.destroy(&t.c, prior), 0);
	T_EQ(sent(&t, "DELETE https://eks"), 1);
	T_EQ(sent(&t, "?namespace="), 1);
	T_EQ(sent2(&t, "GET https://eks", PIA_PATH "/a-6\n"), 1);
	json_decref(t.c.marked);
	t.c.marked = NULL;
	json_decref(mtags);
	free(mid);
	rt_close(&t);
	json_decref(prior);
}

/* An upgrade step: the Kubernetes version an add-on is for moves, so an
 * unpinned add-on goes to EKS's default for the new version. */
T_TEST(eks_addon_follows_the_kubernetes_version)
{
	struct rt t;
	rt_open(&t, "eks_addon.kube_proxy");
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/kube-proxy", KP_ADDON("ACTIVE", "v1.33.5-eksbuild.2"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /addons/supported-versions?kubernetesVersion=1.34&maxResults=100",
		      VERSIONS_134, 1);
	sf_replay_add(t.f.rp, "POST https://eks && /clusters/demo/addons/kube-proxy/update",
		      EKSJ("{\"update\":{\"id\":\"u-1\",\"status\":\"InProgress\",\"type\":\"AddonUpdate\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/updates/u-1",
		      EKSJ("{\"update\":{\"id\":\"u-1\",\"status\":\"Successful\",\"type\":\"AddonUpdate\"}}"), 1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo/addons/kube-proxy", KP_ADDON("ACTIVE", "v1.34.2-eksbuild.2"), -1);
	json_t *prior = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "kube-proxy",
				  "kubernetes_version", "1.33"),
	       *want = json_pack("{s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "kube-proxy",
				 "kubernetes_version", "1.34"),
	       *out = NULL;
	T_EQ(sf_rt_eks_addon.update(&t.c, prior, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent2(&t, "/kube-proxy/update", "\"addonVersion\":\"v1.34.2-eksbuild.2\""), 1);
	T_STREQ(json_string_value(json_object_get(out, "version")), "v1.34.2-eksbuild.2");
	json_decref(out);
	out = NULL;
	/* run again (a killed run resumed): EKS already runs it, nothing is sent */
	size_t before = sf_replay_count(t.f.rp);
	T_EQ(sf_rt_eks_addon.update(&t.c, prior, want, &out), 0);
	T_EQ(sent(&t, "/kube-proxy/update"), 1);
	/* describe only: no update, and the versions are this run's already */
	T_EQ(sf_replay_count(t.f.rp), before + 1);
	T_STREQ(json_string_value(json_object_get(out, "version")), "v1.34.2-eksbuild.2");
	json_decref(out);
	json_decref(prior);
	json_decref(want);
	rt_close(&t);
}

#define LT_FOUND(lin, tok)                                                                                \
	EC2("DescribeLaunchTemplates", "<launchTemplates><item><launchTemplateId>lt-0mine</launchTemplateId>"  \
	    "<latestVersionNumber>1</latestVersionNumber><tagSet>"                                          \
	    "<item><key>secfaas:workspace</key><value>demo</value></item>"                                  \
	    "<item><key>secfaas:lineage</key><value>" lin "</value></item>"                                 \
	    "<item><key>secfaas:address</key><value>aws_launch_template.system</value></item>"              \
	    "<item><key>secfaas:token</key><value>" tok "</value></item></tagSet></item></launchTemplates>")

#define LT_TAKEN                                                                                          \
	"HTTP/1.1 400 Bad Request\nContent-Type: text/xml\n\n<Response><Errors><Error><Code>"                  \
	"InvalidLaunchTemplateName.AlreadyExistsException</Code><Message>Launch template name already in use."  \
	"</Message></Error></Errors><RequestID>r</RequestID></Response>"

T_TEST(launch_template_create_adopts_its_lost_reply_and_refuses_a_foreign_name)
{
	struct rt t;
	json_t *want = json_pack("{s:s, s:i}", "name", "demo-system", "disk_size", 30), *out = NULL;
	rt_open(&t, "aws_launch_template.system");
	sf_replay_add(t.f.rp, "Action=CreateLaunchTemplate",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<CreateLaunchTemplateResponse><launchTemplate>", 1);
	sf_replay_add(t.f.rp, "Action=CreateLaunchTemplate",
		      LT_TAKEN, -1);
	sf_replay_add(t.f.rp, "Action=DescribeLaunchTemplates && LaunchTemplateName.1=demo-system-",
		      LT_FOUND("lin-1", MY_TOKEN), -1);
	T_EQ(sf_rt_aws_launch_template.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=CreateLaunchTemplate"), 1);
	T_STREQ(json_string_value(json_object_get(out, "id")), "lt-0mine");
	T_STREQ(json_string_value(json_object_get(out, "latest_version")), "1");
	json_decref(out);
	out = NULL;
	rt_close(&t);
	rt_open(&t, "aws_launch_template.system");
	sf_replay_add(t.f.rp, "Action=CreateLaunchTemplate",
		      LT_TAKEN, -1);
	sf_replay_add(t.f.rp, "Action=DescribeLaunchTemplates && LaunchTemplateName.1=demo-system-",
		      LT_FOUND("lin-9", "ffff"), -1);
	T_EQ(sf_rt_aws_launch_template.create(&t.c, want, &out), SF_ECONFLICT);
	T_CONTAINS(t.err.msg, "lineage lin-9");
	T_EQ(t.nids, 0);
	T_EQ(sent(&t, "Action=DeleteLaunchTemplate"), 0);
	json_decref(want);
	rt_close(&t);
}

/* A pin EKS does not offer for the Kubernetes version fails the plan,
 * where the spec pinned it, naming what EKS offers. */
T_TEST(eks_addon_plan_refuses_a_pin_not_offered)
{
	struct rt t;
	rt_open(&t, "eks_addon.kube_proxy");
	sf_replay_add(t.f.rp, "GET https://eks && /addons/supported-versions?kubernetesVersion=1.34&maxResults=100",
		      VERSIONS_134, 2);
	json_t *want = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cluster_name", "demo", "addon_name", "kube-proxy",
				 "kubernetes_version", "1.34", "addon_version", "v1.33.5-eksbuild.2", "version_where",
				 "c.yaml:12:29");
	T_EQ(sf_rt_eks_addon.plan_review(&t.c, NULL, want), SF_EINVAL);
	T_CONTAINS(t.err.msg, "add-on kube-proxy v1.33.5-eksbuild.2 is not offered for Kubernetes 1.34 (EKS offers: "
			      "v1.34.2-eksbuild.2, v1.34.1-eksbuild.1)");
	T_STREQ(t.err.where, "c.yaml:12:29");
	sf_err_clear(&t.err);
	json_object_set_new(want, "addon_version", json_string("v1.34.1-eksbuild.1"));
	T_EQ(sf_rt_eks_addon.plan_review(&t.c, NULL, want), 0);
	/* an add-on whose versions do not change costs no call */
	size_t n = sf_replay_count(t.f.rp);
	T_EQ(sf_rt_eks_addon.plan_review(&t.c, want, want), 0);
	T_EQ(sf_replay_count(t.f.rp), n);
	json_decref(want);
	rt_close(&t);
}

T_TEST(launch_template_refuses_an_arch_mismatch)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	sf_replay_add(t.f.rp, "Action=DescribeImages && ImageId.1=ami-0arm",
		      EC2("DescribeImages", "<imagesSet><item><imageId>ami-0arm</imageId><imageState>available</imageState>"
			  "<architecture>arm64</architecture><tagSet><item><key>secfaas:kind</key><value>gvisor-ami</value></item>"
			  "<item><key>secfaas:gvisor-release</key><value>20250113.0</value></item></tagSet></item></imagesSet>"),
		      1);
	json_t *want = json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "demo-sandbox", "image_id", "ami-0arm", "user_data",
				 "x", "image_check", "arch", "x86_64"),
	       *out = NULL;
	T_EQ(sf_rt_aws_launch_template.create(&t.c, want, &out), SF_EINVAL);
	T_CONTAINS(t.err.msg, "is arm64 but the node group's instance types are x86_64");
	json_decref(want);
	rt_close(&t);
}

/* ---- eventual consistency: AWS's exact refusals are retried, others not ---- */

#define EKS_ERR(code, msg)                                                                                  \
	"HTTP/1.1 400 Bad Request\nContent-Type: application/json\nx-amzn-ErrorType: " code ":http://internal/\n\n" \
	"{\"message\":\"" msg "\"}"
static int notes;
static char last_note[256];
static void count_note(struct sf_rctx *c, const char *status)
{
	(void)c;
	if (strstr(status, "retrying"))
		notes++;
	snprintf(last_note, sizeof last_note, "%s", status);
}

T_TEST(new_role_not_yet_assumable_by_eks_is_retried)
{
	struct rt t;
	rt_open(&t, "eks_cluster.main");
	notes = 0;
	t.c.note = count_note;
	sf_replay_add(t.f.rp, "POST https://eks.eu-west-1.amazonaws.com/clusters",
		      EKS_ERR("InvalidParameterException",
			      "Role with arn: arn:aws:iam::123456789012:role/demo-cluster, could not be assumed because it "
			      "does not exist or the trusted entity is not correct"),
		      2);
	sf_replay_add(t.f.rp, "POST https://eks.eu-west-1.amazonaws.com/clusters",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"cluster\":{\"name\":\"demo\",\"status\":\"CREATING\"}}", 1);
	sf_replay_add(t.f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/demo",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"cluster\":{\"name\":\"demo\",\"status\":\"ACTIVE\","
		      "\"arn\":\"arn:aws:eks:eu-west-1:123456789012:cluster/demo\",\"endpoint\":\"https://e\"}}",
		      -1);
	json_t *want = json_pack("{s:s, s:s, s:s, s:[s, s]}", "name", "demo", "version", "1.33", "role_arn",
				 "arn:aws:iam::123456789012:role/demo-cluster", "subnet_ids", "subnet-1", "subnet-2"),
	       *out = NULL;
	T_EQ(sf_rt_eks_cluster.create(&t.c, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "POST https://eks.eu-west-1.amazonaws.com/clusters\n"), 3);
	T_EQ(notes, 2); /* a progress line per retry */
	/* and one once it went through: the status no longer says retrying */
	T_STREQ(last_note, "eks CreateCluster accepted after 3 attempts");
	json_decref(out);
	json_decref(want);
	rt_close(&t);
}

T_TEST(new_instance_profile_not_yet_usable_by_ec2_is_retried_with_a_bound)
{
	struct rt t;
	rt_open(&t, "aws_gvisor_ami.x");
	notes = 0;
	t.c.note = count_note;
	/* the exact text EC2 sends, for ever: retried, then the error stands */
	t.c.timeout_s = 0.2;
	sf_replay_add(t.f.rp, "Action=RunInstances",
		      EC2_ERR("InvalidParameterValue", "Value (demo-ami-builder) for parameter iamInstanceProfile.name is "
						       "invalid. Invalid IAM Instance Profile name"),
		      -1);
	json_t *o = NULL;
	int rc = ax_ec2(&t.c, "RunInstances",
			json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "ImageId", "ami-1", "InstanceType", "m6i.large",
				  "MinCount", 1, "MaxCount", 1, "IamInstanceProfile", "Name", "demo-ami-builder"),
			&o);
	T_EQ(rc, SF_EINVAL);
	T_OK(sent(&t, "Action=RunInstances") > 2);
	T_OK(notes > 1);
	T_OK(strstr(t.err.hint, "EC2 does not know the new instance profile yet") != NULL);
	rt_close(&t);
}

T_TEST(a_wrong_parameter_is_not_retried)
{
	struct rt t;
	rt_open(&t, "aws_gvisor_ami.x");
	sf_replay_add(t.f.rp, "Action=RunInstances",
		      EC2_ERR("InvalidParameterValue", "Value (m6i.huge) for parameter instanceType is invalid."), -1);
	json_t *o = NULL;
	T_EQ(ax_ec2(&t.c, "RunInstances", json_pack("{s:s}", "ImageId", "ami-1"), &o), SF_EINVAL);
	T_EQ(sent(&t, "Action=RunInstances"), 1);
	rt_close(&t);
}

T_TEST(not_found_is_retried_only_for_an_id_this_run_just_made)
{
	struct rt t;
	rt_open(&t, "aws_subnet.a");
	sf_replay_add(t.f.rp, "Action=CreateSubnet",
		      EC2("CreateSubnet", "<subnet><subnetId>subnet-0123456789abcdef0</subnetId></subnet>"), 1);
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute && subnet-0123456789abcdef0",
		      EC2_ERR("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123456789abcdef0' does not exist"), 2);
	sf_replay_add(t.f.rp, "Action=ModifySubnetAttribute && subnet-0123456789abcdef0",
		      EC2("ModifySubnetAttribute", "<return>true</return>"), 1);
	sf_replay_add(t.f.rp, "Action=DeleteSubnet && subnet-0fffffffffffffff0",
		      EC2_ERR("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0fffffffffffffff0' does not exist"), -1);
	T_EQ(ax_ec2(&t.c, "CreateSubnet", json_pack("{s:s}", "VpcId", "vpc-1"), NULL), 0);
	T_EQ(ax_ec2(&t.c, "ModifySubnetAttribute",
		    json_pack("{s:s, s:{s:b}}", "SubnetId", "subnet-0123456789abcdef0", "MapPublicIpOnLaunch", "Value", 1),
		    NULL),
	     0);
	T_EQ(sent(&t, "Action=ModifySubnetAttribute"), 3);
	/* an old id: NotFound is an answer (destroy counts it as gone) */
	T_EQ(ax_ec2(&t.c, "DeleteSubnet", json_pack("{s:s}", "SubnetId", "subnet-0fffffffffffffff0"), NULL), SF_ENOTFOUND);
	T_EQ(sent(&t, "Action=DeleteSubnet"), 1);
	rt_close(&t);
}

T_TEST(helpers_tags_and_suffix)
{
	struct rt t;
	rt_open(&t, "aws_subnet.public_a");
	json_t *want = json_pack("{s:{s:s}}", "tags", "team", "t");
	json_t *tags = ax_tags(&t.c, want, 1);
	T_STREQ(json_string_value(json_object_get(tags, "team")), "t");
	T_STREQ(json_string_value(json_object_get(tags, "secfaas:workspace")), "demo");
	T_STREQ(json_string_value(json_object_get(tags, "secfaas:lineage")), "lin-1");
	T_STREQ(json_string_value(json_object_get(tags, "secfaas:address")), "aws_subnet.public_a");
	T_STREQ(json_string_value(json_object_get(tags, "secfaas:token")), t.c.token);
	json_t *user = ax_user_tags(tags);
	T_EQ(json_object_size(user), 1);
	char a[9], b[9];
	ax_token_suffix(&t.c, a);
	ax_token_suffix(&t.c, b);
	T_STREQ(a, b);
	T_EQ(strlen(a), 8);
	t.c.token = "ffffffffffffffffffffffffffffffff";
	ax_token_suffix(&t.c, b);
	T_OK(strcmp(a, b) != 0);
	char *b64 = sf_b64encode("hi!", 3);
	T_STREQ(b64, "aGkh");
	free(b64);
	json_decref(user);
	json_decref(tags);
	json_decref(want);
	rt_close(&t);
}

/* ---- waiting through named waiters (ax_wait) ---- */

#define EKS_CLUSTER(status) "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"cluster\":{\"name\":\"prod\",\"status\":\"" status "\"}}"

struct lines {
	int n;
	char last[256];
	volatile int *cancel_after; /* raised after this many lines (cancel test) */
	int at;
};
static struct lines g_lines;

static void record_line(struct sf_rctx *c, const char *line)
{
	(void)c;
	g_lines.n++;
	snprintf(g_lines.last, sizeof g_lines.last, "%s", line);
	if (g_lines.cancel_after && g_lines.n >= g_lines.at)
		*g_lines.cancel_after = 1;
}

static int wait_cluster(struct rt *t)
{
	return ax_wait(&t->c, sf_aws_waiter_find("eks.ClusterActive"), json_pack("{s:s}", "name", "prod"), 2400,
		       "cluster");
}

T_TEST(waits_report_progress_and_name_the_object)
{
	struct rt t;
	rt_open(&t, "eks_cluster.main");
	memset(&g_lines, 0, sizeof g_lines);
	t.c.progress = record_line;
	sf_replay_add(t.f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", EKS_CLUSTER("CREATING"), 2);
	sf_replay_add(t.f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/prod\n", EKS_CLUSTER("ACTIVE"), 1);
	T_EQ(wait_cluster(&t), 0);
	T_EQ(sf_replay_count(t.f.rp), 3);
	T_EQ(g_lines.n, 3);
	T_CONTAINS(g_lines.last, "cluster: ACTIVE (");
	T_CONTAINS(g_lines.last, " elapsed)");

	/* a failure state: the address, the row's words, no more polls */
	sf_replay_add(t.f.rp, "/clusters/prod\n", EKS_CLUSTER("FAILED"), 1);
	T_EQ(wait_cluster(&t), SF_ERROR);
	T_STREQ(t.err.msg, "eks_cluster.main: cluster prod is FAILED");
	T_EQ(sf_replay_count(t.f.rp), 4);

	/* node groups name their health issues */
	sf_replay_add(t.f.rp, "/clusters/prod/node-groups/ng-1\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"nodegroup\":{\"status\":\"DEGRADED\",\"health\":"
		      "{\"issues\":[{\"code\":\"AsgInstanceLaunchFailures\"}]}}}",
		      1);
	T_EQ(ax_wait(&t.c, sf_aws_waiter_find("eks.NodegroupActive"),
		     json_pack("{s:s, s:s}", "clusterName", "prod", "nodegroupName", "ng-1"), 3600, "node group"),
	     SF_ERROR);
	T_STREQ(t.err.msg, "eks_cluster.main: node group ng-1 is DEGRADED: [{\"code\":\"AsgInstanceLaunchFailures\"}]");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	rt_close(&t);
}

T_TEST(waits_time_out_and_stop_on_cancel)
{
	struct rt t;
	rt_open(&t, "eks_cluster.main");
	memset(&g_lines, 0, sizeof g_lines);
	t.c.progress = record_line;
	sf_replay_add(t.f.rp, "/clusters/prod\n", EKS_CLUSTER("CREATING"), -1);
	/* the operation's budget wins over the type's; polls every 3 ms (scaled 30 s) */
	t.c.timeout_s = 0.05;
	T_EQ(wait_cluster(&t), SF_ETIMEOUT);
	T_STREQ(t.err.msg, "eks_cluster.main: cluster still CREATING after 0s");
	T_CONTAINS(t.err.hint, "run apply again");
	T_OK(sf_replay_count(t.f.rp) >= 1);

	/* cancelled before: nothing is sent */
	size_t before = sf_replay_count(t.f.rp);
	t.c.timeout_s = 0;
	t.cancel = 1;
	T_EQ(wait_cluster(&t), SF_EINTR);
	T_STREQ(t.err.msg, "eks_cluster.main: interrupted while waiting");
	T_EQ(sf_replay_count(t.f.rp), before);

	/* cancelled by the second progress report: two polls, then out */
	t.cancel = 0;
	memset(&g_lines, 0, sizeof g_lines);
	g_lines.cancel_after = &t.cancel;
	g_lines.at = 2;
	T_EQ(wait_cluster(&t), SF_EINTR);
	T_EQ(sf_replay_count(t.f.rp), before + 2);
	rt_close(&t);
}

T_MAIN()

/* ---- batched refresh reads (resources/aws_batch.h) ---- */

#define SUBNET_ITEM(id, cidr)                                                                                   \
	"<item><subnetId>" id "</subnetId><cidrBlock>" cidr "</cidrBlock><availabilityZone>eu-west-1a</availabilityZone>" \
	"<mapPublicIpOnLaunch>false</mapPublicIpOnLaunch><tagSet><item><key>team</key><value>t</value></item></tagSet></item>"

static json_t *subnet_prior(const char *id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:{s:s}}", "id", id, "vpc_id", "vpc-1", "cidr_block", "10.0.0.0/24",
			 "availability_zone", "eu-west-1a", "public", 0, "tags", "team", "t");
}

/* Three subnets refreshed: one filtered DescribeSubnets (the filter form,
 * which does not fail when an id is gone), paginated; the id the answer
 * lacks is gone without a call of its own; a read outside a refresh asks
 * AWS itself. */
T_TEST(subnet_batch_read_one_call_and_a_missing_id_is_gone)
{
	struct rt t;
	rt_open(&t, "aws_subnet");
	json_t *p[3] = {subnet_prior("subnet-0a"), subnet_prior("subnet-0b"), subnet_prior("subnet-0c")};
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && NextToken=page2",
		      EC2("DescribeSubnets", "<subnetSet>" SUBNET_ITEM("subnet-0c", "10.0.2.0/24") "</subnetSet>"), 1);
	sf_replay_add(t.f.rp,
		      "Action=DescribeSubnets && Filter.1.Name=subnet-id && Filter.1.Value.1=subnet-0a && "
		      "Filter.1.Value.2=subnet-0b && Filter.1.Value.3=subnet-0c && MaxResults=1000",
		      EC2("DescribeSubnets", "<subnetSet>" SUBNET_ITEM("subnet-0a", "10.0.0.0/24") "</subnetSet><nextToken>page2</nextToken>"), 1);
	T_OK(sf_rt_aws_subnet.read_batch != NULL);
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_subnet.read_batch(&t.c, (const json_t *const *)p, 3), 0);
	T_EQ(sent(&t, "Action=DescribeSubnets"), 2); /* two pages of one call */
	T_EQ(sent(&t, "SubnetId.1="), 0);              /* never the by-id form, which one gone id fails */
	json_t *a = NULL, *b = NULL, *c = NULL;
	t.c.address = "aws_subnet.a";
	T_EQ(sf_rt_aws_subnet.read(&t.c, p[0], &a), 0);
	t.c.address = "aws_subnet.b";
	T_EQ(sf_rt_aws_subnet.read(&t.c, p[1], &b), SF_ENOTFOUND);
	t.err = (struct sf_err)SF_ERR_INIT;
	t.c.address = "aws_subnet.c";
	T_EQ(sf_rt_aws_subnet.read(&t.c, p[2], &c), 0);
	T_STREQ(json_string_value(json_object_get(c, "cidr_block")), "10.0.2.0/24"); /* drift seen */
	T_STREQ(json_string_value(json_object_get(a, "cidr_block")), "10.0.0.0/24");
	T_EQ(sent(&t, "Action=DescribeSubnets"), 2); /* the reads took the answer */
	/* a second batch of the same ids in the run asks nothing */
	T_EQ(sf_rt_aws_subnet.read_batch(&t.c, (const json_t *const *)p, 3), 0);
	T_EQ(sent(&t, "Action=DescribeSubnets"), 2);
	/* outside a refresh (after a change): one by-id read */
	json_decref(a);
	a = NULL;
	t.c.refreshing = 0;
	sf_replay_add(t.f.rp, "Action=DescribeSubnets && SubnetId.1=subnet-0a",
		      EC2("DescribeSubnets", "<subnetSet>" SUBNET_ITEM("subnet-0a", "10.0.0.0/24") "</subnetSet>"), 1);
	T_EQ(sf_rt_aws_subnet.read(&t.c, p[0], &a), 0);
	T_EQ(sent(&t, "Action=DescribeSubnets"), 3);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(a);
	json_decref(c);
	for (int i = 0; i < 3; i++)
		json_decref(p[i]);
	rt_close(&t);
}

/* More ids than EC2 takes in one filter: one call per 200.  A failed batch
 * answers nothing: each read then asks by id, so the plan sees the
 * truth either way. */
T_TEST(batch_read_chunks_by_200_and_a_failed_batch_falls_back)
{
	struct rt t;
	rt_open(&t, "aws_security_group");
	enum { N = 250 };
	json_t *p[N];
	for (int i = 0; i < N; i++) {
		char id[32];
		snprintf(id, sizeof id, "sg-%04x", i);
		p[i] = json_pack("{s:s, s:s, s:s}", "id", id, "vpc_id", "vpc-1", "name", "g");
	}
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups && Filter.1.Value.200=sg-00c7",
		      EC2("DescribeSecurityGroups", "<securityGroupInfo/>"), 1);
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups && Filter.1.Value.50=sg-00f9",
		      EC2("DescribeSecurityGroups", "<securityGroupInfo/>"), 1);
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_security_group.read_batch(&t.c, (const json_t *const *)p, N), 0);
	T_EQ(sent(&t, "Action=DescribeSecurityGroups"), 2);
	T_EQ(sent(&t, "Filter.1.Value.201="), 0);
	json_t *g = NULL;
	T_EQ(sf_rt_aws_security_group.read(&t.c, p[249], &g), SF_ENOTFOUND);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	rt_close(&t);

	rt_open(&t, "aws_security_group");
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups && Filter.1.Name=group-id",
		      EC2_ERR("UnauthorizedOperation", "You are not authorized to perform this operation."), 1);
	t.c.refreshing = 1;
	T_OK(sf_rt_aws_security_group.read_batch(&t.c, (const json_t *const *)p, 2) < 0);
	t.err = (struct sf_err)SF_ERR_INIT;
	sf_replay_add(t.f.rp, "Action=DescribeSecurityGroups && GroupId.1=sg-0000",
		      EC2("DescribeSecurityGroups", "<securityGroupInfo><item><groupId>sg-0000</groupId><groupName>g</groupName>"
						    "<vpcId>vpc-1</vpcId></item></securityGroupInfo>"),
		      1);
	T_EQ(sf_rt_aws_security_group.read(&t.c, p[0], &g), 0);
	T_STREQ(json_string_value(json_object_get(g, "name")), "g");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(g);
	for (int i = 0; i < N; i++)
		json_decref(p[i]);
	rt_close(&t);
}

/* Each action's own page size: DescribeRouteTables takes at most 100 (its
 * model), and a larger MaxResults fails the whole batch. */
T_TEST(route_table_batch_asks_pages_of_100)
{
	struct rt t;
	rt_open(&t, "aws_route_table");
	json_t *p = json_pack("{s:s, s:s}", "id", "rtb-0a", "vpc_id", "vpc-1"), *out = NULL;
	sf_replay_add(t.f.rp, "Action=DescribeRouteTables && Filter.1.Name=route-table-id && MaxResults=100",
		      EC2("DescribeRouteTables", "<routeTableSet><item><routeTableId>rtb-0a</routeTableId><vpcId>vpc-1</vpcId>"
						 "</item></routeTableSet>"),
		      1);
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_route_table.read_batch(&t.c, (const json_t *const *)&p, 1), 0);
	T_EQ(sf_rt_aws_route_table.read(&t.c, p, &out), 0);
	T_EQ(sent(&t, "Action=DescribeRouteTables"), 1);
	T_EQ(sent(&t, "MaxResults=1000"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(p);
	rt_close(&t);
}

/* A waiter's budget at a small poll scale is not the scaled official one
 * (2.4 s for a 40 minute cluster create at 0.001) but at least five
 * minutes, or the official budget when that is shorter: a simulated control
 * plane's start on a loaded host is not scaled.  Retries keep the 20 s
 * floor; at real speed both are the official values. */
T_TEST(wait_budgets_have_a_floor_retries_keep_theirs)
{
	setenv("SECFAAS_POLL_SCALE", "0.001", 1);
	T_OK(ax_wait_deadline(2400) == 300);
	T_OK(ax_wait_deadline(60) == 60);
	T_OK(ax_deadline(2400) == 20);
	setenv("SECFAAS_POLL_SCALE", "1", 1);
	T_OK(ax_wait_deadline(2400) == 2400);
	T_OK(ax_deadline(180) == 180);
	unsetenv("SECFAAS_POLL_SCALE");
}

/* The other EC2 types a refresh reads in one call, each by the filter its
 * Describe documents (never the by-id list, which fails whole when one id
 * is gone): the missing id is gone without a call of its own, and an
 * action whose model takes no MaxResults is sent none. */
T_TEST(eip_nat_endpoint_image_batch_reads_filter_by_id)
{
	static const struct {
		const char *type, *action, *filter, *byid, *a, *b, *reply, *prior_extra;
		int max;
	} k[] = {
		{"aws_eip", "DescribeAddresses", "allocation-id", "AllocationId.1=", "eipalloc-0a", "eipalloc-0b",
		 EC2("DescribeAddresses", "<addressesSet><item><allocationId>eipalloc-0a</allocationId>"
					  "<publicIp>198.51.100.9</publicIp></item></addressesSet>"),
		 NULL, 0},
		{"aws_nat_gateway", "DescribeNatGateways", "nat-gateway-id", "NatGatewayId.1=", "nat-0a", "nat-0b",
		 EC2("DescribeNatGateways", "<natGatewaySet>" NAT_ITEM("nat-0a", "available") "</natGatewaySet>"), NULL, 1},
		{"aws_vpc_endpoint", "DescribeVpcEndpoints", "vpc-endpoint-id", "VpcEndpointId.1=", "vpce-0a", "vpce-0b",
		 EC2("DescribeVpcEndpoints", "<vpcEndpointSet><item><vpcEndpointId>vpce-0a</vpcEndpointId><state>available"
					     "</state><vpcEndpointType>Gateway</vpcEndpointType></item></vpcEndpointSet>"),
		 "Gateway", 1},
		{"aws_gvisor_ami", "DescribeImages", "image-id", "ImageId.1=", "ami-0a", "ami-0b",
		 EC2("DescribeImages", "<imagesSet><item><imageId>ami-0a</imageId><imageState>available</imageState>"
				       "</item></imagesSet>"),
		 NULL, 0},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(k); i++) {
		struct rt t;
		rt_open(&t, k[i].type);
		const struct sf_rtype *ty = sf_rtype_find(k[i].type);
		T_OK(ty && ty->read_batch);
		json_t *p[2] = {json_pack("{s:s}", "id", k[i].a), json_pack("{s:s}", "id", k[i].b)};
		for (int j = 0; j < 2 && k[i].prior_extra; j++)
			json_object_set_new(p[j], "type", json_string(k[i].prior_extra));
		char *rule = xasprintf("Action=%s && Filter.1.Name=%s && Filter.1.Value.1=%s && Filter.1.Value.2=%s",
				       k[i].action, k[i].filter, k[i].a, k[i].b);
		sf_replay_add(t.f.rp, rule, k[i].reply, 1);
		t.c.refreshing = 1;
		T_EQ(ty->read_batch(&t.c, (const json_t *const *)p, 2), 0);
		char *act = xasprintf("Action=%s", k[i].action);
		T_EQ(sent(&t, act), 1);
		T_EQ(sent(&t, k[i].byid), 0);
		T_EQ(sent(&t, "MaxResults="), k[i].max);
		json_t *a = NULL, *b = NULL;
		T_EQ(ty->read(&t.c, p[0], &a), 0);
		T_STREQ(json_string_value(json_object_get(a, "id")), k[i].a);
		T_EQ(ty->read(&t.c, p[1], &b), SF_ENOTFOUND);
		T_EQ(sent(&t, act), 1); /* both reads took the answer */
		T_EQ(sf_replay_unmatched(t.f.rp), 0);
		json_decref(a);
		free(act);
		free(rule);
		json_decref(p[0]);
		json_decref(p[1]);
		rt_close(&t);
	}
}

/* Launch templates have no id filter: one DescribeLaunchTemplates by the
 * recorded names, matched by id, so a template someone deleted and made
 * again under the same name is gone, with no call of its own; the one
 * still there reads only its default version. */
T_TEST(launch_template_batch_reads_by_name_and_matches_the_id)
{
	struct rt t;
	rt_open(&t, "aws_launch_template.sandbox");
	json_t *p[2] = {json_pack("{s:s, s:s, s:s}", "id", "lt-0a", "template_name", "ng-a-1", "name", "ng-a"),
			json_pack("{s:s, s:s, s:s}", "id", "lt-0b", "template_name", "ng-b-1", "name", "ng-b")};
	sf_replay_add(t.f.rp,
		      "Action=DescribeLaunchTemplates && Filter.1.Name=launch-template-name && Filter.1.Value.1=ng-a-1 && "
		      "Filter.1.Value.2=ng-b-1 && MaxResults=200",
		      EC2("DescribeLaunchTemplates",
			  "<launchTemplates><item><launchTemplateId>lt-0a</launchTemplateId><launchTemplateName>ng-a-1"
			  "</launchTemplateName></item><item><launchTemplateId>lt-0c</launchTemplateId><launchTemplateName>"
			  "ng-b-1</launchTemplateName></item></launchTemplates>"),
		      1);
	sf_replay_add(t.f.rp, "Action=DescribeLaunchTemplateVersions && LaunchTemplateId=lt-0a",
		      EC2("DescribeLaunchTemplateVersions",
			  "<launchTemplateVersionSet><item><launchTemplateId>lt-0a</launchTemplateId><versionNumber>1"
			  "</versionNumber><launchTemplateData><imageId>ami-0a</imageId><metadataOptions><httpTokens>"
			  "required</httpTokens><httpPutResponseHopLimit>1</httpPutResponseHopLimit></metadataOptions>"
			  "</launchTemplateData></item></launchTemplateVersionSet>"),
		      1);
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_launch_template.read_batch(&t.c, (const json_t *const *)p, 2), 0);
	json_t *a = NULL, *b = NULL;
	T_EQ(sf_rt_aws_launch_template.read(&t.c, p[0], &a), 0);
	T_STREQ(json_string_value(json_object_get(a, "image_id")), "ami-0a");
	T_EQ(sf_rt_aws_launch_template.read(&t.c, p[1], &b), SF_ENOTFOUND);
	T_EQ(sent(&t, "Action=DescribeLaunchTemplates&"), 1);
	T_EQ(sent(&t, "LaunchTemplateId.1="), 0);
	T_EQ(sent(&t, "Action=DescribeLaunchTemplateVersions"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(a);
	json_decref(p[0]);
	json_decref(p[1]);
	rt_close(&t);
}

/* A refresh reads a role with GetRole, ListRolePolicies and
 * ListAttachedRolePolicies: GetRole's
 * answer carries every tag of the role, so the ownership proof comes from
 * it (c->own_tags) and no ListRoleTags is sent; outside a refresh nothing
 * is left there. */
T_TEST(role_refresh_takes_its_ownership_tags_from_get_role)
{
	struct rt t;
	rt_open(&t, "aws_iam_role.node");
	json_t *prior = json_pack("{s:s, s:s}", "name", "p-node", "service", "ec2.amazonaws.com");
	sf_replay_add(t.f.rp, "Action=GetRole&",
		      IAM("GetRole", "<GetRoleResult><Role><RoleName>p-node</RoleName><Arn>arn:aws:iam::1:role/p-node</Arn>"
				     "<Tags><member><Key>secfaas:lineage</Key><Value>lin-1</Value></member><member><Key>"
				     "secfaas:address</Key><Value>aws_iam_role.node</Value></member></Tags></Role>"
				     "</GetRoleResult>"),
		      2);
	sf_replay_add(t.f.rp, "Action=ListRolePolicies", IAM_NO_INLINE, 2);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, 2);
	json_t *out = NULL;
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_iam_role.read(&t.c, prior, &out), 0);
	T_OK(t.c.own_tags != NULL);
	T_STREQ(json_string_value(json_object_get(t.c.own_tags, "secfaas:lineage")), "lin-1");
	T_STREQ(json_string_value(json_object_get(t.c.own_tags, "secfaas:address")), "aws_iam_role.node");
	T_EQ(sent(&t, "Action=ListRoleTags"), 0);
	T_EQ(sent(&t, "Action="), 3);
	json_decref(t.c.own_tags);
	t.c.own_tags = NULL;
	json_decref(out);
	out = NULL;
	t.c.refreshing = 0;
	T_EQ(sf_rt_aws_iam_role.read(&t.c, prior, &out), 0);
	T_OK(t.c.own_tags == NULL);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(prior);
	rt_close(&t);
}

/* A role whose spec names no managed policy still has its attachments
 * read: AdministratorAccess attached by hand shows in policy_arns (the
 * spec's unset list means none), and the update back to the spec detaches
 * it.  Nothing attached reads as unset, so such a role shows no drift. */
T_TEST(role_without_policy_arns_reads_a_policy_attached_by_hand)
{
	struct rt t;
	rt_open(&t, "aws_iam_role.autoscaler");
	json_t *prior = json_pack("{s:s, s:s}", "name", "p-ca", "service", "pods.eks.amazonaws.com");
	sf_replay_add(t.f.rp, "Action=GetRole&",
		      IAM("GetRole", "<GetRoleResult><Role><RoleName>p-ca</RoleName><Arn>arn:aws:iam::1:role/p-ca</Arn>"
				     "</Role></GetRoleResult>"),
		      -1);
	sf_replay_add(t.f.rp, "Action=ListRolePolicies", IAM_NO_INLINE, -1);
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies",
		      IAM("ListAttachedRolePolicies", "<ListAttachedRolePoliciesResult><AttachedPolicies><member>"
						      "<PolicyName>AdministratorAccess</PolicyName><PolicyArn>"
						      "arn:aws:iam::aws:policy/AdministratorAccess</PolicyArn></member>"
						      "</AttachedPolicies><IsTruncated>false</IsTruncated>"
						      "</ListAttachedRolePoliciesResult>"),
		      2); /* the read's and the update's listing */
	sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy", IAM("DetachRolePolicy", ""), -1);
	json_t *out = NULL;
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_iam_role.read(&t.c, prior, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	json_decref(t.c.own_tags);
	t.c.own_tags = NULL;
	t.c.refreshing = 0;
	T_EQ(json_array_size(json_object_get(out, "policy_arns")), 1);
	T_STREQ(json_string_value(json_array_get(json_object_get(out, "policy_arns"), 0)),
		"arn:aws:iam::aws:policy/AdministratorAccess");
	json_t *upd = NULL;
	json_object_set(out, "service", json_object_get(prior, "service")); /* the trust policy is not this test's */
	T_EQ(sf_rt_aws_iam_role.update(&t.c, out, prior, &upd), 0);
	T_EQ(sent2(&t, "Action=DetachRolePolicy", "AdministratorAccess"), 1);
	T_EQ(sent(&t, "Action=AttachRolePolicy"), 0);
	T_OK(json_object_get(upd, "policy_arns") == NULL);
	json_decref(upd);
	json_decref(out);
	out = NULL;
	/* nothing attached: no policy_arns, no drift */
	T_EQ(sf_rt_aws_iam_role.read(&t.c, prior, &out), 0);
	T_OK(json_object_get(out, "policy_arns") == NULL);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(prior);
	rt_close(&t);
}

#define EKS_TRUST_ENC                                                                                       \
	"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal" \
	"%22%3A%7B%22Service%22%3A%22eks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"

/* One RoleDetail of GetAccountAuthorizationDetails, tagged as this state's
 * role `name`, plus `extra` (policy lists) inside it. */
static void role_detail(struct sf_buf *b, const char *name, const char *extra)
{
	sf_buf_printf(b,
		      "<member><Path>/</Path><RoleName>%s</RoleName><RoleId>AROA%s</RoleId><Arn>arn:aws:iam::1:role/%s</Arn>"
		      "<AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument><InstanceProfileList/>%s"
		      "<Tags><member><Key>secfaas:lineage</Key><Value>lin-1</Value></member><member><Key>secfaas:address"
		      "</Key><Value>aws_iam_role.%s</Value></member></Tags><RoleLastUsed/></member>",
		      name, name, name, EKS_TRUST_ENC, extra ? extra : "<RolePolicyList/><AttachedManagedPolicies/>", name);
}

static char *gaad_page(int from, int to, const char *marker, const char *extra_role)
{
	struct sf_buf b = SF_BUF_INIT;
	sf_buf_puts(&b, "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<GetAccountAuthorizationDetailsResponse xmlns=\""
			"https://iam.amazonaws.com/doc/2010-05-08/\"><GetAccountAuthorizationDetailsResult><UserDetailList/>"
			"<GroupDetailList/><RoleDetailList>");
	for (int i = from; i < to; i++) {
		char n[8];
		snprintf(n, sizeof n, "r%02d", i);
		role_detail(&b, n,
			    i == 1 ? "<RolePolicyList><member><PolicyName>backdoor</PolicyName><PolicyDocument>%7B%22Version"
				     "%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D</PolicyDocument></member>"
				     "</RolePolicyList><AttachedManagedPolicies><member><PolicyName>AdministratorAccess"
				     "</PolicyName><PolicyArn>arn:aws:iam::aws:policy/AdministratorAccess</PolicyArn></member>"
				     "</AttachedManagedPolicies>"
			    : i == 2 ? "<RolePolicyList><member><PolicyName>ca</PolicyName><PolicyDocument>%7B%20%22Version%22"
				       "%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%22Allow%22%2C"
				       "%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D</PolicyDocument></member>"
				       "</RolePolicyList><AttachedManagedPolicies/>"
				     : NULL);
	}
	if (extra_role)
		role_detail(&b, extra_role, NULL);
	sf_buf_printf(&b, "</RoleDetailList><Policies/><IsTruncated>%s</IsTruncated>%s%s%s"
			  "</GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>r</RequestId>"
			  "</ResponseMetadata></GetAccountAuthorizationDetailsResponse>",
		      marker ? "true" : "false", marker ? "<Marker>" : "", marker ? marker : "", marker ? "</Marker>" : "");
	return sf_buf_detach(&b);
}

/* A refresh of AX_IAM_BATCH_MIN_ROLES roles or more lists the account's
 * roles once (GetAccountAuthorizationDetails, Filter=Role, every page) and
 * each role reads from that listing: no GetRole, ListRolePolicies or
 * ListAttachedRolePolicies.  What a hand attached or put shows, the
 * ownership proof comes from the listing's tags, and a role the listing
 * lacks is gone.  A second batch of the run asks nothing again. */
T_TEST(role_batch_reads_many_roles_from_one_account_listing)
{
	struct rt t;
	rt_open(&t, "aws_iam_role");
	enum { N = AX_IAM_BATCH_MIN_ROLES };
	json_t *p[N];
	for (int i = 0; i < N; i++) {
		char n[8];
		snprintf(n, sizeof n, "r%02d", i);
		p[i] = json_pack("{s:s, s:s}", "name", n, "service", "eks.amazonaws.com");
	}
	char *pg1 = gaad_page(0, 8, "m1", NULL), *pg2 = gaad_page(8, N - 1, NULL, "not-ours");
	sf_replay_add(t.f.rp, "Action=GetAccountAuthorizationDetails && Marker=m1", pg2, 1);
	sf_replay_add(t.f.rp, "Action=GetAccountAuthorizationDetails && Filter.member.1=Role && MaxItems=1000", pg1, 1);
	t.c.refreshing = 1;
	T_OK(sf_rt_aws_iam_role.read_batch != NULL);
	T_EQ(sf_rt_aws_iam_role.read_batch(&t.c, (const json_t *const *)p, N), 0);
	T_EQ(sent(&t, "Action=GetAccountAuthorizationDetails"), 2); /* two pages of one listing */
	json_t *out = NULL;
	t.c.address = "aws_iam_role.r00";
	T_EQ(sf_rt_aws_iam_role.read(&t.c, p[0], &out), 0);
	T_STREQ(json_string_value(json_object_get(out, "service")), "eks.amazonaws.com");
	T_OK(json_object_get(out, "policy_arns") == NULL);
	T_OK(json_object_get(out, "unmanaged_inline_policies") == NULL);
	T_STREQ(json_string_value(json_object_get(t.c.own_tags, "secfaas:address")), "aws_iam_role.r00");
	json_decref(t.c.own_tags);
	t.c.own_tags = NULL;
	json_decref(out);
	t.c.address = "aws_iam_role.r01";
	T_EQ(sf_rt_aws_iam_role.read(&t.c, p[1], &out), 0);
	T_STREQ(json_string_value(json_array_get(json_object_get(out, "policy_arns"), 0)),
		"arn:aws:iam::aws:policy/AdministratorAccess");
	T_STREQ(json_string_value(json_array_get(json_object_get(out, "unmanaged_inline_policies"), 0)), "backdoor");
	json_decref(t.c.own_tags);
	t.c.own_tags = NULL;
	json_decref(out);
	out = NULL;
	/* a named inline policy's document comes from the listing too, and
	 * is compared as JSON: an edited one reads back as the live one */
	json_object_set_new(p[2], "inline_policies", json_pack("{s:o}", "ca", ca_policy("autoscaling:X")));
	t.c.address = "aws_iam_role.r02";
	T_EQ(sf_rt_aws_iam_role.read(&t.c, p[2], &out), 0);
	json_t *live_ca = ca_policy("*");
	T_OK(json_equal(json_object_get(json_object_get(out, "inline_policies"), "ca"), live_ca));
	T_OK(json_object_get(out, "unmanaged_inline_policies") == NULL);
	json_decref(live_ca);
	json_decref(t.c.own_tags);
	t.c.own_tags = NULL;
	json_decref(out);
	out = NULL;
	t.c.address = "aws_iam_role.r15";
	T_EQ(sf_rt_aws_iam_role.read(&t.c, p[N - 1], &out), SF_ENOTFOUND);
	t.err = (struct sf_err)SF_ERR_INIT;
	T_OK(out == NULL);
	T_EQ(sf_rt_aws_iam_role.read_batch(&t.c, (const json_t *const *)p, N), 0);
	T_EQ(sent(&t, "Action="), 2); /* every read from the listing, nothing asked twice */
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	for (int i = 0; i < N; i++)
		json_decref(p[i]);
	free(pg1);
	free(pg2);
	rt_close(&t);
}

/* Fewer roles than AX_IAM_BATCH_MIN_ROLES (one workspace): no listing of
 * the whole account, each role reads itself.  A listing refused by the
 * credentials' policy (AccessDenied: least privilege) fails nothing: it is
 * asked once, and each role then reads itself. */
T_TEST(role_batch_few_roles_or_refused_reads_each_role)
{
	struct rt t;
	enum { N = AX_IAM_BATCH_MIN_ROLES };
	json_t *p[N];
	for (int i = 0; i < N; i++) {
		char n[8];
		snprintf(n, sizeof n, "r%02d", i);
		p[i] = json_pack("{s:s, s:s}", "name", n, "service", "eks.amazonaws.com");
	}
	for (int refused = 0; refused < 2; refused++) {
		rt_open(&t, "aws_iam_role");
		t.c.refreshing = 1;
		sf_replay_add(t.f.rp, "Action=GetAccountAuthorizationDetails",
			      "HTTP/1.1 403 Forbidden\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type>"
			      "<Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/ci is not authorized to perform: "
			      "iam:GetAccountAuthorizationDetails on resource: *</Message></Error><RequestId>r</RequestId>"
			      "</ErrorResponse>",
			      -1);
		sf_replay_add(t.f.rp, "Action=GetRole&",
			      IAM("GetRole", "<GetRoleResult><Role><RoleName>r00</RoleName><Arn>arn:aws:iam::1:role/r00</Arn>"
					     "<AssumeRolePolicyDocument>" EKS_TRUST_ENC "</AssumeRolePolicyDocument><Tags><member>"
					     "<Key>secfaas:lineage</Key><Value>lin-1</Value></member></Tags></Role></GetRoleResult>"),
			      -1);
		sf_replay_add(t.f.rp, "Action=ListRolePolicies", IAM_NO_INLINE, -1);
		sf_replay_add(t.f.rp, "Action=ListAttachedRolePolicies", IAM_NO_ATTACHED, -1);
		size_t n = refused ? N : 3;
		(void)sf_rt_aws_iam_role.read_batch(&t.c, (const json_t *const *)p, n);
		T_EQ(sent(&t, "Action=GetAccountAuthorizationDetails"), refused);
		(void)sf_rt_aws_iam_role.read_batch(&t.c, (const json_t *const *)p, n);
		T_EQ(sent(&t, "Action=GetAccountAuthorizationDetails"), refused); /* never asked again */
		t.err = (struct sf_err)SF_ERR_INIT;
		json_t *out = NULL;
		t.c.address = "aws_iam_role.r00";
		T_EQ(sf_rt_aws_iam_role.read(&t.c, p[0], &out), 0);
		if (t.err.code)
			fprintf(stderr, "err: %s\n", t.err.msg);
		T_STREQ(json_string_value(json_object_get(out, "service")), "eks.amazonaws.com");
		T_STREQ(json_string_value(json_object_get(t.c.own_tags, "secfaas:lineage")), "lin-1");
		T_EQ(sent(&t, "Action=GetRole&"), 1);
		T_EQ(sent(&t, "Action=ListAttachedRolePolicies"), 1);
		T_EQ(sf_replay_unmatched(t.f.rp), 0);
		json_decref(t.c.own_tags);
		t.c.own_tags = NULL;
		json_decref(out);
		rt_close(&t);
	}
	for (int i = 0; i < N; i++)
		json_decref(p[i]);
}

/* Before a delete the ownership proof reads the profile with
 * GetInstanceProfile (its tags), and the destroy takes the roles to
 * remove from that answer: one read of the profile, where the proof's
 * ListInstanceProfileTags was followed by the destroy's own read. */
T_TEST(instance_profile_delete_reads_the_profile_once)
{
	struct rt t;
	rt_open(&t, "aws_iam_instance_profile.node");
	json_t *prior = json_pack("{s:s, s:s}", "name", "p-node", "role", "p-node");
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile&",
		      IAM("GetInstanceProfile",
			  "<GetInstanceProfileResult><InstanceProfile><InstanceProfileName>p-node</InstanceProfileName>"
			  "<Roles><member><RoleName>p-node</RoleName></member></Roles><Tags><member><Key>secfaas:lineage"
			  "</Key><Value>lin-1</Value></member></Tags></InstanceProfile></GetInstanceProfileResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile&", IAM_NOSUCH, -1);
	sf_replay_add(t.f.rp, "Action=RemoveRoleFromInstanceProfile", IAM("RemoveRoleFromInstanceProfile", ""), 1);
	sf_replay_add(t.f.rp, "Action=DeleteInstanceProfile", IAM("DeleteInstanceProfile", ""), 1);
	char *id = NULL;
	json_t *tags = NULL;
	t.c.keep_marked = 1; /* as the engine's proof before a delete (apply.c, owned_destroy) */
	T_EQ(sf_rt_aws_iam_instance_profile.own->marks(&t.c, prior, &id, &tags), 0);
	t.c.keep_marked = 0;
	T_STREQ(json_string_value(json_object_get(tags, "secfaas:lineage")), "lin-1");
	T_EQ(sf_rt_aws_iam_instance_profile.destroy(&t.c, prior), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=ListInstanceProfileTags"), 0);
	T_EQ(sent_before(&t, "Action=GetInstanceProfile&", "Action=RemoveRoleFromInstanceProfile"), 1);
	T_EQ(sent2(&t, "Action=RemoveRoleFromInstanceProfile", "RoleName=p-node"), 1);
	T_EQ(sent(&t, "Action=DeleteInstanceProfile"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(t.c.marked);
	t.c.marked = NULL;
	json_decref(tags);
	free(id);
	json_decref(prior);
	rt_close(&t);
}

#define IP_ROLES(roles)                                                                                     \
	IAM("GetInstanceProfile", "<GetInstanceProfileResult><InstanceProfile><InstanceProfileName>p-node"          \
				  "</InstanceProfileName><Roles>" roles "</Roles></InstanceProfile></GetInstanceProfileResult>")
#define IAM_LIMIT                                                                                           \
	"HTTP/1.1 409 Conflict\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>"          \
	"LimitExceeded</Code><Message>Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1</Message>"     \
	"</Error><RequestId>r</RequestId></ErrorResponse>"

/* Update moves the profile to the wanted role.  The replies of both the
 * removal and the addition are lost after IAM carried them out: each is
 * checked against the profile before it would be sent again (again, IAM
 * answers "not found" for the removal and a quota error for the addition). */
T_TEST(instance_profile_update_survives_lost_replies)
{
	struct rt t;
	rt_open(&t, "aws_iam_instance_profile.node");
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile&", IP_ROLES("<member><RoleName>old</RoleName></member>"), 1);
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile&", IP_ROLES(""), 1);
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile&", IP_ROLES("<member><RoleName>p-node</RoleName></member>"), -1);
	sf_replay_add(t.f.rp, "Action=RemoveRoleFromInstanceProfile && RoleName=old",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<RemoveRoleFromInstanceProfileResp", 1);
	sf_replay_add(t.f.rp, "Action=RemoveRoleFromInstanceProfile", IAM_NOSUCH, -1);
	sf_replay_add(t.f.rp, "Action=AddRoleToInstanceProfile && RoleName=p-node",
		      "HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<AddRoleToInstanceProfileResp", 1);
	sf_replay_add(t.f.rp, "Action=AddRoleToInstanceProfile", IAM_LIMIT, -1);
	json_t *prior = json_pack("{s:s, s:s, s:s, s:s}", "name", "p-node", "role", "old", "arn",
				  "arn:aws:iam::1:instance-profile/p-node", "id", "p-node");
	json_t *want = json_pack("{s:s, s:s}", "name", "p-node", "role", "p-node"), *out = NULL;
	T_EQ(sf_rt_aws_iam_instance_profile.update(&t.c, prior, want, &out), 0);
	if (t.err.code)
		fprintf(stderr, "err: %s\n", t.err.msg);
	T_EQ(sent(&t, "Action=RemoveRoleFromInstanceProfile"), 1);
	T_EQ(sent(&t, "Action=AddRoleToInstanceProfile"), 1);
	T_STREQ(json_string_value(json_object_get(out, "arn")), "arn:aws:iam::1:instance-profile/p-node");
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(out);
	json_decref(want);
	json_decref(prior);
	rt_close(&t);
}

/* The same for an instance profile: GetInstanceProfile carries its tags. */
T_TEST(instance_profile_refresh_takes_its_ownership_tags_from_get_instance_profile)
{
	struct rt t;
	rt_open(&t, "aws_iam_instance_profile.node");
	json_t *prior = json_pack("{s:s, s:s}", "name", "p-node", "role", "p-node");
	sf_replay_add(t.f.rp, "Action=GetInstanceProfile&",
		      IAM("GetInstanceProfile",
			  "<GetInstanceProfileResult><InstanceProfile><InstanceProfileName>p-node</InstanceProfileName>"
			  "<Roles><member><RoleName>p-node</RoleName></member></Roles><Tags><member><Key>secfaas:lineage"
			  "</Key><Value>lin-1</Value></member></Tags></InstanceProfile></GetInstanceProfileResult>"),
		      1);
	json_t *out = NULL;
	t.c.refreshing = 1;
	T_EQ(sf_rt_aws_iam_instance_profile.read(&t.c, prior, &out), 0);
	T_STREQ(json_string_value(json_object_get(t.c.own_tags, "secfaas:lineage")), "lin-1");
	T_EQ(sent(&t, "Action=ListInstanceProfileTags"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(t.c.own_tags);
	json_decref(out);
	json_decref(prior);
	rt_close(&t);
}

#define ENI(id, desc, tags)                                                                                 \
	"<item><networkInterfaceId>" id "</networkInterfaceId><status>available</status><description>" desc      \
	"</description><tagSet>" tags "</tagSet></item>"
#define ENI_TAG(k, v) "<item><key>" k "</key><value>" v "</value></item>"

/* The teardown's interface sweep takes what the VPC CNI or EKS left for a
 * cluster that is gone, and leaves the interfaces of a cluster that still
 * exists (another state's or team's in the same VPC) and anyone else's.
 * Each cluster named is asked once; a name no cluster can have is none. */
T_TEST(interface_sweep_keeps_the_interfaces_of_a_cluster_that_still_exists)
{
	struct rt t;
	rt_open(&t, "aws_subnet.private_a");
	sf_replay_add(t.f.rp, "Action=DescribeNetworkInterfaces",
		      EC2("DescribeNetworkInterfaces",
			  "<networkInterfaceSet>"
			  ENI("eni-a", "aws-K8S-i-01", ENI_TAG("cluster.k8s.amazonaws.com/name", "demo")
			      ENI_TAG("node.k8s.amazonaws.com/instance_id", "i-01"))
			  ENI("eni-b", "aws-K8S-i-02", ENI_TAG("cluster.k8s.amazonaws.com/name", "other")
			      ENI_TAG("node.k8s.amazonaws.com/instance_id", "i-02"))
			  ENI("eni-c", "Amazon EKS other", "")
			  ENI("eni-d", "Amazon EKS demo", "")
			  ENI("eni-e", "aws-K8S-i-03", "")
			  ENI("eni-f", "aws-K8S-i-04", ENI_TAG("cluster.k8s.amazonaws.com/name", "../x?y"))
			  ENI("eni-g", "a team's own interface", "")
			  "</networkInterfaceSet>"),
		      1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo\n", EKS_GONE, -1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/other\n",
		      EKSJ("{\"cluster\":{\"name\":\"other\",\"status\":\"ACTIVE\"}}"), -1);
	sf_replay_add(t.f.rp, "Action=DeleteNetworkInterface", EC2("DeleteNetworkInterface", "<return>true</return>"), -1);
	T_EQ(ax_sweep_enis(&t.c, "subnet-id", "subnet-1"), 4);
	T_EQ(sent(&t, "Action=DeleteNetworkInterface"), 4);
	T_EQ(sent(&t, "NetworkInterfaceId=eni-a") + sent(&t, "NetworkInterfaceId=eni-d") +
		     sent(&t, "NetworkInterfaceId=eni-e") + sent(&t, "NetworkInterfaceId=eni-f"),
	     4);
	T_EQ(sent(&t, "NetworkInterfaceId=eni-b") + sent(&t, "NetworkInterfaceId=eni-c") +
		     sent(&t, "NetworkInterfaceId=eni-g"),
	     0);
	T_EQ(sent(&t, "/clusters/demo\n"), 1);
	T_EQ(sent(&t, "/clusters/other\n"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	rt_close(&t);
}

/* When EKS cannot say (refused, failing), the interfaces stay: the sweep
 * deletes only what it knows is left over. */
T_TEST(interface_sweep_keeps_an_interface_whose_cluster_cannot_be_asked)
{
	struct rt t;
	rt_open(&t, "aws_subnet.private_a");
	sf_replay_add(t.f.rp, "Action=DescribeNetworkInterfaces",
		      EC2("DescribeNetworkInterfaces",
			  "<networkInterfaceSet>" ENI("eni-1", "aws-K8S-i-01", ENI_TAG("cluster.k8s.amazonaws.com/name", "demo"))
			  "</networkInterfaceSet>"),
		      1);
	sf_replay_add(t.f.rp, "GET https://eks && /clusters/demo\n",
		      "HTTP/1.1 403 Forbidden\nContent-Type: application/json\nx-amzn-ErrorType: AccessDeniedException\n\n"
		      "{\"message\":\"not authorized to perform: eks:DescribeCluster\"}",
		      -1);
	T_EQ(ax_sweep_enis(&t.c, "subnet-id", "subnet-1"), 0);
	T_EQ(sent(&t, "Action=DeleteNetworkInterface"), 0);
	T_EQ(t.err.code, 0);
	rt_close(&t);
}

#define ROLE_DETAIL(name, profiles)                                                                         \
	"<member><RoleName>" name "</RoleName><RoleId>AROA" name "</RoleId><Arn>arn:aws:iam::1:role/" name        \
	"</Arn><InstanceProfileList>" profiles "</InstanceProfileList><Tags>"                                   \
	"<member><Key>secfaas:lineage</Key><Value>lin-1</Value></member>"                                        \
	"<member><Key>secfaas:address</Key><Value>aws_iam_role.x</Value></member></Tags></member>"

/* Roles a run deletes together are proven, and their instance profiles
 * found, from one listing of the account read as they start: no
 * ListRoleTags, no ListInstanceProfilesForRole.  A role the listing,
 * read to its end, lacks is gone.  Alone, a role reads for itself. */
T_TEST(role_deletes_started_together_are_proven_from_one_account_listing)
{
	struct rt t;
	rt_open(&t, "aws_iam_role.x");
	sf_replay_add(t.f.rp, "Action=GetAccountAuthorizationDetails",
		      IAM("GetAccountAuthorizationDetails",
			  "<GetAccountAuthorizationDetailsResult><RoleDetailList>" ROLE_DETAIL("r-other", "")
			      ROLE_DETAIL("r-one", "<member><InstanceProfileName>p-one</InstanceProfileName></member>")
				  ROLE_DETAIL("r-two", "") "</RoleDetailList><IsTruncated>false</IsTruncated>"
			  "</GetAccountAuthorizationDetailsResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfileTags", IP_TAGS("demo", "lin-1", "ffff"), 1);
	sf_replay_add(t.f.rp, "Action=RemoveRoleFromInstanceProfile",
		      IAM("RemoveRoleFromInstanceProfile", ""), 1);
	sf_replay_add(t.f.rp, "Action=DetachRolePolicy", IAM("DetachRolePolicy", ""), 1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 2);
	json_t *one = json_pack("{s:s, s:[s]}", "name", "r-one", "policy_arns", "arn:aws:iam::aws:policy/P");
	json_t *two = json_pack("{s:s}", "name", "r-two"), *gone = json_pack("{s:s}", "name", "r-gone");
	const json_t *priors[] = {one, two, gone};
	T_EQ(sf_rt_aws_iam_role.delete_batch(&t.c, priors, 3), 0);
	T_EQ(sf_rt_aws_iam_role.delete_batch(&t.c, priors, 3), 0); /* answered moments ago: no second listing */

	char *id = NULL;
	json_t *tags = NULL;
	t.c.keep_marked = 1;
	T_EQ(sf_rt_aws_iam_role.own->marks(&t.c, one, &id, &tags), 0);
	T_STREQ(json_string_value(json_object_get(tags, "secfaas:lineage")), "lin-1");
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, one), 0);
	T_EQ(sent(&t, "InstanceProfileName=p-one"), 2); /* its profile's owner checked, the role taken out */
	json_decref(t.c.marked);
	t.c.marked = NULL;
	json_decref(tags);
	free(id);

	T_EQ(sf_rt_aws_iam_role.own->marks(&t.c, two, &id, &tags), 0);
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, two), 0);
	json_decref(t.c.marked);
	t.c.marked = NULL;
	json_decref(tags);
	free(id);
	tags = NULL;
	id = NULL;

	T_EQ(sf_rt_aws_iam_role.own->marks(&t.c, gone, &id, &tags), SF_ENOTFOUND);
	sf_err_clear(&t.err);
	free(id);
	json_decref(tags);
	T_EQ(sent(&t, "Action=GetAccountAuthorizationDetails"), 1);
	T_EQ(sent(&t, "Action=ListRoleTags"), 0);
	T_EQ(sent(&t, "Action=ListInstanceProfilesForRole"), 0);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(one);
	json_decref(two);
	json_decref(gone);
	rt_close(&t);
}

/* Credentials that may not list the account cost that one call: each role
 * then proves itself (ListRoleTags) and lists its profiles. */
T_TEST(role_deletes_read_each_role_when_the_account_listing_is_refused)
{
	struct rt t;
	rt_open(&t, "aws_iam_role.x");
	sf_replay_add(t.f.rp, "Action=GetAccountAuthorizationDetails",
		      "HTTP/1.1 403 Forbidden\nContent-Type: text/xml\n\n<ErrorResponse><Error><Type>Sender</Type><Code>"
		      "AccessDenied</Code><Message>not authorized to perform: iam:GetAccountAuthorizationDetails</Message>"
		      "</Error><RequestId>r</RequestId></ErrorResponse>",
		      1);
	sf_replay_add(t.f.rp, "Action=ListRoleTags",
		      IAM("ListRoleTags", "<ListRoleTagsResult><Tags><member><Key>secfaas:lineage</Key><Value>lin-1"
					  "</Value></member></Tags><IsTruncated>false</IsTruncated></ListRoleTagsResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=ListInstanceProfilesForRole",
		      IAM("ListInstanceProfilesForRole", "<ListInstanceProfilesForRoleResult><InstanceProfiles/>"
							 "<IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"),
		      1);
	sf_replay_add(t.f.rp, "Action=DeleteRole", IAM("DeleteRole", ""), 1);
	json_t *one = json_pack("{s:s}", "name", "r-one"), *two = json_pack("{s:s}", "name", "r-two");
	const json_t *priors[] = {one, two};
	T_OK(sf_rt_aws_iam_role.delete_batch(&t.c, priors, 2) < 0);
	sf_err_clear(&t.err);
	T_EQ(sf_rt_aws_iam_role.delete_batch(&t.c, priors, 2), 0); /* refused once: not asked again */
	T_EQ(sent(&t, "Action=GetAccountAuthorizationDetails"), 1);
	char *id = NULL;
	json_t *tags = NULL;
	t.c.keep_marked = 1;
	T_EQ(sf_rt_aws_iam_role.own->marks(&t.c, one, &id, &tags), 0);
	T_OK(t.c.marked == NULL);
	T_EQ(sf_rt_aws_iam_role.destroy(&t.c, one), 0);
	T_EQ(sent(&t, "Action=ListRoleTags"), 1);
	T_EQ(sent(&t, "Action=ListInstanceProfilesForRole"), 1);
	T_EQ(sf_replay_unmatched(t.f.rp), 0);
	json_decref(tags);
	free(id);
	json_decref(one);
	json_decref(two);
	rt_close(&t);
}
