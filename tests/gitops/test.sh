#!/bin/sh
# GitOps end to end: a real git repository of specs; plans follow commits,
# the run history records the resolved commit, dirty trees are refused,
# refs and file:// clones work, modules resolve inside the same commit.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid

commit() { git -C repo add -A >/dev/null && git -C repo commit -qm "$1" && git -C repo rev-parse HEAD; }
spec() { # CONTENT...: write repo/specs/app.yaml with the given object contents
	{
		printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: app}\nspec:\n  resources:\n'
		for c in "$@"; do printf '    - {type: test_object, name: %s, attributes: {dir: %s/objs, content: %s}}\n' "$c" "$T_DIR" "$c"; done
	} >repo/specs/app.yaml
}

t_begin "plans follow commits; history records the SHA"
mkdir -p objs repo/specs
git init -q -b main repo
spec one
sha1=$(commit "add app")
t_rc 0 "apply from repo HEAD" $S apply --repo repo specs --auto-approve
t_rc 0 "history" $S state history --state .secfaas/app.db
t_grep "history has sha1" "$(echo "$sha1" | cut -c1-12)" .out
t_rc 0 "show" $S show --state .secfaas/app.db
t_grep "show names the commit" "$sha1" .out
spec one two
sha2=$(commit "add two")
t_rc 2 "plan at new commit has changes" $S plan --repo repo specs --detailed-exitcode
t_grep "two added" "+ test_object.two" .out
t_rc 0 "plan at the old commit (--ref) is empty" $S plan --repo repo --ref "$sha1" specs --detailed-exitcode
t_rc 0 "apply new commit" $S apply --repo repo --ref main specs --auto-approve
t_rc 0 "history" $S state history --state .secfaas/app.db
t_grep "history has sha2" "$(echo "$sha2" | cut -c1-12)" .out
spec two
commit "remove one" >/dev/null
t_rc 2 "removal from the repo plans a destroy" $S plan --repo repo specs --detailed-exitcode
t_grep "one destroyed" "test_object.one will be destroyed" .out
t_end

t_begin "dirty working tree refused unless --allow-dirty"
mkdir -p objs repo/specs
git init -q -b main repo
spec a
commit "a" >/dev/null
spec a b
t_rc 1 "dirty refused" $S plan --repo repo specs
t_grep "names the file" "specs/app.yaml" .err
t_rc 2 "allowed with --allow-dirty (sees the working tree)" $S plan --repo repo specs --allow-dirty --detailed-exitcode
t_grep "b planned" "+ test_object.b" .out
t_end

t_begin "file:// clone into a cache, errors for bad refs"
mkdir -p objs repo/specs
git init -q -b main repo
spec a
commit "a" >/dev/null
export XDG_CACHE_HOME="$T_DIR/cache"
t_rc 2 "plan from file:// URL" $S plan --repo "file://$T_DIR/repo" specs --detailed-exitcode
t_rc 1 "bad ref" $S plan --repo repo --ref no-such-branch specs
t_grep "bad ref message" "no-such-branch" .err
t_rc 1 "not a repo" $S plan --repo "$T_DIR/objs" specs
t_end

t_begin "plan --all / apply --all over a repo of clusters; --prune for removed specs"
mkdir -p objs repo/specs
git init -q -b main repo
for w in alpha beta; do
	printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: %s}\nspec:\n  resources:\n    - {type: test_object, name: a, attributes: {dir: %s/objs, content: %s}}\n' "$w" "$T_DIR" "$w" >"repo/specs/$w.yaml"
done
commit "two clusters" >/dev/null
t_rc 2 "plan --all sees both" $S plan --all --repo repo specs --detailed-exitcode
t_grep "alpha row" "alpha                            1       0        0  changes" .out
t_grep "beta row" "beta                             1       0        0  changes" .out
t_grep "a section per workspace" "=== workspace alpha ===" .out
t_rc 2 "plan --all --summary" $S plan --all --summary --repo repo specs --detailed-exitcode
t_grep "the table" "alpha                            1       0        0  changes" .out
t_nogrep "no sections" "=== workspace" .out
t_nogrep "no resource blocks" "will be created" .out
t_eq "plans of new workspaces make no state" "$(find . -name '*.db*' | wc -l)" 0
t_rc 1 "--summary needs --all" $S plan --summary --repo repo specs
t_rc 1 "apply --all needs --auto-approve" $S apply --all --repo repo specs
t_rc 0 "apply --all" $S apply --all --repo repo specs --auto-approve --cluster-parallelism 2
t_grep "applied alpha" "alpha                            1       0        0  applied" .out
t_ok "one state per workspace" test -f .secfaas/alpha.db -a -f .secfaas/beta.db
t_eq "two objects" "$(find objs -maxdepth 1 -name "*.json" | wc -l)" 2
for f in .secfaas/alpha.db .secfaas/alpha.db-wal; do test -e "$f" && cp "$f" "$f.before"; done
t_rc 0 "plan --all now empty" $S plan --all --repo repo specs --detailed-exitcode
# a plan of applied workspaces reads their state: no lock taken, nothing written
for f in .secfaas/alpha.db .secfaas/alpha.db-wal; do
	test -e "$f.before" && t_ok "plan --all left $f as it was" cmp -s "$f" "$f.before"
	rm -f "$f.before"
