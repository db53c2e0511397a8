/* sweep.c - the tag sweep of `secfaas gc` over the providers' hooks (see sweep.h). */
#include "resources/sweep.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resources/provider.h"

struct spare {
	struct sf_swept o;
	int counted; /* counted in kept (ours, and a state knows it) */
	int unknown; /* no state knows it (SF_SWEEP_UNKNOWN) */
};

struct sf_sweep {
	struct sf_providers *p;
	sf_sweep_known_fn known;
	void *ctx;
	double now;
	struct sf_swept *v;
	size_t n;
	/* objects of following hooks left alone so far: they wait for their
	 * parent's verdict */
	struct spare *spare;
	size_t nspare;
	/* objects no state knows: listed, never deleted */
	struct sf_swept *unknown;
	size_t nunknown;
	int kept;
	const struct sf_rtype *type; /* of the hook being listed */
	struct sf_err *err;
};

struct sf_providers *sf_sweep_providers(struct sf_sweep *s)
{
	return s->p;
}

struct sf_err *sf_sweep_err(struct sf_sweep *s)
{
	return s->err;
}

static const char *tag(const json_t *tags, const char *k)
{
	return json_string_value(json_object_get(tags, k));
}

static void swept_release(struct sf_swept *o)
{
	free(o->id);
	free(o->parent);
	free(o->arn);
	free(o->reason);
	json_decref(o->prior);
	free(o->lineage);
}

/* The verdict on an object with these tags; *why is its reason (owned),
 * NULL for SF_SWEEP_KEEP. */
static enum sf_sweep_verdict decide(struct sf_sweep *s, const json_t *tags, char **why)
{
	const char *ws = tag(tags, SF_OWNER_TAG), *lin = tag(tags, "secfaas:lineage");
	const char *exp = tag(tags, "secfaas:expires-at");
	double at;
	*why = NULL;
	if (!ws)
		return SF_SWEEP_KEEP; /* not ours: never touched */
	if (exp && sf_time_parse(exp, &at) == 0 && at < s->now) {
		*why = xasprintf("workspace %s expired at %s", ws, exp);
		return SF_SWEEP_ORPHAN;
	}
	enum sf_sweep_verdict v = s->known(ws, lin, tag(tags, "secfaas:address"), tag(tags, "secfaas:token"), why, s->ctx);
	if (v == SF_SWEEP_KEEP) {
		free(*why);
		*why = NULL;
	} else if (!*why) {
		*why = lin ? xasprintf("no state knows workspace %s (lineage %s)", ws, lin)
			   : xasprintf("no state knows workspace %s", ws);
	}
	return v;
}

static void push(struct sf_sweep *s, const struct sf_swept *o)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n++] = *o;
}

static void push_unknown(struct sf_sweep *s, const struct sf_swept *o)
{
	s->unknown = xrealloc(s->unknown, (s->nunknown + 1) * sizeof *s->unknown);
	s->unknown[s->nunknown++] = *o;
}

void sf_sweep_add(struct sf_sweep *s, const struct sf_sweep_hook *h, const char *id, const char *parent,
		  const char *arn, const json_t *tags, json_t *prior)
{
	if (!id) {
		json_decref(prior);
		return;
	}
	char *why = NULL;
	enum sf_sweep_verdict v = decide(s, tags, &why);
	struct sf_swept o = {h, s->type, xstrdup(id), parent ? xstrdup(parent) : NULL, arn ? xstrdup(arn) : NULL,
			     why, prior ? prior : json_pack("{s:s}", "id", id),
			     tag(tags, "secfaas:lineage") ? xstrdup(tag(tags, "secfaas:lineage")) : NULL};
	int ours = tag(tags, SF_OWNER_TAG) != NULL;
	if (v == SF_SWEEP_ORPHAN) {
		push(s, &o);
		return;
	}
	int counted = ours && v == SF_SWEEP_KEEP;
	if (counted)
		s->kept++;
	/* whoever made it, it goes if its parent goes (follow_parents) */
	if (h->follows && o.parent) {
		s->spare = xrealloc(s->spare, (s->nspare + 1) * sizeof *s->spare);
		s->spare[s->nspare++] = (struct spare){o, counted, v == SF_SWEEP_UNKNOWN};
		return;
	}
	if (v == SF_SWEEP_UNKNOWN)
		push_unknown(s, &o);
	else
		swept_release(&o);
}

/* Objects of following hooks go with a parent that goes. */
static void follow_parents(struct sf_sweep *s)
{
	for (size_t i = 0; i < s->nspare; i++) {
		struct sf_swept *o = &s->spare[i].o;
		const struct sf_swept *parent = NULL;
		for (size_t j = 0; j < s->n && !parent; j++)
			if (!strcmp(s->v[j].hook->kind, o->hook->follows) && !strcmp(s->v[j].id, o->parent))
				parent = &s->v[j];
		if (!parent) {
			if (s->spare[i].unknown)
				push_unknown(s, o);
			else
				swept_release(o);
			continue;
		}
		if (s->spare[i].counted)
			s->kept--;
		free(o->reason);
		/* "eks cluster" → "its cluster NAME is being deleted" */
		const char *sp = strrchr(o->hook->follows, ' ');
		o->reason = xasprintf("its %s %s is being deleted", sp ? sp + 1 : o->hook->follows, o->parent);
		push(s, o);
	}
	free(s->spare);
	s->spare = NULL;
	s->nspare = 0;
}

struct hook_ref {
	const struct sf_sweep_hook *h;
	const struct sf_rtype *type;
	const struct sf_provider *prov;
};

