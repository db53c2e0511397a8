/*
 * plan_render.c - plans for people and for machines (Terraform's JSON plan
 * shape).
 *
 * The human form is built to be read, not scrolled: nested values
 * (manifests, tag maps, lists of objects) are indented YAML-like blocks
 * (plan_value.c); updates and replacements show only what changes, with a
 * count of the unchanged attributes hidden; a destroyed object shows its
 * identity and collapses its nested values; a long value repeated across
 * many resources (a cluster's endpoint and CA, handed to every Kubernetes
 * object) is printed once at the top and referred to as
 * ${address.attribute} below.
 *
 * Secrets: an attribute flagged sensitive renders as "(sensitive value)" and
 * as null in JSON with *_sensitive set; nothing else is printed for it.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/plan.h"
#include "provisioner/engine/plan_value.h"
#include "util.h"

#define INLINE_MAX 72   /* a flat map or list up to this long stays on the attribute's line */
#define SHARED_MIN_LEN 20 /* a value another resource computes (endpoint, CA) */
#define SHARED_MIN_LEN_OTHER 64 /* any other value: shorter ones read better repeated */
#define SHARED_MIN_USES 3
#define LEGEND_MAX 72   /* the legend shows this much of a long value */

/* ---- values shared by many resources ---- */

struct shared {
	const char *value; /* borrowed from the plan */
	char *label;       /* "${eks_cluster.main.endpoint}" or "(shared value 1)" */
	size_t uses;
};

struct legend {
	struct shared *v;
	size_t n;
};

static const struct shared *legend_find(const struct legend *lg, const json_t *v)
{
	const char *s = json_string_value(v);
	for (size_t i = 0; s && lg && i < lg->n; i++)
		if (lg->v[i].uses >= SHARED_MIN_USES && !strcmp(lg->v[i].value, s))
			return &lg->v[i];
	return NULL;
}

static int shown_action(enum sf_action a)
{
	return a != SF_ACT_NOOP;
}

/* The value a change shows for attribute a: desired for creates and
 * updates, prior for deletes. */
static const json_t *shown_value(const struct sf_change *ch, const struct sf_attr_change *a)
{
	if (a->sensitive || a->unknown)
		return NULL;
	return ch->action == SF_ACT_DELETE ? a->before : a->after ? a->after : a->before;
}

/* Which resource computes this value (an attribute its type computes, in
 * state or planned), so the legend can say where it comes from. */
static char *owner_label(const struct sf_plan *plan, const char *s, size_t idx)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *c = &plan->v[i];
		if (!c->type)
			continue;
		for (const struct sf_attr_def *d = c->type->attrs; d->name; d++) {
			if ((d->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL)) || (d->flags & SF_ATTR_SENSITIVE))
				continue;
			/* ids, ARNs and names read better than a label */
			if (!strcmp(d->name, "id") || !strcmp(d->name, "arn") || !strcmp(d->name, "name"))
				continue;
			const json_t *x = c->before ? json_object_get(c->before, d->name) : NULL;
			if (json_is_string(x) && !strcmp(json_string_value(x), s))
				return xasprintf("${%s.%s}", c->address, d->name);
		}
	}
	return xasprintf("(shared value %zu)", idx);
}

static void legend_build(struct legend *lg, const struct sf_plan *plan)
{
	memset(lg, 0, sizeof *lg);
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *ch = &plan->v[i];
		if (!shown_action(ch->action))
			continue;
		for (size_t k = 0; k < ch->nattrs; k++) {
			const char *s = json_string_value(shown_value(ch, &ch->attrs[k]));
			if (!s || strlen(s) < SHARED_MIN_LEN || strchr(s, '\n'))
				continue;
			size_t j;
			for (j = 0; j < lg->n && strcmp(lg->v[j].value, s); j++)
				;
			if (j == lg->n) {
				lg->v = xrealloc(lg->v, (lg->n + 1) * sizeof *lg->v);
				lg->v[lg->n++] = (struct shared){s, NULL, 0};
			}
			lg->v[j].uses++;
		}
	}
	size_t idx = 0;
	for (size_t j = 0; j < lg->n; j++) {
		if (lg->v[j].uses < SHARED_MIN_USES)
			continue;
		char *label = owner_label(plan, lg->v[j].value, idx + 1);
		if (*label == '$' || strlen(lg->v[j].value) >= SHARED_MIN_LEN_OTHER) {
			lg->v[j].label = label;
			idx += *label != '$';
		} else {
			free(label);
			lg->v[j].uses = 0; /* not worth a name */
		}
	}
}

