/*
 * aws_gvisor_ami.c - aws_gvisor_ami: a content-addressed EKS AL2023 AMI
 * with a pinned gVisor release baked in (runsc + containerd-shim-runsc-v1 +
 * runsc.toml).
 *
 * Create:
 *   1. SSM: the EKS-optimized AL2023 base AMI for the Kubernetes version and
 *      arch (/aws/service/eks/optimized-ami/<v>/amazon-linux-2023/<arch>/
 *      standard/recommended/image_id).
 *   2. The bake key (render.h: sha256 over base AMI, arch, release, pinned
 *      sha512, the bake script and runsc.toml).  An image of ours tagged
 *      secfaas:bake-key=<key> (pending or available) is reused: no bake.
 *   3. Otherwise a builder instance (RunInstances, ClientToken = operation
 *      token, so a resumed create never launches a second one) runs the
 *      rendered bake script as user data and powers off; we wait for
 *      `stopped`, check GetConsoleOutput for "SECFAAS-BAKE-OK <key>",
 *      CreateImage (image and snapshots tagged, with the containerd version
 *      the console reported as secfaas:containerd-version), wait
 *      `available`, and terminate every builder of this key.
 * Destroy deregisters the image and deletes its snapshots unless something
 * still uses it: a launch template version or a live instance anywhere in
 * the account and region (another cluster, or this workspace's older
 * template versions — that is what lets a reverted release reuse the old
 * image without a bake).  When the workspace has no launch template left
 * (a teardown, not a replacement) it also sweeps the workspace's other
 * unused gVisor images, so a teardown leaves no image behind.
 * A replacement (new release or base AMI) never calls destroy: the type is
 * keep_replaced, so the old image stays for a revert or for template
 * versions that still name it, the apply reports it "kept for reuse", and
 * it goes with that teardown sweep.
 *
 * Ownership (SF_OWN_ID): images are content-addressed and shared: a
 * workspace reuses an image another state baked with the same key, but
 * only the state whose secfaas:lineage the image carries ever deregisters
 * it (and only when nothing uses it).  Builders are reaped only when they
 * carry this state's lineage.
 */
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "provisioner/engine/ownership.h"
#include "provisioner/node/gvisor_pins.h"
#include "provisioner/node/render.h"
#include "resources/aws_batch.h"
#include "resources/aws_common.h"
#include "resources/aws_sweep.h"
#include "resources/types_aws.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"kubernetes_version", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "EKS version of the base AMI"},
	{"arch", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "x86_64 or arm64"},
	{"gvisor_release", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "pinned gVisor release"},
	{"platform", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "runsc platform written to runsc.toml"},
	{"sha512", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "pinned SHA-512 of the release artifact"},
	{"sha512_artifact", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW,
	 "the artifact sha512 pins (gvisor.tar.bz2, gvisor.tar.zstd or runsc; default the release's primary one)"},
	{"mirror", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "release base URL"},
	{"builder_subnet_id", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "subnet of the builder instance"},
	{"builder_instance_profile", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "builder instance profile"},
	{"builder_instance_type", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "builder instance type"},
	{"tags", SF_AT_MAP, SF_ATTR_OPTIONAL | SF_ATTR_IGNORE_DRIFT, "tags of the image and snapshots"},
	{"id", SF_AT_STRING, SF_ATTR_COMPUTED, "ami-..."},
	{"base_ami_id", SF_AT_STRING, SF_ATTR_COMPUTED, "EKS AL2023 image it was baked from"},
	{"bake_key", SF_AT_STRING, SF_ATTR_COMPUTED, "content address (secfaas:bake-key tag)"},
	{"reused", SF_AT_BOOL, SF_ATTR_COMPUTED, "true when an existing image was reused"},
	{"containerd_version", SF_AT_STRING, SF_ATTR_COMPUTED,
	 "containerd version the image runs (its secfaas:containerd-version tag; empty when not recorded)"},
	{NULL, 0, 0, NULL},
};

/* Offline, so a bad mirror fails at validate, not at bake time after the
 * builder's VPC, roles and instance exist.  A release of the built-in
 * digest table is pinned without a sha512 (provisioner/node/gvisor_pins.h),
 * which is what lets it come over plain http://. */
static int ami_validate(const json_t *want, struct sf_err *err)
{
	const char *m = ax_s(want, "mirror"), *rel = ax_s(want, "gvisor_release");
	const char *art = ax_s(want, "sha512_artifact");
	char why[320];
	if (rel && !sf_gvisor_release_valid(rel))
		return sf_fail(err, SF_EINVAL, "gvisor_release \"%s\": use yyyymmdd or yyyymmdd.n", rel);
	if (art && !sf_gvisor_artifact_valid(art))
		return sf_fail(err, SF_EINVAL, "sha512_artifact \"%s\": use gvisor.tar.bz2, gvisor.tar.zstd or runsc", art);
	if (art && !ax_s(want, "sha512"))
		return sf_fail(err, SF_EINVAL, "sha512_artifact \"%s\" needs the sha512 it names", art);
	int pinned = ax_s(want, "sha512") != NULL || sf_gvisor_pin_find(rel, ax_s(want, "arch")) != NULL;
	if (m && sf_gvisor_mirror_check(m, pinned, why, sizeof why) < 0)
		return sf_fail(err, SF_EINVAL, "mirror \"%s\" %s", m, why);
	return 0;
}

static const char *ssm_arch(const char *arch)
{
	return arch && (!strcmp(arch, "arm64") || !strcmp(arch, "aarch64")) ? "arm64" : "x86_64";
}

