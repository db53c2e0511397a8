"""KMS through boto3: keys and aliases, data keys that really decrypt (and
only with the same key and encryption context), key policies (explicit and
implicit denies, conditions on the encryption context, the lockout safety
check, unknown principals), disabled keys and scheduled deletion on the
simulated clock, and the errors KMS gives for each."""
import json
import unittest

from botocore.exceptions import ClientError

from common import ACCOUNT, advance, client, inventory, raw, reset, session

USER = f"arn:aws:iam::{ACCOUNT}:user/secfaas-test"


def code(e):
    return e.response["Error"]["Code"]


class KmsTest(unittest.TestCase):
    def setUp(self):
        reset()
        self.kms = client("kms")

    def err(self, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        return cm.exception

    def test_data_keys_round_trip_and_fail_closed(self):
        kms = self.kms
        k = kms.create_key(Description="state", Tags=[{"TagKey": "secfaas:stack", "TagValue": "t"}])["KeyMetadata"]
        self.assertEqual((k["KeyState"], k["KeySpec"], k["KeyManager"], k["Enabled"]),
                         ("Enabled", "SYMMETRIC_DEFAULT", "CUSTOMER", True))
        self.assertEqual(k["Arn"], f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{k['KeyId']}")
        kms.create_alias(AliasName="alias/secfaas-state", TargetKeyId=k["KeyId"])
        e = self.err(kms.create_alias, AliasName="alias/secfaas-state", TargetKeyId=k["KeyId"])
        self.assertEqual(code(e), "AlreadyExistsException")
        self.assertEqual(code(self.err(kms.create_alias, AliasName="state", TargetKeyId=k["KeyId"])),
                         "InvalidAliasNameException")
        aliases = kms.list_aliases(KeyId=k["KeyId"])["Aliases"]
        self.assertEqual([(a["AliasName"], a["TargetKeyId"]) for a in aliases], [("alias/secfaas-state", k["KeyId"])])
        ctx = {"secfaas:workspace": "prod"}
        dk = kms.generate_data_key(KeyId="alias/secfaas-state", KeySpec="AES_256", EncryptionContext=ctx)
        self.assertEqual(len(dk["Plaintext"]), 32)
        self.assertEqual(dk["KeyId"], k["Arn"])
        self.assertNotIn(dk["Plaintext"], dk["CiphertextBlob"])
        back = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)
        self.assertEqual((back["Plaintext"], back["KeyId"]), (dk["Plaintext"], k["Arn"]))
        # the encryption context is authenticated
        self.assertEqual(code(self.err(kms.decrypt, CiphertextBlob=dk["CiphertextBlob"])), "InvalidCiphertextException")
        self.assertEqual(code(self.err(kms.decrypt, CiphertextBlob=dk["CiphertextBlob"],
                                       EncryptionContext={"secfaas:workspace": "dev"})), "InvalidCiphertextException")
        # a flipped bit
        blob = bytearray(dk["CiphertextBlob"])
        blob[-1] ^= 1
        self.assertEqual(code(self.err(kms.decrypt, CiphertextBlob=bytes(blob), EncryptionContext=ctx)),
                         "InvalidCiphertextException")
        # another key: named in the request, or swapped into the blob, never decrypts it
        other = kms.create_key()["KeyMetadata"]
        self.assertEqual(code(self.err(kms.decrypt, CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx,
                                       KeyId=other["KeyId"])), "IncorrectKeyException")
        swapped = dk["CiphertextBlob"].replace(k["Arn"].encode(), other["Arn"].encode())
        self.assertNotEqual(swapped, dk["CiphertextBlob"])
        self.assertEqual(code(self.err(kms.decrypt, CiphertextBlob=swapped, EncryptionContext=ctx)),
                         "InvalidCiphertextException")
        # Encrypt / ReEncrypt
        ct = kms.encrypt(KeyId=k["Arn"], Plaintext=b"hello")["CiphertextBlob"]
        re = kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=other["KeyId"])
        self.assertEqual((re["SourceKeyId"], re["KeyId"]), (k["Arn"], other["Arn"]))
        self.assertEqual(kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"], b"hello")
        # sizes and validation
        self.assertEqual(len(kms.generate_data_key(KeyId=k["KeyId"], NumberOfBytes=64)["Plaintext"]), 64)
        self.assertEqual(code(self.err(kms.generate_data_key, KeyId=k["KeyId"])), "ValidationException")
        self.assertEqual(code(self.err(kms.generate_data_key, KeyId=k["KeyId"], KeySpec="AES_256",
                                       NumberOfBytes=32)), "ValidationException")
        self.assertNotIn("Plaintext", kms.generate_data_key_without_plaintext(KeyId=k["KeyId"], KeySpec="AES_128"))
        # lookups that fail
        for kid in ("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/nope", "bogus",
                    f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"):
            with self.subTest(kid=kid):
                self.assertEqual(code(self.err(kms.describe_key, KeyId=kid)), "NotFoundException")
        self.assertEqual(kms.list_resource_tags(KeyId=k["KeyId"])["Tags"],
                         [{"TagKey": "secfaas:stack", "TagValue": "t"}])
        self.assertEqual({x["id"] for x in inventory()["kms:key"]}, {k["KeyId"], other["KeyId"]})

    def test_key_policy_decides(self):
        iam, sts, kms = client("iam"), client("sts"), self.kms
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::"
                                                                                                  f"{ACCOUNT}:root"},
                                                         "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="runner", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        advance(10)
        policy = {"Version": "2012-10-17", "Statement": [
            {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "runner", "Effect": "Allow", "Principal": {"AWS": role},
             "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:secfaas:workspace": "prod"}}},
            {"Sid": "no-dev", "Effect": "Deny", "Principal": {"AWS": USER}, "Action": "kms:GenerateDataKey*",
             "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:secfaas:workspace": "dev"}}}]}
        k = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
        dk = kms.generate_data_key(KeyId=k["KeyId"], KeySpec="AES_256",
                                   EncryptionContext={"secfaas:workspace": "prod"})
        e = self.err(kms.generate_data_key, KeyId=k["KeyId"], KeySpec="AES_256",
                     EncryptionContext={"secfaas:workspace": "dev"})
        self.assertEqual(code(e), "AccessDeniedException")
        self.assertIn("explicit deny", e.response["Error"]["Message"])
        creds = sts.assume_role(RoleArn=role, RoleSessionName="ci")["Credentials"]
        rk = client("kms", sess=session(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
        got = rk.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"secfaas:workspace": "prod"})
        self.assertEqual(got["Plaintext"], dk["Plaintext"])
        e = self.err(rk.generate_data_key, KeyId=k["KeyId"], KeySpec="AES_256",
                     EncryptionContext={"secfaas:workspace": "prod"})
        self.assertEqual(code(e), "AccessDeniedException")
        self.assertIn("no resource-based policy allows the kms:GenerateDataKey action", e.response["Error"]["Message"])
        # the role may not decrypt another workspace's blob even though the crypto would work
        dev = kms.generate_data_key(KeyId=k["KeyId"], KeySpec="AES_256", EncryptionContext={"secfaas:workspace": "qa"})
        self.assertEqual(code(self.err(rk.decrypt, CiphertextBlob=dev["CiphertextBlob"],
                                       EncryptionContext={"secfaas:workspace": "qa"})), "AccessDeniedException")
        # the lockout safety check, and principals that must exist
        only_role = {"Version": "2012-10-17", "Statement": [policy["Statement"][1]]}
        self.assertEqual(code(self.err(kms.put_key_policy, KeyId=k["KeyId"], PolicyName="default",
                                       Policy=json.dumps(only_role))), "MalformedPolicyDocumentException")
        ghost = {"Version": "2012-10-17", "Statement": [dict(policy["Statement"][0]), {
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ghost"}, "Action": "kms:Decrypt",
            "Resource": "*"}]}
        self.assertEqual(code(self.err(kms.put_key_policy, KeyId=k["KeyId"], PolicyName="default",
                                       Policy=json.dumps(ghost))), "MalformedPolicyDocumentException")
        kms.put_key_policy(KeyId=k["KeyId"], PolicyName="default", Policy=json.dumps(only_role),
                           BypassPolicyLockoutSafetyCheck=True)
        self.assertEqual(code(self.err(kms.get_key_policy, KeyId=k["KeyId"], PolicyName="default")),
                         "AccessDeniedException")
        # the default policy delegates to IAM: every identity of the account may use the key
        d = kms.create_key()["KeyMetadata"]
        self.assertIn(":root", kms.get_key_policy(KeyId=d["KeyId"], PolicyName="default")["Policy"])
        rk.encrypt(KeyId=d["KeyId"], Plaintext=b"x")

    def test_disabled_and_deleted_keys(self):
        kms = self.kms
        k = kms.create_key()["KeyMetadata"]
        kms.create_alias(AliasName="alias/gone", TargetKeyId=k["KeyId"])
        blob = kms.encrypt(KeyId=k["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
        kms.disable_key(KeyId=k["KeyId"])
        self.assertEqual(kms.describe_key(KeyId="alias/gone")["KeyMetadata"]["KeyState"], "Disabled")
        self.assertEqual(code(self.err(kms.generate_data_key, KeyId=k["KeyId"], KeySpec="AES_256")),
                         "DisabledException")
        self.assertEqual(code(self.err(kms.decrypt, CiphertextBlob=blob)), "DisabledException")
        kms.enable_key(KeyId=k["KeyId"])
        self.assertEqual(kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"secret")
        self.assertEqual(code(self.err(kms.schedule_key_deletion, KeyId=k["KeyId"], PendingWindowInDays=3)),
                         "ValidationException")
        s = kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
        self.assertEqual((s["KeyState"], s["PendingWindowInDays"], s["KeyId"]), ("PendingDeletion", 7, k["Arn"]))
        e = self.err(kms.decrypt, CiphertextBlob=blob)
        self.assertEqual(code(e), "KMSInvalidStateException")
        self.assertIn("pending deletion", e.response["Error"]["Message"])
        self.assertNotIn("kms:key", inventory())
        self.assertEqual(kms.cancel_key_deletion(KeyId=k["KeyId"])["KeyId"], k["Arn"])
        self.assertEqual(kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"], "Disabled")
        self.assertEqual(code(self.err(kms.cancel_key_deletion, KeyId=k["KeyId"])), "KMSInvalidStateException")
        kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
        advance(6 * 86400)
        self.assertEqual(kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"], "PendingDeletion")
        advance(86400 + 5)
        self.assertEqual(code(self.err(kms.describe_key, KeyId=k["KeyId"])), "NotFoundException")
        self.assertEqual(kms.list_aliases()["Aliases"], [])

    def test_wire_errors(self):
        # json 1.1 shape of a model violation and an unknown key, as the raw service sends them
        st, _, body = raw("POST", "kms", "/", json.dumps({"KeyId": "x", "NumberOfBytes": 2000}).encode(),
                          {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.GenerateDataKey"})
        self.assertEqual((st, json.loads(body)["__type"]), (400, "ValidationException"))
        st, _, body = raw("POST", "kms", "/", json.dumps({"KeyId": "alias/none"}).encode(),
                          {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"})
        self.assertEqual((st, json.loads(body)["__type"]), (400, "NotFoundException"))
        self.assertIn("alias/none", json.loads(body)["message"])
