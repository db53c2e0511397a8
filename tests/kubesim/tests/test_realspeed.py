"""Deadlines that cover real processes are not scaled below real time.

Imported by test_kubesim.py.  kubesim runs here at --timescale 0.001, as the
secfaas suites run it: a Deployment's 600 s progress deadline would be 0.6 s,
less than a Python process needs to start on a busy machine.
"""
import time

from harness import ACCOUNT  # noqa: F401  (keeps the import style of the suite)

SLOW_SERVER = r"""
import http.server, os, sys, time
time.sleep(float(sys.argv[1]))   # a slow start, as on a loaded machine
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.HTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
"""


def slow_deployment(name, delay, deadline=None):
    spec = {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{
                             "name": "main", "image": "python:3.12", "command": ["python3", "-c", SLOW_SERVER,
                                                                                  str(delay)],
                             "ports": [{"containerPort": 8080}],
                             "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                             "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                             "livenessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1,
                                               "initialDelaySeconds": 30}}]}}}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def progressing(d):
    for c in (d.get("status") or {}).get("conditions") or []:
        if c["type"] == "Progressing":
            return c
    return {}


def t_real_speed_deadlines(k):
    """At --timescale 0.001 a slow real process still rolls out (600 s nominal deadline
    is not 0.6 s for it); a short nominal deadline still fires, at real speed."""
    k.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "slow"}})
    D = "/apis/apps/v1/namespaces/slow/deployments"
    k.ok("POST", D, slow_deployment("late", 2.0))
    t0 = time.monotonic()
    k.ok("POST", D, slow_deployment("never", 3600, deadline=3))
    seen = []

    def done(o):
        seen.append(progressing(o).get("reason"))
        return (o.get("status") or {}).get("availableReplicas") == 1
    k.watch_until(D, done, field_name="late", timeout=60)
    assert "ProgressDeadlineExceeded" not in seen, seen
    d = k.watch_until(D, lambda o: progressing(o).get("reason") == "ProgressDeadlineExceeded",
                      field_name="never", timeout=60)
    assert time.monotonic() - t0 >= 2.5, "a 3 s deadline over a real process fired after %.2fs" % (
        time.monotonic() - t0)
    assert progressing(d)["message"].startswith('ReplicaSet "never-') and progressing(d)["status"] == "False", d


def register(run, Kubesim, tmp, aws):
    k = Kubesim(tmp, aws=aws, timescale=0.001)
    try:
        from test_kubesim import standard_groups
        aws.set_groups(standard_groups())
        k.watch_until("/api/v1/nodes", lambda o: True)
        run.run("real processes: deadlines not scaled below real time", t_real_speed_deadlines, k)
    finally:
        k.stop()
