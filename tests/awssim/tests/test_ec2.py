"""EC2 and SSM through boto3: VPC networking with AWS's dependency rules,
tags and filters, pagination, launch templates, instances (state machine,
waiters, ClientToken idempotency), the AMI bake flow (console marker,
CreateImage, snapshots), SSM public AMI parameters."""
import base64
import time
import unittest

from botocore.exceptions import ClientError

from common import REGION, admin, advance, client, inventory, reset


def code(e):
    return e.response["Error"]["Code"]


def wait_stopped_after_boot(ec2, iid):
    """Until an instance that stops itself (a builder's poweroff) is stopped.  Not the
    InstanceStopped waiter: its model makes "pending" a failure state, which a builder
    just launched may still be in when the first poll comes."""
    for _ in range(2000):
        st = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
        if st == "stopped":
            return
        if st in ("shutting-down", "terminated"):
            raise AssertionError("%s is %s, not stopping" % (iid, st))
        time.sleep(0.05)
    raise AssertionError("%s never stopped" % iid)


def tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


class Ec2Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reset()
        cls.ec2 = client("ec2")
        cls.ssm = client("ssm")

    def net(self, cidr="10.1.0.0/16"):
        vpc = self.ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[{"ResourceType": "vpc", "Tags": tags(
            {"secfaas:stack": "t"})}])["Vpc"]["VpcId"]
        base = cidr.split(".")
        subs = [self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base[0]}.{base[1]}.{i}.0/24",
                                       AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
                for i, z in ((1, "a"), (2, "b"))]
        return vpc, subs

    def ami(self, ver="1.31", arch="x86_64"):
        return self.ssm.get_parameter(Name=f"/aws/service/eks/optimized-ami/{ver}/amazon-linux-2023/{arch}/"
                                           "standard/recommended/image_id")["Parameter"]["Value"]


