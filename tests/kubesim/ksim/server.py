"""HTTP routing: authentication, faults, admin paths, the REST API and watch.

Sim bundles one cluster's pieces; Handler (one thread per connection, HTTP/1.1
keep-alive, TLS handshake in the worker thread) turns requests into Cluster
calls and ApiErrors into Status bodies.  Admin paths under /_kubesim/ need no
token (the server only listens on loopback):
  GET    /_kubesim/state[?full=1]   objects, pods' runtime handlers, LBs, log
  GET    /_kubesim/requests         the last 5000 requests (method, path, code)
  POST   /_kubesim/faults           add a fault (see README)
  GET    /_kubesim/faults, DELETE /_kubesim/faults
  POST   /_kubesim/compact          forget the watch event log (410 tests)
  POST   /_kubesim/legacy-objects   store an object as an older API version let it in
                                    (webhook configurations with sideEffects Some/Unknown)
  GET|POST /_kubesim/network-policy  {"enforce": true|false}: NetworkPolicy enforcement on/off
  POST   /_kubesim/connect          connection attempts from inside pods' network namespaces
Pods of official Python images run as real processes (runner.py); their logs
are served at GET /api/v1/namespaces/<ns>/pods/<name>/log.
"""
import json
import re
import socket
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .auth import Authenticator
from .cluster import Cluster, parse_body
from .controllers import Controllers
from .gateway import Gateway
from .network import Network
from .queueworker import QueueWorker
from .util import ApiError, Clock, fields_match, labels_match, log, parse_field_selector, parse_label_selector

ANON_PATHS = ("/version", "/healthz", "/livez", "/readyz")


def check_fault(f):
    """ValueError when fault f's fields have the wrong types (README: POST /_kubesim/faults)."""
    def number(k):
        v = f.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise ValueError("%s is a number of seconds, not %r" % (k, v))
    number("delay")
    number("retryAfter")
    for k in ("code", "times"):
        if k in f and (isinstance(f[k], bool) or not isinstance(f[k], int)):
            raise ValueError("%s is an integer, not %r" % (k, f[k]))
    for k in ("method", "path", "pathPrefix", "pathRegex", "reason", "message", "sandbox"):
        if k in f and not isinstance(f[k], str):
            raise ValueError("%s is a string, not %r" % (k, f[k]))
    if "hold" in f and not isinstance(f["hold"], bool):
        raise ValueError("hold is true or false, not %r" % (f["hold"],))
    if "sandbox" in f and ("method" in f or "path" in f or "pathPrefix" in f or "pathRegex" in f or "code" in f):
        raise ValueError("a sandbox fault has no request fields (method, path*, code)")


