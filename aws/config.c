/* config.c - see config.h. */
#include "aws/config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const struct sf_aws_service services[] = {
	{"ec2", "EC2", "ec2", "ec2", "ec2", SF_PROTO_EC2, "2016-11-15", NULL, 0, NULL},
	{"eks", "EKS", "eks", "eks", "eks", SF_PROTO_REST_JSON, "2017-11-01", NULL, 0, NULL},
	{"elasticloadbalancing", "ELASTIC_LOAD_BALANCING_V2", "elastic_load_balancing_v2", "elasticloadbalancing",
	 "elasticloadbalancing", SF_PROTO_QUERY, "2015-12-01", NULL, 0, NULL},
	/* Classic ELB: same endpoint and signing name, its own API version and
	 * endpoint override name (serviceId "Elastic Load Balancing"). */
	{"elb", "ELASTIC_LOAD_BALANCING", "elastic_load_balancing", "elasticloadbalancing", "elasticloadbalancing",
	 SF_PROTO_QUERY, "2012-06-01", NULL, 0, NULL},
	{"iam", "IAM", "iam", "iam", "iam", SF_PROTO_QUERY, "2010-05-08", NULL, 1, NULL},
	{"kms", "KMS", "kms", "kms", "kms", SF_PROTO_JSON, NULL, "1.1", 0, NULL},
	/* The Price List API has a few endpoints (api.pricing.<region>), none
	 * in most regions; us-east-1's serves every region's prices. */
	{"pricing", "PRICING", "pricing", "pricing", "api.pricing", SF_PROTO_JSON, NULL, "1.1", 0, "us-east-1"},
	{"ssm", "SSM", "ssm", "ssm", "ssm", SF_PROTO_JSON, NULL, "1.1", 0, NULL},
	{"sts", "STS", "sts", "sts", "sts", SF_PROTO_QUERY, "2011-06-15", NULL, 0, NULL},
};

const struct sf_aws_service *sf_aws_service_find(const char *id)
{
	if (!id)
		return NULL;
	if (!strcmp(id, "elbv2") || !strcmp(id, "elasticloadbalancingv2"))
		id = "elasticloadbalancing";
	for (size_t i = 0; i < SF_ARRAY_LEN(services); i++)
		if (!strcmp(services[i].id, id))
			return &services[i];
	return NULL;
}

/* ---- ini files ---- */

struct kv {
	char *section; /* "default", "profile x", "services y", or credentials "x" */
	char *key;     /* "region", "eks.endpoint_url" */
	char *value;
};

struct ini {
	struct kv *v;
	size_t n, alloc;
};

struct sf_aws_config {
	struct ini config, creds;
	char *profile;
	int explicit_profile;
};

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

static void ini_add(struct ini *ini, const char *sec, const char *key, const char *val)
{
	if (ini->n == ini->alloc) {
		ini->alloc = ini->alloc ? ini->alloc * 2 : 16;
		ini->v = xrealloc(ini->v, ini->alloc * sizeof *ini->v);
	}
	ini->v[ini->n].section = xstrdup(sec);
	ini->v[ini->n].key = xstrdup(key);
	ini->v[ini->n].value = xstrdup(val);
	ini->n++;
}

static void ini_release(struct ini *ini)
{
	for (size_t i = 0; i < ini->n; i++) {
		free(ini->v[i].section);
		free(ini->v[i].key);
		free(ini->v[i].value);
	}
	free(ini->v);
	memset(ini, 0, sizeof *ini);
}

/* The format of botocore's config parser: [section], key = value,
 * comments with # or ; at line start, and indented "sub = v" lines under a
 * "key =" with an empty value forming a nested block. */