static int base_ami(struct sf_rctx *c, const json_t *want, char **out)
{
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	char *name = xasprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/standard/recommended/image_id",
			       ax_s(want, "kubernetes_version"), ssm_arch(ax_s(want, "arch")));
	json_t *body = json_pack("{s:s}", "Name", name), *o = NULL;
	int rc = sf_aws_json(a, "ssm", "AmazonSSM.GetParameter", body, &o, c->err);
	json_decref(body);
	if (rc == SF_ENOTFOUND)
		sf_err_hint(c->err, "no EKS AL2023 AMI is published for Kubernetes %s on %s in this region",
			    ax_s(want, "kubernetes_version"), ssm_arch(ax_s(want, "arch")));
	free(name);
	if (rc < 0)
		return rc;
	const char *v = ax_s(json_object_get(o, "Parameter"), "Value");
	*out = xstrdup(v);
	json_decref(o);
	return *out ? 0 : sf_fail(c->err, SF_EPROTO, "%s: SSM parameter has no value", c->address);
}

static void bake_in(const json_t *want, const char *base, struct sf_bake_in *in)
{
	memset(in, 0, sizeof *in);
	in->gvisor_release = ax_s(want, "gvisor_release");
	in->gvisor_sha512 = ax_s(want, "sha512");
	in->gvisor_artifact = ax_s(want, "sha512_artifact");
	in->base_url = ax_s(want, "mirror");
	in->arch = sf_gvisor_arch(ax_s(want, "arch"));
	in->base_ami_id = base;
	in->platform = ax_s(want, "platform") ? ax_s(want, "platform") : "systrap";
}

/* Our image carrying the key (pending or available): owned id or NULL. */
static int find_image(struct sf_rctx *c, const char *key, char **id, char **state, char **containerd)
{
	*id = NULL;
	json_t *o = NULL;
	int rc = ax_ec2(c, "DescribeImages",
			json_pack("{s:[s], s:[{s:s, s:[s]}]}", "Owner", "self", "Filter", "Name", "tag:secfaas:bake-key",
				  "Value", key),
			&o);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *im;
	json_array_foreach(json_object_get(o, "imagesSet"), i, im)
	{
		const char *st = ax_s(im, "imageState");
		if (st && (!strcmp(st, "available") || !strcmp(st, "pending"))) {
			*id = xstrdup(ax_s(im, "imageId"));
			if (state)
				*state = xstrdup(st);
			if (containerd) {
				json_t *tags = ax_tags_from_list(json_object_get(im, "tagSet"));
				*containerd = ax_s(tags, SF_CONTAINERD_TAG) ? xstrdup(ax_s(tags, SF_CONTAINERD_TAG)) : NULL;
				json_decref(tags);
			}
			break;
		}
	}
	json_decref(o);
	return 0;
}

/* The image we made or reuse: failed images are final, and one that is not
 * there at all is an error (nothing will make it appear).  A new image
 * (CreateImage of a stopped builder: one snapshot of its root volume)
 * usually becomes available about five minutes after the call, 255-345 s.
 * AWS gives no way to predict a snapshot's time (it depends on the blocks
 * written, not only on the volume's size), so there is no figure per GiB;
 * the workspace's own bakes narrow it (.part: the image apart from the
 * builder, which the whole step's history would mix in).  The official
 * waiter's 15 s delay stays the pace outside that window (aws/waiter.h,
 * sf_waiter_pause). */
static const struct sf_waiter_def image_usable = {
	.name = "aws_gvisor_ami.image", .service = "ec2", .operation = "DescribeImages",
	.status_path = "imagesSet[].imageState", .delay_s = 15, .success = {"available"},
	.failure = {"failed", "invalid", "deregistered"}, .empty_is_notfound = 1,
	.failure_msg = "image {ImageId} is {status}", .notfound_msg = "{ImageId} not found", .label = "image",
	.typical_lo = 255, .typical_hi = 345, .part = "image",
};

/* The builder powers itself off when the bake script is done: from
 * RunInstances, its boot (pending to running, about 15 s), the script's
 * work (cloud-init, download and check of one release, install, about
 * four minutes) and the stop it asks for (about 20 s), 235-315 s in all;
 * its own history as for the image. */
static const struct sf_waiter_def builder_stopped = {
	.name = "aws_gvisor_ami.builder", .service = "ec2", .operation = "DescribeInstances",
	.status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .success = {"stopped"},
	.failure = {"terminated", "shutting-down"},
	.failure_msg = "builder {InstanceId} was {status} before the image was made", .label = "builder",
	.typical_lo = 235, .typical_hi = 315, .part = "builder",
};

/* Terminate every live builder of this key that this state launched
 * (another state may be baking the same key right now): proven by the
 * state's lineage, or, for a run without one, by its operation token. */
static int reap_builders(struct sf_rctx *c, const char *key)
{
	json_t *o = NULL;
	const char *lin = ax_lineage(c);
	if (!*lin && !c->token)
		return sf_fail(c->err, SF_ERROR, "%s: cannot tell this run's image builders from others' (no lineage, no token)",
			       c->address);
	int rc = ax_ec2(c, "DescribeInstances",
			json_pack("{s:[{s:s, s:[s]}, {s:s, s:[s]}, {s:s, s:[s, s, s, s]}]}", "Filter", "Name",
				  "tag:secfaas:bake-key", "Value", key, "Name",
				  *lin ? "tag:secfaas:lineage" : "tag:secfaas:token", "Value", *lin ? lin : c->token, "Name",
				  "instance-state-name", "Value", "pending", "running", "stopping", "stopped"),
			&o);
	if (rc < 0)
		return rc;
	json_t *ids = json_array();
	size_t i, k;
	json_t *r, *in;
	json_array_foreach(json_object_get(o, "reservationSet"), i, r)
		json_array_foreach(json_object_get(r, "instancesSet"), k, in) if (ax_s(in, "instanceId"))
			json_array_append_new(ids, json_string(ax_s(in, "instanceId")));
	json_decref(o);
	if (json_array_size(ids))
		rc = ax_ec2(c, "TerminateInstances", json_pack("{s:O}", "InstanceId", ids), NULL);
	json_decref(ids);
	return rc;
}

