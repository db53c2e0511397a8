#!/bin/sh
# bake-gvisor.sh - install a pinned gVisor release (runsc + containerd-shim-runsc-v1)
# on an EKS Amazon Linux 2023 AMI builder, as EC2 user data, then power off.
#
# Rendered by `secfaas render bake-script SPEC` (provisioner/render.c fills the
# parameter block below); the unrendered template refuses to run. Facts:
# docs/sandbox.md and the gVisor node reference, sections 1-4.
#
# Steps: check parameters -> download <base>/<release>/<arch>/ artifacts and
# their .sha512 into a temp dir -> verify every .sha512 (and the pinned SHA-512)
# BEFORE anything is installed -> run the downloaded runsc --version ->
# install into <prefix>/bin (chmod a+rx; gvisor-bin/ sidecar beside runsc) ->
# write runsc.toml -> record `containerd --version` -> stamp -> builder cleanup
# -> print "SECFAAS-BAKE-OK <key>" -> poweroff.
#
# Release layouts: combined tarball (gvisor.tar.bz2 or gvisor.tar.zstd, newer
# releases) or loose binaries (runsc, containerd-shim-runsc-v1, older ones);
# SECFAAS_GVISOR_LAYOUT=auto|tarball|loose (default auto: tarball first, loose
# when its .sha512 is 404). The pinned SHA-512 applies to the tarball, or to
# runsc in the loose layout; SECFAAS_GVISOR_ARTIFACT names which one it is
# (gvisor.tar.bz2, gvisor.tar.zstd or runsc) and then exactly that artifact
# is downloaded. A pin from secfaas's built-in table of release digests of
# the loose layout also pins the shim (SECFAAS_GVISOR_SHIM_SHA512).
#
# Environment (each overrides the rendered value of the same name):
#   SECFAAS_GVISOR_RELEASE, SECFAAS_GVISOR_SHA512, SECFAAS_GVISOR_ARTIFACT,
#   SECFAAS_GVISOR_SHIM_SHA512, SECFAAS_GVISOR_BASE_URL,
#   SECFAAS_GVISOR_PREFIX, SECFAAS_RUNSC_TOML_PATH, SECFAAS_GVISOR_ARCH,
#   SECFAAS_BAKE_KEY, SECFAAS_GVISOR_LAYOUT
#   SECFAAS_BAKE_NO_CLEANUP=1   keep machine-id, SSH host keys, cloud-init state
#   SECFAAS_BAKE_NO_POWEROFF=1  do not power off at the end
#   SECFAAS_BAKE_TEST=1         tests: loopback base URL only, never cleanup/poweroff
# Idempotent: a re-run with the same parameters whose installed files still
# match the stamp (<prefix>/share/secfaas/gvisor-bake.stamp) changes nothing.
# Exit status: 0 installed (or already installed), 1 any failure (one line
# "bake-gvisor: error: ..." naming the file/URL, and "SECFAAS-BAKE-FAILED").
set -eu

# ---- secfaas:params begin (filled by `secfaas render bake-script`; environment overrides) ----
: "${SECFAAS_GVISOR_RELEASE:=}"
: "${SECFAAS_GVISOR_SHA512:=}"
: "${SECFAAS_GVISOR_ARTIFACT:=}"
: "${SECFAAS_GVISOR_SHIM_SHA512:=}"
: "${SECFAAS_GVISOR_BASE_URL:=https://storage.googleapis.com/gvisor/releases/release}"
: "${SECFAAS_GVISOR_PREFIX:=/usr/local}"
: "${SECFAAS_RUNSC_TOML_PATH:=/etc/containerd/runsc.toml}"
: "${SECFAAS_GVISOR_ARCH:=}"
: "${SECFAAS_BAKE_KEY:=}"
secfaas_runsc_toml() { :; }
# ---- secfaas:params end ----

: "${SECFAAS_GVISOR_LAYOUT:=auto}"
: "${SECFAAS_BAKE_NO_CLEANUP:=}"
: "${SECFAAS_BAKE_NO_POWEROFF:=}"
: "${SECFAAS_BAKE_TEST:=}"

REL=$SECFAAS_GVISOR_RELEASE
BASE=${SECFAAS_GVISOR_BASE_URL%/}
PREFIX=${SECFAAS_GVISOR_PREFIX%/}
TOML=$SECFAAS_RUNSC_TOML_PATH
KEY=${SECFAAS_BAKE_KEY:-none}
STAMP=$PREFIX/share/secfaas/gvisor-bake.stamp
work=""

