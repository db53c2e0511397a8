"""Eventual consistency, on the simulated clock: a new IAM role is refused by
STS and EKS and a new instance profile by RunInstances (AWS's exact texts)
until IAM has propagated them.  The suite runs with the windows off; each
test turns them on with a scale that makes them last seconds of real time
(so a busy machine cannot outrun them) and moves the simulated clock past
them instead of waiting."""
import json
import unittest

from botocore.exceptions import ClientError

from common import ACCOUNT, REGION, admin, advance, client, consistency, reset

# With timescale 0.001 a window of W AWS seconds lasts W x SCALE / 1000 real seconds.
SCALE = 1000


def code(e):
    return e.response["Error"]["Code"]


def msg(e):
    return e.response["Error"]["Message"]


def trust(principal):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal,
                                                                "Action": "sts:AssumeRole"}]})


class Base(unittest.TestCase):
    def setUp(self):
        reset()
        consistency(SCALE)

    def tearDown(self):
        consistency(0)

    def past(self, kind):
        """Advance the simulated clock past the longest window of this kind."""
        w = admin("GET", "consistency")["delays"][kind]
        advance(w * SCALE * 1.2)


class Admin(unittest.TestCase):
    def test_scale_is_configurable(self):
        got = consistency(2.5)
        try:
            self.assertEqual(got["scale"], 2.5)
            self.assertEqual(set(got["delays"]), {"iam.role", "iam.instance-profile", "ec2.id", "ec2.tags"})
            self.assertEqual(admin("GET", "config")["consistencyDelayScale"], 2.5)
        finally:
            consistency(0)
        with self.assertRaises(Exception):
            consistency(-1)


class Iam(Base):
    def test_new_role_refused_by_sts_until_propagated(self):
        iam, sts = client("iam"), client("sts")
        arn = iam.create_role(RoleName="ci", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]["Arn"]
        with self.assertRaises(ClientError) as cm:
            sts.assume_role(RoleArn=arn, RoleSessionName="sess")
        self.assertEqual(code(cm.exception), "AccessDenied")
        self.assertEqual(iam.get_role(RoleName="ci")["Role"]["Arn"], arn)   # IAM itself already knows it
        self.past("iam.role")
        self.assertTrue(sts.assume_role(RoleArn=arn, RoleSessionName="sess")["Credentials"]["SessionToken"])

    def test_new_instance_profile_refused_by_run_instances(self):
        iam, ec2 = client("iam"), client("ec2")
        iam.create_role(RoleName="builder", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
        prof = iam.create_instance_profile(InstanceProfileName="builder")["InstanceProfile"]
        iam.add_role_to_instance_profile(InstanceProfileName="builder", RoleName="builder")
        consistency(0)
        vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24", AvailabilityZone=REGION + "a")["Subnet"]
        ami = client("ssm").get_parameter(Name="/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/"
                                               "standard/recommended/image_id")["Parameter"]["Value"]
        args = dict(ImageId=ami, InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=sub["SubnetId"])
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(IamInstanceProfile={"Name": "builder"}, **args)
        self.assertEqual(code(cm.exception), "InvalidParameterValue")
        self.assertEqual(msg(cm.exception), "Value (builder) for parameter iamInstanceProfile.name is invalid. "
                                            "Invalid IAM Instance Profile name")
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(IamInstanceProfile={"Arn": prof["Arn"]}, **args)
        self.assertEqual(msg(cm.exception), f"Value ({prof['Arn']}) for parameter iamInstanceProfile.arn is invalid. "
                                            "Invalid IAM Instance Profile ARN")
        self.past("iam.instance-profile")
        r = ec2.run_instances(IamInstanceProfile={"Name": "builder"}, **args)
        self.assertEqual(r["Instances"][0]["IamInstanceProfile"]["Arn"], prof["Arn"])

    def test_scale_zero_turns_propagation_off(self):
        consistency(0)
        iam, sts = client("iam"), client("sts")
        arn = iam.create_role(RoleName="now", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]["Arn"]
        sts.assume_role(RoleArn=arn, RoleSessionName="sess")
