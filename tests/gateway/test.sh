#!/bin/sh
# Outputs and verify with a LoadBalancer gateway, against the local AWS and
# Kubernetes: examples/functions.yaml with gatewayService: LoadBalancer.
# The simulated load balancer's DNS name (an AWS-style *.elb.amazonaws.com
# name) does not resolve here, so gateway_url and verify must reach the
# gateway through the node port the Service also has, and say so; secrets
# stay hidden in listings and are null in --json.
. "$SECFAAS_SRC/tests/lib.sh"
t_private_net "$0"
S=$SECFAAS
export NO_COLOR=1
sim_suite 0.001 0.001
WORK=$T_ROOT/work
mkdir -p "$WORK"
sed 's/gatewayService: NodePort/gatewayService: LoadBalancer/' "$SECFAAS_SRC/examples/functions.yaml" >"$WORK/fn.yaml"
ST="--state $WORK/fn.db"

t_begin "apply a cluster whose OpenFaaS gateway is a LoadBalancer Service"
t_ok "the spec asks for a load balancer" grep -q "gatewayService: LoadBalancer" "$WORK/fn.yaml"
t_rc 0 "apply" $S apply "$WORK/fn.yaml" $ST --auto-approve
t_end

t_begin "output: one value by name, --raw for scripts, secrets hidden in listings and null in --json"
t_rc 0 "raw gateway_url" $S output fn-functions $ST --raw gateway_url
url=$(cat .out)
case $url in
http://127.*:[0-9]*) ;;
*) t_fail "gateway_url is a loopback node address and port: \"$url\"" ;;
esac
t_eq "raw: no newline" "$(wc -l <.out | tr -d ' ')" 0
t_rc 0 "Terraform's spelling, -raw" $S output fn-functions $ST -raw gateway_url
t_eq "-raw gives the same" "$(cat .out)" "$url"
t_rc 0 "gateway_url by name" $S output fn-functions $ST gateway_url
t_grep "says how it reached the gateway" "does not resolve; using the node port" .err
t_ok "the gateway answers there" curl -sf -o /dev/null "$url/healthz"
t_rc 0 "listing" $S output fn-functions $ST
t_grep "endpoint" "cluster_endpoint   = https://" .out
t_grep "context" "kubeconfig_context = secfaas-fn-functions" .out
t_grep "gateway" "gateway_url        = $url" .out
t_grep "password hidden" "openfaas_password  = (sensitive value)" .out
t_rc 0 "json" $S output fn-functions $ST --json
cp .out out.json
t_ok "json: password null and marked sensitive, url present" python3 -c '
import json, sys
o = json.load(open("out.json"))
assert o["openfaas_password"] == {"value": None, "type": "string", "sensitive": True}, o["openfaas_password"]
assert o["gateway_url"]["value"] == sys.argv[1], o["gateway_url"]
assert o["openfaas_username"]["value"] == "admin"
' "$url"
t_rc 0 "raw password" $S output fn-functions $ST --raw openfaas_password
pw=$(cat .out)
t_ok "the password logs in" curl -sf -o /dev/null -u "admin:$pw" "$url/system/functions"
t_rc 1 "unknown output" $S output fn-functions $ST gateway_ulr
t_grep "did you mean" "did you mean \"gateway_url\"?" .err
t_rc 1 "--raw needs a name" $S output fn-functions $ST --raw
t_end

t_begin "verify reaches the LoadBalancer gateway through its node port and says so"
t_rc 0 "verify" $S verify fn-functions $ST
t_grep "note" "does not resolve; using the node port" .out
t_grep "passes" "verify: PASS" .out
cp .out "$WORK/verify.out"
t_end

# The applied spec closes every path twice: the functions' NetworkPolicies
# (enforced, since the vpc-cni add-on turns the network policy agent on)
# and hop limit 1 on every node group's launch template.
t_begin "verify proves isolation: a function reaches none of IMDS, the API, NATS, the webhook, another function; DNS answers"
for path in "IMDS token endpoint 169.254.169.254:80" "Kubernetes API" "NATS" "admission webhook" "another function's pod"; do
	t_ok "$path: one PASS line, the path closed" grep -qE "^  PASS  isolation: $path [^ ]* ?from a function: (dropped|refused|no-token) \(must fail\)$" "$WORK/verify.out"
