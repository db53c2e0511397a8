/*
 * settings.h - repository settings: the `backend:` section of a
 * secfaas.yaml at the top of the repository, so every runner and every
 * person working in that repository uses the same shared state without
 * each passing --backend.
 *
 *   # secfaas.yaml (its own YAML document: no apiVersion, no kind)
 *   backend:
 *     url: postgresql://ci@db.internal/infra   # never a password here
 *     schema: platform                          # optional, default secfaas
 *     kmsKeyId: alias/secfaas-state            # optional: KMS envelope keys
 *
 * The file is looked for in the current directory, then in each parent up
 * to the repository root (the directory holding .git).  The same file may
 * also hold spec documents; a settings document is one without `kind` that
 * has a `backend` section, and the spec loader leaves it out.  Command-line
 * options (--backend, --backend-schema) and the environment
 * (SECFAAS_BACKEND, SECFAAS_BACKEND_SCHEMA, SECFAAS_STATE_KMS_KEY_ID) win
 * over the file.
 *
 * Ownership: struct sf_settings owns its strings; sf_settings_release().
 */
#ifndef SF_SETTINGS_H
#define SF_SETTINGS_H

#include <stdio.h>

#include "provisioner/spec/spec.h"

struct sf_settings {
	char *file;       /* the secfaas.yaml with settings (or the one that failed), else NULL */
	char *backend;    /* backend.url */
	char *schema;     /* backend.schema */
	char *kms_key_id; /* backend.kmsKeyId */
};

/* Find and read the settings.  No file, or a file without a settings
 * document: 0 and nothing set.  Problems are printed to errf as
 * file:line:col diagnostics; -1. */
int sf_settings_load(struct sf_settings *s, FILE *errf, int color);
void sf_settings_release(struct sf_settings *s);

/* 1 if root is a settings document rather than a spec document. */
int sf_settings_is_doc(const struct sf_node *root);

#endif
