/*
 * apply.c - the graph walker (see apply.h).
 *
 * Structure: one node per change that is not a no-op; `waits[i]` lists the
 * nodes i must wait for.  A scheduler (mutex + condvar) hands ready nodes to
 * `parallelism` worker threads; a ticker thread emits "still ..." progress
 * and the lock heartbeat.  Each node runs its steps (delete and/or create,
 * or update) with state transitions written around every provider call.
 */
#include "provisioner/engine/apply.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "provisioner/engine/ownership.h"
#include "util.h"

enum nstate { N_WAITING, N_RUNNING, N_DONE, N_FAILED, N_SKIPPED };

struct node {
	const struct sf_change *ch;
	size_t *waits;
	size_t nwaits;
	enum nstate st;
	double started;
	double last_tick;
	char status[128];
	char typical[64];
	char id[256];
	char deposed[24];   /* the step works on a deposed object: its key */
	const char *phase;
	struct sf_err err;
	ssize_t with; /* this delete goes with that node's delete (sf_own.deleted_with): its index, or -1 */
	int gone;     /* this node's delete removed the live object, or found none: what went with it is gone too */
	int accepted; /* its create was accepted (record_id): what needs only the object to exist may start */
	double tail;  /* rank_tails: the usual seconds from its start to the end of the longest chain after it */
	int lazy;     /* asleep in a final wait nothing needs yet (needed_cb): not making progress */
	int slept;    /* this step slept so: its duration is not AWS's (no timing recorded) */
	char awaits[48]; /* running, but waiting while this run has changes of this type pending (pending_cb) */
	unsigned long asked; /* r->gen + 1 when needed_cb last worked out held, else 0 */
	int held;            /* that answer */
};

struct run {
	const struct sf_plan *plan;
	const struct sf_config *cfg;
	struct sf_state *st;
	const struct sf_apply_opts *o;
	struct node *v;
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t running, finished;
	size_t par;    /* --parallelism: steps at work at once (asleep ones not counted) */
	size_t asleep; /* running steps asleep in a final wait (node.lazy) */
	/* worker threads: par to begin with, one more whenever a step falling
	 * asleep leaves a step that could start without an idle worker */
	pthread_t *th;
	size_t nth, cap_th;
	int nospawn; /* a thread could not be started: sleepers give way instead */
	unsigned long gen; /* moves with every change needed_cb's answer depends on */
	int stop_ticker;
	int halted; /* the state can no longer be written (lock lost, connection gone,
		     * another writer got in): start nothing new */
	struct node *lost; /* the first step refused by the state */
	struct sf_apply_result *res;
	const struct sf_clock *clk; /* steps' elapsed time and progress ticks */
};

static double now_of(const struct run *r)
{
	return r->clk->now(r->clk->ctx);
}

struct wctx {
	struct sf_rctx rc;
	struct run *run;
	struct node *node;
};

static void emit(struct run *r, struct node *nd, enum sf_apply_ev type)
{
	if (!r->o->event)
		return;
	struct sf_apply_event ev = {
		.type = type,
		.address = nd->ch->address,
		.action = nd->ch->action,
		.phase = nd->phase,
		.elapsed = nd->started ? now_of(r) - nd->started : 0,
		.id = nd->id[0] ? nd->id : NULL,
		.status = nd->status[0] ? nd->status : NULL,
		.err = &nd->err,
		.typical = nd->typical[0] && strcmp(nd->typical, "-") ? nd->typical : NULL,
		.deposed = nd->deposed[0] ? nd->deposed : NULL,
	};
	r->o->event(r->o->ui, &ev);
}

/* A step begins: its phase, clock and id (the object it works on). */
static void step_start(struct run *r, struct node *nd, const char *phase, const char *id, const char *deposed)
{
	pthread_mutex_lock(&r->mu);
	nd->phase = phase;
	nd->started = nd->last_tick = now_of(r);
	nd->typical[0] = 0;
	nd->status[0] = 0;
	nd->slept = 0;
	snprintf(nd->id, sizeof nd->id, "%s", id ? id : "");
	snprintf(nd->deposed, sizeof nd->deposed, "%s", deposed ? deposed : "");
	pthread_mutex_unlock(&r->mu);
	emit(r, nd, SF_EV_START);
}

/* A step succeeded: feed "typical" durations for future runs and say so. */
static void step_done(struct run *r, struct node *nd)
{
	struct sf_err te = SF_ERR_INIT;
	pthread_mutex_lock(&r->mu);
	int slept = nd->slept;
	pthread_mutex_unlock(&r->mu);
	/* a step that slept until needed ended no earlier than it was asked
	 * again: only a bound on AWS's time, which would stretch the usual
	 * figure the next run's waits go by */
	if (nd->ch->type && nd->phase && !slept)
		sf_state_timing_add(r->st, nd->ch->type->name, nd->phase, now_of(r) - nd->started, &te);
	emit(r, nd, SF_EV_COMPLETE);
}

/* The deposed key's id part ("deposed:addr#1a2b3c4d" -> "1a2b3c4d"). */
static const char *deposed_label(const char *key)
{
	const char *h = key ? strrchr(key, '#') : NULL;
	return h ? h + 1 : key;
}

/* ---- state transitions (each its own transaction) ---- */

static int put_row(struct run *r, const struct sf_change *ch, enum sf_rstatus status, const json_t *attrs,
		   const char *id, const char *token, const char *const *deps, size_t ndeps, struct sf_err *err)
{
	struct sf_resource res = {0};
	res.address = (char *)ch->address;
	res.type = (char *)ch->type->name;
	res.id = (char *)id;
	res.status = status;
	res.attrs = (json_t *)attrs;
	res.token = (char *)token;
	res.schema_version = ch->type->schema_version;
	json_t *sens = json_array(), *dv = json_array();
	for (const struct sf_attr_def *a = ch->type->attrs; a->name; a++)
		if (a->flags & SF_ATTR_SENSITIVE)
			json_array_append_new(sens, json_string(a->name));
	/* values built from another resource's secret are sealed too */
	const char *k;
	json_t *v;
	json_object_foreach(ch->sens, k, v) if (!sf_rtype_attr(ch->type, k) ||
						!(sf_rtype_attr(ch->type, k)->flags & SF_ATTR_SENSITIVE))
		json_array_append_new(sens, json_string(k));
	for (size_t i = 0; i < ndeps; i++)
		json_array_append_new(dv, json_string(deps[i]));
	res.sensitive = sens;
	res.deps = dv;
	int rc = sf_state_put(r->st, &res, err);
	json_decref(sens);
	json_decref(dv);
	return rc;
}

/* Run fn inside BEGIN..COMMIT; on failure roll back. */
#define TX(r, err, body)                                                         \
	do {                                                                     \
		if (sf_state_begin((r)->st, (err)) < 0)                          \
			return (err)->code;                                      \
		int tx_rc_ = (body);                                             \
		if (tx_rc_ < 0) {                                                \
			sf_state_rollback((r)->st);                              \
			return tx_rc_;                                           \
		}                                                                \
		if (sf_state_commit((r)->st, (err)) < 0)                         \
			return (err)->code;                                      \
	} while (0)

static int journal(struct run *r, const char *addr, const char *op, const char *token, int64_t *id, struct sf_err *err)
{
	return sf_journal_intent(r->st, r->o->run_id, addr, op, token, NULL, id, err);
}

static char *result_json(const struct sf_err *e)
{
	if (!e || !e->code)
		return xstrdup("{\"ok\":true}");
	json_t *j = json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "code", sf_code_name(e->code), "message", e->msg,
			      "aws_code", e->aws_code);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* After a failed provider call: store the row's new status and the journal
 * result together. Best effort: the failure being reported matters more
 * than a second one writing it down (which is logged). */
static void record_failure(struct run *r, struct sf_resource *row, enum sf_rstatus status, int64_t jid,
			   const char *res)
{
	struct sf_err e = SF_ERR_INIT;
	row->status = status;
	if (sf_state_begin(r->st, &e) == 0 && sf_state_put(r->st, row, &e) == 0 &&
	    sf_journal_result(r->st, jid, 0, res, &e) == 0 && sf_state_commit(r->st, &e) == 0)
		return;
	sf_state_rollback(r->st);
	if (!sf_state_broken(r->st))
		sf_warn("%s: could not record the failure in the state: %s", row->address, e.msg);
}

static int sensitive_cb(struct sf_rctx *c, const char *name)
{
	return sf_change_sensitive(((struct wctx *)c)->node->ch, name);
}

static int typical_cb(struct sf_rctx *c, double *lo, double *hi)
{
	struct wctx *w = (struct wctx *)c;
	struct sf_err e = SF_ERR_INIT;
	size_t n = 0;
	const char *phase = w->node->phase;
	if (!phase || !w->node->ch->type ||
	    sf_state_timing_typical(w->run->st, w->node->ch->type->name, phase, lo, hi, &n, &e) < 0 || n < 3)
		return -1;
	return 0;
}

