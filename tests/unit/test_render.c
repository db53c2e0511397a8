/* Unit tests for provisioner/node/render.c: golden files under tests/render/golden/
 * (UPDATE_GOLDEN=1 rewrites them; review the diff like code), determinism,
 * the bake key, and bad-input checks. */
#include "t.h"

#include <yaml.h>

#include "embed.h"
#include "provisioner/node/gvisor_pins.h"
#include "provisioner/node/render.h"
#include "util.h"

#define CA "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFERXdwcmRXSmwKY201bGRHVnpNQjRYRFRJMU1ETXhNakV3TWpFeU1Gb1hEVE0xTURNeE1ERXdNakV5TUZvd0ZURVRNQkVHQTFVRQo="

static const struct sf_kv g_labels[] = {
	{"secfaas.dev/sandbox", "gvisor"},
	{"team", "platform"},
	{"node.kubernetes.io/role", "sandbox"},
};
static const struct sf_taint g_taints[] = {
	{"secfaas.dev/sandbox", "gvisor", "NoSchedule"},
	{"dedicated", "", "NoExecute"},
	{"secfaas.dev/sandbox", "gvisor", "NoExecute"},
};

static struct sf_node_render_in sample_in(int major)
{
	struct sf_node_render_in in = {
		.cluster_name = "fn-staging",
		.api_endpoint = "https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
		.ca_b64 = CA,
		.service_cidr = "10.100.0.0/16",
		.node_group = "sandbox",
		.labels = g_labels,
		.n_labels = SF_ARRAY_LEN(g_labels),
		.taints = g_taints,
		.n_taints = SF_ARRAY_LEN(g_taints),
		.containerd_major = major,
		.platform = "systrap",
		.gvisor_release = "20250113.0",
		.max_pods = 0,
	};
	return in;
}

static struct sf_bake_in sample_bake(void)
{
	struct sf_bake_in b = {
		.gvisor_release = "20250113.0",
		.gvisor_sha512 = NULL,
		.base_url = NULL,
		.install_prefix = NULL,
		.runsc_toml_path = NULL,
		.arch = "x86_64",
		.base_ami_id = "ami-0123456789abcdef0",
		.platform = "systrap",
	};
	return b;
}

/* Compare with tests/render/golden/<name>, or rewrite it with UPDATE_GOLDEN=1. */
static void golden(const char *name, const struct sf_buf *got)
{
	char *path = xasprintf("%s/tests/render/golden/%s", t_srcdir(), name);
	const char *upd = getenv("UPDATE_GOLDEN");
	struct sf_err err = SF_ERR_INIT;
	if (upd && !strcmp(upd, "1")) {
		char *dir = xasprintf("%s/tests/render/golden", t_srcdir());
		T_EQ(sf_mkdir_p(dir, 0755, &err), 0);
		T_EQ(sf_write_file_atomic(path, got->s ? got->s : "", got->len, 0644, &err), 0);
		free(dir);
	} else {
		char *want = NULL;
		size_t n = 0;
		if (sf_read_file(&want, &n, path, 0, &err) < 0)
			T_FAILF("golden file %s: %s (run with UPDATE_GOLDEN=1 to create it)", path, err.msg);
		else if (n != got->len || memcmp(want, got->s, n))
			T_FAILF("%s differs from the rendering:\n----- got -----\n%s\n----- (UPDATE_GOLDEN=1 rewrites)",
				path, sf_buf_cstr(got));
		free(want);
	}
	free(path);
}

T_TEST(golden_user_data_containerd2)
{
	struct sf_node_render_in in = sample_in(0); /* 0 = default major 2 */
	in.max_pods = 58;
	struct sf_buf b = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_render_user_data(&in, &b, &err), 0);
	golden("user-data-containerd2.txt", &b);
	T_CONTAINS(sf_buf_cstr(&b), "Content-Type: application/node.eks.aws\n");
	T_CONTAINS(sf_buf_cstr(&b), "- --node-labels=node.kubernetes.io/role=sandbox,secfaas.dev/sandbox=gvisor,team=platform\n");
	T_CONTAINS(sf_buf_cstr(&b),
		   "- --register-with-taints=dedicated:NoExecute,secfaas.dev/sandbox=gvisor:NoExecute,"
		   "secfaas.dev/sandbox=gvisor:NoSchedule\n");
	T_CONTAINS(sf_buf_cstr(&b), "maxPods: 58\n");
	T_CONTAINS(sf_buf_cstr(&b), "runtimes." SF_RUNTIME_HANDLER "]");
	sf_buf_release(&b);
}

