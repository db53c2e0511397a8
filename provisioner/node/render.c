/* render.c - node-side gVisor artifacts (see render.h). Pure: no I/O. */
#include "provisioner/node/render.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "embed.h"
#include "provisioner/node/gvisor_pins.h"

/* ---- small validators ---- */

static int all_chars(const char *s, const char *allowed_extra)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(allowed_extra, *s))
			return 0;
	return 1;
}

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int sf_gvisor_release_valid(const char *r)
{
	if (!r || strlen(r) < 8 || !is_digits(r, 8))
		return 0;
	int year = (r[0] - '0') * 1000 + (r[1] - '0') * 100 + (r[2] - '0') * 10 + (r[3] - '0');
	int month = (r[4] - '0') * 10 + (r[5] - '0');
	int day = (r[6] - '0') * 10 + (r[7] - '0');
	if (year < 2018 || year > 2099 || month < 1 || month > 12 || day < 1 || day > 31)
		return 0;
	if (r[8] == 0)
		return 1;
	size_t n = strlen(r + 9);
	return r[8] == '.' && n >= 1 && n <= 3 && is_digits(r + 9, n);
}

int sf_gvisor_platform_supported(const char *release, const char *platform)
{
	if (!platform || !sf_gvisor_release_valid(release))
		return 0;
	if (!strcmp(platform, "ptrace") || !strcmp(platform, "kvm"))
		return 1;
	/* yyyymmdd compares as a string; systrap became the default mid-2023. */
	return !strcmp(platform, "systrap") && strncmp(release, "20230601", 8) >= 0;
}

const char *sf_gvisor_arch(const char *arch)
{
	if (!arch)
		return NULL;
	if (!strcmp(arch, "x86_64") || !strcmp(arch, "amd64"))
		return "x86_64";
	if (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64"))
		return "aarch64";
	return NULL;
}

static int platform_valid(const char *p)
{
	return p && (!strcmp(p, "systrap") || !strcmp(p, "ptrace") || !strcmp(p, "kvm"));
}

/* Kubernetes "name" part of a qualified name / a label value (<= 63). */
static int k8s_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

/* DNS subdomain (label key prefix): lowercase alnum, '-', '.', <= 253. */
static int dns_subdomain_valid(const char *s, size_t n)
{
	if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '.'))
			return 0;
	return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && !memcmp(s + n - m, suffix, m);
}

/* Label/taint key: [prefix/]name.  Kubelet may only self-assign labels in
 * the kubernetes.io / k8s.io namespaces under node.kubernetes.io/ and
 * kubelet.kubernetes.io/ (NodeRestriction), so refuse the rest here rather
 * than have the node fail to register. */
static int key_check(const char *what, const char *key, int is_label, struct sf_err *err)
{
	if (!key || !*key)
		return sf_fail(err, SF_EINVAL, "%s key is empty", what);
	const char *slash = strchr(key, '/');
	const char *name = slash ? slash + 1 : key;
	if (slash && !dns_subdomain_valid(key, (size_t)(slash - key)))
		return sf_fail(err, SF_EINVAL, "%s key \"%s\": prefix must be a DNS subdomain", what, key);
	if (!k8s_name_valid(name, strlen(name)))
		return sf_fail(err, SF_EINVAL,
			       "%s key \"%s\": name must be 1-63 chars [A-Za-z0-9-_.], alphanumeric at both ends",
			       what, key);
	if (is_label && slash) {
		size_t pn = (size_t)(slash - key);
		int restricted = ends_with(key, pn, "kubernetes.io") || ends_with(key, pn, "k8s.io");
		int allowed = (pn == 18 && !memcmp(key, "node.kubernetes.io", 18)) ||
			      (pn == 21 && !memcmp(key, "kubelet.kubernetes.io", 21));
		if (restricted && !allowed)
			return sf_fail(err, SF_EINVAL,
				       "label key \"%s\": kubelet may not set labels in the kubernetes.io/k8s.io "
				       "namespace (NodeRestriction); use your own prefix",
				       key);
	}
	return 0;
}

static int value_check(const char *what, const char *key, const char *v, struct sf_err *err)
{
	if (v && *v && !k8s_name_valid(v, strlen(v)))
		return sf_fail(err, SF_EINVAL,
			       "%s \"%s\": value \"%s\" must be 0-63 chars [A-Za-z0-9-_.], alphanumeric at both ends",
			       what, key, v);
	return 0;
}

