/*
 * cmd_bake.c - `secfaas bake SPEC`: the workspace's gVisor image baked on
 * its own, ahead of apply, so one image can be baked once and named with
 * `ami:` by many clusters (or reused by apply through its bake key).
 *
 * A bake is a one-node plan run by the engine: the aws_gvisor_ami instance
 * the Cluster's lowering would add (attributes from the cluster model,
 * sf_cluster_image_attrs), planned against and applied through a bake
 * journal of its own, the state file "<workspace state>.bake" (".db"
 * replaced), under its lock.  So an interrupted bake is resumed by the
 * next one with the same operation token (adopting its builder instance
 * instead of launching a second), progress and Ctrl-C behave as in apply,
 * and every cloud call is journaled.
 *
 * A bake never deletes or changes an image: when the journal holds an
 * image baked from other inputs, the journal forgets it (the image stays,
 * owned by whoever uses it) and the bake creates - or, by bake key, finds
 * - the one for the current inputs.  The workspace's own state is only
 * read (its builder network, and its lineage for the ownership tags; the
 * bake journal's lineage when the workspace has none yet).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "provisioner/cli/commands_eks.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/engine/apply.h"
#include "provisioner/kinds/cluster.h"
#include "resources/types.h"
#include "util.h"

/* attr of address in st (owned) or NULL. */
static char *state_attr(struct sf_state *st, const char *address, const char *attr)
{
	if (!st)
		return NULL;
	struct sf_resource *r = NULL;
	struct sf_err e = SF_ERR_INIT;
	if (sf_state_get(st, address, &r, &e) < 0)
		return NULL;
	char *v = xstrdup(json_string_value(json_object_get(r->attrs, attr)));
	sf_resource_free(r);
	return v;
}

static void on_event(void *ui, const struct sf_apply_event *ev)
{
	(void)ui;
	if (ev->type == SF_EV_PROGRESS)
		sf_info("%s: %s", ev->address, ev->status ? ev->status : "");
}

/* The journal's path next to the workspace state: x.db → x.bake. */
static char *journal_path(const char *state_path)
{
	size_t l = strlen(state_path);
	if (l > 3 && !strcmp(state_path + l - 3, ".db"))
		return xasprintf("%.*s.bake", (int)(l - 3), state_path);
	return xasprintf("%s.bake", state_path);
}

/* Plan the one instance against the journal; forget a journal row made
 * from other inputs (a bake never deletes or changes an image) and plan
 * again.  0 or an exit code (printed). */
