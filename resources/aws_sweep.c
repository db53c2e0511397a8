/* aws_sweep.c - the tag sweep of `secfaas gc` (see aws_sweep.h). */
#include "resources/aws_sweep.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resources/aws_common.h"
#include "resources/types_aws.h"

#define OWNER_TAG "secfaas:workspace"

/* Deletion order: an object only depends on kinds after it. */
enum kind { K_NG, K_CLUSTER, K_INSTANCE, K_LT, K_IMAGE, K_SNAPSHOT, K_ENI, K_SG, K_RTB, K_SUBNET, K_IGW, K_VPC,
	    K_PROFILE, K_ROLE, K_N };

static const char *const kind_names[K_N] = {
	"eks node group", "eks cluster", "ec2 instance", "launch template", "image", "snapshot", "network interface",
	"security group", "route table", "subnet", "internet gateway", "vpc", "instance profile", "iam role",
};

struct obj {
	enum kind kind;
	char *id;      /* EC2 id, EKS/IAM name; node groups: the node group name */
	char *parent;  /* node groups: cluster name; VPCs: kubernetes.io/cluster/<name> */
	char *arn;     /* for the report when known */
	char *reason;  /* why it is deleted; NULL: kept */
	char *state;   /* ENIs: status; instances: state name */
};

struct sweep {
	struct sf_providers *p;
	struct sf_aws *a;
	sf_sweep_known_fn known;
	void *ctx;
	double now;
	struct obj *v;
	size_t n;
	int kept;
	struct sf_err *err;
};

static void obj_release(struct obj *o)
{
	free(o->id);
	free(o->parent);
	free(o->arn);
	free(o->reason);
	free(o->state);
}

/* The reason to delete an object with these tags, or NULL to keep it. */
static char *decide(struct sweep *s, const json_t *tags)
{
	const char *ws = ax_s(tags, OWNER_TAG), *lin = ax_s(tags, "secfaas:lineage");
	const char *exp = ax_s(tags, "secfaas:expires-at");
	double at;
	if (!ws)
		return NULL; /* not ours: never touched */
	if (exp && sf_time_parse(exp, &at) == 0 && at < s->now)
		return xasprintf("workspace %s expired at %s", ws, exp);
	if (!s->known(ws, lin, ax_s(tags, "secfaas:address"), ax_s(tags, "secfaas:token"), s->ctx))
		return lin ? xasprintf("no state knows workspace %s (lineage %s)", ws, lin)
			   : xasprintf("no state knows workspace %s", ws);
	return NULL;
}

static void push(struct sweep *s, enum kind k, const char *id, const char *parent, const char *arn, char *why,
		 const char *state)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	struct obj *o = &s->v[s->n++];
	o->kind = k;
	o->id = xstrdup(id);
	o->parent = parent ? xstrdup(parent) : NULL;
	o->arn = arn ? xstrdup(arn) : NULL;
	o->reason = why;
	o->state = state ? xstrdup(state) : NULL;
}

/* Record one listed object; tags is an object (borrowed). */
static void add(struct sweep *s, enum kind k, const char *id, const char *parent, const char *arn, const json_t *tags,
		const char *state)
{
	if (!id)
		return;
	char *why = decide(s, tags);
	if (why)
		push(s, k, id, parent, arn, why, state);
	else if (ax_s(tags, OWNER_TAG))
		s->kept++;
}

static json_t *owner_filter(void)
{
	return json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "tag-key", "Value", OWNER_TAG);
}

/* ---- listing ---- */

/* One EC2 Describe with the owner-tag filter (paginated); extra members
 * (e.g. Owner=self) are merged into the parameters. */
