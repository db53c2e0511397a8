/* xml.c - see xml.h. */
#include "aws/xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <string.h>

#include "dl.h"
#include "util.h"

#define MAX_DEPTH 64

/* libxml2 (and ICU under it) is loaded by the first XML reply (lib/dl.h):
 * most commands never see one.  xmlFree is libxml2's variable holding its
 * free function: its slot holds the variable's address. */
#define XML_FNS(X)                                                                                          \
	X(xmlInitParser) X(xmlNewParserCtxt) X(xmlCtxtReadMemory) X(xmlCtxtGetLastError) X(xmlDocGetRootElement) \
	X(xmlNodeGetContent) X(xmlFreeDoc) X(xmlFreeParserCtxt) X(xmlFree)
static struct {
	XML_FNS(SF_DL_FIELD)
} lx;
static const char *const lx_names[] = {XML_FNS(SF_DL_NAME)};
#define LX_SLOT(f) SF_DL_SLOT(lx, f)
static void *const lx_slots[] = {XML_FNS(LX_SLOT)};
static struct sf_dl lx_dl = SF_DL_INIT(SF_SONAME_XML2, "libxml2", lx_names, lx_slots);
#define xmlInitParser lx.xmlInitParser
#define xmlNewParserCtxt lx.xmlNewParserCtxt
#define xmlCtxtReadMemory lx.xmlCtxtReadMemory
#define xmlCtxtGetLastError lx.xmlCtxtGetLastError
#define xmlDocGetRootElement lx.xmlDocGetRootElement
#define xmlNodeGetContent lx.xmlNodeGetContent
#define xmlFreeDoc lx.xmlFreeDoc
#define xmlFreeParserCtxt lx.xmlFreeParserCtxt
#define xmlFree (*lx.xmlFree)

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static int xml_ready;
static void xml_init(void)
{
	if (sf_dl_load(&lx_dl, NULL) == 0) {
		xmlInitParser();
		xml_ready = 1;
	}
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

static json_t *convert(xmlNode *el, int depth)
{
	int nel = 0, nitem = 0;
	for (xmlNode *c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		nel++;
		if (!strcmp((const char *)c->name, "item") || !strcmp((const char *)c->name, "member"))
			nitem++;
	}
	if (!nel) {
		xmlChar *txt = xmlNodeGetContent(el);
		const char *t = txt ? (const char *)txt : "";
		json_t *v;
		if (!*t && ends_with((const char *)el->name, "Set"))
			v = json_array();
		else
			v = json_string(t);
		if (!v) /* not UTF-8 (libxml2 already validated, but be safe) */
			v = json_string("");
		xmlFree(txt);
		return v;
	}
	if (depth >= MAX_DEPTH)
		return json_null();
	if (nitem == nel) {
		json_t *arr = json_array();
		for (xmlNode *c = el->children; c; c = c->next)
			if (c->type == XML_ELEMENT_NODE)
				json_array_append_new(arr, convert(c, depth + 1));
		return arr;
	}
	/* count names first: a name repeated among siblings is a flattened list */
	json_t *counts = json_object();
	for (xmlNode *c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		json_t *n = json_object_get(counts, (const char *)c->name);
		json_object_set_new(counts, (const char *)c->name, json_integer(n ? json_integer_value(n) + 1 : 1));
	}
	json_t *obj = json_object();
	for (xmlNode *c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		const char *k = (const char *)c->name;
		json_t *v = convert(c, depth + 1);
		if (json_integer_value(json_object_get(counts, k)) > 1) {
			json_t *arr = json_object_get(obj, k);
			if (!arr) {
				arr = json_array();
				json_object_set_new(obj, k, arr);
			}
			json_array_append_new(arr, v);
		} else {
			json_object_set_new(obj, k, v);
		}
	}
	json_decref(counts);
	return obj;
}

int sf_xml_to_json(const char *xml, size_t n, json_t **out, char **root_name, struct sf_err *err)
{
	int rc = SF_EPROTO;
	xmlParserCtxtPtr ctx = NULL;
	xmlDocPtr doc = NULL;
	*out = NULL;
	if (root_name)
		*root_name = NULL;
	pthread_once(&xml_once, xml_init);
	if (!xml_ready)
		return sf_dl_load(&lx_dl, err);
	if (!xml || n == 0)
		return sf_fail(err, SF_EPROTO, "empty reply where XML was expected");
	if (n > (size_t)1 << 30)
		return sf_fail(err, SF_EPROTO, "XML reply too large");
	ctx = xmlNewParserCtxt();
	if (!ctx)
		return sf_fail(err, SF_ERROR, "cannot create an XML parser");
	doc = xmlCtxtReadMemory(ctx, xml, (int)n, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!doc || !ctx->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(ctx);
		int code = e ? e->code : 0;
		const char *m = e && e->message ? e->message : "not well-formed";
		char line[200];
		snprintf(line, sizeof line, "%s", m);
		line[strcspn(line, "\n")] = 0;
		/* The document ends before its root closes: a cut-off reply. */
		int truncated = code == XML_ERR_TAG_NOT_FINISHED || code == XML_ERR_DOCUMENT_END ||
				code == XML_ERR_LTSLASH_REQUIRED || code == XML_ERR_GT_REQUIRED;
		rc = sf_fail(err, truncated ? SF_ETRANSIENT : SF_EPROTO, "%s XML reply: %s",
			     truncated ? "truncated" : "malformed", line);
		goto done;
	}
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!root) {
		rc = sf_fail(err, SF_EPROTO, "XML reply has no root element");
		goto done;
	}
	*out = convert(root, 0);
	if (root_name)
		*root_name = xstrdup((const char *)root->name);
	rc = 0;
done:
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctx);
	return rc;
}

json_t *sf_json_list(const json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (json_is_array(v))
		return json_incref(v);
	json_t *arr = json_array();
	if (v && !(json_is_string(v) && !*json_string_value(v)) && !json_is_null(v))
		json_array_append(arr, v);
	return arr;
}
