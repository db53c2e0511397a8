"""k8s suite: secfaas's Kubernetes side end to end against kubesim.

The objects a Cluster lowers to (RuntimeClass, OpenFaaS CE, the gVisor
admission guard, the generated basic-auth Secret) are emitted as a
`kind: Stack` spec by the unit-test generator (test_kube_lower emit) and
pointed at a kubesim on loopback whose nodes come from the kubesim harness's
fake AWS (a system group and a gVisor group).  Then: apply, a second plan
with no changes, functions deployed through the gateway end up in gVisor,
the guard refuses host access and privilege in every kind of container
(ephemeral ones added later too) and an older guard is drift,
the queue-worker's callbacks kept out of the VPC by its egress policy,
verify passes and fails when the route is broken, drift and conflicts,
secrets never printed, real kubectl with the written kubeconfig, v1.36
mutating admission (and a broken mutator refusing pods), LoadBalancer
teardown, destroy leaving nothing.  Waiting is polling with deadlines on
observable state, never fixed sleeps.
"""
import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import env  # noqa: E402
from env import harness  # noqa: E402

SRC = os.environ.get("SECFAAS_SRC") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("SECFAAS_BUILD") or os.path.join(SRC, "build")
SECFAAS = os.environ.get("SECFAAS") or os.path.join(BUILD, "secfaas")
TMP = tempfile.mkdtemp()
PASSPHRASE = "k8s-suite-passphrase-0123456789"


def kube_commands():
    """secfaas itself once main.c has the commands, else a driver over the library."""
    r = subprocess.run([SECFAAS, "verify", "--help"], capture_output=True, text=True)
    if r.returncode == 0 and "verify" in r.stdout:
        return SECFAAS
    out = os.path.join(TMP, "kubecmd")
    libs = subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl", "jansson", "yaml-0.1", "sqlite3", "openssl",
                           "libxml-2.0", "libgit2"], capture_output=True, text=True, check=True).stdout.split()
    san = ["-fsanitize=address,undefined"] if "asan" in os.path.basename(os.path.normpath(BUILD)) else []
    subprocess.run(["cc"] + san + ["-std=c11", "-D_GNU_SOURCE", "-I" + SRC, "-I" + SRC + "/lib",
                    "-o", out, os.path.join(HERE, "kubecmd.c"), os.path.join(BUILD, "libsecfaas.a")] + libs +
                   ["-lpthread", "-lm"], check=True)
    return out


KUBECMD = kube_commands()


class Work:
    """A workspace directory with a generated Stack spec for one cluster."""

    def __init__(self, cluster, name="demo", **emit):
        self.c = cluster
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.name = name
        self.env = dict(os.environ, NO_COLOR="1", SECFAAS_STATE_PASSPHRASE=PASSPHRASE, HOME=self.dir,
                        KUBECACHEDIR=self.dir + "/kcache")
        self.env.pop("SECFAAS_FORCE_CONFLICTS", None)
        self.emit(**emit)

    def emit(self, **emit):
        """(Re)write s.yaml from the lowering, e.g. emit(SF_K8S_MUTATOR="webhook")."""
        gen = dict(self.env, SF_K8S_EMIT=self.dir + "/s.yaml", SF_K8S_ENDPOINT=self.c.url, SF_K8S_CA=self.c.ca_b64,
                   SF_K8S_TOKEN=self.c.token, SF_K8S_WORKSPACE=self.name)
        gen.update(emit)
        subprocess.run([os.path.join(BUILD, "tests", "test_kube_lower"), "emit"], env=gen, check=True,
                       capture_output=True)

    def run(self, *args, binary=None, env=None, want=None):
        e = dict(self.env)
        e.update(env or {})
        r = subprocess.run([binary or SECFAAS] + list(args), cwd=self.dir, capture_output=True, text=True, env=e,
                           timeout=300)
        if want is not None and r.returncode != want:
            raise AssertionError("%s exited %d, wanted %d:\n%s\n%s" % (" ".join(args), r.returncode, want,
                                                                        r.stdout[-3000:], r.stderr[-3000:]))
        return r

    def kube(self, *args, want=None):
        return self.run(*args, binary=KUBECMD, want=want)


