/*
 * aws_launch_template.c - aws_launch_template: the launch template every
 * node group runs from.  It always carries the instance metadata options
 * -- IMDSv2 required, PUT response hop limit 1 unless the spec asks for
 * more -- and an encrypted gp3 root volume.  With hop limit 1 the token
 * reply dies at the node's forwarding, so a pod (one routed hop behind the
 * node under the VPC CNI) can get neither a token nor the node role's
 * credentials; EKS's default template, used when a group names none, has
 * 2.  A gVisor group's template also has the custom AMI and AL2023 user
 * data (MIME multipart with a NodeConfig and the runsc containerd
 * fragment, rendered by the lowering with references to the cluster
 * endpoint and CA); a runc group's has neither, EKS supplies its stock AMI
 * and bootstrap.
 *
 * The runsc table differs between containerd 1.x and 2.x, and each
 * ignores the other's, so the lowering renders the user data once per
 * containerd major (user_data_by_containerd) and the template keeps the
 * one for its image's containerd (containerd_version: a baked image's by
 * reference, a given image's secfaas:containerd-version tag), chosen at
 * plan time (plan_resolve, so the plan shows it) and again on create and
 * update, since apply resolves the spec anew.  A change of the image's
 * major is a change of user_data: a new template version.
 *
 * Changes never replace the template: they create a new version, make it
 * the default and report it as latest_version, which the node group
 * references so it rolls through UpdateNodegroupVersion.  The template
 * name is <name>-<suffix of the create token> so a replacement (create
 * before destroy) never collides; CreateLaunchTemplate and
 * CreateLaunchTemplateVersion carry ClientToken, so a resumed create or
 * update returns what the killed run made.
 *
 * Drift: the data of the template's default version is read (AMI, user
 * data, IMDS options — tokens required, hop limit — and root volume): a
 * default version someone else made or chose shows as changed attributes.
 * When the version this state recorded still holds what the spec wants,
 * apply just makes it the default again (no new version, so node groups do
 * not roll); otherwise it creates a new version as for any change.
 *
 * Ownership (SF_OWN_ID): the lt-... id recorded at create.  A template
 * found by its name (a resumed create, a destroy whose create never
 * returned) is taken only when its tags prove it is this state's.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "provisioner/node/render.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/providers.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"name", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "name prefix (a suffix makes it unique)"},
	{"image_id", SF_AT_STRING, SF_ATTR_OPTIONAL, "AMI (gVisor groups: the baked or given image; unset: EKS's)"},
	{"user_data", SF_AT_STRING, SF_ATTR_OPTIONAL,
	 "AL2023 MIME user data (plain text; sent base64; unset: EKS's); with user_data_by_containerd, chosen from it"},
	{"user_data_by_containerd", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT,
	 "gVisor groups: the user data for each containerd major version (\"1\", \"2\"), one chosen by the image's"},
	{"containerd_version", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
	 "containerd of the image (a baked one's; read from a given image's secfaas:containerd-version tag)"},
	{"disk_size", SF_AT_INT, SF_ATTR_OPTIONAL, "root volume GiB (default 20)"},
	{"hop_limit", SF_AT_INT, SF_ATTR_OPTIONAL, "IMDSv2 PUT response hop limit (default 1: pods get no token)"},
	{"http_tokens", SF_AT_STRING, SF_ATTR_OPTIONAL, "IMDS session tokens: required (default, IMDSv2 only)"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL, "tags of the template and its instances"},
	{"image_check", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT,
	 "for a given (not baked) AMI: {arch, gvisor_release, where}; checked before use"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "lt-..."},
	{"template_name", SF_AT_STRING, SF_ATTR_COMPUTED, "actual template name"},
	{"latest_version", SF_AT_STRING, SF_ATTR_COMPUTED | SF_ATTR_NEW_ON_UPDATE, "version the node group uses"},
	{NULL, 0, 0, NULL},
};

static json_t *lt_data(struct sf_rctx *c, const json_t *want)
{
	const char *ud = ax_s(want, "user_data"), *image = ax_s(want, "image_id");
	json_int_t disk = json_integer_value(json_object_get(want, "disk_size"));
	json_int_t hop = json_integer_value(json_object_get(want, "hop_limit"));
	json_t *tags = ax_tags(c, want, 0);
	const char *tokens = ax_s(want, "http_tokens") ? ax_s(want, "http_tokens") : "required";
	json_t *d = json_pack("{s:{s:s, s:I, s:s}, s:[{s:s, s:{s:I, s:s, s:b, s:b}}], s:[{s:s, s:o}]}",
			      "MetadataOptions", "HttpTokens", tokens, "HttpPutResponseHopLimit",
			      hop > 0 ? hop : (json_int_t)1, "HttpEndpoint", "enabled", "BlockDeviceMapping",
			      "DeviceName", "/dev/xvda", "Ebs", "VolumeSize", disk > 0 ? disk : (json_int_t)20, "VolumeType",
			      "gp3", "DeleteOnTermination", 1, "Encrypted", 1, "TagSpecification", "ResourceType", "instance",
			      "Tag", ax_tag_list(tags));
	if (image)
		json_object_set_new(d, "ImageId", json_string(image));
	if (ud && *ud) {
		char *b64 = sf_b64encode(ud, strlen(ud));
		json_object_set_new(d, "UserData", json_string(b64));
		free(b64);
	}
	json_decref(tags);
	return d;
}

/* The memo key of a given image (owned), or NULL with c->err set. */
static char *image_key(struct sf_rctx *c, const char *image)
{
	struct sf_aws *aws = ax_client(c);
	if (!aws)
		return NULL; /* ax_client said why */
	const char *region = sf_aws_region(aws);
	return xasprintf("ec2.DescribeImages %s %s", region ? region : "", image);
}

