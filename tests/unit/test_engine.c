/*
 * test_engine.c - the engine (provisioner/engine/) on its own: the graph,
 * configuration assembly with a lowering handed in, the diff rules of
 * sf_plan_make (including: every FORCE_NEW attribute of every registered
 * type yields a replacement), and sf_apply with the test_object type
 * (create with references, replace, taint and skip on failure, destroy).
 *
 * The lowering here is the test's own (documents list resources directly),
 * so the engine is exercised without the kinds above it; the type registry
 * is the product's (sf_types()).
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provisioner/engine/apply.h"
#include "provisioner/engine/config.h"
#include "provisioner/engine/graph.h"
#include "provisioner/engine/plan.h"
#include "provisioner/spec/schema.h"
#include "resources/aws_common.h"
#include "resources/types.h"
#include "log.h"
#include "t.h"
#include "util.h"

/* ---- graph ------------------------------------------------------------ */

static size_t pos_of(const size_t *order, size_t n, size_t node)
{
	for (size_t i = 0; i < n; i++)
		if (order[i] == node)
			return i;
	return n;
}

T_TEST(graph_orders_dependencies_first)
{
	const char *names[] = {"app", "db", "net", "dns", "lonely"};
	struct sf_graph g;
	sf_graph_init(&g, 5, names);
	sf_graph_edge(&g, 0, 1); /* app needs db */
	sf_graph_edge(&g, 0, 3); /* app needs dns */
	sf_graph_edge(&g, 1, 2); /* db needs net */
	sf_graph_edge(&g, 3, 2); /* dns needs net */
	sf_graph_edge(&g, 0, 1); /* duplicate edge: deduplicated */
	size_t order[5];
	char *cycle = NULL;
	T_EQ(sf_graph_toposort(&g, order, &cycle), 0);
	T_OK(cycle == NULL);
	T_OK(pos_of(order, 5, 2) < pos_of(order, 5, 1));
	T_OK(pos_of(order, 5, 2) < pos_of(order, 5, 3));
	T_OK(pos_of(order, 5, 1) < pos_of(order, 5, 0));
	T_OK(pos_of(order, 5, 3) < pos_of(order, 5, 0));
	T_OK(pos_of(order, 5, 4) < 5);
	sf_graph_release(&g);
}

T_TEST(graph_names_the_cycle)
{
	const char *names[] = {"a", "b", "c"};
	struct sf_graph g;
	sf_graph_init(&g, 3, names);
	sf_graph_edge(&g, 0, 1);
	sf_graph_edge(&g, 1, 2);
	sf_graph_edge(&g, 2, 0);
	size_t order[3];
	char *cycle = NULL;
	T_EQ(sf_graph_toposort(&g, order, &cycle), -1);
	T_CONTAINS(cycle, " -> ");
	T_CONTAINS(cycle, "a");
	T_CONTAINS(cycle, "b");
	T_CONTAINS(cycle, "c");
	free(cycle);
	sf_graph_release(&g);
}

/* ---- configuration with a lowering handed in ---------------------------- */

/* Documents of the form
 *   kind: T
 *   metadata: {name: ws}
 *   resources: [{type: test_object, name: a, attrs: {...}, dependsOn: [...], updateOnly: [...],
 *               acceptOnly: [...]}]
 * lowered straight into instances. */
static int validated;

static void t_validate(const struct sf_doc *doc, struct sf_diags *d)
{
	validated++;
	if (!sf_node_get(doc->root, "resources"))
		sf_diag_error(d, &doc->root->pos, "no resources");
}

static void t_lower(const struct sf_doc *doc, struct sf_config *c, struct sf_diags *d)
{
	const struct sf_node *rs = sf_node_get(doc->root, "resources");
	for (size_t i = 0; rs && i < rs->n; i++) {
		const struct sf_node *r = rs->vals[i];
		const struct sf_rtype *t = sf_rtype_find(sf_node_str(sf_node_get(r, "type")));
		if (!t) {
			sf_diag_error(d, &r->pos, "unknown type");
			continue;
		}
		json_t *attrs = sf_node_to_json(sf_node_get(r, "attrs"));
		struct sf_rinst *ri = sf_config_add(c, t, sf_node_str(sf_node_get(r, "name")), attrs ? attrs : json_object(),
						    &r->pos);
		json_decref(attrs);
		const struct sf_node *dep = sf_node_get(r, "dependsOn");
		for (size_t j = 0; dep && j < dep->n; j++)
			sf_rinst_add_dep(ri, sf_node_str(dep->vals[j]));
		const struct sf_node *upd = sf_node_get(r, "updateOnly");
		for (size_t j = 0; upd && j < upd->n; j++)
			sf_rinst_add_update_dep(ri, sf_node_str(upd->vals[j]));
		const struct sf_node *acc = sf_node_get(r, "acceptOnly");
		for (size_t j = 0; acc && j < acc->n; j++)
			sf_rinst_add_accept_dep(ri, sf_node_str(acc->vals[j]));
	}
}

static const struct sf_lowering lowering = {t_validate, t_lower};

/* Assemble yaml into cfg (caller releases cfg and set); returns errors. */
static size_t assemble(const char *yaml, struct sf_specset *set, struct sf_config *cfg, char **diag)
{
	struct sf_diags d = SF_DIAGS_INIT;
	if (sf_spec_load_buffer(set, "e.yaml", yaml, strlen(yaml), &d) == 0)
		sf_config_assemble(cfg, set, NULL, &lowering, &d);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	sf_diags_print(&d, f, 0);
	fclose(f);
	size_t n = d.nerrors;
	sf_diags_release(&d);
	*diag = buf;
	return n;
}

#define DOC(dir, body) "kind: T\nmetadata: {name: ws}\nresources:\n" body

T_TEST(config_references_become_dependencies)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_config cfg = SF_CONFIG_INIT;
	char *diag = NULL;
	validated = 0;
	T_EQ(assemble(DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x}}\n"
				"  - {type: test_object, name: b, attrs: {dir: /x, content: '${test_object.a.id}'}}\n"
				"  - {type: test_object, name: c, attrs: {dir: /x}, dependsOn: [test_object.b]}\n"),
		      &set, &cfg, &diag),
	     0);
	T_STREQ(diag, "");
	T_EQ(validated, 1);
	T_STREQ(cfg.workspace, "ws");
	T_STREQ(cfg.kind, "T");
	T_EQ(cfg.n, 3);
	const struct sf_rinst *b = sf_config_find(&cfg, "test_object.b"), *c = sf_config_find(&cfg, "test_object.c");
	T_OK(b && b->ndeps == 1 && !strcmp(b->deps[0], "test_object.a"));
	T_OK(c && c->ndeps == 1 && !strcmp(c->deps[0], "test_object.b"));
	size_t *order = NULL;
	char *cycle = NULL;
	T_EQ(sf_config_order(&cfg, &order, &cycle), 0);
	T_STREQ(cfg.v[order[0]].address, "test_object.a");
	T_STREQ(cfg.v[order[2]].address, "test_object.c");
	free(order);
	free(diag);
	sf_config_release(&cfg);
	sf_specset_release(&set);
}

/* An update-only or accept-only dependency is a dependency; one the
 * configuration also refers to is an ordinary one (a create needs what it
 * reads).  An accept-only one lets only a create go on once the object
 * exists (sf_change_accepts). */
T_TEST(config_soft_dependencies_yield_to_a_reference)
{
	for (int acc = 0; acc < 2; acc++) {
		const char *key = acc ? "acceptOnly" : "updateOnly";
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_config cfg = SF_CONFIG_INIT;
		char *diag = NULL,
		     *doc = xasprintf(DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x}}\n"
					       "  - {type: test_object, name: b, attrs: {dir: /x, content: '${test_object.a.id}'},"
					       " %s: [test_object.a]}\n"
					       "  - {type: test_object, name: c, attrs: {dir: /x}, %s: [test_object.b]}\n"),
				      key, key);
		T_EQ(assemble(doc, &set, &cfg, &diag), 0);
		T_STREQ(diag, "");
		const struct sf_rinst *b = sf_config_find(&cfg, "test_object.b"),
				      *c = sf_config_find(&cfg, "test_object.c");
		const struct sf_strs *bs = acc ? &b->accept_only : &b->update_only,
				     *cs = acc ? &c->accept_only : &c->update_only;
		T_OK(b && b->ndeps == 1 && bs->n == 0);
		T_OK(c && c->ndeps == 1 && !strcmp(c->deps[0], "test_object.b") && cs->n == 1);
		size_t *order = NULL;
		char *cycle = NULL;
		T_EQ(sf_config_order(&cfg, &order, &cycle), 0);
		T_STREQ(cfg.v[order[2]].address, "test_object.c");
		struct sf_change ch = {.address = c->address, .action = SF_ACT_CREATE, .deps = c->deps, .ndeps = c->ndeps,
				       .update_only = c->update_only, .accept_only = c->accept_only};
		T_EQ(sf_change_waits_for(&ch, "test_object.b"), acc);
		T_EQ(sf_change_accepts(&ch, "test_object.b"), acc);
		ch.action = SF_ACT_UPDATE;
		T_OK(sf_change_waits_for(&ch, "test_object.b"));
		T_OK(!sf_change_accepts(&ch, "test_object.b"));
		free(order);
		free(doc);
		free(diag);
		sf_config_release(&cfg);
		sf_specset_release(&set);
	}
}

T_TEST(config_reports_bad_references_duplicates_and_cycles)
{
	struct {
		const char *yaml, *want;
	} cases[] = {
		{DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x, content: '${test_object.zz.id}'}}\n"),
		 "reference to undeclared resource \"test_object.zz\""},
		{DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x}}\n"
			  "  - {type: test_object, name: b, attrs: {dir: /x, content: '${test_object.a.contnet}'}}\n"),
		 "did you mean \"content\""},
		{DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x}}\n"
			  "  - {type: test_object, name: a, attrs: {dir: /y}}\n"),
		 "duplicate resource test_object.a"},
		{DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x}, dependsOn: [test_object.b]}\n"
			  "  - {type: test_object, name: b, attrs: {dir: /x, content: '${test_object.a.id}'}}\n"),
		 "dependency cycle"},
		{DOC("x", "  - {type: test_object, name: a, attrs: {dir: /x}, dependsOn: [test_object.q]}\n"),
		 "dependsOn names undeclared resource \"test_object.q\""},
		{"kind: T\nmetadata: {name: ws}\n", "no resources"},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_config cfg = SF_CONFIG_INIT;
		char *diag = NULL;
		T_OK(assemble(cases[i].yaml, &set, &cfg, &diag) > 0);
		T_CONTAINS(diag, cases[i].want);
		T_CONTAINS(diag, "e.yaml:");
		free(diag);
		sf_config_release(&cfg);
		sf_specset_release(&set);
	}
}

/* ---- diff rules -------------------------------------------------------- */

static struct sf_state *fresh_state(const char *name)
{
	char *p = xasprintf("%s/%s.db", t_tmpdir(), name);
	struct sf_state *st = NULL;
	struct sf_state_opts o = {.create = 1};
	struct sf_err err = SF_ERR_INIT;
	unlink(p);
	if (sf_state_open(&st, p, &o, &err) < 0)
		T_FAILF("state %s: %s", p, err.msg);
	free(p);
	return st;
}

static void put(struct sf_state *st, const char *address, const char *type, enum sf_rstatus status, json_t *attrs)
{
	struct sf_resource r;
	memset(&r, 0, sizeof r);
	r.address = (char *)address;
	r.type = (char *)type;
	r.id = (char *)json_string_value(json_object_get(attrs, "id"));
	r.status = status;
	r.attrs = attrs;
	r.schema_version = 1;
	struct sf_err err = SF_ERR_INIT;
	if (sf_state_put(st, &r, &err) < 0)
		T_FAILF("put %s: %s", address, err.msg);
}

