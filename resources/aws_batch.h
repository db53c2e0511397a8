/*
 * aws_batch.h - EC2 reads of a plan's refresh, one filtered call per type
 * instead of one per object, shared by every workspace of a run; and IAM
 * roles, read for a large run in one listing of the account (below).
 *
 * Why: a refresh that reads each subnet, security group, route table... by
 * itself costs one round trip per object, so a fleet of applied clusters
 * costs thousands.  EC2's Describe* calls take many ids at once.  A type's
 * read_batch hook (provisioner/engine/resource.h) hands its ids here;
 * they are asked in one `Filter.1.Name=<type>-id` call per 200 ids (EC2
 * takes up to 200 values per filter), paginated with MaxResults (the largest page each
 * action takes: 1000, DescribeRouteTables 100) and NextToken.
 * The filter form, unlike the by-id parameter (SubnetId.N), does not fail
 * the whole call with InvalidSubnetID.NotFound when one id is gone: that id
 * is simply absent from the answer, which is how a batch says "gone".
 * (EC2 documents the same of every by-id list here: AllocationId.N fails
 * with InvalidAllocationID.NotFound, LaunchTemplateId.N with
 * InvalidLaunchTemplateId.NotFound; so every batch takes a filter.)  The
 * type's read() then takes its object from the answer (ax_ec2_read) instead
 * of calling; the ownership checks of the engine apply to it unchanged.
 *
 * Answers are grouped by Describe action, region and profile, so a fleet
 * run (plan --all) that shares one ax_reads between its workspaces asks
 * once per type and region for all of them: it first lets every workspace
 * register its ids while `gathering` (no call), then the first read of a
 * type fetches the union.  Only reads made with c->refreshing use answers;
 * every other read (after a change, an import) asks EC2 itself.
 *
 * Ownership: ax_reads_new's result is owned by whoever made it
 * (ax_reads_free); a run's providers own the one they make on demand
 * (resources/providers.c) and borrow one a fleet run hands them.
 */
#ifndef SF_AWS_BATCH_H
#define SF_AWS_BATCH_H

#include <jansson.h>

#include "provisioner/engine/resource.h"

/* One EC2 Describe action able to read many objects at once. */
struct ax_batch_def {
	const char *describe; /* "DescribeSubnets" */
	const char *id_param; /* "SubnetId": the by-id parameter of a single read */
	const char *set_key;  /* "subnetSet": the list in the reply */
	const char *id_key;   /* "subnetId": an item's id */
	const char *filter;   /* "subnet-id": the filter naming ids */
	int max_results;      /* the largest page the action takes (its model's MaxResults max);
			       * 0: the action takes no MaxResults (DescribeAddresses) */
	/* NULL: the filter takes the ids.  Else the prior's attribute whose
	 * value it takes instead ("name": DescribeLaunchTemplates has no id
	 * filter, its names are unique); the answer is still matched by id,
	 * so an object of that name with another id is not ours: gone. */
	const char *filter_attr;
};

/* EC2 takes at most 200 values in one filter. */
#define AX_BATCH_MAX_IDS 200

struct ax_reads;
struct ax_reads *ax_reads_new(void);
void ax_reads_free(struct ax_reads *r);
/* While on, ax_ec2_batch only records the ids it is given; the first
 * batch or read of each group after it is turned off fetches them all. */
void ax_reads_gather(struct ax_reads *r, int on);

/* A type's read_batch: fetch the objects the priors' "id" name (those not
 * answered yet in this run), as described above. */
int ax_ec2_batch(struct sf_rctx *c, const struct ax_batch_def *d, const json_t *const *priors, size_t n);
/* A type's read of one object by id: from the batch answer when
 * c->refreshing and one holds it (SF_ENOTFOUND, filled in c->err, when the
 * answer says it is gone), else one Describe by id. *obj: new reference. */
int ax_ec2_read(struct sf_rctx *c, const struct ax_batch_def *d, const char *id, json_t **obj);
/* Only the batch's answer: 0 with *obj (new reference), SF_ENOTFOUND (in
 * c->err) when it says the object is gone, 1 when there is none (not a
 * refresh, or the batch failed): the caller then asks AWS its own way. */
int ax_ec2_answer(struct sf_rctx *c, const struct ax_batch_def *d, const char *id, json_t **obj);

/* IAM roles.  IAM reads a role by name only (GetRole, then its inline
 * and attached policies: three calls a role), but
 * GetAccountAuthorizationDetails (Filter=Role, MaxItems 1000, Marker)
 * lists every role of the account with its trust policy, inline policy
 * documents, attached managed policies and every tag, one page per 1000
 * roles.  It lists the whole account, also roles that are not ours, so it
 * pays only when a run reads many roles: at AX_IAM_BATCH_MIN_ROLES or more
 * (per-role reads cost three calls each, 48 there, where a shared account
 * of up to 1000 roles is one page), every workspace of the run having
 * registered its roles first as for EC2.  Fewer, and a single workspace's
 * refresh (a cluster has 3-5 roles) reads each role by itself.  The
 * listing is asked once per run, partition and profile; a refusal
 * (AccessDenied: least-privilege credentials need not allow
 * iam:GetAccountAuthorizationDetails) or any other failure only costs that
 * call: each role is then read by itself.  A role the listing lacks is
 * gone.  Ownership is proven from the tags of the listing's own entry, as
 * from GetRole's. */
