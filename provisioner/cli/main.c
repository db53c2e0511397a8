/*
 * main.c - global options, the command table, dispatch, exit codes.
 *
 * Global options may appear before or after the command name, GNU style
 * (--name, --name=value, --name value) or Terraform's single dash
 * (-auto-approve).  Handlers get the remaining arguments.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "pool.h"
#include "provisioner/cli/commands.h"
#include "provisioner/cli/commands_aws.h"
#include "provisioner/cli/commands_eks.h"
#include "provisioner/cli/commands_kube.h"
#include "provisioner/cli/settings.h"
#include "provisioner/spec/schema.h"
#include "state/state.h"
#include "util.h"

#define GLOBAL_HELP                                                                                         \
	"Global options (before or after the command; -name works like --name):\n"                          \
	"  --state PATH          one state file (default .secfaas/<metadata.name>.db)\n"                   \
	"  --backend URL|DIR     where workspaces' state lives: a postgres:// URL shared by every\n"       \
	"                        runner, or a directory of state files (default .secfaas)\n"             \
	"  --backend-schema NAME PostgreSQL schema of the state tables (default secfaas)\n"             \
	"  --workspace NAME      pick one workspace when the spec holds several\n"                          \
	"  --json                machine-readable output\n"                                                 \
	"  --no-color            no ANSI colors (also NO_COLOR=1, or stdout not a terminal)\n"              \
	"  --parallelism N       concurrent operations during apply (default 10)\n"                         \
	"  --auto-approve        do not ask before applying or destroying\n"                                \
	"  --detailed-exitcode   plan/apply: exit 2 when there are changes, 0 when none, 1 on error\n"      \
	"  --lock=false          do not lock the state (dangerous)\n"                                       \
	"  --lock-timeout DUR    wait this long for a lock (default 0s: fail at once)\n"                    \
	"  --input=false         never prompt\n"                                                            \
	"  --region R, --profile P   AWS region and profile\n"                                              \
	"  --ttl DUR             apply: make the workspace ephemeral (overrides metadata.ttl)\n"          \
	"  --repo PATH|URL       read specs from a git repository (local path, file://, remote URL)\n"   \
	"  --ref REF             branch, tag or commit in --repo (default HEAD); SPEC is a path inside it\n" \
	"  --subpath DIR         with --repo: the directory inside it that holds the specs\n"            \
	"  --allow-dirty         use a local working tree with uncommitted changes\n"                    \
	"  --force-conflicts     server-side apply takes ownership of fields other managers own\n"       \
	"  --help, -h            this help\n"

/* Every variable secfaas itself reads (the cli suite checks the sources
 * against this table); AWS's standard variables are AWS's. */
static const struct sf_envvar env_vars[] = {
	{"SECFAAS_LOG", "log level on stderr: error, warn (default), info, debug, trace; secrets are redacted"},
	{"SECFAAS_LOG_PATH", "also append the log to this file"},
	{"NO_COLOR", "no ANSI colors (like --no-color)"},
	{"SECFAAS_SPEC", "the spec when no SPEC argument is given (default ./secfaas.yaml)"},
	{"SECFAAS_WORKSPACE", "the workspace when the spec holds several (like --workspace)"},
	{"SECFAAS_STATE_PASSPHRASE",
	 "passphrase (16+ characters) for the state's sensitive attributes (AES-256-GCM, PBKDF2-SHA512 key)"},
	{"SECFAAS_STATE_KEY_FILE", "file holding the state key (default <state>.key, created mode 0600)"},
	{"SECFAAS_STATE_KMS_KEY_ID",
	 "AWS KMS key (id, ARN or alias) whose data key seals the state's secrets (like backend.kmsKeyId)"},
	{"SECFAAS_BACKEND", "where the state lives: a postgres:// URL or a directory of state files (like --backend)"},
	{"SECFAAS_BACKEND_SCHEMA", "PostgreSQL schema of the state tables (like --backend-schema)"},
	{"SECFAAS_IN_AUTOMATION", "any value: leave out \"run `secfaas ...` next\" hints meant for a person at a terminal"},
	{"SECFAAS_ROUND", "apply: claim each workspace once per this name, e.g. the commit (like --round)"},
	{"SECFAAS_TTL", "apply: make the workspace ephemeral for this long (like --ttl)"},
	{"SECFAAS_FORCE_CONFLICTS", "1: server-side apply takes fields other managers own (like --force-conflicts)"},
	{"SECFAAS_MODULE_PATH", "colon-separated directories searched for modules before the installed ones"},
	{"SECFAAS_POLL_SCALE",
	 "multiply AWS waiters' poll delays (default 1; 0.001 against a simulator running 1000x faster)"},
	{"SECFAAS_PROGRESS_INTERVAL",
	 "how often apply prints \"Still creating...\" for a long operation (default 10s)"},
	{"SECFAAS_VERIFY_IMAGE", "verify: the probe function's image (default ghcr.io/openfaas/alpine:latest)"},
};

