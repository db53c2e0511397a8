#!/usr/bin/python3
"""kubesim suite: API semantics, controllers, admission (policies and real
HTTPS webhooks), the process runner, the gateway, secfaas's gVisor webhook run
for real, and the real kubectl against it.  Prints 'N passed, N failed';
exits non-zero on failure."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_admission  # noqa: E402
from harness import (ACCOUNT, FakeAWS, Kubesim, Runner, assert_loopback, group, wait_for,  # noqa: E402
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
                        "privateDnsName": "ip-10-0-9-10.eu-west-1.compute.internal"}]}]
        # a node's containerd (from its image) decides which runtime table it reads
        + [{"name": name, "status": "ACTIVE", "labels": {}, "taints": [], "scaling": {"desiredSize": 1},
            "instanceTypes": ["m5.large"], "subnets": [{"id": "subnet-2", "az": "eu-west-1a"}],
            "userData": node_config(None, None, runsc=True, containerd2=v3),
            "instances": [{"id": "i-0%s" % ip, "state": "running", "privateIp": "10.0.8.%s" % ip, "az": "eu-west-1a",
                           "privateDnsName": "ip-10-0-8-%s.eu-west-1.compute.internal" % ip, "containerd": ctd}]}
           for name, ctd, v3, ip in (("c17v3", "1.7.27", True, "11"), ("c17v2", "1.7.27", False, "12"),
                                     ("c21v2", "2.1.4", False, "13"), ("c21v3", "2.1.4", True, "14"))])
    nodes = {}
    k.watch_until("/api/v1/nodes", lambda o: (nodes.__setitem__(o["metadata"]["name"], o), len(nodes) >= 11)[1])
    lst = k.ok("GET", "/api/v1/nodes")["items"]
    by_group = {}
    for n in lst:
        by_group.setdefault(n["metadata"]["labels"]["eks.amazonaws.com/nodegroup"], []).append(n)
    assert sorted(by_group) == ["awsshape", "c17v2", "c17v3", "c21v2", "c21v3", "gvisor", "old", "plain",
                                "system"], sorted(by_group)
    handlers = {g: [h["name"] for h in by_group[g][0]["status"]["runtimeHandlers"]]
                for g in ("c17v3", "c17v2", "c21v2", "c21v3")}
    # containerd 1.7 loads a version 3 file without an error and without its runtimes; 2.x migrates version 2
    assert handlers == {"c17v3": ["runc"], "c17v2": ["runc", "runsc"], "c21v2": ["runc", "runsc"],
                        "c21v3": ["runc", "runsc"]}, handlers
    assert by_group["c17v3"][0]["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.7.27"
    assert by_group["c21v3"][0]["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://2.1.4"
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
    for n in by_group["old"] + by_group["plain"] + [by_group[g][0] for g in ("c17v3", "c17v2", "c21v2", "c21v3")]:
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
                                                "type": "classic", "scheme": "internet-facing", "ports": [8080],
                                                "sourceRanges": ["0.0.0.0/0"]}
    # the cloud provider keeps the load balancer's rules in step with the Service: asked again with the
    # new ranges (the annotation's, comma-separated, when the field is empty)
    svc["metadata"]["annotations"] = {"service.beta.kubernetes.io/load-balancer-source-ranges": "203.0.113.0/24, 198.51.100.0/24",
                                      "service.beta.kubernetes.io/aws-load-balancer-internal": "true"}
    k.apply("/api/v1/namespaces/lb/services/gw", svc)
    wait_for("the annotation's ranges", lambda: aws.lbs["k8s-lb-gw"]["request"]["sourceRanges"] != ["0.0.0.0/0"])
    assert aws.lbs["k8s-lb-gw"]["request"]["sourceRanges"] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert aws.lbs["k8s-lb-gw"]["request"]["scheme"] == "internal"
    svc["spec"]["loadBalancerSourceRanges"] = ["192.0.2.0/24"]
    k.apply("/api/v1/namespaces/lb/services/gw", svc)
    wait_for("the field's ranges", lambda: aws.lbs["k8s-lb-gw"]["request"]["sourceRanges"] == ["192.0.2.0/24"])
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
    k.apply("/apis/apps/v1/namespaces/openfaas/deployments/gateway", deployment("gateway", "openfaas", 1, {"app": "gateway"}, {
        "containers": [{"name": "gateway", "image": "ghcr.io/openfaas/gateway:0.27.13",
                        "ports": [{"name": "http", "containerPort": 8080}]},
                       {"name": "faas-netes", "image": "ghcr.io/openfaas/faas-netes:0.18.17",
                        "ports": [{"containerPort": 8081}]}]}))
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
    # scale from zero: the gateway polls for an available replica (100 s, simulated time while no pod
    # exists), then faas-netes finds no endpoint
    code, body, hdrs = k.call("POST", PROXY + "/function/gvsmoke", "hi", "text/plain")
    assert code == 503 and body == "No endpoints available for: gvsmoke.\n", (code, body)
    assert hdrs.get("X-Openfaas-Internal") == "proxy", hdrs
    # repair on apply: secfaas's merge patch makes it run under gVisor
    k.ok("PATCH", "/apis/apps/v1/namespaces/openfaas-fn/deployments/gvsmoke",
         {"spec": {"template": {"spec": {"runtimeClassName": "gvisor"}}}}, "application/merge-patch+json")
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: o.get("status", {}).get("availableReplicas") == 1, field_name="gvsmoke")
    code, fn = nodeport(k, "GET", "/system/function/gvsmoke")
    assert code == 200 and json.loads(fn)["availableReplicas"] == 1, fn
    code, out, _ = k.call("POST", PROXY + "/function/gvsmoke", "hi", "text/plain")
    assert code == 200, (code, out)
    # the watchdog's fprocess ran in the pod, under the kernel its runtime (runsc) presents
    assert out.splitlines()[0].endswith("Starting gVisor..."), out
    p = [x for x in k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods")["items"]
         if x["metadata"]["labels"].get("faas_function") == "gvsmoke"][0]
    node = k.ok("GET", "/api/v1/nodes/" + p["spec"]["nodeName"])
    assert p["spec"]["runtimeClassName"] == "gvisor" and node["metadata"]["labels"]["secfaas.io/runtime"] == "gvisor"
    assert [x["handler"] for x in k.ok("GET", "/_kubesim/state", token="")["pods"]
            if x["name"] == p["metadata"]["name"]] == ["runsc"]
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
# Process runner: pods of the official Python image run for real
# ---------------------------------------------------------------------------

RUNNER_SCRIPT = r"""
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
keys = ("CFG", "POD_IP", "POD_NAME", "NS", "NODE", "SA", "SECRET_VAL", "CM_VAL", "HOME", "LANG", "HOSTNAME",
        "FROM_a", "EXPANDED", "TMPDIR", "PYTHONDONTWRITEBYTECODE")
print("argv " + json.dumps(sys.argv[1:]))
print("env " + json.dumps({k: os.environ.get(k) for k in keys}))
print("data " + open(os.environ["CFG"]).read().strip())
print("labels " + open(sys.argv[1].split("=", 1)[1]).read().replace("\n", ";"))
print("mode " + oct(os.stat(os.environ["CFG"]).st_mode & 0o777), flush=True)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
    def log_message(self, *a):
        sys.stderr.write("served %s\n" % self.path)
        sys.stderr.flush()
HTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
"""


def pod_ip_ok(k, ip):
    """A process pod's IP: loopback 127.0.x.y (x >= 1) without network namespaces, else an address of
    its node's subnet (never loopback)."""
    mode = k.ok("GET", "/_kubesim/network-policy", token="")["mode"]
    if mode == "loopback":
        return ip.startswith("127.0.") and ip != "127.0.0.1"
    return not ip.startswith("127.") and ip.startswith("10.0.")


