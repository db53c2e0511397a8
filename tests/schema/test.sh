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
host bits|CIDR arithmetic
overlap|two fields compared
arch mix|two list items compared
duplicate node groups|names compared across items
scaling order|two fields compared
gvisor without release|a rule across fields
openfaas licence|a rule across fields
openfaas without gvisor|a rule across sections
webhook image|image reference syntax is a check hook
guard namespace in a stack|Stack resource attributes are checked by their type, not the document schema
guard image in a stack|Stack resource attributes are checked by their type, not the document schema
http mirror without a pin|two fields compared (http:// only with a SHA-512 pin)
mirror with shell characters|URL character rules are a check hook
mirror with credentials|URL userinfo is a check hook
mirror of an image in a stack|Stack resource attributes are checked by their type, not the document schema
node group newer than the cluster|two versions compared
node group beyond the kubelet skew|two versions compared
gVisor group pins a version|a rule across fields
release of another version|two fields compared
function egress word|a word or a list of CIDRs is a check hook
function egress cidr|CIDR host bits are a check hook
function limits quantity|Kubernetes quantity syntax is a check hook
function limits default over max|two quantities compared
public cidr host bits|CIDR arithmetic
add-on version syntax|add-on version syntax is a check hook
kube-proxy newer than the cluster|two versions compared'

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
    print("%s: %s%s" % (path, "REJECTED" if errs else "ACCEPTED", (" (" + errs[0].message[:120] + ")") if errs else ""))
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
	*": REJECTED"*) ;;
	*) t_fail "the schema accepts \"$name\", which validate rejects: $got" ;;
	esac
done
t_ok "most cases are the schema's to reject" test "$expressible" -ge 10
# every listed exception is still in the table (a stale list hides nothing)
printf '%s\n' "$beyond" | cut -d'|' -f1 | while read -r name; do
	grep -qxF "$name" cases/*.name || echo "$name"
done >stale.txt
t_eq "no stale exceptions" "$(cat stale.txt)" ""
t_end

finish
