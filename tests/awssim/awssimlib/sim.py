"""The simulator core: identities, per-account/region state, dispatch,
call counting, fault rules and the admin API.

Calling steps (from server.py): Sim(opts) once; for every AWS request
sim.handle(req) -> Reply; for /_awssim/ paths sim.admin(method, path, query,
body) -> Reply.  One re-entrant lock serialises all state changes; the clock
ticker thread advances state machines (sim.tick) between requests.

Every request lands in the call log (service, operation, whether the
operation mutates, HTTP status, error code, fault applied), so a reliability
suite can list every mutating call and what happened to it.  Eventual
consistency windows (CONSISTENCY) are multiplied by a scale, one for all of
them or per window family (--consistency-delay-scale "0" or "ec2=0,iam=2",
admin POST /_awssim/consistency; 0 turns a window off).
"""
import base64
import collections
import configparser
import json
import random
import re
import threading
import time
import traceback
from urllib.parse import parse_qsl

from . import sigv4
from .core import AwsError, Clock, iso, request_id
from .timeline import Timeline
from .wire import (SERVICES, Api, check, error_body, parse_json, parse_query, parse_rest_json, serialize_json,
                   serialize_xml)

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_AKID = "AKIAIOSFODNN7EXAMPLE"
DEFAULT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DEFAULT_ARN = "arn:aws:iam::123456789012:user/secfaas-test"

SIGNING_NAMES = {"ec2": "ec2", "iam": "iam", "sts": "sts", "eks": "eks", "ssm": "ssm", "tagging": "tagging",
                 "kms": "kms", "pricing": "pricing"}

# Protocol-specific codes for auth failures: kind -> {protocol/service: (code, status)}
AUTH_CODES = {
    "missing": {"ec2": ("MissingAuthenticationToken", 401), "query": ("MissingAuthenticationToken", 403),
                "json": ("MissingAuthenticationTokenException", 403), "rest-json": ("MissingAuthenticationTokenException", 403)},
    "incomplete": {"ec2": ("IncompleteSignature", 400), "query": ("IncompleteSignature", 400),
                   "json": ("IncompleteSignatureException", 400), "rest-json": ("IncompleteSignatureException", 400)},
    "unknown_key": {"ec2": ("AuthFailure", 401), "query": ("InvalidClientTokenId", 403),
                    "json": ("UnrecognizedClientException", 403), "rest-json": ("UnrecognizedClientException", 403)},
    "bad_signature": {"ec2": ("AuthFailure", 401), "query": ("SignatureDoesNotMatch", 403),
                      "json": ("InvalidSignatureException", 403), "rest-json": ("InvalidSignatureException", 403)},
    "expired_sig": {"ec2": ("RequestExpired", 400), "query": ("SignatureDoesNotMatch", 403),
                    "json": ("InvalidSignatureException", 403), "rest-json": ("InvalidSignatureException", 403)},
    "expired_token": {"ec2": ("RequestExpired", 400), "query": ("ExpiredToken", 403),
                      "json": ("ExpiredTokenException", 403), "rest-json": ("ExpiredTokenException", 403)},
}

THROTTLE = {"ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
            "iam": ("Throttling", 400, "Rate exceeded"), "sts": ("Throttling", 400, "Rate exceeded"),
            "elbv2": ("Throttling", 400, "Rate exceeded"), "elb": ("Throttling", 400, "Rate exceeded"),
            "eks": ("ThrottlingException", 429, "Rate exceeded"), "ssm": ("ThrottlingException", 400, "Rate exceeded"),
            "tagging": ("ThrottledException", 400, "Rate exceeded"),
            "kms": ("ThrottlingException", 400, "Rate exceeded"), "pricing": ("ThrottlingException", 400, "Rate exceeded")}
HTTP500 = {"ec2": "InternalError", "eks": "ServerException", "ssm": "InternalServerError", "kms": "KMSInternalException",
           "pricing": "InternalErrorException"}
