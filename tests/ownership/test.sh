#!/bin/sh
# Ownership in a shared account, against the local AWS (tests/awssim): objects
# with colliding names that this state did not create — another state of the
# same spec, or made by hand by another team — survive apply, re-apply and
# destroy untouched, with their policies, profile memberships and load
# balancers (checked in the simulator's inventory); a second state refuses to
# adopt and names the owner and the import command; a failed create records
# nothing deletable; EKS's own access entry for the cluster creator is never
# adopted; `secfaas import` takes an object over on purpose and says what it
# will own; a name taken over by someone else after an out-of-band deletion
# is left alone by destroy; a Pod Identity association is refused to a
# second state the same way; a load balancer tagged for the cluster as
# "shared" (someone else's it may use) outlives the cluster's destroy.  The simulator runs with --timescale 0.001 and
# secfaas with SECFAAS_POLL_SCALE=0.001.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
# every eventual-consistency window AWS documents on (tests/awssim/README.md)
sim_suite 0.001 0.001 --consistency-delay-scale 1
q() { /usr/bin/python3 "$SECFAAS_SRC/tests/eks/q.py" "$AWSSIM_URL" "$1"; }
hand() { /usr/bin/python3 "$SECFAAS_SRC/tests/ownership/hand.py" "$AWSSIM_URL" "$@"; }
# Everything about the objects of a name prefix that a careless tool could
# break: roles with policies and profiles, profiles with roles, clusters,
# node groups, access entries, load balancers, VPCs, subnets (sorted JSON).
# $2: a lineage whose objects are left out (the state under test).
snapshot() {
	q "(lambda mine: json.dumps({
 'roles': sorted((r['id'], sorted(r['attachedPolicies']), sorted(r.get('tags', {}).items())) for r in inv['iam:role'] if r['id'].startswith('$1') and not mine(r)),
 'profiles': sorted((p['id'], sorted(p['roles'])) for p in inv['iam:instance-profile']),
 'clusters': sorted((c['id'], c.get('status')) for c in inv['eks:cluster'] if c['id'].startswith('$1') and not mine(c)),
 'nodegroups': sorted(n['id'] for n in inv['eks:nodegroup'] if n['id'].startswith('$1')),
 'entries': sorted(e['id'] for e in inv['eks:access-entry'] if e['id'].startswith('$1')),
 'lbs': sorted(l['id'] for l in inv['elbv2:load-balancer']),
 'vpcs': sorted(v['id'] for v in inv['ec2:vpc'] if not mine(v) and (v.get('tags', {}).get('Name', '').startswith('$1') or v.get('tags', {}).get('secfaas:workspace', '').startswith('$1'))),
 'subnets': len([s for s in inv['ec2:subnet'] if not mine(s)])}, sort_keys=True))(lambda o: o.get('tags', {}).get('secfaas:lineage') == '${2:-none}')"
}
lineage() { /usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select value from meta where key='lineage'\").fetchone()[0])" "$1"; }
WORK=$T_ROOT/work
mkdir -p "$WORK/a" "$WORK/b" "$WORK/h"
export HAND_MODELS=$T_ROOT/models

# spec FILE NAME CIDR-OCTET [ADMIN...]: a small cluster (one runc group)
spec() {
	f=$1 n=$2 o=$3
	shift 3
	admins=""
	for a in "$@"; do admins="$admins${admins:+, }\"$a\""; done
	cat >"$f" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: $n, region: eu-west-1}
spec:
  kubernetesVersion: "1.33"
  network: {cidr: 10.$o.0.0/16, availabilityZones: 2, endpointAccess: public}
  access: {admins: [$admins]}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
Y
}
ADMIN=arn:aws:iam::123456789012:role/platform-admins
CREATOR=arn:aws:iam::123456789012:user/secfaas-test