T_TEST(golden_user_data_containerd1)
{
	struct sf_node_render_in in = sample_in(1);
	struct sf_buf b = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_render_user_data(&in, &b, &err), 0);
	golden("user-data-containerd1.txt", &b);
	T_OK(!strstr(sf_buf_cstr(&b), "maxPods"));
	sf_buf_release(&b);
}

T_TEST(golden_fragments_and_runsc_toml)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_buf b1 = SF_BUF_INIT, b2 = SF_BUF_INIT, t = SF_BUF_INIT;
	struct sf_node_render_in in1 = sample_in(1), in2 = sample_in(2);
	T_EQ(sf_render_containerd_fragment(&in1, &b1, &err), 0);
	T_EQ(sf_render_containerd_fragment(&in2, &b2, &err), 0);
	T_EQ(sf_render_runsc_toml("ptrace", &t, &err), 0);
	golden("containerd-fragment-1.x.toml", &b1);
	golden("containerd-fragment-2.x.toml", &b2);
	golden("runsc-ptrace.toml", &t);
	/* 1.x: v2 key, runc restated; 2.x: v3 key, no runc table. */
	T_CONTAINS(sf_buf_cstr(&b1), "version = 2\n");
	T_CONTAINS(sf_buf_cstr(&b1), "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n");
	T_CONTAINS(sf_buf_cstr(&b1), "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]\n");
	T_CONTAINS(sf_buf_cstr(&b2), "version = 3\n");
	T_CONTAINS(sf_buf_cstr(&b2), "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc]\n");
	T_OK(!strstr(sf_buf_cstr(&b2), "runtimes.runc]"));
	T_CONTAINS(sf_buf_cstr(&t), "platform = \"ptrace\"\n");
	T_CONTAINS(sf_buf_cstr(&t), "systemd-cgroup = \"true\"\n");
	sf_buf_release(&b1);
	sf_buf_release(&b2);
	sf_buf_release(&t);
}

T_TEST(golden_node_bundle)
{
	struct sf_node_render_in in = sample_in(2);
	struct sf_buf b = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_render_node_bundle(&in, &b, &err), 0);
	golden("node-bundle.txt", &b);
	T_CONTAINS(sf_buf_cstr(&b), "# ---- user-data ----\n");
	T_CONTAINS(sf_buf_cstr(&b), "# ---- containerd-fragment.toml ----\n");
	T_CONTAINS(sf_buf_cstr(&b), "# ---- runsc.toml");
	sf_buf_release(&b);
}

/* The same labels/taints in any order render the same bytes. */
T_TEST(deterministic_under_permutation)
{
	struct sf_kv labels[3] = {g_labels[2], g_labels[0], g_labels[1]};
	struct sf_taint taints[3] = {g_taints[2], g_taints[1], g_taints[0]};
	struct sf_node_render_in a = sample_in(2), b = sample_in(2);
	b.labels = labels;
	b.taints = taints;
	struct sf_buf ba = SF_BUF_INIT, bb = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_render_node_bundle(&a, &ba, &err), 0);
	T_EQ(sf_render_node_bundle(&b, &bb, &err), 0);
	T_STREQ(sf_buf_cstr(&ba), sf_buf_cstr(&bb));
	sf_buf_release(&ba);
	sf_buf_release(&bb);
}

/* Walk a parsed YAML document: the value under a path of mapping keys. */
static yaml_node_t *ypath(yaml_document_t *doc, yaml_node_t *n, const char *const *keys)
{
	for (; *keys && n; keys++) {
		yaml_node_t *next = NULL;
		if (n->type != YAML_MAPPING_NODE)
			return NULL;
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, *keys))
				next = yaml_document_get_node(doc, p->value);
		}
		n = next;
	}
	return n;
}

/* The NodeConfig part parses back to the input values: quoting of
 * number-like names, the fragment as a literal block, no folding. */
