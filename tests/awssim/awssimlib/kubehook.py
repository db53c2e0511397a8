"""Starting and stopping the per-cluster Kubernetes simulator (tests/kubesim).

Contract with tests/kubesim (keep exactly): when an EKS cluster turns ACTIVE,
awssim makes a per-cluster CA + server cert for 127.0.0.1, runs
  kubesim --cluster NAME --region R --account ACCT --port 0 --port-file F
          --cert CERT --key KEY --aws-url URL [--aws-ca CA] --timescale X
          --cluster-ca CA.pem [--service-cidr CIDR --control-plane-ips IP,IP]
waits for F, and reports endpoint https://127.0.0.1:<port>.  Without the
kubesim executable the endpoint is https://127.0.0.1:9 and a warning is
logged.  AWSSIM_KUBESIM=/path overrides the executable, AWSSIM_KUBESIM=none
disables it.

Network policy: when the vpc-cni add-on's configuration values turn
enableNetworkPolicy on or off (or the add-on goes away), awssim calls
set_network_policy(), which posts {"enforce": true|false} to the cluster's
kubesim at POST /_kubesim/network-policy.  The same state is readable at
GET /_awssim/eks/clusters/NAME/addons ("networkPolicy").

awssim's node-group admin listing carries each group's MetadataOptions
(metadata_options) and subnet CIDRs, which kubesim's per-node metadata service
and pod addresses use.
"""
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from .tlsgen import cluster_material

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_KUBESIM = os.path.join(os.path.dirname(HERE), "kubesim", "kubesim")
# How long a kubesim may take to write its port file.  Not an expectation but
# a ceiling against a hung process: a kubesim that fails exits, which ends the
# wait at once, and on a machine running other test suites a start has been
# seen to take half a minute (as has awssim's own).
START_TIMEOUT = 600.0


def kubesim_path():
    p = os.environ.get("AWSSIM_KUBESIM")
    if p == "none":
        return None
    p = p or DEFAULT_KUBESIM
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


class KubeProc:
    """A running kubesim for one cluster (or a placeholder without one)."""

    def __init__(self, proc, port, ca_pem, workdir):
        self.proc = proc
        self.port = port
        self.ca_pem = ca_pem
        self.workdir = workdir

    @property
    def endpoint(self):
        return f"https://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except OSError:
            pass


# MetadataOptions of the launch template EKS makes for a node group that names none of its own
EKS_DEFAULT_METADATA = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}


def metadata_options(has_launch_template, lt_data):
    """The MetadataOptions a node group's instances run with, for kubesim's metadata service:
    the launch template's over EC2's instance defaults (as awssim's RunInstances applies them),
    or EKS's default template (tokens required, hop limit 2) when the group has none."""
    if not has_launch_template:
        return dict(EKS_DEFAULT_METADATA)
    mo = (lt_data or {}).get("MetadataOptions") or {}
    return {"HttpTokens": mo.get("HttpTokens", "optional"),
            "HttpPutResponseHopLimit": int(mo.get("HttpPutResponseHopLimit", 1)),
            "HttpEndpoint": mo.get("HttpEndpoint", "enabled")}


def cluster_network(sim, cluster, region, account):
    """(service CIDR, control-plane ENI addresses) from the cluster's record, for kubesim's
    Service default/kubernetes and its pod network; (None, []) when not found."""
    eks = sim.services.get("eks") if hasattr(sim, "services") else None
    if eks is None:
        return None, []
    with sim.lock:
        found = eks.find_cluster(cluster, account, region)
        if found is None:
            return None, []
        _, _, st, c = found
        cidr = (c.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr")
        ips = [st["enis"][e].get("PrivateIpAddress") for e in c.get("_enis") or [] if e in st.get("enis", {})]
    return cidr, [ip for ip in ips if ip]


def start(sim, cluster, region, account):
    """Start kubesim for a cluster; returns a KubeProc (port 9 when absent)."""
    workdir = os.path.join(sim.state_dir, "clusters", f"{account}-{region}-{cluster}")
    ca_pem, cert, key = cluster_material(workdir, cluster)
    exe = kubesim_path()
    if exe is None:
        sim.log(f"warning: tests/kubesim/kubesim not found; cluster {cluster} endpoint is https://127.0.0.1:9")
        return KubeProc(None, 9, ca_pem, workdir)
    port_file = os.path.join(workdir, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    args = [exe, "--cluster", cluster, "--region", region, "--account", account, "--port", "0",
            "--port-file", port_file, "--cert", cert, "--key", key, "--aws-url", sim.base_url,
            "--timescale", repr(sim.clock.timescale), "--cluster-ca", os.path.join(workdir, "ca.pem")]
    if sim.ca_path:
        args += ["--aws-ca", sim.ca_path]
    svc_cidr, cp_ips = cluster_network(sim, cluster, region, account)
    if svc_cidr:
        args += ["--service-cidr", svc_cidr]
    if cp_ips:
        args += ["--control-plane-ips", ",".join(cp_ips)]
    log = open(os.path.join(workdir, "kubesim.log"), "ab")
    proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=workdir)
    log.close()
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kubesim for {cluster} exited with {proc.returncode}; see {workdir}/kubesim.log")
        try:
            with open(port_file) as fh:
                text = fh.read().strip()
            if text:
                port = int(text)
                sim.log(f"kubesim for cluster {cluster} on port {port} (pid {proc.pid})")
                return KubeProc(proc, port, ca_pem, workdir)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"kubesim for {cluster} did not write {port_file} within {START_TIMEOUT}s")


def set_network_policy(cluster, enabled, timeout=10.0):
    """Tell a cluster's kubesim whether NetworkPolicy is enforced, as the VPC CNI
    add-on's network policy agent would (vpc-cni configuration values
    {"enableNetworkPolicy": "true"}): POST /_kubesim/network-policy
    {"enforce": true|false} on the cluster endpoint, TLS verified with the
    cluster's CA.  cluster: the KubeProc that start() returned.  Raises
    RuntimeError when kubesim does not answer 2xx (the caller retries);
    returns quietly for the placeholder without a kubesim process."""
    if cluster.proc is None:
        return
    ctx = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    req = urllib.request.Request(cluster.endpoint + "/_kubesim/network-policy", method="POST",
                                 data=json.dumps({"enforce": bool(enabled)}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            r.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"kubesim answered {e.code} to POST /_kubesim/network-policy") from None
    except (urllib.error.URLError, OSError) as e:
        raise RuntimeError(f"kubesim unreachable for POST /_kubesim/network-policy: {e}") from None