/* The given image `image` as DescribeImages describes it (*im, new ref):
 * from the run's memo (struct sf_providers) when a check in this run
 * already passed it, else read, and *mine is then set: the caller fills
 * the memo's key (sf_memo_fill) with the image once its check passed, or
 * with NULL.  Why: plan_resolve checks a given image and create or
 * update, which resolve the spec anew, check it again a moment later in
 * the same process; that second read would only repeat the first's
 * answer.  A saved plan applied by another process has a memo of its own
 * and reads it again.  0, or < 0 with c->err set (SF_ENOTFOUND: no such
 * image). */
static int image_read(struct sf_rctx *c, const char *key, const char *image, json_t **im, int *mine)
{
	struct sf_providers *p = c->provider;
	*im = sf_memo_take(p->memo, key);
	*mine = !*im;
	return *im ? 0 : ax_ec2_describe_one(c, "DescribeImages", "ImageId", image, "imagesSet", im);
}

/* A given AMI must exist, be available, match the node arch and carry the
 * gVisor tags secfaas bakes with (secfaas:kind, secfaas:gvisor-release).
 * Its secfaas:containerd-version tag ("" when it has none) into *ctd when
 * ctd is not NULL (owned).  Read once per run (image_read). */
static int check_image(struct sf_rctx *c, const json_t *want, char **ctd)
{
	const json_t *chk = json_object_get(want, "image_check");
	if (ctd)
		*ctd = NULL;
	if (!json_is_object(chk))
		return 0;
	const char *image = ax_s(want, "image_id"), *where = ax_s(chk, "where");
	if (!image)
		return 0; /* baked image: not known yet, nothing to check */
	const char *arch = ax_s(chk, "arch"), *rel = ax_s(chk, "gvisor_release");
	json_t *im = NULL;
	char *key = image_key(c, image);
	int mine = 0, rc = key ? image_read(c, key, image, &im, &mine) : c->err->code;
	if (rc == SF_ENOTFOUND)
		rc = sf_fail(c->err, SF_EINVAL, "ami %s does not exist in this account and region", image);
	if (rc < 0)
		goto done;
	const char *st = ax_s(im, "imageState"), *ia = ax_s(im, "architecture");
	json_t *tags = ax_tags_from_list(json_object_get(im, "tagSet"));
	const char *kind = ax_s(tags, "secfaas:kind"), *irel = ax_s(tags, "secfaas:gvisor-release");
	if (!st || strcmp(st, "available"))
		rc = sf_fail(c->err, SF_EINVAL, "ami %s is %s, not available", image, st ? st : "in an unknown state");
	else if (arch && ia && strcmp(ia, arch))
		rc = sf_fail(c->err, SF_EINVAL, "ami %s is %s but the node group's instance types are %s", image, ia, arch);
	else if (!kind || strcmp(kind, "gvisor-ami") || !irel)
		rc = sf_fail(c->err, SF_EINVAL, "ami %s carries no secfaas gVisor tags (secfaas:kind=gvisor-ami, secfaas:gvisor-release)",
			     image);
	else if (rel && strcmp(rel, irel))
		rc = sf_fail(c->err, SF_EINVAL, "ami %s has gVisor %s but spec.gvisor.release is %s", image, irel, rel);
	else if (!ax_s(tags, SF_CONTAINERD_TAG))
		sf_warn("%s: ami %s does not record its containerd version (%s); the runsc handler is configured for containerd 2",
			c->address, image, SF_CONTAINERD_TAG);
	if (rc == 0 && ctd)
		*ctd = xstrdup(ax_s(tags, SF_CONTAINERD_TAG) ? ax_s(tags, SF_CONTAINERD_TAG) : "");
	json_decref(tags);
	if (rc < 0)
		sf_err_hint(c->err, "bake one with `secfaas bake SPEC`, or drop `ami:` to let apply bake it");
done:
	if (mine) { /* a failed check or read is never kept: the next check reads again */
		struct sf_providers *p = c->provider;
		sf_memo_fill(p->memo, key, rc == 0 ? im : NULL);
	}
	if (rc < 0 && where)
		sf_err_where(c->err, "%s", where);
	json_decref(im);
	free(key);
	return rc;
}

