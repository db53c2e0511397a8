#!/bin/sh
# Golden plan output: each case NNNN-name/ has spec.yaml, optionally
# before.yaml (applied first), and the expected plan.txt (human) and
# plan.json (--json). Volatile values (object ids, timestamps, lineage) are
# normalised. UPDATE_GOLDEN=1 rewrites the golden files; review the diff.
. "$SECFAAS_SRC/tests/lib.sh"
here="$SECFAAS_SRC/tests/plan"
export NO_COLOR=1
norm() {
	sed -E -e 's/obj-[0-9a-f]{16}/obj-ID/g' -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/TIME/g' \
		-e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/LINEAGE/g' \
		-e 's/"serial": [0-9]+/"serial": N/'
}
for c in "$here"/[0-9]*/; do
	name=$(basename "$c")
	t_begin "$name"
	mkdir objs out
	if [ -f "$c/before.yaml" ]; then
		$SECFAAS apply "$c/before.yaml" --auto-approve >before.log 2>&1
	fi
	cp "$c/spec.yaml" spec.yaml
	$SECFAAS plan spec.yaml >plan.raw 2>plan.err
	rc=$?
	[ $rc -eq 0 ] || t_fail "plan exited $rc: $(cat plan.err)"
	$SECFAAS plan spec.yaml --json >json.raw 2>>plan.err
	norm <plan.raw >plan.txt
	norm <json.raw >plan.json
	for f in plan.txt plan.json; do
		if [ -n "${UPDATE_GOLDEN:-}" ]; then
			cp "$f" "$c/$f"
		elif ! diff -u "$c/$f" "$f" >diff.out; then
			t_fail "$f differs from golden:"
			sed 's/^/    /' diff.out | head -n 40
		fi
	done
	t_nogrep "no secret in plan" "not-printed" plan.txt
	t_nogrep "no secret in json" "not-printed" plan.json
	t_end
done
finish