static int cidr_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || (size_t)(slash - s) >= 64 || !slash[1] || strlen(slash + 1) > 3 ||
	    !is_digits(slash + 1, strlen(slash + 1)))
		return 0;
	char addr[64];
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = 0;
	long bits = strtol(slash + 1, NULL, 10);
	unsigned char tmp[16];
	if (inet_pton(AF_INET, addr, tmp) == 1)
		return bits <= 32;
	if (inet_pton(AF_INET6, addr, tmp) == 1)
		return bits <= 128;
	return 0;
}

static int check_node_in(const struct sf_node_render_in *in, struct sf_err *err)
{
	if (!in)
		return sf_fail(err, SF_EINVAL, "no node render input");
	if (!in->cluster_name || !*in->cluster_name || strlen(in->cluster_name) > 100 ||
	    !isalnum((unsigned char)in->cluster_name[0]) || !all_chars(in->cluster_name, "-_"))
		return sf_fail(err, SF_EINVAL, "cluster name \"%s\" must be 1-100 chars [A-Za-z0-9-_]",
			       in->cluster_name ? in->cluster_name : "");
	if (!in->api_endpoint || strncmp(in->api_endpoint, "https://", 8) || !in->api_endpoint[8] ||
	    !all_chars(in->api_endpoint, "-._~:/[]%"))
		return sf_fail(err, SF_EINVAL, "API endpoint \"%s\" must be an https:// URL",
			       in->api_endpoint ? in->api_endpoint : "");
	if (!in->ca_b64 || !*in->ca_b64 || !all_chars(in->ca_b64, "+/="))
		return sf_fail(err, SF_EINVAL, "certificate authority must be non-empty base64");
	if (!in->service_cidr || !cidr_valid(in->service_cidr))
		return sf_fail(err, SF_EINVAL, "service CIDR \"%s\" is not an IPv4/IPv6 CIDR",
			       in->service_cidr ? in->service_cidr : "");
	if (in->node_group && (!*in->node_group || strlen(in->node_group) > 63 ||
			       !isalnum((unsigned char)in->node_group[0]) || !all_chars(in->node_group, "-_")))
		return sf_fail(err, SF_EINVAL, "node group name \"%s\" must be 1-63 chars [A-Za-z0-9-_]",
			       in->node_group);
	if (in->containerd_major != 0 && in->containerd_major != 1 && in->containerd_major != 2)
		return sf_fail(err, SF_EINVAL, "containerd major version %d: only 1 and 2 are supported",
			       in->containerd_major);
	if (!platform_valid(in->platform))
		return sf_fail(err, SF_EINVAL, "gVisor platform \"%s\": use systrap, ptrace or kvm",
			       in->platform ? in->platform : "");
	if (in->gvisor_release && !sf_gvisor_release_valid(in->gvisor_release))
		return sf_fail(err, SF_EINVAL, "gVisor release \"%s\": use yyyymmdd or yyyymmdd.n",
			       in->gvisor_release);
	if (in->max_pods < 0 || in->max_pods > 1024)
		return sf_fail(err, SF_EINVAL, "maxPods %d out of range 1-1024", in->max_pods);
	if (in->n_labels && !in->labels)
		return sf_fail(err, SF_EINVAL, "labels count set but no labels");
	if (in->n_taints && !in->taints)
		return sf_fail(err, SF_EINVAL, "taints count set but no taints");
	for (size_t i = 0; i < in->n_labels; i++) {
		const struct sf_kv *l = &in->labels[i];
		int rc;
		if ((rc = key_check("label", l->key, 1, err)) < 0 ||
		    (rc = value_check("label", l->key, l->value, err)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in->labels[j].key, l->key))
				return sf_fail(err, SF_EINVAL, "label key \"%s\" given twice", l->key);
	}
	for (size_t i = 0; i < in->n_taints; i++) {
		const struct sf_taint *t = &in->taints[i];
		int rc;
		if ((rc = key_check("taint", t->key, 0, err)) < 0 ||
		    (rc = value_check("taint", t->key, t->value, err)) < 0)
			return rc;
		if (!t->effect || (strcmp(t->effect, "NoSchedule") && strcmp(t->effect, "PreferNoSchedule") &&
				   strcmp(t->effect, "NoExecute")))
			return sf_fail(err, SF_EINVAL,
				       "taint \"%s\": effect \"%s\" must be NoSchedule, PreferNoSchedule or NoExecute",
				       t->key, t->effect ? t->effect : "");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in->taints[j].key, t->key) && !strcmp(in->taints[j].effect, t->effect))
				return sf_fail(err, SF_EINVAL, "taint \"%s\" with effect %s given twice", t->key,
					       t->effect);
	}
	return 0;
}

