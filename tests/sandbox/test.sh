#!/bin/sh
# tests/sandbox: the containerd fragment secfaas renders, run on a real
# containerd 1.6 + runsc (Debian) through CRI with the RuntimeClass handler
# name from provisioner/node/render.h, pods in their own network namespaces one
# routed hop behind a "node" namespace; and the IMDS hop limit of the
# rendered launch template proven on real packets (hoplimit.py).  What is
# substituted and what still matches a node: README.md here and
# docs/sandbox.md.
#
# Everything that starts a process runs in a private mount + PID namespace
# (this script re-runs itself there): when the suite ends or is killed, even
# with SIGKILL, the kernel ends every process it started and drops its
# mounts and network namespaces.  Pods' cgroups are under a per-run parent
# that teardown removes (and a later run removes if this one was killed).
#
# Needs root and the Debian packages runsc, containerd (with runc),
# containernetworking-plugins, busybox-static, curl (HTTP/2), util-linux,
# iproute2, python3 >= 3.11 with python3-yaml: missing -> FAIL with
# "install with make deps" (never a silent skip).
set -u
# shellcheck source=tests/bake/lib.sh
. "${SECFAAS_SRC:-.}/tests/bake/lib.sh"
SRC=$SECFAAS_SRC
PY=/usr/bin/python3
HELPER="$SRC/tests/sandbox/sandbox.py"
HOPS="$SRC/tests/sandbox/hoplimit.py"
W=${SB_W:-$TMPDIR/sb}
SOCK=$W/containerd.sock
NODE_NS=$W/ns/node

