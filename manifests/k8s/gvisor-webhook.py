#!/usr/bin/env python3
"""secfaas gVisor mutating admission webhook (docs/gvisor-functions.md).

secfaas ships this file in a ConfigMap and runs it from a pinned public
Python image, on clusters whose API server does not serve
MutatingAdmissionPolicy (Kubernetes < 1.36).  For every pod created in the
guarded namespace it answers an AdmissionReview with a JSON patch that sets
the gVisor RuntimeClass and the sandbox node selector and toleration (and
the safe restricted defaults: no token, seccomp, no escalation, no
capabilities), so a
function a tenant deploys through the OpenFaaS gateway runs under gVisor
without anyone re-running secfaas.

It only adds; it never decides alone.  The webhook is registered with
failurePolicy: Fail, so when this server is down, slow or answers garbage the
API server refuses the pod, and the ValidatingAdmissionPolicy deny guard
refuses any pod that reaches validation without the class.  Either way no
pod starts under runc.

Standard library only (http.server + ssl + json), so the image needs nothing
but Python.  Configuration comes from the environment:
  RUNTIME_CLASS                          class to set (gvisor)
  SANDBOX_KEY, SANDBOX_VALUE, SANDBOX_EFFECT   node label/taint of gVisor nodes
  GUARDED_NAMESPACE                      only pods of this namespace are patched
  TLS_CERT, TLS_KEY                      serving certificate and key (PEM files)
  LISTEN_ADDRESS (default 0.0.0.0), PORT (default 8443)
"""
import base64
import json
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 3 * 1024 * 1024  # the API server's request limit is 3 MiB


def env(name, default=None):
    v = os.environ.get(name, default)
    if v is None or v == "":
        sys.exit("gvisor-webhook: environment variable %s is required" % name)
    return v


RUNTIME_CLASS = env("RUNTIME_CLASS")
SANDBOX_KEY = env("SANDBOX_KEY")
SANDBOX_VALUE = env("SANDBOX_VALUE")
SANDBOX_EFFECT = env("SANDBOX_EFFECT", "NoSchedule")
NAMESPACE = env("GUARDED_NAMESPACE")
TOLERATION = {"key": SANDBOX_KEY, "operator": "Equal", "value": SANDBOX_VALUE, "effect": SANDBOX_EFFECT}


def pointer(token):
    """One RFC 6901 reference token (label keys contain '/')."""
    return token.replace("~", "~0").replace("/", "~1")