/* A value of the attribute's type; `which` picks one of two distinct ones. */
static json_t *value_of(enum sf_atype t, int which)
{
	const char *s = which ? "two" : "one";
	switch (t) {
	case SF_AT_STRING: return json_string(s);
	case SF_AT_INT: return json_integer(which ? 2 : 1);
	case SF_AT_BOOL: return json_boolean(which);
	case SF_AT_LIST: return json_pack("[s]", s);
	case SF_AT_MAP: return json_pack("{s:s}", "k", s);
	case SF_AT_ANY: return json_string(s);
	}
	return json_null();
}

/* Every settable attribute of t set to its first value.  Those whose
 * drift is ignored are left out: they take no part in a diff, and one may
 * be a type's input to plan_resolve that a made-up value cannot satisfy
 * (a launch template's user data for each containerd version). */
static json_t *full_attrs(const struct sf_rtype *t)
{
	json_t *o = json_object();
	for (const struct sf_attr_def *a = t->attrs; a->name; a++)
		if ((a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL)) && !(a->flags & SF_ATTR_IGNORE_DRIFT))
			json_object_set_new(o, a->name, value_of(a->type, 0));
	return o;
}

/* Plan one instance of t (attributes want) against a state holding it
 * with attributes have (NULL: absent) in status st_status. */
static int plan_one(const struct sf_rtype *t, json_t *have, enum sf_rstatus st_status, json_t *want,
		    const struct sf_plan_opts *extra, struct sf_plan *plan)
{
	static int seq;
	char name[32];
	snprintf(name, sizeof name, "diff%d", seq++);
	struct sf_state *st = fresh_state(name);
	char *addr = xasprintf("%s.x", t->name);
	if (have)
		put(st, addr, t->name, st_status, have);
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	if (want)
		sf_config_add(&cfg, t, "x", want, NULL);
	struct sf_plan_opts o = {.refresh = 0, .types = sf_types()};
	if (extra) {
		o = *extra;
		o.types = sf_types();
	}
	struct sf_err err = SF_ERR_INIT;
	int rc = sf_plan_make(plan, &cfg, st, &o, &err);
	if (rc < 0)
		T_FAILF("plan %s: %s", addr, err.msg);
	free(addr);
	sf_config_release(&cfg);
	sf_state_close(st);
	return rc;
}

T_TEST(every_force_new_attribute_replaces)
{
	size_t n, checked = 0;
	const struct sf_rtype *const *all = sf_rtype_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct sf_rtype *t = all[i];
		for (const struct sf_attr_def *a = t->attrs; a->name; a++) {
			if (!(a->flags & SF_ATTR_FORCE_NEW))
				continue;
			/* a force-new attribute the spec cannot set, or one
			 * whose drift is ignored, would never replace anything */
			T_OK(a->flags & (SF_ATTR_REQUIRED | SF_ATTR_OPTIONAL));
			T_OK(!(a->flags & SF_ATTR_IGNORE_DRIFT));
			json_t *have = full_attrs(t), *want = full_attrs(t);
			json_object_set_new(have, "id", json_string("obj-1"));
			json_object_set_new(want, a->name, value_of(a->type, 1));
			struct sf_plan plan;
			if (plan_one(t, have, SF_RS_CREATED, want, NULL, &plan) == 0) {
				const struct sf_change *c = sf_plan_find(&plan, plan.n ? plan.v[0].address : "");
				enum sf_action want_act = t->create_before_destroy ? SF_ACT_REPLACE_CBD : SF_ACT_REPLACE;
				if (!c || c->action != want_act || c->reason != SF_REASON_CANNOT_UPDATE)
					T_FAILF("%s.%s: changing it planned %s, want %s", t->name, a->name,
						c ? sf_action_name(c->action) : "nothing", sf_action_name(want_act));
				int forces = 0;
				for (size_t k = 0; c && k < c->nattrs; k++)
					if (!strcmp(c->attrs[k].name, a->name))
						forces = c->attrs[k].forces;
				if (!forces)
					T_FAILF("%s.%s: the change is not marked as forcing replacement", t->name, a->name);
				checked++;
			}
			sf_plan_release(&plan);
			json_decref(have);
			json_decref(want);
		}
	}
	T_OK(checked >= 10); /* the AWS types alone have more */
}

T_TEST(diff_rules)
{
	const struct sf_rtype *t = sf_rtype_find("test_object");
	T_OK(t && t->update);
	json_t *base = json_pack("{s:s, s:s, s:s, s:s}", "id", "obj-1", "dir", "/d", "kind", "k1", "content", "c1");
	json_t *same = json_pack("{s:s, s:s, s:s}", "dir", "/d", "kind", "k1", "content", "c1");
	json_t *edited = json_pack("{s:s, s:s, s:s}", "dir", "/d", "kind", "k1", "content", "c2");
	struct {
		const char *what;
		json_t *have;
		enum sf_rstatus status;
		json_t *want;
		struct sf_plan_opts opts;
		enum sf_action act;
		enum sf_reason reason;
	} cases[] = {
		{"absent: create", NULL, SF_RS_CREATED, same, {0}, SF_ACT_CREATE, SF_REASON_NONE},
		{"unchanged: nothing", base, SF_RS_CREATED, same, {0}, SF_ACT_NOOP, SF_REASON_NONE},
		{"updatable attribute: update", base, SF_RS_CREATED, edited, {0}, SF_ACT_UPDATE, SF_REASON_NONE},
		{"removed from the spec: delete", base, SF_RS_CREATED, NULL, {0}, SF_ACT_DELETE, SF_REASON_NO_CONFIG},
		{"tainted: replace", base, SF_RS_TAINTED, same, {0}, SF_ACT_REPLACE, SF_REASON_TAINTED},
		{"killed while creating: resume", base, SF_RS_CREATING, same, {0}, SF_ACT_CREATE, SF_REASON_RESUME},
		{"killed while deleting: replace", base, SF_RS_DELETING, same, {0}, SF_ACT_REPLACE, SF_REASON_RESUME},
		{"--replace", base, SF_RS_CREATED, same, {.replace = (const char *[]){"test_object.x"}, .nreplace = 1},
		 SF_ACT_REPLACE, SF_REASON_BY_REQUEST},
		{"destroy mode", base, SF_RS_CREATED, same, {.destroy = 1}, SF_ACT_DELETE, SF_REASON_DESTROY},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		struct sf_plan plan;
		T_EQ(plan_one(t, cases[i].have, cases[i].status, cases[i].want, &cases[i].opts, &plan), 0);
		const struct sf_change *c = sf_plan_find(&plan, "test_object.x");
		if (!c || c->action != cases[i].act || c->reason != cases[i].reason)
			T_FAILF("%s: planned %s (%s), want %s (%s)", cases[i].what, c ? sf_action_name(c->action) : "nothing",
				c && sf_reason_name(c->reason) ? sf_reason_name(c->reason) : "-", sf_action_name(cases[i].act),
				sf_reason_name(cases[i].reason) ? sf_reason_name(cases[i].reason) : "-");
		T_EQ(sf_plan_has_changes(&plan), cases[i].act != SF_ACT_NOOP);
		sf_plan_release(&plan);
	}
	/* A type without update replaces on any change. */
	const struct sf_rtype *lf = sf_rtype_find("local_file");
	if (lf && !lf->update) {
		json_t *h = full_attrs(lf), *w = full_attrs(lf);
		json_object_set_new(h, "id", json_string("f"));
		for (const struct sf_attr_def *a = lf->attrs; a->name; a++)
			if ((a->flags & SF_ATTR_OPTIONAL) && !(a->flags & SF_ATTR_FORCE_NEW)) {
				json_object_set_new(w, a->name, value_of(a->type, 1));
				break;
			}
		struct sf_plan plan;
		T_EQ(plan_one(lf, h, SF_RS_CREATED, w, NULL, &plan), 0);
		T_OK(plan.n == 1 && plan.v[0].action == SF_ACT_REPLACE);
		sf_plan_release(&plan);
		json_decref(h);
		json_decref(w);
	}
	json_decref(base);
	json_decref(same);
	json_decref(edited);
}

T_TEST(plan_refuses_unknown_types_and_needs_a_registry)
{
	struct sf_state *st = fresh_state("unknown");
	json_t *attrs = json_pack("{s:s}", "id", "x");
	put(st, "gone_type.x", "gone_type", SF_RS_CREATED, attrs);
	json_decref(attrs);
	struct sf_config cfg = SF_CONFIG_INIT;
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts o = {.types = sf_types()};
	T_OK(sf_plan_make(&plan, &cfg, st, &o, &err) < 0);
	T_EQ(err.code, SF_ECORRUPT);
	T_CONTAINS(err.msg, "gone_type.x of type gone_type");
	sf_plan_release(&plan);
	struct sf_plan_opts none = {0};
	sf_err_clear(&err);
	T_OK(sf_plan_make(&plan, &cfg, st, &none, &err) < 0);
	T_CONTAINS(err.msg, "registry");
	sf_plan_release(&plan);
	sf_state_close(st);
}

/* A launch template changed in place gets a new version, so the node
 * group that uses ${...latest_version} must change in the same plan, not in
 * the next one. */
T_TEST(plan_an_update_renews_what_it_flags_new_on_update)
{
	struct sf_state *st = fresh_state("renew");
	json_t *lt = json_pack("{s:s, s:s, s:i, s:s}", "name", "lt", "id", "lt-1", "hop_limit", 1, "latest_version", "1");
	put(st, "aws_launch_template.lt", "aws_launch_template", SF_RS_CREATED, lt);
	json_t *ng = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:i, s:i, s:i, s:s, s:s, s:s}", "cluster_name", "c", "name",
			       "g", "node_role_arn", "arn:aws:iam::1:role/r", "subnet_ids", "subnet-1", "instance_types",
			       "m6i.large", "min_size", 1, "max_size", 2, "desired_size", 1, "launch_template_id", "lt-1",
			       "launch_template_version", "1", "id", "c/g");
	put(st, "eks_nodegroup.g", "eks_nodegroup", SF_RS_CREATED, ng);
	for (int hop = 1; hop <= 2; hop++) {
		struct sf_specset set = SF_SPECSET_INIT;
		struct sf_config cfg = SF_CONFIG_INIT;
		char *diag = NULL;
		char *doc = xasprintf(
			"kind: T\nmetadata: {name: ws}\nresources:\n"
			"  - {type: aws_launch_template, name: lt, attrs: {name: lt, hop_limit: %d}}\n"
			"  - {type: eks_nodegroup, name: g, attrs: {cluster_name: c, name: g, node_role_arn: 'arn:aws:iam::1:role/r',"
			" subnet_ids: [subnet-1], instance_types: [m6i.large], min_size: 1, max_size: 2, desired_size: 1,"
			" launch_template_id: '${aws_launch_template.lt.id}',"
			" launch_template_version: '${aws_launch_template.lt.latest_version}'}}\n",
			hop);
		T_EQ(assemble(doc, &set, &cfg, &diag), 0);
		struct sf_plan plan;
		struct sf_plan_opts o = {.types = sf_types()};
		struct sf_err err = SF_ERR_INIT;
		T_EQ(sf_plan_make(&plan, &cfg, st, &o, &err), 0);
		const struct sf_change *cl = sf_plan_find(&plan, "aws_launch_template.lt"),
				       *cg = sf_plan_find(&plan, "eks_nodegroup.g");
		T_OK(cl && cg);
		if (hop == 1) { /* nothing changes: the version is the one in state */
			T_EQ(cl->action, SF_ACT_NOOP);
			T_EQ(cg->action, SF_ACT_NOOP);
		} else {
			T_EQ(cl->action, SF_ACT_UPDATE);
			T_EQ(cg->action, SF_ACT_UPDATE);
			int unknown = 0;
			for (size_t i = 0; i < cg->nattrs; i++)
				unknown |= !strcmp(cg->attrs[i].name, "launch_template_version") && cg->attrs[i].unknown;
			T_OK(unknown);
			/* the id does not change with an update: still known, no replacement */
			T_STREQ(json_string_value(json_object_get(cg->after, "launch_template_id")), "lt-1");
		}
		sf_plan_release(&plan);
		free(doc);
		free(diag);
		sf_config_release(&cfg);
		sf_specset_release(&set);
	}
	json_decref(lt);
	json_decref(ng);
	sf_state_close(st);
}

