"""Resource Groups Tagging API: GetResources over the simulated resources
(EKS clusters, EC2 networking/instances/images, Elastic IPs, NAT gateways,
VPC endpoints, load balancers) by tag
filters and resource type, so `secfaas gc` can find expired stacks by tag."""
from .core import paginate, tags_to_list

EC2_TYPES = {"vpcs": "vpc", "subnets": "subnet", "igws": "internet-gateway", "rtbs": "route-table",
             "sgs": "security-group", "enis": "network-interface", "lts": "launch-template",
             "instances": "instance", "images": "image", "snapshots": "snapshot", "eips": "elastic-ip",
             "nats": "natgateway", "vpces": "vpc-endpoint"}


class Tagging:
    def __init__(self, sim):
        self.sim = sim

    def _all(self, ctx):
        st = ctx.state()
        out = []
        for table, rtype in EC2_TYPES.items():
            for rid, r in st[table].items():
                if table == "instances" and r["State"]["Name"] == "terminated" or \
                        table == "nats" and r["State"] == "deleted":
                    continue
                owner = "" if table == "images" else ctx.account
                out.append((f"arn:{ctx.partition}:ec2:{ctx.region}:{ctx.account if owner == '' else owner}:"
                            f"{rtype}/{rid}", "ec2:" + rtype, r.get("_tags", {})))
        for c in st["eks_clusters"].values():
            out.append((c["arn"], "eks:cluster", c["tags"]))
            for ng in c["_nodegroups"].values():
                out.append((ng["nodegroupArn"], "eks:nodegroup", ng["tags"]))
        for lb in st["elbv2"].values():
            out.append((lb["LoadBalancerArn"], "elasticloadbalancing:loadbalancer", lb["_tags"]))
        for lb in st["elb"].values():
            out.append((lb["_arn"], "elasticloadbalancing:loadbalancer", lb["_tags"]))
        return out

    def GetResources(self, ctx, p):
        rows = self._all(ctx)
        for f in p.get("TagFilters") or []:
            k, vals = f["Key"], f.get("Values") or []
            rows = [r for r in rows if k in r[2] and (not vals or r[2][k] in vals)]
        types = p.get("ResourceTypeFilters")
        if types:
            rows = [r for r in rows if any(r[1] == t or r[1].startswith(t + ":") or r[1].split(":")[0] == t
                                           for t in types)]
        if p.get("ResourceARNList"):
            rows = [r for r in rows if r[0] in p["ResourceARNList"]]
        page, nxt = paginate(rows, p.get("PaginationToken"), p.get("ResourcesPerPage"), 100)
        return {"ResourceTagMappingList": [{"ResourceARN": a, "Tags": tags_to_list(t)} for a, _, t in page],
                "PaginationToken": nxt or ""}
