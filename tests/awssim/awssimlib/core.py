"""Shared building blocks: the error type, the simulated clock, id makers,
tag helpers and the EC2-style filter engine.

Every service module raises AwsError; the server turns it into the error
shape of the protocol the request came in with.  Times inside the simulator
are POSIX seconds on the simulated clock (wall clock + an offset that the
admin API can advance); durations of AWS state machines are multiplied by
the --timescale factor and carry a seeded jitter (real AWS never takes the
same time twice, and a fixed duration that is a multiple of a client's poll
interval would hide that client's polling lag).
"""
import fnmatch
import os
import random
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone


class AwsError(Exception):
    """An AWS error reply: code, message, HTTP status, extra body fields."""

    def __init__(self, code, message, status=400, extra=None, sender=True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}
        self.sender = sender


# Every AWS duration is drawn from [base * (1 - JITTER), base * (1 + JITTER)].
JITTER = 0.15


class Clock:
    """Simulated time = wall time + offset; durations scaled by timescale.

    Durations are jittered by a random generator seeded with `seed`, so a run
    is reproducible: the same seed and the same sequence of calls give the
    same durations.  reset() re-seeds it."""

    def __init__(self, timescale=1.0, seed=None):
        self.timescale = float(timescale)
        self.offset = 0.0
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1, 2 ** 31)
        self.rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._held = threading.local()

    def now(self):
        held = getattr(self._held, "t", None)
        if held is not None:
            return held
        with self._lock:
            return time.time() + self.offset

    def hold(self):
        """Freeze now() for this thread (one AWS request happens at one instant)."""
        self._held.t = None
        self._held.t = self.now()

    def release(self):
        self._held.t = None

    def advance(self, seconds):
        with self._lock:
            self.offset += float(seconds)

    def factor(self):
        with self._lock:
            return self.rng.uniform(1.0 - JITTER, 1.0 + JITTER)

    def span(self, aws_seconds, jitter=True):
        """Simulated seconds that something taking aws_seconds in AWS lasts here."""
        return aws_seconds * (self.factor() if jitter else 1.0) * self.timescale

    def later(self, aws_seconds, jitter=True):
        """Simulated deadline for something that takes about aws_seconds in AWS."""
        return self.now() + self.span(aws_seconds, jitter)

    def reset(self):
        with self._lock:
            self.offset = 0.0
            self.rng.seed(self.seed)


def iso(ts, millis=False):
    d = datetime.fromtimestamp(ts, timezone.utc)
    if millis:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def hexid(n=17):
    return secrets.token_hex((n + 1) // 2)[:n]


def ec2id(prefix, n=17):
    return f"{prefix}-{hexid(n)}"


def request_id():
    return str(uuid.uuid4())


def upper_id(prefix, n=17):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def tags_to_list(tags, key="Key", value="Value"):
    return [{key: k, value: v} for k, v in tags.items()]


def tags_from_list(lst, key="Key", value="Value"):
    return {t[key]: t.get(value, "") for t in (lst or [])}


def wildmatch(value, pattern):
    """EC2 filter values accept * and ? wildcards (\\ escapes)."""
    if "*" not in pattern and "?" not in pattern:
        return value == pattern
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def apply_filters(items, filters, getters, kind):
    """Filter resources the EC2 way.

    filters: list of {"Name":..., "Values":[...]} from the request.
    getters: filter name -> function(resource) -> list of string values.
    Supports tag:<key>, tag-key, tag-value on resources with a _tags dict.
    Unknown filter names raise InvalidParameterValue like EC2 does.
    """
    for f in filters or []:
        name = f.get("Name", "")
        values = f.get("Values") or []
        if name.startswith("tag:"):
            k = name[4:]
            def get(r, k=k):
                t = r.get("_tags", {})
                return [t[k]] if k in t else []
        elif name == "tag-key":
            def get(r):
                return list(r.get("_tags", {}).keys())
        elif name == "tag-value":
            def get(r):
                return list(r.get("_tags", {}).values())
        elif name in getters:
            get = getters[name]
        else:
            raise AwsError("InvalidParameterValue",
                           f"The filter '{name}' is invalid", 400)
        items = [r for r in items
                 if any(wildmatch(str(v), p) for v in get(r) for p in values)]
    return items


def paginate(items, token, max_results, default=1000):
    """Offset pagination with opaque tokens. Returns (page, next_token)."""
    start = 0
    if token:
        try:
            start = int(token.split(".")[-1], 16)
        except ValueError:
            raise AwsError("InvalidParameterValue", "Invalid pagination token", 400)
        if start < 0 or start > len(items):
            raise AwsError("InvalidParameterValue", "Invalid pagination token", 400)
    n = max_results if max_results else default
    page = items[start:start + n]
    nxt = None
    if start + n < len(items):
        nxt = "awssim." + secrets.token_hex(4) + "." + format(start + n, "x")
    return page, nxt


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "false", "no")
