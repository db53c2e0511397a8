/* waiter.c - see waiter.h. Delays and acceptors of the official rows from
 * the services' waiters-2.json files. */
#include "aws/waiter.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aws/client.h"
#include "util.h"
#include "wait.h"

static const struct sf_waiter_def waiters[] = {
	{.name = "eks.ClusterActive", .service = "eks", .operation = "DescribeCluster", .path = "/clusters/{name}",
	 .status_path = "cluster.status", .delay_s = 30, .max_attempts = 40, .success = {"ACTIVE"},
	 .failure = {"DELETING", "FAILED"}, .failure_msg = "cluster {name} is {status}", .typical_lo = 480,
	 .typical_hi = 720},
	{.name = "eks.ClusterDeleted", .service = "eks", .operation = "DescribeCluster", .path = "/clusters/{name}",
	 .status_path = "cluster.status", .delay_s = 30, .max_attempts = 40, .failure = {"ACTIVE", "CREATING", "PENDING"},
	 .notfound_success = 1, .typical_lo = 240, .typical_hi = 360},
	/* secfaas: a node group being deleted or broken will not become ACTIVE either */
	{.name = "eks.NodegroupActive", .service = "eks", .operation = "DescribeNodegroup",
	 .path = "/clusters/{clusterName}/node-groups/{nodegroupName}", .status_path = "nodegroup.status", .delay_s = 30,
	 .max_attempts = 80, .success = {"ACTIVE"}, .failure = {"CREATE_FAILED", "DEGRADED", "DELETING", "DELETE_FAILED"},
	 .failure_msg = "node group {nodegroupName} is {status}: {detail}", .detail_path = "nodegroup.health.issues",
	 .typical_lo = 150, .typical_hi = 240},
	{.name = "eks.NodegroupDeleted", .service = "eks", .operation = "DescribeNodegroup",
	 .path = "/clusters/{clusterName}/node-groups/{nodegroupName}", .status_path = "nodegroup.status", .delay_s = 30,
	 .max_attempts = 40, .failure = {"DELETE_FAILED"}, .notfound_success = 1, .typical_lo = 95, .typical_hi = 150},
	/* secfaas: DescribeUpdate, of a cluster and of one of its node groups */
	{.name = "eks.UpdateSuccessful", .service = "eks", .operation = "DescribeUpdate",
	 .path = "/clusters/{name}/updates/{updateId}", .status_path = "update.status", .delay_s = 30, .max_attempts = 40,
	 .success = {"Successful"}, .failure = {"Failed", "Cancelled"}, .failure_msg = "cluster update {status}: {detail}",
	 .detail_path = "update.errors", .label = "update"},
	{.name = "eks.NodegroupUpdateSuccessful", .service = "eks", .operation = "DescribeUpdate",
	 .path = "/clusters/{name}/updates/{updateId}", .query = "nodegroupName={nodegroupName}",
	 .status_path = "update.status", .delay_s = 30, .max_attempts = 40, .success = {"Successful"},
	 .failure = {"Failed", "Cancelled"}, .failure_msg = "node group update {status}: {detail}",
	 .detail_path = "update.errors", .label = "update"},
	{.name = "eks.AddonActive", .service = "eks", .operation = "DescribeAddon",
	 .path = "/clusters/{clusterName}/addons/{addonName}", .status_path = "addon.status", .delay_s = 10,
	 .max_attempts = 60, .success = {"ACTIVE"}, .failure = {"CREATE_FAILED", "DEGRADED"},
	 .failure_msg = "add-on {addonName} is {status}: {detail}", .detail_path = "addon.health.issues",
	 .typical_lo = 45, .typical_hi = 80},
	/* secfaas: a new add-on's creation is over: ACTIVE, or DEGRADED (a
	 * Deployment add-on, such as coredns, while no node can run its pods),
	 * which the caller judges (resources/aws_eks_addon.c) */
	{.name = "eks.AddonSettled", .service = "eks", .operation = "DescribeAddon",
	 .path = "/clusters/{clusterName}/addons/{addonName}", .status_path = "addon.status", .delay_s = 10,
	 .max_attempts = 60, .success = {"ACTIVE", "DEGRADED"}, .failure = {"CREATE_FAILED"},
	 .failure_msg = "add-on {addonName} is {status}: {detail}", .detail_path = "addon.health.issues",
	 .typical_lo = 45, .typical_hi = 80},
	{.name = "eks.AddonDeleted", .service = "eks", .operation = "DescribeAddon",
	 .path = "/clusters/{clusterName}/addons/{addonName}", .status_path = "addon.status", .delay_s = 10,
	 .max_attempts = 60, .failure = {"DELETE_FAILED"}, .notfound_success = 1, .typical_lo = 20, .typical_hi = 45},
	/* secfaas: DescribeUpdate of an add-on */
	{.name = "eks.AddonUpdateSuccessful", .service = "eks", .operation = "DescribeUpdate",
	 .path = "/clusters/{clusterName}/updates/{updateId}", .query = "addonName={addonName}",
	 .status_path = "update.status", .delay_s = 10, .max_attempts = 60, .success = {"Successful"},
	 .failure = {"Failed", "Cancelled"}, .failure_msg = "add-on update {status}: {detail}",
	 .detail_path = "update.errors", .label = "update"},
	{.name = "ec2.ImageAvailable", .service = "ec2", .operation = "DescribeImages",
	 .status_path = "imagesSet[].imageState", .delay_s = 15, .max_attempts = 40, .success = {"available"},
	 .failure = {"failed", "deregistered", "error"}, .notfound_retry = 1},
	{.name = "ec2.InstanceRunning", .service = "ec2", .operation = "DescribeInstances",
	 .status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .max_attempts = 40,
	 .success = {"running"}, .failure = {"shutting-down", "terminated", "stopping"}, .notfound_retry = 1},
	{.name = "ec2.InstanceStopped", .service = "ec2", .operation = "DescribeInstances",
	 .status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .max_attempts = 40,
	 .success = {"stopped"}, .failure = {"pending", "terminated"}, .notfound_retry = 1},
	{.name = "ec2.InstanceTerminated", .service = "ec2", .operation = "DescribeInstances",
	 .status_path = "reservationSet[].instancesSet[].instanceState.name", .delay_s = 15, .max_attempts = 40,
	 .success = {"terminated"}, .failure = {"pending", "stopping"}, .notfound_success = 1},
	{.name = "ec2.NatGatewayAvailable", .service = "ec2", .operation = "DescribeNatGateways",
	 .status_path = "natGatewaySet[].state", .delay_s = 15, .max_attempts = 40, .success = {"available"},
	 .failure = {"failed", "deleting", "deleted"}, .notfound_retry = 1, .typical_lo = 60, .typical_hi = 150},
	/* secfaas: EC2 has no waiter for VPC endpoints; AWS answers the states
	 * in lower case, the model's enum spells them capitalised */
	{.name = "ec2.VpcEndpointAvailable", .service = "ec2", .operation = "DescribeVpcEndpoints",
	 .status_path = "vpcEndpointSet[].state", .delay_s = 15, .max_attempts = 40, .success = {"available", "Available"},
	 .failure = {"failed", "Failed", "rejected", "deleting", "deleted"}, .notfound_retry = 1, .typical_lo = 60,
	 .typical_hi = 180},
	{.name = "ec2.VpcEndpointDeleted", .service = "ec2", .operation = "DescribeVpcEndpoints",
	 .status_path = "vpcEndpointSet[].state", .delay_s = 15, .max_attempts = 40, .success = {"deleted", "Deleted"},
	 .notfound_success = 1},
	{.name = "ec2.NatGatewayDeleted", .service = "ec2", .operation = "DescribeNatGateways",
	 .status_path = "natGatewaySet[].state", .delay_s = 15, .max_attempts = 40, .success = {"deleted"},
	 .notfound_success = 1, .typical_lo = 30, .typical_hi = 90},
};

