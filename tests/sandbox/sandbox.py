#!/usr/bin/python3
"""Helpers for tests/sandbox (see README.md there): containerd config merge,
a local OCI image from busybox-static, and a minimal CRI client.

  sandbox.py config BASE FRAGMENT HANDLER RUNSC_TOML WORKDIR
      Deep-merges the rendered containerd FRAGMENT over BASE (what nodeadm
      does with spec.containerd.config), checks that the fragment defines
      exactly one non-runc runtime and that its name is HANDLER, and writes
        WORKDIR/node.toml     base + fragment, untouched (a node's config)
        WORKDIR/test.toml     node.toml + the documented test substitutions
        WORKDIR/runsc-wrapper runsc with the rendered runsc.toml flags
      Prints every substitution on stdout.
  sandbox.py image OUT.tar NAME...
      OCI image archive of /bin/busybox (static) under each NAME.
  sandbox.py cri SOCKET HANDLER IMAGE [--no-stop] CMD [CMD...]
      Over CRI (runtime.v1 gRPC, HTTP/2 through curl on the unix socket):
      RunPodSandbox with runtime_handler=HANDLER and the pod's own network
      namespace (CNI), PodSandboxStatus, CreateContainer + StartContainer
      from IMAGE, ExecSync each CMD (a shell command line), then
      StopPodSandbox + RemovePodSandbox (not with --no-stop: the caller tears
      the pod down; see README.md). Prints JSON {handler, sandbox_id, ip,
      netns, results: [{cmd, exit_code, stdout, stderr}]}.

Test tooling only: nothing here is shipped. Needs Python 3.11 (tomllib).
"""
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import tomllib

CRI_PLUGIN = "io.containerd.grpc.v1.cri"  # containerd 1.x CRI plugin


# ---------------------------------------------------------------- config

def deep_merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        elif isinstance(v, dict):
            base[k] = deep_merge({}, v)
        else:
            base[k] = v
    return base


def toml_key(k):
    if k and all(c.isalnum() or c in "-_" for c in k):
        return k
    return json.dumps(k)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string here
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError("unsupported TOML value %r" % (v,))


