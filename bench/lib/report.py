"""report.py - how the benchmarks print what runs.py measured.

Ratios are printed next to their goals, never judged: a benchmark reports,
it does not pass or fail on speed.
"""
import os

GOAL_CP = 1.05
GOAL_FLOOR = 1.1


def setting_line(ts, seed, cons):
    return ("local AWS: timescale %g (a 600 s EKS cluster create takes %.0f s), durations +-15 %% (seed %d), "
            "eventual-consistency windows %s" % (ts, 600 * ts, seed, cons))


def _ratio(a, b):
    return a / b if a is not None and b else None


def _fmt(x, f="%.3f"):
    return f % x if x is not None else "-"


def _ops(calls, n=None):
    items = sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join("%s %d" % (k, v) for k, v in items[:n])


def _path(cp):
    """One line per step of the critical path: when it could start, when it did."""
    out = []
    for kind, oid, dur, ideal, actual in cp["path"]:
        out.append("%-9s %-36s %6.1f s   could start %6.1f  started %s" % (
            kind, oid[:36], dur, ideal, "%6.1f" % actual if actual is not None else "-"))
    if cp.get("last_ready") is not None:
        out.append("%-9s %-36s %6s     could end   %6.1f  ended   %6.1f  (process exit %.1f)" % (
            "end", "(last AWS object ready / gone)", "", cp["cp"], cp["last_ready"], cp["wall"]))
    return out


def cp_section(label, r, short=None):
    """Critical-path report of one secfaas run; returns 1 when the run failed."""
    print("== %s" % label)
    if r.error:
        print("   FAILED: %s (work files: %s)" % (r.error, r.dir))
        return 1
    c, d, a = r.results["create"], r.results["destroy"], r.results.get("again")
    print("   %-8s %8s %10s %8s %14s %6s %6s %8s %14s %12s %6s" % (
        "", "wall s", "crit.path", "ratio", "(goal <= %.2f)" % GOAL_CP, "calls", "floor", "ratio",
        "(goal <= %.1f)" % GOAL_FLOOR, "1 read/wait", "ratio"))
    for st in (c, d):
        print("   %-8s %8.1f %10.1f %8s %14s %6d %6d %8s %14s %12d %6s" % (
            st.label, st.wall, st.cp["cp"], _fmt(_ratio(st.wall, st.cp["cp"])), "", st.ncalls, st.floor["total"],
            _fmt(_ratio(st.ncalls, st.floor["total"]), "%.2f"), "", st.ideal["total"],
            _fmt(_ratio(st.ncalls, st.ideal["total"]), "%.2f")))
    for st in (c, d):
        print("   critical path (%s), seconds from the process start:" % st.label)
        print("      " + "\n      ".join(_path(st.cp)))
    for st in (c, d):
        print("   floor (%s): %s" % (st.label, ", ".join("%s %d" % kv for kv in sorted(st.floor["items"].items()))))
        print("   calls (%s): %s" % (st.label, _ops(st.calls)))
    for st in (c, d):
        ab = st.above
        print("   above one read per wait (%s): %d = %d polls past a wait's one read, %d checks before a change "
              "(ownership proofs, free names, a given image), %d sweep listings, %d other reads, %d more changes; "
              "without those polls %.2f x that floor" % (
                  st.label, st.ncalls - st.ideal["total"], ab["polls"], ab["checks"], ab["sweeps"], ab["lookups"],
                  ab["mutations"], (st.ncalls - ab["polls"]) / st.ideal["total"]))
    summary("%-27s create %s x crit.path, %s x floor (%s x one read per wait); destroy %s x "
            "crit.path, %s x floor (%s) (goals <= %.2f, <= %.1f)" % (
                short or label, _fmt(_ratio(c.wall, c.cp["cp"])), _fmt(_ratio(c.ncalls, c.floor["total"]), "%.2f"),
                _fmt(_ratio(c.ncalls, c.ideal["total"]), "%.2f"),
                _fmt(_ratio(d.wall, d.cp["cp"])), _fmt(_ratio(d.ncalls, d.floor["total"]), "%.2f"),
                _fmt(_ratio(d.ncalls, d.ideal["total"]), "%.2f"), GOAL_CP, GOAL_FLOOR))
    if a is not None:
        print("   second apply: %s, %d calls (%d mutating), %.1f s" % (
            "no changes" if a.rc == 0 else "rc %d, %s changes" % (a.rc, a.changes), a.ncalls, a.mutating, a.wall))
    print("   cpu %.2f s, peak memory %.0f MB (largest over create, second apply, destroy)" % (
        sum(s.cpu for s in r.results.values()), max(s.rss_mb for s in r.results.values())))
    if r.left:
        print("   LEFT BEHIND: %d objects in the local AWS after destroy" % r.left)
        return 1
    return 0


