/*
 * render-driver.c - test helper for tests/bake and tests/sandbox: calls the
 * provisioner/node/render.h functions directly (the same ones `secfaas render`
 * prints), so the suites run what secfaas renders, and exposes the
 * SF_RUNTIME_HANDLER constant so the sandbox test can compare it with the
 * table name in the rendered containerd fragment.
 *
 * Built by the suites into $TMPDIR:
 *   cc -I$SRC -I$SRC/lib render-driver.c $SECFAAS_BUILD/libsecfaas.a <libs>
 * Usage:
 *   render-driver handler
 *   render-driver fragment   [--containerd-major N]
 *   render-driver runsc-toml [--platform P]
 *   render-driver node-bundle [--containerd-major N] [--platform P]
 *   render-driver bake-script|bake-key [--release R] [--sha512 H] [--base-url U]
 *        [--prefix P] [--runsc-toml-path F] [--arch A] [--base-ami AMI] [--platform P]
 * Prints the artifact on stdout; on bad input one error line on stderr, exit 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provisioner/node/render.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s handler|fragment|runsc-toml|node-bundle|bake-script|bake-key [options]\n",
			argv[0]);
		return 2;
	}
	const char *what = argv[1];
	static const struct sf_kv labels[] = {{"secfaas.dev/sandbox", "gvisor"}};
	static const struct sf_taint taints[] = {{"secfaas.dev/sandbox", "gvisor", "NoSchedule"}};
	struct sf_node_render_in node = {
		.cluster_name = "sandbox-test",
		.api_endpoint = "https://127.0.0.1:6443",
		.ca_b64 = "Q0E=",
		.service_cidr = "10.100.0.0/16",
		.node_group = "sandbox",
		.labels = labels,
		.n_labels = 1,
		.taints = taints,
		.n_taints = 1,
		.containerd_major = 2,
		.platform = "ptrace",
		.gvisor_release = NULL,
		.max_pods = 0,
	};
	struct sf_bake_in bake = {.gvisor_release = NULL, .platform = "ptrace"};
	static const struct option opts[] = {
		{"containerd-major", required_argument, NULL, 'm'}, {"platform", required_argument, NULL, 'p'},
		{"release", required_argument, NULL, 'r'},          {"sha512", required_argument, NULL, 's'},
		{"base-url", required_argument, NULL, 'u'},         {"prefix", required_argument, NULL, 'P'},
		{"runsc-toml-path", required_argument, NULL, 't'},  {"arch", required_argument, NULL, 'a'},
		{"base-ami", required_argument, NULL, 'b'},         {NULL, 0, NULL, 0},
	};
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': node.containerd_major = (int)strtol(optarg, NULL, 10); break;
		case 'p': node.platform = bake.platform = optarg; break;
		case 'r': bake.gvisor_release = node.gvisor_release = optarg; break;
		case 's': bake.gvisor_sha512 = optarg; break;
		case 'u': bake.base_url = optarg; break;
		case 'P': bake.install_prefix = optarg; break;
		case 't': bake.runsc_toml_path = optarg; break;
		case 'a': bake.arch = optarg; break;
		case 'b': bake.base_ami_id = optarg; break;
		default: return 2;
		}
	}
	struct sf_buf out = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	int rc;
	char key[65];
	if (!strcmp(what, "handler")) {
		sf_buf_puts(&out, SF_RUNTIME_HANDLER "\n");
		rc = 0;
	} else if (!strcmp(what, "fragment")) {
		rc = sf_render_containerd_fragment(&node, &out, &err);
	} else if (!strcmp(what, "runsc-toml")) {
		rc = sf_render_runsc_toml(node.platform, &out, &err);
	} else if (!strcmp(what, "node-bundle")) {
		rc = sf_render_node_bundle(&node, &out, &err);
	} else if (!strcmp(what, "bake-script")) {
		rc = sf_render_bake_script(&bake, &out, &err);
	} else if (!strcmp(what, "bake-key")) {
		if ((rc = sf_bake_key(&bake, key, &err)) == 0)
			sf_buf_printf(&out, "%s\n", key);
	} else {
		fprintf(stderr, "render-driver: unknown artifact %s\n", what);
		return 2;
	}
	if (rc < 0) {
		char line[1200];
		fprintf(stderr, "render-driver: %s\n", sf_err_format(&err, line, sizeof line));
		sf_buf_release(&out);
		return 1;
	}
	fwrite(out.s ? out.s : "", 1, out.len, stdout);
	sf_buf_release(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}
