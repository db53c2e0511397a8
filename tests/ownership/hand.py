#!/usr/bin/python3
"""hand.py URL COMMAND ARGS... [+ COMMAND ARGS...] - make or change AWS objects
"by hand" in the local AWS, as another team or tool would (boto3, never
secfaas), for the ownership and drift suites.  Several commands separated by
a lone "+" run in one process (starting boto3 is the slow part).  Only
loopback URLs are accepted.

  role NAME SERVICE [POLICY_ARN...]     a role trusting SERVICE, policies attached
  profile NAME [ROLE]                   an instance profile, optionally holding ROLE
  add-to-profile PROFILE ROLE
  remove-from-profile PROFILE ROLE
  delete-role NAME                      detach, remove from profiles, delete
  vpc CIDR NAME_TAG [K=V...]            a VPC with 2 subnets; prints the VPC id
  network CIDR NAME_TAG [OPTION...]     a network team's VPC: 2 public subnets (public addresses
                                        on launch, kubernetes.io/role/elb) and 2 private ones
                                        (internal-elb) in 2 AZs, an internet gateway, a NAT gateway
                                        (waits available), a route table each; one-az puts every
                                        subnet in one zone, no-nat leaves private subnets without a
                                        way out, endpoints adds the endpoints nodes need without one
                                        (ec2, ecr.api, ecr.dkr, sts; s3 on the private table),
                                        no-elb-tags leaves the load balancer role tags off, small
                                        makes /28 subnets (11 free addresses), full then uses all but
                                        5 of the first private subnet's (network interfaces).
                                        Prints {"vpc", "private", "public", ...} as JSON
  inventory VPC_ID                      everything of that VPC a careless tool could break, as
                                        sorted JSON: the VPC, subnets (attributes, tags), route
                                        tables (routes, associations, tags), gateways, addresses
  cluster NAME ROLE VPC_ID              an EKS cluster in that VPC's subnets (waits ACTIVE)
  access-entry CLUSTER PRINCIPAL_ARN    an access entry made outside secfaas
  tag-role NAME K=V...                  (re)tag a role
  elb-tag ARN K=V...                    (re)tag an ELBv2 load balancer
  igw-detach IGW_ID                     detach an internet gateway from every VPC it is attached to
  get EXPR                              print a value read with boto3 (ec2, eks, iam clients)
  eks-cidrs CLUSTER CIDR...             UpdateClusterConfig publicAccessCidrs (waits)
  eks-logging-off CLUSTER               UpdateClusterConfig: every log type off (waits)
  sg-revoke-self GROUP_ID               revoke the all-traffic-from-itself ingress rule
  sg-open GROUP_ID PORT                 authorize tcp PORT from 0.0.0.0/0
  route-delete RTB_ID CIDR              delete a route
  vpce-strip VPCE_ID SUBNET_ID SG_ID    remove a subnet and the security group from an interface endpoint
                                        (SG_ID, a group of the same VPC, takes its place), private DNS off
  subnet-public SUBNET_ID true|false    ModifySubnetAttribute MapPublicIpOnLaunch
  lt-imds LT_ID TOKENS HOP              a new default version with these IMDS options; prints it
  ng-config CLUSTER NG MAX K=V          scaling max size (the cost ceiling), add a label, remove every taint (waits)
  ng-version CLUSTER NG LT_ID VERSION   roll the node group to another template version (waits)
  role-trust NAME AWS_PRINCIPAL         let AWS_PRINCIPAL assume the role as well
  role-policies NAME DETACH_ARN ATTACH_ARN
  role-inline NAME POLICY_NAME          put an inline policy granting s3:*
  addon-pia CLUSTER ADDON [SA=ROLE...]  replace the add-on's Pod Identity associations (waits)
"""
import json
import os
import sys
import tempfile
import time
import urllib.parse

import boto3
from botocore.config import Config

URL = sys.argv[1]
HOST = urllib.parse.urlparse(URL).hostname or ""
if not (HOST.startswith("127.") or HOST in ("::1", "localhost")):
    sys.exit("hand.py: refusing non-loopback endpoint %s" % URL)
# EKS access entries are in awssim's overlay models, not in Debian's botocore
# (written once per suite: HAND_MODELS names a directory to keep them in)
_models = os.environ.get("HAND_MODELS") or tempfile.mkdtemp()
if not os.path.exists(os.path.join(_models, ".done")):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "awssim"))
    from awssimlib.wire import write_client_models  # noqa: E402

    os.makedirs(_models, exist_ok=True)
    write_client_models(_models)
    open(os.path.join(_models, ".done"), "w").close()
os.environ["AWS_DATA_PATH"] = _models
SESSION = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region_name="eu-west-1")


