/* estimate.c - see estimate.h. */
#include "resources/estimate.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aws/pricing.h"
#include "resources/eks_versions.h"
#include "resources/provider.h"
#include "util.h"

/* ---- the built-in price table ---- */

/* On-Demand USD, as AWS's price pages and Price List offer files give
 * them on PRICE_DATE (EC2: Linux, shared tenancy). */
#define PRICE_DATE "2026-11-20"
#define EKS_HOUR 0.10
#define EKS_EXTENDED_HOUR 0.50 /* on top of EKS_HOUR */

struct itype_price {
	const char *type;
	double hour;
};

static const struct region_prices {
	const char *region;
	double nat_hour, nlb_hour, clb_hour, gp3_gb_month;
	struct itype_price inst[10];
} builtin[] = {
	{"us-east-1", 0.045, 0.0225, 0.025, 0.08,
	 {{"t3.medium", 0.0416}, {"t3.large", 0.0832}, {"m5.large", 0.096}, {"m6i.large", 0.096}, {"m6i.xlarge", 0.192},
	  {"m6i.2xlarge", 0.384}, {"m6a.xlarge", 0.1728}, {"m7g.large", 0.0816}, {"m7g.xlarge", 0.1632},
	  {"c6i.large", 0.085}}},
	{"us-west-2", 0.045, 0.0225, 0.025, 0.08,
	 {{"t3.medium", 0.0416}, {"t3.large", 0.0832}, {"m5.large", 0.096}, {"m6i.large", 0.096}, {"m6i.xlarge", 0.192},
	  {"m6i.2xlarge", 0.384}, {"m6a.xlarge", 0.1728}, {"m7g.large", 0.0816}, {"m7g.xlarge", 0.1632},
	  {"c6i.large", 0.085}}},
	{"eu-west-1", 0.048, 0.0252, 0.028, 0.088,
	 {{"t3.medium", 0.0456}, {"t3.large", 0.0912}, {"m5.large", 0.107}, {"m6i.large", 0.107}, {"m6i.xlarge", 0.214},
	  {"m6i.2xlarge", 0.428}, {"m6a.xlarge", 0.1926}, {"m7g.large", 0.091}, {"m7g.xlarge", 0.182},
	  {"c6i.large", 0.096}}},
	{"eu-central-1", 0.052, 0.027, 0.03, 0.0952,
	 {{"t3.medium", 0.048}, {"t3.large", 0.096}, {"m5.large", 0.115}, {"m6i.large", 0.115}, {"m6i.xlarge", 0.23},
	  {"m6i.2xlarge", 0.46}, {"m6a.xlarge", 0.207}, {"m7g.large", 0.0972}, {"m7g.xlarge", 0.1944},
	  {"c6i.large", 0.097}}},
};

static void prices_init(struct sf_prices *p, const char *region)
{
	memset(p, 0, sizeof *p);
	snprintf(p->region, sizeof p->region, "%s", region ? region : "");
	p->eks_hour = p->eks_extended_hour = p->nat_hour = p->nlb_hour = p->clb_hour = p->gp3_gb_month = -1;
	p->instances = json_object();
}

int sf_prices_builtin(struct sf_prices *p, const char *region)
{
	prices_init(p, region);
	snprintf(p->source, sizeof p->source, "built-in price table");
	snprintf(p->date, sizeof p->date, "%s", PRICE_DATE);
	for (size_t i = 0; region && i < SF_ARRAY_LEN(builtin); i++) {
		const struct region_prices *r = &builtin[i];
		if (strcmp(r->region, region))
			continue;
		p->eks_hour = EKS_HOUR;
		p->eks_extended_hour = EKS_EXTENDED_HOUR;
		p->nat_hour = r->nat_hour;
		p->nlb_hour = r->nlb_hour;
		p->clb_hour = r->clb_hour;
		p->gp3_gb_month = r->gp3_gb_month;
		for (size_t k = 0; k < SF_ARRAY_LEN(r->inst) && r->inst[k].type; k++)
			json_object_set_new(p->instances, r->inst[k].type, json_real(r->inst[k].hour));
		return 0;
	}
	return SF_ENOTFOUND;
}

void sf_prices_release(struct sf_prices *p)
{
	free(p->fallback);
	json_decref(p->instances);
	memset(p, 0, sizeof *p);
}

/* ---- the Price List API ---- */

struct fetch {
	struct sf_prices *p;
	char date[16];
};

static int ends_with(const char *s, const char *tail)
{
	size_t n = s ? strlen(s) : 0, t = strlen(tail);
	return n >= t && !strcmp(s + n - t, tail);
}

