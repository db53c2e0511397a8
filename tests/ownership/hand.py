#!/usr/bin/python3
"""hand.py URL COMMAND ARGS... - make or change AWS objects "by hand" in the
local AWS, as another team or tool would (boto3, never secfaas), for the
ownership suite.  Only loopback URLs are accepted.

  role NAME SERVICE [POLICY_ARN...]     a role trusting SERVICE, policies attached
  profile NAME [ROLE]                   an instance profile, optionally holding ROLE
  add-to-profile PROFILE ROLE
  delete-role NAME                      detach, remove from profiles, delete
  vpc CIDR NAME_TAG [K=V...]            a VPC with 2 subnets; prints the VPC id
  cluster NAME ROLE VPC_ID              an EKS cluster in that VPC's subnets (waits ACTIVE)
  access-entry CLUSTER PRINCIPAL_ARN    an access entry made outside secfaas
  tag-role NAME K=V...                  (re)tag a role
"""
import os
import sys
import tempfile
import time
import urllib.parse

import boto3
from botocore.config import Config

URL = sys.argv[1]
HOST = urllib.parse.urlparse(URL).hostname or ""
if not (HOST.startswith("127.") or HOST in ("::1", "localhost")):
    sys.exit("hand.py: refusing non-loopback endpoint %s" % URL)
# EKS access entries are in awssim's overlay models, not in Debian's botocore
_models = tempfile.mkdtemp()
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "awssim"))
from awssimlib.wire import write_client_models  # noqa: E402

write_client_models(_models)
os.environ["AWS_DATA_PATH"] = _models
SESSION = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region_name="eu-west-1")


def client(svc):
    return SESSION.client(svc, endpoint_url=URL, region_name="us-east-1" if svc == "iam" else "eu-west-1",
                          config=Config(retries={"mode": "standard", "max_attempts": 10}))


def trust(service):
    return ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"%s"},'
            '"Action":"sts:AssumeRole"}]}' % service)


def kv(args):
    return [{"Key": a.split("=", 1)[0], "Value": a.split("=", 1)[1]} for a in args]


def until(fn, what, limit=600):
    for _ in range(limit):
        try:
            if fn():
                return
        except Exception:  # not visible yet (propagation)
            pass
        time.sleep(0.05)  # polling the simulator's state machine, not synchronising with secfaas
    sys.exit("hand.py: timed out waiting for " + what)


def main():
    cmd, a = sys.argv[2], sys.argv[3:]
    iam, ec2, eks = client("iam"), client("ec2"), client("eks")
    if cmd == "role":
        iam.create_role(RoleName=a[0], AssumeRolePolicyDocument=trust(a[1]))
        for p in a[2:]:
            iam.attach_role_policy(RoleName=a[0], PolicyArn=p)
    elif cmd == "profile":
        iam.create_instance_profile(InstanceProfileName=a[0])
        if len(a) > 1:
            iam.add_role_to_instance_profile(InstanceProfileName=a[0], RoleName=a[1])
    elif cmd == "add-to-profile":
        iam.add_role_to_instance_profile(InstanceProfileName=a[0], RoleName=a[1])
    elif cmd == "delete-role":
        for p in iam.list_attached_role_policies(RoleName=a[0])["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=a[0], PolicyArn=p["PolicyArn"])
        for p in iam.list_instance_profiles_for_role(RoleName=a[0])["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(InstanceProfileName=p["InstanceProfileName"], RoleName=a[0])
        iam.delete_role(RoleName=a[0])
    elif cmd == "tag-role":
        iam.tag_role(RoleName=a[0], Tags=kv(a[1:]))
    elif cmd == "vpc":
        tags = kv(["Name=" + a[1]] + a[2:])
        v = ec2.create_vpc(CidrBlock=a[0], TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])["Vpc"]["VpcId"]
        base = a[0].split(".")
        for i, az in enumerate(("eu-west-1a", "eu-west-1b")):
            until(lambda: ec2.create_subnet(VpcId=v, CidrBlock="%s.%s.%d.0/24" % (base[0], base[1], i),
                                            AvailabilityZone=az), "subnet")
        print(v)
    elif cmd == "cluster":
        sn = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [a[2]]}])["Subnets"]]
        arn = iam.get_role(RoleName=a[1])["Role"]["Arn"]
        until(lambda: eks.create_cluster(name=a[0], roleArn=arn, resourcesVpcConfig={"subnetIds": sn},
                                         accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}), "create")
        until(lambda: eks.describe_cluster(name=a[0])["cluster"]["status"] == "ACTIVE", "cluster ACTIVE")
    elif cmd == "access-entry":
        eks.create_access_entry(clusterName=a[0], principalArn=a[1])
    else:
        sys.exit("hand.py: unknown command " + cmd)


main()
