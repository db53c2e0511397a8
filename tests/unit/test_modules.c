/* test_modules.c - module expansion: good calls, every bad input, cycles,
 * positions, nesting, relative paths, and modules from git at a pinned ref. */
#include "t.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/gitsrc.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/kinds/modules.h"
#include "util.h"

static char *path_in(const char *rel)
{
	return xasprintf("%s/%s", t_tmpdir(), rel);
}

static void put(const char *rel, const char *text)
{
	char *p = path_in(rel);
	char *dir = xstrdup(p);
	*strrchr(dir, '/') = 0;
	struct sf_err err = SF_ERR_INIT;
	T_OK(sf_mkdir_p(dir, 0755, &err) == 0);
	T_OK(sf_write_file_atomic(p, text, strlen(text), 0644, &err) == 0);
	free(dir);
	free(p);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = xvasprintf(fmt, ap);
	va_end(ap);
	char *full = xasprintf("set -e; exec >/dev/null 2>&1; %s", cmd);
	int rc = system(full);
	if (rc)
		fprintf(stderr, "  command failed: %s\n", cmd);
	free(full);
	free(cmd);
	return rc;
}

struct run {
	struct sf_specset set;
	struct sf_diags d;
	int rc;        /* sf_modules_expand */
	size_t kerr;   /* kind validation errors after a good expansion */
	char *text;    /* every diagnostic as "file:line:col: msg\n" with the tmp dir cut */
};

static void collect(struct run *r)
{
	struct sf_buf b = SF_BUF_INIT;
	size_t tl = strlen(t_tmpdir());
	for (size_t i = 0; i < r->d.n; i++) {
		const struct sf_diag *g = &r->d.v[i];
		const char *f = g->pos.file ? g->pos.file : "";
		const char *hit = strstr(f, t_tmpdir());
		if (hit)
			sf_buf_printf(&b, "%.*s%s", (int)(hit - f), f, hit + tl + 1);
		else
			sf_buf_puts(&b, f);
		sf_buf_printf(&b, ":%d:%d: %s\n", g->pos.line, g->pos.col, g->msg);
	}
	free(r->text);
	r->text = sf_buf_detach(&b);
}

/* Load spec file rel (written with put), expand, and kind-validate. */
static void expand_file(struct run *r, const char *rel, const struct sf_module_opts *o)
{
	memset(r, 0, sizeof *r);
	char *p = path_in(rel);
	T_EQ(sf_spec_load_path(&r->set, p, &r->d), 0);
	struct sf_module_opts dflt = SF_MODULE_OPTS_INIT;
	char *sp = xasprintf("%s/modules:%s/mods", t_srcdir(), t_tmpdir());
	char *cache = path_in("gitcache");
	if (!o) {
		dflt.search_path = sp;
		dflt.git_cache_dir = cache;
		o = &dflt;
	}
	r->rc = sf_modules_expand(&r->set, o, &r->d);
	if (r->rc == 0) {
		size_t before = r->d.nerrors;
		for (size_t i = 0; i < r->set.n; i++)
			sf_kind_validate(&r->set.docs[i], &r->d);
		r->kerr = r->d.nerrors - before;
	}
	collect(r);
	free(cache);
	free(sp);
	free(p);
}

static void run_release(struct run *r)
{
	sf_specset_release(&r->set);
	sf_diags_release(&r->d);
	free(r->text);
}

/* Node at a slash path: "spec/nodeGroups/1/scaling/max". */
static const struct sf_node *at(const struct sf_node *n, const char *path)
{
	char *copy = xstrdup(path), *save = NULL;
	for (char *t = strtok_r(copy, "/", &save); t && n; t = strtok_r(NULL, "/", &save)) {
		if (n->type == SF_N_SEQ) {
			char *end;
			unsigned long i = strtoul(t, &end, 10);
			n = *end || i >= n->n ? NULL : n->vals[i];
		} else {
			n = sf_node_get(n, t);
		}
	}
	free(copy);
	return n;
}

static const char *S(const struct sf_node *root, const char *path)
{
	return sf_node_str(at(root, path));
}