/* Remember the publication day; a listing of several days keeps the oldest. */
static void note_date(struct fetch *f, const json_t *doc)
{
	const char *d = json_string_value(json_object_get(doc, "publicationDate"));
	if (d && strlen(d) >= 10 && (!f->date[0] || strncmp(d, f->date, 10) < 0))
		snprintf(f->date, sizeof f->date, "%.10s", d);
}

static int on_product(void *ctx, const json_t *doc, struct sf_err *err)
{
	(void)err;
	struct fetch *f = ctx;
	const char *unit = NULL, *usage = sf_pricing_attr(doc, "usagetype");
	const char *family = json_string_value(json_object_get(json_object_get(doc, "product"), "productFamily"));
	double v = sf_pricing_on_demand(doc, &unit);
	if (v < 0 || !usage || !family)
		return 0;
	note_date(f, doc);
	if (ends_with(usage, "AmazonEKS-Hours:perCluster"))
		f->p->eks_hour = v;
	else if (ends_with(usage, "AmazonEKS-Hours:extendedSupport"))
		f->p->eks_extended_hour = v;
	else if (!strcmp(family, "NAT Gateway") && ends_with(usage, "NatGateway-Hours"))
		f->p->nat_hour = v;
	else if (!strcmp(family, "Load Balancer-Network") && ends_with(usage, "LoadBalancerUsage"))
		f->p->nlb_hour = v;
	else if (!strcmp(family, "Load Balancer") && ends_with(usage, "LoadBalancerUsage"))
		f->p->clb_hour = v;
	else if (!strcmp(family, "Storage") && ends_with(usage, "EBS:VolumeUsage.gp3"))
		f->p->gp3_gb_month = v;
	else if (!strcmp(family, "Compute Instance") && sf_pricing_attr(doc, "instanceType"))
		json_object_set_new(f->p->instances, sf_pricing_attr(doc, "instanceType"), json_real(v));
	return 0;
}

/* GetProducts for region into f->p: the EKS, NAT, EBS and load balancer
 * prices when base, and the instance types listed (none: no query). */
static int fetch_products(struct fetch *f, struct sf_aws *c, const char *region, const json_t *instance_types,
			  int base, struct sf_err *err)
{
	json_t *q[5];
	const char *svc[5] = {"AmazonEKS", "AmazonEC2", "AmazonEC2", "AmazonEC2", "AWSELB"};
	for (size_t i = 0; i < 5; i++) {
		q[i] = json_array();
		sf_pricing_filter(q[i], "TERM_MATCH", "regionCode", region);
	}
	sf_pricing_filter(q[1], "TERM_MATCH", "productFamily", "NAT Gateway");
	sf_pricing_filter(q[2], "TERM_MATCH", "productFamily", "Storage");
	sf_pricing_filter(q[2], "TERM_MATCH", "volumeApiName", "gp3");
	sf_pricing_filter(q[4], "ANY_OF", "productFamily", "Load Balancer-Network,Load Balancer");
	/* instances: Linux, shared tenancy, no pre-installed software, the
	 * "Used" row (AWS lists capacity-reservation twins beside each) */
	struct sf_buf types = SF_BUF_INIT;
	size_t i;
	json_t *t;
	json_array_foreach(instance_types, i, t) sf_buf_printf(&types, "%s%s", i ? "," : "", json_string_value(t));
	sf_pricing_filter(q[3], "TERM_MATCH", "productFamily", "Compute Instance");
	sf_pricing_filter(q[3], "ANY_OF", "instanceType", sf_buf_cstr(&types));
	sf_pricing_filter(q[3], "TERM_MATCH", "operatingSystem", "Linux");
	sf_pricing_filter(q[3], "TERM_MATCH", "tenancy", "Shared");
	sf_pricing_filter(q[3], "TERM_MATCH", "preInstalledSw", "NA");
	sf_pricing_filter(q[3], "TERM_MATCH", "capacitystatus", "Used");
	int rc = 0;
	for (size_t k = 0; k < 5 && rc == 0; k++)
		if (k == 3 ? types.len > 0 : base)
			rc = sf_pricing_products(c, svc[k], q[k], on_product, f, err);
	for (size_t k = 0; k < 5; k++)
		json_decref(q[k]);
	sf_buf_release(&types);
	return rc;
}

int sf_prices_fetch(struct sf_prices *p, struct sf_aws *c, const char *region, const json_t *instance_types,
		    struct sf_err *err)
{
	prices_init(p, region);
	struct fetch f = {p, ""};
	int rc = fetch_products(&f, c, region, instance_types, 1, err);
	if (rc < 0)
		return rc;
	snprintf(p->source, sizeof p->source, "AWS Price List API");
	snprintf(p->date, sizeof p->date, "%s", f.date[0] ? f.date : "unknown day");
	return 0;
}

