/*
 * providers.h - run-wide clients handed to resource types as rctx.provider.
 *
 * Why lazy: `plan` of a Stack of local files, `validate`, `state …` must not
 * need AWS credentials.  The AWS client is created on first use by
 * sf_providers_aws(), once, under a mutex (resource operations run on
 * several threads), and its failure is remembered so every resource
 * reports the same one-line cause.
 *
 * Ownership: the command handler owns struct sf_providers (stack or heap),
 * calls sf_providers_init() and sf_providers_release(); resource types only
 * borrow it.
 */
#ifndef SF_PROVIDERS_H
#define SF_PROVIDERS_H

#include <jansson.h>
#include <pthread.h>

#include "err.h"

struct sf_aws;
struct ax_reads;

/* Answers to read-only questions that do not change within a run (EKS's
 * add-on versions for a Kubernetes version in a region, the list of its
 * Kubernetes versions, a given image once its check passed): key ->
 * value, keyed by everything the answer depends on but the credentials,
 * which are the process's own for every workspace of a run (--profile
 * included).  Threads asking the same question at once ask AWS once: the
 * first to find a key missing fills it while the others wait for that key
 * alone (busy), so a fleet's workspaces asking different questions never
 * wait for each other's calls.  mu guards map and busy only; no call is
 * made under it. */
struct sf_memo {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *map;
	json_t *busy; /* keys being filled: {key: true} */
};
void sf_memo_init(struct sf_memo *m);
void sf_memo_release(struct sf_memo *m);
/* The answer kept under key (new reference), waiting while another thread
 * fills it; or NULL when none is kept, and the key is then the caller's
 * to fill: it must call sf_memo_fill, with its answer or with NULL when
 * it has none (a failed ask is not kept, and the next waiter asks).  A
 * filler asks no other key before it fills its own. */
json_t *sf_memo_take(struct sf_memo *m, const char *key);
void sf_memo_fill(struct sf_memo *m, const char *key, json_t *value);

struct sf_providers {
	const char *region;      /* metadata.region or --region; NULL: environment/profile */
	const char *profile;     /* --profile */
	const char *workspace;   /* metadata.name */
	const char *lineage;     /* state lineage, for ownership tags */
	const json_t *metadata;  /* the workspace's metadata (tags, ttl), borrowed */
	int64_t run_id;

	pthread_mutex_t mu;
	struct sf_aws *aws;
	int aws_tried;
	struct sf_err aws_err;
	void *kube;              /* Kubernetes client cache (kube_cache.c), opaque here */
	/* Frees the kube slot; set by whoever fills it (kube_cache.c). */
	void (*kube_release)(struct sf_providers *p);
	json_t *fresh;           /* ids this run just made: {id: monotonic time} (aws_common.c), under mu */
	/* The run's memo: own_memo, or one a fleet run lends every workspace
	 * (plan --all asks EKS's catalogues once, not once a workspace). */
	struct sf_memo own_memo;
	struct sf_memo *memo;
	/* A refresh's batched answers (aws_batch.h), made on first use and
	 * owned, or lent by a fleet run that shares one between its
	 * workspaces (reads_lent: not freed here).  Set under mu. */
	struct ax_reads *reads;
	int reads_lent;
	/* Credentials a fleet run's clients share (aws/creds.h), lent; NULL:
	 * the client walks the credential chain for itself. */
	struct sf_creds_share *creds_share;
};

void sf_providers_init(struct sf_providers *p);
void sf_providers_release(struct sf_providers *p);
/* Borrowed client or NULL with err (the same error every time). */
struct sf_aws *sf_providers_aws(struct sf_providers *p, struct sf_err *err);

#endif
