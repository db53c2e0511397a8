# tests/lib.sh - helpers for shell test suites (sourced).
#
#   . tests/lib.sh
#   t_begin "name"; ...; t_ok "what" test-command...; t_end
#   finish   # prints "N passed, N failed" and exits non-zero on failures
#
# Every case runs in its own directory under $TMPDIR; assertions print the
# command's output on failure so CI logs say why.  The local AWS is started
# with sim_awssim (tests/sim.sh, sourced here).

: "${SECFAAS:?SECFAAS must point at the secfaas binary}"
T_PASS=0
T_FAIL=0
T_CASE=""
T_CASE_FAILED=0
T_ROOT=${TMPDIR:-/tmp}/suite.$$
mkdir -p "$T_ROOT"
# shellcheck source=tests/sim.sh
. "${SECFAAS_SRC:-$(pwd)}/tests/sim.sh"

t_begin() {
	T_CASE=$1
	T_CASE_FAILED=0
	T_DIR="$T_ROOT/$(echo "$1" | tr -c 'a-zA-Z0-9_\n-' '_')"
	rm -rf "$T_DIR"
	mkdir -p "$T_DIR"
	cd "$T_DIR" || exit 2
}

t_fail() {
	echo "FAIL [$T_CASE]: $*"
	T_CASE_FAILED=1
}

# t_ok DESCRIPTION COMMAND... : command must succeed
t_ok() {
	d=$1
	shift
	if ! "$@" >"$T_DIR/.out" 2>&1; then
		t_fail "$d (command failed: $*)"
		sed 's/^/    | /' "$T_DIR/.out" | tail -n 30
	fi
}

# t_rc WANT DESCRIPTION COMMAND... : exit status must equal WANT; output in $T_DIR/.out
t_rc() {
	want=$1
	d=$2
	shift 2
	"$@" >"$T_DIR/.out" 2>"$T_DIR/.err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		t_fail "$d: exit $got, want $want ($*)"
		sed 's/^/    out| /' "$T_DIR/.out" | tail -n 30
		sed 's/^/    err| /' "$T_DIR/.err" | tail -n 30
	fi
}

# t_grep DESCRIPTION PATTERN FILE : FILE must contain the fixed string
t_grep() {
	if ! grep -qF -- "$2" "$3"; then
		t_fail "$1: \"$2\" not in $3"
		sed 's/^/    | /' "$3" | tail -n 30
	fi
}

t_nogrep() {
	if grep -qF -- "$2" "$3"; then
		t_fail "$1: \"$2\" unexpectedly in $3"
		grep -nF -- "$2" "$3" | head -n 5 | sed 's/^/    | /'
	fi
}

t_eq() { # DESCRIPTION GOT WANT
	if [ "$2" != "$3" ]; then
		t_fail "$1: got \"$2\", want \"$3\""
	fi
}

t_end() {
	if [ "$T_CASE_FAILED" -eq 0 ]; then
		T_PASS=$((T_PASS + 1))
		[ -z "${VERBOSE:-}" ] || echo "ok   $T_CASE"
	else
		T_FAIL=$((T_FAIL + 1))
	fi
	cd "$T_ROOT" || exit 2
}

finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# Runs the rest of the calling suite in a network namespace of its own
# whose only interface is loopback.  For suites in which the product looks
# up a name that exists only in the simulators (a load balancer's
# *.elb.amazonaws.com name): the lookup then fails here, at once, instead
# of leaving the machine for its resolver.  Call it right after sourcing
# this file, with "$0".
t_private_net() { # suite script
	[ -z "${T_PRIVATE_NET:-}" ] || return 0
	if ! unshare --net true 2>/dev/null; then
		echo "refusing to run: this suite needs a private network namespace (unshare --net, as root)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	T_PRIVATE_NET=1 exec unshare --net sh -c 'ip link set lo up && exec sh "$0"' "$1"
}