/* At plan time too, so a wrong `ami:` fails `secfaas plan` with the spec's
 * file:line:col before anything is created. */
static int lt_plan_check(struct sf_rctx *c, const json_t *want)
{
	/* plan_resolve, called first for every change checked here, already
	 * read and checked a given image when it took its containerd version
	 * from the tag: a second read would only repeat its call and warning */
	if (json_is_object(json_object_get(want, "user_data_by_containerd")) &&
	    json_is_string(json_object_get(want, "containerd_version")))
		return 0;
	return check_image(c, want, NULL);
}

/* The user data that fits containerd `version` ("" = not recorded: an
 * image from before secfaas recorded it, taken as containerd 2, what
 * EKS's AL2023 images run since late 2025) out of user_data_by_containerd.
 * A containerd 1.x node silently ignores a containerd 2 (`version = 3`)
 * fragment and the other way round, leaving it without the runsc
 * runtime, so a version without a rendering is refused.  Borrowed from
 * want (JSON null while it is still unknown), or NULL with c->err set. */
static const json_t *user_data_for(struct sf_rctx *c, const json_t *want, const char *version)
{
	const json_t *by = json_object_get(want, "user_data_by_containerd");
	int major = *version ? sf_containerd_major(version) : 2;
	char key[16];
	snprintf(key, sizeof key, "%d", major);
	const json_t *ud = major > 0 ? json_object_get(by, key) : NULL;
	if (!json_is_string(ud) && !json_is_null(ud)) { /* null: known after apply (the cluster's endpoint) */
		const json_t *chk = json_object_get(want, "image_check");
		sf_fail(c->err, SF_EINVAL,
			"ami %s runs containerd %s; secfaas renders the runsc handler for containerd 1.x and 2.x only",
			ax_s(want, "image_id") ? ax_s(want, "image_id") : "(baked)", version);
		sf_err_hint(c->err, "use an image on containerd 1.7 or 2.x (bake one with `secfaas bake SPEC`)");
		if (ax_s(chk, "where"))
			sf_err_where(c->err, "%s", ax_s(chk, "where"));
		return NULL;
	}
	return ud;
}

/* What the template holds for `want` (new ref): with
 * user_data_by_containerd, user_data is the one for the image's
 * containerd and containerd_version says which.  The version comes from
 * want (a baked image's, by reference), else from the given image's tag
 * (read when `may_read`; check_image's reading when *read is set), else
 * from `before` when it names the same image (a plan that does not
 * refresh).  When none tells, user_data is JSON null (known after
 * apply).  < 0 with c->err. */
