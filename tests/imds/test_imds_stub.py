#!/usr/bin/python3
"""Unit tests of imds_stub.py on loopback (port 0): the IMDSv2 status codes,
token lifetime (a fake clock, no waiting), credentials, the script mode, and
on real packets (AF_PACKET on lo, root only) that the token reply and only
it leaves with the hop limit as IP TTL."""
import datetime
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import imds_stub  # noqa: E402
from imds_stub import ImdsStub  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 1_700_000_000.0

    def __call__(self):
        return self.t


def request(stub, method, path, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body.decode()


def token(stub, ttl="21600"):
    st, h, body = request(stub, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    assert st == 200, (st, body)
    return body


class Base(unittest.TestCase):
    kw = {}

    def setUp(self):
        self.clock = Clock()
        self.stub = ImdsStub(bind="127.0.0.1", port=0, clock=self.clock, **self.kw).start()
        self.addCleanup(self.stub.stop)


class TokenPut(Base):
    def test_token_issued_and_ttl_echoed(self):
        st, h, body = request(self.stub, "PUT", "/latest/api/token",
                              {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        self.assertEqual(st, 200)
        self.assertEqual(h["x-aws-ec2-metadata-token-ttl-seconds"], "60")
        self.assertGreater(len(body), 40)
        self.assertEqual(h["server"], "EC2ws")

    def test_missing_ttl_is_400(self):
        st, h, body = request(self.stub, "PUT", "/latest/api/token")
        self.assertEqual(st, 400)
        self.assertIn("400 - Bad Request", body)

    def test_ttl_out_of_range_or_not_a_number_is_400(self):
        for ttl in ("0", "21601", "abc", "-5", "1.5", ""):
            with self.subTest(ttl=ttl):
                st, _, _ = request(self.stub, "PUT", "/latest/api/token",
                                   {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
                self.assertEqual(st, 400)

    def test_bounds_accepted(self):
        for ttl in ("1", "21600"):
            with self.subTest(ttl=ttl):
                token(self.stub, ttl)

    def test_x_forwarded_for_is_403(self):
        st, _, _ = request(self.stub, "PUT", "/latest/api/token",
                           {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(st, 403)
        self.assertFalse(any(e["status"] == 200 for e in self.stub.events))

    def test_wrong_methods_are_405(self):
        self.assertEqual(request(self.stub, "GET", "/latest/api/token")[0], 405)
        self.assertEqual(request(self.stub, "PUT", "/latest/meta-data/",
                                 {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0], 405)
        self.assertEqual(request(self.stub, "POST", "/latest/api/token")[0], 405)

    def test_token_event_carries_hop_limit(self):
        token(self.stub)
        request(self.stub, "GET", "/latest/meta-data/")
        ev = [e for e in self.stub.events if e["method"] == "PUT"]
        self.assertEqual(ev[0]["ttl"], 1)
        self.assertEqual(ev[0]["peer"], "127.0.0.1")
        self.assertIsInstance(ev[0]["peer_port"], int)
        self.assertIsNone([e for e in self.stub.events if e["method"] == "GET"][0]["ttl"])


class RequiredTokens(Base):
    kw = {"http_tokens": "required", "role": "node-role"}

    def test_get_without_token_is_401(self):
        st, _, body = request(self.stub, "GET", "/latest/meta-data/")
        self.assertEqual(st, 401)
        self.assertIn("401 - Unauthorized", body)

    def test_invalid_token_is_401(self):
        st, _, _ = request(self.stub, "GET", "/latest/meta-data/", {"X-aws-ec2-metadata-token": "nope"})
        self.assertEqual(st, 401)

    def test_token_of_another_instance_is_401(self):
        other = ImdsStub(bind="127.0.0.1", port=0).start()
        self.addCleanup(other.stop)
        t = token(other)
        st, _, _ = request(self.stub, "GET", "/latest/meta-data/", {"X-aws-ec2-metadata-token": t})
        self.assertEqual(st, 401)

    def test_token_expires(self):
        t = token(self.stub, "10")
        h = {"X-aws-ec2-metadata-token": t}
        self.assertEqual(request(self.stub, "GET", "/latest/meta-data/instance-id", h)[0], 200)
        self.clock.t += 9.5
        self.assertEqual(request(self.stub, "GET", "/latest/meta-data/instance-id", h)[0], 200)
        self.clock.t += 0.5
        self.assertEqual(request(self.stub, "GET", "/latest/meta-data/instance-id", h)[0], 401)

    def test_credentials_walk(self):
        h = {"X-aws-ec2-metadata-token": token(self.stub)}
        st, _, body = request(self.stub, "GET", "/latest/meta-data/", h)
        self.assertEqual(st, 200)
        self.assertIn("iam/", body.split("\n"))
        self.assertIn("instance-id", body.split("\n"))
        st, _, body = request(self.stub, "GET", "/latest/meta-data/iam/security-credentials/", h)
        self.assertEqual((st, body), (200, "node-role"))
        st, hdr, body = request(self.stub, "GET", "/latest/meta-data/iam/security-credentials/node-role", h)
        self.assertEqual(st, 200)
        c = json.loads(body)
        self.assertEqual(c, self.stub.credentials)
        self.assertEqual(c["Code"], "Success")
        self.assertEqual(c["Type"], "AWS-HMAC")
        self.assertRegex(c["AccessKeyId"], r"^ASIA[A-Z0-9]{16}$")
        self.assertEqual(len(c["SecretAccessKey"]), 40)
        self.assertTrue(c["Token"])
        exp = datetime.datetime.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertGreater(exp, self.clock.t)
        st, _, _ = request(self.stub, "GET", "/latest/meta-data/iam/security-credentials/other-role", h)
        self.assertEqual(st, 404)
        st, _, body = request(self.stub, "GET", "/latest/meta-data/iam/info", h)
        self.assertIn("instance-profile/node-role", json.loads(body)["InstanceProfileArn"])

    def test_unknown_path_is_404(self):
        h = {"X-aws-ec2-metadata-token": token(self.stub)}
        self.assertEqual(request(self.stub, "GET", "/latest/meta-data/nope", h)[0], 404)
        self.assertEqual(request(self.stub, "GET", "/latest/api", h)[0], 404)

    def test_identity_document(self):
        h = {"X-aws-ec2-metadata-token": token(self.stub)}
        st, _, body = request(self.stub, "GET", "/latest/dynamic/instance-identity/document", h)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["instanceId"], self.stub.instance_id)

    def test_keep_alive_put_then_get(self):
        c = http.client.HTTPConnection("127.0.0.1", self.stub.port, timeout=10)
        self.addCleanup(c.close)
        st, _, t = request(self.stub, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"},
                           conn=c)
        self.assertEqual(st, 200)
        st, _, body = request(self.stub, "GET", "/latest/meta-data/instance-id",
                              {"X-aws-ec2-metadata-token": t}, conn=c)
        self.assertEqual((st, body), (200, self.stub.instance_id))


class OptionalTokens(Base):
    kw = {"http_tokens": "optional"}

    def test_imdsv1_get_served(self):
        st, _, body = request(self.stub, "GET", "/latest/meta-data/instance-id")
        self.assertEqual((st, body), (200, self.stub.instance_id))

    def test_invalid_token_still_401(self):
        st, _, _ = request(self.stub, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "x"})
        self.assertEqual(st, 401)


class NoRole(Base):
    kw = {"role": None}

    def test_no_iam(self):
        h = {"X-aws-ec2-metadata-token": token(self.stub)}
        self.assertNotIn("iam/", request(self.stub, "GET", "/latest/meta-data/", h)[2].split("\n"))
        self.assertEqual(request(self.stub, "GET", "/latest/meta-data/iam/security-credentials/", h)[0], 404)


class Disabled(Base):
    kw = {"http_endpoint": "disabled"}

    def test_everything_403(self):
        self.assertEqual(request(self.stub, "PUT", "/latest/api/token",
                                 {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0], 403)
        self.assertEqual(request(self.stub, "GET", "/latest/meta-data/")[0], 403)


class Arguments(unittest.TestCase):
    def test_bad_values_refused(self):
        for kw in ({"hop_limit": 0}, {"hop_limit": 65}, {"hop_limit": "2"}, {"hop_limit": True},
                   {"http_tokens": "v1"}, {"http_endpoint": "off"}):
            with self.subTest(kw=kw):
                with self.assertRaises(ValueError):
                    ImdsStub(bind="127.0.0.1", port=0, **kw)

    def test_given_credentials_served(self):
        creds = {"AccessKeyId": "ASIAFAKEFAKEFAKEFAKE", "SecretAccessKey": "s" * 40, "Token": "t",
                 "Expiration": "2030-01-01T00:00:00Z"}
        with ImdsStub(bind="127.0.0.1", port=0, role="r", credentials=creds) as s:
            h = {"X-aws-ec2-metadata-token": token(s)}
            st, _, body = request(s, "GET", "/latest/meta-data/iam/security-credentials/r", h)
            got = json.loads(body)
            self.assertEqual({k: got[k] for k in creds}, creds)
            self.assertEqual(got["Code"], "Success")
        with self.assertRaises(ValueError):
            ImdsStub(bind="127.0.0.1", port=0, credentials={"AccessKeyId": "x"})

    def test_wait_event_times_out(self):
        with ImdsStub(bind="127.0.0.1", port=0) as s:
            t0 = time.monotonic()
            self.assertIsNone(s.wait_event(lambda e: True, 0.05))
            self.assertLess(time.monotonic() - t0, 5)

    def test_ipv6_loopback(self):
        try:
            s = ImdsStub(bind="::1", port=0, hop_limit=3).start()
        except OSError as e:
            self.skipTest("no IPv6 loopback: %s" % e)
        try:
            c = http.client.HTTPConnection("::1", s.port, timeout=10)
            c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "5"})
            self.assertEqual(c.getresponse().status, 200)
            c.close()
            self.assertEqual(s.url, "http://[::1]:%d" % s.port)
        finally:
            s.stop()


class Script(unittest.TestCase):
    def test_script_mode(self):
        creds = os.path.join(os.environ.get("TMPDIR", "/tmp"), "imds-creds-%d.json" % os.getpid())
        with open(creds, "w") as f:
            json.dump({"AccessKeyId": "ASIASCRIPTSCRIPTSCRI", "SecretAccessKey": "k" * 40, "Token": "tok",
                       "Expiration": "2030-01-01T00:00:00Z"}, f)
        self.addCleanup(os.unlink, creds)
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "imds_stub.py"), "--bind", "127.0.0.1",
                              "--port", "0", "--hop-limit", "2", "--role", "r1", "--credentials-file", creds],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = p.stdout.readline().split()
            self.assertEqual(ready[:2], ["IMDS-STUB-READY", "127.0.0.1"], ready)
            port = int(ready[2])
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "5"})
            r = c.getresponse()
            t = r.read().decode()
            self.assertEqual(r.status, 200)
            c.request("GET", "/latest/meta-data/iam/security-credentials/", headers={"X-aws-ec2-metadata-token": t})
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"r1"))
            c.request("GET", "/latest/meta-data/iam/security-credentials/r1", headers={"X-aws-ec2-metadata-token": t})
            r = c.getresponse()
            self.assertEqual(json.loads(r.read())["AccessKeyId"], "ASIASCRIPTSCRIPTSCRI")
            c.close()
            ev = json.loads(p.stdout.readline())
            self.assertEqual((ev["method"], ev["status"], ev["ttl"], ev["peer"]), ("PUT", 200, 2, "127.0.0.1"))
            for _ in range(2):
                ev = json.loads(p.stdout.readline())
                self.assertEqual((ev["method"], ev["status"], ev["ttl"]), ("GET", 200, None))
        finally:
            p.terminate()
            self.assertEqual(p.wait(timeout=30), 0)
            p.stdout.close()
            p.stderr.close()

    def test_script_refuses_bad_hop_limit(self):
        r = subprocess.run([sys.executable, os.path.join(HERE, "imds_stub.py"), "--bind", "127.0.0.1",
                            "--port", "0", "--hop-limit", "0"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("hop_limit must be an integer 1..64", r.stderr)


ETH_P_IP = 0x0800


def wire_ttls(hop):
    """In a fresh network namespace (its own loopback, no other traffic):
    serve a token and a GET, read the IP TTL of the reply segments off lo
    with AF_PACKET, and print them as JSON."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    sniff.bind(("lo", ETH_P_IP))
    seen = {"default": int(open("/proc/sys/net/ipv4/ip_default_ttl").read())}
    with ImdsStub(bind="127.0.0.1", port=0, hop_limit=hop, role="wire-role") as s:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "5"})
        t = c.getresponse().read()
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/latest/meta-data/iam/security-credentials/", headers={"X-aws-ec2-metadata-token": t})
        seen["body"] = c.getresponse().read().decode()
        c.close()
        sniff.settimeout(10)
        while "token" not in seen or "get" not in seen:
            pkt = sniff.recv(65535)  # socket.timeout ends the child with an error
            if len(pkt) < 20 or pkt[9] != socket.IPPROTO_TCP:
                continue
            ihl = (pkt[0] & 0x0F) * 4
            if struct.unpack("!H", pkt[ihl:ihl + 2])[0] != s.port:
                continue
            payload = pkt[ihl + (pkt[ihl + 12] >> 4) * 4:]
            if t and t in payload:
                seen["token"] = pkt[8]
            elif b"wire-role" in payload:
                seen["get"] = pkt[8]
    print(json.dumps(seen))


@unittest.skipUnless(os.geteuid() == 0, "needs root for a network namespace and AF_PACKET")
class WireTTL(unittest.TestCase):
    """The IP TTL of the segments actually sent (own netns: nothing else on its lo)."""

    def test_only_token_reply_has_hop_limit_ttl(self):
        for hop in (1, 3):
            with self.subTest(hop=hop):
                r = subprocess.run(["unshare", "--net", sys.executable, os.path.abspath(__file__), "--wire",
                                    str(hop)], capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                seen = json.loads(r.stdout)
                self.assertEqual(seen["body"], "wire-role")
                self.assertEqual(seen["token"], hop, seen)
                self.assertEqual(seen["get"], seen["default"], seen)
                self.assertNotEqual(seen["default"], hop)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(res.failures) + len(res.errors)
    passed = res.testsRun - failed - len(res.skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--wire"]:
        wire_ttls(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