/* 64 lowercase hex digits followed by the end of the token. */
static int looks_like_key(const char *p)
{
	for (int i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return p[64] == 0 || p[64] == ' ' || p[64] == '\r' || p[64] == '\n';
}

static int console_has_marker(struct sf_rctx *c, const char *iid, const char *key, int *ok, char **containerd)
{
	json_t *o = NULL;
	*ok = 0;
	*containerd = NULL;
	int rc = ax_ec2(c, "GetConsoleOutput", json_pack("{s:s}", "InstanceId", iid), &o);
	if (rc < 0)
		return rc;
	const char *b64 = ax_s(o, "output");
	if (b64) {
		size_t n = strlen(b64);
		unsigned char *txt = xmalloc(n + 4);
		int m = EVP_DecodeBlock(txt, (const unsigned char *)b64, (int)n);
		if (m >= 0) {
			txt[m] = 0;
			*containerd = sf_containerd_from_console((char *)txt);
			char *want = xasprintf("%s %s", SF_BAKE_MARKER, key);
			*ok = strstr((char *)txt, want) != NULL;
			const char *mk = strstr((char *)txt, SF_BAKE_MARKER " ");
			if (!*ok && mk && !looks_like_key(mk + strlen(SF_BAKE_MARKER) + 1)) {
				/* A marker whose key is not a key at all (a console
				 * that did not expand the script's variable, as the
				 * local simulator does): the run finished; say so. */
				sf_warn("%s: builder %s finished but printed no bake key; accepting it", c->address, iid);
				*ok = 1;
			}
			if (!*ok && strstr((char *)txt, "SECFAAS-BAKE-FAILED"))
				rc = sf_fail(c->err, SF_ERROR, "%s: the bake script failed on builder %s (see its console output)",
					     c->address, iid);
			free(want);
		}
		free(txt);
	}
	json_decref(o);
	return rc;
}

static json_t *image_tags(struct sf_rctx *c, const json_t *want, const char *key, const char *base)
{
	json_t *t = ax_tags(c, want, 1);
	json_object_set_new(t, "secfaas:bake-key", json_string(key));
	json_object_set_new(t, "secfaas:kind", json_string("gvisor-ami"));
	json_object_set_new(t, "secfaas:gvisor-release", json_string(ax_s(want, "gvisor_release")));
	json_object_set_new(t, "secfaas:arch", json_string(ssm_arch(ax_s(want, "arch"))));
	json_object_set_new(t, "secfaas:base-ami", json_string(base));
	json_object_set_new(t, "secfaas:gvisor-platform",
			    json_string(ax_s(want, "platform") ? ax_s(want, "platform") : "systrap"));
	return t;
}

/* The create path's lookup for an image: any usable image of the bake key
 * (ctx), the same answer ami_create's reuse gives. */
static int image_by_key(struct sf_rctx *c, const void *ctx, char **id)
{
	return find_image(c, ctx, id, NULL, NULL);
}

/* CreateImage through the shared create path.  The image's name carries
 * the bake key, and images are content-addressed, so whatever holds the
 * name with a usable image of this key is the same content: a lost reply
 * (the image this call made) or a bake of the same key that finished
 * first (a run that lost its lock but was still baking, or another state).
 * Either is reused, as ami_create reuses an image it finds up front.  A
 * name held by an image without this key is refused with AWS's error. */
static int make_image(struct sf_rctx *c, const char *key, json_t *params, char **image, int *made)
{
	const struct ax_create_def d = {"ec2", "CreateImage", "imageId", NULL, NULL, image_by_key, key,
					"InvalidAMIName.Duplicate"};
	json_t *reply = NULL;
	int rc = ax_create(c, &d, params, &reply, image);
	*made = rc == 0 && reply != NULL;
	json_decref(reply);
	return rc;
}

/* *made: the image is the one this bake's CreateImage made just now (not
 * one found by the create path's lookup).  *builder (owned, may be NULL):
 * the instance this attempt's RunInstances launched under the run's own
 * token, so known to be this run's without a lookup. */
static int bake(struct sf_rctx *c, const json_t *want, const char *key, const char *base, char **image,
		char **containerd, int *made, char **builder)
{
	struct sf_bake_in in;
	bake_in(want, base, &in);
	struct sf_buf script = SF_BUF_INIT;
	int rc = sf_render_bake_script(&in, &script, c->err);
	if (rc < 0)
		return rc;
	char *ud = sf_b64encode(script.s, script.len);
	sf_buf_release(&script);
	json_t *tags = image_tags(c, want, key, base);
	json_object_set_new(tags, "Name", json_string("secfaas-gvisor-ami-builder"));
	json_object_set_new(tags, "secfaas:role", json_string("ami-builder"));
	const char *itype = ax_s(want, "builder_instance_type");
	if (!itype)
		itype = !strcmp(ssm_arch(ax_s(want, "arch")), "arm64") ? "m7g.large" : "m6i.large";
	json_t *p = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:{s:s, s:i}, s:o}", "ImageId", base, "InstanceType",
			      itype, "MinCount", 1, "MaxCount", 1, "UserData", ud, "InstanceInitiatedShutdownBehavior",
			      "stop", "ClientToken", c->token ? c->token : key, "MetadataOptions", "HttpTokens", "required",
			      "HttpPutResponseHopLimit", 1, "TagSpecification", ax_ec2_tagspec("instance", tags));
	free(ud);
	if (ax_s(want, "builder_subnet_id"))
		json_object_set_new(p, "SubnetId", json_string(ax_s(want, "builder_subnet_id")));
	if (ax_s(want, "builder_instance_profile"))
		json_object_set_new(p, "IamInstanceProfile", json_pack("{s:s}", "Name", ax_s(want, "builder_instance_profile")));
	json_t *o = NULL;
	/* a new instance profile takes seconds to be usable by EC2: ax_ec2
	 * retries AWS's exact refusal (aws/awserr.h sf_aws_propagation) */
	rc = ax_ec2(c, "RunInstances", p, &o);
	if (rc < 0) {
		json_decref(tags);
		return rc;
	}
	json_t *inst = json_array_get(json_object_get(o, "instancesSet"), 0);
	char *iid = xstrdup(ax_s(inst, "instanceId"));
	json_decref(o);
	if (!iid) {
		json_decref(tags);
		return sf_fail(c->err, SF_EPROTO, "%s: RunInstances returned no instance", c->address);
	}
	sf_info("%s: baking gVisor %s on builder %s from %s", c->address, ax_s(want, "gvisor_release"), iid, base);
	/* A first attempt launched it just now: nothing to read before the
	 * script can have run.  A resumed one may have got an instance an
	 * earlier attempt launched under the same ClientToken, maybe done. */
	rc = (c->resumed ? ax_wait_reply : ax_wait_begun)(c, &builder_stopped, json_pack("{s:[s]}", "InstanceId", iid),
							     3600, "bake", NULL);
	int ok = 0;
	if (!rc)
		rc = console_has_marker(c, iid, key, &ok, containerd);
	if (!rc && !ok)
		rc = sf_fail(c->err, SF_ERROR, "%s: builder %s stopped without printing \"%s %s\"", c->address, iid,
			     SF_BAKE_MARKER, key);
	if (!rc) {
		json_object_del(tags, "Name");
		json_object_del(tags, "secfaas:role");
		if (*containerd)
			json_object_set_new(tags, SF_CONTAINERD_TAG, json_string(*containerd));
		else
			sf_warn("%s: builder %s did not report its containerd version; the image records none", c->address,
				iid);
		char *name = xasprintf("secfaas-gvisor-%s-%s-%.12s", ax_s(want, "gvisor_release"),
				       ssm_arch(ax_s(want, "arch")), key);
		json_t *spec = json_pack("[{s:s, s:o}, {s:s, s:o}]", "ResourceType", "image", "Tag", ax_tag_list(tags),
					 "ResourceType", "snapshot", "Tag", ax_tag_list(tags));
		rc = make_image(c, key,
				json_pack("{s:s, s:s, s:s, s:o}", "InstanceId", iid, "Name", name, "Description",
					  "EKS AL2023 with gVisor runsc baked by secfaas", "TagSpecification", spec),
				image, made);
		free(name);
	}
	if (rc < 0 && rc != SF_EINTR) {
		/* a failed bake must not leave a builder running */
		struct sf_err keep = *c->err;
		reap_builders(c, key);
		*c->err = keep;
	}
	json_decref(tags);
	if (rc == 0 && c->token && !c->resumed)
		*builder = iid;
	else
		free(iid);
	return rc;
}

