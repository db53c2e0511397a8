"""HTTP(S) front end and command line of awssim.

Binds 127.0.0.1 only, serves every simulated service on one port with a
ThreadingHTTPServer (HTTP/1.1 keep-alive), writes the chosen port to
--port-file atomically once it accepts connections, and exits cleanly on
SIGTERM/SIGINT, stopping the per-cluster kubesim children it started.

Each reply (status line, headers and body) goes out in one write on a socket
with TCP_NODELAY: written in two pieces, the body of a keep-alive reply waits
for the client's delayed ACK of the headers (Nagle), about 40 ms a request.
"""
import argparse
import os
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .sim import Request, Sim, parse_consistency

MAX_BODY = 16 * 1024 * 1024


def log(msg):
    sys.stderr.write(time.strftime("%H:%M:%S ") + "awssim: " + msg + "\n")
    sys.stderr.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awssim"
    sys_version = ""

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if os.environ.get("AWSSIM_LOG"):
            log(self.address_string() + " " + fmt % args)

    def _reply(self, status, headers, body, close=False, truncate=False):
        """Status line, headers and (all or half of the) body in one write."""
        self.log_request(status)
        reason = self.responses.get(status, ("",))[0]
        lines = [f"{self.protocol_version} {status} {reason}", f"Server: {self.version_string()}",
                 f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (body[:len(body) // 2] if truncate else body))

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _handle(self):
        sim = self.server.sim
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(413)
            return
        path, _, query = self.path.partition("?")
        if path.startswith("/_awssim/"):
            reply = sim.admin(self.command, path, query, body)
        else:
            pairs = list(self.headers.items())
            req = Request(self.command, path, query, pairs, body, self.server.scheme, sim.base_url)
            reply = sim.handle(req)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.action == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        if reply.action == "truncate":
            self._reply(reply.status, reply.headers, reply.body, close=True, truncate=True)
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        self._reply(reply.status, reply.headers, reply.body)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    ssl_ctx = None

    def finish_request(self, request, client_address):
        # TLS handshake on the per-connection thread, not in accept().
        if self.ssl_ctx is not None:
            request.settimeout(30)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, OSError)):
            return
        super().handle_error(request, client_address)


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".awssim-port.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="awssim", description="Local AWS simulator for secfaas tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--timescale", type=float, default=1.0)
    ap.add_argument("--tls-dir")
    ap.add_argument("--credentials")
    ap.add_argument("--state-dir")
    ap.add_argument("--region", default=os.environ.get("AWSSIM_REGION", "us-east-1"),
                    help="region assumed for unsigned requests (default us-east-1)")
    ap.add_argument("--seed", type=int, help="seed of the duration jitter (default: random, logged)")
    ap.add_argument("--consistency-delay-scale", default="1", metavar="X|KIND=X,...",
                    help="multiplies the eventual-consistency windows: one number for all, or per window or "
                         "family (ec2=0,iam.role=2); 0 turns a window off (default 1)")
    a = ap.parse_args(argv)
    if a.timescale <= 0:
        ap.error("--timescale must be > 0")
    try:
        parse_consistency(a.consistency_delay_scale)
    except ValueError as e:
        ap.error(f"--consistency-delay-scale: {e}")
    own_state = a.state_dir is None
    state_dir = a.state_dir or tempfile.mkdtemp(prefix="awssim-")
    os.makedirs(state_dir, exist_ok=True)
    sim = Sim(timescale=a.timescale, default_region=a.region, state_dir=state_dir, log=log, seed=a.seed,
              consistency=a.consistency_delay_scale)
    if a.credentials:
        sim.load_credentials(a.credentials)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.sim = sim
    srv.scheme = "http"
    if a.tls_dir:
        from .tlsgen import server_material
        os.makedirs(a.tls_dir, exist_ok=True)
        ca, cert, key = server_material(a.tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.ssl_ctx = ctx
        srv.scheme = "https"
        sim.ca_path = ca
    port = srv.server_address[1]
    sim.base_url = f"{srv.scheme}://127.0.0.1:{port}"
    stop = threading.Event()

    def ticker():
        while not stop.wait(0.05):
            try:
                sim.tick()
            except Exception as e:  # keep ticking; the bug shows in the log
                log(f"tick failed: {e!r}")
    threading.Thread(target=ticker, daemon=True).start()

    def on_signal(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if a.port_file:
        write_atomic(a.port_file, f"{port}\n")
    log(f"serving {sim.base_url} (timescale {a.timescale}, seed {sim.clock.seed}, consistency delay scale "
        f"{a.consistency_delay_scale}, state {state_dir})")
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        stop.set()
        sim.shutdown()
        srv.server_close()
        if own_state:
            import shutil
            shutil.rmtree(state_dir, ignore_errors=True)
        log("stopped")
    return 0
