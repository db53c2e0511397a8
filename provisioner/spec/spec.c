/*
 * spec.c - libyaml event stream → struct sf_node trees (see spec.h).
 *
 * We use the event API rather than the document API so we can check
 * duplicate keys with the key's own position and reject aliases (a cluster
 * spec has no use for them, and silently expanding them hides mistakes).
 */
#include "provisioner/spec/spec.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "text.h"
#include "util.h"

/* ---- diagnostics ---- */

void sf_diag_add(struct sf_diags *d, enum sf_severity sev, const struct sf_pos *pos, const char *fmt, ...)
{
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 16;
		d->v = xrealloc(d->v, d->alloc * sizeof *d->v);
	}
	struct sf_diag *g = &d->v[d->n++];
	g->sev = sev;
	if (pos)
		g->pos = *pos;
	else
		memset(&g->pos, 0, sizeof g->pos);
	va_list ap;
	va_start(ap, fmt);
	char *raw = xvasprintf(fmt, ap);
	va_end(ap);
	/* Messages echo spec text: escaped and bounded (text.h). */
	g->msg = xmalloc(SF_DIAG_MAX + 1);
	sf_text_escape(g->msg, SF_DIAG_MAX + 1, raw, strlen(raw));
	free(raw);
	if (sev == SF_SEV_ERROR)
		d->nerrors++;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct sf_diag *x = a, *y = b;
	const char *fx = x->pos.file ? x->pos.file : "", *fy = y->pos.file ? y->pos.file : "";
	int c = strcmp(fx, fy);
	if (c)
		return c;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return x < y ? -1 : (x > y);
}

void sf_diags_print(const struct sf_diags *d, FILE *f, int color)
{
	if (!d->n)
		return;
	struct sf_diag *v = xmalloc(d->n * sizeof *v);
	memcpy(v, d->v, d->n * sizeof *v);
	/* qsort is not stable; diag_cmp falls back to original address order,
	 * which is why we sort a copy whose order matches insertion. */
	qsort(v, d->n, sizeof *v, diag_cmp);
	for (size_t i = 0; i < d->n; i++) {
		const struct sf_diag *g = &v[i];
		const char *sev = g->sev == SF_SEV_ERROR ? "error" : "warning";
		const char *on = color ? (g->sev == SF_SEV_ERROR ? "\033[1;31m" : "\033[1;33m") : "";
		const char *off = color ? "\033[0m" : "";
		char file[512];
		if (g->pos.file) /* a file name is outside text too */
			sf_text_escape(file, sizeof file, g->pos.file, strlen(g->pos.file));
		if (g->pos.file && g->pos.line)
			fprintf(f, "%s:%d:%d: %s%s:%s %s\n", file, g->pos.line, g->pos.col, on, sev, off, g->msg);
		else if (g->pos.file)
			fprintf(f, "%s: %s%s:%s %s\n", file, on, sev, off, g->msg);
		else
			fprintf(f, "%s%s:%s %s\n", on, sev, off, g->msg);
	}
	free(v);
}

void sf_diags_release(struct sf_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	memset(d, 0, sizeof *d);
}

/* ---- nodes ---- */

static void node_free(struct sf_node *n)
{
	if (!n)
		return;
	free(n->scalar);
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			node_free(n->keys[i]);
		node_free(n->vals[i]);
	}
	free(n->keys);
	free(n->vals);
	free(n);
}

static struct sf_node *node_new(enum sf_ntype t, const char *file, const yaml_mark_t *m)
{
	struct sf_node *n = xcalloc(1, sizeof *n);
	n->type = t;
	n->pos.file = file;
	n->pos.line = (int)m->line + 1;
	n->pos.col = (int)m->column + 1;
	return n;
}

static void node_push(struct sf_node *parent, struct sf_node *key, struct sf_node *val)
{
	/* Capacity is implied by the count (0, then 4, 8, 16, ...): the arrays
	 * grow geometrically without a capacity field, so a mapping with 100k
	 * keys costs linear time, not 100k reallocations of a growing array. */
	size_t n = parent->n;
	if (n == 0 || (n >= 4 && !(n & (n - 1)))) {
		size_t cap = n ? 2 * n : 4;
		parent->vals = xrealloc(parent->vals, cap * sizeof *parent->vals);
		if (parent->type == SF_N_MAP)
			parent->keys = xrealloc(parent->keys, cap * sizeof *parent->keys);
	}
	if (parent->type == SF_N_MAP)
		parent->keys[n] = key;
	parent->vals[parent->n++] = val;
}

