/*
 * Spec loader and schema validation: a table of bad inputs, each with the
 * exact "file:line:col: error: ..." line it must produce, plus good inputs
 * that must load cleanly.  All errors of a document are reported in one run.
 */
#include "t.h"

#include "provisioner/engine/config.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/spec/schema.h"
#include "provisioner/spec/spec.h"
#include "util.h"

/* Render diagnostics as the CLI prints them. Owned string. */
static char *diag_text(const struct sf_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	sf_diags_print(d, f, 0);
	fclose(f);
	return buf;
}

static char *check(const char *yaml, int *nerrors)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	struct sf_config cfg = SF_CONFIG_INIT;
	if (sf_spec_load_buffer(&set, "s.yaml", yaml, strlen(yaml), &d) == 0)
		sf_config_build(&cfg, &set, NULL, &d);
	char *t = diag_text(&d);
	*nerrors = (int)d.nerrors;
	sf_config_release(&cfg);
	sf_diags_release(&d);
	sf_specset_release(&set);
	return t;
}

#define HDR "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c1, region: eu-west-1}\nspec:\n"
#define NET "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  gvisor: {release: \"20250113.0\"}\n"
#define NG "  nodeGroups:\n    - {name: sys, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n"

static const struct {
	const char *name, *yaml, *want;
} bad[] = {
	/* YAML level */
	{"syntax", "a: [1, 2\n", "s.yaml:2:1: error: invalid YAML"},
	{"duplicate key", "kind: Stack\nkind: Cluster\n", "s.yaml:2:1: error: duplicate key \"kind\" (first defined at line 1)"},
	{"alias", "a: &x 1\nb: *x\n", "s.yaml:2:4: error: YAML aliases (*x) are not supported"},
	{"not a mapping", "- 1\n- 2\n", "s.yaml:1:1: error: a spec document must be a mapping"},
	/* envelope */
	{"missing apiVersion", "kind: Stack\nmetadata: {name: a}\nspec: {resources: []}\n",
	 "s.yaml:1:1: error: document: missing required field \"apiVersion\""},
	{"wrong apiVersion", "apiVersion: secfaas.dev/v2\nkind: Stack\nmetadata: {name: a}\nspec: {resources: []}\n",
	 "s.yaml:1:13: error: apiVersion: unsupported apiVersion \"secfaas.dev/v2\""},
	{"bad kind", "apiVersion: secfaas.dev/v1alpha1\nkind: Clustr\nmetadata: {name: a}\nspec: {}\n",
	 "s.yaml:2:7: error: kind: \"Clustr\" is not one of Cluster, Stack; did you mean \"Cluster\"?"},
	{"unknown envelope field", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetdata: {name: a}\nspec: {resources: []}\n",
	 "s.yaml:3:1: error: : unknown field \"metdata\"; did you mean \"metadata\"?"},
	{"bad name", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: Bad_Name}\nspec: {resources: []}\n",
	 "s.yaml:3:18: error: metadata.name: \"Bad_Name\" must be 1-63 lowercase letters"},
	{"unknown region", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, region: eu-west-9}\nspec: {resources: []}\n",
	 "s.yaml:3:29: error: metadata.region: unknown region \"eu-west-9\"; did you mean \"eu-west-1\"?"},
	{"bad ttl", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, ttl: soon}\nspec: {resources: []}\n",
	 "s.yaml:3:26: error: metadata.ttl: \"soon\" is not a duration"},
	{"nan ttl", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, ttl: nan}\nspec: {resources: []}\n",
	 "s.yaml:3:26: error: metadata.ttl: \"nan\" is not a duration"},
	{"infinite ttl", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, ttl: infh}\nspec: {resources: []}\n",
	 "s.yaml:3:26: error: metadata.ttl: \"infh\" is not a duration"},
	/* Cluster schema */
	{"k8s version", HDR "  kubernetesVersion: \"1.21\"\n  network: {cidr: 10.40.0.0/16}\n" NG,
	 "s.yaml:5:22: error: spec.kubernetesVersion: \"1.21\" is not one of 1.29, 1.30, 1.31, 1.32, 1.33, 1.34, 1.35, 1.36"},
	{"bad cidr", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/33}\n" NG,
	 "s.yaml:6:19: error: spec.network.cidr: \"10.40.0.0/33\" is not an IPv4 CIDR"},
	{"host bits", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.1/16}\n" NG,
	 "s.yaml:6:19: error: spec.network.cidr: \"10.40.0.1/16\" has host bits set"},
	{"overlap", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, serviceCidr: 10.40.0.0/20}\n" NG,
	 "error: spec.network.serviceCidr: 10.40.0.0/20 overlaps the VPC CIDR 10.40.0.0/16"},
	{"too few AZs", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, availabilityZones: 1}\n" NG,
	 "s.yaml:6:52: error: spec.network.availabilityZones: 1 is out of range (2 to 6)"},
	{"instance type", HDR NET "  nodeGroups:\n    - {name: sys, instanceTypes: [large], scaling: {min: 1, max: 2}}\n",
	 "error: spec.nodeGroups[0].instanceTypes[0]: \"large\" is not an EC2 instance type like m6i.large"},
	{"arch mix", HDR NET "  nodeGroups:\n    - {name: sys, instanceTypes: [m6i.large, m6g.large], scaling: {min: 1, max: 2}}\n",
	 "error: spec.nodeGroups[0].instanceTypes[1]: m6g.large is arm64 but m6i.large is x86_64"},
	{"taint effect", HDR NET "  nodeGroups:\n    - name: sys\n      instanceTypes: [m6i.large]\n      scaling: {min: 1, max: 2}\n      taints: [{key: a, effect: NoScheduel}]\n",
	 "s.yaml:12:33: error: spec.nodeGroups[0].taints[0].effect: \"NoScheduel\" is not one of NoSchedule, PreferNoSchedule, NoExecute; did you mean \"NoSchedule\"?"},
	{"release format", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  gvisor: {release: latest}\n" NG,
	 "s.yaml:7:21: error: spec.gvisor.release: \"latest\" is not a gVisor release"},
	{"label syntax", HDR NET "  nodeGroups:\n    - name: sys\n      instanceTypes: [m6i.large]\n      scaling: {min: 1, max: 2}\n      labels: {\"bad key!\": x}\n",
	 "error: spec.nodeGroups[0].labels: \"bad key!\" is not a valid label key"},
	{"duplicate node groups", HDR NET "  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "s.yaml:10:14: error: spec.nodeGroups[1].name: duplicate node group name \"a\" (also at line 9)"},
	{"scaling order", HDR NET "  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 3, max: 2}}\n",
	 "error: spec.nodeGroups[0].scaling.max: 2 is less than min 3"},
	{"wrong type int", HDR NET "  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: \"1\", max: 2}}\n",
	 "s.yaml:9:60: error: spec.nodeGroups[0].scaling.min: expected an integer, got a string"},
	{"missing required", HDR NET "  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large]}\n",
	 "s.yaml:9:7: error: spec.nodeGroups[0]: missing required field \"scaling\""},
	{"gvisor without release", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "spec.nodeGroups[0]: runtime gvisor needs spec.gvisor.release"},
	/* an `ami:` left empty is not given: the same refusal, not a bake of
	 * release "" that fails mid-apply after the builder role exists */
	{"gvisor with an empty ami", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  nodeGroups:\n    - name: a\n      runtime: gvisor\n      ami:\n      instanceTypes: [m6i.large]\n      scaling: {min: 1, max: 2}\n",
	 "s.yaml:8:7: error: spec.nodeGroups[0]: runtime gvisor needs spec.gvisor.release (to bake an AMI) or an ami"},
	{"gvisor with a null ami", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  nodeGroups:\n    - name: a\n      runtime: gvisor\n      ami: null\n      instanceTypes: [m6i.large]\n      scaling: {min: 1, max: 2}\n",
	 "spec.nodeGroups[0]: runtime gvisor needs spec.gvisor.release"},
	{"openfaas licence", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {enabled: true}\n",
	 "spec.openfaas: OpenFaaS CE is licensed under its EULA"},
	{"autoscaler without a runc group", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  autoscaler: cluster-autoscaler\n",
	 "s.yaml:10:15: error: spec.autoscaler: the cluster autoscaler runs on a runc node group, never beside functions on a gVisor one; add a group without runtime: gvisor"},
	{"unknown autoscaler", HDR NET NG "  autoscaler: karpenter\n",
	 "s.yaml:10:15: error: spec.autoscaler"},
	{"coredns has no node group", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n"
			"    - {name: b, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [{key: dedicated, effect: NoSchedule}]}\n"
			"    - {name: c, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [{key: node-role.kubernetes.io/control-plane, effect: NoExecute}]}\n",
	 "s.yaml:9:5: error: spec.nodeGroups: CoreDNS can run on none of these node groups (gVisor groups keep it off, and so does a NoSchedule or NoExecute taint it does not tolerate); add a runc group without such taints"},
	{"openfaas pods have no node group", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n"
			"    - {name: b, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [{key: CriticalAddonsOnly, effect: NoSchedule}]}\n"
			"  openfaas: {acceptLicense: true}\n",
	 "s.yaml:11:13: error: spec.openfaas: OpenFaaS's gateway, NATS and Prometheus and the gVisor admission webhook run on runc nodes, but every runc group keeps them off (a NoSchedule or NoExecute taint); add a runc group without such taints"},
	{"openfaas without gvisor", HDR NET NG "  openfaas: {acceptLicense: true}\n",
	 "spec.openfaas: functions must run under gVisor, but no node group has runtime: gvisor"},
	{"unknown spec field", HDR NET NG "  nodegroups: []\n",
	 "s.yaml:10:3: error: spec: unknown field \"nodegroups\"; did you mean \"nodeGroups\"?"},
	{"webhook image", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n"
			  "  openfaas: {acceptLicense: true, webhookImage: \"python:3.13\\\"\\n      hostPID: true\\n      x: \\\"y\"}\n",
	 "s.yaml:10:49: error: spec.openfaas.webhookImage: \"python:3.13\"\\n      hostPID: true\\n      x: \"y\" is not an image reference"},
	{"guard namespace in a stack", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a}\nspec:\n  resources:\n"
				       "    - {type: k8s_gvisor_guard, name: g, attributes: {endpoint: \"https://127.0.0.1:1\", namespace: \"fn' || true || '\", runtime_class: gvisor}}\n",
	 "error: spec.resources[0].attributes: namespace \"fn' || true || '\" is not a Kubernetes namespace name"},
	{"guard image in a stack", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a}\nspec:\n  resources:\n"
				   "    - {type: k8s_gvisor_guard, name: g, attributes: {endpoint: \"https://127.0.0.1:1\", namespace: fn, runtime_class: gvisor, webhook_image: \"a b\"}}\n",
	 "error: spec.resources[0].attributes: webhook_image \"a b\" is not an image reference"},
	{"http mirror without a pin", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n"
				      "  gvisor: {release: \"20250113.0\", mirror: \"http://mirror.example/gvisor\"}\n" NG,
	 "s.yaml:7:43: error: spec.gvisor.mirror: \"http://mirror.example/gvisor\" is plain http://"},
	{"mirror with shell characters", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n"
					 "  gvisor: {release: \"20250113.0\", mirror: \"https://m.example/$(reboot)\"}\n" NG,
	 "s.yaml:7:43: error: spec.gvisor.mirror: \"https://m.example/$(reboot)\" has '$' at offset 18"},
	{"mirror with credentials", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n"
				    "  gvisor: {release: \"20250113.0\", mirror: \"https://u:p@m.example/g\"}\n" NG,
	 "error: spec.gvisor.mirror: \"https://u:p@m.example/g\" carries credentials"},
	{"mirror of an image in a stack", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, region: eu-west-1}\nspec:\n  resources:\n"
					  "    - {type: aws_gvisor_ami, name: g, attributes: {kubernetes_version: \"1.31\", arch: x86_64, gvisor_release: \"20250113.0\", mirror: \"http://m.example/g\"}}\n",
	 "error: spec.resources[0].attributes: mirror \"http://m.example/g\" is plain http://"},
	/* what AWS would refuse mid-apply, found offline */
	{"tag key prefix", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, tags: {\"AWS:team\": x}}\nspec: {resources: []}\n",
	 "s.yaml:3:28: error: metadata.tags: tag key \"AWS:team\": the aws: prefix is reserved for AWS"},
	{"ownership tag", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, tags: {\"secfaas:token\": x}}\nspec: {resources: []}\n",
	 "error: metadata.tags: tag key \"secfaas:token\": the secfaas: prefix is reserved"},
	{"tag key character", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, tags: {\"a;b\": x}}\nspec: {resources: []}\n",
	 "error: metadata.tags: tag key \"a;b\" has a character AWS refuses at byte 1"},
	{"tag value character", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, tags: {team: \"a\\u202eb\"}}\nspec: {resources: []}\n",
	 "error: metadata.tags.team: tag value has a character AWS refuses at byte 1"},
	{"admin is a session", HDR NET NG "  access: {admins: [\"arn:aws:sts::123456789012:assumed-role/ops/alice\"]}\n",
	 "s.yaml:10:21: error: spec.access.admins[0]: \"arn:aws:sts::123456789012:assumed-role/ops/alice\" is an STS session"},
	{"admin account", HDR NET NG "  access: {admins: [\"arn:aws:iam::12345:role/ops\"]}\n",
	 "error: spec.access.admins[0]: \"arn:aws:iam::12345:role/ops\" needs a 12-digit account id"},
	{"admin twice", HDR NET NG "  access: {admins: [\"arn:aws:iam::123456789012:role/ops\", \"arn:aws:iam::123456789012:user/a\", \"arn:aws:iam::123456789012:role/ops\"]}\n",
	 "error: spec.access.admins[2]: \"arn:aws:iam::123456789012:role/ops\" is listed twice (also at line 10); EKS keeps one access entry per principal"},
	{"admin partition", HDR NET NG "  access: {admins: [\"arn:amazon:iam::123456789012:role/ops\"]}\n",
	 "has an unknown partition"},
	{"public cidr host bits", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, publicAccessCidrs: [203.0.113.7/24]}\n" NG,
	 "s.yaml:6:53: error: spec.network.publicAccessCidrs[0]: \"203.0.113.7/24\" has host bits set"},
	{"public cidr syntax", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, publicAccessCidrs: [\"0.0.0.0/0; x\"]}\n" NG,
	 "error: spec.network.publicAccessCidrs[0]: \"0.0.0.0/0; x\" is not an IPv4 CIDR"},
	{"nat none without endpoints", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, nat: none, endpointAccess: public-and-private, vpcEndpoints: [ecr.api, s3]}\n" NG,
	 "s.yaml:6:38: error: spec.network.nat: none leaves nodes in private subnets (nodeSubnets defaults to private) without a way to EC2, ECR, S3, STS or EKS Pod Identity"},
	{"nat none public api", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, nat: none, endpointAccess: public, vpcEndpoints: [ec2, ecr.api, ecr.dkr, s3, sts, eks-auth]}\n" NG,
	 "s.yaml:6:60: error: spec.network.endpointAccess: public with nat: none"},
	{"vpc endpoint twice", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, vpcEndpoints: [sts, s3, sts]}\n" NG,
	 "s.yaml:6:57: error: spec.network.vpcEndpoints[2]: sts is listed twice (also at line 6)"},
	{"vpc endpoint unknown", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, vpcEndpoints: [ecr]}\n" NG,
	 "s.yaml:6:48: error: spec.network.vpcEndpoints[0]"},
	{"public cidr twice", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, publicAccessCidrs: [203.0.113.0/24, 203.0.113.0/24]}\n" NG,
	 "error: spec.network.publicAccessCidrs[1]: \"203.0.113.0/24\" is listed twice (also at line 6)"},
	{"cluster name too long for IAM", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a2345678901234567890123456789012345678901234567890123, region: eu-west-1}\nspec:\n" NET NG,
	 "s.yaml:3:18: error: metadata.name: a Cluster's name has at most 52 characters (its IAM role <name>-ami-builder must fit IAM's 64), not 53"},
	{"function egress word", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionEgress: everywhere}\n",
	 "error: spec.openfaas.functionEgress: \"everywhere\" is not none, internet or a list of CIDRs"},
	{"function egress cidr", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionEgress: [203.0.113.0/24, 203.0.113.1/24]}\n",
	 "error: spec.openfaas.functionEgress[1]: \"203.0.113.1/24\" has host bits set"},
	{"function egress within the VPC", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionEgress: [10.0.0.0/8, 10.40.7.0/24]}\n",
	 "s.yaml:10:64: error: spec.openfaas.functionEgress[1]: 10.40.7.0/24 lies within the VPC CIDR 10.40.0.0/16, which functions never reach"},
	{"function egress within the services", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionEgress: [172.20.0.0/16]}\n",
	 "error: spec.openfaas.functionEgress[0]: 172.20.0.0/16 lies within the service CIDR 172.20.0.0/16"},
	{"gateway load balancer on a node port", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, gatewayService: NodePort, gatewayLoadBalancer: {scheme: internal}}\n",
	 "s.yaml:10:82: error: spec.openfaas.gatewayLoadBalancer: applies to gatewayService: LoadBalancer (the gateway is NodePort)"},
	{"gateway source range", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, gatewayService: LoadBalancer, gatewayLoadBalancer: {sourceRanges: [203.0.113.0/24, 203.0.113.0/24]}}\n",
	 "s.yaml:10:118: error: spec.openfaas.gatewayLoadBalancer.sourceRanges[1]: \"203.0.113.0/24\" is listed twice"},
	{"function egress to the metadata service", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionEgress: [169.254.169.254/32]}\n",
	 "error: spec.openfaas.functionEgress[0]: 169.254.169.254/32 lies within link-local (the instance metadata service) 169.254.0.0/16"},
	{"function limits quantity", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionLimits: {memory: 8GB}}\n",
	 "error: spec.openfaas.functionLimits.memory: \"8GB\" is not a Kubernetes quantity"},
	{"function limits default over max", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n  openfaas: {acceptLicense: true, functionLimits: {defaultMemory: 1Gi, maxMemory: 512Mi}}\n",
	 "error: spec.openfaas.functionLimits.defaultMemory: 1Gi is more than maxMemory (512Mi)"},
	{"metadata hop limit range", HDR NET "  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, metadata: {hopLimit: 65}}\n",
	 "error: spec.nodeGroups[0].metadata.hopLimit: 65 is out of range (1 to 64)"},
	{"ami id", HDR NET "  nodeGroups:\n    - {name: a, ami: ami-XYZ, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "error: spec.nodeGroups[0].ami: \"ami-XYZ\" is not an AMI id"},
	{"node group newer than the cluster", HDR NET "  nodeGroups:\n    - {name: a, kubernetesVersion: \"1.32\", instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "s.yaml:9:36: error: spec.nodeGroups[0].kubernetesVersion: 1.32 is newer than the cluster's 1.31; kubelets may not be newer than the API server"},
	{"node group beyond the kubelet skew", HDR "  kubernetesVersion: \"1.35\"\n  network: {cidr: 10.40.0.0/16}\n  nodeGroups:\n    - {name: a, kubernetesVersion: \"1.31\", instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "spec.nodeGroups[0].kubernetesVersion: 1.31 is 4 minor versions behind the cluster's 1.35; kubelets may trail the API server by at most 3"},
	{"gVisor group pins a version", HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, kubernetesVersion: \"1.31\", instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "spec.nodeGroups[0].kubernetesVersion: a gVisor group runs the image baked for the cluster's Kubernetes version; only runc groups pin theirs"},
	{"release of another version", HDR NET "  nodeGroups:\n    - {name: a, kubernetesVersion: \"1.30\", releaseVersion: 1.31.9-20261120, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "spec.nodeGroups[0].releaseVersion: 1.31.9-20261120 is not a release of Kubernetes 1.30"},
	{"add-on version syntax", HDR NET "  addons: {vpc-cni: {version: 1.21.1}}\n  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "s.yaml:8:31: error: spec.addons.vpc-cni.version: \"1.21.1\" is not an EKS add-on version like v1.21.1-eksbuild.1"},
	{"unknown add-on", HDR NET "  addons: {vpc_cni: {version: v1.21.1-eksbuild.1}}\n  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "spec.addons: unknown field \"vpc_cni\""},
	{"taint key syntax", HDR NET "  nodeGroups:\n    - name: sys\n      instanceTypes: [m6i.large]\n      scaling: {min: 1, max: 2}\n      taints: [{key: \"a b\", value: \"-x\", effect: NoSchedule}]\n",
	 "error: spec.nodeGroups[0].taints[0].key: \"a b\" is not a valid taint key"},
	{"no NAT for private nodes", HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16, nat: none}\n" NG,
	 "error: spec.network.nat: none leaves nodes in private subnets"},
	{"stack resource name", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a}\nspec:\n  resources:\n"
				"    - {type: local_file, name: My-File, attributes: {path: a, content: b}}\n",
	 "error: spec.resources[0].name: \"My-File\" must start with a lowercase letter"},
	{"stack resource type", "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a}\nspec:\n  resources:\n"
				"    - {type: local_fil, name: f, attributes: {path: a, content: b}}\n",
	 "error: spec.resources[0].type: unknown resource type \"local_fil\"; did you mean \"local_file\"?"},
	{"kube-proxy newer than the cluster", HDR NET "  addons: {kube-proxy: {version: v1.32.0-eksbuild.2}}\n  nodeGroups:\n    - {name: a, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
	 "spec.addons.kube-proxy.version: v1.32.0-eksbuild.2 does not fit Kubernetes 1.31; kube-proxy may not be newer than the API server, nor more than 3 minor versions behind it"},
	{"network cidr and vpcId", HDR "  kubernetesVersion: \"1.31\"\n  network:\n    cidr: 10.40.0.0/16\n    vpcId: vpc-0123456789abcdef0\n" NG,
	 "s.yaml:8:12: error: spec.network.vpcId: cidr and vpcId are mutually exclusive: cidr makes a new VPC, vpcId uses an existing one (cidr is at line 7)"},
	{"network without cidr or vpcId", HDR "  kubernetesVersion: \"1.31\"\n  network: {endpointAccess: public}\n" NG,
	 "s.yaml:6:12: error: spec.network: set cidr (secfaas makes the VPC) or vpcId and subnets (an existing VPC)"},
	{"vpc endpoints in a given vpc", HDR "  kubernetesVersion: \"1.31\"\n  network: {vpcId: vpc-0123456789abcdef0, subnets: {private: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]}, vpcEndpoints: [sts]}\n" NG,
	 "error: spec.network.vpcEndpoints: describes a VPC secfaas makes"},
	{"vpc id syntax", HDR "  kubernetesVersion: \"1.31\"\n  network: {vpcId: vpc-XYZ, subnets: {private: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]}}\n" NG,
	 "s.yaml:6:20: error: spec.network.vpcId: \"vpc-XYZ\" is not a VPC id like vpc-0123456789abcdef0"},
	{"subnet id syntax", HDR "  kubernetesVersion: \"1.31\"\n  network:\n    vpcId: vpc-0123456789abcdef0\n    subnets:\n      private: [subnet-0123456789abcdef0, sn-1]\n" NG,
	 "s.yaml:9:43: error: spec.network.subnets.private[1]: \"sn-1\" is not a subnet id like subnet-0123456789abcdef0"},
	{"vpcId without subnets", HDR "  kubernetesVersion: \"1.31\"\n  network: {vpcId: vpc-0123456789abcdef0}\n" NG,
	 "s.yaml:6:20: error: spec.network.subnets: vpcId needs its subnets"},
	{"vpcId with one subnet", HDR "  kubernetesVersion: \"1.31\"\n  network:\n    vpcId: vpc-0123456789abcdef0\n    subnets: {private: [subnet-0123456789abcdef0]}\n" NG,
	 "s.yaml:8:14: error: spec.network.subnets: EKS needs subnets in at least two availability zones; one subnet is in one zone"},
	{"vpcId with nat", HDR "  kubernetesVersion: \"1.31\"\n  network:\n    vpcId: vpc-0123456789abcdef0\n    nat: single\n    subnets: {private: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]}\n" NG,
	 "s.yaml:8:10: error: spec.network.nat: describes a VPC secfaas makes; with vpcId the given subnets decide the zones and their route tables the way out"},
	{"vpcId nodes without private subnets", HDR "  kubernetesVersion: \"1.31\"\n  network:\n    vpcId: vpc-0123456789abcdef0\n    subnets: {public: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]}\n" NG,
	 "s.yaml:8:14: error: spec.network.subnets.private: nodes go in the private subnets (nodeSubnets defaults to private), and none is given; list them, or set nodeSubnets: public"},
	{"subnet listed twice", HDR "  kubernetesVersion: \"1.31\"\n  network:\n    vpcId: vpc-0123456789abcdef0\n    subnets:\n      private: [subnet-0123456789abcdef0]\n      public: [subnet-0123456789abcdef0]\n" NG,
	 "s.yaml:10:16: error: spec.network.subnets: subnet-0123456789abcdef0 is listed twice (also at line 9)"},
};

/* With SECFAAS_SPEC_CASES set to a directory, each case is also written
 * there as NN.yaml with its name in NN.name, so tests/schema can check the
 * JSON Schema (secfaas schema) against this same table. */
static void dump_case(size_t i)
{
	const char *dir = getenv("SECFAAS_SPEC_CASES");
	if (!dir || !*dir)
		return;
	struct sf_err err = SF_ERR_INIT;
	char *y = xasprintf("%s/%02zu.yaml", dir, i), *nm = xasprintf("%s/%02zu.name", dir, i);
	T_OK(sf_write_file_atomic(y, bad[i].yaml, strlen(bad[i].yaml), 0644, &err) == 0);
	T_OK(sf_write_file_atomic(nm, bad[i].name, strlen(bad[i].name), 0644, &err) == 0);
	free(y);
	free(nm);
}

T_TEST(bad_inputs)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(bad); i++) {
		dump_case(i);
		int n = 0;
		char *t = check(bad[i].yaml, &n);
		if (!n || !strstr(t, bad[i].want))
			T_FAILF("case \"%s\": want \"%s\"\n    got:\n%s", bad[i].name, bad[i].want, t);
		free(t);
	}
}

