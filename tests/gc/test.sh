#!/bin/sh
# `secfaas gc` against the local AWS (tests/awssim): the state phase removes
# an ephemeral cluster once the simulator's clock passes its TTL (and not
# before); the tag sweep removes every object of a cluster whose state
# database was deleted, a dead workspace's Pod Identity association on a
# cluster that stays, and an object a killed run never recorded, while a
# workspace with a live state is never touched; --dry-run deletes nothing;
# without working credentials the sweep says it was skipped.  Every
# assertion is made on the simulator's inventory, not on secfaas output
# alone.  The simulator runs with --timescale 0.001 and secfaas with
# SECFAAS_POLL_SCALE=0.001.
#
# awssim's HTTP Date header follows the wall clock, not its simulated clock,
# so the cases that move the simulated clock pass it to gc with --now (read
# from /_awssim/clock here, in the test; product code never calls the admin
# API).  The TTL is 10 minutes and the clock moves 11: awssim honours an EKS
# token for 15 simulated minutes after its wall-clock signing time, and the
# state phase deletes Kubernetes objects through the API server.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
# every eventual-consistency window AWS documents on (tests/awssim/README.md)
sim_suite 0.001 0.001 --consistency-delay-scale 1
# never let the credential chain look past the environment (no IMDS traffic)
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
Q="$SECFAAS_SRC/tests/eks/q.py"
q() { /usr/bin/python3 "$Q" "$AWSSIM_URL" "$1"; }
# objects of one workspace (by its ownership tag) across every kind
nws() { q "sum(1 for v in inv.values() for o in v if o.get('tags', {}).get('secfaas:workspace') == '$1')"; }
total() { q 'sum(len(v) for v in inv.values())'; }
simnow() { curl -sf "$AWSSIM_URL/_awssim/clock" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["now"])'; }
WORK=$T_ROOT/work
SD=$WORK/states
mkdir -p "$SD"

