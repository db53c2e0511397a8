"""sim.py - one private local AWS (tests/awssim) per benchmark run.

Why: every figure the benchmarks print is read from the simulator, not from
the client under test: its call log says how many AWS calls a run made, its
transition log says when each object really became ready or gone on the
simulated clock.  Each client gets a fresh simulator of its own so that
nothing one run leaves behind (or one run's calls) is counted for another.

The simulator only ever listens on loopback; start() refuses anything else,
and every client is pointed at it through standard AWS settings only
(endpoint URL, CA bundle, the documented test keys), never real AWS.

Calling steps:
    s = Sim(src, workdir, timescale=0.1, seed=7); s.start()
    env = s.client_env()                # AWS_* for a client process
    mark = s.mark()                     # call-log position + simulated time
    ... run the client ...
    window = s.window(mark)             # calls and transitions since mark
    s.stop()
"""
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"


def require_loopback(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        raise SystemExit("bench: refusing to run: endpoint %s is not loopback" % url)


class Sim:
    def __init__(self, src, workdir, timescale=0.1, seed=None, consistency=None):
        # AWSSIM_DIR: another copy of tests/awssim (e.g. a branch under review)
        self.awssim = os.environ.get("AWSSIM_DIR") or os.path.join(src, "tests", "awssim")
        self.dir = os.path.join(workdir, "sim")
        self.timescale = float(timescale)
        self.seed = seed
        self.consistency = consistency
        self.url = None
        self.ca = None
        self.features = {}

    # -------------------------------------------------------------- process
    def start(self):
        ctl = os.path.join(self.awssim, "ctl")
        args = [ctl, "start", self.dir, "--timescale", repr(self.timescale)]
        if self.seed is not None and self._supports("--seed"):
            args += ["--seed", str(self.seed)]
        if self.consistency is not None and self._supports("--consistency-delay-scale"):
            args += ["--consistency-delay-scale", str(self.consistency)]
        out = subprocess.run(args, check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
        env = dict(line.split("=", 1) for line in out.split() if "=" in line)
        self.url = env["AWSSIM_URL"]
        self.ca = env.get("AWS_CA_BUNDLE")
        require_loopback(self.url)
        self.features = {
            "transitions": self._probe("transitions"),
            "call_log": "log" in self.get("calls?log=1&since=0"),
        }
        return self

    def stop(self):
        if self.url:
            subprocess.run([os.path.join(self.awssim, "ctl"), "stop", self.dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.url = None

    def _supports(self, flag):
        h = subprocess.run([os.path.join(self.awssim, "awssim"), "--help"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True).stdout
        return flag in h

    def _probe(self, path):
        try:
            self.get(path)
            return True
        except urllib.error.HTTPError:
            return False

    # ------------------------------------------------------------ admin API
    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_awssim/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        ctx = None
        if self.url.startswith("https"):
            import ssl
            ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(req, timeout=60, context=ctx) as r:
            return json.load(r)

    def get(self, path):
        return self.admin("GET", path)

    def set_timescale(self, x):
        self.admin("POST", "clock", {"advance": 0, "timescale": float(x)})

    def now(self):
        return self.get("clock")["epoch"]

    def inventory_count(self):
        return self.get("inventory")["count"]

    # ------------------------------------------------------------- clients
    def client_env(self, base=None):
        """Environment for a client process: standard AWS settings only."""
        env = dict(base if base is not None else os.environ)
        for k in list(env):
            if k.startswith("AWS_") or k in ("SECFAAS_STATE_PASSPHRASE",):
                del env[k]
        env.update({"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
                    "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "NO_COLOR": "1",
                    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true"})
        if self.ca:
            env["AWS_CA_BUNDLE"] = self.ca
        return env

    def client_models(self):
        """Directory for AWS_DATA_PATH with the simulator's overlay-merged models
        (EKS access entries, access config, AL2023 AMI types), which Debian's
        botocore and AWS CLI predate (tests/awssim/README.md); written once."""
        d = os.path.join(os.path.dirname(self.dir), "models")
        if not os.path.isdir(d):
            out = subprocess.run(["/usr/bin/python3", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                                  "from awssimlib.wire import write_client_models; write_client_models(sys.argv[2])",
                                  self.awssim, d + ".tmp"], stderr=subprocess.PIPE, universal_newlines=True)
            if out.returncode != 0:
                raise RuntimeError("cannot write the client models: " + out.stderr.strip())
            os.rename(d + ".tmp", d)
        return d

    def boto(self, svc):
        import boto3
        import botocore.session
        from botocore.config import Config
        region = "us-east-1" if svc == "iam" else REGION
        core = botocore.session.get_session()
        core.set_config_variable("data_path", self.client_models())
        return boto3.Session(aws_access_key_id=AKID, aws_secret_access_key=SECRET, region_name=region,
                             botocore_session=core).client(
            svc, endpoint_url=self.url, verify=self.ca or None,
            config=Config(retries={"mode": "standard", "max_attempts": 8}))

    # ------------------------------------------------------- measurements
    def mark(self):
        """Where the call log and the simulated clock stand now."""
        c = self.get("calls")
        return {"seq": c.get("seq"), "calls": c["calls"], "at": self.get("clock")["epoch"]}

    def window(self, mark):
        """Calls and transitions since mark: {"calls": {op: n}, "log": [...]|None,
        "transitions": [...]|None, "from": t0, "to": t1}."""
        end = self.mark()
        out = {"from": mark["at"], "to": end["at"], "log": None, "transitions": None}
        if self.features.get("call_log") and mark["seq"] is not None:
            log = [c for c in self.get("calls?log=1&since=%d" % mark["seq"])["log"] if c["seq"] <= end["seq"]]
            out["log"] = log
            calls = {}
            for c in log:
                k = "%s:%s" % (c["service"], c["operation"])
                calls[k] = calls.get(k, 0) + 1
            out["calls"] = calls
        else:
            out["calls"] = {k: v - mark["calls"].get(k, 0) for k, v in end["calls"].items()
                            if v - mark["calls"].get(k, 0) > 0}
        if self.features.get("transitions"):
            out["transitions"] = self.get("transitions")["objects"]
        return out


def wait_file(path, timeout=30.0):
    t = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > t:
            raise SystemExit("bench: %s did not appear" % path)
        time.sleep(0.05)
