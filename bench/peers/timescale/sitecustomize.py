"""Scale a Python peer's waits to the simulator's timescale.

Why: the benchmark runs the local AWS faster than real time (--timescale,
e.g. 0.1: a 10-minute EKS cluster takes 60 s), and secfaas scales its poll
delays and retry backoffs the same way (SECFAAS_POLL_SCALE).  The peers
(the AWS CLI's `aws ... wait`, Ansible's modules and waiters) sleep their
real delays; left alone, a 30 s poll against a 60 s cluster would charge
them half a cluster of lag that they would not have at real speed.  Put on
PYTHONPATH with BENCH_SLEEP_SCALE=X, this makes every time.sleep(s) of at
least 50 ms sleep s * X instead: the waiter delays and retry backoffs that
pace AWS calls.  Shorter sleeps (process and thread hand-offs such as
Ansible's 1 ms result polling) are left as they are, so the peer's own CPU
work is not made busier than it is.

Debian's sitecustomize (which only installs the apport hook) still runs.
"""
import os
import sys
import time

_scale = float(os.environ.get("BENCH_SLEEP_SCALE") or 1.0)
if _scale != 1.0:
    _sleep = time.sleep

    def _scaled(s):
        _sleep(s * _scale if s >= 0.05 else s)

    time.sleep = _scaled

_debian = "/etc/python%d.%d/sitecustomize.py" % sys.version_info[:2]
if os.path.exists(_debian):
    try:
        with open(_debian) as _f:
            exec(compile(_f.read(), _debian, "exec"), {"__name__": "sitecustomize"})
    except Exception:   # the apport hook is optional
        pass