const char *sf_cli_global_help(void)
{
	return GLOBAL_HELP;
}

const struct sf_envvar *sf_cli_env(size_t *n)
{
	*n = SF_ARRAY_LEN(env_vars);
	return env_vars;
}

static void env_help(FILE *f)
{
	fputs("Environment:\n", f);
	for (size_t i = 0; i < SF_ARRAY_LEN(env_vars); i++)
		fprintf(f, "  %-26s %s\n", env_vars[i].name, env_vars[i].help);
	fputs("  and AWS's standard variables (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_CA_BUNDLE, ...)\n", f);
	fputs("Settings: a secfaas.yaml in the repository root with a `backend:` section (url, schema,\n"
	      "  kmsKeyId) is read by every command; options and environment win over it.\n", f);
}

static const struct sf_cmd commands[] = {
	{"apply", cmd_apply, "create or update infrastructure to match the spec",
	 "usage: secfaas apply [SPEC | PLANFILE] [--auto-approve] [--replace ADDR]... [--target ADDR]...\n"
	 "                     [--destroy] [--refresh=false] [--full]\n"
	 "       secfaas apply --all [SPECDIR] --auto-approve [--prune] [--cluster-parallelism N]\n"
	 "                     [--round NAME] [--skip-locked]\n"
	 "\n"
	 "Plans, shows the plan, asks for 'yes' (on a terminal), then applies it as a\n"
	 "dependency graph (--parallelism N at once). With a saved PLANFILE from\n"
	 "`secfaas plan --out`, applies exactly that plan without asking, and refuses it if\n"
	 "the state changed since it was made. Interrupted or killed runs are resumed by\n"
	 "running apply again. --full prints long created values (manifests) in full.\n"
	 "\n"
	 "--all applies every workspace (cluster) in the spec directory, N at once\n"
	 "(--cluster-parallelism, default 2); --prune also destroys workspaces whose spec\n"
	 "was removed. Started on several runners against one shared state, each\n"
	 "workspace goes to one of them: a workspace another runner holds is skipped\n"
	 "(--skip-locked, which --all implies), and with --round NAME (SECFAAS_ROUND) one\n"
	 "applied in that round already is skipped too. The summary says which this runner\n"
	 "applied and which it left to others.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas apply examples/minimal.yaml\n"
	 "  secfaas plan cluster.yaml --out tfplan && secfaas apply tfplan\n"
	 "  secfaas apply cluster.yaml --auto-approve --parallelism 4\n"
	 "  secfaas apply --all --repo . --ref \"$GITHUB_SHA\" --round \"$GITHUB_SHA\" --auto-approve\n",
	 "destroy refresh=false replace= target= all prune cluster-parallelism= full round= skip-locked", NULL},
	{"bake", cmd_bake, "bake (or find) the gVisor AMI of a spec and print its id",
	 SF_BAKE_USAGE "\nexample:\n  secfaas bake examples/minimal.yaml --arch x86_64\n",
	 "arch= subnet-id= instance-profile=", NULL},
	{"completion", cmd_completion, "print a shell completion script (bash, zsh, fish) or the man page",
	 "usage: secfaas completion bash|zsh|fish|man\n"
	 "\n"
	 "Prints a completion script for the shell, made from the same command and option\n"
	 "tables as --help, or the man page (roff).\n"
	 "\n"
	 "examples:\n"
	 "  source <(secfaas completion bash)\n"
	 "  secfaas completion zsh > \"${fpath[1]}/_secfaas\"\n"
	 "  secfaas completion fish > ~/.config/fish/completions/secfaas.fish\n"
	 "  secfaas completion man | man -l -\n",
	 "", "bash zsh fish man"},
	{"destroy", cmd_destroy, "destroy everything the state tracks for a workspace",
	 "usage: secfaas destroy [SPEC | --state-only] [--auto-approve] [--target ADDR]... [--refresh=false]\n"
	 "                       [--full]\n"
	 "\n"
	 "Plans the destruction of every resource in the workspace's state, shows it, asks\n"
	 "for 'yes', then deletes in reverse dependency order. --state-only (or --state\n"
	 "FILE) destroys what the state records without reading a spec.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas destroy examples/minimal.yaml\n"
	 "  secfaas destroy --state .secfaas/fn-staging.db --auto-approve\n"
	 "  secfaas destroy --workspace fn-staging --state-only --auto-approve\n",
	 "refresh=false target= full state-only", NULL},
	{"eks-token", cmd_eks_token, "print an EKS bearer token as a kubectl ExecCredential",
	 SF_EKS_TOKEN_USAGE
	 "\nexample:\n  secfaas eks-token --cluster fn-staging --region eu-west-1\n",
	 "cluster= role-arn=", NULL},
	{"fmt", cmd_fmt, "rewrite spec files in the canonical layout, comments kept",
	 "usage: secfaas fmt [PATH...] [--check] [--diff]\n"
	 "\n"
	 "Rewrites each spec file (a file, or the .yaml/.yml files of a directory;\n"
	 "default $SECFAAS_SPEC or ./secfaas.yaml) in one layout: two-space indentation,\n"
	 "one space after a colon, a mapping's sequences at the key's column, no line\n"
	 "wrapping, each value in the style it was written in (flow stays flow, quoted\n"
	 "stays quoted), comments kept, runs of blank lines kept as one. It never changes\n"
	 "what a file says: the result is read back and must give the same YAML and the\n"
	 "same comments, else the file is left alone with an error. Prints the name of\n"
	 "each file it changed.\n"
	 "\n"
	 "  --check  change nothing; list the files that are not formatted; exit 3 if any\n"
	 "  --diff   print a unified diff of each change (with --check: only the diff)\n"
	 "\n"
	 "examples:\n"
	 "  secfaas fmt examples/\n"
	 "  secfaas fmt --check --diff specs/    # in CI: exit 3 and the diff when unformatted\n",
	 "check diff", NULL},
	{"force-unlock", cmd_force_unlock, "remove a stale state lock by its exact ID",
	 "usage: secfaas force-unlock LOCK_ID [--force] [SPEC]\n"
	 "\n"
	 "Removes the lock only if LOCK_ID matches it exactly. A lock with a fresh\n"
	 "heartbeat held by a live process needs --force.\n"
	 "\n"
	 "example:\n"
	 "  secfaas force-unlock 4b1e0c2a-8f3d-4d7e-9a51-0c2d3e4f5a6b --state .secfaas/demo.db\n",
	 "force", NULL},
	{"gc", cmd_gc, "destroy expired ephemeral workspaces and sweep AWS for orphaned secfaas objects",
	 "usage: secfaas gc [--dry-run] [--auto-approve] [--state-dir DIR] [--dead-workspace NAME]... [--now TIME]\n"
	 "                  [--no-sweep]\n"
	 "\n"
	 "1. Every workspace of the backend - each state file in DIR (default .secfaas),\n"
	 "   or every workspace of a shared PostgreSQL state - with an expiry recorded from\n"
	 "   metadata.ttl or `apply --ttl` that has passed is destroyed from its state,\n"
	 "   under its own lock.\n"
	 "2. Then (unless --no-sweep) AWS is searched for objects tagged secfaas:workspace\n"
	 "   whose secfaas:expires-at has passed, or whose state in DIR never recorded\n"
	 "   them (a run killed before its intent was written), and they are deleted in\n"
	 "   dependency order. Objects of a workspace no state in DIR knows may be live\n"
	 "   elsewhere: they are listed, never deleted, unless the workspace is named\n"
	 "   with --dead-workspace (its states outside DIR are dead: a lost state file).\n"
	 "   Objects without secfaas tags, and objects a live state recorded, are never\n"
	 "   touched (docs/gc.md).\n"
	 "\n"
	 "Without --auto-approve (or with --dry-run) gc only lists. \"Now\" is the AWS\n"
	 "server's time (--now overrides). Exit 1 if anything expired or orphaned is left\n"
	 "(so a dry run exits 1 when there is work).\n"
	 "\n"
	 "examples:\n"
	 "  secfaas gc                       # list what has expired or leaked\n"
	 "  secfaas gc --auto-approve        # remove it (cron/CI)\n"
	 "  secfaas gc --dead-workspace fn-old --auto-approve   # fn-old's state was lost: delete its objects\n",
	 "dry-run no-sweep state-dir= dead-workspace= now=", NULL},
	{"help", cmd_help, "show help for a command", "usage: secfaas help [COMMAND]\n",
	 "", NULL},
	{"import", cmd_import, "adopt an existing object into the state",
	 "usage: secfaas import ADDRESS ID [SPEC]\n"
	 "\n"
	 "Reads the live object with this ID (the resource must be declared in the spec,\n"
	 "which gives its type and settings) and records it in the state, so secfaas manages\n"
	 "it from now on. The next plan shows any differences from the spec.\n"
	 "\n"
	 "example:\n"
	 "  secfaas import test_object.a obj-0123456789abcdef stack.yaml\n",
	 "", NULL},
	{"kubeconfig", cmd_kubeconfig, "write or merge a kubeconfig for a cluster (exec: secfaas eks-token)",
	 SF_KUBECONFIG_USAGE "\nexample:\n  secfaas kubeconfig fn-staging --kubeconfig ~/.kube/config && kubectl get nodes\n",
	 "kubeconfig=", NULL},
	{"output", cmd_output, "print workspace outputs (OpenFaaS gateway, admin password on request)",
	 SF_OUTPUT_USAGE "\nexamples:\n  secfaas output fn-staging\n"
			 "  curl -u admin:\"$(secfaas output fn-staging --raw openfaas_password)\" \"$(secfaas output fn-staging --raw gateway_url)/system/functions\"\n",
	 "raw show-sensitive", NULL},
	{"plan", cmd_plan, "show what apply would change",
	 "usage: secfaas plan [SPEC] [--out FILE] [--destroy | --refresh-only] [--refresh=false]\n"
	 "                    [--replace ADDR]... [--target ADDR]... [--detailed-exitcode] [--json] [--full]\n"
	 "       secfaas plan --all [--prune] [--summary] [--cluster-parallelism N] [SPECDIR]\n"
	 "\n"
	 "Reads the spec (a file or a directory of *.yaml), refreshes recorded resources,\n"
	 "and prints the changes per attribute: + create, ~ update in place, -/+ replace\n"
	 "(the forcing attribute is marked), +/- replace creating the new one first,\n"
	 "- destroy. --out saves the plan for `secfaas apply FILE`. Updates hide unchanged\n"
	 "attributes; a long created value (a manifest) is one line unless --full.\n"
	 "--all plans every workspace in the spec directory, N at once (--cluster-parallelism,\n"
	 "default 4), one section each in order, and ends with a summary table (--summary:\n"
	 "the table only); --prune also plans destroying the workspaces whose spec was\n"
	 "removed.  A plan writes no state: a workspace never applied gets none.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas plan examples/minimal.yaml\n"
	 "  secfaas plan specs/ --detailed-exitcode --json > plan.json; echo $?\n"
	 "  secfaas plan cluster.yaml --out tfplan\n",
	 "out= destroy refresh-only refresh=false replace= target= all prune summary full cluster-parallelism=", NULL},
	{"refresh", cmd_refresh, "update the state from the live objects (after review)",
	 "usage: secfaas refresh [SPEC] [--auto-approve] [--target ADDR]... [--full]\n"
	 "       secfaas refresh --all [SPECDIR] --auto-approve [--summary] [--cluster-parallelism N]\n"
	 "\n"
	 "Same as `plan --refresh-only`, then asks before writing the refreshed\n"
	 "attributes to the state (one transaction; an object found deleted outside\n"
	 "secfaas, or whose name another owner now holds, leaves the state).\n"
	 "--detailed-exitcode: 2 when the state was updated.\n"
	 "\n"
	 "--all refreshes every workspace of the spec directory or repository (as plan\n"
	 "--all selects them), N at once (--cluster-parallelism, default 4), each under\n"
	 "its own lock, reading each AWS type once per region for the whole fleet. A\n"
	 "workspace another run holds is skipped with a line naming the holder; a stale\n"
	 "lock is an error. Exit 1 if any workspace failed, else 2 with\n"
	 "--detailed-exitcode if any state was updated, else 0.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas refresh examples/minimal.yaml\n"
	 "  secfaas refresh --all --repo . specs --auto-approve --summary\n",
	 "refresh=false target= full all summary cluster-parallelism=", NULL},
	{"render", cmd_render, "print node user data, containerd/runsc config or the bake script",
	 "usage: secfaas render node-config SPEC --node-group NAME [--artifact user-data|containerd|runsc]\n"
	 "                      [--endpoint URL --ca BASE64] [--containerd-major 1|2]\n"
	 "       secfaas render bake-script SPEC [--arch x86_64|aarch64] [--base-ami ami-...]\n"
	 "\n"
	 "Prints exactly what apply puts into a node group's launch template (AL2023 MIME\n"
	 "user data with the nodeadm NodeConfig, the containerd fragment adding the runsc\n"
	 "handler, runsc.toml) or the AMI bake script. Offline; the cluster endpoint and CA\n"
	 "are placeholders until the cluster exists.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas render node-config examples/minimal.yaml --node-group sandbox\n"
	 "  secfaas render node-config examples/minimal.yaml --node-group sandbox --artifact containerd --containerd-major 1\n"
	 "  secfaas render bake-script examples/minimal.yaml --arch x86_64\n",
	 "node-group= artifact= endpoint= ca= containerd-major= arch= base-ami=", "node-config bake-script"},
	{"schema", cmd_schema, "print a JSON Schema of spec documents for editors",
	 "usage: secfaas schema\n"
	 "\n"
	 "Prints a JSON Schema (draft 2020-12) of one spec document, generated from the\n"
	 "same tables `secfaas validate` checks against: fields, types, enums, ranges,\n"
	 "required fields. Checks across fields (CIDR overlaps, node group names) stay\n"
	 "with validate. Point your editor's YAML language server at it.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas schema > secfaas.schema.json\n"
	 "  # first line of a spec, for yaml-language-server:\n"
	 "  # yaml-language-server: $schema=./secfaas.schema.json\n",
	 "", NULL},
	{"show", cmd_show, "show the state or a saved plan",
	 "usage: secfaas show [PLANFILE] [--json] [--full]\n"
	 "\n"
	 "Without a plan file, shows every resource in the workspace's state with its\n"
	 "attributes (secrets redacted) and the last run.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas show --state .secfaas/demo.db\n"
	 "  secfaas show tfplan --json\n",
	 "full", NULL},
	{"state", cmd_state, "inspect, edit and move the state: list, show, rm, mv, history, restore, migrate, pull",
	 "usage: secfaas state list [GLOB]\n"
	 "       secfaas state show ADDRESS\n"
	 "       secfaas state rm ADDRESS...\n"
	 "       secfaas state mv SOURCE DESTINATION\n"
	 "       secfaas state history\n"
	 "       secfaas state restore SERIAL\n"
	 "       secfaas state migrate --to postgres://...|DIR|FILE.db [--to-schema NAME]\n"
	 "       secfaas state pull [FILE.db]\n"
	 "\n"
	 "No cloud calls. rm, mv and restore lock the state, back it up first (a file to\n"
	 "<state>.backup, a shared state to a snapshot in its history) and print what changed.\n"
	 "`rm` makes secfaas forget an object without deleting it; `restore` writes the\n"
	 "resources of an earlier serial as a new serial.\n"
	 "`migrate` copies every workspace of the current backend (or the one --workspace\n"
	 "names) to a shared PostgreSQL database or to a directory of state files, with\n"
	 "lineage, serial, history and journal unchanged; a target holding another state\n"
	 "is refused. `pull` writes one workspace to a local file to inspect.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas state list --state .secfaas/demo.db\n"
	 "  secfaas state list 'local_file.*'\n"
	 "  secfaas state mv local_file.old local_file.new\n"
	 "  secfaas state migrate --to postgresql://ci@db.internal/infra\n"
	 "  secfaas --backend postgresql://ci@db.internal/infra state migrate --to .secfaas\n"
	 "  secfaas --backend postgresql://ci@db.internal/infra --workspace dev state pull dev.db\n",
	 "to= to-schema=", "list show rm mv history restore migrate pull"},
	{"validate", cmd_validate, "check specs offline (schema, references, cycles)",
	 "usage: secfaas validate [SPEC...] [--json]\n"
	 "\n"
	 "Checks every document: apiVersion, kind, unknown fields, types, required\n"
	 "fields, enums, references and cycles. Reports all errors as file:line:col.\n"
	 "Needs no credentials and touches nothing.\n"
	 "\n"
	 "examples:\n"
	 "  secfaas validate examples/minimal.yaml\n"
	 "  secfaas validate specs/ --json\n",
	 "", NULL},
	{"verify", cmd_verify, "prove functions run under gVisor: deploy, invoke and inspect a probe",
	 SF_VERIFY_USAGE "\nexample:\n  secfaas verify fn-staging\n",
	 "timeout=", NULL},
	{"version", cmd_version, "print the version", "usage: secfaas version [--json]\n",
	 "", NULL},
	{"whoami", cmd_whoami, "show the AWS identity and where its credentials came from",
	 SF_WHOAMI_USAGE "\nexample:\n  AWS_PROFILE=ci secfaas whoami --json\n",
	 "", NULL},
};

