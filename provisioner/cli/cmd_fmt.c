/* cmd_fmt.c - `secfaas fmt`: rewrite spec files in the canonical layout
 * (provisioner/spec/fmt.h), comments kept; --check for CI, --diff to see. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/run.h"
#include "provisioner/spec/fmt.h"
#include "util.h"

#define DIFF_CONTEXT 3
#define DIFF_MAX_CELLS (16u * 1024 * 1024) /* lines(a) x lines(b) the diff table may hold */

struct lines {
	const char **s;
	size_t *len;
	size_t n;
};

static void split(struct lines *l, const char *t, size_t n)
{
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(t + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - t) + 1 : n;
		l->s = xrealloc(l->s, (l->n + 1) * sizeof *l->s);
		l->len = xrealloc(l->len, (l->n + 1) * sizeof *l->len);
		l->s[l->n] = t + i;
		l->len[l->n++] = e - i;
		i = e;
	}
}

static int line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && !memcmp(a->s[i], b->s[j], a->len[i]);
}

static void put_line(FILE *f, char mark, const char *s, size_t n)
{
	fputc(mark, f);
	fwrite(s, 1, n, f);
	if (!n || s[n - 1] != '\n')
		fputs("\n\\ No newline at end of file\n", f);
}

/* A unified diff of a -> b (longest common subsequence of lines; specs
 * are small, and a pair too large for the table shows as replaced whole). */
static void unified_diff(FILE *f, const char *path, const char *a, size_t an, const char *b, size_t bn)
{
	struct lines x, y;
	split(&x, a, an);
	split(&y, b, bn);
	size_t n = x.n, m = y.n;
	/* op[k]: 0 same, 1 removed (from a), 2 added (from b) */
	unsigned char *op = xcalloc(n + m + 1, 1);
	size_t *ia = xcalloc(n + m + 1, sizeof *ia), *ib = xcalloc(n + m + 1, sizeof *ib), k = 0;
	if ((n + 1) * (m + 1) <= DIFF_MAX_CELLS) {
		unsigned *L = xcalloc((n + 1) * (m + 1), sizeof *L);
		for (size_t i = n; i-- > 0;)
			for (size_t j = m; j-- > 0;)
				L[i * (m + 1) + j] = line_eq(&x, i, &y, j) ? L[(i + 1) * (m + 1) + j + 1] + 1
					: L[(i + 1) * (m + 1) + j] > L[i * (m + 1) + j + 1] ? L[(i + 1) * (m + 1) + j]
											   : L[i * (m + 1) + j + 1];
		size_t i = 0, j = 0;
		while (i < n || j < m) {
			if (i < n && j < m && line_eq(&x, i, &y, j))
				op[k] = 0, ia[k] = i++, ib[k] = j++;
			else if (j < m && (i == n || L[i * (m + 1) + j + 1] >= L[(i + 1) * (m + 1) + j]))
				op[k] = 2, ia[k] = i, ib[k] = j++;
			else
				op[k] = 1, ia[k] = i++, ib[k] = j;
			k++;
		}
		free(L);
	} else {
		for (size_t i = 0; i < n; i++)
			op[k] = 1, ia[k] = i, ib[k] = 0, k++;
		for (size_t j = 0; j < m; j++)
			op[k] = 2, ia[k] = n, ib[k] = j, k++;
	}
	fprintf(f, "--- %s\n+++ %s (formatted)\n", path, path);
	for (size_t s = 0; s < k;) {
		if (!op[s]) {
			s++;
			continue;
		}
		/* a hunk: this change, with context, merged with changes close by */
		size_t h0 = s > DIFF_CONTEXT ? s - DIFF_CONTEXT : 0, h1 = s;
		for (size_t q = s; q < k; q++)
			if (op[q])
				h1 = q + 1;
			else if (q - h1 >= 2 * DIFF_CONTEXT)
				break;
		h1 = h1 + DIFF_CONTEXT < k ? h1 + DIFF_CONTEXT : k;
		size_t na = 0, nb = 0;
		for (size_t q = h0; q < h1; q++)
			na += op[q] != 2, nb += op[q] != 1;
		fprintf(f, "@@ -%zu,%zu +%zu,%zu @@\n", ia[h0] + (na ? 1 : 0), na, ib[h0] + (nb ? 1 : 0), nb);
		for (size_t q = h0; q < h1; q++)
			if (op[q] == 2)
				put_line(f, '+', y.s[ib[q]], y.len[ib[q]]);
			else
				put_line(f, op[q] ? '-' : ' ', x.s[ia[q]], x.len[ia[q]]);
		s = h1;
	}
	free(op);
	free(ia);
	free(ib);
	free(x.s);
	free(x.len);
	free(y.s);
	free(y.len);
}