T_TEST(node_config_parses_back)
{
	struct sf_node_render_in in = sample_in(2);
	in.cluster_name = "123";
	in.labels = NULL;
	in.n_labels = 0;
	in.taints = NULL;
	in.n_taints = 0;
	struct sf_buf ud = SF_BUF_INIT, frag = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_render_user_data(&in, &ud, &err), 0);
	T_EQ(sf_render_containerd_fragment(&in, &frag, &err), 0);
	T_OK(!strstr(sf_buf_cstr(&ud), "kubelet:"));
	const char *start = strstr(sf_buf_cstr(&ud), "application/node.eks.aws\n\n");
	const char *end = strstr(sf_buf_cstr(&ud), "--" SF_USERDATA_BOUNDARY "--\n");
	T_OK(start && end);
	if (!start || !end)
		goto done;
	start += strlen("application/node.eks.aws\n\n");
	yaml_parser_t p;
	yaml_document_t doc;
	T_OK(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)start, (size_t)(end - start));
	T_OK(yaml_parser_load(&p, &doc));
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	static const char *const kname[] = {"spec", "cluster", "name", NULL};
	static const char *const kca[] = {"spec", "cluster", "certificateAuthority", NULL};
	static const char *const kcfg[] = {"spec", "containerd", "config", NULL};
	static const char *const kkind[] = {"kind", NULL};
	yaml_node_t *n = ypath(&doc, root, kname);
	T_OK(n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	if (n)
		T_STREQ((char *)n->data.scalar.value, "123");
	n = ypath(&doc, root, kca);
	if (n)
		T_STREQ((char *)n->data.scalar.value, CA);
	n = ypath(&doc, root, kcfg);
	T_OK(n && n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE);
	if (n)
		T_STREQ((char *)n->data.scalar.value, sf_buf_cstr(&frag));
	n = ypath(&doc, root, kkind);
	if (n)
		T_STREQ((char *)n->data.scalar.value, "NodeConfig");
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
done:
	sf_buf_release(&ud);
	sf_buf_release(&frag);
}

/* Each bad input fails with SF_EINVAL, names the field, appends nothing. */
T_TEST(bad_node_inputs)
{
	static const struct sf_kv bad_label_k8s[] = {{"kubernetes.io/role", "x"}};
	static const struct sf_kv bad_label_value[] = {{"a", "-bad"}};
	static const struct sf_kv dup_labels[] = {{"a", "1"}, {"a", "2"}};
	static const struct sf_kv bad_label_key[] = {{"Bad_Prefix/x", "1"}};
	static const struct sf_taint bad_effect[] = {{"a", "b", "NoRun"}};
	static const struct sf_taint dup_taints[] = {{"a", "b", "NoSchedule"}, {"a", "c", "NoSchedule"}};
	struct sf_node_render_in in;
	struct sf_buf b = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
#define BAD(mutation, expect)                                                              \
	do {                                                                               \
		in = sample_in(2);                                                         \
		mutation;                                                                  \
		sf_err_clear(&err);                                                        \
		T_EQ(sf_render_node_bundle(&in, &b, &err), SF_EINVAL);                     \
		T_CONTAINS(err.msg, expect);                                               \
		T_EQ(b.len, 0);                                                            \
		T_EQ(sf_render_user_data(&in, &b, &err), SF_EINVAL);                       \
		T_EQ(b.len, 0);                                                            \
	} while (0)
	BAD(in.cluster_name = "", "cluster name");
	BAD(in.cluster_name = "a b", "cluster name");
	BAD(in.api_endpoint = "http://insecure.example", "API endpoint");
	BAD(in.api_endpoint = "https://x\n--SECFAAS", "API endpoint");
	BAD(in.ca_b64 = "not base64!", "certificate authority");
	BAD(in.service_cidr = "10.100.0.0", "service CIDR");
	BAD(in.service_cidr = "10.100.0.0/33", "service CIDR");
	BAD(in.service_cidr = "300.1.1.1/16", "service CIDR");
	BAD(in.containerd_major = 3, "containerd major");
	BAD(in.platform = "gvisor", "platform");
	BAD(in.platform = NULL, "platform");
	BAD(in.gvisor_release = "latest", "release");
	BAD(in.max_pods = -1, "maxPods");
	BAD((in.labels = bad_label_k8s, in.n_labels = 1), "NodeRestriction");
	BAD((in.labels = bad_label_value, in.n_labels = 1), "value \"-bad\"");
	BAD((in.labels = dup_labels, in.n_labels = 2), "given twice");
	BAD((in.labels = bad_label_key, in.n_labels = 1), "DNS subdomain");
	BAD((in.taints = bad_effect, in.n_taints = 1), "effect \"NoRun\"");
	BAD((in.taints = dup_taints, in.n_taints = 2), "given twice");
	BAD(in.node_group = "bad name", "node group");
#undef BAD
	T_EQ(sf_render_runsc_toml("systrap; rm -rf", &b, &err), SF_EINVAL);
	T_EQ(b.len, 0);
	T_EQ(sf_render_node_bundle(NULL, &b, &err), SF_EINVAL);
	sf_buf_release(&b);
}

