"""Error shapes from bad requests, as real clients see them: unknown
operation, missing member, bad enum, wrong type, out of range, wrong
signature, unknown key, skewed clock, missing auth, per protocol; plus the
presigned GetCallerIdentity (EKS token) with its 15-minute rule, and faults
(throttling retried by boto3, 500/503, latency, reset, truncated body)."""
import base64
import json
import time
import unittest
import urllib.parse
from xml.etree import ElementTree as ET

import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

from common import ACCOUNT, admin, advance, client, raw, reset

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def xml_code(body):
    root = ET.fromstring(body)
    for el in root.iter():
        if el.tag.endswith("Code"):
            return el.text
    return None


class ErrorShapes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reset()

    def test_query_protocols(self):
        cases = [
            ("ec2", b"Action=DescribeVpcz&Version=2016-11-15", 400, "InvalidAction"),
            ("ec2", b"Action=CreateSubnet&Version=2016-11-15&CidrBlock=10.0.0.0/24", 400, "MissingParameter"),
            ("ec2", b"Action=DescribeVpcs&Version=2016-11-15&MaxResults=abc", 400, "InvalidParameterValue"),
            ("ec2", b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0/16&InstanceTenancy=weird", 400,
             "InvalidParameterValue"),
            ("ec2", b"Action=DescribeVpcs&Version=2016-11-15&Bogus=1", 400, "UnknownParameter"),
            ("iam", b"Action=CreateRole&Version=2010-05-08&RoleName=x", 400, "ValidationError"),
            ("iam", b"Action=GetRole&Version=2010-05-08&RoleName=bad%20name", 400, "ValidationError"),
            ("iam", b"Action=ListRoles&Version=2010-05-08&MaxItems=5000", 400, "ValidationError"),
            ("sts", b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/x", 400, "ValidationError"),
        ]
        for svc, body, status, want in cases:
            with self.subTest(svc=svc, body=body):
                region = "us-east-1" if svc == "iam" else "eu-west-1"
                st, hdrs, data = raw("POST", svc, "/", body, FORM, region=region)
                self.assertEqual((st, xml_code(data)), (status, want), data)
                root = ET.fromstring(data)
                if svc == "ec2":
                    self.assertEqual(root.tag, "Response")
                    self.assertIsNotNone(root.find("RequestID"))
                else:
                    self.assertTrue(root.tag.endswith("ErrorResponse"))

    def test_json_protocols(self):
        st, hdrs, data = raw("POST", "ssm", "/", b'{"Name": 5}', {"Content-Type": "application/x-amz-json-1.1",
                                                                   "X-Amz-Target": "AmazonSSM.GetParameter"})
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(data)["__type"], "ValidationException")
        st, hdrs, data = raw("POST", "ssm", "/", b'{}', {"Content-Type": "application/x-amz-json-1.1",
                                                          "X-Amz-Target": "AmazonSSM.NoSuchThing"})
        self.assertEqual(json.loads(data)["__type"], "UnknownOperationException")
        st, hdrs, data = raw("POST", "eks", "/clusters", json.dumps({"name": "x"}).encode(),
                             {"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        self.assertTrue(hdrs["x-amzn-ErrorType"].startswith("InvalidParameterException"))
        self.assertIn("roleArn", json.loads(data)["message"])
        st, hdrs, data = raw("GET", "eks", "/clusters?maxResults=500")
        self.assertEqual(st, 400)
        st, hdrs, data = raw("POST", "eks", "/clusters/x/node-groups", json.dumps(
            {"nodegroupName": "n", "nodeRole": "r", "subnets": ["s"], "amiType": "WINDOWS_98"}).encode(),
            {"Content-Type": "application/json"})
        self.assertIn("amiType", json.loads(data)["message"])

    def test_auth_failures(self):
        def wrong_sig(req):
            req.headers.replace_header("Authorization", req.headers["Authorization"][:-4] + "0000")
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        for svc, want in (("sts", "SignatureDoesNotMatch"), ("ec2", "AuthFailure")):
            b = body if svc == "sts" else b"Action=DescribeVpcs&Version=2016-11-15"
            st, _, data = raw("POST", svc, "/", b, FORM, tamper=wrong_sig)
            self.assertEqual(xml_code(data), want)
            st, _, data = raw("POST", svc, "/", b, FORM, akid="AKIAIOSFODNN7NOTREAL")
            self.assertEqual(xml_code(data), "InvalidClientTokenId" if svc == "sts" else "AuthFailure")
        st, hdrs, data = raw("GET", "eks", "/clusters", tamper=wrong_sig)
        self.assertEqual(st, 403)
        self.assertTrue(hdrs["x-amzn-ErrorType"].startswith("InvalidSignatureException"))

        def no_cred(req):
            req.headers.replace_header("Authorization", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00")
        st, _, data = raw("POST", "sts", "/", body, FORM, tamper=no_cred)
        self.assertEqual((st, xml_code(data)), (400, "IncompleteSignature"))

        def skew(req):
            import botocore.auth
            import botocore.credentials
            old = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 900))
            del req.headers["Authorization"]
            req.headers.replace_header("X-Amz-Date", old)
            s = botocore.auth.SigV4Auth(botocore.credentials.Credentials(
                "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "sts", "eu-west-1")
            req.context["timestamp"] = old
            creq = s.canonical_request(req)
            sig = s.signature(s.string_to_sign(req, creq), req)
            s._inject_signature_to_request(req, sig)
        st, _, data = raw("POST", "sts", "/", body, FORM, tamper=skew)
        self.assertEqual(xml_code(data), "SignatureDoesNotMatch")
        self.assertIn(b"Signature expired", data)
        st, _, data = raw("POST", "sts", "/", body, FORM, sign=False)
        self.assertEqual(xml_code(data), "MissingAuthenticationToken")

    def test_boto3_sees_the_right_codes(self):
        ec2 = client("ec2", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
        with self.assertRaises(ClientError) as cm:
            ec2.create_subnet(VpcId="vpc-0123456789abcdef0")
        self.assertEqual(cm.exception.response["Error"]["Code"], "MissingParameter")
        with self.assertRaises(ClientError) as cm:
            ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidVpcID.NotFound")
        eks = client("eks", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
        with self.assertRaises(ClientError) as cm:
            eks.list_clusters(maxResults=0)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidParameterException")


class Presigned(unittest.TestCase):
    def test_eks_token_url(self):
        reset()
        sts = client("sts")
        url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
        # generate_presigned_url cannot add x-k8s-aws-id: sign it like `aws eks get-token` does
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        creds = botocore.credentials.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        base = url.split("?")[0]
        req = botocore.awsrequest.AWSRequest(method="GET", url=base + "?Action=GetCallerIdentity&Version=2011-06-15",
                                             headers={"x-k8s-aws-id": "demo"})
        botocore.auth.SigV4QueryAuth(creds, "sts", "eu-west-1", expires=60).add_auth(req)
        u = urllib.parse.urlsplit(req.url)
        seq = admin("GET", "calls?log=1")["seq"]
        ok = self._replay(u, {"x-k8s-aws-id": "demo", "Host": u.netloc})
        self.assertEqual(ok[0], 200, ok[1])
        self.assertIn(ACCOUNT.encode(), ok[1])
        # the call log tells a checked token from a call the holder signed
        sts.get_caller_identity()
        log = admin("GET", f"calls?log=1&since={seq}")["log"]
        self.assertEqual([(c["operation"], c["auth"]) for c in log],
                         [("GetCallerIdentity", "presigned"), ("GetCallerIdentity", "header")])
        bad = self._replay(u, {"x-k8s-aws-id": "other", "Host": u.netloc})
        self.assertEqual((bad[0], xml_code(bad[1])), (403, "SignatureDoesNotMatch"))
        advance(901)
        late = self._replay(u, {"x-k8s-aws-id": "demo", "Host": u.netloc})
        self.assertEqual(late[0], 403)
        self.assertIn(b"Signature expired", late[1])

    def _replay(self, u, headers):
        import urllib3
        import common
        pool = urllib3.PoolManager(ca_certs=common.ca()) if common.ca() else urllib3.PoolManager()
        r = pool.request("GET", common.url() + "/?" + u.query, headers=headers, retries=False)
        return r.status, r.data


class Faults(unittest.TestCase):
    def setUp(self):
        reset()

    def tearDown(self):
        admin("DELETE", "faults")

    def test_throttling_retried_by_boto3(self):
        admin("POST", "faults", {"operation": "DescribeVpcs", "kind": "throttle", "count": 2})
        ec2 = client("ec2", config=Config(retries={"mode": "standard", "max_attempts": 3}))
        r = ec2.describe_vpcs()
        self.assertEqual(r["ResponseMetadata"]["RetryAttempts"], 2)
        calls = admin("GET", "calls")
        self.assertEqual(calls["calls"]["ec2:DescribeVpcs"], 3)
        self.assertEqual(calls["errors"]["ec2:DescribeVpcs:fault:throttle"], 2)
        admin("POST", "faults", {"operation": "*", "service": "eks", "kind": "throttle", "count": 1})
        eks = client("eks", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        with self.assertRaises(ClientError) as cm:
            eks.list_clusters()
        self.assertEqual(cm.exception.response["Error"]["Code"], "ThrottlingException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 429)
        admin("POST", "faults", {"operation": "ListRoles", "kind": "throttle", "count": 1})
        iam = client("iam", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        with self.assertRaises(ClientError) as cm:
            iam.list_roles()
        self.assertEqual((cm.exception.response["Error"]["Code"],
                          cm.exception.response["ResponseMetadata"]["HTTPStatusCode"]), ("Throttling", 400))

    def test_http_errors_latency_reset_truncate(self):
        sts = client("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        admin("POST", "faults", {"operation": "GetCallerIdentity", "kind": "http503", "count": 1})
        with self.assertRaises(ClientError) as cm:
            sts.get_caller_identity()
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        admin("POST", "faults", {"operation": "GetCallerIdentity", "kind": "http500", "count": 1})
        with self.assertRaises(ClientError) as cm:
            sts.get_caller_identity()
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        admin("POST", "faults", {"operation": "GetCallerIdentity", "kind": "latency", "ms": 300, "count": 1})
        t0 = time.monotonic()
        sts.get_caller_identity()
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        admin("POST", "faults", {"operation": "GetCallerIdentity", "kind": "reset", "count": 1})
        with self.assertRaises(botocore.exceptions.BotoCoreError):
            sts.get_caller_identity()
        admin("POST", "faults", {"operation": "GetCallerIdentity", "kind": "truncate", "count": 1})
        with self.assertRaises(Exception):
            sts.get_caller_identity()
        self.assertEqual(sts.get_caller_identity()["Account"], ACCOUNT)

    def test_rate(self):
        admin("POST", "faults", {"operation": "GetCallerIdentity", "kind": "throttle", "rate": 1.0})
        st, _, data = raw("POST", "sts", "/", b"Action=GetCallerIdentity&Version=2011-06-15", FORM)
        self.assertEqual((st, xml_code(data)), (400, "Throttling"))
        admin("DELETE", "faults")
        st, _, data = raw("POST", "sts", "/", b"Action=GetCallerIdentity&Version=2011-06-15", FORM)
        self.assertEqual(st, 200)


_ = base64
