/*
 * cluster_spec.c - a validated Cluster document → normalised JSON with every
 * default spelled out, the single source the lowering, `render` and `bake`
 * read, so they agree on labels, taints, CIDRs and platform.
 */
#include <string.h>

#include "provisioner/kinds/cluster.h"
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

json_t *sf_cluster_normalize(const struct sf_doc *doc)
{
	const struct sf_node *spec = sf_node_get(doc->root, "spec");
	json_t *s = sf_schema_to_json(sf_cluster_schema(), spec);
	if (!s)
		s = json_object();
	json_t *md = sf_node_to_json(sf_node_get(doc->root, "metadata"));
	json_t *net = ensure_obj(s, "network");
	setdef(net, "availabilityZones", json_integer(3));
	setdef(net, "endpointAccess", json_string("public"));
	setdef(net, "serviceCidr", json_string(SF_DEFAULT_SERVICE_CIDR));
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
	}
	json_t *out = json_pack("{s:o, s:o}", "metadata", md, "spec", s);
	return out;
}

const json_t *sf_cluster_nodegroup(const json_t *cluster, const char *name)
{
	size_t i;
	json_t *ng;
	json_array_foreach(json_object_get(json_object_get(cluster, "spec"), "nodeGroups"), i, ng)
	{
		const char *n = json_string_value(json_object_get(ng, "name"));
		if (n && !strcmp(n, name))
			return ng;
	}
	return NULL;
}

void sf_cluster_render_in(const json_t *cluster, const json_t *ng, const char *endpoint, const char *ca_b64,
			  int containerd_major, struct sf_node_render_in *in, struct sf_kv **labels,
			  struct sf_taint **taints)
{
	const json_t *spec = json_object_get(cluster, "spec");
	const json_t *lj = json_object_get(ng, "labels"), *tj = json_object_get(ng, "taints");
	memset(in, 0, sizeof *in);
	in->cluster_name = json_string_value(json_object_get(json_object_get(cluster, "metadata"), "name"));
	in->api_endpoint = endpoint ? endpoint : SF_PENDING_ENDPOINT;
	in->ca_b64 = ca_b64 ? ca_b64 : SF_PENDING_CA;
	in->service_cidr = json_string_value(json_object_get(json_object_get(spec, "network"), "serviceCidr"));
	in->node_group = json_string_value(json_object_get(ng, "name"));
	in->containerd_major = containerd_major;
	const json_t *gv = json_object_get(spec, "gvisor");
	in->platform = json_is_object(gv) ? json_string_value(json_object_get(gv, "platform")) : "systrap";
	in->gvisor_release = json_is_object(gv) ? json_string_value(json_object_get(gv, "release")) : NULL;
	*labels = xcalloc(json_object_size(lj) + 1, sizeof **labels);
	*taints = xcalloc(json_array_size(tj) + 1, sizeof **taints);
	const char *k;
	json_t *v;
	size_t n = 0;
	json_object_foreach((json_t *)lj, k, v)
	{
		(*labels)[n].key = k;
		(*labels)[n].value = json_string_value(v) ? json_string_value(v) : "";
		n++;
	}
	in->labels = *labels;
	in->n_labels = n;
	size_t i;
	n = 0;
	json_array_foreach(tj, i, v)
	{
		(*taints)[n].key = json_string_value(json_object_get(v, "key"));
		(*taints)[n].value = json_string_value(json_object_get(v, "value"));
		(*taints)[n].effect = json_string_value(json_object_get(v, "effect"));
		n++;
	}
	in->taints = *taints;
	in->n_taints = n;
}
