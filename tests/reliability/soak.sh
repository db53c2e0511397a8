#!/bin/sh
# make soak: the long form of tests/reliability (see test.sh there): a fresh
# apply and destroy for every operation's lost reply, the kill -9 chain,
# and 16 seeds of 10 % mixed faults (SOAK_SEEDS="first count" to change).
# Prints the per-operation tables; exits non-zero on any duplicate, orphan
# or permanent failure.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${SECFAAS_BUILD:=$SRC/build}"
export SECFAAS="$SECFAAS_BUILD/secfaas" SECFAAS_SRC="$SRC"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL || true
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent/secfaas-tests/config \
	AWS_SHARED_CREDENTIALS_FILE=/nonexistent/secfaas-tests/credentials NO_COLOR=1
TMPDIR=$(mktemp -d)
export TMPDIR
. "$SRC/tests/sim.sh"
trap 'sim_stop_all; rm -rf "$TMPDIR"' EXIT
sim_awssim "$TMPDIR/awssim" --timescale 0.001 || exit 1
sim_aws_env
export SECFAAS_POLL_SCALE=0.001
mkdir -p "$TMPDIR/work"
cp "$SRC/tests/reliability/cluster.yaml" "$TMPDIR/work/c.yaml"
rc=0
start=$(date +%s)
for mode in baseline "lost --each" kill fence "seeds ${SOAK_SEEDS:-1 16}"; do
	# shellcheck disable=SC2086
	/usr/bin/python3 "$SRC/tests/reliability/drive.py" "$AWSSIM_URL" "$TMPDIR/work" $mode || rc=1
	[ "$mode" != baseline ] || [ $rc -eq 0 ] || break
done
echo "soak: $(( $(date +%s) - start ))s, $([ $rc -eq 0 ] && echo passed || echo FAILED)"
exit $rc