/* ---- a run's prices, by region ---- */

struct price_entry {
	char region[32];
	struct sf_prices prices;  /* as fetched so far */
	json_t *asked;            /* {"m6i.large": true}: instance types asked for */
	struct sf_err failed;     /* the first ask's error; code 0: it answered */
};

struct sf_price_cache {
	pthread_mutex_t mu;       /* held while asking, so a region is asked once */
	struct price_entry *v;
	size_t n;
	size_t calls;             /* sf_prices_fetch-equivalents made (for tests) */
};

struct sf_price_cache *sf_price_cache_new(void)
{
	struct sf_price_cache *pc = xcalloc(1, sizeof *pc);
	pthread_mutex_init(&pc->mu, NULL);
	return pc;
}

void sf_price_cache_free(struct sf_price_cache *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < pc->n; i++) {
		sf_prices_release(&pc->v[i].prices);
		json_decref(pc->v[i].asked);
	}
	free(pc->v);
	pthread_mutex_destroy(&pc->mu);
	free(pc);
}

static void prices_copy(struct sf_prices *dst, const struct sf_prices *src)
{
	*dst = *src;
	dst->fallback = src->fallback ? xstrdup(src->fallback) : NULL;
	dst->instances = json_deep_copy(src->instances);
}

int sf_price_cache_get(struct sf_price_cache *pc, struct sf_aws *c, const char *region, const json_t *instance_types,
		       struct sf_prices *p, struct sf_err *err)
{
	pthread_mutex_lock(&pc->mu);
	struct price_entry *e = NULL;
	for (size_t i = 0; i < pc->n && !e; i++)
		if (!strcmp(pc->v[i].region, region))
			e = &pc->v[i];
	int rc = 0;
	if (!e) {
		pc->v = xrealloc(pc->v, (pc->n + 1) * sizeof *pc->v);
		e = &pc->v[pc->n++];
		memset(e, 0, sizeof *e);
		snprintf(e->region, sizeof e->region, "%s", region);
		e->asked = json_object();
		rc = sf_prices_fetch(&e->prices, c, region, instance_types, &e->failed);
		pc->calls++;
		size_t i;
		json_t *t;
		json_array_foreach(instance_types, i, t) json_object_set_new(e->asked, json_string_value(t), json_true());
	} else if (!e->failed.code) {
		/* only the types no workspace of this run asked for yet */
		json_t *missing = json_array();
		size_t i;
		json_t *t;
		json_array_foreach(instance_types, i, t) if (json_is_string(t) && !json_object_get(e->asked, json_string_value(t)))
			json_array_append(missing, t);
		if (json_array_size(missing)) {
			struct fetch f = {&e->prices, ""};
			snprintf(f.date, sizeof f.date, "%s", e->prices.date);
			rc = fetch_products(&f, c, region, missing, 0, err);
			pc->calls++;
			if (rc == 0) {
				snprintf(e->prices.date, sizeof e->prices.date, "%s", f.date);
				json_array_foreach(missing, i, t) json_object_set_new(e->asked, json_string_value(t), json_true());
			}
		}
		json_decref(missing);
	}
	if (e->failed.code) {
		/* the API did not answer this run: not asked again for the region */
		*err = e->failed;
		rc = -1;
	}
	if (rc == 0)
		prices_copy(p, &e->prices);
	else
		prices_init(p, region);
	pthread_mutex_unlock(&pc->mu);
	return rc < 0 ? rc : 0;
}

size_t sf_price_cache_calls(const struct sf_price_cache *pc)
{
	return pc ? pc->calls : 0;
}

/* ---- what the plan leaves behind ---- */

static int exists_after(const struct sf_change *ch)
{
	return ch->type && ch->action != SF_ACT_DELETE && json_is_object(ch->after);
}

static const char *tname(const struct sf_change *ch)
{
	return ch->type ? ch->type->name : "";
}

static const char *sattr(const struct sf_change *ch, const char *k)
{
	return json_string_value(json_object_get(ch->after, k));
}

