#!/usr/bin/python3
"""bench/peers/run.py - secfaas beside two peers that create and destroy the
same AWS objects for examples/minimal.yaml (pre-baked gVisor AMI): an
Ansible playbook (ansible/cluster.yml) and an AWS CLI script
(awscli/cluster.sh).  Each tool gets its own fresh local AWS at the same
timescale and seed; the three run side by side.  Every tool runs create,
create again (is a second run a no-op?) and destroy.

Prints wall time, AWS calls, CPU time and peak memory of each peer as a ratio
to secfaas (goal: every ratio above 1, secfaas ahead), each tool's wall time
against its own honest critical path and its calls against the floor
(bench/lib/critical.py), and what the second run did.  A benchmark: it never
fails on slowness; it exits non-zero only when secfaas fails or a tool
leaves objects behind after its destroy.

Environment: SECFAAS, TIMESCALE (default 0.1), SEED (default 7), CONSISTENCY
(the simulator's --consistency-delay-scale, default 0), PEERS (default
"ansible awscli"), BENCH_DIR (keep work files there).
Peers are pointed at the local AWS only through standard settings
(AWS_URL / --endpoint-url from AWS_ENDPOINT_URL, AWS_CA_BUNDLE, the
documented test keys) and refuse a non-loopback endpoint themselves.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))

import report  # noqa: E402
from runs import Run, ansible_steps, awscli_steps, run_all, secfaas_steps  # noqa: E402

PEERS = {
    "ansible": ("Ansible", ansible_steps, ["ansible-playbook", "--version"]),
    "awscli": ("AWS CLI", awscli_steps, ["/usr/bin/aws", "--version"]),
}


def version(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out else None


def main():
    secfaas = os.environ.get("SECFAAS") or os.path.join(SRC, "build", "secfaas")
    ts = float(os.environ.get("TIMESCALE") or 0.1)
    seed = int(os.environ.get("SEED") or 7)
    cons = os.environ.get("CONSISTENCY") or "0"
    keep = os.environ.get("BENCH_DIR")
    work = keep or tempfile.mkdtemp(prefix="secfaas-bench-peers.")
    spec = os.path.join(SRC, "examples", "minimal.yaml")
    base = Run("secfaas", SRC, os.path.join(work, "secfaas"), ts, seed, spec, prebaked=True, consistency=cons)
    base.steps = secfaas_steps(base, secfaas)
    runs, missing = [base], []
    for key in (os.environ.get("PEERS") or "ansible awscli").split():
        title, steps, vargv = PEERS[key]
        v = version(vargv)
        if not v:
            missing.append("%s (%s not found)" % (title, vargv[0]))
            continue
        r = Run(title, SRC, os.path.join(work, key), ts, seed, spec, prebaked=True, consistency=cons)
        r.version = v
        r.steps = steps(r)
        runs.append(r)
    run_all(runs)
    print("peers: examples/minimal.yaml (pre-baked AMI), the same AWS objects made by secfaas and by peers,")
    print("each on its own local AWS, side by side")
    print(report.setting_line(ts, seed, cons))
    for r in runs[1:]:
        print("%s: %s" % (r.name, r.version))
    for m in missing:
        print("skipped: %s" % m)
    print()
    bad = report.peer_table(base, runs[1:])
    if not keep:
        if bad:
            print("work files kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
