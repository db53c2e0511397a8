/* test_memo.c - the run's memo (resources/providers.h): one ask per key
 * however many threads ask at once, and no wait on another key's ask. */
#include <pthread.h>

#include "t.h"

#include "resources/providers.h"

struct asker {
	struct sf_memo *m;
	const char *key;
	json_t *got;  /* what take returned */
	int filled;   /* it was the key's filler */
	pthread_barrier_t *go;
};

static void *ask(void *arg)
{
	struct asker *a = arg;
	if (a->go)
		pthread_barrier_wait(a->go);
	a->got = sf_memo_take(a->m, a->key);
	if (!a->got) {
		a->filled = 1;
		json_t *v = json_string("answer");
		sf_memo_fill(a->m, a->key, v);
		a->got = v;
	}
	return NULL;
}

/* While one key is being filled, another is not held up, and whoever asks
 * the busy key gets the filler's answer rather than asking again. */
T_TEST(memo_waits_only_for_the_same_key)
{
	struct sf_memo m;
	sf_memo_init(&m);
	T_OK(sf_memo_take(&m, "eks versions") == NULL); /* this thread fills it */
	json_t *other = sf_memo_take(&m, "add-on versions");
	T_OK(other == NULL); /* not held up by the busy key */
	json_t *v = json_string("catalogue");
	sf_memo_fill(&m, "add-on versions", v);
	struct asker b = {.m = &m, .key = "eks versions"};
	pthread_t th;
	T_EQ(pthread_create(&th, NULL, ask, &b), 0);
	json_t *w = json_string("versions");
	sf_memo_fill(&m, "eks versions", w);
	pthread_join(th, NULL);
	T_EQ(b.filled, 0);
	T_OK(b.got == w);
	json_decref(b.got);
	json_t *again = sf_memo_take(&m, "add-on versions");
	T_OK(again == v);
	json_decref(again);
	json_decref(v);
	json_decref(w);
	sf_memo_release(&m);
}

/* A failed ask is not kept: the key goes to the next asker. */
T_TEST(memo_failed_fill_leaves_the_key_to_the_next)
{
	struct sf_memo m;
	sf_memo_init(&m);
	T_OK(sf_memo_take(&m, "k") == NULL);
	sf_memo_fill(&m, "k", NULL);
	T_OK(sf_memo_take(&m, "k") == NULL); /* the next asker fills it */
	json_t *v = json_integer(7);
	sf_memo_fill(&m, "k", v);
	json_t *got = sf_memo_take(&m, "k");
	T_OK(got == v);
	json_decref(got);
	json_decref(v);
	sf_memo_release(&m);
}

/* Sixteen threads asking one key at once: one asks, fifteen get its answer. */
T_TEST(memo_one_filler_among_many)
{
	enum { N = 16 };
	struct sf_memo m;
	sf_memo_init(&m);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N);
	struct asker a[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		a[i] = (struct asker){.m = &m, .key = "catalogue", .go = &go};
		T_EQ(pthread_create(&th[i], NULL, ask, &a[i]), 0);
	}
	int fillers = 0;
	json_t *first = NULL;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		fillers += a[i].filled;
		if (a[i].filled)
			first = a[i].got;
	}
	T_EQ(fillers, 1);
	for (int i = 0; i < N; i++) {
		T_OK(a[i].got == first);
		if (!a[i].filled)
			json_decref(a[i].got);
	}
	json_decref(first);
	pthread_barrier_destroy(&go);
	sf_memo_release(&m);
}

T_MAIN()