T_TEST(release_arch_platform_helpers)
{
	T_OK(sf_gvisor_release_valid("20221219"));
	T_OK(sf_gvisor_release_valid("20250113.0"));
	T_OK(sf_gvisor_release_valid("20250113.12"));
	T_OK(!sf_gvisor_release_valid("20251313.0"));
	T_OK(!sf_gvisor_release_valid("2025011.0"));
	T_OK(!sf_gvisor_release_valid("20250113."));
	T_OK(!sf_gvisor_release_valid("20250113.1234"));
	T_OK(!sf_gvisor_release_valid("latest"));
	T_OK(!sf_gvisor_release_valid(NULL));
	T_OK(!sf_gvisor_platform_supported("20221219.0", "systrap"));
	T_OK(sf_gvisor_platform_supported("20221219.0", "ptrace"));
	T_OK(sf_gvisor_platform_supported("20250113.0", "systrap"));
	T_OK(sf_gvisor_platform_supported("20250113.0", "kvm"));
	T_OK(!sf_gvisor_platform_supported("20250113.0", "gvisor"));
	T_STREQ(sf_gvisor_arch("amd64"), "x86_64");
	T_STREQ(sf_gvisor_arch("arm64"), "aarch64");
	T_OK(sf_gvisor_arch("riscv64") == NULL);
	T_STREQ(SF_RUNTIME_HANDLER, "runsc");
}

/* The bake prints `containerd --version`; the image records the version. */
T_TEST(containerd_version_from_the_bake_console)
{
	char *v = sf_containerd_from_console("[  179.1] cloud-init[2100]: SECFAAS-CONTAINERD-VERSION containerd "
					     "github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376\r\n"
					     "[  180.0] cloud-init[2100]: SECFAAS-BAKE-OK abc\r\n");
	T_STREQ(v, "2.1.4");
	T_EQ(sf_containerd_major(v), 2);
	free(v);
	v = sf_containerd_from_console("SECFAAS-CONTAINERD-VERSION containerd github.com/containerd/containerd v1.7.27 05044ec\n");
	T_STREQ(v, "1.7.27");
	T_EQ(sf_containerd_major(v), 1);
	free(v);
	T_OK(!sf_containerd_from_console("SECFAAS-CONTAINERD-VERSION none\r\nnext line v2.0.0\n"));
	T_OK(!sf_containerd_from_console("SECFAAS-BAKE-OK abc\n"));
	T_OK(!sf_containerd_from_console(NULL));
	T_EQ(sf_containerd_major(NULL), -1);
	T_EQ(sf_containerd_major("v2"), -1);
	T_EQ(sf_containerd_major("2"), 2);
}

T_TEST(golden_bake_script_and_key)
{
	struct sf_bake_in in = sample_bake();
	struct sf_buf s = SF_BUF_INIT, kt = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	char key[65];
	T_EQ(sf_render_bake_script(&in, &s, &err), 0);
	T_EQ(sf_bake_key_text(&in, &kt, &err), 0);
	T_EQ(sf_bake_key(&in, key, &err), 0);
	golden("bake-script.sh", &s);
	golden("bake-key.txt", &kt);

	/* The key is the SHA-256 of the key text, and it is in the script. */
	char want[65];
	sf_sha256_hex(want, kt.s, kt.len);
	T_STREQ(key, want);
	char *line = xasprintf(": \"${SECFAAS_BAKE_KEY:=%s}\"\n", key);
	T_CONTAINS(sf_buf_cstr(&s), line);

	/* bake-script-sha256 is over the script with the key left empty. */
	char *script = xstrdup(sf_buf_cstr(&s));
	char *at = strstr(script, line);
	if (at) {
		struct sf_buf blank = SF_BUF_INIT;
		sf_buf_append(&blank, script, (size_t)(at - script));
		sf_buf_puts(&blank, ": \"${SECFAAS_BAKE_KEY:=}\"\n");
		sf_buf_puts(&blank, at + strlen(line));
		char h[65];
		sf_sha256_hex(h, blank.s, blank.len);
		char *field = xasprintf("bake-script-sha256 %s\n", h);
		T_CONTAINS(sf_buf_cstr(&kt), field);
		free(field);
		sf_buf_release(&blank);
	}
	free(script);
	free(line);
	T_CONTAINS(sf_buf_cstr(&s), ": \"${SECFAAS_GVISOR_RELEASE:=20250113.0}\"\n");
	T_CONTAINS(sf_buf_cstr(&s), "  platform = \"systrap\"\n");
	T_CONTAINS(sf_buf_cstr(&kt), "format " SF_BAKE_KEY_FORMAT "\n");
	T_CONTAINS(sf_buf_cstr(&kt), "gvisor-sha512 -\n");
	sf_buf_release(&s);
	sf_buf_release(&kt);
}

