"""When each simulated object really changed state, on the simulated clock.

A benchmark that measures a client's own waits cannot tell how long the
client lagged behind AWS; this log says when an instance became running, a
NAT gateway available or an EKS cluster ACTIVE, at the moment the simulator
made it so (the deadline of a timed transition, not the tick that noticed
it), so the honest critical path can be computed from it.

Services call record() where they change a state.  EKS clusters, node groups,
add-ons and updates are watched instead (watch_eks), from outside svc_eks.py: a
snapshot of their timers before each tick tells at which deadline a change
happened.  Served by GET /_awssim/transitions; forgotten by reset().
"""
import threading

from .core import iso

# An object whose last transition is one of these starts a new lifecycle
# (a new entry) when the same id is used again (EKS and IAM reuse names).
FINAL = ("deleted",)


class Timeline:
    def __init__(self):
        self._lock = threading.Lock()
        self._objs = {}      # (account, region, type, id) -> [entry, ...]
        self._eks_seen = {}  # (account, region, kind, key) -> status

    def reset(self):
        with self._lock:
            self._objs = {}
            self._eks_seen = {}

    def record(self, account, region, typ, oid, state, at):
        key = (account, region, typ, oid)
        with self._lock:
            lives = self._objs.setdefault(key, [])
            if not lives or lives[-1]["transitions"][-1]["state"] in FINAL:
                lives.append({"type": typ, "id": oid, "account": account, "region": region, "transitions": []})
            tr = lives[-1]["transitions"]
            if tr and tr[-1]["state"] == state:
                return
            tr.append({"state": state, "at": at, "time": iso(at, millis=True)})

    def query(self, typ=None, oid=None, account=None, region=None):
        with self._lock:
            out = []
            for (acct, reg, t, i), lives in self._objs.items():
                if (typ and t != typ) or (oid and i != oid) or (account and acct != account) or \
                        (region and reg != region):
                    continue
                for e in lives:
                    out.append({"type": e["type"], "id": e["id"], "account": e["account"], "region": e["region"],
                                "transitions": sorted((dict(x) for x in e["transitions"]), key=lambda x: x["at"])})
            out.sort(key=lambda e: (e["transitions"][0]["at"] if e["transitions"] else 0, e["type"], e["id"]))
            return out

    # ------------------------------------------------------------------ EKS
    @staticmethod
    def eks_deadlines(scopes):
        """Timers of EKS objects before a tick: key -> (deadline, target)."""
        out = {}
        for (acct, reg), st in list(scopes.items()):
            for name, c in list(st.get("eks_clusters", {}).items()):
                if c.get("_next"):
                    out[(acct, reg, "eks:cluster", name)] = c["_next"]
                for ngn, ng in list(c.get("_nodegroups", {}).items()):
                    if ng.get("_next"):
                        out[(acct, reg, "eks:nodegroup", f"{name}/{ngn}")] = ng["_next"]
                for an, a in list(c.get("_addons", {}).items()):
                    if a.get("_next"):
                        out[(acct, reg, "eks:addon", f"{name}/{an}")] = (a["_next"], None)
                for uid, u in list(c.get("_updates", {}).items()):
                    if u.get("_next"):
                        out[(acct, reg, "eks:update", f"{name}/{uid}")] = (u["_next"], None)
        return out

    def watch_eks(self, scopes, before, now):
        """Record EKS status changes; `before` is eks_deadlines() from before the change."""
        live = {}
        for (acct, reg), st in list(scopes.items()):
            for name, c in list(st.get("eks_clusters", {}).items()):
                live[(acct, reg, "eks:cluster", name)] = c.get("status")
                for ngn, ng in list(c.get("_nodegroups", {}).items()):
                    live[(acct, reg, "eks:nodegroup", f"{name}/{ngn}")] = ng.get("status")
                for an, a in list(c.get("_addons", {}).items()):
                    live[(acct, reg, "eks:addon", f"{name}/{an}")] = a.get("status")
                for uid, u in list(c.get("_updates", {}).items()):
                    live[(acct, reg, "eks:update", f"{name}/{uid}")] = u.get("status")

        def when(key):
            d = before.get(key)
            # a timed change happened at its deadline; anything else just now
            return d[0] if d and d[0] <= now else now
        with self._lock:
            seen = dict(self._eks_seen)
        for key, status in live.items():
            if seen.get(key) != status:
                self.record(key[0], key[1], key[2], key[3], status, when(key))
        for key in seen:
            if key not in live:
                self.record(key[0], key[1], key[2], key[3], "deleted", when(key))
        with self._lock:
            self._eks_seen = live