static const char CLUSTER_GOOD[] =
	"apiVersion: secfaas.dev/v1alpha1\n"                         /* 1 */
	"kind: Cluster\n"                                             /* 2 */
	"metadata: {name: fn-mod, region: eu-west-1}\n"               /* 3 */
	"spec:\n"                                                     /* 4 */
	"  kubernetesVersion: \"1.31\"\n"                             /* 5 */
	"  network:\n"                                                /* 6 */
	"    module: vpc-3az\n"                                       /* 7 */
	"    inputs: {cidr: 10.50.0.0/16}\n"                          /* 8 */
	"  gvisor: {release: \"20260817.0\"}\n"                       /* 9 */
	"  nodeGroups:\n"                                             /* 10 */
	"    - name: system\n"                                        /* 11 */
	"      instanceTypes: [m6i.large]\n"                          /* 12 */
	"      scaling: {min: 2, max: 4}\n"                           /* 13 */
	"    - module: gvisor-node-group@1\n"                         /* 14 */
	"      inputs:\n"                                             /* 15 */
	"        name: sbx\n"                                         /* 16 */
	"        max: 5\n"                                            /* 17 */
	"        instanceTypes: [m6i.2xlarge, m7i.2xlarge]\n"         /* 18 */
	"  openfaas:\n"                                               /* 19 */
	"    module: openfaas\n"                                      /* 20 */
	"    inputs: {acceptLicense: true}\n";                        /* 21 */

T_TEST(modules_shipped_expand_and_validate)
{
	put("good/cluster.yaml", CLUSTER_GOOD);
	struct run r;
	expand_file(&r, "good/cluster.yaml", NULL);
	T_EQ(r.rc, 0);
	T_EQ(r.d.n, 0);
	T_EQ(r.kerr, 0);
	if (r.d.n)
		fprintf(stderr, "%s", r.text);
	T_EQ(r.set.n, 1);
	const struct sf_node *root = r.set.docs[0].root;
	T_STREQ(S(root, "spec/network/cidr"), "10.50.0.0/16");
	T_STREQ(S(root, "spec/network/endpointAccess"), "public");
	T_STREQ(S(root, "spec/network/availabilityZones"), "3");
	T_OK(at(root, "spec/network/publicAccessCidrs") == NULL); /* optional, no value: dropped */
	T_OK(at(root, "spec/network/module") == NULL);
	T_STREQ(S(root, "spec/nodeGroups/1/name"), "sbx");
	T_STREQ(S(root, "spec/nodeGroups/1/runtime"), "gvisor");
	T_STREQ(S(root, "spec/nodeGroups/1/scaling/max"), "5");
	T_STREQ(S(root, "spec/nodeGroups/1/scaling/min"), "1");
	T_STREQ(S(root, "spec/nodeGroups/1/instanceTypes/1"), "m7i.2xlarge");
	const struct sf_node *labels = at(root, "spec/nodeGroups/1/labels");
	T_STREQ(sf_node_str(sf_node_get(labels, "secfaas.dev/sandbox")), "gvisor");
	T_STREQ(S(root, "spec/nodeGroups/1/taints/0/effect"), "NoSchedule");
	T_OK(at(root, "spec/nodeGroups/1/ami") == NULL);
	/* Integer inputs keep their type through a whole-string reference. */
	T_EQ(at(root, "spec/nodeGroups/1/diskSize")->quoted, 0);
	T_STREQ(S(root, "spec/openfaas/acceptLicense"), "true");
	T_STREQ(S(root, "spec/openfaas/gatewayService"), "NodePort");

	/* Template nodes carry the call site; caller values keep their own. */
	T_EQ(at(root, "spec/nodeGroups/1/runtime")->pos.line, 14);
	T_EQ(at(root, "spec/nodeGroups/1/scaling/min")->pos.line, 14);
	T_EQ(at(root, "spec/nodeGroups/1/name")->pos.line, 16);
	T_EQ(at(root, "spec/nodeGroups/1/name")->pos.col, 15);
	T_EQ(at(root, "spec/nodeGroups/1/scaling/max")->pos.line, 17);
	T_EQ(at(root, "spec/network/availabilityZones")->pos.line, 7);
	T_EQ(at(root, "spec/network/cidr")->pos.line, 8);

	/* Module files join the set's files (and so the spec digest). */
	int seen = 0;
	for (size_t i = 0; i < r.set.nfiles; i++)
		if (strstr(r.set.files[i], "modules/gvisor-node-group.yaml"))
			seen = 1;
	T_OK(seen);
	run_release(&r);
}

