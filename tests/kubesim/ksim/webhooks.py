"""Admission webhooks (admissionregistration.k8s.io/v1), called for real.

Owned by the kubesim suite (tests/kubesim); secfaas's own code never imports
it.  Three parts:

* Configurations: defaulting and validation of MutatingWebhookConfiguration
  and ValidatingWebhookConfiguration the way the real API server does them
  (422 Invalid with the real field paths and messages; on update the real
  "ratcheting" lets an already-stored sideEffects Some/Unknown, unknown
  admissionReviewVersions or duplicate names stay).
* Matching: rules (operations incl. "*", apiGroups, apiVersions, resources
  incl. "*", "*/*", "pods/*" and "pods/status", scope), namespaceSelector
  (namespace labels; a Namespace's own labels), objectSelector (object or
  oldObject labels), matchConditions in the CEL subset of cel.py.  Webhook
  and policy configurations themselves are never sent to webhooks.
* Calling: an AdmissionReview (v1, or v1beta1 when only that is listed) is
  POSTed over HTTPS to clientConfig.service -- resolved through the Service
  in the store to a Ready pod selected by it and the service port's
  targetPort (number or container port name), verified against caBundle with
  the name "<service>.<namespace>.svc" -- or to clientConfig.url (https and a
  loopback host only; anything else is refused without sending a byte), with
  "?timeout=<N>s" and a real N-second deadline.  A pod in kubesim's pod
  network (network.py) is dialled from a control-plane address, so
  NetworkPolicies apply to the call as on EKS; other pod IPs (simulated
  pods) are never dialled: the call fails as "connection refused" would.

Failures to call (no endpoints, refused, TLS, deadline, non-200, malformed or
mismatched reviews) honour failurePolicy: Fail -> 500 InternalError with the
real message shape, Ignore -> the webhook is skipped.  Rejections, dry-run
refusals (400) and patches that do not apply (500) do not depend on it.
The calls are made while kubesim holds its store lock (one request at a
time, as everywhere in kubesim): a webhook that calls back into kubesim
would wait until its own timeout.
"""
import base64
import binascii
import http.client
import json
import os
import random
import re
import socket
import ssl
import tempfile
import time
import urllib.parse
import uuid

from . import cel, ssa
from .util import (ApiError, canon, deep, is_loopback_host, labels_match, log, selector_from_obj,
                   valid_subdomain)