/* A part of a step keeps its timings as phase "<phase>/<part>" of the
 * type ("create/builder"), apart from the whole step's. */
static int part_phase(const struct wctx *w, const char *part, char *out, size_t n)
{
	const char *phase = w->node->phase;
	if (!phase || !part || !*part || !w->node->ch->type)
		return -1;
	int k = snprintf(out, n, "%s/%s", phase, part);
	return k > 0 && (size_t)k < n ? 0 : -1;
}

static int typical_part_cb(struct sf_rctx *c, const char *part, double *lo, double *hi)
{
	struct wctx *w = (struct wctx *)c;
	struct sf_err e = SF_ERR_INIT;
	char phase[96];
	size_t n = 0;
	if (part_phase(w, part, phase, sizeof phase) < 0 ||
	    sf_state_timing_typical(w->run->st, w->node->ch->type->name, phase, lo, hi, &n, &e) < 0 || n < 3)
		return -1;
	return 0;
}

static void part_took_cb(struct sf_rctx *c, const char *part, double seconds)
{
	struct wctx *w = (struct wctx *)c;
	struct sf_err e = SF_ERR_INIT;
	char phase[96];
	if (part_phase(w, part, phase, sizeof phase) == 0)
		sf_state_timing_add(w->run->st, w->node->ch->type->name, phase, seconds, &e);
}

static void reach(const struct run *r, size_t i, unsigned char *seen);

static size_t pending_cb(struct sf_rctx *c, const char *type)
{
	struct wctx *w = (struct wctx *)c;
	struct run *r = w->run;
	size_t self = (size_t)(w->node - r->v), n = 0;
	unsigned char *seen = xcalloc(r->n ? r->n : 1, 1);
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n; i++) {
		const struct node *nd = &r->v[i];
		if (i == self || (nd->st != N_WAITING && nd->st != N_RUNNING) || nd->ch->action == SF_ACT_DELETE ||
		    !nd->ch->type || strcmp(nd->ch->type->name, type))
			continue;
		memset(seen, 0, r->n);
		reach(r, i, seen);
		n += !seen[self]; /* one that waits for this one would never finish first */
	}
	/* while it waits for them, it waits on them (needed_cb) */
	if (strcmp(w->node->awaits, n ? type : "")) {
		snprintf(w->node->awaits, sizeof w->node->awaits, "%s", n ? type : "");
		r->gen++;
	}
	pthread_mutex_unlock(&r->mu);
	free(seen);
	return n;
}

/* ---- laziness: a final wait nothing needs yet sleeps (resource.h, needed) ----
 *
 * A step's last wait (a NAT gateway becoming available, an add-on ACTIVE)
 * may end long before anything can use it: everything that waits for it
 * also waits for something slower (the EKS cluster).  Its polls meanwhile
 * are calls for nothing.  needed_cb tells such a wait whether its end could
 * be used now; if not, it sleeps without calls and asks again.
 *
 * Over the unfinished nodes (waiting or running), with X the node asking:
 *   edges  i waits for j: waits[] (both directions of build_edges: for a
 *          delete, the nodes that wait for it are those whose deletes must
 *          come first), but not an accept-only wait that j's existence
 *          already satisfied (ready()); and for a running node that waits
 *          while this run has changes of a type pending (pending_cb:
 *          coredns until the node groups are up), every change it counted.
 *   active(Y)  Y is running and not asleep (and, if it waits on pending
 *          changes, one of those is active), or Y is waiting and one of
 *          its unfinished waits is active, or Y is ready and a worker is
 *          free to start it.  X itself is never active here, nor is a
 *          final wait that slept and woke: it was held only by what has
 *          ended since, and sleepers woken together (the run's last
 *          add-ons, two NAT gateways of one node group) read side by side
 *          rather than one after the other.  Except in (c): there a woken
 *          wait that something waits for is active (the run goes on after
 *          it: a NAT gateway read for the route its node groups wait for),
 *          so the run's sinks (add-ons only its end waits for) sleep on
 *          instead of waking with it; woken sinks still read together.
 *   held(N)  for an unfinished N:
 *     (a) N waits for an active Y that is not X and does not itself wait
 *         (transitively) for X; or, only when N is quick (its type's
 *         usual duration for the step is short, LZ_QUICK_S: a route
 *         table, an address, a subnet's delete), so that starting it late
 *         delays little:
 *     (b) N has dependents, and every one of them is held; or
 *     (c) N has none, and some active Z does not wait (transitively) for
 *         N: the run cannot end before Z anyway.
 *   needed(X) = not held(X), where X's own held uses only (b) and (c).
 * A node group is not quick: a NAT gateway whose route's node groups wait
 * only for it is needed, even while add-ons still settle elsewhere.
 * Deadlock-free: every active node is, at its root, a running node that is
 * not asleep, and such a node ends on its own (its waits do not depend on
 * anything asleep: a wait that does is not active; leaving more nodes out
 * of active only wakes more sleepers).  When none is left, nothing is
 * held, so every sleeping wait wakes.  Sleeping is one-way (a
 * wait that woke does not sleep again), so the run ends.  A sleeper makes
 * no calls, so it does not count against --parallelism: a ready node is
 * active while fewer than that many steps are at work, and a step that
 * falls asleep with no idle worker left, or a worker taking the last
 * idle thread while other steps could start beside sleepers, starts one
 * more worker thread (wake_worker), so what could start does (were it
 * left waiting for the sleeper's thread, the sleeper would be held by
 * whatever holds that step).  Only when no thread can be started do sleepers give way: while
 * every worker is taken and a step could start, nothing is held.
 * A sleeper asks every few milliseconds; the answer is worked out again
 * only when something it depends on moved (r->gen: a node started or
 * ended, slept or woke, began or stopped waiting on pending changes). */
struct lz {
	const struct run *r;
	size_t n, x;
	unsigned char *e;            /* e[i * n + j]: i waits for j (unfinished both) */
	signed char *act, *held, *onx; /* memo: -1 unknown, 2 being computed */
	signed char *act_c;            /* act as (c) counts it (lz_active) */
	unsigned char *seen;
};

/* Does nd's wait for dep already have what it needs: a create's
 * accept-only dependency whose object exists (sf_change_accepts)? */
static int accepted_for(const struct node *nd, const struct node *dep)
{
	return dep->accepted && sf_change_accepts(nd->ch, dep->ch->address);
}

static int unfinished(const struct node *nd)
{
	return nd->st == N_WAITING || nd->st == N_RUNNING;
}

/* Does some unfinished node wait for i? */
static int lz_awaited(const struct lz *z, size_t i)
{
	for (size_t k = 0; k < z->n; k++)
		if (z->e[k * z->n + i])
			return 1;
	return 0;
}

/* for_c: as rule (c) counts it, where a final wait that slept and woke is
 * at work when something waits for it (a NAT gateway read for its route):
 * the run goes on after it, so a sink need not wake for it. */
static int lz_active_as(struct lz *z, size_t i, int for_c)
{
	const struct run *r = z->r;
	const struct node *nd = &r->v[i];
	signed char *memo = for_c ? z->act_c : z->act;
	if (memo[i] >= 0)
		return memo[i] == 1; /* 2: a circle of implied waits, nothing active in it */
	memo[i] = 2;
	int a = 0, any = 0;
	for (size_t j = 0; j < z->n && !a; j++)
		if (z->e[i * z->n + j]) {
			any = 1;
			a = lz_active_as(z, j, for_c);
		}
	if (nd->st == N_RUNNING)
		a = !nd->lazy && (!nd->slept || (for_c && lz_awaited(z, i))) && (!nd->awaits[0] || a);
	else if (nd->st == N_WAITING && !any)
		a = !r->halted && !(r->o->cancel && *r->o->cancel) && r->running - r->asleep < r->par;
	else if (nd->st != N_WAITING)
		a = 0;
	memo[i] = (signed char)a;
	return a;
}

static int lz_active(struct lz *z, size_t i)
{
	return lz_active_as(z, i, 0);
}

/* Does i wait (transitively) for X? */
static int lz_onx(struct lz *z, size_t i)
{
	if (z->onx[i] >= 0)
		return z->onx[i] == 1;
	z->onx[i] = 2;
	int o = 0;
	for (size_t j = 0; j < z->n && !o; j++)
		if (z->e[i * z->n + j])
			o = j == z->x || lz_onx(z, j);
	z->onx[i] = (signed char)o;
	return o;
}

/* Mark in z->seen every node that waits (transitively) for i. */
static void lz_waiters(struct lz *z, size_t i)
{
	for (size_t k = 0; k < z->n; k++)
		if (z->e[k * z->n + i] && !z->seen[k]) {
			z->seen[k] = 1;
			lz_waiters(z, k);
		}
}

/* A step whose usual time (sf_rtype.typical, official seconds) is at most
 * this is quick: an API call or two, or a delete that may retry while AWS
 * lets go of what used it (a subnet's, up to two minutes).  A node group
 * (150-300 s) or a cluster is not. */
#define LZ_QUICK_S 120.0

