/* refresh.c - batched, parallel refresh reads (see refresh.h). */
#include "provisioner/engine/refresh.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/ownership.h"
#include "util.h"

/* n jobs on up to `parallelism` threads (this one included). */
struct pool {
	size_t n, next;
	pthread_mutex_t mu;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
};

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			return NULL;
		p->fn(p->ctx, i);
	}
}

static void pool_run(size_t n, int parallelism, void (*fn)(void *ctx, size_t i), void *ctx)
{
	struct pool p = {n, 0, PTHREAD_MUTEX_INITIALIZER, fn, ctx};
	size_t want = parallelism > 1 ? (size_t)parallelism : 1;
	if (want > n)
		want = n;
	pthread_t *th = want > 1 ? xcalloc(want - 1, sizeof *th) : NULL;
	size_t started = 0;
	for (; started + 1 < want; started++)
		if (pthread_create(&th[started], NULL, pool_worker, &p))
			break; /* fewer threads: this one still does the rest */
	pool_worker(&p);
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	free(th);
	pthread_mutex_destroy(&p.mu);
}

struct batch_run {
	struct sf_refresh_item *v;
	size_t n;
	size_t *first; /* index in v of each type group's first item */
	void *providers;
};

static void batch_one(void *ctx, size_t g)
{
	struct batch_run *b = ctx;
	const struct sf_rtype *t = b->v[b->first[g]].type;
	const json_t **priors = xcalloc(b->n, sizeof *priors);
	size_t k = 0;
	for (size_t i = b->first[g]; i < b->n; i++)
		if (b->v[i].type == t)
			priors[k++] = b->v[i].row->attrs;
	struct sf_err e = SF_ERR_INIT;
	volatile int cancel = 0;
	struct sf_rctx c = {.address = t->name, .err = &e, .provider = b->providers, .cancel = &cancel, .refreshing = 1};
	(void)t->read_batch(&c, (const json_t *const *)priors, k);
	free(priors);
}

void sf_refresh_batch(struct sf_refresh_item *v, size_t n, void *providers, int parallelism)
{
	struct batch_run b = {v, n, xcalloc(n + 1, sizeof(size_t)), providers};
	size_t groups = 0;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].type->read_batch)
			continue;
		int seen = 0;
		for (size_t g = 0; g < groups && !seen; g++)
			seen = v[b.first[g]].type == v[i].type;
		if (!seen)
			b.first[groups++] = i;
	}
	pool_run(groups, parallelism, batch_one, &b);
	free(b.first);
}

struct read_run {
	struct sf_refresh_item *v;
	void *providers;
};

static void read_one(void *ctx, size_t i)
{
	struct read_run *r = ctx;
	struct sf_refresh_item *it = &r->v[i];
	volatile int cancel = 0;
	it->err = (struct sf_err)SF_ERR_INIT;
	it->merr = (struct sf_err)SF_ERR_INIT;
	struct sf_rctx c = {.address = it->row->address, .token = it->row->token, .err = &it->err,
			    .provider = r->providers, .cancel = &cancel, .refreshing = 1};
	it->rc = it->type->read(&c, it->row->attrs, &it->live);
	const struct sf_own *own = sf_own_of(it->type);
	if (it->rc < 0 || !own || own->kind != SF_OWN_TAGS || !own->marks) {
		json_decref(c.own_tags);
		return;
	}
	if (c.own_tags) { /* read saw every tag already: judged from those */
		it->marked = 1;
		it->mrc = 0;
		it->mtags = c.own_tags;
		return;
	}
	/* A name-keyed object's ownership tags, read now beside the others
	 * (the plan judges them in order). */
	c.err = &it->merr;
	it->marked = 1;
	it->mrc = own->marks(&c, it->row->attrs, &it->mid, &it->mtags);
}

void sf_refresh_read(struct sf_refresh_item *v, size_t n, void *providers, int parallelism)
{
	sf_refresh_batch(v, n, providers, parallelism);
	struct read_run r = {v, providers};
	pool_run(n, parallelism, read_one, &r);
}

void sf_refresh_release(struct sf_refresh_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(v[i].live);
		json_decref(v[i].mtags);
		free(v[i].mid);
		v[i].live = v[i].mtags = NULL;
		v[i].mid = NULL;
	}
}