static void ini_parse(struct ini *ini, const char *text)
{
	char *copy = xstrdup(text ? text : "");
	char *sec = NULL, *parent = NULL;
	char *save = copy;
	while (save && *save) {
		char *line = save;
		char *nl = strchr(save, '\n');
		if (nl) {
			*nl = 0;
			save = nl + 1;
		} else {
			save = NULL;
		}
		int indented = *line == ' ' || *line == '\t';
		char *t = trim(line);
		if (!*t || *t == '#' || *t == ';')
			continue;
		if (*t == '[') {
			char *e = strchr(t, ']');
			if (!e)
				continue;
			*e = 0;
			free(sec);
			/* collapse inner whitespace: "[profile   x]" */
			char *name = trim(t + 1);
			char *sp = name;
			while (*sp && !isspace((unsigned char)*sp))
				sp++;
			if (*sp) {
				*sp = 0;
				char *rest = trim(sp + 1);
				sec = xasprintf("%s %s", name, rest);
			} else {
				sec = xstrdup(name);
			}
			free(parent);
			parent = NULL;
			continue;
		}
		char *eq = strchr(t, '=');
		if (!eq || !sec)
			continue;
		*eq = 0;
		char *k = trim(t), *v = trim(eq + 1);
		if (indented && parent) {
			char *full = xasprintf("%s.%s", parent, k);
			ini_add(ini, sec, full, v);
			free(full);
			continue;
		}
		free(parent);
		parent = NULL;
		if (!*v)
			parent = xstrdup(k); /* may start a nested block */
		ini_add(ini, sec, k, v);
	}
	free(sec);
	free(parent);
	free(copy);
}

static const char *ini_get(const struct ini *ini, const char *sec, const char *key)
{
	const char *found = NULL;
	for (size_t i = 0; i < ini->n; i++) /* last assignment wins */
		if (!strcmp(ini->v[i].section, sec) && !strcmp(ini->v[i].key, key))
			found = ini->v[i].value;
	return found;
}

static int ini_has_section(const struct ini *ini, const char *sec)
{
	for (size_t i = 0; i < ini->n; i++)
		if (!strcmp(ini->v[i].section, sec))
			return 1;
	return 0;
}

static char *home_path(const char *env, const char *rel)
{
	const char *v = getenv(env);
	if (v && *v) {
		if (v[0] == '~' && v[1] == '/' && getenv("HOME"))
			return xasprintf("%s%s", getenv("HOME"), v + 1);
		return xstrdup(v);
	}
	const char *home = getenv("HOME");
	return xasprintf("%s/%s", home ? home : ".", rel);
}

static void set_profile(struct sf_aws_config *c, const char *profile)
{
	const char *env = getenv("AWS_PROFILE");
	c->explicit_profile = profile && *profile;
	if (c->explicit_profile)
		c->profile = xstrdup(profile);
	else if (env && *env)
		c->profile = xstrdup(env);
	else
		c->profile = xstrdup("default");
}

int sf_aws_config_parse(struct sf_aws_config **out, const char *config_text, const char *credentials_text,
			const char *profile, struct sf_err *err)
{
	(void)err;
	struct sf_aws_config *c = xcalloc(1, sizeof *c);
	ini_parse(&c->config, config_text);
	ini_parse(&c->creds, credentials_text);
	set_profile(c, profile);
	*out = c;
	return 0;
}

int sf_aws_config_load(struct sf_aws_config **out, const char *profile, struct sf_err *err)
{
	int rc = SF_ERROR;
	char *cp = home_path("AWS_CONFIG_FILE", ".aws/config");
	char *kp = home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
	char *ctext = NULL, *ktext = NULL;
	size_t n;
	*out = NULL;
	rc = sf_read_file(&ctext, &n, cp, 1 << 20, err);
	if (rc < 0 && rc != SF_ENOTFOUND)
		goto done;
	rc = sf_read_file(&ktext, &n, kp, 1 << 20, err);
	if (rc < 0 && rc != SF_ENOTFOUND)
		goto done;
	sf_err_clear(err);
	rc = sf_aws_config_parse(out, ctext, ktext, profile, err);
	if (rc == 0 && (*out)->explicit_profile && !sf_aws_config_has_profile(*out, profile)) {
		rc = sf_fail(err, SF_EINVAL, "profile %s not found in %s or %s", profile, cp, kp);
		sf_err_hint(err, "check --profile, or create the profile with `aws configure --profile %s`", profile);
		sf_aws_config_free(*out);
		*out = NULL;
	}
done:
	free(cp);
	free(kp);
	free(ctext);
	free(ktext);
	return rc;
}

