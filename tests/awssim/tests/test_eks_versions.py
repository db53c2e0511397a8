"""Kubernetes versions and upgrades through boto3 (merged overlay models):
DescribeClusterVersions against EKS's published calendar on the simulated
clock, CreateCluster refusing versions past extended support, one minor at a
time, the kubelet skew rule that blocks a control-plane upgrade, node group
version/releaseVersion rules, a rolling node replacement that honours
updateConfig.maxUnavailable, and the upgrade insights that report add-ons the
next version no longer supports."""
import json
import unittest
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from common import REGION, admin, advance, client, reset

W = {"Delay": 0.05, "MaxAttempts": 400}

# The EKS user guide's release calendar (EKS release, end of standard, end of extended support), UTC.
CALENDAR = {"1.29": ("2024-01-23", "2025-03-23", "2026-03-23"), "1.30": ("2024-05-23", "2025-07-23", "2026-07-23"),
            "1.31": ("2024-09-26", "2025-11-26", "2026-11-26"), "1.32": ("2025-01-23", "2026-03-23", "2027-03-23"),
            "1.33": ("2025-05-29", "2026-07-29", "2027-07-29"), "1.34": ("2025-10-02", "2026-12-02", "2027-12-02"),
            "1.35": ("2026-01-27", "2027-03-27", "2028-03-27"), "1.36": ("2026-06-02", "2027-08-02", "2028-08-02")}


def day(s):
    return datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=timezone.utc)


def expected_status(v, now):
    rel, std, ext = (day(x) for x in CALENDAR[v])
    return None if now < rel else "STANDARD_SUPPORT" if now < std else "EXTENDED_SUPPORT" if now < ext else \
        "UNSUPPORTED"


def code(e):
    return e.response["Error"]["Code"]


def trust(svc):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": svc},
                                                                "Action": "sts:AssumeRole"}]})


def minor(v):
    return int(v.split(".")[1])


