/* waiter.c - see waiter.h. Delays and acceptors from the official waiters-2.json files. */
#include "aws/waiter.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static const struct sf_waiter_def waiters[] = {
	{"eks.ClusterActive", "eks", "DescribeCluster", "/clusters/{name}", "cluster.status", 30, 40,
	 {"ACTIVE"}, {"DELETING", "FAILED"}, 0, 0},
	{"eks.ClusterDeleted", "eks", "DescribeCluster", "/clusters/{name}", "cluster.status", 30, 40,
	 {NULL}, {"ACTIVE", "CREATING", "PENDING"}, 1, 0},
	{"eks.NodegroupActive", "eks", "DescribeNodegroup", "/clusters/{clusterName}/node-groups/{nodegroupName}",
	 "nodegroup.status", 30, 80, {"ACTIVE"}, {"CREATE_FAILED", "DEGRADED"}, 0, 0},
	{"eks.NodegroupDeleted", "eks", "DescribeNodegroup", "/clusters/{clusterName}/node-groups/{nodegroupName}",
	 "nodegroup.status", 30, 40, {NULL}, {"DELETE_FAILED"}, 1, 0},
	{"eks.UpdateSuccessful", "eks", "DescribeUpdate", "/clusters/{name}/updates/{updateId}", "update.status", 30, 40,
	 {"Successful"}, {"Failed", "Cancelled"}, 0, 0},
	{"ec2.ImageAvailable", "ec2", "DescribeImages", NULL, "imagesSet[].imageState", 15, 40, {"available"},
	 {"failed", "deregistered", "error"}, 0, 1},
	{"ec2.InstanceRunning", "ec2", "DescribeInstances", NULL, "reservationSet[].instancesSet[].instanceState.name",
	 15, 40, {"running"}, {"shutting-down", "terminated", "stopping"}, 0, 1},
	{"ec2.InstanceStopped", "ec2", "DescribeInstances", NULL, "reservationSet[].instancesSet[].instanceState.name",
	 15, 40, {"stopped"}, {"pending", "terminated"}, 0, 1},
	{"ec2.InstanceTerminated", "ec2", "DescribeInstances", NULL,
	 "reservationSet[].instancesSet[].instanceState.name", 15, 40, {"terminated"}, {"pending", "stopping"}, 1, 0},
	{"ec2.NatGatewayAvailable", "ec2", "DescribeNatGateways", NULL, "natGatewaySet[].state", 15, 40,
	 {"available"}, {"failed", "deleting", "deleted"}, 0, 1},
	{"ec2.NatGatewayDeleted", "ec2", "DescribeNatGateways", NULL, "natGatewaySet[].state", 15, 40, {"deleted"},
	 {NULL}, 1, 0},
};

const struct sf_waiter_def *sf_aws_waiter_find(const char *name)
{
	for (size_t i = 0; name && i < SF_ARRAY_LEN(waiters); i++)
		if (!strcmp(waiters[i].name, name))
			return &waiters[i];
	return NULL;
}

static void collect(const json_t *v, const char *path, json_t *out, int depth)
{
	if (!v || depth > 16)
		return;
	if (!*path) {
		if (json_is_string(v))
			json_array_append(out, (json_t *)v);
		return;
	}
	size_t n = strcspn(path, ".");
	const char *rest = path[n] ? path + n + 1 : path + n;
	int walk = n >= 2 && path[n - 2] == '[' && path[n - 1] == ']';
	char key[128];
	snprintf(key, sizeof key, "%.*s", (int)(walk ? n - 2 : n), path);
	const json_t *m = json_object_get(v, key);
	if (!walk) {
		collect(m, rest, out, depth + 1);
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(m, i, e)
	{
		collect(e, rest, out, depth + 1);
	}
}

json_t *sf_json_path_strings(const json_t *doc, const char *path)
{
	json_t *out = json_array();
	collect(doc, path, out, 0);
	return out;
}

static int in_list(const char *s, const char *const *list, int max)
{
	for (int i = 0; i < max && list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

int sf_wait(const struct sf_waiter_def *def, sf_wait_poll_fn poll, void *ctx, const struct sf_wait_opts *o,
	    char **last_status, struct sf_err *err)
{
	static const struct sf_wait_opts defaults = SF_WAIT_OPTS_INIT;
	if (!o)
		o = &defaults;
	const struct sf_clock *clk = o->clock ? o->clock : sf_clock_system();
	double start = clk->now(clk->ctx);
	double timeout = o->timeout_s > 0 ? o->timeout_s : def->delay_s * def->max_attempts;
	double deadline = start + timeout;
	char last[128] = "";
	int rc = SF_ERROR;

	for (int attempt = 1;; attempt++) {
		if (o->cancel && *o->cancel) {
			rc = sf_fail(err, SF_EINTR, "waiting for %s interrupted", def->name);
			goto done;
		}
		json_t *st = NULL;
		struct sf_err perr = SF_ERR_INIT;
		int prc = poll(ctx, &st, &perr);
		const char *shown = "";
		int success = 0, failure = 0;
		if (prc == SF_ENOTFOUND) {
			snprintf(last, sizeof last, "not found");
			shown = last;
			if (def->notfound_success)
				success = 1;
			else if (!def->notfound_retry) {
				if (err)
					*err = perr;
				rc = prc;
				goto done;
			}
		} else if (prc < 0) {
			if (err)
				*err = perr;
			rc = prc;
			goto done;
		} else {
			size_t i, nok = 0, n = json_array_size(st);
			json_t *s;
			json_array_foreach(st, i, s)
			{
				const char *v = json_string_value(s);
				if (!v)
					continue;
				snprintf(last, sizeof last, "%s", v);
				if (in_list(v, def->failure, 5))
					failure = 1;
				if (in_list(v, def->success, 4))
					nok++;
			}
			shown = last;
			success = n > 0 && nok == n && !failure;
		}
		json_decref(st);
		double now = clk->now(clk->ctx);
		if (o->progress)
			o->progress(o->progress_ctx, def->name, shown, attempt, now - start);
		if (failure) {
			rc = sf_fail(err, SF_ERROR, "%s: reached failure state %s", def->name, last);
			goto done;
		}
		if (success) {
			rc = 0;
			goto done;
		}
		if (attempt >= def->max_attempts || now + def->delay_s > deadline) {
			char d[32];
			rc = sf_fail(err, SF_ETIMEOUT, "%s: still %s after %s (%d polls)", def->name,
				     *last ? last : "unknown", sf_duration_fmt(d, sizeof d, now - start), attempt);
			sf_err_hint(err, "the resource may still converge; rerun later or raise the timeout");
			goto done;
		}
		/* sleep in short slices so the cancel flag is honoured promptly */
		double until = now + def->delay_s;
		while (clk->now(clk->ctx) < until) {
			if (o->cancel && *o->cancel)
				break;
			double left = until - clk->now(clk->ctx);
			clk->sleep(clk->ctx, left < 0.5 ? left : 0.5);
		}
	}
done:
	if (last_status)
		*last_status = xstrdup(last);
	return rc;
}
