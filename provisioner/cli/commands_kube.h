/*
 * commands_kube.h - the Kubernetes-facing commands in cmd_kube.c (rows of
 * the command table in main.c).
 *
 *   secfaas kubeconfig NAME [--kubeconfig PATH]
 *       writes or merges cluster/user/context "secfaas-NAME" into PATH
 *       (default $KUBECONFIG's first entry, else ~/.kube/config, mode 0600)
 *       and makes it current; the user runs `secfaas eks-token` as its exec
 *       credential plugin, so kubectl works without the aws CLI.
 *   secfaas verify NAME
 *       deploys a probe function through the OpenFaaS gateway, invokes it and
 *       proves its pod ran with RuntimeClass gvisor on a gVisor node (pod,
 *       node and the function's own report / gVisor kernel banner); checks
 *       the admission guard fails closed; prints a pass/fail report, exits 1
 *       on any failure, and always removes its probe.  Probe image:
 *       ghcr.io/openfaas/alpine:latest (SECFAAS_VERIFY_IMAGE overrides it).
 *   secfaas output [NAME] [OUTPUT] [--raw] [--show-sensitive] [--json]
 *       the workspace's outputs (cluster name and endpoint, kubeconfig
 *       context, gateway URL, OpenFaaS user and password); one by name,
 *       --raw for scripts; sensitive values hidden in listings.
 *
 * NAME is the workspace (metadata.name; state .secfaas/NAME.db, or --state).
 * The connection comes from state: eks_cluster.main (endpoint, ca_data,
 * name), else the first k8s_* resource's connection attributes.
 */
#ifndef SF_COMMANDS_KUBE_H
#define SF_COMMANDS_KUBE_H

#include "provisioner/cli/cli.h"

#define SF_KUBECONFIG_USAGE                                                                       \
	"usage: secfaas kubeconfig NAME [--kubeconfig PATH]\n"                                    \
	"Write or merge a kubeconfig entry for workspace NAME whose user runs `secfaas eks-token`\n" \
	"(default PATH: $KUBECONFIG, else ~/.kube/config) and make it the current context.\n"

#define SF_VERIFY_USAGE                                                                             \
	"usage: secfaas verify NAME [--timeout DUR]\n"                                              \
	"Deploy a probe function through the OpenFaaS gateway, invoke it, and prove it ran under\n" \
	"RuntimeClass gvisor on a gVisor node; from a second probe, try the IMDS token endpoint,\n"  \
	"the Kubernetes API, NATS, the webhook and another function (each must fail) and cluster\n" \
	"DNS (must answer); check every node group's IMDS hop limit is 1. Prints a report; exits\n" \
	"1 if any check fails.\n"

#define SF_OUTPUT_USAGE                                                                          \
	"usage: secfaas output [NAME] [OUTPUT] [--raw] [--show-sensitive] [--json]\n"            \
	"Print workspace NAME's outputs: cluster_name, cluster_endpoint, kubeconfig_context,\n"  \
	"gateway_url, openfaas_username, openfaas_password.  gateway_url is read from the\n"    \
	"cluster: the load balancer, else (or when its name does not resolve) a node's\n"       \
	"address and the node port.  Listings hide sensitive values (null with --json)\n"      \
	"unless --show-sensitive; one OUTPUT asked for by name is printed as is, and with\n"   \
	"--raw without quotes or newline, for scripts.\n"

int cmd_kubeconfig(struct sf_cli *cli, int argc, char **argv);
int cmd_verify(struct sf_cli *cli, int argc, char **argv);
int cmd_output(struct sf_cli *cli, int argc, char **argv);

#endif
