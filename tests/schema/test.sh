#!/bin/sh
# `secfaas schema` against `secfaas validate`: the JSON Schema is a valid
# draft 2020-12 schema; every example validates under both; every case of
# the bad-input table (tests/unit/test_spec.c, written out by test_spec) is
# rejected by validate and, unless listed below as beyond what a JSON
# Schema can say, by the schema too.  Uses Debian's python3-jsonschema.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
PY=/usr/bin/python3

# Cases the JSON Schema cannot express, and why (anything else in the table
# must be rejected by the schema).
beyond='syntax|YAML syntax, before any JSON
duplicate key|YAML-level: a parser keeps one value
alias|YAML-level: aliases are resolved before any schema
host bits|CIDR arithmetic (address bits beyond the prefix)
public cidr host bits|CIDR arithmetic (address bits beyond the prefix)
function egress cidr|CIDR arithmetic (address bits beyond the prefix)
overlap|CIDR arithmetic (two networks compared)
duplicate node groups|JSON Schema has no uniqueness of one property across items
scaling order|JSON Schema has no bound relative to another field
function limits default over max|quantities with units compared by value
guard namespace in a stack|a Stack resource type checks its attributes in code (the type'"'"'s validate), and a value may be a ${reference} resolved at apply
guard image in a stack|a Stack resource type checks its attributes in code (the type'"'"'s validate), and a value may be a ${reference} resolved at apply
mirror of an image in a stack|a Stack resource type checks its attributes in code (the type'"'"'s validate), and a value may be a ${reference} resolved at apply
subnet listed twice|JSON Schema has no uniqueness across two arrays (private and public)'

cat >"$T_ROOT/check.py" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    except yaml.YAMLError as e:
        print("%s: REJECTED (YAML: %s)" % (path, str(e).splitlines()[0]))
        continue
    errs = [e for d in docs for e in v.iter_errors(json.loads(json.dumps(d, default=str)))]
    # where: the deepest path an error names (inside anyOf/oneOf too), as
    # validate writes it: spec.nodeGroups[0].name
    def leaves(e):
        return [l for c in e.context for l in leaves(c)] if e.context else [e]
    where = ""
    for e in errs:
        for l in leaves(e):
            p = "".join("[%d]" % x if isinstance(x, int) else "." + x for x in l.absolute_path).lstrip(".")
            if len(p) > len(where):
                where = p
    print("%s: %s%s" % (path, "REJECTED at " + (where or "(root)") if errs else "ACCEPTED",
                        (" (" + errs[0].message[:120] + ")") if errs else ""))
PY

t_begin "secfaas schema is a valid draft 2020-12 JSON Schema"
t_rc 0 "schema" $S schema
cp .out schema.json
t_ok "meta-schema check" $PY "$T_ROOT/check.py" schema.json
t_grep "from the kind table" '"Cluster"' schema.json
t_grep "field docs" '"description": "managed node groups"' schema.json
t_end

t_begin "every example validates under validate and under the schema"
for f in "$SECFAAS_SRC"/examples/*.yaml; do
	t_rc 0 "validate $(basename "$f")" env SECFAAS_MODULE_PATH="$SECFAAS_SRC/modules" $S validate "$f"
done
$S schema >schema.json
$PY "$T_ROOT/check.py" schema.json "$SECFAAS_SRC"/examples/*.yaml >res.txt 2>&1
t_eq "examples accepted" "$(grep -c ': ACCEPTED' res.txt)" "$(ls "$SECFAAS_SRC"/examples/*.yaml | wc -l)"
grep -v ': ACCEPTED' res.txt | sed 's/^/    | /'
t_end

t_begin "tags, admin ARNs, CIDRs, names, labels, releases, AMIs and instance types validate accepts, the schema accepts too"
cat >edge.yaml <<'YAML'
apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata:
  name: a234567890123456789012345678901234567890123456789012
  region: eu-west-1
  tags: {"équipe": "plate-forme @ Zürich", "k8s.io/role": "a+b=c", "Team Name": "", "n": 7, "AWSx": "y", "x:aws:": "z"}
spec:
  kubernetesVersion: "1.35"
  network: {cidr: 10.40.0.0/24, serviceCidr: 172.16.0.0/12, endpointAccess: public-and-private, publicAccessCidrs: [203.0.113.0/24, 0.0.0.0/0, 010.1.0.0/16]}
  gvisor: {release: "20181231", sha512: 0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large, c7i-flex.2xlarge], scaling: {min: 1, max: 2},
       labels: {a.b-c/x_Y.z: "", "Z9": V-1_2.3, "example.com/role": "9"}}
    - {name: sandbox, runtime: gvisor, ami: ami-0123abcd, instanceTypes: [m7g.xlarge], scaling: {min: 1, max: 2}}
  access:
    admins: ["arn:aws:iam::123456789012:role/teams/platform/ops", "arn:aws-cn:iam::123456789012:user/a.b@c", "arn:aws:iam::123456789012:role/ops"]
YAML
t_rc 0 "validate accepts the edge cases" $S validate edge.yaml
$S schema >schema.json
$PY "$T_ROOT/check.py" schema.json edge.yaml >res.txt 2>&1
t_grep "the schema accepts them" "edge.yaml: ACCEPTED" res.txt
t_end

t_begin "validate and the schema agree on each value, both ways (image references, mirrors, quantities, add-on versions, egress, architectures, versions, the licence, taints, NAT, a group CoreDNS can run on)"
# field|value (YAML flow)|expected: every line becomes one document from a
# valid base; validate and the schema must both accept or both refuse it.
cat >values.txt <<'VALUES'
webhookImage|python:3.13-alpine|ok
webhookImage|docker.io/library/python:3.13@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef|ok
webhookImage|"localhost:5000/a__b/c--d.e_f:v1"|ok
webhookImage|"[::1]:5000/x/y"|ok
webhookImage|"Registry.Example/x"|ok
webhookImage|"a.b/c"|ok
webhookImage|"a.b"|ok
webhookImage|"a b"|bad
webhookImage|"Python:3"|bad
webhookImage|"a_b.c/d"|bad
webhookImage|"x:-tag"|bad
webhookImage|"x@sha256:abc"|bad
webhookImage|"reg.example:123456/x"|bad
webhookImage|"-a.example/x"|bad
mirror|"https://m.example/gvisor/releases"|ok
mirror|"https://m.example:8443/g"|ok
mirror|"https://m.example:008443/g"|ok
mirror|"http://127.0.0.1:8080/g"|ok
mirror|"http://localhost/g"|ok
mirror|"https://m.example"|ok
mirror|"http://localhost.example/g"|bad
mirror|"http://127.0.0.1a/g"|bad
mirror|"ftp://m.example/g"|bad
mirror|"https://m.example:0/g"|bad
mirror|"https://m.example:65536/g"|bad
mirror|"https://m.example:0000080/g"|bad
mirror|"https://m.example/g?x=1"|bad
mirror|"https://m.example/g#f"|bad
mirror|"https://user@m.example/g"|bad
mirror|"https://.m.example/g"|bad
mirror|"http://mirror.example/g"|bad
tablemirror|"http://mirror.example/g"|ok
tablemirror|"http://mirror.example/g?x"|bad
cpu|"500m"|ok
cpu|2|ok
cpu|"1.5"|ok
cpu|"1e3"|ok
cpu|"256Mi"|ok
cpu|"2Gi "|bad
cpu|"0x10"|bad
cpu|"1e3Mi"|bad
cpu|"-1"|bad
cpu|"1Pi"|bad
vpc-cni|"v1.21.1-eksbuild.1"|ok
vpc-cni|"v1.21.1"|bad
vpc-cni|"v-1.21.1-eksbuild.1"|bad
vpc-cni|"v1.21.1-eksbuild.1 "|bad
kube-proxy|"v1.28.15-eksbuild.4"|ok
kube-proxy|"v1.31.0-eksbuild.1"|ok
kube-proxy|"v01.031.0-eksbuild.1"|ok
kube-proxy|"v1.27.0-eksbuild.1"|bad
kube-proxy|"v2.31.0-eksbuild.1"|bad
functionEgress|none|ok
functionEgress|internet|ok
functionEgress|[10.0.0.0/8, 192.168.0.0/16]|ok
functionEgress|[]|ok
functionEgress|null|ok
functionEgress|[internet]|bad
functionEgress|{cidr: 10.0.0.0/8}|bad
functionEgress|10.0.0.0/8|bad
instanceTypes|[m6g.large, c7gn.xlarge, t4g.small]|ok
instanceTypes|[m6i.large, c7i-flex.2xlarge, m6a.large, a1.large]|ok
instanceTypes|[m6i.large, t4g.small]|bad
instanceTypes|[a1.large, m6g.large]|bad
groupVersion|"1.31"|ok
groupVersion|"1.30"|ok
groupVersion|"1.29"|ok
groupVersion|"1.32"|bad
groupVersion|null|ok
release|"1.30.9-20261120"|ok
release|"1.3.9-20261120"|bad
licence|{acceptLicense: true}|ok
licence|{enabled: false}|ok
licence|{enabled: false, acceptLicense: false}|ok
licence|{enabled: true, acceptLicense: false}|bad
licence|{}|bad
taint|{key: kubernetes.io/arch, value: arm64, effect: NoSchedule}|ok
taint|{key: a.b/c_d, effect: NoExecute}|ok
taint|{key: k, value: "", effect: NoSchedule}|ok
taint|{key: a/b/c, effect: NoSchedule}|bad
taint|{key: k, value: "x y", effect: NoSchedule}|bad
network|{cidr: 10.40.0.0/16, nat: none, nodeSubnets: public}|ok
network|{cidr: 10.40.0.0/16, nat: single}|ok
network|{cidr: 10.40.0.0/16, nat: none}|bad
network|{cidr: 10.40.0.0/16, nat: none, nodeSubnets: private}|bad
network|{cidr: 10.40.0.0/16, nat: none, endpointAccess: public-and-private, vpcEndpoints: [ec2, ecr.api, ecr.dkr, s3, sts, eks-auth]}|ok
network|{cidr: 10.40.0.0/16, nat: none, endpointAccess: public-and-private, vpcEndpoints: [ec2, ecr.api, ecr.dkr, s3, sts]}|bad
network|{cidr: 10.40.0.0/16, nat: none, vpcEndpoints: [ec2, ecr.api, ecr.dkr, s3, sts, eks-auth]}|bad
network|{cidr: 10.40.0.0/16, vpcEndpoints: [sts, sts]}|bad
dnsTaint|{key: dedicated, value: batch, effect: NoSchedule}|bad
dnsTaint|{key: node-role.kubernetes.io/control-plane, effect: NoExecute}|bad
dnsTaint|{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}|ok
dnsTaint|{key: CriticalAddonsOnly, effect: NoExecute}|ok
dnsTaint|{key: dedicated, effect: PreferNoSchedule}|ok
ofTaint|{key: CriticalAddonsOnly, effect: NoExecute}|bad
ofTaint|{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}|bad
ofTaint|{key: dedicated, effect: PreferNoSchedule}|ok
ofTaint2|{key: CriticalAddonsOnly, effect: NoSchedule}|ok
VALUES
n=0
: >expect.txt
while IFS='|' read -r field value want; do
	n=$((n + 1))
	ng='{name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}'
	sys='{name: sys, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}' # where CoreDNS runs
	of="{acceptLicense: true}"
	gv='{release: "20250113.0"}'
	addons='{}'
	net='{cidr: 10.40.0.0/16}'
	extra=
	case $field in
	webhookImage) of="{acceptLicense: true, webhookImage: $value}" ;;
	functionEgress) of="{acceptLicense: true, functionEgress: $value}" ;;
	cpu) of="{acceptLicense: true, functionLimits: {maxCpu: \"2000\", defaultCpu: \"1m\", defaultRequestCpu: \"1m\", cpu: $value}}" ;;
	mirror) gv="{release: \"20250113.0\", mirror: $value}" ;;
	tablemirror) gv="{release: \"20260817.0\", mirror: $value}" ;; # pinned by the built-in digest table
	vpc-cni | kube-proxy) addons="{$field: {version: $value}}" ;;
	instanceTypes) ng="{name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: $value, scaling: {min: 1, max: 2}}" ;;
	groupVersion) extra="    - {name: b, kubernetesVersion: $value, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}" ;;
	release) extra="    - {name: b, kubernetesVersion: \"1.30\", releaseVersion: $value, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}}" ;;
	licence) of=$value ;;
	taint) ng="{name: a, runtime: gvisor, ami: ami-0123456789abcdef0, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [$value]}" ;;
	network) net=$value ;;
	# CoreDNS alone (OpenFaaS's pods tolerate no taint at all: ofTaint)
	dnsTaint)
		sys="{name: sys, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [$value]}"
		of="{enabled: false}"
		;;
	ofTaint) sys="{name: sys, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [$value]}" ;;
	# a tainted group beside one without taints
	ofTaint2) extra="    - {name: b, instanceTypes: [m6i.large], scaling: {min: 1, max: 2}, taints: [$value]}" ;;
	esac
	{
		printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c1, region: eu-west-1}\nspec:\n'
		printf '  kubernetesVersion: "1.31"\n  network: %s\n  gvisor: %s\n  addons: %s\n' "$net" "$gv" "$addons"
		printf '  nodeGroups:\n    - %s\n' "$ng"
		[ -z "$extra" ] || printf '%s\n' "$extra"
		printf '    - %s\n' "$sys"
		printf '  openfaas: %s\n' "$of"
	} >"v$n.yaml"
	if $S validate "v$n.yaml" >"v$n.out" 2>&1; then got=ok; else got=bad; fi
	[ "$got" = "$want" ] || t_fail "validate: $field $value is $got, want $want: $(grep error "v$n.out" | head -1)"
	printf 'v%s.yaml|%s|%s|%s\n' "$n" "$field" "$value" "$want" >>expect.txt
done <values.txt
$S schema >schema.json
$PY "$T_ROOT/check.py" schema.json v*.yaml >res.txt 2>&1
while IFS='|' read -r f field value want; do
	case $(grep -F "$f: " res.txt) in
	*": ACCEPTED"*) got=ok ;;
	*) got=bad ;;
	esac
	[ "$got" = "$want" ] || t_fail "schema: $field $value is $got, want $want: $(grep -F "$f: " res.txt)"
done <expect.txt
t_ok "every value was tried" test "$(wc -l <expect.txt)" -ge 80
t_end

# a.b[2].c -> a.b[2]; a.b[2] -> a.b
parent() { printf '%s\n' "$1" | sed 's/\(\.[^.[]*\|\[[0-9]*\]\)$//'; }

t_begin "the schema rejects what validate rejects, wherever a JSON Schema can say it"
mkdir cases
t_ok "the bad-input table written out" env SECFAAS_SPEC_CASES="$T_DIR/cases" "$SECFAAS_BUILD/tests/test_spec"
n=$(ls cases/*.yaml | wc -l)
t_ok "the table has cases" test "$n" -ge 25
$S schema >schema.json
$PY "$T_ROOT/check.py" schema.json cases/*.yaml >res.txt 2>&1
expressible=0
for y in cases/*.yaml; do
	name=$(cat "${y%.yaml}.name")
	$S validate "$y" >/dev/null 2>&1 && t_fail "validate accepts \"$name\""
	got=$(grep -F "$y: " res.txt)
	if printf '%s\n' "$beyond" | grep -q "^$name|"; then
		continue
	fi
	expressible=$((expressible + 1))
	case $got in
	*": REJECTED at "*)
		# for the same reason: the schema objects where validate does,
		# inside or around it, or at a sibling of the same object (a rule
		# across its fields or items)
		at=${got#*: REJECTED at }
		at=${at%% *}
		[ "$at" = "(root)" ] && at=
		$S validate "$y" 2>&1 | sed -n 's/^[^ ]*: error: \([^ :]*\):.*/\1/p' >where.txt
		ok=
		while read -r p; do
			case $p in
			"$at" | "$at".* | "$at"\[*) ok=1 ;;
			esac
			case $at in
			"$p".* | "$p"\[*) ok=1 ;;
			esac
			[ "$(parent "$p")" = "$(parent "$at")" ] && ok=1
		done <where.txt
		[ -z "$at" ] && ok=1
		[ -n "$ok" ] || t_fail "\"$name\": the schema objects at $at, validate at $(tr '\n' ' ' <where.txt)"
		;;
	*) t_fail "the schema accepts \"$name\", which validate rejects: $got" ;;
	esac
done
t_ok "most cases are the schema's to reject" test "$expressible" -ge 45
# every listed exception is still in the table (a stale list hides nothing)
printf '%s\n' "$beyond" | cut -d'|' -f1 | while read -r name; do
	grep -qxF "$name" cases/*.name || echo "$name"
done >stale.txt
t_eq "no stale exceptions" "$(cat stale.txt)" ""
t_end

finish