static int yaml_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml"));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct fmt_opts {
	int check, diff;
	int changed, failed;
};

/* One file: counted in o as changed or failed (said why on stderr). */
static void fmt_file(struct sf_cli *cli, const char *path, struct fmt_opts *o)
{
	char *text = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	struct sf_err err = SF_ERR_INIT;
	struct stat sb;
	if (sf_read_file(&text, &len, path, 16u << 20, &err) < 0 || stat(path, &sb) < 0 ||
	    sf_spec_format(path, text, len, &out, &olen, &err) < 0) {
		if (!err.msg[0])
			sf_fail(&err, SF_EIO, "%s: cannot read it", path);
		fprintf(cli->errf, "secfaas: fmt: %s\n", err.msg);
		o->failed++;
		goto done;
	}
	if (olen == len && !memcmp(out, text, len))
		goto done;
	o->changed++;
	if (o->diff)
		unified_diff(cli->out, path, text, len, out, olen);
	else
		fprintf(cli->out, "%s\n", path);
	if (!o->check && sf_write_file_atomic(path, out, olen, (int)(sb.st_mode & 07777), &err) < 0) {
		fprintf(cli->errf, "secfaas: fmt: %s\n", err.msg);
		o->failed++;
	}
done:
	free(text);
	free(out);
}

static void fmt_path(struct sf_cli *cli, const char *path, struct fmt_opts *o)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		fprintf(cli->errf, "secfaas: fmt: %s: no such file or directory\n", path);
		o->failed++;
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fmt_file(cli, path, o);
		return;
	}
	/* a directory: its spec files, as `validate DIR` reads them */
	DIR *d = opendir(path);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && yaml_name(de->d_name)) {
			names = xrealloc(names, (n + 1) * sizeof *names);
			/* "examples/" and "examples" name the same files alike */
			size_t pl = strlen(path);
			while (pl > 1 && path[pl - 1] == '/')
				pl--;
			names[n++] = xasprintf("%.*s/%s", (int)pl, path, de->d_name);
		}
	if (d)
		closedir(d);
	if (n) /* names is NULL in a directory without spec files */
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		fmt_file(cli, names[i], o);
		free(names[i]);
	}
	free(names);
}

int cmd_fmt(struct sf_cli *cli, int argc, char **argv)
{
	struct fmt_opts o = {0, 0, 0, 0};
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (sf_opt_match(argc, argv, &i, "check", 0, NULL) > 0)
			o.check = 1;
		else if (sf_opt_match(argc, argv, &i, "diff", 0, NULL) > 0)
			o.diff = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return sf_cli_unknown_option(cli, "fmt", argv[i]);
		else
			npaths++;
	}
	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-' || !argv[i][1])
			fmt_path(cli, argv[i], &o);
	if (!npaths)
		fmt_path(cli, sf_run_default_spec(), &o);
	if (o.failed)
		return SF_EXIT_ERROR;
	return o.check && o.changed ? SF_EXIT_FMT : SF_EXIT_OK;
}
