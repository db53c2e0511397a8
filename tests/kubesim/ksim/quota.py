"""LimitRange and ResourceQuota: defaulting, the two admission plugins, usage.

Owned by the kubesim suite (tests/kubesim).  Semantics and messages follow
plugin/pkg/admission/limitranger and the resourcequota admission plugin with
the pod evaluator of pkg/quota/v1/evaluator/core:

* LimitRange objects are defaulted like SetDefaults_LimitRangeItem (a Container
  item's max becomes its default, the default its defaultRequest, min the
  defaultRequest).  At pod admission the Container defaults fill missing
  requests/limits (annotation kubernetes.io/limit-ranger), then min / max /
  maxLimitRequestRatio per Container and per Pod are enforced: 403
  `Maximum cpu usage per Container is 1, but limit is 2.` (several errors print
  as the real aggregate "[a, b]").
* ResourceQuota: pods, count/<resource>[.<group>], services, secrets,
  configmaps, services.nodeports, services.loadbalancers, cpu/memory,
  requests.* and limits.* (pod usage = containers, at least the largest init
  container, plus the RuntimeClass overhead; terminal and terminating pods are
  not charged).  A quota on cpu or memory requires every container to state
  it: 403 `failed quota: q: must specify limits.cpu for: c; ...`; an excess is
  403 `exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`.
  Usage is counted from the stored objects at admission time (kubesim serves
  one write at a time, which the real plugin reaches with its own status
  writes); the quota controller keeps status.hard/used current, and a quota
  whose status does not list usage yet refuses with `status unknown for quota`.
"""
from .quantity import Q, QuantityError

LR_ANNOTATION = "kubernetes.io/limit-ranger"
COMPUTE = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
POD_RESOURCES = set(COMPUTE) | {"pods", "count/pods", "ephemeral-storage", "requests.ephemeral-storage",
                                "limits.ephemeral-storage"}


def _rl(res):
    out = {}
    for k, v in (res or {}).items():
        try:
            out[k] = Q.parse(v)
        except QuantityError:
            continue
    return out


def _sum(lists):
    out = {}
    for rl in lists:
        for k, v in rl.items():
            out[k] = out[k] + v if k in out else Q(v.v, v.fmt)
    return out


def pod_requests_limits(pod):
    """(requests, limits) of the pod as the quota sees them (resourcehelper.PodRequests/PodLimits)."""
    spec = pod.get("spec") or {}
    result = []
    for what in ("requests", "limits"):
        main = _sum(_rl((c.get("resources") or {}).get(what)) for c in spec.get("containers") or []
                    if isinstance(c, dict))
        for c in spec.get("initContainers") or []:
            if not isinstance(c, dict) or c.get("restartPolicy") == "Always":
                continue
            for k, v in _rl((c.get("resources") or {}).get(what)).items():
                if k not in main or v > main[k]:
                    main[k] = Q(v.v, v.fmt)
        for k, v in _rl(spec.get("overhead")).items():
            if k in main:
                main[k] = main[k] + v
            elif what == "requests":
                main[k] = Q(v.v, v.fmt)
        result.append(main)
    return result[0], result[1]


def charged(pod):
    st = (pod.get("status") or {}).get("phase")
    return st not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def pod_usage(pod):
    usage = {"count/pods": Q(1)}
    if not charged(pod):
        return usage
    req, lim = pod_requests_limits(pod)
    usage["pods"] = Q(1)
    for r in ("cpu", "memory", "ephemeral-storage"):
        if r in req:
            usage[r] = req[r]
            usage["requests." + r] = req[r]
        if r in lim:
            usage["limits." + r] = lim[r]
    return usage


def object_usage(rt, obj):
    """Quota usage of one stored object of type rt."""
    if rt.kind == "Pod":
        return pod_usage(obj)
    usage = {"count/" + rt.plural + ("." + rt.group if rt.group else ""): Q(1)}
    if rt.group == "" and rt.plural in ("services", "secrets", "configmaps", "persistentvolumeclaims",
                                        "replicationcontrollers", "resourcequotas"):
        usage[rt.plural] = Q(1)
    if rt.kind == "Service":
        spec = obj.get("spec") or {}
        if spec.get("type") == "LoadBalancer":
            usage["services.loadbalancers"] = Q(1)
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Q(sum(1 for p in spec.get("ports") or [] if isinstance(p, dict)))
    return usage


def pretty(rl):
    return ",".join("%s=%s" % (k, rl[k]) for k in sorted(rl))


# ---- LimitRange ---------------------------------------------------------------------------

