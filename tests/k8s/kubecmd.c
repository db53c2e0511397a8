/*
 * kubecmd.c - runs `kubeconfig`, `verify` and `output` the way main.c will
 * once they are in its command table: tests/k8s/test.sh builds it against
 * build/libsecfaas.a when `secfaas verify --help` is not available yet.
 * Global options understood: --state PATH, --json, --region R.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provisioner/cli/commands_kube.h"
#include "util.h"

int main(int argc, char **argv)
{
	struct sf_cli cli;
	memset(&cli, 0, sizeof cli);
	cli.argv0 = argv[0];
	cli.out = stdout;
	cli.errf = stderr;
	cli.lock = 1;
	sf_log_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (sf_opt_match(argc, argv, &i, "state", 1, &cli.state_path) > 0 ||
		    sf_opt_match(argc, argv, &i, "region", 1, &cli.region) > 0)
			continue;
		if (!strcmp(argv[i], "--json")) {
			cli.json = 1;
			continue;
		}
		rest[n++] = argv[i];
	}
	int rc = 1;
	if (n && !strcmp(rest[0], "kubeconfig"))
		rc = cmd_kubeconfig(&cli, n, rest);
	else if (n && !strcmp(rest[0], "verify"))
		rc = cmd_verify(&cli, n, rest);
	else if (n && !strcmp(rest[0], "output"))
		rc = cmd_output(&cli, n, rest);
	else
		fprintf(stderr, "usage: kubecmd kubeconfig|verify|output ...\n");
	free(rest);
	fflush(stdout);
	curl_global_cleanup();
	return rc;
}
