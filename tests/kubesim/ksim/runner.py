"""Process runner: the part of the simulated kubelet that runs containers for
real.  Owned by the kubesim suite (tests/kubesim).

Containers whose image is an official Python image (repository python,
library/python, docker.io/library/python or index.docker.io/library/python,
any tag or digest) run as local processes of /usr/bin/python3, and so do those
of the OpenFaaS classic-watchdog images (ghcr.io/openfaas/alpine,
functions/alpine: Alpine with fwatchdog as CMD, user 1000), whose watchdog is
fwatchdog.py and whose userland -- what Alpine's is -- is BusyBox (Debian's
busybox-static, one directory of applet links first and alone on PATH); every
other container stays simulated (Running/Ready after the start delay).  A pod
with at least one such container is a "process pod":

* Pod IP: with the pod network (network.py, root) an address of the node's
  subnet in the pod's own network namespace (hostNetwork: the node's), the
  pod's /etc/resolv.conf and /etc/hosts bind-mounted in a private mount
  namespace, its name as hostname; else a unique loopback address
  127.0.<b>.<c> (b >= 1; never the --nodeport-ip; 127.0.0.x stays for the API
  server and the tests), chosen so that every declared TCP containerPort is
  free on it.
* command/args as Kubernetes combines them with the image's (no entrypoint;
  CMD ["python3"], or ["fwatchdog"]); "python", "python3", "python3.X" or any
  path ending in /python or /python3* becomes /usr/bin/python3; in a watchdog
  image "fwatchdog" (or /usr/bin/fwatchdog) is fwatchdog.py and /bin/X,
  /usr/bin/X, /sbin/X, /usr/sbin/X name the BusyBox applet X; $(VAR)
  references expand.
* What the container sees of its kernel follows the pod's runtime handler, as
  the kernel the sandbox presents: in a watchdog image `dmesg` and `uname` are
  replaced by views of it -- under runsc gVisor's (release 4.4.0, its
  synthetic boot log starting "Starting gVisor..."), under runc the node's
  (its nodeInfo.kernelVersion; dmesg refused: "klogctl: Operation not
  permitted", as for a container without CAP_SYSLOG).  NON-FAITHFUL: the
  process itself is never in a sandbox (see gvisor-node notes in README).
* env: a minimal base (PATH, HOME=/tmp, LANG=C.UTF-8, HOSTNAME, the
  kubernetes Service variables), then envFrom and env with value, fieldRef
  (status.podIP, status.hostIP, metadata.name/namespace/uid/labels[]/
  annotations[], spec.nodeName, spec.serviceAccountName), secretKeyRef,
  configMapKeyRef and resourceFieldRef.  kubesim's own environment is not
  inherited.  A missing referenced object or key -> CreateContainerConfigError.
* volumes: configMap, secret (items, defaultMode/mode, binaryData), emptyDir,
  downwardAPI and projected (those sources) are written under a per-pod
  directory; hostPath and anything else become empty directories (the host's
  files are never exposed).  A missing ConfigMap/Secret leaves the pod in
  ContainerCreating with the real FailedMount event.
  NON-FAITHFUL, by necessity: there is no mount namespace, so every
  volumeMount's mountPath used as a path prefix in command, args, env values
  and workingDir is rewritten to the directory holding that volume (e.g.
  /app/webhook.py -> <pod dir>/volumes/app/webhook.py).  The process runs as
  kubesim's user; securityContext, resources and readOnlyRootFilesystem are
  not enforced.
* Lifecycle: started when the simulated kubelet would start the container.
  Readiness: httpGet (HTTP/HTTPS, certificates not verified, like the
  kubelet; port by number or container port name), tcpSocket, exec/grpc
  (treated as success); no readiness probe -> ready once running.  Readiness
  periods are scaled by --timescale (floor 0.1 s); liveness and startup probes
  run at real speed (periodSeconds, initialDelaySeconds unscaled), since they
  kill a process that starts at the machine's speed.  Liveness (or
  startup) failures past failureThreshold kill and restart the process.  An
  exit makes the container terminated, restartCount++, and it restarts per
  restartPolicy with the kubelet's back-off (immediately after the first
  exit, then 10 s, 20 s, ... 300 s, scaled), waiting in CrashLoopBackOff
  meanwhile; the pod is not Ready then.
* Stopping: a pod deleted (or Terminating, or gone with its node) gets
  SIGTERM to its process group, SIGKILL after min(grace, 1 s); kubesim
  exiting (SIGTERM/SIGINT, atexit) kills every group.  Each child is in its
  own process group and has PR_SET_PDEATHSIG=SIGKILL, so even kill -9 of
  kubesim leaves no process behind.  All spawning happens on the long-lived
  controller thread (PDEATHSIG follows the spawning thread).
* Logs: stdout and stderr go to one file per container instance;
  GET .../pods/<name>/log serves the current (or, with previous=true, the
  preceding) instance's output.
"""
import atexit
import base64
import ctypes
import hashlib
import http.client
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from . import dns, netns
from .util import ApiError, canon, deep, is_loopback_host, log, now_rfc3339

PYTHON_REPOS = ("python", "library/python", "docker.io/library/python", "index.docker.io/library/python")
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
PYTHON_EXE = re.compile(r"^(.*/)?python(3[0-9.]*)?$")
WATCHDOG_REPOS = ("ghcr.io/openfaas/alpine", "functions/alpine", "docker.io/functions/alpine",
                  "index.docker.io/functions/alpine")
FWATCHDOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fwatchdog.py")
BUSYBOX_PATHS = ("/usr/bin/busybox", "/bin/busybox")
IMAGE_BIN_DIRS = ("/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/", "/usr/local/bin/")
PRINTED_MAX = 256 * 1024
GVISOR_RELEASE = "4.4.0"
GVISOR_VERSION = "#1 SMP Sun Jan 10 15:06:54 PST 2016"
GVISOR_DMESG = ["Starting gVisor...", "Mounting deweydecimalfs...", "Reticulating splines...",
                "Creating process schedule...", "Generating random numbers by fair dice roll...",
                "Waiting for children...", "Checking naughty and nice process list...",
                "Feeding the init monster...", "Setting up VFS...", "Ready!"]
PR_SET_PDEATHSIG = 1
_LIBC = None


