"""Network namespaces held by file descriptors, never by name.

Owned by the kubesim suite (tests/kubesim).  kubesim gives its pods, nodes and
the simulated VPC network namespaces of their own.  A namespace made here is
referenced only by an open descriptor of kubesim's (and by the processes put
in it, which die with kubesim through PR_SET_PDEATHSIG): nothing is mounted
under /run/netns, so when kubesim exits -- kill -9 included -- the kernel
frees every namespace, veth pair and nftables table with the last reference.
The host's own namespace is never changed.

The calling thread enters a namespace only for the instant it takes to create
one or to open a socket in it (setns(2) acts on one thread); commands (ip,
nft) run in a child that enters the namespace before exec.  Needs root
(CAP_SYS_ADMIN and CAP_NET_ADMIN).
"""
import ctypes
import os
import shutil
import socket
import subprocess

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_BIND = 4096
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl  # noqa: B018 (resolve now: children call these between fork and exec)


class NetnsError(OSError):
    pass


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise NetnsError(e, "%s: %s" % (what, os.strerror(e)))


_HOST = None


def host_fd():
    global _HOST
    if _HOST is None:
        _HOST = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return _HOST


def unavailable_reason():
    """None when namespaces can be made here, else why not (one line)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for b in ("ip", "nft"):
        if shutil.which(b) is None:
            return "%s is missing (Debian packages iproute2 and nftables; make deps)" % b
    try:
        ctypes.CDLL("libnftables.so.1")
    except OSError:
        return "libnftables is missing (Debian package nftables; make deps)"
    try:
        fd = new_netns()
        os.close(fd)
    except OSError as e:
        return "cannot create a network namespace: %s" % e
    return None


def new_netns():
    """A fresh network namespace; returns an O_CLOEXEC descriptor that holds it."""
    host = host_fd()
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    try:
        return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        _check(_libc.setns(host, CLONE_NEWNET), "setns(host)")


def inode(fd):
    return os.fstat(fd).st_ino


def socket_in(fd, family=socket.AF_INET, kind=socket.SOCK_STREAM):
    """A socket that lives in namespace fd (usable from any thread afterwards)."""
    host = host_fd()
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")
    try:
        return socket.socket(family, kind)
    finally:
        _check(_libc.setns(host, CLONE_NEWNET), "setns(host)")


class entered:
    """with entered(fd): ... -- the calling thread (and threads it starts meanwhile) in namespace fd."""

    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        _check(_libc.setns(self.fd, CLONE_NEWNET), "setns")
        return self

    def __exit__(self, *exc):
        _check(_libc.setns(host_fd(), CLONE_NEWNET), "setns(host)")


def connect_in(fd, addr, timeout, source=None):
    """A TCP connection made from namespace fd (source: an address of that namespace)."""
    s = socket_in(fd)
    try:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect(addr)
        return s
    except BaseException:
        s.close()
        raise


def path(fd):
    """A path naming namespace fd for another process (ip link ... netns PATH)."""
    return "/proc/%d/fd/%d" % (os.getpid(), fd)


def enter(fd):
    """For preexec_fn: move the child into namespace fd (async-signal-safe enough: no allocation)."""
    return _libc.setns(fd, CLONE_NEWNET)


def run(fd, argv, text=None, timeout=30):
    """Run argv inside namespace fd; returns (rc, stdout, stderr)."""
    r = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=timeout, close_fds=True,
                       pass_fds=(fd,), preexec_fn=lambda: enter(fd))
    return r.returncode, r.stdout, r.stderr


def ip(fd, commands):
    """`ip -batch -` in namespace fd; raises NetnsError with ip's message on failure."""
    rc, out, err = run(fd, ["ip", "-batch", "-"], "\n".join(commands) + "\n")
    if rc != 0:
        raise NetnsError(0, "ip: %s" % (err.strip() or out.strip()))


def nft(fd, ruleset):
    rc, out, err = run(fd, ["nft", "-f", "-"], ruleset)
    if rc != 0:
        raise NetnsError(0, "nft: %s" % (err.strip() or out.strip()))


_NFTLIB = None


class Nft:
    """libnftables (the nft command's library, package nftables) bound to one namespace: its
    netlink socket is opened while the thread is in that namespace, so every later ruleset,
    whichever thread loads it, lands there -- without a fork and exec per reload."""

    def __init__(self, fd):
        global _NFTLIB
        if _NFTLIB is None:
            lib = ctypes.CDLL("libnftables.so.1")
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            _NFTLIB = lib
        self.lib = _NFTLIB
        with entered(fd):
            self.ctx = self.lib.nft_ctx_new(0)
        if not self.ctx:
            raise NetnsError(0, "nft: cannot create a libnftables context")
        self.lib.nft_ctx_buffer_error(self.ctx)
        self.lib.nft_ctx_buffer_output(self.ctx)

    def apply(self, ruleset):
        if self.lib.nft_run_cmd_from_buffer(self.ctx, ruleset.encode()) != 0:
            err = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode("utf-8", "replace")
            raise NetnsError(0, "nft: %s" % err.strip())

    def close(self):
        if self.ctx:
            self.lib.nft_ctx_free(self.ctx)
            self.ctx = None


def sysctl(fd, name, value):
    """Write /proc/sys/<name> as seen from namespace fd (net.* sysctls are per namespace)."""
    host = host_fd()
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")
    try:
        with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
            f.write(str(value))
    finally:
        _check(_libc.setns(host, CLONE_NEWNET), "setns(host)")


def pod_preexec(netfd, binds, hostname):
    """The part of a container's start that happens between fork and exec: enter the pod's
    network namespace, take a private mount namespace whose /etc/resolv.conf and /etc/hosts
    are the pod's files, and a UTS namespace named after the pod.  Returns an error number
    (0 = fine); no Python objects are created on the failure path."""
    if netfd is not None and _libc.setns(netfd, CLONE_NEWNET) != 0:
        return ctypes.get_errno() or 1
    if binds:
        if _libc.unshare(CLONE_NEWNS) != 0:
            return ctypes.get_errno() or 1
        if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            return ctypes.get_errno() or 1
        for src, dst in binds:
            if _libc.mount(src, dst, None, MS_BIND, None) != 0:
                return ctypes.get_errno() or 1
    if hostname:
        if _libc.unshare(CLONE_NEWUTS) != 0 or _libc.sethostname(hostname, len(hostname)) != 0:
            return ctypes.get_errno() or 1
    return 0