static long long iattr(const struct sf_change *ch, const char *k, long long dflt)
{
	const json_t *v = json_object_get(ch->after, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* A `LoadBalancer` Service: 1 classic, 2 network load balancer, 0 none.
 * Without the aws-load-balancer-type annotation Kubernetes' AWS cloud
 * provider makes a classic one. */
static int load_balancer(const struct sf_change *ch)
{
	if (strcmp(tname(ch), "k8s_manifest"))
		return 0;
	const json_t *m = json_object_get(ch->after, "manifest");
	const char *kind = json_string_value(json_object_get(m, "kind"));
	const char *type = json_string_value(json_object_get(json_object_get(m, "spec"), "type"));
	if (!kind || strcmp(kind, "Service") || !type || strcmp(type, "LoadBalancer"))
		return 0;
	const char *lbt = json_string_value(json_object_get(json_object_get(json_object_get(m, "metadata"),
									    "annotations"),
							    "service.beta.kubernetes.io/aws-load-balancer-type"));
	return lbt && (!strcmp(lbt, "nlb") || !strcmp(lbt, "external") || !strcmp(lbt, "nlb-ip")) ? 2 : 1;
}

int sf_estimate_wanted(const struct sf_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_provider *p = sf_provider_of(plan->v[i].type);
		if (p && p != &sf_provider_core)
			return 1;
	}
	return 0;
}

json_t *sf_estimate_instance_types(const struct sf_plan *plan)
{
	json_t *seen = json_object(), *out = json_array();
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *ch = &plan->v[i];
		if (!exists_after(ch) || strcmp(tname(ch), "eks_nodegroup"))
			continue;
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(ch->after, "instance_types"), k, t)
		{
			if (json_is_string(t) && !json_object_get(seen, json_string_value(t))) {
				json_object_set_new(seen, json_string_value(t), json_true());
				json_array_append(out, t);
			}
		}
	}
	json_decref(seen);
	return out;
}

/* ---- cost ---- */

static double r6(double v)
{
	return round(v * 1e6) / 1e6;
}

static double r2(double v)
{
	return round(v * 100) / 100;
}

struct cost {
	json_t *items, *unpriced;
	double hourly;
	double spot_hourly; /* the part of hourly that is Spot at its On-Demand ceiling */
};

/* One line of the bill: count × unit_price per unit; per_month: the unit
 * price is per month (EBS GB-months), not per hour. */
static json_t *item(struct cost *c, const char *what, const char *address, long long count, const char *unit,
		    double price, int per_month, const char *note)
{
	if (price < 0) {
		json_array_append_new(c->unpriced, json_string(what));
		return NULL;
	}
	double hourly = per_month ? (double)count * price / SF_HOURS_PER_MONTH : (double)count * price;
	json_t *it = json_pack("{s:s, s:I, s:s, s:f, s:f, s:f}", "what", what, "count", (json_int_t)count, "unit", unit,
			       "unit_price", price, "hourly", r6(hourly), "monthly", r2(hourly * SF_HOURS_PER_MONTH));
	if (address)
		json_object_set_new(it, "address", json_string(address));
	if (note)
		json_object_set_new(it, "note", json_string(note));
	json_array_append_new(c->items, it);
	c->hourly += hourly;
	return it;
}

static double instance_price(const struct sf_prices *p, const char *type)
{
	const json_t *v = json_object_get(p->instances, type ? type : "");
	return json_is_number(v) ? json_number_value(v) : -1;
}

/* Root volume GiB of one node of group ch: its own disk_size, else the
 * launch template it depends on, else EKS's default of 20. */
static long long node_disk(const struct sf_plan *plan, const struct sf_change *ch)
{
	long long d = iattr(ch, "disk_size", 0);
	for (size_t k = 0; !d && k < ch->ndeps; k++) {
		const struct sf_change *lt = sf_plan_find(plan, ch->deps[k]);
		if (lt && exists_after(lt) && !strcmp(tname(lt), "aws_launch_template"))
			d = iattr(lt, "disk_size", 0);
	}
	return d > 0 ? d : 20;
}

#define SPOT_NOTE "Spot: up to the On-Demand figure"

static void node_group(struct cost *c, const struct sf_plan *plan, const struct sf_change *ch,
		       const struct sf_prices *p, long long *ebs_gib)
{
	const json_t *types = json_object_get(ch->after, "instance_types");
	const char *cap = sattr(ch, "capacity_type");
	int spot = cap && !strcmp(cap, "SPOT");
	long long n = iattr(ch, "desired_size", 0);
	if (n <= 0 || !json_array_size(types))
		return;
	/* On-Demand groups launch the first type (EKS's "prioritized"
	 * strategy); Spot ones any of them, so the dearest bounds the bill */
	const char *type = json_string_value(json_array_get(types, 0));
	double price = instance_price(p, type);
	struct sf_buf what = SF_BUF_INIT;
	if (spot) {
		size_t k;
		json_t *t;
		sf_buf_puts(&what, "");
		json_array_foreach(types, k, t)
		{
			double v = instance_price(p, json_string_value(t));
			sf_buf_printf(&what, "%s%s", k ? "|" : "", json_string_value(t));
			if (v < 0 || price < 0)
				price = -1;
			else if (v > price)
				price = v;
		}
		sf_buf_puts(&what, " Spot");
	} else {
		sf_buf_printf(&what, "%s On-Demand", type);
	}
	/* The Price List API has no Spot prices (they move with the market):
	 * a Spot group is shown at its On-Demand figure, as a ceiling, and
	 * says so in its line, in JSON and in the total. */
	json_t *it = item(c, sf_buf_cstr(&what), ch->address, n, "instance-hour", price, 0,
			  spot ? SPOT_NOTE : NULL);
	if (it && spot) {
		json_object_set_new(it, "capacity_type", json_string("SPOT"));
		json_object_set_new(it, "price_is_ceiling", json_true());
		c->spot_hourly += json_number_value(json_object_get(it, "hourly"));
	}
	sf_buf_release(&what);
	*ebs_gib += n * node_disk(plan, ch);
}

