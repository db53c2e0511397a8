/* graph.c - see graph.h. Iterative DFS so deep chains cannot blow the stack. */
#include "provisioner/engine/graph.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void sf_graph_init(struct sf_graph *g, size_t n, const char **names)
{
	g->n = n;
	g->names = names;
	g->deps = xcalloc(n ? n : 1, sizeof *g->deps);
	g->ndeps = xcalloc(n ? n : 1, sizeof *g->ndeps);
}

void sf_graph_edge(struct sf_graph *g, size_t from, size_t to)
{
	for (size_t i = 0; i < g->ndeps[from]; i++)
		if (g->deps[from][i] == to)
			return;
	g->deps[from] = xrealloc(g->deps[from], (g->ndeps[from] + 1) * sizeof **g->deps);
	g->deps[from][g->ndeps[from]++] = to;
}

void sf_graph_release(struct sf_graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->deps[i]);
	free(g->deps);
	free(g->ndeps);
	memset(g, 0, sizeof *g);
}

int sf_graph_toposort(const struct sf_graph *g, size_t *order, char **cycle)
{
	enum { WHITE, GREY, BLACK };
	unsigned char *color = xcalloc(g->n ? g->n : 1, 1);
	size_t *stack = xmalloc((g->n + 1) * sizeof *stack);
	size_t *next = xcalloc(g->n ? g->n : 1, sizeof *next);
	size_t no = 0;
	int rc = 0;
	if (cycle)
		*cycle = NULL;
	for (size_t root = 0; root < g->n && !rc; root++) {
		if (color[root] != WHITE)
			continue;
		size_t sp = 0;
		stack[sp++] = root;
		color[root] = GREY;
		while (sp && !rc) {
			size_t v = stack[sp - 1];
			if (next[v] < g->ndeps[v]) {
				size_t w = g->deps[v][next[v]++];
				if (color[w] == WHITE) {
					color[w] = GREY;
					stack[sp++] = w;
				} else if (color[w] == GREY) {
					/* The cycle is w ... v on the stack, then back to w. */
					struct sf_buf b = SF_BUF_INIT;
					size_t k = sp;
					while (k > 0 && stack[k - 1] != w)
						k--;
					for (size_t i = k - 1; i < sp; i++)
						sf_buf_printf(&b, "%s -> ", g->names[stack[i]]);
					sf_buf_puts(&b, g->names[w]);
					if (cycle)
						*cycle = sf_buf_detach(&b);
					else
						sf_buf_release(&b);
					rc = -1;
				}
			} else {
				color[v] = BLACK;
				order[no++] = v;
				sp--;
			}
		}
	}
	free(color);
	free(stack);
	free(next);
	return rc;
}
