"""Fake controllers: what kube-controller-manager, the scheduler, kubelets and
the cloud controller would do, with delays scaled by --timescale.

One thread ticks every 20 ms under the store lock; calls to the local AWS
(node groups, load balancers) and the making of pods' network namespaces
(network.py setup_pod) happen outside the lock.  Nominal delays
(seconds, multiplied by --timescale): CRD Established 0.5, namespace
finalization 1, pod scheduling 0.2, container start 1, load balancer
hostname 2, load balancer cleanup 1, node-group poll 1, failed pod create
retry 1.  Containers of official Python images are run for real by the
process runner (runner.py) from the kubelet step; PodDisruptionBudget status
is computed from the ready pods.
"""
import base64
import email
import email.policy
import hashlib
import json
import math
import ssl
import threading
import time
import tomllib
import urllib.error
import urllib.request

import yaml

from . import quota
from .cluster import ADMIN
from . import components
from .network import is_coredns
from .runner import Runner, node_ip
from .util import ApiError, canon, deep, labels_match, log, now_rfc3339, selector_from_obj

DELAYS = {"crd": 0.5, "ns": 1.0, "schedule": 0.2, "start": 1.0, "lb": 2.0, "lb_cleanup": 1.0,
          "node_poll": 1.0, "retry": 1.0}
LB_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
# Real seconds below which a deadline covering real processes is never scaled
# (see Controllers.progress_deadline).
REAL_FLOOR = 120.0
# Controller passes a Deployment is given without progress before ProgressDeadlineExceeded,
# whatever the scaled deadline says: the simulated controllers themselves need real time (a
# pod goes through scheduling, start, readiness and a status write, one pass each), and a busy
# machine stretches every pass.  50 passes are 1 s on an idle machine.
MIN_TICKS = 50
CTRL_USER = {"username": "system:serviceaccount:kube-system:replicaset-controller",
             "groups": ["system:serviceaccounts", "system:authenticated"]}


def lb_wants(svc):
    """What the in-tree AWS cloud provider makes of a LoadBalancer Service: (scheme, ports, source
    ranges).  Internal when aws-load-balancer-internal is set to anything but "false"; the ranges are
    spec.loadBalancerSourceRanges, else the load-balancer-source-ranges annotation (comma-separated),
    else anywhere."""
    ann = (svc.get("metadata") or {}).get("annotations") or {}
    spec = svc.get("spec") or {}
    internal = ann.get("service.beta.kubernetes.io/aws-load-balancer-internal", "")
    ranges = spec.get("loadBalancerSourceRanges") or [
        r.strip() for r in ann.get("service.beta.kubernetes.io/load-balancer-source-ranges", "").split(",") if r.strip()]
    return ("internal" if internal not in ("", "false") else "internet-facing",
            tuple(p.get("port") for p in spec.get("ports") or [] if p.get("port")), tuple(ranges or ["0.0.0.0/0"]))


def effect_name(e):
    return {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute",
            "PREFER_NO_SCHEDULE": "PreferNoSchedule"}.get(e, e)


def tolerates(tols, taint):
    for t in tols or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        op = t.get("operator", "Equal")
        if op == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def node_matches(pod_spec, node):
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    aff = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = aff.get("nodeSelectorTerms")
    if terms and not any(labels_match(selector_from_obj({"matchExpressions": t.get("matchExpressions")}), labels)
                         for t in terms):
        return False
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod_spec.get("tolerations"), taint):
            return False
    return True


