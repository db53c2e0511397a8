"""IAM and STS through boto3: roles, trust policies, policy attachments,
instance profiles, DeleteConflict/NoSuchEntity/EntityAlreadyExists, tags,
pagination, GetCallerIdentity, AssumeRole (+ token expiry on the simulated
clock), unsigned AssumeRoleWithWebIdentity."""
import base64
import json
import unittest

from botocore.exceptions import ClientError

from common import ACCOUNT, admin, advance, client, reset, session

EKS_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
    "Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def code(e):
    return e.response["Error"]["Code"]


class IamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reset()
        cls.iam = client("iam")

    def test_role_lifecycle_and_conflicts(self):
        iam = self.iam
        r = iam.create_role(RoleName="cl-role", AssumeRolePolicyDocument=EKS_TRUST, Description="d",
                            Tags=[{"Key": "secfaas:stack", "Value": "t"}])["Role"]
        self.assertEqual(r["Arn"], f"arn:aws:iam::{ACCOUNT}:role/cl-role")
        self.assertTrue(r["RoleId"].startswith("AROA"))
        # botocore URL-decodes the document: it arrives as a dict only if we sent it URL-encoded
        self.assertEqual(r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"], "eks.amazonaws.com")
        with self.assertRaises(ClientError) as cm:
            iam.create_role(RoleName="cl-role", AssumeRolePolicyDocument=EKS_TRUST)
        self.assertEqual(code(cm.exception), "EntityAlreadyExists")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        # names are unique regardless of case
        with self.assertRaises(ClientError) as cm:
            iam.create_role(RoleName="CL-Role", AssumeRolePolicyDocument=EKS_TRUST)
        self.assertEqual(code(cm.exception), "EntityAlreadyExists")
        iam.create_instance_profile(InstanceProfileName="cl-ip")
        with self.assertRaises(ClientError) as cm:
            iam.create_instance_profile(InstanceProfileName="CL-IP")
        self.assertEqual(code(cm.exception), "EntityAlreadyExists")
        iam.delete_instance_profile(InstanceProfileName="cl-ip")
        iam.attach_role_policy(RoleName="cl-role", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
        iam.put_role_policy(RoleName="cl-role", PolicyName="inline", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        ip = iam.create_instance_profile(InstanceProfileName="cl-prof")["InstanceProfile"]
        self.assertTrue(ip["Arn"].endswith(":instance-profile/cl-prof"))
        iam.add_role_to_instance_profile(InstanceProfileName="cl-prof", RoleName="cl-role")
        with self.assertRaises(ClientError) as cm:
            iam.add_role_to_instance_profile(InstanceProfileName="cl-prof", RoleName="cl-role")
        self.assertEqual(code(cm.exception), "LimitExceeded")
        self.assertEqual(iam.get_instance_profile(InstanceProfileName="cl-prof")["InstanceProfile"]["Roles"][0]
                         ["RoleName"], "cl-role")
        for expect in ("detach all policies", "delete policies", "remove roles from instance profile"):
            with self.assertRaises(ClientError) as cm:
                iam.delete_role(RoleName="cl-role")
            self.assertEqual(code(cm.exception), "DeleteConflict")
            self.assertIn(expect, cm.exception.response["Error"]["Message"])
            if expect.startswith("detach"):
                iam.detach_role_policy(RoleName="cl-role", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
            elif expect.startswith("delete"):
                iam.delete_role_policy(RoleName="cl-role", PolicyName="inline")
        with self.assertRaises(ClientError) as cm:
            iam.delete_instance_profile(InstanceProfileName="cl-prof")
        self.assertEqual(code(cm.exception), "DeleteConflict")
        iam.remove_role_from_instance_profile(InstanceProfileName="cl-prof", RoleName="cl-role")
        iam.delete_instance_profile(InstanceProfileName="cl-prof")
        iam.delete_role(RoleName="cl-role")
        with self.assertRaises(ClientError) as cm:
            iam.get_role(RoleName="cl-role")
        self.assertEqual(code(cm.exception), "NoSuchEntity")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    def test_unknown_policy_and_bad_document(self):
        self.iam.create_role(RoleName="p-role", AssumeRolePolicyDocument=EKS_TRUST)
        with self.assertRaises(ClientError) as cm:
            self.iam.attach_role_policy(RoleName="p-role", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
        self.assertEqual(code(cm.exception), "NoSuchEntity")
        with self.assertRaises(ClientError) as cm:
            self.iam.create_role(RoleName="bad", AssumeRolePolicyDocument="{not json")
        self.assertEqual(code(cm.exception), "MalformedPolicyDocument")
        self.iam.delete_role(RoleName="p-role")

    def test_inline_policies_round_trip_and_size_quota(self):
        iam = self.iam
        iam.create_role(RoleName="inl-role", AssumeRolePolicyDocument=EKS_TRUST)
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "autoscaling:Describe*",
                                                       "Resource": "*"}]}
        iam.put_role_policy(RoleName="inl-role", PolicyName="ca", PolicyDocument=json.dumps(doc))
        self.assertEqual(iam.get_role_policy(RoleName="inl-role", PolicyName="ca")["PolicyDocument"], doc)
        self.assertEqual(iam.list_role_policies(RoleName="inl-role")["PolicyNames"], ["ca"])
        with self.assertRaises(ClientError) as cm:
            iam.get_role_policy(RoleName="inl-role", PolicyName="nope")
        self.assertEqual(code(cm.exception), "NoSuchEntity")
        self.assertEqual(cm.exception.response["Error"]["Message"], "The role policy with name nope cannot be found.")
        # 10,240 characters for all of a role's inline policies, white space not counted
        big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe%d" % i
                                                                                     for i in range(700)],
                                                       "Resource": "*"}]}
        with self.assertRaises(ClientError) as cm:
            iam.put_role_policy(RoleName="inl-role", PolicyName="big", PolicyDocument=json.dumps(big, indent=4))
        self.assertEqual(code(cm.exception), "LimitExceeded")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        self.assertIn("Maximum policy size of 10240 bytes exceeded for role inl-role",
                      cm.exception.response["Error"]["Message"])
        self.assertEqual(iam.list_role_policies(RoleName="inl-role")["PolicyNames"], ["ca"])
        iam.delete_role_policy(RoleName="inl-role", PolicyName="ca")
        with self.assertRaises(ClientError) as cm:
            iam.delete_role_policy(RoleName="inl-role", PolicyName="ca")
        self.assertEqual(code(cm.exception), "NoSuchEntity")
        iam.delete_role(RoleName="inl-role")

    def test_tags_and_pagination(self):
        for i in range(7):
            self.iam.create_role(RoleName=f"pg-{i}", AssumeRolePolicyDocument=EKS_TRUST, Path="/pg/")
        self.iam.tag_role(RoleName="pg-0", Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(self.iam.list_role_tags(RoleName="pg-0")["Tags"], [{"Key": "k", "Value": "v"}])
        self.iam.untag_role(RoleName="pg-0", TagKeys=["k"])
        self.assertEqual(self.iam.list_role_tags(RoleName="pg-0")["Tags"], [])
        first = self.iam.list_roles(PathPrefix="/pg/", MaxItems=3)
        self.assertTrue(first["IsTruncated"])
        self.assertEqual(len(first["Roles"]), 3)
        names = [r["RoleName"] for page in self.iam.get_paginator("list_roles").paginate(
            PathPrefix="/pg/", PaginationConfig={"PageSize": 2}) for r in page["Roles"]]
        self.assertEqual(sorted(names), [f"pg-{i}" for i in range(7)])
        for i in range(7):
            self.iam.delete_role(RoleName=f"pg-{i}")

    def test_account_authorization_details(self):
        """Every role with its trust policy, inline policies (URL-encoded on the
        wire; botocore decodes them), attached policies, instance profiles and
        tags; paginated with Marker/MaxItems over the whole account; Filter
        narrows it; MaxItems beyond IAM's 1000 is a ValidationError."""
        iam = self.iam
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        for i in range(5):
            iam.create_role(RoleName=f"gaad-{i}", AssumeRolePolicyDocument=EKS_TRUST,
                            Tags=[{"Key": "secfaas:lineage", "Value": f"lin-{i}"}])
        iam.attach_role_policy(RoleName="gaad-1", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        iam.put_role_policy(RoleName="gaad-1", PolicyName="rw", PolicyDocument=json.dumps(doc))
        iam.create_instance_profile(InstanceProfileName="gaad-prof")
        iam.add_role_to_instance_profile(InstanceProfileName="gaad-prof", RoleName="gaad-1")
        first = iam.get_account_authorization_details(Filter=["Role"], MaxItems=2)
        self.assertTrue(first["IsTruncated"])
        self.assertEqual(len(first["RoleDetailList"]), 2)
        self.assertEqual((first["UserDetailList"], first["GroupDetailList"], first["Policies"]), ([], [], []))
        roles = [r for page in iam.get_paginator("get_account_authorization_details").paginate(
            Filter=["Role"], PaginationConfig={"PageSize": 2}) for r in page["RoleDetailList"]]
        mine = {r["RoleName"]: r for r in roles if r["RoleName"].startswith("gaad-")}
        self.assertEqual(sorted(mine), [f"gaad-{i}" for i in range(5)])
        r = mine["gaad-1"]
        self.assertEqual(r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"], "eks.amazonaws.com")
        self.assertEqual(r["RolePolicyList"], [{"PolicyName": "rw", "PolicyDocument": doc}])
        self.assertEqual(r["AttachedManagedPolicies"], [{"PolicyName": "AdministratorAccess",
                                                         "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}])
        self.assertEqual([p["InstanceProfileName"] for p in r["InstanceProfileList"]], ["gaad-prof"])
        self.assertEqual(r["Tags"], [{"Key": "secfaas:lineage", "Value": "lin-1"}])
        self.assertEqual(r["Arn"], f"arn:aws:iam::{ACCOUNT}:role/gaad-1")
        self.assertEqual((mine["gaad-0"]["RolePolicyList"], mine["gaad-0"]["AttachedManagedPolicies"],
                          mine["gaad-0"]["InstanceProfileList"]), ([], [], []))
        # the AWS-managed policies the account uses come with Filter=AWSManagedPolicy
        pols = iam.get_account_authorization_details(Filter=["AWSManagedPolicy"])
        self.assertEqual(pols["RoleDetailList"], [])
        self.assertIn("AdministratorAccess", [p["PolicyName"] for p in pols["Policies"]])
        with self.assertRaises(ClientError) as cm:
            iam.get_account_authorization_details(Filter=["Role"], MaxItems=1001)
        self.assertEqual(code(cm.exception), "ValidationError")
        with self.assertRaises(ClientError) as cm:
            iam.get_account_authorization_details(Filter=["Robot"])
        self.assertEqual(code(cm.exception), "ValidationError")
        iam.remove_role_from_instance_profile(InstanceProfileName="gaad-prof", RoleName="gaad-1")
        iam.delete_instance_profile(InstanceProfileName="gaad-prof")
        iam.detach_role_policy(RoleName="gaad-1", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        iam.delete_role_policy(RoleName="gaad-1", PolicyName="rw")
        for i in range(5):
            iam.delete_role(RoleName=f"gaad-{i}")

    def test_denied_fault_is_access_denied(self):
        """A least-privilege caller: the "denied" fault answers the action with
        IAM's AccessDenied 403 naming the caller and the action; other calls
        still work."""
        admin("POST", "faults", {"operation": "iam:GetAccountAuthorizationDetails", "kind": "denied"})
        try:
            with self.assertRaises(ClientError) as cm:
                self.iam.get_account_authorization_details(Filter=["Role"])
            self.assertEqual(code(cm.exception), "AccessDenied")
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
            self.assertIn(f"User: arn:aws:iam::{ACCOUNT}:user/secfaas-test is not authorized to perform: "
                          "iam:GetAccountAuthorizationDetails on resource: *",
                          cm.exception.response["Error"]["Message"])
            self.iam.list_roles()
        finally:
            admin("DELETE", "faults")
        self.iam.get_account_authorization_details(Filter=["Role"])


class StsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reset()
        cls.iam = client("iam")
        cls.sts = client("sts")

    def test_caller_identity(self):
        ident = self.sts.get_caller_identity()
        self.assertEqual(ident["Account"], ACCOUNT)
        self.assertEqual(ident["Arn"], "arn:aws:iam::123456789012:user/secfaas-test")

    def test_assume_role_and_expiry(self):
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
        arn = self.iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        cr = self.sts.assume_role(RoleArn=arn, RoleSessionName="ci", DurationSeconds=900)
        c = cr["Credentials"]
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"))
        self.assertEqual(cr["AssumedRoleUser"]["Arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci")
        s2 = session(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        self.assertEqual(client("sts", s2).get_caller_identity()["Arn"], cr["AssumedRoleUser"]["Arn"])
        # a wrong session token is refused
        s3 = session(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"][:-4] + "AAAA")
        with self.assertRaises(ClientError) as cm:
            client("sts", s3).get_caller_identity()
        self.assertEqual(code(cm.exception), "InvalidClientTokenId")
        # no trust for a service-only role
        other = self.iam.create_role(RoleName="svc-only", AssumeRolePolicyDocument=EKS_TRUST)["Role"]["Arn"]
        with self.assertRaises(ClientError) as cm:
            self.sts.assume_role(RoleArn=other, RoleSessionName="xx")
        self.assertEqual(code(cm.exception), "AccessDenied")
        with self.assertRaises(ClientError) as cm:
            self.sts.assume_role(RoleArn=arn, RoleSessionName="xx", DurationSeconds=7200)
        self.assertEqual(code(cm.exception), "ValidationError")
        advance(901)
        for svc, expect in (("sts", "ExpiredToken"), ("iam", "ExpiredToken"), ("eks", "ExpiredTokenException"),
                            ("ec2", "RequestExpired")):
            with self.subTest(svc=svc):
                cl = client(svc, s2)
                call = {"sts": lambda: cl.get_caller_identity(), "iam": lambda: cl.list_roles(),
                        "eks": lambda: cl.list_clusters(), "ec2": lambda: cl.describe_vpcs()}[svc]
                with self.assertRaises(ClientError) as cm:
                    call()
                self.assertEqual(code(cm.exception), expect)

    def test_assume_role_with_web_identity_unsigned(self):
        import botocore
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example.com"},
            "Action": "sts:AssumeRoleWithWebIdentity"}]})
        arn = self.iam.create_role(RoleName="oidc-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]

        def b64(d):
            return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
        jwt = b64({"alg": "RS256"}) + "." + b64({"iss": "https://token.actions.example.com", "sub": "repo:x",
                                                 "aud": "sts.amazonaws.com"}) + ".c2ln"
        anon = client("sts", config=botocore.config.Config(signature_version=botocore.UNSIGNED))
        r = anon.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gh", WebIdentityToken=jwt)
        self.assertEqual(r["SubjectFromWebIdentityToken"], "repo:x")
        self.assertTrue(r["Credentials"]["AccessKeyId"].startswith("ASIA"))
        with self.assertRaises(ClientError) as cm:
            anon.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gh", WebIdentityToken="garbage")
        self.assertEqual(code(cm.exception), "InvalidIdentityToken")
        # every other operation needs a signature
        with self.assertRaises(ClientError) as cm:
            anon.get_caller_identity()
        self.assertEqual(code(cm.exception), "MissingAuthenticationToken")