/* The usual seconds of a change's step (sf_rtype.typical for its action;
 * a replacement's delete and create together; {0, 0} for a call or two). */
static struct sf_span step_span(const struct sf_change *ch)
{
	const struct sf_rtype *t = ch->type;
	if (!t)
		return (struct sf_span){0, 0};
	switch (ch->action) {
	case SF_ACT_CREATE: return t->typical.create;
	case SF_ACT_UPDATE: return t->typical.update;
	case SF_ACT_DELETE: return t->typical.delete;
	default:
		return (struct sf_span){t->typical.create.lo + t->typical.delete.lo,
					t->typical.create.hi + t->typical.delete.hi};
	}
}

static int lz_quick(const struct sf_change *ch)
{
	return step_span(ch).hi <= LZ_QUICK_S;
}

static int lz_held(struct lz *z, size_t i)
{
	size_t n = z->n;
	if (z->held[i] >= 0)
		return z->held[i] == 1; /* 2: not held (the safe answer: wake) */
	z->held[i] = 2;
	int h = 0, deps = 0, all = 1;
	for (size_t j = 0; i != z->x && j < n && !h; j++) /* (a) */
		if (z->e[i * n + j] && j != z->x && !lz_onx(z, j) && lz_active(z, j))
			h = 1;
	if (!h && i != z->x && !lz_quick(z->r->v[i].ch)) {
		z->held[i] = 0;
		return 0;
	}
	for (size_t k = 0; k < n && !h; k++) /* (b) */
		if (z->e[k * n + i]) {
			deps = 1;
			if (!lz_held(z, k))
				all = 0;
		}
	if (!h && deps)
		h = all;
	if (!h && !deps) { /* (c) */
		memset(z->seen, 0, n);
		lz_waiters(z, i);
		for (size_t k = 0; k < n && !h; k++)
			if (k != i && !z->seen[k] && unfinished(&z->r->v[k]) && lz_active_as(z, k, 1))
				h = 1;
	}
	z->held[i] = (signed char)h;
	return h;
}

static int ready(const struct run *r, size_t i);
static const json_t **delete_peers(const struct run *r, const struct node *nd, size_t *n);

/* Is node x held?  1 yes, 2 for now (ask again), 0 no.  Under r->mu. */
static int lz_is_held(const struct run *r, size_t x)
{
	size_t n = r->n;
	/* A sleeper keeps its thread.  When no more can be started, while
	 * every worker is taken and a step that could start waits for one,
	 * sleeping on would hold that step up (with a blocker that runs until
	 * it starts, until the blocker's deadline): the wait goes on, and its
	 * end frees the worker. */
	if (r->nospawn && r->running >= r->nth && !r->halted && !(r->o->cancel && *r->o->cancel))
		for (size_t i = 0; i < n; i++)
			if (ready(r, i))
				return 0;
	struct lz z = {.r = r,
		       .n = n,
		       .x = x,
		       .e = xcalloc(n * n, 1),
		       .act = xcalloc(n, 1),
		       .held = xcalloc(n, 1),
		       .onx = xcalloc(n, 1),
		       .act_c = xcalloc(n, 1),
		       .seen = xcalloc(n, 1)};
	unsigned char *reached = xcalloc(n, 1);
	for (size_t i = 0; i < n; i++) {
		const struct node *nd = &r->v[i];
		if (!unfinished(nd))
			continue;
		for (size_t k = 0; k < nd->nwaits; k++) {
			const struct node *dep = &r->v[nd->waits[k]];
			/* an accept-only wait the object's existence satisfied
			 * (ready()) does not need the step's end */
			if (unfinished(dep) && !accepted_for(nd, dep))
				z.e[i * n + nd->waits[k]] = 1;
		}
		if (nd->st != N_RUNNING || !nd->awaits[0])
			continue;
		for (size_t j = 0; j < n; j++) { /* what pending_cb counted for it */
			const struct node *p = &r->v[j];
			if (j == i || !unfinished(p) || p->ch->action == SF_ACT_DELETE || !p->ch->type ||
			    strcmp(p->ch->type->name, nd->awaits))
				continue;
			memset(reached, 0, n);
			reach(r, j, reached);
			if (!reached[i])
				z.e[i * n + j] = 1;
		}
	}
	memset(z.act, -1, n);
	memset(z.act_c, -1, n);
	memset(z.held, -1, n);
	memset(z.onx, -1, n);
	z.act[x] = z.act_c[x] = 0; /* the asker is about to sleep, or not needed to run on */
	int h = lz_held(&z, x);
	/* A sink that found nothing at work while a sleeper something waits
	 * for has not answered since the last move: that one is about to wake
	 * (then it is at work for (c) above) or to say what holds it (which
	 * holds the sink too).  Sleepers ask at the same instants, and a sink
	 * asking first would wake for nothing: it waits for that answer. */
	int sink = !h && !lz_awaited(&z, x);
	for (size_t i = 0; sink && !h && i < n; i++)
		if (i != x && r->v[i].lazy && r->v[i].asked != r->gen + 1 && lz_awaited(&z, i))
			h = 2;
	free(reached);
	free(z.e);
	free(z.act);
	free(z.act_c);
	free(z.held);
	free(z.onx);
	free(z.seen);
	return h;
}

static void *worker(void *arg);

/* One more worker thread, when a step that could start finds no idle
 * worker while sleepers leave slots free (a step fell asleep, one became
 * ready beside sleepers, or a worker took the last idle thread while more
 * could start).  Under r->mu. */
static void wake_worker(struct run *r)
{
	if (r->nospawn || r->running < r->nth || r->running - r->asleep >= r->par || r->halted)
		return;
	size_t i = 0;
	while (i < r->n && !ready(r, i))
		i++;
	if (i == r->n)
		return;
	if (r->nth == r->cap_th) {
		r->cap_th = r->cap_th ? r->cap_th * 2 : 4;
		r->th = xrealloc(r->th, r->cap_th * sizeof *r->th);
	}
	if (pthread_create(&r->th[r->nth], NULL, worker, r) != 0)
		r->nospawn = 1;
	else
		r->nth++;
}

/* A node's sleep begins (on 1) or ends (on 0).  Under r->mu. */
static void set_lazy(struct run *r, struct node *nd, int on)
{
	if (nd->lazy == on)
		return;
	nd->lazy = on;
	if (on)
		r->asleep++;
	else
		r->asleep--;
	r->gen++;
	if (on)
		wake_worker(r);
	pthread_cond_broadcast(&r->cv);
}

static int needed_cb(struct sf_rctx *c, int ask)
{
	struct wctx *w = (struct wctx *)c;
	struct run *r = w->run;
	struct node *nd = w->node;
	enum sf_action a = nd->ch->action;
	/* a replacement has another step after this wait */
	if (a != SF_ACT_CREATE && a != SF_ACT_DELETE && a != SF_ACT_UPDATE)
		return 1;
	pthread_mutex_lock(&r->mu);
	size_t x = (size_t)(nd - r->v);
	if (ask && nd->asked != r->gen + 1) { /* nothing it depends on moved: the same answer */
		nd->held = lz_is_held(r, x);
		/* 2: held until another sleeper answers (not kept) */
		nd->asked = nd->held == 2 ? 0 : r->gen + 1;
	}
	int need = !ask || !nd->held;
	/* SECFAAS_LOG=debug: the laziness rule's turns, which depend on what
	 * else is at work at the instant of asking */
	if (nd->lazy == need)
		sf_debug("apply: %s %s (%zu asleep, %zu running)", nd->ch->address,
			 !need ? (nd->held == 2 ? "sleeps until the sleepers asking with it answer"
						: "sleeps: all that waits for its end is held up by slower steps")
			       : ask ? "wakes: something can use its end now" : "wakes for its deadline or a cancel",
			 r->asleep, r->running);
	set_lazy(r, nd, !need);
	if (!need)
		nd->slept = 1;
	pthread_mutex_unlock(&r->mu);
	return need;
}

static int record_id_cb(struct sf_rctx *c, const char *id)
{
	struct wctx *w = (struct wctx *)c;
	struct sf_err e = SF_ERR_INIT;
	pthread_mutex_lock(&w->run->mu);
	snprintf(w->node->id, sizeof w->node->id, "%s", id ? id : "");
	pthread_mutex_unlock(&w->run->mu);
	/* Keep the row `creating` but remember the id, so a killed run can still
	 * destroy the object even if create never returned. */
	struct sf_resource *row = NULL;
	if (sf_state_get(w->run->st, w->node->ch->address, &row, &e) < 0)
		return e.code;
	free(row->id);
	row->id = xstrdup(id);
	json_object_set_new(row->attrs, "id", json_string(id));
	int rc = sf_state_put(w->run->st, row, &e);
	sf_resource_free(row);
	if (rc < 0) {
		sf_warn("%s: could not record id %s: %s", w->node->ch->address, id, e.msg);
		return rc;
	}
	/* only an id the state holds lets accept-only dependents start: what
	 * they make may then refer to it, and a killed run finds it again */
	pthread_mutex_lock(&w->run->mu);
	w->node->accepted = 1;
	w->run->gen++;
	/* what only needed the object to exist may start now: a worker for
	 * it if every one is taken while sleepers leave slots free */
	wake_worker(w->run);
	pthread_cond_broadcast(&w->run->cv);
	pthread_mutex_unlock(&w->run->mu);
	return 0;
}

