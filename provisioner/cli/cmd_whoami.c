/* cmd_whoami.c - `secfaas whoami`: who AWS thinks we are, and why. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "provisioner/cli/commands_aws.h"

int cmd_whoami(struct sf_cli *cli, int argc, char **argv)
{
	const char *region = cli->region, *profile = cli->profile, *v = NULL;
	int json = cli->json, m;
	for (int i = 1; i < argc; i++) {
		if (sf_opt_match(argc, argv, &i, "json", 0, NULL) == 1) {
			json = 1;
		} else if ((m = sf_opt_match(argc, argv, &i, "region", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--region needs a value; see `secfaas whoami --help`");
			region = v;
		} else if ((m = sf_opt_match(argc, argv, &i, "profile", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--profile needs a value; see `secfaas whoami --help`");
			profile = v;
		} else if (sf_opt_match(argc, argv, &i, "help", 0, NULL) == 1) {
			fputs(SF_WHOAMI_USAGE, cli->out);
			return SF_EXIT_OK;
		} else if (argv[i][0] == '-') {
			return sf_cli_unknown_option(cli, "whoami", argv[i]);
		} else {
			return sf_cli_errorf(cli, "unexpected argument %s for whoami; see `secfaas whoami --help`", argv[i]);
		}
	}
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	struct sf_aws *c = NULL;
	struct sf_aws_identity id;
	o.region = region;
	o.profile = profile;
	if (sf_aws_new(&c, &o, &err) < 0 || sf_aws_whoami(c, &id, &err) < 0) {
		sf_aws_free(c);
		return sf_cli_error(cli, &err);
	}
	sf_aws_free(c);
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "account", id.account, "arn", id.arn, "user_id",
				      id.user_id, "region", id.region, "credential_source", id.source);
		char *s = json_dumps(j, JSON_INDENT(2));
		fprintf(cli->out, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		fprintf(cli->out, "account:  %s\narn:      %s\nuser id:  %s\nregion:   %s\nsource:   %s\n", id.account,
			id.arn, id.user_id, id.region, id.source);
	}
	return SF_EXIT_OK;
}
