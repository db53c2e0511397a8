/*
 * drive.c - a tiny command-line driver over the aws/ client for the
 * integration suite (tests/aws/test.sh compiles it against libsecfaas.a).
 *
 *   drive query SERVICE ACTION [JSON]        sf_aws_query
 *   drive rest SERVICE METHOD PATH [JSON]    sf_aws_rest_json
 *   drive json SERVICE TARGET [JSON]         sf_aws_json
 *   drive whoami                             account arn source
 *   drive token CLUSTER                      the EKS token
 *
 * Prints the JSON result on stdout; on failure one line
 * "error <code-name> <aws-code> <http-status>: <message>" on stderr, exit 1.
 * Region/profile come from the environment, like the CLI.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "log.h"

static json_t *arg_json(int argc, char **argv, int i)
{
	if (i >= argc)
		return NULL;
	json_error_t je;
	json_t *j = json_loads(argv[i], 0, &je);
	if (!j) {
		fprintf(stderr, "drive: bad JSON argument: %s\n", je.text);
		exit(2);
	}
	return j;
}

int main(int argc, char **argv)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws *c = NULL;
	json_t *out = NULL, *in = NULL;
	int rc = -1;
	sf_log_init();
	if (argc < 2) {
		fprintf(stderr, "usage: drive query|rest|json|whoami|token ...\n");
		return 2;
	}
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	if (sf_aws_new(&c, &o, &err) < 0)
		goto done;
	if (!strcmp(argv[1], "query") && argc >= 4) {
		in = arg_json(argc, argv, 4);
		rc = sf_aws_query(c, argv[2], argv[3], in, &out, &err);
	} else if (!strcmp(argv[1], "rest") && argc >= 5) {
		in = arg_json(argc, argv, 5);
		char *q = strchr(argv[4], '?');
		if (q)
			*q++ = 0;
		rc = sf_aws_rest_json(c, argv[2], argv[3], argv[4], q, in, &out, &err);
	} else if (!strcmp(argv[1], "json") && argc >= 4) {
		in = arg_json(argc, argv, 4);
		rc = sf_aws_json(c, argv[2], argv[3], in, &out, &err);
	} else if (!strcmp(argv[1], "whoami")) {
		struct sf_aws_identity id;
		rc = sf_aws_whoami(c, &id, &err);
		if (rc == 0)
			printf("%s %s %s\n", id.account, id.arn, id.source);
	} else if (!strcmp(argv[1], "token") && argc >= 3) {
		char *tok = NULL;
		double exp;
		rc = sf_eks_token(c, argv[2], argc > 3 ? argv[3] : NULL, &tok, &exp, &err);
		if (rc == 0)
			printf("%s\n", tok);
		free(tok);
	} else {
		fprintf(stderr, "drive: bad arguments\n");
		rc = 2;
		goto done;
	}
	if (rc == 0 && out) {
		char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
	}
done:
	if (rc < 0 || (!c && rc != 2)) {
		fprintf(stderr, "error %s %s %d: %s%s%s\n", sf_code_name(err.code), err.aws_code[0] ? err.aws_code : "-",
			err.http_status, err.msg, err.hint[0] ? "; " : "", err.hint);
		rc = 1;
	}
	json_decref(out);
	json_decref(in);
	sf_aws_free(c);
	return rc;
}
