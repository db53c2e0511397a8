/*
 * resource.h - the contract between the engine and a resource type.
 *
 * A resource type is one file under resources/ that fills a const struct
 * sf_rtype: an attribute table (names, types, flags) plus CRUD functions
 * that only make API calls.  The engine owns everything generic: diffing
 * by attribute flags, the dependency graph, journaling, retries of the
 * whole step, progress output, tainting.  Adding a type is: one file, its
 * tests, and one row in its family table (resources/registry.c).
 *
 * Attribute values are jansson values (string, integer, boolean, array,
 * object).  `want` holds the desired attributes after references are
 * resolved; `out` must hold every attribute (desired + computed), including
 * "id" when the object has a provider id.
 *
 * The idempotency rule that makes resume-after-kill work:
 *   create() must be idempotent under c->token.  The engine writes an intent
 *   row with the token before calling create(); if the process dies, the
 *   next apply calls create() again with the same token, and the type must
 *   find and adopt what the first call made (AWS ClientToken /
 *   clientRequestToken, or a `secfaas:token` tag looked up before creating)
 *   and then continue waiting for it, never create a second one.  The
 *   engine sets c->resumed for such a second attempt; within one attempt, a
 *   call whose reply was lost is handled by the shared create path of the
 *   family (resources/aws_common.h: ax_create).
 *
 * Long waits call c->progress() each poll and stop early when *c->cancel is
 * set (first Ctrl-C), returning SF_EINTR; the engine then records the
 * resource as still `creating` so the next apply resumes the wait.
 *
 * The ownership rule (docs/ownership.md) that makes a shared account safe:
 *   secfaas never changes or deletes a live object unless it is proven to
 *   be this state's own, and never adopts one that is not.  Every type
 *   declares in `own` how the proof is made (the registry unit test fails
 *   for a type without it):
 *   SF_OWN_ID      the provider picks ids and never reuses them (vpc-...,
 *                  lt-...): the id the state recorded when create made the
 *                  object is the proof.  Without a recorded id (a killed or
 *                  failed create) only an object carrying this operation's
 *                  secfaas:token tag is ours; create and destroy find it
 *                  by that tag, never by a name.
 *   SF_OWN_TAGS    the object is named from the spec, and anyone can own
 *                  that name (IAM roles, EKS clusters, node groups, access
 *                  entries): its live ownership tags must name this
 *                  state's lineage and the address or the operation token
 *                  (sf_own_verdict).  The engine reads them with
 *                  own->marks() at plan refresh and before every update,
 *                  replacement and delete: a foreign object is never
 *                  changed, and a delete leaves it untouched and forgets
 *                  the row.  create() adopts an existing object of that
 *                  name only on the same proof (resources/aws_common.h
 *                  ax_create with an ax_adopt lookup), else fails naming the owner and the
 *                  `secfaas import` command that takes it over on purpose.
 *   SF_OWN_PARENT  the object has no identity of its own outside another
 *                  object (a Kubernetes object inside the cluster, a rule
 *                  inside a group): it is proven through that parent, and
 *                  when the parent is being deleted in the same run, a
 *                  failure to reach it does not block the parent's delete.
 *   SF_OWN_LOCAL   not a shared object (a file on this machine).
 *   SF_OWN_REF     never ours: an existing object the spec names by id
 *                  (a VPC a network team made), only read.  The engine
 *                  never calls destroy for it: deleting or replacing the
 *                  address forgets the row, the object stays as it was,
 *                  and `secfaas import` refuses it.
 * A create that fails before it recorded an id (record_id) with a definite
 * answer from the provider leaves no row: nothing deletable is recorded for
 * an object that may belong to someone else.  `secfaas import` is the one
 * deliberate takeover: it reads the object, names its previous owner and
 * writes this state's ownership tags with own->claim().
 */
#ifndef SF_RESOURCE_H
#define SF_RESOURCE_H

#include <jansson.h>

#include "err.h"

enum sf_atype { SF_AT_STRING, SF_AT_INT, SF_AT_BOOL, SF_AT_LIST, SF_AT_MAP, SF_AT_ANY };

enum sf_attr_flags {
	SF_ATTR_REQUIRED = 1 << 0,     /* must be set in the spec */
	SF_ATTR_OPTIONAL = 1 << 1,     /* may be set; absent means provider default */
	SF_ATTR_COMPUTED = 1 << 2,     /* known only after create (ids, ARNs, endpoints) */
	SF_ATTR_FORCE_NEW = 1 << 3,    /* changing it replaces the object */
	SF_ATTR_SENSITIVE = 1 << 4,    /* never printed; encrypted in state */
	SF_ATTR_IGNORE_DRIFT = 1 << 5, /* managed remotely (autoscaled sizes): not diffed */
	SF_ATTR_WRITE_ONLY = 1 << 6,   /* sent on create/update, not readable back */
	SF_ATTR_NEW_ON_UPDATE = 1 << 7, /* computed, and changes with every update (a version
					 * number): unknown to a plan that updates the object */
};

