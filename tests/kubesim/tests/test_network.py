"""The pod network on real packets: NetworkPolicy (the upstream conformance cases
as data, netpol_cases.py), the enforcement switch, Service DNAT, cluster DNS,
the kubernetes Service, instance metadata hop limits, and kill -9 leaving
nothing behind.  Imported by test_kubesim.py; needs root, ip and nft (a
missing prerequisite is a failure, never a skip)."""
import copy
import ipaddress
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import netpol_cases
from harness import group, wait_for
from ksim import netns as ksim_netns

SERVER = r"""
import socket, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        d, a = s.recvfrom(512); s.sendto(d, a)
for p in (80, 81):
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
    threading.Thread(target=udp, args=(p,), daemon=True).start()
print("serving", flush=True)
threading.Event().wait()
"""
PORTS = [{"name": "serve-80-tcp", "containerPort": 80, "protocol": "TCP"},
         {"name": "serve-81-tcp", "containerPort": 81, "protocol": "TCP"},
         {"name": "serve-80-udp", "containerPort": 80, "protocol": "UDP"},
         {"name": "serve-81-udp", "containerPort": 81, "protocol": "UDP"}]
DENIED_AFTER = 0.3   # a probe not through by then counts as dropped; an expected success gets a second, long try


def prerequisites():
    if os.geteuid() != 0:
        raise AssertionError("the pod network needs root (network namespaces); run the suite as root, as CI does")
    for b in ("ip", "nft"):
        if shutil.which(b) is None:
            raise AssertionError("%s is missing: install with make deps (packages iproute2, nftables)" % b)


def server_pod(name, ns, labels=None, node_group=None):
    spec = {"containers": [{"name": "srv", "image": "python:3.12", "command": ["python3", "-c", SERVER],
                            "ports": copy.deepcopy(PORTS),
                            "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1}}]}
    if node_group:
        spec["nodeSelector"] = {"eks.amazonaws.com/nodegroup": node_group}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns,
                                                          "labels": labels or {"pod": name}}, "spec": spec}


def ready(o):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (o.get("status") or {}).get("conditions") or [])


class Net:
    def __init__(self, k):
        self.k = k
        self.ips = {}

    def wait_applied(self, rv=None):
        """Until the rules loaded into the nodes reflect the store at rv (default: now)."""
        if rv is None:
            rv = int(self.k.ok("GET", "/_kubesim/network-policy", token="")["resourceVersion"])
        deadline = time.monotonic() + 30
        while int(self.k.ok("GET", "/_kubesim/network-policy", token="")["appliedResourceVersion"]) < rv:
            if time.monotonic() > deadline:
                raise AssertionError("network rules did not catch up with resourceVersion %d" % rv)
            time.sleep(0.02)

    def probe(self, pairs, port, proto, timeout=DENIED_AFTER):
        probes = [{"from": f, "host": self.ips[t], "port": port, "protocol": proto, "timeout": timeout}
                  for f, t in pairs]
        return [r["ok"] for r in self.k.ok("POST", "/_kubesim/connect", {"probes": probes}, token="")["results"]]

    def matrix(self, pods, port, proto, want):
        pairs = sorted(want)
        got = dict(zip(pairs, self.probe(pairs, port, proto)))
        # a success slowed down by a busy machine is not a denial: expected successes get a long second try
        slow = [p for p in pairs if want[p] and not got[p]]
        if slow:
            got.update(zip(slow, self.probe(slow, port, proto, timeout=10)))
        bad = [p for p in pairs if got[p] != want[p]]
        if bad:
            table = "\n".join("  %s -> %s: want %s got %s" % (f, t, want[(f, t)], got[(f, t)]) for f, t in bad)
            raise AssertionError("%d/%s: reachability differs:\n%s" % (port, proto, table))


def create_servers(k, net, names, node_group=None):
    for full in names:
        ns, name = full.split("/")
        k.ok("POST", "/api/v1/namespaces/%s/pods" % ns, server_pod(name, ns, node_group=node_group))
    for full in names:
        ns, name = full.split("/")
        p = k.watch_until("/api/v1/namespaces/%s/pods" % ns, ready, field_name=name, timeout=60)
        net.ips[full] = p["status"]["podIP"]


