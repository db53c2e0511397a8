"""Pod Security admission (the in-tree PodSecurity plugin), checks as upstream.

Owned by the kubesim suite (tests/kubesim).  Namespaces choose a level per mode
with labels pod-security.kubernetes.io/{enforce,warn,audit}[-version]
(privileged | baseline | restricted; version "latest" or "v1.N").  Checks, their
order (baseline checks, then restricted ones, each in the order of the upstream
source files), reasons and details follow k8s.io/pod-security-admission/policy
so that messages read exactly like the real ones:

  pods "p" is forbidden: violates PodSecurity "restricted:latest":
  allowPrivilegeEscalation != false (container "c" must set
  securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (...)

At the restricted level the baseline checks that a restricted check covers
(capabilities_baseline, hostPathVolumes, seccompProfile_baseline) are skipped,
as upstream's "overlapping" checks are.  The check versions are the newest
ones whatever the label's version says; the version only shows in messages.
"""

LEVELS = ("privileged", "baseline", "restricted")
PREFIX = "pod-security.kubernetes.io/"
WORKLOADS = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
             ("batch", "Job"), ("batch", "CronJob"), ("", "ReplicationController"), ("", "PodTemplate")}
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
                "net.ipv4.tcp_wmem"}
RESTRICTED_OK_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                         "projected", "secret", "image")


def join_quote(items):
    return '"' + '", "'.join(items) + '"' if items else ""


def plural(one, many, n):
    return one if n == 1 else many


