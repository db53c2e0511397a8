#!/bin/sh
# bench/refresh-fleet: `plan --all --refresh-only` of N applied workspaces
# against the local AWS: AWS calls per workspace and wall time for N = 10,
# 100 and 500 (see run.py).  Env: SECFAAS, N (largest fleet, default 500),
# BENCH_DIR.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