static void expect_error(const char *name, const char *spec_body, const char *want)
{
	char *rel = xasprintf("bad/%s.yaml", name);
	char *text = xasprintf("apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\nspec:\n%s",
			       spec_body);
	put(rel, text);
	struct run r;
	expand_file(&r, rel, NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, want);
	run_release(&r);
	free(text);
	free(rel);
}

T_TEST(modules_bad_inputs_point_at_caller)
{
	/* Unknown input, with a suggestion, at the caller's key (line 7 col 9). */
	expect_error("unknown",
		     "  nodeGroups:\n"
		     "    - module: gvisor-node-group\n"
		     "      inputs:\n"
		     "        nmae: sbx\n",
		     "bad/unknown.yaml:8:9: module gvisor-node-group has no input \"nmae\"; did you mean \"name\"?");
	/* Wrong type at the caller's value. */
	expect_error("type",
		     "  nodeGroups:\n"
		     "    - module: gvisor-node-group\n"
		     "      inputs:\n"
		     "        max: five\n",
		     "bad/type.yaml:8:14: module gvisor-node-group: input \"max\" must be an integer, not a string");
	expect_error("type2",
		     "  nodeGroups:\n"
		     "    - module: gvisor-node-group\n"
		     "      inputs: {instanceTypes: m6i.large}\n",
		     "bad/type2.yaml:7:31: module gvisor-node-group: input \"instanceTypes\" must be a list, not a string");
	expect_error("type3",
		     "  openfaas:\n"
		     "    module: openfaas\n"
		     "    inputs: {acceptLicense: \"true\"}\n",
		     "input \"acceptLicense\" must be a boolean, not a string");
	/* Missing required input: at the inputs key, or the module key. */
	expect_error("missing",
		     "  openfaas:\n"
		     "    module: openfaas\n"
		     "    inputs: {gatewayService: LoadBalancer}\n",
		     "bad/missing.yaml:7:5: module openfaas: missing required input \"acceptLicense\" (boolean: "
		     "acknowledge the OpenFaaS CE EULA)");
	expect_error("missing2",
		     "  network:\n"
		     "    module: vpc-3az\n",
		     "bad/missing2.yaml:6:13: module vpc-3az: missing required input \"cidr\"");
	/* Not found, bad version, malformed call. */
	expect_error("notfound", "  network: {module: vpc-9az}\n",
		     "bad/notfound.yaml:5:21: module \"vpc-9az\" not found (searched");
	expect_error("version", "  network: {module: vpc-3az@7, inputs: {cidr: 10.0.0.0/16}}\n",
		     "module \"vpc-3az\": version 7 requested, but the module found is version 1");
	expect_error("extra", "  network: {module: vpc-3az, inputs: {cidr: 10.0.0.0/16}, cidr: x}\n",
		     "unknown key \"cidr\" in a module call");
	expect_error("inputs-list", "  network: {module: vpc-3az, inputs: [a]}\n",
		     "module vpc-3az: inputs must be a map of input names to values, not a list");
	expect_error("badname", "  network: {module: \"Vpc 3az\"}\n", "not a module name");
	expect_error("badgit", "  network: {module: \"git+file:///nowhere/repo//x.yaml\"}\n",
		     "pinned to a ref");
}

