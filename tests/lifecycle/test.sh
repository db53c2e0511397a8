#!/bin/sh
# Cluster lifecycle against the local AWS (tests/awssim) and the Kubernetes
# simulator it starts for the cluster: the Kubernetes version's support as
# EKS reports it (plan warns for extended support, refuses a new cluster on
# a version out of support), upgrades one minor version per apply with the
# control plane first, then the add-ons (to EKS's default for the new
# version, or a pinned one), then every node group (the runc group through
# its version, the gVisor group through a re-baked image and a new launch
# template version), OpenFaaS functions running under gVisor between the
# steps, a skip of two minors refused at plan time, a kill -9 while the
# node groups roll resumed by the next apply, and a desired size chosen by
# an autoscaler that is not planned back.  The cluster runs the cluster
# autoscaler (spec.autoscaler): its role with its inline policy, its Pod
# Identity association and its Deployment (read through kubectl from the
# Kubernetes simulator), whose image moves with each upgrade step.
# Every expectation is read from the simulator (inventory, node groups,
# call counters), not from secfaas state.  awssim runs with --timescale
# 0.001 and secfaas with SECFAAS_POLL_SCALE=0.001.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
sim_suite 0.001 0.001
Q="$SECFAAS_SRC/tests/eks/q.py"
q() { /usr/bin/python3 "$Q" "$AWSSIM_URL" "$1"; }
eks() { /usr/bin/python3 "$SECFAAS_SRC/tests/lifecycle/eks_call.py" "$AWSSIM_URL" "$@"; }
# The support status the simulator's calendar gives a version on its clock.
status_of() {
	/usr/bin/python3 -c 'import json, sys, urllib.request
sys.path.insert(0, sys.argv[1])
from awssimlib import eks_catalog
now = json.load(urllib.request.urlopen(sys.argv[2] + "/_awssim/clock"))["epoch"]
print(eks_catalog.status(sys.argv[3], now))' "$SECFAAS_SRC/tests/awssim" "$AWSSIM_URL" "$1"
}
WORK=$T_ROOT/work
mkdir -p "$WORK"
ST="--state $WORK/state.db"

