#!/bin/sh
# bench/plan-noop: a 200-resource spec, already applied; time a no-op plan
# without refresh. Prints wall time and peak RSS against the goals
# (< 20 ms, < 30 MB) as ratios (< 1.00 meets the goal). A benchmark, not a
# test: it never fails on slowness.
set -eu
S=${1:-${SECFAAS:?usage: run.sh SECFAAS_BINARY (or SECFAAS=...)}}
N=${N:-200}
RUNS=${RUNS:-20}
d=$(mktemp -d "${TMPDIR:-/tmp}/plan-noop.XXXXXX")
trap 'rm -rf "$d"' EXIT
cd "$d"
mkdir objs
{
	printf 'apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata: {name: bench}\nspec:\n  resources:\n'
	i=0
	while [ $i -lt "$N" ]; do
		if [ $i -eq 0 ]; then
			printf '    - {type: test_object, name: r%d, attributes: {dir: objs, content: "root"}}\n' $i
		else
			printf '    - {type: test_object, name: r%d, attributes: {dir: objs, content: "after ${test_object.r%d.id}"}}\n' $i $((i / 2))
		fi
		i=$((i + 1))
	done
} >spec.yaml
"$S" apply spec.yaml --auto-approve --parallelism 10 >/dev/null
/usr/bin/python3 - "$S" "$RUNS" "$N" <<'PY'
import os, resource, subprocess, sys, time
s, runs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
walls = []
for _ in range(runs):
    t = time.perf_counter()
    r = subprocess.run([s, "plan", "spec.yaml", "--refresh=false", "--detailed-exitcode"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    walls.append(time.perf_counter() - t)
    if r.returncode != 0:
        sys.exit("plan-noop: plan exited %d (expected 0, no changes): %s" % (r.returncode, r.stderr.decode()))
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
walls.sort()
med = walls[len(walls) // 2] * 1000
print("plan-noop: %d resources, %d runs" % (n, runs))
print("  wall  median %.1f ms (min %.1f, max %.1f)  goal 20 ms  ratio %.2f" % (med, walls[0] * 1000, walls[-1] * 1000, med / 20))
print("  peak RSS %.1f MB  goal 30 MB  ratio %.2f" % (rss_mb, rss_mb / 30))
if os.environ.get("BENCH_SUMMARY"):
    with open(os.environ["BENCH_SUMMARY"], "a") as f:
        f.write("%-27s %.1f ms (goal < 20 ms, ratio %.2f), %.1f MB (goal < 30 MB, ratio %.2f)\n"
                % ("plan-noop (%d resources)" % n, med, med / 20, rss_mb, rss_mb / 30))
PY
