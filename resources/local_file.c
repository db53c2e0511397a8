/*
 * local_file.c - a file on the machine running secfaas.
 *
 * Useful on its own (render kubeconfigs, node configs or reports next to a
 * cluster) and as the simplest real resource for exercising the engine.
 * Create is naturally idempotent: the path is the identity.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/types.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"path", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "file path"},
	{"content", SF_AT_STRING, SF_ATTR_REQUIRED, "file content"},
	{"file_permission", SF_AT_STRING, SF_ATTR_OPTIONAL,
	 "octal mode, default 0644, or 0600 when the content holds a secret"},
	{"sha256", SF_AT_STRING, SF_ATTR_COMPUTED, "hex SHA-256 of the content"},
	{NULL, 0, 0, NULL},
};

static int parse_mode(const json_t *want, mode_t *out, struct sf_err *err)
{
	const char *m = json_string_value(json_object_get(want, "file_permission"));
	if (!m) {
		*out = 0644;
		return 0;
	}
	char *end;
	long v = strtol(m, &end, 8);
	if (!*m || *end || v < 0 || v > 07777)
		return sf_fail(err, SF_EINVAL, "file_permission \"%s\" is not an octal mode like 0640", m);
	*out = (mode_t)v;
	return 0;
}

static int lf_validate(const json_t *want, struct sf_err *err)
{
	mode_t m;
	return parse_mode(want, &m, err);
}

static json_t *result(const json_t *want, const char *content)
{
	char hex[65];
	sf_sha256_hex(hex, content, strlen(content));
	json_t *o = json_deep_copy(want);
	json_object_set_new(o, "id", json_string(json_string_value(json_object_get(want, "path"))));
	json_object_set_new(o, "sha256", json_string(hex));
	return o;
}

static int write_it(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *path = json_string_value(json_object_get(want, "path"));
	const char *content = json_string_value(json_object_get(want, "content"));
	mode_t mode = 0644;
	if (!path || !content)
		return sf_fail(c->err, SF_EINVAL, "local_file needs path and content");
	if (parse_mode(want, &mode, c->err) < 0)
		return c->err->code;
	/* content built from a secret is readable by its owner only, unless
	 * file_permission says otherwise */
	if (!json_object_get(want, "file_permission") && c->sensitive && c->sensitive(c, "content"))
		mode = 0600;
	/* Parent directories are created like Terraform's local_file does. */
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int mk = 0;
	if (slash && slash != dir) {
		*slash = 0;
		mk = sf_mkdir_p(dir, 0755, c->err);
	}
	free(dir);
	if (mk < 0)
		return c->err->code;
	if (sf_write_file_atomic(path, content, strlen(content), (int)mode, c->err) < 0)
		return c->err->code;
	if (chmod(path, mode) < 0)
		return sf_fail(c->err, SF_EIO, "chmod %s: %s", path, strerror(errno));
	*out = result(want, content);
	return 0;
}

static int lf_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	return write_it(c, want, out);
}

static int lf_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	const char *path = json_string_value(json_object_get(prior, "path"));
	char *buf = NULL;
	if (!path)
		return sf_fail(c->err, SF_ENOTFOUND, "no path recorded");
	if (sf_read_file(&buf, NULL, path, 0, c->err) < 0)
		return c->err->code;
	json_t *o = json_deep_copy(prior);
	json_object_set_new(o, "content", json_string(buf));
	struct stat st;
	if (stat(path, &st) == 0 && json_object_get(prior, "file_permission")) {
		char m[8];
		snprintf(m, sizeof m, "%04o", (unsigned)(st.st_mode & 07777));
		json_object_set_new(o, "file_permission", json_string(m));
	}
	json_t *r = result(o, buf);
	json_decref(o);
	free(buf);
	*out = r;
	return 0;
}

static int lf_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	(void)prior;
	return write_it(c, want, out);
}

static int lf_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *path = json_string_value(json_object_get(prior, "path"));
	if (path && unlink(path) < 0 && errno != ENOENT)
		return sf_fail(c->err, SF_EIO, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static const struct sf_own own = {
	.kind = SF_OWN_LOCAL,
	.noun = "local file",
	.proof = "a file on this machine at the path the spec names",
};

const struct sf_rtype sf_rt_local_file = {
	.own = &own,
	.name = "local_file",
	.schema_version = 1,
	.attrs = attrs,
	.create = lf_create,
	.read = lf_read,
	.update = lf_update,
	.destroy = lf_destroy,
	.validate = lf_validate,
};
