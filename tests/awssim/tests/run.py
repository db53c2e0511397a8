#!/usr/bin/python3
"""Runs the awssim cross-check suite: starts awssim twice through ./ctl
(plain HTTP and TLS, timescale 0.001, consistency windows off, the plain one
with --seed 7) in $TMPDIR, runs every tests/test_*.py
with unittest, stops both by their recorded PIDs, and prints the final
"N passed, N failed" line."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.path.join(os.path.dirname(HERE), "ctl")
sys.path.insert(0, HERE)


def start(d, *extra):
    # Eventual-consistency windows are off here (at this timescale they would last
    # milliseconds, a race with the test's own next call); the tests that exercise
    # them turn them on through the admin API with windows that no busy machine outruns.
    out = subprocess.run([CTL, "start", d, "--timescale", "0.001", "--consistency-delay-scale", "0", *extra],
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def main():
    base = tempfile.mkdtemp(prefix="awssim-test-")
    plain = os.path.join(base, "plain")
    tls = os.path.join(base, "tls")
    os.environ["AWSSIM_KUBESIM"] = "none"
    os.environ["AWSSIM_STRICT"] = "1"
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        os.environ.pop(k, None)
    os.environ["AWS_CONFIG_FILE"] = os.path.join(base, "aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(base, "aws-credentials")
    os.environ["HOME"] = base
    sys.path.insert(0, os.path.dirname(HERE))
    from awssimlib.wire import write_client_models
    os.environ["AWS_DATA_PATH"] = write_client_models(os.path.join(base, "models"))
    failed = 1
    try:
        e1 = start(plain, "--seed", "7")
        os.environ["AWSSIM_KUBESIM"] = os.path.join(HERE, "fake_kubesim")
        e2 = start(tls, "--tls")
        os.environ["AWSSIM_KUBESIM"] = "none"
        import common
        common.require_loopback(e1["AWSSIM_URL"])
        common.require_loopback(e2["AWSSIM_URL"])
        os.environ["AWSSIM_URL"] = e1["AWSSIM_URL"]
        os.environ["AWSSIM_TLS_URL"] = e2["AWSSIM_URL"]
        os.environ["AWSSIM_TLS_CA"] = e2["AWS_CA_BUNDLE"]
        pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
        suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern)
        res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
        failed = len(res.failures) + len(res.errors)
        passed = res.testsRun - failed - len(res.skipped)
    finally:
        subprocess.run([CTL, "stop", plain])
        subprocess.run([CTL, "stop", tls])
        for d in (plain, tls):
            log = os.path.join(d, "awssim.log")
            if os.path.exists(log) and (os.environ.get("AWSSIM_SHOW_LOG") or failed):
                print(open(log).read())
        shutil.rmtree(base, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