class VersionsTest(unittest.TestCase):
    def setUp(self):
        reset()
        self.iam, self.ec2, self.eks = client("iam"), client("ec2"), client("eks")
        self.cluster_role = self.iam.create_role(RoleName="cluster", AssumeRolePolicyDocument=trust(
            "eks.amazonaws.com"))["Role"]["Arn"]
        self.node_role = self.iam.create_role(RoleName="node", AssumeRolePolicyDocument=trust(
            "ec2.amazonaws.com"))["Role"]["Arn"]
        for pol in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"):
            self.iam.attach_role_policy(RoleName="node", PolicyArn=f"arn:aws:iam::aws:policy/{pol}")
        vpc = self.ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        self.subs = [self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
                     ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        advance(10)
        self.now = datetime.fromtimestamp(admin("GET", "clock")["epoch"], timezone.utc)

    def err(self, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        return cm.exception

    def offered(self):
        return [v["clusterVersion"] for v in self.eks.describe_cluster_versions()["clusterVersions"]]

    def test_calendar(self):
        everything = self.eks.describe_cluster_versions(includeAll=True)["clusterVersions"]
        got = {v["clusterVersion"]: v for v in everything}
        for ver in CALENDAR:
            want = expected_status(ver, self.now)
            if want is None:
                self.assertNotIn(ver, got)
                continue
            v = got[ver]
            self.assertEqual(v["versionStatus"], want, ver)
            self.assertEqual(v["status"], want.lower().replace("_", "-"), ver)
            self.assertEqual(v["endOfStandardSupportDate"], day(CALENDAR[ver][1]), ver)
            self.assertEqual(v["endOfExtendedSupportDate"], day(CALENDAR[ver][2]), ver)
            self.assertEqual(v["clusterType"], "eks")
            self.assertTrue(v["kubernetesPatchVersion"].startswith(ver + "."))
        offered = self.offered()
        self.assertEqual(offered, sorted(offered, key=minor, reverse=True))
        self.assertEqual(set(offered), {v for v in got if got[v]["versionStatus"] != "UNSUPPORTED"})
        (default,) = self.eks.describe_cluster_versions(defaultOnly=True)["clusterVersions"]
        self.assertEqual(default["versionStatus"], "STANDARD_SUPPORT")
        self.assertTrue(default["defaultVersion"])
        ext = self.eks.describe_cluster_versions(versionStatus="EXTENDED_SUPPORT")["clusterVersions"]
        self.assertEqual({v["clusterVersion"] for v in ext},
                         {v for v in CALENDAR if expected_status(v, self.now) == "EXTENDED_SUPPORT"})
        # a version past extended support cannot be created; the default comes from the API
        gone = [v for v in CALENDAR if expected_status(v, self.now) == "UNSUPPORTED"]
        self.assertTrue(gone)
        e = self.err(self.eks.create_cluster, name="old", roleArn=self.cluster_role, version=gone[-1],
                     resourcesVpcConfig={"subnetIds": self.subs})
        self.assertEqual((code(e), e.response["Error"]["Message"]), ("InvalidParameterException",
                                                                     "unsupported Kubernetes version"))
        c = self.eks.create_cluster(name="dflt", roleArn=self.cluster_role,
                                    resourcesVpcConfig={"subnetIds": self.subs})["cluster"]
        self.assertEqual(c["version"], default["clusterVersion"])
        self.assertEqual(c["platformVersion"], default["defaultPlatformVersion"])
        self.assertEqual(c["upgradePolicy"], {"supportType": "EXTENDED"})
        # the calendar follows the simulated clock: a year on, standard support of the default has ended
        advance(430 * 86400)
        later = datetime.fromtimestamp(admin("GET", "clock")["epoch"], timezone.utc)
        v = self.eks.describe_cluster_versions(clusterVersions=[default["clusterVersion"]],
                                               includeAll=True)["clusterVersions"][0]
        self.assertEqual(v["versionStatus"], expected_status(default["clusterVersion"], later))
        self.assertNotEqual(v["versionStatus"], "STANDARD_SUPPORT")

    def test_upgrades_skew_and_rolling_nodes(self):
        eks = self.eks
        offered = self.offered()
        start = offered[-1]               # the oldest version still offered
        chain = [v for v in reversed(offered) if minor(v) > minor(start)]
        self.assertGreaterEqual(len(chain), 3, "the calendar needs three newer versions for this test")
        eks.create_cluster(name="up", roleArn=self.cluster_role, version=start,
                           resourcesVpcConfig={"subnetIds": self.subs})
        eks.get_waiter("cluster_active").wait(name="up", WaiterConfig=W)
        eks.create_nodegroup(clusterName="up", nodegroupName="g", nodeRole=self.node_role, subnets=self.subs,
                             scalingConfig={"minSize": 4, "maxSize": 6, "desiredSize": 4},
                             updateConfig={"maxUnavailable": 2})
        e = self.err(eks.create_nodegroup, clusterName="up", nodegroupName="h", nodeRole=self.node_role,
                     subnets=self.subs, version=chain[0])
        self.assertEqual(code(e), "InvalidParameterException")
        eks.get_waiter("nodegroup_active").wait(clusterName="up", nodegroupName="g", WaiterConfig=W)
        ng = eks.describe_nodegroup(clusterName="up", nodegroupName="g")["nodegroup"]
        self.assertEqual(ng["version"], start)
        self.assertTrue(ng["releaseVersion"].startswith(start + "."))
        # one minor at a time, with EKS's message
        e = self.err(eks.update_cluster_version, name="up", version=chain[1])
        self.assertEqual(e.response["Error"]["Message"], f"Unsupported Kubernetes minor version update from {start} "
                                                          f"to {chain[1]}")
        # the kubelet may trail by three minors: three control-plane upgrades pass, the fourth is refused
        for v in chain[:3]:
            u = eks.update_cluster_version(name="up", version=v)["update"]
            self.assertEqual(u["type"], "VersionUpdate")
            advance(560)   # 480 s +- 15 % jitter
            self.assertEqual(eks.describe_update(name="up", updateId=u["id"])["update"]["status"], "Successful")
        cur = chain[2]
        self.assertEqual(eks.describe_cluster(name="up")["cluster"]["version"], cur)
        insights = {i["name"]: i for i in eks.list_insights(clusterName="up")["insights"]}
        nxt = chain[3] if len(chain) > 3 else None
        if nxt:
            self.assertEqual(insights["Kubelet version skew"]["insightStatus"]["status"], "ERROR")
            self.assertEqual(insights["Kubelet version skew"]["kubernetesVersion"], nxt)
            e = self.err(eks.update_cluster_version, name="up", version=nxt)
            self.assertEqual(e.response["Error"]["Message"], f"Nodegroups g must be updated to match cluster version "
                                                              f"{cur} before updating cluster version")
        # node group version rules
        e = self.err(eks.update_nodegroup_version, clusterName="up", nodegroupName="g", releaseVersion="1.0.0-1")
        self.assertIn("Requested Nodegroup release version 1.0.0-1 is invalid. Allowed release version is "
                      f"{cur}.", e.response["Error"]["Message"])
        if nxt:
            self.assertEqual(code(self.err(eks.update_nodegroup_version, clusterName="up", nodegroupName="g",
                                           version=nxt)), "InvalidParameterException")
        # a rolling replacement, two nodes at a time (maxUnavailable), watched at real-time scale
        before = {i["id"] for i in admin("GET", "eks/clusters/up/nodegroups")[0]["instances"]}
        admin("POST", "clock", {"timescale": 1})
        u = eks.update_nodegroup_version(clusterName="up", nodegroupName="g")["update"]
        self.assertEqual({p["type"]: p["value"] for p in u["params"]}["Version"], cur)
        self.assertEqual(eks.describe_nodegroup(clusterName="up", nodegroupName="g")["nodegroup"]["status"],
                         "UPDATING")
        seen = []
        for step in (70, 140):    # setup 60 s and a batch 120 s, each +- 15 % jitter
            advance(step)
            now = {i["id"] for i in admin("GET", "eks/clusters/up/nodegroups")[0]["instances"]}
            seen.append((len(before - now), len(now - before), len(now)))
            self.assertEqual(eks.describe_update(name="up", updateId=u["id"], nodegroupName="g")["update"]["status"],
                             "InProgress" if step == 70 else "Successful")
        self.assertEqual(seen, [(2, 2, 4), (4, 4, 4)])
        admin("POST", "clock", {"timescale": 0.001})
        ng = eks.describe_nodegroup(clusterName="up", nodegroupName="g")["nodegroup"]
        self.assertEqual((ng["status"], ng["version"]), ("ACTIVE", cur))
        self.assertTrue(ng["releaseVersion"].startswith(cur + "."))
        if nxt:
            u = eks.update_cluster_version(name="up", version=nxt)["update"]
            self.assertEqual(u["status"], "InProgress")

    def test_addon_incompatible_with_next_version(self):
        eks = self.eks
        offered = self.offered()
        start = offered[1]
        eks.create_cluster(name="ad", roleArn=self.cluster_role, version=start,
                           resourcesVpcConfig={"subnetIds": self.subs})
        eks.get_waiter("cluster_active").wait(name="ad", WaiterConfig=W)
        admin("POST", "clock", {"timescale": 1})
        u = eks.update_cluster_config(name="ad", upgradePolicy={"supportType": "STANDARD"})["update"]
        self.assertEqual((u["type"], u["params"][0]["type"]), ("UpgradePolicyUpdate", "UpgradePolicy"))
        advance(130)
        self.assertEqual(eks.describe_cluster(name="ad")["cluster"]["upgradePolicy"], {"supportType": "STANDARD"})
        self.assertEqual(code(self.err(eks.update_cluster_config, name="ad",
                                       upgradePolicy={"supportType": "STANDARD"})), "InvalidParameterException")
        kp = eks.describe_addon_versions(kubernetesVersion=start, addonName="kube-proxy")["addons"][0]
        default = [v["addonVersion"] for v in kp["addonVersions"]
                   if any(c["defaultVersion"] and c["clusterVersion"] == start for c in v["compatibilities"])]
        self.assertEqual(len(default), 1)
        eks.create_addon(clusterName="ad", addonName="kube-proxy")
        advance(100)
        self.assertEqual(eks.describe_addon(clusterName="ad", addonName="kube-proxy")["addon"]["addonVersion"],
                         default[0])
        (ins,) = [i for i in eks.list_insights(clusterName="ad")["insights"]
                  if i["name"] == "Amazon EKS add-on version compatibility"]
        self.assertEqual((ins["kubernetesVersion"], ins["insightStatus"]["status"]), (offered[0], "ERROR"))
        detail = eks.describe_insight(clusterName="ad", id=ins["id"])["insight"]
        (compat,) = detail["categorySpecificSummary"]["addonCompatibilityDetails"]
        self.assertEqual(compat["name"], "kube-proxy")
        self.assertTrue(all(v.startswith(f"v{offered[0]}.") for v in compat["compatibleVersions"]))
        self.assertEqual(detail["resources"][0]["insightStatus"]["status"], "ERROR")
        # insights do not block the upgrade (EKS rolled that enforcement back); afterwards the
        # old version cannot be chosen again and the add-on must move to a compatible one
        u = eks.update_cluster_version(name="ad", version=offered[0])["update"]
        advance(560)   # 480 s +- 15 % jitter
        self.assertEqual(eks.describe_update(name="ad", updateId=u["id"])["update"]["status"], "Successful")
        e = self.err(eks.update_addon, clusterName="ad", addonName="kube-proxy", addonVersion=default[0],
                     resolveConflicts="OVERWRITE", configurationValues='{"mode": "iptables"}')
        self.assertEqual(e.response["Error"]["Message"], "Addon version specified is not supported")
        u = eks.update_addon(clusterName="ad", addonName="kube-proxy", addonVersion=compat["compatibleVersions"][0])
        advance(100)
        a = eks.describe_addon(clusterName="ad", addonName="kube-proxy")["addon"]
        self.assertEqual((a["status"], a["addonVersion"]), ("ACTIVE", compat["compatibleVersions"][0]))
        self.assertEqual(eks.describe_update(name="ad", updateId=u["update"]["id"], addonName="kube-proxy")
                         ["update"]["type"], "AddonUpdate")
