"""Wire formats driven by the AWS service models.

Loads botocore's service-2.json (plus our overlay in ../overlay/<service>.json),
parses a request of any of the four protocols (ec2, query, json, rest-json)
into plain Python values keyed by model member names, validates it against the
input shape (required, type, enum, min/max, pattern), and serializes a Python
result through the output shape back to the protocol's wire form.  Service
code only sees and returns dicts with model member names; keys starting with
"_" are private simulator state and are never serialized.
"""
import base64
import copy
import json
import os
import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

import botocore.loaders
import botocore.model

from .core import AwsError, iso, env_flag

OVERLAY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "overlay")

# service key -> (botocore name, api version)
SERVICES = {
    "ec2": ("ec2", "2016-11-15"),
    "iam": ("iam", "2010-05-08"),
    "sts": ("sts", "2011-06-15"),
    "eks": ("eks", "2017-11-01"),
    "ssm": ("ssm", "2014-11-06"),
    "elbv2": ("elbv2", "2015-12-01"),
    "elb": ("elb", "2012-06-01"),
    "tagging": ("resourcegroupstaggingapi", "2017-01-26"),
    "kms": ("kms", "2014-11-01"),
    "pricing": ("pricing", "2017-10-15"),
}

# Which error code a validation failure takes, per service (what AWS sends).
VALIDATION_CODE = {
    "ec2": "InvalidParameterValue",
    "iam": "ValidationError",
    "sts": "ValidationError",
    "elbv2": "ValidationError",
    "elb": "ValidationError",
    "ssm": "ValidationException",
    "eks": "InvalidParameterException",
    "tagging": "InvalidParameterException",
    "kms": "ValidationException",
    "pricing": "ValidationException",
}


def _merge_overlay(model, overlay):
    for name, op in overlay.get("operations", {}).items():
        model["operations"][name] = op
    for name, shape in overlay.get("shapes", {}).items():
        if name in model["shapes"] and "members" in shape and shape.get("merge", True):
            base = model["shapes"][name]
            base.setdefault("members", {}).update(shape["members"])
            for k, v in shape.items():
                if k not in ("members", "merge"):
                    base[k] = v
        else:
            s = dict(shape)
            s.pop("merge", None)
            model["shapes"][name] = s


class Api:
    """One service model with request matchers for its operations."""

    def __init__(self, key):
        self.key = key
        bname, version = SERVICES[key]
        loader = botocore.loaders.Loader()
        raw = copy.deepcopy(loader.load_service_model(bname, "service-2", version))
        self.overlay_ops = []
        path = os.path.join(OVERLAY_DIR, bname + ".json")
        if os.path.exists(path):
            with open(path) as fh:
                ov = json.load(fh)
            self.overlay_ops = sorted(ov.get("operations", {}))
            _merge_overlay(raw, ov)
        self.model = botocore.model.ServiceModel(raw, bname)
        self.protocol = self.model.protocol
        self.metadata = self.model.metadata
        self.version = self.metadata["apiVersion"]
        self.ops = set(self.model.operation_names)
        self._routes = []
        if self.protocol == "rest-json":
            for name in self.model.operation_names:
                http = self.model.operation_model(name).http
                uri = http["requestUri"]
                path, _, query = uri.partition("?")
                pat = "^"
                labels = []
                for seg in path.strip("/").split("/"):
                    m = re.fullmatch(r"\{(\w+)(\+?)\}", seg)
                    if m:
                        labels.append(m.group(1))
                        pat += "/(.+)" if m.group(2) else "/([^/]+)"
                    elif seg:
                        pat += "/" + re.escape(seg)
                pat += "/?$"
                fixed_q = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
                self._routes.append((http["method"], re.compile(pat), labels, fixed_q, name))
            # more specific (longer) templates first
            self._routes.sort(key=lambda r: -len(r[1].pattern))

    def op(self, name):
        return self.model.operation_model(name)

    def match_rest(self, method, path, query):
        """Find the operation for a REST request; returns (name, labels) or None."""
        for m, rx, labels, fixed_q, name in self._routes:
            if m != method:
                continue
            mo = rx.match(path)
            if not mo:
                continue
            if any(k not in query for k in fixed_q):
                continue
            return name, {lab: unquote(v) for lab, v in zip(labels, mo.groups())}
        return None


# ---------------------------------------------------------------- problems