GROUP = "admissionregistration.k8s.io"
MUTATING, VALIDATING = "mutatingwebhookconfigurations", "validatingwebhookconfigurations"
EXEMPT = {MUTATING, VALIDATING, "validatingadmissionpolicies", "validatingadmissionpolicybindings",
          "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}
NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
ALL_SIDE_EFFECTS = ("None", "NoneOnDryRun", "Some", "Unknown")
REVIEW_VERSIONS = ("v1", "v1beta1")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
USER_AGENT = "kube-apiserver-admission"
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
QUALIFIED_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def is_exempt(rt):
    return rt.group == GROUP and rt.plural in EXEMPT


# ---- field errors, formatted like k8s.io/apimachinery field.Error -----------

def gov(v):
    """A value as Go's field errors print it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "[]string{%s}" % ", ".join(json.dumps(x) for x in v)
    return json.dumps(v)


def f_invalid(path, value, detail):
    return (path, "FieldValueInvalid", "Invalid value: %s: %s" % (gov(value), detail))


def f_required(path, detail=""):
    return (path, "FieldValueRequired", "Required value" + (": " + detail if detail else ""))


def f_unsupported(path, value, supported):
    return (path, "FieldValueNotSupported", "Unsupported value: %s: supported values: %s"
            % (gov(value), ", ".join(json.dumps(s) for s in supported)))


def f_duplicate(path, value):
    return (path, "FieldValueDuplicate", "Duplicate value: %s" % gov(value))


# ---- defaulting -----------------------------------------------------------------

def default_config(kind, obj):
    """SetDefaults_{Mutating,Validating}Webhook and Rule/ServiceReference defaults (v1)."""
    for h in obj.get("webhooks") or []:
        if not isinstance(h, dict):
            continue
        for k, v in (("failurePolicy", "Fail"), ("matchPolicy", "Equivalent"), ("namespaceSelector", {}),
                     ("objectSelector", {}), ("timeoutSeconds", 10)):
            if h.get(k) is None:
                h[k] = v
        if kind == "MutatingWebhookConfiguration" and h.get("reinvocationPolicy") is None:
            h["reinvocationPolicy"] = "Never"
        for r in h.get("rules") or []:
            if isinstance(r, dict) and r.get("scope") is None:
                r["scope"] = "*"
        svc = (h.get("clientConfig") or {}).get("service") if isinstance(h.get("clientConfig"), dict) else None
        if isinstance(svc, dict) and svc.get("port") is None:
            svc["port"] = 443


def check_decodable(kind, obj):
    """caBundle is []byte: bad base64 fails decoding (400), before validation."""
    for h in obj.get("webhooks") or []:
        cc = h.get("clientConfig") if isinstance(h, dict) else None
        ca = cc.get("caBundle") if isinstance(cc, dict) else None
        if ca is None:
            continue
        try:
            if not isinstance(ca, str):
                raise binascii.Error("caBundle must be a base64 string")
            base64.b64decode(ca, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ApiError(400, '%s in version "v1" cannot be handled as a %s: illegal base64 data in '
                           'caBundle: %s' % (kind, kind, e))


# ---- validation ------------------------------------------------------------------

def _fully_qualified(path, name):
    if not name:
        return [f_required(path)]
    if not isinstance(name, str) or not valid_subdomain(name):
        return [f_invalid(path, name, SUBDOMAIN_MSG)]
    if len(name.split(".")) < 3:
        return [f_invalid(path, name, "should be a domain with at least three segments separated by dots")]
    return []


def _label_selector(sel, path):
    out = []
    if not isinstance(sel, dict):
        return [f_invalid(path, sel, "must be a label selector")]
    for i, e in enumerate(sel.get("matchExpressions") or []):
        p = "%s.matchExpressions[%d]" % (path, i)
        op = (e or {}).get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            out.append(f_unsupported(p + ".operator", op, ["DoesNotExist", "Exists", "In", "NotIn"]))
        elif op in ("In", "NotIn") and not (e or {}).get("values"):
            out.append(f_required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and (e or {}).get("values"):
            out.append((p + ".values", "FieldValueForbidden",
                        "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    return out


def _resources(resources, path):
    out = []
    if not resources:
        return [f_required(path)]
    with_wild_sub, wild_res_subs = set(), set()
    double, single, plain = False, False, False
    for i, rs in enumerate(resources):
        if not rs:
            out.append(f_required("%s[%d]" % (path, i)))
            continue
        if rs == "*/*":
            double = True
        if rs == "*":
            single = True
        if "/" not in rs:
            plain = rs != "*"
            continue
        res, sub = rs.split("/", 1)
        if res in with_wild_sub:
            out.append(f_invalid("%s[%d]" % (path, i), rs, "if '%s/*' is present, must not specify %s" % (res, rs)))
        if sub in wild_res_subs:
            out.append(f_invalid("%s[%d]" % (path, i), rs, "if '*/%s' is present, must not specify %s" % (sub, rs)))
        if sub == "*":
            with_wild_sub.add(res)
        if res == "*":
            wild_res_subs.add(sub)
    if len(resources) > 1 and double:
        out.append(f_invalid(path, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        out.append(f_invalid(path, resources, "if '*' is present, must not specify other resources without "
                                              "subresources"))
    return out


def _rule(rule, path):
    out = []
    if not isinstance(rule, dict):
        return [f_invalid(path, rule, "must be an object")]
    ops = rule.get("operations") or []
    if not ops:
        out.append(f_required(path + ".operations"))
    if len(ops) > 1 and "*" in ops:
        out.append(f_invalid(path + ".operations", ops, "if '*' is present, must not specify other operations"))
    for i, o in enumerate(ops):
        if o not in OPERATIONS:
            out.append(f_unsupported("%s.operations[%d]" % (path, i), o, OPERATIONS))
    groups = rule.get("apiGroups")
    if not groups:
        out.append(f_required(path + ".apiGroups"))
    elif len(groups) > 1 and "*" in groups:
        out.append(f_invalid(path + ".apiGroups", groups, "if '*' is present, must not specify other API groups"))
    versions = rule.get("apiVersions") or []
    if not versions:
        out.append(f_required(path + ".apiVersions"))
    if len(versions) > 1 and "*" in versions:
        out.append(f_invalid(path + ".apiVersions", versions, "if '*' is present, must not specify other API "
                                                              "versions"))
    for i, v in enumerate(versions):
        if v == "":
            out.append(f_required("%s.apiVersions[%d]" % (path, i)))
    out += _resources(rule.get("resources") or [], path + ".resources")
    if rule.get("scope") is not None and rule["scope"] not in SCOPES:
        out.append(f_unsupported(path + ".scope", rule["scope"], SCOPES))
    return out


def _url(path, url):
    form = "; desired format: https://host[/path]"
    try:
        u = urllib.parse.urlsplit(url)
    except ValueError as e:
        return [f_required(path, "url must be a valid URL: %s%s" % (e, form))]
    out = []
    if u.scheme != "https":
        out.append(f_invalid(path, u.scheme, "'https' is the only allowed URL scheme" + form))
    if not u.netloc:
        out.append(f_invalid(path, u.netloc, "host must be specified" + form))
    if u.username is not None or u.password is not None:
        out.append(f_invalid(path, u.netloc.rsplit("@", 1)[0], "user information is not permitted in the URL"))
    if u.fragment:
        out.append(f_invalid(path, u.fragment, "fragments are not permitted in the URL"))
    if u.query:
        out.append(f_invalid(path, u.query, "query parameters are not permitted in the URL"))
    return out


def _service(path, svc):
    out = []
    if not svc.get("name"):
        out.append(f_required(path + ".name", "service name is required"))
    if not svc.get("namespace"):
        out.append(f_required(path + ".namespace", "service namespace is required"))
    port = svc.get("port", 443)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        out.append(f_invalid(path + ".port", port, "port is not valid: must be between 1 and 65535, inclusive"))
    p = svc.get("path")
    if p is None or p in ("", "/"):
        return out
    if p == "//":
        return out + [f_invalid(path + ".path", p, "segment[0] may not be empty")]
    if not p.startswith("/"):
        out.append(f_invalid(path + ".path", p, "must start with a '/'"))
    check = p[1:]
    if check.endswith("/"):
        check = check[:-1]
    for i, step in enumerate(check.split("/")):
        if not step:
            out.append(f_invalid(path + ".path", p, "segment[%d] may not be empty" % i))
        elif not valid_subdomain(step):
            out.append(f_invalid(path + ".path", p, "segment[%d]: %s" % (i, SUBDOMAIN_MSG)))
    return out


def _match_conditions(conds, path, compile_expr):
    out = []
    if not isinstance(conds, list):
        return [f_invalid(path, conds, "must be a list")]
    if len(conds) > 64:
        out.append((path, "FieldValueTooMany", "Too many: %d: must have at most 64 items" % len(conds)))
    seen = set()
    for i, mc in enumerate(conds):
        p = "%s[%d]" % (path, i)
        mc = mc if isinstance(mc, dict) else {}
        name = mc.get("name")
        if not name:
            out.append(f_required(p + ".name"))
        elif not isinstance(name, str) or not QUALIFIED_RE.match(name.split("/")[-1]):
            out.append(f_invalid(p + ".name", name, "name part must consist of alphanumeric characters, '-', '_' "
                                                    "or '.', and must start and end with an alphanumeric character"))
        elif name in seen:
            out.append(f_duplicate(p + ".name", name))
        seen.add(name)
        expr = mc.get("expression")
        if not expr:
            out.append(f_required(p + ".expression"))
            continue
        try:
            compile_expr(expr)
        except cel.CelError as e:
            out.append(f_invalid(p + ".expression", expr, "compilation failed: ERROR: <input>: %s" % e))
    return out


def _review_versions(versions, path, require_known):
    out = []
    if not versions:
        return [f_required(path, "must specify one of %s" % ", ".join(REVIEW_VERSIONS))]
    seen = set()
    for i, v in enumerate(versions):
        if v in seen:
            out.append(f_invalid("%s[%d]" % (path, i), v, "duplicate version"))
            continue
        seen.add(v)
        if not isinstance(v, str) or not DNS1035_RE.match(v) or len(v) > 63:
            out.append(f_invalid("%s[%d]" % (path, i), v, "a DNS-1035 label must consist of lower case "
                                 "alphanumeric characters or '-', start with an alphabetic character, and end "
                                 "with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
                                 "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"))
    if require_known and not any(v in REVIEW_VERSIONS for v in versions):
        out.append(f_invalid(path, versions, "must include at least one of %s" % ", ".join(REVIEW_VERSIONS)))
    return out


def validate_config(kind, obj, old, compile_expr):
    """Field errors [(field, reason, message)] for a webhook configuration."""
    mutating = kind == "MutatingWebhookConfiguration"
    hooks = obj.get("webhooks")
    if hooks is None:
        hooks = []
    if not isinstance(hooks, list):
        return [f_invalid("webhooks", hooks, "must be a list")]
    old_hooks = [h for h in ((old or {}).get("webhooks") or []) if isinstance(h, dict)] if old else None
    # Real ratcheting: what an older object already has may stay on update.
    require_no_side = old is None or all(h.get("sideEffects") in NO_SIDE_EFFECTS for h in old_hooks)
    require_known = old is None or all(any(v in REVIEW_VERSIONS for v in h.get("admissionReviewVersions") or [])
                                       or not h.get("admissionReviewVersions") for h in old_hooks)
    require_unique = old is None or len({h.get("name") for h in old_hooks}) == len(old_hooks)
    ignore_mc = old is not None and len(old_hooks) == len(hooks) and all(
        canon((h or {}).get("matchConditions")) == canon(o.get("matchConditions")) for h, o in zip(hooks, old_hooks))
    allowed_side = NO_SIDE_EFFECTS if require_no_side else ALL_SIDE_EFFECTS
    out, names = [], set()
    for i, h in enumerate(hooks):
        p = "webhooks[%d]" % i
        if not isinstance(h, dict):
            out.append(f_invalid(p, h, "must be an object"))
            continue
        out += _fully_qualified(p + ".name", h.get("name"))
        for j, r in enumerate(h.get("rules") or []):
            out += _rule(r, "%s.rules[%d]" % (p, j))
        if h.get("failurePolicy") is not None and h["failurePolicy"] not in ("Fail", "Ignore"):
            out.append(f_unsupported(p + ".failurePolicy", h["failurePolicy"], ["Fail", "Ignore"]))
        if h.get("matchPolicy") is not None and h["matchPolicy"] not in ("Equivalent", "Exact"):
            out.append(f_unsupported(p + ".matchPolicy", h["matchPolicy"], ["Equivalent", "Exact"]))
        se = h.get("sideEffects")
        if se is None:
            out.append(f_required(p + ".sideEffects", "must specify one of %s" % ", ".join(allowed_side)))
        elif se not in allowed_side:
            out.append(f_unsupported(p + ".sideEffects", se, allowed_side))
        ts = h.get("timeoutSeconds")
        if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool) or not 1 <= ts <= 30):
            out.append(f_invalid(p + ".timeoutSeconds", ts, "the timeout value must be between 1 and 30 seconds"))
        for sk in ("namespaceSelector", "objectSelector"):
            if h.get(sk) is not None:
                out += _label_selector(h[sk], p + "." + sk)
        if mutating and h.get("reinvocationPolicy") is not None and \
                h["reinvocationPolicy"] not in ("IfNeeded", "Never"):
            out.append(f_unsupported(p + ".reinvocationPolicy", h["reinvocationPolicy"], ["IfNeeded", "Never"]))
        cc = h.get("clientConfig") if isinstance(h.get("clientConfig"), dict) else {}
        has_url, has_svc = cc.get("url") is not None, cc.get("service") is not None
        if has_url == has_svc:
            out.append(f_required(p + ".clientConfig", "exactly one of url or service is required"))
        elif has_url:
            out += _url(p + ".clientConfig.url", cc["url"])
        else:
            out += _service(p + ".clientConfig.service", cc["service"] if isinstance(cc["service"], dict) else {})
        if not ignore_mc and h.get("matchConditions") is not None:
            out += _match_conditions(h["matchConditions"], p + ".matchConditions", compile_expr)
        out += _review_versions(h.get("admissionReviewVersions") or [], p + ".admissionReviewVersions",
                                require_known)
        if require_unique and h.get("name"):
            if h["name"] in names:
                out.append(f_duplicate(p + ".name", h["name"]))
            names.add(h["name"])
    return out


# ---- calling ------------------------------------------------------------------------

class CallError(Exception):
    """Failure to call (or to understand) a webhook: failurePolicy decides."""


def _generic_response_message(code, body):
    """client-go's error text for a non-2xx answer (NewGenericServerResponse)."""
    try:
        st = json.loads(body)
        if isinstance(st, dict) and st.get("kind") == "Status" and st.get("message"):
            return st["message"]
    except ValueError:
        pass
    text = body.decode("utf-8", "replace").strip()[:1024] if body else ""
    msgs = {400: "the server rejected our request for an unknown reason",
            401: "the server has asked for the client to provide credentials",
            403: "the server does not allow access to the requested resource",
            404: "the server could not find the requested resource",
            405: "the server does not allow this method on the requested resource",
            409: "the server reported a conflict", 410: "the server has asked for the client to provide credentials",
            422: "the server rejected our request due to an error in our request",
            429: "the server has received too many requests and has asked us to try again later",
            503: "the server is currently unable to handle the request",
            504: "the server was unable to return a response in the time allotted, but may still be processing "
                 "the request"}
    if code in msgs:
        return msgs[code]
    if code >= 500:
        return 'an error on the server ("%s") has prevented the request from succeeding' % (text or "unknown")
    return "the server responded with the status code %d but did not return more information" % code


def _cert_names(der):
    """DNS/IP subjectAltNames of a DER certificate (best effort, for messages)."""
    try:
        fd, path = tempfile.mkstemp(suffix=".pem")
        with os.fdopen(fd, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
        try:
            info = ssl._ssl._test_decode_cert(path)  # noqa: SLF001 (stdlib has no public decoder)
        finally:
            os.unlink(path)
        return [v for k, v in info.get("subjectAltName", ()) if k in ("DNS", "IP Address")]
    except Exception:  # only ever used to word an error
        return []


class Target:
    def __init__(self, host, port, server_name, display):
        self.host, self.port, self.server_name, self.display = host, port, server_name, display


class Webhooks:
    def __init__(self, cluster, admission):
        self.c = cluster
        self.adm = admission

    # ---- configuration listing and matching -----------------------------------

    def hooks(self, plural):
        """[(config name, index, hook)], configurations sorted by name (as the API server orders them)."""
        out = []
        for cfg in self.c.store.list((GROUP, plural)):
            for i, h in enumerate(cfg.get("webhooks") or []):
                if isinstance(h, dict):
                    out.append((cfg["metadata"]["name"], i, h))
        return out

    @staticmethod
    def rule_matches(rule, a):
        def has(lst, v):
            return isinstance(lst, list) and ("*" in lst or v in lst)
        if not (has(rule.get("operations"), a.op) and has(rule.get("apiGroups"), a.rt.group)
                and has(rule.get("apiVersions"), a.version)):
            return False
        scope = rule.get("scope") or "*"
        if scope == "Namespaced" and (a.rt.kind == "Namespace" or not a.rt.namespaced):
            return False
        if scope == "Cluster" and a.rt.namespaced:
            return False
        for rs in rule.get("resources") or []:
            res, _, sub = rs.partition("/")
            if (res == "*" or res == a.rt.plural) and (sub == "*" or sub == (a.sub or "")):
                return True
        return False

    def namespace_labels(self, a):
        if a.rt.kind == "Namespace" and not a.sub:
            o = a.obj if a.obj is not None else a.old
            return ((o or {}).get("metadata") or {}).get("labels") or {}
        if not a.rt.namespaced:
            return None
        nso = self.c.store.get(("", "namespaces"), "", a.ns)
        return ((nso or {}).get("metadata") or {}).get("labels") or {}

    def should_call(self, h, a):
        sel = h.get("namespaceSelector") or {}
        if sel:
            nsl = self.namespace_labels(a)
            if nsl is not None and not labels_match(selector_from_obj(sel), nsl):
                return False
        osel = h.get("objectSelector") or {}
        if osel:
            req = selector_from_obj(osel)
            if not any(o is not None and labels_match(req, (o.get("metadata") or {}).get("labels"))
                       for o in (a.obj, a.old)):
                return False
        if not any(self.rule_matches(r, a) for r in h.get("rules") or [] if isinstance(r, dict)):
            return False
        conds = h.get("matchConditions") or []
        if not conds:
            return True
        env = {"object": a.obj, "oldObject": a.old, "params": None, "request": self.cel_request(a)}
        errors = []
        for mc in conds:
            expr = mc.get("expression", "")
            try:
                v = self.adm.eval(expr, env)
                if not isinstance(v, bool):
                    raise cel.CelError("expected bool, got %s" % type(v).__name__)
            except cel.CelError as e:
                errors.append("expression '%s' resulted in error: %s" % (expr, e))
                continue
            if v is False:
                return False  # any false condition skips the webhook, errors or not
        if errors:
            if h.get("failurePolicy", "Fail") == "Ignore":
                return False
            msg = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            gr = a.rt.gr()
            raise ApiError(403, ('%s "%s" is forbidden: %s' % (gr, a.name, msg)) if a.name else
                           "%s is forbidden: %s" % (gr, msg),
                           details={"name": a.name, "group": a.rt.group, "kind": a.rt.plural})
        return True

    @staticmethod
    def cel_request(a):
        r = {"operation": a.op, "namespace": a.ns, "name": a.name,
             "kind": {"group": a.rt.group, "version": a.version, "kind": a.rt.kind},
             "resource": {"group": a.rt.group, "version": a.version, "resource": a.rt.plural},
             "userInfo": {"username": a.user.get("username", ""), "groups": a.user.get("groups", [])},
             "dryRun": bool(a.dry_run)}
        if a.sub:
            r["subResource"] = a.sub
        return r

    # ---- the review -----------------------------------------------------------------

    def review(self, a, version):
        rt = a.rt
        gvk = {"group": rt.group, "version": a.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": a.version, "resource": rt.plural}
        req = {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr}
        if a.sub:
            req["subResource"] = a.sub
        req["requestKind"] = dict(gvk)
        req["requestResource"] = dict(gvr)
        if a.sub:
            req["requestSubResource"] = a.sub
        if a.name:
            req["name"] = a.name
        if a.ns:
            req["namespace"] = a.ns
        req["operation"] = a.op
        ui = {"username": a.user.get("username", "")}
        if a.user.get("uid"):
            ui["uid"] = a.user["uid"]
        if a.user.get("groups"):
            ui["groups"] = list(a.user["groups"])
        req["userInfo"] = ui

        def gv(o):
            if o is None:
                return None
            o = deep(o)
            o["apiVersion"], o["kind"] = rt.gv(a.version), rt.kind
            return o
        req["object"] = gv(a.obj)
        req["oldObject"] = gv(a.old)
        req["dryRun"] = bool(a.dry_run)
        req["options"] = a.options()
        return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/" + version, "request": req}

    # ---- where to connect ----------------------------------------------------------------

    def target(self, h, timeout):
        cc = h.get("clientConfig") or {}
        if cc.get("url"):
            u = urllib.parse.urlsplit(cc["url"])
            display = "%s?timeout=%ds" % (cc["url"], timeout)
            if u.scheme != "https" or not is_loopback_host(u.hostname):
                raise CallError('failed to call webhook: Post "%s": kubesim: refusing to call a webhook URL that is not https on a '
                                "loopback host (tests only talk to 127.0.0.0/8 and ::1)" % display)
            return Target(u.hostname, u.port or 443, u.hostname, display)
        svc = cc.get("service") or {}
        name, ns, port = svc.get("name", ""), svc.get("namespace", ""), svc.get("port", 443)
        display = "https://%s.%s.svc:%d%s?timeout=%ds" % (name, ns, port, svc.get("path") or "", timeout)

        def fail(reason):
            return CallError('failed to call webhook: Post "%s": %s' % (display, reason))
        s = self.c.store.get(("", "services"), ns, name)
        if s is None:
            raise fail('service "%s" not found' % name)
        spec = s.get("spec") or {}
        if spec.get("type") == "ExternalName":
            raise fail('unsupported service type "ExternalName"')
        sport = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
        if sport is None:
            raise fail('no service port %d found for service "%s"' % (port, name))
        eps = []
        if spec.get("selector"):
            sel = [(k, "In", [v]) for k, v in spec["selector"].items()]
            for p in self.c.store.list(("", "pods"), ns):
                st = p.get("status") or {}
                if p["metadata"].get("deletionTimestamp") or not st.get("podIP") or \
                        not labels_match(sel, p["metadata"].get("labels")):
                    continue
                ready = st.get("phase") == "Running" and any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
                if not ready and not spec.get("publishNotReadyAddresses"):
                    continue
                tp = sport.get("targetPort", port)
                if isinstance(tp, str):
                    tp = next((cp.get("containerPort") for c in (p.get("spec") or {}).get("containers") or []
                               for cp in c.get("ports") or [] if cp.get("name") == tp), None)
                if tp:
                    eps.append((st["podIP"], int(tp)))
        else:
            ep = self.c.store.get(("", "endpoints"), ns, name) or {}
            for ss in ep.get("subsets") or []:
                pport = next((pp.get("port") for pp in ss.get("ports") or []
                              if (pp.get("name") or "") == (sport.get("name") or "")), None)
                for ad in ss.get("addresses") or []:
                    if pport and ad.get("ip"):
                        eps.append((ad["ip"], int(pport)))
        if not eps:
            raise fail('no endpoints available for service "%s"' % name)
        ip, tport = random.choice(eps)
        return Target(ip, tport, "%s.%s.svc" % (name, ns), display)

    def ssl_context(self, h, display):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ca = (h.get("clientConfig") or {}).get("caBundle")
        if ca:
            pem = base64.b64decode(ca).decode("ascii", "replace")
            try:
                ctx.load_verify_locations(cadata=pem)
            except (ssl.SSLError, ValueError):
                raise CallError("could not get REST client: unable to load root certificates: unable to parse "
                                "bytes as PEM block")
        else:
            ctx.load_default_certs()
        return ctx

    def post(self, h, body, timeout):
        """POST the review; returns the parsed answer or raises CallError."""
        t = self.target(h, timeout)
        ctx = self.ssl_context(h, t.display)
        deadline = time.monotonic() + timeout
        addr = "%s:%d" % (t.host, t.port) if ":" not in t.host else "[%s]:%d" % (t.host, t.port)

        def fail(reason):
            return CallError('failed to call webhook: Post "%s": %s' % (t.display, reason))

        def left():
            r = deadline - time.monotonic()
            if r <= 0:
                raise socket.timeout()
            return r
        net = self.c.network
        in_net = net is not None and net.enabled and net.has_presence(t.host)
        if not is_loopback_host(t.host) and not in_net:
            # A simulated pod: nothing listens there, and kubesim never sends traffic anywhere but loopback
            # and its own network namespaces.
            raise fail("dial tcp %s: connect: connection refused" % addr)
        path = urllib.parse.urlsplit(t.display)
        target_path = (path.path or "/") + "?" + path.query
        raw = None
        try:
            try:
                if in_net:
                    # from the control plane's ENI address, through the pod network (policies apply)
                    raw = net.connect_from_control_plane((t.host, t.port), left())
                else:
                    raw = socket.create_connection((t.host, t.port), timeout=left())
            except ConnectionRefusedError:
                raise fail("dial tcp %s: connect: connection refused" % addr)
            except OSError as e:
                if isinstance(e, socket.timeout):
                    raise
                raise fail("dial tcp %s: connect: %s" % (addr, (e.strerror or str(e)).lower()))
            raw.settimeout(left())
            try:
                tls = ctx.wrap_socket(raw, server_hostname=t.server_name)
            except ssl.SSLCertVerificationError as e:
                raise fail("tls: failed to verify certificate: %s" % self.x509_reason(e, t))
            except ssl.SSLError as e:
                if "WRONG_VERSION_NUMBER" in str(e) or "record layer failure" in str(e):
                    raise fail("http: server gave HTTP response to HTTPS client")
                raise fail("remote error: tls: %s" % (e.reason or e).__str__().lower().replace("_", " "))
            raw = tls
            conn = http.client.HTTPConnection(t.host, t.port)
            conn.sock = tls
            tls.settimeout(left())
            conn.putrequest("POST", target_path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", path.netloc)  # the URL's host (<svc>.<ns>.svc:<port>), not the pod IP
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Accept", "application/json, */*")
            conn.putheader("User-Agent", USER_AGENT)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            tls.settimeout(left())
            resp = conn.getresponse()
            tls.settimeout(left())
            data = resp.read()
        except socket.timeout:
            raise fail("context deadline exceeded")
        except (http.client.RemoteDisconnected, http.client.IncompleteRead):
            raise fail("EOF")
        except ConnectionResetError:
            raise fail("read tcp %s: read: connection reset by peer" % addr)
        except (http.client.HTTPException, OSError) as e:
            raise fail(str(e) or e.__class__.__name__)
        finally:
            if raw is not None:
                try:
                    raw.close()
                except OSError:
                    pass
        if not 200 <= resp.status < 300:
            raise CallError("failed to call webhook: %s" % _generic_response_message(resp.status, data))
        try:
            doc = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CallError("failed to call webhook: couldn't get version/kind; json parse error: %s" % e)
        if not isinstance(doc, dict):
            raise CallError("failed to call webhook: couldn't get version/kind; json parse error: json: cannot "
                            "unmarshal %s into Go value of type struct" % type(doc).__name__)
        if not doc.get("kind"):
            raise CallError("failed to call webhook: Object 'Kind' is missing in '%s'" % data.decode()[:512])
        return doc

    @staticmethod
    def x509_reason(e, t):
        code = getattr(e, "verify_code", 0)
        if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            names = []
            try:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                with socket.create_connection((t.host, t.port), timeout=2) as s:
                    with ctx.wrap_socket(s, server_hostname=t.server_name) as ss:
                        names = _cert_names(ss.getpeercert(binary_form=True))
            except OSError:
                pass
            if names:
                return "x509: certificate is valid for %s, not %s" % (", ".join(names), t.server_name)
            return "x509: certificate is not valid for any names, but wanted to match %s" % t.server_name
        if code in (9, 10):
            return "x509: certificate has expired or is not yet valid: %s" % getattr(e, "verify_message", "")
        return "x509: certificate signed by unknown authority"

    # ---- one call -------------------------------------------------------------------------

    def call(self, h, a, mutating):
        """(response dict of the review) or raises CallError / ApiError."""
        versions = h.get("admissionReviewVersions") or ["v1"]
        version = "v1" if "v1" in versions else "v1beta1"
        review = self.review(a, version)
        uid = review["request"]["uid"]
        body = json.dumps(review, separators=(",", ":")).encode()
        doc = self.post(h, body, h.get("timeoutSeconds") or 10)
        want = "admission.k8s.io/" + version
        if doc.get("kind") != "AdmissionReview" or doc.get("apiVersion") != want:
            raise CallError("received invalid webhook response: expected webhook response of %s, Kind=AdmissionReview, "
                            "got %s, Kind=%s" % (want, doc.get("apiVersion", ""), doc.get("kind", "")))
        resp = doc.get("response")
        if not isinstance(resp, dict):
            raise CallError("received invalid webhook response: webhook response was absent")
        if resp.get("uid") != uid:
            raise CallError('received invalid webhook response: expected response.uid="%s", got "%s"'
                            % (uid, resp.get("uid") or ""))
        if mutating:
            if resp.get("patch") and resp.get("patchType") is None:
                raise CallError("received invalid webhook response: webhook returned response.patch but not "
                                "response.patchType")
            if resp.get("patchType") is not None and not resp.get("patch"):
                raise CallError("received invalid webhook response: webhook returned response.patchType but not "
                                "response.patch")
        else:
            if resp.get("patch"):
                raise CallError("received invalid webhook response: validating webhook may not return "
                                "response.patch")
            if resp.get("patchType") is not None:
                raise CallError("received invalid webhook response: validating webhook may not return "
                                "response.patchType")
        for w in resp.get("warnings") or []:
            if isinstance(w, str) and w.strip():
                self.adm.warn(w)
        return resp

    def reject(self, h, resp):
        result = resp.get("status") if isinstance(resp.get("status"), dict) else {}
        denied = 'admission webhook "%s" denied the request' % h["name"]
        if result.get("message"):
            msg = "%s: %s" % (denied, result["message"])
        elif result.get("reason"):
            msg = "%s: %s" % (denied, result["reason"])
        else:
            msg = denied + " without explanation"
        code = result.get("code") if isinstance(result.get("code"), int) else 0
        if code < 400:
            code = 400
        return ApiError(code, msg, reason=result.get("reason") or "", details=result.get("details") or None)

    def failed(self, h, err):
        """ErrCallingWebhook: Fail -> 500 InternalError; Ignore -> None (skip)."""
        inner = 'failed calling webhook "%s": %s' % (h["name"], err)
        if h.get("failurePolicy", "Fail") == "Ignore":
            log("webhook %s failed, failing open: %s" % (h["name"], err))
            return None
        return ApiError(500, "Internal error occurred: " + inner, reason="InternalError",
                        details={"causes": [{"message": inner}]})

    def dry_run_check(self, h, a):
        if a.dry_run and h.get("sideEffects") not in NO_SIDE_EFFECTS:
            if h.get("sideEffects") is None:
                return ApiError(400, "Webhook SideEffects is nil")
            return ApiError(400, 'admission webhook "%s" does not support dry run' % h["name"])
        return None

    # ---- the two dispatchers ----------------------------------------------------------------

    def mutate(self, a, state):
        """Run the mutating webhooks once (round 0, or round 1 = reinvocation).
        state (a dict kept across both rounds) tracks reinvocation as the real
        dispatcher does.  Returns (object, changed)."""
        obj = a.obj
        reinvoke_round = state.get("round", 0) == 1
        if reinvoke_round and state.get("last") is not None and canon(obj) != state["last"]:
            # in-tree plugins changed the object since the last webhook ran
            state["reinvoke"] = state.get("reinvoke", set()) | state.get("previous", set())
            state["previous"] = set()
        any_change = False
        for cname, idx, h in self.hooks(MUTATING):
            hid = (cname, idx)
            a.obj = obj
            if not self.should_call(h, a):
                continue
            if reinvoke_round and hid not in state.get("reinvoke", set()):
                continue
            err = self.dry_run_check(h, a)
            if err:
                raise err
            changed = False
            try:
                resp = self.call(h, a, True)
            except CallError as e:
                err = self.failed(h, e)
                if err is not None:
                    raise err
                resp = None
            if resp is not None:
                if not resp.get("allowed"):
                    raise self.reject(h, resp)
                if resp.get("patch"):
                    new = self.apply_patch(h, a, obj, resp)
                    if new is not None:
                        changed = canon(new) != canon(obj)
                        obj = new
            if changed:
                any_change = True
                state["reinvoke"] = state.get("reinvoke", set()) | state.get("previous", set())
                state["previous"] = set()
                state["should_reinvoke"] = True
            if h.get("reinvocationPolicy") == "IfNeeded":
                state.setdefault("previous", set()).add(hid)
        a.obj = obj
        state["last"] = canon(obj)
        return obj, any_change

    def apply_patch(self, h, a, obj, resp):
        pt = resp.get("patchType")
        if pt != "JSONPatch":
            err = self.failed(h, 'unsupported patch type "%s"' % pt)
            if err is not None:
                raise err
            return None
        try:
            raw = base64.b64decode(resp["patch"], validate=True)
        except (binascii.Error, ValueError, TypeError) as e:
            err = self.failed(h, "failed to call webhook: illegal base64 data in response.patch: %s" % e)
            if err is not None:
                raise err
            return None
        try:
            ops = json.loads(raw)
            if not isinstance(ops, list):
                raise ValueError("json: cannot unmarshal %s into Go value of type jsonpatch.Patch"
                                 % type(ops).__name__)
        except (ValueError, UnicodeDecodeError) as e:
            err = self.failed(h, "received undecodable patch in webhook response: %s" % e)
            if err is not None:
                raise err
            return None
        if not ops:
            return None
        if obj is None:
            raise ApiError(500, 'Internal error occurred: admission webhook "%s" attempted to modify the object, '
                           "which is not supported for this operation" % h["name"], reason="InternalError")
        cur = deep(obj)
        cur["apiVersion"], cur["kind"] = a.rt.gv(a.version), a.rt.kind
        try:
            new = ssa.json_patch(cur, ops)
        except ssa.PatchError as e:
            raise ApiError(500, "Internal error occurred: %s" % e, reason="InternalError",
                           details={"causes": [{"message": str(e)}]})
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise ApiError(500, "Internal error occurred: admission webhook \"%s\" returned a patch that does not "
                           "leave a %s" % (h["name"], a.rt.kind), reason="InternalError")
        new["apiVersion"], new["kind"] = a.rt.gv(a.version), a.rt.kind
        self.c.default(a.rt, new, a.old)  # the object defaulter runs after each patch
        return new

    def validate(self, a):
        for cname, idx, h in self.hooks(VALIDATING):
            if not self.should_call(h, a):
                continue
            err = self.dry_run_check(h, a)
            if err:
                raise err
            try:
                resp = self.call(h, a, False)
            except CallError as e:
                err = self.failed(h, e)
                if err is not None:
                    raise err
                continue
            if not resp.get("allowed"):
                raise self.reject(h, resp)
