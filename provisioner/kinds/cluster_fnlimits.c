/*
 * cluster_fnlimits.c - the ResourceQuota and LimitRange of openfaas-fn
 * from openfaas.functionLimits (see lower_k8s.h), built as JSON objects:
 * the quantities from the spec are values, never manifest text.
 *
 * ResourceQuota secfaas-functions bounds what all tenants together take:
 * pods, limits.cpu, limits.memory.  LimitRange secfaas-functions gives
 * every container a default limit and request (so the quota can count a
 * pod whose author set none) and a per-container maximum.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/lower_k8s.h"
#include "util.h"

/* The default of every functionLimits field (also in the schema docs). */
static const char *const DEFAULTS[][2] = {
	{"pods", "100"},         {"cpu", "32"},           {"memory", "64Gi"},     {"maxCpu", "2"},
	{"maxMemory", "4Gi"},    {"defaultCpu", "500m"},  {"defaultMemory", "256Mi"}, {"defaultRequestCpu", "50m"},
	{"defaultRequestMemory", "64Mi"},
};

static const char *val(const json_t *lim, const char *k)
{
	const json_t *v = json_object_get(lim, k);
	if (json_is_string(v))
		return json_string_value(v);
	for (size_t i = 0; i < SF_ARRAY_LEN(DEFAULTS); i++)
		if (!strcmp(DEFAULTS[i][0], k))
			return DEFAULTS[i][1];
	return NULL;
}

static json_t *object(const char *kind)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}}", "apiVersion", "v1", "kind", kind, "metadata", "name",
			 "secfaas-functions", "namespace", "openfaas-fn", "labels", "app.kubernetes.io/managed-by", "secfaas");
}

json_t *sf_k8s_function_limits(const json_t *cluster)
{
	const json_t *lim = json_object_get(json_object_get(json_object_get(cluster, "spec"), "openfaas"), "functionLimits");
	const json_t *pods = json_object_get(lim, "pods");
	char *npods = json_is_integer(pods) ? xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(pods)) : xstrdup(val(lim, "pods"));
	json_t *q = object("ResourceQuota");
	json_object_set_new(q, "spec", json_pack("{s:{s:s, s:s, s:s}}", "hard", "pods", npods, "limits.cpu",
						 val(lim, "cpu"), "limits.memory", val(lim, "memory")));
	free(npods);
	json_t *lr = object("LimitRange");
	json_object_set_new(lr, "spec",
			    json_pack("{s:[{s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}]}", "limits", "type", "Container",
				      "default", "cpu", val(lim, "defaultCpu"), "memory", val(lim, "defaultMemory"),
				      "defaultRequest", "cpu", val(lim, "defaultRequestCpu"), "memory",
				      val(lim, "defaultRequestMemory"), "max", "cpu", val(lim, "maxCpu"), "memory",
				      val(lim, "maxMemory")));
	return json_pack("[o, o]", q, lr);
}
