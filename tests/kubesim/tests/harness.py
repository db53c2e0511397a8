"""Test helpers: certificates, a fake local AWS, a fake admission webhook
server, a kubesim process, clients.

FakeAWS stands in for tests/awssim's admin API until (and besides) the real
one: GET /_awssim/eks/clusters/<c>/nodegroups, POST/DELETE
/_awssim/elb/load-balancers, and STS GetCallerIdentity at '/' for presigned
token checks (signature 'good' passes).  Everything listens on 127.0.0.1 and
every URL is checked to be loopback before use.
"""
import base64
import http.client
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
KUBESIM = os.path.join(os.path.dirname(HERE), "kubesim")
sys.path.insert(0, os.path.dirname(HERE))
from ksim.util import is_loopback_host  # noqa: E402

ACCOUNT = "111122223333"


def wait_for(what, fn, timeout=15, interval=0.05):
    """Poll fn() until it returns something truthy (no fixed sleeps: a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)


def assert_loopback(url):
    host = urllib.parse.urlsplit(url).hostname
    if not is_loopback_host(host):
        raise SystemExit("refusing non-loopback endpoint %s" % url)


def make_certs(d):
    def run(*a):
        subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=kubesim-test-ca")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", d + "/srv.key", "-out", d + "/srv.csr", "-subj", "/CN=kube-apiserver")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
        "-CAcreateserial", "-out", d + "/srv.pem", "-days", "2", "-extfile", d + "/ext")
    return d + "/ca.pem", d + "/srv.pem", d + "/srv.key"


def make_serving_certs(d, prefix, san, cn="kubesim-webhook"):
    """A CA and a serving certificate signed by it (EC P-256, openssl):
    returns (ca.pem, cert.pem, key.pem).  san is an openssl subjectAltName
    value, e.g. 'DNS:secfaas-gvisor-webhook.openfaas.svc' or 'IP:127.0.0.1'."""
    def run(*a):
        subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = os.path.join(d, prefix)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p + "-ca.key", "-out", p + "-ca.pem", "-days", "2", "-subj", "/CN=%s-ca" % cn)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p + ".key", "-out", p + ".csr", "-subj", "/CN=%s" % cn)
    with open(p + ".ext", "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % san)
    run("openssl", "x509", "-req", "-in", p + ".csr", "-CA", p + "-ca.pem", "-CAkey", p + "-ca.key",
        "-CAcreateserial", "-out", p + ".pem", "-days", "2", "-extfile", p + ".ext")
    return p + "-ca.pem", p + ".pem", p + ".key"


class FakeWebhook:
    """An HTTPS admission webhook server on 127.0.0.1 for tests.

    handlers: path -> fn(review) returning a response dict (wrapped into an
    AdmissionReview with the request's uid unless it already is one), or a
    tuple (status, bytes) to answer raw.  Every call is recorded in .calls as
    {"path", "query", "headers", "review"}.  The certificate names IP:127.0.0.1
    only (so https://localhost/... fails hostname verification)."""

    def __init__(self, tmp):
        self.ca, cert, key = make_serving_certs(tmp, "fakewh", "IP:127.0.0.1", "fake-webhook")
        self.ca_b64 = base64.b64encode(open(self.ca, "rb").read()).decode()
        self.handlers = {}
        self.calls = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                u = urllib.parse.urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    review = json.loads(raw)
                except ValueError:
                    review = None
                with outer.lock:
                    outer.calls.append({"path": u.path, "query": u.query, "headers": dict(self.headers.items()),
                                        "review": review})
                    fn = outer.handlers.get(u.path)
                if fn is None:
                    return self.raw(404, b"no handler")
                out = fn(review)
                if isinstance(out, tuple):
                    return self.raw(*out)
                if out.get("kind") != "AdmissionReview":
                    out = dict(out)
                    out.setdefault("uid", review["request"]["uid"])
                    out = {"apiVersion": review.get("apiVersion"), "kind": "AdmissionReview", "response": out}
                self.raw(200, json.dumps(out).encode(), "application/json")

            def raw(self, code, data, ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class S(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # failed handshakes are what some tests provoke

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        assert_loopback(self.url)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def calls_to(self, path):
        with self.lock:
            return [c for c in self.calls if c["path"] == path]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def patch_b64(ops):
    return base64.b64encode(json.dumps(ops).encode()).decode()


def node_config(labels=None, taints=None, runsc=True, containerd2=True):
    flags = []
    if labels:
        flags.append("--node-labels=" + ",".join("%s=%s" % kv for kv in labels.items()))
    if taints:
        flags.append("--register-with-taints=" + ",".join(taints))
    if containerd2:
        toml = ("version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc]\n"
                "runtime_type = 'io.containerd.runsc.v1'\n"
                "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc.options]\n"
                "TypeUrl = 'io.containerd.runsc.v1.options'\nConfigPath = '/etc/containerd/runsc.toml'\n")
    else:
        toml = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
                '  runtime_type = "io.containerd.runc.v2"\n'
                '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]\n'
                '  runtime_type = "io.containerd.runsc.v1"\n')
    nc = ("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: demo\n"
          "    apiServerEndpoint: https://127.0.0.1\n    certificateAuthority: Zm9v\n    cidr: 10.100.0.0/16\n"
          "  kubelet:\n    flags:\n" + "".join("      - %s\n" % f for f in flags))
    if runsc:
        nc += "  containerd:\n    config: |\n" + "".join("      %s\n" % line for line in toml.splitlines())
    mime = ('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="SECFAAS"\n\n--SECFAAS\n'
            "Content-Type: application/node.eks.aws\n\n" + nc + "\n--SECFAAS--\n")
    return base64.b64encode(mime.encode()).decode()


class NoDelayServer(ThreadingHTTPServer):
    """http.server writes headers and body separately: TCP_NODELAY avoids a
    ~40 ms delayed-ACK stall on every answer."""

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


class FakeAWS:
    def __init__(self, cluster):
        self.cluster = cluster
        self.nodegroups = []
        self.lbs = {}
        self.deleted_lbs = []
        self.sts_calls = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, obj, ctype="application/json"):
                data = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/_awssim/eks/clusters/%s/nodegroups" % outer.cluster:
                    with outer.lock:
                        return self.reply(200, {"nodegroups": outer.nodegroups})
                if u.path == "/":
                    q = dict(urllib.parse.parse_qsl(u.query))
                    with outer.lock:
                        outer.sts_calls.append((q, self.headers.get("x-k8s-aws-id")))
                    if q.get("Action") != "GetCallerIdentity" or q.get("X-Amz-Signature") != "good" or \
                            self.headers.get("x-k8s-aws-id") != outer.cluster:
                        return self.reply(403, {"Error": {"Code": "SignatureDoesNotMatch"}})
                    acct = q.get("X-Amz-Credential", "").split("/")[0] or ACCOUNT
                    arn = "arn:aws:iam::%s:user/tester" % acct
                    return self.reply(200, {"GetCallerIdentityResponse": {"GetCallerIdentityResult": {
                        "Account": acct, "Arn": arn, "UserId": "AIDATEST"}}})
                self.reply(404, {"error": "not found"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                if self.path == "/_awssim/elb/load-balancers":
                    with outer.lock:
                        name = "k8s-%s-%s" % (body["namespace"], body["service"])
                        lb = {"name": name, "dnsName": name + "-123.elb.eu-west-1.amazonaws.com",
                              "arn": "arn:aws:elasticloadbalancing:eu-west-1:%s:loadbalancer/%s" % (ACCOUNT, name),
                              "request": body}
                        outer.lbs[name] = lb
                    return self.reply(200, lb)
                self.reply(404, {})

            def do_DELETE(self):
                if self.path.startswith("/_awssim/elb/load-balancers/"):
                    name = self.path.rsplit("/", 1)[1]
                    with outer.lock:
                        if outer.lbs.pop(name, None) is None:
                            return self.reply(404, {})
                        outer.deleted_lbs.append(name)
                    return self.reply(200, {})
                self.reply(404, {})

        self.srv = NoDelayServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        assert_loopback(self.url)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def set_groups(self, groups):
        with self.lock:
            self.nodegroups = groups

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def group(name, size, labels=None, taints=None, user_data=None, status="ACTIVE"):
    return {"nodegroupName": name, "status": status, "labels": labels or {}, "taints": taints or [],
            "scalingConfig": {"minSize": 0, "maxSize": 10, "desiredSize": size},
            "instanceTypes": ["m5.large"], "availabilityZones": ["eu-west-1a", "eu-west-1b"],
            "userData": user_data or ""}


class Kubesim:
    """A kubesim process plus an HTTPS client for it."""

    def __init__(self, tmp, cluster="demo", token="s3cret", aws=None, extra=(), timescale=0.05, mode="static"):
        self.tmp = tempfile.mkdtemp(dir=tmp)
        self.ca, cert, key = make_certs(self.tmp)
        self.token = token
        self.cluster = cluster
        portf = self.tmp + "/port"
        args = [KUBESIM, "--cluster", cluster, "--region", "eu-west-1", "--account", ACCOUNT, "--port", "0",
                "--port-file", portf, "--cert", cert, "--key", key, "--timescale", str(timescale),
                "--token-mode", mode, "--cluster-ca", self.ca]
        if mode == "static":
            args += ["--static-token", token]
        if aws:
            args += ["--aws-url", aws.url]
        if "--nodeport-ip" not in extra:
            # not the default derived from the cluster name: another run of this suite on the same
            # machine (same cluster names) would hold the same NodePort listeners
            args += ["--nodeport-ip", "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                                                          random.randint(2, 254))]
        args += list(extra)
        self.log = open(self.tmp + "/kubesim.log", "w")
        # TMPDIR: what kubesim's process runner writes for pods lands in the test's own directory,
        # even when a test kills kubesim with -9 and it cannot clean up
        env = dict(os.environ, TMPDIR=self.tmp)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 15
        # Startup: the port file appears atomically once the server listens.
        while not os.path.exists(portf):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("kubesim did not start: " + open(self.tmp + "/kubesim.log").read())
            time.sleep(0.02)
        self.port = int(open(portf).read())
        self.url = "https://127.0.0.1:%d" % self.port
        assert_loopback(self.url)
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.local = threading.local()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def call(self, method, path, body=None, ctype="application/json", token=None, headers=None, timeout=30):
        """(status, parsed body or text, response headers).  One keep-alive connection per
        thread (a TLS handshake per call made long suites slow); a dropped one is redialled once."""
        h = {"Accept": "application/json"}
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if body is not None:
            h["Content-Type"] = ctype
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        h.update(headers or {})
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)
                self.local.conn = conn
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                data = r.read()
                break
            except (TimeoutError, socket.timeout):
                conn.close()
                self.local.conn = None
                raise
            except (OSError, http.client.HTTPException) as e:
                # the server closed the kept-alive connection (after a watch, say): redial once
                conn.close()
                self.local.conn = None
                if attempt:
                    raise e
            except BaseException:
                conn.close()
                self.local.conn = None
                raise
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            self.local.conn = None
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return r.status, parsed, r.headers

    def ok(self, method, path, body=None, ctype="application/json", want=(200, 201), **kw):
        code, obj, _ = self.call(method, path, body, ctype, **kw)
        if code not in want:
            raise AssertionError("%s %s -> %d %s" % (method, path, code, obj))
        return obj

    def apply(self, path, obj, manager="test", force=False, dry=False):
        q = "?fieldManager=%s%s%s" % (manager, "&force=true" if force else "", "&dryRun=All" if dry else "")
        return self.call("PATCH", path + q, obj, "application/apply-patch+yaml")

    def watch_until(self, coll_path, pred, timeout=20, field_name=None):
        """Block on a watch of coll_path until pred(object) is true; returns it.
        Event-driven: LIST, then WATCH from the list's resourceVersion."""
        q = "?fieldSelector=metadata.name%%3D%s" % field_name if field_name else "?"
        code, lst, _ = self.call("GET", coll_path + q)
        assert code == 200, lst
        for o in lst["items"]:
            if pred(o):
                return o
        deadline = time.monotonic() + timeout
        rv = lst["metadata"]["resourceVersion"]
        while time.monotonic() < deadline:
            left = max(1, int(deadline - time.monotonic()))
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=left + 5)
            sep = "&" if field_name else ""
            conn.request("GET", "%s%s%swatch=1&resourceVersion=%s&timeoutSeconds=%d" % (coll_path, q, sep, rv, left),
                         headers={"Authorization": "Bearer " + self.token})
            r = conn.getresponse()
            if r.status != 200:
                raise AssertionError("watch %s -> %d %s" % (coll_path, r.status, r.read()))
            for line in r:
                ev = json.loads(line)
                if ev["type"] == "ERROR":
                    raise AssertionError("watch error %s" % ev)
                rv = ev["object"]["metadata"]["resourceVersion"]
                if ev["type"] != "DELETED" and pred(ev["object"]):
                    conn.close()
                    return ev["object"]
            conn.close()
        raise AssertionError("timed out waiting on %s" % coll_path)

    def watch_gone(self, coll_path, name, timeout=20):
        """Block until object `name` is absent (DELETED event or 404)."""
        code, lst, _ = self.call("GET", coll_path + "?fieldSelector=metadata.name%%3D%s" % name)
        if not lst["items"]:
            return True
        rv = lst["metadata"]["resourceVersion"]
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout + 5)
        conn.request("GET", "%s?fieldSelector=metadata.name%%3D%s&watch=1&resourceVersion=%s&timeoutSeconds=%d"
                     % (coll_path, name, rv, timeout), headers={"Authorization": "Bearer " + self.token})
        r = conn.getresponse()
        for line in r:
            if json.loads(line)["type"] == "DELETED":
                conn.close()
                return True
        conn.close()
        raise AssertionError("%s/%s still present after %ds" % (coll_path, name, timeout))

    def kubeconfig(self, path, exec_script=None):
        user = {"token": self.token} if not exec_script else {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": exec_script,
            "interactiveMode": "Never"}}
        cfg = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": self.cluster, "cluster": {
                   "server": self.url,
                   "certificate-authority-data": base64.b64encode(open(self.ca, "rb").read()).decode()}}],
               "users": [{"name": "u", "user": user}],
               "contexts": [{"name": self.cluster, "context": {"cluster": self.cluster, "user": "u"}}],
               "current-context": self.cluster}
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            fn(*args)
            self.passed += 1
            print("ok   %-55s %.1fs" % (name, time.monotonic() - t0), flush=True)
            return True
        except Exception as e:
            import traceback
            self.failed += 1
            print("FAIL %-55s %s" % (name, e), flush=True)
            traceback.print_exc()
            return False