class Problem:
    """One validation failure, rendered per protocol by validation_error()."""

    def __init__(self, kind, path, value=None, detail=""):
        self.kind = kind      # missing | type | enum | range | length | pattern | unknown
        self.path = path      # list of wire names
        self.value = value
        self.detail = detail


def _lc(s):
    return s[:1].lower() + s[1:]


def validation_error(api_key, problems):
    """Turn Problems into the service's real error code and message."""
    if api_key == "ec2":
        p = problems[0]
        name = ".".join(p.path)
        if p.kind == "missing":
            return AwsError("MissingParameter", f"The request must contain the parameter {name}", 400)
        if p.kind == "unknown":
            return AwsError("UnknownParameter", f"The parameter {name} is not recognized", 400)
        detail = "" if p.kind == "enum" else p.detail
        return AwsError("InvalidParameterValue",
                        f"Value ({p.value}) for parameter {_lc(name)} is invalid. {detail}".strip(), 400)
    parts = []
    for p in problems:
        where = ".".join(_lc(x) for x in p.path if not x.isdigit()) or "request"
        if p.kind == "missing":
            parts.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        elif p.kind == "unknown":
            parts.append(f"Unknown parameter '{'.'.join(p.path)}' (awssim: not in the {api_key} model)")
        else:
            v = p.value if not isinstance(p.value, (list, dict)) else json.dumps(p.value)
            parts.append(f"Value '{v}' at '{where}' failed to satisfy constraint: {p.detail}")
    n = len(parts)
    msg = f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(parts)
    return AwsError(VALIDATION_CODE.get(api_key, "ValidationException"), msg, 400)


# ------------------------------------------------------------- validation

# Enums that AWS grows faster than Debian's late-2022 models: checked by form only.
OPEN_ENUMS = {"InstanceType"}

_pattern_cache = {}


def _pattern(p):
    if p not in _pattern_cache:
        try:
            _pattern_cache[p] = re.compile(p)
        except re.error:
            _pattern_cache[p] = None
    return _pattern_cache[p]


def validate(value, shape, path, problems):
    """Check constraints on an already-typed value tree."""
    t = shape.type_name
    md = shape.metadata
    if t == "structure":
        for req in shape.required_members:
            if value.get(req) is None:
                problems.append(Problem("missing", path + [_wire_name(shape.members[req], req)]))
        for k, v in value.items():
            if v is not None and k in shape.members:
                validate(v, shape.members[k], path + [_wire_name(shape.members[k], k)], problems)
        return
    if t == "list":
        _len_check(value, md, path, problems, "Member must have length")
        for i, v in enumerate(value, 1):
            validate(v, shape.member, path + [str(i)], problems)
        return
    if t == "map":
        _len_check(value, md, path, problems, "Member must have length")
        for k, v in value.items():
            validate(k, shape.key, path, problems)
            validate(v, shape.value, path + [k], problems)
        return
    if t == "string":
        enum = md.get("enum")
        if enum and shape.name in OPEN_ENUMS:
            enum = None
            if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9-]+", value):
                problems.append(Problem("enum", path, value, "Member must be an instance type"))
                return
        if enum and value not in enum:
            problems.append(Problem("enum", path, value,
                                    "Member must satisfy enum value set: [" + ", ".join(enum) + "]"))
            return
        _len_check(value, md, path, problems, "Member must have length")
        pat = md.get("pattern")
        if pat and value != "":
            rx = _pattern(pat)
            if rx is not None and not rx.fullmatch(value):
                problems.append(Problem("pattern", path, value,
                                        f"Member must satisfy regular expression pattern: {pat}"))
        return
    if t in ("integer", "long", "float", "double"):
        if "min" in md and value < md["min"]:
            problems.append(Problem("range", path, value,
                                    f"Member must have value greater than or equal to {md['min']}"))
        if "max" in md and value > md["max"]:
            problems.append(Problem("range", path, value,
                                    f"Member must have value less than or equal to {md['max']}"))


def _len_check(value, md, path, problems, what):
    n = len(value)
    if "min" in md and n < md["min"]:
        problems.append(Problem("length", path, value, f"{what} greater than or equal to {md['min']}"))
    if "max" in md and n > md["max"]:
        problems.append(Problem("length", path, value, f"{what} less than or equal to {md['max']}"))


def _wire_name(shape, default, ec2=False):
    ser = shape.serialization
    if ec2:
        if "queryName" in ser:
            return ser["queryName"]
        if "name" in ser:
            return ser["name"][0].upper() + ser["name"][1:]
        return default
    return ser.get("name", default)


