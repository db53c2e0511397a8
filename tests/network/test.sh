#!/bin/sh
# Bring your own network, against the local AWS (tests/awssim): a VPC made
# beforehand by "the network team" (boto3, tests/ownership/hand.py) with
# public and private subnets, an internet gateway, a NAT gateway and route
# tables.  A cluster given its ids (network.vpcId, network.subnets) applies
# into it and destroys without touching it: everything of that VPC (the
# VPC, subnets, route tables and routes, gateways, addresses, tags) reads
# the same before and after, and no call ever wrote to it.  Plan refuses,
# before anything is made, a subnet of another VPC, subnets all in one
# availability zone and private node subnets without a way out; a VPC id
# that does not exist in the region; `secfaas import` of the reference.
# awssim runs with --timescale 0.001 and secfaas with SECFAAS_POLL_SCALE=0.001.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
sim_suite 0.001 0.001
export HAND_MODELS=$T_ROOT/models
q() { /usr/bin/python3 "$SECFAAS_SRC/tests/eks/q.py" "$AWSSIM_URL" "$1"; }
hand() { /usr/bin/python3 "$SECFAAS_SRC/tests/ownership/hand.py" "$AWSSIM_URL" "$@"; }
js() { /usr/bin/python3 -c "import json,sys; v=json.load(open(sys.argv[1]))$2; print(v if isinstance(v, str) else ', '.join(v))" "$WORK/$1"; }
WORK=$T_ROOT/work
mkdir -p "$WORK"
ST="--state $WORK/state.db"
# the calls that write to a VPC's network (none of them may name the network team's objects)
WRITES="'ec2:DeleteVpc', 'ec2:DeleteSubnet', 'ec2:DeleteRouteTable', 'ec2:DeleteRoute', 'ec2:ReplaceRoute', 'ec2:DisassociateRouteTable', 'ec2:DetachInternetGateway', 'ec2:DeleteInternetGateway', 'ec2:DeleteNatGateway', 'ec2:ReleaseAddress', 'ec2:DisassociateAddress', 'ec2:ModifySubnetAttribute', 'ec2:ModifyVpcAttribute', 'ec2:CreateRoute', 'ec2:AssociateRouteTable', 'ec2:CreateTags', 'ec2:DeleteTags', 'ec2:CreateSubnet', 'ec2:CreateVpc', 'ec2:CreateInternetGateway', 'ec2:CreateNatGateway', 'ec2:AllocateAddress'"
writes() { q "sum(calls[k] for k in ($WRITES))"; }

# spec FILE VPC PRIVATE PUBLIC: a cluster with a runc and a baking gVisor group in the given network
spec() {
	cat >"$1" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: fn-byo, region: eu-west-1}
spec:
  kubernetesVersion: "1.35"
  network:
    vpcId: $2
    subnets:
      private: [$3]
      public: [$4]
  gvisor: {release: "20250113.0"}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}
    - {name: sandbox, runtime: gvisor, instanceTypes: [m6i.xlarge], scaling: {min: 1, max: 2}}
Y
}

hand network 10.70.0.0/16 netteam >"$WORK/net.json" || exit 2
VPC=$(js net.json '["vpc"]')
PRIV=$(js net.json '["private"]')
PUB=$(js net.json '["public"]')

t_begin "a cluster in an existing VPC applies and destroys without touching that VPC"
hand inventory "$VPC" >"$WORK/before.json"
w0=$(writes)
C=$WORK/c.yaml
spec "$C" "$VPC" "$PRIV" "$PUB"
t_rc 0 "plan" $S plan "$C" $ST
t_grep "the reference is read, not made" "aws_network_ref.main" "$T_DIR/.out"
t_nogrep "no VPC made" "aws_vpc.main" "$T_DIR/.out"
t_nogrep "no subnet made" "aws_subnet." "$T_DIR/.out"
t_rc 0 "apply" $S apply "$C" $ST --auto-approve
t_eq "cluster in the given subnets" \
	"$(hand get "sorted(eks.describe_cluster(name='fn-byo')['cluster']['resourcesVpcConfig']['subnetIds'])")" \
	"$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(sorted(d['private']+d['public'])))" "$WORK/net.json")"