# spec NAME CIDR-OCTET [TTL]
spec() {
	ttl=${3:+, ttl: $3}
	cat >"$WORK/$1.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: $1, region: eu-west-1$ttl}
spec:
  kubernetesVersion: "1.35"
  network: {cidr: 10.$2.0.0/16, availabilityZones: 2, endpointAccess: public}
  gvisor: {release: "20250113.0", platform: systrap}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
    - {name: sandbox, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
Y
}
apply() { $S apply "$WORK/$1.yaml" --state "$SD/$1.db" --auto-approve; }

# ------------------------------------------------------------ a live workspace
t_begin "a permanent cluster with a live state"
spec gc-live 50
t_rc 0 "apply" apply gc-live
live=$(nws gc-live)
t_ok "it has tagged objects" test "$live" -gt 10
t_rc 0 "gc keeps it" $S gc --state-dir "$SD" --auto-approve
t_grep "sweep ran and kept it" "objects of workspaces with a live state" .out
t_grep "nothing orphaned" "sweep found no orphaned or expired objects" .out
t_eq "untouched" "$(nws gc-live)" "$live"
t_rc 0 "gc --no-sweep skips the AWS phase" $S gc --state-dir "$SD" --no-sweep --auto-approve
t_nogrep "no sweep output" "sweep" .out
t_end

# A fresh runner, another team's directory: the account is shared, and no
# state here says gc-live is dead.
t_begin "gc from an empty state directory deletes nothing that is live, lists it and names the way to delete"
mkdir -p "$WORK/empty"
t_rc 0 "gc --auto-approve from an empty directory" $S gc --state-dir "$WORK/empty" --auto-approve
t_grep "the live cluster is listed, not deleted" "not deleting eks cluster arn:aws:eks:eu-west-1:123456789012:cluster/gc-live: no state in $WORK/empty knows workspace gc-live (lineage " .out
t_grep "the refusal names the workspace and the way to name it" "object(s) of workspace(s) no state in $WORK/empty knows: gc-live (lineage " .out
t_grep "how to delete a dead one" "secfaas gc --state-dir $WORK/empty --dead-workspace NAME --auto-approve" .out
t_grep "nothing selected" "sweep found no orphaned or expired objects" .out
t_nogrep "nothing deleted" "^deleted " .out
t_eq "untouched" "$(nws gc-live)" "$live"
t_rc 0 "naming another workspace changes nothing for gc-live" $S gc --state-dir "$WORK/empty" --dead-workspace gc-other --auto-approve
t_eq "still untouched" "$(nws gc-live)" "$live"
t_rc 1 "--dead-workspace with --no-sweep is refused" $S gc --state-dir "$WORK/empty" --dead-workspace gc-live --no-sweep
t_grep "why" "cannot go with --no-sweep" .err
t_end

# ------------------------------------------------------------ (1) TTL expiry
# gc-ttl's state is in the state directory: the state phase destroys it.
# gc-exp's state lives elsewhere and is only named with --state: gc knows it
# (so the sweep keeps it while it is alive) but does not destroy it from
# state, so once expired it is the sweep, by its secfaas:expires-at tags, that
# removes it.
t_begin "an ephemeral cluster goes once the local AWS's clock passes its ttl, not before"
spec gc-ttl 51 10m
spec gc-exp 54 10m
mkdir -p "$WORK/elsewhere"
XS="--state $WORK/elsewhere/gc-exp.db"
t_rc 0 "apply with ttl 10m" apply gc-ttl
t_rc 0 "apply another with ttl 10m, state elsewhere" $S apply "$WORK/gc-exp.yaml" $XS --auto-approve
n=$(nws gc-ttl)
x=$(nws gc-exp)
t_ok "it has tagged objects" test "$n" -gt 10
t_eq "objects carry the expiry" "$(q "len(set(o['tags'].get('secfaas:expires-at','') for v in inv.values() for o in v if o.get('tags',{}).get('secfaas:workspace')=='gc-ttl') - {''}) > 0")" true
t_rc 0 "gc before expiry (server clock)" $S gc --state-dir "$SD" $XS --auto-approve
t_grep "kept" "gc-ttl.db: expires" .out
t_grep "sweep kept both" "sweep found no orphaned or expired objects" .out
t_eq "nothing removed" "$(nws gc-ttl)" "$n"
t_eq "nothing of gc-exp removed" "$(nws gc-exp)" "$x"
curl -sf -X POST "$AWSSIM_URL/_awssim/clock" -d '{"advance": 300}' >/dev/null
t_rc 0 "gc 5 min later" $S gc --state-dir "$SD" $XS --auto-approve --now "$(simnow)"
t_eq "still nothing removed" "$(nws gc-ttl)" "$n"
t_eq "still nothing of gc-exp removed" "$(nws gc-exp)" "$x"
curl -sf -X POST "$AWSSIM_URL/_awssim/clock" -d '{"advance": 360}' >/dev/null
# (4) dry run after expiry: lists, deletes nothing
t_rc 1 "gc --dry-run after expiry exits 1: there is work" $S gc --state-dir "$SD" $XS --dry-run --auto-approve --now "$(simnow)"
t_grep "would destroy" "expired at" .out
t_grep "would destroy from state" "would destroy" .out
t_grep "sweep would delete by expiry" "would delete eks cluster arn:aws:eks:eu-west-1:123456789012:cluster/gc-exp: workspace gc-exp expired at" .out
t_eq "dry run removed nothing" "$(nws gc-ttl)" "$n"
t_eq "dry run removed nothing of gc-exp" "$(nws gc-exp)" "$x"
t_rc 0 "gc after expiry" $S gc --state-dir "$SD" $XS --auto-approve --now "$(simnow)"
t_grep "destroyed from state" "destroying" .out
t_grep "swept by expiry" "deleted eks cluster arn:aws:eks:eu-west-1:123456789012:cluster/gc-exp: workspace gc-exp expired at" .out
t_eq "ephemeral cluster gone from AWS" "$(nws gc-ttl)" 0
t_eq "expired cluster with a state elsewhere gone from AWS" "$(nws gc-exp)" 0
t_eq "no untagged leftovers of them" "$(q "sum(1 for v in inv.values() for o in v if 'gc-ttl' in str(o) or 'gc-exp' in str(o))")" 0
t_eq "live workspace untouched" "$(nws gc-live)" "$live"
t_rc 0 "gc again: nothing to do" $S gc --state-dir "$SD" --auto-approve --now "$(simnow)"
t_eq "live workspace still untouched" "$(nws gc-live)" "$live"
t_end

# ------------------------------------------------------------ (2) lost state
t_begin "deleting the state database and running gc removes every tagged object"
spec gc-lost 52
t_rc 0 "apply" apply gc-lost
n=$(nws gc-lost)
t_ok "it has tagged objects" test "$n" -gt 10
rm -f "$SD/gc-lost.db" "$SD/gc-lost.db".*
t_rc 0 "gc without credentials that work" env AWS_SECRET_ACCESS_KEY=wrong-secret-key-for-the-test \
	$S gc --state-dir "$SD" --auto-approve
t_grep "skipped with the reason" "gc: sweep skipped: " .out
t_eq "nothing removed" "$(nws gc-lost)" "$n"
t_rc 0 "gc --auto-approve without naming it" $S gc --state-dir "$SD" --auto-approve
t_grep "its objects are listed" "not deleting eks cluster arn:aws:eks:eu-west-1:123456789012:cluster/gc-lost: no state in $SD knows workspace gc-lost" .out
t_grep "and the workspace named" "object(s) of workspace(s) no state in $SD knows: gc-lost (lineage " .out
t_eq "nothing removed without its name" "$(nws gc-lost)" "$n"
t_rc 1 "gc --dead-workspace lists without --auto-approve, exits 1" $S gc --state-dir "$SD" --dead-workspace gc-lost
t_grep "orphans listed" "would delete eks cluster" .out
t_grep "reason given" "workspace gc-lost named with --dead-workspace; no state here has its lineage" .out
t_eq "listing removed nothing" "$(nws gc-lost)" "$n"
t_rc 1 "gc --dead-workspace --dry-run --auto-approve lists" $S gc --state-dir "$SD" --dead-workspace gc-lost --dry-run --auto-approve
would=$(grep -c "^would delete " .out)
t_nogrep "only gc-lost listed" "workspace gc-live" .out
t_grep "dry-run count" "sweep found $would orphaned or expired object(s)" .out
t_ok "every gc-lost object listed" test "$would" -ge "$n"
t_eq "dry run removed nothing" "$(nws gc-lost)" "$n"
t_rc 0 "gc --dead-workspace gc-lost --auto-approve" $S gc --state-dir "$SD" --dead-workspace gc-lost --auto-approve
t_grep "report" "gc: sweep deleted $would object(s), 0 left" .out
t_grep "deleted cluster reported" "deleted eks cluster arn:aws:eks:eu-west-1:" .out
t_grep "deleted vpc reported" "deleted vpc vpc-" .out
t_eq "every gc-lost object gone" "$(nws gc-lost)" 0
t_eq "no untagged leftovers of it (cluster SG, ENIs, instances)" "$(q "sum(1 for v in inv.values() for o in v if 'gc-lost' in str(o))")" 0
t_eq "live workspace untouched" "$(nws gc-live)" "$live"
t_end

# ------------------------------------------------------------ an association on a cluster that stays
t_begin "a dead workspace's Pod Identity association on a live cluster is swept; the add-on's is kept"
mkdir -p "$WORK/pia" && cat >"$WORK/pia/p.yaml" <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: gc-pia, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: ca, attributes: {name: gc-pia-ca, service: pods.eks.amazonaws.com}}
    - type: eks_pod_identity_association
      name: ca
      attributes: {cluster_name: gc-live, namespace: kube-system, service_account: cluster-autoscaler, role_arn: "${aws_iam_role.ca.arn}"}
