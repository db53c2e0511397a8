"""OpenFaaS on the pod network: the components kubesim serves from their pods'
namespaces (components.py), the gateway forwarding invocations to the
function's real process (gateway.py), asynchronous invocations and their
callbacks sent from the queue-worker's own namespace (queueworker.py), the
classic watchdog and its BusyBox userland (fwatchdog.py, runner.py),
faas-netes's set_nonroot_user, and NetworkPolicy judging all of it on real
packets.  Imported by
test_kubesim.py; needs root, ip, nft and busybox (a missing prerequisite is a
failure, never a skip)."""
import base64
import http.client
import json
import time

from harness import group, node_config
from test_network import prerequisites

GV_LABELS = {"secfaas.io/runtime": "gvisor"}
GV_TAINT = "secfaas.io/runtime=gvisor:NoSchedule"
RC = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"}, "handler": "runsc",
      "scheduling": {"nodeSelector": GV_LABELS,
                     "tolerations": [{"key": "secfaas.io/runtime", "operator": "Equal", "value": "gvisor",
                                      "effect": "NoSchedule"}]}}
MAP = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
       "metadata": {"name": "fn-gvisor"},
       "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                        "operations": ["CREATE"], "resources": ["pods"]}]},
                "reinvocationPolicy": "IfNeeded",
                "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": (
                    "Object{spec: Object.spec{runtimeClassName: 'gvisor'}}")}}]}}
