/* fmt.c - see fmt.h. */
#include "provisioner/spec/fmt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "provisioner/spec/schema.h"
#include "util.h"

/* ---- events ---- */

struct evs {
	yaml_event_t *v;
	size_t n;
};

static void evs_release(struct evs *e)
{
	for (size_t i = 0; i < e->n; i++)
		yaml_event_delete(&e->v[i]);
	free(e->v);
	memset(e, 0, sizeof *e);
}

static int parse_events(const char *name, const char *buf, size_t len, struct evs *e, struct sf_err *err)
{
	yaml_parser_t p;
	memset(e, 0, sizeof *e);
	if (!yaml_parser_initialize(&p))
		return sf_fail(err, SF_ERROR, "%s: cannot start the YAML parser", name);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	size_t cap = 0;
	for (;;) {
		if (e->n == cap) {
			cap = cap ? cap * 2 : 64;
			e->v = xrealloc(e->v, cap * sizeof *e->v);
		}
		if (!yaml_parser_parse(&p, &e->v[e->n])) {
			int rc = sf_fail(err, SF_EINVAL, "%s:%zu:%zu: invalid YAML: %s%s%s", name, p.problem_mark.line + 1,
					 p.problem_mark.column + 1, p.problem ? p.problem : "syntax error",
					 p.context ? " " : "", p.context ? p.context : "");
			yaml_parser_delete(&p);
			evs_release(e);
			return rc;
		}
		if (e->v[e->n++].type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return 0;
}

/* Would this plain scalar be read as text anyway (not null, a number or a
 * boolean)?  Then quoting it, as the emitter does where a plain one may
 * not stand (a ':' inside a flow list), says the same. */
static int plain_is_text(const char *v)
{
	long long i;
	int b;
	if (!*v || !strcmp(v, "~") || !strcasecmp(v, "null") || sf_scalar_is_int(v, &i) || sf_scalar_is_bool(v, &b))
		return 0;
	return !strchr("0123456789+-.", v[0]);
}

/* A copy of src for the emitter (which takes and frees what it is given). */
static int copy_event(const yaml_event_t *s, yaml_event_t *d)
{
	switch (s->type) {
	case YAML_STREAM_START_EVENT: return yaml_stream_start_event_initialize(d, YAML_UTF8_ENCODING);
	case YAML_STREAM_END_EVENT: return yaml_stream_end_event_initialize(d);
	case YAML_DOCUMENT_START_EVENT:
		return yaml_document_start_event_initialize(d, s->data.document_start.version_directive,
							    s->data.document_start.tag_directives.start,
							    s->data.document_start.tag_directives.end,
							    s->data.document_start.implicit);
	case YAML_DOCUMENT_END_EVENT: return yaml_document_end_event_initialize(d, s->data.document_end.implicit);
	case YAML_ALIAS_EVENT: return yaml_alias_event_initialize(d, s->data.alias.anchor);
	case YAML_SCALAR_EVENT: {
		/* plain text may come out quoted (no "!" tag needed for that) */
		int quoted_ok = s->data.scalar.quoted_implicit ||
				(s->data.scalar.plain_implicit && !s->data.scalar.tag &&
				 plain_is_text((const char *)s->data.scalar.value));
		return yaml_scalar_event_initialize(d, s->data.scalar.anchor, s->data.scalar.tag, s->data.scalar.value,
						    (int)s->data.scalar.length, s->data.scalar.plain_implicit, quoted_ok,
						    s->data.scalar.style);
	}
	case YAML_SEQUENCE_START_EVENT:
		return yaml_sequence_start_event_initialize(d, s->data.sequence_start.anchor, s->data.sequence_start.tag,
							    s->data.sequence_start.implicit, s->data.sequence_start.style);
	case YAML_SEQUENCE_END_EVENT: return yaml_sequence_end_event_initialize(d);
	case YAML_MAPPING_START_EVENT:
		return yaml_mapping_start_event_initialize(d, s->data.mapping_start.anchor, s->data.mapping_start.tag,
							   s->data.mapping_start.implicit, s->data.mapping_start.style);
	case YAML_MAPPING_END_EVENT: return yaml_mapping_end_event_initialize(d);
	case YAML_NO_EVENT: break;
	}
	return 0;
}

static int write_out(void *ctx, unsigned char *b, size_t n)
{
	sf_buf_append(ctx, b, n);
	return 1;
}

static int emit(const char *name, const struct evs *e, struct sf_buf *out, struct sf_err *err)
{
	yaml_emitter_t em;
	if (!yaml_emitter_initialize(&em))
		return sf_fail(err, SF_ERROR, "%s: cannot start the YAML emitter", name);
	yaml_emitter_set_output(&em, write_out, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1); /* never wrap: a comment goes at the end of a line */
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_break(&em, YAML_LN_BREAK);
	int rc = 0;
	for (size_t i = 0; i < e->n && rc == 0; i++) {
		yaml_event_t c;
		if (!copy_event(&e->v[i], &c) || !yaml_emitter_emit(&em, &c))
			rc = sf_fail(err, SF_EINVAL, "%s: cannot write it back: %s", name,
				     em.problem ? em.problem : "emitter error");
	}
	yaml_emitter_delete(&em);
	return rc;
}

static int same_style(const yaml_event_t *x, const yaml_event_t *y)
{
	int px = x->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, py = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return px == py || plain_is_text((const char *)x->data.scalar.value);
}

static int str_eq(const yaml_char_t *a, const yaml_char_t *b)
{
	return (!a && !b) || (a && b && !strcmp((const char *)a, (const char *)b));
}

/* Do two event streams say the same: kinds, values, plain or quoted,
 * tags and anchors?  The index of the first difference, or -1. */
static long same_events(const struct evs *a, const struct evs *b)
{
	for (size_t i = 0; i < a->n || i < b->n; i++) {
		if (i >= a->n || i >= b->n || a->v[i].type != b->v[i].type)
			return (long)i;
		const yaml_event_t *x = &a->v[i], *y = &b->v[i];
		int same = 1;
		switch (x->type) {
		case YAML_SCALAR_EVENT:
			same = x->data.scalar.length == y->data.scalar.length &&
			       !memcmp(x->data.scalar.value, y->data.scalar.value, x->data.scalar.length) &&
			       same_style(x, y) &&
			       str_eq(x->data.scalar.tag, y->data.scalar.tag) &&
			       str_eq(x->data.scalar.anchor, y->data.scalar.anchor);
			break;
		case YAML_ALIAS_EVENT: same = str_eq(x->data.alias.anchor, y->data.alias.anchor); break;
		case YAML_SEQUENCE_START_EVENT:
			same = str_eq(x->data.sequence_start.tag, y->data.sequence_start.tag) &&
			       str_eq(x->data.sequence_start.anchor, y->data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			same = str_eq(x->data.mapping_start.tag, y->data.mapping_start.tag) &&
			       str_eq(x->data.mapping_start.anchor, y->data.mapping_start.anchor);
			break;
		default: break;
		}
		if (!same)
			return (long)i;
	}
	return -1;
}

/* ---- comments and blank lines ---- */

struct pos {
	size_t line, col; /* 0-based; col in characters, as libyaml counts */
};

static int pos_cmp(struct pos a, struct pos b)
{
	return a.line != b.line ? (a.line < b.line ? -1 : 1) : a.col != b.col ? (a.col < b.col ? -1 : 1) : 0;
}

struct note {
	struct pos at;
	int trailing; /* after something on its line */
	int blank;    /* a run of blank lines (text NULL) */
	char *text;   /* "# ...", trailing blanks cut */
};

struct notes {
	struct note *v;
	size_t n;
};

static void notes_release(struct notes *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i].text);
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

static void note_add(struct notes *ns, struct pos at, int trailing, int blank, const char *t, size_t tl)
{
	ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof *ns->v);
	while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t' || t[tl - 1] == '\r'))
		tl--;
	ns->v[ns->n++] = (struct note){at, trailing, blank, blank ? NULL : xstrndup(t, tl)};
}

/* The text as lines, to turn libyaml's (line, character) marks into bytes. */
struct text {
	const char *s;
	size_t len;
	size_t *start; /* byte offset of each line */
	size_t n;
};

static void text_init(struct text *t, const char *s, size_t len)
{
	t->s = s;
	t->len = len;
	t->n = 0;
	t->start = xcalloc(1, sizeof *t->start);
	t->start[t->n++] = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n') {
			t->start = xrealloc(t->start, (t->n + 1) * sizeof *t->start);
			t->start[t->n++] = i + 1;
		}
}

