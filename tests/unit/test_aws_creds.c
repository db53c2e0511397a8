/*
 * The credential chain, each source for real over loopback HTTP (a server
 * thread on 127.0.0.1:0 plays STS, the container endpoint and IMDS) with the
 * libcurl transport, plus caching/refresh with an injected clock.
 */
#include "t.h"

#include <stdio.h>
#include <string.h>

#include "aws/client.h"
#include "tests/aws/fixture.h"

static char *reply(int status, const char *ctype, const char *body)
{
	return xasprintf("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
			 ctype, strlen(body), body);
}

static char *sts_reply(const char *action, const char *akid, const char *exp)
{
	char *body = xasprintf("<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><%sResult><Credentials>"
			       "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>secret-%s</SecretAccessKey>"
			       "<SessionToken>token-%s</SessionToken><Expiration>%s</Expiration></Credentials></%sResult>"
			       "</%sResponse>",
			       action, action, akid, akid, akid, exp, action, action);
	char *r = reply(200, "text/xml", body);
	free(body);
	return r;
}

struct env {
	struct fx_srv srv;
	struct fx_clock clk;
	struct sf_clock clock;
	struct sf_aws *c;
};

static void srv_rule(struct env *e, const char *match, char *owned_reply, int times)
{
	fx_srv_rule(&e->srv, match, owned_reply, times);
	free(owned_reply);
}

static void env_start(struct env *e)
{
	memset(e, 0, sizeof *e);
	fx_clean_env();
	if (fx_srv_start(&e->srv) != 0)
		abort();
	char *u = fx_srv_url(&e->srv, "");
	if (!sf_url_is_loopback(u)) /* the network rule: loopback only */
		abort();
	setenv("AWS_ENDPOINT_URL_STS", u, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	free(u);
	e->clk.t = FX_T0;
	e->clk.rand = 0.5;
	e->clock = (struct sf_clock){fx_now, fx_sleep, fx_rand, &e->clk};
}

/* Client (curl transport) for profile (NULL: env/AWS_PROFILE). */
/* A client on the test's clock and server, sharing credentials through
 * `share` when given. */
static int env_new_client(struct env *e, const char *profile, struct sf_creds_share *share, struct sf_aws **out,
			  struct sf_err *err)
{
	struct sf_aws_opts o = SF_AWS_OPTS_INIT;
	o.profile = profile;
	o.clock = &e->clock;
	o.timeout_s = 5;
	o.connect_timeout_s = 2;
	o.creds_share = share;
	return sf_aws_new(out, &o, err);
}

static int env_client(struct env *e, const char *profile, struct sf_err *err)
{
	return env_new_client(e, profile, NULL, &e->c, err);
}

static void env_stop(struct env *e)
{
	sf_aws_free(e->c);
	fx_srv_stop(&e->srv);
	fx_clean_env();
}

static void write_files(const char *config, const char *creds)
{
	struct sf_err e = SF_ERR_INIT;
	char *cp = xasprintf("%s/config", t_tmpdir()), *kp = xasprintf("%s/credentials", t_tmpdir());
	if (sf_write_file_atomic(cp, config, strlen(config), 0600, &e) < 0 ||
	    sf_write_file_atomic(kp, creds, strlen(creds), 0600, &e) < 0)
		abort();
	setenv("AWS_CONFIG_FILE", cp, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", kp, 1);
	free(cp);
	free(kp);
}

static const char *srv_req(struct env *e, int i)
{
	return i < e->srv.nreqs ? e->srv.reqs[i] : "";
}

T_TEST(env_keys_first_unless_explicit_profile)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	write_files("[profile dev]\nregion = us-east-1\n", "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = sd\n");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "se", 1);
	setenv("AWS_SESSION_TOKEN", "te", 1);
	setenv("AWS_PROFILE", "dev", 1); /* AWS_PROFILE does not beat env keys */
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "AKIDENV");
	T_STREQ(c.session_token, "te");
	T_STREQ(c.source, "env");
	sf_aws_creds_release(&c);
	sf_aws_free(e.c);
	T_EQ(env_client(&e, "dev", &err), 0); /* --profile does */
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "AKIDDEV");
	T_OK(c.session_token == NULL);
	T_STREQ(c.source, "profile dev");
	sf_aws_creds_release(&c);
	env_stop(&e);
}

