"""NetworkPolicy (networking.k8s.io/v1) and Services compiled to nftables.

Owned by the kubesim suite (tests/kubesim).  One ruleset per simulated node,
loaded into that node's network namespace (network.py), where every pod of
the node has its own veth: a policy is judged on real packets on the veth
path, after kube-proxy's DNAT, as the VPC CNI's agent judges them on EKS.

Semantics (upstream's, checked by the ported conformance cases):
* a pod is isolated for Ingress (Egress) when a policy of its namespace
  selects it and lists that type in policyTypes (defaulted by the API server:
  Ingress, plus Egress when egress rules exist); then only what some rule of
  some selecting policy allows passes in that direction (union of policies);
  a connection needs the sender's egress and the receiver's ingress;
* peers: podSelector (policy's namespace), namespaceSelector (+ podSelector),
  ipBlock cidr minus except (also matches pod IPs); no from/to = everyone;
* ports: protocol (TCP default, UDP, SCTP), number, number..endPort, or a
  named container port (the receiving pod's); no ports = every port;
* replies of allowed connections pass (conntrack); traffic between a pod and
  its own node (host-network processes, kubelet probes) always passes;
  host-network pods are never isolated and are no pod peers;
* enforcement off (EKS without the network-policy agent): nothing but the
  Service DNAT is loaded.
"""
from .util import labels_match, selector_from_obj

TCP, UDP, SCTP = "TCP", "UDP", "SCTP"


class PodInfo:
    """What the compiler needs of one pod."""

    def __init__(self, uid, ns, name, labels, ip, node, host_network, ports, ready, veth=None):
        self.uid, self.ns, self.name = uid, ns, name
        self.labels = labels or {}
        self.ip, self.node, self.host_network = ip, node, host_network
        self.ports = ports          # [(name, protocol, number)]
        self.ready = ready
        self.veth = veth            # host-side interface in the node namespace, or None