def node_ready(node):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def pod_ready(pod):
    return (pod.get("status") or {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or [])


# ---- NodeConfig (nodeadm user data) ---------------------------------------

def runtime_handlers(tomls, containerd=None):
    """The runtime handlers a node's containerd offers with the configuration
    fragments `tomls` merged in.  containerd 1.x reads the CRI plugin of a
    `version = 2` file (io.containerd.grpc.v1.cri) and loads a `version = 3`
    file without an error but without its runtimes; 2.x reads
    io.containerd.cri.v1.runtime and migrates a `version = 2` file.  With the
    version unknown (None), both tables count."""
    major = None
    if containerd:
        try:
            major = int(str(containerd).split(".")[0])
        except ValueError:
            major = None
    handlers = ["runc"]
    for t in tomls:
        try:
            doc = tomllib.loads(t)
        except tomllib.TOMLDecodeError:
            continue
        version = doc.get("version", 1)
        plugins = doc.get("plugins") or {}
        if major is None:
            keys = ("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime")
        elif major >= 2:
            keys = ("io.containerd.cri.v1.runtime",) if version >= 3 else ("io.containerd.grpc.v1.cri",)
        else:
            keys = ("io.containerd.grpc.v1.cri",) if version == 2 else ()
        for key in keys:
            rts = (((plugins.get(key) or {}).get("containerd") or {}).get("runtimes") or {})
            for name, conf in rts.items():
                if isinstance(conf, dict) and conf.get("runtime_type") and name not in handlers:
                    handlers.append(name)
    return handlers


def parse_user_data(b64):
    """(labels, taints, containerd configuration fragments) from
    launch-template user data."""
    labels, taints, tomls = {}, [], []
    if not b64:
        return labels, taints, tomls
    try:
        raw = base64.b64decode(b64)
    except ValueError:
        return labels, taints, tomls
    docs = []
    if raw.lstrip().startswith(b"MIME-Version") or b"Content-Type: multipart" in raw[:400]:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() == "application/node.eks.aws":
                docs.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    else:
        docs.append(raw.decode("utf-8", "replace"))
    flags = []
    for d in docs:
        try:
            for nc in yaml.safe_load_all(d):
                if not isinstance(nc, dict) or nc.get("kind") != "NodeConfig":
                    continue
                spec = nc.get("spec") or {}
                flags += ((spec.get("kubelet") or {}).get("flags") or [])
                cfg = (spec.get("containerd") or {}).get("config")
                if cfg:
                    tomls.append(cfg)
        except yaml.YAMLError:
            continue
    for f in flags:
        if not isinstance(f, str):
            continue
        if f.startswith("--node-labels="):
            for kv in f.split("=", 1)[1].split(","):
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    labels[k.strip()] = v.strip()
        elif f.startswith("--register-with-taints="):
            for t in f.split("=", 1)[1].split(","):
                if ":" not in t:
                    continue
                kv, eff = t.rsplit(":", 1)
                k, _, v = kv.partition("=")
                taint = {"key": k, "effect": eff}
                if v:
                    taint["value"] = v
                taints.append(taint)
    return labels, taints, tomls


class Controllers:
    def __init__(self, cluster, clock, gateway=None):
        self.c = cluster
        self.clock = clock
        self.gateway = gateway
        self.due = {}          # (uid, what) -> monotonic deadline
        self.pod_info = {}     # pod uid -> {"handler", "node"}
        self.lbs = {}          # service uid -> {"name", "dnsName", "arn"}
        self.lb_busy = set()
        self.jobs = []
        self.fail = {}         # deployment uid -> (message, next retry)
        self.progress = {}     # deployment uid -> (template hash, start, available, tick at start)
        self.ticks = 0         # controller passes so far
        self.events_sent = set()
        self.stop = threading.Event()
        self.hooks = []        # called every tick outside the lock
        self.node_groups = None
        self.aws_ctx = ssl.create_default_context(cafile=cluster.cfg.aws_ca) if cluster.cfg.aws_ca else None
        self.runner = Runner(cluster, clock, self.event)

    def start(self):
        threading.Thread(target=self.loop, name="controllers", daemon=True).start()
        if self.c.cfg.aws_url:
            threading.Thread(target=self.node_loop, name="nodes", daemon=True).start()

    def after(self, uid, what, nominal):
        """True once the nominal delay since the first call has passed."""
        k = (uid, what)
        now = time.monotonic()
        if k not in self.due:
            self.due[k] = now + self.clock.delay(DELAYS[what])
        return now >= self.due[k]

    def loop(self):
        while not self.stop.is_set():
            try:
                with self.c.lock:
                    self.ticks += 1
                    self.tick()
                jobs, self.jobs = self.jobs, []
                for j in jobs:
                    j()
                for h in self.hooks:
                    h()
                self.c.admission.take_warnings()  # warnings of controller writes have no client to go to
            except Exception as e:  # a controller bug must not kill the simulator
                import traceback
                log("controller error: %s\n%s" % (e, traceback.format_exc()))
            self.stop.wait(0.02)

    def tick(self):
        self.crds()
        self.namespaces()
        self.gc()
        self.deployments()
        self.pods()
        self.pdbs()
        self.services()
        self.quotas()
        if self.c.network is not None:
            self.c.network.refresh()

    # ---- AWS admin API --------------------------------------------------

    def aws(self, method, path, body=None):
        url = self.c.cfg.aws_url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.aws_ctx if url.startswith("https") else None) as r:
                txt = r.read()
                return r.status, (json.loads(txt) if txt.strip() else None)
        except urllib.error.HTTPError as e:
            return e.code, None
        except (urllib.error.URLError, OSError, ValueError) as e:
            return 0, str(e)

    # ---- events -----------------------------------------------------------

    def event(self, obj, rt_kind, reason, message, etype="Warning", once_key=None):
        key = once_key or (obj["metadata"].get("uid"), reason, message)
        if key in self.events_sent:
            return
        self.events_sent.add(key)
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        if self.c.store.get(("", "namespaces"), "", ns) is None:
            return
        t = now_rfc3339()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "%s.%x" % (md["name"], time.time_ns() & 0xffffffffffff), "namespace": ns},
              "involvedObject": {"kind": rt_kind, "namespace": md.get("namespace"), "name": md["name"],
                                 "uid": md.get("uid"), "apiVersion": obj.get("apiVersion", "v1")},
              "reason": reason, "message": message, "type": etype, "count": 1,
              "firstTimestamp": t, "lastTimestamp": t, "source": {"component": "kubesim"}}
        try:
            self.c.create(self.c.rt("", "events"), "v1", ns, ev, "kubesim", False, ADMIN)
        except ApiError:
            pass

    # ---- CRDs --------------------------------------------------------------

    def crds(self):
        crd_rt = self.c.rt("apiextensions.k8s.io", "customresourcedefinitions")
        live = {}
        for crd in self.c.store.list(crd_rt.key):
            spec = crd.get("spec") or {}
            key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
            live[key] = crd
            conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
            if conds.get("Established", {}).get("status") == "True":
                rt = self.c.registry.types.get(key)
                if rt is None or rt.crd != crd["metadata"]["name"] or \
                        canon(rt.versions) != canon(self.served(crd)):
                    self.c.register_crd(crd)
                continue
            if not self.after(crd["metadata"]["uid"], "crd", DELAYS["crd"]):
                continue
            t = now_rfc3339()
            st = deep(crd.get("status") or {})
            st["conditions"] = [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": t},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": t}]
            st["acceptedNames"] = deep(spec.get("names") or {})
            st["storedVersions"] = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
            self.c.set_status(crd_rt, crd, st)
            self.c.register_crd(crd)
        for key, rt in list(self.c.registry.types.items()):
            if not rt.builtin and key not in live:
                self.c.unregister_crd({"spec": {"group": key[0], "names": {"plural": key[1]}}})

    @staticmethod
    def served(crd):
        from .registry import crd_type
        return crd_type(crd).versions

    # ---- namespaces ---------------------------------------------------------

    def namespaces(self):
        ns_rt = self.c.rt("", "namespaces")
        for ns in self.c.store.list(ns_rt.key):
            md = ns["metadata"]
            if not md.get("deletionTimestamp"):
                continue
            name = md["name"]
            remaining = []
            for key, o in list(self.c.store.all()):
                rt = self.c.registry.types.get(key)
                if rt is None or not rt.namespaced or o["metadata"].get("namespace") != name:
                    continue
                remaining.append(o)
                if not o["metadata"].get("deletionTimestamp"):
                    try:
                        self.c.delete(rt, name, o["metadata"]["name"], {"propagationPolicy": "Background"}, False)
                    except ApiError:
                        pass
            if remaining:
                t = now_rfc3339()
                conds = [{"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
                          "message": "Some resources are remaining: %d objects" % len(remaining),
                          "lastTransitionTime": t}]
                old = (ns.get("status") or {}).get("conditions") or []
                if [c.get("message") for c in old] != [c["message"] for c in conds]:
                    self.c.set_status(ns_rt, ns, {"phase": "Terminating", "conditions": conds})
                continue
            if self.after(md["uid"], "ns", DELAYS["ns"]):
                self.c.remove_now(ns_rt, ns)

    # ---- garbage collector ----------------------------------------------------

    def gc(self):
        uids = {}
        for key, o in self.c.store.all():
            uids[o["metadata"].get("uid")] = (key, o)
        for key, o in list(self.c.store.all()):
            md = o["metadata"]
            refs = md.get("ownerReferences") or []
            rt = self.c.registry.types.get(key)
            if rt is None:
                continue
            if refs and not md.get("deletionTimestamp"):
                owners = [uids.get(r.get("uid")) for r in refs]
                alive = [ow for ow in owners if ow is not None]
                foreground = any("foregroundDeletion" in (ow[1]["metadata"].get("finalizers") or [])
                                 and ow[1]["metadata"].get("deletionTimestamp") for ow in alive)
                if not alive or foreground:
                    try:
                        self.c.delete(rt, md.get("namespace"), md["name"], {"propagationPolicy": "Background"}, False)
                    except ApiError:
                        pass
            fins = md.get("finalizers") or []
            if md.get("deletionTimestamp") and "foregroundDeletion" in fins and not self.c.has_dependents(md["uid"]):
                new = deep(o)
                new["metadata"]["finalizers"] = [f for f in fins if f != "foregroundDeletion"]
                if not new["metadata"]["finalizers"]:
                    del new["metadata"]["finalizers"]
                self.c.update_internal(rt, new)

    # ---- deployments ------------------------------------------------------------

    def deployments(self):
        drt = self.c.rt("apps", "deployments")
        prt = self.c.rt("", "pods")
        for d in self.c.store.list(drt.key):
            md, spec = d["metadata"], d.get("spec") or {}
            uid, ns = md["uid"], md["namespace"]
            tmpl = spec.get("template") or {}
            h = hashlib.sha256(canon(tmpl).encode()).hexdigest()
            h = "".join(ch for ch in h if ch in "bcdf0123456789")[:10]
            rsname = "%s-%s" % (md["name"], h)
            pods = [p for p in self.c.store.list(prt.key, ns)
                    if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
                    and not p["metadata"].get("deletionTimestamp")]
            new = [p for p in pods if (p["metadata"].get("labels") or {}).get("pod-template-hash") == h]
            old = [p for p in pods if p not in new]
            desired = spec.get("replicas", 1)
            now = time.monotonic()
            if self.progress.get(uid, (None,))[0] != h:
                self.progress[uid] = (h, now, -1, self.ticks)
            deleting = bool(md.get("deletionTimestamp"))
            if not deleting and not spec.get("paused"):
                if len(new) < desired:
                    fmsg, retry = self.fail.get(uid, (None, 0))
                    if now >= retry:
                        for _ in range(desired - len(new)):
                            pod = self.make_pod(d, tmpl, h, rsname)
                            try:
                                created = self.c.create(prt, "v1", ns, pod, "kube-controller-manager", False, CTRL_USER)
                                new.append(created)
                                self.made_progress(uid)
                                self.fail.pop(uid, None)
                                self.event(d, "Deployment", "SuccessfulCreate",
                                           "Created pod: %s" % created["metadata"]["name"], "Normal")
                            except ApiError as e:
                                msg = e.message
                                self.fail[uid] = (msg, now + self.clock.delay(DELAYS["retry"]))
                                self.event(d, "ReplicaSet", "FailedCreate", "Error creating: %s" % msg,
                                           once_key=(uid, "FailedCreate", msg))
                                break
                for p in sorted(new, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)[:max(0, len(new) - desired)]:
                    self.try_delete(prt, ns, p["metadata"]["name"])
                    new.remove(p)
                avail_new = sum(1 for p in new if pod_ready(p))
                if old and avail_new >= desired:
                    for p in old:
                        self.try_delete(prt, ns, p["metadata"]["name"])
                    old = []
            self.deployment_status(drt, d, new, old, desired, rsname)

    def made_progress(self, uid, available=None):
        h, _, avail, _ = self.progress[uid]
        self.progress[uid] = (h, time.monotonic(), avail if available is None else available, self.ticks)

    def progress_deadline(self, d):
        """Real seconds a Deployment may go without progress.  Scaled like every
        simulated delay, except that a template with containers the runner starts
        as real processes is never given less than min(nominal, REAL_FLOOR): those
        processes start at the machine's speed, not the simulation's, and a busy
        machine must not turn a healthy rollout into ProgressDeadlineExceeded."""
        nominal = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
        scaled = self.clock.delay(nominal)
        tmpl = ((d.get("spec") or {}).get("template") or {})
        if Runner.wants(tmpl):
            return max(scaled, min(nominal, REAL_FLOOR))
        return scaled

    def try_delete(self, rt, ns, name):
        try:
            self.c.delete(rt, ns, name, {}, False)
        except ApiError as e:  # e.g. refused by a validating webhook: try again next tick
            log("delete %s/%s: %s" % (ns, name, e.message))

    def make_pod(self, d, tmpl, h, rsname):
        tmd = deep(tmpl.get("metadata") or {})
        labels = dict(tmd.get("labels") or {})
        labels["pod-template-hash"] = h
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": rsname + "-", "namespace": d["metadata"]["namespace"],
                            "labels": labels,
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": d["metadata"]["name"], "uid": d["metadata"]["uid"],
                                                 "controller": True, "blockOwnerDeletion": True}]},
               "spec": deep(tmpl.get("spec") or {})}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = tmd["annotations"]
        return pod

    def deployment_status(self, drt, d, new, old, desired, rsname):
        uid = d["metadata"]["uid"]
        allp = new + old
        ready = sum(1 for p in allp if pod_ready(p))
        st = deep(d.get("status") or {})
        prev = {c["type"]: c for c in st.get("conditions") or []}
        t = now_rfc3339()

        def cond(typ, status, reason, message):
            c = {"type": typ, "status": status, "reason": reason, "message": message,
                 "lastUpdateTime": t, "lastTransitionTime": t}
            p = prev.get(typ)
            if p and p.get("status") == status:
                c["lastTransitionTime"] = p.get("lastTransitionTime", t)
                if p.get("reason") == reason and p.get("message") == message:
                    c["lastUpdateTime"] = p.get("lastUpdateTime", t)
            return c
        avail_new = sum(1 for p in new if pod_ready(p))
        complete = len(new) >= desired and avail_new >= desired and not old
        conds = []
        if ready >= desired:
            conds.append(cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."))
        else:
            conds.append(cond("Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability."))
        if avail_new > self.progress[uid][2]:
            # a newly available pod is progress: the deadline starts over (as the real
            # controller refreshes the Progressing condition)
            self.made_progress(uid, avail_new)
        started, since_tick = self.progress[uid][1], self.progress[uid][3]
        if complete:
            conds.append(cond("Progressing", "True", "NewReplicaSetAvailable",
                              'ReplicaSet "%s" has successfully progressed.' % rsname))
        elif prev.get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded" or \
                (time.monotonic() - started > self.progress_deadline(d) and self.ticks - since_tick >= MIN_TICKS):
            conds.append(cond("Progressing", "False", "ProgressDeadlineExceeded",
                              'ReplicaSet "%s" has timed out progressing.' % rsname))
        else:
            conds.append(cond("Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % rsname))
        fmsg = self.fail.get(uid, (None,))[0]
        if fmsg:
            conds.append(cond("ReplicaFailure", "True", "FailedCreate", fmsg))
        out = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": len(allp),
               "updatedReplicas": len(new), "readyReplicas": ready, "availableReplicas": ready,
               "conditions": conds}
        if desired - ready > 0:
            out["unavailableReplicas"] = desired - ready
        for k in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
            if out[k] == 0:
                del out[k]
        self.c.set_status(drt, d, out)

    # ---- scheduler + kubelet -------------------------------------------------------

    def pods(self):
        prt = self.c.rt("", "pods")
        nodes = {n["metadata"]["name"]: n for n in self.c.store.list(("", "nodes"))}
        load = {}
        live = {p["metadata"]["uid"] for p in self.c.store.list(prt.key) if not p["metadata"].get("deletionTimestamp")}
        self.runner.sync(live)
        net = self.c.network
        if net is not None:
            net.sync(live)
        for p in self.c.store.list(prt.key):
            nn = (p.get("spec") or {}).get("nodeName")
            if nn:
                load[nn] = load.get(nn, 0) + 1
        for p in self.c.store.list(prt.key):
            md, spec = p["metadata"], p.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            uid = md["uid"]
            nn = spec.get("nodeName")
            if not nn:
                if not self.after(uid, "schedule", DELAYS["schedule"]):
                    continue
                fit = [n for n in nodes.values() if node_ready(n) and node_matches(spec, n)]
                if not fit:
                    msg = "0/%d nodes are available: %d node(s) didn't match Pod's node affinity/selector or " \
                          "had untolerated taints." % (len(nodes), len(nodes))
                    self.pod_status(p, phase="Pending", conds=[("PodScheduled", "False", "Unschedulable", msg)])
                    self.event(p, "Pod", "FailedScheduling", msg, once_key=(uid, "FailedScheduling", len(nodes)))
                    continue
                node = min(fit, key=lambda n: (load.get(n["metadata"]["name"], 0), n["metadata"]["name"]))
                nn = node["metadata"]["name"]
                load[nn] = load.get(nn, 0) + 1
                new = deep(p)
                new["spec"]["nodeName"] = nn
                p = self.c.update_internal(prt, new)
                self.pod_status(p, phase="Pending", conds=[("PodScheduled", "True", "", "")])
                self.event(p, "Pod", "Scheduled", "Successfully assigned %s/%s to %s" % (md["namespace"], md["name"], nn),
                           "Normal")
                continue
            node = nodes.get(nn)
            if node is None:
                # The node went away with its node group: the pod goes too.
                self.try_delete(prt, md["namespace"], md["name"])
                continue
            real = self.runner.wants(p)
            if not real and (p.get("status") or {}).get("phase") == "Running":
                continue
            handler = "runc"
            rcn = spec.get("runtimeClassName")
            if rcn:
                rc = self.c.store.get(("node.k8s.io", "runtimeclasses"), "", rcn)
                handler = (rc or {}).get("handler") or "<missing RuntimeClass %s>" % rcn
            names = [h.get("name") for h in (node.get("status") or {}).get("runtimeHandlers") or []]
            self.pod_info[uid] = {"handler": handler, "node": nn}
            if handler not in names:
                msg = ('Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox '
                       'runtime: no runtime for "%s" is configured' % handler)
                self.pod_status(p, phase="Pending", waiting="ContainerCreating",
                                conds=[("PodScheduled", "True", "", ""),
                                       ("PodReadyToStartContainers", "False", "FailedCreatePodSandBox", msg),
                                       ("Initialized", "True", "", ""),
                                       ("Ready", "False", "ContainersNotReady", "containers with unready status"),
                                       ("ContainersReady", "False", "ContainersNotReady", "containers with unready status")])
                self.event(p, "Pod", "FailedCreatePodSandBox", msg)
                continue
            if not self.after(uid, "start", DELAYS["start"]):
                self.pod_status(p, phase="Pending", waiting="ContainerCreating",
                                conds=[("PodScheduled", "True", "", ""), ("Initialized", "True", "", ""),
                                       ("Ready", "False", "ContainersNotReady", "containers with unready status"),
                                       ("ContainersReady", "False", "ContainersNotReady", "containers with unready status")])
                continue
            if real:
                self.runner.kubelet(p, node)
                continue
            if net is not None and net.enabled and (is_coredns(p) or components.served(p)):
                try:
                    if is_coredns(p):
                        pn = net.serve_dns(p, nn, node_ip(node))
                    else:
                        pn = net.serve_pod(p, nn, node_ip(node),
                                           lambda pn, p=p: components.listeners(p, pn, self.gateway))
                    if pn is None:
                        continue  # its namespace is still being made (still ContainerCreating)
                    if (p.get("status") or {}).get("podIP") != pn.ip:
                        st = deep(p.get("status") or {})
                        st["podIP"], st["podIPs"] = pn.ip, [{"ip": pn.ip}]
                        p = self.c.set_status(prt, p, st) or p
                except (OSError, RuntimeError) as e:
                    self.event(p, "Pod", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s" % e,
                               once_key=(uid, "sandbox"))
                    continue
            self.pod_status(p, phase="Running", running=True, node=node,
                            conds=[("PodReadyToStartContainers", "True", "", ""), ("Initialized", "True", "", ""),
                                   ("Ready", "True", "", ""), ("ContainersReady", "True", "", ""),
                                   ("PodScheduled", "True", "", "")])
            self.event(p, "Pod", "Started", "Started container(s) with handler %s" % handler, "Normal")

    def pod_status(self, p, phase, conds, waiting=None, running=False, node=None):
        st = deep(p.get("status") or {})
        prev = {c["type"]: c for c in st.get("conditions") or []}
        t = now_rfc3339()
        out = []
        for typ, status, reason, msg in conds:
            c = {"type": typ, "status": status, "lastProbeTime": None, "lastTransitionTime": t}
            if reason:
                c["reason"] = reason
            if msg:
                c["message"] = msg
            pc = prev.get(typ)
            if pc and pc.get("status") == status:
                c["lastTransitionTime"] = pc.get("lastTransitionTime", t)
            out.append(c)
        st["phase"] = phase
        st["conditions"] = out
        st.setdefault("qosClass", "BestEffort")
        if node is not None:
            addrs = {a["type"]: a["address"] for a in (node.get("status") or {}).get("addresses") or []}
            st["hostIP"] = addrs.get("InternalIP", "")
            st["hostIPs"] = [{"ip": st["hostIP"]}]
            if not st.get("podIP"):
                net = self.c.network
                if (p.get("spec") or {}).get("hostNetwork"):
                    st["podIP"] = st["hostIP"]
                elif net is not None and net.enabled:
                    st["podIP"] = net.alloc(p["metadata"]["uid"], node["metadata"]["name"], st["hostIP"])
                else:
                    h = int(hashlib.sha256(p["metadata"]["uid"].encode()).hexdigest()[:4], 16)
                    st["podIP"] = "10.0.%d.%d" % (128 + h % 100, h % 250 + 2)
                st["podIPs"] = [{"ip": st["podIP"]}]
            st.setdefault("startTime", t)
        css = []
        for c in (p.get("spec") or {}).get("containers") or []:
            cs = {"name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": running,
                  "restartCount": 0, "started": running}
            if running:
                prevcs = [x for x in (p.get("status") or {}).get("containerStatuses") or [] if x.get("name") == c.get("name")]
                started = ((prevcs[0].get("state") or {}).get("running") or {}).get("startedAt") if prevcs else None
                cs["state"] = {"running": {"startedAt": started or t}}
                cs["containerID"] = "containerd://" + hashlib.sha256((p["metadata"]["uid"] + c.get("name", "")).encode()).hexdigest()
            else:
                cs["state"] = {"waiting": {"reason": waiting or "ContainerCreating"}}
            css.append(cs)
        if waiting or running:
            st["containerStatuses"] = css
        self.c.set_status(self.c.rt("", "pods"), p, st)

    # ---- pod disruption budgets ---------------------------------------------------------

    def pdbs(self):
        brt = self.c.rt("policy", "poddisruptionbudgets")
        for b in self.c.store.list(brt.key):
            spec = b.get("spec") or {}
            ns = b["metadata"]["namespace"]
            sel = spec.get("selector")
            pods = []
            if sel is not None:  # policy/v1: a null selector selects nothing, {} everything
                req = selector_from_obj(sel)
                pods = [p for p in self.c.store.list(("", "pods"), ns)
                        if not p["metadata"].get("deletionTimestamp") and labels_match(req, p["metadata"].get("labels"))]
            expected = len(pods)
            healthy = sum(1 for p in pods if pod_ready(p))

            def count(v):
                if isinstance(v, str) and v.endswith("%"):
                    return int(math.ceil(expected * int(v[:-1] or 0) / 100.0))
                return int(v or 0)
            if spec.get("maxUnavailable") is not None:
                desired = max(0, expected - count(spec["maxUnavailable"]))
            elif spec.get("minAvailable") is not None:
                desired = count(spec["minAvailable"])
            else:
                desired = expected
            allowed = max(0, healthy - desired)
            prev = {c["type"]: c for c in (b.get("status") or {}).get("conditions") or []}
            status = "True" if allowed > 0 else "False"
            cond = {"type": "DisruptionAllowed", "status": status,
                    "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": "",
                    "observedGeneration": b["metadata"].get("generation", 1),
                    "lastTransitionTime": now_rfc3339()}
            pc = prev.get("DisruptionAllowed")
            if pc and pc.get("status") == status:
                cond["lastTransitionTime"] = pc.get("lastTransitionTime", cond["lastTransitionTime"])
            self.c.set_status(brt, b, {"observedGeneration": b["metadata"].get("generation", 1),
                                       "disruptionsAllowed": allowed, "currentHealthy": healthy,
                                       "desiredHealthy": desired, "expectedPods": expected, "conditions": [cond]})

    # ---- resource quotas ---------------------------------------------------------------------

    def quotas(self):
        """The quota controller: status.hard and status.used follow spec and usage."""
        qrt = self.c.rt("", "resourcequotas")
        for q in self.c.store.list(qrt.key):
            st = quota.status_for(self.c.store, self.c.registry, q)
            if canon(st) != canon(q.get("status") or {}):
                self.c.set_status(qrt, q, st)

    # ---- services / load balancers --------------------------------------------------------

    def services(self):
        srt = self.c.rt("", "services")
        for s in self.c.store.list(srt.key):
            md, spec = s["metadata"], s.get("spec") or {}
            uid = md["uid"]
            fins = md.get("finalizers") or []
            want_lb = spec.get("type") == "LoadBalancer" and not md.get("deletionTimestamp")
            if want_lb:
                if LB_FINALIZER not in fins:
                    new = deep(s)
                    new["metadata"]["finalizers"] = fins + [LB_FINALIZER]
                    s = self.c.update_internal(srt, new)
                lb = self.lbs.get(uid)
                if lb is None or (lb.get("want") != lb_wants(s) and self.c.cfg.aws_url):
                    # made, or its rules brought in line with the Service
                    if uid not in self.lb_busy:
                        self.lb_busy.add(uid)
                        self.jobs.append(lambda s=deep(s): self.lb_create(s))
                    if lb is None:
                        continue
                if self.after(uid, "lb", DELAYS["lb"]):
                    ing = [{"hostname": lb["dnsName"]}]
                    if ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") != ing:
                        self.c.set_status(srt, s, {"loadBalancer": {"ingress": ing}})
                        self.event(s, "Service", "EnsuredLoadBalancer", "Ensured load balancer", "Normal")
                continue
            if LB_FINALIZER not in fins:
                continue
            lb = self.lbs.get(uid)
            if lb is not None:
                if uid not in self.lb_busy:
                    self.lb_busy.add(uid)
                    self.jobs.append(lambda uid=uid, lb=lb, s=deep(s): self.lb_delete(uid, lb, s))
                continue
            if uid in self.lb_busy:
                continue
            if md.get("deletionTimestamp") and not self.after(uid, "lb_cleanup", DELAYS["lb_cleanup"]):
                continue
            new = deep(s)
            new["metadata"]["finalizers"] = [f for f in fins if f != LB_FINALIZER]
            if not new["metadata"]["finalizers"]:
                del new["metadata"]["finalizers"]
            if not md.get("deletionTimestamp"):
                new["status"] = {"loadBalancer": {}}
            self.c.update_internal(srt, new)

    def lb_create(self, s):
        md = s["metadata"]
        uid = md["uid"]
        if self.c.cfg.aws_url:
            want = lb_wants(s)
            code, body = self.aws("POST", "/_awssim/elb/load-balancers",
                                  {"cluster": self.c.cfg.cluster, "namespace": md["namespace"],
                                   "service": md["name"], "type": (md.get("annotations") or {}).get(
                                       "service.beta.kubernetes.io/aws-load-balancer-type", "classic"),
                                   "scheme": want[0], "ports": list(want[1]), "sourceRanges": list(want[2])})
            if code not in (200, 201) or not isinstance(body, dict) or not body.get("name"):
                with self.c.lock:
                    self.event(s, "Service", "SyncLoadBalancerFailed",
                               "Error syncing load balancer: local AWS answered %s %s" % (code, body))
                    self.lb_busy.discard(uid)
                time.sleep(self.clock.delay(DELAYS["retry"]))
                return
            lb = {"name": body["name"], "dnsName": body.get("dnsName", ""), "arn": body.get("arn", ""), "want": want}
        else:
            name = "a" + uid.replace("-", "")[:31]
            lb = {"name": name, "dnsName": "%s-%d.%s.elb.amazonaws.com" % (name, abs(hash(uid)) % 10 ** 9,
                                                                         self.c.cfg.region), "arn": ""}
        with self.c.lock:
            self.lbs[uid] = lb
            self.lb_busy.discard(uid)
            self.due.pop((uid, "lb"), None)
            self.after(uid, "lb", DELAYS["lb"])

    def lb_delete(self, uid, lb, s):
        if self.c.cfg.aws_url:
            code, body = self.aws("DELETE", "/_awssim/elb/load-balancers/" + lb["name"])
            if code not in (200, 202, 204, 404):
                with self.c.lock:
                    self.event(s, "Service", "SyncLoadBalancerFailed",
                               "Error deleting load balancer: local AWS answered %s %s" % (code, body))
                    self.lb_busy.discard(uid)
                time.sleep(self.clock.delay(DELAYS["retry"]))
                return
        with self.c.lock:
            self.lbs.pop(uid, None)
            self.lb_busy.discard(uid)
            self.due.pop((uid, "lb_cleanup"), None)
            self.after(uid, "lb_cleanup", DELAYS["lb_cleanup"])
            self.event(s, "Service", "DeletedLoadBalancer", "Deleted load balancer", "Normal")

    # ---- nodes from node groups ----------------------------------------------------------

    def node_loop(self):
        warned = False
        while not self.stop.is_set():
            code, body = self.aws("GET", "/_awssim/eks/clusters/%s/nodegroups" % self.c.cfg.cluster)
            if code == 200:
                groups = body.get("nodegroups", body) if isinstance(body, dict) else body
                if isinstance(groups, list):
                    try:
                        with self.c.lock:
                            self.sync_nodes(groups)
                    except Exception as e:
                        import traceback
                        log("node sync error: %s\n%s" % (e, traceback.format_exc()))
                warned = False
            elif code == 404:
                with self.c.lock:
                    self.sync_nodes([])
            elif not warned:
                log("node groups: GET from local AWS failed (%s %s); will retry" % (code, body))
                warned = True
            self.stop.wait(max(0.05, self.clock.delay(DELAYS["node_poll"])))

    def nodeport_ip(self):
        return self.c.cfg.nodeport_ip

    def sync_nodes(self, groups):
        nrt = self.c.rt("", "nodes")
        want = {}
        net_want = {}           # node -> (InternalIP, subnet CIDR or None, MetadataOptions)
        for g in groups:
            if not isinstance(g, dict) or g.get("status") not in ("ACTIVE", "UPDATING", "DEGRADED"):
                continue
            # awssim's shape (name, scaling, subnets[].az, instances[]) and the
            # EKS API's (nodegroupName, scalingConfig, ...) are both accepted.
            name = g.get("nodegroupName") or g.get("name") or ""
            scaling = g.get("scalingConfig") or g.get("scaling") or {}
            size = int(scaling.get("desiredSize", 0) or 0)
            ud_labels, ud_taints, tomls = parse_user_data(g.get("userData"))
            azs = list(g.get("availabilityZones") or [])
            if not azs:
                for s in g.get("subnets") or []:
                    az = s.get("availabilityZone") or s.get("az") if isinstance(s, dict) else None
                    if az and az not in azs:
                        azs.append(az)
            if not azs:
                azs = [self.c.cfg.region + "a"]
            itype = ([t for t in g.get("instanceTypes") or [] if t] or ["m5.large"])[0]
            gnum = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 200 + 20
            insts = [x for x in g.get("instances") or [] if isinstance(x, dict) and x.get("state") == "running"]
            slots = []
            cidrs = {s.get("id"): s.get("cidr") for s in g.get("subnets") or [] if isinstance(s, dict)}
            mopts = g.get("metadataOptions") or g.get("MetadataOptions")
            if g.get("instances") is not None and isinstance(g.get("instances"), list):
                for i, x in enumerate(insts):
                    slots.append((x.get("privateDnsName") or "ip-10-0-%d-%d.%s.compute.internal"
                                  % (gnum, 10 + i, self.c.cfg.region),
                                  x.get("az") or azs[i % len(azs)], x.get("privateIp") or "10.0.%d.%d" % (gnum, 10 + i),
                                  x.get("instanceType") or itype, x.get("id"), x.get("containerd")))
                    net_want[slots[-1][0]] = (slots[-1][2], cidrs.get(x.get("subnet")),
                                              dict(mopts or {}, instanceId=x.get("id"), role=g.get("nodeRole", "")
                                                   .rsplit("/", 1)[-1] or None))
            else:
                for i in range(size):
                    slots.append(("ip-10-0-%d-%d.%s.compute.internal" % (gnum, 10 + i, self.c.cfg.region),
                                  azs[i % len(azs)], "10.0.%d.%d" % (gnum, 10 + i), itype, None, None))
                    net_want[slots[-1][0]] = (slots[-1][2], None, dict(mopts or {}))
            for nname, zone, ip, itype, iid, ctd in slots:
                handlers = runtime_handlers(tomls, ctd)
                labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                          "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                          "kubernetes.io/hostname": nname, "eks.amazonaws.com/nodegroup": name,
                          "eks.amazonaws.com/capacityType": g.get("capacityType", "ON_DEMAND"),
                          "node.kubernetes.io/instance-type": itype, "beta.kubernetes.io/instance-type": itype,
                          "topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": self.c.cfg.region,
                          "failure-domain.beta.kubernetes.io/zone": zone,
                          "failure-domain.beta.kubernetes.io/region": self.c.cfg.region}
                labels.update(g.get("labels") or {})
                labels.update(ud_labels)
                taints = []
                for t in (g.get("taints") or []) + ud_taints:
                    tt = {"key": t.get("key"), "effect": effect_name(t.get("effect"))}
                    if t.get("value"):
                        tt["value"] = t["value"]
                    if tt not in taints:
                        taints.append(tt)
                want[nname] = (labels, taints, handlers, zone, ip, iid, ctd)
        if self.c.network is not None:
            self.c.network.sync_nodes(net_want)
        existing = {n["metadata"]["name"]: n for n in self.c.store.list(nrt.key)}
        for nname, n in existing.items():
            if nname not in want and (n["metadata"].get("labels") or {}).get("eks.amazonaws.com/nodegroup"):
                self.c.remove_now(nrt, n)
        for nname, (labels, taints, handlers, zone, ip, iid, ctd) in want.items():
            cur = existing.get(nname)
            node = deep(cur) if cur else {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": nname, "uid": __import__("uuid").uuid4().__str__(),
                             "creationTimestamp": now_rfc3339(),
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {"providerID": "aws:///%s/%s" % (zone, iid or "i-" + hashlib.sha256(nname.encode()).hexdigest()[:17])},
                "status": {}}
            node["metadata"]["labels"] = labels
            if taints:
                node["spec"]["taints"] = taints
            else:
                node["spec"].pop("taints", None)
            st = node["status"]
            t = (cur or {}).get("status", {}).get("conditions", [{}])[0].get("lastTransitionTime") or now_rfc3339()
            st["conditions"] = [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "message": "kubelet has sufficient memory available", "lastHeartbeatTime": t, "lastTransitionTime": t},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                 "message": "kubelet has no disk pressure", "lastHeartbeatTime": t, "lastTransitionTime": t},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                 "message": "kubelet has sufficient PID available", "lastHeartbeatTime": t, "lastTransitionTime": t},
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status", "lastHeartbeatTime": t, "lastTransitionTime": t}]
            st["addresses"] = [{"type": "InternalIP", "address": ip},
                               {"type": "ExternalIP", "address": self.nodeport_ip()},
                               {"type": "InternalDNS", "address": nname}, {"type": "Hostname", "address": nname}]
            st["capacity"] = {"cpu": "2", "memory": "7935224Ki", "pods": "29", "ephemeral-storage": "20959212Ki"}
            st["allocatable"] = {"cpu": "1930m", "memory": "7246072Ki", "pods": "29",
                                 "ephemeral-storage": "18242267924"}
            st["nodeInfo"] = {"architecture": "amd64", "operatingSystem": "linux",
                              "osImage": "Amazon Linux 2023.7.20250512", "kernelVersion": "6.1.134-152.225.amzn2023.x86_64",
                              "containerRuntimeVersion": "containerd://%s" % (ctd or "2.1.4"),
                              "kubeletVersion": "v1.%d.0-eks-kubesim" % self.c.cfg.minor,
                              "kubeProxyVersion": "v1.%d.0-eks-kubesim" % self.c.cfg.minor,
                              "machineID": hashlib.md5(nname.encode()).hexdigest(),
                              "systemUUID": hashlib.md5(nname.encode()).hexdigest(), "bootID": ""}
            st["runtimeHandlers"] = [{"name": h, "features": {"recursiveReadOnlyMounts": True, "userNamespaces": h == "runc"}}
                                     for h in handlers]
            st["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 10250}}
            if cur is None or canon(cur) != canon(node):
                self.c.store.put(nrt.key, node, cur)