T_TEST(assume_role_chain_signed_by_each_source)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	write_files("[profile a]\nrole_arn = arn:aws:iam::123456789012:role/A\nsource_profile = b\nexternal_id = ext-1\n"
		    "duration_seconds = 7200\n"
		    "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/B\nsource_profile = c\nrole_session_name = sess-b\n",
		    "[c]\naws_access_key_id = AKIDC\naws_secret_access_key = sc\n");
	srv_rule(&e, "role%2FB", sts_reply("AssumeRole", "ASIAB", "2099-01-01T00:00:00Z"), 1);
	srv_rule(&e, "role%2FA", sts_reply("AssumeRole", "ASIAA", "2099-01-01T00:00:00Z"), 1);
	T_EQ(env_client(&e, "a", &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAA");
	T_STREQ(c.session_token, "token-ASIAA");
	T_CONTAINS(c.source, "assume-role arn:aws:iam::123456789012:role/A (profile a)");
	T_EQ(e.srv.nreqs, 2);
	T_CONTAINS(srv_req(&e, 0), "Credential=AKIDC/");
	T_CONTAINS(srv_req(&e, 0), "RoleSessionName=sess-b");
	T_CONTAINS(srv_req(&e, 1), "Credential=ASIAB/");
	T_CONTAINS(srv_req(&e, 1), "X-Amz-Security-Token: token-ASIAB");
	T_CONTAINS(srv_req(&e, 1), "ExternalId=ext-1");
	T_CONTAINS(srv_req(&e, 1), "DurationSeconds=3600"); /* chained: capped at one hour */
	sf_aws_creds_release(&c);
	/* cached: no more requests */
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_EQ(e.srv.nreqs, 2);
	sf_aws_creds_release(&c);
	env_stop(&e);
}

T_TEST(source_profile_loop_detected)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	write_files("[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n"
		    "[profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = a\n",
		    "");
	T_EQ(env_client(&e, "a", &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "loops back to a");
	T_EQ(e.srv.nreqs, 0);
	sf_aws_free(e.c);
	/* a profile naming itself with static keys is allowed (not a loop) */
	write_files("[profile s]\nrole_arn = arn:aws:iam::1:role/S\nsource_profile = s\n",
		    "[s]\naws_access_key_id = AKIDS\naws_secret_access_key = ss\n");
	srv_rule(&e, "role%2FS", sts_reply("AssumeRole", "ASIAS", "2099-01-01T00:00:00Z"), 1);
	T_EQ(env_client(&e, "s", &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAS");
	sf_aws_creds_release(&c);
	env_stop(&e);
}

T_TEST(credential_process_version_and_failures)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	char *cfg = xasprintf("[default]\ncredential_process = printf '%%s' '{\"Version\":1,\"AccessKeyId\":\"AKIDP\","
			      "\"SecretAccessKey\":\"sp\",\"SessionToken\":\"tp\",\"Expiration\":\"2099-01-01T00:00:00Z\"}'\n"
			      "[profile v2]\ncredential_process = echo '{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}'\n"
			      "[profile bad]\ncredential_process = sh -c 'exit 3'\n"
			      "[profile junk]\ncredential_process = echo not-json\n"
			      /* a key left unquoted: the error must not quote it back */
			      "[profile leak]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\": wJalrSECRET}'\n");
	write_files(cfg, "");
	free(cfg);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "AKIDP");
	T_STREQ(c.session_token, "tp");
	T_OK(c.expires > FX_T0);
	T_STREQ(c.source, "credential-process (profile default)");
	sf_aws_creds_release(&c);
	sf_aws_free(e.c);
	const char *bad[][2] = {{"v2", "\"Version\" must be 1"},
				{"bad", "failed (exit 3)"},
				{"junk", "invalid JSON"},
				{"leak", "printed invalid JSON (line 1, column "}};
	for (int i = 0; i < 4; i++) {
		T_EQ(env_client(&e, bad[i][0], &err), 0);
		T_EQ(sf_aws_credentials(e.c, &c, &err), SF_EAUTH);
		T_CONTAINS(err.msg, bad[i][1]);
		T_OK(!strstr(err.msg, "wJalr"));
		sf_aws_free(e.c);
		e.c = NULL;
	}
	env_stop(&e);
}

T_TEST(web_identity_unsigned_and_token_reread_on_refresh)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	char *tf = xasprintf("%s/oidc-token", t_tmpdir());
	T_EQ(sf_write_file_atomic(tf, "jwt-one\n", 8, 0600, &err), 0);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tf, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci", 1);
	setenv("AWS_ROLE_SESSION_NAME", "gh-run", 1);
	/* expires 11:15 (an hour after FX_T0) */
	srv_rule(&e, "WebIdentityToken=jwt-one", sts_reply("AssumeRoleWithWebIdentity", "ASIAW1", "2025-03-01T11:15:00Z"), 1);
	srv_rule(&e, "WebIdentityToken=jwt-two", sts_reply("AssumeRoleWithWebIdentity", "ASIAW2", "2025-03-01T12:15:00Z"), 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAW1");
	T_CONTAINS(c.source, "web-identity");
	T_OK(strstr(srv_req(&e, 0), "Authorization:") == NULL); /* unsigned */
	T_CONTAINS(srv_req(&e, 0), "Action=AssumeRoleWithWebIdentity");
	T_CONTAINS(srv_req(&e, 0), "RoleSessionName=gh-run");
	sf_aws_creds_release(&c);
	/* 50 minutes later: 10+ minutes left -> still cached */
	e.clk.t = FX_T0 + 40 * 60;
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAW1");
	T_EQ(e.srv.nreqs, 1);
	sf_aws_creds_release(&c);
	/* 14 minutes left: advisory refresh, re-reading the rotated token file */
	T_EQ(sf_write_file_atomic(tf, "jwt-two", 7, 0600, &err), 0);
	e.clk.t = FX_T0 + 46 * 60;
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAW2");
	T_EQ(e.srv.nreqs, 2);
	sf_aws_creds_release(&c);
	free(tf);
	env_stop(&e);
}

/* A token file `name` holding "jwt" and the environment naming it and
 * role ci, as a CI job's OIDC set-up does.  The path is owned. */
static char *web_identity_env(const char *name)
{
	struct sf_err err = SF_ERR_INIT;
	char *tf = xasprintf("%s/%s", t_tmpdir(), name);
	if (sf_write_file_atomic(tf, "jwt", 3, 0600, &err) < 0)
		abort();
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tf, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci", 1);
	return tf;
}

/* Two clients of one run given one share (a fleet's workspaces): the
 * chain is walked once, the second client copies; near expiry the first
 * to ask walks it again and the other copies that; a service's
 * ExpiredToken drops the share's copy too. */
T_TEST(clients_given_one_share_walk_the_chain_once)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	char *tf = web_identity_env("oidc-token3");
	srv_rule(&e, "WebIdentityToken", sts_reply("AssumeRoleWithWebIdentity", "ASIAS1", "2025-03-01T11:15:00Z"), 1);
	srv_rule(&e, "WebIdentityToken", sts_reply("AssumeRoleWithWebIdentity", "ASIAS2", "2025-03-01T12:15:00Z"), 1);
	srv_rule(&e, "WebIdentityToken", sts_reply("AssumeRoleWithWebIdentity", "ASIAS3", "2025-03-01T12:15:00Z"), 1);
	struct sf_creds_share *share = sf_creds_share_new();
	struct sf_aws *cl[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++)
		T_EQ(env_new_client(&e, NULL, share, &cl[i], &err), 0);
	for (int i = 0; i < 2; i++) {
		T_EQ(sf_aws_credentials(cl[i], &c, &err), 0);
		T_STREQ(c.access_key, "ASIAS1");
		sf_aws_creds_release(&c);
	}
	T_EQ(e.srv.nreqs, 1);
	/* 14 minutes left: the first to ask refreshes, the other copies it */
	e.clk.t = FX_T0 + 46 * 60;
	for (int i = 0; i < 2; i++) {
		T_EQ(sf_aws_credentials(cl[i], &c, &err), 0);
		T_STREQ(c.access_key, "ASIAS2");
		sf_aws_creds_release(&c);
	}
	T_EQ(e.srv.nreqs, 2);
	/* a service says ExpiredToken: the client walks the chain again
	 * rather than copy the share's copy of the refused keys */
	srv_rule(&e, "GetCallerIdentity",
		 reply(400, "text/xml", "<ErrorResponse><Error><Code>ExpiredToken</Code><Message>expired</Message>"
					"</Error></ErrorResponse>"),
		 1);
	struct sf_aws_identity id;
	T_OK(sf_aws_whoami(cl[0], &id, &err) < 0);
	T_CONTAINS(err.msg, "ExpiredToken");
	sf_err_clear(&err);
	T_EQ(sf_aws_credentials(cl[0], &c, &err), 0);
	T_STREQ(c.access_key, "ASIAS3");
	sf_aws_creds_release(&c);
	int walks = 0;
	for (int i = 0; i < e.srv.nreqs; i++)
		walks += strstr(srv_req(&e, i), "WebIdentityToken") != NULL;
	T_EQ(walks, 3);
	for (int i = 0; i < 2; i++)
		sf_aws_free(cl[i]);
	sf_creds_share_free(share);
	free(tf);
	env_stop(&e);
}