def until(pred, what, timeout=30):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def gateway(k, method, path, body=None):
    """The gateway through its NodePort (basic auth from the live Secret)."""
    st = k.ok("GET", "/_kubesim/state", token="")
    hostport = st["nodePorts"]["31112"]
    harness.assert_loopback("http://" + hostport)
    sec = k.ok("GET", "/api/v1/namespaces/openfaas/secrets/basic-auth")
    user = base64.b64decode(sec["data"]["basic-auth-user"]).decode()
    pw = base64.b64decode(sec["data"]["basic-auth-password"]).decode()
    req = urllib.request.Request("http://%s%s" % (hostport, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def fn_pods(k, name):
    return k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods?labelSelector=faas_function%3D" + name)["items"]


def running_pod(k, name):
    for p in fn_pods(k, name):
        if p.get("status", {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
            return p
    return None


def cond(obj, typ):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == typ:
            return c
    return None


def exists(k, path):
    return k.call("GET", path)[0] == 200


# ----------------------------------------------------------------------------- tests

def t_install_and_converge(w):
    k = w.c.k
    r = w.run("apply", "s.yaml", "--auto-approve", want=0)
    assert "Apply complete! Resources: 36 added" in r.stdout, r.stdout[-500:]
    # the guard's self-test probes are no cause for the API server's warnings
    assert "would violate PodSecurity" not in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
    rc = k.ok("GET", "/apis/node.k8s.io/v1/runtimeclasses/gvisor")
    assert rc["handler"] == "runsc", rc
    assert rc["scheduling"]["nodeSelector"] == {env.SANDBOX_KEY: "gvisor"}, rc
    assert rc["scheduling"]["tolerations"][0]["key"] == env.SANDBOX_KEY
    for d in ("nats", "gateway", "queue-worker", "prometheus", "alertmanager"):
        dep = k.ok("GET", "/apis/apps/v1/namespaces/openfaas/deployments/" + d)
        assert dep["status"].get("availableReplicas") == 1, (d, dep["status"])
        assert all(":latest" not in c["image"] for c in dep["spec"]["template"]["spec"]["containers"])
    crd = k.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/functions.openfaas.com")
    assert cond(crd, "Established")["status"] == "True"
    assert exists(k, "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/secfaas-openfaas-fn-gvisor-only")
    # nats before the gateway: apply order follows the phases
    reqs = k.ok("GET", "/_kubesim/requests", token="")
    reqs = reqs if isinstance(reqs, list) else reqs.get("requests", [])
    patches = [q["path"] for q in reqs if q.get("method") == "PATCH" and "/deployments/" in q.get("path", "")]
    assert patches.index("/apis/apps/v1/namespaces/openfaas/deployments/nats") < \
        patches.index("/apis/apps/v1/namespaces/openfaas/deployments/gateway"), patches
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 0 and "No changes." in r.stdout, r.stdout[-2000:]


def t_secret_never_printed(w):
    k = w.c.k
    sec = k.ok("GET", "/api/v1/namespaces/openfaas/secrets/basic-auth")
    pw = base64.b64decode(sec["data"]["basic-auth-password"]).decode()
    assert len(pw) == 32 and pw.isalnum(), pw
    outs = [w.run("plan", "s.yaml").stdout, w.run("state", "show", "k8s_basic_auth.openfaas").stdout,
            w.kube("output", w.name, want=0).stdout]
    for o in outs:
        assert pw not in o, o
    assert "(sensitive value)" in outs[2]
    shown = w.kube("output", w.name, "--show-sensitive", want=0).stdout
    assert pw in shown, shown
    js = json.loads(w.kube("--json", "output", w.name, "--show-sensitive", want=0).stdout)
    assert js["openfaas_password"] == {"value": pw, "type": "string", "sensitive": True}, js
    assert js["openfaas_username"]["value"] == "admin", js
    # encrypted at rest: the state file never holds the password in clear
    for f in os.listdir(w.dir + "/.secfaas"):
        with open(os.path.join(w.dir, ".secfaas", f), "rb") as fh:
            assert pw.encode() not in fh.read(), f
    # a second apply (and a resumed create) keeps the same password
    w.run("apply", "s.yaml", "--auto-approve", want=0)
    sec2 = k.ok("GET", "/api/v1/namespaces/openfaas/secrets/basic-auth")
    assert sec2["data"]["basic-auth-password"] == sec["data"]["basic-auth-password"]
    # a saved plan holds no secret in clear: not the admin password, not the
    # webhook's CA or TLS keys (all in the prior state), not the API token the
    # spec gives (sealed with the state's key; apply opens it)
    tls = k.ok("GET", "/api/v1/namespaces/openfaas/secrets/secfaas-gvisor-webhook-tls")
    tls_key = base64.b64decode(tls["data"]["tls.key"]).decode()
    assert "PRIVATE KEY" in tls_key
    w.run("plan", "s.yaml", "--out", "noop.plan", want=0)
    with open(w.dir + "/noop.plan") as f:
        text = f.read()
    for secret, what in ((pw, "admin password"), ("PRIVATE KEY", "a private key"), (w.c.token, "API token")):
        assert secret not in text, "the plan file holds the %s in clear" % what
    assert '"$enc"' in text and '"$sensitive"' in text
    # a create that finds the Secret (state lost, or a run killed after the
    # write) adopts its password instead of generating a new one; through a
    # saved plan, so apply must open the sealed token to reach the cluster
    w.run("state", "rm", "k8s_basic_auth.openfaas", want=0)
    w.run("plan", "s.yaml", "--out", "adopt.plan", want=0)
    with open(w.dir + "/adopt.plan") as f:
        text = f.read()
    assert w.c.token not in text and pw not in text and "PRIVATE KEY" not in text
    r = w.run("apply", "adopt.plan", want=0)
    assert "1 added" in r.stdout, r.stdout[-500:]
    sec3 = k.ok("GET", "/api/v1/namespaces/openfaas/secrets/basic-auth")
    assert sec3["data"]["basic-auth-password"] == sec["data"]["basic-auth-password"]
    assert json.loads(w.kube("--json", "output", w.name, "--show-sensitive",
                             want=0).stdout)["openfaas_password"]["value"] == pw


WEBHOOK = "/apis/apps/v1/namespaces/openfaas/deployments/secfaas-gvisor-webhook"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/secfaas-openfaas-fn-gvisor"


def refused_deployment(k, name):
    """Deployment `name` in openfaas-fn once its pod creates are refused."""
    return until(lambda: (lambda o: o if cond(o, "ReplicaFailure") else None)(
        k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/" + name)), "pods of %s to be refused" % name)


def dry_pod(k):
    """Dry-run create of a plain pod in openfaas-fn: (status, body)."""
    return k.call("POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All",
                  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
                   "spec": {"containers": [{"name": "c", "image": "ghcr.io/openfaas/alpine:3.20"}]}})[:2]


def t_tenant_function_lands_in_gvisor(w):
    """v1.32 (no MutatingAdmissionPolicy): the webhook secfaas runs in the
    cluster mutates a tenant's function pod into gVisor, with nobody
    re-running secfaas; plan stays clean."""
    k = w.c.k
    st = w.run("state", "show", "k8s_gvisor_guard.openfaas_fn", want=0).stdout
    assert "webhook" in st and "mutating-admission-policy" not in st, st
    assert "BEGIN PRIVATE KEY" not in st and "BEGIN CERTIFICATE" in st, st
    code, body = gateway(k, "POST", "/system/functions", {"service": "tenant1", "image": "ghcr.io/openfaas/alpine:3.20",
                                                          "envProcess": "dmesg"})
    assert code == 202, (code, body)
    p = until(lambda: running_pod(k, "tenant1"), "tenant1 to run")
    assert p["spec"]["runtimeClassName"] == "gvisor"
    assert p["spec"]["nodeSelector"] == {env.SANDBOX_KEY: "gvisor"}, p["spec"]
    # no service-account token, and the safe restricted defaults
    assert p["spec"]["automountServiceAccountToken"] is False, p["spec"]
    assert not [v for v in p["spec"].get("volumes") or [] if "projected" in v], p["spec"]
    assert not [m for c in p["spec"]["containers"] for m in c.get("volumeMounts") or []
                if m["mountPath"].startswith("/var/run/secrets/kubernetes.io")], p["spec"]
    sc = p["spec"]["containers"][0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}, sc
    assert p["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, p["spec"]
    # asking for a token back, or for escalation, is refused
    for extra, why in (({"automountServiceAccountToken": True}, "service-account token"),):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "asks"},
               "spec": dict({"runtimeClassName": "gvisor", "containers": [{"name": "c", "image": "ghcr.io/openfaas/alpine:3.20"}]},
                            **extra)}
        code, body = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All", pod)[:2]
        assert code in (403, 422) and why in json.dumps(body), (code, body)
    dep = k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/tenant1")
    assert "runtimeClassName" not in dep["spec"]["template"]["spec"]  # mutated at admission, not patched
    node = k.ok("GET", "/api/v1/nodes/" + p["spec"]["nodeName"])
    assert node["metadata"]["labels"].get(env.SANDBOX_KEY) == "gvisor"
    code, body = k.call("POST", "/api/v1/namespaces/openfaas/services/gateway:8080/proxy/function/tenant1", "")[:2]
    # the watchdog ran dmesg in the pod: the kernel its runtime (runsc) presents
    assert code == 200 and body.startswith("[") and "Starting gVisor" in body.splitlines()[0], body
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout[-1500:]
    # the webhook server is the shipped code: its log shows the request
    pods = k.ok("GET", "/api/v1/namespaces/openfaas/pods?labelSelector=app.kubernetes.io%2Fname%3Dsecfaas-gvisor-webhook")
    logs = "".join(k.call("GET", "/api/v1/namespaces/openfaas/pods/%s/log" % q["metadata"]["name"])[1] or ""
                   for q in pods["items"]) if pods["items"] else ""
    assert "patched=True" in logs, logs[-800:]
    assert gateway(k, "DELETE", "/system/functions", {"functionName": "tenant1"})[0] == 202


GUARD_VAP = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/secfaas-openfaas-fn-gvisor-only"
GUARD_DENIED = ("ValidatingAdmissionPolicy 'secfaas-openfaas-fn-gvisor-only' with binding "
                "'secfaas-openfaas-fn-gvisor-only' denied request: openfaas-fn pods ")
FN_IMAGE = "ghcr.io/openfaas/alpine:3.20"


def fn_pod(name, **spec):
    """A pod shaped like a function's, in gVisor and without a token, plus `spec`."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": dict({"runtimeClassName": "gvisor", "automountServiceAccountToken": False,
                          "containers": [{"name": "fn", "image": FN_IMAGE}]}, **spec)}


def pod_security(k, level):
    """Set openfaas-fn's Pod Security enforce level (baseline is what secfaas applies)."""
    k.ok("PATCH", "/api/v1/namespaces/openfaas-fn",
         {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": level}}}, ctype="application/merge-patch+json")


def t_guard_every_container(w):
    """The deny guard on its own (Pod Security relaxed to privileged, as a namespace admin could,
    so it cannot refuse first) refuses a privileged init container, a hostPath volume, a host
    port, and a privileged ephemeral container added to a running pod through the
    pods/ephemeralcontainers subresource; an ordinary function pod and a plain ephemeral
    container are still admitted.  A guard older than the binary's, or edited, is drift that
    apply replaces."""
    k = w.c.k
    P = "/api/v1/namespaces/openfaas-fn/pods"
    E = P + "/debugged/ephemeralcontainers"
    smp = "application/strategic-merge-patch+json"
    priv = {"privileged": True}
    hostpath = fn_pod("hostpath", volumes=[{"name": "etc", "hostPath": {"path": "/etc"}}])
    pod_security(k, "privileged")
    try:
        code, body = k.call("POST", P + "?dryRun=All", fn_pod("plain"))[:2]
        assert code == 201 and body["spec"]["runtimeClassName"] == "gvisor", (code, body)
        for pod, why in ((fn_pod("init", initContainers=[{"name": "setup", "image": FN_IMAGE, "securityContext": priv}]),
                          "may not run privileged containers"),
                         (hostpath, "may not mount hostPath volumes"),
                         (fn_pod("hostport", containers=[{"name": "fn", "image": FN_IMAGE, "ports": [
                             {"containerPort": 8080, "hostPort": 8080}]}]), "may not use hostPort")):
            code, body = k.call("POST", P + "?dryRun=All", pod)[:2]
            assert code == 422 and body["message"].startswith(GUARD_DENIED + why), (pod["metadata"]["name"], code, body)
        k.ok("POST", P, fn_pod("debugged"))
        got = k.ok("PATCH", E + "?dryRun=All", {"spec": {"ephemeralContainers": [{"name": "dbg", "image": FN_IMAGE}]}},
                   ctype=smp)
        assert [c["name"] for c in got["spec"]["ephemeralContainers"]] == ["dbg"], got["spec"]
        code, body = k.call("PATCH", E, {"spec": {"ephemeralContainers": [
            {"name": "root", "image": FN_IMAGE, "targetContainerName": "fn", "securityContext": priv}]}}, ctype=smp)[:2]
        assert code == 422 and body["message"].startswith(GUARD_DENIED + "may not run privileged containers"), (code, body)
        assert not k.ok("GET", P + "/debugged")["spec"].get("ephemeralContainers")
        # an older guard (or one edited in the cluster) without the hostPath check: plan names
        # it, apply puts the binary's back
        vap = k.ok("GET", GUARD_VAP)
        vap = {"apiVersion": vap["apiVersion"], "kind": vap["kind"], "metadata": {"name": vap["metadata"]["name"]},
               "spec": dict(vap["spec"], validations=[v for v in vap["spec"]["validations"]
                                                      if "hostPath" not in v["expression"]])}
        k.apply(GUARD_VAP, vap, manager="saboteur", force=True)
        assert k.call("POST", P + "?dryRun=All", hostpath)[0] == 201
    finally:
        pod_security(k, "baseline")
        k.call("DELETE", P + "/debugged")
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 2 and "k8s_gvisor_guard.openfaas_fn" in r.stdout and \
        "ValidatingAdmissionPolicy secfaas-openfaas-fn-gvisor-only is not the one secfaas installs" in r.stdout, \
        r.stdout[-2000:]
    w.run("apply", "s.yaml", "--auto-approve", want=0)
    assert any("hostPath" in v["expression"] for v in k.ok("GET", GUARD_VAP)["spec"]["validations"])
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout[-2000:]


# what a function's code does with the network, in its image's own shell (BusyBox): connect to each
# of $TARGETS at once and say how it went (dropped = a policy said no, refused = nothing listens)
REACH = ('d=$(mktemp -d); i=0; for t in $TARGETS; do i=$((i+1)); ('
         'h=${t%:*}; p=${t##*:}; out=$(timeout 4 nc -w 3 "$h" "$p" </dev/null 2>&1); rc=$?; '
         'case "$rc:$out" in 1:*"timed out"*) r=dropped;; 143:*|124:*) r=dropped;; 1:*refused*) r=refused;; '
         '1:*) r=error;; *) r=connected;; esac; echo "$t $r" >"$d/$i") & done; wait; cat "$d"/*; rm -rf "$d"')
NETPOLS = {"openfaas-fn": ["secfaas-default-deny", "secfaas-dns", "secfaas-from-gateway"],
           "openfaas": ["secfaas-alertmanager", "secfaas-nats", "secfaas-prometheus", "secfaas-queue-worker-egress"]}


def enforce(k, on):
    assert k.ok("POST", "/_kubesim/network-policy", {"enforce": on}, token="")["enforce"] is on
    rv = int(k.ok("GET", "/_kubesim/network-policy", token="")["resourceVersion"])
    until(lambda: int(k.ok("GET", "/_kubesim/network-policy", token="")["appliedResourceVersion"]) >= rv,
          "network rules to catch up")


def reach(k, name):
    code, body = k.call("POST", "/api/v1/namespaces/openfaas/services/gateway:8080/proxy/function/" + name, "")[:2]
    assert code == 200, (code, body)
    return dict(line.split(" ", 1) for line in body.splitlines())


def t_network_policies(w):
    """The default policies are in the cluster; with the network policy agent on (as the vpc-cni
    add-on's enableNetworkPolicy does), a function reached through the gateway still answers,
    but its own connections to NATS, the Kubernetes API, the webhook, the metadata service and
    another function's pod are dropped; a deleted policy is drift that apply puts back."""
    k = w.c.k
    for ns, names in NETPOLS.items():
        got = sorted(p["metadata"]["name"] for p in k.ok("GET", "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies"
                                                          % ns)["items"])
        assert got == names, (ns, got)
    svc = lambda ns, n: k.ok("GET", "/api/v1/namespaces/%s/services/%s" % (ns, n))["spec"]["clusterIP"]  # noqa: E731
    code, body = gateway(k, "POST", "/system/functions", {"service": "other", "image": "ghcr.io/openfaas/alpine:3.20",
                                                          "envProcess": "cat"})
    assert code == 202, (code, body)
    other = until(lambda: running_pod(k, "other"), "function other to run")
    targets = {"nats": "%s:4222" % svc("openfaas", "nats"), "kubernetes API": "%s:443" % svc("default", "kubernetes"),
               "webhook": "%s:443" % svc("openfaas", "secfaas-gvisor-webhook"),
               "metadata service": "169.254.169.254:80", "another function": "%s:8080" % other["status"]["podIP"]}
    code, body = gateway(k, "POST", "/system/functions", {"service": "reach", "image": "ghcr.io/openfaas/alpine:3.20",
                                                          "envProcess": 'sh -c eval$IFS"$REACH"',
                                                          "envVars": {"REACH": REACH,
                                                                      "TARGETS": " ".join(targets.values())}})
    assert code == 202, (code, body)
    until(lambda: running_pod(k, "reach") and k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/reach")[
        "status"].get("availableReplicas") == 1, "function reach to be available", timeout=120)
    # not enforced (no agent): every target answers, so the probe can tell
    got = reach(k, "reach")
    assert all(got[t] == "connected" for t in targets.values()), got
    enforce(k, True)
    try:
        got = reach(k, "reach")  # the gateway reaches the function ...
        bad = {n: got.get(t) for n, t in targets.items() if got.get(t) != "dropped"}
        assert not bad, bad      # ... which reaches none of them
        # deleted policies are drift: plan names them, apply puts them back (both egress
        # policies go, since either alone keeps the functions' egress isolated)
        for n in ("secfaas-default-deny", "secfaas-dns"):
            k.ok("DELETE", "/apis/networking.k8s.io/v1/namespaces/openfaas-fn/networkpolicies/" + n)
        enforce(k, True)
        # (NATS and the other function stay closed by their own ingress policies)
        got = reach(k, "reach")
        assert got[targets["kubernetes API"]] == "connected" and got[targets["nats"]] == "dropped", got
        r = w.run("plan", "s.yaml", "--detailed-exitcode")
        assert r.returncode == 2 and "of_networkpolicy_openfaas_fn_secfaas_default_deny" in r.stdout and \
            "of_networkpolicy_openfaas_fn_secfaas_dns" in r.stdout, r.stdout[-1500:]
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        enforce(k, True)
        assert reach(k, "reach")[targets["kubernetes API"]] == "dropped"
        assert w.run("plan", "s.yaml", "--detailed-exitcode").returncode == 0
    finally:
        enforce(k, False)
        for n in ("reach", "other"):
            gateway(k, "DELETE", "/system/functions", {"functionName": n})


# a function that records what is POSTed to it (a callback: call id, function, status, body) and
# lists the records on GET, in its image's own shell
RECORD = ('f=$TMPDIR/records; if [ "$Http_Method" = GET ]; then cat "$f" 2>/dev/null; else '
          'printf "%s %s %s %s\\n" "$Http_X_Call_Id" "$Http_X_Function_Name" "$Http_X_Function_Status" "$(cat)" '
          '>>"$f"; fi; true')
# a server of no OpenFaaS component, inside the VPC: prints every callback it gets
LISTENER = ("import http.server\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_POST(self):\n"
            "        body = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()\n"
            "        print('callback', self.headers.get('X-Call-Id'), self.headers.get('X-Function-Name'), body, flush=True)\n"
            "        self.send_response(200)\n"
            "        self.send_header('Content-Length', '0')\n"
            "        self.end_headers()\n"
            "    def log_message(self, *a):\n"
            "        pass\n"
            "http.server.HTTPServer(('', 8080), H).serve_forever()\n")


def async_call(k, name, body, callback):
    """POST /async-function/<name> through the NodePort with an X-Callback-Url: the call id."""
    hostport = k.ok("GET", "/_kubesim/state", token="")["nodePorts"]["31112"]
    harness.assert_loopback("http://" + hostport)
    req = urllib.request.Request("http://%s/async-function/%s" % (hostport, name), method="POST", data=body.encode(),
                                 headers={"X-Callback-Url": callback})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 202, r.status
        return r.headers["X-Call-Id"]


def recorded(k):
    code, body = gateway(k, "GET", "/function/record")
    assert code == 200, (code, body)
    return {p[0]: tuple(p[1:]) for p in (line.split(" ", 3) for line in body.splitlines()) if len(p) == 4}


def pod_log(k, ns, name):
    return k.call("GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, name))[1] or ""


def t_async_callbacks(w):
    """With the network policy agent on, the queue-worker delivers an async invocation's result
    to a callback through the gateway, but a callback aimed inside the VPC (a pod's address) is
    dropped by secfaas-queue-worker-egress; without that policy the same callback arrives."""
    k = w.c.k
    for fn, proc, env_vars in (("echo", "cat", {}), ("record", 'sh -c eval$IFS"$RECORD"', {"RECORD": RECORD})):
        code, body = gateway(k, "POST", "/system/functions", {"service": fn, "image": "ghcr.io/openfaas/alpine:3.20",
                                                              "envProcess": proc, "envVars": env_vars})
        assert code == 202, (code, body)
    k.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "inner"}})
    k.ok("POST", "/api/v1/namespaces/inner/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "listener"},
        "spec": {"containers": [{"name": "listener", "image": "python:3.12-slim",
                                 "command": ["python3", "-c", LISTENER],
                                 "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                 "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}})
    policy = "/apis/networking.k8s.io/v1/namespaces/openfaas/networkpolicies/secfaas-queue-worker-egress"
    deleted = False
    try:
        for fn in ("echo", "record"):
            until(lambda: k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/" + fn).get("status", {}).get(
                "availableReplicas") == 1, "function %s to be available" % fn, timeout=120)
        lst = until(lambda: (lambda p: p if cond(p, "Ready") and cond(p, "Ready")["status"] == "True" else None)(
            k.ok("GET", "/api/v1/namespaces/inner/pods/listener")), "the listener to be ready", timeout=60)
        inner = "http://%s:8080/" % lst["status"]["podIP"]
        outer = "http://gateway.openfaas:8080/function/record"
        enforce(k, True)
        lost = async_call(k, "echo", "aimed inside", inner)
        kept = async_call(k, "echo", "through the gateway", outer)
        # the worker takes one message at a time: once the later callback is in, the earlier was tried
        assert until(lambda: recorded(k).get(kept), "the callback through the gateway") == \
            ("echo", "200", "through the gateway")
        assert lost not in pod_log(k, "inner", "listener")
        qw = until(lambda: [p for p in k.ok("GET", "/api/v1/namespaces/openfaas/pods?labelSelector=app%3Dqueue-worker")[
            "items"] if p["status"].get("phase") == "Running"], "a running queue-worker")[0]["metadata"]["name"]
        log = pod_log(k, "openfaas", qw)
        assert "Error posting to callback-url: error posting result to URL %s" % inner in log and \
            "i/o timeout" in log, log[-1500:]
        # the policy is what stops it: without it the same callback arrives
        k.ok("DELETE", policy)
        deleted = True
        enforce(k, True)
        arrived = async_call(k, "echo", "aimed inside again", inner)
        until(lambda: arrived in pod_log(k, "inner", "listener"), "the inner callback without the policy")
        assert "callback %s echo aimed inside again" % arrived in pod_log(k, "inner", "listener")
        assert lost not in pod_log(k, "inner", "listener")  # a lost callback is never retried
    finally:
        enforce(k, False)
        if deleted:
            w.run("apply", "s.yaml", "--auto-approve", want=0)
            assert exists(k, policy)
        k.call("DELETE", "/api/v1/namespaces/inner")
        for fn in ("echo", "record"):
            gateway(k, "DELETE", "/system/functions", {"functionName": fn})


def t_function_limits(w):
    """The quota counts function pods; a container asking more than the LimitRange's max is refused."""
    k = w.c.k
    q = k.ok("GET", "/api/v1/namespaces/openfaas-fn/resourcequotas/secfaas-functions")
    assert q["spec"]["hard"] == {"pods": "100", "limits.cpu": "32", "limits.memory": "64Gi"}, q["spec"]
    used = lambda: int(k.ok("GET", "/api/v1/namespaces/openfaas-fn/resourcequotas/secfaas-functions")[  # noqa: E731
        "status"].get("used", {}).get("pods", "0"))

    def charged():
        # what the quota charges: neither terminal nor terminating (pods of
        # earlier cases may still be going away while this one runs)
        return [p["metadata"]["name"] for p in k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods")["items"]
                if p["status"].get("phase") not in ("Succeeded", "Failed")
                and not p["metadata"].get("deletionTimestamp")]
    code, body = gateway(k, "POST", "/system/functions", {"service": "small", "image": "ghcr.io/openfaas/alpine:3.20",
                                                          "envProcess": "cat"})
    assert code == 202, (code, body)
    p = until(lambda: running_pod(k, "small"), "function small to run")
    assert p["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}, p["spec"]

    def counted():
        names = charged()
        return p["metadata"]["name"] in names and used() == len(names)
    until(counted, "the quota to count the pod with the others", timeout=120)
    code, body = gateway(k, "POST", "/system/functions", {"service": "big", "image": "ghcr.io/openfaas/alpine:3.20",
                                                          "envProcess": "cat", "limits": {"cpu": "3"}})
    assert code == 202, (code, body)
    msg = cond(refused_deployment(k, "big"), "ReplicaFailure")["message"]
    assert "maximum cpu usage per container is 2, but limit is 3" in msg.lower(), msg
    for n in ("small", "big"):
        assert gateway(k, "DELETE", "/system/functions", {"functionName": n})[0] == 202


def t_webhook_code():
    """The shipped webhook server's decisions, case by case, with its
    patches applied by kubesim's RFC 6902 implementation."""
    import importlib.util
    sys.path.insert(0, os.path.join(SRC, "tests", "kubesim"))
    from ksim import ssa
    os.environ.update(RUNTIME_CLASS="gvisor", SANDBOX_KEY=env.SANDBOX_KEY, SANDBOX_VALUE="gvisor",
                      SANDBOX_EFFECT="NoSchedule", GUARDED_NAMESPACE="openfaas-fn")
    spec = importlib.util.spec_from_file_location("gvwebhook", os.path.join(SRC, "manifests", "k8s", "gvisor-webhook.py"))
    wh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wh)
    tol = {"key": env.SANDBOX_KEY, "operator": "Equal", "value": "gvisor", "effect": "NoSchedule"}

    def review(pod, ns="openfaas-fn", op="CREATE", kind="Pod"):
        out = wh.review(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                    "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": kind},
                                                "operation": op, "namespace": ns, "object": pod}}).encode())
        r = out["response"]
        assert out["kind"] == "AdmissionReview" and r["uid"] == "u-1" and r["allowed"] is True, out
        if "patch" not in r:
            return None
        assert r["patchType"] == "JSONPatch"
        return ssa.json_patch(json.loads(json.dumps(pod)), json.loads(base64.b64decode(r["patch"])))

    # faas-netes CE shape: empty nodeSelector, no class, no tolerations
    got = review({"spec": {"nodeSelector": {}, "containers": [{"name": "fn"}]}})
    assert got["spec"]["runtimeClassName"] == "gvisor"
    assert got["spec"]["nodeSelector"] == {env.SANDBOX_KEY: "gvisor"} and got["spec"]["tolerations"] == [tol], got
    # and the safe restricted defaults: no token, RuntimeDefault seccomp, no escalation, no capabilities
    assert got["spec"]["automountServiceAccountToken"] is False, got
    assert got["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}, got
    assert got["spec"]["containers"] == [{"name": "fn", "securityContext": {"allowPrivilegeEscalation": False,
                                                                            "capabilities": {"drop": ["ALL"]}}}], got
    # a pod's own profile and other securityContext fields are kept; a re-enabled escalation is taken away
    got = review({"spec": {"securityContext": {"runAsUser": 12000, "seccompProfile": {"type": "Localhost",
                                                                                      "localhostProfile": "p.json"}},
                           "containers": [{"name": "fn", "securityContext": {"readOnlyRootFilesystem": True,
                                                                              "allowPrivilegeEscalation": True,
                                                                              "capabilities": {"add": ["NET_ADMIN"]}}}]}})
    assert got["spec"]["securityContext"]["seccompProfile"]["type"] == "Localhost", got
    c = got["spec"]["containers"][0]["securityContext"]
    assert c["readOnlyRootFilesystem"] is True and c["allowPrivilegeEscalation"] is False, c
    assert c["capabilities"] == {"add": ["NET_ADMIN"], "drop": ["ALL"]}, c   # the add is the guard's to refuse
    # other selectors and tolerations are kept; another class is replaced
    got = review({"spec": {"runtimeClassName": "runc-fast", "nodeSelector": {"a": "b"},
                           "tolerations": [{"key": "x", "operator": "Exists"}]}})
    assert got["spec"]["runtimeClassName"] == "gvisor" and got["spec"]["nodeSelector"] == {"a": "b", env.SANDBOX_KEY: "gvisor"}
    assert got["spec"]["tolerations"] == [{"key": "x", "operator": "Exists"}, tol], got
    # already compliant: no patch; other namespaces, kinds and operations: untouched
    assert review({"spec": {"runtimeClassName": "gvisor", "nodeSelector": {env.SANDBOX_KEY: "gvisor"},
                            "tolerations": [tol], "automountServiceAccountToken": False,
                            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                            "containers": [{"name": "fn", "securityContext": {"allowPrivilegeEscalation": False,
                                                                               "capabilities": {"drop": ["ALL"]}}}]}}) is None
    assert review({"spec": {}}, ns="openfaas") is None
    assert review({"spec": {}}, op="UPDATE") is None
    assert review({"spec": {}}, kind="Service") is None
    for bad in (b"not json", b"[]", b'{"kind":"AdmissionReview","request":{}}',
                b'{"kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE",'
                b'"namespace":"openfaas-fn","object":{"spec":"x"}}}'):
        try:
            wh.review(bad)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass


def t_webhook_broken_fails_closed(w):
    """The webhook down, fail-open-tampered or untrusted: pods are refused
    (never admitted under runc), verify fails, plan shows the drift naming
    it, apply repairs it."""
    k = w.c.k
    # 1. server down: scaled to zero by someone else
    k.call("PATCH", WEBHOOK, {"spec": {"replicas": 0}}, ctype="application/merge-patch+json")
    until(lambda: dry_pod(k)[0] == 500, "pod creates to fail with the webhook down")
    code, body = dry_pod(k)
    assert "failed calling webhook" in json.dumps(body) and "gvisor.secfaas.dev" in json.dumps(body), body
    assert gateway(k, "POST", "/system/functions", {"service": "down1", "image": "ghcr.io/openfaas/alpine:3.20"})[0] == 202
    d = refused_deployment(k, "down1")
    assert "failed calling webhook" in cond(d, "ReplicaFailure")["message"], d["status"]
    assert fn_pods(k, "down1") == []
    r = w.kube("verify", w.name)
    assert r.returncode == 1 and "verify: FAIL" in r.stdout, r.stdout
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 2 and "k8s_gvisor_guard.openfaas_fn" in r.stdout and "not available" in r.stdout, r.stdout
    w.run("apply", "s.yaml", "--auto-approve", want=0)
    p = until(lambda: running_pod(k, "down1"), "down1 to run once the webhook is back")
    assert p["spec"]["runtimeClassName"] == "gvisor"
    assert k.ok("GET", WEBHOOK)["spec"]["replicas"] == 2
    # 2. fail-open tampering: failurePolicy Ignore
    mwc = k.ok("GET", MWC)
    for f in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
        mwc["metadata"].pop(f, None)
    mwc["webhooks"][0]["failurePolicy"] = "Ignore"
    k.apply(MWC, mwc, manager="saboteur", force=True)
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 2 and "failurePolicy" in r.stdout, r.stdout
    # 3. a caBundle that does not sign the server's certificate (the cluster CA)
    mwc["webhooks"][0]["failurePolicy"] = "Fail"
    mwc["webhooks"][0]["clientConfig"]["caBundle"] = w.c.ca_b64
    k.apply(MWC, mwc, manager="saboteur", force=True)
    until(lambda: dry_pod(k)[0] == 500, "pod creates to fail with an untrusted server")
    assert "x509" in json.dumps(dry_pod(k)[1]), dry_pod(k)
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 2 and "caBundle" in r.stdout, r.stdout
    w.run("apply", "s.yaml", "--auto-approve", want=0)
    mwc = k.ok("GET", MWC)
    assert mwc["webhooks"][0]["failurePolicy"] == "Fail" and mwc["webhooks"][0]["clientConfig"]["caBundle"] != w.c.ca_b64
    code, body = dry_pod(k)
    assert code == 201 and body["spec"]["runtimeClassName"] == "gvisor", (code, body)
    assert w.run("plan", "s.yaml", "--detailed-exitcode").returncode == 0
    assert gateway(k, "DELETE", "/system/functions", {"functionName": "down1"})[0] == 202
    # the serving key is encrypted at rest and never printed
    key = base64.b64decode(k.ok("GET", "/api/v1/namespaces/openfaas/secrets/secfaas-gvisor-webhook-tls")
                           ["data"]["tls.key"]).decode()
    body = "".join(key.strip().splitlines()[1:-1])
    assert len(body) > 60
    for f in os.listdir(w.dir + "/.secfaas"):
        with open(os.path.join(w.dir, ".secfaas", f), "rb") as fh:
            data = fh.read()
            assert body[:40].encode() not in data and b"BEGIN PRIVATE KEY" not in data, f


ISOLATION = ("IMDS token endpoint", "Kubernetes API", "NATS", "admission webhook", "another function's pod")


def isolation_line(out, verdict, path, result):
    """The one line verify prints for a path the isolation probe tried."""
    return re.search(r"^  %s  isolation: %s \S+ from a function: %s \(must fail\)$" % (verdict, re.escape(path), result),
                     out, re.M)


def t_verify_pass_and_broken(w):
    k = w.c.k
    # no network policy agent: the isolation probe (a function under gVisor) reaches what it
    # must not, and verify names each path
    r = w.kube("verify", w.name)
    assert r.returncode == 1 and "verify: FAIL" in r.stdout, r.stdout
    for path in ("Kubernetes API", "NATS", "admission webhook", "another function's pod"):
        assert isolation_line(r.stdout, "FAIL", path, "connected"), (path, r.stdout)
    # the nodes' metadata service answers with EKS's default hop limit 2 (these nodes have no
    # launch template of secfaas's): the probe gets a token
    assert isolation_line(r.stdout, "FAIL", "IMDS token endpoint", "token"), r.stdout
    assert "PASS  probe output (dmesg) shows the gVisor kernel banner" in r.stdout, r.stdout
    assert "note  IMDS hop limit of the node groups not checked" in r.stdout, r.stdout
    # with the agent on (what the vpc-cni add-on's enableNetworkPolicy does) every path is closed
    enforce(k, True)
    try:
        r = w.kube("verify", w.name, want=0)
        assert "verify: PASS" in r.stdout and "FAIL" not in r.stdout, r.stdout
        assert "gVisor kernel banner" in r.stdout
        for path in ISOLATION:
            assert isolation_line(r.stdout, "PASS", path, "(dropped|no-token)"), (path, r.stdout)
        assert re.search(r"^  PASS  isolation: allowed destination cluster DNS \S+:53 from a function: connected "
                         r"\(must succeed\)$", r.stdout, re.M), r.stdout
        until(lambda: not exists(k, "/apis/apps/v1/namespaces/openfaas-fn/deployments/" +
                                 r.stdout.split("deploy probe ")[1].split()[0]), "the probe to be cleaned up")
        # removed egress policies: verify fails, naming the paths that opened
        for n in ("secfaas-default-deny", "secfaas-dns"):
            k.ok("DELETE", "/apis/networking.k8s.io/v1/namespaces/openfaas-fn/networkpolicies/" + n)
        enforce(k, True)
        r = w.kube("verify", w.name)
        assert r.returncode == 1, r.stdout
        for path in ("Kubernetes API", "admission webhook"):
            assert isolation_line(r.stdout, "FAIL", path, "connected"), (path, r.stdout)
        assert isolation_line(r.stdout, "FAIL", "IMDS token endpoint", "token"), r.stdout
        # NATS and the other function keep their own ingress policies
        for path in ("NATS", "another function's pod"):
            assert isolation_line(r.stdout, "PASS", path, "dropped"), (path, r.stdout)
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        enforce(k, True)
        w.kube("verify", w.name, want=0)
        # break the route: drop the guard's binding (pods without the class would be admitted)
        k.ok("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/"
             "secfaas-openfaas-fn-gvisor-only")
        r = w.kube("verify", w.name)
        assert r.returncode == 1 and "verify: FAIL" in r.stdout and "fail-open" in r.stdout, r.stdout
        # plan -refresh-only sees it as drift of the guard, apply puts it back
        r = w.run("plan", "s.yaml", "-refresh-only", "--detailed-exitcode")
        assert r.returncode == 2 and "k8s_gvisor_guard.openfaas_fn: compliant changed outside secfaas" in r.stdout, \
            r.stdout
        # break it another way: the RuntimeClass no longer selects gVisor nodes
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        assert w.kube("verify", w.name).returncode == 0
        assert w.run("plan", "s.yaml", "--detailed-exitcode").returncode == 0
        k.ok("DELETE", "/apis/node.k8s.io/v1/runtimeclasses/gvisor")
        r = w.kube("verify", w.name)
        assert r.returncode == 1 and "RuntimeClass gvisor" in r.stdout, r.stdout
        r = w.run("plan", "s.yaml", "-refresh-only", "--detailed-exitcode")
        assert r.returncode == 2 and "k8s_manifest.runtimeclass_gvisor" in r.stdout, r.stdout
        r = w.run("plan", "s.yaml", "--detailed-exitcode")
        assert r.returncode == 2 and "k8s_manifest.runtimeclass_gvisor" in r.stdout, r.stdout
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        w.kube("verify", w.name, want=0)
    finally:
        enforce(k, False)


def t_drift_and_conflicts(w):
    k = w.c.k
    path = "/apis/apps/v1/namespaces/openfaas/deployments/queue-worker"
    dep = k.ok("GET", path)
    dep["spec"]["replicas"] = 3
    k.apply(path, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "queue-worker",
                                                                              "namespace": "openfaas"},
                   "spec": {"replicas": 3}}, manager="kubectl-edit", force=True)
    r = w.run("plan", "s.yaml", "--detailed-exitcode")
    assert r.returncode == 2 and "of_deployment_openfaas_queue_worker" in r.stdout, r.stdout
    assert "replicas: 3 -> 1" in r.stdout, r.stdout
    r = w.run("apply", "s.yaml", "--auto-approve")
    assert r.returncode == 1, r.stdout
    err = r.stderr.strip().splitlines()[-1]
    assert "conflict" in err and "replicas" in err and "--force-conflicts" in err, err
    w.run("apply", "s.yaml", "--auto-approve", env={"SECFAAS_FORCE_CONFLICTS": "1"}, want=0)
    assert k.ok("GET", path)["spec"]["replicas"] == 1
    assert w.run("plan", "s.yaml", "--detailed-exitcode").returncode == 0