static void legend_release(struct legend *lg)
{
	for (size_t i = 0; i < lg->n; i++)
		free(lg->v[i].label);
	free(lg->v);
}

static void legend_print(const struct legend *lg, FILE *out)
{
	int width = 0, any = 0;
	for (size_t i = 0; i < lg->n; i++)
		if (lg->v[i].label && (int)strlen(lg->v[i].label) > width)
			width = (int)strlen(lg->v[i].label);
	for (size_t i = 0; i < lg->n; i++) {
		const struct shared *s = &lg->v[i];
		if (!s->label)
			continue;
		if (!any++)
			fprintf(out, "  Values used by several resources below, shown once:\n");
		size_t len = strlen(s->value);
		if (len > LEGEND_MAX)
			fprintf(out, "    %-*s = \"%.*s...\" (%zu characters)\n", width, s->label, LEGEND_MAX - 12, s->value,
				len);
		else
			fprintf(out, "    %-*s = \"%s\"\n", width, s->label, s->value);
	}
	if (any)
		fprintf(out, "\n");
}

/* ---- one attribute ---- */

static void val_str(struct sf_buf *b, const json_t *v, const struct legend *lg)
{
	const struct shared *s = legend_find(lg, v);
	if (s) {
		sf_buf_puts(b, s->label);
		return;
	}
	if (!v) {
		sf_buf_puts(b, "null");
		return;
	}
	char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_SORT_KEYS);
	sf_buf_puts(b, t ? t : "?");
	free(t);
}

static int multiline(const json_t *v)
{
	return json_is_string(v) && strchr(json_string_value(v), '\n');
}

static int is_block(const json_t *v)
{
	return (json_is_object(v) || json_is_array(v)) && !sf_pv_flat_short(v, INLINE_MAX);
}

struct ctx {
	FILE *out;
	const struct sf_pv_colors *c;
	const struct legend *lg;
	int width;
	int full;
};

/* Lines sf_pv_children would print for v. */
static size_t block_lines(const json_t *v)
{
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		return 0;
	struct sf_pv_colors none = {"", "", "", "", "", ""};
	struct sf_pv w = {m, &none, 0};
	sf_pv_children(&w, '+', 0, v, 1);
	fclose(m);
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

static void attr_line(const struct ctx *x, char sym, const char *name, const char *value, const char *force)
{
	const char *col = sym == '+' ? x->c->add : sym == '-' ? x->c->del : sym == '~' ? x->c->chg : "";
	fprintf(x->out, "      %s%c%s %-*s = %s%s\n", col, sym, *col ? x->c->off : "", x->width, name, value, force);
}

static void block_head(const struct ctx *x, char sym, const char *name, const char *tail, const char *force)
{
	const char *col = sym == '+' ? x->c->add : sym == '-' ? x->c->del : sym == '~' ? x->c->chg : "";
	fprintf(x->out, "      %s%c%s %s:%s%s\n", col, sym, *col ? x->c->off : "", name, tail, force);
}

/* A whole multi-line value under its attribute line (which carries the
 * symbol), as a heredoc. */
static void text_block(FILE *out, const char *s)
{
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(out, "            %.*s\n", (int)l, p);
		p += l + (nl ? 1 : 0);
	}
}

