"""The pod network: network namespaces, routes, kube-proxy, NetworkPolicy, DNS, IMDS.

Owned by the kubesim suite (tests/kubesim).  With root (--pod-network auto or
netns) every kubesim builds its own little VPC out of network namespaces held
by file descriptors (netns.py: nothing named, nothing in the host's namespace,
all gone when kubesim dies, kill -9 included):

  "vpc" namespace: the router between nodes, and the control plane -- the
      control-plane ENI addresses (--control-plane-ips, also the Endpoints of
      Service default/kubernetes) where kubesim relays TCP 443 to its own API
      port, and from where it calls admission webhooks served by pods.
  one namespace per Node: its InternalIP on eth0 (to the vpc), one veth per pod
      (host side p<N>, no address, a /32 route; the VPC CNI's layout: every pod
      is one routed hop behind its node), host-network pods' processes, the
      node's kube-proxy DNAT and the NetworkPolicy rules (netpol.py, nftables),
      and a veth "imds" toward the node's metadata namespace.
  one metadata namespace per Node: 169.254.169.254 served by tests/imds's stub
      with the node group's MetadataOptions -- the token reply leaves with IP
      TTL = HttpPutResponseHopLimit, so with 1 it dies at the node's forwarding
      and only host-network processes get it.
  one namespace per pod that has packets: process pods (runner.py: the official
      Python image, the OpenFaaS classic watchdog image) and the ones kubesim
      serves itself (CoreDNS: cluster DNS; the OpenFaaS components,
      components.py).

Pod IPs come from the node's subnet (highest addresses first).  The kubelet's
probes leave from the node; the API server's webhook calls from a
control-plane address.  Nothing in these namespaces reaches the host or any
real network.  Without root the old loopback layout is used and enforcement
cannot be switched on.
"""
import hashlib
import ipaddress
import os
import socket
import threading
import time

from . import dns, netns, netpol
from .util import log

MAC = "ee:ee:ee:ee:ee:ee"
GW = "169.254.1.1"
IMDS_IP = "169.254.169.254"
CLUSTER_DOMAIN = "cluster.local"
COREDNS_IMAGES = ("eks/coredns", "coredns/coredns")
EKS_DEFAULT_METADATA = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}


def is_coredns(pod):
    return any(any(r in ((c or {}).get("image") or "") for r in COREDNS_IMAGES)
               for c in (pod.get("spec") or {}).get("containers") or [])


class _Nothing:
    """Marks a served pod without a listening port (its namespace still goes with the pod)."""

    def close(self):
        pass


# Each namespace's inode is read once, when it is made: describe() runs on the
# API server's threads while a pod's or node's teardown may be closing its fd
# (an fstat then fails with EBADF, or reads whatever file reused the number).
class NodeNet:
    def __init__(self, name, ip, idx, fd, mfd, stub, subnet, options):
        self.name, self.ip, self.idx, self.fd, self.mfd = name, ip, idx, fd, mfd
        self.stub, self.subnet, self.options = stub, subnet, options
        self.ino, self.mino = netns.inode(fd), netns.inode(mfd)


class PodNet:
    def __init__(self, uid, ip, node, fd, veth, host_network):
        self.uid, self.ip, self.node, self.fd, self.veth = uid, ip, node, fd, veth
        self.ino = netns.inode(fd)
        self.host_network = host_network
        self.servers = []
        self.process = False  # processes run in it: the runner tears it down once they are gone


class _Plumbing:
    """A pod namespace being made without the store lock (Network.setup_pod)."""

    def __init__(self, uid, pod, ip, node, veth, node_link, node_ip, node_fd, vpc_fd):
        self.uid, self.pod, self.ip, self.node, self.veth = uid, pod, ip, node, veth
        self.node_link, self.node_ip, self.node_fd, self.vpc_fd = node_link, node_ip, node_fd, vpc_fd
        self.cancelled = False  # the pod went while its namespace was being made
        self.error = None       # why the attempt failed, for the next setup_pod call to raise