MAPB = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": "fn-gvisor"},
        "spec": {"policyName": "fn-gvisor", "matchResources": {"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "openfaas-fn"}}}}}
PASSWORD = "Sup3rS3cretPassw0rdSup3rS3cretPa"
WATCHDOG = "ghcr.io/openfaas/alpine:latest"
# what a function's code does with the network, in the image's own shell (BusyBox)
REACH = ('d=$(mktemp -d); i=0; for t in $TARGETS; do i=$((i+1)); ('
         'h=${t%:*}; p=${t##*:}; out=$(timeout 3 nc -w 2 "$h" "$p" </dev/null 2>&1); rc=$?; '
         'case "$rc:$out" in 1:*"timed out"*) r=dropped;; 1:*refused*) r=refused;; 1:*) r=error;; '
         '*) r=connected;; esac; echo "$t $r" >"$d/$i") & done; wait; cat "$d"/*; rm -rf "$d"')
# a function that records what is POSTed to it (a callback: call id, function, status, body) and
# lists the records on GET
RECORD = ('f=$TMPDIR/records; if [ "$Http_Method" = GET ]; then cat "$f" 2>/dev/null; else '
          'printf "%s %s %s %s\\n" "$Http_X_Call_Id" "$Http_X_Function_Name" "$Http_X_Function_Status" "$(cat)" '
          '>>"$f"; fi; true')


def dep(name, containers, labels=None, sa=None):
    labels = labels or {"app": name}
    spec = {"containers": containers}
    if sa:
        spec["serviceAccountName"] = sa
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "openfaas"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def svc(name, port, selector, typ="ClusterIP", node_port=None):
    p = {"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}
    if node_port:
        p["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "openfaas"},
            "spec": {"type": typ, "selector": selector, "ports": [p]}}


def install(k):
    """The CE components as the shipped manifest has them (images, ports, the env that matters here)."""
    for n, labels in (("openfaas", {"role": "openfaas-system"}), ("openfaas-fn", {"role": "openfaas-fn"})):
        k.apply("/api/v1/namespaces/" + n, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": n, "labels": labels}})
    k.apply("/apis/node.k8s.io/v1/runtimeclasses/gvisor", RC)
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/fn-gvisor", MAP)
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings/fn-gvisor", MAPB)
    k.apply("/api/v1/namespaces/openfaas/secrets/basic-auth",
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "basic-auth", "namespace": "openfaas"},
             "type": "Opaque", "stringData": {"basic-auth-user": "admin", "basic-auth-password": PASSWORD}})
    gw = [{"name": "gateway", "image": "ghcr.io/openfaas/gateway:0.27.13",
           "env": [{"name": "upstream_timeout", "value": "1m"}, {"name": "functions_provider_url",
                                                                  "value": "http://127.0.0.1:8081/"},
                   {"name": "faas_nats_address", "value": "nats.openfaas.svc.cluster.local"}],
           "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                     {"name": "gw-metrics", "containerPort": 8082, "protocol": "TCP"}]},
          {"name": "faas-netes", "image": "ghcr.io/openfaas/faas-netes:0.18.17",
           "env": [{"name": "port", "value": "8081"}, {"name": "read_timeout", "value": "5s"},
                   {"name": "set_nonroot_user", "value": "true"}],
           "ports": [{"containerPort": 8081, "protocol": "TCP"}]}]
    k.apply("/apis/apps/v1/namespaces/openfaas/deployments/gateway", dep("gateway", gw))
    k.apply("/apis/apps/v1/namespaces/openfaas/deployments/nats", dep("nats", [
        {"name": "nats", "image": "nats-streaming:0.25.6", "ports": [{"containerPort": 4222, "protocol": "TCP"}]}]))
    k.apply("/apis/apps/v1/namespaces/openfaas/deployments/prometheus", dep("prometheus", [
        {"name": "prometheus", "image": "prom/prometheus:v3.11.3",
         "ports": [{"containerPort": 9090, "protocol": "TCP"}]}]))
    k.apply("/apis/apps/v1/namespaces/openfaas/deployments/queue-worker", dep("queue-worker", [
        {"name": "queue-worker", "image": "ghcr.io/openfaas/queue-worker:0.14.2",
         "env": [{"name": "faas_gateway_address", "value": "gateway.openfaas.svc.cluster.local"}]}]))
    k.apply("/api/v1/namespaces/openfaas/services/gateway", svc("gateway", 8080, {"app": "gateway"}))
    k.apply("/api/v1/namespaces/openfaas/services/gateway-external",
            svc("gateway-external", 8080, {"app": "gateway"}, "NodePort", 31112))
    k.apply("/api/v1/namespaces/openfaas/services/nats", svc("nats", 4222, {"app": "nats"}))
    k.apply("/api/v1/namespaces/openfaas/services/prometheus", svc("prometheus", 9090, {"app": "prometheus"}))
    for d in ("gateway", "nats", "prometheus", "queue-worker"):
        k.watch_until("/apis/apps/v1/namespaces/openfaas/deployments",
                      lambda o: (o.get("status") or {}).get("availableReplicas") == 1, field_name=d, timeout=60)
    deadline = time.monotonic() + 20
    while "31112" not in k.ok("GET", "/_kubesim/state", token="")["nodePorts"]:
        assert time.monotonic() < deadline, "nodePort listener never appeared"
        time.sleep(0.05)


def gw(k, method, path, body=None, auth=True, ctype=None, timeout=30, headers=None):
    hostport = k.ok("GET", "/_kubesim/state", token="")["nodePorts"]["31112"]
    host, port = hostport.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    h = {}
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    if ctype:
        h["Content-Type"] = ctype
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode()
    hdrs = dict(r.getheaders())
    c.close()
    return r.status, data, hdrs


def deploy_fn(k, name, fprocess, env=None):
    code, data, _ = gw(k, "POST", "/system/functions", {"service": name, "image": WATCHDOG, "envProcess": fprocess,
                                                        "envVars": env or {}})
    assert code == 202, (code, data)
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: (o.get("status") or {}).get("availableReplicas") == 1, field_name=name, timeout=60)


def pod_of(k, ns, label):
    items = [p for p in k.ok("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (ns, label))["items"]
             if p["status"].get("phase") == "Running"]
    assert items, (ns, label)
    return items[0]


def t_components(k, aws):
    """The OpenFaaS components' pods get namespaces and answer on their ports from there."""
    prerequisites()
    aws.set_groups([group("system", 2), group("gvisor", 1, user_data=node_config(GV_LABELS, [GV_TAINT], runsc=True))])
    k.watch_until("/api/v1/nodes", lambda o: o["metadata"]["labels"].get("eks.amazonaws.com/nodegroup") == "gvisor")
    install(k)
    net = k.ok("GET", "/_kubesim/state", token="")["network"]
    for d in ("gateway", "nats", "prometheus", "queue-worker"):
        p = pod_of(k, "openfaas", "app=" + d)
        assert p["metadata"]["uid"] in net["pods"] and net["pods"][p["metadata"]["uid"]]["ip"] == p["status"]["podIP"]
    ips = {s: k.ok("GET", "/api/v1/namespaces/openfaas/services/" + s)["spec"]["clusterIP"]
           for s in ("gateway", "nats", "prometheus")}
    qw = pod_of(k, "openfaas", "app=queue-worker")["metadata"]["name"]
    probes = [{"from": "openfaas/" + qw, "host": ips["nats"], "port": 4222, "timeout": 10},
              {"from": "openfaas/" + qw, "host": ips["gateway"], "port": 8080, "timeout": 10},
              {"from": "openfaas/" + qw, "host": ips["prometheus"], "port": 9090, "timeout": 10},
              {"from": "openfaas/" + qw, "host": ips["nats"], "port": 4223, "timeout": 10}]
    r = k.ok("POST", "/_kubesim/connect", {"probes": probes}, token="")["results"]
    assert [x["ok"] for x in r] == [True, True, True, False], r   # 4223: no port on the Service -> refused


def t_invoke(k):
    """Invocations reach the watchdog's real process: fprocess with the body on stdin, the request
    as Http_* variables, the kernel of the pod's runtime, set_nonroot_user honoured."""
    deploy_fn(k, "echo", "cat")
    deploy_fn(k, "env", "env")
    deploy_fn(k, "kernel", "dmesg")
    fn = pod_of(k, "openfaas-fn", "faas_function=echo")
    assert fn["spec"]["runtimeClassName"] == "gvisor" and fn["spec"]["containers"][0]["securityContext"][
        "runAsUser"] == 12000, fn["spec"]
    code, body, hdrs = gw(k, "POST", "/function/echo", "hello from the test", auth=False, ctype="text/x-test")
    assert code == 200 and body == "hello from the test" and hdrs["Content-Type"] == "text/x-test", (code, body, hdrs)
    assert float(hdrs["X-Duration-Seconds"]) > 0, hdrs
    code, body, _ = gw(k, "PUT", "/function/env/sub/path?a=1&b=2", "x", auth=False)
    assert code == 200, (code, body)
    env = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    assert env["Http_Method"] == "PUT" and env["Http_Path"] == "/sub/path" and env["Http_Query"] == "a=1&b=2", env
    assert env["Http_Content_Length"] == "1" and env["fprocess"] == "env" and "Http_X_Forwarded_For" in env, env
    code, body, _ = gw(k, "POST", "/function/kernel", "", auth=False)
    assert code == 200 and body.splitlines()[0].endswith("Starting gVisor..."), (code, body)
    # the same image under runc sees the node's kernel and may not read its log
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings/fn-gvisor",
            dict(MAPB, spec=dict(MAPB["spec"], matchResources={"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "nowhere"}}})))
    deploy_fn(k, "plain", "dmesg")
    code, body, _ = gw(k, "POST", "/function/plain", "", auth=False)
    assert code == 500 and body == "exit status 1\ndmesg: klogctl: Operation not permitted\n", (code, body)
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings/fn-gvisor", MAPB)
    gw(k, "DELETE", "/system/functions", {"functionName": "plain"})
    # a missing function and a function without a ready endpoint, as faas-netes answers them
    code, body, _ = gw(k, "POST", "/function/nothing", "", auth=False)
    assert code == 404, (code, body)


def wait_applied(k):
    rv = int(k.ok("GET", "/_kubesim/network-policy", token="")["resourceVersion"])
    deadline = time.monotonic() + 30
    while int(k.ok("GET", "/_kubesim/network-policy", token="")["appliedResourceVersion"]) < rv:
        assert time.monotonic() < deadline, "network rules did not catch up"
        time.sleep(0.02)


def netpol(name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "openfaas-fn"}, "spec": spec}


def t_policies(k):
    """NetworkPolicy judges the gateway's packets to functions and the functions' own packets."""
    assert k.ok("POST", "/_kubesim/network-policy", {"enforce": True}, token="")["enforce"] is True
    nats = k.ok("GET", "/api/v1/namespaces/openfaas/services/nats")["spec"]["clusterIP"]
    kube = k.ok("GET", "/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"]
    echo_ip = pod_of(k, "openfaas-fn", "faas_function=echo")["status"]["podIP"]
    targets = "nats.openfaas.svc.cluster.local:4222 %s:4222 %s:443 %s:8080" % (nats, kube, echo_ip)
    deploy_fn(k, "reach", 'sh -c eval$IFS"$REACH"', {"REACH": REACH, "TARGETS": targets})
    code, body, _ = gw(k, "POST", "/function/reach", "", auth=False)
    assert code == 200, (code, body)
    got = dict(line.split(" ", 1) for line in body.splitlines())
    assert set(got.values()) == {"connected"}, got   # nothing isolates functions yet
    base = "/apis/networking.k8s.io/v1/namespaces/openfaas-fn/networkpolicies/"
    # ingress only from the gateway's pods; egress only to cluster DNS
    k.apply(base + "from-gateway", netpol("from-gateway", {
        "podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openfaas"}},
                               "podSelector": {"matchLabels": {"app": "gateway"}}}],
                     "ports": [{"port": 8080, "protocol": "TCP"}]}]}))
    k.apply(base + "dns-only", netpol("dns-only", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}))
    wait_applied(k)
    code, body, _ = gw(k, "POST", "/function/reach", "", auth=False)
    assert code == 200, (code, body)
    got = dict(line.split(" ", 1) for line in body.splitlines())
    assert set(got.values()) == {"dropped"}, got    # name resolved (DNS allowed), every connection dropped
    code, body, _ = gw(k, "POST", "/function/echo", "still served", auth=False)
    assert code == 200 and body == "still served", (code, body)
    # a policy that shuts the gateway out: faas-netes gives up after its read_timeout (5s)
    k.apply(base + "from-gateway", netpol("from-gateway", {"podSelector": {}, "policyTypes": ["Ingress"]}))
    wait_applied(k)
    t0 = time.monotonic()
    code, body, hdrs = gw(k, "POST", "/function/echo", "x", auth=False)
    assert code == 500 and body == "Can't reach service for: echo.\n", (code, body)
    assert hdrs.get("X-Openfaas-Internal") == "proxy" and time.monotonic() - t0 >= 4.5, hdrs
    for n in ("from-gateway", "dns-only"):
        k.ok("DELETE", base + n)
    k.ok("POST", "/_kubesim/network-policy", {"enforce": False}, token="")