void sf_aws_config_free(struct sf_aws_config *cfg)
{
	if (!cfg)
		return;
	ini_release(&cfg->config);
	ini_release(&cfg->creds);
	free(cfg->profile);
	free(cfg);
}

const char *sf_aws_config_profile(const struct sf_aws_config *cfg)
{
	return cfg->profile;
}

int sf_aws_config_profile_explicit(const struct sf_aws_config *cfg)
{
	return cfg->explicit_profile;
}

static char *config_section(const char *profile)
{
	return !strcmp(profile, "default") ? xstrdup("default") : xasprintf("profile %s", profile);
}

int sf_aws_config_has_profile(const struct sf_aws_config *cfg, const char *profile)
{
	char *sec = config_section(profile);
	int yes = ini_has_section(&cfg->creds, profile) || ini_has_section(&cfg->config, sec) ||
		  /* botocore also accepts [profile default] */
		  (!strcmp(profile, "default") && ini_has_section(&cfg->config, "profile default"));
	free(sec);
	return yes;
}

const char *sf_aws_config_get(const struct sf_aws_config *cfg, const char *profile, const char *key)
{
	if (!cfg)
		return NULL;
	if (!profile)
		profile = cfg->profile;
	const char *v = ini_get(&cfg->creds, profile, key);
	if (v)
		return v;
	char *sec = config_section(profile);
	v = ini_get(&cfg->config, sec, key);
	if (!v && !strcmp(profile, "default"))
		v = ini_get(&cfg->config, "profile default", key);
	free(sec);
	return v;
}

const char *sf_aws_config_services_get(const struct sf_aws_config *cfg, const char *name, const char *key)
{
	char *sec = xasprintf("services %s", name);
	const char *v = ini_get(&cfg->config, sec, key);
	free(sec);
	return v;
}

const char *sf_aws_config_setting(const struct sf_aws_config *cfg, const char *env, const char *key)
{
	const char *v = env ? getenv(env) : NULL;
	if (v && *v)
		return v;
	return cfg ? sf_aws_config_get(cfg, NULL, key) : NULL;
}

/* ---- region ---- */

/* "eu-west-1", "us-gov-east-1", "cn-north-1", "ap-southeast-4"; also
 * local-only names are refused: they would produce a bogus hostname. */
static int region_ok(const char *r)
{
	size_t n = strlen(r);
	if (n < 4 || n > 31 || !islower((unsigned char)r[0]))
		return 0;
	int dashes = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r[i];
		if (c == '-') {
			if (i == 0 || r[i - 1] == '-')
				return 0;
			dashes++;
		} else if (!islower(c) && !isdigit(c)) {
			return 0;
		}
	}
	return dashes >= 2 && isdigit((unsigned char)r[n - 1]);
}

int sf_aws_resolve_region(const struct sf_aws_config *cfg, const char *override, char **out, struct sf_err *err)
{
	const char *r = override;
	const char *from = "--region";
	*out = NULL;
	if (!r || !*r) {
		r = getenv("AWS_REGION"), from = "AWS_REGION";
	}
	if (!r || !*r) {
		r = getenv("AWS_DEFAULT_REGION"), from = "AWS_DEFAULT_REGION";
	}
	if ((!r || !*r) && cfg) {
		r = sf_aws_config_get(cfg, NULL, "region"), from = "profile region";
	}
	if (!r || !*r) {
		sf_fail(err, SF_EINVAL, "no AWS region configured");
		return sf_err_hint(err, "pass --region, set AWS_REGION, or add `region = ...` to the profile");
	}
	if (!region_ok(r)) {
		sf_fail(err, SF_EINVAL, "unknown AWS region \"%s\" (from %s)", r, from);
		return sf_err_hint(err, "use a region name like eu-west-1");
	}
	*out = xstrdup(r);
	return 0;
}

