/*
 * plan.h - diff desired configuration against state (+ live reads) into a
 * list of per-resource changes; render it for people and machines; save
 * and load plan files.
 *
 * Calling steps:
 *   1. sf_plan_make(&plan, &config, state, &opts, &err)  (opts.types: the registry)
 *   2. sf_plan_render_human(&plan, out, color) / sf_plan_render_json(&plan)
 *   3. sf_plan_save(&plan, &config, path, &err) → apply later with
 *      sf_plan_load(&plan, &config, path, types, &err) + lineage/serial check
 *   4. sf_plan_release(&plan)
 *
 * Actions are a small closed enum; a replacement names the attributes that
 * force it and a reason.  Counting follows Terraform: a replacement counts
 * once in "add" and once in "destroy".
 */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "provisioner/engine/config.h"
#include "state/state.h"

/* State meta keys of deposed objects: SF_DEPOSED_PREFIX "<address>#<id>". */
#define SF_DEPOSED_PREFIX "deposed:"

enum sf_action {
	SF_ACT_NOOP = 0,
	SF_ACT_CREATE,
	SF_ACT_UPDATE,
	SF_ACT_REPLACE,      /* destroy then create  (-/+) */
	SF_ACT_REPLACE_CBD,  /* create then destroy  (+/-) */
	SF_ACT_DELETE,
};

enum sf_reason {
	SF_REASON_NONE = 0,
	SF_REASON_CANNOT_UPDATE, /* a force-new attribute changed */
	SF_REASON_TAINTED,       /* a previous create failed half-way */
	SF_REASON_BY_REQUEST,    /* --replace ADDR */
	SF_REASON_RESUME,        /* a killed run left it creating/deleting */
	SF_REASON_GONE,          /* deleted outside secfaas (refresh found nothing) */
	SF_REASON_NO_CONFIG,     /* removed from the spec */
	SF_REASON_DESTROY,       /* destroy mode */
	SF_REASON_DEPOSED,       /* the old object of an interrupted create-before-destroy */
};

const char *sf_action_name(enum sf_action a);  /* "create", "update", ... */
const char *sf_reason_name(enum sf_reason r);  /* "tainted", ... or NULL */

struct sf_attr_change {
	char *name;
	json_t *before, *after; /* NULL = absent; after NULL with unknown = known after apply */
	int unknown;            /* after is known only after apply */
	int forces;             /* this attribute forces replacement */
	int sensitive;
};

struct sf_change {
	char *address;
	const struct sf_rtype *type;
	enum sf_action action;
	enum sf_reason reason;
	json_t *before;         /* prior attributes (state/refreshed); NULL for create */
	json_t *after;          /* desired attributes with known references resolved; NULL for delete */
	struct sf_attr_change *attrs;
	size_t nattrs;
	char **deps;            /* for create/update: config deps; for delete: state deps */
	size_t ndeps;
	struct sf_strs update_only; /* of deps: those a create does not wait for (sf_rinst_add_update_dep) */
	struct sf_strs accept_only; /* of deps: those a create waits for only until their object
				     * exists (sf_rinst_add_accept_dep) */
	enum sf_rstatus prior_status; /* when before != NULL */
	int has_prior;
	char *deposed_key;      /* SF_REASON_DEPOSED: the state meta key holding it */
	int keep_old;           /* a replacement whose old object stays (type keep_replaced):
				 * counted as an add only, never destroyed by the apply */
	json_t *sens;           /* {name: true} of attributes whose value uses another
				 * resource's sensitive attribute; NULL if none */
};

/* Is attribute `name` of the change secret: flagged sensitive by its type,
 * or its value uses a sensitive attribute (directly or through another
 * such value)?  Plan output, JSON and plan files hide exactly these. */
int sf_change_sensitive(const struct sf_change *c, const char *name);

/* Does the create, update or replacement c wait for the change of addr
 * (one of its deps)?  Always, except a create for an update-only one. */
int sf_change_waits_for(const struct sf_change *c, const char *addr);

/* Does c, waiting for addr's change, need only addr's object to exist (a
 * create and an accept-only dependency), not addr's whole change? */
int sf_change_accepts(const struct sf_change *c, const char *addr);

struct sf_drift {
	char *address;
	char *what;             /* one line: "content changed", "deleted outside secfaas" */
};