/* Every input that changes what the AMI holds changes the key; the same
 * input gives the same key. */
T_TEST(bake_key_content_address)
{
	struct sf_err err = SF_ERR_INIT;
	char base[65], k[65];
	struct sf_bake_in in = sample_bake();
	T_EQ(sf_bake_key(&in, base, &err), 0);
	T_EQ(sf_bake_key(&in, k, &err), 0);
	T_STREQ(k, base);
	static const char sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
				  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
#define DIFFERS(mutation)                                                    \
	do {                                                                 \
		in = sample_bake();                                          \
		mutation;                                                    \
		T_EQ(sf_bake_key(&in, k, &err), 0);                          \
		T_OK(strcmp(k, base) != 0);                                  \
	} while (0)
	DIFFERS(in.gvisor_release = "20250113.1");
	DIFFERS(in.base_ami_id = "ami-0123456789abcdef1");
	DIFFERS(in.arch = "aarch64");
	DIFFERS(in.platform = "kvm");
	DIFFERS(in.gvisor_sha512 = sha);
	DIFFERS(in.install_prefix = "/opt/gvisor");
	DIFFERS(in.base_url = "https://mirror.example/gvisor");
#undef DIFFERS
	/* amd64 is x86_64: same key. */
	in = sample_bake();
	in.arch = "amd64";
	T_EQ(sf_bake_key(&in, k, &err), 0);
	T_STREQ(k, base);
}

T_TEST(gvisor_mirror_rules)
{
	static const struct {
		const char *url;
		int pinned, ok;
	} cases[] = {
		{"https://storage.googleapis.com/gvisor/releases/release", 0, 1},
		{"https://mirror.example:8443/gvisor/", 0, 1},
		{"https://mirror.example", 0, 1},
		{"http://mirror.example/gvisor", 0, 0}, /* swappable on the network */
		{"http://mirror.example/gvisor", 1, 1}, /* the pin catches a swap */
		{"http://127.0.0.1:8080/releases", 0, 1},
		{"http://localhost/releases", 0, 1},
		{"http://127.0.0.1.example.com/releases", 0, 0},
		{"HTTPS://mirror.example/", 0, 0},
		{"ftp://mirror.example/", 1, 0},
		{"https://", 0, 0},
		{"https://-x/", 0, 0},
		{"https://user:pw@mirror.example/", 0, 0},
		{"https://mirror.example:0/", 0, 0},
		{"https://mirror.example:65536/", 0, 0},
		{"https://mirror.example:443x/", 0, 0},
		{"https://mirror.example/a?b=c", 0, 0},
		{"https://mirror.example/a#b", 0, 0},
		{"https://mirror.example/a b", 0, 0},
		{"https://mirror.example/a;reboot", 0, 0},
		{"https://mirror.example/$(reboot)", 0, 0},
		{"https://mirror.example/`id`", 0, 0},
		{"https://mirror.example/a\"b", 0, 0},
		{"https://mirror.example/a\nb", 0, 0},
		{"https://mirror.example/\x1b[31m", 0, 0},
	};
	for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
		char why[320] = "";
		int rc = sf_gvisor_mirror_check(cases[i].url, cases[i].pinned, why, sizeof why);
		if ((rc == 0) != cases[i].ok)
			T_FAILF("mirror \"%s\" (pinned %d): %s", cases[i].url, cases[i].pinned,
				rc ? why : "accepted");
		if (rc && !*why)
			T_FAILF("mirror \"%s\": refused without a reason", cases[i].url);
	}
	/* the refusal never echoes a raw control byte */
	char why[320];
	T_EQ(sf_gvisor_mirror_check("https://m.example/\x1b[2J", 0, why, sizeof why), -1);
	T_CONTAINS(why, "byte 0x1b");
	/* pinned http renders */
	struct sf_bake_in in = sample_bake();
	struct sf_buf b = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	in.base_url = "http://mirror.example/gvisor";
	in.gvisor_sha512 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	sf_buf_release(&b);
}

