"""SSM: the public EKS-optimized AMI parameters.

GetParameter/GetParameters/GetParametersByPath answer
/aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/<arch>/<flavor>/recommended/{image_id,release_version}
for every Kubernetes version of eks_catalog.py with the AMIs that EC2 pre-registers in each region
(owner amazon); anything else is ParameterNotFound.
"""
import re

from .core import AwsError

PARAM_RE = re.compile(r"^/aws/service/eks/optimized-ami/(\d+\.\d+)/amazon-linux-2023/(x86_64|arm64)/"
                      r"(standard|nvidia|neuron)/recommended/(image_id|release_version)$")


class SSM:
    def __init__(self, sim):
        self.sim = sim

    def _lookup(self, ctx, name):
        m = PARAM_RE.match(name)
        if not m:
            return None
        ver, arch, flavor, what = m.groups()
        for img in self.sim.services["ec2"].public_images(ctx.region).values():
            if img["_k8s"] == ver and img["Architecture"] == arch and img["_flavor"] == flavor:
                value = img["ImageId"] if what == "image_id" else img["_release"]
                return {"Name": name, "Type": "String", "Value": value, "Version": 1,
                        "LastModifiedDate": 1757894400.0, "DataType": "text" if what != "image_id" else "aws:ec2:image",
                        "ARN": f"arn:{ctx.partition}:ssm:{ctx.region}::parameter{name}"}
        return None

    def GetParameter(self, ctx, p):
        prm = self._lookup(ctx, p["Name"])
        if prm is None:
            raise AwsError("ParameterNotFound", "", 400)
        return {"Parameter": prm}

    def GetParameters(self, ctx, p):
        found, bad = [], []
        for n in p["Names"]:
            prm = self._lookup(ctx, n)
            (found if prm else bad).append(prm or n)
        return {"Parameters": found, "InvalidParameters": bad}
