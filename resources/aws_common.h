/*
 * aws_common.h - helpers shared by the AWS resource types (resources/aws_*.c).
 *
 * Why: every AWS type needs the same handful of things — the run's shared
 * client, ownership tags (secfaas:workspace, secfaas:lineage,
 * secfaas:address, secfaas:token, secfaas:expires-at from metadata.ttl),
 * EC2 tag specifications, "find what a killed run already made" by the
 * secfaas:token tag, cancellable waits that report progress with elapsed
 * time, and DependencyViolation retries with backoff up to a deadline.
 * Keeping them here keeps each type file about its API calls only.
 *
 * Calling steps (inside a type's create/read/update/destroy):
 *   struct sf_aws *a = ax_client(c);  if (!a) return c->err->code;
 *   json_t *tags = ax_tags(c, want, 1);          // user tags + ownership tags
 *   json_t *spec = ax_ec2_tagspec("vpc", tags);  // TagSpecification param
 *   ... sf_aws_query(a, "ec2", "CreateVpc", params, &out, c->err) ...
 *   ax_wait(c, &vpc_available, args, 300, "vpc");          // a named waiter
 *
 * Poll delays and wait/retry deadlines are the official values scaled by
 * SECFAAS_POLL_SCALE (default 1; test suites running the simulator with
 * --timescale set it so a simulated 10-minute cluster is not polled every
 * 30 real seconds, and a deadline means the same simulated time).
 *
 * Ownership: every json_t returned is a new reference (json_decref); every
 * char * returned is owned by the caller (free).  The client is borrowed
 * from the run's providers.
 */
#ifndef SF_AWS_COMMON_H
#define SF_AWS_COMMON_H

#include <jansson.h>

#include "aws/client.h"
#include "provisioner/engine/resource.h"

/* The shared client, or NULL with c->err filled. */
struct sf_aws *ax_client(struct sf_rctx *c);

/* Percent-decode (IAM returns policy documents URL-encoded). Owned. */
char *ax_url_decode(const char *s);

/* String member or NULL. */
const char *ax_s(const json_t *o, const char *k);
/* A boolean as the XML protocols give it ("true") or as JSON. */
int ax_true(const json_t *v);

/* Official delay scaled by SECFAAS_POLL_SCALE (never below 1 ms). */
double ax_delay(double official_s);
/* A wait/retry deadline: the official value scaled the same way, but not
 * below min(official, 20 s). */
double ax_deadline(double official_s);
/* A waiter's budget for an AWS transition: scaled the same way, but not
 * below min(official, 300 s). */
double ax_wait_deadline(double official_s);
/* Sleep, waking every 50 ms to check *c->cancel: 0 or SF_EINTR. */
int ax_sleep(struct sf_rctx *c, double s);

/* Wait through a named waiter (aws/waiter.h; a row of the table found
 * with sf_aws_waiter_find(), or the type's own): polls the row's call with
 * args (stolen: decref'd here) at the row's delay, scaled, reporting
 * "<what>: <status> (<elapsed> elapsed)" through c->progress after each
 * poll.  Ends with 0 on success; SF_ERROR or SF_ENOTFOUND
 * "<address>: <the row's message>" for a failure state or a missing
 * object; the call's own error; SF_EINTR on *c->cancel; SF_ETIMEOUT after
 * timeout_s (the official budget, scaled as ax_wait_deadline; c->timeout_s wins
 * when set). */
int ax_wait(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s, const char *what);
/* The same, and *last (may be NULL) takes the reply of the poll that saw
 * success (new reference; NULL on failure, or when that poll had none: a
 * missing object counted as success): what the object looks like now,
 * without another read. */
int ax_wait_reply(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		  const char *what, json_t **last);
/* A wait of def will begin as soon as the calls this step makes now
 * return, and poll at once: a read-back of what they change, such as an
 * attribute EC2 shows readers a moment late.  Said ahead
 * (aws/pollshare.h sf_pollshare_expect_after; rows whose polls cannot
 * share calls are ignored), so the read-backs of steps made side by side
 * share one Describe however far apart their calls end, while one alone
 * polls at once.  Said again, the first instant stays.  Ends with the
 * wait (ax_wait and the like), or ax_wait_unsay when none follows (a
 * call failed). */