/* http:// is fine once a SHA-512 pins what is downloaded */
T_TEST(pinned_http_mirror_accepted)
{
	int n = 0;
	char *t = check(HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n"
			    "  gvisor:\n    release: \"20250113.0\"\n    mirror: \"http://mirror.example/gvisor/releases\"\n"
			    "    sha512: \"" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n" NG,
			&n);
	if (n)
		T_FAILF("pinned http mirror refused: %s", t);
	free(t);
}

/* The built-in table of release digests (provisioner/node/gvisor_pins.h):
 * a release it pins for every baked arch validates without a warning and
 * with a plain http:// mirror; one it does not warns once, naming the
 * arch and how to pin it, and keeps refusing http://; an explicit sha512
 * silences the warning. */
#define SANDBOX(types) "    - {name: sb, runtime: gvisor, instanceTypes: " types ", scaling: {min: 1, max: 2}}\n"
static char *check_gvisor(const char *gvisor, const char *types, int *n)
{
	char *y = xasprintf(HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  gvisor: %s\n" NG SANDBOX("%s"),
			    gvisor, types);
	char *t = check(y, n);
	free(y);
	return t;
}

T_TEST(gvisor_release_table_warnings)
{
	int n = 0;
	char *t = check_gvisor("{release: \"20250113.0\"}", "[m6i.large]", &n);
	T_EQ(n, 0);
	T_CONTAINS(t, "s.yaml:7:21: warning: spec.gvisor.release: gVisor 20250113.0 is not pinned by secfaas's built-in table of release digests for x86_64");
	T_CONTAINS(t, "pin it with gvisor.sha512");
	T_EQ(strstr(strstr(t, "warning:") + 1, "warning:"), NULL); /* one line */
	free(t);
	t = check_gvisor("{release: \"20260817.0\"}", "[m6i.large]", &n);
	T_EQ(n, 0);
	T_OK(!strstr(t, "warning"));
	free(t);
	t = check_gvisor("{release: \"20260817.0\"}", "[m7g.large]", &n);
	T_OK(!strstr(t, "warning"));
	free(t);
	/* pinned for x86_64 only: a Graviton group bakes an unpinned image */
	t = check_gvisor("{release: \"20261005.0\"}", "[m7g.large]", &n);
	T_EQ(n, 0);
	T_CONTAINS(t, "not pinned by secfaas's built-in table of release digests for arm64,");
	free(t);
	t = check_gvisor("{release: \"20250113.0\", sha512: \"" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
			 "[m6i.large]", &n);
	T_EQ(n, 0);
	T_OK(!strstr(t, "warning"));
	free(t);
}

