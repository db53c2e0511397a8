"""SigV4 verification with botocore's own signer.

The simulator recomputes every signature with botocore.auth.SigV4Auth (not
with secfaas's C code), over exactly the headers the client says it signed,
so a client-side canonicalisation bug shows up as SignatureDoesNotMatch.

verify_header()/verify_presigned() take the raw request and a key lookup
function and return (credential, scope); they raise AuthError(kind, message)
whose kind the server maps to each protocol's real error code.
"""
import hashlib
import hmac
from datetime import datetime, timezone
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SKEW = 300          # seconds a signed request may be off the server clock
PRESIGN_MAX = 900   # STS honours a presigned GetCallerIdentity for 15 minutes


class AuthError(Exception):
    """kind: missing | incomplete | unknown_key | bad_signature | expired_sig | expired_token"""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


class _ExactSigner(SigV4Auth):
    """SigV4Auth that signs exactly the client's SignedHeaders list."""

    def __init__(self, creds, service, region, signed, header_pairs):
        super().__init__(creds, service, region)
        self._signed = signed
        self._pairs = header_pairs

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name, value in self._pairs:
            if name.lower() in self._signed:
                hm[name.lower()] = value
        return hm


def parse_amz_date(s):
    try:
        return datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def _fmt(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...' -> dict."""
    algo, _, rest = value.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise AuthError("incomplete", f"Authorization header has unsupported algorithm '{algo}'")
    fields = {}
    for part in rest.split(","):
        k, eq, v = part.strip().partition("=")
        if eq:
            fields[k.strip()] = v.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise AuthError("incomplete", " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
                        + f" Authorization=AWS4-HMAC-SHA256 {rest}")
    return fields


def parse_scope(cred):
    parts = cred.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AuthError("incomplete", f"Credential should be scoped to a valid region and service: '{cred}'")
    return {"akid": parts[0], "date": parts[1], "region": parts[2], "service": parts[3]}


def scope_of(headers, query_pairs):
    """The credential scope of a request without verifying it (for routing)."""
    auth = headers.get("authorization")
    if auth:
        f = parse_authorization(auth)
        return parse_scope(f["Credential"])
    q = dict(query_pairs)
    if "X-Amz-Credential" in q:
        return parse_scope(q["X-Amz-Credential"])
    return None


def _compute(method, host, raw_path, query_pairs, header_pairs, signed, body, scope, amzdate, secret, akid, token):
    creds = Credentials(akid, secret, token)
    signer = _ExactSigner(creds, scope["service"], scope["region"], signed, header_pairs)
    req = AWSRequest(method=method, url=f"http://{host}{raw_path}", data=body or b"",
                     params=list(query_pairs))
    # The request headers only matter for X-Amz-Content-SHA256; keep signed ones.
    for name, value in header_pairs:
        if name.lower() in signed:
            req.headers[name] = value
    req.context["timestamp"] = amzdate
    creq = signer.canonical_request(req)
    sts = signer.string_to_sign(req, creq)
    return signer.signature(sts, req), creq, sts


def _check_token(keyinfo, token, sim_now):
    if keyinfo.get("token"):
        if not token or not hmac.compare_digest(token, keyinfo["token"]):
            raise AuthError("unknown_key", "The security token included in the request is invalid.")
        if keyinfo.get("expires") is not None and sim_now >= keyinfo["expires"]:
            raise AuthError("expired_token", "The security token included in the request is expired")
    elif token:
        raise AuthError("unknown_key", "The security token included in the request is invalid.")


def verify_header(method, raw_path, query_pairs, header_pairs, body, lookup, wall_now, sim_now):
    """Verify an Authorization-header request. Returns (keyinfo, scope)."""
    headers = {}
    for n, v in header_pairs:
        headers.setdefault(n.lower(), v)
    f = parse_authorization(headers["authorization"])
    scope = parse_scope(f["Credential"])
    signed = [h.strip().lower() for h in f["SignedHeaders"].split(";") if h.strip()]
    if "host" not in signed:
        raise AuthError("incomplete", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    amzdate = headers.get("x-amz-date")
    if amzdate is None:
        raise AuthError("incomplete",
                        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                        f"Authorization=AWS4-HMAC-SHA256 Credential={f['Credential']}")
    ts = parse_amz_date(amzdate)
    if ts is None:
        raise AuthError("incomplete", f"X-Amz-Date '{amzdate}' is not in the basic ISO8601 format YYYYMMDD'T'HHMMSS'Z'")
    for h in signed:
        if h not in headers:
            raise AuthError("bad_signature", f"The request signature we calculated does not match the signature "
                            f"you provided: signed header '{h}' is not in the request.")
    keyinfo = lookup(scope["akid"])
    if keyinfo is None:
        raise AuthError("unknown_key", "The security token included in the request is invalid.")
    _check_token(keyinfo, headers.get("x-amz-security-token"), sim_now)
    if scope["date"] != amzdate[:8]:
        raise AuthError("bad_signature", f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                        f"of date from HTTP: '{scope['date']}' != '{amzdate[:8]}', from '{amzdate}'.")
    if abs(wall_now - ts) > SKEW:
        if ts < wall_now:
            msg = (f"Signature expired: {amzdate} is now earlier than {_fmt(wall_now - SKEW)} "
                   f"({_fmt(wall_now)} - 5 min.)")
        else:
            msg = (f"Signature not yet current: {amzdate} is still later than {_fmt(wall_now + SKEW)} "
                   f"({_fmt(wall_now)} + 5 min.)")
        raise AuthError("expired_sig", msg)
    if "x-amz-content-sha256" in headers:
        claimed = headers["x-amz-content-sha256"]
        if claimed != "UNSIGNED-PAYLOAD" and claimed != hashlib.sha256(body or b"").hexdigest():
            raise AuthError("bad_signature", "The provided 'x-amz-content-sha256' header does not match what was computed.")
    sig, creq, sts = _compute(method, headers.get("host", ""), raw_path, query_pairs, header_pairs, signed, body,
                              scope, amzdate, keyinfo["secret"], scope["akid"], headers.get("x-amz-security-token"))
    if not hmac.compare_digest(sig, f["Signature"]):
        raise AuthError("bad_signature",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your AWS Secret Access Key and signing method. Consult the service documentation "
                        f"for details.\n\nThe Canonical String for this request should have been\n'{creq}'\n\n"
                        f"The String-to-Sign should have been\n'{sts}'\n")
    return keyinfo, scope


def verify_presigned(method, raw_path, query_pairs, header_pairs, body, lookup, sim_now):
    """Verify a query-string (presigned) request such as the EKS token URL."""
    q = {}
    for k, v in query_pairs:
        q.setdefault(k, v)
    need = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"]
    missing = [k for k in need if k not in q]
    if missing:
        raise AuthError("incomplete", "AWS query-string parameters must include " +
                        ", ".join(f"'{k}'" for k in missing) + ". Re-examine the query-string parameters.")
    if q["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        raise AuthError("incomplete", "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'")
    scope = parse_scope(q["X-Amz-Credential"])
    ts = parse_amz_date(q["X-Amz-Date"])
    if ts is None:
        raise AuthError("incomplete", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    try:
        expires = int(q.get("X-Amz-Expires", "900"))
    except ValueError:
        raise AuthError("incomplete", "X-Amz-Expires should be a number")
    if expires < 1 or expires > 604800:
        raise AuthError("incomplete", "X-Amz-Expires must be between 1 and 604800 seconds")
    signed = [h.strip().lower() for h in q["X-Amz-SignedHeaders"].split(";") if h.strip()]
    if "host" not in signed:
        raise AuthError("incomplete", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    headers = {}
    for n, v in header_pairs:
        headers.setdefault(n.lower(), v)
    for h in signed:
        if h not in headers:
            raise AuthError("bad_signature", f"The request signature we calculated does not match the signature "
                            f"you provided: signed header '{h}' is not in the request.")
    keyinfo = lookup(scope["akid"])
    if keyinfo is None:
        raise AuthError("unknown_key", "The security token included in the request is invalid.")
    _check_token(keyinfo, q.get("X-Amz-Security-Token"), sim_now)
    if sim_now - ts > PRESIGN_MAX:
        raise AuthError("expired_sig", f"Signature expired: {q['X-Amz-Date']} is now earlier than "
                        f"{_fmt(sim_now - PRESIGN_MAX)} ({_fmt(sim_now)} - 15 min.)")
    if ts - sim_now > SKEW:
        raise AuthError("expired_sig", f"Signature not yet current: {q['X-Amz-Date']} is still later than "
                        f"{_fmt(sim_now + SKEW)} ({_fmt(sim_now)} + 5 min.)")
    pairs = [(k, v) for k, v in query_pairs if k != "X-Amz-Signature"]
    sig, creq, sts = _compute(method, headers.get("host", ""), raw_path, pairs, header_pairs, signed, body,
                              scope, q["X-Amz-Date"], keyinfo["secret"], scope["akid"], None)
    if not hmac.compare_digest(sig, q["X-Amz-Signature"]):
        raise AuthError("bad_signature",
                        "The request signature we calculated does not match the signature you provided. "
                        f"Check your AWS Secret Access Key and signing method.\n\nThe Canonical String for this "
                        f"request should have been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n")
    return keyinfo, scope


def split_query(raw_query):
    """Query-string pairs, percent-decoded but with '+' kept literal (SigV4
    clients encode spaces as %20; form bodies use parse_qsl instead)."""
    out = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        out.append((unquote(k), unquote(v)))
    return out