def toml_dump(d):
    """Minimal TOML writer for config dicts; verified by a tomllib round trip."""
    out = []

    def table(path, t):
        scalars = [(k, v) for k, v in t.items() if not isinstance(v, dict)]
        subs = [(k, v) for k, v in t.items() if isinstance(v, dict)]
        if path and (scalars or not subs):
            out.append("[" + ".".join(toml_key(p) for p in path) + "]")
        for k, v in scalars:
            out.append("%s = %s" % (toml_key(k), toml_value(v)))
        for k, v in subs:
            table(path + [k], v)

    table([], d)
    text = "\n".join(out) + "\n"
    if tomllib.loads(text) != d:
        raise ValueError("TOML writer round trip failed")
    return text


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def cmd_config(base_path, frag_path, handler, runsc_toml_path, work):
    with open(base_path, "rb") as f:
        base_text = f.read().decode()
    base_text = base_text.replace("@WORK@", work)
    base = tomllib.loads(base_text)
    with open(frag_path, "rb") as f:
        frag = tomllib.load(f)
    with open(runsc_toml_path, "rb") as f:
        runsc_toml = tomllib.load(f)

    if frag.get("version") != 2:
        sys.exit("fragment has version %r: containerd 1.6 needs the version = 2 rendering"
                 % frag.get("version"))
    runtimes = get(frag, "plugins", CRI_PLUGIN, "containerd", "runtimes") or {}
    names = sorted(n for n in runtimes if n != "runc")
    if names != [handler]:
        sys.exit("rendered fragment defines runtimes %s under plugins.%s.containerd.runtimes, "
                 "but the RuntimeClass handler is %r: they must match"
                 % (names, json.dumps(CRI_PLUGIN), handler))

    node = deep_merge(base, json.loads(json.dumps(frag)))
    # The merge must keep every fragment value exactly.
    def check(sub, path):
        for k, v in sub.items():
            if isinstance(v, dict):
                check(v, path + [k])
            elif get(node, *path, k) != v:
                sys.exit("merge lost fragment value %s" % ".".join(path + [k]))
    check(frag, [])
    with open(os.path.join(work, "node.toml"), "w") as f:
        f.write(toml_dump(node))

    # --- test substitutions (documented in README.md / docs/sandbox.md) ---
    test = json.loads(json.dumps(node))
    rt = get(test, "plugins", CRI_PLUGIN, "containerd", "runtimes")
    sub = rt[handler]
    wrapper = os.path.join(work, "runsc-wrapper")
    print("substitute runtimes.%s.runtime_type: %s -> io.containerd.runc.v2 "
          "(Debian has no containerd-shim-runsc-v1)" % (handler, sub.get("runtime_type")))
    print("substitute runtimes.%s.options: %s -> BinaryName=%s, Root=%s/runsc-root "
          "(runsc behind the runc v2 shim; runsc.toml flags moved into the wrapper)"
          % (handler, json.dumps(sub.get("options")), wrapper, work))
    sub["runtime_type"] = "io.containerd.runc.v2"
    sub["options"] = {"BinaryName": wrapper, "Root": work + "/runsc-root"}

    # Pod network namespaces are bind-mounted under the state directory
    # instead of /var/run/netns, so they live in the test's private mount
    # namespace and disappear with it.
    cri = get(test, "plugins", CRI_PLUGIN)
    print("substitute plugins.%s.netns_mounts_under_state_dir: %s -> true "
          "(pod network namespaces under %s/state, not /var/run/netns)"
          % (json.dumps(CRI_PLUGIN), json.dumps(cri.get("netns_mounts_under_state_dir", False)), work))
    cri["netns_mounts_under_state_dir"] = True

    # The wrapper passes runsc.toml's [runsc_config] the way the runsc shim
    # does (k = "v" -> --k=v); no network flag, so runsc uses its own
    # network stack (--network=sandbox) in the pod's namespace, as on a node.
    flags = []
    for k, v in sorted((runsc_toml.get("runsc_config") or {}).items()):
        if k == "systemd-cgroup" and not os.path.isdir("/run/systemd/system"):
            print("substitute runsc_config.systemd-cgroup=%s -> dropped "
                  "(no systemd on this machine; the test pods' cgroup parent is a cgroupfs path)" % v)
            continue
        flags.append("--%s=%s" % (k, v))
    print("runsc flags: %s" % " ".join(flags))
    # runsc 20221219 decides it is in the host's network namespace when
    # /proc/sys/net/core/rmem_default exists, and then refuses to set up its
    # network stack; recent kernels have that file in every network
    # namespace.  runsc therefore runs in a mount namespace of its own with
    # /proc/sys/net hidden (a mount over /proc/sys/net/core would not do:
    # procfs shows each network namespace its own entries below net/).
    print("substitute runsc is run with /proc/sys/net hidden in a private mount namespace "
          "(runsc 20221219 takes every network namespace for the host's on this kernel)")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# generated by tests/sandbox/sandbox.py: runsc with the rendered runsc.toml flags\n")
        runsc = ("/usr/bin/unshare --mount --propagation private -- /bin/sh -c "
                 "'mount -t tmpfs -o ro,size=4k secfaas-hide /proc/sys/net && exec \"$@\"' runsc "
                 "/usr/bin/runsc %s --debug-log=%s/runsc-logs/" % (
                     " ".join(shlex.quote(x) for x in flags), shlex.quote(work)))
        # `runsc start` of a second container in a pod starts that
        # container's gofer, which inherits stdout/stderr; the runc shim
        # reads `runc start` output to EOF and would wait for the gofer to
        # exit. Detach stdio for start (the runsc shim has no such issue).
        f.write('for a in "$@"; do\n'
                '\tif [ "$a" = start ]; then\n'
                '\t\texec %s "$@" </dev/null >>%s/runsc-start.log 2>&1\n'
                '\tfi\ndone\n' % (runsc, shlex.quote(work)))
        f.write('exec %s "$@"\n' % runsc)
    os.chmod(wrapper, 0o755)
    with open(os.path.join(work, "test.toml"), "w") as f:
        f.write(toml_dump(test))


# ---------------------------------------------------------------- image

def tar_add(tf, name, data=None, mode=0o644, link=None, isdir=False):
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    ti.uid = ti.gid = 0
    if isdir:
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tf.addfile(ti)
    elif link is not None:
        ti.type = tarfile.SYMTYPE
        ti.linkname = link
        ti.mode = 0o777
        tf.addfile(ti)
    else:
        ti.size = len(data)
        ti.mode = mode
        tf.addfile(ti, io.BytesIO(data))