T_TEST(http_mirror_pinned_by_the_table_accepted)
{
	int n = 0;
	char *t = check_gvisor("{release: \"20260817.0\", mirror: \"http://mirror.example/gvisor\"}", "[m6i.large]", &n);
	if (n)
		T_FAILF("http mirror of a release the table pins refused: %s", t);
	free(t);
	t = check_gvisor("{release: \"20260817.0\", mirror: \"http://mirror.example/gvisor\"}", "[m7g.large]", &n);
	if (n)
		T_FAILF("http mirror of a release the table pins (arm64) refused: %s", t);
	free(t);
	/* the table pins 20261005.0 for x86_64 only: an arm64 bake over http is not */
	t = check_gvisor("{release: \"20261005.0\", mirror: \"http://mirror.example/gvisor\"}", "[m7g.large]", &n);
	T_EQ(n, 1);
	T_CONTAINS(t, "error: spec.gvisor.mirror: \"http://mirror.example/gvisor\" is plain http://");
	free(t);
	t = check_gvisor("{release: \"20250113.0\", mirror: \"http://mirror.example/gvisor\"}", "[m6i.large]", &n);
	T_EQ(n, 1);
	T_CONTAINS(t, "is plain http://");
	free(t);
	/* a malformed mirror is reported once, whatever the table says */
	t = check_gvisor("{release: \"20260817.0\", mirror: \"http://m.example/$(reboot)\"}", "[m6i.large]", &n);
	T_EQ(n, 1);
	T_CONTAINS(t, "has '$'");
	free(t);
}

