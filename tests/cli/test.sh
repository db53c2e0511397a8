#!/bin/sh
# Engine and CLI end-to-end tests with the test_object and local_file
# resource types: plan/apply/destroy cycles, in-place updates, forced
# replacement, taint, failure isolation, parallelism bound, kill -9 resume
# without duplicates, saved plans and staleness, locks, concurrent applies,
# writers without the lock, interrupts, bad input.
# Every case runs twice in this one run, with the same expectations: on the
# default backend (state files in .secfaas/) and on a shared PostgreSQL
# state (a private server, tests/pg.sh); each case gets a fresh state (its
# own directory, or its own schema).  Then what only moving state between
# backends shows: `state migrate` file -> PostgreSQL -> file round trip.
# Synchronisation uses FIFO gates (test_object `gate`), never sleeps.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS

BACKENDS=files
trap pg_release EXIT
if pg_need; then
	PGURL=$(pg_newdb "cli_$$") || {
		echo "FAIL: cannot create a database on the test PostgreSQL"
		echo "0 passed, 1 failed"
		exit 1
	}
	BACKENDS="files postgres"
fi
NCASE=0

# begin NAME: a case on this pass's backend, with a state of its own.
begin() {
	t_begin "[$BACKEND] $1"
	NCASE=$((NCASE + 1))
	if [ "$BACKEND" = postgres ]; then
		SECFAAS_BACKEND=$PGURL
		SECFAAS_BACKEND_SCHEMA=c$NCASE
		# a shared state has no key file of its own: the team's key
		SECFAAS_STATE_KEY_FILE=$T_ROOT/team.key
		export SECFAAS_BACKEND SECFAAS_BACKEND_SCHEMA SECFAAS_STATE_KEY_FILE
		[ -s "$SECFAAS_STATE_KEY_FILE" ] || (umask 077 && openssl rand -hex 32 >"$SECFAAS_STATE_KEY_FILE")
	else
		unset SECFAAS_BACKEND SECFAAS_BACKEND_SCHEMA SECFAAS_STATE_KEY_FILE
	fi
}