void ax_wait_soon(struct sf_rctx *c, const struct sf_waiter_def *def);
void ax_wait_unsay(struct sf_rctx *c);
/* ax_wait_reply for a wait the call just answered began (a create that
 * replied, a delete AWS accepted): AWS has only started, so a row that
 * knows its usual duration pauses before its first poll (sf_waiter_pause
 * from 0) instead of asking at once for what cannot be done yet.  Not for
 * an object found by a lookup or left by an earlier run: it may be done. */
int ax_wait_begun(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		  const char *what, json_t **last);
/* ax_wait_reply (begun: ax_wait_begun) for one of several siblings that go
 * through the same transition at about the same time, when what comes next
 * needs all of them (the add-ons of one cluster, which every node group
 * waits for: key names the parent; NULL: a wait of its own).  Waits of one client, row and key share one poll loop: while one of
 * them polls its object, the others sleep, then read their own object once
 * each when it ends, and one still pending polls (or sleeps) again.  Each
 * sibling past the first then costs one read instead of a poll loop of its
 * own, at the price of ending no earlier than the one polled.  Same
 * results, budget and errors as ax_wait_reply; args stolen. */
int ax_wait_siblings(struct sf_rctx *c, const char *key, const struct sf_waiter_def *def, json_t *args,
		     double timeout_s, const char *what, int begun, json_t **last);

/* A step's final wait: nothing timed follows it in the step, so nothing
 * but what waits for this step can use its end.  While nothing needs it
 * yet (c->needed, provisioner/engine/resource.h: everything that waits for
 * it also waits for something slower still at work, such as a NAT gateway
 * whose route's node groups wait for the EKS cluster), it sleeps without a
 * call, asking again every 20 ms; then the wait goes on as
 * ax_wait_begun (begun) or ax_wait_reply would, the sleep counted as time
 * already waited: a begun wait whose usual start passed meanwhile reads at
 * once.  Budget, results and errors as theirs; args stolen.
 * For ax_wait_siblings, or AX_FINAL into begun (the sleep comes before
 * the shared loop). */
#define AX_BEGUN 1
#define AX_FINAL 2
int ax_wait_final(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		  const char *what, int begun, json_t **last);
/* The sleep itself: 0 once needed (at once when c->needed is NULL or says
 * so), at deadline (sf_mono() seconds), or SF_EINTR on *c->cancel;
 * *slept the seconds it took.  One progress line when it sleeps. */
int ax_until_needed(struct sf_rctx *c, const char *what, double deadline, double *slept);

/* Run op until it stops failing with DependencyViolation / DeleteConflict /
 * ResourceInUse / InvalidNetworkInterface.InUse (SF_ECONFLICT), with
 * backoff from 1 s (scaled) doubling to 30 s, until timeout_s. */
typedef int (*ax_op_fn)(struct sf_rctx *c, void *ctx);
int ax_retry_conflict(struct sf_rctx *c, ax_op_fn op, void *ctx, double timeout_s, const char *what);

/* Tags for a new object: want["tags"] (user tags, desired) plus ownership
 * tags; with_token adds secfaas:token=<c->token>.  New object. */
json_t *ax_tags(struct sf_rctx *c, const json_t *want, int with_token);
/* [{"Key":k,"Value":v}...] from an object of tags. */
json_t *ax_tag_list(const json_t *tags);
/* Object of tags from an EC2 tagSet / IAM Tags list ({"key"|"Key","value"|"Value"}). */
json_t *ax_tags_from_list(const json_t *list);
/* Only the user-visible part: drops secfaas:* and aws:* keys. */
json_t *ax_user_tags(const json_t *tags);
/* read: out.tags = the user tags of an EC2 object's tagSet, when the prior
 * attributes manage tags at all (ownership tags are never user tags). */
void ax_ec2_read_tags(json_t *out, const json_t *prior, const json_t *obj);
/* EC2 TagSpecification param: [{"ResourceType":rt,"Tag":[...]}]. */
json_t *ax_ec2_tagspec(const char *rt, const json_t *tags);

/* EC2: find an object by tag secfaas:token=<c->token> with a Describe call
 * (action, list key such as "vpcSet", id key such as "vpcId").  0 and *id
 * (owned) when found, 0 and *id NULL when not, or an error. */
