#!/bin/sh
# imds suite: unit tests of the IMDSv2 stub tests/imds/imds_stub.py (shared
# by tests/sandbox and the Kubernetes simulator) on loopback, port 0.
# Prints "N passed, N failed".  The AF_PACKET check of the token reply's IP
# TTL needs root (CI runs as root; elsewhere it is reported as skipped).
set -u
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/test_imds_stub.py"
