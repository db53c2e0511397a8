"""Resource types the simulator serves, and the discovery/OpenAPI documents.

A ResType is keyed by (group, plural).  Built-in types are fixed at start
(admissionregistration MutatingAdmissionPolicy only from --version 1.36;
Mutating/ValidatingWebhookConfiguration and policy/v1 PodDisruptionBudget
always);
custom resources appear when their CRD becomes Established and disappear with
it.  Discovery is plain (non-aggregated) JSON: kubectl falls back to it.
"""
import hashlib
import json

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResType:
    def __init__(self, group, versions, kind, plural, namespaced, short=(), subresources=(),
                 generation=False, builtin=True, categories=(), crd=None, verbs=None):
        self.group = group
        self.versions = list(versions)
        self.kind = kind
        self.plural = plural
        self.singular = kind.lower()
        self.namespaced = namespaced
        self.short = list(short)
        self.subresources = list(subresources)
        self.generation = generation
        self.builtin = builtin
        self.categories = list(categories)
        self.crd = crd
        self.verbs = verbs or VERBS

    @property
    def key(self):
        return (self.group, self.plural)

    def gv(self, version=None):
        v = version or self.versions[0]
        return v if not self.group else "%s/%s" % (self.group, v)

    def gr(self):
        return self.plural + ("." + self.group if self.group else "")


def builtin_types(minor):
    t = [
        ResType("", ["v1"], "Namespace", "namespaces", False, ["ns"], ["status", "finalize"]),
        ResType("", ["v1"], "Node", "nodes", False, ["no"], ["status"]),
        ResType("", ["v1"], "ServiceAccount", "serviceaccounts", True, ["sa"]),
        ResType("", ["v1"], "Secret", "secrets", True),
        ResType("", ["v1"], "ConfigMap", "configmaps", True, ["cm"]),
        ResType("", ["v1"], "Service", "services", True, ["svc"], ["status", "proxy"], categories=["all"]),
        ResType("", ["v1"], "Pod", "pods", True, ["po"], ["status", "log", "ephemeralcontainers"], categories=["all"]),
        ResType("", ["v1"], "Event", "events", True, ["ev"]),
        ResType("", ["v1"], "Endpoints", "endpoints", True, ["ep"]),
        ResType("", ["v1"], "ResourceQuota", "resourcequotas", True, ["quota"], ["status"]),
        ResType("", ["v1"], "LimitRange", "limitranges", True, ["limits"]),
        ResType("apps", ["v1"], "Deployment", "deployments", True, ["deploy"], ["status", "scale"],
                generation=True, categories=["all"]),
        ResType("apps", ["v1"], "ReplicaSet", "replicasets", True, ["rs"], ["status", "scale"],
                generation=True, categories=["all"]),
        ResType("node.k8s.io", ["v1"], "RuntimeClass", "runtimeclasses", False),
        ResType("networking.k8s.io", ["v1"], "NetworkPolicy", "networkpolicies", True, ["netpol"],
                generation=True),
        ResType("apiextensions.k8s.io", ["v1"], "CustomResourceDefinition", "customresourcedefinitions",
                False, ["crd", "crds"], ["status"], generation=True),
        ResType("rbac.authorization.k8s.io", ["v1"], "ClusterRole", "clusterroles", False),
        ResType("rbac.authorization.k8s.io", ["v1"], "ClusterRoleBinding", "clusterrolebindings", False),
        ResType("rbac.authorization.k8s.io", ["v1"], "Role", "roles", True),
        ResType("rbac.authorization.k8s.io", ["v1"], "RoleBinding", "rolebindings", True),
        ResType("policy", ["v1"], "PodDisruptionBudget", "poddisruptionbudgets", True, ["pdb"], ["status"],
                generation=True),
        ResType("admissionregistration.k8s.io", ["v1"], "MutatingWebhookConfiguration",
                "mutatingwebhookconfigurations", False, generation=True),
        ResType("admissionregistration.k8s.io", ["v1"], "ValidatingWebhookConfiguration",
                "validatingwebhookconfigurations", False, generation=True),
        ResType("admissionregistration.k8s.io", ["v1"], "ValidatingAdmissionPolicy",
                "validatingadmissionpolicies", False, subresources=["status"], generation=True),
        ResType("admissionregistration.k8s.io", ["v1"], "ValidatingAdmissionPolicyBinding",
                "validatingadmissionpolicybindings", False, generation=True),
    ]
    if minor >= 36:
        t += [
            ResType("admissionregistration.k8s.io", ["v1"], "MutatingAdmissionPolicy",
                    "mutatingadmissionpolicies", False, generation=True),
            ResType("admissionregistration.k8s.io", ["v1"], "MutatingAdmissionPolicyBinding",
                    "mutatingadmissionpolicybindings", False, generation=True),
        ]
    return t