int ax_ec2_find_token(struct sf_rctx *c, const char *action, const char *list_key, const char *id_key, char **id);

/* ---- calls that must not be repeated blindly ----
 *
 * A call whose reply is lost (timeout, reset, truncated or unparsable
 * reply, 5xx) may have been carried out.  Repeating a create without a
 * client token then makes a second object; repeating a detach, a
 * disassociate or a removal answers "not found" (or an attach "already
 * associated") for what the first attempt did, which says nothing about
 * whether the change is in place.  Every such call of the AWS types goes
 * through one of two paths, which send it with sf_aws_query_once() and,
 * when the outcome is unknown or the answer is one of those, look at AWS
 * before deciding:
 *   ax_create  a create: look the object up by its secfaas:token tag
 *              (or the type's own lookup) and adopt it only when its
 *              ownership tags prove it is this state's, refuse it when
 *              they do not (also when the name is found taken: `exists`),
 *              else create again
 *              (after a few looks over some seconds: EC2 lists a new
 *              object only after a moment);
 *   ax_change  a change to a parent (attach, detach, associate, add or
 *              remove a member): read the parent to see whether the
 *              change is in place, else send it again.
 * Both send at most as many times as the client attempts a call that is
 * safe to repeat (sf_retry_budget, aws/retry.h: 9 by default), so a run
 * of faults costs a create no more than it costs a read.  The look-ups
 * cost calls only after such a failure, or (ax_create) when the engine
 * says an earlier attempt of this create was interrupted (c->resumed). */

/* Find what an earlier attempt of a create made: 0 and *id (owned) when
 * found, 0 and *id NULL when not, or an error.  A lookup must only return
 * an object whose ownership tags prove it is this state's (the verdict of
 * provisioner/engine/ownership.h, through ax_adopt), and refuse one that
 * belongs to someone else.  This is the one create path: a lost reply, a
 * resumed create and a name found taken all end in this lookup. */
typedef int (*ax_find_fn)(struct sf_rctx *c, const void *ctx, char **id);

struct ax_create_def {
	const char *service;            /* "ec2", "iam" */
	const char *op;                 /* "CreateVpc" */
	const char *id_key;             /* reply member holding the new id, at the top of the reply or
					   one object down ("vpcId" in {"vpc":{"vpcId":..}}) */
	const char *describe, *set_key; /* EC2: find by the secfaas:token tag (with id_key) ... */
	ax_find_fn find;                /* ... or this lookup (wins when set) */
	const void *find_ctx;
	const char *exists;             /* AWS code for "the name is taken" ("EntityAlreadyExists"), or NULL:
					   on it, the lookup decides (ours: adopt; else it refuses) */
};

/* The lookup of a name-keyed IAM object for ax_create: its ownership tags
 * (list_tags, e.g. "ListRoleTags" with param "RoleName") go through
 * ax_adopt: 0 and *id = name when they prove it is this state's, 0 and
 * *id NULL when there is no such object, SF_ECONFLICT naming the owner
 * when it is someone else's.  ctx is a struct ax_iam_name. */
struct ax_iam_name {
	const struct sf_own *own;
	const char *list_tags, *param, *name;
};
int ax_iam_find(struct sf_rctx *c, const void *ctx, char **id);

/* The lookup of an object keyed by a name the spec gives (EKS clusters,
 * node groups, add-ons, access entries): the type's own->marks on the
 * desired attributes, then ax_adopt, with the same answers as
 * ax_iam_find.  ctx is a struct ax_own_name. */
struct ax_own_name {
	const struct sf_own *own;
	const json_t *attrs;
};
int ax_own_find(struct sf_rctx *c, const void *ctx, char **id);

/* Create through the shared path: 0 and *id (owned) of the new or the
 * found object; *reply (may be NULL) gets the call's reply (new
 * reference), or NULL when the object was found by the lookup instead.
 * params are stolen. */
int ax_create(struct sf_rctx *c, const struct ax_create_def *d, json_t *params, json_t **reply, char **id);
/* The same for a rest-json service (eks): params are the body POSTed to
 * path (labels already encoded). */
int ax_create_at(struct sf_rctx *c, const struct ax_create_def *d, const char *path, json_t *params, json_t **reply,
		 char **id);

