/*
 * cmd_kube.c - `secfaas kubeconfig`, `secfaas verify`, `secfaas output`
 * (see commands_kube.h).  Only this file prints; the Kubernetes work goes
 * through kube/.
 */
#include <limits.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "aws/client.h"
#include "http.h"
#include "kube/kube.h"
#include "provisioner/cli/commands_kube.h"
#include "provisioner/cli/run.h"
#include "provisioner/node/render.h"
#include "provisioner/spec/schema.h"
#include "provisioner/spec/spec.h"
#include "resources/provider.h"
#include "resources/types.h"
#include "util.h"

/* ------------------------------------------------------------ state lookup */

struct target {
	json_t *conn;      /* endpoint, ca_data, cluster_name, token */
	char *region;
	char *username;    /* OpenFaaS basic auth, from state */
	char *password;
	char *from;        /* address the connection came from */
};

static void target_release(struct target *t)
{
	json_decref(t->conn);
	free(t->region);
	free(t->username);
	if (t->password)
		memset(t->password, 0, strlen(t->password));
	free(t->password);
	free(t->from);
	memset(t, 0, sizeof *t);
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Region from an ARN "arn:aws:eks:eu-west-1:..." (owned) or NULL. */
static char *arn_region(const char *arn)
{
	if (!arn || strncmp(arn, "arn:", 4))
		return NULL;
	const char *p = arn;
	for (int i = 0; i < 3 && p; i++)
		p = strchr(p + 1, ':');
	if (!p)
		return NULL;
	const char *e = strchr(p + 1, ':');
	return e && e > p + 1 ? xstrndup(p + 1, (size_t)(e - p - 1)) : NULL;
}

static int load_target(struct sf_cli *cli, struct sf_ws *ws, const char *name, struct target *t)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_resource **res = NULL;
	size_t n = 0;
	memset(t, 0, sizeof *t);
	int rc = sf_run_open(cli, ws, name, "read", 0, 0, 0);
	if (rc)
		return rc;
	if (sf_state_list(ws->st, &res, &n, &err) < 0)
		return sf_cli_error(cli, &err);
	for (size_t i = 0; i < n; i++) {
		const json_t *a = res[i]->attrs;
		if (!strcmp(res[i]->address, "eks_cluster.main") && sget(a, "endpoint")) {
			json_decref(t->conn);
			t->conn = json_pack("{s:s, s:s?, s:s?}", "endpoint", sget(a, "endpoint"), "ca_data", sget(a, "ca_data"),
					    "cluster_name", sget(a, "name"));
			free(t->from);
			t->from = xstrdup(res[i]->address);
			free(t->region);
			t->region = sget(a, "region") ? xstrdup(sget(a, "region")) : arn_region(sget(a, "arn"));
		} else if (!t->conn && sf_provider_of(sf_rtype_find(res[i]->type)) == &sf_provider_k8s && sget(a, "endpoint")) {
			t->conn = json_pack("{s:s, s:s?, s:s?, s:s?}", "endpoint", sget(a, "endpoint"), "ca_data",
					    sget(a, "ca_data"), "cluster_name", sget(a, "cluster_name"), "token", sget(a, "token"));
			t->from = xstrdup(res[i]->address);
		}
		if (!strcmp(res[i]->type, "k8s_basic_auth") && sget(a, "password") && !t->password) {
			t->password = xstrdup(sget(a, "password"));
			t->username = xstrdup(sget(a, "username") ? sget(a, "username") : "admin");
		}
	}
	sf_resource_list_free(res, n);
	if (!t->conn)
		return sf_cli_errorf(cli, "workspace %s has no cluster in its state (no eks_cluster.main or k8s_* resource); run `secfaas apply` first",
				     name ? name : "(default)");
	if (cli->region) {
		free(t->region);
		t->region = xstrdup(cli->region);
	}
	return 0;
}

/* Client for the target; *aws (owned, may stay NULL) backs the EKS token. */
static int connect_target(struct sf_cli *cli, const struct target *t, struct sf_aws **aws, struct sf_kube **k,
			  struct sf_err *err)
{
	struct sf_kube_conn c = {.endpoint = sget(t->conn, "endpoint"),
				 .ca_b64 = sget(t->conn, "ca_data"),
				 .cluster = sget(t->conn, "cluster_name"),
				 .token = sget(t->conn, "token")};
	*aws = NULL;
	if (!c.token) {
		struct sf_aws_opts o = SF_AWS_OPTS_INIT;
		o.region = t->region;
		o.profile = cli->profile;
		if (sf_aws_new(aws, &o, err) < 0)
			return err->code;
	}
	struct sf_kube_token_source eks = {sf_eks_mint, *aws};
	return sf_kube_new(k, &c, *aws ? &eks : NULL, err);
}

/* ------------------------------------------------------------ kubeconfig */

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) ? 0 : -1;
}

static int emit_json(yaml_emitter_t *e, const json_t *v)
{
	yaml_event_t ev;
	if (json_is_object(v)) {
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (emit(e, &ev))
			return -1;
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)k, (int)strlen(k), 1, 1,
						     YAML_ANY_SCALAR_STYLE);
			if (emit(e, &ev) || emit_json(e, x))
				return -1;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	if (json_is_array(v)) {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (emit(e, &ev))
			return -1;
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) if (emit_json(e, x)) return -1;
		yaml_sequence_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	char *s;
	int plain = 1;
	if (json_is_string(v)) {
		s = xstrdup(json_string_value(v));
		plain = 0; /* strings stay strings ("true", "1.32") */
	} else if (json_is_null(v)) {
		s = xstrdup("null");
	} else {
		s = json_dumps(v, JSON_ENCODE_ANY);
	}
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), plain, !plain,
				     plain ? YAML_PLAIN_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
	int rc = emit(e, &ev);
	free(s);
	return rc;
}

static int yaml_out(void *ud, unsigned char *buf, size_t n)
{
	sf_buf_append(ud, buf, n);
	return 1;
}

/* JSON → YAML text (owned) or NULL. */
static char *to_yaml(const json_t *doc)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	struct sf_buf b = SF_BUF_INIT;
	int ok = 0;
	if (!yaml_emitter_initialize(&e))
		return NULL;
	yaml_emitter_set_output(&e, yaml_out, &b);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (!emit(&e, &ev)) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		if (!emit(&e, &ev) && !emit_json(&e, doc)) {
			yaml_document_end_event_initialize(&ev, 1);
			if (!emit(&e, &ev)) {
				yaml_stream_end_event_initialize(&ev);
				ok = !emit(&e, &ev);
			}
		}
	}
	yaml_emitter_delete(&e);
	if (!ok) {
		sf_buf_release(&b);
		return NULL;
	}
	return sf_buf_detach(&b);
}