/* ---- apply with the test type ----------------------------------------- */

static int count_objects(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".json"))
			n++;
	if (d)
		closedir(d);
	return n;
}

struct run {
	struct sf_state *st;
	struct sf_config cfg;
	struct sf_plan plan;
	struct sf_apply_result res;
};

/* Plan cfg against st (with refresh) and apply it. */
static int plan_apply(struct sf_state *st, struct sf_config *cfg, int destroy, struct sf_apply_result *res,
		      struct sf_plan *plan)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = 1, .destroy = destroy, .types = sf_types()};
	if (sf_plan_make(plan, cfg, st, &po, &err) < 0) {
		T_FAILF("plan: %s", err.msg);
		return -1;
	}
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 4, .cancel = &cancel, .progress_interval = 60};
	return sf_apply(plan, cfg, st, &ao, res, &err);
}

static void add_obj(struct sf_config *c, const char *name, const char *dir, const char *kind, const char *content,
		    const char *fail_on, const char *dep)
{
	json_t *a = json_pack("{s:s, s:s, s:s, s:s*}", "dir", dir, "kind", kind, "content", content, "fail_on", fail_on);
	struct sf_rinst *r = sf_config_add(c, sf_rtype_find("test_object"), name, a, NULL);
	json_decref(a);
	if (dep)
		sf_rinst_add_dep(r, dep);
}

static char *state_attr(struct sf_state *st, const char *addr, const char *attr, enum sf_rstatus *status)
{
	struct sf_resource *r = NULL;
	struct sf_err err = SF_ERR_INIT;
	if (sf_state_get(st, addr, &r, &err) < 0)
		return NULL;
	char *v = xstrdup(json_string_value(json_object_get(r->attrs, attr)));
	if (status)
		*status = r->status;
	sf_resource_free(r);
	return v;
}

T_TEST(apply_creates_replaces_and_destroys)
{
	char *dir = xasprintf("%s/objs", t_tmpdir());
	mkdir(dir, 0700);
	struct sf_state *st = fresh_state("apply");
	struct sf_plan plan;
	struct sf_apply_result res;

	/* b's content is a's id: known only once a exists */
	struct sf_config c1 = SF_CONFIG_INIT;
	c1.workspace = xstrdup("ws");
	add_obj(&c1, "a", dir, "k1", "hello", NULL, NULL);
	add_obj(&c1, "b", dir, "k1", "${test_object.a.id}", NULL, "test_object.a");
	T_EQ(plan_apply(st, &c1, 0, &res, &plan), 0);
	T_EQ(res.added, 2);
	T_EQ(res.failed, 0);
	T_EQ(count_objects(dir), 2);
	enum sf_rstatus s = SF_RS_TAINTED;
	char *aid = state_attr(st, "test_object.a", "id", &s);
	char *bcontent = state_attr(st, "test_object.b", "content", NULL);
	T_EQ(s, SF_RS_CREATED);
	T_OK(aid && bcontent && !strcmp(aid, bcontent));
	sf_plan_release(&plan);

	/* the same configuration again: nothing to do */
	T_EQ(plan_apply(st, &c1, 0, &res, &plan), 0);
	for (size_t i = 0; i < plan.n; i++)
		if (plan.v[i].action != SF_ACT_NOOP)
			for (size_t k = 0; k < plan.v[i].nattrs; k++)
				T_FAILF("%s: %s %s", plan.v[i].address, sf_action_name(plan.v[i].action), plan.v[i].attrs[k].name);
	T_EQ(sf_plan_has_changes(&plan), 0);
	T_EQ(res.added + res.changed + res.destroyed, 0);
	sf_plan_release(&plan);
	sf_config_release(&c1);

	/* kind is force-new: a is replaced, b follows a's new id in place */
	struct sf_config c2 = SF_CONFIG_INIT;
	c2.workspace = xstrdup("ws");
	add_obj(&c2, "a", dir, "k2", "hello", NULL, NULL);
	add_obj(&c2, "b", dir, "k1", "${test_object.a.id}", NULL, "test_object.a");
	T_EQ(plan_apply(st, &c2, 0, &res, &plan), 0);
	T_OK(sf_plan_find(&plan, "test_object.a")->action == SF_ACT_REPLACE);
	T_EQ(count_objects(dir), 2);
	char *aid2 = state_attr(st, "test_object.a", "id", NULL);
	char *bcontent2 = state_attr(st, "test_object.b", "content", NULL);
	T_OK(aid2 && strcmp(aid, aid2));
	T_OK(aid2 && bcontent2 && !strcmp(aid2, bcontent2));
	sf_plan_release(&plan);

	/* destroy: everything goes, dependents first */
	T_EQ(plan_apply(st, &c2, 1, &res, &plan), 0);
	T_EQ(res.destroyed, 2);
	T_EQ(count_objects(dir), 0);
	T_OK(state_attr(st, "test_object.a", "id", NULL) == NULL);
	sf_plan_release(&plan);
	sf_config_release(&c2);
	free(aid);
	free(aid2);
	free(bcontent);
	free(bcontent2);
	sf_state_close(st);
	free(dir);
}

T_TEST(apply_failure_taints_and_skips_dependents_only)
{
	char *dir = xasprintf("%s/fail", t_tmpdir());
	mkdir(dir, 0700);
	struct sf_state *st = fresh_state("fail");
	struct sf_config c = SF_CONFIG_INIT;
	c.workspace = xstrdup("ws");
	add_obj(&c, "bad", dir, "k", "x", "create_after", NULL);
	add_obj(&c, "child", dir, "k", "${test_object.bad.id}", NULL, "test_object.bad");
	add_obj(&c, "other", dir, "k", "y", NULL, NULL);
	struct sf_plan plan;
	struct sf_apply_result res;
	T_OK(plan_apply(st, &c, 0, &res, &plan) < 0);
	T_EQ(res.failed, 1);
	T_EQ(res.skipped, 1);
	T_EQ(res.added, 1); /* the independent branch went on */
	enum sf_rstatus s = SF_RS_CREATED;
	char *id = state_attr(st, "test_object.bad", "id", &s);
	T_EQ(s, SF_RS_TAINTED); /* it exists half-made: the next plan replaces it */
	T_OK(state_attr(st, "test_object.child", "id", NULL) == NULL);
	sf_plan_release(&plan);
	free(id);
	sf_config_release(&c);
	sf_state_close(st);
	free(dir);
}

T_MAIN()

/* ---- batched, parallel refresh (provisioner/engine/refresh.h) ---------- */

/* Two fake types that count what the engine asks: `fa` and `fb` batch
 * (fb names its ids "gone-*" gone), `fc` reads one by one. */
static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static int fk_batches[3], fk_batch_n[3], fk_reads[3], fk_refreshing;
static json_t *fk_answer; /* {id: attrs or null}: what the batches fetched */

static int fk_index(const char *address)
{
	return address[1] == 'a' ? 0 : address[1] == 'b' ? 1 : 2;
}

static int fk_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	pthread_mutex_lock(&fk_mu);
	int k = fk_index(c->address);
	fk_batches[k]++;
	fk_batch_n[k] += (int)n;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_string_value(json_object_get(priors[i], "id"));
		json_object_set_new(fk_answer, id, strncmp(id, "gone-", 5) ? json_deep_copy(priors[i]) : json_null());
	}
	pthread_mutex_unlock(&fk_mu);
	return 0;
}

static int fk_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	const char *id = json_string_value(json_object_get(prior, "id"));
	pthread_mutex_lock(&fk_mu);
	fk_reads[fk_index(c->address)]++;
	fk_refreshing += c->refreshing;
	json_t *x = json_object_get(fk_answer, id);
	int rc = x && json_is_null(x) ? SF_ENOTFOUND : 0;
	if (!rc)
		*out = json_deep_copy(x ? x : prior);
	pthread_mutex_unlock(&fk_mu);
	return rc ? sf_fail(c->err, rc, "%s not found", id) : 0;
}

static const struct sf_attr_def fk_attrs[] = {
	{"v", SF_AT_STRING, SF_ATTR_OPTIONAL, "a value"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "id"},
	{NULL, 0, 0, NULL},
};
static const struct sf_own fk_own = {.kind = SF_OWN_ID, .noun = "fake", .proof = "its id"};
static const struct sf_rtype fk_a = {.name = "fa", .attrs = fk_attrs, .read = fk_read, .read_batch = fk_batch,
				      .own = &fk_own};
static const struct sf_rtype fk_b = {.name = "fb", .attrs = fk_attrs, .read = fk_read, .read_batch = fk_batch,
				      .own = &fk_own};
static const struct sf_rtype fk_c = {.name = "fc", .attrs = fk_attrs, .read = fk_read, .own = &fk_own};

/* Refresh groups the recorded objects by type: one batch per type with
 * all of that type's rows (never one per object, never rows a refresh does
 * not read), every object still read, with c->refreshing; an id the batch
 * answered as gone is planned as deleted outside secfaas.  The same at
 * --parallelism 1 and 8. */
T_TEST(refresh_batches_once_per_type_and_a_missing_id_is_gone)
{
	static const struct sf_rtype *const types[] = {&fk_a, &fk_b, &fk_c};
	struct sf_registry reg = {types, 3};
	for (int par = 1; par <= 8; par += 7) {
		struct sf_state *st = fresh_state(par == 1 ? "batch1" : "batch8");
		struct sf_config cfg = SF_CONFIG_INIT;
		cfg.workspace = xstrdup("ws");
		static const char *const rows[][3] = {
			{"fa", "a1", "ok-a1"}, {"fa", "a2", "ok-a2"}, {"fa", "a3", "ok-a3"}, {"fb", "b1", "ok-b1"},
			{"fb", "b2", "gone-b2"}, {"fc", "c1", "ok-c1"}, {"fc", "c2", "ok-c2"},
		};
		for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
			const struct sf_rtype *t = !strcmp(rows[i][0], "fa") ? &fk_a : !strcmp(rows[i][0], "fb") ? &fk_b : &fk_c;
			char *addr = xasprintf("%s.%s", rows[i][0], rows[i][1]);
			json_t *have = json_pack("{s:s, s:s}", "v", "x", "id", rows[i][2]);
			put(st, addr, rows[i][0], SF_RS_CREATED, have);
			json_t *want = json_pack("{s:s}", "v", "x");
			sf_config_add(&cfg, t, rows[i][1], want, NULL);
			json_decref(want);
			json_decref(have);
			free(addr);
		}
		/* a tainted row is replaced, not read; a row the spec dropped is deleted, not read */
		json_t *o = json_pack("{s:s, s:s}", "v", "x", "id", "ok-a4");
		put(st, "fa.a4", "fa", SF_RS_TAINTED, o);
		json_t *want4 = json_pack("{s:s}", "v", "x");
		sf_config_add(&cfg, &fk_a, "a4", want4, NULL);
		json_decref(want4);
		put(st, "fa.a5", "fa", SF_RS_CREATED, o);
		json_decref(o);
		memset(fk_batches, 0, sizeof fk_batches);
		memset(fk_batch_n, 0, sizeof fk_batch_n);
		memset(fk_reads, 0, sizeof fk_reads);
		fk_refreshing = 0;
		json_decref(fk_answer);
		fk_answer = json_object();
		struct sf_plan plan;
		struct sf_plan_opts opts = {.refresh = 1, .types = &reg, .parallelism = par};
		struct sf_err err = SF_ERR_INIT;
		T_EQ(sf_plan_make(&plan, &cfg, st, &opts, &err), 0);
		T_EQ(fk_batches[0], 1);
		T_EQ(fk_batch_n[0], 3);
		T_EQ(fk_batches[1], 1);
		T_EQ(fk_batch_n[1], 2);
		T_EQ(fk_batches[2], 0);
		T_EQ(fk_reads[0] + fk_reads[1] + fk_reads[2], 7);
		T_EQ(fk_refreshing, 7);
		const struct sf_change *gone = sf_plan_find(&plan, "fb.b2"), *kept = sf_plan_find(&plan, "fa.a2");
		T_OK(gone && gone->action == SF_ACT_CREATE && gone->reason == SF_REASON_GONE);
		T_OK(kept && kept->action == SF_ACT_NOOP);
		T_EQ(plan.ndrift, 1);
		T_STREQ(plan.drift[0].address, "fb.b2");
		sf_plan_release(&plan);
		/* the batch step alone (a fleet registers every workspace first) */
		memset(fk_batches, 0, sizeof fk_batches);
		memset(fk_reads, 0, sizeof fk_reads);
		T_EQ(sf_plan_prefetch(&cfg, st, &opts, &err), 0);
		T_EQ(fk_batches[0] + fk_batches[1], 2);
		T_EQ(fk_reads[0] + fk_reads[1] + fk_reads[2], 0);
		sf_config_release(&cfg);
		sf_state_close(st);
	}
	json_decref(fk_answer);
	fk_answer = NULL;
}

