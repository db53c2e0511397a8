"""Load balancers that Kubernetes makes: ELBv2 (NLB) and classic ELB.

kubesim asks for one through the admin API (admin_create) when a Service of
type LoadBalancer appears: a load balancer tagged
kubernetes.io/cluster/<name>=owned and kubernetes.io/service-name=NS/SVC, a
k8s-elb-<name> security group tagged the same, and requester-managed "ELB ..."
ENIs in the cluster's subnets (one per AZ); an NLB also gets a target group.
The request may carry the Service's scheme (internal: an "internal-" DNS
name), its ports and loadBalancerSourceRanges: the group lets in each port
from each range (anywhere without ranges), and asking again for an existing
load balancer brings those rules in line (the scheme is read only once, as
the cloud provider does).
Deleting a load balancer (admin_delete or the Delete API) leaves its ENIs
in-use, then available, then gone (90 s + 90 s, scaled), so a teardown that
neither waits nor sweeps meets DependencyViolation.  The k8s-elb SG is removed
(like the in-tree controller's retry loop) only while its cluster still exists;
otherwise it leaks and must be swept.

API side: Describe/DescribeTags/Delete for both, target groups for ELBv2.
"""
from .core import AwsError, hexid, paginate, tags_to_list

T_ENI_INUSE = 90
T_ENI_AVAILABLE = 90
# A deleted load balancer's listeners go after it: until then its target
# groups are still "in use by a listener or a rule" (clients retry that
# DeleteTargetGroup for a while, as terraform-provider-aws does for 2 min).
T_TG_RELEASE = 15


class _Base:
    def __init__(self, sim):
        self.sim = sim

    def _page(self, items, p, key):
        page, nxt = paginate(items, p.get("Marker"), p.get("PageSize"), 400)
        out = {key: page}
        if nxt:
            out["NextMarker"] = nxt
        return out

    def _linger(self, st, lb):
        clock = self.sim.clock
        for eid in lb["_enis"]:
            e = st["enis"].get(eid)
            if e:
                e["_linger"] = (clock.later(T_ENI_INUSE), "available")
        if lb.get("_sg"):
            st["sgs"].get(lb["_sg"], {})["_elb_orphan"] = lb["_cluster"]


