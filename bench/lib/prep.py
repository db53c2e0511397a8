"""prep.py - what every benchmark run needs before the measured part starts.

Why: examples/minimal.yaml is measured with a pre-baked gVisor AMI (a fleet
bakes once and reuses the image), so every fresh simulator first gets that
image, made by `secfaas bake` exactly as an operator would, at a fast
timescale; the helpers the bake needed (a VPC, a subnet, a builder role and
instance profile) are deleted again, so the measured run starts from an
inventory holding only the image and its snapshot.  None of this is counted:
the measured window starts after it (Sim.mark).

Also: the spec with the AMI filled in (structured YAML edit, never text
substitution), and measured(): wall time, CPU time and peak memory of one
client process tree.
"""
import json
import os
import subprocess
import time

import yaml

PREP_TIMESCALE = 0.001
TRUST_EC2 = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
             '{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}')


def prebake(sim, secfaas, spec, workdir, timescale):
    """Bake the spec's gVisor AMI on sim; leave only the image; set the timescale. Returns the AMI id."""
    sim.set_timescale(PREP_TIMESCALE)
    ec2, iam = sim.boto("ec2"), sim.boto("iam")
    vpc = ec2.create_vpc(CidrBlock="10.250.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.250.0.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    iam.create_role(RoleName="bench-prebake", AssumeRolePolicyDocument=TRUST_EC2)
    iam.create_instance_profile(InstanceProfileName="bench-prebake")
    iam.add_role_to_instance_profile(InstanceProfileName="bench-prebake", RoleName="bench-prebake")
    env = sim.client_env()
    env["SECFAAS_POLL_SCALE"] = repr(PREP_TIMESCALE)
    log = os.path.join(workdir, "prebake.log")
    with open(log, "w") as f:
        r = None
        for _ in range(20):   # the new instance profile may not have propagated yet
            r = subprocess.run([secfaas, "bake", spec, "--state", os.path.join(workdir, "prebake.db"),
                                "--subnet-id", sub, "--instance-profile", "bench-prebake"],
                               env=env, stdout=subprocess.PIPE, stderr=f, universal_newlines=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)
    if r.returncode != 0:
        raise SystemExit("bench: secfaas bake failed (see %s)" % log)
    ami = r.stdout.split()[0]
    # the builder is terminated by bake; its ENI goes with it, when the
    # instance is gone (a busy machine makes that take a while: wait for it,
    # up to two minutes, rather than a number of tries)
    for delete in (lambda: ec2.delete_subnet(SubnetId=sub), lambda: ec2.delete_vpc(VpcId=vpc)):
        end = time.monotonic() + 120
        while True:
            try:
                delete()
                break
            except ec2.exceptions.ClientError as e:
                if "DependencyViolation" not in str(e) or time.monotonic() > end:
                    raise
                time.sleep(0.05)
    iam.remove_role_from_instance_profile(InstanceProfileName="bench-prebake", RoleName="bench-prebake")
    iam.delete_instance_profile(InstanceProfileName="bench-prebake")
    iam.delete_role(RoleName="bench-prebake")
    sim.set_timescale(timescale)
    return ami


def spec_with_ami(spec, ami, out):
    """Copy of spec with `ami:` set on every gVisor node group."""
    with open(spec) as f:
        d = yaml.safe_load(f)
    for g in d["spec"]["nodeGroups"]:
        if g.get("runtime") == "gvisor":
            g["ami"] = ami
    with open(out, "w") as f:
        yaml.safe_dump(d, f, sort_keys=False)
    return out


# Runs in a fresh `python3 -S` (about 8 MB resident) so that the measured
# child's peak memory is not the forking benchmark's own (a child's ru_maxrss
# includes the memory it shared with its parent before exec).
# The tool runs in a process group of its own, whose id is written to
# LOG.pgid, so that an interrupted benchmark can stop exactly that tree.
_MEASURE = r"""
import json, os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.setpgid(0, 0)
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
try:
    os.setpgid(pid, pid)
except OSError:
    pass   # the child did it first and has exec'd
with open(sys.argv[1][:-len(".rusage.json")] + ".pgid", "w") as f:
    f.write(str(pid))
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
with open(sys.argv[1], "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
               "rss_mb": ru.ru_maxrss / 1024.0}, f)
"""


def measured(argv, env, log, cwd=None):
    """Run argv to completion: {"rc", "wall", "cpu", "rss_mb"}.

    cpu is user+system time of the process and every descendant it waited
    for; rss_mb is the largest resident set of any one of them (ru_maxrss of
    wait4; about 8 MB at least, the measuring process's own size)."""
    out = log + ".rusage.json"
    with open(log, "ab") as f:
        subprocess.run(["/usr/bin/python3", "-S", "-c", _MEASURE, out] + list(argv), env=env, cwd=cwd,
                       stdout=f, stderr=subprocess.STDOUT, check=True)
    with open(out) as f:
        return json.load(f)