def resolve_cidrs(obj, ips):
    """'@x/b/32' -> that pod's IP with that mask (the conformance tests build CIDRs from pod IPs)."""
    if isinstance(obj, dict):
        return {k: resolve_cidrs(v, ips) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_cidrs(v, ips) for v in obj]
    if isinstance(obj, str) and obj.startswith("@"):
        pod, mask = obj[1:].rsplit("/", 1)
        return str(ipaddress.ip_network("%s/%s" % (ips[pod], mask), strict=False))
    return obj


def reset(k, labelled=()):
    """Delete every policy of x, y, z; take back the labels a case added (labelled: [(kind, name, keys)])."""
    for ns in ("x", "y", "z"):
        k.ok("DELETE", "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % ns)
    for kind, name, keys in labelled:
        path = "/api/v1/namespaces/" + name if kind == "label-ns" else "/api/v1/namespaces/%s/pods/%s" % tuple(
            name.split("/"))
        k.ok("PATCH", path, json.dumps({"metadata": {"labels": {key: None for key in keys}}}),
             ctype="application/merge-patch+json")


def t_setup(k, aws, net):
    prerequisites()
    aws.set_groups([group("system", 2)])
    k.watch_until("/api/v1/nodes", lambda o: True)
    st = k.ok("GET", "/_kubesim/state", token="")["network"]
    assert st["mode"] == "netns", st
    for ns in ("x", "y", "z"):
        k.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    create_servers(k, net, ["%s/%s" % (ns, p) for ns in ("x", "y", "z") for p in ("a", "b", "c")])
    nodes = {p["spec"]["nodeName"] for ns in ("x", "y", "z")
             for p in k.ok("GET", "/api/v1/namespaces/%s/pods" % ns)["items"]}
    assert len(nodes) == 2, nodes  # traffic crosses the vpc between nodes too


def t_sandboxes(k):
    """A pod's sandbox (its namespace, veth and routes) is made off the API server's path, as a
    kubelet's CNI ADD is: while one is held, the API answers at once and another pod starts; a pod
    deleted meanwhile leaves no namespace or address; a failed ADD is an event and is tried again."""
    k.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sb"}})
    pods = "/api/v1/namespaces/sb/pods"

    def net():
        return k.ok("GET", "/_kubesim/state", token="")["network"]

    def taken(name):
        return any(f.get("sandbox") == "sb/" + name and f.get("hits")
                   for f in k.ok("GET", "/_kubesim/faults", token=""))
    try:
        for bad in ({"sandbox": "sb/held", "delay": "soon"}, {"sandbox": "sb/held", "hold": "yes"},
                    {"sandbox": "sb/held", "path": "/api/v1/pods"}):
            code, st, _ = k.call("POST", "/_kubesim/faults", bad, token="")
            assert code == 400 and "bad fault" in st.get("message", ""), (bad, code, st)
        assert k.ok("GET", "/_kubesim/faults", token="") == []
        k.ok("POST", "/_kubesim/faults", {"sandbox": "sb/held", "hold": True}, token="")
        held = k.ok("POST", pods, server_pod("held", "sb"))["metadata"]["uid"]
        wait_for("the held pod's set-up to start", lambda: taken("held"), timeout=30, interval=0.02)
        # The set-up is held: with it under the store lock these would wait for the hold (forever).
        k.ok("GET", pods + "/held", timeout=10)
        quick = k.ok("POST", pods, server_pod("quick", "sb"), timeout=10)
        p = k.watch_until(pods, ready, field_name="quick", timeout=60)
        assert p["status"].get("podIP"), p["status"]
        st = k.ok("GET", pods + "/held")["status"]
        waiting = [c["state"].get("waiting", {}).get("reason") for c in st.get("containerStatuses") or []]
        assert st["phase"] == "Pending" and not st.get("podIP") and waiting == ["ContainerCreating"], st
        inflight = net()["sandboxesInProgress"]
        assert inflight.get(held, {}).get("pod") == "sb/held" and inflight[held]["error"] is None, inflight
        assert quick["metadata"]["uid"] not in inflight, inflight
        k.ok("DELETE", "/_kubesim/faults", token="")
        p = k.watch_until(pods, ready, field_name="held", timeout=60)
        assert net()["pods"][held]["ip"] == p["status"]["podIP"], (net()["pods"].get(held), p["status"])

        # Deleted while its set-up is held: the namespace is undone and the address freed.
        k.ok("POST", "/_kubesim/faults", {"sandbox": "sb/gone", "hold": True}, token="")
        gone = k.ok("POST", pods, server_pod("gone", "sb"))["metadata"]["uid"]
        wait_for("the deleted pod's set-up to start", lambda: taken("gone"), timeout=30, interval=0.02)
        ip = net()["addresses"].get(gone)
        assert ip and net()["sandboxesInProgress"].get(gone, {}).get("ip") == ip, net()
        k.ok("DELETE", pods + "/gone?gracePeriodSeconds=0")
        k.watch_gone(pods, "gone")
        wait_for("the deleted pod's namespace and address to go",
                 lambda: (lambda n: gone not in n["sandboxesInProgress"] and gone not in n["pods"]
                          and gone not in n["addresses"])(net()), timeout=30, interval=0.02)
        assert ip not in net()["addresses"].values(), net()["addresses"]
        k.ok("DELETE", "/_kubesim/faults", token="")

        # A failed ADD: an event with the CNI's words, then the next attempt succeeds.
        why = "add cmd: failed to assign an IP address to container"
        k.ok("POST", "/_kubesim/faults", {"sandbox": "sb/flaky", "message": why, "times": 1}, token="")
        k.ok("POST", pods, server_pod("flaky", "sb"))
        k.watch_until(pods, ready, field_name="flaky", timeout=60)
        evs = [e for e in k.ok("GET", "/api/v1/namespaces/sb/events")["items"]
               if e["involvedObject"]["name"] == "flaky" and e["reason"] == "FailedCreatePodSandBox"]
        assert len(evs) == 1 and evs[0]["type"] == "Warning", evs
        msg = evs[0]["message"]
        assert msg.startswith("Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup "
                              "network for sandbox ") and msg.endswith('failed (add): ' + why), msg
    finally:
        k.call("DELETE", "/_kubesim/faults", token="")
        k.call("DELETE", "/api/v1/namespaces/sb")


def t_plumbing_failures():
    """The thread making a pod's namespace ends in its bookkeeping whatever fails: an ip run that
    times out is the pod's set-up error (the next pass raises it and tries again), and a pod gone
    meanwhile has its address freed; the descriptors it was lent are closed either way."""
    import threading
    import types
    from ksim import network as ksim_network

    def fake(cancelled):
        net = ksim_network.Network.__new__(ksim_network.Network)
        net.c = types.SimpleNamespace(lock=threading.RLock())
        net.plumbing, net.pods, net.ips, net.faults, net.closing = {}, {}, {"u1": "10.0.0.253"}, None, False
        r, w = os.pipe()
        job = ksim_network._Plumbing("u1", "x/p", "10.0.0.253", "node-1", "p1", "n1", "10.0.0.10", r, w)
        job.cancelled = cancelled
        net.plumbing["u1"] = job
        return net, job

    def closed(fd):
        try:
            os.fstat(fd)
            return False
        except OSError:
            return True

    def slow_ip():
        raise subprocess.TimeoutExpired(["ip", "-batch", "-"], 30)
    real = ksim_netns.new_netns
    ksim_netns.new_netns = slow_ip
    try:
        net, job = fake(False)
        net._plumb(job)
        assert net.plumbing.get("u1") is job and "timed out" in (job.error or ""), (net.plumbing, job.error)
        assert closed(job.node_fd) and closed(job.vpc_fd) and net.ips == {"u1": "10.0.0.253"} and not net.pods
        try:
            net.setup_pod({"metadata": {"uid": "u1", "namespace": "x", "name": "p"}}, "node-1", "10.0.0.10")
            raise AssertionError("a failed set-up was not raised")
        except RuntimeError as e:
            assert "timed out" in str(e), e
        assert "u1" not in net.plumbing
        net, job = fake(True)
        net._plumb(job)
        assert not net.plumbing and not net.ips and not net.pods, (net.plumbing, net.ips)
        assert closed(job.node_fd) and closed(job.vpc_fd)
    finally:
        ksim_netns.new_netns = real


def t_enforcement_switch(k, net):
    """Off (EKS without the network policy agent): policies are accepted and not enforced."""
    assert k.ok("GET", "/_kubesim/network-policy", token="")["enforce"] is False
    name, spec = netpol_cases.DENY_IN
    k.ok("POST", "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies",
         {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec})
    net.wait_applied()
    pods = ["x/a", "y/a"]
    net.matrix(pods, 80, "TCP", netpol_cases.expected(pods, []))
    r = k.ok("POST", "/_kubesim/network-policy", {"enforce": True}, token="")
    assert r["enforce"] is True and r["mode"] == "netns", r
    net.matrix(pods, 80, "TCP", netpol_cases.expected(pods, [("peer", "*", "x", False)]))
    code, body, _ = k.call("POST", "/_kubesim/network-policy", {"enforce": "yes"}, token="")
    assert code == 400, body
    reset(k)
    net.wait_applied()


def run_case(k, net, case):
    name, pods, steps = case
    labelled = [(a[0], a[1], list(a[2])) for actions, _ in steps for a in actions if a[0].startswith("label-")]
    try:
        for actions, probes in steps:
            for act in actions:
                if act[0] in ("create", "update"):
                    ns, (pname, spec) = act[1], act[2]
                    body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                            "metadata": {"name": pname}, "spec": resolve_cidrs(spec, net.ips)}
                    base = "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % ns
                    if act[0] == "create":
                        k.ok("POST", base, body)
                    else:
                        k.ok("PATCH", base + "/" + pname + "?fieldManager=test&force=true", json.dumps(body),
                             ctype="application/apply-patch+yaml")
                elif act[0] == "label-ns":
                    k.ok("PATCH", "/api/v1/namespaces/" + act[1], json.dumps({"metadata": {"labels": act[2]}}),
                         ctype="application/merge-patch+json")
                elif act[0] == "label-pod":
                    ns, pname = act[1].split("/")
                    k.ok("PATCH", "/api/v1/namespaces/%s/pods/%s" % (ns, pname),
                         json.dumps({"metadata": {"labels": act[2]}}), ctype="application/merge-patch+json")
                elif act[0] == "delete-policies":
                    reset(k)
            net.wait_applied()
            for (port, proto), exps in probes:
                net.matrix(pods, port, proto, netpol_cases.expected(pods, exps))
    finally:
        reset(k, labelled)
        net.wait_applied()