static int list_ec2(struct sweep *s, enum kind k, const char *action, const char *list_key, const char *id_key,
		    json_t *extra)
{
	json_t *params = owner_filter(), *all = NULL;
	if (extra) {
		json_object_update(params, extra);
		json_decref(extra);
	}
	int rc = sf_aws_query_all(s->a, "ec2", action, params, list_key, &all, s->err);
	json_decref(params);
	if (rc < 0)
		return rc;
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		json_t *tags = ax_tags_from_list(json_object_get(e, "tagSet"));
		const char *parent = NULL, *state = NULL;
		char *cl = NULL;
		if (k == K_VPC) {
			/* the cluster whose Kubernetes-made groups block the VPC */
			const char *key;
			json_t *v;
			json_object_foreach(tags, key, v)
			{
				if (!cl && !strncmp(key, "kubernetes.io/cluster/", 22))
					cl = xstrdup(key + 22);
			}
			parent = cl;
		} else if (k == K_ENI) {
			state = ax_s(e, "status");
		} else if (k == K_RTB) {
			size_t j;
			json_t *as;
			int main_table = 0;
			json_array_foreach(json_object_get(e, "associationSet"), j, as)
			{
				json_t *m = json_object_get(as, "main");
				if (json_is_true(m) || (json_is_string(m) && !strcmp(json_string_value(m), "true")))
					main_table = 1;
			}
			if (main_table) { /* goes with its VPC; cannot be deleted alone */
				json_decref(tags);
				continue;
			}
		}
		add(s, k, ax_s(e, id_key), parent, NULL, tags, state);
		free(cl);
		json_decref(tags);
	}
	json_decref(all);
	return 0;
}

static int list_instances(struct sweep *s)
{
	json_t *params = json_pack("{s:[{s:s, s:[s]}, {s:s, s:[s, s, s, s]}]}", "Filter", "Name", "tag-key", "Value",
				   OWNER_TAG, "Name", "instance-state-name", "Value", "pending", "running", "stopping",
				   "stopped");
	json_t *all = NULL;
	int rc = sf_aws_query_all(s->a, "ec2", "DescribeInstances", params, "reservationSet", &all, s->err);
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
				add(s, K_INSTANCE, ax_s(in, "instanceId"), NULL, NULL, tags,
				    ax_s(json_object_get(in, "instanceState"), "name"));
			json_decref(tags);
		}
	}
	json_decref(all);
	return 0;
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

static int eks_get(struct sweep *s, const char *path, const char *member, json_t **obj)
{
	json_t *out = NULL;
	*obj = NULL;
	int rc = sf_aws_rest_json(s->a, "eks", "GET", path, NULL, NULL, &out, s->err);
	if (rc == SF_ENOTFOUND) { /* deleted while we looked */
		sf_err_clear(s->err);
		return 0;
	}
	if (rc < 0)
		return rc;
	*obj = json_incref(json_object_get(out, member));
	json_decref(out);
	return 0;
}

static int list_eks(struct sweep *s)
{
	struct names cl = {"clusters", json_array()};
	int rc = sf_aws_rest_json_pages(s->a, "eks", "/clusters", NULL, collect_names, &cl, s->err);
	size_t i, j;
	json_t *e, *g;
	json_array_foreach(cl.all, i, e)
	{
		if (rc < 0)
			break;
		const char *name = json_string_value(e);
		if (!name)
			continue;
		char *lab = sf_aws_label(name), *path = xasprintf("/clusters/%s", lab);
		json_t *c = NULL;
		rc = eks_get(s, path, "cluster", &c);
		free(path);
		json_t *tags = json_object_get(c, "tags");
		size_t before = s->n;
		if (c)
			add(s, K_CLUSTER, name, NULL, ax_s(c, "arn"), tags, NULL);
		int dying = s->n > before;
		json_decref(c);
		struct names ng = {"nodegroups", json_array()};
		path = xasprintf("/clusters/%s/node-groups", lab);
		if (rc >= 0)
			rc = sf_aws_rest_json_pages(s->a, "eks", path, NULL, collect_names, &ng, s->err);
		free(path);
		json_array_foreach(ng.all, j, g)
		{
			const char *gn = json_string_value(g);
			if (rc < 0 || !gn)
				break;
			char *gl = sf_aws_label(gn);
			path = xasprintf("/clusters/%s/node-groups/%s", lab, gl);
			json_t *o = NULL;
			rc = eks_get(s, path, "nodegroup", &o);
			free(path);
			free(gl);
			if (o && dying) {
				/* a cluster cannot go while its node groups stay */
				char *why = decide(s, json_object_get(o, "tags"));
				push(s, K_NG, gn, name, ax_s(o, "nodegroupArn"),
				     why ? why : xasprintf("its cluster %s is being deleted", name), NULL);
			} else if (o) {
				add(s, K_NG, gn, name, ax_s(o, "nodegroupArn"), json_object_get(o, "tags"), NULL);
			}
			json_decref(o);
		}
		json_decref(ng.all);
		free(lab);
	}
	json_decref(cl.all);
	return rc < 0 ? rc : 0;
}

