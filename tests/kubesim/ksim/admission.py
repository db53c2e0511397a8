"""The admission chain, in a real API server's order, for every create, update
and delete.  Owned by the kubesim suite (tests/kubesim).

Mutating phase (create/update):
 1. In-tree mutating plugins, in the real order (pod CREATE): LimitRanger
    (Container defaults, quota.py), ServiceAccount (default account, which
    must exist -> 403; the kube-api-access projected volume mounted at
    /var/run/secrets/kubernetes.io/serviceaccount unless
    automountServiceAccountToken -- the pod's, else the account's -- is
    false), RuntimeClass (unknown class -> 403, overhead.podFixed set (a
    different preset -> 403), scheduling nodeSelector merged (conflict ->
    403), tolerations added).
 2. MutatingAdmissionPolicies (admissionregistration.k8s.io/v1, served only
    from --version 1.36) with their bindings: ApplyConfiguration (merged like
    server-side apply) or JSONPatch mutations written in the CEL subset of
    cel.py.  A policy whose expression does not compile or fails to evaluate
    fails; with failurePolicy Fail (the default) the request is refused.
 3. Mutating admission webhooks (webhooks.py), called for real.
 4. Reinvocation: if a policy or webhook changed the object, the in-tree
    plugins run again (so a class a webhook set gets its RuntimeClass
    scheduling and overhead) and webhooks with reinvocationPolicy IfNeeded
    that ran before a later change are called once more.
Validating phase (generateName is resolved first, as the registry does):
 5. LimitRanger (min/max/ratio, pod CREATE) and PodSecurity (podsecurity.py):
    pods are refused at the namespace's enforce level and warned at its warn
    level, on CREATE and on an UPDATE of the pod or of its
    pods/ephemeralcontainers subresource that changes what is checked
    (podsecurity.significant_update); workload templates and namespace label
    changes only warn.
 6. ValidatingAdmissionPolicies whose bindings carry Deny (or Warn) actions.
 7. Validating admission webhooks.
 8. ResourceQuota (quota.py), last, on every namespaced CREATE.
DELETE requests meet the mutating webhooks (which may not patch), the
ValidatingAdmissionPolicies and the validating webhooks, with object null and
oldObject set.  Policy matching uses matchConstraints.resourceRules /
excludeResourceRules (with subresources and scope), namespaceSelector and
objectSelector of policy and binding, and matchConditions.  Admission
configuration objects themselves are exempt, as on a real server.
"""
import random
import threading

from . import cel, podsecurity, quota, ssa
from .util import ApiError, canon, deep, labels_match, selector_from_obj
from .webhooks import Webhooks

