"""Shared helpers for the awssim cross-check tests: endpoint (loopback only),
boto3 sessions with the test identity, raw signed requests, admin calls."""
import json
import os
import sys
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
AWSSIM_DIR = os.path.dirname(HERE)
SRC = os.path.dirname(os.path.dirname(AWSSIM_DIR))
sys.path.insert(0, AWSSIM_DIR)

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT = "123456789012"
REGION = "eu-west-1"

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def require_loopback(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if not (host in LOOPBACK_HOSTS or host.startswith("127.")):
        raise SystemExit(f"refusing to run: endpoint {url} is not loopback")


def url():
    u = os.environ.get("AWSSIM_URL")
    if not u:
        raise SystemExit("AWSSIM_URL is not set")
    require_loopback(u)
    return u


def ca():
    return os.environ.get("AWSSIM_CA") or None


def session(akid=AKID, secret=SECRET, token=None, region=REGION):
    import boto3
    return boto3.Session(aws_access_key_id=akid, aws_secret_access_key=secret, aws_session_token=token,
                         region_name=region)


def client(svc, sess=None, base=None, verify=None, **kw):
    from botocore.config import Config
    sess = sess or session()
    region = "us-east-1" if svc == "iam" else None
    cfg = kw.pop("config", None) or Config(retries={"mode": "standard", "max_attempts": 3})
    return sess.client(svc, endpoint_url=base or url(), region_name=region, verify=verify if verify is not None
                       else ca(), config=cfg, **kw)


def admin(method, path, body=None, base=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request((base or url()) + "/_awssim/" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    ctx = None
    if (base or url()).startswith("https"):
        import ssl
        ctx = ssl.create_default_context(cafile=ca())
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read() or b"{}")


def advance(seconds):
    return admin("POST", "clock", {"advance": seconds})


def consistency(scale):
    """Multiply awssim's eventual-consistency windows (0 = off, as the suite starts)."""
    return admin("POST", "consistency", {"scale": scale})


def inventory():
    return admin("GET", "inventory")["resources"]


def reset():
    admin("POST", "reset")


def raw(method, svc, path="/", body=b"", headers=None, region=REGION, akid=AKID, secret=SECRET, token=None,
        sign=True, tamper=None):
    """Send a hand-made request signed with botocore's SigV4Auth; returns (status, headers, body)."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import urllib3
    u = url() + path
    req = botocore.awsrequest.AWSRequest(method=method, url=u, data=body, headers=dict(headers or {}))
    if sign:
        creds = botocore.credentials.Credentials(akid, secret, token)
        botocore.auth.SigV4Auth(creds, svc, region).add_auth(req)
    if tamper:
        tamper(req)
    pool = urllib3.PoolManager(ca_certs=ca()) if ca() else urllib3.PoolManager()
    r = pool.request(method, u, body=body, headers=dict(req.headers.items()), retries=False)
    return r.status, dict(r.headers), r.data
