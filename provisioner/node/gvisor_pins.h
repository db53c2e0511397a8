/*
 * gvisor_pins.h - the built-in table of known-good SHA-512 digests of
 * official gVisor release artifacts, used by default when a spec names a
 * release without `gvisor.sha512`.
 *
 * Why it exists: without a pin the bake script trusts the `.sha512` file
 * that sits beside the artifact on the same server, which proves only that
 * the download was not corrupted, never that the server (or a mirror, or
 * someone on the builder's network) did not replace both.  A digest
 * recorded here was read from the release's published `.sha512` files and
 * cross-checked against independent public pins; a digest seen in only one
 * place is not listed.  Each row is bound to an exact release directory
 * name (never `latest`) and arch, and names the artifact it pins: the
 * combined tarball (`gvisor.tar.bz2` / `gvisor.tar.zstd`, which carries
 * both binaries) or, for a row of the loose layout, `runsc` together with
 * the digest of `containerd-shim-runsc-v1`, so every installed binary is
 * pinned either way.
 *
 * Adding a release: one row, both digests copied from the release's own
 * `.sha512` files AND confirmed by an independent source; the unit test
 * (tests/unit/test_render.c) checks the table's form.
 *
 * Ownership: everything returned points into static storage; nothing to
 * free.  Pure, no I/O.
 */
#ifndef SF_GVISOR_PINS_H
#define SF_GVISOR_PINS_H

#include <stddef.h>

struct sf_gvisor_pin {
	const char *release;     /* directory name under the release channel, e.g. "20260817.0" */
	const char *arch;        /* x86_64 | aarch64 */
	const char *artifact;    /* gvisor.tar.bz2 | gvisor.tar.zstd | runsc */
	const char *sha512;      /* 128 lowercase hex: SHA-512 of `artifact` */
	const char *shim_sha512; /* loose layout only: containerd-shim-runsc-v1; else NULL */
};

/* The row for (release, arch) (arch as sf_gvisor_arch accepts it:
 * x86_64/amd64/aarch64/arm64), or NULL when the table has none. */
const struct sf_gvisor_pin *sf_gvisor_pin_find(const char *release, const char *arch);

/* The whole table: *rows set to its first row, returns the row count. */
size_t sf_gvisor_pins(const struct sf_gvisor_pin **rows);

/* 1 if `name` is an artifact a pin may name (gvisor.tar.bz2,
 * gvisor.tar.zstd, runsc), else 0. */
int sf_gvisor_artifact_valid(const char *name);

#endif
