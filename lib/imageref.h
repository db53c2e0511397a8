/*
 * imageref.h - container image references checked offline against the
 * grammar registries and container runtimes use (the distribution project's
 * reference grammar, which containerd, the kubelet and Docker share):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]        host: DNS name, IPv4 or [IPv6]
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex      sha256: 64, sha512: 128 lowercase hex
 * with the name at most 255 characters.  The first component is a domain
 * when it holds a '.' or a ':' or is "localhost", as the runtimes decide.
 *
 * Why: an image reference from a spec ends up as a string in a pod spec; a
 * value that is not one (quotes, newlines, spaces) is at best a pull error
 * found minutes into an apply, at worst an attempt to smuggle other
 * fields.  Checking the grammar at validate time catches both with
 * file:line:col.
 *
 * No allocation; the parsed parts point into the caller's string.
 */
#ifndef SF_IMAGEREF_H
#define SF_IMAGEREF_H

#include <stddef.h>

struct sf_image_ref {
	const char *domain; size_t domain_len; /* empty when the reference names none */
	const char *path;   size_t path_len;
	const char *tag;    size_t tag_len;    /* empty when absent */
	const char *digest; size_t digest_len; /* "sha256:..." or empty */
};

/* 0 and *out filled (out may be NULL), or -1 with a reason in why[n]
 * ("the tag has a character outside [A-Za-z0-9_.-]"). */
int sf_image_ref_parse(const char *s, struct sf_image_ref *out, char *why, size_t n);

#endif
