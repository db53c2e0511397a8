/*
 * k8s_basic_auth.c - a basic-auth Secret whose password secfaas generates
 * once and keeps.
 *
 * Why a type of its own: the OpenFaaS gateway, queue worker and alertmanager
 * all read `basic-auth`; regenerating it on a later apply breaks them, so
 * the password is made exactly once (32 random alphanumerics), stored as a
 * sensitive attribute (encrypted in state, never printed; `secfaas output
 * --show-sensitive` is the one way to see it), and an existing Secret is
 * adopted rather than overwritten (a create resumed after kill -9 finds the
 * Secret the first attempt wrote).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "resources/types_k8s.h"
#include "util.h"

#define PW_LEN 32

static const struct sf_attr_def attrs[] = {
	SF_K8S_CONN_ATTRS,
	{"namespace", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "namespace of the Secret"},
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "Secret name (OpenFaaS: basic-auth)"},
	{"username", SF_AT_STRING, SF_ATTR_OPTIONAL, "user name (default admin)"},
	{"labels", SF_AT_MAP, SF_ATTR_OPTIONAL, "labels of the Secret"},
	{"password", SF_AT_STRING, SF_ATTR_COMPUTED | SF_ATTR_SENSITIVE, "generated password (sensitive)"},
	{NULL, 0, 0, NULL},
};

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *user_of(const json_t *a)
{
	return sget(a, "username") ? sget(a, "username") : "admin";
}

static int gen_password(char out[PW_LEN + 1], struct sf_err *err)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[PW_LEN * 2];
	size_t n = 0;
	while (n < PW_LEN) {
		if (sf_random(r, sizeof r) < 0)
			return sf_fail(err, SF_ERROR, "no random bytes from the OS for the password");
		for (size_t i = 0; i < sizeof r && n < PW_LEN; i++)
			if (r[i] < 248) /* 248 = 4 * 62: no modulo bias */
				out[n++] = alnum[r[i] % 62];
	}
	out[PW_LEN] = 0;
	return 0;
}

/* Password in the live Secret (owned), or NULL. */
static char *live_password(const json_t *secret)
{
	const char *d = sget(json_object_get(secret, "data"), "basic-auth-password");
	return d ? sf_kube_b64decode(d, NULL) : NULL;
}

static int apply_secret(struct sf_kube *k, const json_t *want, const char *pw, struct sf_err *err)
{
	char *u = sf_b64encode(user_of(want), strlen(user_of(want))), *p = sf_b64encode(pw, strlen(pw));
	json_t *labels = json_object_get(want, "labels");
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Secret",
				"metadata", "name", sget(want, "name"), "namespace", sget(want, "namespace"), "labels",
				json_is_object(labels) ? json_deep_copy(labels) : json_object(), "type", "Opaque", "data",
				"basic-auth-user", u, "basic-auth-password", p);
	int rc = sf_kube_apply(k, obj, sf_kube_force_conflicts() ? SF_KUBE_FORCE : 0, NULL, err);
	json_decref(obj);
	free(u);
	OPENSSL_cleanse(p, strlen(p));
	free(p);
	return rc;
}

static int create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, want);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	json_t *live = NULL;
	char pw[PW_LEN + 1];
	char *have = NULL;
	struct sf_err e = SF_ERR_INIT;
	int rc = sf_kube_get(k, "v1", "Secret", sget(want, "namespace"), sget(want, "name"), &live, &e);
	if (rc < 0 && rc != SF_ENOTFOUND) {
		*c->err = e;
		return rc;
	}
	if (rc == 0 && (have = live_password(live)) && strlen(have) >= 16 && strlen(have) < sizeof pw) {
		snprintf(pw, sizeof pw, "%s", have); /* adopt: never regenerate */
	} else if ((rc = gen_password(pw, c->err)) < 0) {
		goto done;
	}
	if ((rc = apply_secret(k, want, pw, c->err)) < 0)
		goto done;
	*out = json_deep_copy(want);
	json_object_set_new(*out, "password", json_string(pw));
done:
	OPENSSL_cleanse(pw, sizeof pw);
	if (have)
		OPENSSL_cleanse(have, strlen(have));
	free(have);
	json_decref(live);
	return rc;
}

static int read_(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	json_t *live = NULL;
	int rc = sf_kube_get(k, "v1", "Secret", sget(prior, "namespace"), sget(prior, "name"), &live, c->err);
	if (rc < 0)
		return rc;
	*out = json_deep_copy(prior);
	char *u = sf_kube_b64decode(sget(json_object_get(live, "data"), "basic-auth-user"), NULL);
	char *pw = live_password(live);
	if (u && strcmp(u, user_of(prior)))
		json_object_set_new(*out, "username", json_string(u));
	if (!u)
		json_object_set_new(*out, "username", json_string(""));
	if (pw)
		json_object_set_new(*out, "password", json_string(pw)); /* rotated by hand: keep what is live */
	const json_t *labels = json_object_get(json_object_get(live, "metadata"), "labels");
	if (json_object_get(prior, "labels") && labels)
		json_object_set(*out, "labels", (json_t *)labels);
	free(u);
	free(pw);
	json_decref(live);
	return 0;
}

static int update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	struct sf_kube *k = sf_k8s_client(c, want);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	const char *pw = sget(prior, "password");
	char fresh[PW_LEN + 1];
	if (!pw) {
		if (gen_password(fresh, c->err) < 0)
			return c->err->code;
		pw = fresh;
	}
	int rc = apply_secret(k, want, pw, c->err);
	if (rc == 0) {
		*out = json_deep_copy(want);
		json_object_set_new(*out, "password", json_string(pw));
	}
	OPENSSL_cleanse(fresh, sizeof fresh);
	return rc;
}

static int destroy(struct sf_rctx *c, const json_t *prior)
{
	struct sf_kube *k = sf_k8s_client(c, prior);
	if (!k)
		return c->err->code ? c->err->code : SF_ERROR;
	return sf_kube_delete(k, "v1", "Secret", sget(prior, "namespace"), sget(prior, "name"), "Background", c->err);
}

static const struct sf_own own = {
	.kind = SF_OWN_PARENT,
	.noun = "Kubernetes Secret",
	.proof = "lives in the cluster its endpoint names (created by secfaas, never rotated)",
	.parent_type = "eks_cluster",
};

const struct sf_rtype sf_rt_k8s_basic_auth = {
	.own = &own,
	.name = "k8s_basic_auth",
	.schema_version = 1,
	.attrs = attrs,
	.create = create,
	.read = read_,
	.update = update,
	.destroy = destroy,
};