/* ---- deletes that go with their parent's (sf_own.deleted_with) ---------- */

/* `gp` is a parent whose delete removes the `gc` objects in it (as
 * DeleteCluster removes a cluster's add-ons); `gu` is something a gc uses
 * (a role), `gn` something made in the parent that a gc was made after and
 * that must go before the parent (a node group).  The fakes log their
 * deletes in order; gp's ownership tags say whose it is (gp_whose). */
static pthread_mutex_t gw_mu = PTHREAD_MUTEX_INITIALIZER;
static char gw_log[512];
static int gp_fail, gp_whose, gp_made; /* whose: 0 ours, 1 someone else's, 2 gone */

static int gw_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	if (!strncmp(c->address, "gp.", 3))
		gp_made = 1;
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static int gc_real; /* a child exists only inside its parent, as an add-on in its cluster */

static int gw_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	if (gc_real && !gp_made && !strncmp(c->address, "gc.", 3))
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no such child", c->address);
	*out = json_deep_copy(prior);
	return 0;
}

static int gw_destroy(struct sf_rctx *c, const json_t *prior)
{
	(void)prior;
	if (gc_real && !gp_made && !strncmp(c->address, "gc.", 3))
		return 0; /* gone with its parent: a type's destroy takes "not found" as done */
	pthread_mutex_lock(&gw_mu);
	int fail = gp_fail && !strncmp(c->address, "gp.", 3);
	if (!fail && !strncmp(c->address, "gp.", 3))
		gp_made = 0;
	if (!fail)
		snprintf(gw_log + strlen(gw_log), sizeof gw_log - strlen(gw_log), "%s ", c->address);
	pthread_mutex_unlock(&gw_mu);
	return fail ? sf_fail(c->err, SF_EINVAL, "%s: refused", c->address) : 0;
}

static int gp_marks(struct sf_rctx *c, const json_t *attrs, char **id, json_t **tags)
{
	(void)attrs;
	if (gp_whose == 2 || !gp_made)
		return sf_fail(c->err, SF_ENOTFOUND, "no such parent");
	*id = xstrdup("p-1");
	*tags = gp_whose ? json_pack("{s:s}", "secfaas:lineage", "someone-else")
			 : json_pack("{s:s}", "secfaas:token", c->token ? c->token : "");
	return 0;
}

static const struct sf_own gp_own = {.kind = SF_OWN_TAGS, .noun = "parent", .proof = "tags", .marks = gp_marks};
static const struct sf_own gc_own = {.kind = SF_OWN_ID, .noun = "child", .proof = "its id", .deleted_with = "gp"};
static const struct sf_rtype gw_p = {.name = "gp", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &gp_own};
static const struct sf_rtype gw_c = {.name = "gc", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &gc_own};
static const struct sf_rtype gw_u = {.name = "gu", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const struct sf_rtype gw_n = {.name = "gn", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};

static void gw_add(struct sf_config *c, const struct sf_rtype *t, const char *name, const char *dep1,
		   const char *dep2)
{
	json_t *a = json_pack("{s:s}", "v", "x");
	struct sf_rinst *r = sf_config_add(c, t, name, a, NULL);
	json_decref(a);
	if (dep1)
		sf_rinst_add_dep(r, dep1);
	if (dep2)
		sf_rinst_add_dep(r, dep2);
}

/* children: gc.a uses gu.u; gc.b was made after gn.n (which is in gp.p) */
static void gw_config(struct sf_config *c, int with_a)
{
	*c = (struct sf_config)SF_CONFIG_INIT;
	c->workspace = xstrdup("ws");
	gw_add(c, &gw_u, "u", NULL, NULL);
	gw_add(c, &gw_p, "p", NULL, NULL);
	gw_add(c, &gw_n, "n", "gp.p", NULL);
	if (with_a)
		gw_add(c, &gw_c, "a", "gp.p", "gu.u");
	gw_add(c, &gw_c, "b", "gp.p", "gn.n");
}

static const struct sf_rtype gw_s = {.name = "gs", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const struct sf_rtype gw_y = {.name = "gy", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const char *const gr_unlinked[] = {"gs", NULL};
static const struct sf_rtype gw_r = {.name = "gr", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own, .unlinked_by = gr_unlinked};

/* modes of gw_config2: a table linked to a subnet; the table dropped while
 * the subnet stays; and a NAT-like gy in the subnet that the table routes
 * through (the reversed order would close a circle) */
static void gw_config2(struct sf_config *c, int mode)
{
	*c = (struct sf_config)SF_CONFIG_INIT;
	c->workspace = xstrdup("ws");
	gw_add(c, &gw_s, "a", NULL, NULL);
	if (mode == 2)
		gw_add(c, &gw_y, "y", "gs.a", NULL);
	if (mode != 1)
		gw_add(c, &gw_r, "r", "gs.a", mode == 2 ? "gy.y" : NULL);
}

static int gw_run(struct sf_state *st, int with_a, int destroy, struct sf_apply_result *res)
{
	static const struct sf_rtype *const types[] = {&gw_c, &gw_n, &gw_p, &gw_r, &gw_s, &gw_u, &gw_y}; /* by name */
	struct sf_registry reg = {types, 7};
	struct sf_config cfg;
	if (with_a >= 10)
		gw_config2(&cfg, with_a - 10);
	else
		gw_config(&cfg, with_a);
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	/* a destroy without refresh: the apply-time ownership proof decides */
	struct sf_plan_opts po = {.refresh = !destroy, .destroy = destroy, .types = &reg};
	int rc = sf_plan_make(&plan, &cfg, st, &po, &err);
	if (rc < 0)
		T_FAILF("plan: %s", err.msg);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 4, .cancel = &cancel, .progress_interval = 60};
	memset(res, 0, sizeof *res);
	gw_log[0] = 0;
	if (rc == 0)
		rc = sf_apply(&plan, &cfg, st, &ao, res, &err);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	return rc;
}

static int gw_has(struct sf_state *st, const char *addr)
{
	char *v = state_attr(st, addr, "id", NULL);
	free(v);
	return v != NULL;
}

/* Destroying the parent with its children: no call for a child, its row
 * goes once the parent's delete is confirmed; what a child uses goes after
 * the parent, what the parent must outlive goes first (no deadlock); a
 * parent whose delete fails keeps its children's rows; a parent that turns
 * out to be someone else's takes nothing with it; a child dropped on its
 * own is deleted by a call. */
T_TEST(apply_deletes_go_with_their_parents_delete)
{
	struct sf_apply_result res;
	gp_fail = gp_whose = gp_made = 0;
	struct sf_state *st = fresh_state("gowith");
	T_EQ(gw_run(st, 1, 0, &res), 0);
	T_EQ(res.added, 5);

	/* a child the spec drops while the parent stays: deleted by a call */
	T_EQ(gw_run(st, 0, 0, &res), 0);
	T_STREQ(gw_log, "gc.a ");
	T_EQ(gw_run(st, 1, 0, &res), 0);

	/* the parent's delete fails: the children's rows stay, no child call */
	gp_fail = 1;
	T_OK(gw_run(st, 1, 1, &res) < 0);
	T_OK(!strstr(gw_log, "gc."));
	T_STREQ(gw_log, "gn.n "); /* what the parent must outlive went first */
	T_OK(gw_has(st, "gc.a") && gw_has(st, "gc.b") && gw_has(st, "gp.p") && gw_has(st, "gu.u"));
	T_EQ(res.failed, 1);

	/* then it succeeds: the children go with it, in the right order */
	gp_fail = 0;
	T_EQ(gw_run(st, 1, 1, &res), 0);
	T_OK(!strstr(gw_log, "gc."));
	T_STREQ(gw_log, "gp.p gu.u ");
	T_EQ(res.destroyed, 4); /* gn was deleted by the failed run */
	T_OK(!gw_has(st, "gc.a") && !gw_has(st, "gc.b") && !gw_has(st, "gp.p") && !gw_has(st, "gu.u"));
	sf_state_close(st);

	/* a parent that is someone else's now: left alone, and the children
	 * are deleted on their own (each proven first) */
	gp_made = 0;
	st = fresh_state("gowith2");
	T_EQ(gw_run(st, 1, 0, &res), 0);
	gp_whose = 1;
	T_EQ(gw_run(st, 1, 1, &res), 0);
	T_OK(strstr(gw_log, "gc.a ") && strstr(gw_log, "gc.b ") && !strstr(gw_log, "gp.p"));
	T_OK(!gw_has(st, "gc.a") && !gw_has(st, "gp.p"));
	sf_state_close(st);

	/* a parent already gone: its children went with it */
	gp_whose = gp_made = 0;
	st = fresh_state("gowith3");
	T_EQ(gw_run(st, 1, 0, &res), 0);
	gp_whose = 2;
	T_EQ(gw_run(st, 1, 1, &res), 0);
	T_OK(!strstr(gw_log, "gc.") && !strstr(gw_log, "gp.p"));
	T_OK(!gw_has(st, "gc.a") && !gw_has(st, "gc.b") && !gw_has(st, "gp.p"));
	sf_state_close(st);
	gp_whose = 0;
}

/* kill -9 after the parent's delete was confirmed and its row removed, but
 * before its children's rows went (step_gone_with): the children are gone
 * in AWS with their parent.  The next destroy finishes without a failure
 * and leaves no row; the next apply instead makes parent and children
 * again, one of each. */
T_TEST(apply_resumes_after_a_kill_between_a_parents_delete_and_its_childrens_rows)
{
	struct sf_apply_result res;
	struct sf_err err = SF_ERR_INIT;
	gp_fail = gp_whose = gp_made = 0;
	gc_real = 1;
	for (int then_destroy = 1; then_destroy >= 0; then_destroy--) {
		struct sf_state *st = fresh_state(then_destroy ? "gowithkill" : "gowithkill2");
		T_EQ(gw_run(st, 1, 0, &res), 0);
		T_EQ(res.added, 5);
		/* what the kill leaves: gn.n and gp.p deleted, their rows gone */
		gp_made = 0;
		T_EQ(sf_state_begin(st, &err), 0);
		T_EQ(sf_state_remove(st, "gn.n", &err), 0);
		T_EQ(sf_state_remove(st, "gp.p", &err), 0);
		T_EQ(sf_state_commit(st, &err), 0);
		T_OK(gw_has(st, "gc.a") && gw_has(st, "gc.b"));
		if (then_destroy) {
			T_EQ(gw_run(st, 1, 1, &res), 0);
			T_EQ(res.failed, 0);
			T_STREQ(gw_log, "gu.u ");
			T_OK(!gw_has(st, "gc.a") && !gw_has(st, "gc.b") && !gw_has(st, "gu.u"));
		} else {
			T_EQ(gw_run(st, 1, 0, &res), 0);
			T_EQ(res.failed, 0);
			T_EQ(res.added, 4); /* gp.p, gn.n and both children again */
			T_OK(gp_made && gw_has(st, "gc.a") && gw_has(st, "gc.b") && gw_has(st, "gp.p"));
			T_EQ(gw_run(st, 1, 0, &res), 0);
			T_EQ(res.added + res.changed + res.destroyed, 0);
		}
		sf_state_close(st);
	}
	gc_real = 0;
}

/* The plan's ownership check of a name-keyed child (an access entry in
 * its cluster) asks nothing when the plan creates its parent from
 * nothing: nothing can be in a parent that does not exist yet.  With the
 * parent in the state it asks, and refuses a name someone else holds. */
static int gk_marks_calls, gk_taken;
static int gk_marks(struct sf_rctx *c, const json_t *attrs, char **id, json_t **tags)
{
	(void)attrs;
	__atomic_add_fetch(&gk_marks_calls, 1, __ATOMIC_SEQ_CST);
	if (!gk_taken)
		return sf_fail(c->err, SF_ENOTFOUND, "no such child");
	*id = xstrdup("k-1");
	*tags = json_pack("{s:s}", "secfaas:lineage", "someone-else");
	return 0;
}
static const struct sf_own gk_own = {
	.kind = SF_OWN_TAGS, .noun = "child", .proof = "tags", .marks = gk_marks, .deleted_with = "gp"};
static const struct sf_rtype gw_k = {.name = "gk", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &gk_own};

static int gk_plan(struct sf_state *st, int with_child, int apply, struct sf_err *err)
{
	static const struct sf_rtype *const types[] = {&gw_k, &gw_p}; /* by name */
	struct sf_registry reg = {types, 2};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	gw_add(&cfg, &gw_p, "p", NULL, NULL);
	if (with_child)
		gw_add(&cfg, &gw_k, "k", "gp.p", NULL);
	struct sf_plan plan;
	struct sf_plan_opts po = {.refresh = 1, .types = &reg};
	int rc = sf_plan_make(&plan, &cfg, st, &po, err);
	if (rc >= 0 && apply) {
		volatile int cancel = 0;
		struct sf_apply_opts ao = {.parallelism = 2, .cancel = &cancel, .progress_interval = 60};
		struct sf_apply_result res;
		rc = sf_apply(&plan, &cfg, st, &ao, &res, err);
	}
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	return rc;
}

T_TEST(plan_asks_nothing_of_a_childs_name_in_a_parent_it_creates)
{
	struct sf_err err = SF_ERR_INIT;
	gp_fail = gp_whose = gp_made = 0;
	gk_marks_calls = gk_taken = 0;
	struct sf_state *st = fresh_state("gkplan");
	T_OK(gk_plan(st, 1, 0, &err) >= 0);
	T_EQ(gk_marks_calls, 0);
	/* the parent exists: the child's name is asked, and a taken one refused */
	T_EQ(gk_plan(st, 0, 1, &err), 0);
	T_OK(gk_plan(st, 1, 0, &err) >= 0);
	T_EQ(gk_marks_calls, 1);
	gk_taken = 1;
	sf_err_clear(&err);
	T_OK(gk_plan(st, 1, 0, &err) < 0);
	T_OK(strstr(err.msg, "gk.k") != NULL);
	T_EQ(gk_marks_calls, 2);
	gk_taken = 0;
	sf_state_close(st);
}

/* A route table's link to a subnet goes with the subnet's delete
 * (sf_rtype.unlinked_by): when both are deleted the table goes after the
 * subnet; dropped alone it goes by itself; where that order would close a
 * circle every delete keeps the usual order and all still go. */
T_TEST(apply_a_delete_the_dependency_unlinks_goes_after_it)
{
	struct sf_apply_result res;
	struct sf_state *st = fresh_state("unlinked");
	T_EQ(gw_run(st, 10, 0, &res), 0);
	T_EQ(gw_run(st, 10, 1, &res), 0);
	T_STREQ(gw_log, "gs.a gr.r ");
	T_EQ(res.destroyed, 2);
	T_EQ(gw_run(st, 10, 0, &res), 0);
	T_EQ(gw_run(st, 11, 0, &res), 0);
	T_STREQ(gw_log, "gr.r ");
	T_OK(gw_has(st, "gs.a") && !gw_has(st, "gr.r"));
	T_EQ(gw_run(st, 12, 0, &res), 0);
	T_EQ(gw_run(st, 12, 1, &res), 0);
	T_STREQ(gw_log, "gr.r gy.y gs.a ");
	T_EQ(res.destroyed, 3);
	sf_state_close(st);
}

/* A name-keyed (SF_OWN_TAGS) type whose read saw every tag in the same
 * answer (IAM's GetRole) leaves them in c->own_tags: the refresh judges
 * ownership from them and asks marks() nothing.  Tags of another owner
 * still mean "deleted outside secfaas; its name is now taken". */
static int fo_marks_calls;
static char sf_lin[64];
static int fo_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	const char *id = json_string_value(json_object_get(prior, "id"));
	if (c->refreshing)
		c->own_tags = json_pack("{s:s, s:s}", "secfaas:lineage", strcmp(id, "theirs") ? sf_lin : "other-lineage",
					"secfaas:address", c->address);
	*out = json_deep_copy(prior);
	return 0;
}
static int fo_marks(struct sf_rctx *c, const json_t *a, char **id, json_t **tags)
{
	(void)c;
	(void)a;
	*id = NULL;
	*tags = NULL;
	__atomic_add_fetch(&fo_marks_calls, 1, __ATOMIC_SEQ_CST);
	return SF_ENOTFOUND;
}
static const struct sf_own fo_own = {.kind = SF_OWN_TAGS, .noun = "fake", .proof = "its tags", .marks = fo_marks};
static const struct sf_rtype fo_t = {.name = "fo", .attrs = fk_attrs, .read = fo_read, .own = &fo_own};

T_TEST(refresh_judges_ownership_from_the_tags_read_saw)
{
	static const struct sf_rtype *const types[] = {&fo_t};
	struct sf_registry reg = {types, 1};
	struct sf_state *st = fresh_state("owntags");
	snprintf(sf_lin, sizeof sf_lin, "%s", sf_state_lineage(st));
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	static const char *const rows[][2] = {{"mine", "ours"}, {"taken", "theirs"}};
	for (size_t i = 0; i < 2; i++) {
		char *addr = xasprintf("fo.%s", rows[i][0]);
		json_t *have = json_pack("{s:s, s:s}", "v", "x", "id", rows[i][1]), *want = json_pack("{s:s}", "v", "x");
		put(st, addr, "fo", SF_RS_CREATED, have);
		sf_config_add(&cfg, &fo_t, rows[i][0], want, NULL);
		json_decref(want);
		json_decref(have);
		free(addr);
	}
	fo_marks_calls = 0;
	struct sf_plan plan;
	/* refresh only: a planned create would ask marks() whether its name is
	 * free, which is not the refresh's question */
	struct sf_plan_opts opts = {.refresh_only = 1, .types = &reg, .parallelism = 2};
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_plan_make(&plan, &cfg, st, &opts, &err), 0);
	T_EQ(fo_marks_calls, 0);
	const struct sf_change *mine = sf_plan_find(&plan, "fo.mine"), *taken = sf_plan_find(&plan, "fo.taken");
	T_OK(mine && mine->reason == SF_REASON_NONE && mine->before);
	T_OK(taken && taken->reason == SF_REASON_GONE);
	T_EQ(plan.ndrift, 1);
	T_OK(strstr(plan.drift[0].what, "its name is now taken by") != NULL);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	sf_state_close(st);
}

