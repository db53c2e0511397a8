"""EKS through boto3 (plus the kubesim-facing admin hooks): cluster and node
group state machines and waiters, ResourceInUseException, idempotency
tokens, CREATE_FAILED health issues for bad AL2023 user data or a missing
AMI, updates with DescribeUpdate, access entries (model overlay), tags,
Kubernetes load balancers with lingering ENIs, and a full teardown that
leaves the inventory empty."""
import base64
import json
import unittest

from botocore.exceptions import ClientError

from common import ACCOUNT, REGION, admin, advance, client, consistency, inventory, reset

W = {"Delay": 0.05, "MaxAttempts": 400}


def code(e):
    return e.response["Error"]["Code"]


def trust(svc):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": svc},
                                                                "Action": "sts:AssumeRole"}]})


def nodeconfig(name, endpoint, ca, cidr="172.20.0.0/16"):
    doc = (f"apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: {name}\n"
           f"    apiServerEndpoint: {endpoint}\n    certificateAuthority: {ca}\n    cidr: {cidr}\n")
    return ("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"SECFAAS\"\n\n--SECFAAS\n"
            f"Content-Type: application/node.eks.aws\n\n{doc}--SECFAAS--\n")


class EksTest(unittest.TestCase):
    def setUp(self):
        reset()
        self.iam, self.ec2, self.eks, self.ssm = client("iam"), client("ec2"), client("eks"), client("ssm")
        self.cluster_role = self.iam.create_role(RoleName="cluster", AssumeRolePolicyDocument=trust(
            "eks.amazonaws.com"))["Role"]["Arn"]
        self.iam.attach_role_policy(RoleName="cluster", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
        self.node_role = self.iam.create_role(RoleName="node", AssumeRolePolicyDocument=trust(
            "ec2.amazonaws.com"))["Role"]["Arn"]
        for pol in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"):
            self.iam.attach_role_policy(RoleName="node", PolicyArn=f"arn:aws:iam::aws:policy/{pol}")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        self.subs = [self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.9.{i}.0/24",
                                            AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
                     for i, z in ((1, "a"), (2, "b"))]
        advance(10)  # IAM propagation
        # the two newest versions EKS offers today (the calendar moves with the clock)
        offered = [v["clusterVersion"] for v in self.eks.describe_cluster_versions()["clusterVersions"]]
        self.old, self.new = offered[1], offered[0]

    def create_cluster(self, name="demo", **kw):
        return self.eks.create_cluster(name=name, roleArn=self.cluster_role, version=self.old,
                                       resourcesVpcConfig={"subnetIds": self.subs}, **kw)["cluster"]

    def test_cluster_lifecycle_nodegroups_and_teardown(self):
        eks, ec2 = self.eks, self.ec2
        c = self.create_cluster(clientRequestToken="tok-1", tags={"secfaas:stack": "t"},
                                accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
        self.assertEqual(c["status"], "CREATING")
        self.assertNotIn("endpoint", c)
        again = self.create_cluster(clientRequestToken="tok-1", tags={"secfaas:stack": "t"},
                                    accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
        self.assertEqual(again["arn"], c["arn"])
        with self.assertRaises(ClientError) as cm:
            self.create_cluster()
        self.assertEqual(code(cm.exception), "ResourceInUseException")
        eks.get_waiter("cluster_active").wait(name="demo", WaiterConfig=W)
        c = eks.describe_cluster(name="demo")["cluster"]
        self.assertEqual(c["endpoint"], "https://127.0.0.1:9")   # no kubesim in this suite
        self.assertIn(b"BEGIN CERTIFICATE", base64.b64decode(c["certificateAuthority"]["data"]))
        self.assertEqual(c["accessConfig"]["authenticationMode"], "API_AND_CONFIG_MAP")
        # cluster security group + control-plane ENIs exist
        sgs = ec2.describe_security_groups(Filters=[{"Name": "tag:aws:eks:cluster-name", "Values": ["demo"]}])
        self.assertEqual(len(sgs["SecurityGroups"]), 1)
        # custom-AMI node group with a correct NodeConfig
        ami = self.ssm.get_parameter(Name=f"/aws/service/eks/optimized-ami/{self.old}/amazon-linux-2023/x86_64/"
                                          "standard/recommended/image_id")["Parameter"]["Value"]
        ud = nodeconfig("demo", c["endpoint"], c["certificateAuthority"]["data"])
        lt = ec2.create_launch_template(LaunchTemplateName="ng1-lt", LaunchTemplateData={
            "ImageId": ami, "InstanceType": "m5.large",
            "UserData": base64.b64encode(ud.encode()).decode()})["LaunchTemplate"]
        ng = eks.create_nodegroup(clusterName="demo", nodegroupName="ng1", nodeRole=self.node_role,
                                  subnets=self.subs, scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
                                  launchTemplate={"id": lt["LaunchTemplateId"], "version": "1"},
                                  labels={"secfaas.io/runtime": "gvisor"},
                                  taints=[{"key": "secfaas.io/runtime", "value": "gvisor", "effect": "NO_SCHEDULE"}],
                                  clientRequestToken="ng-tok")["nodegroup"]
        self.assertEqual(ng["status"], "CREATING")
        self.assertEqual(ng["amiType"], "CUSTOM")
        eks.get_waiter("nodegroup_active").wait(clusterName="demo", nodegroupName="ng1", WaiterConfig=W)
        view = admin("GET", "eks/clusters/demo/nodegroups")
        self.assertEqual(view[0]["name"], "ng1")
        self.assertEqual(view[0]["labels"], {"secfaas.io/runtime": "gvisor"})
        self.assertEqual(base64.b64decode(view[0]["userData"]).decode(), ud)
        self.assertEqual(len(view[0]["instances"]), 2)
        self.assertEqual({s["az"] for s in view[0]["subnets"]}, {f"{REGION}a", f"{REGION}b"})
        # node instances exist in EC2 with the EKS tags
        insts = ec2.describe_instances(Filters=[{"Name": "tag:eks:nodegroup-name", "Values": ["ng1"]}])
        self.assertEqual(sum(len(r["Instances"]) for r in insts["Reservations"]), 2)
        # pagination of node groups
        for i in range(3):
            eks.create_nodegroup(clusterName="demo", nodegroupName=f"x{i}", nodeRole=self.node_role,
                                 subnets=self.subs, amiType="AL2023_x86_64_STANDARD",
                                 scalingConfig={"minSize": 0, "maxSize": 1, "desiredSize": 0})
        pages = list(eks.get_paginator("list_nodegroups").paginate(clusterName="demo",
                                                                   PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 2)
        self.assertEqual(sorted(n for p in pages for n in p["nodegroups"]), ["ng1", "x0", "x1", "x2"])
        with self.assertRaises(ClientError) as cm:
            eks.delete_cluster(name="demo")
        self.assertEqual(code(cm.exception), "ResourceInUseException")
        # update config -> UPDATING -> Successful (at real-time scale, so a slow machine cannot
        # let the 2-minute update finish before the test looks)
        admin("POST", "clock", {"timescale": 1})
        u = eks.update_nodegroup_config(clusterName="demo", nodegroupName="ng1",
                                        scalingConfig={"desiredSize": 3})["update"]
        self.assertEqual(eks.describe_nodegroup(clusterName="demo", nodegroupName="ng1")["nodegroup"]["status"],
                         "UPDATING")
        advance(200)
        admin("POST", "clock", {"timescale": 0.001})
        d = eks.describe_update(name="demo", updateId=u["id"], nodegroupName="ng1")["update"]
        self.assertEqual(d["status"], "Successful")
        self.assertEqual(len(admin("GET", "eks/clusters/demo/nodegroups")[0]["instances"]), 3)
        # a load balancer made by Kubernetes
        lb = admin("POST", "elb/load-balancers", {"cluster": "demo", "namespace": "openfaas", "service": "gateway",
                                                  "type": "nlb"})
        elbv2 = client("elbv2")
        got = elbv2.describe_load_balancers()["LoadBalancers"]
        self.assertEqual(got[0]["LoadBalancerArn"], lb["arn"])
        t = elbv2.describe_tags(ResourceArns=[lb["arn"]])["TagDescriptions"][0]["Tags"]
        self.assertIn({"Key": "kubernetes.io/cluster/demo", "Value": "owned"}, t)
        self.assertIn({"Key": "kubernetes.io/service-name", "Value": "openfaas/gateway"}, t)
        # teardown: node groups, cluster; then the leftovers
        for n in ("ng1", "x0", "x1", "x2"):
            eks.delete_nodegroup(clusterName="demo", nodegroupName=n)
        for n in ("ng1", "x0", "x1", "x2"):
            eks.get_waiter("nodegroup_deleted").wait(clusterName="demo", nodegroupName=n, WaiterConfig=W)
        eks.delete_cluster(name="demo")
        eks.get_waiter("cluster_deleted").wait(name="demo", WaiterConfig=W)
        # the simulated times at which the cluster and the node group really changed state
        ts = admin("GET", "clock")["timescale"]
        tl = admin("GET", "transitions?type=eks:cluster&id=demo")["objects"][0]["transitions"]
        self.assertEqual([t["state"] for t in tl], ["CREATING", "ACTIVE", "DELETING", "deleted"])
        self.assertGreaterEqual(tl[1]["at"] - tl[0]["at"], 600 * 0.85 * ts)
        tl = admin("GET", "transitions?type=eks:nodegroup&id=demo/ng1")["objects"][0]["transitions"]
        self.assertEqual([t["state"] for t in tl], ["CREATING", "ACTIVE", "UPDATING", "ACTIVE", "DELETING", "deleted"])
        self.assertGreaterEqual(tl[1]["at"] - tl[0]["at"], 180 * 0.85 * ts - 1e-6)   # at its deadline,
        self.assertLessEqual(tl[1]["at"] - tl[0]["at"], 180 * 1.15 * ts + 1e-6)      # not when a poll saw it
        # the NLB (and its SG/ENIs) leaked because the Service was never deleted: sweep it.
        # Real-time scale from here so the lingering ENIs stay put until the clock moves.
        admin("POST", "clock", {"timescale": 1})
        tg = elbv2.describe_target_groups(LoadBalancerArn=lb["arn"])["TargetGroups"][0]["TargetGroupArn"]
        with self.assertRaises(ClientError) as cm:
            elbv2.delete_target_group(TargetGroupArn=tg)
        self.assertEqual(code(cm.exception), "ResourceInUse")
        elbv2.delete_load_balancer(LoadBalancerArn=lb["arn"])
        # its listeners go after it: the target group stays in use a while
        with self.assertRaises(ClientError) as cm:
            elbv2.delete_target_group(TargetGroupArn=tg)
        self.assertEqual(code(cm.exception), "ResourceInUse")
        advance(20)  # 15 s +- jitter
        elbv2.delete_target_group(TargetGroupArn=tg)
        k8s_sg = ec2.describe_security_groups(Filters=[{"Name": "tag:kubernetes.io/cluster/demo",
                                                        "Values": ["owned"]}])["SecurityGroups"]
        self.assertEqual(len(k8s_sg), 1)
        with self.assertRaises(ClientError) as cm:
            ec2.delete_security_group(GroupId=k8s_sg[0]["GroupId"])
        self.assertEqual(code(cm.exception), "DependencyViolation")
        enis = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])
        self.assertTrue(enis["NetworkInterfaces"])
        self.assertTrue(all(e["Description"].startswith("ELB ") for e in enis["NetworkInterfaces"]))
        advance(120)  # in-use for 90 s +- jitter, then available for as long
        enis = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])
        self.assertEqual({e["Status"] for e in enis["NetworkInterfaces"]}, {"available"})
        advance(100)
        ec2.delete_security_group(GroupId=k8s_sg[0]["GroupId"])
        ec2.delete_launch_template(LaunchTemplateId=lt["LaunchTemplateId"])
        advance(3600)  # terminated node instances age out
        admin("POST", "clock", {"timescale": 0.001})
        for s in self.subs:
            ec2.delete_subnet(SubnetId=s)
        ec2.delete_vpc(VpcId=self.vpc)
        for r in ("cluster", "node"):
            for p in self.iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"]:
                self.iam.detach_role_policy(RoleName=r, PolicyArn=p["PolicyArn"])
            self.iam.delete_role(RoleName=r)
        self.assertEqual(inventory(), {})

    def test_nodegroup_create_failed(self):
        eks, ec2 = self.eks, self.ec2
        self.create_cluster()
        eks.get_waiter("cluster_active").wait(name="demo", WaiterConfig=W)
        c = eks.describe_cluster(name="demo")["cluster"]
        bad_ud = nodeconfig("other-cluster", c["endpoint"], c["certificateAuthority"]["data"])
        ami = self.ssm.get_parameter(Name=f"/aws/service/eks/optimized-ami/{self.old}/amazon-linux-2023/x86_64/"
                                          "standard/recommended/image_id")["Parameter"]["Value"]
        cases = {"badnc": {"ImageId": ami, "InstanceType": "m5.large",
                           "UserData": base64.b64encode(bad_ud.encode()).decode()},
                 "plain": {"ImageId": ami, "InstanceType": "m5.large",
                           "UserData": base64.b64encode(b"#!/bin/sh\n/etc/eks/bootstrap.sh demo\n").decode()},
                 "noami": {"ImageId": "ami-0000000000000dead", "InstanceType": "m5.large",
                           "UserData": base64.b64encode(nodeconfig("demo", c["endpoint"], c["certificateAuthority"]
                                                                   ["data"]).encode()).decode()}}
        want = {"badnc": "NodeCreationFailure", "plain": "NodeCreationFailure", "noami": "AsgInstanceLaunchFailures"}
        for name, data in cases.items():
            ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
            eks.create_nodegroup(clusterName="demo", nodegroupName=name, nodeRole=self.node_role, subnets=self.subs,
                                 launchTemplate={"name": name})
        advance(250)  # 180 s +- jitter
        for name in cases:
            ng = eks.describe_nodegroup(clusterName="demo", nodegroupName=name)["nodegroup"]
            self.assertEqual(ng["status"], "CREATE_FAILED", name)
            self.assertEqual(ng["health"]["issues"][0]["code"], want[name], name)
        with self.assertRaises(Exception):   # the waiter gives up on CREATE_FAILED
            eks.get_waiter("nodegroup_active").wait(clusterName="demo", nodegroupName="badnc", WaiterConfig=W)

    def test_validation_and_updates(self):
        eks = self.eks
        with self.assertRaises(ClientError) as cm:
            eks.create_cluster(name="one", roleArn=self.cluster_role, resourcesVpcConfig={"subnetIds": self.subs[:1]})
        self.assertEqual(code(cm.exception), "InvalidParameterException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        with self.assertRaises(ClientError) as cm:
            eks.describe_cluster(name="nope")
        self.assertEqual(code(cm.exception), "ResourceNotFoundException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        # IAM propagation at real-time scale (8 s x 100: many minutes of real
        # time), so no load on the machine lets the window pass unseen.
        admin("POST", "clock", {"timescale": 1})
        consistency(100)
        try:
            fresh = self.iam.create_role(RoleName="fresh", AssumeRolePolicyDocument=trust("eks.amazonaws.com"))
            with self.assertRaises(ClientError) as cm:
                eks.create_cluster(name="fresh", roleArn=fresh["Role"]["Arn"],
                                   resourcesVpcConfig={"subnetIds": self.subs})
        finally:
            consistency(0)
            admin("POST", "clock", {"timescale": 0.001})
        self.assertEqual(code(cm.exception), "InvalidParameterException")
        self.assertEqual(cm.exception.response["Error"]["Message"],
                         f"Role with arn: {fresh['Role']['Arn']}, could not be assumed because it does not exist or "
                         "the trusted entity is not correct")
        self.create_cluster()
        with self.assertRaises(ClientError) as cm:
            eks.create_nodegroup(clusterName="demo", nodegroupName="early", nodeRole=self.node_role,
                                 subnets=self.subs)
        self.assertEqual(code(cm.exception), "InvalidRequestException")
        eks.get_waiter("cluster_active").wait(name="demo", WaiterConfig=W)
        # The update in progress is looked at with the clock at real-time
        # scale, so a busy machine cannot let its 2 minutes pass first.
        admin("POST", "clock", {"timescale": 1})
        u = eks.update_cluster_config(name="demo", accessConfig={"authenticationMode": "API"})["update"]
        self.assertEqual(u["type"], "AccessConfigUpdate")
        with self.assertRaises(ClientError) as cm:
            eks.update_cluster_version(name="demo", version=self.new)
        self.assertEqual(code(cm.exception), "ResourceInUseException")
        advance(200)
        admin("POST", "clock", {"timescale": 0.001})
        self.assertEqual(eks.describe_update(name="demo", updateId=u["id"])["update"]["status"], "Successful")
        with self.assertRaises(ClientError) as cm:
            eks.update_cluster_config(name="demo", accessConfig={"authenticationMode": "CONFIG_MAP"})
        self.assertEqual(code(cm.exception), "InvalidParameterException")
        with self.assertRaises(ClientError) as cm:
            eks.update_cluster_version(name="demo", version=self.old)
        self.assertEqual(code(cm.exception), "InvalidParameterException")
        v = eks.update_cluster_version(name="demo", version=self.new)["update"]
        advance(600)
        self.assertEqual(eks.describe_update(name="demo", updateId=v["id"])["update"]["status"], "Successful")
        self.assertEqual(eks.describe_cluster(name="demo")["cluster"]["version"], self.new)
        # tags
        arn = eks.describe_cluster(name="demo")["cluster"]["arn"]
        eks.tag_resource(resourceArn=arn, tags={"a": "1"})
        self.assertEqual(eks.list_tags_for_resource(resourceArn=arn)["tags"], {"a": "1"})
        eks.untag_resource(resourceArn=arn, tagKeys=["a"])
        self.assertEqual(eks.list_tags_for_resource(resourceArn=arn)["tags"], {})

    def test_access_entries_overlay(self):
        """Access entries are not in Debian's botocore model: exercise them raw through the overlay."""
        import common
        self.create_cluster(accessConfig={"authenticationMode": "API"})
        advance(700)
        principal = f"arn:aws:iam::{ACCOUNT}:role/ci"
        enc = principal.replace(":", "%3A").replace("/", "%2F")
        st, _, body = common.raw("POST", "eks", "/clusters/demo/access-entries",
                                 json.dumps({"principalArn": principal, "type": "STANDARD"}).encode(),
                                 {"Content-Type": "application/json"})
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["accessEntry"]["principalArn"], principal)
        st, hdrs, body = common.raw("POST", "eks", "/clusters/demo/access-entries",
                                    json.dumps({"principalArn": principal}).encode(), {"Content-Type": "application/json"})
        self.assertEqual(st, 409)
        self.assertTrue(hdrs["x-amzn-ErrorType"].startswith("ResourceInUseException"))
        st, _, body = common.raw("POST", "eks", f"/clusters/demo/access-entries/{enc}/access-policies",
                                 json.dumps({"policyArn": "arn:aws:eks::aws:cluster-access-policy/"
                                                          "AmazonEKSClusterAdminPolicy",
                                             "accessScope": {"type": "cluster"}}).encode(),
                                 {"Content-Type": "application/json"})
        self.assertEqual(st, 200, body)
        st, _, body = common.raw("GET", "eks", "/clusters/demo/access-entries")
        entries = json.loads(body)["accessEntries"]
        self.assertIn(principal, entries)
        self.assertIn("arn:aws:iam::123456789012:user/secfaas-test", entries)   # the creator, bootstrapped
        st, _, body = common.raw("GET", "eks", f"/clusters/demo/access-entries/{enc}/access-policies")
        self.assertEqual(json.loads(body)["associatedAccessPolicies"][0]["accessScope"]["type"], "cluster")
        st, _, body = common.raw("POST", "eks", "/clusters/demo/access-entries",
                                 json.dumps({"principalArn": principal, "bogus": 1}).encode(),
                                 {"Content-Type": "application/json"})
        self.assertEqual(st, 400)
