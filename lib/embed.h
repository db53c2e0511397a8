/*
 * embed.h - files from manifests/ compiled into the binary (tools/embed.sh).
 *
 * Why: the node bake script and Kubernetes templates are part of what
 * secfaas promises to apply; embedding them means an installed binary
 * renders exactly what was reviewed and tested, and the AMI content address
 * (a hash over the bake script) does not depend on the install prefix.
 */
#ifndef SF_EMBED_H
#define SF_EMBED_H

#include <stddef.h>

struct sf_embedded {
	const char *name; /* path relative to the repo: "manifests/bake-gvisor.sh" */
	const char *data; /* NUL-terminated */
	size_t len;
};

extern const struct sf_embedded sf_embedded_files[]; /* {NULL} terminated */

/* Borrowed pointer or NULL if no such embedded file. */
const struct sf_embedded *sf_embedded_find(const char *name);

#endif