def policy_types(p):
    spec = p.get("spec") or {}
    t = spec.get("policyTypes")
    if t:
        return t
    return ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def default_policy(obj):
    """API defaulting: policyTypes, and TCP for ports without a protocol."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("podSelector", {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = policy_types(obj)
    for d, peers in (("ingress", "from"), ("egress", "to")):
        for r in spec.get(d) or []:
            if isinstance(r, dict):
                for port in r.get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", TCP)


def validate_policy(obj):
    """[(field, reason, message)] as pkg/apis/networking/validation reports them."""
    causes = []
    spec = obj.get("spec") or {}

    def inv(path, value, detail):
        causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s" % (_show(value), detail)))
    for d, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, r in enumerate(spec.get(d) or []):
            if not isinstance(r, dict):
                continue
            at = "spec.%s[%d]" % (d, i)
            for j, port in enumerate(r.get("ports") or []):
                pp = "%s.ports[%d]" % (at, j)
                proto = port.get("protocol")
                if proto is not None and proto not in (TCP, UDP, SCTP):
                    causes.append((pp + ".protocol", "FieldValueNotSupported",
                                   'Unsupported value: "%s": supported values: "SCTP", "TCP", "UDP"' % proto))
                pv, ev = port.get("port"), port.get("endPort")
                if pv is not None:
                    if isinstance(pv, int) and not isinstance(pv, bool):
                        if not 1 <= pv <= 65535:
                            inv(pp + ".port", pv, "must be between 1 and 65535, inclusive")
                        if ev is not None:
                            if ev < pv:
                                inv(pp + ".endPort", ev, "must be greater than or equal to `port`")
                            if not 1 <= ev <= 65535:
                                inv(pp + ".endPort", ev, "must be between 1 and 65535, inclusive")
                    else:
                        if ev is not None:
                            inv(pp + ".endPort", ev, "may not be specified when `port` is non-numeric")
                        if not _port_name_ok(str(pv)):
                            inv(pp + ".port", pv, "must contain only alpha-numeric characters (a-z, 0-9), and "
                                "hyphens (-)" if len(str(pv)) <= 15 else "must be no more than 15 characters")
                elif ev is not None:
                    inv(pp + ".endPort", ev, "may not be specified when `port` is not specified")
            for j, peer in enumerate(r.get(peers_key) or []):
                pp = "%s.%s[%d]" % (at, peers_key, j)
                if not isinstance(peer, dict):
                    continue
                n = sum(1 for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None)
                if n == 0:
                    causes.append((pp, "FieldValueRequired", "Required value: must specify a peer"))
                elif n > 1 and peer.get("ipBlock") is not None:
                    causes.append((pp, "FieldValueForbidden", "Forbidden: may not specify both ipBlock and "
                                   "another peer"))
                ipb = peer.get("ipBlock")
                if ipb is not None:
                    cidr = ipb.get("cidr")
                    net = _net(cidr)
                    if not cidr:
                        causes.append((pp + ".ipBlock.cidr", "FieldValueRequired", "Required value"))
                    elif net is None:
                        inv(pp + ".ipBlock.cidr", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
                    for k, ex in enumerate(ipb.get("except") or []):
                        en = _net(ex)
                        ep = "%s.ipBlock.except[%d]" % (pp, k)
                        if en is None:
                            inv(ep, ex, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
                        elif net is not None and (en.version != net.version or not en.subnet_of(net)
                                                  or en.prefixlen <= net.prefixlen):
                            inv(ep, ex, "must be a strict subset of `cidr`")
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        inv("spec.policyTypes", types, "may not specify more than two policyTypes")
    else:
        for i, t in enumerate(types):
            if t not in ("Ingress", "Egress"):
                causes.append(("spec.policyTypes[%d]" % i, "FieldValueNotSupported",
                               'Unsupported value: "%s": supported values: "Egress", "Ingress"' % t))
    return causes


def _show(v):
    return '"%s"' % v if isinstance(v, str) else str(v)


def _port_name_ok(s):
    import re
    return 1 <= len(s) <= 15 and bool(re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", s)) and "--" not in s \
        and re.search(r"[a-z]", s) is not None


def _net(c):
    import ipaddress
    try:
        return ipaddress.ip_network(c, strict=False) if c else None
    except ValueError:
        return None


# ---- evaluation --------------------------------------------------------------------------

class Model:
    """Pods, namespaces and policies at one moment; answers who may talk to whom."""

    def __init__(self, pods, namespaces, policies):
        self.pods = [p for p in pods if p.ip]
        self.ns_labels = namespaces       # name -> labels
        self.policies = policies          # policy objects

    def selecting(self, pod, direction):
        if pod.host_network:
            return []
        out = []
        for p in self.policies:
            md = p.get("metadata") or {}
            if md.get("namespace") != pod.ns or direction not in policy_types(p):
                continue
            if labels_match(selector_from_obj((p.get("spec") or {}).get("podSelector") or {}), pod.labels):
                out.append(p)
        return out

    def peer_pods(self, peer, policy_ns):
        """Pods a podSelector/namespaceSelector peer names (host-network pods never)."""
        nsel, psel = peer.get("namespaceSelector"), peer.get("podSelector")
        if nsel is None:
            namespaces = {policy_ns}
        else:
            req = selector_from_obj(nsel)
            namespaces = {n for n, lab in self.ns_labels.items() if labels_match(req, lab)}
        preq = selector_from_obj(psel or {})
        return [p for p in self.pods if p.ns in namespaces and not p.host_network and labels_match(preq, p.labels)]


def _port_matches(ports, direction, dest_pod):
    """[(protocol, "80" | "80-90" | None)] the ports of a rule allow toward dest_pod
    (None = every port of that protocol); [] = nothing; None = every protocol and port."""
    if not ports:
        return None
    out = []
    for port in ports:
        proto = port.get("protocol") or TCP
        pv, ev = port.get("port"), port.get("endPort")
        if pv is None:
            out.append((proto, None))
        elif isinstance(pv, int) and not isinstance(pv, bool):
            out.append((proto, "%d-%d" % (pv, ev) if ev else str(pv)))
        elif dest_pod is not None:
            for name, p_proto, num in dest_pod.ports:
                if name == str(pv) and p_proto == proto:
                    out.append((proto, str(num)))
    return out


def _l4(ports):
    """nft fragments for a port list (None = anything)."""
    if ports is None:
        return [""]
    frags = []
    for proto, rng in ports:
        frag = "meta l4proto %s" % proto.lower()
        if rng is not None:
            frag += " th dport %s" % rng
        frags.append(frag)
    return frags


def _addr_frags(field, peer, model, policy_ns, needs_pod=False):
    """[(nft address match, pod or None)] for one peer; pods listed one by one when a named
    port must be resolved per pod (needs_pod)."""
    if "ipBlock" in peer and peer.get("ipBlock") is not None:
        ipb = peer["ipBlock"]
        net = _net(ipb.get("cidr"))
        if net is None or net.version != 4:
            return []
        m = "ip %s %s" % (field, net)
        ex = [str(_net(e)) for e in ipb.get("except") or [] if _net(e) is not None and _net(e).version == 4]
        if ex:
            m += " ip %s != { %s }" % (field, ", ".join(ex))
        if needs_pod:
            return [("ip %s %s" % (field, p.ip), p) for p in model.pods if not p.host_network
                    and _ip_in(p.ip, net, ex)]
        return [(m, None)]
    pods = model.peer_pods(peer, policy_ns)
    if not pods:
        return []
    if needs_pod:
        return [("ip %s %s" % (field, p.ip), p) for p in pods]
    return [("ip %s { %s }" % (field, ", ".join(sorted({p.ip for p in pods}, key=_ipkey))), None)]


def _ip_in(ip, net, excepts):
    import ipaddress
    a = ipaddress.ip_address(ip)
    return a in net and not any(a in ipaddress.ip_network(e) for e in excepts)


def _ipkey(ip):
    return tuple(int(x) for x in ip.split("."))


def _named(ports):
    return any(not isinstance(p.get("port"), int) and p.get("port") is not None for p in ports or [])


def rules_for(model, pod, direction):
    """nft allow lines for traffic into (Ingress) or out of (Egress) pod, or None if the pod
    is not isolated in that direction."""
    pols = model.selecting(pod, direction)
    if not pols:
        return None
    lines = []
    key, peers_key, field = ("ingress", "from", "saddr") if direction == "Ingress" else ("egress", "to", "daddr")
    verdict = "accept" if direction == "Ingress" else "return"
    for p in pols:
        pns = p["metadata"]["namespace"]
        for rule in (p.get("spec") or {}).get(key) or []:
            if not isinstance(rule, dict):
                continue
            ports = rule.get("ports") or []
            peers = rule.get(peers_key) or []
            per_pod = direction == "Egress" and _named(ports)
            if direction == "Ingress":
                l4 = _l4(_port_matches(ports, direction, pod))
                addrs = [m for peer in peers for m, _ in _addr_frags(field, peer, model, pns)] if peers else [""]
                for a in addrs:
                    for f in l4:
                        lines.append(" ".join(x for x in (a, f, verdict) if x))
            elif not per_pod:
                l4 = _l4(_port_matches(ports, direction, None))
                addrs = [m for peer in peers for m, _ in _addr_frags(field, peer, model, pns)] if peers else [""]
                for a in addrs:
                    for f in l4:
                        lines.append(" ".join(x for x in (a, f, verdict) if x))
            else:
                # named ports name the destination pod's port: one line per destination pod
                targets = [(m, q) for peer in peers for m, q in _addr_frags(field, peer, model, pns, True)] \
                    if peers else [("ip daddr %s" % q.ip, q) for q in model.pods if not q.host_network]
                numeric = [x for x in ports if not _named([x])]
                if numeric:
                    l4 = _l4(_port_matches(numeric, direction, None))
                    addrs = [m for peer in peers for m, _ in _addr_frags(field, peer, model, pns)] if peers else [""]
                    for a in addrs:
                        for f in l4:
                            lines.append(" ".join(x for x in (a, f, verdict) if x))
                for a, q in targets:
                    for f in _l4(_port_matches([x for x in ports if _named([x])], direction, q)):
                        if f:
                            lines.append("%s %s %s" % (a, f, verdict))
    return lines


# ---- services (kube-proxy) -----------------------------------------------------------------

def service_endpoints(svc, pods_by_ns, endpoints_obj=None):
    """[(clusterIP, protocol, port, [(ip, targetPort)])] for a ClusterIP-bearing Service."""
    spec = svc.get("spec") or {}
    cip = spec.get("clusterIP")
    if not cip or cip == "None" or spec.get("type") == "ExternalName":
        return []
    out = []
    sel = spec.get("selector")
    for sp in spec.get("ports") or []:
        proto = sp.get("protocol") or TCP
        eps = []
        if sel:
            req = [(k, "In", [v]) for k, v in sel.items()]
            for p in pods_by_ns.get(svc["metadata"]["namespace"], []):
                if not p.ip or p.host_network and False:
                    continue
                if not labels_match(req, p.labels) or not (p.ready or spec.get("publishNotReadyAddresses")):
                    continue
                tp = sp.get("targetPort", sp.get("port"))
                if isinstance(tp, str) and not tp.isdigit():
                    tp = next((num for name, pr, num in p.ports if name == tp and pr == proto), None)
                if tp:
                    eps.append((p.ip, int(tp)))
        elif endpoints_obj:
            for ss in endpoints_obj.get("subsets") or []:
                pport = next((pp.get("port") for pp in ss.get("ports") or []
                              if (pp.get("name") or "") == (sp.get("name") or "")), None)
                for ad in ss.get("addresses") or []:
                    if pport and ad.get("ip"):
                        eps.append((ad["ip"], int(pport)))
        out.append((cip, proto, sp.get("port"), sorted(set(eps))))
    return out


def ruleset(node, model, services, enforce, node_ip, local_pods):
    """The nftables text for one node namespace (replaces kubesim's tables atomically)."""
    out = ["table ip ksim_nat", "delete table ip ksim_nat", "table inet ksim", "delete table inet ksim", ""]
    nat = ["table ip ksim_nat {",
           "  chain prerouting {", "    type nat hook prerouting priority dstnat; policy accept;",
           "    jump services", "  }",
           "  chain output {", "    type nat hook output priority -100; policy accept;", "    jump services", "  }",
           "  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;"]
    for p in local_pods:
        if p.veth:
            # hairpin (a pod reaching itself through its Service) leaves as the node, like kube-proxy's masquerade
            nat.append('    iifname "%s" oifname "%s" snat to %s' % (p.veth, p.veth, node_ip))
    nat += ["  }", "  chain services {"]
    chains, reject = [], []
    for i, (cip, proto, port, eps) in enumerate(services):
        match = "ip daddr %s meta l4proto %s th dport %d" % (cip, proto.lower(), port)
        if not eps:
            reject.append(match)
            continue
        name = "svc%d" % i
        nat.append("    %s jump %s" % (match, name))
        l4 = "meta l4proto %s" % proto.lower()
        if len(eps) == 1:
            chains.append("  chain %s {\n    %s dnat to %s:%d\n  }" % (name, l4, eps[0][0], eps[0][1]))
        else:
            vm = ", ".join("%d : jump %se%d" % (j, name, j) for j in range(len(eps)))
            chains.append("  chain %s {\n    numgen random mod %d vmap { %s }\n  }" % (name, len(eps), vm))
            for j, (ip, tp) in enumerate(eps):
                chains.append("  chain %se%d {\n    %s dnat to %s:%d\n  }" % (name, j, l4, ip, tp))
    nat.append("  }")
    nat += chains
    nat.append("}")
    filt = ["table inet ksim {"]
    fwd = ["  chain forward {", "    type filter hook forward priority filter; policy accept;"]
    outc = ["  chain output {", "    type filter hook output priority filter; policy accept;"]
    for m in reject:  # a Service without endpoints refuses, as kube-proxy makes it
        fwd.append("    %s reject" % m)
        outc.append("    %s reject" % m)
    fwd.append("    ct state established,related accept")
    extra = []
    if enforce:
        for p in local_pods:
            if not p.veth or p.host_network:
                continue
            eg = rules_for(model, p, "Egress")
            if eg is not None:
                fwd.append('    iifname "%s" jump eg_%s' % (p.veth, p.veth))
                extra.append("  chain eg_%s {" % p.veth)
                extra += ["    " + ln for ln in eg]
                extra += ["    drop", "  }"]
            ing = rules_for(model, p, "Ingress")
            if ing is not None:
                fwd.append('    oifname "%s" jump in_%s' % (p.veth, p.veth))
                extra.append("  chain in_%s {" % p.veth)
                extra += ["    " + ln for ln in ing]
                extra += ["    drop", "  }"]
    fwd.append("  }")
    outc.append("  }")
    filt += fwd + outc + extra + ["}"]
    return "\n".join(out + nat + [""] + filt) + "\n"