/* Is the change in place?  1 yes, 0 no, < 0 an error (c->err filled). */
typedef int (*ax_check_fn)(struct sf_rctx *c, const void *ctx);

struct ax_change_def {
	const char *service; /* "ec2", "iam" */
	const char *op;      /* "DetachRolePolicy" */
	ax_check_fn done;    /* reads the parent */
	const char *what;    /* "detaching the policy from the role", for messages */
};

/* A change through the shared path: 0 once AWS shows it in place; a
 * definite refusal while it is not in place is returned as is, with the
 * hint that it could not be confirmed.  params are stolen; reply may be
 * NULL. */
int ax_change(struct sf_rctx *c, const struct ax_change_def *d, const void *ctx, json_t *params, json_t **reply);

/* EC2: make the user tags of `id` equal `want_tags` (CreateTags for new or
 * changed keys, DeleteTags for removed ones; ownership tags untouched). */
int ax_ec2_sync_tags(struct sf_rctx *c, const char *id, const json_t *have_tags, const json_t *want_tags);

/* ---- ownership (provisioner/engine/resource.h, docs/ownership.md) ---- */

/* The run's ownership tags only (workspace, lineage, address, token,
 * expiry): what `secfaas import` writes.  New object. */
json_t *ax_owner_tags(struct sf_rctx *c);
/* The run's state lineage (may be ""). */
const char *ax_lineage(struct sf_rctx *c);
/* create() met an existing object `id` of its name whose ownership tags
 * are `tags` (NULL: untagged): 0 when it is this state's to adopt (what a
 * killed run or a create whose reply was lost made for this address),
 * else SF_ECONFLICT naming the owner and the `secfaas import` command. */
int ax_adopt(struct sf_rctx *c, const struct sf_own *own, const char *id, const json_t *tags);

/* marks() building blocks: the tags of one object as an object (new ref),
 * SF_ENOTFOUND when it does not exist. */
int ax_ec2_marks(struct sf_rctx *c, const char *action, const char *idparam, const char *id, const char *list_key,
		 json_t **tags);
/* IAM: ListRoleTags / ListInstanceProfileTags with name_param = name. */
int ax_iam_marks(struct sf_rctx *c, const char *action, const char *name_param, const char *name, json_t **tags);
/* EKS: GET path, tags of reply[member]; *arn (owned, may be NULL) from member's arn_key;
 * *obj (new ref, may be NULL) reply[member] itself, when obj is not NULL. */
int ax_eks_marks(struct sf_rctx *c, const char *path, const char *member, const char *arn_key, json_t **tags,
		 char **arn, json_t **obj);
/* claim() building blocks: add `tags` to one object. */
int ax_ec2_claim(struct sf_rctx *c, const char *id, const json_t *tags);
/* own->claim of an EC2 type whose attrs hold its id as "id". */
int ax_ec2_claim_id(struct sf_rctx *c, const json_t *attrs, const json_t *tags);
int ax_iam_claim(struct sf_rctx *c, const char *action, const char *name_param, const char *name, const json_t *tags);
int ax_eks_claim(struct sf_rctx *c, const char *arn, const json_t *tags);

/* "secfaas:workspace" value of the run (may be ""). */
const char *ax_workspace(struct sf_rctx *c);

/* Output = copy of want with computed members set by the caller. */
json_t *ax_out(const json_t *want);

/* "eni-1 (description, status), ..." of the ENIs matching one filter, for
 * the message of a teardown that gave up (owned), or NULL when none. */
char *ax_blockers(struct sf_rctx *c, const char *filter, const char *value);


/* EC2: Describe one object by id (idparam "VpcId", list key "vpcSet").
 * 0 and *obj (new ref), SF_ENOTFOUND when absent, or an error. */
int ax_ec2_describe_one(struct sf_rctx *c, const char *action, const char *idparam, const char *id,
			const char *list_key, json_t **obj);

/* EC2 call with params built by the caller (stolen: decref'd here); reply
 * dropped unless out is non-NULL.  ax_ec2, ax_iam and ax_eks retry, with a
 * bound and a progress line, the errors AWS sends while a change made
 * moments ago has not propagated (aws/awserr.h sf_aws_propagation; a
 * NotFound naming an id this run just made), see aws_common.c. */
