#!/bin/sh
# Run every benchmark under bench/*/run.sh with the given binary (exported as
# SECFAAS), then print the headline figures of all of them together.
# Benchmarks print ratios against their goals; they never fail on slowness
# (a non-zero exit means a run broke or left objects behind).
set -eu
SECFAAS=${1:?usage: bench/run.sh SECFAAS_BINARY}
export SECFAAS
BENCH_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/secfaas-bench-summary.XXXXXX")
export BENCH_SUMMARY
trap 'rm -f "$BENCH_SUMMARY"' EXIT
here=$(dirname "$0")
failed=""
t0=$(date +%s)
for b in "$here"/*/run.sh; do
	echo "== $b"
	sh "$b" || failed="$failed $(basename "$(dirname "$b")")"
	echo
done
echo "== summary (ratio: measured / goal or peer / secfaas; $(($(date +%s) - t0)) s in all)"
cat "$BENCH_SUMMARY"
if [ -n "$failed" ]; then
	echo "runs that broke:$failed"
	exit 1
fi
