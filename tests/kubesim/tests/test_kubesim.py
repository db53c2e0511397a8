#!/usr/bin/python3
"""kubesim suite: API semantics, controllers, admission, gateway, and the real
kubectl against it.  Prints 'N passed, N failed'; exits non-zero on failure."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ACCOUNT, FakeAWS, Kubesim, Runner, assert_loopback, group,  # noqa: E402
                     node_config, KUBESIM)

TMP = tempfile.mkdtemp(prefix="kubesim-test-", dir=os.environ.get("TMPDIR"))
GV_LABELS = {"secfaas.io/runtime": "gvisor"}
GV_TAINT = "secfaas.io/runtime=gvisor:NoSchedule"
RC = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"}, "handler": "runsc",
      "overhead": {"podFixed": {"cpu": "100m", "memory": "64Mi"}},
      "scheduling": {"nodeSelector": GV_LABELS,
                     "tolerations": [{"key": "secfaas.io/runtime", "operator": "Equal", "value": "gvisor",
                                      "effect": "NoSchedule"}]}}
VAP = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
       "metadata": {"name": "secfaas-fn-gvisor-only"},
       "spec": {"failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                        "operations": ["CREATE"], "resources": ["pods"]}]},
                "validations": [{"expression": "has(object.spec.runtimeClassName) && "
                                               "object.spec.runtimeClassName == 'gvisor'",
                                 "message": "openfaas-fn pods must use RuntimeClass gvisor"},
                                {"expression": "!has(object.spec.hostNetwork) || !object.spec.hostNetwork",
                                 "message": "no hostNetwork"}]}}
VAPB = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "secfaas-fn-gvisor-only"},
        "spec": {"policyName": "secfaas-fn-gvisor-only", "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": "openfaas-fn"}}}}}


def MAP(expr):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": "secfaas-fn-gvisor"},
            "spec": {"failurePolicy": "Fail", "reinvocationPolicy": "IfNeeded",
                     "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                             "operations": ["CREATE"], "resources": ["pods"]}]},
                     "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": expr}}]}}


MAP_OK = ("Object{spec: Object.spec{runtimeClassName: 'gvisor', nodeSelector: {'secfaas.io/runtime': 'gvisor'}, "
          "tolerations: [Object.spec.tolerations{key: 'secfaas.io/runtime', operator: 'Equal', value: 'gvisor', "
          "effect: 'NoSchedule'}]}}")
MAPB = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": "secfaas-fn-gvisor"},
        "spec": {"policyName": "secfaas-fn-gvisor", "matchResources": {"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "openfaas-fn"}}}}}


def ns(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def deployment(name, namespace, replicas=1, labels=None, pod_spec=None):
    labels = labels or {"app": name}
    spec = {"containers": [{"name": name, "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}
    spec.update(pod_spec or {})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def pod(name, namespace, extra=None):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
         "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    p["spec"].update(extra or {})
    return p


def cond(obj, typ):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == typ:
            return c
    return {}


def standard_groups():
    return [group("system", 2),
            group("gvisor", 2, user_data=node_config(GV_LABELS, [GV_TAINT], runsc=True))]


# ---------------------------------------------------------------------------
# Group 1: API semantics (static token, v1.32)
# ---------------------------------------------------------------------------

def t_auth(k):
    code, st, _ = k.call("GET", "/api/v1/namespaces", token="")
    assert code == 401 and st["kind"] == "Status" and st["reason"] == "Unauthorized", (code, st)
    code, st, _ = k.call("GET", "/api/v1/namespaces", token="wrong")
    assert code == 401, code
    code, v, _ = k.call("GET", "/version", token="")
    assert code == 200 and v["minor"] == "32", v
    assert k.call("GET", "/api/v1/namespaces")[0] == 200


def t_discovery(k):
    assert k.ok("GET", "/api")["versions"] == ["v1"]
    groups = {g["name"]: g for g in k.ok("GET", "/apis")["groups"]}
    for g in ("apps", "node.k8s.io", "apiextensions.k8s.io", "rbac.authorization.k8s.io",
              "admissionregistration.k8s.io"):
        assert g in groups, g
    res = {r["name"]: r for r in k.ok("GET", "/api/v1")["resources"]}
    assert res["namespaces"]["namespaced"] is False and res["pods"]["namespaced"] is True
    assert res["services"]["kind"] == "Service" and "services/proxy" in res
    adm = {r["name"] for r in k.ok("GET", "/apis/admissionregistration.k8s.io/v1")["resources"]}
    assert "validatingadmissionpolicies" in adm and "mutatingadmissionpolicies" not in adm, adm
    rc = {r["name"]: r for r in k.ok("GET", "/apis/node.k8s.io/v1")["resources"]}
    assert rc["runtimeclasses"]["namespaced"] is False
    code, st, _ = k.call("GET", "/apis/nope.example.com/v1/things")
    assert code == 404 and st["reason"] == "NotFound", st
    idx = k.ok("GET", "/openapi/v3")["paths"]
    assert "apis/apps/v1" in idx and "api/v1" in idx
    doc = k.ok("GET", idx["apis/apps/v1"]["serverRelativeURL"])
    p = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert p["x-kubernetes-group-version-kind"]["kind"] == "Deployment"


def t_crud(k):
    k.ok("POST", "/api/v1/namespaces", ns("crud"))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}}
    created = k.ok("POST", "/api/v1/namespaces/crud/configmaps", cm, want=(201,))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert created["metadata"]["namespace"] == "crud"
    code, st, _ = k.call("POST", "/api/v1/namespaces/crud/configmaps", cm)
    assert code == 409 and st["reason"] == "AlreadyExists", st
    code, st, _ = k.call("POST", "/api/v1/namespaces/crud/configmaps",
                         dict(cm, metadata={"name": "b", "namespace": "other"}))
    assert code == 400, st
    code, st, _ = k.call("POST", "/api/v1/namespaces/nosuch/configmaps", cm)
    assert code == 404 and "nosuch" in st["message"], st
    # PUT: needs the current resourceVersion
    upd = dict(created, data={"k": "v2"})
    code, st, _ = k.call("PUT", "/api/v1/namespaces/crud/configmaps/a", dict(upd, metadata=dict(
        created["metadata"], resourceVersion="1")))
    assert code == 409 and st["reason"] == "Conflict", st
    put = k.ok("PUT", "/api/v1/namespaces/crud/configmaps/a", upd)
    assert put["data"]["k"] == "v2" and put["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    # merge patch; null deletes
    mp = k.ok("PATCH", "/api/v1/namespaces/crud/configmaps/a", {"data": {"k": None, "n": "1"}},
              "application/merge-patch+json")
    assert mp["data"] == {"n": "1"}, mp["data"]
    code, _, _ = k.call("PATCH", "/api/v1/namespaces/crud/configmaps/zz", {"data": {}}, "application/merge-patch+json")
    assert code == 404
    # dryRun=All persists nothing
    k.ok("POST", "/api/v1/namespaces/crud/configmaps?dryRun=All", dict(cm, metadata={"name": "dry"}))
    assert k.call("GET", "/api/v1/namespaces/crud/configmaps/dry")[0] == 404
    rv = k.ok("GET", "/api/v1/namespaces/crud/configmaps/a")["metadata"]["resourceVersion"]
    k.ok("DELETE", "/api/v1/namespaces/crud/configmaps/a?dryRun=All")
    assert k.ok("GET", "/api/v1/namespaces/crud/configmaps/a")["metadata"]["resourceVersion"] == rv
    # LIST with selectors
    k.ok("POST", "/api/v1/namespaces/crud/configmaps", dict(cm, metadata={"name": "c", "labels": {"x": "2"}}))
    lst = k.ok("GET", "/api/v1/namespaces/crud/configmaps?labelSelector=x%3D2")
    assert lst["kind"] == "ConfigMapList" and [i["metadata"]["name"] for i in lst["items"]] == ["c"]
    assert lst["metadata"]["resourceVersion"]
    lst = k.ok("GET", "/api/v1/namespaces/crud/configmaps?fieldSelector=metadata.name%3Da")
    assert [i["metadata"]["name"] for i in lst["items"]] == ["a"]
    # DELETE -> Status, then 404
    st = k.ok("DELETE", "/api/v1/namespaces/crud/configmaps/c", {"propagationPolicy": "Background"})
    assert st["kind"] == "Status" and st["status"] == "Success"
    code, st, _ = k.call("GET", "/api/v1/namespaces/crud/configmaps/c")
    assert code == 404 and st["details"]["name"] == "c", st
    # invalid name -> 422 with causes
    code, st, _ = k.call("POST", "/apis/node.k8s.io/v1/runtimeclasses",
                         {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gVisor"},
                          "handler": "runsc"})
    assert code == 422 and st["details"]["causes"][0]["field"] == "metadata.name", st


def t_ssa(k):
    k.ok("POST", "/api/v1/namespaces", ns("ssa"))
    path = "/apis/apps/v1/namespaces/ssa/deployments/web"
    d = deployment("web", "ssa", replicas=0)
    d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    code, o1, _ = k.apply(path, d, "secfaas")
    assert code == 201 and o1["metadata"]["generation"] == 1, (code, o1)
    # let the deployment controller finish its status writes (0 replicas: final at once)
    o1 = k.watch_until("/apis/apps/v1/namespaces/ssa/deployments",
                       lambda o: cond(o, "Progressing").get("reason") == "NewReplicaSetAvailable", field_name="web")
    mf = o1["metadata"]["managedFields"]
    assert mf[0]["manager"] == "secfaas" and mf[0]["operation"] == "Apply"
    assert "f:replicas" in mf[0]["fieldsV1"]["f:spec"]
    # identical re-apply: 200, nothing written
    code, o2, _ = k.apply(path, d, "secfaas")
    assert code == 200 and o2["metadata"]["resourceVersion"] == o1["metadata"]["resourceVersion"]
    # YAML body works too
    import yaml
    code, o2, _ = k.apply(path, yaml.safe_dump(d), "secfaas")
    assert code == 200 and o2["metadata"]["resourceVersion"] == o1["metadata"]["resourceVersion"]
    # label change: new RV, same generation
    d["metadata"]["labels"] = {"tier": "x"}
    code, o3, _ = k.apply(path, d, "secfaas")
    assert o3["metadata"]["resourceVersion"] != o1["metadata"]["resourceVersion"]
    assert o3["metadata"]["generation"] == 1
    # a field no longer sent is removed (B env, the label)
    d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    del d["metadata"]["labels"]
    code, o4, _ = k.apply(path, d, "secfaas")
    env = o4["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "1"}], env
    assert "tier" not in (o4["metadata"].get("labels") or {})
    assert o4["metadata"]["generation"] == 2
    # another manager: conflict on replicas without force, merge by key for env
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ssa"},
             "spec": {"replicas": 5}}
    code, st, _ = k.apply(path, other, "kubectl")
    assert code == 409 and st["details"]["causes"][0]["reason"] == "FieldManagerConflict", st
    assert st["details"]["causes"][0]["field"] == ".spec.replicas" and '"secfaas"' in st["message"], st
    code, o5, _ = k.apply(path, other, "kubectl", force=True)
    assert code == 200 and o5["spec"]["replicas"] == 5
    mgrs = {m["manager"]: m for m in o5["metadata"]["managedFields"]}
    assert "f:replicas" not in mgrs["secfaas"]["fieldsV1"]["f:spec"], mgrs
    # env item owned by another manager is merged by key, not replaced
    side = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ssa"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "C", "value": "3"}]}]}}}}
    code, o6, _ = k.apply(path, side, "sidecar")
    names = [e["name"] for e in o6["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names == ["A", "C"], names
    assert o6["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # dryRun apply shows the result but stores nothing
    d2 = json.loads(json.dumps(d))
    d2["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    code, st, _ = k.apply(path, d2, "secfaas", dry=True)
    assert code == 409 and "kubectl" in st["message"], st  # replicas now belongs to kubectl
    del d2["spec"]["replicas"]
    code, o7, _ = k.apply(path, d2, "secfaas", dry=True)
    assert code == 200 and o7["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert k.ok("GET", path)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # fieldManager required
    code, st, _ = k.call("PATCH", path, d, "application/apply-patch+yaml")
    assert code == 422 and "fieldManager" in st["message"], st
    # apply to a missing namespace-less name mismatch
    code, st, _ = k.call("PATCH", path + "?fieldManager=x", dict(d, metadata={"name": "other", "namespace": "ssa"}),
                         "application/apply-patch+yaml")
    assert code == 400, st
    # strategic merge patch: 415 on custom resources only; json patch works
    o8 = k.ok("PATCH", path, [{"op": "replace", "path": "/spec/replicas", "value": 1}], "application/json-patch+json")
    assert o8["spec"]["replicas"] == 1


def t_watch(k):
    k.ok("POST", "/api/v1/namespaces", ns("w"))
    lst = k.ok("GET", "/api/v1/namespaces/w/configmaps")
    rv0 = lst["metadata"]["resourceVersion"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}}
    k.ok("POST", "/api/v1/namespaces/w/configmaps", cm)
    k.ok("PATCH", "/api/v1/namespaces/w/configmaps/x", {"data": {"a": "2"}}, "application/merge-patch+json")
    k.ok("DELETE", "/api/v1/namespaces/w/configmaps/x")
    t0 = time.monotonic()
    code, body, hdr = k.call("GET", "/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=%s&timeoutSeconds=1" % rv0)
    took = time.monotonic() - t0
    assert code == 200 and hdr.get("Transfer-Encoding") == "chunked", (code, hdr)
    evs = [json.loads(x) for x in body.splitlines()] if isinstance(body, str) else [body]
    assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"], evs
    assert evs[1]["object"]["data"]["a"] == "2"
    assert 0.9 <= took < 5, took
    k.ok("POST", "/_kubesim/compact", {}, token="")
    code, st, _ = k.call("GET", "/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=%s&timeoutSeconds=1" % rv0)
    assert code == 410 and st["reason"] == "Expired", (code, st)


def t_faults(k):
    k.ok("POST", "/_kubesim/faults", {"method": "GET", "path": "/api/v1/namespaces/default", "code": 429,
                                     "retryAfter": 1, "times": 1}, token="")
    code, st, h = k.call("GET", "/api/v1/namespaces/default")
    assert code == 429 and h["Retry-After"] == "1" and st["reason"] == "TooManyRequests", (code, st)
    assert k.call("GET", "/api/v1/namespaces/default")[0] == 200
    k.ok("POST", "/_kubesim/faults", [{"pathPrefix": "/apis/apps", "code": 500, "times": 2},
                                      {"path": "/api/v1/namespaces/kube-system", "delay": 0.3}], token="")
    assert k.call("GET", "/apis/apps/v1/deployments")[0] == 500
    assert k.call("GET", "/apis/apps/v1/deployments")[0] == 500
    assert k.call("GET", "/apis/apps/v1/deployments")[0] == 200
    t0 = time.monotonic()
    assert k.call("GET", "/api/v1/namespaces/kube-system")[0] == 200
    assert time.monotonic() - t0 >= 0.3
    k.ok("DELETE", "/_kubesim/faults", token="")


def t_namespace_lifecycle(k):
    k.ok("POST", "/api/v1/namespaces", ns("gone"))
    got = k.ok("GET", "/api/v1/namespaces/gone")
    assert got["metadata"]["labels"]["kubernetes.io/metadata.name"] == "gone"
    assert got["status"]["phase"] == "Active"
    k.ok("POST", "/api/v1/namespaces/gone/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": {"name": "c"}})
    d = k.ok("DELETE", "/api/v1/namespaces/gone", {"propagationPolicy": "Background"})
    assert d["status"]["phase"] == "Terminating", d
    code, st, _ = k.call("POST", "/api/v1/namespaces/gone/configmaps",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}})
    assert code == 403 and st["details"]["causes"][0]["reason"] == "NamespaceTerminating", st
    k.watch_gone("/api/v1/namespaces", "gone")
    assert k.call("GET", "/api/v1/namespaces/gone")[0] == 404
    assert k.call("GET", "/api/v1/namespaces/gone/configmaps/c")[0] == 404


def t_crd(k):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "functions.openfaas.com"},
           "spec": {"group": "openfaas.com", "scope": "Namespaced",
                    "names": {"kind": "Function", "plural": "functions", "singular": "function"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}}
    code, _, _ = k.apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/functions.openfaas.com", crd)
    assert code == 201
    k.watch_until("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                  lambda o: cond(o, "Established").get("status") == "True", field_name="functions.openfaas.com")
    res = k.ok("GET", "/apis/openfaas.com/v1")["resources"]
    assert res[0]["name"] == "functions" and res[0]["kind"] == "Function"
    fn = {"apiVersion": "openfaas.com/v1", "kind": "Function", "metadata": {"name": "f1"},
          "spec": {"image": "x", "list": [1, 2]}}
    code, o, _ = k.apply("/apis/openfaas.com/v1/namespaces/default/functions/f1", fn)
    assert code == 201 and o["metadata"]["generation"] == 1
    code, st, _ = k.call("PATCH", "/apis/openfaas.com/v1/namespaces/default/functions/f1", {"spec": {}},
                         "application/strategic-merge-patch+json")
    assert code == 415, (code, st)
    k.ok("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/functions.openfaas.com")
    k.watch_gone("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "functions.openfaas.com")
    assert k.call("GET", "/apis/openfaas.com/v1/namespaces/default/functions/f1")[0] == 404


def t_nodes(k, aws):
    aws.set_groups(standard_groups() + [
        group("old", 1, labels={"team": "a"}, taints=[{"key": "ded", "value": "x", "effect": "NO_SCHEDULE"}],
              user_data=node_config({"k": "v"}, None, runsc=True, containerd2=False)),
        group("plain", 1, user_data=node_config({"p": "1"}, None, runsc=False)),
        group("creating", 3, status="CREATING"),
        # the shape tests/awssim reports: name/scaling/subnets[].az and the EC2 instances
        {"name": "awsshape", "status": "ACTIVE", "labels": {"s": "1"}, "taints": [], "scaling": {"desiredSize": 2},
         "instanceTypes": ["t3.large"], "subnets": [{"id": "subnet-1", "az": "eu-west-1c"}], "userData": None,
         "instances": [{"id": "i-0abc", "state": "running", "privateIp": "10.0.9.9", "az": "eu-west-1c",
                        "privateDnsName": "ip-10-0-9-9.eu-west-1.compute.internal", "instanceType": "t3.large"},
                       {"id": "i-0def", "state": "pending", "privateIp": "10.0.9.10", "az": "eu-west-1c",
                        "privateDnsName": "ip-10-0-9-10.eu-west-1.compute.internal"}]}])
    nodes = {}
    k.watch_until("/api/v1/nodes", lambda o: (nodes.__setitem__(o["metadata"]["name"], o), len(nodes) >= 7)[1])
    lst = k.ok("GET", "/api/v1/nodes")["items"]
    by_group = {}
    for n in lst:
        by_group.setdefault(n["metadata"]["labels"]["eks.amazonaws.com/nodegroup"], []).append(n)
    assert sorted(by_group) == ["awsshape", "gvisor", "old", "plain", "system"], sorted(by_group)
    a = by_group["awsshape"]
    assert [n["metadata"]["name"] for n in a] == ["ip-10-0-9-9.eu-west-1.compute.internal"], a  # running only
    assert a[0]["spec"]["providerID"] == "aws:///eu-west-1c/i-0abc"
    assert a[0]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "eu-west-1c"
    assert {"type": "InternalIP", "address": "10.0.9.9"} in a[0]["status"]["addresses"]
    assert len(by_group["system"]) == 2 and len(by_group["gvisor"]) == 2
    g = by_group["gvisor"][0]
    assert g["metadata"]["labels"]["secfaas.io/runtime"] == "gvisor"
    assert g["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "m5.large"
    assert g["metadata"]["labels"]["topology.kubernetes.io/zone"].startswith("eu-west-1")
    assert {"key": "secfaas.io/runtime", "value": "gvisor", "effect": "NoSchedule"} in g["spec"]["taints"]
    assert [h["name"] for h in g["status"]["runtimeHandlers"]] == ["runc", "runsc"]
    assert cond(g, "Ready")["status"] == "True"
    o = by_group["old"][0]
    assert "runsc" in [h["name"] for h in o["status"]["runtimeHandlers"]]  # containerd 1.x key
    assert o["metadata"]["labels"]["team"] == "a" and o["metadata"]["labels"]["k"] == "v"
    assert o["spec"]["taints"] == [{"key": "ded", "value": "x", "effect": "NoSchedule"}]
    p = by_group["plain"][0]
    assert [h["name"] for h in p["status"]["runtimeHandlers"]] == ["runc"]
    assert "taints" not in p["spec"]
    # deleting groups removes their nodes
    aws.set_groups(standard_groups())
    for n in by_group["old"] + by_group["plain"]:
        k.watch_gone("/api/v1/nodes", n["metadata"]["name"])


def t_workloads(k, aws):
    aws.set_groups(standard_groups())
    k.watch_until("/api/v1/nodes", lambda o: o["metadata"]["labels"].get("secfaas.io/runtime") == "gvisor")
    k.ok("POST", "/api/v1/namespaces", ns("wl"))
    # missing RuntimeClass: 403 for a pod, ReplicaFailure for a Deployment
    code, st, _ = k.call("POST", "/api/v1/namespaces/wl/pods", pod("p0", "wl", {"runtimeClassName": "gvisor"}))
    assert code == 403 and st["message"] == 'pods "p0" is forbidden: pod rejected: RuntimeClass "gvisor" not found', st
    k.apply("/apis/apps/v1/namespaces/wl/deployments/sb", deployment("sb", "wl", 1, pod_spec={"runtimeClassName": "gvisor"}))
    d = k.watch_until("/apis/apps/v1/namespaces/wl/deployments", lambda o: cond(o, "ReplicaFailure"), field_name="sb")
    assert cond(d, "ReplicaFailure")["reason"] == "FailedCreate"
    assert 'RuntimeClass "gvisor" not found' in cond(d, "ReplicaFailure")["message"]
    assert not k.ok("GET", "/api/v1/namespaces/wl/pods")["items"]
    # create the class: the Deployment recovers, its pod gets the merged scheduling and runs under runsc
    k.apply("/apis/node.k8s.io/v1/runtimeclasses/gvisor", RC)
    d = k.watch_until("/apis/apps/v1/namespaces/wl/deployments",
                      lambda o: o.get("status", {}).get("availableReplicas") == 1, field_name="sb")
    assert not cond(d, "ReplicaFailure") and cond(d, "Available")["status"] == "True"
    pods = k.ok("GET", "/api/v1/namespaces/wl/pods?labelSelector=app%3Dsb")["items"]
    assert len(pods) == 1
    ps = pods[0]["spec"]
    assert ps["nodeSelector"] == GV_LABELS and ps["overhead"] == {"cpu": "100m", "memory": "64Mi"}
    assert RC["scheduling"]["tolerations"][0] in ps["tolerations"]
    node = k.ok("GET", "/api/v1/nodes/" + ps["nodeName"])
    assert node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] == "gvisor"
    state = k.ok("GET", "/_kubesim/state", token="")
    assert [p["handler"] for p in state["pods"] if p["name"] == pods[0]["metadata"]["name"]] == ["runsc"]
    # nodeSelector conflict -> 403
    code, st, _ = k.call("POST", "/api/v1/namespaces/wl/pods",
                         pod("p1", "wl", {"runtimeClassName": "gvisor", "nodeSelector": {"secfaas.io/runtime": "runc"}}))
    assert code == 403 and "conflict: runtimeClass.scheduling.nodeSelector" in st["message"], st
    # a plain pod lands on the untainted system group
    k.ok("POST", "/api/v1/namespaces/wl/pods", pod("plain", "wl"))
    p = k.watch_until("/api/v1/namespaces/wl/pods", lambda o: o.get("status", {}).get("phase") == "Running",
                      field_name="plain")
    assert k.ok("GET", "/api/v1/nodes/" + p["spec"]["nodeName"])["metadata"]["labels"][
        "eks.amazonaws.com/nodegroup"] == "system"
    # handler missing on the node: stays ContainerCreating with FailedCreatePodSandBox
    k.apply("/apis/node.k8s.io/v1/runtimeclasses/kata", {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                                          "metadata": {"name": "kata"}, "handler": "kata"})
    k.ok("POST", "/api/v1/namespaces/wl/pods", pod("nokata", "wl", {"runtimeClassName": "kata"}))
    p = k.watch_until("/api/v1/namespaces/wl/pods",
                      lambda o: cond(o, "PodReadyToStartContainers").get("reason") == "FailedCreatePodSandBox",
                      field_name="nokata")
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    evs = k.ok("GET", "/api/v1/namespaces/wl/events?fieldSelector=involvedObject.name%3Dnokata")["items"]
    assert any(e["reason"] == "FailedCreatePodSandBox" and 'no runtime for "kata"' in e["message"] for e in evs), evs
    # Foreground delete of the Deployment removes its pods first
    k.ok("DELETE", "/apis/apps/v1/namespaces/wl/deployments/sb", {"propagationPolicy": "Foreground"})
    k.watch_gone("/apis/apps/v1/namespaces/wl/deployments", "sb")
    assert not k.ok("GET", "/api/v1/namespaces/wl/pods?labelSelector=app%3Dsb")["items"]


def t_loadbalancer(k, aws):
    k.ok("POST", "/api/v1/namespaces", ns("lb"))
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw", "namespace": "lb"},
           "spec": {"type": "LoadBalancer", "selector": {"app": "gw"}, "ports": [{"port": 8080}]}}
    code, o, _ = k.apply("/api/v1/namespaces/lb/services/gw", svc)
    assert code == 201 and o["spec"]["ports"][0]["nodePort"] >= 30000
    s = k.watch_until("/api/v1/namespaces/lb/services",
                      lambda o: o.get("status", {}).get("loadBalancer", {}).get("ingress"), field_name="gw")
    assert s["status"]["loadBalancer"]["ingress"][0]["hostname"] == "k8s-lb-gw-123.elb.eu-west-1.amazonaws.com"
    assert "service.kubernetes.io/load-balancer-cleanup" in s["metadata"]["finalizers"]
    assert aws.lbs["k8s-lb-gw"]["request"] == {"cluster": "demo", "namespace": "lb", "service": "gw",
                                                "type": "classic"}
    d = k.ok("DELETE", "/api/v1/namespaces/lb/services/gw")
    assert d["kind"] == "Service" and d["metadata"]["deletionTimestamp"], d
    k.watch_gone("/api/v1/namespaces/lb/services", "gw")
    assert "k8s-lb-gw" in aws.deleted_lbs and not aws.lbs
    assert k.call("GET", "/api/v1/namespaces/lb/services/gw")[0] == 404


def t_vap_guard(k):
    k.ok("POST", "/api/v1/namespaces", ns("openfaas-fn"))
    k.apply("/apis/node.k8s.io/v1/runtimeclasses/gvisor", RC)
    k.apply("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + VAP["metadata"]["name"], VAP)
    k.apply("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + VAPB["metadata"]["name"], VAPB)
    # the self-test secfaas runs: dry-run pods with and without the class
    code, st, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All", pod("probe", "openfaas-fn"))
    assert code == 422 and st["reason"] == "Invalid", (code, st)
    assert st["message"] == ("ValidatingAdmissionPolicy 'secfaas-fn-gvisor-only' with binding "
                             "'secfaas-fn-gvisor-only' denied request: openfaas-fn pods must use RuntimeClass gvisor")
    code, o, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All",
                        pod("probe", "openfaas-fn", {"runtimeClassName": "gvisor"}))
    assert code == 201 and o["spec"]["nodeSelector"] == GV_LABELS, (code, o)
    code, st, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All",
                         pod("probe", "openfaas-fn", {"runtimeClassName": "gvisor", "hostNetwork": True}))
    assert code == 422 and "no hostNetwork" in st["message"]
    assert not k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods")["items"]
    # other namespaces are not affected
    code, _, _ = k.call("POST", "/api/v1/namespaces/default/pods?dryRun=All", pod("probe", "default"))
    assert code == 201


# ---------------------------------------------------------------------------
# kubectl cross-check
# ---------------------------------------------------------------------------

def kubectl(kc, cache, *args, check=True, timeout=60):
    r = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", kc, "--cache-dir", cache, "--request-timeout=20s"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def t_kubectl(k, aws, exec_plugin):
    d = tempfile.mkdtemp(dir=TMP)
    cache = d + "/cache"
    if exec_plugin:
        script = d + "/cred.sh"
        with open(script, "w") as f:
            f.write("#!/bin/sh\n# an exec credential plugin, as `secfaas eks-token` would be\n"
                    "test -n \"$KUBERNETES_EXEC_INFO\" || exit 3\n"
                    "printf '%%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
                    "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}'\n" % k.token)
        os.chmod(script, 0o755)
        kc = k.kubeconfig(d + "/kubeconfig", exec_script=script)
    else:
        kc = k.kubeconfig(d + "/kubeconfig")
    ns_name = "kc-exec" if exec_plugin else "kc"
    aws.set_groups(standard_groups())
    man = d + "/app.yaml"
    with open(man, "w") as f:
        f.write("""apiVersion: v1
