"""EC2 egress: Elastic IPs, NAT gateways and VPC endpoints (a mixin of svc_ec2.EC2).

Private nodes reach the internet through a NAT gateway (with an Elastic IP)
or reach AWS services through VPC endpoints, and both come with state
machines and teardown rules that a provisioner must get right:

- Elastic IP: AllocateAddress (5 per region, AddressLimitExceeded),
  Associate/DisassociateAddress, ReleaseAddress refused with
  InvalidIPAddress.InUse while associated (also while a NAT gateway holds it);
  the association maps a public address in the VPC, so DetachInternetGateway
  fails with DependencyViolation until it is gone.
- NAT gateway: pending -> available (or failed, with AWS's documented
  failureCode/failureMessage), deleting -> deleted, listed as deleted (and a
  failed one as failed) for an hour; a requester-managed ENI in the subnet
  holds the subnet and the EIP until the gateway is deleted; routes to it turn
  blackhole once it is gone.  ClientToken idempotency.
- VPC endpoint: Interface (one requester-managed ENI per subnet, one subnet
  per AZ, security groups, private DNS needing the VPC's DNS attributes)
  pending -> available, deleting -> gone; Gateway (s3, dynamodb) adds a
  prefix-list route to each route table and is available at once.
  ClientToken idempotency.

State per (account, region) scope: tables eips, nats, vpces; timers in
"_next" = (deadline, target state), advanced by tick_egress().
"""
import hashlib
import ipaddress

from .core import AwsError, apply_filters, ec2id, paginate

EIP_LIMIT = 5                 # Elastic IPs per region (default quota)
T_NAT_CREATE = 95             # pending -> available
T_NAT_FAIL = 20               # pending -> failed
T_NAT_DELETE = 50             # deleting -> deleted
T_NAT_GONE = 3600             # deleted / failed gateways stay listed
T_VPCE_CREATE = 110           # interface endpoint pending -> available
T_VPCE_DELETE = 55            # deleting -> gone (gateway endpoints: T_VPCE_GW_DELETE)
T_VPCE_GW_DELETE = 5

# The public addresses handed out (documentation ranges: never routable).
EIP_POOL = [str(ip) for net in ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")
            for ip in list(ipaddress.ip_network(net).hosts())]

# name -> (types, private DNS name template or None); "{r}" is the region.
ENDPOINT_SERVICES = {
    "ec2": (["Interface"], "ec2.{r}.amazonaws.com"),
    "ec2messages": (["Interface"], "ec2messages.{r}.amazonaws.com"),
    "ecr.api": (["Interface"], "api.ecr.{r}.amazonaws.com"),
    "ecr.dkr": (["Interface"], "*.dkr.ecr.{r}.amazonaws.com"),
    "eks": (["Interface"], "eks.{r}.amazonaws.com"),
    "eks-auth": (["Interface"], "eks-auth.{r}.api.aws"),
    "elasticloadbalancing": (["Interface"], "elasticloadbalancing.{r}.amazonaws.com"),
    "kms": (["Interface"], "kms.{r}.amazonaws.com"),
    "logs": (["Interface"], "logs.{r}.amazonaws.com"),
    "s3": (["Gateway", "Interface"], "*.s3.{r}.amazonaws.com"),
    "dynamodb": (["Gateway", "Interface"], "*.ddb.{r}.amazonaws.com"),
    "secretsmanager": (["Interface"], "secretsmanager.{r}.amazonaws.com"),
    "ssm": (["Interface"], "ssm.{r}.amazonaws.com"),
    "ssmmessages": (["Interface"], "ssmmessages.{r}.amazonaws.com"),
    "sts": (["Interface"], "sts.{r}.amazonaws.com"),
}
FULL_ACCESS = ('{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*",'
               '"Resource":"*"}]}')


def _h(*parts, n=8):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _mapped(msg_vpc):
    return AwsError("DependencyViolation", f"Network {msg_vpc} has some mapped public address(es). Please unmap "
                    "those public address(es) before detaching the gateway.", 400)


