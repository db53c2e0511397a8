#!/bin/sh
# bench/spec-keys: `validate` of a spec whose labels map has N and then 4N
# keys. Duplicate-key detection must be linear, so the time ratio should be
# near 4 (quadratic detection gives ~16). Prints both times and the ratio
# against the goal; a benchmark, not a test: it never fails on slowness.
set -eu
S=${1:-${SECFAAS:?usage: run.sh SECFAAS_BINARY (or SECFAAS=...)}}
N=${N:-50000}
d=$(mktemp -d "${TMPDIR:-/tmp}/spec-keys.XXXXXX")
trap 'rm -rf "$d"' EXIT
/usr/bin/python3 - "$S" "$N" "$d" <<'PY'
import os, subprocess, sys, time
s, n, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def run(k):
    p = os.path.join(d, "k%d.yaml" % k)
    with open(p, "w") as f:
        f.write("apiVersion: secfaas.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: bench\n  labels:\n")
        for i in range(k):
            f.write("    k%d: v\n" % i)
        f.write("spec: {resources: []}\n")
    best = None
    for _ in range(3):
        t = time.perf_counter()
        r = subprocess.run([s, "validate", p], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        w = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit("spec-keys: validate exited %d: %s" % (r.returncode, r.stderr.decode()[:400]))
        best = w if best is None else min(best, w)
    return best
a, b = run(n), run(4 * n)
print("spec-keys: validate with %d keys %.0f ms, with %d keys %.0f ms" % (n, a * 1000, 4 * n, b * 1000))
print("  growth %.1fx for 4x the keys  goal <= 6 (linear 4, quadratic 16)  ratio %.2f" % (b / a, (b / a) / 6))
PY