/* ---- duplicate keys ----
 * A mapping's keys go into an open-addressing hash set while it is parsed,
 * so finding a duplicate is one probe per key, not a scan of every earlier
 * key (quadratic: 100k keys took minutes). */

struct keyset {
	size_t *slot; /* index + 1 into the mapping's keys; 0 = empty */
	size_t cap;   /* power of two */
	size_t n;
};

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The earlier key node equal to keys[idx], or NULL after adding it. */
static struct sf_node *keyset_add(struct keyset *ks, struct sf_node *const *keys, size_t idx)
{
	if (2 * (ks->n + 1) > ks->cap) {
		size_t ncap = ks->cap ? 2 * ks->cap : 16;
		size_t *ns = xcalloc(ncap, sizeof *ns);
		for (size_t i = 0; i < ks->cap; i++) {
			if (!ks->slot[i])
				continue;
			size_t j = key_hash(keys[ks->slot[i] - 1]->scalar) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = ks->slot[i];
		}
		free(ks->slot);
		ks->slot = ns;
		ks->cap = ncap;
	}
	const char *k = keys[idx]->scalar;
	size_t j = key_hash(k) & (ks->cap - 1);
	for (; ks->slot[j]; j = (j + 1) & (ks->cap - 1))
		if (!strcmp(keys[ks->slot[j] - 1]->scalar, k))
			return keys[ks->slot[j] - 1];
	ks->slot[j] = idx + 1;
	ks->n++;
	return NULL;
}

struct sf_node *sf_node_get(const struct sf_node *n, const char *key)
{
	if (!n || n->type != SF_N_MAP)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (n->keys[i]->scalar && !strcmp(n->keys[i]->scalar, key))
			return n->vals[i]->type == SF_N_NULL ? NULL : n->vals[i];
	return NULL;
}

struct sf_node *sf_node_key(const struct sf_node *n, const char *key)
{
	if (!n || n->type != SF_N_MAP)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (n->keys[i]->scalar && !strcmp(n->keys[i]->scalar, key))
			return n->keys[i];
	return NULL;
}

const char *sf_node_str(const struct sf_node *n)
{
	return n && n->type == SF_N_SCALAR ? n->scalar : NULL;
}

const char *sf_ntype_name(enum sf_ntype t)
{
	switch (t) {
	case SF_N_NULL: return "null";
	case SF_N_SCALAR: return "scalar";
	case SF_N_MAP: return "mapping";
	case SF_N_SEQ: return "list";
	}
	return "?";
}

/* ---- parsing ---- */

struct parse {
	yaml_parser_t p;
	const char *file;
	struct sf_diags *d;
	int failed;
};

static struct sf_node *parse_node(struct parse *ps, yaml_event_t *ev, int depth);

static int next_event(struct parse *ps, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ps->p, ev)) {
		struct sf_pos pos = {ps->file, (int)ps->p.problem_mark.line + 1,
				     (int)ps->p.problem_mark.column + 1};
		sf_diag_error(ps->d, &pos, "invalid YAML: %s%s%s", ps->p.problem ? ps->p.problem : "syntax error",
			      ps->p.context ? " " : "", ps->p.context ? ps->p.context : "");
		ps->failed = 1;
		return -1;
	}
	return 0;
}

