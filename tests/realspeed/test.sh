#!/bin/sh
# A full cluster apply and destroy with the local AWS at real speed
# (--timescale 1) for the control-plane-free parts — IAM, the network, the
# start of the AMI bake — so the eventual consistency AWS documents (a new
# IAM role not yet assumable by EKS, a new instance profile not yet usable by
# EC2, new EC2 ids briefly unknown, attributes and tags read back late) plays
# out in real seconds, where a 1000x clock hides every race.  It must
# converge with no manual re-run, and every refusal the simulator sent must
# have been retried with a progress line.
#
# Bounded: once CreateCluster and the builder's RunInstances have succeeded,
# the test moves the simulated clock past the control plane and the bake and
# runs the rest at --timescale 0.001; the destroy runs at real speed again and
# the clock is moved over node group and cluster deletions the moment
# secfaas has asked for them (read from the simulator's call counters, never
# from sleeps).  secfaas polls at SECFAAS_POLL_SCALE=0.1.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
# every eventual-consistency window AWS documents on, at real speed
sim_suite 1 0.1 --consistency-delay-scale 1
q() { /usr/bin/python3 "$SECFAAS_SRC/tests/eks/q.py" "$AWSSIM_URL" "$1"; }
# successful calls of OP: all calls minus those answered with an error
ok_calls() { q "calls['$1'] - sum(v for k, v in json.loads(__import__('urllib.request').request.urlopen('$AWSSIM_URL/_awssim/calls').read())['errors'].items() if k.startswith('$1:'))"; }
errors() { q "sum(v for k, v in json.loads(__import__('urllib.request').request.urlopen('$AWSSIM_URL/_awssim/calls').read())['errors'].items() if k.startswith('$1'))"; }
clock() { curl -sf -X POST "$AWSSIM_URL/_awssim/clock" -d "$1" >/dev/null; }
# until_calls OP N PID: wait (bounded) until OP succeeded N times, or PID ended
until_calls() {
	i=0
	while [ "$(ok_calls "$1")" -lt "$2" ] && kill -0 "$3" 2>/dev/null && [ $i -lt 3000 ]; do
		i=$((i + 1))
	done
	[ "$(ok_calls "$1")" -ge "$2" ] || t_fail "$1 did not succeed $2 time(s) while secfaas ran"
}
WORK=$T_ROOT/work
mkdir -p "$WORK"
cat >"$WORK/r.yaml" <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: fn-real, region: eu-west-1, tags: {team: platform}}
spec:
  kubernetesVersion: "1.33"
  network: {cidr: 10.90.0.0/16, availabilityZones: 2, endpointAccess: public}
  gvisor: {release: "20250113.0", platform: systrap}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
    - {name: sandbox, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
Y
ST="--state $WORK/r.db"

t_begin "apply at real speed converges with no re-run"
$S apply "$WORK/r.yaml" $ST --auto-approve >"$T_DIR/apply.out" 2>&1 &
pid=$!
until_calls eks:CreateCluster 1 $pid
until_calls ec2:RunInstances 1 $pid
# IAM, the network and the bake's start ran in real seconds; now skip the
# control plane's 10 minutes (600 s +-15 %) and the bake's 4, and run the rest
# fast.  Not further: EKS honours a bearer token for 15 simulated minutes
# after its wall-clock signing time.
clock '{"advance": 720, "timescale": 0.001}'
wait $pid
rc=$?
t_eq "apply exit status" "$rc" 0
[ "$rc" -eq 0 ] || tail -n 30 "$T_DIR/apply.out" | sed 's/^/    | /'
t_grep "apply complete" "Apply complete!" "$T_DIR/apply.out"
n=$(errors eks:CreateCluster:InvalidParameterException)
m=$(errors ec2:RunInstances:InvalidParameterValue)
nf=$(errors ec2: | tr -d ' ')
echo "note: the simulator refused CreateCluster $n time(s) and RunInstances $m time(s) while IAM propagated, and sent $nf EC2 error(s) in all; each was retried"
if [ "$n" -gt 0 ]; then
	t_grep "role propagation retried with a progress line" "EKS cannot assume the new IAM role yet (IAM propagation); retrying" "$T_DIR/apply.out"
fi
if [ "$m" -gt 0 ]; then
	t_grep "profile propagation retried with a progress line" "EC2 does not know the new instance profile yet (IAM propagation); retrying" "$T_DIR/apply.out"
fi
t_eq "one cluster, two node groups active" "$(q 'sorted(g["status"] for g in ngs("fn-real"))')" '["ACTIVE", "ACTIVE"]'
t_eq "one VPC" "$(q 'n("ec2:vpc")')" 1
t_eq "no builder left" "$(q 'len([i for i in inv["ec2:instance"] if i["tags"].get("secfaas:role")=="ami-builder"])')" 0
t_end

t_begin "a plan right after apply at real speed is empty (no false drift from late reads)"
clock '{"timescale": 1}'
t_rc 0 "plan" $S plan "$WORK/r.yaml" $ST --detailed-exitcode
t_grep "no changes" "No changes." "$T_DIR/.out"
t_end

t_begin "destroy at real speed leaves the inventory empty"
$S destroy "$WORK/r.yaml" $ST --auto-approve >"$T_DIR/destroy.out" 2>&1 &
pid=$!
until_calls eks:DeleteNodegroup 2 $pid
clock '{"advance": 300}'
until_calls eks:DeleteCluster 1 $pid
clock '{"advance": 600}'
wait $pid
rc=$?
t_eq "destroy exit status" "$rc" 0
[ "$rc" -eq 0 ] || tail -n 30 "$T_DIR/destroy.out" | sed 's/^/    | /'
t_eq "inventory empty" "$(q 'sum(len(v) for v in inv.values())')" 0
t_end

finish