def cmd_image(out, names):
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "root"):
            tar_add(tf, d, isdir=True)
        tar_add(tf, "bin/busybox", busybox, mode=0o755)
        for tool in ("sh", "uname", "dmesg", "sleep", "cat", "ls", "head", "grep", "id", "nc", "timeout",
                     "printf", "ip", "kill"):
            tar_add(tf, "bin/" + tool, link="busybox")
        tar_add(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        tar_add(tf, "etc/group", b"root:x:0:\n")
    layer = layer.getvalue()
    blobs = {}

    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        blobs[h] = data
        return {"digest": "sha256:" + h, "size": len(data)}

    ldesc = dict(mediaType="application/vnd.oci.image.layer.v1.tar", **blob(layer))
    config = {
        "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Entrypoint": ["/bin/sleep", "3600"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [ldesc["digest"]]},
    }
    cdesc = dict(mediaType="application/vnd.oci.image.config.v1+json",
                 **blob(json.dumps(config, sort_keys=True).encode()))
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cdesc, "layers": [ldesc]}
    mdesc = blob(json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "manifests": []}
    for n in names:
        index["manifests"].append(dict(
            mediaType="application/vnd.oci.image.manifest.v1+json", **mdesc,
            platform={"architecture": arch, "os": "linux"},
            annotations={"io.containerd.image.name": n,
                         "org.opencontainers.image.ref.name": n.rsplit(":", 1)[-1]}))
    with tarfile.open(out, "w") as tf:
        tar_add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        tar_add(tf, "index.json", json.dumps(index, sort_keys=True).encode())
        for h, data in sorted(blobs.items()):
            tar_add(tf, "blobs/sha256/" + h, data)


# ---------------------------------------------------------------- CRI

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_bytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def f_str(num, s):
    return f_bytes(num, s.encode())


def f_int(num, n):
    return varint(num << 3) + varint(n)


def f_map(num, d):
    return b"".join(f_bytes(num, f_str(1, k) + f_str(2, v)) for k, v in sorted(d.items()))


def decode(b):
    """Protobuf message -> {field: [value, ...]} (bytes for length-delimited)."""
    out, i = {}, 0
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def read_varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


class CRIError(Exception):
    pass


def call(sock, method, msg, timeout=60):
    """One unary gRPC call to runtime.v1.RuntimeService/<method>."""
    body = b"\x00" + len(msg).to_bytes(4, "big") + msg
    fd, hdr = tempfile.mkstemp(prefix="cri-hdr.", dir=os.path.dirname(sock))
    os.close(fd)
    r = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "--unix-socket", sock, "--max-time", str(timeout),
         "-H", "content-type: application/grpc", "-H", "te: trailers", "-D", hdr,
         "--data-binary", "@-", "-o", "-", "http://localhost/runtime.v1.RuntimeService/" + method],
        input=body, capture_output=True, check=False)
    with open(hdr, "rb") as f:
        headers = f.read().decode(errors="replace")
    os.unlink(hdr)
    if r.returncode != 0:
        raise CRIError("%s: curl exit %d: %s" % (method, r.returncode, r.stderr.decode().strip()))
    status, message = None, ""
    for line in headers.splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "grpc-status":
            status = int(v.strip())
        elif k.strip().lower() == "grpc-message":
            from urllib.parse import unquote
            message = unquote(v.strip())
    if status is None:
        raise CRIError("%s: no grpc-status in reply headers:\n%s" % (method, headers))
    if status != 0:
        raise CRIError("%s: grpc-status %d: %s" % (method, status, message))
    out = r.stdout
    if len(out) < 5:
        return {}
    n = int.from_bytes(out[1:5], "big")
    return decode(out[5:5 + n])


