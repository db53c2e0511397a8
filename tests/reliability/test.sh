#!/bin/sh
# Reliability against the local AWS (tests/awssim): every mutating AWS call
# of a full cluster apply and destroy, taken from the simulator's call log
# of a clean run (drive.py baseline), so an operation secfaas starts to
# make is covered without editing this file:
#   - its reply lost once (the call runs, its reply is cut), all of them in
#     one apply and one destroy that must converge with no re-run;
#   - kill -9 while it is in flight, then the next run resumes;
#   - force-unlock --force against a live apply: it must stop at its next
#     state write while a second apply takes over (fencing);
# Each checks the simulator's inventory: never more objects of a kind than
# the clean run made (duplicates), a converged plan, and an empty inventory
# after destroy (orphans, leaks);
#   - 4 seeds of 10 % mixed faults (throttle, 500, 503, reset, truncate) on
#     every call, apply and destroy each converging in one run
#     (RELIABILITY_SEEDS="first count" picks others).
# `make soak` runs the longer form (tests/reliability/soak.sh): one run per
# operation, and 16 seeds.
. "$SECFAAS_SRC/tests/lib.sh"
export NO_COLOR=1
sim_suite 0.001 0.001
DRIVE="/usr/bin/python3 $SECFAAS_SRC/tests/reliability/drive.py"
WORK=$T_ROOT/work
mkdir -p "$WORK"
cp "$SECFAAS_SRC/tests/reliability/cluster.yaml" "$WORK/c.yaml"

# drive NAME MODE [ARGS]: one case, the report printed either way
drive() {
	name=$1
	shift
	t_begin "$name"
	if ! $DRIVE "$AWSSIM_URL" "$WORK" "$@" >"$T_DIR/report" 2>&1; then
		t_fail "$name"
	fi
	sed 's/^/    /' "$T_DIR/report"
	t_end
}

drive "clean apply and destroy: the operations to cover" baseline
[ "$T_FAIL" -eq 0 ] || finish
drive "every mutating call's reply lost once" lost
drive "kill -9 during every mutating call, then re-run" kill
drive "a run that lost its lock stops; the new holder converges" fence
# shellcheck disable=SC2086
drive "10% mixed faults converge without a re-run" seeds ${RELIABILITY_SEEDS:-1 4}
finish