# spec VERSION [SANDBOX_MAX [ADDONS]]
spec() {
	cat >"$WORK/c.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: fn-life, region: eu-west-1}
spec:
  kubernetesVersion: "$1"
  network: {cidr: 10.40.0.0/16, availabilityZones: 2}
  gvisor: {release: "20250113.0"}
  nodeGroups:
    - name: system
      instanceTypes: [m6i.large]
      scaling: {min: 2, max: 4}
      updateConfig: {maxUnavailable: 1}
    - name: sandbox
      runtime: gvisor
      instanceTypes: [m6i.xlarge]
      scaling: {min: 1, max: ${2:-10}, desired: 2}
  openfaas: {acceptLicense: true}
${3:-}
  autoscaler: cluster-autoscaler
Y
}
# The cluster autoscaler as the simulators hold it: its Deployment's image
# (through kubectl and the kubeconfig secfaas writes), its role's inline
# policy and its Pod Identity association.
kc() { /usr/bin/kubectl --kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/kcache" "$@"; }
ca_image() {
	kc get deployment -n kube-system cluster-autoscaler -o jsonpath='{.spec.template.spec.containers[0].image}'
}
ca_want() { echo "registry.k8s.io/autoscaling/cluster-autoscaler:$1"; }
ca_policy() {
	eks iam:GetRolePolicy '{"RoleName": "fn-life-autoscaler", "PolicyName": "cluster-autoscaler"}' |
		/usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)["PolicyDocument"]
s = {x["Sid"]: x for x in d["Statement"]}
print(sorted(s["ScaleThisCluster"]["Action"]), s["ScaleThisCluster"]["Condition"]["StringEquals"]["aws:ResourceTag/k8s.io/cluster-autoscaler/fn-life"], "eks:DescribeNodegroup" in s["Discover"]["Action"])'
}
ca_association() {
	q '[(a["serviceAccount"], a["roleArn"].rsplit("/", 1)[-1]) for a in inv["eks:pod-identity-association"] if a["id"].startswith("fn-life/") and a["serviceAccount"].endswith("/cluster-autoscaler")]'
}
cluster_version() {
	eks DescribeCluster '{"name": "fn-life"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster"]["version"])'
}
group() { q "[g[\"$2\"] for g in ngs(\"fn-life\") if g[\"name\"].startswith(\"$1-\")]"; }
# The add-on versions the cluster runs, and EKS's defaults for a version.
addons_live() { q '{a["name"]: a["version"] for a in addons("fn-life")["addons"]}'; }
addons_default() {
	eks DescribeAddonVersions "{\"kubernetesVersion\": \"$1\"}" | /usr/bin/python3 -c 'import json, sys
k8s, names = sys.argv[1], ("coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni")
print(json.dumps({a["addonName"]: [v["addonVersion"] for v in a["addonVersions"] for c in v["compatibilities"]
                  if c["clusterVersion"] == k8s and c["defaultVersion"]][0]
                  for a in json.load(sys.stdin)["addons"] if a["addonName"] in names}, sort_keys=True))' "$1"
}
# Line of the first apply output line matching $1 (0 if none).
line_of() { n=$(grep -n -- "$1" apply.out | head -n 1 | cut -d: -f1); echo "${n:-0}"; }
before() { # what, first, second: both in apply.out (an apply's output), first earlier
	a=$(line_of "$2")
	b=$(line_of "$3")
	if [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$a" -lt "$b" ]; then t_ok "$1" true; else t_fail "$1 (\"$2\" at line $a, \"$3\" at line $b)"; fi
}
# A function deployed through the gateway that must keep running, and
# `secfaas verify`: a new function lands in gVisor on a gVisor node.
gw() { $S output fn-life $ST --raw "$1" 2>/dev/null; }
fn_ready() { # name: 1 when the gateway reports an available replica
	curl -sf -u "admin:$(gw openfaas_password)" "$(gw gateway_url)/system/function/$1?namespace=openfaas-fn" |
		/usr/bin/python3 -c 'import json, sys; print(1 if json.load(sys.stdin).get("availableReplicas", 0) >= 1 else 0)'
}
functions_run_in_gvisor() {
	i=0
	while [ "$(fn_ready keeper 2>/dev/null)" != 1 ] && [ $i -lt 3000 ]; do i=$((i + 1)); done
	t_eq "the function deployed before keeps running" "$(fn_ready keeper)" 1
	t_rc 0 "verify: a new function runs under gVisor" $S verify fn-life $ST
	t_grep "verify passes" "verify: PASS" .out
}

# ------------------------------------------------------------ versions from EKS
t_begin "a version out of EKS support is refused at plan time for a new cluster"
spec 1.30
t_eq "the simulator's calendar has 1.30 out of support" "$(status_of 1.30)" UNSUPPORTED
t_rc 1 "plan refuses" $S plan "$WORK/c.yaml" $ST
t_grep "says why" "eks_cluster.main: Kubernetes 1.30 is out of EKS support; EKS creates no new clusters on it" .err
t_eq "nothing created" "$(q 'sum(len(v) for v in inv.values())')" 0
t_end

t_begin "plan warns when the version is in extended support (cost), with the end day and the next version"
spec 1.34
st34=$(status_of 1.34)
t_rc 2 "plan" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
if [ "$st34" = EXTENDED_SUPPORT ]; then
	t_grep "warning block" "Warnings:" .out
	t_grep "extended support and its cost" "eks_cluster.main: Kubernetes 1.34 is in EKS extended support since 2026-12-02 (an extra charge per cluster hour)" .out
	t_grep "next version" "next 1.35" .out
	t_rc 0 "plan --json" $S plan "$WORK/c.yaml" $ST --json
	t_eq "json warnings" "$(/usr/bin/python3 -c 'import json,sys; print([w["address"] for w in json.load(open(sys.argv[1]))["warnings"]])' .out)" "['eks_cluster.main']"
else
	t_nogrep "no warning in standard support" "extended support" .out
fi
t_eq "DescribeClusterVersions was asked" "$(q 'calls["eks:DescribeClusterVersions"] > 0')" true
t_end

t_begin "a version in standard support plans without a warning"
spec 1.36
t_eq "1.36 is in standard support" "$(status_of 1.36)" STANDARD_SUPPORT
t_rc 2 "plan" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_nogrep "no warning" "Warnings:" .out
t_end

# ------------------------------------------------------------ upgrades
t_begin "apply 1.34 with a runc and a gVisor group"
spec 1.34
t_rc 0 "apply" $S apply "$WORK/c.yaml" $ST --auto-approve
cp .out apply.out
# a new cluster: coredns with the other add-ons, while the node groups come up
before "coredns created before the runc group is up" "eks_addon.coredns: Creating" "eks_nodegroup.system: Creation complete"
t_eq "coredns ACTIVE" "$(q '[a["status"] for a in addons("fn-life")["addons"] if a["name"] == "coredns"]')" '["ACTIVE"]'
t_eq "cluster on 1.34" "$(cluster_version)" 1.34
t_eq "runc group on 1.34" "$(group system version)" '["1.34"]'
t_eq "gVisor group on 1.34" "$(group sandbox version)" '["1.34"]'
t_eq "add-ons on EKS's defaults for 1.34" "$(addons_live)" "$(addons_default 1.34)"
t_eq "the autoscaler's association" "$(ca_association)" '[["kube-system/cluster-autoscaler", "fn-life-autoscaler"]]'
t_eq "the autoscaler's role holds its policy, scoped to this cluster's groups" "$(ca_policy)" \
	"['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'] owned True"
t_rc 0 "kubeconfig" $S kubeconfig fn-life $ST --kubeconfig "$WORK/kubeconfig"
t_eq "the autoscaler runs the image of Kubernetes 1.34" "$(ca_image)" "$(ca_want v1.34.2)"
node=$(kc get pods -n kube-system -l app.kubernetes.io/name=cluster-autoscaler -o jsonpath='{.items[0].spec.nodeName}')
t_ok "its pod is on a node" [ -n "$node" ]
kc get node "$node" -o json >node.json
t_nogrep "a runc node, not a gVisor one" "secfaas.dev/sandbox" node.json
t_rc 0 "converged" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_ok "deploy a function" curl -sf -o /dev/null -u "admin:$(gw openfaas_password)" -d '{"service": "keeper", "image": "ghcr.io/openfaas/alpine:3.20", "envProcess": "cat"}' "$(gw gateway_url)/system/functions"
functions_run_in_gvisor
t_end

t_begin "skipping a minor version is refused at plan time, with the way forward"
spec 1.36
calls=$(q 'calls["eks:UpdateClusterVersion"]')
t_rc 1 "plan refuses" $S plan "$WORK/c.yaml" $ST
t_grep "says why" "eks_cluster.main: Kubernetes 1.34 -> 1.36 skips 1 minor version; EKS upgrades one at a time" .err
t_grep "says what to do" 'set kubernetesVersion: "1.35" and apply' .err
t_rc 1 "apply refuses too" $S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "no upgrade was asked for" "$(q 'calls["eks:UpdateClusterVersion"]')" "$calls"
t_end

t_begin "1.34 -> 1.35: control plane, add-ons, then the runc group's version and the gVisor group's new image"
spec 1.35
t_rc 2 "plan" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_grep "control plane" '~ eks_cluster.main' .out
t_grep "add-ons follow" '~ eks_addon.kube_proxy' .out
t_grep "runc group follows" '"1.34" -> "1.35"' .out
t_grep "a new image for the gVisor group" "aws_gvisor_ami.gvisor_x86_64" .out
t_grep "gVisor group rolls" "~ eks_nodegroup.sandbox" .out
t_nogrep "no warning in standard support" "Warnings:" .out
# the numbered steps above the changes (golden: tests/lifecycle/upgrade-steps.txt)
sed -n '/^Upgrade of Kubernetes/,/^$/p' .out >steps.txt
if [ -n "${UPDATE_GOLDEN:-}" ]; then cp steps.txt "$SECFAAS_SRC/tests/lifecycle/upgrade-steps.txt"; fi
t_ok "plan shows the upgrade as numbered steps" diff -u "$SECFAAS_SRC/tests/lifecycle/upgrade-steps.txt" steps.txt
t_rc 0 "apply" $S apply "$WORK/c.yaml" $ST --auto-approve
cp .out apply.out
t_eq "cluster on 1.35" "$(cluster_version)" 1.35
t_eq "runc group on 1.35" "$(group system version)" '["1.35"]'
t_eq "runc group on the 1.35 AMI release" "$(q '[g["releaseVersion"].startswith("1.35") for g in ngs("fn-life") if g["name"].startswith("system-")]')" '[true]'
t_eq "gVisor group on 1.35" "$(group sandbox version)" '["1.35"]'
t_eq "gVisor group on template version 2" "$(q '[g["launchTemplate"]["version"] for g in ngs("fn-life") if g["name"].startswith("sandbox-")]')" '["2"]'
t_eq "every node runs its group's new image" "$(q 'all(i["imageId"] == ([g for g in ngs("fn-life") if g["name"].startswith("sandbox-")][0]["releaseVersion"]) for g in ngs("fn-life") if g["name"].startswith("sandbox-") for i in g["instances"])')" true
t_eq "same node groups (no replacement)" "$(q 'n("eks:nodegroup")')" 2
t_eq "add-ons on EKS's defaults for 1.35" "$(addons_live)" "$(addons_default 1.35)"
t_ok "kube-proxy moved" [ "$(q '[a["version"] for a in addons("fn-life")["addons"] if a["name"] == "kube-proxy"][0]')" != "$(addons_default 1.34 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["kube-proxy"])')" ]
before "control plane before the add-ons" "eks_cluster.main: Modifications complete" "eks_addon.kube_proxy: Modifying"
before "add-ons before the runc group" "eks_addon.kube_proxy: Modifications complete" "eks_nodegroup.system: Modifying"
before "add-ons before the gVisor group" "eks_addon.kube_proxy: Modifications complete" "eks_nodegroup.sandbox: Modifying"
before "coredns after the runc group (an upgrade moves the nodes first)" "eks_nodegroup.system: Modifications complete" "eks_addon.coredns: Modifying"
before "control plane before the autoscaler" "eks_cluster.main: Modifications complete" "k8s_manifest.autoscaler_deployment: Modifying"
t_eq "the autoscaler moved to the image of Kubernetes 1.35" "$(ca_image)" "$(ca_want v1.35.0)"
functions_run_in_gvisor
t_rc 0 "converged" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_end

t_begin "1.35 -> 1.36 killed while the node groups roll; the next apply resumes"
spec 1.36
sim_kill_during eks:UpdateNodegroupVersion '{"operation":"eks:UpdateNodegroupVersion","kind":"latency","ms":20000}' \
	$S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "the control plane had moved" "$(cluster_version)" 1.36
t_rc 0 "re-apply" $S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "runc group on 1.36" "$(group system version)" '["1.36"]'
t_eq "gVisor group on 1.36" "$(group sandbox version)" '["1.36"]'
t_eq "node groups active" "$(group system status) $(group sandbox status)" '["ACTIVE"] ["ACTIVE"]'
t_eq "two node groups, two images at most" "$(q 'n("eks:nodegroup")')" 2
t_eq "add-ons on EKS's defaults for 1.36" "$(addons_live)" "$(addons_default 1.36)"
t_eq "the autoscaler on the image of Kubernetes 1.36" "$(ca_image)" "$(ca_want v1.36.0)"
functions_run_in_gvisor
t_rc 0 "converged" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_end

t_begin "a pinned add-on version: refused at plan time when EKS does not offer it, applied when it does"
kp_calls=$(q 'calls["eks:UpdateAddon"]')
spec 1.36 10 "  addons:
    kube-proxy: {version: v1.35.0-eksbuild.1}"
t_rc 1 "plan refuses a version EKS does not offer for 1.36" $S plan "$WORK/c.yaml" $ST
t_grep "where and why" "c.yaml:19:27: error: eks_addon.kube_proxy: add-on kube-proxy v1.35.0-eksbuild.1 is not offered for Kubernetes 1.36" .err
older=$(eks DescribeAddonVersions '{"kubernetesVersion": "1.36", "addonName": "kube-proxy"}' | /usr/bin/python3 -c 'import json, sys
vs = [v["addonVersion"] for v in json.load(sys.stdin)["addons"][0]["addonVersions"] if not any(c["defaultVersion"] for c in v["compatibilities"] if c["clusterVersion"] == "1.36")]
print(vs[0])')
spec 1.36 10 "  addons:
    kube-proxy: {version: $older}"
t_rc 2 "plan" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_grep "the pin shows" "addon_version" .out
t_rc 0 "apply" $S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "kube-proxy on the pinned version" "$(q '[a["version"] for a in addons("fn-life")["addons"] if a["name"] == "kube-proxy"][0]')" "$older"
t_eq "one add-on update" "$(q 'calls["eks:UpdateAddon"]')" "$((kp_calls + 1))"
t_rc 0 "converged" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_end

# ------------------------------------------------------------ autoscaler
t_begin "a desired size changed by an autoscaler is not planned back"
sandbox=$(q '[g["name"] for g in ngs("fn-life") if g["name"].startswith("sandbox-")][0]')
t_ok "autoscaler scales the gVisor group to 5" eks UpdateNodegroupConfig \
	"{\"clusterName\": \"fn-life\", \"nodegroupName\": \"$sandbox\", \"scalingConfig\": {\"desiredSize\": 5}}"
# the config update settles on the simulator's clock (timescale 0.001)
i=0
while [ "$(group sandbox status)" != '["ACTIVE"]' ] && [ $i -lt 3000 ]; do i=$((i + 1)); done
t_eq "5 in AWS" "$(q '[g["scaling"]["desiredSize"] for g in ngs("fn-life") if g["name"].startswith("sandbox-")]')" '[5]'
t_rc 0 "no changes" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_nogrep "no drift either" "desired_size" .out
t_end

t_begin "raising max keeps the autoscaler's size; changing desired in the spec applies it"
spec 1.36 12
t_rc 2 "plan" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_grep "max changes" 'max_size' .out
t_nogrep "desired untouched" 'desired_size' .out
t_rc 0 "apply" $S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "still 5 in AWS, max 12" "$(q '[(g["scaling"]["desiredSize"], g["scaling"]["maxSize"]) for g in ngs("fn-life") if g["name"].startswith("sandbox-")]')" '[[5, 12]]'
sed -i 's/desired: 2}/desired: 4}/' "$WORK/c.yaml"
t_rc 2 "plan shows the spec's change" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_grep "desired 2 -> 4" '2 -> 4' .out
t_rc 0 "apply" $S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "4 in AWS" "$(q '[g["scaling"]["desiredSize"] for g in ngs("fn-life") if g["name"].startswith("sandbox-")]')" '[4]'
t_rc 0 "converged" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_end

t_begin "the autoscaler role's policy widened by hand, and one added, are drift that apply reverts"
t_ok "widen its policy" eks iam:PutRolePolicy '{"RoleName": "fn-life-autoscaler", "PolicyName": "cluster-autoscaler", "PolicyDocument": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"autoscaling:*\", \"Resource\": \"*\"}]}"}'
t_ok "add another" eks iam:PutRolePolicy '{"RoleName": "fn-life-autoscaler", "PolicyName": "extra", "PolicyDocument": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"ec2:*\", \"Resource\": \"*\"}]}"}'
t_rc 2 "plan shows it" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_grep "the role changes" "~ aws_iam_role.autoscaler" .out
t_grep "its policy" "inline_policies" .out
t_grep "the extra one" "unmanaged_inline_policies" .out
t_rc 0 "apply" $S apply "$WORK/c.yaml" $ST --auto-approve
t_eq "the policy is the autoscaler's again" "$(ca_policy)" \
	"['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'] owned True"
t_eq "the extra one is gone" "$(eks iam:ListRolePolicies '{"RoleName": "fn-life-autoscaler"}' | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["PolicyNames"])')" "['cluster-autoscaler']"
t_rc 0 "converged" $S plan "$WORK/c.yaml" $ST --detailed-exitcode
t_end

t_begin "destroy leaves the inventory empty"
t_rc 0 "destroy" $S destroy "$WORK/c.yaml" $ST --auto-approve
t_grep "the autoscaler's role went" "aws_iam_role.autoscaler: Destruction complete" .out
t_grep "its association went" "eks_pod_identity_association.autoscaler: Destruction complete" .out
cp .out apply.out
# a LoadBalancer gateway's load balancer goes with its Service, before the nodes
before "the gateway's Service before the runc group" "k8s_manifest.of_service_openfaas_gateway_external: Destruction complete" \
	"eks_nodegroup.system: Destroying"
t_eq "inventory empty (left: $(q "{k: len(v) for k, v in inv.items() if v}"))" "$(q 'sum(len(v) for v in inv.values())')" 0
t_end

finish