static void progress_cb(struct sf_rctx *c, const char *status)
{
	struct wctx *w = (struct wctx *)c;
	pthread_mutex_lock(&w->run->mu);
	snprintf(w->node->status, sizeof w->node->status, "%s", status ? status : "");
	pthread_mutex_unlock(&w->run->mu);
}

static void note_cb(struct sf_rctx *c, const char *status)
{
	struct wctx *w = (struct wctx *)c;
	pthread_mutex_lock(&w->run->mu);
	snprintf(w->node->status, sizeof w->node->status, "%s", status ? status : "");
	w->node->last_tick = sf_mono();
	emit(w->run, w->node, SF_EV_PROGRESS);
	pthread_mutex_unlock(&w->run->mu);
}

/* Reference lookup at apply time: dependencies are done, read their state. */
struct alookup {
	struct run *r;
	json_t *held; /* array keeping looked-up rows' attrs alive */
};

static const json_t *apply_ref(const char *addr, const char *attr, void *ctx)
{
	struct alookup *al = ctx;
	struct sf_resource *row = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (sf_state_get(al->r->st, addr, &row, &e) < 0)
		return NULL;
	json_t *a = json_incref(row->attrs);
	if (row->id && !json_object_get(a, "id"))
		json_object_set_new(a, "id", json_string(row->id));
	sf_resource_free(row);
	json_array_append_new(al->held, a);
	const json_t *v = json_object_get(a, attr);
	return v && !json_is_null(v) ? v : NULL;
}

static int resolve_want(struct run *r, const struct sf_change *ch, json_t **want, struct sf_err *err)
{
	const struct sf_rinst *ri = sf_config_find(r->cfg, ch->address);
	if (!ri)
		return sf_fail(err, SF_ECORRUPT, "%s is planned but not in the configuration", ch->address);
	struct alookup al = {r, json_array()};
	int unknown = 0;
	*want = sf_refs_resolve(ri->config, apply_ref, &al, &unknown);
	json_decref(al.held);
	if (unknown) {
		json_decref(*want);
		*want = NULL;
		return sf_fail(err, SF_EDEPEND, "%s: a referenced value is still unknown after its dependencies ran",
			       ch->address);
	}
	if (ch->type->validate && ch->type->validate(*want, err) < 0) {
		json_decref(*want);
		*want = NULL;
		return err->code;
	}
	return 0;
}

static int create_generation(struct run *r, const char *addr)
{
	struct sf_journal_entry *v = NULL;
	size_t n = 0;
	struct sf_err e = SF_ERR_INIT;
	int gen = 0;
	if (sf_journal_list(r->st, addr, 0, &v, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].op, "create"))
				gen++;
	sf_journal_free(v, n);
	return gen;
}

/* ---- ownership (resource.h, ownership.h) ---- */

/* For SF_OWN_TAGS types: read the ownership tags of the live object attrs
 * names.  1 = ours, 0 = no such object, 2 = someone else's (*id and *tags
 * set for the message), < 0 = could not tell (err filled). */
static int own_probe(struct wctx *w, const json_t *attrs, const char *token, char **id, json_t **tags)
{
	const struct sf_own *own = sf_own_of(w->node->ch->type);
	*id = NULL;
	*tags = NULL;
	if (!own || own->kind != SF_OWN_TAGS || !own->marks)
		return 1;
	const char *saved = w->rc.token;
	w->rc.token = token;
	int rc = own->marks(&w->rc, attrs, id, tags);
	w->rc.token = saved;
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(w->rc.err);
		return 0;
	}
	if (rc < 0) {
		sf_err_prefix(w->rc.err, "cannot prove ownership: ");
		return rc;
	}
	if (sf_own_is_ours(*tags, sf_state_lineage(w->run->st), w->node->ch->address, token))
		return 1;
	return 2;
}

/* Destroy the object attrs names, only when it is this state's (token: the
 * operation that made it, may be NULL).  Someone else's object of that name
 * is left untouched: the state's object is gone, so the delete succeeds and
 * says so. */
static int owned_destroy(struct wctx *w, const json_t *attrs, const char *token)
{
	char *id = NULL;
	json_t *tags = NULL;
	const struct sf_own *ref = sf_own_of(w->node->ch->type);
	if (ref && ref->kind == SF_OWN_REF) {
		/* someone else's object, only ever read: forget it, touch nothing */
		const char *rid = json_string_value(json_object_get(attrs, "id"));
		sf_info("%s: %s %s is not this state's: left as it is, removed from the state", w->node->ch->address,
			ref->noun, rid ? rid : "?");
		return 0;
	}
	const struct sf_rtype *t = w->node->ch->type;
	if (t->delete_batch && w->node->ch->action == SF_ACT_DELETE) {
		size_t n;
		pthread_mutex_lock(&w->run->mu);
		const json_t **peers = delete_peers(w->run, w->node, &n);
		pthread_mutex_unlock(&w->run->mu);
		(void)t->delete_batch(&w->rc, peers, n);
		sf_err_clear(w->rc.err); /* a failed batch read is no failure: each delete reads for itself */
		free(peers);
	}
	w->rc.keep_marked = 1; /* what the proof reads may serve the destroy below */
	int rc = own_probe(w, attrs, token, &id, &tags);
	w->rc.keep_marked = 0;
	if (rc == 0)
		w->node->gone = 1;
	if (rc == 2) {
		const struct sf_own *own = sf_own_of(w->node->ch->type);
		char *who = sf_own_owner(tags);
		sf_warn("%s: %s %s belongs to %s, not to this state: left untouched, removed from the state",
			w->node->ch->address, own->noun ? own->noun : "object", id ? id : "?", who);
		free(who);
		rc = 0;
	} else if (rc == 1) {
		const char *saved = w->rc.token;
		w->rc.token = token;
		rc = w->node->ch->type->destroy(&w->rc, attrs);
		w->rc.token = saved;
		w->node->gone = rc == 0;
	}
	json_decref(w->rc.marked);
	w->rc.marked = NULL;
	free(id);
	json_decref(tags);
	return rc;
}

/* SF_OWN_PARENT types: the address of the parent this run deletes, or
 * NULL when the parent stays (or is not secfaas's). */
static const char *parent_deleted(struct run *r, const struct sf_change *ch)
{
	const struct sf_own *own = sf_own_of(ch->type);
	if (!own || own->kind != SF_OWN_PARENT || !own->parent_type)
		return NULL;
	for (size_t i = 0; i < ch->ndeps; i++) {
		const struct sf_change *p = sf_plan_find(r->plan, ch->deps[i]);
		if (p && p->type && !strcmp(p->type->name, own->parent_type) && p->action == SF_ACT_DELETE)
			return p->address;
	}
	return NULL;
}

/* Failures after which the provider may or may not have acted (a lost or
 * cut reply, a timeout, a local write that failed): the next apply resumes
 * with the same token rather than assume anything was made or not. */
static int ambiguous(int code)
{
	return code == SF_EINTR || code == SF_ETRANSIENT || code == SF_ETIMEOUT || code == SF_EPROTO ||
	       code == SF_EIO || code == SF_ETHROTTLED;
}