static int truthy(const char *v)
{
	return v && !strcasecmp(v, "true");
}

static const char *const sts_legacy_regions[] = {
	"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global", "ca-central-1",
	"eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", NULL,
};

/* STS's legacy mode: the original regions use the global endpoint. */
static int sts_legacy(const struct sf_aws_config *cfg, const char *region)
{
	const char *mode = sf_aws_config_setting(cfg, "AWS_STS_REGIONAL_ENDPOINTS", "sts_regional_endpoints");
	if (!mode || strcasecmp(mode, "legacy"))
		return 0;
	for (int i = 0; sts_legacy_regions[i]; i++)
		if (!strcmp(region, sts_legacy_regions[i]))
			return 1;
	return 0;
}

/* The endpoint URL from settings, or NULL (borrowed). */
static const char *configured_url(const struct sf_aws_config *cfg, const struct sf_aws_service *svc)
{
	if (truthy(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")))
		return NULL;
	const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if ((!ign || !*ign) && truthy(sf_aws_config_get(cfg, NULL, "ignore_configured_endpoint_urls")))
		return NULL;
	char env[96];
	snprintf(env, sizeof env, "AWS_ENDPOINT_URL_%s", svc->env_id);
	const char *v = getenv(env);
	if (v && *v)
		return v;
	v = getenv("AWS_ENDPOINT_URL");
	if (v && *v)
		return v;
	if (!cfg)
		return NULL;
	const char *sname = sf_aws_config_get(cfg, NULL, "services");
	if (sname && *sname) {
		char key[96];
		snprintf(key, sizeof key, "%s.endpoint_url", svc->cfg_id);
		v = sf_aws_config_services_get(cfg, sname, key);
		if (v && *v)
			return v;
	}
	v = sf_aws_config_get(cfg, NULL, "endpoint_url");
	return v && *v ? v : NULL;
}

/* Per-partition facts endpoints are built from (the services' endpoint
 * rule sets and partitions.json): which regions belong to it, the DNS
 * suffixes, IAM's four hosts and the region IAM is signed in. */
struct partition {
	const char *name;
	const char *prefix; /* region names starting so are in it; NULL: every other region */
	const char *dns_suffix, *dual_suffix;
	const char *iam[4];       /* plain, dual-stack, FIPS, FIPS dual-stack; "{r}": the region */
	const char *iam_region;   /* where IAM is signed; NULL: the client's region */
	const char *home; /* where a home_region service answers here; NULL: nowhere
			     (the Price List API: cn-northwest-1 in China, none in GovCloud) */
};

/* Longer prefixes first: "us-isob-" is not "us-iso-", but keep it plain. */
static const struct partition partitions[] = {
	{"aws-us-gov", "us-gov-", "amazonaws.com", "api.aws",
	 {"iam.us-gov.amazonaws.com", "iam.us-gov.api.aws", "iam.us-gov.amazonaws.com", "iam.us-gov.api.aws"},
	 "us-gov-west-1", NULL},
	{"aws-cn", "cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn",
	 {"iam.cn-north-1.amazonaws.com.cn", "iam.global.api.amazonwebservices.com.cn", "iam-fips.amazonaws.com.cn",
	  "iam-fips.api.amazonwebservices.com.cn"},
	 "cn-north-1", "cn-northwest-1"},
	{"aws-iso-b", "us-isob-", "sc2s.sgov.gov", "api.aws.scloud",
	 {"iam.us-isob-east-1.sc2s.sgov.gov", "iam.api.aws.scloud", "iam-fips.us-isob-east-1.sc2s.sgov.gov",
	  "iam-fips.api.aws.scloud"},
	 "us-isob-east-1", NULL},
	{"aws-iso-f", "us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov",
	 {"iam.us-isof-south-1.csp.hci.ic.gov", "iam.api.aws.hci.ic.gov", "iam-fips.csp.hci.ic.gov",
	  "iam-fips.api.aws.hci.ic.gov"},
	 "us-isof-south-1", NULL},
	{"aws-iso", "us-iso-", "c2s.ic.gov", "api.aws.ic.gov",
	 {"iam.us-iso-east-1.c2s.ic.gov", "iam.api.aws.ic.gov", "iam-fips.us-iso-east-1.c2s.ic.gov",
	  "iam-fips.api.aws.ic.gov"},
	 "us-iso-east-1", NULL},
	{"aws-iso-e", "eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk",
	 {"iam.{r}.cloud.adc-e.uk", "iam.api.cloud-aws.adc-e.uk", "iam-fips.cloud.adc-e.uk",
	  "iam-fips.api.cloud-aws.adc-e.uk"},
	 NULL, NULL},
	{"aws-eusc", "eusc-", "amazonaws.eu", "api.amazonwebservices.eu",
	 {"iam.{r}.amazonaws.eu", "iam.global.api.amazonwebservices.eu", "iam-fips.amazonaws.eu",
	  "iam-fips.api.amazonwebservices.eu"},
	 NULL, NULL},
	{"aws", NULL, "amazonaws.com", "api.aws",
	 {"iam.amazonaws.com", "iam.global.api.aws", "iam-fips.amazonaws.com", "iam-fips.global.api.aws"},
	 "us-east-1", NULL},
};

/* FIPS hosts (without dual-stack) that are not <prefix>-fips.<region>.<suffix>.
 * GovCloud's regular endpoints of these services are FIPS endpoints. */
static const struct {
	const char *service, *partition, *host;
} fips_hosts[] = {
	{"eks", "aws", "fips.eks.{r}.amazonaws.com"},
	{"ec2", "aws-us-gov", "ec2.{r}.amazonaws.com"},
	{"eks", "aws-us-gov", "eks.{r}.amazonaws.com"},
	{"elasticloadbalancing", "aws-us-gov", "elasticloadbalancing.{r}.amazonaws.com"},
	{"elb", "aws-us-gov", "elasticloadbalancing.{r}.amazonaws.com"},
	{"ssm", "aws-us-gov", "ssm.{r}.amazonaws.com"},
	{"sts", "aws-us-gov", "sts.{r}.amazonaws.com"},
};

static const struct partition *partition_of(const char *region)
{
	size_t i = 0;
	for (; i + 1 < SF_ARRAY_LEN(partitions); i++)
		if (!strncmp(region, partitions[i].prefix, strlen(partitions[i].prefix)))
			break;
	return &partitions[i];
}

const char *sf_aws_partition(const char *region)
{
	return partition_of(region)->name;
}

/* "https://" + tmpl with "{r}" replaced by region. */
static void url_from(char *out, size_t n, const char *tmpl, const char *region)
{
	const char *r = strstr(tmpl, "{r}");
	if (r)
		snprintf(out, n, "https://%.*s%s%s", (int)(r - tmpl), tmpl, region, r + 3);
	else
		snprintf(out, n, "https://%s", tmpl);
}

/* Service principals that differ from the commercial spelling (IAM user
 * guide for the China regions; EKS there keeps eks.amazonaws.com). */
static const struct {
	const char *partition, *service, *principal;
} principals[] = {
	{"aws-cn", "ec2.amazonaws.com", "ec2.amazonaws.com.cn"},
};

const char *sf_aws_service_principal(const char *partition, const char *service)
{
	for (size_t i = 0; partition && service && i < SF_ARRAY_LEN(principals); i++)
		if (!strcmp(principals[i].partition, partition) && !strcmp(principals[i].service, service))
			return principals[i].principal;
	return service;
}

int sf_aws_resolve_endpoint(const struct sf_aws_config *cfg, const char *service, const char *region,
			    struct sf_aws_endpoint *out, struct sf_err *err)
{
	const struct sf_aws_service *svc = sf_aws_service_find(service);
	memset(out, 0, sizeof *out);
	if (!svc)
		return sf_fail(err, SF_EINVAL, "unknown AWS service \"%s\"", service ? service : "(null)");
	if (!region || !region_ok(region))
		return sf_fail(err, SF_EINVAL, "unknown AWS region \"%s\"", region ? region : "(null)");
	const struct partition *pt = partition_of(region);
	const char *part = pt->name;
	int fips = truthy(sf_aws_config_setting(cfg, "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"));
	int dual = truthy(sf_aws_config_setting(cfg, "AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint"));
	const char *u = configured_url(cfg, svc);
	if (u && (fips || dual)) {
		/* the services' endpoint rule sets refuse the pair, and so do the SDKs */
		sf_fail(err, SF_EINVAL, "%s: %s cannot be used with a configured endpoint URL", svc->id,
			fips ? "AWS_USE_FIPS_ENDPOINT (use_fips_endpoint)"
			     : "AWS_USE_DUALSTACK_ENDPOINT (use_dualstack_endpoint)");
		return sf_err_hint(err, "unset one of them: a configured endpoint URL names the host itself");
	}
	snprintf(out->partition, sizeof out->partition, "%s", part);
	snprintf(out->signing_name, sizeof out->signing_name, "%s", svc->signing_name);
	snprintf(out->signing_region, sizeof out->signing_region, "%s", region);
	snprintf(out->variant, sizeof out->variant, "%s%s%s", fips ? "FIPS" : "", fips && dual ? " " : "",
		 dual ? "dual-stack" : "");
	const char *suffix = dual ? pt->dual_suffix : pt->dns_suffix;

	if (svc->global) { /* IAM: one endpoint per partition, signed in its home region */
		url_from(out->url, sizeof out->url, pt->iam[fips * 2 + dual], region);
		if (pt->iam_region)
			snprintf(out->signing_region, sizeof out->signing_region, "%s", pt->iam_region);
		goto configured;
	}
	const char *where = region;
	if (svc->home_region) {
		where = !strcmp(part, "aws") ? svc->home_region : pt->home;
		if (!where && !u)
			return sf_fail(err, SF_ENOTFOUND, "%s has no endpoint in the %s partition (region %s)", svc->id,
				       part, region);
		if (!where)
			where = region;
		snprintf(out->signing_region, sizeof out->signing_region, "%s", where);
	}
	const char *tmpl = NULL;
	for (size_t i = 0; fips && !dual && i < SF_ARRAY_LEN(fips_hosts); i++)
		if (!strcmp(fips_hosts[i].service, svc->id) && !strcmp(fips_hosts[i].partition, part))
			tmpl = fips_hosts[i].host;
	if (tmpl) {
		url_from(out->url, sizeof out->url, tmpl, where);
	} else if (!strcmp(svc->id, "sts") && !strcmp(part, "aws") && !fips && !dual && sts_legacy(cfg, region)) {
		snprintf(out->url, sizeof out->url, "https://sts.%s", suffix);
		snprintf(out->signing_region, sizeof out->signing_region, "%s", pt->iam_region);
	} else {
		snprintf(out->url, sizeof out->url, "https://%s%s.%s.%s", svc->host_prefix, fips ? "-fips" : "", where,
			 suffix);
	}

configured:
	if (u) {
		out->variant[0] = 0;
		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
			return sf_fail(err, SF_EINVAL, "endpoint URL \"%s\" for %s must start with http:// or https://",
				       u, svc->id);
		if (strlen(u) >= sizeof out->url)
			return sf_fail(err, SF_EINVAL, "endpoint URL for %s is too long", svc->id);
		snprintf(out->url, sizeof out->url, "%s", u);
		size_t n = strlen(out->url);
		while (n > 8 && out->url[n - 1] == '/')
			out->url[--n] = 0;
		out->overridden = 1;
	}
	return 0;
}
