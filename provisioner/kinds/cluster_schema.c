/*
 * cluster_schema.c - the schema of `kind: Cluster` and its domain checks,
 * so `secfaas validate` catches mistakes offline with file:line:col:
 * Kubernetes version, CIDRs and their overlap, AZ count, instance type
 * syntax and architecture mix, label and taint syntax, gVisor release
 * format, duplicate node group names, the OpenFaaS CE licence
 * acknowledgement.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imageref.h"
#include "provisioner/kinds/cluster.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/node/gvisor_pins.h"
#include "provisioner/node/render.h"
#include "resources/eks_versions.h"
#include "util.h"

static const char *const endpoint_access[] = {"public", "private", "public-and-private", NULL};
static const char *const node_subnets[] = {"private", "public", NULL};
static const char *const nats[] = {"single", "perAz", "none", NULL};
static const char *const runtimes[] = {"runc", "gvisor", NULL};
static const char *const platforms[] = {"systrap", "ptrace", "kvm", NULL};
static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
static const char *const capacity[] = {"ON_DEMAND", "SPOT", NULL};
static const char *const auth_modes[] = {"API", "API_AND_CONFIG_MAP", NULL};
static const char *const log_types[] = {"api", "audit", "authenticator", "controllerManager", "scheduler", NULL};
static const char *const gw_types[] = {"NodePort", "LoadBalancer", "ClusterIP", NULL};
static const char *const lb_schemes[] = {"internet-facing", "internal", NULL};
static const char *const mutators[] = {"auto", "policy", "webhook", NULL};
static const char *const autoscalers[] = {"cluster-autoscaler", NULL};

int sf_parse_cidr(const char *s, uint32_t *net, int *bits)
{
	unsigned a, b, c, d;
	int n, used = 0;
	if (sscanf(s, "%u.%u.%u.%u/%d%n", &a, &b, &c, &d, &n, &used) != 5 || s[used] || a > 255 || b > 255 ||
	    c > 255 || d > 255 || n < 0 || n > 32)
		return -1;
	uint32_t ip = (a << 24) | (b << 16) | (c << 8) | d;
	uint32_t mask = n ? 0xffffffffu << (32 - n) : 0;
	if (ip & ~mask)
		return -2; /* host bits set */
	*net = ip;
	*bits = n;
	return 0;
}

int sf_cidrs_overlap(uint32_t a, int abits, uint32_t b, int bbits)
{
	int bits = abits < bbits ? abits : bbits;
	uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;
	return (a & mask) == (b & mask);
}

int sf_cidr_within(const char *in, const char *out)
{
	uint32_t a, b;
	int ab, bb;
	return in && out && sf_parse_cidr(in, &a, &ab) == 0 && sf_parse_cidr(out, &b, &bb) == 0 && ab >= bb &&
	       sf_cidrs_overlap(a, ab, b, bb);
}

static void check_vpc_cidr(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	uint32_t net;
	int bits;
	int rc = sf_parse_cidr(n->scalar, &net, &bits);
	if (rc == -2)
		sf_diag_error(d, &n->pos, "%s: \"%s\" has host bits set; use the network address", path, n->scalar);
	else if (rc < 0)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not an IPv4 CIDR like 10.40.0.0/16", path, n->scalar);
	else if (bits < 16 || bits > 24)
		sf_diag_error(d, &n->pos, "%s: prefix /%d is outside /16../24 (a VPC allows /16 to /28, and secfaas needs room for public and private subnets in every AZ)",
			      path, bits);
}

static void check_service_cidr(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	uint32_t net;
	int bits;
	int rc = sf_parse_cidr(n->scalar, &net, &bits);
	if (rc < 0)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not a network CIDR like 172.20.0.0/16", path, n->scalar);
	else if (bits < 12 || bits > 24)
		sf_diag_error(d, &n->pos, "%s: EKS requires a service CIDR between /12 and /24", path);
}

static void check_release(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *s = n->scalar;
	int ok = strlen(s) >= 8;
	for (int i = 0; ok && i < 8; i++)
		ok = isdigit((unsigned char)s[i]);
	if (ok && s[8]) {
		ok = s[8] == '.' && s[9];
		for (const char *p = s + 9; ok && *p; p++)
			ok = isdigit((unsigned char)*p);
	}
	if (ok) {
		int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		int m = (s[4] - '0') * 10 + (s[5] - '0'), dd = (s[6] - '0') * 10 + (s[7] - '0');
		ok = y >= 2018 && m >= 1 && m <= 12 && dd >= 1 && dd <= 31;
	}
	if (!ok)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not a gVisor release (YYYYMMDD or YYYYMMDD.N, e.g. 20260817.0)",
			      path, s);
}

static void check_sha512(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *s = n->scalar;
	int ok = strlen(s) == 128;
	for (const char *p = s; ok && *p; p++)
		ok = isxdigit((unsigned char)*p);
	if (!ok)
		sf_diag_error(d, &n->pos, "%s: expected 128 hex digits (a SHA-512)", path);
}

int sf_instance_type_arch(const char *t, const char **arch)
{
	/* family[generation][attributes].size, e.g. m6i.large, c7gn.xlarge */
	const char *dot = strchr(t, '.');
	if (!dot || dot == t || !dot[1] || strchr(dot + 1, '.'))
		return -1;
	const char *p = t;
	if (!islower((unsigned char)*p))
		return -1;
	while (islower((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	const char *attrs = p;
	for (; p < dot; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return -1;
	for (p = dot + 1; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p)))
			return -1;
	/* Graviton: a 'g' in the attribute letters right after the generation
	 * (m6g, c7gn, r8gd, x2gd, t4g); 'a' is AMD, 'i' Intel. */
	*arch = (attrs < dot && *attrs == 'g') ? "arm64" : "x86_64";
	return 0;
}

static void check_instance_types(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *first_arch = NULL;
	for (size_t i = 0; i < n->n; i++) {
		const char *arch;
		const struct sf_node *v = n->vals[i];
		if (sf_instance_type_arch(v->scalar, &arch) < 0) {
			sf_diag_error(d, &v->pos, "%s[%zu]: \"%s\" is not an EC2 instance type like m6i.large", path, i,
				      v->scalar);
			continue;
		}
		if (!first_arch)
			first_arch = arch;
		else if (strcmp(first_arch, arch))
			sf_diag_error(d, &v->pos, "%s[%zu]: %s is %s but %s is %s; one node group needs one architecture",
				      path, i, v->scalar, arch, n->vals[0]->scalar, first_arch);
	}
}

int sf_label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	const char *name = slash ? slash + 1 : k;
	if (slash) {
		size_t pl = (size_t)(slash - k);
		if (!pl || pl > 253)
			return 0;
		for (const char *p = k; p < slash; p++)
			if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
				return 0;
	}
	size_t nl = strlen(name);
	if (!nl || nl > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[nl - 1]))
		return 0;
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

int sf_label_value_ok(const char *v)
{
	size_t l = strlen(v);
	if (!l)
		return 1;
	if (l > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[l - 1]))
		return 0;
	for (const char *p = v; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

static void check_labels(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	for (size_t i = 0; i < n->n; i++) {
		const char *k = n->keys[i]->scalar, *v = sf_node_str(n->vals[i]);
		if (!sf_label_key_ok(k))
			sf_diag_error(d, &n->keys[i]->pos,
				      "%s: \"%s\" is not a valid label key ([prefix/]name, name 1-63 alphanumerics, '-', '_', '.')",
				      path, k);
		else if (strstr(k, "kubernetes.io/") || strstr(k, "k8s.io/"))
			sf_diag_error(d, &n->keys[i]->pos,
				      "%s: \"%s\" uses a reserved kubernetes.io/k8s.io prefix that kubelets may not set", path, k);
		if (v && !sf_label_value_ok(v))
			sf_diag_error(d, &n->vals[i]->pos, "%s.%s: \"%s\" is not a valid label value", path, k, v);
	}
}

static void check_taint(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const struct sf_node *k = sf_node_get(n, "key"), *v = sf_node_get(n, "value");
	if (k && !sf_label_key_ok(k->scalar))
		sf_diag_error(d, &k->pos, "%s.key: \"%s\" is not a valid taint key", path, k->scalar);
	if (v && sf_node_str(v) && !sf_label_value_ok(v->scalar))
		sf_diag_error(d, &v->pos, "%s.value: \"%s\" is not a valid taint value", path, v->scalar);
}

static void check_ami(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *s = n->scalar;
	size_t l = strlen(s);
	int ok = !strncmp(s, "ami-", 4) && (l == 12 || l == 21);
	for (size_t i = 4; ok && i < l; i++)
		ok = isxdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]);
	if (!ok)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not an AMI id like ami-0123456789abcdef0", path, s);
}