def t_kubectl_with_kubeconfig(w):
    k = w.c.k
    cfg = w.dir + "/kc.yaml"
    with open(cfg, "w") as f:  # an existing config with another context: merged, not replaced
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: 'https://127.0.0.9:1'}\n"
                "users:\n- name: other\n  user: {token: x}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\n"
                "current-context: other\n")
    r = w.kube("kubeconfig", w.name, "--kubeconfig", cfg, want=0)
    assert "secfaas-" + w.name in r.stdout
    assert oct(os.stat(cfg).st_mode & 0o777) == "0o600"
    kc = ["/usr/bin/kubectl", "--kubeconfig", cfg, "--cache-dir", w.dir + "/kcache"]
    got = subprocess.run(kc + ["config", "get-contexts", "-o", "name"], capture_output=True, text=True, check=True).stdout
    assert "other" in got and "secfaas-" + w.name in got, got
    out = subprocess.run(kc + ["get", "runtimeclass", "gvisor", "-o", "json"], capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["handler"] == "runsc", out.stderr
    cm = w.dir + "/cm.yaml"
    with open(cm, "w") as f:
        f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-kubectl, namespace: openfaas}\ndata: {a: b}\n")
    subprocess.run(kc + ["apply", "--server-side", "-f", cm], check=True, capture_output=True)
    subprocess.run(kc + ["wait", "--for=condition=Available", "deployment/gateway", "-n", "openfaas", "--timeout=20s"],
                   check=True, capture_output=True)
    subprocess.run(kc + ["delete", "-f", cm, "--timeout=20s"], check=True, capture_output=True)
    assert not exists(k, "/api/v1/namespaces/openfaas/configmaps/from-kubectl")
    # rewriting is idempotent (one entry per name)
    w.kube("kubeconfig", w.name, "--kubeconfig", cfg, want=0)
    got = subprocess.run(kc + ["config", "get-contexts", "-o", "name"], capture_output=True, text=True, check=True).stdout
    assert got.split().count("secfaas-" + w.name) == 1, got


