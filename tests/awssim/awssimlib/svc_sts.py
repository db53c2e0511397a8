"""STS: GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken.

Temporary credentials (ASIA... + session token) are registered with the
simulator so later requests signed with them are accepted until their
Expiration on the simulated clock, then refused with ExpiredToken.
AssumeRole checks that the role exists, has propagated through IAM (a role
created seconds ago is refused) and that its trust policy allows the caller
(AccessDenied otherwise); AssumeRoleWithWebIdentity (unsigned, as in
AWS) checks for a Federated principal and a JWT-shaped token.
"""
import base64
import json
import re
import secrets

from .core import AwsError, upper_id

ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")


def _actions(stmt):
    a = stmt.get("Action", [])
    return a if isinstance(a, list) else [a]


def _principals(stmt, kind):
    p = stmt.get("Principal", {})
    if p == "*":
        return ["*"]
    v = p.get(kind, []) if isinstance(p, dict) else []
    return v if isinstance(v, list) else [v]


def _allows(doc, action, kind, candidates):
    try:
        d = json.loads(doc)
    except ValueError:
        return False
    sts = d.get("Statement", [])
    for s in sts if isinstance(sts, list) else [sts]:
        if s.get("Effect") != "Allow":
            continue
        if not any(a in (action, "sts:*", "*") for a in _actions(s)):
            continue
        if any(p == "*" or p in candidates for p in _principals(s, kind)):
            return True
    return False


def _jwt_claims(token):
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        pad = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(pad))
        return claims if isinstance(claims, dict) else None
    except (ValueError, TypeError):
        return None


class STS:
    def __init__(self, sim):
        self.sim = sim

    def _issue(self, ctx, account, arn, duration, user_id):
        akid = "ASIA" + upper_id("", 16)
        secret = secrets.token_urlsafe(30)[:40]
        token = "FwoGZXIvYXdzE" + base64.b64encode(secrets.token_bytes(120)).decode()
        expires = ctx.now + duration
        self.sim.add_key(akid, secret, account, arn, token=token, expires=expires, user_id=user_id)
        return {"AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": token, "Expiration": expires}

    def GetCallerIdentity(self, ctx, p):
        ident = ctx.identity
        return {"UserId": ident["userId"], "Account": ident["account"], "Arn": ident["arn"]}

    def _role(self, ctx, role_arn, op):
        m = ARN_RE.match(role_arn)
        if not m:
            raise AwsError("ValidationError", f"{role_arn} is invalid", 400)
        role = self.sim.services["iam"].role_by_arn(m.group(2), role_arn)
        return m, role

    def _duration(self, p, role, chained):
        d = p.get("DurationSeconds", 3600)
        cap = 3600 if chained else role["MaxSessionDuration"]
        if d > cap:
            raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration "
                           "set for this role." if not chained else
                           "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
                           "by role chaining.", 400)
        return d

    def AssumeRole(self, ctx, p):
        m, role = self._role(ctx, p["RoleArn"], "AssumeRole")
        caller = ctx.identity["arn"]
        denied = AwsError("AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                          f"resource: {p['RoleArn']}", 403)
        if role is None or role["_ready"] > ctx.now:   # a new role is refused until IAM has propagated it
            raise denied
        cands = {caller, ctx.identity["account"], f"arn:{m.group(1)}:iam::{ctx.identity['account']}:root"}
        am = re.match(r"^arn:[^:]+:sts::(\d+):assumed-role/([^/]+)/", caller)
        if am:
            cands.add(f"arn:{m.group(1)}:iam::{am.group(1)}:role/{am.group(2)}")
        if not _allows(role["_doc"], "sts:AssumeRole", "AWS", cands):
            raise denied
        duration = self._duration(p, role, am is not None)
        sess = p["RoleSessionName"]
        arn = f"arn:{m.group(1)}:sts::{m.group(2)}:assumed-role/{role['RoleName']}/{sess}"
        uid = f"{role['RoleId']}:{sess}"
        return {"Credentials": self._issue(ctx, m.group(2), arn, duration, uid),
                "AssumedRoleUser": {"AssumedRoleId": uid, "Arn": arn}, "PackedPolicySize": 0}

    def AssumeRoleWithWebIdentity(self, ctx, p):
        m, role = self._role(ctx, p["RoleArn"], "AssumeRoleWithWebIdentity")
        claims = _jwt_claims(p["WebIdentityToken"])
        if claims is None:
            raise AwsError("InvalidIdentityToken", "Couldn't parse web identity token.", 400)
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < ctx.now:
            raise AwsError("ExpiredTokenException", "Token expired: current date/time " f"{int(ctx.now)} "
                           f"must be before the expiration date/time {int(exp)}", 400)
        denied = AwsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)
        if role is None or role["_ready"] > ctx.now:
            raise denied
        iss = str(claims.get("iss", "")).replace("https://", "")
        cands = {f"arn:{m.group(1)}:iam::{m.group(2)}:oidc-provider/{iss}", iss}
        if not _allows(role["_doc"], "sts:AssumeRoleWithWebIdentity", "Federated", cands):
            raise denied
        duration = self._duration(p, role, False)
        sess = p["RoleSessionName"]
        arn = f"arn:{m.group(1)}:sts::{m.group(2)}:assumed-role/{role['RoleName']}/{sess}"
        uid = f"{role['RoleId']}:{sess}"
        aud = claims.get("aud", "")
        return {"Credentials": self._issue(ctx, m.group(2), arn, duration, uid),
                "SubjectFromWebIdentityToken": str(claims.get("sub", "")),
                "AssumedRoleUser": {"AssumedRoleId": uid, "Arn": arn}, "PackedPolicySize": 0,
                "Provider": iss, "Audience": aud[0] if isinstance(aud, list) and aud else str(aud)}

    def GetSessionToken(self, ctx, p):
        if ctx.identity.get("token"):
            raise AwsError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
        d = p.get("DurationSeconds", 43200)
        return {"Credentials": self._issue(ctx, ctx.identity["account"], ctx.identity["arn"], d,
                                           ctx.identity["userId"])}