static int step_create(struct wctx *w, const json_t *want, const char *resume_token)
{
	struct run *r = w->run;
	struct node *nd = w->node;
	const struct sf_change *ch = nd->ch;
	struct sf_err *err = &nd->err;
	char token[33];
	if (resume_token && *resume_token)
		snprintf(token, sizeof token, "%s", resume_token);
	else
		sf_state_token(r->st, ch->address, "create", create_generation(r, ch->address), token);
	const struct sf_rinst *ri = sf_config_find(r->cfg, ch->address);
	int64_t jid = 0;
	TX(r, err, put_row(r, ch, SF_RS_CREATING, want, NULL, token, (const char *const *)ri->deps, ri->ndeps, err) < 0
			   ? err->code
			   : journal(r, ch->address, "create", token, &jid, err));
	/* a new object: never the id of the one it replaces */
	step_start(r, nd, "create", NULL, NULL);
	w->rc.token = token;
	w->rc.resumed = resume_token && *resume_token;
	json_t *out = NULL;
	int rc = ch->type->create(&w->rc, want, &out);
	w->rc.resumed = 0;
	w->rc.token = NULL; /* it names this frame's buffer */
	if (rc == 0 && !out)
		rc = sf_fail(err, SF_EPROTO, "%s: create returned no attributes", ch->address);
	struct sf_err e2 = SF_ERR_INIT;
	char *res = result_json(rc ? err : NULL);
	if (rc == 0) {
		const char *id = json_string_value(json_object_get(out, "id"));
		if (id)
			snprintf(nd->id, sizeof nd->id, "%s", id);
		if (sf_state_begin(r->st, &e2) < 0 ||
		    put_row(r, ch, SF_RS_CREATED, out, id, token, (const char *const *)ri->deps, ri->ndeps, &e2) < 0 ||
		    sf_journal_result(r->st, jid, 1, res, &e2) < 0 || sf_state_commit(r->st, &e2) < 0) {
			sf_state_rollback(r->st);
			*err = e2;
			rc = e2.code ? e2.code : SF_EIO;
		}
	} else {
		/* Interrupted, or an answer that leaves open whether the object was
		 * made: leave `creating` so the next apply resumes with the same
		 * token.  A definite refusal before any id was recorded (a fresh
		 * token, so nothing can carry it): no row at all, so nothing that
		 * may be someone else's is ever deletable from this state.  Failed
		 * after the object existed: `tainted`, the next plan replaces it. */
		struct sf_resource *row = NULL;
		pthread_mutex_lock(&r->mu);
		int have_id = nd->id[0] != 0;
		pthread_mutex_unlock(&r->mu);
		if (ambiguous(rc)) {
			if (sf_state_get(r->st, ch->address, &row, &e2) == 0)
				record_failure(r, row, SF_RS_CREATING, jid, res);
		} else if (!have_id && !resume_token) {
			if (sf_state_begin(r->st, &e2) < 0 || sf_state_remove(r->st, ch->address, &e2) < 0 ||
			    sf_journal_result(r->st, jid, 0, res, &e2) < 0 || sf_state_commit(r->st, &e2) < 0) {
				sf_state_rollback(r->st);
				sf_warn("%s: could not record the failure in the state: %s", ch->address, e2.msg);
			}
		} else if (sf_state_get(r->st, ch->address, &row, &e2) == 0) {
			record_failure(r, row, SF_RS_TAINTED, jid, res);
		}
		sf_resource_free(row);
	}
	free(res);
	json_decref(out);
	if (rc == 0)
		step_done(r, nd);
	return rc;
}

static int step_update(struct wctx *w, const json_t *prior, const json_t *want)
{
	struct run *r = w->run;
	struct node *nd = w->node;
	const struct sf_change *ch = nd->ch;
	struct sf_err *err = &nd->err;
	struct sf_resource *row = NULL;
	int64_t jid = 0;
	if (sf_state_get(r->st, ch->address, &row, err) < 0)
		return err->code;
	char token[33];
	sf_state_token(r->st, ch->address, "update", (int)sf_state_serial(r->st), token);
	if (journal(r, ch->address, "update", token, &jid, err) < 0) {
		sf_resource_free(row);
		return err->code;
	}
	step_start(r, nd, "update", row->id, NULL);
	w->rc.token = token;
	json_t *out = NULL;
	char *oid = NULL;
	json_t *otags = NULL;
	int rc = own_probe(w, prior ? prior : row->attrs, row->token, &oid, &otags);
	if (rc == 0) {
		sf_fail(err, SF_ENOTFOUND, "%s: the object was deleted outside secfaas", ch->address);
		rc = sf_err_hint(err, "run `secfaas plan` again: it will be created anew");
	} else if (rc == 2) {
		rc = sf_own_refuse(err, ch->address, sf_own_of(ch->type), oid, otags, "was replaced outside secfaas");
	}
	free(oid);
	json_decref(otags);
	if (rc == 1)
		rc = ch->type->update(&w->rc, prior ? prior : row->attrs, want, &out);
	w->rc.token = NULL; /* it names this frame's buffer */
	char *res = result_json(rc ? err : NULL);
	struct sf_err e2 = SF_ERR_INIT;
	if (rc == 0) {
		const struct sf_rinst *ri = sf_config_find(r->cfg, ch->address);
		if (sf_state_begin(r->st, &e2) < 0 ||
		    put_row(r, ch, SF_RS_CREATED, out ? out : want, row->id, row->token, (const char *const *)ri->deps,
			    ri->ndeps, &e2) < 0 ||
		    sf_journal_result(r->st, jid, 1, res, &e2) < 0 || sf_state_commit(r->st, &e2) < 0) {
			sf_state_rollback(r->st);
			*err = e2;
			rc = e2.code ? e2.code : SF_EIO;
		}
	} else {
		sf_journal_result(r->st, jid, 0, res, &e2);
	}
	free(res);
	json_decref(out);
	sf_resource_free(row);
	if (rc == 0)
		step_done(r, nd);
	return rc;
}

/* The state row a delete works on: 1 with *row set (the caller frees it),
 * 0 when the row is already gone from the state (nothing to do), or the
 * negative error of reading it. */
static int row_to_delete(struct run *r, const struct sf_change *ch, struct sf_resource **row, struct sf_err *err)
{
	int grc = sf_state_get(r->st, ch->address, row, err);
	if (grc == SF_ENOTFOUND) {
		sf_err_clear(err);
		return 0;
	}
	if (grc < 0)
		return err->code ? err->code : grc;
	return 1;
}

static int step_delete(struct wctx *w)
{
	struct run *r = w->run;
	struct node *nd = w->node;
	const struct sf_change *ch = nd->ch;
	struct sf_err *err = &nd->err;
	struct sf_resource *row = NULL;
	int64_t jid = 0;
	int grc = row_to_delete(r, ch, &row, err);
	if (grc <= 0)
		return grc;
	enum sf_rstatus prev = row->status;
	row->status = SF_RS_DELETING;
	char token[33];
	sf_state_token(r->st, ch->address, "delete", 0, token);
	if (sf_state_begin(r->st, err) < 0 || sf_state_put(r->st, row, err) < 0 ||
	    journal(r, ch->address, "delete", token, &jid, err) < 0 || sf_state_commit(r->st, err) < 0) {
		sf_state_rollback(r->st);
		sf_resource_free(row);
		return err->code ? err->code : SF_EIO;
	}
	step_start(r, nd, "delete", row->id, NULL);
	w->rc.token = row->token;
	json_t *prior = json_incref(row->attrs);
	if (row->id && !json_object_get(prior, "id")) {
		json_decref(prior);
		prior = json_deep_copy(row->attrs);
		json_object_set_new(prior, "id", json_string(row->id));
	}
	int rc = owned_destroy(w, prior, row->token);
	w->rc.token = NULL; /* row is freed below */
	const char *parent = rc < 0 && rc != SF_EINTR ? parent_deleted(r, ch) : NULL;
	if (parent) {
		/* e.g. a Kubernetes object whose API server cannot be reached:
		 * it goes with its cluster, which this run deletes anyway */
		sf_warn("%s: not deleted on its own (%s); it goes with %s, deleted in this run", ch->address, err->msg,
			parent);
		sf_err_clear(err);
		rc = 0;
	}
	json_decref(prior);
	char *res = result_json(rc ? err : NULL);
	struct sf_err e2 = SF_ERR_INIT;
	if (rc == 0) {
		if (sf_state_begin(r->st, &e2) < 0 || sf_state_remove(r->st, ch->address, &e2) < 0 ||
		    sf_journal_result(r->st, jid, 1, res, &e2) < 0 || sf_state_commit(r->st, &e2) < 0) {
			sf_state_rollback(r->st);
			*err = e2;
			rc = e2.code ? e2.code : SF_EIO;
		}
	} else {
		/* The object still exists: put the status back (an interrupted
		 * delete stays `deleting` so the next apply finishes it). */
		record_failure(r, row, rc == SF_EINTR ? SF_RS_DELETING : prev, jid, res);
	}
	free(res);
	sf_resource_free(row);
	if (rc == 0)
		step_done(r, nd);
	return rc;
}

/* A delete whose object went with its parent's (sf_own.deleted_with): the
 * parent's delete is confirmed (it removed the live object, or found it
 * gone), so no call is made; the row goes with the journal saying why.  A
 * kill before this point leaves the row, and the next run's refresh finds
 * the object gone. */
static int step_gone_with(struct wctx *w, const struct node *parent)
{
	struct run *r = w->run;
	struct node *nd = w->node;
	const struct sf_change *ch = nd->ch;
	struct sf_err *err = &nd->err;
	struct sf_resource *row = NULL;
	int64_t jid = 0;
	int grc = row_to_delete(r, ch, &row, err);
	if (grc <= 0)
		return grc;
	char token[33];
	sf_state_token(r->st, ch->address, "delete", 0, token);
	step_start(r, nd, "delete", row->id, NULL);
	json_t *rj = json_pack("{s:b, s:s}", "ok", 1, "deleted_with", parent->ch->address);
	char *res = json_dumps(rj, JSON_COMPACT);
	json_decref(rj);
	if (sf_state_begin(r->st, err) < 0 || journal(r, ch->address, "delete", token, &jid, err) < 0 ||
	    sf_state_remove(r->st, ch->address, err) < 0 || sf_journal_result(r->st, jid, 1, res, err) < 0 ||
	    sf_state_commit(r->st, err) < 0) {
		sf_state_rollback(r->st);
		free(res);
		sf_resource_free(row);
		return err->code ? err->code : SF_EIO;
	}
	free(res);
	sf_resource_free(row);
	sf_info("%s: deleted with %s", ch->address, parent->ch->address);
	/* no timing: it took no call, and would skew the type's usual delete */
	emit(r, nd, SF_EV_COMPLETE);
	return 0;
}