const struct sf_cmd *sf_cmd_all(size_t *n)
{
	*n = SF_ARRAY_LEN(commands);
	return commands;
}

const struct sf_cmd *sf_cmd_find(const char *name)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int sf_cmd_help(struct sf_cli *cli, const char *name, FILE *f)
{
	(void)cli;
	const struct sf_cmd *c = sf_cmd_find(name);
	if (!c)
		return SF_EXIT_ERROR;
	fputs(c->usage, f);
	fputs("\n", f);
	fputs(GLOBAL_HELP, f);
	env_help(f);
	return SF_EXIT_OK;
}

static void usage_all(FILE *f)
{
	fprintf(f, "usage: secfaas [global options] COMMAND [args]\n\n"
		   "secfaas provisions EKS clusters whose function pods run in gVisor sandboxes,\n"
		   "declaratively: plan, then apply; state in SQLite.\n\ncommands:\n");
	for (size_t i = 0; i < SF_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n%s", GLOBAL_HELP);
	env_help(f);
	fprintf(f, "\nRun `secfaas COMMAND --help` for a command's options and examples.\n");
}

int cmd_help(struct sf_cli *cli, int argc, char **argv)
{
	if (argc > 1) {
		if (sf_cmd_help(cli, argv[1], cli->out) != 0)
			return sf_cli_errorf(cli, "unknown command \"%s\"; run `secfaas help`", argv[1]);
		return 0;
	}
	usage_all(cli->out);
	return 0;
}

int cmd_version(struct sf_cli *cli, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (cli->json)
		fprintf(cli->out, "{\"secfaas_version\":\"%s\",\"state_schema\":%d,\"curl\":\"%s\"}\n", SECFAAS_VERSION,
			sf_state_schema_version(), sf_http_curl_version());
	else
		fprintf(cli->out, "secfaas %s\n", SECFAAS_VERSION);
	return 0;
}

/* Consume a global option at argv[*i]; 1 if consumed, 0 if not, -1 on error. */
static int global_opt(struct sf_cli *cli, int argc, char **argv, int *i)
{
	const char *v = NULL;
	int m;
	if ((m = sf_opt_match(argc, argv, i, "state", 1, &cli->state_path)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "backend", 1, &cli->backend)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "backend-schema", 1, &cli->backend_schema)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "region", 1, &cli->region)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "profile", 1, &cli->profile)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "workspace", 1, &v))) {
		if (m > 0)
			setenv("SECFAAS_WORKSPACE", v, 1);
		return m;
	}
	if ((m = sf_opt_match(argc, argv, i, "repo", 1, &cli->repo)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "ref", 1, &cli->ref)))
		return m;
	if ((m = sf_opt_match(argc, argv, i, "subpath", 1, &cli->subpath)))
		return m;
	if (sf_opt_match(argc, argv, i, "allow-dirty", 0, NULL) > 0)
		return cli->allow_dirty = 1;
	if (sf_opt_match(argc, argv, i, "force-conflicts", 0, NULL) > 0) {
		setenv("SECFAAS_FORCE_CONFLICTS", "1", 1);
		return 1;
	}
	if ((m = sf_opt_match(argc, argv, i, "ttl", 1, &v))) {
		double d;
		if (m < 0 || sf_duration_parse(v, &d) < 0 || d <= 0)
			return -1;
		setenv("SECFAAS_TTL", v, 1);
		return 1;
	}
	if (sf_opt_match(argc, argv, i, "json", 0, NULL) > 0)
		return cli->json = 1;
	if (sf_opt_match(argc, argv, i, "no-color", 0, NULL) > 0) {
		cli->color = 0;
		setenv("NO_COLOR", "1", 1);
		return 1;
	}
	if (sf_opt_match(argc, argv, i, "auto-approve", 0, NULL) > 0)
		return cli->auto_approve = 1;
	if (sf_opt_match(argc, argv, i, "detailed-exitcode", 0, NULL) > 0)
		return cli->detailed_exitcode = 1;
	if ((m = sf_opt_match(argc, argv, i, "parallelism", 1, &v))) {
		long long n;
		if (m < 0 || !sf_scalar_is_int(v, &n) || n < 1 || n > 256)
			return -1;
		cli->parallelism = (int)n;
		return 1;
	}
	if ((m = sf_opt_match(argc, argv, i, "lock-timeout", 1, &v))) {
		if (m < 0 || sf_duration_parse(v, &cli->lock_timeout_s) < 0)
			return -1;
		return 1;
	}
	if (sf_opt_match(argc, argv, i, "lock", 0, &v) > 0) {
		cli->lock = !(v && !strcmp(v, "false"));
		return 1;
	}
	if (sf_opt_match(argc, argv, i, "input", 0, &v) > 0) {
		if (v && !strcmp(v, "false"))
			cli->input = 0;
		return 1;
	}
	return 0;
}