static json_t *cost_items(const struct sf_plan *plan, const struct sf_estimate_opts *o, double *hourly,
			  double *spot_hourly, json_t **unpriced)
{
	const struct sf_prices *p = o->prices;
	struct cost c = {json_array(), json_array(), 0, 0};
	long long ebs = 0;
	int nat = 0, clb = 0, nlb = 0;
	for (size_t i = 0; i < plan->n; i++) {
		const struct sf_change *ch = &plan->v[i];
		if (!exists_after(ch))
			continue;
		const char *t = tname(ch);
		if (!strcmp(t, "eks_cluster")) {
			const char *ver = sattr(ch, "version");
			const struct sf_eks_version *v = sf_eks_version_find(ver);
			enum sf_eks_support s = v ? sf_eks_version_support(v, o->now) : SF_EKS_STANDARD;
			int ext = s == SF_EKS_EXTENDED || s == SF_EKS_UNSUPPORTED;
			char *note = xasprintf("Kubernetes %s, %s", ver ? ver : "?", sf_eks_support_name(s));
			double price = ext ? (p->eks_hour < 0 || p->eks_extended_hour < 0 ? -1
											   : p->eks_hour + p->eks_extended_hour)
					   : p->eks_hour;
			item(&c, ext ? "EKS control plane (extended support)" : "EKS control plane", ch->address, 1,
			     "cluster-hour", price, 0, note);
			free(note);
		} else if (!strcmp(t, "eks_nodegroup")) {
			node_group(&c, plan, ch, p, &ebs);
		} else if (!strcmp(t, "aws_nat_gateway")) {
			nat++;
		} else {
			int lb = load_balancer(ch);
			clb += lb == 1;
			nlb += lb == 2;
		}
	}
	if (nat)
		item(&c, "NAT gateway", NULL, nat, "gateway-hour", p->nat_hour, 0, "plus data processed");
	if (clb)
		item(&c, "Classic load balancer", NULL, clb, "balancer-hour", p->clb_hour, 0, "plus data processed");
	if (nlb)
		item(&c, "Network load balancer", NULL, nlb, "balancer-hour", p->nlb_hour, 0, "plus capacity units");
	if (ebs)
		item(&c, "EBS gp3 root volumes", NULL, ebs, "GiB-month", p->gp3_gb_month, 1, NULL);
	*hourly = c.hourly;
	*spot_hourly = c.spot_hourly;
	*unpriced = c.unpriced;
	return c.items;
}

/* ---- time ---- */

struct step {
	double lo, hi;     /* this change's own duration */
	double flo, fhi;   /* finishing time along its longest chain */
	int state;         /* 0 unseen, 1 visiting, 2 done */
	long prev;         /* the dependency on that chain, or -1 */
};

/* Typical seconds (low, high) of one phase: this workspace's history when
 * it has one, else what the type declares (its `typical`: EKS's documented
 * and observed durations, a control plane in about 10 minutes, a managed
 * node group in a few, a rolling node update in a quarter of an hour, an
 * image bake about 10 minutes), else an API call or two. */
static int typical(const struct sf_estimate_opts *o, const struct sf_rtype *type, const char *phase, double *lo,
		   double *hi, int *hist, int *builtin_used)
{
	const char *name = type ? type->name : "";
	if (o->typical && o->typical(o->typical_ctx, name, phase, lo, hi)) {
		*hist = 1;
		return 0;
	}
	*builtin_used = 1;
	const struct sf_span *t = NULL;
	if (type)
		t = !strcmp(phase, "create")   ? &type->typical.create
		    : !strcmp(phase, "update") ? &type->typical.update
					       : &type->typical.delete;
	if (t && t->hi > 0) {
		*lo = t->lo;
		*hi = t->hi;
		return 0;
	}
	/* an API call or two */
	*lo = 1;
	*hi = 5;
	return 0;
}

