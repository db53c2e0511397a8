/* pollshare.c - see pollshare.h. */
#include "aws/pollshare.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/awserr.h"
#include "aws/client.h"
#include "aws/waiter.h"
#include "clock.h"
#include "log.h"
#include "util.h"

/* An action whose waits can share calls: the by-id parameter a row's args
 * name, the filter naming the same ids, where the items are in the reply
 * (set[] or set[].inner[]) and their id, and EC2's NotFound for a by-id
 * list with an unknown id (its code and text, as tests/awssim gives them). */
struct kind {
	const char *operation, *param, *filter, *set, *inner, *id_key, *nf_code, *nf_msg;
};

static const struct kind kinds[] = {
	{"DescribeInstances", "InstanceId", "instance-id", "reservationSet", "instancesSet", "instanceId",
	 "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist"},
	{"DescribeImages", "ImageId", "image-id", "imagesSet", NULL, "imageId", "InvalidAMIID.NotFound",
	 "The image id '[%s]' does not exist"},
	{"DescribeSubnets", "SubnetId", "subnet-id", "subnetSet", NULL, "subnetId", "InvalidSubnetID.NotFound",
	 "The subnet ID '%s' does not exist"},
	{"DescribeNatGateways", "NatGatewayId", "nat-gateway-id", "natGatewaySet", NULL, "natGatewayId",
	 "NatGatewayNotFound", "The Nat Gateway %s was not found"},
	{"DescribeVpcEndpoints", "VpcEndpointId", "vpc-endpoint-id", "vpcEndpointSet", NULL, "vpcEndpointId",
	 "InvalidVpcEndpointId.NotFound", "The VpcEndpoint Id '%s' does not exist"},
};

/* EC2 takes at most 200 values in one filter. */
#define MAX_IDS 200

/* Polls of one client and action gathered into one call.  The opener
 * leads: it closes the gather, makes the call and publishes the outcome;
 * every member then takes its part.  Freed by the last member out. */
struct gather {
	struct gather *next; /* open gathers only */
	struct sf_aws *client;
	const struct kind *k;
	double opened, last; /* sf_mono() seconds: opened, last joined */
	double after_s;      /* how long it waits for read-backs whose calls are in flight */
	int members, users, done;
	json_t *ids; /* the union, in order of arrival */
	int rc;      /* the call's outcome */
	struct sf_err err;
	json_t *reply;
};

/* A wait that may poll: its next poll is due at `due` (sf_mono()
 * seconds), or at any moment (0: it begins, or wakes from a sleep), or not
 * before it says (DBL_MAX: it has just polled); after: when the calls its
 * next poll follows began (sf_pollshare_expect_after; 0: none in flight);
 * g: the gather it is in while it polls. */
struct expect {
	struct expect *next;
	const void *who;
	struct sf_aws *client;
	const struct kind *k;
	double due, after;
	struct gather *g;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct gather *open_gathers;
static struct expect *expects;
static double max_s = SF_POLLSHARE_MAX_S;
static unsigned long shared_calls;

static const struct kind *kind_of(const struct sf_waiter_def *def, const json_t *args)
{
	if (!def || def->path || !def->service || strcmp(def->service, "ec2") || !json_is_object(args) ||
	    json_object_size(args) != 1)
		return NULL;
	for (size_t i = 0; i < SF_ARRAY_LEN(kinds); i++) {
		const json_t *ids = json_object_get(args, kinds[i].param);
		if (strcmp(def->operation, kinds[i].operation) || !json_is_array(ids) || !json_array_size(ids))
			continue;
		size_t j;
		const json_t *v;
		json_array_foreach(ids, j, v)
		{
			if (!json_is_string(v))
				return NULL;
		}
		return &kinds[i];
	}
	return NULL;
}

int sf_pollshare_can(const struct sf_waiter_def *def, const json_t *args)
{
	return kind_of(def, args) != NULL;
}

void sf_pollshare_set_max(double s)
{
	pthread_mutex_lock(&mu);
	max_s = s > 0 ? s : SF_POLLSHARE_MAX_S;
	pthread_mutex_unlock(&mu);
}

unsigned long sf_pollshare_shared_calls(void)
{
	pthread_mutex_lock(&mu);
	unsigned long n = shared_calls;
	pthread_mutex_unlock(&mu);
	return n;
}

int sf_pollshare_gathering(void)
{
	int n = 0;
	pthread_mutex_lock(&mu);
	for (const struct gather *g = open_gathers; g; g = g->next)
		n += g->members;
	pthread_mutex_unlock(&mu);
	return n;
}

/* Under mu: who's entry, or NULL. */
static struct expect *entry_of(const void *who)
{
	struct expect *e = expects;
	while (who && e && e->who != who)
		e = e->next;
	return who ? e : NULL;
}

/* who says what it polls next: due as sf_pollshare_expect, after as in
 * struct expect (-1: keep what it said, when of the same action; said
 * again, the first instant stays). */
static void set_expect(const void *who, struct sf_aws *c, const struct sf_waiter_def *def, double due, double after)
{
	const struct kind *k = NULL;
	for (size_t i = 0; def && def->operation && !def->path && i < SF_ARRAY_LEN(kinds); i++)
		if (!strcmp(def->operation, kinds[i].operation))
			k = &kinds[i];
	if (!who || !k)
		return;
	pthread_mutex_lock(&mu);
	struct expect *e = entry_of(who);
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->next = expects;
		expects = e;
	}
	int same = e->k == k && e->client == c;
	if (after < 0 || (after > 0 && same && e->after > 0))
		after = same ? e->after : 0;
	e->who = who;
	e->client = c;
	e->k = k;
	e->due = due > 0 ? due : 0;
	e->after = after;
	pthread_cond_broadcast(&cv); /* a gather may have been waiting for it */
	pthread_mutex_unlock(&mu);
}