struct sf_attr_def {
	const char *name;
	enum sf_atype type;
	unsigned flags;
	const char *doc; /* one line, shown by `secfaas help types` */
};

struct sf_rctx;
typedef void (*sf_progress_fn)(struct sf_rctx *c, const char *status);

struct sf_rctx {
	const char *address;       /* "local_file.a" */
	const char *token;         /* idempotency token of this operation (<= 32 chars) */
	struct sf_err *err;        /* fill on failure */
	void *provider;            /* run-wide clients (struct sf_providers *), borrowed */
	volatile int *cancel;      /* non-zero: stop waiting, return SF_EINTR */
	sf_progress_fn progress;   /* may be NULL */
	void *engine;              /* engine-private */
	/* Record the provider id as soon as it is known, before a long wait,
	 * so a killed run can at least destroy what exists. May be NULL. */
	int (*record_id)(struct sf_rctx *c, const char *id);
	double timeout_s;          /* overall budget for this operation; 0 = type default */
	/* Plan time only (plan_review): add one warning line to the plan,
	 * shown with the address above the changes. May be NULL. */
	void (*warn)(struct sf_rctx *c, const char *msg);
	/* create only: an earlier attempt under this token was interrupted
	 * (the journal still says `creating`), so it may have made the object:
	 * look for it before creating.  0 on a first attempt, where that
	 * look-up would only cost a call. */
	int resumed;
	/* Report status and print it as a progress line now (a retry the
	 * user should see, e.g. waiting for IAM to propagate). May be NULL. */
	sf_progress_fn note;
	/* How long this step usually takes in this workspace: the 10th..90th
	 * percentile of its earlier runs, in seconds on this run's clock.
	 * 0 with *lo and *hi, or -1 when there are too few of them.  A long
	 * wait polls more often near the usual end.  May be NULL. */
	int (*typical)(struct sf_rctx *c, double *lo, double *hi);
	/* The same for one named part of this step (a wait among several,
	 * such as an AMI bake's builder run and then its image), and
	 * part_took records how long that part took this time.  Either may
	 * be NULL. */
	int (*typical_part)(struct sf_rctx *c, const char *part, double *lo, double *hi);
	void (*part_took)(struct sf_rctx *c, const char *part, double seconds);
	/* create and update: 1 when attribute `name` holds a secret (its type
	 * flags it sensitive, or its value was built from one), so what the
	 * type writes from it is kept as private as the state keeps it.  May
	 * be NULL. */
	int (*sensitive)(struct sf_rctx *c, const char *name);
	/* Set by a plan's refresh only: read() may take its answer from what
	 * the type's read_batch fetched for this run moments before.  Any
	 * other read (after a change, an import) asks the provider itself. */
	int refreshing;
	/* Refresh only (refreshing set), for an SF_OWN_TAGS type: read() may
	 * leave here (new reference, marks()'s form) the tags the very answer
	 * it read carried, when that answer holds all of them; the refresh then
	 * judges ownership from them instead of asking marks() again.  The
	 * same proof from the same object, one call fewer.  NULL: marks(). */
	json_t *own_tags;
	/* Delete only, for an SF_OWN_TAGS type: the engine sets keep_marked
	 * while it proves ownership (own->marks()) of an object it is about to
	 * delete.  marks() may then leave in `marked` (new reference, in the
	 * type's own form: EKS's cluster object) the object its answer
	 * described, and the destroy() that follows in the same step takes
	 * what it needs from it (the cluster's VPC) instead of reading the
	 * object again.  The same answer, one call fewer.  destroy() borrows
	 * it; the engine drops it after destroy().  NULL (another caller of
	 * marks(), a type that leaves nothing): destroy() reads for itself. */
	int keep_marked;
	json_t *marked;
	/* Plan only, for an SF_OWN_TAGS type: marks() is asked whether the
	 * name a planned create will take is free (provisioner/engine/plan.c,
	 * own_precheck).  A listing of the account's names that a fleet run
	 * shares may then answer "free" without a call of its own
	 * (resources/aws_batch.h, ax_name_listed); a name it lists is still
	 * read, for its tags.  Every other caller of marks() reads. */
	int name_check;
	/* Apply only: how many changes to objects of resource type `type`
	 * this run still has to finish (waiting or running; deletes not
	 * counted), leaving out those that wait for this one.  An object that
	 * cannot be ready before such objects are (an add-on whose pods need
	 * nodes) waits while any is pending.  May be NULL: none. */
	size_t (*pending)(struct sf_rctx *c, const char *type);
	/* Apply only, for a step's final wait (nothing timed follows it):
	 * could this step's end be used now?  ask 1: 1 yes; 0 when everything
	 * that waits for it is held up by something else still at work, and
	 * the step then counts as asleep (idle, making no calls) until asked
	 * again.  ask 0: it is awake again (a wait that stops sleeping for
	 * its deadline or a cancel); returns 1.  A step that slept records no
	 * duration of its own (its end may have come during the sleep).  May
	 * be NULL: always needed.  See provisioner/engine/apply.c, needed_cb. */
	int (*needed)(struct sf_rctx *c, int ask);
};