/* A Stack's aws_gvisor_ami is held to the same rule by the type's own
 * validate: plain http:// for a release the table pins for its arch. */
T_TEST(stack_image_http_mirror_with_table_pin)
{
	static const char *const fmt = "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a, region: eu-west-1}\nspec:\n  resources:\n"
				       "    - {type: aws_gvisor_ami, name: g, attributes: {kubernetes_version: \"1.31\", arch: %s, gvisor_release: \"%s\", mirror: \"http://m.example/g\"}}\n";
	int n = 0;
	char *y = xasprintf(fmt, "arm64", "20260817.0");
	char *t = check(y, &n);
	if (n)
		T_FAILF("http mirror of a release the table pins refused: %s", t);
	free(t);
	free(y);
	y = xasprintf(fmt, "arm64", "20261005.0"); /* pinned for x86_64 only */
	t = check(y, &n);
	T_EQ(n, 1);
	T_CONTAINS(t, "mirror \"http://m.example/g\" is plain http://");
	free(t);
	free(y);
}

/* The Cluster lowers the table's pin into the image's attributes (what the
 * plan shows and what replaces an image baked before the pin); an explicit
 * sha512 wins, with no artifact forced. */
T_TEST(table_pin_lowered_into_the_image)
{
	static const char *const cases[][3] = {
		/* gvisor, sha512 prefix ("" = none), artifact ("" = none) */
		{"{release: \"20260817.0\"}", "84936438d583ec97", "runsc"},
		{"{release: \"20260810\"}", "3de91138cda15682", "gvisor.tar.bz2"},
		{"{release: \"20250113.0\"}", "", ""},
		{"{release: \"20260817.0\", sha512: \"" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
		 "0123456789abcdef", ""},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		char *y = xasprintf(HDR "  kubernetesVersion: \"1.31\"\n  network: {cidr: 10.40.0.0/16}\n  gvisor: %s\n" NG
					SANDBOX("[m6i.large]"),
				    cases[i][0]);
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		struct sf_config cfg = SF_CONFIG_INIT;
		T_EQ(sf_spec_load_buffer(&set, "s.yaml", y, strlen(y), &d), 0);
		sf_config_build(&cfg, &set, NULL, &d);
		T_EQ(d.nerrors, 0);
		const struct sf_rinst *r = sf_config_find(&cfg, "aws_gvisor_ami.gvisor_x86_64");
		T_OK(r != NULL);
		if (r) {
			const char *sha = json_string_value(json_object_get(r->config, "sha512"));
			const char *art = json_string_value(json_object_get(r->config, "sha512_artifact"));
			if (*cases[i][1])
				T_OK(sha && !strncmp(sha, cases[i][1], 16) && strlen(sha) == 128);
			else
				T_OK(sha == NULL);
			if (*cases[i][2])
				T_OK(art && !strcmp(art, cases[i][2]));
			else
				T_OK(art == NULL);
		}
		sf_config_release(&cfg);
		sf_diags_release(&d);
		sf_specset_release(&set);
		free(y);
	}
}
#undef SANDBOX

