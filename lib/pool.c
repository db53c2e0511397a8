/* pool.c - jobs on reused helper threads (see pool.h). */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "util.h"

/* One call's jobs. */
struct pool {
	size_t n, next;
	size_t helping; /* helpers still working on it */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* helping reached 0 */
	void (*fn)(void *ctx, size_t i);
	void *ctx;
};

/* A helper thread: idle (on the list, job NULL) or working on job. */
struct helper {
	pthread_t th;
	pthread_cond_t cv; /* a job was given, or the process exits */
	struct pool *job;
	int quit;
	struct helper *next; /* idle list */
};

static pthread_mutex_t helpers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct helper *idle;
static size_t started;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A forked child has none of its parent's helpers: it forgets them (their
 * few bytes stay allocated) and starts its own when it needs some. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&helpers_mu);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&helpers_mu);
}

static void fork_child(void)
{
	idle = NULL;
	pthread_mutex_unlock(&helpers_mu);
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Run p's jobs until none is left to take. */
static void work(struct pool *p)
{
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			return;
		p->fn(p->ctx, i);
	}
}

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	pthread_mutex_lock(&helpers_mu);
	for (;;) {
		while (!h->job && !h->quit)
			pthread_cond_wait(&h->cv, &helpers_mu);
		if (!h->job)
			break;
		struct pool *p = h->job;
		pthread_mutex_unlock(&helpers_mu);
		work(p);
		/* back on the idle list before p is told: p lives on its
		 * caller's stack and may be gone once helping reaches 0 */
		pthread_mutex_lock(&helpers_mu);
		h->job = NULL;
		h->next = idle;
		idle = h;
		pthread_mutex_lock(&p->mu);
		if (--p->helping == 0)
			pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&helpers_mu);
	return NULL;
}

/* Under helpers_mu: an idle helper, or a new one; NULL when no thread can
 * be started. */
static struct helper *helper_get(void)
{
	struct helper *h = idle;
	if (h) {
		idle = h->next;
		h->next = NULL;
		return h;
	}
	h = xcalloc(1, sizeof *h);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->th, NULL, helper_main, h)) {
		pthread_cond_destroy(&h->cv);
		free(h);
		return NULL;
	}
	started++;
	return h;
}

void sf_pool_run(size_t n, int parallelism, void (*fn)(void *ctx, size_t i), void *ctx)
{
	struct pool p = {.n = n, .fn = fn, .ctx = ctx};
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	size_t want = parallelism > 1 ? (size_t)parallelism : 1;
	if (want > n)
		want = n;
	pthread_mutex_lock(&helpers_mu);
	for (size_t k = 1; k < want; k++) {
		struct helper *h = helper_get();
		if (!h)
			break; /* fewer threads: this one still does the rest */
		p.helping++; /* no helper can finish p before helpers_mu is let go */
		h->job = &p;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&helpers_mu);
	work(&p);
	pthread_mutex_lock(&p.mu);
	while (p.helping)
		pthread_cond_wait(&p.cv, &p.mu);
	pthread_mutex_unlock(&p.mu);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
}

size_t sf_pool_started(void)
{
	pthread_mutex_lock(&helpers_mu);
	size_t k = started;
	pthread_mutex_unlock(&helpers_mu);
	return k;
}

void sf_pool_stop(void)
{
	pthread_mutex_lock(&helpers_mu);
	struct helper *list = idle;
	idle = NULL;
	for (struct helper *h = list; h; h = h->next) {
		h->quit = 1;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&helpers_mu);
	for (struct helper *h = list, *nx; h; h = nx) {
		nx = h->next;
		pthread_join(h->th, NULL);
		pthread_cond_destroy(&h->cv);
		free(h);
	}
}

/* At exit whatever sf_pool_stop left running is stopped and joined, so
 * nothing of theirs is left for leak checkers; one still working (an exit
 * from inside a job) is left alone. */
__attribute__((destructor)) static void pool_exit(void)
{
	sf_pool_stop();
}