static size_t byte_at(const struct text *t, struct pos p)
{
	if (p.line >= t->n)
		return t->len;
	size_t b = t->start[p.line];
	for (size_t c = 0; c < p.col && b < t->len && t->s[b] != '\n'; c++) {
		b++;
		while (b < t->len && ((unsigned char)t->s[b] & 0xC0) == 0x80)
			b++; /* continuation bytes of one character */
	}
	return b;
}

/* The comments and blank lines in [from, to), where libyaml's scanner found
 * no token.  prev_line: the line of the last token before `from`. */
static void scan_gap(const struct text *t, struct pos from, struct pos to, struct notes *ns)
{
	size_t b = byte_at(t, from), e = byte_at(t, to), line = from.line;
	int content_on_line = 1; /* the gap starts right after a token */
	if (from.col == 0)
		content_on_line = 0;
	while (b < e) {
		char ch = t->s[b];
		if (ch == '\n') {
			line++;
			b++;
			/* a whole line of blanks inside the gap */
			size_t q = b;
			while (q < e && (t->s[q] == ' ' || t->s[q] == '\t' || t->s[q] == '\r'))
				q++;
			if (q < e && t->s[q] == '\n' &&
			    !(ns->n && ns->v[ns->n - 1].blank && ns->v[ns->n - 1].at.line + 1 == line))
				note_add(ns, (struct pos){line, 0}, 0, 1, NULL, 0);
			content_on_line = 0;
			continue;
		}
		if (ch == '#') {
			size_t q = b;
			while (q < t->len && t->s[q] != '\n')
				q++;
			size_t col = 0;
			for (size_t k = t->start[line]; k < b; k++)
				col += ((unsigned char)t->s[k] & 0xC0) != 0x80;
			/* a comment is one only after whitespace or at a line's start */
			note_add(ns, (struct pos){line, col}, content_on_line, 0, t->s + b, q - b);
			b = q;
			continue;
		}
		b++;
	}
}

