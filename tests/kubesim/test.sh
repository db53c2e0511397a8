#!/bin/sh
# kubesim suite: starts its own kubesim processes and a fake local AWS, all
# on loopback, and cross-checks with the real kubectl.  Run from the repo root
# (tests/run does) or anywhere; prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/kubectl ]; then
	echo "kubesim: /usr/bin/kubectl is missing"
	echo "0 passed, 1 failed"
	exit 1
fi
exec /usr/bin/python3 "$here/tests/test_kubesim.py"
