/* pricing.c - see pricing.h. */
#include "aws/pricing.h"

#include <stdlib.h>
#include <string.h>

void sf_pricing_filter(json_t *filters, const char *type, const char *field, const char *value)
{
	json_array_append_new(filters, json_pack("{s:s, s:s, s:s}", "Type", type, "Field", field, "Value", value));
}

struct pages {
	sf_pricing_fn fn;
	void *ctx;
};

static int page(void *ctx, const json_t *pg, struct sf_err *err)
{
	struct pages *p = ctx;
	const json_t *list = json_object_get(pg, "PriceList");
	size_t i;
	json_t *item;
	if (list && !json_is_array(list))
		return sf_fail(err, SF_EPROTO, "pricing GetProducts: PriceList is not a list");
	json_array_foreach(list, i, item)
	{
		/* each item is a JSON text in a string; take an object as it is */
		json_t *doc = NULL;
		if (json_is_string(item)) {
			json_error_t je;
			doc = json_loads(json_string_value(item), 0, &je);
		} else if (json_is_object(item)) {
			doc = json_incref(item);
		}
		if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "product"))) {
			json_decref(doc);
			return sf_fail(err, SF_EPROTO, "pricing GetProducts: PriceList item %zu is not a product document",
				       i);
		}
		int rc = p->fn(p->ctx, doc, err);
		json_decref(doc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sf_pricing_products(struct sf_aws *c, const char *service_code, const json_t *filters, sf_pricing_fn fn,
			void *ctx, struct sf_err *err)
{
	json_t *body = json_pack("{s:s, s:s, s:i}", "ServiceCode", service_code, "FormatVersion", "aws_v1",
				 "MaxResults", 100);
	if (filters)
		json_object_set(body, "Filters", (json_t *)filters);
	struct pages p = {fn, ctx};
	int rc = sf_aws_json_pages(c, "pricing", "AWSPriceListService.GetProducts", body, page, &p, err);
	json_decref(body);
	return rc;
}

const char *sf_pricing_attr(const json_t *doc, const char *name)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(doc, "product"), "attributes"), name));
}

/* The only member of an object, or NULL when it has none or several. */
static const json_t *only(const json_t *o)
{
	if (!json_is_object(o) || json_object_size(o) != 1)
		return NULL;
	void *it = json_object_iter((json_t *)o);
	return json_object_iter_value(it);
}

double sf_pricing_on_demand(const json_t *doc, const char **unit)
{
	const json_t *term = only(json_object_get(json_object_get(doc, "terms"), "OnDemand"));
	const json_t *dim = only(json_object_get(term, "priceDimensions"));
	const char *usd = json_string_value(json_object_get(json_object_get(dim, "pricePerUnit"), "USD"));
	if (!usd || !*usd)
		return -1;
	char *end = NULL;
	double v = strtod(usd, &end);
	if (*end || v < 0)
		return -1;
	if (unit)
		*unit = json_string_value(json_object_get(dim, "unit"));
	return v;
}