def _repo(image):
    if not isinstance(image, str) or not image:
        return ""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[:len(repo) - len(last) + last.index(":")]
    return repo


def is_python_image(image):
    """True for the official Python image, any tag or digest."""
    return _repo(image) in PYTHON_REPOS


def is_watchdog_image(image):
    """True for the OpenFaaS classic-watchdog Alpine image, any tag or digest."""
    return _repo(image) in WATCHDOG_REPOS


def runs_for_real(image):
    return is_python_image(image) or is_watchdog_image(image)


_APPLETS = None


def busybox():
    """(path of Debian's busybox-static, its applet names) or (None, []) when it is missing."""
    global _APPLETS
    if _APPLETS is None:
        path = next((p for p in BUSYBOX_PATHS if os.access(p, os.X_OK)), None)
        names = []
        if path:
            try:
                out = subprocess.run([path, "--list"], capture_output=True, text=True, timeout=10).stdout
                names = [n for n in out.split() if re.match(r"^[A-Za-z0-9_.\[\]-]+$", n) and "/" not in n]
            except (OSError, subprocess.SubprocessError):
                path = None
        _APPLETS = (path, names)
    return _APPLETS


def gvisor_dmesg(uid):
    """gVisor's synthetic boot log, its timestamps fixed per pod."""
    seed = int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16)
    lines, t = [], 0.0
    for i, msg in enumerate(GVISOR_DMESG):
        lines.append("[%12.6f] %s" % (t, msg))
        t += ((seed >> (i % 24)) % 997) / 1000.0
    return "\n".join(lines) + "\n"


KERNEL_VIEW = r"""#!/usr/bin/python3
# kubesim: the kernel this container's runtime presents (generated per pod by ksim/runner.py)
import os, socket, sys
VIEW = %s
name = os.path.basename(sys.argv[0])
if name == "dmesg":
    if VIEW["dmesg"] is None:
        sys.stderr.write("dmesg: klogctl: Operation not permitted\n")
        sys.exit(1)
    sys.stdout.write(VIEW["dmesg"])
    sys.exit(0)
fields = {"s": "Linux", "n": socket.gethostname(), "r": VIEW["release"], "v": VIEW["version"],
          "m": "x86_64", "p": "unknown", "i": "unknown", "o": "Linux"}
want = []
for a in sys.argv[1:]:
    if a in ("-a", "--all"):
        want = ["s", "n", "r", "v", "m", "o"]
        break
    if not a.startswith("-") or any(c not in fields for c in a[1:]):
        sys.stderr.write("uname: unrecognized option: %%s\nBusyBox v1.35.0 multi-call binary.\n" %% a)
        sys.exit(1)
    want += [c for c in a[1:] if c not in want]
order = [k for k in "snrvmpio" if k in (want or ["s"])]
print(" ".join(fields[k] for k in order))
"""


def _preexec(parent_pid, netfd=None, binds=(), hostname=None):
    libc = _LIBC

    def fn():  # runs in the child between fork and exec: no locks, no imports
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl: do not outlive it
            os._exit(1)
        if netfd is not None and netns.pod_preexec(netfd, binds, hostname) != 0:
            raise OSError("cannot enter the pod's namespaces")
    return fn


def node_ip(node):
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return a.get("address")
    return None


class ConfigError(Exception):
    pass


class Inst:
    """One run of one container."""

    def __init__(self, proc, log_path, cid, has_readiness, has_startup):
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self.cid = cid
        self.started = now_rfc3339()
        self.t0 = time.monotonic()
        self.ready = not has_readiness
        self.started_ok = threading.Event()
        if not has_startup:
            self.started_ok.set()
        self.live_failed = None
        self.stop = threading.Event()
        self.msgs = []


class Ctr:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec.get("name", "")
        self.watchdog = is_watchdog_image(spec.get("image"))
        self.real = self.watchdog or is_python_image(spec.get("image"))
        self.inst = None
        self.runs = 0          # instances started
        self.crashes = 0       # exits since the back-off was last reset
        self.term = None       # {"terminated": {...}} of the latest exit
        self.next_start = 0.0
        self.backoff = 0
        self.waiting = None    # (reason, message)
        self.done = False      # terminated for good (restartPolicy)
        self.history = []      # log files, one per instance


class PodRun:
    def __init__(self, pod, ip, directory, node=None, net=None):
        md = pod["metadata"]
        self.uid, self.ns, self.name = md["uid"], md.get("namespace", ""), md["name"]
        self.ip = ip
        self.node = node        # node name
        self.net = net          # network.PodNet in netns mode
        self.binds = []         # (pod file, host path) bind-mounted for each process
        self.dir = directory
        self.ctrs = {}
        self.started = now_rfc3339()
        self.vols = {}
        self.grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        self.kernel = ("", "", None)  # (release, version, dmesg or None): what the runtime presents
        for c in (pod.get("spec") or {}).get("containers") or []:
            if isinstance(c, dict):
                self.ctrs[c.get("name", "")] = Ctr(c)


