"""EKS: clusters, node groups, updates, access entries, add-ons, Pod Identity
associations, Kubernetes versions and upgrade insights, tags.

Per (account, region) scope: eks_clusters[name] holds the cluster in the
model's output form plus private fields (_nodegroups, _updates, _access,
_addons, _pia, _next timer, _kube process).  State machines (scaled by
--timescale): cluster CREATING (600 s) -> ACTIVE (after kubesim is up) ;
UPDATING (120 s / version 480 s) ; DELETING (300 s) -> gone.  Node group
CREATING (180 s) -> ACTIVE or CREATE_FAILED (health.issues: bad AL2023
NodeConfig user data, AMI missing, launch failures) ; UPDATING (config
120 s; version: a rolling replacement, setup 60 s then 120 s per batch of
updateConfig.maxUnavailable nodes) ; DELETING (120 s) -> gone.  Add-on
CREATING (60 s) -> ACTIVE, DEGRADED (coredns without a node its pods may run on:
none running, or all tainted NoSchedule/NoExecute; ACTIVE once one is) or CREATE_FAILED
(ConfigurationConflict) ; UPDATING (60 s) ; DELETING (30 s) -> gone.
Node groups launch real simulated EC2 instances (tagged eks:*), so their
ENIs block subnet/VPC deletion like in AWS.

Kubernetes versions, their support status on the simulated clock and the
add-on catalog live in eks_catalog.py.  When the vpc-cni add-on's
configuration turns network policy on or off, the cluster's kubesim is told
through kubehook.set_network_policy.
"""
import base64
import json
import re
import secrets
import time
import uuid
from email import message_from_bytes

import yaml

from . import eks_catalog as cat
from . import kubehook
from .core import AwsError, hexid, paginate

T_CLUSTER_CREATE = 600
T_CLUSTER_DELETE = 300
T_CLUSTER_UPDATE = 120
T_CLUSTER_VERSION = 480
T_NG_CREATE = 180
T_NG_UPDATE = 120
T_NG_SETUP = 60
T_NG_BATCH = 120
T_NG_DELETE = 120
T_ADDON_CREATE = 60
T_ADDON_UPDATE = 60
T_ADDON_DELETE = 30
PODS_PRINCIPAL = "pods.eks.amazonaws.com"

ACCESS_POLICIES = ["AmazonEKSAdminPolicy", "AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy",
                   "AmazonEKSViewPolicy", "AmazonEKSAdminViewPolicy"]
AMI_ARCH = {"AL2023_x86_64_STANDARD": ("x86_64", "standard"), "AL2023_ARM_64_STANDARD": ("arm64", "standard"),
            "AL2023_x86_64_NVIDIA": ("x86_64", "nvidia"), "AL2023_ARM_64_NVIDIA": ("arm64", "nvidia"),
            "AL2023_x86_64_NEURON": ("x86_64", "neuron"), "AL2_x86_64": ("x86_64", "standard"),
            "AL2_ARM_64": ("arm64", "standard"), "AL2_x86_64_GPU": ("x86_64", "nvidia")}
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy",)
ECR_POLICIES = ("AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPullOnly")


def _ip(msg, **extra):
    return AwsError("InvalidParameterException", msg, 400, extra=extra)


def nodeconfig_problem(raw, cluster):
    """Why AL2023 user data would not join the cluster, or None if it would.

    raw: decoded user data bytes.  Needs MIME multipart with an
    application/node.eks.aws part holding a NodeConfig whose spec.cluster has
    the cluster's name, endpoint and CA (what nodeadm needs without EKS help).
    """
    text = raw.decode("utf-8", "replace")
    if "multipart" not in text[:1000].lower():
        return "user data is not a MIME multipart document"
    msg = message_from_bytes(raw)
    if not msg.is_multipart():
        return "user data is not a valid MIME multipart document"
    spec_cluster = {}
    found = False
    for part in msg.walk():
        if part.get_content_type() != "application/node.eks.aws":
            continue
        found = True
        try:
            doc = yaml.safe_load(part.get_payload(decode=True) or b"")
        except yaml.YAMLError as e:
            return f"NodeConfig part is not valid YAML: {e}"
        if not isinstance(doc, dict) or doc.get("kind") != "NodeConfig" or \
                not str(doc.get("apiVersion", "")).startswith("node.eks.aws/"):
            return "application/node.eks.aws part is not a node.eks.aws NodeConfig"
        c = ((doc.get("spec") or {}).get("cluster") or {})
        spec_cluster.update({k: v for k, v in c.items() if v})
    if not found:
        return "no application/node.eks.aws NodeConfig part in the MIME document"
    want = {"name": cluster["name"], "apiServerEndpoint": cluster.get("endpoint"),
            "certificateAuthority": (cluster.get("certificateAuthority") or {}).get("data")}
    for k, v in want.items():
        got = spec_cluster.get(k)
        if not got:
            return f"NodeConfig spec.cluster.{k} is missing"
        if str(got).strip() != str(v).strip():
            return f"NodeConfig spec.cluster.{k} does not match the cluster"
    if not spec_cluster.get("cidr"):
        return "NodeConfig spec.cluster.cidr is missing"
    return None


