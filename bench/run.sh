#!/bin/sh
# Run every benchmark under bench/*/run.sh with the given binary.
set -eu
S=${1:?usage: bench/run.sh SECFAAS_BINARY}
for b in "$(dirname "$0")"/*/run.sh; do
	sh "$b" "$S"
done
