/* aws_common.c - shared helpers of the AWS resource types (see aws_common.h). */
#include "resources/aws_common.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "aws/awserr.h"
#include "aws/pollshare.h"
#include "clock.h"
#include "log.h"
#include "provisioner/engine/ownership.h"
#include "resources/providers.h"
#include "util.h"
#include "wait.h"

struct sf_aws *ax_client(struct sf_rctx *c)
{
	if (!c->provider) {
		sf_fail(c->err, SF_EINVAL, "%s: no AWS provider in this run", c->address);
		return NULL;
	}
	return sf_providers_aws((struct sf_providers *)c->provider, c->err);
}

const char *ax_s(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

char *ax_url_decode(const char *s)
{
	size_t n = s ? strlen(s) : 0, k = 0;
	char *o = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			o[k++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
			i += 2;
		} else {
			o[k++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	o[k] = 0;
	return o;
}

int ax_true(const json_t *v)
{
	return json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"));
}

/* SECFAAS_POLL_SCALE: official time -> time on this run's clock. */
static double poll_scale(void)
{
	const char *e = getenv("SECFAAS_POLL_SCALE");
	double scale = 1.0;
	if (e && *e) {
		char *end = NULL;
		double v = strtod(e, &end);
		if (end && !*end && v >= 0)
			scale = v;
	}
	return scale;
}

double ax_delay(double official_s)
{
	double d = official_s * poll_scale();
	return d < 0.001 ? 0.001 : d;
}

double ax_deadline(double official_s)
{
	/* scaled like the delays, but never so short that slow hosts
	 * (sanitizers, valgrind) time out on the calls themselves */
	double d = ax_delay(official_s), floor = official_s < 20 ? official_s : 20;
	return d > floor ? d : floor;
}

double ax_wait_deadline(double official_s)
{
	/* A transition's budget: what AWS does meanwhile is not only scaled
	 * waiting (a simulated control plane starts a real API server process),
	 * and a loaded host stretches that, so the floor is five minutes. */
	double d = ax_delay(official_s), floor = official_s < 300 ? official_s : 300;
	return d > floor ? d : floor;
}

int ax_sleep(struct sf_rctx *c, double s)
{
	if (sf_clock_nap(sf_clock_monotonic(), s, c->cancel) < 0)
		return sf_fail(c->err, SF_EINTR, "%s: interrupted while waiting", c->address);
	return 0;
}

struct ax_wait_ctx {
	struct sf_rctx *c;
	struct sf_aws *a;
	const struct sf_waiter_def *def;
	const json_t *args;
	const char *what;
	double scale;
	double lo, hi; /* where the end usually is, official seconds (sf_waiter_pause) */
	json_t *last;  /* the last reply, kept for ax_wait_reply */
	double before; /* seconds this wait had run before this loop (ax_wait_siblings) */
};

static int fresh_named(struct sf_rctx *c, const char *msg, char *out, size_t n);

static int ax_poll(void *ctx, char *status, size_t n, struct sf_err *err)
{
	struct ax_wait_ctx *w = ctx;
	char st[96], id[64];
	int verdict = SF_WAITER_PENDING;
	json_t *doc = NULL;
	int rc = sf_pollshare_poll(w->c, w->a, w->def, w->args, &verdict, st, sizeof st, &doc, err);
	/* an id this run just made is briefly unknown to EC2's readers
	 * (eventual consistency): not gone, not yet visible */
	if ((rc < 0 || verdict == SF_WAITER_FAILURE) && err->code == SF_ENOTFOUND &&
	    fresh_named(w->c, err->msg, id, sizeof id)) {
		json_decref(doc);
		snprintf(status, n, "%s not visible yet (eventual consistency)", id);
		sf_err_clear(err);
		return SF_WAIT_PENDING;
	}
	if (rc < 0)
		return rc;
	json_decref(w->last);
	w->last = doc;
	const char *label = w->def->label;
	snprintf(status, n, "%s%s%s", label ? label : "", label ? " " : "", st[0] ? st : "?");
	if (verdict == SF_WAITER_FAILURE)
		return sf_err_prefix(err, "%s: ", w->c->address);
	return verdict == SF_WAITER_SUCCESS ? SF_WAIT_DONE : SF_WAIT_PENDING;
}

/* The row's strategy, or polls placed near the usual end, fed the
 * official time and scaled.  A poll that falls inside the usual end's
 * window is moved to the nearest instant of a grid shared by every wait
 * (multiples of the row's fine step on the monotonic clock): waits of one
 * EC2 action near their ends then poll at the same instants, so their
 * polls share one call (aws/pollshare.h, told here when each poll is due),
 * however far apart they began.  The spacing there is the fine step
 * either way, so the time from AWS's end to the poll that sees it does
 * not grow; only the phase moves. */
static double ax_pause(void *ctx, int attempt, double elapsed_s)
{
	struct ax_wait_ctx *w = ctx;
	const struct sf_waiter_def *def = w->def;
	double scale = w->scale > 0 ? w->scale : 1, official = (elapsed_s + w->before) / scale;
	double p = def->delay ? def->delay(def, attempt, official) : sf_waiter_pause(def, w->lo, w->hi, official);
	double d = ax_delay(p), at = official + p;
	if (!sf_pollshare_can(def, w->args))
		return d;
	double now = sf_mono(), due = now + d;
	if (!def->delay && sf_waiter_in_window(at, w->lo, w->hi)) {
		double step = ax_delay(sf_waiter_fine_step(def));
		due = floor(due / step + 0.5) * step;
		if (due < now + d / 2) /* never less than half the pause it replaces */
			due += step;
	}
	sf_pollshare_expect(w->c, w->a, def, due);
	return due - now;
}

/* Where a wait's end usually is: for a row that knows AWS's usual figure,
 * the step's own history in this workspace when there is enough of it
 * (whole steps: the call, the wait and its last pause, so the low end is
 * taken a little earlier), or for a row that names its part, that part's
 * own history (ax_wait_begun records it), else the row's figure. */
static void usual_end(struct sf_rctx *c, const struct sf_waiter_def *def, double scale, double *lo, double *hi)
{
	*lo = def->typical_lo;
	*hi = def->typical_hi;
	double a = 0, b = 0;
	int known = def->part ? c->typical_part && c->typical_part(c, def->part, &a, &b) == 0
			      : c->typical && c->typical(c, &a, &b) == 0;
	if (def->typical_hi > 0 && known && b > 0 && scale > 0) {
		*lo = a * 0.9 / scale;
		*hi = b / scale;
	}
}

static void ax_progress(void *ctx, const char *status, int attempt, double elapsed_s)
{
	struct ax_wait_ctx *w = ctx;
	(void)attempt;
	if (!w->c->progress)
		return;
	char d[32], line[256];
	sf_duration_fmt(d, sizeof d, elapsed_s + w->before);
	snprintf(line, sizeof line, "%s: %s (%s elapsed)", w->what, status[0] ? status : "waiting", d);
	w->c->progress(w->c, line);
}

static double wait_budget(struct sf_rctx *c, double timeout_s)
{
	return c->timeout_s > 0 ? c->timeout_s : ax_wait_deadline(timeout_s);
}

/* The wait loop.  before: seconds the wait has already run (a sibling's
 * wait it followed, and its own read after it, or a sleep until needed),
 * counted toward the budget and the usual end; polled: that read was
 * made, so pause first; slept: seconds of before spent asleep until the
 * object was needed (ax_until_needed). */
static int wait_with(struct sf_rctx *c, struct sf_aws *a, const struct sf_waiter_def *def, const json_t *args,
		     double timeout_s, const char *what, int begun, json_t **last, double before, int polled,
		     double slept)
{
	struct ax_wait_ctx w = {c, a, def, args, what, poll_scale(), 0, 0, NULL, before};
	usual_end(c, def, w.scale, &w.lo, &w.hi);
	if (sf_pollshare_can(def, args)) /* polls from now on; ax_pause says when */
		sf_pollshare_expect(c, a, def, 0);
	double budget = wait_budget(c, timeout_s) - before;
	if (budget <= 0)
		budget = 1e-3;
	struct sf_wait_loop loop = {
		.name = def->name,
		/* a wait that began with the transition reads first at its
		 * usual start, or at once when that has passed (a sleep until
		 * needed outlasted it) */
		.first_delay_s = polled || (begun && !def->delay && w.hi > w.lo && w.lo > 0 && before / w.scale < w.lo)
					 ? ax_pause(&w, 0, 0)
					 : 0,
		.delay = ax_pause,
		.delay_ctx = &w,
		.timeout_s = budget,
		.cancel = c->cancel,
		.progress = ax_progress,
		.progress_ctx = &w,
	};
	struct sf_wait_result res;
	int rc = sf_wait_run(&loop, ax_poll, &w, &res, c->err);
	sf_pollshare_leave(c);
	/* a part's history: only waits that began with the transition say
	 * how long it takes (one that found it half done would shorten it),
	 * and after a sleep until needed only one that saw it still under way
	 * (else it ended at some time during the sleep) */
	if (rc == 0 && begun && !polled && def->part && c->part_took && (slept <= 0 || res.attempts > 1))
		c->part_took(c, def->part, res.elapsed_s + before);
	if (last && rc == 0)
		*last = w.last;
	else
		json_decref(w.last);
	if (rc == SF_EINTR)
		return sf_fail(c->err, SF_EINTR, "%s: interrupted while waiting", c->address);
	if (rc == SF_ETIMEOUT) {
		char d[32];
		sf_duration_fmt(d, sizeof d, budget + before);
		sf_fail(c->err, SF_ETIMEOUT, "%s: %s still %s after %s", c->address, what,
			res.status[0] ? res.status : "pending", d);
		return sf_err_hint(c->err, "run apply again to keep waiting; the object is recorded in state");
	}
	return rc;
}

static int wait_run(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		    const char *what, int begun, json_t **last)
{
	struct sf_aws *a = ax_client(c);
	int rc = a ? 0 : c->err->code;
	if (last)
		*last = NULL;
	if (!rc && !def)
		rc = sf_fail(c->err, SF_EINVAL, "%s: no such waiter for %s", c->address, what);
	double slept = 0;
	if (!rc && (begun & AX_FINAL)) {
		/* asleep, it may wake and read at any moment: a poll of its
		 * action then waits a moment for it (aws/pollshare.h) */
		if (sf_pollshare_can(def, args))
			sf_pollshare_expect(c, a, def, 0);
		rc = ax_until_needed(c, what, sf_mono() + wait_budget(c, timeout_s), &slept);
	}
	if (!rc)
		rc = wait_with(c, a, def, args, timeout_s, what, begun & AX_BEGUN, last, slept, 0, slept);
	sf_pollshare_leave(c);
	json_decref(args);
	return rc;
}

int ax_wait_reply(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		  const char *what, json_t **last)
{
	return wait_run(c, def, args, timeout_s, what, 0, last);
}

int ax_wait_begun(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		  const char *what, json_t **last)
{
	return wait_run(c, def, args, timeout_s, what, AX_BEGUN, last);
}

int ax_wait_final(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s,
		  const char *what, int begun, json_t **last)
{
	return wait_run(c, def, args, timeout_s, what, (begun ? AX_BEGUN : 0) | AX_FINAL, last);
}

int ax_until_needed(struct sf_rctx *c, const char *what, double deadline, double *slept)
{
	double t0 = sf_mono();
	*slept = 0;
	if (!c->needed || c->needed(c, 1))
		return 0;
	if (c->progress) {
		char line[256];
		snprintf(line, sizeof line, "%s: nothing needs it yet; read when something does", what);
		c->progress(c, line);
	}
	int rc = 0;
	/* the engine's answer changes when a step ends or starts, and it
	 * works it out again only then: asking every 20 ms costs nothing and
	 * wakes the wait within that of it.  Every sleeper asks at the same
	 * instants (multiples of 20 ms on the monotonic clock), so sleepers
	 * woken by one step's end make their first reads together, and those
	 * of one EC2 action share one call (aws/pollshare.h). */
	while (rc == 0 && sf_mono() < deadline) {
		rc = ax_sleep(c, 0.02 - fmod(sf_mono(), 0.02));
		if (rc == 0 && c->needed(c, 1))
			break;
	}
	if (rc < 0 || sf_mono() >= deadline)
		c->needed(c, 0); /* awake: polling, or leaving */
	*slept = sf_mono() - t0;
	return rc;
}

int ax_wait(struct sf_rctx *c, const struct sf_waiter_def *def, json_t *args, double timeout_s, const char *what)
{
	return ax_wait_reply(c, def, args, timeout_s, what, NULL);
}

void ax_wait_soon(struct sf_rctx *c, const struct sf_waiter_def *def)
{
	/* no client: nothing to say (the calls will fail, saying why) */
	struct sf_aws *a = c->provider ? sf_providers_aws((struct sf_providers *)c->provider, NULL) : NULL;
	if (a)
		sf_pollshare_expect_after(c, a, def);
}

void ax_wait_unsay(struct sf_rctx *c)
{
	sf_pollshare_leave(c);
}

/* ---- siblings: one poll loop for objects going through one transition ----
 * A group is (client, waiter row, key): one region and account, one kind of
 * transition, one parent.  While one member's wait polls (it leads), the
 * others sleep; when it ends they read their own object once each, and one
 * that is not done yet leads (or follows) again. */
struct sib_group {
	struct sib_group *next;
	const struct sf_aws *client;
	const struct sf_waiter_def *def;
	char *key;
	const char *leader;   /* the leading wait's address (borrowed while it leads); NULL: none leads */
	unsigned long ended;  /* leading waits that have ended */
	int users;
};

static pthread_mutex_t sib_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sib_cv = PTHREAD_COND_INITIALIZER;
static struct sib_group *sib_groups;

/* Under sib_mu. */
static struct sib_group *sib_join(const struct sf_aws *a, const struct sf_waiter_def *def, const char *key)
{
	struct sib_group *g;
	for (g = sib_groups; g; g = g->next)
		if (g->client == a && g->def == def && !strcmp(g->key, key))
			break;
	if (!g) {
		g = xcalloc(1, sizeof *g);
		g->client = a;
		g->def = def;
		g->key = xstrdup(key);
		g->next = sib_groups;
		sib_groups = g;
	}
	g->users++;
	return g;
}

/* Under sib_mu. */
static void sib_leave(struct sib_group *g)
{
	if (--g->users > 0)
		return;
	for (struct sib_group **p = &sib_groups; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	free(g->key);
	free(g);
}

/* Sleep until the group's leading wait ends: 1 it ended, 0 none led, or
 * SF_EINTR / SF_ETIMEOUT (c->err filled) at *c->cancel or the deadline
 * (sf_mono() seconds).  Under sib_mu. */
static int sib_follow(struct sf_rctx *c, struct sib_group *g, double deadline, const char *what)
{
	if (!g->leader)
		return 0;
	unsigned long seen = g->ended;
	if (c->progress) { /* not under the lock: the callback may take others */
		char line[256];
		snprintf(line, sizeof line, "%s: waiting while %s is polled, then one read", what, g->leader);
		pthread_mutex_unlock(&sib_mu);
		c->progress(c, line);
		pthread_mutex_lock(&sib_mu);
	}
	while (g->leader && g->ended == seen) {
		if (c->cancel && *c->cancel)
			return sf_fail(c->err, SF_EINTR, "%s: interrupted while waiting", c->address);
		double now = sf_mono();
		if (now >= deadline)
			return sf_fail(c->err, SF_ETIMEOUT, "%s: %s still pending after waiting for %s", c->address,
				       what, g->leader);
		/* wake at least every 50 ms to look at *c->cancel */
		sf_cond_wait_s(&sib_cv, &sib_mu, deadline - now < 0.05 ? deadline - now : 0.05);
	}
	return 1;
}

int ax_wait_siblings(struct sf_rctx *c, const char *key, const struct sf_waiter_def *def, json_t *args,
		     double timeout_s, const char *what, int begun, json_t **last)
{
	struct sf_aws *a = ax_client(c);
	int rc = a ? 0 : c->err->code;
	if (last)
		*last = NULL;
	if (!rc && !def)
		rc = sf_fail(c->err, SF_EINVAL, "%s: no such waiter for %s", c->address, what);
	double start = sf_mono(), deadline = start + wait_budget(c, timeout_s), slept = 0;
	/* a sleep until needed comes before joining: a sleeper neither leads
	 * nor follows, and wakes to lead or to follow what still polls */
	if (!rc && (begun & AX_FINAL))
		rc = ax_until_needed(c, what, deadline, &slept);
	begun &= AX_BEGUN;
	if (rc < 0 || !key) {
		if (!rc)
			rc = wait_with(c, a, def, args, timeout_s, what, begun, last, slept, 0, slept);
		json_decref(args);
		return rc;
	}
	int polled = 0;
	pthread_mutex_lock(&sib_mu);
	struct sib_group *g = sib_join(a, def, key);
	for (;;) {
		int f = sib_follow(c, g, deadline, what);
		if (f < 0) {
			rc = f;
			break;
		}
		if (f == 0) { /* nobody polls: this wait leads */
			g->leader = c->address ? c->address : what;
			pthread_mutex_unlock(&sib_mu);
			rc = wait_with(c, a, def, args, timeout_s, what, begun && !polled, last, sf_mono() - start, polled,
				       slept);
			pthread_mutex_lock(&sib_mu);
			g->leader = NULL;
			g->ended++;
			pthread_cond_broadcast(&sib_cv);
			break;
		}
		/* the leader is done: one read of this object */
		pthread_mutex_unlock(&sib_mu);
		struct ax_wait_ctx w = {c, a, def, args, what, poll_scale(), 0, 0, NULL, sf_mono() - start};
		char status[512] = "";
		rc = ax_poll(&w, status, sizeof status, c->err);
		polled = 1;
		if (rc >= 0)
			ax_progress(&w, status, 1, 0);
		if (rc == SF_WAIT_DONE && last)
			*last = w.last;
		else
			json_decref(w.last);
		pthread_mutex_lock(&sib_mu);
		if (rc != SF_WAIT_PENDING) {
			rc = rc < 0 ? rc : 0;
			break;
		}
	}
	sib_leave(g);
	pthread_mutex_unlock(&sib_mu);
	json_decref(args);
	return rc;
}

int ax_retry_conflict(struct sf_rctx *c, ax_op_fn op, void *ctx, double timeout_s, const char *what)
{
	double start = sf_mono(), wait = ax_delay(1.0), cap = ax_delay(30.0);
	timeout_s = ax_deadline(timeout_s);
	for (int attempt = 1;; attempt++) {
		int rc = op(c, ctx);
		if (rc != SF_ECONFLICT)
			return rc;
		if (sf_mono() - start + wait > timeout_s) {
			sf_err_prefix(c->err, "%s: gave up after %d attempts: ", what, attempt);
			return rc;
		}
		sf_debug("%s: %s: %s (attempt %d), retrying", c->address, what, c->err->msg, attempt);
		if (c->progress) {
			char line[256];
			snprintf(line, sizeof line, "%s: waiting for dependencies (attempt %d)", what, attempt);
			c->progress(c, line);
		}
		int s = ax_sleep(c, wait);
		if (s < 0)
			return s;
		sf_err_clear(c->err);
		wait *= 2;
		if (wait > cap)
			wait = cap;
	}
}

const char *ax_workspace(struct sf_rctx *c)
{
	const struct sf_providers *p = c->provider;
	return p && p->workspace ? p->workspace : "";
}

const char *ax_lineage(struct sf_rctx *c)
{
	const struct sf_providers *p = c->provider;
	return p && p->lineage ? p->lineage : "";
}

static void owner_tags(struct sf_rctx *c, json_t *t, int with_token)
{
	const struct sf_providers *p = c->provider;
	if (p && p->workspace)
		json_object_set_new(t, SF_TAG_WORKSPACE, json_string(p->workspace));
	if (p && p->lineage)
		json_object_set_new(t, SF_TAG_LINEAGE, json_string(p->lineage));
	json_object_set_new(t, SF_TAG_ADDRESS, json_string(c->address));
	if (with_token && c->token)
		json_object_set_new(t, SF_TAG_TOKEN, json_string(c->token));
	const char *ttl = p && p->metadata ? ax_s(p->metadata, "ttl") : NULL;
	double secs;
	if (ttl && sf_duration_parse(ttl, &secs) == 0) {
		char ts[40];
		sf_time_rfc3339(ts, sizeof ts, sf_now() + secs);
		json_object_set_new(t, SF_TAG_EXPIRES, json_string(ts));
	}
}

json_t *ax_tags(struct sf_rctx *c, const json_t *want, int with_token)
{
	json_t *t = json_object();
	const json_t *user = json_object_get(want, "tags");
	if (json_is_object(user))
		json_object_update(t, (json_t *)user);
	owner_tags(c, t, with_token);
	return t;
}

json_t *ax_owner_tags(struct sf_rctx *c)
{
	json_t *t = json_object();
	owner_tags(c, t, 1);
	return t;
}

int ax_adopt(struct sf_rctx *c, const struct sf_own *own, const char *id, const json_t *tags)
{
	if (sf_own_is_ours(tags, ax_lineage(c), c->address, c->token))
		return 0;
	return sf_own_refuse(c->err, c->address, own, id, tags, "already exists");
}

int ax_iam_find(struct sf_rctx *c, const void *ctx, char **id)
{
	const struct ax_iam_name *n = ctx;
	json_t *t = NULL;
	*id = NULL;
	int rc = ax_iam_marks(c, n->list_tags, n->param, n->name, &t);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	if (!rc)
		rc = ax_adopt(c, n->own, n->name, t);
	json_decref(t);
	if (!rc)
		*id = xstrdup(n->name);
	return rc;
}

int ax_own_find(struct sf_rctx *c, const void *ctx, char **id)
{
	const struct ax_own_name *n = ctx;
	json_t *t = NULL;
	char *found = NULL;
	*id = NULL;
	int rc = n->own->marks(c, n->attrs, &found, &t);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	} else if (!rc && !(rc = ax_adopt(c, n->own, found, t))) {
		*id = found ? found : xstrdup("");
		found = NULL;
	}
	free(found);
	json_decref(t);
	return rc;
}

int ax_ec2_marks(struct sf_rctx *c, const char *action, const char *idparam, const char *id, const char *list_key,
		 json_t **tags)
{
	json_t *o = NULL;
	*tags = NULL;
	if (!id || !*id)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no id recorded", c->address);
	int rc = ax_ec2_describe_one(c, action, idparam, id, list_key, &o);
	if (rc < 0)
		return rc;
	*tags = ax_tags_from_list(json_object_get(o, "tagSet"));
	json_decref(o);
	return 0;
}

int ax_iam_marks(struct sf_rctx *c, const char *action, const char *name_param, const char *name, json_t **tags)
{
	struct sf_aws *a = ax_client(c);
	*tags = NULL;
	if (!name || !*name)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no name", c->address);
	if (!a)
		return c->err->code;
	json_t *p = json_pack("{s:s}", name_param, name), *all = NULL;
	int rc = sf_aws_query_all(a, "iam", action, p, "Tags", &all, c->err);
	json_decref(p);
	if (rc < 0)
		return rc;
	*tags = ax_tags_from_list(all);
	json_decref(all);
	return 0;
}

int ax_eks_marks(struct sf_rctx *c, const char *path, const char *member, const char *arn_key, json_t **tags,
		 char **arn, json_t **obj)
{
	json_t *o = NULL;
	*tags = NULL;
	if (arn)
		*arn = NULL;
	if (obj)
		*obj = NULL;
	int rc = ax_eks(c, "GET", path, NULL, &o);
	if (rc < 0)
		return rc;
	json_t *m = json_object_get(o, member);
	const json_t *t = json_object_get(m, "tags");
	*tags = json_is_object(t) ? json_deep_copy(t) : json_object();
	if (arn && ax_s(m, arn_key))
		*arn = xstrdup(ax_s(m, arn_key));
	if (obj)
		*obj = json_incref(m);
	json_decref(o);
	return 0;
}

int ax_ec2_claim(struct sf_rctx *c, const char *id, const json_t *tags)
{
	return ax_ec2(c, "CreateTags", json_pack("{s:[s], s:o}", "ResourceId", id, "Tag", ax_tag_list(tags)), NULL);
}

int ax_ec2_claim_id(struct sf_rctx *c, const json_t *attrs, const json_t *tags)
{
	return ax_ec2_claim(c, ax_s(attrs, "id"), tags);
}

int ax_iam_claim(struct sf_rctx *c, const char *action, const char *name_param, const char *name, const json_t *tags)
{
	return ax_iam(c, action, json_pack("{s:s, s:o}", name_param, name, "Tags", ax_tag_list(tags)), NULL);
}

int ax_eks_claim(struct sf_rctx *c, const char *arn, const json_t *tags)
{
	if (!arn)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no ARN to tag", c->address);
	char *l = sf_aws_label(arn);
	char *p = xasprintf("/tags/%s", l);
	int rc = ax_eks(c, "POST", p, json_pack("{s:O}", "tags", tags), NULL);
	free(p);
	free(l);
	return rc;
}

json_t *ax_tag_list(const json_t *tags)
{
	json_t *l = json_array();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)tags, k, v)
	{
		const char *s = json_string_value(v);
		json_array_append_new(l, json_pack("{s:s, s:s}", "Key", k, "Value", s ? s : ""));
	}
	return l;
}

json_t *ax_tags_from_list(const json_t *list)
{
	json_t *o = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		const char *k = ax_s(e, "key") ? ax_s(e, "key") : ax_s(e, "Key");
		const char *v = ax_s(e, "value") ? ax_s(e, "value") : ax_s(e, "Value");
		if (k)
			json_object_set_new(o, k, json_string(v ? v : ""));
	}
	return o;
}