class Pod:
    """A pod sandbox with one long-running busybox container, made through
    CRI the way kubelet does for a pod with its own network namespace
    (NamespaceMode POD): containerd's CNI plugins give it its network.
    The cgroup parent is $SB_CGROUP_PARENT when set (the suite's per-run
    cgroup, removed at teardown)."""

    def __init__(self, sock, handler, image, name):
        self.sock, self.handler, self.image, self.name = sock, handler, image, name
        self.id = self.cid = self.ip = self.netns = self.reported_handler = None
        uid = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
        meta = f_str(1, name) + f_str(2, uid) + f_str(3, "default") + f_int(4, 0)
        linux = f_bytes(2, f_bytes(1, b""))  # namespace_options: all POD (0)
        cg = os.environ.get("SB_CGROUP_PARENT")
        if cg:
            linux = f_str(1, cg) + linux
        logdir = os.path.join(os.path.dirname(sock), "pod-logs", uid)
        os.makedirs(logdir, exist_ok=True)
        self.config = (f_bytes(1, meta) + f_str(2, name) + f_str(3, logdir) +
                       f_map(6, {"secfaas.dev/test": "sandbox"}) + f_bytes(8, linux))

    def start(self):
        r = call(self.sock, "RunPodSandbox", f_bytes(1, self.config) + f_str(2, self.handler), timeout=120)
        self.id = r[1][0].decode()
        st = call(self.sock, "PodSandboxStatus", f_str(1, self.id) + f_int(2, 1))
        status = decode(st[1][0])
        self.reported_handler = status.get(9, [b""])[0].decode()
        if 5 in status:
            self.ip = decode(status[5][0]).get(1, [b""])[0].decode() or None
        for kv in st.get(2, []):
            e = decode(kv)
            if e.get(1, [b""])[0] == b"info":
                info = json.loads(e[2][0])
                for ns in get(info, "runtimeSpec", "linux", "namespaces") or []:
                    if ns.get("type") == "network":
                        self.netns = ns.get("path")
        cmeta = f_str(1, "probe") + f_int(2, 0)
        cconfig = (f_bytes(1, cmeta) + f_bytes(2, f_str(1, self.image)) + f_str(3, "/bin/sleep") +
                   f_str(4, "3600") + f_str(11, "probe.log"))
        r = call(self.sock, "CreateContainer", f_str(1, self.id) + f_bytes(2, cconfig) + f_bytes(3, self.config),
                 timeout=120)
        self.cid = r[1][0].decode()
        call(self.sock, "StartContainer", f_str(1, self.cid), timeout=120)
        return self

    def exec(self, argv, timeout=30):
        """ExecSync argv in the container: {stdout, stderr, exit_code}."""
        msg = f_str(1, self.cid) + b"".join(f_str(2, a) for a in argv) + f_int(3, timeout)
        r = call(self.sock, "ExecSync", msg, timeout=timeout + 30)
        return {"stdout": r.get(1, [b""])[0].decode(errors="replace"),
                "stderr": r.get(2, [b""])[0].decode(errors="replace"),
                "exit_code": r.get(3, [0])[0]}

    def stop(self):
        call(self.sock, "StopPodSandbox", f_str(1, self.id), timeout=60)
        call(self.sock, "RemovePodSandbox", f_str(1, self.id), timeout=60)


def cmd_cri(sock, handler, image, cmds, stop=True):
    ver = call(sock, "Version", f_str(1, "v1"))
    result = {"runtime": (ver.get(2, [b""])[0] + b" " + ver.get(3, [b""])[0]).decode(),
              "handler": None, "sandbox_id": None, "ip": None, "netns": None, "results": []}
    pod = Pod(sock, handler, image, "sandbox-test-" + handler)
    try:
        pod.start()
    finally:
        result.update(handler=pod.reported_handler, sandbox_id=pod.id, ip=pod.ip, netns=pod.netns)
    try:
        for c in cmds:
            r = pod.exec(["/bin/sh", "-c", c])
            r["cmd"] = c
            result["results"].append(r)
    finally:
        if stop:
            try:
                pod.stop()
            except CRIError as e:
                print("cleanup: %s" % e, file=sys.stderr)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


def main(argv):
    if len(argv) >= 6 and argv[0] == "config":
        cmd_config(*argv[1:6])
    elif len(argv) >= 3 and argv[0] == "image":
        cmd_image(argv[1], argv[2:])
    elif len(argv) >= 5 and argv[0] == "cri":
        stop = argv[4] != "--no-stop"
        try:
            cmd_cri(argv[1], argv[2], argv[3], argv[4 if stop else 5:], stop)
        except CRIError as e:
            sys.exit("CRI: %s" % e)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