static int containerd_major(const struct sf_node_render_in *in)
{
	return in->containerd_major ? in->containerd_major : 2;
}

/* ---- containerd fragment and runsc.toml ---- */

static void fragment(int major, struct sf_buf *b)
{
	if (major == 1) {
		/* containerd 1.x: config version 2, CRI plugin "io.containerd.grpc.v1.cri".
		 * runc is restated: 1.6 refuses to load CRI when default_runtime_name
		 * names a runtime the file does not define (reference section 2). */
		sf_buf_puts(b, "version = 2\n"
			       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
			       "  runtime_type = \"io.containerd.runc.v2\"\n"
			       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes." SF_RUNTIME_HANDLER "]\n"
			       "  runtime_type = \"" SF_RUNSC_RUNTIME_TYPE "\"\n"
			       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes." SF_RUNTIME_HANDLER
			       ".options]\n"
			       "  TypeUrl = \"" SF_RUNSC_RUNTIME_TYPE ".options\"\n"
			       "  ConfigPath = \"" SF_RUNSC_TOML_PATH "\"\n");
		return;
	}
	/* containerd 2.x: config version 3, CRI runtime plugin renamed. */
	sf_buf_puts(b, "version = 3\n"
		       "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes." SF_RUNTIME_HANDLER "]\n"
		       "  runtime_type = '" SF_RUNSC_RUNTIME_TYPE "'\n"
		       "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes." SF_RUNTIME_HANDLER ".options]\n"
		       "  TypeUrl = '" SF_RUNSC_RUNTIME_TYPE ".options'\n"
		       "  ConfigPath = '" SF_RUNSC_TOML_PATH "'\n");
}

int sf_render_containerd_fragment(const struct sf_node_render_in *in, struct sf_buf *out,
				  struct sf_err *err)
{
	int rc = check_node_in(in, err);
	if (rc < 0)
		return rc;
	fragment(containerd_major(in), out);
	return 0;
}

int sf_render_runsc_toml(const char *platform, struct sf_buf *out, struct sf_err *err)
{
	if (!platform_valid(platform))
		return sf_fail(err, SF_EINVAL, "gVisor platform \"%s\": use systrap, ptrace or kvm",
			       platform ? platform : "");
	/* systemd-cgroup: AL2023 runs cgroup v2 with the systemd driver; without
	 * it pod CPU/memory limits are not enforced (gvisor#12392). */
	sf_buf_printf(out,
		      "# runsc.toml - read by containerd-shim-runsc-v1 (ConfigPath); rendered by secfaas\n"
		      "[runsc_config]\n"
		      "  platform = \"%s\"\n"
		      "  systemd-cgroup = \"true\"\n",
		      platform);
	return 0;
}

/* ---- NodeConfig YAML via libyaml's emitter ---- */

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
	sf_buf_append(data, buffer, size);
	return 1;
}

/* Would a YAML 1.1 reader (nodeadm uses Go yaml) take this plain text as
 * something other than a string?  Then quote it. Over-quoting is harmless. */
static int yaml_needs_quotes(const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"};
	if (!*s)
		return 1;
	for (size_t i = 0; i < SF_ARRAY_LEN(words); i++)
		if (!strcasecmp(s, words[i]))
			return 1;
	int digit = 0;
	for (const char *p = s; *p; p++) {
		if (isdigit((unsigned char)*p))
			digit = 1;
		else if (!strchr("+-._:eExXoObB", *p))
			return 0;
	}
	return digit;
}

struct emitter {
	yaml_emitter_t e;
	int failed;
};

static void ev(struct emitter *em, yaml_event_t *event)
{
	if (em->failed || !yaml_emitter_emit(&em->e, event))
		em->failed = 1;
}

static void scalar(struct emitter *em, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t event;
	if (style == YAML_PLAIN_SCALAR_STYLE && yaml_needs_quotes(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&event, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style))
		em->failed = 1;
	else
		ev(em, &event);
}

static void kv(struct emitter *em, const char *k, const char *v)
{
	scalar(em, k, YAML_PLAIN_SCALAR_STYLE);
	scalar(em, v, YAML_PLAIN_SCALAR_STYLE);
}

