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
import socket
import struct
import threading


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


def resolv_conf(ns, dns_ip, region):
    return ("search %s.svc.cluster.local svc.cluster.local cluster.local %s.compute.internal\n"
            "nameserver %s\noptions ndots:5\n" % (ns, region, dns_ip))


def hosts_file(ip, hostname):
    return ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            "%s\t%s\n" % (ip, hostname))
