#!/usr/bin/python3
"""analyze.py STATE CALLS T0 T1 TIMESCALE LATENCY_MS - the report of run.sh (see there)."""
import collections
import json
import sqlite3
import sys

state, calls_path, t0, t1, timescale, latency = sys.argv[1:7]
wall = float(t1) - float(t0)
db = sqlite3.connect("file:%s?mode=ro" % state, uri=True)
run = db.execute("select max(id) from runs where command like '%apply%'").fetchone()[0]
dur, start, end = {}, {}, {}
for addr, started, finished in db.execute(
        "select address, started, finished from journal where run_id=? and op='create' and done=1", (run,)):
    dur[addr] = finished - started
    start[addr], end[addr] = started, finished
deps = {}
for addr, d in db.execute("select address, deps from resources"):
    deps[addr] = [x for x in json.loads(d or "[]") if x in dur]

memo = {}


def finish(a):
    """earliest finish of a if every operation took its measured time and started as soon as its deps were done"""
    if a not in memo:
        memo[a] = max([finish(d) for d in deps.get(a, [])] or [0.0]) + dur[a]
    return memo[a]


cp = max(finish(a) for a in dur)
last = max(dur, key=finish)
path = [last]
while deps.get(path[-1]):
    path.append(max(deps[path[-1]], key=finish))
path.reverse()
engine_wall = max(end.values()) - min(start.values())

calls = json.load(open(calls_path))["calls"]
OPS = [("aws_vpc", ["Vpc"]), ("aws_subnet", ["Subnet"]), ("aws_internet_gateway", ["InternetGateway"]),
       ("aws_route_table", ["RouteTable", "Route"]), ("aws_security_group", ["SecurityGroup"]),
       ("aws_iam_role", ["Role", "RolePolic"]), ("aws_iam_instance_profile", ["InstanceProfile"]),
       ("aws_gvisor_ami", ["Image", "Instances", "ConsoleOutput", "GetParameter", "Snapshot"]),
       ("aws_launch_template", ["LaunchTemplate"]), ("eks_nodegroup", ["Nodegroup"]),
       ("eks_cluster", ["Cluster", "Update"])]
per = collections.Counter()
for op, n in calls.items():
    name = op.split(":", 1)[1]
    for t, keys in OPS:
        if any(k in name for k in keys):
            per[t] += n
            break
    else:
        per["other (" + op.split(":", 1)[0] + ")"] += n
types = collections.Counter(a.split(".")[0] for a in dur)

print("apply of %d resources (awssim timescale %s, %s ms latency per call)" % (len(dur), timescale, latency))
print("%-40s %9s %9s" % ("resource", "op (s)", "finish(s)"))
for a in sorted(dur, key=lambda x: start[x]):
    print("%-40s %9.3f %9.3f%s" % (a, dur[a], end[a] - min(start.values()), "  *" if a in path else ""))
print("critical path (*): %s" % " -> ".join(path))
print("%-28s %8.3f s" % ("critical path time", cp))
print("%-28s %8.3f s" % ("engine wall (first..last)", engine_wall))
print("%-28s %8.3f s" % ("process wall", wall))
print("%-28s %8.3f   (goal <= 1.05)" % ("engine wall / critical path", engine_wall / cp))
print("%-28s %8.3f" % ("process wall / critical path", wall / cp))
print()
print("%-34s %6s %6s %8s" % ("AWS calls by resource type", "calls", "count", "per res"))
total = sum(calls.values())
for t, n in sorted(per.items()):
    k = types.get(t, 0)
    print("%-34s %6d %6s %8s" % (t, n, k or "-", "%.1f" % (n / k) if k else "-"))
aws_res = sum(v for t, v in types.items() if t.startswith(("aws_", "eks_")))
print("%-34s %6d %6d %8.1f" % ("total (AWS resources)", total, aws_res, total / max(aws_res, 1)))