json_t *ax_user_tags(const json_t *tags)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)tags, k, v)
	{
		if (!strncmp(k, "secfaas:", 8) || !strncmp(k, "aws:", 4))
			continue;
		json_object_set(o, k, v);
	}
	return o;
}

json_t *ax_ec2_tagspec(const char *rt, const json_t *tags)
{
	return json_pack("[{s:s, s:o}]", "ResourceType", rt, "Tag", ax_tag_list(tags));
}

int ax_ec2_find_token(struct sf_rctx *c, const char *action, const char *list_key, const char *id_key, char **id)
{
	*id = NULL;
	if (!c->token)
		return 0;
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	json_t *p = json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "tag:secfaas:token", "Value", c->token);
	json_t *all = NULL;
	int rc = sf_aws_query_all(a, "ec2", action, p, list_key, &all, c->err);
	json_decref(p);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		const char *s = ax_s(e, id_key);
		/* The token filter finds it; the ownership verdict decides. */
		json_t *tags = ax_tags_from_list(json_object_get(e, "tagSet"));
		int ours = sf_own_is_ours(tags, ax_lineage(c), c->address, c->token);
		json_decref(tags);
		if (!ours)
			continue;
		/* Terminated instances and deleted things (NAT gateways, VPC
		 * endpoints: "state") linger in listings: never adopt one. */
		const char *st = ax_s(json_object_get(e, "instanceState"), "name");
		if (st && (!strcmp(st, "terminated") || !strcmp(st, "shutting-down")))
			continue;
		st = ax_s(e, "state");
		if (st && (!strcasecmp(st, "deleted") || !strcasecmp(st, "deleting")))
			continue;
		if (s) {
			*id = xstrdup(s);
			break;
		}
	}
	json_decref(all);
	return 0;
}