/* Replace or append the entry named `name` in list `key` of kc. */
static void upsert(json_t *kc, const char *key, const char *name, json_t *entry)
{
	json_t *list = json_object_get(kc, key);
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(kc, key, list);
	}
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
	{
		const char *n = sget(x, "name");
		if (n && !strcmp(n, name)) {
			json_array_set_new(list, i, entry);
			return;
		}
	}
	json_array_append_new(list, entry);
}

static char *default_kubeconfig(void)
{
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		size_t l = strcspn(env, ":");
		return xstrndup(env, l);
	}
	const char *home = getenv("HOME");
	return xasprintf("%s/.kube/config", home && *home ? home : ".");
}

/* Existing kubeconfig as JSON (new reference), a fresh one when missing. */
static int read_kubeconfig(struct sf_cli *cli, const char *path, json_t **out)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	*out = NULL;
	if (access(path, F_OK) != 0) {
		*out = json_pack("{s:s, s:s, s:[], s:[], s:[], s:{}}", "apiVersion", "v1", "kind", "Config", "clusters",
				 "users", "contexts", "preferences");
		return 0;
	}
	int rc = 0;
	if (sf_spec_load_path(&set, path, &d) < 0 || set.n > 1) {
		rc = sf_cli_errorf(cli, "cannot merge into %s: %s; pass another --kubeconfig PATH", path,
				   d.n ? d.v[0].msg : "not a single YAML document");
	} else {
		*out = set.n && set.docs[0].root ? sf_node_to_json(set.docs[0].root) : json_object();
		if (!json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			rc = sf_cli_errorf(cli, "cannot merge into %s: not a kubeconfig mapping", path);
		}
	}
	sf_specset_release(&set);
	sf_diags_release(&d);
	return rc;
}

int cmd_kubeconfig(struct sf_cli *cli, int argc, char **argv)
{
	const char *name = NULL, *path_opt = NULL, *v;
	for (int i = 1; i < argc; i++) {
		int m;
		if ((m = sf_opt_match(argc, argv, &i, "kubeconfig", 1, &v))) {
			if (m < 0)
				return sf_cli_errorf(cli, "--kubeconfig needs a path; see `secfaas kubeconfig --help`");
			path_opt = v;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else if (argv[i][0] == '-') {
			return sf_cli_unknown_option(cli, "kubeconfig", argv[i]);
		} else {
			return sf_cli_errorf(cli, "unexpected argument %s for kubeconfig; see `secfaas kubeconfig --help`", argv[i]);
		}
	}
	if (!name)
		return sf_cli_errorf(cli, "kubeconfig needs the workspace NAME; see `secfaas kubeconfig --help`");
	struct sf_ws ws;
	struct target t;
	memset(&ws, 0, sizeof ws);
	char *path = path_opt ? xstrdup(path_opt) : default_kubeconfig(), *text = NULL, *entry = NULL, *dir = NULL;
	json_t *kc = NULL;
	char self[PATH_MAX];
	int rc = load_target(cli, &ws, name, &t);
	if (rc)
		goto done;
	if ((rc = read_kubeconfig(cli, path, &kc)))
		goto done;
	entry = xasprintf("secfaas-%s", name);
	upsert(kc, "clusters", entry,
	       json_pack("{s:s, s:{s:s, s:s?}}", "name", entry, "cluster", "server", sget(t.conn, "endpoint"),
			 "certificate-authority-data", sget(t.conn, "ca_data")));
	json_t *user;
	if (sget(t.conn, "token")) {
		user = json_pack("{s:s}", "token", sget(t.conn, "token"));
	} else {
		ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
		self[sl > 0 ? sl : 0] = 0;
		json_t *args = json_pack("[s, s, s]", "eks-token", "--cluster", sget(t.conn, "cluster_name"));
		if (t.region) {
			json_array_append_new(args, json_string("--region"));
			json_array_append_new(args, json_string(t.region));
		}
		user = json_pack("{s:{s:s, s:s, s:o, s:s, s:b}}", "exec", "apiVersion", "client.authentication.k8s.io/v1beta1",
				 "command", sl > 0 ? self : "secfaas", "args", args, "interactiveMode", "Never",
				 "provideClusterInfo", 0);
		if (cli->profile)
			json_object_set_new(json_object_get(user, "exec"), "env",
					    json_pack("[{s:s, s:s}]", "name", "AWS_PROFILE", "value", cli->profile));
	}
	upsert(kc, "users", entry, json_pack("{s:s, s:o}", "name", entry, "user", user));
	upsert(kc, "contexts", entry, json_pack("{s:s, s:{s:s, s:s}}", "name", entry, "context", "cluster", entry, "user", entry));
	json_object_set_new(kc, "current-context", json_string(entry));
	if (!json_object_get(kc, "apiVersion"))
		json_object_set_new(kc, "apiVersion", json_string("v1"));
	if (!json_object_get(kc, "kind"))
		json_object_set_new(kc, "kind", json_string("Config"));
	text = to_yaml(kc);
	struct sf_err err = SF_ERR_INIT;
	dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (sf_mkdir_p(dir, 0700, &err) < 0) {
			rc = sf_cli_error(cli, &err);
			goto done;
		}
	}
	if (!text || sf_write_file_atomic(path, text, strlen(text), 0600, &err) < 0) {
		if (!text)
			sf_fail(&err, SF_ERROR, "cannot render the kubeconfig as YAML");
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Wrote context %s to %s (server %s, user %s)\n", entry, path, sget(t.conn, "endpoint"),
		sget(t.conn, "token") ? "static token" : "exec: secfaas eks-token");
	rc = SF_EXIT_OK;
done:
	free(text);
	free(entry);
	free(dir);
	free(path);
	json_decref(kc);
	target_release(&t);
	sf_run_close(&ws);
	return rc;
}

/* ------------------------------------------------------------ the gateway */

/* Does `host` resolve to an address?  A load balancer's DNS name can lag
 * its creation by minutes, or not resolve from where secfaas runs. */
static int resolves(const char *host)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int ok = getaddrinfo(host, NULL, &hints, &ai) == 0;
	if (ai)
		freeaddrinfo(ai);
	return ok;
}

/* A node's ExternalIP and the gateway's NodePort (owned) or NULL. */
static char *node_port_url(struct sf_kube *k, const json_t *port, struct sf_err *err)
{
	json_t *nodes = NULL;
	char *url = NULL;
	long long np = json_integer_value(json_object_get(port, "nodePort"));
	if (np <= 0) {
		sf_fail(err, SF_ENOTFOUND, "gateway-external has no NodePort");
		return NULL;
	}
	if (sf_kube_list(k, "v1", "Node", NULL, NULL, &nodes, err) < 0)
		return NULL;
	size_t i, j;
	json_t *n, *a;
	json_array_foreach(json_object_get(nodes, "items"), i, n)
		json_array_foreach(json_object_get(json_object_get(n, "status"), "addresses"), j, a)
			if (!url && sget(a, "type") && !strcmp(sget(a, "type"), "ExternalIP") && sget(a, "address"))
				url = xasprintf("http://%s:%lld", sget(a, "address"), np);
	json_decref(nodes);
	if (!url)
		sf_fail(err, SF_ENOTFOUND, "no node has an ExternalIP for the gateway NodePort %lld", np);
	return url;
}