# ------------------------------------------------------------ second state
t_begin "a second state of the same spec refuses to adopt, names the owner, and leaves the first untouched"
spec "$WORK/own.yaml" fn-own 60 "$ADMIN"
cd "$WORK/a" || exit 2
t_rc 0 "first state applies" $S apply "$WORK/own.yaml" --auto-approve
lin_a=$(q "[r['tags']['secfaas:lineage'] for r in inv['iam:role'] if r['id']=='fn-own-cluster'][0]")
curl -sf -X POST "$AWSSIM_URL/_awssim/elb/load-balancers" \
	-d '{"cluster":"fn-own","namespace":"openfaas","service":"gateway-external","type":"nlb"}' >/dev/null
before=$(snapshot fn-own)
t_eq "first state's admin entry exists" "$(q "len([e for e in inv['eks:access-entry'] if e['id'].endswith('role/platform-admins')])")" 1
cd "$WORK/b" || exit 2
t_rc 1 "plan from an empty directory refuses" $S plan "$WORK/own.yaml"
t_grep "owner named" "IAM role fn-own-cluster already exists and belongs to workspace fn-own (lineage $lin_a, resource aws_iam_role.cluster), not to this state" "$T_DIR/.err"
t_grep "import command" "secfaas import aws_iam_role.cluster fn-own-cluster SPEC" "$T_DIR/.err"
t_rc 1 "apply without refresh fails at create instead" $S apply "$WORK/own.yaml" --auto-approve -refresh=false
lin_b=$(lineage .secfaas/fn-own.db) # a plan leaves no state; the apply made it
t_grep "create refuses, naming the owner" "belongs to workspace fn-own (lineage $lin_a" "$T_DIR/.err"
t_nogrep "nothing adopted" "aws_iam_role.cluster: Creation complete" "$T_DIR/.out"
t_nogrep "cluster not adopted" "eks_cluster.main: Creation complete" "$T_DIR/.out"
$S state list >"$T_DIR/rows" 2>&1
t_nogrep "the failed role create left no row" "aws_iam_role.cluster" "$T_DIR/rows"
t_nogrep "the failed cluster create left no row" "eks_cluster.main" "$T_DIR/rows"
t_eq "first state's objects untouched by apply" "$(snapshot fn-own "$lin_b")" "$before"
t_rc 1 "re-apply refuses again" $S apply "$WORK/own.yaml" --auto-approve -refresh=false
t_eq "untouched by re-apply" "$(snapshot fn-own "$lin_b")" "$before"
t_rc 0 "second state's destroy" $S destroy "$WORK/own.yaml" --auto-approve
t_eq "untouched by destroy (roles, policies, cluster, node group, entries, LB, VPC)" "$(snapshot fn-own "$lin_b")" "$before"
cd "$WORK/a" || exit 2
t_rc 0 "first state still converged" $S plan "$WORK/own.yaml" --detailed-exitcode
t_end

# ------------------------------------------------------------ creator's entry
t_begin "EKS's own access entry for the cluster creator is neither adopted nor deleted"
cd "$WORK/a" || exit 2
spec "$WORK/own2.yaml" fn-own 60 "$ADMIN" "$CREATOR"
t_eq "EKS made the creator's entry" "$(q "len([e for e in inv['eks:access-entry'] if e['id']=='fn-own/$CREATOR'])")" 1
t_rc 1 "apply refuses the creator's entry" $S apply "$WORK/own2.yaml" --auto-approve
t_grep "refusal names it" "EKS access entry fn-own/$CREATOR already exists and belongs to nobody secfaas knows" "$T_DIR/.err"
t_grep "hint says why" "EKS makes an access entry of its own for the principal that created the cluster, so drop that principal from spec.access.admins, or take it over with" "$T_DIR/.err"
$S state list >"$T_DIR/rows" 2>&1
t_nogrep "no row for it" "eks_access_entry.admin_1" "$T_DIR/rows"
t_rc 0 "back to the spec without it" $S apply "$WORK/own.yaml" --auto-approve
t_eq "creator's entry still there" "$(q "len([e for e in inv['eks:access-entry'] if e['id']=='fn-own/$CREATOR'])")" 1
t_rc 0 "converged" $S plan "$WORK/own.yaml" --detailed-exitcode
t_end