struct sf_plan_opts {
	int destroy;            /* plan to destroy everything in state */
	int refresh;            /* read live objects first (default 1) */
	int refresh_only;       /* only report drift */
	const char **replace;   /* addresses to replace (--replace) */
	size_t nreplace;
	const char **targets;   /* limit to these addresses and their dependencies */
	size_t ntargets;
	void *providers;        /* passed to resource reads as rctx.provider */
	const struct sf_registry *types; /* types state rows may name (required), borrowed */
	int parallelism;        /* refresh reads at once (--parallelism); <= 1: one at a time */
};

struct sf_plan {
	struct sf_change *v;
	size_t n;
	struct sf_drift *drift;
	size_t ndrift;
	struct sf_drift *warnings; /* plan_review warnings: address + one line */
	size_t nwarnings;
	int add, change, destroy;
	int kept;               /* replacements keeping their old object (not in destroy) */
	char lineage[64];
	int64_t serial;
	char *spec_digest;
	int destroy_mode;
	int refresh_only;
	int errored;
	char created[32];
	char git_sha[48];       /* commit the specs came from (saved plans), "" if none */
};

/* st NULL: the workspace has no state yet (everything is created; the
 * plan has no lineage and cannot be saved for apply). */
int sf_plan_make(struct sf_plan *plan, const struct sf_config *cfg, struct sf_state *st,
		 const struct sf_plan_opts *opts, struct sf_err *err);
void sf_plan_release(struct sf_plan *plan);
/* Only the batch step of a refresh: hand every type with a read_batch hook
 * the rows of st that sf_plan_make would refresh, and nothing else (no
 * read, no diff).  A fleet run does this for every workspace first, so a
 * shared provider cache learns the ids of all of them before any is read
 * (resources/aws_batch.h).  Errors of the hooks are ignored, as in a plan. */
int sf_plan_prefetch(const struct sf_config *cfg, struct sf_state *st, const struct sf_plan_opts *opts,
		     struct sf_err *err);
int sf_plan_has_changes(const struct sf_plan *plan);
/* Set add/change/destroy/kept and each change's keep_old from the actions
 * (after making a plan or reading one back). */
void sf_plan_count(struct sf_plan *plan);
const struct sf_change *sf_plan_find(const struct sf_plan *plan, const char *address);

/* Human form, Terraform's layout: the drift block and the changes
 * (sf_plan_render_changes), then the "Plan: N to add, ..." line or "No
 * changes." (sf_plan_render_summary).  Callers that print something between
 * the two (the cost and time estimate) call them separately. */
void sf_plan_render_human(const struct sf_plan *plan, FILE *out, int color);
struct sf_plan_render_opts {
	int color;  /* ANSI colours */
	int full;   /* print every created nested value in full (default: a value
		     * longer than SF_PLAN_COLLAPSE_LINES lines is one summary line) */
};
#define SF_PLAN_COLLAPSE_LINES 16
void sf_plan_render_changes(const struct sf_plan *plan, FILE *out, const struct sf_plan_render_opts *o);
void sf_plan_render_summary(const struct sf_plan *plan, FILE *out, int color);
/* Terraform-shaped JSON (format_version 1.0): new reference. */
json_t *sf_plan_render_json(const struct sf_plan *plan);

/* Plan files: JSON with tool version, lineage, serial, config snapshot and
 * changes; written 0600.  No secret is in clear: sensitive values the
 * configuration sets are sealed with the state's key (sf_state_seal_attrs),
 * and the before/after values of sensitive attributes in the changes are
 * left out (apply reads prior values from the state, not from the plan),
 * keeping only whether they are set and whether they change.
 * save: st is the state the plan was made against.  load: SF_ECORRUPT on a
 * foreign/garbled file, SF_ESTALE with a clear message on version mismatch;
 * the configuration's sealed values stay sealed until sf_plan_unseal (after
 * apply has opened the state and checked the lineage). */
int sf_plan_save(const struct sf_plan *plan, const struct sf_config *cfg, struct sf_state *st, const char *path,
		 struct sf_err *err);
int sf_plan_load(struct sf_plan *plan, struct sf_config *cfg, const char *path, const struct sf_registry *types,
		 struct sf_err *err);
/* The same for a plan file's bytes already read (`path` names it in messages). */
int sf_plan_parse(struct sf_plan *plan, struct sf_config *cfg, const char *path, const char *text, size_t len,
		  const struct sf_registry *types, struct sf_err *err);
int sf_plan_unseal(const struct sf_plan *plan, struct sf_config *cfg, struct sf_state *st, struct sf_err *err);

#endif