static int with_user_data(struct sf_rctx *c, const json_t *want, const json_t *before, int may_read, const char *read,
			  json_t **out)
{
	*out = json_deep_copy(want);
	if (!json_is_object(json_object_get(want, "user_data_by_containerd")))
		return 0;
	char *got = NULL;
	const json_t *v = json_object_get(want, "containerd_version");
	const char *ver = NULL, *image = ax_s(want, "image_id");
	if (v) {
		ver = json_string_value(v); /* NULL: the image is still to be baked */
	} else if (read) {
		ver = read;
	} else if (may_read && image) {
		int rc = check_image(c, want, &got);
		if (rc < 0) {
			json_decref(*out);
			*out = NULL;
			return rc;
		}
		ver = got;
	} else if (before && image && ax_s(before, "image_id") && !strcmp(image, ax_s(before, "image_id"))) {
		ver = ax_s(before, "containerd_version");
	}
	if (!ver) {
		json_object_set_new(*out, "user_data", json_null());
		free(got);
		return 0;
	}
	const json_t *ud = user_data_for(c, want, ver);
	if (!ud) {
		free(got);
		json_decref(*out);
		*out = NULL;
		return c->err->code ? c->err->code : SF_EINVAL;
	}
	json_object_set(*out, "user_data", (json_t *)ud);
	json_object_set_new(*out, "containerd_version", json_string(ver));
	free(got);
	return 0;
}

static int lt_plan_resolve(struct sf_rctx *c, const json_t *before, json_t *want)
{
	json_t *w = NULL;
	int rc = with_user_data(c, want, before, c->provider != NULL, NULL, &w);
	if (rc < 0)
		return rc;
	json_object_set(want, "user_data", json_object_get(w, "user_data"));
	if (json_object_get(w, "containerd_version"))
		json_object_set(want, "containerd_version", json_object_get(w, "containerd_version"));
	json_decref(w);
	return 0;
}

static const struct sf_own own;

/* The template named `name`, when its tags prove it is this state's:
 * 0 with *lt (new ref), SF_ENOTFOUND, or SF_ECONFLICT naming the owner. */
static int by_name(struct sf_rctx *c, const char *name, json_t **lt)
{
	json_t *o = NULL;
	*lt = NULL;
	int rc = ax_ec2(c, "DescribeLaunchTemplates", json_pack("{s:[s]}", "LaunchTemplateName", name), &o);
	if (rc < 0)
		return rc;
	json_t *x = json_array_get(json_object_get(o, "launchTemplates"), 0);
	if (!x) {
		json_decref(o);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: launch template %s not found", c->address, name);
	}
	json_t *t = ax_tags_from_list(json_object_get(x, "tagSet"));
	rc = ax_adopt(c, &own, name, t);
	json_decref(t);
	if (!rc)
		*lt = json_incref(x);
	json_decref(o);
	return rc;
}

/* ax_create's lookup: the template of this name when it is this state's. */
struct lt_name {
	const char *name;
};

static int lt_find(struct sf_rctx *c, const void *ctx, char **id)
{
	const struct lt_name *n = ctx;
	json_t *lt = NULL;
	*id = NULL;
	int rc = by_name(c, n->name, &lt);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	if (!rc)
		*id = xstrdup(ax_s(lt, "launchTemplateId") ? ax_s(lt, "launchTemplateId") : "");
	json_decref(lt);
	return rc;
}

static int lt_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	json_t *o = NULL;
	*tags = NULL;
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	if (!*id)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: no id recorded", c->address);
	int rc = ax_ec2(c, "DescribeLaunchTemplates", json_pack("{s:[s]}", "LaunchTemplateId", *id), &o);
	if (rc < 0)
		return rc;
	json_t *x = json_array_get(json_object_get(o, "launchTemplates"), 0);
	if (!x)
		rc = sf_fail(c->err, SF_ENOTFOUND, "%s: launch template gone", c->address);
	else
		*tags = ax_tags_from_list(json_object_get(x, "tagSet"));
	json_decref(o);
	return rc;
}

/* want_in with the user data for its image's containerd filled in (*want
 * new), as create and update send it: apply resolves the spec again, so
 * both make the choice the plan showed. */