/* pinned add-on versions that fit the cluster's version pass offline */
T_TEST(pinned_addons_accepted)
{
	int n = 0;
	char *t = check(HDR NET "  addons:\n    vpc-cni: {version: v1.21.1-eksbuild.1}\n"
			    "    kube-proxy: {version: v1.28.15-eksbuild.4}\n    coredns: {}\n" NG,
			&n);
	if (n)
		T_FAILF("pinned add-ons refused: %s", t);
	free(t);
}

/* a node group whose kubernetesVersion is left empty (YAML null) beside a
 * releaseVersion: the release is not compared with a version that is not
 * there (this read a NULL string) */
T_TEST(release_beside_an_empty_version)
{
	int n = 0;
	char *t = check(HDR NET "  nodeGroups:\n    - {name: a, kubernetesVersion: null, releaseVersion: 1.31.9-20261120, "
				"instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n",
			&n);
	if (n)
		T_FAILF("empty version refused: %s", t);
	free(t);
}

/* add-on versions and quantities are matched whole: no sign, no blank, no
 * hexadecimal that scanf or strtod would have read as a number */
T_TEST(addon_version_and_quantity_are_whole_matches)
{
	static const char *const bad_versions[] = {"v-1.21.1-eksbuild.1", "v 1.21.1-eksbuild.1", "v+1.21.1-eksbuild.1",
						   "v1.21.1-eksbuild.+1", "v1.21.1-eksbuild.1\n"};
	for (size_t i = 0; i < SF_ARRAY_LEN(bad_versions); i++) {
		int n = 0;
		char *y = xasprintf(HDR NET "  addons: {vpc-cni: {version: \"%s\"}}\n" NG, bad_versions[i]);
		char *t = check(y, &n);
		if (n != 1 || !strstr(t, "is not an EKS add-on version"))
			T_FAILF("version \"%s\" not refused: %s", bad_versions[i], t);
		free(t);
		free(y);
	}
	static const char *const bad_q[] = {"0x10", "1e3Mi", "1.5.3", "inf", " 2", "2Mi "};
	for (size_t i = 0; i < SF_ARRAY_LEN(bad_q); i++) {
		int n = 0;
		char *y = xasprintf(HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, ami: ami-0123456789abcdef0, "
					    "instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}\n"
					    "  openfaas: {acceptLicense: true, functionLimits: {cpu: \"%s\"}}\n",
				    bad_q[i]);
		char *t = check(y, &n);
		if (n != 1 || !strstr(t, "is not a Kubernetes quantity"))
			T_FAILF("quantity \"%s\" not refused: %s", bad_q[i], t);
		free(t);
		free(y);
	}
}

