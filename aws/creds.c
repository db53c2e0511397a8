/* creds.c - see creds.h. */
#include "aws/creds.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "util.h"

#define REFRESH_ADVISORY_S (15 * 60)
#define REFRESH_MANDATORY_S (10 * 60)
#define MAX_CHAIN 10

struct sf_creds_provider {
	const struct sf_aws_config *cfg;
	struct sf_http *http;
	const struct sf_clock *clock;
	struct sf_creds_sts sts;
	pthread_mutex_t mu;
	struct sf_aws_creds cached;
	int have;
	struct sf_creds_share *share; /* NULL: none */
};

struct share_entry {
	char *key; /* "<explicit>:<profile>" */
	struct sf_aws_creds c;
	struct share_entry *next;
};

struct sf_creds_share {
	pthread_mutex_t mu;
	struct share_entry *entries;
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void sf_aws_creds_release(struct sf_aws_creds *c)
{
	if (!c)
		return;
	free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof *c);
}

void sf_aws_creds_copy(struct sf_aws_creds *dst, const struct sf_aws_creds *src)
{
	dst->access_key = xstrdup(src->access_key);
	dst->secret_key = xstrdup(src->secret_key);
	dst->session_token = xstrdup(src->session_token);
	dst->expires = src->expires;
	memcpy(dst->source, src->source, sizeof dst->source);
}