int ax_ec2_sync_tags(struct sf_rctx *c, const char *id, const json_t *have_tags, const json_t *want_tags)
{
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	json_t *add = json_object(), *del = json_array();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)want_tags, k, v)
	{
		const json_t *h = json_object_get(have_tags, k);
		if (!h || !json_equal(h, v))
			json_object_set(add, k, v);
	}
	json_object_foreach((json_t *)have_tags, k, v)
	{
		if (!json_object_get(want_tags, k) && strncmp(k, "secfaas:", 8) && strncmp(k, "aws:", 4))
			json_array_append_new(del, json_pack("{s:s}", "Key", k));
	}
	int rc = 0;
	if (json_object_size(add))
		rc = ax_ec2(c, "CreateTags", json_pack("{s:[s], s:o}", "ResourceId", id, "Tag", ax_tag_list(add)), NULL);
	if (!rc && json_array_size(del))
		rc = ax_ec2(c, "DeleteTags", json_pack("{s:[s], s:O}", "ResourceId", id, "Tag", del), NULL);
	json_decref(add);
	json_decref(del);
	return rc;
}

json_t *ax_out(const json_t *want)
{
	return json_deep_copy(want);
}

/* ---- eventual consistency ----
 *
 * AWS answers some calls from replicas that lag behind the one that took a
 * change: a new IAM role or instance profile is refused by EKS/EC2 for
 * seconds, and a new EC2 id is unknown to other calls (its *.NotFound, or
 * EKS relaying it) for a moment.  Every AWS call of the types goes through
 * ax_ec2/ax_iam/ax_eks, which retry exactly those errors: the propagation
 * errors awserr.h names, and a NotFound / invalid-parameter error whose
 * message names an id this run made in the last FRESH_S seconds.  Retries
 * back off from 1 s to 15 s, stop after SETTLE_S (official seconds, scaled
 * like every wait) and print a progress line each time.  A NotFound for an
 * older id is an answer, not a lag: it is never retried here (destroy
 * counts it as "already gone"). */