def patch_for(pod):
    """JSON patch operations that put `pod` into the gVisor class; [] when it
    already is.  'add' on an existing object member replaces it (RFC 6902)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        raise ValueError("pod has no spec")
    ops = []
    if spec.get("runtimeClassName") != RUNTIME_CLASS:
        ops.append({"op": "add", "path": "/spec/runtimeClassName", "value": RUNTIME_CLASS})
    sel = spec.get("nodeSelector")
    if not isinstance(sel, dict):
        ops.append({"op": "add", "path": "/spec/nodeSelector", "value": {SANDBOX_KEY: SANDBOX_VALUE}})
    elif sel.get(SANDBOX_KEY) != SANDBOX_VALUE:
        ops.append({"op": "add", "path": "/spec/nodeSelector/" + pointer(SANDBOX_KEY), "value": SANDBOX_VALUE})
    tols = spec.get("tolerations")
    if not isinstance(tols, list):
        ops.append({"op": "add", "path": "/spec/tolerations", "value": [TOLERATION]})
    elif TOLERATION not in tols:
        ops.append({"op": "add", "path": "/spec/tolerations/-", "value": TOLERATION})
    return ops + restricted_ops(spec)


def restricted_ops(spec):
    """What Pod Security "restricted" asks that is safe for any image: no
    service-account token, RuntimeDefault seccomp when the pod names no
    profile, and in every container no privilege escalation and all
    capabilities dropped.  A token volume the ServiceAccount plugin already
    mounted stays (the deny guard refuses such a pod)."""
    ops = []
    if spec.get("automountServiceAccountToken") is not False:
        ops.append({"op": "add", "path": "/spec/automountServiceAccountToken", "value": False})
    psc = spec.get("securityContext")
    if not isinstance(psc, dict):
        ops.append({"op": "add", "path": "/spec/securityContext", "value": {"seccompProfile": {"type": "RuntimeDefault"}}})
    elif not isinstance(psc.get("seccompProfile"), dict):
        ops.append({"op": "add", "path": "/spec/securityContext/seccompProfile", "value": {"type": "RuntimeDefault"}})
    for i, c in enumerate(spec.get("containers") or []):
        if not isinstance(c, dict):
            continue
        base = "/spec/containers/%d/securityContext" % i
        sc = c.get("securityContext")
        if not isinstance(sc, dict):
            ops.append({"op": "add", "path": base, "value": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}})
            continue
        if sc.get("allowPrivilegeEscalation") is not False:
            ops.append({"op": "add", "path": base + "/allowPrivilegeEscalation", "value": False})
        caps = sc.get("capabilities")
        if not isinstance(caps, dict):
            ops.append({"op": "add", "path": base + "/capabilities", "value": {"drop": ["ALL"]}})
        elif caps.get("drop") != ["ALL"]:
            ops.append({"op": "add", "path": base + "/capabilities/drop", "value": ["ALL"]})
    return ops


def review(body):
    """AdmissionReview request (bytes) -> AdmissionReview response (dict).
    Raises ValueError on a malformed review: the handler answers 400 and
    the API server, with failurePolicy Fail, refuses the pod."""
    doc = json.loads(body)
    if not isinstance(doc, dict) or doc.get("kind") != "AdmissionReview" or not isinstance(doc.get("request"), dict):
        raise ValueError("not an AdmissionReview")
    req = doc["request"]
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ValueError("AdmissionReview without request.uid")
    resp = {"uid": uid, "allowed": True}
    kind = req.get("kind") or {}
    # Only pod CREATEs in the guarded namespace are patched; anything else the
    # webhook was (mis)configured to see passes unchanged and meets the deny
    # guard, so a wrong registration cannot widen what runs outside gVisor.
    if (kind.get("group", "") == "" and kind.get("kind") == "Pod" and req.get("operation") == "CREATE"
            and req.get("namespace") == NAMESPACE and not req.get("subResource")):
        obj = req.get("object")
        if not isinstance(obj, dict):
            raise ValueError("pod CREATE without object")
        ops = patch_for(obj)
        if ops:
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode()
    return {"apiVersion": doc.get("apiVersion") or "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": resp}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "secfaas-gvisor-webhook"
    timeout = 15  # a stalled client cannot hold a thread forever

    def reply(self, code, ctype, data):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path in ("/healthz", "/readyz", "/livez"):
            self.reply(200, "text/plain", b"ok\n")
        else:
            self.reply(404, "text/plain", b"not found\n")

    def do_POST(self):  # noqa: N802
        if self.path.split("?", 1)[0] != "/mutate":
            self.reply(404, "text/plain", b"not found\n")
            return
        try:
            n = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.reply(413 if n > MAX_BODY else 411, "text/plain", b"bad request size\n")
            return
        start = time.monotonic()
        try:
            out = review(self.rfile.read(n))
        except (ValueError, UnicodeDecodeError) as e:
            self.log_message("refused malformed review: %s", e)
            self.reply(400, "text/plain", ("malformed AdmissionReview: %s\n" % e).encode())
            return
        r = out["response"]
        self.log_message("uid=%s patched=%s in %.1f ms", r["uid"], "patch" in r, (time.monotonic() - start) * 1000)
        self.reply(200, "application/json", json.dumps(out, separators=(",", ":")).encode())

    def log_message(self, fmt, *args):
        sys.stderr.write("gvisor-webhook: %s\n" % (fmt % args))
        sys.stderr.flush()


class TLSServer(ThreadingHTTPServer):
    """TLS per connection, in the connection's own thread: a client that
    stalls in the handshake cannot block accept()."""
    daemon_threads = True

    def __init__(self, addr, ctx):
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(Handler.timeout)
        super().finish_request(self.ctx.wrap_socket(request, server_side=True), client_address)

    def handle_error(self, request, client_address):
        sys.stderr.write("gvisor-webhook: connection from %s: %s\n" % (client_address[0], sys.exc_info()[1]))
        sys.stderr.flush()


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(env("TLS_CERT"), env("TLS_KEY"))
    addr = (os.environ.get("LISTEN_ADDRESS") or "0.0.0.0", int(os.environ.get("PORT") or "8443"))
    srv = TLSServer(addr, ctx)
    sys.stderr.write("gvisor-webhook: serving https://%s:%d/mutate for namespace %s (class %s)\n"
                     % (addr[0], addr[1], NAMESPACE, RUNTIME_CLASS))
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
