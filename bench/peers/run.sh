#!/bin/sh
# bench/peers: secfaas beside an Ansible playbook and an AWS CLI script that
# make the same AWS objects for examples/minimal.yaml (see run.py).
# Env: SECFAAS, TIMESCALE, SEED, CONSISTENCY, PEERS, BENCH_DIR.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
