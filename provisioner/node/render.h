/*
 * render.h - node-side artifacts for gVisor node groups, rendered as pure
 * functions: AL2023 user data (MIME multipart with a nodeadm NodeConfig),
 * the containerd runtime fragment that adds the `runsc` handler, runsc.toml,
 * the gVisor bake script, and the AMI content-address key.
 *
 * Why one module: the handler name, the containerd table that defines it,
 * the runsc.toml the shim reads and the script that installs the binaries
 * must agree byte for byte, on the node, in the RuntimeClass, in the AMI key
 * and in the sandbox test (tests/sandbox runs exactly this fragment on a real
 * containerd + runsc).  Keeping them together, deterministic (labels and
 * taints sorted) and free of I/O makes them golden-testable
 * (tests/unit/test_render.c, tests/render/golden/).  The facts follow the
 * gVisor containerd quick start, the AL2023 nodeadm NodeConfig and the
 * containerd CRI runtime configuration documentation.
 *
 * Calling steps:
 *   1. Fill struct sf_node_render_in (borrowed strings; labels/taints arrays
 *      in any order) or struct sf_bake_in.
 *   2. Call one renderer with a caller-owned struct sf_buf:
 *        sf_render_user_data / sf_render_containerd_fragment /
 *        sf_render_runsc_toml / sf_render_node_bundle  (node group side)
 *        sf_render_bake_script / sf_bake_key / sf_bake_key_text (AMI side)
 *      Each returns 0, or SF_EINVAL with err->msg naming the bad field; on
 *      error nothing is appended to `out`.
 *   3. sf_buf_release(out) when done.
 *
 * Ownership: inputs are borrowed and never kept; output is appended to the
 * caller's buffer; no globals, no files, no network.  The only outside data
 * read is the embedded manifests/bake-gvisor.sh (lib/embed.h).
 *
 * The platform is taken from the input as is (systrap|ptrace|kvm): which
 * platforms a pinned release supports is the caller's check, with
 * sf_gvisor_platform_supported() as the helper (runsc 20221219 has no
 * systrap).
 */
#ifndef SF_RENDER_H
#define SF_RENDER_H

#include <stddef.h>

#include "err.h"
#include "util.h"

/* The CRI runtime handler: the containerd runtime table name and the
 * RuntimeClass `handler`.  Everything that renders either uses this. */
#define SF_RUNTIME_HANDLER "runsc"
/* The label and taint every `runtime: gvisor` node group carries, and that
 * the gvisor RuntimeClass selects and tolerates (the admission guard and
 * webhook pin pods to them).  One definition so the node side and the
 * Kubernetes side cannot drift apart. */
#define SF_SANDBOX_KEY "secfaas.dev/sandbox"
#define SF_SANDBOX_VALUE "gvisor"
#define SF_SANDBOX_EFFECT "NoSchedule"
/* The shim runtime_type in that table (containerd-shim-runsc-v1). */
#define SF_RUNSC_RUNTIME_TYPE "io.containerd.runsc.v1"
/* Where the bake script writes runsc.toml and the fragment points ConfigPath. */
#define SF_RUNSC_TOML_PATH "/etc/containerd/runsc.toml"
/* MIME boundary of the user data (no content line may start with "--" it). */
#define SF_USERDATA_BOUNDARY "SECFAAS"
/* Default gVisor release mirror (channel "release"; <rel>/<arch> below it). */
#define SF_GVISOR_BASE_URL "https://storage.googleapis.com/gvisor/releases/release"
/* Printed by the bake script when it finished: "SECFAAS-BAKE-OK <key>". */
#define SF_BAKE_MARKER "SECFAAS-BAKE-OK"
/* Printed by the bake script with the image's `containerd --version` line
 * ("none" without containerd); the image records the version in the tag
 * SF_CONTAINERD_TAG ("2.1.4"), which decides the runsc handler's
 * fragment (containerd 1.x ignores a `version = 3` file). */
#define SF_CONTAINERD_MARKER "SECFAAS-CONTAINERD-VERSION"
#define SF_CONTAINERD_TAG "secfaas:containerd-version"
/* Version of the canonical key text; bump when its fields change. */
#define SF_BAKE_KEY_FORMAT "secfaas-gvisor-bake/1"
/* Path of the bake script inside the embedded table. */
#define SF_BAKE_SCRIPT_NAME "manifests/bake-gvisor.sh"

struct sf_kv {
	const char *key;
	const char *value; /* "" allowed */
};

struct sf_taint {
	const char *key;
	const char *value;  /* "" or NULL: no value ("key:Effect") */
	const char *effect; /* NoSchedule | PreferNoSchedule | NoExecute */
};

struct sf_node_render_in {
	const char *cluster_name;  /* EKS cluster name */
	const char *api_endpoint;  /* https://... from DescribeCluster */
	const char *ca_b64;        /* base64 CA bundle from DescribeCluster */
	const char *service_cidr;  /* Kubernetes service CIDR, e.g. 10.100.0.0/16 */
	const char *node_group;    /* node group name (bundle headers only) */
	const struct sf_kv *labels;
	size_t n_labels;
	const struct sf_taint *taints;
	size_t n_taints;
	int containerd_major;      /* 1 or 2; 0 = 2 (current AL2023 AMIs) */
	const char *platform;      /* runsc platform: systrap | ptrace | kvm */
	const char *gvisor_release;/* yyyymmdd[.n]; bundle header only, may be NULL */
	int max_pods;              /* 0 = leave kubelet's default */
};