log() { printf 'bake-gvisor: %s\n' "$*" >&2; }
die() {
	printf 'bake-gvisor: error: %s\n' "$*" >&2
	exit 1
}

maybe_poweroff() {
	if [ "$SECFAAS_BAKE_TEST" = 1 ] || [ "$SECFAAS_BAKE_NO_POWEROFF" = 1 ]; then
		return 0
	fi
	log "powering off the builder"
	sync
	poweroff || shutdown -h now || true
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
on_exit() {
	rc=$?
	if [ -n "$work" ]; then rm -rf "$work"; fi
	if [ "$rc" -ne 0 ]; then
		echo "SECFAAS-BAKE-FAILED $KEY"
		maybe_poweroff
	fi
}
trap on_exit EXIT

# ---- parameters ----
case $REL in
'') die "no gVisor release set: render this script with \`secfaas render bake-script SPEC\` or set SECFAAS_GVISOR_RELEASE" ;;
*[!0-9.]*) die "gVisor release '$REL' must be yyyymmdd or yyyymmdd.n" ;;
[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9] | [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].[0-9]*) ;;
*) die "gVisor release '$REL' must be yyyymmdd or yyyymmdd.n" ;;
esac
toml_text=$(secfaas_runsc_toml)
[ -n "$toml_text" ] || die "no runsc.toml rendered: render this script with \`secfaas render bake-script SPEC\`"
for pinvar in SECFAAS_GVISOR_SHA512 SECFAAS_GVISOR_SHIM_SHA512; do
	eval "pinval=\$$pinvar"
	if [ -n "$pinval" ]; then
		case $pinval in *[!0-9a-f]*) die "$pinvar must be 128 lowercase hex digits" ;; esac
		[ ${#pinval} -eq 128 ] || die "$pinvar must be 128 lowercase hex digits"
	fi
done
ARTIFACT=$SECFAAS_GVISOR_ARTIFACT
case $ARTIFACT in
'') ;;
gvisor.tar.bz2 | gvisor.tar.zstd | runsc)
	[ -n "$SECFAAS_GVISOR_SHA512" ] || die "SECFAAS_GVISOR_ARTIFACT=$ARTIFACT names a pinned artifact but no SHA-512 pins it"
	;;