int ax_ec2(struct sf_rctx *c, const char *action, json_t *params, json_t **out);
/* Mark an id as just made (ax_ec2 does it for the ids in Create* replies). */
void ax_fresh_add(struct sf_rctx *c, const char *id);
/* The same for IAM (query) and EKS (rest-json; body stolen, may be NULL). */
int ax_iam(struct sf_rctx *c, const char *action, json_t *params, json_t **out);
int ax_eks(struct sf_rctx *c, const char *method, const char *path, json_t *body, json_t **out);
/* EKS GET of one object at path: 0 and *obj (new reference) = the reply's
 * member key ("cluster", "nodegroup"); SF_EPROTO when the reply has none. */
int ax_eks_describe(struct sf_rctx *c, const char *path, const char *key, json_t **obj);
/* An EKS update of a cluster, or of its node group when nodegroup is set:
 * POST body (stolen) to path, wait for the returned update to succeed
 * (eks.UpdateSuccessful / eks.NodegroupUpdateSuccessful), then for the
 * object to be ACTIVE again (eks.ClusterActive / eks.NodegroupActive).
 * what names the update in progress lines. */
int ax_eks_update(struct sf_rctx *c, const char *path, const char *cluster, const char *nodegroup, json_t *body,
		  const char *what);

/* Delete the `available` ENIs matching one filter (e.g. "subnet-id",
 * "group-id", "vpc-id") that Kubernetes' VPC CNI or EKS left (by their
 * descriptions and tags): the ENI sweep of teardown.  Anyone else's stays,
 * and so does one whose cluster (its cluster.k8s.amazonaws.com/name tag,
 * or EKS's "Amazon EKS <cluster>") still exists: one DescribeCluster per
 * cluster named.  Count deleted or error. */
int ax_sweep_enis(struct sf_rctx *c, const char *filter, const char *value);

/* A sweep's delete of `what` `id` that returned rc: 1 deleted (said at
 * info), 0 not (gone already, or in use again: the sweep goes on to the
 * others and the caller's wait to the next try), else rc. */
int ax_swept(struct sf_rctx *c, int rc, const char *what, const char *id);

/* One delete attempt for ax_retry_conflict: del first, and only when AWS
 * answers that something still depends on the object (SF_ECONFLICT), sweep
 * the leftovers others made (available ENIs, Kubernetes security groups)
 * and delete once more.  A teardown where nothing was left behind then
 * costs one call per object, not a listing before every delete. */
int ax_delete_else_sweep(struct sf_rctx *c, ax_op_fn del, ax_op_fn sweep, void *ctx);

/* A short, name-safe suffix derived from the operation token (8 chars of
 * [a-z0-9]), so a create-before-destroy replacement gets a fresh name and a
 * resumed create the same one. out >= 9 bytes. */
void ax_token_suffix(struct sf_rctx *c, char out[9]);

/* read: out[k] = live when the prior manages k, or when live differs from
 * the value an unset k means (`dflt`, may be NULL = nothing), so a change
 * the spec never mentioned still shows as drift.  live is borrowed. */
void ax_read_attr(json_t *out, const json_t *prior, const char *k, const json_t *live, const json_t *dflt);

/* 1 if attribute k differs between a and b (absent on one side counts). */
int ax_changed(const json_t *a, const json_t *b, const char *k);

/* The in-place update of EC2 objects whose other attributes force a
 * replacement: sync the tags, and return `want` plus the prior id. */
int ax_ec2_update_tags(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out);

/* How to delete one kind of EC2 object (ax_ec2_destroy). */
struct ax_ec2_kind {
	const char *describe, *set_key, *id_key; /* find by token when no id was recorded */
	const char *blocker_filter;              /* ENI filter naming what still uses it, or NULL */
	double timeout_s;                        /* DependencyViolation retry budget */
	const char *what;                        /* "deleting the subnet" */
};

/* Delete by id (or, when a killed run never recorded it, by token),
 * retrying DependencyViolation until the deadline; already gone is success;
 * when giving up, the hint names what still uses it. del_once gets the id. */
int ax_ec2_destroy(struct sf_rctx *c, const json_t *prior, const struct ax_ec2_kind *k, ax_op_fn del_once);

#endif