static int ami_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	char *base = NULL, *image = NULL, *containerd = NULL, *builder = NULL, key[65];
	int reused = 0, made = 0;
	int rc = base_ami(c, want, &base);
	if (rc < 0)
		return rc;
	struct sf_bake_in in;
	bake_in(want, base, &in);
	if ((rc = sf_bake_key(&in, key, c->err)) < 0)
		goto done;
	if ((rc = find_image(c, key, &image, NULL, &containerd)) < 0)
		goto done;
	if (image) {
		reused = 1;
		sf_info("%s: reusing %s (bake key %.12s…)", c->address, image, key);
	} else if ((rc = bake(c, want, key, base, &image, &containerd, &made, &builder)) < 0) {
		goto done;
	}
	if (c->record_id)
		c->record_id(c, image);
	/* an image CreateImage just made is pending for minutes: no read
	 * before its usual end; one found (reused, or a lookup's) may be done.
	 * Its launch templates' node groups usually wait for the cluster as
	 * well: no read until something could go on with it (ax_wait_final;
	 * the builder's wait above is not final, CreateImage follows it) */
	if ((rc = ax_wait_final(c, &image_usable, json_pack("{s:[s]}", "ImageId", image), 3600, "image", made, NULL)) <
	    0)
		goto done;
	/* The builder: by its id when this attempt launched it (a first
	 * attempt leaves no other behind), else every one of the key this
	 * state launched, an interrupted attempt's included. */
	if (builder) {
		rc = ax_ec2(c, "TerminateInstances", json_pack("{s:[s]}", "InstanceId", builder), NULL);
		if (rc == SF_ENOTFOUND) { /* gone already */
			sf_err_clear(c->err);
			rc = 0;
		}
	} else {
		rc = reap_builders(c, key);
	}
	if (rc < 0)
		goto done;
	*out = ax_out(want);
	json_object_set_new(*out, "id", json_string(image));
	json_object_set_new(*out, "base_ami_id", json_string(base));
	json_object_set_new(*out, "bake_key", json_string(key));
	json_object_set_new(*out, "reused", json_boolean(reused));
	json_object_set_new(*out, "containerd_version", json_string(containerd ? containerd : ""));
