#!/bin/sh
# The layer check (tools/layers.sh over tools/layers.txt): the tree as it
# is passes, and a temporary copy with one climbing include, one climbing
# call, a climbing table row or an unlisted directory fails, naming the
# file, the line or symbol and the rule.
. "$SECFAAS_SRC/tests/lib.sh"
SRC=$SECFAAS_SRC
OBJ=$SECFAAS_BUILD/obj

# copy_tree DIR: the product sources and the table, without build output.
copy_tree() {
	mkdir -p "$1/tools"
	for d in lib aws kube state resources provisioner; do
		cp -R "$SRC/$d" "$1/"
	done
	cp "$SRC/tools/layers.sh" "$SRC/tools/layers.txt" "$1/tools/"
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

finish