static int truthy(const char *v)
{
	return v && !strcasecmp(v, "true");
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int sf_creds_from_json(const json_t *doc, struct sf_aws_creds *out, const char *what, struct sf_err *err)
{
	const char *ak = json_string_value(json_object_get(doc, "AccessKeyId"));
	const char *sk = json_string_value(json_object_get(doc, "SecretAccessKey"));
	const char *tok = json_string_value(json_object_get(doc, "SessionToken"));
	if (!tok)
		tok = json_string_value(json_object_get(doc, "Token"));
	const char *exp = json_string_value(json_object_get(doc, "Expiration"));
	if (!json_is_object(doc) || !ak || !sk || !*ak || !*sk)
		return sf_fail(err, SF_EAUTH, "%s returned no AccessKeyId/SecretAccessKey", what);
	double e = 0;
	if (exp && *exp && sf_time_parse(exp, &e) < 0)
		return sf_fail(err, SF_EAUTH, "%s returned an unreadable Expiration \"%s\"", what, exp);
	out->access_key = xstrdup(ak);
	out->secret_key = xstrdup(sk);
	out->session_token = tok && *tok ? xstrdup(tok) : NULL;
	out->expires = e;
	return 0;
}

/* ---- STS-based sources ---- */

static int sts_creds(struct sf_creds_provider *p, const struct sf_aws_creds *signer, const char *action,
		     json_t *params, struct sf_aws_creds *out, struct sf_err *err)
{
	json_t *res = NULL;
	if (!p->sts.call)
		return sf_fail(err, SF_EAUTH, "cannot call STS %s: no STS access configured", action);
	int rc = p->sts.call(p->sts.ctx, signer, action, params, &res, err);
	if (rc < 0)
		return rc;
	json_t *c = json_object_get(res, "Credentials");
	rc = sf_creds_from_json(c, out, action, err);
	json_decref(res);
	return rc;
}

static char *session_name(struct sf_creds_provider *p, const char *configured)
{
	if (configured && *configured)
		return xstrdup(configured);
	return xasprintf("secfaas-%lld", (long long)p->clock->now(p->clock->ctx));
}

static int web_identity(struct sf_creds_provider *p, const char *token_file, const char *role_arn,
			const char *sess, struct sf_aws_creds *out, struct sf_err *err)
{
	char *tok = NULL;
	size_t n;
	int rc = sf_read_file(&tok, &n, token_file, 64 * 1024, err);
	if (rc < 0) {
		sf_err_prefix(err, "web identity token file: ");
		err->code = SF_EAUTH;
		return SF_EAUTH;
	}
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		tok[--n] = 0;
	char *name = session_name(p, sess);
	json_t *params = json_pack("{s:s, s:s, s:s}", "RoleArn", role_arn, "RoleSessionName", name,
				   "WebIdentityToken", tok);
	rc = sts_creds(p, NULL, "AssumeRoleWithWebIdentity", params, out, err);
	json_decref(params);
	free(name);
	wipe_free(tok);
	if (rc == 0)
		snprintf(out->source, sizeof out->source, "web-identity (%s)", role_arn);
	return rc;
}

/* ---- credential_process ---- */

static int credential_process(struct sf_creds_provider *p, const char *cmd, const char *profile,
			      struct sf_aws_creds *out, struct sf_err *err)
{
	(void)p;
	int fds[2];
	struct sf_buf b = SF_BUF_INIT;
	b.cap = 1 << 20;
	int rc = SF_EAUTH;
	json_t *doc = NULL;
	if (pipe(fds) < 0)
		return sf_fail(err, SF_EAUTH, "credential_process: pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return sf_fail(err, SF_EAUTH, "credential_process: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char chunk[4096];
	for (;;) {
		ssize_t r = read(fds[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sf_buf_append(&b, chunk, (size_t)r);
	}
	close(fds[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rc = sf_fail(err, SF_EAUTH, "credential_process of profile %s failed (exit %d)", profile,
			     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		goto done;
	}
	json_error_t je;
	doc = json_loadb(b.s ? b.s : "", b.len, 0, &je);
	if (!doc || b.overflow) {
		/* jansson's text quotes the token it stopped at, which may be
		 * a piece of a key: say where, not what */
		if (doc)
			rc = sf_fail(err, SF_EAUTH, "credential_process of profile %s printed too much", profile);
		else
			rc = sf_fail(err, SF_EAUTH, "credential_process of profile %s printed invalid JSON (line %d, column %d)",
				     profile, je.line, je.column);
		goto done;
	}
	json_t *ver = json_object_get(doc, "Version");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		rc = sf_fail(err, SF_EAUTH, "credential_process of profile %s: \"Version\" must be 1", profile);
		goto done;
	}
	rc = sf_creds_from_json(doc, out, "credential_process", err);
	if (rc == 0)
		snprintf(out->source, sizeof out->source, "credential-process (profile %s)", profile);
done:
	json_decref(doc);
	if (b.s)
		OPENSSL_cleanse(b.s, b.len);
	sf_buf_release(&b);
	return rc;
}

/* ---- HTTP sources: container, IMDS ---- */

static int http_get(struct sf_creds_provider *p, const char *method, const char *url, struct sf_hdrs *h,
		    double timeout, struct sf_http_resp *resp, struct sf_err *err)
{
	struct sf_http_req rq = {0};
	rq.method = method;
	rq.url = url;
	rq.headers = h;
	rq.connect_timeout_s = timeout;
	rq.timeout_s = timeout * 2;
	rq.max_body = 64 * 1024;
	return sf_http_send(p->http, &rq, resp, err);
}

static int container_allowed(const char *url)
{
	if (!strncmp(url, "https://", 8))
		return 1;
	if (sf_url_is_loopback(url))
		return 1;
	const char *ok[] = {"http://169.254.170.2/", "http://169.254.170.2:", "http://169.254.170.23/",
			    "http://169.254.170.23:", "http://[fd00:ec2::23]", NULL};
	for (int i = 0; ok[i]; i++)
		if (!strncmp(url, ok[i], strlen(ok[i])))
			return 1;
	return !strcmp(url, "http://169.254.170.2") || !strcmp(url, "http://169.254.170.23");
}

static int container(struct sf_creds_provider *p, struct sf_aws_creds *out, struct sf_err *err)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *url = NULL, *tok = NULL;
	struct sf_hdrs h = SF_HDRS_INIT;
	struct sf_http_resp resp = SF_HTTP_RESP_INIT;
	json_t *doc = NULL;
	int rc;
	if (rel) {
		url = xasprintf("http://169.254.170.2%s", rel);
	} else {
		if (!container_allowed(full))
			return sf_fail(err, SF_EAUTH,
				       "AWS_CONTAINER_CREDENTIALS_FULL_URI %s is not https, loopback or the ECS/EKS "
				       "agent address",
				       full);
		url = xstrdup(full);
	}
	const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (tf) {
		size_t n;
		rc = sf_read_file(&tok, &n, tf, 16 * 1024, err);
		if (rc < 0) {
			rc = sf_fail(err, SF_EAUTH, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s", tf);
			goto done;
		}
		tok[strcspn(tok, "\r\n")] = 0;
	} else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		tok = xstrdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	}
	if (tok)
		sf_hdrs_add(&h, "Authorization", tok);
	sf_hdrs_add(&h, "Accept", "application/json");
	rc = http_get(p, "GET", url, &h, 2, &resp, err);
	if (rc < 0) {
		sf_err_prefix(err, "container credentials: ");
		err->code = SF_EAUTH;
		rc = SF_EAUTH;
		goto done;
	}
	if (resp.status != 200) {
		rc = sf_fail(err, SF_EAUTH, "container credentials endpoint %s answered HTTP %ld", url, resp.status);
		goto done;
	}
	json_error_t je;
	doc = json_loadb(sf_buf_cstr(&resp.body), resp.body.len, 0, &je);
	if (!doc) {
		rc = sf_fail(err, SF_EAUTH, "container credentials endpoint returned invalid JSON (line %d, column %d)",
			     je.line, je.column);
		goto done;
	}
	rc = sf_creds_from_json(doc, out, "container credentials endpoint", err);
	if (rc == 0)
		snprintf(out->source, sizeof out->source, "container");
done:
	json_decref(doc);
	if (resp.body.s)
		OPENSSL_cleanse(resp.body.s, resp.body.len);
	sf_http_resp_release(&resp);
	sf_hdrs_release(&h);
	free(url);
	wipe_free(tok);
	return rc;
}

/* Returns SF_ENOTFOUND when IMDS is unreachable or has no role (end of chain). */
static int imds(struct sf_creds_provider *p, struct sf_aws_creds *out, struct sf_err *err)
{
	const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!base)
		base = "http://169.254.169.254";
	char *root = xstrdup(base);
	size_t rl = strlen(root);
	while (rl && root[rl - 1] == '/')
		root[--rl] = 0;
	char *url = NULL, *token = NULL, *role = NULL;
	struct sf_hdrs h = SF_HDRS_INIT;
	struct sf_http_resp resp = SF_HTTP_RESP_INIT;
	json_t *doc = NULL;
	struct sf_err terr = SF_ERR_INIT;
	int rc;

	url = xasprintf("%s/latest/api/token", root);
	sf_hdrs_add(&h, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
	rc = http_get(p, "PUT", url, &h, 1, &resp, &terr);
	sf_hdrs_release(&h);
	if (rc < 0) {
		rc = sf_fail(err, SF_ENOTFOUND, "EC2 instance metadata not reachable at %s", root);
		goto done;
	}
	if (resp.status == 200) {
		token = xstrndup(sf_buf_cstr(&resp.body), resp.body.len);
	} else if (resp.status == 403 || resp.status == 404 || resp.status == 405) {
		sf_debug("aws: IMDSv2 token refused (HTTP %ld), falling back to IMDSv1", resp.status);
	} else {
		rc = sf_fail(err, SF_EAUTH, "EC2 instance metadata token request failed with HTTP %ld", resp.status);
		goto done;
	}
	if (token)
		sf_hdrs_add(&h, "X-aws-ec2-metadata-token", token);
	free(url);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/", root);
	rc = http_get(p, "GET", url, &h, 1, &resp, &terr);
	if (rc < 0 || resp.status == 404) {
		rc = sf_fail(err, SF_ENOTFOUND, "EC2 instance has no IAM role (instance profile)");
		goto done;
	}
	if (resp.status != 200) {
		rc = sf_fail(err, SF_EAUTH, "EC2 instance metadata answered HTTP %ld for the role name", resp.status);
		goto done;
	}
	role = xstrndup(sf_buf_cstr(&resp.body), strcspn(sf_buf_cstr(&resp.body), "\r\n"));
	if (!*role || strchr(role, '/')) {
		rc = sf_fail(err, SF_EAUTH, "EC2 instance metadata returned a bad role name");
		goto done;
	}
	free(url);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", root, role);
	rc = http_get(p, "GET", url, &h, 1, &resp, &terr);
	if (rc < 0 || resp.status != 200) {
		rc = sf_fail(err, SF_EAUTH, "EC2 instance metadata credentials for role %s: %s", role,
			     rc < 0 ? terr.msg : "HTTP error");
		goto done;
	}
	json_error_t je;
	doc = json_loadb(sf_buf_cstr(&resp.body), resp.body.len, 0, &je);
	const char *code = json_string_value(json_object_get(doc, "Code"));
	if (!doc || (code && strcmp(code, "Success"))) {
		if (doc)
			rc = sf_fail(err, SF_EAUTH, "EC2 instance metadata credentials for role %s: %s", role, code);
		else
			rc = sf_fail(err, SF_EAUTH, "EC2 instance metadata credentials for role %s: invalid JSON (line %d, column %d)",
				     role, je.line, je.column);
		goto done;
	}
	rc = sf_creds_from_json(doc, out, "EC2 instance metadata", err);
	if (rc == 0)
		snprintf(out->source, sizeof out->source, "imds (role %s)", role);
done:
	json_decref(doc);
	if (resp.body.s)
		OPENSSL_cleanse(resp.body.s, resp.body.len);
	sf_http_resp_release(&resp);
	sf_hdrs_release(&h);
	free(url);
	free(root);
	free(role);
	wipe_free(token);
	return rc;
}

static int env_keys(struct sf_aws_creds *out)
{
	const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
	if (!ak || !sk)
		return SF_ENOTFOUND;
	out->access_key = xstrdup(ak);
	out->secret_key = xstrdup(sk);
	out->session_token = xstrdup(env("AWS_SESSION_TOKEN"));
	out->expires = 0;
	snprintf(out->source, sizeof out->source, "env");
	return 0;
}

/* ---- profiles ---- */

static int profile_creds(struct sf_creds_provider *p, const char *name, const char **visited, int depth,
			 struct sf_aws_creds *out, struct sf_err *err);

static int assume_role(struct sf_creds_provider *p, const char *name, const char *role_arn,
		       const struct sf_aws_creds *src, int chained, struct sf_aws_creds *out, struct sf_err *err)
{
	const struct sf_aws_config *cfg = p->cfg;
	if (sf_aws_config_get(cfg, name, "mfa_serial")) {
		sf_fail(err, SF_EAUTH, "profile %s needs an MFA code (mfa_serial), which secfaas cannot prompt for", name);
		return sf_err_hint(err, "get session credentials first (aws sts get-session-token) and export them");
	}
	char *sess = session_name(p, sf_aws_config_get(cfg, name, "role_session_name"));
	json_t *params = json_pack("{s:s, s:s}", "RoleArn", role_arn, "RoleSessionName", sess);
	const char *ext = sf_aws_config_get(cfg, name, "external_id");
	if (ext)
		json_object_set_new(params, "ExternalId", json_string(ext));
	long dur = 3600;
	const char *ds = sf_aws_config_get(cfg, name, "duration_seconds");
	if (ds) {
		char *end = NULL;
		dur = strtol(ds, &end, 10);
		if (!end || *end || dur < 900 || dur > 43200) {
			json_decref(params);
			free(sess);
			return sf_fail(err, SF_EINVAL, "profile %s: duration_seconds \"%s\" must be 900..43200", name, ds);
		}
	}
	if (chained && dur > 3600) /* role chaining is capped at one hour */
		dur = 3600;
	json_object_set_new(params, "DurationSeconds", json_integer(dur));
	int rc = sts_creds(p, src, "AssumeRole", params, out, err);
	json_decref(params);
	free(sess);
	if (rc == 0)
		snprintf(out->source, sizeof out->source, "assume-role %s (profile %s)", role_arn, name);
	else
		sf_err_prefix(err, "assuming role for profile %s: ", name);
	return rc;
}

static int profile_creds(struct sf_creds_provider *p, const char *name, const char **visited, int depth,
			 struct sf_aws_creds *out, struct sf_err *err)
{
	const struct sf_aws_config *cfg = p->cfg;
	for (int i = 0; i < depth; i++)
		if (!strcmp(visited[i], name)) {
			sf_fail(err, SF_EINVAL, "profile %s: source_profile chain loops back to %s", visited[0], name);
			return sf_err_hint(err, "fix source_profile in the AWS config file");
		}
	if (depth >= MAX_CHAIN)
		return sf_fail(err, SF_EINVAL, "profile %s: source_profile chain is deeper than %d", visited[0], MAX_CHAIN);
	if (!sf_aws_config_has_profile(cfg, name)) {
		if (depth > 0)
			return sf_fail(err, SF_EINVAL, "source_profile %s (used by %s) does not exist", name,
				       visited[depth - 1]);
		return SF_ENOTFOUND;
	}
	visited[depth] = name;
	const char *role = sf_aws_config_get(cfg, name, "role_arn");
	const char *srcp = sf_aws_config_get(cfg, name, "source_profile");
	const char *csrc = sf_aws_config_get(cfg, name, "credential_source");
	const char *wif = sf_aws_config_get(cfg, name, "web_identity_token_file");
	const char *ak = sf_aws_config_get(cfg, name, "aws_access_key_id");
	const char *sk = sf_aws_config_get(cfg, name, "aws_secret_access_key");
	int rc;

	if (role && (srcp || csrc)) {
		struct sf_aws_creds src = SF_AWS_CREDS_INIT;
		if (srcp && csrc)
			return sf_fail(err, SF_EINVAL, "profile %s sets both source_profile and credential_source", name);
		if (srcp && !strcmp(srcp, name) && ak && sk) {
			/* a profile may name itself: its static keys assume its role */
			src.access_key = xstrdup(ak);
			src.secret_key = xstrdup(sk);
			src.session_token = xstrdup(sf_aws_config_get(cfg, name, "aws_session_token"));
			rc = 0;
		} else if (srcp) {
			rc = profile_creds(p, srcp, visited, depth + 1, &src, err);
			if (rc == SF_ENOTFOUND)
				rc = sf_fail(err, SF_EAUTH, "source_profile %s of profile %s has no credentials", srcp, name);
		} else if (!strcmp(csrc, "Environment")) {
			rc = env_keys(&src);
			if (rc < 0)
				rc = sf_fail(err, SF_EAUTH, "profile %s: credential_source Environment but "
							    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set", name);
		} else if (!strcmp(csrc, "Ec2InstanceMetadata")) {
			rc = imds(p, &src, err);
			if (rc == SF_ENOTFOUND)
				rc = SF_EAUTH, err->code = SF_EAUTH;
		} else if (!strcmp(csrc, "EcsContainer")) {
			rc = container(p, &src, err);
		} else {
			rc = sf_fail(err, SF_EINVAL, "profile %s: unknown credential_source \"%s\"", name, csrc);
		}
		if (rc == 0)
			rc = assume_role(p, name, role, &src, src.session_token != NULL, out, err);
		sf_aws_creds_release(&src);
		return rc;
	}
	if (role && wif)
		return web_identity(p, wif, role, sf_aws_config_get(cfg, name, "role_session_name"), out, err);
	if (role)
		return sf_fail(err, SF_EINVAL, "profile %s has role_arn but no source_profile, credential_source or "
					       "web_identity_token_file", name);
	if (ak && sk) {
		out->access_key = xstrdup(ak);
		out->secret_key = xstrdup(sk);
		out->session_token = xstrdup(sf_aws_config_get(cfg, name, "aws_session_token"));
		out->expires = 0;
		snprintf(out->source, sizeof out->source, "profile %s", name);
		return 0;
	}
	if (ak || sk)
		return sf_fail(err, SF_EAUTH, "profile %s has only one of aws_access_key_id / aws_secret_access_key", name);
	const char *proc = sf_aws_config_get(cfg, name, "credential_process");
	if (proc)
		return credential_process(p, proc, name, out, err);
	if (sf_aws_config_get(cfg, name, "sso_session") || sf_aws_config_get(cfg, name, "sso_start_url")) {
		sf_fail(err, SF_EAUTH, "profile %s uses IAM Identity Center (SSO), which secfaas does not read", name);
		return sf_err_hint(err, "run `aws configure export-credentials --profile %s --format env` and eval it", name);
	}
	return SF_ENOTFOUND;
}

/* The whole chain. */
static int resolve(struct sf_creds_provider *p, struct sf_aws_creds *out, struct sf_err *err)
{
	const struct sf_aws_config *cfg = p->cfg;
	int explicit_profile = cfg && sf_aws_config_profile_explicit(cfg);
	int rc;

	if (!explicit_profile && env_keys(out) == 0)
		return 0;
	if (!explicit_profile && env("AWS_WEB_IDENTITY_TOKEN_FILE") && env("AWS_ROLE_ARN"))
		return web_identity(p, env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN"),
				    env("AWS_ROLE_SESSION_NAME"), out, err);
	if (cfg) {
		const char *visited[MAX_CHAIN + 1];
		const char *name = sf_aws_config_profile(cfg);
		int named = explicit_profile || env("AWS_PROFILE");
		rc = profile_creds(p, name, visited, 0, out, err);
		if (rc != SF_ENOTFOUND)
			return rc;
		if (named && !sf_aws_config_has_profile(cfg, name)) {
			sf_fail(err, SF_EAUTH, "AWS profile %s not found in the shared config/credentials files", name);
			return sf_err_hint(err, "check AWS_PROFILE / --profile, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE");
		}
	}
	if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
		return container(p, out, err);
	struct sf_err ierr = SF_ERR_INIT;
	if (!truthy(getenv("AWS_EC2_METADATA_DISABLED"))) {
		rc = imds(p, out, &ierr);
		if (rc == 0)
			return 0;
	}
	/* Instance metadata is the last resort: off EC2 it fails in whatever
	 * way the network does, so name it as the last thing tried rather than
	 * as the cause. */
	if (ierr.code && ierr.code != SF_ENOTFOUND)
		sf_fail(err, SF_EAUTH, "no AWS credentials found (environment, shared files, container; EC2 instance metadata: %s)",
			ierr.msg);
	else
		sf_fail(err, SF_EAUTH, "no AWS credentials found");
	return sf_err_hint(err, "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a host with an "
				"instance/container role");
}

int sf_creds_provider_new(struct sf_creds_provider **out, const struct sf_aws_config *cfg, struct sf_http *http,
			  const struct sf_clock *clock, const struct sf_creds_sts *sts, struct sf_err *err)
{
	(void)err;
	struct sf_creds_provider *p = xcalloc(1, sizeof *p);
	p->cfg = cfg;
	p->http = http;
	p->clock = clock ? clock : sf_clock_system();
	if (sts)
		p->sts = *sts;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void sf_creds_provider_free(struct sf_creds_provider *p)
{
	if (!p)
		return;
	sf_aws_creds_release(&p->cached);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct sf_creds_share *sf_creds_share_new(void)
{
	struct sf_creds_share *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

void sf_creds_share_free(struct sf_creds_share *s)
{
	if (!s)
		return;
	for (struct share_entry *e = s->entries, *n; e; e = n) {
		n = e->next;
		sf_aws_creds_release(&e->c);
		free(e->key);
		free(e);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void sf_creds_provider_share(struct sf_creds_provider *p, struct sf_creds_share *s)
{
	pthread_mutex_lock(&p->mu);
	p->share = s;
	pthread_mutex_unlock(&p->mu);
}

/* The share's key for p's chain (owned). */
static char *share_key(const struct sf_creds_provider *p)
{
	const char *prof = p->cfg ? sf_aws_config_profile(p->cfg) : NULL;
	return xasprintf("%d:%s", p->cfg && sf_aws_config_profile_explicit(p->cfg), prof ? prof : "");
}

/* Under s->mu. */
static struct share_entry *share_find(struct sf_creds_share *s, const char *key, int make)
{
	for (struct share_entry *e = s->entries; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	if (!make)
		return NULL;
	struct share_entry *e = xcalloc(1, sizeof *e);
	e->key = xstrdup(key);
	e->next = s->entries;
	s->entries = e;
	return e;
}

void sf_creds_invalidate(struct sf_creds_provider *p)
{
	pthread_mutex_lock(&p->mu);
	sf_aws_creds_release(&p->cached);
	p->have = 0;
	if (p->share) {
		char *key = share_key(p);
		pthread_mutex_lock(&p->share->mu);
		struct share_entry *e = share_find(p->share, key, 0);
		if (e)
			sf_aws_creds_release(&e->c);
		pthread_mutex_unlock(&p->share->mu);
		free(key);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Fresh credentials for p: the share's while they are fresh, else the
 * chain's, left in the share for the others (under its lock: providers
 * asking at once walk the chain once). */
static int resolve_shared(struct sf_creds_provider *p, double now, struct sf_aws_creds *out, struct sf_err *err)
{
	if (!p->share)
		return resolve(p, out, err);
	char *key = share_key(p);
	pthread_mutex_lock(&p->share->mu);
	struct share_entry *e = share_find(p->share, key, 1);
	free(key);
	int rc = 0;
	if (e->c.access_key && (e->c.expires <= 0 || e->c.expires - now >= REFRESH_ADVISORY_S)) {
		sf_aws_creds_copy(out, &e->c);
	} else if ((rc = resolve(p, out, err)) == 0) {
		sf_aws_creds_release(&e->c);
		sf_aws_creds_copy(&e->c, out);
	}
	pthread_mutex_unlock(&p->share->mu);
	return rc;
}

int sf_creds_get(struct sf_creds_provider *p, struct sf_aws_creds *out, struct sf_err *err)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&p->mu);
	double now = p->clock->now(p->clock->ctx);
	double left = p->cached.expires - now;
	if (!p->have || (p->cached.expires > 0 && left < REFRESH_ADVISORY_S)) {
		struct sf_aws_creds fresh = SF_AWS_CREDS_INIT;
		struct sf_err rerr = SF_ERR_INIT;
		rc = resolve_shared(p, now, &fresh, &rerr);
		if (rc == 0) {
			sf_aws_creds_release(&p->cached);
			p->cached = fresh;
			p->have = 1;
			sf_debug("aws: credentials from %s%s", p->cached.source, p->cached.expires ? " (temporary)" : "");
		} else if (p->have && left > REFRESH_MANDATORY_S) {
			sf_warn("aws: refreshing credentials failed, using the cached ones for now: %s", rerr.msg);
			rc = 0;
		} else {
			if (err)
				*err = rerr;
			if (rc == SF_ENOTFOUND) /* "not found" here means no credentials */
				rc = SF_EAUTH;
			if (err)
				err->code = rc;
		}
	}
	if (rc == 0)
		sf_aws_creds_copy(out, &p->cached);
	pthread_mutex_unlock(&p->mu);
	return rc;
}