double sf_waiter_pause(const struct sf_waiter_def *def, double lo, double hi, double elapsed_s)
{
	double d = def->delay_s > 0 ? def->delay_s : 1;
	if (hi <= lo || hi <= 0 || elapsed_s >= hi)
		return d;
	if (elapsed_s < lo) {
		double to_lo = lo - elapsed_s, step = to_lo / ceil(to_lo / SF_WAITER_QUIET_S);
		return step < 1 ? 1 : step;
	}
	return sf_waiter_fine_step(def);
}

int sf_waiter_in_window(double at, double lo, double hi)
{
	return hi > lo && at >= lo - 1e-6 && at < hi;
}

double sf_waiter_fine_step(const struct sf_waiter_def *def)
{
	/* near the end: a third of the official delay, but not under 5 s
	 * (a 10 s add-on row polls every 5 s there) nor over the delay */
	double d = def->delay_s > 0 ? def->delay_s : 1, fine = d / 3 < 5 ? 5 : d / 3;
	return fine < d ? fine : d;
}

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

/* The member at a dotted path ("nodegroup.health.issues"), borrowed. */
static const json_t *member_at(const json_t *doc, const char *path)
{
	char key[128];
	while (doc && path && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		doc = json_object_get(doc, key);
		path += path[n] ? n + 1 : n;
	}
	return doc;
}