/* Where state lives: options, then the environment, then the repository's
 * secfaas.yaml.  -1 (printed) when that file is not valid. */
static int resolve_backend(struct sf_cli *cli, struct sf_settings *s)
{
	const char *e;
	if (sf_settings_load(s, cli->errf, cli->color) < 0) {
		fprintf(cli->errf, "secfaas: the repository settings in %s are not valid; nothing was done\n",
			s->file ? s->file : "secfaas.yaml");
		return -1;
	}
	if (!cli->backend && (e = getenv("SECFAAS_BACKEND")) && *e)
		cli->backend = e;
	if (!cli->backend)
		cli->backend = s->backend;
	if (!cli->backend_schema && (e = getenv("SECFAAS_BACKEND_SCHEMA")) && *e)
		cli->backend_schema = e;
	if (!cli->backend_schema)
		cli->backend_schema = s->schema;
	cli->kms_key_id = (e = getenv("SECFAAS_STATE_KMS_KEY_ID")) && *e ? e : s->kms_key_id;
	return 0;
}

int main(int argc, char **argv)
{
	struct sf_settings settings;
	memset(&settings, 0, sizeof settings);
	struct sf_cli cli;
	memset(&cli, 0, sizeof cli);
	cli.argv0 = argv[0];
	cli.out = stdout;
	cli.errf = stderr;
	cli.parallelism = 10;
	cli.lock = 1;
	cli.input = isatty(0);
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	cli.color = isatty(1) && !(nc && *nc) && term && strcmp(term, "dumb");
	if (sf_log_init() < 0)
		fprintf(stderr, "secfaas: warning: SECFAAS_LOG must be one of error, warn, info, debug, trace; using warn\n");

	/* Split argv: globals out, the rest (command + its args) kept in order. */
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0, want_help = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (++i < argc)
				rest[nrest++] = argv[i];
			break;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "-help")) {
			want_help = 1;
			continue;
		}
		int g = global_opt(&cli, argc, argv, &i);
		if (g < 0) {
			free(rest);
			return sf_cli_errorf(&cli, "option %s needs a valid value; see `secfaas help`", argv[i]);
		}
		if (!g)
			rest[nrest++] = argv[i];
	}
	/* --region is the standard AWS region setting for everything this run
	 * does (the client and the Cluster lowering); metadata.region still wins
	 * for a spec that names one. */
	if (cli.region)
		setenv("AWS_REGION", cli.region, 1);
	int rc;
	if (!nrest) {
		usage_all(want_help ? stdout : stderr);
		rc = want_help ? 0 : SF_EXIT_ERROR;
	} else {
		const struct sf_cmd *c = sf_cmd_find(rest[0]);
		if (!c) {
			const char *names[SF_ARRAY_LEN(commands)];
			for (size_t i = 0; i < SF_ARRAY_LEN(commands); i++)
				names[i] = commands[i].name;
			const char *hint = sf_did_you_mean(rest[0], names, SF_ARRAY_LEN(commands));
			rc = hint ? sf_cli_errorf(&cli, "unknown command \"%s\"; did you mean \"%s\"?", rest[0], hint)
				  : sf_cli_errorf(&cli, "unknown command \"%s\"; run `secfaas help`", rest[0]);
		} else if (want_help) {
			rc = sf_cmd_help(&cli, c->name, stdout);
		} else if (strcmp(c->name, "help") && strcmp(c->name, "version") &&
			   resolve_backend(&cli, &settings) < 0) {
			rc = SF_EXIT_ERROR;
		} else {
			cli.cmd_options = c->options;
			rc = c->run(&cli, nrest, rest);
		}
	}
	free(rest);
	sf_settings_release(&settings);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "secfaas: error: could not write output\n");
		rc = SF_EXIT_ERROR;
	}
	sf_pool_stop();
	sf_http_shutdown();
	return rc;
}
