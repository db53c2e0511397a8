#!/bin/sh
# tests/sandbox: the containerd fragment secfaas renders, run on a real
# containerd 1.6 + runsc (Debian) through CRI with the RuntimeClass handler
# name from provisioner/node/render.h. What is substituted and what still
# matches a node: README.md here and docs/sandbox.md.
#
# Needs root and the Debian packages runsc, containerd (with runc),
# busybox-static, curl (HTTP/2), python3 >= 3.11: missing -> FAIL with
# "install with make deps" (never a silent skip).
set -u
# shellcheck source=tests/bake/lib.sh
. "${SECFAAS_SRC:-.}/tests/bake/lib.sh"
SRC=$SECFAAS_SRC
PY=/usr/bin/python3
HELPER="$SRC/tests/sandbox/sandbox.py"
W=$TMPDIR/sb
SOCK=$W/containerd.sock
cd_pid=""

prereq() {
	fail "$*: install with make deps"
	finish
	exit 1
}
[ "$(id -u)" -eq 0 ] || prereq "tests/sandbox must run as root (CI does)"
for b in /usr/bin/runsc containerd ctr containerd-shim-runc-v2 runc /bin/busybox curl "$PY"; do
	command -v "$b" >/dev/null 2>&1 || prereq "$b missing (packages runsc containerd busybox-static curl python3)"
done
file_static() { "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(b"/lib64/ld-linux" in d or b"/lib/ld-linux" in d)' "$1"; }
file_static /bin/busybox || prereq "/bin/busybox is not static (package busybox-static)"
"$PY" -c 'import tomllib' 2>/dev/null || prereq "$PY has no tomllib (needs Python 3.11)"
curl -V | grep -q HTTP2 || prereq "curl has no HTTP/2 support"

# The runc shim puts its sockets in /run/containerd/s (not configurable in
# 1.6); remember what was there so teardown removes only ours.
SHIM_DIR=/run/containerd/s
had_run_containerd=0
[ -d /run/containerd ] && had_run_containerd=1
pre_sockets=""
for f in "$SHIM_DIR"/*; do [ -e "$f" ] && pre_sockets="$pre_sockets ${f##*/}"; done

# ---- teardown: everything by PID, then the mounts under $W ----
# Processes are found by our private paths in their command lines ($W is a
# fresh mktemp dir), never by program name.
our_pids() {
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = "$$" ] && continue
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$W/"; then echo "$pid"; fi
	done
}
teardown() {
	if [ -n "$cd_pid" ]; then
		kill "$cd_pid" 2>/dev/null
		wait "$cd_pid" 2>/dev/null
		cd_pid=""
	fi
	for pid in $(our_pids); do kill -9 "$pid" 2>/dev/null; done
	for f in "$SHIM_DIR"/*; do
		[ -e "$f" ] || continue
		case " $pre_sockets " in *" ${f##*/} "*) ;; *) rm -f "$f" ;; esac
	done
	if [ "$had_run_containerd" = 0 ]; then rmdir "$SHIM_DIR" /run/containerd 2>/dev/null; fi
	# Unmount deepest first (rootfs overlays, sandbox shm).
	if [ -d "$W" ]; then
		awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	fi
}
trap teardown EXIT
trap 'exit 1' INT TERM

mkdir -p "$W"
if ! build_driver; then
	fail "render driver does not build"
	finish
	exit 1
fi

# ---- what secfaas renders ----
HANDLER=$("$DRIVER" handler)
check "RuntimeClass handler constant is runsc" test "$HANDLER" = runsc
"$DRIVER" fragment --containerd-major 1 >"$W/fragment.toml"
# The user-facing CLI must print these same bytes; then run the CLI's copy.
if [ -x "${SECFAAS:-}" ] && "$SECFAAS" render --help >/dev/null 2>&1; then
	if "$SECFAAS" render node-config "$SRC/examples/minimal.yaml" --node-group sandbox --containerd-major 1 \
		--artifact containerd >"$W/cli-fragment.toml" 2>"$W/cli.err" &&
		cmp -s "$W/cli-fragment.toml" "$W/fragment.toml"; then
		ok "secfaas render node-config --artifact containerd prints the same fragment"
		cp "$W/cli-fragment.toml" "$W/fragment.toml"
	else
		fail "secfaas render node-config fragment differs from render.c's: $(cat "$W/cli.err")"
	fi
fi
"$DRIVER" runsc-toml --platform ptrace >"$W/runsc.toml" # runsc 20221219 has no systrap
"$DRIVER" node-bundle --containerd-major 1 --platform ptrace >"$W/bundle.txt"
awk '/^# ---- containerd-fragment.toml ----$/ { on = 1; next } /^# ---- / { on = 0 } on' "$W/bundle.txt" >"$W/bundle-fragment.toml"
check "node-config bundle carries exactly this fragment" cmp -s "$W/fragment.toml" "$W/bundle-fragment.toml"
check "user data carries the fragment for containerd 1.x" grep -q 'runtimes.runsc]' "$W/bundle.txt"

# The merge helper refuses a fragment whose runtime name is not the handler.
if "$PY" "$HELPER" config "$SRC/tests/sandbox/base-config.toml" "$W/fragment.toml" gvisor "$W/runsc.toml" "$W" >"$W/mismatch.out" 2>&1; then
	fail "handler mismatch (fragment runsc vs handler gvisor) not detected"