def containers(spec):
    """Init containers, containers, ephemeral containers: upstream's visiting order."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                yield c


def sc(c):
    return c.get("securityContext") or {}


def named(n, names):
    return "%s %s" % (plural("container", "containers", n), join_quote(names))


# ---- baseline -----------------------------------------------------------------------------

def host_namespaces(md, spec):
    used = ["%s=true" % k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if used:
        return "host namespaces", ", ".join(used)


def privileged(md, spec):
    bad = [c.get("name", "") for c in containers(spec) if sc(c).get("privileged") is True]
    if bad:
        return "privileged", "%s must not set securityContext.privileged=true" % named(len(bad), bad)


def capabilities_baseline(md, spec):
    bad, caps = [], set()
    for c in containers(spec):
        added = [x for x in (sc(c).get("capabilities") or {}).get("add") or [] if x not in BASELINE_CAPS]
        if added:
            bad.append(c.get("name", ""))
            caps.update(added)
    if bad:
        return "non-default capabilities", "%s must not include %s in securityContext.capabilities.add" % (
            named(len(bad), bad), join_quote(sorted(caps)))


def host_path_volumes(md, spec):
    vols = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if vols:
        return "hostPath volumes", "%s %s" % (plural("volume", "volumes", len(vols)), join_quote(vols))


def host_ports(md, spec):
    bad, ports = [], set()
    for c in containers(spec):
        hp = [p.get("hostPort") for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        if hp:
            bad.append(c.get("name", ""))
            ports.update(str(x) for x in hp)
    if bad:
        return "hostPort", "%s %s %s %s" % (named(len(bad), bad), plural("uses", "use", len(bad)),
                                          plural("hostPort", "hostPorts", len(ports)), ", ".join(sorted(ports)))


def proc_mount(md, spec):
    bad, kinds = [], set()
    for c in containers(spec):
        pm = sc(c).get("procMount")
        if pm not in (None, "Default"):
            bad.append(c.get("name", ""))
            kinds.add(pm)
    if bad:
        return "procMount", "%s must not set securityContext.procMount to %s" % (
            named(len(bad), bad), join_quote(sorted(kinds)))


def seccomp_baseline(md, spec):
    return _seccomp(spec, implicit=False)


def sysctls(md, spec):
    bad = [s.get("name", "") for s in (spec.get("securityContext") or {}).get("sysctls") or []
           if s.get("name") not in SAFE_SYSCTLS]
    if bad:
        return "forbidden sysctls", ", ".join(bad)


# ---- restricted ---------------------------------------------------------------------------

def allow_privilege_escalation(md, spec):
    bad = [c.get("name", "") for c in containers(spec) if sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", \
            "%s must set securityContext.allowPrivilegeEscalation=false" % named(len(bad), bad)


def capabilities_restricted(md, spec):
    missing, adding, caps = [], [], set()
    for c in containers(spec):
        cap = sc(c).get("capabilities")
        if cap is None:
            missing.append(c.get("name", ""))
            continue
        if "ALL" not in (cap.get("drop") or []):
            missing.append(c.get("name", ""))
        added = [x for x in cap.get("add") or [] if x != "NET_BIND_SERVICE"]
        if added:
            adding.append(c.get("name", ""))
            caps.update(added)
    parts = []
    if missing:
        parts.append('%s must set securityContext.capabilities.drop=["ALL"]' % named(len(missing), missing))
    if adding:
        parts.append("%s must not include %s in securityContext.capabilities.add" % (
            named(len(adding), adding), join_quote(sorted(caps))))
    if parts:
        return "unrestricted capabilities", "; ".join(parts)


def restricted_volumes(md, spec):
    bad, kinds = [], set()
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        keys = [k for k in v if k != "name"]
        if any(k in RESTRICTED_OK_VOLUMES for k in keys):
            continue
        bad.append(v.get("name", ""))
        kinds.update(keys or ["unknown"])
    if bad:
        return "restricted volume types", "%s %s %s %s %s" % (
            plural("volume", "volumes", len(bad)), join_quote(bad), plural("uses", "use", len(bad)),
            plural("restricted volume type", "restricted volume types", len(kinds)), join_quote(sorted(kinds)))


def _explicit(spec, field, bad_value):
    """Pod-level then container-level setters of field to a bad value (runAsNonRoot / runAsUser)."""
    setters = []
    psc = spec.get("securityContext") or {}
    if bad_value(psc.get(field)):
        setters.append("pod")
    cs = [c.get("name", "") for c in containers(spec) if bad_value(sc(c).get(field))]
    if cs:
        setters.append(named(len(cs), cs))
    return setters


def run_as_non_root(md, spec):
    setters = _explicit(spec, "runAsNonRoot", lambda v: v is False)
    if setters:
        return "runAsNonRoot != true", "%s must not set securityContext.runAsNonRoot=false" % " and ".join(setters)
    pod_ok = (spec.get("securityContext") or {}).get("runAsNonRoot") is True
    implicit = [c.get("name", "") for c in containers(spec) if sc(c).get("runAsNonRoot") is None and not pod_ok]
    if implicit:
        return "runAsNonRoot != true", "pod or %s must set securityContext.runAsNonRoot=true" % named(
            len(implicit), implicit)


def run_as_user(md, spec):
    setters = _explicit(spec, "runAsUser", lambda v: v == 0 and v is not False)
    if setters:
        return "runAsUser=0", "%s must not set runAsUser=0" % " and ".join(setters)


def _seccomp(spec, implicit):
    def ok(t):
        return t in ("RuntimeDefault", "Localhost")
    setters, values = [], set()
    pod_prof = (spec.get("securityContext") or {}).get("seccompProfile")
    pod_set = False
    if pod_prof is not None:
        if ok(pod_prof.get("type")):
            pod_set = True
        else:
            setters.append("pod")
            values.add(str(pod_prof.get("type")))
    bad, unset = [], []
    for c in containers(spec):
        prof = sc(c).get("seccompProfile")
        if prof is not None:
            if not ok(prof.get("type")):
                bad.append(c.get("name", ""))
                values.add(str(prof.get("type")))
        elif not pod_set:
            unset.append(c.get("name", ""))
    if bad:
        setters.append(named(len(bad), bad))
    if setters:
        return "seccompProfile", "%s must not set securityContext.seccompProfile.type to %s" % (
            " and ".join(setters), join_quote(sorted(values)))
    if implicit and unset:
        return "seccompProfile", 'pod or %s must set securityContext.seccompProfile.type to "RuntimeDefault" or ' \
                                 '"Localhost"' % named(len(unset), unset)


def seccomp_restricted(md, spec):
    return _seccomp(spec, implicit=True)


# (check, overlapped by a restricted check)
BASELINE = [(capabilities_baseline, True), (host_namespaces, False), (host_path_volumes, True),
            (host_ports, False), (privileged, False), (proc_mount, False), (seccomp_baseline, True),
            (sysctls, False)]
RESTRICTED = [allow_privilege_escalation, capabilities_restricted, restricted_volumes, run_as_non_root,
              run_as_user, seccomp_restricted]


def evaluate(level, md, spec):
    """[(reason, detail)] of the checks the pod fails at level."""
    if level not in ("baseline", "restricted"):
        return []
    spec = spec if isinstance(spec, dict) else {}
    md = md if isinstance(md, dict) else {}
    checks = [fn for fn, overlap in BASELINE if not (overlap and level == "restricted")]
    if level == "restricted":
        checks += RESTRICTED
    out = []
    for fn in checks:
        r = fn(md, spec)
        if r:
            out.append(r)
    return out


def significant_update(new, old):
    """Whether a pod UPDATE (the pod itself or its ephemeralcontainers subresource)
    is evaluated at all, as upstream's isSignificantPodUpdate decides: the seccomp
    annotation, the number or images of containers and init containers, or an
    ephemeral container added or changed; anything else (labels, status-like
    metadata) passes unchecked."""
    def spec(p):
        s = (p or {}).get("spec")
        return s if isinstance(s, dict) else {}

    def ann(p):
        return (((p or {}).get("metadata") or {}).get("annotations") or {}).get(
            "seccomp.security.alpha.kubernetes.io/pod")
    n, o = spec(new), spec(old)
    if ann(new) != ann(old):
        return True
    for key in ("containers", "initContainers"):
        nl, ol = n.get(key) or [], o.get(key) or []
        if len(nl) != len(ol):
            return True
        if any((a or {}).get("image") != (b or {}).get("image") for a, b in zip(nl, ol)):
            return True
    before = {(c or {}).get("name"): c for c in o.get("ephemeralContainers") or []}
    for c in n.get("ephemeralContainers") or []:
        if (c or {}).get("name") not in before or before[c.get("name")] != c:
            return True
    return False


def summary(failures):
    return ", ".join("%s (%s)" % f for f in failures)


def policy(ns_labels, mode):
    """(level, "level:version") the namespace asks for in mode (enforce | warn | audit)."""
    labels = ns_labels or {}
    level = labels.get(PREFIX + mode)
    if level not in LEVELS:
        # an invalid value is taken as the most restrictive level, as upstream does
        level = "restricted" if level is not None else "privileged"
    version = labels.get(PREFIX + mode + "-version") or "latest"
    return level, "%s:%s" % (level, version)