class Runner:
    def __init__(self, cluster, clock, event):
        global _LIBC
        self.c = cluster
        self.clock = clock
        self.event = event       # Controllers.event
        self.pods = {}           # pod uid -> PodRun
        self.procs = {}          # pid -> Popen, every process not yet reaped
        self.plock = threading.Lock()
        self.printed = {}        # (pod uid, container) -> what a component kubesim serves printed (queueworker.py)
        self.printlock = threading.Lock()
        self.dead = False
        self.root = None
        self.ip_base = random.randint(1, 200)
        self.ip_seq = 0
        self.parent = os.getpid()
        self.token_issuer = None   # Authenticator.issue, set by the server
        self.insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.insecure.check_hostname = False
        self.insecure.verify_mode = ssl.CERT_NONE
        if _LIBC is None:
            try:
                _LIBC = ctypes.CDLL(None, use_errno=True)
                _LIBC.prctl  # noqa: B018 (resolve the symbol now, not in the child)
            except (OSError, AttributeError):
                _LIBC = None
        atexit.register(self.shutdown)

    def issue_token(self, ns, sa, uid):
        return self.token_issuer(ns, sa, uid) if self.token_issuer else "kubesim-service-account-token"

    @staticmethod
    def wants(pod):
        return any(runs_for_real((c or {}).get("image"))
                   for c in (pod.get("spec") or {}).get("containers") or [])

    # ---- bookkeeping ------------------------------------------------------------

    def describe(self):
        out = []
        for pr in list(self.pods.values()):
            for ctr in pr.ctrs.values():
                if not ctr.real:
                    continue
                inst = ctr.inst
                running = inst is not None and inst.proc.poll() is None
                out.append({"namespace": pr.ns, "pod": pr.name, "container": ctr.name, "ip": pr.ip,
                            "pid": inst.pid if inst else None, "running": running,
                            "ready": bool(running and inst.ready), "restartCount": max(0, ctr.runs - 1)})
        return out

    def alloc_ip(self, ports):
        for _ in range(60000):
            self.ip_seq += 1
            n = self.ip_base * 250 + self.ip_seq
            b, c = (n // 250) % 254 + 1, n % 250 + 2
            ip = "127.0.%d.%d" % (b, c)
            if ip == self.c.cfg.nodeport_ip:
                continue
            ok = True
            for port in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.bind((ip, port))
                except OSError:
                    ok = False
                finally:
                    s.close()
                if not ok:
                    break
            if ok:
                return ip
        raise RuntimeError("no free loopback pod IP")

    def sync(self, live_uids):
        """Kill the processes of pods that are gone or terminating."""
        for uid in [u for u in self.pods if u not in live_uids]:
            self.stop_pod(uid)
        with self.printlock:
            for key in [k for k in self.printed if k[0] not in live_uids]:
                del self.printed[key]

    def print_for(self, uid, cname, text):
        """Append to the log of container cname of a pod kubesim serves itself (its last 256 KiB kept)."""
        with self.printlock:
            self.printed[(uid, cname)] = (self.printed.get((uid, cname), b"") + text.encode())[-PRINTED_MAX:]

    def stop_pod(self, uid):
        pr = self.pods.pop(uid, None)
        if pr is None:
            return
        grace = max(0.0, min(float(pr.grace or 0), 1.0))  # SIGTERM, then SIGKILL after min(grace, 1 s)
        insts = [ctr.inst for ctr in pr.ctrs.values() if ctr.inst is not None]
        for inst in insts:
            inst.stop.set()
            self._signal(inst.pid, signal.SIGTERM)

        def reap():
            deadline = time.monotonic() + grace
            for inst in insts:
                try:
                    inst.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._signal(inst.pid, signal.SIGKILL)
                    try:
                        inst.proc.wait(5)
                    except subprocess.TimeoutExpired:
                        pass
                self.procs.pop(inst.pid, None)
            shutil.rmtree(pr.dir, ignore_errors=True)
            if pr.net is not None:
                with self.c.lock:
                    self.c.network.teardown_pod(pr.uid)
        threading.Thread(target=reap, name="reap-" + pr.name, daemon=True).start()

    @staticmethod
    def _signal(pid, sig):
        try:
            os.killpg(pid, sig)  # the child leads its own process group
        except (ProcessLookupError, PermissionError):
            pass

    def shutdown(self):
        with self.plock:
            if self.dead:
                return
            self.dead = True
            procs = list(self.procs.values())
        for pr in list(self.pods.values()):
            for ctr in pr.ctrs.values():
                if ctr.inst is not None:
                    ctr.inst.stop.set()
        for p in procs:
            self._signal(p.pid, signal.SIGKILL)
        for p in procs:
            try:
                p.wait(2)
            except subprocess.TimeoutExpired:
                pass
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- volumes ----------------------------------------------------------------------

    def _get(self, plural, ns, name):
        return self.c.store.get(("", plural), ns, name)

    def volume_problem(self, pod):
        """The FailedMount message for the first volume that cannot be set up, or None."""
        ns = pod["metadata"].get("namespace", "")
        for v in (pod.get("spec") or {}).get("volumes") or []:
            vname = v.get("name", "")
            sources = []
            if "configMap" in v:
                sources.append(("configmap", v["configMap"] or {}))
            if "secret" in v:
                sources.append(("secret", v["secret"] or {}))
            for s in ((v.get("projected") or {}).get("sources") or []):
                if "configMap" in s:
                    sources.append(("configmap", s["configMap"] or {}))
                if "secret" in s:
                    sources.append(("secret", s["secret"] or {}))
            for kind, src in sources:
                name = src.get("name") if kind == "configmap" else src.get("secretName", src.get("name"))
                obj = self._get("configmaps" if kind == "configmap" else "secrets", ns, name)
                if obj is None:
                    if src.get("optional"):
                        continue
                    return 'MountVolume.SetUp failed for volume "%s" : %s "%s" not found' % (vname, kind, name)
                keys = set((obj.get("data") or {})) | set((obj.get("binaryData") or {}))
                for it in src.get("items") or []:
                    if it.get("key") not in keys and not src.get("optional"):
                        what = "configmap references non-existent config key" if kind == "configmap" \
                            else "references non-existent secret key"
                        return 'MountVolume.SetUp failed for volume "%s" : %s: %s' % (vname, what, it.get("key"))
        return None

    @staticmethod
    def _safe_join(base, rel):
        rel = rel or ""
        p = os.path.normpath(os.path.join(base, rel))
        if rel.startswith("/") or not (p == base or p.startswith(base + os.sep)):
            raise ConfigError("invalid path %r" % rel)
        return p

    def _write(self, d, rel, data, mode):
        p = self._safe_join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode & 0o777)

    def _key_files(self, kind, obj, src, default_mode):
        """[(relative path, bytes, mode)] for a configMap/secret source."""
        data = {}
        for k, v in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(v) if kind == "secret" else str(v).encode()
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v)
        mode = src.get("defaultMode", default_mode)
        items = src.get("items")
        if items:
            return [(it.get("path") or it.get("key"), data[it["key"]], it.get("mode", mode))
                    for it in items if it.get("key") in data]
        return [(k, v, mode) for k, v in sorted(data.items())]

    def _downward(self, pod, items, default_mode):
        out = []
        md = pod["metadata"]
        for it in items or []:
            fp = ((it.get("fieldRef") or {}).get("fieldPath")) or ""
            if fp in ("metadata.labels", "metadata.annotations"):
                m = md.get(fp.split(".")[1]) or {}
                val = "\n".join('%s="%s"' % (k, m[k]) for k in sorted(m))
            else:
                val = self.field_ref(pod, fp, None) if fp else ""
            out.append((it.get("path", ""), val.encode(), it.get("mode", default_mode)))
        return out

    def write_volumes(self, pod, pr):
        ns = pod["metadata"].get("namespace", "")
        vols = {}
        for v in (pod.get("spec") or {}).get("volumes") or []:
            vname = v.get("name", "")
            d = os.path.join(pr.dir, "volumes", vname)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
            files = []
            if "configMap" in v or "secret" in v:
                kind = "configmap" if "configMap" in v else "secret"
                src = (v.get("configMap") if kind == "configmap" else v.get("secret")) or {}
                name = src.get("name") if kind == "configmap" else src.get("secretName")
                obj = self._get("configmaps" if kind == "configmap" else "secrets", ns, name)
                if obj is not None:
                    files = self._key_files(kind, obj, src, 0o644)
            elif "downwardAPI" in v:
                dv = v["downwardAPI"] or {}
                files = self._downward(pod, dv.get("items"), dv.get("defaultMode", 0o644))
            elif "projected" in v:
                pv = v["projected"] or {}
                mode = pv.get("defaultMode", 0o644)
                for s in pv.get("sources") or []:
                    if "configMap" in s or "secret" in s:
                        kind = "configmap" if "configMap" in s else "secret"
                        src = dict((s.get("configMap") if kind == "configmap" else s.get("secret")) or {})
                        src.setdefault("defaultMode", mode)
                        obj = self._get("configmaps" if kind == "configmap" else "secrets", ns, src.get("name"))
                        if obj is not None:
                            files += self._key_files(kind, obj, src, mode)
                    elif "downwardAPI" in s:
                        files += self._downward(pod, (s["downwardAPI"] or {}).get("items"), mode)
                    elif "serviceAccountToken" in s:
                        spec = pod.get("spec") or {}
                        tok = self.issue_token(ns, spec.get("serviceAccountName") or "default", pod["metadata"]["uid"])
                        files.append(((s["serviceAccountToken"] or {}).get("path", "token"), tok.encode(), mode))
            # emptyDir, hostPath (never the host's files) and the rest: an empty directory
            for rel, data, mode in files:
                self._write(d, rel, data, mode)
            vols[vname] = d
        return vols

    # ---- env and command -------------------------------------------------------------------

    def field_ref(self, pod, path, ip):
        md, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        simple = {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
                  "metadata.uid": md.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
                  "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
                  "status.podIP": ip or st.get("podIP", ""), "status.podIPs": ip or st.get("podIP", ""),
                  "status.hostIP": st.get("hostIP", ""), "status.hostIPs": st.get("hostIP", "")}
        if path in simple:
            return simple[path]
        m = re.match(r"^metadata\.(labels|annotations)\['(.*)'\]$", path or "")
        if m:
            return (md.get(m.group(1)) or {}).get(m.group(2), "")
        raise ConfigError('unsupported fieldRef fieldPath "%s"' % path)

    @staticmethod
    def expand(s, env):
        """Kubernetes $(VAR) expansion: defined names expand, $$ escapes, the rest stays."""
        def sub(m):
            if m.group(0) == "$$":
                return "$"
            return env.get(m.group(1), m.group(0))
        return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, s) if isinstance(s, str) else s

    @staticmethod
    def rewrite(s, mounts):
        """The one non-faithful step: mountPath prefixes -> the volume's directory."""
        if not isinstance(s, str):
            return s
        for mp, hostp in mounts:
            s = re.sub(r"(^|(?<=[=:,;\s\"']))" + re.escape(mp) + r"(?=/|$|[\s:;,\"'])",
                       lambda m, h=hostp: m.group(1) + h, s)
        return s

    def container_env(self, pod, pr, spec, mounts):
        ns = pod["metadata"].get("namespace", "")
        k8s = {}
        for ef in spec.get("envFrom") or []:
            prefix = ef.get("prefix") or ""
            if ef.get("configMapRef") is not None:
                ref = ef["configMapRef"] or {}
                cm = self._get("configmaps", ns, ref.get("name"))
                if cm is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError('configmap "%s" not found' % ref.get("name"))
                for k, v in (cm.get("data") or {}).items():
                    k8s[prefix + k] = str(v)
            if ef.get("secretRef") is not None:
                ref = ef["secretRef"] or {}
                sec = self._get("secrets", ns, ref.get("name"))
                if sec is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError('secret "%s" not found' % ref.get("name"))
                for k, v in (sec.get("data") or {}).items():
                    k8s[prefix + k] = base64.b64decode(v).decode("utf-8", "replace")
        for e in spec.get("env") or []:
            name = e.get("name")
            if not name:
                continue
            vf = e.get("valueFrom")
            if not vf:
                k8s[name] = self.expand(str(e.get("value", "")), k8s)
                continue
            if vf.get("fieldRef"):
                k8s[name] = self.field_ref(pod, (vf["fieldRef"] or {}).get("fieldPath", ""), pr.ip)
            elif vf.get("secretKeyRef"):
                ref = vf["secretKeyRef"]
                sec = self._get("secrets", ns, ref.get("name"))
                if sec is None or ref.get("key") not in (sec.get("data") or {}):
                    if ref.get("optional"):
                        continue
                    if sec is None:
                        raise ConfigError('secret "%s" not found' % ref.get("name"))
                    raise ConfigError("couldn't find key %s in Secret %s/%s" % (ref.get("key"), ns, ref.get("name")))
                k8s[name] = base64.b64decode(sec["data"][ref["key"]]).decode("utf-8", "replace")
            elif vf.get("configMapKeyRef"):
                ref = vf["configMapKeyRef"]
                cm = self._get("configmaps", ns, ref.get("name"))
                if cm is None or ref.get("key") not in (cm.get("data") or {}):
                    if ref.get("optional"):
                        continue
                    if cm is None:
                        raise ConfigError('configmap "%s" not found' % ref.get("name"))
                    raise ConfigError("couldn't find key %s in ConfigMap %s/%s" % (ref.get("key"), ns,
                                                                                     ref.get("name")))
                k8s[name] = str(cm["data"][ref["key"]])
            elif vf.get("resourceFieldRef"):
                res = (vf["resourceFieldRef"] or {}).get("resource", "")
                kind, _, what = res.partition(".")
                val = ((spec.get("resources") or {}).get(kind) or {}).get(what)
                k8s[name] = str(val) if val is not None else ("2" if what == "cpu" else "7935224832")
        kip = self.c.service_ip(1)
        env = {"PATH": BASE_PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "HOSTNAME": pod["metadata"]["name"],
               "KUBERNETES_SERVICE_HOST": kip, "KUBERNETES_SERVICE_PORT": "443",
               "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://%s:443" % kip,
               "KUBERNETES_PORT_443_TCP": "tcp://%s:443" % kip, "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
               "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": kip}
        for k, v in k8s.items():
            env[k] = self.rewrite(v, mounts)
        return env, k8s

    def mounts_for(self, spec, vols):
        out = []
        for m in spec.get("volumeMounts") or []:
            mp = (m.get("mountPath") or "").rstrip("/")
            if not mp or m.get("name") not in vols:
                continue
            hostp = vols[m["name"]]
            if m.get("subPath"):
                hostp = self._safe_join(hostp, m["subPath"])
                os.makedirs(hostp, exist_ok=True)
            out.append((mp, hostp))
        out.sort(key=lambda x: -len(x[0]))
        return out

    @staticmethod
    def argv_for(spec, k8s_env):
        watchdog = is_watchdog_image(spec.get("image"))
        if spec.get("command"):
            argv = list(spec["command"]) + list(spec.get("args") or [])
        elif spec.get("args"):
            argv = list(spec["args"])  # neither image has an ENTRYPOINT: args replace CMD
        else:
            argv = ["fwatchdog"] if watchdog else ["python3"]  # their CMD
        argv = [Runner.expand(str(a), k8s_env) for a in argv]
        if not watchdog and PYTHON_EXE.match(argv[0]):
            argv[0] = "/usr/bin/python3"
        return argv

    def kernel_view(self, pod, node):
        """The kernel a container of this pod sees: gVisor's under a RuntimeClass whose handler is
        runsc, else the node's."""
        rcn = (pod.get("spec") or {}).get("runtimeClassName")
        rc = self.c.store.get(("node.k8s.io", "runtimeclasses"), "", rcn) if rcn else None
        if (rc or {}).get("handler") == "runsc":
            return GVISOR_RELEASE, GVISOR_VERSION, gvisor_dmesg(pod["metadata"]["uid"])
        info = (node.get("status") or {}).get("nodeInfo") or {}
        return info.get("kernelVersion") or os.uname().release, "#1 SMP PREEMPT_DYNAMIC", None

    def userland(self, pod, pr):
        """The watchdog image's /bin: BusyBox applet links and the kernel view (created once per pod)."""
        d = os.path.join(pr.dir, "image", "bin")
        if os.path.isdir(d):
            return d
        bb, applets = busybox()
        if bb is None:
            raise ConfigError("kubesim: busybox is missing (Debian package busybox-static; make deps), so the "
                              "image's userland cannot run")
        os.makedirs(d)
        for a in applets:
            os.symlink(bb, os.path.join(d, a))
        view = {"release": pr.kernel[0], "version": pr.kernel[1], "dmesg": pr.kernel[2]}
        script = KERNEL_VIEW % repr(view)
        for name in ("dmesg", "uname"):
            path = os.path.join(d, name)
            if os.path.lexists(path):
                os.unlink(path)
            with open(path, "w") as f:
                f.write(script)
            os.chmod(path, 0o755)
        os.makedirs(os.path.join(pr.dir, "tmp"), exist_ok=True)
        return d

    def watchdog_argv(self, pod, pr, argv, env):
        """A classic-watchdog image's process: its userland first and alone on PATH, a private
        TMPDIR (the watchdog's lock file), fwatchdog.py as the watchdog."""
        d = self.userland(pod, pr)
        env["PATH"] = d
        env["TMPDIR"] = os.path.join(pr.dir, "tmp")
        exe = argv[0] if argv else ""
        if exe in ("fwatchdog", "/usr/bin/fwatchdog", "/usr/local/bin/fwatchdog"):
            bind = [] if pr.net is not None else ["--bind", pr.ip]
            return ["/usr/bin/python3", FWATCHDOG] + bind + argv[1:]
        for pfx in IMAGE_BIN_DIRS:
            if exe.startswith(pfx) and os.path.lexists(os.path.join(d, exe[len(pfx):])):
                return [os.path.join(d, exe[len(pfx):])] + argv[1:]
        return argv  # looked up on the image's PATH (a miss is the runtime's StartError)

    # ---- probes ----------------------------------------------------------------------------

    @staticmethod
    def port_of(port, spec):
        if isinstance(port, int) and not isinstance(port, bool):
            return port
        if isinstance(port, str):
            if port.isdigit():
                return int(port)
            for cp in spec.get("ports") or []:
                if cp.get("name") == port:
                    return cp.get("containerPort")
        return None

    def dial(self, pr, host, port, timeout):
        """A TCP connection for the kubelet: from the pod's node in netns mode, else loopback."""
        if pr is not None and pr.net is not None:
            return self.c.network.connect_from_node(pr.node, (host, port), timeout)
        return socket.create_connection((host, port), timeout=timeout)

    def run_probe(self, probe, ip, spec, pr=None):
        timeout = probe.get("timeoutSeconds") or 1
        in_net = pr is not None and pr.net is not None
        if "httpGet" in probe:
            hg = probe["httpGet"] or {}
            port = self.port_of(hg.get("port"), spec)
            scheme = (hg.get("scheme") or "HTTP").upper()
            host = hg.get("host") or ip
            path = hg.get("path") or "/"
            url = "%s://%s:%s%s" % (scheme.lower(), host, port, path)
            if port is None:
                return False, 'Get "%s": invalid port %r' % (url, hg.get("port"))
            if not in_net and not is_loopback_host(host):
                return False, 'Get "%s": dial tcp %s:%d: connect: connection refused' % (url, host, port)
            try:
                raw = self.dial(pr, host, port, timeout)
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
                conn.sock = self.insecure.wrap_socket(raw, server_hostname=host) if scheme == "HTTPS" else raw
                headers = {"User-Agent": "kube-probe/1.%d" % self.c.cfg.minor, "Accept": "*/*"}
                for h in hg.get("httpHeaders") or []:
                    headers[h.get("name", "")] = h.get("value", "")
                try:
                    conn.request("GET", path, headers=headers)
                    r = conn.getresponse()
                    r.read(10240)
                finally:
                    conn.close()
                if 200 <= r.status < 400:
                    return True, ""
                return False, "HTTP probe failed with statuscode: %d" % r.status
            except ConnectionRefusedError:
                return False, 'Get "%s": dial tcp %s:%d: connect: connection refused' % (url, host, port)
            except socket.timeout:
                return False, ('Get "%s": context deadline exceeded (Client.Timeout exceeded while awaiting '
                               'headers)' % url)
            except (OSError, http.client.HTTPException) as e:
                return False, 'Get "%s": %s' % (url, e)
        if "tcpSocket" in probe:
            ts = probe["tcpSocket"] or {}
            port = self.port_of(ts.get("port"), spec)
            host = ts.get("host") or ip
            if port is None or (not in_net and not is_loopback_host(host)):
                return False, "dial tcp %s:%s: connect: connection refused" % (host, port)
            try:
                self.dial(pr, host, port, timeout).close()
                return True, ""
            except socket.timeout:
                return False, "dial tcp %s:%d: i/o timeout" % (host, port)
            except OSError:
                return False, "dial tcp %s:%d: connect: connection refused" % (host, port)
        return True, ""  # exec and grpc probes: not run, taken as success

    def prober(self, pr, ctr, inst, kind, probe):
        # Readiness only gates traffic: its period scales (floor 0.1 s).  Liveness and
        # startup probes kill a real process that starts at the machine's speed, so
        # they run at real speed, as the kubelet runs them.
        scale = self.clock.timescale if kind == "Readiness" else 1.0
        period = max((probe.get("periodSeconds") or 10) * scale, 0.1)
        fth = probe.get("failureThreshold") or 3
        sth = probe.get("successThreshold") or 1
        if kind != "Startup":
            while not inst.started_ok.wait(0.1):
                if inst.stop.is_set():
                    return
        if inst.stop.wait((probe.get("initialDelaySeconds") or 0) * scale):
            return
        succ = fail = 0
        while not inst.stop.is_set():
            ok, msg = self.run_probe(probe, pr.ip, ctr.spec, pr)
            if inst.stop.is_set():
                return
            if ok:
                succ, fail = succ + 1, 0
                if kind == "Readiness" and succ >= sth:
                    inst.ready = True
                if kind == "Startup":
                    inst.started_ok.set()
                    return
            else:
                succ, fail = 0, fail + 1
                inst.msgs.append("%s probe failed: %s" % (kind, msg))
                if kind == "Readiness" and fail >= fth:
                    inst.ready = False
                if kind in ("Liveness", "Startup") and fail >= fth:
                    inst.live_failed = kind.lower()
                    return
            inst.stop.wait(period)

    # ---- the kubelet step (controller thread, store lock held) --------------------------------

    def pod_files(self, pod, pr):
        """/etc/resolv.conf, /etc/hosts for the pod's private mount namespace (the kubelet writes
        these too): ClusterFirst -> the kube-dns Service; hostNetwork keeps the node's (Default)
        unless dnsPolicy is ClusterFirstWithHostNet."""
        spec = pod.get("spec") or {}
        etc = os.path.join(pr.dir, "etc")
        os.makedirs(etc, exist_ok=True)
        policy = spec.get("dnsPolicy") or "ClusterFirst"
        host_net = bool(spec.get("hostNetwork"))
        files = []
        if policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not host_net):
            files.append(("resolv.conf", dns.resolv_conf(pr.ns, self.c.service_ip(10), self.c.cfg.region)))
        if not host_net:
            files.append(("hosts", dns.hosts_file(pr.ip, pr.name)))
        for fname, content in files:
            path = os.path.join(etc, fname)
            with open(path, "w") as f:
                f.write(content)
            target = os.path.realpath("/etc/" + fname)
            if os.path.isfile(target):
                pr.binds.append((path.encode(), target.encode()))

    def kubelet(self, pod, node):
        uid = pod["metadata"]["uid"]
        pr = self.pods.get(uid)
        if pr is None:
            prob = self.volume_problem(pod)
            if prob:
                self.event(pod, "Pod", "FailedMount", prob, once_key=(uid, "FailedMount", prob))
                self.write_status(pod, None, node)
                return
            if self.root is None:
                self.root = tempfile.mkdtemp(prefix="kubesim-pods-")
            net = self.c.network
            pn = None
            if net is not None and net.enabled:
                try:
                    pn = net.setup_pod(pod, node["metadata"]["name"], node_ip(node))
                except (OSError, RuntimeError) as e:
                    msg = "Failed to create pod sandbox: %s" % e
                    self.event(pod, "Pod", "FailedCreatePodSandBox", msg, once_key=(uid, "sandbox", msg))
                    return
                if pn is None:
                    return  # its namespace is still being made: the next pass goes on
            d = tempfile.mkdtemp(prefix=pod["metadata"]["name"][:40] + "-", dir=self.root)
            if pn is not None:
                pr = PodRun(pod, pn.ip, d, node["metadata"]["name"], pn)
                self.pod_files(pod, pr)
            else:
                ports = sorted({cp.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                                if runs_for_real(c.get("image")) for cp in c.get("ports") or []
                                if cp.get("containerPort") and (cp.get("protocol") or "TCP") == "TCP"})
                pr = PodRun(pod, self.alloc_ip(ports), d, node["metadata"]["name"])
            os.makedirs(os.path.join(pr.dir, "logs"), exist_ok=True)
            try:
                pr.vols = self.write_volumes(pod, pr)
            except (ConfigError, OSError, ValueError) as e:
                shutil.rmtree(pr.dir, ignore_errors=True)
                msg = "MountVolume.SetUp failed: %s" % e
                self.event(pod, "Pod", "FailedMount", msg, once_key=(uid, "FailedMount", msg))
                self.write_status(pod, None, node)
                return
            pr.kernel = self.kernel_view(pod, node)
            self.pods[uid] = pr
            if pn is not None:
                pn.process = True  # its namespace now goes with its processes (stop_pod)
        for ctr in pr.ctrs.values():
            if ctr.real:
                self.step(pod, pr, ctr)
        self.write_status(pod, pr, node)

    def step(self, pod, pr, ctr):
        uid = pr.uid
        inst = ctr.inst
        if inst is not None and not inst.stop.is_set():
            rc = inst.proc.poll()
            if rc is None and inst.live_failed:
                self.event(pod, "Pod", "Killing", "Container %s failed %s probe, will be restarted"
                           % (ctr.name, inst.live_failed), "Normal", once_key=(uid, ctr.name, ctr.runs, "Killing"))
                self._signal(inst.pid, signal.SIGKILL)
                try:
                    rc = inst.proc.wait(5)
                except subprocess.TimeoutExpired:
                    rc = -9
            msgs, inst.msgs = inst.msgs, []
            for m in msgs:
                self.event(pod, "Pod", "Unhealthy", m, once_key=(uid, ctr.name, "Unhealthy", m))
            if rc is None:
                return
            self.finish(ctr, inst, rc)
        if ctr.done or self.dead:
            return
        now = time.monotonic()
        if ctr.term is not None:
            policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
            code = ctr.term["terminated"]["exitCode"]
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                ctr.done = True
                return
            if now < ctr.next_start:
                msg = "back-off %ds restarting failed container=%s pod=%s_%s(%s)" % (
                    ctr.backoff, ctr.name, pr.name, pr.ns, uid)
                ctr.waiting = ("CrashLoopBackOff", msg)
                self.event(pod, "Pod", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                           % (ctr.name, pr.name, pr.ns, uid), once_key=(uid, ctr.name, ctr.runs, "BackOff"))
                return
        self.start(pod, pr, ctr)

    def finish(self, ctr, inst, rc):
        inst.stop.set()
        self.procs.pop(inst.pid, None)
        code = rc if rc >= 0 else 128 - rc
        if time.monotonic() - inst.t0 > 600 * self.clock.timescale:
            ctr.crashes = 0  # ran long enough: the back-off starts over
        ctr.crashes += 1
        ctr.term = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                   "startedAt": inst.started, "finishedAt": now_rfc3339(),
                                   "containerID": inst.cid}}
        self.set_backoff(ctr)

    def set_backoff(self, ctr):
        # the first exit restarts at once, later ones wait 10 s, 20 s, ... 300 s (scaled)
        ctr.backoff = 0 if ctr.crashes <= 1 else min(10 * 2 ** (ctr.crashes - 2), 300)
        ctr.next_start = time.monotonic() + ctr.backoff * self.clock.timescale

    def start(self, pod, pr, ctr):
        uid = pr.uid
        spec = ctr.spec
        mounts = self.mounts_for(spec, pr.vols)
        try:
            env, k8s = self.container_env(pod, pr, spec, mounts)
        except ConfigError as e:
            ctr.waiting = ("CreateContainerConfigError", str(e))
            self.event(pod, "Pod", "Failed", "Error: %s" % e, once_key=(uid, ctr.name, "Failed", str(e)))
            return
        argv = [self.rewrite(a, mounts) for a in self.argv_for(spec, k8s)]
        if ctr.watchdog:
            try:
                argv = self.watchdog_argv(pod, pr, argv, env)
            except ConfigError as e:
                argv = None
                start_err = e
        if argv is None:
            msg = ('failed to create containerd task: failed to create shim task: OCI runtime create failed: '
                   '%s: unknown' % start_err)
            ctr.runs += 1
            ctr.crashes += 1
            ctr.term = {"terminated": {"exitCode": 128, "reason": "StartError", "message": msg,
                                       "startedAt": "1970-01-01T00:00:00Z", "finishedAt": now_rfc3339(),
                                       "containerID": ""}}
            self.set_backoff(ctr)
            self.event(pod, "Pod", "Failed", "Error: %s" % msg, once_key=(uid, ctr.name, ctr.runs, "Failed"))
            return
        cwd = self.rewrite(spec.get("workingDir"), mounts) if spec.get("workingDir") else pr.dir
        if not os.path.isdir(cwd):
            cwd = pr.dir
        log_path = os.path.join(pr.dir, "logs", "%s-%d.log" % (ctr.name, ctr.runs))
        cid = "containerd://" + hashlib.sha256(("%s/%s/%d" % (uid, ctr.name, ctr.runs)).encode()).hexdigest()
        with self.plock:
            if self.dead:
                return
            logf = open(log_path, "ab")
            try:
                netfd = pr.net.fd if pr.net is not None else None
                host_net = pr.net is not None and pr.net.host_network
                proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                        stderr=subprocess.STDOUT, close_fds=True, start_new_session=True,
                                        pass_fds=(netfd,) if netfd is not None else (),
                                        preexec_fn=_preexec(self.parent, netfd, list(pr.binds),
                                                            None if host_net else pr.name.encode()[:63]))
            except (OSError, subprocess.SubprocessError) as e:
                proc = None
                err = e
            finally:
                logf.close()
            if proc is not None:
                self.procs[proc.pid] = proc
        ctr.history.append(log_path)
        ctr.runs += 1
        if proc is None:
            what = argv[0] if argv else ""
            msg = ('failed to create containerd task: failed to create shim task: OCI runtime create failed: '
                   'runc create failed: unable to start container process: exec: "%s": %s: unknown'
                   % (what, "executable file not found in $PATH" if isinstance(err, FileNotFoundError)
                      else (err.strerror or str(err)).lower()))
            ctr.crashes += 1
            ctr.term = {"terminated": {"exitCode": 128, "reason": "StartError", "message": msg,
                                       "startedAt": "1970-01-01T00:00:00Z", "finishedAt": now_rfc3339(),
                                       "containerID": cid}}
            ctr.inst = None
            self.set_backoff(ctr)
            self.event(pod, "Pod", "Failed", "Error: %s" % msg, once_key=(uid, ctr.name, ctr.runs, "Failed"))
            return
        inst = Inst(proc, log_path, cid, bool(spec.get("readinessProbe")), bool(spec.get("startupProbe")))
        ctr.last = ctr.term
        ctr.term = None
        ctr.waiting = None
        ctr.inst = inst
        for kind in ("Startup", "Readiness", "Liveness"):
            probe = spec.get(kind[0].lower() + kind[1:] + "Probe")
            if probe:
                threading.Thread(target=self.prober, args=(pr, ctr, inst, kind, probe),
                                 name="probe-%s-%s" % (pr.name, kind), daemon=True).start()
        if ctr.runs == 1:
            self.event(pod, "Pod", "Pulled", 'Container image "%s" already present on machine' % spec.get("image"),
                       "Normal", once_key=(uid, ctr.name, "Pulled"))
        self.event(pod, "Pod", "Created", "Created container: %s" % ctr.name, "Normal",
                   once_key=(uid, ctr.name, ctr.runs, "Created"))
        self.event(pod, "Pod", "Started", "Started container %s" % ctr.name, "Normal",
                   once_key=(uid, ctr.name, ctr.runs, "Started"))

    # ---- status --------------------------------------------------------------------------------

    def write_status(self, pod, pr, node):
        st = deep(pod.get("status") or {})
        prev = {c["type"]: c for c in st.get("conditions") or []}
        t = now_rfc3339()
        spec = pod.get("spec") or {}
        css, unready, any_started, all_done, all_ok = [], [], False, True, True
        for c in spec.get("containers") or []:
            name = c.get("name", "")
            ctr = pr.ctrs.get(name) if pr else None
            cs = {"name": name, "image": c.get("image"), "imageID": "", "ready": False, "restartCount": 0,
                  "started": False}
            if pr is None:
                cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
                all_done = False
            elif not ctr.real:
                cs.update(ready=True, started=True, state={"running": {"startedAt": pr.started}},
                          containerID="containerd://" + hashlib.sha256((pr.uid + name).encode()).hexdigest())
                any_started, all_done = True, False
            else:
                cs["restartCount"] = max(0, ctr.runs - 1)
                inst = ctr.inst
                if ctr.runs:
                    any_started = True
                    cs["imageID"] = "docker.io/library/python@sha256:" + hashlib.sha256(
                        str(c.get("image")).encode()).hexdigest()
                if inst is not None and not inst.stop.is_set():
                    cs.update(ready=bool(inst.ready), started=inst.started_ok.is_set(), containerID=inst.cid,
                              state={"running": {"startedAt": inst.started}})
                    all_done = False
                elif ctr.done and ctr.term:
                    cs.update(state=deep(ctr.term), containerID=ctr.term["terminated"].get("containerID"))
                    all_ok = all_ok and ctr.term["terminated"]["exitCode"] == 0
                elif ctr.waiting:
                    cs["state"] = {"waiting": {"reason": ctr.waiting[0], "message": ctr.waiting[1]}}
                    all_done = False
                elif ctr.term:
                    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
                    all_done = False
                else:
                    cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
                    all_done = False
                running = inst is not None and not inst.stop.is_set()
                # running or done for good: the exit before this one; waiting to restart: the latest exit
                last = ctr.last if running or ctr.done else ctr.term
                if last:
                    cs["lastState"] = deep(last)
            if not cs["ready"]:
                unready.append(name)
            css.append(cs)
        if pr is not None and all_done and css:
            phase = "Succeeded" if all_ok else "Failed"
        elif any_started:
            phase = "Running"
        else:
            phase = "Pending"
        ready = phase == "Running" and not unready
        msg = "containers with unready status: [%s]" % " ".join(unready)
        conds = [("PodReadyToStartContainers", "True" if pr else "False", "", ""),
                 ("Initialized", "True", "", ""),
                 ("Ready", "True" if ready else "False", "" if ready else "ContainersNotReady", "" if ready else msg),
                 ("ContainersReady", "True" if ready else "False", "" if ready else "ContainersNotReady",
                  "" if ready else msg),
                 ("PodScheduled", "True", "", "")]
        out = []
        for typ, status, reason, message in conds:
            cond = {"type": typ, "status": status, "lastProbeTime": None, "lastTransitionTime": t}
            if reason:
                cond["reason"] = reason
            if message:
                cond["message"] = message
            pc = prev.get(typ)
            if pc and pc.get("status") == status:
                cond["lastTransitionTime"] = pc.get("lastTransitionTime", t)
            out.append(cond)
        st["phase"] = phase
        st["conditions"] = out
        st["containerStatuses"] = css
        res = [c.get("resources") or {} for c in spec.get("containers") or []]
        st["qosClass"] = "Burstable" if any(r.get("requests") or r.get("limits") for r in res) else "BestEffort"
        if node is not None:
            addrs = {a["type"]: a["address"] for a in (node.get("status") or {}).get("addresses") or []}
            st["hostIP"] = addrs.get("InternalIP", "")
            st["hostIPs"] = [{"ip": st["hostIP"]}]
        if pr is not None:
            st["podIP"] = pr.ip
            st["podIPs"] = [{"ip": pr.ip}]
        st.setdefault("startTime", t)
        if canon(st) != canon(pod.get("status")):
            self.c.set_status(self.c.rt("", "pods"), pod, st)

    # ---- logs ------------------------------------------------------------------------------------

    def log(self, pod, cname, previous):
        """Bytes of a container's log (store lock held by the caller)."""
        md = pod["metadata"]
        pr = self.pods.get(md["uid"])
        ctr = pr.ctrs.get(cname) if pr else None
        if ctr is None or not ctr.real:
            cs = [x for x in (pod.get("status") or {}).get("containerStatuses") or [] if x.get("name") == cname]
            state = (cs[0].get("state") or {}) if cs else {}
            if previous:
                raise ApiError(400, 'previous terminated container "%s" in pod "%s" not found' % (cname, md["name"]))
            if "running" in state or "terminated" in state:
                with self.printlock:  # simulated containers print nothing, the components kubesim serves their lines
                    return self.printed.get((md["uid"], cname), b"")
            reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
            raise ApiError(400, 'container "%s" in pod "%s" is waiting to start: %s' % (cname, md["name"], reason))
        paths = ctr.history
        if previous:
            if len(paths) < 2:
                raise ApiError(400, 'previous terminated container "%s" in pod "%s" not found' % (cname, md["name"]))
            path = paths[-2]
        elif paths:
            path = paths[-1]
        else:
            reason = ctr.waiting[0] if ctr.waiting else "ContainerCreating"
            raise ApiError(400, 'container "%s" in pod "%s" is waiting to start: %s' % (cname, md["name"], reason))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            log("reading %s: %s" % (path, e))
            return b""
