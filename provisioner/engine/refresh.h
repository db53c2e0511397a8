/*
 * refresh.h - the reads of a plan's refresh, batched and side by side.
 *
 * Why: a refresh used to read every recorded object with a call of its
 * own, one after the other, so a workspace of 20 objects paid 20 round
 * trips in a row and a fleet of them thousands.  Here the rows are first
 * grouped by type and each type with a read_batch hook (resource.h) is
 * handed its whole group at once, so it can fetch them in one filtered
 * call; then every row's read() (and, for name-keyed types, the ownership
 * marks) runs on up to `parallelism` threads, taking batched answers where
 * there are some.  The plan then consumes the results in its own order, so
 * its output does not depend on which read finished first.
 *
 * Ownership: the caller owns the item array; items borrow their type and
 * state row, and own live, mid and mtags (sf_refresh_release frees them).
 */
#ifndef SF_REFRESH_H
#define SF_REFRESH_H

#include <jansson.h>

#include "provisioner/engine/resource.h"
#include "state/state.h"

struct sf_refresh_item {
	const struct sf_rtype *type;   /* borrowed; its read is not NULL */
	const struct sf_resource *row; /* borrowed: the state row to read */
	int rc;                        /* read(): 0, SF_ENOTFOUND or < 0 with err */
	json_t *live;                  /* read()'s answer, owned */
	struct sf_err err;
	int marked;                    /* marks() was asked (SF_OWN_TAGS, read succeeded) */
	int mrc;                       /* its result */
	char *mid;                     /* owned */
	json_t *mtags;                 /* owned */
	struct sf_err merr;
};

/* Call each type's read_batch once with every prior of that type in v
 * (types side by side, `parallelism` at once).  Hook errors are dropped:
 * the reads that follow ask the provider themselves. */
void sf_refresh_batch(struct sf_refresh_item *v, size_t n, void *providers, int parallelism);
/* sf_refresh_batch, then read() (and marks() for SF_OWN_TAGS types) of
 * every item, `parallelism` at once. */
void sf_refresh_read(struct sf_refresh_item *v, size_t n, void *providers, int parallelism);
void sf_refresh_release(struct sf_refresh_item *v, size_t n);

#endif
