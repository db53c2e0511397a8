/* plan_value.c - nested values and their diffs in the human plan (see plan_value.h). */
#include "provisioner/engine/plan_value.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define CONTEXT_LINES 3
#define MAX_LCS 4000000 /* cells; beyond this a list or text is shown as replaced */
#define FLOW_MAX 60     /* a list of scalars up to this long prints on one line */

static void line(const struct sf_pv *w, char sym, int level, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void line(const struct sf_pv *w, char sym, int level, const char *fmt, ...)
{
	const char *col = sym == '+' ? w->c->add : sym == '-' ? w->c->del : sym == '~' ? w->c->chg : "";
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(w->out, "%*s%s%c%s %*s%s\n", w->gutter, "", col, sym, *col ? w->c->off : "", 2 * level, "", s);
	free(s);
}

static int is_container(const json_t *v)
{
	return json_is_object(v) || json_is_array(v);
}

static int multiline(const json_t *v)
{
	return json_is_string(v) && strchr(json_string_value(v), '\n');
}

int sf_pv_flat_short(const json_t *v, size_t max)
{
	if (!is_container(v))
		return 1;
	size_t i;
	const char *k;
	json_t *x;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x) if (is_container(x) || multiline(x)) return 0;
	} else {
		json_object_foreach((json_t *)v, k, x) if (is_container(x) || multiline(x)) return 0;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	size_t n = s ? strlen(s) : max + 1;
	free(s);
	return n <= max;
}

/* Would a YAML 1.1/1.2 reader take s back as this same string? Then it can
 * be printed plain; otherwise it is quoted. */
static int plain_ok(const char *s)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"};
	size_t n = strlen(s);
	if (!n || isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return 0;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (*p == ':' && (p[1] == ' ' || !p[1])) || (*p == '#' && p > s && p[-1] == ' '))
			return 0;
	for (size_t i = 0; i < SF_ARRAY_LEN(words); i++)
		if (!strcasecmp(s, words[i]))
			return 0;
	/* anything that starts like a number (1.33, 0x1f, .5, 1e3, 4711) */
	const char *p = s;
	if (*p == '+' || *p == '.')
		p++;
	return !isdigit((unsigned char)*p);
}

void sf_pv_scalar(struct sf_buf *b, const json_t *v, int unknown_null)
{
	if (!v || json_is_null(v)) {
		sf_buf_puts(b, unknown_null ? "(known after apply)" : "null");
		return;
	}
	if (json_is_string(v) && plain_ok(json_string_value(v))) {
		sf_buf_puts(b, json_string_value(v));
		return;
	}
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	sf_buf_puts(b, s ? s : "?");
	free(s);
}

static char *key_text(const char *k)
{
	if (plain_ok(k))
		return xstrdup(k);
	json_t *s = json_string(k);
	char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	return q ? q : xstrdup("?");
}

/* "k: " or "" for list items (key NULL), with the list marker prefix. */
static char *head(const char *prefix, const char *key)
{
	if (!key)
		return xstrdup(prefix);
	char *kt = key_text(key);
	char *h = xasprintf("%s%s:", prefix, kt);
	free(kt);
	return h;
}

/* Where a key sorts: Kubernetes' reading order first (apiVersion, kind,
 * metadata; an item's name and namespace), the rest alphabetically. */
static int key_rank(const char *k)
{
	static const char *const first[] = {"apiVersion", "kind", "metadata", "name", "namespace"};
	for (size_t i = 0; i < SF_ARRAY_LEN(first); i++)
		if (!strcmp(k, first[i]))
			return (int)i;
	return (int)SF_ARRAY_LEN(first);
}

static int key_before(const char *a, const char *b)
{
	int ra = key_rank(a), rb = key_rank(b);
	return ra != rb ? ra < rb : strcmp(a, b) < 0;
}

/* Keys of an object in reading order (borrowed strings; free the array). */
static const char **sorted_keys(const json_t *o, size_t *n)
{
	*n = json_object_size(o);
	const char **v = xcalloc(*n ? *n : 1, sizeof *v);
	size_t i = 0;
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)o, k, x) v[i++] = k;
	for (size_t a = 1; a < *n; a++)
		for (size_t b = a; b > 0 && key_before(v[b], v[b - 1]); b--) {
			const char *t = v[b];
			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	return v;
}

/* A flat container on one line, JSON with a space after separators. */
static void flow(struct sf_buf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_SORT_KEYS);
	sf_buf_puts(b, s ? s : "?");
	free(s);
}

