/*
 * `secfaas whoami` and `secfaas eks-token` handlers, called directly with a
 * struct sf_cli (STS played by a loopback server thread).
 */
#include "t.h"

#include <stdio.h>
#include <string.h>

#include "provisioner/cli/commands_aws.h"
#include "tests/aws/fixture.h"

static char *run(sf_cmd_fn fn, int argc, char **argv, int *code, char **errtext)
{
	struct sf_cli cli;
	memset(&cli, 0, sizeof cli);
	char *buf = NULL, *ebuf = NULL;
	size_t n = 0, en = 0;
	cli.out = open_memstream(&buf, &n);
	cli.errf = open_memstream(&ebuf, &en);
	*code = fn(&cli, argc, argv);
	fclose(cli.out);
	fclose(cli.errf);
	if (errtext)
		*errtext = ebuf;
	else
		free(ebuf);
	return buf;
}

T_TEST(eks_token_prints_exec_credential)
{
	fx_clean_env();
	setenv("AWS_ACCESS_KEY_ID", FX_AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FX_SECRET, 1);
	char *argv[] = {"eks-token", "--cluster", "prod", "--region", "eu-west-1", NULL};
	int code;
	char *out = run(cmd_eks_token, 5, argv, &code, NULL);
	T_EQ(code, 0);
	json_t *j = json_loads(out, 0, NULL);
	T_STREQ(json_string_value(json_object_get(j, "kind")), "ExecCredential");
	T_STREQ(json_string_value(json_object_get(j, "apiVersion")), "client.authentication.k8s.io/v1beta1");
	json_t *st = json_object_get(j, "status");
	T_OK(!strncmp(json_string_value(json_object_get(st, "token")), "k8s-aws-v1.", 11));
	double t = 0;
	T_EQ(sf_time_parse(json_string_value(json_object_get(st, "expirationTimestamp")), &t), 0);
	T_OK(t > sf_now() + 13 * 60 && t < sf_now() + 15 * 60);
	json_decref(j);
	free(out);
	/* kubectl's KUBERNETES_EXEC_INFO apiVersion is echoed */
	setenv("KUBERNETES_EXEC_INFO",
	       "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"spec\":{\"interactive\":false}}", 1);
	out = run(cmd_eks_token, 5, argv, &code, NULL);
	T_CONTAINS(out, "\"apiVersion\":\"client.authentication.k8s.io/v1\"");
	free(out);
	unsetenv("KUBERNETES_EXEC_INFO");
}

T_TEST(eks_token_usage_errors_are_one_line)
{
	fx_clean_env();
	char *argv[] = {"eks-token", "--region", "eu-west-1", NULL};
	int code;
	char *err = NULL;
	char *out = run(cmd_eks_token, 3, argv, &code, &err);
	T_EQ(code, SF_EXIT_ERROR);
	T_CONTAINS(err, "eks-token needs --cluster NAME");
	free(out);
	free(err);
	char *argv2[] = {"eks-token", "--cluster", "prod", "--region", "eu-west-1", NULL};
	out = run(cmd_eks_token, 5, argv2, &code, &err); /* no credentials anywhere */
	T_EQ(code, SF_EXIT_ERROR);
	T_CONTAINS(err, "no AWS credentials found");
	T_EQ((int)(strchr(err, '\n') - err), (int)strlen(err) - 1);
	free(out);
	free(err);
	char *argv3[] = {"eks-token", "--cluster", "prod", "--region", "mars", NULL};
	out = run(cmd_eks_token, 5, argv3, &code, &err);
	T_CONTAINS(err, "unknown AWS region \"mars\"");
	free(out);
	free(err);
}

T_TEST(whoami_prints_account_arn_source)
{
	fx_clean_env();
	struct fx_srv s;
	T_EQ(fx_srv_start(&s), 0);
	const char *body = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci</Arn>"
			   "<UserId>AIDA1</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
			   "</GetCallerIdentityResponse>";
	char *rep = xasprintf("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			      strlen(body), body);
	fx_srv_rule(&s, "Action=GetCallerIdentity", rep, -1);
	free(rep);
	char *u = fx_srv_url(&s, "");
	setenv("AWS_ENDPOINT_URL_STS", u, 1);
	setenv("AWS_ACCESS_KEY_ID", FX_AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FX_SECRET, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	char *argv[] = {"whoami", NULL};
	int code;
	char *out = run(cmd_whoami, 1, argv, &code, NULL);
	T_EQ(code, 0);
	T_CONTAINS(out, "account:  123456789012\n");
	T_CONTAINS(out, "arn:      arn:aws:iam::123456789012:user/ci\n");
	T_CONTAINS(out, "source:   env\n");
	free(out);
	char *argv2[] = {"whoami", "--json", NULL};
	out = run(cmd_whoami, 2, argv2, &code, NULL);
	json_t *j = json_loads(out, 0, NULL);
	T_STREQ(json_string_value(json_object_get(j, "credential_source")), "env");
	T_STREQ(json_string_value(json_object_get(j, "account")), "123456789012");
	json_decref(j);
	free(out);
	fx_srv_stop(&s);
	free(u);
	fx_clean_env();
}

T_MAIN()
