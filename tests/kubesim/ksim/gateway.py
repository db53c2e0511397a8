"""OpenFaaS CE gateway emulation (openfaas.md §5-§7).

Reached like the real gateway: through the API server service proxy
(/api/v1/namespaces/openfaas/services/gateway:8080/proxy/...) or through the
NodePort of gateway-external on the nodes' ExternalIP.  It answers only once
Deployment openfaas/gateway is available.  /system/* needs basic auth against
Secret openfaas/basic-auth; like the real API server, the service proxy
consumes the caller's Authorization header, so /system/* through the proxy is
401 unless kubesim runs with --lenient-proxy.  Deploying creates Deployment
and Service <name> in openfaas-fn shaped as faas-netes CE makes them (label
faas_function, empty nodeSelector, no runtimeClassName, no tolerations); pods
then go through the cluster's admission chain like any other.

Invoking a function (/function/<name>[/path]) first does what the gateway's
scaler does with scale_from_zero=true (no available replica: scale to the
minimum if at 0, poll until one is available, then go on), then what
faas-netes's proxy does for the CE gateway (direct_functions=false): it picks a ready endpoint of
the function and forwards the request there, over the pod network, from the
gateway pod's own network namespace -- so the function's real process (the
OpenFaaS classic watchdog image, or the official Python image; runner.py)
answers, and NetworkPolicy judges the gateway's packets like any pod's.  As
faas-provider's proxy: no endpoint -> 503 "No endpoints available for:
<name>."; the connection fails or times out (faas-netes read_timeout) -> 500
"Can't reach service for: <name>."; otherwise the function's status, headers
and body.  A function whose pods kubesim does not run (other images: they
have no packets) answers with kubesim's JSON report of the pod that would
have served it (runtime class, handler, node, the kernel it would see).

With faas_nats_address in the gateway container's env (the real gateway
registers its async routes only then), POST /async-function/<name>[/path]
is queued as its MakeQueuedProxy does: the caller's headers (with an
X-Call-Id, made when absent and then also answered), the body, the path
after the name, the query and the X-Callback-Url -> 202 and no body; other
methods -> 405.  Like the real one it does not look the function up: an
unknown one is accepted, and fails later in the queue-worker
(queueworker.py), which invokes it through this gateway.
"""
import base64
import hashlib
import http.client
import json
import random
import re
import socket
import time
import urllib.parse
import uuid

from . import netns
from .cluster import rand_suffix
from .util import ApiError, deep, log

FN_NS = "openfaas-fn"
CE_LIMIT = 15
FAAS_NETES = {"username": "system:serviceaccount:openfaas:openfaas-controller",
              "groups": ["system:serviceaccounts", "system:serviceaccounts:openfaas", "system:authenticated"]}
HOP_HEADERS = {"connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailer", "transfer-encoding", "upgrade", "content-length", "host"}
GVISOR_DMESG = ["Starting gVisor...", "Mounting deweydecimalfs...", "Reticulating splines...",
                "Creating process schedule...", "Generating random numbers by fair dice roll...",
                "Waiting for children...", "Checking naughty and nice process list...",
                "Feeding the init monster...", "Setting up VFS...", "Ready!"]


def text(code, msg):
    return code, {"Content-Type": "text/plain; charset=utf-8"}, (msg + "\n").encode()


def as_json(code, obj):
    return code, {"Content-Type": "application/json"}, json.dumps(obj, indent=1).encode()


def go_duration(text, default):
    """Seconds of a Go duration ("1m05s", "500ms", "30") as faas-provider reads its timeouts."""
    if not isinstance(text, str) or not text.strip():
        return default
    t = text.strip()
    if t.isdigit():
        return float(t)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total, ok = 0.0, False
    for num, unit in re.findall(r"([0-9]*\.?[0-9]+)(ms|us|µs|ns|h|m|s)", t):
        total += float(num) * units[unit]
        ok = True
    return total if ok else default


class Forward:
    """An invocation to send once the store lock is released."""

    def __init__(self, name, ip, port, src_fd, timeout, method, path, query, headers, body, peer):
        self.name, self.ip, self.port, self.src_fd, self.timeout = name, ip, port, src_fd, timeout
        self.method, self.path, self.query, self.headers, self.body, self.peer = \
            method, path, query, headers, body, peer


