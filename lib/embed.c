/* embed.c - lookup over the generated table (see embed.h). */
#include "embed.h"

#include <string.h>

const struct sf_embedded *sf_embedded_find(const char *name)
{
	for (const struct sf_embedded *e = sf_embedded_files; e->name; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}
