"""Local cluster for the k8s suite: a kubesim (static token) fed by the
kubesim harness's fake AWS with one system node group and one gVisor node
group (sandbox label + taint, runsc configured in containerd).  Loopback only.
"""
import base64
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "kubesim", "tests"))
import harness  # noqa: E402

SANDBOX_KEY = "secfaas.dev/sandbox"
TOKEN = "k8s-suite-static-token"


def groups():
    gv_labels = {SANDBOX_KEY: "gvisor"}
    taint = "%s=gvisor:NoSchedule" % SANDBOX_KEY
    return [
        harness.group("system", 2, labels={"role": "system"},
                      user_data=harness.node_config(runsc=False)),
        harness.group("gvisor", 2, labels=gv_labels,
                      taints=[{"key": SANDBOX_KEY, "value": "gvisor", "effect": "NO_SCHEDULE"}],
                      user_data=harness.node_config(labels=gv_labels, taints=[taint], runsc=True)),
    ]


class Cluster:
    def __init__(self, tmp, cluster="demo", version=None, with_groups=True):
        self.aws = harness.FakeAWS(cluster)
        if with_groups:
            self.aws.set_groups(groups())
        extra = ["--version", version] if version else []
        self.k = harness.Kubesim(tmp, cluster=cluster, token=TOKEN, aws=self.aws, extra=extra)
        self.url = self.k.url
        self.ca_b64 = base64.b64encode(open(self.k.ca, "rb").read()).decode()
        self.token = TOKEN

    def stop(self):
        self.k.stop()
        self.aws.close()