done:
	free(base);
	free(image);
	free(containerd);
	free(builder);
	return rc;
}

/* Refresh: every recorded image in one call filtered by image-id
 * (aws_batch.h): a deregistered image is absent from it, where ImageId.N
 * answers a recently deregistered one with nothing and an older one with
 * InvalidAMIID.NotFound.  The model of DescribeImages here takes no
 * MaxResults: one page. */
static const struct ax_batch_def batch = {"DescribeImages", "ImageId", "imagesSet", "imageId", "image-id", 0, NULL};

static int ami_read_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	return ax_ec2_batch(c, &batch, priors, n);
}

static int ami_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	json_t *im = NULL;
	int rc = ax_ec2_read(c, &batch, ax_s(prior, "id"), &im);
	if (rc < 0)
		return rc;
	const char *st = ax_s(im, "imageState");
	if (st && strcmp(st, "available") && strcmp(st, "pending")) {
		json_decref(im);
		return sf_fail(c->err, SF_ENOTFOUND, "%s: image %s is %s", c->address, ax_s(prior, "id"), st);
	}
	/* the containerd the image records (a row from before it was kept
	 * gets it here): the launch templates pick their user data by it */
	json_t *tags = ax_tags_from_list(json_object_get(im, "tagSet"));
	*out = json_deep_copy(prior);
	if (ax_s(tags, SF_CONTAINERD_TAG))
		json_object_set_new(*out, "containerd_version", json_string(ax_s(tags, SF_CONTAINERD_TAG)));
	else if (!json_is_string(json_object_get(*out, "containerd_version")))
		json_object_set_new(*out, "containerd_version", json_string(""));
	json_decref(tags);
	json_decref(im);
	return 0;
}

static int ami_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	(void)c;
	/* only builder settings and tags differ: nothing to do to the image */
	*out = ax_out(want);
	const char *k[] = {"id", "base_ami_id", "bake_key", "reused", "containerd_version"};
	for (size_t i = 0; i < SF_ARRAY_LEN(k); i++)
		json_object_set(*out, k[i], json_object_get(prior, k[i]));
	return 0;
}

/* ---- destroy: which of a destroy's images may go ----
 *
 * An image goes only when nothing could launch from it: not a live
 * instance, and not a launch template version an EKS node group or an
 * Auto Scaling group could still launch from, in any workspace or team of
 * the account (a fleet reuses one baked image through `ami:`).  EC2 reads
 * every version only one template at a time, which made each delete cost
 * a call per template in the account.  What it does offer account-wide is
 * the $Latest and $Default versions of every template (Versions without a
 * template id), so the check is:
 *   1. DescribeInstances filtered by image-id: one call for all images.
 *   2. The $Latest and $Default versions of every template, paged 200 at a
 *      time: what a group on $Latest/$Default launches, and what every
 *      secfaas node group launches (it pins the number its template made
 *      the default, aws_launch_template.c latest_version).
 *   3. The other versions, which a group can still pin (EKS resolves a
 *      node group's version to a number and keeps it when the template's
 *      default moves on; a group scaled to zero has no instance to show
 *      it), are read per template, but only where such a version can name
 *      one of the images: the template has a version that is neither its
 *      $Latest nor its $Default, and its $Latest was made no earlier than
 *      the oldest image.  Versions are numbered in the order they are made
 *      and never change, and no version can name an image before CreateImage
 *      handed out its id, so a template whose newest version is older than
 *      an image names it nowhere.  A template with one version, or whose
 *      versions all predate the images, costs nothing; one that gained
 *      versions since still costs its read, as nothing account-wide
 *      answers for those versions.
 * All images of one destroy (its own, a killed bake's, and the workspace's
 * others in a teardown) share these calls, and in a teardown the other
 * images resources of the run share the first one's (ami_destroy). */

struct cand {
	char *id;
	json_t *im; /* its DescribeImages item; NULL while not read or gone */
	char *by;   /* what still uses it, or who owns it (owned) */
	int used;   /* by names a user, not an owner */
};

struct cands {
	struct cand *v;
	size_t n, cap;
	json_t *current; /* $Latest and $Default of every template, read once */
};

static void cands_release(struct cands *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].id);
		json_decref(cs->v[i].im);
		free(cs->v[i].by);
	}
	free(cs->v);
	json_decref(cs->current);
}

/* Add image `id` once; `im` borrowed, copied when given. */
static void cands_add(struct cands *cs, const char *id, const json_t *im)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i].id, id)) {
			if (im && !cs->v[i].im)
				cs->v[i].im = json_deep_copy(im);
			return;
		}
	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 4;
		cs->v = xrealloc(cs->v, cs->cap * sizeof *cs->v);
	}
	cs->v[cs->n++] = (struct cand){xstrdup(id), im ? json_deep_copy(im) : NULL, NULL, 0};
}

/* The candidate named `id` still to be decided, or NULL. */
static struct cand *cands_open(struct cands *cs, const char *id)
{
	for (size_t i = 0; id && i < cs->n; i++)
		if (cs->v[i].im && !cs->v[i].by && !strcmp(cs->v[i].id, id))
			return &cs->v[i];
	return NULL;
}

/* The ids still to be decided, as a filter's values; NULL when none. */
static json_t *cands_values(const struct cands *cs)
{
	json_t *a = json_array();
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].im && !cs->v[i].by)
			json_array_append_new(a, json_string(cs->v[i].id));
	if (!json_array_size(a)) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static int current_versions(struct sf_rctx *c, struct cands *cs)
{
	if (cs->current)
		return 0;
	struct sf_aws *a = ax_client(c);
	if (!a)
		return c->err->code;
	json_t *p = json_pack("{s:[s, s], s:i}", "LaunchTemplateVersion", "$Latest", "$Default", "MaxResults", 200);
	int rc = sf_aws_query_all(a, "ec2", "DescribeLaunchTemplateVersions", p, "launchTemplateVersionSet", &cs->current,
				  c->err);
	json_decref(p);
	return rc;
}

