/* query.c - see query.h. */
#include "aws/query.h"

#include <stdio.h>
#include <string.h>

#include "aws/awserr.h"
#include "aws/xml.h"

#define MAX_NEST 32

static void put(struct sf_buf *out, const char *name, const char *value)
{
	sf_buf_putc(out, '&');
	sf_uri_encode(out, name, strlen(name), 0);
	sf_buf_putc(out, '=');
	sf_uri_encode(out, value, strlen(value), 0);
}

static int flatten(struct sf_buf *out, const char *name, const json_t *v, int ec2, int depth, struct sf_err *err)
{
	char num[64];
	if (depth > MAX_NEST)
		return sf_fail(err, SF_EINVAL, "query parameter %s nests too deeply", name);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *m;
		json_object_foreach((json_t *)v, k, m)
		{
			char *sub = *name ? xasprintf("%s.%s", name, k) : xstrdup(k);
			int rc = flatten(out, sub, m, ec2, depth + 1, err);
			free(sub);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	case JSON_ARRAY: {
		if (!*name)
			return sf_fail(err, SF_EINVAL, "query parameters must be a JSON object, not a list");
		size_t i;
		json_t *m;
		if (json_array_size(v) == 0 && !ec2)
			put(out, name, "");
		json_array_foreach(v, i, m)
		{
			char *sub = ec2 ? xasprintf("%s.%zu", name, i + 1) : xasprintf("%s.member.%zu", name, i + 1);
			int rc = flatten(out, sub, m, ec2, depth + 1, err);
			free(sub);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	case JSON_STRING:
		put(out, name, json_string_value(v));
		return 0;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		put(out, name, num);
		return 0;
	case JSON_REAL:
		snprintf(num, sizeof num, "%.17g", json_real_value(v));
		put(out, name, num);
		return 0;
	case JSON_TRUE:
		put(out, name, "true");
		return 0;
	case JSON_FALSE:
		put(out, name, "false");
		return 0;
	case JSON_NULL:
		return 0;
	}
	return 0;
}

int sf_query_encode(struct sf_buf *out, const char *action, const char *version, const json_t *params, int ec2,
		    struct sf_err *err)
{
	sf_buf_puts(out, "Action=");
	sf_uri_encode(out, action, strlen(action), 0);
	sf_buf_puts(out, "&Version=");
	sf_uri_encode(out, version, strlen(version), 0);
	if (!params)
		return 0;
	if (!json_is_object(params))
		return sf_fail(err, SF_EINVAL, "%s parameters must be a JSON object", action);
	return flatten(out, "", params, ec2, 0, err);
}

static const char *str(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *header_request_id(const struct sf_hdrs *h)
{
	const char *v = h ? sf_hdrs_get(h, "x-amzn-RequestId") : NULL;
	if (!v && h)
		v = sf_hdrs_get(h, "x-amz-request-id");
	return v;
}

int sf_query_decode(const char *service, const char *action, long status, const struct sf_hdrs *headers,
		    const char *body, size_t n, json_t **out, char *request_id, struct sf_err *err)
{
	int rc;
	json_t *doc = NULL;
	char *root = NULL;
	struct sf_err perr = SF_ERR_INIT;
	const char *ctype = headers ? sf_hdrs_get(headers, "Content-Type") : NULL;
	*out = NULL;
	if (request_id)
		request_id[0] = 0;

	rc = sf_xml_to_json(body, n, &doc, &root, &perr);
	int failed = status < 200 || status >= 300;
	if (rc < 0) {
		if (!failed && rc == SF_ETRANSIENT) {
			rc = sf_fail(err, SF_ETRANSIENT, "%s %s: %s", service, action, perr.msg);
			sf_err_hint(err, "the connection was cut; retry");
		} else if (!failed) {
			rc = sf_aws_foreign_reply(err, service, action, status, ctype, body, n, perr.msg);
		} else {
			rc = sf_aws_foreign_reply(err, service, action, status, ctype, body, n, NULL);
		}
		goto done;
	}
	const char *rid = header_request_id(headers);
	if (!strcmp(root, "Response") && json_is_object(doc) && json_object_get(doc, "Errors")) {
		/* EC2: <Response><Errors><Error>...</Error></Errors><RequestID> */
		json_t *errs = json_object_get(doc, "Errors");
		json_t *e = json_is_object(errs) ? json_object_get(errs, "Error") : NULL;
		if (json_is_array(e))
			e = json_array_get(e, 0);
		if (!rid)
			rid = str(doc, "RequestID");
		if (request_id)
			snprintf(request_id, 96, "%s", rid ? rid : "");
		rc = sf_aws_error(err, service, action, failed ? status : 400, str(e, "Code"), str(e, "Message"), rid);
		goto done;
	}
	if (!strcmp(root, "ErrorResponse") && json_is_object(doc)) {
		json_t *e = json_object_get(doc, "Error");
		if (json_is_array(e))
			e = json_array_get(e, 0);
		if (!rid)
			rid = str(doc, "RequestId");
		if (request_id)
			snprintf(request_id, 96, "%s", rid ? rid : "");
		rc = sf_aws_error(err, service, action, failed ? status : 400, str(e, "Code"), str(e, "Message"), rid);
		goto done;
	}
	if (failed) {
		rc = sf_aws_foreign_reply(err, service, action, status, ctype, body, n, NULL);
		goto done;
	}
	char want[160];
	snprintf(want, sizeof want, "%sResponse", action);
	if (strcmp(root, want)) {
		rc = sf_aws_foreign_reply(err, service, action, status, ctype, body, n, "unexpected XML root element");
		goto done;
	}
	if (!rid) {
		json_t *md = json_object_get(doc, "ResponseMetadata");
		rid = md ? str(md, "RequestId") : str(doc, "requestId");
	}
	if (request_id)
		snprintf(request_id, 96, "%s", rid ? rid : "");
	char rname[160];
	snprintf(rname, sizeof rname, "%sResult", action);
	json_t *res = json_is_object(doc) ? json_object_get(doc, rname) : NULL;
	if (res)
		*out = json_is_object(res) ? json_incref(res) : json_object();
	else if (json_is_object(doc))
		*out = json_incref(doc);
	else
		*out = json_object(); /* <DeleteRoleResponse/> with only text */
	rc = 0;
done:
	json_decref(doc);
	free(root);
	return rc;
}