static void render_attr(const struct ctx *x, const struct sf_change *ch, const struct sf_attr_change *a)
{
	struct sf_buf b = SF_BUF_INIT, bb = SF_BUF_INIT;
	struct sf_pv w = {x->out, x->c, 10};
	char sym;
	int created = ch->action == SF_ACT_CREATE || (!a->before && (a->after || a->unknown));
	if (ch->action == SF_ACT_DELETE || (a->before && !a->after && !a->unknown))
		sym = '-';
	else if (created)
		sym = '+';
	else if (a->before && a->after && json_equal(a->before, a->after))
		sym = ' ';
	else
		sym = '~';
	const char *force = a->forces ? "  # forces replacement" : "";
	const json_t *old = a->before, *new = a->after;
	if (a->sensitive) {
		attr_line(x, sym, a->name, "(sensitive value)", force);
	} else if (a->unknown) {
		if (sym == '~' && old && !is_block(old) && !multiline(old)) {
			val_str(&bb, old, x->lg);
			sf_buf_puts(&bb, " -> (known after apply)");
			attr_line(x, '~', a->name, sf_buf_cstr(&bb), force);
		} else {
			attr_line(x, sym == '~' ? '~' : '+', a->name, "(known after apply)", force);
		}
	} else if (sym == '~' && (multiline(old) || multiline(new)) && json_is_string(old) && json_is_string(new)) {
		fprintf(x->out, "      %s~%s %-*s = <<-EOT%s\n", x->c->chg, x->c->off, x->width, a->name, force);
		w.gutter = 10;
		sf_pv_line_diff(&w, 0, json_string_value(old), json_string_value(new));
		fprintf(x->out, "          EOT\n");
	} else if (sym == '~' && (is_block(old) || is_block(new)) && json_typeof(old) == json_typeof(new)) {
		block_head(x, '~', a->name, "", force);
		sf_pv_diff_children(&w, 0, old, new);
	} else if (sym == '~') {
		if (is_block(old) || is_block(new) || multiline(old) || multiline(new)) {
			/* a different kind of value: the old one out, the new one in */
			struct sf_change del = *ch, add = *ch;
			struct sf_attr_change ao = *a, an = *a;
			del.action = SF_ACT_DELETE;
			ao.after = NULL;
			ao.forces = 0;
			add.action = SF_ACT_CREATE;
			an.before = NULL;
			render_attr(x, &del, &ao);
			render_attr(x, &add, &an);
		} else {
			val_str(&bb, old, x->lg);
			val_str(&b, new, x->lg);
			sf_buf_printf(&bb, " -> %s", sf_buf_cstr(&b));
			attr_line(x, '~', a->name, sf_buf_cstr(&bb), force);
		}
	} else {
		const json_t *v = sym == '-' ? old : new;
		if (multiline(v) && ch->action == SF_ACT_DELETE) {
			size_t n = 1;
			for (const char *p = json_string_value(v); *p; p++)
				n += *p == '\n' && p[1];
			sf_buf_printf(&b, "(%zu lines)", n);
			attr_line(x, sym, a->name, sf_buf_cstr(&b), force);
		} else if (multiline(v)) {
			fprintf(x->out, "      %s%c%s %-*s = <<-EOT%s\n", sym == '+' ? x->c->add : sym == '-' ? x->c->del : "",
				sym, sym == ' ' ? "" : x->c->off, x->width, a->name, force);
			text_block(x->out, json_string_value(v));
			fprintf(x->out, "          EOT\n");
		} else if (is_block(v) && ch->action == SF_ACT_DELETE) {
			sf_pv_summary(&b, v);
			attr_line(x, sym, a->name, sf_buf_cstr(&b), force);
		} else if (is_block(v) && !x->full && block_lines(v) > SF_PLAN_COLLAPSE_LINES) {
			/* a long created value (a stock manifest): its identity and size;
			 * `plan --full` and the JSON plan have all of it */
			sf_pv_summary(&b, v);
			if (b.len && b.s[b.len - 1] == ')')
				b.s[--b.len] = 0;
			sf_buf_printf(&b, "; %zu lines, shown with --full)", block_lines(v));
			attr_line(x, sym, a->name, sf_buf_cstr(&b), force);
		} else if (is_block(v)) {
			block_head(x, sym, a->name, "", force);
			sf_pv_children(&w, sym, 0, v, 1);
		} else {
			val_str(&b, v, x->lg);
			attr_line(x, sym, a->name, sf_buf_cstr(&b), force);
		}
	}
	sf_buf_release(&b);
	sf_buf_release(&bb);
}

/* ---- one change ---- */