def py_pod(name, command, **spec):
    p = pod(name, "run")
    p["spec"]["containers"] = [{"name": "main", "image": "python:3.12-slim", "command": command}]
    p["spec"].update(spec)
    return p


def t_runner(k, aws):
    aws.set_groups(standard_groups())
    k.watch_until("/api/v1/nodes", lambda o: o["metadata"]["labels"].get("eks.amazonaws.com/nodegroup") == "system")
    k.ok("POST", "/api/v1/namespaces", ns("run"))
    P = "/api/v1/namespaces/run/pods"
    k.ok("POST", "/api/v1/namespaces/run/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "scripts"},
                                                      "data": {"main.py": RUNNER_SCRIPT, "data.txt": "hello data\n",
                                                               "a": "from-envfrom"}})
    k.ok("POST", "/api/v1/namespaces/run/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                                   "stringData": {"token": "s3cr3t"}})
    main = py_pod("ok", ["python3", "/scripts/main.py"], volumes=[
        {"name": "scripts", "configMap": {"name": "scripts", "defaultMode": 0o440}},
        {"name": "podinfo", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}])
    main["metadata"]["labels"] = {"app": "ok", "tier": "t1"}
    c = main["spec"]["containers"][0]
    c["args"] = ["--labels=/etc/podinfo/labels", "$(POD_NAME)", "$$(POD_NAME)"]
    c["ports"] = [{"name": "http", "containerPort": 8080}]
    c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2}
    c["volumeMounts"] = [{"name": "scripts", "mountPath": "/scripts"}, {"name": "podinfo", "mountPath": "/etc/podinfo"}]
    c["envFrom"] = [{"prefix": "FROM_", "configMapRef": {"name": "scripts"}}]
    c["env"] = [{"name": "CFG", "value": "/scripts/data.txt"},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "SECRET_VAL", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
                {"name": "CM_VAL", "valueFrom": {"configMapKeyRef": {"name": "scripts", "key": "a"}}},
                {"name": "EXPANDED", "value": "x-$(POD_NAME)-y"}]
    main["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    k.ok("POST", P, main)
    p = k.watch_until(P, lambda o: cond(o, "Ready").get("status") == "True", field_name="ok")
    ip = p["status"]["podIP"]
    assert pod_ip_ok(k, ip), ip
    assert {cs["name"]: cs["ready"] for cs in p["status"]["containerStatuses"]} == {"main": True, "sidecar": True}
    out = k.ok("GET", P + "/ok/log?container=main")
    lines = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in out.splitlines() if " " in ln}
    argv = json.loads(lines["argv"])
    assert argv[0].startswith("--labels=/") and argv[0].endswith("/volumes/podinfo/labels") and \
        "/etc/podinfo" not in argv[0], argv  # mountPath rewritten
    assert argv[1:] == ["ok", "$(POD_NAME)"], argv
    env = json.loads(lines["env"])
    assert env["CFG"].endswith("/volumes/scripts/data.txt") and env["POD_IP"] == ip, env
    assert (env["POD_NAME"], env["NS"], env["SA"], env["SECRET_VAL"], env["CM_VAL"], env["FROM_a"]) == \
        ("ok", "run", "default", "s3cr3t", "from-envfrom", "from-envfrom"), env
    assert env["NODE"] == p["spec"]["nodeName"] and env["EXPANDED"] == "x-ok-y" and env["HOSTNAME"] == "ok", env
    assert (env["HOME"], env["LANG"], env["TMPDIR"]) == ("/tmp", "C.UTF-8", None), env  # kubesim's env not inherited
    assert lines["data"] == "hello data" and lines["mode"] == "0o440", lines
    assert 'app="ok"' in lines["labels"] and 'tier="t1"' in lines["labels"], lines
    # the readiness probe really reached the process (named port, the pod IP)
    assert "served /healthz" in out, out
    code, st, _ = k.call("GET", P + "/ok/log")
    assert code == 400 and st["message"] == \
        "a container name must be specified for pod ok, choose one of: [main sidecar]", st
    assert k.call("GET", P + "/ok/log?container=sidecar")[1] == ""  # simulated: prints nothing
    # deleting the pod kills the process
    proc = [x for x in k.ok("GET", "/_kubesim/state", token="")["processes"] if x["pod"] == "ok"]
    assert len(proc) == 1 and proc[0]["running"] and pid_alive(proc[0]["pid"]), proc
    k.ok("DELETE", P + "/ok")
    wait_for("pod ok's process to exit", lambda: not pid_alive(proc[0]["pid"]))

    # crash loop: immediate first restart, then back-off (CrashLoopBackOff), logs and previous logs
    k.ok("POST", P, py_pod("crash", ["python", "-c", "import os; print('run in', os.getcwd() != '/'); raise SystemExit(3)"]))
    p = k.watch_until(P, lambda o: ((o.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {})
                      .get("waiting", {}).get("reason") == "CrashLoopBackOff", field_name="crash")
    cs = p["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1 and cs["lastState"]["terminated"]["exitCode"] == 3, cs
    assert cs["lastState"]["terminated"]["reason"] == "Error" and not cs["ready"], cs
    assert cs["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=main pod=crash_run("), cs
    assert p["status"]["phase"] == "Running" and cond(p, "Ready")["status"] == "False", p["status"]
    assert k.ok("GET", P + "/crash/log") == "run in True\n"
    assert k.ok("GET", P + "/crash/log?previous=true") == "run in True\n"
    # restartPolicy Never: a clean exit is Succeeded
    k.ok("POST", P, py_pod("once", ["/usr/local/bin/python3.12", "-c", "print('once')"], restartPolicy="Never"))
    p = k.watch_until(P, lambda o: (o.get("status") or {}).get("phase") == "Succeeded", field_name="once")
    assert p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed", p["status"]
    code, st, _ = k.call("GET", P + "/once/log?previous=true")
    assert code == 400 and "previous terminated container" in st["message"], st
    # a missing ConfigMap: ContainerCreating with the real FailedMount event, until it exists
    mp = py_pod("mount", ["python3", "/cfg/x.py"], restartPolicy="Never",
                volumes=[{"name": "cfg", "configMap": {"name": "later"}}])
    mp["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg", "readOnly": True}]
    k.ok("POST", P, mp)
    k.watch_until("/api/v1/namespaces/run/events", lambda e: e["reason"] == "FailedMount" and
                  e["involvedObject"]["name"] == "mount")
    evs = k.ok("GET", "/api/v1/namespaces/run/events?fieldSelector=involvedObject.name%3Dmount")["items"]
    assert any(e["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found' for e in evs), evs
    p = k.ok("GET", P + "/mount")
    assert p["status"]["phase"] == "Pending" and \
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating", p["status"]
    code, st, _ = k.call("GET", P + "/mount/log")
    assert code == 400 and st["message"] == 'container "main" in pod "mount" is waiting to start: ContainerCreating', st
    k.ok("POST", "/api/v1/namespaces/run/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "later"}, "data": {"x.py": "print('mounted')"}})
    k.watch_until(P, lambda o: (o.get("status") or {}).get("phase") == "Succeeded", field_name="mount")
    assert k.ok("GET", P + "/mount/log") == "mounted\n"
    # a missing Secret key reference: CreateContainerConfigError
    k.ok("POST", P, py_pod("envmiss", ["python3", "-c", "pass"], containers=[
        {"name": "main", "image": "docker.io/library/python:3.13", "command": ["python3", "-c", "pass"],
         "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}]))
    p = k.watch_until(P, lambda o: ((o.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {})
                      .get("waiting", {}).get("reason") == "CreateContainerConfigError", field_name="envmiss")
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == 'secret "nope" not found', p["status"]
    # liveness failures restart the process (Killing event), readiness keeps it unready meanwhile
    k.ok("POST", P, py_pod("live", ["python3", "-c", "import time; print('alive', flush=True); time.sleep(60)"],
                           containers=[{"name": "main", "image": "library/python:3.13", "command": [
                               "python3", "-c", "import time; print('alive', flush=True); time.sleep(60)"],
                               "livenessProbe": {"tcpSocket": {"port": 9}, "failureThreshold": 1,
                                                 "periodSeconds": 1}}]))
    k.watch_until(P, lambda o: ((o.get("status") or {}).get("containerStatuses") or [{}])[0].get("restartCount", 0)
                  >= 1, field_name="live")
    evs = k.ok("GET", "/api/v1/namespaces/run/events?fieldSelector=involvedObject.name%3Dlive")["items"]
    assert any(e["reason"] == "Killing" and e["message"] == "Container main failed liveness probe, will be restarted"
               for e in evs), evs
    live_ip = k.ok("GET", P + "/live")["status"]["podIP"]
    assert any(e["reason"] == "Unhealthy" and e["message"].startswith("Liveness probe failed: dial tcp %s:9" % live_ip)
               for e in evs), evs
    # the namespace goes: every process goes with its pod
    pids = [x["pid"] for x in k.ok("GET", "/_kubesim/state", token="")["processes"] if x["namespace"] == "run"
            and x["pid"]]
    k.ok("DELETE", "/api/v1/namespaces/run")
    k.watch_gone("/api/v1/namespaces", "run")
    wait_for("the run namespace's processes to exit", lambda: not any(pid_alive(x) for x in pids))


# ---------------------------------------------------------------------------
# Admission webhooks against a fake HTTPS webhook server in this process
# ---------------------------------------------------------------------------

MWC_API = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
VWC_API = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


def hook_cfg(kind, name, hook_name, url, ca_b64, case=None, **kw):
    """A one-webhook configuration for pods in namespace wh (optionally only pods labelled wh-case=case)."""
    h = {"name": hook_name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
         "clientConfig": {"url": url, "caBundle": ca_b64},
         "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
         "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "wh"}}}
    if case:
        h["objectSelector"] = {"matchLabels": {"wh-case": case}}
    h.update(kw)
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": [h]}


def wh_pod(name, case, **spec):
    p = pod(name, "wh", spec)
    p["metadata"]["labels"] = {"wh-case": case}
    return p


def t_webhook_calls(k):
    """Review shape, JSON patch ops, reinvocation, selectors, matchConditions, warnings, denials,
    dry run, DELETE/UPDATE, and every way a call can fail (with failurePolicy Fail and Ignore)."""
    fake = harness.FakeWebhook(tempfile.mkdtemp(dir=TMP))
    try:
        _webhook_calls(k, fake)
    finally:
        fake.close()


def _webhook_calls(k, fake):
    k.ok("POST", "/api/v1/namespaces", ns("wh"))
    u = fake.url

    def mk(cfg, api=MWC_API):
        code, o, _ = k.call("POST", api, cfg)
        assert code == 201, (code, o)
        return o

    def rm(name, api=MWC_API):
        k.ok("DELETE", api + "/" + name)

    # -- review shape, RFC 6902 patch, UPDATE and DELETE reviews ----------------------------------
    patch_ops = [{"op": "test", "path": "/metadata/annotations/old", "value": "1"},
                 {"op": "move", "from": "/metadata/annotations/old", "path": "/metadata/annotations/moved"},
                 {"op": "copy", "from": "/metadata/annotations/cp", "path": "/metadata/labels/copied"},
                 {"op": "add", "path": "/metadata/labels/example.com~1x", "value": "y"},
                 {"op": "add", "path": "/metadata/labels/tilde~0key", "value": "t"},
                 {"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:1.37"},
                 {"op": "remove", "path": "/spec/tolerations/0"},
                 {"op": "add", "path": "/spec/tolerations/-", "value": {"key": "b", "operator": "Exists"}}]

    def mutate(review):
        req = review["request"]
        if req["operation"] == "CREATE" and (req["object"]["metadata"].get("annotations") or {}).get("old"):
            return {"allowed": True, "patchType": "JSONPatch", "patch": harness.patch_b64(patch_ops)}
        return {"allowed": True}
    fake.handlers["/mutate"] = mutate
    cfg = hook_cfg("MutatingWebhookConfiguration", "a-shape", "shape.kubesim.test", u + "/mutate", fake.ca_b64,
                   "shape", timeoutSeconds=7)
    cfg["webhooks"][0]["rules"][0]["operations"] = ["CREATE", "UPDATE", "DELETE"]
    o = mk(cfg)
    h = o["webhooks"][0]
    assert (h["failurePolicy"], h["matchPolicy"], h["reinvocationPolicy"], h["rules"][0]["scope"]) == \
        ("Fail", "Equivalent", "Never", "*"), h
    src_pod = wh_pod("shape", "shape", tolerations=[{"key": "a", "operator": "Exists"}])
    src_pod["metadata"]["annotations"] = {"old": "1", "cp": "v"}
    code, p, _ = k.call("POST", "/api/v1/namespaces/wh/pods?fieldManager=wh-test", src_pod)
    assert code == 201, (code, p)
    md = p["metadata"]
    assert md["annotations"] == {"moved": "1", "cp": "v"}, md
    assert md["labels"] == {"wh-case": "shape", "copied": "v", "example.com/x": "y", "tilde~key": "t"}, md
    assert p["spec"]["containers"][0]["image"] == "busybox:1.37"
    assert p["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}], p["spec"]
    call = fake.calls_to("/mutate")[-1]
    assert call["query"] == "timeout=7s", call
    assert call["headers"]["Content-Type"] == "application/json", call["headers"]
    assert call["headers"]["Host"] == "127.0.0.1:%d" % fake.port, call["headers"]
    rv = call["review"]
    assert rv["apiVersion"] == "admission.k8s.io/v1" and rv["kind"] == "AdmissionReview", rv
    req = rv["request"]
    assert req["kind"] == {"group": "", "version": "v1", "kind": "Pod"} == req["requestKind"], req
    assert req["resource"] == {"group": "", "version": "v1", "resource": "pods"} == req["requestResource"], req
    assert (req["name"], req["namespace"], req["operation"], req["dryRun"]) == ("shape", "wh", "CREATE", False), req
    assert "subResource" not in req and req["oldObject"] is None and len(req["uid"]) == 36, req
    assert req["object"]["kind"] == "Pod" and req["object"]["metadata"]["annotations"]["old"] == "1", req
    assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "wh-test"}, req
    assert req["userInfo"]["username"] and "system:masters" in req["userInfo"]["groups"], req["userInfo"]
    k.ok("PATCH", "/api/v1/namespaces/wh/pods/shape", {"metadata": {"labels": {"more": "1"}}},
         "application/merge-patch+json")
    req = fake.calls_to("/mutate")[-1]["review"]["request"]
    assert req["operation"] == "UPDATE" and req["oldObject"]["metadata"]["labels"].get("more") is None, req
    assert req["object"]["metadata"]["labels"]["more"] == "1" and req["options"]["kind"] == "UpdateOptions", req
    k.ok("DELETE", "/api/v1/namespaces/wh/pods/shape", {"propagationPolicy": "Background"})
    req = fake.calls_to("/mutate")[-1]["review"]["request"]
    assert req["operation"] == "DELETE" and req["object"] is None and req["oldObject"]["metadata"]["name"] == "shape"
    assert req["options"] == {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1",
                              "propagationPolicy": "Background"}, req["options"]
    # dry run: dryRun true, options.dryRun, nothing stored
    n = len(fake.calls_to("/mutate"))
    code, p, _ = k.call("POST", "/api/v1/namespaces/wh/pods?dryRun=All", src_pod)
    assert code == 201 and p["metadata"]["annotations"] == {"moved": "1", "cp": "v"}, (code, p)
    req = fake.calls_to("/mutate")[n]["review"]["request"]
    assert req["dryRun"] is True and req["options"]["dryRun"] == ["All"], req
    assert k.call("GET", "/api/v1/namespaces/wh/pods/shape")[0] == 404
    # a patch that does not apply: 500 whatever the failurePolicy
    k.ok("PATCH", MWC_API + "/a-shape", [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}],
         "application/json-patch+json")
    bad = wh_pod("badpatch", "shape")
    bad["metadata"]["annotations"] = {"old": "2", "cp": "v"}
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", bad)
    assert code == 500 and st["message"] == "Internal error occurred: testing value /metadata/annotations/old failed: " \
        "test failed", (code, st)
    # objectSelector: a pod without the label is not sent
    n = len(fake.calls_to("/mutate"))
    assert k.call("POST", "/api/v1/namespaces/wh/pods", pod("unlabelled", "wh"))[0] == 201
    assert len(fake.calls_to("/mutate")) == n
    rm("a-shape")

    # -- reinvocation: r1 (IfNeeded) runs again after r2 (later config) changed the object -------
    def r1(review):
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        seen = "yes" if labels.get("r2") else "no"
        return {"allowed": True, "patchType": "JSONPatch", "patch": harness.patch_b64(
            [{"op": "add", "path": "/metadata/annotations", "value": {"r1-saw-r2": seen}}])}

    def r2(review):
        return {"allowed": True, "patchType": "JSONPatch", "patch": harness.patch_b64(
            [{"op": "add", "path": "/metadata/labels/r2", "value": "yes"}])}
    fake.handlers["/r1"], fake.handlers["/r2"] = r1, r2
    mk(hook_cfg("MutatingWebhookConfiguration", "r1", "r1.kubesim.test", u + "/r1", fake.ca_b64, "reinvoke",
                reinvocationPolicy="IfNeeded"))
    mk(hook_cfg("MutatingWebhookConfiguration", "r2", "r2.kubesim.test", u + "/r2", fake.ca_b64, "reinvoke"))
    code, p, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("reinv", "reinvoke"))
    assert code == 201 and p["metadata"]["annotations"] == {"r1-saw-r2": "yes"}, p["metadata"]
    assert p["metadata"]["labels"]["r2"] == "yes"
    assert len(fake.calls_to("/r1")) == 2 and len(fake.calls_to("/r2")) == 1, fake.calls
    rm("r1")
    rm("r2")

    # -- matchConditions ---------------------------------------------------------------------------
    fake.handlers["/mc"] = lambda review: {"allowed": True}
    mk(hook_cfg("MutatingWebhookConfiguration", "mc", "mc.kubesim.test", u + "/mc", fake.ca_b64, "mc",
                matchConditions=[{"name": "prefixed", "expression": "object.metadata.name.startsWith('mc-')"}]))
    assert k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("mc-yes", "mc"))[0] == 201
    assert k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("no-mc", "mc"))[0] == 201
    assert [c["review"]["request"]["name"] for c in fake.calls_to("/mc")] == ["mc-yes"], fake.calls_to("/mc")
    k.ok("PATCH", MWC_API + "/mc", [{"op": "replace", "path": "/webhooks/0/matchConditions/0/expression",
                                     "value": "object.metadata.nothere == 'x'"}], "application/json-patch+json")
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("mc-err", "mc"))
    assert code == 403 and st["message"].startswith(
        'pods "mc-err" is forbidden: expression \'object.metadata.nothere == \'x\'\' resulted in error: '), (code, st)
    rm("mc")

    # -- validating webhooks: denial (real message and code), warnings, no patches ---------------------
    def deny(review):
        name = review["request"]["object"]["metadata"]["name"]
        if name == "deny-me":
            return {"allowed": False, "status": {"code": 403, "reason": "Forbidden",
                                                 "message": "pod name deny-me is not allowed"}}
        if name == "deny-plain":
            return {"allowed": False, "status": {"message": "no reason given"}}
        if name == "deny-bare":
            return {"allowed": False}
        if name == "patchy":
            return {"allowed": True, "patchType": "JSONPatch", "patch": harness.patch_b64([])}
        return {"allowed": True, "warnings": ["wh: looked at " + name]}
    fake.handlers["/validate"] = deny
    mk(hook_cfg("ValidatingWebhookConfiguration", "deny", "deny.kubesim.test", u + "/validate", fake.ca_b64, "deny"),
       VWC_API)
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("deny-me", "deny"))
    assert code == 403 and st["reason"] == "Forbidden", (code, st)
    assert st["message"] == 'admission webhook "deny.kubesim.test" denied the request: pod name deny-me is not allowed'
    assert k.call("GET", "/api/v1/namespaces/wh/pods/deny-me")[0] == 404
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("deny-plain", "deny"))
    assert code == 400 and st["message"] == \
        'admission webhook "deny.kubesim.test" denied the request: no reason given', (code, st)
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("deny-bare", "deny"))
    assert code == 400 and st["message"] == \
        'admission webhook "deny.kubesim.test" denied the request without explanation', (code, st)
    code, p, hdr = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("allowed", "deny"))
    assert code == 201 and "wh: looked at allowed" in (hdr.get("Warning") or ""), (code, dict(hdr))
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("patchy", "deny"))
    assert code == 500 and st["message"].endswith(
        "received invalid webhook response: validating webhook may not return response.patch"), (code, st)
    # sideEffects Some (only storable the way a cluster upgraded from v1beta1 holds it): no dry run
    some = hook_cfg("ValidatingWebhookConfiguration", "some", "some.kubesim.test", u + "/validate", fake.ca_b64, "deny",
                    sideEffects="Some")
    code, st, _ = k.call("POST", VWC_API, some)
    assert code == 422 and st["details"]["causes"][0]["field"] == "webhooks[0].sideEffects", (code, st)
    k.ok("POST", "/_kubesim/legacy-objects", some, token="")
    code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods?dryRun=All", wh_pod("dry-some", "deny"))
    assert code == 400 and st["reason"] == "BadRequest" and \
        st["message"] == 'admission webhook "some.kubesim.test" does not support dry run', (code, st)
    assert k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("real-some", "deny"))[0] == 201
    # ratcheting: the stored Some may stay on update
    k.ok("PATCH", VWC_API + "/some", [{"op": "replace", "path": "/webhooks/0/timeoutSeconds", "value": 3}],
         "application/json-patch+json")
    rm("some", VWC_API)
    rm("deny", VWC_API)

    # -- failures to call: failurePolicy Fail -> 500 with the real message; Ignore -> admitted ----------
    fake.handlers["/slow"] = lambda review: (time.sleep(2.5), {"allowed": True})[1]
    fake.handlers["/e500"] = lambda review: (500, b"boom")
    fake.handlers["/e400"] = lambda review: (400, b"bad")
    fake.handlers["/garbage"] = lambda review: (200, b"this is not json")
    fake.handlers["/wronguid"] = lambda review: {"allowed": True, "uid": "not-the-uid"}
    fake.handlers["/v1beta1"] = lambda review: {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                                                "response": {"uid": review["request"]["uid"], "allowed": True}}
    fake.handlers["/patchnotype"] = lambda review: {"allowed": True, "patch": harness.patch_b64([])}
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    cases = [
        ("refused", "https://127.0.0.1:%d/x" % cport, 10,
         'Post "https://127.0.0.1:%d/x?timeout=10s": dial tcp 127.0.0.1:%d: connect: connection refused' % (cport, cport)),
        ("slow", u + "/slow", 1, 'Post "%s/slow?timeout=1s": context deadline exceeded' % u),
        ("e500", u + "/e500", 10, 'an error on the server ("boom") has prevented the request from succeeding'),
        ("e400", u + "/e400", 10, "the server rejected our request for an unknown reason"),
        ("garbage", u + "/garbage", 10, "couldn't get version/kind; json parse error"),
        ("wronguid", u + "/wronguid", 10, 'received invalid webhook response: expected response.uid="'),
        ("v1beta1", u + "/v1beta1", 10, "received invalid webhook response: expected webhook response of "
                                        "admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1"),
        ("patchnotype", u + "/patchnotype", 10, "webhook returned response.patch but not response.patchType"),
        ("hostname", "https://localhost:%d/mutate" % fake.port, 10,
         "tls: failed to verify certificate: x509: certificate is valid for 127.0.0.1, not localhost"),
        ("offbox", "https://10.9.8.7/x", 10, "kubesim: refusing to call a webhook URL that is not https on a "
                                             "loopback host"),
    ]
    for case, url, timeout, want in cases:
        mk(hook_cfg("MutatingWebhookConfiguration", "f-" + case, case + ".fail.kubesim.test", url, fake.ca_b64, case,
                    timeoutSeconds=timeout))
        t0 = time.monotonic()
        code, st, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("f-" + case, case))
        took = time.monotonic() - t0
        assert code == 500 and st["reason"] == "InternalError", (case, code, st)
        prefix = 'Internal error occurred: failed calling webhook "%s.fail.kubesim.test": ' % case
        assert st["message"].startswith(prefix) and want in st["message"], (case, st["message"])
        assert st["details"]["causes"][0]["message"] == st["message"][len("Internal error occurred: "):], st
        if case == "slow":
            assert 0.9 <= took < 2.4, took  # the real deadline, not the server's 2.5 s
        k.ok("PATCH", MWC_API + "/f-" + case, [{"op": "replace", "path": "/webhooks/0/failurePolicy",
                                                "value": "Ignore"}], "application/json-patch+json")
        code, p, _ = k.call("POST", "/api/v1/namespaces/wh/pods", wh_pod("i-" + case, case))
        assert code == 201, (case, code, p)
        rm("f-" + case)
    assert not [c for c in fake.calls if c["path"] == "/x"]  # never reached: refused / off-box

    # -- rules: "*/*" sees subresources and namespaces, never webhook/policy configurations ---------
    fake.handlers["/all"] = lambda review: {"allowed": True}
    allc = hook_cfg("ValidatingWebhookConfiguration", "catch-all", "all.kubesim.test", u + "/all", fake.ca_b64)
    allc["webhooks"][0].update(namespaceSelector={}, rules=[{"operations": ["*"], "apiGroups": ["*"],
                                                             "apiVersions": ["*"], "resources": ["*/*"]}])
    mk(allc, VWC_API)
    scoped = hook_cfg("ValidatingWebhookConfiguration", "ns-scoped", "scoped.kubesim.test", u + "/scoped", fake.ca_b64)
    fake.handlers["/scoped"] = lambda review: {"allowed": True}
    scoped["webhooks"][0].update(namespaceSelector={}, rules=[{"operations": ["CREATE"], "apiGroups": ["*"],
                                                               "apiVersions": ["*"], "resources": ["*"],
                                                               "scope": "Namespaced"}])
    mk(scoped, VWC_API)
    mk(hook_cfg("MutatingWebhookConfiguration", "unseen", "unseen.kubesim.test", u + "/x", fake.ca_b64, "none"))
    k.ok("POST", "/api/v1/namespaces", ns("wh2"))
    k.ok("POST", "/api/v1/namespaces/wh/pods", pod("st", "wh"))
    k.ok("PATCH", "/api/v1/namespaces/wh/pods/st/status", {"status": {"message": "x"}}, "application/merge-patch+json")
    seen = [c["review"]["request"] for c in fake.calls_to("/all")]
    res = [(r["resource"]["resource"], r.get("subResource", ""), r["operation"]) for r in seen]
    assert ("namespaces", "", "CREATE") in res and ("pods", "", "CREATE") in res, res
    assert ("pods", "status", "UPDATE") in res, res
    assert not [r for r in res if r[0].endswith("webhookconfigurations")], res  # exempt
    nsreq = [r for r in seen if r["resource"]["resource"] == "namespaces"][0]
    assert nsreq["name"] == "wh2" and nsreq["namespace"] == "wh2", nsreq
    st_req = [r for r in seen if r.get("subResource") == "status"][0]
    assert st_req["requestSubResource"] == "status" and st_req["kind"]["kind"] == "Pod", st_req
    scoped_res = [c["review"]["request"]["resource"]["resource"] for c in fake.calls_to("/scoped")]
    assert "pods" in scoped_res and "namespaces" not in scoped_res, scoped_res
    for name in ("catch-all", "ns-scoped"):
        rm(name, VWC_API)
    rm("unseen")
    assert not [c for c in fake.calls_to("/all") if "webhookconfigurations" in c["review"]["request"]["resource"]
                ["resource"]]


