/*
 * creds.h - the AWS credential provider chain, with caching and refresh.
 *
 * Why: the same binary runs on a laptop (profiles, SSO-less role chains),
 * in CI (web identity), in a container (task role) and on EC2 (IMDSv2), so
 * it must find credentials exactly where the AWS CLI does, in this order:
 *   1. env AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
 *      skipped when --profile was given explicitly;
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity (unsigned;
 *      the token file is re-read at every refresh);
 *   3. the shared files, profile --profile / AWS_PROFILE / default:
 *      role_arn + source_profile (chains, loops detected) or
 *      credential_source (Environment, Ec2InstanceMetadata, EcsContainer)
 *      -> AssumeRole; role_arn + web_identity_token_file; static keys;
 *      credential_process (JSON Version 1 on stdout);
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (169.254.170.2) or
 *      _FULL_URI (loopback / 169.254.170.2 / .23 / fd00:ec2::23, or https),
 *      Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
 *   5. EC2 IMDSv2 (token PUT, then the role's credentials; IMDSv1 fallback
 *      on 403/404/405), AWS_EC2_METADATA_SERVICE_ENDPOINT,
 *      AWS_EC2_METADATA_DISABLED=true skips it.
 * Temporary credentials are cached; a refresh is attempted when less than
 * 15 minutes remain (a failure is tolerated while more than 10 remain) and
 * is mandatory below 10 minutes.
 *
 * STS calls (AssumeRole*) go through a hook so this module needs no client:
 * client.c passes one that signs with the given credentials (or none).
 *
 * Calling steps:
 *   sf_creds_provider_new(&p, cfg, http, clock, &sts_hook, err);
 *   struct sf_aws_creds c = SF_AWS_CREDS_INIT; sf_creds_get(p, &c, err);
 *   ... use c ...; sf_aws_creds_release(&c); sf_creds_provider_free(p);
 *
 * Ownership: sf_creds_get copies into the caller's struct (release it);
 * cfg, http, clock and the hook are borrowed and must outlive the provider.
 * Thread-safe: one mutex around the cache; concurrent callers wait for a
 * single refresh.
 */
#ifndef SF_AWS_CREDS_H
#define SF_AWS_CREDS_H

#include <jansson.h>

#include "aws/config.h"
#include "http.h"
#include "aws/retry.h"
#include "err.h"

struct sf_aws_creds {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL for long-term keys */
	double expires;      /* Unix seconds; 0 = does not expire */
	char source[160];    /* "env", "profile dev", "assume-role (profile dev)", "web-identity",
				"credential-process (profile x)", "container", "imds" */
};
#define SF_AWS_CREDS_INIT {NULL, NULL, NULL, 0, {0}}
void sf_aws_creds_release(struct sf_aws_creds *c); /* wipes secrets */
void sf_aws_creds_copy(struct sf_aws_creds *dst, const struct sf_aws_creds *src);

struct sf_creds_sts {
	/* signer NULL: unsigned request (AssumeRoleWithWebIdentity). *out is the
	 * <ActionResult> as JSON (query.h rules). */
	int (*call)(void *ctx, const struct sf_aws_creds *signer, const char *action, const json_t *params,
		    json_t **out, struct sf_err *err);
	void *ctx;
};

struct sf_creds_provider;

int sf_creds_provider_new(struct sf_creds_provider **out, const struct sf_aws_config *cfg, struct sf_http *http,
			  const struct sf_clock *clock, const struct sf_creds_sts *sts, struct sf_err *err);
void sf_creds_provider_free(struct sf_creds_provider *p);

/* Current credentials (cached/refreshed). SF_EAUTH with a hint when none
 * are found or a source fails. */
int sf_creds_get(struct sf_creds_provider *p, struct sf_aws_creds *out, struct sf_err *err);
/* Drop the cache (after ExpiredToken from a service), and the share's
 * copy when the provider has one. */
void sf_creds_invalidate(struct sf_creds_provider *p);

/* Credentials shared by the providers of the clients one run makes (a
 * fleet command makes a client per workspace): the first provider to walk
 * the chain for a profile leaves what it found here, and the others copy
 * it while it is fresh (not within REFRESH_ADVISORY_S of expiring), so the
 * chain runs once a run, not once a workspace: one STS
 * AssumeRoleWithWebIdentity in CI, one instance-metadata round trip, one
 * credential_process.  Keyed by the profile and whether it was named
 * explicitly; everything else the chain reads (environment, shared files,
 * the machine's metadata) is the process's own.  A provider walks the
 * chain under the share's lock, so providers asking at once walk it
 * once.  The share must outlive every provider given it. */
struct sf_creds_share;
struct sf_creds_share *sf_creds_share_new(void);
void sf_creds_share_free(struct sf_creds_share *s);
/* Before the provider's first sf_creds_get. */
void sf_creds_provider_share(struct sf_creds_provider *p, struct sf_creds_share *s);

/* Parse a credential JSON document (credential_process / container / IMDS
 * shapes: AccessKeyId, SecretAccessKey, SessionToken|Token, Expiration). */
int sf_creds_from_json(const json_t *doc, struct sf_aws_creds *out, const char *what, struct sf_err *err);

#endif