/* The ownership proof before a delete may leave what it read for the
 * destroy that follows (c->keep_marked, c->marked: the EKS cluster's VPC
 * comes from it); the proof before an update keeps nothing, and nothing
 * a delete was handed outlives its step. */
static char fm_lin[64], fm_seen[64];
static int fm_kept, fm_update_saw;
static int fm_marks(struct sf_rctx *c, const json_t *a, char **id, json_t **tags)
{
	(void)a;
	*id = xstrdup(c->address);
	*tags = json_pack("{s:s, s:s}", "secfaas:lineage", fm_lin, "secfaas:address", c->address);
	if (c->keep_marked) {
		c->marked = json_pack("{s:s}", "seen", c->address);
		fm_kept++;
	}
	return 0;
}
static int fm_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	(void)prior;
	fm_update_saw += c->marked != NULL;
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}
static int fm_destroy(struct sf_rctx *c, const json_t *prior)
{
	(void)prior;
	const char *s = json_string_value(json_object_get(c->marked, "seen"));
	snprintf(fm_seen + strlen(fm_seen), sizeof fm_seen - strlen(fm_seen), "%s ", s ? s : "-");
	return 0;
}
static const struct sf_own fm_own = {.kind = SF_OWN_TAGS, .noun = "fake", .proof = "its tags", .marks = fm_marks};
static const struct sf_rtype fm_t = {.name = "fm", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .update = fm_update, .destroy = fm_destroy, .own = &fm_own};

T_TEST(apply_hands_a_deletes_ownership_proof_to_its_destroy)
{
	static const struct sf_rtype *const types[] = {&fm_t};
	struct sf_registry reg = {types, 1};
	struct sf_state *st = fresh_state("marked");
	snprintf(fm_lin, sizeof fm_lin, "%s", sf_state_lineage(st));
	fm_seen[0] = 0;
	fm_kept = fm_update_saw = 0;
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	/* fm.up changes (an update, proven first), fm.d1 and fm.d2 go (deletes) */
	static const char *const names[] = {"up", "d1", "d2"};
	for (size_t i = 0; i < 3; i++) {
		char *addr = xasprintf("fm.%s", names[i]);
		json_t *have = json_pack("{s:s, s:s}", "v", "x", "id", addr);
		put(st, addr, "fm", SF_RS_CREATED, have);
		json_decref(have);
		free(addr);
	}
	json_t *want = json_pack("{s:s}", "v", "y");
	sf_config_add(&cfg, &fm_t, "up", want, NULL);
	json_decref(want);
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = 0, .types = &reg};
	T_EQ(sf_plan_make(&plan, &cfg, st, &po, &err), 0);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 1, .cancel = &cancel, .progress_interval = 60};
	struct sf_apply_result res = {0};
	T_EQ(sf_apply(&plan, &cfg, st, &ao, &res, &err), 0);
	T_EQ(res.changed, 1);
	T_EQ(res.destroyed, 2);
	T_EQ(fm_kept, 2);       /* asked to keep for the two deletes only */
	T_EQ(fm_update_saw, 0); /* the update's proof left nothing, nor did a delete before it */
	T_OK(strstr(fm_seen, "fm.d1 ") && strstr(fm_seen, "fm.d2 ") && strlen(fm_seen) == 12);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	sf_state_close(st);
}

/* A part of a step (one wait among several of a create) keeps a history
 * of its own: apply records what create reports under "create/<part>",
 * apart from the whole step's "create", and hands it back to a later
 * create once there are three samples. */
static double pt_lo, pt_hi;
static int pt_known;
static int pt_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pt_known = c->typical_part && c->typical_part(c, "wait", &pt_lo, &pt_hi) == 0;
	if (c->part_took) {
		c->part_took(c, "wait", 40);
		c->part_took(c, "wait", 50);
		c->part_took(c, "wait", 60);
	}
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}
static const struct sf_rtype pt_t = {.name = "pt", .schema_version = 1, .attrs = fk_attrs, .create = pt_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};