class EKS:
    def __init__(self, sim):
        self.sim = sim
        self.kube = {}   # (account, region, name) -> KubeProc

    # ----------------------------------------------------------- helpers
    def _c(self, ctx, name):
        c = ctx.state()["eks_clusters"].get(name)
        if c is None:
            raise AwsError("ResourceNotFoundException", f"No cluster found for name: {name}.", 404,
                           extra={"clusterName": name})
        return c

    def _ng(self, c, name):
        ng = c["_nodegroups"].get(name)
        if ng is None:
            raise AwsError("ResourceNotFoundException", f"No node group found for name: {name}.", 404,
                           extra={"clusterName": c["name"], "nodegroupName": name})
        return ng

    def _out(self, r):
        return {k: v for k, v in r.items() if not k.startswith("_")}

    def _later(self, s):
        return self.sim.clock.later(s)

    def _role_ok(self, ctx, arn, service):
        role = self.sim.services["iam"].role_by_arn(ctx.account, arn)
        if role is None or role["_ready"] > ctx.now or service not in role["_doc"]:
            return None
        return role

    def _creator(self, ctx):
        arn = ctx.identity["arn"]
        m = re.match(r"^arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", arn)
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}" if m else arn

    # ----------------------------------------------------------- clusters
    def CreateCluster(self, ctx, p):
        st = ctx.state()
        name = p["name"]
        if not re.fullmatch(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}", name):
            raise _ip(f"The cluster name {name} is invalid: it must start with an alphanumeric character and "
                      "contain only alphanumerics, hyphens and underscores (max 100).", clusterName=name)
        old = st["eks_clusters"].get(name)
        if old is not None:
            if p.get("clientRequestToken") and old.get("clientRequestToken") == p["clientRequestToken"]:
                return {"cluster": self._out(old)}
            raise AwsError("ResourceInUseException", f"Cluster already exists with name: {name}", 409,
                           extra={"clusterName": name})
        version = p.get("version") or cat.default_version(ctx.now)
        if version not in cat.available(ctx.now):
            raise _ip("unsupported Kubernetes version", clusterName=name)
        if self._role_ok(ctx, p["roleArn"], "eks.amazonaws.com") is None:
            raise _ip(f"Role with arn: {p['roleArn']}, could not be assumed because it does not exist or the "
                      "trusted entity is not correct", clusterName=name)
        vpc = p["resourcesVpcConfig"]
        ec2 = self.sim.services["ec2"]
        subs = []
        for sid in vpc.get("subnetIds") or []:
            sub = ec2.lookup(st, "subnets", sid)   # EC2's eventual consistency: a new id may be unknown yet
            if sub is None:
                raise _ip(f"The subnet ID '{sid}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: "
                          "InvalidSubnetID.NotFound)", clusterName=name)
            subs.append(sub)
        if len({s["AvailabilityZone"] for s in subs}) < 2:
            raise _ip("Subnets specified must be in at least two different AZs", clusterName=name)
        if len({s["VpcId"] for s in subs}) != 1:
            raise _ip("Subnets must all be in the same VPC", clusterName=name)
        vpc_id = subs[0]["VpcId"]
        for gid in vpc.get("securityGroupIds") or []:
            sg = ec2.lookup(st, "sgs", gid)
            if sg is None or sg["VpcId"] != vpc_id:
                raise _ip(f"The security group '{gid}' does not exist or is not in VPC {vpc_id}", clusterName=name)
        acc = p.get("accessConfig") or {}
        mode = acc.get("authenticationMode", "CONFIG_MAP")
        bootstrap = acc.get("bootstrapClusterCreatorAdminPermissions", True)
        cid = str(uuid.uuid4())
        csg = ec2.create_sg(ctx, vpc_id, f"eks-cluster-sg-{name}-{hexid(10)}",
                            "EKS created security group applied to ENI that is attached to EKS Control Plane master "
                            "nodes, as well as any managed workloads.",
                            {"aws:eks:cluster-name": name, f"kubernetes.io/cluster/{name}": "owned",
                             "Name": f"eks-cluster-sg-{name}-{hexid(10)}"})
        csg["_rules"].append(ec2._rule(csg, False, "-1", None, None, {"group": csg["GroupId"]}))
        csg["_eks"] = name
        enis = []
        for sub in subs[:2]:
            e = ec2.create_eni(ctx, sub, f"Amazon EKS {name}", [csg["GroupId"]] + list(vpc.get("securityGroupIds") or []),
                               {}, requester="AROAEKSCONTROLPLANE:" + cid[:8], status="in-use")
            e["_eks"] = name
            enis.append(e["NetworkInterfaceId"])
        oidc = hexid(32).upper()
        c = {"name": name, "arn": f"arn:{ctx.partition}:eks:{ctx.region}:{ctx.account}:cluster/{name}",
             "createdAt": ctx.now, "version": version, "roleArn": p["roleArn"],
             "resourcesVpcConfig": {"subnetIds": [s["SubnetId"] for s in subs],
                                    "securityGroupIds": list(vpc.get("securityGroupIds") or []),
                                    "clusterSecurityGroupId": csg["GroupId"], "vpcId": vpc_id,
                                    "endpointPublicAccess": vpc.get("endpointPublicAccess", True),
                                    "endpointPrivateAccess": vpc.get("endpointPrivateAccess", False),
                                    "publicAccessCidrs": vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]},
             "kubernetesNetworkConfig": {"serviceIpv4Cidr": (p.get("kubernetesNetworkConfig") or {}).get(
                 "serviceIpv4Cidr", "172.20.0.0/16"), "ipFamily": (p.get("kubernetesNetworkConfig") or {}).get(
                 "ipFamily", "ipv4")},
             "logging": p.get("logging") or {"clusterLogging": [{"types": ["api", "audit", "authenticator",
                                                                            "controllerManager", "scheduler"],
                                                                  "enabled": False}]},
             "identity": {"oidc": {"issuer": f"https://oidc.eks.{ctx.region}.amazonaws.com/id/{oidc}"}},
             "status": "CREATING", "platformVersion": cat.CALENDAR[version][5], "tags": dict(p.get("tags") or {}),
             "accessConfig": {"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": bootstrap},
             "upgradePolicy": {"supportType": (p.get("upgradePolicy") or {}).get("supportType", "EXTENDED")},
             "_nodegroups": {}, "_updates": {}, "_access": {}, "_sg": csg["GroupId"], "_enis": enis,
             "_addons": {}, "_pia": {}, "_insights": {}, "_netpol": False,
             "_self_managed": set(cat.SELF_MANAGED) if p.get("bootstrapSelfManagedAddons", True) else set(),
             "_next": (self._later(T_CLUSTER_CREATE), "ACTIVE"), "_region": ctx.region, "_account": ctx.account}
        if p.get("clientRequestToken"):
            c["clientRequestToken"] = p["clientRequestToken"]
        if p.get("encryptionConfig"):
            c["encryptionConfig"] = p["encryptionConfig"]
        st["eks_clusters"][name] = c
        if bootstrap and mode != "CONFIG_MAP":
            e = self._new_access(ctx, c, self._creator(ctx), "STANDARD", [], None, {})
            e["_policies"]["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"] = {
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                "accessScope": {"type": "cluster", "namespaces": []}, "associatedAt": ctx.now, "modifiedAt": ctx.now}
        return {"cluster": self._out(c)}

    def DescribeCluster(self, ctx, p):
        return {"cluster": self._out(self._c(ctx, p["name"]))}

    def ListClusters(self, ctx, p):
        names = sorted(ctx.state()["eks_clusters"])
        page, nxt = paginate(names, p.get("nextToken"), p.get("maxResults"), 100)
        out = {"clusters": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def DeleteCluster(self, ctx, p):
        c = self._c(ctx, p["name"])
        if c["_nodegroups"]:
            raise AwsError("ResourceInUseException", "Cluster has nodegroups attached", 409,
                           extra={"clusterName": c["name"]})
        if c["status"] != "DELETING":
            c["status"] = "DELETING"
            c["_next"] = (self._later(T_CLUSTER_DELETE), "GONE")
        return {"cluster": self._out(c)}

    def _new_update(self, c, ng, typ, params, addon=None):
        uid = str(uuid.uuid4())
        u = {"id": uid, "status": "InProgress", "type": typ, "params": params, "createdAt": self.sim.clock.now(),
             "errors": [], "_ng": ng, "_addon": addon}
        c["_updates"][uid] = u
        return u

    def UpdateClusterConfig(self, ctx, p):
        c = self._c(ctx, p["name"])
        kinds = [k for k in ("resourcesVpcConfig", "logging", "accessConfig", "upgradePolicy") if p.get(k)]
        if len(kinds) != 1:
            raise _ip("Only one type of update can be allowed." if kinds else "No changes needed",
                      clusterName=c["name"])
        self._active(c)
        k = kinds[0]
        v = p[k]
        if k == "accessConfig":
            order = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]
            cur = c["accessConfig"]["authenticationMode"]
            new = v.get("authenticationMode", cur)
            if new == cur:
                raise _ip("Unsupported authentication mode update: no change", clusterName=c["name"])
            if order.index(new) < order.index(cur):
                raise _ip(f"Unsupported authentication mode update from {cur} to {new}", clusterName=c["name"])
            u = self._new_update(c, None, "AccessConfigUpdate", [{"type": "AuthenticationMode", "value": new}])
        elif k == "upgradePolicy":
            want = v.get("supportType", c["upgradePolicy"]["supportType"])
            if want == c["upgradePolicy"]["supportType"]:
                raise _ip(f"Cluster is already at the desired upgrade policy support type {want}",
                          clusterName=c["name"])
            u = self._new_update(c, None, "UpgradePolicyUpdate", [{"type": "UpgradePolicy",
                                                                   "value": json.dumps({"supportType": want})}])
            v = {"supportType": want}
        elif k == "logging":
            if v == c["logging"]:
                raise _ip("No changes needed for the logging config provided", clusterName=c["name"])
            u = self._new_update(c, None, "LoggingUpdate", [{"type": "ClusterLogging", "value": json.dumps(v)}])
        else:
            params = []
            cur = c["resourcesVpcConfig"]
            for fld, typ in (("endpointPublicAccess", "EndpointPublicAccess"),
                             ("endpointPrivateAccess", "EndpointPrivateAccess"),
                             ("publicAccessCidrs", "PublicAccessCidrs"), ("subnetIds", "SubnetIds"),
                             ("securityGroupIds", "SecurityGroupIds")):
                if fld in v and v[fld] != cur.get(fld):
                    params.append({"type": typ, "value": json.dumps(v[fld]) if isinstance(v[fld], (list, bool))
                                   else str(v[fld])})
            if not params:
                raise _ip("Cluster is already at the desired configuration with endpointPrivateAccess: "
                          f"{str(cur['endpointPrivateAccess']).lower()} , endpointPublicAccess: "
                          f"{str(cur['endpointPublicAccess']).lower()}, and Public Endpoint Restrictions: "
                          f"{cur['publicAccessCidrs']}", clusterName=c["name"])
            if not v.get("endpointPublicAccess", cur["endpointPublicAccess"]) and \
                    not v.get("endpointPrivateAccess", cur["endpointPrivateAccess"]):
                raise _ip("The cluster endpoint must be public, private or both", clusterName=c["name"])
            typ = "EndpointAccessUpdate" if all(x["type"].startswith(("Endpoint", "Public")) for x in params) \
                else "VpcConfigUpdate"
            u = self._new_update(c, None, typ, params)
        u["_apply"] = (k, v)
        u["_next"] = self._later(T_CLUSTER_UPDATE)
        c["status"] = "UPDATING"
        return {"update": self._out(u)}

    def _active(self, c, ng=None):
        if ng is None:
            if c["status"] == "UPDATING":
                raise AwsError("ResourceInUseException", "Cluster has an update in progress", 409,
                               extra={"clusterName": c["name"]})
            if c["status"] != "ACTIVE":
                raise AwsError("InvalidRequestException", f"Cluster '{c['name']}' is in {c['status']} state; the "
                               "operation needs ACTIVE", 400, extra={"clusterName": c["name"]})
        else:
            if ng["status"] in ("UPDATING", "CREATING", "DELETING"):
                raise AwsError("ResourceInUseException", f"Nodegroup cannot be updated as it is currently in "
                               f"{ng['status']} state", 409,
                               extra={"clusterName": c["name"], "nodegroupName": ng["nodegroupName"]})
            if ng["status"] not in ("ACTIVE", "DEGRADED"):
                raise AwsError("InvalidRequestException", f"Nodegroup {ng['nodegroupName']} is in {ng['status']} "
                               "state", 400, extra={"clusterName": c["name"], "nodegroupName": ng["nodegroupName"]})

    def UpdateClusterVersion(self, ctx, p):
        c = self._c(ctx, p["name"])
        self._active(c)
        cur, new = c["version"], p["version"]
        if new not in cat.CALENDAR or cur not in cat.CALENDAR or cat.minor(new) != cat.minor(cur) + 1:
            raise _ip(f"Unsupported Kubernetes minor version update from {cur} to {new}", clusterName=c["name"])
        if new not in cat.available(ctx.now):
            raise _ip("unsupported Kubernetes version", clusterName=c["name"])
        # Kubelets may trail the API server by KUBELET_SKEW minors; a group that would fall
        # further behind blocks the upgrade (upgrade insights do not block: EKS rolled that back).
        behind = sorted(ng["nodegroupName"] for ng in c["_nodegroups"].values()
                        if cat.minor(ng["version"]) < cat.minor(new) - cat.KUBELET_SKEW)
        if behind:
            raise _ip(f"Nodegroups {', '.join(behind)} must be updated to match cluster version {cur} before "
                      "updating cluster version", clusterName=c["name"])
        u = self._new_update(c, None, "VersionUpdate", [{"type": "Version", "value": new},
                                                         {"type": "PlatformVersion", "value": cat.CALENDAR[new][5]}])
        u["_apply"] = ("version", new)
        u["_next"] = self._later(T_CLUSTER_VERSION)
        c["status"] = "UPDATING"
        return {"update": self._out(u)}

    def DescribeClusterVersions(self, ctx, p):
        now = ctx.now
        versions = [v for v in reversed(cat.VERSIONS) if cat.status(v, now) is not None]
        if not p.get("includeAll"):
            versions = [v for v in versions if cat.status(v, now) != "UNSUPPORTED"]
        if p.get("clusterType") not in (None, "eks"):
            versions = []
        if p.get("clusterVersions"):
            versions = [v for v in versions if v in p["clusterVersions"]]
        if p.get("versionStatus"):
            versions = [v for v in versions if cat.status(v, now) == p["versionStatus"]]
        if p.get("status"):
            versions = [v for v in versions if cat.status(v, now).lower().replace("_", "-") == p["status"]]
        if p.get("defaultOnly"):
            versions = [v for v in versions if v == cat.default_version(now)]
        page, nxt = paginate([cat.version_info(v, now) for v in versions], p.get("nextToken"),
                             p.get("maxResults"), 100)
        out = {"clusterVersions": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def DescribeUpdate(self, ctx, p):
        c = self._c(ctx, p["name"])
        u = c["_updates"].get(p["updateId"])
        if u is None or (p.get("nodegroupName") or None) != u["_ng"] or \
                (p.get("addonName") or None) != u.get("_addon"):
            raise AwsError("ResourceNotFoundException", f"No update found for ID: {p['updateId']}", 404,
                           extra={"clusterName": c["name"]})
        return {"update": self._out(u)}

    def ListUpdates(self, ctx, p):
        c = self._c(ctx, p["name"])
        ng = p.get("nodegroupName")
        addon = p.get("addonName")
        if ng:
            self._ng(c, ng)
        if addon:
            self._addon(c, addon)
        ids = [u["id"] for u in c["_updates"].values() if u["_ng"] == ng and u.get("_addon") == addon]
        page, nxt = paginate(ids, p.get("nextToken"), p.get("maxResults"), 100)
        out = {"updateIds": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    # ------------------------------------------------------------- tags
    def _by_arn(self, ctx, arn):
        for c in ctx.state()["eks_clusters"].values():
            if c["arn"] == arn:
                return c
            for ng in c["_nodegroups"].values():
                if ng["nodegroupArn"] == arn:
                    return ng
            for e in c["_access"].values():
                if e["accessEntryArn"] == arn:
                    return e
            for a in c["_addons"].values():
                if a["addonArn"] == arn:
                    return a
            for x in c["_pia"].values():
                if x["associationArn"] == arn:
                    return x
        raise AwsError("NotFoundException", f"Resource {arn} not found", 404)

    def TagResource(self, ctx, p):
        r = self._by_arn(ctx, p["resourceArn"])
        r.setdefault("tags", {}).update(p["tags"])
        return {}

    def UntagResource(self, ctx, p):
        r = self._by_arn(ctx, p["resourceArn"])
        for k in p["tagKeys"]:
            r.get("tags", {}).pop(k, None)
        return {}

    def ListTagsForResource(self, ctx, p):
        return {"tags": dict(self._by_arn(ctx, p["resourceArn"]).get("tags") or {})}

    # ---------------------------------------------------------- nodegroups
    def CreateNodegroup(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        name = p["nodegroupName"]
        extra = {"clusterName": c["name"], "nodegroupName": name}
        old = c["_nodegroups"].get(name)
        if old is not None:
            if p.get("clientRequestToken") and old["_token"] == p["clientRequestToken"]:
                return {"nodegroup": self._out(old)}
            raise AwsError("ResourceInUseException", f"NodeGroup already exists with name {name} and cluster name "
                           f"{c['name']}", 409, extra=extra)
        if c["status"] != "ACTIVE":
            raise AwsError("InvalidRequestException", f"Cluster '{c['name']}' is not in ACTIVE state", 400, extra=extra)
        st = ctx.state()
        ec2 = self.sim.services["ec2"]
        role = self._role_ok(ctx, p["nodeRole"], "ec2.amazonaws.com")
        if role is None:
            raise _ip(f"Role with arn: {p['nodeRole']}, could not be assumed because it does not exist or the "
                      "trusted entity is not correct", **extra)
        names = {a.rsplit("/", 1)[-1] for a in role["_attached"]}
        if not names.intersection(NODE_POLICIES) or not names.intersection(ECR_POLICIES):
            raise _ip("The provided role doesn't have the Amazon EKS Managed Policies associated with it. Please "
                      "ensure the following policies [arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy, "
                      "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly] are attached", **extra)
        subs = []
        for sid in p["subnets"]:
            sub = ec2.lookup(st, "subnets", sid)
            if sub is None:
                raise _ip(f"Subnet {sid} does not exist", **extra)
            if sub["VpcId"] != c["resourcesVpcConfig"]["vpcId"]:
                raise _ip(f"Subnet {sid} is not in the cluster VPC {c['resourcesVpcConfig']['vpcId']}", **extra)
            subs.append(sub)
        if not subs:
            raise _ip("Subnets are required", **extra)
        sc = dict(p.get("scalingConfig") or {"minSize": 1, "maxSize": 2, "desiredSize": 2})
        sc.setdefault("minSize", 1)
        sc.setdefault("desiredSize", sc["minSize"])
        sc.setdefault("maxSize", max(sc["desiredSize"], 1))
        self._check_scaling(sc, extra)
        lt_out, lt_data, custom_ami = None, {}, None
        if p.get("launchTemplate"):
            spec = p["launchTemplate"]
            if spec.get("id") and spec.get("name"):
                raise _ip("Either launch template ID or name must be specified, not both", **extra)
            if not spec.get("id") and not spec.get("name"):
                raise _ip("Launch template ID or name must be specified", **extra)
            try:
                lt, ver = ec2.resolve_lt(ctx, spec)
            except AwsError as e:
                raise _ip(e.message, **extra)
            lt_data = ver["LaunchTemplateData"]
            lt_out = {"name": lt["LaunchTemplateName"], "version": str(ver["VersionNumber"]),
                      "id": lt["LaunchTemplateId"]}
            custom_ami = lt_data.get("ImageId")
            if lt_data.get("IamInstanceProfile"):
                raise _ip("Launch template should not specify an instance profile. The instance profile in your "
                          "launch template will be replaced by the EKS managed node group role.", **extra)
            for ni in lt_data.get("NetworkInterfaces") or []:
                if ni.get("SubnetId"):
                    raise _ip("Launch template should not specify a subnet.", **extra)
            if p.get("diskSize"):
                raise _ip("Disk size must be specified within the launch template.", **extra)
            if p.get("remoteAccess"):
                raise _ip("Remote access configuration cannot be specified with a launch template.", **extra)
            if lt_data.get("InstanceType") and p.get("instanceTypes"):
                raise _ip("Instance type specified in the launch template cannot also be specified in the "
                          "nodegroup request.", **extra)
        ami_type = p.get("amiType")
        if custom_ami:
            if ami_type and ami_type != "CUSTOM":
                raise _ip("You cannot specify an AMI Type other than CUSTOM, when specifying an image id in your "
                          "launch template.", **extra)
            if p.get("version") or p.get("releaseVersion"):
                raise _ip("You cannot specify the field kubernetesVersion or releaseVersion when using custom "
                          "AMIs.", **extra)
            ami_type = "CUSTOM"
        else:
            ami_type = ami_type or "AL2023_x86_64_STANDARD"
            if ami_type not in AMI_ARCH:
                raise _ip(f"AMI type {ami_type} is not supported by awssim", **extra)
            if lt_data.get("UserData"):
                raw = base64.b64decode(lt_data["UserData"])
                if "multipart" not in raw[:1000].decode("utf-8", "replace").lower():
                    raise _ip("Ec2LaunchTemplate user data is not in the MIME multi-part archive format", **extra)
        version = p.get("version") or c["version"]
        if version != c["version"] and not custom_ami:
            raise _ip(f"Requested Nodegroup Kubernetes version {version} must match the cluster version "
                      f"{c['version']}", **extra)
        if custom_ami:
            release = custom_ami
        else:
            arch, flavor = AMI_ARCH[ami_type]
            img = [i for i in ec2.public_images(ctx.region).values()
                   if i["_k8s"] == version and i["Architecture"] == arch and i["_flavor"] == flavor]
            release = p.get("releaseVersion") or (img[0]["_release"] if img else f"{version}.0-00000000")
        itypes = None if lt_data.get("InstanceType") else (p.get("instanceTypes") or ["t3.medium"])
        ng_id = str(uuid.uuid4())
        ng = {"nodegroupName": name, "nodegroupArn": f"arn:{ctx.partition}:eks:{ctx.region}:{ctx.account}:nodegroup/"
              f"{c['name']}/{name}/{ng_id}", "clusterName": c["name"], "version": version, "releaseVersion": release,
              "createdAt": ctx.now, "modifiedAt": ctx.now, "status": "CREATING",
              "capacityType": p.get("capacityType", "ON_DEMAND"), "scalingConfig": sc, "instanceTypes": itypes,
              "subnets": [s["SubnetId"] for s in subs], "amiType": ami_type, "nodeRole": p["nodeRole"],
              "labels": dict(p.get("labels") or {}), "taints": list(p.get("taints") or []),
              "resources": {"autoScalingGroups": [{"name": f"eks-{name}-{ng_id}"}]},
              "health": {"issues": []}, "updateConfig": p.get("updateConfig") or {"maxUnavailable": 1},
              "tags": dict(p.get("tags") or {}), "_token": p.get("clientRequestToken"), "_instances": [],
              "_next": (self._later(T_NG_CREATE), "ACTIVE"), "_lt": lt_out}
        if not lt_out:
            ng["diskSize"] = p.get("diskSize", 20)
        else:
            ng["launchTemplate"] = lt_out
        if p.get("remoteAccess"):
            ng["remoteAccess"] = p["remoteAccess"]
        c["_nodegroups"][name] = ng
        self._launch(ctx, c, ng, sc["desiredSize"])
        if c["accessConfig"]["authenticationMode"] != "CONFIG_MAP" and p["nodeRole"] not in c["_access"]:
            self._new_access(ctx, c, p["nodeRole"], "EC2_LINUX", [], None, {})
        return {"nodegroup": self._out(ng)}

    def _check_scaling(self, sc, extra):
        if sc["maxSize"] < 1:
            raise _ip("Maximum capacity must be at least 1", **extra)
        if sc["minSize"] > sc["desiredSize"]:
            raise _ip(f"Minimum capacity {sc['minSize']} can't be greater than desired size {sc['desiredSize']}", **extra)
        if sc["desiredSize"] > sc["maxSize"]:
            raise _ip(f"Desired capacity {sc['desiredSize']} can't be greater than max size {sc['maxSize']}", **extra)

    def _release_for(self, ctx, ami_type, version):
        """releaseVersion of the EKS-optimized AMI for ami_type and Kubernetes version (or None)."""
        if ami_type not in AMI_ARCH:
            return None
        arch, flavor = AMI_ARCH[ami_type]
        for i in self.sim.services["ec2"].public_images(ctx.region).values():
            if i["_k8s"] == version and i["Architecture"] == arch and i["_flavor"] == flavor:
                return i["_release"]
        return None

    def _batch_size(self, ng):
        uc = ng.get("updateConfig") or {}
        if uc.get("maxUnavailable"):
            return uc["maxUnavailable"]
        if uc.get("maxUnavailablePercentage"):
            return max(1, ng["scalingConfig"]["desiredSize"] * uc["maxUnavailablePercentage"] // 100)
        return 1

    def _image_for(self, ctx, ng):
        ec2 = self.sim.services["ec2"]
        if ng["amiType"] == "CUSTOM":
            return ng["releaseVersion"]
        arch, flavor = AMI_ARCH[ng["amiType"]]
        for i in ec2.public_images(ctx.region).values():
            if i["_k8s"] == ng["version"] and i["Architecture"] == arch and i["_flavor"] == flavor:
                return i["ImageId"]
        return None

    def _launch(self, ctx, c, ng, count):
        """Launch count instances for the node group; launch failures become health issues."""
        ec2 = self.sim.services["ec2"]
        if count <= 0:
            return
        ami = self._image_for(ctx, ng)
        lt = ng.get("_lt")
        req = {"MinCount": 1, "MaxCount": 1, "ImageId": ami}
        if lt:
            req["LaunchTemplate"] = {"LaunchTemplateId": lt["id"], "Version": lt["version"]}
            ver = ec2.resolve_lt(ctx, lt)[1]["LaunchTemplateData"]
            if not ver.get("InstanceType"):
                req["InstanceType"] = (ng["instanceTypes"] or ["t3.medium"])[0]
        else:
            req["InstanceType"] = (ng["instanceTypes"] or ["t3.medium"])[0]
        if ami is None or ec2.find_image(ctx, ami) is None or ec2.find_image(ctx, ami)["State"] != "available":
            ng["_fail"] = ("AsgInstanceLaunchFailures", f"The image id '[{ami}]' does not exist. Launching EC2 "
                           "instance failed.", [ng["resources"]["autoScalingGroups"][0]["name"]])
            return
        sg = c["_sg"]
        lt_groups = []
        if lt:
            lt_groups = ec2.resolve_lt(ctx, lt)[1]["LaunchTemplateData"].get("SecurityGroupIds") or []
        req["SecurityGroupIds"] = lt_groups or [sg]
        tags = {"eks:cluster-name": c["name"], "eks:nodegroup-name": ng["nodegroupName"],
                f"kubernetes.io/cluster/{c['name']}": "owned",
                "aws:autoscaling:groupName": ng["resources"]["autoScalingGroups"][0]["name"]}
        for i in range(count):
            sub_id = ng["subnets"][(len(ng["_instances"]) + i) % len(ng["subnets"])]
            req["SubnetId"] = sub_id
            try:
                rid = ec2.launch(ctx, dict(req), extra_tags=tags, eks=(c["name"], ng["nodegroupName"]))
            except AwsError as e:
                ng["_fail"] = ("AsgInstanceLaunchFailures", f"{e.code}: {e.message}. Launching EC2 instance failed.",
                               [ng["resources"]["autoScalingGroups"][0]["name"]])
                return
            for inst in ctx.state()["instances"].values():
                if inst["_reservation"] == rid:
                    ng["_instances"].append(inst["InstanceId"])

    def _user_data_problem(self, ctx, c, ng, lt=None):
        lt = lt or ng.get("_lt")
        if ng["amiType"] != "CUSTOM" or not lt:
            return None
        data = self.sim.services["ec2"].resolve_lt(ctx, lt)[1]["LaunchTemplateData"]
        raw = base64.b64decode(data.get("UserData") or "")
        if not raw:
            return "the launch template has no user data; a custom AMI needs a NodeConfig to join"
        return nodeconfig_problem(raw, c)

    def _terminate(self, ctx, ng, ids=None):
        ec2 = self.sim.services["ec2"]
        st = ctx.state()
        for iid in list(ids if ids is not None else ng["_instances"]):
            inst = st["instances"].get(iid)
            if inst and inst["State"]["Name"] not in ("shutting-down", "terminated"):
                ec2.terminate(ctx, inst)
            if iid in ng["_instances"]:
                ng["_instances"].remove(iid)

    def DescribeNodegroup(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        return {"nodegroup": self._out(self._ng(c, p["nodegroupName"]))}

    def ListNodegroups(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        names = sorted(c["_nodegroups"])
        page, nxt = paginate(names, p.get("nextToken"), p.get("maxResults"), 100)
        out = {"nodegroups": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def DeleteNodegroup(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        ng = self._ng(c, p["nodegroupName"])
        if ng["status"] != "DELETING":
            ng["status"] = "DELETING"
            ng["modifiedAt"] = ctx.now
            ng["_next"] = (self._later(T_NG_DELETE), "GONE")
        return {"nodegroup": self._out(ng)}

    def UpdateNodegroupConfig(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        ng = self._ng(c, p["nodegroupName"])
        self._active(c, ng)
        extra = {"clusterName": c["name"], "nodegroupName": ng["nodegroupName"]}
        params = []
        new = {}
        if p.get("labels"):
            lab = dict(ng["labels"])
            for k, v in (p["labels"].get("addOrUpdateLabels") or {}).items():
                lab[k] = v
                params.append({"type": "LabelsToAdd", "value": json.dumps({k: v})})
            for k in p["labels"].get("removeLabels") or []:
                lab.pop(k, None)
                params.append({"type": "LabelsToRemove", "value": k})
            new["labels"] = lab
        if p.get("taints"):
            taints = [t for t in ng["taints"]]
            for t in p["taints"].get("addOrUpdateTaints") or []:
                taints = [x for x in taints if x["key"] != t["key"]] + [t]
                params.append({"type": "TaintsToAdd", "value": json.dumps(t)})
            for t in p["taints"].get("removeTaints") or []:
                taints = [x for x in taints if x["key"] != t["key"]]
                params.append({"type": "TaintsToRemove", "value": json.dumps(t)})
            new["taints"] = taints
        if p.get("scalingConfig"):
            sc = dict(ng["scalingConfig"])
            sc.update(p["scalingConfig"])
            self._check_scaling(sc, extra)
            for k, typ in (("minSize", "MinSize"), ("maxSize", "MaxSize"), ("desiredSize", "DesiredSize")):
                if sc[k] != ng["scalingConfig"][k]:
                    params.append({"type": typ, "value": str(sc[k])})
            new["scalingConfig"] = sc
        if p.get("updateConfig"):
            params.append({"type": "MaxUnavailable", "value": str(p["updateConfig"].get("maxUnavailable", ""))})
            new["updateConfig"] = p["updateConfig"]
        if not params:
            raise _ip("No changes needed", **extra)
        u = self._new_update(c, ng["nodegroupName"], "ConfigUpdate", params)
        u["_apply"] = ("ngconfig", new)
        u["_next"] = self._later(T_NG_UPDATE)
        ng["status"] = "UPDATING"
        ng["modifiedAt"] = ctx.now
        return {"update": self._out(u)}

    def UpdateNodegroupVersion(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        ng = self._ng(c, p["nodegroupName"])
        self._active(c, ng)
        extra = {"clusterName": c["name"], "nodegroupName": ng["nodegroupName"]}
        params = []
        new = {}
        if p.get("launchTemplate"):
            if not ng.get("_lt"):
                raise _ip("The nodegroup was not created with a launch template", **extra)
            spec = p["launchTemplate"]
            if (spec.get("id") and spec["id"] != ng["_lt"]["id"]) or (spec.get("name") and spec["name"] != ng["_lt"]["name"]):
                raise _ip("Launch template id or name can't be changed; only the version", **extra)
            try:
                lt, ver = self.sim.services["ec2"].resolve_lt(ctx, {"id": ng["_lt"]["id"], "version": spec.get("version")})
            except AwsError as e:
                raise _ip(e.message, **extra)
            newlt = {"name": lt["LaunchTemplateName"], "version": str(ver["VersionNumber"]), "id": lt["LaunchTemplateId"]}
            if newlt["version"] != ng["_lt"]["version"]:
                params += [{"type": "LaunchTemplateName", "value": newlt["name"]},
                           {"type": "LaunchTemplateVersion", "value": newlt["version"]}]
                new["_lt"] = newlt
                if ng["amiType"] == "CUSTOM":
                    ami = ver["LaunchTemplateData"].get("ImageId")
                    if ami and ami != ng["releaseVersion"]:
                        new["releaseVersion"] = ami
        if ng["amiType"] != "CUSTOM":
            version = p.get("version") or c["version"]
            if version not in cat.CALENDAR or cat.minor(version) > cat.minor(c["version"]):
                raise _ip(f"Requested Nodegroup Kubernetes version {version} is newer than the cluster Kubernetes "
                          f"version {c['version']}", **extra)
            if cat.minor(version) < cat.minor(ng["version"]):
                raise _ip(f"Requested Nodegroup Kubernetes version {version} is older than the node group's "
                          f"version {ng['version']}; node groups cannot be downgraded", **extra)
            if version != ng["version"]:
                params.append({"type": "Version", "value": version})
                new["version"] = version
            allowed = self._release_for(ctx, ng["amiType"], version)
            if p.get("releaseVersion") and p["releaseVersion"] != allowed:
                raise _ip(f"Requested Nodegroup release version {p['releaseVersion']} is invalid. Allowed release "
                          f"version is {allowed}", **extra)
            if allowed and allowed != ng["releaseVersion"]:
                params.append({"type": "ReleaseVersion", "value": allowed})
                new["releaseVersion"] = allowed
        elif p.get("version") or p.get("releaseVersion"):
            raise _ip("You cannot specify the field kubernetesVersion or releaseVersion when using custom AMIs.",
                      **extra)
        elif "_lt" in new and ng["version"] != c["version"]:
            # EKS cannot read a custom AMI's kubelet: a new template version counts as the cluster's.
            new["version"] = c["version"]
        if not params:
            raise _ip("Nodegroup is already at the requested version", **extra)
        u = self._new_update(c, ng["nodegroupName"], "VersionUpdate", params)
        u["_apply"] = ("ngversion", new)
        u["_next"] = self._later(T_NG_SETUP)
        ng["status"] = "UPDATING"
        ng["modifiedAt"] = ctx.now
        return {"update": self._out(u)}

    # ------------------------------------------------------- access entries
    def _need_api_mode(self, c):
        if c["accessConfig"]["authenticationMode"] == "CONFIG_MAP":
            raise AwsError("InvalidRequestException", "The cluster's authentication mode must be set to one of "
                           "[API, API_AND_CONFIG_MAP] to perform this operation.", 400, extra={"clusterName": c["name"]})

    def _new_access(self, ctx, c, principal, typ, groups, username, tags):
        m = re.match(r"^arn:[^:]+:(iam|sts)::(\d{12}):(role|user|assumed-role)/(.+)$", principal)
        if not m:
            raise _ip(f"The specified principalArn is invalid: invalid arn {principal}", clusterName=c["name"])
        kind, name = m.group(3), m.group(4).rsplit("/", 1)[-1]
        if username is None:
            username = ("system:node:{{EC2PrivateDNSName}}" if typ == "EC2_LINUX"
                        else f"arn:aws:sts::{m.group(2)}:assumed-role/{name}/{{{{SessionName}}}}" if kind == "role"
                        else principal)
        if typ == "EC2_LINUX":
            groups = ["system:nodes"]
        e = {"clusterName": c["name"], "principalArn": principal, "kubernetesGroups": list(groups or []),
             "accessEntryArn": f"arn:{ctx.partition}:eks:{ctx.region}:{ctx.account}:access-entry/{c['name']}/"
             f"{kind}/{m.group(2)}/{name}/{hexid(8)}-{hexid(4)}", "createdAt": ctx.now, "modifiedAt": ctx.now,
             "tags": dict(tags or {}), "username": username, "type": typ, "_policies": {}}
        c["_access"][principal] = e
        return e

    def _entry(self, c, principal):
        e = c["_access"].get(principal)
        if e is None:
            raise AwsError("ResourceNotFoundException", "The specified principalArn could not be found. You can "
                           "view your available access entries with 'list-access-entries'.", 404,
                           extra={"clusterName": c["name"]})
        return e

    def CreateAccessEntry(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        self._need_api_mode(c)
        old = c["_access"].get(p["principalArn"])
        if old is not None:
            raise AwsError("ResourceInUseException", "The specified access entry resource is already in use on this "
                           "cluster.", 409, extra={"clusterName": c["name"]})
        typ = p.get("type", "STANDARD")
        if typ not in ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX"):
            raise _ip(f"The type {typ} is not valid", clusterName=c["name"])
        for g in p.get("kubernetesGroups") or []:
            if g.startswith("system:"):
                raise _ip(f"The kubernetes group name {g} is invalid, it cannot start with system:",
                          clusterName=c["name"])
        e = self._new_access(ctx, c, p["principalArn"], typ, p.get("kubernetesGroups"), p.get("username"), p.get("tags"))
        return {"accessEntry": self._out(e)}

    def DescribeAccessEntry(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        return {"accessEntry": self._out(self._entry(c, p["principalArn"]))}

    def UpdateAccessEntry(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        e = self._entry(c, p["principalArn"])
        if "kubernetesGroups" in p:
            e["kubernetesGroups"] = list(p["kubernetesGroups"])
        if p.get("username"):
            e["username"] = p["username"]
        e["modifiedAt"] = ctx.now
        return {"accessEntry": self._out(e)}

    def DeleteAccessEntry(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        self._entry(c, p["principalArn"])
        del c["_access"][p["principalArn"]]
        return {}

    def ListAccessEntries(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        self._need_api_mode(c)
        items = sorted(a for a, e in c["_access"].items()
                       if not p.get("associatedPolicyArn") or p["associatedPolicyArn"] in e["_policies"])
        page, nxt = paginate(items, p.get("nextToken"), p.get("maxResults"), 100)
        out = {"accessEntries": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def AssociateAccessPolicy(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        e = self._entry(c, p["principalArn"])
        m = re.fullmatch(r"arn:aws:eks::aws:cluster-access-policy/(\w+)", p["policyArn"])
        if not m or m.group(1) not in ACCESS_POLICIES:
            raise AwsError("ResourceNotFoundException", f"The specified policyArn {p['policyArn']} could not be "
                           "found.", 404, extra={"clusterName": c["name"]})
        if e["type"] != "STANDARD":
            raise _ip("Access policies can only be associated with STANDARD access entries", clusterName=c["name"])
        scope = p["accessScope"]
        if scope.get("type") == "namespace" and not scope.get("namespaces"):
            raise _ip("namespaces must be specified for an access scope of type namespace", clusterName=c["name"])
        if scope.get("type") == "cluster" and scope.get("namespaces"):
            raise _ip("namespaces cannot be specified for an access scope of type cluster", clusterName=c["name"])
        old = e["_policies"].get(p["policyArn"])
        a = {"policyArn": p["policyArn"], "accessScope": {"type": scope.get("type"), "namespaces":
                                                          list(scope.get("namespaces") or [])},
             "associatedAt": old["associatedAt"] if old else ctx.now, "modifiedAt": ctx.now}
        e["_policies"][p["policyArn"]] = a
        return {"clusterName": c["name"], "principalArn": e["principalArn"], "associatedAccessPolicy": a}

    def DisassociateAccessPolicy(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        e = self._entry(c, p["principalArn"])
        if e["_policies"].pop(p["policyArn"], None) is None:
            raise AwsError("ResourceNotFoundException", "The specified policy is not associated with the access "
                           "entry.", 404, extra={"clusterName": c["name"]})
        return {}

    def ListAssociatedAccessPolicies(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        e = self._entry(c, p["principalArn"])
        page, nxt = paginate(list(e["_policies"].values()), p.get("nextToken"), p.get("maxResults"), 100)
        out = {"clusterName": c["name"], "principalArn": e["principalArn"], "associatedAccessPolicies": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def ListAccessPolicies(self, ctx, p):
        pols = [{"name": n, "arn": f"arn:aws:eks::aws:cluster-access-policy/{n}"} for n in ACCESS_POLICIES]
        return {"accessPolicies": pols}

    # ------------------------------------------------------------ add-ons
    def _addon(self, c, name):
        a = c["_addons"].get(name)
        if a is None:
            raise AwsError("ResourceNotFoundException", f"No addon: {name} found in cluster: {c['name']}", 404,
                           extra={"clusterName": c["name"], "addonName": name})
        return a

    def _addon_cluster(self, c, name):
        if c["status"] not in ("ACTIVE", "UPDATING"):
            extra = {"clusterName": c["name"]}
            if name:
                extra["addonName"] = name
            raise AwsError("InvalidRequestException", f"Cluster '{c['name']}' is in {c['status']} state; the "
                           "operation needs an ACTIVE cluster", 400, extra=extra)

    def _parse_config(self, c, name, text, version):
        """configurationValues (JSON or YAML) checked against the add-on's schema, or {} when empty."""
        extra = {"clusterName": c["name"], "addonName": name}
        if text is None or not text.strip():
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise _ip(f"ConfigurationValue provided in request is not supported: Json schema validation failed "
                          f"with error: [$: is not valid JSON or YAML ({str(e).splitlines()[0]})]", **extra)
        errors = cat.validate_config(cat.ADDONS[name]["schema"], value)
        if errors:
            raise _ip("ConfigurationValue provided in request is not supported: Json schema validation failed with "
                      f"error: [{', '.join(errors)}]", **extra)
        return value

    def _pods_trust_ok(self, role, session_tags=True):
        """Does the role's trust policy let EKS Pod Identity assume it (and tag the session)?"""
        try:
            doc = json.loads(role["_doc"])
        except ValueError:
            return False
        need = {"sts:assumerole"} | ({"sts:tagsession"} if session_tags else set())
        got = set()
        stmts = doc.get("Statement", [])
        for s in stmts if isinstance(stmts, list) else [stmts]:
            if not isinstance(s, dict) or s.get("Effect") != "Allow" or s.get("Condition"):
                continue
            pr = s.get("Principal")
            svc = pr.get("Service") if isinstance(pr, dict) else None
            if PODS_PRINCIPAL not in (svc if isinstance(svc, list) else [svc]):
                continue
            acts = s.get("Action", [])
            for a in acts if isinstance(acts, list) else [acts]:
                a = a.lower()
                got |= need if a in ("sts:*", "*") else {a}
        return need <= got

    def _pia_role(self, ctx, c, role_arn, session_tags=True, **extra):
        role = self.sim.services["iam"].role_by_arn(ctx.account, role_arn)
        if role is None:
            raise _ip(f"Role provided in the request does not exist: {role_arn}", clusterName=c["name"], **extra)
        if not self._pods_trust_ok(role, session_tags):
            raise _ip("Trust policy of the role provided is invalid", clusterName=c["name"], **extra)
        return role

    def _new_pia(self, ctx, c, namespace, sa, role_arn, tags=None, owner=None, session_tags=True, target=None,
                 policy=None):
        for x in c["_pia"].values():
            if x["namespace"] == namespace and x["serviceAccount"] == sa:
                raise AwsError("ResourceInUseException", f"Association already exists: {x['associationId']}", 409,
                               extra={"clusterName": c["name"]})
        aid = "a-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(17))
        x = {"clusterName": c["name"], "namespace": namespace, "serviceAccount": sa, "roleArn": role_arn,
             "associationArn": f"arn:{ctx.partition}:eks:{ctx.region}:{ctx.account}:podidentityassociation/"
             f"{c['name']}/{aid}", "associationId": aid, "tags": dict(tags or {}), "createdAt": ctx.now,
             "modifiedAt": ctx.now, "disableSessionTags": not session_tags}
        if owner:
            x["ownerArn"] = owner
        if target:
            x["targetRoleArn"] = target
            x["externalId"] = str(uuid.uuid4())
        if policy:
            x["policy"] = policy
        c["_pia"][aid] = x
        return x

    def _addon_pias(self, ctx, c, name, wanted, owner_arn, namespace):
        """Validate an add-on's podIdentityAssociations; returns [(serviceAccount, roleArn)]."""
        allowed = {x["serviceAccount"] for x in cat.ADDONS[name]["podIdentity"]}
        out = []
        for item in wanted or []:
            if item["serviceAccount"] not in allowed:
                raise _ip(f"Service account {item['serviceAccount']} is not used by add-on {name}; supported: "
                          f"{', '.join(sorted(allowed)) or 'none'}", clusterName=c["name"], addonName=name)
            role = self.sim.services["iam"].role_by_arn(ctx.account, item["roleArn"])
            if role is None or not self._pods_trust_ok(role):
                raise _ip("Trust policy of the role provided is invalid. Follow the official documentation to resolve "
                          "the issue.", clusterName=c["name"], addonName=name)
            for x in c["_pia"].values():
                if x["namespace"] == namespace and x["serviceAccount"] == item["serviceAccount"] and \
                        x.get("ownerArn") != owner_arn:
                    raise AwsError("ResourceInUseException", f"Association already exists: {x['associationId']}",
                                   409, extra={"clusterName": c["name"], "addonName": name})
            out.append((item["serviceAccount"], item["roleArn"]))
        return out

    def _sync_addon_pias(self, ctx, c, a, pairs):
        for aid in [aid for aid, x in c["_pia"].items() if x.get("ownerArn") == a["addonArn"]]:
            del c["_pia"][aid]
        a["podIdentityAssociations"] = [
            self._new_pia(ctx, c, a["_namespace"], sa, role, owner=a["addonArn"])["associationArn"]
            for sa, role in pairs]

    def CreateAddon(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        name = p["addonName"]
        extra = {"clusterName": c["name"], "addonName": name}
        old = c["_addons"].get(name)
        if old is not None:
            if p.get("clientRequestToken") and old.get("_token") == p["clientRequestToken"]:
                return {"addon": self._out(old)}
            raise AwsError("ResourceInUseException", "Addon already exists.", 409, extra=extra)
        if name not in cat.ADDONS:
            raise _ip("Addon specified is not supported", **extra)
        self._addon_cluster(c, name)
        version = p.get("addonVersion") or cat.default_addon_version(name, c["version"])
        if not cat.compatible(name, version, c["version"]):
            raise _ip("Addon version specified is not supported", **extra)
        config = self._parse_config(c, name, p.get("configurationValues"), version)
        if p.get("serviceAccountRoleArn") and \
                self.sim.services["iam"].role_by_arn(ctx.account, p["serviceAccountRoleArn"]) is None:
            raise _ip(f"Role provided in the request does not exist: {p['serviceAccountRoleArn']}", **extra)
        namespace = (p.get("namespaceConfig") or {}).get("namespace") or "kube-system"
        arn = f"arn:{ctx.partition}:eks:{ctx.region}:{ctx.account}:addon/{c['name']}/{name}/{uuid.uuid4()}"
        pairs = self._addon_pias(ctx, c, name, p.get("podIdentityAssociations"), arn, namespace)
        a = {"addonName": name, "clusterName": c["name"], "status": "CREATING", "addonVersion": version,
             "health": {"issues": []}, "addonArn": arn, "createdAt": ctx.now, "modifiedAt": ctx.now,
             "tags": dict(p.get("tags") or {}), "publisher": "eks", "owner": "aws",
             "_token": p.get("clientRequestToken"), "_config": config, "_namespace": namespace,
             "_resolve": p.get("resolveConflicts") or "NONE", "_next": self._later(T_ADDON_CREATE)}
        if p.get("configurationValues") is not None:
            a["configurationValues"] = p["configurationValues"]
        if p.get("serviceAccountRoleArn"):
            a["serviceAccountRoleArn"] = p["serviceAccountRoleArn"]
        if p.get("namespaceConfig"):
            a["namespaceConfig"] = {"namespace": namespace}
        c["_addons"][name] = a
        self._sync_addon_pias(ctx, c, a, pairs)
        return {"addon": self._out(a)}

    def DescribeAddon(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        return {"addon": self._out(self._addon(c, p["addonName"]))}

    def ListAddons(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        page, nxt = paginate(sorted(c["_addons"]), p.get("nextToken"), p.get("maxResults"), 100)
        out = {"addons": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def UpdateAddon(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        a = self._addon(c, p["addonName"])
        name = a["addonName"]
        extra = {"clusterName": c["name"], "addonName": name}
        if a["status"] in ("CREATING", "UPDATING", "DELETING"):
            raise AwsError("ResourceInUseException", f"Addon {name} cannot be updated as it is currently in "
                           f"{a['status']} state", 409, extra=extra)
        self._addon_cluster(c, name)
        params, new = [], {}
        if p.get("addonVersion") and not cat.compatible(name, p["addonVersion"], c["version"]):
            raise _ip("Addon version specified is not supported", **extra)
        if p.get("addonVersion") and p["addonVersion"] != a["addonVersion"]:
            params.append({"type": "AddonVersion", "value": p["addonVersion"]})
            new["addonVersion"] = p["addonVersion"]
        if "configurationValues" in p:
            new["_config"] = self._parse_config(c, name, p["configurationValues"], new.get("addonVersion"))
            new["configurationValues"] = p["configurationValues"]
            params.append({"type": "ConfigurationValues", "value": p["configurationValues"]})
        if p.get("serviceAccountRoleArn") is not None:
            if p["serviceAccountRoleArn"] and \
                    self.sim.services["iam"].role_by_arn(ctx.account, p["serviceAccountRoleArn"]) is None:
                raise _ip(f"Role provided in the request does not exist: {p['serviceAccountRoleArn']}", **extra)
            new["serviceAccountRoleArn"] = p["serviceAccountRoleArn"]
            params.append({"type": "ServiceAccountRoleArn", "value": p["serviceAccountRoleArn"]})
        if p.get("resolveConflicts"):
            params.append({"type": "ResolveConflicts", "value": p["resolveConflicts"]})
        if "podIdentityAssociations" in p:
            new["_pias"] = self._addon_pias(ctx, c, name, p["podIdentityAssociations"], a["addonArn"],
                                            a["_namespace"])
            params.append({"type": "PodIdentityAssociations",
                           "value": json.dumps([dict(serviceAccount=s, roleArn=r) for s, r in new["_pias"]])})
        u = self._new_update(c, None, "AddonUpdate", params, addon=name)
        u["_apply"] = ("addon", new)
        u["_next"] = self._later(T_ADDON_UPDATE)
        a["status"] = "UPDATING"
        a["modifiedAt"] = ctx.now
        return {"update": self._out(u)}

    def _finish_addon_update(self, ctx, c, u, val):
        a = c["_addons"].get(u["_addon"])
        if a is None or a["status"] != "UPDATING":
            u["status"] = "Cancelled"
            return
        for k, v in val.items():
            if k == "_pias":
                self._sync_addon_pias(ctx, c, a, v)
            elif k == "serviceAccountRoleArn" and not v:
                a.pop(k, None)
            else:
                a[k] = v
        u["status"] = "Successful"
        c["_self_managed"].discard(a["addonName"])
        a["status"] = self._addon_health(c, a)
        a["modifiedAt"] = ctx.now

    def DeleteAddon(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        a = self._addon(c, p["addonName"])
        if a["status"] != "DELETING":
            a["status"] = "DELETING"
            a["_preserve"] = bool(p.get("preserve"))
            a["_next"] = self._later(T_ADDON_DELETE)
            a["modifiedAt"] = ctx.now
        return {"addon": self._out(a)}

    def DescribeAddonVersions(self, ctx, p):
        names = [p["addonName"]] if p.get("addonName") else sorted(cat.ADDONS)
        out = []
        for name in names:
            info = cat.ADDONS.get(name)
            if info is None or (p.get("types") and info["type"] not in p["types"]) or \
                    (p.get("publishers") and "eks" not in p["publishers"]) or \
                    (p.get("owners") and "aws" not in p["owners"]):
                continue
            k8s = p.get("kubernetesVersion")
            versions = []
            for v, compat in cat.addon_versions(name, k8s):
                versions.append({
                    "addonVersion": v, "architecture": ["amd64", "arm64"], "computeTypes": ["ec2", "hybrid"],
                    "compatibilities": [{"clusterVersion": kv, "platformVersions": ["*"],
                                         "defaultVersion": cat.default_addon_version(name, kv) == v}
                                        for kv in reversed(compat) if kv in cat.CALENDAR],
                    "requiresConfiguration": False, "requiresIamPermissions": bool(info["podIdentity"])})
            if versions:
                out.append({"addonName": name, "type": info["type"], "addonVersions": versions, "publisher": "eks",
                            "owner": "aws", "defaultNamespace": "kube-system"})
        page, nxt = paginate(out, p.get("nextToken"), p.get("maxResults"), 100)
        res = {"addons": page}
        if nxt:
            res["nextToken"] = nxt
        return res

    def DescribeAddonConfiguration(self, ctx, p):
        name, version = p["addonName"], p["addonVersion"]
        if name not in cat.ADDONS:
            raise AwsError("ResourceNotFoundException", "Addon specified is not supported", 404,
                           extra={"addonName": name})
        if not cat.known_version(name, version):
            raise _ip("Addon version specified is not supported", addonName=name)
        return {"addonName": name, "addonVersion": version,
                "configurationSchema": json.dumps(cat.ADDONS[name]["schema"], sort_keys=True),
                "podIdentityConfiguration": [dict(x) for x in cat.ADDONS[name]["podIdentity"]]}

    # What EKS's coredns Deployment tolerates: CriticalAddonsOnly, and the
    # control plane's taint (no EKS node carries it).
    COREDNS_TOLERATES = ("CriticalAddonsOnly", "node-role.kubernetes.io/control-plane")

    def _schedulable(self, ng):
        """Can coredns's pods run on this group's nodes: no NoSchedule or NoExecute taint it does not tolerate."""
        return not any(t.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE") and t.get("key") not in self.COREDNS_TOLERATES
                       for t in ng.get("taints") or [])

    def _has_nodes(self, ctx_state, c):
        for ng in c["_nodegroups"].values():
            if ng["status"] in ("ACTIVE", "UPDATING", "DEGRADED") and self._schedulable(ng):
                for iid in ng["_instances"]:
                    inst = ctx_state["instances"].get(iid)
                    if inst and inst["State"]["Name"] == "running":
                        return True
        return False

    def _addon_health(self, c, a):
        """ACTIVE, or DEGRADED for a Deployment add-on (coredns) with no node to run on (none running, or
        every one tainted against its pods)."""
        if a["addonName"] == "coredns" and not self._has_nodes(self.sim.scope(c["_account"], c["_region"]), c):
            a["health"] = {"issues": [{"code": "InsufficientNumberOfReplicas", "message": "The add-on is unhealthy "
                                       "because it doesn't have the desired number of replicas.",
                                       "resourceIds": []}]}
            return "DEGRADED"
        a["health"] = {"issues": []}
        return "ACTIVE"

    def _conflicts(self, c, a):
        """Fields the add-on would take from a self-managed install of the same component."""
        if a["addonName"] not in c["_self_managed"] or a["_resolve"] == "OVERWRITE" or not a["_config"]:
            return []
        kind, obj = cat.ADDONS[a["addonName"]]["object"]
        fields = {"enableNetworkPolicy": '.spec.template.spec.containers[name="aws-network-policy-agent"].args',
                  "env": f'.spec.template.spec.containers[name="{obj}"].env',
                  "resources": f'.spec.template.spec.containers[name="{obj}"].resources'}
        return [f"{kind} {obj} - {fields.get(k, '.spec.template.spec.' + k)}" for k in sorted(a["_config"])]

    def _tick_addon(self, ctx, c, a, now):
        if a["status"] == "DEGRADED":
            a["status"] = self._addon_health(c, a)
            return
        nxt = a.get("_next")
        if not nxt or nxt > now:
            return
        a.pop("_next")
        if a["status"] == "CREATING":
            conflicts = self._conflicts(c, a)
            if conflicts:
                a["status"] = "CREATE_FAILED"
                a["health"] = {"issues": [{"code": "ConfigurationConflict", "message": "Conflicts found when trying "
                                           "to apply. Will not continue due to resolve conflicts mode. Conflicts:\n" +
                                           "\n".join(conflicts), "resourceIds": []}]}
            else:
                c["_self_managed"].discard(a["addonName"])
                a["status"] = self._addon_health(c, a)
            a["modifiedAt"] = now
        elif a["status"] == "DELETING":
            if a["addonName"] == "vpc-cni" and a["_preserve"]:
                c["_netpol_preserved"] = self._netpol_of(a)
            if a["_preserve"]:
                c["_self_managed"].add(a["addonName"])
            for aid in [aid for aid, x in c["_pia"].items() if x.get("ownerArn") == a["addonArn"]]:
                del c["_pia"][aid]
            del c["_addons"][a["addonName"]]

    @staticmethod
    def _netpol_of(a):
        return str((a.get("_config") or {}).get("enableNetworkPolicy", "false")).lower() == "true"

    def _netpol_wanted(self, c):
        a = c["_addons"].get("vpc-cni")
        if a is not None and a["status"] in ("ACTIVE", "UPDATING", "DEGRADED", "DELETING"):
            return self._netpol_of(a)
        if a is None:
            return bool(c.get("_netpol_preserved"))
        return bool(c.get("_netpol_preserved")) if a["status"] in ("CREATING", "CREATE_FAILED") else False

    def _tell_netpol(self, ctx, c):
        """Keep the cluster's kubesim told whether the VPC CNI enforces NetworkPolicy."""
        want = self._netpol_wanted(c)
        if want == c.get("_netpol"):
            return
        c["_netpol"] = want
        key = (ctx.account, ctx.region, c["name"])
        kp = self.kube.get(key)
        if kp is None or kp.proc is None:
            return

        def send():
            sent = None
            # retried while kubesim runs (busy or not answering yet), for as long
            # as a kubesim may take to start
            give_up = time.monotonic() + kubehook.START_TIMEOUT
            while time.monotonic() < give_up and kp.proc.poll() is None:
                with self.sim.lock:
                    value = c.get("_netpol")
                if value == sent:
                    return
                try:
                    kubehook.set_network_policy(kp, value)
                    sent = value
                except Exception as e:   # kubesim busy or without the endpoint: say so, retry
                    self.sim.log(f"network-policy hook for cluster {c['name']}: {e}")
                    time.sleep(0.2)
        self.sim.start_pending(("netpol",) + key, send)

    # ------------------------------------------------- pod identity
    def _pia_get(self, c, aid):
        x = c["_pia"].get(aid)
        if x is None:
            raise AwsError("ResourceNotFoundException", f"Association not found: {aid}", 404,
                           extra={"clusterName": c["name"]})
        return x

    def CreatePodIdentityAssociation(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        self._addon_cluster(c, None)
        for k in ("namespace", "serviceAccount"):
            if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", p[k]) or len(p[k]) > 253:
                raise _ip(f"The {k} '{p[k]}' is not a valid Kubernetes name", clusterName=c["name"])
        if p.get("clientRequestToken"):
            for x in c["_pia"].values():
                if x.get("_token") == p["clientRequestToken"]:
                    return {"association": self._out(x)}
        session_tags = not p.get("disableSessionTags")
        self._pia_role(ctx, c, p["roleArn"], session_tags)
        x = self._new_pia(ctx, c, p["namespace"], p["serviceAccount"], p["roleArn"], p.get("tags"),
                          session_tags=session_tags, target=p.get("targetRoleArn"), policy=p.get("policy"))
        x["_token"] = p.get("clientRequestToken")
        return {"association": self._out(x)}

    def DescribePodIdentityAssociation(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        return {"association": self._out(self._pia_get(c, p["associationId"]))}

    def ListPodIdentityAssociations(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        items = [{k: x[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId",
                                    "ownerArn") if k in x}
                 for x in sorted(c["_pia"].values(), key=lambda x: (x["namespace"], x["serviceAccount"]))
                 if (not p.get("namespace") or x["namespace"] == p["namespace"]) and
                 (not p.get("serviceAccount") or x["serviceAccount"] == p["serviceAccount"])]
        page, nxt = paginate(items, p.get("nextToken"), p.get("maxResults"), 100)
        out = {"associations": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def _not_owned(self, c, x):
        if x.get("ownerArn"):
            raise AwsError("InvalidRequestException", f"Association {x['associationId']} is managed by "
                           f"{x['ownerArn']}; change it through that add-on", 400, extra={"clusterName": c["name"]})

    def UpdatePodIdentityAssociation(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        x = self._pia_get(c, p["associationId"])
        self._not_owned(c, x)
        session_tags = not p.get("disableSessionTags", x.get("disableSessionTags", False))
        role = p.get("roleArn") or x["roleArn"]
        self._pia_role(ctx, c, role, session_tags)
        x["roleArn"] = role
        x["disableSessionTags"] = not session_tags
        if "targetRoleArn" in p:
            if p["targetRoleArn"]:
                x["targetRoleArn"] = p["targetRoleArn"]
                x.setdefault("externalId", str(uuid.uuid4()))
            else:
                x.pop("targetRoleArn", None)
                x.pop("externalId", None)
        if "policy" in p:
            x["policy"] = p["policy"]
        x["modifiedAt"] = ctx.now
        return {"association": self._out(x)}

    def DeletePodIdentityAssociation(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        x = self._pia_get(c, p["associationId"])
        self._not_owned(c, x)
        del c["_pia"][x["associationId"]]
        return {"association": self._out(x)}

    # -------------------------------------------------------- insights
    def _insights(self, ctx, c):
        """Upgrade-readiness insights for the next Kubernetes version, computed from the cluster now."""
        nxt = cat.next_version(c["version"])
        if nxt is None:
            return []
        out = []
        incompatible = [a for a in c["_addons"].values() if not cat.compatible(a["addonName"], a["addonVersion"], nxt)]
        out.append({
            "name": "Amazon EKS add-on version compatibility", "category": "UPGRADE_READINESS",
            "kubernetesVersion": nxt,
            "description": "Checks version of installed EKS add-ons to ensure they are compatible with the next "
                           "version of Kubernetes.",
            "recommendation": "Upgrade your EKS add-on to a newer version that is supported by the next Kubernetes "
                              "version.",
            "additionalInfo": {"Amazon EKS add-ons": "https://docs.aws.amazon.com/eks/latest/userguide/"
                                                     "eks-add-ons.html"},
            "status": ("ERROR", "One or more add-ons are not compatible with the next Kubernetes version.")
            if incompatible else ("PASSING", "All installed EKS add-on versions are compatible with next Kubernetes "
                                  "version."),
            "resources": [{"insightStatus": {"status": "ERROR" if a in incompatible else "PASSING",
                                             "reason": f"{a['addonName']} {a['addonVersion']}"},
                           "arn": a["addonArn"]} for a in c["_addons"].values()],
            "summary": {"addonCompatibilityDetails": [
                {"name": a["addonName"], "compatibleVersions": [v for v, _ in cat.addon_versions(a["addonName"], nxt)]}
                for a in incompatible]}})
        behind = [ng for ng in c["_nodegroups"].values()
                  if cat.minor(ng["version"]) < cat.minor(nxt) - cat.KUBELET_SKEW]
        out.append({
            "name": "Kubelet version skew", "category": "UPGRADE_READINESS", "kubernetesVersion": nxt,
            "description": "Checks for worker nodes whose kubelet would be more than "
                           f"{cat.KUBELET_SKEW} minor versions behind the control plane after the upgrade.",
            "recommendation": "Upgrade your worker nodes to the same Kubernetes version as the control plane before "
                              "upgrading the control plane.",
            "additionalInfo": {"Kubernetes version skew policy": "https://kubernetes.io/releases/"
                                                                 "version-skew-policy/#kubelet"},
            "status": ("ERROR", "Node groups would exceed the supported kubelet version skew.") if behind else
            ("PASSING", "No kubelet version skew issues detected."),
            "resources": [{"insightStatus": {"status": "ERROR" if ng in behind else "PASSING",
                                             "reason": f"kubelet {ng['version']}"},
                           "arn": ng["nodegroupArn"]} for ng in c["_nodegroups"].values()],
            "summary": {}})
        for ins in out:
            ins["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{c['arn']}/{ins['name']}/{nxt}"))
            seen = c["_insights"].get(ins["id"])
            if seen is None or seen[0] != ins["status"][0]:
                c["_insights"][ins["id"]] = (ins["status"][0], ctx.now)
            ins["lastTransitionTime"] = c["_insights"][ins["id"]][1]
            ins["lastRefreshTime"] = ctx.now
        return out

    @staticmethod
    def _insight_summary(ins):
        return {"id": ins["id"], "name": ins["name"], "category": ins["category"],
                "kubernetesVersion": ins["kubernetesVersion"], "lastRefreshTime": ins["lastRefreshTime"],
                "lastTransitionTime": ins["lastTransitionTime"], "description": ins["description"],
                "insightStatus": {"status": ins["status"][0], "reason": ins["status"][1]}}

    def ListInsights(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        f = p.get("filter") or {}
        items = [self._insight_summary(i) for i in self._insights(ctx, c)
                 if (not f.get("categories") or i["category"] in f["categories"]) and
                 (not f.get("kubernetesVersions") or i["kubernetesVersion"] in f["kubernetesVersions"]) and
                 (not f.get("statuses") or i["status"][0] in f["statuses"])]
        page, nxt = paginate(items, p.get("nextToken"), p.get("maxResults"), 100)
        out = {"insights": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    def DescribeInsight(self, ctx, p):
        c = self._c(ctx, p["clusterName"])
        for i in self._insights(ctx, c):
            if i["id"] == p["id"]:
                out = self._insight_summary(i)
                out.update({"recommendation": i["recommendation"], "additionalInfo": i["additionalInfo"],
                            "resources": i["resources"], "categorySpecificSummary": i["summary"]})
                return {"insight": out}
        raise AwsError("ResourceNotFoundException", f"No insight found for id: {p['id']}", 404,
                       extra={"clusterName": c["name"]})

    # --------------------------------------------------------------- tick
    def tick(self, now):
        for (acct, region), st in list(self.sim.scopes.items()):
            if region == "global" or not st.get("eks_clusters"):
                continue
            from .sim import Ctx
            for c in list(st["eks_clusters"].values()):
                ctx = Ctx(self.sim, "eks", "tick", acct, region, {"arn": "arn:aws:iam::aws:root"}, "tick")
                self._tick_cluster(ctx, st, c, now)

    def _tick_cluster(self, ctx, st, c, now):
        nxt = c.get("_next")
        if nxt and nxt[0] <= now:
            if nxt[1] == "ACTIVE" and c["status"] == "CREATING":
                key = (ctx.account, ctx.region, c["name"])
                if not c.get("_activating"):
                    c["_activating"] = True
                    self.sim.start_pending(key, lambda: self._activate(key, c))
            elif nxt[1] == "GONE" and c["status"] == "DELETING":
                self._remove_cluster(ctx, st, c)
                return
        for u in list(c["_updates"].values()):
            while u["status"] == "InProgress" and u.get("_next") and u["_next"] <= now:
                self._finish_update(ctx, c, u)
        for ng in list(c["_nodegroups"].values()):
            self._tick_ng(ctx, st, c, ng, now)
        for a in list(c["_addons"].values()):
            self._tick_addon(ctx, c, a, now)
        if c["status"] in ("ACTIVE", "UPDATING"):
            self._tell_netpol(ctx, c)

    def _activate(self, key, c):
        acct, region, name = key
        kp = kubehook.start(self.sim, name, region, acct)
        with self.sim.lock:
            if c["status"] != "CREATING" or self.sim.scopes.get((acct, region), {}).get("eks_clusters", {}).get(name) is not c:
                kp.stop()
                return
            self.kube[key] = kp
            c["endpoint"] = kp.endpoint
            c["certificateAuthority"] = {"data": base64.b64encode(kp.ca_pem).decode()}
            c["status"] = "ACTIVE"
            c.pop("_next", None)
            c.pop("_activating", None)

    def _remove_cluster(self, ctx, st, c):
        ec2 = self.sim.services["ec2"]
        for eid in c["_enis"]:
            e = st["enis"].get(eid)
            if e:
                ec2.release_eni(ctx, e, st)
        st["sgs"].pop(c["_sg"], None)
        kp = self.kube.pop((ctx.account, ctx.region, c["name"]), None)
        if kp:
            kp.stop()
        del st["eks_clusters"][c["name"]]

    def _finish_update(self, ctx, c, u):
        kind, val = u["_apply"]
        if kind == "ngversion":
            self._step_ngversion(ctx, c, u, val)
            return
        if kind == "addon":
            self._finish_addon_update(ctx, c, u, val)
            return
        u["status"] = "Successful"
        if kind == "accessConfig":
            c["accessConfig"]["authenticationMode"] = val["authenticationMode"]
        elif kind == "logging":
            c["logging"] = val
        elif kind == "upgradePolicy":
            c["upgradePolicy"] = dict(val)
        elif kind == "resourcesVpcConfig":
            for k, v in val.items():
                c["resourcesVpcConfig"][k] = v
        elif kind == "version":
            c["version"] = val
            c["platformVersion"] = cat.CALENDAR[val][5]
        elif kind == "ngconfig":
            ng = c["_nodegroups"].get(u["_ng"])
            if ng:
                for k, v in val.items():
                    ng[k] = v
                self._reconcile(ctx, c, ng)
                ng["status"] = "ACTIVE"
                ng["modifiedAt"] = ctx.now
            return
        c["status"] = "ACTIVE"

    def _step_ngversion(self, ctx, c, u, val):
        """One step of a managed node group's rolling update: after the setup phase, replace
        updateConfig's maxUnavailable old nodes per batch with nodes of the new version."""
        ng = c["_nodegroups"].get(u["_ng"])
        if ng is None or ng["status"] != "UPDATING":
            u["status"] = "Cancelled"
            return
        if u.get("_old") is None:
            problem = self._user_data_problem(ctx, c, ng, val.get("_lt"))
            if problem is None and val.get("releaseVersion") and ng["amiType"] == "CUSTOM":
                if self.sim.services["ec2"].find_image(ctx, val["releaseVersion"]) is None:
                    problem = f"The image id '[{val['releaseVersion']}]' does not exist"
            if problem:
                u["status"] = "Failed"
                u["errors"] = [{"errorCode": "NodeCreationFailure", "errorMessage": "Instances failed to join the "
                                f"kubernetes cluster: {problem}", "resourceIds": list(ng["_instances"])}]
                ng["status"] = "ACTIVE"
                ng["modifiedAt"] = ctx.now
                return
            u["_old"] = list(ng["_instances"])
            for k, v in val.items():
                ng[k] = v
            if "_lt" in val:
                ng["launchTemplate"] = val["_lt"]
        old = [i for i in u["_old"] if i in ng["_instances"]]
        batch = old[:self._batch_size(ng)]
        self._launch(ctx, c, ng, len(batch))
        self._terminate(ctx, ng, batch)
        u["_old"] = old[len(batch):]
        if u["_old"]:
            u["_next"] += T_NG_BATCH * self.sim.clock.timescale
            return
        u["status"] = "Successful"
        ng["status"] = "ACTIVE"
        ng["modifiedAt"] = ctx.now

    def _reconcile(self, ctx, c, ng):
        st = ctx.state()
        live = [i for i in ng["_instances"] if st["instances"].get(i) and
                st["instances"][i]["State"]["Name"] not in ("shutting-down", "terminated")]
        ng["_instances"] = live
        want = ng["scalingConfig"]["desiredSize"]
        if len(live) < want:
            self._launch(ctx, c, ng, want - len(live))
        elif len(live) > want:
            self._terminate(ctx, ng, live[want:])

    def _tick_ng(self, ctx, st, c, ng, now):
        nxt = ng.get("_next")
        if not nxt or nxt[0] > now:
            return
        ng.pop("_next")
        if nxt[1] == "ACTIVE" and ng["status"] == "CREATING":
            issue = ng.pop("_fail", None)
            if issue is None:
                problem = self._user_data_problem(ctx, c, ng)
                if problem:
                    issue = ("NodeCreationFailure", f"Instances failed to join the kubernetes cluster ({problem})",
                             list(ng["_instances"]))
            if issue:
                ng["status"] = "CREATE_FAILED"
                ng["health"] = {"issues": [{"code": issue[0], "message": issue[1], "resourceIds": issue[2]}]}
            else:
                ng["status"] = "ACTIVE"
            ng["modifiedAt"] = now
        elif nxt[1] == "GONE" and ng["status"] == "DELETING":
            self._terminate(ctx, ng)
            del c["_nodegroups"][ng["nodegroupName"]]
            if ng["nodeRole"] in c["_access"] and c["_access"][ng["nodeRole"]]["type"] == "EC2_LINUX" and \
                    not any(x["nodeRole"] == ng["nodeRole"] for x in c["_nodegroups"].values()):
                del c["_access"][ng["nodeRole"]]

    def shutdown(self):
        for kp in list(self.kube.values()):
            kp.stop()
        self.kube.clear()

    # --------------------------------------------------------------- admin
    def find_cluster(self, name, account=None, region=None):
        for (acct, reg), st in self.sim.scopes.items():
            if account and acct != account or region and reg != region:
                continue
            c = st.get("eks_clusters", {}).get(name)
            if c is not None:
                return acct, reg, st, c
        return None

    def admin_nodegroups(self, name, account=None, region=None):
        found = self.find_cluster(name, account, region)
        if found is None:
            return None
        acct, reg, st, c = found
        ec2 = self.sim.services["ec2"]
        from .sim import Ctx
        ctx = Ctx(self.sim, "eks", "admin", acct, reg, {"arn": ""}, "admin")
        out = []
        for ng in c["_nodegroups"].values():
            ud, ltd = None, None
            if ng.get("_lt"):
                try:
                    ltd = ec2.resolve_lt(ctx, ng["_lt"])[1]["LaunchTemplateData"]
                    ud = ltd.get("UserData")
                except AwsError:
                    ud = None
            insts = []
            for iid in ng["_instances"]:
                inst = st["instances"].get(iid)
                if inst:
                    # the containerd its image carries: kubesim's node loads
                    # the user data's containerd configuration as that
                    # version would
                    img = ec2.find_image(ctx, inst.get("ImageId")) or {}
                    ctd = (img.get("_containerd") or "").split()
                    insts.append({"id": iid, "state": inst["State"]["Name"], "imageId": inst.get("ImageId"),
                                  "containerd": ctd[2].lstrip("v") if len(ctd) > 2 else None,
                                  "privateIp": inst.get("PrivateIpAddress"),
                                  "privateDnsName": inst.get("PrivateDnsName"), "subnet": inst["SubnetId"],
                                  "az": inst["Placement"]["AvailabilityZone"], "instanceType": inst["InstanceType"]})
            out.append({"name": ng["nodegroupName"], "status": ng["status"], "labels": ng["labels"],
                        "taints": ng["taints"], "scaling": ng["scalingConfig"],
                        "instanceTypes": ng["instanceTypes"] or [
                            ec2.resolve_lt(ctx, ng["_lt"])[1]["LaunchTemplateData"].get("InstanceType")] if ng.get("_lt") else ng["instanceTypes"],
                        "subnets": [{"id": s, "az": st["subnets"][s]["AvailabilityZone"] if s in st["subnets"] else None,
                                     "cidr": st["subnets"][s].get("CidrBlock") if s in st["subnets"] else None}
                                    for s in ng["subnets"]],
                        "metadataOptions": kubehook.metadata_options(bool(ng.get("_lt")), ltd),
                        "amiType": ng["amiType"], "version": ng["version"], "releaseVersion": ng["releaseVersion"],
                        "capacityType": ng["capacityType"], "nodeRole": ng["nodeRole"],
                        "launchTemplate": ng.get("_lt"), "userData": ud, "instances": insts,
                        "health": ng["health"]})
        return out

    def admin_addons(self, name, account=None, region=None):
        """What kubesim needs to run the add-ons: versions, parsed configuration values, the
        effective network-policy switch and the Pod Identity associations."""
        found = self.find_cluster(name, account, region)
        if found is None:
            return None
        _, _, _, c = found
        return {"cluster": c["name"], "version": c["version"], "networkPolicy": self._netpol_wanted(c),
                "selfManaged": sorted(c["_self_managed"]),
                "addons": [{"name": a["addonName"], "version": a["addonVersion"], "status": a["status"],
                            "configuration": a.get("_config") or {}, "namespace": a["_namespace"],
                            "serviceAccountRoleArn": a.get("serviceAccountRoleArn")}
                           for a in c["_addons"].values()],
                "podIdentityAssociations": [{"id": x["associationId"], "namespace": x["namespace"],
                                             "serviceAccount": x["serviceAccount"], "roleArn": x["roleArn"],
                                             "targetRoleArn": x.get("targetRoleArn"),
                                             "disableSessionTags": x["disableSessionTags"],
                                             "ownerArn": x.get("ownerArn")} for x in c["_pia"].values()]}

    def inventory(self, account, region, st):
        if region == "global":
            return {}
        inv = {"eks:cluster": [], "eks:nodegroup": [], "eks:access-entry": [], "eks:addon": [],
               "eks:pod-identity-association": []}
        for c in st.get("eks_clusters", {}).values():
            inv["eks:cluster"].append({"id": c["name"], "arn": c["arn"], "status": c["status"], "tags": c["tags"]})
            for ng in c["_nodegroups"].values():
                inv["eks:nodegroup"].append({"id": f"{c['name']}/{ng['nodegroupName']}", "status": ng["status"]})
            for e in c["_access"].values():
                inv["eks:access-entry"].append({"id": f"{c['name']}/{e['principalArn']}", "type": e["type"]})
            for a in c["_addons"].values():
                inv["eks:addon"].append({"id": f"{c['name']}/{a['addonName']}", "status": a["status"],
                                         "version": a["addonVersion"]})
            for x in c["_pia"].values():
                inv["eks:pod-identity-association"].append({
                    "id": f"{c['name']}/{x['associationId']}", "serviceAccount": f"{x['namespace']}/"
                    f"{x['serviceAccount']}", "roleArn": x["roleArn"], "owner": x.get("ownerArn")})
        return inv