static void step_time(const struct sf_change *ch, const struct sf_estimate_opts *o, struct step *s, int *hist,
		      int *blt)
{
	double lo = 0, hi = 0, a, b;
	const struct sf_rtype *t = ch->type;
	switch (ch->action) {
	case SF_ACT_NOOP: break;
	case SF_ACT_CREATE:
	case SF_ACT_UPDATE:
		typical(o, t, ch->action == SF_ACT_CREATE ? "create" : "update", &lo, &hi, hist, blt);
		break;
	case SF_ACT_DELETE: typical(o, t, "delete", &lo, &hi, hist, blt); break;
	case SF_ACT_REPLACE:
	case SF_ACT_REPLACE_CBD:
		typical(o, t, "create", &lo, &hi, hist, blt);
		if (!ch->keep_old) {
			typical(o, t, "delete", &a, &b, hist, blt);
			lo += a;
			hi += b;
		}
		break;
	}
	s->lo = lo;
	s->hi = hi;
}

/* Does ch wait for dep's whole change?  Not for one it needs only to exist:
 * that wait is the create call's, which the estimate counts as nothing. */
static int waits_ready(const struct sf_change *ch, const char *dep)
{
	return sf_change_waits_for(ch, dep) && !sf_change_accepts(ch, dep);
}

static void finish(const struct sf_plan *plan, struct step *s, size_t i)
{
	if (s[i].state == 2 || s[i].state == 1)
		return; /* done, or a circle through state and spec deps: cut it */
	s[i].state = 1;
	const struct sf_change *ch = &plan->v[i];
	double blo = 0, bhi = 0;
	for (size_t k = 0; k < ch->ndeps; k++) {
		const struct sf_change *d = sf_plan_find(plan, ch->deps[k]);
		if (!d || !waits_ready(ch, ch->deps[k]))
			continue;
		size_t j = (size_t)(d - plan->v);
		finish(plan, s, j);
		if (s[j].state == 2 && s[j].fhi > bhi) {
			bhi = s[j].fhi;
			blo = s[j].flo;
			s[i].prev = (long)j;
		}
	}
	s[i].flo = blo + s[i].lo;
	s[i].fhi = bhi + s[i].hi;
	s[i].state = 2;
}

/* The apply's length with at most `workers` changes at once (0: no
 * bound), as the engine runs it: whenever a worker is free it takes the
 * first change in plan order whose dependencies are done
 * (provisioner/engine/apply.c).  hi: use each step's high duration, else
 * its low one.  A dependency circle the plan would refuse is cut at its
 * first change, as finish() cuts it. */
static double makespan(const struct sf_plan *plan, const struct step *s, int workers, int hi)
{
	size_t n = plan->n;
	long *dep = NULL;
	size_t *ndep = xcalloc(n + 1, sizeof *ndep), *off = xcalloc(n + 1, sizeof *off), total = 0;
	for (size_t i = 0; i < n; i++) {
		off[i] = total;
		total += plan->v[i].ndeps;
	}
	dep = xcalloc(total + 1, sizeof *dep);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < plan->v[i].ndeps; k++) {
			const struct sf_change *d = sf_plan_find(plan, plan->v[i].deps[k]);
			if (d && d != &plan->v[i] && waits_ready(&plan->v[i], plan->v[i].deps[k]))
				dep[off[i] + ndep[i]++] = (long)(d - plan->v);
		}
	/* state: 0 waiting, 1 running (until end[i]), 2 done */
	int *st = xcalloc(n + 1, sizeof *st);
	double *end = xcalloc(n + 1, sizeof *end), now = 0;
	size_t done = 0, running = 0;
	while (done < n) {
		int started = 0;
		for (size_t i = 0; i < n && (workers <= 0 || running < (size_t)workers); i++) {
			if (st[i])
				continue;
			size_t k = 0;
			while (k < ndep[i] && st[dep[off[i] + k]] == 2)
				k++;
			if (k < ndep[i])
				continue;
			st[i] = 1;
			end[i] = now + (hi ? s[i].hi : s[i].lo);
			running++;
			started = 1;
		}
		if (!running && !started) {
			/* a circle: start its first waiting change regardless */
			for (size_t i = 0; i < n; i++)
				if (!st[i]) {
					st[i] = 1;
					end[i] = now + (hi ? s[i].hi : s[i].lo);
					running++;
					break;
				}
		}
		/* the next change to end, and every one ending with it */
		double next = -1;
		for (size_t i = 0; i < n; i++)
			if (st[i] == 1 && (next < 0 || end[i] < next))
				next = end[i];
		now = next;
		for (size_t i = 0; i < n; i++)
			if (st[i] == 1 && end[i] <= now) {
				st[i] = 2;
				running--;
				done++;
			}
	}
	free(st);
	free(end);
	free(dep);
	free(ndep);
	free(off);
	return now;
}

