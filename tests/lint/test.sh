#!/bin/sh
# The layer check (tools/layers.sh over tools/layers.txt): the tree as it
# is passes, and a temporary copy with one climbing include, one climbing
# call, a climbing table row or an unlisted directory fails, naming the
# file, the line or symbol and the rule.  The names check (tools/refs.py)
# passes on the tree and fails on a comment or document that names a file
# the tree does not have or a path outside it.
. "$SECFAAS_SRC/tests/lib.sh"
SRC=$SECFAAS_SRC
OBJ=$SECFAAS_BUILD/obj

# copy_tree DIR: the product sources and the table, without build output.
copy_tree() {
	mkdir -p "$1/tools"
	for d in lib aws kube state resources provisioner; do
		cp -R "$SRC/$d" "$1/"
	done
	cp "$SRC/tools/layers.sh" "$SRC/tools/layers.txt" "$SRC/tools/lint.sh" "$1/tools/"
}

# copy_objects DIR: the product objects of the build (not the unit tests).
copy_objects() {
	mkdir -p "$1"
	(cd "$OBJ" && find . -name '*.o' ! -path './tests/*' | tar -cf - -T -) | tar -C "$1" -xf -
}

t_begin "the tree passes"
t_rc 0 "layers on the source tree" sh "$SRC/tools/layers.sh" -r "$SRC" -o "$OBJ"
t_end

t_begin "a climbing include fails"
copy_tree src
# lib/ is floor 0; the engine is floor 4.
printf '#include "provisioner/engine/plan.h"\n' >>src/lib/util.c
line=$(wc -l <src/lib/util.c | tr -d ' ')
t_rc 1 "layers with lib/util.c including the engine" sh src/tools/layers.sh -r src -o empty
t_grep "names file, line and target" "layers: lib/util.c:$line: includes provisioner/engine/plan.h" "$T_DIR/.out"
t_grep "names the rule" "lib (floor 0) may use only: nothing" "$T_DIR/.out"
t_eq "one violation" "$(grep -c ' may use only: ' "$T_DIR/.out")" 1
# make lint runs tools/lint.sh, whose layer step fails the same way
t_rc 1 "tools/lint.sh (make lint) with the climbing include" env LINT_ONLY=layers sh src/tools/lint.sh empty
t_grep "make lint names it" "layers: lib/util.c:$line: includes provisioner/engine/plan.h" "$T_DIR/.out"
t_nogrep "make lint is not clean" "lint: clean" "$T_DIR/.out"
t_end

t_begin "a climbing include between middle floors fails"
copy_tree src
# resources/ (floor 5) including the Cluster kind (floor 6).
printf '#include "provisioner/kinds/cluster.h"\n' >>src/resources/local_file.c
t_rc 1 "layers with a resource type including a kind" sh src/tools/layers.sh -r src -o empty
t_grep "names the target and its floor" "includes provisioner/kinds/cluster.h (provisioner/kinds, floor 6)" "$T_DIR/.out"
t_grep "names the allowed set" "resources (floor 5) may use only: lib aws kube provisioner/node provisioner/engine" "$T_DIR/.out"
t_end

t_begin "a climbing call fails"
copy_tree src
copy_objects obj
# A lib/ function calling the engine: the include is left out on purpose,
# so only the call check can see it.
cat >src/lib/climb.c <<'EOF'
struct sf_plan;
void sf_plan_release(struct sf_plan *plan);
void sf_climb(void);
void sf_climb(void)
{
	sf_plan_release(0);
}
EOF
mkdir -p obj/lib
t_ok "compile the climbing object" cc -c -o obj/lib/climb.o src/lib/climb.c
t_rc 1 "layers with lib/climb.o calling the engine" sh src/tools/layers.sh -r src -o obj
t_grep "names file, line and symbol" "layers: lib/climb.c:6: calls sf_plan_release (provisioner/engine/plan.c, floor 4)" "$T_DIR/.out"
t_grep "names the rule" "lib (floor 0) may use only: nothing" "$T_DIR/.out"
t_eq "one violation" "$(grep -c ' may use only: ' "$T_DIR/.out")" 1
t_end

t_begin "the copied tree and objects pass"
copy_tree src
copy_objects obj
t_rc 0 "layers on an unmodified copy" sh src/tools/layers.sh -r src -o obj
t_end