*) die "SECFAAS_GVISOR_ARTIFACT must be gvisor.tar.bz2, gvisor.tar.zstd or runsc" ;;
esac
case $PREFIX in /*) ;; *) die "install prefix '$PREFIX' must be an absolute path" ;; esac
case $TOML in /*) ;; *) die "runsc.toml path '$TOML' must be an absolute path" ;; esac
case $SECFAAS_GVISOR_LAYOUT in auto | tarball | loose) ;; *) die "SECFAAS_GVISOR_LAYOUT must be auto, tarball or loose" ;; esac
# The pinned artifact decides the layout: the digest is of that file only.
case $SECFAAS_GVISOR_LAYOUT-$ARTIFACT in
loose-gvisor.tar.* | tarball-runsc) die "SECFAAS_GVISOR_LAYOUT=$SECFAAS_GVISOR_LAYOUT contradicts the pinned artifact $ARTIFACT" ;;
esac

# gVisor publishes x86_64/aarch64 directories (amd64/arm64 are 404).
ARCH=$(uname -m)
case $ARCH in
x86_64 | amd64) ARCH=x86_64 ;;
aarch64 | arm64) ARCH=aarch64 ;;
*) die "unsupported architecture '$ARCH' (gVisor ships x86_64 and aarch64)" ;;
esac
if [ -n "$SECFAAS_GVISOR_ARCH" ] && [ "$SECFAAS_GVISOR_ARCH" != "$ARCH" ]; then
	die "this builder is $ARCH but the image is keyed for $SECFAAS_GVISOR_ARCH: wrong base AMI or instance type"
fi

hostport=${BASE#*://}
hostport=${hostport%%/*}
loopback=0
case $hostport in
'[::1]' | '[::1]:'*) loopback=1 ;;
localhost | localhost:*) loopback=1 ;;
127.*)
	host=${hostport%%:*}
	case $host in *[!0-9.]*) ;; *) loopback=1 ;; esac
	;;
esac
# Plain http:// only when a SHA-512 pins the release or the mirror is this
# machine: otherwise anyone on the builder's network could swap runsc and its
# .sha512 together.
case $BASE in
https://*) ;;
http://*)
	[ -n "$SECFAAS_GVISOR_SHA512" ] || [ $loopback = 1 ] ||
		die "base URL '$BASE' is plain http:// and no SHA-512 pins the release: anyone on the network could swap runsc and its checksum file; use https:// or pin it"
	;;
*) die "base URL '$BASE' must start with https://" ;;
esac
# Over plain http:// a digest proves only its own file.  The loose layout's
# containerd-shim-runsc-v1 (containerd runs it as root) would be trusted
# from the .sha512 beside it, which whoever swaps the shim swaps too, so
# unless the shim is pinned as well only a tarball (both binaries under one
# digest) is taken from such a mirror.
shim_unpinned_plain=0
case $BASE in http://*) [ $loopback = 1 ] || [ -n "$SECFAAS_GVISOR_SHIM_SHA512" ] || shim_unpinned_plain=1 ;; esac
if [ $shim_unpinned_plain = 1 ]; then
	case $SECFAAS_GVISOR_LAYOUT-$ARTIFACT in
	loose-* | *-runsc) die "base URL '$BASE' is plain http:// and the loose layout's containerd-shim-runsc-v1 is not pinned (gvisor.sha512 pins runsc only): anyone on the network could swap the shim and its checksum file; use https://" ;;
	esac
	SECFAAS_GVISOR_LAYOUT=tarball
	log "plain http:// mirror: only the release's tarball is taken (its digest covers runsc and the shim)"
fi
if [ "$SECFAAS_BAKE_TEST" = 1 ]; then
	[ $loopback = 1 ] || die "SECFAAS_BAKE_TEST=1: refusing non-loopback base URL $BASE"
	# Never send test traffic through a proxy.
	no_proxy="*" NO_PROXY="*"
	export no_proxy NO_PROXY
fi

for tool in curl sha512sum sha256sum tar mktemp; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed on this builder"
done

URL=$BASE/$REL/$ARCH
toml_sha=$(printf '%s\n' "$toml_text" | sha256sum | cut -d' ' -f1)

# ---- idempotency: same parameters and the installed files unchanged ----
stamp_head() {
	printf 'release %s\narch %s\npinned-sha512 %s %s %s\nrunsc-toml-sha256 %s\nprefix %s\nrunsc-toml %s\n' \
		"$REL" "$ARCH" "${SECFAAS_GVISOR_SHA512:--}" "${ARTIFACT:--}" "${SECFAAS_GVISOR_SHIM_SHA512:--}" \
		"$toml_sha" "$PREFIX" "$TOML"
}
if [ -f "$STAMP" ] && [ "$(head -n 6 "$STAMP")" = "$(stamp_head)" ] &&
	tail -n +7 "$STAMP" | sha512sum -c --status 2>/dev/null; then
	log "gVisor $REL already installed in $PREFIX/bin (stamp $STAMP matches): nothing to do"
	"$PREFIX/bin/runsc" --version >&2 || die "installed $PREFIX/bin/runsc does not run"
	echo "SECFAAS-BAKE-OK $KEY"
	maybe_poweroff
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/secfaas-bake.XXXXXX")
dl=$work/dl
mkdir "$dl"

# fetch NAME: download $URL/NAME into $dl/NAME. 0 ok, 4 = HTTP 404, else dies.
fetch() {
	code=$(curl -sSL --retry 3 --connect-timeout 20 --max-time 600 \
		-o "$dl/$1" -w '%{http_code}' "$URL/$1") || die "download of $URL/$1 failed (curl exit $?)"
	case $code in
	200) return 0 ;;
	404)
		rm -f "$dl/$1"
		return 4
		;;
	*) die "download of $URL/$1 failed: HTTP $code" ;;
	esac
}

# fetch_required NAME: like fetch, but a 404 is fatal.
fetch_required() {
	fetch "$1" || die "download of $URL/$1 failed: HTTP 404 (release $REL has no $1 for $ARCH)"
}

# verify NAME: check $dl/NAME against $dl/NAME.sha512 ("<hash>  <name>").
# The file named in the .sha512 must be NAME itself, so a checksum file
# cannot vouch for a different artifact.
verify() {
	want="" name=""
	read -r want name _ <"$dl/$1.sha512" || [ -n "$want" ] || die "checksum file $1.sha512 from $URL is empty"
	name=${name#\*}
	[ "$name" = "$1" ] || die "checksum file $1.sha512 from $URL names '$name', not $1"
	case $want in *[!0-9a-f]* | '') die "checksum file $1.sha512 from $URL has no SHA-512" ;; esac
	[ ${#want} -eq 128 ] || die "checksum file $1.sha512 from $URL has no SHA-512"
	got=$(sha512sum "$dl/$1" | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "checksum mismatch for $1 from $URL: $1.sha512 says $want, the file hashes to $got; nothing installed"
	log "verified $1 against $1.sha512"
}

# ---- download, then verify everything before installing anything ----
layout=$SECFAAS_GVISOR_LAYOUT
primary=""
case $ARTIFACT in
gvisor.tar.*)
	fetch "$ARTIFACT.sha512" || die "download of $URL/$ARTIFACT.sha512 failed: HTTP 404 (release $REL has no pinned $ARTIFACT for $ARCH)"
	primary=$ARTIFACT
	layout=tarball
	;;
runsc) layout=loose ;;
esac
if [ -z "$primary" ] && [ "$layout" != loose ]; then
	for t in gvisor.tar.bz2 gvisor.tar.zstd; do
		if fetch "$t.sha512"; then
			primary=$t
			break
		fi
	done
	if [ -n "$primary" ]; then
		layout=tarball
	elif [ $shim_unpinned_plain = 1 ]; then
		die "release $REL has no tarball at $URL (HTTP 404), and over plain http:// its loose containerd-shim-runsc-v1 cannot be verified (gvisor.sha512 pins runsc only); use https://"
	elif [ "$layout" = tarball ]; then
		die "download of $URL/gvisor.tar.bz2.sha512 failed: HTTP 404 (no tarball for release $REL, $ARCH)"
	fi
fi
if [ -z "$primary" ]; then
	fetch runsc.sha512 || die "release $REL not found at $URL: HTTP 404 for gvisor.tar.bz2.sha512, gvisor.tar.zstd.sha512 and runsc.sha512 (check the release name and arch)"
	layout=loose
	primary=runsc
	fetch_required containerd-shim-runsc-v1.sha512
	fetch_required runsc
	fetch_required containerd-shim-runsc-v1
	verify runsc
	verify containerd-shim-runsc-v1
else
	fetch_required "$primary"
	verify "$primary"
fi
# pinned NAME WANT: $dl/NAME must hash to WANT (the spec's gvisor.sha512 or
# secfaas's built-in table of release digests), whatever its .sha512 says.
pinned() {
	got=$(sha512sum "$dl/$1" | cut -d' ' -f1)
	[ "$got" = "$2" ] || die "checksum mismatch for $1 from $URL: the release is pinned to $2 (gvisor.sha512 or secfaas's built-in table of release digests), the file hashes to $got; nothing installed"
	log "verified $1 against the pinned SHA-512"
}
if [ -n "$SECFAAS_GVISOR_SHA512" ]; then
	pinned "$primary" "$SECFAAS_GVISOR_SHA512"
fi
if [ -n "$SECFAAS_GVISOR_SHIM_SHA512" ]; then
	[ "$layout" = loose ] || die "SECFAAS_GVISOR_SHIM_SHA512 pins the loose layout's shim, but release $REL was downloaded as $primary"
	pinned containerd-shim-runsc-v1 "$SECFAAS_GVISOR_SHIM_SHA512"
fi

# ---- unpack into the temp dir and smoke-test the verified runsc ----
src=$work/x
mkdir "$src"
if [ "$layout" = tarball ]; then
	case $primary in
	*.bz2)
		command -v bzip2 >/dev/null 2>&1 || {
			if [ "$SECFAAS_BAKE_TEST" != 1 ] && command -v dnf >/dev/null 2>&1; then
				dnf install -y -q bzip2 || die "cannot install bzip2 (needed to unpack $primary)"
			else
				die "bzip2 is not installed (needed to unpack $primary)"
			fi
		}
		tar -xjf "$dl/$primary" --no-same-owner -C "$src" || die "cannot unpack $primary"
		;;
	*) tar --zstd -xf "$dl/$primary" --no-same-owner -C "$src" || die "cannot unpack $primary (needs zstd)" ;;
	esac
	if [ ! -f "$src/runsc" ]; then
		# Tolerate one top-level directory in the tarball.
		for d in "$src"/*/; do
			if [ -f "${d}runsc" ]; then
				src=${d%/}
				break
			fi
		done
	fi