static int in_list(const char *s, const char *const *list, int max)
{
	for (int i = 0; i < max && list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

/* A template's {x} replaced by vars[x] (a string, or an array's first
 * string); encode: percent-encode the values (paths, queries).  Owned, or
 * NULL with err when a name is missing. */
static char *expand(const char *tmpl, const json_t *vars, int encode, struct sf_err *err)
{
	struct sf_buf b = SF_BUF_INIT;
	const char *p = tmpl;
	while (*p) {
		const char *e = *p == '{' ? strchr(p, '}') : NULL;
		if (!e) {
			sf_buf_putc(&b, *p++);
			continue;
		}
		char key[64];
		snprintf(key, sizeof key, "%.*s", (int)(e - p - 1), p + 1);
		const json_t *v = json_object_get(vars, key);
		const char *s = json_is_array(v) ? json_string_value(json_array_get(v, 0)) : json_string_value(v);
		if (!s) {
			sf_buf_release(&b);
			sf_fail(err, SF_EINVAL, "waiter argument \"%s\" missing", key);
			return NULL;
		}
		if (encode)
			sf_uri_encode(&b, s, strlen(s), 0);
		else
			sf_buf_puts(&b, s);
		p = e + 1;
	}
	return sf_buf_detach(&b);
}

/* The failure message of def for this reply: SF_WAITER_FAILURE with err
 * set to code and the expanded template. */
static int failed(const struct sf_waiter_def *def, const char *tmpl, const json_t *args, const char *status,
		  const json_t *doc, int code, int *verdict, struct sf_err *err)
{
	json_t *vars = json_is_object(args) ? json_deep_copy(args) : json_object();
	char *detail = def->detail_path ? json_dumps(member_at(doc, def->detail_path), JSON_COMPACT) : NULL;
	json_object_set_new(vars, "status", json_string(status));
	json_object_set_new(vars, "detail", json_string(detail ? detail : ""));
	char *msg = expand(tmpl, vars, 0, NULL);
	sf_fail(err, code, "%s", msg ? msg : tmpl);
	free(msg);
	free(detail);
	json_decref(vars);
	*verdict = SF_WAITER_FAILURE;
	return 0;
}

static int call(struct sf_aws *c, const struct sf_waiter_def *def, const json_t *args, json_t **doc,
		struct sf_err *err)
{
	if (!def->path)
		return sf_aws_query(c, def->service, def->operation, args, doc, err);
	char *path = expand(def->path, args, 1, err), *query = NULL;
	int rc = path ? 0 : SF_EINVAL;
	if (!rc && def->query && !(query = expand(def->query, args, 1, err)))
		rc = SF_EINVAL;
	if (!rc)
		rc = sf_aws_rest_json(c, def->service, "GET", path, query, NULL, doc, err);
	free(path);
	free(query);
	return rc;
}

int sf_aws_waiter_poll(struct sf_aws *c, const struct sf_waiter_def *def, const json_t *args, int *verdict,
		       char *status, size_t n, json_t **doc, struct sf_err *err)
{
	json_t *reply = NULL;
	struct sf_err cerr = SF_ERR_INIT;
	int rc = call(c, def, args, &reply, &cerr);
	return sf_aws_waiter_judge(def, args, rc, &cerr, reply, verdict, status, n, doc, err);
}

int sf_aws_waiter_judge(const struct sf_waiter_def *def, const json_t *args, int rc, const struct sf_err *cerr,
			json_t *reply, int *verdict, char *status, size_t n, json_t **doc, struct sf_err *err)
{
	json_t *st = NULL;
	*verdict = SF_WAITER_PENDING;
	if (n)
		status[0] = 0;
	if (doc)
		*doc = NULL;
	if (rc < 0 && rc != SF_ENOTFOUND) {
		if (err)
			*err = *cerr;
		json_decref(reply);
		return rc;
	}
	size_t nst = 0, nok = 0;
	int failure = 0, missing = rc == SF_ENOTFOUND;
	if (!missing) {
		st = sf_json_path_strings(reply, def->status_path);
		size_t i;
		json_t *s;
		json_array_foreach(st, i, s)
		{
			const char *v = json_string_value(s);
			snprintf(status, n, "%s", v);
			nst++;
			failure |= in_list(v, def->failure, 5);
			nok += in_list(v, def->success, 4);
		}
		missing = nst == 0 && def->empty_is_notfound;
	}
	if (missing) {
		snprintf(status, n, "not found");
		if (def->notfound_success)
			*verdict = SF_WAITER_SUCCESS;
		else if (def->notfound_retry)
			*verdict = SF_WAITER_PENDING;
		else if (rc == SF_ENOTFOUND) { /* not an acceptor: the service's own error */
			if (err)
				*err = *cerr;
			json_decref(st);
			json_decref(reply);
			return rc;
		} else {
			failed(def, def->notfound_msg ? def->notfound_msg : "not found", args, status, reply, SF_ENOTFOUND,
			       verdict, err);
		}
	} else if (failure) {
		failed(def, def->failure_msg ? def->failure_msg : "reached failure state {status}", args, status, reply,
		       SF_ERROR, verdict, err);
	} else if (nst > 0 && nok == nst) {
		*verdict = SF_WAITER_SUCCESS;
	}
	json_decref(st);
	if (doc)
		*doc = reply;
	else
		json_decref(reply);
	return 0;
}

/* ---- sf_aws_wait: a row on the shared loop with the SDK's defaults ---- */

struct run_ctx {
	struct sf_aws *c;
	const struct sf_waiter_def *def;
	const json_t *args;
	const struct sf_wait_opts *o;
	json_t *last;
};

static int run_poll(void *ctx, char *status, size_t n, struct sf_err *err)
{
	struct run_ctx *r = ctx;
	json_t *doc = NULL;
	int verdict;
	int rc = sf_aws_waiter_poll(r->c, r->def, r->args, &verdict, status, n, &doc, err);
	if (rc < 0)
		return rc;
	json_decref(r->last);
	r->last = doc;
	if (verdict == SF_WAITER_FAILURE) {
		sf_err_prefix(err, "%s: ", r->def->name);
		return err ? err->code : SF_ERROR;
	}
	return verdict == SF_WAITER_SUCCESS ? SF_WAIT_DONE : SF_WAIT_PENDING;
}

static double run_delay(void *ctx, int attempt, double elapsed_s)
{
	const struct sf_waiter_def *def = ctx;
	return def->delay ? def->delay(def, attempt, elapsed_s)
			  : sf_waiter_pause(def, def->typical_lo, def->typical_hi, elapsed_s);
}

static void run_progress(void *ctx, const char *status, int attempt, double elapsed_s)
{
	struct run_ctx *r = ctx;
	r->o->progress(r->o->progress_ctx, r->def->name, status, attempt, elapsed_s);
}

int sf_aws_wait(struct sf_aws *c, const char *waiter, const json_t *args, const struct sf_wait_opts *o,
		json_t **last, struct sf_err *err)
{
	static const struct sf_wait_opts defaults = SF_WAIT_OPTS_INIT;
	const struct sf_waiter_def *def = sf_aws_waiter_find(waiter);
	if (last)
		*last = NULL;
	if (!def)
		return sf_fail(err, SF_EINVAL, "unknown waiter \"%s\"", waiter ? waiter : "(null)");
	if (!o)
		o = &defaults;
	struct run_ctx r = {c, def, args, o, NULL};
	struct sf_wait_loop w = {
		.name = def->name,
		.delay = run_delay,
		.delay_ctx = (void *)def,
		/* polls near the usual end are closer: the deadline alone bounds them */
		.max_attempts = def->typical_hi > 0 ? 0 : def->max_attempts,
		.timeout_s = o->timeout_s > 0 ? o->timeout_s : def->delay_s * def->max_attempts,
		.clock = o->clock ? o->clock : sf_aws_clock(c),
		.cancel = o->cancel,
		.progress = o->progress ? run_progress : NULL,
		.progress_ctx = &r,
	};
	int rc = sf_wait_run(&w, run_poll, &r, NULL, err);
	if (last)
		*last = r.last;
	else
		json_decref(r.last);
	return rc;
}