static void text_lines(const struct sf_pv *w, char sym, int level, const char *s)
{
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		line(w, sym, level, "%.*s", (int)l, p);
		p += l + (nl ? 1 : 0);
	}
}

/* One field or list item at `level`. A list marker ("- ") puts the item's
 * content one level deeper than the marker. */
static void value_at(const struct sf_pv *w, char sym, int level, const char *prefix, const char *key, const json_t *v,
		     int unknown_null)
{
	int content = level + (*prefix ? 1 : 0);
	char *h = head(prefix, key);
	const char *sep = key ? " " : "";
	struct sf_buf b = SF_BUF_INIT;
	if (json_is_object(v) && json_object_size(v)) {
		if (!key) {
			/* list item: the first field shares the marker's line */
			size_t n;
			const char **ks = sorted_keys(v, &n);
			for (size_t i = 0; i < n; i++)
				value_at(w, sym, i ? content : level, i ? "" : prefix, ks[i], json_object_get(v, ks[i]),
					 unknown_null);
			free(ks);
		} else {
			line(w, sym, level, "%s", h);
			sf_pv_children(w, sym, content + 1, v, unknown_null);
		}
	} else if (json_is_array(v) && json_array_size(v) && !sf_pv_flat_short(v, FLOW_MAX)) {
		if (key) {
			line(w, sym, level, "%s", h);
			sf_pv_children(w, sym, content + 1, v, unknown_null);
		} else {
			line(w, sym, level, "%s-", prefix);
			sf_pv_children(w, sym, content + 1, v, unknown_null);
		}
	} else if (multiline(v)) {
		line(w, sym, level, "%s%s|", h, sep);
		text_lines(w, sym, content + 1, json_string_value(v));
	} else {
		if (is_container(v))
			flow(&b, v);
		else
			sf_pv_scalar(&b, v, unknown_null);
		line(w, sym, level, "%s%s%s", h, sep, sf_buf_cstr(&b));
	}
	sf_buf_release(&b);
	free(h);
}

void sf_pv_value(const struct sf_pv *w, char sym, int level, const char *key, const json_t *v, int unknown_null)
{
	value_at(w, sym, level, key ? "" : "- ", key, v, unknown_null);
}

void sf_pv_children(const struct sf_pv *w, char sym, int level, const json_t *v, int unknown_null)
{
	if (json_is_object(v)) {
		size_t n;
		const char **ks = sorted_keys(v, &n);
		for (size_t i = 0; i < n; i++)
			value_at(w, sym, level, "", ks[i], json_object_get(v, ks[i]), unknown_null);
		free(ks);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) value_at(w, sym, level, "- ", NULL, x, unknown_null);
	}
}

static void hidden(const struct sf_pv *w, int level, size_t n, const char *what)
{
	if (n)
		line(w, ' ', level, "# (%zu unchanged %s%s hidden)", n, what, n == 1 ? "" : "s");
}

/* ---- longest common subsequence over two sequences ---- */

typedef int (*eq_fn)(const void *a, size_t i, const void *b, size_t j);

enum op { OP_SAME, OP_DEL, OP_ADD };

/* Edit script a -> b as ops with indices; NULL when too large. Caller frees. */
static enum op *lcs_script(const void *a, size_t na, const void *b, size_t nb, eq_fn eq, size_t **ia, size_t **ib,
			   size_t *nops)
{
	if ((na + 1) * (nb + 1) > MAX_LCS)
		return NULL;
	size_t *t = xcalloc((na + 1) * (nb + 1), sizeof *t);
#define T(i, j) t[(i) * (nb + 1) + (j)]
	for (size_t i = na; i-- > 0;)
		for (size_t j = nb; j-- > 0;)
			T(i, j) = eq(a, i, b, j) ? T(i + 1, j + 1) + 1 : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
	enum op *ops = xcalloc(na + nb + 1, sizeof *ops);
	*ia = xcalloc(na + nb + 1, sizeof **ia);
	*ib = xcalloc(na + nb + 1, sizeof **ib);
	size_t i = 0, j = 0, k = 0;
	while (i < na || j < nb) {
		if (i < na && j < nb && eq(a, i, b, j)) {
			ops[k] = OP_SAME;
			(*ia)[k] = i++;
			(*ib)[k++] = j++;
		} else if (i < na && (j == nb || T(i + 1, j) >= T(i, j + 1))) {
			ops[k] = OP_DEL;
			(*ia)[k++] = i++;
		} else {
			ops[k] = OP_ADD;
			(*ib)[k++] = j++;
		}
	}
#undef T
	free(t);
	*nops = k;
	return ops;
}

