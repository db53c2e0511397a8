/* aws_sweep.c - the AWS side of the `secfaas gc` sweep (see aws_sweep.h). */
#include "resources/aws_sweep.h"

#include <stdlib.h>
#include <string.h>

#include "resources/aws_common.h"

static struct sf_aws *client(struct sf_sweep *s)
{
	return sf_providers_aws(sf_sweep_providers(s), sf_sweep_err(s));
}

static json_t *owner_filter(void)
{
	return json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "tag-key", "Value", SF_OWNER_TAG);
}

/* ---- listing ---- */

int ax_sweep_ec2(struct sf_sweep *s, const struct sf_sweep_hook *h, const char *action, const char *list_key,
		 const char *id_key, json_t *extra, ax_sweep_prior_fn prior)
{
	struct sf_aws *a = client(s);
	json_t *params = owner_filter(), *all = NULL;
	if (extra) {
		json_object_update(params, extra);
		json_decref(extra);
	}
	int rc = a ? sf_aws_query_all(a, "ec2", action, params, list_key, &all, sf_sweep_err(s)) : SF_ERROR;
	json_decref(params);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		json_t *tags = ax_tags_from_list(json_object_get(e, "tagSet"));
		const char *id = ax_s(e, id_key);
		json_t *pr = id && prior ? prior(id, e, tags) : NULL;
		if (!id || !prior || pr)
			sf_sweep_add(s, h, id, NULL, NULL, tags, pr);
		json_decref(tags);
	}
	json_decref(all);
	return 0;
}

int ax_sweep_iam(struct sf_sweep *s, const struct sf_sweep_hook *h, const char *list_action, const char *list_key,
		 const char *name_key, const char *tags_action)
{
	struct sf_aws *a = client(s);
	struct sf_err *err = sf_sweep_err(s);
	json_t *all = NULL;
	int rc = a ? sf_aws_query_all(a, "iam", list_action, NULL, list_key, &all, err) : SF_ERROR;
	if (rc < 0)
		return rc;
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		const char *name = ax_s(e, name_key);
		if (!name)
			continue;
		json_t *t = NULL;
		json_t *params = json_pack("{s:s}", name_key, name);
		rc = sf_aws_query(a, "iam", tags_action, params, &t, err);
		json_decref(params);
		if (rc == SF_ENOTFOUND) {
			sf_err_clear(err);
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		json_t *tags = ax_tags_from_list(json_object_get(t, "Tags"));
		sf_sweep_add(s, h, name, NULL, ax_s(e, "Arn"), tags, json_pack("{s:s}", "name", name));
		json_decref(tags);
		json_decref(t);
	}
	json_decref(all);
	return rc;
}

struct names {
	const char *key;
	json_t *all;
};

static int collect_names(void *ctx, const json_t *page, struct sf_err *err)
{
	(void)err;
	struct names *nm = ctx;
	json_array_extend(nm->all, json_object_get(page, nm->key));
	return 0;
}

int ax_sweep_eks_names(struct sf_sweep *s, const char *path, const char *key, json_t **out)
{
	struct sf_aws *a = client(s);
	struct names nm = {key, json_array()};
	int rc = a ? sf_aws_rest_json_pages(a, "eks", path, NULL, collect_names, &nm, sf_sweep_err(s)) : SF_ERROR;
	*out = nm.all;
	return rc < 0 ? rc : 0;
}

int ax_sweep_eks_clusters(struct sf_sweep *s, json_t **out)
{
	return ax_sweep_eks_names(s, "/clusters", "clusters", out);
}

