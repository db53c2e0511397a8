"""Pod admission realism: Pod Security (restricted), LimitRange, ResourceQuota,
ServiceAccount token automount.  Imported by test_kubesim.py."""
import json
import time

from harness import group

RESTRICTED_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                 "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def ns(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def pod(name, namespace, containers=None, **spec):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
         "spec": {"containers": containers or [{"name": "c", "image": "busybox:1.36"}]}}
    p["spec"].update(spec)
    return p


def warnings(hdr):
    return hdr.get_all("Warning") or []


def t_pod_security(k):
    k.ok("POST", "/api/v1/namespaces", ns("psa", {"pod-security.kubernetes.io/enforce": "restricted"}))
    P = "/api/v1/namespaces/psa/pods"
    code, body, _ = k.call("POST", P, pod("bad", "psa", containers=[
        {"name": "app", "image": "nginx:1.27"},
        {"name": "side", "image": "busybox:1.36", "securityContext": {"runAsNonRoot": False,
                                                                      "capabilities": {"add": ["NET_ADMIN"]}}}],
        volumes=[{"name": "host", "hostPath": {"path": "/etc"}}], hostNetwork=True))
    want = ('pods "bad" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), '
            'allowPrivilegeEscalation != false (containers "app", "side" must set '
            'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers "app", "side" '
            'must set securityContext.capabilities.drop=["ALL"]; container "side" must not include "NET_ADMIN" in '
            'securityContext.capabilities.add), restricted volume types (volume "host" uses restricted volume type '
            '"hostPath"), runAsNonRoot != true (container "side" must not set securityContext.runAsNonRoot=false), '
            'seccompProfile (pod or containers "app", "side" must set securityContext.seccompProfile.type to '
            '"RuntimeDefault" or "Localhost")')
    assert code == 403 and body["message"] == want and body["reason"] == "Forbidden", (code, body)
    assert body["details"] == {"name": "bad", "kind": "pods"}, body
    # pod-level settings cover the containers; runAsUser 0 still refused
    good = pod("good", "psa", containers=[{"name": "app", "image": "nginx:1.27", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})
    k.ok("POST", P, good)
    root = pod("root", "psa", containers=[{"name": "app", "image": "nginx:1.27",
                                           "securityContext": dict(RESTRICTED_SC, runAsUser=0)}])
    code, body, _ = k.call("POST", P, root)
    assert code == 403 and body["message"].endswith(
        'violates PodSecurity "restricted:latest": runAsUser=0 (container "app" must not set runAsUser=0)'), body
    # generateName: the message names the generated pod
    gen = pod("", "psa")
    del gen["metadata"]["name"]
    gen["metadata"]["generateName"] = "web-"
    code, body, _ = k.call("POST", P, gen)
    assert code == 403 and body["message"].startswith('pods "web-') and len(body["details"]["name"]) == 9, body
    # warn level: admitted with a Warning header; a Deployment is never refused, only warned
    k.ok("POST", "/api/v1/namespaces", ns("psw", {"pod-security.kubernetes.io/enforce": "baseline",
                                                  "pod-security.kubernetes.io/warn": "restricted",
                                                  "pod-security.kubernetes.io/warn-version": "v1.31"}))
    code, body, hdr = k.call("POST", "/api/v1/namespaces/psw/pods", pod("w", "psw"))
    assert code == 201, body
    assert any('would violate PodSecurity \\"restricted:v1.31\\": allowPrivilegeEscalation != false' in w
               for w in warnings(hdr)), warnings(hdr)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"a": "d"}},
                    "template": {"metadata": {"labels": {"a": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    code, body, hdr = k.call("POST", "/apis/apps/v1/namespaces/psa/deployments", dep)
    assert code == 201 and any('would violate PodSecurity \\"restricted:latest\\"' in w for w in warnings(hdr)), \
        (code, warnings(hdr))
    d = k.watch_until("/apis/apps/v1/namespaces/psa/deployments",
                      lambda o: any(c["type"] == "ReplicaFailure" for c in (o.get("status") or {}).get("conditions")
                                    or []), field_name="d")
    msg = [c for c in d["status"]["conditions"] if c["type"] == "ReplicaFailure"][0]["message"]
    assert msg.startswith('pods "d-') and 'is forbidden: violates PodSecurity "restricted:latest"' in msg, msg
    # tightening a namespace warns about the pods already there
    code, body, hdr = k.call("PATCH", "/api/v1/namespaces/psw", json.dumps(
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
        ctype="application/merge-patch+json")
    ws = warnings(hdr)
    assert code == 200 and any('existing pods in namespace \\"psw\\" violate the new PodSecurity enforce level '
                               '\\"restricted:latest\\"' in w for w in ws), ws
    assert any(w.startswith('299 - "w: allowPrivilegeEscalation != false, unrestricted capabilities') for w in ws), ws


def t_limits_and_quota(k):
    k.ok("POST", "/api/v1/namespaces", ns("q"))
    P = "/api/v1/namespaces/q/pods"
    lr = k.ok("POST", "/api/v1/namespaces/q/limitranges", {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m", "memory": "256Mi"},
                             "defaultRequest": {"cpu": "100m"}}]}})
    # defaulting of the LimitRange object itself: max -> default, default -> defaultRequest
    assert lr["spec"]["limits"][0]["default"] == {"cpu": "500m", "memory": "256Mi"}, lr
    assert lr["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}, lr
    q = k.ok("POST", "/api/v1/namespaces/q/resourcequotas", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "fn"},
        "spec": {"hard": {"pods": "2", "requests.cpu": "1", "limits.memory": "512Mi"}}})
    assert "status" not in q or not q["status"].get("used"), q
    k.watch_until("/api/v1/namespaces/q/resourcequotas", lambda o: (o.get("status") or {}).get("used") ==
                  {"pods": "0", "requests.cpu": "0", "limits.memory": "0"}, field_name="fn")
    # the LimitRange fills the pod in (annotation says so) and the quota admits it
    p = k.ok("POST", P, pod("a", "q"))
    c = p["spec"]["containers"][0]
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                              "requests": {"cpu": "100m", "memory": "256Mi"}}, c
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c", p
    # above the LimitRange max
    big = pod("big", "q", containers=[{"name": "c", "image": "busybox:1.36",
                                       "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}])
    code, body, _ = k.call("POST", P, big)
    assert code == 403 and body["message"] == (
        'pods "big" is forbidden: [Maximum cpu usage per Container is 500m, but limit is 2., '
        'Maximum memory usage per Container is 256Mi, but limit is 1Gi.]'), body
    k.ok("POST", P, pod("b", "q"))
    k.watch_until("/api/v1/namespaces/q/resourcequotas", lambda o: (o.get("status") or {}).get("used") ==
                  {"pods": "2", "requests.cpu": "200m", "limits.memory": "512Mi"}, field_name="fn")
    code, body, _ = k.call("POST", P, pod("c3", "q"))
    assert code == 403 and body["message"] == (
        'pods "c3" is forbidden: exceeded quota: fn, requested: limits.memory=256Mi,pods=1, '
        'used: limits.memory=512Mi,pods=2, limited: limits.memory=512Mi,pods=2'), body
    # dry run is judged the same way and stores nothing
    code, body, _ = k.call("POST", P + "?dryRun=All", pod("c4", "q"))
    assert code == 403 and "exceeded quota: fn" in body["message"], body
    # deleting a pod frees its share
    k.ok("DELETE", P + "/b")
    k.watch_until("/api/v1/namespaces/q/resourcequotas", lambda o: (o.get("status") or {}).get("used", {})
                  .get("pods") == "1", field_name="fn")
    k.ok("POST", P, pod("c5", "q"))
    # without a LimitRange a quota on compute resources needs them stated
    k.ok("POST", "/api/v1/namespaces", ns("q2"))
    k.ok("POST", "/api/v1/namespaces/q2/resourcequotas", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "c"},
        "spec": {"hard": {"limits.cpu": "1", "limits.memory": "1Gi", "requests.cpu": "1"}}})
    k.watch_until("/api/v1/namespaces/q2/resourcequotas", lambda o: (o.get("status") or {}).get("used"),
                  field_name="c")
    code, body, _ = k.call("POST", "/api/v1/namespaces/q2/pods", pod("n", "q2", containers=[
        {"name": "a", "image": "busybox:1.36", "resources": {"limits": {"cpu": "100m"}}},
        {"name": "b", "image": "busybox:1.36"}]))
    assert code == 403 and body["message"] == (
        'pods "n" is forbidden: failed quota: c: must specify limits.cpu for: b; limits.memory for: a,b; '
        'requests.cpu for: b'), body
    # a Deployment over the quota: FailedCreate with the quota's message, as the ReplicaSet reports it
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "many"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "m"}},
                    "template": {"metadata": {"labels": {"a": "m"}}, "spec": {"containers": [
                        {"name": "c", "image": "busybox:1.36", "resources": {"limits": {"cpu": "400m",
                                                                                       "memory": "100Mi"}}}]}}}}
    k.ok("POST", "/apis/apps/v1/namespaces/q2/deployments", dep)
    d = k.watch_until("/apis/apps/v1/namespaces/q2/deployments",
                      lambda o: any(c["type"] == "ReplicaFailure" for c in (o.get("status") or {}).get("conditions")
                                    or []), field_name="many")
    msg = [c for c in d["status"]["conditions"] if c["type"] == "ReplicaFailure"][0]["message"]
    assert "exceeded quota: c, requested: limits.cpu=400m,requests.cpu=400m, used: limits.cpu=800m," \
           "requests.cpu=800m, limited: limits.cpu=1,requests.cpu=1" in msg, msg
    pods = k.ok("GET", "/api/v1/namespaces/q2/pods")["items"]
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]


