#!/usr/bin/python3
"""q.py URL EXPR - evaluate a Python expression against the simulator's admin API and print it.

Names available in EXPR:
  inv          inventory resources: {"ec2:vpc": [...], ...} (missing kinds are [])
  n(kind)      number of live objects of a kind, e.g. n("ec2:vpc")
  ngs(c)       node groups of cluster c (admin API list)
  addons(c)    add-ons of cluster c (admin API: parsed configuration, networkPolicy switch)
  calls        call counters {"ec2:RunInstances": 3, ...} (missing ops are 0)
  errors       error counters {"ec2:ReleaseAddress:InvalidIPAddress.InUse": 1, ...} (missing are 0)
Only loopback URLs are accepted.
"""
import collections
import json
import sys
import urllib.parse
import urllib.request


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.load(r)


def main():
    base, expr = sys.argv[1].rstrip("/"), sys.argv[2]
    host = urllib.parse.urlparse(base).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("q.py: refusing non-loopback endpoint %s" % base)
    inv = collections.defaultdict(list, get(base, "/_awssim/inventory")["resources"])
    counters = get(base, "/_awssim/calls")
    calls = collections.defaultdict(int, counters["calls"])
    errors = collections.defaultdict(int, counters["errors"])
    env = {
        "inv": inv,
        "calls": calls,
        "errors": errors,
        "n": lambda k: len(inv[k]),
        "ngs": lambda c: get(base, "/_awssim/eks/clusters/%s/nodegroups" % urllib.parse.quote(c)),
        "addons": lambda c: get(base, "/_awssim/eks/clusters/%s/addons" % urllib.parse.quote(c)),
        "json": json,
    }
    v = eval(expr, env)  # test-only helper: expressions come from the suite itself
    print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))


main()