/* ---- multi-line strings ---- */

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

static int eq_line(const void *a, size_t i, const void *b, size_t j)
{
	return !strcmp(((char *const *)a)[i], ((char *const *)b)[j]);
}

void sf_pv_line_diff(const struct sf_pv *w, int level, const char *before, const char *after)
{
	char *ca, *cb;
	size_t na, nb, nops = 0, *ia = NULL, *ib = NULL;
	char **la = split_lines(before, &na, &ca), **lb = split_lines(after, &nb, &cb);
	enum op *ops = lcs_script(la, na, lb, nb, eq_line, &ia, &ib, &nops);
	if (!ops) {
		line(w, '~', level, "# (%zu lines -> %zu lines; too long to diff)", na, nb);
		goto done;
	}
	/* keep: within CONTEXT_LINES of a change */
	char *keep = xcalloc(nops + 1, 1);
	for (size_t k = 0; k < nops; k++) {
		if (ops[k] == OP_SAME)
			continue;
		size_t lo = k > CONTEXT_LINES ? k - CONTEXT_LINES : 0, hi = k + CONTEXT_LINES;
		for (size_t x = lo; x <= hi && x < nops; x++)
			keep[x] = 1;
	}
	size_t skipped = 0;
	for (size_t k = 0; k < nops; k++) {
		if (ops[k] == OP_SAME && !keep[k]) {
			skipped++;
			continue;
		}
		hidden(w, level, skipped, "line");
		skipped = 0;
		if (ops[k] == OP_SAME)
			line(w, ' ', level, "%s", la[ia[k]]);
		else if (ops[k] == OP_DEL)
			line(w, '-', level, "%s", la[ia[k]]);
		else
			line(w, '+', level, "%s", lb[ib[k]]);
	}
	hidden(w, level, skipped, "line");
	free(keep);
done:
	free(ops);
	free(ia);
	free(ib);
	free(la);
	free(lb);
	free(ca);
	free(cb);
}

/* ---- diffs ---- */

static void diff_object(const struct sf_pv *w, int level, const json_t *before, const json_t *after,
			const char *skip);
static void diff_array(const struct sf_pv *w, int level, const json_t *before, const json_t *after);

/* One changed field (before != after) at `level` behind `prefix`. */
static void diff_field(const struct sf_pv *w, int level, const char *prefix, const char *key, const json_t *before,
		       const json_t *after)
{
	int content = level + (*prefix ? 1 : 0);
	if (!before) {
		value_at(w, '+', level, prefix, key, after, 1);
		return;
	}
	if (!after) {
		value_at(w, '-', level, prefix, key, before, 0);
		return;
	}
	char *h = head(prefix, key);
	if (json_is_object(before) && json_is_object(after)) {
		line(w, ' ', level, "%s", h);
		diff_object(w, content + 1, before, after, NULL);
	} else if (json_is_array(before) && json_is_array(after) &&
		   !(sf_pv_flat_short(before, FLOW_MAX) && sf_pv_flat_short(after, FLOW_MAX))) {
		line(w, ' ', level, "%s", h);
		diff_array(w, content + 1, before, after);
	} else if (json_is_string(before) && json_is_string(after) && (multiline(before) || multiline(after))) {
		line(w, '~', level, "%s |", h);
		sf_pv_line_diff(w, content + 1, json_string_value(before), json_string_value(after));
	} else if ((is_container(before) && !sf_pv_flat_short(before, FLOW_MAX)) || multiline(before) ||
		   (is_container(after) && !sf_pv_flat_short(after, FLOW_MAX)) || multiline(after)) {
		value_at(w, '-', level, prefix, key, before, 0);
		value_at(w, '+', level, prefix, key, after, 1);
	} else {
		struct sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
		if (is_container(before))
			flow(&a, before);
		else
			sf_pv_scalar(&a, before, 0);
		if (is_container(after))
			flow(&b, after);
		else
			sf_pv_scalar(&b, after, 1);
		line(w, '~', level, "%s%s%s -> %s", h, key ? " " : "", sf_buf_cstr(&a), sf_buf_cstr(&b));
		sf_buf_release(&a);
		sf_buf_release(&b);
	}
	free(h);
}