t_begin "a climbing row in the table fails"
copy_tree src
sed 's|^\(4 *provisioner/engine .*\)$|\1 resources|' "$SRC/tools/layers.txt" >src/tools/layers.txt
t_rc 1 "layers with the engine allowed to use resources" sh src/tools/layers.sh -r src -o empty
t_grep "names the climbing row" "provisioner/engine (floor 4) uses resources (floor 5): a dependency climbs" "$T_DIR/.out"
t_grep "names the circle" "circle between provisioner/engine and resources" "$T_DIR/.out"
t_end

t_begin "a directory without a row fails"
copy_tree src
mkdir -p src/provisioner/extra
printf 'int sf_extra(void);\nint sf_extra(void) { return 0; }\n' >src/provisioner/extra/extra.c
t_rc 1 "layers with an unlisted directory" sh src/tools/layers.sh -r src -o empty
t_grep "names the directory" "provisioner/extra/extra.c: directory provisioner/extra has no row in tools/layers.txt" "$T_DIR/.out"
t_end

# The names check (tools/refs.py): comments and documents name only files
# of the tree.
t_begin "the tree names only its own files"
t_rc 0 "refs on the source tree" python3 "$SRC/tools/refs.py" "$SRC"
t_end

t_begin "a comment naming a missing file fails"
mkdir -p tree/lib tree/docs
printf '/* see lib/b.h, b.h, the tail engine/x.h and cmd_<verb>.c */\nint a;\n' >tree/lib/a.c
printf 'int b;\n' >tree/lib/b.h
mkdir -p tree/provisioner/engine
printf 'int x;\n' >tree/provisioner/engine/x.h
printf '# Doc\n\nSee `lib/a.c` and `provisioner/engine/x.h`.\n' >tree/docs/a.md
t_rc 0 "refs on names that resolve" python3 "$SRC/tools/refs.py" tree
printf 'int c; /* as provisioner/render.c does */\n// and lib/gone.h\n' >tree/lib/c.c
t_rc 1 "refs with a comment naming a moved file" python3 "$SRC/tools/refs.py" tree
t_grep "names file, line and name" "lib/c.c:1: names provisioner/render.c, which is not in the repository" "$T_DIR/.out"
t_grep "a line comment too" "lib/c.c:2: names lib/gone.h, which is not in the repository" "$T_DIR/.out"
t_eq "two findings" "$(grep -c 'names' "$T_DIR/.out")" 2
t_end

t_begin "a document citing one outside the tree fails"
mkdir -p tree/docs
printf '# Doc\n\nFacts: `/home/dev/notes/x.md`, `style.md`.\n' >tree/docs/a.md
printf 'char *s = "/* not a comment: gone.c */";\n' >tree/a.c
t_rc 1 "refs with a document citing outside notes" python3 "$SRC/tools/refs.py" tree
t_grep "names the absolute path" "docs/a.md:3: names /home/dev/notes/x.md, a path outside the repository" "$T_DIR/.out"
t_grep "names the missing document" "docs/a.md:3: names style.md, which is not in the repository" "$T_DIR/.out"
t_nogrep "strings are not comments" "gone.c" "$T_DIR/.out"
t_end

# Every suite starts the local AWS through sim_suite (tests/lib.sh).
t_begin "the suites share one simulator start"
t_rc 0 "sims on the source tree" env LINT_ONLY=sims sh "$SRC/tools/lint.sh"
copy_tree src
mkdir -p src/tests/hand src/tests/aws
printf '. "$SECFAAS_SRC/tests/lib.sh"\ntrap sim_stop_all EXIT\nsim_awssim "$T_ROOT/awssim" --timescale 0.001 || exit 1\n' >src/tests/hand/test.sh
printf 'if sim_awssim "$S" --tls; then :; fi\n' >src/tests/aws/test.sh
t_rc 1 "sims with a suite starting awssim by hand" env LINT_ONLY=sims sh src/tools/lint.sh
t_grep "names file and line" "tests/hand/test.sh:3:sim_awssim" "$T_DIR/.out"
t_grep "says what to use" "with sim_suite (tests/lib.sh)" "$T_DIR/.out"
t_nogrep "the simulator's own tests may" "tests/aws/" "$T_DIR/.out"
t_end

finish
