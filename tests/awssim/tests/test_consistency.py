"""Eventual consistency, on the simulated clock: a new IAM role is refused by
STS and EKS and a new instance profile by RunInstances (AWS's exact texts)
until IAM has propagated them; a new EC2 id is unknown to every other call
(EC2, and EKS's checks of subnets) and missing from listings for a moment;
CreateTags/DeleteTags and attribute changes reach readers late.  The suite
runs with the windows off; each test turns them on with a scale and the clock
at real-time scale, so they last hours of real time (no load on the machine
lets one pass before the test looks), and moves the simulated clock past them
instead of waiting."""
import json
import unittest

from botocore.exceptions import ClientError

from common import ACCOUNT, REGION, admin, advance, client, consistency, reset

# At timescale 1 a window of W AWS seconds lasts W x SCALE real seconds: the
# shortest one here (1.5 s) over four hours.
SCALE = 10000


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
        self.timescale = admin("GET", "clock")["timescale"]
        admin("POST", "clock", {"timescale": 1})
        consistency(SCALE)

    def tearDown(self):
        consistency(0)
        admin("POST", "clock", {"timescale": self.timescale})

    def past(self, kind):
        """Advance the simulated clock past the longest window of this kind."""
        w = admin("GET", "consistency")["delays"][kind]
        advance(w * SCALE * 1.2)


class Admin(unittest.TestCase):
    def test_scale_is_configurable(self):
        got = consistency(2.5)
        try:
            self.assertEqual(got["scale"], 2.5)
            self.assertEqual(set(got["delays"]), {"iam.role", "iam.instance-profile", "ec2.id", "ec2.tags",
                                                  "ec2.attribute"})
            self.assertEqual(admin("GET", "config")["consistencyDelayScale"], 2.5)
            # per family or window, the longest name wins; the rest keep the default
            got = admin("POST", "consistency", {"scale": 1, "scales": {"ec2": 0, "ec2.tags": 3}})
            self.assertEqual(got["effective"], {"iam.role": 1, "iam.instance-profile": 1, "ec2.id": 0,
                                                "ec2.tags": 3, "ec2.attribute": 0})
        finally:
            consistency(0)
        for bad in ({"scale": -1}, {"scales": {"nosuch": 1}}, {"scale": "x"}):
            with self.assertRaises(Exception):
                admin("POST", "consistency", bad)

    def test_cli_flag_per_family(self):
        from awssimlib.sim import parse_consistency
        self.assertEqual(parse_consistency("0"), (0.0, {}))
        self.assertEqual(parse_consistency("ec2=0"), (1.0, {"ec2": 0.0}))
        self.assertEqual(parse_consistency("2,iam.role=0"), (2.0, {"iam.role": 0.0}))
        for bad in ("-1", "ec2=x", "s3=1"):
            with self.assertRaises(ValueError):
                parse_consistency(bad)


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