Y
pias() { q "sorted(x['serviceAccount'] for x in inv['eks:pod-identity-association'] if x['id'].startswith('gc-live/'))"; }
t_rc 0 "apply" $S apply "$WORK/pia/p.yaml" --state "$SD/gc-pia.db" --auto-approve
t_eq "two associations on gc-live (the VPC CNI add-on's, this one)" "$(pias)" '["kube-system/aws-node", "kube-system/cluster-autoscaler"]'
rm -f "$SD/gc-pia.db" "$SD/gc-pia.db".*
t_rc 0 "gc --dead-workspace gc-pia --auto-approve" $S gc --state-dir "$SD" --dead-workspace gc-pia --auto-approve
t_grep "reported" "deleted eks pod identity association " .out
t_eq "only the add-on's association is left" "$(pias)" '["kube-system/aws-node"]'
t_eq "and the role went too" "$(q "len([r for r in inv['iam:role'] if r['id'] == 'gc-pia-ca'])")" 0
t_eq "live workspace untouched" "$(nws gc-live)" "$live"
t_end

# ------------------------------------------------------------ (5) killed run
t_begin "an object a killed run never recorded is swept; what the state knows is kept"
spec gc-kill 53
sim_kill_during eks:CreateCluster '{"operation":"eks:CreateCluster","kind":"latency","ms":20000}' \
	$S apply "$WORK/gc-kill.yaml" --state "$SD/gc-kill.db" --auto-approve