def crd_type(crd):
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v["name"] for v in spec.get("versions") or [] if v.get("served", True)]
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    versions = storage + [v for v in versions if v not in storage]
    rt = ResType(spec.get("group", ""), versions, names.get("kind", ""), names.get("plural", ""),
                 spec.get("scope", "Namespaced") == "Namespaced", names.get("shortNames") or [],
                 generation=True, builtin=False, categories=names.get("categories") or [],
                 crd=crd["metadata"]["name"])
    rt.singular = names.get("singular") or rt.kind.lower()
    subs = set()
    for v in spec.get("versions") or []:
        for s in (v.get("subresources") or {}):
            subs.add(s)
    rt.subresources = sorted(subs)
    return rt


class Registry:
    def __init__(self, minor):
        self.minor = minor
        self.types = {}
        for rt in builtin_types(minor):
            self.types[rt.key] = rt

    def add(self, rt):
        self.types[rt.key] = rt

    def remove(self, key):
        rt = self.types.get(key)
        if rt and not rt.builtin:
            del self.types[key]

    def lookup(self, group, version, plural):
        rt = self.types.get((group, plural))
        if rt and version in rt.versions:
            return rt
        return None

    def by_kind(self, group, kind):
        for rt in self.types.values():
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    def group_versions(self):
        """{group: [versions]} in a stable order (core first)."""
        gvs = {}
        for rt in self.types.values():
            for v in rt.versions:
                lst = gvs.setdefault(rt.group, [])
                if v not in lst:
                    lst.append(v)
        return dict(sorted(gvs.items(), key=lambda kv: (kv[0] != "", kv[0])))

    def api_versions(self):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]}

    def api_group_list(self):
        groups = []
        for g, vs in self.group_versions().items():
            if g == "":
                continue
            groups.append({"name": g,
                           "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
                           "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group):
        vs = self.group_versions().get(group)
        if not vs or group == "":
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group,
                "versions": [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in vs],
                "preferredVersion": {"groupVersion": "%s/%s" % (group, vs[0]), "version": vs[0]}}

    def resource_list(self, group, version):
        rts = [rt for rt in self.types.values() if rt.group == group and version in rt.versions]
        if not rts:
            return None
        res = []
        for rt in sorted(rts, key=lambda r: r.plural):
            r = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                 "kind": rt.kind, "verbs": rt.verbs}
            if rt.short:
                r["shortNames"] = rt.short
            if rt.categories:
                r["categories"] = rt.categories
            res.append(r)
            for s in rt.subresources:
                if s == "proxy":
                    res.append({"name": rt.plural + "/proxy", "singularName": "", "namespaced": rt.namespaced,
                                "kind": "ServiceProxyOptions", "verbs": ["create", "delete", "get", "patch", "update"]})
                elif s == "log":
                    res.append({"name": rt.plural + "/log", "singularName": "", "namespaced": rt.namespaced,
                                "kind": rt.kind, "verbs": ["get"]})
                elif s == "scale":
                    res.append({"name": rt.plural + "/scale", "singularName": "", "namespaced": rt.namespaced,
                                "group": "autoscaling", "version": "v1", "kind": "Scale",
                                "verbs": ["get", "patch", "update"]})
                else:
                    res.append({"name": "%s/%s" % (rt.plural, s), "singularName": "",
                                "namespaced": rt.namespaced, "kind": rt.kind,
                                "verbs": ["get", "patch", "update"] if s != "finalize" else ["update"]})
        gv = version if not group else "%s/%s" % (group, version)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}

    # ---- minimal OpenAPI v3 (enough for `kubectl apply --server-side`) ----

    def openapi_doc(self, group, version):
        rts = [rt for rt in self.types.values() if rt.group == group and version in rt.versions]
        if not rts:
            return None
        base = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
        paths = {}
        for rt in rts:
            gvk = {"group": group, "version": version, "kind": rt.kind}
            params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                      {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                      {"name": "dryRun", "in": "query", "schema": {"type": "string"}}]
            item = base + ("/namespaces/{namespace}" if rt.namespaced else "") + "/%s/{name}" % rt.plural
            coll = base + ("/namespaces/{namespace}" if rt.namespaced else "") + "/%s" % rt.plural
            op = {"x-kubernetes-group-version-kind": gvk, "parameters": params,
                  "responses": {"200": {"description": "OK"}}}
            paths[item] = {"get": dict(op, **{"x-kubernetes-action": "get"}),
                           "put": dict(op, **{"x-kubernetes-action": "put"}),
                           "patch": dict(op, **{"x-kubernetes-action": "patch"}),
                           "delete": dict(op, **{"x-kubernetes-action": "delete"})}
            paths[coll] = {"get": dict(op, **{"x-kubernetes-action": "list"}),
                           "post": dict(op, **{"x-kubernetes-action": "post"})}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.%d.0" % self.minor},
                "paths": paths, "components": {"schemas": {}}}

    def openapi_index(self):
        paths = {}
        for g, vs in self.group_versions().items():
            for v in vs:
                key = "api/%s" % v if g == "" else "apis/%s/%s" % (g, v)
                h = hashlib.sha256(json.dumps(self.openapi_doc(g, v), sort_keys=True).encode()).hexdigest()[:32].upper()
                paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, h)}
        return {"paths": paths}
