/*
 * cli.h - what every `secfaas <command>` handler receives.
 *
 * main.c parses the global options into struct sf_cli, finds the command in
 * its table (commands.h declares the rows), and calls the handler with the
 * remaining arguments.  Handlers are the only code that prints results and
 * chooses exit codes (see SF_EXIT_*).
 */
#ifndef SF_CLI_H
#define SF_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "err.h"

struct sf_price_cache; /* resources/estimate.h */

/* Documented exit codes (README "Exit codes"). */
enum {
	SF_EXIT_OK = 0,      /* success, or no changes */
	SF_EXIT_ERROR = 1,   /* any error: bad input, lock conflict, stale plan, leftovers, interrupt */
	SF_EXIT_CHANGES = 2, /* only with --detailed-exitcode: the plan has changes */
	SF_EXIT_FMT = 3,     /* fmt --check: a file is not in the canonical layout */
};

struct sf_cli {
	const char *argv0;
	const char *state_path;   /* --state FILE: one state file, whatever the backend */
	const char *backend;      /* --backend / SECFAAS_BACKEND / secfaas.yaml backend.url: a
				   * postgres:// URL, or a directory of <workspace>.db files;
				   * NULL = .secfaas */
	const char *backend_schema; /* --backend-schema / SECFAAS_BACKEND_SCHEMA / backend.schema */
	const char *kms_key_id;   /* SECFAAS_STATE_KMS_KEY_ID / backend.kmsKeyId: KMS envelope key */
	const char *region;       /* --region */
	const char *profile;      /* --profile */
	int json;                 /* --json */
	int color;                /* resolved: TTY && !NO_COLOR && !--no-color */
	int parallelism;          /* --parallelism N (default 10) */
	int auto_approve;         /* --auto-approve */
	int detailed_exitcode;    /* --detailed-exitcode */
	int input;                /* may prompt (stdin is a TTY and not --input=false) */
	int lock;                 /* --lock=false turns off */
	double lock_timeout_s;    /* --lock-timeout DUR */
	const char *repo;         /* --repo PATH|URL: read specs from git */
	const char *ref;          /* --ref REF (default HEAD) */
	const char *subpath;      /* --subpath DIR inside the repo (or the positional spec) */
	int allow_dirty;          /* --allow-dirty */
	const char *cmd_options;  /* the running command's options (sf_cmd.options), set by main */
	struct sf_price_cache *prices; /* plan --all: the run's prices by region (borrowed); NULL: ask per plan */
	FILE *out;                /* stdout */
	FILE *errf;               /* stderr */
};

/* The error for an option `arg` that command `cmd` does not take, naming
 * the closest of cli->cmd_options and the global options ("did you mean
 * --auto-approve?"); returns the exit code. */
int sf_cli_unknown_option(struct sf_cli *cli, const char *cmd, const char *arg);
/* Options every command takes, space-separated without dashes: "state="
 * takes a value, "lock=false" is a literal form (the format of
 * sf_cmd.options; main.c parses them). */
extern const char sf_cli_global_options[];

/* Print one error line "secfaas: <where>: error: <msg>; <hint>" to stderr
 * (color-aware) and return SF_EXIT_ERROR. */
int sf_cli_error(struct sf_cli *cli, const struct sf_err *err);
int sf_cli_errorf(struct sf_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option scanning shared by command handlers: accepts --name, --name=value,
 * --name value, and the single-dash -name forms. Returns 1 and sets *value
 * (NULL for flags) if argv[*i] matches `name`; advances *i past a separate
 * value when takes_value. */
int sf_opt_match(int argc, char **argv, int *i, const char *name, int takes_value, const char **value);

/* Print j as indented, key-sorted JSON plus a newline on cli->out and drop
 * the reference (steals j; NULL prints "null"). */
void sf_cli_print_json(struct sf_cli *cli, json_t *j);

typedef int (*sf_cmd_fn)(struct sf_cli *cli, int argc, char **argv);

#endif
