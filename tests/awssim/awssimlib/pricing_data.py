"""The small, dated price table behind awssim's Price List API (svc_pricing).

What it holds: On-Demand prices, in USD, for what secfaas creates, in the
regions its examples and tests use (us-east-1, us-west-2, eu-west-1,
eu-central-1):
  AmazonEC2  Compute Instance (Linux and Windows, shared and dedicated
             tenancy, plus the Unused/AllocatedCapacityReservation twins AWS
             lists next to every instance), NAT Gateway (hours, GB
             processed), Storage (EBS gp3 and gp2 GB-month)
  AmazonEKS  cluster hours (perCluster) and the extended-support surcharge
             (extendedSupport, added to perCluster while a version is in
             extended support)
  AWSELB     Network, Application and classic load balancer hours, NLB LCU
             hours, classic data processed
  AmazonVPC  public IPv4 address hours, interface VPC endpoint hours and GB

Source: the figures AWS publishes on its pricing pages (EC2 On-Demand, EKS,
VPC, Elastic Load Balancing, EBS), as carried in the public Price List
offer files; transcribed by hand for PUBLICATION_DATE below, not downloaded
(the simulator runs offline).  Attribute names, product families, usage
types (with AWS's region prefixes: none for EC2/ELB in us-east-1, "USE1-"
for EKS and VPC there, "EU-", "USW2-", "EUC1-" elsewhere), the On-Demand
term code JRTCKXETXF and the rate code 6YS6EN2CT7 follow the offer files'
format.  Reserved and Spot terms, other operating systems and pre-installed
software are not listed.  Check before relying on a figure for money.
"""
import hashlib

PUBLICATION_DATE = "2026-11-20T00:00:00Z"
VERSION = "20261120000000"
EFFECTIVE_DATE = "2026-11-01T00:00:00Z"

# region -> (location, EC2/ELB usage-type prefix, EKS/VPC usage-type prefix)
REGIONS = {
    "us-east-1": ("US East (N. Virginia)", "", "USE1-"),
    "us-west-2": ("US West (Oregon)", "USW2-", "USW2-"),
    "eu-west-1": ("EU (Ireland)", "EU-", "EU-"),
    "eu-central-1": ("EU (Frankfurt)", "EUC1-", "EUC1-"),
}

# instance type -> (vCPU, memory GiB, family, processor, network)
INSTANCE_TYPES = {
    "t3.medium": (2, 4, "General purpose", "Intel Skylake E5 2686 v5", "Up to 5 Gigabit"),
    "t3.large": (2, 8, "General purpose", "Intel Skylake E5 2686 v5", "Up to 5 Gigabit"),
    "m5.large": (2, 8, "General purpose", "Intel Xeon Platinum 8175", "Up to 10 Gigabit"),
    "m6i.large": (2, 8, "General purpose", "Intel Xeon 8375C (Ice Lake)", "Up to 12500 Megabit"),
    "m6i.xlarge": (4, 16, "General purpose", "Intel Xeon 8375C (Ice Lake)", "Up to 12500 Megabit"),
    "m6i.2xlarge": (8, 32, "General purpose", "Intel Xeon 8375C (Ice Lake)", "Up to 12500 Megabit"),
    "m6a.xlarge": (4, 16, "General purpose", "AMD EPYC 7R13 Processor", "Up to 12500 Megabit"),
    "m7g.large": (2, 8, "General purpose", "AWS Graviton3 Processor", "Up to 12500 Megabit"),
    "m7g.xlarge": (4, 16, "General purpose", "AWS Graviton3 Processor", "Up to 12500 Megabit"),
    "c6i.large": (2, 4, "Compute optimized", "Intel Xeon 8375C (Ice Lake)", "Up to 12500 Megabit"),
}