else
	cp "$dl/runsc" "$dl/containerd-shim-runsc-v1" "$src/"
fi
for b in runsc containerd-shim-runsc-v1; do
	[ -f "$src/$b" ] || die "$primary from $URL has no $b"
done
chmod a+rx "$src/runsc" "$src/containerd-shim-runsc-v1"
version=$("$src/runsc" --version 2>&1) || die "the downloaded runsc does not run on this $ARCH builder: $version"
log "downloaded runsc: $(echo "$version" | head -n 1)"

# ---- install: sidecar dir, shim, runsc last; each by rename ----
mkdir -p "$PREFIX/bin" "$(dirname "$STAMP")" "$(dirname "$TOML")"
if [ -d "$src/gvisor-bin" ]; then
	rm -rf "$PREFIX/bin/.gvisor-bin.new" "$PREFIX/bin/.gvisor-bin.old"
	cp -R "$src/gvisor-bin" "$PREFIX/bin/.gvisor-bin.new"
	chmod -R a+rX "$PREFIX/bin/.gvisor-bin.new"
	if [ -e "$PREFIX/bin/gvisor-bin" ]; then mv "$PREFIX/bin/gvisor-bin" "$PREFIX/bin/.gvisor-bin.old"; fi
	mv "$PREFIX/bin/.gvisor-bin.new" "$PREFIX/bin/gvisor-bin"
	rm -rf "$PREFIX/bin/.gvisor-bin.old"
