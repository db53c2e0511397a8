"""critical.py - honest critical path and call floor of one create or destroy run.

Why: a client that measures its own operations cannot tell how long it lagged
behind AWS (each operation's measured time already includes its polling lag).
Here every duration comes from the simulator's own transition log
(GET /_awssim/transitions: when an object really became ACTIVE, running,
available, propagated or gone on the simulated clock) and every call count
from its call log, so the figures mean the same for secfaas and for any peer.

CRITICAL PATH (the fastest any client could possibly be, given what AWS did
in this run).  A zero-latency client starts every object the instant the
objects it needs are ready; the critical path is the longest chain of AWS's
own durations through that dependency graph:
  create: an object's duration is the AWS-timed part of its life, from the
    call that started it to the state that makes it usable:
      IAM role          created -> propagated (usable by EKS/EC2)
      instance profile  AddRoleToInstanceProfile -> propagated
      EC2 instance      pending -> running, or -> stopped for an instance
                        that powers itself off (the AMI builder)
      AMI               pending -> available
      EKS cluster       CREATING -> ACTIVE;  EKS node group  CREATING -> ACTIVE
      EKS add-on        CREATING -> ACTIVE; one made before any node could
                        run its pods (CoreDNS) goes CREATING -> DEGRADED, and
                        is ready once that is over and the first node group
                        whose nodes its pods tolerate is ACTIVE, whenever
                        EKS noticed it (the client's late node groups are
                        its lag, not AWS's time)
      NAT gateway, VPC endpoint  pending -> available
      everything else (VPC, subnets, gateway, route tables, security groups,
      addresses, launch templates, access entries) is ready when its call
      returns: 0 s.
    Dependencies are what AWS itself requires, read back from AWS after the
    run: a cluster needs its role; a node group its cluster, node role and
    launch template; a launch template whose user data carries the cluster
    endpoint needs the ACTIVE cluster, and its image; an image its builder
    instance; an instance its instance profile; a profile its roles; an
    add-on its cluster (and a DEGRADED one, a node group it can run on).
  destroy: a NAT gateway or VPC endpoint deleting -> gone; a node group
    DELETING -> gone; its instances shutting-down ->
    terminated (AWS starts them when the group is gone); a cluster
    DELETING -> gone, once its node groups are gone; everything else is gone
    when its call returns, once the cluster and the instances are gone.
  The ratio printed is the client's process wall time / critical path.
  Kubernetes objects (RuntimeClass, OpenFaaS) are not AWS objects: their time
  is overhead on this scale.

CALL FLOOR (the fewest AWS calls that make, or remove, exactly these objects
and observe their readiness the way AWS's own waiters do).  Counted from the
objects found in AWS after the run (every object the run made or removed,
the AMI bake's included): one create call per object (tags ride on it), the
calls AWS needs to finish configuring it, one delete; and for every wait AWS
requires (a transition with a duration: something needs the object ready,
or gone), the reads of its official waiter (botocore's waiters-2.json: 30 s
for EKS clusters and node groups, 10 s for add-ons, 15 s for instances,
images and NAT gateways): ceil(AWS duration / delay), at least 1, the first
one a delay after the call that started it.  Objects a cluster's run waits
for together (its node groups, its add-ons) cost one such wait, from the
first one's start to the last one's end, and one read of each other.  A VPC endpoint has no official waiter:
one read.  The goal of 1.1 is against this floor.  A client may
poll sparsely before a transition's usual end and densely near it, and so
come in under it; wall / critical path shows what that cost in lag.
The stricter count beside it, ONE READ PER WAIT (cadence="wait"), is what a
client that knew each transition's duration in advance would need: it sleeps
until the transition is over and reads once.  No client can know that (AWS
spreads durations), so every poll past the first of a wait is above it, and
fewer polls cost lag one for one; how the calls above it divide is printed
(above_floor).
  create
    IAM role          1 CreateRole + 1 AttachRolePolicy per managed policy +
                      1 PutRolePolicy per inline policy (Pod Identity roles
                      too)
    instance profile  1 CreateInstanceProfile + 1 AddRoleToInstanceProfile
    VPC               1 CreateVpc + 1 ModifyVpcAttribute for DNS hostnames
                      if on (DNS support is on by default); ready at once
    subnet            1 CreateSubnet + 1 ModifySubnetAttribute if it maps
                      public IPs
    internet gateway  1 Create + 1 Attach
    elastic IP        1 AllocateAddress
    NAT gateway       1 CreateNatGateway + reads (pending -> available)
    VPC endpoint      1 CreateVpcEndpoint + 1 read if it was pending
    route table       1 Create + 1 CreateRoute per route + 1
                      AssociateRouteTable per subnet
    security group    1 Create + 1 AuthorizeSecurityGroupIngress if it has
                      ingress rules (one call takes them all) + 2 if its
                      egress is not the default (revoke, authorize)
    launch template   1 CreateLaunchTemplate
    AMI bake          1 ssm GetParameter (base AMI) + 1 RunInstances +
                      reads (stopped) + 1 GetConsoleOutput (the bake's proof)
                      + 1 CreateImage + reads (available) + 1
                      TerminateInstances
    EKS cluster       1 CreateCluster + reads (ACTIVE; the last carries the
                      endpoint and CA)
    EKS node group    1 CreateNodegroup each + reads (ACTIVE; one wait for a
                      cluster's groups)
    EKS add-on        1 CreateAddon each + reads (ACTIVE, or DEGRADED for one
                      that then waits for nodes; one wait for a cluster's
                      add-ons); the Pod Identity associations it names ride
                      on CreateAddon (0)
    Pod Identity      1 CreatePodIdentityAssociation for one no add-on owns
    access entry      1 CreateAccessEntry + 1 AssociateAccessPolicy per policy
                      (the creator's and the node roles' entries are EKS's)
  destroy
    EKS node group    1 DeleteNodegroup each + reads (gone; one wait for a
                      cluster's groups)
    EKS cluster       1 DeleteCluster + reads (gone); its add-ons, Pod
                      Identity associations and access entries go with it (0)
    instances (EKS's) 0, plus reads for the part of their termination that
                      ends after the cluster is gone
    NAT gateway       1 DeleteNatGateway + reads (gone: its subnet and
                      address wait for it)
    VPC endpoint      1 DeleteVpcEndpoints + 1 read (gone)
    elastic IP        1 ReleaseAddress
    launch template, security group, subnet, route table, VPC: 1 delete each
                      (deleting the subnets first removes the route-table
                      associations: no DisassociateRouteTable)
    internet gateway  1 Detach + 1 Delete
    IAM role          1 DetachRolePolicy per managed policy + 1
                      DeleteRolePolicy per inline policy + 1 DeleteRole
    instance profile  1 RemoveRoleFromInstanceProfile + 1 DeleteInstanceProfile
    AMI               1 DeregisterImage + 1 DeleteSnapshot
  No other read is needed: tags ride on the create calls, AZ names and the
  caller's identity are known offline, and what a create replies (a VPC
  that is already available) needs no wait.
The client's count is every AWS call in the run's window of the call log,
failed ones included, except the presigned STS GetCallerIdentity calls the
cluster's API server makes to check the client's bearer tokens (AWS, not the
client, sends those).
"""
import base64
import math