class Sim:
    def __init__(self, cfg):
        self.cfg = cfg
        self.clock = Clock(cfg.timescale)
        self.cluster = Cluster(cfg, self.clock)
        self.network = Network(self.cluster, cfg)
        self.cluster.network = self.network
        self.auth = Authenticator(cfg)
        self.ctl = Controllers(self.cluster, self.clock)
        self.runner = self.ctl.runner
        self.runner.token_issuer = self.auth.issue
        self.gateway = Gateway(self.cluster, self.ctl, cfg.lenient_proxy)
        self.ctl.gateway = self.gateway
        self.queue_worker = QueueWorker(self.cluster, self.network, self.runner, self.clock)
        self.gateway.queue = self.queue_worker
        self.nodeports = NodePorts(self)
        self.ctl.hooks.append(self.nodeports.sync)
        self.faults = []
        self.requests = []
        self.flock = threading.Lock()
        self.fchange = threading.Condition(self.flock)  # notified when the faults are cleared
        self.network.faults = self

    def start(self, api_port):
        self.network.start(api_port)
        self.ctl.start()
        self.queue_worker.start()

    def shutdown(self):
        """Stop the controllers and kill every process the runner started."""
        self.ctl.stop.set()
        self.queue_worker.stop()
        self.runner.shutdown()
        self.network.shutdown()

    def take_fault(self, method, path):
        with self.flock:
            for f in self.faults:
                if "sandbox" in f:
                    continue  # a pod's sandbox set-up, not a request (sandbox_fault)
                if f.get("method", "*") not in ("*", method):
                    continue
                if "path" in f and f["path"] != path:
                    continue
                if "pathPrefix" in f and not path.startswith(f["pathPrefix"]):
                    continue
                if "pathRegex" in f and not re.search(f["pathRegex"], path):
                    continue
                if f.get("times", 1) > 0:
                    f["times"] = f.get("times", 1) - 1
                    if f["times"] == 0:
                        self.faults.remove(f)
                f["hits"] = f.get("hits", 0) + 1
                return dict(f)
        return None

    def sandbox_fault(self, ns, name):
        """The first sandbox fault for pod ns/name (`"sandbox": "ns/name"` or `"*"`), taken as a
        request's fault is, except that a `hold` stays in the list: the set-up waits until the
        faults are cleared (held)."""
        with self.flock:
            for f in self.faults:
                if f.get("sandbox") not in ("*", "%s/%s" % (ns, name)):
                    continue
                f["hits"] = f.get("hits", 0) + 1
                if f.get("hold"):
                    return f
                if f.get("times", 1) > 0:
                    f["times"] = f.get("times", 1) - 1
                    if f["times"] == 0:
                        self.faults.remove(f)
                return dict(f)
        return None

    def held(self, f, stop):
        """Wait while hold fault f is in the list (DELETE /_kubesim/faults clears it) or until stop()."""
        with self.fchange:
            while any(x is f for x in self.faults) and not stop():
                self.fchange.wait(1.0)  # stop() is checked at least once a second

    def state(self, full):
        c = self.cluster
        with c.lock:
            objs = []
            for key, o in c.store.all():
                rt = c.registry.types.get(key)
                if rt is None:
                    continue
                objs.append(c.out(rt, o) if full else {
                    "apiVersion": rt.gv(), "kind": rt.kind, "namespace": o["metadata"].get("namespace", ""),
                    "name": o["metadata"]["name"], "resourceVersion": o["metadata"].get("resourceVersion")})
            pods = []
            for p in c.store.list(("", "pods")):
                info = self.ctl.pod_info.get(p["metadata"]["uid"], {})
                pods.append({"namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"],
                             "node": (p.get("spec") or {}).get("nodeName"),
                             "runtimeClassName": (p.get("spec") or {}).get("runtimeClassName"),
                             "handler": info.get("handler"), "phase": (p.get("status") or {}).get("phase")})
            return {"cluster": self.cfg.cluster, "version": "v1.%d" % self.cfg.minor,
                    "resourceVersion": str(c.store.rv), "eventLog": {"firstResourceVersion": str(c.store.first_rv),
                                                                     "events": len(c.store.events)},
                    "objects": objs, "pods": pods,
                    "loadBalancers": [dict(v, service=k) for k, v in self.ctl.lbs.items()],
                    "nodePorts": self.nodeports.describe(), "nodePortIP": self.cfg.nodeport_ip,
                    "processes": self.runner.describe(), "faults": self.faults,
                    "network": self.network.describe()}


class NodePorts:
    """Plain-HTTP listeners on <nodeport-ip>:<nodePort> for Services that front
    the OpenFaaS gateway (NodePort and LoadBalancer types), so basic auth
    reaches the gateway the way it does through a real NodePort or LB."""

    def __init__(self, sim):
        self.sim = sim
        self.servers = {}
        self.failed = {}   # port -> when to try binding it again
        self.next = 0

    def describe(self):
        return {str(p): "%s:%d" % (self.sim.cfg.nodeport_ip, p) for p in self.servers}

    def sync(self):
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + 0.1
        c = self.sim.cluster
        want = set()
        with c.lock:
            for s in c.store.list(("", "services")):
                spec = s.get("spec") or {}
                if spec.get("type") in ("NodePort", "LoadBalancer") and not s["metadata"].get("deletionTimestamp") \
                        and self.sim.gateway.is_gateway_service(s):
                    want |= {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}
        for p in list(self.servers):
            if p not in want:
                srv = self.servers.pop(p)
                threading.Thread(target=lambda srv=srv: (srv.shutdown(), srv.server_close()), daemon=True).start()
        now = time.monotonic()
        for p in want - set(self.servers):
            if self.failed.get(p, 0) > now:
                continue
            try:
                srv = ThreadingHTTPServer((self.sim.cfg.nodeport_ip, p), NodePortHandler)
            except OSError as e:
                # still held (a Service deleted a moment ago whose listener is
                # closing gave its port to a new one): try again shortly
                log("nodePort %d on %s: %s" % (p, self.sim.cfg.nodeport_ip, e))
                self.failed[p] = now + 0.1
                continue
            self.failed.pop(p, None)
            srv.daemon_threads = True
            srv.sim = self.sim
            srv.get_request = nodelay_accept(srv)
            self.servers[p] = srv
            threading.Thread(target=srv.serve_forever, daemon=True).start()


