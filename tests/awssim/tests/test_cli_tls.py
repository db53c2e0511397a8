"""The Debian aws CLI (awscli 2.9, /usr/bin/aws) against awssim: identity,
pagination, a waiter (`aws eks wait cluster-active`), error output,
`aws eks get-token` verified by awssim's STS, and TLS mode with
AWS_CA_BUNDLE (plus boto3 over TLS, and refusal without the CA)."""
import base64
import json
import os
import subprocess
import unittest
import urllib.parse

from common import ACCOUNT, AKID, SECRET, admin, advance, client, reset

AWS = "/usr/bin/aws"


def trust(svc):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": svc},
                                                                "Action": "sts:AssumeRole"}]})


class CliTest(unittest.TestCase):
    def aws(self, *args, url=None, region="eu-west-1", env=None, check=True):
        e = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=region,
                 AWS_PAGER="", AWS_MAX_ATTEMPTS="2")
        base = url or os.environ["AWSSIM_URL"]
        e["AWS_ENDPOINT_URL"] = base   # honoured by newer CLIs; 2.9 needs --endpoint-url too
        e.update(env or {})
        p = subprocess.run([AWS, "--endpoint-url", base, "--output", "json", *args], capture_output=True, text=True,
                           env=e, timeout=600)   # a hang guard, not a speed test
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def test_cli_flow(self):
        reset()
        ident = json.loads(self.aws("sts", "get-caller-identity").stdout)
        self.assertEqual(ident["Account"], ACCOUNT)
        azs = json.loads(self.aws("ec2", "describe-availability-zones").stdout)["AvailabilityZones"]
        self.assertEqual(len(azs), 3)
        iam = client("iam")
        for i in range(5):
            iam.create_role(RoleName=f"cli-{i}", AssumeRolePolicyDocument=trust("eks.amazonaws.com"))
        page = json.loads(self.aws("iam", "list-roles", "--max-items", "2", region="us-east-1").stdout)
        self.assertEqual(len(page["Roles"]), 2)
        self.assertIn("NextToken", page)
        rest = json.loads(self.aws("iam", "list-roles", "--starting-token", page["NextToken"],
                                   region="us-east-1").stdout)
        self.assertEqual(len(rest["Roles"]), 3)
        bad = self.aws("ec2", "describe-vpcs", "--vpc-ids", "vpc-0123456789abcdef0", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("InvalidVpcID.NotFound", bad.stderr)
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        subs = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")
                ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        advance(10)
        arn = iam.get_role(RoleName="cli-0")["Role"]["Arn"]
        self.aws("eks", "create-cluster", "--name", "demo", "--role-arn", arn, "--resources-vpc-config",
                 "subnetIds=" + ",".join(subs), "--access-config", "authenticationMode=API")
        advance(700)
        self.aws("eks", "wait", "cluster-active", "--name", "demo")
        tok = json.loads(self.aws("eks", "get-token", "--cluster-name", "demo").stdout)
        t = tok["status"]["token"]
        self.assertTrue(t.startswith("k8s-aws-v1."))
        raw = base64.urlsafe_b64decode(t[len("k8s-aws-v1."):] + "=" * (-len(t) % 4)).decode()
        u = urllib.parse.urlsplit(raw)
        self.assertIn("X-Amz-Signature", u.query)
        import urllib3
        r = urllib3.PoolManager().request("GET", os.environ["AWSSIM_URL"] + "/?" + u.query,
                                          headers={"Host": u.netloc, "x-k8s-aws-id": "demo"}, retries=False)
        self.assertEqual(r.status, 200, r.data)
        self.assertIn(b"<Account>123456789012</Account>", r.data)
        entries = json.loads(self.aws("eks", "list-access-entries", "--cluster-name", "demo").stdout)
        self.assertIn("arn:aws:iam::123456789012:user/secfaas-test", entries["accessEntries"])
        self.aws("eks", "delete-cluster", "--name", "demo")
        advance(400)
        self.aws("eks", "wait", "cluster-deleted", "--name", "demo")

    def test_tls(self):
        url = os.environ["AWSSIM_TLS_URL"]
        ca = os.environ["AWSSIM_TLS_CA"]
        self.assertTrue(url.startswith("https://127.0.0.1:"))
        ok = self.aws("sts", "get-caller-identity", url=url, env={"AWS_CA_BUNDLE": ca})
        self.assertEqual(json.loads(ok.stdout)["Account"], ACCOUNT)
        # the system store does not know the test CA (an empty AWS_CA_BUNDLE would disable checks)
        bad = self.aws("sts", "get-caller-identity", url=url, env={"AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"},
                       check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("SSL", bad.stderr.upper())
        sts = client("sts", base=url, verify=ca)
        self.assertEqual(sts.get_caller_identity()["Account"], ACCOUNT)
        os.environ["AWSSIM_CA"] = ca
        try:
            self.assertEqual(admin("GET", "config", base=url)["url"], url)
        finally:
            del os.environ["AWSSIM_CA"]

    def test_cli_versions_kms_pricing(self):
        """Operations Debian's models lack, through the CLI with the merged models (AWS_DATA_PATH)."""
        import tempfile
        reset()
        (dflt,) = json.loads(self.aws("eks", "describe-cluster-versions", "--default-only").stdout)["clusterVersions"]
        self.assertEqual(dflt["versionStatus"], "STANDARD_SUPPORT")
        kms = client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        dk = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext={"workspace": "prod"})
        with tempfile.NamedTemporaryFile("wb", suffix=".bin") as blob:
            blob.write(dk["CiphertextBlob"])
            blob.flush()
            back = json.loads(self.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob.name}",
                                       "--encryption-context", "workspace=prod").stdout)
        self.assertEqual(base64.b64decode(back["Plaintext"]), dk["Plaintext"])
        prices = json.loads(self.aws("pricing", "get-products", "--service-code", "AmazonEKS", "--filters",
                                     "Type=TERM_MATCH,Field=regionCode,Value=eu-west-1", region="us-east-1").stdout)
        usage = sorted(json.loads(p)["product"]["attributes"]["usagetype"] for p in prices["PriceList"])
        self.assertEqual(usage, ["EU-AmazonEKS-Hours:extendedSupport", "EU-AmazonEKS-Hours:perCluster"])
