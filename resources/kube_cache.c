/* kube_cache.c - per-run Kubernetes clients in the providers slot (see kube_cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "resources/kube_cache.h"
#include "resources/providers.h"
#include "util.h"

struct cache_ent {
	char *key;
	struct sf_kube *k;
	struct cache_ent *next;        /* in the providers' list */
	struct cache_ent *gnext, *gprev; /* in the process-wide list */
};

/* Every live entry is also on a process-wide list, freed at exit, so a
 * command whose providers are released without sf_kube_cache_release()
 * does not leak the clients (and their tokens) past the run. */
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cache_ent *all_head;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void unlink_global(struct cache_ent *e)
{
	if (e->gprev)
		e->gprev->gnext = e->gnext;
	else
		all_head = e->gnext;
	if (e->gnext)
		e->gnext->gprev = e->gprev;
}

static void free_all_at_exit(void)
{
	pthread_mutex_lock(&all_mu);
	while (all_head) {
		struct cache_ent *e = all_head;
		unlink_global(e);
		sf_kube_free(e->k);
		free(e->key);
		free(e);
	}
	pthread_mutex_unlock(&all_mu);
}

static void register_atexit(void)
{
	atexit(free_all_at_exit);
}

static char *conn_key(const struct sf_kube_conn *c)
{
	char *raw = xasprintf("%s\n%s\n%s\n%s\n%s", c->endpoint ? c->endpoint : "", c->ca_b64 ? c->ca_b64 : "",
			      c->cluster ? c->cluster : "", c->role_arn ? c->role_arn : "", c->token ? c->token : "");
	char hex[65];
	sf_sha256_hex(hex, raw, strlen(raw));
	free(raw);
	return xstrdup(hex); /* the token never sits in memory twice as plain text */
}

void sf_kube_conn_from_attrs(struct sf_kube_conn *conn, const json_t *attrs)
{
	memset(conn, 0, sizeof *conn);
	conn->endpoint = json_string_value(json_object_get(attrs, "endpoint"));
	conn->ca_b64 = json_string_value(json_object_get(attrs, "ca_data"));
	conn->cluster = json_string_value(json_object_get(attrs, "cluster_name"));
	conn->token = json_string_value(json_object_get(attrs, "token"));
}

struct sf_kube *sf_kube_for(struct sf_providers *p, const struct sf_kube_conn *conn, struct sf_err *err)
{
	if (!p) {
		sf_fail(err, SF_ERROR, "no provider context for the kubernetes client");
		return NULL;
	}
	struct sf_aws *aws = NULL;
	if (!conn->token || !*conn->token) {
		/* Before taking p->mu: sf_providers_aws() locks it itself. */
		if (!(aws = sf_providers_aws(p, err)))
			return NULL;
	}
	char *key = conn_key(conn);
	struct sf_kube *k = NULL;
	pthread_mutex_lock(&p->mu);
	for (struct cache_ent *e = p->kube; e; e = e->next)
		if (!strcmp(e->key, key))
			k = e->k;
	struct sf_kube_token_source eks = {sf_eks_mint, aws};
	if (!k && sf_kube_new(&k, conn, aws ? &eks : NULL, err) == 0) {
		struct cache_ent *e = xcalloc(1, sizeof *e);
		e->key = key;
		key = NULL;
		e->k = k;
		e->next = p->kube;
		p->kube = e;
		p->kube_release = sf_kube_cache_release;
		pthread_once(&atexit_once, register_atexit);
		pthread_mutex_lock(&all_mu);
		e->gnext = all_head;
		if (all_head)
			all_head->gprev = e;
		all_head = e;
		pthread_mutex_unlock(&all_mu);
	}
	pthread_mutex_unlock(&p->mu);
	free(key);
	return k;
}

void sf_kube_cache_release(struct sf_providers *p)
{
	if (!p)
		return;
	struct cache_ent *e = p->kube;
	pthread_mutex_lock(&all_mu);
	for (struct cache_ent *x = e; x; x = x->next)
		unlink_global(x);
	pthread_mutex_unlock(&all_mu);
	while (e) {
		struct cache_ent *n = e->next;
		sf_kube_free(e->k);
		free(e->key);
		free(e);
		e = n;
	}
	p->kube = NULL;
}
