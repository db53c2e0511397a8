#!/bin/sh
# bench/apply-critical-path/run.sh - how close does `secfaas apply` get to
# the dependency graph's critical path, and how many AWS calls does each
# resource cost?
#
# Starts a private awssim (loopback only) with --timescale $TIMESCALE
# (default 0.01: a 10-minute EKS cluster takes 6 s) plus a per-call latency
# fault of $LATENCY_MS (default 25 ms) on every operation, applies
# examples/minimal.yaml from empty, then prints, from the state's journal
# (per-resource start/finish) and dependencies, and awssim's call counters:
#   - every resource's operation time and the critical path through them,
#   - apply wall time / critical-path time (goal <= 1.05),
#   - AWS calls per resource type (operations attributed by name) and the
#     average per resource.
# Finally destroys and checks the inventory is empty.
#
# Usage: bench/apply-critical-path/run.sh [SPEC]   (env SECFAAS=build/secfaas)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
S=${SECFAAS:-$SRC/build/secfaas}
SPEC=${1:-$SRC/examples/minimal.yaml}
TIMESCALE=${TIMESCALE:-0.01}
LATENCY_MS=${LATENCY_MS:-25}
W=$(mktemp -d "${TMPDIR:-/tmp}/secfaas-bench.XXXXXX")
eval "$("$SRC/tests/awssim/ctl" start "$W/sim" --timescale "$TIMESCALE")"
trap '"$SRC/tests/awssim/ctl" stop "$W/sim" >/dev/null 2>&1; rm -rf "$W"' EXIT
case "$AWSSIM_URL" in
http://127.*) ;;
*) echo "refusing non-loopback endpoint $AWSSIM_URL" >&2; exit 2 ;;
esac
export AWS_ENDPOINT_URL=$AWSSIM_URL AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_REGION=eu-west-1
export SECFAAS_POLL_SCALE=$TIMESCALE NO_COLOR=1
unset AWS_PROFILE AWS_SESSION_TOKEN
curl -sf -X POST "$AWSSIM_URL/_awssim/faults" -d "{\"operation\":\"*\",\"kind\":\"latency\",\"ms\":$LATENCY_MS}" >/dev/null
cd "$W"
t0=$(date +%s.%N)
"$S" apply "$SPEC" --state "$W/state.db" --auto-approve --parallelism 32 >"$W/apply.log" 2>&1 || {
	tail -n 30 "$W/apply.log"
	exit 1
}
t1=$(date +%s.%N)
curl -sf "$AWSSIM_URL/_awssim/calls" >"$W/calls.json"
/usr/bin/python3 "$HERE/analyze.py" "$W/state.db" "$W/calls.json" "$t0" "$t1" "$TIMESCALE" "$LATENCY_MS"
curl -sf -X DELETE "$AWSSIM_URL/_awssim/faults" >/dev/null
"$S" destroy "$SPEC" --state "$W/state.db" --auto-approve >"$W/destroy.log" 2>&1 || {
	tail -n 30 "$W/destroy.log"
	exit 1
}
left=$(curl -sf "$AWSSIM_URL/_awssim/inventory" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
echo "destroy: inventory left = $left"
[ "$left" = 0 ]