def _second(st):
    if st is None:
        return "-"
    noop = st.rc == 0 and st.mutating == 0 and (st.changes in (0, None))
    head = "no-op" if noop else ("FAILED rc %d" % st.rc if st.rc else "CHANGED")
    ch = "" if st.changes is None else ", %d changes reported" % st.changes
    return "%s: %d calls (%d mutating)%s, %.1f s" % (head, st.ncalls, st.mutating, ch, st.wall)


def peer_table(base, peers):
    """Side-by-side table, peers as ratios to secfaas; returns 1 when secfaas failed or anything leaked."""
    cols = [base] + peers
    w = 26
    bad = 0

    def row(label, fn, ratio=True, f="%.1f"):
        cells = []
        b = fn(base) if not base.error else None
        for r in cols:
            v = None if r.error else fn(r)
            if v is None:
                cells.append("-")
            elif r is base or not ratio or not b:
                cells.append(f % v)
            else:
                cells.append((f + " (%.2fx)") % (v, v / b))
        print("%-30s" % label + "".join("%-*s" % (w, c) for c in cells))

    def st(r, label):
        return r.results.get(label) if not r.error or label in r.results else None

    def val(label, attr):
        def fn(r):
            s = st(r, label)
            return getattr(s, attr) if s is not None else None
        return fn

    def cp_ratio(label):
        def fn(r):
            s = st(r, label)
            return s.wall / s.cp["cp"] if s is not None and s.cp and s.cp["cp"] else None
        return fn

    def floor_ratio(label, which="floor"):
        def fn(r):
            s = st(r, label)
            fl = getattr(s, which) if s is not None else None
            return s.ncalls / fl["total"] if fl and fl["total"] else None
        return fn

    print("%-30s" % "" + "".join("%-*s" % (w, r.name) for r in cols))
    row("create wall s", val("create", "wall"))
    row("  / critical path", cp_ratio("create"), ratio=False, f="%.3f")
    row("  AWS calls", lambda r: st(r, "create").ncalls if st(r, "create") else None, f="%d")
    row("  / floor", floor_ratio("create"), ratio=False, f="%.2f")
    row("  / one read per wait", floor_ratio("create", "ideal"), ratio=False, f="%.2f")
    row("destroy wall s", val("destroy", "wall"))
    row("  / critical path", cp_ratio("destroy"), ratio=False, f="%.3f")
    row("  AWS calls", lambda r: st(r, "destroy").ncalls if st(r, "destroy") else None, f="%d")
    row("  / floor", floor_ratio("destroy"), ratio=False, f="%.2f")
    row("  / one read per wait", floor_ratio("destroy", "ideal"), ratio=False, f="%.2f")
    row("second run wall s", val("again", "wall"))
    row("  AWS calls", lambda r: st(r, "again").ncalls if st(r, "again") else None, f="%d")
    row("CPU s (all three runs)", lambda r: sum(s.cpu for s in r.results.values()) if r.results else None, f="%.2f")
    row("peak memory MB", lambda r: max(s.rss_mb for s in r.results.values()) if r.results else None, f="%.0f")
    print("goal: every peer ratio above 1.00 (secfaas ahead on wall time, CPU, memory and second-run cost);")
    print("      apply / critical path <= %.2f and calls / floor <= %.1f for secfaas" % (GOAL_CP, GOAL_FLOOR))
    print()
    for r in cols:
        print("%s second run: %s" % (r.name, _second(st(r, "again"))))
    for r in peers:
        if r.error or base.error:
            summary("peer %-22s FAILED" % r.name)
            continue
        sb, sp = base.results, r.results

        def tot(res, attr, labels=("create", "destroy")):
            return sum(getattr(res[k], attr) for k in labels if k in res)

        again = sp.get("again")
        if again is None or "again" not in sb:
            second = "-"
        elif again.rc != 0:
            second = "fails"
        elif again.mutating or again.changes:
            second = "changes things"
        else:
            second = "%.2f" % (again.wall / max(1e-9, sb["again"].wall))
        summary("peer %-22s / secfaas: create+destroy wall %.2f, calls %.2f; CPU %.2f, memory %.2f; second run "
                "wall %s (goal > 1)" % (
                    r.name, tot(sp, "wall") / tot(sb, "wall"), tot(sp, "ncalls") / max(1, tot(sb, "ncalls")),
                    tot(sp, "cpu", sp.keys()) / max(1e-9, tot(sb, "cpu", sb.keys())),
                    max(x.rss_mb for x in sp.values()) / max(x.rss_mb for x in sb.values()), second))
    for r in cols:
        if r.error:
            print("%s FAILED: %s (work files: %s)" % (r.name, r.error, r.dir))
            bad += r is base
        elif r.left:
            print("%s LEFT BEHIND %d objects after destroy" % (r.name, r.left))
            bad += 1
    return 1 if bad else 0


def summary(line):
    """One headline line for bench/run.sh's closing summary (BENCH_SUMMARY)."""
    path = os.environ.get("BENCH_SUMMARY")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