kind: Namespace
metadata: {name: %(ns)s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: %(ns)s}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %(ns)s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
""" % {"ns": ns_name})
    r = kubectl(kc, cache, "apply", "--server-side", "-f", man)
    assert "deployment.apps/web serverside-applied" in r.stdout, r.stdout
    r = kubectl(kc, cache, "get", "deploy", "web", "-n", ns_name, "-o", "json", "--show-managed-fields")
    obj = json.loads(r.stdout)
    assert obj["metadata"]["managedFields"][0]["manager"] == "kubectl"
    kubectl(kc, cache, "wait", "--for=condition=Available", "deploy/web", "-n", ns_name, "--timeout=30s")
    r = kubectl(kc, cache, "rollout", "status", "deploy/web", "-n", ns_name, "--timeout=30s")
    assert "successfully rolled out" in r.stdout, r.stdout
    r = kubectl(kc, cache, "get", "pods", "-n", ns_name)
    assert r.stdout.count("web-") == 2, r.stdout
    r = kubectl(kc, cache, "diff", "--server-side", "-f", man, check=False)
    assert r.returncode == 0 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    with open(man) as f:
        changed = f.read().replace("replicas: 2", "replicas: 3")
    with open(d + "/app2.yaml", "w") as f:
        f.write(changed)
    r = kubectl(kc, cache, "diff", "--server-side", "-f", d + "/app2.yaml", check=False)
    assert r.returncode == 1 and "+  replicas: 3" in r.stdout, (r.returncode, r.stdout, r.stderr)
    r = kubectl(kc, cache, "apply", "--server-side", "--field-manager", "other", "-f", d + "/app2.yaml", check=False)
    assert r.returncode != 0 and "conflict" in r.stderr, r.stderr
    r = kubectl(kc, cache, "get", "nodes", "-l", "secfaas.io/runtime=gvisor", "-o", "name")
    assert len(r.stdout.split()) == 2, r.stdout
    r = kubectl(kc, cache, "delete", "deployment/web", "configmap/cfg", "-n", ns_name, "--timeout=30s")
    assert 'deployment.apps "web" deleted' in r.stdout, r.stdout
    assert kubectl(kc, cache, "get", "pods", "-n", ns_name, "-o", "name").stdout == ""  # foreground-free GC done
    kubectl(kc, cache, "delete", "-f", man, "--timeout=30s", "--ignore-not-found")
    r = kubectl(kc, cache, "get", "ns", ns_name, check=False)
    assert r.returncode != 0 and "NotFound" in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# OpenFaaS gateway
# ---------------------------------------------------------------------------

PASSWORD = "Sup3rS3cretPassw0rdSup3rS3cretPa"


def install_openfaas(k):
    k.apply("/api/v1/namespaces/openfaas", ns("openfaas", {"role": "openfaas-system"}))
    k.apply("/api/v1/namespaces/openfaas-fn", ns("openfaas-fn", {"role": "openfaas-fn"}))
    k.apply("/apis/node.k8s.io/v1/runtimeclasses/gvisor", RC)
    k.apply("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + VAP["metadata"]["name"], VAP)
    k.apply("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + VAPB["metadata"]["name"], VAPB)
    k.apply("/api/v1/namespaces/openfaas/secrets/basic-auth",
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "basic-auth", "namespace": "openfaas"},
             "type": "Opaque", "stringData": {"basic-auth-user": "admin", "basic-auth-password": PASSWORD}})
    for name, typ in (("gateway", "ClusterIP"), ("gateway-external", "NodePort")):
        port = {"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}
        if typ == "NodePort":
            port["nodePort"] = 31112
        k.apply("/api/v1/namespaces/openfaas/services/" + name,
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "openfaas",
                                                                     "labels": {"app": "openfaas"}},
                 "spec": {"type": typ, "selector": {"app": "gateway"}, "ports": [port]}})


def gw_ready(k):
    k.apply("/apis/apps/v1/namespaces/openfaas/deployments/gateway", deployment("gateway", "openfaas", 1, {"app": "gateway"}))
    k.watch_until("/apis/apps/v1/namespaces/openfaas/deployments",
                  lambda o: o.get("status", {}).get("availableReplicas") == 1, field_name="gateway")


PROXY = "/api/v1/namespaces/openfaas/services/gateway:8080/proxy"


def basic():
    return "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()


def nodeport(k, method, path, body=None, auth=True):
    import http.client
    st = k.ok("GET", "/_kubesim/state", token="")
    hostport = st["nodePorts"]["31112"]
    host, port = hostport.split(":")
    assert_loopback("http://" + hostport)
    # the NodePort is reachable at the nodes' ExternalIP
    nodes = k.ok("GET", "/api/v1/nodes")["items"]
    assert any(a["address"] == host for a in nodes[0]["status"]["addresses"] if a["type"] == "ExternalIP")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    h = {"Authorization": basic()} if auth else {}
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return r.status, data


def t_gateway(k, aws):
    aws.set_groups(standard_groups())
    install_openfaas(k)
    code, st, _ = k.call("GET", PROXY + "/healthz")
    assert code == 503 and "no endpoints available" in st["message"], (code, st)
    gw_ready(k)
    code, body, _ = k.call("GET", PROXY + "/healthz")
    assert code == 200 and body.strip() == "OK", (code, body)
    # the API server consumes Authorization: /system/* through the proxy is 401
    code, body, _ = k.call("GET", PROXY + "/system/functions")
    assert code == 401, (code, body)
    k.watch_until("/api/v1/namespaces/openfaas/services", lambda o: True, field_name="gateway-external")
    # NodePort: wait until the listener exists (it follows the Service)
    deadline = time.monotonic() + 10
    while "31112" not in k.ok("GET", "/_kubesim/state", token="")["nodePorts"]:
        assert time.monotonic() < deadline, "nodePort listener never appeared"
        time.sleep(0.05)
    assert nodeport(k, "GET", "/system/functions", auth=False)[0] == 401
    code, data = nodeport(k, "POST", "/system/functions", {"service": "gvsmoke", "image": "ghcr.io/openfaas/alpine:3.20",
                                                           "envProcess": "dmesg"})
    assert code == 202, (code, data)
    dep = k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/gvsmoke")
    tspec = dep["spec"]["template"]["spec"]
    assert dep["metadata"]["labels"]["faas_function"] == "gvsmoke"
    assert tspec["nodeSelector"] == {} and "runtimeClassName" not in tspec and "tolerations" not in tspec, tspec
    assert k.ok("GET", "/api/v1/namespaces/openfaas-fn/services/gvsmoke")["spec"]["ports"][0]["port"] == 8080
    # v1.32 has no MutatingAdmissionPolicy: the guard refuses the pods (fail closed)
    d = k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments", lambda o: cond(o, "ReplicaFailure"),
                      field_name="gvsmoke")
    assert "must use RuntimeClass gvisor" in cond(d, "ReplicaFailure")["message"]
    assert not k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods")["items"]
    code, body, _ = k.call("POST", PROXY + "/function/gvsmoke", "hi", "text/plain")
    assert code == 502, (code, body)
    # repair on apply: secfaas's merge patch makes it run under gVisor
    k.ok("PATCH", "/apis/apps/v1/namespaces/openfaas-fn/deployments/gvsmoke",
         {"spec": {"template": {"spec": {"runtimeClassName": "gvisor"}}}}, "application/merge-patch+json")
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: o.get("status", {}).get("availableReplicas") == 1, field_name="gvsmoke")
    code, fn = nodeport(k, "GET", "/system/function/gvsmoke")
    assert code == 200 and json.loads(fn)["availableReplicas"] == 1, fn
    code, rep, _ = k.call("POST", PROXY + "/function/gvsmoke", "hi", "text/plain")
    assert code == 200, (code, rep)
    assert rep["runtimeClassName"] == "gvisor" and rep["handler"] == "runsc", rep
    assert rep["nodeLabels"]["secfaas.io/runtime"] == "gvisor"
    assert rep["output"].splitlines()[0].endswith("Starting gVisor...") and rep["kernel"] == "4.4.0", rep
    # a runc pod would not see that banner
    # CE limit: 15 functions, the 16th is refused
    for i in range(14):
        assert nodeport(k, "POST", "/system/functions", {"service": "f%d" % i, "image": "alpine:3.20"})[0] == 202
    code, data = nodeport(k, "POST", "/system/functions", {"service": "f99", "image": "alpine:3.20"})
    assert code == 400 and "15" in data, (code, data)
    code, lst = nodeport(k, "GET", "/system/functions")
    assert len(json.loads(lst)) == 15
    for i in range(14):
        assert nodeport(k, "DELETE", "/system/functions", {"functionName": "f%d" % i})[0] == 202
    assert nodeport(k, "DELETE", "/system/functions", {"functionName": "gvsmoke"})[0] == 202
    k.watch_gone("/apis/apps/v1/namespaces/openfaas-fn/deployments", "gvsmoke")
    assert nodeport(k, "DELETE", "/system/functions", {"functionName": "gvsmoke"})[0] == 404


def t_gateway_map(k, aws):
    """v1.36: a MutatingAdmissionPolicy puts gateway-deployed functions into gVisor."""
    aws.set_groups(standard_groups())
    adm = {r["name"] for r in k.ok("GET", "/apis/admissionregistration.k8s.io/v1")["resources"]}
    assert "mutatingadmissionpolicies" in adm
    install_openfaas(k)
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-fn-gvisor", MAP(MAP_OK))
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings/secfaas-fn-gvisor", MAPB)
    gw_ready(k)
    # --lenient-proxy: /system/* through the proxy works for an authenticated caller
    code, body, _ = k.call("POST", PROXY + "/system/functions", {"service": "fn1", "image": "alpine:3.20",
                                                                 "envProcess": "uname -r"})
    assert code == 202, (code, body)
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: o.get("status", {}).get("availableReplicas") == 1, field_name="fn1")
    dep = k.ok("GET", "/apis/apps/v1/namespaces/openfaas-fn/deployments/fn1")
    assert "runtimeClassName" not in dep["spec"]["template"]["spec"]  # nobody patched it
    code, rep, _ = k.call("POST", PROXY + "/function/fn1", "")
    assert rep["runtimeClassName"] == "gvisor" and rep["handler"] == "runsc" and rep["output"] == "4.4.0\n", rep
    # a broken mutator (CEL outside the subset) refuses pods instead of admitting them without the class
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-fn-gvisor",
            MAP("Object{spec: Object.spec{runtimeClassName: object.metadata.name.unknownFn()}}"))
    k.ok("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/secfaas-fn-gvisor-only")
    code, st, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("direct", "openfaas-fn"))
    assert code == 403 and "MutatingAdmissionPolicy 'secfaas-fn-gvisor'" in st["message"], (code, st)
    assert k.call("POST", PROXY + "/system/functions", {"service": "fn2", "image": "alpine:3.20"})[0] == 202
    d = k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments", lambda o: cond(o, "ReplicaFailure"),
                      field_name="fn2")
    assert "MutatingAdmissionPolicy" in cond(d, "ReplicaFailure")["message"]
    pods = k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods")["items"]
    assert all(p["spec"].get("runtimeClassName") == "gvisor" for p in pods) and \
        not [p for p in pods if p["metadata"]["labels"].get("faas_function") == "fn2"], pods
    # a mutator that sets a JSONPatch works too
    k.apply("/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/secfaas-fn-gvisor", {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": "secfaas-fn-gvisor"},
        "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                         "operations": ["CREATE"], "resources": ["pods"]}]},
                 "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression":
                                "[JSONPatch{op: 'add', path: '/spec/runtimeClassName', value: 'gvisor'}]"}}]}})
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: o.get("status", {}).get("availableReplicas") == 1, field_name="fn2")


# ---------------------------------------------------------------------------
# STS tokens
# ---------------------------------------------------------------------------

def sts_token(host, sig="good", signed="host;x-k8s-aws-id", account=ACCOUNT):
    q = ("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
         "&X-Amz-Credential=%s%%2F20260101%%2Feu-west-1%%2Fsts%%2Faws4_request&X-Amz-Date=20260101T000000Z"
         "&X-Amz-Expires=60&X-Amz-SignedHeaders=%s&X-Amz-Signature=%s" % (account, signed.replace(";", "%3B"), sig))
    url = "%s/?%s" % (host, q)
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def t_sts(k, aws):
    assert k.call("GET", "/api/v1/namespaces", token=sts_token(aws.url))[0] == 200
    assert aws.sts_calls[-1][1] == "demo"  # the cluster id header was sent
    n = len(aws.sts_calls)
    assert k.call("GET", "/api/v1/namespaces", token=sts_token(aws.url, sig="bad"))[0] == 401
    assert k.call("GET", "/api/v1/namespaces", token=sts_token(aws.url, signed="host"))[0] == 401
    assert k.call("GET", "/api/v1/namespaces", token=sts_token(aws.url, account="999999999999", sig="good"))[0] == 401
    # a token pointing at a non-loopback STS is refused without any request
    code, st, _ = k.call("GET", "/api/v1/namespaces", token=sts_token("https://sts.eu-west-1.amazonaws.com"))
    assert code == 401 and st["reason"] == "Unauthorized"
    assert len(aws.sts_calls) == n + 2, aws.sts_calls  # bad sig + wrong account reached the fake STS
    assert k.call("GET", "/api/v1/namespaces", token="k8s-aws-v1.%%%")[0] == 401
    assert k.call("GET", "/api/v1/namespaces", token=sts_token(aws.url)[:-4] + "AAAA")[0] == 401  # tampered


def t_refuse_non_loopback():
    d = tempfile.mkdtemp(dir=TMP)
    r = subprocess.run([KUBESIM, "--cluster", "x", "--cert", "/nonexistent", "--key", "/nonexistent",
                        "--aws-url", "https://eks.eu-west-1.amazonaws.com", "--port-file", d + "/p"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "not a loopback" in r.stderr, r.stderr
    assert not os.path.exists(d + "/p")
    r = subprocess.run([KUBESIM, "--cluster", "x", "--cert", "/nonexistent", "--key", "/nonexistent",
                        "--host", "0.0.0.0", "--token-mode", "static", "--static-token", "t"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "not loopback" in r.stderr, r.stderr


def main():
    run = Runner()
    t0 = time.monotonic()
    run.run("refuse non-loopback endpoints", t_refuse_non_loopback)
    aws = FakeAWS("demo")
    k = Kubesim(TMP, aws=aws)
    try:
        for name, fn in (("auth: static token, 401 Status", t_auth), ("discovery + openapi v3", t_discovery),
                         ("CRUD, PUT/merge/json patch, dryRun, selectors", t_crud),
                         ("server-side apply semantics", t_ssa), ("watch: events, timeout, 410", t_watch),
                         ("injected faults", t_faults), ("namespace Terminating then gone", t_namespace_lifecycle),
                         ("CRD Established, custom resources", t_crd)):
            run.run(name, fn, k)
        run.run("nodes follow node groups (labels, taints, runsc)", t_nodes, k, aws)
        run.run("deployments, RuntimeClass admission, scheduling", t_workloads, k, aws)
        run.run("LoadBalancer Service lifecycle", t_loadbalancer, k, aws)
        run.run("ValidatingAdmissionPolicy deny guard", t_vap_guard, k)
        run.run("kubectl (static token)", t_kubectl, k, aws, False)
        run.run("kubectl (exec credential plugin)", t_kubectl, k, aws, True)
    finally:
        k.stop()
    k = Kubesim(TMP, aws=aws)
    try:
        run.run("gateway: deploy, guard, repair, invoke, CE limit", t_gateway, k, aws)
    finally:
        k.stop()
    k = Kubesim(TMP, aws=aws, extra=["--version", "1.36", "--lenient-proxy"])
    try:
        run.run("v1.36 MutatingAdmissionPolicy + broken mutator", t_gateway_map, k, aws)
    finally:
        k.stop()
    k = Kubesim(TMP, aws=aws, mode="sts")
    try:
        run.run("STS presigned-URL tokens", t_sts, k, aws)
    finally:
        k.stop()
    aws.close()
    if not run.failed:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("logs kept in", TMP)
    print("suite time %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (run.passed, run.failed))
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