class NetworkTest(Ec2Base):
    def test_vpc_dependency_rules(self):
        reset()
        ec2 = self.ec2
        vpc, subs = self.net()
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        with self.assertRaises(ClientError) as cm:
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        self.assertEqual(code(cm.exception), "Resource.AlreadyAssociated")
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        with self.assertRaises(ClientError) as cm:
            ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        self.assertEqual(code(cm.exception), "RouteAlreadyExists")
        assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=subs[0])["AssociationId"]
        sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        perm = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perm)
        with self.assertRaises(ClientError) as cm:
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perm)
        self.assertEqual(code(cm.exception), "InvalidPermission.Duplicate")
        g = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
        self.assertEqual(g["IpPermissions"][0]["FromPort"], 443)
        self.assertEqual(g["IpPermissionsEgress"][0]["IpProtocol"], "-1")
        with self.assertRaises(ClientError) as cm:
            ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)
        self.assertEqual(code(cm.exception), "InvalidGroup.Duplicate")
        eni = ec2.create_network_interface(SubnetId=subs[1], Groups=[sg], Description="manual")["NetworkInterface"]
        self.assertEqual(eni["Status"], "available")
        checks = [(lambda: ec2.delete_vpc(VpcId=vpc), "DependencyViolation"),
                  (lambda: ec2.delete_security_group(GroupId=sg), "DependencyViolation"),
                  (lambda: ec2.delete_subnet(SubnetId=subs[1]), "DependencyViolation"),
                  (lambda: ec2.delete_internet_gateway(InternetGatewayId=igw), "DependencyViolation"),
                  (lambda: ec2.delete_route_table(RouteTableId=rtb), "DependencyViolation")]
        for fn, want in checks:
            with self.assertRaises(ClientError) as cm:
                fn()
            self.assertEqual(code(cm.exception), want)
        default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                           {"Name": "group-name", "Values": ["default"]}])
        with self.assertRaises(ClientError) as cm:
            ec2.delete_security_group(GroupId=default_sg["SecurityGroups"][0]["GroupId"])
        self.assertEqual(code(cm.exception), "CannotDelete")
        # tear down in the right order
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
        ec2.delete_security_group(GroupId=sg)
        ec2.disassociate_route_table(AssociationId=assoc)
        ec2.delete_route_table(RouteTableId=rtb)
        ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw)
        for s in subs:
            ec2.delete_subnet(SubnetId=s)
        ec2.delete_vpc(VpcId=vpc)
        with self.assertRaises(ClientError) as cm:
            ec2.describe_vpcs(VpcIds=[vpc])
        self.assertEqual(code(cm.exception), "InvalidVpcID.NotFound")
        self.assertEqual(inventory(), {})

    def test_filters_tags_pagination_azs(self):
        ec2 = self.ec2
        azs = ec2.describe_availability_zones()["AvailabilityZones"]
        self.assertEqual([z["ZoneName"] for z in azs], [f"{REGION}a", f"{REGION}b", f"{REGION}c"])
        vpc, subs = self.net("10.2.0.0/16")
        ec2.create_tags(Resources=[subs[0]], Tags=tags({"kubernetes.io/role/elb": "1"}))
        got = ec2.describe_subnets(Filters=[{"Name": "tag-key", "Values": ["kubernetes.io/role/elb"]}])["Subnets"]
        self.assertEqual([s["SubnetId"] for s in got], [subs[0]])
        got = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                            {"Name": "availability-zone", "Values": [f"{REGION}b"]}])["Subnets"]
        self.assertEqual([s["SubnetId"] for s in got], [subs[1]])
        got = ec2.describe_vpcs(Filters=[{"Name": "tag:secfaas:stack", "Values": ["t*"]}])["Vpcs"]
        self.assertIn(vpc, [v["VpcId"] for v in got])
        with self.assertRaises(ClientError) as cm:
            ec2.describe_vpcs(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
        self.assertEqual(code(cm.exception), "InvalidParameterValue")
        ec2.delete_tags(Resources=[subs[0]], Tags=[{"Key": "kubernetes.io/role/elb"}])
        self.assertEqual(ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [subs[0]]}])["Tags"], [])
        for i in range(7):
            ec2.create_security_group(GroupName=f"pg{i}", Description="x", VpcId=vpc)
        page = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}], MaxResults=5)
        self.assertEqual(len(page["SecurityGroups"]), 5)
        self.assertIn("NextToken", page)
        allsg = [g for p in ec2.get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}], PaginationConfig={"PageSize": 5})
            for g in p["SecurityGroups"]]
        self.assertEqual(len(allsg), 8)  # 7 + default


