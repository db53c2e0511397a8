#!/bin/sh
# Drift on every security and cost setting, against the local AWS
# (tests/awssim): each setting is changed out of band the way a person or an
# attacker with the console would (boto3, tests/ownership/hand.py), then
# `plan -refresh-only` must report it (exit 2 with --detailed-exitcode) and
# `apply` must put it back, checked in the simulator, not in secfaas output.
# Cases: EKS public endpoint CIDRs widened to 0.0.0.0/0 and control-plane
# logging turned off; the security group's self rule revoked and an SSH rule
# opened to the world; the default route deleted; a public subnet's
# MapPublicIpOnLaunch switched; a launch template default version with IMDSv1
# and a larger hop limit; node group scaling, labels, taints and AMI (its
# launch template version); an IAM role's trust policy, attached and inline
# policies, also of a role whose spec names no managed policy, and of a
# fleet's roles read from one account listing (or role by role when the
# listing is refused).  (Kubernetes guard objects: tests/k8s,
# t_verify_pass_and_broken.)
# The simulator runs with --timescale 0.001, secfaas with
# SECFAAS_POLL_SCALE=0.001.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
# every eventual-consistency window AWS documents on (tests/awssim/README.md)
sim_suite 0.001 0.001 --consistency-delay-scale 1
q() { /usr/bin/python3 "$SECFAAS_SRC/tests/eks/q.py" "$AWSSIM_URL" "$1"; }
hand() { /usr/bin/python3 "$SECFAAS_SRC/tests/ownership/hand.py" "$AWSSIM_URL" "$@"; }
aws_get() { hand get "$1"; }
WORK=$T_ROOT/work
mkdir -p "$WORK"
export HAND_MODELS=$T_ROOT/models
ST="--state $WORK/d.db"
id_of() { $S state list $ST | awk -v a="$1" '$1==a{print $2}'; }
cat >"$WORK/d.yaml" <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: fn-drift, region: eu-west-1}
spec:
  kubernetesVersion: "1.33"
  network: {cidr: 10.80.0.0/16, availabilityZones: 2, endpointAccess: public, publicAccessCidrs: [203.0.113.0/24]}
  logging: [api, audit]
  gvisor: {release: "20250113.0", platform: systrap}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 1, max: 3, desired: 1}}
    - {name: sandbox, runtime: gvisor, instanceTypes: [m6i.large], scaling: {min: 1, max: 3, desired: 1}}
Y

# drift_case NAME ADDRESS ATTR: after the out-of-band change, plan -refresh-only
# names it and exits 2, apply reverts it, the next plan is empty.
drift_case() {
	t_rc 2 "plan -refresh-only reports it" $S plan "$WORK/d.yaml" $ST -refresh-only --detailed-exitcode
	t_grep "names $2 $3" "$2: $3 changed outside secfaas" "$T_DIR/.out"
	cp "$T_DIR/.out" "$T_DIR/.drift"
	t_rc 2 "plan shows the revert" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
	t_grep "as an in-place update" "~ $2" "$T_DIR/.out"
	t_nogrep "never by replacing it" "-/+ $2" "$T_DIR/.out"
	t_rc 0 "apply reverts it" $S apply "$WORK/d.yaml" $ST --auto-approve
	t_rc 0 "converged" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
}

t_begin "apply the cluster"
t_rc 0 "apply" $S apply "$WORK/d.yaml" $ST --auto-approve
t_rc 0 "converged" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
t_eq "endpoint CIDRs as the spec" "$(aws_get "eks.describe_cluster(name='fn-drift')['cluster']['resourcesVpcConfig']['publicAccessCidrs']")" '["203.0.113.0/24"]'
t_end

t_begin "EKS public endpoint widened to 0.0.0.0/0"
hand eks-cidrs fn-drift 0.0.0.0/0
drift_case cidrs eks_cluster.main public_access_cidrs
t_eq "CIDRs back in AWS" "$(aws_get "eks.describe_cluster(name='fn-drift')['cluster']['resourcesVpcConfig']['publicAccessCidrs']")" '["203.0.113.0/24"]'
t_end