static void map_start(struct emitter *em)
{
	yaml_event_t event;
	yaml_mapping_start_event_initialize(&event, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	ev(em, &event);
}

static void map_end(struct emitter *em)
{
	yaml_event_t event;
	yaml_mapping_end_event_initialize(&event);
	ev(em, &event);
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct sf_kv *)a)->key, ((const struct sf_kv *)b)->key);
}

static int cmp_taint(const void *a, const void *b)
{
	const struct sf_taint *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->effect, y->effect);
}

/* "--node-labels=a=1,b=2" and "--register-with-taints=k=v:NoSchedule,...",
 * sorted so the same spec always renders the same user data (a diff in
 * plan means a real change). Empty buffers when there is nothing. */
static void kubelet_flags(const struct sf_node_render_in *in, struct sf_buf *labels, struct sf_buf *taints)
{
	if (in->n_labels) {
		struct sf_kv *l = xmalloc(in->n_labels * sizeof *l);
		memcpy(l, in->labels, in->n_labels * sizeof *l);
		qsort(l, in->n_labels, sizeof *l, cmp_label);
		sf_buf_puts(labels, "--node-labels=");
		for (size_t i = 0; i < in->n_labels; i++)
			sf_buf_printf(labels, "%s%s=%s", i ? "," : "", l[i].key, l[i].value ? l[i].value : "");
		free(l);
	}
	if (in->n_taints) {
		struct sf_taint *t = xmalloc(in->n_taints * sizeof *t);
		memcpy(t, in->taints, in->n_taints * sizeof *t);
		qsort(t, in->n_taints, sizeof *t, cmp_taint);
		sf_buf_puts(taints, "--register-with-taints=");
		for (size_t i = 0; i < in->n_taints; i++) {
			int has_value = t[i].value && *t[i].value;
			sf_buf_printf(taints, "%s%s%s%s:%s", i ? "," : "", t[i].key, has_value ? "=" : "",
				      has_value ? t[i].value : "", t[i].effect);
		}
		free(t);
	}
}

static int node_config_yaml(const struct sf_node_render_in *in, struct sf_buf *out, struct sf_err *err)
{
	int rc = SF_ERROR;
	struct emitter em;
	struct sf_buf frag = SF_BUF_INIT, labels = SF_BUF_INIT, taints = SF_BUF_INIT;
	char maxpods[16];
	yaml_event_t event;

	memset(&em, 0, sizeof em);
	fragment(containerd_major(in), &frag);
	kubelet_flags(in, &labels, &taints);
	if (!yaml_emitter_initialize(&em.e)) {
		rc = sf_fail(err, SF_ERROR, "cannot initialise the YAML emitter");
		goto done;
	}
	yaml_emitter_set_output(&em.e, emit_write, out);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_width(&em.e, -1); /* never fold the long CA line */
	yaml_emitter_set_indent(&em.e, 2);

	yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING);
	ev(&em, &event);
	yaml_document_start_event_initialize(&event, NULL, NULL, NULL, 1);
	ev(&em, &event);
	map_start(&em);
	kv(&em, "apiVersion", "node.eks.aws/v1alpha1");
	kv(&em, "kind", "NodeConfig");
	scalar(&em, "spec", YAML_PLAIN_SCALAR_STYLE);
	map_start(&em);

	scalar(&em, "cluster", YAML_PLAIN_SCALAR_STYLE);
	map_start(&em);
	kv(&em, "name", in->cluster_name);
	kv(&em, "apiServerEndpoint", in->api_endpoint);
	kv(&em, "certificateAuthority", in->ca_b64);
	kv(&em, "cidr", in->service_cidr);
	map_end(&em);

	if (in->max_pods > 0 || labels.len || taints.len) {
		scalar(&em, "kubelet", YAML_PLAIN_SCALAR_STYLE);
		map_start(&em);
		if (in->max_pods > 0) {
			snprintf(maxpods, sizeof maxpods, "%d", in->max_pods);
			scalar(&em, "config", YAML_PLAIN_SCALAR_STYLE);
			map_start(&em);
			scalar(&em, "maxPods", YAML_PLAIN_SCALAR_STYLE);
			/* An integer on purpose: plain style, no quoting check. */
			if (!yaml_scalar_event_initialize(&event, NULL, NULL, (yaml_char_t *)maxpods,
							  (int)strlen(maxpods), 1, 0, YAML_PLAIN_SCALAR_STYLE))
				em.failed = 1;
			else
				ev(&em, &event);
			map_end(&em);
		}
		if (labels.len || taints.len) {
			scalar(&em, "flags", YAML_PLAIN_SCALAR_STYLE);
			yaml_sequence_start_event_initialize(&event, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
			ev(&em, &event);
			if (labels.len)
				scalar(&em, sf_buf_cstr(&labels), YAML_PLAIN_SCALAR_STYLE);
			if (taints.len)
				scalar(&em, sf_buf_cstr(&taints), YAML_PLAIN_SCALAR_STYLE);
			yaml_sequence_end_event_initialize(&event);
			ev(&em, &event);
		}
		map_end(&em);
	}

	scalar(&em, "containerd", YAML_PLAIN_SCALAR_STYLE);
	map_start(&em);
	scalar(&em, "config", YAML_PLAIN_SCALAR_STYLE);
	scalar(&em, sf_buf_cstr(&frag), YAML_LITERAL_SCALAR_STYLE);
	map_end(&em);

	map_end(&em); /* spec */
	map_end(&em); /* document */
	yaml_document_end_event_initialize(&event, 1);
	ev(&em, &event);
	yaml_stream_end_event_initialize(&event);
	ev(&em, &event);
	if (!em.failed && !yaml_emitter_flush(&em.e))
		em.failed = 1;
	if (em.failed) {
		rc = sf_fail(err, SF_ERROR, "emitting NodeConfig YAML: %s",
			     em.e.problem ? em.e.problem : "emitter error");
		goto done;
	}
	rc = 0;
done:
	yaml_emitter_delete(&em.e);
	sf_buf_release(&frag);
	sf_buf_release(&labels);
	sf_buf_release(&taints);
	return rc;
}

