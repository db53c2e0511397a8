/* cmd_validate.c - `secfaas validate`: offline checks, every error at
 * file:line:col; `secfaas schema`: the same rules as a JSON Schema. */
#include <stdlib.h>
#include <string.h>

#include "provisioner/cli/commands.h"
#include "provisioner/cli/run.h"
#include "provisioner/kinds/kinds.h"
#include "util.h"

int cmd_validate(struct sf_cli *cli, int argc, char **argv)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	int nspecs = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			return sf_cli_unknown_option(cli, "validate", argv[i]);
		sf_run_load_set(cli, argv[i], &set, &d, NULL, NULL);
		nspecs++;
	}
	if (!nspecs)
		sf_run_load_set(cli, NULL, &set, &d, NULL, NULL);
	size_t docs = set.n;
	if (!d.nerrors) {
		/* Validate every workspace in the set, not only one. */
		const char **ws;
		size_t nws = sf_config_workspaces(&set, &ws);
		if (!nws) {
			struct sf_config cfg = SF_CONFIG_INIT;
			sf_config_build(&cfg, &set, NULL, &d);
			sf_config_release(&cfg);
		}
		for (size_t i = 0; i < nws; i++) {
			struct sf_config cfg = SF_CONFIG_INIT;
			sf_config_build(&cfg, &set, ws[i], &d);
			sf_config_release(&cfg);
			if (d.nerrors)
				break; /* document errors repeat per workspace; report once */
		}
		free(ws);
	}
	int rc = d.nerrors ? SF_EXIT_ERROR : SF_EXIT_OK;
	if (cli->json) {
		json_t *diags = json_array();
		for (size_t i = 0; i < d.n; i++) {
			const struct sf_diag *g = &d.v[i];
			json_array_append_new(diags, json_pack("{s:s, s:s, s:s?, s:i, s:i}", "severity",
							       g->sev == SF_SEV_ERROR ? "error" : "warning", "message", g->msg,
							       "file", g->pos.file, "line", g->pos.line, "column", g->pos.col));
		}
		json_t *j = json_pack("{s:b, s:i, s:i, s:o}", "valid", !d.nerrors, "error_count", (int)d.nerrors,
				      "documents", (int)docs, "diagnostics", diags);
		sf_cli_print_json(cli, j);
	} else {
		sf_diags_print(&d, cli->errf, cli->color);
		if (d.nerrors)
			fprintf(cli->errf, "secfaas: %zu error%s found\n", d.nerrors, d.nerrors == 1 ? "" : "s");
		else
			fprintf(cli->out, "Success! %zu document%s valid.\n", docs, docs == 1 ? " is" : "s are");
	}
	sf_diags_release(&d);
	sf_specset_release(&set);
	return rc;
}

int cmd_schema(struct sf_cli *cli, int argc, char **argv)
{
	if (argc > 1)
		return argv[1][0] == '-' ? sf_cli_unknown_option(cli, "schema", argv[1])
					 : sf_cli_errorf(cli, "schema takes no arguments; see `secfaas schema --help`");
	json_t *j = sf_kinds_json_schema();
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fprintf(cli->out, "%s\n", s ? s : "null");
	free(s);
	json_decref(j);
	return SF_EXIT_OK;
}
