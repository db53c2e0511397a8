#!/usr/bin/python3
"""drive.py - the reliability runs of tests/reliability against the local AWS.

    drive.py URL WORK MODE [ARGS]

URL is the simulator (loopback only), WORK a directory holding c.yaml (the
cluster spec) where the state and the per-run outputs go.  The secfaas
binary comes from $SECFAAS.  Modes:

  baseline          reset, clean apply and destroy; writes WORK/baseline.json:
                    the mutating operations of each phase, in the order the
                    simulator's call log shows them, and the inventory count
                    per kind after the apply.  Every other mode reads it, so
                    an operation secfaas starts to call is covered at once.
  lost [--each]     lose the reply of every mutating operation once (the
                    simulator's `truncate` fault: the call runs, its reply is
                    cut).  Default: one apply with every apply operation's
                    first reply lost, then one destroy likewise.  --each: a
                    fresh apply/destroy per operation.
  kill              kill -9 while each mutating operation is in flight (a
                    latency fault holds its reply; the kill waits on the
                    simulator's call counters), re-run, repeat with the next
                    operation not yet killed; then the same through destroy.
  fence             force-unlock --force against a live apply (its CreateCluster
                    reply held back), a second apply takes over: the first
                    must stop with the lost-lock error, nothing duplicated.
  seeds FIRST COUNT mixed faults (throttle, 500, 503, reset, truncate) on 10 %
                    of all calls, seeded: apply and destroy must each
                    converge in one run.

Each mode checks, against the simulator's inventory (not secfaas state): no
kind ever holds more objects than the clean apply made (duplicates), the
apply converged (plan has no changes), and destroy leaves nothing
(orphans).  It prints one line per operation and a summary, and exits 1 on
any duplicate, orphan or permanent failure.
"""
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

MUTATING_PREFIXES = ("Describe", "List", "Get")
# kinds the simulator lists that a run makes only in passing
TRANSIENT = {"ec2:instance": 1}


def is_mutating(key):
    op = key.split(":", 1)[1]
    return not op.startswith(MUTATING_PREFIXES) and op not in ("AssumeRole",)


class Sim:
    def __init__(self, url):
        host = urllib.parse.urlparse(url).hostname or ""
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            sys.exit("drive.py: refusing non-loopback endpoint %s" % url)
        self.url = url.rstrip("/")

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + "/_awssim" + path, data=data, method=method)
        with urllib.request.urlopen(r, timeout=60) as f:
            return json.load(f)

    def calls(self):
        return self.req("GET", "/calls")

    def counts(self):
        inv = self.req("GET", "/inventory")["resources"]
        return {k: len(v) for k, v in inv.items()}

    def inventory(self):
        return self.req("GET", "/inventory")["resources"]

    def faults(self, rules, seed=None):
        body = {"rules": rules}
        if seed is not None:
            body["seed"] = seed
        self.req("POST", "/faults", body)

    def clear(self):
        self.req("DELETE", "/faults")

    def reset(self):
        self.req("POST", "/reset", {})


class Runner:
    def __init__(self, sim, work):
        self.sim, self.work = sim, work
        self.bin = os.environ["SECFAAS"]
        self.spec = os.path.join(work, "c.yaml")
        self.state = os.path.join(work, "state.db")
        self.n = 0

    def fresh(self):
        self.sim.clear()
        self.sim.reset()
        for suffix in ("", "-wal", "-shm", ".key", ".backup"):
            try:
                os.unlink(self.state + suffix)
            except FileNotFoundError:
                pass

    def argv(self, cmd):
        a = [self.bin, cmd, self.spec, "--state", self.state]
        if cmd in ("apply", "destroy"):
            a.append("--auto-approve")
        if cmd == "plan":
            a.append("--detailed-exitcode")
        return a

    def out_path(self, cmd):
        self.n += 1
        return os.path.join(self.work, "run-%03d-%s.out" % (self.n, cmd))

    def run(self, cmd):
        path = self.out_path(cmd)
        with open(path, "w") as f:
            rc = subprocess.call(self.argv(cmd), stdout=f, stderr=subprocess.STDOUT)
        return rc, path

    def start(self, cmd):
        path = self.out_path(cmd)
        f = open(path, "w")
        p = subprocess.Popen(self.argv(cmd), stdout=f, stderr=subprocess.STDOUT)
        f.close()
        return p, path