static const char *headline(const struct sf_change *ch)
{
	switch (ch->action) {
	case SF_ACT_CREATE:
		return ch->reason == SF_REASON_RESUME ? "will be created (resuming an interrupted create)"
		       : ch->reason == SF_REASON_GONE ? "will be created (it was deleted outside secfaas)"
						      : "will be created";
	case SF_ACT_UPDATE: return "will be updated in place";
	case SF_ACT_REPLACE:
		return ch->reason == SF_REASON_TAINTED	 ? "is tainted, so must be replaced"
		       : ch->reason == SF_REASON_BY_REQUEST ? "will be replaced, as requested"
		       : ch->reason == SF_REASON_RESUME	    ? "must be replaced (resuming an interrupted delete)"
							    : "must be replaced";
	case SF_ACT_REPLACE_CBD:
		return ch->reason == SF_REASON_TAINTED ? "is tainted, so must be replaced (new one first)"
		       : ch->reason == SF_REASON_BY_REQUEST ? "will be replaced, as requested (new one first)"
							 : "must be replaced (new one first)";
	case SF_ACT_DELETE:
		return ch->reason == SF_REASON_NO_CONFIG ? "will be destroyed (it is no longer in the spec)"
		       : ch->reason == SF_REASON_DEPOSED
			       ? "(deposed object: the old one of an interrupted create-before-destroy replacement) will be destroyed"
			       : "will be destroyed";
	case SF_ACT_NOOP: return "";
	}
	return "";
}

/* The prior object's provider id, for the lines that name it. */
static const char *prior_id(const struct sf_change *ch)
{
	return json_string_value(json_object_get(ch->before, "id"));
}

/* Should attribute a of ch be listed? Updates and replacements show what
 * changes (and a name to recognise the object by); creates and destroys
 * show everything, destroys with nested values collapsed to one line. */
static int listed(const struct sf_change *ch, const struct sf_attr_change *a)
{
	switch (ch->action) {
	case SF_ACT_UPDATE: return 1; /* the diff holds only changes */
	case SF_ACT_REPLACE:
	case SF_ACT_REPLACE_CBD:
		return a->unknown || a->forces || !a->before || !a->after || !json_equal(a->before, a->after) ||
		       !strcmp(a->name, "name");
	default: return 1;
	}
}

/* Attributes the object has that are not listed. */
static size_t hidden_count(const struct sf_change *ch)
{
	size_t n = 0;
	json_t *all = json_object();
	const char *k;
	json_t *v;
	if (ch->action != SF_ACT_DELETE)
		json_object_foreach(ch->after, k, v) json_object_set_new(all, k, json_true());
	json_object_foreach(ch->before, k, v) json_object_set_new(all, k, json_true());
	for (size_t i = 0; i < ch->nattrs; i++)
		if (listed(ch, &ch->attrs[i]))
			json_object_del(all, ch->attrs[i].name);
	if (ch->action == SF_ACT_DELETE)
		json_object_del(all, "id"); /* printed first */
	n = json_object_size(all);
	json_decref(all);
	return n;
}

