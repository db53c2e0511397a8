/*
 * sweep.h - the tag sweep of `secfaas gc`: find and delete objects secfaas
 * made that no state owns any more (a lost state file, a run killed before
 * its intent was written) or whose ephemeral lifetime (secfaas:expires-at)
 * has passed.
 *
 * Why: `secfaas gc` first destroys expired workspaces from their state
 * files; this is its second half, the safety net that works from the
 * cloud's side.  It only ever looks at objects carrying the
 * `secfaas:workspace` ownership tag that every AWS resource type puts on
 * what it creates; an object without it is never selected on its own.
 *
 * How: every kind of object the sweep knows is a hook (struct
 * sf_sweep_hook).  A resource type declares its hook in its own file
 * (sf_rtype.sweep); kinds that are not resource types (instances EKS did
 * not launch, snapshots, network interfaces) sit in their provider's
 * descriptor (provider.h).  The sweep lists every hook, decides per object,
 * then deletes in rank order, lowest first: an object only depends on
 * objects of higher ranks.  A hook's destroy is, by default, its type's
 * own destroy with the prior attributes its listing built (one deletion
 * path per type: DependencyViolation retries, bounded waits, policy
 * detaching).  Every wait and retry has a deadline, so a sweep never hangs.
 *
 * What is deleted: an object whose secfaas:expires-at is before `now`, or
 * one the caller's verdict (is_known) calls an orphan: its state is known
 * (by lineage, or its workspace is one the user named as dead) but never
 * recorded it.  An object whose lineage no state here knows may be
 * another team's live workspace: it is listed ("not deleting ...") and
 * never deleted.  Objects of a hook that `follows` another kind (node
 * groups follow their cluster) go when their parent goes, whoever made
 * them.
 *
 * Calling steps (secfaas gc; provs/nprovs from sf_provider_all()):
 *   struct sf_providers p; sf_providers_init(&p); p.region = ...;
 *   double now; if (sf_sweep_now(&p, provs, nprovs, &now, &err) < 0) ... // no credentials
 *   struct sf_buf rep = SF_BUF_INIT; int left, unknown;
 *   int n = sf_sweep(&p, provs, nprovs, known, ctx, now, dry_run, &rep, &left, &unknown, &err);
 *   print sf_buf_cstr(&rep); sf_buf_release(&rep); sf_providers_release(&p);
 *
 * Ownership: the providers and ctx are borrowed; the report buffer is the
 * caller's (lines are appended: "deleted KIND ID: REASON", "would delete
 * ...", "left KIND ID: REASON: ERROR", "not deleting KIND ID: REASON").
 */
#ifndef SF_SWEEP_H
#define SF_SWEEP_H

#include <jansson.h>

#include "err.h"
#include "provisioner/engine/resource.h"
#include "resources/providers.h"
#include "util.h"

#define SF_OWNER_TAG "secfaas:workspace"

/* Deletion ranks (lower first): the anchors the hooks are ordered by.  A
 * new kind takes the rank of the kind it resembles, or, written in its own
 * file, a number between two (SF_SWEEP_SUBNET - 5: just before subnets);
 * what it depends on must rank higher. */
enum sf_sweep_rank {
	SF_SWEEP_NODEGROUP = 10,
	SF_SWEEP_CLUSTER = 20,
	SF_SWEEP_INSTANCE = 30,
	SF_SWEEP_LAUNCH_TEMPLATE = 40,
	SF_SWEEP_IMAGE = 50,
	SF_SWEEP_SNAPSHOT = 60,
	SF_SWEEP_NETWORK_INTERFACE = 70,
	SF_SWEEP_SECURITY_GROUP = 80,
	SF_SWEEP_ROUTE_TABLE = 90,
	SF_SWEEP_SUBNET = 100,
	SF_SWEEP_INTERNET_GATEWAY = 110,
	SF_SWEEP_VPC = 120,
	SF_SWEEP_INSTANCE_PROFILE = 130,
	SF_SWEEP_ROLE = 140,
};