HTTP503 = {"ec2": "Unavailable", "eks": "ServiceUnavailableException", "ssm": "ServiceUnavailable"}
# The "denied" fault: the caller's policies do not allow the action (a
# least-privilege identity).  Each protocol's access-denied error, 403.
DENIED = {"ec2": "UnauthorizedOperation", "query": "AccessDenied", "json": "AccessDeniedException",
          "rest-json": "AccessDeniedException"}
# The service prefix of IAM action names, where it is not the API's key.
ACTION_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing", "tagging": "tag"}

# Eventual consistency: AWS seconds (before jitter and --consistency-delay-scale)
# during which a change is not yet seen by other calls.  Sources in README.md.
CONSISTENCY = {
    "iam.role": 8.0,               # new role: not assumable by EKS / STS AssumeRole
    "iam.instance-profile": 10.0,  # new profile, or role added to it: not usable by RunInstances
    "ec2.id": 2.0,                 # new EC2 resource id: unknown to other calls, not listed
    "ec2.tags": 1.5,               # CreateTags / DeleteTags: not seen by reads and filters
    "ec2.attribute": 1.5,          # ModifyVpcAttribute / ModifySubnetAttribute: not seen by reads yet
}

def call_target(api_key, params):
    """The one object a call names, for the call log: an EKS cluster
    ("name"), node group or add-on ("cluster/name"), an IAM role or instance
    profile by name; None for anything else (EC2's calls take lists)."""
    if api_key == "eks":
        cluster = params.get("clusterName") or params.get("name")
        sub = params.get("nodegroupName") or params.get("addonName")
        if not isinstance(cluster, str):
            return None
        return cluster + "/" + sub if isinstance(sub, str) else cluster
    if api_key == "iam":
        for k in ("RoleName", "InstanceProfileName"):
            if isinstance(params.get(k), str):
                return params[k]
    return None


# Operations that do not change anything (everything else is "mutating" in the call log).
READ_PREFIXES = ("Describe", "Get", "List", "Search", "Lookup")
READ_ONLY = {"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML", "sts:GetSessionToken",
             "sts:GetCallerIdentity", "sts:GetAccessKeyInfo", "sts:DecodeAuthorizationMessage",
             "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
             "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateRandom", "kms:Sign",
             "kms:Verify", "kms:GenerateMac", "kms:VerifyMac"}
CALL_LOG_MAX = 200000
# POST /_awssim/clock waits for the work it set off (kubesim starts, network-
# policy calls), each of which gives up after kubehook.START_TIMEOUT.
PENDING_WAIT = 660.0


def parse_consistency(text):
    """'X' or 'X,KIND=Y,…' or 'KIND=Y,…' -> (default scale, {kind or family: scale}).

    KIND is a window name ("ec2.tags") or a family ("ec2", "iam"); the longest
    match wins and anything not named keeps the default (1 unless given)."""
    default, per = 1.0, {}
    for part in filter(None, (x.strip() for x in str(text).split(","))):
        name, eq, val = part.rpartition("=")
        try:
            scale = float(val)
        except ValueError:
            raise ValueError(f"not a number: {val!r}")
        if scale < 0:
            raise ValueError(f"scale must be >= 0: {part!r}")
        if not eq:
            default = scale
        elif any(k == name or k.startswith(name + ".") for k in CONSISTENCY):
            per[name] = scale
        else:
            raise ValueError(f"no consistency window {name!r} (known: {', '.join(sorted(CONSISTENCY))})")
    return default, per


def mutating(api_key, op):
    if not op or f"{api_key}:{op}" in READ_ONLY:
        return False
    return not op.startswith(READ_PREFIXES)


class Reply:
    def __init__(self, status=200, headers=None, body=b"", action=None, delay=0.0):
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.action = action      # None | "reset" | "truncate"
        self.delay = delay        # seconds to sleep before answering (latency fault)


class Request:
    """A parsed HTTP request as the server saw it."""

    def __init__(self, method, raw_path, raw_query, header_pairs, body, scheme, base_url):
        self.method = method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.header_pairs = header_pairs
        self.headers = {}
        for n, v in header_pairs:
            self.headers.setdefault(n.lower(), v)
        self.body = body
        self.scheme = scheme
        self.base_url = base_url