# The few things that differ in how a test looks at a backend.
# nstates: how many workspaces have a state at all
nstates() {
	if [ "$BACKEND" = postgres ]; then
		psql "$PGURL" -qAt -c "SELECT CASE WHEN to_regclass('$SECFAAS_BACKEND_SCHEMA.workspaces') IS NULL THEN 0 ELSE (SELECT count(*) FROM $SECFAAS_BACKEND_SCHEMA.workspaces) END" 2>/dev/null || echo 0
	else
		find .secfaas -name '*.db' 2>/dev/null | wc -l
	fi
}
# stored_anywhere TEXT: does the text appear anywhere in the stored state?
stored_anywhere() {
	if [ "$BACKEND" = postgres ]; then
		pg_dump -n "$SECFAAS_BACKEND_SCHEMA" "$PGURL" | grep -a -q -- "$1"
	else
		cat .secfaas/*.db .secfaas/*.db-wal 2>/dev/null | grep -a -q -- "$1"
	fi
}
# other_state CMD...: run CMD against a second, unrelated state
other_state() {
	if [ "$BACKEND" = postgres ]; then
		SECFAAS_BACKEND_SCHEMA=${SECFAAS_BACKEND_SCHEMA}_other "$@"
	else
		(mkdir -p other && cd other && "$@")
	fi
}
# backup_kept: the last state edit left a backup where its output says
backup_kept() {
	if [ "$BACKEND" = postgres ]; then
		grep -q "Backup of the previous state: snapshot at serial" "$1"
	else
		grep -q "Backup of the previous state: .secfaas/t.db.backup" "$1" && test -s .secfaas/t.db.backup
	fi
}

# wait_gate FIFO PID: block until the apply PID reaches the gate. If the apply
# dies first (a crash must not hang the suite) fail instead of waiting forever.
wait_gate() {
	( while kill -0 "$2" 2>/dev/null; do sleep 0.2; done; exec 3>"$1"; exec 3>&- ) &
	watcher=$!
	cat "$1" >"$T_DIR/.gate"
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	if ! kill -0 "$2" 2>/dev/null; then
		t_fail "apply exited before reaching the gate: $(tail -n 5 "$T_DIR/apply.log" 2>/dev/null)"
		return 1
	fi
	return 0
}
export NO_COLOR=1

# stack FILE: write a Stack spec from stdin resources (indented 4 spaces)
stack() {
	{
		printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: t}\nspec:\n  resources:\n'
		cat
	} >"$1"
}

nobjs() { find objs -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }

cases() {
# ---------------------------------------------------------------- lifecycle
begin "create, no-op, update in place, replace, remove"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, content: one, kind: k1}}
    - {type: test_object, name: b, attributes: {dir: objs, content: "b uses ${test_object.a.id}"}}
Y
t_rc 2 "plan shows changes" $S plan s.yaml --detailed-exitcode
t_grep "plan summary" "Plan: 2 to add, 0 to change, 0 to destroy." .out
t_eq "a plan of a new workspace makes no state" "$(nstates)" 0
t_rc 0 "apply" $S apply s.yaml --auto-approve
t_grep "apply summary" "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." .out
t_eq "two objects" "$(nobjs)" 2
ida=$($S state list | awk '$1=="test_object.a"{print $2}')
t_ok "b content references a's id" grep -q "b uses $ida" objs/*.json
t_rc 0 "second plan is empty" $S plan s.yaml --detailed-exitcode
t_grep "no changes" "No changes." .out
if [ "$BACKEND" = postgres ]; then
	# against a database across a network each round trip is a
	# millisecond or more: the usual open is one, the plan's reads three
	SECFAAS_LOG=debug $S plan s.yaml --detailed-exitcode >/dev/null 2>.trips
	n=$(sed -n 's/.*: \([0-9][0-9]*\) round trips to the database$/\1/p' .trips)
	t_ok "a no-op plan makes ${n:-no reported} round trips to the database (at most 4)" test "${n:-99}" -le 4
fi
sed -i 's/content: one/content: two/' s.yaml
t_rc 2 "update plan" $S plan s.yaml --detailed-exitcode
t_grep "update symbol" "~ test_object.a" .out
t_grep "update attr" '~ content = "one" -> "two"' .out
t_grep "update count" "Plan: 0 to add, 1 to change, 0 to destroy." .out
t_rc 0 "apply update" $S apply s.yaml --auto-approve
t_grep "changed" "0 added, 1 changed, 0 destroyed" .out
t_eq "same id after update" "$($S state list | awk '$1=="test_object.a"{print $2}')" "$ida"
sed -i 's/kind: k1/kind: k2/' s.yaml
t_rc 2 "replace plan" $S plan s.yaml --detailed-exitcode
t_grep "replace symbol" "-/+ test_object.a" .out
t_grep "forcing attribute" '"k1" -> "k2"  # forces replacement' .out
t_grep "dependent b updates (a's id is unknown)" "~ test_object.b" .out
t_rc 0 "apply replace" $S apply s.yaml --auto-approve
t_eq "still two objects" "$(nobjs)" 2
t_ok "old object gone" test ! -e "objs/$ida.json"
t_rc 0 "converged" $S plan s.yaml --detailed-exitcode
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, content: two, kind: k2}}
Y
t_rc 2 "removal plan" $S plan s.yaml --detailed-exitcode
t_grep "destroy reason" "test_object.b will be destroyed (it is no longer in the spec)" .out
t_rc 0 "apply removal" $S apply s.yaml --auto-approve
t_eq "one object" "$(nobjs)" 1
t_rc 0 "destroy" $S destroy s.yaml --auto-approve
t_grep "destroy wording" "Destroy complete! Resources: 1 destroyed." .out
t_nogrep "not an apply" "Apply complete" .out
t_eq "nothing left" "$(nobjs)" 0
t_rc 0 "state empty" $S state list --workspace t
t_eq "no rows" "$(cat .out)" ""
t_end

# ---------------------------------------------------------------- failures
begin "failure isolates branches and taints the failed create"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: bad, attributes: {dir: objs, fail_on: create_after}}
    - {type: test_object, name: child, attributes: {dir: objs, content: "${test_object.bad.id}"}}
    - {type: test_object, name: other, attributes: {dir: objs, content: independent}}
Y
t_rc 1 "apply fails" $S apply s.yaml --auto-approve
t_grep "error names resource" "test_object.bad: error: injected failure after the object was created" .err
t_grep "dependent skipped" "test_object.child: skipped because test_object.bad failed" .err
t_grep "summary counts" "1 added, 0 changed, 0 destroyed, 1 failed, 1 not started" .out
t_rc 0 "state list" $S state list
t_grep "tainted" "tainted" .out
t_grep "independent branch done" "test_object.other" .out
sed -i 's/, fail_on: create_after//' s.yaml
t_rc 2 "plan replaces tainted" $S plan s.yaml --detailed-exitcode
t_grep "tainted headline" "test_object.bad is tainted, so must be replaced" .out
t_rc 0 "apply recovers" $S apply s.yaml --auto-approve
t_eq "bad's first object was deleted; three objects" "$(nobjs)" 3
t_rc 0 "converged" $S plan s.yaml --detailed-exitcode
t_end

t_begin "a create refused before anything was made records nothing deletable"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: never, attributes: {dir: objs, fail_on: create}}
Y
t_rc 1 "apply fails" $S apply s.yaml --auto-approve
t_grep "error names resource" "test_object.never: error: injected failure on create" .err
t_rc 0 "state list" $S state list
t_nogrep "no row, no taint" "test_object.never" .out
t_rc 2 "next plan creates it, nothing to replace or destroy" $S plan s.yaml --detailed-exitcode
t_grep "plain create" "Plan: 1 to add, 0 to change, 0 to destroy." .out
t_nogrep "not tainted" "tainted" .out
t_rc 0 "destroy has nothing to do" $S destroy s.yaml --auto-approve
t_nogrep "no phantom destroyed" "test_object.never: Destroying" .out
t_end

# ---------------------------------------------------------------- parallelism
begin "parallelism bound"
mkdir objs
{
	for i in 1 2 3 4 5 6; do echo "    - {type: test_object, name: p$i, attributes: {dir: objs, delay_ms: 300, until_inflight: 2}}"; done
} | stack s.yaml
t_rc 0 "apply -parallelism=2" $S apply s.yaml -auto-approve -parallelism=2
t_eq "never more than 2 in flight" "$(awk '{print $2}' objs/.inflight)" 2
$S destroy s.yaml --auto-approve >/dev/null 2>&1
rm -f objs/.inflight
sed -i "s/delay_ms: 300, until_inflight: 2/until_inflight: 6/" s.yaml
t_rc 0 "apply --parallelism 10" $S apply s.yaml --auto-approve --parallelism 10
t_eq "all 6 at once" "$(awk '{print $2}' objs/.inflight)" 6
t_end

# ---------------------------------------------------------------- kill -9
for at in before after; do
	begin "kill -9 mid-create ($at the object exists) then resume"
	mkdir objs
	mkfifo gate
	stack s.yaml <<Y
    - {type: test_object, name: first, attributes: {dir: objs}}
    - {type: test_object, name: victim, attributes: {dir: objs, gate: gate, gate_at: $at, gate_hold: true, content: "\${test_object.first.id}"}}
    - {type: test_object, name: last, attributes: {dir: objs, content: "\${test_object.victim.id}"}}
Y
	$S apply s.yaml --auto-approve >apply.log 2>&1 &
	pid=$!
	wait_gate gate $pid # returns once victim's create reached the gate
	kill -9 $pid
	wait $pid 2>/dev/null
	t_rc 0 "state after kill" $S state list --lock=false
	t_grep "victim left creating" "creating" .out
	sed -i 's/, gate: gate, gate_at: [a-z]*, gate_hold: true//' s.yaml
	t_rc 2 "plan resumes" $S plan s.yaml --detailed-exitcode
	t_grep "resume headline" "test_object.victim will be created (resuming an interrupted create)" .out
	t_rc 0 "re-apply" $S apply s.yaml --auto-approve
	t_eq "no duplicates: exactly 3 objects" "$(nobjs)" 3
	t_rc 0 "converged" $S plan s.yaml --detailed-exitcode
	t_end
done

# ------------------------------------------------ kill -9 mid create-before-destroy
for finish in apply destroy; do
	begin "kill -9 between new and old object of a create-before-destroy replacement, then $finish"
	mkdir objs
	mkfifo gate
	stack s.yaml <<'Y'
    - {type: test_object_cbd, name: a, attributes: {dir: objs, kind: k1}}
    - {type: test_object, name: b, attributes: {dir: objs, content: "uses ${test_object_cbd.a.id}"}}
Y
	t_rc 0 "apply v1" $S apply s.yaml --auto-approve
	sed -i 's/kind: k1}/kind: k2, gate: gate, gate_at: after, gate_hold: true}/' s.yaml
	t_rc 2 "replacement planned new-first" $S plan s.yaml --detailed-exitcode
	t_grep "cbd headline" "test_object_cbd.a must be replaced (new one first)" .out
	$S apply s.yaml --auto-approve >apply.log 2>&1 &
	pid=$!
	wait_gate gate $pid # the new object exists, the old one is not yet destroyed
	kill -9 $pid
	wait $pid 2>/dev/null
	t_eq "old and new a both exist, plus b" "$(nobjs)" 3
	sed -i 's/, gate: gate, gate_at: after, gate_hold: true//' s.yaml
	if [ "$finish" = apply ]; then
		t_rc 2 "plan after kill" $S plan s.yaml --detailed-exitcode
		t_grep "deposed delete planned" "test_object_cbd.a (deposed object: the old one of an interrupted create-before-destroy replacement) will be destroyed" .out
		t_grep "new one resumed" "test_object_cbd.a will be created (resuming an interrupted create)" .out
		t_rc 0 "plan --json" $S plan s.yaml --json
		t_grep "json reason" '"action_reason": "deposed"' .out
		t_rc 0 "re-apply" $S apply s.yaml --auto-approve
		t_eq "no orphan: the new a and b" "$(nobjs)" 2
		# shellcheck disable=SC2046 # one object file name per word
		t_ok "the survivor is the new one" grep -q '"kind": *"k2"' $(grep -l k2 objs/*.json)
		t_eq "nothing of k1 left" "$(grep -l k1 objs/*.json | wc -l)" 0
		t_rc 0 "converged" $S plan s.yaml --detailed-exitcode
	else
		t_rc 0 "destroy after kill" $S destroy s.yaml --auto-approve
		t_eq "destroy removes the deposed object too" "$(nobjs)" 0
		t_rc 0 "nothing left planned" $S plan s.yaml --destroy --detailed-exitcode
	fi
	t_end
done

# ------------------------------------------- replacements tell both objects apart
t_begin "create-before-destroy names the new and the old object; a kept object is not destroyed"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object_cbd, name: g, attributes: {dir: objs, kind: k1}}
    - {type: test_object_keep, name: img, attributes: {dir: objs, kind: r1}}
Y
t_rc 0 "apply v1" $S apply s.yaml --auto-approve
oldg=$($S state list | awk '$1=="test_object_cbd.g"{print $2}')
oldi=$($S state list | awk '$1=="test_object_keep.img"{print $2}')
sed -i 's/kind: k1/kind: k2/; s/kind: r1/kind: r2/' s.yaml
t_rc 0 "apply v2" $S apply s.yaml --auto-approve
cp .out v2.out
t_eq "apply prints the plan once" "$(grep -c "will perform the following actions" v2.out)" 1
newg=$($S state list | awk '$1=="test_object_cbd.g"{print $2}')
newi=$($S state list | awk '$1=="test_object_keep.img"{print $2}')
t_ok "new ids" test "$newg" != "$oldg" -a "$newi" != "$oldi"
t_grep "new group's completion" "test_object_cbd.g: Creation complete after" v2.out
t_grep "new group's id on completion" "[id=$newg]" v2.out
t_grep "old group destroyed as deposed, by its id" "(deposed object" v2.out
t_grep "old group's id" "Destroying... [id=$oldg]" v2.out
t_nogrep "no create announced with the old id" "Creating... [id=$oldg]" v2.out
t_grep "kept line names the old image" "test_object_keep.img: Kept $oldi for reuse" v2.out
t_grep "kept not counted destroyed" "Resources: 2 added, 0 changed, 1 destroyed. 1 kept for reuse." v2.out
t_ok "the kept object still exists" test -e "objs/$oldi.json"
t_ok "the replaced group is gone" test ! -e "objs/$oldg.json"
t_rc 0 "apply --json events" sh -c "sed -i 's/kind: k2/kind: k3/; s/kind: r2/kind: r3/' s.yaml && $S apply s.yaml --auto-approve --json"
t_grep "json deposed event" '"deposed":' .out
t_grep "json kept event" '"type":"apply_kept"' .out
t_grep "json summary counts the kept one" '"kept":1' .out
t_rc 0 "destroy after replacements" $S destroy s.yaml --auto-approve
t_grep "destroy counts the current objects only" "Destroy complete! Resources: 2 destroyed." .out
t_end

# ---------------------------------------------------------------- saved plans
begin "saved plans: apply exactly once, stale and foreign plans refused"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, content: ver1}}
Y
t_rc 0 "plan --out" $S plan s.yaml --out p1
t_ok "plan file is private" test "$(stat -c %a p1)" = 600
t_rc 0 "show plan" $S show p1
t_grep "show renders the plan" "+ test_object.a" .out
t_rc 0 "apply saved plan (no prompt, no TTY)" $S apply p1
t_rc 1 "same plan again is stale" $S apply p1
t_grep "stale message" "is stale: the state changed since it was made" .err
sed -i 's/ver1/ver2/' s.yaml
t_rc 0 "plan v2" $S plan s.yaml -out p2
mkdir -p other/objs
other_state sh -c "cd $T_DIR/other && $S apply ../s.yaml --auto-approve" >/dev/null 2>&1
t_rc 1 "plan from another state refused" other_state sh -c "cd $T_DIR/other && $S apply ../p2"
t_grep "lineage message" "was made for another state" "$T_DIR/.err"
t_rc 0 "p2 applies on its own state" $S apply p2
t_rc 1 "garbage plan file" sh -c "echo '{\"x\":1}' > junk && $S apply junk"
t_grep "foreign plan" "is not a secfaas plan file" .err
t_end

# ---------------------------------------------------------------- locks
begin "locks: conflict shows holder, dead holder reclaimed, force-unlock"
mkdir objs
mkfifo gate
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, gate: gate, delay_ms: 60000}}
Y
$S apply s.yaml --auto-approve >apply.log 2>&1 &
pid=$!
# once create passed the gate the apply holds the lock and sits in its delay
wait_gate gate $pid
t_rc 1 "second run fails fast" $S plan s.yaml
t_grep "lock error" "state is locked" .err
t_grep "holder operation" "Operation: apply" .err
t_grep "holder pid" "(pid $pid)" .err
lockid=$(sed -n 's/^  ID: *//p' .err)
t_rc 1 "force-unlock with a wrong id" $S force-unlock 00000000-0000-4000-8000-000000000000 --workspace t
t_grep "wrong id" "00000000-0000-4000-8000-000000000000" .err
t_rc 1 "force-unlock of a live fresh lock needs --force" $S force-unlock "$lockid" --workspace t
kill -9 $pid
wait $pid 2>/dev/null
t_rc 0 "dead holder on this host is reclaimed" $S state list --workspace t
sed -i 's/, gate: gate, delay_ms: 60000//' s.yaml
t_rc 0 "apply after reclaim" $S apply s.yaml --auto-approve
t_eq "one object" "$(nobjs)" 1
t_end

begin "a command loads only the libraries it uses (no libcurl, libgit2, libxml2 offline; libpq for PostgreSQL only)"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, content: one}}
Y
# glibc's loader names every library it maps (LD_DEBUG=files, on stderr)
loaded() { # FILE LIB...: which of the libraries FILE's trace shows loaded
	f=$1
	shift
	for l in "$@"; do grep -q "file=$l" "$f" && printf '%s ' "$l"; done
}
i=0
for cmd in "version" "validate s.yaml" "plan s.yaml" "apply s.yaml --auto-approve" \
	"plan s.yaml --refresh=false --detailed-exitcode" "state list"; do
	i=$((i + 1))
	# shellcheck disable=SC2086 # the command's words
	LD_DEBUG=files $S $cmd >"o$i" 2>"ld$i" || t_fail "$cmd failed: $(grep -v '^ *[0-9]*:' "ld$i" | head -n 3)"
	t_eq "$cmd loads none of them" "$(loaded "ld$i" libcurl libgit2 libxml2)" ""
	if [ "$BACKEND" = postgres ]; then
		case $cmd in version | validate*) want="" ;; *) want="libpq " ;; esac
	else
		want=""
	fi
	t_eq "$cmd and libpq" "$(loaded "ld$i" libpq)" "$want"