static void apply_time(json_t *est, const struct sf_plan *plan, const struct sf_estimate_opts *o)
{
	struct step *s = xcalloc(plan->n ? plan->n : 1, sizeof *s);
	int hist = 0, blt = 0;
	for (size_t i = 0; i < plan->n; i++) {
		s[i].prev = -1;
		step_time(&plan->v[i], o, &s[i], &hist, &blt);
	}
	long end = -1;
	for (size_t i = 0; i < plan->n; i++) {
		finish(plan, s, i);
		if (end < 0 || s[i].fhi > s[end].fhi)
			end = (long)i;
	}
	json_t *path = json_array();
	for (long i = end; i >= 0; i = s[i].prev)
		if (s[i].hi > 0)
			json_array_insert_new(path, 0, json_pack("{s:s, s:f, s:f}", "address", plan->v[i].address, "low",
								 s[i].lo, "high", s[i].hi));
	double clo = end >= 0 ? round(s[end].flo) : 0.0, chi = end >= 0 ? round(s[end].fhi) : 0.0;
	/* the longest chain is the floor; with --parallelism N the engine
	 * runs at most N changes at once, and a wide plan waits for workers */
	double lo = clo, hi = chi;
	if (o->parallelism > 0 && plan->n) {
		lo = fmax(clo, round(makespan(plan, s, o->parallelism, 0)));
		hi = fmax(chi, round(makespan(plan, s, o->parallelism, 1)));
	}
	json_object_set_new(est, "apply_seconds", json_pack("{s:f, s:f}", "low", lo, "high", hi));
	json_object_set_new(est, "critical_path_seconds", json_pack("{s:f, s:f}", "low", clo, "high", chi));
	json_object_set_new(est, "parallelism", json_integer(o->parallelism > 0 ? o->parallelism : 0));
	json_object_set_new(est, "time_source", json_string(hist && blt ? "this workspace's past runs, else built-in typical EKS timings"
							   : hist  ? "this workspace's past runs"
								   : "built-in typical EKS timings"));
	json_object_set_new(est, "critical_path", path);
	free(s);
}

json_t *sf_estimate_make(const struct sf_plan *plan, const struct sf_estimate_opts *o)
{
	const struct sf_prices *p = o->prices;
	double hourly = 0, spot = 0;
	json_t *unpriced = NULL;
	json_t *items = cost_items(plan, o, &hourly, &spot, &unpriced);
	json_t *est = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:f, s:f, s:o}", "currency", "USD", "region", p->region,
				"price_source", p->source, "price_date", p->date, "hours_per_month", SF_HOURS_PER_MONTH,
				"items", items, "hourly", r6(hourly), "monthly", r2(hourly * SF_HOURS_PER_MONTH),
				"unpriced", unpriced);
	if (p->fallback)
		json_object_set_new(est, "price_fallback", json_string(p->fallback));
	/* with Spot in it the total is a ceiling: say so, and what is firm */
	json_object_set_new(est, "total_is_ceiling", json_boolean(spot > 0));
	if (spot > 0)
		json_object_set_new(est, "spot",
				    json_pack("{s:s, s:f, s:f, s:f, s:f}", "note",
					      SPOT_NOTE " (the Price List API has no Spot prices)", "hourly_at_most", r6(spot),
					      "monthly_at_most", r2(spot * SF_HOURS_PER_MONTH), "hourly_without_spot",
					      r6(hourly - spot), "monthly_without_spot",
					      r2((hourly - spot) * SF_HOURS_PER_MONTH)));
	apply_time(est, plan, o);
	return est;
}

/* ---- for people ---- */

#define SLOW_STEP 60 /* seconds: a step of the longest chain worth naming */

static void duration(struct sf_buf *b, double s)
{
	if (s < 90)
		sf_buf_printf(b, "%.0fs", s);
	else if (s < 5400)
		sf_buf_printf(b, "%.0f min", s / 60);
	else
		sf_buf_printf(b, "%.1f h", s / 3600);
}

static double num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

