"""EC2: VPC networking, ENIs, launch templates, instances, images, snapshots, tags.
Elastic IPs, NAT gateways and VPC endpoints are in ec2_egress.py (a mixin).

State per (account, region) scope, one dict per resource table:
vpcs subnets igws rtbs sgs enis lts instances images snapshots eips nats
vpces, plus "idem" for ClientToken replies.  Resources are kept in the model's output
form (member names) with private "_" keys (tags as a dict, timers).  Public
EKS-optimized AL2023 AMIs are per-region and shared by all accounts.

AWS rules simulated: DependencyViolation on VPC/subnet/IGW/route-table/SG
deletes, InvalidGroup.Duplicate, RouteAlreadyExists, InvalidPermission.*,
Resource.AlreadyAssociated, IdempotentParameterMismatch, IncorrectInstanceState,
InvalidAMIName.Duplicate, InvalidSnapshot.InUse, *.NotFound with AWS's texts.
Instance and image state machines advance in tick() on the simulated clock.

Eventual consistency (sim.lag, scaled by --consistency-delay-scale): an id
made by a Create call is unknown to other calls (*.NotFound, left out of
listings) until its "_visible" time; CreateTags/DeleteTags and
Modify*Attribute take effect for readers only after a lag (queued in
meta["q"], applied by tick()).  Resources EC2 makes itself for EKS or ELB
are visible at once.
"""
import base64
import gzip
import hashlib
import ipaddress
import json
import re
from email import message_from_bytes

from .core import AwsError, apply_filters, ec2id, iso, paginate, tags_from_list, tags_to_list
from .ec2_egress import Egress
from .eks_catalog import VERSIONS as K8S_VERSIONS  # EKS-optimized AMIs exist for every EKS version
from .wire import conform

AMI_FLAVORS = [("x86_64", "standard"), ("arm64", "standard"), ("x86_64", "nvidia"), ("arm64", "nvidia"),
               ("x86_64", "neuron")]
AMI_OWNER = "602401143452"
AMI_DATE = "20250915"
# The release of the EKS AL2023 image offered per Kubernetes version (its
# "recommended" one) where it is not AMI_DATE, and the containerd each
# release carries (what `containerd --version` prints on it).  EKS's AL2023
# images moved from containerd 1.7 to 2.1 in October and November 2025:
# 1.34 shipped with 2.1, 1.32 and 1.33 moved with v20251023, 1.31 and 1.30
# in November; images from before then carry 1.7.
AMI_DATES = {"1.34": "20251120", "1.35": "20260205", "1.36": "20260610"}
CONTAINERD_1_7 = "containerd github.com/containerd/containerd v1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da"
CONTAINERD_2_1 = "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376"
CONTAINERD_2_1_AFTER = "20251023"  # the first AL2023 release on containerd 2.1 for most versions


def ami_containerd(ver, date):
    """The `containerd --version` line of the EKS AL2023 image of `ver` released on `date`."""
    return CONTAINERD_2_1 if ver == "1.34" or date >= CONTAINERD_2_1_AFTER else CONTAINERD_1_7

T_INSTANCE_PENDING = 15
T_INSTANCE_STOPPING = 20
T_INSTANCE_TERMINATING = 20
T_TERMINATED_VISIBLE = 3600
T_BAKE = 240
T_IMAGE = 300

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

PREFIX_TABLE = {"vpc": "vpcs", "subnet": "subnets", "igw": "igws", "rtb": "rtbs", "sg": "sgs", "eni": "enis",
                "lt": "lts", "i": "instances", "ami": "images", "snap": "snapshots", "eipalloc": "eips",
                "nat": "nats", "vpce": "vpces"}
RESOURCE_TYPE = {"vpcs": "vpc", "subnets": "subnet", "igws": "internet-gateway", "rtbs": "route-table",
                 "sgs": "security-group", "enis": "network-interface", "lts": "launch-template",
                 "instances": "instance", "images": "image", "snapshots": "snapshot", "eips": "elastic-ip",
                 "nats": "natgateway", "vpces": "vpc-endpoint"}
NOTFOUND = {
    "vpcs": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    "subnets": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "igws": ("InvalidInternetGatewayID.NotFound", "The internetGateway ID '{}' does not exist"),
    "rtbs": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist"),
    "sgs": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "enis": ("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '{}' does not exist"),
    "lts": ("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID {}, does not exist."),
    "instances": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "images": ("InvalidAMIID.NotFound", "The image id '[{}]' does not exist"),
    "snapshots": ("InvalidSnapshot.NotFound", "The snapshot '{}' does not exist."),
    "eips": ("InvalidAllocationID.NotFound", "The allocation ID '{}' does not exist"),
    "nats": ("NatGatewayNotFound", "The Nat Gateway {} was not found"),
    "vpces": ("InvalidVpcEndpointId.NotFound", "The VpcEndpoint Id '{}' does not exist"),
}
MALFORMED = {"vpcs": "InvalidVpcID.Malformed", "subnets": "InvalidSubnetID.Malformed",
             "igws": "InvalidInternetGatewayID.Malformed", "rtbs": "InvalidRouteTableID.Malformed",
             "sgs": "InvalidGroupId.Malformed", "enis": "InvalidNetworkInterfaceID.Malformed",
             "lts": "InvalidLaunchTemplateId.Malformed", "instances": "InvalidInstanceID.Malformed",
             "images": "InvalidAMIID.Malformed", "snapshots": "InvalidSnapshotID.Malformed",
             "eips": "InvalidAllocationID.Malformed", "nats": "NatGatewayMalformed",
             "vpces": "InvalidVpcEndpointId.Malformed"}
ID_PREFIX = {v: k for k, v in PREFIX_TABLE.items()}

ARM_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)\.")


def zones(region):
    letters = "abcdef" if region == "us-east-1" else "abc"
    short = re.sub(r"^(\w\w)-(\w)\w*-(\d+)$", r"\1\2\3", region)
    return [(region + c, f"{short}-az{i}") for i, c in enumerate(letters, 1)]


def instance_arch(itype):
    return "arm64" if ARM_FAMILY.match(itype or "") else "x86_64"


def _dependency(kind, rid):
    return AwsError("DependencyViolation", f"The {kind} '{rid}' has dependencies and cannot be deleted.", 400)


def _b64decode_user_data(s):
    try:
        raw = base64.b64decode(s, validate=True)
    except Exception:
        raise AwsError("InvalidUserData.Malformed", "Invalid BASE64 encoding of user data.", 400)
    return raw