# Linux, shared tenancy, USD per hour
LINUX_HOURLY = {
    "us-east-1": {"t3.medium": "0.0416", "t3.large": "0.0832", "m5.large": "0.096", "m6i.large": "0.096",
                  "m6i.xlarge": "0.192", "m6i.2xlarge": "0.384", "m6a.xlarge": "0.1728", "m7g.large": "0.0816",
                  "m7g.xlarge": "0.1632", "c6i.large": "0.085"},
    "us-west-2": {"t3.medium": "0.0416", "t3.large": "0.0832", "m5.large": "0.096", "m6i.large": "0.096",
                  "m6i.xlarge": "0.192", "m6i.2xlarge": "0.384", "m6a.xlarge": "0.1728", "m7g.large": "0.0816",
                  "m7g.xlarge": "0.1632", "c6i.large": "0.085"},
    "eu-west-1": {"t3.medium": "0.0456", "t3.large": "0.0912", "m5.large": "0.107", "m6i.large": "0.107",
                  "m6i.xlarge": "0.214", "m6i.2xlarge": "0.428", "m6a.xlarge": "0.1926", "m7g.large": "0.091",
                  "m7g.xlarge": "0.182", "c6i.large": "0.096"},
    "eu-central-1": {"t3.medium": "0.048", "t3.large": "0.096", "m5.large": "0.115", "m6i.large": "0.115",
                     "m6i.xlarge": "0.23", "m6i.2xlarge": "0.46", "m6a.xlarge": "0.207", "m7g.large": "0.0972",
                     "m7g.xlarge": "0.1944", "c6i.large": "0.097"},
}
WINDOWS_PER_VCPU_HOUR = "0.046"      # license added per vCPU-hour
DEDICATED_FACTOR = "1.1"

# region -> {price name: USD per unit}
OTHER = {
    "us-east-1": {"nat_hour": "0.045", "nat_gb": "0.045", "gp3": "0.08", "gp2": "0.10", "nlb_hour": "0.0225",
                  "alb_hour": "0.0225", "lcu_hour": "0.006", "clb_hour": "0.025", "clb_gb": "0.008",
                  "ipv4_hour": "0.005", "vpce_hour": "0.01", "vpce_gb": "0.01"},
    "us-west-2": {"nat_hour": "0.045", "nat_gb": "0.045", "gp3": "0.08", "gp2": "0.10", "nlb_hour": "0.0225",
                  "alb_hour": "0.0225", "lcu_hour": "0.006", "clb_hour": "0.025", "clb_gb": "0.008",
                  "ipv4_hour": "0.005", "vpce_hour": "0.01", "vpce_gb": "0.01"},
    "eu-west-1": {"nat_hour": "0.048", "nat_gb": "0.048", "gp3": "0.088", "gp2": "0.11", "nlb_hour": "0.0252",
                  "alb_hour": "0.0252", "lcu_hour": "0.006", "clb_hour": "0.028", "clb_gb": "0.008",
                  "ipv4_hour": "0.005", "vpce_hour": "0.011", "vpce_gb": "0.01"},
    "eu-central-1": {"nat_hour": "0.052", "nat_gb": "0.052", "gp3": "0.0952", "gp2": "0.119", "nlb_hour": "0.027",
                     "alb_hour": "0.027", "lcu_hour": "0.006", "clb_hour": "0.03", "clb_gb": "0.008",
                     "ipv4_hour": "0.005", "vpce_hour": "0.012", "vpce_gb": "0.01"},
}
EKS_CLUSTER_HOUR = "0.10"
EKS_EXTENDED_SUPPORT_HOUR = "0.50"   # surcharge on top of EKS_CLUSTER_HOUR

SERVICE_NAMES = {"AmazonEC2": "Amazon Elastic Compute Cloud", "AmazonEKS": "Amazon Elastic Container Service for "
                 "Kubernetes", "AWSELB": "Elastic Load Balancing", "AmazonVPC": "Amazon Virtual Private Cloud"}


def _dec(a, b="1", op="mul"):
    from decimal import Decimal
    x, y = Decimal(a), Decimal(b)
    return str(x * y if op == "mul" else x + y)