t_begin "EKS control-plane logging turned off"
hand eks-logging-off fn-drift
drift_case logging eks_cluster.main logging
t_eq "audit logging on again" "$(aws_get "sorted(t for l in eks.describe_cluster(name='fn-drift')['cluster']['logging']['clusterLogging'] if l['enabled'] for t in l['types'])")" '["api", "audit"]'
t_end

t_begin "security group: self rule revoked, SSH opened to the world"
sg=$(id_of aws_security_group.cluster)
hand sg-revoke-self "$sg" + sg-open "$sg" 22
drift_case sg aws_security_group.cluster self_ingress
t_eq "self rule back, SSH rule gone" "$(aws_get "sorted((p['IpProtocol'], str(p.get('FromPort')), [g['GroupId'] for g in p['UserIdGroupPairs']], [r['CidrIp'] for r in p['IpRanges']]) for p in ec2.describe_security_groups(GroupIds=['$sg'])['SecurityGroups'][0]['IpPermissions'])")" "[[\"-1\", \"None\", [\"$sg\"], []]]"
t_end

t_begin "default route deleted"
rtb=$(id_of aws_route_table.public)
hand route-delete "$rtb" 0.0.0.0/0
drift_case route aws_route_table.public gateway_id
t_eq "route back through the gateway" "$(aws_get "[r.get('GatewayId') for r in ec2.describe_route_tables(RouteTableIds=['$rtb'])['RouteTables'][0]['Routes'] if r.get('DestinationCidrBlock')=='0.0.0.0/0']")" "[\"$(id_of aws_internet_gateway.main)\"]"
t_end

t_begin "public subnet stops mapping public IPs"
sn=$(id_of aws_subnet.public_a)
hand subnet-public "$sn" false
drift_case subnet aws_subnet.public_a public
t_eq "mapping back on" "$(aws_get "ec2.describe_subnets(SubnetIds=['$sn'])['Subnets'][0]['MapPublicIpOnLaunch']")" true
t_end

t_begin "launch template default version with IMDSv1 and a larger hop limit"
lt=$(id_of aws_launch_template.sandbox)
ours=$(aws_get "ec2.describe_launch_templates(LaunchTemplateIds=['$lt'])['LaunchTemplates'][0]['DefaultVersionNumber']")
weak=$(hand lt-imds "$lt" optional 3)
t_ok "a weaker version is the default" test "$weak" != "$ours"
drift_case lt aws_launch_template.sandbox http_tokens
t_grep "hop limit too" "aws_launch_template.sandbox: hop_limit changed outside secfaas" "$T_DIR/.drift"
t_eq "our version is the default again" "$(aws_get "ec2.describe_launch_templates(LaunchTemplateIds=['$lt'])['LaunchTemplates'][0]['DefaultVersionNumber']")" "$ours"
t_end

t_begin "node group scaling, labels, taints and AMI (template version)"
ng=$(q '[g["name"] for g in ngs("fn-drift") if g["name"].startswith("sandbox-")][0]')
hand ng-config fn-drift "$ng" 10 rogue=yes + ng-version fn-drift "$ng" "$lt" "$weak"
t_rc 2 "plan -refresh-only reports each" $S plan "$WORK/d.yaml" $ST -refresh-only --detailed-exitcode
for a in max_size labels taints launch_template_version; do
	t_grep "names $a" "eks_nodegroup.sandbox: $a changed outside secfaas" "$T_DIR/.out"
done
t_rc 0 "apply reverts them" $S apply "$WORK/d.yaml" $ST --auto-approve
t_rc 0 "converged" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
t_eq "scaling, labels, taints, template version back" "$(q "[(g['scaling']['maxSize'], g['labels'], g['taints'], str(g['launchTemplate']['version'])) for g in ngs('fn-drift') if g['name']=='$ng']")" \
	"[[3, {\"secfaas.dev/sandbox\": \"gvisor\"}, [{\"effect\": \"NO_SCHEDULE\", \"key\": \"secfaas.dev/sandbox\", \"value\": \"gvisor\"}], \"$ours\"]]"
t_end

t_begin "IAM role: trust widened, policy swapped, inline policy added"
hand role-trust fn-drift-node arn:aws:iam::999999999999:root \
	+ role-policies fn-drift-node arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore arn:aws:iam::aws:policy/AdministratorAccess \
	+ role-inline fn-drift-node backdoor
