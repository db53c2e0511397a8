"""bench/refresh-fleet: how a fleet's refresh grows with the fleet.

Every workspace is the network and IAM half of a cluster (a VPC, six
subnets, an internet gateway, two route tables, a security group, two IAM
roles: 11 EC2 objects and 2 IAM ones), all of them really applied by
`secfaas apply --all` against one private local AWS, so each state holds ids
AWS handed out.  Then `plan --all --refresh-only` of the first 10, 100 and
500 of them, each from its own spec directory over the same states.  The
calls come from the simulator's call log, never from secfaas.

Printed for each N: wall time, AWS calls in all and per workspace, the EC2
Describe calls (goal: a constant per type and region, O(types x regions),
where one call per object would make 11 per workspace) and the IAM calls
(from 16 roles on, one GetAccountAuthorizationDetails listing of the
account's roles per 1000; fewer are read role by role: GetRole,
ListRolePolicies, ListAttachedRolePolicies).
Then `refresh --all` of the largest N, which reads the same way and takes
each workspace's lock: its wall time and calls.
A benchmark, not a test: it exits non-zero only when a run broke.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))
from sim import Sim  # noqa: E402

SPEC = """apiVersion: secfaas.dev/v1alpha1
kind: Stack
metadata: {name: %(w)s, region: eu-west-1}
spec:
  resources:
    - {type: aws_iam_role, name: cluster, attributes: {name: %(w)s-cluster, service: eks.amazonaws.com}}
    - {type: aws_iam_role, name: node, attributes: {name: %(w)s-node, service: ec2.amazonaws.com}}
    - {type: aws_vpc, name: main, attributes: {cidr_block: 10.0.0.0/16}}
%(subnets)s
    - {type: aws_internet_gateway, name: main, attributes: {vpc_id: '${aws_vpc.main.id}'}}
    - {type: aws_route_table, name: public, attributes: {vpc_id: '${aws_vpc.main.id}', gateway_id: '${aws_internet_gateway.main.id}', subnet_ids: ['${aws_subnet.public_a.id}', '${aws_subnet.public_b.id}', '${aws_subnet.public_c.id}']}}
    - {type: aws_route_table, name: private, attributes: {vpc_id: '${aws_vpc.main.id}', subnet_ids: ['${aws_subnet.private_a.id}', '${aws_subnet.private_b.id}', '${aws_subnet.private_c.id}']}}
    - {type: aws_security_group, name: cluster, attributes: {vpc_id: '${aws_vpc.main.id}', name: %(w)s-cluster, description: cluster, self_ingress: true}}
