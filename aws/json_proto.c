/* json_proto.c - see json_proto.h. */
#include "aws/json_proto.h"

#include <stdio.h>
#include <string.h>

#include "aws/awserr.h"

char *sf_json_proto_encode(const json_t *body)
{
	if (!body)
		return xstrdup("{}");
	char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return xstrdup("{}");
	char *r = xstrdup(s);
	free(s);
	return r;
}

static const char *sget(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int sf_json_proto_decode(const char *service, const char *op, long status, const struct sf_hdrs *headers,
			 const char *body, size_t n, json_t **out, char *request_id, struct sf_err *err)
{
	int rc;
	json_t *doc = NULL;
	json_error_t je;
	const char *ctype = headers ? sf_hdrs_get(headers, "Content-Type") : NULL;
	const char *rid = headers ? sf_hdrs_get(headers, "x-amzn-RequestId") : NULL;
	int failed = status < 200 || status >= 300;
	*out = NULL;
	if (request_id)
		snprintf(request_id, 96, "%s", rid ? rid : "");

	size_t i = 0;
	while (i < n && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
		i++;
	if (i == n) {
		if (!failed) {
			*out = json_object();
			return 0;
		}
	} else {
		doc = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
	}
	const char *etype = headers ? sf_hdrs_get(headers, "x-amzn-ErrorType") : NULL;
	if (!failed) {
		if (!doc) {
			if (json_error_code(&je) == json_error_premature_end_of_input) {
				rc = sf_fail(err, SF_ETRANSIENT, "%s %s: truncated JSON reply: %s", service, op, je.text);
				sf_err_hint(err, "the connection was cut; retry");
				return rc;
			}
			return sf_aws_foreign_reply(err, service, op, status, ctype, body, n, je.text);
		}
		if (!json_is_object(doc)) {
			json_decref(doc);
			return sf_aws_foreign_reply(err, service, op, status, ctype, body, n, "JSON reply is not an object");
		}
		*out = doc;
		return 0;
	}
	/* failure: code from header, else body */
	char code[96] = "";
	const char *msg = NULL;
	if (etype && *etype) {
		/* like the body's __type: "[namespace#]Code[:url]" */
		const char *h = strchr(etype, '#');
		const char *c0 = h && (size_t)(h - etype) < strcspn(etype, ":") ? h + 1 : etype;
		snprintf(code, sizeof code, "%.*s", (int)strcspn(c0, ":"), c0);
	} else if (json_is_object(doc)) {
		const char *t = sget(doc, "__type");
		if (!t)
			t = sget(doc, "code");
		if (!t)
			t = sget(doc, "Code");
		if (t) {
			const char *h = strrchr(t, '#');
			snprintf(code, sizeof code, "%s", h ? h + 1 : t);
			code[strcspn(code, ":")] = 0;
		}
	}
	if (json_is_object(doc)) {
		msg = sget(doc, "message");
		if (!msg)
			msg = sget(doc, "Message");
	}
	if (!*code && !json_is_object(doc)) {
		rc = sf_aws_foreign_reply(err, service, op, status, ctype, body, n, NULL);
		json_decref(doc);
		return rc;
	}
	rc = sf_aws_error(err, service, op, status, *code ? code : NULL, msg, rid);
	json_decref(doc);
	return rc;
}
