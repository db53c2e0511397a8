/* ops.c - discovery, paths, apply, get/list/delete, patches (see kube.h). */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "kube/internal.h"
#include "util.h"

/* The kinds secfaas applies or reads. Lower-case + "s" gets some wrong, so
 * they are listed, and anything else goes through discovery. */
static const struct {
	const char *gv, *kind, *plural;
	int namespaced;
} known[] = {
	{"v1", "ConfigMap", "configmaps", 1},
	{"v1", "Endpoints", "endpoints", 1},
	{"v1", "Event", "events", 1},
	{"v1", "Namespace", "namespaces", 0},
	{"v1", "Node", "nodes", 0},
	{"v1", "PersistentVolumeClaim", "persistentvolumeclaims", 1},
	{"v1", "Pod", "pods", 1},
	{"v1", "Secret", "secrets", 1},
	{"v1", "Service", "services", 1},
	{"v1", "ServiceAccount", "serviceaccounts", 1},
	{"apps/v1", "DaemonSet", "daemonsets", 1},
	{"apps/v1", "Deployment", "deployments", 1},
	{"apps/v1", "ReplicaSet", "replicasets", 1},
	{"apps/v1", "StatefulSet", "statefulsets", 1},
	{"node.k8s.io/v1", "RuntimeClass", "runtimeclasses", 0},
	{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", 0},
	{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", 0},
	{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", 0},
	{"rbac.authorization.k8s.io/v1", "Role", "roles", 1},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", 1},
	{"admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", 0},
	{"admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", 0},
	{"admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy", "mutatingadmissionpolicies", 0},
	{"admissionregistration.k8s.io/v1", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings", 0},
	{"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", 0},
	{"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", 0},
	{"networking.k8s.io/v1", "Ingress", "ingresses", 1},
	{"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", 1},
	{"policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", 1},
	{"scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", 0},
};

int sf_kube_static_resource(const char *api_version, const char *kind, const char **plural, int *namespaced)
{
	for (size_t i = 0; api_version && kind && i < SF_ARRAY_LEN(known); i++)
		if (!strcmp(known[i].gv, api_version) && !strcmp(known[i].kind, kind)) {
			*plural = known[i].plural;
			*namespaced = known[i].namespaced;
			return 0;
		}
	return SF_ENOTFOUND;
}

static char *gv_base(const char *gv)
{
	return strchr(gv, '/') ? xasprintf("/apis/%s", gv) : xasprintf("/api/%s", gv);
}

/* GET the APIResourceList of gv and find kind. 0, SF_ENOTFOUND, or error. */
static int discover(struct sf_kube *k, const char *gv, const char *kind, char **plural, int *namespaced,
		    struct sf_err *err)
{
	char *path = gv_base(gv);
	json_t *list = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = sf_kube_request(k, "GET", path, NULL, NULL, NULL, &list, &e);
	free(path);
	if (rc == SF_ENOTFOUND)
		return sf_fail(err, SF_ENOTFOUND, "the server does not serve %s (kind %s)", gv, kind);
	if (rc < 0) {
		if (err)
			*err = e;
		return rc;
	}
	rc = sf_fail(err, SF_ENOTFOUND, "the server serves %s but not kind %s (a CRD not yet established?)", gv, kind);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(list, "resources"), i, r)
	{
		const char *n = json_string_value(json_object_get(r, "name"));
		const char *kd = json_string_value(json_object_get(r, "kind"));
		if (n && kd && !strcmp(kd, kind) && !strchr(n, '/')) {
			*plural = xstrdup(n);
			*namespaced = json_is_true(json_object_get(r, "namespaced"));
			if (err)
				sf_err_clear(err);
			rc = 0;
			break;
		}
	}
	json_decref(list);
	return rc;
}

int sf_kube_resource(struct sf_kube *k, const char *api_version, const char *kind, char **plural, int *namespaced,
		     struct sf_err *err)
{
	const char *p;
	*plural = NULL;
	if (!api_version || !kind || !*api_version || !*kind)
		return sf_fail(err, SF_EINVAL, "object needs apiVersion and kind");
	if (sf_kube_static_resource(api_version, kind, &p, namespaced) == 0) {
		*plural = xstrdup(p);
		return 0;
	}
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < k->ndisc; i++)
		if (!strcmp(k->disc[i].gv, api_version) && !strcmp(k->disc[i].kind, kind)) {
			*plural = xstrdup(k->disc[i].plural);
			*namespaced = k->disc[i].namespaced;
		}
	pthread_mutex_unlock(&k->mu);
	if (*plural)
		return 0;
	int rc = discover(k, api_version, kind, plural, namespaced, err);
	if (rc == 0) {
		/* Cache only positive answers: a CRD's kind appears once it is established. */
		pthread_mutex_lock(&k->mu);
		k->disc = xrealloc(k->disc, (k->ndisc + 1) * sizeof *k->disc);
		k->disc[k->ndisc++] = (struct sf_kube_disc){xstrdup(api_version), xstrdup(kind), xstrdup(*plural),
							    *namespaced};
		pthread_mutex_unlock(&k->mu);
	}
	return rc;
}

int sf_kube_serves(struct sf_kube *k, const char *group_version, const char *kind)
{
	char *plural = NULL;
	int ns = 0;
	int rc = discover(k, group_version, kind, &plural, &ns, NULL);
	free(plural);
	return rc == 0;
}

int sf_kube_path(struct sf_kube *k, const char *api_version, const char *kind, const char *ns, const char *name,
		 char **out, struct sf_err *err)
{
	char *plural = NULL;
	int namespaced = 0;
	*out = NULL;
	int rc = sf_kube_resource(k, api_version, kind, &plural, &namespaced, err);
	if (rc < 0)
		return rc;
	char *base = gv_base(api_version);
	struct sf_buf b = SF_BUF_INIT;
	sf_buf_puts(&b, base);
	if (namespaced && ns && *ns) {
		sf_buf_puts(&b, "/namespaces/");
		sf_uri_encode(&b, ns, strlen(ns), 0);
	} else if (namespaced && name) {
		free(base);
		free(plural);
		sf_buf_release(&b);
		return sf_fail(err, SF_EINVAL, "%s %s needs metadata.namespace", kind, name);
	}
	sf_buf_printf(&b, "/%s", plural);
	if (name) {
		sf_buf_putc(&b, '/');
		sf_uri_encode(&b, name, strlen(name), 0);
	}
	*out = sf_buf_detach(&b);
	free(base);
	free(plural);
	return 0;
}

json_t *sf_kube_strip(const json_t *obj)
{
	json_t *o = json_deep_copy(obj);
	json_object_del(o, "status");
	json_t *md = json_object_get(o, "metadata");
	static const char *const drop[] = {"managedFields", "uid", "resourceVersion", "generation",
					   "creationTimestamp", "selfLink", "deletionTimestamp",
					   "deletionGracePeriodSeconds"};
	for (size_t i = 0; json_is_object(md) && i < SF_ARRAY_LEN(drop); i++)
		json_object_del(md, drop[i]);
	return o;
}

static const char *obj_str(const json_t *o, const char *a, const char *b)
{
	const json_t *x = json_object_get(o, a);
	return json_string_value(b ? json_object_get(x, b) : x);
}

int sf_kube_force_conflicts(void)
{
	const char *f = getenv("SECFAAS_FORCE_CONFLICTS");
	return f && *f && strcmp(f, "0") && strcmp(f, "false");
}

int sf_kube_apply(struct sf_kube *k, const json_t *obj, unsigned flags, json_t **out, struct sf_err *err)
{
	const char *av = obj_str(obj, "apiVersion", NULL), *kind = obj_str(obj, "kind", NULL);
	const char *name = obj_str(obj, "metadata", "name"), *ns = obj_str(obj, "metadata", "namespace");
	char *path = NULL, *body = NULL, *full = NULL;
	json_t *send = NULL;
	if (out)
		*out = NULL;
	if (!name || !*name)
		return sf_fail(err, SF_EINVAL, "%s object has no metadata.name", kind ? kind : "kubernetes");
	int rc = sf_kube_path(k, av, kind, ns, name, &path, err);
	if (rc < 0)
		return rc;
	send = sf_kube_strip(obj);
	body = json_dumps(send, JSON_COMPACT);
	full = xasprintf("%s?fieldManager=secfaas&fieldValidation=Strict%s%s", path,
			 (flags & SF_KUBE_FORCE) ? "&force=true" : "", (flags & SF_KUBE_DRYRUN) ? "&dryRun=All" : "");
	rc = sf_kube_request(k, "PATCH", full, "application/apply-patch+yaml", body, NULL, out, err);
	if (rc < 0)
		sf_err_prefix(err, "applying %s %s%s%s: ", kind, ns ? ns : "", ns ? "/" : "", name);
	free(full);
	free(body);
	free(path);
	json_decref(send);
	return rc;
}

int sf_kube_get(struct sf_kube *k, const char *api_version, const char *kind, const char *ns, const char *name,
		json_t **out, struct sf_err *err)
{
	char *path = NULL;
	*out = NULL;
	int rc = sf_kube_path(k, api_version, kind, ns, name, &path, err);
	if (rc == 0)
		rc = sf_kube_request(k, "GET", path, NULL, NULL, NULL, out, err);
	free(path);
	return rc;
}

int sf_kube_list(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
		 const char *label_selector, json_t **out, struct sf_err *err)
{
	char *path = NULL;
	*out = NULL;
	int rc = sf_kube_path(k, api_version, kind, ns, NULL, &path, err);
	if (rc < 0)
		return rc;
	struct sf_buf b = SF_BUF_INIT;
	sf_buf_puts(&b, path);
	if (label_selector && *label_selector) {
		sf_buf_puts(&b, "?labelSelector=");
		sf_uri_encode(&b, label_selector, strlen(label_selector), 0);
	}
	rc = sf_kube_request(k, "GET", sf_buf_cstr(&b), NULL, NULL, NULL, out, err);
	sf_buf_release(&b);
	free(path);
	return rc;
}

int sf_kube_delete(struct sf_kube *k, const char *api_version, const char *kind, const char *ns, const char *name,
		   const char *propagation, struct sf_err *err)
{
	return sf_kube_delete_gone(k, api_version, kind, ns, name, propagation, NULL, err);
}

int sf_kube_delete_gone(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
			const char *name, const char *propagation, int *gone, struct sf_err *err)
{
	char *path = NULL, *body = NULL;
	if (gone)
		*gone = 0;
	int rc = sf_kube_path(k, api_version, kind, ns, name, &path, err);
	if (rc < 0) {
		if (rc != SF_ENOTFOUND)
			return rc;
		if (err) /* kind no longer served (CRD gone): object gone too */
			sf_err_clear(err);
		if (gone)
			*gone = 1;
		return 0;
	}
	if (propagation)
		body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"propagationPolicy\":\"%s\"}",
				 propagation);
	struct sf_err e = SF_ERR_INIT;
	json_t *out = NULL;
	rc = sf_kube_request(k, "DELETE", path, body ? "application/json" : NULL, body, NULL, &out, &e);
	if (rc == SF_ENOTFOUND) {
		rc = 0;
		if (gone)
			*gone = 1;
	} else if (rc < 0 && err) {
		*err = e;
	} else if (rc == 0 && gone) {
		const char *k8s_kind = json_string_value(json_object_get(out, "kind"));
		const char *status = json_string_value(json_object_get(out, "status"));
		*gone = k8s_kind && status && !strcmp(k8s_kind, "Status") && !strcmp(status, "Success");
	}
	json_decref(out);
	free(body);
	free(path);
	return rc;
}

int sf_kube_delete_objects(struct sf_kube *k, const json_t *objs, struct sf_err *err)
{
	int rc = 0;
	for (size_t i = json_array_size(objs); rc == 0 && i-- > 0;) {
		const json_t *o = json_array_get(objs, i), *md = json_object_get(o, "metadata");
		rc = sf_kube_delete(k, json_string_value(json_object_get(o, "apiVersion")),
				    json_string_value(json_object_get(o, "kind")), json_string_value(json_object_get(md, "namespace")),
				    json_string_value(json_object_get(md, "name")), NULL, err);
	}
	return rc;
}

int sf_kube_merge_patch(struct sf_kube *k, const char *api_version, const char *kind, const char *ns,
			const char *name, const json_t *patch, json_t **out, struct sf_err *err)
{
	char *path = NULL;
	if (out)
		*out = NULL;
	int rc = sf_kube_path(k, api_version, kind, ns, name, &path, err);
	if (rc < 0)
		return rc;
	char *body = json_dumps(patch, JSON_COMPACT);
	rc = sf_kube_request(k, "PATCH", path, "application/merge-patch+json", body, NULL, out, err);
	free(body);
	free(path);
	return rc;
}

json_t *sf_kube_project(const json_t *m, const json_t *dry, const json_t *live)
{
	if (json_equal(dry, live))
		return json_deep_copy(m);
	if (json_is_object(m) && json_is_object(dry) && json_is_object(live)) {
		json_t *o = json_object();
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)m, key, v)
		{
			json_t *lv = json_object_get(live, key);
			if (!lv)
				continue; /* removed outside: absent in the projection */
			json_object_set_new(o, key, sf_kube_project(v, json_object_get(dry, key), lv));
		}
		return o;
	}
	if (json_is_array(m) && json_is_array(dry) && json_is_array(live) && json_array_size(m) == json_array_size(dry) &&
	    json_array_size(dry) == json_array_size(live)) {
		json_t *a = json_array();
		for (size_t i = 0; i < json_array_size(m); i++)
			json_array_append_new(a, sf_kube_project(json_array_get(m, i), json_array_get(dry, i),
								 json_array_get(live, i)));
		return a;
	}
	return live ? json_deep_copy(live) : json_null();
}
