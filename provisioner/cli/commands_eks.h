/*
 * commands_eks.h - `secfaas bake`, implemented in cmd_bake.c (a row of
 * the command table in main.c).
 *
 *   secfaas bake SPEC [--arch x86_64|arm64] [--subnet-id ID]
 *                     [--instance-profile NAME] [--json]
 *       bakes (or finds, by its content address) the gVisor AMI the spec's
 *       gVisor node groups would use and prints its id.  The image is the
 *       one `apply` then reuses: same bake key, same tags.  The builder
 *       needs a subnet with a route to the internet and an instance
 *       profile; without the flags they are taken from the workspace's
 *       state (aws_subnet.public_a, aws_iam_instance_profile.ami_builder)
 *       when it has been applied.  Global --region/--profile/--state apply.
 *       The bake is journaled in "<state>.bake" next to the workspace state
 *       (".db" replaced), so an interrupted bake resumes where it stopped.
 *
 * argv[0] is the command name.  Exit 0 and the image id on stdout, 1 on
 * any error (printed).
 */
#ifndef SF_COMMANDS_EKS_H
#define SF_COMMANDS_EKS_H

#include "provisioner/cli/cli.h"

#define SF_BAKE_USAGE                                                                                 \
	"usage: secfaas bake SPEC [--arch x86_64|arm64] [--subnet-id ID] [--instance-profile NAME] [--json]\n" \
	"Bake (or find by its content address) the gVisor AMI of the spec and print its id.\n"             \
	"Without --subnet-id/--instance-profile the builder uses the workspace's applied network.\n"

int cmd_bake(struct sf_cli *cli, int argc, char **argv);

#endif