REASON_CODES = {"Invalid": 422, "Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413}
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
SA_VOLUME_PREFIX = "kube-api-access-"


def forbidden(rt, name, msg):
    det = {"name": name, "group": rt.group, "kind": rt.plural}
    if not rt.group:
        del det["group"]  # omitempty
    return ApiError(403, '%s "%s" is forbidden: %s' % (rt.gr(), name, msg), reason="Forbidden", details=det)


class PolicyError(Exception):
    pass


class Attrs:
    """admission.Attributes: what the request is, for policies and webhooks."""

    def __init__(self, rt, version, op, obj, old, user, dry_run, sub=None, manager=None, delete_opts=None):
        self.rt, self.version, self.op = rt, version, op
        self.obj, self.old, self.user, self.dry_run = obj, old, user or {}, dry_run
        self.sub, self.manager, self.delete_opts = sub or "", manager, delete_opts or {}
        md = ((obj if obj is not None else old) or {}).get("metadata") or {}
        self.name = md.get("name", "")
        if rt.kind == "Namespace" and not self.sub:
            self.ns = md.get("name", "")
        else:
            self.ns = md.get("namespace", "") if rt.namespaced else ""

    def options(self):
        if self.op == "DELETE":
            o = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
            for k in ("gracePeriodSeconds", "preconditions", "orphanDependents", "propagationPolicy"):
                if self.delete_opts.get(k) is not None:
                    o[k] = self.delete_opts[k]
        else:
            o = {"kind": "CreateOptions" if self.op == "CREATE" else "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}
            if self.manager:
                o["fieldManager"] = self.manager
        if self.dry_run:
            o["dryRun"] = ["All"]
        return o


class Admission:
    def __init__(self, cluster):
        self.cluster = cluster
        self.compiled = {}
        self.local = threading.local()
        self.webhooks = Webhooks(cluster, self)

    # warnings for the current request (VAP Warn action) -> Warning headers
    def take_warnings(self):
        w = getattr(self.local, "warnings", [])
        self.local.warnings = []
        return w

    def warn(self, msg):
        if not hasattr(self.local, "warnings"):
            self.local.warnings = []
        self.local.warnings.append(msg)

    def compile(self, expr):
        if expr not in self.compiled:
            try:
                self.compiled[expr] = cel.compile_expr(expr)
            except cel.CelError as e:
                self.compiled[expr] = e
        c = self.compiled[expr]
        if isinstance(c, cel.CelError):
            raise c
        return c

    def eval(self, expr, env):
        return cel.evaluate(self.compile(expr), env)

    # ---- matching ----------------------------------------------------------

    def ns_labels(self, rt, obj):
        if rt.kind == "Namespace":
            return (obj.get("metadata") or {}).get("labels") or {}
        if not rt.namespaced:
            return None
        ns = self.cluster.store.get(("", "namespaces"), "", obj["metadata"].get("namespace", ""))
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    @staticmethod
    def rule_match(rule, rt, version, op, sub=""):
        """A (Named)RuleWithOperations, as the real rules.Matcher reads it."""
        def has(lst, v):
            return isinstance(lst, list) and ("*" in lst or v in lst)
        if not (has(rule.get("operations"), op) and has(rule.get("apiGroups"), rt.group)
                and has(rule.get("apiVersions"), version)):
            return False
        scope = rule.get("scope") or "*"
        if scope == "Namespaced" and (rt.kind == "Namespace" or not rt.namespaced):
            return False
        if scope == "Cluster" and rt.namespaced:
            return False
        for rs in rule.get("resources") or []:
            res, _, s = rs.partition("/")
            if (res == "*" or res == rt.plural) and (s == "*" or s == (sub or "")):
                return True
        return False

    def resources_match(self, mr, rt, version, op, obj, optional_rules, old=None, sub=""):
        if not mr:
            return not optional_rules
        rules = mr.get("resourceRules")
        if rules is not None or not optional_rules:
            if not any(self.rule_match(r, rt, version, op, sub) for r in rules or []):
                return False
        if any(self.rule_match(r, rt, version, op, sub) for r in mr.get("excludeResourceRules") or []):
            return False
        subject = obj if obj is not None else old
        nsl = self.ns_labels(rt, subject)
        if mr.get("namespaceSelector") and nsl is not None:
            if not labels_match(selector_from_obj(mr["namespaceSelector"]), nsl):
                return False
        if mr.get("objectSelector"):
            req = selector_from_obj(mr["objectSelector"])
            if not any(o is not None and labels_match(req, (o.get("metadata") or {}).get("labels"))
                       for o in (obj, old)):
                return False
        return True

    def env(self, rt, op, obj, old, user, dry_run, policy, sub=""):
        md = ((obj if obj is not None else old) or {}).get("metadata") or {}
        nso = None
        if rt.namespaced:
            nso = deep(self.cluster.store.get(("", "namespaces"), "", md.get("namespace", "")))
        e = {"object": obj, "oldObject": old, "params": None, "namespaceObject": nso,
             "request": {"operation": op, "namespace": md.get("namespace", ""), "name": md.get("name", ""),
                         "kind": {"group": rt.group, "version": rt.versions[0], "kind": rt.kind},
                         "resource": {"group": rt.group, "version": rt.versions[0], "resource": rt.plural},
                         "subResource": sub or "",
                         "userInfo": {"username": user.get("username", ""), "groups": user.get("groups", [])},
                         "dryRun": bool(dry_run)}}
        cache = {}
        defs = {v.get("name"): v.get("expression") for v in (policy.get("spec") or {}).get("variables") or []}

        def var(name):
            if name not in cache:
                if name not in defs:
                    raise cel.CelError("no such key: %s" % name)
                cache[name] = self.eval(defs[name], e)
            return cache[name]
        e["@vars"] = var
        return e

    def bindings(self, plural_binding, plural_policy, rt, version, op, obj, old=None, sub=""):
        """[(policy, binding)] whose match rules select this request, sorted by binding name."""
        st = self.cluster.store
        out = []
        for b in st.list(("admissionregistration.k8s.io", plural_binding)):
            pname = (b.get("spec") or {}).get("policyName")
            p = st.get(("admissionregistration.k8s.io", plural_policy), "", pname)
            if p is None:
                continue
            pspec = p.get("spec") or {}
            if not self.resources_match(pspec.get("matchConstraints"), rt, version, op, obj, False, old, sub):
                continue
            if not self.resources_match((b.get("spec") or {}).get("matchResources"), rt, version, op, obj, True,
                                        old, sub):
                continue
            out.append((p, b))
        return out

    def match_conditions(self, policy, env):
        for mc in (policy.get("spec") or {}).get("matchConditions") or []:
            v = self.eval(mc.get("expression", ""), env)
            if v is not True:
                return False
        return True

    # ---- the chain -----------------------------------------------------------

    def admit(self, rt, op, obj, old, user, dry_run, sub=None, manager=None):
        """Create/update: the mutating then the validating phase; returns the admitted object."""
        if rt.group == "admissionregistration.k8s.io":
            return obj  # policy and webhook configurations are exempt from admission
        version = rt.versions[0]
        a = Attrs(rt, version, op, obj, old, user, dry_run, sub, manager)
        # mutating phase, round 0
        obj = self.in_tree(a, obj)
        changed = False
        if ("admissionregistration.k8s.io", "mutatingadmissionpolicies") in self.cluster.registry.types:
            before = canon(obj)
            obj = self.mutating(rt, version, op, obj, old, user, dry_run, sub)
            changed = canon(obj) != before
        a.obj = obj
        state = {"round": 0}
        obj, wchanged = self.webhooks.mutate(a, state)
        if changed or wchanged:
            # reinvocation: in-tree plugins again, then IfNeeded webhooks that ran before a later change
            obj = self.in_tree(a, obj)
            a.obj = obj
            state["round"] = 1
            obj, _ = self.webhooks.mutate(a, state)
        # validating phase (the registry has resolved generateName by now, as the real one has)
        md = obj.get("metadata") or {}
        if op == "CREATE" and not md.get("name") and md.get("generateName"):
            from .cluster import rand_suffix
            md["name"] = md["generateName"] + rand_suffix()
            self.cluster.check_exists(rt, md)
            a.name = md["name"]
        if rt.kind == "Pod" and op == "CREATE" and not a.sub:
            self.limit_ranger_validate(rt, obj)
            self.pod_security(rt, obj)
        elif rt.kind == "Pod" and op == "UPDATE" and a.sub in ("", "ephemeralcontainers") \
                and podsecurity.significant_update(obj, old):
            self.pod_security(rt, obj)
        elif (rt.group, rt.kind) in podsecurity.WORKLOADS and op in ("CREATE", "UPDATE") and not a.sub:
            self.pod_security_workload(rt, obj)
        elif rt.kind == "Namespace" and op in ("CREATE", "UPDATE") and not a.sub:
            self.pod_security_namespace(obj, old)
        self.validating(rt, version, op, obj, old, user, dry_run, sub)
        a.obj = obj
        self.webhooks.validate(a)
        if op == "CREATE" and rt.namespaced and not a.sub:
            msg = quota.check(self.cluster.store, self.cluster.registry, rt, obj, None)
            if msg:
                raise forbidden(rt, md.get("name", ""), msg)
        return obj

    def admit_delete(self, rt, obj, user, dry_run, opts):
        """DELETE: webhooks see object null and oldObject; ValidatingAdmissionPolicies too."""
        if rt.group == "admissionregistration.k8s.io":
            return
        version = rt.versions[0]
        a = Attrs(rt, version, "DELETE", None, obj, user, dry_run, delete_opts=opts)
        self.webhooks.mutate(a, {"round": 0})
        self.validating(rt, version, "DELETE", None, obj, user, dry_run)
        self.webhooks.validate(a)

    def in_tree(self, a, obj):
        """The in-tree mutating plugins, in the real order: LimitRanger, ServiceAccount, RuntimeClass."""
        if a.rt.kind == "Pod" and a.op == "CREATE" and not a.sub:
            quota.limit_ranger_admit(obj, self.limit_ranges(obj))
            obj = self.service_account(a.rt, obj)
            obj = self.runtime_class(a.rt, obj)
        return obj

    def limit_ranges(self, obj):
        return self.cluster.store.list(("", "limitranges"), obj["metadata"].get("namespace", ""))

    def limit_ranger_validate(self, rt, pod):
        msg = quota.limit_ranger_validate(pod, self.limit_ranges(pod))
        if msg:
            raise forbidden(rt, pod["metadata"].get("name", ""), msg)

    def service_account(self, rt, pod):
        """The ServiceAccount plugin: default account, the account must exist, and the
        kube-api-access projected volume mounted at SA_MOUNT in every container unless
        automountServiceAccountToken (the pod's, else the account's) is false."""
        spec = pod.setdefault("spec", {})
        md = pod["metadata"]
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        sa = self.cluster.store.get(("", "serviceaccounts"), md.get("namespace", ""), name)
        if sa is None:
            raise forbidden(rt, md.get("name") or md.get("generateName", ""),
                            'error looking up service account %s/%s: serviceaccount "%s" not found'
                            % (md.get("namespace", ""), name, name))
        auto = spec.get("automountServiceAccountToken")
        if auto is None:
            auto = sa.get("automountServiceAccountToken")
        if auto is False:
            return pod
        cs = [c for c in (spec.get("initContainers") or []) + (spec.get("containers") or []) if isinstance(c, dict)]
        vols = spec.setdefault("volumes", [])
        vname = next((v.get("name") for v in vols if isinstance(v, dict)
                      and str(v.get("name", "")).startswith(SA_VOLUME_PREFIX) and "projected" in v), None)
        if vname is None:
            if any(m.get("mountPath") == SA_MOUNT for c in cs for m in c.get("volumeMounts") or []):
                return pod
            vname = SA_VOLUME_PREFIX + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            vols.append({"name": vname, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
        for c in cs:
            mounts = c.setdefault("volumeMounts", [])
            if not any(m.get("mountPath") == SA_MOUNT for m in mounts):
                mounts.append({"name": vname, "readOnly": True, "mountPath": SA_MOUNT})
        return pod

    def mutating(self, rt, version, op, obj, old, user, dry_run, sub=None):
        for p, b in self.bindings("mutatingadmissionpolicybindings", "mutatingadmissionpolicies",
                                  rt, version, op, obj, old, sub or ""):
            pspec = p.get("spec") or {}
            pname, bname = p["metadata"]["name"], b["metadata"]["name"]
            try:
                env = self.env(rt, op, obj, old, user, dry_run, p, sub)
                if pspec.get("paramKind"):
                    raise cel.CelError("paramKind is not supported by kubesim")
                if not self.match_conditions(p, env):
                    continue
                new = deep(obj)
                for m in pspec.get("mutations") or []:
                    env["object"] = new
                    pt = m.get("patchType")
                    if pt == "ApplyConfiguration":
                        res = self.eval((m.get("applyConfiguration") or {}).get("expression", ""), env)
                        if not isinstance(res, dict):
                            raise cel.CelError("applyConfiguration must evaluate to an Object")
                        new = ssa.merge(new, ssa.drop_nulls(res), (), True)
                    elif pt == "JSONPatch":
                        res = self.eval((m.get("jsonPatch") or {}).get("expression", ""), env)
                        if not isinstance(res, list):
                            raise cel.CelError("jsonPatch must evaluate to a list of JSONPatch")
                        try:
                            new = ssa.json_patch(new, res)
                        except ssa.PatchError as e:
                            raise cel.CelError(str(e))
                    else:
                        raise cel.CelError("unsupported patchType %r" % pt)
                obj = new
            except cel.CelError as e:
                if pspec.get("failurePolicy", "Fail") == "Ignore":
                    continue
                raise ApiError(403, "MutatingAdmissionPolicy '%s' with binding '%s' denied request: "
                               "failed to apply mutation: %s" % (pname, bname, e), reason="Forbidden",
                               details={"name": (obj.get("metadata") or {}).get("name", ""), "kind": rt.plural,
                                        "group": rt.group})
        return obj

    def runtime_class(self, rt, pod):
        spec = pod.setdefault("spec", {})
        name = spec.get("runtimeClassName")
        if not name:
            return pod
        md = pod["metadata"]
        pname = md.get("name") or md.get("generateName", "")

        def deny(msg):
            return ApiError(403, 'pods "%s" is forbidden: %s' % (pname, msg), reason="Forbidden",
                            details={"name": pname, "kind": "pods"})
        rc = self.cluster.store.get(("node.k8s.io", "runtimeclasses"), "", name)
        if rc is None:
            raise deny('pod rejected: RuntimeClass "%s" not found' % name)
        fixed = (rc.get("overhead") or {}).get("podFixed")
        if fixed:
            if spec.get("overhead") and spec["overhead"] != fixed:
                raise deny("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
            spec["overhead"] = deep(fixed)
        sched = rc.get("scheduling") or {}
        sel = spec.get("nodeSelector") or {}
        for k, v in (sched.get("nodeSelector") or {}).items():
            if k in sel and sel[k] != v:
                raise deny("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s"
                           % (k, v, k, sel[k]))
            sel[k] = v
        if sel:
            spec["nodeSelector"] = sel
        tols = spec.get("tolerations") or []
        for t in sched.get("tolerations") or []:
            if t not in tols:
                tols.append(deep(t))
        if tols:
            spec["tolerations"] = tols
        return pod

    def pod_security(self, rt, pod):
        """PodSecurity for a pod: the enforce level refuses, the warn level warns."""
        nsl = self.ns_labels(rt, pod) or {}
        md, spec = pod["metadata"], pod.get("spec") or {}
        level, shown = podsecurity.policy(nsl, "enforce")
        bad = podsecurity.evaluate(level, md, spec)
        if bad:
            raise forbidden(rt, md.get("name") or md.get("generateName", ""),
                            'violates PodSecurity "%s": %s' % (shown, podsecurity.summary(bad)))
        level, shown = podsecurity.policy(nsl, "warn")
        bad = podsecurity.evaluate(level, md, spec)
        if bad:
            self.warn('would violate PodSecurity "%s": %s' % (shown, podsecurity.summary(bad)))

    def pod_security_workload(self, rt, obj):
        """Workload resources are never refused; their pod template earns warnings for the
        namespace's enforce and warn levels (what a pod created from it would meet)."""
        ns = self.cluster.store.get(("", "namespaces"), "", obj["metadata"].get("namespace", ""))
        nsl = ((ns or {}).get("metadata") or {}).get("labels") or {}
        spec = obj.get("spec") or {}
        if obj.get("kind") == "CronJob":
            spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
        tmpl = spec.get("template") or {}
        seen = set()
        for mode in ("enforce", "warn"):
            level, shown = podsecurity.policy(nsl, mode)
            bad = podsecurity.evaluate(level, tmpl.get("metadata"), tmpl.get("spec"))
            if bad and shown not in seen:
                seen.add(shown)
                self.warn('would violate PodSecurity "%s": %s' % (shown, podsecurity.summary(bad)))

    def pod_security_namespace(self, ns, old):
        """A new or changed enforce level is checked against the namespace's pods: warnings only."""
        new_l = (ns.get("metadata") or {}).get("labels") or {}
        old_l = ((old or {}).get("metadata") or {}).get("labels") or {}
        level, shown = podsecurity.policy(new_l, "enforce")
        if old is None or podsecurity.policy(old_l, "enforce")[1] == shown or level == "privileged":
            return
        groups = {}
        for p in self.cluster.store.list(("", "pods"), ns["metadata"]["name"]):
            bad = podsecurity.evaluate(level, p["metadata"], p.get("spec"))
            if bad:
                groups.setdefault(", ".join(r for r, _ in bad), []).append(p["metadata"]["name"])
        if not groups:
            return
        self.warn('existing pods in namespace "%s" violate the new PodSecurity enforce level "%s"'
                  % (ns["metadata"]["name"], shown))
        for reasons, names in sorted(groups.items(), key=lambda kv: kv[1][0]):
            if len(names) == 1:
                self.warn("%s: %s" % (names[0], reasons))
            else:
                self.warn("%s (and %d other pods): %s" % (names[0], len(names) - 1, reasons))

    def validating(self, rt, version, op, obj, old, user, dry_run, sub=None):
        for p, b in self.bindings("validatingadmissionpolicybindings", "validatingadmissionpolicies",
                                  rt, version, op, obj, old, sub or ""):
            pspec = p.get("spec") or {}
            actions = (b.get("spec") or {}).get("validationActions") or []
            pname, bname = p["metadata"]["name"], b["metadata"]["name"]
            fail = pspec.get("failurePolicy", "Fail") != "Ignore"
            try:
                env = self.env(rt, op, obj, old, user, dry_run, p, sub)
                if pspec.get("paramKind"):
                    raise cel.CelError("paramKind is not supported by kubesim")
                if not self.match_conditions(p, env):
                    continue
            except cel.CelError as e:
                if fail:
                    self.decide(actions, pname, bname, "failed to evaluate matchConditions: %s" % e, "Invalid")
                continue
            for v in pspec.get("validations") or []:
                expr = v.get("expression", "")
                reason = v.get("reason") or "Invalid"
                try:
                    ok = self.eval(expr, env)
                    if ok is not True and ok is not False:
                        raise cel.CelError("expression must return a bool")
                except cel.CelError as e:
                    if fail:
                        self.decide(actions, pname, bname, "expression '%s' resulted in error: %s" % (expr, e), reason)
                    continue
                if ok:
                    continue
                msg = v.get("message")
                if v.get("messageExpression"):
                    try:
                        m = self.eval(v["messageExpression"], env)
                        if isinstance(m, str) and m.strip():
                            msg = m
                    except cel.CelError:
                        pass
                self.decide(actions, pname, bname, msg or "failed expression: %s" % expr, reason)

    def decide(self, actions, pname, bname, msg, reason):
        if "Warn" in actions:
            self.warn("Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s"
                      % (pname, bname, msg))
        if "Deny" in actions:
            raise ApiError(REASON_CODES.get(reason, 422),
                           "ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s"
                           % (pname, bname, msg), reason=reason)