class ELBv2(_Base):
    """elasticloadbalancing 2015-12-01; also owns the kubesim admin hooks."""

    def _lb(self, st, arn):
        lb = st["elbv2"].get(arn)
        if lb is None:
            raise AwsError("LoadBalancerNotFound", f"Load balancers '[{arn}]' not found", 400)
        return lb

    def _out(self, lb):
        return {k: v for k, v in lb.items() if not k.startswith("_")}

    def DescribeLoadBalancers(self, ctx, p):
        st = ctx.state()
        if p.get("LoadBalancerArns"):
            items = [self._lb(st, a) for a in p["LoadBalancerArns"]]
        elif p.get("Names"):
            by = {lb["LoadBalancerName"]: lb for lb in st["elbv2"].values()}
            miss = [n for n in p["Names"] if n not in by]
            if miss:
                raise AwsError("LoadBalancerNotFound", "One or more load balancers not found", 400)
            items = [by[n] for n in p["Names"]]
        else:
            items = sorted(st["elbv2"].values(), key=lambda x: x["CreatedTime"])
        return self._page([self._out(x) for x in items], p, "LoadBalancers")

    def DescribeTags(self, ctx, p):
        st = ctx.state()
        if len(p["ResourceArns"]) > 20:
            raise AwsError("ValidationError", "You can specify up to 20 resource ARNs", 400)
        out = []
        for arn in p["ResourceArns"]:
            r = st["elbv2"].get(arn) or st["elbv2_tgs"].get(arn)
            if r is None:
                if ":targetgroup/" in arn:
                    raise AwsError("TargetGroupNotFound", f"Target groups '[{arn}]' not found", 400)
                raise AwsError("LoadBalancerNotFound", f"Load balancers '[{arn}]' not found", 400)
            out.append({"ResourceArn": arn, "Tags": tags_to_list(r["_tags"])})
        return {"TagDescriptions": out}

    def AddTags(self, ctx, p):
        st = ctx.state()
        for arn in p["ResourceArns"]:
            r = st["elbv2"].get(arn) or st["elbv2_tgs"].get(arn)
            if r is None:
                raise AwsError("LoadBalancerNotFound", f"Load balancers '[{arn}]' not found", 400)
            r["_tags"].update({t["Key"]: t.get("Value", "") for t in p["Tags"]})
        return {}

    def DeleteLoadBalancer(self, ctx, p):
        st = ctx.state()
        lb = self._lb(st, p["LoadBalancerArn"])
        self.remove(st, lb)
        return {}

    def remove(self, st, lb):
        del st["elbv2"][lb["LoadBalancerArn"]]
        for tg in st["elbv2_tgs"].values():
            if lb["LoadBalancerArn"] in tg["LoadBalancerArns"]:
                tg["LoadBalancerArns"].remove(lb["LoadBalancerArn"])
                tg["_busy_until"] = max(tg.get("_busy_until", 0), self.sim.clock.later(T_TG_RELEASE))
        self._linger(st, lb)

    def DescribeTargetGroups(self, ctx, p):
        st = ctx.state()
        items = sorted(st["elbv2_tgs"].values(), key=lambda t: t["TargetGroupName"])
        if p.get("TargetGroupArns"):
            miss = [a for a in p["TargetGroupArns"] if a not in st["elbv2_tgs"]]
            if miss:
                raise AwsError("TargetGroupNotFound", f"Target groups '[{miss[0]}]' not found", 400)
            items = [st["elbv2_tgs"][a] for a in p["TargetGroupArns"]]
        if p.get("LoadBalancerArn"):
            self._lb(st, p["LoadBalancerArn"])
            items = [t for t in items if p["LoadBalancerArn"] in t["LoadBalancerArns"]]
        if p.get("Names"):
            items = [t for t in items if t["TargetGroupName"] in p["Names"]]
        return self._page([self._out(t) for t in items], p, "TargetGroups")

    def DeleteTargetGroup(self, ctx, p):
        st = ctx.state()
        tg = st["elbv2_tgs"].get(p["TargetGroupArn"])
        if tg is None:
            return {}
        if tg["LoadBalancerArns"] or tg.get("_busy_until", 0) > self.sim.clock.now():
            raise AwsError("ResourceInUse", f"Target group '{tg['TargetGroupArn']}' is currently in use by a "
                           "listener or a rule", 400)
        del st["elbv2_tgs"][tg["TargetGroupArn"]]
        return {}

    def DescribeListeners(self, ctx, p):
        st = ctx.state()
        if p.get("LoadBalancerArn"):
            lb = self._lb(st, p["LoadBalancerArn"])
            return {"Listeners": list(lb["_listeners"])}
        return {"Listeners": []}

    # ------------------------------------------------------------ admin hooks
    def admin_create(self, data):
        """kubesim's POST /_awssim/elb/load-balancers."""
        for k in ("cluster", "namespace", "service"):
            if not data.get(k):
                raise AwsError("ValidationError", f"'{k}' is required", 400)
        typ = data.get("type", "classic")
        if typ not in ("classic", "nlb"):
            raise AwsError("ValidationError", "type must be classic or nlb", 400)
        found = self.sim.services["eks"].find_cluster(data["cluster"], data.get("account"), data.get("region"))
        if found is None:
            raise AwsError("ClusterNotFound", f"no cluster {data['cluster']}", 404)
        scheme = data.get("scheme", "internet-facing")
        if scheme not in ("internet-facing", "internal"):
            raise AwsError("ValidationError", "scheme must be internet-facing or internal", 400)
        ranges = data.get("sourceRanges") or ["0.0.0.0/0"]
        ports = data.get("ports") or []
        acct, region, st, c = found
        from .sim import Ctx
        ctx = Ctx(self.sim, "elb", "admin", acct, region, {"arn": ""}, "admin")
        svc_key = f"{data['namespace']}/{data['service']}"
        ec2 = self.sim.services["ec2"]
        for lb in list(st["elbv2"].values()) + list(st["elb"].values()):
            if lb["_tags"].get("kubernetes.io/service-name") == svc_key and lb["_cluster"] == c["name"]:
                # the cloud provider keeps the rules in step with the Service;
                # the scheme it reads only when it makes the load balancer
                self._ingress(st, lb, ports, ranges)
                return self._admin_view(lb)
        name = "a" + hexid(31)
        tags = {f"kubernetes.io/cluster/{c['name']}": "owned", "kubernetes.io/service-name": svc_key}
        vpc_id = c["resourcesVpcConfig"]["vpcId"]
        sg = ec2.create_sg(ctx, vpc_id, f"k8s-elb-{name}", f"Security group for Kubernetes ELB {name} ({svc_key})",
                           dict(tags))
        seen_az, subs = set(), []
        for sid in c["resourcesVpcConfig"]["subnetIds"]:
            sub = st["subnets"].get(sid)
            if sub and sub["AvailabilityZone"] not in seen_az:
                seen_az.add(sub["AvailabilityZone"])
                subs.append(sub)
        enis = []
        for sub in subs:
            desc = f"ELB {name}" if typ == "classic" else f"ELB net/{name}/{hexid(16)}"
            e = ec2.create_eni(ctx, sub, desc, [sg["GroupId"]], {}, requester="amazon-elb", status="in-use",
                               itype="interface" if typ == "classic" else "network_load_balancer")
            enis.append(e["NetworkInterfaceId"])
        now = ctx.now
        internal = "internal-" if scheme == "internal" else ""
        if typ == "classic":
            dns = f"{internal}{name}-{hexid(10)}.{region}.elb.amazonaws.com"
            lb = {"LoadBalancerName": name, "DNSName": dns, "CanonicalHostedZoneName": dns,
                  "CanonicalHostedZoneNameID": "Z35SXDOTRQ7X7K", "ListenerDescriptions": [],
                  "Policies": {"AppCookieStickinessPolicies": [], "LBCookieStickinessPolicies": [], "OtherPolicies": []},
                  "BackendServerDescriptions": [], "AvailabilityZones": [s["AvailabilityZone"] for s in subs],
                  "Subnets": [s["SubnetId"] for s in subs], "VPCId": vpc_id, "Instances": [],
                  "HealthCheck": {"Target": "TCP:30000", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 6,
                                  "HealthyThreshold": 2},
                  "SourceSecurityGroup": {"OwnerAlias": acct, "GroupName": sg["GroupName"]},
                  "SecurityGroups": [sg["GroupId"]], "CreatedTime": now, "Scheme": scheme,
                  "_tags": tags, "_enis": enis, "_sg": sg["GroupId"], "_cluster": c["name"],
                  "_arn": f"arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/{name}"}
            st["elb"][name] = lb
        else:
            suffix = hexid(16)
            arn = f"arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/net/{name}/{suffix}"
            lb = {"LoadBalancerArn": arn, "DNSName": f"{internal}{name}-{suffix}.elb.{region}.amazonaws.com",
                  "CanonicalHostedZoneId": "Z26RNL4JYFTOTI", "CreatedTime": now, "LoadBalancerName": name,
                  "Scheme": scheme, "VpcId": vpc_id, "State": {"Code": "active"}, "Type": "network",
                  "AvailabilityZones": [{"ZoneName": s["AvailabilityZone"], "SubnetId": s["SubnetId"],
                                         "LoadBalancerAddresses": []} for s in subs],
                  "IpAddressType": "ipv4", "_tags": tags, "_enis": enis, "_sg": sg["GroupId"],
                  "_cluster": c["name"], "_listeners": []}
            st["elbv2"][arn] = lb
            tgname = f"k8s-{data['namespace'][:8]}-{data['service'][:8]}-{hexid(10)}"
            tgarn = f"arn:aws:elasticloadbalancing:{region}:{acct}:targetgroup/{tgname}/{hexid(16)}"
            st["elbv2_tgs"][tgarn] = {"TargetGroupArn": tgarn, "TargetGroupName": tgname, "Protocol": "TCP",
                                      "Port": 30000, "VpcId": vpc_id, "HealthCheckProtocol": "TCP",
                                      "TargetType": "instance", "LoadBalancerArns": [arn], "_tags": dict(tags)}
        self._ingress(st, lb, ports, ranges)
        return self._admin_view(lb)

    def _ingress(self, st, lb, ports, ranges):
        """The load balancer's group lets in each Service port from each source range (the cloud
        provider's rules; spec.loadBalancerSourceRanges, else anywhere), and nothing else."""
        sg = st["sgs"].get(lb.get("_sg"))
        if sg is None:
            return
        ec2 = self.sim.services["ec2"]
        sg["_rules"] = [r for r in sg["_rules"] if r["egress"]] + [
            ec2._rule(sg, False, "tcp", int(p), int(p), {"cidr": r}) for p in ports for r in ranges]

    def _admin_view(self, lb):
        if "LoadBalancerArn" in lb:
            return {"name": lb["LoadBalancerName"], "dnsName": lb["DNSName"], "arn": lb["LoadBalancerArn"],
                    "type": "nlb", "scheme": lb["Scheme"]}
        return {"name": lb["LoadBalancerName"], "dnsName": lb["DNSName"], "arn": lb["_arn"], "type": "classic",
                "scheme": lb["Scheme"]}

    def admin_delete(self, name):
        for (acct, region), st in self.sim.scopes.items():
            if region == "global":
                continue
            if name in st.get("elb", {}):
                self.sim.services["elb"].remove(st, st["elb"][name])
                return True
            for lb in list(st.get("elbv2", {}).values()):
                if lb["LoadBalancerName"] == name or lb["LoadBalancerArn"] == name:
                    self.remove(st, lb)
                    return True
        return False

    def tick(self, now):
        ec2 = self.sim.services["ec2"]
        for (acct, region), st in list(self.sim.scopes.items()):
            if region == "global" or not st.get("enis"):
                continue
            for e in list(st["enis"].values()):
                lg = e.get("_linger")
                if not lg or lg[0] > now:
                    continue
                if lg[1] == "available":
                    e["Status"] = "available"
                    e["_linger"] = (lg[0] + self.sim.clock.span(T_ENI_AVAILABLE), "gone")
                else:
                    ec2.release_eni(None, e, st)
            for sg in list(st.get("sgs", {}).values()):
                cluster = sg.get("_elb_orphan")
                if cluster is None:
                    continue
                if any(g["GroupId"] == sg["GroupId"] for e in st["enis"].values() for g in e["Groups"]):
                    continue
                c = st.get("eks_clusters", {}).get(cluster)
                if c is not None and c["status"] in ("ACTIVE", "UPDATING"):
                    del st["sgs"][sg["GroupId"]]
                else:
                    sg.pop("_elb_orphan")   # controller gone: the SG leaks until swept

    def inventory(self, account, region, st):
        if region == "global":
            return {}
        return {"elbv2:load-balancer": [{"id": lb["LoadBalancerArn"], "name": lb["LoadBalancerName"],
                                         "tags": lb["_tags"]} for lb in st.get("elbv2", {}).values()],
                "elbv2:target-group": [{"id": t["TargetGroupArn"], "tags": t["_tags"]}
                                       for t in st.get("elbv2_tgs", {}).values()],
                "elb:load-balancer": [{"id": lb["LoadBalancerName"], "tags": lb["_tags"]}
                                      for lb in st.get("elb", {}).values()]}


