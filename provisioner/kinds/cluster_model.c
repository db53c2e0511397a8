/*
 * cluster_model.c - a validated Cluster document → the typed model (see
 * cluster.h): first normalised JSON with every default spelled out, then
 * the C structs over it.  The single source lowering, `render` and `bake`
 * read, so they agree on labels, taints, CIDRs, platform and which groups
 * run gVisor.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/cluster.h"
#include "provisioner/node/gvisor_pins.h"
#include "provisioner/node/render.h"
#include "util.h"

static void setdef(json_t *o, const char *k, json_t *v)
{
	if (!json_object_get(o, k))
		json_object_set_new(o, k, v);
	else
		json_decref(v);
}

static json_t *ensure_obj(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, k, v);
	}
	return v;
}

static void add_sandbox_taint(json_t *ng)
{
	json_t *taints = json_object_get(ng, "taints");
	if (!json_is_array(taints)) {
		taints = json_array();
		json_object_set_new(ng, "taints", taints);
	}
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t)
	{
		const char *k = json_string_value(json_object_get(t, "key"));
		if (k && !strcmp(k, SF_SANDBOX_KEY))
			return; /* the user's own taint on the key wins */
	}
	json_array_append_new(taints, json_pack("{s:s, s:s, s:s}", "key", SF_SANDBOX_KEY, "value", SF_SANDBOX_VALUE,
						"effect", SF_SANDBOX_EFFECT));
}

static json_t *normalize(const struct sf_doc *doc)
{
	const struct sf_node *spec = sf_node_get(doc->root, "spec");
	json_t *s = sf_schema_to_json(sf_cluster_schema(), spec);
	if (!s)
		s = json_object();
	json_t *md = sf_node_to_json(sf_node_get(doc->root, "metadata"));
	json_t *net = ensure_obj(s, "network");
	int given = json_is_string(json_object_get(net, "vpcId"));
	if (!given) /* a given VPC's subnets decide its zones and way out */
		setdef(net, "availabilityZones", json_integer(3));
	setdef(net, "endpointAccess", json_string("public"));
	setdef(net, "serviceCidr", json_string(SF_DEFAULT_SERVICE_CIDR));
	setdef(net, "nodeSubnets", json_string("private"));
	if (!given) {
		/* NAT exists for private nodes; public nodes leave through the
		 * internet gateway, so by default they get none (an explicit nat
		 * still builds one, for whatever else runs in the private subnets). */
		const char *ns = json_string_value(json_object_get(net, "nodeSubnets"));
		setdef(net, "nat", json_string(ns && !strcmp(ns, "public") ? "none" : "single"));
	} else {
		json_t *subs = ensure_obj(net, "subnets");
		setdef(subs, "private", json_array());
		setdef(subs, "public", json_array());
	}
	json_t *gv = json_object_get(s, "gvisor");
	if (json_is_object(gv))
		setdef(gv, "platform", json_string("systrap"));
	json_t *access = ensure_obj(s, "access");
	setdef(access, "authenticationMode", json_string("API"));
	json_t *ngs = json_object_get(s, "nodeGroups");
	size_t i;
	json_t *ng;
	json_array_foreach(ngs, i, ng)
	{
		setdef(ng, "runtime", json_string("runc"));
		setdef(ng, "capacityType", json_string("ON_DEMAND"));
		setdef(ng, "diskSize", json_integer(20));
		setdef(ensure_obj(ng, "metadata"), "hopLimit", json_integer(1));
		json_t *sc = ensure_obj(ng, "scaling");
		setdef(sc, "desired", json_incref(json_object_get(sc, "min")));
		const char *arch = "x86_64";
		json_t *it = json_array_get(json_object_get(ng, "instanceTypes"), 0);
		if (json_is_string(it))
			sf_instance_type_arch(json_string_value(it), &arch);
		setdef(ng, "arch", json_string(arch));
		ensure_obj(ng, "labels");
		if (!json_is_array(json_object_get(ng, "taints")))
			json_object_set_new(ng, "taints", json_array());
		if (!strcmp(json_string_value(json_object_get(ng, "runtime")), "gvisor")) {
			json_t *labels = json_object_get(ng, "labels");
			setdef(labels, SF_SANDBOX_KEY, json_string(SF_SANDBOX_VALUE));
			add_sandbox_taint(ng);
		}
	}
	json_t *of = json_object_get(s, "openfaas");
	if (json_is_object(of)) {
		setdef(of, "enabled", json_true());
		setdef(of, "acceptLicense", json_false());
		setdef(of, "gatewayService", json_string("NodePort"));
		setdef(of, "functionEgress", json_string("none"));
	}
	json_t *out = json_pack("{s:o, s:o}", "metadata", md, "spec", s);
	return out;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *region_of(const json_t *md)
{
	const char *r = str(md, "region");
	if (!r || !*r)
		r = getenv("AWS_REGION");
	if (!r || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	return r && *r ? r : NULL;
}

static const json_t *opt(const json_t *o, const char *k, int (*is)(const json_t *))
{
	const json_t *v = json_object_get(o, k);
	return v && is(v) ? v : NULL;
}

static int is_array(const json_t *v)
{
	return json_is_array(v);
}

static int is_object(const json_t *v)
{
	return json_is_object(v);
}

static void load_group(struct sf_nodegroup *g, const json_t *ng, const struct sf_node *node)
{
	const json_t *sc = json_object_get(ng, "scaling");
	const char *rt = str(ng, "runtime"), *arch = str(ng, "arch");
	g->name = str(ng, "name");
	g->runtime = rt && !strcmp(rt, "gvisor") ? SF_RUNTIME_GVISOR : SF_RUNTIME_RUNC;
	g->arch = arch && (!strcmp(arch, "arm64") || !strcmp(arch, "aarch64")) ? "arm64" : "x86_64";
	g->capacity_type = str(ng, "capacityType");
	g->ami = str(ng, "ami");
	g->bakes = g->runtime == SF_RUNTIME_GVISOR && !g->ami;
	g->disk_size = json_integer_value(json_object_get(ng, "diskSize"));
	g->hop_limit = json_integer_value(json_object_get(json_object_get(ng, "metadata"), "hopLimit"));
	g->min = json_integer_value(json_object_get(sc, "min"));
	g->max = json_integer_value(json_object_get(sc, "max"));
	g->desired = json_integer_value(json_object_get(sc, "desired"));
	g->instance_types = json_object_get(ng, "instanceTypes");
	g->labels_json = json_object_get(ng, "labels");
	g->taints_json = json_object_get(ng, "taints");
	g->update_config = opt(ng, "updateConfig", is_object);
	g->kubernetes_version = str(ng, "kubernetesVersion");
	g->release_version = str(ng, "releaseVersion");
	g->node = node;
	g->labels = xcalloc(json_object_size(g->labels_json) + 1, sizeof *g->labels);
	g->taints = xcalloc(json_array_size(g->taints_json) + 1, sizeof *g->taints);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)g->labels_json, k, v)
	{
		g->labels[g->n_labels].key = k;
		g->labels[g->n_labels].value = json_string_value(v) ? json_string_value(v) : "";
		g->n_labels++;
	}
	size_t i;
	json_array_foreach(g->taints_json, i, v)
	{
		g->taints[g->n_taints].key = str(v, "key");
		g->taints[g->n_taints].value = str(v, "value");
		g->taints[g->n_taints].effect = str(v, "effect");
		g->n_taints++;
	}
}