/* A block scalar's token takes in the comment of its header line
 * ("|-  # why"): after the indicators (| or >, chomping, indentation) and
 * blanks, a '#' starts it. */
static void header_comment(const struct text *t, struct pos at, struct notes *ns)
{
	size_t b = byte_at(t, at), q;
	while (b < t->len && t->s[b] && strchr("|>+-0123456789", t->s[b]))
		b++;
	while (b < t->len && (t->s[b] == ' ' || t->s[b] == '\t'))
		b++;
	if (b >= t->len || t->s[b] != '#')
		return;
	for (q = b; q < t->len && t->s[q] != '\n'; q++)
		;
	size_t col = 0;
	for (size_t k = t->start[at.line]; k < b; k++)
		col += ((unsigned char)t->s[k] & 0xC0) != 0x80;
	note_add(ns, (struct pos){at.line, col}, 1, 0, t->s + b, q - b);
}

static int find_notes(const char *name, const char *buf, size_t len, struct notes *ns, struct sf_err *err)
{
	yaml_parser_t p;
	struct text t;
	memset(ns, 0, sizeof *ns);
	if (!yaml_parser_initialize(&p))
		return sf_fail(err, SF_ERROR, "%s: cannot start the YAML scanner", name);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	text_init(&t, buf, len);
	struct pos cursor = {0, 0};
	int rc = 0, done = 0;
	while (!done) {
		yaml_token_t tok;
		if (!yaml_parser_scan(&p, &tok)) {
			rc = sf_fail(err, SF_EINVAL, "%s:%zu:%zu: invalid YAML: %s", name, p.problem_mark.line + 1,
				     p.problem_mark.column + 1, p.problem ? p.problem : "syntax error");
			break;
		}
		struct pos s = {tok.start_mark.line, tok.start_mark.column}, e = {tok.end_mark.line, tok.end_mark.column};
		done = tok.type == YAML_STREAM_END_TOKEN;
		if (done)
			s = e = (struct pos){t.n, 0}; /* everything to the end of the text */
		if (pos_cmp(s, cursor) > 0)
			scan_gap(&t, cursor, s, ns);
		if (tok.type == YAML_SCALAR_TOKEN &&
		    (tok.data.scalar.style == YAML_LITERAL_SCALAR_STYLE || tok.data.scalar.style == YAML_FOLDED_SCALAR_STYLE))
			header_comment(&t, s, ns);
		if (pos_cmp(e, cursor) > 0)
			cursor = e;
		yaml_token_delete(&tok);
	}
	yaml_parser_delete(&p);
	free(t.start);
	if (rc < 0)
		notes_release(ns);
	return rc;
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Do both texts carry the same comments (as a set: a trailing comment may
 * move after an own-line one)? */
static int same_comments(const struct notes *a, const struct notes *b)
{
	char **x = xcalloc(a->n + 1, sizeof *x), **y = xcalloc(b->n + 1, sizeof *y);
	size_t nx = 0, ny = 0;
	for (size_t i = 0; i < a->n; i++)
		if (!a->v[i].blank)
			x[nx++] = a->v[i].text;
	for (size_t i = 0; i < b->n; i++)
		if (!b->v[i].blank)
			y[ny++] = b->v[i].text;
	qsort(x, nx, sizeof *x, text_cmp);
	qsort(y, ny, sizeof *y, text_cmp);
	int same = nx == ny;
	for (size_t i = 0; same && i < nx; i++)
		same = !strcmp(x[i], y[i]);
	free(x);
	free(y);
	return same;
}

/* ---- putting them back ---- */

struct slot {
	struct sf_buf before; /* lines put before an output line */
	struct sf_buf after;  /* trailing comments for its end */
};

/* The output line each note goes to: own-line notes before the line of the
 * first event after them, trailing ones at the end of the line of the last
 * event that starts before them on their own line. */
static char *place(const struct evs *in, const struct evs *out, const struct notes *ns, const char *text,
		   size_t len)
{
	struct text t;
	text_init(&t, text, len);
	size_t nlines = t.n;
	/* lines with text: the emitter ends with a newline, after which the
	 * last "line" is empty */
	size_t content = nlines && t.start[nlines - 1] == len ? nlines - 1 : nlines;
	struct slot *sl = xcalloc(nlines + 1, sizeof *sl);
	for (size_t i = 0; i < ns->n; i++) {
		const struct note *no = &ns->v[i];
		long ev = -1;
		if (no->trailing)
			for (size_t k = 0; k < in->n; k++) {
				struct pos s = {in->v[k].start_mark.line, in->v[k].start_mark.column};
				if (pos_cmp(s, no->at) >= 0)
					break;
				if (s.line == no->at.line)
					ev = (long)k;
			}
		if (ev >= 0) {
			size_t ol = out->v[ev].start_mark.line;
			if (ol < nlines)
				sf_buf_printf(&sl[ol].after, "  %s", no->text);
			continue;
		}
		size_t ol = nlines;
		for (size_t k = 0; k < in->n; k++) {
			struct pos s = {in->v[k].start_mark.line, in->v[k].start_mark.column};
			if (pos_cmp(s, no->at) > 0) {
				ol = out->v[k].start_mark.line;
				break;
			}
		}
		if (ol > nlines)
			ol = nlines;
		if (no->blank) {
			/* one blank line between things, none at the start or the end */
			const struct sf_buf *bf = &sl[ol < nlines ? ol : nlines].before;
			int after_blank = bf->len && bf->s[bf->len - 1] == '\n' && (bf->len == 1 || bf->s[bf->len - 2] == '\n');
			if ((ol > 0 || sl[0].before.len) && ol < content && !after_blank)
				sf_buf_putc(&sl[ol].before, '\n');
			continue;
		}
		/* the indentation of the line it goes before */
		size_t ind = 0;
		if (ol < nlines)
			while (t.start[ol] + ind < len && text[t.start[ol] + ind] == ' ')
				ind++;
		sf_buf_printf(&sl[ol].before, "%*s%s\n", (int)ind, "", no->text);
	}
	struct sf_buf b = SF_BUF_INIT;
	for (size_t l = 0; l <= nlines; l++) {
		sf_buf_append(&b, sl[l].before.s ? sl[l].before.s : "", sl[l].before.len);
		if (l < nlines) {
			size_t s = t.start[l], e = l + 1 < nlines ? t.start[l + 1] - 1 : len;
			if (s < len || sl[l].after.len) {
				sf_buf_append(&b, text + s, e > s ? e - s : 0);
				sf_buf_append(&b, sl[l].after.s ? sl[l].after.s : "", sl[l].after.len);
				if (l + 1 < nlines)
					sf_buf_putc(&b, '\n');
			}
		}
		sf_buf_release(&sl[l].before);
		sf_buf_release(&sl[l].after);
	}
	free(sl);
	free(t.start);
	if (!b.len || b.s[b.len - 1] != '\n')
		sf_buf_putc(&b, '\n');
	return sf_buf_detach(&b);
}

int sf_spec_format(const char *name, const char *buf, size_t len, char **out, size_t *outlen, struct sf_err *err)
{
	struct evs in = {0}, em = {0}, back = {0};
	struct notes notes = {0}, notes_back = {0};
	struct sf_buf plain = SF_BUF_INIT;
	char *res = NULL;
	int rc;
	*out = NULL;
	if ((rc = parse_events(name, buf, len, &in, err)) < 0 || (rc = find_notes(name, buf, len, &notes, err)) < 0 ||
	    (rc = emit(name, &in, &plain, err)) < 0)
		goto done;
	/* where each event landed in the emitter's text */
	if ((rc = parse_events(name, sf_buf_cstr(&plain), plain.len, &em, err)) < 0)
		goto done;
	long de = same_events(&in, &em);
	if (de >= 0) {
		rc = sf_fail(err, SF_EINVAL, "%s:%zu: libyaml's emitter changed what it says; left as it is", name,
			     (size_t)de < in.n ? in.v[de].start_mark.line + 1 : 0);
		goto done;
	}
	res = place(&in, &em, &notes, sf_buf_cstr(&plain), plain.len);
	/* the promise: the same events and the same comments */
	struct sf_err e2 = SF_ERR_INIT;
	if (parse_events(name, res, strlen(res), &back, &e2) < 0 || find_notes(name, res, strlen(res), &notes_back, &e2) < 0) {
		rc = sf_fail(err, SF_EINVAL, "%s: its comments cannot be kept where they are (%s); left as it is", name,
			     e2.msg);
		goto done;
	}
	long d = same_events(&in, &back);
	if (d >= 0 || !same_comments(&notes, &notes_back)) {
		if (d >= 0 && (size_t)d < in.n)
			rc = sf_fail(err, SF_EINVAL,
				     "%s:%zu: a comment near there cannot be kept without changing the YAML; left as it is",
				     name, in.v[d].start_mark.line + 1);
		else
			rc = sf_fail(err, SF_EINVAL, "%s: its comments cannot all be kept; left as it is", name);
		goto done;
	}
	*outlen = strlen(res);
	*out = res;
	res = NULL;
	rc = 0;
done:
	free(res);
	evs_release(&in);
	evs_release(&em);
	evs_release(&back);
	notes_release(&notes);
	notes_release(&notes_back);
	sf_buf_release(&plain);
	return rc;
}
