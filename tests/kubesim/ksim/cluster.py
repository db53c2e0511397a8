"""The API semantics of one simulated cluster, independent of HTTP.

Cluster.create / replace / patch / apply / delete / get / list implement the
rules in kubernetes-api.md §3-§6: defaulting, validation, the admission chain,
generation, managedFields, no-op detection, dryRun, finalizers and deletion
propagation, and the subresources that write part of an object (status,
pods/ephemeralcontainers).  HTTP handlers, controllers and the gateway emulation all go
through these methods, so a pod a controller creates meets the same admission
as one a client POSTs.  Every method takes the store lock itself.
"""
import base64
import ipaddress
import json
import random

import yaml

from . import netpol, quota, ssa, webhooks
from .admission import Admission
from .registry import Registry, crd_type
from .store import Store
from .util import (ApiError, canon, deep, invalid, labels_match, new_uid,
                   not_found, now_rfc3339, parse_label_selector, parse_field_selector,
                   fields_match, selector_from_obj, valid_dns_label, valid_subdomain)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ADMIN = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
# who the simulated controllers are when they delete (garbage collector, namespace controller, ...)
CONTROLLER = {"username": "system:kube-controller-manager", "groups": ["system:authenticated"]}
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
COREFILE = """.:53 {
    errors
    health {
        lameduck 5s
      }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
"""
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                       "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
                       "guaranteed across distributions of Kubernetes clusters.")


def quantity_ok(v):
    from .quantity import valid
    return valid(v)


def rand_suffix(n=5):
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def ephemeral_only(old, new):
    """A write through pods/ephemeralcontainers: the stored pod with only
    spec.ephemeralContainers taken from the request (the registry's
    dropNonEphemeralContainerUpdates); everything else it sends is ignored."""
    out = deep(old)
    eph = ((new or {}).get("spec") or {}).get("ephemeralContainers") if isinstance((new or {}).get("spec"), dict) \
        else None
    out.setdefault("spec", {})
    if eph:
        out["spec"]["ephemeralContainers"] = deep(eph)
    else:
        out["spec"].pop("ephemeralContainers", None)
    rv = ((new or {}).get("metadata") or {}).get("resourceVersion")
    if rv:
        out["metadata"]["resourceVersion"] = rv
    return out