const struct sf_doc *sf_cluster_doc(const struct sf_specset *set, const char *workspace)
{
	for (size_t i = 0; workspace && i < set->n; i++) {
		const struct sf_doc *d = &set->docs[i];
		const char *kind = sf_node_str(sf_node_get(d->root, "kind"));
		const char *name = sf_node_str(sf_node_get(sf_node_get(d->root, "metadata"), "name"));
		if (kind && !strcmp(kind, "Cluster") && name && !strcmp(name, workspace))
			return d;
	}
	return NULL;
}

int sf_cluster_load(struct sf_cluster *out, const struct sf_doc *doc)
{
	memset(out, 0, sizeof *out);
	out->doc = doc;
	out->json = normalize(doc);
	const json_t *md = json_object_get(out->json, "metadata"), *spec = json_object_get(out->json, "spec");
	const json_t *net = json_object_get(spec, "network"), *gv = json_object_get(spec, "gvisor");
	out->name = str(md, "name");
	out->region = region_of(md);
	out->user_tags = opt(md, "tags", is_object);
	out->kubernetes_version = str(spec, "kubernetesVersion");
	out->network.cidr = str(net, "cidr");
	out->network.vpc_id = str(net, "vpcId");
	out->network.private_subnets = opt(json_object_get(net, "subnets"), "private", is_array);
	out->network.public_subnets = opt(json_object_get(net, "subnets"), "public", is_array);
	out->network.azs = (int)json_integer_value(json_object_get(net, "availabilityZones"));
	if (out->network.azs < 2)
		out->network.azs = 2;
	out->network.endpoint_access = str(net, "endpointAccess");
	out->network.public_access_cidrs = opt(net, "publicAccessCidrs", is_array);
	out->network.service_cidr = str(net, "serviceCidr");
	out->network.node_subnets = str(net, "nodeSubnets");
	out->network.nat = str(net, "nat");
	out->network.vpc_endpoints = opt(net, "vpcEndpoints", is_array);
	out->gvisor.set = json_is_object(gv);
	out->gvisor.release = str(gv, "release");
	out->gvisor.platform = out->gvisor.set ? str(gv, "platform") : "systrap";
	out->gvisor.sha512 = str(gv, "sha512");
	out->gvisor.mirror = str(gv, "mirror");
	out->auth_mode = str(json_object_get(spec, "access"), "authenticationMode");
	out->admins = opt(json_object_get(spec, "access"), "admins", is_array);
	out->logging = opt(spec, "logging", is_array);
	out->autoscaler = str(spec, "autoscaler");
	const json_t *ngs = json_object_get(spec, "nodeGroups");
	const struct sf_node *ngs_node = sf_node_get(sf_node_get(doc->root, "spec"), "nodeGroups");
	out->groups = xcalloc(json_array_size(ngs) + 1, sizeof *out->groups);
	size_t i;
	json_t *ng;
	json_array_foreach(ngs, i, ng)
	{
		struct sf_nodegroup *g = &out->groups[out->n_groups++];
		load_group(g, ng, ngs_node && i < ngs_node->n ? ngs_node->vals[i] : NULL);
		if (g->bakes && !strcmp(g->arch, "arm64"))
			out->bakes_arm64 = 1;
		else if (g->bakes)
			out->bakes_x86_64 = 1;
	}
	if (!out->name || !json_is_object(spec))
		return -1; /* validation reported it */
	if (out->network.vpc_id ? out->network.cidr != NULL
				: !out->network.cidr ||
					  sf_parse_cidr(out->network.cidr, &out->network.net, &out->network.bits) != 0)
		return -1;
	return 0;
}