/* A replacement that keeps the old object (kept for reuse): only the new
 * one is made; the old one is reported, not destroyed. */
static int replace_keep(struct wctx *w, const json_t *want)
{
	struct run *r = w->run;
	const struct sf_change *ch = w->node->ch;
	char old[256] = "";
	struct sf_resource *row = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (sf_state_get(r->st, ch->address, &row, &e) == 0 && row->id)
		snprintf(old, sizeof old, "%s", row->id);
	sf_resource_free(row);
	int rc = step_create(w, want, NULL);
	if (!rc && old[0]) {
		pthread_mutex_lock(&r->mu);
		snprintf(w->node->id, sizeof w->node->id, "%s", old);
		pthread_mutex_unlock(&r->mu);
		emit(r, w->node, SF_EV_KEPT);
	}
	return rc;
}

/* Create-before-destroy: the new object first (the type gives it a
 * distinct identity), then the old one, recorded as deposed in between so
 * a killed run still destroys it later. */
static int replace_cbd(struct wctx *w, const json_t *want)
{
	struct run *r = w->run;
	const struct sf_change *ch = w->node->ch;
	int rc;
	struct sf_resource *old = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (sf_state_get(r->st, ch->address, &old, &e) < 0)
		return step_create(w, want, NULL);
	/* One key per deposed object, so a replacement that fails again
	 * cannot overwrite the record of an earlier one.  Sensitive values
	 * are left out: meta is not encrypted, and destroy goes by id. */
	unsigned char rb[4];
	char id[9];
	sf_random(rb, sizeof rb);
	sf_hex(id, rb, sizeof rb);
	char *key = xasprintf(SF_DEPOSED_PREFIX "%s#%s", ch->address, id);
	json_t *keep = json_deep_copy(old->attrs);
	for (const struct sf_attr_def *ad = ch->type->attrs; ad->name; ad++)
		if (ad->flags & SF_ATTR_SENSITIVE)
			json_object_del(keep, ad->name);
	char *oldj = json_dumps(keep, JSON_COMPACT);
	json_decref(keep);
	if (sf_state_meta_set(r->st, key, oldj, &w->node->err) < 0) {
		/* no record, no replacement: the old object must not be lost */
		rc = w->node->err.code;
		free(oldj);
		free(key);
		sf_resource_free(old);
		return rc;
	}
	rc = step_create(w, want, old->status == SF_RS_CREATING ? old->token : NULL);
	if (!rc) {
		/* the old object, now deposed, goes once the new one exists */
		step_start(r, w->node, "delete", old->id, deposed_label(key));
		rc = owned_destroy(w, old->attrs, old->token);
		if (!rc || rc == SF_ENOTFOUND) {
			rc = 0;
			sf_state_meta_set(r->st, key, NULL, &e);
			step_done(r, w->node);
		}
	}
	free(oldj);
	free(key);
	sf_resource_free(old);
	return rc;
}

/* The state's attributes with the live values plan read for every
 * settable, diffed, non-sensitive attribute; NULL without a live read. */
static json_t *live_prior(struct run *r, const struct sf_change *ch)
{
	struct sf_resource *row = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (!ch->before || !ch->has_prior || sf_state_get(r->st, ch->address, &row, &e) < 0)
		return NULL;
	json_t *p = json_deep_copy(row->attrs);
	if (row->id && !json_object_get(p, "id"))
		json_object_set_new(p, "id", json_string(row->id));
	for (const struct sf_attr_def *a = ch->type->attrs; a->name; a++) {
		if (!(a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL)) ||
		    (a->flags & (SF_ATTR_SENSITIVE | SF_ATTR_IGNORE_DRIFT | SF_ATTR_COMPUTED)))
			continue;
		json_t *v = json_object_get(ch->before, a->name);
		if (v)
			json_object_set(p, a->name, v);
		else
			json_object_del(p, a->name);
	}
	sf_resource_free(row);
	return p;
}

static int run_node(struct wctx *w)
{
	const struct sf_change *ch = w->node->ch;
	struct run *r = w->run;
	json_t *want = NULL;
	int rc = 0;
	if (ch->action != SF_ACT_DELETE && resolve_want(r, ch, &want, &w->node->err) < 0)
		return w->node->err.code;
	switch (ch->action) {
	case SF_ACT_CREATE: {
		const char *resume = NULL;
		struct sf_resource *row = NULL;
		struct sf_err e = SF_ERR_INIT;
		if (sf_state_get(r->st, ch->address, &row, &e) == 0 && row->status == SF_RS_CREATING)
			resume = row->token;
		rc = step_create(w, want, resume);
		sf_resource_free(row);
		break;
	}
	case SF_ACT_UPDATE: {
		/* Update from what plan saw live, so drift is reverted: a type
		 * compares prior with want, and the state alone would say
		 * nothing changed.  Computed and sensitive values come from the
		 * state (a saved plan may leave secrets out). */
		json_t *prior = live_prior(r, ch);
		rc = step_update(w, prior, want);
		json_decref(prior);
		break;
	}
	case SF_ACT_REPLACE:
	case SF_ACT_REPLACE_CBD:
		if (ch->keep_old) {
			rc = replace_keep(w, want);
		} else if (ch->action == SF_ACT_REPLACE_CBD) {
			rc = replace_cbd(w, want);
		} else {
			rc = step_delete(w);
			if (!rc && !(r->o->cancel && *r->o->cancel))
				rc = step_create(w, want, NULL);
			else if (!rc)
				rc = sf_fail(&w->node->err, SF_EINTR, "interrupted between delete and create");
		}
		break;
	case SF_ACT_DELETE:
		if (ch->reason == SF_REASON_DEPOSED) {
			/* The old object of an interrupted replacement: it has no row
			 * of its own; its record goes once it is gone. */
			step_start(r, w->node, "delete", json_string_value(json_object_get(ch->before, "id")),
				   deposed_label(ch->deposed_key));
			rc = owned_destroy(w, ch->before, NULL);
			if (rc == SF_ENOTFOUND)
				rc = 0;
			if (rc == 0 && sf_state_meta_set(r->st, ch->deposed_key, NULL, &w->node->err) < 0)
				rc = w->node->err.code;
			if (rc == 0)
				step_done(r, w->node);
			break;
		}
		/* the parent's node is done (this one waited for it); only a
		 * confirmed removal of the parent takes this object with it */
		if (w->node->with >= 0 && r->v[w->node->with].gone)
			rc = step_gone_with(w, &r->v[w->node->with]);
		else
			rc = step_delete(w);
		break;
	case SF_ACT_NOOP:
		break;
	}
	json_decref(want);
	return rc;
}

/* ---- scheduler ---- */

/* Waiting, and everything it waits for is done (or exists, for an
 * accept-only wait). */
static int deps_done(const struct run *r, size_t i)
{
	const struct node *nd = &r->v[i];
	if (nd->st != N_WAITING)
		return 0;
	for (size_t k = 0; k < nd->nwaits; k++) {
		const struct node *dep = &r->v[nd->waits[k]];
		if (dep->st != N_DONE && !accepted_for(nd, dep))
			return 0;
	}
	return 1;
}

/* A delete of a type whose deletes go together (resource.h delete_batch)
 * waits for the run's other deletes of that type to be able to start
 * too, except those that wait (transitively) for it: they could never
 * start first.  One whose dependency failed is skipped, and holds no one. */
static int held_for_peers(const struct run *r, size_t i)
{
	const struct node *nd = &r->v[i];
	if (nd->ch->action != SF_ACT_DELETE || !nd->ch->type || !nd->ch->type->delete_batch)
		return 0;
	unsigned char *seen = NULL;
	int held = 0;
	for (size_t j = 0; j < r->n && !held; j++) {
		const struct node *o = &r->v[j];
		if (j == i || o->st != N_WAITING || o->ch->action != SF_ACT_DELETE || o->ch->type != nd->ch->type ||
		    deps_done(r, j))
			continue;
		if (!seen)
			seen = xcalloc(r->n, 1);
		memset(seen, 0, r->n);
		reach(r, j, seen);
		held = !seen[i];
	}
	free(seen);
	return held;
}

static int ready(const struct run *r, size_t i)
{
	return deps_done(r, i) && !held_for_peers(r, i);
}

/* The prior attributes of the deletes of nd's type (delete_batch) this
 * run has not finished: nd's own, those starting with it, and those that
 * wait for it.  New array of borrowed objects; *n its length.  Under
 * r->mu. */