def t_webhook_validation(k):
    """f) invalid configurations: 422 with the real field paths (API and kubectl)."""
    bad = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
           "metadata": {"name": "bad"},
           "webhooks": [
               {"name": "short-name", "clientConfig": {"url": "https://127.0.0.1/x",
                                                       "service": {"name": "s", "namespace": "n"}}},
               {"name": "a.b.c", "clientConfig": {"url": "http://127.0.0.1/x"}, "sideEffects": "Some",
                "admissionReviewVersions": ["v2"], "failurePolicy": "Sometimes", "timeoutSeconds": 31,
                "reinvocationPolicy": "Always",
                "rules": [{"operations": ["*", "CREATE"], "apiGroups": [], "apiVersions": ["v1"],
                           "resources": ["pods"], "scope": "Everywhere"}]},
               {"name": "a.b.c", "clientConfig": {"service": {"name": "s", "namespace": "n", "port": 70000,
                                                              "path": "no-slash"}},
                "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}
    code, st, _ = k.call("POST", MWC_API, bad)
    assert code == 422 and st["reason"] == "Invalid", (code, st)
    assert st["message"].startswith('MutatingWebhookConfiguration.admissionregistration.k8s.io "bad" is invalid: ['), st
    causes = {(c["field"], c["reason"]) for c in st["details"]["causes"]}
    want = {("webhooks[0].name", "FieldValueInvalid"), ("webhooks[0].clientConfig", "FieldValueRequired"),
            ("webhooks[0].sideEffects", "FieldValueRequired"),
            ("webhooks[0].admissionReviewVersions", "FieldValueRequired"),
            ("webhooks[1].clientConfig.url", "FieldValueInvalid"), ("webhooks[1].sideEffects", "FieldValueNotSupported"),
            ("webhooks[1].admissionReviewVersions", "FieldValueInvalid"),
            ("webhooks[1].failurePolicy", "FieldValueNotSupported"), ("webhooks[1].timeoutSeconds", "FieldValueInvalid"),
            ("webhooks[1].reinvocationPolicy", "FieldValueNotSupported"),
            ("webhooks[1].rules[0].operations", "FieldValueInvalid"),
            ("webhooks[1].rules[0].apiGroups", "FieldValueRequired"),
            ("webhooks[1].rules[0].scope", "FieldValueNotSupported"),
            ("webhooks[2].name", "FieldValueDuplicate"), ("webhooks[2].clientConfig.service.port", "FieldValueInvalid"),
            ("webhooks[2].clientConfig.service.path", "FieldValueInvalid")}
    assert want <= causes, sorted(want - causes)
    msgs = {c["field"]: c["message"] for c in st["details"]["causes"]}
    assert msgs["webhooks[0].name"] == \
        'Invalid value: "short-name": should be a domain with at least three segments separated by dots', msgs
    assert msgs["webhooks[0].clientConfig"] == "Required value: exactly one of url or service is required", msgs
    assert msgs["webhooks[0].sideEffects"] == "Required value: must specify one of None, NoneOnDryRun", msgs
    assert msgs["webhooks[1].sideEffects"] == \
        'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"', msgs
    assert msgs["webhooks[1].clientConfig.url"] == ('Invalid value: "http": \'https\' is the only allowed URL scheme; '
                                                    'desired format: https://host[/path]'), msgs
    assert msgs["webhooks[1].timeoutSeconds"] == \
        "Invalid value: 31: the timeout value must be between 1 and 30 seconds", msgs
    assert msgs["webhooks[1].admissionReviewVersions"] == \
        'Invalid value: []string{"v2"}: must include at least one of v1, v1beta1', msgs
    assert msgs["webhooks[2].name"] == 'Duplicate value: "a.b.c"', msgs
    assert not k.ok("GET", MWC_API)["items"]
    # a validating configuration with a bad base64 caBundle cannot even be decoded (400)
    vbad = hook_cfg("ValidatingWebhookConfiguration", "vbad", "v.kubesim.test", "https://127.0.0.1/x", "%%%")
    code, st, _ = k.call("POST", VWC_API, vbad)
    assert code == 400 and "illegal base64" in st["message"], (code, st)
    # the real kubectl shows the same
    d = tempfile.mkdtemp(dir=TMP)
    kc = k.kubeconfig(d + "/kubeconfig")
    with open(d + "/bad.json", "w") as f:
        json.dump(bad, f)
    r = kubectl(kc, d + "/cache", "apply", "--server-side", "-f", d + "/bad.json", check=False)
    assert r.returncode != 0 and 'is invalid' in r.stderr and "webhooks[0].name" in r.stderr, r.stderr
    # a good one applies with kubectl, defaults written back; webhooks merge by name under SSA
    good = hook_cfg("MutatingWebhookConfiguration", "good", "good.kubesim.test", "https://127.0.0.1:1/x", "")
    good["webhooks"][0]["clientConfig"] = {"service": {"name": "svc", "namespace": "ns1", "path": "/mutate"}}
    with open(d + "/good.json", "w") as f:
        json.dump(good, f)
    r = kubectl(kc, d + "/cache", "apply", "--server-side", "-f", d + "/good.json")
    assert "serverside-applied" in r.stdout, r.stdout
    o = k.ok("GET", MWC_API + "/good")
    h = o["webhooks"][0]
    assert h["clientConfig"]["service"]["port"] == 443 and h["timeoutSeconds"] == 10 and h["objectSelector"] == {}, h
    assert "f:webhooks" in json.dumps(o["metadata"]["managedFields"]), o["metadata"]["managedFields"]
    k.ok("DELETE", MWC_API + "/good")
    # discovery lists the new kinds
    adm = {r["name"]: r for r in k.ok("GET", "/apis/admissionregistration.k8s.io/v1")["resources"]}
    assert adm["mutatingwebhookconfigurations"]["namespaced"] is False and "validatingwebhookconfigurations" in adm
    pol = {r["name"]: r for r in k.ok("GET", "/apis/policy/v1")["resources"]}
    assert pol["poddisruptionbudgets"]["namespaced"] is True and "poddisruptionbudgets/status" in pol
    core = {r["name"]: r for r in k.ok("GET", "/api/v1")["resources"]}
    assert core["pods/log"]["verbs"] == ["get"], core["pods/log"]
    code, st, _ = k.call("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
                         {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "both"},
                          "spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {}}})
    assert code == 422 and st["details"]["causes"][0]["field"] == "spec", st


# ---------------------------------------------------------------------------
# secfaas's gVisor mutating webhook, run for real (manifests/k8s/gvisor-webhook.*)
# ---------------------------------------------------------------------------

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
WH_MANIFEST = os.path.join(REPO, "manifests", "k8s", "gvisor-webhook.yaml")
WH_SERVER = os.path.join(REPO, "manifests", "k8s", "gvisor-webhook.py")
SANDBOX_KEY = "secfaas.dev/sandbox"
WH_SUBST = {"NAMESPACE": "openfaas-fn", "WEBHOOK_NAMESPACE": "openfaas", "RUNTIME_CLASS": "gvisor",
            "SANDBOX_KEY": SANDBOX_KEY, "SANDBOX_VALUE": "gvisor", "SANDBOX_EFFECT": "NoSchedule",
            "POLICY": "secfaas-openfaas-fn-gvisor", "IMAGE": "docker.io/library/python:3.13.5-alpine3.22",
            "CONFIG_SHA256": "5" * 64}
WH_SVC = "secfaas-gvisor-webhook"
WH_TOLERATION = {"key": SANDBOX_KEY, "operator": "Equal", "value": "gvisor", "effect": "NoSchedule"}
WH_EXTRA_TOLERATION = {"key": "secfaas.dev/extra", "operator": "Exists", "effect": "NoExecute"}
WH_RC = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"}, "handler": "runsc",
         "overhead": {"podFixed": {"cpu": "250m", "memory": "96Mi"}},
         "scheduling": {"nodeSelector": {SANDBOX_KEY: "gvisor"}, "tolerations": [WH_TOLERATION, WH_EXTRA_TOLERATION]}}
WH_MWC_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/" + WH_SUBST["POLICY"]
WH_PODS = "/api/v1/namespaces/openfaas/pods"
WH_SELECTOR = "app.kubernetes.io/name=" + WH_SVC
WH_LABELS = {"app.kubernetes.io/name": WH_SVC}


def b64(path_or_bytes):
    data = open(path_or_bytes, "rb").read() if isinstance(path_or_bytes, str) else path_or_bytes
    return base64.b64encode(data).decode()


def sandbox_groups():
    labels = {SANDBOX_KEY: "gvisor"}
    return [group("system", 2, labels={"role": "system"}, user_data=node_config(runsc=False)),
            group("gvisor", 2, labels=labels, taints=[{"key": SANDBOX_KEY, "value": "gvisor", "effect": "NO_SCHEDULE"}],
                  user_data=node_config(labels, ["%s=gvisor:NoSchedule" % SANDBOX_KEY], runsc=True))]


def render_gvisor_webhook(ca, cert, key):
    """The shipped manifest with its @@...@@ placeholders, key pair, server code and caBundle filled in."""
    import yaml
    with open(WH_MANIFEST) as f:
        text = f.read()
    for k, v in WH_SUBST.items():
        text = text.replace("@@%s@@" % k, v)
    assert "@@" not in text, "unsubstituted placeholder in %s" % WH_MANIFEST
    docs = [d for d in yaml.safe_load_all(text) if d]
    with open(WH_SERVER) as f:
        server = f.read()
    for d in docs:
        if d["kind"] == "Secret":
            d["data"] = {"tls.crt": b64(cert), "tls.key": b64(key)}
        elif d["kind"] == "ConfigMap":
            d["data"] = {"webhook.py": server}
        elif d["kind"] == "MutatingWebhookConfiguration":
            for h in d["webhooks"]:
                h["clientConfig"]["caBundle"] = b64(ca)
    return docs


def wh_processes(k):
    return [p for p in k.ok("GET", "/_kubesim/state", token="")["processes"] if p["namespace"] == "openfaas"]


def pid_alive(pid):
    """True while pid is a live (non-zombie) process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def no_webhook_msg(port=443):
    return ('Internal error occurred: failed calling webhook "gvisor.secfaas.dev": failed to call webhook: '
            'Post "https://%s.openfaas.svc:%d/mutate?timeout=5s": no endpoints available for service "%s"'
            % (WH_SVC, port, WH_SVC))


def t_gvisor_webhook(k, aws):
    """a) mutation (+dry run, other namespace, RuntimeClass merge after reinvocation), b) scaled to 0:
    500 + ReplicaFailure, d) failurePolicy Ignore, c) wrong caBundle, h) kubectl logs, g) kill -9."""
    d = tempfile.mkdtemp(dir=TMP)
    cache = d + "/cache"
    kc = k.kubeconfig(d + "/kubeconfig")
    aws.set_groups(sandbox_groups())
    k.watch_until("/api/v1/nodes", lambda o: o["metadata"]["labels"].get(SANDBOX_KEY) == "gvisor")
    k.apply("/api/v1/namespaces/openfaas", ns("openfaas"))
    k.apply("/api/v1/namespaces/openfaas-fn", ns("openfaas-fn"))
    k.apply("/apis/node.k8s.io/v1/runtimeclasses/gvisor", WH_RC)
    ca, cert, key = harness.make_serving_certs(d, "gvwh", "DNS:%s.openfaas.svc" % WH_SVC)
    wrong_ca, _, _ = harness.make_serving_certs(d, "other", "DNS:%s.openfaas.svc" % WH_SVC, "someone-else")
    docs = render_gvisor_webhook(ca, cert, key)
    kinds = [x["kind"] for x in docs]
    for want in ("ServiceAccount", "Secret", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                 "MutatingWebhookConfiguration"):
        assert want in kinds, kinds
    import yaml
    with open(d + "/server.yaml", "w") as f:
        yaml.safe_dump_all([x for x in docs if x["kind"] != "MutatingWebhookConfiguration"], f)
    with open(d + "/config.yaml", "w") as f:
        yaml.safe_dump_all([x for x in docs if x["kind"] == "MutatingWebhookConfiguration"], f)
    # the server first (real kubectl, server-side apply), the configuration once it is available
    r = kubectl(kc, cache, "apply", "--server-side", "--field-manager", "secfaas", "-f", d + "/server.yaml")
    assert "deployment.apps/%s serverside-applied" % WH_SVC in r.stdout, r.stdout
    assert "poddisruptionbudget.policy/%s serverside-applied" % WH_SVC in r.stdout, r.stdout
    kubectl(kc, cache, "wait", "--for=condition=Available", "deploy/" + WH_SVC, "-n", "openfaas", "--timeout=30s")
    pods = k.ok("GET", WH_PODS + "?labelSelector=" + WH_SELECTOR)["items"]
    assert len(pods) == 2, pods
    procs = wh_processes(k)
    assert len(procs) == 2 and all(p["running"] and p["ready"] for p in procs), procs
    ips = {p["status"]["podIP"] for p in pods}
    assert ips == {p["ip"] for p in procs} and all(pod_ip_ok(k, ip) for ip in ips), (ips, procs)
    assert all(pid_alive(p["pid"]) for p in procs)
    c0 = pods[0]["status"]["containerStatuses"][0]
    assert c0["ready"] and "running" in c0["state"] and c0["restartCount"] == 0, c0
    pdb = k.watch_until("/apis/policy/v1/namespaces/openfaas/poddisruptionbudgets",
                        lambda o: (o.get("status") or {}).get("currentHealthy") == 2, field_name=WH_SVC)
    assert pdb["status"]["desiredHealthy"] == 1 and pdb["status"]["disruptionsAllowed"] == 1, pdb["status"]
    r = kubectl(kc, cache, "apply", "--server-side", "--field-manager", "secfaas", "-f", d + "/config.yaml")
    assert "mutatingwebhookconfiguration.admissionregistration.k8s.io/%s serverside-applied" % WH_SUBST["POLICY"] \
        in r.stdout, r.stdout
    mwc = k.ok("GET", WH_MWC_PATH)
    h = mwc["webhooks"][0]
    assert h["timeoutSeconds"] == 5 and h["objectSelector"] == {} and h["clientConfig"]["service"]["port"] == 443, h
    assert mwc["metadata"]["generation"] == 1

    # a) a plain pod in openfaas-fn comes back in gVisor; the RuntimeClass merge ran after the webhook
    code, p, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("plain", "openfaas-fn"))
    assert code == 201, (code, p)
    ps = p["spec"]
    assert ps["runtimeClassName"] == "gvisor" and ps["nodeSelector"] == {SANDBOX_KEY: "gvisor"}, ps
    assert WH_TOLERATION in ps["tolerations"] and WH_EXTRA_TOLERATION in ps["tolerations"], ps["tolerations"]
    assert ps["tolerations"].count(WH_TOLERATION) == 1, ps["tolerations"]
    assert ps["overhead"] == WH_RC["overhead"]["podFixed"], ps
    code, p, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods?dryRun=All", pod("dry", "openfaas-fn"))
    assert code == 201 and p["spec"]["runtimeClassName"] == "gvisor" and p["spec"].get("overhead"), (code, p)
    assert k.call("GET", "/api/v1/namespaces/openfaas-fn/pods/dry")[0] == 404
    code, p, _ = k.call("POST", "/api/v1/namespaces/default/pods", pod("elsewhere", "default"))
    assert code == 201 and "runtimeClassName" not in p["spec"] and "tolerations" not in p["spec"], p
    # a function Deployment's pods are mutated too, and run under runsc on the sandbox nodes
    k.apply("/apis/apps/v1/namespaces/openfaas-fn/deployments/fn", deployment("fn", "openfaas-fn"))
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: (o.get("status") or {}).get("availableReplicas") == 1, field_name="fn")
    fnp = k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods?labelSelector=app%3Dfn")["items"]
    state = k.ok("GET", "/_kubesim/state", token="")
    assert [x["handler"] for x in state["pods"] if x["name"] == fnp[0]["metadata"]["name"]] == ["runsc"], state["pods"]

    # h) kubectl logs: the webhook's own request log (reinvocation: patched, then re-checked unpatched)
    r = kubectl(kc, cache, "logs", "-n", "openfaas", "-l", WH_SELECTOR, "--tail=-1", "--prefix")
    assert r.stdout.count("patched=True") >= 3 and "patched=False" in r.stdout, r.stdout
    assert "gvisor-webhook: serving https://%s:8443" % pods[0]["status"]["podIP"] in r.stdout, r.stdout
    r = kubectl(kc, cache, "logs", "-n", "openfaas", pods[0]["metadata"]["name"])
    assert "serving https://%s:8443/mutate for namespace openfaas-fn" % pods[0]["status"]["podIP"] in r.stdout, r.stdout
    code, txt, hdr = k.call("GET", WH_PODS + "/%s/log?container=webhook&tailLines=1" % pods[0]["metadata"]["name"])
    assert code == 200 and hdr["Content-Type"].startswith("text/plain") and txt.count("\n") == 1, (code, txt)

    # b) scaled to 0: the processes stop, pod creation fails closed (500, nothing stored), ReplicaFailure
    kubectl(kc, cache, "scale", "deploy/" + WH_SVC, "-n", "openfaas", "--replicas=0")
    for p in pods:
        k.watch_gone(WH_PODS, p["metadata"]["name"])
    wait_for("webhook processes to exit", lambda: not wh_processes(k) and not any(pid_alive(p["pid"]) for p in procs))
    code, st, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("refused", "openfaas-fn"))
    assert code == 500 and st["reason"] == "InternalError" and st["message"] == no_webhook_msg(), (code, st)
    assert k.call("GET", "/api/v1/namespaces/openfaas-fn/pods/refused")[0] == 404
    # d) failurePolicy Ignore with the server down: admitted, unmutated (before any
    # Deployment retries in the window: they would be admitted unmutated too)
    k.ok("PATCH", WH_MWC_PATH, [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}],
         "application/json-patch+json")
    code, p, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("ignored", "openfaas-fn"))
    assert code == 201 and "runtimeClassName" not in p["spec"] and "overhead" not in p["spec"], (code, p)
    k.ok("DELETE", "/api/v1/namespaces/openfaas-fn/pods/ignored")
    k.ok("PATCH", WH_MWC_PATH, [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Fail"}],
         "application/json-patch+json")
    assert k.ok("GET", WH_MWC_PATH)["metadata"]["generation"] == 3
    k.apply("/apis/apps/v1/namespaces/openfaas-fn/deployments/fn2", deployment("fn2", "openfaas-fn"))
    dep = k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments", lambda o: cond(o, "ReplicaFailure"),
                        field_name="fn2")
    assert cond(dep, "ReplicaFailure")["message"] == no_webhook_msg(), cond(dep, "ReplicaFailure")
    assert not k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods?labelSelector=app%3Dfn2")["items"]
    evs = k.ok("GET", "/api/v1/namespaces/openfaas-fn/events?fieldSelector=involvedObject.name%3Dfn2")["items"]
    assert any(e["reason"] == "FailedCreate" and e["message"] == "Error creating: " + no_webhook_msg() for e in evs), evs
    # back to 2 replicas: new processes, the stuck Deployment recovers with mutated pods
    kubectl(kc, cache, "scale", "deploy/" + WH_SVC, "-n", "openfaas", "--replicas=2")
    k.watch_until("/apis/apps/v1/namespaces/openfaas-fn/deployments",
                  lambda o: (o.get("status") or {}).get("availableReplicas") == 1, field_name="fn2")
    fn2 = k.ok("GET", "/api/v1/namespaces/openfaas-fn/pods?labelSelector=app%3Dfn2")["items"]
    assert fn2[0]["spec"]["runtimeClassName"] == "gvisor", fn2
    def two_ready():
        ps = wh_processes(k)
        return ps if len(ps) == 2 and all(p["ready"] for p in ps) else None
    procs = wait_for("2 ready webhook processes", two_ready)

    # c) a caBundle that did not sign the serving certificate: TLS verification fails, fail closed
    k.ok("PATCH", WH_MWC_PATH, [{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle", "value": b64(wrong_ca)}],
         "application/json-patch+json")
    code, st, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("badca", "openfaas-fn"))
    assert code == 500 and st["message"].startswith(
        'Internal error occurred: failed calling webhook "gvisor.secfaas.dev": failed to call webhook: Post '
        '"https://%s.openfaas.svc:443/mutate?timeout=5s": ' % WH_SVC), st
    assert st["message"].endswith("tls: failed to verify certificate: x509: certificate signed by unknown authority"), st
    k.ok("PATCH", WH_MWC_PATH, [{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle", "value": b64(ca)}],
         "application/json-patch+json")
    code, p, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("goodca", "openfaas-fn"))
    assert code == 201 and p["spec"]["runtimeClassName"] == "gvisor", (code, p)

    # i) NetworkPolicy enforced: the API server calls the webhook from the control plane's addresses
    # (Endpoints default/kubernetes), so a default-deny ingress in openfaas makes the call time out
    # (fail closed) until a policy lets the control plane in, as on EKS with the VPC CNI's agent
    if k.ok("GET", "/_kubesim/network-policy", token="")["mode"] == "netns":
        k.ok("POST", "/_kubesim/network-policy", {"enforce": True}, token="")
        NP = "/apis/networking.k8s.io/v1/namespaces/openfaas/networkpolicies"
        k.ok("POST", NP, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                          "metadata": {"name": "deny-all-ingress"}, "spec": {"podSelector": {}, "ingress": []}})

        def applied():
            st = k.ok("GET", "/_kubesim/network-policy", token="")
            return int(st["appliedResourceVersion"]) >= int(st["resourceVersion"])
        wait_for("rules loaded", applied)
        code, st, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("walled", "openfaas-fn"))
        assert code == 500 and st["message"].endswith("/mutate?timeout=5s\": context deadline exceeded"), (code, st)
        cps = [a["ip"] for a in k.ok("GET", "/api/v1/namespaces/default/endpoints/kubernetes")["subsets"][0]
               ["addresses"]]
        k.ok("POST", NP, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                          "metadata": {"name": "control-plane-to-webhook"},
                          "spec": {"podSelector": {"matchLabels": WH_LABELS},
                                   "ingress": [{"from": [{"ipBlock": {"cidr": ip + "/32"}} for ip in cps],
                                                "ports": [{"port": 8443}]}]}})
        wait_for("rules loaded", applied)
        code, p, _ = k.call("POST", "/api/v1/namespaces/openfaas-fn/pods", pod("let-in", "openfaas-fn"))
        assert code == 201 and p["spec"]["runtimeClassName"] == "gvisor", (code, p)
        k.ok("POST", "/_kubesim/network-policy", {"enforce": False}, token="")

    # g) kill -9 of kubesim: PR_SET_PDEATHSIG takes the webhook processes with it
    pids = [p["pid"] for p in procs]
    assert len(pids) == 2 and all(pid_alive(x) for x in pids), procs
    os.kill(k.proc.pid, 9)
    k.proc.wait(10)
    wait_for("webhook processes to die with kubesim", lambda: not any(pid_alive(x) for x in pids), timeout=10)


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


def t_nodeport_ip_per_instance():
    """Two runs side by side simulate clusters of the same name; their
    NodePort addresses differ, and a restart keeps its own."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("kubesim_main", KUBESIM)
    spec = importlib.util.spec_from_loader("kubesim_main", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    a = mod.default_nodeport_ip("fn-functions", "/tmp/run-a/clusters/x/port")
    b = mod.default_nodeport_ip("fn-functions", "/tmp/run-b/clusters/x/port")
    assert a != b, (a, b)
    assert a == mod.default_nodeport_ip("fn-functions", "/tmp/run-a/clusters/x/port")
    assert harness.is_loopback_host(a) and harness.is_loopback_host(b), (a, b)


def main():
    run = Runner()
    t0 = time.monotonic()
    run.run("refuse non-loopback endpoints", t_refuse_non_loopback)
    run.run("NodePort address differs per simulator instance", t_nodeport_ip_per_instance)
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
        run.run("process runner: python pods for real", t_runner, k, aws)
        run.run("ValidatingAdmissionPolicy deny guard", t_vap_guard, k)
        test_admission.register(run, k, aws)
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
    k = Kubesim(TMP)
    try:
        run.run("webhook configurations: defaults, 422 field paths", t_webhook_validation, k)
        run.run("webhook calls: review, patches, reinvocation, failures", t_webhook_calls, k)
    finally:
        k.stop()
    k = Kubesim(TMP, aws=aws)
    try:
        run.run("gVisor webhook for real: mutate, fail closed, TLS, logs, kill -9", t_gvisor_webhook, k, aws)
    finally:
        k.stop()
    import test_realspeed
    test_realspeed.register(run, Kubesim, TMP, aws)
    import test_network
    test_network.register(run, Kubesim, TMP, aws)
    import test_openfaas
    test_openfaas.register(run, Kubesim, TMP, aws)
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
