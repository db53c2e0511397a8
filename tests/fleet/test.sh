#!/bin/sh
# Fleets on a shared state: three runners start `apply --all` at once on a
# repository of 30 workspaces (each one IAM role in the local AWS,
# tests/awssim) against one PostgreSQL state (tests/pg.sh).  Every
# workspace must be applied exactly once - checked in the simulator's
# inventory and call counters, not only in secfaas output - and the three
# summaries must add up: each workspace applied by one runner and left by
# the other two.  Then a fourth, fresh runner re-running the same round
# applies nothing, `plan --all` from a fresh directory sees all 30 with no
# changes, and `gc` checks every workspace of the shared state.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1
if ! pg_need; then
	echo "0 passed, 0 failed"
	exit 0
fi
sim_suite 0.001 0.001
q() { /usr/bin/python3 "$SECFAAS_SRC/tests/eks/q.py" "$AWSSIM_URL" "$1"; }
PGURL=$(pg_newdb "fleet_$$") || {
	echo "FAIL: cannot create a database on the test PostgreSQL"
	echo "0 passed, 1 failed"
	exit 1
}
export SECFAAS_BACKEND=$PGURL SECFAAS_BACKEND_SCHEMA=fleet
N=30

t_begin "three runners apply --all on 30 workspaces: each applied exactly once, summaries add up"
SPECS=$T_ROOT/specs
mkdir "$SPECS"
i=1
while [ $i -le $N ]; do
	w=$(printf 'ws%02d' $i)
	cat >"$SPECS/$w.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: $w, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: r, attributes: {name: fleet-$w, service: ec2.amazonaws.com}}
Y
	i=$((i + 1))
done
before=$(q 'calls["iam:CreateRole"]')
# fresh runners: each its own empty directory, only the shared backend
for r in 1 2 3; do
	mkdir "runner$r"
	(cd "runner$r" && exec $S apply --all "$SPECS" --auto-approve --round merge-1 --cluster-parallelism 3) \
		>"out$r" 2>"err$r" &
	eval "pid$r=\$!"
done
for r in 1 2 3; do
	eval "wait \$pid$r"
	t_eq "runner $r succeeded" "$?" 0
	t_grep "runner $r prints its summary" "left to other runners" "out$r"
	t_ok "runner $r wrote no local state" test ! -e "runner$r/.secfaas"
done
t_eq "30 roles in AWS" "$(q 'n("iam:role")')" $N
t_eq "each role exactly once" "$(q 'len(set(r["id"] for r in inv["iam:role"]))')" $N
t_eq "CreateRole called once per workspace" "$(($(q 'calls["iam:CreateRole"]') - before))" $N
# every workspace: "applied" in exactly one summary, left by the two others
applied=0
i=1
while [ $i -le $N ]; do
	w=$(printf 'ws%02d' $i)
	a=$(cat out1 out2 out3 | grep -cE "^$w +1 +0 +0  applied$")
	l=$(cat out1 out2 out3 | grep -cE "^$w +0 +0 +0  (held|applied) by ")
	[ "$a" = 1 ] || t_fail "$w applied by $a runners"
	[ "$l" = 2 ] || t_fail "$w left by $l runners, want 2"
	applied=$((applied + a))
	i=$((i + 1))
done
t_eq "summaries add up" "$applied" $N
sum=0
for r in 1 2 3; do
	n=$(sed -n 's/^\([0-9]*\) workspaces* applied by this runner, \([0-9]*\) left to other runners, 0 failed\.$/\1+\2/p' "out$r")
	[ -n "$n" ] || t_fail "runner $r summary line missing"
	t_eq "runner $r: its own plus the others' make $N" "$((${n:-0}))" $N
	sum=$((sum + ${n%%+*}))
done
t_eq "the runners' counts add up" "$sum" $N
t_end