def t_conformance(k, net):
    failures = []
    for case in netpol_cases.CASES:
        try:
            run_case(k, net, case)
        except AssertionError as e:
            failures.append("%s: %s" % (case[0], e))
    assert not failures, "\n".join(failures)


def t_policy_validation(k):
    base = "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies"
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "bad"},
           "spec": {"podSelector": {}, "egress": [{"ports": [{"port": "http", "endPort": 90}, {"endPort": 9},
                                                             {"port": 90, "endPort": 80, "protocol": "ICMP"}],
                                                   "to": [{"ipBlock": {"cidr": "10.0.0.0/16",
                                                                       "except": ["10.1.0.0/24"]},
                                                           "podSelector": {}}, {}]}]}}
    code, body, _ = k.call("POST", base, bad)
    assert code == 422, body
    fields = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert fields["spec.egress[0].ports[0].endPort"] == \
        "Invalid value: 90: may not be specified when `port` is non-numeric", fields
    assert fields["spec.egress[0].ports[1].endPort"] == \
        "Invalid value: 9: may not be specified when `port` is not specified", fields
    assert fields["spec.egress[0].ports[2].endPort"] == "Invalid value: 80: must be greater than or equal to `port`"
    assert fields["spec.egress[0].ports[2].protocol"].startswith('Unsupported value: "ICMP"'), fields
    assert fields["spec.egress[0].to[0]"] == "Forbidden: may not specify both ipBlock and another peer", fields
    assert fields["spec.egress[0].to[0].ipBlock.except[0]"] == \
        'Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`', fields
    assert fields["spec.egress[0].to[1]"] == "Required value: must specify a peer", fields
    ok = k.ok("POST", base, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "d"},
                             "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}})
    assert ok["spec"]["policyTypes"] == ["Ingress", "Egress"], ok  # defaulted by the API server
    assert ok["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP", ok
    k.ok("DELETE", base + "/d")


LOOKUP = r"""
import json, socket, struct, sys
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = sorted({a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)})
    except socket.gaierror as e:
        out[name] = "error: %s" % e.strerror
def raw(name, server):
    q = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"".join(
        bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.sendto(q, (server, 53))
    return struct.unpack("!HH", s.recv(512)[:4])[1] & 0xF
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
out["rcode-nxdomain"] = raw("nothing.x.svc.cluster.local", ns)
out["nameserver"] = ns
out["hostname"] = socket.gethostname()
print(json.dumps(out), flush=True)
"""


def t_services_and_dns(k, net):
    """ClusterIP DNAT (judged after translation), a Service without endpoints refuses, the kubernetes
    Service reaches the API server, cluster DNS (FQDN, search path, NXDOMAIN) from the kube-dns Service IP."""
    svc = k.ok("POST", "/api/v1/namespaces/y/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"pod": "b"}, "ports": [{"name": "http", "port": 8080, "targetPort": "serve-80-tcp"}]}})
    empty = k.ok("POST", "/api/v1/namespaces/y/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "nobody"},
        "spec": {"selector": {"pod": "nobody"}, "ports": [{"port": 8080}]}})
    kube = k.ok("GET", "/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"]
    net.wait_applied()
    probes = [{"from": "x/a", "host": svc["spec"]["clusterIP"], "port": 8080, "protocol": "TCP", "timeout": 10},
              {"from": "x/a", "host": empty["spec"]["clusterIP"], "port": 8080, "protocol": "TCP", "timeout": 10},
              {"from": "x/a", "host": kube, "port": 443, "protocol": "TCP", "timeout": 10}]
    r = k.ok("POST", "/_kubesim/connect", {"probes": probes}, token="")["results"]
    assert r[0]["ok"] and not r[1]["ok"] and r[1]["error"] == "connection refused" and r[2]["ok"], r
    # a policy on the backend judges the translated packet: x/a may no longer reach web's pod
    k.ok("POST", "/apis/networking.k8s.io/v1/namespaces/y/networkpolicies", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "only-y"},
        "spec": {"podSelector": {"matchLabels": {"pod": "b"}},
                 "ingress": [{"from": [{"podSelector": {}}]}]}})
    net.wait_applied()
    probes[0]["timeout"] = DENIED_AFTER
    probes2 = [probes[0], dict(probes[0], **{"from": "y/a", "timeout": 10})]
    r = k.ok("POST", "/_kubesim/connect", {"probes": probes2}, token="")["results"]
    assert not r[0]["ok"] and r[1]["ok"], r
    reset(k)
    # DNS from a real process in a pod, through its resolv.conf
    k.ok("POST", "/api/v1/namespaces/y/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dig"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "dig", "image": "python:3.12", "command": [
            "python3", "-c", LOOKUP, "web", "web.y.svc.cluster.local", "kubernetes.default", "nobody.y",
            "nothing.y.svc.cluster.local"]}]}})
    k.watch_until("/api/v1/namespaces/y/pods", lambda o: (o.get("status") or {}).get("phase") in
                  ("Succeeded", "Failed"), field_name="dig", timeout=60)
    out = k.ok("GET", "/api/v1/namespaces/y/pods/dig/log")
    dns_ip = k.ok("GET", "/api/v1/namespaces/kube-system/services/kube-dns")["spec"]["clusterIP"]
    assert out["nameserver"] == dns_ip and out["hostname"] == "dig", out
    assert out["web"] == [svc["spec"]["clusterIP"]] == out["web.y.svc.cluster.local"], out
    assert out["kubernetes.default"] == [kube] and out["nobody.y"] == [empty["spec"]["clusterIP"]], out
    assert out["nothing.y.svc.cluster.local"].startswith("error:") and out["rcode-nxdomain"] == 3, out
    for n in ("web", "nobody"):
        k.ok("DELETE", "/api/v1/namespaces/y/services/" + n)


