"""Bearer-token authentication, as aws-iam-authenticator does it on EKS.

sts mode: the token is 'k8s-aws-v1.' + unpadded base64url of a SigV4-presigned
STS GetCallerIdentity URL.  We check its shape (path '/', Action, signed
headers including x-k8s-aws-id), refuse any host that is not loopback, then GET
it with 'x-k8s-aws-id: <cluster>' so the local AWS verifies the signature and
the 15-minute window, and map the returned ARN: any principal of --account is
cluster admin here, everything else is 401.  Verified tokens are cached for
30 s (the real authenticator caches too).  static mode accepts one token.
In both modes the tokens kubesim writes into pods' projected service-account
volumes authenticate as their ServiceAccount.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from .util import ApiError, is_loopback_host

PREFIX = "k8s-aws-v1."
ALLOWED = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
           "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}


def unauthorized(msg="Unauthorized"):
    return ApiError(401, msg, reason="Unauthorized")


class Authenticator:
    def __init__(self, cfg):
        self.cfg = cfg
        self.cache = {}
        self.lock = threading.Lock()
        self.ctx = None
        self.sa_key = os.urandom(32)
        if cfg.aws_ca:
            self.ctx = ssl.create_default_context(cafile=cfg.aws_ca)

    def authenticate(self, header):
        """User info dict for an Authorization header value; raises 401."""
        if not header or not header.startswith("Bearer "):
            raise unauthorized()
        token = header[7:].strip()
        sa = self.service_account(token)
        if sa is not None:
            return sa
        if self.cfg.token_mode == "static":
            if self.cfg.static_token and token == self.cfg.static_token:
                return {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
            raise unauthorized()
        with self.lock:
            hit = self.cache.get(token)
            if hit and hit[0] > time.monotonic():
                return hit[1]
        user = self.verify_sts(token)
        with self.lock:
            self.cache[token] = (time.monotonic() + 30, user)
        return user

    def issue(self, ns, name, pod_uid):
        """A token for a pod's projected service-account volume: authenticates as
        system:serviceaccount:<ns>:<name> (kubesim signs it; RBAC is not enforced)."""
        body = base64.urlsafe_b64encode(json.dumps([ns, name, pod_uid]).encode()).decode().rstrip("=")
        mac = hmac.new(self.sa_key, body.encode(), hashlib.sha256).hexdigest()
        return "ksim-sa.%s.%s" % (body, mac)

    def service_account(self, token):
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "ksim-sa":
            return None
        want = hmac.new(self.sa_key, parts[1].encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts[2]):
            raise unauthorized()
        try:
            ns, name, _ = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, TypeError):
            raise unauthorized()
        return {"username": "system:serviceaccount:%s:%s" % (ns, name),
                "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"]}

    def verify_sts(self, token):
        if not token.startswith(PREFIX) or len(token) > 8192:
            raise unauthorized()
        raw = token[len(PREFIX):]
        try:
            url = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise unauthorized()
        if not url.isprintable() or " " in url:
            raise unauthorized()
        p = urllib.parse.urlsplit(url)
        if p.scheme not in ("https", "http") or not is_loopback_host(p.hostname):
            # Only loopback: a token must never make us talk to the real STS.
            raise unauthorized()
        if p.path not in ("/", ""):
            raise unauthorized()
        q = urllib.parse.parse_qs(p.query, keep_blank_values=True)
        lower = {k.lower(): v[0] for k, v in q.items()}
        if any(k not in ALLOWED for k in lower):
            raise unauthorized()
        if lower.get("action") != "GetCallerIdentity":
            raise unauthorized()
        signed = lower.get("x-amz-signedheaders", "").lower().split(";")
        if "x-k8s-aws-id" not in signed or not lower.get("x-amz-signature"):
            raise unauthorized()
        if not re.match(r"^\d{8}T\d{6}Z$", lower.get("x-amz-date", "")):
            raise unauthorized()
        req = urllib.request.Request(url, method="GET", headers={
            "x-k8s-aws-id": self.cfg.cluster, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx if p.scheme == "https" else None) as r:
                body = r.read()
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            raise unauthorized()
        arn, account = parse_identity(body)
        if not arn or account != self.cfg.account:
            raise unauthorized()
        return {"username": arn, "groups": ["system:masters", "system:authenticated"], "arn": arn}


def parse_identity(body):
    """(arn, account) from a GetCallerIdentity reply in JSON or XML."""
    try:
        d = json.loads(body)
        r = d["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
        arn = r.get("Arn")
        return arn, r.get("Account") or (arn.split(":")[4] if arn else None)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        pass
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None, None
    arn = account = None
    for el in root.iter():
        tag = el.tag.split("}")[-1]
        if tag == "Arn":
            arn = (el.text or "").strip()
        elif tag == "Account":
            account = (el.text or "").strip()
    return arn, account