done
git -C repo rm -q specs/beta.yaml
commit "drop beta" >/dev/null
t_rc 2 "removed spec is only listed without --prune, and counts as a change" $S plan --all --repo repo specs --detailed-exitcode
t_grep "listed" "beta                             0       0        0  not in the spec (add --prune to destroy it)" .out
t_rc 2 "with --prune it is a planned destroy" $S plan --all --prune --repo repo specs --detailed-exitcode
t_grep "prune destroy" "test_object.a will be destroyed" .out
t_rc 0 "apply --all --prune" $S apply --all --prune --repo repo specs --auto-approve
t_eq "one object left" "$(find objs -maxdepth 1 -name "*.json" | wc -l)" 1
t_end

t_begin "plan --all plans workspaces side by side and shows them in order"
mkdir -p objs specs
mkfifo meet.fifo
# alpha's and beta's refresh reads each open one side of the FIFO: each
# open returns only once the other side is open, so the plan finishes only
# if the two workspaces are read at the same time (timeout: a serial plan
# would wait forever)
for w in alpha:write beta:read gamma:write; do
	name=${w%%:*}
	if [ "$name" = gamma ]; then meet=""; else meet=", meet: $T_DIR/meet.fifo, meet_as: ${w#*:}"; fi
	printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: %s}\nspec:\n  resources:\n    - {type: test_object, name: a, attributes: {dir: %s/objs, content: %s%s}}\n' \
		"$name" "$T_DIR" "$name" "$meet" >"specs/$name.yaml"
done
t_rc 0 "apply --all" $S apply --all specs --auto-approve --cluster-parallelism 1
t_rc 0 "plan --all reads two workspaces at once" timeout 600 $S plan --all specs --cluster-parallelism 2 --detailed-exitcode
t_eq "sections in order" "$(grep '^=== workspace' .out | tr -d '=' | xargs)" "workspace alpha workspace beta workspace gamma"
t_grep "summary row" "gamma                            0       0        0  no changes" .out
t_end

t_begin "refresh --all writes each workspace's drift under its lock; a held one is skipped with a line"
mkdir -p objs repo/specs gated
git init -q -b main repo
for w in alpha beta gamma; do
	printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: %s}\nspec:\n  resources:\n    - {type: test_object, name: a, attributes: {dir: %s/objs, content: %s}}\n' "$w" "$T_DIR" "$w" >"repo/specs/$w.yaml"
done
commit "three clusters" >/dev/null
t_rc 0 "apply --all" $S apply --all --repo repo specs --auto-approve
oid() { $S state list --state ".secfaas/$1.db" --lock=false | awk '$1=="test_object.a"{print $2}'; }
content() { $S state show test_object.a --state ".secfaas/$1.db" --lock=false | sed -n 's/^ *content *= *//p'; }
# out of band: alpha's object edited, beta's deleted
sed -i 's/"content": *"alpha"/"content": "rogue"/' "objs/$(oid alpha).json"
rm "objs/$(oid beta).json"
# a run of gamma is in the middle of an apply, holding its lock
cp repo/specs/gamma.yaml gated/gamma.yaml
printf '    - {type: test_object, name: g, attributes: {dir: %s/objs, gate: %s/gate.fifo, gate_hold: true}}\n' "$T_DIR" "$T_DIR" >>gated/gamma.yaml
mkfifo gate.fifo
$S apply gated/gamma.yaml --auto-approve >held.log 2>&1 &
held=$!
timeout 120 cat gate.fifo >/dev/null
t_eq "gamma's apply holds its lock at the gate" "$?" 0
# a fourth workspace, never applied
printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: delta}\nspec:\n  resources:\n    - {type: test_object, name: a, attributes: {dir: %s/objs}}\n' "$T_DIR" >repo/specs/delta.yaml
commit "a fourth" >/dev/null
t_rc 1 "refresh --all needs --auto-approve" $S refresh --all --repo repo specs
t_eq "nothing written without it" "$(content alpha)" '"alpha"'
t_rc 2 "refresh --all: states updated (--detailed-exitcode)" $S refresh --all --repo repo specs --auto-approve --detailed-exitcode
t_grep "the held workspace named with its holder" "Skipped: workspace gamma is held by " .out
t_grep "its row" "gamma                            0       0       0  held by " .out
t_grep "alpha's row" "alpha                            1       1       0  state updated" .out
t_grep "beta's row" "beta                             1       0       1  state updated" .out
t_grep "delta's row" "delta                            0       0       0  never applied: nothing to refresh" .out
t_grep "the count" "2 workspaces refreshed (2 states updated), 1 held by other runs, 0 failed." .out
t_eq "alpha's state holds the live content" "$(content alpha)" '"rogue"'
t_eq "beta's deleted object left its state" "$(oid beta)" ""
t_ok "no state made for delta" test ! -e .secfaas/delta.db
kill -9 $held
wait $held 2>/dev/null
t_rc 0 "plan --all --refresh-only: no drift left" $S plan --all --repo repo specs --refresh-only --detailed-exitcode
t_rc 0 "gamma's lock died with its run: refreshed now, nothing to write" $S refresh --all --repo repo specs --auto-approve --detailed-exitcode --summary
t_grep "gamma refreshed" "gamma                            0       0       0  no drift" .out
t_nogrep "--summary: no sections" "=== workspace" .out
t_end

