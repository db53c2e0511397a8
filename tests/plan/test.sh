#!/bin/sh
# Golden plan output: each case NNNN-name/ has spec.yaml, optionally
# before.yaml (applied first), and the expected plan.txt (human) and
# plan.json (--json).  A case with a `command` file runs that secfaas
# command line on spec.yaml instead (apply, destroy, ...) and compares its
# stdout and stderr with out.txt and err.txt: the wording of apply events
# and summaries.  Volatile values (object ids, timestamps, lineage,
# durations, deposed keys) are normalised. UPDATE_GOLDEN=1 rewrites the
# golden files; review the diff.
. "$SECFAAS_SRC/tests/lib.sh"
here="$SECFAAS_SRC/tests/plan"
export NO_COLOR=1
norm() {
	sed -E -e 's/obj-[0-9a-f]{16}/obj-ID/g' -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/TIME/g' \
		-e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/LINEAGE/g' \
		-e 's/"serial": [0-9]+/"serial": N/' \
		-e 's/(after|Apply failed after|Destroy failed after) [0-9]+[hms][0-9hms]*/\1 DUR/g' \
		-e 's/\([0-9]+[hms][0-9hms]*\)$/(DUR)/' \
		-e 's/deposed object [0-9a-f]{8}/deposed object KEY/g'
}
compare() { # FILE...: against the case's golden copies
	for f in "$@"; do
		if [ -n "${UPDATE_GOLDEN:-}" ]; then
			cp "$f" "$c/$f"
		elif ! diff -u "$c/$f" "$f" >diff.out; then
			t_fail "$f differs from golden:"
			sed 's/^/    /' diff.out | head -n 40
		fi
	done
}
for c in "$here"/[0-9]*/; do
	name=$(basename "$c")
	t_begin "$name"
	mkdir objs out
	if [ -f "$c/before.yaml" ]; then
		$SECFAAS apply "$c/before.yaml" --auto-approve >before.log 2>&1
	fi
	cp "$c/spec.yaml" spec.yaml
	if [ -f "$c/command" ]; then
		# shellcheck disable=SC2046 # the command file holds words
		$SECFAAS $(cat "$c/command") spec.yaml >out.raw 2>err.raw
		echo "exit $?" >>out.raw
		norm <out.raw >out.txt
		norm <err.raw >err.txt
		compare out.txt err.txt
		t_nogrep "no secret in output" "not-printed" out.txt
		t_end
		continue
	fi
	$SECFAAS plan spec.yaml >plan.raw 2>plan.err
	rc=$?
	[ $rc -eq 0 ] || t_fail "plan exited $rc: $(cat plan.err)"
	$SECFAAS plan spec.yaml --json >json.raw 2>>plan.err
	norm <plan.raw >plan.txt
	norm <json.raw >plan.json
	compare plan.txt plan.json
	t_nogrep "no secret in plan" "not-printed" plan.txt
	t_nogrep "no secret in json" "not-printed" plan.json
	t_end
done
finish
