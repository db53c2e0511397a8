#!/bin/sh
# The cost and time estimate at the end of a plan, against the local AWS's
# Price List API (tests/awssim, its dated price table): the lines for
# examples/full.yaml (golden full.txt: figures priced by hand in
# tests/unit/test_estimate.c), the JSON plan's "estimate", the same figures
# from the built-in table when the API is not asked or does not answer, no
# estimate for a plan of local files only, and apply times taken from the
# workspace's own past runs once it has some.  UPDATE_GOLDEN=1 rewrites
# full.txt; review the diff.
. "$SECFAAS_SRC/tests/lib.sh"
S=$SECFAAS
here="$SECFAAS_SRC/tests/estimate"
export NO_COLOR=1
sim_suite 0.001 0.001
FULL=$SECFAAS_SRC/examples/full.yaml

# the estimate block of a human plan: from its heading to the blank line
block() { sed -n '/^Estimate of what will exist/,/^$/p' "$1"; }
# est FILE EXPR: a Python expression over the JSON plan's estimate `e`
est() { /usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["estimate"]; print(eval(sys.argv[2]))' "$1" "$2"; }

t_begin "plan of examples/full.yaml ends with the estimate, priced by the Price List API"
t_rc 0 "plan" $S plan "$FULL" --state st.db
block .out >full.txt
if [ -n "${UPDATE_GOLDEN:-}" ]; then
	cp full.txt "$here/full.txt"
elif ! diff -u "$here/full.txt" full.txt >diff.out; then
	t_fail "estimate lines differ from golden:"
	sed 's/^/    /' diff.out | head -n 40
fi
t_grep "before the summary line" "Plan: 68 to add" .out
t_eq "the estimate comes just before the summary" "$(grep -B2 '^Plan:' .out | head -n 1 | cut -c1-15)" "  Longest chain"
t_eq "the simulator was asked for prices (signed for us-east-1)" \
	"$(curl -s "$AWSSIM_URL/_awssim/calls" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["calls"].get("pricing:GetProducts", 0) >= 4, [k for k in d["errors"] if k.startswith("pricing:")])')" "True []"
t_end

t_begin "JSON plan carries the estimate; the built-in table gives the same figures"
t_rc 0 "plan --json" $S plan "$FULL" --state st.db --json
cp .out api.json
t_eq "source" "$(est api.json 'e["price_source"], e["price_date"], e["currency"]')" "('AWS Price List API', '2026-11-20', 'USD')"
t_eq "monthly total" "$(est api.json 'e["monthly"]')" "727.16"
t_eq "hourly total" "$(est api.json 'e["hourly"]')" "0.99611"
t_rc 0 "plan --refresh=false --json" $S plan "$FULL" --state st.db --json --refresh=false
cp .out builtin.json
t_eq "built-in source, saying why" "$(est builtin.json 'e["price_source"], e["price_fallback"]')" \
	"('built-in price table', 'planned without refresh, so the Price List API was not asked')"
t_eq "the same items from both" "$(est builtin.json 'e["items"]')" "$(est api.json 'e["items"]')"
t_eq "apply time from built-in timings" "$(est api.json 'e["time_source"]')" "built-in typical EKS timings"
t_end

t_begin "Price List API unreachable: the built-in table, and why"
AWS_ENDPOINT_URL_PRICING=http://127.0.0.1:1 AWS_MAX_ATTEMPTS=1 t_rc 0 "plan" $S plan "$FULL" --state st.db
t_grep "fallback named" "prices: built-in price table, published 2026-11-20" .out
t_grep "reason given" "(the Price List API did not answer: " .out
t_grep "same total" '$727.16/month' .out
t_end

t_begin "plan --all asks the Price List API once per region, not once per workspace, even when it fails"
# pricing:GetProducts calls the local AWS has answered so far
pricing_calls() { curl -s "$AWSSIM_URL/_awssim/calls" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"].get("pricing:GetProducts", 0))'; }
mkdir fleet one
for w in a b c; do sed "s/name: fn-minimal/name: fleet-$w/" "$SECFAAS_SRC/examples/minimal.yaml" >"fleet/$w.yaml"; done
cp fleet/a.yaml one/
before=$(pricing_calls)
t_rc 0 "plan --all of one workspace" $S plan --all one --backend one-state
single=$(($(pricing_calls) - before))
t_ok "one workspace asks" test "$single" -ge 4
before=$(pricing_calls)
t_rc 0 "plan --all of three in eu-west-1" $S plan --all fleet --backend fleet-state
t_eq "three workspaces of one region ask as often as one" "$(($(pricing_calls) - before))" "$single"
t_eq "each workspace is priced" "$(grep -c '^Estimate of what will exist (eu-west-1' .out)" 3
t_eq "from the API" "$(grep -c 'prices: AWS Price List API' .out)" 3
# another region and an instance type no workspace named yet: that region
# asks once more in full; the new type alone is one more query
sed 's/name: fleet-a/name: fleet-d/; s/region: eu-west-1/region: us-east-1/' fleet/a.yaml >fleet/d.yaml
sed 's/name: fleet-a/name: fleet-e/; s/\[m6i.large\]/[m7g.large]/' fleet/a.yaml >fleet/e.yaml
before=$(pricing_calls)
t_rc 0 "plan --all of five in two regions" $S plan --all fleet --backend fleet-state --json
t_eq "one more region: twice the calls, and one for the new type" "$(($(pricing_calls) - before))" "$((2 * single + 1))"
t_eq "every workspace priced from the API" \
	"$(/usr/bin/python3 -c 'import json; d=json.load(open(".out"))["workspaces"]; print(sorted((w, d[w]["estimate"]["price_source"], d[w]["estimate"]["region"]) for w in d))')" \
	"[('fleet-a', 'AWS Price List API', 'eu-west-1'), ('fleet-b', 'AWS Price List API', 'eu-west-1'), ('fleet-c', 'AWS Price List API', 'eu-west-1'), ('fleet-d', 'AWS Price List API', 'us-east-1'), ('fleet-e', 'AWS Price List API', 'eu-west-1')]"
t_eq "the new type is priced" \
	"$(/usr/bin/python3 -c 'import json; e=json.load(open(".out"))["workspaces"]["fleet-e"]["estimate"]; print([i["what"] for i in e["items"] if i["what"].startswith("m7g")], e["unpriced"])')" \
	"['m7g.large On-Demand'] []"
# the API failing: asked once per region, then the built-in table
curl -s -X POST "$AWSSIM_URL/_awssim/faults" \
	-d '{"rules":[{"service":"pricing","operation":"GetProducts","kind":"http500"}]}' >/dev/null
before=$(pricing_calls)
AWS_MAX_ATTEMPTS=1 t_rc 0 "plan --all" $S plan --all fleet --backend fleet-state
curl -s -X DELETE "$AWSSIM_URL/_awssim/faults" >/dev/null
t_eq "one failed ask per region (two regions)" "$(($(pricing_calls) - before))" 2
t_eq "every workspace says why" "$(grep -c '(the Price List API did not answer: ' .out)" 5
t_eq "and is priced from the built-in table" "$(grep -c 'prices: built-in price table' .out)" 5
t_end

t_begin "a Stack of local files has no estimate"
cat >spec.yaml <<'YAML'
apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: local}
spec:
  resources:
    - {type: local_file, name: a, attributes: {path: out/a.txt, content: hello}}
YAML
t_rc 0 "plan" $S plan spec.yaml
t_nogrep "no estimate lines" "Estimate" .out
t_rc 0 "plan --json" $S plan spec.yaml --json
t_eq "no estimate in JSON" "$(/usr/bin/python3 -c 'import json,sys; print("estimate" in json.load(open(".out")))')" False
t_end

t_begin "apply time from the workspace's own past runs"
MIN=$SECFAAS_SRC/examples/minimal.yaml
t_rc 0 "plan with no history" $S plan "$MIN" --state m.db --json
cp .out builtin.json
before=$(pricing_calls)
t_rc 0 "apply minimal" $S apply "$MIN" --state m.db --auto-approve
t_grep "apply --auto-approve prices from the built-in table, saying why" \
	"(--auto-approve: nobody reviews it first, so the Price List API was not asked (secfaas plan asks it))" .out
t_rc 0 "destroy minimal" $S destroy "$MIN" --state m.db --auto-approve --json
t_eq "neither apply nor destroy --auto-approve asks the Price List API" "$(($(pricing_calls) - before))" 0
t_rc 0 "plan again" $S plan "$MIN" --state m.db --json
t_eq "history first" "$(est .out 'e["time_source"].startswith("this workspace\x27s past runs")')" True
# the simulated cluster took seconds, not the built-in 8-12 minutes.  A
# step whose final wait slept until something needed it (the NAT gateway,
# the baked image: apply.c, needed_cb) leaves no history, since its end
# came at some time during the sleep: the estimate takes the built-in
# figure for it, and only the steps that were timed move.
hb=$(est builtin.json 'e["apply_seconds"]["high"]')
t_eq "the history's short durations count (built-in up to ${hb} s, now $(est .out 'e["apply_seconds"]["high"]') s)" \
	"$(est .out "e['apply_seconds']['high'] < $hb")" True
t_eq "a node group on the longest chain takes its own past time (seconds here), not the built-in 2.5-5 minutes" \
	"$(est .out '[p["high"] < 150 for p in e["critical_path"] if p["address"].startswith("eks_nodegroup.")]')" '[True]'
t_end
finish