void sf_cluster_release(struct sf_cluster *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_groups; i++) {
		free(c->groups[i].labels);
		free(c->groups[i].taints);
	}
	free(c->groups);
	json_decref(c->json);
	memset(c, 0, sizeof *c);
}

const struct sf_nodegroup *sf_cluster_group(const struct sf_cluster *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_groups; i++)
		if (c->groups[i].name && !strcmp(c->groups[i].name, name))
			return &c->groups[i];
	return NULL;
}

const char *sf_cluster_bake_arch(const struct sf_cluster *c)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i].runtime == SF_RUNTIME_GVISOR)
			return c->groups[i].arch;
	return "x86_64";
}

void sf_cluster_render_in(const struct sf_cluster *c, const struct sf_nodegroup *g, const char *endpoint,
			  const char *ca_b64, int containerd_major, struct sf_node_render_in *in)
{
	memset(in, 0, sizeof *in);
	in->cluster_name = c->name;
	in->api_endpoint = endpoint ? endpoint : SF_PENDING_ENDPOINT;
	in->ca_b64 = ca_b64 ? ca_b64 : SF_PENDING_CA;
	in->service_cidr = c->network.service_cidr;
	in->node_group = g->name;
	in->containerd_major = containerd_major;
	in->platform = c->gvisor.platform;
	in->gvisor_release = c->gvisor.release;
	in->labels = g->labels;
	in->n_labels = g->n_labels;
	in->taints = g->taints;
	in->n_taints = g->n_taints;
}

json_t *sf_cluster_image_attrs(const struct sf_cluster *c, const char *arch, const json_t *tags)
{
	json_t *a = json_pack("{s:s*, s:s, s:s*, s:s*}", "kubernetes_version", c->kubernetes_version, "arch", arch,
			      "gvisor_release", c->gvisor.release, "platform", c->gvisor.set ? c->gvisor.platform : NULL);
	/* Without a gvisor.sha512 the built-in table pins the release when it
	 * knows it (provisioner/node/gvisor_pins.h).  Lowered as attributes,
	 * not left to the bake script's rendering, so the plan shows the pin
	 * and an image baked before the release was pinned is replaced: it was
	 * checked only against the release's own .sha512 (docs/sandbox.md). */
	const struct sf_gvisor_pin *pin = c->gvisor.sha512 ? NULL : sf_gvisor_pin_find(c->gvisor.release, arch);
	if (c->gvisor.sha512)
		json_object_set_new(a, "sha512", json_string(c->gvisor.sha512));
	else if (pin) {
		json_object_set_new(a, "sha512", json_string(pin->sha512));
		json_object_set_new(a, "sha512_artifact", json_string(pin->artifact));
	}
	if (c->gvisor.mirror)
		json_object_set_new(a, "mirror", json_string(c->gvisor.mirror));
	if (tags)
		json_object_set(a, "tags", (json_t *)tags);
	return a;
}
