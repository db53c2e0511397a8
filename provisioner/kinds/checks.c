/* checks.c - domain checks shared by the kinds' schemas (see kinds.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provisioner/kinds/cluster.h"
#include "provisioner/kinds/kinds.h"
#include "util.h"

void sf_check_dns_label(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *s = n->scalar;
	size_t len = strlen(s);
	int ok = len > 0 && len <= 63 && islower((unsigned char)s[0]);
	for (size_t i = 0; ok && i < len; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			ok = 0;
	if (ok && s[len - 1] == '-')
		ok = 0;
	if (!ok)
		sf_diag_error(d, &n->pos,
			      "%s: \"%s\" must be 1-63 lowercase letters, digits or '-', starting with a letter and not ending with '-'",
			      path, s);
}

/* Partition prefixes secfaas knows how to build endpoints for. */
static const char *const known_regions[] = {
	"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
	"ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1", "cn-northwest-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2",
	"eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
	"us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-1", "us-west-2",
};

const char *const *sf_known_regions(size_t *n)
{
	*n = SF_ARRAY_LEN(known_regions);
	return known_regions;
}

void sf_check_region(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(known_regions); i++)
		if (!strcmp(known_regions[i], n->scalar))
			return;
	const char *hint = sf_did_you_mean(n->scalar, known_regions, SF_ARRAY_LEN(known_regions));
	if (hint)
		sf_diag_error(d, &n->pos, "%s: unknown region \"%s\"; did you mean \"%s\"?", path, n->scalar, hint);
	else
		sf_diag_error(d, &n->pos, "%s: unknown region \"%s\"", path, n->scalar);
}

/* Next code point of UTF-8 s (advancing *s), or -1 for a byte that does
 * not start a valid, shortest-form sequence. */
static long utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	long cp;
	int k;
	if (p[0] < 0x80) {
		*s = p + 1;
		return p[0];
	}
	if ((p[0] & 0xE0) == 0xC0)
		cp = p[0] & 0x1F, k = 1;
	else if ((p[0] & 0xF0) == 0xE0)
		cp = p[0] & 0x0F, k = 2;
	else if ((p[0] & 0xF8) == 0xF0)
		cp = p[0] & 0x07, k = 3;
	else
		return -1;
	for (int i = 1; i <= k; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	static const long min[] = {0, 0x80, 0x800, 0x10000};
	if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*s = p + k + 1;
	return cp;
}

/* Length in code points of a tag key or value AWS accepts, or -1 with the
 * offending character's offset in *bad.  ASCII: letters, digits, space and
 * _ . : / = + - @.  Beyond ASCII the letters, digits and spaces of every
 * script are allowed; controls (C1), formatting and bidirectional marks
 * are not (they are neither letters, numbers nor separators). */
static long tag_text_len(const char *text, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)text;
	long n = 0;
	while (*s) {
		const unsigned char *at = s;
		long cp = utf8_next(&s);
		int ok;
		if (cp < 0)
			ok = 0;
		else if (cp < 0x80)
			ok = isalnum((int)cp) || cp == ' ' || strchr("_.:/=+-@", (int)cp);
		else
			ok = cp >= 0xA0 && !(cp >= 0x2000 && cp <= 0x200F) && !(cp >= 0x2028 && cp <= 0x202F) &&
			     !(cp >= 0x2060 && cp <= 0x206F) && cp != 0xFEFF && !(cp >= 0xFFF0 && cp <= 0xFFFF) &&
			     !(cp >= 0xE000 && cp <= 0xF8FF) && cp < 0xF0000 && cp != 0x00AD;
		if (!ok) {
			*bad = (size_t)(at - (const unsigned char *)text);
			return -1;
		}
		n++;
	}
	return n;
}

void sf_check_aws_tags(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	if (n->n > SF_USER_TAGS_MAX)
		sf_diag_error(d, &n->keys[SF_USER_TAGS_MAX]->pos,
			      "%s: %zu tags; AWS allows 50 per resource and secfaas adds up to %d of its own, so at most %d",
			      path, n->n, 50 - SF_USER_TAGS_MAX, SF_USER_TAGS_MAX);
	for (size_t i = 0; i < n->n; i++) {
		const struct sf_node *kn = n->keys[i], *vn = n->vals[i];
		const char *k = kn->scalar, *v = sf_node_str(vn);
		size_t bad = 0;
		long kl = tag_text_len(k, &bad);
		if (kl < 0)
			sf_diag_error(d, &kn->pos,
				      "%s: tag key \"%s\" has a character AWS refuses at byte %zu (allowed: letters, digits, spaces and _ . : / = + - @)",
				      path, k, bad);
		else if (kl == 0 || kl > 128)
			sf_diag_error(d, &kn->pos, "%s: tag key of %ld characters; AWS allows 1 to 128", path, kl);
		else if (!strncasecmp(k, "aws:", 4))
			sf_diag_error(d, &kn->pos, "%s: tag key \"%s\": the aws: prefix is reserved for AWS", path, k);
		else if (!strncmp(k, "secfaas:", 8))
			sf_diag_error(d, &kn->pos,
				      "%s: tag key \"%s\": the secfaas: prefix is reserved for the tags secfaas uses to prove ownership",
				      path, k);
		if (!v)
			continue;
		long vl = tag_text_len(v, &bad);
		if (vl < 0)
			sf_diag_error(d, &vn->pos,
				      "%s.%s: tag value has a character AWS refuses at byte %zu (allowed: letters, digits, spaces and _ . : / = + - @)",
				      path, k, bad);
		else if (vl > 256)
			sf_diag_error(d, &vn->pos, "%s.%s: tag value of %ld characters; AWS allows at most 256", path, k, vl);
	}
}