struct sf_change;     /* engine's per-resource plan entry (plan.h) */
struct sf_sweep_hook; /* gc's sweep of one kind (resources/sweep.h) */

enum sf_own_kind { SF_OWN_NONE = 0, SF_OWN_ID, SF_OWN_TAGS, SF_OWN_PARENT, SF_OWN_LOCAL, SF_OWN_REF };

/* How a type proves ownership (see the rule above). */
struct sf_own {
	enum sf_own_kind kind;
	const char *noun;   /* "IAM role", for messages */
	const char *proof;  /* one line: what proves it (docs, `secfaas help types`) */
	/* SF_OWN_TAGS (optional for the others): locate the live object that
	 * `attrs` (state attributes, or desired ones at plan time) names and
	 * return its ownership tags as an object (new ref) and its id/name
	 * (owned string, may be NULL).  SF_ENOTFOUND when there is none or it
	 * cannot be named yet (e.g. the name derives from a token not chosen).
	 * c->token is the row's operation token when known. */
	int (*marks)(struct sf_rctx *c, const json_t *attrs, char **id, json_t **tags);
	/* Optional: write `tags` (ownership tags only) on the object `attrs`
	 * names (`secfaas import`). */
	int (*claim)(struct sf_rctx *c, const json_t *attrs, const json_t *tags);
	/* SF_OWN_PARENT: type name of the parent (e.g. "eks_cluster"), or NULL
	 * when the parent is outside secfaas. */
	const char *parent_type;
	/* Optional: why such an object may already exist, added to the
	 * refusal (e.g. EKS's own access entry for the cluster creator). */
	const char *why_taken;
	/* Optional: type name of a parent whose delete removes this object
	 * too (EKS deletes a cluster's add-ons, access entries and Pod
	 * Identity associations with it).  When a run deletes both, the
	 * engine makes no call for this object: it waits for the parent's
	 * delete and forgets the row once that delete is confirmed
	 * (provisioner/engine/apply.c, gone_with). */
	const char *deleted_with;
};

struct sf_rtype {
	const char *name;                 /* "local_file", "aws_vpc" */
	int schema_version;
	const struct sf_attr_def *attrs;  /* terminated by {NULL} */
	int create_before_destroy;        /* replacements create the new one first */
	/* A replacement makes a new object and keeps the old one instead of
	 * destroying it (gVisor images: older releases stay for a revert or
	 * for launch template versions that still name them); the old ones
	 * go when the address itself is destroyed.  Not for tainted objects. */
	int keep_replaced;
	/* Optional, NULL-terminated: types whose delete also undoes this
	 * object's link to them (a subnet's delete takes its route table
	 * association with it; a gateway's delete leaves a route to it a
	 * blackhole that the table's delete takes).  When a run deletes this
	 * object and such a dependency, this delete comes after theirs, so it
	 * has no link left to undo, instead of before.  Its delete must still
	 * undo links that remain (a dependency the run keeps). */
	const char *const *unlinked_by;

