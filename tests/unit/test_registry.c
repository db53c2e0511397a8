/* Registry invariants: unique names, attribute tables well-formed, every
 * FORCE_NEW attribute makes the generic diff replace. */
#include "t.h"

#include "provisioner/engine/plan.h"
#include "resources/types.h"

T_TEST(names_unique_and_sorted)
{
	size_t n;
	const struct sf_rtype *const *all = sf_rtype_all(&n);
	T_OK(n >= 2);
	for (size_t i = 1; i < n; i++)
		T_OK(strcmp(all[i - 1]->name, all[i]->name) < 0);
	for (size_t i = 0; i < n; i++)
		T_OK(sf_rtype_find(all[i]->name) == all[i]);
	T_OK(sf_rtype_find("no_such_type") == NULL);
}

T_TEST(attribute_tables)
{
	size_t n;
	const struct sf_rtype *const *all = sf_rtype_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct sf_rtype *t = all[i];
		T_OK(t->create && t->destroy);
		for (const struct sf_attr_def *a = t->attrs; a->name; a++) {
			/* every attribute is settable or computed */
			T_OK(a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED));
			/* required and optional exclude each other */
			T_OK(!((a->flags & SF_ATTR_REQUIRED) && (a->flags & SF_ATTR_OPTIONAL)));
			T_OK(a->doc && *a->doc);
			/* id is the provider id: computed only, never set by a spec */
			T_OK(strcmp(a->name, "id") != 0 || a->flags == SF_ATTR_COMPUTED);
			for (const struct sf_attr_def *b = a + 1; b->name; b++)
				T_OK(strcmp(a->name, b->name) != 0);
		}
	}
}
/* The ownership rule (resource.h): every type says how it proves that a
 * live object is this state's, and a name-keyed one can read the proof. */
T_TEST(every_type_declares_ownership)
{
	size_t n;
	const struct sf_rtype *const *all = sf_rtype_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct sf_rtype *t = all[i];
		const struct sf_own *o = t->own;
		if (!o || o->kind == SF_OWN_NONE)
			fprintf(stderr, "type %s declares no ownership proof (.own)\n", t->name);
		T_OK(o && o->kind != SF_OWN_NONE);
		if (!o)
			continue;
		T_OK(o->noun && *o->noun);
		T_OK(o->proof && *o->proof);
		if (o->kind == SF_OWN_TAGS)
			T_OK(o->marks != NULL);
		/* AWS objects can be taken over by `secfaas import` */
		if ((!strncmp(t->name, "aws_", 4) || !strncmp(t->name, "eks_", 4)) && o->kind != SF_OWN_REF)
			T_OK(o->claim != NULL && (o->kind == SF_OWN_ID || o->kind == SF_OWN_TAGS));
		if (o->kind == SF_OWN_PARENT && o->parent_type)
			T_OK(sf_rtype_find(o->parent_type) != NULL);
	}
}

T_MAIN()
