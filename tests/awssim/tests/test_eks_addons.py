"""EKS add-ons and Pod Identity through boto3 (merged overlay models):
DescribeAddonVersions/DescribeAddonConfiguration, CreateAddon's version and
configurationValues checks (the schema validator's messages), conflicts with
the self-managed add-ons CreateCluster installs, CREATE_FAILED/DEGRADED with
health issues, UpdateAddon through DescribeUpdate, DeleteAddon with and
without preserve, Pod Identity associations (the role's trust policy checked
as EKS does, duplicates, ownership by an add-on), and the network-policy
switch awssim passes to the cluster's kubesim (fake kubesim on the TLS
instance records it)."""
import json
import os
import unittest

from botocore.exceptions import ClientError

from common import ACCOUNT, REGION, admin, client, inventory, reset

W = {"Delay": 0.05, "MaxAttempts": 400}


def code(e):
    return e.response["Error"]["Code"]


def trust(svc, actions="sts:AssumeRole"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": svc},
                                                                "Action": actions}]})


class Env:
    """IAM roles, a VPC and an ACTIVE cluster on the awssim at base (plain or TLS)."""

    def __init__(self, test, base=None, ca=None, bootstrap=True):
        self.base = base
        admin("POST", "reset", base=base)
        kw = {"base": base, "verify": ca} if base else {}
        self.iam, self.ec2, self.eks = (client(s, **kw) for s in ("iam", "ec2", "eks"))
        self.cluster_role = self.iam.create_role(RoleName="cluster", AssumeRolePolicyDocument=trust(
            "eks.amazonaws.com"))["Role"]["Arn"]
        self.node_role = self.iam.create_role(RoleName="node", AssumeRolePolicyDocument=trust(
            "ec2.amazonaws.com"))["Role"]["Arn"]
        for pol in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"):
            self.iam.attach_role_policy(RoleName="node", PolicyArn=f"arn:aws:iam::aws:policy/{pol}")
        self.pods_role = self.iam.create_role(RoleName="cni", AssumeRolePolicyDocument=trust(
            "pods.eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]))["Role"]["Arn"]
        vpc = self.ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
        self.subs = [self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.6.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
                     ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        admin("POST", "clock", {"advance": 10}, base=base)
        self.version = self.eks.describe_cluster_versions(defaultOnly=True)["clusterVersions"][0]["clusterVersion"]
        self.eks.create_cluster(name="c", roleArn=self.cluster_role, version=self.version,
                                bootstrapSelfManagedAddons=bootstrap, resourcesVpcConfig={"subnetIds": self.subs})
        self.eks.get_waiter("cluster_active").wait(name="c", WaiterConfig=W)
        # from here on AWS durations pass only when the test moves the clock, whatever the machine's load
        admin("POST", "clock", {"timescale": 1}, base=base)

    def advance(self, s):
        return admin("POST", "clock", {"advance": s}, base=self.base)


class AddonsTest(unittest.TestCase):
    def setUp(self):
        reset()

    def err(self, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        return cm.exception

    def test_versions_and_configuration(self):
        eks = client("eks")
        for k8s in ("1.33", "1.36"):
            got = {a["addonName"]: a for a in eks.describe_addon_versions(kubernetesVersion=k8s)["addons"]}
            self.assertEqual(set(got), {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"})
            for name, info in got.items():
                vs = info["addonVersions"]
                self.assertRegex(vs[0]["addonVersion"], r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
                defaults = [v for v in vs for c in v["compatibilities"] if c["clusterVersion"] == k8s and
                            c["defaultVersion"]]
                self.assertEqual(len(defaults), 1, (k8s, name))
                self.assertTrue(all(any(c["clusterVersion"] == k8s for c in v["compatibilities"]) for v in vs))
        kp = eks.describe_addon_versions(kubernetesVersion="1.36", addonName="kube-proxy")["addons"][0]
        self.assertTrue(all(v["addonVersion"].startswith("v1.36.") for v in kp["addonVersions"]))
        self.assertTrue(kp["addonVersions"][0]["compatibilities"][0]["defaultVersion"])
        cni = eks.describe_addon_versions(kubernetesVersion="1.36", addonName="vpc-cni")["addons"][0]
        self.assertTrue(cni["addonVersions"][0]["requiresIamPermissions"])
        self.assertEqual(eks.describe_addon_versions(addonName="nope")["addons"], [])
        cfg = eks.describe_addon_configuration(addonName="vpc-cni", addonVersion=cni["addonVersions"][0]["addonVersion"])
        schema = json.loads(cfg["configurationSchema"])
        self.assertEqual(schema["$ref"], "#/definitions/VpcCni")
        self.assertIn("enableNetworkPolicy", schema["definitions"]["VpcCni"]["properties"])
        self.assertEqual(cfg["podIdentityConfiguration"][0]["serviceAccount"], "aws-node")
        self.assertEqual(code(self.err(eks.describe_addon_configuration, addonName="vpc-cni",
                                       addonVersion="v0.0.1-eksbuild.1")), "InvalidParameterException")

    def test_lifecycle_conflicts_and_health(self):
        env = Env(self)
        eks = env.eks
        bad = {'{"enableNetworkPolicy": true}': "$.enableNetworkPolicy: boolean found, string expected",
               '{"VpcCni": {"properties": {"enableNetworkPolicy": "true"}}}':
                   "$.VpcCni: is not defined in the schema and the schema does not allow additional properties",
               'enableNetworkPolicy: "on"': "$.enableNetworkPolicy: does not match the boolean pattern",
               '{"env": {"WARM_IP_TARGET": "many"}}': "$.env.WARM_IP_TARGET: does not match the integer pattern"}
        for value, want in bad.items():
            with self.subTest(value=value):
                e = self.err(eks.create_addon, clusterName="c", addonName="vpc-cni", configurationValues=value)
                self.assertEqual(code(e), "InvalidParameterException")
                self.assertTrue(e.response["Error"]["Message"].startswith(
                    "ConfigurationValue provided in request is not supported: Json schema validation failed with "
                    "error: ["), e.response["Error"]["Message"])
                self.assertIn(want, e.response["Error"]["Message"])
        e = self.err(eks.create_addon, clusterName="c", addonName="vpc-cni", addonVersion="v1.0.0-eksbuild.1")
        self.assertEqual((code(e), e.response["Error"]["Message"]), ("InvalidParameterException",
                                                                     "Addon version specified is not supported"))
        self.assertEqual(code(self.err(eks.create_addon, clusterName="c", addonName="aws-ebs-csi-drivr")),
                         "InvalidParameterException")
        self.assertEqual(code(self.err(eks.create_addon, clusterName="nope", addonName="vpc-cni")),
                         "ResourceNotFoundException")
        # a configuration that changes the self-managed vpc-cni fails without OVERWRITE (YAML accepted)
        a = eks.create_addon(clusterName="c", addonName="vpc-cni", configurationValues='enableNetworkPolicy: "true"\n',
                             clientRequestToken="tok-1")["addon"]
        self.assertEqual(a["status"], "CREATING")
        again = eks.create_addon(clusterName="c", addonName="vpc-cni", clientRequestToken="tok-1")["addon"]
        self.assertEqual(again["addonArn"], a["addonArn"])
        e = self.err(eks.create_addon, clusterName="c", addonName="vpc-cni")
        self.assertEqual((code(e), e.response["Error"]["Message"]), ("ResourceInUseException", "Addon already exists."))
        self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        env.advance(70)
        a = eks.describe_addon(clusterName="c", addonName="vpc-cni")["addon"]
        self.assertEqual(a["status"], "CREATE_FAILED")
        (issue,) = a["health"]["issues"]
        self.assertEqual(issue["code"], "ConfigurationConflict")
        self.assertIn("Will not continue due to resolve conflicts mode", issue["message"])
        self.assertIn("DaemonSet.apps aws-node", issue["message"])
        self.assertFalse(admin("GET", "eks/clusters/c/addons")["networkPolicy"])
        # UpdateAddon with OVERWRITE repairs it
        u = eks.update_addon(clusterName="c", addonName="vpc-cni", resolveConflicts="OVERWRITE",
                             configurationValues='{"enableNetworkPolicy": "true"}')["update"]
        self.assertEqual((u["type"], u["status"]), ("AddonUpdate", "InProgress"))
        self.assertEqual(eks.describe_addon(clusterName="c", addonName="vpc-cni")["addon"]["status"], "UPDATING")
        self.assertEqual(code(self.err(eks.update_addon, clusterName="c", addonName="vpc-cni")),
                         "ResourceInUseException")
        env.advance(70)
        self.assertEqual(eks.describe_update(name="c", updateId=u["id"], addonName="vpc-cni")["update"]["status"],
                         "Successful")
        self.assertEqual(code(self.err(eks.describe_update, name="c", updateId=u["id"])), "ResourceNotFoundException")
        a = eks.describe_addon(clusterName="c", addonName="vpc-cni")["addon"]
        self.assertEqual((a["status"], a["health"]["issues"], a["configurationValues"]),
                         ("ACTIVE", [], '{"enableNetworkPolicy": "true"}'))
        view = admin("GET", "eks/clusters/c/addons")
        self.assertTrue(view["networkPolicy"])
        self.assertNotIn("vpc-cni", view["selfManaged"])
        # CoreDNS runs as a Deployment: without nodes it is DEGRADED, with nodes ACTIVE
        eks.create_addon(clusterName="c", addonName="coredns", resolveConflicts="OVERWRITE")
        env.advance(70)
        a = eks.describe_addon(clusterName="c", addonName="coredns")["addon"]
        self.assertEqual((a["status"], a["health"]["issues"][0]["code"]), ("DEGRADED", "InsufficientNumberOfReplicas"))
        # nodes whose taints its pods do not tolerate do not help (a gVisor group's NoSchedule sandbox taint)
        eks.create_nodegroup(clusterName="c", nodegroupName="t", nodeRole=env.node_role, subnets=env.subs,
                             scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1},
                             taints=[{"key": "secfaas.dev/sandbox", "value": "gvisor", "effect": "NO_SCHEDULE"}])
        env.advance(200)
        self.assertEqual(eks.describe_nodegroup(clusterName="c", nodegroupName="t")["nodegroup"]["status"], "ACTIVE")
        self.assertEqual(eks.describe_addon(clusterName="c", addonName="coredns")["addon"]["status"], "DEGRADED")
        eks.create_nodegroup(clusterName="c", nodegroupName="g", nodeRole=env.node_role, subnets=env.subs,
                             scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1})
        env.advance(200)
        self.assertEqual(eks.describe_addon(clusterName="c", addonName="coredns")["addon"]["status"], "ACTIVE")
        self.assertEqual(eks.list_addons(clusterName="c")["addons"], ["coredns", "vpc-cni"])
        # DeleteAddon: DELETING, then gone; preserve keeps the workload (and its network policy agent)
        d = eks.delete_addon(clusterName="c", addonName="vpc-cni", preserve=True)["addon"]
        self.assertEqual(d["status"], "DELETING")
        env.advance(40)
        self.assertEqual(code(self.err(eks.describe_addon, clusterName="c", addonName="vpc-cni")),
                         "ResourceNotFoundException")
        view = admin("GET", "eks/clusters/c/addons")
        self.assertTrue(view["networkPolicy"])
        self.assertIn("vpc-cni", view["selfManaged"])
        self.assertEqual([a["id"] for a in inventory()["eks:addon"]], ["c/coredns"])
        # the transition log has each add-on's states, the timed ones at their deadlines
        tl = {o["id"]: o["transitions"] for o in admin("GET", "transitions?type=eks:addon")["objects"]}
        self.assertEqual([t["state"] for t in tl["c/coredns"]], ["CREATING", "DEGRADED", "ACTIVE"])
        self.assertEqual([t["state"] for t in tl["c/vpc-cni"]],
                         ["CREATING", "CREATE_FAILED", "UPDATING", "ACTIVE", "DELETING", "deleted"])
        ts = admin("GET", "clock")["timescale"]
        self.assertGreaterEqual(tl["c/coredns"][1]["at"] - tl["c/coredns"][0]["at"], 60 * 0.85 * ts - 1e-6)
        self.assertLessEqual(tl["c/coredns"][1]["at"] - tl["c/coredns"][0]["at"], 60 * 1.15 * ts + 1e-6)

    def test_pod_identity(self):
        env = Env(self, bootstrap=False)
        eks, iam = env.eks, env.iam
        no_tag = iam.create_role(RoleName="no-tag", AssumeRolePolicyDocument=trust("pods.eks.amazonaws.com"))["Role"]
        ec2_only = iam.create_role(RoleName="ec2-only", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))["Role"]
        for arn in (no_tag["Arn"], ec2_only["Arn"]):
            e = self.err(eks.create_pod_identity_association, clusterName="c", namespace="openfaas-fn",
                         serviceAccount="fn", roleArn=arn)
            self.assertEqual((code(e), e.response["Error"]["Message"]),
                             ("InvalidParameterException", "Trust policy of the role provided is invalid"))
        # without session tags, sts:AssumeRole alone is enough
        x0 = eks.create_pod_identity_association(clusterName="c", namespace="ops", serviceAccount="job",
                                                 roleArn=no_tag["Arn"], disableSessionTags=True)["association"]
        self.assertTrue(x0["disableSessionTags"])
        x = eks.create_pod_identity_association(clusterName="c", namespace="openfaas", serviceAccount="gateway",
                                                roleArn=env.pods_role, tags={"t": "1"},
                                                clientRequestToken="pia-1")["association"]
        self.assertRegex(x["associationId"], r"^a-[a-z0-9]{17}$")
        self.assertEqual(x["associationArn"], f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/c/"
                                              f"{x['associationId']}")
        same = eks.create_pod_identity_association(clusterName="c", namespace="openfaas", serviceAccount="gateway",
                                                   roleArn=env.pods_role, clientRequestToken="pia-1")["association"]
        self.assertEqual(same["associationId"], x["associationId"])
        e = self.err(eks.create_pod_identity_association, clusterName="c", namespace="openfaas",
                     serviceAccount="gateway", roleArn=env.pods_role)
        self.assertEqual((code(e), e.response["Error"]["Message"]),
                         ("ResourceInUseException", f"Association already exists: {x['associationId']}"))
        self.assertEqual(code(self.err(eks.create_pod_identity_association, clusterName="c", namespace="Bad_NS",
                                       serviceAccount="x", roleArn=env.pods_role)), "InvalidParameterException")
        got = eks.describe_pod_identity_association(clusterName="c", associationId=x["associationId"])["association"]
        self.assertEqual((got["namespace"], got["serviceAccount"], got["roleArn"], got["tags"]),
                         ("openfaas", "gateway", env.pods_role, {"t": "1"}))
        self.assertEqual(code(self.err(eks.update_pod_identity_association, clusterName="c",
                                       associationId=x["associationId"], roleArn=ec2_only["Arn"])),
                         "InvalidParameterException")
        # an add-on's own association: listed with ownerArn, managed only through the add-on
        a = eks.create_addon(clusterName="c", addonName="vpc-cni",
                             podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": env.pods_role}])["addon"]
        (owned_arn,) = a["podIdentityAssociations"]
        e = self.err(eks.create_addon, clusterName="c", addonName="coredns",
                     podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": env.pods_role}])
        self.assertEqual(code(e), "InvalidParameterException")
        listed = eks.list_pod_identity_associations(clusterName="c")["associations"]
        owned = [y for y in listed if y["associationArn"] == owned_arn]
        self.assertEqual((owned[0]["namespace"], owned[0]["serviceAccount"], owned[0]["ownerArn"]),
                         ("kube-system", "aws-node", a["addonArn"]))
        self.assertEqual(code(self.err(eks.delete_pod_identity_association, clusterName="c",
                                       associationId=owned[0]["associationId"])), "InvalidRequestException")
        self.assertEqual([y["serviceAccount"] for y in eks.list_pod_identity_associations(
            clusterName="c", namespace="openfaas")["associations"]], ["gateway"])
        env.advance(70)
        self.assertEqual(eks.describe_addon(clusterName="c", addonName="vpc-cni")["addon"]["status"], "ACTIVE")
        eks.delete_addon(clusterName="c", addonName="vpc-cni")
        env.advance(40)
        self.assertEqual(sorted(y["serviceAccount"] for y in eks.list_pod_identity_associations(
            clusterName="c")["associations"]), ["gateway", "job"])
        d = eks.delete_pod_identity_association(clusterName="c", associationId=x["associationId"])["association"]
        self.assertEqual(d["associationId"], x["associationId"])
        self.assertEqual(code(self.err(eks.describe_pod_identity_association, clusterName="c",
                                       associationId=x["associationId"])), "ResourceNotFoundException")
        self.assertEqual([p["serviceAccount"] for p in admin("GET", "eks/clusters/c/addons")
                          ["podIdentityAssociations"]], ["job"])

    def test_network_policy_reaches_kubesim(self):
        url, ca = os.environ["AWSSIM_TLS_URL"], os.environ["AWSSIM_TLS_CA"]
        os.environ["AWSSIM_CA"] = ca
        try:
            env = Env(self, base=url, ca=ca, bootstrap=False)
            state = os.path.join(os.path.dirname(ca), "..", "state", "clusters", f"{ACCOUNT}-{REGION}-c")
            log = os.path.join(state, "netpol.jsonl")

            def sent():
                env.advance(0)     # ticks, then waits for awssim's calls to kubesim to finish
                if not os.path.exists(log):
                    return []
                with open(log) as fh:
                    return [json.loads(line)["enforce"] for line in fh]
            env.eks.create_addon(clusterName="c", addonName="vpc-cni",
                                 configurationValues='{"enableNetworkPolicy": "true"}')
            self.assertEqual(sent(), [])          # not before the add-on is ACTIVE
            env.advance(70)
            self.assertEqual(sent(), [True])
            env.eks.update_addon(clusterName="c", addonName="vpc-cni",
                                 configurationValues='{"enableNetworkPolicy": "false"}')
            env.advance(70)
            self.assertEqual(sent(), [True, False])
            env.eks.update_addon(clusterName="c", addonName="vpc-cni",
                                 configurationValues='{"enableNetworkPolicy": "true", "nodeAgent": '
                                                     '{"enablePolicyEventLogs": "true"}}')
            env.advance(70)
            env.eks.delete_addon(clusterName="c", addonName="vpc-cni")
            env.advance(40)
            self.assertEqual(sent(), [True, False, True, False])
            env.eks.delete_cluster(name="c")
            env.advance(400)
        finally:
            del os.environ["AWSSIM_CA"]