T_TEST(refresh_failure_tolerated_until_mandatory)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	char *tf = web_identity_env("oidc-token2");
	srv_rule(&e, "WebIdentityToken", sts_reply("AssumeRoleWithWebIdentity", "ASIAW", "2025-03-01T11:15:00Z"), 1);
	srv_rule(&e, "WebIdentityToken",
		 reply(403, "text/xml", "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"),
		 -1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	sf_aws_creds_release(&c);
	e.clk.t = FX_T0 + 48 * 60; /* 12 min left: refresh fails, cached keys still served */
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAW");
	sf_aws_creds_release(&c);
	e.clk.t = FX_T0 + 56 * 60; /* 4 min left: refresh is mandatory */
	T_EQ(sf_aws_credentials(e.c, &c, &err), SF_EAUTH);
	T_CONTAINS(err.msg, "AccessDenied");
	free(tf);
	env_stop(&e);
}

T_TEST(container_credentials_full_uri_with_token)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	char *u = fx_srv_url(&e.srv, "/v2/credentials/abc");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", u, 1);
	char *tf = xasprintf("%s/ctoken", t_tmpdir());
	T_EQ(sf_write_file_atomic(tf, "Bearer-abc\n", 11, 0600, &err), 0);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf, 1);
	srv_rule(&e, "GET /v2/credentials/abc",
		 reply(200, "application/json",
		       "{\"AccessKeyId\":\"ASIACONT\",\"SecretAccessKey\":\"sc\",\"Token\":\"tc\",\"Expiration\":\"2099-01-01T00:00:00Z\"}"),
		 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIACONT");
	T_STREQ(c.session_token, "tc");
	T_STREQ(c.source, "container");
	T_CONTAINS(srv_req(&e, 0), "Authorization: Bearer-abc\r\n");
	sf_aws_creds_release(&c);
	sf_aws_free(e.c);
	/* a non-loopback plain-http full URI is refused without a request */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds", 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), SF_EAUTH);
	T_CONTAINS(err.msg, "is not https, loopback");
	T_EQ(e.srv.nreqs, 1);
	free(u);
	free(tf);
	env_stop(&e);
}