T_TEST(bad_bake_inputs)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_buf b = SF_BUF_INIT;
	struct sf_bake_in in;
	char k[65];
#define BAD(mutation, expect)                                                   \
	do {                                                                    \
		in = sample_bake();                                             \
		mutation;                                                       \
		sf_err_clear(&err);                                             \
		T_EQ(sf_render_bake_script(&in, &b, &err), SF_EINVAL);          \
		T_CONTAINS(err.msg, expect);                                    \
		T_EQ(b.len, 0);                                                 \
	} while (0)
	BAD(in.gvisor_release = "latest", "release");
	BAD(in.gvisor_release = NULL, "release");
	BAD(in.gvisor_sha512 = "abc", "sha512");
	BAD(in.base_url = "ftp://x", "base URL");
	BAD(in.base_url = "https://x/$(reboot)", "base URL");
	BAD(in.base_url = "http://mirror.example/gvisor", "plain http://");
	BAD(in.install_prefix = "relative", "install prefix");
	BAD(in.install_prefix = "/a b", "install prefix");
	BAD(in.runsc_toml_path = "/etc/\"x", "runsc.toml path");
	BAD(in.arch = "riscv64", "arch");
	BAD(in.base_ami_id = "ami-xyz", "base AMI");
	BAD(in.platform = "systrap\n", "platform");
	BAD(in.arch = NULL, "needs the base AMI id and the arch");
#undef BAD
	in = sample_bake();
	in.base_ami_id = NULL;
	T_EQ(sf_bake_key(&in, k, &err), SF_EINVAL);
	/* Unkeyed script is fine without a base AMI. */
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_BAKE_KEY:=}\"\n");
	sf_buf_release(&b);
}

/* No value reaches the user data or the bake script as text that could
 * change their structure: every hostile form of every text input is either
 * refused (nothing appended) or, for the YAML NodeConfig, emitted as one
 * quoted scalar by libyaml. */
