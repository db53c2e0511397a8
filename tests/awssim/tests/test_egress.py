"""Private-node egress through boto3 and the aws CLI: Elastic IPs (limit,
ReleaseAddress refused while associated or held by a NAT gateway), NAT
gateways (pending -> available over minutes, the documented failure codes,
deleting -> deleted and still listed, ClientToken idempotency, routes that
turn blackhole), VPC endpoints (interface: one subnet per AZ, private DNS
needing the VPC's DNS attributes, ENIs that hold subnets and security
groups; gateway: prefix-list routes), the dependency errors of
DetachInternetGateway / DeleteSubnet / DeleteVpc, faults on the new
operations, and a teardown in AWS's order that ends with an empty inventory.
These tests run at timescale 1 and move the simulated clock explicitly, so
real time spent on a busy machine cannot push a gateway past a state the
test wants to see."""
import json
import os
import re
import subprocess
import unittest
import xml.etree.ElementTree as ET

import botocore
import botocore.loaders
from botocore.config import Config
from botocore.exceptions import ClientError

from common import AKID, REGION, SECRET, admin, advance, client, inventory, raw, reset

AWS = "/usr/bin/aws"


def code(e):
    return e.response["Error"]["Code"]


def msg(e):
    return e.response["Error"]["Message"]


