#!/bin/sh
# awssim's own cross-check suite (run by `make test` through tests/run):
# drives the simulator with boto3 and the Debian aws CLI; prints
# "N passed, N failed".  Needs python3-boto3, awscli, python3-cryptography,
# python3-yaml from Debian.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${TMPDIR:=/tmp}"
export TMPDIR
exec /usr/bin/python3 "$here/tests/run.py" "$@"
