/*
 * graph.h - dependency graphs over named nodes: topological order and cycle
 * reporting.
 *
 * Nodes are identified by index 0..n-1; edges point from a node to the
 * nodes it depends on.  The apply scheduler (apply.c) walks the same
 * structure concurrently; this module gives the static checks and order.
 */
#ifndef SF_GRAPH_H
#define SF_GRAPH_H

#include <stddef.h>

struct sf_graph {
	size_t n;
	const char **names;   /* borrowed, for messages */
	size_t **deps;        /* deps[i]: indexes node i depends on */
	size_t *ndeps;
};

void sf_graph_init(struct sf_graph *g, size_t n, const char **names);
void sf_graph_edge(struct sf_graph *g, size_t from, size_t to); /* from depends on to; dedups */
void sf_graph_release(struct sf_graph *g);

/* Topological order (dependencies first) into order[n]. Returns 0, or -1 on
 * a cycle, with *cycle set to an owned string "a -> b -> c -> a". */
int sf_graph_toposort(const struct sf_graph *g, size_t *order, char **cycle);

#endif
