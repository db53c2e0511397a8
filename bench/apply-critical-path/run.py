#!/usr/bin/python3
"""bench/apply-critical-path/run.py - secfaas apply and destroy against the
honest critical path and the call floor (both defined in bench/lib/critical.py,
from the local AWS's own transition times and call log).

Applies examples/minimal.yaml (with a pre-baked gVisor AMI, as a fleet
would) and examples/full.yaml (bakes two AMIs), each from empty on its own
fresh local AWS, side by side; then destroys both.  Prints, for create and
destroy: wall time / critical path (goal <= 1.05) and AWS calls / floor (goal
<= 1.1), the critical path itself, and the calls by operation against the
floor by object kind.  A benchmark: it never fails on slowness; it exits
non-zero only when a run fails or leaves something behind.

Environment: SECFAAS (binary, default build/secfaas), TIMESCALE (default
0.1: a 10-minute EKS create takes 60 s), SEED (duration jitter, default 7),
CONSISTENCY (the simulator's --consistency-delay-scale; default 0: every
window off, as for the peers; bench/README.md gives figures with it on),
SPECS (default "minimal full"), BENCH_DIR (keep the work files there instead
of a temporary directory).
"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))

import report  # noqa: E402
from runs import Run, run_all, secfaas_steps  # noqa: E402


def main():
    secfaas = os.environ.get("SECFAAS") or os.path.join(SRC, "build", "secfaas")
    ts = float(os.environ.get("TIMESCALE") or 0.1)
    seed = int(os.environ.get("SEED") or 7)
    cons = os.environ.get("CONSISTENCY") or "0"
    specs = (os.environ.get("SPECS") or "minimal full").split()
    keep = os.environ.get("BENCH_DIR")
    work = keep or tempfile.mkdtemp(prefix="secfaas-bench-cp.")
    runs = []
    for name in specs:
        r = Run("secfaas " + name, SRC, os.path.join(work, name), ts, seed,
                os.path.join(SRC, "examples", name + ".yaml"), prebaked=(name == "minimal"), consistency=cons)
        r.steps = secfaas_steps(r, secfaas)
        runs.append(r)
    run_all(runs)
    print("apply-critical-path: secfaas against the critical path and call floor read from the local AWS")
    print(report.setting_line(ts, seed, cons))
    bad = 0
    for name, r in zip(specs, runs):
        print()
        label = "examples/%s.yaml%s" % (name, " (pre-baked AMI)" if r.prebaked else "")
        bad += report.cp_section(label, r, "apply-critical-path " + name)
    if not keep:
        if bad:
            print("work files kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
