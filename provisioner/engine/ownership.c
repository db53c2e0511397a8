/* ownership.c - the ownership verdict (see ownership.h). */
#include "provisioner/engine/ownership.h"

#include <string.h>

#include "util.h"

static const char *tag(const json_t *tags, const char *k)
{
	return json_string_value(json_object_get(tags, k));
}

static int same(const char *a, const char *b)
{
	return a && b && *a && !strcmp(a, b);
}

int sf_own_is_ours(const json_t *tags, const char *lineage, const char *address, const char *token)
{
	const char *tl = tag(tags, SF_TAG_LINEAGE), *ta = tag(tags, SF_TAG_ADDRESS), *tt = tag(tags, SF_TAG_TOKEN);
	if (same(tt, token))
		return 1;
	return same(tl, lineage) && (same(ta, address) || same(tt, token));
}

char *sf_own_owner(const json_t *tags)
{
	const char *ws = tag(tags, SF_TAG_WORKSPACE), *lin = tag(tags, SF_TAG_LINEAGE), *addr = tag(tags, SF_TAG_ADDRESS);
	if (!ws && !lin)
		return xstrdup("nobody secfaas knows (it has no secfaas ownership tags)");
	return xasprintf("workspace %s (lineage %s%s%s)", ws ? ws : "?", lin ? lin : "unknown", addr ? ", resource " : "",
			 addr ? addr : "");
}

int sf_own_refuse(struct sf_err *err, const char *address, const struct sf_own *own, const char *id,
		  const json_t *tags, const char *verb)
{
	char *who = sf_own_owner(tags);
	const char *noun = own && own->noun ? own->noun : "object";
	sf_fail(err, SF_ECONFLICT, "%s: %s %s %s and belongs to %s, not to this state", address, noun, id ? id : "?",
		verb, who);
	free(who);
	if (own && own->why_taken)
		return sf_err_hint(err, "%s, or take it over with `secfaas import %s %s SPEC`", own->why_taken, address,
				   id ? id : "ID");
	return sf_err_hint(err,
			   "to manage that %s from this state, take it over with `secfaas import %s %s SPEC`; "
			   "otherwise pick another name (metadata.name) or remove the other one",
			   noun, address, id ? id : "ID");
}

const struct sf_own *sf_own_of(const struct sf_rtype *t)
{
	return t && t->own && t->own->kind != SF_OWN_NONE ? t->own : NULL;
}

const char *sf_own_kind_name(enum sf_own_kind k)
{
	switch (k) {
	case SF_OWN_ID: return "id";
	case SF_OWN_TAGS: return "tags";
	case SF_OWN_PARENT: return "parent";
	case SF_OWN_LOCAL: return "local";
	case SF_OWN_REF: return "reference";
	case SF_OWN_NONE: break;
	}
	return "none";
}