IMDS_CLIENT = r"""
import json, socket, urllib.request
out = {}
try:
    req = urllib.request.Request("http://169.254.169.254/latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    tok = urllib.request.urlopen(req, timeout=2).read().decode()
    out["token"] = True
    role = urllib.request.urlopen(urllib.request.Request(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        headers={"X-aws-ec2-metadata-token": tok}), timeout=2).read().decode()
    creds = json.loads(urllib.request.urlopen(urllib.request.Request(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/" + role,
        headers={"X-aws-ec2-metadata-token": tok}), timeout=2).read())
    out["credentials"] = creds.get("AccessKeyId", "")[:4]
except Exception as e:
    out["token"] = False
    out["error"] = type(e).__name__ + ": " + str(e)
try:
    urllib.request.urlopen("http://169.254.169.254/latest/meta-data/instance-id", timeout=2)
    out["v1"] = 200
except urllib.error.HTTPError as e:
    out["v1"] = e.code
except Exception as e:
    out["v1"] = type(e).__name__
print(json.dumps(out), flush=True)
"""


def t_imds_hop_limits(k, aws):
    """Hop limit 1: a pod (one routed hop behind its node) gets no token, a host-network pod does;
    hop limit 2 (EKS's default without a launch template): the pod gets a token and the role's
    credentials; HttpTokens required: IMDSv1 gets 401."""
    groups = [group("system", 2), group("hop1", 1), group("hop2", 1)]
    groups[1]["metadataOptions"] = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
    groups[2]["nodeRole"] = "arn:aws:iam::111122223333:role/demo-node"
    aws.set_groups(groups)
    k.watch_until("/api/v1/nodes", lambda o: o["metadata"]["labels"].get("eks.amazonaws.com/nodegroup") == "hop2")
    k.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "imds"}})
    cases = {"pod-hop1": ("hop1", False), "host-hop1": ("hop1", True), "pod-hop2": ("hop2", False)}
    for name, (g, host) in cases.items():
        spec = {"restartPolicy": "Never", "nodeSelector": {"eks.amazonaws.com/nodegroup": g},
                "containers": [{"name": "c", "image": "python:3.12", "command": ["python3", "-c", IMDS_CLIENT]}]}
        if host:
            spec["hostNetwork"] = True
        k.ok("POST", "/api/v1/namespaces/imds/pods", {"apiVersion": "v1", "kind": "Pod",
                                                      "metadata": {"name": name}, "spec": spec})
    out = {}
    for name in cases:
        p = k.watch_until("/api/v1/namespaces/imds/pods", lambda o: (o.get("status") or {}).get("phase") in
                          ("Succeeded", "Failed"), field_name=name, timeout=60)
        out[name] = k.ok("GET", "/api/v1/namespaces/imds/pods/%s/log" % name)
        if name.startswith("host"):
            assert p["status"]["podIP"] == p["status"]["hostIP"], p["status"]
    assert out["pod-hop1"]["token"] is False and "timed out" in out["pod-hop1"]["error"], out
    assert out["host-hop1"]["token"] is True and out["host-hop1"]["credentials"] == "ASIA", out
    assert out["pod-hop2"]["token"] is True and out["pod-hop2"]["credentials"] == "ASIA", out
    assert out["pod-hop2"]["v1"] == 401 and out["host-hop1"]["v1"] == 401, out
    st = k.ok("GET", "/_kubesim/state", token="")["network"]["nodes"]
    hops = sorted(n["metadataOptions"]["HttpPutResponseHopLimit"] for n in st.values())
    assert hops == [1, 2, 2, 2], st
    # an egress policy also governs the metadata address (the VPC CNI's agent sits on the pod's veth)
    k.ok("POST", "/apis/networking.k8s.io/v1/namespaces/imds/networkpolicies", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "no-imds"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}]}]}})
    k.ok("POST", "/api/v1/namespaces/imds/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "walled"},
                                                  "spec": {"restartPolicy": "Never", "nodeSelector": {
                                                      "eks.amazonaws.com/nodegroup": "hop2"}, "containers": [
                                                      {"name": "c", "image": "python:3.12",
                                                       "command": ["python3", "-c", IMDS_CLIENT]}]}})
    k.watch_until("/api/v1/namespaces/imds/pods", lambda o: (o.get("status") or {}).get("phase") in
                  ("Succeeded", "Failed"), field_name="walled", timeout=60)
    w = k.ok("GET", "/api/v1/namespaces/imds/pods/walled/log")
    assert w["token"] is False and "timed out" in w["error"], w
    k.ok("DELETE", "/api/v1/namespaces/imds")
    aws.set_groups([group("system", 2)])