void sf_pollshare_expect(const void *who, struct sf_aws *c, const struct sf_waiter_def *def, double due)
{
	set_expect(who, c, def, due, due > 0 ? 0 : -1);
}

void sf_pollshare_expect_after(const void *who, struct sf_aws *c, const struct sf_waiter_def *def)
{
	set_expect(who, c, def, 0, sf_mono());
}

void sf_pollshare_leave(const void *who)
{
	pthread_mutex_lock(&mu);
	for (struct expect **p = &expects; who && *p; p = &(*p)->next)
		if ((*p)->who == who) {
			struct expect *e = *p;
			*p = e->next;
			free(e);
			pthread_cond_broadcast(&cv); /* a gather may have been waiting for it */
			break;
		}
	pthread_mutex_unlock(&mu);
}

/* Under mu: the other waits of g's client and action that may poll now,
 * outside g: *announced counts those said ahead for about now (the
 * grid's instant g was opened at), *after those whose calls are in flight,
 * the rest could come at any moment. */
static int poised(const struct gather *g, double now, int *announced, int *after)
{
	int n = 0;
	*announced = *after = 0;
	for (const struct expect *e = expects; e; e = e->next) {
		if (e->client != g->client || e->k != g->k || e->g)
			continue;
		if (e->after > 0) {
			n++;
			(*after)++;
		} else if (e->due <= 0 || e->due <= now + max_s) {
			n++;
			*announced += e->due > 0;
		}
	}
	return n;
}

/* Under mu: sleep on cv until sf_mono() reaches `until` or a broadcast. */
static void nap_until(double until)
{
	double left = until - sf_mono();
	if (left > 0)
		sf_cond_wait_s(&cv, &mu, left);
}

static int has_id(const json_t *ids, const char *id)
{
	size_t i;
	const json_t *v;
	json_array_foreach(ids, i, v)
	{
		if (id && !strcmp(json_string_value(v), id))
			return 1;
	}
	return 0;
}

/* Under mu: the items of list whose id is in ids (new array), marking each
 * id seen in `seen`. */
static json_t *keep(const struct kind *k, const json_t *list, const json_t *ids, json_t *seen)
{
	json_t *out = json_array();
	size_t i;
	const json_t *item;
	json_array_foreach(list, i, item)
	{
		const char *id = json_string_value(json_object_get(item, k->id_key));
		if (has_id(ids, id)) {
			json_array_append_new(out, json_deep_copy(item));
			json_object_set_new(seen, id, json_true());
		}
	}
	return out;
}

/* Under mu: a member's part of g's outcome, as the by-id call with its own
 * ids would have answered: *reply its items only, or SF_ENOTFOUND in cerr
 * for an id the answer lacks. */
static int part_of(const struct gather *g, const json_t *ids, json_t **reply, struct sf_err *cerr)
{
	*reply = NULL;
	if (g->rc < 0) {
		*cerr = g->err;
		return g->rc;
	}
	const struct kind *k = g->k;
	/* deep copies: the member reads and frees its part on its own thread */
	json_t *doc = json_is_object(g->reply) ? json_deep_copy(g->reply) : json_object(), *seen = json_object();
	const json_t *set = json_object_get(doc, k->set);
	json_t *mine = json_array();
	size_t i;
	const json_t *e;
	if (k->inner) { /* reservations: keep those holding one of ours, with only ours */
		json_array_foreach(set, i, e)
		{
			json_t *in = keep(k, json_object_get(e, k->inner), ids, seen);
			if (json_array_size(in)) {
				json_t *r = json_deep_copy(e);
				json_object_set_new(r, k->inner, in);
				json_array_append_new(mine, r);
			} else {
				json_decref(in);
			}
		}
	} else {
		json_decref(mine);
		mine = keep(k, set, ids, seen);
	}
	json_object_set_new(doc, k->set, mine);
	struct sf_buf missing = SF_BUF_INIT;
	json_array_foreach(ids, i, e)
	{
		if (!json_object_get(seen, json_string_value(e))) {
			if (missing.len)
				sf_buf_puts(&missing, ", ");
			sf_buf_puts(&missing, json_string_value(e));
		}
	}
	json_decref(seen);
	if (!missing.len) {
		*reply = doc;
		sf_buf_release(&missing);
		return 0;
	}
	json_decref(doc);
	char msg[512];
	if (k->inner && strchr(sf_buf_cstr(&missing), ',')) /* EC2's own plural for instances */
		snprintf(msg, sizeof msg, "The instance IDs '%s' do not exist", sf_buf_cstr(&missing));
	else
		snprintf(msg, sizeof msg, k->nf_msg, sf_buf_cstr(&missing));
	sf_buf_release(&missing);
	return sf_aws_error(cerr, "ec2", k->operation, 400, k->nf_code, msg, NULL);
}