static int pt_apply(struct sf_state *st, const char *name)
{
	static const struct sf_rtype *const types[] = {&pt_t};
	struct sf_registry reg = {types, 1};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	json_t *a = json_pack("{s:s}", "v", "x");
	sf_config_add(&cfg, &pt_t, name, a, NULL);
	json_decref(a);
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = 1, .types = &reg};
	int rc = sf_plan_make(&plan, &cfg, st, &po, &err);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 1, .cancel = &cancel, .progress_interval = 60};
	struct sf_apply_result res = {0};
	if (rc == 0)
		rc = sf_apply(&plan, &cfg, st, &ao, &res, &err);
	if (rc < 0)
		T_FAILF("apply: %s", err.msg);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	return rc;
}

T_TEST(apply_keeps_a_history_per_part_of_a_step)
{
	struct sf_state *st = fresh_state("parts");
	struct sf_err err = SF_ERR_INIT;
	double lo = 0, hi = 0;
	size_t n = 0;
	pt_known = 1;
	T_EQ(pt_apply(st, "a"), 0);
	T_EQ(pt_known, 0); /* none yet */
	T_EQ(sf_state_timing_typical(st, "pt", "create/wait", &lo, &hi, &n, &err), 0);
	T_EQ(n, 3);
	T_OK(lo == 40 && hi == 60);
	/* the whole step's history holds the step, not its parts */
	T_EQ(sf_state_timing_typical(st, "pt", "create", &lo, &hi, &n, &err), 0);
	T_EQ(n, 1);
	T_OK(hi < 40);
	T_EQ(pt_apply(st, "b"), 0);
	T_EQ(pt_known, 1);
	T_OK(pt_lo == 40 && pt_hi == 60);
	sf_state_close(st);
}

/* An update-only dependency (sf_rinst_add_update_dep): the dependent's
 * create runs alongside the dependency's create, its update still waits for
 * the dependency's update.  The dependency's create waits (at most a while)
 * for the dependent's create to start, so without the rule it sees none;
 * the dependent's update notes whether the dependency's had ended. */
static pthread_mutex_t uo_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t uo_cv = PTHREAD_COND_INITIALIZER;
static int uo_dep_started, uo_saw_dep, uo_first_done, uo_dep_after_first;
/* an accept-only dependency (sf_rinst_add_accept_dep) instead: the first
 * create records its id, then waits for the dependent's create */
static int uo_accept, uo_dep_before_id;

static int uo_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	if (uo_accept && strcmp(c->address, "ud.dep")) {
		pthread_mutex_lock(&uo_mu);
		uo_dep_before_id = uo_dep_started;
		pthread_mutex_unlock(&uo_mu);
		if (c->record_id)
			c->record_id(c, c->address);
	}
	pthread_mutex_lock(&uo_mu);
	if (!strcmp(c->address, "ud.dep")) {
		uo_dep_started = 1;
		pthread_cond_broadcast(&uo_cv);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20; /* a deadlock guard, not a pause: it ends as soon as ud.dep starts */
		while (!uo_dep_started && pthread_cond_timedwait(&uo_cv, &uo_mu, &ts) == 0)
			;
		uo_saw_dep = uo_dep_started;
	}
	pthread_mutex_unlock(&uo_mu);
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static int uo_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&uo_mu);
	if (!strcmp(c->address, "ud.dep"))
		uo_dep_after_first = uo_first_done;
	else
		uo_first_done = 1;
	pthread_mutex_unlock(&uo_mu);
	*out = json_deep_copy(want);
	json_object_set(*out, "id", json_object_get(prior, "id"));
	return 0;
}

static const struct sf_rtype uo_t = {.name = "ud", .schema_version = 1, .attrs = fk_attrs, .create = uo_create,
				     .read = gw_read, .update = uo_update, .destroy = gw_destroy, .own = &fk_own};

static int uo_run(struct sf_state *st, const char *v, int saved)
{
	static const struct sf_rtype *const types[] = {&uo_t};
	struct sf_registry reg = {types, 1};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	cfg.kind = xstrdup("Stack");
	json_t *a = json_pack("{s:s}", "v", v);
	sf_config_add(&cfg, &uo_t, "first", a, NULL);
	struct sf_rinst *dep = sf_config_add(&cfg, &uo_t, "dep", a, NULL);
	if (uo_accept)
		sf_rinst_add_accept_dep(dep, "ud.first");
	else
		sf_rinst_add_update_dep(dep, "ud.first");
	json_decref(a);
	struct sf_plan plan, loaded;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = 1, .types = &reg};
	int rc = sf_plan_make(&plan, &cfg, st, &po, &err);
	struct sf_plan *p = &plan;
	char *path = xasprintf("%s/uo.plan", t_tmpdir());
	if (!rc && saved) { /* through a saved plan: the rule goes along */
		struct sf_config cfg2 = SF_CONFIG_INIT;
		rc = sf_plan_save(&plan, &cfg, st, path, &err);
		if (!rc)
			rc = sf_plan_load(&loaded, &cfg2, path, &reg, &err);
		if (!rc)
			rc = sf_plan_unseal(&loaded, &cfg2, st, &err);
		sf_config_release(&cfg);
		cfg = cfg2;
		p = &loaded;
		sf_plan_release(&plan);
	}
	if (rc < 0)
		T_FAILF("plan: %s", err.msg);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 4, .cancel = &cancel, .progress_interval = 60};
	struct sf_apply_result res;
	memset(&res, 0, sizeof res);
	if (rc == 0)
		rc = sf_apply(p, &cfg, st, &ao, &res, &err);
	if (rc < 0)
		T_FAILF("apply: %s", err.msg);
	free(path);
	sf_plan_release(p);
	sf_config_release(&cfg);
	return rc;
}

T_TEST(apply_update_only_dependency_orders_updates_not_creates)
{
	uo_accept = 0;
	for (int saved = 0; saved <= 1; saved++) {
		char name[32];
		snprintf(name, sizeof name, "updonly%d", saved);
		struct sf_state *st = fresh_state(name);
		uo_dep_started = uo_saw_dep = uo_first_done = uo_dep_after_first = 0;
		T_EQ(uo_run(st, "1", saved), 0);
		T_EQ(uo_saw_dep, 1); /* the create did not wait */
		T_EQ(uo_run(st, "2", saved), 0);
		T_EQ(uo_first_done, 1);
		T_EQ(uo_dep_after_first, 1); /* the update did */
		sf_state_close(st);
	}
}

/* An accept-only dependency: the dependent's create starts once the
 * dependency's create has recorded its id, not before, and not only when
 * that create ends (it waits for the dependent); the dependent's update
 * still waits for the dependency's whole update.  Also through a saved plan. */
T_TEST(apply_accept_only_dependency_starts_a_create_once_the_object_exists)
{
	uo_accept = 1;
	for (int saved = 0; saved <= 1; saved++) {
		char name[32];
		snprintf(name, sizeof name, "acconly%d", saved);
		struct sf_state *st = fresh_state(name);
		uo_dep_started = uo_saw_dep = uo_first_done = uo_dep_after_first = uo_dep_before_id = 0;
		T_EQ(uo_run(st, "1", saved), 0);
		T_EQ(uo_dep_before_id, 0); /* not before the object existed */
		T_EQ(uo_saw_dep, 1);       /* but before its create ended */
		T_EQ(uo_run(st, "2", saved), 0);
		T_EQ(uo_first_done, 1);
		T_EQ(uo_dep_after_first, 1);
		sf_state_close(st);
	}
	uo_accept = 0;
}

/* ---- final waits that sleep until needed (resource.h, needed) ----------
 * `lz` objects end in a final wait (ax_until_needed, resources/aws_common.h)
 * and count the times the engine told them they are not needed yet; `lb`
 * is a blocker, running until every sleeper of the case was told so three
 * times (or a guard of seconds: the case then fails), then noting it
 * ended; `ld` waits for what the case names.  A sleeper notes whether
 * the blocker had ended when it woke. */
static pthread_mutex_t lz_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lz_cv = PTHREAD_COND_INITIALIZER;
static int lz_asks[2], lz_woke[2], lz_after[2], lz_rc[2], lz_sleepers, lz_blocker_done, lz_blocker_saw,
	lz_cancel;
static int (*lz_engine)(struct sf_rctx *c, int ask);
static int lw_done, lz_after_w[2]; /* lw.w ended; it had when each sleeper woke */
static size_t lz_timed, lb_timed; /* durations the run recorded for the step types */

static int lz_index(const struct sf_rctx *c)
{
	return c->address[strlen(c->address) - 1] == 'b';
}

static int lz_counting(struct sf_rctx *c, int ask)
{
	int need = lz_engine(c, ask);
	if (ask && !need) {
		pthread_mutex_lock(&lz_mu);
		lz_asks[lz_index(c)]++;
		pthread_cond_broadcast(&lz_cv);
		pthread_mutex_unlock(&lz_mu);
	}
	return need;
}

/* Wait (lz_mu held) until *flag is set, up to a guard of seconds: a case
 * whose step never comes fails on what it recorded, it does not hang. */
static int lz_await(const int *flag)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5; /* a guard, not a pause: it ends as soon as the flag is set */
	while (!*flag && pthread_cond_timedwait(&lz_cv, &lz_mu, &ts) == 0)
		;
	return *flag;
}

/* The sleeper's records, cleared before a case. */
static void lz_reset(void)
{
	memset(lz_woke, 0, sizeof lz_woke);
	memset(lz_asks, 0, sizeof lz_asks);
	memset(lz_rc, 0, sizeof lz_rc);
	lz_cancel = lz_blocker_done = 0;
}

static int lz_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	int i = lz_index(c);
	double slept = 0;
	pthread_mutex_lock(&lz_mu);
	if (c->needed) {
		lz_engine = c->needed;
		c->needed = lz_counting;
	}
	pthread_mutex_unlock(&lz_mu);
	int rc = ax_until_needed(c, "object", sf_mono() + 30, &slept);
	pthread_mutex_lock(&lz_mu);
	lz_rc[i] = rc;
	if (!rc) {
		lz_woke[i]++; /* its one read would come here */
		lz_after[i] = lz_blocker_done;
		lz_after_w[i] = lw_done;
	}
	pthread_cond_broadcast(&lz_cv);
	pthread_mutex_unlock(&lz_mu);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static int lb_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&lz_mu);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5; /* a guard, not a pause: it ends once the sleepers were told no */
	int ok = 0;
	if (lz_sleepers) {
		while (!(ok = lz_asks[0] >= 3 && (lz_sleepers < 2 || lz_asks[1] >= 3)) &&
		       pthread_cond_timedwait(&lz_cv, &lz_mu, &ts) == 0)
			;
		lz_blocker_saw = ok && !lz_woke[0] && !lz_woke[1];
	} else { /* the case expects no sleep: wait until the wait went on */
		while (!(ok = lz_woke[0] > 0) && pthread_cond_timedwait(&lz_cv, &lz_mu, &ts) == 0)
			;
		lz_blocker_saw = ok;
	}
	if (lz_cancel)
		*c->cancel = 1;
	lz_blocker_done = 1;
	pthread_mutex_unlock(&lz_mu);
	if (lz_cancel)
		return sf_fail(c->err, SF_EINTR, "%s: interrupted", c->address);
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