def t_destroy_leaves_nothing(w):
    k = w.c.k
    r = w.run("destroy", "s.yaml", "--auto-approve", want=0)
    assert "36 destroyed" in r.stdout, r.stdout[-800:]
    for p in ("/api/v1/namespaces/openfaas", "/api/v1/namespaces/openfaas-fn",
              "/apis/node.k8s.io/v1/runtimeclasses/gvisor",
              "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/functions.openfaas.com",
              "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/secfaas-openfaas-fn-gvisor-only",
              "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/secfaas-openfaas-fn-gvisor-only",
              MWC, WEBHOOK):
        assert not exists(k, p), p
    assert w.run("state", "list").stdout.strip() == ""


def t_loadbalancer_teardown():
    c = env.Cluster(TMP, cluster="lbdemo")
    try:
        w = Work(c, name="lbdemo", SF_K8S_GATEWAY_SERVICE="LoadBalancer")
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        svc = c.k.ok("GET", "/api/v1/namespaces/openfaas/services/gateway-external")
        assert svc["spec"]["type"] == "LoadBalancer" and svc["status"]["loadBalancer"]["ingress"][0]["hostname"]
        assert len(c.aws.lbs) == 1, c.aws.lbs
        r = w.run("destroy", "s.yaml", "--auto-approve", want=0)
        # the Service's destroy waited for the load balancer to be gone in AWS
        assert c.aws.lbs == {} and len(c.aws.deleted_lbs) == 1, (c.aws.lbs, c.aws.deleted_lbs)
        assert "36 destroyed" in r.stdout
    finally:
        c.stop()