static int resolved_want(struct sf_rctx *c, const json_t *want_in, json_t **want)
{
	char *ctd = NULL;
	*want = NULL;
	int rc = check_image(c, want_in, &ctd);
	if (rc >= 0)
		rc = with_user_data(c, want_in, NULL, 0, ctd, want);
	free(ctd);
	if (rc < 0)
		return rc;
	if (json_is_null(json_object_get(*want, "user_data"))) {
		json_decref(*want);
		*want = NULL;
		return sf_fail(c->err, SF_EDEPEND, "%s: the image's containerd version is not known", c->address);
	}
	return 0;
}

static int lt_create_with(struct sf_rctx *c, const json_t *want, json_t **out);

static int lt_create(struct sf_rctx *c, const json_t *want_in, json_t **out)
{
	json_t *want = NULL;
	int rc = resolved_want(c, want_in, &want);
	if (rc < 0)
		return rc;
	rc = lt_create_with(c, want, out);
	json_decref(want);
	return rc;
}

static int lt_create_with(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char sfx[9];
	ax_token_suffix(c, sfx);
	char *name = xasprintf("%s-%s", ax_s(want, "name"), sfx);
	json_t *tags = ax_tags(c, want, 1), *o = NULL;
	/* the one create path: a lost reply or the name found taken (the
	 * name carries our token suffix) ends in by_name, which adopts only
	 * on proof and refuses naming the owner otherwise */
	struct lt_name n = {name};
	struct ax_create_def d = {.service = "ec2", .op = "CreateLaunchTemplate", .id_key = "launchTemplateId",
				  .find = lt_find, .find_ctx = &n,
				  .exists = "InvalidLaunchTemplateName.AlreadyExistsException"};
	char *made = NULL;
	int rc = ax_create(c, &d,
			   json_pack("{s:s, s:s, s:o, s:o}", "ClientToken", c->token ? c->token : name,
				     "LaunchTemplateName", name, "LaunchTemplateData", lt_data(c, want),
				     "TagSpecification", ax_ec2_tagspec("launch-template", tags)),
			   &o, &made);
	json_decref(tags);
	free(made);
	if (!rc && !o) { /* found by the lookup: its version from there */
		json_t *lt = NULL;
		rc = by_name(c, name, &lt);
		if (!rc)
			o = json_pack("{s:o}", "launchTemplate", lt);
	}
	if (rc < 0) {
		free(name);
		return rc;
	}
	json_t *lt = json_object_get(o, "launchTemplate");
	const char *id = ax_s(lt, "launchTemplateId");
	const char *ver = ax_s(lt, "latestVersionNumber");
	if (!id) {
		json_decref(o);
		free(name);
		return sf_fail(c->err, SF_EPROTO, "%s: CreateLaunchTemplate returned no id", c->address);
	}
	if (c->record_id)
		c->record_id(c, id);
	*out = ax_out(want);
	json_object_set_new(*out, "id", json_string(id));
	json_object_set_new(*out, "template_name", json_string(name));
	json_object_set_new(*out, "latest_version", json_string(ver ? ver : "1"));
	json_decref(o);
	free(name);
	return 0;
}

/* The data of one version ("$Default", "3") as this type's attributes
 * (new object with image_id, user_data, hop_limit, http_tokens,
 * disk_size), SF_ENOTFOUND when the template is gone. */