struct sf_bake_in {
	const char *gvisor_release; /* required: yyyymmdd or yyyymmdd.n */
	const char *gvisor_sha512;  /* optional pinned SHA-512 (128 hex) of the primary
				     * artifact: gvisor.tar.bz2/.tar.zstd, or runsc in
				     * the loose layout.  NULL or "": the row of the
				     * built-in table (gvisor_pins.h) for release and
				     * arch when there is one, else no pin */
	const char *gvisor_artifact;/* the artifact gvisor_sha512 pins (gvisor.tar.bz2,
				     * gvisor.tar.zstd, runsc): the script downloads
				     * exactly it.  NULL: whichever the release has
				     * (tarball first), or the table row's artifact
				     * when the digest is the table's */
	const char *base_url;       /* NULL = SF_GVISOR_BASE_URL */
	const char *install_prefix; /* NULL = /usr/local (binaries in <prefix>/bin) */
	const char *runsc_toml_path;/* NULL = SF_RUNSC_TOML_PATH */
	const char *arch;           /* x86_64|aarch64 (amd64/arm64 accepted); required
				     * for the key, optional for the script (checked
				     * against uname -m when set) */
	const char *base_ami_id;    /* ami-...; required for the key; NULL = script
				     * rendered unkeyed (marker prints "none") */
	const char *platform;       /* runsc platform written into runsc.toml */
};

/* ---- node group side ---- */

/* The containerd TOML fragment (with its `version = N` line) adding the
 * SF_RUNTIME_HANDLER table for containerd_major; for 1.x the runc table is
 * restated (reference section 2). */
int sf_render_containerd_fragment(const struct sf_node_render_in *in, struct sf_buf *out,
				  struct sf_err *err);

/* runsc.toml: [runsc_config] platform + systemd-cgroup = "true". */
int sf_render_runsc_toml(const char *platform, struct sf_buf *out, struct sf_err *err);

/* AL2023 MIME multipart user data with one application/node.eks.aws part:
 * NodeConfig with spec.cluster, kubelet flags (--node-labels,
 * --register-with-taints, sorted), optional maxPods, and the fragment as
 * spec.containerd.config. YAML is emitted by libyaml. */
int sf_render_user_data(const struct sf_node_render_in *in, struct sf_buf *out, struct sf_err *err);

/* The three artifacts for `secfaas render node-config`, each after a
 * "# ---- <name> ----" line: user-data, containerd-fragment.toml, runsc.toml. */
int sf_render_node_bundle(const struct sf_node_render_in *in, struct sf_buf *out, struct sf_err *err);

/* ---- AMI side ---- */

/* The canonical text hashed into the bake key (one "name value" per line):
 * format, base AMI, arch, release, pinned sha512 (or "-"), sha256 of the
 * bake script rendered with an empty key, sha256 of runsc.toml.  Shown in
 * plans so users can see why an AMI is rebuilt. */
int sf_bake_key_text(const struct sf_bake_in *in, struct sf_buf *out, struct sf_err *err);

/* Hex SHA-256 of sf_bake_key_text() into out[65]. */
int sf_bake_key(const struct sf_bake_in *in, char out[65], struct sf_err *err);

/* The bake script (embedded manifests/bake-gvisor.sh) with its parameter
 * block filled: release, pinned sha512 and the artifact it pins (and, for a
 * table row of the loose layout, the shim's sha512), base URL, prefix,
 * runsc.toml path and content, arch, bake key (when base_ami_id is set).
 * Environment variables of the same names still override at run time
 * (tests use that). */
int sf_render_bake_script(const struct sf_bake_in *in, struct sf_buf *out, struct sf_err *err);

/* ---- checks shared with the spec validator ---- */

/* 1 if `release` has the yyyymmdd or yyyymmdd.n form, else 0. */
int sf_gvisor_release_valid(const char *release);
/* 1 if `platform` is known to exist in `release`: systrap needs a release
 * from 2023-06 on (conservative: default since mid-2023; 20221219 verified
 * without it); ptrace and kvm always.  0 otherwise (also for unknown names). */
int sf_gvisor_platform_supported(const char *release, const char *platform);
/* 0 if `url` may be the gVisor release base URL (gvisor.mirror) the bake
 * script downloads runsc from: https://host[:port][/path] of plain
 * characters (letters, digits, - . _ ~ / % + = , :), no credentials, query
 * or fragment.  http:// only when `pinned` (gvisor.sha512 or the built-in
 * digest table, gvisor_pins.h, pins the release) or
 * the host is this machine (localhost, 127.x.y.z): otherwise anyone on the
 * builder's network could swap runsc and its .sha512 together.  The bake
 * script applies the same rule to its environment overrides.  -1
 * otherwise, with the reason in why[n]. */
int sf_gvisor_mirror_check(const char *url, int pinned, char *why, size_t n);
/* Normalised arch ("x86_64"/"aarch64") for x86_64|amd64|aarch64|arm64, else NULL. */
const char *sf_gvisor_arch(const char *arch);

/* The version in the bake script's containerd line of console text:
 * "SECFAAS-CONTAINERD-VERSION containerd github.com/containerd/containerd/v2
 * v2.1.4 <revision>" gives "2.1.4".  Owned, or NULL (no such line, "none",
 * or a line without a version). */
char *sf_containerd_from_console(const char *txt);
/* The major number of a containerd version ("1.7.27" -> 1), or -1. */
int sf_containerd_major(const char *version);

#endif