class Ec2(Base):
    def test_new_ids_unknown_to_other_calls(self):
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.51.0.0/16")["Vpc"]["VpcId"]
        with self.assertRaises(ClientError) as cm:
            ec2.describe_vpcs(VpcIds=[vpc])
        self.assertEqual((code(cm.exception), msg(cm.exception)), ("InvalidVpcID.NotFound",
                                                                   f"The vpc ID '{vpc}' does not exist"))
        self.assertEqual(ec2.describe_vpcs()["Vpcs"], [])       # not listed yet either
        with self.assertRaises(ClientError) as cm:
            ec2.create_subnet(VpcId=vpc, CidrBlock="10.51.1.0/24", AvailabilityZone=REGION + "a")
        self.assertEqual(code(cm.exception), "InvalidVpcID.NotFound")
        with self.assertRaises(ClientError) as cm:
            ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(code(cm.exception), "InvalidVpcID.NotFound")
        self.past("ec2.id")
        self.assertEqual([v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]], [vpc])
        subs = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.51.{i}.0/24", AvailabilityZone=REGION + z)["Subnet"]
                ["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        with self.assertRaises(ClientError) as cm:
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        self.assertEqual((code(cm.exception), msg(cm.exception)), ("InvalidGroup.NotFound",
                                                                   f"The security group '{sg}' does not exist"))
        self.assertEqual(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"], [])
        # EKS asks EC2 about the subnets and gets the same answer
        consistency(0)
        iam = client("iam")
        role = iam.create_role(RoleName="eks", AssumeRolePolicyDocument=trust({"Service": "eks.amazonaws.com"}))
        consistency(SCALE)
        with self.assertRaises(ClientError) as cm:
            client("eks").create_cluster(name="early", roleArn=role["Role"]["Arn"],
                                         resourcesVpcConfig={"subnetIds": subs})
        self.assertEqual(code(cm.exception), "InvalidParameterException")
        self.assertEqual(msg(cm.exception), f"The subnet ID '{subs[0]}' does not exist (Service: AmazonEC2; Status "
                                            "Code: 400; Error Code: InvalidSubnetID.NotFound)")
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        lt = ec2.create_launch_template(LaunchTemplateName="lt-1", LaunchTemplateData={"InstanceType": "m5.large"})
        for call, want in ((lambda: ec2.associate_route_table(RouteTableId=rtb, SubnetId=subs[0]),
                            "InvalidRouteTableID.NotFound"),
                           (lambda: ec2.describe_route_tables(RouteTableIds=[rtb]), "InvalidRouteTableID.NotFound"),
                           (lambda: ec2.describe_launch_templates(
                               LaunchTemplateIds=[lt["LaunchTemplate"]["LaunchTemplateId"]]),
                            "InvalidLaunchTemplateId.NotFound")):
            with self.assertRaises(ClientError) as cm:
                call()
            self.assertEqual(code(cm.exception), want)
        self.past("ec2.id")
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subs[0])
        self.assertEqual(len(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]), 2)
        # the canonical case of the EC2 documentation: an instance just launched
        ami = client("ssm").get_parameter(Name="/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/"
                                               "standard/recommended/image_id")["Parameter"]["Value"]
        iid = ec2.run_instances(ImageId=ami, InstanceType="m5.large", MinCount=1, MaxCount=1,
                                SubnetId=subs[0])["Instances"][0]["InstanceId"]
        with self.assertRaises(ClientError) as cm:
            ec2.describe_instances(InstanceIds=[iid])
        self.assertEqual(code(cm.exception), "InvalidInstanceID.NotFound")
        with self.assertRaises(ClientError) as cm:
            ec2.terminate_instances(InstanceIds=[iid])
        self.assertEqual(code(cm.exception), "InvalidInstanceID.NotFound")
        self.past("ec2.id")
        self.assertEqual(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["InstanceId"],
                         iid)

    def test_tags_and_attributes_reach_readers_late(self):
        consistency(0)
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.52.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
            {"Key": "at-create", "Value": "1"}]}])["Vpc"]["VpcId"]
        consistency(SCALE)
        # tags given at creation come with the resource; later ones lag
        self.assertEqual(len(ec2.describe_vpcs(Filters=[{"Name": "tag:at-create", "Values": ["1"]}])["Vpcs"]), 1)
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "owner", "Value": "ci"}])
        self.assertEqual(ec2.describe_vpcs(Filters=[{"Name": "tag:owner", "Values": ["ci"]}])["Vpcs"], [])
        self.assertEqual(ec2.describe_tags(Filters=[{"Name": "key", "Values": ["owner"]}])["Tags"], [])
        ec2.delete_tags(Resources=[vpc], Tags=[{"Key": "at-create"}])
        self.assertEqual(len(ec2.describe_vpcs(Filters=[{"Name": "tag:at-create", "Values": ["1"]}])["Vpcs"]), 1)
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        self.assertFalse(ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")
                         ["EnableDnsHostnames"]["Value"])
        self.past("ec2.tags")
        got = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]
        self.assertEqual(got, [{"Key": "owner", "Value": "ci"}])   # applied in order: create, then delete
        self.assertTrue(ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")
                        ["EnableDnsHostnames"]["Value"])
        with self.assertRaises(ClientError) as cm:
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True}, EnableDnsSupport={"Value": True})
        self.assertEqual(code(cm.exception), "InvalidParameterCombination")

    def test_off_means_read_after_write(self):
        consistency(0)
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.53.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"], [{"Key": "k", "Value": "v"}])
