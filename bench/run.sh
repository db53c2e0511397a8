#!/bin/sh
# Run every benchmark under bench/*/run.sh with the given binary (exported as
# SECFAAS). Benchmarks print ratios against their goals; they never fail on
# slowness.
set -eu
SECFAAS=${1:?usage: bench/run.sh SECFAAS_BINARY}
export SECFAAS
for b in "$(dirname "$0")"/*/run.sh; do
	echo "== $b"
	sh "$b"
done
