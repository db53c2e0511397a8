"""The OpenFaaS CE queue-worker: asynchronous invocations, run from the
queue-worker pod's own network namespace.

Owned by the kubesim suite (tests/kubesim).  The gateway (gateway.py) takes
POST /async-function/<name>[/path], answers 202 with an X-Call-Id and
publishes the request; this module is the subscriber, behaving as
openfaas/nats-queue-worker's main.go (CE, NATS Streaming):

* one message at a time, oldest first (the shipped max_inflight: 1); a
  message waits while no queue-worker pod is ready (NATS Streaming keeps it);
* the function is invoked through the gateway, always as POST
  http://<faas_gateway_address>:<faas_gateway_port>/function/<name><path or />[?query]
  (the pod's env; defaults gateway and 8080) with the caller's headers,
  X-Call-Id included, User-Agent openfaas-ce/nats-queue-worker, and the body;
* with an X-Callback-Url the result is POSTed there: the function's response
  headers and body, plus X-Duration-Seconds, X-Function-Status (503 and no
  body when the invocation failed), X-Function-Name and X-Call-Id.  The
  callback's answer is only logged; nothing is retried;
* every packet -- the cluster DNS lookups (the pod's search path, ndots:5),
  the invocation, the callback -- leaves from the pod's network namespace
  (network.py), so NetworkPolicy judges them as the worker's own; a dropped
  connection fails after Go's dial timeout (30 s, simulated time);
* what it prints per message, in the real wording, is the container's log
  (pods/log, through runner.py).

Not modelled: the NATS hop itself (publishing and subscribing make no
packets), ack_wait redelivery, max_inflight above 1, https callbacks.  Without
the pod network (loopback mode) messages are accepted and never run.
"""
import collections
import http.client
import os
import socket
import threading
import time
import urllib.parse

from . import components, dns, netns
from .gateway import HOP_HEADERS
from .util import log

CHANNEL = "faas-request"
USER_AGENT = "openfaas-ce/nats-queue-worker"
DIAL_TIMEOUT = 30.0      # makeClient's net.Dialer Timeout (name resolution included)
READ_TIMEOUT = 300.0     # the real client has none; a bound so a stuck peer cannot hold the worker forever


def canonical(key):
    """Go's CanonicalMIMEHeaderKey: the form http.Header keeps names in."""
    return "-".join(w[:1].upper() + w[1:].lower() for w in key.split("-"))


class Message:
    """One queued request (faas-provider's QueueRequest)."""

    def __init__(self, function, path, query, headers, body, callback):
        self.function, self.path, self.query = function, path, query
        self.headers, self.body, self.callback = headers, body, callback


class Worker:
    """The queue-worker pod a message is handled in: its namespace (an owned duplicate) and env."""

    def __init__(self, uid, cname, fd, env, ns, dns_ip):
        self.uid, self.cname, self.fd, self.env, self.ns, self.dns_ip = uid, cname, fd, env, ns, dns_ip


