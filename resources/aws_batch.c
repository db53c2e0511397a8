/* aws_batch.c - batched EC2 reads of a refresh (see aws_batch.h). */
#include "resources/aws_batch.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client.h"
#include "aws/xml.h"
#include "log.h"
#include "resources/aws_common.h"
#include "resources/providers.h"
#include "util.h"

/* The answers of one Describe action in one region and profile. */
struct group {
	char *key;
	json_t *asked;    /* {id: the filter's value for it}: recorded, not fetched yet */
	json_t *answered; /* {id: item, or null when the answer had none} */
	int busy;         /* a thread is fetching for this group */
	int fetched;      /* IAM, names: the account's listing was asked (once a run);
			   * role deletes: it failed (not asked again) */
	int listed;       /* names: it answered (answered holds every name) */
	double at;        /* role deletes: when the listing was read (sf_mono) */
	struct group *next;
};

struct ax_reads {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gathering;
	size_t fleet; /* workspaces a fleet run plans against nothing (ax_reads_fleet) */
	struct group *groups;
};

struct ax_reads *ax_reads_new(void)
{
	struct ax_reads *r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	return r;
}

void ax_reads_free(struct ax_reads *r)
{
	if (!r)
		return;
	for (struct group *g = r->groups, *n; g; g = n) {
		n = g->next;
		free(g->key);
		json_decref(g->asked);
		json_decref(g->answered);
		free(g);
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void ax_reads_fleet(struct ax_reads *r, size_t fresh)
{
	pthread_mutex_lock(&r->mu);
	r->fleet = fresh;
	pthread_mutex_unlock(&r->mu);
}

void ax_reads_gather(struct ax_reads *r, int on)
{
	pthread_mutex_lock(&r->mu);
	r->gathering = on;
	pthread_mutex_unlock(&r->mu);
}

/* The run's answers: the providers' own (made on first use) or the one a
 * fleet run lent them. */
static struct ax_reads *reads_of(struct sf_rctx *c, int make)
{
	struct sf_providers *p = c->provider;
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->mu);
	if (!p->reads && make)
		p->reads = ax_reads_new();
	struct ax_reads *r = p->reads;
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* Answers differ by action, region and credentials (the profile names
 * them; the environment is the process's own). */
static char *group_key(struct sf_rctx *c, struct sf_aws *a, const struct ax_batch_def *d)
{
	const struct sf_providers *p = c->provider;
	return xasprintf("%s\n%s\n%s", d->describe, sf_aws_region(a), p && p->profile ? p->profile : "");
}

/* Under r->mu. */
static struct group *group_get(struct ax_reads *r, const char *key, int make)
{
	for (struct group *g = r->groups; g; g = g->next)
		if (!strcmp(g->key, key))
			return g;
	if (!make)
		return NULL;
	struct group *g = xcalloc(1, sizeof *g);
	g->key = xstrdup(key);
	g->asked = json_object();
	g->answered = json_object();
	g->next = r->groups;
	r->groups = g;
	return g;
}

/* One filtered Describe of up to AX_BATCH_MAX_IDS values, every page:
 * *items {id: item}.  The filter form answers without what is gone. */
static int fetch_chunk(struct sf_rctx *c, struct sf_aws *a, const struct ax_batch_def *d, json_t *values,
		       json_t **items)
{
	json_t *p = json_pack("{s:[{s:s, s:O}]}", "Filter", "Name", d->filter, "Value", values);
	if (d->max_results)
		json_object_set_new(p, "MaxResults", json_integer(d->max_results));
	json_t *all = NULL;
	int rc = sf_aws_query_all(a, "ec2", d->describe, p, d->set_key, &all, c->err);
	json_decref(p);
	if (rc < 0)
		return rc;
	*items = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		const char *id = ax_s(e, d->id_key);
		if (id)
			json_object_set(*items, id, e);
	}
	json_decref(all);
	return 0;
}

int ax_ec2_batch(struct sf_rctx *c, const struct ax_batch_def *d, const json_t *const *priors, size_t n)
{
	struct ax_reads *r = reads_of(c, 1);
	struct sf_aws *a = r ? ax_client(c) : NULL;
	if (!a)
		return r ? c->err->code : 0;
	char *key = group_key(c, a, d);
	pthread_mutex_lock(&r->mu);
	struct group *g = group_get(r, key, 1);
	free(key);
	for (size_t i = 0; i < n; i++) {
		const char *id = ax_s(priors[i], "id"), *v = d->filter_attr ? ax_s(priors[i], d->filter_attr) : id;
		if (id && *id && v && *v && !json_object_get(g->answered, id))
			json_object_set_new(g->asked, id, json_string(v));
	}
	int rc = 0;
	while (!r->gathering) {
		while (g->busy)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!json_object_size(g->asked))
			break;
		/* take what is asked and not answered; others asking meanwhile
		 * wait for this fetch, then take what is left */
		json_t *take = json_array(), *vals = json_array();
		const char *id;
		json_t *v;
		json_object_foreach(g->asked, id, v) if (!json_object_get(g->answered, id))
		{
			json_array_append_new(take, json_string(id));
			json_array_append(vals, v);
		}
		json_object_clear(g->asked);
		g->busy = 1;
		pthread_mutex_unlock(&r->mu);
		json_t *got = json_object();
		for (size_t off = 0; rc == 0 && off < json_array_size(take); off += AX_BATCH_MAX_IDS) {
			json_t *chunk = json_array(), *values = json_array(), *items = NULL;
			for (size_t k = off; k < off + AX_BATCH_MAX_IDS && k < json_array_size(take); k++) {
				json_array_append(chunk, json_array_get(take, k));
				json_array_append(values, json_array_get(vals, k));
			}
			rc = fetch_chunk(c, a, d, values, &items);
			size_t k;
			json_t *x;
			/* an id the answer lacks is gone (null); a failed call
			 * answers nothing and each read asks on its own */
			json_array_foreach(chunk, k, x) if (rc == 0)
			{
				json_t *item = json_object_get(items, json_string_value(x));
				json_object_set(got, json_string_value(x), item ? item : json_null());
			}
			json_decref(items);
			json_decref(values);
			json_decref(chunk);
		}
		json_decref(vals);
		pthread_mutex_lock(&r->mu);
		json_object_update(g->answered, got);
		json_decref(got);
		json_decref(take);
		g->busy = 0;
		pthread_cond_broadcast(&r->cv);
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* The answer a group (key, freed here) holds for id: 0 with *obj (new
 * reference), SF_ENOTFOUND when the answer had none, 1 when nothing was
 * asked for it.  A fetch for the group under way may hold the answer, so
 * it is waited for.
 *
 * The copy is made after the lock is let go: every workspace of a fleet
 * takes its objects from here, and copying them under the one lock of
 * the run kept the others waiting.  An answer is never changed once
 * stored (an id is fetched only while it has none), and the reference
 * taken under the lock keeps it alive, so reading it unlocked is safe
 * (jansson's reference counts are atomic; json_deep_copy only reads). */
static int group_answer(struct sf_rctx *c, struct ax_reads *r, char *key, const char *id, const char *noun,
			json_t **obj)
{
	pthread_mutex_lock(&r->mu);
	struct group *g = group_get(r, key, 0);
	while (g && g->busy && !json_object_get(g->answered, id))
		pthread_cond_wait(&r->cv, &r->mu);
	json_t *x = g ? json_object_get(g->answered, id) : NULL;
	json_t *item = x && !json_is_null(x) ? json_incref(x) : NULL;
	pthread_mutex_unlock(&r->mu);
	free(key);
	if (item) {
		*obj = json_deep_copy(item);
		json_decref(item);
	}
	if (*obj)
		return 0;
	if (x)
		return sf_fail(c->err, SF_ENOTFOUND, "%s: %s%s not found", c->address, noun, id);
	return 1;
}

int ax_ec2_answer(struct sf_rctx *c, const struct ax_batch_def *d, const char *id, json_t **obj)
{
	*obj = NULL;
	struct ax_reads *r = c->refreshing && id ? reads_of(c, 0) : NULL;
	struct sf_aws *a = r ? ax_client(c) : NULL;
	if (!a)
		return 1;
	return group_answer(c, r, group_key(c, a, d), id, "", obj);
}

int ax_ec2_read(struct sf_rctx *c, const struct ax_batch_def *d, const char *id, json_t **obj)
{
	int rc = ax_ec2_answer(c, d, id, obj);
	if (rc <= 0)
		return rc;
	return ax_ec2_describe_one(c, d->describe, d->id_param, id, d->set_key, obj);
}

/* ---- IAM roles: one listing of the account ---- */

/* IAM is global: its listing differs by partition and credentials only. */
static char *iam_key(struct sf_rctx *c, struct sf_aws *a)
{
	const struct sf_providers *p = c->provider;
	const char *part = sf_aws_partition_of(a);
	return xasprintf("iam:GetAccountAuthorizationDetails\n%s\n%s", part ? part : "aws",
			 p && p->profile ? p->profile : "");
}

int ax_iam_role_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	struct ax_reads *r = reads_of(c, 1);
	struct sf_aws *a = r ? ax_client(c) : NULL;
	if (!a)
		return r ? c->err->code : 0;
	char *key = iam_key(c, a);
	pthread_mutex_lock(&r->mu);
	struct group *g = group_get(r, key, 1);
	free(key);
	for (size_t i = 0; i < n; i++) {
		const char *name = ax_s(priors[i], "name");
		if (name && *name && !json_object_get(g->answered, name))
			json_object_set_new(g->asked, name, json_true());
	}
	int rc = 0;
	while (!r->gathering) {
		while (g->busy)
			pthread_cond_wait(&r->cv, &r->mu);
		if (g->fetched || json_object_size(g->asked) < AX_IAM_BATCH_MIN_ROLES)
			break; /* listed already, or too few: each role reads itself */
		json_t *take = g->asked;
		g->asked = json_object();
		g->busy = 1;
		pthread_mutex_unlock(&r->mu);
		json_t *p = json_pack("{s:[s], s:i}", "Filter", "Role", "MaxItems", 1000), *all = NULL;
		rc = sf_aws_query_all(a, "iam", "GetAccountAuthorizationDetails", p, "RoleDetailList", &all, c->err);
		json_decref(p);
		if (rc < 0)
			sf_info("IAM: the account's role listing (GetAccountAuthorizationDetails) failed (%s); each of the %zu "
				"roles is read by itself", c->err->msg, json_object_size(take));
		json_t *got = json_object();
		if (rc == 0) {
			json_t *by = json_object();
			size_t i;
			json_t *e;
			json_array_foreach(all, i, e) if (ax_s(e, "RoleName")) json_object_set(by, ax_s(e, "RoleName"), e);
			const char *name;
			json_t *v;
			/* a role the listing lacks is gone (null) */
			json_object_foreach(take, name, v)
			{
				json_t *d = json_object_get(by, name);
				json_object_set(got, name, d ? d : json_null());
			}
			json_decref(by);
		}
		json_decref(all);
		pthread_mutex_lock(&r->mu);
		json_object_update(g->answered, got);
		json_decref(got);
		json_decref(take);
		g->fetched = 1; /* refused or failed: not asked again this run */
		g->busy = 0;
		pthread_cond_broadcast(&r->cv);
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int ax_iam_role_answer(struct sf_rctx *c, const char *name, json_t **detail)
{
	*detail = NULL;
	struct ax_reads *r = c->refreshing && name ? reads_of(c, 0) : NULL;
	struct sf_aws *a = r ? ax_client(c) : NULL;
	if (!a)
		return 1;
	return group_answer(c, r, iam_key(c, a), name, "IAM role ", detail);
}

/* ---- IAM roles deleted together: one listing, read as they start ---- */

struct role_pages {
	json_t *want;  /* {name: true}: the roles to find */
	json_t *found; /* {name: RoleDetail} */
	int pages, max_pages;
	int stopped;   /* every role found, or the page budget spent */
};

static int role_page(void *ctx, const json_t *page, struct sf_err *err)
{
	(void)err;
	struct role_pages *rp = ctx;
	size_t i;
	json_t *e, *list = sf_json_list(page, "RoleDetailList");
	json_array_foreach(list, i, e)
	{
		const char *n = ax_s(e, "RoleName");
		if (n && json_object_get(rp->want, n))
			json_object_set(rp->found, n, e);
	}
	json_decref(list);
	if (json_object_size(rp->found) < json_object_size(rp->want) && ++rp->pages < rp->max_pages)
		return 0;
	rp->stopped = 1;
	return -1; /* no need to read on */
}

/* The group of the listing read for role deletes (owned). */
static char *delete_key(struct sf_rctx *c, struct sf_aws *a)
{
	char *key = iam_key(c, a), *dkey = xasprintf("%s\ndeletes", key);
	free(key);
	return dkey;
}

int ax_iam_role_delete_batch(struct sf_rctx *c, const json_t *const *priors, size_t n)
{
	if (n < 2)
		return 0; /* one role: its own two calls cost no more */
	struct ax_reads *r = reads_of(c, 1);
	struct sf_aws *a = r ? ax_client(c) : NULL;
	if (!a)
		return r ? c->err->code : 0;
	char *dkey = delete_key(c, a);
	json_t *want = json_object();
	for (size_t i = 0; i < n; i++)
		if (ax_s(priors[i], "name") && *ax_s(priors[i], "name"))
			json_object_set_new(want, ax_s(priors[i], "name"), json_true());
	pthread_mutex_lock(&r->mu);
	struct group *g = group_get(r, dkey, 1);
	free(dkey);
	while (g->busy)
		pthread_cond_wait(&r->cv, &r->mu);
	int fresh = g->at > 0 && sf_mono() - g->at < AX_IAM_DELETE_FRESH_S;
	const char *name;
	json_t *v;
	json_object_foreach(want, name, v) if (!fresh || !json_object_get(g->answered, name)) break;
	/* all answered moments ago, one left to read, or refused once already */
	if (!name || json_object_size(want) < 2 || g->fetched) {
		pthread_mutex_unlock(&r->mu);
		json_decref(want);
		return 0;
	}
	g->busy = 1;
	pthread_mutex_unlock(&r->mu);
	/* fewer calls than reading each: at most 2n - 1 pages */
	struct role_pages rp = {want, json_object(), 0, 2 * (int)json_object_size(want) - 1, 0};
	json_t *p = json_pack("{s:[s], s:i}", "Filter", "Role", "MaxItems", 1000);
	int rc = sf_aws_query_pages(a, "iam", "GetAccountAuthorizationDetails", p, role_page, &rp, c->err);
	json_decref(p);
	if (rp.stopped)
		rc = 0;
	if (rc < 0)
		sf_debug("IAM: the account's role listing (GetAccountAuthorizationDetails) failed (%s); each of the %zu "
			 "roles deleted now is read by itself", c->err->msg, json_object_size(want));
	pthread_mutex_lock(&r->mu);
	json_object_clear(g->answered);
	if (rc == 0)
		json_object_foreach(want, name, v)
		{
			json_t *d = json_object_get(rp.found, name);
			/* missing from a listing read to its end: gone; from one cut short: unknown */
			if (d || !rp.stopped)
				json_object_set(g->answered, name, d ? d : json_null());
		}
	g->at = sf_mono();
	g->fetched = rc < 0; /* refused or failed: not asked again this run */
	g->busy = 0;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	json_decref(rp.found);
	json_decref(want);
	return rc;
}

int ax_iam_role_delete_answer(struct sf_rctx *c, const char *name, json_t **detail)
{
	*detail = NULL;
	struct ax_reads *r = name ? reads_of(c, 0) : NULL;
	struct sf_aws *a = r ? ax_client(c) : NULL;
	if (!a)
		return 1;
	char *dkey = delete_key(c, a);
	int rc = 1;
	pthread_mutex_lock(&r->mu);
	struct group *g = group_get(r, dkey, 0);
	free(dkey);
	json_t *d = g && g->at > 0 && sf_mono() - g->at < AX_IAM_DELETE_FRESH_S
			    ? json_object_get(g->answered, name)
			    : NULL;
	if (d && json_is_null(d))
		rc = sf_fail(c->err, SF_ENOTFOUND, "%s: IAM role %s does not exist", c->address, name);
	else if (d) {
		*detail = json_incref(d);
		rc = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* ---- names: one listing of the account for a fleet's name checks ---- */

/* IAM names are unique regardless of case (a role fn-x blocks Fn-X), so
 * they are listed and looked up folded; a name that differs only in case
 * is read by its own name, and IAM's by-name reads match it. */
const struct ax_names_def ax_names_iam_roles = {"IAM role", "iam", "ListRoles", "Roles", "RoleName", 1000, 0, 1};
const struct ax_names_def ax_names_iam_profiles = {"IAM instance profile", "iam", "ListInstanceProfiles",
						   "InstanceProfiles", "InstanceProfileName", 1000, 0, 1};
/* include=all: connected clusters (EKS Connector) hold names too */
const struct ax_names_def ax_names_eks_clusters = {"EKS cluster", "eks", "/clusters", "clusters", NULL, 0, 1, 0};

/* `name` as the listing keys it (owned): folded for IAM. */
static char *name_key(const struct ax_names_def *d, const char *name)
{
	char *k = xstrdup(name);
	for (char *p = k; d->fold_case && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

struct names_page {
	const struct ax_names_def *d;
	json_t *names; /* {name: true} */
};

static int names_page(void *ctx, const json_t *page, struct sf_err *err)
{
	(void)err;
	struct names_page *np = ctx;
	size_t i;
	json_t *e, *list = sf_json_list(page, np->d->list_key); /* a lone entry may come as an object */
	json_array_foreach(list, i, e)
	{
		const char *n = np->d->name_key ? ax_s(e, np->d->name_key) : json_string_value(e);
		if (n) {
			char *k = name_key(np->d, n);
			json_object_set_new(np->names, k, json_true());
			free(k);
		}
	}
	json_decref(list);
	return 0;
}

/* Every name of d's kind (*names {name: true}), every page. */
static int names_fetch(struct sf_aws *a, const struct ax_names_def *d, json_t **names, struct sf_err *err)
{
	struct names_page np = {d, json_object()};
	int rc;
	if (!strcmp(d->service, "eks")) {
		rc = sf_aws_rest_json_pages(a, d->service, d->list, "maxResults=100&include=all", names_page, &np, err);
	} else {
		json_t *p = d->max_items ? json_pack("{s:i}", "MaxItems", d->max_items) : json_object();
		rc = sf_aws_query_pages(a, d->service, d->list, p, names_page, &np, err);
		json_decref(p);
	}
	if (rc < 0) {
		json_decref(np.names);
		return rc;
	}
	*names = np.names;
	return 0;
}

int ax_name_listed(struct sf_rctx *c, const struct ax_names_def *d, const char *name)
{
	struct ax_reads *r = c->name_check && name ? reads_of(c, 0) : NULL;
	if (!r)
		return 1;
	pthread_mutex_lock(&r->mu);
	size_t fleet = r->fleet;
	pthread_mutex_unlock(&r->mu);
	struct sf_aws *a = fleet >= AX_NAMES_FLEET_MIN ? ax_client(c) : NULL;
	if (!a) {
		sf_err_clear(c->err); /* no client: the check's own read says why */
		return 1;
	}
	const struct sf_providers *p = c->provider;
	const char *where = d->regional ? sf_aws_region(a) : sf_aws_partition_of(a);
	char *key = xasprintf("names:%s\n%s\n%s", d->list, where ? where : "", p && p->profile ? p->profile : "");
	pthread_mutex_lock(&r->mu);
	struct group *g = group_get(r, key, 1);
	free(key);
	while (g->busy)
		pthread_cond_wait(&r->cv, &r->mu);
	if (!g->fetched) {
		g->busy = 1;
		pthread_mutex_unlock(&r->mu);
		json_t *names = NULL;
		struct sf_err e = SF_ERR_INIT; /* a failed listing is not the check's error */
		int rc = names_fetch(a, d, &names, &e);
		if (rc < 0)
			sf_info("%s names: the account's listing (%s) failed (%s); each name is checked by itself", d->noun,
				d->list, e.msg);
		else
			sf_debug("%s names: %zu listed for the fleet's checks", d->noun, json_object_size(names));
		pthread_mutex_lock(&r->mu);
		if (rc == 0) {
			json_decref(g->answered);
			g->answered = names;
			g->listed = 1;
		}
		g->fetched = 1; /* refused or failed: not asked again this run */
		g->busy = 0;
		pthread_cond_broadcast(&r->cv);
	}
	char *k = name_key(d, name);
	int ask = !g->listed || json_object_get(g->answered, k) != NULL;
	pthread_mutex_unlock(&r->mu);
	free(k);
	return ask;
}