static void render_change(FILE *out, const struct sf_change *ch, const struct sf_pv_colors *c, const struct legend *lg,
			  int full)
{
	const char *sym = "+", *col = c->add;
	switch (ch->action) {
	case SF_ACT_UPDATE: sym = "~"; col = c->chg; break;
	case SF_ACT_REPLACE: sym = "-/+"; col = c->chg; break;
	case SF_ACT_REPLACE_CBD: sym = "+/-"; col = c->chg; break;
	case SF_ACT_DELETE: sym = "-"; col = c->del; break;
	default: break;
	}
	if (ch->keep_old)
		sym = "+", col = c->add;
	fprintf(out, "  %s# %s %s%s\n", c->bold, ch->address, headline(ch), c->off);
	const char *old = prior_id(ch);
	if (ch->keep_old)
		fprintf(out, "  %s# the old one%s%s%s is kept for reuse, not destroyed%s\n", c->bold, old ? " (" : "",
			old ? old : "", old ? ")" : "", c->off);
	else if (ch->action == SF_ACT_REPLACE_CBD)
		fprintf(out, "  %s# the old object%s%s%s is destroyed once the new one exists%s\n", c->bold, old ? " (" : "",
			old ? old : "", old ? ")" : "", c->off);
	if ((ch->action == SF_ACT_DELETE || ch->action == SF_ACT_REPLACE || ch->action == SF_ACT_REPLACE_CBD) &&
	    ch->type && ch->type->own && ch->type->own->kind == SF_OWN_REF)
		fprintf(out, "  %s# only forgotten: the %s%s%s%s is someone else's, and stays as it is%s\n", c->bold,
			ch->type->own->noun, old ? " (" : "", old ? old : "", old ? ")" : "", c->off);
	fprintf(out, "%s%3s%s %s\n", col, sym, c->off, ch->address);
	struct ctx x = {out, c, lg, 0, full};
	for (size_t k = 0; k < ch->nattrs; k++)
		if (listed(ch, &ch->attrs[k]) && (int)strlen(ch->attrs[k].name) > x.width)
			x.width = (int)strlen(ch->attrs[k].name);
	/* a destroyed object's provider id, which its type may not list */
	const char *did = ch->action == SF_ACT_DELETE ? prior_id(ch) : NULL;
	for (size_t k = 0; did && k < ch->nattrs; k++)
		if (!strcmp(ch->attrs[k].name, "id"))
			did = NULL;
	if (did) {
		struct sf_buf b = SF_BUF_INIT;
		json_t *v = json_string(did);
		if (x.width < 2)
			x.width = 2;
		val_str(&b, v, lg);
		attr_line(&x, '-', "id", sf_buf_cstr(&b), "");
		json_decref(v);
		sf_buf_release(&b);
	}
	for (size_t k = 0; k < ch->nattrs; k++)
		if (listed(ch, &ch->attrs[k]))
			render_attr(&x, ch, &ch->attrs[k]);
	size_t h = hidden_count(ch);
	if (h && ch->action != SF_ACT_CREATE && ch->action != SF_ACT_DELETE)
		fprintf(out, "        # (%zu unchanged attribute%s hidden)\n", h, h == 1 ? "" : "s");
	fprintf(out, "\n");
}

void sf_plan_render_changes(const struct sf_plan *plan, FILE *out, const struct sf_plan_render_opts *o)
{
	struct sf_pv_colors c = {"", "", "", "", "", ""};
	if (o->color)
		c = (struct sf_pv_colors){"\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[2m", "\033[0m"};
	if (plan->ndrift) {
		fprintf(out, "%sObjects changed outside secfaas:%s\n\n", c.bold, c.off);
		for (size_t i = 0; i < plan->ndrift; i++)
			fprintf(out, "  %s~%s %s: %s\n", c.chg, c.off, plan->drift[i].address, plan->drift[i].what);
		fprintf(out, "\n");
	}
	if (plan->nwarnings) {
		fprintf(out, "%sWarnings:%s\n\n", c.bold, c.off);
		for (size_t i = 0; i < plan->nwarnings; i++)
			fprintf(out, "  %s!%s %s: %s\n", c.chg, c.off, plan->warnings[i].address, plan->warnings[i].what);
		fprintf(out, "\n");
	}
	if (!sf_plan_has_changes(plan))
		return;
	fprintf(out, "secfaas will perform the following actions:\n\n");
	struct legend lg;
	legend_build(&lg, plan);
	legend_print(&lg, out);
	for (size_t i = 0; i < plan->n; i++)
		if (shown_action(plan->v[i].action))
			render_change(out, &plan->v[i], &c, &lg, o->full);
	legend_release(&lg);
}

void sf_plan_render_summary(const struct sf_plan *plan, FILE *out, int color)
{
	const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
	if (!sf_plan_has_changes(plan)) {
		if (plan->refresh_only)
			fprintf(out, plan->ndrift ? "Refresh would update the state to match the objects above.\n"
						  : "No changes. The state matches the live objects.\n");
		else
			fprintf(out, "No changes. Your infrastructure matches the configuration.\n");
		return;
	}
	fprintf(out, "%sPlan:%s %d to add, %d to change, %d to destroy.", bold, off, plan->add, plan->change,
		plan->destroy);
	if (plan->kept)
		fprintf(out, " (%d old object%s kept for reuse.)", plan->kept, plan->kept == 1 ? "" : "s");
	fprintf(out, "\n");
}

void sf_plan_render_human(const struct sf_plan *plan, FILE *out, int color)
{
	struct sf_plan_render_opts o = {color, 0};
	sf_plan_render_changes(plan, out, &o);
	sf_plan_render_summary(plan, out, color);
}

/* ---- JSON ---- */

