#!/bin/sh
# bench/plan-all: `plan --all --summary` of a fleet of N fresh workspaces
# (examples/minimal.yaml under N names, one file each, nothing applied),
# from a spec directory and from a git ref, and the same at N/4 to show
# how the time grows (linear 4x; re-reading every spec per workspace gives
# 16x).  A fresh plan asks AWS whether the names it would create are free
# and which EKS and add-on versions exist, so the plans run against a
# private local AWS (bench/lib/sim.py: loopback only, test keys, instance
# metadata off): without it the credential chain would fall through to the
# EC2 instance metadata address, off this machine, and every check would
# fail into a warning, measuring a degraded plan.  Prints the medians
# against the goal (< 2 s for 500) as ratios (< 1.00 meets it), the AWS
# calls per workspace read from the local AWS's call log (and, for N, by
# operation), and whether the plans left any state behind (a plan creates
# none).  A benchmark, not a test: it never fails on slowness, only when a
# plan broke, printed a warning that an AWS check could not be made, or had
# an AWS call fail other than with the not-found its name check expects.
set -eu
S=${1:-${SECFAAS:?usage: run.sh SECFAAS_BINARY (or SECFAAS=...)}}
N=${N:-500}
RUNS=${RUNS:-3}
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
SRC=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d "${TMPDIR:-/tmp}/plan-all.XXXXXX")
trap 'rm -rf "$d"' EXIT
/usr/bin/python3 - "$S" "$N" "$RUNS" "$SRC" "$d" <<'PY'
import os, subprocess, sys, time
s, n, runs, src, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, os.path.join(src, "bench", "lib"))
from sim import Sim  # noqa: E402
text = open(os.path.join(src, "examples", "minimal.yaml")).read()
# what a plan prints when an AWS check could not be made (stdout without
# --summary, either stream in any case)
DEGRADED = ("could not be read", "no AWS credentials", "did not answer")
# the answers a fresh plan's name checks expect: the name is free
FREE = ("NoSuchEntity", "ResourceNotFoundException")

def fleet(k, env):
    root = os.path.join(d, "n%d" % k)
    os.makedirs(os.path.join(root, "repo", "specs"))
    for i in range(k):
        with open(os.path.join(root, "repo", "specs", "w%04d.yaml" % i), "w") as f:
            f.write(text.replace("name: fn-minimal", "name: fn-w%04d" % i))
    for a in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "fleet"]):
        subprocess.run(["git", "-C", os.path.join(root, "repo")] + a, check=True, env=env)
    return root

def degraded(what, out):
    bad = [l.strip() for l in out.splitlines() if any(p in l for p in DEGRADED)]
    if bad:
        sys.exit("plan-all: %s printed %d warning(s) that an AWS check could not be made, so it would measure a "
                 "degraded plan; first: %s" % (what, len(bad), bad[0]))

def failed_calls(what, window):
    if window["log"] is None:  # an older local AWS without a call log
        return
    bad = [c for c in window["log"] if c["status"] is None or c.get("fault") or
           (c["error"] and c["error"] not in FREE)]
    if bad:
        c = bad[0]
        sys.exit("plan-all: %s: %d AWS call(s) failed, first %s:%s (status %s, error %s, fault %s)"
                 % (what, len(bad), c["service"], c["operation"], c["status"], c["error"], c.get("fault")))

def plan(sim, env, root, args, k, what):
    walls, calls = [], []
    for _ in range(runs):
        mark = sim.mark()
        t = time.perf_counter()
        r = subprocess.run([s, "plan", "--all", "--summary"] + args, cwd=root, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        walls.append(time.perf_counter() - t)
        w = sim.window(mark)
        if r.returncode != 0:
            sys.exit("plan-all: plan --all exited %d: %s" % (r.returncode, r.stderr[-400:]))
        rows = sum(1 for l in r.stdout.splitlines() if l.startswith("fn-w") and l.endswith("changes"))
        if rows != k:
            sys.exit("plan-all: %d of %d workspaces planned" % (rows, k))
        degraded(what, r.stdout + r.stderr)
        failed_calls(what, w)
        calls.append(w["calls"])
    # without --summary once, untimed: the warnings --summary hides
    r = subprocess.run([s, "plan", "--all"] + args, cwd=root, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        sys.exit("plan-all: plan --all exited %d: %s" % (r.returncode, r.stderr[-400:]))
    degraded(what + " without --summary", r.stdout + r.stderr)
    walls.sort()
    totals = sorted(sum(c.values()) for c in calls)
    return {"wall": walls[len(walls) // 2], "calls": calls[0], "per ws": totals[len(totals) // 2] / k,
            "spread": (totals[0], totals[-1])}

def states(root):
    n = 0
    for dp, _, files in os.walk(root):
        n += sum(1 for f in files if ".db" in f)
    return n

sim = Sim(src, d, timescale=0.01, seed=7)
try:
    sim.start()
    # the local AWS's endpoint and test keys; no credential lookup can leave
    # loopback (instance metadata off, no shared files)
    env = sim.client_env(dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.invalid",
                              GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.invalid"))
    env.update(NO_COLOR="1", AWS_EC2_METADATA_DISABLED="true")
    res = {}
    for k in (n // 4, n):
        root = fleet(k, env)
        res[k] = {"directory": plan(sim, env, root, ["repo/specs"], k, "plan --all of %d from a directory" % k),
                  "git ref": plan(sim, env, root, ["--repo", "repo", "--ref", "main", "specs"], k,
                                  "plan --all of %d from a git ref" % k)}
        left = states(root)
finally:
    sim.stop()
print("plan-all: plan --all --summary of %d fresh workspaces (examples/minimal.yaml) against the local AWS, median of %d"
      % (n, runs))
summary = []
for source in ("directory", "git ref"):
    big, small = res[n][source], res[n // 4][source]
    print("  from a %-9s %6.2f s  goal 2 s  ratio %.2f   (%d workspaces %.2f s: growth %.1fx for 4x, linear 4)"
          % (source, big["wall"], big["wall"] / 2, n // 4, small["wall"], big["wall"] / small["wall"]))
    print("  %16s AWS calls per workspace %.2f   (%d workspaces %.2f)" % ("", big["per ws"], n // 4, small["per ws"]))
    for k in (n // 4, n):
        lo, hi = res[k][source]["spread"]
        if lo != hi:
            print("  %16s (%d workspaces: %d to %d calls from run to run)" % ("", k, lo, hi))
    summary.append("%.2f s from a %s (ratio %.2f, %.2f AWS calls per workspace)"
                   % (big["wall"], source, big["wall"] / 2, big["per ws"]))
ops = res[n]["directory"]["calls"]
print("  calls by operation (one plan --all of %d from a directory): %s"
      % (n, ", ".join("%s %d" % (op, ops[op]) for op in sorted(ops, key=lambda o: (-ops[o], o)))))
print("  every plan's AWS checks answered (no warning with or without --summary, no failed call but the"
      " not-found of a free name)")
print("  state files left by the plans: %d (goal 0)" % left)
if os.environ.get("BENCH_SUMMARY"):
    with open(os.environ["BENCH_SUMMARY"], "a") as f:
        f.write("%-27s %s; growth %.1fx for 4x; %d state files left\n"
                % ("plan --all (%d fresh)" % n, ", ".join(summary), res[n]["directory"]["wall"] /
                   res[n // 4]["directory"]["wall"], left))
PY