# ------------------------------------------------------------ the local AWS
# sim_suite TIMESCALE POLL_SCALE [AWSSIM-OPTION...]: the local AWS for the
# rest of a suite.  Starts awssim in $T_ROOT/awssim with its clock at
# TIMESCALE (sim_awssim, tests/sim.sh), stops it and any PostgreSQL server
# pg_need started when the suite exits (the suite's EXIT trap), and exports
# what secfaas needs to run against it (sim_aws_env) with
# SECFAAS_POLL_SCALE=POLL_SCALE.  A simulator that does not start ends the
# suite at once as one failure.
sim_suite() {
	trap 'sim_stop_all; pg_release' EXIT
	sim_ts=$1
	sim_ps=$2
	shift 2
	sim_awssim "$T_ROOT/awssim" --timescale "$sim_ts" "$@" || {
		echo "0 passed, 1 failed"
		exit 1
	}
	sim_aws_env
	SECFAAS_POLL_SCALE=$sim_ps
	export SECFAAS_POLL_SCALE
}

# sim_calls OP: how many times the local AWS has executed OP
# ("eks:CreateCluster"), from its call counters; 0 before the first.
sim_calls() {
	curl -sf "$AWSSIM_URL/_awssim/calls" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"].get(sys.argv[1], 0))' "$1"
}

# sim_kill_during OP FAULTS CMD...: runs CMD (a secfaas run) in the
# background with FAULTS set (an awssim faults document, usually a long
# latency on OP; tests/awssim/README.md), kills it with -9 once the local
# AWS has executed OP (its call counter moved: the call happened, its reply
# is still held back), then clears the faults.  Never a sleep: the wait is
# on the counter.  A CMD that ends before OP was in flight fails the case
# with the end of its output; the output is in $T_DIR/.kill.out.
sim_kill_during() {
	skd_op=$1
	skd_faults=$2
	shift 2
	skd_before=$(sim_calls "$skd_op")
	curl -sf -X POST "$AWSSIM_URL/_awssim/faults" -d "$skd_faults" >/dev/null
	"$@" >"$T_DIR/.kill.out" 2>&1 &
	skd_pid=$!
	skd_i=0
	while [ "$(sim_calls "$skd_op")" = "$skd_before" ] && kill -0 $skd_pid 2>/dev/null && [ $skd_i -lt 3000 ]; do
		skd_i=$((skd_i + 1))
	done
	if ! kill -0 $skd_pid 2>/dev/null; then
		t_fail "the run ended before $skd_op was in flight"
		sed 's/^/    | /' "$T_DIR/.kill.out" | tail -n 20
	fi
	kill -9 $skd_pid 2>/dev/null
	wait $skd_pid 2>/dev/null
	curl -sf -X DELETE "$AWSSIM_URL/_awssim/faults" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
# pg_start / pg_stop / pg_restart / pg_crash / pg_have: see tests/pg.sh.
. "${SECFAAS_SRC:-.}/tests/pg.sh"

# pg_need: make sure SECFAAS_TEST_PG points at a server: the one tests/run
# started for this run, else a private one for this suite.  Fails the suite
# when the server binaries exist but the server cannot be started; without
# the binaries prints why and returns 1, so a suite can skip its PostgreSQL
# half.  It leaves the suite's traps alone (a suite's EXIT trap stops its
# simulators): the suite calls pg_release from its own EXIT trap, and the
# server's watchdog (tests/pg.sh) stops it anyway if the suite is killed.
pg_need() {
	[ -z "${SECFAAS_TEST_PG:-}" ] || return 0
	if ! pg_have; then
		echo "skipping PostgreSQL cases: server binaries not installed (make deps installs them)"
		return 1
	fi
	T_PGDIR="$T_ROOT/pg"
	pg_start "$T_PGDIR" || {
		echo "FAIL: cannot start a private PostgreSQL server"
		exit 1
	}
}

# pg_release: stop the server pg_need started for this suite, if it did.
pg_release() {
	[ -z "${T_PGDIR:-}" ] || pg_stop "$T_PGDIR"
}

# pg_newdb NAME: a fresh database on the server; prints its URL.
pg_newdb() {
	psql "$SECFAAS_TEST_PG" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$1\"" >/dev/null || return 1
	echo "$SECFAAS_TEST_PG" | sed "s|:///postgres?|:///$1?|"
}

# Refuse non-loopback endpoints (project rule for every test).
require_loopback() {
	for url in "$@"; do
		case "$url" in
		http://127.* | https://127.* | http://\[::1\]* | https://\[::1\]* | http://localhost* | https://localhost*) ;;
		*)
			echo "refusing to run: endpoint $url is not on loopback"
			exit 2
			;;
		esac
	done
}
