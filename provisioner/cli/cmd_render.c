/*
 * cmd_render.c - `secfaas render node-config|bake-script`: print exactly the
 * node-side artifacts apply would put into launch templates and AMI builds,
 * from the spec alone (offline).  The cluster endpoint and CA are known only
 * after the cluster exists; until then (or without --endpoint/--ca)
 * clearly-marked placeholders are used.
 */
#include <stdlib.h>
#include <string.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/run.h"
#include "provisioner/kinds/cluster.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/node/gvisor_pins.h"
#include "provisioner/node/render.h"
#include "util.h"

/* Load + validate without lowering (render works before AWS types exist). */
static int load_validated(struct sf_cli *cli, const char *spec, struct sf_ws *ws)
{
	struct sf_diags d = SF_DIAGS_INIT;
	sf_run_load_set(cli, spec, &ws->set, &d, NULL, NULL);
	for (size_t i = 0; !d.nerrors && i < ws->set.n; i++)
		sf_kind_validate(&ws->set.docs[i], &d);
	const char **names = NULL;
	size_t n = d.nerrors ? 0 : sf_config_workspaces(&ws->set, &names);
	const char *want = getenv("SECFAAS_WORKSPACE");
	if (!d.nerrors) {
		if (want)
			ws->cfg.workspace = xstrdup(want);
		else if (n == 1)
			ws->cfg.workspace = xstrdup(names[0]);
		else
			sf_diag_error(&d, NULL, "the spec holds %zu workspaces; choose one with --workspace NAME", n);
	}
	free(names);
	int bad = d.nerrors > 0;
	sf_diags_print(&d, cli->errf, cli->color);
	sf_diags_release(&d);
	return bad ? SF_EXIT_ERROR : 0;
}

int cmd_render(struct sf_cli *cli, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : NULL, *spec = NULL, *ng_name = NULL, *endpoint = NULL, *ca = NULL;
	const char *artifact = NULL, *arch = NULL, *base_ami = NULL, *cmajor = NULL;
	if (!what || (strcmp(what, "node-config") && strcmp(what, "bake-script")))
		return sf_cli_errorf(cli, "usage: secfaas render node-config SPEC --node-group NAME | render bake-script SPEC");
	for (int i = 2; i < argc; i++) {
		int m = 0;
		if ((m = sf_opt_match(argc, argv, &i, "node-group", 1, &ng_name)) ||
		    (m = sf_opt_match(argc, argv, &i, "endpoint", 1, &endpoint)) ||
		    (m = sf_opt_match(argc, argv, &i, "ca", 1, &ca)) ||
		    (m = sf_opt_match(argc, argv, &i, "artifact", 1, &artifact)) ||
		    (m = sf_opt_match(argc, argv, &i, "containerd-major", 1, &cmajor)) ||
		    (m = sf_opt_match(argc, argv, &i, "arch", 1, &arch)) ||
		    (m = sf_opt_match(argc, argv, &i, "base-ami", 1, &base_ami))) {
			if (m < 0)
				return sf_cli_errorf(cli, "option %s needs a value", argv[i]);
		} else if (argv[i][0] == '-') {
			return sf_cli_unknown_option(cli, "render", argv[i]);
		} else {
			spec = argv[i];
		}
	}
	struct sf_ws ws;
	memset(&ws, 0, sizeof ws);
	int rc = load_validated(cli, spec, &ws);
	struct sf_cluster cl;
	int loaded = 0;
	struct sf_buf out = SF_BUF_INIT;
	struct sf_err err = SF_ERR_INIT;
	if (rc)
		goto done;
	const struct sf_doc *doc = sf_cluster_doc(&ws.set, ws.cfg.workspace);
	if (!doc) {
		rc = sf_cli_errorf(cli, "workspace %s has no kind: Cluster document to render", ws.cfg.workspace);
		goto done;
	}
	sf_cluster_load(&cl, doc);
	loaded = 1;
	if (!strcmp(what, "node-config")) {
		if (!ng_name) {
			rc = sf_cli_errorf(cli, "render node-config needs --node-group NAME");
			goto done;
		}
		const struct sf_nodegroup *ng = sf_cluster_group(&cl, ng_name);
		if (!ng) {
			rc = sf_cli_errorf(cli, "no node group \"%s\" in %s", ng_name, ws.cfg.workspace);
			goto done;
		}
		int major = 2;
		if (cmajor && (!sf_scalar_is_int(cmajor, NULL) || (strcmp(cmajor, "1") && strcmp(cmajor, "2")))) {
			rc = sf_cli_errorf(cli, "--containerd-major must be 1 or 2");
			goto done;
		}
		if (cmajor)
			major = cmajor[0] - '0';
		struct sf_node_render_in in;
		sf_cluster_render_in(&cl, ng, endpoint, ca, major, &in);
		int r;
		if (!artifact)
			r = sf_render_node_bundle(&in, &out, &err);
		else if (!strcmp(artifact, "user-data"))
			r = sf_render_user_data(&in, &out, &err);
		else if (!strcmp(artifact, "containerd"))
			r = sf_render_containerd_fragment(&in, &out, &err);
		else if (!strcmp(artifact, "runsc"))
			r = sf_render_runsc_toml(in.platform, &out, &err);
		else
			r = sf_fail(&err, SF_EINVAL, "--artifact must be user-data, containerd or runsc");
		if (r < 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
		if (ng->runtime != SF_RUNTIME_GVISOR)
			fprintf(cli->errf, "secfaas: note: node group %s has runtime runc; its nodes get the runsc handler only with runtime: gvisor\n",
				ng_name);
		if (!endpoint || !ca)
			fprintf(cli->errf, "secfaas: note: the cluster endpoint and CA are placeholders until the cluster exists (or pass --endpoint and --ca)\n");
	} else {
		if (!cl.gvisor.set) {
			rc = sf_cli_errorf(cli, "%s has no spec.gvisor section; nothing to bake", ws.cfg.workspace);
			goto done;
		}
		struct sf_bake_in bi = {0};
		bi.gvisor_release = cl.gvisor.release;
		bi.gvisor_sha512 = cl.gvisor.sha512;
		bi.base_url = cl.gvisor.mirror;
		bi.platform = cl.gvisor.platform;
		bi.arch = arch;
		bi.base_ami_id = base_ami;
		if (sf_render_bake_script(&bi, &out, &err) < 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
		if (!arch && !cl.gvisor.sha512 && (sf_gvisor_pin_find(cl.gvisor.release, "x86_64") ||
						   sf_gvisor_pin_find(cl.gvisor.release, "aarch64")))
			fprintf(cli->errf, "secfaas: note: gVisor %s is pinned by secfaas's built-in table of release digests per arch; pass --arch to render a script that checks it\n",
				cl.gvisor.release);
	}
	fwrite(out.s ? out.s : "", 1, out.len, cli->out);
	if (out.s && out.len && out.s[out.len - 1] != '\n')
		fputc('\n', cli->out);
done:
	sf_buf_release(&out);
	if (loaded)
		sf_cluster_release(&cl);
	sf_run_close(&ws);
	return rc;
}