t_eq "the cluster exists in AWS" "$(q "n('eks:cluster')")" 2
# The run died before its intent reached the state: forget the intent (and
# the creating row) the way it would look had the kill come a moment earlier.
/usr/bin/python3 - "$SD/gc-kill.db" <<'P'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM journal WHERE address = 'eks_cluster.main'")
db.execute("DELETE FROM resources WHERE address = 'eks_cluster.main'")
db.commit()
P
vpcs=$(q "len([o for o in inv['ec2:vpc'] if o['tags'].get('secfaas:workspace')=='gc-kill'])")
t_eq "its VPC exists" "$vpcs" 1
t_rc 0 "gc --auto-approve" $S gc --state-dir "$SD" --auto-approve
t_grep "the unrecorded cluster is reported" "deleted eks cluster arn:aws:eks:eu-west-1:123456789012:cluster/gc-kill" .out
t_eq "unrecorded cluster gone" "$(q "len([c for c in inv['eks:cluster'] if c['id']=='gc-kill'])")" 0
t_eq "recorded VPC kept" "$(q "len([o for o in inv['ec2:vpc'] if o['tags'].get('secfaas:workspace')=='gc-kill'])")" 1
t_eq "live workspace untouched" "$(nws gc-live)" "$live"
t_rc 0 "destroy from the state removes the rest" $S destroy "$WORK/gc-kill.yaml" --state "$SD/gc-kill.db" --auto-approve
t_eq "gc-kill gone" "$(nws gc-kill)" 0
t_end

# ------------------------------------------------------------ (5) killed mid-bake, state lost
t_begin "a run killed mid-bake whose state is lost: builder instance, image and the rest are swept"
spec gc-bake 55
# a release no other workspace baked yet, so this apply must bake
sed -i 's/release: "20250113.0"/release: "20250120.0"/' "$WORK/gc-bake.yaml"
sim_kill_during ec2:CreateImage '{"operation":"ec2:CreateImage","kind":"latency","ms":20000}' \
	$S apply "$WORK/gc-bake.yaml" --state "$SD/gc-bake.db" --auto-approve
rm -f "$SD/gc-bake.db" "$SD/gc-bake.db".*
t_eq "the builder instance is alive" "$(q "len([i for i in inv['ec2:instance'] if i['tags'].get('secfaas:workspace')=='gc-bake'])")" 1
t_rc 0 "gc --dead-workspace gc-bake --auto-approve" $S gc --state-dir "$SD" --dead-workspace gc-bake --auto-approve
t_grep "builder reported" "deleted ec2 instance i-" .out
t_grep "nothing left" ", 0 left" .out
t_eq "every gc-bake object gone" "$(q "sum(1 for v in inv.values() for o in v if 'gc-bake' in str(o))")" 0
t_eq "no instance, image or snapshot of it" "$(q "len([o for k in ('ec2:instance','ec2:image','ec2:snapshot') for o in inv[k] if o.get('tags',{}).get('secfaas:workspace')=='gc-bake'])")" 0
t_eq "live workspace untouched" "$(nws gc-live)" "$live"
t_end

# ------------------------------------------------------------ clean up
t_begin "destroying the live workspace leaves the inventory empty"
t_rc 0 "destroy" $S destroy "$WORK/gc-live.yaml" --state "$SD/gc-live.db" --auto-approve
t_rc 0 "final gc finds nothing" $S gc --state-dir "$SD" --auto-approve
t_grep "nothing orphaned" "sweep found no orphaned or expired objects" .out
t_eq "inventory empty" "$(total)" 0
t_end

finish