T_TEST(modules_schema_errors_in_expansion_point_at_call_site)
{
	/* A caller value the kind schema rejects: the error is at the value. */
	put("schema/caller.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
				  "spec:\n"
				  "  kubernetesVersion: \"1.31\"\n"
				  "  network: {module: vpc-3az, inputs: {cidr: 10.0.0.0/16}}\n"
				  "  gvisor: {release: \"20250113.0\"}\n"
				  "  nodeGroups:\n"
				  "    - module: gvisor-node-group\n"
				  "      inputs:\n"
				  "        name: Bad_Name\n");
	struct run r;
	expand_file(&r, "schema/caller.yaml", NULL);
	T_EQ(r.rc, 0);
	T_OK(r.kerr >= 1);
	T_CONTAINS(r.text, "schema/caller.yaml:11:15: ");
	run_release(&r);

	/* A module template field the kind rejects: the error is at the call. */
	put("mods/broken-ng.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: broken-ng}\n"
				   "spec:\n"
				   "  template:\n"
				   "    name: broken\n"
				   "    instanceTypes: [m6i.large]\n"
				   "    scaling: {min: 1, max: 2}\n"
				   "    colour: blue\n");
	put("schema/tmpl.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
				"spec:\n"
				"  kubernetesVersion: \"1.31\"\n"
				"  network: {module: vpc-3az, inputs: {cidr: 10.0.0.0/16}}\n"
				"  nodeGroups:\n"
				"    - module: broken-ng\n");
	expand_file(&r, "schema/tmpl.yaml", NULL);
	T_EQ(r.rc, 0);
	T_EQ(r.kerr, 1);
	T_CONTAINS(r.text, "schema/tmpl.yaml:8:7: spec.nodeGroups[0]: unknown field \"colour\"");
	run_release(&r);
}

T_TEST(modules_definition_errors)
{
	put("mods/def-bad.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: def-bad}\n"
				 "spec:\n"
				 "  inputs:\n"
				 "    size: {type: integer, default: big}\n"
				 "    mode: {type: text}\n"
				 "  template:\n"
				 "    size: ${input.sise}\n");
	put("defs/use.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
			     "spec:\n  network: {module: def-bad}\n");
	struct run r;
	expand_file(&r, "defs/use.yaml", NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "mods/def-bad.yaml:7:18: spec.inputs.mode.type: \"text\" is not one of");
	run_release(&r);

	put("mods/def-bad2.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: def-bad2}\n"
				  "spec:\n"
				  "  inputs:\n"
				  "    size: {type: integer, default: big}\n"
				  "  template:\n"
				  "    size: ${input.sise}\n");
	put("defs/use2.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
			      "spec:\n  network: {module: def-bad2}\n");
	expand_file(&r, "defs/use2.yaml", NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "mods/def-bad2.yaml:6:36: module def-bad2: default of input \"size\" must be an integer, "
			   "not a string");
	T_CONTAINS(r.text, "mods/def-bad2.yaml:8:11: module def-bad2: template refers to undeclared input \"sise\"; "
			   "did you mean \"size\"?");
	run_release(&r);

	put("mods/named-wrong.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: other}\n"
				     "spec: {template: 1}\n");
	put("defs/use3.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
			      "spec:\n  network: {module: named-wrong}\n");
	expand_file(&r, "defs/use3.yaml", NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "defines metadata.name \"other\"");
	run_release(&r);
}

