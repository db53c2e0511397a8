/*
 * test_fmt.c - `secfaas fmt`'s formatter (provisioner/spec/fmt.h): every
 * example formats to a text that lowers to exactly the same resources and
 * formats to itself again; comments (own-line, trailing, in a block
 * scalar's header, at the end) and blank lines stay; what cannot be read
 * is refused.  The bad-input table is the fmt suite's (tests/fmt).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/kinds/kinds.h"
#include "provisioner/kinds/modules.h"
#include "provisioner/spec/fmt.h"
#include "util.h"
#include "t.h"

static char *format(const char *name, const char *text, int *rc, char *msg, size_t msz)
{
	char *out = NULL;
	size_t n = 0;
	struct sf_err err = SF_ERR_INIT;
	*rc = sf_spec_format(name, text, strlen(text), &out, &n, &err);
	if (msg)
		snprintf(msg, msz, "%s", err.msg);
	if (*rc == 0)
		T_EQ(n, strlen(out));
	return out;
}

/* Every workspace's resources, {workspace: {address: config}}, of a spec
 * text (module calls expanded from modules/). */
static json_t *lowering(const char *name, const char *text)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	json_t *all = json_object();
	char *mods = xasprintf("%s/modules", t_srcdir());
	struct sf_module_opts mo = SF_MODULE_OPTS_INIT;
	mo.search_path = mods;
	T_EQ(sf_spec_load_buffer(&set, name, text, strlen(text), &d), 0);
	T_EQ(sf_modules_expand(&set, &mo, &d), 0);
	const char **ws = NULL;
	size_t nws = sf_config_workspaces(&set, &ws);
	for (size_t w = 0; w < nws; w++) {
		struct sf_config cfg = SF_CONFIG_INIT;
		T_EQ(sf_config_build(&cfg, &set, ws[w], &d), 0);
		json_t *res = json_object();
		for (size_t i = 0; i < cfg.n; i++) {
			json_t *r = json_pack("{s:s, s:O, s:o}", "type", cfg.v[i].type->name, "config", cfg.v[i].config,
					      "deps", json_array());
			for (size_t k = 0; k < cfg.v[i].ndeps; k++)
				json_array_append_new(json_object_get(r, "deps"), json_string(cfg.v[i].deps[k]));
			json_object_set_new(res, cfg.v[i].address, r);
		}
		json_object_set_new(all, ws[w], res);
		sf_config_release(&cfg);
	}
	T_EQ(d.nerrors, 0);
	free(ws);
	free(mods);
	sf_specset_release(&set);
	sf_diags_release(&d);
	return all;
}

T_TEST(every_example_keeps_its_meaning_and_is_stable)
{
	char *dir = xasprintf("%s/examples", t_srcdir());
	DIR *d = opendir(dir);
	T_OK(d != NULL);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name), *text = NULL;
		size_t len = 0;
		struct sf_err err = SF_ERR_INIT;
		T_EQ(sf_read_file(&text, &len, path, 1 << 20, &err), 0);
		int rc;
		char msg[512];
		char *once = format(path, text, &rc, msg, sizeof msg);
		if (rc)
			T_FAILF("%s: %s", de->d_name, msg);
		if (once) {
			char *twice = format(path, once, &rc, NULL, 0);
			T_STREQ(twice, once); /* formatted text is already canonical */
			json_t *a = lowering(path, text), *b = lowering(path, once);
			T_OK(json_object_size(a) > 0);
			if (!json_equal(a, b))
				T_FAILF("%s: the formatted text lowers differently", de->d_name);
			/* every comment line of the original is still there */
			for (const char *p = text; (p = strchr(p, '#'));) {
				const char *e = strchr(p, '\n');
				char *c = xstrndup(p, e ? (size_t)(e - p) : strlen(p));
				while (*c && c[strlen(c) - 1] == ' ')
					c[strlen(c) - 1] = 0;
				if (p == text || p[-1] == ' ' || p[-1] == '\n')
					T_CONTAINS(once, c);
				free(c);
				p = e ? e : p + strlen(p);
			}
			json_decref(a);
			json_decref(b);
			free(twice);
		}
		free(once);
		free(text);
		free(path);
		n++;
	}
	if (d)
		closedir(d);
	T_OK(n >= 4);
	free(dir);
}

T_TEST(comments_and_blank_lines_stay)
{
	const char *in = "# head\n"
			 "\n"
			 "apiVersion: secfaas.dev/v1alpha1   # api\n"
			 "kind: Stack\n"
			 "\n"
			 "\n"
			 "metadata: {name: x,   tags: {a: b}}  # md\n"
			 "spec:\n"
			 "  resources:\n"
			 "    # first one\n"
			 "    - type: local_file      # type\n"
			 "      name: a\n"
			 "      attributes:\n"
			 "        content: |   # literal\n"
			 "          line one\n"
			 "          # not a comment\n"
			 "        path: out/a\n"
			 "    -   {type: local_file, name: b, attributes: {path: \"out/b\", content: 'x: y'}}\n"
			 "# the end\n";
	const char *want = "# head\n"
			   "\n"
			   "apiVersion: secfaas.dev/v1alpha1  # api\n"
			   "kind: Stack\n"
			   "\n"
			   "metadata: {name: x, tags: {a: b}}  # md\n"
			   "spec:\n"
			   "  resources:\n"
			   "  # first one\n"
			   "  - type: local_file  # type\n"
			   "    name: a\n"
			   "    attributes:\n"
			   "      content: |  # literal\n"
			   "        line one\n"
			   "        # not a comment\n"
			   "      path: out/a\n"
			   "  - {type: local_file, name: b, attributes: {path: \"out/b\", content: 'x: y'}}\n"
			   "# the end\n";
	int rc;
	char *out = format("s.yaml", in, &rc, NULL, 0);
	T_EQ(rc, 0);
	T_STREQ(out, want);
	free(out);
}

T_TEST(values_keep_their_type)
{
	/* a plain scalar that a flow list cannot hold plain is quoted only
	 * when it reads as text either way; numbers, versions and booleans
	 * keep their style */
	const char *in = "a: [arn:aws:iam::123456789012:role/x]\nv: \"1.30\"\nw: 1.30\nb: true\nq: 'true'\nn: ~\n";
	int rc;
	char *out = format("s.yaml", in, &rc, NULL, 0);
	T_EQ(rc, 0);
	T_STREQ(out, "a: ['arn:aws:iam::123456789012:role/x']\nv: \"1.30\"\nw: 1.30\nb: true\nq: 'true'\nn: ~\n");
	free(out);
}

T_TEST(unreadable_yaml_is_refused_with_its_position)
{
	int rc;
	char msg[512];
	char *out = format("bad.yaml", "a: [1, 2\nb: 3\n", &rc, msg, sizeof msg);
	T_EQ(rc, SF_EINVAL);
	T_OK(out == NULL);
	T_CONTAINS(msg, "bad.yaml:");
	T_CONTAINS(msg, "invalid YAML");
	out = format("tab.yaml", "a:\n\tb: 1\n", &rc, msg, sizeof msg);
	T_EQ(rc, SF_EINVAL);
	free(out);
}

T_TEST(several_documents)
{
	const char *in = "a: 1\n---\n# second\nb:   2\n...\n";
	int rc;
	char *out = format("s.yaml", in, &rc, NULL, 0);
	T_EQ(rc, 0);
	T_CONTAINS(out, "---\n# second\nb: 2\n");
	char *again = format("s.yaml", out, &rc, NULL, 0);
	T_STREQ(again, out);
	free(again);
	free(out);
}

T_MAIN()