static int by_rank(const void *x, const void *y)
{
	const struct hook_ref *a = x, *b = y;
	if (a->h->rank != b->h->rank)
		return a->h->rank < b->h->rank ? -1 : 1;
	return strcmp(a->h->kind, b->h->kind);
}

static int by_rank_id(const void *x, const void *y)
{
	const struct sf_swept *a = x, *b = y;
	if (a->hook->rank != b->hook->rank)
		return a->hook->rank < b->hook->rank ? -1 : 1;
	int k = strcmp(a->hook->kind, b->hook->kind);
	return k ? k : strcmp(a->id, b->id);
}

/* Every hook of every provider, by rank. Owned array. */
static struct hook_ref *hooks(const struct sf_provider *const *ps, size_t np, size_t *n)
{
	size_t k = 0;
	struct hook_ref *v = NULL;
	for (size_t i = 0; i < np; i++) {
		for (const struct sf_rtype *const *t = ps[i]->types; *t; t++)
			if ((*t)->sweep) {
				v = xrealloc(v, (k + 1) * sizeof *v);
				v[k++] = (struct hook_ref){(*t)->sweep, *t, ps[i]};
			}
		for (const struct sf_sweep_hook *const *h = ps[i]->sweep_extra; h && *h; h++) {
			v = xrealloc(v, (k + 1) * sizeof *v);
			v[k++] = (struct hook_ref){*h, NULL, ps[i]};
		}
	}
	if (k)
		qsort(v, k, sizeof *v, by_rank);
	*n = k;
	return v;
}

int sf_sweep_now(struct sf_providers *p, const struct sf_provider *const *provs, size_t nprovs, double *now,
		 struct sf_err *err)
{
	*now = sf_now();
	size_t nh = 0;
	for (size_t i = 0; i < nprovs; i++) {
		struct hook_ref *hs = hooks(&provs[i], 1, &nh);
		free(hs);
		if (provs[i]->sweep_now && nh)
			return provs[i]->sweep_now(p, now, err);
	}
	return 0;
}

static int delete_one(struct sf_rctx *c, const struct sf_swept *o)
{
	if (o->hook->destroy)
		return o->hook->destroy(c, o);
	if (o->type && o->type->destroy)
		return o->type->destroy(c, o->prior);
	return sf_fail(c->err, SF_ERROR, "%s: no way to delete a %s", c->address, o->hook->kind);
}

int sf_sweep(struct sf_providers *p, const struct sf_provider *const *provs, size_t nprovs, sf_sweep_known_fn is_known,
	     void *ctx, double now, int dry_run, struct sf_buf *report, int *left, int *unknown, struct sf_err *err)
{
	struct sf_sweep s = {.p = p, .known = is_known, .ctx = ctx, .now = now, .err = err};
	size_t nh = 0;
	struct hook_ref *hs = hooks(provs, nprovs, &nh);
	int rc = 0;
	*left = 0;
	*unknown = 0;
	/* List everything first so a dry run shows the whole picture and the
	 * decisions do not change half-way through the deletions. */
	for (size_t i = 0; i < nh; i++) {
		s.type = hs[i].type;
		if ((rc = hs[i].h->list(&s, hs[i].h)) < 0) {
			const struct sf_provider *pv = hs[i].prov;
			sf_err_prefix(err, "gc sweep of %s: ", pv->sweep_scope ? pv->sweep_scope(p) : pv->name);
			goto done;
		}
	}
	follow_parents(&s);
	if (s.n)
		qsort(s.v, s.n, sizeof *s.v, by_rank_id);
	for (size_t i = 0; i < s.n; i++) {
		struct sf_swept *o = &s.v[i];
		const char *k = o->hook->kind;
		const char *label = o->arn ? o->arn : o->id;
		if (dry_run) {
			sf_buf_printf(report, "would delete %s %s: %s\n", k, label, o->reason);
			continue;
		}
		struct sf_err e = SF_ERR_INIT;
		char *addr = xasprintf("gc %s %s", k, o->id);
		struct sf_rctx c;
		memset(&c, 0, sizeof c);
		c.address = addr;
		c.err = &e;
		c.provider = p;
		sf_info("gc: deleting %s %s (%s)", k, label, o->reason);
		/* the types' own ownership checks then see the dead state's lineage */
		const char *keep_lineage = p->lineage;
		p->lineage = o->lineage;
		int r = delete_one(&c, o);
		p->lineage = keep_lineage;
		if (r < 0) {
			(*left)++;
			sf_buf_printf(report, "left %s %s: %s: %s%s%s\n", k, label, o->reason, e.msg, e.hint[0] ? "; " : "",
				      e.hint);
		} else {
			sf_buf_printf(report, "deleted %s %s: %s\n", k, label, o->reason);
		}
		free(addr);
	}
	if (s.nunknown)
		qsort(s.unknown, s.nunknown, sizeof *s.unknown, by_rank_id);
	for (size_t i = 0; i < s.nunknown; i++) {
		const struct sf_swept *o = &s.unknown[i];
		sf_buf_printf(report, "not deleting %s %s: %s\n", o->hook->kind, o->arn ? o->arn : o->id, o->reason);
	}
	*unknown = (int)s.nunknown;
	if (s.kept)
		sf_buf_printf(report, "kept %d object%s of workspaces with a live state\n", s.kept, s.kept == 1 ? "" : "s");
	rc = (int)s.n;
done:
	for (size_t i = 0; i < s.n; i++)
		swept_release(&s.v[i]);
	for (size_t i = 0; i < s.nspare; i++)
		swept_release(&s.spare[i].o);
	for (size_t i = 0; i < s.nunknown; i++)
		swept_release(&s.unknown[i]);
	free(s.v);
	free(s.spare);
	free(s.unknown);
	free(hs);
	return rc;
}