T_TEST(modules_cycles_nesting_relative_inline)
{
	/* a -> b -> a */
	put("mods/cyc-a.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: cyc-a}\n"
			       "spec:\n  template:\n    inner: {module: cyc-b}\n");
	put("mods/cyc-b.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: cyc-b}\n"
			       "spec:\n  template:\n    - module: cyc-a\n");
	put("cyc/use.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
			    "spec:\n  network: {module: cyc-a}\n");
	struct run r;
	expand_file(&r, "cyc/use.yaml", NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "mods/cyc-b.yaml:6:15: module cycle: cyc-a -> cyc-b -> cyc-a");
	run_release(&r);

	/* Self-call through a relative path. */
	put("cyc/self.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: self}\n"
			     "spec:\n  template: {module: ./self.yaml}\n");
	put("cyc/use-self.yaml", "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
				 "spec:\n  network: {module: ./self.yaml}\n");
	expand_file(&r, "cyc/use-self.yaml", NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "module cycle: self -> self");
	run_release(&r);

	/* Nesting: a wrapper (relative path, beside the spec) passes its inputs
	 * into gvisor-node-group; an inline Module document in the same set
	 * builds the network; "$${" stays literal; interpolation in strings. */
	put("nest/mods/spot-ng.yaml",
	    "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: spot-ng}\n"
	    "spec:\n"
	    "  inputs:\n"
	    "    team: {type: string, required: true}\n"
	    "    max: {type: integer, default: 3}\n"
	    "  template:\n"
	    "    module: gvisor-node-group\n"
	    "    inputs:\n"
	    "      name: \"${input.team}-spot\"\n"
	    "      capacityType: SPOT\n"
	    "      max: ${input.max}\n"
	    "      instanceType: [m6i.large]\n");
	put("nest/cluster.yaml",
	    "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: net}\n"
	    "spec:\n"
	    "  inputs: {octet: {type: integer, required: true}}\n"
	    "  template: {cidr: \"10.${input.octet}.0.0/16\", publicAccessCidrs: [\"$${not.input}\"]}\n"
	    "---\n"
	    "apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
	    "spec:\n"
	    "  network: {module: net, inputs: {octet: 60}}\n"
	    "  nodeGroups:\n"
	    "    - module: ./mods/spot-ng.yaml\n"
	    "      inputs: {team: data}\n");
	expand_file(&r, "nest/cluster.yaml", NULL);
	/* The wrapper misspelled instanceTypes: the error points into the wrapper. */
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "nest/mods/spot-ng.yaml:14:7: module gvisor-node-group has no input \"instanceType\"; did "
			   "you mean \"instanceTypes\"?");
	run_release(&r);

	put("nest/mods/spot-ng.yaml",
	    "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: spot-ng}\n"
	    "spec:\n"
	    "  inputs:\n"
	    "    team: {type: string, required: true}\n"
	    "    max: {type: integer, default: 3}\n"
	    "  template:\n"
	    "    module: gvisor-node-group\n"
	    "    inputs:\n"
	    "      name: \"${input.team}-spot\"\n"
	    "      capacityType: SPOT\n"
	    "      max: ${input.max}\n");
	expand_file(&r, "nest/cluster.yaml", NULL);
	T_EQ(r.rc, 0);
	if (r.rc)
		fprintf(stderr, "%s", r.text);
	T_EQ(r.set.n, 1); /* the inline Module document left the set */
	const struct sf_node *root = r.set.n ? r.set.docs[0].root : NULL;
	T_STREQ(S(root, "spec/network/cidr"), "10.60.0.0/16");
	T_STREQ(S(root, "spec/network/publicAccessCidrs/0"), "${not.input}");
	T_STREQ(S(root, "spec/nodeGroups/0/name"), "data-spot");
	T_STREQ(S(root, "spec/nodeGroups/0/capacityType"), "SPOT");
	T_STREQ(S(root, "spec/nodeGroups/0/scaling/max"), "3");
	T_STREQ(S(root, "spec/nodeGroups/0/runtime"), "gvisor");
	/* Everything from templates (two levels) is at the outer call, line 14. */
	if (root) {
		T_EQ(at(root, "spec/nodeGroups/0/name")->pos.line, 14);
		T_EQ(at(root, "spec/nodeGroups/0/runtime")->pos.line, 14);
		T_EQ(at(root, "spec/nodeGroups/0/scaling/max")->pos.line, 14);
		T_STREQ(at(root, "spec/nodeGroups/0/runtime")->pos.file, r.set.docs[0].file);
	}
	run_release(&r);
}