done
t_ok "cluster DNS answers" grep -qE "^  PASS  isolation: allowed destination cluster DNS [0-9.]+:53 from a function: connected \(must succeed\)$" "$WORK/verify.out"
t_ok "the isolation probe ran under gVisor" grep -qE "^  PASS  pod secfaas-verify-[0-9a-f]+-net-[^ ]+: runtimeClassName gvisor$" "$WORK/verify.out"
for g in system sandbox; do
	t_ok "node group $g: hop limit 1" grep -qE "^  PASS  node credentials: node group $g-[0-9a-f]+ launch template lt-[0-9a-f]+ version [0-9]+: IMDSv2 required, hop limit 1 " "$WORK/verify.out"
done
t_end

t_begin "verify fails, naming the node group, when its launch template's hop limit is 2"
# a structured edit (the example's layout is fmt's to choose)
/usr/bin/python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
for g in d["spec"]["nodeGroups"]:
    if g.get("runtime") == "gvisor":
        g["metadata"] = {"hopLimit": 2}
yaml.safe_dump(d, open(sys.argv[2], "w"), sort_keys=False)' "$WORK/fn.yaml" "$WORK/fn-hop2.yaml"
t_ok "the spec asks for hop limit 2" grep -q "hopLimit: 2" "$WORK/fn-hop2.yaml"
t_rc 0 "apply hop limit 2" $S apply "$WORK/fn-hop2.yaml" $ST --auto-approve
t_grep "the launch template changes" "hop_limit" .out
t_rc 1 "verify" $S verify fn-functions $ST
cp .out "$WORK/verify.out"
t_ok "names the group and the hop limit" grep -qE "^  FAIL  node credentials: node group sandbox-[0-9a-f]+ launch template lt-[0-9a-f]+ version [0-9]+: IMDSv2 required, hop limit 2 " "$WORK/verify.out"
t_ok "the other group still passes" grep -qE "^  PASS  node credentials: node group system-[0-9a-f]+ launch template lt-[0-9a-f]+ version 1: IMDSv2 required, hop limit 1 " "$WORK/verify.out"
t_grep "fails" "verify: FAIL (1 of" "$WORK/verify.out"
t_rc 0 "apply the spec again" $S apply "$WORK/fn.yaml" $ST --auto-approve
t_rc 0 "verify passes again" $S verify fn-functions $ST
t_end

# gatewayLoadBalancer: who may reach the gateway's load balancer.  The
# local AWS's classic load balancer carries what the cloud provider makes of
# the Service: its scheme, and its group's rules (the Service's port from
# each source range).
t_begin "the gateway's load balancer: source ranges update it in place, the internal scheme replaces it"
# lb EXPR: evaluate EXPR over the one load balancer `l` and its group's ingress `rules` ("port cidr" strings)
lb() {
	/usr/bin/python3 - "$AWSSIM_URL" "$1" <<'P'
import json, os, sys, urllib.request
import botocore.session
s = botocore.session.get_session()
r = os.environ.get("AWS_REGION")
elb = s.create_client("elb", endpoint_url=sys.argv[1], region_name=r)
ec2 = s.create_client("ec2", endpoint_url=sys.argv[1], region_name=r)
ls = elb.describe_load_balancers()["LoadBalancerDescriptions"]
assert len(ls) == 1, ls
l = ls[0]
rules = sorted("%s %s" % (p["FromPort"], c["CidrIp"]) for g in ec2.describe_security_groups(GroupIds=l["SecurityGroups"])[
    "SecurityGroups"] for p in g["IpPermissions"] for c in p["IpRanges"])
print(json.dumps(eval(sys.argv[2])))
P
}
t_rc 0 "validate: a load balancer open to the internet" $S validate "$WORK/fn.yaml"
t_grep "warned" "the gateway takes its login (basic auth over plain HTTP) from any address on the internet" .err
t_eq "internet-facing, port 8080 from anywhere" "$(lb '[l["Scheme"], rules]')" '["internet-facing", ["8080 0.0.0.0/0"]]'
name0=$(lb 'l["LoadBalancerName"]')
/usr/bin/python3 - "$WORK/fn.yaml" "$WORK" <<'P'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
of = d["spec"]["openfaas"]
def write(name):
    yaml.safe_dump(d, open("%s/%s.yaml" % (sys.argv[2], name), "w"), sort_keys=False)
