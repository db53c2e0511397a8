"""KMS (json 1.1, TrentService): symmetric keys, aliases, key policies,
data keys, Encrypt/Decrypt/ReEncrypt, disabling and scheduled deletion, tags.

Per (account, region) scope: kms_keys[key-id] holds the key in KeyMetadata
form plus private fields (_material: 32 random bytes, _policy: the key policy
text, _tags); kms_aliases[alias/name] -> {AliasName, AliasArn, TargetKeyId,
CreationDate, LastUpdatedDate}.

Cryptography is real (AES-256-GCM from python3-cryptography): a ciphertext
blob carries the key ARN it was made with (as KMS's do), a 12-byte nonce and
the sealed data; the encryption context is the additional authenticated data,
so a different context, a different key or a flipped bit all fail as
InvalidCiphertextException.  A blob naming one key sent with another KeyId is
IncorrectKeyException.

Key policies are evaluated for every key operation: an explicit Deny wins,
then an Allow whose principal, action, resource and conditions match,
otherwise AccessDeniedException.  A principal "arn:aws:iam::ACCT:root" (or
"ACCT") delegates to IAM; awssim grants every identity of that account all
IAM permissions, so such a statement admits any principal of ACCT.
Supported condition operators: String(Not)Equals/Like, Arn(Not)Equals/Like,
Bool (each optionally ...IfExists); keys aws:PrincipalArn,
aws:PrincipalAccount, kms:CallerAccount, kms:EncryptionContext:<key>,
kms:EncryptionContextKeys, kms:ViaService (never present).

Deletion waits PendingWindowInDays (7-30) on the simulated clock, unscaled:
it is a calendar rule, not a latency.
"""
import fnmatch
import json
import os
import re
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .core import AwsError, paginate

BLOB_MAGIC = b"\x01\x02\x02\x00"
DAY = 86400
KEY_ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):key/([0-9a-f-]{36})$")
ALIAS_ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):(alias/.+)$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_TAGS = 50


def default_policy(partition, account):
    """The policy KMS gives a key created without one (delegation to IAM)."""
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]},
        indent=2)


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _nf(msg):
    return AwsError("NotFoundException", msg, 400)


def _invalid_state(arn, state):
    return AwsError("KMSInvalidStateException", f"{arn} is {'pending deletion' if state == 'PendingDeletion' else state}.",
                    400)


def _canonical_context(ec):
    return json.dumps(ec or {}, sort_keys=True, separators=(",", ":")).encode()


