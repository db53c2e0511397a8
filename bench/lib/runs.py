"""runs.py - one client (secfaas or a peer) through create, a second create
and destroy, each on its own fresh local AWS, and what each step cost.

Why: the critical-path benchmark and the peer comparison measure the same
things (wall, CPU, peak memory, AWS calls against the floor, wall against
the critical path, whether a second run changes anything); this runs a tool
through its steps once and keeps every figure, read from the simulator.

Calling steps:
    r = Run("secfaas", src, workdir, timescale, seed, spec, prebaked=True)
    r.steps = secfaas_steps(r, secfaas)      # or ansible_steps / awscli_steps
    r.execute()                              # raises nothing; r.error says what failed
    r.results["create"] -> Step (see below)
Several Runs may execute at once in threads: each has its own simulator,
working directory and processes.
"""
import json
import os
import re
import signal
import threading
import traceback

import critical
from prep import measured, prebake, spec_with_ami
from sim import Sim

HERE = os.path.dirname(os.path.abspath(__file__))
CREATOR_ARN = "arn:aws:iam::123456789012:user/secfaas-test"


class Step:
    """One measured process: rc, wall, cpu, rss_mb, calls {op: n}, mutating
    (client calls that change something), changes (what the tool reported:
    an int, or None when it cannot say), cp / floor (the goal's, at the
    official waiter cadence) / ideal (one read per wait) / above (how the
    calls above the ideal floor divide; create and destroy)."""

    def __init__(self, label, kind):
        self.label, self.kind = label, kind
        self.rc = self.wall = self.cpu = self.rss_mb = None
        self.calls, self.mutating, self.changes = {}, 0, None
        self.cp = self.floor = self.ideal = self.above = None
        self.log = None

    @property
    def ncalls(self):
        return sum(self.calls.values())