class Egress:
    """Mixed into svc_ec2.EC2: uses its _get/_describe/_idem/_dry/create_eni/release_eni."""

    # ======================================================== Elastic IPs
    def _eip_out(self, a):
        return self._out(a)

    def AllocateAddress(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"elastic-ip"})
        st = ctx.state()
        if p.get("Address") or p.get("PublicIpv4Pool") or p.get("CustomerOwnedIpv4Pool"):
            raise AwsError("InvalidParameterValue", "awssim allocates Elastic IPs from Amazon's pool only", 400)
        if len(st["eips"]) >= EIP_LIMIT:
            raise AwsError("AddressLimitExceeded", "The maximum number of addresses has been reached.", 400)
        used = {a["PublicIp"] for a in st["eips"].values()}
        ip = next(x for x in EIP_POOL if x not in used)
        aid = ec2id("eipalloc")
        group = p.get("NetworkBorderGroup") or ctx.region
        a = {"AllocationId": aid, "PublicIp": ip, "Domain": "vpc", "PublicIpv4Pool": "amazon",
             "NetworkBorderGroup": group, "_tags": self._tagspec(p, "elastic-ip"), "_created": ctx.now,
             "_owner": ctx.account, "_region": ctx.region}
        st["eips"][aid] = a
        self._born(ctx, a)
        self.sim.record(ctx.account, ctx.region, "ec2:elastic-ip", aid, "allocated")
        return {"PublicIp": ip, "AllocationId": aid, "PublicIpv4Pool": "amazon", "NetworkBorderGroup": group,
                "Domain": "vpc"}

    def _eip_getters(self):
        return {"allocation-id": lambda a: [a["AllocationId"]], "association-id": lambda a: [a.get("AssociationId", "")],
                "domain": lambda a: [a["Domain"]], "instance-id": lambda a: [a.get("InstanceId", "")],
                "network-interface-id": lambda a: [a.get("NetworkInterfaceId", "")],
                "network-interface-owner-id": lambda a: [a.get("NetworkInterfaceOwnerId", "")],
                "private-ip-address": lambda a: [a.get("PrivateIpAddress", "")],
                "public-ip": lambda a: [a["PublicIp"]],
                "network-border-group": lambda a: [a["NetworkBorderGroup"]]}

    def DescribeAddresses(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        items = self._visible_items(st, "eips", ctx.now)
        if p.get("AllocationIds"):
            by = {a["AllocationId"]: a for a in items}
            for aid in p["AllocationIds"]:
                if aid not in by:
                    self._get(st, "eips", aid)
            items = [by[aid] for aid in p["AllocationIds"]]
        if p.get("PublicIps"):
            by = {a["PublicIp"]: a for a in items}
            for ip in p["PublicIps"]:
                if ip not in by:
                    raise AwsError("InvalidAddress.NotFound", f"Address '{ip}' not found.", 400)
            items = [by[ip] for ip in p["PublicIps"]]
        items = apply_filters(items, p.get("Filters"), self._eip_getters(), "eips")
        return {"Addresses": [self._eip_out(a) for a in items]}

    def _eip_by(self, ctx, p):
        st = ctx.state()
        if p.get("AllocationId"):
            return self._get(st, "eips", p["AllocationId"])
        if p.get("PublicIp"):
            for a in self._visible_items(st, "eips", ctx.now):
                if a["PublicIp"] == p["PublicIp"]:
                    raise AwsError("InvalidParameterValue", "You must specify an allocation id when releasing a "
                                   "VPC elastic IP address", 400)
            raise AwsError("AuthFailure", "The address '" + p["PublicIp"] + "' does not belong to you.", 400)
        raise AwsError("MissingParameter", "The request must contain the parameter AllocationId", 400)

    def ReleaseAddress(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        a = self._eip_by(ctx, p)
        if a.get("AssociationId"):
            raise AwsError("InvalidIPAddress.InUse", f"Address {a['PublicIp']} is in use.", 400)
        del st["eips"][a["AllocationId"]]
        self.sim.record(ctx.account, ctx.region, "ec2:elastic-ip", a["AllocationId"], "deleted")
        return {}

    def _map_eip(self, ctx, a, eni, instance_id=None):
        assoc = ec2id("eipassoc")
        a.update({"AssociationId": assoc, "NetworkInterfaceId": eni["NetworkInterfaceId"],
                  "NetworkInterfaceOwnerId": ctx.account, "PrivateIpAddress": eni["PrivateIpAddress"]})
        if instance_id:
            a["InstanceId"] = instance_id
        dns = ("ec2-" + a["PublicIp"].replace(".", "-") + "." +
               ("compute-1" if ctx.region == "us-east-1" else ctx.region + ".compute") + ".amazonaws.com")
        eni["Association"] = {"AllocationId": a["AllocationId"], "AssociationId": assoc, "IpOwnerId": ctx.account,
                              "PublicDnsName": dns, "PublicIp": a["PublicIp"]}
        self.sim.record(ctx.account, ctx.region, "ec2:elastic-ip", a["AllocationId"], "associated")
        return assoc

    def _unmap_eip(self, a, st):
        eni = st["enis"].get(a.get("NetworkInterfaceId", ""))
        if eni is not None:
            eni.pop("Association", None)
        for k in ("AssociationId", "NetworkInterfaceId", "NetworkInterfaceOwnerId", "PrivateIpAddress", "InstanceId"):
            a.pop(k, None)
        a.pop("_nat", None)
        self.sim.record(a["_owner"], a["_region"], "ec2:elastic-ip", a["AllocationId"], "allocated")

    def _igw_attached(self, st, vpc_id):
        return any(a["VpcId"] == vpc_id for g in st["igws"].values() for a in g["Attachments"])

    def AssociateAddress(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        if not p.get("AllocationId"):
            raise AwsError("MissingParameter", "The request must contain the parameter AllocationId", 400)
        a = self._get(st, "eips", p["AllocationId"])
        inst = None
        if p.get("NetworkInterfaceId"):
            eni = self._get(st, "enis", p["NetworkInterfaceId"])
        elif p.get("InstanceId"):
            inst = self._get(st, "instances", p["InstanceId"])
            if inst["State"]["Name"] not in ("running", "stopped", "pending", "stopping"):
                raise AwsError("IncorrectInstanceState", f"The instance '{inst['InstanceId']}' is not in a valid "
                               "state for this operation.", 400)
            eni = st["enis"][inst["_eni"]]
        else:
            raise AwsError("MissingParameter", "Either instance ID or network interface ID must be specified", 400)
        if not self._igw_attached(st, eni["VpcId"]):
            raise AwsError("Gateway.NotAttached", f"Network {eni['VpcId']} is not attached to any internet gateway",
                           400)
        if a.get("_nat"):
            raise AwsError("Resource.AlreadyAssociated", f"resource {a['AllocationId']} is already associated with "
                           f"associate-id {a['AssociationId']}", 400)
        if a.get("AssociationId") and not p.get("AllowReassociation"):
            raise AwsError("Resource.AlreadyAssociated", f"resource {a['AllocationId']} is already associated with "
                           f"associate-id {a['AssociationId']}", 400)
        if a.get("AssociationId"):
            self._unmap_eip(a, st)
        for other in st["eips"].values():   # one public address per ENI primary address
            if other is not a and other.get("NetworkInterfaceId") == eni["NetworkInterfaceId"]:
                if not p.get("AllowReassociation"):
                    raise AwsError("Resource.AlreadyAssociated", f"resource {eni['NetworkInterfaceId']} is already "
                                   f"associated with associate-id {other['AssociationId']}", 400)
                self._unmap_eip(other, st)
        return {"AssociationId": self._map_eip(ctx, a, eni, inst["InstanceId"] if inst else
                                               (eni.get("Attachment") or {}).get("InstanceId"))}

    def DisassociateAddress(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        assoc = p.get("AssociationId")
        if not assoc:
            raise AwsError("InvalidParameterValue", "You must specify an association id when unmapping an address "
                           "from a VPC instance", 400)
        for a in st["eips"].values():
            if a.get("AssociationId") == assoc:
                if a.get("_nat"):   # the NAT gateway's own mapping is managed by EC2
                    raise AwsError("AuthFailure", "You do not have permission to access the specified resource.",
                                   400)
                self._unmap_eip(a, st)
                return {}
        raise AwsError("InvalidAssociationID.NotFound", f"The association ID '{assoc}' does not exist", 400)

    # ======================================================== NAT gateways
    def _nat_out(self, n):
        o = self._out(n)
        if n["State"] in ("pending", "failed"):   # addresses are filled in once it is available
            o["NatGatewayAddresses"] = [{k: v for k, v in x.items() if k == "AllocationId"}
                                        for x in n["NatGatewayAddresses"]]
        return o

    def CreateNatGateway(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"natgateway"})
        st = ctx.state()
        sub = self._get(st, "subnets", p["SubnetId"])
        conn = p.get("ConnectivityType", "public")
        a = None
        if conn == "public":
            if not p.get("AllocationId"):
                raise AwsError("MissingParameter", "The request must contain the parameter AllocationId", 400)
            a = self._get(st, "eips", p["AllocationId"])
        elif p.get("AllocationId"):
            raise AwsError("InvalidParameterCombination", "AllocationId is not supported for a private NAT "
                           "gateway", 400)

        def make():
            nid = ec2id("nat")
            n = {"NatGatewayId": nid, "SubnetId": sub["SubnetId"], "VpcId": sub["VpcId"], "State": "pending",
                 "CreateTime": ctx.now, "ConnectivityType": conn,
                 "NatGatewayAddresses": [{"AllocationId": a["AllocationId"]}] if a else [{}],
                 "_tags": self._tagspec(p, "natgateway"), "_created": ctx.now, "_eip": a["AllocationId"] if a
                 else None, "_eni": None}
            fail = None
            if conn == "public" and not self._igw_attached(st, sub["VpcId"]):
                fail = ("Gateway.NotAttached", f"Network {sub['VpcId']} has no Internet gateway attached")
            elif a is not None and (a.get("AssociationId") or a.get("_nat")):
                fail = ("Resource.AlreadyAssociated", f"Elastic IP address {a['AllocationId']} is already associated")
            elif sub["AvailableIpAddressCount"] <= 0:
                fail = ("InsufficientFreeAddressesInSubnet", "Subnet has insufficient free addresses to create this "
                        "NAT gateway")
            if fail:
                n["_fail"] = fail
                n["_next"] = (self.sim.clock.later(T_NAT_FAIL), "failed")
            else:
                eni = self.create_eni(ctx, sub, f"Interface for NAT Gateway {nid}", [], {}, requester="amazon-vpc",
                                      itype="nat_gateway", status="in-use", no_groups=True)
                eni["SourceDestCheck"] = False
                n["_eni"] = eni["NetworkInterfaceId"]
                addr = {"NetworkInterfaceId": eni["NetworkInterfaceId"], "PrivateIp": eni["PrivateIpAddress"]}
                if a is not None:
                    self._map_eip(ctx, a, eni)
                    a["_nat"] = nid
                    addr.update(AllocationId=a["AllocationId"], PublicIp=a["PublicIp"])
                n["NatGatewayAddresses"] = [addr]
                n["_next"] = (self.sim.clock.later(T_NAT_CREATE), "available")
            st["nats"][nid] = n
            self._born(ctx, n, *([st["enis"][n["_eni"]]] if n["_eni"] else []))
            self.sim.record(ctx.account, ctx.region, "ec2:nat-gateway", nid, "pending")
            out = {"NatGateway": self._nat_out(n)}
            if p.get("ClientToken"):
                out["ClientToken"] = p["ClientToken"]
            return out
        return self._idem(ctx, "CreateNatGateway", p, make)

    def _nat_getters(self):
        return {"nat-gateway-id": lambda n: [n["NatGatewayId"]], "state": lambda n: [n["State"]],
                "subnet-id": lambda n: [n["SubnetId"]], "vpc-id": lambda n: [n["VpcId"]]}

    def DescribeNatGateways(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        items = self._visible_items(st, "nats", ctx.now)
        if p.get("NatGatewayIds"):
            by = {n["NatGatewayId"]: n for n in items}
            for nid in p["NatGatewayIds"]:
                if nid not in by:
                    self._get(st, "nats", nid)
            items = [by[nid] for nid in p["NatGatewayIds"]]
        items = apply_filters(items, p.get("Filter"), self._nat_getters(), "nats")
        mr = p.get("MaxResults")
        page, nxt = paginate(items, p.get("NextToken"), mr)
        out = {"NatGateways": [self._nat_out(n) for n in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def DeleteNatGateway(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        n = self._get(st, "nats", p["NatGatewayId"])
        if n["State"] in ("pending", "available", "failed"):
            n["State"] = "deleting"
            n["DeleteTime"] = ctx.now
            n.pop("FailureCode", None)
            n.pop("FailureMessage", None)
            n["_next"] = (self.sim.clock.later(T_NAT_DELETE), "deleted")
            self.sim.record(ctx.account, ctx.region, "ec2:nat-gateway", n["NatGatewayId"], "deleting")
        return {"NatGatewayId": n["NatGatewayId"]}

    def _nat_release(self, st, n):
        eni = st["enis"].get(n.get("_eni") or "")
        a = st["eips"].get(n.get("_eip") or "")
        if a is not None and a.get("_nat") == n["NatGatewayId"]:
            self._unmap_eip(a, st)
        if eni is not None:
            self.release_eni(None, eni, st)
        n["_eni"] = None

    # ======================================================= VPC endpoints
    def _services(self, region):
        out = []
        for name, (types, dns) in sorted(ENDPOINT_SERVICES.items()):
            full = f"com.amazonaws.{region}.{name}"
            for t in types:
                d = {"ServiceName": full, "ServiceId": "vpce-svc-" + _h(region, name, t, n=17),
                     "ServiceType": [{"ServiceType": t}], "AvailabilityZones": [z for z, _ in self._zones(region)],
                     "Owner": "amazon", "AcceptanceRequired": False, "ManagesVpcEndpoints": False,
                     "VpcEndpointPolicySupported": True, "SupportedIpAddressTypes": ["ipv4"], "Tags": []}
                if t == "Gateway":
                    d["BaseEndpointDnsNames"] = [f"{name}.{region}.amazonaws.com"]
                else:
                    d["BaseEndpointDnsNames"] = [f"{name}.{region}.vpce.amazonaws.com"]
                    d["PrivateDnsName"] = dns.format(r=region)
                    d["PrivateDnsNames"] = [{"PrivateDnsName": dns.format(r=region)}]
                    d["PrivateDnsNameVerificationState"] = "verified"
                out.append(d)
        return out

    def DescribeVpcEndpointServices(self, ctx, p):
        self._dry(p)
        svcs = self._services(ctx.region)
        names = {s["ServiceName"] for s in svcs}
        for n in p.get("ServiceNames") or []:
            if n not in names:
                raise AwsError("InvalidServiceName", f"The Vpc Endpoint Service '{n}' does not exist", 400)
        if p.get("ServiceNames"):
            svcs = [s for s in svcs if s["ServiceName"] in p["ServiceNames"]]
        getters = {"service-name": lambda s: [s["ServiceName"]],
                   "service-type": lambda s: [t["ServiceType"] for t in s["ServiceType"]],
                   "owner": lambda s: [s["Owner"]],
                   "supported-ip-address-types": lambda s: s["SupportedIpAddressTypes"]}
        svcs = apply_filters(svcs, p.get("Filters"), getters, "services")
        page, nxt = paginate(svcs, p.get("NextToken"), p.get("MaxResults"))
        out = {"ServiceNames": sorted({s["ServiceName"] for s in page}), "ServiceDetails": page}
        if nxt:
            out["NextToken"] = nxt
        return out

    def _prefix_list(self, region, name):
        return "pl-" + _h(region, name)

    def CreateVpcEndpoint(self, ctx, p):
        self._dry(p)
        self._check_tagspecs(p, {"vpc-endpoint"})
        st = ctx.state()
        vpc = self._get(st, "vpcs", p["VpcId"])
        typ = p.get("VpcEndpointType", "Gateway")
        name = p["ServiceName"]
        svc = {s["ServiceName"]: s for s in self._services(ctx.region) if s["ServiceType"][0]["ServiceType"] == typ}
        if name not in {s["ServiceName"] for s in self._services(ctx.region)}:
            raise AwsError("InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist", 400)
        if name not in svc:
            raise AwsError("InvalidParameter", f"The Vpc Endpoint Service '{name}' does not support the endpoint "
                           f"type '{typ}'.", 400)
        if typ == "GatewayLoadBalancer":
            raise AwsError("InvalidParameter", "awssim does not simulate Gateway Load Balancer endpoints", 400)

        def make():
            if typ == "Gateway":
                return self._create_gateway_endpoint(ctx, st, vpc, name, p)
            return self._create_interface_endpoint(ctx, st, vpc, name, svc[name], p)
        return self._idem(ctx, "CreateVpcEndpoint", p, make)

    def _new_endpoint(self, ctx, vpc, name, typ, p):
        vid = ec2id("vpce")
        e = {"VpcEndpointId": vid, "VpcEndpointType": typ, "VpcId": vpc["VpcId"], "ServiceName": name,
             "State": "pending", "RouteTableIds": [], "SubnetIds": [], "Groups": [], "NetworkInterfaceIds": [],
             "DnsEntries": [], "RequesterManaged": False, "CreationTimestamp": ctx.now, "OwnerId": ctx.account,
             "IpAddressType": p.get("IpAddressType", "ipv4"),
             "_tags": self._tagspec(p, "vpc-endpoint"), "_created": ctx.now}
        e["PolicyDocument"] = p.get("PolicyDocument") or FULL_ACCESS
        return e

    def _endpoint_reply(self, e, p):
        out = {"VpcEndpoint": self._out(e)}
        if p.get("ClientToken"):
            out["ClientToken"] = p["ClientToken"]
        return out

    def _create_gateway_endpoint(self, ctx, st, vpc, name, p):
        if p.get("SubnetIds") or p.get("SecurityGroupIds"):
            raise AwsError("InvalidParameter", "Subnets and security groups are not supported for Gateway "
                           "endpoints", 400)
        pl = self._prefix_list(ctx.region, name.rsplit(".", 1)[-1])
        rtbs = []
        for rid in p.get("RouteTableIds") or []:
            rtb = self._get(st, "rtbs", rid)
            if rtb["VpcId"] != vpc["VpcId"]:
                raise AwsError("InvalidRouteTableId.NotFound", f"The routeTable ID '{rid}' does not exist in vpc "
                               f"{vpc['VpcId']}", 400)
            if any(r.get("DestinationPrefixListId") == pl for r in rtb["Routes"]):
                raise AwsError("RouteAlreadyExists", f"route table {rid} already has a route with destination-"
                               f"prefix-list-id {pl}", 400)
            rtbs.append(rtb)
        e = self._new_endpoint(ctx, vpc, name, "Gateway", p)
        e["State"] = "available"
        e["RouteTableIds"] = [r["RouteTableId"] for r in rtbs]
        e["_pl"] = pl
        for rtb in rtbs:
            rtb["Routes"].append({"DestinationPrefixListId": pl, "GatewayId": e["VpcEndpointId"],
                                  "Origin": "CreateRoute", "State": "active"})
        st["vpces"][e["VpcEndpointId"]] = e
        self._born(ctx, e)
        self.sim.record(ctx.account, ctx.region, "ec2:vpc-endpoint", e["VpcEndpointId"], "available")
        return self._endpoint_reply(e, p)

    def _endpoint_subnet(self, st, vpc, sid, zones):
        """Subnet sid for an interface endpoint of vpc: in that VPC, and in a zone not yet
        in zones ({zone: subnet id}, updated)."""
        sub = self._get(st, "subnets", sid)
        if sub["VpcId"] != vpc["VpcId"]:
            raise AwsError("InvalidParameter", f"The subnet ID '{sid}' does not belong to the VPC "
                           f"'{vpc['VpcId']}'", 400)
        if sub["AvailabilityZone"] in zones:
            raise AwsError("DuplicateSubnetsInSameZone", f"Found another VPC endpoint subnet in the availability "
                           f"zone of {sid}. VPC endpoint subnets should be in different availability zones "
                           "supported by the VPC endpoint service.", 400)
        zones[sub["AvailabilityZone"]] = sid
        return sub

    def _create_interface_endpoint(self, ctx, st, vpc, name, svc, p):
        if p.get("RouteTableIds"):
            raise AwsError("InvalidParameter", "Route tables are not supported for Interface endpoints", 400)
        subs, zones = [], {}
        for sid in p.get("SubnetIds") or []:
            subs.append(self._endpoint_subnet(st, vpc, sid, zones))
        gids = list(p.get("SecurityGroupIds") or [])
        for gid in gids:
            sg = self._get(st, "sgs", gid)
            if sg["VpcId"] != vpc["VpcId"]:
                raise AwsError("InvalidParameter", f"The security group '{gid}' does not belong to the VPC "
                               f"'{vpc['VpcId']}'", 400)
        if not gids:
            gids = [g["GroupId"] for g in st["sgs"].values() if g["VpcId"] == vpc["VpcId"] and g.get("_default")]
        private_dns = p.get("PrivateDnsEnabled", True)
        dns_name = svc["PrivateDnsName"]
        if private_dns:
            if not (vpc["_dns"]["EnableDnsSupport"] and vpc["_dns"]["EnableDnsHostnames"]):
                raise AwsError("InvalidParameter", "Enabling private DNS requires both enableDnsSupport and "
                               f"enableDnsHostnames VPC attributes set to true for {vpc['VpcId']}", 400)
            for other in st["vpces"].values():
                if other["VpcId"] == vpc["VpcId"] and other["ServiceName"] == name and \
                        other.get("PrivateDnsEnabled") and other["State"] not in ("deleting", "deleted"):
                    raise AwsError("InvalidParameter", "private-dns-enabled cannot be set because there is already a "
                                   f"conflicting DNS domain for {dns_name} in the VPC {vpc['VpcId']}", 400)
        e = self._new_endpoint(ctx, vpc, name, "Interface", p)
        vid = e["VpcEndpointId"]
        short = name.split(f"com.amazonaws.{ctx.region}.", 1)[-1]
        tag = _h(vid, n=8)
        zone = "Z" + _h(ctx.region, "vpce-zone", n=13).upper()
        e["DnsEntries"] = [{"DnsName": f"{vid}-{tag}.{short}.{ctx.region}.vpce.amazonaws.com", "HostedZoneId": zone}]
        for sub in subs:
            eni = self.create_eni(ctx, sub, f"VPC Endpoint Interface {vid}", gids, {}, requester="727180483921",
                                  itype="vpc_endpoint", status="in-use")
            e["NetworkInterfaceIds"].append(eni["NetworkInterfaceId"])
            e["DnsEntries"].append({"DnsName": f"{vid}-{tag}-{sub['AvailabilityZone']}.{short}.{ctx.region}."
                                               "vpce.amazonaws.com", "HostedZoneId": zone})
        if private_dns:
            e["DnsEntries"].append({"DnsName": dns_name, "HostedZoneId": "Z" + _h(vpc["VpcId"], n=13).upper()})
        e["SubnetIds"] = [s["SubnetId"] for s in subs]
        e["Groups"] = [{"GroupId": g, "GroupName": st["sgs"][g]["GroupName"]} for g in gids]
        e["PrivateDnsEnabled"] = bool(private_dns)
        e["DnsOptions"] = {"DnsRecordIpType": "ipv4"}
        e["_next"] = (self.sim.clock.later(T_VPCE_CREATE), "available")
        st["vpces"][vid] = e
        self._born(ctx, e, *[st["enis"][x] for x in e["NetworkInterfaceIds"]])
        self.sim.record(ctx.account, ctx.region, "ec2:vpc-endpoint", vid, "pending")
        return self._endpoint_reply(e, p)

    def _vpce_getters(self):
        return {"service-name": lambda e: [e["ServiceName"]], "vpc-id": lambda e: [e["VpcId"]],
                "vpc-endpoint-id": lambda e: [e["VpcEndpointId"]], "vpc-endpoint-state": lambda e: [e["State"]],
                "vpc-endpoint-type": lambda e: [e["VpcEndpointType"]],
                "ip-address-type": lambda e: [e["IpAddressType"]]}

    def DescribeVpcEndpoints(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        items = self._visible_items(st, "vpces", ctx.now)
        if p.get("VpcEndpointIds"):
            by = {e["VpcEndpointId"]: e for e in items}
            for vid in p["VpcEndpointIds"]:
                if vid not in by:
                    self._get(st, "vpces", vid)
            items = [by[v] for v in p["VpcEndpointIds"]]
        items = apply_filters(items, p.get("Filters"), self._vpce_getters(), "vpces")
        page, nxt = paginate(items, p.get("NextToken"), p.get("MaxResults"))
        out = {"VpcEndpoints": [self._out(e) for e in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def ModifyVpcEndpoint(self, ctx, p):
        """Add or remove subnets (an interface per subnet), security groups
        (on every interface), route tables (a gateway's prefix-list route)
        and private DNS, in place; each checked as CreateVpcEndpoint checks
        it.  Nothing changes when any part is refused."""
        self._dry(p)
        st = ctx.state()
        e = st["vpces"].get(p["VpcEndpointId"])
        if e is None or not self._is_visible(e, ctx.now):
            self._get(st, "vpces", p["VpcEndpointId"])
        if e["State"] in ("deleting", "deleted"):
            raise AwsError("IncorrectState", f"The VPC endpoint {e['VpcEndpointId']} is in state {e['State']} and "
                           "cannot be modified.", 400)
        vpc = self._get(st, "vpcs", e["VpcId"])
        gw = e["VpcEndpointType"] == "Gateway"
        add_s, rm_s = list(p.get("AddSubnetIds") or []), list(p.get("RemoveSubnetIds") or [])
        add_g, rm_g = list(p.get("AddSecurityGroupIds") or []), list(p.get("RemoveSecurityGroupIds") or [])
        add_r, rm_r = list(p.get("AddRouteTableIds") or []), list(p.get("RemoveRouteTableIds") or [])
        if gw and (add_s or rm_s or add_g or rm_g or "PrivateDnsEnabled" in p):
            raise AwsError("InvalidParameter", "Subnets, security groups and private DNS are not supported for "
                           "Gateway endpoints", 400)
        if not gw and (add_r or rm_r):
            raise AwsError("InvalidParameter", "Route tables are not supported for Interface endpoints", 400)
        if gw:
            pl = e["_pl"]
            rtbs = []
            for rid in add_r:
                rtb = self._get(st, "rtbs", rid)
                if rtb["VpcId"] != vpc["VpcId"]:
                    raise AwsError("InvalidRouteTableId.NotFound", f"The routeTable ID '{rid}' does not exist in "
                                   f"vpc {vpc['VpcId']}", 400)
                if rid not in e["RouteTableIds"] and any(r.get("DestinationPrefixListId") == pl
                                                         for r in rtb["Routes"]):
                    raise AwsError("RouteAlreadyExists", f"route table {rid} already has a route with destination-"
                                   f"prefix-list-id {pl}", 400)
                rtbs.append(rtb)
            for rid in rm_r:
                self._get(st, "rtbs", rid)
            for rtb in rtbs:
                if rtb["RouteTableId"] not in e["RouteTableIds"]:
                    rtb["Routes"].append({"DestinationPrefixListId": pl, "GatewayId": e["VpcEndpointId"],
                                          "Origin": "CreateRoute", "State": "active"})
                    e["RouteTableIds"].append(rtb["RouteTableId"])
            for rid in rm_r:
                if rid in e["RouteTableIds"]:
                    e["RouteTableIds"].remove(rid)
                    st["rtbs"][rid]["Routes"] = [r for r in st["rtbs"][rid]["Routes"]
                                                 if r.get("GatewayId") != e["VpcEndpointId"]]
            return {"Return": True}
        # interface endpoint: check everything first
        groups = [g["GroupId"] for g in e["Groups"] if g["GroupId"] not in rm_g]
        for gid in add_g:
            sg = self._get(st, "sgs", gid)
            if sg["VpcId"] != vpc["VpcId"]:
                raise AwsError("InvalidParameter", f"The security group '{gid}' does not belong to the VPC "
                               f"'{vpc['VpcId']}'", 400)
            if gid not in groups:
                groups.append(gid)
        if not groups:
            raise AwsError("InvalidParameter", "An Interface endpoint must have at least one security group", 400)
        keep = [sid for sid in e["SubnetIds"] if sid not in rm_s]
        zones = {st["subnets"][sid]["AvailabilityZone"]: sid for sid in keep if sid in st["subnets"]}
        new_subs = []
        for sid in add_s:
            if sid in keep:
                continue
            new_subs.append(self._endpoint_subnet(st, vpc, sid, zones))
        dns = p.get("PrivateDnsEnabled", e.get("PrivateDnsEnabled"))
        if dns and not e.get("PrivateDnsEnabled"):
            if not (vpc["_dns"]["EnableDnsSupport"] and vpc["_dns"]["EnableDnsHostnames"]):
                raise AwsError("InvalidParameter", "Enabling private DNS requires both enableDnsSupport and "
                               f"enableDnsHostnames VPC attributes set to true for {vpc['VpcId']}", 400)
        # then apply
        vid = e["VpcEndpointId"]
        for eid in list(e["NetworkInterfaceIds"]):
            eni = st["enis"].get(eid)
            if eni is not None and eni["SubnetId"] in rm_s:
                self.release_eni(None, eni, st)
                e["NetworkInterfaceIds"].remove(eid)
        for sub in new_subs:
            eni = self.create_eni(ctx, sub, f"VPC Endpoint Interface {vid}", groups, {}, requester="727180483921",
                                  itype="vpc_endpoint", status="in-use")
            e["NetworkInterfaceIds"].append(eni["NetworkInterfaceId"])
        e["SubnetIds"] = keep + [s["SubnetId"] for s in new_subs]
        e["Groups"] = [{"GroupId": g, "GroupName": st["sgs"][g]["GroupName"]} for g in groups]
        for eid in e["NetworkInterfaceIds"]:
            if eid in st["enis"]:
                st["enis"][eid]["Groups"] = list(e["Groups"])
        if dns != e.get("PrivateDnsEnabled"):
            e["PrivateDnsEnabled"] = bool(dns)
            name = self._services_by_name(ctx.region).get(e["ServiceName"], {}).get("PrivateDnsName")
            e["DnsEntries"] = [d for d in e["DnsEntries"] if d["DnsName"] != name]
            if dns and name:
                e["DnsEntries"].append({"DnsName": name, "HostedZoneId": "Z" + _h(vpc["VpcId"], n=13).upper()})
        return {"Return": True}

    def _services_by_name(self, region):
        return {s["ServiceName"]: s for s in self._services(region) if s["ServiceType"][0]["ServiceType"] ==
                "Interface"}

    def DeleteVpcEndpoints(self, ctx, p):
        self._dry(p)
        st = ctx.state()
        bad = []
        for vid in p["VpcEndpointIds"]:
            e = st["vpces"].get(vid)
            if e is None or not self._is_visible(e, ctx.now):
                bad.append({"ResourceId": vid, "Error": {"Code": "InvalidVpcEndpoint.NotFound",
                                                         "Message": f"The VPC endpoint {vid} does not exist"}})
                continue
            if e["State"] in ("deleting", "deleted"):
                continue
            e["State"] = "deleting"
            if e["VpcEndpointType"] == "Gateway":
                for rtb in st["rtbs"].values():
                    rtb["Routes"] = [r for r in rtb["Routes"] if r.get("GatewayId") != vid]
                e["_next"] = (self.sim.clock.later(T_VPCE_GW_DELETE), "deleted")
            else:
                e["_next"] = (self.sim.clock.later(T_VPCE_DELETE), "deleted")
            self.sim.record(ctx.account, ctx.region, "ec2:vpc-endpoint", vid, "deleting")
        return {"Unsuccessful": bad}

    # ================================================================ clock
    def tick_egress(self, acct, region, st, now):
        for n in list(st.get("nats", {}).values()):
            nxt = n.get("_next")
            if not nxt or nxt[0] > now:
                continue
            at, state = nxt
            n.pop("_next")
            if state == "available" and n["State"] == "pending":
                n["State"] = "available"
            elif state == "failed" and n["State"] == "pending":
                n["State"] = "failed"
                n["FailureCode"], n["FailureMessage"] = n.pop("_fail")
                n["_next"] = (at + self.sim.clock.span(T_NAT_GONE, jitter=False), "gone")
            elif state == "deleted" and n["State"] == "deleting":
                n["State"] = "deleted"
                self._nat_release(st, n)
                self._refresh_blackholes(st)
                n["_next"] = (at + self.sim.clock.span(T_NAT_GONE, jitter=False), "gone")
            elif state == "gone":
                st["nats"].pop(n["NatGatewayId"], None)
                if n["State"] == "failed":
                    self.sim.record(acct, region, "ec2:nat-gateway", n["NatGatewayId"], "deleted", at)
                continue
            else:
                continue
            self.sim.record(acct, region, "ec2:nat-gateway", n["NatGatewayId"], n["State"], at)
        for e in list(st.get("vpces", {}).values()):
            nxt = e.get("_next")
            if not nxt or nxt[0] > now:
                continue
            at, state = nxt
            e.pop("_next")
            if state == "available" and e["State"] == "pending":
                e["State"] = "available"
                self.sim.record(acct, region, "ec2:vpc-endpoint", e["VpcEndpointId"], "available", at)
            elif state == "deleted" and e["State"] == "deleting":
                for eid in e["NetworkInterfaceIds"]:
                    eni = st["enis"].get(eid)
                    if eni is not None:
                        self.release_eni(None, eni, st)
                del st["vpces"][e["VpcEndpointId"]]
                self.sim.record(acct, region, "ec2:vpc-endpoint", e["VpcEndpointId"], "deleted", at)

    # ============================================================ inventory
    def inventory_egress(self, st):
        return {
            "ec2:elastic-ip": [{"id": a["AllocationId"], "publicIp": a["PublicIp"],
                                "association": a.get("AssociationId"), "tags": a["_tags"]}
                               for a in st.get("eips", {}).values()],
            "ec2:nat-gateway": [{"id": n["NatGatewayId"], "state": n["State"], "vpc": n["VpcId"],
                                 "subnet": n["SubnetId"], "tags": n["_tags"]}
                                for n in st.get("nats", {}).values() if n["State"] != "deleted"],
            "ec2:vpc-endpoint": [{"id": e["VpcEndpointId"], "state": e["State"], "type": e["VpcEndpointType"],
                                  "service": e["ServiceName"], "vpc": e["VpcId"], "tags": e["_tags"]}
                                 for e in st.get("vpces", {}).values()],
        }