int sf_render_user_data(const struct sf_node_render_in *in, struct sf_buf *out, struct sf_err *err)
{
	int rc;
	struct sf_buf yaml = SF_BUF_INIT;

	if ((rc = check_node_in(in, err)) < 0)
		goto done;
	if ((rc = node_config_yaml(in, &yaml, err)) < 0)
		goto done;
	/* A part line starting with "--<boundary>" would end the part early. */
	const char *y = sf_buf_cstr(&yaml);
	if (!strncmp(y, "--" SF_USERDATA_BOUNDARY, strlen("--" SF_USERDATA_BOUNDARY)) ||
	    strstr(y, "\n--" SF_USERDATA_BOUNDARY)) {
		rc = sf_fail(err, SF_EINVAL, "NodeConfig contains the MIME boundary line --%s",
			     SF_USERDATA_BOUNDARY);
		goto done;
	}
	sf_buf_puts(out, "MIME-Version: 1.0\n"
			 "Content-Type: multipart/mixed; boundary=\"" SF_USERDATA_BOUNDARY "\"\n"
			 "\n"
			 "--" SF_USERDATA_BOUNDARY "\n"
			 "Content-Type: application/node.eks.aws\n"
			 "\n");
	sf_buf_append(out, yaml.s, yaml.len);
	if (yaml.len && yaml.s[yaml.len - 1] != '\n')
		sf_buf_putc(out, '\n');
	sf_buf_puts(out, "--" SF_USERDATA_BOUNDARY "--\n");
	rc = 0;
done:
	sf_buf_release(&yaml);
	return rc;
}

int sf_render_node_bundle(const struct sf_node_render_in *in, struct sf_buf *out, struct sf_err *err)
{
	int rc;
	struct sf_buf b = SF_BUF_INIT;

	if ((rc = check_node_in(in, err)) < 0)
		goto done;
	sf_buf_printf(&b, "# secfaas node-config: cluster %s, node group %s, containerd %d.x, runtime handler %s",
		      in->cluster_name, in->node_group ? in->node_group : "-", containerd_major(in),
		      SF_RUNTIME_HANDLER);
	if (in->gvisor_release)
		sf_buf_printf(&b, ", gVisor %s", in->gvisor_release);
	sf_buf_printf(&b, " (platform %s)\n", in->platform);
	sf_buf_puts(&b, "# ---- user-data ----\n");
	if ((rc = sf_render_user_data(in, &b, err)) < 0)
		goto done;
	sf_buf_puts(&b, "# ---- containerd-fragment.toml ----\n");
	if ((rc = sf_render_containerd_fragment(in, &b, err)) < 0)
		goto done;
	sf_buf_puts(&b, "# ---- runsc.toml (" SF_RUNSC_TOML_PATH ", written by the bake) ----\n");
	if ((rc = sf_render_runsc_toml(in->platform, &b, err)) < 0)
		goto done;
	sf_buf_append(out, b.s, b.len);
	rc = 0;
done:
	sf_buf_release(&b);
	return rc;
}

