"""The Kubernetes hook on the TLS instance (started with AWSSIM_KUBESIM
pointing at tests/fake_kubesim): ACTIVE only once the per-cluster simulator
listens, endpoint + CA usable with TLS verification, the launch contract's
flags, and the process stopped on DeleteCluster."""
import base64
import json
import os
import ssl
import tempfile
import unittest
import urllib.request

from common import admin, client

W = {"Delay": 0.05, "MaxAttempts": 400}


def trust(svc):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": svc},
                                                                "Action": "sts:AssumeRole"}]})


class KubeHook(unittest.TestCase):
    def test_cluster_gets_a_live_endpoint(self):
        url, ca = os.environ["AWSSIM_TLS_URL"], os.environ["AWSSIM_TLS_CA"]
        os.environ["AWSSIM_CA"] = ca
        try:
            admin("POST", "reset", base=url)
            iam, ec2, eks = (client(s, base=url, verify=ca) for s in ("iam", "ec2", "eks"))
            arn = iam.create_role(RoleName="c", AssumeRolePolicyDocument=trust("eks.amazonaws.com"))["Role"]["Arn"]
            vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
            subs = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")
                    ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
            admin("POST", "clock", {"advance": 10}, base=url)
            eks.create_cluster(name="hooked", roleArn=arn, resourcesVpcConfig={"subnetIds": subs})
            admin("POST", "clock", {"advance": 700}, base=url)
            c = eks.describe_cluster(name="hooked")["cluster"]
            self.assertEqual(c["status"], "ACTIVE")
            self.assertRegex(c["endpoint"], r"^https://127\.0\.0\.1:\d+$")
            self.assertNotEqual(c["endpoint"], "https://127.0.0.1:9")
            with tempfile.NamedTemporaryFile("wb", suffix=".pem") as fh:
                fh.write(base64.b64decode(c["certificateAuthority"]["data"]))
                fh.flush()
                tctx = ssl.create_default_context(cafile=fh.name)
                with urllib.request.urlopen(c["endpoint"] + "/version", context=tctx) as r:
                    self.assertEqual(json.loads(r.read())["cluster"], "hooked")
            cfg = admin("GET", "config", base=url)
            state = os.path.join(os.path.dirname(ca), "..", "state", "clusters", "123456789012-eu-west-1-hooked")
            with open(os.path.join(state, "fake.json")) as fh:
                fake = json.load(fh)
            argv = fake["argv"]
            for flag, want in (("--cluster", "hooked"), ("--region", "eu-west-1"), ("--account", "123456789012"),
                               ("--port", "0"), ("--aws-url", cfg["url"]), ("--aws-ca", ca)):
                self.assertEqual(argv[argv.index(flag) + 1], want, flag)
            self.assertIn("--timescale", argv)
            # the cluster's service CIDR and control-plane ENI addresses reach kubesim's pod network
            self.assertEqual(argv[argv.index("--service-cidr") + 1], "172.20.0.0/16")
            cps = argv[argv.index("--control-plane-ips") + 1].split(",")
            self.assertEqual(len(cps), 2)
            self.assertTrue(all(ip.startswith("10.8.") for ip in cps), cps)
            self.assertEqual(fake["nodegroups"], [])
            eks.delete_cluster(name="hooked")
            admin("POST", "clock", {"advance": 400}, base=url)
            eks.get_waiter("cluster_deleted").wait(name="hooked", WaiterConfig=W)
            self.assertFalse(os.path.exists(f"/proc/{fake['pid']}/cmdline") and
                             open(f"/proc/{fake['pid']}/cmdline").read(), "kubesim still running")
        finally:
            del os.environ["AWSSIM_CA"]