static const json_t **delete_peers(const struct run *r, const struct node *nd, size_t *n)
{
	const json_t **v = xcalloc(r->n ? r->n : 1, sizeof *v);
	*n = 0;
	for (size_t j = 0; j < r->n; j++) {
		const struct node *o = &r->v[j];
		if (o->ch->action == SF_ACT_DELETE && o->ch->type == nd->ch->type && o->ch->before &&
		    (o->st == N_RUNNING || o->st == N_WAITING))
			v[(*n)++] = o->ch->before;
	}
	return v;
}

/* Mark every node that (transitively) waits on a failed/skipped one. */
static void propagate_skips(struct run *r)
{
	int changed = 1;
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < r->n; i++) {
			struct node *nd = &r->v[i];
			if (nd->st != N_WAITING)
				continue;
			for (size_t k = 0; k < nd->nwaits; k++) {
				struct node *dep = &r->v[nd->waits[k]];
				if (dep->st == N_FAILED || dep->st == N_SKIPPED) {
					nd->st = N_SKIPPED;
					sf_fail(&nd->err, SF_EDEPEND, "skipped because %s %s", dep->ch->address,
						dep->st == N_FAILED ? "failed" : "was skipped");
					r->finished++;
					r->res->skipped++;
					emit(r, nd, SF_EV_SKIPPED);
					changed = 1;
					break;
				}
			}
		}
	}
}

static void *worker(void *arg)
{
	struct run *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (r->finished == r->n)
			break;
		int cancelled = r->o->cancel && *r->o->cancel;
		/* Fencing: a run whose lock was taken away (seen by a heartbeat
		 * or a refused commit) starts nothing more; what is in flight
		 * ends on its own and cannot record itself. */
		if (!r->halted && sf_state_broken(r->st)) {
			r->halted = 1;
			r->gen++;
		}
		ssize_t pick = -1;
		if (!cancelled && !r->halted && r->running - r->asleep < r->par)
			for (size_t i = 0; i < r->n; i++) /* the longest tail; the first of equals */
				if (ready(r, i) && (pick < 0 || r->v[i].tail > r->v[pick].tail))
					pick = (ssize_t)i;
		if (pick < 0) {
			if ((cancelled || r->halted) && r->running == 0) {
				/* Nothing in flight: mark the rest skipped and finish. */
				for (size_t i = 0; i < r->n; i++)
					if (r->v[i].st == N_WAITING) {
						r->v[i].st = N_SKIPPED;
						if (r->halted)
							sf_fail(&r->v[i].err, SF_ELOCKED,
								"not started: the state can no longer be written");
						else
							sf_fail(&r->v[i].err, SF_EINTR, "not started: interrupted");
						r->finished++;
						r->res->skipped++;
					}
				pthread_cond_broadcast(&r->cv);
				break;
			}
			sf_cond_wait_s(&r->cv, &r->mu, 0.1); /* re-check cancel regularly */
			continue;
		}
		struct node *nd = &r->v[pick];
		nd->st = N_RUNNING;
		nd->started = nd->last_tick = now_of(r);
		nd->phase = NULL;
		r->running++;
		r->gen++;
		/* this was the last idle thread, and steps ready beside it (an
		 * end readies several at once) may have slots that sleepers
		 * leave free: each gets a thread now, not when a step ends */
		wake_worker(r);
		pthread_mutex_unlock(&r->mu);

		struct wctx w = {0};
		w.rc.address = nd->ch->address;
		w.rc.err = &nd->err;
		w.rc.provider = r->o->providers;
		w.rc.cancel = r->o->cancel;
		w.rc.progress = progress_cb;
		w.rc.note = note_cb;
		w.rc.record_id = record_id_cb;
		w.rc.typical = typical_cb;
		w.rc.sensitive = sensitive_cb;
		w.rc.typical_part = typical_part_cb;
		w.rc.part_took = part_took_cb;
		w.rc.pending = pending_cb;
		w.rc.needed = needed_cb;
		w.rc.engine = r;
		w.run = r;
		w.node = nd;
		int rc = run_node(&w);

		pthread_mutex_lock(&r->mu);
		set_lazy(r, nd, 0);
		r->running--;
		r->finished++;
		r->gen++;
		nd->awaits[0] = 0;
		if (rc == 0) {
			/* each step already reported its completion */
			nd->st = N_DONE;
			switch (nd->ch->action) {
			case SF_ACT_CREATE: r->res->added++; break;
			case SF_ACT_UPDATE: r->res->changed++; break;
			case SF_ACT_REPLACE:
			case SF_ACT_REPLACE_CBD:
				r->res->added++;
				if (nd->ch->keep_old)
					r->res->kept++;
				else
					r->res->destroyed++;
				break;
			case SF_ACT_DELETE: r->res->destroyed++; break;
			case SF_ACT_NOOP: break;
			}
		} else {
			nd->st = N_FAILED;
			if (!nd->err.code)
				sf_fail(&nd->err, rc, "%s failed", nd->ch->address);
			if (rc == SF_EINTR)
				r->res->interrupted = 1;
			else
				r->res->failed++;
			/* A state that can no longer be written (this run lost its
			 * lock, its database connection is gone, or another writer
			 * got in) fails every step the same way: stop starting any,
			 * and leave the one message to the caller instead of one per
			 * resource. */
			if (sf_state_broken(r->st)) {
				r->halted = 1;
				if (!r->lost)
					r->lost = nd;
			} else {
				emit(r, nd, SF_EV_ERROR);
				propagate_skips(r);
			}
		}
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void *ticker(void *arg)
{
	struct run *r = arg;
	double last_hb = now_of(r);
	pthread_mutex_lock(&r->mu);
	while (!r->stop_ticker) {
		sf_cond_wait_s(&r->cv, &r->mu, 0.2);
		double now = now_of(r);
		for (size_t i = 0; i < r->n; i++) {
			struct node *nd = &r->v[i];
			if (nd->st == N_RUNNING && nd->phase && now - nd->last_tick >= r->o->progress_interval) {
				nd->last_tick = now;
				if (!nd->typical[0] && nd->phase && nd->ch->type) {
					double lo = 0, hi = 0;
					size_t n = 0;
					struct sf_err te = SF_ERR_INIT;
					if (sf_state_timing_typical(r->st, nd->ch->type->name, nd->phase, &lo, &hi, &n, &te) ==
						    0 &&
					    n >= 3) {
						char a[32], b[32];
						snprintf(nd->typical, sizeof nd->typical, "typical %s-%s",
							 sf_duration_fmt(a, sizeof a, lo), sf_duration_fmt(b, sizeof b, hi));
					} else {
						snprintf(nd->typical, sizeof nd->typical, "-"); /* looked, none */
					}
				}
				emit(r, nd, SF_EV_PROGRESS);
			}
		}
		if (r->o->lock_id && now - last_hb >= 30) {
			struct sf_err e = SF_ERR_INIT;
			last_hb = now;
			pthread_mutex_unlock(&r->mu);
			if (sf_lock_heartbeat(r->st, r->o->lock_id, &e) < 0 && !sf_state_broken(r->st))
				sf_warn("lock heartbeat failed: %s", e.msg);
			pthread_mutex_lock(&r->mu);
			if (sf_state_broken(r->st))
				pthread_cond_broadcast(&r->cv); /* workers stop picking */
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int changes_dep(const struct sf_change *c, const char *addr)
{
	for (size_t i = 0; i < c->ndeps; i++)
		if (!strcmp(c->deps[i], addr))
			return 1;
	return 0;
}

static void add_wait(struct node *nd, size_t j)
{
	for (size_t k = 0; k < nd->nwaits; k++)
		if (nd->waits[k] == j)
			return;
	nd->waits = xrealloc(nd->waits, (nd->nwaits + 1) * sizeof *nd->waits);
	nd->waits[nd->nwaits++] = j;
}

static void drop_wait(struct node *nd, size_t j)
{
	for (size_t k = 0; k < nd->nwaits; k++)
		if (nd->waits[k] == j) {
			nd->waits[k] = nd->waits[--nd->nwaits];
			return;
		}
}

static int waits_on(const struct node *nd, size_t j)
{
	for (size_t k = 0; k < nd->nwaits; k++)
		if (nd->waits[k] == j)
			return 1;
	return 0;
}

/* Does deleting an object of type `t` undo the link `of` holds to it
 * (sf_rtype.unlinked_by)? */
static int unlinks(const struct sf_rtype *t, const struct sf_rtype *of)
{
	for (const char *const *u = of && t ? of->unlinked_by : NULL; u && *u; u++)
		if (!strcmp(*u, t->name))
			return 1;
	return 0;
}

static double tail_of(struct run *r, size_t i, size_t **after, const size_t *nafter, unsigned char *mark)
{
	struct node *nd = &r->v[i];
	if (mark[i] == 2)
		return nd->tail;
	if (mark[i] == 1)
		return 0; /* a circle (cyclic() rebuilt the edges without one): no chain */
	mark[i] = 1;
	double most = 0;
	for (size_t k = 0; k < nafter[i]; k++) {
		double t = tail_of(r, after[i][k], after, nafter, mark);
		if (t > most)
			most = t;
	}
	/* a delete that goes with its parent's makes no call of its own */
	struct sf_span u = step_span(nd->ch);
	nd->tail = (nd->with >= 0 ? 0 : (u.lo + u.hi) / 2) + most;
	mark[i] = 2;
	return nd->tail;
}

/* Each node's tail: its usual time and the longest chain of usual times
 * of the steps that wait for it, directly or not.  A worker choosing
 * among steps that could start takes the one with the longest tail, so
 * the step the run's end hangs on (the Services a node group's delete
 * waits for, then that delete and the cluster's) does not queue behind
 * quick ones nothing long waits for. */
static void rank_tails(struct run *r)
{
	size_t n = r->n;
	size_t **after = xcalloc(n ? n : 1, sizeof *after), *nafter = xcalloc(n ? n : 1, sizeof *nafter);
	unsigned char *mark = xcalloc(n ? n : 1, 1);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < r->v[i].nwaits; k++) {
			size_t j = r->v[i].waits[k];
			after[j] = xrealloc(after[j], (nafter[j] + 1) * sizeof *after[j]);
			after[j][nafter[j]++] = i;
		}
	for (size_t i = 0; i < n; i++)
		tail_of(r, i, after, nafter, mark);
	for (size_t i = 0; i < n; i++)
		free(after[i]);
	free(after);
	free(nafter);
	free(mark);
}

/* Edges: creates/updates wait for the dependencies they reference (a
 * create not for an update-only one, sf_change_waits_for);
 * deletes wait for the deletion of whatever depended on them, except that
 * (when `shortcuts`) a dependent whose link that deletion undoes goes
 * after it instead (sf_rtype.unlinked_by). */
static void build_edges(struct run *r, int shortcuts)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].waits);
		r->v[i].waits = NULL;
		r->v[i].nwaits = 0;
		r->v[i].with = -1;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct sf_change *a = r->v[i].ch;
		for (size_t j = 0; j < r->n; j++) {
			const struct sf_change *b = r->v[j].ch;
			if (i == j)
				continue;
			int a_del = a->action == SF_ACT_DELETE, b_del = b->action == SF_ACT_DELETE;
			if (!a_del && !b_del && sf_change_waits_for(a, b->address))
				add_wait(&r->v[i], j);
			if (a_del && changes_dep(b, a->address) &&
			    (b_del || b->action == SF_ACT_REPLACE || b->action == SF_ACT_REPLACE_CBD)) {
				if (shortcuts && b_del && b->reason != SF_REASON_DEPOSED && unlinks(a->type, b->type))
					add_wait(&r->v[j], i);
				else
					add_wait(&r->v[i], j);
			}
			/* a deposed object goes after its replacement exists */
			if (a->reason == SF_REASON_DEPOSED && !b_del && !strcmp(a->address, b->address))
				add_wait(&r->v[i], j);
		}
	}
}