TOKEN_READER = r"""
import json, os, sys
path = sys.argv[1]
print(json.dumps({"path": path, "exists": os.path.exists(os.path.join(path, "token")),
                  "files": sorted(os.listdir(path)) if os.path.isdir(path) else None,
                  "token": open(os.path.join(path, "token")).read() if os.path.exists(os.path.join(path, "token"))
                  else None,
                  "namespace": open(os.path.join(path, "namespace")).read() if os.path.exists(
                      os.path.join(path, "namespace")) else None}), flush=True)
"""
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def t_service_account_tokens(k, aws):
    aws.set_groups([group("system", 1)])
    # Wait until the earlier cases' nodes are gone, not for any node: a pod
    # bound to a node that the scale-down then removes never runs, and on a
    # busy machine the removal comes after the pods are scheduled.
    deadline = time.monotonic() + 120
    while True:
        nodes = k.ok("GET", "/api/v1/nodes")["items"]
        if len(nodes) == 1 and (nodes[0]["metadata"].get("labels") or {}).get(
                "eks.amazonaws.com/nodegroup") == "system":
            break
        assert time.monotonic() < deadline, [n["metadata"]["name"] for n in nodes]
        time.sleep(0.1)
    k.ok("POST", "/api/v1/namespaces", ns("sa"))
    # every namespace gets ServiceAccount default and ConfigMap kube-root-ca.crt
    k.ok("GET", "/api/v1/namespaces/sa/serviceaccounts/default")
    cm = k.ok("GET", "/api/v1/namespaces/sa/configmaps/kube-root-ca.crt")
    assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----"), cm
    k.ok("POST", "/api/v1/namespaces/sa/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": "quiet"},
                                                           "automountServiceAccountToken": False})
    P = "/api/v1/namespaces/sa/pods"

    def reader(name, **spec):
        return pod(name, "sa", containers=[{"name": "main", "image": "python:3.12",
                                            "command": ["python3", "-c", TOKEN_READER, SA_DIR]}],
                   restartPolicy="Never", **spec)
    cases = {"auto": ({}, True), "pod-off": ({"automountServiceAccountToken": False}, False),
             "sa-off": ({"serviceAccountName": "quiet"}, False),
             "pod-overrides-sa": ({"serviceAccountName": "quiet", "automountServiceAccountToken": True}, True)}
    for name, (spec, mounted) in cases.items():
        p = k.ok("POST", P, reader(name, **spec))
        vols = [v for v in p["spec"].get("volumes") or [] if v["name"].startswith("kube-api-access-")]
        mounts = [m for m in p["spec"]["containers"][0].get("volumeMounts") or [] if m["mountPath"] == SA_DIR]
        assert p["spec"]["serviceAccountName"] == spec.get("serviceAccountName", "default"), p["spec"]
        if mounted:
            assert len(vols) == 1 and len(vols[0]["name"]) == len("kube-api-access-") + 5, vols
            assert vols[0]["projected"]["sources"][0] == {"serviceAccountToken": {"expirationSeconds": 3607,
                                                                                  "path": "token"}}, vols
            assert mounts == [{"name": vols[0]["name"], "readOnly": True, "mountPath": SA_DIR}], mounts
        else:
            assert not vols and not mounts, (vols, mounts)
    for name, (spec, mounted) in cases.items():
        # real processes: a busy machine may take long to start four Pythons (bounded, event-driven)
        done = k.watch_until(P, lambda o: (o.get("status") or {}).get("phase") in ("Succeeded", "Failed"),
                             field_name=name, timeout=180)
        assert done["status"]["phase"] == "Succeeded", (name, done["status"])
        out = k.ok("GET", P + "/%s/log" % name)  # the client parses the JSON line
        if not mounted:
            # no volume: the path was not mapped to anything of the pod's
            assert out["path"] == SA_DIR, (name, out)
        else:
            assert out["exists"] and out["path"] != SA_DIR, (name, out)
            assert out["files"] == ["ca.crt", "namespace", "token"] and out["namespace"] == "sa", out
            sa = spec.get("serviceAccountName", "default")
            # the mounted token authenticates as the pod's ServiceAccount
            code, body, _ = k.call("GET", "/api/v1/namespaces/sa/pods", token=out["token"])
            assert code == 200, (code, body)
            forged = out["token"][:-1] + ("0" if out["token"][-1] != "0" else "1")
            code, body, _ = k.call("GET", "/api/v1/namespaces/sa/pods", token=forged)
            assert code == 401, (code, body)
            assert sa in ("default", "quiet")
    code, body, _ = k.call("POST", P, pod("ghost", "sa", serviceAccountName="ghost"))
    assert code == 403 and body["message"] == ('pods "ghost" is forbidden: error looking up service account '
                                               'sa/ghost: serviceaccount "ghost" not found'), body


