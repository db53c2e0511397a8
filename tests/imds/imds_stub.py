#!/usr/bin/python3
"""A small EC2 instance metadata service (IMDSv2) for tests, standard library only.

Why it exists: the hop limit secfaas puts on a node group's launch template
(MetadataOptions.HttpPutResponseHopLimit) only means something on real
packets.  EC2 sends the reply to `PUT /latest/api/token` with that value as
its IP TTL (IPv6 hop limit), so a token cannot be carried further than that
many hops; a pod in its own network namespace sits one routed hop behind the
node.  This stub does the same on a real socket, so tests can show with the
kernel's own forwarding which clients get a token and which do not.

What it models (EC2's documented behaviour):
  PUT /latest/api/token
      needs X-aws-ec2-metadata-token-ttl-seconds, an integer 1..21600
      (missing or invalid: 400); a PUT carrying X-Forwarded-For is refused
      (403).  200 with the token as body and the TTL echoed in
      X-aws-ec2-metadata-token-ttl-seconds.  Only this reply is sent with
      the hop limit as IP TTL; every other reply leaves with the system
      default, as on EC2 where only the token is hop-limited.
  GET /latest/meta-data/...
      with X-aws-ec2-metadata-token: the token must be one this stub issued
      and not expired, else 401.  Without a token: 401 when http_tokens is
      "required", served (IMDSv1) when "optional".  Unknown paths: 404.
      iam/security-credentials/ lists the role; .../<role> returns JSON
      with Code, LastUpdated, Type, AccessKeyId, SecretAccessKey, Token,
      Expiration (fake values, random per stub).  No role: iam/ is 404.
  http_endpoint "disabled": every request gets 403.
  Other methods: 405.  Errors carry IMDS's small HTML body.

The TTL is set on the connection's socket just before the token reply and
is not raised again on that connection: the kernel builds TCP
retransmissions with the socket's current TTL, so restoring it would let a
retransmitted token through the hop the first copy died at.

Use from Python:
    from imds_stub import ImdsStub
    with ImdsStub(bind="169.254.169.254", port=80, hop_limit=1,
                  http_tokens="required", role="node-role") as s:
        ...  s.port, s.credentials, s.events, s.wait_event(pred, timeout)

Run as a script (prints one line `IMDS-STUB-READY <address> <port>` once
it listens, then one JSON line per request on stdout; stops on SIGTERM or
SIGINT):
    imds_stub.py [--bind ADDR] [--port N] [--hop-limit N]
                 [--http-tokens required|optional] [--role NAME | --no-role]
                 [--http-endpoint enabled|disabled] [--credentials-file F]
(F: JSON object with at least AccessKeyId, SecretAccessKey, Token,
Expiration, served as the role's credentials.)

Test tooling only: nothing here is shipped.
"""
import argparse
import base64
import datetime
import http.server
import ipaddress
import json
import os
import secrets
import signal
import socket
import string
import sys
import threading
import time

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TOKEN_TTL = 21600  # six hours, EC2's maximum
CREDENTIAL_LIFETIME = 6 * 3600

REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed"}