t_rc 2 "plan -refresh-only reports each" $S plan "$WORK/d.yaml" $ST -refresh-only --detailed-exitcode
for a in service policy_arns unmanaged_inline_policies; do
	t_grep "names $a" "aws_iam_role.node: $a changed outside secfaas" "$T_DIR/.out"
done
t_rc 2 "plan" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
t_grep "trust shown" "trust policy: Allow Service ec2.amazonaws.com, Allow AWS arn:aws:iam::999999999999:root" "$T_DIR/.out"
t_nogrep "role not replaced" "-/+ aws_iam_role.node" "$T_DIR/.out"
t_rc 0 "apply reverts them" $S apply "$WORK/d.yaml" $ST --auto-approve
t_rc 0 "converged" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
t_eq "policies back" "$(q "[sorted(p.split('/')[-1] for p in r['attachedPolicies']) for r in inv['iam:role'] if r['id']=='fn-drift-node']")" '[["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonSSMManagedInstanceCore"]]'
t_eq "no inline policy" "$(q "[r['inlinePolicies'] for r in inv['iam:role'] if r['id']=='fn-drift-node']")" '[[]]'
t_end

t_begin "IAM role made without managed policies: AdministratorAccess and an inline policy attached by hand"
cat >"$WORK/plain.yaml" <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: fn-drift-plain, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: plain, attributes: {name: fn-drift-plain, service: pods.eks.amazonaws.com}}
Y
PST="--state $WORK/plain.db"
t_rc 0 "apply" $S apply "$WORK/plain.yaml" $PST --auto-approve
hand get "iam.attach_role_policy(RoleName='fn-drift-plain', PolicyArn='arn:aws:iam::aws:policy/AdministratorAccess')" >/dev/null
hand role-inline fn-drift-plain backdoor
t_rc 2 "plan -refresh-only reports both" $S plan "$WORK/plain.yaml" $PST -refresh-only --detailed-exitcode
t_grep "the attached policy" "aws_iam_role.plain: policy_arns changed outside secfaas" "$T_DIR/.out"
t_grep "the inline policy" "aws_iam_role.plain: unmanaged_inline_policies changed outside secfaas" "$T_DIR/.out"
t_rc 2 "plan shows the removal" $S plan "$WORK/plain.yaml" $PST --detailed-exitcode
t_grep "AdministratorAccess named" "AdministratorAccess" "$T_DIR/.out"
t_nogrep "role not replaced" "-/+ aws_iam_role.plain" "$T_DIR/.out"
t_rc 0 "apply removes them" $S apply "$WORK/plain.yaml" $PST --auto-approve
t_eq "no policy attached" "$(q "[r['attachedPolicies'] for r in inv['iam:role'] if r['id']=='fn-drift-plain']")" '[[]]'
t_eq "no inline policy" "$(q "[r['inlinePolicies'] for r in inv['iam:role'] if r['id']=='fn-drift-plain']")" '[[]]'
t_rc 0 "converged" $S plan "$WORK/plain.yaml" $PST --detailed-exitcode
t_rc 0 "destroy" $S destroy "$WORK/plain.yaml" $PST --auto-approve
t_end

t_begin "VPC CNI on the node role's credentials again (as a cluster made before the split): association first, then the node role gives the policy up"
hand addon-pia fn-drift vpc-cni + role-policies fn-drift-node arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy
t_rc 2 "plan -refresh-only reports both" $S plan "$WORK/d.yaml" $ST -refresh-only --detailed-exitcode
t_grep "the add-on's association" "eks_addon.vpc_cni: pod_identity changed outside secfaas" "$T_DIR/.out"
t_grep "the node role's policy" "aws_iam_role.node: policy_arns changed outside secfaas" "$T_DIR/.out"
t_rc 0 "apply" $S apply "$WORK/d.yaml" $ST --auto-approve
addon_done=$(grep -n "eks_addon.vpc_cni: Modifications complete" "$T_DIR/.out" | head -n 1 | cut -d: -f1)
role_start=$(grep -n "aws_iam_role.node: Modifying" "$T_DIR/.out" | head -n 1 | cut -d: -f1)
t_ok "the node role is changed only after the add-on holds the association (lines ${addon_done:-?} < ${role_start:-?})" \
	test "${addon_done:-99999}" -lt "${role_start:-0}"