def t_ephemeral_containers(k):
    """pods/ephemeralcontainers: only spec.ephemeralContainers is taken from the request, they
    may only be added, and the write is an UPDATE of that subresource for policies (matched only
    by a rule naming it) and for Pod Security."""
    k.ok("POST", "/api/v1/namespaces", ns("eph"))
    P = "/api/v1/namespaces/eph/pods"
    E = P + "/p/ephemeralcontainers"
    smp = "application/strategic-merge-patch+json"
    dbg = {"name": "dbg", "image": "busybox:1.36", "targetContainerName": "c"}
    code, body, _ = k.call("POST", P, pod("born", "eph", ephemeralContainers=[dbg]))
    assert code == 422 and body["message"] == ('Pod "born" is invalid: spec.ephemeralContainers: Forbidden: '
                                               "cannot be set on create"), (code, body)
    k.ok("POST", P, pod("p", "eph"))
    got = k.ok("GET", E)
    assert got["kind"] == "Pod" and got["metadata"]["name"] == "p" and not got["spec"].get("ephemeralContainers"), got
    # the pod itself cannot take one
    code, body, _ = k.call("PATCH", P + "/p", {"spec": {"ephemeralContainers": [dbg]}}, ctype=smp)
    assert code == 422 and "pod updates may not change fields" in body["message"], (code, body)
    # through the subresource: added; what else the request says is ignored
    got = k.ok("PATCH", E, {"metadata": {"labels": {"x": "y"}},
                            "spec": {"ephemeralContainers": [dbg], "containers": [{"name": "c", "image": "nginx:1.27"}]}},
               ctype=smp)
    assert got["spec"]["ephemeralContainers"] == [dbg], got["spec"]
    assert got["spec"]["containers"][0]["image"] == "busybox:1.36" and not got["metadata"].get("labels"), got
    assert k.ok("GET", P + "/p")["spec"]["ephemeralContainers"] == [dbg]
    for patch, ctype, why in (
            ([{"op": "remove", "path": "/spec/ephemeralContainers/0"}], "application/json-patch+json",
             'existing ephemeral containers "dbg" may not be removed'),
            ([{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "alpine:3.20"}],
             "application/json-patch+json", 'existing ephemeral containers "dbg" may not be changed'),
            ({"spec": {"ephemeralContainers": [{"name": "c", "image": "busybox:1.36"}]}}, smp,
             'spec.ephemeralContainers[1].name: Duplicate value: "c"'),
            ({"spec": {"ephemeralContainers": [{"name": "web", "image": "busybox:1.36",
                                                "ports": [{"containerPort": 80}]}]}}, smp,
             "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container")):
        code, body, _ = k.call("PATCH", E, patch, ctype=ctype)
        assert code == 422 and why in body["message"], (why, code, body)
    assert k.call("DELETE", E)[0] == 405 and k.ok("GET", P + "/p")["metadata"]["name"] == "p"
    # a policy on "pods" does not see the subresource; one naming pods/ephemeralcontainers does
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}
    vap = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
           "metadata": {"name": "no-priv"},
           "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [rule]},
                    "validations": [{"expression": "!has(object.spec.ephemeralContainers) || "
                                                   "object.spec.ephemeralContainers.all(c, !has(c.securityContext) || "
                                                   "!has(c.securityContext.privileged) || !c.securityContext.privileged)",
                                     "messageExpression": "'no privileged ephemeral containers (' + request.operation "
                                                          "+ ' ' + request.subResource + ')'"}]}}
    VP = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/no-priv"
    k.apply(VP, vap)
    k.apply("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/no-priv",
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
             "metadata": {"name": "no-priv"},
             "spec": {"policyName": "no-priv", "validationActions": ["Deny"], "matchResources": {
                 "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "eph"}}}}})
    priv = {"spec": {"ephemeralContainers": [{"name": "root", "image": "busybox:1.36",
                                              "securityContext": {"privileged": True}}]}}
    got = k.ok("PATCH", E + "?dryRun=All", priv, ctype=smp)
    assert [c["name"] for c in got["spec"]["ephemeralContainers"]] == ["dbg", "root"], got["spec"]
    vap["spec"]["matchConstraints"]["resourceRules"] = [rule, dict(rule, operations=["UPDATE"],
                                                                   resources=["pods/ephemeralcontainers"])]
    k.apply(VP, vap)
    code, body, _ = k.call("PATCH", E, priv, ctype=smp)
    assert code == 422 and body["message"] == ("ValidatingAdmissionPolicy 'no-priv' with binding 'no-priv' denied "
                                               "request: no privileged ephemeral containers (UPDATE ephemeralcontainers)"), \
        (code, body)
    k.ok("DELETE", VP)
    # Pod Security checks an added ephemeral container at the namespace's enforce level
    k.ok("PATCH", "/api/v1/namespaces/eph", {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
         ctype="application/merge-patch+json")
    code, body, _ = k.call("PATCH", E, priv, ctype=smp)
    assert code == 403 and body["message"] == ('pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged '
                                               '(container "root" must not set securityContext.privileged=true)'), \
        (code, body)
    assert [c["name"] for c in k.ok("GET", P + "/p")["spec"]["ephemeralContainers"]] == ["dbg"]


def register(run, k, aws):
    run.run("Pod Security restricted: real denials and warnings", t_pod_security, k)
    run.run("LimitRange defaults/max, ResourceQuota usage and refusals", t_limits_and_quota, k)
    run.run("ServiceAccount token automount (pod over account), kube-root-ca.crt", t_service_account_tokens, k, aws)
    run.run("pods/ephemeralcontainers: add-only, matched as a subresource, Pod Security", t_ephemeral_containers, k)
