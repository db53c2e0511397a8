"""The OpenFaaS classic watchdog (fwatchdog), as kubesim runs it for pods of the
classic-watchdog images (ghcr.io/openfaas/alpine and the older functions/alpine).

Owned by the kubesim suite (tests/kubesim).  Run by runner.py as the
container's process, in the pod's network namespace:

  python3 fwatchdog.py [--bind ADDRESS]

(--bind only in loopback mode, where pods share the host's network and each
has its own 127.0.x.y).  Behaviour of openfaas/classic-watchdog (main.go,
handler.go, readconfig.go):

* configuration from the environment: fprocess (required; without it the
  watchdog panics: exit 2), port (8080), read_timeout / write_timeout (30s),
  exec_timeout (0 = none), combine_output (true), cgi_headers (true),
  content_type, suppress_lock, max_inflight (0 = no limit), write_debug;
  integers are seconds, otherwise Go durations;
* a lock file $TMPDIR/.lock (os.TempDir()) once listening; GET /_/health is
  200 "OK" while it exists, else 503; other methods on it 405;
* any other path, for GET/POST/PUT/PATCH/DELETE (else 405): fprocess is split
  on single spaces (no shell, no quoting) and executed with the environment
  plus the request as CGI-style variables (Http_<Header> with '-' -> '_',
  Http_Method, Http_ContentLength, Http_Content_Length, Http_Transfer_Encoding,
  Http_Query, Http_Path, Http_Host); the body goes to its stdin; stdout (and
  stderr, with combine_output) is the answer: 200 with X-Duration-Seconds and
  the content_type (or the request's Content-Type); a failure -> 500 with Go's
  error text ("exit status 1", `exec: "x": executable file not found in
  $PATH`) and the output; exec_timeout -> the process is killed, 408
  "Killed process."; more than max_inflight at once -> 429;
* SIGTERM: the lock file goes (health turns 503), then the server stops.

Not modelled: marshal_request, JWT authentication, the metrics port 8081.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def go_duration(val, fallback):
    """readconfig.go's parseIntOrDurationValue: an integer is seconds, else a Go duration."""
    if val:
        if val.isdigit():
            return float(val)
        units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
        parts = re.findall(r"([0-9]*\.?[0-9]+)(ms|us|µs|ns|h|m|s)", val)
        if parts and "".join(n + u for n, u in parts) == val:
            return sum(float(n) * units[u] for n, u in parts)
    return fallback


def flag(name, default):
    v = os.environ.get(name, "")
    return (v == "true") if v else default


class Config:
    def __init__(self):
        self.fprocess = os.environ.get("fprocess", "")
        self.read_timeout = go_duration(os.environ.get("read_timeout", ""), 30.0)
        self.write_timeout = go_duration(os.environ.get("write_timeout", ""), 30.0)
        self.exec_timeout = go_duration(os.environ.get("exec_timeout", ""), 0.0)
        p = os.environ.get("port", "")
        self.port = int(p) if p.isdigit() else 8080
        self.combine = flag("combine_output", True)
        self.cgi = flag("cgi_headers", True)
        self.content_type = os.environ.get("content_type", "")
        self.suppress_lock = flag("suppress_lock", False)
        m = os.environ.get("max_inflight", "")
        self.max_inflight = int(m) if m.isdigit() else 0
        self.debug = flag("write_debug", False)


CFG = None
ACCEPTING = threading.Event()
INFLIGHT = threading.BoundedSemaphore(1 << 30)
LOCK_PATH = os.path.join(tempfile.gettempdir(), ".lock")


