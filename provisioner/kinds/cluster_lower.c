/*
 * cluster_lower.c - Cluster document → resource instances with references.
 *
 * The graph (addresses are stable; names below are the resource names):
 *   IAM      aws_iam_role.cluster, aws_iam_role.node,
 *            aws_iam_role.ami_builder + aws_iam_instance_profile.ami_builder
 *            (only when some gVisor group bakes)
 *   network  aws_vpc.main; aws_subnet.public_<a..> and private_<a..>, one
 *            pair per AZ; aws_internet_gateway.main; aws_route_table.public
 *            (0.0.0.0/0 → gateway, public subnets) and .private;
 *            aws_security_group.cluster (members talk to each other)
 *   images   aws_gvisor_ami.<arch> per arch of gVisor groups without `ami:`
 *   nodes    aws_launch_template.<group> per gVisor group;
 *            eks_nodegroup.<group> per group
 *   control  eks_cluster.main; eks_access_entry.admin_<i> per access.admins
 *   then the Kubernetes objects (sf_cluster_lower_k8s).
 *
 * Parallelism falls out of the references: the cluster needs only the
 * cluster role, the subnets and the security group, so it is created while
 * the AMI bakes (which needs a public subnet, the route to the internet and
 * the builder profile) and while the node role is set up.  Launch templates
 * wait for the cluster (endpoint and CA in the user data) and their AMI;
 * node groups for the cluster, the node role and their template.
 *
 * Choices (documented in the README):
 *   - AZ names are deterministic: <region>a, <region>b, ... taken from
 *     metadata.region (else AWS_REGION / AWS_DEFAULT_REGION at plan time),
 *     so plans never need AWS.  Subnets split the VPC CIDR in 2 x AZ equal
 *     blocks: public first, then private.
 *   - No NAT gateway: node groups and the AMI builder run in the public
 *     subnets (public IPs on launch); private subnets hold the control-plane
 *     ENIs and internal load balancers.
 *   - runc groups use the EKS AL2023 AMI type directly (no template);
 *     gVisor groups get a launch template with the baked (or given) AMI.
 *   - The launch template's user data is rendered here with placeholders
 *     replaced by ${eks_cluster.main.endpoint} / ${eks_cluster.main.ca_data},
 *     so `plan` shows the real user data diff once the cluster exists.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster.h"
#include "provisioner/node/render.h"
#include "resources/types.h"
#include "util.h"

static const struct sf_rtype *T(const char *name)
{
	return sf_rtype_find(name);
}

static json_t *ref(const char *addr, const char *attr)
{
	char *s = xasprintf("${%s.%s}", addr, attr);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static void add(struct sf_config *c, const char *type, const char *name, json_t *conf, const struct sf_pos *pos,
		const char *dep)
{
	struct sf_rinst *r = sf_config_add(c, T(type), name, conf, pos);
	if (dep)
		sf_rinst_add_dep(r, dep);
	json_decref(conf);
}

static json_t *policies(const char *const *p)
{
	json_t *a = json_array();
	for (; *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

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

/* User data with references to the cluster's endpoint and CA. Owned or NULL. */
static char *user_data(const json_t *cl, const json_t *ng, struct sf_err *err)
{
	struct sf_node_render_in in;
	struct sf_kv *labels = NULL;
	struct sf_taint *taints = NULL;
	sf_cluster_render_in(cl, ng, SF_PENDING_ENDPOINT, SF_PENDING_CA, 0, &in, &labels, &taints);
	struct sf_buf b = SF_BUF_INIT;
	int rc = sf_render_user_data(&in, &b, err);
	free(labels);
	free(taints);
	if (rc < 0) {
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

static const char *region_of(const json_t *md)
{
	const char *r = json_string_value(json_object_get(md, "region"));
	if (!r || !*r)
		r = getenv("AWS_REGION");
	if (!r || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	return r && *r ? r : NULL;
}

/* The i-th of 2^newbits equal blocks of net/bits. */
static char *subnet_cidr(uint32_t net, int bits, int newbits, int i)
{
	int nb = bits + newbits;
	uint32_t n = net | ((uint32_t)i << (32 - nb));
	return xasprintf("%u.%u.%u.%u/%d", n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255, nb);
}

static int is_gvisor(const json_t *ng)
{
	const char *rt = json_string_value(json_object_get(ng, "runtime"));
	return rt && !strcmp(rt, "gvisor");
}

static const char *ng_arch(const json_t *ng)
{
	const char *a = json_string_value(json_object_get(ng, "arch"));
	return a && (!strcmp(a, "arm64") || !strcmp(a, "aarch64")) ? "arm64" : "x86_64";
}

/* Resource names allow [a-z0-9_-]; node group names are DNS labels. */
static char *rname(const char *prefix, const char *s)
{
	return xasprintf("%s%s", prefix, s);
}

void sf_cluster_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	json_t *cl = sf_cluster_normalize(doc);
	const json_t *md = json_object_get(cl, "metadata"), *spec = json_object_get(cl, "spec");
	const json_t *net = json_object_get(spec, "network");
	const char *name = json_string_value(json_object_get(md, "name"));
	const struct sf_pos *pos = &doc->root->pos;
	const struct sf_node *spec_node = sf_node_get(doc->root, "spec");
	const struct sf_node *ngs_node = sf_node_get(spec_node, "nodeGroups");
	const char *region = region_of(md);
	uint32_t vnet = 0;
	int vbits = 0;
	if (!name || !json_is_object(spec))
		goto done;
	if (!region) {
		sf_diag_error(d, pos, "metadata.region: a Cluster needs a region (set metadata.region, or AWS_REGION)");
		goto done;
	}
	if (sf_parse_cidr(json_string_value(json_object_get(net, "cidr")), &vnet, &vbits) != 0)
		goto done; /* the schema reported it */

	/* tags every AWS object carries */
	json_t *tags = json_object();
	if (json_is_object(json_object_get(md, "tags")))
		json_object_update(tags, json_object_get(md, "tags"));
	char *owned_key = xasprintf("kubernetes.io/cluster/%s", name);
	json_object_set_new(tags, owned_key, json_string("owned"));

	const json_t *ngs = json_object_get(spec, "nodeGroups");
	int bakes_x86 = 0, bakes_arm = 0;
	size_t i;
	json_t *ng;
	json_array_foreach(ngs, i, ng) if (is_gvisor(ng) && !json_object_get(ng, "ami"))
	{
		if (!strcmp(ng_arch(ng), "arm64"))
			bakes_arm = 1;
		else
			bakes_x86 = 1;
	}

	/* ---- IAM ---- */
	char *n;
	static const char *const cluster_pol[] = {"AmazonEKSClusterPolicy", NULL};
	static const char *const node_pol[] = {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
					      "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore", NULL};
	static const char *const builder_pol[] = {"AmazonSSMManagedInstanceCore", NULL};
	/* "service" is the IAM service principal the role trusts (a policy
	 * name, not an endpoint). */
	n = xasprintf("%s-cluster", name);
	add(c, "aws_iam_role", "cluster",
	    json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", "eks.amazonaws.com", "policy_arns",
		      policies(cluster_pol), "tags", tags),
	    pos, NULL);
	free(n);
	n = xasprintf("%s-node", name);
	add(c, "aws_iam_role", "node",
	    json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", "ec2.amazonaws.com", "policy_arns", policies(node_pol),
		      "tags", tags),
	    pos, NULL);
	free(n);
	if (bakes_x86 || bakes_arm) {
		n = xasprintf("%s-ami-builder", name);
		add(c, "aws_iam_role", "ami_builder",
		    json_pack("{s:s, s:s, s:o, s:O*}", "name", n, "service", "ec2.amazonaws.com", "policy_arns",
			      policies(builder_pol), "tags", tags),
		    pos, NULL);
		add(c, "aws_iam_instance_profile", "ami_builder",
		    json_pack("{s:s, s:o}", "name", n, "role", ref("aws_iam_role.ami_builder", "name")), pos, NULL);
		free(n);
	}

	/* ---- network ---- */
	add(c, "aws_vpc", "main",
	    json_pack("{s:O*, s:s, s:O*}", "cidr_block", json_object_get(net, "cidr"), "cluster_name", name, "tags", tags),
	    pos, NULL);
	int naz = (int)json_integer_value(json_object_get(net, "availabilityZones"));
	if (naz < 2)
		naz = 2;
	int newbits = 0;
	while ((1 << newbits) < 2 * naz)
		newbits++;
	json_t *pub = json_array(), *priv = json_array(), *pub_ids = json_array(), *priv_ids = json_array();
	for (int z = 0; z < naz; z++) {
		char az[64];
		snprintf(az, sizeof az, "%s%c", region, 'a' + z);
		for (int p = 0; p < 2; p++) {
			char *sn = xasprintf("%s_%c", p == 0 ? "public" : "private", 'a' + z);
			char *cidr = subnet_cidr(vnet, vbits, newbits, p == 0 ? z : naz + z);
			json_t *st = json_deep_copy(tags);
			json_object_set_new(st, p == 0 ? "kubernetes.io/role/elb" : "kubernetes.io/role/internal-elb",
					    json_string("1"));
			char *nm = xasprintf("%s-%s-%c", name, p == 0 ? "public" : "private", 'a' + z);
			json_object_set_new(st, "Name", json_string(nm));
			free(nm);
			add(c, "aws_subnet", sn,
			    json_pack("{s:o, s:s, s:s, s:b, s:o}", "vpc_id", ref("aws_vpc.main", "id"), "cidr_block", cidr,
				      "availability_zone", az, "public", p == 0, "tags", st),
			    pos, NULL);
			char *addr = xasprintf("aws_subnet.%s", sn);
			json_array_append_new(p == 0 ? pub : priv, json_string(addr));
			json_array_append_new(p == 0 ? pub_ids : priv_ids, ref(addr, "id"));
			free(addr);
			free(cidr);
			free(sn);
		}
	}
	add(c, "aws_internet_gateway", "main", json_pack("{s:o, s:O*}", "vpc_id", ref("aws_vpc.main", "id"), "tags", tags),
	    pos, NULL);
	add(c, "aws_route_table", "public",
	    json_pack("{s:o, s:o, s:O*, s:O*}", "vpc_id", ref("aws_vpc.main", "id"), "gateway_id",
		      ref("aws_internet_gateway.main", "id"), "subnet_ids", pub_ids, "tags", tags),
	    pos, NULL);
	add(c, "aws_route_table", "private",
	    json_pack("{s:o, s:O*, s:O*}", "vpc_id", ref("aws_vpc.main", "id"), "subnet_ids", priv_ids, "tags", tags), pos,
	    NULL);
	n = xasprintf("%s-cluster-shared", name);
	add(c, "aws_security_group", "cluster",
	    json_pack("{s:o, s:s, s:s, s:b, s:O*}", "vpc_id", ref("aws_vpc.main", "id"), "name", n, "description",
		      "secfaas: control plane and nodes of the cluster", "self_ingress", 1, "tags", tags),
	    pos, NULL);
	free(n);

	/* ---- EKS control plane ---- */
	const char *access = json_string_value(json_object_get(net, "endpointAccess"));
	json_t *all_ids = json_array();
	json_array_extend(all_ids, priv_ids);
	json_array_extend(all_ids, pub_ids);
	json_t *ekc = json_pack("{s:s, s:O*, s:o, s:O*, s:[o], s:b, s:b, s:O*, s:O*}", "name", name, "version",
				json_object_get(spec, "kubernetesVersion"), "role_arn", ref("aws_iam_role.cluster", "arn"),
				"subnet_ids", all_ids, "security_group_ids", ref("aws_security_group.cluster", "id"),
				"endpoint_public", access && strcmp(access, "private") != 0, "endpoint_private",
				access && strcmp(access, "public") != 0, "service_cidr",
				json_object_get(net, "serviceCidr"), "tags", tags);
	if (json_is_array(json_object_get(net, "publicAccessCidrs")))
		json_object_set(ekc, "public_access_cidrs", json_object_get(net, "publicAccessCidrs"));
	if (json_is_array(json_object_get(spec, "logging")))
		json_object_set(ekc, "logging", json_object_get(spec, "logging"));
	const char *auth = json_string_value(json_object_get(json_object_get(spec, "access"), "authenticationMode"));
	if (auth)
		json_object_set_new(ekc, "authentication_mode", json_string(auth));
	json_decref(all_ids);
	add(c, "eks_cluster", "main", ekc, spec_node ? &spec_node->pos : pos, NULL);

	/* ---- access entries: extra cluster admins ---- */
	const json_t *admins = json_object_get(json_object_get(spec, "access"), "admins");
	json_array_foreach(admins, i, ng)
	{
		if (!json_is_string(ng))
			continue;
		char *an = xasprintf("admin_%zu", i);
		add(c, "eks_access_entry", an,
		    json_pack("{s:o, s:O, s:s, s:O*}", "cluster_name", ref("eks_cluster.main", "name"), "principal_arn", ng,
			      "policy", "AmazonEKSClusterAdminPolicy", "tags", tags),
		    pos, NULL);
		free(an);
	}

	/* ---- gVisor images ---- */
	const json_t *gv = json_object_get(spec, "gvisor");
	for (int k = 0; k < 2; k++) {
		if (!(k == 0 ? bakes_x86 : bakes_arm))
			continue;
		json_t *ac = json_pack("{s:O*, s:s, s:O*, s:O*, s:o, s:o, s:O*}", "kubernetes_version",
				       json_object_get(spec, "kubernetesVersion"), "arch", k == 0 ? "x86_64" : "arm64",
				       "gvisor_release", json_object_get(gv, "release"), "platform",
				       json_object_get(gv, "platform"), "builder_subnet_id", ref("aws_subnet.public_a", "id"),
				       "builder_instance_profile", ref("aws_iam_instance_profile.ami_builder", "name"),
				       "tags", tags);
		if (json_object_get(gv, "sha512"))
			json_object_set(ac, "sha512", json_object_get(gv, "sha512"));
		if (json_object_get(gv, "mirror"))
			json_object_set(ac, "mirror", json_object_get(gv, "mirror"));
		/* the builder downloads the release: it needs the route out */
		add(c, "aws_gvisor_ami", k == 0 ? "gvisor_x86_64" : "gvisor_arm64", ac, pos, "aws_route_table.public");
	}

	/* ---- node groups ---- */
	json_array_foreach(ngs, i, ng)
	{
		const char *g = json_string_value(json_object_get(ng, "name"));
		const struct sf_node *gn = ngs_node && i < ngs_node->n ? ngs_node->vals[i] : NULL;
		const struct sf_pos *gp = gn ? &gn->pos : pos;
		const json_t *sc = json_object_get(ng, "scaling");
		json_t *ngc = json_pack("{s:o, s:s, s:o, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*}", "cluster_name",
					ref("eks_cluster.main", "name"), "name", g, "node_role_arn",
					ref("aws_iam_role.node", "arn"), "subnet_ids", pub_ids, "instance_types",
					json_object_get(ng, "instanceTypes"), "capacity_type",
					json_object_get(ng, "capacityType"), "min_size", json_object_get(sc, "min"),
					"max_size", json_object_get(sc, "max"), "desired_size", json_object_get(sc, "desired"),
					"labels", json_object_get(ng, "labels"), "taints", json_object_get(ng, "taints"),
					"tags", tags);
		if (json_is_object(json_object_get(ng, "updateConfig")))
			json_object_set(ngc, "update_config", json_object_get(ng, "updateConfig"));
		if (is_gvisor(ng)) {
			struct sf_err err = SF_ERR_INIT;
			char *ud = user_data(cl, ng, &err);
			if (!ud) {
				sf_diag_error(d, gp, "nodeGroups[%zu] (%s): cannot render user data: %s", i, g, err.msg);
				json_decref(ngc);
				continue;
			}
			char *ltname = rname("", g);
			char *lt_addr = xasprintf("aws_launch_template.%s", ltname);
			char *ami_addr = xasprintf("aws_gvisor_ami.gvisor_%s", ng_arch(ng));
			json_t *image = json_object_get(ng, "ami") ? json_incref(json_object_get(ng, "ami"))
								    : ref(ami_addr, "id");
			char *tn = xasprintf("%s-%s", name, g);
			json_t *ltags = json_deep_copy(tags);
			json_object_set_new(ltags, "eks:nodegroup-name", json_string(g));
			json_t *ltc = json_pack("{s:s, s:O*, s:s, s:O*, s:i, s:o}", "name", tn, "image_id", image, "user_data",
						ud, "disk_size", json_object_get(ng, "diskSize"), "hop_limit", 2, "tags", ltags);
			if (json_object_get(ng, "ami")) {
				/* a given image is checked before the template uses it */
				const struct sf_node *an = gn ? sf_node_get(gn, "ami") : NULL;
				char *where = an ? xasprintf("%s:%d:%d", an->pos.file ? an->pos.file : "", an->pos.line,
							     an->pos.col)
						 : xstrdup(g);
				json_object_set_new(ltc, "image_check",
						    json_pack("{s:s, s:O*, s:s}", "arch", ng_arch(ng), "gvisor_release",
							      json_object_get(gv, "release"), "where", where));
				free(where);
			}
			add(c, "aws_launch_template", ltname, ltc, gp, NULL);
			json_object_set_new(ngc, "launch_template_id", ref(lt_addr, "id"));
			json_object_set_new(ngc, "launch_template_version", ref(lt_addr, "latest_version"));
			json_object_set(ngc, "launch_template_image_id", image);
			json_object_set_new(ngc, "launch_template_user_data", ref(lt_addr, "user_data"));
			json_decref(image);
			free(tn);
			free(ami_addr);
			free(lt_addr);
			free(ltname);
			free(ud);
		} else {
			json_object_set_new(ngc, "ami_type", json_string(!strcmp(ng_arch(ng), "arm64")
										 ? "AL2023_ARM_64_STANDARD"
										 : "AL2023_x86_64_STANDARD"));
			json_object_set(ngc, "disk_size", json_object_get(ng, "diskSize"));
		}
		char *rn = rname("", g);
		add(c, "eks_nodegroup", rn, ngc, gp, NULL);
		free(rn);
	}
	json_decref(pub);
	json_decref(priv);
	json_decref(pub_ids);
	json_decref(priv_ids);
	free(owned_key);
	json_decref(tags);

	sf_cluster_lower_k8s(cl, c, d);
done:
	json_decref(cl);
}