/* Index sorting for duplicate detection in O(n log n) (lists come from
 * specs, and a long one must not make validate quadratic). */
static const struct sf_node *const *dup_vals;
static int dup_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const char *x = sf_node_str(dup_vals[i]), *y = sf_node_str(dup_vals[j]);
	int c = strcmp(x ? x : "", y ? y : "");
	return c ? c : (i > j) - (i < j);
}

/* Report every scalar of list n equal to an earlier one: "what" says why
 * a repeat is an error. */
static void report_duplicates(const struct sf_node *n, struct sf_diags *d, const char *path, const char *what)
{
	if (n->n < 2)
		return;
	size_t *ix = xcalloc(n->n, sizeof *ix);
	for (size_t i = 0; i < n->n; i++)
		ix[i] = i;
	dup_vals = (const struct sf_node *const *)n->vals;
	qsort(ix, n->n, sizeof *ix, dup_cmp);
	for (size_t k = 1; k < n->n; k++) {
		const struct sf_node *a = n->vals[ix[k - 1]], *b = n->vals[ix[k]];
		if (sf_node_str(a) && sf_node_str(b) && !strcmp(sf_node_str(a), sf_node_str(b))) {
			/* a run of equal values: each refers to the first (lowest index) */
			size_t first = k - 1;
			while (first > 0 && sf_node_str(n->vals[ix[first - 1]]) &&
			       !strcmp(sf_node_str(n->vals[ix[first - 1]]), sf_node_str(b)))
				first--;
			sf_diag_error(d, &b->pos, "%s[%zu]: \"%s\" is listed twice (also at line %d)%s", path, ix[k],
				      sf_node_str(b), n->vals[ix[first]]->pos.line, what);
		}
	}
	free(ix);
}

/* arn:PARTITION:iam::ACCOUNT:(role|user)/[path/]name; 0 ok, else why. */
static const char *principal_arn_problem(const char *a)
{
	static const char *const partitions[] = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b",
						 "aws-iso-e", "aws-iso-f", "aws-eusc"};
	if (strncmp(a, "arn:", 4))
		return "is not an ARN (arn:aws:iam::123456789012:role/NAME)";
	const char *p = a + 4, *c = strchr(p, ':');
	int known = 0;
	for (size_t i = 0; c && i < SF_ARRAY_LEN(partitions); i++)
		known |= (size_t)(c - p) == strlen(partitions[i]) && !strncmp(p, partitions[i], (size_t)(c - p));
	if (!known)
		return "has an unknown partition (aws, aws-cn, aws-us-gov, ...)";
	p = c + 1;
	if (!strncmp(p, "sts::", 5))
		return "is an STS session; EKS access entries take the IAM role or user (arn:aws:iam::ACCOUNT:role/NAME)";
	if (strncmp(p, "iam::", 5))
		return "is not an IAM ARN (arn:aws:iam::ACCOUNT:role/NAME)";
	p += 5;
	for (int i = 0; i < 12; i++)
		if (!isdigit((unsigned char)p[i]))
			return "needs a 12-digit account id";
	p += 12;
	if (*p != ':')
		return "needs a 12-digit account id";
	p++;
	size_t tl = !strncmp(p, "role/", 5) ? 5 : !strncmp(p, "user/", 5) ? 5 : 0;
	if (!tl)
		return "names neither a role/ nor a user/ (EKS access entries take IAM roles and users)";
	p += tl;
	const char *name = strrchr(p, '/');
	name = name ? name + 1 : p;
	size_t nl = strlen(name);
	if (!nl || nl > 64)
		return "has a role or user name that is not 1-64 characters";
	if ((size_t)(name - p) > 512)
		return "has a path longer than 512 characters";
	for (const char *q = p; q < name; q++)
		if (*q < 0x21 || *q > 0x7E)
			return "has a path character IAM refuses";
	for (const char *q = name; *q; q++)
		if (!isalnum((unsigned char)*q) && !strchr("+=,.@_-", *q))
			return "has a name character IAM refuses (letters, digits and + = , . @ _ -)";
	return NULL;
}

void sf_check_principal_arns(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	for (size_t i = 0; i < n->n; i++) {
		const struct sf_node *v = n->vals[i];
		const char *a = sf_node_str(v), *why;
		if (!a)
			continue;
		if ((why = principal_arn_problem(a)))
			sf_diag_error(d, &v->pos, "%s[%zu]: \"%s\" %s", path, i, a, why);
	}
	report_duplicates(n, d, path, "; EKS keeps one access entry per principal");
}

void sf_check_ipv4_cidrs(const struct sf_node *n, struct sf_diags *d, const char *path, size_t max, const char *limit)
{
	if (n->n > max)
		sf_diag_error(d, &n->vals[max]->pos, "%s: %zu CIDRs; %s", path, n->n, limit);
	for (size_t i = 0; i < n->n; i++) {
		const struct sf_node *v = n->vals[i];
		const char *s = sf_node_str(v);
		uint32_t net;
		int bits;
		if (!s)
			continue;
		int rc = sf_parse_cidr(s, &net, &bits);
		if (rc == -2)
			sf_diag_error(d, &v->pos, "%s[%zu]: \"%s\" has host bits set; use the network address", path, i, s);
		else if (rc < 0)
			sf_diag_error(d, &v->pos, "%s[%zu]: \"%s\" is not an IPv4 CIDR like 203.0.113.0/24", path, i, s);
	}
	report_duplicates(n, d, path, "");
}

void sf_check_public_cidrs(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	sf_check_ipv4_cidrs(n, d, path, 40, "EKS allows at most 40 public access CIDRs");
}