/* IAM lists carry no tags: one List*Tags call per entity. */
static int list_iam(struct sweep *s, enum kind k, const char *list_action, const char *list_key, const char *name_key,
		    const char *tags_action)
{
	json_t *all = NULL;
	int rc = sf_aws_query_all(s->a, "iam", list_action, NULL, list_key, &all, s->err);
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
		rc = sf_aws_query(s->a, "iam", tags_action, params, &t, s->err);
		json_decref(params);
		if (rc == SF_ENOTFOUND) {
			sf_err_clear(s->err);
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		json_t *tags = ax_tags_from_list(json_object_get(t, "Tags"));
		add(s, k, name, NULL, ax_s(e, "Arn"), tags, NULL);
		json_decref(tags);
		json_decref(t);
	}
	json_decref(all);
	return rc;
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

static int del_instance(struct sf_rctx *c, const struct obj *o)
{
	int rc = gone_ok(c, ax_ec2(c, "TerminateInstances", json_pack("{s:[s]}", "InstanceId", o->id), NULL));
	if (rc < 0)
		return rc;
	return ax_wait(c, &instance_gone,
		       json_pack("{s:[{s:s, s:[s]}]}", "Filter", "Name", "instance-id", "Value", o->id), 600,
		       "instance termination");
}

static int delete_one(struct sf_rctx *c, const struct obj *o)
{
	json_t *prior = NULL;
	int rc = 0;
	switch (o->kind) {
	case K_NG:
		prior = json_pack("{s:s, s:s}", "cluster_name", o->parent, "nodegroup_name", o->id);
		rc = sf_rt_eks_node_group.destroy(c, prior);
		break;
	case K_CLUSTER:
		prior = json_pack("{s:s}", "name", o->id);
		rc = sf_rt_eks_cluster.destroy(c, prior);
		break;
	case K_INSTANCE:
		rc = del_instance(c, o);
		break;
	case K_LT:
		prior = json_pack("{s:s}", "id", o->id);
		rc = sf_rt_aws_launch_template.destroy(c, prior);
		break;
	case K_IMAGE:
		prior = json_pack("{s:s}", "id", o->id); /* deregisters and deletes its snapshots */
		rc = sf_rt_aws_gvisor_ami.destroy(c, prior);
		break;
	case K_SNAPSHOT:
		rc = gone_ok(c, ax_ec2(c, "DeleteSnapshot", json_pack("{s:s}", "SnapshotId", o->id), NULL));
		break;
	case K_ENI:
		if (o->state && strcmp(o->state, "available"))
			return sf_fail(c->err, SF_ECONFLICT, "%s: it is %s (attached); delete what uses it first",
				       c->address, o->state);
		rc = gone_ok(c, ax_ec2(c, "DeleteNetworkInterface", json_pack("{s:s}", "NetworkInterfaceId", o->id),
				       NULL));
		break;
	case K_SG:
		prior = json_pack("{s:s}", "id", o->id);
		rc = sf_rt_aws_security_group.destroy(c, prior);
		break;
	case K_RTB:
		prior = json_pack("{s:s}", "id", o->id);
		rc = sf_rt_aws_route_table.destroy(c, prior);
		break;
	case K_SUBNET:
		prior = json_pack("{s:s}", "id", o->id);
		rc = sf_rt_aws_subnet.destroy(c, prior);
		break;
	case K_IGW:
		prior = json_pack("{s:s}", "id", o->id);
		rc = sf_rt_aws_internet_gateway.destroy(c, prior);
		break;
	case K_VPC:
		prior = o->parent ? json_pack("{s:s, s:s}", "id", o->id, "cluster_name", o->parent)
				  : json_pack("{s:s}", "id", o->id);
		rc = sf_rt_aws_vpc.destroy(c, prior);
		break;
	case K_PROFILE:
		prior = json_pack("{s:s}", "name", o->id);
		rc = sf_rt_aws_iam_instance_profile.destroy(c, prior);
		break;
	case K_ROLE:
		prior = json_pack("{s:s}", "name", o->id);
		rc = sf_rt_aws_iam_role.destroy(c, prior);
		break;
	case K_N:
		break;
	}
	json_decref(prior);
	return rc;
}

static int by_kind(const void *x, const void *y)
{
	const struct obj *a = x, *b = y;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->id, b->id);
}