class QueueWorker:
    def __init__(self, cluster, network, runner, clock):
        self.c = cluster
        self.net = network
        self.runner = runner
        self.clock = clock
        self.pending = collections.deque()
        self.cv = threading.Condition()
        self.count = 0
        self.stopping = False

    def start(self):
        threading.Thread(target=self.loop, name="queue-worker", daemon=True).start()

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    def publish(self, function, path, query, headers, body, callback):
        """Queue an invocation the gateway accepted (headers as Go's http.Header keeps them)."""
        msg = Message(function, path, query, {canonical(k): v for k, v in headers.items()}, body, callback)
        with self.cv:
            self.pending.append(msg)
            self.cv.notify_all()

    def loop(self):
        while True:
            with self.cv:
                while not self.pending and not self.stopping:
                    self.cv.wait()
                if self.stopping:
                    return
            try:
                w = self.take_worker()
            except OSError as e:
                log("queue-worker: %s" % e)
                w = None
            if w is None:
                with self.cv:
                    self.cv.wait(0.2)   # no worker pod ready yet: the message stays queued
                continue
            with self.cv:
                msg = self.pending.popleft()
            try:
                self.handle(w, msg)
            except Exception as e:  # a bug here must not stop the queue
                log("queue-worker: message for %s: %s" % (msg.function, e))
            finally:
                os.close(w.fd)

    def take_worker(self):
        """A ready queue-worker pod with a network namespace, or None."""
        if not self.net.enabled:
            return None
        with self.c.lock:
            for p in self.c.store.list(("", "pods")):
                st = p.get("status") or {}
                if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running" or not any(
                        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []):
                    continue
                ctr = next((c for c in (p.get("spec") or {}).get("containers") or []
                            if components.kind_of(c) == "queue-worker"), None)
                pn = self.net.pods.get(p["metadata"]["uid"])
                if ctr is None or pn is None or pn.host_network:
                    continue
                env = {e.get("name"): e.get("value") for e in ctr.get("env") or [] if isinstance(e, dict)}
                return Worker(p["metadata"]["uid"], ctr.get("name"), os.dup(pn.fd), env,
                              p["metadata"].get("namespace"), self.c.service_ip(10))
        return None

    def say(self, w, line):
        self.runner.print_for(w.uid, w.cname, line + "\n")

    def handle(self, w, msg):
        """main.go's messageHandler for one message."""
        self.count += 1
        i = self.count
        started = time.monotonic()
        self.say(w, "[#%d] Received on [%s]: '%s'" % (i, CHANNEL, msg.function))
        call_id = msg.headers.get("X-Call-Id", "")
        try:
            port = int(w.env.get("faas_gateway_port") or 8080)
        except ValueError:
            self.say(w, "converting faas_gateway_port %s to int error" % w.env.get("faas_gateway_port"))
            return
        qs = "?" + msg.query.lstrip("?") if msg.query else ""
        url = "http://%s:%d/function/%s%s%s" % (w.env.get("faas_gateway_address") or "gateway", port,
                                                msg.function.strip("/"), msg.path or "/", qs)
        self.say(w, "[#%d] Invoking: %s with %d bytes, via: %s" % (i, msg.function, len(msg.body), url))
        hdrs = dict(msg.headers, **{"User-Agent": USER_AGENT})
        start = time.monotonic()
        try:
            status, rhdrs, data = self.post(w, url, hdrs, msg.body)
            err = None
        except (OSError, http.client.HTTPException) as e:
            status, rhdrs, data, err = 503, [], None, e
        self.say(w, "[#%d] Invoked: %s [%d] in %fs" % (i, msg.function, status, time.monotonic() - start))
        if err is not None:
            self.say(w, "[#%d] Error invoking %s, error: %s" % (i, msg.function, self.go_error(url, err)))
        else:
            self.say(w, "[#%d] %s returned %d bytes" % (i, msg.function, len(data)))
        if not msg.callback:
            return
        if err is None:
            self.say(w, "[#%d] Callback to: %s" % (i, msg.callback))
        out = {canonical(k): v for k, v in rhdrs if k.lower() not in HOP_HEADERS}
        out["X-Duration-Seconds"] = "%f" % (time.monotonic() - started)
        out["X-Function-Status"] = str(status)
        out["X-Function-Name"] = msg.function
        if call_id:
            out["X-Call-Id"] = call_id
        try:
            code = self.post(w, msg.callback, out, data or b"")[0]
            self.say(w, "[#%d] Posted result for %s to callback-url: %s, status: %d"
                     % (i, msg.function, msg.callback, code))
        except (OSError, http.client.HTTPException) as e:
            self.say(w, "[#%d] Error posting to callback-url: error posting result to URL %s %s"
                     % (i, msg.callback, self.go_error(msg.callback, e)))

    @staticmethod
    def go_error(url, e):
        """The error as Go's client.Do words it."""
        if isinstance(e, socket.timeout):
            why = "dial tcp %s: i/o timeout" % getattr(e, "addr", "")
        elif isinstance(e, ConnectionRefusedError):
            why = "dial tcp %s: connect: connection refused" % getattr(e, "addr", "")
        else:
            why = str(e) or e.__class__.__name__
        return 'Post "%s": %s' % (url, why)

    def post(self, w, url, headers, body):
        """POST url from the worker pod's namespace: (status, headers as pairs, body)."""
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise OSError("unsupported protocol scheme %r (kubesim models plain http only)" % u.scheme)
        host, port = u.hostname or "", u.port or 80
        deadline = time.monotonic() + max(self.clock.delay(DIAL_TIMEOUT), 1.0)
        ip = host if self.is_ip(host) else self.resolve(w, host, deadline)
        try:
            sock = netns.connect_in(w.fd, (ip, port), max(deadline - time.monotonic(), 0.01))
        except OSError as e:
            e.addr = "%s:%d" % (ip, port)
            raise
        conn = http.client.HTTPConnection(host, port, timeout=READ_TIMEOUT)
        try:
            sock.settimeout(READ_TIMEOUT)
            conn.sock = sock
            path = (u.path or "/") + ("?" + u.query if u.query else "")
            conn.request("POST", path, body=body, headers={k: v for k, v in headers.items()
                                                           if k.lower() not in HOP_HEADERS})
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    @staticmethod
    def is_ip(host):
        try:
            socket.inet_aton(host)
            return host.count(".") == 3
        except OSError:
            return False

    def resolve(self, w, host, deadline):
        """host's first address through cluster DNS, as a ClusterFirst pod resolves it."""
        for name in dns.candidates(host, dns.search_list(w.ns, self.net.cfg.region)):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                ips = dns.lookup(w.fd, w.dns_ip, name, left)
            except socket.timeout:
                break
            if ips:
                return ips[0]
        e = socket.timeout() if time.monotonic() >= deadline else OSError(
            "lookup %s on %s:53: no such host" % (host, w.dns_ip))
        e.addr = host
        raise e
