#!/bin/sh
# `make demo`: run secfaas end to end on this machine against the project's
# local AWS (tests/awssim, which starts a local Kubernetes API per cluster).
# Nothing leaves loopback. Usage: tools/demo.sh path/to/secfaas
set -eu
S=${1:?usage: demo.sh SECFAAS_BINARY}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/secfaas-demo.XXXXXX")
# shellcheck disable=SC2034 # read by tests/sim.sh
SIM_SRC=$top
# shellcheck source=tests/sim.sh
. "$top/tests/sim.sh"
cleanup() {
	sim_stop_all
	[ ! -d "$work/pg" ] || pg_stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
. "$top/tests/pg.sh"
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "starting the local AWS (tests/awssim) on loopback, 1 simulated minute = 60 ms"
sim_awssim "$work/awssim" --tls --timescale 0.001 || exit 1
sim_aws_env
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
export SECFAAS_STATE_PASSPHRASE="demo passphrase, not for production"
# The simulator runs AWS's state machines 1000x faster; poll it as often.
export SECFAAS_POLL_SCALE=0.001
echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL (TLS verified with the simulator's test CA)"
cd "$work"
cp -R "$top/examples" .

step "who am I (SigV4-signed STS call over TLS)"
"$S" whoami

step "validate the example gVisor cluster spec (offline)"
"$S" validate examples/functions.yaml

step "render what a sandbox node boots with: NodeConfig user data, containerd runsc handler, runsc.toml"
"$S" render node-config examples/minimal.yaml --node-group sandbox

if "$S" plan examples/functions.yaml >/dev/null 2>plan.err && ! grep -q "no AWS resource types" plan.err; then
	step "plan the cluster (examples/functions.yaml: minimal.yaml plus OpenFaaS CE)"
	"$S" plan examples/functions.yaml
	step "apply it (IAM, VPC, AMI bake, launch templates, EKS, node groups, RuntimeClass, gVisor admission, OpenFaaS)"
	"$S" apply examples/functions.yaml --auto-approve --parallelism 10
	step "show the state"
	"$S" show --state .secfaas/fn-functions.db
	step "a second plan has nothing to do"
	"$S" plan examples/functions.yaml --detailed-exitcode
	if pg_have && pg_start "$work/pg" >/dev/null; then
		step "share it: move the state into PostgreSQL (a private server here); a fresh runner plans no changes"
		"$S" state migrate --to "$SECFAAS_TEST_PG"
		mkdir "$work/runner"
		(cd "$work/runner" && cp -R "$top/examples" . &&
			"$S" --backend "$SECFAAS_TEST_PG" plan examples/functions.yaml --detailed-exitcode)
	fi
	step "verify: deploy a probe function through the OpenFaaS gateway and prove it ran under gVisor"
	"$S" verify fn-functions
	step "destroy it, leaving nothing behind in the local AWS"
	"$S" destroy examples/functions.yaml --auto-approve
	curl -s --cacert "$AWS_CA_BUNDLE" "$AWSSIM_URL/_awssim/inventory" >inventory.json
	python3 -c 'import json,sys; inv=json.load(open("inventory.json")); left={k:v for k,v in inv.items() if v}; print("local AWS inventory after destroy:", left or "empty"); sys.exit(1 if left else 0)'
else
	echo "(this build cannot apply Cluster specs yet: $(tail -n 1 plan.err))"
fi

step "plan, apply, show and destroy a Stack of local files"
"$S" plan examples/stack.yaml
"$S" apply examples/stack.yaml --auto-approve
"$S" show --state .secfaas/local-demo.db
"$S" destroy examples/stack.yaml --auto-approve

step "done"