static int plan_bake(struct sf_cli *cli, struct sf_ws *journal, struct sf_config *cfg, const char *address,
		     struct sf_providers *prov, struct sf_plan *plan)
{
	const char *targets[] = {address};
	struct sf_plan_opts po = {.refresh = 1, .targets = targets, .ntargets = 1, .providers = prov,
				  .types = sf_types()};
	struct sf_err err = SF_ERR_INIT;
	for (int round = 0; round < 2; round++) {
		if (sf_plan_make(plan, cfg, journal->st, &po, &err) < 0)
			return sf_cli_error(cli, &err);
		const struct sf_change *c = sf_plan_find(plan, address);
		if (!c || c->action == SF_ACT_NOOP || c->action == SF_ACT_CREATE)
			return 0;
		sf_plan_release(plan);
		if (sf_state_remove(journal->st, address, &err) < 0)
			return sf_cli_error(cli, &err);
	}
	return sf_cli_errorf(cli, "bake: the journal %s keeps planning changes to %s", journal->state_path, address);
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
			return sf_cli_unknown_option(cli, "bake", argv[i]);
		} else {
			spec = argv[i];
		}
	}
	struct sf_ws ws, journal;
	struct sf_cluster cl;
	struct sf_config cfg = SF_CONFIG_INIT;
	struct sf_plan plan;
	memset(&ws, 0, sizeof ws);
	memset(&journal, 0, sizeof journal);
	memset(&cl, 0, sizeof cl);
	memset(&plan, 0, sizeof plan);
	json_t *want = NULL, *out = NULL;
	char *sub_state = NULL, *prof_state = NULL, *address = NULL, *path = NULL;
	int rc = sf_run_load(cli, spec, &ws);
	if (rc)
		goto done;
	const struct sf_doc *doc = sf_cluster_doc(&ws.set, ws.cfg.workspace);
	if (!doc) {
		rc = sf_cli_errorf(cli, "workspace %s has no kind: Cluster document to bake for", ws.cfg.workspace);
		goto done;
	}
	sf_cluster_load(&cl, doc);
	if (!cl.gvisor.set) {
		rc = sf_cli_errorf(cli, "%s: spec.gvisor is not set; there is nothing to bake", ws.cfg.workspace);
		goto done;
	}
	if (!arch)
		arch = sf_cluster_bake_arch(&cl);
	if (!strcmp(arch, "aarch64"))
		arch = "arm64";
	if (strcmp(arch, "x86_64") && strcmp(arch, "arm64")) {
		rc = sf_cli_errorf(cli, "--arch must be x86_64 or arm64, not %s", arch);
		goto done;
	}
	/* the workspace's builder network (and lineage), when it has been applied */
	if (sf_run_state_path(cli, ws.cfg.workspace, &path) != 0) {
		rc = SF_EXIT_ERROR;
		goto done;
	}
	if (access(path, F_OK) == 0 && sf_run_open(cli, &ws, ws.cfg.workspace, "bake", 0, 0, 0) == 0) {
		sub_state = state_attr(ws.st, "aws_subnet.public_a", "id");
		prof_state = state_attr(ws.st, "aws_iam_instance_profile.ami_builder", "name");
	}
	if (!subnet)
		subnet = sub_state;
	if (!profile)
		profile = prof_state;
	want = sf_cluster_image_attrs(&cl, arch, cl.user_tags);
	if (subnet)
		json_object_set_new(want, "builder_subnet_id", json_string(subnet));
	if (profile)
		json_object_set_new(want, "builder_instance_profile", json_string(profile));

	if (!ws.prov_init) {
		sf_providers_init(&ws.prov);
		ws.prov_init = 1;
	}
	const char *region = json_string_value(json_object_get(ws.cfg.metadata, "region"));
	ws.prov.region = cli->region ? cli->region : region;
	ws.prov.profile = cli->profile;
	ws.prov.workspace = ws.cfg.workspace;
	ws.prov.metadata = ws.cfg.metadata;

	/* the one-node plan, journaled in the bake journal */
	journal.state_path = journal_path(path);
	if ((rc = sf_run_open(cli, &journal, ws.cfg.workspace, "bake", 1, 1, 0)))
		goto done;
	/* Baked ahead of the first apply, the workspace has no state and so
	 * no lineage yet: the builder and the image carry the bake journal's,
	 * which is what proves the builder this bake's to terminate once the
	 * image is made (resources/aws_gvisor_ami.c reap_builders). */
	if (!ws.prov.lineage || !*ws.prov.lineage)
		ws.prov.lineage = sf_state_lineage(journal.st);
	address = xasprintf("aws_gvisor_ami.gvisor_%s", arch);
	cfg.workspace = xstrdup(ws.cfg.workspace);
	sf_config_add(&cfg, sf_rtype_find("aws_gvisor_ami"), address + strlen("aws_gvisor_ami."), want, NULL);
	if ((rc = plan_bake(cli, &journal, &cfg, address, &ws.prov, &plan)))
		goto done;
	int reused = !sf_plan_has_changes(&plan);
	if (!reused) {
		struct sf_err err = SF_ERR_INIT;
		struct sf_run_info ri = {"bake", ws.cfg.digest, NULL, NULL};
		int64_t run_id = 0;
		if (sf_state_run_begin(journal.st, &ri, &run_id, &err) < 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
		ws.prov.run_id = run_id;
		sf_run_signals_install(cli);
		struct sf_apply_opts ao = {.parallelism = 1, .providers = &ws.prov, .run_id = run_id,
					   .cancel = sf_run_cancel_flag(), .event = on_event,
					   .progress_interval = sf_progress_interval(),
					   .lock_id = journal.locked ? journal.lock_id : NULL};
		struct sf_apply_result res;
		int r = sf_apply(&plan, &cfg, journal.st, &ao, &res, &err);
		struct sf_err e2 = SF_ERR_INIT;
		sf_state_run_end(journal.st, run_id, r == 0 ? "ok" : r == SF_EINTR ? "interrupted" : "error", NULL, &e2);
		if (r != 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
	}
	struct sf_resource *row = NULL;
	struct sf_err err = SF_ERR_INIT;
	if (sf_state_get(journal.st, address, &row, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	out = json_incref(row->attrs);
	sf_resource_free(row);
	reused = reused || json_is_true(json_object_get(out, "reused"));
	if (cli->json) {
		char *s = json_dumps(out, JSON_SORT_KEYS | JSON_INDENT(2));
		fprintf(cli->out, "%s\n", s);
		free(s);
	} else {
		fprintf(cli->out, "%s\n", json_string_value(json_object_get(out, "id")));
		fprintf(cli->errf, "%s %s (bake key %s, base %s)\n", reused ? "reused" : "baked",
			json_string_value(json_object_get(out, "id")), json_string_value(json_object_get(out, "bake_key")),
			json_string_value(json_object_get(out, "base_ami_id")));
	}
	rc = SF_EXIT_OK;
done:
	json_decref(out);
	json_decref(want);
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	sf_cluster_release(&cl);
	free(sub_state);
	free(prof_state);
	free(address);
	free(path);
	sf_run_close(&journal);
	sf_run_close(&ws);
	return rc;
}