def _tr(obj):
    return obj["transitions"]


def _at(obj, state, after=None):
    for t in _tr(obj):
        if t["state"] == state and (after is None or t["at"] >= after):
            return t["at"]
    return None


def objects_in(window, kind):
    """Objects the window created (kind="create": first transition inside it)
    or removed (kind="destroy": gone inside it)."""
    lo, hi = window["from"] - 1e-6, window["to"] + 1e-6
    out = []
    for o in window["transitions"] or []:
        ts = _tr(o)
        if not ts:
            continue
        if kind == "create":
            if lo <= ts[0]["at"] <= hi:
                out.append(o)
        else:
            gone = [t for t in ts if t["state"] in ("deleted", "terminated") and lo <= t["at"] <= hi]
            if gone:
                out.append(o)
    return out


def client_calls(window):
    """{op: n} of the client's calls (presigned STS from the API server left out)."""
    if window.get("log") is None:
        return dict(window["calls"])
    out = {}
    for c in window["log"]:
        if c.get("auth") == "presigned":
            continue
        k = "%s:%s" % (c["service"], c["operation"])
        out[k] = out.get(k, 0) + 1
    return out


# ---------------------------------------------------------------- snapshot
def snapshot(sim, window):
    """Read back from AWS (boto3, after the window closed) what the floor and
    the dependency graph need about the objects the window created."""
    created = objects_in(window, "create")
    ids = {}
    for o in created:
        ids.setdefault(o["type"], []).append(o["id"])
    ec2, eks, iam = sim.boto("ec2"), sim.boto("eks"), sim.boto("iam")
    snap = {"roles": {}, "profiles": {}, "vpcs": {}, "subnets": {}, "igws": {}, "rtbs": {}, "sgs": {}, "lts": {},
            "instances": {}, "images": {}, "clusters": {}, "nodegroups": {}, "access": {}, "pias": {}}

    def gone(e):
        return any(k in str(e) for k in ("NotFound", "NoSuchEntity", "does not exist", "ResourceNotFound"))

    for name in ids.get("iam:role", []):
        try:
            att = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            inl = iam.list_role_policies(RoleName=name)["PolicyNames"]
        except Exception as e:
            if gone(e):
                continue
            raise
        snap["roles"][name] = {"attached": len(att), "inline": len(inl)}
    for name in ids.get("iam:instance-profile", []):
        try:
            ip = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except Exception as e:
            if gone(e):
                continue
            raise
        snap["profiles"][name] = {"arn": ip["Arn"], "roles": [r["RoleName"] for r in ip["Roles"]]}
    for vid in ids.get("ec2:vpc", []):
        try:
            h = ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
            s = ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
        except Exception as e:
            if gone(e):
                continue
            raise
        snap["vpcs"][vid] = {"dns_hostnames": h, "dns_support": s}
    if ids.get("ec2:subnet"):
        for s in ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": ids["ec2:subnet"]}])["Subnets"]:
            snap["subnets"][s["SubnetId"]] = {"public": bool(s.get("MapPublicIpOnLaunch"))}
    if ids.get("ec2:internet-gateway"):
        for g in ec2.describe_internet_gateways(Filters=[{"Name": "internet-gateway-id",
                                                          "Values": ids["ec2:internet-gateway"]}])["InternetGateways"]:
            snap["igws"][g["InternetGatewayId"]] = {"attached": len(g.get("Attachments", []))}
    if ids.get("ec2:route-table"):
        for r in ec2.describe_route_tables(Filters=[{"Name": "route-table-id",
                                                     "Values": ids["ec2:route-table"]}])["RouteTables"]:
            if any(a.get("Main") for a in r.get("Associations", [])):
                continue   # the VPC's main table comes with the VPC
            snap["rtbs"][r["RouteTableId"]] = {
                "routes": len([x for x in r.get("Routes", []) if x.get("Origin") == "CreateRoute"]),
                "assoc": len([a for a in r.get("Associations", []) if a.get("SubnetId")])}
    if ids.get("ec2:security-group"):
        for g in ec2.describe_security_groups(Filters=[{"Name": "group-id",
                                                        "Values": ids["ec2:security-group"]}])["SecurityGroups"]:
            tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
            if g["GroupName"] == "default" or "aws:eks:cluster-name" in tags or \
                    "kubernetes.io/service-name" in tags:
                continue   # made by the VPC, by EKS or by Kubernetes
            eg = g.get("IpPermissionsEgress", [])
            default_egress = len(eg) == 1 and eg[0].get("IpProtocol") == "-1" and \
                [r.get("CidrIp") for r in eg[0].get("IpRanges", [])] == ["0.0.0.0/0"]
            snap["sgs"][g["GroupId"]] = {"ingress": bool(g.get("IpPermissions")), "default_egress": default_egress}
    for lid in ids.get("ec2:launch-template", []):
        try:
            v = ec2.describe_launch_template_versions(LaunchTemplateId=lid, Versions=["$Latest"])
        except Exception as e:
            if gone(e):
                continue
            raise
        d = v["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        ud = ""
        if d.get("UserData"):
            try:
                ud = base64.b64decode(d["UserData"]).decode("utf-8", "replace")
            except ValueError:
                ud = ""
        snap["lts"][lid] = {"image": d.get("ImageId"), "user_data": ud}
    if ids.get("ec2:instance"):
        for r in ec2.describe_instances(InstanceIds=ids["ec2:instance"])["Reservations"]:
            for i in r["Instances"]:
                tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                snap["instances"][i["InstanceId"]] = {
                    "eks": tags.get("eks:nodegroup-name"), "eks_cluster": tags.get("eks:cluster-name"),
                    "profile": (i.get("IamInstanceProfile") or {}).get("Arn"), "subnet": i.get("SubnetId")}
    if ids.get("ec2:image"):
        for im in ec2.describe_images(ImageIds=ids["ec2:image"])["Images"]:
            snaps = [b["Ebs"]["SnapshotId"] for b in im.get("BlockDeviceMappings", []) if b.get("Ebs", {}).get("SnapshotId")]
            src = None
            if snaps:
                for s in ec2.describe_snapshots(SnapshotIds=snaps)["Snapshots"]:
                    desc = s.get("Description", "")
                    if "CreateImage(" in desc:
                        src = desc.split("CreateImage(", 1)[1].split(")", 1)[0]
            snap["images"][im["ImageId"]] = {"instance": src, "snapshots": len(snaps)}
    for name in ids.get("eks:cluster", []):
        try:
            c = eks.describe_cluster(name=name)["cluster"]
        except Exception as e:
            if gone(e):
                continue
            raise
        snap["clusters"][name] = {"role": c["roleArn"].rsplit("/", 1)[-1], "endpoint": c.get("endpoint") or "",
                                  "creator": None}
        entries = []
        try:
            for pa in eks.list_access_entries(clusterName=name).get("accessEntries", []):
                e = eks.describe_access_entry(clusterName=name, principalArn=pa)["accessEntry"]
                pols = eks.list_associated_access_policies(clusterName=name, principalArn=pa)
                entries.append({"principal": pa, "type": e.get("type"),
                                "policies": len(pols.get("associatedAccessPolicies", []))})
        except Exception as e:
            if "InvalidRequest" not in str(e) and "not supported" not in str(e).lower():
                raise   # CONFIG_MAP clusters have no access entries
        snap["access"][name] = entries
        pias = []
        try:
            for a in eks.list_pod_identity_associations(clusterName=name).get("associations", []):
                d = eks.describe_pod_identity_association(clusterName=name,
                                                          associationId=a["associationId"])["association"]
                pias.append({"id": a["associationId"], "owned_by_addon": bool(d.get("ownerArn"))})
        except Exception as e:
            if not gone(e):
                raise
        snap["pias"][name] = pias
    for key in ids.get("eks:nodegroup", []):
        cl, ng = key.split("/", 1)
        try:
            g = eks.describe_nodegroup(clusterName=cl, nodegroupName=ng)["nodegroup"]
        except Exception as e:
            if gone(e):
                continue
            raise
        snap["nodegroups"][key] = {"cluster": cl, "role": g["nodeRole"].rsplit("/", 1)[-1],
                                   "lt": (g.get("launchTemplate") or {}).get("id"),
                                   # can a Deployment add-on (CoreDNS, which tolerates only
                                   # these two taints) run on its nodes
                                   "schedulable": not any(
                                       t.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE") and
                                       t.get("key") not in ("CriticalAddonsOnly", "node-role.kubernetes.io/control-plane")
                                       for t in g.get("taints") or [])}
    return snap


# ----------------------------------------------------------- critical path
def _longest(nodes):
    """nodes: key -> {"dur", "deps"[, "any", "t0"]}: a node starts once all of
    its deps and the first of its "any" are done; returns (length, path)."""
    memo = {}

    def fin(k, depth=0):
        if k not in memo:
            if depth > len(nodes):
                raise ValueError("cycle in the dependency graph at %s" % k)
            n = nodes[k]
            best = max(((fin(d, depth + 1), d) for d in n["deps"] if d in nodes), default=(0.0, None))
            first = min(((fin(d, depth + 1), d) for d in n.get("any") or [] if d in nodes), default=None)
            if first is not None and first[0] > best[0]:
                best = first
            memo[k] = (best[0] + n["dur"], best[1])
        return memo[k][0]

    if not nodes:
        return 0.0, []
    last = max(nodes, key=fin)
    path = [last]
    while memo[path[-1]][1]:
        path.append(memo[path[-1]][1])
    return fin(last), list(reversed(path))


def _call_times(window, op):
    return sorted(c["at"] for c in window.get("log") or [] if "%s:%s" % (c["service"], c["operation"]) == op)


def _span(a, b):
    """(start, duration) of a timed transition a -> b; (a, 0) when b never came."""
    if a is None:
        return None, 0.0
    return a, max(0.0, (b if b is not None else a) - a)


def critical_create(window, snap, creator_arn=None):
    objs = {(o["type"], o["id"]): o for o in objects_in(window, "create")}
    nodes = {}
    add_role = _call_times(window, "iam:AddRoleToInstanceProfile")

    def node(key, span, deps, any_of=None):
        nodes[key] = {"t0": span[0], "dur": span[1], "deps": [d for d in deps if d[1]]}
        if any_of:
            nodes[key]["any"] = any_of

    for (typ, oid), o in objs.items():
        t0 = _tr(o)[0]["at"]
        if typ == "iam:role":
            node(("role", oid), _span(t0, _at(o, "propagated")), [])
        elif typ == "iam:instance-profile":
            p = _at(o, "propagated")
            start = max([t for t in add_role if p is not None and t <= p + 1e-6] or [t0])
            node(("profile", oid), _span(start, p),
                 [("role", r) for r in snap["profiles"].get(oid, {}).get("roles", [])])
        elif typ == "ec2:instance":
            info = snap["instances"].get(oid, {})
            if info.get("eks"):
                continue   # EKS's node: part of its node group's time
            stop, term = _at(o, "stopped"), _at(o, "shutting-down")
            end = stop if stop is not None and (term is None or stop <= term) else _at(o, "running")
            node(("instance", oid), _span(t0, end), [("profile", (info.get("profile") or "").rsplit("/", 1)[-1])])
        elif typ == "ec2:image":
            node(("image", oid), _span(t0, _at(o, "available")),
                 [("instance", snap["images"].get(oid, {}).get("instance"))])
        elif typ == "eks:cluster":
            node(("cluster", oid), _span(_at(o, "CREATING"), _at(o, "ACTIVE")),
                 [("role", snap["clusters"].get(oid, {}).get("role"))])
        elif typ == "ec2:launch-template":
            lt = snap["lts"].get(oid, {})
            deps = [("image", lt.get("image"))]
            for name, c in snap["clusters"].items():
                if c.get("endpoint") and c["endpoint"] in lt.get("user_data", ""):
                    deps.append(("cluster", name))
            node(("lt", oid), (t0, 0.0), deps)
        elif typ == "eks:addon":
            cl, made, degraded = oid.split("/")[0], _at(o, "CREATING"), _at(o, "DEGRADED")
            if degraded is None:
                node(("addon", oid), _span(made, _at(o, "ACTIVE")), [("cluster", cl)])
            else:
                # its own part ends at DEGRADED; ACTIVE then waits for nodes it can run on
                node(("addon", oid), _span(made, degraded), [("cluster", cl)])
                node(("on nodes", oid), (_at(o, "ACTIVE", degraded), 0.0), [("addon", oid)],
                     [("nodegroup", k) for k, g in snap["nodegroups"].items()
                      if g["cluster"] == cl and g.get("schedulable", True)])
        elif typ in ("ec2:nat-gateway", "ec2:vpc-endpoint"):
            node((typ.split(":")[1], oid), _span(_at(o, "pending"), _at(o, "available")), [])
        elif typ == "eks:nodegroup":
            g = snap["nodegroups"].get(oid, {})
            node(("nodegroup", oid), _span(_at(o, "CREATING"), _at(o, "ACTIVE")),
                 [("cluster", g.get("cluster", oid.split("/")[0])), ("role", g.get("role")), ("lt", g.get("lt"))])
    return _result(nodes, window)


def _result(nodes, window):
    """The critical path, and along it when each step really started (the
    client's lag shows there): [(kind, id, duration, ideal start, actual start)],
    times relative to the window's start."""
    cp, path = _longest(nodes)
    out, ideal = [], 0.0
    for k in path:
        t0 = nodes[k].get("t0")
        out.append((k[0], k[1], nodes[k]["dur"], ideal, None if t0 is None else t0 - window["from"]))
        ideal += nodes[k]["dur"]
    ends = [n["t0"] + n["dur"] for n in nodes.values() if n.get("t0") is not None]
    return {"cp": cp, "path": out, "last_ready": (max(ends) - window["from"]) if ends else None,
            "wall": window["to"] - window["from"]}


def critical_destroy(window, snap):
    objs = {(o["type"], o["id"]): o for o in objects_in(window, "destroy")}
    nodes = {}
    lo = window["from"]
    for (typ, oid), o in objs.items():
        if typ == "eks:nodegroup":
            t0, d = _span(_at(o, "DELETING", lo), _at(o, "deleted", lo))
            nodes[("nodegroup", oid)] = {"t0": t0, "dur": d, "deps": []}
    for (typ, oid), o in objs.items():
        if typ in ("ec2:nat-gateway", "ec2:vpc-endpoint"):
            t0, d = _span(_at(o, "deleting", lo), _at(o, "deleted", lo))
            nodes[(typ.split(":")[1], oid)] = {"t0": t0, "dur": d, "deps": []}
        elif typ == "eks:cluster":
            t0, d = _span(_at(o, "DELETING", lo), _at(o, "deleted", lo))
            deps = [k for k in nodes if k[0] == "nodegroup" and k[1].split("/")[0] == oid]
            nodes[("cluster", oid)] = {"t0": t0, "dur": d, "deps": deps}
        elif typ == "ec2:instance":
            info = snap["instances"].get(oid, {})
            if not info.get("eks"):
                continue   # only EKS's nodes are terminated by AWS as part of a destroy
            t0, d = _span(_at(o, "shutting-down", lo), _at(o, "terminated", lo))
            ng = [k for k in nodes if k[0] == "nodegroup" and k[1] == "%s/%s" % (info["eks_cluster"], info["eks"])]
            nodes[("instance", oid)] = {"t0": t0, "dur": d, "deps": ng}
    return _result(nodes, window)


# -------------------------------------------------------------------- floor
# The official waiter of each wait (botocore's waiters-2.json, AWS's own
# published cadence for it).  A VPC endpoint has none: one read.
WAITERS = {
    "cluster active": ("eks", "ClusterActive"), "cluster deleted": ("eks", "ClusterDeleted"),
    "nodegroup active": ("eks", "NodegroupActive"), "nodegroup deleted": ("eks", "NodegroupDeleted"),
    "addon active": ("eks", "AddonActive"),
    "instance stopped": ("ec2", "InstanceStopped"), "instance terminated": ("ec2", "InstanceTerminated"),
    "image available": ("ec2", "ImageAvailable"),
    "nat available": ("ec2", "NatGatewayAvailable"), "nat deleted": ("ec2", "NatGatewayDeleted"),
}
_delays = {}


def waiter_delay(wait):
    """Seconds between an official waiter's reads for this wait, from the
    installed botocore's models; None when AWS publishes no waiter for it."""
    if wait not in _delays:
        import botocore.session
        svc, name = WAITERS.get(wait, (None, None))
        _delays[wait] = None
        if svc:
            model = botocore.session.get_session().get_waiter_model(svc)
            if name in model.waiter_names:
                _delays[wait] = float(model.get_waiter(name).delay)
    return _delays[wait]


class _Floor:
    """Counts one floor.  cadence "waiter": a wait costs one read per official
    waiter delay of its AWS duration, the first one delay after the call that
    started it, ceil(duration / delay), at least 1; objects of one kind that a
    cluster's run waits for together (its node groups, its add-ons) cost one
    such wait, from the first start to the last end, and one read of each
    other.  cadence
    "wait": every wait costs one read, whatever its duration."""

    def __init__(self, cadence, timescale):
        if cadence not in ("waiter", "wait"):
            raise ValueError("cadence: waiter or wait, not %r" % (cadence,))
        self.cadence, self.ts = cadence, timescale or 1.0
        self.items, self.kinds = {}, {"reads": 0, "lookups": 0}

    def add(self, k, n, reads=0, lookups=0):
        self.items[k] = self.items.get(k, 0) + n
        self.kinds["reads"] += reads
        self.kinds["lookups"] += lookups

    def reads(self, wait, spans):
        """Reads for waiting on objects whose transitions run together, each
        a (start, end) in simulated seconds: one wait from the first start to
        the last end, then one read of each other object."""
        if not spans:
            return 0
        delay = waiter_delay(wait) if self.cadence == "waiter" else None
        if delay is None:
            return len(spans)
        d = (max(e for _, e in spans) - min(a for a, _ in spans)) / self.ts
        return max(1, int(math.ceil(d / delay - 1e-9))) + len(spans) - 1

    def wait(self, k, calls, wait, spans):
        r = self.reads(wait, spans)
        self.add(k, calls + r, reads=r)

    def result(self):
        return dict(self.kinds, total=sum(self.items.values()), items=self.items, cadence=self.cadence)


def _sp(obj, a, b, after=None):
    """(start, end) in simulated seconds of obj's transition a -> b: (start,
    start) when b never came, (0, 0) when a never did."""
    t0, d = _span(_at(obj, a, after), _at(obj, b, after))
    return (t0, t0 + d) if t0 is not None else (0.0, 0.0)


def floor_create(window, snap, timescale=None, creator_arn=None, cadence="waiter"):
    """{"total": n, "items": {what: n}, "reads": wait reads in it, "lookups": other reads in it}."""
    objs = {(o["type"], o["id"]): o for o in objects_in(window, "create")}
    f = _Floor(cadence, timescale)
    for r in snap["roles"].values():
        f.add("iam role", 1 + r["attached"] + r["inline"])
    for p in snap["profiles"].values():
        f.add("iam instance profile", 1 + len(p["roles"]))
    for v in snap["vpcs"].values():
        f.add("vpc", 1 + (1 if v["dns_hostnames"] else 0) + (0 if v["dns_support"] else 1))
    for s in snap["subnets"].values():
        f.add("subnet", 1 + (1 if s["public"] else 0))
    for g in snap["igws"].values():
        f.add("internet gateway", 1 + g["attached"])
    for r in snap["rtbs"].values():
        f.add("route table", 1 + r["routes"] + r["assoc"])
    for g in snap["sgs"].values():
        f.add("security group", 1 + (1 if g["ingress"] else 0) + (0 if g["default_egress"] else 2))
    for _ in snap["lts"]:
        f.add("launch template", 1)
    groups, addons = {}, {}
    for (typ, oid), o in objs.items():
        if typ == "ec2:instance" and not snap["instances"].get(oid, {}).get("eks"):
            t0 = _tr(o)[0]["at"]
            # GetParameter, Run, (reads), console, CreateImage, Terminate
            r = f.reads("instance stopped", [(t0, t0 + _span(t0, _at(o, "stopped"))[1])])
            f.add("ami bake (builder)", 1 + 1 + r + 1 + 1 + 1, reads=r, lookups=2)
        elif typ == "ec2:image":
            t0 = _tr(o)[0]["at"]
            f.wait("ami bake (image)", 0, "image available", [(t0, t0 + _span(t0, _at(o, "available"))[1])])
        elif typ == "eks:cluster":
            f.wait("eks cluster", 1, "cluster active", [_sp(o, "CREATING", "ACTIVE")])
        elif typ == "eks:nodegroup":
            groups.setdefault(oid.split("/")[0], []).append(_sp(o, "CREATING", "ACTIVE"))
        elif typ == "eks:addon":
            # AWS's own part: to ACTIVE, or to DEGRADED for one that then waits for nodes
            end = "DEGRADED" if _at(o, "DEGRADED") is not None else "ACTIVE"
            addons.setdefault(oid.split("/")[0], []).append(_sp(o, "CREATING", end))
        elif typ == "ec2:elastic-ip":
            f.add("elastic ip", 1)
        elif typ == "ec2:nat-gateway":
            f.wait("nat gateway", 1, "nat available", [_sp(o, "pending", "available")])
        elif typ == "ec2:vpc-endpoint":
            f.wait("vpc endpoint", 1, "vpc endpoint available",
                   [_sp(o, "pending", "available")] if _at(o, "pending") is not None else [])
    for spans in groups.values():
        f.wait("eks node groups", len(spans), "nodegroup active", spans)
    for spans in addons.values():
        f.wait("eks add-ons", len(spans), "addon active", spans)
    for pias in snap["pias"].values():
        for a in pias:
            if not a["owned_by_addon"]:
                f.add("pod identity association", 1)
    for cl, entries in snap["access"].items():
        roles = {n["role"] for n in snap["nodegroups"].values() if n["cluster"] == cl}
        for e in entries:
            p = e["principal"]
            if e["type"] != "STANDARD" or (creator_arn and p == creator_arn) or p.rsplit("/", 1)[-1] in roles:
                continue
            f.add("eks access entry", 1 + e["policies"])
    return f.result()


def floor_destroy(window, snap, timescale=None, cadence="waiter"):
    objs = {(o["type"], o["id"]): o for o in objects_in(window, "destroy")}
    f = _Floor(cadence, timescale)
    lo = window["from"]
    cluster_gone, term, groups = [], [], {}
    for (typ, oid), o in objs.items():
        if typ == "eks:nodegroup":
            groups.setdefault(oid.split("/")[0], []).append(_sp(o, "DELETING", "deleted", lo))
        elif typ == "eks:cluster":
            f.wait("eks cluster", 1, "cluster deleted", [_sp(o, "DELETING", "deleted", lo)])
            cluster_gone.append(_at(o, "deleted", lo) or 0)
        elif typ == "ec2:instance" and snap["instances"].get(oid, {}).get("eks"):
            term.append(_sp(o, "shutting-down", "terminated", lo))
        elif typ == "ec2:nat-gateway":
            f.wait("nat gateway", 1, "nat deleted", [_sp(o, "deleting", "deleted", lo)])
        elif typ == "ec2:vpc-endpoint":
            f.wait("vpc endpoint", 1, "vpc endpoint deleted", [_sp(o, "deleting", "deleted", lo)])
        elif typ == "ec2:elastic-ip":
            f.add("elastic ip", 1)
    for spans in groups.values():
        f.wait("eks node groups", len(spans), "nodegroup deleted", spans)
    # from the cluster's end, or without a cluster deleted from their own start
    gone = max(cluster_gone) if cluster_gone else min([a for a, _ in term] or [0])
    last = max([e for _, e in term] or [0])
    if term and last > gone:
        # EKS's nodes still terminating once the cluster is gone: the VPC's deletes wait for them
        f.wait("eks nodes (termination)", 0, "instance terminated", [(gone, last)])
    for k, name in (("lts", "launch template"), ("sgs", "security group"), ("subnets", "subnet"),
                    ("rtbs", "route table"), ("vpcs", "vpc")):
        for _ in snap[k]:
            f.add(name, 1)
    for g in snap["igws"].values():
        f.add("internet gateway", 1 + g["attached"])
    for r in snap["roles"].values():
        f.add("iam role", r["attached"] + r["inline"] + 1)
    for p in snap["profiles"].values():
        f.add("iam instance profile", len(p["roles"]) + 1)
    for im in snap["images"].values():
        f.add("ami", 1 + im["snapshots"])
    return f.result()


# ------------------------------------------------------------ above the floor
# The reads that watch a transition, and the calls that start one: a read
# after its transition began is a wait's read, one before it a check made
# before changing anything (an ownership proof, a free-name check).
WAIT_READS = {
    "eks:DescribeCluster": ("eks:CreateCluster", "eks:DeleteCluster"),
    "eks:DescribeNodegroup": ("eks:CreateNodegroup", "eks:DeleteNodegroup"),
    "eks:DescribeAddon": ("eks:CreateAddon", "eks:DeleteAddon"),
    "ec2:DescribeNatGateways": ("ec2:CreateNatGateway", "ec2:DeleteNatGateway"),
    "ec2:DescribeVpcEndpoints": ("ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"),
    "ec2:DescribeInstances": ("ec2:RunInstances", "ec2:TerminateInstances", "eks:DeleteNodegroup"),
    "ec2:DescribeImages": ("ec2:CreateImage",),
}
# Listings that look for what others made for the cluster (Kubernetes' load
# balancers, leftover interfaces and groups), to delete it.
SWEEPS = ("elb:", "elbv2:", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups")


def above_floor(window, floor):
    """How the calls above the floor divide: {"polls": wait reads past the floor's one per wait,
    "checks": reads of an object before its change (IAM reads, and a Describe before the call that
    starts the object's transition), "sweeps": listings of what others made, "lookups": other reads
    past the floor's, "mutations": changes past the floor's (retries)}.  They add up to calls - floor."""
    started, out = set(), {"polls": 0, "checks": 0, "sweeps": 0, "lookups": 0, "mutations": 0}
    waits = 0
    for c in window["log"]:
        if c.get("auth") == "presigned":
            continue
        op = "%s:%s" % (c["service"], c["operation"])
        # the object the call names where the log says (EKS's): a read of one
        # node group is a wait's only after that group's own change began
        what = c.get("target")
        if c["mutating"]:
            out["mutations"] += 1
            started.add(op)
            if what:
                started.add((op, what))
        elif op in WAIT_READS and (started.intersection((s, what) for s in WAIT_READS[op]) if what
                                   else started.intersection(WAIT_READS[op])):
            waits += 1
        elif op in WAIT_READS or c["service"] == "iam":
            out["checks"] += 1
        elif op.startswith(SWEEPS):
            out["sweeps"] += 1
        else:
            out["lookups"] += 1
    out["polls"] = waits - floor["reads"]
    out["lookups"] -= floor["lookups"]
    out["mutations"] -= floor["total"] - floor["reads"] - floor["lookups"]
    return out