/* a step that usually takes minutes (a node group), noting that it ended */
static int lw_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&lz_mu);
	lw_done = 1;
	pthread_cond_broadcast(&lz_cv);
	pthread_mutex_unlock(&lz_mu);
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static const struct sf_rtype lz_t = {.name = "lz", .schema_version = 1, .attrs = fk_attrs, .create = lz_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const struct sf_rtype lb_t = {.name = "lb", .schema_version = 1, .attrs = fk_attrs, .create = lb_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const struct sf_rtype ld_t = {.name = "ld", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const struct sf_rtype lw_t = {.name = "lw", .schema_version = 1, .attrs = fk_attrs, .create = lw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own,
				     .typical = {.create = {150, 300}}};
/* a step that usually takes minutes (a node group) */
static const struct sf_rtype ls_t = {.name = "ls", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own,
				     .typical = {.create = {150, 300}}};

/* ---- which step a busy run starts first ----
 * `po` steps note the order they ran in; `pl` is one that usually takes
 * minutes to make and to delete (a node group). */
static char po_order[256];
static pthread_mutex_t po_mu = PTHREAD_MUTEX_INITIALIZER;

static void po_note(const char *address)
{
	pthread_mutex_lock(&po_mu);
	size_t n = strlen(po_order);
	snprintf(po_order + n, sizeof po_order - n, "%s%s", n ? " " : "", address);
	pthread_mutex_unlock(&po_mu);
}

static int po_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	po_note(c->address);
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static int po_destroy(struct sf_rctx *c, const json_t *prior)
{
	(void)prior;
	po_note(c->address);
	return 0;
}

static const struct sf_rtype po_t = {.name = "po", .schema_version = 1, .attrs = fk_attrs, .create = po_create,
				     .read = gw_read, .destroy = po_destroy, .own = &fk_own};
static const struct sf_rtype pl_t = {.name = "pl", .schema_version = 1, .attrs = fk_attrs, .create = po_create,
				     .read = gw_read, .destroy = po_destroy, .own = &fk_own,
				     .typical = {.create = {150, 300}, .delete = {240, 480}}};

/* One worker, four quick steps that could all start: the one a long step
 * waits for goes first, wherever its name sorts, then that long step;
 * the quick ones follow in their order.  On create po.z is made before
 * pl.n (which needs it); on destroy po.y, made after pl.n, is deleted
 * before it (a Service before its node group). */
T_TEST(apply_starts_first_the_step_the_longest_chain_waits_for)
{
	static const struct sf_rtype *const types[] = {&pl_t, &po_t}; /* by name */
	struct sf_registry reg = {types, 2};
	struct sf_state *st = fresh_state("longest");
	for (int destroy = 0; destroy <= 1; destroy++) {
		struct sf_config cfg = SF_CONFIG_INIT;
		cfg.workspace = xstrdup("ws");
		gw_add(&cfg, &po_t, "a", NULL, NULL);
		gw_add(&cfg, &po_t, "b", NULL, NULL);
		gw_add(&cfg, &po_t, "c", NULL, NULL);
		gw_add(&cfg, &po_t, "z", NULL, NULL);
		gw_add(&cfg, &pl_t, "n", "po.z", NULL);
		gw_add(&cfg, &po_t, "y", "pl.n", NULL);
		struct sf_plan plan;
		struct sf_err err = SF_ERR_INIT;
		struct sf_plan_opts po = {.refresh = 1, .destroy = destroy, .types = &reg};
		int rc = sf_plan_make(&plan, &cfg, st, &po, &err);
		if (rc < 0)
			T_FAILF("plan: %s", err.msg);
		volatile int cancel = 0;
		struct sf_apply_opts ao = {.parallelism = 1, .cancel = &cancel, .progress_interval = 60};
		struct sf_apply_result res;
		memset(&res, 0, sizeof res);
		po_order[0] = 0;
		if (rc == 0)
			T_EQ(sf_apply(&plan, &cfg, st, &ao, &res, &err), 0);
		T_STREQ(po_order, destroy ? "po.y pl.n po.a po.b po.c po.z" : "po.z pl.n po.a po.b po.c po.y");
		sf_plan_release(&plan);
		sf_config_release(&cfg);
	}
	sf_state_close(st);
}

/* shape: 1 lz.a -> ld.d <- lb.y; 2 lz.a, lz.b -> ld.d <- lb.y (two NAT
 * gateways feeding one node group that also waits for the cluster);
 * 3 lz.a alone, lb.y beside it; 4 lz.a -> ls.s -> ld.d, lb.y beside them
 * (a NAT gateway, the node group it alone holds up, what follows it);
 * 6 lz.a alone, lz.b -> lw.w <- lb.y (an add-on only the run's end
 * waits for, a NAT gateway whose node group also waits for the cluster).
 * Returns apply's code, *secs its time. */
static int lz_run(const char *name, int shape, int cancel_mode, double *secs)
{
	static const struct sf_rtype *const types[] = {&lb_t, &ld_t, &ls_t, &lw_t, &lz_t}; /* by name */
	struct sf_registry reg = {types, 5};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	memset(lz_asks, 0, sizeof lz_asks);
	memset(lz_woke, 0, sizeof lz_woke);
	memset(lz_after, 0, sizeof lz_after);
	memset(lz_rc, 0, sizeof lz_rc);
	lz_blocker_done = lz_blocker_saw = 0;
	memset(lz_after_w, 0, sizeof lz_after_w);
	lw_done = 0;
	lz_sleepers = shape == 2 || shape == 6 ? 2 : shape == 4 ? 0 : 1;
	lz_cancel = cancel_mode;
	gw_add(&cfg, &lz_t, "a", NULL, NULL);
	if (shape == 2 || shape == 6)
		gw_add(&cfg, &lz_t, "b", NULL, NULL);
	gw_add(&cfg, &lb_t, "y", NULL, NULL);
	if (shape == 6) {
		json_t *a = json_pack("{s:s}", "v", "x");
		struct sf_rinst *w = sf_config_add(&cfg, &lw_t, "w", a, NULL);
		json_decref(a);
		sf_rinst_add_dep(w, "lz.b");
		sf_rinst_add_dep(w, "lb.y");
	} else if (shape == 4) {
		gw_add(&cfg, &ls_t, "s", "lz.a", NULL);
		gw_add(&cfg, &ld_t, "d", "ls.s", NULL);
	} else if (shape != 3) {
		json_t *a = json_pack("{s:s}", "v", "x");
		struct sf_rinst *d = sf_config_add(&cfg, &ld_t, "d", a, NULL);
		json_decref(a);
		sf_rinst_add_dep(d, "lz.a");
		sf_rinst_add_dep(d, "lb.y");
		if (shape == 2)
			sf_rinst_add_dep(d, "lz.b");
	}
	struct sf_state *st = fresh_state(name);
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = 1, .types = &reg};
	int rc = sf_plan_make(&plan, &cfg, st, &po, &err);
	if (rc < 0)
		T_FAILF("plan: %s", err.msg);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 4, .cancel = &cancel, .progress_interval = 60};
	struct sf_apply_result res;
	memset(&res, 0, sizeof res);
	double t0 = sf_mono();
	if (rc == 0)
		rc = sf_apply(&plan, &cfg, st, &ao, &res, &err);
	*secs = sf_mono() - t0;
	double lo = 0, hi = 0;
	struct sf_err te = SF_ERR_INIT;
	lz_timed = lb_timed = 0;
	sf_state_timing_typical(st, "lz", "create", &lo, &hi, &lz_timed, &te);
	sf_state_timing_typical(st, "lb", "create", &lo, &hi, &lb_timed, &te);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	sf_state_close(st);
	return rc;
}

/* A final wait whose only dependent also waits for a running blocker sleeps
 * (asked again and again, no read) until the blocker ends, then reads once. */
T_TEST(apply_final_wait_sleeps_while_its_dependent_waits_for_another)
{
	double secs = 0;
	T_EQ(lz_run("lazy1", 1, 0, &secs), 0);
	T_EQ(lz_blocker_saw, 1); /* told "not needed" three times, not woken */
	T_EQ(lz_woke[0], 1);
	T_EQ(lz_after[0], 1); /* woke only once the blocker ended */
	/* the sleeper's time is not AWS's: no duration recorded for it */
	T_EQ(lz_timed, 0);
	T_EQ(lb_timed, 1);
}

/* Two sleepers feeding one dependent (two NAT gateways, one node group):
 * each holds the other up only while it polls; asleep together, with the
 * blocker gone, nothing is at work, so both wake: no deadlock. */
T_TEST(apply_two_final_waits_feeding_one_dependent_both_wake)
{
	double secs = 0;
	T_EQ(lz_run("lazy2", 2, 0, &secs), 0);
	T_EQ(lz_blocker_saw, 1);
	T_EQ(lz_woke[0], 1);
	T_EQ(lz_woke[1], 1);
	T_OK(lz_after[0] && lz_after[1]);
}

/* A sleeper nothing waits for (an add-on only the run's end needs) sleeps
 * while anything else runs: the run cannot end before it anyway. */
T_TEST(apply_final_wait_of_a_sink_sleeps_while_another_node_runs)
{
	double secs = 0;
	T_EQ(lz_run("lazy3", 3, 0, &secs), 0);
	T_EQ(lz_blocker_saw, 1);
	T_EQ(lz_woke[0], 1);
	T_EQ(lz_after[0], 1);
}

/* An add-on only the run's end waits for (lz.a) and a NAT gateway (lz.b)
 * whose node group (lw.w) also waits for the cluster (lb.y) sleep while the
 * cluster runs.  When it ends nothing is at work, and both ask at the same
 * instant: the NAT gateway wakes (its node group can go on), and the add-on
 * sleeps on until the node group has ended, whichever asked first, since
 * the run goes on after the woken NAT gateway. */
T_TEST(apply_sink_sleeps_on_while_a_woken_final_wait_feeds_a_long_step)
{
	double secs = 0;
	T_EQ(lz_run("lazy6", 6, 0, &secs), 0);
	T_EQ(lz_blocker_saw, 1);
	T_EQ(lz_woke[1], 1);
	T_EQ(lz_after_w[1], 0); /* the NAT gateway woke before its node group ran */
	T_EQ(lz_woke[0], 1);
	T_EQ(lz_after_w[0], 1); /* the add-on only once that had ended */
}

/* Plan and apply cfg (released here) on a fresh state with --parallelism 2:
 * apply's code. */
static int two_workers(struct sf_config *cfg, const struct sf_registry *reg, const char *name)
{
	struct sf_state *st = fresh_state(name);
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = 1, .types = reg};
	int rc = sf_plan_make(&plan, cfg, st, &po, &err);
	if (rc < 0) {
		T_FAILF("plan: %s", err.msg);
		sf_config_release(cfg);
		sf_state_close(st);
		return rc;
	}
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 2, .cancel = &cancel, .progress_interval = 60};
	struct sf_apply_result res;
	memset(&res, 0, sizeof res);
	rc = sf_apply(&plan, cfg, st, &ao, &res, &err);
	sf_plan_release(&plan);
	sf_config_release(cfg);
	sf_state_close(st);
	return rc;
}

/* With --parallelism 2, lz.a (a sink) sleeps beside ua.first; then
 * ua.first's create is accepted (records its id) and waits for ua.dep,
 * which needs only that.  Both workers are taken, one by the sleeper, but a
 * slot is free: ua.dep must start on a worker started for it, not wait for
 * ua.first's end (a guard of seconds: the case then fails). */
static int ua_dep_started, ua_saw_dep;

static int ua_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&lz_mu);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5; /* guards, not pauses: each ends as soon as what it waits for happened */
	if (!strcmp(c->address, "ua.dep")) {
		ua_dep_started = 1;
		pthread_cond_broadcast(&lz_cv);
	} else {
		while (!lz_asks[0] && pthread_cond_timedwait(&lz_cv, &lz_mu, &ts) == 0)
			; /* the sleeper is asleep */
		pthread_mutex_unlock(&lz_mu);
		if (c->record_id)
			c->record_id(c, c->address);
		pthread_mutex_lock(&lz_mu);
		while (!ua_dep_started && pthread_cond_timedwait(&lz_cv, &lz_mu, &ts) == 0)
			;
		ua_saw_dep = ua_dep_started;
	}
	pthread_mutex_unlock(&lz_mu);
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static const struct sf_rtype ua_t = {.name = "ua", .schema_version = 1, .attrs = fk_attrs, .create = ua_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};