class Ctx:
    """What a service operation sees: who calls, where, and the simulator."""

    def __init__(self, sim, api_key, op, account, region, identity, rid):
        self.sim = sim
        self.service = api_key
        self.op = op
        self.account = account
        self.region = region
        self.identity = identity
        self.rid = rid

    @property
    def now(self):
        return self.sim.clock.now()

    def state(self, region=None):
        return self.sim.scope(self.account, region or self.region)

    def gstate(self):
        return self.sim.scope(self.account, "global")

    @property
    def partition(self):
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"


class Sim:
    def __init__(self, timescale=1.0, default_region="us-east-1", state_dir=None, log=None, seed=None,
                 consistency="1"):
        self.clock = Clock(timescale, seed)
        self.timescale0 = float(timescale)
        self.consistency = parse_consistency(consistency)
        self.consistency0 = self.consistency
        self.timeline = Timeline()
        self.call_log = collections.deque(maxlen=CALL_LOG_MAX)
        self.call_seq = 0
        self._cur = threading.local()
        self.lock = threading.RLock()
        self.default_region = default_region
        self.state_dir = state_dir
        self.log = log or (lambda msg: None)
        self.base_url = None
        self.ca_path = None
        t0 = time.time()
        self.apis = {k: Api(k) for k in SERVICES}
        self.log(f"loaded {len(self.apis)} service models in {time.time() - t0:.2f}s")
        self.keys = {}
        self.add_key(DEFAULT_AKID, DEFAULT_SECRET, DEFAULT_ACCOUNT, DEFAULT_ARN)
        self.scopes = {}
        self.calls = collections.Counter()
        self.errors = collections.Counter()
        self.faults = []
        self.rng = random.Random()
        from . import svc_ec2, svc_eks, svc_elb, svc_iam, svc_kms, svc_pricing, svc_ssm, svc_sts, svc_tagging
        self.services = {
            "ec2": svc_ec2.EC2(self), "iam": svc_iam.IAM(self), "sts": svc_sts.STS(self),
            "eks": svc_eks.EKS(self), "ssm": svc_ssm.SSM(self), "elbv2": svc_elb.ELBv2(self),
            "elb": svc_elb.ELB(self), "tagging": svc_tagging.Tagging(self), "kms": svc_kms.KMS(self),
            "pricing": svc_pricing.Pricing(self),
        }
        self.pending = set()   # background activations (kubesim starts) in flight
        self.pending_cv = threading.Condition(self.lock)

    # ------------------------------------------------------------ identity
    def add_key(self, akid, secret, account, arn, token=None, expires=None, user_id=None):
        self.keys[akid] = {"akid": akid, "secret": secret, "account": account, "arn": arn, "token": token,
                           "expires": expires, "userId": user_id or ("AIDA" + akid[4:].upper())[:21]}

    def load_credentials(self, path):
        with open(path) as fh:
            text = fh.read()
        if text.lstrip().startswith(("[", "{")) and text.lstrip()[:2] != "[d" and _looks_json(text):
            data = json.loads(text)
            for e in data if isinstance(data, list) else [data]:
                acct = e.get("account", DEFAULT_ACCOUNT)
                self.add_key(e["accessKeyId"], e["secretAccessKey"], acct,
                             e.get("arn", f"arn:aws:iam::{acct}:user/{e.get('user', 'awssim')}"))
            return
        cp = configparser.ConfigParser()
        cp.read_string(text)
        for sec in cp.sections():
            s = cp[sec]
            acct = s.get("account", DEFAULT_ACCOUNT)
            self.add_key(s["aws_access_key_id"], s["aws_secret_access_key"], acct,
                         s.get("arn", f"arn:aws:iam::{acct}:user/{sec}"))

    def lookup_key(self, akid):
        return self.keys.get(akid)

    # --------------------------------------------------------------- state
    def scope(self, account, region):
        key = (account, region)
        if key not in self.scopes:
            self.scopes[key] = collections.defaultdict(dict)
        return self.scopes[key]

    def reset(self):
        with self.lock:
            for svc in self.services.values():
                if hasattr(svc, "shutdown"):
                    svc.shutdown()
            self.scopes = {}
            self.calls.clear()
            self.errors.clear()
            self.faults = []
            self.clock.reset()
            self.clock.timescale = self.timescale0
            self.consistency = self.consistency0
            self.timeline.reset()
            self.call_log.clear()
            self.call_seq = 0
            for k in [k for k, v in self.keys.items() if v.get("token")]:
                del self.keys[k]

    def shutdown(self):
        with self.lock:
            for svc in self.services.values():
                if hasattr(svc, "shutdown"):
                    svc.shutdown()

    def tick(self):
        with self.lock:
            now = self.clock.now()
            before = self.timeline.eks_deadlines(self.scopes)
            for svc in self.services.values():
                if hasattr(svc, "tick"):
                    svc.tick(now)
            self.timeline.watch_eks(self.scopes, before, now)

    def consistency_scale(self, kind):
        default, per = self.consistency
        best = max((k for k in per if kind == k or kind.startswith(k + ".")), key=len, default=None)
        return per[best] if best is not None else default

    def lag(self, kind):
        """Simulated seconds of an eventual-consistency window (0 when turned off)."""
        scale = self.consistency_scale(kind)
        if scale <= 0:
            return 0.0
        return self.clock.span(CONSISTENCY[kind] * scale)

    def _consistency_json(self):
        return {"scale": self.consistency[0], "scales": dict(self.consistency[1]), "delays": dict(CONSISTENCY),
                "effective": {k: self.consistency_scale(k) for k in CONSISTENCY}, "timescale": self.clock.timescale}

    def record(self, account, region, typ, oid, state, at=None):
        """A state transition for GET /_awssim/transitions."""
        self.timeline.record(account, region, typ, oid, state, self.clock.now() if at is None else at)

    def inventory(self, account=None, region=None):
        with self.lock:
            self.tick()
            out = collections.defaultdict(list)
            for (acct, reg), st in sorted(self.scopes.items()):
                if account and acct != account or region and reg not in (region, "global"):
                    continue
                for svc in self.services.values():
                    if hasattr(svc, "inventory"):
                        for typ, items in svc.inventory(acct, reg, st).items():
                            for it in items:
                                it.setdefault("account", acct)
                                if reg != "global":
                                    it.setdefault("region", reg)
                                out[typ].append(it)
            out = {k: v for k, v in out.items() if v}
            return {"resources": out, "count": sum(len(v) for v in out.values())}

    # --------------------------------------------------------------- faults
    def _fault_for(self, api_key, op):
        hits = []
        with self.lock:
            for rule in list(self.faults):
                want = rule.get("operation", "*")
                if want not in ("*", op, f"{api_key}:{op}"):
                    continue
                if rule.get("service") and rule["service"] != api_key:
                    continue
                if "rate" in rule and self.rng.random() >= float(rule["rate"]):
                    continue
                if "count" in rule:
                    rule["count"] = int(rule["count"]) - 1
                    if rule["count"] <= 0:
                        self.faults.remove(rule)
                hits.append(rule)
        return hits

    # -------------------------------------------------------------- routing
    def _protocol_guess(self, req, form):
        if "x-amz-target" in req.headers:
            prefix = req.headers["x-amz-target"].partition(".")[0]
            for key in ("ssm", "kms", "pricing"):
                if self.apis[key].metadata.get("targetPrefix") == prefix:
                    return "json", key
            return "json", "ssm"
        if req.raw_path.startswith(("/clusters", "/tags", "/addons", "/cluster-registrations", "/cluster-versions")):
            return "rest-json", "eks"
        version = form.get("Version", "")
        if version == "2016-11-15":
            return "ec2", "ec2"
        for key in ("iam", "sts", "elbv2", "elb"):
            if self.apis[key].version == version:
                return "query", key
        return "query", "sts"

    def handle(self, req):
        info = {"service": None, "operation": None, "error": None, "fault": None}
        self._cur.info = info
        try:
            r = self._handle(req, info)
        finally:
            self._cur.info = None
        with self.lock:
            self.call_seq += 1
            svc, op = info["service"], info["operation"]
            self.call_log.append({"seq": self.call_seq, "at": self.clock.now(), "service": svc, "operation": op,
                                  "mutating": mutating(svc, op), "status": r.status if r.action != "reset" else None,
                                  "error": info["error"], "fault": info["fault"],
                                  "latencyMs": int(round(r.delay * 1000)) if r.delay else 0,
                                  "requestId": info.get("rid"), "auth": info.get("auth"),
                                  "target": info.get("target")})
        return r

    def _handle(self, req, info):
        rid = request_id()
        info["rid"] = rid
        query_pairs = sigv4.split_query(req.raw_query)
        form = {}
        form_pairs = []
        ctype = req.headers.get("content-type", "")
        if req.method == "POST" and "x-www-form-urlencoded" in ctype:
            form_pairs = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        elif req.method == "GET" and any(k == "Action" for k, _ in query_pairs):
            form_pairs = [(k, v) for k, v in query_pairs if not k.startswith("X-Amz-")]
        for k, v in form_pairs:
            form.setdefault(k, v)
        proto, api_key = self._protocol_guess(req, form)
        try:
            scope = sigv4.scope_of(req.headers, query_pairs)
        except sigv4.AuthError as e:
            return self._auth_error(api_key, proto, e, rid)
        if scope is not None:
            svc = scope["service"]
            if svc == "elasticloadbalancing":
                api_key = "elbv2" if form.get("Version") == "2015-12-01" else "elb"
            elif svc in SIGNING_NAMES:
                api_key = svc
            else:
                return self._error(api_key, proto, AwsError(
                    "UnknownService", f"awssim does not simulate service '{svc}'", 400), rid)
        api = self.apis[api_key]
        proto = api.protocol
        info["service"] = api_key
        info["operation"] = form.get("Action") or None
        # ---- operation
        labels = {}
        try:
            if proto in ("query", "ec2"):
                op = form.get("Action")
                if not op:
                    raise AwsError("MissingAction", "Missing Action", 400)
                if op not in api.ops:
                    raise AwsError("InvalidAction", f"Could not find operation {op} for version {api.version}", 400)
            elif proto == "json":
                target = req.headers.get("x-amz-target", "")
                prefix, _, op = target.partition(".")
                if prefix != api.metadata.get("targetPrefix") or op not in api.ops:
                    raise AwsError("UnknownOperationException", f"Unknown operation {target}", 400)
            else:
                m = api.match_rest(req.method, req.raw_path, dict(query_pairs))
                if m is None:
                    raise AwsError("UnknownOperationException",
                                   f"No operation matches {req.method} {req.raw_path}", 404)
                op, labels = m
        except AwsError as e:
            info["error"] = e.code
            return self._error(api_key, proto, e, rid)
        info["operation"] = op
        # ---- authentication
        now_wall = time.time()
        sim_now = self.clock.now()
        identity = None
        region = scope["region"] if scope else self.default_region
        try:
            if "authorization" in req.headers:
                info["auth"] = "header"
                identity, scope = sigv4.verify_header(req.method, req.raw_path, query_pairs, req.header_pairs,
                                                      req.body, self.lookup_key, now_wall, sim_now)
            elif scope is not None:
                # a query-signed URL: an EKS bearer token that a cluster's API
                # server checks, not a call of the token's holder
                info["auth"] = "presigned"
                identity, scope = sigv4.verify_presigned(req.method, req.raw_path, query_pairs,
                                                         req.header_pairs, req.body, self.lookup_key, sim_now)
                if api_key != "sts" or op != "GetCallerIdentity":
                    raise sigv4.AuthError("incomplete", "awssim accepts presigned URLs only for STS GetCallerIdentity")
            elif not (api_key == "sts" and op in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")):
                raise sigv4.AuthError("missing", "Request is missing Authentication Token" if proto != "ec2"
                                      else "AWS was not able to validate the provided access credentials")
        except sigv4.AuthError as e:
            self._count(api_key, op, AUTH_CODES[e.kind][proto][0])
            return self._auth_error(api_key, proto, e, rid)
        if api_key == "iam" and scope and scope["region"] not in ("us-east-1", "cn-north-1", "us-gov-west-1"):
            err = AwsError("SignatureDoesNotMatch", "Credential should be scoped to a valid region. ", 403)
            self._count(api_key, op, err.code)
            return self._error(api_key, proto, err, rid)
        # ---- faults
        delay = 0.0
        for rule in self._fault_for(api_key, op):
            kind = rule.get("kind", "throttle")
            if kind == "latency":
                delay += float(rule.get("ms", 0)) / 1000.0
                info["fault"] = info["fault"] or "latency"
                continue
            info["fault"] = kind
            self._count(api_key, op, "fault:" + kind, call=kind != "truncate")
            code = None
            if kind == "throttle":
                code, status, msg = THROTTLE[api_key]
                r = self._error(api_key, proto, AwsError(code, msg, status), rid)
            elif kind in ("http500", "500"):
                code = HTTP500.get(api_key, "InternalFailure")
                r = self._error(api_key, proto, AwsError(code, "We encountered an internal error. Please try again.",
                                                         500, sender=False), rid)
            elif kind in ("http503", "503"):
                code = HTTP503.get(api_key, "ServiceUnavailable")
                r = self._error(api_key, proto, AwsError(code, "Service is unavailable. Please try again.",
                                                         503, sender=False), rid)
            elif kind == "denied":
                action = f"{ACTION_PREFIX.get(api_key, api_key)}:{op}"
                who = identity["arn"] if identity else "anonymous"
                msg = (f"User: {who} is not authorized to perform: {action} on resource: {rule.get('resource', '*')} "
                       f"because no identity-based policy allows the {action} action")
                if proto == "ec2":
                    msg = "You are not authorized to perform this operation. " + msg
                code = DENIED.get(proto, "AccessDeniedException")
                r = self._error(api_key, proto, AwsError(code, msg, 403), rid)
            elif kind == "reset":
                r = Reply(action="reset")
            elif kind == "truncate":
                r = self._dispatch(api, api_key, proto, op, req, form_pairs, query_pairs, labels, identity, region, rid)
                r.action = "truncate"
            else:
                continue
            if code:
                info["error"] = code
            r.delay = delay
            return r
        r = self._dispatch(api, api_key, proto, op, req, form_pairs, query_pairs, labels, identity, region, rid)
        r.delay = delay
        return r

    def _dispatch(self, api, api_key, proto, op, req, form_pairs, query_pairs, labels, identity, region, rid):
        try:
            if proto in ("query", "ec2"):
                params, problems = parse_query(api, op, form_pairs)
            elif proto == "json":
                params, problems = parse_json(api, op, req.body)
            else:
                params, problems = parse_rest_json(api, op, labels, query_pairs, req.headers, req.body)
            check(api, op, params, problems)
            info = getattr(self._cur, "info", None)
            if info is not None:
                info["target"] = call_target(api_key, params)
            account = identity["account"] if identity else DEFAULT_ACCOUNT
            if api_key == "iam":
                region = "global"
            ctx = Ctx(self, api_key, op, account, region, identity, rid)
            ctx.request = req
            svc = self.services[api_key]
            fn = getattr(svc, op, None)
            if fn is None:
                raise AwsError("NotImplemented" if proto != "ec2" else "Unsupported",
                               f"awssim: {api_key} {op} is in the AWS model but not simulated", 501)
            with self.lock:
                self.tick()
                self.clock.hold()
                try:
                    result = fn(ctx, params)
                finally:
                    if api_key == "eks":   # under the same lock hold: no tick can see the change first
                        self.timeline.watch_eks(self.scopes, {}, self.clock.now())
                    self.clock.release()
            if proto in ("query", "ec2"):
                body = serialize_xml(api, op, result, rid)
                hdrs = {"Content-Type": "text/xml;charset=UTF-8", "x-amzn-RequestId": rid}
            else:
                body = serialize_json(api, op, result)
                hdrs = {"Content-Type": "application/x-amz-json-1.1" if proto == "json" else "application/json",
                        "x-amzn-RequestId": rid}
            self._count(api_key, op, None)
            return Reply(200, hdrs, body)
        except AwsError as e:
            self._count(api_key, op, e.code)
            return self._error(api_key, proto, e, rid)
        except Exception as e:  # a simulator bug: say so loudly, in the protocol's shape
            self.log("internal error in %s %s: %s\n%s" % (api_key, op, e, traceback.format_exc()))
            self._count(api_key, op, "awssim-bug")
            return self._error(api_key, proto, AwsError("InternalFailure", f"awssim bug: {e}", 500, sender=False), rid)

    def _count(self, api_key, op, err, call=True):
        with self.lock:
            if call:
                self.calls[f"{api_key}:{op}"] += 1
            if err:
                self.errors[f"{api_key}:{op}:{err}"] += 1
        info = getattr(self._cur, "info", None)
        if info is not None and err and not err.startswith("fault:"):
            info["error"] = err

    def _error(self, api_key, proto, err, rid):
        status, hdrs, body = error_body(api_key, proto, err, rid, self.apis[api_key].metadata.get("xmlNamespace", ""))
        hdrs["x-amzn-RequestId"] = rid
        return Reply(status, hdrs, body)

    def _auth_error(self, api_key, proto, e, rid):
        code, status = AUTH_CODES[e.kind][proto]
        msg = e.message
        if proto == "ec2" and e.kind in ("unknown_key", "bad_signature"):
            msg = "AWS was not able to validate the provided access credentials"
        return self._error(api_key, proto, AwsError(code, msg, status), rid)

    # ---------------------------------------------------------------- admin
    def admin(self, method, path, query, body):
        try:
            data = json.loads(body.decode() or "{}") if body else {}
        except ValueError:
            return _json_reply(400, {"error": "body is not JSON"})
        q = dict(parse_qsl(query))
        p = path[len("/_awssim"):]
        if p == "/health":
            return _json_reply(200, {"ok": True})
        if p == "/inventory" and method == "GET":
            return _json_reply(200, self.inventory(q.get("account"), q.get("region")))
        if p == "/calls" and method == "GET":
            with self.lock:
                out = {"calls": dict(self.calls), "errors": dict(self.errors), "total": sum(self.calls.values()),
                       "mutating": dict(collections.Counter(f"{c['service']}:{c['operation']}" for c in self.call_log
                                                            if c["mutating"])),
                       "seq": self.call_seq}
                if q.get("log") not in (None, "", "0", "false"):
                    since = int(q.get("since") or 0)
                    out["log"] = [dict(c, time=iso(c["at"], millis=True)) for c in self.call_log if c["seq"] > since]
                return _json_reply(200, out)
        if p == "/transitions" and method == "GET":
            with self.lock:
                self.tick()
            objs = self.timeline.query(q.get("type"), q.get("id"), q.get("account"), q.get("region"))
            return _json_reply(200, {"objects": objs, "count": len(objs)})
        if p == "/consistency":
            if method == "POST":
                spec = [str(data.get("scale", 1))] + [f"{k}={v}" for k, v in (data.get("scales") or {}).items()]
                try:
                    setting = parse_consistency(",".join(spec))
                except ValueError as e:
                    return _json_reply(400, {"error": str(e)})
                with self.lock:
                    self.tick()
                    self.consistency = setting
            return _json_reply(200, self._consistency_json())
        if p == "/reset" and method == "POST":
            self.reset()
            return _json_reply(200, {"ok": True})
        if p == "/clock":
            if method == "POST":
                if "timescale" in data:
                    ts = float(data["timescale"])
                    if ts <= 0:
                        return _json_reply(400, {"error": "timescale must be > 0"})
                    self.clock.timescale = ts
                self.clock.advance(float(data.get("advance", 0)))
                self.tick()
                # kubesim starts and network-policy calls: each is bounded by
                # kubehook.START_TIMEOUT, so this waits for them to end
                self.wait_pending(PENDING_WAIT)
                self.tick()
            now = self.clock.now()
            return _json_reply(200, {"now": iso(now), "epoch": now, "offset": self.clock.offset,
                                     "timescale": self.clock.timescale})
        if p == "/faults":
            with self.lock:
                if method == "POST":
                    rules = data.get("rules", data if isinstance(data, list) else [data])
                    for r in rules:
                        if r.get("kind", "throttle") not in ("throttle", "http500", "500", "http503", "503",
                                                             "latency", "reset", "truncate", "denied"):
                            return _json_reply(400, {"error": f"unknown fault kind {r.get('kind')}"})
                        self.faults.append(dict(r))
                    if "seed" in data:
                        self.rng.seed(data["seed"])
                elif method == "DELETE":
                    self.faults = []
                return _json_reply(200, {"rules": self.faults})
        if p == "/config" and method == "GET":
            return _json_reply(200, {"url": self.base_url, "ca": self.ca_path, "account": DEFAULT_ACCOUNT,
                                     "accessKeyId": DEFAULT_AKID, "secretAccessKey": DEFAULT_SECRET,
                                     "region": self.default_region, "timescale": self.clock.timescale,
                                     "seed": self.clock.seed, "consistencyDelayScale": self.consistency[0],
                                     "consistencyDelayScales": dict(self.consistency[1])})
        m = re.fullmatch(r"/eks/clusters/([^/]+)/nodegroups", p)
        if m and method == "GET":
            with self.lock:
                self.tick()
                r = self.services["eks"].admin_nodegroups(m.group(1), q.get("account"), q.get("region"))
            return _json_reply(200 if r is not None else 404, r if r is not None else {"error": "no such cluster"})
        m = re.fullmatch(r"/eks/clusters/([^/]+)/addons", p)
        if m and method == "GET":
            with self.lock:
                self.tick()
                r = self.services["eks"].admin_addons(m.group(1), q.get("account"), q.get("region"))
            return _json_reply(200 if r is not None else 404, r if r is not None else {"error": "no such cluster"})
        if p == "/elb/load-balancers" and method == "POST":
            with self.lock:
                self.tick()
                try:
                    r = self.services["elbv2"].admin_create(data)
                except AwsError as e:
                    return _json_reply(e.status, {"error": e.message, "code": e.code})
            return _json_reply(200, r)
        m = re.fullmatch(r"/elb/load-balancers/([^/]+)", p)
        if m and method == "DELETE":
            with self.lock:
                self.tick()
                ok = self.services["elbv2"].admin_delete(m.group(1))
            return _json_reply(200 if ok else 404, {"deleted": ok})
        return _json_reply(404, {"error": f"no admin endpoint {method} {path}"})

    # ------------------------------------------------------- activations
    def start_pending(self, key, fn):
        """Run fn() on a thread (e.g. starting a kubesim), tracked by key."""
        with self.lock:
            if key in self.pending:
                return
            self.pending.add(key)

        def run():
            try:
                fn()
            except Exception:
                self.log("activation %s failed:\n%s" % (key, traceback.format_exc()))
            finally:
                with self.lock:
                    self.pending.discard(key)
                    self.timeline.watch_eks(self.scopes, {}, self.clock.now())
                    self.pending_cv.notify_all()
        threading.Thread(target=run, daemon=True).start()

    def wait_pending(self, timeout):
        deadline = time.time() + timeout
        with self.lock:
            while self.pending and time.time() < deadline:
                self.pending_cv.wait(timeout=max(0.0, deadline - time.time()))


def _looks_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _json_reply(status, obj):
    return Reply(status, {"Content-Type": "application/json"}, json.dumps(obj, indent=1, sort_keys=True).encode())


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()
