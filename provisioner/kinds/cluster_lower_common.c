/* cluster_lower_common.c - what the lowering's concerns share (see cluster_lower.h). */
#include <stdlib.h>

#include "provisioner/kinds/cluster_lower.h"
#include "resources/types.h"
#include "util.h"

json_t *cl_ref(const char *addr, const char *attr)
{
	char *s = xasprintf("${%s.%s}", addr, attr);
	json_t *j = json_string(s);
	free(s);
	return j;
}

struct sf_rinst *cl_add(struct cl_lower *l, const char *type, const char *name, json_t *conf,
		       const struct sf_pos *pos, const char *dep)
{
	struct sf_rinst *r = sf_config_add(l->c, sf_rtype_find(type), name, conf, pos);
	if (dep)
		sf_rinst_add_dep(r, dep);
	json_decref(conf);
	return r;
}
