"""NetworkPolicy cases ported from the upstream conformance suite
(test/e2e/network/netpol/network_policy.go), as data.

Each case names the pods it looks at ("x/a" = pod a in namespace x; every pod
has label pod=<name> and serves TCP and UDP 80 and 81 on ports named
serve-80-tcp, serve-81-tcp, serve-80-udp, serve-81-udp), the policies to
create per step, and per probe (port, protocol) the expected reachability
matrix, written as upstream writes it: start from "everything reachable", then
  ("peer", from, to, bool)  every pair matching the from/to patterns
                            ("x" = namespace x, "x/a" = one pod, "*" = any)
  ("ingress", pod, bool)    everything into pod      (ExpectAllIngress)
  ("egress", pod, bool)     everything out of pod    (ExpectAllEgress)
A pod reaching itself is not judged (upstream ignores loopback too).
A step may also set labels: ("label-ns", "y", {k: v}) or ("label-pod", "x/b", {...}),
or ("update", ns, name, spec) / ("delete-policies",).
"""


def pol(name, pod_selector, ingress=None, egress=None, types=None):
    """A policy as upstream's helpers build one: giving ingress (egress) rules, even none,
    also lists Ingress (Egress) in policyTypes (SetSpecIngressRules / SetSpecEgressRules)."""
    spec = {"podSelector": pod_selector}
    if types is None:
        types = (["Ingress"] if ingress is not None else []) + (["Egress"] if egress is not None else []) or None
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return (name, spec)


ALL = {}
A = {"matchLabels": {"pod": "a"}}
B = {"matchLabels": {"pod": "b"}}
NS = "kubernetes.io/metadata.name"


def ns_is(n):
    return {"matchLabels": {NS: n}}


def ns_expr(op, vals):
    return {"matchExpressions": [{"key": NS, "operator": op, "values": vals}]}


DENY_IN = pol("deny-ingress", ALL, ingress=[], types=["Ingress"])
T80, T81, U80, U81 = (80, "TCP"), (81, "TCP"), (80, "UDP"), (81, "UDP")

