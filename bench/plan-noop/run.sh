#!/bin/sh
# bench/plan-noop: a 200-resource spec, already applied; time a no-op plan
# without refresh, and the start-up of `version` and `validate`. Prints wall
# time and peak RSS against the goals (< 20 ms, < 30 MB; < 5 ms) as ratios
# (< 1.00 meets the goal). A benchmark, not a
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
walls, cpus = [], []
def cpu_now():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime
for _ in range(runs):
    c0 = cpu_now()
    t = time.perf_counter()
    r = subprocess.run([s, "plan", "spec.yaml", "--refresh=false", "--detailed-exitcode"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    walls.append(time.perf_counter() - t)
    cpus.append(cpu_now() - c0)
    if r.returncode != 0:
        sys.exit("plan-noop: plan exited %d (expected 0, no changes): %s" % (r.returncode, r.stderr.decode()))
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
walls.sort()
med = walls[len(walls) // 2] * 1000
# start-up: commands that touch no state and no network
starts = {}
for name, argv in (("version", [s, "version"]), ("validate", [s, "validate", "spec.yaml"])):
    t_all = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t_all.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit("plan-noop: %s exited %d: %s" % (name, r.returncode, r.stderr.decode()))
    t_all.sort()
    starts[name] = t_all[len(t_all) // 2] * 1000
print("plan-noop: %d resources, %d runs" % (n, runs))
print("  wall  median %.1f ms (min %.1f, max %.1f)  goal 20 ms  ratio %.2f" % (med, walls[0] * 1000, walls[-1] * 1000, med / 20))
print("  peak RSS %.1f MB  goal 30 MB  ratio %.2f" % (rss_mb, rss_mb / 30))
# CPU time (user + system) moves less with the machine's load than wall time
cpus.sort()
print("  CPU   median %.1f ms (what wall time would be on an idle core)" % (cpus[len(cpus) // 2] * 1000))
for name in ("version", "validate"):
    print("  %-8s median %.1f ms  goal 5 ms  ratio %.2f" % (name, starts[name], starts[name] / 5))
if os.environ.get("BENCH_SUMMARY"):
    with open(os.environ["BENCH_SUMMARY"], "a") as f:
        f.write("%-27s %.1f ms (goal < 20 ms, ratio %.2f), %.1f MB (goal < 30 MB, ratio %.2f)\n"
                % ("plan-noop (%d resources)" % n, med, med / 20, rss_mb, rss_mb / 30))
        f.write("%-27s version %.1f ms, validate %.1f ms (goal < 5 ms, ratios %.2f, %.2f)\n"
                % ("start-up", starts["version"], starts["validate"], starts["version"] / 5, starts["validate"] / 5))
PY
