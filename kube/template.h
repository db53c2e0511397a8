/*
 * template.h - Kubernetes manifest templates embedded from manifests/.
 *
 * Why: the objects secfaas applies (RuntimeClass, the gVisor admission
 * guard, OpenFaaS CE) are reviewed YAML files pinned to exact image
 * versions, compiled into the binary (lib/embed.h).  A template
 * holds @@NAME@@ placeholders (never ${...}, which is the spec's reference
 * syntax) inside its strings and mapping keys.  The template is parsed
 * first (the spec's YAML loader, one JSON object per document) and the
 * placeholders are filled in the parsed strings, so a value is data: it can
 * never add a field or end its string.  A placeholder that is a whole
 * string takes any value; one inside a longer string (a CEL expression, a
 * message) only letters, digits, '-', '.', '_' and '/'.  Placeholders in
 * YAML comments are not filled (comments are gone once parsed).
 *
 * Calling steps:
 *   const char *vars[] = {"NAMESPACE", "openfaas-fn", NULL};
 *   json_t *docs; sf_kube_template(&docs, "manifests/k8s/gvisor-guard.yaml", vars, &err);
 *   ... json_decref(docs);
 *
 * Ownership: *out is a new JSON array of objects (caller decrefs). An
 * unfilled placeholder is an error, so a template and its caller cannot
 * silently drift apart.  Anything structural (a field present or not, a
 * number) is the caller's to set on the returned objects.
 */
#ifndef SF_KUBE_TEMPLATE_H
#define SF_KUBE_TEMPLATE_H

#include <jansson.h>

#include "err.h"

/* vars: NULL-terminated list of name, value pairs. */
int sf_kube_template(json_t **out, const char *name, const char *const *vars, struct sf_err *err);
/* The same for an in-memory template (tests). */
int sf_kube_template_text(json_t **out, const char *name, const char *text, const char *const *vars,
			  struct sf_err *err);

#endif
