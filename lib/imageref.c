/* imageref.c - container image reference grammar (see imageref.h). */
#include "imageref.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int hexlower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static int path_component_ok(const char *s, size_t len)
{
	size_t i = 0;
	if (!len || !lower_alnum(s[0]))
		return 0;
	while (i < len) {
		while (i < len && lower_alnum(s[i]))
			i++;
		if (i == len)
			return 1;
		size_t sep = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < len && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == len || !lower_alnum(s[i]) || i == sep)
			return 0;
	}
	return 1;
}

/* host := DNS name of [A-Za-z0-9-] labels (no '-' at either end) | IPv4 | "[" IPv6 "]" */
static int host_ok(const char *s, size_t len)
{
	if (!len)
		return 0;
	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']')
			return 0;
		for (size_t i = 1; i + 1 < len; i++)
			if (!(hexlower(s[i]) || (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':' || s[i] == '.'))
				return 0;
		return 1;
	}
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!(alnum(s[i]) || s[i] == '-'))
				return 0;
			continue;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

int sf_image_ref_parse(const char *s, struct sf_image_ref *out, char *why, size_t n)
{
	struct sf_image_ref r;
	memset(&r, 0, sizeof r);
	r.domain = r.tag = r.digest = "";
	if (!s || !*s)
		return fail(why, n, "an image reference must not be empty");
	size_t len = strlen(s);
	if (len > 1024)
		return fail(why, n, "an image reference is at most 1024 characters (this one has %zu)", len);
	const char *at = strchr(s, '@');
	size_t name_tag_len = at ? (size_t)(at - s) : len;
	if (at) {
		const char *d = at + 1, *colon = strchr(d, ':');
		if (!colon)
			return fail(why, n, "the digest must be algorithm:hex, e.g. sha256:<64 hex digits>");
		size_t alen = (size_t)(colon - d), hlen = strlen(colon + 1), want = 0;
		if (alen == 6 && !memcmp(d, "sha256", 6))
			want = 64;
		else if (alen == 6 && !memcmp(d, "sha384", 6))
			want = 96;
		else if (alen == 6 && !memcmp(d, "sha512", 6))
			want = 128;
		else
			return fail(why, n, "the digest algorithm must be sha256, sha384 or sha512");
		if (hlen != want)
			return fail(why, n, "a %.*s digest is %zu lowercase hex digits (this one has %zu characters)",
				    (int)alen, d, want, hlen);
		for (size_t i = 0; i < hlen; i++)
			if (!hexlower(colon[1 + i]))
				return fail(why, n, "the digest must be lowercase hex digits only");
		r.digest = d;
		r.digest_len = len - (size_t)(d - s);
	}
	if (!name_tag_len)
		return fail(why, n, "an image reference needs a repository name before the digest");
	/* the tag: after the last ':' that follows the last '/' */
	size_t name_len = name_tag_len;
	const char *slash = NULL, *colon = NULL;
	for (size_t i = 0; i < name_tag_len; i++) {
		if (s[i] == '/')
			slash = s + i;
		else if (s[i] == ':')
			colon = s + i;
	}
	if (colon && (!slash || colon > slash)) {
		const char *t = colon + 1;
		size_t tl = name_tag_len - (size_t)(t - s);
		if (!tl || tl > 128)
			return fail(why, n, "a tag is 1 to 128 characters");
		if (!(alnum(t[0]) || t[0] == '_'))
			return fail(why, n, "a tag starts with a letter, digit or '_'");
		for (size_t i = 0; i < tl; i++)
			if (!(alnum(t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
				return fail(why, n, "the tag has a character outside [A-Za-z0-9_.-]");
		r.tag = t;
		r.tag_len = tl;
		name_len = (size_t)(colon - s);
	}
	if (name_len > 255)
		return fail(why, n, "the repository name is longer than 255 characters");
	/* the domain: a first component with '.' or ':', "localhost", or upper case */
	const char *first = memchr(s, '/', name_len);
	size_t path_off = 0;
	if (first) {
		size_t fl = (size_t)(first - s);
		int is_domain = (fl == 9 && !memcmp(s, "localhost", 9));
		for (size_t i = 0; i < fl && !is_domain; i++)
			if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
				is_domain = 1;
		if (is_domain) {
			const char *pc = NULL;
			/* a port: the last ':' outside an IPv6 literal */
			for (size_t i = 0; i < fl; i++)
				if (s[i] == ':' && !(s[0] == '[' && memchr(s + i, ']', fl - i)))
					pc = s + i;
			size_t hl = pc ? (size_t)(pc - s) : fl;
			if (!host_ok(s, hl))
				return fail(why, n, "the registry host \"%.*s\" is not a DNS name or IP address", (int)hl, s);
			if (pc) {
				size_t pl = fl - hl - 1;
				if (!pl || pl > 5)
					return fail(why, n, "the registry port must be 1 to 5 digits");
				for (size_t i = 1; i <= pl; i++)
					if (pc[i] < '0' || pc[i] > '9')
						return fail(why, n, "the registry port must be 1 to 5 digits");
			}
			r.domain = s;
			r.domain_len = fl;
			path_off = fl + 1;
		}
	}
	if (path_off >= name_len)
		return fail(why, n, "an image reference needs a repository path");
	r.path = s + path_off;
	r.path_len = name_len - path_off;
	for (size_t i = path_off; i <= name_len;) {
		const char *e = memchr(s + i, '/', name_len - i);
		size_t cl = e ? (size_t)(e - s) - i : name_len - i;
		if (!path_component_ok(s + i, cl))
			return fail(why, n,
				    "the repository path component \"%.*s\" must be lowercase letters and digits, "
				    "separated by '.', '_', '__' or '-'",
				    (int)cl, s + i);
		i += cl + 1;
		if (!e)
			break;
	}
	if (out)
		*out = r;
	return 0;
}
