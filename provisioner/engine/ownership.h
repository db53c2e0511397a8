/*
 * ownership.h - the one verdict on "is this live object this state's own?"
 *
 * Why one place: secfaas runs in accounts shared with other teams, other
 * states of the same spec and other tools, which own objects with the same
 * names.  The engine (before updates and deletes, at plan refresh), the
 * resource types (when a create meets an existing name) and `secfaas
 * import` all ask the same question of the ownership tags every secfaas
 * object carries, and refuse with the same words.  The rule itself is in
 * resource.h and docs/ownership.md.
 *
 * Ownership: strings returned are owned by the caller (free); json
 * arguments are borrowed.
 */
#ifndef SF_OWNERSHIP_H
#define SF_OWNERSHIP_H

#include <jansson.h>

#include "err.h"
#include "provisioner/engine/resource.h"

#define SF_TAG_WORKSPACE "secfaas:workspace"
#define SF_TAG_LINEAGE "secfaas:lineage"
#define SF_TAG_ADDRESS "secfaas:address"
#define SF_TAG_TOKEN "secfaas:token"
#define SF_TAG_EXPIRES "secfaas:expires-at"

/* 1 when the ownership tags (an object; NULL = untagged) prove the object
 * is this state's: its secfaas:token is `token` (tokens derive from the
 * lineage, so they never collide across states), or its secfaas:lineage is
 * `lineage` and its secfaas:address is `address` or secfaas:token `token`.
 * A workspace name alone proves nothing: two states may share it. */
int sf_own_is_ours(const json_t *tags, const char *lineage, const char *address, const char *token);

/* Who owns it, for messages: "workspace W (lineage L, resource A)", or
 * "nobody secfaas knows (it has no secfaas ownership tags)". Owned. */
char *sf_own_owner(const json_t *tags);

/* Fill err with the refusal to adopt or change a foreign object and the
 * import hint; returns SF_ECONFLICT.  verb: "already exists" / "was
 * replaced outside secfaas". */
int sf_own_refuse(struct sf_err *err, const char *address, const struct sf_own *own, const char *id,
		  const json_t *tags, const char *verb);

/* The type's declaration, or NULL when it declares none. */
const struct sf_own *sf_own_of(const struct sf_rtype *t);
/* "id", "tags", "parent", "local", or "none". */
const char *sf_own_kind_name(enum sf_own_kind k);

#endif
