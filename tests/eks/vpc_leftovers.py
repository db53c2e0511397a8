#!/usr/bin/python3
"""vpc_leftovers.py URL add CLUSTER | URL drop ID... - objects left in a cluster's VPC at destroy.

add: in the VPC of EKS cluster CLUSTER, what Kubernetes would leave behind and what another team
would put there, one of each, and prints their ids as JSON:
  owned_sg   a group tagged kubernetes.io/cluster/CLUSTER=owned (the cloud provider's)
  lbc_sg     a group tagged elbv2.k8s.aws/cluster=CLUSTER (the AWS Load Balancer Controller's)
  shared_sg  a group tagged kubernetes.io/cluster/CLUSTER=shared (someone's, lent to the cluster)
  cni_eni    an available interface as the VPC CNI names and tags its own (aws-K8S-<instance>)
  other_eni  an available interface of someone's, in the same subnet
drop: deletes the given groups and interfaces by hand.  Credentials and region come from the
environment (tests/sim.sh sim_aws_env).  Only loopback URLs are accepted.
"""
import json
import os
import sys
import urllib.parse

import botocore.session


def main():
    url, what = sys.argv[1], sys.argv[2]
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("vpc_leftovers.py: refusing non-loopback endpoint %s" % url)
    s = botocore.session.get_session()
    region = os.environ.get("AWS_REGION")
    ec2 = s.create_client("ec2", endpoint_url=url, region_name=region)
    if what == "drop":
        for i in sys.argv[3:]:
            if i.startswith("sg-"):
                ec2.delete_security_group(GroupId=i)
            else:
                ec2.delete_network_interface(NetworkInterfaceId=i)
        return
    cluster = sys.argv[3]
    eks = s.create_client("eks", endpoint_url=url, region_name=region)
    vpc = eks.describe_cluster(name=cluster)["cluster"]["resourcesVpcConfig"]
    out = {}

    def group(key, name, tags):
        out[key] = ec2.create_security_group(
            GroupName=name, Description=name, VpcId=vpc["vpcId"],
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])["GroupId"]

    group("owned_sg", "k8s-elb-leftover", {"kubernetes.io/cluster/" + cluster: "owned"})
    group("lbc_sg", "k8s-traffic-leftover", {"elbv2.k8s.aws/cluster": cluster})
    group("shared_sg", "other-team", {"kubernetes.io/cluster/" + cluster: "shared"})
    subnet = vpc["subnetIds"][0]
    out["cni_eni"] = ec2.create_network_interface(
        SubnetId=subnet, Description="aws-K8S-i-0123456789abcdef0",
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": [
            {"Key": "node.k8s.amazonaws.com/instance_id", "Value": "i-0123456789abcdef0"},
            {"Key": "cluster.k8s.amazonaws.com/name", "Value": cluster}]}])["NetworkInterface"]["NetworkInterfaceId"]
    out["other_eni"] = ec2.create_network_interface(
        SubnetId=subnet, Description="other team's interface")["NetworkInterface"]["NetworkInterfaceId"]
    print(json.dumps(out))


main()