T_TEST(modules_from_git_at_pinned_ref)
{
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.invalid", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("HOME", t_tmpdir(), 1);
	char *repo = path_in("modrepo");
	const char *ng = "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: ng}\n"
			 "spec:\n"
			 "  inputs: {name: {type: string, default: v1-group}}\n"
			 "  template: {module: ./parts/ng-body.yaml, inputs: {name: \"${input.name}\"}}\n";
	const char *body = "apiVersion: secfaas.dev/v1alpha1\nkind: Module\nmetadata: {name: ng-body}\n"
			   "spec:\n"
			   "  inputs: {name: {type: string, required: true}}\n"
			   "  template: {name: \"${input.name}\", instanceTypes: [m6i.large], scaling: {min: 1, max: %d}}\n";
	put("modrepo/modules/ng.yaml", ng);
	char *b1 = xasprintf(body, 2);
	put("modrepo/modules/parts/ng-body.yaml", b1);
	T_EQ(sh("cd '%s' && git init -q -b main && git add -A && git commit -q -m v1 && git tag v1", repo), 0);
	char *b2 = xasprintf(body, 9);
	put("modrepo/modules/parts/ng-body.yaml", b2);
	T_EQ(sh("cd '%s' && git commit -q -am v2", repo), 0);

	char *spec = xasprintf("apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
			       "spec:\n"
			       "  nodeGroups:\n"
			       "    - module: git+file://%s//modules/ng.yaml@v1\n"
			       "    - module: git+file://%s//modules/ng.yaml@main\n"
			       "      inputs: {name: other}\n"
			       "    - module: git+%s//modules/ng.yaml@v1\n"
			       "      inputs: {name: local}\n",
			       repo, repo, repo);
	put("gitmods/cluster.yaml", spec);
	/* Uncommitted edits in the module repo do not leak into pinned refs. */
	put("modrepo/modules/parts/ng-body.yaml", "garbage: [");
	struct run r;
	expand_file(&r, "gitmods/cluster.yaml", NULL);
	T_EQ(r.rc, 0);
	if (r.rc)
		fprintf(stderr, "%s", r.text);
	const struct sf_node *root = r.set.n ? r.set.docs[0].root : NULL;
	T_STREQ(S(root, "spec/nodeGroups/0/name"), "v1-group");
	T_STREQ(S(root, "spec/nodeGroups/0/scaling/max"), "2");
	T_STREQ(S(root, "spec/nodeGroups/1/name"), "other");
	T_STREQ(S(root, "spec/nodeGroups/1/scaling/max"), "9");
	T_STREQ(S(root, "spec/nodeGroups/2/name"), "local");
	T_STREQ(S(root, "spec/nodeGroups/2/scaling/max"), "2");
	int seen = 0;
	for (size_t i = 0; i < r.set.nfiles; i++)
		if (strstr(r.set.files[i], "@") && strstr(r.set.files[i], ":modules/parts/ng-body.yaml"))
			seen = 1;
	T_OK(seen);
	run_release(&r);

	/* An unknown ref is one clear error at the call. */
	char *bad = xasprintf("apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\n"
			      "spec:\n  network: {module: \"git+file://%s//modules/ng.yaml@v404\"}\n",
			      repo);
	put("gitmods/bad.yaml", bad);
	expand_file(&r, "gitmods/bad.yaml", NULL);
	T_EQ(r.rc, -1);
	T_CONTAINS(r.text, "gitmods/bad.yaml:5:21: module git+file://");
	T_CONTAINS(r.text, "ref \"v404\" not found");
	run_release(&r);

	/* Specs loaded from git resolve relative module paths in the same commit. */
	T_EQ(sh("cd '%s' && git checkout -q -- . && mkdir -p clusters && printf '%%s' '%s' > clusters/c.yaml && "
		"git add -A && git commit -q -m spec",
		repo,
		"apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\nspec:\n"
		"  nodeGroups: [{module: ../modules/ng.yaml}]\n"),
	     0);
	memset(&r, 0, sizeof r);
	struct sf_gitsrc_opts go = SF_GITSRC_OPTS_INIT;
	struct sf_gitsrc_result gr = SF_GITSRC_RESULT_INIT;
	go.repo = repo;
	go.subpath = "clusters";
	T_EQ(sf_gitsrc_load(&r.set, &go, &gr, &r.d), 0);
	struct sf_module_opts mo = SF_MODULE_OPTS_INIT;
	mo.search_path = "/nonexistent";
	mo.git_repo = repo;
	mo.git_sha = gr.sha;
	T_EQ(sf_modules_expand(&r.set, &mo, &r.d), 0);
	collect(&r);
	if (r.d.n)
		fprintf(stderr, "%s", r.text);
	root = r.set.n ? r.set.docs[0].root : NULL;
	T_STREQ(S(root, "spec/nodeGroups/0/scaling/max"), "9");
	T_STREQ(S(root, "spec/nodeGroups/0/name"), "v1-group");
	sf_gitsrc_result_release(&gr);
	run_release(&r);

	free(bad);
	free(spec);
	free(b1);
	free(b2);
	free(repo);
}

T_MAIN()