struct sf_sweep;      /* one run of the sweep (sweep.c) */
struct sf_provider;   /* provider.h */
struct sf_sweep_hook;

/* One listed object, as its hook's destroy sees it. */
struct sf_swept {
	const struct sf_sweep_hook *hook;
	const struct sf_rtype *type; /* the resource type declaring the hook; NULL for other kinds */
	char *id;                    /* EC2 id, EKS/IAM name */
	char *parent;                /* for `follows`: the parent's id (a node group's cluster) */
	char *arn;                   /* for the report when known */
	char *reason;                /* why it is deleted */
	json_t *prior;               /* attributes handed to destroy (owned) */
	char *lineage;               /* its secfaas:lineage: the dead state on whose behalf it is deleted */
};

struct sf_sweep_hook {
	const char *kind;            /* in reports: "vpc", "eks node group" */
	int rank;                    /* enum sf_sweep_rank */
	/* List every object of this kind (call sf_sweep_add for each). < 0
	 * with the run's error when the listing itself failed. */
	int (*list)(struct sf_sweep *s, const struct sf_sweep_hook *h);
	/* Delete one; NULL: the type's destroy with o->prior.  0 when gone. */
	int (*destroy)(struct sf_rctx *c, const struct sf_swept *o);
	/* Kind of the parent whose deletion takes these along, or NULL. */
	const char *follows;
};

/* ---- for hooks ---- */

/* The run's providers and its error (what a listing fills on failure). */
struct sf_providers *sf_sweep_providers(struct sf_sweep *s);
struct sf_err *sf_sweep_err(struct sf_sweep *s);

/* Record one listed object of hook h.  tags: its tags as an object
 * (borrowed); prior: attributes for destroy (stolen; NULL = {"id": id});
 * parent and arn may be NULL.  Objects without the ownership tag are
 * dropped unless h follows a parent. */
void sf_sweep_add(struct sf_sweep *s, const struct sf_sweep_hook *h, const char *id, const char *parent,
		  const char *arn, const json_t *tags, json_t *prior);

/* ---- for secfaas gc ---- */

/* What the caller's states say of an object with these ownership tags
 * (secfaas:workspace, secfaas:lineage, secfaas:address, secfaas:token; any
 * but workspace may be NULL when the object lacks that tag). */
enum sf_sweep_verdict {
	SF_SWEEP_KEEP = 0, /* a state knows it */
	SF_SWEEP_ORPHAN,   /* its workspace is known dead, or its state never recorded it: delete */
	SF_SWEEP_UNKNOWN,  /* no state knows its lineage: perhaps someone else's live object; never deleted */
};
/* The verdict; for ORPHAN and UNKNOWN *why is set to a reason (owned). */
typedef enum sf_sweep_verdict (*sf_sweep_known_fn)(const char *workspace, const char *lineage, const char *address,
						   const char *token, char **why, void *ctx);

/* "now" as the swept services see it (the first provider with a clock;
 * for AWS a signed STS GetCallerIdentity, which also proves the
 * credentials work, and its reply's Date header); local time when none
 * answered with one.  < 0 with err when the provider cannot be reached or
 * the credentials are refused. */
int sf_sweep_now(struct sf_providers *p, const struct sf_provider *const *provs, size_t nprovs, double *now,
		 struct sf_err *err);

/* Sweep every provider in provs that has hooks, in the account and
 * region of the clients p.  Returns the number of objects selected for deletion (deleted,
 * would delete with dry_run, or left), or < 0 when a listing failed (err
 * filled; nothing was deleted).  *left counts the selected objects still
 * present afterwards (0 on dry_run); *unknown the objects listed but not
 * deleted because no state knows them (SF_SWEEP_UNKNOWN). */
int sf_sweep(struct sf_providers *p, const struct sf_provider *const *provs, size_t nprovs, sf_sweep_known_fn is_known,
	     void *ctx, double now, int dry_run, struct sf_buf *report, int *left, int *unknown, struct sf_err *err);

#endif