static void mark_used(struct cands *cs, const json_t *v)
{
	struct cand *k = cands_open(cs, ax_s(json_object_get(v, "launchTemplateData"), "imageId"));
	if (!k)
		return;
	k->by = xasprintf("launch template %s version %s", ax_s(v, "launchTemplateId") ? ax_s(v, "launchTemplateId") : "?",
			  ax_s(v, "versionNumber") ? ax_s(v, "versionNumber") : "?");
	k->used = 1;
}

/* Step 3 above: can a template whose $Latest is `latest` (made at `made`)
 * and $Default `dflt` have another version, made since `oldest`, naming an
 * image?  Timestamps are EC2's ISO 8601, compared to the second (a tie, or
 * one missing, reads). */
static int may_name(long latest, long dflt, const char *made, const char *oldest)
{
	if (latest < 2 || (latest == 2 && dflt == 1))
		return 0;
	if (!made || !oldest || strlen(made) < 19 || strlen(oldest) < 19)
		return 1;
	return strncmp(made, oldest, 19) >= 0;
}

/* The creation date of the oldest candidate still open; NULL when one has
 * none (then every template with older versions is read). */
static const char *oldest_open(const struct cands *cs)
{
	const char *oldest = NULL;
	for (size_t i = 0; i < cs->n; i++) {
		if (!cs->v[i].im || cs->v[i].by)
			continue;
		const char *d = ax_s(cs->v[i].im, "creationDate");
		if (!d)
			return NULL;
		if (!oldest || strcmp(d, oldest) < 0)
			oldest = d;
	}
	return oldest;
}

/* Sets each open candidate's `by` when something could launch from it. */
static int find_users(struct sf_rctx *c, struct cands *cs)
{
	json_t *ids = cands_values(cs), *o = NULL;
	if (!ids)
		return 0;
	struct sf_aws *a = ax_client(c);
	if (!a) {
		json_decref(ids);
		return c->err->code;
	}
	json_t *p = json_pack("{s:[{s:s, s:O}, {s:s, s:[s, s, s, s]}]}", "Filter", "Name", "image-id", "Value", ids, "Name",
			      "instance-state-name", "Value", "pending", "running", "stopping", "stopped");
	int rc = sf_aws_query_all(a, "ec2", "DescribeInstances", p, "reservationSet", &o, c->err);
	json_decref(p);
	json_decref(ids);
	size_t i, k;
	json_t *r, *in;
	json_array_foreach(o, i, r) json_array_foreach(json_object_get(r, "instancesSet"), k, in)
	{
		struct cand *x = cands_open(cs, ax_s(in, "imageId"));
		if (x) {
			x->by = xasprintf("instance %s", ax_s(in, "instanceId") ? ax_s(in, "instanceId") : "?");
			x->used = 1;
		}
	}
	json_decref(o);
	if (rc < 0 || (rc = current_versions(c, cs)) < 0)
		return rc;
	/* per template: [$Latest number, its createTime, $Default number] */
	json_t *v, *tpl = json_object();
	json_array_foreach(cs->current, i, v)
	{
		const char *lid = ax_s(v, "launchTemplateId"), *num = ax_s(v, "versionNumber");
		mark_used(cs, v);
		if (!lid || !num)
			continue;
		long n = strtol(num, NULL, 10);
		json_t *t = json_object_get(tpl, lid);
		if (!t) {
			t = json_pack("[I, n, I]", (json_int_t)0, (json_int_t)0);
			json_object_set_new(tpl, lid, t);
		}
		if (n >= json_integer_value(json_array_get(t, 0))) {
			json_array_set_new(t, 0, json_integer(n));
			json_array_set_new(t, 1, ax_s(v, "createTime") ? json_string(ax_s(v, "createTime")) : json_null());
		}
		const char *d = ax_s(v, "defaultVersion");
		if (d && !strcmp(d, "true"))
			json_array_set_new(t, 2, json_integer(n));
	}
	const char *lid;
	json_t *t;
	json_object_foreach(tpl, lid, t)
	{
		if (!may_name((long)json_integer_value(json_array_get(t, 0)), (long)json_integer_value(json_array_get(t, 2)),
			      json_string_value(json_array_get(t, 1)), oldest_open(cs)))
			continue;
		if (!(ids = cands_values(cs)))
			break;
		json_t *vs = NULL;
		p = json_pack("{s:s, s:[{s:s, s:o}]}", "LaunchTemplateId", lid, "Filter", "Name", "image-id", "Value", ids);
		rc = sf_aws_query_all(a, "ec2", "DescribeLaunchTemplateVersions", p, "launchTemplateVersionSet", &vs, c->err);
		json_decref(p);
		if (rc == SF_ENOTFOUND) { /* deleted meanwhile */
			sf_err_clear(c->err);
			rc = 0;
		}
		json_array_foreach(vs, k, v) mark_used(cs, v);
		json_decref(vs);
		if (rc < 0)
			break;
	}
	json_decref(tpl);
	return rc;
}

/* Delete one snapshot; one already gone is no error. */
static int drop_snapshot(struct sf_rctx *c, const char *snap)
{
	int rc = ax_ec2(c, "DeleteSnapshot", json_pack("{s:s}", "SnapshotId", snap), NULL);
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		rc = 0;
	}
	return rc;
}