/* Under mu: the open gather of c and k with room for n more ids, or NULL. */
static struct gather *find_open(struct sf_aws *c, const struct kind *k, size_t n)
{
	for (struct gather *g = open_gathers; g; g = g->next)
		if (g->client == c && g->k == k && json_array_size(g->ids) + n <= MAX_IDS)
			return g;
	return NULL;
}

/* Under mu: add ids to g's union. */
static void add_ids(struct gather *g, const json_t *ids)
{
	size_t i;
	const json_t *v;
	json_array_foreach(ids, i, v)
	{
		if (!has_id(g->ids, json_string_value(v)))
			json_array_append_new(g->ids, json_string(json_string_value(v)));
	}
}

/* Under mu: the leader keeps g open (see pollshare.h), then closes it. */
static void gather_members(struct gather *g)
{
	for (;;) {
		double now = sf_mono();
		int announced, after, n = poised(g, now, &announced, &after);
		double end = g->opened + (after ? g->after_s : max_s);
		if (!n || now >= end || (!announced && !after && now - g->last >= SF_POLLSHARE_MIN_S))
			break;
		double until = announced || after ? end : g->last + SF_POLLSHARE_MIN_S;
		nap_until(until < end ? until : end);
	}
	for (struct gather **p = &open_gathers; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	g->next = NULL;
}

int sf_pollshare_poll(const void *who, struct sf_aws *c, const struct sf_waiter_def *def, const json_t *args,
		      int *verdict, char *status, size_t n, json_t **doc, struct sf_err *err)
{
	const struct kind *k = kind_of(def, args);
	if (!k)
		return sf_aws_waiter_poll(c, def, args, verdict, status, n, doc, err);
	const json_t *ids = json_object_get(args, k->param);
	json_t *reply = NULL;
	struct sf_err cerr = SF_ERR_INIT;
	int rc;
	pthread_mutex_lock(&mu);
	struct expect *me = entry_of(who);
	struct gather *g = find_open(c, k, json_array_size(ids));
	if (g) { /* join: the leader calls */
		if (me)
			me->g = g;
		add_ids(g, ids);
		g->last = sf_mono();
		g->members++;
		g->users++;
		pthread_cond_broadcast(&cv); /* the leader may be waiting for this one */
		while (!g->done)
			pthread_cond_wait(&cv, &mu);
	} else { /* lead */
		g = xcalloc(1, sizeof *g);
		double now = sf_mono();
		/* its own calls' time, when it polls after some: what others
		 * begun with it may still need for theirs */
		double took = me && me->after > 0 ? now - me->after : 0;
		took = took < SF_POLLSHARE_AFTER_MAX_S ? took : SF_POLLSHARE_AFTER_MAX_S;
		*g = (struct gather){open_gathers, c, k, now, now, took > max_s ? took : max_s, 1, 1, 0, json_array(), 0,
				     SF_ERR_INIT, NULL};
		if (me)
			me->g = g;
		add_ids(g, ids);
		open_gathers = g;
		gather_members(g);
		int members = g->members;
		json_t *all = json_incref(g->ids);
		pthread_mutex_unlock(&mu);
		if (members == 1) { /* alone: its own call, as ever */
			rc = sf_aws_query(c, "ec2", k->operation, args, &reply, &cerr);
		} else {
			json_t *p = json_pack("{s:[{s:s, s:O}]}", "Filter", "Name", k->filter, "Value", all);
			rc = sf_aws_query(c, "ec2", k->operation, p, &reply, &cerr);
			json_decref(p);
			sf_debug("ec2 %s: one call for %d waits (%zu ids)", k->operation, members, json_array_size(all));
		}
		pthread_mutex_lock(&mu);
		json_decref(all);
		if (members > 1)
			shared_calls++;
		g->rc = rc;
		g->err = cerr;
		g->reply = reply;
		reply = NULL;
		g->done = 1;
		pthread_cond_broadcast(&cv);
	}
	if (g->members == 1) { /* the leader alone: the call's own outcome */
		rc = g->rc;
		cerr = g->err;
		reply = g->reply;
		g->reply = NULL;
	} else {
		rc = part_of(g, ids, &reply, &cerr);
	}
	if ((me = entry_of(who)) != NULL) { /* polled: not poised again before it says when */
		me->g = NULL;
		me->due = DBL_MAX;
		me->after = 0;
	}
	if (--g->users == 0) {
		json_decref(g->ids);
		json_decref(g->reply);
		free(g);
	}
	pthread_mutex_unlock(&mu);
	return sf_aws_waiter_judge(def, args, rc, &cerr, reply, verdict, status, n, doc, err);
}