static const char *IMDS_CREDS = "{\"Code\":\"Success\",\"LastUpdated\":\"2025-03-01T10:00:00Z\",\"Type\":\"AWS-HMAC\","
				 "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"si\",\"Token\":\"ti\","
				 "\"Expiration\":\"2099-01-01T00:00:00Z\"}";

T_TEST(imds_v2_token_then_role_credentials)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	char *u = fx_srv_url(&e.srv, "/");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", u, 1);
	srv_rule(&e, "PUT /latest/api/token", reply(200, "text/plain", "imds-session-token"), 1);
	srv_rule(&e, "GET /latest/meta-data/iam/security-credentials/ ", reply(200, "text/plain", "node-role\n"), 1);
	srv_rule(&e, "GET /latest/meta-data/iam/security-credentials/node-role ",
		 reply(200, "text/plain", IMDS_CREDS), 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAIMDS");
	T_STREQ(c.source, "imds (role node-role)");
	T_EQ(e.srv.nreqs, 3);
	T_CONTAINS(srv_req(&e, 0), "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	T_CONTAINS(srv_req(&e, 1), "X-aws-ec2-metadata-token: imds-session-token");
	T_CONTAINS(srv_req(&e, 2), "X-aws-ec2-metadata-token: imds-session-token");
	sf_aws_creds_release(&c);
	free(u);
	env_stop(&e);
}

T_TEST(imds_v1_fallback_and_disabled)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	char *u = fx_srv_url(&e.srv, "");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", u, 1);
	srv_rule(&e, "PUT /latest/api/token", reply(403, "text/plain", "forbidden"), 1);
	srv_rule(&e, "GET /latest/meta-data/iam/security-credentials/ ", reply(200, "text/plain", "r1"), 1);
	srv_rule(&e, "GET /latest/meta-data/iam/security-credentials/r1 ", reply(200, "text/plain", IMDS_CREDS), 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), 0);
	T_STREQ(c.access_key, "ASIAIMDS");
	T_OK(strstr(srv_req(&e, 1), "X-aws-ec2-metadata-token:") == NULL);
	sf_aws_creds_release(&c);
	sf_aws_free(e.c);
	/* disabled: no request at all, and a clear error */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), SF_EAUTH);
	T_CONTAINS(err.msg, "no AWS credentials found");
	T_CONTAINS(err.hint, "AWS_ACCESS_KEY_ID");
	T_EQ(e.srv.nreqs, 3);
	free(u);
	env_stop(&e);
}

T_TEST(missing_named_profile_is_an_error)
{
	struct env e;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws_creds c = SF_AWS_CREDS_INIT;
	env_start(&e);
	write_files("[default]\nregion = us-east-1\n", "");
	setenv("AWS_PROFILE", "ghost", 1);
	T_EQ(env_client(&e, NULL, &err), 0);
	T_EQ(sf_aws_credentials(e.c, &c, &err), SF_EAUTH);
	T_CONTAINS(err.msg, "AWS profile ghost not found");
	env_stop(&e);
	/* --profile for a missing profile fails at client creation */
	env_start(&e);
	write_files("[default]\nregion = us-east-1\n", "");
	T_EQ(env_client(&e, "ghost", &err), SF_EINVAL);
	T_OK(e.c == NULL);
	env_stop(&e);
}

T_MAIN()