/* every check hook of every kind is said in `secfaas schema` or known to
 * be beyond a JSON Schema: a new field's hook cannot slip past it */
T_TEST(json_schema_knows_every_check_hook)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t n = sf_kinds_schema_gaps(&b);
	if (n)
		T_FAILF("%zu check hook(s) neither in the JSON Schema nor listed as beyond it "
			"(sf_cluster_check_keywords in provisioner/kinds/cluster_schema.c):\n%s",
			n, sf_buf_cstr(&b));
	sf_buf_release(&b);
}

T_TEST(all_errors_reported_at_once)
{
	int n = 0;
	char *t = check(HDR "  kubernetesVersion: \"1.21\"\n  network: {cidr: 10.40.0.0/33, availabilityZones: 9}\n"
			    "  nodeGroups:\n    - {name: A, instanceTypes: [xx], scaling: {min: 1, max: 2}}\n",
			&n);
	T_EQ(n, 5);
	free(t);
}

T_TEST(good_specs_load)
{
	const char *files[] = {"examples/minimal.yaml", "examples/stack.yaml"};
	for (size_t i = 0; i < SF_ARRAY_LEN(files); i++) {
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		char *p = xasprintf("%s/%s", t_srcdir(), files[i]);
		T_EQ(sf_spec_load_path(&set, p, &d), 0);
		for (size_t k = 0; k < set.n; k++)
			sf_kind_validate(&set.docs[k], &d);
		if (d.nerrors) {
			char *t = diag_text(&d);
			T_FAILF("%s: %s", files[i], t);
			free(t);
		}
		free(p);
		sf_diags_release(&d);
		sf_specset_release(&set);
	}
}