void sf_estimate_render(const json_t *est, FILE *out, int color)
{
	const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
	fprintf(out, "%sEstimate%s of what will exist (%s, USD; prices: %s, published %s):\n", bold, off,
		json_string_value(json_object_get(est, "region")), json_string_value(json_object_get(est, "price_source")),
		json_string_value(json_object_get(est, "price_date")));
	const char *fb = json_string_value(json_object_get(est, "price_fallback"));
	if (fb)
		fprintf(out, "  (%s)\n", fb);
	size_t i;
	json_t *it;
	int w = 12, rw = 34;
	char rate[96], h[32], m[32];
	json_array_foreach(json_object_get(est, "items"), i, it)
	{
		int l = (int)strlen(json_string_value(json_object_get(it, "what")));
		w = l > w ? l : w;
		l = snprintf(rate, sizeof rate, "%lld x %s$%.4f per %s",
			     (long long)json_integer_value(json_object_get(it, "count")),
			     json_is_true(json_object_get(it, "price_is_ceiling")) ? "up to " : "", num(it, "unit_price"),
			     json_string_value(json_object_get(it, "unit")));
		rw = l > rw ? l : rw;
	}
	json_array_foreach(json_object_get(est, "items"), i, it)
	{
		const char *note = json_string_value(json_object_get(it, "note"));
		snprintf(rate, sizeof rate, "%lld x %s$%.4f per %s",
			 (long long)json_integer_value(json_object_get(it, "count")),
			 json_is_true(json_object_get(it, "price_is_ceiling")) ? "up to " : "", num(it, "unit_price"),
			 json_string_value(json_object_get(it, "unit")));
		snprintf(h, sizeof h, "$%.4f/h", num(it, "hourly"));
		snprintf(m, sizeof m, "$%.2f/month", num(it, "monthly"));
		fprintf(out, "  %-*s  %-*s %10s %14s%s%s\n", w, json_string_value(json_object_get(it, "what")), rw, rate, h,
			m, note ? "  " : "", note ? note : "");
	}
	const json_t *spot = json_object_get(est, "spot");
	snprintf(h, sizeof h, "$%.4f/h", num(est, "hourly"));
	snprintf(m, sizeof m, "$%.2f/month", num(est, "monthly"));
	fprintf(out, "  %-*s  %-*s %10s %14s%s\n", w, spot ? "Total, at most" : "Total", rw, "", h, m,
		spot ? "  Spot counted at its On-Demand ceiling" : "");
	if (spot) {
		snprintf(h, sizeof h, "$%.4f/h", num(spot, "hourly_without_spot"));
		snprintf(m, sizeof m, "$%.2f/month", num(spot, "monthly_without_spot"));
		fprintf(out, "  %-*s  %-*s %10s %14s  the Price List API has no Spot prices\n", w, "Without Spot", rw,
			"", h, m);
	}
	json_array_foreach(json_object_get(est, "unpriced"), i, it)
		fprintf(out, "  %s: no price for %s, not in the total\n", json_string_value(it),
			json_string_value(json_object_get(est, "region")));
	const json_t *as = json_object_get(est, "apply_seconds"), *cp = json_object_get(est, "critical_path_seconds");
	struct sf_buf lo = SF_BUF_INIT, hi = SF_BUF_INIT;
	duration(&lo, num(as, "low"));
	duration(&hi, num(as, "high"));
	long long par = (long long)json_integer_value(json_object_get(est, "parallelism"));
	fprintf(out, "  Apply time: about %s to %s", sf_buf_cstr(&lo), sf_buf_cstr(&hi));
	if (par > 0 && cp && (num(as, "low") > num(cp, "low") || num(as, "high") > num(cp, "high"))) {
		struct sf_buf clo = SF_BUF_INIT, chi = SF_BUF_INIT;
		duration(&clo, num(cp, "low"));
		duration(&chi, num(cp, "high"));
		fprintf(out, " at --parallelism %lld (the longest chain alone: %s to %s)", par, sf_buf_cstr(&clo),
			sf_buf_cstr(&chi));
		sf_buf_release(&clo);
		sf_buf_release(&chi);
	}
	fprintf(out, " (%s)\n", json_string_value(json_object_get(est, "time_source")));
	/* the chain's slow steps; the quick ones are only counted */
	const json_t *path = json_object_get(est, "critical_path");
	size_t quick = 0, shown = 0;
	json_array_foreach(path, i, it)
	{
		if (num(it, "high") < SLOW_STEP) {
			quick++;
			continue;
		}
		struct sf_buf d = SF_BUF_INIT;
		duration(&d, num(it, "high"));
		fprintf(out, "%s %s (up to %s)", shown++ ? " ->" : "  Longest chain:",
			json_string_value(json_object_get(it, "address")), sf_buf_cstr(&d));
		sf_buf_release(&d);
	}
	if (shown && quick)
		fprintf(out, ", and %zu quicker step%s", quick, quick == 1 ? "" : "s");
	if (shown)
		fprintf(out, "\n");
	fprintf(out, "\n");
	sf_buf_release(&lo);
	sf_buf_release(&hi);
}