t_eq "the association is back" "$(q '[(x["serviceAccount"], x["roleArn"].split("/")[-1]) for x in inv["eks:pod-identity-association"]]')" '[["kube-system/aws-node", "fn-drift-vpc-cni"]]'
t_eq "the node role without the CNI policy" "$(q "[sorted(p.split('/')[-1] for p in r['attachedPolicies']) for r in inv['iam:role'] if r['id']=='fn-drift-node']")" '[["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonSSMManagedInstanceCore"]]'
t_rc 0 "converged" $S plan "$WORK/d.yaml" $ST --detailed-exitcode
t_end

t_begin "refresh of several workspaces reads their subnets in one DescribeSubnets and still sees a deleted one and a changed tag"
FL=$WORK/fleet
mkdir -p "$FL/specs"
for w in 1 2 3; do
	cat >"$FL/specs/net$w.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: net$w, region: eu-west-1}
spec:
  resources:
    - {type: aws_vpc, name: v, attributes: {cidr_block: 10.9$w.0.0/16}}
    - {type: aws_subnet, name: a, attributes: {vpc_id: '\${aws_vpc.v.id}', cidr_block: 10.9$w.1.0/24, availability_zone: eu-west-1a, tags: {tier: app}}}
    - {type: aws_subnet, name: b, attributes: {vpc_id: '\${aws_vpc.v.id}', cidr_block: 10.9$w.2.0/24, availability_zone: eu-west-1b, tags: {tier: app}}}
    - {type: aws_subnet, name: c, attributes: {vpc_id: '\${aws_vpc.v.id}', cidr_block: 10.9$w.3.0/24, availability_zone: eu-west-1c, tags: {tier: app}}}
Y
done
# fst N: the state of workspace netN (apply --all keeps them in .secfaas/)
fst() { echo "$FL/.secfaas/net$1.db"; }
fid() { $S state list --state "$(fst "$1")" | awk -v a="$2" '$1==a{print $2}'; }
subnet_calls() { q 'calls["ec2:DescribeSubnets"]'; }
t_rc 0 "apply three workspaces" sh -c "cd '$FL' && $S apply --all specs --auto-approve"
before=$(subnet_calls)
t_rc 0 "refresh of the fleet: nothing changed" sh -c "cd '$FL' && $S plan --all specs --refresh-only --detailed-exitcode"
t_eq "nine subnets of three workspaces read with one DescribeSubnets" "$(($(subnet_calls) - before))" 1
before=$(subnet_calls)
t_rc 0 "refresh of one workspace" $S plan "$FL/specs/net1.yaml" --state "$(fst 1)" -refresh-only --detailed-exitcode
t_eq "its three subnets in one DescribeSubnets" "$(($(subnet_calls) - before))" 1
hand get "ec2.delete_subnet(SubnetId='$(fid 2 aws_subnet.b)')" >/dev/null
hand get "ec2.create_tags(Resources=['$(fid 3 aws_subnet.c)'], Tags=[{'Key': 'tier', 'Value': 'rogue'}])" >/dev/null
before=$(subnet_calls)
t_rc 2 "refresh of the fleet sees both" sh -c "cd '$FL' && $S plan --all specs --refresh-only --detailed-exitcode"
t_grep "the deleted subnet" "aws_subnet.b: deleted outside secfaas" "$T_DIR/.out"
t_grep "the changed tag" "aws_subnet.c: tags changed outside secfaas" "$T_DIR/.out"
t_eq "exactly those two" "$(grep -c '^  ~ .* outside secfaas$' "$T_DIR/.out")" 2
t_eq "in their own workspaces" "$(sed -n -E 's/^(net[0-9]) +0 +0 +0  (.*)$/\1: \2;/p' "$T_DIR/.out" | tr -d '\n')" \
	"net1: no changes;net2: changed outside secfaas;net3: changed outside secfaas;"