/* ---- bake script and key ---- */

/* Values go into double-quoted shell words: allow only characters that
 * need no escaping there. */
static int shell_safe(const char *s)
{
	return s && all_chars(s, "-._:/@%+=,~");
}

int sf_gvisor_mirror_check(const char *url, int pinned, char *why, size_t n)
{
	const char *p;
	int plain = 0;
	if (!strncmp(url, "https://", 8)) {
		p = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		p = url + 7;
		plain = 1;
	} else {
		snprintf(why, n, "must start with https://");
		return -1;
	}
	size_t auth = strcspn(p, "/");
	if (memchr(p, '@', auth)) {
		snprintf(why, n, "carries credentials (user@host); a release mirror is public and the URL is "
				 "written into the builder's user data");
		return -1;
	}
	const char *host = p;
	while (isalnum((unsigned char)*p) || *p == '-' || *p == '.')
		p++;
	size_t hl = (size_t)(p - host);
	if (!hl || *host == '.' || *host == '-') {
		snprintf(why, n, "has no host name after the scheme");
		return -1;
	}
	/* this machine: nobody on the network sits between */
	int loopback = hl == 9 && !strncmp(host, "localhost", 9);
	if (!loopback && hl > 4 && !strncmp(host, "127.", 4)) {
		loopback = 1;
		for (const char *h = host; h < p; h++)
			if (!isdigit((unsigned char)*h) && *h != '.')
				loopback = 0;
	}
	if (plain && !pinned && !loopback) {
		snprintf(why, n, "is plain http://, which lets anyone on the builder's network swap runsc and its "
				 "checksum file; use https://, or pin the release with gvisor.sha512");
		return -1;
	}
	if (*p == ':') {
		const char *port = ++p;
		long v = 0;
		while (isdigit((unsigned char)*p) && p - port < 6)
			v = v * 10 + (*p++ - '0');
		if (p == port || v < 1 || v > 65535 || isdigit((unsigned char)*p)) {
			snprintf(why, n, "has a port that is not 1-65535");
			return -1;
		}
	}
	if (*p && *p != '/') {
		snprintf(why, n, "may hold only host[:port] before the path (no credentials)");
		return -1;
	}
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._~/%+=,:", *p)) {
			if (isprint((unsigned char)*p))
				snprintf(why, n,
					 "has '%c' at offset %zu; only letters, digits and - . _ ~ / %% + = , : may "
					 "follow the host (no query, fragment, quotes, spaces or shell characters)",
					 *p, (size_t)(p - url));
			else
				snprintf(why, n,
					 "has the byte 0x%02x at offset %zu; only letters, digits and - . _ ~ / %% + = , : "
					 "may follow the host",
					 (unsigned char)*p, (size_t)(p - url));
			return -1;
		}
	return 0;
}

/* What the bake pins: the digest, the artifact it is of ("" = the primary
 * one the script finds) and, for a table row of the loose layout, the
 * shim's digest ("" = none). */
struct bake_pin {
	char sha[129];
	const char *artifact;
	const char *shim;
};