T_TEST(apply_a_step_accepted_beside_a_sleeper_gets_a_worker)
{
	static const struct sf_rtype *const types[] = {&ua_t, &lz_t}; /* by name */
	struct sf_registry reg = {types, 2};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	lz_reset();
	ua_dep_started = ua_saw_dep = 0;
	gw_add(&cfg, &lz_t, "a", NULL, NULL);
	gw_add(&cfg, &ua_t, "first", NULL, NULL);
	json_t *a = json_pack("{s:s}", "v", "x");
	struct sf_rinst *dep = sf_config_add(&cfg, &ua_t, "dep", a, NULL);
	json_decref(a);
	sf_rinst_add_accept_dep(dep, "ua.first");
	T_EQ(two_workers(&cfg, &reg, "lazyaccept"), 0);
	T_OK(lz_asks[0] > 0); /* lz.a slept */
	T_EQ(ua_saw_dep, 1);  /* ua.dep started while ua.first ran */
	T_EQ(lz_woke[0], 1);
}

/* A final wait whose dependent takes minutes (a node group waiting only for
 * the NAT gateway's route) is needed at once, even while something else
 * runs that the run's end waits for: starting the node group late would
 * make the run end late. */
T_TEST(apply_final_wait_feeding_a_long_step_does_not_sleep)
{
	double secs = 0;
	T_EQ(lz_run("lazy5", 4, 0, &secs), 0);
	T_EQ(lz_blocker_saw, 1); /* it went on while the blocker ran */
	T_EQ(lz_asks[0], 0);
	T_EQ(lz_woke[0], 1);
}

/* Ctrl-C while asleep: the sleep ends at once with SF_EINTR, no read. */
T_TEST(apply_cancel_ends_a_sleep_until_needed_promptly)
{
	double secs = 0;
	T_EQ(lz_run("lazy4", 1, 1, &secs), SF_EINTR);
	T_EQ(lz_blocker_saw, 1);
	T_EQ(lz_woke[0], 0);
	T_EQ(lz_rc[0], SF_EINTR);
	T_OK(secs < 3);
}

/* A sleeper makes no calls, so it does not count against --parallelism.
 * With 2, lz.a (a sink, asleep while anything else runs) and mq.q take
 * both workers; mr.r, ready and waiting for neither, must still start:
 * mq.q runs until it has (a guard of seconds: the case then fails), so
 * were mr.r left waiting for the sleeper's worker, the two would hold each
 * other until the guard.  Nor may the sleeper wake to free its worker
 * (polling for nothing): it is still asleep when mr.r starts. */
static int mr_started, mq_saw, mr_saw_sleeper;

static int mr_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&lz_mu);
	mr_started = 1;
	mr_saw_sleeper = lz_asks[0] > 0 && !lz_woke[0];
	pthread_cond_broadcast(&lz_cv);
	pthread_mutex_unlock(&lz_mu);
	*out = json_deep_copy(want);
	json_object_set_new(*out, "id", json_string(c->address));
	return 0;
}

static int mq_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&lz_mu);
	mq_saw = lz_await(&mr_started);
	pthread_mutex_unlock(&lz_mu);
	return gw_create(c, want, out);
}

static const struct sf_rtype mq_t = {.name = "mq", .schema_version = 1, .attrs = fk_attrs, .create = mq_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};
static const struct sf_rtype mr_t = {.name = "mr", .schema_version = 1, .attrs = fk_attrs, .create = mr_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};

T_TEST(apply_a_sleeping_final_wait_leaves_its_slot_to_a_ready_step)
{
	static const struct sf_rtype *const types[] = {&lz_t, &mq_t, &mr_t}; /* by name */
	struct sf_registry reg = {types, 3};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	lz_reset();
	mr_started = mq_saw = mr_saw_sleeper = 0;
	gw_add(&cfg, &lz_t, "a", NULL, NULL); /* the first two in order (by address) */
	gw_add(&cfg, &mq_t, "q", NULL, NULL);
	gw_add(&cfg, &mr_t, "r", NULL, NULL);
	/* the rule's turns are traced at debug level */
	char *log = xasprintf("%s/lazyslot.log", t_tmpdir());
	setenv("SECFAAS_LOG", "debug", 1);
	setenv("SECFAAS_LOG_PATH", log, 1);
	sf_log_init();
	T_EQ(two_workers(&cfg, &reg, "lazyslot"), 0);
	unsetenv("SECFAAS_LOG");
	unsetenv("SECFAAS_LOG_PATH");
	sf_log_init();
	T_EQ(lz_woke[0], 1);
	T_EQ(mq_saw, 1);         /* mr.r started while mq.q still ran */
	T_EQ(mr_saw_sleeper, 1); /* and while lz.a slept */
	char *trace = NULL;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_read_file(&trace, NULL, log, 1 << 20, &e), 0);
	if (trace) {
		T_CONTAINS(trace, "apply: lz.a sleeps: all that waits for its end is held up by slower steps");
		T_CONTAINS(trace, "apply: lz.a wakes");
	}
	free(trace);
	free(log);
}

/* The same, with the order forced: lz.a falls asleep while the other
 * worker runs gt.g, so no thread is started then (nothing else could
 * start); when gt.g ends, mq.q and mr.r become ready together and that
 * worker takes one of them.  The other must get a thread of its own then,
 * since the sleeper leaves its slot free: were it left for the next step
 * to end, mq.q would wait for it until the guard. */
static int gt_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	pthread_mutex_lock(&lz_mu);
	lz_await(&lz_asks[0]); /* until lz.a was told it is not needed */
	pthread_mutex_unlock(&lz_mu);
	return gw_create(c, want, out);
}

static const struct sf_rtype gt_t = {.name = "gt", .schema_version = 1, .attrs = fk_attrs, .create = gt_create,
				     .read = gw_read, .destroy = gw_destroy, .own = &fk_own};

T_TEST(apply_steps_ready_together_beside_a_sleeper_each_get_a_worker)
{
	static const struct sf_rtype *const types[] = {&gt_t, &lz_t, &mq_t, &mr_t}; /* by name */
	struct sf_registry reg = {types, 4};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	lz_reset();
	mr_started = mq_saw = mr_saw_sleeper = 0;
	gw_add(&cfg, &gt_t, "g", NULL, NULL);
	gw_add(&cfg, &lz_t, "a", NULL, NULL);
	gw_add(&cfg, &mq_t, "q", "gt.g", NULL);
	gw_add(&cfg, &mr_t, "r", "gt.g", NULL);
	T_EQ(two_workers(&cfg, &reg, "lazyslot2"), 0);
	T_OK(lz_asks[0] > 0);    /* lz.a slept */
	T_EQ(lz_woke[0], 1);
	T_EQ(mq_saw, 1);         /* mr.r started while mq.q still ran */
	T_EQ(mr_saw_sleeper, 1); /* and while lz.a slept */
}

/* Deletes that go together (delete_batch): a run starts them side by side
 * once all can start, and hands each the priors of those it has not
 * finished.  bd.z's delete waits for bs.s's (bs.s uses it); bd.a and bd.b
 * could go at once, but wait for bd.z, so no bd delete goes before bs.s.  A
 * peer that waits for another (bd.y after bd.x) does not hold it, and one
 * whose dependency failed is skipped without holding the rest. */
static char bd_log[256];
static int bd_calls, bd_first, bd_fail, bd_started, bd_early;
static pthread_mutex_t bd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bd_cv = PTHREAD_COND_INITIALIZER;
static int bd_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	(void)c;
	(void)priors;
	pthread_mutex_lock(&bd_mu);
	if (!bd_calls++)
		bd_first = (int)n;
	pthread_mutex_unlock(&bd_mu);
	return 0;
}
static int bd_destroy(struct sf_rctx *c, const json_t *prior)
{
	(void)prior;
	int fail = bd_fail && !strcmp(c->address, "bs.s");
	pthread_mutex_lock(&bd_mu);
	if (!strncmp(c->address, "bd.", 3)) {
		bd_started++;
		pthread_cond_broadcast(&bd_cv);
	} else if (!bd_fail) {
		/* a bd delete started while this one runs would be early: give
		 * one that is not held back the time to show up (it does at once) */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 300000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!bd_started && pthread_cond_timedwait(&bd_cv, &bd_mu, &until) == 0)
			;
		bd_early += bd_started;
	}
	if (!fail)
		snprintf(bd_log + strlen(bd_log), sizeof bd_log - strlen(bd_log), "%s ", c->address);
	pthread_mutex_unlock(&bd_mu);
	return fail ? sf_fail(c->err, SF_EPROTO, "%s: refused", c->address) : 0;
}
static const struct sf_rtype bd_t = {.name = "bd", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = bd_destroy, .delete_batch = bd_batch, .own = &fk_own};
static const struct sf_rtype bs_t = {.name = "bs", .schema_version = 1, .attrs = fk_attrs, .create = gw_create,
				     .read = gw_read, .destroy = bd_destroy, .own = &fk_own};

static int bd_run(struct sf_state *st, int chain, int destroy, struct sf_apply_result *res)
{
	static const struct sf_rtype *const types[] = {&bd_t, &bs_t};
	struct sf_registry reg = {types, 2};
	struct sf_config cfg = SF_CONFIG_INIT;
	cfg.workspace = xstrdup("ws");
	if (chain) {
		gw_add(&cfg, &bd_t, "y", NULL, NULL);
		gw_add(&cfg, &bd_t, "x", "bd.y", NULL); /* x's delete comes first, y's waits for it */
	} else {
		gw_add(&cfg, &bd_t, "a", NULL, NULL);
		gw_add(&cfg, &bd_t, "b", NULL, NULL);
		gw_add(&cfg, &bd_t, "z", NULL, NULL);
		gw_add(&cfg, &bs_t, "s", "bd.z", NULL); /* s's delete comes before z's */
	}
	struct sf_plan plan;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan_opts po = {.refresh = !destroy, .destroy = destroy, .types = &reg};
	int rc = sf_plan_make(&plan, &cfg, st, &po, &err);
	volatile int cancel = 0;
	struct sf_apply_opts ao = {.parallelism = 4, .cancel = &cancel, .progress_interval = 60};
	memset(res, 0, sizeof *res);
	bd_log[0] = 0;
	bd_calls = bd_first = bd_started = bd_early = 0;
	if (rc == 0)
		rc = sf_apply(&plan, &cfg, st, &ao, res, &err);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	return rc;
}

T_TEST(apply_starts_deletes_that_go_together_side_by_side)
{
	struct sf_apply_result res;
	bd_fail = 0;
	struct sf_state *st = fresh_state("together");
	T_EQ(bd_run(st, 0, 0, &res), 0);
	T_EQ(res.added, 4);
	T_EQ(bd_run(st, 0, 1, &res), 0);
	T_EQ(res.destroyed, 4);
	T_OK(!strncmp(bd_log, "bs.s ", 5)); /* no bd delete before the one bd.z waits for */
	T_EQ(bd_early, 0);                   /* nor beside it */
	T_EQ(bd_calls, 3);
	T_EQ(bd_first, 3); /* the first to start saw all three */
	sf_state_close(st);

	st = fresh_state("together-chain");
	T_EQ(bd_run(st, 1, 0, &res), 0);
	T_EQ(bd_run(st, 1, 1, &res), 0); /* bd.y waits for bd.x: no deadlock */
	T_EQ(res.destroyed, 2);
	T_STREQ(bd_log, "bd.x bd.y ");
	sf_state_close(st);

	st = fresh_state("together-fail");
	T_EQ(bd_run(st, 0, 0, &res), 0);
	bd_fail = 1;
	T_OK(bd_run(st, 0, 1, &res) < 0); /* bs.s refused: bd.z skipped, bd.a and bd.b still go */
	T_EQ(res.destroyed, 2);
	T_EQ(res.skipped, 1);
	T_OK(strstr(bd_log, "bd.a ") && strstr(bd_log, "bd.b ") && !strstr(bd_log, "bd.z"));
	bd_fail = 0;
	sf_state_close(st);
}