t_eq "still one DescribeSubnets" "$(($(subnet_calls) - before))" 1
t_rc 0 "apply puts both back" sh -c "cd '$FL' && $S apply --all specs --auto-approve"
t_rc 0 "converged" sh -c "cd '$FL' && $S plan --all specs --detailed-exitcode"
t_end

t_begin "refresh --all records a changed tag in each workspace's state with one DescribeSubnets"
tier() { $S state show aws_subnet.c --state "$(fst "$1")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attributes"]["tags"]["tier"])'; }
for w in 1 2 3; do
	hand get "ec2.create_tags(Resources=['$(fid $w aws_subnet.c)'], Tags=[{'Key': 'tier', 'Value': 'rogue$w'}])" >/dev/null
done
before=$(subnet_calls)
t_rc 2 "refresh --all updates the three states (--detailed-exitcode)" sh -c "cd '$FL' && $S refresh --all specs --auto-approve --detailed-exitcode"
t_eq "nine subnets of three workspaces read with one DescribeSubnets" "$(($(subnet_calls) - before))" 1
t_grep "each workspace's drift" "aws_subnet.c: tags changed outside secfaas" "$T_DIR/.out"
t_eq "three states updated" "$(grep -cE '^net[1-3] +1 +1 +0  state updated$' "$T_DIR/.out")" 3
t_eq "each state holds its workspace's live tag" "$(tier 1) $(tier 2) $(tier 3)" "rogue1 rogue2 rogue3"
t_rc 0 "no drift left" sh -c "cd '$FL' && $S plan --all specs --refresh-only --detailed-exitcode"
hand get "ec2.create_tags(Resources=['$(fid 2 aws_subnet.c)'], Tags=[{'Key': 'tier', 'Value': 'again'}])" >/dev/null
before=$(subnet_calls)
t_rc 2 "refresh of one workspace" $S refresh "$FL/specs/net2.yaml" --state "$(fst 2)" --auto-approve --detailed-exitcode
t_eq "writes what its plan read: still one DescribeSubnets" "$(($(subnet_calls) - before))" 1
t_eq "its state updated" "$(tier 2)" again
t_rc 2 "a plan puts the spec's tags back" sh -c "cd '$FL' && $S plan --all specs --detailed-exitcode"
t_rc 0 "apply" sh -c "cd '$FL' && $S apply --all specs --auto-approve"
t_rc 0 "converged" sh -c "cd '$FL' && $S plan --all specs --detailed-exitcode"
for w in 1 2 3; do
	t_rc 0 "destroy net$w" $S destroy "$FL/specs/net$w.yaml" --state "$(fst $w)" --auto-approve
done
t_end

t_begin "a fleet's IAM roles read from one account listing: a policy attached by hand and a name taken by someone else still seen, and per role when the listing is refused"
IF=$WORK/iamfleet
mkdir -p "$IF/specs"
for w in 1 2 3; do
	{
		printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: iam%s, region: eu-west-1}\nspec:\n  resources:\n' "$w"
		for r in a b c d e f; do
			printf '    - {type: aws_iam_role, name: %s, attributes: {name: fn-iam%s-%s, service: ec2.amazonaws.com}}\n' "$r" "$w" "$r"
		done
	} >"$IF/specs/iam$w.yaml"