class Principal:
    """Who is calling, in the forms a key policy can name."""

    def __init__(self, sim, identity):
        self.arn = identity["arn"]
        self.account = identity["account"]
        self.names = {self.arn}
        m = re.match(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/", self.arn)
        if m:
            role = sim.scope(m.group(2), "global").get("roles", {}).get(m.group(3))
            self.names.add(role["Arn"] if role else f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}")
        self.role_arn = next((n for n in self.names if ":role/" in n), None)

    @property
    def principal_arn(self):
        """aws:PrincipalArn: the role ARN for an assumed role, else the caller."""
        return self.role_arn or self.arn


class Policy:
    """A parsed key policy and its evaluation."""

    def __init__(self, text):
        self.text = text
        try:
            doc = json.loads(text)
        except ValueError:
            raise AwsError("MalformedPolicyDocumentException", "The policy is not in a valid JSON format.", 400)
        if not isinstance(doc, dict) or "Statement" not in doc:
            raise AwsError("MalformedPolicyDocumentException", "The policy must contain a Statement.", 400)
        self.statements = [s for s in _as_list(doc["Statement"])]
        for s in self.statements:
            if not isinstance(s, dict) or s.get("Effect") not in ("Allow", "Deny"):
                raise AwsError("MalformedPolicyDocumentException", "Policy contains a statement with an invalid "
                               "Effect.", 400)
            if "Principal" not in s and "NotPrincipal" not in s:
                raise AwsError("MalformedPolicyDocumentException", "Policy contains a statement with no "
                               "principal.", 400)
            if "Action" not in s and "NotAction" not in s:
                raise AwsError("MalformedPolicyDocumentException", "Policy contains a statement with no "
                               "action.", 400)

    def principals(self):
        for s in self.statements:
            p = s.get("Principal")
            if isinstance(p, dict):
                for v in _as_list(p.get("AWS")):
                    yield v

    @staticmethod
    def _principal_matches(stmt, who, key_account):
        p = stmt.get("Principal")
        if p == "*":
            return True
        if not isinstance(p, dict):
            return False
        for v in _as_list(p.get("AWS")):
            if v == "*":
                return True
            m = re.fullmatch(r"(?:arn:[^:]+:iam::)?(\d{12})(?::root)?", v)
            if m and m.group(1) == who.account:
                return True
            if v in who.names:
                return True
        return False

    @staticmethod
    def _action_matches(stmt, action):
        if "Action" in stmt:
            return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(stmt["Action"]))
        return not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(stmt["NotAction"]))

    @staticmethod
    def _resource_matches(stmt, key_arn):
        res = _as_list(stmt.get("Resource", "*"))
        return any(fnmatch.fnmatchcase(key_arn, r) for r in res)

    @staticmethod
    def _conditions_match(stmt, facts):
        for op, body in (stmt.get("Condition") or {}).items():
            if not isinstance(body, dict):
                return False
            base = op[:-8] if op.endswith("IfExists") else op
            if_exists = op.endswith("IfExists")
            for key, want in body.items():
                have = facts.get(key.lower())
                if have is None:
                    if if_exists or base.startswith(("StringNot", "ArnNot")):
                        continue
                    return False
                haves = _as_list(have)
                wants = [str(w) for w in _as_list(want)]
                if base in ("StringEquals", "ArnEquals"):
                    ok = any(h == w for h in haves for w in wants)
                elif base in ("StringLike", "ArnLike"):
                    ok = any(fnmatch.fnmatchcase(h, w) for h in haves for w in wants)
                elif base in ("StringNotEquals", "ArnNotEquals"):
                    ok = not any(h == w for h in haves for w in wants)
                elif base in ("StringNotLike", "ArnNotLike"):
                    ok = not any(fnmatch.fnmatchcase(h, w) for h in haves for w in wants)
                elif base == "Bool":
                    ok = any(str(h).lower() == w.lower() for h in haves for w in wants)
                else:
                    return False   # operator awssim does not evaluate: the statement does not apply
                if not ok:
                    return False
        return True

    def decide(self, who, action, key_arn, key_account, facts):
        allowed = False
        for s in self.statements:
            if not (self._principal_matches(s, who, key_account) and self._action_matches(s, action)
                    and self._resource_matches(s, key_arn) and self._conditions_match(s, facts)):
                continue
            if s["Effect"] == "Deny":
                return "deny"
            allowed = True
        return "allow" if allowed else "implicit"


