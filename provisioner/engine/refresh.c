/* refresh.c - batched, parallel refresh reads (see refresh.h). */
#include "provisioner/engine/refresh.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "provisioner/engine/ownership.h"
#include "util.h"

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
	sf_pool_run(groups, parallelism, batch_one, &b);
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
	sf_pool_run(n, parallelism, read_one, &r);
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
