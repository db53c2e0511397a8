/* providers.c - see providers.h. */
#include "resources/providers.h"

#include <string.h>

#include "aws/client.h"
#include "resources/aws_batch.h"

void sf_providers_init(struct sf_providers *p)
{
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	sf_memo_init(&p->own_memo);
	p->memo = &p->own_memo;
}

void sf_memo_init(struct sf_memo *m)
{
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->map = json_object();
	m->busy = json_object();
}

void sf_memo_release(struct sf_memo *m)
{
	json_decref(m->map);
	json_decref(m->busy);
	m->map = m->busy = NULL;
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
}

json_t *sf_memo_take(struct sf_memo *m, const char *key)
{
	pthread_mutex_lock(&m->mu);
	json_t *v;
	while (!(v = json_incref(json_object_get(m->map, key))) && json_object_get(m->busy, key))
		pthread_cond_wait(&m->cv, &m->mu);
	if (!v)
		json_object_set_new(m->busy, key, json_true());
	pthread_mutex_unlock(&m->mu);
	return v;
}

void sf_memo_fill(struct sf_memo *m, const char *key, json_t *value)
{
	pthread_mutex_lock(&m->mu);
	if (value)
		json_object_set(m->map, key, value);
	json_object_del(m->busy, key);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void sf_providers_release(struct sf_providers *p)
{
	if (!p)
		return;
	if (p->kube_release)
		p->kube_release(p);
	sf_aws_free(p->aws);
	json_decref(p->fresh);
	sf_memo_release(&p->own_memo);
	if (!p->reads_lent)
		ax_reads_free(p->reads);
	pthread_mutex_destroy(&p->mu);
	memset(p, 0, sizeof *p);
}

struct sf_aws *sf_providers_aws(struct sf_providers *p, struct sf_err *err)
{
	pthread_mutex_lock(&p->mu);
	if (!p->aws_tried) {
		p->aws_tried = 1;
		struct sf_aws_opts o = SF_AWS_OPTS_INIT;
		o.region = p->region;
		o.profile = p->profile;
		o.creds_share = p->creds_share;
		if (sf_aws_new(&p->aws, &o, &p->aws_err) < 0)
			p->aws = NULL;
	}
	struct sf_aws *c = p->aws;
	if (!c && err)
		*err = p->aws_err;
	pthread_mutex_unlock(&p->mu);
	return c;
}