def nodelay_accept(srv):
    def get_request():
        sock, addr = srv.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr
    return get_request


class NodePortHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        code, hdrs, data = self.server.sim.gateway.handle(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(code)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sim, ssl_ctx):
        self.sim = sim
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # http.server writes the headers and the body separately: without TCP_NODELAY every answer
        # waits ~40 ms for the client's delayed ACK (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Handshake happens on first read, in the worker thread.
        return self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.sim.cfg.verbose:
            log("%s %s" % (self.address_string(), fmt % args))

    def setup(self):
        try:
            self.request.do_handshake()
        except (OSError, ValueError):
            pass
        super().setup()

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, OSError):
            self.close_connection = True

    # ---- I/O ---------------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for w in self.server.sim.cluster.admission.take_warnings():
            # RFC 7234 warn-text: a quoted-string, inner quotes and backslashes escaped (as the real server)
            self.send_header("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"'))
        self.end_headers()
        self.wfile.write(data)
        self.code = code

    def send_error_status(self, e):
        self.send(e.code, e.status(), headers=e.headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = lambda self: self.dispatch()

    def dispatch(self):
        sim = self.server.sim
        self.code = 0
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        try:
            body = self.read_body()
            if path.startswith("/_kubesim/"):
                return self.admin(path, q, body)
            f = sim.take_fault(self.command, path)
            if f:
                if f.get("delay"):
                    time.sleep(float(f["delay"]))
                code = int(f.get("code") or 0)
                if code:
                    hdrs = {}
                    if f.get("retryAfter") is not None:
                        hdrs["Retry-After"] = str(f["retryAfter"])
                    if f.get("nonJson"):
                        self.send(code, (f.get("message") or "upstream not ready").encode(), "text/plain", hdrs)
                        return
                    e = ApiError(code, f.get("message") or "injected fault", reason=f.get("reason"), headers=hdrs)
                    if code == 429 and f.get("retryAfter") is not None:
                        e.details = {"retryAfterSeconds": int(f["retryAfter"])}
                    if code == 409 and f.get("reason") is None:
                        e.reason = "Conflict"
                    raise e
            auth = self.headers.get("Authorization")
            if auth is None and path in ANON_PATHS:
                user = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
            else:
                user = sim.auth.authenticate(auth)
            self.route(path, q, body, user)
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:
            log("internal error on %s %s: %s\n%s" % (self.command, self.path, e, traceback.format_exc()))
            try:
                self.send_error_status(ApiError(500, "kubesim internal error: %s" % e))
            except OSError:
                pass
        finally:
            with sim.flock:
                sim.requests.append({"method": self.command, "path": path, "query": u.query,
                                     "code": self.code, "contentType": self.headers.get("Content-Type"),
                                     "userAgent": self.headers.get("User-Agent")})
                del sim.requests[:-5000]

    # ---- admin ---------------------------------------------------------------

    def admin(self, path, q, body):
        sim = self.server.sim
        if path == "/_kubesim/state" and self.command == "GET":
            return self.send(200, sim.state(q.get("full") in ("1", "true")))
        if path == "/_kubesim/requests" and self.command == "GET":
            with sim.flock:
                return self.send(200, list(sim.requests))
        if path == "/_kubesim/faults":
            if self.command == "GET":
                return self.send(200, sim.faults)
            if self.command == "DELETE":
                with sim.flock:
                    sim.faults = []
                    sim.fchange.notify_all()
                return self.send(200, {"faults": []})
            if self.command == "POST":
                try:
                    f = json.loads(body or b"{}")
                    fl = f if isinstance(f, list) else [f]
                    if not all(isinstance(x, dict) for x in fl):
                        raise ValueError("a fault is an object")
                    for x in fl:
                        check_fault(x)
                except ValueError as e:
                    raise ApiError(400, "bad fault: %s" % e)
                with sim.flock:
                    sim.faults.extend(fl)
                return self.send(201, {"faults": sim.faults})
        if path == "/_kubesim/legacy-objects" and self.command == "POST":
            c = sim.cluster
            obj = parse_body(body, self.headers.get("Content-Type"))
            if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
                raise ApiError(400, "a legacy object needs apiVersion and kind")
            api = obj.get("apiVersion") or ""
            group, _, version = api.rpartition("/")
            with c.lock:
                rt = c.registry.by_kind(group, obj.get("kind"))
                if rt is None or version not in rt.versions:
                    raise ApiError(404, "no kind %s in %s" % (obj.get("kind"), api))
                stored = c.store_legacy(rt, obj)
                return self.send(201, c.out(rt, stored))
        if path == "/_kubesim/network-policy":
            net = sim.network
            if self.command == "POST":
                try:
                    req = json.loads(body or b"{}")
                    on = req["enforce"]
                    if not isinstance(on, bool):
                        raise ValueError("enforce must be true or false")
                except (ValueError, KeyError, TypeError) as e:
                    raise ApiError(400, "bad request: %s (body: {\"enforce\": true|false})" % e)
                if on and not net.enabled:
                    raise ApiError(409, "NetworkPolicy cannot be enforced: pods are not in network namespaces (%s)"
                                   % net.why)
                with sim.cluster.lock:
                    net.set_enforce(on)
            elif self.command != "GET":
                raise ApiError(405, "GET or POST")
            with sim.cluster.lock:
                d = net.describe()
                rv = str(sim.cluster.store.rv)
            return self.send(200, {"enforce": d["enforce"], "mode": d["mode"], "resourceVersion": rv,
                                   "appliedResourceVersion": d["appliedResourceVersion"],
                                   "lastRefreshSeconds": d["lastRefreshSeconds"]})
        if path == "/_kubesim/connect" and self.command == "POST":
            return self.send(200, self.connect_probes(body))
        if path == "/_kubesim/compact" and self.command == "POST":
            with sim.cluster.lock:
                sim.cluster.store.compact()
                return self.send(200, {"firstResourceVersion": str(sim.cluster.store.first_rv)})
        raise ApiError(404, "unknown admin path %s" % path)

    # ---- routing ----------------------------------------------------------

    def route(self, path, q, body, user):
        sim = self.server.sim
        reg = sim.cluster.registry
        m = self.command
        if path == "/version":
            return self.send(200, {"major": "1", "minor": str(sim.cfg.minor),
                                   "gitVersion": "v1.%d.0-eks-kubesim" % sim.cfg.minor, "gitCommit": "kubesim",
                                   "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                                   "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64"})
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send(200, b"ok", "text/plain")
        with sim.cluster.lock:
            if path in ("/api", "/api/"):
                return self.send(200, reg.api_versions())
            if path in ("/apis", "/apis/"):
                return self.send(200, reg.api_group_list())
            if path == "/openapi/v3":
                return self.send(200, reg.openapi_index())
            if path.startswith("/openapi/v3/"):
                parts = path[len("/openapi/v3/"):].split("/")
                doc = None
                if parts[0] == "api" and len(parts) == 2:
                    doc = reg.openapi_doc("", parts[1])
                elif parts[0] == "apis" and len(parts) == 3:
                    doc = reg.openapi_doc(parts[1], parts[2])
                if doc is None:
                    raise ApiError(404, "the server could not find the requested resource")
                return self.send(200, doc)
        segs = [s for s in path.split("/") if s]
        if len(segs) >= 2 and segs[0] == "api":
            group, version, rest = "", segs[1], segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        elif len(segs) == 2 and segs[0] == "apis":
            with sim.cluster.lock:
                g = reg.api_group(segs[1])
            if g is None:
                raise ApiError(404, "the server could not find the requested resource")
            return self.send(200, g)
        else:
            raise ApiError(404, "the server could not find the requested resource")
        if not rest:
            with sim.cluster.lock:
                rl = reg.resource_list(group, version)
            if rl is None or m != "GET":
                raise ApiError(404, "the server could not find the requested resource")
            return self.send(200, rl)
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and group == "" and rest[2] in ("status", "finalize") \
                and len(rest) == 3:
            plural, name, sub, ns = "namespaces", rest[1], rest[2], None
            extra = []
        elif rest[0] == "namespaces" and len(rest) >= 3:
            ns, plural = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
            extra = rest[5:]
        else:
            plural = rest[0]
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            extra = rest[3:]
        with sim.cluster.lock:
            rt = reg.lookup(group, version, plural)
        if rt is None:
            raise ApiError(404, "the server could not find the requested resource")
        if ns is not None and not rt.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        if rt.namespaced and ns is None and name is not None:
            raise ApiError(404, "the server could not find the requested resource")
        if sub == "proxy" and rt.kind == "Service":
            rest_path = "/" + "/".join(extra)
            if path.endswith("/") and extra:
                rest_path += "/"
            qs = urllib.parse.urlsplit(self.path).query
            code, hdrs, data = sim.gateway.proxy(ns, name, m, rest_path + ("?" + qs if qs else ""),
                                                 dict(self.headers.items()), body)
            ctype = hdrs.pop("Content-Type", "text/plain")
            return self.send(code, data, ctype, hdrs)
        if sub is not None and (sub not in rt.subresources or extra or sub == "proxy"):
            raise ApiError(404, "the server could not find the requested resource")
        self.api(rt, version, ns or "", name, sub, q, body, user)

    def api(self, rt, version, ns, name, sub, q, body, user):
        c = self.server.sim.cluster
        m = self.command
        dry = q.get("dryRun") == "All"
        manager = q.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        if name is None:
            if m == "GET":
                if q.get("watch") in ("1", "true", "True"):
                    return self.watch(rt, version, ns, q)
                items, rv = c.list(rt, ns if rt.namespaced and ns else None, q.get("labelSelector", ""),
                                   q.get("fieldSelector", ""))
                with c.lock:
                    out = [c.out(rt, o, version) for o in items]
                return self.send(200, {"kind": rt.kind + "List", "apiVersion": rt.gv(version),
                                       "metadata": {"resourceVersion": rv}, "items": out})
            if m == "POST":
                if rt.namespaced and not ns:
                    raise ApiError(404, "the server could not find the requested resource")
                obj = c.create(rt, version, ns, parse_body(body, self.headers.get("Content-Type")), manager, dry, user)
                with c.lock:
                    return self.send(201, c.out(rt, obj, version))
            if m == "DELETE":
                items, _ = c.list(rt, ns or None, q.get("labelSelector", ""), q.get("fieldSelector", ""))
                for o in items:
                    try:
                        c.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"],
                                 self.delete_opts(q, body), dry, user)
                    except ApiError:
                        pass
                return self.send(200, {"kind": rt.kind + "List", "apiVersion": rt.gv(version), "metadata": {},
                                       "items": [c.out(rt, o, version) for o in items]})
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if sub == "scale":
            return self.scale(rt, version, ns, name, q, body, user, manager, dry)
        if sub == "ephemeralcontainers" and m not in ("GET", "PUT", "PATCH"):
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if sub == "log":
            if m != "GET":
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return self.pod_log(ns, name, q)
        if m == "GET":
            obj = c.get(rt, ns, name)
            with c.lock:
                return self.send(200, c.out(rt, obj, version))
        if m == "PUT":
            obj = c.replace(rt, version, ns, name, parse_body(body, self.headers.get("Content-Type")), manager,
                            dry, user, sub)
            with c.lock:
                return self.send(200, c.out(rt, obj, version))
        if m == "PATCH":
            force = q.get("force") in ("true", "1", "True")
            if (self.headers.get("Content-Type") or "").startswith("application/apply-patch"):
                manager = q.get("fieldManager")  # required for apply: no User-Agent default
            code, obj = c.patch(rt, version, ns, name, self.headers.get("Content-Type"), body, manager, force,
                                dry, user, sub)
            with c.lock:
                return self.send(code, c.out(rt, obj, version))
        if m == "DELETE":
            opts = self.delete_opts(q, body)
            dry = dry or "All" in (opts.get("dryRun") or [])
            code, out = c.delete(rt, ns, name, opts, dry, user)
            with c.lock:
                if out.get("kind") != "Status":
                    out = c.out(rt, out, version)
                return self.send(code, out)
        if m == "POST":
            raise ApiError(405, "the server does not allow this method on the requested resource")
        raise ApiError(405, "method not allowed")

    def connect_probes(self, body):
        """POST /_kubesim/connect {"probes": [{"from": "ns/pod" | "node/<name>", "host": ip, "port": n,
        "protocol": "TCP"|"UDP", "timeout": s}]}: connection attempts made from inside those
        network namespaces (a test's `kubectl exec <pod> -- connect`), all at once."""
        sim = self.server.sim
        net = sim.network
        try:
            req = json.loads(body or b"{}")
            probes = req["probes"]
            assert isinstance(probes, list)
        except (ValueError, KeyError, AssertionError) as e:
            raise ApiError(400, "bad request: %s" % e)
        if not net.enabled:
            raise ApiError(409, "pods have no network namespaces (%s)" % net.why)
        fds = []
        with sim.cluster.lock:
            for pr in probes:
                src = str(pr.get("from", ""))
                if src.startswith("node/"):
                    fd = net.source_fd(node=src[5:])
                else:
                    nsname, _, pname = src.partition("/")
                    pod = sim.cluster.store.get(("", "pods"), nsname, pname)
                    fd = net.source_fd(uid=pod["metadata"]["uid"]) if pod else None
                if fd is None:
                    raise ApiError(404, "%s has no network namespace" % src)
                fds.append(fd)
        results = [None] * len(probes)

        def one(i):
            pr = probes[i]
            ok, err = net.probe(fds[i], pr.get("host"), int(pr.get("port", 0)), pr.get("protocol"),
                                float(pr.get("timeout", 1.0)))
            results[i] = {"ok": ok, "error": err}
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(probes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"results": results}

    def delete_opts(self, q, body):
        opts = {}
        if body and body.strip():
            try:
                opts = json.loads(body)
            except ValueError as e:
                raise ApiError(400, "error decoding DeleteOptions: %s" % e)
            if not isinstance(opts, dict):
                opts = {}
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        if opts.get("propagationPolicy") not in (None, "Background", "Foreground", "Orphan"):
            raise ApiError(422, 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "%s"'
                           % opts["propagationPolicy"])
        return opts

    def scale(self, rt, version, ns, name, q, body, user, manager, dry):
        c = self.server.sim.cluster
        obj = c.get(rt, ns, name)

        def as_scale(o):
            sel = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {"name": name, "namespace": ns, "uid": o["metadata"]["uid"],
                                 "resourceVersion": o["metadata"]["resourceVersion"],
                                 "creationTimestamp": o["metadata"].get("creationTimestamp")},
                    "spec": {"replicas": (o.get("spec") or {}).get("replicas", 1)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                               "selector": ",".join("%s=%s" % kv for kv in sel.items())}}
        if self.command == "GET":
            return self.send(200, as_scale(obj))
        if self.command not in ("PUT", "PATCH"):
            raise ApiError(405, "method not allowed")
        try:
            req = json.loads(body or b"{}")
            if self.command == "PATCH" and "json-patch" in (self.headers.get("Content-Type") or ""):
                from .ssa import json_patch
                req = json_patch(as_scale(obj), req)
            replicas = int(req["spec"]["replicas"])
        except (ValueError, KeyError, TypeError) as e:
            raise ApiError(400, "invalid Scale: %s" % e)
        patch = json.dumps({"spec": {"replicas": replicas}}).encode()
        _, obj = c.patch(rt, version, ns, name, "application/merge-patch+json", patch, manager, False, dry, user,
                         sub="scale")
        return self.send(200, as_scale(obj))

    def pod_log(self, ns, name, q):
        """GET pods/<name>/log: text/plain, ?container= ?tailLines= ?limitBytes= ?previous= (no follow)."""
        c = self.server.sim.cluster
        with c.lock:
            pod = c.get(c.rt("", "pods"), ns, name)
            names = [x.get("name") for x in (pod.get("spec") or {}).get("containers") or []]
            cname = q.get("container") or ""
            if not cname:
                if len(names) != 1:
                    raise ApiError(400, "a container name must be specified for pod %s, choose one of: [%s]"
                                   % (name, " ".join(names)))
                cname = names[0]
            if cname not in names:
                raise ApiError(400, "container %s is not valid for pod %s" % (cname, name))
            try:
                tail = int(q["tailLines"]) if q.get("tailLines") not in (None, "") else None
                limit = int(q["limitBytes"]) if q.get("limitBytes") not in (None, "") else None
            except ValueError:
                raise ApiError(400, "tailLines and limitBytes must be integers")
            data = self.server.sim.runner.log(pod, cname, q.get("previous") in ("true", "1", "True"))
        if tail is not None and tail >= 0:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-tail:]) if tail else b""
        if limit is not None and limit > 0:
            data = data[:limit]
        return self.send(200, data, "text/plain")

    # ---- watch -------------------------------------------------------------

    def watch(self, rt, version, ns, q):
        c = self.server.sim.cluster
        st = c.store
        lreq = parse_label_selector(q.get("labelSelector", ""))
        freq = parse_field_selector(q.get("fieldSelector", ""))
        try:
            timeout = min(float(q.get("timeoutSeconds") or 1800), 3600)
        except ValueError:
            raise ApiError(400, "invalid timeoutSeconds")
        deadline = time.monotonic() + timeout
        rvq = q.get("resourceVersion", "")

        def match(o):
            if o is None:
                return False
            if rt.namespaced and ns and o["metadata"].get("namespace") != ns:
                return False
            return labels_match(lreq, o["metadata"].get("labels")) and fields_match(freq, o)

        def convert(ev):
            _, typ, key, _, _, obj, old = ev
            if key != rt.key:
                return None
            now_m, old_m = match(obj), match(old)
            if typ == "ADDED" and now_m:
                return "ADDED", obj
            if typ == "MODIFIED":
                if now_m and old_m:
                    return "MODIFIED", obj
                if now_m:
                    return "ADDED", obj
                if old_m:
                    return "DELETED", obj
            if typ == "DELETED" and (now_m or old_m):
                return "DELETED", obj
            return None

        with c.lock:
            if rvq in ("", "0"):
                last = st.rv
                initial = [("ADDED", o) for o in st.list(rt.key, ns or None) if match(o)]
            else:
                try:
                    last = int(rvq)
                except ValueError:
                    raise ApiError(400, "invalid resourceVersion %r" % rvq)
                evs = st.events_since(last)
                initial = [x for x in (convert(e) for e in evs) if x]
                if evs:
                    last = evs[-1][0]
            initial = [(t, c.out(rt, o, version)) for t, o in initial]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.code = 200
        self.close_connection = True

        def emit(typ, obj):
            data = json.dumps({"type": typ, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            for t, o in initial:
                emit(t, o)
            stop = self.server.sim.ctl.stop
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with c.lock:
                    if st.rv <= last:
                        c.store.cond.wait(min(left, 1.0))
                    try:
                        evs = st.events_since(last)
                    except ApiError as e:
                        out = [("ERROR", e.status())]
                        evs = None
                    if evs is not None:
                        out = []
                        for e in evs:
                            x = convert(e)
                            if x:
                                out.append((x[0], c.out(rt, x[1], version)))
                        if evs:
                            last = evs[-1][0]
                for t, o in out:
                    emit(t, o)
                if evs is None:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

