"""The OpenFaaS components kubesim serves from their pods' own network namespaces.

Owned by the kubesim suite (tests/kubesim).  kubesim cannot run the images of
OpenFaaS CE (gateway, faas-netes, NATS Streaming, Prometheus, Alertmanager,
queue-worker), but with the pod network (network.py) their pods get a network
namespace like any pod on a node, and kubesim answers on the TCP container
ports they declare, from inside that namespace, with what those programs say
first:

  gateway      (ghcr.io/openfaas/gateway)    8080: the gateway itself (gateway.py);
                                             any other port: Prometheus metrics text
  faas-netes   (ghcr.io/openfaas/faas-netes) its port: GET /healthz -> 200 OK
  NATS         (nats-streaming, nats)        4222: the server's INFO line, PING -> PONG;
                                             8222 (monitoring): HTTP 200
  Prometheus   (prom/prometheus)             9090: /-/healthy, /-/ready -> 200
  Alertmanager (prom/alertmanager)           9093: /-/healthy, /-/ready -> 200
  queue-worker (ghcr.io/openfaas/queue-worker) no port; the namespace makes it a
                                             source for connection probes and of
                                             the async invocations (queueworker.py)

So NetworkPolicy decides on real packets who reaches NATS, Prometheus or the
gateway, a refused connection means nothing listens, and a dropped one means a
policy said no -- the difference `secfaas verify` relies on.  What these
listeners answer beyond their greeting is not modelled (no NATS protocol, no
PromQL); the gateway's 8080 is the full emulation.
"""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import netns

GATEWAY = ("ghcr.io/openfaas/gateway", "openfaas/gateway", "docker.io/openfaas/gateway")
FAAS_NETES = ("ghcr.io/openfaas/faas-netes", "openfaas/faas-netes", "docker.io/openfaas/faas-netes")
NATS = ("nats-streaming", "library/nats-streaming", "docker.io/library/nats-streaming", "nats", "library/nats",
        "docker.io/library/nats")
PROMETHEUS = ("prom/prometheus", "docker.io/prom/prometheus", "quay.io/prometheus/prometheus")
ALERTMANAGER = ("prom/alertmanager", "docker.io/prom/alertmanager", "quay.io/prometheus/alertmanager")
QUEUE_WORKER = ("ghcr.io/openfaas/queue-worker", "openfaas/queue-worker", "docker.io/openfaas/queue-worker")
KINDS = (("gateway", GATEWAY), ("faas-netes", FAAS_NETES), ("nats", NATS), ("prometheus", PROMETHEUS),
         ("alertmanager", ALERTMANAGER), ("queue-worker", QUEUE_WORKER))

NATS_INFO = (b'INFO {"server_id":"NDKSIMNATSSTREAMING","server_name":"NDKSIMNATSSTREAMING","version":"2.9.15",'
             b'"proto":1,"go":"go1.20.4","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576}\r\n')


def image_repo(image):
    """The repository of an image reference, without tag or digest ("" for none)."""
    if not isinstance(image, str) or not image:
        return ""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[:len(repo) - len(last) + last.index(":")]
    return repo


def kind_of(container):
    repo = image_repo((container or {}).get("image"))
    for kind, repos in KINDS:
        if repo in repos:
            return kind
    return None


def served(pod):
    """True for a pod kubesim answers for (some container is an OpenFaaS component)."""
    spec = pod.get("spec") or {}
    return not spec.get("hostNetwork") and any(kind_of(c) for c in spec.get("containers") or [])


class Listener:
    """One listening socket in a pod's namespace and the thread serving it; close() ends both."""

    def __init__(self, sock, serve):
        self.sock = sock
        self.srv = None
        self.thread = threading.Thread(target=serve, args=(self,), daemon=True, name="component")
        self.thread.start()

    def close(self):
        srv, self.srv = self.srv, None
        if srv is not None:
            threading.Thread(target=lambda: (srv.shutdown(), srv.server_close()), daemon=True).start()
        else:
            try:
                self.sock.close()
            except OSError:
                pass


class _Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        code, hdrs, data = self.server.answer(self.command, self.path, dict(self.headers.items()), body,
                                              self.client_address)
        self.send_response(code)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


def _text(code, msg):
    return code, {"Content-Type": "text/plain; charset=utf-8"}, msg.encode()


def http_listener(sock, answer):
    """Serve HTTP on an already bound socket with answer(method, path, headers, body, peer)."""
    def serve(lst):
        srv = ThreadingHTTPServer(sock.getsockname()[:2], _Http, bind_and_activate=False)
        srv.socket.close()
        srv.socket = sock
        srv.daemon_threads = True
        srv.answer = answer
        lst.srv = srv
        try:
            srv.serve_forever(poll_interval=0.2)
        except (OSError, ValueError):
            pass
    return serve


def nats_listener(sock):
    def conn_loop(c):
        c.settimeout(120)
        try:
            c.sendall(NATS_INFO)
            buf = b""
            while True:
                data = c.recv(4096)
                if not data:
                    return
                buf += data
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    if line.strip().upper() == b"PING":
                        c.sendall(b"PONG\r\n")
        except OSError:
            pass
        finally:
            c.close()

    def serve(lst):
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=conn_loop, args=(c,), daemon=True).start()
    return serve


def health_answer(ok_paths, body_ok):
    def answer(method, path, headers, body, peer):
        p = path.split("?", 1)[0]
        if p in ok_paths:
            return _text(200, body_ok)
        return _text(200, "")
    return answer


def prometheus_answer(method, path, headers, body, peer):
    p = path.split("?", 1)[0]
    if p == "/-/healthy":
        return _text(200, "Prometheus Server is Healthy.\n")
    if p == "/-/ready":
        return _text(200, "Prometheus Server is Ready.\n")
    return _text(200, "")


def metrics_answer(method, path, headers, body, peer):
    return 200, {"Content-Type": "text/plain; version=0.0.4"}, b"# kubesim: no metrics\n"


def listeners(pod, pn, gateway):
    """Start the listeners of a served pod in its namespace (pn: network.PodNet); returns them."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        kind = kind_of(c)
        if kind is None:
            continue
        for cp in c.get("ports") or []:
            port = cp.get("containerPort")
            if not isinstance(port, int) or (cp.get("protocol") or "TCP") != "TCP":
                continue
            if kind == "gateway" and port == 8080:
                answer = gateway.pod_answer(pod["metadata"]["uid"])
            elif kind == "gateway":
                answer = metrics_answer
            elif kind == "faas-netes":
                answer = health_answer(("/healthz",), "OK")
            elif kind == "nats" and port == 4222:
                answer = None
            elif kind == "nats":
                answer = health_answer(("/", "/healthz", "/varz"), "ok")
            elif kind == "prometheus":
                answer = prometheus_answer
            elif kind == "alertmanager":
                answer = health_answer(("/-/healthy", "/-/ready"), "OK")
            else:
                continue
            sock = netns.socket_in(pn.fd)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.listen(128)
            serve = nats_listener(sock) if answer is None else http_listener(sock, answer)
            out.append(Listener(sock, serve))
    return out