def tail(path, n=6):
    """The error lines of a run's output, then its last lines."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    errs = [l for l in lines[:-n] if "error" in l][-8:]
    return "\n".join("      | " + l for l in errs + lines[-n:])


def order_of(sim, runner, cmd):
    """Run cmd once, recording the first time each mutating operation shows
    up in the call log, so operations are listed in the order a run meets
    them."""
    seen, order = sim.calls()["calls"], []
    p, path = runner.start(cmd)
    while True:
        done = p.poll() is not None
        now = sim.calls()["calls"]
        for k, v in sorted(now.items()):
            if is_mutating(k) and v > seen.get(k, 0) and k not in order:
                order.append(k)
        if done:
            return p.returncode, order, path
        time.sleep(0.02)


def baseline(sim, runner):
    runner.fresh()
    rc, apply_ops, path = order_of(sim, runner, "apply")
    if rc != 0:
        sys.exit("baseline apply failed (exit %d):\n%s" % (rc, tail(path, 20)))
    final = sim.counts()
    rc, destroy_ops, path = order_of(sim, runner, "destroy")
    if rc != 0:
        sys.exit("baseline destroy failed (exit %d):\n%s" % (rc, tail(path, 20)))
    left = sim.counts()
    if left:
        sys.exit("baseline destroy left %s" % left)
    b = {"apply": apply_ops, "destroy": destroy_ops, "final": final}
    with open(os.path.join(runner.work, "baseline.json"), "w") as f:
        json.dump(b, f, indent=1)
    print("baseline: %d apply operations, %d destroy operations, %d objects" %
          (len(apply_ops), len(destroy_ops), sum(final.values())))
    return b


class Report:
    def __init__(self, title):
        self.title, self.rows, self.problems = title, collections.OrderedDict(), []

    def row(self, op, **kv):
        self.rows.setdefault(op, {}).update(kv)

    def problem(self, op, what):
        self.problems.append("%s: %s" % (op, what))
        r = self.rows.setdefault(op, {})
        r["problems"] = r.get("problems", 0) + 1

    def print(self):
        print("%s" % self.title)
        for op, r in self.rows.items():
            print("  %-40s %s" % (op, " ".join("%s=%s" % kv for kv in sorted(r.items()))))
        for p in self.problems:
            print("  PROBLEM %s" % p)
        print("  %d operations, %d problems" % (len(self.rows), len(self.problems)))
        return not self.problems


def too_many(counts, final):
    """Kinds with more live objects than the clean apply made."""
    out = {}
    for k, v in counts.items():
        limit = final.get(k, 0) + TRANSIENT.get(k, 0)
        if v > limit:
            out[k] = "%d>%d" % (v, limit)
    return out


def converged(sim, runner, b, rep, op, rc, path, what):
    """After an apply that must have converged: exit 0, no duplicates, plan
    without changes."""
    ok = True
    if rc != 0:
        rep.problem(op, "%s failed (exit %d):\n%s" % (what, rc, tail(path)))
        ok = False
    dup = too_many(sim.counts(), b["final"])
    if dup:
        rep.problem(op, "duplicates after %s: %s" % (what, dup))
        ok = False
    missing = {k: v for k, v in b["final"].items() if sim.counts().get(k, 0) < v}
    if rc == 0 and missing:
        rep.problem(op, "%s exited 0 but objects are missing: %s" % (what, missing))
        ok = False
    if rc == 0:
        prc, ppath = runner.run("plan")
        if prc != 0:
            rep.problem(op, "plan after %s is not empty (exit %d):\n%s" % (what, prc, tail(ppath)))
            ok = False
    return ok


def emptied(sim, rep, op, rc, path, what):
    left = sim.counts()
    ok = True
    if rc != 0:
        rep.problem(op, "%s failed (exit %d):\n%s" % (what, rc, tail(path)))
        ok = False
    if left:
        rep.problem(op, "%s left %s%s" % (what, left, " while exiting 0" if rc == 0 else ""))
        ok = False
    return ok


def fired(sim, op, kind):
    return sim.calls()["errors"].get("%s:fault:%s" % (op, kind), 0)


def truncate_rules(ops):
    return [{"operation": o, "kind": "truncate", "count": 1} for o in ops]


def lost(sim, runner, b, each):
    rep = Report("lost reply (truncate) per operation" + (", one run each" if each else ", every operation in one run"))
    if not each:
        runner.fresh()
        sim.faults(truncate_rules(b["apply"]))
        rc, path = runner.run("apply")
        sim.clear()
        ok = converged(sim, runner, b, rep, "apply", rc, path, "apply")
        for op in b["apply"]:
            rep.row(op, phase="apply", lost=fired(sim, op, "truncate"), result="ok" if ok else "FAIL")
        sim.faults(truncate_rules(b["destroy"]))
        rc, path = runner.run("destroy")
        sim.clear()
        ok = emptied(sim, rep, "destroy", rc, path, "destroy")
        for op in b["destroy"]:
            rep.row(op, phase="destroy", lost=fired(sim, op, "truncate"), result="ok" if ok else "FAIL")
        if not ok:
            runner.run("destroy")
        return rep.print()
    for phase in ("apply", "destroy"):
        for op in b[phase]:
            runner.fresh()
            if phase == "destroy":
                rc, path = runner.run("apply")
                if rc != 0:
                    rep.problem(op, "clean apply failed:\n%s" % tail(path))
                    continue
            sim.faults(truncate_rules([op]))
            rc, path = runner.run(phase)
            n = fired(sim, op, "truncate")
            sim.clear()
            if phase == "apply":
                ok = converged(sim, runner, b, rep, op, rc, path, "apply")
                rc2, path2 = runner.run("destroy")
                ok = emptied(sim, rep, op, rc2, path2, "destroy after it") and ok
            else:
                ok = emptied(sim, rep, op, rc, path, "destroy")
            rep.row(op, phase=phase, lost=n, result="ok" if ok else "FAIL")
    return rep.print()


def kill_chain(sim, runner, b, rep, phase):
    """kill -9 during every operation of phase, in the order the run meets
    them; each kill is followed by the next run of the same command."""
    left = list(b[phase])
    while left:
        before = sim.calls()["calls"]
        sim.faults([{"operation": o, "kind": "latency", "ms": 30000, "count": 1} for o in left])
        p, path = runner.start(phase)
        hit = []
        while not hit and p.poll() is None:
            now = sim.calls()["calls"]
            hit = [o for o in left if now.get(o, 0) > before.get(o, 0)]
            if not hit:
                time.sleep(0.005)
        if hit:
            p.send_signal(signal.SIGKILL)
        p.wait()
        sim.clear()
        if hit:
            # every operation that ran before the kill landed, not only the
            # first one seen (parallel steps)
            now = sim.calls()["calls"]
            hit = [o for o in left if now.get(o, 0) > before.get(o, 0)]
        if not hit:
            # the run ended without calling any remaining operation
            for o in left:
                rep.row(o, kill="not reached")
            if p.returncode != 0:
                rep.problem(",".join(left), "%s failed before reaching them (exit %d):\n%s" %
                            (phase, p.returncode, tail(path)))
            break
        dup = too_many(sim.counts(), b["final"])
        for o in hit:
            left.remove(o)
            rep.row(o, phase=phase, kill="killed", dups=len(dup))
            if dup:
                rep.problem(o, "duplicates after a kill during %s: %s" % (o, dup))


def kill(sim, runner, b):
    rep = Report("kill -9 while each operation is in flight, then re-run")
    runner.fresh()
    kill_chain(sim, runner, b, rep, "apply")
    rc, path = runner.run("apply")
    ok = converged(sim, runner, b, rep, "apply after the kills", rc, path, "re-run apply")
    kill_chain(sim, runner, b, rep, "destroy")
    rc, path = runner.run("destroy")
    ok = emptied(sim, rep, "destroy after the kills", rc, path, "re-run destroy") and ok
    for op in b["apply"] + b["destroy"]:
        rep.row(op, converged="yes" if ok else "NO")
    return rep.print()


def fence(sim, runner, b):
    rep = Report("force-unlock --force against a live apply, a second apply takes over")
    op = "eks:CreateCluster"
    runner.fresh()
    before = sim.calls()["calls"].get(op, 0)
    sim.faults([{"operation": op, "kind": "latency", "ms": 8000, "count": 1}])
    first, fpath = runner.start("apply")
    while sim.calls()["calls"].get(op, 0) == before and first.poll() is None:
        time.sleep(0.005)
    rc, path = runner.run("apply")
    with open(path) as f:
        m = re.search(r"(?:lock|ID:) +([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", f.read())
    if rc == 0 or not m:
        rep.problem("lock", "a second apply was not refused by the live lock (exit %d):\n%s" % (rc, tail(path)))
        first.wait()
        return rep.print()
    urc = subprocess.call([runner.bin, "force-unlock", m.group(1), "--force", "--state", runner.state],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if urc != 0:
        rep.problem("force-unlock", "exit %d" % urc)
    rc2, path2 = runner.run("apply")
    first.wait()
    with open(fpath) as f:
        out = f.read()
    if first.returncode == 0:
        rep.problem("first apply", "kept going after losing its lock (exit 0):\n%s" % tail(fpath))
    elif "no longer holds its lock" not in out and "lost its lock" not in out:
        rep.problem("first apply", "did not say it lost its lock (exit %d):\n%s" % (first.returncode, tail(fpath)))
    rep.row("first apply", exit=first.returncode)
    rep.row("second apply", exit=rc2)
    ok = converged(sim, runner, b, rep, "second apply", rc2, path2, "the second apply")
    rc, path = runner.run("destroy")
    ok = emptied(sim, rep, "destroy", rc, path, "destroy") and ok
    rep.row("inventory", result="ok" if ok else "FAIL")
    return rep.print()


MIX = ("throttle", "http500", "http503", "reset", "truncate")


def seeds(sim, runner, b, first, count, rate=0.10):
    rep = Report("mixed faults on %d%% of all calls, seeds %d..%d" % (round(rate * 100), first, first + count - 1))
    for seed in range(first, first + count):
        runner.fresh()
        rules = [{"operation": "*", "kind": k, "rate": rate / len(MIX)} for k in MIX]
        sim.faults(rules, seed=seed)
        rc, path = runner.run("apply")
        sim.clear()
        faults = sum(v for k, v in sim.calls()["errors"].items() if ":fault:" in k)
        ok = converged(sim, runner, b, rep, "seed %d" % seed, rc, path, "apply")
        sim.faults(rules, seed=seed + 100000)
        rc, path = runner.run("destroy")
        sim.clear()
        faults2 = sum(v for k, v in sim.calls()["errors"].items() if ":fault:" in k) - faults
        ok2 = emptied(sim, rep, "seed %d" % seed, rc, path, "destroy")
        rep.row("seed %d" % seed, apply="ok" if ok else "FAIL", destroy="ok" if ok2 else "FAIL",
                faults="%d+%d" % (faults, faults2))
        if not ok2:
            runner.run("destroy")
    return rep.print()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sim, work, mode = Sim(sys.argv[1]), sys.argv[2], sys.argv[3]
    runner = Runner(sim, work)
    if mode == "baseline":
        baseline(sim, runner)
        return 0
    with open(os.path.join(work, "baseline.json")) as f:
        b = json.load(f)
    t0 = time.time()
    if mode == "lost":
        ok = lost(sim, runner, b, "--each" in sys.argv[4:])
    elif mode == "kill":
        ok = kill(sim, runner, b)
    elif mode == "fence":
        ok = fence(sim, runner, b)
    elif mode == "seeds":
        ok = seeds(sim, runner, b, int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("drive.py: unknown mode %s" % mode)
    print("  (%.0fs)" % (time.time() - t0))
    return 0 if ok else 1


sys.exit(main())
