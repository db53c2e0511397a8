"""Objects, the global resourceVersion counter and the watch event log.

One re-entrant lock guards everything; HTTP handlers and controllers hold it
while they read or write, and watchers wait on its condition variable.  Every
real write bumps the counter once, stamps the object and appends an event
(ADDED / MODIFIED / DELETED, with the previous object so label-filtered
watches see objects leave).  The log keeps the newest `log_size` events; a
watch from an older resourceVersion gets 410 Gone.
"""
import threading

from .util import ApiError, deep


class Store:
    def __init__(self, log_size=20000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.objs = {}     # (group, plural) -> {(ns, name): obj}
        self.rv = 1000
        self.events = []   # (rv, type, key, ns, name, obj, old)
        self.first_rv = self.rv  # events newer than this are in the log
        self.log_size = log_size

    def get(self, key, ns, name):
        return self.objs.get(key, {}).get((ns or "", name))

    def list(self, key, ns=None):
        items = self.objs.get(key, {})
        out = [o for (n, _), o in items.items() if ns is None or n == ns]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def all(self):
        for key, items in self.objs.items():
            for obj in list(items.values()):
                yield key, obj

    def _log(self, etype, key, obj, old):
        md = obj["metadata"]
        self.events.append((self.rv, etype, key, md.get("namespace", ""), md["name"], deep(obj),
                            deep(old) if old is not None else None))
        if len(self.events) > self.log_size:
            drop = len(self.events) - self.log_size
            self.first_rv = self.events[drop - 1][0]
            del self.events[:drop]
        self.cond.notify_all()

    def put(self, key, obj, old=None):
        """Store obj (a private copy is kept); returns the stored object."""
        self.rv += 1
        obj = deep(obj)
        md = obj["metadata"]
        md["resourceVersion"] = str(self.rv)
        k = (md.get("namespace", "") or "", md["name"])
        existed = k in self.objs.get(key, {})
        self.objs.setdefault(key, {})[k] = obj
        self._log("MODIFIED" if existed else "ADDED", key, obj, old)
        return obj

    def remove(self, key, obj):
        md = obj["metadata"]
        k = (md.get("namespace", "") or "", md["name"])
        cur = self.objs.get(key, {}).pop(k, None)
        if cur is None:
            return None
        self.rv += 1
        gone = deep(cur)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._log("DELETED", key, gone, cur)
        return gone

    def compact(self):
        """Forget the event log (tests use it to provoke 410 Gone)."""
        self.events = []
        self.first_rv = self.rv

    def events_since(self, rv):
        if rv < self.first_rv:
            raise ApiError(410, "too old resource version: %d (%d)" % (rv, self.first_rv + 1),
                           reason="Expired")
        return [e for e in self.events if e[0] > rv]