#define FRESH_S 300.0
#define SETTLE_S 180.0

static int looks_like_ec2_id(const char *s)
{
	static const char *const pfx[] = {"vpc-", "subnet-", "sg-", "igw-", "rtb-", "lt-", "ami-", "i-", "eni-",
					  "snap-", "eipalloc-", "nat-", "vpce-", NULL};
	for (const char *const *p = pfx; *p; p++) {
		size_t l = strlen(*p);
		if (strncmp(s, *p, l))
			continue;
		size_t n = 0;
		for (const char *x = s + l; *x; x++, n++)
			if (!((*x >= '0' && *x <= '9') || (*x >= 'a' && *x <= 'f')))
				return 0;
		return n == 8 || n == 17;
	}
	return 0;
}

static void fresh_walk(json_t *fresh, const json_t *v, double now)
{
	size_t i;
	const char *k;
	json_t *x;
	if (json_is_string(v) && looks_like_ec2_id(json_string_value(v)))
		json_object_set_new(fresh, json_string_value(v), json_real(now));
	else if (json_is_array(v))
		json_array_foreach(v, i, x) fresh_walk(fresh, x, now);
	else if (json_is_object(v))
		json_object_foreach((json_t *)v, k, x) fresh_walk(fresh, x, now);
}

/* Remember the EC2 ids in the reply of a call that made something. */
static void fresh_from(struct sf_rctx *c, const char *action, const json_t *reply)
{
	struct sf_providers *p = c->provider;
	if (!p || !reply ||
	    (strncmp(action, "Create", 6) && strcmp(action, "RunInstances") && strncmp(action, "Allocate", 8) &&
	     strcmp(action, "CopyImage")))
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->fresh)
		p->fresh = json_object();
	fresh_walk(p->fresh, reply, sf_mono());
	pthread_mutex_unlock(&p->mu);
}