# ------------------------------------------------------------ hand-made objects
t_begin "hand-made role (policy, other profile), instance profile, cluster with a load balancer and VPC survive"
cd "$WORK/h" || exit 2
hvpc=$(hand role fn-hand-cluster eks.amazonaws.com arn:aws:iam::aws:policy/AmazonEKSClusterPolicy \
	+ role team-builder ec2.amazonaws.com + profile team-profile fn-hand-cluster \
	+ profile fn-hand-ami-builder team-builder + vpc 10.70.0.0/16 fn-hand kubernetes.io/cluster/fn-hand=owned)
hand cluster fn-hand fn-hand-cluster "$hvpc"
curl -sf -X POST "$AWSSIM_URL/_awssim/elb/load-balancers" \
	-d '{"cluster":"fn-hand","namespace":"default","service":"web","type":"nlb"}' >/dev/null
spec "$WORK/hand.yaml" fn-hand 71
cat >>"$WORK/hand.yaml" <<'Y'
    - {name: sandbox, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
  gvisor: {release: "20250113.0", platform: systrap}
Y
hb=$(snapshot fn-hand)
hp=$(q "sorted((p['id'], sorted(p['roles'])) for p in inv['iam:instance-profile'])")
t_rc 1 "plan refuses" $S plan "$WORK/hand.yaml"
t_grep "role owner" "IAM role fn-hand-cluster already exists and belongs to nobody secfaas knows" "$T_DIR/.err"
t_rc 1 "apply without refresh fails" $S apply "$WORK/hand.yaml" --auto-approve -refresh=false
lin_h=$(lineage .secfaas/fn-hand.db) # a plan leaves no state; the apply made it
t_grep "profile refused" "IAM instance profile fn-hand-ami-builder already exists and belongs to nobody secfaas knows" "$T_DIR/.err"
t_rc 1 "re-apply fails" $S apply "$WORK/hand.yaml" --auto-approve -refresh=false
t_eq "hand objects untouched by apply" "$(snapshot fn-hand "$lin_h")" "$hb"
t_eq "profiles untouched" "$(q "sorted((p['id'], sorted(p['roles'])) for p in inv['iam:instance-profile'])")" "$hp"
t_rc 0 "destroy" $S destroy "$WORK/hand.yaml" --auto-approve
t_eq "hand objects untouched by destroy" "$(snapshot fn-hand "$lin_h")" "$hb"
t_eq "profiles untouched by destroy" "$(q "sorted((p['id'], sorted(p['roles'])) for p in inv['iam:instance-profile'])")" "$hp"
t_eq "the hand cluster kept its load balancer" "$(q 'n("elbv2:load-balancer")')" 2
t_end

t_begin "import takes a hand-made role over on purpose and says what it will own"
cd "$WORK/h" || exit 2
t_rc 0 "import" $S import aws_iam_role.cluster fn-hand-cluster "$WORK/hand.yaml"
t_grep "what it owns now" "This state now owns IAM role fn-hand-cluster (owned until now by nobody secfaas knows" "$T_DIR/.out"
t_grep "what comes with it" "What comes with it: tags secfaas:lineage" "$T_DIR/.out"
t_eq "role now carries this state's lineage" "$(q "[r['tags'].get('secfaas:lineage') for r in inv['iam:role'] if r['id']=='fn-hand-cluster']")" "[\"$lin_h\"]"
t_eq "its policies are still attached" "$(q "[r['attachedPolicies'] for r in inv['iam:role'] if r['id']=='fn-hand-cluster']")" '[["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]]'
t_rc 1 "destroy refuses to take it out of someone else's profile" $S destroy "$WORK/hand.yaml" --auto-approve -target aws_iam_role.cluster
t_grep "names the profile" "is in instance profile team-profile, which belongs to nobody secfaas knows" "$T_DIR/.err"
t_eq "the other profile keeps the role" "$(q "[p['roles'] for p in inv['iam:instance-profile'] if p['id']=='team-profile']")" '[["fn-hand-cluster"]]'
t_eq "the role keeps its policy" "$(q "[r['attachedPolicies'] for r in inv['iam:role'] if r['id']=='fn-hand-cluster']")" '[["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]]'
t_end

# ------------------------------------------------------------ pod identity
t_begin "a service account's Pod Identity association belongs to the state that made it: another refuses, naming it"
# pia DIR ROLE: a role for pods and its association for kube-system/cluster-autoscaler on the hand cluster
pia() {
	mkdir -p "$WORK/$1" && cat >"$WORK/$1/p.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: pia, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: ca, attributes: {name: $2, service: pods.eks.amazonaws.com}}
    - type: eks_pod_identity_association
      name: ca
      attributes: {cluster_name: fn-hand, namespace: kube-system, service_account: cluster-autoscaler, role_arn: "\${aws_iam_role.ca.arn}"}
Y
}
pia pa pia-ca-a
pia pb pia-ca-b
pias() { q "sorted((x['serviceAccount'], x['roleArn'].rsplit('/', 1)[1]) for x in inv['eks:pod-identity-association'] if x['id'].startswith('fn-hand/'))"; }
cd "$WORK/pa" || exit 2
t_rc 0 "first state makes the role and the association (trust: AssumeRole + TagSession)" $S apply p.yaml --auto-approve
lin_p=$(lineage .secfaas/pia.db)
t_eq "the association" "$(pias)" '[["kube-system/cluster-autoscaler", "pia-ca-a"]]'
t_rc 0 "converged" $S plan p.yaml --detailed-exitcode
cd "$WORK/pb" || exit 2
t_rc 1 "a second state's plan refuses" $S plan p.yaml
t_grep "names the owner" "belongs to workspace pia (lineage $lin_p, resource eks_pod_identity_association.ca)" "$T_DIR/.err"
t_grep "and import" "secfaas import eks_pod_identity_association.ca" "$T_DIR/.err"
t_rc 1 "its apply fails at the create" $S apply p.yaml --auto-approve -refresh=false
t_grep "create refuses" "belongs to workspace pia (lineage $lin_p" "$T_DIR/.err"
$S state list >"$T_DIR/rows" 2>&1
t_nogrep "no row for the refused association" "eks_pod_identity_association.ca" "$T_DIR/rows"
t_eq "the first state's association is untouched" "$(pias)" '[["kube-system/cluster-autoscaler", "pia-ca-a"]]'
t_rc 0 "second state's destroy" $S destroy p.yaml --auto-approve
t_eq "and untouched by its destroy" "$(pias)" '[["kube-system/cluster-autoscaler", "pia-ca-a"]]'
cd "$WORK/pa" || exit 2
t_rc 0 "the first state's destroy" $S destroy p.yaml --auto-approve
t_eq "takes its association" "$(pias)" '[]'
t_eq "and its role" "$(q "len([r for r in inv['iam:role'] if r['id'].startswith('pia-ca')])")" 0
t_end

# ------------------------------------------------------------ name reuse
t_begin "a name someone else took after an out-of-band deletion is never changed or deleted"
mkdir -p "$WORK/r" && cd "$WORK/r" || exit 2
cat >r.yaml <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: reuse, region: eu-west-1}
spec:
  resources:
    - type: aws_iam_role
      name: app
      attributes: {name: reuse-app, service: ec2.amazonaws.com, policy_arns: [AmazonSSMManagedInstanceCore]}