else ok "handler mismatch is a failure"; fi
check "mismatch message names both" grep -q "defines runtimes \['runsc'\].*handler is 'gvisor'" "$W/mismatch.out"

if "$PY" "$HELPER" config "$SRC/tests/sandbox/base-config.toml" "$W/fragment.toml" "$HANDLER" "$W/runsc.toml" "$W" >"$W/subst.out" 2>&1; then
	ok "merge base config + rendered fragment"
else
	fail "merge: $(cat "$W/subst.out")"
	finish
	exit 1
fi
sed 's/^/    substitution: /' "$W/subst.out"

# The node's merged config, unsubstituted, is what containerd 1.6 loads.
containerd --config "$W/node.toml" config dump >"$W/dump.toml" 2>"$W/dump.err"
check "containerd 1.6 loads the merged node config" test -s "$W/dump.toml"
dump_has() {
	"$PY" - "$W/dump.toml" "$HANDLER" <<'EOF'
import sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
rt = d["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
r = rt[sys.argv[2]]
assert r["runtime_type"] == "io.containerd.runsc.v1", r
assert r["options"]["ConfigPath"] == "/etc/containerd/runsc.toml", r
assert r["options"]["TypeUrl"] == "io.containerd.runsc.v1.options", r
assert rt["runc"]["runtime_type"] == "io.containerd.runc.v2"
assert d["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["default_runtime_name"] == "runc"
EOF
}
check "config dump has the rendered runsc runtime and runc stays default" dump_has

# ---- a private containerd on the test config ----
"$PY" "$HELPER" image "$W/image.tar" secfaas.local/pause:test secfaas.local/busybox:test
containerd --config "$W/test.toml" >"$W/containerd.log" 2>&1 &
cd_pid=$!
if ctr --connect-timeout 30s -a "$SOCK" version >/dev/null 2>&1; then
	ok "private containerd is up (pid $cd_pid)"
else
	fail "private containerd did not start:"
	tail -n 20 "$W/containerd.log"
	finish
	exit 1
fi
check "CRI plugin loaded" sh -c "ctr -a '$SOCK' plugins ls | grep -qE 'io.containerd.grpc.v1 +cri .* ok'"
check "image imported (no registry)" sh -c "ctr -a '$SOCK' -n k8s.io images import '$W/image.tar' >/dev/null"

# field JSON EXPR: evaluate a Python expression over the CRI result `r`.
field() { "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
HOST_KREL=$(uname -r)

# ---- the gVisor pod, through the rendered handler name ----
if timeout 120 "$PY" "$HELPER" cri "$SOCK" "$HANDLER" secfaas.local/busybox:test --no-stop \
	'uname -r' 'dmesg' 'cat /proc/sys/kernel/osrelease; echo rc=$?' >"$W/gvisor.json" 2>"$W/gvisor.err"; then
	ok "pod with runtime_handler=$HANDLER ran a container"
	cat "$W/gvisor.json"
	check "CRI reports handler $HANDLER for the pod" test "$(field "$W/gvisor.json" 'r["handler"]')" = "$HANDLER"
	krel=$(field "$W/gvisor.json" 'r["results"][0]["stdout"].strip()')
	check "uname -r in the pod ($krel) differs from the host ($HOST_KREL)" test "$krel" != "$HOST_KREL"
	case $krel in 4.4.0 | *-gvisor) ok "uname -r is gVisor's ($krel)" ;; *) fail "uname -r $krel is not gVisor's (4.4.0 or *-gvisor)" ;; esac
	check "dmesg says Starting gVisor" sh -c "'$PY' -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(\"Starting gVisor\" not in r[\"results\"][1][\"stdout\"])' '$W/gvisor.json'"
	check "runsc-sandbox process under our runsc root" sh -c "ps -eo args | grep -F -- '--root=$W/runsc-root/' | grep -q runsc-sandbox"
else
	fail "pod with runtime_handler=$HANDLER: $(cat "$W/gvisor.err")"
	tail -n 30 "$W/containerd.log"
fi

# ---- control: the runc handler shows the host kernel ----
if timeout 120 "$PY" "$HELPER" cri "$SOCK" runc secfaas.local/busybox:test 'uname -r' 'dmesg 2>&1' >"$W/runc.json" 2>"$W/runc.err"; then
	ok "control pod with runtime_handler=runc ran"
	check "control: uname -r is the host's" test "$(field "$W/runc.json" 'r["results"][0]["stdout"].strip()')" = "$HOST_KREL"
	check "control: no gVisor banner" sh -c "'$PY' -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(\"Starting gVisor\" in r[\"results\"][1][\"stdout\"])' '$W/runc.json'"
else
	fail "control pod with runtime_handler=runc: $(cat "$W/runc.err")"
fi

# ---- a handler name the config does not define is refused by containerd ----
if timeout 60 "$PY" "$HELPER" cri "$SOCK" gvisor secfaas.local/busybox:test 'true' >"$W/nohandler.json" 2>"$W/nohandler.err"; then
	fail "unknown handler gvisor was accepted"
else ok "unknown handler refused"; fi
check "refusal names the missing runtime" grep -q 'no runtime for "gvisor" is configured' "$W/nohandler.err"

teardown
check "no process of ours left" test -z "$(our_pids)"
check "no mount of ours left" sh -c "! grep -qF ' $W/' /proc/self/mountinfo"
finish