/* Gateway base URL for the /system/ calls (the API server's service proxy
 * strips Authorization): the LoadBalancer address, else a node's
 * ExternalIP and the NodePort of gateway-external.  A load balancer name
 * that does not resolve falls back to the NodePort every LoadBalancer
 * Service also has; *note (owned, may stay NULL) says so.  Owned or NULL
 * (why in err). */
static char *gateway_url(struct sf_kube *k, char **note, struct sf_err *err)
{
	json_t *svc = NULL;
	char *url = NULL;
	*note = NULL;
	if (sf_kube_get(k, "v1", "Service", "openfaas", "gateway-external", &svc, err) < 0)
		return NULL;
	const json_t *spec = json_object_get(svc, "spec");
	const json_t *port = json_array_get(json_object_get(spec, "ports"), 0);
	const json_t *ing = json_array_get(json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"), "ingress"), 0);
	const char *type = sget(spec, "type");
	const char *host = sget(ing, "hostname"), *ip = sget(ing, "ip");
	if (type && !strcmp(type, "LoadBalancer") && (ip || (host && resolves(host)))) {
		url = xasprintf("http://%s:%lld", ip ? ip : host, json_integer_value(json_object_get(port, "port")));
	} else if (type && !strcmp(type, "LoadBalancer")) {
		url = node_port_url(k, port, err);
		if (url)
			*note = host ? xasprintf("the load balancer %s does not resolve; using the node port", host)
				     : xstrdup("the load balancer has no address yet; using the node port");
	} else if (type && !strcmp(type, "ClusterIP")) {
		sf_fail(err, SF_ENOTFOUND, "gateway-external is a ClusterIP Service: reachable only inside the cluster");
	} else {
		url = node_port_url(k, port, err);
	}
	const char *internal = sget(json_object_get(json_object_get(svc, "metadata"), "annotations"),
				    SF_KUBE_LB_INTERNAL_ANN);
	if (url && type && !strcmp(type, "LoadBalancer") && internal && *internal && strcmp(internal, "false")) {
		/* openfaas.gatewayLoadBalancer.scheme: internal */
		char *was = *note;
		*note = xasprintf("%s%sthe load balancer is internal: reachable only from the VPC and what is routed to it",
				  was ? was : "", was ? "; " : "");
		free(was);
	}
	json_decref(svc);
	return url;
}

/* ------------------------------------------------------------ output */

/* The outputs, in the order they print; sensitive ones are hidden in
 * listings and null in --json unless --show-sensitive. */
static const struct {
	const char *name;
	int sensitive;
	const char *help;
} outputs[] = {
	{"cluster_name", 0, "the EKS cluster's name"},
	{"cluster_endpoint", 0, "the Kubernetes API endpoint"},
	{"kubeconfig_context", 0, "the context `secfaas kubeconfig NAME` writes"},
	{"gateway_url", 0, "the OpenFaaS gateway (load balancer, else a node's address and the node port)"},
	{"openfaas_username", 0, "the OpenFaaS gateway's basic-auth user"},
	{"openfaas_password", 1, "its password"},
};

static int output_index(const char *name)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(outputs); i++)
		if (!strcmp(outputs[i].name, name))
			return (int)i;
	return -1;
}

/* The workspace's outputs as JSON (new reference); values that cannot be
 * known are absent.  Only `want` (or all when -1) is computed, so asking for
 * the endpoint never calls the cluster. *gw_err says why gateway_url is
 * missing, *gw_note how it was reached. */
static json_t *collect_outputs(struct sf_cli *cli, const char *ws, const struct target *t, int want, char **gw_note,
			       struct sf_err *gw_err)
{
	json_t *o = json_object();
	if (sget(t->conn, "cluster_name"))
		json_object_set_new(o, "cluster_name", json_string(sget(t->conn, "cluster_name")));
	json_object_set_new(o, "cluster_endpoint", json_string(sget(t->conn, "endpoint")));
	if (ws)
		json_object_set_new(o, "kubeconfig_context", json_pack("s+", "secfaas-", ws));
	if (t->password) {
		json_object_set_new(o, "openfaas_username", json_string(t->username));
		json_object_set_new(o, "openfaas_password", json_string(t->password));
	}
	if (want < 0 || !strcmp(outputs[want].name, "gateway_url")) {
		struct sf_aws *aws = NULL;
		struct sf_kube *k = NULL;
		char *url = NULL;
		if (connect_target(cli, t, &aws, &k, gw_err) == 0)
			url = gateway_url(k, gw_note, gw_err);
		if (url)
			json_object_set_new(o, "gateway_url", json_string(url));
		free(url);
		sf_kube_free(k);
		sf_aws_free(aws);
	}
	return o;
}

