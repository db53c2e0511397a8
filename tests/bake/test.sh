#!/bin/sh
# tests/bake: the gVisor bake script (manifests/bake-gvisor.sh, as rendered by
# provisioner/node/render.c) against a release mirror served on 127.0.0.1.
#
# The mirror holds releases built from Debian's runsc binary (/usr/bin/runsc,
# 20221219). Debian ships no containerd-shim-runsc-v1, so the tarballs carry a
# stub shim script in its place (it is installed and checked for a+rx, never
# run). Releases:
#   20221219.0  tarball layout, correct gvisor.tar.bz2.sha512
#   20221219.1  same tarball, WRONG .sha512
#   20221219.2  loose layout (runsc, containerd-shim-runsc-v1, each + .sha512)
#   20221219.3  tarball whose .sha512 has the right hash but names another file
#   20221219.9  absent (404)
#   20260817.0, 20260810, 20261005.0 (x86_64): stand-ins under the names of
#               releases the built-in digest table pins (runsc, tarball,
#               .tar.zstd), each with a matching .sha512
# Proves: correct -> installed, runsc --version works, runsc.toml written,
# marker with the bake key; re-run is a no-op (no download); a tampered
# install is repaired; wrong/foreign checksum or wrong pin -> non-zero, the
# message names the file, nothing installed; 404 -> clear message; only
# loopback base URLs under SECFAAS_BAKE_TEST=1; shellcheck clean.
set -u
# shellcheck source=tests/bake/lib.sh
. "${SECFAAS_SRC:-.}/tests/bake/lib.sh"
SRC=$SECFAAS_SRC
PY=/usr/bin/python3
mirror_pid=""
cleanup() {
	if [ -n "$mirror_pid" ]; then kill "$mirror_pid" 2>/dev/null; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for tool in shellcheck bzip2 curl sha512sum "$PY" /usr/bin/runsc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		fail "prerequisite $tool missing: install with make deps"
		finish
		exit 1
	fi
done

# ---- lint ----
check "shellcheck manifests/bake-gvisor.sh" shellcheck -s sh "$SRC/manifests/bake-gvisor.sh"

if ! build_driver; then
	fail "render driver does not build"
	finish
	exit 1
fi

# ---- the mirror ----
ARCH=$(uname -m)
M=$TMPDIR/mirror
stage=$TMPDIR/stage
mkdir -p "$stage/gvisor-bin" "$M/20221219.0/$ARCH" "$M/20221219.1/$ARCH" "$M/20221219.2/$ARCH" "$M/20221219.3/$ARCH"
cp /usr/bin/runsc "$stage/runsc"
cat >"$stage/containerd-shim-runsc-v1" <<'EOF'
#!/bin/sh
# stub: Debian has no containerd-shim-runsc-v1; tests/bake only installs it.
echo "containerd-shim-runsc-v1 stub (secfaas tests/bake)" >&2
exit 1
EOF
echo "sidecar directory runsc expects beside itself" >"$stage/gvisor-bin/README"
chmod 0755 "$stage/runsc" "$stage/containerd-shim-runsc-v1"
tar -cf - -C "$stage" runsc containerd-shim-runsc-v1 gvisor-bin | bzip2 -1 >"$M/20221219.0/$ARCH/gvisor.tar.bz2"
(cd "$M/20221219.0/$ARCH" && sha512sum gvisor.tar.bz2 >gvisor.tar.bz2.sha512)
cp "$M/20221219.0/$ARCH/gvisor.tar.bz2" "$M/20221219.1/$ARCH/"
echo "not the tarball" >"$TMPDIR/other"
echo "$(sha512sum "$TMPDIR/other" | cut -d' ' -f1)  gvisor.tar.bz2" >"$M/20221219.1/$ARCH/gvisor.tar.bz2.sha512"
cp "$stage/runsc" "$stage/containerd-shim-runsc-v1" "$M/20221219.2/$ARCH/"
(cd "$M/20221219.2/$ARCH" && sha512sum runsc >runsc.sha512 && sha512sum containerd-shim-runsc-v1 >containerd-shim-runsc-v1.sha512)
cp "$M/20221219.0/$ARCH/gvisor.tar.bz2" "$M/20221219.3/$ARCH/"
echo "$(sha512sum "$M/20221219.0/$ARCH/gvisor.tar.bz2" | cut -d' ' -f1)  runsc" >"$M/20221219.3/$ARCH/gvisor.tar.bz2.sha512"
TAR_SHA=$(sha512sum "$M/20221219.0/$ARCH/gvisor.tar.bz2" | cut -d' ' -f1)

fifo=$TMPDIR/mirror.port
mkfifo "$fifo"
"$PY" "$SRC/tests/bake/mirror.py" "$M" >"$fifo" 2>"$TMPDIR/mirror.log" &
mirror_pid=$!
read -r PORT <"$fifo" || PORT=""
if [ -z "$PORT" ]; then
	fail "mirror did not start: $(cat "$TMPDIR/mirror.log")"
	finish
	exit 1
fi
BASE=http://127.0.0.1:$PORT
requests() { grep -c '"GET ' "$TMPDIR/mirror.log"; }

# ---- render ----
P1=$TMPDIR/p1
AMI=ami-0123456789abcdef0
SCRIPT=$TMPDIR/bake.sh
"$DRIVER" bake-script --release 20221219.0 --base-url "$BASE" --prefix "$P1" \
	--runsc-toml-path "$P1/etc/containerd/runsc.toml" --arch "$ARCH" --base-ami "$AMI" --platform ptrace >"$SCRIPT"
check "render bake script" test -s "$SCRIPT"
KEY=$("$DRIVER" bake-key --release 20221219.0 --base-url "$BASE" --prefix "$P1" \
	--runsc-toml-path "$P1/etc/containerd/runsc.toml" --arch "$ARCH" --base-ami "$AMI" --platform ptrace)
check "shellcheck the rendered script" shellcheck -s sh "$SCRIPT"

# bake [ENV=VALUE...]: run the rendered script in test mode; output in $TMPDIR/out.
bake() {
	timeout 120 env SECFAAS_BAKE_TEST=1 SECFAAS_BAKE_NO_POWEROFF=1 "$@" sh "$SCRIPT" >"$TMPDIR/out" 2>&1
}
# empty_prefix DIR: nothing installed (missing or empty).
empty_prefix() { [ ! -e "$1" ] || [ -z "$(ls -A "$1")" ]; }
has() { grep -q -- "$1" "$TMPDIR/out"; }
show() { sed 's/^/    | /' "$TMPDIR/out"; }

# ---- 1. correct release: installed ----
if bake; then ok "correct checksum: exit 0"; else fail "correct checksum: exit $?" && show; fi
check "marker with the bake key" grep -qx "SECFAAS-BAKE-OK $KEY" "$TMPDIR/out"
check "containerd version recorded" grep -q '^SECFAAS-CONTAINERD-VERSION ' "$TMPDIR/out"
if "$P1/bin/runsc" --version 2>&1 | grep -q '^runsc version'; then ok "installed runsc --version works"; else fail "installed runsc --version"; fi
check "runsc identical to the release binary" cmp -s "$P1/bin/runsc" /usr/bin/runsc
check "shim installed" test -f "$P1/bin/containerd-shim-runsc-v1"
mode_ok() { [ "$(stat -c %a "$1")" = 755 ]; }
check "runsc and shim are a+rx (0755)" mode_ok "$P1/bin/runsc"
check "shim a+rx" mode_ok "$P1/bin/containerd-shim-runsc-v1"
check "gvisor-bin sidecar beside runsc" test -f "$P1/bin/gvisor-bin/README"
"$DRIVER" runsc-toml --platform ptrace >"$TMPDIR/want.toml"
check "runsc.toml written, exactly the rendered one" cmp -s "$P1/etc/containerd/runsc.toml" "$TMPDIR/want.toml"
check "downloads left no temp dir" sh -c "! ls -d '$TMPDIR'/secfaas-bake.* 2>/dev/null"

# ---- 2. re-run: no-op, no download ----
before=$(requests)
ino=$(stat -c %i "$P1/bin/runsc")
if bake; then ok "re-run: exit 0"; else fail "re-run: exit $?" && show; fi
check "re-run says nothing to do" has "nothing to do"
check "re-run prints the marker" grep -qx "SECFAAS-BAKE-OK $KEY" "$TMPDIR/out"
check "re-run downloaded nothing" test "$(requests)" -eq "$before"
check "re-run left runsc untouched" test "$(stat -c %i "$P1/bin/runsc")" -eq "$ino"

# ---- 3. tampered install is repaired ----
printf 'x' >>"$P1/bin/runsc"
if bake; then ok "tampered install: re-bake exit 0"; else fail "tampered install: exit $?" && show; fi
check "tampered runsc replaced by the verified one" cmp -s "$P1/bin/runsc" /usr/bin/runsc

# ---- 4. wrong .sha512: fails closed, nothing installed ----
P2=$TMPDIR/p2
if bake SECFAAS_GVISOR_RELEASE=20221219.1 SECFAAS_GVISOR_PREFIX="$P2" SECFAAS_RUNSC_TOML_PATH="$P2/etc/runsc.toml"; then
	fail "wrong checksum: exit 0"
else ok "wrong checksum: non-zero exit"; fi
check "wrong checksum: message names the file" has "checksum mismatch for gvisor.tar.bz2"
check "wrong checksum: SECFAAS-BAKE-FAILED printed" has "SECFAAS-BAKE-FAILED"
check "wrong checksum: no marker" sh -c "! grep -q SECFAAS-BAKE-OK '$TMPDIR/out'"
check "wrong checksum: nothing installed" empty_prefix "$P2"

# ---- 5. .sha512 naming another file: refused ----
P3=$TMPDIR/p3
if bake SECFAAS_GVISOR_RELEASE=20221219.3 SECFAAS_GVISOR_PREFIX="$P3" SECFAAS_RUNSC_TOML_PATH="$P3/etc/runsc.toml"; then
	fail "foreign .sha512: exit 0"
else ok "foreign .sha512: non-zero exit"; fi
check "foreign .sha512: message names both files" has "gvisor.tar.bz2.sha512 .* names 'runsc', not gvisor.tar.bz2"
check "foreign .sha512: nothing installed" empty_prefix "$P3"

# ---- 6. pinned SHA-512 ----
P4=$TMPDIR/p4
if bake SECFAAS_GVISOR_SHA512="$TAR_SHA" SECFAAS_GVISOR_PREFIX="$P4" SECFAAS_RUNSC_TOML_PATH="$P4/etc/runsc.toml"; then
	ok "correct pin: exit 0"
else fail "correct pin: exit $?" && show; fi
check "correct pin: verified against the pin" has "verified gvisor.tar.bz2 against the pinned SHA-512"
P5=$TMPDIR/p5
WRONG=$(echo wrong | sha512sum | cut -d' ' -f1)
if bake SECFAAS_GVISOR_SHA512="$WRONG" SECFAAS_GVISOR_PREFIX="$P5" SECFAAS_RUNSC_TOML_PATH="$P5/etc/runsc.toml"; then
	fail "wrong pin: exit 0"
else ok "wrong pin: non-zero exit"; fi
check "wrong pin: message names the file and the pin" has "checksum mismatch for gvisor.tar.bz2 .*pinned to $WRONG"
check "wrong pin: nothing installed" empty_prefix "$P5"

# ---- 7. loose layout ----
P6=$TMPDIR/p6
if bake SECFAAS_GVISOR_RELEASE=20221219.2 SECFAAS_GVISOR_PREFIX="$P6" SECFAAS_RUNSC_TOML_PATH="$P6/etc/runsc.toml"; then
	ok "loose layout: exit 0"
else fail "loose layout: exit $?" && show; fi
check "loose layout: both checksums verified" sh -c "grep -q 'verified runsc against' '$TMPDIR/out' && grep -q 'verified containerd-shim-runsc-v1 against' '$TMPDIR/out'"
if "$P6/bin/runsc" --version 2>&1 | grep -q '^runsc version'; then ok "loose layout: runsc --version works"; else fail "loose layout: runsc --version"; fi

# ---- 8. 404 ----
P7=$TMPDIR/p7
if bake SECFAAS_GVISOR_RELEASE=20221219.9 SECFAAS_GVISOR_PREFIX="$P7" SECFAAS_RUNSC_TOML_PATH="$P7/etc/runsc.toml"; then
	fail "404: exit 0"
else ok "404: non-zero exit"; fi
check "404: clear message" has "release 20221219.9 not found at $BASE/20221219.9/$ARCH: HTTP 404"
check "404: nothing installed" empty_prefix "$P7"
if bake SECFAAS_GVISOR_LAYOUT=tarball SECFAAS_GVISOR_RELEASE=20221219.2 SECFAAS_GVISOR_PREFIX="$P7"; then
	fail "tarball forced on a loose release: exit 0"
else ok "tarball forced on a loose release: non-zero exit"; fi
check "tarball forced: message names the file" has "gvisor.tar.bz2.sha512 failed: HTTP 404"

# ---- 9. refusals before any download ----
before=$(requests)
if bake SECFAAS_GVISOR_BASE_URL=https://storage.googleapis.com/gvisor/releases/release SECFAAS_GVISOR_PREFIX="$P7"; then
	fail "non-loopback base URL accepted in test mode"
else ok "non-loopback base URL refused in test mode"; fi
check "refusal names the URL" has "refusing non-loopback base URL https://storage.googleapis.com"
if bake SECFAAS_GVISOR_BASE_URL="http://mirror.example/gvisor" SECFAAS_GVISOR_PREFIX="$P7"; then
	fail "plain http mirror without a pin accepted"
else ok "plain http mirror without a pin refused"; fi
check "http refusal says why" has "is plain http:// and no SHA-512 pins the release"
# a pinned runsc over plain http://: the loose layout's shim is pinned by
# nothing but its own .sha512 on the same server, so only a tarball is taken
PIN=$(echo pin | sha512sum | cut -d' ' -f1)
for how in SECFAAS_GVISOR_LAYOUT=loose SECFAAS_GVISOR_ARTIFACT=runsc; do
	if bake SECFAAS_GVISOR_BASE_URL="http://mirror.example/gvisor" SECFAAS_GVISOR_SHA512="$PIN" "$how" \
		SECFAAS_GVISOR_PREFIX="$P7"; then
		fail "plain http, runsc pinned, $how: accepted"
	else ok "plain http, runsc pinned, $how: refused"; fi
	check "plain http, $how: the refusal names the unpinned shim" has "plain http:// and the loose layout's containerd-shim-runsc-v1 is not pinned"
done
bake SECFAAS_GVISOR_BASE_URL="http://mirror.example/gvisor" SECFAAS_GVISOR_SHA512="$PIN" SECFAAS_GVISOR_PREFIX="$P7"
check "plain http, runsc pinned, layout auto: only the tarball is taken" has "plain http:// mirror: only the release's tarball is taken"
bake SECFAAS_GVISOR_BASE_URL="http://mirror.example/gvisor" SECFAAS_GVISOR_SHA512="$PIN" SECFAAS_GVISOR_SHIM_SHA512="$PIN" \
	SECFAAS_GVISOR_LAYOUT=loose SECFAAS_GVISOR_PREFIX="$P7"
check "plain http, runsc and shim pinned: the loose layout passes that check" \
	sh -c "! grep -q 'containerd-shim-runsc-v1 is not pinned' '$TMPDIR/out' && grep -q 'refusing non-loopback' '$TMPDIR/out'"
if bake SECFAAS_GVISOR_BASE_URL="http://127.0.0.1.example.com:$PORT" SECFAAS_GVISOR_PREFIX="$P7"; then
	fail "127.0.0.1.example.com accepted as loopback"
else ok "127.0.0.1.example.com refused as non-loopback"; fi
other=aarch64
[ "$ARCH" = aarch64 ] && other=x86_64
if bake SECFAAS_GVISOR_ARCH=$other SECFAAS_GVISOR_PREFIX="$P7"; then
	fail "arch mismatch accepted"
else ok "arch mismatch refused"; fi
check "arch mismatch message" has "this builder is $ARCH but the image is keyed for $other"
if env SECFAAS_BAKE_TEST=1 SECFAAS_GVISOR_RELEASE=20221219.0 SECFAAS_GVISOR_BASE_URL="$BASE" \
	SECFAAS_GVISOR_PREFIX="$P7" sh "$SRC/manifests/bake-gvisor.sh" >"$TMPDIR/out" 2>&1; then
	fail "unrendered template ran"
else ok "unrendered template refuses to run"; fi
check "unrendered template says how to render" has "secfaas render bake-script"
check "refusals downloaded nothing" test "$(requests)" -eq "$before"
check "refusals installed nothing" empty_prefix "$P7"

# ---- 10. releases of the built-in digest table: pinned by default ----
# The mirror serves stand-ins (Debian's runsc, the stub shim) under the
# names of releases the table pins, each with a .sha512 that matches the
# stand-in: only the table's digest can refuse them.  Rendered without any
# sha512, as a spec that names just the release.
STUB_SHA=$(sha512sum "$stage/containerd-shim-runsc-v1" | cut -d' ' -f1)
RUNSC_SHA=$(sha512sum "$stage/runsc" | cut -d' ' -f1)
mkdir -p "$M/20260817.0/$ARCH" "$M/20260810/$ARCH"
cp "$stage/runsc" "$stage/containerd-shim-runsc-v1" "$M/20260817.0/$ARCH/"
(cd "$M/20260817.0/$ARCH" && sha512sum runsc >runsc.sha512 && sha512sum containerd-shim-runsc-v1 >containerd-shim-runsc-v1.sha512)
cp "$M/20221219.0/$ARCH/gvisor.tar.bz2" "$M/20221219.0/$ARCH/gvisor.tar.bz2.sha512" "$M/20260810/$ARCH/"
TSCRIPT=$TMPDIR/bake-table.sh
P8=$TMPDIR/p8
"$DRIVER" bake-script --release 20260817.0 --base-url "$BASE" --prefix "$P8" \
	--runsc-toml-path "$P8/etc/runsc.toml" --arch "$ARCH" --base-ami "$AMI" --platform ptrace >"$TSCRIPT"
check "table release: the script pins runsc" grep -q '^: "${SECFAAS_GVISOR_ARTIFACT:=runsc}"$' "$TSCRIPT"
check "table release: the script pins a digest" grep -Eq '^: "\$\{SECFAAS_GVISOR_SHA512:=[0-9a-f]{128}\}"$' "$TSCRIPT"
check "table release: the script pins the shim" grep -Eq '^: "\$\{SECFAAS_GVISOR_SHIM_SHA512:=[0-9a-f]{128}\}"$' "$TSCRIPT"
# tbake [ENV=VALUE...]: run the table-pinned script in test mode.
tbake() {
	timeout 120 env SECFAAS_BAKE_TEST=1 SECFAAS_BAKE_NO_POWEROFF=1 "$@" sh "$TSCRIPT" >"$TMPDIR/out" 2>&1
}
if tbake; then fail "table pin: a runsc that is not the release's was installed"; else ok "table pin: a runsc that is not the release's is refused"; fi
check "table pin: its own .sha512 passed first" has "verified runsc against runsc.sha512"
check "table pin: the message names the file and the table" has "checksum mismatch for runsc .*built-in table of release digests"
check "table pin: nothing installed" empty_prefix "$P8"
if tbake SECFAAS_GVISOR_SHA512="$RUNSC_SHA"; then fail "table pin: a shim that is not the release's was installed"; else ok "table pin: a shim that is not the release's is refused"; fi
check "table pin: the shim refusal names it" has "checksum mismatch for containerd-shim-runsc-v1 "
check "table pin: nothing installed after the shim refusal" empty_prefix "$P8"
if tbake SECFAAS_GVISOR_SHA512="$RUNSC_SHA" SECFAAS_GVISOR_SHIM_SHA512="$STUB_SHA"; then
	ok "pins of the stand-ins given: installed"
else fail "pins of the stand-ins given: exit $?" && show; fi
check "pins of the stand-ins given: runsc installed" cmp -s "$P8/bin/runsc" /usr/bin/runsc
P9=$TMPDIR/p9
"$DRIVER" bake-script --release 20260810 --base-url "$BASE" --prefix "$P9" \
	--runsc-toml-path "$P9/etc/runsc.toml" --arch "$ARCH" --base-ami "$AMI" --platform ptrace >"$TSCRIPT"
if tbake; then fail "table pin: a tarball that is not the release's was installed"; else ok "table pin: a tarball that is not the release's is refused"; fi
check "table pin: the tarball refusal names it" has "checksum mismatch for gvisor.tar.bz2 .*built-in table of release digests"
check "table pin: no tarball installed" empty_prefix "$P9"
if [ "$ARCH" = x86_64 ]; then
	# the table pins this release's .tar.zstd: exactly it is fetched, even
	# though a .tar.bz2 (which the unpinned script takes first) is there
	mkdir -p "$M/20261005.0/$ARCH"
	cp "$M/20221219.0/$ARCH/gvisor.tar.bz2" "$M/20221219.0/$ARCH/gvisor.tar.bz2.sha512" "$M/20261005.0/$ARCH/"
	echo "not a gVisor tarball" >"$M/20261005.0/$ARCH/gvisor.tar.zstd"
	(cd "$M/20261005.0/$ARCH" && sha512sum gvisor.tar.zstd >gvisor.tar.zstd.sha512)
	"$DRIVER" bake-script --release 20261005.0 --base-url "$BASE" --prefix "$P9" \
		--runsc-toml-path "$P9/etc/runsc.toml" --arch "$ARCH" --base-ami "$AMI" --platform ptrace >"$TSCRIPT"
	if tbake; then fail "table pin (zstd): installed"; else ok "table pin (zstd): a tarball that is not the release's is refused"; fi
	check "table pin (zstd): the refusal names gvisor.tar.zstd" has "checksum mismatch for gvisor.tar.zstd .*built-in table"
	check "table pin (zstd): the pinned artifact was fetched" grep -q '"GET /20261005.0/x86_64/gvisor.tar.zstd ' "$TMPDIR/mirror.log"
	check "table pin (zstd): the other tarball was not" sh -c "! grep -q '/20261005.0/x86_64/gvisor.tar.bz2' '$TMPDIR/mirror.log'"
	check "table pin (zstd): nothing installed" empty_prefix "$P9"
fi
if tbake SECFAAS_GVISOR_ARTIFACT=runsc SECFAAS_GVISOR_LAYOUT=tarball; then
	fail "a layout contradicting the pinned artifact ran"
else ok "a layout contradicting the pinned artifact is refused"; fi
check "contradiction message" has "contradicts the pinned artifact runsc"

finish