int sf_aws_sweep_now(struct sf_providers *p, double *now, struct sf_err *err)
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

int sf_aws_sweep(struct sf_providers *p, sf_sweep_known_fn is_known, void *ctx, double now, int dry_run,
		 struct sf_buf *report, int *left, struct sf_err *err)
{
	struct sweep s = {p, NULL, is_known, ctx, now, NULL, 0, 0, err};
	int rc = 0;
	*left = 0;
	s.a = sf_providers_aws(p, err);
	if (!s.a) {
		rc = err->code ? err->code : SF_ERROR;
		goto done;
	}
	/* List everything first so a dry run shows the whole picture and the
	 * decisions do not change half-way through the deletions. */
	if ((rc = list_eks(&s)) < 0 || (rc = list_instances(&s)) < 0 ||
	    (rc = list_ec2(&s, K_LT, "DescribeLaunchTemplates", "launchTemplates", "launchTemplateId", NULL)) < 0 ||
	    (rc = list_ec2(&s, K_IMAGE, "DescribeImages", "imagesSet", "imageId", json_pack("{s:[s]}", "Owner", "self"))) <
		    0 ||
	    (rc = list_ec2(&s, K_SNAPSHOT, "DescribeSnapshots", "snapshotSet", "snapshotId",
			   json_pack("{s:[s]}", "Owner", "self"))) < 0 ||
	    (rc = list_ec2(&s, K_ENI, "DescribeNetworkInterfaces", "networkInterfaceSet", "networkInterfaceId", NULL)) <
		    0 ||
	    (rc = list_ec2(&s, K_SG, "DescribeSecurityGroups", "securityGroupInfo", "groupId", NULL)) < 0 ||
	    (rc = list_ec2(&s, K_RTB, "DescribeRouteTables", "routeTableSet", "routeTableId", NULL)) < 0 ||
	    (rc = list_ec2(&s, K_SUBNET, "DescribeSubnets", "subnetSet", "subnetId", NULL)) < 0 ||
	    (rc = list_ec2(&s, K_IGW, "DescribeInternetGateways", "internetGatewaySet", "internetGatewayId", NULL)) < 0 ||
	    (rc = list_ec2(&s, K_VPC, "DescribeVpcs", "vpcSet", "vpcId", NULL)) < 0 ||
	    (rc = list_iam(&s, K_PROFILE, "ListInstanceProfiles", "InstanceProfiles", "InstanceProfileName",
			   "ListInstanceProfileTags")) < 0 ||
	    (rc = list_iam(&s, K_ROLE, "ListRoles", "Roles", "RoleName", "ListRoleTags")) < 0) {
		sf_err_prefix(err, "gc sweep of %s: ", sf_aws_region(s.a));
		goto done;
	}
	if (s.n)
		qsort(s.v, s.n, sizeof *s.v, by_kind);
	for (size_t i = 0; i < s.n; i++) {
		struct obj *o = &s.v[i];
		const char *k = kind_names[o->kind];
		const char *label = o->arn ? o->arn : o->id;
		if (dry_run) {
			sf_buf_printf(report, "would delete %s %s: %s\n", k, label, o->reason);
			continue;
		}
		struct sf_err e = SF_ERR_INIT;
		char *addr = xasprintf("gc %s %s", k, o->id);
		struct sf_rctx c;
		memset(&c, 0, sizeof c);
		c.address = addr;
		c.err = &e;
		c.provider = p;
		sf_info("gc: deleting %s %s (%s)", k, label, o->reason);
		int r = delete_one(&c, o);
		if (r < 0) {
			(*left)++;
			sf_buf_printf(report, "left %s %s: %s: %s%s%s\n", k, label, o->reason, e.msg, e.hint[0] ? "; " : "",
				      e.hint);
		} else {
			sf_buf_printf(report, "deleted %s %s: %s\n", k, label, o->reason);
		}
		free(addr);
	}
	if (s.kept)
		sf_buf_printf(report, "kept %d object%s of workspaces with a live state\n", s.kept, s.kept == 1 ? "" : "s");
	rc = (int)s.n;
done:
	for (size_t i = 0; i < s.n; i++)
		obj_release(&s.v[i]);
	free(s.v);
	return rc;
}
