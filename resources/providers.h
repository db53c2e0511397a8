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
 * included).  Under mu, which whoever fills a key holds while it asks
 * AWS, so that threads asking the same question at once ask once (it may
 * take the providers' mu, for the client, before mu, never after it). */
struct sf_memo {
	pthread_mutex_t mu;
	json_t *map;
};
void sf_memo_init(struct sf_memo *m);
void sf_memo_release(struct sf_memo *m);

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