fi
for b in containerd-shim-runsc-v1 runsc; do
	cp "$src/$b" "$PREFIX/bin/.$b.new"
	chmod 0755 "$PREFIX/bin/.$b.new"
	mv -f "$PREFIX/bin/.$b.new" "$PREFIX/bin/$b"
done
printf '%s\n' "$toml_text" >"$TOML.new"
chmod 0644 "$TOML.new"
mv -f "$TOML.new" "$TOML"
if command -v restorecon >/dev/null 2>&1; then
	restorecon -R "$PREFIX/bin/runsc" "$PREFIX/bin/containerd-shim-runsc-v1" "$TOML" || true
	if [ -d "$PREFIX/bin/gvisor-bin" ]; then restorecon -R "$PREFIX/bin/gvisor-bin" || true; fi
fi
"$PREFIX/bin/runsc" --version >&2 || die "installed $PREFIX/bin/runsc does not run"
log "installed gVisor $REL ($layout layout) into $PREFIX/bin; runsc.toml at $TOML"

# The generator picks the containerd config key (v2/v3) from this AMI tag.
if command -v containerd >/dev/null 2>&1; then
	echo "SECFAAS-CONTAINERD-VERSION $(containerd --version 2>/dev/null | head -n 1)"
else
	echo "SECFAAS-CONTAINERD-VERSION none"
fi

{
	stamp_head
	sha512sum "$PREFIX/bin/runsc" "$PREFIX/bin/containerd-shim-runsc-v1" "$TOML"
} >"$STAMP.new"
mv -f "$STAMP.new" "$STAMP"

# ---- builder cleanup (real AMI builds only), like the EKS AMI's cleanup.sh ----
if [ "$SECFAAS_BAKE_TEST" != 1 ] && [ "$SECFAAS_BAKE_NO_CLEANUP" != 1 ]; then
	if [ -d /etc/eks ]; then
		log "cleaning the builder for imaging"
		if command -v dnf >/dev/null 2>&1; then dnf clean all -q || true; fi
		rm -f /etc/ssh/ssh_host_*
		rm -rf /var/lib/cloud/data /var/lib/cloud/instance /var/lib/cloud/instances /var/lib/cloud/sem
		: >/etc/machine-id
	else
		log "not an EKS AMI builder (/etc/eks missing): skipping builder cleanup"
	fi
fi

echo "SECFAAS-BAKE-OK $KEY"
maybe_poweroff
exit 0
