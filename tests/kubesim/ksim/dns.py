"""Cluster DNS, served by kubesim from the CoreDNS pods' own network namespaces.

Owned by the kubesim suite (tests/kubesim).  Answers A queries (UDP, and TCP
with the two-byte length prefix) the way CoreDNS's kubernetes plugin does for
the records a pod needs:
  <svc>.<ns>.svc.cluster.local      the ClusterIP (headless: the ready pods' IPs)
  <a-b-c-d>.<ns>.pod.cluster.local  that IP
  ip-a-b-c-d.<region>.compute.internal  a node (what the VPC resolver answers)
Other names under cluster.local -> NXDOMAIN; AAAA of a known name -> no data;
names outside the cluster -> SERVFAIL (the simulated VPC has no upstream).
Pods find it through the /etc/resolv.conf kubesim mounts into them (ClusterFirst:
the kube-dns Service IP, search <ns>.svc.cluster.local svc.cluster.local
cluster.local, ndots:5), so short names resolve through the search path.
The table is rebuilt from the store with every rules refresh and read without
the store lock (a webhook call holding the lock must not stall name lookups).
"""
import random
import socket
import struct
import threading

from . import netns


class Resolver:
    def __init__(self, domain):
        self.domain = domain
        self.table = {}          # lower-case name -> [ip]
        self.lock = threading.Lock()

    def update(self, services, pods, nodes, region):
        t = {}
        for s, _eps in services:
            md, spec = s["metadata"], s.get("spec") or {}
            name = "%s.%s.svc.%s" % (md["name"], md["namespace"], self.domain)
            cip = spec.get("clusterIP")
            if cip and cip != "None":
                t[name] = [cip]
            elif spec.get("selector"):
                sel = spec["selector"]
                t[name] = sorted(p.ip for p in pods if p.ns == md["namespace"] and p.ip and p.ready
                                 and all(p.labels.get(k) == v for k, v in sel.items()))
        for p in pods:
            if p.ip and not p.host_network:
                t["%s.%s.pod.%s" % (p.ip.replace(".", "-"), p.ns, self.domain)] = [p.ip]
        for nn in nodes.values():
            t["ip-%s.%s.compute.internal" % (nn.ip.replace(".", "-"), region)] = [nn.ip]
            t[nn.name.lower()] = [nn.ip]
        with self.lock:
            self.table = t

    def answer(self, query):
        """A DNS response (bytes) for one query message, or None to stay silent."""
        if len(query) < 12:
            return None
        qid, flags, qd, _, _, _ = struct.unpack("!HHHHHH", query[:12])
        if flags & 0x8000 or qd != 1:
            return None
        labels, i = [], 12
        try:
            while True:
                n = query[i]
                if n == 0:
                    i += 1
                    break
                if n & 0xC0:
                    return None
                labels.append(query[i + 1:i + 1 + n].decode("ascii"))
                i += 1 + n
            qtype, qclass = struct.unpack("!HH", query[i:i + 4])
        except (IndexError, UnicodeDecodeError, struct.error):
            return None
        question = query[12:i + 4]
        name = ".".join(labels).lower()
        with self.lock:
            ips = self.table.get(name)
        rd = flags & 0x0100
        if ips is None:
            inside = name == self.domain or name.endswith("." + self.domain) or name.endswith(".compute.internal")
            rcode = 3 if inside else 2   # NXDOMAIN inside the cluster, SERVFAIL outside
            return struct.pack("!HHHHHH", qid, 0x8400 | rd | 0x0080 | rcode, 1, 0, 0, 0) + question
        answers = b""
        count = 0
        if qtype in (1, 255) and qclass == 1:
            for ip in ips:
                answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(ip)
                count += 1
        return struct.pack("!HHHHHH", qid, 0x8400 | rd | 0x0080, 1, count, 0, 0) + question + answers

    def serve_udp(self, sock):
        while True:
            try:
                data, addr = sock.recvfrom(4096)
            except OSError:
                return
            r = self.answer(data)
            if r is not None:
                try:
                    sock.sendto(r, addr)
                except OSError:
                    pass

    def serve_tcp(self, ls):
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=self.tcp_conn, args=(conn,), daemon=True).start()

    def tcp_conn(self, conn):
        conn.settimeout(10)
        try:
            while True:
                hdr = self._read(conn, 2)
                if not hdr:
                    return
                msg = self._read(conn, struct.unpack("!H", hdr)[0])
                if msg is None:
                    return
                r = self.answer(msg)
                if r is None:
                    return
                conn.sendall(struct.pack("!H", len(r)) + r)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _read(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


NDOTS = 5


def search_list(ns, region):
    """A ClusterFirst pod's search domains (its resolv.conf's search line)."""
    return ["%s.svc.cluster.local" % ns, "svc.cluster.local", "cluster.local", "%s.compute.internal" % region]


def resolv_conf(ns, dns_ip, region):
    return ("search %s\nnameserver %s\noptions ndots:%d\n" % (" ".join(search_list(ns, region)), dns_ip, NDOTS))


def candidates(name, search):
    """The names a stub resolver with ndots:5 asks for, in order (Go's and musl's rule: fewer dots
    than ndots -> the search domains first, then the name itself; a trailing dot -> only the name)."""
    if name.endswith("."):
        return [name[:-1]]
    rooted = [name]
    searched = ["%s.%s" % (name, d) for d in search]
    return rooted + searched if name.count(".") >= NDOTS else searched + rooted


def lookup(fd, server, name, timeout):
    """The A records of name, asked of server:53 over UDP from namespace fd (the host when None):
    a list of addresses, [] for NXDOMAIN or no data.  Raises OSError when the server fails
    (SERVFAIL) or nothing answers in time (socket.timeout: a dropped query)."""
    labels = [x for x in name.strip(".").split(".")]
    if not all(0 < len(x) < 64 for x in labels):
        return []
    qid = random.randint(0, 0xFFFF)
    question = b"".join(bytes([len(x)]) + x.encode("ascii", "replace") for x in labels) + b"\0" + \
        struct.pack("!HH", 1, 1)
    s = netns.socket_in(fd, socket.AF_INET, socket.SOCK_DGRAM) if fd is not None else \
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((server, 53))
        s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question)
        while True:
            r = s.recv(4096)
            if len(r) >= 12 and struct.unpack("!H", r[:2])[0] == qid:
                break
    finally:
        s.close()
    flags, _, count = struct.unpack("!HHH", r[2:8])
    if flags & 0xF == 2:
        raise OSError("server misbehaving")
    if flags & 0xF:
        return []
    out, i = [], 12 + len(question)
    try:
        for _ in range(count):
            while r[i] and not r[i] & 0xC0:   # the owner name: labels, then a pointer or the root
                i += 1 + r[i]
            i += 2 if r[i] & 0xC0 else 1
            typ, _, _, n = struct.unpack("!HHIH", r[i:i + 10])
            if typ == 1 and n == 4:
                out.append(socket.inet_ntoa(r[i + 10:i + 14]))
            i += 10 + n
    except (IndexError, struct.error):
        raise OSError("malformed DNS answer")
    return out


def hosts_file(ip, hostname):
    return ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            "%s\t%s\n" % (ip, hostname))