class Cluster:
    def __init__(self, cfg, clock):
        self.cfg = cfg
        self.clock = clock
        self.registry = Registry(cfg.minor)
        self.store = Store()
        self.admission = Admission(self)
        self.lock = self.store.lock
        self.network = None     # network.Network, set by the server
        self.service_net = ipaddress.ip_network(getattr(cfg, "service_cidr", None) or "10.100.0.0/16")
        self.next_ip = 10
        self.used_node_ports = set()
        self.warnings = []
        with self.lock:
            for ns in SYSTEM_NAMESPACES:
                self.create(self.rt("", "namespaces"), "v1", None,
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                            "kube-apiserver", False, ADMIN)
            self.create(self.rt("", "services"), "v1", "default",
                        {"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "kubernetes", "namespace": "default",
                                      "labels": {"component": "apiserver", "provider": "kubernetes"}},
                         "spec": {"type": "ClusterIP", "clusterIP": self.service_ip(1),
                                  "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]}},
                        "kube-apiserver", False, ADMIN)
            cps = list(getattr(cfg, "control_plane_ips", None) or [])
            if cps:
                self.create(self.rt("", "endpoints"), "v1", "default",
                            {"apiVersion": "v1", "kind": "Endpoints",
                             "metadata": {"name": "kubernetes", "namespace": "default",
                                          "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                             "subsets": [{"addresses": [{"ip": ip} for ip in cps],
                                          "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}]},
                            "kube-apiserver", False, ADMIN)
            self.add_coredns()

    def service_ip(self, n):
        return str(self.service_net.network_address + n)

    def add_coredns(self):
        """What every EKS cluster starts with: the CoreDNS Deployment and Service kube-dns
        (ClusterIP = the service CIDR's .10).  Its pods run once nodes exist; kubesim
        answers DNS from their network namespaces (dns.py)."""
        labels = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
        objs = [
            (("", "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                       "metadata": {"name": "coredns", "namespace": "kube-system"}}),
            (("", "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "coredns", "namespace": "kube-system",
                                               "labels": {"eks.amazonaws.com/component": "coredns",
                                                          "k8s-app": "kube-dns"}},
                                  "data": {"Corefile": COREFILE}}),
            (("", "services"), {"apiVersion": "v1", "kind": "Service",
                                "metadata": {"name": "kube-dns", "namespace": "kube-system",
                                             "labels": {"eks.amazonaws.com/component": "kube-dns",
                                                        "k8s-app": "kube-dns",
                                                        "kubernetes.io/cluster-service": "true",
                                                        "kubernetes.io/name": "CoreDNS"}},
                                "spec": {"clusterIP": self.service_ip(10), "selector": {"k8s-app": "kube-dns"},
                                         "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                                                   {"name": "dns-tcp", "port": 53, "protocol": "TCP",
                                                    "targetPort": 53},
                                                   {"name": "metrics", "port": 9153, "protocol": "TCP",
                                                    "targetPort": 9153}]}}),
            (("apps", "deployments"), {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                         "template": {"metadata": {"labels": labels}, "spec": {
                             "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                             "dnsPolicy": "Default",
                             "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                                             {"key": "CriticalAddonsOnly", "operator": "Exists"}],
                             "volumes": [{"name": "config-volume", "configMap": {
                                 "name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                             "containers": [{
                                 "name": "coredns", "args": ["-conf", "/etc/coredns/Corefile"],
                                 "image": "602401143452.dkr.ecr.%s.amazonaws.com/eks/coredns:v1.11.4-eksbuild.2"
                                          % self.cfg.region,
                                 "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                           {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                           {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                                 "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns",
                                                   "readOnly": True}],
                                 "resources": {"limits": {"memory": "170Mi"},
                                               "requests": {"cpu": "100m", "memory": "70Mi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                     "capabilities": {"add": ["NET_BIND_SERVICE"],
                                                                      "drop": ["ALL"]}}}]}}}})]
        for key, o in objs:
            rt = self.registry.types[key]
            self.create(rt, "v1", "kube-system", o, "eks", False, ADMIN)

    def rt(self, group, plural):
        return self.registry.types.get((group, plural))

    # ---- reading ---------------------------------------------------------

    def out(self, rt, obj, version=None):
        o = deep(obj)
        o["apiVersion"] = rt.gv(version)
        o["kind"] = rt.kind
        return o

    def get(self, rt, ns, name):
        with self.lock:
            obj = self.store.get(rt.key, ns if rt.namespaced else "", name)
            if obj is None:
                raise not_found(rt, name)
            return obj

    def list(self, rt, ns, label_selector="", field_selector=""):
        lreq = parse_label_selector(label_selector)
        freq = parse_field_selector(field_selector)
        with self.lock:
            items = [o for o in self.store.list(rt.key, ns if rt.namespaced else None)
                     if labels_match(lreq, o["metadata"].get("labels")) and fields_match(freq, o)]
            return items, str(self.store.rv)

    # ---- helpers ---------------------------------------------------------

    def check_namespace(self, rt, ns, creating):
        if not rt.namespaced:
            return
        nso = self.store.get(("", "namespaces"), "", ns)
        if nso is None:
            raise ApiError(404, 'namespaces "%s" not found' % ns,
                           details={"name": ns, "kind": "namespaces"})
        if creating and nso["metadata"].get("deletionTimestamp"):
            raise ApiError(403, '%s "%s" is forbidden: unable to create new content in namespace %s '
                           'because it is being terminated' % (rt.gr(), "", ns),
                           details={"name": "", "group": rt.group, "kind": rt.plural,
                                    "causes": [{"reason": "NamespaceTerminating",
                                                "message": "namespace %s is being terminated" % ns,
                                                "field": "metadata.namespace"}]})

    def check_body(self, rt, version, ns, body, name=None):
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request is not a JSON or YAML object")
        want_api = rt.gv(version)
        if body.get("apiVersion") and body["apiVersion"] != want_api:
            raise ApiError(400, "the API version in the data (%s) does not match the expected API "
                           "version (%s)" % (body["apiVersion"], want_api))
        if body.get("kind") and body["kind"] != rt.kind:
            raise ApiError(400, "the kind in the data (%s) does not match the expected kind (%s)"
                           % (body["kind"], rt.kind))
        md = body.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise ApiError(400, "metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise ApiError(400, "the namespace of the provided object does not match the "
                               "namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if name is not None:
            if md.get("name") and md["name"] != name:
                raise ApiError(400, "the name of the object (%s) does not match the name on the "
                               "URL (%s)" % (md["name"], name))
            md["name"] = name
        body["apiVersion"] = want_api
        body["kind"] = rt.kind

    # ---- defaulting and validation ---------------------------------------

    def default(self, rt, obj, old):
        kind, spec = rt.kind, obj.get("spec")
        md = obj["metadata"]
        if kind == "Namespace":
            md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
        elif kind == "Deployment" and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            st = spec.setdefault("strategy", {})
            st.setdefault("type", "RollingUpdate")
            if st["type"] == "RollingUpdate":
                ru = st.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
            tmpl = spec.setdefault("template", {})
            if isinstance(tmpl.get("spec"), dict):
                self.default_pod_spec(tmpl["spec"])
        elif kind == "Pod" and isinstance(spec, dict):
            self.default_pod_spec(spec)
            # SetDefaults_Pod: a resource with a limit and no request requests its limit
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                if isinstance(c, dict) and isinstance((c.get("resources") or {}).get("limits"), dict):
                    req = c["resources"].setdefault("requests", {})
                    for k, v in c["resources"]["limits"].items():
                        req.setdefault(k, v)
        elif kind == "LimitRange":
            quota.default_limit_range(obj)
        elif kind == "NetworkPolicy":
            netpol.default_policy(obj)
        elif kind == "Service" and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec["type"] != "ExternalName":
                old_spec = (old or {}).get("spec") or {}
                if "clusterIP" not in spec:
                    spec["clusterIP"] = old_spec.get("clusterIP") or self.alloc_ip()
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
                spec.setdefault("internalTrafficPolicy", "Cluster")
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
                    p.setdefault("targetPort", p.get("port"))
                    if spec["type"] in ("NodePort", "LoadBalancer") and "nodePort" not in p:
                        p["nodePort"] = self.old_node_port(old_spec if old else {}, p) or self.alloc_node_port()
            if spec["type"] in ("NodePort", "LoadBalancer"):
                spec.setdefault("externalTrafficPolicy", "Cluster")
            if spec["type"] == "LoadBalancer":
                spec.setdefault("allocateLoadBalancerNodePorts", True)
            obj.setdefault("status", {}).setdefault("loadBalancer", {})
        elif kind == "Secret":
            obj.setdefault("type", "Opaque")
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict):
                data = obj.setdefault("data", {})
                for k, v in sd.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
        elif kind in ("ValidatingAdmissionPolicy", "MutatingAdmissionPolicy") and isinstance(spec, dict):
            spec.setdefault("failurePolicy", "Fail")
            spec.setdefault("matchConstraints", {}).setdefault("matchPolicy", "Equivalent")
            if kind == "MutatingAdmissionPolicy":
                spec.setdefault("reinvocationPolicy", "Never")
        elif kind in WEBHOOK_KINDS:
            webhooks.default_config(kind, obj)
        elif kind == "CustomResourceDefinition" and isinstance(spec, dict):
            spec.setdefault("scope", "Namespaced")
            spec.setdefault("conversion", {"strategy": "None"})
            names = spec.setdefault("names", {})
            if names.get("kind"):
                names.setdefault("singular", names["kind"].lower())
                names.setdefault("listKind", names["kind"] + "List")

    def old_node_port(self, old_spec, port):
        for p in old_spec.get("ports") or []:
            if p.get("port") == port.get("port") and p.get("nodePort"):
                return p["nodePort"]
        return None

    def default_pod_spec(self, ps):
        ps.setdefault("restartPolicy", "Always")
        ps.setdefault("terminationGracePeriodSeconds", 30)
        ps.setdefault("dnsPolicy", "ClusterFirst")
        ps.setdefault("schedulerName", "default-scheduler")
        ps.setdefault("securityContext", {})
        for c in (ps.get("containers") or []) + (ps.get("initContainers") or []):
            if not isinstance(c, dict):
                continue
            img = c.get("image") or ""
            tag = img.rsplit("/", 1)[-1]
            c.setdefault("imagePullPolicy", "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in tag
                         else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")

    def alloc_ip(self):
        """The next free ClusterIP of the service CIDR (.1 and .10 are kubernetes and kube-dns)."""
        taken = {((o.get("spec") or {}).get("clusterIP")) for o in self.store.list(("", "services"))}
        while True:
            self.next_ip += 1
            if self.next_ip >= self.service_net.num_addresses - 1:
                raise ApiError(422, "Internal error occurred: failed to allocate a serviceIP: range is full")
            ip = self.service_ip(self.next_ip)
            if ip not in taken:
                return ip

    def alloc_node_port(self):
        for port in range(30000, 32768):
            if port not in self.used_node_ports:
                self.used_node_ports.add(port)
                return port
        raise ApiError(422, "no free node port")

    def validate(self, rt, obj, old, sub=None):
        md = obj["metadata"]
        name = md.get("name", "")
        causes = []
        if rt.kind in ("Namespace", "Service"):
            if not valid_dns_label(name):
                causes.append(("metadata.name", "FieldValueInvalid",
                               'Invalid value: "%s": a lowercase RFC 1123 label must consist of lower case '
                               "alphanumeric characters or '-', and must start and end with an alphanumeric "
                               "character" % name))
        elif not valid_subdomain(name):
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": a lowercase RFC 1123 subdomain must consist of lower case '
                           "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                           "character" % name))
        spec = obj.get("spec")
        if rt.kind == "Deployment":
            if not isinstance(spec, dict):
                spec = {}
            sel = spec.get("selector")
            if not sel:
                causes.append(("spec.selector", "FieldValueRequired", "Required value"))
            else:
                tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
                if not labels_match(selector_from_obj(sel), tl):
                    causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                                   "Invalid value: %s: `selector` does not match template `labels`" % json.dumps(tl)))
                if old and canon((old.get("spec") or {}).get("selector")) != canon(sel):
                    causes.append(("spec.selector", "FieldValueInvalid",
                                   "Invalid value: %s: field is immutable" % json.dumps(sel)))
            self.validate_pod_spec(((spec.get("template") or {}).get("spec")), "spec.template.spec", causes)
        elif rt.kind == "Pod":
            self.validate_pod_spec(spec, "spec", causes)
            self.validate_ephemeral(spec, (old.get("spec") or {}) if old else None, sub, causes)
        elif rt.kind == "RuntimeClass":
            h = obj.get("handler")
            if not h:
                causes.append(("handler", "FieldValueRequired", "Required value"))
            elif not valid_dns_label(h):
                causes.append(("handler", "FieldValueInvalid", 'Invalid value: "%s": a lowercase RFC 1123 label' % h))
            if old and old.get("handler") != h:
                causes.append(("handler", "FieldValueInvalid", 'Invalid value: "%s": field is immutable' % h))
        elif rt.kind == "CustomResourceDefinition":
            spec = spec or {}
            names = spec.get("names") or {}
            want = "%s.%s" % (names.get("plural"), spec.get("group"))
            if name != want:
                causes.append(("metadata.name", "FieldValueInvalid",
                               'Invalid value: "%s": must be spec.names.plural+"."+spec.group' % name))
            if not names.get("kind"):
                causes.append(("spec.names.kind", "FieldValueRequired", "Required value"))
            if not spec.get("versions"):
                causes.append(("spec.versions", "FieldValueRequired", "Required value"))
        elif rt.kind == "Service":
            spec = spec or {}
            if spec.get("type") not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
                causes.append(("spec.type", "FieldValueNotSupported", 'Unsupported value: "%s"' % spec.get("type")))
            if old and (old.get("spec") or {}).get("clusterIP") not in (None, spec.get("clusterIP")):
                causes.append(("spec.clusterIPs[0]", "FieldValueInvalid", "Invalid value: field is immutable"))
        elif rt.kind == "Secret":
            for k, v in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(v, validate=True)
                except Exception:
                    causes.append(("data[%s]" % k, "FieldValueInvalid", "Invalid value: illegal base64 data"))
        elif rt.kind == "LimitRange":
            causes += quota.validate_limit_range(obj)
        elif rt.kind == "NetworkPolicy":
            causes += netpol.validate_policy(obj)
        elif rt.kind == "ResourceQuota":
            for k, v in ((spec or {}).get("hard") or {}).items():
                if not quantity_ok(v):
                    causes.append(("spec.hard[%s]" % k, "FieldValueInvalid", 'Invalid value: "%s": quantities must '
                                   "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" % v))
        elif rt.kind.endswith("PolicyBinding"):
            if not (spec or {}).get("policyName"):
                causes.append(("spec.policyName", "FieldValueRequired", "Required value"))
        elif rt.kind in WEBHOOK_KINDS:
            causes += webhooks.validate_config(rt.kind, obj, old, self.admission.compile)
        elif rt.kind == "PodDisruptionBudget":
            spec = spec if isinstance(spec, dict) else {}
            if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
                causes.append(webhooks.f_invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
            for k in ("minAvailable", "maxUnavailable"):
                v = spec.get(k)
                if v is None:
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, int) and v < 0):
                    causes.append(webhooks.f_invalid("spec." + k, v, "must be greater than or equal to 0"))
                elif isinstance(v, str) and not (v.endswith("%") and v[:-1].isdigit() and int(v[:-1]) <= 100):
                    causes.append(webhooks.f_invalid("spec." + k, v, "a valid percent string must be a numeric "
                                                     "string followed by an ending '%' (e.g. '1%',  or '93%', regex "
                                                     "used for validation is '[0-9]+%')"))
        if causes:
            raise invalid(rt, name, causes)

    def validate_pod_spec(self, ps, at, causes):
        if not isinstance(ps, dict) or not ps.get("containers"):
            causes.append((at + ".containers", "FieldValueRequired", "Required value"))
            return
        for i, c in enumerate(ps["containers"]):
            if not isinstance(c, dict) or not c.get("name"):
                causes.append(("%s.containers[%d].name" % (at, i), "FieldValueRequired", "Required value"))
            elif not c.get("image"):
                causes.append(("%s.containers[%d].image" % (at, i), "FieldValueRequired", "Required value"))

    def validate_ephemeral(self, ps, old_ps, sub, causes):
        """Ephemeral containers as the pod registry validates them: never set on create,
        changed only through the pods/ephemeralcontainers subresource, and there only
        added (an existing one is neither removed nor changed); each new one has a
        name unique in the pod, an image, and none of the fields an ephemeral
        container may not carry."""
        ps = ps if isinstance(ps, dict) else {}
        eph = [c for c in ps.get("ephemeralContainers") or [] if isinstance(c, dict)]
        at = "spec.ephemeralContainers"
        if old_ps is None:
            if eph:
                causes.append((at, "FieldValueForbidden", "Forbidden: cannot be set on create"))
            return
        before = [c for c in old_ps.get("ephemeralContainers") or [] if isinstance(c, dict)]
        if sub != "ephemeralcontainers":
            if canon(before) != canon(eph):
                causes.append(("spec", "FieldValueForbidden", "Forbidden: pod updates may not change fields other "
                               "than `spec.containers[*].image`,`spec.initContainers[*].image`,"
                               "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                               "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                               "was previously negative)"))
            return
        now = {c.get("name"): c for c in eph}
        for c in before:
            if c.get("name") not in now:
                causes.append((at, "FieldValueForbidden",
                               'Forbidden: existing ephemeral containers "%s" may not be removed' % c.get("name")))
            elif canon(now[c.get("name")]) != canon(c):
                causes.append((at, "FieldValueForbidden",
                               'Forbidden: existing ephemeral containers "%s" may not be changed' % c.get("name")))
        taken = {c.get("name") for key in ("containers", "initContainers") for c in ps.get(key) or []
                 if isinstance(c, dict)}
        for i, c in enumerate(eph):
            here = "%s[%d]" % (at, i)
            if not c.get("name"):
                causes.append((here + ".name", "FieldValueRequired", "Required value"))
            elif c["name"] in taken:
                causes.append((here + ".name", "FieldValueDuplicate", 'Duplicate value: "%s"' % c["name"]))
            taken.add(c.get("name"))
            if not c.get("image"):
                causes.append((here + ".image", "FieldValueRequired", "Required value"))
            for f in ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resources"):
                if c.get(f):
                    causes.append(("%s.%s" % (here, f), "FieldValueForbidden",
                                   "Forbidden: cannot be set for an Ephemeral Container"))

    # ---- writing ---------------------------------------------------------

    def generation_changed(self, rt, old, new):
        if rt.kind in WEBHOOK_KINDS:
            return canon(old.get("webhooks")) != canon(new.get("webhooks"))
        if rt.builtin:
            return canon(old.get("spec")) != canon(new.get("spec"))
        strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}
        return canon(strip(old)) != canon(strip(new))

    def _same(self, a, b):
        def norm(o):
            o = deep(o)
            for e in o["metadata"].get("managedFields") or []:
                e.pop("time", None)
            o["metadata"].pop("resourceVersion", None)
            return canon(o)
        return norm(a) == norm(b)

    def commit(self, rt, version, new, old, manager, dry_run, user, entries=None, op_kind="Update",
               sub=None):
        """Finish a create (old None) or update: returns the stored (or dry-run) object."""
        md = new["metadata"]
        t = now_rfc3339()
        if old is None:
            if not md.get("name") and not md.get("generateName"):
                raise invalid(rt, "", [("metadata.name", "FieldValueRequired",
                                        "Required value: name or generateName is required")])
            self.check_namespace(rt, md.get("namespace"), True)
            if md.get("name"):
                self.check_exists(rt, md)
            for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation",
                      "managedFields"):
                md.pop(k, None)
            md["uid"] = new_uid()
            md["creationTimestamp"] = t
            if "status" in rt.subresources and rt.kind not in ("Namespace", "Service", "Node"):
                new.pop("status", None)
        else:
            omd = old["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "name", "namespace"):
                if k in omd:
                    md[k] = omd[k]
                else:
                    md.pop(k, None)
            if sub != "status" and "status" in rt.subresources:
                if "status" in old:
                    new["status"] = deep(old["status"])
                else:
                    new.pop("status", None)
        if rt.kind in WEBHOOK_KINDS:
            webhooks.check_decodable(rt.kind, new)
        self.default(rt, new, old)
        op = "CREATE" if old is None else "UPDATE"
        new = self.admission.admit(rt, op, new, old, user, dry_run, sub=sub, manager=manager)
        md = new["metadata"]
        if old is None and not md.get("name"):
            # Like the registry: generateName is resolved after admission.
            md["name"] = md["generateName"] + rand_suffix()
            self.check_exists(rt, md)
        self.validate(rt, new, old, sub)
        if rt.generation:
            if old is None:
                md["generation"] = 1
            elif self.generation_changed(rt, old, new):
                md["generation"] = old["metadata"].get("generation", 1) + 1
        if entries is None:
            entries = ssa.read_managed(old) if old else []
            entries = ssa.record_update(old, new, entries, manager, rt.gv(version), t, rt.builtin, sub or "")
        ssa.write_managed(new, entries)
        if old is not None and self._same(old, new):
            return old, False
        if dry_run:
            if old is None:
                md.pop("resourceVersion", None)
            return new, True
        if md.get("deletionTimestamp") and not md.get("finalizers") and rt.kind != "Namespace":
            return self.store.remove(rt.key, new), True
        stored = self.store.put(rt.key, new, old)
        self.after_write(rt, stored, old)
        return stored, True

    def check_exists(self, rt, md):
        if self.store.get(rt.key, md.get("namespace", ""), md["name"]) is not None:
            raise ApiError(409, '%s "%s" already exists' % (rt.gr(), md["name"]), reason="AlreadyExists",
                           details={"name": md["name"], "group": rt.group, "kind": rt.plural})

    def after_write(self, rt, obj, old):
        if rt.kind == "Namespace" and old is None:
            self.namespace_defaults(obj["metadata"]["name"])
        if rt.kind == "Service":
            for p in (obj.get("spec") or {}).get("ports") or []:
                if p.get("nodePort"):
                    self.used_node_ports.add(p["nodePort"])

    def namespace_defaults(self, ns):
        """What the ServiceAccount and root-CA publisher controllers put in every new
        namespace: ServiceAccount "default" and ConfigMap kube-root-ca.crt.  A real
        cluster adds them within milliseconds; kubesim adds them with the namespace,
        so a pod created right after its namespace never races them."""
        t = now_rfc3339()
        objs = [(("", "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                           "metadata": {"name": "default", "namespace": ns}}),
                (("", "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "annotations": {
                                          "kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                                      "data": {"ca.crt": self.cluster_ca()}})]
        for key, o in objs:
            if self.store.get(key, ns, o["metadata"]["name"]) is None:
                o["metadata"].update(uid=new_uid(), creationTimestamp=t)
                self.store.put(key, o)

    def cluster_ca(self):
        path = getattr(self.cfg, "cluster_ca", None)
        if path:
            try:
                with open(path) as f:
                    return f.read()
            except OSError:
                pass
        return ""

    def create(self, rt, version, ns, body, manager, dry_run, user):
        with self.lock:
            body = deep(body)
            self.check_body(rt, version, ns, body)
            obj, _ = self.commit(rt, version, body, None, manager, dry_run, user)
            return obj

    def replace(self, rt, version, ns, name, body, manager, dry_run, user, sub=None):
        with self.lock:
            body = deep(body)
            self.check_body(rt, version, ns, body, name)
            old = self.get(rt, ns, name)
            rv = body["metadata"].get("resourceVersion")
            if not rv and rt.kind not in ("Namespace",) and sub is None and rt.builtin:
                raise invalid(rt, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                          "Invalid value: 0x0: must be specified for an update")])
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise self.conflict(rt, name)
            if sub == "status":
                new = deep(old)
                new["status"] = deep(body.get("status"))
            elif sub == "ephemeralcontainers":
                new = ephemeral_only(old, body)
            else:
                new = body
                if "managedFields" not in new["metadata"] and old["metadata"].get("managedFields"):
                    new["metadata"]["managedFields"] = deep(old["metadata"]["managedFields"])
            obj, _ = self.commit(rt, version, new, old, manager, dry_run, user, sub=sub)
            return obj

    def conflict(self, rt, name):
        return ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                        'please apply your changes to the latest version and try again' % (rt.gr(), name),
                        details={"name": name, "group": rt.group, "kind": rt.plural})

    def patch(self, rt, version, ns, name, ctype, raw, manager, force, dry_run, user, sub=None):
        """Returns (http_code, object)."""
        ctype = (ctype or "").split(";")[0].strip()
        with self.lock:
            if ctype == "application/apply-patch+yaml" or ctype == "application/apply-patch+cbor":
                return self.apply(rt, version, ns, name, raw, manager, force, dry_run, user, sub)
            if force:
                raise ApiError(422, "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be "
                               "specified for non-apply patch", details={"kind": "PatchOptions"})
            try:
                patch = json.loads(raw or b"null")
            except ValueError as e:
                raise ApiError(400, "error decoding patch: %s" % e)
            old = self.get(rt, ns, name)
            cur = self.out(rt, old, version)
            if ctype == "application/merge-patch+json":
                new = ssa.merge_patch(cur, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if not rt.builtin:
                    raise ApiError(415, "the body of the request was in an unknown format - accepted media "
                                   "types include: application/json-patch+json, application/merge-patch+json, "
                                   "application/apply-patch+yaml", reason="UnsupportedMediaType")
                new = ssa.strategic_merge_patch(cur, patch)
            elif ctype == "application/json-patch+json":
                try:
                    new = ssa.json_patch(cur, patch)
                except (ssa.PatchError, ValueError, KeyError, IndexError, TypeError) as e:
                    raise ApiError(422, "the server rejected our request due to an error in our request: %s" % e)
            else:
                raise ApiError(415, "the body of the request was in an unknown format - accepted media types "
                               "include: application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml, application/strategic-merge-patch+json",
                               reason="UnsupportedMediaType")
            if not isinstance(new, dict):
                raise ApiError(400, "patched object is not an object")
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise self.conflict(rt, name)
            self.check_body(rt, version, ns, new, name)
            if sub == "status":
                st = new.get("status")
                new = deep(old)
                new["status"] = st
            elif sub == "ephemeralcontainers":
                new = ephemeral_only(old, new)
            obj, _ = self.commit(rt, version, new, old, manager, dry_run, user, sub=sub)
            return 200, obj

    def apply(self, rt, version, ns, name, raw, manager, force, dry_run, user, sub=None):
        if not manager:
            raise ApiError(422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                           'required for apply patch', details={"kind": "PatchOptions", "group": "meta.k8s.io",
                                                                "causes": [{"reason": "FieldValueRequired",
                                                                            "message": "Required value: is required for apply patch",
                                                                            "field": "fieldManager"}]})
        try:
            body = yaml.safe_load(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ApiError(400, "error decoding YAML: %s" % e)
        if not isinstance(body, dict):
            raise ApiError(400, "apply patch body must be an object")
        if not body.get("apiVersion") or not body.get("kind"):
            raise ApiError(400, "apiVersion and kind must be set in an apply patch")
        self.check_body(rt, version, ns, body, name)
        rv = body["metadata"].pop("resourceVersion", None)
        for k in ("managedFields", "uid", "creationTimestamp", "generation"):
            body["metadata"].pop(k, None)
        old = self.store.get(rt.key, ns if rt.namespaced else "", name)
        if rv and (old is None or rv != old["metadata"]["resourceVersion"]):
            raise self.conflict(rt, name)
        t = now_rfc3339()
        try:
            if sub == "status":
                if old is None:
                    raise not_found(rt, name)
                body = {"apiVersion": body["apiVersion"], "kind": body["kind"],
                        "metadata": {"name": name}, "status": body.get("status") or {}}
            new, entries = ssa.apply(old, body if sub != "status" else body, manager, force,
                                     rt.gv(version), t, rt.builtin)
        except ssa.Conflict as c:
            causes = [{"reason": "FieldManagerConflict",
                       "message": 'conflict with "%s" using %s' % (m, av), "field": ssa.fmt_path(p)}
                      for m, av, p in c.conflicts]
            raise ApiError(409, ssa.conflict_message(c.conflicts), reason="Conflict",
                           details={"causes": causes})
        new.setdefault("metadata", {})
        new["metadata"]["name"] = name
        if rt.namespaced:
            new["metadata"]["namespace"] = ns
        new["apiVersion"], new["kind"] = rt.gv(version), rt.kind
        if sub == "ephemeralcontainers":
            if old is None:
                raise not_found(rt, name)
            new = ephemeral_only(old, new)
        obj, _ = self.commit(rt, version, new, old, manager, dry_run, user, entries=entries, sub=sub)
        return (201 if old is None else 200), obj

    def store_legacy(self, rt, body):
        """Admin path: store an object the way an older API version would have
        let it in (defaults applied, no validation) -- e.g. a webhook
        configuration with sideEffects Some, which v1 refuses to create but a
        real cluster upgraded from v1beta1 can still hold.  Create only."""
        with self.lock:
            body = deep(body)
            self.check_body(rt, rt.versions[0], (body.get("metadata") or {}).get("namespace", ""), body)
            md = body["metadata"]
            if not md.get("name"):
                raise ApiError(400, "metadata.name is required")
            self.check_namespace(rt, md.get("namespace"), True)
            self.check_exists(rt, md)
            for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
                md.pop(k, None)
            md["uid"] = new_uid()
            md["creationTimestamp"] = now_rfc3339()
            if rt.generation:
                md["generation"] = 1
            self.default(rt, body, None)
            return self.store.put(rt.key, body)

    def set_status(self, rt, obj, status):
        """Controllers: replace status, writing only on change."""
        with self.lock:
            cur = self.store.get(rt.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if cur is None or canon(cur.get("status")) == canon(status):
                return cur
            new = deep(cur)
            new["status"] = deep(status)
            return self.store.put(rt.key, new, cur)

    def update_internal(self, rt, new):
        """Controllers: write metadata/spec without admission (finalizers, nodes)."""
        with self.lock:
            md = new["metadata"]
            cur = self.store.get(rt.key, md.get("namespace", ""), md["name"])
            if cur is not None and canon(cur) == canon(new):
                return cur
            if md.get("deletionTimestamp") and not md.get("finalizers") and rt.kind != "Namespace":
                return self.store.remove(rt.key, new)
            return self.store.put(rt.key, new, cur)

    # ---- deleting --------------------------------------------------------

    def delete(self, rt, ns, name, opts, dry_run, user=None):
        """Returns (200, body): the object while finalizers hold it, else a Status."""
        with self.lock:
            obj = self.get(rt, ns, name)
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise ApiError(409, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                               % (pre["uid"], obj["metadata"]["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise ApiError(409, "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion "
                               "in object meta: %s" % (pre["resourceVersion"], obj["metadata"]["resourceVersion"]))
            policy = opts.get("propagationPolicy")
            if not policy and opts.get("orphanDependents") is True:
                policy = "Orphan"
            if not obj["metadata"].get("deletionTimestamp"):
                self.admission.admit_delete(rt, obj, user or CONTROLLER, dry_run, opts)
            if dry_run:
                return 200, self.status_ok(rt, obj)
            new = deep(obj)
            md = new["metadata"]
            if rt.kind == "Namespace":
                if not md.get("deletionTimestamp"):
                    md["deletionTimestamp"] = now_rfc3339()
                    md["deletionGracePeriodSeconds"] = 0
                    new["status"] = {"phase": "Terminating"}
                    obj = self.store.put(rt.key, new, obj)
                return 200, obj
            if policy == "Orphan":
                self.orphan_dependents(obj["metadata"]["uid"])
            fins = list(md.get("finalizers") or [])
            if policy == "Foreground" and "foregroundDeletion" not in fins and self.has_dependents(md["uid"]):
                fins.append("foregroundDeletion")
            if fins:
                md["finalizers"] = fins
                if not md.get("deletionTimestamp"):
                    md["deletionTimestamp"] = now_rfc3339()
                    md["deletionGracePeriodSeconds"] = 0
                if canon(new) != canon(obj):
                    obj = self.store.put(rt.key, new, obj)
                return 200, obj
            self.store.remove(rt.key, obj)
            if rt.kind == "CustomResourceDefinition":
                # as the real CRD finalizer does: the instances and the endpoints go with the CRD
                self.unregister_crd(obj)
            return 200, self.status_ok(rt, obj)

    def status_ok(self, rt, obj):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": obj["metadata"]["name"], "group": rt.group, "kind": rt.plural,
                            "uid": obj["metadata"].get("uid")}}

    def has_dependents(self, uid):
        for _, o in self.store.all():
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                return True
        return False

    def orphan_dependents(self, uid):
        for key, o in list(self.store.all()):
            refs = o["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                new = deep(o)
                new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                self.store.put(key, new, o)

    def remove_now(self, rt, obj):
        with self.lock:
            return self.store.remove(rt.key, obj)

    # ---- custom resources ------------------------------------------------

    def register_crd(self, crd):
        rt = crd_type(crd)
        if rt.plural and rt.kind:
            self.registry.add(rt)

    def unregister_crd(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        for k, o in list(self.store.all()):
            if k == key:
                self.store.remove(k, o)
        self.registry.remove(key)


def parse_body(raw, ctype):
    ctype = (ctype or "application/json").split(";")[0].strip()
    if ctype == "application/vnd.kubernetes.protobuf" or ctype.endswith("cbor"):
        raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                       "application/json, application/yaml", reason="UnsupportedMediaType")
    try:
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw.decode("utf-8") or "null")
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise ApiError(400, "error decoding body: %s" % e)