def user_data_text(raw):
    """Plain text of user data (un-gzip; MIME parts joined)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except OSError:
            return ""
    text = raw.decode("utf-8", "replace")
    if text.lstrip().startswith("MIME-Version") or "Content-Type: multipart" in text[:400]:
        msg = message_from_bytes(raw)
        parts = [p.get_payload(decode=True) or b"" for p in msg.walk() if not p.is_multipart()]
        return "\n".join(x.decode("utf-8", "replace") for x in parts)
    return text


def bake_key(script):
    """The key a bake script would print after SECFAAS-BAKE-OK, or None.

    Emulates just enough of the shell: the marker must be on a command line
    (comments do not print), and a variable is resolved through plain
    assignments, ${VAR:-default} and the `: "${VAR:=value}"` default idiom,
    the way the bake script sets its parameters."""
    lines = [l for l in script.splitlines() if not l.lstrip().startswith("#")]
    body = "\n".join(lines)
    m = re.search(r"SECFAAS-BAKE-OK[ \t]+([^\s\"'`;|&)]+)", body)
    if not m:
        return None
    return _shell_value(m.group(1), body, 0)


def _shell_value(tok, body, depth):
    if depth > 8:
        return None
    vm = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}?", tok)
    if not vm:
        return tok
    var, default = vm.group(1), vm.group(2)
    val = None
    for am in re.finditer(rf"(?m)^\s*(?:export\s+|readonly\s+|local\s+)?{var}=(\"([^\"]*)\"|'([^']*)'|(\S*))", body):
        val = am.group(2) if am.group(2) is not None else am.group(3) if am.group(3) is not None else am.group(4)
    for dm in re.finditer(rf"(?m)^\s*:\s+\"?\$\{{{var}:=([^}}]*)\}}\"?", body):
        if val is None or val == "":
            val = dm.group(1)
    if val is not None and val.startswith("$"):
        val = _shell_value(val, body, depth + 1)
    if not val:
        return default
    return val


class EC2(Egress):
    def __init__(self, sim):
        self.sim = sim
        self._public = {}

    _zones = staticmethod(zones)

    # ============================================================ helpers
    def public_images(self, region):
        if region not in self._public:
            imgs = {}
            for ver in K8S_VERSIONS:
                for arch, flavor in AMI_FLAVORS:
                    h = hashlib.sha256(f"{region}/{ver}/{arch}/{flavor}".encode()).hexdigest()
                    ami = "ami-0" + h[:16]
                    date = AMI_DATES.get(ver, AMI_DATE)
                    name = f"amazon-eks-node-al2023-{arch}-{flavor}-{ver}-v{date}"
                    imgs[ami] = {
                        "ImageId": ami, "Name": name, "Description": f"EKS-optimized Kubernetes node based on "
                        f"Amazon Linux 2023, ({flavor}) k8s: {ver}", "State": "available", "OwnerId": AMI_OWNER,
                        "ImageOwnerAlias": "amazon", "Public": True, "Architecture": arch,
                        "CreationDate": f"{date[:4]}-{date[4:6]}-{date[6:]}T00:00:00.000Z", "ImageType": "machine",
                        "ImageLocation": f"amazon/{name}", "PlatformDetails": "Linux/UNIX",
                        "UsageOperation": "RunInstances", "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
                        "VirtualizationType": "hvm", "Hypervisor": "xen", "EnaSupport": True,
                        "SriovNetSupport": "simple", "BootMode": "uefi-preferred",
                        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                            "SnapshotId": "snap-0" + h[16:32], "VolumeSize": 20, "VolumeType": "gp3",
                            "DeleteOnTermination": True, "Encrypted": False}}],
                        "_tags": {}, "_k8s": ver, "_release": f"{ver}.0-{date}", "_flavor": flavor,
                        "_containerd": ami_containerd(ver, date)}
            self._public[region] = imgs
        return self._public[region]

    def find_image(self, ctx, ami):
        st = ctx.state()
        img = st["images"].get(ami) or self.public_images(ctx.region).get(ami)
        return img

    def _out(self, r):
        o = {k: v for k, v in r.items() if not k.startswith("_")}
        if r.get("_tags"):
            o["Tags"] = tags_to_list(r["_tags"])
        return o

    def _is_visible(self, r, now=None):
        v = r.get("_visible")
        return v is None or v <= (self.sim.clock.now() if now is None else now)

    def _born(self, ctx, *resources):
        """A resource made by an API call: other calls see its id only after the EC2 id lag."""
        lag = self.sim.lag("ec2.id")
        for r in resources:
            if lag > 0:
                r["_visible"] = ctx.now + lag
        return resources[0] if resources else None

    def lookup(self, st, table, rid):
        """For other services (EKS): the resource if this caller can see it yet, else None."""
        r = st[table].get(rid)
        return r if r is not None and self._is_visible(r) else None

    def _eventually(self, ctx, kind, key, fn):
        """Apply fn now, or once the consistency lag of `kind` has passed (in order per key)."""
        lag = self.sim.lag(kind)
        if lag <= 0:
            fn()
            return
        meta = ctx.state()["meta"]
        q = meta.setdefault("q", [])
        last = meta.setdefault("qlast", {})
        due = max(ctx.now + lag, last.get(key, 0.0))
        last[key] = due
        q.append((due, len(q), fn))

    def _apply_due(self, st, now):
        q = st.get("meta", {}).get("q")
        if not q:
            return
        due = sorted(x for x in q if x[0] <= now)
        if not due:
            return
        st["meta"]["q"] = [x for x in q if x[0] > now]
        for _, _, fn in due:
            fn()

    def _visible_items(self, st, table, now):
        items = [r for r in st[table].values() if self._is_visible(r, now)]
        return sorted(items, key=lambda r: r.get("_created", 0))

    def _get(self, st, table, rid):
        r = st[table].get(rid)
        if r is None or not self._is_visible(r):
            if not re.fullmatch(rf"{ID_PREFIX[table]}-[0-9a-f]{{8,17}}", rid or ""):
                raise AwsError(MALFORMED[table], f"Invalid id: \"{rid}\"", 400)
            code, msg = NOTFOUND[table]
            raise AwsError(code, msg.format(rid), 400)
        return r

    def _tagspec(self, p, rtype):
        tags = {}
        for spec in p.get("TagSpecifications") or []:
            if spec.get("ResourceType") == rtype:
                tags.update(tags_from_list(spec.get("Tags")))
        return tags

    def _check_tagspecs(self, p, allowed):
        for spec in p.get("TagSpecifications") or []:
            if spec.get("ResourceType") not in allowed:
                raise AwsError("InvalidParameterValue", f"'{spec.get('ResourceType')}' is not a valid taggable "
                               "resource type for this operation.", 400)

    def _describe(self, ctx, table, ids, filters, getters, p, key, id_key, limit_min=5, public=None):
        st = ctx.state()
        pool = {k: v for k, v in st[table].items() if self._is_visible(v, ctx.now)}
        if public:
            pool.update(public)
        if ids:
            missing = [i for i in ids if i not in pool]
            if missing:
                for i in missing:
                    if not re.fullmatch(rf"{ID_PREFIX[table]}-[0-9a-f]{{8,17}}", i):
                        raise AwsError(MALFORMED[table], f"Invalid id: \"{i}\"", 400)
                code, msg = NOTFOUND[table]
                if len(missing) > 1 and table == "instances":
                    raise AwsError(code, "The instance IDs '" + ", ".join(missing) + "' do not exist", 400)
                raise AwsError(code, msg.format(missing[0]), 400)
            items = [pool[i] for i in ids]
        else:
            items = sorted(pool.values(), key=lambda r: (r.get("_created", 0), r[id_key]))
        items = apply_filters(items, filters, getters, table)
        mr = p.get("MaxResults")
        if mr is not None:
            if ids:
                raise AwsError("InvalidParameterCombination", "The parameter MaxResults cannot be used with "
                               "the parameter " + id_key + "s", 400)
            if mr < limit_min or mr > 1000:
                raise AwsError("InvalidParameterValue", f"Value ( {mr} ) for parameter maxResults is invalid. "
                               f"Expecting a value between {limit_min} and 1000.", 400)
        page, nxt = paginate(items, p.get("NextToken"), mr)
        out = {key: [self._out(r) for r in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def _idem(self, ctx, op, p, fn):
        token = p.get("ClientToken")
        if not token:
            return fn()
        st = ctx.state()
        sig = hashlib.sha256(json.dumps({k: v for k, v in p.items() if k not in ("ClientToken", "DryRun")},
                                        sort_keys=True, default=str).encode()).hexdigest()
        prev = st["idem"].get((op, token))
        if prev is not None:
            if prev[0] != sig:
                raise AwsError("IdempotentParameterMismatch", "Arguments on this idempotent request are "
                               "inconsistent with arguments used in previous request(s).", 400)
            return prev[1]() if callable(prev[1]) else prev[1]
        res = fn()
        st["idem"][(op, token)] = (sig, res)
        return res() if callable(res) else res

    def _dry(self, p):
        if p.get("DryRun"):
            raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)

    def _find_any(self, st, rid):
        prefix = rid.split("-", 1)[0]
        table = PREFIX_TABLE.get(prefix)
        if table is None:
            raise AwsError("InvalidID", f"The ID '{rid}' is not valid", 400)
        return self._get(st, table, rid)

    # ========================================================= regions/AZs
    def DescribeAvailabilityZones(self, ctx, p):
        out = [{"ZoneName": n, "ZoneId": zid, "State": "available", "RegionName": ctx.region,
                "ZoneType": "availability-zone", "OptInStatus": "opt-in-not-required", "GroupName": ctx.region,
                "NetworkBorderGroup": ctx.region, "Messages": []} for n, zid in zones(ctx.region)]
        for fld, vals in (("ZoneName", p.get("ZoneNames")), ("ZoneId", p.get("ZoneIds"))):
            if vals:
                bad = [v for v in vals if v not in {z[fld] for z in out}]
                if bad:
                    raise AwsError("InvalidParameterValue", f"The zone '{bad[0]}' does not exist.", 400)
                out = [z for z in out if z[fld] in vals]
        getters = {"zone-name": lambda z: [z["ZoneName"]], "zone-id": lambda z: [z["ZoneId"]],
                   "state": lambda z: [z["State"]], "region-name": lambda z: [z["RegionName"]],
                   "zone-type": lambda z: [z["ZoneType"]], "opt-in-status": lambda z: [z["OptInStatus"]],
                   "group-name": lambda z: [z["GroupName"]]}
        return {"AvailabilityZones": apply_filters(out, p.get("Filters"), getters, "az")}

    def DescribeRegions(self, ctx, p):
        regions = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
        return {"Regions": [{"RegionName": r, "Endpoint": f"ec2.{r}.amazonaws.com", "OptInStatus":
                             "opt-in-not-required"} for r in regions if not p.get("RegionNames") or r in p["RegionNames"]]}

    # ================================================================ tags
    def CreateTags(self, ctx, p):
        st = ctx.state()
        targets = [self._find_any(st, rid) for rid in p["Resources"]]
        new = tags_from_list(p["Tags"])
        for r in targets:
            if len(set(r.get("_tags", {})) | set(new)) > 50:
                raise AwsError("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.", 400)
        for rid, r in zip(p["Resources"], targets):
            self._eventually(ctx, "ec2.tags", "tags:" + rid, lambda r=r: r.setdefault("_tags", {}).update(new))
        return {}

    def DeleteTags(self, ctx, p):
        st = ctx.state()
        gone = list(p.get("Tags") or [])

        def drop(r):
            tags = r.setdefault("_tags", {})
            for t in gone:
                if t["Key"] in tags and ("Value" not in t or tags[t["Key"]] == t["Value"]):
                    del tags[t["Key"]]
            if not gone:
                tags.clear()
        for rid in p["Resources"]:
            r = self._find_any(st, rid)
            self._eventually(ctx, "ec2.tags", "tags:" + rid, lambda r=r: drop(r))
        return {}

    def DescribeTags(self, ctx, p):
        st = ctx.state()
        rows = []
        for table, rtype in RESOURCE_TYPE.items():
            for rid, r in st[table].items():
                if not self._is_visible(r, ctx.now):
                    continue
                for k, v in r.get("_tags", {}).items():
                    rows.append({"ResourceId": rid, "ResourceType": rtype, "Key": k, "Value": v, "_tags": {}})
        getters = {"resource-id": lambda t: [t["ResourceId"]], "resource-type": lambda t: [t["ResourceType"]],
                   "key": lambda t: [t["Key"]], "value": lambda t: [t["Value"]]}
        rows = apply_filters(rows, p.get("Filters"), getters, "tags")
        page, nxt = paginate(rows, p.get("NextToken"), p.get("MaxResults"))
        out = {"Tags": [{k: v for k, v in t.items() if not k.startswith("_")} for t in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    # ================================================================ VPCs
    def _cidr(self, s, param="cidrBlock"):
        try:
            return ipaddress.ip_network(s, strict=False)
        except ValueError:
            raise AwsError("InvalidParameterValue", f"Value ({s}) for parameter {param} is invalid. "
                           "This is not a valid CIDR block.", 400)

    def CreateVpc(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"vpc"})
        if not p.get("CidrBlock") and not p.get("Ipv4IpamPoolId"):
            raise AwsError("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.", 400)
        net = self._cidr(p["CidrBlock"])
        if net.version != 4 or not 16 <= net.prefixlen <= 28:
            raise AwsError("InvalidVpc.Range", f"The CIDR '{p['CidrBlock']}' is invalid.", 400)
        st = ctx.state()
        vid = ec2id("vpc")
        vpc = {"VpcId": vid, "CidrBlock": str(net), "State": "available", "DhcpOptionsId": "dopt-0a1b2c3d",
               "InstanceTenancy": p.get("InstanceTenancy", "default"), "IsDefault": False, "OwnerId": ctx.account,
               "CidrBlockAssociationSet": [{"AssociationId": ec2id("vpc-cidr-assoc"), "CidrBlock": str(net),
                                            "CidrBlockState": {"State": "associated"}}],
               "_tags": self._tagspec(p, "vpc"), "_created": ctx.now, "_dns": {"EnableDnsSupport": True,
                                                                               "EnableDnsHostnames": False}}
        st["vpcs"][vid] = vpc
        self.sim.record(ctx.account, ctx.region, "ec2:vpc", vid, "available")
        rtb = self._new_rtb(ctx, vid, {})
        assoc = ec2id("rtbassoc")
        rtb["Associations"].append({"Main": True, "RouteTableAssociationId": assoc, "RouteTableId": rtb["RouteTableId"],
                                    "AssociationState": {"State": "associated"}})
        rtb["_main"] = True
        sg = self._new_sg(ctx, vid, "default", "default VPC security group", {})
        sg["_default"] = True
        sg["_rules"].append(self._rule(sg, False, "-1", None, None, {"group": sg["GroupId"]}))
        self._born(ctx, vpc, rtb, sg)
        return {"Vpc": self._out(vpc)}

    def _vpc_getters(self):
        assoc = lambda v: v["CidrBlockAssociationSet"]  # noqa: E731
        return {"vpc-id": lambda v: [v["VpcId"]], "cidr": lambda v: [v["CidrBlock"]],
                # not in the DescribeVpcs documentation, but EC2 accepts it (Ansible's ec2_vpc_net sends it)
                "cidr-block": lambda v: [v["CidrBlock"]],
                "cidr-block-association.cidr-block": lambda v: [a["CidrBlock"] for a in assoc(v)],
                "cidr-block-association.association-id": lambda v: [a["AssociationId"] for a in assoc(v)],
                "cidr-block-association.state": lambda v: [a["CidrBlockState"]["State"] for a in assoc(v)],
                "ipv6-cidr-block-association.ipv6-cidr-block": lambda v: [],
                "ipv6-cidr-block-association.association-id": lambda v: [],
                "ipv6-cidr-block-association.state": lambda v: [],
                "ipv6-cidr-block-association.ipv6-pool": lambda v: [],
                "state": lambda v: [v["State"]], "is-default": lambda v: [str(v["IsDefault"]).lower()],
                "owner-id": lambda v: [v["OwnerId"]], "dhcp-options-id": lambda v: [v["DhcpOptionsId"]]}

    def _classic_link(self, ctx, p):
        # EC2-Classic is retired: EC2 answers the ClassicLink calls this way in every region.
        raise AwsError("UnsupportedOperation", "The functionality you requested is not available in this region.",
                       400)

    def DescribeVpcClassicLink(self, ctx, p):
        self._dry(p)
        return self._classic_link(ctx, p)

    def DescribeVpcClassicLinkDnsSupport(self, ctx, p):
        return self._classic_link(ctx, p)

    def DescribeVpcs(self, ctx, p):
        return self._describe(ctx, "vpcs", p.get("VpcIds"), p.get("Filters"), self._vpc_getters(), p, "Vpcs", "VpcId")

    def ModifyVpcAttribute(self, ctx, p):
        vpc = self._get(ctx.state(), "vpcs", p["VpcId"])
        keys = [k for k in ("EnableDnsSupport", "EnableDnsHostnames") if k in p]
        if len(keys) > 1:
            raise AwsError("InvalidParameterCombination", "Fields for multiple attribute types specified: "
                           "enableDnsSupport, enableDnsHostnames", 400)
        if not keys:
            return {}
        k = keys[0]
        val = p[k].get("Value", False)
        self._eventually(ctx, "ec2.attribute", f"attr:{vpc['VpcId']}:{k}", lambda: vpc["_dns"].__setitem__(k, val))
        return {}

    def DescribeVpcAttribute(self, ctx, p):
        vpc = self._get(ctx.state(), "vpcs", p["VpcId"])
        attr = p["Attribute"]
        key = {"enableDnsSupport": "EnableDnsSupport", "enableDnsHostnames": "EnableDnsHostnames"}.get(attr)
        if key is None:
            raise AwsError("InvalidParameterValue", f"Value ({attr}) for parameter attribute is invalid.", 400)
        return {"VpcId": vpc["VpcId"], key: {"Value": vpc["_dns"][key]}}

    def DeleteVpc(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        vid = p["VpcId"]
        self._get(st, "vpcs", vid)
        deps = (any(s["VpcId"] == vid for s in st["subnets"].values())
                or any(a["VpcId"] == vid for g in st["igws"].values() for a in g["Attachments"])
                or any(r["VpcId"] == vid and not r.get("_main") for r in st["rtbs"].values())
                or any(g["VpcId"] == vid and not g.get("_default") for g in st["sgs"].values())
                or any(e["VpcId"] == vid for e in st["enis"].values())
                or any(n["VpcId"] == vid and n["State"] not in ("deleted", "failed") for n in st["nats"].values())
                or any(e["VpcId"] == vid for e in st["vpces"].values()))
        if deps:
            raise _dependency("vpc", vid)
        for t in ("rtbs", "sgs"):
            for rid in [k for k, r in st[t].items() if r["VpcId"] == vid]:
                del st[t][rid]
                self.sim.record(ctx.account, ctx.region, "ec2:" + RESOURCE_TYPE[t], rid, "deleted")
        del st["vpcs"][vid]
        self.sim.record(ctx.account, ctx.region, "ec2:vpc", vid, "deleted")
        return {}

    # ============================================================= subnets
    def CreateSubnet(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"subnet"})
        st = ctx.state()
        if not p.get("CidrBlock"):
            raise AwsError("MissingParameter", "The request must contain the parameter CidrBlock", 400)
        vpc = self._get(st, "vpcs", p["VpcId"])
        net = self._cidr(p["CidrBlock"])
        vnet = ipaddress.ip_network(vpc["CidrBlock"])
        if net.version != 4 or not net.subnet_of(vnet) or not 16 <= net.prefixlen <= 28:
            raise AwsError("InvalidSubnet.Range", f"The CIDR '{p['CidrBlock']}' is invalid.", 400)
        for s in st["subnets"].values():
            if s["VpcId"] == vpc["VpcId"] and ipaddress.ip_network(s["CidrBlock"]).overlaps(net):
                raise AwsError("InvalidSubnet.Conflict", f"The CIDR '{p['CidrBlock']}' conflicts with another subnet", 400)
        zs = zones(ctx.region)
        if p.get("AvailabilityZone"):
            z = [x for x in zs if x[0] == p["AvailabilityZone"]]
        elif p.get("AvailabilityZoneId"):
            z = [x for x in zs if x[1] == p["AvailabilityZoneId"]]
        else:
            z = zs[:1]
        if not z:
            raise AwsError("InvalidParameterValue", f"Value ({p.get('AvailabilityZone') or p.get('AvailabilityZoneId')}) "
                           "for parameter availabilityZone is invalid. Subnets can currently only be created in the "
                           "following availability zones: " + ", ".join(x[0] for x in zs) + ".", 400)
        sid = ec2id("subnet")
        sub = {"SubnetId": sid, "VpcId": vpc["VpcId"], "CidrBlock": str(net), "AvailabilityZone": z[0][0],
               "AvailabilityZoneId": z[0][1], "AvailableIpAddressCount": net.num_addresses - 5, "State": "available",
               "MapPublicIpOnLaunch": False, "DefaultForAz": False, "OwnerId": ctx.account,
               "SubnetArn": f"arn:{ctx.partition}:ec2:{ctx.region}:{ctx.account}:subnet/{sid}",
               "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
               "MapCustomerOwnedIpOnLaunch": False, "EnableDns64": False, "Ipv6Native": False,
               "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                                 "EnableResourceNameDnsAAAARecord": False},
               "_tags": self._tagspec(p, "subnet"), "_created": ctx.now, "_next_ip": 4}
        st["subnets"][sid] = sub
        self._born(ctx, sub)
        self.sim.record(ctx.account, ctx.region, "ec2:subnet", sid, "available")
        return {"Subnet": self._out(sub)}

    def _subnet_getters(self):
        return {"subnet-id": lambda s: [s["SubnetId"]], "vpc-id": lambda s: [s["VpcId"]],
                "cidr-block": lambda s: [s["CidrBlock"]], "cidr": lambda s: [s["CidrBlock"]],
                "availability-zone": lambda s: [s["AvailabilityZone"]],
                "availability-zone-id": lambda s: [s["AvailabilityZoneId"]], "state": lambda s: [s["State"]],
                "default-for-az": lambda s: [str(s["DefaultForAz"]).lower()],
                "map-public-ip-on-launch": lambda s: [str(s["MapPublicIpOnLaunch"]).lower()],
                "owner-id": lambda s: [s["OwnerId"]], "subnet-arn": lambda s: [s["SubnetArn"]]}

    def DescribeSubnets(self, ctx, p):
        return self._describe(ctx, "subnets", p.get("SubnetIds"), p.get("Filters"), self._subnet_getters(), p,
                              "Subnets", "SubnetId")

    def ModifySubnetAttribute(self, ctx, p):
        sub = self._get(ctx.state(), "subnets", p["SubnetId"])
        if "MapPublicIpOnLaunch" in p:
            val = p["MapPublicIpOnLaunch"].get("Value", False)
            self._eventually(ctx, "ec2.attribute", f"attr:{sub['SubnetId']}:MapPublicIpOnLaunch",
                             lambda: sub.__setitem__("MapPublicIpOnLaunch", val))
        return {}

    def DeleteSubnet(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        sid = p["SubnetId"]
        self._get(st, "subnets", sid)
        if any(e["SubnetId"] == sid for e in st["enis"].values()) or any(
                i["SubnetId"] == sid and i["State"]["Name"] != "terminated" for i in st["instances"].values()) or any(
                n["SubnetId"] == sid and n["State"] not in ("deleted", "failed") for n in st["nats"].values()):
            raise _dependency("subnet", sid)
        for rtb in st["rtbs"].values():
            rtb["Associations"] = [a for a in rtb["Associations"] if a.get("SubnetId") != sid]
        del st["subnets"][sid]
        self.sim.record(ctx.account, ctx.region, "ec2:subnet", sid, "deleted")
        return {}

    def alloc_ip(self, sub):
        net = ipaddress.ip_network(sub["CidrBlock"])
        n = sub["_next_ip"]
        if n >= net.num_addresses - 1 or sub["AvailableIpAddressCount"] <= 0:
            raise AwsError("InsufficientFreeAddressesInSubnet", f"The specified subnet {sub['SubnetId']} does not "
                           "have enough free addresses to satisfy the request.", 400)
        sub["_next_ip"] = n + 1
        sub["AvailableIpAddressCount"] -= 1
        return str(net.network_address + n)

    # ================================================== internet gateways
    def CreateInternetGateway(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"internet-gateway"})
        gid = ec2id("igw")
        igw = {"InternetGatewayId": gid, "Attachments": [], "OwnerId": ctx.account,
               "_tags": self._tagspec(p, "internet-gateway"), "_created": ctx.now}
        ctx.state()["igws"][gid] = igw
        self._born(ctx, igw)
        self.sim.record(ctx.account, ctx.region, "ec2:internet-gateway", gid, "detached")
        return {"InternetGateway": self._out(igw)}

    def DescribeInternetGateways(self, ctx, p):
        getters = {"internet-gateway-id": lambda g: [g["InternetGatewayId"]],
                   "attachment.vpc-id": lambda g: [a["VpcId"] for a in g["Attachments"]],
                   "attachment.state": lambda g: [a["State"] for a in g["Attachments"]],
                   "owner-id": lambda g: [g["OwnerId"]]}
        return self._describe(ctx, "igws", p.get("InternetGatewayIds"), p.get("Filters"), getters, p,
                              "InternetGateways", "InternetGatewayId")

    def AttachInternetGateway(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        igw = self._get(st, "igws", p["InternetGatewayId"])
        vpc = self._get(st, "vpcs", p["VpcId"])
        if igw["Attachments"]:
            raise AwsError("Resource.AlreadyAssociated", f"resource {igw['InternetGatewayId']} is already attached "
                           f"to network {igw['Attachments'][0]['VpcId']}", 400)
        for g in st["igws"].values():
            if any(a["VpcId"] == vpc["VpcId"] for a in g["Attachments"]):
                raise AwsError("InvalidParameterValue", f"Network {vpc['VpcId']} already has an internet gateway "
                               "attached", 400)
        igw["Attachments"] = [{"VpcId": vpc["VpcId"], "State": "available"}]
        self._refresh_blackholes(st)
        self.sim.record(ctx.account, ctx.region, "ec2:internet-gateway", igw["InternetGatewayId"], "attached")
        return {}

    def DetachInternetGateway(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        igw = self._get(st, "igws", p["InternetGatewayId"])
        if not any(a["VpcId"] == p["VpcId"] for a in igw["Attachments"]):
            raise AwsError("Gateway.NotAttached", f"resource {igw['InternetGatewayId']} is not attached to "
                           f"network {p['VpcId']}", 400)
        if any(e["VpcId"] == p["VpcId"] and e.get("Association") for e in st["enis"].values()):
            raise AwsError("DependencyViolation", f"Network {p['VpcId']} has some mapped public address(es). "
                           "Please unmap those public address(es) before detaching the gateway.", 400)
        igw["Attachments"] = []
        self._refresh_blackholes(st)
        self.sim.record(ctx.account, ctx.region, "ec2:internet-gateway", igw["InternetGatewayId"], "detached")
        return {}

    def DeleteInternetGateway(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        igw = self._get(st, "igws", p["InternetGatewayId"])
        if igw["Attachments"]:
            raise _dependency("internetGateway", igw["InternetGatewayId"])
        del st["igws"][igw["InternetGatewayId"]]
        self._refresh_blackholes(st)
        self.sim.record(ctx.account, ctx.region, "ec2:internet-gateway", igw["InternetGatewayId"], "deleted")
        return {}

    # ======================================================== route tables
    def _new_rtb(self, ctx, vpc_id, tags):
        st = ctx.state()
        vpc = st["vpcs"][vpc_id]
        rid = ec2id("rtb")
        rtb = {"RouteTableId": rid, "VpcId": vpc_id, "OwnerId": ctx.account, "Associations": [],
               "PropagatingVgws": [], "Routes": [{"DestinationCidrBlock": vpc["CidrBlock"], "GatewayId": "local",
                                                  "Origin": "CreateRouteTable", "State": "active"}],
               "_tags": tags, "_created": ctx.now}
        st["rtbs"][rid] = rtb
        self.sim.record(ctx.account, ctx.region, "ec2:route-table", rid, "available")
        return rtb

    def CreateRouteTable(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"route-table"})
        st = ctx.state()
        self._get(st, "vpcs", p["VpcId"])

        def make():
            rtb = self._born(ctx, self._new_rtb(ctx, p["VpcId"], self._tagspec(p, "route-table")))
            return {"RouteTable": self._out(rtb)}
        return self._idem(ctx, "CreateRouteTable", p, make)

    def _rtb_getters(self):
        return {"route-table-id": lambda r: [r["RouteTableId"]], "vpc-id": lambda r: [r["VpcId"]],
                "association.main": lambda r: [str(bool(r.get("_main"))).lower()],
                "association.subnet-id": lambda r: [a["SubnetId"] for a in r["Associations"] if "SubnetId" in a],
                "association.route-table-association-id": lambda r: [a["RouteTableAssociationId"]
                                                                    for a in r["Associations"]],
                "association.route-table-id": lambda r: [r["RouteTableId"]] if r["Associations"] else [],
                "route.gateway-id": lambda r: [x.get("GatewayId", "") for x in r["Routes"]],
                "route.destination-cidr-block": lambda r: [x.get("DestinationCidrBlock", "") for x in r["Routes"]],
                "route.nat-gateway-id": lambda r: [x.get("NatGatewayId", "") for x in r["Routes"]],
                "route.state": lambda r: [x["State"] for x in r["Routes"]],
                "owner-id": lambda r: [r["OwnerId"]]}

    def DescribeRouteTables(self, ctx, p):
        return self._describe(ctx, "rtbs", p.get("RouteTableIds"), p.get("Filters"), self._rtb_getters(), p,
                              "RouteTables", "RouteTableId")

    def _refresh_blackholes(self, st):
        for rtb in st["rtbs"].values():
            for r in rtb["Routes"]:
                gid = r.get("GatewayId", "")
                if gid.startswith("igw-"):
                    g = st["igws"].get(gid)
                    ok = g is not None and any(a["VpcId"] == rtb["VpcId"] for a in g["Attachments"])
                    r["State"] = "active" if ok else "blackhole"
                elif r.get("NatGatewayId"):
                    n = st["nats"].get(r["NatGatewayId"])
                    r["State"] = "active" if n is not None and n["State"] in ("pending", "available") else "blackhole"

    def _route_target(self, st, rtb, p):
        targets = [k for k in ("GatewayId", "NatGatewayId", "NetworkInterfaceId", "InstanceId",
                               "VpcPeeringConnectionId", "TransitGatewayId", "EgressOnlyInternetGatewayId")
                   if p.get(k)]
        if len(targets) != 1:
            raise AwsError("InvalidParameterCombination" if targets else "MissingParameter",
                           "The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, "
                           "instanceId, vpcPeeringConnectionId, transitGatewayId, egressOnlyInternetGatewayId", 400)
        k = targets[0]
        v = p[k]
        if k == "GatewayId" and v.startswith("igw-"):
            g = self._get(st, "igws", v)
            if not any(a["VpcId"] == rtb["VpcId"] for a in g["Attachments"]):
                raise AwsError("InvalidParameterValue", f"route table {rtb['RouteTableId']} and network gateway "
                               f"{v} belong to different networks", 400)
        elif k == "NatGatewayId":
            n = st["nats"].get(v)
            if n is None or n["State"] in ("deleted", "failed") or not self._is_visible(n, self.sim.clock.now()):
                raise AwsError("InvalidNatGatewayID.NotFound", f"The natGateway ID '{v}' does not exist", 400)
            if n["VpcId"] != rtb["VpcId"]:
                raise AwsError("InvalidParameterValue", f"route table {rtb['RouteTableId']} and network gateway "
                               f"{v} belong to different networks", 400)
        elif k == "NetworkInterfaceId":
            self._get(st, "enis", v)
        elif k == "InstanceId":
            self._get(st, "instances", v)
        return k, v

    def CreateRoute(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        rtb = self._get(st, "rtbs", p["RouteTableId"])
        dest = p.get("DestinationCidrBlock") or p.get("DestinationIpv6CidrBlock")
        if not dest:
            raise AwsError("MissingParameter", "The request must contain the parameter destinationCidrBlock", 400)
        self._cidr(dest, "destinationCidrBlock")
        if any(r.get("DestinationCidrBlock") == dest or r.get("DestinationIpv6CidrBlock") == dest for r in rtb["Routes"]):
            raise AwsError("RouteAlreadyExists", f"The route identified by {dest} already exists.", 400)
        k, v = self._route_target(st, rtb, p)
        dkey = "DestinationCidrBlock" if p.get("DestinationCidrBlock") else "DestinationIpv6CidrBlock"
        rtb["Routes"].append({dkey: dest, k: v, "Origin": "CreateRoute", "State": "active"})
        return {"Return": True}

    def ReplaceRoute(self, ctx, p):
        st = ctx.state()
        rtb = self._get(st, "rtbs", p["RouteTableId"])
        dest = p.get("DestinationCidrBlock") or p.get("DestinationIpv6CidrBlock")
        for i, r in enumerate(rtb["Routes"]):
            if dest in (r.get("DestinationCidrBlock"), r.get("DestinationIpv6CidrBlock")) and r.get("GatewayId") != "local":
                k, v = self._route_target(st, rtb, p)
                dkey = "DestinationCidrBlock" if p.get("DestinationCidrBlock") else "DestinationIpv6CidrBlock"
                rtb["Routes"][i] = {dkey: dest, k: v, "Origin": "CreateRoute", "State": "active"}
                return {}
        raise AwsError("InvalidRoute.NotFound", f"no route with destination-cidr-block {dest} in route table "
                       f"{rtb['RouteTableId']}", 400)

    def DeleteRoute(self, ctx, p):
        self._dry(p)
        rtb = self._get(ctx.state(), "rtbs", p["RouteTableId"])
        dest = p.get("DestinationCidrBlock") or p.get("DestinationIpv6CidrBlock")
        for r in rtb["Routes"]:
            if dest in (r.get("DestinationCidrBlock"), r.get("DestinationIpv6CidrBlock")):
                if r.get("GatewayId") == "local":
                    raise AwsError("InvalidParameterValue", f"cannot remove local route {dest} in route table "
                                   f"{rtb['RouteTableId']}", 400)
                rtb["Routes"].remove(r)
                return {}
        raise AwsError("InvalidRoute.NotFound", f"no route with destination-cidr-block {dest} in route table "
                       f"{rtb['RouteTableId']}", 400)

    def AssociateRouteTable(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        rtb = self._get(st, "rtbs", p["RouteTableId"])
        if not p.get("SubnetId"):
            raise AwsError("MissingParameter", "The request must contain the parameter subnetId", 400)
        sub = self._get(st, "subnets", p["SubnetId"])
        if sub["VpcId"] != rtb["VpcId"]:
            raise AwsError("InvalidParameterValue", f"Route table {rtb['RouteTableId']} and subnet "
                           f"{sub['SubnetId']} belong to different networks", 400)
        for other in st["rtbs"].values():
            for a in other["Associations"]:
                if a.get("SubnetId") == sub["SubnetId"]:
                    raise AwsError("Resource.AlreadyAssociated", f"the specified association for route table "
                                   f"{rtb['RouteTableId']} conflicts with an existing association", 400)
        aid = ec2id("rtbassoc")
        rtb["Associations"].append({"Main": False, "RouteTableAssociationId": aid, "RouteTableId": rtb["RouteTableId"],
                                    "SubnetId": sub["SubnetId"], "AssociationState": {"State": "associated"}})
        return {"AssociationId": aid, "AssociationState": {"State": "associated"}}

    def DisassociateRouteTable(self, ctx, p):
        self._dry(p)
        for rtb in ctx.state()["rtbs"].values():
            for a in rtb["Associations"]:
                if a["RouteTableAssociationId"] == p["AssociationId"]:
                    if a["Main"]:
                        raise AwsError("InvalidParameterValue", "cannot disassociate the main route table "
                                       "association " + p["AssociationId"], 400)
                    rtb["Associations"].remove(a)
                    return {}
        raise AwsError("InvalidAssociationID.NotFound", f"The association ID '{p['AssociationId']}' does not exist", 400)

    def DeleteRouteTable(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        rtb = self._get(st, "rtbs", p["RouteTableId"])
        if rtb.get("_main") or rtb["Associations"]:
            raise _dependency("routeTable", rtb["RouteTableId"])
        for e in st["vpces"].values():
            if rtb["RouteTableId"] in e["RouteTableIds"]:
                e["RouteTableIds"].remove(rtb["RouteTableId"])
        del st["rtbs"][rtb["RouteTableId"]]
        self.sim.record(ctx.account, ctx.region, "ec2:route-table", rtb["RouteTableId"], "deleted")
        return {}

    # ===================================================== security groups
    def _new_sg(self, ctx, vpc_id, name, desc, tags):
        gid = ec2id("sg")
        sg = {"GroupId": gid, "GroupName": name, "Description": desc, "VpcId": vpc_id, "OwnerId": ctx.account,
              "_tags": tags, "_rules": [], "_created": ctx.now}
        sg["_rules"].append(self._rule(sg, True, "-1", None, None, {"cidr": "0.0.0.0/0"}))
        ctx.state()["sgs"][gid] = sg
        self.sim.record(ctx.account, ctx.region, "ec2:security-group", gid, "available")
        return sg

    def _rule(self, sg, egress, proto, frm, to, peer, desc=None):
        return {"id": ec2id("sgr"), "egress": egress, "proto": proto, "from": frm, "to": to, "peer": peer,
                "desc": desc, "owner": sg["OwnerId"]}

    def create_sg(self, ctx, vpc_id, name, desc, tags):
        return self._new_sg(ctx, vpc_id, name, desc, tags)

    def CreateSecurityGroup(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"security-group"})
        st = ctx.state()
        if not p.get("VpcId"):
            raise AwsError("VPCIdNotSpecified", "No default VPC for this user", 400)
        self._get(st, "vpcs", p["VpcId"])
        name = p["GroupName"]
        if name.startswith("sg-"):
            raise AwsError("InvalidParameterValue", "Group names may not be in the format sg-*.", 400)
        if any(g["VpcId"] == p["VpcId"] and g["GroupName"] == name for g in st["sgs"].values()):
            raise AwsError("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC "
                           f"'{p['VpcId']}'", 400)
        sg = self._born(ctx, self._new_sg(ctx, p["VpcId"], name, p["Description"], self._tagspec(p, "security-group")))
        out = {"GroupId": sg["GroupId"]}
        if sg["_tags"]:
            out["Tags"] = tags_to_list(sg["_tags"])
        return out

    def _perm_out(self, sg, egress):
        groups = {}
        for r in sg["_rules"]:
            if r["egress"] != egress:
                continue
            key = (r["proto"], r["from"], r["to"])
            perm = groups.setdefault(key, {"IpProtocol": r["proto"], "IpRanges": [], "Ipv6Ranges": [],
                                           "PrefixListIds": [], "UserIdGroupPairs": []})
            if r["from"] is not None:
                perm["FromPort"], perm["ToPort"] = r["from"], r["to"]
            peer = r["peer"]
            d = {"Description": r["desc"]} if r["desc"] else {}
            if "cidr" in peer:
                perm["IpRanges"].append(dict(CidrIp=peer["cidr"], **d))
            elif "cidr6" in peer:
                perm["Ipv6Ranges"].append(dict(CidrIpv6=peer["cidr6"], **d))
            elif "prefix" in peer:
                perm["PrefixListIds"].append(dict(PrefixListId=peer["prefix"], **d))
            else:
                perm["UserIdGroupPairs"].append(dict(GroupId=peer["group"], UserId=sg["OwnerId"], **d))
        return list(groups.values())

    def _sg_out(self, sg):
        o = self._out(sg)
        o["IpPermissions"] = self._perm_out(sg, False)
        o["IpPermissionsEgress"] = self._perm_out(sg, True)
        return o

    def _sg_getters(self):
        return {"group-id": lambda g: [g["GroupId"]], "group-name": lambda g: [g["GroupName"]],
                "vpc-id": lambda g: [g["VpcId"]], "description": lambda g: [g["Description"]],
                "owner-id": lambda g: [g["OwnerId"]],
                "ip-permission.group-id": lambda g: [r["peer"].get("group", "") for r in g["_rules"] if not r["egress"]],
                "ip-permission.cidr": lambda g: [r["peer"].get("cidr", "") for r in g["_rules"] if not r["egress"]],
                "egress.ip-permission.group-id": lambda g: [r["peer"].get("group", "") for r in g["_rules"] if r["egress"]]}

    def DescribeSecurityGroups(self, ctx, p):
        st = ctx.state()
        if p.get("GroupNames"):
            raise AwsError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for "
                           "EC2-Classic and default VPC.", 400)
        res = self._describe(ctx, "sgs", p.get("GroupIds"), p.get("Filters"), self._sg_getters(), p,
                             "SecurityGroups", "GroupId")
        res["SecurityGroups"] = [self._sg_out(st["sgs"][g["GroupId"]]) for g in res["SecurityGroups"]]
        return res

    def _perm_rules(self, st, sg, perms, egress):
        rules = []
        for perm in perms or []:
            proto = str(perm.get("IpProtocol", "")).lower()
            proto = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}.get(proto, proto)
            if proto not in ("tcp", "udp", "icmp", "icmpv6", "-1") and not proto.isdigit():
                raise AwsError("InvalidParameterValue", f"Invalid value '{perm.get('IpProtocol')}' for "
                               "IP protocol. Unknown protocol.", 400)
            frm, to = perm.get("FromPort"), perm.get("ToPort")
            if proto in ("tcp", "udp"):
                if frm is None or to is None:
                    raise AwsError("MissingParameter", "Missing source port range for tcp/udp rule", 400)
                if not (0 <= frm <= to <= 65535):
                    raise AwsError("InvalidParameterValue", f"Invalid port range: {frm}-{to}", 400)
            elif proto == "-1":
                frm = to = None
            peers = ([({"cidr": str(self._cidr(x["CidrIp"], "cidrIp"))}, x.get("Description"))
                      for x in perm.get("IpRanges") or []]
                     + [({"cidr6": x["CidrIpv6"]}, x.get("Description")) for x in perm.get("Ipv6Ranges") or []]
                     + [({"prefix": x["PrefixListId"]}, x.get("Description")) for x in perm.get("PrefixListIds") or []])
            for x in perm.get("UserIdGroupPairs") or []:
                gid = x.get("GroupId")
                if not gid:
                    raise AwsError("MissingParameter", "The request must contain the parameter groupId", 400)
                self._get(st, "sgs", gid)
                peers.append(({"group": gid}, x.get("Description")))
            if not peers:
                raise AwsError("MissingParameter", "The request must contain at least one of IpRanges, "
                               "Ipv6Ranges, PrefixListIds or UserIdGroupPairs", 400)
            for peer, desc in peers:
                rules.append(self._rule(sg, egress, proto, frm, to, peer, desc))
        return rules

    def _same(self, a, b):
        return all(a[k] == b[k] for k in ("egress", "proto", "from", "to", "peer"))

    def _rule_text(self, r):
        peer = list(r["peer"].values())[0]
        return (f'the specified rule "peer: {peer}, {r["proto"].upper() if r["proto"] != "-1" else "ALL"}, from port: '
                f'{r["from"]}, to port: {r["to"]}, ALLOW" already exists')

    def _authorize(self, ctx, p, egress):
        self._dry(p)
        st = ctx.state()
        if not p.get("GroupId"):
            raise AwsError("MissingParameter", "The request must contain the parameter groupId", 400)
        sg = self._get(st, "sgs", p["GroupId"])
        new = self._perm_rules(st, sg, p.get("IpPermissions"), egress)
        for r in new:
            if any(self._same(r, x) for x in sg["_rules"]):
                raise AwsError("InvalidPermission.Duplicate", self._rule_text(r), 400)
        sg["_rules"].extend(new)
        tags = self._tagspec(p, "security-group-rule")
        return {"Return": True, "SecurityGroupRules": [self._rule_out(sg, r, tags) for r in new]}

    def _rule_out(self, sg, r, tags=None):
        o = {"SecurityGroupRuleId": r["id"], "GroupId": sg["GroupId"], "GroupOwnerId": sg["OwnerId"],
             "IsEgress": r["egress"], "IpProtocol": r["proto"],
             "FromPort": r["from"] if r["from"] is not None else -1, "ToPort": r["to"] if r["to"] is not None else -1}
        peer = r["peer"]
        if "cidr" in peer:
            o["CidrIpv4"] = peer["cidr"]
        elif "cidr6" in peer:
            o["CidrIpv6"] = peer["cidr6"]
        elif "prefix" in peer:
            o["PrefixListId"] = peer["prefix"]
        else:
            o["ReferencedGroupInfo"] = {"GroupId": peer["group"], "UserId": sg["OwnerId"]}
        if r["desc"]:
            o["Description"] = r["desc"]
        if tags:
            o["Tags"] = tags_to_list(tags)
        return o

    def AuthorizeSecurityGroupIngress(self, ctx, p):
        return self._authorize(ctx, p, False)

    def AuthorizeSecurityGroupEgress(self, ctx, p):
        return self._authorize(ctx, p, True)

    def _revoke(self, ctx, p, egress):
        self._dry(p)
        st = ctx.state()
        sg = self._get(st, "sgs", p["GroupId"])
        if p.get("SecurityGroupRuleIds"):
            for rid in p["SecurityGroupRuleIds"]:
                match = [r for r in sg["_rules"] if r["id"] == rid and r["egress"] == egress]
                if not match:
                    raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                                   f"The security group rule ID '{rid}' does not exist", 400)
                sg["_rules"].remove(match[0])
            return {"Return": True}
        gone = self._perm_rules(st, sg, p.get("IpPermissions"), egress)
        for r in gone:
            match = [x for x in sg["_rules"] if self._same(r, x)]
            if not match:
                raise AwsError("InvalidPermission.NotFound", "The specified rule does not exist in this "
                               "security group.", 400)
            sg["_rules"].remove(match[0])
        return {"Return": True}

    def RevokeSecurityGroupIngress(self, ctx, p):
        return self._revoke(ctx, p, False)

    def RevokeSecurityGroupEgress(self, ctx, p):
        return self._revoke(ctx, p, True)

    def DescribeSecurityGroupRules(self, ctx, p):
        st = ctx.state()
        rows = []
        for sg in st["sgs"].values():
            if not self._is_visible(sg, ctx.now):
                continue
            for r in sg["_rules"]:
                rows.append(dict(self._rule_out(sg, r), _gid=sg["GroupId"], _tags={}))
        if p.get("SecurityGroupRuleIds"):
            rows = [r for r in rows if r["SecurityGroupRuleId"] in p["SecurityGroupRuleIds"]]
        getters = {"group-id": lambda r: [r["_gid"]], "security-group-rule-id": lambda r: [r["SecurityGroupRuleId"]]}
        rows = apply_filters(rows, p.get("Filters"), getters, "rules")
        page, nxt = paginate(rows, p.get("NextToken"), p.get("MaxResults"))
        out = {"SecurityGroupRules": [{k: v for k, v in r.items() if not k.startswith("_")} for r in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def DeleteSecurityGroup(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        if not p.get("GroupId"):
            raise AwsError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for "
                           "EC2-Classic and default VPC.", 400)
        sg = self._get(st, "sgs", p["GroupId"])
        gid = sg["GroupId"]
        if sg.get("_default"):
            raise AwsError("CannotDelete", f'the specified group: "{gid}" name: "default" cannot be deleted by a user', 400)
        used = any(gid in [g["GroupId"] for g in e["Groups"]] for e in st["enis"].values())
        used = used or any(r["peer"].get("group") == gid for o in st["sgs"].values() if o is not sg for r in o["_rules"])
        if used:
            raise AwsError("DependencyViolation", f"resource {gid} has a dependent object", 400)
        del st["sgs"][gid]
        self.sim.record(ctx.account, ctx.region, "ec2:security-group", gid, "deleted")
        return {}

    # ======================================================= network ENIs
    def create_eni(self, ctx, sub, desc, group_ids, tags, requester=None, itype="interface", status="available",
                   private_ip=None, no_groups=False):
        st = ctx.state()
        groups = []
        for gid in group_ids:
            sg = self._get(st, "sgs", gid)
            if sg["VpcId"] != sub["VpcId"]:
                raise AwsError("InvalidParameter", f"Security group {gid} and subnet {sub['SubnetId']} belong "
                               "to different networks.", 400)
            groups.append({"GroupId": gid, "GroupName": sg["GroupName"]})
        if not groups and not no_groups:
            dflt = [g for g in st["sgs"].values() if g["VpcId"] == sub["VpcId"] and g.get("_default")]
            groups = [{"GroupId": g["GroupId"], "GroupName": g["GroupName"]} for g in dflt]
        ip = private_ip or self.alloc_ip(sub)
        eid = ec2id("eni")
        mac = "02:" + ":".join(eid[4 + i:6 + i] for i in range(0, 10, 2))
        dns = f"ip-{ip.replace('.', '-')}.{'ec2.internal' if ctx.region == 'us-east-1' else ctx.region + '.compute.internal'}"
        eni = {"NetworkInterfaceId": eid, "SubnetId": sub["SubnetId"], "VpcId": sub["VpcId"],
               "AvailabilityZone": sub["AvailabilityZone"], "Description": desc or "", "Groups": groups,
               "InterfaceType": itype, "MacAddress": mac, "OwnerId": ctx.account, "PrivateIpAddress": ip,
               "PrivateDnsName": dns,
               "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip, "PrivateDnsName": dns}],
               "Ipv6Addresses": [], "RequesterManaged": requester is not None, "SourceDestCheck": True,
               "Status": status, "_tags": tags, "_created": ctx.now}
        if requester:
            eni["RequesterId"] = requester
        st["enis"][eid] = eni
        return eni

    def CreateNetworkInterface(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"network-interface"})
        st = ctx.state()
        sub = self._get(st, "subnets", p["SubnetId"])

        def make():
            eni = self.create_eni(ctx, sub, p.get("Description"), p.get("Groups") or [],
                                  self._tagspec(p, "network-interface"), private_ip=p.get("PrivateIpAddress"))
            self._born(ctx, eni)
            return {"NetworkInterface": self._out(eni), "ClientToken": p.get("ClientToken")}
        return self._idem(ctx, "CreateNetworkInterface", p, make)

    def _eni_getters(self):
        return {"network-interface-id": lambda e: [e["NetworkInterfaceId"]], "vpc-id": lambda e: [e["VpcId"]],
                "subnet-id": lambda e: [e["SubnetId"]], "status": lambda e: [e["Status"]],
                "description": lambda e: [e["Description"]],
                "group-id": lambda e: [g["GroupId"] for g in e["Groups"]],
                "group-name": lambda e: [g["GroupName"] for g in e["Groups"]],
                "attachment.instance-id": lambda e: [e["Attachment"]["InstanceId"]] if e.get("Attachment", {}).get("InstanceId") else [],
                "attachment.status": lambda e: [e["Attachment"]["Status"]] if e.get("Attachment") else [],
                "interface-type": lambda e: [e["InterfaceType"]],
                "requester-managed": lambda e: [str(e["RequesterManaged"]).lower()],
                "requester-id": lambda e: [e.get("RequesterId", "")],
                "availability-zone": lambda e: [e["AvailabilityZone"]],
                "private-ip-address": lambda e: [e["PrivateIpAddress"]], "owner-id": lambda e: [e["OwnerId"]],
                "mac-address": lambda e: [e["MacAddress"]],
                "association.public-ip": lambda e: [e["Association"]["PublicIp"]] if e.get("Association") else [],
                "association.allocation-id": lambda e: [e["Association"]["AllocationId"]] if e.get("Association")
                else [],
                "association.association-id": lambda e: [e["Association"]["AssociationId"]] if e.get("Association")
                else []}

    def DescribeNetworkInterfaces(self, ctx, p):
        return self._describe(ctx, "enis", p.get("NetworkInterfaceIds"), p.get("Filters"), self._eni_getters(), p,
                              "NetworkInterfaces", "NetworkInterfaceId")

    def DeleteNetworkInterface(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        eni = self._get(st, "enis", p["NetworkInterfaceId"])
        if eni["Status"] == "in-use":
            raise AwsError("InvalidNetworkInterface.InUse", f"The interface {eni['NetworkInterfaceId']} is "
                           "currently in use.", 400)
        self.release_eni(ctx, eni)
        return {}

    def release_eni(self, ctx, eni, st=None):
        st = st if st is not None else ctx.state()
        st["enis"].pop(eni["NetworkInterfaceId"], None)
        for a in st["eips"].values():   # an Elastic IP mapped to it is disassociated, not released
            if a.get("NetworkInterfaceId") == eni["NetworkInterfaceId"]:
                self._unmap_eip(a, st)
        sub = st["subnets"].get(eni["SubnetId"])
        if sub:
            sub["AvailableIpAddressCount"] += 1

    # ===================================================== launch templates
    def _lt(self, st, lt_id=None, name=None):
        if lt_id:
            lt = st["lts"].get(lt_id)
            if lt is None or not self._is_visible(lt):
                raise AwsError("InvalidLaunchTemplateId.NotFound", f"The specified launch template, with template "
                               f"ID {lt_id}, does not exist.", 400)
            return lt
        if name:
            for lt in st["lts"].values():
                if lt["LaunchTemplateName"] == name and self._is_visible(lt):
                    return lt
            raise AwsError("InvalidLaunchTemplateName.NotFoundException", f"The specified launch template, with "
                           f"template name {name}, does not exist.", 400)
        raise AwsError("MissingParameter", "The request must contain the parameter LaunchTemplateName or "
                       "LaunchTemplateId", 400)

    def lt_version(self, st, lt, version):
        v = str(version or "$Default")
        num = lt["LatestVersionNumber"] if v == "$Latest" else lt["DefaultVersionNumber"] if v == "$Default" else None
        if num is None:
            try:
                num = int(v)
            except ValueError:
                raise AwsError("InvalidLaunchTemplateId.VersionNotFound", f"Could not find launch template "
                               f"version {v}", 400)
        ver = lt["_versions"].get(num)
        if ver is None:
            raise AwsError("InvalidLaunchTemplateId.VersionNotFound", f"Could not find launch template version "
                           f"{num} for launch template {lt['LaunchTemplateId']}", 400)
        return ver

    def resolve_lt(self, ctx, spec):
        """For EKS/RunInstances: spec {id|name|LaunchTemplateId|..., version} -> (lt, version dict)."""
        st = ctx.state()
        lt = self._lt(st, spec.get("id") or spec.get("LaunchTemplateId"), spec.get("name") or spec.get("LaunchTemplateName"))
        return lt, self.lt_version(st, lt, spec.get("version") or spec.get("Version"))

    def _lt_data(self, ctx, data):
        shape = self.sim.apis["ec2"].model.shape_for("ResponseLaunchTemplateData")
        if data.get("UserData"):
            raw = _b64decode_user_data(data["UserData"])
            if len(raw) > 16384:
                raise AwsError("InvalidParameterValue", "User data is limited to 16384 bytes", 400)
        if data.get("ImageId") and self.find_image(ctx, data["ImageId"]) is None:
            pass  # AWS accepts a missing AMI here and fails at launch
        out = conform(shape, data)
        if data.get("SecurityGroupIds"):
            out["SecurityGroupIds"] = list(data["SecurityGroupIds"])
        return out

    def _new_version(self, ctx, lt, num, data, desc):
        ver = {"LaunchTemplateId": lt["LaunchTemplateId"], "LaunchTemplateName": lt["LaunchTemplateName"],
               "VersionNumber": num, "CreateTime": ctx.now, "CreatedBy": ctx.identity["arn"],
               "DefaultVersion": num == lt["DefaultVersionNumber"], "LaunchTemplateData": data}
        if desc:
            ver["VersionDescription"] = desc
        lt["_versions"][num] = ver
        return ver

    def CreateLaunchTemplate(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"launch-template"})
        st = ctx.state()

        def make():
            name = p["LaunchTemplateName"]
            if any(x["LaunchTemplateName"] == name for x in st["lts"].values()):
                raise AwsError("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.", 400)
            data = self._lt_data(ctx, p["LaunchTemplateData"])
            lid = ec2id("lt")
            lt = {"LaunchTemplateId": lid, "LaunchTemplateName": name, "CreateTime": ctx.now,
                  "CreatedBy": ctx.identity["arn"], "DefaultVersionNumber": 1, "LatestVersionNumber": 1,
                  "_tags": self._tagspec(p, "launch-template"), "_versions": {}, "_created": ctx.now}
            st["lts"][lid] = lt
            self._born(ctx, lt)
            self.sim.record(ctx.account, ctx.region, "ec2:launch-template", lid, "available")
            self._new_version(ctx, lt, 1, data, p.get("VersionDescription"))
            return {"LaunchTemplate": self._out(lt)}
        return self._idem(ctx, "CreateLaunchTemplate", p, make)

    def CreateLaunchTemplateVersion(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        lt = self._lt(st, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))

        def make():
            data = {}
            if p.get("SourceVersion"):
                data = json.loads(json.dumps(self.lt_version(st, lt, p["SourceVersion"])["LaunchTemplateData"]))
            data.update(self._lt_data(ctx, p["LaunchTemplateData"]))
            num = lt["LatestVersionNumber"] + 1
            lt["LatestVersionNumber"] = num
            ver = self._new_version(ctx, lt, num, data, p.get("VersionDescription"))
            return {"LaunchTemplateVersion": dict(ver)}
        return self._idem(ctx, "CreateLaunchTemplateVersion:" + lt["LaunchTemplateId"], p, make)

    def ModifyLaunchTemplate(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        lt = self._lt(st, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        if p.get("DefaultVersion"):
            ver = self.lt_version(st, lt, p["DefaultVersion"])
            lt["DefaultVersionNumber"] = ver["VersionNumber"]
            for v in lt["_versions"].values():
                v["DefaultVersion"] = v["VersionNumber"] == ver["VersionNumber"]
        return {"LaunchTemplate": self._out(lt)}

    def DescribeLaunchTemplates(self, ctx, p):
        st = ctx.state()
        if p.get("LaunchTemplateNames"):
            ids = [self._lt(st, None, n)["LaunchTemplateId"] for n in p["LaunchTemplateNames"]]
        else:
            ids = p.get("LaunchTemplateIds")
        getters = {"launch-template-name": lambda t: [t["LaunchTemplateName"]],
                   "create-time": lambda t: [iso(t["CreateTime"])]}
        return self._describe(ctx, "lts", ids, p.get("Filters"), getters, p, "LaunchTemplates", "LaunchTemplateId",
                              limit_min=1)

    def DescribeLaunchTemplateVersions(self, ctx, p):
        st = ctx.state()
        mr = p.get("MaxResults")
        if mr is not None and not 1 <= mr <= 200:
            raise AwsError("InvalidParameterValue", f"Value ( {mr} ) for parameter maxResults is invalid. "
                           "Expecting a value between 1 and 200.", 400)
        if p.get("LaunchTemplateId") and p.get("LaunchTemplateName"):
            raise AwsError("InvalidParameterCombination", "Only one of LaunchTemplateId or LaunchTemplateName "
                           "can be specified.", 400)
        if not p.get("LaunchTemplateId") and not p.get("LaunchTemplateName"):
            # every template of the account: only its $Latest and/or
            # $Default version, never numbers (the API reference, Versions)
            want = p.get("Versions") or []
            if not want:
                raise AwsError("MissingParameter", "The request must contain the parameter LaunchTemplateName or "
                               "LaunchTemplateId", 400)
            bad = [x for x in want if x not in ("$Latest", "$Default")]
            if bad:
                raise AwsError("InvalidParameterValue", f"Version {bad[0]} is invalid when no launch template is "
                               "specified: only $Latest and $Default describe every launch template", 400)
            vers = []
            for lt in sorted((x for x in st["lts"].values() if self._is_visible(x)),
                             key=lambda x: (x.get("_created", 0), x["LaunchTemplateId"])):
                nums = sorted({lt["LatestVersionNumber"] if x == "$Latest" else lt["DefaultVersionNumber"]
                               for x in want})
                vers += [lt["_versions"][n] for n in nums if n in lt["_versions"]]
        else:
            lt = self._lt(st, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
            if p.get("Versions"):
                vers = [self.lt_version(st, lt, x) for x in p["Versions"]]
            else:
                vers = [lt["_versions"][n] for n in sorted(lt["_versions"])]
                lo = int(p["MinVersion"]) if p.get("MinVersion") else None
                hi = int(p["MaxVersion"]) if p.get("MaxVersion") else None
                vers = [v for v in vers if (lo is None or v["VersionNumber"] >= lo)
                        and (hi is None or v["VersionNumber"] <= hi)]
        getters = {"is-default-version": lambda v: [str(v["DefaultVersion"]).lower()],
                   "image-id": lambda v: [v["LaunchTemplateData"].get("ImageId", "")],
                   "instance-type": lambda v: [v["LaunchTemplateData"].get("InstanceType", "")],
                   "create-time": lambda v: [iso(v["CreateTime"])]}
        vers = apply_filters(vers, p.get("Filters"), getters, "ltv")
        page, nxt = paginate(vers, p.get("NextToken"), mr)
        out = {"LaunchTemplateVersions": [dict(v) for v in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def DeleteLaunchTemplate(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        lt = self._lt(st, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        del st["lts"][lt["LaunchTemplateId"]]
        self.sim.record(ctx.account, ctx.region, "ec2:launch-template", lt["LaunchTemplateId"], "deleted")
        return {"LaunchTemplate": self._out(lt)}

    def DeleteLaunchTemplateVersions(self, ctx, p):
        st = ctx.state()
        lt = self._lt(st, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        ok, bad = [], []
        for v in p["Versions"]:
            n = int(v) if str(v).isdigit() else -1
            if n == lt["DefaultVersionNumber"]:
                bad.append({"LaunchTemplateId": lt["LaunchTemplateId"], "LaunchTemplateName": lt["LaunchTemplateName"],
                            "VersionNumber": n, "ResponseError": {"Code": "launchTemplateVersionIsDefaultVersion",
                                                                   "Message": "Cannot delete the default version"}})
            elif n in lt["_versions"]:
                del lt["_versions"][n]
                ok.append({"LaunchTemplateId": lt["LaunchTemplateId"], "LaunchTemplateName": lt["LaunchTemplateName"],
                           "VersionNumber": n})
            else:
                bad.append({"LaunchTemplateId": lt["LaunchTemplateId"], "LaunchTemplateName": lt["LaunchTemplateName"],
                            "VersionNumber": n, "ResponseError": {"Code": "launchTemplateVersionDoesNotExist",
                                                                   "Message": "Version does not exist"}})
        return {"SuccessfullyDeletedLaunchTemplateVersions": ok, "UnsuccessfullyDeletedLaunchTemplateVersions": bad}

    # =========================================================== instances
    def _set_state(self, inst, name, at=None):
        inst["State"] = {"Code": STATE_CODES[name], "Name": name}
        self.sim.record(inst["_owner"], inst["_region"], "ec2:instance", inst["InstanceId"], name, at)

    def RunInstances(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"instance", "volume", "network-interface", "spot-instances-request",
                                 "elastic-gpu"})

        def make():
            rid = self.launch(ctx, p)
            st = ctx.state()
            for inst in [i for i in st["instances"].values() if i["_reservation"] == rid]:
                self._born(ctx, inst, st["enis"][inst["_eni"]])
            return lambda: self._reservation(ctx, rid)
        return self._idem(ctx, "RunInstances", p, make)

    def launch(self, ctx, p, extra_tags=None, eks=None):
        """Create instances; returns the reservation id. Used by RunInstances and EKS node groups."""
        st = ctx.state()
        base = {}
        lt_tags = {}
        if p.get("LaunchTemplate"):
            lt, ver = self.resolve_lt(ctx, p["LaunchTemplate"])
            base = json.loads(json.dumps(ver["LaunchTemplateData"]))
            for spec in base.get("TagSpecifications") or []:
                if spec.get("ResourceType") == "instance":
                    lt_tags.update(tags_from_list(spec.get("Tags")))
            lt_tags.setdefault("aws:ec2launchtemplate:id", lt["LaunchTemplateId"])
            lt_tags.setdefault("aws:ec2launchtemplate:version", str(ver["VersionNumber"]))
        cfg = dict(base)
        for k, v in p.items():
            if k not in ("LaunchTemplate", "TagSpecifications", "ClientToken", "MinCount", "MaxCount", "DryRun"):
                cfg[k] = v
        if p.get("MinCount", 1) > p.get("MaxCount", 1):
            raise AwsError("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. minCount must "
                           "be less than or equal to maxCount" % p["MinCount"], 400)
        if p.get("MinCount", 1) < 1:
            raise AwsError("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. Expected a "
                           "positive integer." % p["MinCount"], 400)
        ami = cfg.get("ImageId")
        if not ami:
            raise AwsError("MissingParameter", "The request must contain the parameter ImageId", 400)
        img = self.find_image(ctx, ami)
        if img is None or img["State"] not in ("available",):
            if img is None and not re.fullmatch(r"ami-[0-9a-f]{8,17}", ami):
                raise AwsError("InvalidAMIID.Malformed", f"Invalid id: \"{ami}\" (expecting \"ami-...\")", 400)
            raise AwsError("InvalidAMIID.NotFound" if img is None else "InvalidAMIID.Unavailable",
                           f"The image id '[{ami}]' does not exist" if img is None
                           else f"The image id '[{ami}]' is not available", 400)
        itype = cfg.get("InstanceType", "m1.small")
        if instance_arch(itype) != img["Architecture"]:
            raise AwsError("InvalidParameterValue", f"The architecture '{instance_arch(itype)}' of the specified "
                           f"instance type does not match the architecture '{img['Architecture']}' of the specified "
                           "AMI. Specify an instance type and an AMI that have matching architectures, and try "
                           "again.", 400)
        nis = cfg.get("NetworkInterfaces") or []
        subnet_id = cfg.get("SubnetId") or (nis[0].get("SubnetId") if nis else None)
        if not subnet_id:
            raise AwsError("VPCIdNotSpecified", "No default VPC for this user. Specify a subnet (awssim has no "
                           "default VPC).", 400)
        sub = self._get(st, "subnets", subnet_id)
        groups = list(cfg.get("SecurityGroupIds") or (nis[0].get("Groups") if nis else None) or [])
        for gid in groups:
            sg = self._get(st, "sgs", gid)
            if sg["VpcId"] != sub["VpcId"]:
                raise AwsError("InvalidParameter", f"Security group {gid} and subnet {subnet_id} belong to "
                               "different networks.", 400)
        if cfg.get("SecurityGroups"):
            raise AwsError("InvalidParameterCombination", "The parameter groupName cannot be used with the "
                           "parameter subnet", 400)
        profile_out = None
        ipspec = cfg.get("IamInstanceProfile")
        if ipspec:
            key = ipspec.get("Arn") or ipspec.get("Name") or ""
            prof = self.sim.services["iam"].profile(ctx.account, key)
            pname = "arn" if ipspec.get("Arn") else "name"
            if prof is None or not prof["_roles"] or prof["_ready"] > ctx.now:
                raise AwsError("InvalidParameterValue", f"Value ({key}) for parameter iamInstanceProfile.{pname} "
                               "is invalid. Invalid IAM Instance Profile " + {"arn": "ARN"}.get(pname, pname), 400)
            profile_out = {"Arn": prof["Arn"], "Id": prof["InstanceProfileId"]}
        user_data = b""
        if cfg.get("UserData"):
            user_data = _b64decode_user_data(cfg["UserData"])
            if len(user_data) > 16384:
                raise AwsError("InvalidParameterValue", "User data is limited to 16384 bytes", 400)
        mo = cfg.get("MetadataOptions") or {}
        count = p.get("MaxCount", 1)
        if count > sub["AvailableIpAddressCount"]:
            count = p.get("MinCount", 1)
        rid = ec2id("r")
        tags = dict(lt_tags)
        tags.update(self._tagspec(p, "instance"))
        tags.update(extra_tags or {})
        eni_tags = {}
        for spec in (base.get("TagSpecifications") or []) + (p.get("TagSpecifications") or []):
            if spec.get("ResourceType") == "network-interface":
                eni_tags.update(tags_from_list(spec.get("Tags")))
        root_size = 20
        for bdm in cfg.get("BlockDeviceMappings") or []:
            if bdm.get("Ebs", {}).get("VolumeSize"):
                root_size = bdm["Ebs"]["VolumeSize"]
        for idx in range(count):
            iid = ec2id("i")
            eni = self.create_eni(ctx, sub, "", groups, eni_tags, status="in-use")
            inst = {"InstanceId": iid, "ImageId": ami, "InstanceType": itype, "AmiLaunchIndex": idx,
                    "LaunchTime": ctx.now, "Placement": {"AvailabilityZone": sub["AvailabilityZone"],
                                                        "GroupName": "", "Tenancy": "default"},
                    "PrivateDnsName": eni["PrivateDnsName"], "PrivateIpAddress": eni["PrivateIpAddress"],
                    "PublicDnsName": "", "SubnetId": sub["SubnetId"], "VpcId": sub["VpcId"],
                    "Architecture": img["Architecture"], "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
                    "Hypervisor": "xen", "VirtualizationType": "hvm", "EnaSupport": True, "EbsOptimized": False,
                    "SourceDestCheck": True, "StateTransitionReason": "", "ClientToken": p.get("ClientToken", ""),
                    "Monitoring": {"State": "disabled"}, "ProductCodes": [],
                    "SecurityGroups": eni["Groups"], "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances",
                    "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                        "VolumeId": ec2id("vol"), "Status": "attached", "AttachTime": ctx.now,
                        "DeleteOnTermination": True}}],
                    "MetadataOptions": {"State": "applied", "HttpTokens": mo.get("HttpTokens", "optional"),
                                        "HttpPutResponseHopLimit": mo.get("HttpPutResponseHopLimit", 1),
                                        "HttpEndpoint": mo.get("HttpEndpoint", "enabled"),
                                        "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"},
                    "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2}, "CapacityReservationSpecification": {
                        "CapacityReservationPreference": "open"}, "HibernationOptions": {"Configured": False},
                    "EnclaveOptions": {"Enabled": False}, "BootMode": "uefi-preferred",
                    "_tags": dict(tags), "_created": ctx.now, "_reservation": rid, "_owner": ctx.account,
                    "_region": ctx.region,
                    "_eni": eni["NetworkInterfaceId"], "_user_data": user_data, "_root_size": root_size,
                    "_shutdown": cfg.get("InstanceInitiatedShutdownBehavior", "stop"), "_console": [],
                    "_next": (self.sim.clock.later(T_INSTANCE_PENDING), "running"), "_eks": eks}
            if profile_out:
                inst["IamInstanceProfile"] = profile_out
            if cfg.get("KeyName"):
                inst["KeyName"] = cfg["KeyName"]
            self._set_state(inst, "pending")
            eni["Attachment"] = {"AttachmentId": ec2id("eni-attach"), "AttachTime": ctx.now,
                                 "DeleteOnTermination": True, "DeviceIndex": 0, "InstanceId": iid,
                                 "InstanceOwnerId": ctx.account, "Status": "attached", "NetworkCardIndex": 0}
            inst["NetworkInterfaces"] = [{"NetworkInterfaceId": eni["NetworkInterfaceId"],
                                          "SubnetId": sub["SubnetId"], "VpcId": sub["VpcId"], "Description": "",
                                          "OwnerId": ctx.account, "Status": "in-use", "MacAddress": eni["MacAddress"],
                                          "PrivateIpAddress": eni["PrivateIpAddress"],
                                          "PrivateDnsName": eni["PrivateDnsName"], "SourceDestCheck": True,
                                          "Groups": eni["Groups"], "InterfaceType": "interface",
                                          "Attachment": {"AttachmentId": eni["Attachment"]["AttachmentId"],
                                                         "AttachTime": ctx.now, "DeleteOnTermination": True,
                                                         "DeviceIndex": 0, "Status": "attached", "NetworkCardIndex": 0},
                                          "PrivateIpAddresses": [{"Primary": True,
                                                                  "PrivateIpAddress": eni["PrivateIpAddress"],
                                                                  "PrivateDnsName": eni["PrivateDnsName"]}]}]
            st["instances"][iid] = inst
        return rid

    def _inst_out(self, inst):
        o = self._out(inst)
        return o

    def _reservation(self, ctx, rid):
        insts = [i for i in ctx.state()["instances"].values() if i["_reservation"] == rid]
        return {"ReservationId": rid, "OwnerId": ctx.account, "Groups": [],
                "Instances": [self._inst_out(i) for i in insts]}

    def _inst_getters(self):
        return {"instance-id": lambda i: [i["InstanceId"]], "instance-state-name": lambda i: [i["State"]["Name"]],
                "instance-state-code": lambda i: [str(i["State"]["Code"])], "vpc-id": lambda i: [i["VpcId"]],
                "subnet-id": lambda i: [i["SubnetId"]], "image-id": lambda i: [i["ImageId"]],
                "instance-type": lambda i: [i["InstanceType"]],
                "availability-zone": lambda i: [i["Placement"]["AvailabilityZone"]],
                "private-ip-address": lambda i: [i.get("PrivateIpAddress", "")],
                "reservation-id": lambda i: [i["_reservation"]], "client-token": lambda i: [i["ClientToken"]],
                "iam-instance-profile.arn": lambda i: [i.get("IamInstanceProfile", {}).get("Arn", "")],
                "network-interface.network-interface-id": lambda i: [i["_eni"]],
                "owner-id": lambda i: [i["_owner"]], "architecture": lambda i: [i["Architecture"]]}

    def DescribeInstances(self, ctx, p):
        st = ctx.state()
        ids = p.get("InstanceIds")
        if ids:
            for i in ids:
                self._get(st, "instances", i)
            items = [st["instances"][i] for i in ids]
        else:
            items = sorted((i for i in st["instances"].values() if self._is_visible(i, ctx.now)),
                           key=lambda i: (i["_created"], i["InstanceId"]))
        items = apply_filters(items, p.get("Filters"), self._inst_getters(), "instances")
        mr = p.get("MaxResults")
        if mr is not None and ids:
            raise AwsError("InvalidParameterCombination", "The parameter instancesSet cannot be used with the "
                           "parameter maxResults", 400)
        if mr is not None and not 5 <= mr <= 1000:
            raise AwsError("InvalidParameterValue", f"Value ( {mr} ) for parameter maxResults is invalid. "
                           "Expecting a value between 5 and 1000.", 400)
        order, groups = [], {}
        for i in items:
            if i["_reservation"] not in groups:
                order.append(i["_reservation"])
                groups[i["_reservation"]] = []
            groups[i["_reservation"]].append(i)
        page, nxt = paginate(order, p.get("NextToken"), mr)
        out = {"Reservations": [{"ReservationId": r, "OwnerId": ctx.account, "Groups": [],
                                 "Instances": [self._inst_out(i) for i in groups[r]]} for r in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def DescribeInstanceStatus(self, ctx, p):
        st = ctx.state()
        items = [self._get(st, "instances", i) for i in p.get("InstanceIds") or []] if p.get("InstanceIds") else \
            [i for i in st["instances"].values() if self._is_visible(i, ctx.now)]
        if not p.get("IncludeAllInstances"):
            items = [i for i in items if i["State"]["Name"] == "running"]
        ok = {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
        return {"InstanceStatuses": [{"InstanceId": i["InstanceId"], "AvailabilityZone": i["Placement"]["AvailabilityZone"],
                                      "InstanceState": i["State"], "InstanceStatus": ok, "SystemStatus": ok}
                                     for i in items]}

    def _change(self, ctx, p, fn, key):
        st = ctx.state()
        out = []
        missing = [i for i in p["InstanceIds"] if i not in st["instances"] or
                   not self._is_visible(st["instances"][i], ctx.now)]
        if missing:
            if len(missing) > 1:
                raise AwsError("InvalidInstanceID.NotFound", "The instance IDs '" + ", ".join(missing) +
                               "' do not exist", 400)
            self._get(st, "instances", missing[0])
        for iid in p["InstanceIds"]:
            inst = st["instances"][iid]
            prev = dict(inst["State"])
            fn(inst)
            out.append({"InstanceId": iid, "PreviousState": prev, "CurrentState": dict(inst["State"])})
        return {key: out}

    def StopInstances(self, ctx, p):
        self._dry(p)

        def stop(inst):
            s = inst["State"]["Name"]
            if s in ("stopped", "stopping"):
                return
            if s != "running":
                raise AwsError("IncorrectInstanceState", f"The instance '{inst['InstanceId']}' is not in a state "
                               "from which it can be stopped.", 400)
            self._set_state(inst, "stopping")
            inst["StateTransitionReason"] = f"User initiated ({_utc(ctx.now)})"
            inst["_next"] = (self.sim.clock.later(T_INSTANCE_STOPPING), "stopped")
        return self._change(ctx, p, stop, "StoppingInstances")

    def StartInstances(self, ctx, p):
        self._dry(p)

        def start(inst):
            s = inst["State"]["Name"]
            if s in ("running", "pending"):
                return
            if s != "stopped":
                raise AwsError("IncorrectInstanceState", f"The instance '{inst['InstanceId']}' is not in a state "
                               "from which it can be started.", 400)
            self._set_state(inst, "pending")
            inst["_next"] = (self.sim.clock.later(T_INSTANCE_PENDING), "running")
            inst["_booted"] = False
        return self._change(ctx, p, start, "StartingInstances")

    def TerminateInstances(self, ctx, p):
        self._dry(p)

        def term(inst):
            if inst["State"]["Name"] in ("terminated", "shutting-down"):
                return
            self._set_state(inst, "shutting-down")
            inst["_next"] = (self.sim.clock.later(T_INSTANCE_TERMINATING), "terminated")
        return self._change(ctx, p, term, "TerminatingInstances")

    def terminate(self, ctx, inst):
        term_p = {"InstanceIds": [inst["InstanceId"]]}
        self.TerminateInstances(ctx, term_p)

    def GetConsoleOutput(self, ctx, p):
        inst = self._get(ctx.state(), "instances", p["InstanceId"])
        out = {"InstanceId": inst["InstanceId"], "Timestamp": ctx.now}
        if inst["_console"]:
            out["Output"] = base64.b64encode("".join(inst["_console"]).encode()).decode()
        return out

    # ============================================================= images
    def CreateImage(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"image", "snapshot"})
        st = ctx.state()
        inst = self._get(st, "instances", p["InstanceId"])
        if inst["State"]["Name"] not in ("running", "stopped"):
            raise AwsError("IncorrectInstanceState", f"Instance '{inst['InstanceId']}' is not in a state from which "
                           "an image can be created.", 400)
        name = p["Name"]
        if not re.fullmatch(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}", name):
            raise AwsError("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may "
                           "contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ' ', '@' and ''' only", 400)
        for img in st["images"].values():
            if img["Name"] == name:
                raise AwsError("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {img['ImageId']}", 400)
        ami = ec2id("ami")
        snap = ec2id("snap")
        size = inst["_root_size"]
        done = self.sim.clock.later(T_IMAGE)
        st["snapshots"][snap] = {
            "_done": done,
            "SnapshotId": snap, "VolumeId": inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"], "State": "pending",
            "Progress": "0%", "StartTime": ctx.now, "VolumeSize": size, "OwnerId": ctx.account,
            "Description": f"Created by CreateImage({inst['InstanceId']}) for {ami}", "Encrypted": False,
            "StorageTier": "standard", "_tags": self._tagspec(p, "snapshot"), "_created": ctx.now}
        src = self.find_image(ctx, inst["ImageId"]) or {}
        img = {"ImageId": ami, "Name": name, "State": "pending", "OwnerId": ctx.account, "Public": False,
               "Architecture": inst["Architecture"], "CreationDate": iso(ctx.now, millis=True), "ImageType": "machine",
               "ImageLocation": f"{ctx.account}/{name}", "PlatformDetails": "Linux/UNIX",
               "UsageOperation": "RunInstances", "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
               "VirtualizationType": "hvm", "Hypervisor": "xen", "EnaSupport": True, "SriovNetSupport": "simple",
               "BootMode": src.get("BootMode", "uefi-preferred"),
               "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                   "SnapshotId": snap, "VolumeSize": size, "VolumeType": "gp3", "DeleteOnTermination": True,
                   "Encrypted": False}}],
               "_tags": self._tagspec(p, "image"), "_created": ctx.now, "_snap": snap,
               "_next": (done, "available"), "_containerd": src.get("_containerd")}
        if p.get("Description"):
            img["Description"] = p["Description"]
        st["images"][ami] = img
        self._born(ctx, img, st["snapshots"][snap])
        self.sim.record(ctx.account, ctx.region, "ec2:image", ami, "pending")
        self.sim.record(ctx.account, ctx.region, "ec2:snapshot", snap, "pending")
        out = {"ImageId": ami}
        return out

    def _img_getters(self):
        return {"image-id": lambda i: [i["ImageId"]], "name": lambda i: [i["Name"]], "state": lambda i: [i["State"]],
                "owner-id": lambda i: [i["OwnerId"]], "architecture": lambda i: [i["Architecture"]],
                "is-public": lambda i: [str(i["Public"]).lower()], "image-type": lambda i: [i["ImageType"]],
                "owner-alias": lambda i: [i.get("ImageOwnerAlias", "")],
                "root-device-type": lambda i: [i["RootDeviceType"]],
                "virtualization-type": lambda i: [i["VirtualizationType"]],
                "block-device-mapping.snapshot-id": lambda i: [b["Ebs"]["SnapshotId"] for b in i["BlockDeviceMappings"]],
                "description": lambda i: [i.get("Description", "")]}

    def DescribeImages(self, ctx, p):
        st = ctx.state()
        public = self.public_images(ctx.region)
        pool = dict(public)
        own = {k: v for k, v in st["images"].items() if self._is_visible(v, ctx.now)}
        pool.update(own)
        ids = p.get("ImageIds")
        if ids:
            # AWS: "Recently deregistered images appear in the returned
            # results for a short interval and then return empty results";
            # only an id EC2 never had (or long forgotten) is an error.
            # A deregistered image of this account is answered with nothing.
            missing = [i for i in ids if i not in pool and i not in st["images_deregistered"]]
            if missing:
                if not re.fullmatch(r"ami-[0-9a-f]{8,17}", missing[0]):
                    raise AwsError("InvalidAMIID.Malformed", f"Invalid id: \"{missing[0]}\" (expecting \"ami-...\")", 400)
                raise AwsError("InvalidAMIID.NotFound", "The image id '[" + ", ".join(missing) + "]' does not exist", 400)
            items = [pool[i] for i in ids if i in pool]
        else:
            items = list(own.values()) + list(public.values())
        owners = p.get("Owners")
        if owners:
            ok = set()
            for o in owners:
                ok.add(ctx.account if o == "self" else AMI_OWNER if o == "amazon" else o)
            items = [i for i in items if i["OwnerId"] in ok]
        items = apply_filters(items, p.get("Filters"), self._img_getters(), "images")
        page, nxt = paginate(items, p.get("NextToken"), p.get("MaxResults"))
        out = {"Images": [self._out(i) for i in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def DeregisterImage(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        ami = p["ImageId"]
        if ami in self.public_images(ctx.region):
            raise AwsError("AuthFailure", f"Not authorized for image:{ami}", 400)
        self._get(st, "images", ami)
        del st["images"][ami]
        st["images_deregistered"][ami] = ctx.now
        self.sim.record(ctx.account, ctx.region, "ec2:image", ami, "deleted")
        return {}

    def _snap_getters(self):
        return {"snapshot-id": lambda s: [s["SnapshotId"]], "status": lambda s: [s["State"]],
                "owner-id": lambda s: [s["OwnerId"]], "volume-id": lambda s: [s["VolumeId"]],
                "description": lambda s: [s["Description"]], "volume-size": lambda s: [str(s["VolumeSize"])]}

    def DescribeSnapshots(self, ctx, p):
        st = ctx.state()
        res = self._describe(ctx, "snapshots", p.get("SnapshotIds"), p.get("Filters"), self._snap_getters(), p,
                             "Snapshots", "SnapshotId")
        owners = p.get("OwnerIds")
        if owners:
            ok = {ctx.account if o == "self" else o for o in owners}
            res["Snapshots"] = [s for s in res["Snapshots"] if s["OwnerId"] in ok]
        del st
        return res

    def DeleteSnapshot(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        snap = self._get(st, "snapshots", p["SnapshotId"])
        for img in st["images"].values():
            if img["_snap"] == snap["SnapshotId"]:
                raise AwsError("InvalidSnapshot.InUse", f"The snapshot {snap['SnapshotId']} is currently in use by "
                               f"{img['ImageId']}", 400)
        del st["snapshots"][snap["SnapshotId"]]
        self.sim.record(ctx.account, ctx.region, "ec2:snapshot", snap["SnapshotId"], "deleted")
        return {}

    # ============================================================== clock
    def _boot_console(self, inst, region):
        host = inst["PrivateDnsName"].split(".")[0]
        return ["[    0.000000] Linux version 6.1.0-awssim (Amazon Linux 2023)\r\n",
                f"[    2.104000] cloud-init[1200]: Cloud-init v. 22.2.2 running 'init' ({host})\r\n",
                f"[    3.500000] cloud-init[1300]: ci-info: {inst['PrivateIpAddress']} {region}\r\n"]

    def tick(self, now):
        for (acct, region), st in list(self.sim.scopes.items()):
            if region == "global":
                continue
            self._apply_due(st, now)
            for iid, inst in list(st.get("instances", {}).items()):
                self._tick_instance(st, region, inst, now)
            self.tick_egress(acct, region, st, now)
            for img in st.get("images", {}).values():
                if img.get("_next") and img["_next"][0] <= now:
                    at, img["State"] = img.pop("_next")
                    self.sim.record(acct, region, "ec2:image", img["ImageId"], img["State"], at)
            for snap in st.get("snapshots", {}).values():
                if snap["State"] == "pending" and snap["_done"] <= now:
                    snap["State"], snap["Progress"] = "completed", "100%"
                    self.sim.record(acct, region, "ec2:snapshot", snap["SnapshotId"], "completed", snap["_done"])

    def _tick_instance(self, st, region, inst, now):
        for _ in range(4):
            nxt = inst.get("_next")
            if not nxt or nxt[0] > now:
                return
            at, state = nxt
            inst.pop("_next")
            if state == "running":
                self._set_state(inst, "running", at)
                inst["_console"] = self._boot_console(inst, region)
                text = user_data_text(inst["_user_data"]) if inst["_user_data"] else ""
                key = bake_key(text) if "SECFAAS-BAKE-OK" in text else None
                inst["_bake"] = key
                if key and "SECFAAS-CONTAINERD-VERSION" in text:
                    src = st["images"].get(inst["ImageId"]) or self.public_images(region).get(inst["ImageId"]) or {}
                    inst["_ctd_line"] = src.get("_containerd") or "none"
                if re.search(r"(?m)^\s*(poweroff|shutdown\b|halt\b|systemctl\s+poweroff)", text):
                    inst["_next"] = (at + self.sim.clock.span(T_BAKE), "poweroff")
            elif state == "poweroff":
                if inst["State"]["Name"] != "running":
                    continue
                if inst.get("_bake"):
                    if inst.get("_ctd_line"):
                        # the bake script's `containerd --version` line, with
                        # the containerd of the image the builder runs
                        inst["_console"].append(f"[  179.000000] cloud-init[2100]: SECFAAS-CONTAINERD-VERSION "
                                                f"{inst['_ctd_line']}\r\n")
                    inst["_console"].append(f"[  180.000000] cloud-init[2100]: SECFAAS-BAKE-OK {inst['_bake']}\r\n")
                inst["_console"].append("[  181.000000] reboot: Power down\r\n")
                if inst["_shutdown"] == "terminate":
                    self._set_state(inst, "shutting-down", at)
                    inst["_next"] = (at + self.sim.clock.span(T_INSTANCE_TERMINATING), "terminated")
                else:
                    self._set_state(inst, "stopping", at)
                    inst["StateTransitionReason"] = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
                    inst["StateReason"] = {"Code": "Client.InstanceInitiatedShutdown",
                                           "Message": "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
                    inst["_next"] = (at + self.sim.clock.span(T_INSTANCE_STOPPING), "stopped")
            elif state == "stopped":
                self._set_state(inst, "stopped", at)
            elif state == "terminated":
                self._set_state(inst, "terminated", at)
                eni = st["enis"].get(inst["_eni"])
                if eni:
                    self.release_eni(None, eni, st)
                inst["NetworkInterfaces"] = []
                inst.pop("PrivateIpAddress", None)
                inst["_next"] = (at + T_TERMINATED_VISIBLE, "gone")
            elif state == "gone":
                st["instances"].pop(inst["InstanceId"], None)
                self.sim.record(inst["_owner"], region, "ec2:instance", inst["InstanceId"], "deleted", at)
                return

    # ========================================================== inventory
    def inventory(self, account, region, st):
        if region == "global":
            return {}
        inv = {}
        inv["ec2:vpc"] = [{"id": v["VpcId"], "tags": v["_tags"]} for v in st.get("vpcs", {}).values()]
        inv["ec2:subnet"] = [{"id": s["SubnetId"], "vpc": s["VpcId"], "tags": s["_tags"]} for s in st.get("subnets", {}).values()]
        inv["ec2:internet-gateway"] = [{"id": g["InternetGatewayId"], "attachments": [a["VpcId"] for a in g["Attachments"]],
                                        "tags": g["_tags"]} for g in st.get("igws", {}).values()]
        inv["ec2:route-table"] = [{"id": r["RouteTableId"], "vpc": r["VpcId"], "main": bool(r.get("_main")),
                                   "tags": r["_tags"]} for r in st.get("rtbs", {}).values()]
        inv["ec2:security-group"] = [{"id": g["GroupId"], "name": g["GroupName"], "vpc": g["VpcId"],
                                      "default": bool(g.get("_default")), "tags": g["_tags"]}
                                     for g in st.get("sgs", {}).values()]
        inv["ec2:network-interface"] = [{"id": e["NetworkInterfaceId"], "status": e["Status"],
                                         "description": e["Description"], "vpc": e["VpcId"], "tags": e["_tags"]}
                                        for e in st.get("enis", {}).values()]
        inv["ec2:launch-template"] = [{"id": t["LaunchTemplateId"], "name": t["LaunchTemplateName"], "tags": t["_tags"]}
                                      for t in st.get("lts", {}).values()]
        inv["ec2:instance"] = [{"id": i["InstanceId"], "state": i["State"]["Name"], "tags": i["_tags"]}
                               for i in st.get("instances", {}).values() if i["State"]["Name"] != "terminated"]
        inv["ec2:image"] = [{"id": i["ImageId"], "name": i["Name"], "state": i["State"], "tags": i["_tags"]}
                            for i in st.get("images", {}).values()]
        inv["ec2:snapshot"] = [{"id": s["SnapshotId"], "state": s["State"], "tags": s["_tags"]}
                               for s in st.get("snapshots", {}).values()]
        inv.update(self.inventory_egress(st))
        return inv


def _utc(ts):
    return iso(ts).replace("T", " ").replace("Z", " GMT")