"""
SUBNET = ("    - {type: aws_subnet, name: %s_%s, attributes: {vpc_id: '${aws_vpc.main.id}', cidr_block: 10.0.%d.0/24, "
          "availability_zone: eu-west-1%s, public: %s}}")
EC2_OBJECTS, IAM_OBJECTS = 11, 2


def spec(w):
    subs = []
    for i, z in enumerate("abc"):
        subs.append(SUBNET % ("public", z, i, z, "true"))
        subs.append(SUBNET % ("private", z, 10 + i, z, "false"))
    return SPEC % {"w": w, "subnets": "\n".join(subs)}


def main():
    s = os.environ.get("SECFAAS") or (sys.argv[1] if len(sys.argv) > 1 else None)
    if not s:
        sys.exit("usage: run.sh SECFAAS_BINARY (or SECFAAS=...)")
    s = os.path.abspath(s)
    n = int(os.environ.get("N", "500"))
    sizes = [k for k in (10, 100, 500) if k < n] + [n]
    keep = os.environ.get("BENCH_DIR")
    d = tempfile.mkdtemp(prefix="refresh-fleet.", dir=keep or None)
    sim = Sim(SRC, d, timescale=0.01, seed=7)
    try:
        sim.start()
        env = sim.client_env()
        env["SECFAAS_POLL_SCALE"] = "0.01"
        names = ["rf%04d" % i for i in range(n)]
        for k in sizes:
            os.makedirs(os.path.join(d, "specs%d" % k))
            for w in names[:k]:
                with open(os.path.join(d, "specs%d" % k, w + ".yaml"), "w") as f:
                    f.write(spec(w))
        t = time.perf_counter()
        mark = sim.mark()
        r = subprocess.run([s, "apply", "--all", "specs%d" % n, "--auto-approve", "--cluster-parallelism", "8",
                            "--json"], cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        applied = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit("refresh-fleet: apply --all exited %d: %s" % (r.returncode, r.stdout.decode()[-600:]))
        made = sum(sim.window(mark)["calls"].values())
        print("refresh-fleet: %d workspaces applied (%d EC2 + %d IAM objects each) in %.0f s, %d calls"
              % (n, EC2_OBJECTS, IAM_OBJECTS, applied, made))
        print("  plan --all --refresh-only (cluster-parallelism 4, parallelism 10), calls from the local AWS's log:")
        print("  %5s %8s %7s %9s %13s %10s %10s" % ("N", "wall s", "calls", "per ws", "EC2 describes",
                                                   "(per obj)", "IAM calls"))
        rows = []
        for k in sizes:
            mark = sim.mark()
            t = time.perf_counter()
            # the states of the workspaces beyond the first k are listed as
            # not in the spec, never read (no --prune)
            r = subprocess.run([s, "plan", "--all", "specs%d" % k, "--refresh-only", "--summary"], cwd=d, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            wall = time.perf_counter() - t
            if r.returncode != 0:
                sys.exit("refresh-fleet: plan --all of %d exited %d: %s" % (k, r.returncode,
                                                                             r.stderr.decode()[-600:]))
            clean = sum(1 for l in r.stdout.decode().splitlines() if l.startswith("rf") and l.endswith("no changes"))
            if clean != k:
                sys.exit("refresh-fleet: %d of %d workspaces refreshed without drift" % (clean, k))
            calls = sim.window(mark)["calls"]
            total = sum(calls.values())
            ec2 = sum(v for op, v in calls.items() if op.startswith("ec2:Describe"))
            iam = sum(v for op, v in calls.items() if op.startswith("iam:"))
            rows.append((k, wall, total, ec2, iam))
            print("  %5d %8.2f %7d %9.2f %13d %10d %10d" % (k, wall, total, total / k, ec2, EC2_OBJECTS * k, iam))
            if os.environ.get("VERBOSE"):
                for op in sorted(calls):
                    print("        %-40s %d" % (op, calls[op]))
        # refresh --all reads the same way and writes under each lock
        k = sizes[-1]
        mark = sim.mark()
        t = time.perf_counter()
        r = subprocess.run([s, "refresh", "--all", "specs%d" % k, "--auto-approve", "--summary"], cwd=d, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit("refresh-fleet: refresh --all of %d exited %d: %s" % (k, r.returncode, r.stderr.decode()[-600:]))
        clean = sum(1 for l in r.stdout.decode().splitlines() if l.startswith("rf") and l.endswith("no drift"))
        if clean != k:
            sys.exit("refresh-fleet: refresh --all: %d of %d workspaces without drift" % (clean, k))
        calls = sim.window(mark)["calls"]
        print("  refresh --all of %d, each under its lock: %.2f s, %d calls, %d EC2 describes, %d IAM calls"
              % (k, wall, sum(calls.values()), sum(v for op, v in calls.items() if op.startswith("ec2:Describe")),
                 sum(v for op, v in calls.items() if op.startswith("iam:"))))
        small, big = rows[0], rows[-1]
        print("  EC2 describes grow %.1fx for %dx the workspaces (O(types x regions): 1.0 up to one call per 200 ids);"
              " one call per object would be %dx" % (big[3] / max(small[3], 1), big[0] // small[0], big[0] // small[0]))
        if os.environ.get("BENCH_SUMMARY"):
            with open(os.environ["BENCH_SUMMARY"], "a") as f:
                f.write("%-27s %.2f s, %d calls (%.2f per workspace), %d EC2 describes for %d EC2 objects\n"
                        % ("refresh --all (%d applied)" % big[0], big[1], big[2], big[2] / big[0], big[3],
                           EC2_OBJECTS * big[0]))
    finally:
        sim.stop()
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