def boot_ticks_now():
    """Now, in the unit of /proc/PID/stat's start time (clock ticks since boot)."""
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def started_at(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def net_holders(started_by=None):
    """{inode: [path]}: every network namespace some process holds, as its namespace or an
    open fd, with the /proc paths that reach it.  With started_by, only processes started by
    then count."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        if started_by is not None and (started_at(pid) or 0) > started_by:
            continue
        paths = ["/proc/%s/ns/net" % pid]
        try:
            paths += ["/proc/%s/fd/%s" % (pid, fd) for fd in os.listdir("/proc/%s/fd" % pid)]
        except OSError:
            pass
        for path in paths:
            try:
                link = os.readlink(path)
            except OSError:
                continue
            if link.startswith("net:["):
                found.setdefault(int(link[5:-1]), []).append(path)
    return found


SO_NETNS_COOKIE = 71   # <asm-generic/socket.h>, Linux 5.14


def netns_cookie(path):
    """The namespace's cookie: unlike its inode number, which the kernel hands to a new
    namespace once this one is freed, a cookie is never reused while the machine runs.
    None when the holder went away meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with ksim_netns.socket_in(fd, socket.AF_INET, socket.SOCK_DGRAM) as s:
            return struct.unpack("=Q", s.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def cookies_held(inodes, started_by=None):
    """{cookie} of the namespaces with these inode numbers that a process still holds."""
    out = set()
    for ino, paths in net_holders(started_by).items():
        if ino in inodes:
            out |= {c for c in map(netns_cookie, paths) if c is not None}
    return out


def host_view():
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return sorted(ln.split(":")[1].strip() for ln in links.splitlines()), tables


def t_kill9_leaves_nothing(k, before):
    """The kubesim of the tests above (nodes, servers, CoreDNS, enforcement on) dies by kill -9:
    every pod process goes (PDEATHSIG), and with the last reference every namespace, veth and
    nft table; the host's links and tables are as before it started."""
    try:
        st = k.ok("GET", "/_kubesim/state", token="")
        net = st["network"]
        inodes = {net["vpcNetns"]} | {n["netns"] for n in net["nodes"].values()} | \
            {n["imdsNetns"] for n in net["nodes"].values()} | {p["netns"] for p in net["pods"].values()}
        assert len(inodes) >= 7, net
        pids = [p["pid"] for p in st["processes"] if p["pid"]]
        assert inodes <= set(net_holders()) and host_view() == before
        cookies = cookies_held(inodes)
    finally:
        killed = boot_ticks_now()
        os.kill(k.proc.pid, signal.SIGKILL)
        k.proc.wait()
        k.log.close()
    deadline = time.monotonic() + 120   # the kernel's clean-up on a busy machine; a hang guard
    while True:
        alive = [p for p in pids if os.path.exists("/proc/%d" % p)]
        # by cookie: another kubesim running beside this test may already hold a new
        # namespace that was given a freed inode number of these
        held = cookies & cookies_held(inodes, started_by=killed)
        if not alive and not held:
            break
        if time.monotonic() > deadline:
            raise AssertionError("after kill -9: processes %s, namespaces (cookies) %s still there" % (alive, held))
        time.sleep(0.05)
    assert host_view() == before, (host_view(), before)


def t_kubehook_switch(k):
    """awssim's hook switches enforcement the way the VPC CNI add-on would."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "awssim"))
    from awssimlib import kubehook
    kp = kubehook.KubeProc(k.proc, k.port, open(k.ca, "rb").read(), k.tmp)
    kubehook.set_network_policy(kp, False)
    assert k.ok("GET", "/_kubesim/network-policy", token="")["enforce"] is False
    kubehook.set_network_policy(kp, True)
    assert k.ok("GET", "/_kubesim/network-policy", token="")["enforce"] is True
    kubehook.set_network_policy(kubehook.KubeProc(None, 9, b"", k.tmp), True)  # no kubesim: nothing to do


def t_loopback_mode(Kubesim, tmp, aws):
    """Without the pod network (not root, or --pod-network loopback): pods on 127.0.x.y, and
    enforcement refused rather than silently off."""
    k = Kubesim(tmp, aws=aws, extra=["--pod-network", "loopback"])
    try:
        aws.set_groups([group("system", 1)])
        k.watch_until("/api/v1/nodes", lambda o: True)
        k.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lo"}})
        k.ok("POST", "/api/v1/namespaces/lo/pods", server_pod("a", "lo"))
        p = k.watch_until("/api/v1/namespaces/lo/pods", ready, field_name="a", timeout=60)
        assert p["status"]["podIP"].startswith("127.0."), p["status"]
        code, body, _ = k.call("POST", "/_kubesim/network-policy", {"enforce": True}, token="")
        assert code == 409 and "not in network namespaces" in body["message"], (code, body)
        assert k.ok("GET", "/_kubesim/network-policy", token="")["mode"] == "loopback"
    finally:
        k.stop()


def register(run, Kubesim, tmp, aws):
    run.run("pod sandboxes: a failed or abandoned set-up ends in its bookkeeping", t_plumbing_failures)
    before = host_view() if shutil.which("nft") and os.geteuid() == 0 else None
    net_k = Kubesim(tmp, aws=aws)
    net = Net(net_k)
    killed = False
    try:
        if not run.run("pod network: namespaces, nodes, servers on 2 nodes", t_setup, net_k, aws, net):
            return
        run.run("pod sandboxes: made off the API server's path, undone when the pod goes, failures retried",
                t_sandboxes, net_k)
        run.run("NetworkPolicy: validation and defaults as the API server", t_policy_validation, net_k)
        run.run("NetworkPolicy enforcement switch (off = accepted, not enforced)", t_enforcement_switch, net_k, net)
        run.run("awssim's kubehook switches enforcement", t_kubehook_switch, net_k)
        run.run("NetworkPolicy: %d upstream conformance cases on real packets" % len(netpol_cases.CASES),
                t_conformance, net_k, net)
        run.run("Services: DNAT before policy, no endpoints refuses, kubernetes, cluster DNS",
                t_services_and_dns, net_k, net)
        run.run("IMDS: hop limit 1 vs 2 vs host network, IMDSv1 off, egress policy", t_imds_hop_limits, net_k, aws)
        killed = True
        run.run("kill -9: no namespace, process or nft table left", t_kill9_leaves_nothing, net_k, before)
    finally:
        if not killed:
            net_k.stop()
    run.run("loopback mode: pods on 127.0.x.y, enforcement refused", t_loopback_mode, Kubesim, tmp, aws)