def records(k):
    """The record function's lines, by call id: (function, status, body)."""
    code, body, _ = gw(k, "GET", "/function/record", auth=False)
    assert code == 200, (code, body)
    return {p[0]: tuple(p[1:]) for p in (line.split(" ", 3) for line in body.splitlines()) if len(p) == 4}


def recorded(k, call_id, timeout=30):
    deadline = time.monotonic() + timeout
    while call_id not in records(k):
        assert time.monotonic() < deadline, "callback %s never arrived" % call_id
        time.sleep(0.1)
    return records(k)[call_id]


def t_async(k):
    """POST /async-function -> 202 + X-Call-Id; the queue-worker invokes the function through the
    gateway and POSTs the result to X-Callback-Url, from its own namespace: an egress policy on
    the queue-worker decides which callbacks leave."""
    deploy_fn(k, "record", 'sh -c eval$IFS"$RECORD"', {"RECORD": RECORD})
    to_gateway = {"X-Callback-Url": "http://gateway.openfaas:8080/function/record"}
    code, body, hdrs = gw(k, "POST", "/async-function/echo", "async hello", auth=False, headers=to_gateway)
    assert code == 202 and body == "" and len(hdrs.get("X-Call-Id", "")) == 36, (code, body, hdrs)
    assert recorded(k, hdrs["X-Call-Id"]) == ("echo", "200", "async hello")
    # a caller's own call id is kept; an unknown function is queued too and fails in the worker
    code, _, hdrs = gw(k, "POST", "/async-function/nothing/sub", "", auth=False,
                       headers=dict(to_gateway, **{"X-Call-Id": "caller-chosen"}))
    assert code == 202 and "X-Call-Id" not in hdrs, hdrs
    assert recorded(k, "caller-chosen")[:2] == ("nothing", "404")
    assert gw(k, "GET", "/async-function/echo", auth=False)[0] == 405
    # a callback to a pod's own address inside the VPC: delivered while nothing stops the worker ...
    inner = {"X-Callback-Url": "http://%s:8080/" % pod_of(k, "openfaas-fn", "faas_function=record")["status"]["podIP"]}
    code, _, hdrs = gw(k, "POST", "/async-function/echo", "inner 1", auth=False, headers=inner)
    assert code == 202 and recorded(k, hdrs["X-Call-Id"]) == ("echo", "200", "inner 1")
    # ... and dropped once an egress policy lets it reach only DNS and the gateway
    k.apply("/apis/networking.k8s.io/v1/namespaces/openfaas/networkpolicies/qw-egress", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "qw-egress", "namespace": "openfaas"},
        "spec": {"podSelector": {"matchLabels": {"app": "queue-worker"}}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "gateway"}}}],
                             "ports": [{"port": 8080, "protocol": "TCP"}]},
                            {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                             "ports": [{"port": 53, "protocol": "UDP"}]}]}})
    assert k.ok("POST", "/_kubesim/network-policy", {"enforce": True}, token="")["enforce"] is True
    wait_applied(k)
    try:
        code, _, dropped = gw(k, "POST", "/async-function/echo", "inner 2", auth=False, headers=inner)
        assert code == 202
        code, _, hdrs = gw(k, "POST", "/async-function/echo", "outer", auth=False, headers=to_gateway)
        assert code == 202
        # one message at a time: once the later callback is in, the earlier one was tried and lost
        assert recorded(k, hdrs["X-Call-Id"]) == ("echo", "200", "outer")
        assert dropped["X-Call-Id"] not in records(k)
        qw = pod_of(k, "openfaas", "app=queue-worker")["metadata"]["name"]
        logs = k.call("GET", "/api/v1/namespaces/openfaas/pods/%s/log" % qw)[1]
        assert "Error posting to callback-url: error posting result to URL %s" % inner["X-Callback-Url"] in logs and \
            "i/o timeout" in logs, logs[-1500:]
    finally:
        k.ok("DELETE", "/apis/networking.k8s.io/v1/namespaces/openfaas/networkpolicies/qw-egress")
        k.ok("POST", "/_kubesim/network-policy", {"enforce": False}, token="")


def register(run, Kubesim, tmp, aws):
    k = Kubesim(tmp, aws=aws, extra=["--version", "1.36"])
    try:
        if not run.run("OpenFaaS components answer from their pods' namespaces", t_components, k, aws):
            return
        run.run("gateway -> function's watchdog over the pod network (fprocess, Http_*, kernel view)", t_invoke, k)
        run.run("NetworkPolicy judges gateway->function and function->anything packets", t_policies, k)
        run.run("async invocations: queue-worker invokes via the gateway, callbacks from its namespace", t_async, k)
    finally:
        k.stop()
