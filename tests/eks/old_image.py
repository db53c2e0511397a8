#!/usr/bin/python3
"""old_image.py URL CONTAINERD [--no-tag] - make a gVisor image in the local AWS as an older bake
would have left it: built from an EKS AL2023 image that runs containerd CONTAINERD's major version
(1.7 up to Kubernetes 1.33's image of 2025-09, 2.1 from 1.34), with the secfaas gVisor tags and
secfaas:containerd-version CONTAINERD (e.g. 1.7.27), or, with --no-tag, without that tag, as a bake
from before secfaas recorded it left it.  Prints its image id.  Credentials and region come from the
environment (tests/sim.sh sim_aws_env).  Only loopback URLs are accepted.
"""
import os
import sys
import urllib.parse

import time

import botocore.exceptions
import botocore.session


def soon(call, **kw):
    """call(**kw), again while AWS does not know an id it just handed out
    (InvalidVpcID.NotFound and the like: new ids are eventually consistent,
    and AWS's guidance is to retry)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return call(**kw)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if not code.endswith(".NotFound") or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main():
    url, containerd, no_tag = sys.argv[1], sys.argv[2], "--no-tag" in sys.argv[3:]
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("old_image.py: refusing non-loopback endpoint %s" % url)
    s = botocore.session.get_session()
    region = os.environ.get("AWS_REGION")
    ec2 = s.create_client("ec2", endpoint_url=url, region_name=region)
    ssm = s.create_client("ssm", endpoint_url=url, region_name=region)
    minor = "1.33" if containerd.startswith("1.") else "1.35"
    base = ssm.get_parameter(Name="/aws/service/eks/optimized-ami/%s/amazon-linux-2023/x86_64/standard/"
                                  "recommended/image_id" % minor)["Parameter"]["Value"]
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    sub = soon(ec2.create_subnet, VpcId=vpc, CidrBlock="10.99.0.0/24")["Subnet"]["SubnetId"]
    iid = soon(ec2.run_instances, ImageId=base, InstanceType="m6i.large", MinCount=1, MaxCount=1, SubnetId=sub)[
        "Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.05, "MaxAttempts": 2000})
    tags = [{"Key": k, "Value": v} for k, v in (("secfaas:kind", "gvisor-ami"), ("secfaas:gvisor-release", "20250113.0"),
                                                 ("secfaas:containerd-version", containerd))
            if not (no_tag and k == "secfaas:containerd-version")]
    img = ec2.create_image(InstanceId=iid, Name="old-gvisor-" + containerd + ("-untagged" if no_tag else ""),
                           TagSpecifications=[
        {"ResourceType": "image", "Tags": tags}])["ImageId"]
    # A new image id is eventually consistent: DescribeImages may answer
    # InvalidAMIID.NotFound for a moment, which ImageAvailable treats as a
    # failure and ImageExists retries, as AWS's guidance for new ids says.
    ec2.get_waiter("image_exists").wait(ImageIds=[img], WaiterConfig={"Delay": 0.05, "MaxAttempts": 4000})
    ec2.get_waiter("image_available").wait(ImageIds=[img], WaiterConfig={"Delay": 0.05, "MaxAttempts": 4000})
    ec2.terminate_instances(InstanceIds=[iid])
    print(img)


main()
