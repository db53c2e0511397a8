/* cmd_eks_token.c - `secfaas eks-token`: the kubeconfig exec plugin. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "provisioner/cli/commands_aws.h"

/* kubectl passes {"apiVersion": "...", "kind": "ExecCredential", ...}; echo
 * its apiVersion when it is one we can speak. Returns a borrowed string. */
static const char *exec_api_version(json_t **hold)
{
	const char *info = getenv("KUBERNETES_EXEC_INFO");
	*hold = NULL;
	if (!info || !*info)
		return NULL;
	*hold = json_loads(info, 0, NULL);
	const char *v = json_string_value(json_object_get(*hold, "apiVersion"));
	if (v && (!strcmp(v, "client.authentication.k8s.io/v1beta1") || !strcmp(v, "client.authentication.k8s.io/v1")))
		return v;
	return NULL;
}

int cmd_eks_token(struct sf_cli *cli, int argc, char **argv)
{
	const char *region = cli->region, *profile = cli->profile, *cluster = NULL, *role = NULL, *v = NULL;
	int m;
	for (int i = 1; i < argc; i++) {
		if ((m = sf_opt_match(argc, argv, &i, "cluster", 1, &v)) ||
		    (m = sf_opt_match(argc, argv, &i, "cluster-name", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--cluster needs a value; see `secfaas eks-token --help`");
			cluster = v;
		} else if ((m = sf_opt_match(argc, argv, &i, "region", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--region needs a value; see `secfaas eks-token --help`");
			region = v;
		} else if ((m = sf_opt_match(argc, argv, &i, "profile", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--profile needs a value; see `secfaas eks-token --help`");
			profile = v;
		} else if ((m = sf_opt_match(argc, argv, &i, "role-arn", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--role-arn needs a value; see `secfaas eks-token --help`");
			role = v;
		} else if (sf_opt_match(argc, argv, &i, "help", 0, NULL) == 1) {
			fputs(SF_EKS_TOKEN_USAGE, cli->out);
			return SF_EXIT_OK;
		} else if (argv[i][0] == '-') {
			return sf_cli_unknown_option(cli, "eks-token", argv[i]);
		} else {
			return sf_cli_errorf(cli, "unexpected argument %s for eks-token; see `secfaas eks-token --help`",
					     argv[i]);
		}
	}
	if (!cluster || !*cluster)
		return sf_cli_errorf(cli, "eks-token needs --cluster NAME; see `secfaas eks-token --help`");

	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	struct sf_aws *c = NULL;
	char *token = NULL;
	double expires = 0;
	o.region = region;
	o.profile = profile;
	if (sf_aws_new(&c, &o, &err) < 0 || sf_eks_token(c, cluster, role, &token, &expires, &err) < 0) {
		sf_aws_free(c);
		return sf_cli_error(cli, &err);
	}
	sf_aws_free(c);
	json_t *hold = NULL;
	char *out = sf_eks_exec_credential(token, expires, exec_api_version(&hold));
	fprintf(cli->out, "%s\n", out);
	json_decref(hold);
	free(out);
	free(token);
	return SF_EXIT_OK;
}