class ELB(_Base):
    """Classic ELB, elasticloadbalancing 2012-06-01."""

    def _out(self, lb):
        return {k: v for k, v in lb.items() if not k.startswith("_")}

    def DescribeLoadBalancers(self, ctx, p):
        st = ctx.state()
        names = p.get("LoadBalancerNames")
        if names:
            miss = [n for n in names if n not in st["elb"]]
            if miss:
                raise AwsError("LoadBalancerNotFound", f"There is no ACTIVE Load Balancer named '{miss[0]}'", 400)
            items = [st["elb"][n] for n in names]
        else:
            items = sorted(st["elb"].values(), key=lambda x: x["CreatedTime"])
        return self._page([self._out(x) for x in items], p, "LoadBalancerDescriptions")

    def DescribeTags(self, ctx, p):
        st = ctx.state()
        if len(p["LoadBalancerNames"]) > 20:
            raise AwsError("ValidationError", "You can specify up to 20 load balancer names", 400)
        out = []
        for n in p["LoadBalancerNames"]:
            lb = st["elb"].get(n)
            if lb is None:
                raise AwsError("LoadBalancerNotFound", f"There is no ACTIVE Load Balancer named '{n}'", 400)
            out.append({"LoadBalancerName": n, "Tags": tags_to_list(lb["_tags"])})
        return {"TagDescriptions": out}

    def DeleteLoadBalancer(self, ctx, p):
        st = ctx.state()
        lb = st["elb"].get(p["LoadBalancerName"])
        if lb is not None:
            self.remove(st, lb)
        return {}

    def remove(self, st, lb):
        del st["elb"][lb["LoadBalancerName"]]
        self._linger(st, lb)