void ax_fresh_add(struct sf_rctx *c, const char *id)
{
	struct sf_providers *p = c->provider;
	if (!p || !id)
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->fresh)
		p->fresh = json_object();
	json_object_set_new(p->fresh, id, json_real(sf_mono()));
	pthread_mutex_unlock(&p->mu);
}

/* Copy to out a fresh id that msg names; 1 when there is one. */
static int fresh_named(struct sf_rctx *c, const char *msg, char *out, size_t n)
{
	struct sf_providers *p = c->provider;
	int found = 0;
	if (!p)
		return 0;
	double now = sf_mono(), window = ax_deadline(FRESH_S);
	const char *k;
	json_t *t;
	pthread_mutex_lock(&p->mu);
	json_object_foreach(p->fresh, k, t)
	{
		if (now - json_real_value(t) <= window && strstr(msg, k)) {
			snprintf(out, n, "%s", k);
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

struct settle {
	int attempt;
	double start, wait;
};

/* A call that went through after refusals: say so, so that the step's
 * status no longer reads "retrying" while what follows (a long wait that
 * reads nothing for minutes) runs. */
static void settled(struct sf_rctx *c, const struct settle *st, const char *service, const char *op)
{
	if (!st->attempt || !c->note)
		return;
	char line[200];
	snprintf(line, sizeof line, "%s %s accepted after %d attempts", service, op, st->attempt + 1);
	c->note(c, line);
}

/* After a failed call: 1 when c->err is an eventual-consistency refusal and
 * the call should run again (after the backoff sleep), 0 when not (or the
 * budget is spent), SF_EINTR when the sleep was interrupted. */
static int settle_again(struct sf_rctx *c, struct settle *st, const char *service, const char *op)
{
	char why[200], id[64];
	const char *w = sf_aws_propagation(service, op, c->err->aws_code, c->err->msg);
	if (w) {
		snprintf(why, sizeof why, "%s", w);
	} else if ((c->err->code == SF_ENOTFOUND || !strcmp(c->err->aws_code, "InvalidParameterException") ||
		    !strcmp(c->err->aws_code, "InvalidParameterValue")) &&
		   fresh_named(c, c->err->msg, id, sizeof id)) {
		snprintf(why, sizeof why, "%s %s does not know the new %s yet (eventual consistency)", service, op, id);
	} else {
		return 0;
	}
	if (!st->attempt) {
		st->start = sf_mono();
		st->wait = ax_delay(1.0);
	}
	st->attempt++;
	double limit = ax_deadline(SETTLE_S);
	if (c->timeout_s > 0 && c->timeout_s < limit)
		limit = c->timeout_s;
	if (sf_mono() - st->start + st->wait > limit) {
		char d[32];
		sf_duration_fmt(d, sizeof d, sf_mono() - st->start);
		sf_err_hint(c->err, "%s for %s (%d attempts); if it lasts, the reference is wrong", why, d, st->attempt);
		return 0;
	}
	char line[256];
	snprintf(line, sizeof line, "%s; retrying (attempt %d)", why, st->attempt + 1);
	sf_debug("%s: %s", c->address, line);
	if (c->note)
		c->note(c, line);
	else if (c->progress)
		c->progress(c, line);
	int s = ax_sleep(c, st->wait);
	if (s < 0)
		return s;
	sf_err_clear(c->err);
	st->wait *= 2;
	if (st->wait > ax_delay(15.0))
		st->wait = ax_delay(15.0);
	return 1;
}

int ax_ec2(struct sf_rctx *c, const char *action, json_t *params, json_t **out)
{
	struct sf_aws *a = ax_client(c);
	json_t *o = NULL;
	struct settle st = {0, 0, 0};
	int rc;
	if (!params)
		params = json_object();
	for (;;) {
		rc = a ? sf_aws_query(a, "ec2", action, params, &o, c->err) : c->err->code;
		if (rc >= 0 || !a)
			break;
		int again = settle_again(c, &st, "ec2", action);
		if (again < 0)
			rc = again;
		if (again != 1)
			break;
	}
	if (rc >= 0) {
		settled(c, &st, "ec2", action);
		fresh_from(c, action, o);
	}
	json_decref(params);
	if (out)
		*out = o;
	else
		json_decref(o);
	return rc;
}

int ax_iam(struct sf_rctx *c, const char *action, json_t *params, json_t **out)
{
	struct sf_aws *a = ax_client(c);
	json_t *o = NULL;
	struct settle st = {0, 0, 0};
	int rc;
	for (;;) {
		rc = a ? sf_aws_query(a, "iam", action, params, &o, c->err) : c->err->code;
		if (rc >= 0 || !a)
			break;
		int again = settle_again(c, &st, "iam", action);
		if (again < 0)
			rc = again;
		if (again != 1)
			break;
	}
	if (rc >= 0)
		settled(c, &st, "iam", action);
	json_decref(params);
	if (out)
		*out = o;
	else
		json_decref(o);
	return rc;
}

/* "CreateCluster" & co. from an EKS request, for the propagation rules. */
static const char *eks_op(const char *method, const char *path)
{
	if (!strcmp(method, "POST") && !strcmp(path, "/clusters"))
		return "CreateCluster";
	if (!strcmp(method, "POST") && strstr(path, "/node-groups") && !strstr(path, "/node-groups/"))
		return "CreateNodegroup";
	if (!strcmp(method, "POST") && strstr(path, "/update-version"))
		return "UpdateNodegroupVersion";
	if (!strcmp(method, "POST") && strstr(path, "/update-config"))
		return "Update";
	if (!strcmp(method, "POST") && strstr(path, "/access-entries"))
		return "CreateAccessEntry";
	return method;
}

int ax_eks(struct sf_rctx *c, const char *method, const char *path, json_t *body, json_t **out)
{
	struct sf_aws *a = ax_client(c);
	json_t *o = NULL;
	struct settle st = {0, 0, 0};
	int rc;
	for (;;) {
		rc = a ? sf_aws_rest_json(a, "eks", method, path, NULL, body, &o, c->err) : c->err->code;
		if (rc >= 0 || !a)
			break;
		int again = settle_again(c, &st, "eks", eks_op(method, path));
		if (again < 0)
			rc = again;
		if (again != 1)
			break;
	}
	if (rc >= 0)
		settled(c, &st, "eks", eks_op(method, path));
	json_decref(body);
	if (out)
		*out = o;
	else
		json_decref(o);
	return rc;
}

int ax_eks_describe(struct sf_rctx *c, const char *path, const char *key, json_t **obj)
{
	json_t *o = NULL;
	*obj = NULL;
	int rc = ax_eks(c, "GET", path, NULL, &o);
	if (rc < 0)
		return rc;
	*obj = json_incref(json_object_get(o, key));
	json_decref(o);
	return *obj ? 0 : sf_fail(c->err, SF_EPROTO, "%s: GET %s returned no %s", c->address, path, key);
}

int ax_eks_update(struct sf_rctx *c, const char *path, const char *cluster, const char *nodegroup, json_t *body,
		  const char *what)
{
	json_t *o = NULL;
	int rc = ax_eks(c, "POST", path, body, &o);
	if (rc < 0)
		return rc;
	const char *id = ax_s(json_object_get(o, "update"), "id");
	/* the arguments of both waits, for a cluster and for a node group */
	json_t *args = json_pack("{s:s, s:s, s:s?, s:s?}", "name", cluster, "clusterName", cluster, "updateId", id,
				 "nodegroupName", nodegroup);
	if (id)
		rc = ax_wait(c, sf_aws_waiter_find(nodegroup ? "eks.NodegroupUpdateSuccessful" : "eks.UpdateSuccessful"),
			     json_incref(args), 3600, what);
	json_decref(o);
	if (!rc)
		rc = ax_wait(c, sf_aws_waiter_find(nodegroup ? "eks.NodegroupActive" : "eks.ClusterActive"),
			     json_incref(args), 3600, nodegroup ? "node group" : "cluster");
	json_decref(args);
	return rc;
}

int ax_ec2_describe_one(struct sf_rctx *c, const char *action, const char *idparam, const char *id,
			const char *list_key, json_t **obj)
{
	*obj = NULL;
	if (!id)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no id recorded", c->address);
	json_t *out = NULL;
	int rc = ax_ec2(c, action, json_pack("{s:[s]}", idparam, id), &out);
	if (rc < 0)
		return rc;
	json_t *l = json_object_get(out, list_key);
	json_t *e = json_array_get(l, 0);
	if (!e) {
		json_decref(out);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: %s not found", c->address, id);
	}
	*obj = json_incref(e);
	json_decref(out);
	return 0;
}

int ax_swept(struct sf_rctx *c, int rc, const char *what, const char *id)
{
	if (rc == 0) {
		sf_info("%s: swept %s %s", c->address, what, id);
		return 1;
	}
	if (rc != SF_ENOTFOUND && rc != SF_ECONFLICT)
		return rc;
	/* gone already, or in use again: the caller's wait goes on */
	sf_debug("%s: %s %s %s", c->address, what, id, rc == SF_ENOTFOUND ? "gone already" : "still in use");
	sf_err_clear(c->err);
	return 0;
}

/* An available interface that Kubernetes or EKS left behind: the VPC
 * CNI names its interfaces aws-K8S-<instance id> and tags them
 * node.k8s.amazonaws.com/... and cluster.k8s.amazonaws.com/name; EKS
 * names its control plane's "Amazon EKS <cluster>".  Any other one is
 * someone's own, and stays where it is (ax_blockers names it).  *cluster:
 * the cluster it says it serves (borrowed from eni or tags), or NULL. */
static int left_by_kubernetes(const json_t *eni, const json_t *tags, const char **cluster)
{
	const char *d = ax_s(eni, "description");
	const char *named = ax_s(tags, "cluster.k8s.amazonaws.com/name");
	*cluster = named;
	if (d && !strncmp(d, "Amazon EKS ", 11)) {
		*cluster = named ? named : d + 11;
		return 1;
	}
	if (named || (d && !strncmp(d, "aws-K8S-", 8)))
		return 1;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)tags, k, v) if (!strncmp(k, "node.k8s.amazonaws.com/", 23)) return 1;
	return 0;
}

/* A name EKS can give a cluster: 1-100 of [A-Za-z0-9_-], a letter or
 * digit first. */
static int eks_cluster_name(const char *n)
{
	if (!n || !isalnum((unsigned char)n[0]))
		return 0;
	size_t i = 0;
	for (; n[i]; i++)
		if (i >= 100 || !(isalnum((unsigned char)n[i]) || n[i] == '-' || n[i] == '_'))
			return 0;
	return 1;
}

/* Is the interface's cluster still there?  Its interfaces are then its
 * own (a cluster of another state or team in the same VPC), and stay.
 * Only a cluster that is gone (EKS says ResourceNotFound; a name no
 * cluster can have) leaves leftovers; any other answer keeps them.  seen
 * memoises the answers of one sweep by name.  1 lives, 0 gone, SF_EINTR
 * (in c->err) when the run is being stopped. */
static int cluster_lives(struct sf_rctx *c, const char *name, json_t *seen)
{
	if (!eks_cluster_name(name))
		return 0;
	json_t *known = json_object_get(seen, name);
	if (known)
		return json_is_true(known);
	struct sf_err keep = *c->err;
	char *path = xasprintf("/clusters/%s", name);
	json_t *o = NULL;
	int rc = ax_eks_describe(c, path, "cluster", &o);
	free(path);
	json_decref(o);
	if (rc == SF_EINTR)
		return rc;
	int lives = rc != SF_ENOTFOUND;
	if (rc < 0 && lives)
		sf_debug("%s: cannot tell whether EKS cluster %s still exists (%s): its interfaces stay", c->address,
			 name, c->err->msg);
	*c->err = keep;
	json_object_set_new(seen, name, json_boolean(lives));
	return lives;
}

int ax_sweep_enis(struct sf_rctx *c, const char *filter, const char *value)
{
	json_t *out = NULL;
	int rc = ax_ec2(c, "DescribeNetworkInterfaces",
			json_pack("{s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Filter", "Name", filter, "Value", value, "Name",
				  "status", "Value", "available"),
			&out);
	if (rc < 0)
		return rc;
	int n = 0;
	size_t i;
	json_t *e, *seen = json_object();
	json_array_foreach(json_object_get(out, "networkInterfaceSet"), i, e)
	{
		const char *id = ax_s(e, "networkInterfaceId"), *cluster = NULL;
		json_t *tags = ax_tags_from_list(json_object_get(e, "tagSet"));
		int ours = id && left_by_kubernetes(e, tags, &cluster);
		int lives = ours && cluster ? cluster_lives(c, cluster, seen) : 0;
		json_decref(tags);
		if (lives < 0) {
			n = lives;
			break;
		}
		if (!ours || lives)
			continue;
		int d = ax_swept(c, ax_ec2(c, "DeleteNetworkInterface", json_pack("{s:s}", "NetworkInterfaceId", id), NULL),
				 "leftover network interface", id);
		if (d < 0) {
			n = d;
			break;
		}
		n += d;
	}
	json_decref(seen);
	json_decref(out);
	return n;
}

int ax_delete_else_sweep(struct sf_rctx *c, ax_op_fn del, ax_op_fn sweep, void *ctx)
{
	int rc = del(c, ctx);
	if (rc != SF_ECONFLICT)
		return rc;
	struct sf_err keep = *c->err;
	sf_err_clear(c->err);
	int s = sweep(c, ctx);
	if (s < 0)
		return s;
	if (!s) {
		/* nothing of ours to sweep: still in use, ax_retry_conflict waits */
		*c->err = keep;
		return rc;
	}
	return del(c, ctx);
}

void ax_token_suffix(struct sf_rctx *c, char out[9])
{
	char h[65];
	const char *t = c->token ? c->token : c->address;
	sf_sha256_hex(h, t, strlen(t));
	memcpy(out, h, 8);
	out[8] = 0;
}

char *ax_blockers(struct sf_rctx *c, const char *filter, const char *value)
{
	json_t *out = NULL;
	struct sf_err keep = *c->err;
	int rc = ax_ec2(c, "DescribeNetworkInterfaces",
			json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", filter, "Value", value), &out);
	*c->err = keep;
	if (rc < 0)
		return NULL;
	struct sf_buf b = SF_BUF_INIT;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(out, "networkInterfaceSet"), i, e)
	{
		if (i >= 8) {
			sf_buf_printf(&b, ", ...");
			break;
		}
		sf_buf_printf(&b, "%s%s (%s, %s)", i ? ", " : "", ax_s(e, "networkInterfaceId") ? ax_s(e, "networkInterfaceId") : "?",
			      ax_s(e, "description") ? ax_s(e, "description") : "", ax_s(e, "status") ? ax_s(e, "status") : "?");
	}
	json_decref(out);
	return b.len ? sf_buf_detach(&b) : (sf_buf_release(&b), NULL);
}

int ax_ec2_update_tags(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	json_t *empty = json_object();
	const json_t *ht = json_object_get(prior, "tags"), *wt = json_object_get(want, "tags");
	int rc = ax_ec2_sync_tags(c, ax_s(prior, "id"), ht ? ht : empty, wt ? wt : empty);
	json_decref(empty);
	if (rc < 0)
		return rc;
	*out = ax_out(want);
	json_object_set(*out, "id", json_object_get(prior, "id"));
	return 0;
}

int ax_ec2_destroy(struct sf_rctx *c, const json_t *prior, const struct ax_ec2_kind *k, ax_op_fn del_once)
{
	char *found = NULL;
	const char *id = ax_s(prior, "id");
	if (!id) {
		int rc = ax_ec2_find_token(c, k->describe, k->set_key, k->id_key, &found);
		if (rc < 0 || !found)
			return rc;
		id = found;
	}
	int rc = ax_retry_conflict(c, del_once, (void *)id, k->timeout_s, k->what);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	if (rc == SF_ECONFLICT && k->blocker_filter) {
		char *left = ax_blockers(c, k->blocker_filter, id);
		if (left)
			sf_err_hint(c->err, "still in use by %s; delete them (or what owns them) and run destroy again", left);
		free(left);
	}
	free(found);
	return rc;
}

int ax_changed(const json_t *a, const json_t *b, const char *k)
{
	const json_t *x = json_object_get(a, k), *y = json_object_get(b, k);
	return !(x == y || (x && y && json_equal(x, y)));
}

void ax_ec2_read_tags(json_t *out, const json_t *prior, const json_t *obj)
{
	if (!json_object_get(prior, "tags"))
		return;
	json_t *t = ax_tags_from_list(json_object_get(obj, "tagSet"));
	json_object_set_new(out, "tags", ax_user_tags(t));
	json_decref(t);
}

/* ---- calls that must not be repeated blindly (see aws_common.h) ---- */

static int call_once(struct sf_rctx *c, const char *service, const char *op, const char *path, const json_t *params,
		     json_t **out, int *unknown)
{
	struct sf_aws *a = ax_client(c);
	*out = NULL;
	*unknown = 0;
	if (!a)
		return c->err->code;
	/* A propagation refusal is a definite "not done": it is retried like
	 * in ax_ec2, and the ids a create returns count as fresh the same way. */
	struct settle st = {0, 0, 0};
	for (;;) {
		int rc = path ? sf_aws_rest_json_once(a, service, "POST", path, NULL, params, out, unknown, c->err)
			      : sf_aws_query_once(a, service, op, params, out, unknown, c->err);
		if (rc >= 0) {
			settled(c, &st, service, op);
			fresh_from(c, op, *out);
			return rc;
		}
		if (*unknown)
			return rc;
		int again = settle_again(c, &st, service, op);
		if (again < 0)
			return again;
		if (again != 1)
			return rc;
		json_decref(*out);
		*out = NULL;
	}
}

/* The id at id_key, at the top of the reply or one object down. */
static const char *reply_id(const json_t *o, const char *key)
{
	const char *id = ax_s(o, key);
	const char *k;
	json_t *v;
	if (id)
		return id;
	json_object_foreach((json_t *)o, k, v)
	{
		if (json_is_object(v) && ax_s(v, key))
			return ax_s(v, key);
	}
	return NULL;
}

/* How many times a call that is not safe to repeat is sent: as many as
 * the client attempts a call that is (aws/retry.h), so a create or a
 * detach meets a run of faults with the same patience as a read. */
static int once_tries(struct sf_rctx *c)
{
	struct sf_aws *a = ax_client(c);
	if (!a) { /* the call itself reports it */
		sf_err_clear(c->err);
		return 1;
	}
	int n = sf_retry_budget(sf_aws_retry_state(a), 1);
	return n > 0 ? n : 1;
}

static int create_find(struct sf_rctx *c, const struct ax_create_def *d, char **id)
{
	*id = NULL;
	if (d->find)
		return d->find(c, d->find_ctx, id);
	if (!d->describe)
		return 0;
	return ax_ec2_find_token(c, d->describe, d->set_key, d->id_key, id);
}

/* After an unknown outcome: a new EC2 object is missing from listings for
 * a moment (eventual consistency), so "not found" is believed only after
 * a few looks spread over some seconds (1, 2, 4 s, scaled like every
 * wait) — sending the create again too early would make a second one. */
static int create_find_settled(struct sf_rctx *c, const struct ax_create_def *d, char **id)
{
	double wait = 1.0;
	for (int look = 0;; look++) {
		int rc = create_find(c, d, id);
		if (rc < 0 || *id || look == 3)
			return rc;
		if ((rc = ax_sleep(c, ax_delay(wait))) < 0)
			return rc;
		wait *= 2;
	}
}

int ax_create(struct sf_rctx *c, const struct ax_create_def *d, json_t *params, json_t **reply, char **id)
{
	return ax_create_at(c, d, NULL, params, reply, id);
}

int ax_create_at(struct sf_rctx *c, const struct ax_create_def *d, const char *path, json_t *params, json_t **reply,
		 char **id)
{
	int rc = 0, unknown = 0;
	*id = NULL;
	if (reply)
		*reply = NULL;
	if (c->resumed) {
		rc = create_find(c, d, id);
		if (rc < 0 || *id) {
			if (*id)
				sf_info("%s: found the object an interrupted %s made: %s", c->address, d->op, *id);
			json_decref(params);
			return rc;
		}
	}
	int tries = once_tries(c);
	for (int attempt = 1; attempt <= tries; attempt++) {
		json_t *o = NULL;
		int was_unknown = unknown;
		rc = call_once(c, d->service, d->op, path, params, &o, &unknown);
		if (rc == 0) {
			const char *got = reply_id(o, d->id_key);
			if (!got) {
				json_decref(o);
				rc = sf_fail(c->err, SF_EPROTO, "%s: %s returned no %s", c->address, d->op, d->id_key);
				break;
			}
			*id = xstrdup(got);
			if (reply)
				*reply = o;
			else
				json_decref(o);
			break;
		}
		json_decref(o);
		if (d->exists && !strcmp(c->err->aws_code, d->exists)) {
			/* The name is taken: by what an earlier attempt made
			 * (a lost reply, a killed run), which the lookup adopts,
			 * or by someone else, which it refuses naming the owner. */
			struct sf_err keep = *c->err;
			sf_err_clear(c->err);
			int frc = create_find_settled(c, d, id);
			if (frc < 0) {
				rc = frc;
				break;
			}
			if (*id) {
				sf_info("%s: %s: the name is taken by %s, which its ownership proof lets this state use; "
					"adopting it",
					c->address, d->op, *id);
				rc = 0;
				break;
			}
			*c->err = keep;
			break;
		}
		/* Unknown outcome, or a refusal right after one (the name is
		 * now taken by what the lost reply made): look first. */
		if (!unknown && !(was_unknown && rc != SF_ETHROTTLED && rc != SF_EAUTH && rc != SF_EINTR))
			break;
		struct sf_err keep = *c->err;
		int frc = create_find_settled(c, d, id);
		if (frc < 0) {
			rc = frc;
			break;
		}
		if (*id) {
			ax_fresh_add(c, *id);
			sf_info("%s: the reply to %s was lost; it made %s", c->address, d->op, *id);
			sf_err_clear(c->err);
			rc = 0;
			break;
		}
		*c->err = keep;
		if (!unknown)
			break;
		sf_debug("%s: %s: outcome unknown and nothing made yet; sending it again", c->address, d->op);
	}
	json_decref(params);
	if (rc < 0 && unknown)
		sf_err_hint(c->err, "the reply was lost %d times and nothing was found under this operation's token; "
				    "run apply again",
			    tries);
	return rc;
}

int ax_change(struct sf_rctx *c, const struct ax_change_def *d, const void *ctx, json_t *params, json_t **reply)
{
	int rc = 0, unknown = 0;
	if (reply)
		*reply = NULL;
	int tries = once_tries(c);
	for (int attempt = 1; attempt <= tries; attempt++) {
		json_t *o = NULL;
		rc = call_once(c, d->service, d->op, NULL, params, &o, &unknown);
		if (rc == 0) {
			if (reply)
				*reply = o;
			else
				json_decref(o);
			break;
		}
		json_decref(o);
		if (rc == SF_ETHROTTLED || rc == SF_EAUTH || rc == SF_EINTR)
			break;
		/* Unknown outcome, or an answer such as "not found" / "already
		 * associated" that may describe what an earlier attempt did: the
		 * parent says whether the change is in place. */
		struct sf_err keep = *c->err;
		sf_err_clear(c->err);
		int in = d->done(c, ctx);
		if (in < 0) {
			rc = in;
			break;
		}
		if (in > 0) {
			sf_debug("%s: %s: %s; the change is in place", c->address, d->op, keep.msg);
			rc = 0;
			break;
		}
		*c->err = keep;
		if (!unknown) {
			/* Not SF_ENOTFOUND: callers read that as "already gone". */
			rc = sf_fail(c->err, SF_ERROR, "%s: %s could not be confirmed: AWS answered \"%s\" but still shows it undone",
				     c->address, d->what, keep.msg);
			sf_err_hint(c->err, "look at the object in AWS, then run the command again");
			break;
		}
		sf_debug("%s: %s: outcome unknown and not in place; sending it again", c->address, d->op);
	}
	json_decref(params);
	if (rc < 0 && unknown)
		sf_err_hint(c->err, "the reply was lost %d times and AWS does not show %s done; run the command again",
			    tries, d->what);
	return rc;
}

void ax_read_attr(json_t *out, const json_t *prior, const char *k, const json_t *live, const json_t *dflt)
{
	if (json_object_get(prior, k)) {
		if (live)
			json_object_set(out, k, (json_t *)live);
		else
			json_object_del(out, k);
		return;
	}
	if (live && !(dflt && json_equal(live, dflt)))
		json_object_set(out, k, (json_t *)live);
}
