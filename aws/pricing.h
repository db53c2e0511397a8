/*
 * pricing.h - the AWS Price List API (`pricing` GetProducts): the On-Demand
 * price of a product, as AWS publishes it.
 *
 * Why its own module: GetProducts answers with offer-file documents, each
 * a JSON text inside a JSON string (the model's `jsonvalue` list items),
 * whose one On-Demand term holds one price dimension.  Reading that shape
 * is pure and tested on its own; the client only pages through
 * GetProducts.
 *
 * The API lives in a few regions only (us-east-1 serves every region's
 * prices); aws/config.c signs it there whatever the client's region.
 *
 * Ownership: filters are borrowed; the document handed to the callback is
 * borrowed for the call; *unit points into it.
 */
#ifndef SF_AWS_PRICING_H
#define SF_AWS_PRICING_H

#include <jansson.h>

#include "aws/client.h"
#include "err.h"

/* One GetProducts filter, {"Type": type, "Field": field, "Value": value},
 * appended to the array `filters`. type: "TERM_MATCH", "ANY_OF" (value a
 * comma-separated list), ... */
void sf_pricing_filter(json_t *filters, const char *type, const char *field, const char *value);

/* Called once per product document ({"product": {...}, "terms": {...},
 * "publicationDate": ...}); < 0 stops the listing with that code. */
typedef int (*sf_pricing_fn)(void *ctx, const json_t *doc, struct sf_err *err);

/* Every product of service_code ("AmazonEC2", "AmazonEKS", "AWSELB")
 * matching filters (an array as built by sf_pricing_filter, or NULL).
 * SF_EPROTO when an item is not a product document. */
int sf_pricing_products(struct sf_aws *c, const char *service_code, const json_t *filters, sf_pricing_fn fn,
			void *ctx, struct sf_err *err);

/* The document's single On-Demand USD price per unit (e.g. "Hrs",
 * "GB-Mo"), with *unit set; -1 when it has no On-Demand term or more than
 * one price dimension (tiered prices are not one figure). */
double sf_pricing_on_demand(const json_t *doc, const char **unit);

/* An attribute of the document's product ("usagetype", "instanceType"), or NULL. */
const char *sf_pricing_attr(const json_t *doc, const char *name);

#endif