done
LD_DEBUG=files $S version --json >o 2>ld
t_eq "version --json names libcurl's version, so it loads it" "$(loaded ld libcurl)" "libcurl "
t_grep "curl version" '"curl":"' o
t_end

# a plan takes no lock on either backend: on PostgreSQL a lock row counts
# only while its session holds the advisory lock
begin "a plan takes no lock and writes nothing; it still waits for a live run, not for a dead one"
pgq() { psql "$PGURL" -qAt -c "SET search_path TO $SECFAAS_BACKEND_SCHEMA" -c "$1"; }
mkdir objs
mkfifo gate
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, content: one}}
Y
t_rc 0 "apply" $S apply s.yaml --auto-approve
st=.secfaas/t.db
for f in $st $st-wal; do test -e "$f" && cp "$f" "$f.before"; done
[ "$BACKEND" != postgres ] || pgbefore=$(pgq "SELECT serial, (SELECT count(*) FROM lock_info) FROM workspaces")
# the state and its write-ahead log are byte for byte what they were (a
# read-only reader of a WAL database may leave an empty log and the
# shared-memory index behind: SQLite's, not state)
unchanged() { # WHAT
	if [ "$BACKEND" = postgres ]; then # its serial, the lock row: as they were
		t_eq "$1: nothing written" "$(pgq "SELECT serial, (SELECT count(*) FROM lock_info) FROM workspaces")" "$pgbefore"
		return
	fi
	for f in $st $st-wal; do
		if test -e "$f.before"; then
			t_ok "$1: $f as it was" cmp -s "$f" "$f.before"
		else
			t_ok "$1: nothing written to $f" test ! -s "$f"
		fi
	done
}
t_rc 0 "no-op plan" $S plan s.yaml --detailed-exitcode
unchanged "no-op plan"
t_rc 0 "no-op plan without refresh" $S plan s.yaml --refresh=false --detailed-exitcode
unchanged "plan without refresh"
sed -i 's/content: one/content: two/' s.yaml
t_rc 2 "plan with a change" $S plan s.yaml --detailed-exitcode
unchanged "plan with a change"
if [ "$BACKEND" = postgres ]; then # what only reads may plan
	pgq "DROP ROLE IF EXISTS sf_reader_$NCASE; CREATE ROLE sf_reader_$NCASE LOGIN;
	     GRANT USAGE ON SCHEMA $SECFAAS_BACKEND_SCHEMA TO sf_reader_$NCASE;
	     GRANT SELECT ON ALL TABLES IN SCHEMA $SECFAAS_BACKEND_SCHEMA TO sf_reader_$NCASE" >/dev/null
	t_rc 2 "a role that may only read plans" env SECFAAS_BACKEND="$(echo "$PGURL" | sed "s/user=[^&]*/user=sf_reader_$NCASE/")" \
		$S plan s.yaml --detailed-exitcode