t_begin "apply --all streams each workspace's lines with its name while they happen"
mkdir -p objs repo/specs
git init -q -b main repo
mkfifo gate.fifo out.fifo
printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: alpha}\nspec:\n  resources:\n    - {type: test_object, name: a, attributes: {dir: %s/objs, gate: %s/gate.fifo}}\n' "$T_DIR" "$T_DIR" >repo/specs/alpha.yaml
printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: beta}\nspec:\n  resources:\n    - {type: test_object, name: b, attributes: {dir: %s/objs}}\n' "$T_DIR" >repo/specs/beta.yaml
commit "two clusters" >/dev/null
$S apply --all --repo repo specs --auto-approve >out.fifo 2>&1 &
pid=$!
exec 3<out.fifo
# alpha waits at its gate until this test reads it, so its "Creating..."
# line can only be seen now if it is streamed (the bound only ends a hang)
timeout 120 sh -c 'while IFS= read -r l; do printf "%s\n" "$l"; case $l in "[alpha] test_object.a: Creating...") exit 0 ;; esac; done; exit 1' <&3 >seen.txt
t_eq "alpha's line arrived while alpha was still running" "$?" 0
cat gate.fifo >/dev/null
cat <&3 >>seen.txt
exec 3<&-
wait $pid
t_eq "apply --all succeeds" "$?" 0
t_grep "beta's lines, prefixed" "[beta] test_object.b: Creation complete after" seen.txt
t_grep "alpha finished" "[alpha] test_object.a: Creation complete after" seen.txt
t_grep "alpha's summary line" "[alpha] Apply complete! Resources: 1 added, 0 changed, 0 destroyed." seen.txt
t_grep "the table" "alpha                            1       0        0  applied" seen.txt
t_eq "no unprefixed resource lines" "$(grep -c '^test_object' seen.txt)" 0
t_end

t_begin "modules from the project: expansion and caller-positioned input errors"
cp "$SECFAAS_SRC/examples/modules.yaml" ok.yaml
t_rc 0 "module spec validates" env SECFAAS_MODULE_PATH="$SECFAAS_SRC/modules" $S validate ok.yaml
t_rc 0 "expanded node group renders with the sandbox taint" env SECFAAS_MODULE_PATH="$SECFAAS_SRC/modules" $S render node-config ok.yaml --node-group sandbox --artifact user-data
t_grep "taint" "--register-with-taints=secfaas.dev/sandbox=gvisor:NoSchedule" .out
printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}\nspec:\n  kubernetesVersion: "1.35"\n  network: {module: vpc-3az, inputs: {cidr: 10.50.0.0/16, azs: 3}}\n  nodeGroups:\n    - {module: gvisor-node-group, inputs: {nmae: s}}\n' >bad.yaml
t_rc 1 "bad inputs" env SECFAAS_MODULE_PATH="$SECFAAS_SRC/modules" $S validate bad.yaml
t_grep "unknown input at caller" 'bad.yaml:6:59: error: module vpc-3az has no input "azs"' .err
t_grep "did you mean" 'bad.yaml:8:44: error: module gvisor-node-group has no input "nmae"; did you mean "name"?' .err
t_end

finish