static int version_attrs(struct sf_rctx *c, const char *id, const char *version, json_t **va)
{
	json_t *o = NULL;
	int rc = ax_ec2(c, "DescribeLaunchTemplateVersions",
			json_pack("{s:s, s:[s]}", "LaunchTemplateId", id, "LaunchTemplateVersion", version), &o);
	if (rc < 0)
		return rc;
	json_t *v = json_array_get(json_object_get(o, "launchTemplateVersionSet"), 0);
	if (!v) {
		json_decref(o);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: launch template %s has no version %s", c->address, id, version);
	}
	const json_t *d = json_object_get(v, "launchTemplateData"), *mo = json_object_get(d, "metadataOptions");
	*va = json_object();
	if (ax_s(d, "imageId"))
		json_object_set_new(*va, "image_id", json_string(ax_s(d, "imageId")));
	if (ax_s(d, "userData")) {
		const char *b = ax_s(d, "userData");
		size_t n = strlen(b);
		unsigned char *txt = xmalloc(n + 4);
		int m = EVP_DecodeBlock(txt, (const unsigned char *)b, (int)n);
		if (m >= 0) {
			while (m > 0 && n > 0 && b[n - 1] == '=') { /* DecodeBlock counts padding as bytes */
				m--;
				n--;
			}
			json_object_set_new(*va, "user_data", json_stringn((const char *)txt, (size_t)m));
		}
		free(txt);
	}
	json_object_set_new(*va, "http_tokens", json_string(ax_s(mo, "httpTokens") ? ax_s(mo, "httpTokens") : "optional"));
	if (ax_s(mo, "httpPutResponseHopLimit"))
		json_object_set_new(*va, "hop_limit", json_integer(strtoll(ax_s(mo, "httpPutResponseHopLimit"), NULL, 10)));
	const json_t *ebs = json_object_get(json_array_get(json_object_get(d, "blockDeviceMappingSet"), 0), "ebs");
	if (ax_s(ebs, "volumeSize"))
		json_object_set_new(*va, "disk_size", json_integer(strtoll(ax_s(ebs, "volumeSize"), NULL, 10)));
	json_object_set_new(*va, "version", json_string(ax_s(v, "versionNumber") ? ax_s(v, "versionNumber") : ""));
	json_decref(o);
	return 0;
}

/* Refresh: which recorded templates still exist, in one call.
 * DescribeLaunchTemplates has no id filter and LaunchTemplateId.N fails
 * whole with InvalidLaunchTemplateId.NotFound when one is gone, so it is
 * filtered by the recorded names (unique in a region) and matched by id
 * (aws_batch.h).  The default version is still read per template:
 * DescribeLaunchTemplateVersions takes one template, or every template of
 * the account. */
static const struct ax_batch_def batch = {"DescribeLaunchTemplates", "LaunchTemplateId", "launchTemplates",
					  "launchTemplateId", "launch-template-name", 200, "template_name"};

static int lt_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int lt_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *o = NULL, *live = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &o);
	if (rc == SF_ENOTFOUND)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: launch template gone", c->address);
	if (rc < 0)
		return rc;
	if ((rc = version_attrs(c, ax_s(prior, "id"), "$Default", &live)) < 0) {
		json_decref(o);
		return rc;
	}
	/* latest_version stays the version this state made: node groups follow
	 * it, never a version someone else added */
	*out = json_deep_copy(prior);
	json_t *hop = json_integer(1), *disk = json_integer(20), *req = json_string("required");
	ax_read_attr(*out, prior, "image_id", json_object_get(live, "image_id"), NULL);
	ax_read_attr(*out, prior, "user_data", json_object_get(live, "user_data"), NULL);
	ax_read_attr(*out, prior, "hop_limit", json_object_get(live, "hop_limit"), hop);
	ax_read_attr(*out, prior, "disk_size", json_object_get(live, "disk_size"), disk);
	ax_read_attr(*out, prior, "http_tokens", json_object_get(live, "http_tokens"), req);
	json_decref(hop);
	json_decref(disk);
	json_decref(req);
	json_decref(live);
	json_decref(o);
	return 0;
}

/* Does version attrs `v` hold what want asks for? */
static int holds(const json_t *v, const json_t *want)
{
	json_int_t hop = json_integer_value(json_object_get(want, "hop_limit")),
		   disk = json_integer_value(json_object_get(want, "disk_size"));
	const char *tok = ax_s(want, "http_tokens") ? ax_s(want, "http_tokens") : "required";
	return !ax_changed(v, want, "image_id") && !ax_changed(v, want, "user_data") &&
	       json_integer_value(json_object_get(v, "hop_limit")) == (hop > 0 ? hop : 1) &&
	       json_integer_value(json_object_get(v, "disk_size")) == (disk > 0 ? disk : 20) && ax_s(v, "http_tokens") &&
	       !strcmp(ax_s(v, "http_tokens"), tok);
}

static int lt_update_with(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out);

static int lt_update(struct sf_rctx *c, const json_t *prior, const json_t *want_in, json_t **out)
{
	json_t *want = NULL;
	int rc = resolved_want(c, want_in, &want);
	if (rc < 0)
		return rc;
	rc = lt_update_with(c, prior, want, out);
	json_decref(want);
	return rc;
}