done
iam_calls() { q '[calls["iam:GetAccountAuthorizationDetails"], calls["iam:GetRole"], calls["iam:ListRolePolicies"], calls["iam:ListAttachedRolePolicies"], calls["iam:ListRoleTags"]]' | tr -d ' '; }
delta() { python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(json.dumps([y-x for x,y in zip(a,b)]).replace(" ",""))' "$1" "$2"; }
t_rc 0 "apply three workspaces of six roles" sh -c "cd '$IF' && $S apply --all specs --auto-approve"
before=$(iam_calls)
t_rc 0 "refresh of the fleet: nothing changed" sh -c "cd '$IF' && $S plan --all specs --refresh-only --detailed-exitcode"
t_eq "eighteen roles read from one listing, no call per role" "$(delta "$before" "$(iam_calls)")" '[1,0,0,0,0]'
hand get "iam.attach_role_policy(RoleName='fn-iam2-c', PolicyArn='arn:aws:iam::aws:policy/AdministratorAccess')" >/dev/null
hand role-inline fn-iam3-a backdoor
hand get "iam.delete_role(RoleName='fn-iam1-f')" >/dev/null
hand get "iam.create_role(RoleName='fn-iam1-f', AssumeRolePolicyDocument='{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}', Tags=[{'Key':'secfaas:workspace','Value':'iam1'},{'Key':'secfaas:lineage','Value':'someone-else'},{'Key':'secfaas:address','Value':'aws_iam_role.f'}])" >/dev/null
before=$(iam_calls)
t_rc 2 "refresh of the fleet sees all three" sh -c "cd '$IF' && $S plan --all specs --refresh-only --detailed-exitcode"
t_grep "the attached policy" "aws_iam_role.c: policy_arns changed outside secfaas" "$T_DIR/.out"
t_grep "the inline policy" "aws_iam_role.a: unmanaged_inline_policies changed outside secfaas" "$T_DIR/.out"
t_grep "the taken name, proven from the listing's tags" "aws_iam_role.f: deleted outside secfaas; its name is now taken by" "$T_DIR/.out"
t_eq "still one listing" "$(delta "$before" "$(iam_calls)")" '[1,0,0,0,0]'
t_eq "in their own workspaces" "$(sed -n -E 's/^(iam[0-9]) +0 +0 +0  (.*)$/\1: \2;/p' "$T_DIR/.out" | tr -d '\n')" \
	"iam1: changed outside secfaas;iam2: changed outside secfaas;iam3: changed outside secfaas;"
curl -sf -X POST "$AWSSIM_URL/_awssim/faults" -d '{"operation": "iam:GetAccountAuthorizationDetails", "kind": "denied"}' >/dev/null
before=$(iam_calls)
t_rc 2 "the listing refused (least privilege): the same drift, read role by role" sh -c "cd '$IF' && SECFAAS_LOG=info $S plan --all specs --refresh-only --detailed-exitcode"
t_grep "the log says the listing was refused" "IAM: the account's role listing (GetAccountAuthorizationDetails) failed (" "$T_DIR/.err"
t_grep "and that each role was read by itself" "); each of the 18 roles is read by itself" "$T_DIR/.err"
t_grep "the attached policy" "aws_iam_role.c: policy_arns changed outside secfaas" "$T_DIR/.out"
t_grep "the inline policy" "aws_iam_role.a: unmanaged_inline_policies changed outside secfaas" "$T_DIR/.out"
t_grep "the taken name" "aws_iam_role.f: deleted outside secfaas; its name is now taken by" "$T_DIR/.out"
t_eq "asked once, then each role by itself" "$(delta "$before" "$(iam_calls)")" '[1,18,18,18,0]'
curl -sf -X DELETE "$AWSSIM_URL/_awssim/faults" >/dev/null
t_eq "the other owner's role untouched" "$(q "[r['tags']['secfaas:lineage'] for r in inv['iam:role'] if r['id']=='fn-iam1-f']")" '["someone-else"]'
hand get "iam.delete_role(RoleName='fn-iam1-f')" >/dev/null
t_rc 0 "apply removes what secfaas did not put there (and makes the deleted role again)" sh -c "cd '$IF' && $S apply --all specs --auto-approve"
t_eq "no policy left on the role" "$(q "[r['attachedPolicies'] for r in inv['iam:role'] if r['id']=='fn-iam2-c']")" '[[]]'
t_eq "no inline policy left" "$(q "[r['inlinePolicies'] for r in inv['iam:role'] if r['id']=='fn-iam3-a']")" '[[]]'
t_rc 0 "converged" sh -c "cd '$IF' && $S plan --all specs --detailed-exitcode"
for w in 1 2 3; do
	t_rc 0 "destroy iam$w" $S destroy "$IF/specs/iam$w.yaml" --state "$IF/.secfaas/iam$w.db" --auto-approve
done
t_end

t_begin "destroy"
t_rc 0 "destroy" $S destroy "$WORK/d.yaml" $ST --auto-approve
t_eq "inventory empty" "$(q 'sum(len(v) for v in inv.values())')" 0
t_end

finish