/* Mark in seen[] every node that node i waits for, transitively. */
static void reach(const struct run *r, size_t i, unsigned char *seen)
{
	for (size_t k = 0; k < r->v[i].nwaits; k++) {
		size_t j = r->v[i].waits[k];
		if (!seen[j]) {
			seen[j] = 1;
			reach(r, j, seen);
		}
	}
}

static int cyclic(const struct run *r)
{
	unsigned char *seen = xcalloc(r->n ? r->n : 1, 1);
	int bad = 0;
	for (size_t i = 0; i < r->n && !bad; i++) {
		memset(seen, 0, r->n);
		reach(r, i, seen);
		bad = seen[i];
	}
	free(seen);
	return bad;
}

/* Deletes that go with their parent's (sf_own.deleted_with, e.g. an EKS
 * add-on with its cluster): the object waits for the parent's delete
 * instead of going before it, and is then forgotten without a call
 * (step_gone_with).  What the object depends on still waits for it, so
 * nothing it uses goes while it exists -- except what the parent's delete
 * itself must wait for (a node group an add-on was created after: EKS
 * wants node groups gone before the cluster). */
static void ride_parents(struct run *r)
{
	int any = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct sf_change *ch = r->v[i].ch;
		const struct sf_own *own = sf_own_of(ch->type);
		if (ch->action != SF_ACT_DELETE || ch->reason == SF_REASON_DEPOSED || !own || !own->deleted_with)
			continue;
		for (size_t j = 0; j < r->n && r->v[i].with < 0; j++) {
			const struct sf_change *p = r->v[j].ch;
			if (j != i && p->action == SF_ACT_DELETE && p->reason != SF_REASON_DEPOSED && p->type &&
			    !strcmp(p->type->name, own->deleted_with) && changes_dep(ch, p->address))
				r->v[i].with = (ssize_t)j;
		}
		if (r->v[i].with >= 0) {
			drop_wait(&r->v[r->v[i].with], i);
			any = 1;
		}
	}
	if (!any)
		return;
	unsigned char *seen = xcalloc(r->n, 1);
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].with < 0)
			continue;
		memset(seen, 0, r->n);
		reach(r, (size_t)r->v[i].with, seen);
		for (size_t x = 0; x < r->n; x++)
			if (seen[x] && waits_on(&r->v[x], i))
				drop_wait(&r->v[x], i);
	}
	free(seen);
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].with >= 0)
			add_wait(&r->v[i], (size_t)r->v[i].with);
}

int sf_apply(const struct sf_plan *plan, const struct sf_config *cfg, struct sf_state *st,
	     const struct sf_apply_opts *opts, struct sf_apply_result *res, struct sf_err *err)
{
	struct run r = {0};
	memset(res, 0, sizeof *res);
	double t0 = sf_mono();
	r.plan = plan;
	r.cfg = cfg;
	r.st = st;
	r.o = opts;
	r.res = res;
	r.clk = opts->clock ? opts->clock : sf_clock_monotonic();
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.v = xcalloc(plan->n ? plan->n : 1, sizeof *r.v);
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].action != SF_ACT_NOOP)
			r.v[r.n++].ch = &plan->v[i];
	build_edges(&r, 1);
	ride_parents(&r);
	if (cyclic(&r)) /* a graph these shortcuts would close a circle in keeps every delete on its own */
		build_edges(&r, 0);
	rank_tails(&r);
	int par = opts->parallelism > 0 ? opts->parallelism : 1;
	if ((size_t)par > r.n)
		par = r.n ? (int)r.n : 1;
	r.par = (size_t)par;
	r.cap_th = (size_t)par;
	r.th = xcalloc(r.cap_th, sizeof *r.th);
	pthread_t tick;
	int have_tick = pthread_create(&tick, NULL, ticker, &r) == 0;
	pthread_mutex_lock(&r.mu);
	if (r.n)
		for (; r.nth < (size_t)par; r.nth++)
			if (pthread_create(&r.th[r.nth], NULL, worker, &r) != 0)
				break;
	if (r.nth < (size_t)par)
		r.nospawn = 1;
	pthread_mutex_unlock(&r.mu);
	if (r.n && r.nth == 0)
		worker(&r); /* could not start threads: run inline */
	/* workers started meanwhile (wake_worker) are joined too: none starts
	 * once every step has ended, which is when the first ones return */
	for (size_t i = 0;; i++) {
		pthread_mutex_lock(&r.mu);
		int more = i < r.nth;
		pthread_t t = more ? r.th[i] : (pthread_t){0};
		pthread_mutex_unlock(&r.mu);
		if (!more)
			break;
		pthread_join(t, NULL);
	}
	pthread_mutex_lock(&r.mu);
	r.stop_ticker = 1;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	if (have_tick)
		pthread_join(tick, NULL);
	res->seconds = sf_mono() - t0;

	int rc = 0;
	const struct sf_err *first = NULL;
	for (size_t i = 0; i < r.n; i++)
		if (r.v[i].st == N_FAILED && r.v[i].err.code != SF_EINTR && !first)
			first = &r.v[i].err;
	if (r.halted) {
		/* one error for the whole run: the state refused it (lost lock,
		 * lost connection or another writer), said by the first refusal */
		struct sf_err e = SF_ERR_INIT;
		if (r.lost && r.lost->err.code)
			e = r.lost->err;
		else
			sf_fail(&e, SF_ELOCKED, "state %s: this run lost its lock; it stopped starting operations",
				sf_state_path(st));
		*err = e;
		sf_err_prefix(err, "%d done, %d in flight when the state stopped taking writes, %d not started: ",
			      res->added + res->changed + res->destroyed, res->failed, res->skipped);
		rc = e.code;
	} else if (first) {
		*err = *first;
		if (res->failed > 1)
			sf_fail(err, first->code, "%d operations failed; first: %s", res->failed, first->msg);
		rc = first->code ? first->code : SF_ERROR;
	} else if (res->interrupted || (opts->cancel && *opts->cancel && res->skipped)) {
		res->interrupted = 1;
		rc = sf_fail(err, SF_EINTR, "interrupted; state saved, run apply again to continue");
	}
	for (size_t i = 0; i < r.n; i++)
		free(r.v[i].waits);
	free(r.v);
	free(r.th);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	return rc;
}