/* CoreDNS tolerates CriticalAddonsOnly (any effect) and the control
 * plane's NoSchedule taint, and ignores PreferNoSchedule: a group with
 * only those taints is one it can run on. */
T_TEST(coredns_runs_on_a_group_with_taints_it_tolerates)
{
	static const char *const taints[] = {
		"[{key: CriticalAddonsOnly, effect: NoExecute}]",
		"[{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]",
		"[{key: dedicated, value: batch, effect: PreferNoSchedule}]",
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(taints); i++) {
		char *y = xasprintf(HDR NET "  nodeGroups:\n    - {name: a, runtime: gvisor, instanceTypes: [m6i.large], "
					    "scaling: {min: 1, max: 2}}\n    - {name: b, instanceTypes: [m6i.large], "
					    "scaling: {min: 1, max: 2}, taints: %s}\n",
				    taints[i]);
		int n = 0;
		char *t = check(y, &n);
		if (n)
			T_FAILF("%s: %s", taints[i], t);
		free(t);
		free(y);
	}
}

/* The workspace index (spec.h): with and without it, and after the set
 * changed under it, every name finds the same documents in set order as
 * the scan of every document that came before it; sf_config_workspaces
 * keeps the order in which names first appear, and a workspace is still
 * built from its own documents only. */
static void named_docs(const struct sf_specset *set, const char *name, char *out, size_t n)
{
	out[0] = 0;
	for (size_t it = 0, i; (i = sf_specset_next_named(set, name, &it)) != SIZE_MAX;)
		snprintf(out + strlen(out), n - strlen(out), "%zu,", i);
}

T_TEST(workspace_index_finds_what_the_scan_found)
{
#define DOC(n) "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: " n "}\nspec: {resources: []}\n---\n"
	const char *y = DOC("b") DOC("a") DOC("b") "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nspec: {resources: []}\n---\n"
		DOC("c") DOC("a");
#undef DOC
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(sf_spec_load_buffer(&set, "w.yaml", y, strlen(y), &d), 0);
	T_EQ(set.n, 6);
	static const struct {
		const char *name, *want, *after_remove;
	} cases[] = {{"a", "1,5,", "0,4,"}, {"b", "0,2,", "1,"}, {"c", "4,", "3,"}, {"zz", "", ""}, {"", "", ""},
		     {"0", "", ""}};
	char got[64];
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 1)
			sf_specset_index(&set);
		if (pass == 2) {
			sf_specset_index(&set);
			sf_specset_remove(&set, 0); /* drops the index */
			T_OK(set.index == NULL);
			sf_specset_index(&set);
		}
		for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
			named_docs(&set, cases[i].name, got, sizeof got);
			const char *want = pass == 2 ? cases[i].after_remove : cases[i].want;
			if (strcmp(got, want))
				T_FAILF("pass %d, name \"%s\": documents %s, want %s", pass, cases[i].name, got, want);
		}
		const char **ws;
		size_t nws = sf_config_workspaces(&set, &ws);
		got[0] = 0;
		for (size_t i = 0; i < nws; i++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s,", ws[i]);
		free(ws);
		T_STREQ(got, pass == 2 ? "a,b,c," : "b,a,c,");
		struct sf_config cfg = SF_CONFIG_INIT;
		/* (checked: the nameless document is no valid spec) */
		T_EQ(sf_config_build_checked(&cfg, &set, "a", &d), 0);
		T_STREQ(cfg.workspace, "a");
		T_STREQ(cfg.kind, "Stack");
		sf_config_release(&cfg);
		T_EQ(sf_config_build_checked(&cfg, &set, "zz", &d), -1); /* no such workspace, as before */
		sf_config_release(&cfg);
		sf_diags_release(&d);
	}
	sf_specset_release(&set);
}

T_TEST(multi_document_and_workspaces)
{
	const char *y = "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a}\nspec: {resources: []}\n---\n"
			"apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: b}\nspec: {resources: []}\n---\n";
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(sf_spec_load_buffer(&set, "m.yaml", y, strlen(y), &d), 0);
	T_EQ(set.n, 2);
	const char **ws;
	T_EQ(sf_config_workspaces(&set, &ws), 2);
	T_STREQ(ws[1], "b");
	free(ws);
	struct sf_config cfg = SF_CONFIG_INIT;
	T_EQ(sf_config_build(&cfg, &set, NULL, &d), -1); /* two workspaces, none chosen */
	char *t = diag_text(&d);
	T_CONTAINS(t, "choose one with --workspace NAME");
	free(t);
	sf_config_release(&cfg);
	struct sf_config cfg2 = SF_CONFIG_INIT;
	sf_diags_release(&d);
	T_EQ(sf_config_build(&cfg2, &set, "b", &d), 0);
	T_STREQ(cfg2.workspace, "b");
	sf_config_release(&cfg2);
	sf_diags_release(&d);
	sf_specset_release(&set);
}

T_TEST(scalars_keep_their_text)
{
	/* kubernetesVersion: 1.30 unquoted must stay "1.30", not the float 1.3 */
	const char *y = HDR "  kubernetesVersion: 1.30\n  network: {cidr: 10.40.0.0/16}\n" NG;
	int n = 0;
	char *t = check(y, &n);
	T_EQ(n, 0); /* "1.30" is a supported version; as a float it would be "1.3" and rejected */
	free(t);
}

T_TEST(did_you_mean)
{
	const char *c[] = {"nodeGroups", "network", "gvisor"};
	T_STREQ(sf_did_you_mean("nodegroups", c, 3), "nodeGroups");
	T_STREQ(sf_did_you_mean("netwrk", c, 3), "network");
	T_OK(sf_did_you_mean("zzzzzzzz", c, 3) == NULL);
}

/* An empty or comment-only file is an error that names the file (a
 * directory of specs would otherwise leave the user to guess which). */