static json_t *actions_json(const struct sf_change *ch)
{
	if (ch->keep_old)
		return json_pack("[s]", "create"); /* the old object stays: nothing is deleted */
	switch (ch->action) {
	case SF_ACT_NOOP: return json_pack("[s]", "no-op");
	case SF_ACT_CREATE: return json_pack("[s]", "create");
	case SF_ACT_UPDATE: return json_pack("[s]", "update");
	case SF_ACT_REPLACE: return json_pack("[s,s]", "delete", "create");
	case SF_ACT_REPLACE_CBD: return json_pack("[s,s]", "create", "delete");
	case SF_ACT_DELETE: return json_pack("[s]", "delete");
	}
	return json_array();
}

/* Copy of attrs with sensitive attributes nulled; sens gets {name:true}. */
static json_t *redacted(const struct sf_change *ch, const json_t *attrs, json_t *sens)
{
	if (!attrs)
		return json_null();
	json_t *o = json_deep_copy(attrs);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o, tmp, k, v)
	{
		if (!sf_change_sensitive(ch, k))
			continue;
		json_object_set_new(sens, k, json_true());
		json_object_set_new(o, k, json_null());
	}
	return o;
}

json_t *sf_plan_render_json(const struct sf_plan *plan)
{
	json_t *rc = json_array();
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *ch = &plan->v[i];
		const char *dot = strchr(ch->address, '.');
		json_t *bs = json_object(), *as = json_object(), *unknown = json_object(), *paths = json_array();
		json_t *after = ch->action == SF_ACT_DELETE ? json_null() : redacted(ch, ch->after, as);
		for (size_t k = 0; k < ch->nattrs; k++) {
			if (ch->attrs[k].unknown) {
				json_object_set_new(unknown, ch->attrs[k].name, json_true());
				if (json_is_object(after))
					json_object_del(after, ch->attrs[k].name);
			}
			if (ch->attrs[k].forces)
				json_array_append_new(paths, json_pack("[s]", ch->attrs[k].name));
		}
		json_t *change = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "actions", actions_json(ch), "before",
					   redacted(ch, ch->before, bs), "after", after, "after_unknown", unknown,
					   "before_sensitive", bs, "after_sensitive", as, "replace_paths", paths);
		json_t *r = json_pack("{s:s, s:s, s:s, s:o}", "address", ch->address, "type",
				      ch->type ? ch->type->name : "?", "name", dot ? dot + 1 : ch->address, "change",
				      change);
		if (sf_reason_name(ch->reason))
			json_object_set_new(r, "action_reason", json_string(sf_reason_name(ch->reason)));
		if (ch->deposed_key && strchr(ch->deposed_key, '#'))
			json_object_set_new(r, "deposed", json_string(strrchr(ch->deposed_key, '#') + 1));
		if (ch->keep_old && prior_id(ch))
			json_object_set_new(r, "kept_for_reuse", json_string(prior_id(ch)));
		json_array_append_new(rc, r);
	}
	json_t *drift = json_array();
	for (size_t i = 0; i < plan->ndrift; i++)
		json_array_append_new(drift, json_pack("{s:s, s:s}", "address", plan->drift[i].address, "change",
						       plan->drift[i].what));
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:{s:i, s:i, s:i}, s:b, s:b, s:b}", "format_version",
			      "1.0", "secfaas_version", SECFAAS_VERSION, "lineage", plan->lineage, "serial",
			      (json_int_t)plan->serial, "resource_changes", rc, "resource_drift", drift, "summary", "add",
			      plan->add, "change", plan->change, "destroy", plan->destroy, "errored", plan->errored,
			      "destroy_mode", plan->destroy_mode, "has_changes", sf_plan_has_changes(plan));
	if (plan->kept)
		json_object_set_new(json_object_get(j, "summary"), "kept", json_integer(plan->kept));
	if (plan->nwarnings) { /* only when there are some: older readers see the same document */
		json_t *w = json_array();
		for (size_t i = 0; i < plan->nwarnings; i++)
			json_array_append_new(w, json_pack("{s:s, s:s}", "address", plan->warnings[i].address, "message",
							   plan->warnings[i].what));
		json_object_set_new(j, "warnings", w);
	}
	return j;
}