def _error_body(code):
    title = "%d - %s" % (code, REASONS[code])
    return ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            ' <head>\n  <title>%s</title>\n </head>\n'
            ' <body>\n  <h1>%s</h1>\n </body>\n</html>\n' % (title, title)).encode()


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rand(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def set_hop_limit(sock, hops):
    """IP TTL (and IPv6 unicast hop limit) of every later packet on sock."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
        try:  # IPv4-mapped peers of a dual-stack socket use IP_TTL
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hops)
        except OSError:
            pass
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hops)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this

    def log_message(self, fmt, *args):  # events replace the access log
        pass

    def version_string(self):
        return self.server_version

    def _stub(self):
        return self.server.stub

    def _reply(self, code, body=b"", headers=(), hop=None):
        stub = self._stub()
        if hop is not None:
            set_hop_limit(self.connection, hop)
        # Recorded before the reply goes out: a client that has read its
        # reply must find the event already there, on a busy machine too.
        stub._event(peer=self.client_address[0], peer_port=self.client_address[1], method=self.command,
                    path=self.path, status=code, ttl=hop)
        self.send_response(code, REASONS.get(code))
        ctype = "text/html" if code >= 400 else "text/plain"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, code, headers=()):
        self._reply(code, _error_body(code), headers)

    def _drain_body(self):
        n = self.headers.get("Content-Length")
        if n and n.isdigit():
            self.rfile.read(int(n))

    def do_PUT(self):
        self._drain_body()
        stub = self._stub()
        if stub.http_endpoint != "enabled":
            return self._error(403)
        if self.path != TOKEN_PATH:
            return self._error(405, [("Allow", "GET")])
        if self.headers.get("X-Forwarded-For") is not None:
            return self._error(403)
        ttl = self.headers.get(TTL_HEADER)
        if ttl is None or not ttl.strip().isdigit() or not 1 <= int(ttl) <= MAX_TOKEN_TTL:
            return self._error(400)
        ttl = int(ttl)
        token = stub._issue(ttl)
        self._reply(200, token.encode(), [(TTL_HEADER, str(ttl))], hop=stub.hop_limit)

    def do_GET(self):
        stub = self._stub()
        if stub.http_endpoint != "enabled":
            return self._error(403)
        if self.path == TOKEN_PATH:
            return self._error(405, [("Allow", "PUT")])
        token = self.headers.get(TOKEN_HEADER)
        if token is not None:
            if not stub._valid(token):
                return self._error(401)
        elif stub.http_tokens == "required":
            return self._error(401)
        body = stub._lookup(self.path.split("?", 1)[0])
        if body is None:
            return self._error(404)
        self._reply(200, body.encode())

    do_HEAD = do_GET

    def _not_allowed(self):
        self._drain_body()
        if self._stub().http_endpoint != "enabled":
            return self._error(403)
        self._error(405, [("Allow", "PUT" if self.path == TOKEN_PATH else "GET")])

    do_POST = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, family, stub):
        self.address_family = family
        self.stub = stub
        self.live = set()
        self.live_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):
        with self.live_lock:
            self.live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.live_lock:
            self.live.discard(request)
        super().shutdown_request(request)

    def close_all(self):
        with self.live_lock:
            live = list(self.live)
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ImdsStub:
    """An IMDSv2 endpoint on (bind, port); see the module text for what it models.

    hop_limit: 1..64, the IP TTL of token replies (MetadataOptions.
    HttpPutResponseHopLimit).  http_tokens: "required" | "optional".
    role: instance profile role name, or None for an instance without one.
    clock: seconds since the epoch (time.time); tests pass their own to
    expire tokens without waiting.  on_event: called with each event dict.
    An event is one answered request: {time, peer, peer_port, method, path,
    status, ttl} where ttl is the hop limit the reply was sent with, or None
    for the system default.
    credentials: the role credentials to serve (dict, copied); default:
    random fake values of EC2's shape, readable as .credentials.
    """

    def __init__(self, bind="169.254.169.254", port=80, hop_limit=1, http_tokens="required",
                 role="secfaas-node-role", http_endpoint="enabled", instance_id=None,
                 region="eu-west-1", clock=time.time, on_event=None, credentials=None):
        if not isinstance(hop_limit, int) or isinstance(hop_limit, bool) or not 1 <= hop_limit <= 64:
            raise ValueError("hop_limit must be an integer 1..64 (EC2's range), got %r" % (hop_limit,))
        if http_tokens not in ("required", "optional"):
            raise ValueError("http_tokens must be 'required' or 'optional', got %r" % (http_tokens,))
        if http_endpoint not in ("enabled", "disabled"):
            raise ValueError("http_endpoint must be 'enabled' or 'disabled', got %r" % (http_endpoint,))
        self.bind = bind
        self.requested_port = port
        self.hop_limit = hop_limit
        self.http_tokens = http_tokens
        self.http_endpoint = http_endpoint
        self.role = role
        self.region = region
        self.clock = clock
        self.on_event = on_event
        self.instance_id = instance_id or "i-" + _rand("0123456789abcdef", 17)
        now = clock()
        upper = string.ascii_uppercase + string.digits
        self.credentials = {
            "Code": "Success",
            "LastUpdated": _iso(now),
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIA" + _rand(upper, 16),
            "SecretAccessKey": _rand(string.ascii_letters + string.digits + "+/", 40),
            "Token": base64.b64encode(os.urandom(96)).decode(),
            "Expiration": _iso(now + CREDENTIAL_LIFETIME),
        }
        if credentials is not None:
            missing = [k for k in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration") if k not in credentials]
            if missing:
                raise ValueError("credentials lack %s" % ", ".join(missing))
            self.credentials.update(credentials)
        self.events = []
        self._tokens = {}
        self._cond = threading.Condition()
        self._server = None
        self._thread = None

    # ---- lifecycle
    def start(self):
        family = socket.AF_INET6 if ipaddress.ip_address(self.bind).version == 6 else socket.AF_INET
        self._server = _Server((self.bind, self.requested_port), family, self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="imds-stub",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.close_all()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        host = "[%s]" % self.bind if ":" in self.bind else self.bind
        return "http://%s:%d" % (host, self.port)

    # ---- events
    def _event(self, **ev):
        ev["time"] = self.clock()
        with self._cond:
            self.events.append(ev)
            self._cond.notify_all()
        if self.on_event:
            self.on_event(ev)

    def wait_event(self, pred, timeout):
        """First event matching pred, waiting up to timeout seconds; None if none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    # ---- tokens
    def _issue(self, ttl):
        token = "AQAEA" + base64.b64encode(os.urandom(42)).decode()
        with self._cond:
            self._tokens[token] = self.clock() + ttl
        return token

    def _valid(self, token):
        with self._cond:
            exp = self._tokens.get(token)
        return exp is not None and self.clock() < exp

    # ---- metadata tree
    def _tree(self):
        iam = {"info": json.dumps({
            "Code": "Success", "LastUpdated": self.credentials["LastUpdated"],
            "InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/%s" % self.role,
            "InstanceProfileId": "AIPA" + self.credentials["AccessKeyId"][4:]}, indent=2),
            "security-credentials": {self.role: json.dumps(self.credentials, indent=2)}}
        meta = {
            "ami-id": "ami-0123456789abcdef0",
            "ami-launch-index": "0",
            "hostname": "ip-10-0-0-10.%s.compute.internal" % self.region,
            "instance-id": self.instance_id,
            "instance-type": "m6i.large",
            "local-hostname": "ip-10-0-0-10.%s.compute.internal" % self.region,
            "local-ipv4": "10.0.0.10",
            "placement": {"availability-zone": self.region + "a", "region": self.region},
        }
        if self.role:
            meta["iam"] = iam
        identity = json.dumps({
            "accountId": "123456789012", "architecture": "x86_64", "availabilityZone": self.region + "a",
            "imageId": meta["ami-id"], "instanceId": self.instance_id, "instanceType": meta["instance-type"],
            "privateIp": meta["local-ipv4"], "region": self.region, "version": "2017-09-30"}, indent=2)
        return {"latest": {"meta-data": meta, "dynamic": {"instance-identity": {"document": identity}},
                           "api": {}}}

    def _lookup(self, path):
        """Body for a GET of path: a leaf's text, a directory's listing
        (subdirectories end in /), or None (404)."""
        node = self._tree()
        parts = [p for p in path.split("/") if p]
        if not parts:
            return "latest"
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                return None
            node = node[p]
        if isinstance(node, dict):
            if not node:
                return None
            return "\n".join(k + "/" if isinstance(v, dict) else k for k, v in sorted(node.items()))
        return node


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--bind", default="169.254.169.254")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--hop-limit", type=int, default=1)
    ap.add_argument("--http-tokens", default="required", choices=("required", "optional"))
    ap.add_argument("--http-endpoint", default="enabled", choices=("enabled", "disabled"))
    ap.add_argument("--role", default="secfaas-node-role")
    ap.add_argument("--no-role", action="store_true", help="an instance without an instance profile")
    ap.add_argument("--credentials-file", help="JSON credentials to serve for the role")
    a = ap.parse_args(argv)
    out_lock = threading.Lock()

    def emit(line):
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    try:
        creds = None
        if a.credentials_file:
            with open(a.credentials_file) as f:
                creds = json.load(f)
        stub = ImdsStub(bind=a.bind, port=a.port, hop_limit=a.hop_limit, http_tokens=a.http_tokens,
                        http_endpoint=a.http_endpoint, role=None if a.no_role else a.role,
                        credentials=creds, on_event=lambda ev: emit(json.dumps(ev, sort_keys=True)))
        stub.start()
    except (ValueError, OSError) as e:
        sys.exit("imds_stub: cannot serve on %s port %d: %s" % (a.bind, a.port, e))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emit("IMDS-STUB-READY %s %d" % (a.bind, stub.port))
    stop.wait()
    stub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
