#!/bin/sh
# bench/plan-noop-pg: the no-op plan of bench/plan-noop (200 resources,
# already applied, no refresh) with the state in PostgreSQL (a private
# server, tests/pg.sh) and in a SQLite file, measured in the same run and
# interleaved so a busy machine slows both alike.  Prints both medians and
# their ratio against the goal (PostgreSQL <= 1.5x SQLite; a ratio to the
# goal < 1.00 meets it).  A benchmark, not a test: it never fails on
# slowness.  Also prints the round trips one such plan makes to the
# database (the count SECFAAS_LOG=debug logs).  Skipped when the server
# binaries are not installed.
set -eu
S=${1:-${SECFAAS:?usage: run.sh SECFAAS_BINARY (or SECFAAS=...)}}
N=${N:-200}
RUNS=${RUNS:-20}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/pg.sh"
if ! pg_have; then
	echo "plan-noop-pg: skipped (PostgreSQL server binaries not installed; make deps installs them)"
	exit 0
fi
d=$(mktemp -d "${TMPDIR:-/tmp}/plan-noop-pg.XXXXXX")
trap 'pg_stop "$d/pg" >/dev/null 2>&1; rm -rf "$d"' EXIT
pg_start "$d/pg" >/dev/null
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
"$S" state migrate --to "$SECFAAS_TEST_PG" >/dev/null
/usr/bin/python3 - "$S" "$RUNS" "$N" "$SECFAAS_TEST_PG" <<'PY'
import os, re, subprocess, sys, time
s, runs, n, url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
env_pg = dict(os.environ, SECFAAS_BACKEND=url)
env_file = dict(os.environ)
env_file.pop("SECFAAS_BACKEND", None)
walls = {"sqlite": [], "postgres": []}
for _ in range(runs):
    for name, env in (("sqlite", env_file), ("postgres", env_pg)):
        t = time.perf_counter()
        r = subprocess.run([s, "plan", "spec.yaml", "--refresh=false", "--detailed-exitcode"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls[name].append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit("plan-noop-pg: %s plan exited %d (expected 0, no changes): %s" % (name, r.returncode, r.stderr.decode()))
med = {}
for name, w in walls.items():
    w.sort()
    med[name] = w[len(w) // 2] * 1000
ratio = med["postgres"] / med["sqlite"]
print("plan-noop-pg: %d resources, %d runs each, interleaved" % (n, runs))
print("  sqlite    median %.1f ms (min %.1f, max %.1f)" % (med["sqlite"], walls["sqlite"][0] * 1000, walls["sqlite"][-1] * 1000))
print("  postgres  median %.1f ms (min %.1f, max %.1f)" % (med["postgres"], walls["postgres"][0] * 1000, walls["postgres"][-1] * 1000))
print("  postgres / sqlite %.2fx  goal 1.50x  ratio %.2f" % (ratio, ratio / 1.5))
# what a database across a network adds: one round-trip time per round trip
r = subprocess.run([s, "plan", "spec.yaml", "--refresh=false", "--detailed-exitcode"],
                   env=dict(env_pg, SECFAAS_LOG="debug"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
m = re.search(r": (\d+) round trips to the database", r.stderr.decode())
trips = int(m.group(1)) if m else None
print("  round trips to the database per no-op plan: %s (besides connecting; each adds the network's"
      " round-trip time when the server is remote)" % (trips if trips is not None else "not reported"))
if os.environ.get("BENCH_SUMMARY"):
    with open(os.environ["BENCH_SUMMARY"], "a") as f:
        f.write("%-27s postgres %.1f ms / sqlite %.1f ms = %.2fx (goal <= 1.50x, ratio %.2f); %s round trips\n"
                % ("plan-noop-pg (%d resources)" % n, med["postgres"], med["sqlite"], ratio, ratio / 1.5,
                   trips if trips is not None else "?"))
PY