fi
# a run that holds the lock and dies leaves its row: a plan reads past it
# and leaves it for the next writer to reclaim
cat >>s.yaml <<'Y'
    - {type: test_object, name: b, attributes: {dir: objs, gate: gate, gate_at: after, gate_hold: true}}
Y
$S apply s.yaml --auto-approve >apply.log 2>&1 &
pid=$!
wait_gate gate $pid
t_rc 1 "plan while a live run holds the lock is refused" $S plan s.yaml
t_grep "holder named" "(pid $pid)" .err
t_rc 0 "plan --lock=false reads anyway" $S plan s.yaml --lock=false
kill -9 $pid
wait $pid 2>/dev/null
# (PostgreSQL drops the dead client's session, and its advisory lock, a
# moment after the kill: the plan may wait for that)
t_rc 0 "plan after the holder died" $S plan s.yaml --lock-timeout 30s
if [ "$BACKEND" = files ]; then
	t_rc 1 "the dead holder's lock is still there: the plan wrote nothing" $S force-unlock 00000000-0000-4000-8000-000000000000 --workspace t
	t_grep "still locked" "it is locked by" .err
fi
t_end

# ---------------------------------------------------------------- interrupt
begin "first Ctrl-C stops scheduling, saves state; rerun converges"
mkdir objs
mkfifo gate
stack s.yaml <<'Y'
    - {type: test_object, name: slow, attributes: {dir: objs, gate: gate, gate_at: after, delay_ms: 60000}}
    - {type: test_object, name: next, attributes: {dir: objs, content: "${test_object.slow.id}"}}
Y
$S apply s.yaml --auto-approve >apply.log 2>&1 &
pid=$!
wait_gate gate $pid
kill -INT $pid
wait $pid
rc=$?
t_eq "interrupted apply exits 1" "$rc" 1
t_grep "notice" "interrupt received" apply.log
t_grep "summary says interrupted" "Apply interrupted" apply.log
t_rc 0 "state readable, lock released" $S state list
t_grep "slow kept as creating (resumable)" "creating" .out
sed -i 's/, gate: gate, gate_at: after, delay_ms: 60000//' s.yaml
t_rc 0 "rerun" $S apply s.yaml --auto-approve
t_eq "two objects, no duplicate" "$(nobjs)" 2
t_end