int cmd_output(struct sf_cli *cli, int argc, char **argv)
{
	const char *name = NULL, *pick = NULL;
	int show = 0, raw = 0;
	for (int i = 1; i < argc; i++) {
		if (sf_opt_match(argc, argv, &i, "show-sensitive", 0, NULL) > 0)
			show = 1;
		else if (sf_opt_match(argc, argv, &i, "raw", 0, NULL) > 0)
			raw = 1;
		else if (argv[i][0] == '-')
			return sf_cli_unknown_option(cli, "output", argv[i]);
		else if (output_index(argv[i]) >= 0 && !pick)
			pick = argv[i];
		else if (!name && !strchr(argv[i], '_'))
			name = argv[i];
		else {
			const char *names[SF_ARRAY_LEN(outputs)];
			for (size_t k = 0; k < SF_ARRAY_LEN(outputs); k++)
				names[k] = outputs[k].name;
			const char *hint = sf_did_you_mean(argv[i], names, SF_ARRAY_LEN(outputs));
			return sf_cli_errorf(cli, "output: no output named \"%s\"%s%s%s; see `secfaas output --help`", argv[i],
					     hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
		}
	}
	if (raw && !pick)
		return sf_cli_errorf(cli, "output --raw needs an output name, e.g. `secfaas output --raw gateway_url`");
	if (raw && cli->json)
		return sf_cli_errorf(cli, "output: --raw and --json exclude each other");
	struct sf_ws ws;
	struct target t;
	memset(&ws, 0, sizeof ws);
	int rc = load_target(cli, &ws, name, &t);
	if (rc) {
		target_release(&t);
		sf_run_close(&ws);
		return rc;
	}
	int want = pick ? output_index(pick) : -1;
	char *note = NULL;
	struct sf_err gerr = SF_ERR_INIT;
	json_t *o = collect_outputs(cli, ws.cfg.workspace ? ws.cfg.workspace : name, &t, want, &note, &gerr);
	if (pick) {
		/* one output, asked for by name: its value, sensitive or not */
		const json_t *v = json_object_get(o, pick);
		if (!v) {
			if (!strcmp(pick, "gateway_url"))
				rc = sf_cli_errorf(cli, "output gateway_url: %s", gerr.msg[0] ? gerr.msg : "unknown");
			else
				rc = sf_cli_errorf(cli, "output %s: workspace %s has none (OpenFaaS not installed?)", pick,
						   name ? name : "(default)");
		} else if (cli->json) {
			sf_cli_print_json(cli, json_incref((json_t *)v));
		} else {
			fprintf(cli->out, raw ? "%s" : "%s\n", json_string_value(v));
		}
		if (note && !raw)
			fprintf(cli->errf, "secfaas: note: %s\n", note);
	} else if (cli->json) {
		/* Terraform's shape: name -> {value, type, sensitive}; sensitive
		 * values are null unless --show-sensitive */
		json_t *j = json_object();
		for (size_t i = 0; i < SF_ARRAY_LEN(outputs); i++) {
			const json_t *v = json_object_get(o, outputs[i].name);
			if (!v)
				continue;
			json_object_set_new(j, outputs[i].name,
					    json_pack("{s:O, s:s, s:b}", "value",
						      outputs[i].sensitive && !show ? json_null() : v, "type", "string",
						      "sensitive", outputs[i].sensitive));
		}
		sf_cli_print_json(cli, j);
	} else {
		int hidden = 0;
		for (size_t i = 0; i < SF_ARRAY_LEN(outputs); i++) {
			const json_t *v = json_object_get(o, outputs[i].name);
			if (!v)
				continue;
			hidden |= outputs[i].sensitive && !show;
			fprintf(cli->out, "%-18s = %s\n", outputs[i].name,
				outputs[i].sensitive && !show ? "(sensitive value)" : json_string_value(v));
		}
		if (!json_object_get(o, "gateway_url") && t.password)
			fprintf(cli->errf, "secfaas: warning: gateway_url unknown: %s\n", gerr.msg);
		if (note)
			fprintf(cli->errf, "secfaas: note: gateway_url: %s\n", note);
		if (hidden)
			fprintf(cli->out, "\n(sensitive values hidden; `secfaas output %s%sopenfaas_password` or --show-sensitive prints them)\n",
				name ? name : "", name ? " " : "");
	}
	free(note);
	json_decref(o);
	target_release(&t);
	sf_run_close(&ws);
	return rc;
}

/* ------------------------------------------------------------ verify */

struct report {
	struct sf_cli *cli;
	int n, failed;
};

static void check(struct report *r, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(struct report *r, int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(r->cli->out, "  %s  %s\n", ok ? "PASS" : "FAIL", s);
	fflush(r->cli->out);
	free(s);
	r->n++;
	r->failed += !ok;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Call the gateway with basic auth. *body owned. Returns HTTP status or < 0
 * (*unsent, when not NULL: no connection was made, so nothing was sent). */
static long gw_call(struct sf_http *h, const char *base, const char *method, const char *path, const char *user,
		    const char *pw, const char *body, char **out, int *unsent, struct sf_err *err)
{
	struct sf_hdrs hd = SF_HDRS_INIT;
	char *cred = xasprintf("%s:%s", user, pw);
	size_t cl = strlen(cred);
	unsigned char *b64 = xmalloc(4 * ((cl + 2) / 3) + 1);
	EVP_EncodeBlock(b64, (unsigned char *)cred, (int)cl);
	char *auth = xasprintf("Basic %s", b64);
	char *url = xasprintf("%s%s", base, path);
	sf_hdrs_add(&hd, "Authorization", auth);
	if (body)
		sf_hdrs_add(&hd, "Content-Type", "application/json");
	struct sf_http_req rq = {.method = method, .url = url, .headers = &hd, .body = body,
				 .body_len = body ? strlen(body) : 0, .timeout_s = 30};
	struct sf_http_resp rs = SF_HTTP_RESP_INIT;
	long st = sf_http_send(h, &rq, &rs, err) < 0 ? err->code : rs.status;
	if (unsent)
		*unsent = st < 0 && rs.unsent;
	if (out)
		*out = xstrdup(sf_buf_cstr(&rs.body));
	sf_http_resp_release(&rs);
	sf_hdrs_release(&hd);
	memset(cred, 0, cl);
	free(cred);
	free(b64);
	free(auth);
	free(url);
	return st;
}

/* What the isolation probe function runs.  The classic watchdog splits
 * fprocess on spaces and uses no shell, so sh evaluates the script from the
 * function's environment.  It reads its targets on stdin, one per line
 * ("name host port kind", kind tcp or imds), tries them all at once and
 * prints "probe <name> <result>": a TCP path is connected when nc's connect
 * succeeds, refused when something answered no, dropped when the connect
 * timed out (what a NetworkPolicy does), error otherwise; the IMDS path sends
 * the IMDSv2 token PUT and reads the reply (token or no-token).  BusyBox (the
 * image's userland) has sh, nc, timeout and mktemp.  The banner probe stays a
 * function of its own whose fprocess is `dmesg` alone. */
#define PROBE_FPROCESS "sh -c eval$IFS\"$SECFAAS_PROBE\""
static const char PROBE_SCRIPT[] =
	"d=$(mktemp -d); i=0; "
	"while read -r name host port kind; do i=$((i+1)); ( "
	"if [ \"$kind\" = imds ]; then "
	"out=$(printf 'PUT /latest/api/token HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n"
	"X-aws-ec2-metadata-token-ttl-seconds: 60\\r\\n\\r\\n' | timeout 5 nc -w 4 \"$host\" \"$port\" 2>&1); "
	"case \"$out\" in *' 200 '*) r=token;; *) r=no-token;; esac; "
	"else out=$(timeout 5 nc -w 4 \"$host\" \"$port\" </dev/null 2>&1); rc=$?; "
	"case \"$rc:$out\" in 1:*'timed out'*) r=dropped;; 143:*|124:*) r=dropped;; 1:*refused*) r=refused;; "
	"1:*) r=error;; *) r=connected;; esac; fi; "
	"echo \"probe $name $r\" >\"$d/$i\" ) & done; wait; cat \"$d\"/* 2>/dev/null; rm -rf \"$d\"";

/* The ClusterIP:port of Service ns/name (owned), or NULL. */
static char *service_target(struct sf_kube *k, const char *ns, const char *name, int port)
{
	struct sf_err e = SF_ERR_INIT;
	json_t *svc = NULL;
	char *out = NULL;
	if (sf_kube_get(k, "v1", "Service", ns, name, &svc, &e) == 0) {
		const char *ip = sget(json_object_get(svc, "spec"), "clusterIP");
		if (ip && *ip && strcmp(ip, "None"))
			out = xasprintf("%s:%d", ip, port);
	}
	json_decref(svc);
	return out;
}

/* Add one path for the probe: `name` (one word, the probe's key), `what`
 * (the report's words), target "host:port" (owned, taken; NULL = the
 * destination does not exist here, so nothing is added). */
static void add_path(json_t *paths, const char *name, const char *what, char *target, int allowed)
{
	if (!target)
		return;
	json_array_append_new(paths, json_pack("{s:s, s:s, s:s, s:b}", "name", name, "what", what, "target", target,
					       "allowed", allowed));
	free(target);
}

/* One PASS/FAIL line per path the probe tried: each must fail except the
 * allowed destination, which must succeed. */
static void isolation_report(struct report *r, const char *out, const json_t *paths)
{
	size_t i;
	json_t *p;
	json_array_foreach(paths, i, p)
	{
		const char *name = sget(p, "name"), *what = sget(p, "what"), *tg = sget(p, "target");
		int allowed = json_is_true(json_object_get(p, "allowed"));
		char *key = xasprintf("probe %s ", name);
		const char *at = strstr(out, key);
		char res[32] = "";
		if (at)
			sscanf(at + strlen(key), "%31s", res);
		free(key);
		if (!res[0]) {
			check(r, 0, "isolation: %s %s: the probe gave no answer", what, tg);
			continue;
		}
		int reached = !strcmp(res, "connected") || !strcmp(res, "token");
		if (allowed)
			check(r, reached, "isolation: %s %s from a function: %s (must succeed)", what, tg, res);
		else
			check(r, !reached, "isolation: %s %s from a function: %s (must fail)", what, tg, res);
	}
}

/* The probe's stdin: "name host port kind" per path (owned). */
static char *probe_input(const json_t *paths)
{
	struct sf_buf in = SF_BUF_INIT;
	size_t i;
	json_t *p;
	json_array_foreach(paths, i, p)
	{
		const char *name = sget(p, "name"), *tg = sget(p, "target"), *colon = strrchr(tg, ':');
		sf_buf_printf(&in, "%s %.*s %s %s\n", name, (int)(colon - tg), tg, colon + 1,
			      !strcmp(name, "imds-token") ? "imds" : "tcp");
	}
	char *s = xstrdup(sf_buf_cstr(&in));
	sf_buf_release(&in);
	return s;
}

/* Deploy function `fn` through the gateway; 1 when it was accepted. */
static int deploy_function(struct report *r, struct sf_http *h, const char *gw, const char *user, const char *pw,
			   const char *fn, const char *fprocess, const char *script, const char *role, double until)
{
	struct sf_err err = SF_ERR_INIT;
	/* The smoke-test image the OpenFaaS documentation uses; a
	 * registry mirror can be named with SECFAAS_VERIFY_IMAGE. */
	const char *img = getenv("SECFAAS_VERIFY_IMAGE");
	json_t *reqj = json_pack("{s:s, s:s, s:s, s:{s:s}}", "service", fn, "image",
				 img && *img ? img : "ghcr.io/openfaas/alpine:latest", "envProcess", fprocess, "labels",
				 "secfaas.dev/probe", "verify");
	if (script)
		json_object_set_new(reqj, "envVars", json_pack("{s:s}", "SECFAAS_PROBE", script));
	char *req = json_dumps(reqj, JSON_COMPACT), *body = NULL;
	json_decref(reqj);
	/* a gateway just made may not take connections yet (a new load
	 * balancer, a node port being programmed): a deploy that was never
	 * sent is tried again until `until` */
	int unsent = 0;
	long st;
	while ((st = gw_call(h, gw, "POST", "/system/functions", user, pw, req, &body, &unsent, &err)) < 0 && unsent &&
	       sf_mono() < until) {
		free(body);
		body = NULL;
		nap_ms(500);
	}
	free(req);
	int ok = st >= 200 && st < 300;
	check(r, ok, "deploy %s %s through the gateway at %s: HTTP %ld%s%s", role, fn, gw, st, ok ? "" : " ",
	      ok ? "" : (body && *body ? body : err.msg));
	free(body);
	return ok;
}

/* Wait until a pod of function `fn` runs (a copy, owned) or `end`; NULL on
 * failure, reported.  Without a mutator the Deployment is moved into gVisor
 * as apply does (*repaired says so). */
static json_t *wait_function_pod(struct report *r, struct sf_kube *k, const char *fn, int mutator, double end,
				 int *repaired)
{
	struct sf_err err = SF_ERR_INIT;
	double refused_since = 0, refused_grace = sf_mono() + 10;
	char *sel = xasprintf("faas_function=%s", fn);
	json_t *found = NULL;
	while (sf_mono() < end && !found) {
		json_t *dep = NULL, *list = NULL;
		sf_err_clear(&err);
		if (sf_kube_get(k, "apps/v1", "Deployment", "openfaas-fn", fn, &dep, &err) == 0 && !mutator && !*repaired) {
			const char *dc = sget(json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec"),
					      "runtimeClassName");
			if (!dc) {
				json_t *patch = json_pack("{s:{s:{s:{s:s}}}}", "spec", "template", "spec", "runtimeClassName", "gvisor");
				*repaired = sf_kube_merge_patch(k, "apps/v1", "Deployment", "openfaas-fn", fn, patch, NULL, &err) == 0;
				json_decref(patch);
			}
		}
		/* Refused at admission even after the repair (or by the mutator):
		 * the route is broken and waiting longer will not help. */
		const json_t *rf = NULL;
		size_t ci;
		json_t *cv;
		json_array_foreach(json_object_get(json_object_get(dep, "status"), "conditions"), ci, cv)
		{
			const char *ct = sget(cv, "type"), *cs = sget(cv, "status");
			if (ct && cs && !strcmp(ct, "ReplicaFailure") && !strcmp(cs, "True"))
				rf = cv;
		}
		if (rf && (*repaired || mutator || sf_mono() > refused_grace)) {
			if (!refused_since)
				refused_since = sf_mono();
			else if (sf_mono() - refused_since > 5) {
				check(r, 0, "%s pods refused at admission: %s", fn,
				      sget(rf, "message") ? sget(rf, "message") : "?");
				json_decref(dep);
				free(sel);
				return NULL;
			}
		} else {
			refused_since = 0;
		}
		json_decref(dep);
		if (sf_kube_list(k, "v1", "Pod", "openfaas-fn", sel, &list, &err) == 0) {
			size_t i;
			json_t *x;
			json_array_foreach(json_object_get(list, "items"), i, x)
			{
				const char *ph = sget(json_object_get(x, "status"), "phase");
				if (!found && ph && !strcmp(ph, "Running") &&
				    !json_object_get(json_object_get(x, "metadata"), "deletionTimestamp"))
					found = json_deep_copy(x);
			}
		}
		json_decref(list);
		if (!found)
			nap_ms(500);
	}
	free(sel);
	check(r, found != NULL, "%s pod running%s", fn, found ? "" : " (timed out)");
	return found;
}

/* Invoke function `fn` through the API server's service proxy (no auth
 * needed) with `input`; 0 and *body (owned) on HTTP 200, else reported. */
static int invoke_function(struct report *r, struct sf_kube *k, const char *fn, const char *input, char **body)
{
	struct sf_err err = SF_ERR_INIT;
	char *path = xasprintf("/api/v1/namespaces/openfaas/services/gateway:8080/proxy/function/%s", fn);
	long pst = 0;
	int irc = -1;
	*body = NULL;
	for (int attempt = 0; attempt < 20; attempt++) {
		free(*body);
		*body = NULL;
		sf_err_clear(&err);
		irc = sf_kube_request_raw(k, "POST", path, "text/plain", input, &pst, body, &err);
		if (irc == 0 && pst == 200)
			break;
		nap_ms(500);
	}
	free(path);
	if (irc < 0 || pst != 200) {
		check(r, 0, "invoke %s: HTTP %ld %s", fn, pst, irc < 0 ? err.msg : (*body ? *body : ""));
		return -1;
	}
	return 0;
}

/* The second lock on the node role's credentials, on its own: every node
 * group's instances must answer the IMDSv2 token PUT with hop limit 1, so
 * the reply dies one hop away, in the pod, even where a NetworkPolicy lets
 * a pod reach 169.254.169.254.  Read live from EKS and EC2 (a group without
 * a launch template of its own gets EKS's, hop limit 2). */
static void node_credentials_report(struct report *r, struct sf_aws *aws, const char *cluster)
{
	struct sf_err err = SF_ERR_INIT;
	char *cl = sf_aws_label(cluster), *path = xasprintf("/clusters/%s/node-groups", cl);
	json_t *ls = NULL;
	if (sf_aws_rest_json(aws, "eks", "GET", path, NULL, NULL, &ls, &err) < 0) {
		check(r, 0, "node credentials: listing node groups of %s: %s", cluster, err.msg);
		goto out;
	}
	size_t i;
	json_t *nv;
	json_array_foreach(json_object_get(ls, "nodegroups"), i, nv)
	{
		const char *ng = json_string_value(nv);
		char *ngl = sf_aws_label(ng ? ng : ""), *np = xasprintf("%s/%s", path, ngl);
		json_t *d = NULL, *vs = NULL;
		sf_err_clear(&err);
		if (sf_aws_rest_json(aws, "eks", "GET", np, NULL, NULL, &d, &err) < 0) {
			check(r, 0, "node credentials: node group %s: %s", ng, err.msg);
		} else {
			const json_t *lt = json_object_get(json_object_get(d, "nodegroup"), "launchTemplate");
			const char *id = sget(lt, "id"), *ver = sget(lt, "version");
			if (!id) {
				check(r, 0, "node credentials: node group %s runs EKS's default launch template (IMDS hop limit 2: "
					    "a pod can take the node role's credentials; apply gives it one with hop limit 1)",
				      ng);
			} else {
				json_t *p = json_pack("{s:s, s:[s]}", "LaunchTemplateId", id, "LaunchTemplateVersion",
						      ver ? ver : "$Default");
				sf_err_clear(&err);
				int rc = sf_aws_query_all(aws, "ec2", "DescribeLaunchTemplateVersions", p,
							  "launchTemplateVersionSet", &vs, &err);
				json_decref(p);
				const json_t *mo = json_object_get(
					json_object_get(json_array_get(vs, 0), "launchTemplateData"), "metadataOptions");
				const char *tokens = sget(mo, "httpTokens"), *hop = sget(mo, "httpPutResponseHopLimit");
				if (rc < 0)
					check(r, 0, "node credentials: node group %s launch template %s: %s", ng, id, err.msg);
				else
					check(r, tokens && !strcmp(tokens, "required") && hop && !strcmp(hop, "1"),
					      "node credentials: node group %s launch template %s version %s: IMDSv2 %s, "
					      "hop limit %s (must be required, 1)",
					      ng, id, ver ? ver : "$Default", tokens ? tokens : "optional", hop ? hop : "unset (the AMI's default)");
			}
		}
		json_decref(d);
		json_decref(vs);
		free(ngl);
		free(np);
	}
out:
	json_decref(ls);
	free(cl);
	free(path);
}

/* Every gVisor node offers the runsc runtime handler, where its kubelet
 * reports them (status.runtimeHandlers, Kubernetes 1.30 on): a containerd
 * that did not take the runsc table (a containerd 1.x node given a
 * `version = 3` fragment loads it without an error) is Ready all the same,
 * and only a function pod's start would fail. */
static void runsc_handlers(struct sf_kube *k, struct report *r)
{
	struct sf_err err = SF_ERR_INIT;
	json_t *list = NULL;
	if (sf_kube_list(k, "v1", "Node", NULL, SF_SANDBOX_KEY "=" SF_SANDBOX_VALUE, &list, &err) < 0) {
		check(r, 0, "gVisor nodes' runtimes: %s", err.msg);
		return;
	}
	size_t i, reported = 0, with = 0;
	json_t *node, *h;
	struct sf_buf bad = SF_BUF_INIT;
	json_array_foreach(json_object_get(list, "items"), i, node)
	{
		const json_t *st = json_object_get(node, "status");
		const json_t *hs = json_object_get(st, "runtimeHandlers");
		if (!json_is_array(hs))
			continue;
		reported++;
		int runsc = 0;
		size_t j;
		json_array_foreach(hs, j, h) runsc |= sget(h, "name") && !strcmp(sget(h, "name"), SF_RUNTIME_HANDLER);
		if (runsc) {
			with++;
			continue;
		}
		const char *crv = sget(json_object_get(st, "nodeInfo"), "containerRuntimeVersion");
		sf_buf_printf(&bad, "%s%s (%s)", bad.len ? ", " : "", sget(json_object_get(node, "metadata"), "name"),
			      crv ? crv : "runtime unknown");
	}
	if (reported && with == reported)
		check(r, 1, "gVisor nodes' runtimes: all %zu offer the " SF_RUNTIME_HANDLER " handler", reported);
	else if (reported)
		check(r, 0,
		      "gVisor nodes' runtimes: %zu of %zu offer no " SF_RUNTIME_HANDLER " handler: %s; their containerd "
		      "did not load the runsc table (an image's secfaas:containerd-version tag must name the containerd "
		      "it runs)",
		      reported - with, reported, sf_buf_cstr(&bad));
	sf_buf_release(&bad);
	json_decref(list);
}

static int verify_run(struct sf_cli *cli, struct sf_kube *k, struct sf_aws *aws, const struct target *t,
		      double timeout_s, struct report *r)
{
	struct sf_err err = SF_ERR_INIT;
	json_t *rc_obj = NULL, *pod = NULL, *list = NULL, *node = NULL, *secret = NULL, *pod_fn = NULL, *pod_net = NULL;
	char *gw = NULL, *body = NULL, *user = NULL, *pw = NULL, *fn = NULL, *net = NULL;
	struct sf_http *h = NULL;
	int deployed = 0, net_deployed = 0;

	/* 1. RuntimeClass */
	if (sf_kube_get(k, "node.k8s.io/v1", "RuntimeClass", NULL, "gvisor", &rc_obj, &err) < 0) {
		check(r, 0, "RuntimeClass gvisor: %s", err.msg);
	} else {
		const char *handler = sget(rc_obj, "handler");
		const char *sel = sget(json_object_get(json_object_get(rc_obj, "scheduling"), "nodeSelector"), SF_SANDBOX_KEY);
		check(r, handler && !strcmp(handler, "runsc") && sel && !strcmp(sel, SF_SANDBOX_VALUE),
		      "RuntimeClass gvisor: handler %s, selects %s=%s", handler ? handler : "(none)", SF_SANDBOX_KEY,
		      sel ? sel : "(nothing)");
	}
	/* 2. gVisor nodes */
	json_t *labels = json_pack("{s:s}", SF_SANDBOX_KEY, SF_SANDBOX_VALUE);
	struct sf_kube_wait w = {.timeout_s = 30, .interval_s = 1};
	sf_err_clear(&err);
	int nodes_ok = sf_kube_wait_nodes(k, labels, 1, &w, &err) == 0;
	json_decref(labels);
	check(r, nodes_ok, "gVisor nodes: %s", nodes_ok ? "at least one Ready node labelled " SF_SANDBOX_KEY "=" SF_SANDBOX_VALUE : err.msg);
	if (nodes_ok)
		runsc_handlers(k, r);

	/* 3. admission guard fails closed */
	json_t *probe = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1", "kind", "Pod",
				  "metadata", "name", "secfaas-verify-admission", "namespace", "openfaas-fn", "spec",
				  "containers", "name", "probe", "image", "ghcr.io/openfaas/alpine:3.20");
	char *pb = json_dumps(probe, JSON_COMPACT);
	json_decref(probe);
	sf_err_clear(&err);
	int arc = sf_kube_request(k, "POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All", "application/json", pb, NULL, &pod,
				  &err);
	free(pb);
	const char *cls = arc == 0 ? sget(json_object_get(pod, "spec"), "runtimeClassName") : NULL;
	int mutator = arc == 0 && cls && !strcmp(cls, "gvisor");
	if (arc == 0)
		check(r, mutator, "admission: a pod without a RuntimeClass in openfaas-fn was %s",
		      mutator ? "mutated to gvisor" : "ADMITTED without gVisor (route broken: fail-open)");
	else if (arc == SF_EINVAL || arc == SF_EAUTH)
		check(r, 1, "admission: a pod without a RuntimeClass in openfaas-fn is refused (%s)", err.msg);
	else /* e.g. the webhook is down: closed, but no function can start */
		check(r, 0, "admission: the mutator failed, so every function pod is refused (fail-closed): %s", err.msg);

	/* 3b. the deny guard, on its own: with a mutator in front the probe
	 * above passes even when the guard is gone, and then a broken mutator
	 * would fail open. */
	json_t *vap = NULL, *vapb = NULL;
	sf_err_clear(&err);
	const char *gname = "secfaas-openfaas-fn-gvisor-only";
	int g1 = sf_kube_get(k, "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", NULL, gname, &vap, &err);
	int g2 = g1 == 0 ? sf_kube_get(k, "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", NULL, gname,
				       &vapb, &err)
			 : g1;
	const json_t *acts = json_object_get(json_object_get(vapb, "spec"), "validationActions");
	int deny = 0;
	size_t ai;
	json_t *av;
	json_array_foreach(acts, ai, av) deny |= json_string_value(av) && !strcmp(json_string_value(av), "Deny");
	const char *fp = sget(json_object_get(vap, "spec"), "failurePolicy");
	int guard_ok = g2 == 0 && deny && (!fp || !strcmp(fp, "Fail"));
	check(r, guard_ok, "admission guard %s: %s", gname,
	      guard_ok ? "policy and Deny binding in place"
	      : g2 == SF_ENOTFOUND ? "policy or binding MISSING (fail-open if the mutator breaks)"
	      : g2 < 0 ? err.msg
		       : "not denying with failurePolicy Fail (fail-open if the mutator breaks)");
	json_decref(vap);
	json_decref(vapb);

	/* 4. gateway */
	sf_err_clear(&err);
	if (sf_kube_get(k, "v1", "Secret", "openfaas", "basic-auth", &secret, &err) == 0) {
		user = sf_kube_b64decode(sget(json_object_get(secret, "data"), "basic-auth-user"), NULL);
		pw = sf_kube_b64decode(sget(json_object_get(secret, "data"), "basic-auth-password"), NULL);
	}
	if (!pw && t->password) {
		user = xstrdup(t->username);
		pw = xstrdup(t->password);
	}
	if (!pw) {
		check(r, 0, "gateway credentials: %s", err.msg[0] ? err.msg : "no basic-auth secret");
		goto done;
	}
	sf_err_clear(&err);
	char *note = NULL;
	if (!(gw = gateway_url(k, &note, &err))) {
		check(r, 0, "gateway address: %s", err.msg);
		goto done;
	}
	if (note) {
		fprintf(r->cli->out, "  note: %s (%s)\n", note, gw);
		free(note);
	}
	if (sf_http_curl_new(&h, &err) < 0) {
		check(r, 0, "gateway client: %s", err.msg);
		goto done;
	}
	char rnd[5];
	unsigned char rb[2];
	sf_random(rb, sizeof rb);
	sf_hex(rnd, rb, sizeof rb);
	fn = xasprintf("secfaas-verify-%s", rnd);
	net = xasprintf("secfaas-verify-%s-net", rnd);
	/* two functions: the banner probe (fprocess `dmesg`), and the isolation
	 * probe, which also tries the banner probe's pod as another tenant's */
	double end = sf_mono() + timeout_s;
	deployed = deploy_function(r, h, gw, user, pw, fn, "dmesg", NULL, "probe", end);
	if (!deployed)
		goto done;
	net_deployed = deploy_function(r, h, gw, user, pw, net, PROBE_FPROCESS, PROBE_SCRIPT, "isolation probe", end);

	/* 5. wait for a running pod; repair (as apply does) when no mutator */
	int repaired = 0;
	pod_fn = wait_function_pod(r, k, fn, mutator, end, &repaired);
	if (!mutator)
		fprintf(cli->out, "  note  no mutator on this cluster: the probes were %s by the repair patch (as `secfaas apply` does)\n",
			repaired ? "moved into gVisor" : "already in gVisor");
	if (!pod_fn)
		goto done;
	const char *pcls = sget(json_object_get(pod_fn, "spec"), "runtimeClassName");
	const char *nodename = sget(json_object_get(pod_fn, "spec"), "nodeName");
	check(r, pcls && !strcmp(pcls, "gvisor"), "pod %s: runtimeClassName %s", sget(json_object_get(pod_fn, "metadata"), "name"),
	      pcls ? pcls : "(none)");
	sf_err_clear(&err);
	if (!nodename || sf_kube_get(k, "v1", "Node", NULL, nodename, &node, &err) < 0) {
		check(r, 0, "pod's node: %s", nodename ? err.msg : "not scheduled");
	} else {
		const char *lv = sget(json_object_get(json_object_get(node, "metadata"), "labels"), SF_SANDBOX_KEY);
		check(r, lv && !strcmp(lv, SF_SANDBOX_VALUE), "node %s carries %s=%s", nodename, SF_SANDBOX_KEY,
		      lv ? lv : "(absent)");
	}

	/* 6. invoke the banner probe */
	if (invoke_function(r, k, fn, "", &body) == 0) {
		json_t *rep = json_loads(body, 0, NULL);
		if (json_is_object(rep) && json_object_get(rep, "runtimeClassName")) {
			/* kubesim's report: what the node ran the pod with */
			const char *h2 = sget(rep, "handler"), *dm = sget(rep, "dmesg");
			check(r, sget(rep, "runtimeClassName") && !strcmp(sget(rep, "runtimeClassName"), "gvisor") && h2 &&
				      !strcmp(h2, "runsc"),
			      "invoke probe: ran with RuntimeClass %s, handler %s on %s", sget(rep, "runtimeClassName"),
			      h2 ? h2 : "?", sget(rep, "node") ? sget(rep, "node") : "?");
			check(r, dm && strstr(dm, "Starting gVisor"), "probe output shows the gVisor kernel banner");
		} else {
			check(r, strstr(body, "Starting gVisor") != NULL, "probe output (dmesg) shows the gVisor kernel banner");
		}
		json_decref(rep);
	}

	/* 7. the isolation probe, from a function under gVisor: what a tenant
	 * must not reach, and one destination it may (cluster DNS, which every
	 * function needs) */
	if (!net_deployed)
		goto done;
	pod_net = wait_function_pod(r, k, net, mutator, end, &repaired);
	if (!pod_net)
		goto done;
	pcls = sget(json_object_get(pod_net, "spec"), "runtimeClassName");
	check(r, pcls && !strcmp(pcls, "gvisor"), "pod %s: runtimeClassName %s",
	      sget(json_object_get(pod_net, "metadata"), "name"), pcls ? pcls : "(none)");
	json_t *paths = json_array();
	const char *peer_ip = sget(json_object_get(pod_fn, "status"), "podIP");
	add_path(paths, "imds-token", "IMDS token endpoint", xstrdup("169.254.169.254:80"), 0);
	add_path(paths, "kubernetes-api", "Kubernetes API", service_target(k, "default", "kubernetes", 443), 0);
	add_path(paths, "nats", "NATS", service_target(k, "openfaas", "nats", 4222), 0);
	add_path(paths, "webhook", "admission webhook", service_target(k, "openfaas", "secfaas-gvisor-webhook", 443), 0);
	add_path(paths, "function", "another function's pod", peer_ip ? xasprintf("%s:8080", peer_ip) : NULL, 0);
	add_path(paths, "dns", "allowed destination cluster DNS", service_target(k, "kube-system", "kube-dns", 53), 1);
	char *input = probe_input(paths);
	free(body);
	body = NULL;
	if (invoke_function(r, k, net, input, &body) == 0) {
		if (strstr(body, "probe "))
			isolation_report(r, body, paths);
		else
			check(r, 0, "isolation: %s ran no network probes (its image needs BusyBox sh and nc, as the default has)",
			      net);
	}
	free(input);
	json_decref(paths);

	/* 8. the node groups' own lock on the node role's credentials */
	if (aws && sget(t->conn, "cluster_name"))
		node_credentials_report(r, aws, sget(t->conn, "cluster_name"));
	else
		fprintf(cli->out, "  note  IMDS hop limit of the node groups not checked (no EKS cluster in this workspace)\n");
done:
	if (deployed) {
		char *del = xasprintf("{\"functionName\":\"%s\"}", fn);
		char *b2 = NULL;
		sf_err_clear(&err);
		long dst = gw_call(h, gw, "DELETE", "/system/functions", user, pw, del, &b2, NULL, &err);
		check(r, dst >= 200 && dst < 300, "clean up probe %s: HTTP %ld", fn, dst);
		free(del);
		free(b2);
	}
	if (net_deployed) {
		char *del = xasprintf("{\"functionName\":\"%s\"}", net);
		char *b2 = NULL;
		sf_err_clear(&err);
		long dst = gw_call(h, gw, "DELETE", "/system/functions", user, pw, del, &b2, NULL, &err);
		check(r, dst >= 200 && dst < 300, "clean up isolation probe %s: HTTP %ld", net, dst);
		free(del);
		free(b2);
	}
	sf_http_free(h);
	json_decref(rc_obj);
	json_decref(pod);
	json_decref(list);
	json_decref(node);
	json_decref(secret);
	free(gw);
	free(body);
	free(user);
	if (pw)
		memset(pw, 0, strlen(pw));
	free(pw);
	free(fn);
	free(net);
	json_decref(pod_fn);
	json_decref(pod_net);
	return r->failed ? SF_EXIT_ERROR : SF_EXIT_OK;
}

int cmd_verify(struct sf_cli *cli, int argc, char **argv)
{
	const char *name = NULL, *v;
	double timeout_s = 180;
	for (int i = 1; i < argc; i++) {
		int m;
		if ((m = sf_opt_match(argc, argv, &i, "timeout", 1, &v))) {
			if (m < 0 || sf_duration_parse(v, &timeout_s) < 0)
				return sf_cli_errorf(cli, "--timeout needs a duration like 3m; see `secfaas verify --help`");
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else if (argv[i][0] == '-') {
			return sf_cli_unknown_option(cli, "verify", argv[i]);
		} else {
			return sf_cli_errorf(cli, "unexpected argument %s for verify; see `secfaas verify --help`", argv[i]);
		}
	}
	if (!name)
		return sf_cli_errorf(cli, "verify needs the workspace NAME; see `secfaas verify --help`");
	struct sf_ws ws;
	struct target t;
	struct sf_err err = SF_ERR_INIT;
	struct sf_aws *aws = NULL;
	struct sf_kube *k = NULL;
	memset(&ws, 0, sizeof ws);
	int rc = load_target(cli, &ws, name, &t);
	if (rc)
		goto done;
	if (connect_target(cli, &t, &aws, &k, &err) < 0) {
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	fprintf(cli->out, "Verifying that OpenFaaS functions of %s run under gVisor (%s):\n", name, sf_kube_endpoint(k));
	struct report r = {cli, 0, 0};
	rc = verify_run(cli, k, aws, &t, timeout_s, &r);
	if (r.failed)
		fprintf(cli->out, "\nverify: FAIL (%d of %d checks failed)\n", r.failed, r.n);
	else
		fprintf(cli->out, "\nverify: PASS (%d checks)\n", r.n);
done:
	sf_kube_free(k);
	sf_aws_free(aws);
	target_release(&t);
	sf_run_close(&ws);
	return rc;
}