int ax_sweep_eks_get(struct sf_sweep *s, const char *path, const char *member, json_t **obj)
{
	struct sf_aws *a = client(s);
	struct sf_err *err = sf_sweep_err(s);
	json_t *out = NULL;
	*obj = NULL;
	int rc = a ? sf_aws_rest_json(a, "eks", "GET", path, NULL, NULL, &out, err) : SF_ERROR;
	if (rc == SF_ENOTFOUND) { /* deleted while we looked */
		sf_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	*obj = json_incref(json_object_get(out, member));
	json_decref(out);
	return 0;
}

/* ---- kinds that are not resource types ---- */

static int list_instances(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	struct sf_aws *a = client(s);
	json_t *params = json_pack("{s:[{s:s, s:[s]}, {s:s, s:[s, s, s, s]}]}", "Filter", "Name", "tag-key", "Value",
				   SF_OWNER_TAG, "Name", "instance-state-name", "Value", "pending", "running", "stopping",
				   "stopped");
	json_t *all = NULL;
	int rc = a ? sf_aws_query_all(a, "ec2", "DescribeInstances", params, "reservationSet", &all, sf_sweep_err(s))
		   : SF_ERROR;
	json_decref(params);
	if (rc < 0)
		return rc;
	size_t i, j;
	json_t *r, *in;
	json_array_foreach(all, i, r)
	{
		json_array_foreach(json_object_get(r, "instancesSet"), j, in)
		{
			json_t *tags = ax_tags_from_list(json_object_get(in, "tagSet"));
			/* EKS launched it for a node group: the node group owns it */
			if (!ax_s(tags, "eks:nodegroup-name"))
				sf_sweep_add(s, h, ax_s(in, "instanceId"), NULL, NULL, tags, NULL);
			json_decref(tags);
		}
	}
	json_decref(all);
	return 0;
}

static int list_snapshots(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeSnapshots", "snapshotSet", "snapshotId", json_pack("{s:[s]}", "Owner", "self"),
			    NULL);
}

static json_t *eni_prior(const char *id, const json_t *item, const json_t *tags)
{
	(void)tags;
	return json_pack("{s:s, s:s*}", "id", id, "status", ax_s(item, "status"));
}

static int list_enis(struct sf_sweep *s, const struct sf_sweep_hook *h)
{
	return ax_sweep_ec2(s, h, "DescribeNetworkInterfaces", "networkInterfaceSet", "networkInterfaceId", NULL,
			    eni_prior);
}

/* ---- deleting ---- */

static int gone_ok(struct sf_rctx *c, int rc)
{
	if (rc == SF_ENOTFOUND) {
		sf_err_clear(c->err);
		return 0;
	}
	return rc;
}

/* Terminated, or gone from DescribeInstances altogether. */
static const struct sf_waiter_def instance_gone = {
	.name = "sweep.instance_gone", .service = "ec2", .operation = "DescribeInstances",
	.status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .success = {"terminated"},
	.empty_is_notfound = 1, .notfound_success = 1,
};

static int del_instance(struct sf_rctx *c, const struct sf_swept *o)
{
	int rc = gone_ok(c, ax_ec2(c, "TerminateInstances", json_pack("{s:[s]}", "InstanceId", o->id), NULL));
	if (rc < 0)
		return rc;
	return ax_wait(c, &instance_gone,
		       json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "instance-id", "Value", o->id), 600,
		       "instance termination");
}

static int snapshot_destroy(struct sf_rctx *c, const struct sf_swept *o)
{
	return gone_ok(c, ax_ec2(c, "DeleteSnapshot", json_pack("{s:s}", "SnapshotId", o->id), NULL));
}

static int eni_destroy(struct sf_rctx *c, const struct sf_swept *o)
{
	const char *state = ax_s(o->prior, "status");
	if (state && strcmp(state, "available"))
		return sf_fail(c->err, SF_ECONFLICT, "%s: it is %s (attached); delete what uses it first", c->address,
			       state);
	return gone_ok(c, ax_ec2(c, "DeleteNetworkInterface", json_pack("{s:s}", "NetworkInterfaceId", o->id), NULL));
}

static const struct sf_sweep_hook instance_hook = {"ec2 instance", SF_SWEEP_INSTANCE, list_instances,
						   del_instance, NULL};
static const struct sf_sweep_hook snapshot_hook = {"snapshot", SF_SWEEP_SNAPSHOT, list_snapshots, snapshot_destroy,
						   NULL};
static const struct sf_sweep_hook eni_hook = {"network interface", SF_SWEEP_NETWORK_INTERFACE, list_enis, eni_destroy,
					      NULL};

const struct sf_sweep_hook *const ax_sweep_extra[] = {&instance_hook, &snapshot_hook, &eni_hook, NULL};

/* ---- the clock ---- */

int ax_sweep_now(struct sf_providers *p, double *now, struct sf_err *err)
{
	*now = sf_now();
	struct sf_aws *a = sf_providers_aws(p, err);
	if (!a)
		return err->code ? err->code : SF_ERROR;
	struct sf_aws_identity id;
	int rc = sf_aws_whoami(a, &id, err);
	if (rc < 0)
		return rc;
	double d = sf_aws_server_date(a);
	if (d > 0)
		*now = d;
	return 0;
}

const char *ax_sweep_scope(struct sf_providers *p)
{
	struct sf_err e = SF_ERR_INIT;
	struct sf_aws *a = sf_providers_aws(p, &e);
	return a ? sf_aws_region(a) : "aws";
}
