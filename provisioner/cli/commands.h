/*
 * commands.h - the command table.  One row per command; main.c dispatches.
 * Adding a command: write provisioner/cmd_<name>.c with
 *   int cmd_<name>(struct sf_cli *cli, int argc, char **argv)
 * declare it here and add a row in main.c (sorted by name).
 */
#ifndef SF_COMMANDS_H
#define SF_COMMANDS_H

#include "provisioner/cli/cli.h"

struct sf_cmd {
	const char *name;
	sf_cmd_fn run;
	const char *summary; /* one line for `secfaas help` */
	const char *usage;   /* full --help text */
	/* The command's own options, space-separated, without dashes: "out="
	 * takes a value, "lock=false" is a literal form.  Completion, the man
	 * page and "did you mean" read this list; the suite checks it against
	 * --help. */
	const char *options;
	const char *words;   /* subcommands or fixed first words ("list show ...") */
};

/* An environment variable secfaas reads, for --help, the man page and
 * completion's documentation. */
struct sf_envvar {
	const char *name;
	const char *help;
};

const struct sf_cmd *sf_cmd_find(const char *name);
const struct sf_cmd *sf_cmd_all(size_t *n);
/* Their --help text (lines of "  --name  what"). */
const char *sf_cli_global_help(void);
const struct sf_envvar *sf_cli_env(size_t *n);
/* Print usage for a command (for --help and usage errors). */
int sf_cmd_help(struct sf_cli *cli, const char *name, FILE *f);

int cmd_apply(struct sf_cli *cli, int argc, char **argv);
int cmd_completion(struct sf_cli *cli, int argc, char **argv);
int cmd_destroy(struct sf_cli *cli, int argc, char **argv);
int cmd_fmt(struct sf_cli *cli, int argc, char **argv);
int cmd_force_unlock(struct sf_cli *cli, int argc, char **argv);
int cmd_gc(struct sf_cli *cli, int argc, char **argv);
int cmd_help(struct sf_cli *cli, int argc, char **argv);
int cmd_import(struct sf_cli *cli, int argc, char **argv);
int cmd_plan(struct sf_cli *cli, int argc, char **argv);
int cmd_render(struct sf_cli *cli, int argc, char **argv);
int cmd_refresh(struct sf_cli *cli, int argc, char **argv);
int cmd_schema(struct sf_cli *cli, int argc, char **argv);
int cmd_show(struct sf_cli *cli, int argc, char **argv);
int cmd_state(struct sf_cli *cli, int argc, char **argv);
int cmd_validate(struct sf_cli *cli, int argc, char **argv);
int cmd_version(struct sf_cli *cli, int argc, char **argv);

#endif
