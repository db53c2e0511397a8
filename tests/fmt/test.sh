#!/bin/sh
# `secfaas fmt`, offline: every example is formatted without a change of
# meaning (the unit test tests/unit/test_fmt.c compares their lowering);
# --check exits 3 on an unformatted file and changes nothing, 0 once it is
# formatted; --diff shows the change; a directory is formatted file by
# file; a file libyaml cannot read is refused with its position and left
# alone.  The bad-input table (tests/unit/test_spec.c, written out by
# test_spec): formatting never changes what validate says of a case, only
# where (line and column), and never fails on a case that is valid YAML.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
export NO_COLOR=1

# validate's messages without positions: "file:line:col: " and "line N"
msgs() { $S validate "$1" 2>&1 | sed -E -e 's/^[^ ]*:[0-9]+:[0-9]+: //' -e 's/line [0-9]+/line N/g' -e "s|$1|SPEC|g" | sort; }

t_begin "every example: fmt keeps validate's verdict and is stable"
mkdir ex
cp "$SECFAAS_SRC"/examples/*.yaml ex/
for f in ex/*.yaml; do
	before=$(SECFAAS_MODULE_PATH="$SECFAAS_SRC/modules" msgs "$f")
	t_rc 0 "fmt $f" $S fmt "$f"
	t_rc 0 "fmt --check $f after fmt" $S fmt --check "$f"
	t_eq "nothing listed for $f" "$(cat .out)" ""
	t_eq "validate says the same of $f" "$(SECFAAS_MODULE_PATH="$SECFAAS_SRC/modules" msgs "$f")" "$before"
	t_eq "comment lines kept in $f" "$(grep -c '^ *#' "$f")" "$(grep -c '^ *#' "$SECFAAS_SRC/examples/$(basename "$f")")"
done
t_end

t_begin "the project's own examples are formatted (fmt --check in CI passes on them)"
t_rc 0 "fmt --check examples/" $S fmt --check "$SECFAAS_SRC/examples/"
t_eq "nothing listed" "$(cat .out)" ""
t_end

t_begin "--check for CI: exit 3 and nothing written; --diff; then formatted"
cat >s.yaml <<'YAML'
# a stack
apiVersion: secfaas.dev/v1alpha1
kind:     Stack   # the kind
metadata: {name: fmt,   region: eu-west-1}
spec:
  resources:
      - {type: local_file, name: a, attributes: {path: out/a, content: hi}}
YAML
cp s.yaml orig.yaml
t_rc 3 "--check on an unformatted file" $S fmt --check s.yaml
t_eq "names the file" "$(cat .out)" "s.yaml"
t_ok "nothing written" cmp -s s.yaml orig.yaml
t_rc 3 "--check --diff" $S fmt --check --diff s.yaml
t_grep "diff header" "--- s.yaml" .out
t_grep "old line" "-kind:     Stack   # the kind" .out
t_grep "new line" "+kind: Stack  # the kind" .out
t_ok "still nothing written" cmp -s s.yaml orig.yaml
t_rc 0 "fmt" $S fmt s.yaml
t_eq "lists what it changed" "$(cat .out)" "s.yaml"
t_rc 0 "then --check passes" $S fmt --check s.yaml
t_grep "comment kept" "kind: Stack  # the kind" s.yaml
t_grep "head comment kept" "# a stack" s.yaml
t_rc 0 "validate the result" $S validate s.yaml
t_end

t_begin "a directory; an unreadable file is refused and left alone"
mkdir d
printf 'a:   1\n' >d/one.yaml
printf 'b: [1, 2\n' >d/two.yml
cp d/two.yml two.orig
printf 'not: yaml: here\n' >d/notes.txt
t_rc 1 "fmt d" $S fmt d
t_eq "the readable one formatted" "$(cat d/one.yaml)" "a: 1"
t_grep "position of the problem" "d/two.yml:2:1: invalid YAML" .err
t_ok "the unreadable one untouched" cmp -s d/two.yml two.orig
t_eq "other files untouched" "$(cat d/notes.txt)" "not: yaml: here"
t_rc 1 "a misspelt option" $S fmt --chek d
t_grep "did you mean" "did you mean --check?" .err
t_end

t_begin "the bad-input table: validate says the same before and after fmt"
mkdir cases
t_ok "the bad-input table written out" env SECFAAS_SPEC_CASES="$T_DIR/cases" "$SECFAAS_BUILD/tests/test_spec"
n=0
for y in cases/*.yaml; do
	name=$(cat "${y%.yaml}.name")
	before=$(msgs "$y")
	if $S fmt "$y" >fmt.out 2>fmt.err; then
		n=$((n + 1))
		t_eq "$name: validate's verdict" "$(msgs "$y")" "$before"
	else
		# only text libyaml cannot read may be refused
		grep -q "invalid YAML" fmt.err || t_fail "$name: fmt refused: $(cat fmt.err)"
		printf '%s\n' "$before" | grep -qi "yaml" || t_fail "$name: fmt refused a file validate reads: $(cat fmt.err)"
	fi
done
t_ok "most cases are formatted" test "$n" -ge 25
t_end

finish