class Egress(unittest.TestCase):
    def setUp(self):
        reset()
        admin("POST", "clock", {"timescale": 1})
        self.ec2 = client("ec2")

    def tearDown(self):
        admin("DELETE", "faults")
        reset()

    def err(self, fn, want_code, want_msg=None):
        with self.assertRaises(ClientError) as cm:
            fn()
        self.assertEqual(code(cm.exception), want_code, msg(cm.exception))
        if want_msg is not None:
            self.assertEqual(msg(cm.exception), want_msg)
        return cm.exception

    def network(self, cidr="10.60.0.0/16", igw=True):
        ec2 = self.ec2
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        b = cidr.split(".")
        pub = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{b[0]}.{b[1]}.{i}.0/24", AvailabilityZone=REGION + z)
               ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        priv = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{b[0]}.{b[1]}.{i}.0/24", AvailabilityZone=REGION + z)
                ["Subnet"]["SubnetId"] for i, z in ((11, "a"), (12, "b"))]
        gw = None
        if igw:
            gw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gw, VpcId=vpc)
        return vpc, pub, priv, gw

    def nat_state(self, nid):
        return self.ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"]

    def test_nat_gateway_lifecycle_and_teardown_order(self):
        ec2 = self.ec2
        vpc, pub, priv, igw = self.network()
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [
            {"Key": "secfaas:stack", "Value": "e"}]}])
        self.assertEqual(eip["Domain"], "vpc")
        self.assertTrue(eip["AllocationId"].startswith("eipalloc-"))
        self.assertEqual(eip["NetworkBorderGroup"], REGION)
        r = ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=eip["AllocationId"], ClientToken="nat-1",
                                   TagSpecifications=[{"ResourceType": "natgateway", "Tags": [
                                       {"Key": "Name", "Value": "nat-a"}]}])
        nat = r["NatGateway"]
        nid = nat["NatGatewayId"]
        self.assertEqual((nat["State"], nat["VpcId"], nat["ConnectivityType"]), ("pending", vpc, "public"))
        self.assertEqual(nat["NatGatewayAddresses"], [{"AllocationId": eip["AllocationId"]}])
        self.assertEqual(r["ClientToken"], "nat-1")
        # a retry with the same token (reply lost) returns the same gateway; other arguments: mismatch
        self.assertEqual(ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=eip["AllocationId"], ClientToken="nat-1",
                                                TagSpecifications=[{"ResourceType": "natgateway", "Tags": [
                                                    {"Key": "Name", "Value": "nat-a"}]}])["NatGateway"]["NatGatewayId"],
                         nid)
        self.err(lambda: ec2.create_nat_gateway(SubnetId=pub[1], AllocationId=eip["AllocationId"],
                                                ClientToken="nat-1"), "IdempotentParameterMismatch")
        # still pending after a minute, available after a few (not a fixed 30 s multiple)
        advance(40)
        self.assertEqual(self.nat_state(nid), "pending")
        advance(100)
        ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nid], WaiterConfig={"Delay": 1,
                                                                                         "MaxAttempts": 2})
        d = ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "state", "Values": ["available"]}])["NatGateways"]
        self.assertEqual([n["NatGatewayId"] for n in d], [nid])
        addr = d[0]["NatGatewayAddresses"][0]
        self.assertEqual(addr["PublicIp"], eip["PublicIp"])
        self.assertTrue(addr["PrivateIp"].startswith("10.60.1."))
        self.assertEqual(d[0]["Tags"], [{"Key": "Name", "Value": "nat-a"}])
        tl = admin("GET", "transitions?type=ec2:nat-gateway&id=" + nid)["objects"][0]["transitions"]
        took = (tl[1]["at"] - tl[0]["at"]) / admin("GET", "clock")["timescale"]
        self.assertEqual([t["state"] for t in tl], ["pending", "available"])
        self.assertTrue(60 < took < 120 and abs(took - 90) > 1e-3, took)
        # its ENI: requester-managed, in the public subnet, with the public address mapped
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[addr["NetworkInterfaceId"]])["NetworkInterfaces"][0]
        self.assertEqual((eni["InterfaceType"], eni["RequesterManaged"], eni["SubnetId"], eni["Status"]),
                         ("nat_gateway", True, pub[0], "in-use"))
        self.assertEqual(eni["Description"], f"Interface for NAT Gateway {nid}")
        self.assertEqual(eni["Association"]["PublicIp"], eip["PublicIp"])
        a = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
        self.assertEqual(a["NetworkInterfaceId"], eni["NetworkInterfaceId"])
        self.assertTrue(a["AssociationId"].startswith("eipassoc-"))
        # private route table through the NAT gateway
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nid)
        for s in priv:
            ec2.associate_route_table(RouteTableId=rtb, SubnetId=s)
        self.err(lambda: ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="10.99.0.0/16",
                                          NatGatewayId="nat-0123456789abcdef0"), "InvalidNatGatewayID.NotFound")
        got = ec2.describe_route_tables(Filters=[{"Name": "route.nat-gateway-id", "Values": [nid]}])["RouteTables"]
        self.assertEqual([t["RouteTableId"] for t in got], [rtb])
        # the dependencies AWS enforces while the gateway lives
        self.err(lambda: ec2.release_address(AllocationId=eip["AllocationId"]), "InvalidIPAddress.InUse")
        self.err(lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc), "DependencyViolation",
                 f"Network {vpc} has some mapped public address(es). Please unmap those public address(es) before "
                 "detaching the gateway.")
        self.err(lambda: ec2.delete_subnet(SubnetId=pub[0]), "DependencyViolation")
        self.err(lambda: ec2.disassociate_address(AssociationId=a["AssociationId"]), "AuthFailure")
        self.err(lambda: ec2.release_address(PublicIp=eip["PublicIp"]), "InvalidParameterValue",
                 "You must specify an allocation id when releasing a VPC elastic IP address")
        # delete: deleting -> deleted, still listed as deleted for about an hour
        self.assertEqual(ec2.delete_nat_gateway(NatGatewayId=nid)["NatGatewayId"], nid)
        self.assertEqual(self.nat_state(nid), "deleting")
        self.err(lambda: ec2.release_address(AllocationId=eip["AllocationId"]), "InvalidIPAddress.InUse")
        advance(60)
        ec2.get_waiter("nat_gateway_deleted").wait(NatGatewayIds=[nid], WaiterConfig={"Delay": 1,
                                                                                       "MaxAttempts": 2})
        gone = ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]
        self.assertEqual(gone["State"], "deleted")
        self.assertIn("DeleteTime", gone)
        self.assertEqual(ec2.delete_nat_gateway(NatGatewayId=nid)["NatGatewayId"], nid)
        route = [x for x in ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
                 if x.get("NatGatewayId") == nid][0]
        self.assertEqual(route["State"], "blackhole")
        self.assertNotIn("ec2:nat-gateway", inventory())
        # now the address can go, the gateway can be detached
        ec2.release_address(AllocationId=eip["AllocationId"])
        self.err(lambda: ec2.describe_addresses(AllocationIds=[eip["AllocationId"]]), "InvalidAllocationID.NotFound")
        ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
        for assoc in ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Associations"]:
            ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=rtb)
        ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw)
        for s in pub + priv:
            ec2.delete_subnet(SubnetId=s)
        ec2.delete_vpc(VpcId=vpc)
        advance(3700)
        self.err(lambda: ec2.describe_nat_gateways(NatGatewayIds=[nid]), "NatGatewayNotFound")
        self.err(lambda: ec2.delete_nat_gateway(NatGatewayId=nid), "NatGatewayNotFound")
        self.assertEqual(inventory(), {})

    def test_nat_failures_and_eip_rules(self):
        ec2 = self.ec2
        vpc, pub, priv, _ = self.network("10.61.0.0/16", igw=False)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        self.err(lambda: ec2.create_nat_gateway(SubnetId="subnet-0123456789abcdef0", AllocationId=eip),
                 "InvalidSubnetID.NotFound")
        self.err(lambda: ec2.create_nat_gateway(SubnetId=pub[0], AllocationId="eipalloc-0123456789abcdef0"),
                 "InvalidAllocationID.NotFound")
        # no internet gateway: the gateway is created, then fails with AWS's failure code
        nid = ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        advance(30)
        with self.assertRaises(botocore.exceptions.WaiterError):
            ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nid], WaiterConfig={"Delay": 1,
                                                                                             "MaxAttempts": 2})
        n = ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]
        self.assertEqual((n["State"], n["FailureCode"], n["FailureMessage"]),
                         ("failed", "Gateway.NotAttached", f"Network {vpc} has no Internet gateway attached"))
        self.assertEqual([x["Status"] for x in ec2.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [pub[0]]}])["NetworkInterfaces"]], [])
        # an address already used elsewhere: the second gateway fails
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ok = ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        dup = ec2.create_nat_gateway(SubnetId=pub[1], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        advance(200)
        states = {n["NatGatewayId"]: (n["State"], n.get("FailureCode"))
                  for n in ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]}
        self.assertEqual(states, {nid: ("failed", "Gateway.NotAttached"), ok: ("available", None),
                                  dup: ("failed", "Resource.AlreadyAssociated")})
        # Elastic IPs: 5 per region, associate needs the internet gateway, release refused while mapped
        more = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(4)]
        self.err(lambda: ec2.allocate_address(Domain="vpc"), "AddressLimitExceeded")
        eni = ec2.create_network_interface(SubnetId=pub[1])["NetworkInterface"]["NetworkInterfaceId"]
        assoc = ec2.associate_address(AllocationId=more[0], NetworkInterfaceId=eni)["AssociationId"]
        self.err(lambda: ec2.associate_address(AllocationId=more[0], NetworkInterfaceId=eni),
                 "Resource.AlreadyAssociated")
        self.err(lambda: ec2.release_address(AllocationId=more[0]), "InvalidIPAddress.InUse")
        got = ec2.describe_addresses(Filters=[{"Name": "association-id", "Values": [assoc]}])["Addresses"]
        self.assertEqual([a["AllocationId"] for a in got], [more[0]])
        ec2.disassociate_address(AssociationId=assoc)
        self.err(lambda: ec2.disassociate_address(AssociationId=assoc), "InvalidAssociationID.NotFound")
        for a in more:
            ec2.release_address(AllocationId=a)
        self.err(lambda: ec2.describe_addresses(PublicIps=["203.0.113.250"]), "InvalidAddress.NotFound")
        ec2.delete_network_interface(NetworkInterfaceId=eni)
        # a failed gateway can be deleted too; all of them leave the inventory once deleted
        for x in (nid, ok, dup):
            ec2.delete_nat_gateway(NatGatewayId=x)
        advance(200)
        self.assertNotIn("ec2:nat-gateway", inventory())
        ec2.release_address(AllocationId=eip)
        vpc2 = ec2.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
        sub2 = ec2.create_subnet(VpcId=vpc2, CidrBlock="10.62.1.0/24", AvailabilityZone=REGION + "a")
        self.err(lambda: ec2.associate_address(AllocationId=ec2.allocate_address()["AllocationId"],
                                               NetworkInterfaceId=ec2.create_network_interface(
                                                   SubnetId=sub2["Subnet"]["SubnetId"])["NetworkInterface"]
                                               ["NetworkInterfaceId"]),
                 "Gateway.NotAttached")

    def test_nat_failures_as_botocore_documents_them(self):
        """Every failure awssim gives a NAT gateway carries a FailureCode the
        EC2 model lists and the FailureMessage the model documents for that
        code, with the real id in place of its xxxxxxxx."""
        shapes = botocore.loaders.Loader().load_service_model("ec2", "service-2")["shapes"]
        doc = shapes["NatGateway"]["members"]
        codes = re.findall(r"<code>([^<]+)</code>", doc["FailureCode"]["documentation"])
        texts = dict(re.findall(r'For ([A-Za-z.]+): "([^"]+)"', doc["FailureMessage"]["documentation"]))
        self.assertEqual(sorted(texts), sorted(codes))

        def documented(n):
            self.assertEqual(n["State"], "failed")
            self.assertIn(n["FailureCode"], codes)
            pattern = re.escape(texts[n["FailureCode"]]).replace("xxxxxxxx", "[0-9a-f]{8,17}")
            self.assertRegex(n["FailureMessage"], "^" + pattern + "$")
            return n["FailureCode"]

        ec2 = self.ec2
        vpc, pub, _, _ = self.network("10.63.0.0/16", igw=False)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        no_igw = ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        advance(30)
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ok = ec2.create_nat_gateway(SubnetId=pub[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        taken = ec2.create_nat_gateway(SubnetId=pub[1], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        # a /28 has 11 usable addresses: fill them with interfaces, then a gateway finds none
        full = ec2.create_subnet(VpcId=vpc, CidrBlock="10.63.99.0/28", AvailabilityZone=REGION + "c")
        full = full["Subnet"]["SubnetId"]
        while ec2.describe_subnets(SubnetIds=[full])["Subnets"][0]["AvailableIpAddressCount"]:
            ec2.create_network_interface(SubnetId=full)
        eip2 = ec2.allocate_address(Domain="vpc")["AllocationId"]
        crowded = ec2.create_nat_gateway(SubnetId=full, AllocationId=eip2)["NatGateway"]["NatGatewayId"]
        advance(200)
        got = {n["NatGatewayId"]: n for n in ec2.describe_nat_gateways(
            NatGatewayIds=[no_igw, ok, taken, crowded])["NatGateways"]}
        self.assertEqual(got[ok]["State"], "available")
        self.assertNotIn("FailureCode", got[ok])
        self.assertEqual([documented(got[x]) for x in (no_igw, taken, crowded)],
                         ["Gateway.NotAttached", "Resource.AlreadyAssociated", "InsufficientFreeAddressesInSubnet"])
        self.assertIn(vpc, got[no_igw]["FailureMessage"])
        self.assertIn(eip, got[taken]["FailureMessage"])

    def test_required_members_from_the_model(self):
        """Each required member of the new operations (botocore's EC2 model),
        left out of a request that has the others, gets EC2's error shape:
        400, <Response><Errors><Error> with MissingParameter naming it, and a
        RequestID."""
        model = botocore.loaders.Loader().load_service_model("ec2", "service-2")
        shapes = model["shapes"]
        ops = ["AllocateAddress", "AssociateAddress", "DisassociateAddress", "ReleaseAddress", "DescribeAddresses",
               "CreateNatGateway", "DeleteNatGateway", "DescribeNatGateways", "CreateVpcEndpoint",
               "DeleteVpcEndpoints", "DescribeVpcEndpoints", "DescribeVpcEndpointServices", "ModifyVpcEndpoint"]
        def wire(inp, name):
            m = inp["members"][name]
            w = m.get("queryName") or m.get("locationName", name)[:1].upper() + m.get("locationName", name)[1:]
            return w + ".1" if shapes[m["shape"]]["type"] == "list" else w

        seen = 0
        for op in ops:
            inp = shapes[model["operations"][op]["input"]["shape"]]
            required = inp.get("required", [])
            for missing in required:
                body = f"Action={op}&Version=2016-11-15"
                for name in required:
                    if name != missing:
                        body += f"&{wire(inp, name)}=x-0123456789abcdef0"
                with self.subTest(op=op, missing=missing):
                    status, _, data = raw("POST", "ec2", "/", body.encode(),
                                          {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
                    root = ET.fromstring(data)
                    self.assertEqual((status, root.tag), (400, "Response"), data)
                    self.assertEqual(root.findtext("Errors/Error/Code"), "MissingParameter", data)
                    # named as the member or as it goes on the wire (VpcEndpointId.N)
                    named = root.findtext("Errors/Error/Message")
                    self.assertTrue(named.endswith((" " + missing, " " + wire(inp, missing).split(".")[0])), named)
                    self.assertTrue(root.findtext("RequestID"))
                    seen += 1
        self.assertGreaterEqual(seen, 5)   # SubnetId, NatGatewayId, VpcId, ServiceName, VpcEndpointIds

    def test_instance_address_follows_the_instance(self):
        ec2 = self.ec2
        vpc, pub, _, igw = self.network("10.66.0.0/16")
        ami = client("ssm").get_parameter(Name="/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/"
                                               "standard/recommended/image_id")["Parameter"]["Value"]
        iid = ec2.run_instances(ImageId=ami, InstanceType="m5.large", MinCount=1, MaxCount=1,
                                SubnetId=pub[0])["Instances"][0]["InstanceId"]
        advance(30)
        alloc = ec2.allocate_address()["AllocationId"]
        ec2.associate_address(AllocationId=alloc, InstanceId=iid)
        a = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [iid]}])["Addresses"]
        self.assertEqual([x["AllocationId"] for x in a], [alloc])
        self.err(lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc), "DependencyViolation")
        ec2.terminate_instances(InstanceIds=[iid])
        advance(60)
        a = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
        self.assertNotIn("AssociationId", a)     # disassociated with the instance, still allocated
        ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.release_address(AllocationId=alloc)

    def test_vpc_endpoints(self):
        ec2 = self.ec2
        vpc, pub, priv, _ = self.network("10.63.0.0/16", igw=False)
        svcs = ec2.describe_vpc_endpoint_services()
        for s in ("ecr.api", "ecr.dkr", "s3", "sts", "ec2", "eks-auth", "logs", "elasticloadbalancing"):
            self.assertIn(f"com.amazonaws.{REGION}.{s}", svcs["ServiceNames"])
        s3 = [d for d in svcs["ServiceDetails"] if d["ServiceName"] == f"com.amazonaws.{REGION}.s3"]
        self.assertEqual(sorted(d["ServiceType"][0]["ServiceType"] for d in s3), ["Gateway", "Interface"])
        dkr = ec2.describe_vpc_endpoint_services(ServiceNames=[f"com.amazonaws.{REGION}.ecr.dkr"])["ServiceDetails"]
        self.assertEqual(dkr[0]["PrivateDnsName"], f"*.dkr.ecr.{REGION}.amazonaws.com")
        self.err(lambda: ec2.describe_vpc_endpoint_services(ServiceNames=["com.amazonaws.nowhere.x"]),
                 "InvalidServiceName")
        sg = ec2.create_security_group(GroupName="vpce", Description="443 from the VPC", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.63.0.0/16"}]}])
        api = f"com.amazonaws.{REGION}.ecr.api"
        iface = dict(VpcId=vpc, VpcEndpointType="Interface", ServiceName=api, SubnetIds=priv, SecurityGroupIds=[sg],
                     PrivateDnsEnabled=True)
        self.err(lambda: ec2.create_vpc_endpoint(**iface), "InvalidParameter",
                 "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to "
                 f"true for {vpc}")
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        self.err(lambda: ec2.create_vpc_endpoint(**dict(iface, SubnetIds=[priv[0], pub[0]])),
                 "DuplicateSubnetsInSameZone")
        e = ec2.create_vpc_endpoint(ClientToken="vpce-1", **iface)["VpcEndpoint"]
        vid = e["VpcEndpointId"]
        self.assertEqual((e["State"], e["VpcEndpointType"], e["PrivateDnsEnabled"]), ("pending", "Interface", True))
        self.assertEqual(sorted(e["SubnetIds"]), sorted(priv))
        self.assertEqual(e["Groups"], [{"GroupId": sg, "GroupName": "vpce"}])
        self.assertIn(f"api.ecr.{REGION}.amazonaws.com", [d["DnsName"] for d in e["DnsEntries"]])
        self.assertEqual(ec2.create_vpc_endpoint(ClientToken="vpce-1", **iface)["VpcEndpoint"]["VpcEndpointId"], vid)
        self.err(lambda: ec2.create_vpc_endpoint(**dict(iface, SubnetIds=priv[:1])), "InvalidParameter")
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=e["NetworkInterfaceIds"])["NetworkInterfaces"]
        self.assertEqual({(x["InterfaceType"], x["RequesterManaged"], x["Description"]) for x in enis},
                         {("vpc_endpoint", True, f"VPC Endpoint Interface {vid}")})
        self.err(lambda: ec2.delete_security_group(GroupId=sg), "DependencyViolation")
        self.err(lambda: ec2.delete_subnet(SubnetId=priv[0]), "DependencyViolation")
        advance(60)
        self.assertEqual(ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]["State"], "pending")
        advance(120)
        got = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-state", "Values": ["available"]},
                                                  {"Name": "service-name", "Values": [api]}])["VpcEndpoints"]
        self.assertEqual([x["VpcEndpointId"] for x in got], [vid])
        # gateway endpoint for S3 on the private route table
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        gw = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[rtb])
        gid = gw["VpcEndpoint"]["VpcEndpointId"]
        self.assertEqual((gw["VpcEndpoint"]["State"], gw["VpcEndpoint"]["VpcEndpointType"]), ("available", "Gateway"))
        routes = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
        pl = [r for r in routes if r.get("GatewayId") == gid][0]["DestinationPrefixListId"]
        self.assertTrue(pl.startswith("pl-"))
        self.err(lambda: ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3",
                                                 RouteTableIds=[rtb]), "RouteAlreadyExists")
        self.err(lambda: ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=api, RouteTableIds=[rtb]),
                 "InvalidParameter")
        self.err(lambda: ec2.delete_vpc(VpcId=vpc), "DependencyViolation")
        # delete both: unknown ids are reported per item, not as an error
        r = ec2.delete_vpc_endpoints(VpcEndpointIds=[vid, gid, "vpce-0123456789abcdef0"])
        self.assertEqual([(u["ResourceId"], u["Error"]["Code"]) for u in r["Unsuccessful"]],
                         [("vpce-0123456789abcdef0", "InvalidVpcEndpoint.NotFound")])
        self.assertEqual(ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]["State"], "deleting")
        self.assertFalse([r for r in ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
                          if r.get("GatewayId") == gid])
        self.err(lambda: ec2.delete_subnet(SubnetId=priv[0]), "DependencyViolation")   # ENIs linger while deleting
        advance(120)
        self.err(lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[vid]), "InvalidVpcEndpointId.NotFound")
        ec2.delete_route_table(RouteTableId=rtb)
        ec2.delete_security_group(GroupId=sg)
        for s in pub + priv:
            ec2.delete_subnet(SubnetId=s)
        ec2.delete_vpc(VpcId=vpc)
        self.assertEqual(inventory(), {})

    def test_modify_vpc_endpoint(self):
        """ModifyVpcEndpoint changes subnets (an interface each), security
        groups, route tables and private DNS in place, with the same checks
        as CreateVpcEndpoint; a refused change changes nothing."""
        ec2 = self.ec2
        vpc, pub, priv, _ = self.network("10.67.0.0/16", igw=False)
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        sg1 = ec2.create_security_group(GroupName="a", Description="a", VpcId=vpc)["GroupId"]
        sg2 = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
        sts = f"com.amazonaws.{REGION}.sts"
        e = ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface", ServiceName=sts, SubnetIds=priv[:1],
                                    SecurityGroupIds=[sg1], PrivateDnsEnabled=False)["VpcEndpoint"]
        vid = e["VpcEndpointId"]
        advance(200)
        self.assertTrue(ec2.modify_vpc_endpoint(VpcEndpointId=vid, AddSubnetIds=priv[1:], RemoveSecurityGroupIds=[sg1],
                                                AddSecurityGroupIds=[sg2], PrivateDnsEnabled=True)["Return"])
        got = ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]
        self.assertEqual(sorted(got["SubnetIds"]), sorted(priv))
        self.assertEqual([g["GroupId"] for g in got["Groups"]], [sg2])
        self.assertTrue(got["PrivateDnsEnabled"])
        self.assertIn(f"sts.{REGION}.amazonaws.com", [d["DnsName"] for d in got["DnsEntries"]])
        self.assertEqual(len(got["NetworkInterfaceIds"]), len(priv))
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=got["NetworkInterfaceIds"])["NetworkInterfaces"]
        self.assertEqual({g["GroupId"] for x in enis for g in x["Groups"]}, {sg2})
        # refused: a second subnet in a zone, route tables on an interface endpoint, no group left
        self.err(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=vid, AddSubnetIds=[pub[0]]),
                 "DuplicateSubnetsInSameZone")
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        self.err(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=vid, AddRouteTableIds=[rtb]), "InvalidParameter")
        self.err(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=vid, RemoveSecurityGroupIds=[sg2]), "InvalidParameter")
        self.assertEqual(sorted(ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]["SubnetIds"]),
                         sorted(priv))
        ec2.modify_vpc_endpoint(VpcEndpointId=vid, RemoveSubnetIds=priv[1:])
        got = ec2.describe_vpc_endpoints(VpcEndpointIds=[vid])["VpcEndpoints"][0]
        self.assertEqual((got["SubnetIds"], len(got["NetworkInterfaceIds"])), (priv[:1], 1))
        # a gateway endpoint: its route follows the route tables
        gid = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3")["VpcEndpoint"]["VpcEndpointId"]
        ec2.modify_vpc_endpoint(VpcEndpointId=gid, AddRouteTableIds=[rtb])
        routes = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
        self.assertEqual([r["GatewayId"] for r in routes if r.get("DestinationPrefixListId")], [gid])
        self.err(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=gid, AddSubnetIds=priv[:1]), "InvalidParameter")
        ec2.modify_vpc_endpoint(VpcEndpointId=gid, RemoveRouteTableIds=[rtb])
        routes = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
        self.assertFalse([r for r in routes if r.get("DestinationPrefixListId")])
        ec2.delete_vpc_endpoints(VpcEndpointIds=[vid, gid])
        self.err(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=vid, PrivateDnsEnabled=False), "IncorrectState")
        self.err(lambda: ec2.modify_vpc_endpoint(VpcEndpointId="vpce-0123456789abcdef0"),
                 "InvalidVpcEndpointId.NotFound")

    def test_faults_on_new_operations(self):
        """A truncated CreateNatGateway took effect: retrying with its ClientToken finds
        the same gateway instead of making a second one; throttles and resets work too."""
        ec2 = self.ec2
        one = client("ec2", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        vpc, pub, _, _ = self.network("10.64.0.0/16")
        eip = ec2.allocate_address()["AllocationId"]
        admin("POST", "faults", {"operation": "CreateNatGateway", "kind": "truncate", "count": 1})
        with self.assertRaises(Exception):
            one.create_nat_gateway(SubnetId=pub[0], AllocationId=eip, ClientToken="t-1")
        again = one.create_nat_gateway(SubnetId=pub[0], AllocationId=eip, ClientToken="t-1")
        self.assertEqual(len(inventory()["ec2:nat-gateway"]), 1)
        self.assertEqual(inventory()["ec2:nat-gateway"][0]["id"], again["NatGateway"]["NatGatewayId"])
        admin("POST", "faults", {"operation": "DescribeVpcEndpointServices", "kind": "throttle", "count": 1})
        self.err(lambda: one.describe_vpc_endpoint_services(), "RequestLimitExceeded")
        admin("POST", "faults", {"operation": "AllocateAddress", "kind": "reset", "count": 1})
        with self.assertRaises(botocore.exceptions.BotoCoreError):
            one.allocate_address()
        self.assertEqual(len(inventory()["ec2:elastic-ip"]), 1)   # a reset call never reached the service
        log = [(c["operation"], c["fault"]) for c in admin("GET", "calls?log=1")["log"] if c["fault"]]
        self.assertEqual(log, [("CreateNatGateway", "truncate"), ("DescribeVpcEndpointServices", "throttle"),
                               ("AllocateAddress", "reset")])

    def test_aws_cli_cross_check(self):
        base = os.environ["AWSSIM_URL"]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION,
                   AWS_PAGER="", AWS_MAX_ATTEMPTS="1")

        def aws(*args):
            p = subprocess.run([AWS, "--endpoint-url", base, "--output", "json", "ec2", *args], capture_output=True,
                               text=True, env=env, timeout=600)   # a hang guard, not a speed test
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout) if p.stdout.strip() else {}
        vpc, pub, _, _ = self.network("10.65.0.0/16")
        alloc = aws("allocate-address", "--domain", "vpc")["AllocationId"]
        nat = aws("create-nat-gateway", "--subnet-id", pub[0], "--allocation-id", alloc)["NatGateway"]
        self.assertEqual((nat["State"], nat["VpcId"]), ("pending", vpc))
        advance(200)
        aws("wait", "nat-gateway-available", "--nat-gateway-ids", nat["NatGatewayId"])
        names = aws("describe-vpc-endpoint-services")["ServiceNames"]
        self.assertIn(f"com.amazonaws.{REGION}.eks-auth", names)