class InstanceTest(Ec2Base):
    def test_launch_template_versions(self):
        ec2 = self.ec2
        ud = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
        lt = ec2.create_launch_template(LaunchTemplateName="lt1", LaunchTemplateData={
            "ImageId": self.ami(), "InstanceType": "m5.large", "UserData": ud,
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}})["LaunchTemplate"]
        self.assertEqual(lt["LatestVersionNumber"], 1)
        with self.assertRaises(ClientError) as cm:
            ec2.create_launch_template(LaunchTemplateName="lt1", LaunchTemplateData={"ImageId": self.ami()})
        self.assertEqual(code(cm.exception), "InvalidLaunchTemplateName.AlreadyExistsException")
        v2 = ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"], SourceVersion="1",
                                                LaunchTemplateData={"InstanceType": "m5.xlarge"})
        self.assertEqual(v2["LaunchTemplateVersion"]["VersionNumber"], 2)
        d = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])
        data = d["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        self.assertEqual(data["InstanceType"], "m5.xlarge")
        self.assertEqual(data["UserData"], ud)
        self.assertEqual(data["MetadataOptions"]["HttpTokens"], "required")
        ec2.modify_launch_template(LaunchTemplateId=lt["LaunchTemplateId"], DefaultVersion="2")
        d = ec2.describe_launch_templates(LaunchTemplateNames=["lt1"])["LaunchTemplates"][0]
        self.assertEqual(d["DefaultVersionNumber"], 2)
        with self.assertRaises(ClientError) as cm:
            ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=["9"])
        self.assertEqual(code(cm.exception), "InvalidLaunchTemplateId.VersionNotFound")
        ec2.delete_launch_template(LaunchTemplateId=lt["LaunchTemplateId"])

    def test_launch_template_versions_of_every_template(self):
        """Without a template, DescribeLaunchTemplateVersions describes the $Latest and/or $Default
        version of every template in the account (numbers refused), filtered and paged like any
        Describe call, MaxResults 1 to 200."""
        ec2 = self.ec2
        a, b = self.ami(), self.ami("1.30")
        one = ec2.create_launch_template(LaunchTemplateName="every-1", LaunchTemplateData={
            "ImageId": a})["LaunchTemplate"]["LaunchTemplateId"]
        two = ec2.create_launch_template(LaunchTemplateName="every-2", LaunchTemplateData={
            "ImageId": a})["LaunchTemplate"]["LaunchTemplateId"]
        ec2.create_launch_template_version(LaunchTemplateId=two, LaunchTemplateData={"ImageId": b})
        ec2.create_launch_template_version(LaunchTemplateId=two, LaunchTemplateData={"ImageId": b})
        ec2.modify_launch_template(LaunchTemplateId=two, DefaultVersion="2")
        try:
            def got(**kw):
                out = []
                for page in ec2.get_paginator("describe_launch_template_versions").paginate(**kw):
                    out += [(v["LaunchTemplateId"], v["VersionNumber"], v["DefaultVersion"])
                            for v in page["LaunchTemplateVersions"]]
                return sorted(x for x in out if x[0] in (one, two))
            # in id order (got sorts): the ids are random
            self.assertEqual(got(Versions=["$Latest"]), sorted([(one, 1, True), (two, 3, False)]))
            self.assertEqual(got(Versions=["$Default"]), sorted([(one, 1, True), (two, 2, True)]))
            # a version that is both is described once
            both = got(Versions=["$Latest", "$Default"])
            self.assertEqual(both, sorted([(one, 1, True), (two, 2, True), (two, 3, False)]))
            self.assertEqual(got(Versions=["$Latest", "$Default"], PaginationConfig={"PageSize": 1}), both)
            # version 1 of `two` names `a` but is neither: not described account-wide
            self.assertEqual(got(Versions=["$Latest", "$Default"], Filters=[{"Name": "image-id", "Values": [a]}]),
                             [(one, 1, True)])
            self.assertEqual(sorted(v["VersionNumber"] for v in ec2.describe_launch_template_versions(
                LaunchTemplateId=two, Filters=[{"Name": "image-id", "Values": [a]}])["LaunchTemplateVersions"]), [1])
            for kw, want in (({}, "MissingParameter"), ({"Versions": ["1"]}, "InvalidParameterValue"),
                             ({"Versions": ["$Latest"], "MaxResults": 201}, "InvalidParameterValue"),
                             ({"Versions": ["$Latest"], "MaxResults": 0}, "InvalidParameterValue"),
                             ({"LaunchTemplateId": one, "LaunchTemplateName": "every-1"},
                              "InvalidParameterCombination")):
                with self.assertRaises(ClientError, msg=str(kw)) as cm:
                    ec2.describe_launch_template_versions(**kw)
                self.assertEqual(code(cm.exception), want, kw)
        finally:
            ec2.delete_launch_template(LaunchTemplateId=one)
            ec2.delete_launch_template(LaunchTemplateId=two)

    def test_instances_idempotency_and_waiters(self):
        ec2 = self.ec2
        vpc, subs = self.net("10.3.0.0/16")
        args = dict(ImageId=self.ami(), InstanceType="m5.large", MinCount=2, MaxCount=2, SubnetId=subs[0],
                    ClientToken="run-1", TagSpecifications=[{"ResourceType": "instance", "Tags": tags({"n": "1"})}])
        r1 = ec2.run_instances(**args)
        r2 = ec2.run_instances(**args)
        self.assertEqual(r1["ReservationId"], r2["ReservationId"])
        ids = [i["InstanceId"] for i in r1["Instances"]]
        self.assertEqual(len(ids), 2)
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(**dict(args, InstanceType="m5.xlarge"))
        self.assertEqual(code(cm.exception), "IdempotentParameterMismatch")
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(**dict(args, ClientToken="run-2", InstanceType="m6g.large"))
        self.assertEqual(code(cm.exception), "InvalidParameterValue")
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(**dict(args, ClientToken="run-3", ImageId="ami-0123456789abcdef0"))
        self.assertEqual(code(cm.exception), "InvalidAMIID.NotFound")
        ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
        with self.assertRaises(ClientError) as cm:
            ec2.delete_subnet(SubnetId=subs[0])
        self.assertEqual(code(cm.exception), "DependencyViolation")
        got = ec2.describe_instances(Filters=[{"Name": "tag:n", "Values": ["1"]},
                                              {"Name": "instance-state-name", "Values": ["running"]}])
        self.assertEqual(sorted(i["InstanceId"] for r in got["Reservations"] for i in r["Instances"]), sorted(ids))
        ec2.stop_instances(InstanceIds=ids[:1])
        ec2.get_waiter("instance_stopped").wait(InstanceIds=ids[:1], WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
        with self.assertRaises(ClientError) as cm:
            ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])
        self.assertEqual(code(cm.exception), "InvalidInstanceID.NotFound")
        ec2.terminate_instances(InstanceIds=ids)
        ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
        ec2.delete_subnet(SubnetId=subs[0])

    def test_bake_flow(self):
        ec2 = self.ec2
        vpc, subs = self.net("10.4.0.0/16")
        key = "9f2c" * 16
        script = (f"#!/bin/bash\nset -euo pipefail\nKEY={key}\ndnf install -y runsc\n"
                  "echo \"SECFAAS-BAKE-OK ${KEY}\" > /dev/console\npoweroff\n")
        r = ec2.run_instances(ImageId=self.ami("1.32", "arm64"), InstanceType="m7g.large", MinCount=1, MaxCount=1,
                              SubnetId=subs[0], UserData=script, InstanceInitiatedShutdownBehavior="stop",
                              MetadataOptions={"HttpTokens": "required"})
        iid = r["Instances"][0]["InstanceId"]
        wait_stopped_after_boot(ec2, iid)
        out = ec2.get_console_output(InstanceId=iid)["Output"]
        self.assertIn(f"SECFAAS-BAKE-OK {key}", out)
        # The image is looked at while pending at real-time scale, so a slow
        # machine cannot let its 5 minutes pass before the test looks.
        admin("POST", "clock", {"timescale": 1})
        img = ec2.create_image(InstanceId=iid, Name=f"secfaas-gvisor-{key[:16]}", TagSpecifications=[
            {"ResourceType": "image", "Tags": tags({"secfaas:bake-key": key})},
            {"ResourceType": "snapshot", "Tags": tags({"secfaas:bake-key": key})}])["ImageId"]
        with self.assertRaises(ClientError) as cm:
            ec2.create_image(InstanceId=iid, Name=f"secfaas-gvisor-{key[:16]}")
        self.assertEqual(code(cm.exception), "InvalidAMIName.Duplicate")
        d = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:secfaas:bake-key", "Values": [key]}])
        self.assertEqual(d["Images"][0]["State"], "pending")
        advance(400)
        admin("POST", "clock", {"timescale": 0.001})
        ec2.get_waiter("image_available").wait(ImageIds=[img], WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
        d = ec2.describe_images(ImageIds=[img])["Images"][0]
        self.assertEqual(d["Architecture"], "arm64")
        snap = d["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        s = ec2.describe_snapshots(OwnerIds=["self"], SnapshotIds=[snap])["Snapshots"][0]
        self.assertEqual(s["State"], "completed")
        with self.assertRaises(ClientError) as cm:
            ec2.delete_snapshot(SnapshotId=snap)
        self.assertEqual(code(cm.exception), "InvalidSnapshot.InUse")
        ec2.terminate_instances(InstanceIds=[iid])
        ec2.deregister_image(ImageId=img)
        # AWS answers a deregistered image's id with nothing, not an error;
        # an id it never had is InvalidAMIID.NotFound; a filter leaves it out
        self.assertEqual(ec2.describe_images(ImageIds=[img])["Images"], [])
        self.assertEqual(ec2.describe_images(Filters=[{"Name": "image-id", "Values": [img]}])["Images"], [])
        with self.assertRaises(ClientError) as cm:
            ec2.describe_images(ImageIds=[img, "ami-0123456789abcdef0"])
        self.assertEqual(code(cm.exception), "InvalidAMIID.NotFound")
        # the snapshot outlives the image, as in AWS: a classic leak
        self.assertEqual(len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]), 1)
        ec2.delete_snapshot(SnapshotId=snap)
        self.assertEqual(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"], [])

    def test_bake_prints_the_containerd_of_its_base_image(self):
        """The bake script's containerd line carries what `containerd --version`
        prints on the image the builder boots: EKS AL2023 images from before
        late 2025 run containerd 1.7, later ones 2.1."""
        ec2 = self.ec2
        vpc, subs = self.net("10.6.0.0/16")
        script = ("#!/bin/bash\nKEY=" + "ab" * 32 + "\n"
                  "echo \"SECFAAS-CONTAINERD-VERSION $(containerd --version 2>/dev/null | head -n 1)\"\n"
                  "echo \"SECFAAS-BAKE-OK ${KEY}\"\npoweroff\n")
        want = {"1.33": "containerd github.com/containerd/containerd v1.7.27 ",
                "1.35": "containerd github.com/containerd/containerd/v2 v2.1.4 "}
        for ver, line in want.items():
            img = ec2.describe_images(ImageIds=[self.ami(ver)])["Images"][0]
            iid = ec2.run_instances(ImageId=img["ImageId"], InstanceType="m6i.large", MinCount=1, MaxCount=1,
                                    SubnetId=subs[0], UserData=script,
                                    InstanceInitiatedShutdownBehavior="stop")["Instances"][0]["InstanceId"]
            wait_stopped_after_boot(ec2, iid)
            out = ec2.get_console_output(InstanceId=iid)["Output"]
            self.assertIn("SECFAAS-CONTAINERD-VERSION " + line, out, img["Name"])
            self.assertLess(out.index("SECFAAS-CONTAINERD-VERSION"), out.index("SECFAAS-BAKE-OK"))
            ec2.terminate_instances(InstanceIds=[iid])
        self.assertIn("-1.33-v20250915", ec2.describe_images(ImageIds=[self.ami("1.33")])["Images"][0]["Name"])
        self.assertIn("-1.35-v2026", ec2.describe_images(ImageIds=[self.ami("1.35")])["Images"][0]["Name"])

    def test_filters_leave_a_missing_id_out_where_id_lists_fail(self):
        """The forms of the batched refresh and of shared waiter polls: a
        filter naming an id that does not exist answers without it; the by-id
        list fails the whole call with EC2's documented code."""
        ec2 = self.ec2
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        _, subs = self.net("10.7.0.0/16")
        lt = ec2.create_launch_template(LaunchTemplateName="batch-lt", LaunchTemplateData={
            "ImageId": self.ami()})["LaunchTemplate"]["LaunchTemplateId"]
        cases = [
            (ec2.describe_addresses, "AllocationIds", "Filters", "allocation-id", "Addresses", "AllocationId",
             eip, "eipalloc-0123456789abcdef0", "InvalidAllocationID.NotFound"),
            (ec2.describe_nat_gateways, "NatGatewayIds", "Filter", "nat-gateway-id", "NatGateways", "NatGatewayId",
             None, "nat-0123456789abcdef0", "NatGatewayNotFound"),
            (ec2.describe_vpc_endpoints, "VpcEndpointIds", "Filters", "vpc-endpoint-id", "VpcEndpoints",
             "VpcEndpointId", None, "vpce-0123456789abcdef0", "InvalidVpcEndpointId.NotFound"),
            (ec2.describe_instances, "InstanceIds", "Filters", "instance-id", "Reservations", None,
             None, "i-0123456789abcdef0", "InvalidInstanceID.NotFound"),
            (ec2.describe_subnets, "SubnetIds", "Filters", "subnet-id", "Subnets", "SubnetId",
             subs[0], "subnet-0123456789abcdef0", "InvalidSubnetID.NotFound"),
            (ec2.describe_images, "ImageIds", "Filters", "image-id", "Images", "ImageId",
             self.ami(), "ami-0123456789abcdef0", "InvalidAMIID.NotFound"),
            (ec2.describe_launch_templates, "LaunchTemplateIds", "Filters", None, "LaunchTemplates",
             "LaunchTemplateId", lt, "lt-0123456789abcdef0", "InvalidLaunchTemplateId.NotFound"),
        ]
        for call, ids, fkey, fname, out, idk, live, missing, err in cases:
            with self.subTest(call=call.__name__):
                if fname:
                    got = call(**{fkey: [{"Name": fname, "Values": [v for v in (live, missing) if v]}]})[out]
                    self.assertEqual([x[idk] for x in got] if idk else got, [live] if live else [])
                with self.assertRaises(ClientError) as cm:
                    call(**{ids: [v for v in (live, missing) if v]})
                self.assertEqual(code(cm.exception), err)
        # DescribeLaunchTemplates has no id filter: by name, a missing one absent
        got = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name",
                                                      "Values": ["batch-lt", "no-such-lt"]}])["LaunchTemplates"]
        self.assertEqual([x["LaunchTemplateId"] for x in got], [lt])
        with self.assertRaises(ClientError) as cm:
            ec2.describe_launch_templates(Filters=[{"Name": "launch-template-id", "Values": [lt]}])
        self.assertEqual(code(cm.exception), "InvalidParameterValue")
        ec2.delete_launch_template(LaunchTemplateId=lt)
        ec2.release_address(AllocationId=eip)

    def test_public_amis_and_ssm(self):
        ec2, ssm = self.ec2, self.ssm
        for ver in ("1.29", "1.30", "1.31", "1.32", "1.33"):
            for arch in ("x86_64", "arm64"):
                ami = self.ami(ver, arch)
                img = ec2.describe_images(ImageIds=[ami])["Images"][0]
                self.assertEqual(img["Architecture"], arch)
                self.assertEqual(img["OwnerId"], "602401143452")
        rel = ssm.get_parameter(Name="/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/"
                                     "recommended/release_version")["Parameter"]["Value"]
        self.assertTrue(rel.startswith("1.31."))
        with self.assertRaises(ClientError) as cm:
            ssm.get_parameter(Name="/aws/service/eks/optimized-ami/1.20/amazon-linux-2023/x86_64/standard/"
                                   "recommended/image_id")
        self.assertEqual(code(cm.exception), "ParameterNotFound")
        amazon = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["*-1.33-*"]}])["Images"]
        self.assertGreaterEqual(len(amazon), 2)

    def test_clock_advance_completes_transitions(self):
        ec2 = self.ec2
        vpc, subs = self.net("10.5.0.0/16")
        iid = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.small", MinCount=1, MaxCount=1,
                                SubnetId=subs[0])["Instances"][0]["InstanceId"]
        advance(60)
        st = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
        self.assertEqual(st, "running")
        ec2.terminate_instances(InstanceIds=[iid])