class KMS:
    def __init__(self, sim):
        self.sim = sim

    # ----------------------------------------------------------- lookups
    def _arn(self, ctx, kid, account=None, region=None):
        return f"arn:{ctx.partition}:kms:{region or ctx.region}:{account or ctx.account}:key/{kid}"

    def _alias_arn(self, ctx, name, account=None, region=None):
        return f"arn:{ctx.partition}:kms:{region or ctx.region}:{account or ctx.account}:{name}"

    def _find(self, ctx, key_id, allow_alias=True):
        """Resolve KeyId (key id, key ARN, alias name, alias ARN) to (key, scope)."""
        account, region = ctx.account, ctx.region
        m = KEY_ARN_RE.match(key_id)
        if m:
            account, region = m.group(3), m.group(2)
            if region != ctx.region:
                raise _nf(f"Invalid arn {region}")
            kid = m.group(4)
        else:
            am = ALIAS_ARN_RE.match(key_id)
            if am or key_id.startswith("alias/"):
                if not allow_alias:
                    raise _nf(f"Invalid keyId '{key_id}'")
                name = am.group(4) if am else key_id
                if am:
                    account, region = am.group(3), am.group(2)
                    if region != ctx.region:
                        raise _nf(f"Invalid arn {region}")
                st = self.sim.scope(account, region)
                a = st["kms_aliases"].get(name)
                if a is None:
                    raise _nf(f"Alias '{self._alias_arn(ctx, name, account, region)}' is not found.")
                kid = a["TargetKeyId"]
            elif UUID_RE.match(key_id):
                kid = key_id
            else:
                raise _nf(f"Invalid keyId '{key_id}'")
        st = self.sim.scope(account, region)
        k = st["kms_keys"].get(kid)
        if k is None:
            raise _nf(f"Key '{self._arn(ctx, kid, account, region)}' does not exist")
        return k, st

    def _who(self, ctx):
        return Principal(self.sim, ctx.identity)

    def _authorize(self, ctx, key, action, encryption_context=None):
        who = self._who(ctx)
        facts = {"aws:principalarn": who.principal_arn, "aws:principalaccount": who.account,
                 "kms:calleraccount": who.account}
        if encryption_context is not None:
            facts["kms:encryptioncontextkeys"] = sorted(encryption_context)
            for k, v in encryption_context.items():
                facts[f"kms:encryptioncontext:{k}".lower()] = v
        verdict = Policy(key["_policy"]).decide(who, action, key["Arn"], key["AWSAccountId"], facts)
        if verdict == "allow":
            return
        tail = ("with an explicit deny in a resource-based policy" if verdict == "deny"
                else f"because no resource-based policy allows the {action} action")
        raise AwsError("AccessDeniedException", f"User: {ctx.identity['arn']} is not authorized to perform: "
                       f"{action} on resource: {key['Arn']} {tail}", 400)

    def _usable(self, key):
        if key["KeyState"] == "Disabled":
            raise AwsError("DisabledException", f"{key['Arn']} is disabled.", 400)
        if key["KeyState"] != "Enabled":
            raise _invalid_state(key["Arn"], key["KeyState"])

    def _check_policy(self, ctx, text, bypass, key_arn, key_account):
        pol = Policy(text)
        iam = self.sim.services["iam"]
        for p in pol.principals():
            if p == "*" or re.fullmatch(r"(?:arn:[^:]+:iam::)?\d{12}(?::root)?", p):
                continue
            m = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):role/(?:.*/)?[\w+=,.@-]+", p)
            if m and iam.role_by_arn(m.group(1), p) is None:
                raise AwsError("MalformedPolicyDocumentException", "Policy contains a statement with one or more "
                               "invalid principals.", 400)
            if not m and not re.fullmatch(r"arn:[^:]+:(iam|sts)::\d{12}:.+", p):
                raise AwsError("MalformedPolicyDocumentException", "Policy contains a statement with one or more "
                               "invalid principals.", 400)
        if not bypass:
            who = self._who(ctx)
            facts = {"aws:principalarn": who.principal_arn, "aws:principalaccount": who.account,
                     "kms:calleraccount": who.account}
            if pol.decide(who, "kms:PutKeyPolicy", key_arn, key_account, facts) != "allow":
                raise AwsError("MalformedPolicyDocumentException", "The new key policy will not allow you to update "
                               "the key policy in the future.", 400)
        return text

    def _meta(self, k):
        return {x: v for x, v in k.items() if not x.startswith("_")}

    # -------------------------------------------------------------- keys
    def CreateKey(self, ctx, p):
        spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        usage = p.get("KeyUsage", "ENCRYPT_DECRYPT")
        if p.get("KeySpec") and p.get("CustomerMasterKeySpec"):
            raise AwsError("ValidationException", "You cannot specify KeySpec and CustomerMasterKeySpec in the same "
                           "request. CustomerMasterKeySpec is deprecated.", 400)
        if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
            raise AwsError("NotImplemented", f"awssim: KMS keys other than SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT "
                           f"({spec}/{usage}) are not simulated", 501)
        if p.get("Origin", "AWS_KMS") != "AWS_KMS" or p.get("CustomKeyStoreId") or p.get("MultiRegion"):
            raise AwsError("NotImplemented", "awssim: only single-Region AWS_KMS keys are simulated", 501)
        kid = str(uuid.uuid4())
        arn = self._arn(ctx, kid)
        policy = p.get("Policy")
        if policy is not None:
            self._check_policy(ctx, policy, p.get("BypassPolicyLockoutSafetyCheck"), arn, ctx.account)
        else:
            policy = default_policy(ctx.partition, ctx.account)
        tags = {}
        for t in p.get("Tags") or []:
            tags[t["TagKey"]] = t["TagValue"]
        if len(tags) > MAX_TAGS:
            raise AwsError("TagException", f"Too many tags: a KMS key can have at most {MAX_TAGS}.", 400)
        k = {"AWSAccountId": ctx.account, "KeyId": kid, "Arn": arn, "CreationDate": ctx.now, "Enabled": True,
             "Description": p.get("Description", ""), "KeyUsage": usage, "KeyState": "Enabled", "Origin": "AWS_KMS",
             "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": spec, "KeySpec": spec,
             "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
             "_material": os.urandom(32), "_policy": policy, "_tags": tags}
        ctx.state()["kms_keys"][kid] = k
        return {"KeyMetadata": self._meta(k)}

    def DescribeKey(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"])
        self._authorize(ctx, k, "kms:DescribeKey")
        return {"KeyMetadata": self._meta(k)}

    def ListKeys(self, ctx, p):
        items = [{"KeyId": k["KeyId"], "KeyArn": k["Arn"]}
                 for k in sorted(ctx.state()["kms_keys"].values(), key=lambda k: k["KeyId"])]
        return self._page(items, p, "Keys")

    def _page(self, items, p, key):
        try:
            page, nxt = paginate(items, p.get("Marker"), p.get("Limit"), 100)
        except AwsError:
            raise AwsError("InvalidMarkerException", "Invalid marker", 400)
        out = {key: page, "Truncated": nxt is not None}
        if nxt:
            out["NextMarker"] = nxt
        return out

    def EnableKey(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:EnableKey")
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        k["KeyState"], k["Enabled"] = "Enabled", True
        return {}

    def DisableKey(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:DisableKey")
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        k["KeyState"], k["Enabled"] = "Disabled", False
        return {}

    def ScheduleKeyDeletion(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:ScheduleKeyDeletion")
        days = p.get("PendingWindowInDays", 30)
        if days < 7 or days > 30:
            edge = ("greater than or equal to 7" if days < 7 else "less than or equal to 30")
            raise AwsError("ValidationException", f"1 validation error detected: Value '{days}' at "
                           f"'pendingWindowInDays' failed to satisfy constraint: Member must have value {edge}", 400)
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        k["KeyState"], k["Enabled"] = "PendingDeletion", False
        k["DeletionDate"] = ctx.now + days * DAY
        k["PendingDeletionWindowInDays"] = days
        return {"KeyId": k["Arn"], "DeletionDate": k["DeletionDate"], "KeyState": "PendingDeletion",
                "PendingWindowInDays": days}

    def CancelKeyDeletion(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:CancelKeyDeletion")
        if k["KeyState"] != "PendingDeletion":
            raise AwsError("KMSInvalidStateException", f"{k['Arn']} is not pending deletion.", 400)
        k["KeyState"], k["Enabled"] = "Disabled", False
        k.pop("DeletionDate", None)
        k.pop("PendingDeletionWindowInDays", None)
        return {"KeyId": k["Arn"]}

    def GetKeyPolicy(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:GetKeyPolicy")
        if p.get("PolicyName", "default") != "default":
            raise _nf(f"Policy '{p['PolicyName']}' does not exist")
        return {"Policy": k["_policy"]}

    def ListKeyPolicies(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:ListKeyPolicies")
        return {"PolicyNames": ["default"], "Truncated": False}

    def PutKeyPolicy(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:PutKeyPolicy")
        if p.get("PolicyName", "default") != "default":
            raise _nf(f"Policy '{p['PolicyName']}' does not exist")
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        k["_policy"] = self._check_policy(ctx, p["Policy"], p.get("BypassPolicyLockoutSafetyCheck"), k["Arn"],
                                          k["AWSAccountId"])
        return {}

    # ------------------------------------------------------------ crypto
    def _seal(self, key, plaintext, context):
        nonce = os.urandom(12)
        arn = key["Arn"].encode()
        sealed = AESGCM(key["_material"]).encrypt(nonce, plaintext, _canonical_context(context))
        return BLOB_MAGIC + len(arn).to_bytes(2, "big") + arn + nonce + sealed

    def _open_blob(self, ctx, blob, key_id):
        """(key, plaintext) for a ciphertext blob; the errors KMS gives."""
        bad = AwsError("InvalidCiphertextException", "", 400)
        if not blob.startswith(BLOB_MAGIC) or len(blob) < 6:
            raise bad
        n = int.from_bytes(blob[4:6], "big")
        arn = blob[6:6 + n].decode("ascii", "replace")
        m = KEY_ARN_RE.match(arn)
        if not m or len(blob) < 6 + n + 12 + 16:
            raise bad
        if m.group(2) != ctx.region:
            raise bad
        key = self.sim.scope(m.group(3), m.group(2))["kms_keys"].get(m.group(4))
        if key_id is not None:
            want, _ = self._find(ctx, key_id)
            if key is None or want is not key:
                raise AwsError("IncorrectKeyException", "The key ID in the request does not identify a CMK that can "
                               "perform this operation.", 400)
        if key is None:
            raise bad
        return key, blob[6 + n:6 + n + 12], blob[6 + n + 12:]

    def _decrypt(self, ctx, blob, key_id, context, action):
        key, nonce, sealed = self._open_blob(ctx, blob, key_id)
        self._authorize(ctx, key, action, context or {})
        self._usable(key)
        try:
            return key, AESGCM(key["_material"]).decrypt(nonce, sealed, _canonical_context(context))
        except InvalidTag:
            raise AwsError("InvalidCiphertextException", "", 400)

    def _algo(self, key, algo):
        if algo not in (None, "SYMMETRIC_DEFAULT"):
            raise AwsError("InvalidKeyUsageException", f"{algo} is not a valid encryption algorithm for a "
                           "symmetric KMS key.", 400)

    def Encrypt(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"])
        ec = p.get("EncryptionContext") or {}
        self._authorize(ctx, k, "kms:Encrypt", ec)
        self._usable(k)
        self._algo(k, p.get("EncryptionAlgorithm"))
        return {"CiphertextBlob": self._seal(k, p["Plaintext"], ec), "KeyId": k["Arn"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def Decrypt(self, ctx, p):
        self._algo(None, p.get("EncryptionAlgorithm"))
        k, plain = self._decrypt(ctx, p["CiphertextBlob"], p.get("KeyId"), p.get("EncryptionContext"), "kms:Decrypt")
        return {"KeyId": k["Arn"], "Plaintext": plain, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def _data_key_size(self, p):
        if p.get("KeySpec") and p.get("NumberOfBytes"):
            raise AwsError("ValidationException", "Please specify either number of bytes or key spec.", 400)
        if p.get("KeySpec"):
            return 32 if p["KeySpec"] == "AES_256" else 16
        if p.get("NumberOfBytes"):
            return p["NumberOfBytes"]
        raise AwsError("ValidationException", "Please specify either number of bytes or key spec.", 400)

    def GenerateDataKey(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"])
        ec = p.get("EncryptionContext") or {}
        n = self._data_key_size(p)
        self._authorize(ctx, k, "kms:GenerateDataKey", ec)
        self._usable(k)
        plain = os.urandom(n)
        return {"CiphertextBlob": self._seal(k, plain, ec), "Plaintext": plain, "KeyId": k["Arn"]}

    def GenerateDataKeyWithoutPlaintext(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"])
        ec = p.get("EncryptionContext") or {}
        n = self._data_key_size(p)
        self._authorize(ctx, k, "kms:GenerateDataKeyWithoutPlaintext", ec)
        self._usable(k)
        return {"CiphertextBlob": self._seal(k, os.urandom(n), ec), "KeyId": k["Arn"]}

    def ReEncrypt(self, ctx, p):
        self._algo(None, p.get("SourceEncryptionAlgorithm"))
        self._algo(None, p.get("DestinationEncryptionAlgorithm"))
        src, plain = self._decrypt(ctx, p["CiphertextBlob"], p.get("SourceKeyId"), p.get("SourceEncryptionContext"),
                                   "kms:ReEncryptFrom")
        dst, _ = self._find(ctx, p["DestinationKeyId"])
        ec = p.get("DestinationEncryptionContext") or {}
        self._authorize(ctx, dst, "kms:ReEncryptTo", ec)
        self._usable(dst)
        return {"CiphertextBlob": self._seal(dst, plain, ec), "SourceKeyId": src["Arn"], "KeyId": dst["Arn"],
                "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    # ----------------------------------------------------------- aliases
    def _alias_name_ok(self, name):
        if not name.startswith("alias/") or len(name) <= len("alias/"):
            raise AwsError("InvalidAliasNameException", "Alias must start with the prefix \"alias/\". Please see "
                           "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html", 400)
        if name.startswith("alias/aws/"):
            raise AwsError("InvalidAliasNameException", "Cannot create or update an alias that begins with "
                           "\"alias/aws/\": such aliases are reserved for AWS managed keys.", 400)

    def CreateAlias(self, ctx, p):
        name = p["AliasName"]
        self._alias_name_ok(name)
        st = ctx.state()
        if name in st["kms_aliases"]:
            raise AwsError("AlreadyExistsException", f"An alias with the name {self._alias_arn(ctx, name)} already "
                           "exists", 400)
        k, _ = self._find(ctx, p["TargetKeyId"], allow_alias=False)
        if k["AWSAccountId"] != ctx.account:
            raise _nf(f"Key '{k['Arn']}' does not exist")
        self._authorize(ctx, k, "kms:CreateAlias")
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        st["kms_aliases"][name] = {"AliasName": name, "AliasArn": self._alias_arn(ctx, name),
                                   "TargetKeyId": k["KeyId"], "CreationDate": ctx.now, "LastUpdatedDate": ctx.now}
        return {}

    def UpdateAlias(self, ctx, p):
        name = p["AliasName"]
        self._alias_name_ok(name)
        a = ctx.state()["kms_aliases"].get(name)
        if a is None:
            raise _nf(f"Alias '{self._alias_arn(ctx, name)}' is not found.")
        k, _ = self._find(ctx, p["TargetKeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:UpdateAlias")
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        a["TargetKeyId"], a["LastUpdatedDate"] = k["KeyId"], ctx.now
        return {}

    def DeleteAlias(self, ctx, p):
        name = p["AliasName"]
        st = ctx.state()
        a = st["kms_aliases"].get(name)
        if a is None:
            raise _nf(f"Alias '{self._alias_arn(ctx, name)}' is not found.")
        k = st["kms_keys"].get(a["TargetKeyId"])
        if k is not None:
            self._authorize(ctx, k, "kms:DeleteAlias")
        del st["kms_aliases"][name]
        return {}

    def ListAliases(self, ctx, p):
        st = ctx.state()
        only = None
        if p.get("KeyId"):
            k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
            only = k["KeyId"]
        items = [dict(a) for n, a in sorted(st["kms_aliases"].items()) if only is None or a["TargetKeyId"] == only]
        return self._page(items, p, "Aliases")

    # -------------------------------------------------------------- tags
    def TagResource(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:TagResource")
        if k["KeyState"] == "PendingDeletion":
            raise _invalid_state(k["Arn"], k["KeyState"])
        tags = dict(k["_tags"])
        for t in p["Tags"]:
            if t["TagKey"].startswith("aws:"):
                raise AwsError("TagException", "Tag keys starting with aws: are reserved", 400)
            tags[t["TagKey"]] = t["TagValue"]
        if len(tags) > MAX_TAGS:
            raise AwsError("TagException", f"Too many tags: a KMS key can have at most {MAX_TAGS}.", 400)
        k["_tags"] = tags
        return {}

    def UntagResource(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:UntagResource")
        for t in p["TagKeys"]:
            k["_tags"].pop(t, None)
        return {}

    def ListResourceTags(self, ctx, p):
        k, _ = self._find(ctx, p["KeyId"], allow_alias=False)
        self._authorize(ctx, k, "kms:ListResourceTags")
        items = [{"TagKey": a, "TagValue": b} for a, b in sorted(k["_tags"].items())]
        return self._page(items, p, "Tags")

    # ------------------------------------------------------- lifecycle
    def tick(self, now):
        for (acct, region), st in list(self.sim.scopes.items()):
            keys = st.get("kms_keys")
            if not keys:
                continue
            for kid in [kid for kid, k in keys.items()
                        if k["KeyState"] == "PendingDeletion" and k["DeletionDate"] <= now]:
                del keys[kid]
                for name in [n for n, a in st["kms_aliases"].items() if a["TargetKeyId"] == kid]:
                    del st["kms_aliases"][name]

    def inventory(self, account, region, st):
        """Keys that still exist and are not scheduled for deletion, and their aliases."""
        if region == "global":
            return {}
        live = {kid: k for kid, k in st.get("kms_keys", {}).items() if k["KeyState"] != "PendingDeletion"}
        return {"kms:key": [{"id": k["KeyId"], "arn": k["Arn"], "state": k["KeyState"], "tags": dict(k["_tags"])}
                            for k in live.values()],
                "kms:alias": [{"id": a["AliasName"], "target": a["TargetKeyId"]}
                              for a in st.get("kms_aliases", {}).values() if a["TargetKeyId"] in live]}