t_begin "a late runner in the same round applies nothing; plan --all and gc see every workspace"
mkdir late
t_rc 0 "same round again" sh -c "cd late && $S apply --all $SPECS --auto-approve --round merge-1"
t_grep "nothing left to do" "0 workspaces applied by this runner, $N left to other runners, 0 failed." .out
t_eq "no new roles" "$(q 'n("iam:role")')" $N
t_rc 0 "plan --all from a fresh directory" sh -c "cd late && $S plan --all $SPECS --detailed-exitcode"
t_eq "30 workspaces, no changes" "$(grep -cE '^ws[0-9]+ +0 +0 +0  no changes$' .out)" $N
mkdir gone
t_rc 0 "gc checks every workspace of the shared state" sh -c "cd gone && $S gc --no-sweep"
t_grep "all 30" "nothing has expired ($N states checked)" .out
t_end

t_begin "plan --all opens only the workspaces the shared state lists; new ones are still checked against AWS"
mkdir more late
cp "$SPECS"/*.yaml more/
for w in new1 new2 new3; do
	role=fleet-$w
	[ $w = new3 ] && role=fleet-ws01 # a name workspace ws01 owns
	cat >"more/$w.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: $w, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: r, attributes: {name: $role, service: ec2.amazonaws.com}}
Y
done
t_rc 1 "plan --all of 30 applied and 3 new workspaces" sh -c "cd late && SECFAAS_LOG=debug $S plan --all ../more"
t_eq "the 30 applied: no changes" "$(grep -cE '^ws[0-9]+ +0 +0 +0  no changes$' .out)" $N
t_eq "two new ones: one role each to add" "$(grep -cE '^new[12] +1 +0 +0  changes$' .out)" 2
t_grep "the third: its role's name is taken" "aws_iam_role.r: IAM role fleet-ws01 already exists" .err
t_ok "the listed states were read" grep -q 'workspace ws01: [0-9]* round trips to the database' .err
t_ok "three new workspaces: no account listing" sh -c "! grep -q 'listed for the fleet' .err"
# the listing's connection, then one a worker (4), each taken again by
# the workspace after it: not two a workspace (the gathering pass, the plan)
n=$(grep -c ': connected$' .err)
t_ok "$n connections to the database for 33 workspaces (1 to 5)" sh -c '[ "$1" -ge 1 ] && [ "$1" -le 5 ]' _ "$n"
t_eq "no state opened for the new ones" "$(grep -c 'workspace new[0-9]: [0-9]* round trips' .err)" 0
t_end

t_begin "refresh --all: each workspace on a connection that an earlier one released, not one a workspace"
mkdir late
t_rc 0 "refresh --all of the 30 applied workspaces" sh -c "cd late && SECFAAS_LOG=debug $S refresh --all $SPECS --auto-approve"
t_eq "every workspace's state was opened" "$(grep -c 'workspace ws[0-9]*: [0-9]* round trips' .err)" \
	"$((2 * N))"
# the listing's connection, then at most one a worker (4) for the
# gathering pass's read-only opens and one for the refreshes: not one a
# workspace
n=$(grep -c ': connected$' .err)
t_ok "$n connections to the database for 30 refreshed workspaces (1 to 9)" sh -c '[ "$1" -ge 1 ] && [ "$1" -le 9 ]' _ "$n"
t_rc 0 "plan --all after it: no changes, no lock left behind" sh -c "cd late && $S plan --all $SPECS --detailed-exitcode"
t_end

t_begin "plan --all of 10 new EKS workspaces: one listing of each kind of name and one of each EKS catalogue"
mkdir eks late
i=1
while [ $i -le 10 ]; do
	sed "s/^  name: fn-minimal\$/  name: fn-f$i/" "$SECFAAS_SRC/examples/minimal.yaml" >"eks/f$i.yaml"
	i=$((i + 1))
done
t_ok "the specs name their workspaces" grep -q "name: fn-f10$" eks/f10.yaml
# roles of someone else's: the name f10's cluster role will take, and
# f9's in other letters' case (IAM's names are unique regardless of case)
for r in fn-f10-cluster FN-F9-CLUSTER; do
	AWS_DEFAULT_REGION=us-east-1 aws iam create-role --role-name $r \
		--assume-role-policy-document '{"Version":"2012-10-17","Statement":[]}' >/dev/null 2>err ||
		t_fail "create-role $r: $(cat err)"
done
calls() { q "dict((k, v) for k, v in calls.items() if k.split(':')[0] in ('iam', 'eks'))"; }
before=$(calls)
t_rc 1 "plan --all of 10 new workspaces, one with a taken name" sh -c "cd late && $S plan --all ../eks"
t_eq "eight plans with every name free" "$(grep -cE '^fn-f[1-8] +[1-9][0-9]* +0 +0  changes$' .out)" 8
t_grep "the taken name is refused" "IAM role fn-f10-cluster already exists" .err
after=$(calls)
d() { /usr/bin/python3 -c "import ast,sys; a=ast.literal_eval(sys.argv[1]); b=ast.literal_eval(sys.argv[2]); print(b.get(sys.argv[3],0)-a.get(sys.argv[3],0))" "$before" "$after" "$1"; }
t_eq "roles: one listing" "$(d iam:ListRoles)" 1
t_eq "only the listed roles' names are read (case aside)" "$(d iam:ListRoleTags)" 2
t_eq "clusters: one listing" "$(d eks:ListClusters)" 1
t_eq "no cluster name read" "$(d eks:DescribeCluster)" 0
t_eq "instance profiles: one listing" "$(d iam:ListInstanceProfiles)" 1
t_eq "no instance profile name read" "$(d iam:GetInstanceProfile)" 0
t_eq "EKS's versions asked once" "$(d eks:DescribeClusterVersions)" 1
t_eq "add-on versions asked once" "$(d eks:DescribeAddonVersions)" 1
# credentials that may not list the account's roles: each name is read
curl -sf -X POST "$AWSSIM_URL/_awssim/faults" -d '{"rules":[{"service":"iam","operation":"ListRoles","kind":"denied"}]}' \
	>/dev/null || t_fail "cannot set the fault"
before=$(calls)
t_rc 1 "plan --all again, ListRoles denied" sh -c "cd late && $S plan --all ../eks"
curl -sf -X DELETE "$AWSSIM_URL/_awssim/faults" >/dev/null
after=$(calls)
t_grep "the taken name is still refused" "IAM role fn-f10-cluster already exists" .err
t_eq "the same eight plans" "$(grep -cE '^fn-f[1-8] +[1-9][0-9]* +0 +0  changes$' .out)" 8
t_ok "every role name read by itself" test "$(d iam:ListRoleTags)" -ge 30
t_eq "the listing asked once for the run" "$(d iam:ListRoles)" 1
t_end

t_begin "plan --all with CI's web identity: one AssumeRoleWithWebIdentity for the whole fleet"
AWS_DEFAULT_REGION=us-east-1 aws iam create-role --role-name ci-fleet --assume-role-policy-document \
	'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}' \
	>/dev/null 2>err || t_fail "create-role: $(cat err)"
b64u() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
printf '%s.%s.c2ln' "$(b64u '{"alg":"RS256"}')" \
	"$(b64u '{"iss":"https://token.actions.example.com","sub":"repo:x","aud":"sts.amazonaws.com"}')" >token
mkdir wi run
i=1
while [ $i -le 10 ]; do
	cat >"wi/wi$i.yaml" <<Y
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: wi$i, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: r, attributes: {name: fleet-wi$i, service: ec2.amazonaws.com}}
Y
	i=$((i + 1))
done
assumed=$(q 'calls.get("sts:AssumeRoleWithWebIdentity", 0)')
t_rc 0 "plan --all of 10 workspaces" sh -c "cd run && env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	AWS_WEB_IDENTITY_TOKEN_FILE=$T_DIR/token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/ci-fleet $S plan --all ../wi"
t_eq "ten plans" "$(grep -cE '^wi[0-9]+ +1 +0 +0  changes$' .out)" 10
t_eq "one web identity exchange" "$(($(q 'calls.get("sts:AssumeRoleWithWebIdentity", 0)') - assumed))" 1
t_end

t_begin "apply --all gives its children the backend through the environment, never on their command line"
# a backend URL may carry a password, and any local user can read argv
mkdir pw pwrun
cat >pw/pw1.yaml <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: pw1, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: r, attributes: {name: fleet-pw1, service: ec2.amazonaws.com}}
Y
before=$(sim_calls iam:CreateRole)
curl -sf -X POST "$AWSSIM_URL/_awssim/faults" -d '{"operation":"iam:CreateRole","kind":"latency","ms":5000,"count":1}' >/dev/null
(cd pwrun && exec $S apply --all ../pw --auto-approve) >pw.out 2>&1 &
pid=$!
i=0
while [ "$(sim_calls iam:CreateRole)" = "$before" ] && kill -0 $pid 2>/dev/null && [ $i -lt 3000 ]; do
	i=$((i + 1))
done
# the child is in its CreateRole, whose reply is held back
/usr/bin/python3 - "$pid" "$PGURL" >child.txt <<'PY'
import os, sys
parent, url = sys.argv[1], sys.argv[2]
for d in os.listdir("/proc"):
    try:
        if not d.isdigit() or open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1] != parent:
            continue
        argv = open("/proc/%s/cmdline" % d, "rb").read().split(b"\0")
        env = open("/proc/%s/environ" % d, "rb").read().split(b"\0")
    except OSError:
        continue
    if b"pw1" in argv:
        print("argv-backend", any(a == b"--backend" or a.startswith(b"--backend=") or url.encode() in a for a in argv))
        print("env-backend", ("SECFAAS_BACKEND=" + url).encode() in env)
PY
wait $pid
t_eq "apply --all succeeded" "$?" 0
t_eq "its child's command line has no backend URL" "$(sed -n 's/^argv-backend //p' child.txt)" False
t_eq "its child has the backend in its environment" "$(sed -n 's/^env-backend //p' child.txt)" True
t_end

t_begin "secrets of the shared state sealed under an AWS KMS key: one data key, unwrapped by every fresh runner"
export AWS_DEFAULT_REGION=eu-west-1 # the aws CLI reads this one
kid=$(aws kms create-key --description "secfaas state" --query KeyMetadata.KeyId --output text 2>err) ||
	t_fail "create-key: $(cat err)"
aws kms create-alias --alias-name alias/secfaas-state --target-key-id "$kid" 2>err || t_fail "create-alias: $(cat err)"
export SECFAAS_BACKEND_SCHEMA=kms
mkdir objs
cat >s.yaml <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: app}
spec:
  resources:
    - {type: test_object, name: a, attributes: {dir: objs, secret: "kms-S3CRET"}}
Y
gen=$(q 'calls["kms:GenerateDataKey"]')
dec=$(q 'calls["kms:Decrypt"]')
t_rc 0 "apply with backend.kmsKeyId" env SECFAAS_STATE_KMS_KEY_ID=alias/secfaas-state $S apply s.yaml --auto-approve
t_eq "one data key made" "$(($(q 'calls["kms:GenerateDataKey"]') - gen))" 1
t_ok "no plaintext in the database" sh -c "! pg_dump -n kms '$PGURL' | grep -a -q kms-S3CRET"
mkdir fresh
t_rc 0 "a fresh runner reads the secret back" sh -c "cd fresh && SECFAAS_STATE_KMS_KEY_ID=alias/secfaas-state $S --workspace app state show test_object.a --json"
t_eq "unwrapped once" "$(($(q 'calls["kms:Decrypt"]') - dec))" 1
t_rc 1 "without the KMS key configured: one clear error" sh -c "cd fresh && $S --workspace app state show test_object.a"
t_grep "names the key" "AWS KMS key alias/secfaas-state" .err
aws kms disable-key --key-id "$kid" 2>err || t_fail "disable-key: $(cat err)"
t_rc 1 "a disabled key: refused by KMS, said so" sh -c "cd fresh && SECFAAS_STATE_KMS_KEY_ID=alias/secfaas-state $S --workspace app state show test_object.a"
t_grep "KMS's reason" "Disabled" .err
t_end

finish