static void diff_object(const struct sf_pv *w, int level, const json_t *before, const json_t *after, const char *skip)
{
	json_t *all = json_object();
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)before, k, x) json_object_set_new(all, k, json_true());
	json_object_foreach((json_t *)after, k, x) json_object_set_new(all, k, json_true());
	size_t n, same = 0;
	const char **ks = sorted_keys(all, &n);
	for (size_t i = 0; i < n; i++) {
		if (skip && !strcmp(ks[i], skip))
			continue;
		const json_t *b = json_object_get(before, ks[i]), *a = json_object_get(after, ks[i]);
		if (b && a && json_equal(b, a)) {
			same++;
			continue;
		}
		diff_field(w, level, "", ks[i], b, a);
	}
	hidden(w, level, same, "field");
	free(ks);
	json_decref(all);
}

/* Kubernetes lists (containers, env, ports, volumes, ...) are keyed by
 * `name`: match items by it when every item has a distinct one. */
static const char *item_name(const json_t *v)
{
	return json_is_object(v) ? json_string_value(json_object_get(v, "name")) : NULL;
}

static int named_list(const json_t *l)
{
	size_t i, j;
	json_t *x;
	json_array_foreach(l, i, x)
	{
		const char *n = item_name(x);
		if (!n)
			return 0;
		for (j = 0; j < i; j++)
			if (!strcmp(n, item_name(json_array_get(l, j))))
				return 0;
	}
	return 1;
}

static int eq_name(const void *a, size_t i, const void *b, size_t j)
{
	return !strcmp(item_name(json_array_get(a, i)), item_name(json_array_get(b, j)));
}

static int eq_json(const void *a, size_t i, const void *b, size_t j)
{
	return json_equal(json_array_get(a, i), json_array_get(b, j));
}

static void diff_array(const struct sf_pv *w, int level, const json_t *before, const json_t *after)
{
	int named = json_array_size(before) && json_array_size(after) && named_list(before) && named_list(after);
	size_t nops = 0, *ia = NULL, *ib = NULL, same = 0;
	enum op *ops = lcs_script(before, json_array_size(before), after, json_array_size(after),
				  named ? eq_name : eq_json, &ia, &ib, &nops);
	if (!ops) {
		sf_pv_children(w, '-', level, before, 0);
		sf_pv_children(w, '+', level, after, 1);
		return;
	}
	for (size_t k = 0; k < nops; k++) {
		if (ops[k] == OP_DEL) {
			value_at(w, '-', level, "- ", NULL, json_array_get(before, ia[k]), 0);
		} else if (ops[k] == OP_ADD) {
			value_at(w, '+', level, "- ", NULL, json_array_get(after, ib[k]), 1);
		} else {
			const json_t *b = json_array_get(before, ia[k]), *a = json_array_get(after, ib[k]);
			if (json_equal(b, a)) {
				same++;
				continue;
			}
			/* same name, different content: the name is the context */
			struct sf_buf nb = SF_BUF_INIT;
			sf_pv_scalar(&nb, json_object_get(b, "name"), 0);
			line(w, ' ', level, "- name: %s", sf_buf_cstr(&nb));
			sf_buf_release(&nb);
			diff_object(w, level + 1, b, a, "name");
		}
	}
	hidden(w, level, same, "element");
	free(ops);
	free(ia);
	free(ib);
}

void sf_pv_diff_children(const struct sf_pv *w, int level, const json_t *before, const json_t *after)
{
	if (json_is_object(before) && json_is_object(after))
		diff_object(w, level, before, after, NULL);
	else if (json_is_array(before) && json_is_array(after))
		diff_array(w, level, before, after);
	else {
		sf_pv_children(w, '-', level, before, 0);
		sf_pv_children(w, '+', level, after, 1);
	}
}

void sf_pv_summary(struct sf_buf *b, const json_t *v)
{
	if (json_is_array(v)) {
		sf_buf_printf(b, "(%zu element%s)", json_array_size(v), json_array_size(v) == 1 ? "" : "s");
		return;
	}
	if (!json_is_object(v)) {
		sf_pv_scalar(b, v, 0);
		return;
	}
	const char *kind = json_string_value(json_object_get(v, "kind"));
	const json_t *md = json_object_get(v, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	if (kind && name) {
		sf_buf_printf(b, "(%s %s%s%s)", kind, ns ? ns : "", ns ? "/" : "", name);
		return;
	}
	size_t n;
	const char **ks = sorted_keys(v, &n);
	sf_buf_printf(b, "(%zu field%s", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n && i < 6; i++)
		sf_buf_printf(b, "%s%s", i ? ", " : ": ", ks[i]);
	sf_buf_puts(b, n > 6 ? ", ...)" : ")");
	free(ks);
}