static int lt_update_with(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *id = ax_s(prior, "id");
	json_t *o = NULL, *mine = NULL;
	int rc;
	/* drift only (someone made another version the default): the version
	 * this state recorded is immutable, so if it still is what the spec
	 * wants, make it the default again */
	const char *ours = ax_s(prior, "latest_version");
	if (ours && version_attrs(c, id, ours, &mine) == 0 && holds(mine, want)) {
		json_decref(mine);
		rc = ax_ec2(c, "ModifyLaunchTemplate", json_pack("{s:s, s:s}", "LaunchTemplateId", id, "SetDefaultVersion", ours),
			    NULL);
		if (rc < 0)
			return rc;
		*out = ax_out(want);
		json_object_set(*out, "id", json_object_get(prior, "id"));
		json_object_set(*out, "template_name", json_object_get(prior, "template_name"));
		json_object_set_new(*out, "latest_version", json_string(ours));
		return 0;
	}
	json_decref(mine);
	sf_err_clear(c->err);
	rc = ax_ec2(c, "CreateLaunchTemplateVersion",
			json_pack("{s:s, s:s, s:o, s:s}", "ClientToken", c->token ? c->token : id, "LaunchTemplateId", id,
				  "LaunchTemplateData", lt_data(c, want), "VersionDescription", "secfaas update"),
			&o);
	if (rc < 0)
		return rc;
	const char *ver = ax_s(json_object_get(o, "launchTemplateVersion"), "versionNumber");
	char *v = xstrdup(ver ? ver : "");
	json_decref(o);
	if (!*v) {
		free(v);
		return sf_fail(c->err, SF_EPROTO, "%s: CreateLaunchTemplateVersion returned no version", c->address);
	}
	rc = ax_ec2(c, "ModifyLaunchTemplate", json_pack("{s:s, s:s}", "LaunchTemplateId", id, "SetDefaultVersion", v),
		    NULL);
	if (!rc) {
		*out = ax_out(want);
		json_object_set(*out, "id", json_object_get(prior, "id"));
		json_object_set(*out, "template_name", json_object_get(prior, "template_name"));
		json_object_set_new(*out, "latest_version", json_string(v));
	}
	free(v);
	return rc;
}

static int lt_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *id = ax_s(prior, "id");
	json_t *p;
	if (id) {
		p = json_pack("{s:s}", "LaunchTemplateId", id);
	} else {
		/* killed before the id was recorded: the name derives from the
		 * token, and the template found by it must prove it is ours */
		char sfx[9];
		json_t *lt = NULL;
		if (!ax_s(prior, "name") || !c->token)
			return 0;
		ax_token_suffix(c, sfx);
		char *name = xasprintf("%s-%s", ax_s(prior, "name"), sfx);
		int rc = by_name(c, name, &lt);
		free(name);
		if (rc == SF_ENOTFOUND) {
			sf_err_clear(c->err);
			return 0;
		}
		if (rc < 0)
			return rc;
		p = json_pack("{s:s}", "LaunchTemplateId", ax_s(lt, "launchTemplateId") ? ax_s(lt, "launchTemplateId") : "");
		json_decref(lt);
	}
	int rc = ax_ec2(c, "DeleteLaunchTemplate", p, NULL);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

/* ---- gc sweep ---- */

static int lt_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeLaunchTemplates", "launchTemplates", "launchTemplateId", NULL, NULL);
}

static const struct sf_sweep_hook lt_sweep = {"launch template", SF_SWEEP_LAUNCH_TEMPLATE, lt_sweep_list, NULL, NULL};
static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "launch template",
	.proof = "the lt- id recorded at create; a template found by its name only with this state's tags "
		 "(secfaas:lineage + secfaas:address, or secfaas:token)",
	.marks = lt_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_launch_template = {
	.own = &own,
	.name = "aws_launch_template",
	.schema_version = 1,
	.attrs = attrs,
	.create_before_destroy = 1,
	.create = lt_create,
	.read = lt_read,
	.read_batch = lt_read_batch,
	.update = lt_update,
	.destroy = lt_destroy,
	.plan_check = lt_plan_check,
	.plan_resolve = lt_plan_resolve,
	.sweep = &lt_sweep,
};
