/*
 * cmd_bake.c - `secfaas bake SPEC`: the aws_gvisor_ami resource type run on
 * its own, outside a plan, so one image can be baked once and named with
 * `ami:` by many clusters (or reused by apply through its bake key).
 *
 * The operation token is derived from (workspace, arch, bake inputs), so
 * re-running an interrupted bake adopts its builder instance (RunInstances
 * ClientToken) instead of launching a second one.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "provisioner/cli/commands_eks.h"
#include "provisioner/cli/run.h"
#include "provisioner/kinds/cluster.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_doc *cluster_doc(struct sf_ws *ws)
{
	for (size_t i = 0; i < ws->set.n; i++) {
		const struct sf_doc *d = &ws->set.docs[i];
		const char *kind = sf_node_str(sf_node_get(d->root, "kind"));
		const char *name = sf_node_str(sf_node_get(sf_node_get(d->root, "metadata"), "name"));
		if (kind && !strcmp(kind, "Cluster") && name && ws->cfg.workspace && !strcmp(name, ws->cfg.workspace))
			return d;
	}
	return NULL;
}

static void progress(struct sf_rctx *c, const char *status)
{
	sf_info("%s: %s", c->address, status ? status : "");
}

/* id attribute of address in the workspace's state (owned) or NULL. */
static char *state_attr(struct sf_ws *ws, const char *address, const char *attr)
{
	if (!ws->st)
		return NULL;
	struct sf_resource *r = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (sf_state_get(ws->st, address, &r, &e) < 0)
		return NULL;
	char *v = xstrdup(json_string_value(json_object_get(r->attrs, attr)));
	sf_resource_free(r);
	return v;
}

int cmd_bake(struct sf_cli *cli, int argc, char **argv)
{
	const char *spec = NULL, *arch = NULL, *subnet = NULL, *profile = NULL;
	for (int i = 1; i < argc; i++) {
		int m = 0;
		if ((m = sf_opt_match(argc, argv, &i, "arch", 1, &arch)) ||
		    (m = sf_opt_match(argc, argv, &i, "subnet-id", 1, &subnet)) ||
		    (m = sf_opt_match(argc, argv, &i, "instance-profile", 1, &profile))) {
			if (m < 0)
				return sf_cli_errorf(cli, "option %s needs a value", argv[i]);
		} else if (argv[i][0] == '-') {
			return sf_cli_errorf(cli, "unknown option %s for bake; see `secfaas help bake`", argv[i]);
		} else {
			spec = argv[i];
		}
	}
	struct sf_ws ws;
	memset(&ws, 0, sizeof ws);
	json_t *cl = NULL, *want = NULL, *out = NULL;
	char *sub_state = NULL, *prof_state = NULL, *address = NULL;
	int rc = sf_run_load(cli, spec, &ws);
	if (rc)
		goto done;
	const struct sf_doc *doc = cluster_doc(&ws);
	if (!doc) {
		rc = sf_cli_errorf(cli, "workspace %s has no kind: Cluster document to bake for", ws.cfg.workspace);
		goto done;
	}
	cl = sf_cluster_normalize(doc);
	const json_t *spec_j = json_object_get(cl, "spec");
	const json_t *gv = json_object_get(spec_j, "gvisor");
	if (!json_is_object(gv)) {
		rc = sf_cli_errorf(cli, "%s: spec.gvisor is not set; there is nothing to bake", ws.cfg.workspace);
		goto done;
	}
	if (!arch) {
		size_t i;
		json_t *ng;
		json_array_foreach(json_object_get(spec_j, "nodeGroups"), i, ng)
		{
			const char *rt = json_string_value(json_object_get(ng, "runtime"));
			if (rt && !strcmp(rt, "gvisor") && !arch)
				arch = json_string_value(json_object_get(ng, "arch"));
		}
	}
	if (!arch)
		arch = "x86_64";
	if (!strcmp(arch, "aarch64"))
		arch = "arm64";
	if (strcmp(arch, "x86_64") && strcmp(arch, "arm64")) {
		rc = sf_cli_errorf(cli, "--arch must be x86_64 or arm64, not %s", arch);
		goto done;
	}
	/* the workspace's builder network, when it has been applied */
	char *path = NULL;
	if (sf_run_state_path(cli, ws.cfg.workspace, &path) == 0 && access(path, F_OK) == 0 &&
	    sf_run_open(cli, &ws, ws.cfg.workspace, "bake", 0, 0, 0) == 0) {
		sub_state = state_attr(&ws, "aws_subnet.public_a", "id");
		prof_state = state_attr(&ws, "aws_iam_instance_profile.ami_builder", "name");
	}
	free(path);
	if (!subnet)
		subnet = sub_state;
	if (!profile)
		profile = prof_state;
	want = json_pack("{s:O, s:s, s:O, s:O}", "kubernetes_version", json_object_get(spec_j, "kubernetesVersion"),
			 "arch", arch, "gvisor_release", json_object_get(gv, "release"), "platform",
			 json_object_get(gv, "platform"));
	if (json_object_get(gv, "sha512"))
		json_object_set(want, "sha512", json_object_get(gv, "sha512"));
	if (json_object_get(gv, "mirror"))
		json_object_set(want, "mirror", json_object_get(gv, "mirror"));
	if (subnet)
		json_object_set_new(want, "builder_subnet_id", json_string(subnet));
	if (profile)
		json_object_set_new(want, "builder_instance_profile", json_string(profile));
	json_t *md = json_object_get(json_object_get(cl, "metadata"), "tags");
	if (json_is_object(md))
		json_object_set(want, "tags", md);

	if (!ws.prov_init) {
		sf_providers_init(&ws.prov);
		ws.prov_init = 1;
	}
	const char *region = json_string_value(json_object_get(ws.cfg.metadata, "region"));
	ws.prov.region = cli->region ? cli->region : region;
	ws.prov.profile = cli->profile;
	ws.prov.workspace = ws.cfg.workspace;
	ws.prov.metadata = ws.cfg.metadata;

	char *keytext = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
	char *seed = xasprintf("bake\n%s\n%s", ws.cfg.workspace, keytext);
	char h[65], token[33];
	sf_sha256_hex(h, seed, strlen(seed));
	memcpy(token, h, 32);
	token[32] = 0;
	free(seed);
	free(keytext);
	address = xasprintf("aws_gvisor_ami.gvisor_%s", arch);
	struct sf_err err = SF_ERR_INIT;
	sf_run_signals_install(cli);
	struct sf_rctx ctx = {.address = address, .token = token, .err = &err, .provider = &ws.prov,
			      .cancel = sf_run_cancel_flag(), .progress = progress};
	if (sf_rt_aws_gvisor_ami.create(&ctx, want, &out) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (cli->json) {
		char *s = json_dumps(out, JSON_SORT_KEYS | JSON_INDENT(2));
		fprintf(cli->out, "%s\n", s);
		free(s);
	} else {
		fprintf(cli->out, "%s\n", json_string_value(json_object_get(out, "id")));
		fprintf(cli->errf, "%s %s (bake key %s, base %s)\n",
			json_is_true(json_object_get(out, "reused")) ? "reused" : "baked",
			json_string_value(json_object_get(out, "id")), json_string_value(json_object_get(out, "bake_key")),
			json_string_value(json_object_get(out, "base_ami_id")));
	}
	rc = SF_EXIT_OK;
done:
	json_decref(out);
	json_decref(want);
	json_decref(cl);
	free(sub_state);
	free(prof_state);
	free(address);
	sf_run_close(&ws);
	return rc;
}
