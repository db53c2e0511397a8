#!/usr/bin/python3
"""old_image.py URL CONTAINERD - make a gVisor image in the local AWS as an older bake would have
left it: the secfaas gVisor tags, and secfaas:containerd-version CONTAINERD (e.g. 1.7.27, an EKS
AL2023 AMI from before containerd 2.1).  Prints its image id.  Credentials and region come from the
environment (tests/sim.sh sim_aws_env).  Only loopback URLs are accepted.
"""
import os
import sys
import urllib.parse

import botocore.session


def main():
    url, containerd = sys.argv[1], sys.argv[2]
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("old_image.py: refusing non-loopback endpoint %s" % url)
    s = botocore.session.get_session()
    region = os.environ.get("AWS_REGION")
    ec2 = s.create_client("ec2", endpoint_url=url, region_name=region)
    ssm = s.create_client("ssm", endpoint_url=url, region_name=region)
    base = ssm.get_parameter(Name="/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/"
                                  "recommended/image_id")["Parameter"]["Value"]
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.0.0/24")["Subnet"]["SubnetId"]
    iid = ec2.run_instances(ImageId=base, InstanceType="m6i.large", MinCount=1, MaxCount=1, SubnetId=sub)[
        "Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.05, "MaxAttempts": 2000})
    tags = [{"Key": k, "Value": v} for k, v in (("secfaas:kind", "gvisor-ami"), ("secfaas:gvisor-release", "20250113.0"),
                                                 ("secfaas:containerd-version", containerd))]
    img = ec2.create_image(InstanceId=iid, Name="old-gvisor-" + containerd, TagSpecifications=[
        {"ResourceType": "image", "Tags": tags}])["ImageId"]
    # A new image id is eventually consistent: DescribeImages may answer
    # InvalidAMIID.NotFound for a moment, which ImageAvailable treats as a
    # failure and ImageExists retries, as AWS's guidance for new ids says.
    ec2.get_waiter("image_exists").wait(ImageIds=[img], WaiterConfig={"Delay": 0.05, "MaxAttempts": 4000})
    ec2.get_waiter("image_available").wait(ImageIds=[img], WaiterConfig={"Delay": 0.05, "MaxAttempts": 4000})
    ec2.terminate_instances(InstanceIds=[iid])
    print(img)


main()