static int check_bake_in(const struct sf_bake_in *in, struct bake_pin *pin, struct sf_err *err)
{
	char *sha = pin->sha;
	if (!in)
		return sf_fail(err, SF_EINVAL, "no bake input");
	if (!sf_gvisor_release_valid(in->gvisor_release))
		return sf_fail(err, SF_EINVAL, "gVisor release \"%s\": use yyyymmdd or yyyymmdd.n",
			       in->gvisor_release ? in->gvisor_release : "");
	sha[0] = 0;
	if (in->gvisor_sha512 && *in->gvisor_sha512) {
		if (strlen(in->gvisor_sha512) != 128 || !all_chars(in->gvisor_sha512, ""))
			return sf_fail(err, SF_EINVAL, "pinned gVisor sha512 must be 128 hex digits");
		for (int i = 0; i < 128; i++) {
			char c = (char)tolower((unsigned char)in->gvisor_sha512[i]);
			if (!isxdigit((unsigned char)c))
				return sf_fail(err, SF_EINVAL, "pinned gVisor sha512 must be 128 hex digits");
			sha[i] = c;
		}
		sha[128] = 0;
	}
	pin->artifact = "";
	pin->shim = "";
	if (in->gvisor_artifact && *in->gvisor_artifact) {
		if (!sf_gvisor_artifact_valid(in->gvisor_artifact))
			return sf_fail(err, SF_EINVAL, "pinned gVisor artifact \"%s\": use gvisor.tar.bz2, gvisor.tar.zstd or runsc",
				       in->gvisor_artifact);
		if (!sha[0])
			return sf_fail(err, SF_EINVAL, "pinned gVisor artifact \"%s\" given without its sha512",
				       in->gvisor_artifact);
		pin->artifact = in->gvisor_artifact;
	}
	/* The built-in table: by default when nothing is pinned, and for the
	 * rest of its row (artifact, shim) when the given digest is the
	 * table's, so an explicit gvisor.sha512 always wins but the table's
	 * own digest, as the Cluster kind lowers it, pins exactly its row. */
	const struct sf_gvisor_pin *row = in->arch ? sf_gvisor_pin_find(in->gvisor_release, in->arch) : NULL;
	if (row && (!sha[0] || (!strcmp(sha, row->sha512) && (!*pin->artifact || !strcmp(pin->artifact, row->artifact))))) {
		memcpy(sha, row->sha512, 129);
		pin->artifact = row->artifact;
		pin->shim = row->shim_sha512 ? row->shim_sha512 : "";
	}
	char why[256] = "has characters a shell would interpret";
	if (in->base_url && (sf_gvisor_mirror_check(in->base_url, sha[0] != 0, why, sizeof why) < 0 ||
			     !shell_safe(in->base_url)))
		return sf_fail(err, SF_EINVAL, "gVisor base URL \"%s\" %s", in->base_url, why);
	if (in->install_prefix && (in->install_prefix[0] != '/' || !shell_safe(in->install_prefix)))
		return sf_fail(err, SF_EINVAL, "install prefix \"%s\" must be an absolute path of plain characters",
			       in->install_prefix);
	if (in->runsc_toml_path && (in->runsc_toml_path[0] != '/' || !shell_safe(in->runsc_toml_path)))
		return sf_fail(err, SF_EINVAL, "runsc.toml path \"%s\" must be an absolute path of plain characters",
			       in->runsc_toml_path);
	if (in->arch && !sf_gvisor_arch(in->arch))
		return sf_fail(err, SF_EINVAL, "arch \"%s\": use x86_64 or aarch64", in->arch);
	if (in->base_ami_id) {
		size_t n = strlen(in->base_ami_id);
		if (n < 12 || n > 21 || strncmp(in->base_ami_id, "ami-", 4) || !all_chars(in->base_ami_id + 4, ""))
			return sf_fail(err, SF_EINVAL, "base AMI id \"%s\" is not ami-<8 or 17 hex>",
				       in->base_ami_id);
	}
	if (!platform_valid(in->platform))
		return sf_fail(err, SF_EINVAL, "gVisor platform \"%s\": use systrap, ptrace or kvm",
			       in->platform ? in->platform : "");
	return 0;
}

#define PARAMS_BEGIN "# ---- secfaas:params begin"
#define PARAMS_END "# ---- secfaas:params end"

/* The script with the parameter block replaced; key may be "" (unkeyed,
 * and the form hashed into the key). Input already checked. */
static int bake_script(const struct sf_bake_in *in, const struct bake_pin *pin, const char *key,
		       struct sf_buf *out, struct sf_err *err)
{
	const struct sf_embedded *tpl = sf_embedded_find(SF_BAKE_SCRIPT_NAME);
	if (!tpl)
		return sf_fail(err, SF_ENOTFOUND, "%s is not embedded in this build", SF_BAKE_SCRIPT_NAME);
	const char *b = strstr(tpl->data, "\n" PARAMS_BEGIN);
	const char *e = b ? strstr(b, "\n" PARAMS_END) : NULL;
	if (!b || !e)
		return sf_fail(err, SF_ECORRUPT, "%s lacks its \"%s\" / \"%s\" lines", SF_BAKE_SCRIPT_NAME,
			       PARAMS_BEGIN, PARAMS_END);
	const char *b_eol = strchr(b + 1, '\n');
	struct sf_buf toml = SF_BUF_INIT;
	sf_render_runsc_toml(in->platform, &toml, NULL);