class Run:
    def __init__(self, name, src, workdir, timescale, seed=None, spec=None, prebaked=False, consistency=None):
        self.name, self.src, self.dir = name, src, workdir
        self.timescale, self.seed, self.spec, self.prebaked = timescale, seed, spec, prebaked
        self.consistency = consistency
        self.steps = []        # [(label, kind, argv, env_extra, changes_fn)]
        self.results = {}
        self.error = None
        self.ami = None
        self.left = None       # inventory left after destroy (besides the pre-baked image)
        self.sim = None
        self.current = None    # log path of the step running now
        os.makedirs(workdir, exist_ok=True)

    def stop_tool(self):
        """SIGTERM the process group of the step running now, if any."""
        if not self.current:
            return
        try:
            with open(self.current + ".pgid") as f:
                os.killpg(int(f.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass

    def execute(self):
        try:
            self._execute()
        except BaseException as e:   # a benchmark reports, it does not crash half-way
            self.error = "%s: %s" % (type(e).__name__, e)
            with open(os.path.join(self.dir, "error.txt"), "w") as f:
                traceback.print_exc(file=f)
        finally:
            if self.sim:
                self.sim.stop()

    def _execute(self):
        self.sim = Sim(self.src, self.dir, self.timescale, self.seed, self.consistency).start()
        feats = self.sim.features
        if not feats.get("transitions") or not feats.get("call_log"):
            raise RuntimeError("the local AWS has no transition or call log (tests/awssim too old)")
        secfaas = os.path.join(self.src, "build", "secfaas")
        if self.prebaked:
            self.ami = prebake(self.sim, secfaas, self.spec, self.dir, self.timescale)
            self.spec_used = spec_with_ami(self.spec, self.ami, os.path.join(self.dir, "spec.yaml"))
        else:
            self.spec_used = self.spec
        base_inv = self.sim.get("inventory")["count"]
        snap = None
        for label, kind, argv_fn, extra, changes_fn in self.steps:
            st = Step(label, kind)
            env = self.sim.client_env()
            env.update(extra(self) if callable(extra) else extra)
            st.log = self.current = os.path.join(self.dir, label + ".log")
            mark = self.sim.mark()
            m = measured(argv_fn(self), env, st.log, cwd=self.dir)
            win = self.sim.window(mark)
            st.rc, st.wall, st.cpu, st.rss_mb = m["rc"], m["wall"], m["cpu"], m["rss_mb"]
            st.calls = critical.client_calls(win)
            st.mutating = sum(1 for c in win["log"] if c["mutating"] and c.get("auth") != "presigned")
            with open(st.log, errors="replace") as f:
                st.changes = changes_fn(st.rc, f.read())
            with open(os.path.join(self.dir, label + ".window.json"), "w") as f:
                json.dump(win, f)
            if kind == "create" and st.rc == 0:
                snap = critical.snapshot(self.sim, win)
                with open(os.path.join(self.dir, "snapshot.json"), "w") as f:
                    json.dump(snap, f, indent=1)
                st.cp = critical.critical_create(win, snap)
                st.floor = critical.floor_create(win, snap, self.timescale, CREATOR_ARN)
                st.ideal = critical.floor_create(win, snap, self.timescale, CREATOR_ARN, cadence="wait")
                st.above = critical.above_floor(win, st.ideal)
            elif kind == "destroy" and st.rc == 0 and snap is not None:
                st.cp = critical.critical_destroy(win, snap)
                st.floor = critical.floor_destroy(win, snap, self.timescale)
                st.ideal = critical.floor_destroy(win, snap, self.timescale, cadence="wait")
                st.above = critical.above_floor(win, st.ideal)
            self.results[label] = st
            if st.rc != 0 and kind != "again":
                raise RuntimeError("%s %s exited %d (log: %s)" % (self.name, label, st.rc, st.log))
        self.left = self.sim.get("inventory")["count"] - base_inv


def run_all(runs):
    """Execute the runs side by side.  Interrupted (SIGINT, SIGTERM, SIGHUP),
    stop every tool's process group and every simulator, then exit."""
    def stop(signum, frame):
        for r in runs:
            r.stop_tool()
        for r in runs:
            if r.sim:
                r.sim.stop()
        os._exit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    ts = [threading.Thread(target=r.execute, name=r.name) for r in runs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


# ------------------------------------------------------------------- tools
def secfaas_steps(run, secfaas):
    state = os.path.join(run.dir, "state.db")

    def env(r):
        return {"SECFAAS_POLL_SCALE": repr(r.timescale)}

    def plan_changes(rc, out):
        if rc == 0:
            return 0
        m = re.search(r"(\d+) added, (\d+) changed, (\d+) destroyed", out)
        return sum(int(x) for x in m.groups()) if m else None

    return [
        ("create", "create", lambda r: [secfaas, "apply", r.spec_used, "--state", state, "--auto-approve"], env,
         lambda rc, out: None),
        ("again", "again", lambda r: [secfaas, "apply", r.spec_used, "--state", state, "--auto-approve",
                                      "--detailed-exitcode"], env, plan_changes),
        ("destroy", "destroy", lambda r: [secfaas, "destroy", r.spec_used, "--state", state, "--auto-approve"], env,
         lambda rc, out: None),
    ]


def _peer_env(r):
    return {"BENCH_SLEEP_SCALE": repr(r.timescale), "PYTHONPATH": os.path.join(r.src, "bench", "peers", "timescale"),
            "AWS_DATA_PATH": r.sim.client_models()}


def ansible_steps(run):
    book = os.path.join(run.src, "bench", "peers", "ansible", "cluster.yml")

    def argv(state):
        return lambda r: ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e",
                          "ansible_python_interpreter=/usr/bin/python3", "-e", "state=" + state,
                          "-e", "ami_id=" + (r.ami or ""), book]

    def env(r):
        e = _peer_env(r)
        e.update({"AWS_URL": r.sim.url, "HOME": r.dir, "ANSIBLE_LOCAL_TEMP": os.path.join(r.dir, "ansible-tmp"),
                  "ANSIBLE_REMOTE_TEMP": os.path.join(r.dir, "ansible-tmp"), "ANSIBLE_NOCOLOR": "1",
                  "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_DEPRECATION_WARNINGS": "false",
                  "ANSIBLE_RETRY_FILES_ENABLED": "false"})
        return e

    def changes(rc, out):
        m = re.findall(r"changed=(\d+)", out)
        return int(m[-1]) if m else None

    return [("create", "create", argv("present"), env, changes),
            ("again", "again", argv("present"), env, changes),
            ("destroy", "destroy", argv("absent"), env, changes)]


def awscli_steps(run):
    script = os.path.join(run.src, "bench", "peers", "awscli", "cluster.sh")

    def env(r):
        e = _peer_env(r)
        e.update({"AMI_ID": r.ami or "", "RETRY_SLEEP": repr(2.0 * r.timescale), "HOME": r.dir})
        return e

    def changes(rc, out):
        return None   # the script cannot tell; a failing second run says enough

    return [("create", "create", lambda r: ["sh", script, "create"], env, changes),
            ("again", "again", lambda r: ["sh", script, "create"], env, changes),
            ("destroy", "destroy", lambda r: ["sh", script, "destroy"], env, changes)]