def t_v136_mutator():
    """1.36 serves MutatingAdmissionPolicy: a function deployed later runs in
    gVisor with nobody re-running secfaas; a broken mutator refuses pods."""
    c = env.Cluster(TMP, cluster="m136", version="1.36")
    try:
        k = c.k
        w = Work(c, name="m136")
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        st = w.run("state", "show", "k8s_gvisor_guard.openfaas_fn").stdout
        assert "mutating-admission-policy" in st, st
        assert exists(k, "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-openfaas-fn-gvisor")
        assert not exists(k, MWC) and not exists(k, WEBHOOK)  # in-process policy: no server to run
        assert gateway(k, "POST", "/system/functions", {"service": "later", "image": "ghcr.io/openfaas/alpine:3.20",
                                                        "envProcess": "uname -r"})[0] == 202
        p = until(lambda: running_pod(k, "later"), "the tenant function to run")
        assert p["spec"]["runtimeClassName"] == "gvisor"
        dep = k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/later")
        assert "runtimeClassName" not in dep["spec"]["template"]["spec"]  # mutated at admission, not patched
        enforce(k, True)  # the network policy agent on, as the vpc-cni add-on has it
        r = w.kube("verify", "m136", want=0)
        assert "mutated to gvisor" in r.stdout, r.stdout
        # break the mutator (CEL outside the supported subset): pods are refused, never admitted without gVisor
        pol = k.ok("GET", "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-openfaas-fn-gvisor")
        pol["spec"]["mutations"][0]["applyConfiguration"]["expression"] = \
            "Object{spec: Object.spec{runtimeClassName: object.metadata.name.unknownFn()}}"
        for f in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
            pol["metadata"].pop(f, None)
        pol.pop("status", None)
        k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-openfaas-fn-gvisor", pol,
                manager="saboteur", force=True)
        assert gateway(k, "POST", "/system/functions", {"service": "broken", "image": "ghcr.io/openfaas/alpine:3.20"})[0] == 202
        d = until(lambda: (lambda o: o if cond(o, "ReplicaFailure") else None)(
            k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/broken")), "the broken mutator to refuse")
        assert "MutatingAdmissionPolicy" in cond(d, "ReplicaFailure")["message"]
        assert fn_pods(k, "broken") == []
        r = w.kube("verify", "m136")
        assert r.returncode == 1 and "verify: FAIL" in r.stdout, r.stdout
        # plan sees the tampered policy; apply restores it
        r = w.run("plan", "s.yaml", "--detailed-exitcode")
        assert r.returncode == 2 and "k8s_gvisor_guard.openfaas_fn" in r.stdout, r.stdout
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        until(lambda: running_pod(k, "broken"), "the function to run once the mutator is repaired")
        # mutator: webhook on 1.36, then back to auto: each switch removes the other mutator
        w.emit(SF_K8S_MUTATOR="webhook")
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        assert exists(k, MWC) and exists(k, WEBHOOK)
        assert not exists(k, "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-openfaas-fn-gvisor")
        assert gateway(k, "POST", "/system/functions", {"service": "viahook", "image": "ghcr.io/openfaas/alpine:3.20"})[0] == 202
        assert until(lambda: running_pod(k, "viahook"), "a function mutated by the webhook")["spec"]["runtimeClassName"] == "gvisor"
        w.emit()
        r = w.run("plan", "s.yaml", "--detailed-exitcode")
        assert r.returncode == 2 and "k8s_gvisor_guard.openfaas_fn" in r.stdout, r.stdout
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        assert exists(k, "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-openfaas-fn-gvisor")
        until(lambda: not exists(k, MWC) and not exists(k, WEBHOOK), "the webhook to be removed")
        assert w.run("plan", "s.yaml", "--detailed-exitcode").returncode == 0
        w.run("destroy", "s.yaml", "--auto-approve", want=0)
        assert not exists(k, "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-openfaas-fn-gvisor")
    finally:
        c.stop()


def t_errors_are_one_line():
    c = env.Cluster(TMP, cluster="errs", with_groups=False)
    try:
        w = Work(c, name="errs", SF_K8S_NO_OPENFAAS="1")
        # wrong token: 401 Status as one clear line (own workspace dir)
        bad = Work(c, name="errs")
        spec = open(bad.dir + "/s.yaml").read().replace(c.token, "wrong-token")
        open(bad.dir + "/s.yaml", "w").write(spec)
        r = bad.run("apply", "s.yaml", "--auto-approve")
        assert r.returncode == 1
        last = r.stderr.strip().splitlines()[-1]
        assert "Unauthorized" in last and "bearer token was refused" in last, r.stderr
        # wrong CA: TLS verification fails, nothing is sent
        badca = Work(c, name="errs")
        other = harness.make_certs(tempfile.mkdtemp(dir=TMP))[0]
        spec = open(badca.dir + "/s.yaml").read().replace(c.ca_b64, base64.b64encode(open(other, "rb").read()).decode())
        open(badca.dir + "/s.yaml", "w").write(spec)
        r = badca.run("apply", "s.yaml", "--auto-approve")
        assert r.returncode == 1 and "TLS verification" in r.stderr, r.stderr
        # injected 429 then 500 are retried
        k = c.k
        k.ok("POST", "/_kubesim/faults", [{"method": "PATCH", "pathPrefix": "/apis/node.k8s.io", "code": 429,
                                           "retryAfter": 0, "times": 1},
                                          {"method": "PATCH", "pathPrefix": "/apis/node.k8s.io", "code": 500,
                                           "times": 1}], token="")
        w.run("apply", "s.yaml", "--auto-approve", want=0)
        assert exists(k, "/apis/node.k8s.io/v1/runtimeclasses/gvisor")
    finally:
        c.stop()


def start_awssim(d, timescale):
    """The local AWS with its files in d, started as every suite starts it
    (tests/sim.sh); returns its URL."""
    out = subprocess.run(["sh", "-c", '. "$0" && sim_awssim "$1" --timescale "$2" >&2 && echo "$AWSSIM_URL"',
                          os.path.join(SRC, "tests", "sim.sh"), d, timescale],
                         env=dict(os.environ, SIM_SRC=SRC), capture_output=True, text=True, check=True).stdout.split()
    return out[-1]


def t_eks_token_and_exec_plugin():
    """No static token: the client mints EKS tokens from AWS credentials
    (presigned STS, verified by kubesim against the local AWS), and the
    kubeconfig's exec plugin (`secfaas eks-token`) works for kubectl."""
    d = tempfile.mkdtemp(dir=TMP)
    ctl = os.path.join(SRC, "tests", "awssim", "ctl")
    url = start_awssim(d, "0.01")
    harness.assert_loopback(url)

    class Aws:
        pass
    aws = Aws()
    aws.url = url
    k = harness.Kubesim(TMP, cluster="stsdemo", aws=aws, mode="sts", extra=["--account", "123456789012"])
    try:
        import base64 as b64
        ca = b64.b64encode(open(k.ca, "rb").read()).decode()
        wd = tempfile.mkdtemp(dir=TMP)
        spec = {"apiVersion": "secfaas.dev/v1alpha1", "kind": "Stack", "metadata": {"name": "stsdemo"},
                "spec": {"resources": [{"type": "k8s_manifest", "name": "ns", "attributes": {
                    "endpoint": k.url, "ca_data": ca, "cluster_name": "stsdemo",
                    "manifest": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sts-ok"}}}}]}}
        with open(wd + "/s.yaml", "w") as f:
            json.dump(spec, f)
        e = dict(os.environ, NO_COLOR="1", HOME=wd, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
                 AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWS_REGION="eu-west-1",
                 AWS_ENDPOINT_URL=url, SECFAAS_STATE_PASSPHRASE=PASSPHRASE)
        r = subprocess.run([SECFAAS, "apply", "s.yaml", "--auto-approve"], cwd=wd, env=e, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-1000:] + r.stderr

        def ns_live():
            st = k.ok("GET", "/_kubesim/state", token="")
            return any(o["kind"] == "Namespace" and o["name"] == "sts-ok" for o in st["objects"])
        assert ns_live()
        # the token went through STS verification (no static token exists in this mode)
        reqs = k.ok("GET", "/_kubesim/requests", token="")
        reqs = reqs if isinstance(reqs, list) else reqs.get("requests", [])
        assert any(q.get("path") == "/api/v1/namespaces/sts-ok" and q.get("code") in (200, 201) for q in reqs), reqs[-5:]
        r = subprocess.run([KUBECMD, "kubeconfig", "stsdemo", "--region", "eu-west-1"], cwd=wd, env=e,
                           capture_output=True, text=True)
        assert r.returncode == 0 and "exec: secfaas eks-token" in r.stdout, r.stdout + r.stderr
        cfg = open(wd + "/.kube/config").read()
        assert "eks-token" in cfg and "stsdemo" in cfg, cfg
        if KUBECMD != SECFAAS:  # the exec plugin must be the secfaas binary, not the test driver
            cfg = cfg.replace(KUBECMD, SECFAAS)
            with open(wd + "/.kube/config", "w") as f:
                f.write(cfg)
        r = subprocess.run(["/usr/bin/kubectl", "--cache-dir", wd + "/kc", "get", "namespace", "sts-ok", "-o", "json"],
                           cwd=wd, env=e, capture_output=True, text=True)
        assert r.returncode == 0 and json.loads(r.stdout)["metadata"]["name"] == "sts-ok", r.stderr
        r = subprocess.run([SECFAAS, "destroy", "s.yaml", "--auto-approve"], cwd=wd, env=e, capture_output=True, text=True)
        assert r.returncode == 0 and not ns_live(), r.stderr
    finally:
        k.stop()
        subprocess.run([ctl, "stop", d], capture_output=True)


CLUSTER_SPEC = """apiVersion: secfaas.dev/v1alpha1
kind: Cluster
metadata: {name: fn-k8s, region: eu-west-1}
spec:
  kubernetesVersion: "1.35"
  network: {cidr: 10.50.0.0/16, availabilityZones: 2, endpointAccess: public}
  gvisor: {release: "20250113.0", platform: systrap}
  nodeGroups:
    - {name: system, instanceTypes: [m6i.large], scaling: {min: 2, max: 3, desired: 2}}
    - {name: sandbox, runtime: gvisor, instanceTypes: [m6i.xlarge], scaling: {min: 1, max: 3, desired: 2}}
  openfaas: {enabled: true, acceptLicense: true, gatewayService: NodePort}
"""


def t_cluster_end_to_end():
    """The whole path: a Cluster spec against the local AWS (which starts a
    kubesim for the EKS cluster): apply installs RuntimeClass + OpenFaaS, a
    second plan is empty, a tenant function lands under gVisor, verify passes
    (and fails with the route broken), kubectl works through the exec
    plugin, destroy leaves the inventory empty."""
    d = tempfile.mkdtemp(dir=TMP)
    ctl = os.path.join(SRC, "tests", "awssim", "ctl")
    url = start_awssim(d, "0.001")
    harness.assert_loopback(url)
    wd = tempfile.mkdtemp(dir=TMP)
    e = dict(os.environ, NO_COLOR="1", HOME=wd, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
             AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWS_REGION="eu-west-1",
             AWS_ENDPOINT_URL=url, SECFAAS_POLL_SCALE="0.001", SECFAAS_STATE_PASSPHRASE=PASSPHRASE)
    for v in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SECFAAS_FORCE_CONFLICTS"):
        e.pop(v, None)

    def run(*a, binary=SECFAAS, want=None):
        r = subprocess.run([binary] + list(a), cwd=wd, env=e, capture_output=True, text=True, timeout=600)
        if want is not None and r.returncode != want:
            raise AssertionError("%s -> %d\n%s\n%s" % (" ".join(a), r.returncode, r.stdout[-2500:], r.stderr[-2500:]))
        return r

    def q(expr):
        return json.loads(subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests", "eks", "q.py"), url, expr],
                                         capture_output=True, text=True, check=True).stdout)
    try:
        with open(wd + "/c.yaml", "w") as f:
            f.write(CLUSTER_SPEC)
        r = run("apply", "c.yaml", "--auto-approve", want=0)
        assert "k8s_manifest.of_deployment_openfaas_gateway: Creation complete" in r.stdout, r.stdout[-1500:]
        r = run("plan", "c.yaml", "--detailed-exitcode")
        assert r.returncode == 0 and "No changes." in r.stdout, r.stdout[-2500:]
        out = json.loads(run("--json", "output", "fn-k8s", binary=KUBECMD, want=0).stdout)
        api = out["cluster_endpoint"]["value"]
        harness.assert_loopback(api)
        assert out["openfaas_password"] == {"value": None, "type": "string", "sensitive": True}, out

        # real kubectl through the exec plugin (secfaas eks-token)
        run("kubeconfig", "fn-k8s", binary=KUBECMD, want=0)
        cfg = open(wd + "/.kube/config").read()
        if KUBECMD != SECFAAS:
            with open(wd + "/.kube/config", "w") as f:
                f.write(cfg.replace(KUBECMD, SECFAAS))
        rc = json.loads(run("get", "runtimeclass", "gvisor", "-o", "json", binary="/usr/bin/kubectl", want=0).stdout)
        assert rc["handler"] == "runsc" and rc["scheduling"]["nodeSelector"] == {env.SANDBOX_KEY: "gvisor"}, rc
        run("wait", "--for=condition=Available", "deployment/gateway", "-n", "openfaas", "--timeout=30s",
            binary="/usr/bin/kubectl", want=0)
        sec = json.loads(run("get", "secret", "basic-auth", "-n", "openfaas", "-o", "json", binary="/usr/bin/kubectl",
                             want=0).stdout)
        pw = base64.b64decode(sec["data"]["basic-auth-password"]).decode()

        # a tenant deploys through the gateway NodePort (found through kubesim's admin API)
        import ssl
        import yaml
        ca = base64.b64decode(yaml.safe_load(cfg)["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        st = json.load(urllib.request.urlopen(api + "/_kubesim/state", timeout=10,
                                              context=ssl.create_default_context(cadata=ca)))
        hostport = st["nodePorts"]["31112"]
        harness.assert_loopback("http://" + hostport)
        req = urllib.request.Request("http://%s/system/functions" % hostport, method="POST", data=json.dumps(
            {"service": "tenant", "image": "ghcr.io/openfaas/alpine:3.20", "envProcess": "dmesg"}).encode())
        req.add_header("Authorization", "Basic " + base64.b64encode(("admin:" + pw).encode()).decode())
        assert urllib.request.urlopen(req, timeout=10).status == 202
        # nobody re-runs secfaas: the in-cluster webhook puts it into gVisor

        def tenant_running():
            pods = json.loads(run("get", "pods", "-n", "openfaas-fn", "-l", "faas_function=tenant", "-o", "json",
                                  binary="/usr/bin/kubectl", want=0).stdout)["items"]
            return [p for p in pods if p.get("status", {}).get("phase") == "Running"]
        p = until(tenant_running, "tenant function running", 60)[0]
        assert p["spec"]["runtimeClassName"] == "gvisor"
        node = json.loads(run("get", "node", p["spec"]["nodeName"], "-o", "json", binary="/usr/bin/kubectl",
                              want=0).stdout)
        assert node["metadata"]["labels"].get(env.SANDBOX_KEY) == "gvisor"
        assert node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"].startswith("sandbox")
        r = run("plan", "c.yaml", "--detailed-exitcode")
        assert r.returncode == 0 and "No changes." in r.stdout, r.stdout[-2500:]

        r = run("verify", "fn-k8s", binary=KUBECMD, want=0)
        assert "verify: PASS" in r.stdout, r.stdout
        # an EKS cluster: the isolation paths closed and every node group's hop limit read from AWS
        for path in ISOLATION:
            assert isolation_line(r.stdout, "PASS", path, "(dropped|no-token)"), (path, r.stdout)
        assert len(re.findall(r"^  PASS  node credentials: node group .* hop limit 1 ", r.stdout, re.M)) >= 1, r.stdout
        run("delete", "validatingadmissionpolicybinding", "secfaas-openfaas-fn-gvisor-only", binary="/usr/bin/kubectl",
            want=0)
        r = run("verify", "fn-k8s", binary=KUBECMD)
        assert r.returncode == 1 and "fail-open" in r.stdout, r.stdout
        run("apply", "c.yaml", "--auto-approve", want=0)
        run("verify", "fn-k8s", binary=KUBECMD, want=0)

        r = run("destroy", "c.yaml", "--auto-approve", want=0)
        assert q('sum(len(v) for v in inv.values())') == 0, q('{k: len(v) for k, v in inv.items() if v}')
    finally:
        subprocess.run([ctl, "stop", d], capture_output=True)


def main():
    run = harness.Runner()
    c = env.Cluster(TMP)
    try:
        w = Work(c)
        run.run("apply installs RuntimeClass + OpenFaaS; 2nd plan empty", t_install_and_converge, w)
        run.run("basic-auth generated once, never printed", t_secret_never_printed, w)
        run.run("tenant function lands in gVisor via the webhook, no re-run", t_tenant_function_lands_in_gvisor, w)
        run.run("guard: init/ephemeral containers, hostPath, hostPort; older guard is drift", t_guard_every_container, w)
        run.run("default NetworkPolicies: enforced on real packets, deleted one repaired", t_network_policies, w)
        run.run("async callbacks: through the gateway delivered, into the VPC dropped", t_async_callbacks, w)
        run.run("function quota and LimitRange applied and enforced", t_function_limits, w)
        run.run("webhook down/tampered/untrusted: refused, drift, repaired", t_webhook_broken_fails_closed, w)
        run.run("verify passes; fails when the route is broken", t_verify_pass_and_broken, w)
        run.run("drift shows fields; conflicts need --force-conflicts", t_drift_and_conflicts, w)
        run.run("real kubectl with the written kubeconfig", t_kubectl_with_kubeconfig, w)
        run.run("destroy leaves nothing", t_destroy_leaves_nothing, w)
    finally:
        c.stop()
    run.run("webhook server code: patches and refusals", t_webhook_code)
    run.run("LoadBalancer gateway: destroy waits for the LB", t_loadbalancer_teardown)
    run.run("v1.36 mutator; broken mutator refuses pods", t_v136_mutator)
    run.run("auth/TLS errors one line; 429/500 retried", t_errors_are_one_line)
    run.run("EKS token via STS; kubectl exec plugin", t_eks_token_and_exec_plugin)
    run.run("Cluster end to end on awssim + kubesim", t_cluster_end_to_end)
    print("%d passed, %d failed" % (run.passed, run.failed))
    sys.exit(1 if run.failed else 0)


if __name__ == "__main__":
    main()
