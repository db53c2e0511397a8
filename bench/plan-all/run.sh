#!/bin/sh
# bench/plan-all: `plan --all --summary` of a fleet of N fresh workspaces
# (examples/minimal.yaml under N names, one file each, nothing applied),
# from a spec directory and from a git ref, and the same at N/4 to show
# how the time grows (linear 4x; re-reading every spec per workspace gives
# 16x).  Prints the medians against the goal (< 2 s for 500) as ratios
# (< 1.00 meets it), and whether the plans left any state behind (a plan
# creates none).  A benchmark, not a test: it never fails on slowness.
set -eu
S=${1:-${SECFAAS:?usage: run.sh SECFAAS_BINARY (or SECFAAS=...)}}
N=${N:-500}
RUNS=${RUNS:-3}
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
SRC=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d "${TMPDIR:-/tmp}/plan-all.XXXXXX")
trap 'rm -rf "$d"' EXIT
/usr/bin/python3 - "$S" "$N" "$RUNS" "$SRC/examples/minimal.yaml" "$d" <<'PY'
import os, subprocess, sys, time
s, n, runs, example, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
text = open(example).read()
env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.invalid", GIT_COMMITTER_NAME="b",
           GIT_COMMITTER_EMAIL="b@example.invalid", NO_COLOR="1")

def fleet(k):
    root = os.path.join(d, "n%d" % k)
    os.makedirs(os.path.join(root, "repo", "specs"))
    for i in range(k):
        with open(os.path.join(root, "repo", "specs", "w%04d.yaml" % i), "w") as f:
            f.write(text.replace("name: fn-minimal", "name: fn-w%04d" % i))
    for a in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "fleet"]):
        subprocess.run(["git", "-C", os.path.join(root, "repo")] + a, check=True, env=env)
    return root

def plan(root, args, k):
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run([s, "plan", "--all", "--summary"] + args, cwd=root, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit("plan-all: plan --all exited %d: %s" % (r.returncode, r.stderr.decode()[-400:]))
        rows = sum(1 for l in r.stdout.decode().splitlines() if l.startswith("fn-w") and l.endswith("changes"))
        if rows != k:
            sys.exit("plan-all: %d of %d workspaces planned" % (rows, k))
    walls.sort()
    return walls[len(walls) // 2]

def states(root):
    n = 0
    for dp, _, files in os.walk(root):
        n += sum(1 for f in files if ".db" in f)
    return n

res = {}
for k in (n // 4, n):
    root = fleet(k)
    res[k] = {"directory": plan(root, ["repo/specs"], k), "git ref": plan(root, ["--repo", "repo", "--ref", "main", "specs"], k)}
    left = states(root)
print("plan-all: plan --all --summary of %d fresh workspaces (examples/minimal.yaml), median of %d" % (n, runs))
summary = []
for src in ("directory", "git ref"):
    big, small = res[n][src], res[n // 4][src]
    print("  from a %-9s %6.2f s  goal 2 s  ratio %.2f   (%d workspaces %.2f s: growth %.1fx for 4x, linear 4)"
          % (src, big, big / 2, n // 4, small, big / small))
    summary.append("%.2f s from a %s (ratio %.2f)" % (big, src, big / 2))
print("  state files left by the plans: %d (goal 0)" % left)
if os.environ.get("BENCH_SUMMARY"):
    with open(os.environ["BENCH_SUMMARY"], "a") as f:
        f.write("%-27s %s; growth %.1fx for 4x; %d state files left\n"
                % ("plan --all (%d fresh)" % n, ", ".join(summary), res[n]["directory"] / res[n // 4]["directory"], left))
PY
