/*
 * xml.h - AWS XML replies (query protocols) converted to jansson values.
 *
 * Why: resource code reads every reply as JSON whatever the protocol, so
 * EC2's <vpcSet><item>... and IAM's <Roles><member>... become arrays and the
 * rest nested objects.  Parsing is libxml2 with network access and entity
 * expansion off; no hand-rolled scanning.
 *
 * Conversion rules (documented because callers depend on them):
 *   - an element with element children becomes an object keyed by the
 *     children's local names (namespaces dropped); a name repeated among
 *     siblings becomes an array;
 *   - an element whose children are all <item> or all <member> becomes an
 *     array of the converted children (EC2 "...Set", IAM/ELB lists);
 *   - an element without element children becomes its text as a JSON
 *     string (XML has no types: "true", "42" stay strings), except that an
 *     empty element whose name ends in "Set" becomes [] (an empty EC2 list);
 *   - the root element is converted the same way; its name is returned.
 *
 * Ownership: *out is a new reference (json_decref), *root_name owned (free).
 *
 * Failures: SF_EPROTO for malformed XML; SF_ETRANSIENT when the document
 * simply ends early (a truncated reply: worth retrying).
 */
#ifndef SF_AWS_XML_H
#define SF_AWS_XML_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

int sf_xml_to_json(const char *xml, size_t n, json_t **out, char **root_name, struct sf_err *err);

/* Convenience for callers: the array at obj[key], treating "" (an empty
 * non-Set element) and absence as an empty list, and a lone object as a
 * one-element list. Returns a new reference. */
json_t *sf_json_list(const json_t *obj, const char *key);

#endif
