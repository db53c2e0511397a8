/*
 * commands_aws.h - the AWS-facing commands implemented in cmd_whoami.c and
 * cmd_eks_token.c (rows of the command table in main.c).
 *
 *   secfaas whoami [--json]
 *       account, ARN, user id, region and the credential source in use.
 *   secfaas eks-token --cluster NAME [--region R] [--role-arn ARN]
 *       an ExecCredential (client.authentication.k8s.io/v1beta1, or the
 *       apiVersion found in KUBERNETES_EXEC_INFO) whose token is what
 *       `aws eks get-token` produces; used as the kubeconfig exec plugin.
 *
 * Both take the global --region/--profile from struct sf_cli; argv[0] is
 * the command name.
 */
#ifndef SF_COMMANDS_AWS_H
#define SF_COMMANDS_AWS_H

#include "provisioner/cli/cli.h"

#define SF_WHOAMI_USAGE                                                                     \
	"usage: secfaas whoami [--json] [--region R] [--profile P]\n"                          \
	"Print the AWS account, caller ARN and which credential source supplied the keys.\n"

#define SF_EKS_TOKEN_USAGE                                                                    \
	"usage: secfaas eks-token --cluster NAME [--region R] [--role-arn ARN] [--profile P]\n"  \
	"Print an ExecCredential with an EKS bearer token (what `aws eks get-token` prints).\n" \
	"The apiVersion echoes KUBERNETES_EXEC_INFO when kubectl sets it.\n"

int cmd_whoami(struct sf_cli *cli, int argc, char **argv);
int cmd_eks_token(struct sf_cli *cli, int argc, char **argv);

#endif