t_eq "cluster security group in the given VPC" \
	"$(q "[g['vpc'] for g in inv['ec2:security-group'] if g.get('tags', {}).get('secfaas:address')=='aws_security_group.cluster']")" \
	"[\"$VPC\"]"
t_eq "no VPC made" "$(q "n('ec2:vpc')")" 1
t_rc 0 "second plan: no changes" $S plan "$C" $ST --detailed-exitcode
hand inventory "$VPC" >"$WORK/during.json"
t_ok "nothing of it changed while the cluster lived" cmp "$WORK/before.json" "$WORK/during.json"
t_rc 0 "destroy plan" $S plan --destroy "$C" $ST
t_grep "said to be kept" "# only forgotten: the existing VPC ($VPC) is someone else's, and stays as it is" "$T_DIR/.out"
t_rc 0 "destroy" env SECFAAS_LOG=info $S destroy "$C" $ST --auto-approve
t_grep "forgotten, not deleted" "existing VPC $VPC is not this state's: left as it is" "$T_DIR/.err"
hand inventory "$VPC" >"$WORK/after.json"
t_ok "VPC, subnets, routes, gateways and tags as before" cmp "$WORK/before.json" "$WORK/after.json"
t_eq "the cluster is gone" "$(q "len([c for c in inv['eks:cluster'] if c['id']=='fn-byo'])")" 0
t_rc 0 "gc leaves it too" $S gc --state-dir "$WORK" --dead-workspace fn-byo --auto-approve
hand inventory "$VPC" >"$WORK/after_gc.json"
t_ok "untouched by gc" cmp "$WORK/before.json" "$WORK/after_gc.json"
t_end

t_begin "plan refuses a subnet of another VPC, one availability zone, no way out, DNS hostnames off, a VPC not in the region"
t_eq "no call wrote to any network" "$(writes)" "$w0"
t_end

t_begin "plan refuses a subnet of another VPC, one availability zone, no way out, DNS hostnames off, a VPC not in the region"
hand network 10.71.0.0/16 other + network 10.72.0.0/16 oneaz one-az + network 10.73.0.0/16 nonat no-nat \
	+ network 10.77.0.0/16 nodns no-nat no-dns-hostnames >"$WORK/nets.json" || exit 2
sed -n 1p "$WORK/nets.json" >"$WORK/other.json"
sed -n 2p "$WORK/nets.json" >"$WORK/oneaz.json"
sed -n 3p "$WORK/nets.json" >"$WORK/nonat.json"
sed -n 4p "$WORK/nets.json" >"$WORK/nodns.json"
B=$WORK/bad.yaml
OPRIV=$(js other.json '["private"][0]')
spec "$B" "$VPC" "$(js net.json '["private"][0]'), $OPRIV" "$PUB"
t_rc 1 "another VPC's subnet" $S plan "$B" --state "$WORK/bad.db"
t_grep "named" "subnet $OPRIV is in $(js other.json '["vpc"]'), not in the given VPC $VPC" "$T_DIR/.err"
t_grep "where" "bad.yaml:7:12" "$T_DIR/.err"
spec "$B" "$(js oneaz.json '["vpc"]')" "$(js oneaz.json '["private"]')" "$(js oneaz.json '["public"]')"
t_rc 1 "one zone" $S plan "$B" --state "$WORK/bad.db"
t_grep "two zones" "EKS needs subnets in at least two availability zones; every given subnet is in eu-west-1a" "$T_DIR/.err"
spec "$B" "$(js nonat.json '["vpc"]')" "$(js nonat.json '["private"]')" "$(js nonat.json '["public"]')"
t_rc 1 "no way out" $S plan "$B" --state "$WORK/bad.db"
t_grep "why" "nodes in subnet $(js nonat.json '["private"][0]') could not reach EKS, ECR or STS" "$T_DIR/.err"
t_grep "what is missing" "lacks the endpoints ec2, ecr.api, ecr.dkr, sts, s3" "$T_DIR/.err"
spec "$B" "$(js nodns.json '["vpc"]')" "$(js nodns.json '["private"]')" "$(js nodns.json '["public"]')"
t_rc 1 "DNS hostnames off (CreateVpc's default)" $S plan "$B" --state "$WORK/bad.db"
t_grep "which and why" "VPC $(js nodns.json '["vpc"]') has DNS hostnames off; EKS nodes cannot register with the cluster without it" "$T_DIR/.err"
t_grep "what to do" "ModifyVpcAttribute enableDnsHostnames" "$T_DIR/.err"
t_grep "where" "bad.yaml:7:12" "$T_DIR/.err"
spec "$B" vpc-0123456789abcdef0 "$PRIV" "$PUB"
t_rc 1 "unknown VPC" $S plan "$B" --state "$WORK/bad.db"
t_grep "region named" "VPC vpc-0123456789abcdef0 does not exist in eu-west-1" "$T_DIR/.err"
t_eq "nothing made by the refused plans" "$(q "len([r for r in inv['iam:role'] if r['id'].startswith('fn-byo')])")" 0
t_rc 1 "import of the reference refused" $S import aws_network_ref.main "$VPC" "$C" --state "$WORK/imp.db"
t_grep "nothing to import" "secfaas only reads and never owns; there is nothing to import" "$T_DIR/.err"
t_end
t_begin "plan warns of subnets without load balancer tags and of few addresses per node, refuses fewer than one"
hand network 10.74.0.0/16 notags no-elb-tags small + network 10.75.0.0/16 full no-nat full \
	+ network 10.76.0.0/16 private-link no-nat endpoints >"$WORK/nets2.json" || exit 2
