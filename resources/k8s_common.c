/* k8s_common.c - helpers shared by the k8s_* resource types (types_k8s.h). */
#include <string.h>

#include "kube/kube.h"
#include "resources/kube_cache.h"
#include "resources/types_k8s.h"

struct sf_kube *sf_k8s_client(struct sf_rctx *c, const json_t *attrs)
{
	struct sf_kube_conn conn;
	sf_kube_conn_from_attrs(&conn, attrs);
	return sf_kube_for(c->provider, &conn, c->err);
}

static void progress_thunk(void *ctx, const char *status)
{
	struct sf_rctx *c = ctx;
	if (c->progress)
		c->progress(c, status);
}

void sf_k8s_wait_opts(struct sf_rctx *c, struct sf_kube_wait *w, double default_timeout_s)
{
	memset(w, 0, sizeof *w);
	w->timeout_s = c->timeout_s > 0 ? c->timeout_s : default_timeout_s;
	/* an object of the cluster's own API is usually ready within a
	 * second (a namespace, a CRD, a small rollout): look again soon,
	 * then every half second */
	w->first_interval_s = 0.05;
	w->interval_s = 0.5;
	w->cancel = c->cancel;
	w->progress = progress_thunk;
	w->ctx = c;
}

void sf_k8s_copy_conn(json_t *dst, const json_t *src)
{
	static const char *const keys[] = {"endpoint", "ca_data", "cluster_name", "token"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t *v = json_object_get(src, keys[i]);
		if (v)
			json_object_set(dst, keys[i], v);
	}
}