# name, pods, steps: [(actions, [((port, proto), expectations)])]
CASES = [
    ("default-deny-ingress", ["x/a", "x/b", "y/a", "y/b"],
     [([("create", "x", DENY_IN)], [(T80, [("peer", "*", "x", False)])])]),
    ("default-deny-all", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("deny-all", ALL, types=["Ingress", "Egress"]))],
       [(T80, [("peer", "*", "x", False), ("peer", "x", "*", False)])])]),
    ("allow from pods within the namespace by podSelector", ["x/a", "x/b", "x/c", "y/a"],
     [([("create", "x", pol("x-a-allows-x-b", A, ingress=[{"from": [{"podSelector": B}]}]))],
       [(T80, [("ingress", "x/a", False), ("peer", "x/b", "x/a", True)])])]),
    ("allow ingress for a target", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("deny-all", ALL, ingress=[])),
        ("create", "x", pol("allow-all-to-a", A, ingress=[{"from": [{"podSelector": {},
                                                                     "namespaceSelector": {}}]}]))],
       [(T80, [("ingress", "x/a", True), ("ingress", "x/b", False)])])]),
    ("allow ingress from pods in all namespaces", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("allow-from-another-ns", A, ingress=[{"from": [{"namespaceSelector": {}}]}]))],
       [(T80, [])])]),
    ("allow only a different namespace by namespaceSelector", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("allow-client-a-via-ns-selector", A,
                            ingress=[{"from": [{"namespaceSelector": ns_is("y")}]}]))],
       [(T80, [("peer", "x", "x/a", False), ("peer", "z", "x/a", False)])])]),
    ("podSelector with matchExpressions", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("x-a-allows-x-b", A, ingress=[{"from": [{"podSelector": {"matchExpressions": [
         {"key": "pod", "operator": "In", "values": ["b"]}]}}]}]))],
       [(T80, [("ingress", "x/a", False), ("peer", "x/b", "x/a", True)])])]),
    ("namespaceSelector with matchExpressions", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("allow-ns-y-match-selector", A,
                            ingress=[{"from": [{"namespaceSelector": ns_expr("In", ["y"])}]}]))],
       [(T80, [("peer", "x", "x/a", False), ("peer", "z", "x/a", False)])])]),
    ("podSelector or namespaceSelector", ["x/a", "x/b", "x/c", "y/a"],
     [([("create", "x", pol("allow-ns-y-match-selector", A, ingress=[{"from": [
         {"namespaceSelector": ns_expr("NotIn", ["x"])}, {"podSelector": B}]}]))],
       [(T80, [("peer", "x/c", "x/a", False)])])]),
    ("podSelector and namespaceSelector", ["x/a", "x/b", "y/a", "y/b", "z/b"],
     [([("create", "x", pol("allow-ns-y-podselector-and-nsselector", A, ingress=[{"from": [
         {"namespaceSelector": ns_expr("NotIn", ["x"]), "podSelector": B}]}]))],
       [(T80, [("ingress", "x/a", False), ("peer", "y/b", "x/a", True), ("peer", "z/b", "x/a", True)])])]),
    ("multiple podSelectors and namespaceSelectors", ["x/a", "x/b", "y/a", "y/b", "y/c"],
     [([("create", "x", pol("allow-ns-y-z-pod-b-c", A, ingress=[{"from": [
         {"namespaceSelector": ns_expr("NotIn", ["x"]),
          "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}}]}]))],
       [(T80, [("peer", "x", "x/a", False), ("peer", "y/a", "x/a", False)])])]),
    ("any of several podSelectors", ["x/a", "x/b", "x/c"],
     [([("create", "x", pol("allow-ns-x-pod-b-c", A, ingress=[{"from": [
         {"podSelector": B}, {"podSelector": {"matchLabels": {"pod": "c"}}}]}]))],
       [(T80, [("ingress", "x/a", False), ("peer", "x/b", "x/a", True), ("peer", "x/c", "x/a", True)])])]),
    ("only a pod of another namespace (pod and namespace selectors)", ["x/a", "x/b", "y/a", "y/b", "z/a"],
     [([("create", "x", pol("allow-ns-y-pod-a", A, ingress=[{"from": [
         {"namespaceSelector": ns_is("y"), "podSelector": A}]}]))],
       [(T80, [("ingress", "x/a", False), ("peer", "y/a", "x/a", True)])])]),
    ("ports", ["x/a", "x/b", "y/a", "y/b", "z/a"],
     [([("create", "x", pol("allow-81", A, ingress=[{"from": [{"namespaceSelector": ns_is("y")}],
                                                     "ports": [{"port": 81, "protocol": "TCP"}]}]))],
       [(T81, [("peer", "x", "x/a", False), ("peer", "y", "x/a", True), ("peer", "z", "x/a", False)])])]),
    ("stacked policies with overlapping podSelectors", ["x/a", "x/b", "y/a", "y/b", "z/a"],
     [([("create", "x", pol("allow-81", A, ingress=[{"from": [{"namespaceSelector": ns_is("y")}],
                                                     "ports": [{"port": 81, "protocol": "TCP"}]}]))],
       [(T81, [("peer", "x", "x/a", False), ("peer", "y", "x/a", True), ("peer", "z", "x/a", False)]),
        (T80, [("ingress", "x/a", False)])]),
      ([("create", "x", pol("allow-80", A, ingress=[{"from": [{"namespaceSelector": ns_is("y")}],
                                                     "ports": [{"port": 80, "protocol": "TCP"}]}]))],
       [(T80, [("peer", "x", "x/a", False), ("peer", "y", "x/a", True), ("peer", "z", "x/a", False)])])]),
    ("allow-all", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("allow-all", ALL, ingress=[{}]))], [(T80, []), (T81, [])])]),
    ("ingress on one named port", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("allow-all", ALL, ingress=[{"ports": [{"port": "serve-81-tcp"}]}]))],
       [(T81, []), (T80, [("peer", "*", "x", False)])])]),
    ("ingress from a namespace on one named port", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("allow-80-named", A, ingress=[{"from": [{"namespaceSelector": ns_is("y")}],
                                                           "ports": [{"port": "serve-80-tcp",
                                                                      "protocol": "TCP"}]}]))],
       [(T80, [("peer", "x", "x/a", False), ("peer", "z", "x/a", False)]), (T81, [("ingress", "x/a", False)])])]),
    ("egress on one named port", ["x/a", "y/a"],
     [([("create", "x", pol("allow-egress", ALL, egress=[{"ports": [{"port": "serve-80-tcp"}]}]))],
       [(T80, []), (T81, [("peer", "x", "*", False)])])]),
    ("updated policy", ["x/a", "y/a"],
     [([("create", "x", pol("allow-all-mutate-to-deny-all", ALL, ingress=[{}]))], [(T81, [])]),
      ([("update", "x", pol("allow-all-mutate-to-deny-all", ALL, ingress=[]))],
       [(T81, [("peer", "*", "x", False)])])]),
    ("ingress from an updated namespace", ["x/a", "y/a"],
     [([("create", "x", pol("allow-client-a-via-ns-selector", A, ingress=[{"from": [
         {"namespaceSelector": {"matchLabels": {"ns2": "updated"}}}]}]))],
       [(T80, [("ingress", "x/a", False)])]),
      ([("label-ns", "y", {"ns2": "updated"})],
       [(T80, [("ingress", "x/a", False), ("peer", "y", "*", True)])])]),
    ("ingress from an updated pod", ["x/a", "x/b"],
     [([("create", "x", pol("allow-client-a-via-pod-selector", A, ingress=[{"from": [
         {"podSelector": {"matchLabels": {"pod": "b", "pod2": "updated"}}}]}]))],
       [(T80, [("ingress", "x/a", False)])]),
      ([("label-pod", "x/b", {"pod2": "updated"})],
       [(T80, [("ingress", "x/a", False), ("peer", "x/b", "x/a", True)])])]),
    ("deny ingress from other namespaces", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("deny-empty-policy", ALL, ingress=[{"from": [{"podSelector": {}}]}]))],
       [(T80, [("peer", "y", "x", False), ("peer", "z", "x", False)])])]),
    ("deny ingress to an updated pod", ["x/a", "y/a"],
     [([("create", "x", pol("deny-ingress-via-label-selector", {"matchLabels": {"target": "isolated"}},
                            ingress=[]))], [(T80, [])]),
      ([("label-pod", "x/a", {"target": "isolated"})], [(T80, [("ingress", "x/a", False)])])]),
    ("deny egress by podSelector", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("deny-egress-pod-a", A, egress=[], types=["Egress"]))],
       [(T80, [("egress", "x/a", False)])])]),
    ("deny egress from all pods of a namespace", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("deny-egress-ns-x", ALL, egress=[], types=["Egress"]))],
       [(T80, [("peer", "x", "*", False)])])]),
    ("Ingress and Egress together", ["x/a", "x/b", "x/c", "y/a"],
     [([("create", "x", pol("allow-client-a-via-pod-selector", A, ingress=[{"from": [{"podSelector": B}]}],
                            egress=[{"ports": [{"port": 80}]}], types=["Egress", "Ingress"]))],
       [(T80, [("ingress", "x/a", False), ("peer", "x/b", "x/a", True)]),
        (T81, [("ingress", "x/a", False), ("egress", "x/a", False), ("peer", "x/b", "x/a", True)])])]),
    ("egress denied on the client even if the server allows it", ["x/a", "y/a", "y/b"],
     [([("create", "x", pol("allow-to-ns-y-pod-a", A, egress=[{"to": [{"namespaceSelector": ns_is("y"),
                                                                         "podSelector": A}]}])),
        ("create", "y", pol("allow-from-xa-on-ya", A, ingress=[{"from": [{"namespaceSelector": ns_is("x"),
                                                                          "podSelector": A}]}])),
        ("create", "y", pol("allow-from-xa-on-yb", B, ingress=[{"from": [{"namespaceSelector": ns_is("x"),
                                                                          "podSelector": A}]}]))],
       [(T80, [("peer", "x/a", "*", False), ("peer", "*", "y/a", False), ("peer", "x/a", "y/a", True),
               ("peer", "*", "y/b", False)])])]),
    ("egress to a server in another namespace by pod and namespace selectors", ["x/a", "y/a", "y/b"],
     [([("create", "x", pol("allow-to-ns-y-pod-a", A, egress=[{"to": [{"namespaceSelector": ns_is("y"),
                                                                         "podSelector": A}]}]))],
       [(T80, [("egress", "x/a", False), ("peer", "x/a", "y/a", True)])])]),
    ("ingress of any port on one protocol", ["x/a", "y/a"],
     [([("create", "x", pol("allow-ingress-by-proto", A, ingress=[{"ports": [{"protocol": "TCP"}]}]))],
       [(T80, []), (U80, [("peer", "*", "x/a", False)])])]),
    ("ingress allow-all takes precedence", ["x/a", "y/a"],
     [([("create", "x", pol("allow-ingress-port-80", ALL, ingress=[{"ports": [{"port": 80}]}]))],
       [(T81, [("peer", "*", "x", False)])]),
      ([("create", "x", pol("allow-ingress", ALL, ingress=[{}]))], [(T81, [])])]),
    ("egress allow-all takes precedence", ["x/a", "y/a"],
     [([("create", "x", pol("allow-egress-port-80", ALL, egress=[{"ports": [{"port": 80}]}]))],
       [(T81, [("peer", "x", "*", False)])]),
      ([("create", "x", pol("allow-egress", ALL, egress=[{}]))], [(T81, [])])]),
    ("policies stop being enforced once deleted", ["x/a", "y/a"],
     [([("create", "x", pol("deny-all", ALL, ingress=[], egress=[], types=["Ingress", "Egress"]))],
       [(T80, [("peer", "x", "*", False), ("peer", "*", "x", False)])]),
      ([("delete-policies",)], [(T80, [])])]),
    ("egress to a server in a CIDR block", ["x/a", "y/a", "y/b"],
     [([("create", "x", pol("allow-client-a-via-cidr-egress-rule", A,
                            egress=[{"to": [{"ipBlock": {"cidr": "@y/b/32"}}]}]))],
       [(T80, [("egress", "x/a", False), ("peer", "x/a", "y/b", True)])])]),
    ("except clause of a CIDR block", ["x/a", "x/b", "x/c"],
     [([("create", "x", pol("allow-client-a-via-cidr-egress-rule", A,
                            egress=[{"to": [{"ipBlock": {"cidr": "@x/b/8", "except": ["@x/b/32"]}}]}]))],
       [(T80, [("peer", "x/a", "x/b", False)])])]),
    ("an IP in both CIDR and except is allowed by another policy", ["x/a", "x/b", "x/c"],
     [([("create", "x", pol("allow-client-a-via-cidr-egress-rule", A,
                            egress=[{"to": [{"ipBlock": {"cidr": "@x/b/8", "except": ["@x/b/32"]}}]}]))],
       [(T80, [("peer", "x/a", "x/b", False)])]),
      ([("update", "x", pol("allow-client-a-via-cidr-egress-rule", A,
                            egress=[{"to": [{"ipBlock": {"cidr": "@x/b/32"}}]}]))],
       [(T80, [("egress", "x/a", False), ("peer", "x/a", "x/b", True)])])]),
    ("ingress and egress controlled independently", ["x/a", "x/b", "y/a"],
     [([("create", "x", pol("allow-egress-for-target", A, egress=[{}]))], [(T80, [])]),
      ([("create", "x", pol("deny-ingress-via-label-selector", A, ingress=[]))],
       [(T80, [("ingress", "x/a", False)])])]),
    ("protocol SCTP is not TCP", ["x/a", "y/a"],
     [([("create", "x", DENY_IN),
        ("create", "x", pol("allow-only-sctp-ingress-on-port-81", A,
                            ingress=[{"ports": [{"port": 81, "protocol": "SCTP"}]}]))],
       [(T81, [("peer", "*", "x", False)])])]),
    ("a policy allowing only SCTP still isolates", ["x/a", "y/a"],
     [([("create", "x", pol("allow-only-sctp-ingress-on-port-80", A,
                            ingress=[{"ports": [{"port": 80, "protocol": "SCTP"}]}]))],
       [(T81, [("ingress", "x/a", False)])])]),
    ("a UDP-only policy does not allow TCP", ["x/a", "y/a"],
     [([("create", "x", pol("allow-only-udp-ingress-on-port-81", A,
                            ingress=[{"ports": [{"port": 81, "protocol": "UDP"}]}]))],
       [(T81, [("ingress", "x/a", False)]), (U81, [])])]),
    ("egress by namespaceSelector NotIn on the default namespace label", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("allow-ns-y-match-selector", A,
                            egress=[{"to": [{"namespaceSelector": ns_expr("NotIn", ["y"])}]}]))],
       [(T80, [("peer", "x/a", "y", False)])])]),
    ("UDP default-deny-ingress", ["x/a", "x/b", "y/a", "y/b"],
     [([("create", "x", DENY_IN)], [(U80, [("peer", "*", "x", False)])])]),
    ("UDP ports", ["x/a", "x/b", "y/a", "z/a"],
     [([("create", "x", pol("allow-81-udp", A, ingress=[{"from": [{"namespaceSelector": ns_is("y")}],
                                                         "ports": [{"port": 81, "protocol": "UDP"}]}]))],
       [(U81, [("peer", "x", "x/a", False), ("peer", "z", "x/a", False)])])]),
    ("endPort: a port range", ["x/a", "y/a"],
     [([("create", "x", pol("allow-81-to-81", A, ingress=[{"ports": [{"port": 81, "endPort": 81}]}]))],
       [(T81, []), (T80, [("ingress", "x/a", False)])]),
      ([("update", "x", pol("allow-81-to-81", A, ingress=[{"ports": [{"port": 79, "endPort": 81}]}]))],
       [(T80, [])])]),
]


def matches(pattern, pod):
    if pattern == "*":
        return True
    if "/" in pattern:
        return pattern == pod
    return pod.split("/")[0] == pattern


def expected(pods, exps):
    want = {(f, t): True for f in pods for t in pods if f != t}
    for e in exps:
        if e[0] == "peer":
            for k in want:
                if matches(e[1], k[0]) and matches(e[2], k[1]):
                    want[k] = e[3]
        elif e[0] == "ingress":
            for k in want:
                if k[1] == e[1]:
                    want[k] = e[2]
        elif e[0] == "egress":
            for k in want:
                if k[0] == e[1]:
                    want[k] = e[2]
    return want