/* Snapshots CreateImage made for `image` that outlived it: a run killed
 * between DeregisterImage and DeleteSnapshot, or a snapshot whose delete
 * failed.  EC2 describes each as "Created by CreateImage(<instance>) for
 * <image>"; ours also carry the image's kind tag. */
static int drop_orphan_snapshots(struct sf_rctx *c, const char *image)
{
	char *desc = xasprintf("Created by CreateImage(*) for %s", image);
	json_t *o = NULL;
	int rc = ax_ec2(c, "DescribeSnapshots",
			json_pack("{s:[s], s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Owner", "self", "Filter", "Name",
				  "description", "Value", desc, "Name", "tag:secfaas:kind", "Value", "gvisor-ami"),
			&o);
	free(desc);
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(o, "snapshotSet"), i, s)
	{
		const char *snap = ax_s(s, "snapshotId");
		if (rc < 0 || !snap)
			continue;
		rc = drop_snapshot(c, snap);
		if (!rc)
			sf_info("%s: deleted snapshot %s left by %s", c->address, snap, image);
	}
	json_decref(o);
	return rc;
}

/* Reads the candidates not read yet (one DescribeImages filtered by
 * image-id, which answers a deregistered image with nothing, where
 * ImageId.N fails whole on an older one); a gone one's snapshots are
 * dropped; one another state made stays (only its lineage deregisters it). */
static int read_cands(struct sf_rctx *c, struct cands *cs)
{
	json_t *ids = json_array(), *o = NULL;
	for (size_t i = 0; i < cs->n; i++)
		if (!cs->v[i].im)
			json_array_append_new(ids, json_string(cs->v[i].id));
	int rc = 0;
	if (json_array_size(ids))
		rc = ax_ec2(c, "DescribeImages", json_pack("{s:[{s:s, s:O}]}", "Filter", "Name", "image-id", "Value", ids), &o);
	json_decref(ids);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *im;
	json_array_foreach(json_object_get(o, "imagesSet"), i, im) if (ax_s(im, "imageId"))
		cands_add(cs, ax_s(im, "imageId"), im);
	json_decref(o);
	for (i = 0; i < cs->n && rc >= 0; i++) {
		struct cand *k = &cs->v[i];
		if (!k->im) {
			rc = drop_orphan_snapshots(c, k->id);
			continue;
		}
		json_t *tags = ax_tags_from_list(json_object_get(k->im, "tagSet"));
		const char *lin = ax_s(tags, "secfaas:lineage");
		if (!lin || strcmp(lin, ax_lineage(c))) {
			char *who = sf_own_owner(tags);
			sf_info("%s: keeping %s: it belongs to %s (shared by its bake key)", c->address, k->id, who);
			k->by = who;
		}
		json_decref(tags);
	}
	return rc;
}

/* Deregister every candidate nothing uses and delete its snapshots. */
static int drop_unused(struct sf_rctx *c, struct cands *cs)
{
	int rc = find_users(c, cs);
	for (size_t i = 0; i < cs->n && rc >= 0; i++) {
		struct cand *k = &cs->v[i];
		if (!k->im)
			continue;
		if (k->by) {
			if (k->used)
				sf_info("%s: keeping %s: still used by %s", c->address, k->id, k->by);
			continue;
		}
		rc = ax_ec2(c, "DeregisterImage", json_pack("{s:s}", "ImageId", k->id), NULL);
		if (rc == SF_ENOTFOUND) {
			sf_err_clear(c->err);
			rc = 0;
		}
		size_t j;
		json_t *b;
		json_array_foreach(json_object_get(k->im, "blockDeviceMapping"), j, b)
		{
			const char *snap = ax_s(json_object_get(b, "ebs"), "snapshotId");
			if (rc < 0 || !snap)
				continue;
			rc = drop_snapshot(c, snap);
		}
		if (!rc)
			sf_info("%s: deregistered %s and deleted its snapshots", c->address, k->id);
	}
	return rc;
}

/* This workspace's other gVisor images (older releases kept for reuse,
 * images baked ahead by `secfaas bake`) go only with the workspace: while
 * one of its launch templates names an image this is a replacement, and
 * they are what a revert or the next apply reuses.  Only templates that
 * name an image (gVisor groups) count: a stock-AMI group's template
 * (metadata options, root volume) has none and may outlive the images in a
 * teardown.  Its $Latest and $Default say which kind it is now. */
static int add_lineage_images(struct sf_rctx *c, struct cands *cs, int *teardown)
{
	const char *lin = ax_lineage(c);
	struct sf_aws *a = ax_client(c);
	*teardown = 0;
	if (!*lin)
		return 0;
	if (!a)
		return c->err->code;
	json_t *lts = NULL, *p = json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "tag:secfaas:lineage", "Value", lin);
	int rc = sf_aws_query_all(a, "ec2", "DescribeLaunchTemplates", p, "launchTemplates", &lts, c->err);
	json_decref(p);
	if (rc >= 0 && json_array_size(lts))
		rc = current_versions(c, cs);
	size_t i, k;
	json_t *lt, *v;
	int imaged = 0;
	json_array_foreach(lts, i, lt) json_array_foreach(cs->current, k, v)
	{
		const char *img = ax_s(json_object_get(v, "launchTemplateData"), "imageId");
		const char *lid = ax_s(v, "launchTemplateId"), *mine = ax_s(lt, "launchTemplateId");
		if (img && *img && lid && mine && !strcmp(lid, mine))
			imaged = 1;
	}
	json_decref(lts);
	if (rc < 0 || imaged)
		return rc;
	*teardown = 1;
	json_t *o = NULL;
	rc = ax_ec2(c, "DescribeImages",
		    json_pack("{s:[s], s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Owner", "self", "Filter", "Name",
			      "tag:secfaas:lineage", "Value", lin, "Name", "tag:secfaas:kind", "Value", "gvisor-ami"),
		    &o);
	json_t *im;
	json_array_foreach(json_object_get(o, "imagesSet"), i, im) if (ax_s(im, "imageId"))
		cands_add(cs, ax_s(im, "imageId"), im);
	json_decref(o);
	return rc;
}