#define AX_IAM_BATCH_MIN_ROLES 16
/* aws_iam_role's read_batch: register the priors' "name"s (while the run
 * gathers), else list the account's roles as above when enough are asked. */
int ax_iam_role_batch(struct sf_rctx *c, const json_t *const *priors, size_t n);
/* The listing's entry (a RoleDetail) for a role: 0 with *detail (new
 * reference), SF_ENOTFOUND (in c->err) when the listing says it is gone,
 * 1 when there is none (not a refresh, too few roles, or the call failed). */
int ax_iam_role_answer(struct sf_rctx *c, const char *name, json_t **detail);

/* IAM roles deleted together.  A role's delete proves ownership
 * (ListRoleTags) and finds the instance profiles holding it
 * (ListInstanceProfilesForRole) first: two calls a role.  The engine
 * starts a run's role deletes side by side (resource.h delete_batch);
 * when the run has two or more to do, the first to start reads one
 * listing (GetAccountAuthorizationDetails, Filter=Role, MaxItems 1000)
 * that answers both for all of them: every tag, and each role's
 * InstanceProfileList.
 * It is read only while it costs fewer calls, at most 2n - 1 pages for n
 * roles, and stops at the page that holds the last of them; a role not
 * found in a listing cut short is read by itself, one missing from a
 * listing read to its end is gone.  The answer serves deletes that start
 * within AX_IAM_DELETE_FRESH_S seconds of it (of the wall clock, never
 * scaled: the proof is of the moment the role is changed, not of the
 * run's start), and a later delete reads again.  A refusal (least-privilege
 * credentials need not allow iam:GetAccountAuthorizationDetails) or any
 * other failure only costs that call. */
#define AX_IAM_DELETE_FRESH_S 10.0
/* aws_iam_role's delete_batch. */
int ax_iam_role_delete_batch(struct sf_rctx *c, const json_t *const *priors, size_t n);
/* The listing's RoleDetail for a role being deleted: 0 with *detail (new
 * reference), SF_ENOTFOUND (in c->err) when the listing says it is gone,
 * 1 when there is none (no fresh listing holds it). */
int ax_iam_role_delete_answer(struct sf_rctx *c, const char *name, json_t **detail);

/* Names.  A plan checks that every name a create will take is free
 * (c->name_check, provisioner/engine/resource.h): one call a name, so a
 * fleet of new workspaces asks thousands (minimal.yaml: four roles, an
 * instance profile and a cluster each).  A fleet run with at least
 * AX_NAMES_FLEET_MIN workspaces planned against nothing says so
 * (ax_reads_fleet); their checks then share one listing of the account's
 * names per kind, partition or region, and profile (ListRoles,
 * ListInstanceProfiles: a page per 1000; ListClusters: a page per 100),
 * asked once a run by the first check that needs it.  A name the listing
 * lacks is free (IAM's compared regardless of case, as IAM keeps them
 * unique; EKS's with connected clusters included); a name it holds is
 * read as before, for its tags (the listings carry none).  A listing is a moment's view, and IAM's lists
 * trail its writes: a name taken after it is found by the create, which
 * meets the existing name and refuses it unless its tags prove it ours,
 * as with any name taken between plan and apply.  A failed or refused
 * listing costs that call: every check then reads its own name. */
#define AX_NAMES_FLEET_MIN 8
struct ax_names_def {
	const char *noun;     /* "IAM role", for the log */
	const char *service;  /* "iam" (query protocol) or "eks" (rest-json) */
	const char *list;     /* "ListRoles", or the rest path "/clusters" */
	const char *list_key; /* "Roles", "clusters" */
	const char *name_key; /* "RoleName"; NULL: the list holds the names */
	int max_items;        /* query protocol's MaxItems (0: none) */
	int regional;         /* names are per region (EKS), not per partition */
	int fold_case;        /* names are unique regardless of case (IAM) */
};
extern const struct ax_names_def ax_names_iam_roles, ax_names_iam_profiles, ax_names_eks_clusters;
/* A fleet run's count of workspaces planned against nothing (see above). */
void ax_reads_fleet(struct ax_reads *r, size_t fresh);
/* For a name check (c->name_check): 0 when the fleet's listing of d's
 * names does not hold `name` (it is free: no call), 1 when it must be read
 * (the listing holds it, or there is none: not a name check, not a large
 * enough fleet, or the listing failed). */
int ax_name_listed(struct sf_rctx *c, const struct ax_names_def *d, const char *name);

#endif
