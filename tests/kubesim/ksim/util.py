"""Errors, time, selectors and small helpers shared by every kubesim module.

ApiError is the one way a handler reports failure: it carries the HTTP code and
the Kubernetes Status reason, and server.py turns it into a Status body.
"""
import copy
import datetime
import ipaddress
import json
import re
import time
import urllib.parse
import uuid

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
    500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


class ApiError(Exception):
    """A failed API call; rendered as a v1 Status object."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message
        # reason "" is kept as empty (a webhook's Status may carry none); None means "from the code"
        self.reason = REASONS.get(code, "Unknown") if reason is None else reason
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {},
              "status": "Failure", "message": self.message, "code": self.code}
        if self.reason:
            st["reason"] = self.reason
        if self.details:
            st["details"] = self.details
        return st


def not_found(rt, name):
    gr = rt.plural + ("." + rt.group if rt.group else "")
    return ApiError(404, '%s "%s" not found' % (gr, name),
                    details={"name": name, "group": rt.group, "kind": rt.plural})


def invalid(rt, name, causes):
    """422 Invalid; causes = [(field, reason, message)]."""
    kind = rt.kind + ("." + rt.group if rt.group else "")
    msgs = ", ".join("%s: %s" % (f, m) for f, _, m in causes)
    if len(causes) > 1:  # an aggregate of several field errors prints as a list
        msgs = "[" + msgs + "]"
    return ApiError(422, '%s "%s" is invalid: %s' % (kind, name, msgs),
                    details={"name": name, "group": rt.group, "kind": rt.kind,
                             "causes": [{"reason": r, "message": m, "field": f}
                                        for f, r, m in causes]})


def forbidden(rt, name, msg, causes=None):
    gr = rt.plural + ("." + rt.group if rt.group else "")
    det = {"name": name, "group": rt.group, "kind": rt.plural}
    if causes:
        det["causes"] = causes
    return ApiError(403, '%s "%s" is forbidden: %s' % (gr, name, msg), details=det)


def now_rfc3339(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid():
    return str(uuid.uuid4())


def deep(o):
    return copy.deepcopy(o)


def canon(o):
    """Stable JSON text used to compare objects."""
    return json.dumps(o, sort_keys=True, separators=(",", ":"))


def is_loopback_host(host):
    """True for 127.0.0.0/8, ::1 and 'localhost' (tests may only talk to loopback)."""
    if host is None:
        return False
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def require_loopback_url(url, what):
    p = urllib.parse.urlsplit(url)
    if p.scheme not in ("http", "https") or not is_loopback_host(p.hostname):
        raise SystemExit("kubesim: %s %r is not a loopback http(s) URL; "
                         "tests may only send traffic to 127.0.0.0/8 or ::1" % (what, url))


NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def valid_subdomain(name):
    return bool(name) and len(name) <= 253 and bool(NAME_RE.match(name))


def valid_dns_label(name):
    return bool(name) and len(name) <= 63 and bool(LABEL_RE.match(name))


# ---- label and field selectors -------------------------------------------

def parse_label_selector(text):
    """Parse 'a=b,c!=d,e in (x,y),f,!g' into [(key, op, values)]."""
    reqs = []
    if not text:
        return reqs
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", p)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), "In" if m.group(2) == "in" else "NotIn", vals))
        elif "!=" in p:
            k, v = p.split("!=", 1)
            reqs.append((k.strip(), "NotIn", [v.strip()]))
        elif "==" in p:
            k, v = p.split("==", 1)
            reqs.append((k.strip(), "In", [v.strip()]))
        elif "=" in p:
            k, v = p.split("=", 1)
            reqs.append((k.strip(), "In", [v.strip()]))
        elif p.startswith("!"):
            reqs.append((p[1:].strip(), "DoesNotExist", []))
        else:
            reqs.append((p, "Exists", []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def selector_from_obj(sel):
    """A metav1.LabelSelector ({matchLabels, matchExpressions}) as requirements."""
    reqs = []
    if not sel:
        return reqs
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "In", [v]))
    for e in sel.get("matchExpressions") or []:
        reqs.append((e.get("key"), e.get("operator"), e.get("values") or []))
    return reqs


def get_path(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def parse_field_selector(text):
    """'metadata.name=x,metadata.namespace!=y' -> [(path, op, value)]."""
    out = []
    if not text:
        return out
    for p in text.split(","):
        p = p.strip()
        if not p:
            continue
        if "!=" in p:
            k, v = p.split("!=", 1)
            out.append((k.strip(), "!=", v.strip()))
        else:
            k, v = p.split("==", 1) if "==" in p else p.split("=", 1)
            out.append((k.strip(), "=", v.strip()))
    return out


SUPPORTED_FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName",
                    "status.phase", "spec.type", "involvedObject.name",
                    "involvedObject.kind", "involvedObject.namespace", "type", "reason"}


def fields_match(reqs, obj):
    for path, op, val in reqs:
        got = get_path(obj, path)
        got = "" if got is None else str(got)
        if (op == "=") != (got == val):
            return False
    return True


class Clock:
    """Scaled delays: a nominal delay of d seconds lasts d * timescale."""

    def __init__(self, timescale):
        self.timescale = timescale

    def delay(self, nominal):
        return nominal * self.timescale


def log(msg):
    import sys
    sys.stderr.write("kubesim: %s\n" % msg)
    sys.stderr.flush()