def default_limit_range(obj):
    """SetDefaults_LimitRangeItem."""
    for item in (obj.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        dflt = item.setdefault("default", {})
        dreq = item.setdefault("defaultRequest", {})
        for k, v in (item.get("max") or {}).items():
            dflt.setdefault(k, v)
        for k, v in dflt.items():
            dreq.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            dreq.setdefault(k, v)
        if not dflt:
            del item["default"]
        if not dreq:
            del item["defaultRequest"]


def validate_limit_range(obj):
    causes = []
    for i, item in enumerate((obj.get("spec") or {}).get("limits") or []):
        at = "spec.limits[%d]" % i
        if not isinstance(item, dict):
            continue
        t = item.get("type")
        if not t:
            causes.append((at + ".type", "FieldValueRequired", "Required value"))
        elif t not in ("Pod", "Container", "PersistentVolumeClaim"):
            causes.append((at + ".type", "FieldValueNotSupported",
                           'Unsupported value: "%s": supported values: "Container", "PersistentVolumeClaim", "Pod"'
                           % t))
        for f in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            for k, v in (item.get(f) or {}).items():
                try:
                    Q.parse(v)
                except QuantityError as e:
                    causes.append(("%s.%s[%s]" % (at, f, k), "FieldValueInvalid", 'Invalid value: "%s": %s' % (v, e)))
        mx, mn = _rl(item.get("max")), _rl(item.get("min"))
        for k in mx:
            if k in mn and mn[k] > mx[k]:
                causes.append(("%s.min[%s]" % (at, k), "FieldValueInvalid",
                               'Invalid value: "%s": min value %s is greater than max value %s' % (mn[k], mn[k], mx[k])))
        if t == "Pod" and (item.get("default") or item.get("defaultRequest")):
            causes.append((at + ".default", "FieldValueForbidden", "Forbidden: may not be specified when `type` is "
                                                                   "'Pod'"))
    return causes


def _min(kind, r, enforced, req, lim):
    if r not in req:
        return "Minimum %s usage per %s is %s.  No request is specified." % (r, kind, enforced)
    if req[r] < enforced:
        return "Minimum %s usage per %s is %s, but request is %s." % (r, kind, enforced, req[r])
    if r in lim and lim[r] < enforced:
        return "Minimum %s usage per %s is %s, but limit is %s." % (r, kind, enforced, lim[r])


def _max(kind, r, enforced, req, lim):
    if r not in lim:
        return "Maximum %s usage per %s is %s.  No limit is specified." % (r, kind, enforced)
    if lim[r] > enforced:
        return "Maximum %s usage per %s is %s, but limit is %s." % (r, kind, enforced, lim[r])
    if r in req and req[r] > enforced:
        return "Maximum %s usage per %s is %s, but request is %s." % (r, kind, enforced, req[r])


def _ratio(kind, r, enforced, req, lim):
    if r not in req or req[r].v == 0:
        return ("%s max limit to request ratio per %s is %s, but no request is specified or request is 0."
                % (r, kind, enforced))
    if r not in lim or lim[r].v == 0:
        return ("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0."
                % (r, kind, enforced))
    ratio = lim[r].v / req[r].v
    if ratio > enforced.v:
        return "%s max limit to request ratio per %s is %s, but provided ratio is %f." % (r, kind, enforced,
                                                                                           float(ratio))


def limit_ranger_admit(pod, ranges):
    """Mutating half: apply the Container defaults of every LimitRange (in name order)."""
    notes = []
    spec = pod.get("spec") or {}
    for lr in ranges:
        dreq, dlim = {}, {}
        for item in (lr.get("spec") or {}).get("limits") or []:
            if isinstance(item, dict) and item.get("type") == "Container":
                dreq.update(item.get("defaultRequest") or {})
                dlim.update(item.get("default") or {})
        if not dreq and not dlim:
            continue
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            if not isinstance(c, dict):
                continue
            res = c.setdefault("resources", {})
            set_req, set_lim = [], []
            for k, v in dlim.items():
                if k not in (res.get("limits") or {}):
                    res.setdefault("limits", {})[k] = v
                    set_lim.append(k)
            for k, v in dreq.items():
                if k not in (res.get("requests") or {}):
                    res.setdefault("requests", {})[k] = v
                    set_req.append(k)
            if set_req:
                notes.append("%s request for container %s" % (", ".join(sorted(set_req)), c.get("name", "")))
            if set_lim:
                notes.append("%s limit for container %s" % (", ".join(sorted(set_lim)), c.get("name", "")))
    if notes:
        pod["metadata"].setdefault("annotations", {})[LR_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
    return pod


def limit_ranger_validate(pod, ranges):
    """Validating half: the errors of the first LimitRange that refuses the pod (None if all allow it)."""
    spec = pod.get("spec") or {}
    cs = [c for c in (spec.get("initContainers") or []) + (spec.get("containers") or []) if isinstance(c, dict)]
    for lr in ranges:
        errs = []
        for item in (lr.get("spec") or {}).get("limits") or []:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "Container":
                targets = [(_rl((c.get("resources") or {}).get("requests")),
                            _rl((c.get("resources") or {}).get("limits"))) for c in cs]
            elif kind == "Pod":
                targets = [pod_requests_limits({"spec": dict(spec, overhead=None)})]
            else:
                continue
            for req, lim in targets:
                for fname, fn in (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio)):
                    for r in sorted(item.get(fname) or {}):
                        try:
                            enforced = Q.parse(item[fname][r])
                        except QuantityError:
                            continue
                        e = fn(kind, r, enforced, req, lim)
                        if e:
                            errs.append(e)
        if errs:
            return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
    return None


# ---- ResourceQuota ------------------------------------------------------------------------

def quota_hard(q):
    return _rl((q.get("spec") or {}).get("hard"))


def matches_scopes(q, pod):
    spec = q.get("spec") or {}
    scopes = list(spec.get("scopes") or [])
    for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        scopes.append(e.get("scopeName"))
    ps = pod.get("spec") or {} if pod is not None else {}
    for s in scopes:
        if pod is None:
            return False  # scoped quotas only count pods
        req, lim = pod_requests_limits(pod)
        best_effort = not req and not lim
        terminating = ps.get("activeDeadlineSeconds") is not None
        ok = {"BestEffort": best_effort, "NotBestEffort": not best_effort, "Terminating": terminating,
              "NotTerminating": not terminating, "PriorityClass": bool(ps.get("priorityClassName"))}.get(s, False)
        if not ok:
            return False
    return True


def namespace_usage(store, registry, ns, q, keys):
    """Usage of the resources keys in namespace ns for quota q, from the stored objects."""
    used = {k: Q(0) for k in keys}
    for key, o in store.all():
        rt = registry.types.get(key)
        if rt is None or not rt.namespaced or o["metadata"].get("namespace") != ns:
            continue
        if rt.kind == "Pod":
            if not matches_scopes(q, o):
                continue
        elif (q.get("spec") or {}).get("scopes") or (q.get("spec") or {}).get("scopeSelector"):
            continue
        for k, v in object_usage(rt, o).items():
            if k in used:
                used[k] = used[k] + v if used[k].v else Q(v.v, v.fmt)
    return used


def status_for(store, registry, q):
    hard = quota_hard(q)
    used = namespace_usage(store, registry, q["metadata"]["namespace"], q, list(hard))
    return {"hard": {k: str(v) for k, v in hard.items()}, "used": {k: str(used[k]) for k in hard}}


def check(store, registry, rt, obj, old):
    """ResourceQuota admission for a create (or a pod resize): an error message, or None."""
    ns = obj["metadata"].get("namespace")
    quotas = store.list(("", "resourcequotas"), ns)
    if not quotas:
        return None
    delta = object_usage(rt, obj)
    if old is not None:
        prev = object_usage(rt, old)
        delta = {k: v - prev.get(k, Q(0)) for k, v in delta.items()}
        delta = {k: v for k, v in delta.items() if v.v > 0}
    for q in quotas:
        hard = quota_hard(q)
        if rt.kind == "Pod" and not matches_scopes(q, obj):
            continue
        if rt.kind != "Pod" and ((q.get("spec") or {}).get("scopes") or (q.get("spec") or {}).get("scopeSelector")):
            continue
        relevant = [k for k in hard if k in delta or (rt.kind == "Pod" and k in POD_RESOURCES)]
        if not relevant:
            continue
        if rt.kind == "Pod" and old is None:
            missing = {}
            required = [k for k in relevant if k in COMPUTE]
            spec = obj.get("spec") or {}
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                if not isinstance(c, dict):
                    continue
                res = c.get("resources") or {}
                have = set()
                for r in ("cpu", "memory"):
                    if r in (res.get("requests") or {}):
                        have |= {r, "requests." + r}
                    if r in (res.get("limits") or {}):
                        have.add("limits." + r)
                for r in required:
                    if r not in have:
                        missing.setdefault(r, set()).add(c.get("name", ""))
            if missing:
                return "failed quota: %s: must specify %s" % (q["metadata"]["name"], "; ".join(
                    "%s for: %s" % (r, ",".join(sorted(missing[r]))) for r in sorted(missing)))
        st_used = (q.get("status") or {}).get("used") or {}
        unknown = [k for k in relevant if k not in st_used]
        if unknown:
            return "status unknown for quota: %s, resources: %s" % (q["metadata"]["name"], ",".join(sorted(unknown)))
        requested = {k: v for k, v in delta.items() if k in hard and v.v}
        if not requested:
            continue
        used = namespace_usage(store, registry, ns, q, list(requested))
        exceeded = [k for k in requested if (used[k] + requested[k]).v > hard[k].v]
        if exceeded:
            return "exceeded quota: %s, requested: %s, used: %s, limited: %s" % (
                q["metadata"]["name"], pretty({k: requested[k] for k in exceeded}),
                pretty({k: used[k] for k in exceeded}), pretty({k: hard[k] for k in exceeded}))
    return None