	int (*create)(struct sf_rctx *c, const json_t *want, json_t **out);
	/* SF_ENOTFOUND when the object is gone.  A type whose drift is a
	 * verdict rather than a field may return a computed string attribute
	 * "drift" saying why; plan prints it next to the changed attribute. */
	int (*read)(struct sf_rctx *c, const json_t *prior, json_t **out);
	/* Optional: before a refresh reads objects of this type one by one,
	 * the engine hands the type all their prior attributes at once (one
	 * call per type and run); the type fetches them in as few provider
	 * calls as it can (one filtered, paginated Describe by ids) and keeps
	 * the answers in the run's providers, where read() with c->refreshing
	 * finds them.  An object the batch answer does not hold is gone.  A
	 * failure is not the plan's: each read() then asks on its own. */
	int (*read_batch)(struct sf_rctx *c, const json_t *const *priors, size_t n);
	/* Optional: this type's deletes go together.  A run starts a delete
	 * of it only once every other delete of the type it still has can
	 * start too (or waits for this one), so they start side by side; and
	 * before each proves ownership, the engine hands the type the prior
	 * attributes of all the deletes of the type the run has not finished
	 * (its own, those starting with it, those that wait for it).  The
	 * type may then read what the deletes need in fewer provider calls
	 * (one listing of the account's IAM roles instead of two calls a
	 * role) and keep the answer in the run's providers, where marks()
	 * and destroy() of a delete that starts moments later find it.  A
	 * failure is not the run's: each delete then reads for itself.  For
	 * types whose deletes few steps wait for: holding one back delays
	 * those. */
	int (*delete_batch)(struct sf_rctx *c, const json_t *const *priors, size_t n);
	/* NULL: every change to a non-computed attribute forces replacement. */
	int (*update)(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out);
	/* Succeeds (0) if already gone. */
	int (*destroy)(struct sf_rctx *c, const json_t *prior);
	/* Optional: validate desired attributes beyond types (0 or SF_EINVAL
	 * with err->msg naming the attribute). */
	int (*validate)(const json_t *want, struct sf_err *err);
	/* Optional: checks against live objects at plan time (e.g. a named AMI
	 * exists and matches); called for planned creates/updates when plan
	 * refreshes. `want` may hold unknown values (JSON null). Fill c->err
	 * (with `where` = file:line:col when known) and return < 0 to fail the
	 * plan. */
	int (*plan_check)(struct sf_rctx *c, const json_t *want);
	/* Optional: a review of the object against what the provider says
	 * now, with the prior object in view: called for every address the
	 * plan keeps (create, update, replacement and no-op) when plan
	 * refreshes.  `before` is the refreshed object (NULL for a create),
	 * `want` the desired attributes (unknown values are JSON null).  It
	 * may add warnings through c->warn (a version leaving support), and
	 * fail the plan like plan_check (a step the provider refuses). */
	int (*plan_review)(struct sf_rctx *c, const json_t *before, const json_t *want);
	/* Optional: complete the desired attributes with what only the live
	 * objects tell (which user data fits the containerd of the image a
	 * launch template names).  Called for every planned create, update or
	 * replacement before it is compared with `before` (the refreshed
	 * object, NULL for a create) and before anything that refers to it is
	 * resolved, so the plan shows the value that will be sent.  It may set
	 * attributes of `want` (JSON null: known only after apply).
	 * c->provider is NULL when the plan does not refresh: then it uses
	 * only `want` and `before`.  Apply resolves the configuration again
	 * without it, so create and update derive the same values themselves.
	 * < 0 with c->err fails the plan like plan_check. */
	int (*plan_resolve)(struct sf_rctx *c, const json_t *before, json_t *want);
	/* Optional: how `secfaas gc` finds objects of this type that no state
	 * owns and deletes them (resources/sweep.h); the engine never uses it. */
	const struct sf_sweep_hook *sweep;
	/* Optional: how many seconds (low, high) a create, an update and a
	 * delete usually take, for a plan's time estimate when the workspace
	 * has no history of its own (resources/estimate.h); {0, 0}: an API
	 * call or two.  The engine asks whether it is short (such a step may
	 * start late at little cost, apply.c needed_cb) and, when more steps
	 * could start than it may run, which has the longest chain of these
	 * durations after it (apply.c rank_tails). */
	struct {
		struct sf_span {
			double lo, hi;
		} create, update, delete;
	} typical;
	/* Required: how ownership of a live object is proven (see above). */
	const struct sf_own *own;
};

/* Declares the type table `sf_rt_<name>`; the X-macro lists of the type
 * families (resources/types*.h) declare every type with it. */
#define SF_RTYPE_EXTERN(name) extern const struct sf_rtype sf_rt_##name;

/* The resource types a run knows, handed to the engine by its caller
 * (the product's table is resources/registry.c, tests may build their
 * own).  The engine never reaches up for a table itself: a plan, a saved
 * plan or a configuration read back from JSON names types only through
 * the registry it was given. */
struct sf_registry {
	const struct sf_rtype *const *types; /* sorted by name, borrowed */
	size_t n;
};

/* The type named `name` in r, or NULL (also for a NULL name). */
const struct sf_rtype *sf_registry_find(const struct sf_registry *r, const char *name);
/* The attribute `name` of t, or NULL. */
const struct sf_attr_def *sf_rtype_attr(const struct sf_rtype *t, const char *name);

#endif