# cgroup_mounts: every mounted cgroup hierarchy (v1 controllers, v2).
cgroup_mounts() { awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo; }
# rm_cgroups PARENT: remove PARENT's cgroup directories, deepest first
# (rmdir only: a cgroup that still holds a process stays).
rm_cgroups() {
	for m in $(cgroup_mounts); do
		[ -d "$m/$1" ] && find "$m/$1" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
cgroups_left() { for m in $(cgroup_mounts); do [ -d "$m/$1" ] && echo "$m/$1"; done; }
# procs_naming TEXT: live processes whose command line contains TEXT, other
# than this lister and the shells it runs under.
procs_naming() {
	"$PY" -c '
import os, sys
needle, skip, p = sys.argv[1].encode(), set(), os.getpid()
while p > 1:
    skip.add(p)
    p = int(open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[1])
for d in os.listdir("/proc"):
    if d.isdigit() and int(d) not in skip:
        try:
            if needle in open("/proc/%s/cmdline" % d, "rb").read():
                print(d)
        except OSError:
            pass
' "$1"
}
# waited CMD...: run CMD in the background and wait for it, so that a signal's
# trap runs at once instead of after CMD (sh defers traps while a
# foreground command runs).
waited() {
	"$@" &
	wait $!
}

if [ "${SB_INNER:-}" != 1 ]; then
	# ---- outer: the host's view; starts the inner run and checks what it left ----
	prereq() {
		fail "$*: install with make deps"
		finish
		exit 1
	}
	[ "$(id -u)" -eq 0 ] || prereq "tests/sandbox must run as root (CI does)"
	for b in /usr/bin/runsc containerd ctr containerd-shim-runc-v2 runc /bin/busybox curl "$PY" unshare nsenter \
		setpriv ip /usr/lib/cni/ptp /usr/lib/cni/host-local /usr/lib/cni/loopback; do
		command -v "$b" >/dev/null 2>&1 ||
			prereq "$b missing (packages runsc containerd containernetworking-plugins busybox-static curl util-linux iproute2 python3)"
	done
	file_static() { "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(b"/lib64/ld-linux" in d or b"/lib/ld-linux" in d)' "$1"; }
	file_static /bin/busybox || prereq "/bin/busybox is not static (package busybox-static)"
	"$PY" -c 'import tomllib, yaml' 2>/dev/null || prereq "$PY has no tomllib or yaml (Python 3.11, python3-yaml)"
	curl -V | grep -q HTTP2 || prereq "curl has no HTTP/2 support"
	mkdir -p "$W"

	# A per-run cgroup parent named after this process and its start time;
	# parents of runs whose process is gone are removed first (empty ones
	# only: rmdir refuses a cgroup that is in use).
	start_time() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }
	CG=secfaas-sandbox-$$-$(start_time $$)
	for m in $(cgroup_mounts); do
		for d in "$m"/secfaas-sandbox-*-*; do
			[ -d "$d" ] || continue
			n=${d##*/secfaas-sandbox-}
			pid=${n%%-*}
			[ "$(start_time "$pid")" = "${n#*-}" ] && continue
			rm_cgroups "${d##*/}"
		done
	done

	inner=""
	interrupted=0
	trap 'interrupted=1; [ -n "$inner" ] && kill -KILL "$inner" 2>/dev/null' INT TERM
	# --pdeathsig: if this shell dies, even by SIGKILL, unshare gets
	# SIGKILL; --kill-child: then the namespace's first process (the inner
	# run) gets SIGTERM and tears down; if it is killed outright, so is
	# every process in its PID namespace, and only empty cgroups remain
	# (removed by the next run, above).
	SB_INNER=1 SB_W=$W SB_CGROUP_PARENT=/$CG setpriv --pdeathsig KILL -- \
		unshare --mount --propagation private --pid --fork --kill-child=TERM --mount-proc -- /bin/sh "$0" &
	inner=$!
	wait "$inner"
	rc=$?
	# wait returns early on a trapped signal; the inner run is being killed
	while kill -0 "$inner" 2>/dev/null; do wait "$inner"; done
	[ "$interrupted" = 1 ] && fail "interrupted"
	counts=$(cat "$W/inner.counts" 2>/dev/null)
	if [ -n "$counts" ]; then
		PASS=$((PASS + ${counts% *}))
		FAIL=$((FAIL + ${counts#* }))
	else
		fail "inner run ended (exit $rc) without its counts"
	fi
	# What the host sees afterwards: no process, mount or cgroup of this
	# run; no interface of ours in the host's network namespace.
	check "host: no process of this run left" test -z "$(procs_naming "$W/")"
	check "host: no mount under the work directory" sh -c "! grep -qF ' $W/' /proc/self/mountinfo"
	if [ -n "$(cgroups_left "$CG")" ]; then
		# The inner run was killed before its teardown.  Its processes are
		# gone (a PID namespace's first process exits only after all
		# others), so its cgroups are empty and can go now.
		rm_cgroups "$CG"
		[ "$interrupted" = 1 ] || [ -z "$counts" ] || fail "inner teardown left cgroups"
	fi
	check "host: no cgroup of this run left" test -z "$(cgroups_left "$CG")"
	# nitro0 and the pods' host-side veths (their names recorded in node)
	# must have died with the node and imds namespaces.
	leaked=""
	for n in nitro0 $(cat "$W/veths" 2>/dev/null); do
		ip link show dev "$n" >/dev/null 2>&1 && leaked="$leaked $n"
	done
	check "host: no interface of the test in the host's network namespace" test -z "$leaked"
	finish
	exit
fi

# ---- inner: PID 1 of a private PID namespace, in a private mount namespace ----
cd_pid=""
# A private /run: containerd 1.6's shims put their sockets in
# /run/containerd/s (not configurable); here they vanish with the namespace.
if ! mount -t tmpfs -o mode=0755 secfaas-run /run; then
	fail "cannot mount a private /run"
	echo "$PASS $FAIL" >"$W/inner.counts"
	exit 1
fi
inner_finish() {
	echo "$PASS $FAIL" >"$W/inner.counts"
	echo "inner: $PASS passed, $FAIL failed"
}
# Teardown: every other process in this PID namespace (kill -1 from PID 1
# reaches exactly those), then the mounts under $W (the network namespaces'
# bind mounts among them), then the pods' cgroups.
live_pids() {
	"$PY" -c '
import os
skip, p = {1}, os.getpid()
while p > 1:  # this lister and the shells it runs under
    skip.add(p)
    p = int(open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[1])
for d in os.listdir("/proc"):
    if d.isdigit() and int(d) not in skip:
        try:
            st = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if st != "Z":
            print(d)
'
}
torn_down=0
teardown() {
	[ "$torn_down" = 1 ] && return
	torn_down=1
	kill -KILL -1 2>/dev/null
	i=0
	while [ -n "$(live_pids)" ] && [ $i -lt 300 ]; do i=$((i + 1)); done
	if [ -d "$W" ]; then
		awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	fi
	[ -n "${SB_CGROUP_PARENT:-}" ] && rm_cgroups "${SB_CGROUP_PARENT#/}"
}
trap 'teardown; inner_finish' EXIT
trap 'exit 1' INT TERM

mkdir -p "$W"
if ! build_driver; then
	fail "render driver does not build"
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

# ---- the network: node and imds namespaces, CNI for pods ----
if "$PY" "$HOPS" net-up "$W" >"$W/net.out" 2>&1; then
	ok "network namespaces node and imds, veth between them, CNI ptp for pods"
	sed 's/^/    /' "$W/net.out"
else
	fail "network setup: $(cat "$W/net.out")"
	exit 1
fi

# ---- the hop limit secfaas renders for the gVisor node group ----
if waited "$PY" "$HOPS" rendered "${SECFAAS:-}" "$SRC/examples/minimal.yaml" "$W" >"$W/rendered.json" 2>"$W/rendered.err"; then
	ok "secfaas plan --json of examples/minimal.yaml shows the gVisor launch template's hop limit"
	sed 's/^/    /' "$W/rendered.json"
else
	fail "rendered hop limit: $(cat "$W/rendered.err")"
fi

# ---- a private containerd on the test config ----
"$PY" "$HELPER" image "$W/image.tar" secfaas.local/pause:test secfaas.local/busybox:test
# containerd runs in the node namespace: the CNI plugins it calls wire each
# pod into node, never into the host's network namespace.
nsenter --net="$NODE_NS" containerd --config "$W/test.toml" >"$W/containerd.log" 2>&1 &
cd_pid=$!
# up: ctr answers.  Asked again while containerd lives (a busy machine can
# take longer than one dial's timeout to open the socket), for 180 s at most.
containerd_up() {
	cu_end=$(($(date +%s) + 180))
	while kill -0 "$cd_pid" 2>/dev/null && [ "$(date +%s)" -lt "$cu_end" ]; do
		waited ctr --connect-timeout 10s -a "$SOCK" version >"$W/ctr.out" 2>&1 && return 0
	done
	kill -0 "$cd_pid" 2>/dev/null || echo "(containerd exited)" >>"$W/ctr.out"
	return 1
}
if containerd_up; then
	ok "private containerd is up (pid $cd_pid)"
else
	fail "private containerd did not start: ctr version said: $(cat "$W/ctr.out"); containerd's log:"
	tail -n 20 "$W/containerd.log"
	exit 1
fi
check "CRI plugin loaded" sh -c "ctr -a '$SOCK' plugins ls | grep -qE 'io.containerd.grpc.v1 +cri .* ok'"
check "image imported (no registry)" waited sh -c "ctr -a '$SOCK' -n k8s.io images import '$W/image.tar' >/dev/null"

# field JSON EXPR: evaluate a Python expression over the CRI result `r`.
field() { "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
HOST_KREL=$(uname -r)

# ---- the gVisor pod, through the rendered handler name ----
if waited timeout 120 "$PY" "$HELPER" cri "$SOCK" "$HANDLER" secfaas.local/busybox:test --no-stop \
	'uname -r' 'dmesg' 'cat /proc/sys/kernel/osrelease; echo rc=$?' >"$W/gvisor.json" 2>"$W/gvisor.err"; then
	ok "pod with runtime_handler=$HANDLER ran a container"
	cat "$W/gvisor.json"
	check "CRI reports handler $HANDLER for the pod" test "$(field "$W/gvisor.json" 'r["handler"]')" = "$HANDLER"
	check "the pod has its own network namespace and an IP from the CNI" \
		sh -c "'$PY' -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r[\"netns\"] and r[\"ip\"].startswith(\"10.200.0.\")))' '$W/gvisor.json'"
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
if waited timeout 120 "$PY" "$HELPER" cri "$SOCK" runc secfaas.local/busybox:test 'uname -r' 'dmesg 2>&1' >"$W/runc.json" 2>"$W/runc.err"; then
	ok "control pod with runtime_handler=runc ran"
	check "control: uname -r is the host's" test "$(field "$W/runc.json" 'r["results"][0]["stdout"].strip()')" = "$HOST_KREL"
	check "control: no gVisor banner" sh -c "'$PY' -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(\"Starting gVisor\" in r[\"results\"][1][\"stdout\"])' '$W/runc.json'"
else
	fail "control pod with runtime_handler=runc: $(cat "$W/runc.err")"
fi

# ---- a handler name the config does not define is refused by containerd ----
if waited timeout 60 "$PY" "$HELPER" cri "$SOCK" gvisor secfaas.local/busybox:test 'true' >"$W/nohandler.json" 2>"$W/nohandler.err"; then
	fail "unknown handler gvisor was accepted"
else ok "unknown handler refused"; fi
check "refusal names the missing runtime" grep -q 'no runtime for "gvisor" is configured' "$W/nohandler.err"

# ---- the IMDS hop limit on real packets ----
if [ -s "$W/rendered.json" ]; then
	waited timeout 900 "$PY" "$HOPS" proof "$W" "$SOCK" "$HANDLER" secfaas.local/busybox:test "$W/rendered.json" \
		"$SRC/tests/sandbox/pending-cases" >"$W/proof.out" 2>&1
	prc=$?
	cat "$W/proof.out"
	PASS=$((PASS + $(grep -c '^ok ' "$W/proof.out")))
	FAIL=$((FAIL + $(grep -c '^FAIL ' "$W/proof.out")))
	if [ $prc -ne 0 ] && ! grep -q '^FAIL ' "$W/proof.out"; then
		fail "hop limit proof exited $prc"
		tail -n 30 "$W/containerd.log"
	fi
fi

nsenter --net="$NODE_NS" ip -o link show type veth | awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "eth0") print $2 }' >"$W/veths"
teardown
check "no process of ours left" test -z "$(live_pids)"
check "no mount of ours left" sh -c "! grep -qF ' $W/' /proc/self/mountinfo"
check "no cgroup of ours left" test -z "$(cgroups_left "${SB_CGROUP_PARENT#/}")"