class Network:
    def __init__(self, cluster, cfg):
        self.c = cluster
        self.cfg = cfg
        mode = getattr(cfg, "pod_network", "auto") or "auto"
        self.why = None
        if mode != "loopback":
            self.why = netns.unavailable_reason()
            if mode == "netns" and self.why:
                raise SystemExit("kubesim: --pod-network netns: %s" % self.why)
        self.enabled = mode != "loopback" and self.why is None
        if mode == "loopback":
            self.why = "--pod-network loopback"
        self.enforce = getattr(cfg, "network_policy", "off") == "enforce"
        self.vpc = None
        self.nodes = {}         # name -> NodeNet
        self.pods = {}          # uid -> PodNet (pods with packets)
        self.ips = {}           # uid -> allocated pod IP (every pod once scheduled)
        self.plumbing = {}      # uid -> _Plumbing: a pod namespace being made (setup_pod)
        self.faults = None      # the Sim: its sandbox faults (server.py sandbox_fault, held)
        self.seq = 0
        self.node_seq = 0
        self.applied = {}       # node name -> ruleset text loaded
        self.applied_rv = 0
        self.refresh_seconds = 0.0
        self.seen_rv = -1
        self.errors = []
        self.dns = dns.Resolver(CLUSTER_DOMAIN)
        self.api_port = None
        self.closing = False
        self.plock = threading.Lock()

    # ---- addresses -------------------------------------------------------------------

    def control_plane_ips(self):
        return list(self.cfg.control_plane_ips)

    def used_ips(self):
        used = set(self.ips.values()) | set(self.control_plane_ips())
        used |= {n.ip for n in self.nodes.values()}
        return used

    def alloc(self, uid, node_name, node_ip, subnet=None):
        """The pod's IP, from its node's subnet, highest free address first (the subnet's first three
        hosts and its last one are AWS's, as in a VPC subnet, once it has more than eight)."""
        if uid in self.ips:
            return self.ips[uid]
        nn = self.nodes.get(node_name)
        net = ipaddress.ip_network(subnet or (nn.subnet if nn else None) or "%s/24" % node_ip, strict=False)
        used = self.used_ips()
        first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
        if net.num_addresses <= 2:  # a /31 or /32: every address is a host
            first, last = int(net.network_address), int(net.broadcast_address)
        if last - first + 1 > 8:
            first, last = first + 3, last - 1
        # Counting down from the top, never listing the subnet's hosts: a /16 has 65534 of them.
        for a in range(last, first - 1, -1):
            s = str(ipaddress.ip_address(a))
            if s not in used:
                self.ips[uid] = s
                return s
        raise RuntimeError("no free pod IP in %s" % net)

    def release(self, uid):
        self.ips.pop(uid, None)

    # ---- the vpc ----------------------------------------------------------------------

    def start(self, api_port):
        self.api_port = api_port
        if not self.enabled:
            return
        self.vpc = netns.new_netns()
        cmds = ["link set lo up"] + ["addr add %s/32 dev lo" % ip for ip in self.control_plane_ips()]
        netns.ip(self.vpc, cmds)
        netns.sysctl(self.vpc, "net.ipv4.ip_forward", 1)
        for ip in self.control_plane_ips():
            s = netns.socket_in(self.vpc)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, 443))
            s.listen(128)
            threading.Thread(target=self.relay_accept, args=(s,), name="api-relay-" + ip, daemon=True).start()

    def relay_accept(self, ls):
        """The control plane's 443: a TCP relay to kubesim's own API port (TLS passes through)."""
        while not self.closing:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.api_port), timeout=10)
                up.settimeout(None)
            except OSError:
                conn.close()
                continue
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            try:
                a.close()
            except OSError:
                pass

    # ---- nodes ------------------------------------------------------------------------

    def sync_nodes(self, want):
        """want: {node name: (ip, subnet or None, MetadataOptions)}; creates/removes node namespaces."""
        if not self.enabled:
            return
        for name in [n for n in self.nodes if n not in want]:
            self.remove_node(name)
        for name, (ip, subnet, opts) in want.items():
            nn = self.nodes.get(name)
            opts = dict(EKS_DEFAULT_METADATA, **(opts or {}))
            if nn is None:
                try:
                    self.add_node(name, ip, subnet, opts)
                except OSError as e:
                    self.error("node %s: %s" % (name, e))
            elif nn.options != opts:
                nn.options = opts
                self.configure_stub(nn)

    def add_node(self, name, ip, subnet, opts):
        self.node_seq += 1
        idx = self.node_seq
        fd, mfd = netns.new_netns(), netns.new_netns()
        try:
            netns.ip(self.vpc, ["link add n%d address %s type veth peer name eth0 netns %s" % (idx, MAC, netns.path(fd)),
                                "link set n%d up" % idx, "route add %s/32 dev n%d scope link" % (ip, idx)])
            netns.ip(fd, ["link set lo up", "addr add %s/32 dev eth0" % ip, "link set eth0 up",
                          "neigh add %s lladdr %s dev eth0 nud permanent" % (GW, MAC),
                          "route add %s dev eth0 scope link" % GW, "route add default via %s dev eth0" % GW,
                          "link add imds address %s type veth peer name eth0 netns %s" % (MAC, netns.path(mfd)),
                          "link set imds up", "route add %s/32 dev imds scope link" % IMDS_IP])
            netns.ip(mfd, ["link set lo up", "addr add %s/32 dev eth0" % IMDS_IP, "link set eth0 up",
                           "neigh add %s lladdr %s dev eth0 nud permanent" % (GW, MAC),
                           "route add %s dev eth0 scope link" % GW, "route add default via %s dev eth0" % GW])
            netns.sysctl(fd, "net.ipv4.ip_forward", 1)
        except OSError:
            os.close(fd)
            os.close(mfd)
            raise
        nn = NodeNet(name, ip, idx, fd, mfd, None, subnet, opts)
        nn.nft = netns.Nft(fd)
        self.nodes[name] = nn
        self.configure_stub(nn)
        self.seen_rv = -1

    def configure_stub(self, nn):
        """The node's metadata service, with the node group's MetadataOptions."""
        import sys
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if os.path.join(here, "imds") not in sys.path:
            sys.path.insert(0, os.path.join(here, "imds"))
        from imds_stub import ImdsStub
        o = nn.options
        if nn.stub is not None:
            nn.stub.stop()
            nn.stub = None
        hop = int(o.get("HttpPutResponseHopLimit") or 1)
        stub = ImdsStub(bind=IMDS_IP, port=80, hop_limit=max(1, min(64, hop)),
                        http_tokens=o.get("HttpTokens") or "optional",
                        http_endpoint=o.get("HttpEndpoint") or "enabled",
                        role=o.get("role") or "eks-node-role", region=self.cfg.region,
                        instance_id=o.get("instanceId"))
        # http.server's bind looks up the address's FQDN: from inside the metadata namespace there
        # is no resolver to ask, and waiting out the resolver's timeouts would stall the node's start
        real_getfqdn = socket.getfqdn
        socket.getfqdn = lambda name="": name
        try:
            with netns.entered(nn.mfd):
                stub.start()
        finally:
            socket.getfqdn = real_getfqdn
        nn.stub = stub

    def remove_node(self, name):
        nn = self.nodes.pop(name, None)
        if nn is None:
            return
        if nn.stub is not None:
            nn.stub.stop()
        try:
            netns.ip(self.vpc, ["link del n%d" % nn.idx])
        except OSError:
            pass
        nn.nft.close()
        os.close(nn.fd)
        os.close(nn.mfd)
        self.applied.pop(name, None)

    # ---- pods --------------------------------------------------------------------------

    def has_presence(self, ip):
        return any(p.ip == ip and not p.host_network for p in self.pods.values())

    def setup_pod(self, pod, node_name, node_ip):
        """Give a pod its packets: its own namespace behind the node (or the node's, for
        hostNetwork).  Returns the PodNet once the namespace is plumbed, else None: the plumbing
        (new namespaces and three `ip` runs, tens of milliseconds) is done by a thread of its own
        without the store lock, as a kubelet's sandbox set-up never holds up the API server; the
        caller asks again on its next pass.  Raises RuntimeError when the last attempt failed (the
        next call tries again)."""
        uid = pod["metadata"]["uid"]
        pn = self.pods.get(uid)
        if pn is not None:
            return pn
        job = self.plumbing.get(uid)
        if job is not None:
            if job.error is None:
                return None
            del self.plumbing[uid]
            raise RuntimeError(job.error)
        nn = self.nodes.get(node_name)
        if nn is None:
            raise RuntimeError("node %s has no network namespace" % node_name)
        if (pod.get("spec") or {}).get("hostNetwork"):
            pn = PodNet(uid, nn.ip, node_name, nn.fd, None, True)
            self.pods[uid] = pn
            return pn
        ip = self.alloc(uid, node_name, node_ip)
        self.seq += 1
        # Own references to the node's and the vpc's namespaces: the node may go (its descriptor
        # closed, the number reused) while the thread works.
        md = pod["metadata"]
        dups = []
        try:
            dups.append(os.dup(nn.fd))
            dups.append(os.dup(self.vpc))
            job = _Plumbing(uid, "%s/%s" % (md.get("namespace"), md.get("name")), ip, node_name, "p%d" % self.seq,
                            "n%d" % nn.idx, nn.ip, dups[0], dups[1])
            self.plumbing[uid] = job
            threading.Thread(target=self._plumb, args=(job,), name="plumb-" + job.veth, daemon=True).start()
        except (OSError, RuntimeError) as e:  # no descriptor or no thread: nothing was started
            self.plumbing.pop(uid, None)
            for d in dups:
                os.close(d)
            raise RuntimeError("cannot start the pod's network set-up: %s" % e)
        return None

    def _plumb(self, job):
        """The pod's namespace, its veth to the node and the routes to it (store lock not held),
        then, under the lock, the pod's network; or, when the pod went meanwhile, the undoing (again
        without the lock) before its address is freed."""
        fd, routed, err = None, False, None
        try:
            try:
                self.sandbox_fault(job)
                if not job.cancelled:
                    fd = netns.new_netns()
                    netns.ip(job.node_fd, ["link add %s address %s type veth peer name eth0 netns %s"
                                           % (job.veth, MAC, netns.path(fd)), "link set %s up" % job.veth,
                                           "route add %s/32 dev %s scope link" % (job.ip, job.veth)])
                    netns.ip(fd, ["link set lo up", "addr add %s/32 dev eth0" % job.ip, "link set eth0 up",
                                  "neigh add %s lladdr %s dev eth0 nud permanent" % (GW, MAC),
                                  "route add %s dev eth0 scope link" % GW, "route add default via %s dev eth0" % GW])
                    netns.ip(job.vpc_fd, ["route add %s/32 via %s dev %s" % (job.ip, job.node_ip, job.node_link)])
                    routed = True
            except Exception as e:  # whatever it is (an ip run timing out too), the attempt failed
                err = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)) or e.__class__.__name__
            with self.c.lock:
                if self.plumbing.get(job.uid) is job and not job.cancelled:
                    if err is None:
                        del self.plumbing[job.uid]
                        self.pods[job.uid] = PodNet(job.uid, job.ip, job.node, fd, job.veth, False)
                        fd = None
                        # the pod's rules are in place before anything in it can send a packet
                        try:
                            self.refresh(force=True)
                        except Exception as e:  # a bug here must not stop the bookkeeping
                            self.error("rules after pod %s's namespace: %s" % (job.uid, e))
                    else:
                        job.error = err
                    return
            # The pod went: its route goes before its address can be handed to another pod (the
            # entry in self.plumbing keeps the address taken until then).
            if routed:
                try:
                    netns.ip(job.vpc_fd, ["route del %s/32" % job.ip])
                except Exception:
                    pass
            with self.c.lock:
                if self.plumbing.get(job.uid) is job:
                    del self.plumbing[job.uid]
                    if job.uid not in self.pods:
                        self.release(job.uid)
        finally:
            # the pod's namespace, when it is not the pod's now (its veth goes with it)
            for d in (fd, job.node_fd, job.vpc_fd):
                if d is not None:
                    try:
                        os.close(d)
                    except OSError:
                        pass

    def sandbox_fault(self, job):
        """A sandbox fault injected for this pod (README, admin API): held until the faults are
        cleared, delayed, and/or failed as the VPC CNI fails an ADD."""
        f = self.faults.sandbox_fault(*job.pod.split("/", 1)) if self.faults is not None else None
        if f is None:
            return
        if f.get("hold"):
            self.faults.held(f, lambda: job.cancelled or self.closing)
        if f.get("delay") and not job.cancelled:
            time.sleep(float(f["delay"]))
        if f.get("message") is not None:
            sandbox = hashlib.sha256(job.uid.encode()).hexdigest()
            raise netns.NetnsError(0, 'rpc error: code = Unknown desc = failed to setup network for sandbox "%s": '
                                      'plugin type="aws-cni" name="aws-cni" failed (add): %s' % (sandbox, f["message"]))

    def teardown_pod(self, uid):
        pn = self.pods.pop(uid, None)
        self.release(uid)
        if pn is None or pn.host_network:
            return
        for s in pn.servers:
            try:
                s.close()
            except OSError:
                pass
        try:
            netns.ip(self.vpc, ["route del %s/32" % pn.ip])
        except OSError:
            pass
        try:
            os.close(pn.fd)
        except OSError:
            pass
        self.seen_rv = -1

    def sync(self, live_uids):
        for uid in [u for u in self.pods if u not in live_uids]:
            pn = self.pods.get(uid)
            if pn is not None and pn.process:
                continue  # the runner tears it down once its processes are gone
            self.teardown_pod(uid)
        for uid in [u for u in self.plumbing if u not in live_uids]:
            job = self.plumbing[uid]
            if job.error is not None:
                del self.plumbing[uid]
            else:
                job.cancelled = True  # its thread undoes the namespace, then frees the address
        for uid in [u for u in self.ips if u not in live_uids and u not in self.pods and u not in self.plumbing]:
            self.release(uid)

    def serve_pod(self, pod, node_name, node_ip, start):
        """A pod kubesim answers for itself (an OpenFaaS component, components.py): its namespace,
        and start(pn) -> the listeners it serves there (closed with the pod).  None while its
        namespace is being made (setup_pod)."""
        pn = self.setup_pod(pod, node_name, node_ip)
        if pn is not None and not pn.servers:
            pn.servers = list(start(pn)) or [_Nothing()]
        return pn

    def serve_dns(self, pod, node_name, node_ip):
        """A CoreDNS pod: kubesim answers on its port 53 (UDP and TCP) inside its namespace.  None
        while its namespace is being made (setup_pod)."""
        pn = self.setup_pod(pod, node_name, node_ip)
        if pn is None or pn.servers:
            return pn
        u = netns.socket_in(pn.fd, socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 53))
        t = netns.socket_in(pn.fd)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("0.0.0.0", 53))
        t.listen(64)
        pn.servers = [u, t]
        threading.Thread(target=self.dns.serve_udp, args=(u,), daemon=True, name="dns-udp").start()
        threading.Thread(target=self.dns.serve_tcp, args=(t,), daemon=True, name="dns-tcp").start()
        return pn

    # ---- connections made by kubesim itself ----------------------------------------------

    def connect_from_node(self, node_name, addr, timeout):
        nn = self.nodes.get(node_name)
        if nn is None:
            raise ConnectionRefusedError("node %s has no network" % node_name)
        return netns.connect_in(nn.fd, addr, timeout)

    def connect_from_control_plane(self, addr, timeout):
        cps = self.control_plane_ips()
        return netns.connect_in(self.vpc, addr, timeout, source=cps[0] if cps else None)

    def probe(self, src_fd, host, port, protocol, timeout):
        """One connection attempt from namespace src_fd (what `kubectl exec ... connect` would do):
        TCP connects; UDP sends a datagram and waits for the echo.  Returns (ok, error)."""
        proto = (protocol or "TCP").upper()
        try:
            if proto == "UDP":
                s = netns.socket_in(src_fd, socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    s.settimeout(timeout)
                    s.connect((host, port))
                    s.send(b"kubesim-probe")
                    s.recv(512)
                finally:
                    s.close()
            else:
                netns.connect_in(src_fd, (host, port), timeout).close()
            return True, ""
        except socket.timeout:
            return False, "i/o timeout"
        except ConnectionRefusedError:
            return False, "connection refused"
        except OSError as e:
            return False, (e.strerror or str(e)).lower()

    def source_fd(self, uid=None, node=None):
        if uid is not None:
            pn = self.pods.get(uid)
            return pn.fd if pn else None
        nn = self.nodes.get(node)
        return nn.fd if nn else None

    # ---- rules ---------------------------------------------------------------------------

    def snapshot(self):
        """PodInfo for every pod with an IP, namespaces' labels, policies, services, Endpoints."""
        st = self.c.store
        pods = []
        for p in st.list(("", "pods")):
            md, spec, status = p["metadata"], p.get("spec") or {}, p.get("status") or {}
            if md.get("deletionTimestamp"):
                continue
            pn = self.pods.get(md["uid"])
            ip = pn.ip if pn else status.get("podIP")
            ports = [(cp.get("name"), cp.get("protocol") or "TCP", cp.get("containerPort"))
                     for c in spec.get("containers") or [] for cp in c.get("ports") or [] if isinstance(cp, dict)]
            ready = status.get("phase") == "Running" and any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            pods.append(netpol.PodInfo(md["uid"], md.get("namespace"), md["name"], md.get("labels"), ip,
                                       spec.get("nodeName"), bool(spec.get("hostNetwork")), ports, ready,
                                       pn.veth if pn else None))
        namespaces = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in st.list(("", "namespaces"))}
        policies = st.list(("networking.k8s.io", "networkpolicies"))
        by_ns = {}
        for p in pods:
            by_ns.setdefault(p.ns, []).append(p)
        services = []
        for s in st.list(("", "services")):
            ep = st.get(("", "endpoints"), s["metadata"]["namespace"], s["metadata"]["name"])
            services.append((s, netpol.service_endpoints(s, by_ns, ep)))
        return pods, namespaces, policies, services

    def refresh(self, force=False):
        """Recompile and load every node's rules when the store changed (store lock held)."""
        rv = self.c.store.rv
        if not self.enabled or (rv == self.seen_rv and not force):
            return
        self.seen_rv = rv
        t0 = time.monotonic()
        pods, namespaces, policies, services = self.snapshot()
        self.dns.update(services, pods, self.nodes, self.cfg.region)
        model = netpol.Model(pods, namespaces, policies)
        flat = [x for _, lst in services for x in lst]
        for name, nn in self.nodes.items():
            local = [p for p in pods if p.node == name and p.veth]
            text = netpol.ruleset(name, model, flat, self.enforce, nn.ip, local)
            if self.applied.get(name) == text:
                continue
            try:
                nn.nft.apply(text)
                self.applied[name] = text
            except OSError as e:
                self.error("nft on node %s: %s" % (name, e))
        self.applied_rv = rv
        self.refresh_seconds = time.monotonic() - t0

    def set_enforce(self, on):
        self.enforce = bool(on)
        self.refresh(force=True)

    def error(self, msg):
        log("network: " + msg)
        self.errors.append(msg)
        del self.errors[:-50]

    def describe(self):
        out = {"mode": "netns" if self.enabled else "loopback", "enforce": self.enforce,
               "appliedResourceVersion": str(self.applied_rv), "lastRefreshSeconds": round(self.refresh_seconds, 3),
               "serviceCIDR": self.cfg.service_cidr,
               "controlPlaneIPs": self.control_plane_ips(), "errors": list(self.errors)}
        if not self.enabled:
            out["why"] = self.why
            return out
        out["vpcNetns"] = netns.inode(self.vpc)
        out["nodes"] = {n: {"ip": nn.ip, "netns": nn.ino, "imdsNetns": nn.mino,
                            "metadataOptions": nn.options} for n, nn in list(self.nodes.items())}
        out["pods"] = {uid: {"ip": pn.ip, "node": pn.node, "netns": pn.ino,
                             "hostNetwork": pn.host_network} for uid, pn in list(self.pods.items())}
        out["sandboxesInProgress"] = {uid: {"pod": j.pod, "ip": j.ip, "node": j.node, "error": j.error}
                                      for uid, j in list(self.plumbing.items())}
        out["addresses"] = dict(self.ips)
        return out

    def shutdown(self):
        self.closing = True
        for nn in list(self.nodes.values()):
            if nn.stub is not None:
                try:
                    nn.stub.stop()
                except OSError:
                    pass
