/*
 * plan_render.c - plans for people (symbols, forcing attributes, multi-line
 * values as line diffs) and for machines (Terraform's JSON plan shape).
 *
 * Secrets: an attribute flagged sensitive renders as "(sensitive value)" and
 * as null in JSON with *_sensitive set; nothing else is printed for it.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/engine/plan.h"
#include "util.h"

struct colors {
	const char *add, *del, *chg, *bold, *dim, *off;
};

static void val_str(struct sf_buf *b, const json_t *v)
{
	if (!v) {
		sf_buf_puts(b, "null");
		return;
	}
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	sf_buf_puts(b, s ? s : "?");
	free(s);
}

static int multiline(const json_t *v)
{
	return json_is_string(v) && strchr(json_string_value(v), '\n');
}

/* Split into lines (borrowed pointers into a copy). */
static char **split_lines(const char *s, size_t *n, char **copy)
{
	*copy = xstrdup(s ? s : "");
	size_t cap = 16, k = 0;
	char **v = xmalloc(cap * sizeof *v);
	char *p = *copy;
	while (*p) {
		if (k == cap)
			v = xrealloc(v, (cap *= 2) * sizeof *v);
		v[k++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	*n = k;
	return v;
}

/* Line diff by longest common subsequence; good enough for user data and
 * manifests (capped so a pathological value cannot eat memory). */
static void line_diff(FILE *out, const char *a, const char *b, const char *ind, const struct colors *c)
{
	char *ca, *cb;
	size_t na, nb;
	char **la = split_lines(a, &na, &ca), **lb = split_lines(b, &nb, &cb);
	if (na > 2000 || nb > 2000) {
		fprintf(out, "%s  (%zu lines -> %zu lines; too long to diff)\n", ind, na, nb);
		goto done;
	}
	size_t *t = xcalloc((na + 1) * (nb + 1), sizeof *t);
#define T(i, j) t[(i) * (nb + 1) + (j)]
	for (size_t i = na; i-- > 0;)
		for (size_t j = nb; j-- > 0;)
			T(i, j) = !strcmp(la[i], lb[j]) ? T(i + 1, j + 1) + 1
				  : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
	size_t i = 0, j = 0;
	while (i < na || j < nb) {
		if (i < na && j < nb && !strcmp(la[i], lb[j])) {
			fprintf(out, "%s    %s\n", ind, la[i]);
			i++, j++;
		} else if (i < na && (j == nb || T(i + 1, j) >= T(i, j + 1))) {
			fprintf(out, "%s  %s-%s %s\n", ind, c->del, c->off, la[i++]);
		} else {
			fprintf(out, "%s  %s+%s %s\n", ind, c->add, c->off, lb[j++]);
		}
	}
#undef T
	free(t);
done:
	free(la);
	free(lb);
	free(ca);
	free(cb);
}

static void render_attr(FILE *out, const struct sf_change *ch, const struct sf_attr_change *a, int width,
			const struct colors *c)
{
	struct sf_buf b = SF_BUF_INIT, bb = SF_BUF_INIT;
	const char *sym, *col;
	int created = ch->action == SF_ACT_CREATE || (!a->before && (a->after || a->unknown));
	if (ch->action == SF_ACT_DELETE || (a->before && !a->after && !a->unknown)) {
		sym = "-";
		col = c->del;
	} else if (created) {
		sym = "+";
		col = c->add;
	} else if (a->before && a->after && json_equal(a->before, a->after)) {
		sym = " ";
		col = "";
	} else {
		sym = "~";
		col = c->chg;
	}
	const char *force = a->forces ? "  # forces replacement" : "";
	if (a->sensitive) {
		sf_buf_puts(&b, "(sensitive value)");
	} else if (a->unknown) {
		sf_buf_puts(&b, "(known after apply)");
	} else if (*sym == '~' && (multiline(a->before) || multiline(a->after))) {
		fprintf(out, "      %s%s%s %-*s = <<-EOT%s\n", col, sym, c->off, width, a->name, force);
		line_diff(out, json_string_value(a->before), json_string_value(a->after), "        ", c);
		fprintf(out, "          EOT\n");
		return;
	} else if (*sym == '-') {
		val_str(&b, a->before);
	} else {
		val_str(&b, a->after);
	}
	if (*sym == '~') {
		if (a->sensitive)
			sf_buf_puts(&bb, "(sensitive value)");
		else
			val_str(&bb, a->before);
		fprintf(out, "      %s%s%s %-*s = %s -> %s%s\n", col, sym, c->off, width, a->name, sf_buf_cstr(&bb),
			sf_buf_cstr(&b), force);
	} else if (multiline(*sym == '-' ? a->before : a->after) && !a->sensitive) {
		fprintf(out, "      %s%s%s %-*s = <<-EOT%s\n", col, sym, c->off, width, a->name, force);
		const char *s = json_string_value(*sym == '-' ? a->before : a->after);
		for (const char *p = s; *p;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			fprintf(out, "            %.*s\n", (int)l, p);
			p += l + (nl ? 1 : 0);
		}
		fprintf(out, "          EOT\n");
	} else {
		fprintf(out, "      %s%s%s %-*s = %s%s\n", col, sym, c->off, width, a->name, sf_buf_cstr(&b), force);
	}
	sf_buf_release(&b);
	sf_buf_release(&bb);
}

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

void sf_plan_render_human(const struct sf_plan *plan, FILE *out, int color)
{
	struct colors c = {"", "", "", "", "", ""};
	if (color)
		c = (struct colors){"\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[2m", "\033[0m"};
	if (plan->ndrift) {
		fprintf(out, "%sObjects changed outside secfaas:%s\n\n", c.bold, c.off);
		for (size_t i = 0; i < plan->ndrift; i++)
			fprintf(out, "  %s~%s %s: %s\n", c.chg, c.off, plan->drift[i].address, plan->drift[i].what);
		fprintf(out, "\n");
	}
	if (!sf_plan_has_changes(plan)) {
		if (plan->refresh_only)
			fprintf(out, plan->ndrift ? "Refresh would update the state to match the objects above.\n"
						  : "No changes. The state matches the live objects.\n");
		else
			fprintf(out, "No changes. Your infrastructure matches the configuration.\n");
		return;
	}
	fprintf(out, "secfaas will perform the following actions:\n\n");
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *ch = &plan->v[i];
		if (ch->action == SF_ACT_NOOP)
			continue;
		const char *sym = "+", *col = c.add;
		switch (ch->action) {
		case SF_ACT_UPDATE: sym = "~"; col = c.chg; break;
		case SF_ACT_REPLACE: sym = "-/+"; col = c.chg; break;
		case SF_ACT_REPLACE_CBD: sym = "+/-"; col = c.chg; break;
		case SF_ACT_DELETE: sym = "-"; col = c.del; break;
		default: break;
		}
		fprintf(out, "  %s# %s %s%s\n", c.bold, ch->address, headline(ch), c.off);
		fprintf(out, "%s%3s%s %s\n", col, sym, c.off, ch->address);
		int width = 0;
		for (size_t k = 0; k < ch->nattrs; k++)
			if ((int)strlen(ch->attrs[k].name) > width)
				width = (int)strlen(ch->attrs[k].name);
		for (size_t k = 0; k < ch->nattrs; k++)
			render_attr(out, ch, &ch->attrs[k], width, &c);
		fprintf(out, "\n");
	}
	fprintf(out, "%sPlan:%s %d to add, %d to change, %d to destroy.\n", c.bold, c.off, plan->add, plan->change,
		plan->destroy);
}

static json_t *actions_json(enum sf_action a)
{
	switch (a) {
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
static json_t *redacted(const struct sf_rtype *t, const json_t *attrs, json_t *sens)
{
	if (!attrs)
		return json_null();
	json_t *o = json_deep_copy(attrs);
	for (const struct sf_attr_def *a = t ? t->attrs : NULL; a && a->name; a++)
		if ((a->flags & SF_ATTR_SENSITIVE) && json_object_get(o, a->name)) {
			json_object_set_new(o, a->name, json_null());
			json_object_set_new(sens, a->name, json_true());
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
		json_t *after = ch->action == SF_ACT_DELETE ? json_null() : redacted(ch->type, ch->after, as);
		for (size_t k = 0; k < ch->nattrs; k++) {
			if (ch->attrs[k].unknown) {
				json_object_set_new(unknown, ch->attrs[k].name, json_true());
				if (json_is_object(after))
					json_object_del(after, ch->attrs[k].name);
			}
			if (ch->attrs[k].forces)
				json_array_append_new(paths, json_pack("[s]", ch->attrs[k].name));
		}
		json_t *change = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "actions", actions_json(ch->action),
					   "before", redacted(ch->type, ch->before, bs), "after", after,
					   "after_unknown", unknown, "before_sensitive", bs, "after_sensitive", as,
					   "replace_paths", paths);
		json_t *r = json_pack("{s:s, s:s, s:s, s:o}", "address", ch->address, "type",
				      ch->type ? ch->type->name : "?", "name", dot ? dot + 1 : ch->address, "change",
				      change);
		if (sf_reason_name(ch->reason))
			json_object_set_new(r, "action_reason", json_string(sf_reason_name(ch->reason)));
		if (ch->deposed_key && strchr(ch->deposed_key, '#'))
			json_object_set_new(r, "deposed", json_string(strrchr(ch->deposed_key, '#') + 1));
		json_array_append_new(rc, r);
	}
	json_t *drift = json_array();
	for (size_t i = 0; i < plan->ndrift; i++)
		json_array_append_new(drift, json_pack("{s:s, s:s}", "address", plan->drift[i].address, "change",
						       plan->drift[i].what));
	return json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:{s:i, s:i, s:i}, s:b, s:b, s:b}", "format_version", "1.0",
			 "secfaas_version", SECFAAS_VERSION, "lineage", plan->lineage, "serial", (json_int_t)plan->serial,
			 "resource_changes", rc, "resource_drift", drift, "summary", "add", plan->add, "change",
			 plan->change, "destroy", plan->destroy, "errored", plan->errored, "destroy_mode",
			 plan->destroy_mode, "has_changes", sf_plan_has_changes(plan));
}