# ---------------------------------------------------------- query parsing

def _tree(pairs):
    root = {}
    for k, v in pairs:
        node = root
        for part in k.split("."):
            node = node.setdefault(part, {})
        node[None] = v
    return root


def _scalar(raw, shape, path, problems):
    t = shape.type_name
    if t in ("string",):
        return raw
    if t in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            problems.append(Problem("type", path, raw, "Member must be a number"))
            return None
    if t in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            problems.append(Problem("type", path, raw, "Member must be a number"))
            return None
    if t == "boolean":
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        problems.append(Problem("type", path, raw, "Member must be a boolean"))
        return None
    if t == "timestamp":
        try:
            return _parse_ts(raw)
        except ValueError:
            problems.append(Problem("type", path, raw, "Member must be a timestamp"))
            return None
    if t == "blob":
        try:
            return base64.b64decode(raw, validate=True)
        except Exception:
            problems.append(Problem("type", path, raw, "Member must be base64"))
            return None
    return raw


def _parse_ts(raw):
    if isinstance(raw, (int, float)):
        return float(raw)
    s = raw.strip()
    try:
        return float(s)
    except ValueError:
        pass
    s = s.replace("Z", "+00:00")
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def _q_value(node, shape, path, ec2, problems):
    t = shape.type_name
    if t == "structure":
        return _q_struct(node, shape, path, ec2, problems)
    if t == "list":
        if not ec2 and not shape.serialization.get("flattened"):
            if node.get(None) == "" and len(node) == 1:
                return []
            inner_name = shape.member.serialization.get("name", "member")
            node = node.get(inner_name, {})
            path = path + [inner_name]
        out = []
        idx = sorted((k for k in node if k is not None), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        for k in idx:
            if not k.isdigit():
                problems.append(Problem("unknown", path + [k]))
                continue
            out.append(_q_value(node[k], shape.member, path + [k], ec2, problems))
        return out
    if t == "map":
        if not shape.serialization.get("flattened"):
            node = node.get("entry", {})
        kname = shape.key.serialization.get("name", "key")
        vname = shape.value.serialization.get("name", "value")
        out = {}
        for k in sorted((k for k in node if k is not None), key=lambda k: int(k) if k.isdigit() else 0):
            e = node[k]
            kk = e.get(kname, {}).get(None)
            if kk is None:
                problems.append(Problem("missing", path + [k, kname]))
                continue
            out[kk] = _q_value(e.get(vname, {None: ""}), shape.value, path + [k, vname], ec2, problems)
        return out
    if None not in node:
        problems.append(Problem("type", path, "", "Member must be a scalar"))
        return None
    return _scalar(node[None], shape, path, problems)


def _q_struct(node, shape, path, ec2, problems):
    out = {}
    seen = set()
    for mname, mshape in shape.members.items():
        key = _wire_name(mshape, mname, ec2)
        if key in node:
            seen.add(key)
            v = _q_value(node[key], mshape, path + [key], ec2, problems)
            if v is not None:
                out[mname] = v
    for k in node:
        if k is not None and k not in seen:
            problems.append(Problem("unknown", path + [k]))
    return out


def parse_query(api, opname, params):
    """params: list of (name, value) from the form body or query string."""
    op = api.op(opname)
    problems = []
    pairs = [(k, v) for k, v in params if k not in ("Action", "Version")]
    out = {}
    if op.input_shape is not None:
        out = _q_struct(_tree(pairs), op.input_shape, [], api.protocol == "ec2", problems)
    elif pairs:
        problems.append(Problem("unknown", [pairs[0][0]]))
    return out, problems


# ----------------------------------------------------------- json parsing

def _j_value(v, shape, path, problems):
    t = shape.type_name
    if v is None:
        return None
    bad = False
    if t == "structure":
        if not isinstance(v, dict):
            bad = True
        else:
            out = {}
            for k, x in v.items():
                if k not in shape.members:
                    problems.append(Problem("unknown", path + [k]))
                    continue
                y = _j_value(x, shape.members[k], path + [k], problems)
                if y is not None:
                    out[k] = y
            return out
    elif t == "list":
        if not isinstance(v, list):
            bad = True
        else:
            return [_j_value(x, shape.member, path + [str(i)], problems) for i, x in enumerate(v, 1)]
    elif t == "map":
        if not isinstance(v, dict):
            bad = True
        else:
            return {k: _j_value(x, shape.value, path + [k], problems) for k, x in v.items()}
    elif t == "string":
        bad = not isinstance(v, str)
    elif t in ("integer", "long"):
        bad = isinstance(v, bool) or not isinstance(v, int)
    elif t in ("float", "double"):
        bad = isinstance(v, bool) or not isinstance(v, (int, float))
    elif t == "boolean":
        bad = not isinstance(v, bool)
    elif t == "timestamp":
        try:
            return _parse_ts(v)
        except (ValueError, AttributeError):
            bad = True
    elif t == "blob":
        try:
            return base64.b64decode(v, validate=True)
        except Exception:
            bad = True
    if bad:
        problems.append(Problem("type", path, v, f"Member must be of type {t}"))
        return None
    return v


def parse_json(api, opname, body):
    op = api.op(opname)
    problems = []
    try:
        data = json.loads(body.decode("utf-8") or "{}") if body else {}
    except (ValueError, UnicodeDecodeError):
        raise AwsError("SerializationException", "Start of structure or map found where not expected.", 400)
    if not isinstance(data, dict):
        raise AwsError("SerializationException", "Start of list found where not expected", 400)
    out = _j_value(data, op.input_shape, [], problems) if op.input_shape is not None else {}
    return out or {}, problems


def parse_rest_json(api, opname, labels, query_pairs, headers, body):
    op = api.op(opname)
    shape = op.input_shape
    problems = []
    out = {}
    body_members = {}
    if shape is not None:
        for mname, m in shape.members.items():
            loc = m.serialization.get("location")
            wname = m.serialization.get("name", mname)
            if loc == "uri":
                if wname in labels:
                    out[mname] = labels[wname]
            elif loc == "querystring":
                vals = [v for k, v in query_pairs if k == wname]
                if not vals:
                    continue
                if m.type_name == "list":
                    out[mname] = [_scalar(v, m.member, [wname], problems) for v in vals]
                else:
                    v = _scalar(vals[0], m, [wname], problems)
                    if v is not None:
                        out[mname] = v
            elif loc == "header":
                if wname.lower() in headers:
                    out[mname] = _scalar(headers[wname.lower()], m, [wname], problems)
            else:
                body_members[mname] = m
    if body:
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise AwsError("InvalidParameterException" if api.key == "eks" else "SerializationException",
                           "Request body is not valid JSON", 400)
        if not isinstance(data, dict):
            raise AwsError("InvalidParameterException", "Request body must be a JSON object", 400)
        for k, v in data.items():
            if k not in body_members:
                problems.append(Problem("unknown", [k]))
                continue
            y = _j_value(v, body_members[k], [k], problems)
            if y is not None:
                out[k] = y
    return out, problems


def check(api, opname, params, problems):
    op = api.op(opname)
    if op.input_shape is not None and not problems:
        validate(params, op.input_shape, [], problems)
    if problems:
        raise validation_error(api.key, problems)


# ---------------------------------------------------------- serialization

class SerializeError(Exception):
    pass


STRICT = env_flag("AWSSIM_STRICT")


def _check_keys(value, shape, where):
    if STRICT:
        for k in value:
            if not k.startswith("_") and k not in shape.members:
                raise SerializeError(f"{where}: '{k}' is not a member of {shape.name}")


def _fmt_scalar_xml(v, shape, ec2):
    t = shape.type_name
    if t == "boolean":
        return "true" if v else "false"
    if t == "timestamp":
        if isinstance(v, (int, float)):
            return iso(v, millis=ec2)
        return str(v)
    if t == "blob":
        if isinstance(v, str):
            v = v.encode()
        return base64.b64encode(v).decode()
    return escape(str(v))


def _xml(name, v, shape, ec2, where):
    t = shape.type_name
    if t == "structure":
        return f"<{name}>{_xml_members(v, shape, ec2, where)}</{name}>"
    if t == "list":
        mname = shape.member.serialization.get("name", "member")
        if shape.serialization.get("flattened"):
            return "".join(_xml(name, x, shape.member, ec2, where) for x in v)
        inner = "".join(_xml(mname, x, shape.member, ec2, where) for x in v)
        return f"<{name}>{inner}</{name}>"
    if t == "map":
        kname = shape.key.serialization.get("name", "key")
        vname = shape.value.serialization.get("name", "value")
        entries = "".join(f"<entry>{_xml(kname, k, shape.key, ec2, where)}{_xml(vname, x, shape.value, ec2, where)}</entry>"
                          for k, x in v.items())
        return f"<{name}>{entries}</{name}>"
    return f"<{name}>{_fmt_scalar_xml(v, shape, ec2)}</{name}>"


def _xml_members(value, shape, ec2, where):
    _check_keys(value, shape, where)
    parts = []
    for mname, m in shape.members.items():
        v = value.get(mname)
        if v is None:
            continue
        parts.append(_xml(m.serialization.get("name", mname), v, m, ec2, where + "." + mname))
    return "".join(parts)


def serialize_xml(api, opname, result, rid):
    op = api.op(opname)
    shape = op.output_shape
    if api.protocol == "ec2":
        ns = "http://ec2.amazonaws.com/doc/2016-11-15/"
        inner = _xml_members(result or {}, shape, True, opname) if shape is not None else ""
        if shape is None:
            inner = "<return>true</return>"
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{opname}Response xmlns="{ns}">'
                f"<requestId>{rid}</requestId>{inner}</{opname}Response>").encode()
    ns = api.metadata.get("xmlNamespace", "")
    body = ""
    if shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper") or f"{opname}Result"
        body = f"<{wrapper}>{_xml_members(result or {}, shape, False, opname)}</{wrapper}>"
    return (f'<{opname}Response xmlns="{ns}">{body}'
            f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{opname}Response>").encode()


def _json(v, shape, where):
    t = shape.type_name
    if t == "structure":
        _check_keys(v, shape, where)
        out = {}
        for mname, m in shape.members.items():
            x = v.get(mname)
            if x is None or m.serialization.get("location") in ("header", "statusCode", "headers"):
                continue
            out[m.serialization.get("name", mname)] = _json(x, m, where + "." + mname)
        return out
    if t == "list":
        return [_json(x, shape.member, where) for x in v]
    if t == "map":
        return {k: _json(x, shape.value, where) for k, x in v.items()}
    if t == "timestamp":
        return v if isinstance(v, (int, float)) else _parse_ts(v)
    if t == "blob":
        return base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
    return v


def serialize_json(api, opname, result):
    op = api.op(opname)
    shape = op.output_shape
    if shape is None:
        return b"{}"
    return json.dumps(_json(result or {}, shape, opname), separators=(",", ":")).encode()


def error_body(api_key, protocol, err, rid, namespace=""):
    """(status, headers, body) of an error reply in the protocol's shape."""
    if protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(err.code)}</Code>'
                f"<Message>{escape(err.message)}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>")
        return err.status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    if protocol == "query":
        typ = "Sender" if err.sender else "Receiver"
        body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>{typ}</Type><Code>{escape(err.code)}</Code>'
                f"<Message>{escape(err.message)}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return err.status, {"Content-Type": "text/xml"}, body.encode()
    if protocol == "json":
        body = {"__type": err.code, "message": err.message}
        body.update(err.extra)
        return err.status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body).encode()
    # rest-json
    body = {"message": err.message}
    body.update(err.extra)
    hdrs = {"Content-Type": "application/json", "x-amzn-ErrorType": f"{err.code}:http://internal.amazon.com/coral/com.amazon.{api_key}/"}
    return err.status, hdrs, json.dumps(body).encode()


def conform(shape, value):
    """Copy value keeping only what the shape has (request -> response forms)."""
    if value is None:
        return None
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return None
        out = {}
        for k, v in value.items():
            if k in shape.members:
                c = conform(shape.members[k], v)
                if c is not None:
                    out[k] = c
        return out
    if t == "list":
        return [conform(shape.member, v) for v in value] if isinstance(value, list) else None
    if t == "map":
        return {k: conform(shape.value, v) for k, v in value.items()} if isinstance(value, dict) else None
    return value


def write_client_models(dest):
    """Write the overlay-merged models where botocore/aws CLI find them
    (point AWS_DATA_PATH at dest), so real clients can call overlay operations."""
    loader = botocore.loaders.Loader()
    for bname, version in SERVICES.values():
        path = os.path.join(OVERLAY_DIR, bname + ".json")
        if not os.path.exists(path):
            continue
        raw = copy.deepcopy(loader.load_service_model(bname, "service-2", version))
        with open(path) as fh:
            _merge_overlay(raw, json.load(fh))
        d = os.path.join(dest, bname, version)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "service-2.json"), "w") as fh:
            json.dump(raw, fh)
    return dest