def client(svc):
    return SESSION.client(svc, endpoint_url=URL, region_name="us-east-1" if svc == "iam" else "eu-west-1",
                          config=Config(retries={"mode": "standard", "max_attempts": 10}))


def trust(service):
    return ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"%s"},'
            '"Action":"sts:AssumeRole"}]}' % service)


def kv(args):
    return [{"Key": a.split("=", 1)[0], "Value": a.split("=", 1)[1]} for a in args]


def until(fn, what, limit=600):
    for _ in range(limit):
        try:
            if fn():
                return
        except Exception:  # not visible yet (propagation)
            pass
        time.sleep(0.05)  # polling the simulator's state machine, not synchronising with secfaas
    sys.exit("hand.py: timed out waiting for " + what)


def eks_update(eks, name, **kw):
    u = eks.update_cluster_config(name=name, **kw)["update"]["id"]
    until(lambda: eks.describe_update(name=name, updateId=u)["update"]["status"] == "Successful", "cluster update")
    until(lambda: eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE", "cluster ACTIVE")


def network(ec2, cidr, name, opts):
    tag = lambda rt, n: [{"ResourceType": rt, "Tags": [{"Key": "Name", "Value": n}]}]  # noqa: E731
    v = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=tag("vpc", name))["Vpc"]["VpcId"]
    base = cidr.split(".")
    out = {"vpc": v, "private": [], "public": []}
    for i, kind in enumerate(("public", "public", "private", "private")):
        az = "eu-west-1a" if "one-az" in opts or i % 2 == 0 else "eu-west-1b"
        role = "kubernetes.io/role/elb" if kind == "public" else "kubernetes.io/role/internal-elb"
        box = {}
        stags = [{"Key": "Name", "Value": "%s-%s-%d" % (name, kind, i)}]
        if "no-elb-tags" not in opts:
            stags.append({"Key": role, "Value": "1"})
        bits = 28 if "small" in opts or "full" in opts else 24
        until(lambda: box.setdefault("s", ec2.create_subnet(
            VpcId=v, CidrBlock="%s.%s.%d.0/%d" % (base[0], base[1], i, bits), AvailabilityZone=az,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": stags}])), "subnet")
        sid = box["s"]["Subnet"]["SubnetId"]
        if kind == "public":
            until(lambda: ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True}), "public IPs")
        out[kind].append(sid)
    igw = ec2.create_internet_gateway(TagSpecifications=tag("internet-gateway", name))["InternetGateway"]
    until(lambda: ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=v) or True, "attach")
    # A new id is missing from EC2 for a moment (eventual consistency): each
    # call that names one retries its NotFound; a refused create made nothing.
    box = {}
    until(lambda: box.setdefault("pub", ec2.create_route_table(
        VpcId=v, TagSpecifications=tag("route-table", name + "-public"))["RouteTable"]), "public route table")
    pub = box["pub"]
    until(lambda: ec2.create_route(RouteTableId=pub["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                                   GatewayId=igw["InternetGatewayId"]), "public route")
    for sid in out["public"]:
        until(lambda: ec2.associate_route_table(RouteTableId=pub["RouteTableId"], SubnetId=sid), "associate")
    until(lambda: box.setdefault("priv", ec2.create_route_table(
        VpcId=v, TagSpecifications=tag("route-table", name + "-private"))["RouteTable"]), "private route table")
    priv = box["priv"]
    if "no-nat" not in opts:
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        until(lambda: box.setdefault("nat", ec2.create_nat_gateway(
            SubnetId=out["public"][0], AllocationId=eip, ClientToken=name + "-nat")["NatGateway"]["NatGatewayId"]),
            "NAT gateway")
        nat = box["nat"]
        until(lambda: ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"] == "available",
              "NAT gateway available", limit=2000)
        until(lambda: ec2.create_route(RouteTableId=priv["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                                       NatGatewayId=nat), "private route")
        out["nat"] = nat
    for sid in out["private"]:
        until(lambda: ec2.associate_route_table(RouteTableId=priv["RouteTableId"], SubnetId=sid), "associate")
    out["igw"] = igw["InternetGatewayId"]
    # EKS nodes need DNS hostnames (off in a new VPC), and interface
    # endpoints need them for their private DNS names
    if "no-dns-hostnames" not in opts:
        until(lambda: ec2.modify_vpc_attribute(VpcId=v, EnableDnsHostnames={"Value": True}) or True, "DNS hostnames")
    if "endpoints" in opts:
        for svc in ("ec2", "ecr.api", "ecr.dkr", "sts"):
            until(lambda: ec2.create_vpc_endpoint(VpcId=v, VpcEndpointType="Interface", SubnetIds=out["private"],
                                                  ServiceName="com.amazonaws.eu-west-1." + svc), svc + " endpoint")
        until(lambda: ec2.create_vpc_endpoint(VpcId=v, VpcEndpointType="Gateway", RouteTableIds=[priv["RouteTableId"]],
                                              ServiceName="com.amazonaws.eu-west-1.s3"), "s3 endpoint")
    if "full" in opts:
        sid = out["private"][0]
        while ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]["AvailableIpAddressCount"] > 5:
            until(lambda: ec2.create_network_interface(SubnetId=sid), "network interface")
    return out


def inventory(ec2, vpc):
    f = [{"Name": "vpc-id", "Values": [vpc]}]
    drop = ("AvailableIpAddressCount",)  # nodes and the control plane's interfaces come and go
    subs = [{k: v for k, v in s.items() if k not in drop} for s in ec2.describe_subnets(Filters=f)["Subnets"]]
    rtbs = ec2.describe_route_tables(Filters=f)["RouteTables"]
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
    nats = [n for n in ec2.describe_nat_gateways(Filter=f)["NatGateways"] if n["State"] == "available"]
    inv = {"vpc": ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"],
           "dns": [ec2.describe_vpc_attribute(VpcId=vpc, Attribute=a)[k]["Value"]
                   for a, k in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames"))],
           "subnets": sorted(subs, key=lambda s: s["SubnetId"]),
           "rtbs": sorted(rtbs, key=lambda r: r["RouteTableId"]), "igws": igws,
           "nats": sorted(nats, key=lambda n: n["NatGatewayId"]), "addresses": ec2.describe_addresses()["Addresses"]}
    return json.dumps(inv, sort_keys=True, default=str)


def main():
    iam, ec2, eks = client("iam"), client("ec2"), client("eks")
    argv = sys.argv[2:]
    while argv:
        n = argv.index("+") if "+" in argv else len(argv)
        run(iam, ec2, eks, argv[0], argv[1:n])
        argv = argv[n + 1:]


def run(iam, ec2, eks, cmd, a):
    if cmd == "role":
        iam.create_role(RoleName=a[0], AssumeRolePolicyDocument=trust(a[1]))
        for p in a[2:]:
            iam.attach_role_policy(RoleName=a[0], PolicyArn=p)
    elif cmd == "profile":
        iam.create_instance_profile(InstanceProfileName=a[0])
        if len(a) > 1:
            iam.add_role_to_instance_profile(InstanceProfileName=a[0], RoleName=a[1])
    elif cmd == "add-to-profile":
        iam.add_role_to_instance_profile(InstanceProfileName=a[0], RoleName=a[1])
    elif cmd == "remove-from-profile":
        iam.remove_role_from_instance_profile(InstanceProfileName=a[0], RoleName=a[1])
    elif cmd == "delete-role":
        for p in iam.list_attached_role_policies(RoleName=a[0])["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=a[0], PolicyArn=p["PolicyArn"])
        for p in iam.list_instance_profiles_for_role(RoleName=a[0])["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(InstanceProfileName=p["InstanceProfileName"], RoleName=a[0])
        iam.delete_role(RoleName=a[0])
    elif cmd == "tag-role":
        iam.tag_role(RoleName=a[0], Tags=kv(a[1:]))
    elif cmd == "elb-tag":
        client("elbv2").add_tags(ResourceArns=[a[0]], Tags=kv(a[1:]))
    elif cmd == "igw-detach":
        for g in ec2.describe_internet_gateways(InternetGatewayIds=[a[0]])["InternetGateways"][0]["Attachments"]:
            ec2.detach_internet_gateway(InternetGatewayId=a[0], VpcId=g["VpcId"])
    elif cmd == "vpc":
        tags = kv(["Name=" + a[1]] + a[2:])
        v = ec2.create_vpc(CidrBlock=a[0], TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])["Vpc"]["VpcId"]
        base = a[0].split(".")
        for i, az in enumerate(("eu-west-1a", "eu-west-1b")):
            until(lambda: ec2.create_subnet(VpcId=v, CidrBlock="%s.%s.%d.0/24" % (base[0], base[1], i),
                                            AvailabilityZone=az), "subnet")
        print(v)
    elif cmd == "network":
        print(json.dumps(network(ec2, a[0], a[1], a[2:])))
    elif cmd == "inventory":
        print(inventory(ec2, a[0]))
    elif cmd == "cluster":
        sn = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [a[2]]}])["Subnets"]]
        arn = iam.get_role(RoleName=a[1])["Role"]["Arn"]
        until(lambda: eks.create_cluster(name=a[0], roleArn=arn, resourcesVpcConfig={"subnetIds": sn},
                                         accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}), "create")
        until(lambda: eks.describe_cluster(name=a[0])["cluster"]["status"] == "ACTIVE", "cluster ACTIVE")
    elif cmd == "access-entry":
        eks.create_access_entry(clusterName=a[0], principalArn=a[1])
    elif cmd == "get":  # print one value read with boto3 (clients: ec2, eks, iam), as JSON
        print(json.dumps(eval(a[0], {"ec2": ec2, "eks": eks, "iam": iam}), sort_keys=True, default=str))
    elif cmd == "eks-cidrs":
        eks_update(eks, a[0], resourcesVpcConfig={"publicAccessCidrs": a[1:]})
    elif cmd == "eks-logging-off":
        eks_update(eks, a[0], logging={"clusterLogging": [{"types": ["api", "audit", "authenticator",
                                                                      "controllerManager", "scheduler"],
                                                           "enabled": False}]})
    elif cmd == "sg-revoke-self":
        ec2.revoke_security_group_ingress(GroupId=a[0], IpPermissions=[{"IpProtocol": "-1",
                                                                        "UserIdGroupPairs": [{"GroupId": a[0]}]}])
    elif cmd == "sg-open":
        ec2.authorize_security_group_ingress(GroupId=a[0], IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": int(a[1]), "ToPort": int(a[1]), "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    elif cmd == "vpce-strip":
        e = ec2.describe_vpc_endpoints(VpcEndpointIds=[a[0]])["VpcEndpoints"][0]
        ec2.modify_vpc_endpoint(VpcEndpointId=a[0], RemoveSubnetIds=[a[1]], AddSecurityGroupIds=[a[2]],
                                RemoveSecurityGroupIds=[g["GroupId"] for g in e["Groups"]], PrivateDnsEnabled=False)
    elif cmd == "route-delete":
        ec2.delete_route(RouteTableId=a[0], DestinationCidrBlock=a[1])
    elif cmd == "subnet-public":
        ec2.modify_subnet_attribute(SubnetId=a[0], MapPublicIpOnLaunch={"Value": a[1] == "true"})
    elif cmd == "lt-imds":
        v = ec2.create_launch_template_version(LaunchTemplateId=a[0], SourceVersion="$Default", LaunchTemplateData={
            "MetadataOptions": {"HttpTokens": a[1], "HttpPutResponseHopLimit": int(a[2])}})
        n = str(v["LaunchTemplateVersion"]["VersionNumber"])
        ec2.modify_launch_template(LaunchTemplateId=a[0], DefaultVersion=n)
        print(n)
    elif cmd == "ng-config":
        k, v = a[3].split("=", 1)
        ng = eks.describe_nodegroup(clusterName=a[0], nodegroupName=a[1])["nodegroup"]
        sc = dict(ng["scalingConfig"], maxSize=int(a[2]))
        u = eks.update_nodegroup_config(clusterName=a[0], nodegroupName=a[1], scalingConfig=sc,
                                        labels={"addOrUpdateLabels": {k: v}},
                                        taints={"removeTaints": ng.get("taints") or []})["update"]["id"]
        until(lambda: eks.describe_update(name=a[0], nodegroupName=a[1], updateId=u)["update"]["status"] ==
              "Successful", "node group update")
    elif cmd == "ng-version":
        u = eks.update_nodegroup_version(clusterName=a[0], nodegroupName=a[1],
                                         launchTemplate={"id": a[2], "version": a[3]})["update"]["id"]
        until(lambda: eks.describe_update(name=a[0], nodegroupName=a[1], updateId=u)["update"]["status"] ==
              "Successful", "node group version update")
    elif cmd == "addon-pia":
        pias = [{"serviceAccount": x.split("=", 1)[0], "roleArn": x.split("=", 1)[1]} for x in a[2:]]
        u = eks.update_addon(clusterName=a[0], addonName=a[1], podIdentityAssociations=pias)["update"]["id"]
        until(lambda: eks.describe_update(name=a[0], addonName=a[1], updateId=u)["update"]["status"] ==
              "Successful", "add-on update")
    elif cmd == "role-trust":
        d = iam.get_role(RoleName=a[0])["Role"]["AssumeRolePolicyDocument"]
        doc = d if isinstance(d, dict) else json.loads(urllib.parse.unquote(d))
        doc["Statement"].append({"Effect": "Allow", "Principal": {"AWS": a[1]}, "Action": "sts:AssumeRole"})
        iam.update_assume_role_policy(RoleName=a[0], PolicyDocument=json.dumps(doc))
    elif cmd == "role-policies":
        iam.detach_role_policy(RoleName=a[0], PolicyArn=a[1])
        iam.attach_role_policy(RoleName=a[0], PolicyArn=a[2])
    elif cmd == "role-inline":
        iam.put_role_policy(RoleName=a[0], PolicyName=a[1], PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    else:
        sys.exit("hand.py: unknown command " + cmd)


main()