Y
t_rc 0 "apply" $S apply r.yaml --auto-approve
hand delete-role reuse-app + role reuse-app ec2.amazonaws.com arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly \
	+ profile other-profile reuse-app
t_rc 0 "refresh-only plan" $S plan r.yaml -refresh-only
t_grep "drift names the new owner" "deleted outside secfaas; its name is now taken by nobody secfaas knows" "$T_DIR/.out"
t_rc 0 "destroy leaves it alone" $S destroy r.yaml --auto-approve
t_grep "and says so" "IAM role reuse-app belongs to nobody secfaas knows" "$T_DIR/.err"
t_eq "their role keeps its policy" "$(q "[r['attachedPolicies'] for r in inv['iam:role'] if r['id']=='reuse-app']")" '[["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]]'
t_eq "and its profile" "$(q "[p['roles'] for p in inv['iam:instance-profile'] if p['id']=='other-profile']")" '[["reuse-app"]]'
t_rc 1 "apply refuses to adopt it" $S apply r.yaml --auto-approve
t_grep "refusal" "IAM role reuse-app already exists and belongs to nobody secfaas knows" "$T_DIR/.err"
t_end

# ------------------------------------------------------------ shared load balancer
# Kubernetes tags what it makes kubernetes.io/cluster/<name>=owned;
# "shared" marks an object someone else made that the cluster only uses.
# In a VPC the cluster was given (so its destroy leaves the VPC alone) a
# load balancer of each kind: the cluster's destroy takes its own only.
t_begin "a load balancer tagged kubernetes.io/cluster/<name>=shared is someone else's: destroy keeps it, takes the owned one"
mkdir -p "$WORK/s"
cd "$WORK/s" || exit 2
hand network 10.77.0.0/16 lbteam >"$WORK/net.json" || exit 2
net() { /usr/bin/python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if isinstance(v, str) else ', '.join(v))" "$WORK/net.json" "$1"; }
cat >"$WORK/shared.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: fn-shr, region: eu-west-1}
spec:
  kubernetesVersion: "1.33"
  network: {vpcId: $(net vpc), subnets: {private: [$(net private)], public: [$(net public)]}}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 1, max: 2, desired: 1}}