begin "second Ctrl-C exits at once; state stays consistent and resumable"
mkdir objs
mkfifo gate
stack s.yaml <<'Y'
    - {type: test_object, name: stuck, attributes: {dir: objs, gate: gate, gate_at: after, gate_hold: true}}
Y
$S apply s.yaml --auto-approve >apply.log 2>&1 &
pid=$!
wait_gate gate $pid
kill -INT $pid
# Two signals sent back to back may be merged into one by the kernel: send
# the second only after the first was handled (its notice is printed).
i=0
while ! grep -q "interrupt received" apply.log && [ $i -lt 200 ]; do
	i=$((i + 1))
	sleep 0.05
done
kill -INT $pid
wait $pid
rc=$?
t_eq "exit 1" "$rc" 1
t_grep "second interrupt notice" "second interrupt: exiting now" apply.log
t_rc 0 "state readable (stale lock of a dead process is reclaimed)" $S state list
t_grep "left creating" "creating" .out
sed -i 's/, gate: gate, gate_at: after, gate_hold: true//' s.yaml
t_rc 0 "rerun converges" $S apply s.yaml --auto-approve
t_eq "one object, adopted by token" "$(nobjs)" 1
t_end

# ---------------------------------------------------------------- bad input
begin "bad specs: precise errors, exit 1, nothing touched"
cat >bad.yaml <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  resources:
    - {type: test_objekt, name: a, attributes: {dir: x}}
    - {type: test_object, name: b, attributes: {dri: x}}
    - {type: test_object, name: c, attributes: {dir: x, delay_ms: soon}}
    - {type: test_object, name: d, attributes: {dir: x, content: "${test_object.nope.id}"}}
Y
t_rc 1 "validate fails" $S validate bad.yaml
t_grep "unknown type with hint" 'bad.yaml:6:14: error: spec.resources[0].type: unknown resource type "test_objekt"; did you mean "test_object"?' .err
t_grep "unknown attribute with hint" 'bad.yaml:7:49: error: spec.resources[1].attributes: test_object has no attribute "dri"; did you mean "dir"?' .err
t_grep "wrong type" 'bad.yaml:8:67: error: spec.resources[2].attributes.delay_ms: expected an integer' .err
t_grep "all errors in one run" "4 errors found" .err
t_rc 1 "plan fails the same way" $S plan bad.yaml
t_eq "no state written" "$(nstates)" 0
cat >ref.yaml <<'Y'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  resources:
    - {type: test_object, name: d, attributes: {dir: x, content: "${test_object.nope.id}"}}
    - {type: test_object, name: x, attributes: {dir: x, content: "${test_object.y.id}"}}
    - {type: test_object, name: y, attributes: {dir: x, content: "${test_object.x.id}"}}
Y
t_rc 1 "bad reference and cycle" $S validate ref.yaml
t_grep "undeclared reference" 'reference to undeclared resource "test_object.nope"' .err
t_rc 1 "cycle named" $S validate ref2.yaml
printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: t}\nspec:\n  resources:\n    - {type: test_object, name: x, attributes: {dir: x, content: "${test_object.y.id}"}}\n    - {type: test_object, name: y, attributes: {dir: x, content: "${test_object.x.id}"}}\n' >cyc.yaml
t_rc 1 "cycle" $S validate cyc.yaml
t_grep "cycle path" "dependency cycle: test_object.x -> test_object.y -> test_object.x" .err
printf 'kind: Stack\nkind: Stack\n' >dup.yaml
t_rc 1 "duplicate key" $S validate dup.yaml
t_grep "duplicate key" 'dup.yaml:2:1: error: duplicate key "kind" (first defined at line 1)' .err
printf 'apiVersion: v1\n  bad: [\n' >syn.yaml
t_rc 1 "yaml syntax" $S validate syn.yaml
t_grep "syntax position" "syn.yaml:2:" .err
t_rc 1 "missing spec file" $S plan nothere.yaml
t_grep "missing file" "nothere.yaml" .err
t_rc 1 "unknown command" $S aplpy
t_grep "did you mean" 'did you mean "apply"?' .err
t_rc 1 "unknown option" $S plan --bogus
t_grep "unknown option" "unknown option --bogus for plan" .err
t_rc 1 "apply without TTY needs --auto-approve" sh -c "$S apply bad.yaml </dev/null"
t_end

begin "missing AWS credentials: one clear error before anything is journaled"
t_rc 1 "apply a cluster without credentials" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_REGION=eu-west-1 \
	AWS_EC2_METADATA_DISABLED=true $S apply "$SECFAAS_SRC/examples/minimal.yaml" --auto-approve
t_grep "one line" "secfaas: error: before changing anything: no AWS credentials found" .err
t_eq "exactly one error line" "$(grep -c 'error' .err)" 1
t_rc 0 "state has nothing" $S state list --workspace fn-minimal
t_eq "no rows" "$(cat .out)" ""
t_end

begin "apply without a TTY refuses to prompt"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs}}
Y
t_rc 1 "no tty" sh -c "$S apply s.yaml </dev/null"
t_grep "explains" "re-run with --auto-approve" .err
t_eq "nothing created" "$(nobjs)" 0
t_end

begin "apply asks on a terminal: 'no' cancels, 'yes' applies"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs}}
Y
# script(1) gives the command a pseudo-terminal and feeds it our stdin
printf 'no\n' | script -qec "$S apply s.yaml" /dev/null >tty.out 2>&1
t_grep "prompt shown" "Only 'yes' will be accepted" tty.out
t_grep "cancelled" "Apply cancelled." tty.out
t_eq "nothing created" "$(nobjs)" 0
printf 'yes\n' | script -qec "$S apply s.yaml" /dev/null >tty.out 2>&1
t_grep "applied" "Resources: 1 added" tty.out
t_eq "created" "$(nobjs)" 1
t_end