T_TEST(empty_files_are_named)
{
	const char *inputs[] = {"", "# only a comment\n", "---\n---\n", "\n\n"};
	for (size_t i = 0; i < SF_ARRAY_LEN(inputs); i++) {
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_diags d = SF_DIAGS_INIT;
		T_EQ(sf_spec_load_buffer(&set, "dir/empty.yaml", inputs[i], strlen(inputs[i]), &d), -1);
		char *t = diag_text(&d);
		T_CONTAINS(t, "dir/empty.yaml: error: no spec documents in this file (it is empty or holds only comments)");
		free(t);
		sf_diags_release(&d);
		sf_specset_release(&set);
	}
	/* a comment next to a document is fine */
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	const char *y = "# c\napiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: a}\nspec: {resources: []}\n";
	T_EQ(sf_spec_load_buffer(&set, "ok.yaml", y, strlen(y), &d), 0);
	T_EQ(d.n, 0);
	sf_diags_release(&d);
	sf_specset_release(&set);
}

/* Spec text echoed in a message cannot drive the terminal: ESC, BEL, C1
 * controls and bidi overrides come out escaped; file names too. */
T_TEST(control_characters_escaped)
{
	const char *y = "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\n"
			"metadata: {name: \"\\e]0;pwned\\a\\e[2Jx\\u202e\\x9b\"}\nspec: {resources: []}\n";
	int n = 0;
	char *t = check(y, &n);
	T_EQ(n, 1);
	T_CONTAINS(t, "metadata.name: \"\\x1B]0;pwned\\x07\\x1B[2Jx\\u202E\\u009B\" must be");
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			T_FAILF("raw control byte 0x%02x in: %s", (unsigned char)*p, t);
	free(t);
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	sf_spec_load_buffer(&set, "evil\033[2J.yaml", "", 0, &d);
	t = diag_text(&d);
	T_CONTAINS(t, "evil\\x1B[2J.yaml: error:");
	free(t);
	sf_diags_release(&d);
	sf_specset_release(&set);
}

/* A huge value echoed in a message gives a bounded line that keeps both
 * ends (the path and what to do). */
/* AWS allows 50 tags per resource and secfaas adds up to 14: 36 pass, 37
 * are refused; lengths count characters, not bytes; a 10 MB value is
 * refused without being echoed. */
T_TEST(tag_limits)
{
	struct sf_buf y = SF_BUF_INIT;
	for (int n = 36; n <= 37; n++) {
		sf_buf_reset(&y);
		sf_buf_printf(&y, "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: a\n  tags:\n");
		for (int i = 0; i < n; i++)
			sf_buf_printf(&y, "    k%d: v\n", i);
		sf_buf_printf(&y, "spec: {resources: []}\n");
		int ne = 0;
		char *t = check(y.s, &ne);
		if (n == 36 && ne)
			T_FAILF("36 tags refused: %s", t);
		if (n == 37)
			T_CONTAINS(t, "s.yaml:42:5: error: metadata.tags: 37 tags; AWS allows 50 per resource and secfaas adds up to 14 of its own, so at most 36");
		free(t);
	}
	/* 128 characters of two bytes each: a valid key; 129 are not */
	for (int n = 128; n <= 129; n++) {
		sf_buf_reset(&y);
		sf_buf_printf(&y, "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: a\n  tags:\n    \"");
		for (int i = 0; i < n; i++)
			sf_buf_printf(&y, "\xc3\xa9");
		sf_buf_printf(&y, "\": \"T\xc3\xbcr \xe6\x9d\xb1\xe4\xba\xac @ =+-_.:/\"\nspec: {resources: []}\n");
		int ne = 0;
		char *t = check(y.s, &ne);
		if (n == 128 && ne)
			T_FAILF("a 128-character key refused: %s", t);
		if (n == 129)
			T_CONTAINS(t, "metadata.tags: tag key of 129 characters; AWS allows 1 to 128");
		free(t);
	}
	size_t big = (size_t)10 << 20;
	sf_buf_reset(&y);
	sf_buf_printf(&y, "apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: a\n  tags:\n    big: ");
	size_t at = y.len;
	for (size_t i = 0; i < big; i += 4096) {
		char chunk[4096];
		memset(chunk, 'x', sizeof chunk);
		sf_buf_append(&y, chunk, sizeof chunk);
	}
	T_OK(y.len - at == big);
	sf_buf_printf(&y, "\nspec: {resources: []}\n");
	int ne = 0;
	char *t = check(y.s, &ne);
	T_EQ(ne, 1);
	T_CONTAINS(t, "s.yaml:6:10: error: metadata.tags.big: tag value of 10485760 characters; AWS allows at most 256");
	T_OK(strlen(t) < 200);
	free(t);
	sf_buf_release(&y);
}

T_TEST(messages_are_bounded)
{
	size_t big = (size_t)10 << 20;
	char *v = xmalloc(big + 1);
	memset(v, 'x', big);
	v[big] = 0;
	struct sf_diags d = SF_DIAGS_INIT;
	struct sf_pos pos = {"s.yaml", 3, 5};
	sf_diag_error(&d, &pos, "metadata.tags.big: \"%s\" is longer than 256 characters", v);
	T_OK(strlen(d.v[0].msg) <= SF_DIAG_MAX);
	T_OK(!strncmp(d.v[0].msg, "metadata.tags.big: \"xxx", 23));
	T_CONTAINS(d.v[0].msg, "bytes elided]");
	T_CONTAINS(d.v[0].msg, "xxx\" is longer than 256 characters");
	sf_diags_release(&d);
	free(v);
}

/* Duplicate keys are found in a mapping of any size, naming the first
 * occurrence (a hash set per mapping; bench/spec-keys shows it is linear). */
T_TEST(duplicate_keys_in_a_large_mapping)
{
	struct sf_buf b = SF_BUF_INIT;
	sf_buf_puts(&b, "labels:\n");
	for (int i = 0; i < 100000; i++)
		sf_buf_printf(&b, "  k%d: v\n", i);
	sf_buf_puts(&b, "  k77: again\n  k99999: again\n");
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	T_EQ(sf_spec_load_buffer(&set, "big.yaml", sf_buf_cstr(&b), b.len, &d), -1);
	char *t = diag_text(&d);
	T_CONTAINS(t, "big.yaml:100002:3: error: duplicate key \"k77\" (first defined at line 79)");
	T_CONTAINS(t, "big.yaml:100003:3: error: duplicate key \"k99999\" (first defined at line 100001)");
	T_EQ(d.nerrors, 2);
	free(t);
	sf_diags_release(&d);
	sf_specset_release(&set);
	sf_buf_release(&b);
}

T_MAIN()