def log(msg):
    sys.stdout.write(time.strftime("%Y/%m/%d %H:%M:%S ") + msg + "\n")
    sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fwatchdog"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def health(self):
        if self.command != "GET":
            return self.reply(405)
        if not ACCEPTING.is_set() or not os.path.exists(LOCK_PATH):
            return self.reply(503)
        return self.reply(200, b"OK")

    def any_method(self):
        path = self.path.split("?", 1)[0]
        if path == "/_/health":
            return self.health()
        if self.command not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            return self.reply(405)
        if not INFLIGHT.acquire(blocking=False):
            return self.reply(429, b"Concurrent request limit exceeded. Max concurrent requests: %d\n"
                              % CFG.max_inflight)
        try:
            self.pipe_request()
        finally:
            INFLIGHT.release()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = any_method

    def cgi_env(self):
        env = dict(os.environ)
        if not CFG.cgi:
            return env
        for k, v in self.headers.items():
            canon = "-".join(w[:1].upper() + w[1:].lower() for w in k.split("-"))
            env.setdefault("Http_" + canon.replace("-", "_"), v)
        n = self.headers.get("Content-Length")
        length = n if n and n.isdigit() else ("-1" if self.headers.get("Transfer-Encoding") else "0")
        env["Http_Method"] = self.command
        env["Http_ContentLength"] = length
        env["Http_Content_Length"] = length
        if self.headers.get("Transfer-Encoding"):
            env["Http_Transfer_Encoding"] = self.headers.get("Transfer-Encoding")
        path, _, query = self.path.partition("?")
        if query:
            env["Http_Query"] = query
        if path:
            env["Http_Path"] = path
        if self.headers.get("Host"):
            env["Http_Host"] = self.headers.get("Host")
        return env

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def pipe_request(self):
        start = time.monotonic()
        body = self.read_body()
        parts = CFG.fprocess.split(" ")
        log("Forking fprocess.")
        try:
            proc = subprocess.Popen(parts, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT if CFG.combine else subprocess.PIPE,
                                    env=self.cgi_env(), close_fds=True)
        except FileNotFoundError:
            return self.reply(500, ('exec: "%s": executable file not found in $PATH\n' % parts[0]).encode())
        except OSError as e:
            return self.reply(500, ('fork/exec %s: %s\n' % (parts[0], (e.strerror or str(e)).lower())).encode())
        killed = threading.Event()
        timer = None
        if CFG.exec_timeout > 0:
            def kill():
                log("Killing process: %s" % CFG.fprocess)
                killed.set()
                proc.kill()
            timer = threading.Timer(CFG.exec_timeout, kill)
            timer.start()
        try:
            out, err = proc.communicate(body)
        finally:
            if timer is not None:
                timer.cancel()
        if err:
            log("stderr: %s" % err.decode("utf-8", "replace"))
        if killed.is_set():
            return self.reply(408, b"Killed process.\n")
        rc = proc.returncode
        if rc != 0:
            why = "exit status %d" % rc if rc > 0 else "signal: %s" % signal.Signals(-rc).name[3:].lower()
            return self.reply(500, why.encode() + b"\n" + (out or b""))
        ctype = CFG.content_type or self.headers.get("Content-Type") or ""
        hdrs = [("Content-Type", ctype)] if ctype else []
        dur = time.monotonic() - start
        hdrs.append(("X-Duration-Seconds", "%f" % dur))
        self.reply(200, out or b"", hdrs)
        log("Wrote %d Bytes - Duration: %fs" % (len(out or b""), dur))


def main(argv):
    global CFG, INFLIGHT
    bind = ""
    if len(argv) >= 2 and argv[0] == "--bind":
        bind = argv[1]
    CFG = Config()
    log("Version: 0.3.3\tSHA: kubesim")
    if not CFG.fprocess:
        log("Provide a valid process via fprocess environmental variable.")
        sys.stderr.write("panic: Provide a valid process via fprocess environmental variable.\n")
        return 2
    if CFG.max_inflight > 0:
        INFLIGHT = threading.BoundedSemaphore(CFG.max_inflight)
    log("Timeouts: read: %gs write: %gs hard: %gs health: %gs." % (CFG.read_timeout, CFG.write_timeout,
                                                                  CFG.exec_timeout, CFG.write_timeout))
    log("Listening on port: %d" % CFG.port)
    srv = ThreadingHTTPServer((bind, CFG.port), Handler)
    srv.daemon_threads = True
    Handler.timeout = CFG.read_timeout or None

    def term(*_):
        log("SIGTERM: no new connections in %gs" % CFG.write_timeout)
        ACCEPTING.clear()
        try:
            os.remove(LOCK_PATH)
        except OSError:
            pass
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, term)
    if CFG.suppress_lock:
        log('Warning: "suppress_lock" is enabled. No automated health-checks will be in place for your function.')
    else:
        log("Writing lock-file to: %s" % LOCK_PATH)
        try:
            with open(LOCK_PATH, "w"):
                pass
        except OSError as e:
            sys.stderr.write("panic: Cannot write %s. To disable lock-file set env suppress_lock=true.\n "
                             "Error: %s.\n" % (LOCK_PATH, e))
            return 2
    ACCEPTING.set()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