begin "secrets never printed; JSON plan shape"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, secret: "s3cr3t-VALUE"}}
Y
t_rc 0 "json plan" $S plan s.yaml --json
t_nogrep "json plan has no secret" "s3cr3t-VALUE" .out
t_grep "format" '"format_version": "1.0"' .out
t_grep "sensitive flag" '"secret": true' .out
t_rc 0 "human plan" $S plan s.yaml
t_nogrep "human plan has no secret" "s3cr3t-VALUE" .out
t_grep "redacted" "secret     = (sensitive value)" .out
t_rc 0 "apply" $S apply s.yaml --auto-approve
t_nogrep "apply output has no secret" "s3cr3t-VALUE" .out
t_rc 0 "show" $S show
t_nogrep "show has no secret" "s3cr3t-VALUE" .out
if stored_anywhere "s3cr3t-VALUE"; then t_fail "the stored state holds the secret in clear"; fi
t_ok "the state does hold the attribute (sealed)" stored_anywhere "secret"
t_rc 0 "state show json" $S state show test_object.a --json
t_nogrep "state show has no secret" "s3cr3t-VALUE" .out
# the key opens every secret: one others may read is said, once
key=${SECFAAS_STATE_KEY_FILE:-$(ls .secfaas/*.key)}
t_nogrep "a private key file is not mentioned" "can be read by other users" .err
chmod 644 "$key"
t_rc 0 "state show with the key readable by others" $S state show test_object.a --json
t_eq "said once" "$(grep -c "state key file $key can be read by other users (mode 0644); chmod 600 $key" .err)" 1
chmod 600 "$key"
t_end

begin "saved plans hold no secret in clear; values built from secrets are secret"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, secret: "s3cr3t-VALUE", content: one}}
    - {type: test_object, name: b, attributes: {dir: objs, content: "pw=${test_object.a.secret}"}}
    - {type: test_object, name: c, attributes: {dir: objs, content: "again ${test_object.b.content}"}}
Y
t_rc 0 "plan --out" $S plan s.yaml --out p1.plan
t_nogrep "plan output has no derived secret" "s3cr3t-VALUE" .out
t_grep "derived value redacted" "content    = (sensitive value)" .out
t_ok "plan file has no secret" sh -c "! grep -q 's3cr3t-VALUE' p1.plan"
t_ok "plan file seals the spec's secret" grep -q '"\$enc"' p1.plan
t_rc 0 "json plan" $S plan s.yaml --json
t_nogrep "json plan has no derived secret" "s3cr3t-VALUE" .out
t_rc 0 "apply the saved plan" $S apply p1.plan
t_grep "applied" "Resources: 3 added" .out
sha=$(printf '%s' s3cr3t-VALUE | sha256sum | cut -d' ' -f1)
t_ok "apply opened the sealed secret" grep -q "$sha" objs/*.json
t_ok "the derived value reached its object" grep -q "pw=s3cr3t-VALUE" objs/*.json
if stored_anywhere "s3cr3t-VALUE"; then t_fail "the stored state holds the derived value in clear"; fi
t_rc 0 "state show" $S state show test_object.b
t_grep "derived value hidden in state show" "(sensitive value)" .out
sed -i 's/content: one/content: two/' s.yaml
t_rc 0 "plan --out over a state holding the secret" $S plan s.yaml --out p2.plan
t_ok "second plan file has no secret" sh -c "! grep -q 's3cr3t-VALUE' p2.plan"
t_rc 0 "apply it" $S apply p2.plan
t_grep "updated" "1 changed" .out
t_rc 0 "destroy plan" $S plan s.yaml --destroy --out d.plan
t_nogrep "destroy plan output has no secret" "s3cr3t-VALUE" .out
t_ok "destroy plan file has no secret" sh -c "! grep -q 's3cr3t-VALUE' d.plan"
# a plan file whose sealed value was swapped for clear text is refused
t_rc 0 "third plan" $S plan s.yaml --out p3.plan --replace test_object.a
python3 - p3.plan <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["config"]["resources"]:
    if "secret" in r["config"]:
        r["config"]["secret"] = "planted"
json.dump(d, open(sys.argv[1], "w"))
PY
t_rc 1 "tampered plan refused" $S apply p3.plan
t_grep "names the value" "test_object.a.secret is not sealed" .err
t_end

begin "a local file written from a secret is its owner's only, through a saved plan too"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, secret: "s3cr3t-VALUE"}}
    - {type: local_file, name: pw, attributes: {path: out/pw.txt, content: "pw=${test_object.a.secret}"}}
    - {type: local_file, name: plain, attributes: {path: out/plain.txt, content: hello}}
    - {type: local_file, name: chosen, attributes: {path: out/chosen.txt, content: "${test_object.a.secret}", file_permission: "0640"}}
Y
t_rc 0 "apply" $S apply s.yaml --auto-approve
t_eq "the file built from the secret" "$(stat -c %a out/pw.txt)" 600
t_eq "a file of plain content" "$(stat -c %a out/plain.txt)" 644
t_eq "a mode the spec chose" "$(stat -c %a out/chosen.txt)" 640
sed -i 's/s3cr3t-VALUE/s3cr3t-OTHER/' s.yaml
t_rc 0 "plan --out" $S plan s.yaml --out p.plan
t_rc 0 "apply the saved plan" $S apply p.plan
t_grep "rewritten" "pw=s3cr3t-OTHER" out/pw.txt
t_eq "still its owner's only" "$(stat -c %a out/pw.txt)" 600
t_rc 0 "second plan has nothing to do" $S plan s.yaml --detailed-exitcode
t_end

begin "apply --json streams one JSON object per event, with progress"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: slow, attributes: {dir: objs, delay_ms: 900}}
Y
t_rc 0 "json apply" env SECFAAS_PROGRESS_INTERVAL=0.2s $S apply s.yaml --auto-approve --json
cp .out events.json
t_ok "every line is JSON" /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' events.json
t_grep "start event" '"type":"apply_start"' events.json
t_grep "progress event" '"type":"apply_progress"' events.json
t_grep "complete event" '"type":"apply_complete"' events.json
t_grep "summary" '"type":"apply_summary","added":1' events.json
t_end

begin "import adopts an existing object; next plan is empty"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, content: hello}}
Y
t_rc 0 "apply" $S apply s.yaml --auto-approve
id=$($S state list | awk '{print $2}')
t_rc 0 "forget it" $S state rm test_object.a
t_rc 2 "now planned as a create" $S plan s.yaml --detailed-exitcode
t_rc 0 "import" $S import test_object.a "$id" s.yaml
t_grep "import message" "Imported test_object.a [id=$id]" .out
t_rc 0 "plan empty after import" $S plan s.yaml --detailed-exitcode
t_rc 1 "import twice refused" $S import test_object.a "$id" s.yaml
t_rc 1 "import of a missing object" sh -c "$S state rm test_object.a >/dev/null && $S import test_object.a obj-0000000000000000 s.yaml"
t_grep "not found" "not found" "$T_DIR/.err"
t_eq "still one object" "$(nobjs)" 1
t_end

begin "ephemeral workspaces: ttl recorded, gc destroys only expired ones"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs}}
Y
sed 's/name: t}/name: keep}/' s.yaml >keep.yaml
t_rc 0 "apply with --ttl" $S apply s.yaml --auto-approve --ttl 2h
t_grep "expiry announced" "Workspace t is ephemeral: expires at" .out
t_rc 0 "a permanent workspace" $S apply keep.yaml --auto-approve
t_eq "two objects" "$(nobjs)" 2
t_rc 0 "gc now: nothing expired" $S gc --auto-approve
t_grep "kept" "kept" .out
t_eq "still two" "$(nobjs)" 2
later=$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)
t_rc 1 "gc dry-run in 3h lists, and exits 1: there is work" $S gc --now "$later"
t_grep "would destroy" "would destroy 1 resource(s)" .out
t_eq "dry run deletes nothing" "$(nobjs)" 2
t_rc 0 "gc in 3h destroys the expired one" $S gc --now "$later" --auto-approve
t_grep "destroying" "destroying 1 resource(s)" .out
t_eq "only the permanent object left" "$(nobjs)" 1
t_rc 0 "expired state is empty" $S state list --workspace t
t_eq "no rows" "$(cat .out)" ""
t_rc 0 "permanent untouched" $S plan keep.yaml --detailed-exitcode
t_end

begin "state rm / mv with backup, history"
mkdir objs
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs}}
    - {type: test_object, name: b, attributes: {dir: objs}}
Y
t_rc 0 "apply" $S apply s.yaml --auto-approve
t_rc 0 "mv" $S state mv test_object.b test_object.c
t_grep "mv output" "Moved test_object.b to test_object.c" .out
cp .out mv.out
t_ok "backup kept where the output says" backup_kept mv.out
t_rc 2 "after mv: c removed from spec -> destroy, b created" $S plan s.yaml --detailed-exitcode
t_grep "c destroyed" "test_object.c will be destroyed" .out
t_rc 0 "rm" $S state rm test_object.c
t_grep "rm output" "Removed test_object.c" .out
t_rc 1 "rm unknown" $S state rm test_object.zzz
t_rc 0 "history" $S state history
t_grep "history has apply" "apply" .out
t_end


# ---------------------------------------------------------------- concurrent applies
begin "four applies on one workspace: one runs, three refused naming it; kill -9 frees the lock; resume, no duplicates"
mkdir objs
mkfifo gate
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, gate: gate, gate_at: after, gate_hold: true}}
    - {type: test_object, name: b, attributes: {dir: objs, content: "${test_object.a.id}"}}
Y
$S apply s.yaml --auto-approve >apply.log 2>&1 &
pid=$!
wait_gate gate $pid # it holds the lock, its object a exists, b not yet
for i in 1 2 3; do
	$S apply s.yaml --auto-approve >"o$i" 2>"e$i" &
	eval "p$i=\$!"
done
for i in 1 2 3; do
	eval "wait \$p$i"
	t_eq "apply $i refused" "$?" 1
	t_grep "apply $i: locked" "state is locked" "e$i"
	t_grep "apply $i names the holder" "Who: " "e$i"
	t_grep "apply $i names its pid" "(pid $pid)" "e$i"
	t_nogrep "apply $i planned nothing" "Plan:" "o$i"
done
kill -9 $pid
wait $pid 2>/dev/null
sed -i 's/, gate: gate, gate_at: after, gate_hold: true//' s.yaml
# the holder's lock died with it: no force-unlock, no stale wait
t_rc 0 "next apply takes over" $S apply s.yaml --auto-approve --lock-timeout 30s
t_grep "resumed a, created b" "Resources: 2 added" .out
t_eq "no duplicates: exactly 2 objects" "$(nobjs)" 2
t_rc 0 "converged" $S plan s.yaml --detailed-exitcode
t_end

begin "--lock=false: a second writer makes the first one stop, never interleave"
mkdir objs
mkfifo gate
stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, gate: gate, gate_hold: true}}
    - {type: test_object, name: b, attributes: {dir: objs}}
Y
sed 's/, gate: gate, gate_hold: true//' s.yaml >s2.yaml
$S apply s.yaml --auto-approve --lock=false --parallelism=1 >apply.log 2>&1 &
pid=$!
wait_gate gate $pid # intent for a written; a not created yet
t_rc 0 "second writer (also --lock=false) applies" $S apply s2.yaml --auto-approve --lock=false
exec 3>gate # let the first one go on
exec 3>&-
wait $pid
rc=$?
t_eq "first writer stops" "$rc" 1
t_grep "it says why" "changed under this run" apply.log
t_eq "no duplicate objects" "$(nobjs)" 2
t_rc 0 "state consistent: converged" $S plan s2.yaml --detailed-exitcode
t_end
}

for BACKEND in $BACKENDS; do
	cases
done

if [ "$BACKENDS" != files ]; then
	# ------------------------------------------------------------ moving state
	BACKEND=files
	begin "state migrate: files -> PostgreSQL -> files keeps list, history, lineage and serial"
	mkdir objs
	stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, secret: "mig-S3CRET"}}
    - {type: test_object, name: b, attributes: {dir: objs, content: "${test_object.a.id}"}}
Y
	sed 's/name: t}/name: u}/' s.yaml >u.yaml
	$S apply s.yaml --auto-approve >/dev/null 2>&1
	$S apply u.yaml --auto-approve >/dev/null 2>&1
	$S state mv test_object.b test_object.c --workspace t >/dev/null 2>&1
	# what a person would compare: list, history, and lineage/serial of each
	view() { # DIR-OR-URL SCHEMA -> stdout
		for w in t u; do
			SECFAAS_BACKEND=$1 SECFAAS_BACKEND_SCHEMA=$2 $S state list --workspace $w
			SECFAAS_BACKEND=$1 SECFAAS_BACKEND_SCHEMA=$2 $S state history --workspace $w --json |
				/usr/bin/python3 -c 'import json,sys; [print(r["run"], r["command"], r["result"], r["serial_before"], r["serial_after"], r["git_sha"], r["started"]) for r in json.load(sys.stdin)]'
			SECFAAS_BACKEND=$1 SECFAAS_BACKEND_SCHEMA=$2 $S show --workspace $w --json |
				/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["lineage"], d["serial"])'
		done
	}
	view .secfaas "" >before.txt 2>&1
	t_ok "the files hold two workspaces" grep -q "test_object.c" before.txt
	# the files' secrets are sealed with their own key files; the shared
	# state gets the team passphrase (state migrate reads each source with
	# the key it was sealed with)
	MIGPASS="team passphrase for the cli suite"
	mp() { env SECFAAS_STATE_PASSPHRASE="$MIGPASS" "$@"; }
	t_rc 0 "to PostgreSQL" mp $S state migrate --to "$PGURL" --to-schema "mig$$"
	t_grep "both copied" "Migrated 2 workspaces, 0 already there, 0 failed." .out
	SECFAAS_STATE_PASSPHRASE=$MIGPASS
	export SECFAAS_STATE_PASSPHRASE
	view "$PGURL" "mig$$" >mid.txt 2>&1
	t_ok "PostgreSQL shows the same" cmp before.txt mid.txt
	t_rc 0 "again: nothing to do" $S state migrate --to "$PGURL" --to-schema "mig$$"
	t_grep "idempotent" "Migrated 0 workspaces, 2 already there" .out
	t_rc 0 "back to files" env SECFAAS_BACKEND="$PGURL" SECFAAS_BACKEND_SCHEMA="mig$$" $S state migrate --to back
	view back "" >after.txt 2>&1
	t_ok "the files from PostgreSQL show the same" cmp before.txt after.txt
	t_rc 0 "secrets came back whole" $S --backend back state show test_object.a --workspace t
	t_grep "still sealed and readable" "secret" .out
	t_rc 0 "and plan against them is empty" env SECFAAS_BACKEND=back $S plan u.yaml --detailed-exitcode
	# a target holding another state is refused, and left alone
	t_rc 0 "another state in the way" env SECFAAS_BACKEND="$PGURL" SECFAAS_BACKEND_SCHEMA="mig${$}x" $S apply u.yaml --auto-approve
	unset SECFAAS_STATE_PASSPHRASE
	t_rc 1 "refused" mp $S state migrate --to "$PGURL" --to-schema "mig${$}x" --workspace u
	t_grep "says why" "already holds another state" .err
	t_rc 0 "pull a copy to look at" mp env SECFAAS_BACKEND="$PGURL" SECFAAS_BACKEND_SCHEMA="mig$$" $S state pull --workspace t copy.db
	t_rc 0 "the copy reads" mp $S --state copy.db state list
	t_grep "the copy has c" "test_object.c" .out
	t_end

	# ------------------------------------------------------------ repository settings
	begin "secfaas.yaml at the repository root: its backend is every command's; options win; bad settings refused"
	git init -q .
	cat >secfaas.yaml <<Y
# settings for every secfaas run in this repository
backend:
  url: "$PGURL"
  schema: settings$$
Y
	mkdir -p clusters/objs
	stack clusters/s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs}}
Y
	t_rc 0 "apply from a subdirectory" sh -c "cd clusters && $S apply s.yaml --auto-approve"
	t_ok "no local state" test ! -e clusters/.secfaas
	t_rc 0 "the shared state has it" $S --backend "$PGURL" --backend-schema "settings$$" state list
	t_grep "listed" "test_object.a" .out
	t_rc 2 "--backend wins over the file" sh -c "cd clusters && $S --backend .secfaas plan s.yaml --detailed-exitcode"
	t_rc 2 "and so does SECFAAS_BACKEND" sh -c "cd clusters && SECFAAS_BACKEND=.secfaas $S plan s.yaml --detailed-exitcode"
	t_rc 1 "the settings file is not a spec" $S plan
	t_grep "says so" "holds only repository settings" .err
	printf 'backend:\n  url: postgresql://ci:hunter2@db.example/x\n' >secfaas.yaml
	t_rc 1 "a password in the repository is refused" $S state list
	t_grep "where" "secfaas.yaml:2:8: error: backend.url" .err
	t_grep "what to do instead" "PGPASSWORD" .err
	t_nogrep "never echoed" "hunter2" .err
	printf 'backend:\n  ulr: postgresql://db.example/x\n' >secfaas.yaml
	t_rc 1 "a typo" $S state list
	t_grep "did you mean" 'did you mean "url"' .err
	t_end

	# ------------------------------------------------------------ server restart
	# The restart case stops a server: it gets one of its own, so suites
	# running beside this one on the shared server never see it go away.
	if [ "$BACKENDS" != files ] && pg_start "$T_ROOT/pg-restart" >pg-restart.log 2>&1 &&
		PGURL=$(pg_newdb cli_restart); then
		BACKEND=postgres
		begin "PostgreSQL restarted in the middle of an apply: one clear error, nothing half-written, re-run converges"
		mkdir objs
		mkfifo gate
		stack s.yaml <<'Y'
    - {type: test_object, name: a, attributes: {dir: objs, gate: gate, gate_at: after, gate_hold: true}}
    - {type: test_object, name: b, attributes: {dir: objs, content: "${test_object.a.id}"}}
    - {type: test_object, name: c, attributes: {dir: objs}}
Y
		$S apply s.yaml --auto-approve --parallelism=1 >apply.log 2>apply.err &
		pid=$!
		wait_gate gate $pid # a exists in objs/, its result is not recorded yet
		pg_restart "$T_ROOT/pg-restart" >restart.log 2>&1 || t_fail "restart: $(cat restart.log)"
		exec 3>gate # a's create returns; recording it meets the ended session
		exec 3>&-
		wait $pid
		t_eq "apply fails" "$?" 1
		t_grep "one clear error" "lost the connection to the state database" apply.err
		t_eq "exactly one error line" "$(grep -c 'error' apply.err)" 1
		t_rc 0 "state after the restart" $S state list
		t_grep "a left creating (resumable)" "test_object.a" .out
		t_nogrep "b never started" "test_object.b" .out
		sed -i 's/, gate: gate, gate_at: after, gate_hold: true//' s.yaml
		t_rc 0 "re-run converges" $S apply s.yaml --auto-approve
		t_eq "no duplicates: 3 objects" "$(nobjs)" 3
		t_rc 0 "converged" $S plan s.yaml --detailed-exitcode
		t_end
		pg_stop "$T_ROOT/pg-restart"
	elif [ "$BACKENDS" != files ]; then
		t_begin "a private PostgreSQL server for the restart case"
		t_fail "cannot start it: $(cat pg-restart.log 2>/dev/null)"
		t_end
	fi
fi
unset SECFAAS_BACKEND SECFAAS_BACKEND_SCHEMA SECFAAS_STATE_KEY_FILE

finish