sed -n 1p "$WORK/nets2.json" >"$WORK/notags.json"
sed -n 2p "$WORK/nets2.json" >"$WORK/full.json"
sed -n 3p "$WORK/nets2.json" >"$WORK/plink.json"
W=$WORK/warn.yaml
spec "$W" "$(js notags.json '["vpc"]')" "$(js notags.json '["private"]')" "$(js notags.json '["public"]')"
t_rc 0 "plan goes on: the cluster works without them" $S plan "$W" --state "$WORK/warn.db"
t_grep "warnings above the plan" "Warnings:" "$T_DIR/.out"
for sid in $(js notags.json '["public"]' | tr -d ,); do
	t_grep "public subnet $sid: elb" "subnet $sid has no tag kubernetes.io/role/elb=1" "$T_DIR/.out"
done
for sid in $(js notags.json '["private"]' | tr -d ,); do
	t_grep "private subnet $sid: internal-elb" "subnet $sid has no tag kubernetes.io/role/internal-elb=1" "$T_DIR/.out"
done
t_grep "two /28 node subnets: 22 addresses for 4 nodes" \
	"the private subnets have 22 free addresses for 4 nodes at the groups' maximum size; the VPC CNI gives every pod a VPC address" \
	"$T_DIR/.out"
sed -i 's/max: 2}/max: 12}/' "$W"
t_rc 1 "24 nodes at most in 22 addresses" $S plan "$W" --state "$WORK/warn.db"
t_grep "refused" "the private subnets have 22 free addresses for 24 nodes at the groups' maximum size" "$T_DIR/.err"
t_grep "where" "warn.yaml:7:12" "$T_DIR/.err"
spec "$W" "$(js full.json '["vpc"]')" "$(js full.json '["private"]')" "$(js full.json '["public"]')"
t_rc 1 "a subnet with 5 free addresses" $S plan "$W" --state "$WORK/warn.db"
t_grep "EKS's six" "subnet $(js full.json '["private"][0]') has 5 free addresses; EKS needs at least 6 in each subnet" \
	"$T_DIR/.err"
spec "$W" "$(js plink.json '["vpc"]')" "$(js plink.json '["private"]')" "$(js plink.json '["public"]')"
t_rc 0 "private node subnets without NAT but with the endpoints nodes need" $S plan "$W" --state "$WORK/warn.db"
t_nogrep "no load balancer tag warning for tagged subnets" "has no tag kubernetes.io/role" "$T_DIR/.out"
t_eq "nothing made by these plans" "$(q "len([r for r in inv['iam:role'] if r['id'].startswith('fn-byo')])")" 0
t_end
finish