class Gateway:
    def __init__(self, cluster, controllers, lenient_proxy=False):
        self.c = cluster
        self.ctl = controllers
        self.lenient = lenient_proxy
        self.invocations = {}
        self.queue = None  # queueworker.QueueWorker: where async invocations go (set by the server)

    # ---- readiness -----------------------------------------------------------

    def gateway_available(self):
        d = self.c.store.get(("apps", "deployments"), "openfaas", "gateway")
        return d is not None and ((d.get("status") or {}).get("availableReplicas") or 0) >= 1

    def is_gateway_service(self, svc):
        if svc is None or svc["metadata"].get("namespace") != "openfaas":
            return False
        sel = (svc.get("spec") or {}).get("selector") or {}
        d = self.c.store.get(("apps", "deployments"), "openfaas", "gateway")
        if d is None or not sel:
            return svc["metadata"]["name"] in ("gateway", "gateway-external")
        tl = (((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        return all(tl.get(k) == v for k, v in sel.items())

    def proxy(self, ns, svcname, method, rest, headers, body):
        """Service proxy entry: rest is the path after /proxy (with query)."""
        name = svcname.split(":")[0]
        if name.startswith("http") and ":" in svcname:
            parts = svcname.split(":")
            name = parts[1] if len(parts) > 1 else name
        with self.c.lock:
            svc = self.c.store.get(("", "services"), ns, name)
            if svc is None:
                raise ApiError(404, 'services "%s" not found' % name, details={"name": name, "kind": "services"})
            if not self.is_gateway_service(svc) or not self.gateway_available():
                raise ApiError(503, 'no endpoints available for service "%s"' % name, reason="ServiceUnavailable")
        # The API server consumed Authorization; only --lenient-proxy lets the
        # already-authenticated caller use /system/*.
        h = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        return self.handle(method, rest or "/", h, body, trusted=self.lenient)

    # ---- the gateway ---------------------------------------------------------------

    def check_auth(self, headers):
        auth = ""
        for k, v in headers.items():
            if k.lower() == "authorization":
                auth = v
        sec = self.c.store.get(("", "secrets"), "openfaas", "basic-auth")
        if sec is None or not auth.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            data = sec.get("data") or {}
            want_user = base64.b64decode(data.get("basic-auth-user", "")).decode()
            want_pw = base64.b64decode(data.get("basic-auth-password", "")).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(want_pw) and user == want_user and pw == want_pw

    def handle(self, method, path, headers, body, trusted=False, source_uid=None, peer=None):
        """One request to the gateway.  source_uid: the gateway pod it arrived at (its in-cluster
        address), else the NodePort/LB or the API server's proxy (any ready gateway pod forwards)."""
        path, _, query = path.partition("?")
        if not path.startswith("/"):
            path = "/" + path
        with self.c.lock:
            if not self.gateway_available():
                return text(503, "gateway not ready")
            if path in ("/healthz", "/healthz/"):
                return text(200, "OK")
            if path.startswith("/function/"):
                rest = path[len("/function/"):]
                found, wait = self.scale_from_zero(rest)
                if found is not None:
                    return found
            elif path.startswith("/async-function/"):
                return self.queue_request(method, path, query, headers, body)
            elif path.startswith("/system/") or path.startswith("/ui"):
                if not trusted and not self.check_auth(headers):
                    code, h, b = text(401, "Unauthorized")
                    h["WWW-Authenticate"] = 'Basic realm="Restricted"'
                    return code, h, b
                return self.system(method, path, body)
            else:
                return text(404, "404 page not found")
        if wait:
            self.wait_available(rest)
        with self.c.lock:
            out = self.invoke(method, rest, query, headers, body, source_uid, peer)
        if not isinstance(out, Forward):
            return out
        return self.forward(out)

    # ---- asynchronous invocations (handlers/queue_proxy.go, callid_middleware.go) -------------

    def queue_request(self, method, path, query, headers, body):
        m = re.match(r"^/async-function/([-a-zA-Z_0-9.]+)(/.*)?$", path)
        if self.queue is None or not self.gateway_env().get("faas_nats_address") or not m:
            return text(404, "404 page not found")
        if method != "POST":
            return 405, {}, b""  # gorilla/mux: the route is registered for POST only
        hdrs = {k: v for k, v in headers.items() if k.lower() != "host"}
        callback = next((v for k, v in hdrs.items() if k.lower() == "x-callback-url"), "")
        if callback:
            try:
                urllib.parse.urlsplit(callback)
            except ValueError as e:
                return text(400, 'parse "%s": %s' % (callback, e))
        out = {"X-Start-Time": str(time.time_ns()), "X-Served-By": "openfaas-ce/0.27.13"}
        if not next((v for k, v in hdrs.items() if k.lower() == "x-call-id"), ""):
            hdrs["X-Call-Id"] = out["X-Call-Id"] = str(uuid.uuid4())
        hdrs["X-Start-Time"] = out["X-Start-Time"]
        self.queue.publish(m.group(1), m.group(2) or "", query, hdrs, body or b"", callback)
        return 202, out, b""

    # ---- scale from zero (gateway/scaling/function_scaler.go) ------------------------------

    def fn_name(self, rest):
        return rest.partition("/")[0].split(".")[0]

    def scale_from_zero(self, rest):
        """(an answer to return at once, or None; whether to wait for an available replica).
        With scale_from_zero=true the gateway asks faas-netes for the replicas first: unknown
        function -> 404; none available -> scaled to its minimum (1) and polled."""
        name = self.fn_name(rest)
        d = self.c.store.get(("apps", "deployments"), FN_NS, name)
        if d is None or "faas_function" not in (d["metadata"].get("labels") or {}):
            return text(404, "error finding function %s.%s: server returned non-200 status code: 404"
                        % (name, FN_NS)), False
        if self.gateway_env().get("scale_from_zero", "true") != "true":
            return None, False
        if ((d.get("status") or {}).get("availableReplicas") or 0) > 0:
            return None, False
        if ((d.get("spec") or {}).get("replicas") or 0) == 0:
            minr = int((d["metadata"].get("labels") or {}).get("com.openfaas.scale.min", 1) or 1)
            try:
                self.c.patch(self.c.rt("apps", "deployments"), "v1", FN_NS, name, "application/merge-patch+json",
                             json.dumps({"spec": {"replicas": minr}}).encode(), "faas-netes", False, False,
                             FAAS_NETES)
            except ApiError as e:
                return text(500, "error finding function %s: unable to scale function [%s], err: %s"
                            % (name, name, e.message)), False
        return None, True

    def wait_available(self, rest):
        """Poll (store lock not held) until the function has an available replica: up to 1000
        polls 100 ms apart (the gateway's MaxPollCount and FunctionPollInterval), then go on
        anyway, as the gateway does.  That budget is simulated time (scaled) while the function
        has no pod at all, and real time while one is starting: its process starts at the
        machine's speed."""
        name = self.fn_name(rest)
        t0 = time.monotonic()
        scaled = t0 + self.c.clock.delay(100)
        while True:
            with self.c.lock:
                d = self.c.store.get(("apps", "deployments"), FN_NS, name)
                if d is None or ((d.get("status") or {}).get("availableReplicas") or 0) > 0:
                    return
                starting = any((p["metadata"].get("labels") or {}).get("faas_function") == name
                               for p in self.c.store.list(("", "pods"), FN_NS))
            now = time.monotonic()
            if now - t0 >= 100 or (now >= scaled and not starting):
                log("gateway: [Scale] function=%s 0=>N timed-out after %f seconds" % (name, now - t0))
                return
            time.sleep(0.1)

    def pod_answer(self, uid):
        """The handler of gateway pod uid's own :8080 (components.py)."""
        def answer(method, path, headers, body, peer):
            return self.handle(method, path, headers, body, source_uid=uid, peer=peer)
        return answer

    def functions(self):
        return [d for d in self.c.store.list(("apps", "deployments"), FN_NS)
                if "faas_function" in (d["metadata"].get("labels") or {})]

    def fn_status(self, d):
        c = (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
        env = {e.get("name"): e.get("value") for e in c[0].get("env") or []}
        name = d["metadata"]["name"]
        labels = dict(d["metadata"].get("labels") or {})
        ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
               if k != "prometheus.io.scrape"}
        return {"name": name, "image": c[0].get("image", ""), "namespace": FN_NS,
                "envProcess": env.get("fprocess", ""), "labels": labels, "annotations": ann,
                "replicas": (d.get("spec") or {}).get("replicas", 1),
                "availableReplicas": (d.get("status") or {}).get("availableReplicas", 0),
                "invocationCount": self.invocations.get(name, 0),
                "createdAt": d["metadata"].get("creationTimestamp")}

    def system(self, method, path, body):
        if path == "/system/info" and method == "GET":
            return as_json(200, {"provider": {"provider": "faas-netes-ce", "orchestration": "kubernetes",
                                              "version": {"release": "0.18.17"}},
                                 "version": {"release": "0.27.13"}, "arch": "x86_64"})
        if path == "/system/functions":
            if method == "GET":
                return as_json(200, [self.fn_status(d) for d in self.functions()])
            try:
                req = json.loads(body or b"{}")
                if not isinstance(req, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                return text(400, "unable to unmarshal request: %s" % e)
            if method == "POST":
                return self.deploy(req)
            if method == "PUT":
                return self.update(req)
            if method == "DELETE":
                return self.remove(req)
            return text(405, "method not allowed")
        m = re.match(r"^/system/function/([^/]+)$", path)
        if m and method == "GET":
            d = self.c.store.get(("apps", "deployments"), FN_NS, m.group(1))
            if d is None or "faas_function" not in (d["metadata"].get("labels") or {}):
                return text(404, "function %s not found" % m.group(1))
            return as_json(200, self.fn_status(d))
        m = re.match(r"^/system/scale-function/([^/]+)$", path)
        if m and method == "POST":
            try:
                n = int(json.loads(body or b"{}").get("replicas"))
            except (ValueError, TypeError, AttributeError):
                return text(400, "invalid scale request")
            if n > 5:
                return text(400, "replicas must be less than or equal to 5 for OpenFaaS CE")
            d = self.c.store.get(("apps", "deployments"), FN_NS, m.group(1))
            if d is None:
                return text(404, "function %s not found" % m.group(1))
            try:
                self.c.patch(self.c.rt("apps", "deployments"), "v1", FN_NS, m.group(1),
                             "application/merge-patch+json", json.dumps({"spec": {"replicas": n}}).encode(),
                             "faas-netes", False, False, FAAS_NETES)
            except ApiError as e:
                return text(500, e.message)
            return text(202, "")
        return text(404, "404 page not found")

    def validate(self, req):
        svc = req.get("service") or ""
        if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", svc) or len(svc) > 63:
            return "(%s) must be a valid DNS entry for service name" % svc
        if not req.get("image"):
            return "image is required"
        if req.get("namespace") not in (None, "", FN_NS):
            return "namespace %s is not allowed, only %s in OpenFaaS CE" % (req["namespace"], FN_NS)
        for k in (req.get("annotations") or {}):
            if "amazonaws.com" in k:
                return "annotation %s is not allowed" % k
        return None

    def shape(self, req, existing=None):
        """Deployment and Service as faas-netes CE builds them."""
        name = req["service"]
        labels = {"faas_function": name}
        labels.update({k: str(v) for k, v in (req.get("labels") or {}).items()})
        ann = {"prometheus.io.scrape": "false"}
        ann.update({k: str(v) for k, v in (req.get("annotations") or {}).items()})
        env = []
        if req.get("envProcess"):
            env.append({"name": "fprocess", "value": req["envProcess"]})
        for k, v in sorted((req.get("envVars") or {}).items()):
            env.append({"name": k, "value": str(v)})
        probe = {"httpGet": {"path": "/_/health", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 2,
                 "timeoutSeconds": 1, "periodSeconds": 2, "successThreshold": 1, "failureThreshold": 3}
        container = {"name": name, "image": req["image"],
                     "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                     "env": env, "imagePullPolicy": "Always", "livenessProbe": probe, "readinessProbe": probe,
                     "resources": deep(self.resources(req)),
                     "securityContext": {"readOnlyRootFilesystem": bool(req.get("readOnlyRootFilesystem")),
                                         "allowPrivilegeEscalation": False}}
        if self.faas_netes_env().get("set_nonroot_user") == "true":
            # faas-netes ConfigureContainerUserID: every function as uid 12000 (SecurityContextUserID)
            container["securityContext"]["runAsUser"] = 12000
        minr = int((req.get("labels") or {}).get("com.openfaas.scale.min", 1) or 1)
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": FN_NS, "labels": labels, "annotations": ann},
               "spec": {"replicas": minr, "selector": {"matchLabels": {"faas_function": name}},
                        "revisionHistoryLimit": 10,
                        "strategy": {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                        "template": {"metadata": {"name": name, "labels": dict(labels, uid=rand_suffix(9)),
                                                  "annotations": {"prometheus.io.scrape": "false"}},
                                     "spec": {"nodeSelector": {}, "containers": [container],
                                              "volumes": [], "enableServiceLinks": False,
                                              "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}}}
        svc = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": FN_NS, "annotations": {"prometheus.io.scrape": "false"}},
               "spec": {"type": "ClusterIP", "selector": {"faas_function": name},
                        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}]}}
        return dep, svc

    @staticmethod
    def resources(req):
        out = {}
        for src, dst in (("limits", "limits"), ("requests", "requests")):
            r = req.get(src) or {}
            vals = {k: v for k, v in (("memory", r.get("memory")), ("cpu", r.get("cpu"))) if v}
            if vals:
                out[dst] = vals
        return out

    def deploy(self, req):
        err = self.validate(req)
        if err:
            return text(400, err)
        name = req["service"]
        if len(self.functions()) >= CE_LIMIT:
            return text(400, "the OpenFaaS CE EULA only allows %d functions, contact sales for a "
                             "commercial license" % CE_LIMIT)
        if self.c.store.get(("apps", "deployments"), FN_NS, name) is not None:
            return text(400, 'unable create Deployment: deployments.apps "%s" already exists' % name)
        dep, svc = self.shape(req)
        try:
            self.c.create(self.c.rt("apps", "deployments"), "v1", FN_NS, dep, "faas-netes", False, FAAS_NETES)
        except ApiError as e:
            return text(500, "unable create Deployment: %s" % e.message)
        try:
            if self.c.store.get(("", "services"), FN_NS, name) is None:
                self.c.create(self.c.rt("", "services"), "v1", FN_NS, svc, "faas-netes", False, FAAS_NETES)
        except ApiError as e:
            return text(500, "unable create Service: %s" % e.message)
        return text(202, "")

    def update(self, req):
        err = self.validate(req)
        if err:
            return text(400, err)
        name = req["service"]
        cur = self.c.store.get(("apps", "deployments"), FN_NS, name)
        if cur is None:
            return text(404, 'deployments.apps "%s" not found' % name)
        dep, _ = self.shape(req)
        new = deep(cur)
        # Get -> edit -> Update: fields faas-netes does not touch (runtimeClassName) survive.
        new["metadata"]["labels"] = dep["metadata"]["labels"]
        new["metadata"]["annotations"] = dep["metadata"]["annotations"]
        tspec = new["spec"]["template"]["spec"]
        tspec["containers"][0].update({"image": dep["spec"]["template"]["spec"]["containers"][0]["image"],
                                       "env": dep["spec"]["template"]["spec"]["containers"][0]["env"]})
        # ConfigureReadOnlyRootFilesystem / ConfigureContainerUserID edit the existing securityContext
        sc = tspec["containers"][0].setdefault("securityContext", {})
        want = dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        sc["readOnlyRootFilesystem"] = want["readOnlyRootFilesystem"]
        if "runAsUser" in want:
            sc["runAsUser"] = want["runAsUser"]
        else:
            sc.pop("runAsUser", None)
        new["spec"]["template"]["metadata"]["labels"] = dep["spec"]["template"]["metadata"]["labels"]
        tspec["nodeSelector"] = {}
        try:
            self.c.replace(self.c.rt("apps", "deployments"), "v1", FN_NS, name, new, "faas-netes", False, FAAS_NETES)
        except ApiError as e:
            return text(500, "unable update Deployment: %s" % e.message)
        return text(202, "")

    def remove(self, req):
        name = req.get("functionName") or ""
        d = self.c.store.get(("apps", "deployments"), FN_NS, name)
        if d is None or "faas_function" not in (d["metadata"].get("labels") or {}):
            return text(404, 'deployments.apps "%s" not found' % name)
        self.c.delete(self.c.rt("apps", "deployments"), FN_NS, name, {"propagationPolicy": "Foreground"}, False)
        if self.c.store.get(("", "services"), FN_NS, name) is not None:
            self.c.delete(self.c.rt("", "services"), FN_NS, name, {}, False)
        self.invocations.pop(name, None)
        return text(202, "")

    # ---- invocations -------------------------------------------------------------------

    def container_env(self, which):
        d = self.c.store.get(("apps", "deployments"), "openfaas", "gateway") or {}
        for c in (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
            if which in str(c.get("image", "")) or c.get("name") == which:
                return {e.get("name"): e.get("value") for e in c.get("env") or [] if isinstance(e, dict)}
        return {}

    def faas_netes_env(self):
        return self.container_env("faas-netes")

    def gateway_env(self):
        return self.container_env("openfaas/gateway")

    def source_fd(self, source_uid):
        """The namespace the gateway's connection to a function leaves from: the gateway pod's own
        (the one the request arrived at, else any ready one); None = the host (loopback mode)."""
        net = self.c.network
        if net is None or not net.enabled:
            return None
        if source_uid is not None and source_uid in net.pods:
            return net.pods[source_uid].fd
        for p in self.c.store.list(("", "pods"), "openfaas"):
            pn = net.pods.get(p["metadata"]["uid"])
            if pn is not None and not pn.host_network and self.is_gateway_pod(p) and ready(p):
                return pn.fd
        return None

    def is_gateway_pod(self, p):
        d = self.c.store.get(("apps", "deployments"), "openfaas", "gateway")
        sel = ((((d or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")) or {"app": "gateway"}
        labels = p["metadata"].get("labels") or {}
        return all(labels.get(k) == v for k, v in sel.items())

    def invoke(self, method, rest, query, headers, body, source_uid=None, peer=None):
        name, _, sub = rest.partition("/")
        name = name.split(".")[0]
        d = self.c.store.get(("apps", "deployments"), FN_NS, name)
        if d is None or "faas_function" not in (d["metadata"].get("labels") or {}):
            return text(404, "error finding function %s.%s: server returned non-200 status code: 404" % (name, FN_NS))
        pods = [p for p in self.c.store.list(("", "pods"), FN_NS)
                if (p["metadata"].get("labels") or {}).get("faas_function") == name
                and (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
        if not pods:
            code, h, b = text(503, "No endpoints available for: %s." % name)
            h["X-Openfaas-Internal"] = "proxy"
            return code, h, b
        self.invocations[name] = self.invocations.get(name, 0) + 1
        net = self.c.network
        live = [p for p in pods if self.has_packets(p)]
        if live:
            # faas-netes resolves the function through its Service's ready endpoints
            eps = [p for p in live if ready(p)]
            if not eps:
                code, h, b = text(503, "No endpoints available for: %s." % name)
                h["X-Openfaas-Internal"] = "proxy"
                return code, h, b
            pod = random.choice(eps)
            env = self.faas_netes_env()
            timeout = go_duration(env.get("read_timeout"), 10.0)
            return Forward(name, pod["status"]["podIP"], 8080, self.source_fd(source_uid), timeout, method,
                           "/" + sub if sub else "/", query, headers, body, peer)
        pod = pods[self.invocations[name] % len(pods)]
        spec = pod.get("spec") or {}
        node = self.c.store.get(("", "nodes"), "", spec.get("nodeName", "")) or {"metadata": {}, "status": {}}
        info = self.ctl.pod_info.get(pod["metadata"]["uid"], {})
        handler = info.get("handler", "runc")
        env = {e.get("name"): e.get("value") for e in (spec.get("containers") or [{}])[0].get("env") or []}
        fprocess = env.get("fprocess", "")
        gvisor = handler == "runsc"
        node_kernel = ((node.get("status") or {}).get("nodeInfo") or {}).get("kernelVersion", "")
        kernel = "4.4.0" if gvisor else node_kernel
        if gvisor:
            seed = int(hashlib.sha256(pod["metadata"]["uid"].encode()).hexdigest()[:8], 16)
            lines, t = [], 0.0
            for i, msg in enumerate(GVISOR_DMESG):
                lines.append("[%12.6f] %s" % (t, msg))
                t += ((seed >> (i % 24)) % 997) / 1000.0
            dmesg = "\n".join(lines) + "\n"
        else:
            dmesg = "dmesg: klogctl: Operation not permitted\n"
        cmd = fprocess.split()[0] if fprocess else ""
        if cmd == "dmesg":
            output = dmesg
        elif fprocess.startswith("uname"):
            output = ("Linux %s %s #1 SMP x86_64 Linux\n" % (pod["metadata"]["name"], kernel)) if "-a" in fprocess \
                else kernel + "\n"
        elif cmd == "cat":
            output = (body or b"").decode("utf-8", "replace")
        else:
            output = ""
        return as_json(200, {
            "function": name, "pod": pod["metadata"]["name"], "namespace": FN_NS,
            "runtimeClassName": spec.get("runtimeClassName"), "node": spec.get("nodeName"),
            "nodeLabels": node["metadata"].get("labels") or {}, "handler": handler,
            "nodeRuntimeHandlers": [h.get("name") for h in (node.get("status") or {}).get("runtimeHandlers") or []],
            "kernel": kernel, "dmesg": dmesg, "envProcess": fprocess, "output": output,
            "method": method, "input": (body or b"").decode("utf-8", "replace")})

    def has_packets(self, pod):
        """A pod a connection can reach: a process pod of the runner, or one kubesim serves."""
        net = self.c.network
        uid = pod["metadata"]["uid"]
        if net is not None and net.enabled:
            pn = net.pods.get(uid)
            return pn is not None and (pn.servers or self.ctl.runner.pods.get(uid) is not None)
        return self.ctl.runner.pods.get(uid) is not None

    def forward(self, fw):
        """Send the invocation to the function's pod (store lock NOT held) as faas-provider's
        proxy does: the request's method, sub-path, query, headers (hop-by-hop ones dropped,
        X-Forwarded-Host/-For added) and body; the function's answer comes back as it is."""
        path = fw.path + ("?" + fw.query if fw.query else "")
        hdrs = {k: v for k, v in fw.headers.items() if k.lower() not in HOP_HEADERS}
        lower = {k.lower() for k in hdrs}
        host = next((v for k, v in fw.headers.items() if k.lower() == "host"), "")
        if host and "x-forwarded-host" not in lower:
            hdrs["X-Forwarded-Host"] = host
        if "x-forwarded-for" not in lower:
            hdrs["X-Forwarded-For"] = "%s:%d" % fw.peer[:2] if fw.peer else "127.0.0.1:0"
        conn = None
        try:
            if fw.src_fd is not None:
                sock = netns.connect_in(fw.src_fd, (fw.ip, fw.port), fw.timeout)
            else:
                sock = socket.create_connection((fw.ip, fw.port), timeout=fw.timeout)
            sock.settimeout(fw.timeout)
            conn = http.client.HTTPConnection(fw.ip, fw.port, timeout=fw.timeout)
            conn.sock = sock
            conn.request(fw.method, path, body=fw.body or b"", headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            out = {k: v for k, v in r.getheaders() if k.lower() not in HOP_HEADERS}
            ctype = r.getheader("Content-Type") or next(
                (v for k, v in fw.headers.items() if k.lower() == "content-type"), "") or "text/plain"
            out = {k: v for k, v in out.items() if k.lower() != "content-type"}
            out["Content-Type"] = ctype
            return r.status, out, data
        except (OSError, http.client.HTTPException) as e:
            log("gateway: error with proxy request to: http://%s:%d%s, %s" % (fw.ip, fw.port, path, e))
            code, h, b = text(500, "Can't reach service for: %s." % fw.name)
            h["X-Openfaas-Internal"] = "proxy"
            return code, h, b
        finally:
            if conn is not None:
                conn.close()


def ready(p):
    return (p.get("status") or {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (p.get("status") or {}).get("conditions") or [])