static int is_null_scalar(const yaml_event_t *ev)
{
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)ev->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* Parse the node starting at the already-read event *ev. */
static struct sf_node *parse_node(struct parse *ps, yaml_event_t *ev, int depth)
{
	if (depth > 64) {
		struct sf_pos pos = {ps->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1};
		sf_diag_error(ps->d, &pos, "nesting deeper than 64 levels");
		ps->failed = 1;
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		struct sf_pos pos = {ps->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1};
		sf_diag_error(ps->d, &pos, "YAML aliases (*%s) are not supported in secfaas specs; write the value out",
			      (const char *)ev->data.alias.anchor);
		ps->failed = 1;
		return NULL;
	}
	case YAML_SCALAR_EVENT: {
		struct sf_node *n = node_new(is_null_scalar(ev) ? SF_N_NULL : SF_N_SCALAR, ps->file, &ev->start_mark);
		if (n->type == SF_N_SCALAR) {
			n->scalar = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
			n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			if (strlen(n->scalar) != ev->data.scalar.length) {
				sf_diag_error(ps->d, &n->pos, "string contains a NUL byte");
				ps->failed = 1;
			}
		}
		return n;
	}
	case YAML_SEQUENCE_START_EVENT: {
		struct sf_node *n = node_new(SF_N_SEQ, ps->file, &ev->start_mark);
		for (;;) {
			yaml_event_t e;
			if (next_event(ps, &e) < 0)
				return n;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				return n;
			}
			struct sf_node *item = parse_node(ps, &e, depth + 1);
			yaml_event_delete(&e);
			if (!item)
				return n;
			node_push(n, NULL, item);
		}
	}
	case YAML_MAPPING_START_EVENT: {
		struct sf_node *n = node_new(SF_N_MAP, ps->file, &ev->start_mark);
		struct keyset ks = {NULL, 0, 0};
		for (;;) {
			yaml_event_t e;
			if (next_event(ps, &e) < 0)
				break;
			if (e.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&e);
				break;
			}
			struct sf_node *key = parse_node(ps, &e, depth + 1);
			yaml_event_delete(&e);
			if (!key)
				break;
			if (key->type != SF_N_SCALAR) {
				sf_diag_error(ps->d, &key->pos, "mapping keys must be plain strings, not a %s",
					      sf_ntype_name(key->type));
				ps->failed = 1;
				if (key->type == SF_N_NULL) {
					key->type = SF_N_SCALAR;
					key->scalar = xstrdup("");
				}
			}
			yaml_event_t ve;
			if (next_event(ps, &ve) < 0) {
				node_free(key);
				break;
			}
			struct sf_node *val = parse_node(ps, &ve, depth + 1);
			yaml_event_delete(&ve);
			if (!val) {
				node_free(key);
				break;
			}
			node_push(n, key, val);
			struct sf_node *prev = key->scalar ? keyset_add(&ks, n->keys, n->n - 1) : NULL;
			if (prev) {
				sf_diag_error(ps->d, &key->pos, "duplicate key \"%s\" (first defined at line %d)",
					      key->scalar, prev->pos.line);
				ps->failed = 1;
			}
		}
		free(ks.slot);
		return n;
	}
	default:
		break;
	}
	struct sf_pos pos = {ps->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1};
	sf_diag_error(ps->d, &pos, "unexpected YAML event");
	ps->failed = 1;
	return NULL;
}

static void set_add_doc(struct sf_specset *set, const char *file, int index, struct sf_node *root)
{
	sf_specset_unindex(set);
	set->docs = xrealloc(set->docs, (set->n + 1) * sizeof *set->docs);
	set->docs[set->n].file = file;
	set->docs[set->n].index = index;
	set->docs[set->n].root = root;
	set->n++;
}

static const char *set_add_file(struct sf_specset *set, const char *name)
{
	set->files = xrealloc(set->files, (set->nfiles + 1) * sizeof *set->files);
	set->files[set->nfiles] = xstrdup(name);
	return set->files[set->nfiles++];
}

static void set_digest_add(struct sf_specset *set, const char *name, const char *buf, size_t len)
{
	/* Chain: digest = sha256(prev digest || name || NUL || bytes). */
	struct sf_buf b = SF_BUF_INIT;
	b.cap = len + 512;
	if (set->digest)
		sf_buf_puts(&b, set->digest);
	sf_buf_puts(&b, name);
	sf_buf_putc(&b, 0);
	sf_buf_append(&b, buf, len);
	char hex[65];
	sf_sha256_hex(hex, b.s, b.len);
	sf_buf_release(&b);
	free(set->digest);
	set->digest = xstrdup(hex);
}