of["gatewayLoadBalancer"] = {"sourceRanges": ["203.0.113.0/24", "198.51.100.0/24"]}
write("fn-ranges")
of["gatewayLoadBalancer"]["scheme"] = "internal"
write("fn-internal")
of["gatewayLoadBalancer"]["sourceRanges"] = ["203.0.113.7/24"]
write("fn-hostbits")
of["gatewayService"] = "NodePort"
of["gatewayLoadBalancer"]["sourceRanges"] = ["203.0.113.0/24"]
write("fn-nodeport")
P
t_rc 1 "validate refuses a range with host bits" $S validate "$WORK/fn-hostbits.yaml"
t_ok "the range, by position" grep -qE "fn-hostbits.yaml:[0-9]+:[0-9]+: error: spec.openfaas.gatewayLoadBalancer.sourceRanges\[0\]: \"203.0.113.7/24\" has host bits set" .err
t_rc 1 "validate refuses a load balancer setting on a NodePort gateway" $S validate "$WORK/fn-nodeport.yaml"
t_ok "the setting, by position" grep -qE "fn-nodeport.yaml:[0-9]+:[0-9]+: error: spec.openfaas.gatewayLoadBalancer: applies to gatewayService: LoadBalancer \(the gateway is NodePort\)" .err
t_rc 0 "plan source ranges" $S plan "$WORK/fn-ranges.yaml" $ST
t_grep "an update in place" "~ k8s_manifest.of_service_openfaas_gateway_external" .out
t_nogrep "no warning with ranges" "from any address on the internet" .err
t_rc 0 "apply source ranges" $S apply "$WORK/fn-ranges.yaml" $ST --auto-approve
# the cloud provider brings the rules in line a moment after the Service changes
t_eq "port 8080 from the two ranges only, the same load balancer" \
	"$(i=0; until [ "$(lb 'len(rules)')" = 2 ] || [ $i -ge 300 ]; do i=$((i + 1)); done; lb '[l["LoadBalancerName"], l["Scheme"], rules]')" \
	"[$name0, \"internet-facing\", [\"8080 198.51.100.0/24\", \"8080 203.0.113.0/24\"]]"
t_rc 0 "plan internal" $S plan "$WORK/fn-internal.yaml" $ST
t_grep "replaced: the scheme is read only when the load balancer is made" "-/+ k8s_manifest.of_service_openfaas_gateway_external" .out
t_rc 0 "apply internal" $S apply "$WORK/fn-internal.yaml" $ST --auto-approve
# lb sees exactly one load balancer: the old one is gone
t_eq "an internal load balancer with the same rules" \
	"$(lb '[l["Scheme"], l["DNSName"].startswith("internal-"), rules]')" \
	'["internal", true, ["8080 198.51.100.0/24", "8080 203.0.113.0/24"]]'
t_ok "a new one: the old was deleted" test "$(lb 'l["LoadBalancerName"]')" != "$name0"
t_rc 0 "verify an internal gateway (here through its node port)" $S verify fn-functions $ST
t_grep "says it is internal" "the load balancer is internal: reachable only from the VPC and what is routed to it" .out
t_grep "passes" "verify: PASS" .out
t_rc 0 "converged" $S plan "$WORK/fn-internal.yaml" $ST --detailed-exitcode
t_rc 0 "back to the open spec" $S apply "$WORK/fn.yaml" $ST --auto-approve
t_eq "internet-facing again, port 8080 from anywhere" "$(lb '[l["Scheme"], rules]')" '["internet-facing", ["8080 0.0.0.0/0"]]'
t_end

t_begin "destroy"
t_rc 0 "destroy" $S destroy "$WORK/fn.yaml" $ST --auto-approve
t_grep "destroy wording" "Destroy complete!" .out
t_end

finish
