"""What benchmarks and reliability suites read from awssim: every reply in
one write (no Nagle stall on keep-alive), seeded duration jitter (reset
replays the same durations; none is the bare AWS figure), the per-object
state-transition log on the simulated clock, and the call log (operation,
service, mutating or not, fault applied) - including a mutating call whose
reply was cut off after it took effect.  Plus the ClassicLink answers and
the cidr-block filter that Ansible's modules rely on."""
import json
import select
import socket
import unittest
import urllib.parse

import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

from common import REGION, admin, advance, client, raw, reset, url

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def code(e):
    return e.response["Error"]["Code"]


def transitions(typ, oid):
    objs = admin("GET", "transitions?" + urllib.parse.urlencode({"type": typ, "id": oid}))["objects"]
    return objs


class OneWrite(unittest.TestCase):
    def test_reply_arrives_whole_on_keep_alive(self):
        """The first read after a request returns the complete reply: headers and body
        were sent in one write.  Sent in two (the old way) the body lags behind the
        headers until the client's delayed ACK, so the first read holds only headers."""
        u = urllib.parse.urlsplit(url())
        if u.scheme != "http":
            self.skipTest("plain HTTP only")
        s = socket.create_connection((u.hostname, u.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for _ in range(8):
                s.sendall(b"GET /_awssim/health HTTP/1.1\r\nHost: x\r\n\r\n")
                r, _, _ = select.select([s], [], [], 30)
                self.assertTrue(r, "no reply")
                data = s.recv(65536)
                head, sep, body = data.partition(b"\r\n\r\n")
                self.assertTrue(sep, data)
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")][0]
                self.assertEqual(len(body), length, "body not in the first segment")
                self.assertEqual(json.loads(body), {"ok": True})
        finally:
            s.close()


class Jitter(unittest.TestCase):
    def _instance_boot(self):
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=REGION + "a")["Subnet"]
        ami = client("ssm").get_parameter(Name="/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/"
                                               "standard/recommended/image_id")["Parameter"]["Value"]
        iid = ec2.run_instances(ImageId=ami, InstanceType="m5.large", MinCount=1, MaxCount=1,
                                SubnetId=sub["SubnetId"])["Instances"][0]["InstanceId"]
        advance(60)
        tr = transitions("ec2:instance", iid)[0]["transitions"]
        self.assertEqual([t["state"] for t in tr], ["pending", "running"])
        return tr[1]["at"] - tr[0]["at"]

    def test_durations_jittered_and_replayed_after_reset(self):
        cfg = admin("GET", "config")
        self.assertEqual(cfg["seed"], 7)   # tests/run.py starts it with --seed 7
        ts = cfg["timescale"]
        reset()
        d1 = self._instance_boot() / ts
        reset()
        d2 = self._instance_boot() / ts
        self.assertAlmostEqual(d1, d2, places=3)      # same seed, same calls: same durations
        self.assertGreaterEqual(d1, 15 * 0.85 - 0.01)  # 15 s pending, +-15 %
        self.assertLessEqual(d1, 15 * 1.15 + 0.01)
        self.assertNotAlmostEqual(d1, 15.0, places=2)


class Transitions(unittest.TestCase):
    def test_instance_and_image_lifecycle(self):
        reset()
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24", AvailabilityZone=REGION + "a")["Subnet"]
        ami = client("ssm").get_parameter(Name="/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/"
                                               "standard/recommended/image_id")["Parameter"]["Value"]
        iid = ec2.run_instances(ImageId=ami, InstanceType="m5.large", MinCount=1, MaxCount=1,
                                SubnetId=sub["SubnetId"])["Instances"][0]["InstanceId"]
        before = admin("GET", "clock")["epoch"]
        advance(120)
        ec2.stop_instances(InstanceIds=[iid])
        advance(60)
        img = ec2.create_image(InstanceId=iid, Name="tl-image")["ImageId"]
        advance(600)
        ec2.terminate_instances(InstanceIds=[iid])
        advance(7200)
        tr = transitions("ec2:instance", iid)[0]["transitions"]
        self.assertEqual([t["state"] for t in tr], ["pending", "running", "stopping", "stopped", "shutting-down",
                                                     "terminated", "deleted"])
        # running happened at its deadline, not when the clock was advanced past it
        self.assertLess(tr[1]["at"], before + 60)
        self.assertTrue(all(a["at"] <= b["at"] for a, b in zip(tr, tr[1:])))
        itr = transitions("ec2:image", img)[0]["transitions"]
        self.assertEqual([t["state"] for t in itr], ["pending", "available"])
        self.assertTrue(itr[1]["time"].endswith("Z"))
        vtr = transitions("ec2:vpc", vpc)[0]["transitions"]
        self.assertEqual(vtr[0]["state"], "available")


class CallLog(unittest.TestCase):
    def tearDown(self):
        admin("DELETE", "faults")

    def test_every_call_logged_with_mutation_and_fault(self):
        reset()
        ec2 = client("ec2", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        ec2.describe_vpcs()
        admin("POST", "faults", {"operation": "CreateVpc", "kind": "truncate", "count": 1})
        with self.assertRaises(Exception):
            ec2.create_vpc(CidrBlock="10.42.0.0/16")
        admin("POST", "faults", {"operation": "DescribeVpcs", "kind": "throttle", "count": 1})
        with self.assertRaises(ClientError):
            ec2.describe_vpcs()
        admin("POST", "faults", {"operation": "CreateSecurityGroup", "kind": "reset", "count": 1})
        with self.assertRaises(botocore.exceptions.BotoCoreError):
            ec2.create_security_group(GroupName="x", Description="x", VpcId="vpc-0123456789abcdef0")
        with self.assertRaises(ClientError):
            ec2.delete_vpc(VpcId="vpc-0123456789abcdef0")
        st, _, _ = raw("POST", "sts", "/", b"Action=GetCallerIdentity&Version=2011-06-15", FORM)
        self.assertEqual(st, 200)
        calls = admin("GET", "calls?log=1")
        log = [(c["service"], c["operation"], c["mutating"], c["status"], c["error"], c["fault"])
               for c in calls["log"]]
        self.assertEqual(log, [
            ("ec2", "DescribeVpcs", False, 200, None, None),
            ("ec2", "CreateVpc", True, 200, None, "truncate"),     # took effect, reply cut off
            ("ec2", "DescribeVpcs", False, 503, "RequestLimitExceeded", "throttle"),
            ("ec2", "CreateSecurityGroup", True, None, None, "reset"),
            ("ec2", "DeleteVpc", True, 400, "InvalidVpcID.NotFound", None),
            ("sts", "GetCallerIdentity", False, 200, None, None)])
        self.assertEqual(calls["calls"]["ec2:CreateVpc"], 1)   # a truncated reply is one call
        self.assertEqual(calls["mutating"], {"ec2:CreateVpc": 1, "ec2:CreateSecurityGroup": 1, "ec2:DeleteVpc": 1})
        # the truncated CreateVpc did create the VPC
        self.assertEqual(len(admin("GET", "inventory")["resources"]["ec2:vpc"]), 1)
        later = admin("GET", f"calls?log=1&since={calls['seq'] - 1}")["log"]
        self.assertEqual([c["operation"] for c in later], ["GetCallerIdentity"])

    def test_log_names_the_object_of_eks_and_iam_calls(self):
        reset()
        eks, iam, ec2 = client("eks"), client("iam"), client("ec2")
        for call in (lambda: eks.describe_nodegroup(clusterName="c1", nodegroupName="ng1"),
                     lambda: eks.delete_addon(clusterName="c1", addonName="vpc-cni"),
                     lambda: eks.describe_cluster(name="c1"),
                     lambda: iam.list_role_tags(RoleName="r1")):
            with self.assertRaises(ClientError):
                call()
        ec2.describe_vpcs()
        log = admin("GET", "calls?log=1")["log"]
        self.assertEqual([(c["operation"], c["target"]) for c in log], [
            ("DescribeNodegroup", "c1/ng1"), ("DeleteAddon", "c1/vpc-cni"), ("DescribeCluster", "c1"),
            ("ListRoleTags", "r1"), ("DescribeVpcs", None)])


class AnsibleCalls(unittest.TestCase):
    def test_classic_link_and_cidr_block_filter(self):
        reset()
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
        ec2.create_vpc(CidrBlock="10.44.0.0/16")
        got = ec2.describe_vpcs(Filters=[{"Name": "cidr-block", "Values": ["10.43.0.0/16"]}])["Vpcs"]
        self.assertEqual([v["VpcId"] for v in got], [vpc])
        got = ec2.describe_vpcs(Filters=[{"Name": "cidr-block-association.state", "Values": ["associated"]}])
        self.assertEqual(len(got["Vpcs"]), 2)
        for call in (lambda: ec2.describe_vpc_classic_link(VpcIds=[vpc]),
                     lambda: ec2.describe_vpc_classic_link_dns_support(VpcIds=[vpc])):
            with self.assertRaises(ClientError) as cm:
                call()
            self.assertEqual(code(cm.exception), "UnsupportedOperation")
            # the text Ansible's and Terraform's AWS modules match on
            self.assertEqual(cm.exception.response["Error"]["Message"],
                             "The functionality you requested is not available in this region.")