static void check_scaling(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	long long mn = 0, mx = 0, ds = 0;
	const struct sf_node *nmin = sf_node_get(n, "min"), *nmax = sf_node_get(n, "max"), *nd = sf_node_get(n, "desired");
	sf_scalar_is_int(sf_node_str(nmin), &mn);
	sf_scalar_is_int(sf_node_str(nmax), &mx);
	if (mx < mn)
		sf_diag_error(d, &nmax->pos, "%s.max: %lld is less than min %lld", path, mx, mn);
	if (nd && sf_scalar_is_int(sf_node_str(nd), &ds) && (ds < mn || ds > mx))
		sf_diag_error(d, &nd->pos, "%s.desired: %lld is outside min..max (%lld..%lld)", path, ds, mn, mx);
}

static const struct sf_schema taint_fields[] = {
	{"key", SF_S_STRING, SF_S_REQUIRED | SF_S_NONEMPTY, 0, 0, 0, 0, 0, 0, "taint key"},
	{"value", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, "taint value"},
	{"effect", SF_S_STRING, SF_S_REQUIRED, 0, 0, effects, 0, 0, 0, "NoSchedule, PreferNoSchedule or NoExecute"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
static const struct sf_schema taint_item = {"taint", SF_S_OBJECT, 0, taint_fields, 0, 0, 0, 0, check_taint, 0};

static const struct sf_schema scaling_fields[] = {
	{"min", SF_S_INT, SF_S_REQUIRED, 0, 0, 0, 0, 1000, 0, "minimum nodes"},
	{"max", SF_S_INT, SF_S_REQUIRED, 0, 0, 0, 1, 1000, 0, "maximum nodes"},
	{"desired", SF_S_INT, 0, 0, 0, 0, 0, 1000, 0, "desired nodes (default min; autoscaler-managed after create)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema update_fields[] = {
	{"maxUnavailable", SF_S_INT, 0, 0, 0, 0, 1, 100, 0, "nodes updated at once"},
	{"maxUnavailablePercentage", SF_S_INT, 0, 0, 0, 0, 1, 100, 0, "percent of nodes updated at once"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema metadata_fields[] = {
	{"hopLimit", SF_S_INT, 0, 0, 0, 0, 1, 64, 0,
	 "IMDSv2 PUT response hop limit (default 1: pods, one hop behind the node, get no token)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema ng_fields[] = {
	{"name", SF_S_STRING, SF_S_REQUIRED, 0, 0, 0, 0, 0, sf_check_dns_label, "node group name, unique"},
	{"runtime", SF_S_STRING, 0, 0, 0, runtimes, 0, 0, 0, "runc (default) or gvisor"},
	{"instanceTypes", SF_S_LIST, SF_S_REQUIRED | SF_S_NONEMPTY, 0, 0, 0, 1, 20, check_instance_types,
	 "EC2 instance types, one architecture"},
	{"capacityType", SF_S_STRING, 0, 0, 0, capacity, 0, 0, 0, "ON_DEMAND (default) or SPOT"},
	{"diskSize", SF_S_INT, 0, 0, 0, 0, 20, 16384, 0, "root volume GiB (default 20)"},
	{"ami", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_ami, "existing gVisor AMI instead of baking"},
	{"scaling", SF_S_OBJECT, SF_S_REQUIRED, scaling_fields, 0, 0, 0, 0, check_scaling, "node counts"},
	{"labels", SF_S_MAP, 0, 0, 0, 0, 0, 0, check_labels, "Kubernetes node labels"},
	{"taints", SF_S_LIST, 0, 0, &taint_item, 0, 0, 50, 0, "Kubernetes node taints"},
	{"updateConfig", SF_S_OBJECT, 0, update_fields, 0, 0, 0, 0, 0, "rolling update settings"},
	{"kubernetesVersion", SF_S_STRING, 0, 0, 0, sf_eks_version_names, 0, 0, 0,
	 "runc groups: pin the kubelet version (default the cluster's; at most 3 minor versions behind it)"},
	{"releaseVersion", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0,
	 "runc groups: pin the EKS AMI release, e.g. 1.35.6-20261120 (default the newest for the version)"},
	{"metadata", SF_S_OBJECT, 0, metadata_fields, 0, 0, 0, 0, 0, "instance metadata service (IMDSv2 is always required)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void check_nodegroups(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	for (size_t i = 0; i < n->n; i++) {
		const struct sf_node *ni = sf_node_get(n->vals[i], "name");
		for (size_t j = 0; ni && j < i; j++) {
			const struct sf_node *nj = sf_node_get(n->vals[j], "name");
			if (nj && !strcmp(sf_node_str(ni), sf_node_str(nj)))
				sf_diag_error(d, &ni->pos, "%s[%zu].name: duplicate node group name \"%s\" (also at line %d)",
					      path, i, ni->scalar, nj->pos.line);
		}
	}
}

/* A hop limit above 1 lets every pod on the node fetch a token and the
 * node role's credentials; on a gVisor group that is where the untrusted
 * functions run, so say so (it stays allowed: the rare agent that needs
 * it may run there). */
static void check_nodegroup(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const struct sf_node *hop = sf_node_get(sf_node_get(n, "metadata"), "hopLimit");
	const char *rt = sf_node_str(sf_node_get(n, "runtime"));
	long long h = 1;
	if (hop && rt && !strcmp(rt, "gvisor") && sf_scalar_is_int(sf_node_str(hop), &h) && h > 1)
		sf_diag_add(d, SF_SEV_WARNING, &hop->pos,
			    "%s.metadata.hopLimit: %lld lets every pod of this gVisor group, tenant functions included, fetch an IMDS token and the node role's credentials; keep 1 unless a pod there must reach the metadata service",
			    path, h);
}

static const struct sf_schema ng_item = {"nodeGroup", SF_S_OBJECT, 0, ng_fields, 0, 0, 0, 0, check_nodegroup, 0};

/* An EC2 id: prefix-, then 8 or 17 lowercase hex digits. */
static int ec2_id_ok(const char *s, const char *prefix)
{
	size_t p = strlen(prefix), l = strlen(s);
	int ok = !strncmp(s, prefix, p) && (l == p + 8 || l == p + 17);
	for (size_t i = p; ok && i < l; i++)
		ok = isxdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]);
	return ok;
}

static void check_vpc_id(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	if (!ec2_id_ok(n->scalar, "vpc-"))
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not a VPC id like vpc-0123456789abcdef0", path, n->scalar);
}

static void check_subnet_ids(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	for (size_t i = 0; i < n->n; i++) {
		const struct sf_node *e = n->vals[i];
		if (e->type != SF_N_SCALAR || !ec2_id_ok(e->scalar, "subnet-"))
			sf_diag_error(d, &e->pos, "%s[%zu]: \"%s\" is not a subnet id like subnet-0123456789abcdef0", path,
				      i, e->type == SF_N_SCALAR ? e->scalar : "");
	}
}

static const struct sf_schema subnet_fields[] = {
	{"private", SF_S_LIST, 0, 0, 0, 0, 0, 16, check_subnet_ids,
	 "private subnet ids (nodes by default, internal load balancers)"},
	{"public", SF_S_LIST, 0, 0, 0, 0, 0, 16, check_subnet_ids, "public subnet ids (internet-facing load balancers)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema network_fields[] = {
	{"cidr", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_vpc_cidr, "VPC CIDR, /16 to /24, of a VPC secfaas makes (or vpcId)"},
	{"vpcId", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_vpc_id,
	 "an existing VPC to use instead of making one (with subnets; only read, never changed or deleted)"},
	{"subnets", SF_S_OBJECT, 0, subnet_fields, 0, 0, 0, 0, 0, "the existing subnets of vpcId to use"},
	{"availabilityZones", SF_S_INT, 0, 0, 0, 0, 2, 6, 0, "AZs to spread subnets over (default 3; EKS needs 2)"},
	{"endpointAccess", SF_S_STRING, 0, 0, 0, endpoint_access, 0, 0, 0, "API endpoint: public (default), private, public-and-private"},
	{"publicAccessCidrs", SF_S_LIST, 0, 0, 0, 0, 0, 0, sf_check_public_cidrs, "CIDRs allowed to reach a public endpoint"},
	{"serviceCidr", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_service_cidr, "Kubernetes service CIDR (default 172.20.0.0/16)"},
	{"nodeSubnets", SF_S_STRING, 0, 0, 0, node_subnets, 0, 0, 0, "where nodes live: private (default; no public IPs, out through NAT) or public"},
	{"nat", SF_S_STRING, 0, 0, 0, nats, 0, 0, 0, "NAT gateways for private subnets: single (default with private nodes), perAz (one per AZ) or none (default with public nodes)"},
	{"vpcEndpoints", SF_S_LIST, 0, 0, &(const struct sf_schema){"service", SF_S_STRING, 0, 0, 0, sf_vpc_endpoint_services, 0, 0, 0, 0}, 0, 0, 0, 0, "VPC endpoints (interface, in the private subnets; s3: gateway, on the private route tables); with nat: none, nodes need ec2, ecr.api, ecr.dkr, s3, sts and eks-auth"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

/* network.cidr (secfaas makes the VPC) or network.vpcId with subnets (an
 * existing VPC): exactly one.  What describes a VPC secfaas makes
 * (availabilityZones, nat) has no meaning for a given one. */
static void check_given_network(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const struct sf_node *cidr = sf_node_get(n, "cidr"), *vpc = sf_node_get(n, "vpcId");
	const struct sf_node *subs = sf_node_get(n, "subnets");
	if (!cidr && !vpc) {
		sf_diag_error(d, &n->pos,
			      "%s: set cidr (secfaas makes the VPC) or vpcId and subnets (an existing VPC)", path);
		return;
	}
	if (cidr && vpc) {
		sf_diag_error(d, &vpc->pos,
			      "%s.vpcId: cidr and vpcId are mutually exclusive: cidr makes a new VPC, vpcId uses an existing one (cidr is at line %d)",
			      path, cidr->pos.line);
		return;
	}
	if (!vpc) {
		if (subs)
			sf_diag_error(d, &subs->pos,
				      "%s.subnets: given subnets need the VPC they are in (vpcId); with cidr secfaas makes its own",
				      path);
		return;
	}
	static const char *const made_only[] = {"availabilityZones", "nat", "vpcEndpoints", NULL};
	for (size_t i = 0; made_only[i]; i++) {
		const struct sf_node *m = sf_node_get(n, made_only[i]);
		if (m)
			sf_diag_error(d, &m->pos,
				      "%s.%s: describes a VPC secfaas makes; with vpcId the given subnets decide the zones and their route tables the way out",
				      path, made_only[i]);
	}
	const struct sf_node *priv = sf_node_get(subs, "private"), *pub = sf_node_get(subs, "public");
	size_t np = priv && priv->type == SF_N_SEQ ? priv->n : 0, nu = pub && pub->type == SF_N_SEQ ? pub->n : 0;
	if (!subs || np + nu == 0) {
		sf_diag_error(d, subs ? &subs->pos : &vpc->pos,
			      "%s.subnets: vpcId needs its subnets: private: [subnet-...] and/or public: [subnet-...] (EKS needs subnets in at least two availability zones)",
			      path);
		return;
	}
	if (np + nu < 2)
		sf_diag_error(d, &subs->pos,
			      "%s.subnets: EKS needs subnets in at least two availability zones; one subnet is in one zone",
			      path);
	const struct sf_node *ns = sf_node_get(n, "nodeSubnets");
	const char *nsv = ns && ns->type == SF_N_SCALAR ? ns->scalar : "private";
	if (!strcmp(nsv, "private") && !np)
		sf_diag_error(d, ns ? &ns->pos : &subs->pos,
			      "%s.subnets.private: nodes go in the private subnets%s, and none is given; list them, or set nodeSubnets: public",
			      path, ns ? "" : " (nodeSubnets defaults to private)");
	if (!strcmp(nsv, "public") && !nu)
		sf_diag_error(d, ns ? &ns->pos : &subs->pos,
			      "%s.subnets.public: nodeSubnets: public puts nodes in the public subnets, and none is given", path);
	/* one subnet listed twice, or as both private and public */
	const struct sf_node *all[32];
	size_t na = 0;
	for (size_t k = 0; k < 2; k++) {
		const struct sf_node *l = k ? pub : priv;
		for (size_t i = 0; l && l->type == SF_N_SEQ && i < l->n && na < 32; i++) {
			const struct sf_node *e = l->vals[i];
			for (size_t j = 0; e->type == SF_N_SCALAR && j < na; j++)
				if (!strcmp(all[j]->scalar, e->scalar)) {
					sf_diag_error(d, &e->pos, "%s.subnets: %s is listed twice (also at line %d)", path,
						      e->scalar, all[j]->pos.line);
					break;
				}
			if (e->type == SF_N_SCALAR)
				all[na++] = e;
		}
	}
}

/* Each service once: a second endpoint with private DNS for the same
 * service is refused by AWS mid-apply. */
static void check_endpoints(const struct sf_node *eps, struct sf_diags *d, const char *path)
{
	if (!eps || eps->type != SF_N_SEQ)
		return;
	for (size_t i = 0; i < eps->n; i++)
		for (size_t j = 0; j < i; j++) {
			const struct sf_node *a = eps->vals[i], *b = eps->vals[j];
			if (a->type == SF_N_SCALAR && b->type == SF_N_SCALAR && !strcmp(a->scalar, b->scalar)) {
				sf_diag_error(d, &a->pos, "%s.vpcEndpoints[%zu]: %s is listed twice (also at line %d)",
					      path, i, a->scalar, b->pos.line);
				break;
			}
		}
}

/* Private nodes without NAT reach AWS only through VPC endpoints and the
 * API server only through its private endpoint: without them every node
 * group would fail after its instances start, minutes into apply. */
static void check_no_nat(const struct sf_node *n, const struct sf_node *nat, const struct sf_node *eps,
			 struct sf_diags *d, const char *path, const char *why)
{
	struct sf_buf missing = SF_BUF_INIT;
	for (size_t i = 0; sf_vpc_endpoints_nodes_need[i]; i++) {
		int found = 0;
		for (size_t j = 0; eps && eps->type == SF_N_SEQ && j < eps->n; j++)
			found |= eps->vals[j]->type == SF_N_SCALAR &&
				 !strcmp(eps->vals[j]->scalar, sf_vpc_endpoints_nodes_need[i]);
		if (!found)
			sf_buf_printf(&missing, "%s%s", missing.len ? ", " : "", sf_vpc_endpoints_nodes_need[i]);
	}
	if (missing.len)
		sf_diag_error(d, &nat->pos,
			      "%s.nat: none leaves nodes in private subnets%s without a way to EC2, ECR, S3, STS or EKS Pod Identity, so they could not join the cluster; list the VPC endpoints they need in %s.vpcEndpoints (missing: %s), or use nat: single (or perAz)",
			      path, why, path, missing.s);
	sf_buf_release(&missing);
	const struct sf_node *ea = sf_node_get(n, "endpointAccess");
	if (!ea || (ea->type == SF_N_SCALAR && !strcmp(ea->scalar, "public")))
		sf_diag_error(d, ea ? &ea->pos : &nat->pos,
			      "%s.endpointAccess: %s with nat: none: nodes without a way to the internet reach the Kubernetes API only through the cluster's private endpoint; use public-and-private (or private)",
			      path, ea ? "public" : "public (the default)");
}

/* Its JSON Schema twin is network_keywords: change both. */
static void check_network(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	/* A private endpoint answers only inside the VPC: apply creates the
	 * cluster, then cannot install a single Kubernetes object from outside. */
	const struct sf_node *ea = sf_node_get(n, "endpointAccess");
	if (ea && ea->type == SF_N_SCALAR && !strcmp(ea->scalar, "private"))
		sf_diag_add(d, SF_SEV_WARNING, &ea->pos,
			    "%s.endpointAccess: private makes the Kubernetes API reachable only from inside the VPC; run secfaas there (a bastion, a VPN or Direct Connect into the VPC), or apply stops after creating the cluster; public-and-private keeps nodes on the private endpoint",
			    path);
	/* Nodes in private subnets without NAT have no way to the EKS API,
	 * ECR or the bootstrap they need to join: every node group would
	 * fail after its instances start, minutes into apply. */
	const struct sf_node *ns = sf_node_get(n, "nodeSubnets"), *nat = sf_node_get(n, "nat");
	const struct sf_node *eps = sf_node_get(n, "vpcEndpoints");
	const char *nsv = ns && ns->type == SF_N_SCALAR ? ns->scalar : "private";
	check_endpoints(eps, d, path);
	if (nat && nat->type == SF_N_SCALAR && !strcmp(nat->scalar, "none") && !strcmp(nsv, "private"))
		check_no_nat(n, nat, eps, d, path, ns ? "" : " (nodeSubnets defaults to private)");
	const struct sf_node *v = sf_node_get(n, "cidr"), *s = sf_node_get(n, "serviceCidr");
	check_given_network(n, d, path);
	uint32_t a, b;
	int ab, bb;
	if (v && s && sf_parse_cidr(v->scalar, &a, &ab) == 0 && sf_parse_cidr(s->scalar, &b, &bb) == 0 &&
	    sf_cidrs_overlap(a, ab, b, bb))
		sf_diag_error(d, &s->pos, "%s.serviceCidr: %s overlaps the VPC CIDR %s", path, s->scalar, v->scalar);
}

/* ---- patterns shared by the hooks above and their JSON Schema keywords ---- */

/* A label key: [prefix/]name, the prefix a DNS subdomain of at most 253
 * characters, the name 1-63 alphanumerics, '-', '_', '.' with
 * alphanumeric ends; kubernetes.io/ and k8s.io/ are reserved to
 * Kubernetes (sf_label_key_ok, check_labels). */
#define LABEL_NAME "[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
#define LABEL_KEY "^(?!.*kubernetes\\.io/)(?!.*k8s\\.io/)([a-z0-9.-]{1,253}/)?" LABEL_NAME "$"
/* A gVisor release: YYYYMMDD from 2018 on, optionally .N (check_release). */
#define RELEASE "^(20(1[89]|[2-9][0-9])|2[1-9][0-9]{2}|[3-9][0-9]{3})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])(\\.[0-9]+)?$"

/* A Kubernetes quantity as validate reads it (quantity()): digits, an
 * optional fraction, then a decimal exponent or one of the suffixes
 * secfaas knows.  One string for the check and the JSON Schema
 * (sf_schema_pattern_match). */
#define QUANTITY "^[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|m|k|M|G|T)?$"
/* An EKS add-on version, v<major>.<minor>.<patch>-eksbuild.<n>
 * (check_addon_version; one string for the check and the schema). */
#define ADDON_VERSION "^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$"

static const struct sf_schema gvisor_fields[] = {
	{"release", SF_S_STRING, SF_S_REQUIRED, 0, 0, 0, 0, 0, check_release, "pinned gVisor release, e.g. 20260817.0"},
	{"platform", SF_S_STRING, 0, 0, 0, platforms, 0, 0, 0, "systrap (default), ptrace or kvm (metal instances)"},
	{"sha512", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_sha512, "expected SHA-512 of the release artifact (default: secfaas's built-in table of release digests when it pins the release)"},
	{"mirror", SF_S_STRING, 0, 0, 0, 0, 0, 0, 0, "release base URL, https:// unless sha512 or the built-in digest table pins the release (default the official gVisor bucket)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

/* The mirror is checked here, not only when the bake script is rendered:
 * by then the VPC, roles and builder exist.  Its form only: whether plain
 * http:// is pinned depends on the arches the node groups bake
 * (check_gvisor_pins). */
static void check_gvisor(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const struct sf_node *m = sf_node_get(n, "mirror");
	const char *url = sf_node_str(m);
	char why[320];
	if (url && sf_gvisor_mirror_check(url, 1, why, sizeof why) < 0)
		sf_diag_error(d, &m->pos, "%s.mirror: \"%s\" %s", path, url, why);
}

/* The release against the built-in digest table (provisioner/node/
 * gvisor_pins.h) for every arch a gVisor group without `ami` bakes (x86_64
 * when none does): without gvisor.sha512, a release the table does not pin
 * for one of them gets one warning saying how to pin it, and a plain
 * http:// mirror is refused unless the table pins every one. */
static void check_gvisor_pins(const struct sf_node *spec, struct sf_diags *d)
{
	const struct sf_node *gv = sf_node_get(spec, "gvisor"), *ngs = sf_node_get(spec, "nodeGroups");
	const struct sf_node *rel = sf_node_get(gv, "release"), *m = sf_node_get(gv, "mirror");
	const char *release = sf_node_str(rel);
	if (!release || !sf_gvisor_release_valid(release) || sf_node_str(sf_node_get(gv, "sha512")))
		return;
	int bakes[2] = {0, 0}; /* x86_64, arm64 */
	for (size_t i = 0; ngs && ngs->type == SF_N_SEQ && i < ngs->n; i++) {
		const char *rt = sf_node_str(sf_node_get(ngs->vals[i], "runtime"));
		if (!rt || strcmp(rt, "gvisor") || sf_node_get(ngs->vals[i], "ami"))
			continue;
		const char *arch = "x86_64";
		const struct sf_node *its = sf_node_get(ngs->vals[i], "instanceTypes");
		if (its && its->type == SF_N_SEQ && its->n && sf_node_str(its->vals[0]))
			sf_instance_type_arch(sf_node_str(its->vals[0]), &arch);
		bakes[!strcmp(arch, "arm64")] = 1;
	}
	if (!bakes[0] && !bakes[1])
		bakes[0] = 1;
	char missing[32] = "";
	static const char *const names[2] = {"x86_64", "arm64"};
	for (int k = 0; k < 2; k++)
		if (bakes[k] && !sf_gvisor_pin_find(release, names[k]))
			snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", *missing ? " and " : "",
				 names[k]);
	if (*missing)
		sf_diag_add(d, SF_SEV_WARNING, &rel->pos,
			    "spec.gvisor.release: gVisor %s is not pinned by secfaas's built-in table of release digests for %s, so the bake trusts the .sha512 file beside the download; pin it with gvisor.sha512 (the SHA-512 of the release's gvisor.tar.bz2, or of runsc for a release without a tarball)",
			    release, missing);
	char why[320];
	const char *url = sf_node_str(m);
	if (url && sf_gvisor_mirror_check(url, 1, why, sizeof why) == 0 &&
	    sf_gvisor_mirror_check(url, !*missing, why, sizeof why) < 0)
		sf_diag_error(d, &m->pos, "spec.gvisor.mirror: \"%s\" %s", url, why);
}

static const struct sf_schema access_fields[] = {
	{"authenticationMode", SF_S_STRING, 0, 0, 0, auth_modes, 0, 0, 0, "API (default) or API_AND_CONFIG_MAP"},
	{"admins", SF_S_LIST, 0, 0, 0, 0, 0, 0, sf_check_principal_arns, "IAM principal ARNs given cluster admin"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void check_image(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	char why[160];
	if (sf_image_ref_parse(n->scalar, NULL, why, sizeof why) < 0)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not an image reference ([registry/]repository[:tag][@sha256:digest]): %s",
			      path, n->scalar, why);
}

/* none | internet | a list of IPv4 CIDRs (what they may not cover:
 * check_egress_network). */
static void check_egress(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	if (n->type == SF_N_SCALAR) {
		if (strcmp(n->scalar, "none") && strcmp(n->scalar, "internet"))
			sf_diag_error(d, &n->pos, "%s: \"%s\" is not none, internet or a list of CIDRs", path, n->scalar);
		return;
	}
	if (n->type != SF_N_SEQ) {
		sf_diag_error(d, &n->pos, "%s: expected none, internet or a list of CIDRs", path);
		return;
	}
	uint32_t net = 0;
	int bits = 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct sf_node *c = n->vals[i];
		int rc = c->type == SF_N_SCALAR ? sf_parse_cidr(c->scalar, &net, &bits) : -1;
		if (rc == -2)
			sf_diag_error(d, &c->pos, "%s[%zu]: \"%s\" has host bits set; use the network address", path, i,
				      c->scalar);
		else if (rc < 0)
			sf_diag_error(d, &c->pos, "%s[%zu]: expected an IPv4 CIDR like 203.0.113.0/24", path, i);
	}
}

/* A Kubernetes quantity ("500m", "2", "1.5Gi") as a number, or -1. */
static double quantity(const char *s)
{
	static const struct {
		const char *sfx;
		double mul;
	} units[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
		     {"m", 0.001},  {"k", 1e3},         {"M", 1e6},            {"G", 1e9},
		     {"T", 1e12},   {"", 1.0}};
	if (!s || sf_schema_pattern_match(QUANTITY, s) != 1)
		return -1;
	char *end;
	double v = strtod(s, &end);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].sfx))
			return v * units[i].mul;
	return -1;
}

static void check_quantity(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	if (quantity(n->scalar) < 0)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not a Kubernetes quantity like 500m, 2 or 256Mi", path, n->scalar);
}

/* The API server refuses a LimitRange whose default exceeds its max, or
 * whose request exceeds its default: say so at plan time. */
static void check_limits(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	static const char *const pairs[][2] = {{"defaultCpu", "maxCpu"},
					       {"defaultMemory", "maxMemory"},
					       {"defaultRequestCpu", "defaultCpu"},
					       {"defaultRequestMemory", "defaultMemory"}};
	static const char *const dflt[][2] = {{"maxCpu", "2"}, {"maxMemory", "4Gi"}, {"defaultCpu", "500m"},
					      {"defaultMemory", "256Mi"}};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		const struct sf_node *a = sf_node_get(n, pairs[i][0]), *b = sf_node_get(n, pairs[i][1]);
		if (!a)
			continue;
		const char *bv = b ? b->scalar : NULL;
		for (size_t j = 0; !bv && j < sizeof dflt / sizeof dflt[0]; j++)
			if (!strcmp(dflt[j][0], pairs[i][1]))
				bv = dflt[j][1];
		double x = quantity(a->scalar), y = quantity(bv);
		if (x >= 0 && y >= 0 && x > y)
			sf_diag_error(d, &a->pos, "%s.%s: %s is more than %s (%s)", path, pairs[i][0], a->scalar, pairs[i][1], bv);
	}
}

static const struct sf_schema limits_fields[] = {
	{"pods", SF_S_INT, 0, 0, 0, 0, 1, 100000, 0, "function pods in all (default 100)"},
	{"cpu", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "CPU limits of all function pods together (default 32)"},
	{"memory", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "memory limits of all function pods together (default 64Gi)"},
	{"maxCpu", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "CPU limit of one container at most (default 2)"},
	{"maxMemory", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "memory limit of one container at most (default 4Gi)"},
	{"defaultCpu", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "CPU limit of a container that sets none (default 500m)"},
	{"defaultMemory", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "memory limit of a container that sets none (default 256Mi)"},
	{"defaultRequestCpu", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "CPU request of a container that sets none (default 50m)"},
	{"defaultRequestMemory", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_quantity, "memory request of a container that sets none (default 64Mi)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void check_source_ranges(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	sf_check_ipv4_cidrs(n, d, path, 30,
			    "at most 30: each becomes rules of the load balancer's security group (60 rules by default)");
}

static const struct sf_schema gateway_lb_fields[] = {
	{"scheme", SF_S_STRING, 0, 0, 0, lb_schemes, 0, 0, 0,
	 "internet-facing (default, as Kubernetes makes it) or internal: an address in the VPC, reached only from it and what is routed to it"},
	{"sourceRanges", SF_S_LIST, SF_S_NONEMPTY, 0, 0, 0, 0, 0, check_source_ranges,
	 "the client IPv4 CIDRs the load balancer lets in (default: any address)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema openfaas_fields[] = {
	{"enabled", SF_S_BOOL, 0, 0, 0, 0, 0, 0, 0, "install OpenFaaS CE (default true when the section exists)"},
	{"acceptLicense", SF_S_BOOL, 0, 0, 0, 0, 0, 0, 0, "acknowledge the OpenFaaS CE EULA (required)"},
	{"gatewayService", SF_S_STRING, 0, 0, 0, gw_types, 0, 0, 0, "gateway-external Service type (default NodePort)"},
	{"gatewayLoadBalancer", SF_S_OBJECT, 0, gateway_lb_fields, 0, 0, 0, 0, 0,
	 "with gatewayService: LoadBalancer, who can reach it: scheme and client sourceRanges"},
	{"mutator", SF_S_STRING, 0, 0, 0, mutators, 0, 0, 0,
	 "how function pods get the gVisor class at admission: auto (default: MutatingAdmissionPolicy on 1.36+, else webhook), policy, webhook"},
	{"webhookImage", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_image, "Python image the admission webhook runs from (default pinned; set for a registry mirror)"},
	{"functionEgress", SF_S_ANY, 0, 0, 0, 0, 0, 0, check_egress,
	 "where functions may connect besides cluster DNS: none (default), internet (not link-local, the VPC or services), or a list of CIDRs"},
	{"functionLimits", SF_S_OBJECT, 0, limits_fields, 0, 0, 0, 0, check_limits,
	 "ResourceQuota and LimitRange of openfaas-fn (always installed; these override the defaults)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void check_openfaas(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	int enabled = 1, accepted = 0;
	sf_scalar_is_bool(sf_node_str(sf_node_get(n, "enabled")), &enabled);
	sf_scalar_is_bool(sf_node_str(sf_node_get(n, "acceptLicense")), &accepted);
	if (enabled && !accepted)
		sf_diag_error(d, &n->pos,
			      "%s: OpenFaaS CE is licensed under its EULA (commercial use: one installation per company for at most 60 days); set acceptLicense: true to acknowledge it, or enabled: false",
			      path);
	const struct sf_node *svc = sf_node_get(n, "gatewayService"), *lb = sf_node_get(n, "gatewayLoadBalancer");
	const char *type = sf_node_str(svc);
	int is_lb = type && !strcmp(type, "LoadBalancer");
	if (lb && !is_lb) {
		sf_diag_error(d, &lb->pos, "%s.gatewayLoadBalancer: applies to gatewayService: LoadBalancer (the gateway is %s)",
			      path, type ? type : "NodePort");
		return;
	}
	const char *scheme = sf_node_str(sf_node_get(lb, "scheme"));
	const struct sf_node *ranges = sf_node_get(lb, "sourceRanges");
	int open = !ranges;
	for (size_t i = 0; ranges && i < ranges->n; i++)
		open |= sf_node_str(ranges->vals[i]) && !strcmp(sf_node_str(ranges->vals[i]), "0.0.0.0/0");
	if (enabled && is_lb && (!scheme || strcmp(scheme, "internal")) && open)
		sf_diag_add(d, SF_SEV_WARNING, &svc->pos,
			    "%s.gatewayService: the gateway takes its login (basic auth over plain HTTP) from any address on the internet; set gatewayLoadBalancer.sourceRanges to your clients' CIDRs, or gatewayLoadBalancer.scheme: internal",
			    path);
}

/* Does this taint keep a pod off its node?  PreferNoSchedule never does.
 * EKS's CoreDNS tolerates CriticalAddonsOnly (any effect) and the control
 * plane's NoSchedule taint only; OpenFaaS's own Deployments and the gVisor
 * admission webhook tolerate nothing. */
static int keeps_off(const struct sf_node *taint, int coredns)
{
	const char *key = sf_node_str(sf_node_get(taint, "key"));
	const char *eff = sf_node_str(sf_node_get(taint, "effect"));
	if (!eff || (strcmp(eff, "NoSchedule") && strcmp(eff, "NoExecute")))
		return 0;
	if (!coredns)
		return 1;
	if (!key || !strcmp(key, "CriticalAddonsOnly"))
		return 0;
	return strcmp(key, "node-role.kubernetes.io/control-plane") || strcmp(eff, "NoSchedule");
}

/* Can such pods (coredns: CoreDNS's; else ones that tolerate nothing) run
 * on some group?  Never on a gVisor group, which carries the sandbox
 * taint.  With none, CoreDNS stays DEGRADED once the nodes are up, and
 * OpenFaaS's pods never start, so the apply fails minutes in (CoreDNS:
 * resources/aws_eks_addon.c) or waits for a rollout until it times out:
 * say it offline. */
static int some_group_runs(const struct sf_node *ngs, int coredns)
{
	for (size_t i = 0; i < ngs->n; i++) {
		const char *rt = sf_node_str(sf_node_get(ngs->vals[i], "runtime"));
		if (rt && !strcmp(rt, "gvisor"))
			continue;
		const struct sf_node *ts = sf_node_get(ngs->vals[i], "taints");
		size_t k = 0;
		while (ts && k < ts->n && !keeps_off(ts->vals[k], coredns))
			k++;
		if (!ts || k == ts->n)
			return 1;
	}
	return 0;
}

/* Functions never reach the cluster's own network (the VPC: nodes, the
 * API server's interfaces, endpoints; the service CIDR: the cluster's
 * Services) or link-local (the metadata service): a listed CIDR that
 * contains one gets it as an exception (cluster_netpol.c), and one that
 * lies within one would allow nothing, so it is refused.  A VPC given by
 * vpcId has its block read at apply time: not checked here. */
static void check_egress_network(const struct sf_node *spec, struct sf_diags *d)
{
	const struct sf_node *eg = sf_node_get(sf_node_get(spec, "openfaas"), "functionEgress");
	const struct sf_node *net = sf_node_get(spec, "network");
	if (!eg || eg->type != SF_N_SEQ)
		return;
	const char *svc = sf_node_str(sf_node_get(net, "serviceCidr"));
	const struct {
		const char *what, *cidr;
	} own[] = {{"link-local (the instance metadata service)", "169.254.0.0/16"},
		   {"the VPC CIDR", sf_node_str(sf_node_get(net, "cidr"))},
		   {"the service CIDR", svc ? svc : SF_DEFAULT_SERVICE_CIDR}};
	for (size_t i = 0; i < eg->n; i++) {
		const struct sf_node *c = eg->vals[i];
		if (c->type != SF_N_SCALAR)
			continue; /* check_egress reports it, and a CIDR that does not parse */
		for (size_t k = 0; k < SF_ARRAY_LEN(own); k++)
			if (sf_cidr_within(c->scalar, own[k].cidr)) {
				sf_diag_error(d, &c->pos,
					      "spec.openfaas.functionEgress[%zu]: %s lies within %s %s, which functions never reach; list only addresses outside the cluster's network",
					      i, c->scalar, own[k].what, own[k].cidr);
				break;
			}
	}
}

static void check_cluster_spec(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	(void)path;
	const struct sf_node *ngs = sf_node_get(n, "nodeGroups");
	int has_gvisor = 0;
	check_gvisor_pins(n, d);
	check_egress_network(n, d);
	int cm = sf_eks_minor(sf_node_str(sf_node_get(n, "kubernetesVersion")));
	for (size_t i = 0; ngs && i < ngs->n; i++) {
		const char *rt = sf_node_str(sf_node_get(ngs->vals[i], "runtime"));
		const struct sf_node *kv = sf_node_get(ngs->vals[i], "kubernetesVersion");
		const struct sf_node *rv = sf_node_get(ngs->vals[i], "releaseVersion");
		int gvisor = rt && !strcmp(rt, "gvisor");
		if (gvisor) {
			has_gvisor = 1;
			if (!sf_node_get(n, "gvisor") && !sf_node_get(ngs->vals[i], "ami"))
				sf_diag_error(d, &ngs->vals[i]->pos,
					      "spec.nodeGroups[%zu]: runtime gvisor needs spec.gvisor.release (to bake an AMI) or an ami", i);
		}
		/* gVisor groups run the image baked for the cluster's version
		 * (or the given ami), so their version is the image's. */
		if (gvisor && (kv || rv))
			sf_diag_error(d, kv ? &kv->pos : &rv->pos,
				      "spec.nodeGroups[%zu].%s: a gVisor group runs the image baked for the cluster's Kubernetes version; only runc groups pin theirs",
				      i, kv ? "kubernetesVersion" : "releaseVersion");
		int gm = kv ? sf_eks_minor(sf_node_str(kv)) : -1;
		if (!gvisor && gm >= 0 && cm >= 0 && gm > cm)
			sf_diag_error(d, &kv->pos,
				      "spec.nodeGroups[%zu].kubernetesVersion: %s is newer than the cluster's %s; kubelets may not be newer than the API server",
				      i, sf_node_str(kv), sf_node_str(sf_node_get(n, "kubernetesVersion")));
		else if (!gvisor && gm >= 0 && cm >= 0 && gm < cm - SF_EKS_KUBELET_SKEW)
			sf_diag_error(d, &kv->pos,
				      "spec.nodeGroups[%zu].kubernetesVersion: %s is %d minor versions behind the cluster's %s; kubelets may trail the API server by at most %d",
				      i, sf_node_str(kv), cm - gm, sf_node_str(sf_node_get(n, "kubernetesVersion")),
				      SF_EKS_KUBELET_SKEW);
		if (!gvisor && sf_node_str(rv) && sf_node_str(kv) &&
		    strncmp(sf_node_str(rv), sf_node_str(kv), strlen(sf_node_str(kv))))
			sf_diag_error(d, &rv->pos, "spec.nodeGroups[%zu].releaseVersion: %s is not a release of Kubernetes %s",
				      i, sf_node_str(rv), sf_node_str(kv));
	}
	/* kube-proxy's version is a Kubernetes version: never newer than the
	 * API server, at most SF_EKS_KUBELET_SKEW minors behind it */
	const struct sf_node *kp = sf_node_get(sf_node_get(sf_node_get(n, "addons"), "kube-proxy"), "version");
	unsigned kmaj = 0, kmin = 0;
	if (kp && cm >= 0 && sf_node_str(kp) && sscanf(sf_node_str(kp), "v%u.%u.", &kmaj, &kmin) == 2 &&
	    (kmaj != 1 || (int)kmin > cm || (int)kmin < cm - SF_EKS_KUBELET_SKEW))
		sf_diag_error(d, &kp->pos,
			      "spec.addons.kube-proxy.version: %s does not fit Kubernetes %s; kube-proxy may not be newer than the API server, nor more than %d minor versions behind it",
			      sf_node_str(kp), sf_node_str(sf_node_get(n, "kubernetesVersion")), SF_EKS_KUBELET_SKEW);
	/* the autoscaler runs on a runc group: never on a gVisor node, where
	 * it would sit beside tenant functions with the role that scales the
	 * cluster */
	const struct sf_node *as = sf_node_get(n, "autoscaler");
	int has_runc = 0;
	for (size_t i = 0; ngs && i < ngs->n; i++) {
		const char *rt = sf_node_str(sf_node_get(ngs->vals[i], "runtime"));
		if (!rt || strcmp(rt, "gvisor"))
			has_runc = 1;
	}
	if (as && ngs && !has_runc)
		sf_diag_error(d, &as->pos,
			      "spec.autoscaler: the cluster autoscaler runs on a runc node group, never beside functions on a gVisor one; add a group without runtime: gvisor");
	if (ngs && ngs->n && !some_group_runs(ngs, 1))
		sf_diag_error(d, &ngs->pos,
			      "spec.nodeGroups: CoreDNS can run on none of these node groups (gVisor groups keep it off, and so does a NoSchedule or NoExecute taint it does not tolerate); add a runc group without such taints");
	const struct sf_node *of = sf_node_get(n, "openfaas");
	int of_enabled = 1;
	if (of)
		sf_scalar_is_bool(sf_node_str(sf_node_get(of, "enabled")), &of_enabled);
	if (of && of_enabled && !has_gvisor)
		sf_diag_error(d, &of->pos, "spec.openfaas: functions must run under gVisor, but no node group has runtime: gvisor");
	if (of && of_enabled && ngs && ngs->n && !some_group_runs(ngs, 0))
		sf_diag_error(d, &of->pos,
			      "spec.openfaas: OpenFaaS's gateway, NATS and Prometheus and the gVisor admission webhook run on runc nodes, but every runc group keeps them off (a NoSchedule or NoExecute taint); add a runc group without such taints");
}

/* "v1.21.1-eksbuild.1": EKS add-on versions are a v-prefixed semantic
 * version and an eksbuild number (ADDON_VERSION). */
static void check_addon_version(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	if (sf_schema_pattern_match(ADDON_VERSION, n->scalar) != 1)
		sf_diag_error(d, &n->pos, "%s: \"%s\" is not an EKS add-on version like v1.21.1-eksbuild.1", path,
			      n->scalar);
}

static const struct sf_schema addon_fields[] = {
	{"version", SF_S_STRING, 0, 0, 0, 0, 0, 0, check_addon_version,
	 "pin the add-on version (default: EKS's default for the cluster's Kubernetes version, moved with every upgrade)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

/* The add-ons every Cluster runs (cluster_lower_addons.c). */
static const struct sf_schema addons_fields[] = {
	{"vpc-cni", SF_S_OBJECT, 0, addon_fields, 0, 0, 0, 0, 0, "the VPC CNI (network policy agent on)"},
	{"kube-proxy", SF_S_OBJECT, 0, addon_fields, 0, 0, 0, 0, 0, "kube-proxy"},
	{"coredns", SF_S_OBJECT, 0, addon_fields, 0, 0, 0, 0, 0, "CoreDNS"},
	{"eks-pod-identity-agent", SF_S_OBJECT, 0, addon_fields, 0, 0, 0, 0, 0, "the EKS Pod Identity agent"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema cluster_fields[] = {
	{"kubernetesVersion", SF_S_STRING, SF_S_REQUIRED, 0, 0, sf_eks_version_names, 0, 0, 0,
	 "EKS Kubernetes version (upgrades one minor version per apply)"},
	{"network", SF_S_OBJECT, SF_S_REQUIRED, network_fields, 0, 0, 0, 0, check_network, "VPC layout"},
	{"gvisor", SF_S_OBJECT, 0, gvisor_fields, 0, 0, 0, 0, check_gvisor, "gVisor release baked into sandbox AMIs"},
	{"nodeGroups", SF_S_LIST, SF_S_REQUIRED | SF_S_NONEMPTY, 0, &ng_item, 0, 1, 30, check_nodegroups, "managed node groups"},
	{"access", SF_S_OBJECT, 0, access_fields, 0, 0, 0, 0, 0, "EKS access entries"},
	{"logging", SF_S_LIST, 0, 0, &(const struct sf_schema){"logType", SF_S_STRING, 0, 0, 0, log_types, 0, 0, 0, 0},
	 0, 0, 0, 0, "control plane log types"},
	{"openfaas", SF_S_OBJECT, 0, openfaas_fields, 0, 0, 0, 0, check_openfaas, "OpenFaaS CE with every function in gVisor"},
	{"addons", SF_S_OBJECT, 0, addons_fields, 0, 0, 0, 0, 0, "EKS add-on versions (each follows the cluster's version unless pinned)"},
	{"autoscaler", SF_S_STRING, 0, 0, 0, autoscalers, 0, 0, 0,
	 "cluster-autoscaler: install the Kubernetes cluster autoscaler (image of the cluster's minor version, its own IAM role through Pod Identity, on a runc group)"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

const struct sf_schema sf_cluster_spec_schema = {"spec", SF_S_OBJECT, 0, cluster_fields, 0, 0, 0, 0,
						  check_cluster_spec, 0};

const struct sf_schema *sf_cluster_schema(void)
{
	return &sf_cluster_spec_schema;
}

/* ---- the hooks above as JSON Schema keywords (secfaas schema) ---- */

/* A container image reference (lib/imageref.h's grammar).  Without a
 * domain the first path component has no '.', as the runtimes read a
 * first component with one as a registry host; a name longer than 255
 * characters is validate's to refuse. */
#define IMG_COMPONENT "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
#define IMG_COMPONENT_NODOT "[a-z0-9]+((_|__|-+)[a-z0-9]+)*"
#define IMG_LABEL "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
#define IMG_HOST "(" IMG_LABEL "(\\." IMG_LABEL ")*|\\[[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\\])"
#define IMG_PATH IMG_COMPONENT "(/" IMG_COMPONENT ")*"
#define IMAGE_REF                                                                                               \
	"^(" IMG_HOST "(:[0-9]{1,5})?/" IMG_PATH "|" IMG_COMPONENT "|" IMG_COMPONENT_NODOT "(/" IMG_COMPONENT ")+)" \
	"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}))?$"
/* A gVisor release mirror (sf_gvisor_mirror_check): http(s), a host
 * without credentials, a port 1-65535 of at most 6 digits, then only the
 * path characters a shell and a URL leave alone. */
#define MIRROR_URL                                                                                     \
	"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:(?=[0-9]{1,6}(/|$))0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|"      \
	"6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(/[A-Za-z0-9._~/%+=,:-]*)?$"
/* Plain http:// to this machine, which needs no pin. */
#define MIRROR_LOOPBACK "^http://(localhost|127\\.[0-9.]+)([:/]|$)"
/* A node group on Graviton (sf_instance_type_arch: a 'g' right after the
 * generation digits) and one on x86_64 (anything else there). */
#define ARM64_TYPE "^[a-z]+[0-9]+g"
#define X86_TYPE "^[a-z]+[0-9]+([a-fh-z-][a-z0-9-]*)?\\."

static void pattern(json_t *o, const char *re)
{
	if (o)
		json_object_set_new(o, "pattern", json_string(re));
}

/* Append x to o's allOf (created when missing). */
static void all_of(json_t *o, json_t *x)
{
	json_t *a = json_object_get(o, "allOf");
	if (!a) {
		a = json_array();
		json_object_set_new(o, "allOf", a);
	}
	json_array_append_new(a, x);
}

/* {required: [field], properties: {field: {const: value}}} */
static json_t *field_is(const char *field, json_t *value)
{
	return json_pack("{s:[s], s:{s:{s:o}}}", "required", field, "properties", field, "const", value);
}

/* A node group with runtime: gvisor. */
static json_t *gvisor_group(void)
{
	json_t *g = field_is("runtime", json_string("gvisor"));
	json_object_set_new(g, "type", json_string("object"));
	return g;
}

/* "^1\\.31" for "1.31": a text that starts with v. */
static json_t *prefix_pattern(const char *v)
{
	char re[64];
	size_t o = 0;
	re[o++] = '^';
	for (const char *p = v; *p && o + 3 < sizeof re; p++) {
		if (*p == '.')
			re[o++] = '\\';
		re[o++] = *p;
	}
	re[o] = 0;
	return json_string(re);
}

/* The keywords of "`key` is given": present and not null. */
static json_t *given(const char *key)
{
	return json_pack("{s:[s], s:{s:{s:{s:s}}}}", "required", key, "properties", key, "not", "type", "null");
}

/* check_cluster_spec as keywords: the rules across node groups, the
 * gVisor section, OpenFaaS and the add-ons.  Versions come from the same
 * table validation reads (sf_eks_version_names), so each of the finite
 * cluster versions gets its own if/then of what may run beside it. */
static void cluster_spec_keywords(json_t *out)
{
	/* a gVisor group without an ami needs spec.gvisor to bake one; a
	 * null value is not given (sf_node_get) */
	json_t *no_ami = gvisor_group();
	json_object_set_new(no_ami, "not", given("ami"));
	all_of(out, json_pack("{s:{s:[s], s:{s:{s:o}}}, s:o}", "if", "required", "nodeGroups", "properties",
			      "nodeGroups", "contains", no_ami, "then", given("gvisor")));
	/* OpenFaaS, unless enabled: false (or a module call, expanded before
	 * validation), needs a gVisor group (or one from a module call) */
	json_t *off = field_is("enabled", json_false());
	json_object_set_new(off, "type", json_string("object"));
	json_t *of_on = json_pack("{s:[s], s:{s:{s:{s:[o, {s:[s]}]}}}}", "required", "openfaas", "properties",
				  "openfaas", "not", "anyOf", off, "required", "module");
	all_of(out, json_pack("{s:O, s:{s:{s:{s:{s:[o, {s:[s]}]}}}}}", "if", of_on, "then", "properties",
			      "nodeGroups", "contains", "anyOf", gvisor_group(), "required", "module"));
	/* and a runc group its own pods can run on (some_group_runs): no
	 * NoSchedule or NoExecute taint at all */
	json_t *plain = json_pack("{s:o, s:{s:{s:{s:{s:{s:{s:[s, s]}}}}}}}", "not", gvisor_group(), "properties", "taints",
				  "not", "contains", "properties", "effect", "enum", "NoSchedule", "NoExecute");
	all_of(out, json_pack("{s:o, s:{s:{s:{s:{s:[o, {s:[s]}]}}}}}", "if", of_on, "then", "properties",
			      "nodeGroups", "contains", "anyOf", plain, "required", "module"));
	/* the autoscaler needs a runc group (anything but runtime: gvisor;
	 * a module call may bring one) */
	all_of(out, json_pack("{s:{s:[s]}, s:{s:[s], s:{s:{s:{s:o}}}}}", "if", "required", "autoscaler", "then",
			      "required", "nodeGroups", "properties", "nodeGroups", "contains", "not", gvisor_group()));
	/* CoreDNS needs a group it can run on (some_group_runs): a runc group
	 * whose taints it tolerates (or a module call, which may bring one) */
	json_t *keeps_off = json_pack("{s:{s:{s:[s, s]}}, s:{s:[{s:{s:{s:s}}}, {s:{s:{s:s}, s:{s:s}}}]}}", "properties",
				      "effect", "enum", "NoSchedule", "NoExecute", "not", "anyOf", "properties", "key",
				      "const", "CriticalAddonsOnly", "properties", "key", "const",
				      "node-role.kubernetes.io/control-plane", "effect", "const", "NoSchedule");
	json_t *dns_ok = json_pack("{s:o, s:{s:{s:{s:o}}}}", "not", gvisor_group(), "properties", "taints", "not",
				   "contains", keeps_off);
	all_of(out, json_pack("{s:{s:[s]}, s:{s:{s:{s:{s:[o, {s:[s]}]}}}}}", "if", "required", "nodeGroups", "then",
			      "properties", "nodeGroups", "contains", "anyOf", dns_ok, "required", "module"));
	/* a gVisor group runs the image baked for the cluster's version: it
	 * pins neither kubernetesVersion nor releaseVersion */
	json_t *items = json_pack("{s:o, s:{s:{s:[{s:[s]}, {s:[s]}]}}}", "if", gvisor_group(), "then", "not", "anyOf",
				  "required", "kubernetesVersion", "required", "releaseVersion");
	/* a runc group's releaseVersion is a release of its kubernetesVersion */
	for (size_t i = 0; sf_eks_version_names[i]; i++)
		all_of(items, json_pack("{s:o, s:{s:{s:{s:o}}}}", "if",
					field_is("kubernetesVersion", json_string(sf_eks_version_names[i])), "then",
					"properties", "releaseVersion", "pattern", prefix_pattern(sf_eks_version_names[i])));
	all_of(out, json_pack("{s:{s:{s:o}}}", "properties", "nodeGroups", "items", items));
	/* per cluster version: the kubelet versions allowed beside it (not
	 * newer, at most SF_EKS_KUBELET_SKEW minors behind) and kube-proxy's */
	for (size_t i = 0; sf_eks_version_names[i]; i++) {
		int cm = sf_eks_minor(sf_eks_version_names[i]);
		json_t *ok = json_array();
		char minors[128] = "";
		size_t o = 0;
		for (size_t j = 0; sf_eks_version_names[j]; j++) {
			int gm = sf_eks_minor(sf_eks_version_names[j]);
			if (gm <= cm && gm >= cm - SF_EKS_KUBELET_SKEW)
				json_array_append_new(ok, json_string(sf_eks_version_names[j]));
		}
		json_array_append_new(ok, json_null());
		for (int m = cm - SF_EKS_KUBELET_SKEW; m <= cm && o < sizeof minors - 8; m++)
			if (m >= 0)
				o += (size_t)snprintf(minors + o, sizeof minors - o, "%s%d", o ? "|" : "", m);
		char kp[192];
		snprintf(kp, sizeof kp, "^v0*1\\.0*(%s)\\.", minors);
		json_t *groups = json_pack("{s:{s:{s:{s:o}}}}", "items", "properties", "kubernetesVersion", "enum", ok);
		json_t *addons = json_pack("{s:{s:{s:{s:{s:s}}}}}", "properties", "kube-proxy", "properties", "version",
					   "pattern", kp);
		all_of(out, json_pack("{s:o, s:{s:{s:o, s:o}}}", "if",
				      field_is("kubernetesVersion", json_string(sf_eks_version_names[i])), "then",
				      "properties", "nodeGroups", groups, "addons", addons));
	}
}

/* check_given_network as keywords: cidr or vpcId, exactly one; with
 * vpcId its subnets (two at least, the nodes' list not empty) and neither
 * availabilityZones, nat nor vpcEndpoints; subnets only with vpcId.  A subnet listed in
 * both lists is validate's (JSON Schema has no uniqueness across two
 * arrays). */
static void network_keywords(json_t *out)
{
	json_object_set_new(out, "oneOf", json_pack("[{s:[s]}, {s:[s]}]", "required", "cidr", "required", "vpcId"));
	all_of(out, json_pack("{s:{s:[s]}, s:{s:{s:[s]}}}", "if", "required", "subnets", "then", "required", "vpcId"));
	json_t *two = json_pack("[{s:[s], s:{s:{s:i}}}, {s:[s], s:{s:{s:i}}}, {s:[s, s], s:{s:{s:i}, s:{s:i}}}]",
				"required", "private", "properties", "private", "minItems", 2, "required", "public",
				"properties", "public", "minItems", 2, "required", "private", "public", "properties",
				"private", "minItems", 1, "public", "minItems", 1);
	json_t *given = json_pack("{s:[s], s:{s:[{s:[s]}, {s:[s]}, {s:[s]}]}, s:{s:{s:o}}}", "required", "subnets", "not",
				  "anyOf", "required", "availabilityZones", "required", "nat", "required", "vpcEndpoints",
				  "properties", "subnets", "anyOf", two);
	/* the list nodes go in (nodeSubnets, private by default) is not empty */
	json_t *need_pub = json_pack("{s:{s:{s:[s], s:{s:{s:i}}}}}", "properties", "subnets", "required", "public",
				     "properties", "public", "minItems", 1);
	json_t *need_priv = json_pack("{s:{s:{s:[s], s:{s:{s:i}}}}}", "properties", "subnets", "required", "private",
				      "properties", "private", "minItems", 1);
	json_t *nodes = json_pack("{s:o, s:o, s:o}", "if", field_is("nodeSubnets", json_string("public")), "then",
				  need_pub, "else", need_priv);
	all_of(out, json_pack("{s:{s:[s]}, s:{s:[o, o]}}", "if", "required", "vpcId", "then", "allOf", given, nodes));
	/* each endpoint once; nat: none with private nodes needs the
	 * endpoints nodes need and a private API endpoint (the CIDR overlap
	 * is validate's) */
	json_t *eps = json_object_get(json_object_get(out, "properties"), "vpcEndpoints");
	if (eps)
		json_object_set_new(eps, "uniqueItems", json_true());
	json_t *need = json_array();
	for (size_t i = 0; sf_vpc_endpoints_nodes_need[i]; i++)
		json_array_append_new(need, json_pack("{s:{s:s}}", "contains", "const", sf_vpc_endpoints_nodes_need[i]));
	json_t *cond = field_is("nat", json_string("none"));
	json_object_set_new(cond, "not", field_is("nodeSubnets", json_string("public")));
	all_of(out, json_pack("{s:o, s:{s:[s, s], s:{s:{s:o}, s:{s:[s, s]}}}}", "if", cond, "then", "required",
			      "vpcEndpoints", "endpointAccess", "properties", "vpcEndpoints", "allOf", need,
			      "endpointAccess", "enum", "private", "public-and-private"));
}

int sf_cluster_check_keywords(sf_schema_check_fn check, json_t *out)
{
	if (check == check_ami) {
		pattern(out, "^ami-([0-9a-f]{8}|[0-9a-f]{17})$");
	} else if (check == check_sha512) {
		pattern(out, "^[0-9A-Fa-f]{128}$");
	} else if (check == check_release) {
		pattern(out, RELEASE);
	} else if (check == check_instance_types) {
		/* family, generation, attributes . size, and one architecture
		 * for all of them (sf_instance_type_arch) */
		pattern(json_object_get(out, "items"), "^[a-z]+[0-9]+[a-z0-9-]*\\.[a-z0-9]+$");
		json_object_set_new(out, "anyOf",
				    json_pack("[{s:{s:s}}, {s:{s:s}}]", "items", "pattern", ARM64_TYPE, "items",
					      "pattern", X86_TYPE));
	} else if (check == check_vpc_id) {
		pattern(out, "^vpc-([0-9a-f]{8}|[0-9a-f]{17})$");
	} else if (check == check_subnet_ids) {
		pattern(json_object_get(out, "items"), "^subnet-([0-9a-f]{8}|[0-9a-f]{17})$");
		json_object_set_new(out, "uniqueItems", json_true());
	} else if (check == check_network) {
		network_keywords(out);
	} else if (check == check_vpc_cidr) {
		pattern(out, "^" SF_JS_IPV4_NET "/0*(1[6-9]|2[0-4])$");
	} else if (check == check_service_cidr) {
		pattern(out, "^" SF_JS_IPV4_NET "/0*(1[2-9]|2[0-4])$");
	} else if (check == check_labels) {
		json_object_set_new(out, "propertyNames", json_pack("{s:s}", "pattern", LABEL_KEY));
		json_t *v = json_object_get(out, "additionalProperties");
		if (json_is_object(v))
			pattern(v, "^(" LABEL_NAME ")?$");
	} else if (check == check_image) {
		pattern(out, IMAGE_REF);
		json_object_set_new(out, "maxLength", json_integer(1024));
	} else if (check == check_quantity) {
		pattern(out, QUANTITY);
	} else if (check == check_addon_version) {
		pattern(out, ADDON_VERSION);
		json_object_set_new(out, "type", json_string("string")); /* "v..." is never a number */
	} else if (check == check_egress) {
		/* none | internet | a list of IPv4 CIDRs (host bits are validate's) */
		json_object_set_new(out, "anyOf",
				    json_pack("[{s:s}, {s:[s, s]}, {s:s, s:{s:s, s:s}}]", "type", "null", "enum", "none",
					      "internet", "type", "array", "items", "type", "string", "pattern",
					      "^" SF_JS_IPV4_NET "/0*([0-9]|[12][0-9]|3[0-2])$"));
	} else if (check == check_gvisor) {
		/* the mirror's syntax, and plain http:// only to this machine
		 * or with a SHA-512 pin */
		json_t *m = json_object_get(json_object_get(out, "properties"), "mirror");
		pattern(m, MIRROR_URL);
		json_object_set_new(out, "if",
				    json_pack("{s:[s], s:{s:{s:s, s:s, s:{s:s}}}}", "required", "mirror", "properties",
					      "mirror", "type", "string", "pattern", "^http://", "not", "pattern",
					      MIRROR_LOOPBACK));
		/* ...or a release of the built-in digest table (looser than
		 * validate, which also asks the table for every baked arch) */
		const struct sf_gvisor_pin *rows;
		size_t nrows = sf_gvisor_pins(&rows);
		json_t *rels = json_array();
		for (size_t i = 0; i < nrows; i++)
			if (!i || strcmp(rows[i].release, rows[i - 1].release))
				json_array_append_new(rels, json_string(rows[i].release));
		json_object_set_new(out, "then",
				    json_pack("{s:[{s:[s], s:{s:{s:{s:s}}}}, {s:[s], s:{s:{s:o}}}]}", "anyOf", "required",
					      "sha512", "properties", "sha512", "not", "type", "null", "required",
					      "release", "properties", "release", "enum", rels));
	} else if (check == check_openfaas) {
		/* the EULA acknowledged, or OpenFaaS off; a load balancer's
		 * settings only on a LoadBalancer gateway (the warning of one
		 * open to the internet is validate's) */
		json_object_set_new(out, "anyOf",
				    json_pack("[o, o]", field_is("enabled", json_false()),
					      field_is("acceptLicense", json_true())));
		json_object_set_new(out, "dependentSchemas",
				    json_pack("{s:o}", "gatewayLoadBalancer",
					      field_is("gatewayService", json_string("LoadBalancer"))));
	} else if (check == check_source_ranges) {
		pattern(json_object_get(out, "items"), "^" SF_JS_IPV4_NET "/0*([0-9]|[12][0-9]|3[0-2])$");
		json_object_set_new(out, "maxItems", json_integer(30));
		json_object_set_new(out, "uniqueItems", json_true());
	} else if (check == check_cluster_spec) {
		cluster_spec_keywords(out);
	} else if (check == check_taint) {
		/* a label key (kubernetes.io/ allowed: taints are not node
		 * labels a kubelet sets) and a label value */
		json_t *p = json_object_get(out, "properties");
		pattern(json_object_get(p, "key"), "^([a-z0-9.-]{1,253}/)?" LABEL_NAME "$");
		pattern(json_object_get(p, "value"), "^(" LABEL_NAME ")?$");
	} else if (check == check_scaling || check == check_nodegroups || check == check_limits ||
		   check == check_nodegroup) {
		/* beyond a JSON Schema: min against max, names unique across
		 * items, quantities compared by value; check_nodegroup only warns */
	} else {
		return 0;
	}
	return 1;
}