def sku(*parts):
    """A stable 16-character SKU like the offer files' (upper-case base32-ish)."""
    h = hashlib.sha256("/".join(parts).encode()).digest()
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(alphabet[b % len(alphabet)] for b in h[:16])


def _item(service, family, attrs, unit, price, description):
    s = sku(service, family, *(f"{k}={v}" for k, v in sorted(attrs.items())))
    rate = f"{s}.JRTCKXETXF.6YS6EN2CT7"
    return {
        "product": {"productFamily": family, "attributes": dict(attrs, servicecode=service,
                                                                servicename=SERVICE_NAMES[service]), "sku": s},
        "serviceCode": service,
        "terms": {"OnDemand": {f"{s}.JRTCKXETXF": {
            "priceDimensions": {rate: {"unit": unit, "endRange": "Inf", "description": description, "appliesTo": [],
                                       "rateCode": rate, "beginRange": "0",
                                       "pricePerUnit": {"USD": "%.10f" % float(price)}}},
            "sku": s, "effectiveDate": EFFECTIVE_DATE, "offerTermCode": "JRTCKXETXF", "termAttributes": {}}}},
        "version": VERSION, "publicationDate": PUBLICATION_DATE,
    }


def products():
    """Every product of the table, as the Price List's product/terms documents."""
    out = []
    for region, (location, p_ec2, p_new) in REGIONS.items():
        where = {"location": location, "locationType": "AWS Region", "regionCode": region}
        for itype, (vcpu, mem, fam, cpu, net) in INSTANCE_TYPES.items():
            linux = LINUX_HOURLY[region][itype]
            variants = [("Linux", "Shared", "Used", linux), ("Linux", "Shared", "UnusedCapacityReservation", linux),
                        ("Linux", "Shared", "AllocatedCapacityReservation", "0"),
                        ("Windows", "Shared", "Used", _dec(linux, _dec(WINDOWS_PER_VCPU_HOUR, str(vcpu)), "add")),
                        ("Linux", "Dedicated", "Used", _dec(linux, DEDICATED_FACTOR))]
            for os_name, tenancy, capacity, price in variants:
                box = {"Shared": "BoxUsage", "Dedicated": "DedicatedUsage"}[tenancy]
                usage = f"{p_ec2}{box}:{itype}" if capacity == "Used" else \
                    f"{p_ec2}{'UnusedBox' if capacity.startswith('Unused') else 'Reservation'}:{itype}"
                attrs = dict(where, instanceType=itype, instanceFamily=fam, vcpu=str(vcpu), memory=f"{mem} GiB",
                             physicalProcessor=cpu, processorArchitecture="64-bit", networkPerformance=net,
                             storage="EBS only", currentGeneration="Yes", tenancy=tenancy, operatingSystem=os_name,
                             licenseModel="No License required", preInstalledSw="NA", capacitystatus=capacity,
                             marketoption="OnDemand", usagetype=usage,
                             operation="RunInstances" if os_name == "Linux" else "RunInstances:0002")
                desc = (f"${float(price):g} per On Demand {os_name} {itype} Instance Hour" if capacity == "Used" else
                        f"${float(price):g} per {capacity} {os_name} {itype} Instance Hour")
                out.append(_item("AmazonEC2", "Compute Instance", attrs, "Hrs", price, desc))
        o = OTHER[region]
        out.append(_item("AmazonEC2", "NAT Gateway", dict(where, usagetype=f"{p_ec2}NatGateway-Hours",
                                                          operation="NatGateway", group="NGW:NatGateway"),
                         "Hrs", o["nat_hour"], f"${o['nat_hour']} per NAT Gateway Hour"))
        out.append(_item("AmazonEC2", "NAT Gateway", dict(where, usagetype=f"{p_ec2}NatGateway-Bytes",
                                                          operation="NatGateway", group="NGW:NatGateway"),
                         "GB", o["nat_gb"], f"${o['nat_gb']} per GB Data Processed by NAT Gateways"))
        for vol, name in (("gp3", "General Purpose"), ("gp2", "General Purpose")):
            out.append(_item("AmazonEC2", "Storage", dict(where, volumeApiName=vol, volumeType=name,
                                                          storageMedia="SSD-backed", maxVolumeSize="16 TiB",
                                                          usagetype=f"{p_ec2}EBS:VolumeUsage.{vol}",
                                                          operation=""),
                             "GB-Mo", o[vol], f"${o[vol]} per GB-month of {name} ({vol}) provisioned storage - "
                             f"{location}"))
        out.append(_item("AmazonEKS", "Compute", dict(where, usagetype=f"{p_new}AmazonEKS-Hours:perCluster",
                                                      operation="CreateOperation", tiertype="HAStandard"),
                         "Hrs", EKS_CLUSTER_HOUR, f"Amazon EKS cluster usage in {location}"))
        out.append(_item("AmazonEKS", "Compute", dict(where, usagetype=f"{p_new}AmazonEKS-Hours:extendedSupport",
                                                      operation="ExtendedSupport", tiertype="HAExtended"),
                         "Hrs", EKS_EXTENDED_SUPPORT_HOUR, f"Amazon EKS cluster extended support in {location}"))
        for fam, op, key in (("Load Balancer-Network", "LoadBalancing:Network", "nlb_hour"),
                             ("Load Balancer-Application", "LoadBalancing:Application", "alb_hour"),
                             ("Load Balancer", "LoadBalancing", "clb_hour")):
            out.append(_item("AWSELB", fam, dict(where, usagetype=f"{p_ec2}LoadBalancerUsage", operation=op,
                                                 groupDescription="LoadBalancer hourly usage"),
                             "Hrs", o[key], f"${o[key]} per {fam} hour (or partial hour)"))
        for fam, op in (("Load Balancer-Network", "LoadBalancing:Network"),
                        ("Load Balancer-Application", "LoadBalancing:Application")):
            out.append(_item("AWSELB", fam, dict(where, usagetype=f"{p_ec2}LCUUsage", operation=op,
                                                 groupDescription="Used Load Balancer Capacity Units-hr"),
                             "LCU-Hrs", o["lcu_hour"], f"${o['lcu_hour']} per used LCU-hour (or partial hour)"))
        out.append(_item("AWSELB", "Load Balancer", dict(where, usagetype=f"{p_ec2}DataProcessing-Bytes",
                                                         operation="LoadBalancing",
                                                         groupDescription="Data processed by the LoadBalancer"),
                         "GB", o["clb_gb"], f"${o['clb_gb']} per GB Data Processed by the LoadBalancer"))
        out.append(_item("AmazonVPC", "IP Address", dict(where, usagetype=f"{p_new}PublicIPv4:InUseAddress",
                                                         operation="", group="VPCPublicIPv4Address"),
                         "Hrs", o["ipv4_hour"], f"${o['ipv4_hour']} per In-use public IPv4 address per hour"))
        out.append(_item("AmazonVPC", "IP Address", dict(where, usagetype=f"{p_new}PublicIPv4:IdleAddress",
                                                         operation="", group="VPCPublicIPv4Address"),
                         "Hrs", o["ipv4_hour"], f"${o['ipv4_hour']} per Idle public IPv4 address per hour"))
        out.append(_item("AmazonVPC", "VpcEndpoint", dict(where, usagetype=f"{p_new}VpcEndpoint-Hours",
                                                          operation="VpcEndpoint", group="VpcEndpoint",
                                                          endpointType="PrivateLink"),
                         "Hrs", o["vpce_hour"], f"${o['vpce_hour']} per VPC Endpoint Hour"))
        out.append(_item("AmazonVPC", "VpcEndpoint", dict(where, usagetype=f"{p_new}VpcEndpoint-Bytes",
                                                          operation="VpcEndpoint", group="VpcEndpoint",
                                                          endpointType="PrivateLink"),
                         "GB", o["vpce_gb"], f"${o['vpce_gb']} per GB Data Processed by VPC Endpoints"))
    return out