Y
t_rc 0 "apply" $S apply "$WORK/shared.yaml" --auto-approve
lb() {
	curl -sf -X POST "$AWSSIM_URL/_awssim/elb/load-balancers" \
		-d "{\"cluster\":\"fn-shr\",\"namespace\":\"$1\",\"service\":\"$2\",\"type\":\"nlb\"}" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["arn"])'
}
lb default web >/dev/null
shared=$(lb team gateway)
hand elb-tag "$shared" kubernetes.io/cluster/fn-shr=shared
TAGGED="sorted(l['tags']['kubernetes.io/cluster/fn-shr'] for l in inv['elbv2:load-balancer'] if 'kubernetes.io/cluster/fn-shr' in l['tags'])"
t_eq "one owned, one shared before destroy" "$(q "$TAGGED")" '["owned", "shared"]'
t_rc 0 "destroy" $S destroy "$WORK/shared.yaml" --auto-approve
t_eq "the shared one is still there, the owned one gone" "$(q "$TAGGED")" '["shared"]'
t_eq "it is the same load balancer" "$(q "[l['id'] for l in inv['elbv2:load-balancer'] if l['id'] == '$shared']")" "[\"$shared\"]"
t_end

# ------------------------------------------------------------ clean up
t_begin "the first state's destroy removes exactly its own objects, an unreachable API server notwithstanding"
cd "$WORK/a" || exit 2
# The cluster's API server cannot be reached for one Kubernetes object (as
# when its endpoint moved or the network broke): it goes with its cluster
# and must not block the teardown of everything else.
/usr/bin/python3 - .secfaas/fn-own.db <<'P'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
addr, attrs = db.execute("SELECT address, attrs FROM resources WHERE type = 'k8s_manifest' LIMIT 1").fetchone()
a = json.loads(attrs)
a["endpoint"] = "https://127.0.0.1:9"
db.execute("UPDATE resources SET attrs = ? WHERE address = ?", (json.dumps(a), addr))
db.commit()
P
t_rc 0 "destroy" $S destroy "$WORK/own.yaml" --auto-approve
t_grep "the unreachable object goes with its cluster" "it goes with eks_cluster.main, deleted in this run" "$T_DIR/.err"
t_eq "nothing of fn-own left" "$(q "sum(1 for v in inv.values() for o in v if o.get('tags', {}).get('secfaas:workspace') == 'fn-own')")" 0
t_eq "hand objects still there" "$(q "len([c for c in inv['eks:cluster'] if c['id']=='fn-hand'])")" 1
t_end

finish
