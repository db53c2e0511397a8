#!/bin/sh
# bench/apply-critical-path: secfaas apply/destroy of examples/minimal.yaml
# (pre-baked AMI) and examples/full.yaml against the critical path and the
# call floor read from the local AWS (see run.py and bench/lib/critical.py).
# Env: SECFAAS, TIMESCALE, SEED, CONSISTENCY, SPECS, BENCH_DIR.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