int sf_spec_load_buffer(struct sf_specset *set, const char *name, const char *buf, size_t len,
			struct sf_diags *d)
{
	size_t before = d->nerrors;
	const char *file = set_add_file(set, name);
	set_digest_add(set, name, buf, len);
	struct parse ps = {.file = file, .d = d};
	if (!yaml_parser_initialize(&ps.p)) {
		sf_diag_error(d, NULL, "%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&ps.p, (const unsigned char *)buf, len);
	int index = 0;
	size_t ndocs = 0;
	for (;;) {
		yaml_event_t ev;
		if (next_event(&ps, &ev) < 0)
			break;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			yaml_event_t e;
			if (next_event(&ps, &e) < 0)
				break;
			struct sf_node *root = parse_node(&ps, &e, 0);
			yaml_event_delete(&e);
			if (ps.failed) {
				node_free(root);
				break;
			}
			yaml_event_t end;
			if (next_event(&ps, &end) < 0) {
				node_free(root);
				break;
			}
			yaml_event_delete(&end);
			/* An empty document ("---" alone) is skipped, as kubectl does. */
			if (root && root->type != SF_N_NULL) {
				set_add_doc(set, file, index, root);
				ndocs++;
			} else {
				node_free(root);
			}
			index++;
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps.p);
	if (!ps.failed && !ndocs && d->nerrors == before) {
		/* Name the file: "no documents" alone would leave the user to
		 * guess which of a directory's files is empty. */
		struct sf_pos pos = {file, 0, 0};
		sf_diag_error(d, &pos, "no spec documents in this file (it is empty or holds only comments)");
	}
	return d->nerrors > before ? -1 : 0;
}

static int has_yaml_ext(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml"));
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(struct sf_specset *set, const char *path, struct sf_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	struct sf_err err = SF_ERR_INIT;
	if (sf_read_file(&buf, &len, path, (size_t)16 << 20, &err) < 0) {
		struct sf_pos pos = {set_add_file(set, path), 0, 0};
		sf_diag_error(d, &pos, "%s", err.msg);
		return -1;
	}
	int rc = sf_spec_load_buffer(set, path, buf, len, d);
	free(buf);
	return rc;
}

int sf_spec_load_path(struct sf_specset *set, const char *path, struct sf_diags *d)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		sf_diag_error(d, NULL, "cannot read spec %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(set, path, d);
	DIR *dir = opendir(path);
	if (!dir) {
		sf_diag_error(d, NULL, "cannot read spec directory %s: %s", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !has_yaml_ext(de->d_name))
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xasprintf("%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", de->d_name);
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof *names, str_cmp);
	int rc = 0;
	if (!n) {
		sf_diag_error(d, NULL, "no *.yaml or *.yml spec files in directory %s", path);
		rc = -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (load_file(set, names[i], d) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

void sf_specset_remove(struct sf_specset *set, size_t i)
{
	if (i >= set->n)
		return;
	sf_specset_unindex(set);
	node_free(set->docs[i].root);
	memmove(&set->docs[i], &set->docs[i + 1], (set->n - i - 1) * sizeof *set->docs);
	set->n--;
}

void sf_specset_release(struct sf_specset *set)
{
	sf_specset_unindex(set);
	for (size_t i = 0; i < set->n; i++)
		node_free(set->docs[i].root);
	free(set->docs);
	for (size_t i = 0; i < set->nfiles; i++)
		free(set->files[i]);
	free(set->files);
	free(set->digest);
	memset(set, 0, sizeof *set);
}

/* ---- documents by metadata.name ---- */

struct named {
	const char *name; /* borrowed from the document */
	size_t doc;
};

struct sf_specindex {
	const struct sf_doc *docs; /* the set it was built for: docs and n */
	size_t n;
	struct named *v;           /* named documents by (name, doc) */
	size_t nv;
};

static const char *doc_name(const struct sf_doc *doc)
{
	return sf_node_str(sf_node_get(sf_node_get(doc->root, "metadata"), "name"));
}

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->doc > y->doc) - (x->doc < y->doc);
}

void sf_specset_unindex(struct sf_specset *set)
{
	if (!set->index)
		return;
	free(set->index->v);
	free(set->index);
	set->index = NULL;
}

void sf_specset_index(struct sf_specset *set)
{
	sf_specset_unindex(set);
	struct sf_specindex *x = xcalloc(1, sizeof *x);
	x->docs = set->docs;
	x->n = set->n;
	x->v = xcalloc(set->n + 1, sizeof *x->v);
	for (size_t i = 0; i < set->n; i++) {
		const char *name = doc_name(&set->docs[i]);
		if (name)
			x->v[x->nv++] = (struct named){name, i};
	}
	qsort(x->v, x->nv, sizeof *x->v, named_cmp);
	set->index = x;
}

size_t sf_specset_next_named(const struct sf_specset *set, const char *name, size_t *it)
{
	const struct sf_specindex *x = set->index;
	if (x && x->docs == set->docs && x->n == set->n) {
		/* *it: 0 to start, else one past the position last returned */
		size_t k = *it;
		if (k == 0) {
			size_t lo = 0, hi = x->nv;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (strcmp(x->v[mid].name, name) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			k = lo;
		}
		if (k < x->nv && !strcmp(x->v[k].name, name)) {
			*it = k + 1;
			return x->v[k].doc;
		}
		*it = x->nv + 1;
		return SIZE_MAX;
	}
	/* no index (or one for another set): *it is the next document */
	for (size_t i = *it; i < set->n; i++) {
		const char *n = doc_name(&set->docs[i]);
		if (n && !strcmp(n, name)) {
			*it = i + 1;
			return i;
		}
	}
	*it = set->n;
	return SIZE_MAX;
}