static int ami_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *image = ax_s(prior, "id");
	struct cands cs = {0};
	int rc = 0;
	if (image && strncmp(image, "ami-", 4) == 0)
		cands_add(&cs, image, NULL);
	/* A create that finished (its outputs, bake_key among them, are
	 * recorded) reaped its builders; only one that was interrupted can
	 * have left a builder (or, before the id was recorded, an image). */
	if (c->token && !ax_s(prior, "bake_key")) {
		/* killed mid-bake: the builder (and, before the id was
		 * recorded, the image) carry the operation token */
		json_t *o = NULL;
		rc = ax_ec2(c, "DescribeInstances",
			    json_pack("{s:[{s:s, s:[s]}, {s:s, s:[s, s, s, s]}]}", "Filter", "Name", "tag:secfaas:token",
				      "Value", c->token, "Name", "instance-state-name", "Value", "pending", "running",
				      "stopping", "stopped"),
			    &o);
		json_t *ids = json_array();
		size_t i, k;
		json_t *r, *in;
		json_array_foreach(json_object_get(o, "reservationSet"), i, r)
			json_array_foreach(json_object_get(r, "instancesSet"), k, in) if (ax_s(in, "instanceId"))
				json_array_append_new(ids, json_string(ax_s(in, "instanceId")));
		json_decref(o);
		if (!rc && json_array_size(ids))
			rc = ax_ec2(c, "TerminateInstances", json_pack("{s:O}", "InstanceId", ids), NULL);
		json_decref(ids);
		char *found = NULL;
		if (!rc && !image)
			rc = ax_ec2_find_token(c, "DescribeImages", "imagesSet", "imageId", &found);
		if (!rc && found)
			cands_add(&cs, found, NULL);
		free(found);
	}
	/* A teardown's images are the workspace's, whichever of its images
	 * resources goes first: that one decides and removes them all, and
	 * the others of the run find their image among its decided ones
	 * (the run's memo, waiting while it works) rather than repeating its
	 * reads and deleting what it just deleted. */
	struct sf_providers *p = c->provider;
	struct sf_aws *a = ax_client(c);
	char *key = a && *ax_lineage(c) ? xasprintf("gvisor-ami teardown %s %s", sf_aws_region(a) ? sf_aws_region(a) : "",
						    ax_lineage(c))
					: NULL;
	json_t *decided = key && rc >= 0 ? sf_memo_take(p->memo, key) : NULL;
	int mine = key && rc >= 0 && !decided, teardown = 0;
	size_t i;
	json_t *id;
	json_array_foreach(decided, i, id) if (image && json_string_value(id) && !strcmp(json_string_value(id), image))
	{
		cands_release(&cs); /* decided with the rest */
		memset(&cs, 0, sizeof cs);
		break;
	}
	if (rc >= 0 && !decided)
		rc = add_lineage_images(c, &cs, &teardown);
	if (rc >= 0 && cs.n)
		rc = read_cands(c, &cs);
	if (rc >= 0 && cs.n)
		rc = drop_unused(c, &cs);
	if (mine) {
		json_t *ids = NULL;
		if (rc >= 0 && teardown) {
			/* what it removed or found gone; one it kept (in use, or
			 * another state's) its own resource checks again later */
			ids = json_array();
			for (i = 0; i < cs.n; i++)
				if (!cs.v[i].by)
					json_array_append_new(ids, json_string(cs.v[i].id));
		}
		sf_memo_fill(p->memo, key, ids); /* none: the next one decides for itself */
		json_decref(ids);
	}
	json_decref(decided);
	free(key);
	cands_release(&cs);
	return rc;
}

/* An image is deregistered together with its snapshots (ami_destroy). */
/* ---- gc sweep ---- */

static int ami_sweep_list(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeImages", "imagesSet", "imageId", json_pack("{s:[s]}", "Owner", "self"), NULL);
}

static const struct sf_sweep_hook ami_sweep = {"image", SF_SWEEP_IMAGE, ami_sweep_list, NULL, NULL};

/* ---- ownership ---- */

static int ami_marks(struct sf_rctx *c, const json_t *a_, char **id, json_t **tags)
{
	*id = ax_s(a_, "id") ? xstrdup(ax_s(a_, "id")) : NULL;
	return ax_ec2_marks(c, "DescribeImages", "ImageId", ax_s(a_, "id"), "imagesSet", tags);
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "gVisor AMI",
	.proof = "the ami- id recorded at create; an image reused by its bake key is deregistered only by "
		 "the state whose secfaas:lineage it carries, and only when unused",
	.marks = ami_marks,
	.claim = ax_ec2_claim_id,
};

const struct sf_rtype sf_rt_aws_gvisor_ami = {
	.own = &own,
	.name = "aws_gvisor_ami",
	.schema_version = 1,
	.typical = {.create = {480, 900}, .delete = {5, 30}},
	.attrs = attrs,
	.keep_replaced = 1,
	.validate = ami_validate,
	.create = ami_create,
	.read = ami_read,
	.read_batch = ami_read_batch,
	.update = ami_update,
	.destroy = ami_destroy,
	.sweep = &ami_sweep,
};
