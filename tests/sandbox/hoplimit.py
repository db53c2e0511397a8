#!/usr/bin/python3
"""Network namespaces for tests/sandbox (README.md there): pods one routed
hop behind a node, and EC2's metadata address one link from the node.

  hoplimit.py net-up WORK
      WORK/ns/node and WORK/ns/imds: network namespaces bind-mounted there
      (the suite runs in a private mount namespace, so they vanish with it).
      imds holds 169.254.169.254 on its end of a veth pair whose other end
      is the node's eth0 (10.0.0.10/24), one link away as EC2's metadata
      service is; forwarding is on in node.  Writes the CNI config that
      containerd (started in node) uses for pods: ptp + host-local, a veth
      per pod into node, the pod's /32 routed there (10.200.0.0/24).

Test tooling only: nothing here is shipped.
"""
import json
import os
import subprocess
import sys

IMDS = "169.254.169.254"
NODE_ADDR = "10.0.0.10"
NODE_LINK = "10.0.0.0/24"
POD_CIDR = "10.200.0.0/24"


def run(*argv, check=True, netns=None, timeout=120):
    if netns:
        argv = ("nsenter", "--net=" + netns) + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r


# ---------------------------------------------------------------- topology

def net_up(work):
    nsdir = os.path.join(work, "ns")
    os.makedirs(nsdir, exist_ok=True)
    node, imds = os.path.join(nsdir, "node"), os.path.join(nsdir, "imds")
    for ns in (node, imds):
        open(ns, "w").close()
        run("unshare", "--net=" + ns, "true")
    # Both ends are created inside node and one is moved to imds: nothing
    # is ever added to the host's own network namespace.
    run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "nitro0", "netns", imds, netns=node)
    for cmd in (("ip", "link", "set", "lo", "up"),
                ("ip", "addr", "add", NODE_ADDR + "/24", "dev", "eth0"),
                ("ip", "link", "set", "eth0", "up"),
                ("ip", "route", "add", IMDS + "/32", "dev", "eth0"),
                ("sysctl", "-qw", "net.ipv4.ip_forward=1")):
        run(*cmd, netns=node)
    for cmd in (("ip", "link", "set", "lo", "up"),
                ("ip", "addr", "add", IMDS + "/32", "dev", "nitro0"),
                ("ip", "link", "set", "nitro0", "up"),
                ("ip", "route", "add", NODE_LINK, "dev", "nitro0"),
                ("ip", "route", "add", POD_CIDR, "via", NODE_ADDR, "dev", "nitro0")):
        run(*cmd, netns=imds)
    cni = os.path.join(work, "cni")
    os.makedirs(os.path.join(cni, "bin"), exist_ok=True)
    os.makedirs(os.path.join(cni, "net.d"), exist_ok=True)
    for plugin in ("ptp", "host-local", "loopback"):
        dst = os.path.join(cni, "bin", plugin)
        if not os.path.exists(dst):
            os.symlink("/usr/lib/cni/" + plugin, dst)
    conf = {"cniVersion": "1.0.0", "name": "secfaas-sandbox-pods", "plugins": [{
        "type": "ptp", "ipMasq": False,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}],
                 "dataDir": os.path.join(cni, "ipam")}}]}
    with open(os.path.join(cni, "net.d", "10-secfaas-sandbox-pods.conflist"), "w") as f:
        json.dump(conf, f, indent=1)
    print("node %s: eth0 %s/24, route %s/32 dev eth0, ip_forward=1; imds %s: nitro0 %s, "
          "pods %s via ptp (one routed hop behind node)" % (node, NODE_ADDR, IMDS, imds, IMDS, POD_CIDR))


def main(argv):
    if len(argv) == 2 and argv[0] == "net-up":
        net_up(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