T_TEST(hostile_values_never_become_structure)
{
	static const char *const hostile[] = {
		"x\"\nkind: Evil", "x'; reboot; '", "$(reboot)", "`reboot`", "x\n--" SF_USERDATA_BOUNDARY "\nContent-Type: text/x-shellscript",
		"${IFS}reboot", "x}\"; reboot; : \"${y", "x\\", "x\r\n",
	};
	struct sf_err err = SF_ERR_INIT;
	struct sf_buf b = SF_BUF_INIT;
	for (size_t i = 0; i < SF_ARRAY_LEN(hostile); i++) {
		const char *h = hostile[i];
		struct sf_kv lab[] = {{"a", h}}, labk[] = {{h, "v"}};
		struct sf_taint tv[] = {{"a", h, "NoSchedule"}}, tk[] = {{h, "v", "NoSchedule"}};
		struct sf_node_render_in in;
#define REFUSED(mutation)                                                                    \
	do {                                                                                 \
		in = sample_in(2);                                                           \
		mutation;                                                                    \
		b.len = 0;                                                                   \
		if (sf_render_user_data(&in, &b, &err) != SF_EINVAL || b.len)                \
			T_FAILF("user data accepted %s = \"%s\"", #mutation, h);             \
	} while (0)
		REFUSED(in.cluster_name = h);
		REFUSED(in.api_endpoint = h);
		REFUSED(in.ca_b64 = h);
		REFUSED(in.service_cidr = h);
		REFUSED(in.platform = h);
		REFUSED(in.gvisor_release = h);
		REFUSED(in.node_group = h);
		REFUSED((in.labels = lab, in.n_labels = 1));
		REFUSED((in.labels = labk, in.n_labels = 1));
		REFUSED((in.taints = tv, in.n_taints = 1));
		REFUSED((in.taints = tk, in.n_taints = 1));
#undef REFUSED
		struct sf_bake_in bi;
#define REFUSED(mutation)                                                                    \
	do {                                                                                 \
		bi = sample_bake();                                                          \
		mutation;                                                                    \
		b.len = 0;                                                                   \
		if (sf_render_bake_script(&bi, &b, &err) != SF_EINVAL || b.len)              \
			T_FAILF("bake script accepted %s = \"%s\"", #mutation, h);           \
	} while (0)
		REFUSED(bi.gvisor_release = h);
		REFUSED(bi.gvisor_sha512 = h);
		REFUSED(bi.base_url = h);
		char *url = xasprintf("https://mirror.example/%s", h);
		REFUSED(bi.base_url = url);
		free(url);
		REFUSED(bi.install_prefix = h);
		char *pfx = xasprintf("/opt/%s", h);
		REFUSED(bi.install_prefix = pfx);
		free(pfx);
		REFUSED(bi.runsc_toml_path = h);
		REFUSED(bi.platform = h);
		REFUSED(bi.arch = h);
#undef REFUSED
	}
	sf_buf_release(&b);
}

/* The built-in table's form: exact release names (never "latest"), one row
 * per (release, arch), 128 lowercase hex digits, a known artifact, and the
 * shim pinned exactly for the loose layout's rows. */
T_TEST(gvisor_pin_table_form)
{
	const struct sf_gvisor_pin *rows;
	size_t n = sf_gvisor_pins(&rows);
	T_OK(n > 0);
	int x86 = 0, arm = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sf_gvisor_pin *r = &rows[i];
		T_OK(sf_gvisor_release_valid(r->release));
		T_OK(!strcmp(r->arch, "x86_64") || !strcmp(r->arch, "aarch64"));
		x86 += !strcmp(r->arch, "x86_64");
		arm += !strcmp(r->arch, "aarch64");
		T_OK(sf_gvisor_artifact_valid(r->artifact));
		T_EQ(strlen(r->sha512), 128);
		T_EQ(strspn(r->sha512, "0123456789abcdef"), 128);
		if (!strcmp(r->artifact, "runsc")) {
			T_OK(r->shim_sha512 != NULL);
			if (r->shim_sha512) {
				T_EQ(strlen(r->shim_sha512), 128);
				T_EQ(strspn(r->shim_sha512, "0123456789abcdef"), 128);
			}
		} else {
			T_OK(r->shim_sha512 == NULL);
		}
		T_OK(sf_gvisor_pin_find(r->release, r->arch) == r); /* one row per (release, arch) */
		for (size_t k = 0; k < i; k++)
			T_OK(strcmp(rows[k].sha512, r->sha512) != 0);
	}
	T_OK(x86 > 0 && arm > 0);
}

T_TEST(gvisor_pin_lookup)
{
	const struct sf_gvisor_pin *p = sf_gvisor_pin_find("20260817.0", "x86_64");
	T_OK(p != NULL);
	if (p) {
		T_STREQ(p->artifact, "runsc");
		T_OK(!strncmp(p->sha512, "84936438d583ec97", 16));
	}
	/* arch spellings as everywhere else */
	T_OK(sf_gvisor_pin_find("20260817.0", "amd64") == p);
	p = sf_gvisor_pin_find("20260817.0", "arm64");
	T_OK(p != NULL && p == sf_gvisor_pin_find("20260817.0", "aarch64"));
	if (p)
		T_OK(!strncmp(p->sha512, "6394fd161a4af0dc", 16));
	p = sf_gvisor_pin_find("20260810", "aarch64");
	T_OK(p != NULL);
	if (p)
		T_STREQ(p->artifact, "gvisor.tar.bz2");
	/* exact names only: another point release is another release */
	T_OK(sf_gvisor_pin_find("20260817.1", "x86_64") == NULL);
	T_OK(sf_gvisor_pin_find("20260817", "x86_64") == NULL);
	T_OK(sf_gvisor_pin_find("20250113.0", "x86_64") == NULL);
	T_OK(sf_gvisor_pin_find("latest", "x86_64") == NULL);
	T_OK(sf_gvisor_pin_find("20260817.0", "riscv64") == NULL);
	T_OK(sf_gvisor_pin_find(NULL, "x86_64") == NULL);
	T_OK(sf_gvisor_pin_find("20260817.0", NULL) == NULL);
	T_OK(sf_gvisor_artifact_valid("gvisor.tar.zstd"));
	T_OK(!sf_gvisor_artifact_valid("containerd-shim-runsc-v1"));
	T_OK(!sf_gvisor_artifact_valid(NULL));
}

/* A release of the table is pinned with no sha512 in the input: the script
 * carries the row's digest, artifact and shim digest, and the key text and
 * key say so; an explicit sha512 wins (primary artifact, no shim pin); a
 * release outside the table stays unpinned; without an arch nothing can be
 * looked up. */
T_TEST(table_pins_by_default_and_explicit_wins)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_buf b = SF_BUF_INIT, kt = SF_BUF_INIT;
	const struct sf_gvisor_pin *row = sf_gvisor_pin_find("20260817.0", "x86_64");
	T_OK(row != NULL);
	if (!row)
		return;
	struct sf_bake_in in = sample_bake();
	in.gvisor_release = "20260817.0";
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	char *want = xasprintf(": \"${SECFAAS_GVISOR_SHA512:=%s}\"\n", row->sha512);
	T_CONTAINS(sf_buf_cstr(&b), want);
	free(want);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_ARTIFACT:=runsc}\"\n");
	want = xasprintf(": \"${SECFAAS_GVISOR_SHIM_SHA512:=%s}\"\n", row->shim_sha512);
	T_CONTAINS(sf_buf_cstr(&b), want);
	free(want);
	T_EQ(sf_bake_key_text(&in, &kt, &err), 0);
	want = xasprintf("gvisor-sha512 %s\n", row->sha512);
	T_CONTAINS(sf_buf_cstr(&kt), want);
	free(want);
	char pinned_key[65], k[65];
	T_EQ(sf_bake_key(&in, pinned_key, &err), 0);

	/* the table's own digest given (as the Cluster kind lowers it): the
	 * same pin, the same key */
	in.gvisor_sha512 = row->sha512;
	T_EQ(sf_bake_key(&in, k, &err), 0);
	T_STREQ(k, pinned_key);
	in.gvisor_artifact = "runsc";
	T_EQ(sf_bake_key(&in, k, &err), 0);
	T_STREQ(k, pinned_key);

	/* an explicit digest wins: no artifact forced, no shim pin */
	static const char mine[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	in = sample_bake();
	in.gvisor_release = "20260817.0";
	in.gvisor_sha512 = mine;
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_SHA512:=" "0123456789abcdef");
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_ARTIFACT:=}\"\n");
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_SHIM_SHA512:=}\"\n");
	T_EQ(sf_bake_key(&in, k, &err), 0);
	T_OK(strcmp(k, pinned_key) != 0);
	/* explicit digest and artifact */
	in.gvisor_artifact = "gvisor.tar.zstd";
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_ARTIFACT:=gvisor.tar.zstd}\"\n");
	in.gvisor_artifact = "containerd-shim-runsc-v1";
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "artifact");
	in.gvisor_sha512 = NULL;
	in.gvisor_artifact = "runsc";
	sf_err_clear(&err);
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "without its sha512");

	/* outside the table: unpinned as before */
	in = sample_bake();
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_SHA512:=}\"\n");
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_ARTIFACT:=}\"\n");
	/* no arch, no lookup */
	in.gvisor_release = "20260817.0";
	in.arch = NULL;
	in.base_ami_id = NULL;
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_SHA512:=}\"\n");
	/* a tarball row of the other arch */
	in = sample_bake();
	in.gvisor_release = "20260810";
	in.arch = "arm64";
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_ARTIFACT:=gvisor.tar.bz2}\"\n");
	T_CONTAINS(sf_buf_cstr(&b), ": \"${SECFAAS_GVISOR_SHIM_SHA512:=}\"\n");
	sf_buf_release(&b);
	sf_buf_release(&kt);
}

/* Plain http:// is what a pin makes safe: a release the table pins renders
 * over an http mirror with no sha512 in the input; one it does not is
 * refused as before. */
T_TEST(http_mirror_with_table_pin)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_buf b = SF_BUF_INIT;
	struct sf_bake_in in = sample_bake();
	in.base_url = "http://mirror.example/gvisor";
	in.gvisor_release = "20260817.0";
	T_EQ(sf_render_bake_script(&in, &b, &err), 0);
	in.gvisor_release = "20250113.0";
	sf_buf_reset(&b);
	T_EQ(sf_render_bake_script(&in, &b, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "plain http://");
	sf_buf_release(&b);
}

/* The embedded template is not runnable as is: its parameter block is empty. */
T_TEST(embedded_template_is_unrendered)
{
	const struct sf_embedded *e = sf_embedded_find(SF_BAKE_SCRIPT_NAME);
	T_OK(e != NULL);
	if (e) {
		T_CONTAINS(e->data, ": \"${SECFAAS_GVISOR_RELEASE:=}\"\n");
		T_CONTAINS(e->data, "secfaas_runsc_toml() { :; }\n");
		T_CONTAINS(e->data, "echo \"" SF_BAKE_MARKER " $KEY\"\n");
	}
}

T_MAIN()