	sf_buf_append(out, tpl->data, (size_t)(b_eol + 1 - tpl->data)); /* through the begin line */
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_RELEASE:=%s}\"\n", in->gvisor_release);
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_SHA512:=%s}\"\n", pin->sha);
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_ARTIFACT:=%s}\"\n", pin->artifact);
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_SHIM_SHA512:=%s}\"\n", pin->shim);
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_BASE_URL:=%s}\"\n", in->base_url ? in->base_url : SF_GVISOR_BASE_URL);
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_PREFIX:=%s}\"\n",
		      in->install_prefix ? in->install_prefix : "/usr/local");
	sf_buf_printf(out, ": \"${SECFAAS_RUNSC_TOML_PATH:=%s}\"\n",
		      in->runsc_toml_path ? in->runsc_toml_path : SF_RUNSC_TOML_PATH);
	sf_buf_printf(out, ": \"${SECFAAS_GVISOR_ARCH:=%s}\"\n", in->arch ? sf_gvisor_arch(in->arch) : "");
	sf_buf_printf(out, ": \"${SECFAAS_BAKE_KEY:=%s}\"\n", key);
	sf_buf_puts(out, "secfaas_runsc_toml() {\n\tcat <<'SECFAAS_RUNSC_TOML'\n");
	sf_buf_append(out, toml.s, toml.len);
	sf_buf_puts(out, "SECFAAS_RUNSC_TOML\n}\n");
	sf_buf_puts(out, e + 1); /* the end line and the rest */
	sf_buf_release(&toml);
	return 0;
}

int sf_bake_key_text(const struct sf_bake_in *in, struct sf_buf *out, struct sf_err *err)
{
	int rc;
	struct bake_pin pin = {"", "", ""};
	char script_sha[65], toml_sha[65];
	struct sf_buf script = SF_BUF_INIT, toml = SF_BUF_INIT;

	if ((rc = check_bake_in(in, &pin, err)) < 0)
		goto done;
	if (!in->base_ami_id || !in->arch) {
		rc = sf_fail(err, SF_EINVAL, "the bake key needs the base AMI id and the arch");
		goto done;
	}
	if ((rc = bake_script(in, &pin, "", &script, err)) < 0)
		goto done;
	sf_render_runsc_toml(in->platform, &toml, NULL);
	sf_sha256_hex(script_sha, script.s, script.len);
	sf_sha256_hex(toml_sha, toml.s, toml.len);
	sf_buf_printf(out,
		      "format %s\nbase-ami %s\narch %s\ngvisor-release %s\ngvisor-sha512 %s\n"
		      "bake-script-sha256 %s\nrunsc-toml-sha256 %s\n",
		      SF_BAKE_KEY_FORMAT, in->base_ami_id, sf_gvisor_arch(in->arch), in->gvisor_release,
		      pin.sha[0] ? pin.sha : "-", script_sha, toml_sha);
	rc = 0;
done:
	sf_buf_release(&script);
	sf_buf_release(&toml);
	return rc;
}

int sf_bake_key(const struct sf_bake_in *in, char out[65], struct sf_err *err)
{
	struct sf_buf text = SF_BUF_INIT;
	int rc = sf_bake_key_text(in, &text, err);
	if (rc == 0)
		sf_sha256_hex(out, text.s, text.len);
	sf_buf_release(&text);
	return rc;
}

int sf_render_bake_script(const struct sf_bake_in *in, struct sf_buf *out, struct sf_err *err)
{
	int rc;
	struct bake_pin pin = {"", "", ""};
	char key[65] = "";
	struct sf_buf b = SF_BUF_INIT;

	if ((rc = check_bake_in(in, &pin, err)) < 0)
		goto done;
	if (in->base_ami_id && (rc = sf_bake_key(in, key, err)) < 0)
		goto done;
	if ((rc = bake_script(in, &pin, key, &b, err)) < 0)
		goto done;
	sf_buf_append(out, b.s, b.len);
	rc = 0;
done:
	sf_buf_release(&b);
	return rc;
}

char *sf_containerd_from_console(const char *txt)
{
	const char *m = txt ? strstr(txt, SF_CONTAINERD_MARKER " ") : NULL;
	if (!m)
		return NULL;
	const char *end = m + strcspn(m, "\r\n");
	for (const char *p = m + strlen(SF_CONTAINERD_MARKER); p + 2 < end; p++) {
		if (p[0] == ' ' && p[1] == 'v' && p[2] >= '0' && p[2] <= '9') {
			size_t n = strspn(p + 2, "0123456789.");
			if (p + 2 + n <= end && n < 32)
				return xstrndup(p + 2, n);
		}
	}
	return NULL;
}

int sf_containerd_major(const char *version)
{
	if (!version || version[0] < '0' || version[0] > '9')
		return -1;
	char *end = NULL;
	long m = strtol(version, &end, 10);
	return (end && (*end == '.' || !*end) && m >= 0 && m < 1000) ? (int)m : -1;
}
