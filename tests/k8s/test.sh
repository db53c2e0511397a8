#!/bin/sh
# k8s suite: secfaas's Kubernetes client, resource types, OpenFaaS install,
# gVisor admission route, verify/kubeconfig/output, against a kubesim it
# starts itself on loopback (tests/k8s/test_k8s.py).  Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/kubectl ]; then
	echo "k8s: /usr/bin/kubectl is missing"
	echo "0 passed, 1 failed"
	exit 1
fi
exec /usr/bin/python3 "$here/test_k8s.py"
